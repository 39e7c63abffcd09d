"""file:line for the code a series touches, without building the kernel with debug info.

The default kernels carry no DWARF (it costs a lot of build time and disk: see
scripts/bench_debuginfo.py). Instead, after a build, every object compiled from a C file the
series touches is compiled once more with `-g` beside the build (its kbuild command from
the `.<name>.o.cmd` file, output elsewhere: the build slot is left as it was, nothing is
relinked). GCC's -g does not change the generated code, and this is checked: every function
symbol must have the same section, offset and size as in the object that was linked, else
that object is dropped. A frame `func+off/size` whose function lives in such an object is
then `addr2line -j <section>` on it at (symbol value + off - 1).

    touched_objects(paths) -> ("mm/khugepaged.o", ...)      C files of a series -> objects
    compile_objects(tree, objdir, objects, dest, arch) -> [Path]  -g objects written in dest
    lines(dest, frames, arch) -> {index: "mm/khugepaged.c:1342 ..."}  frames found there
"""

from __future__ import annotations

import logging
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from harness.splats.model import Frame
from harness.util import run

log = logging.getLogger("harness")
DIRNAME = "debug-objects"        # in the build's cache directory, beside vmlinux
_OBJDUMP = {"x86_64": ("objdump", "x86_64-linux-gnu-objdump"),
            "arm64": ("aarch64-linux-gnu-objdump", "llvm-objdump")}
_FUNC = re.compile(r"^([0-9a-f]+) [lgw ]\s*[ wi]?\s*F (\S+)\s+([0-9a-f]+) (?:\.hidden )?(\S+)$")


@dataclass(frozen=True)
class Symbol:
    obj: Path
    section: str
    value: int
    size: int


def touched_objects(paths: Iterable[str]) -> tuple[str, ...]:
    """The objects built from the C files among `paths` (a series' touched paths)."""
    return tuple(sorted({p[:-2] + ".o" for p in paths if p.endswith(".c")}))


def compile_argv(cmd_file: Path, out: Path,
                 extra: Sequence[str] = ("-g", "-gdwarf-4")) -> list[str] | None:
    """The compiler argv from a kbuild .cmd file, writing `out`, with `extra` flags added
    (no dependency file, no objtool: the build's own files are left alone)."""
    text = cmd_file.read_text(errors="replace")
    m = re.search(r"^(?:saved)?cmd_\S+ := (.*)$", text, re.MULTILINE)
    if not m:
        return None
    compile_part = m.group(1).split(" ; ")[0].split("; ./tools/objtool")[0]
    argv = shlex.split(compile_part)
    if "-o" not in argv or "-c" not in argv:
        return None
    argv[argv.index("-o") + 1] = str(out)
    argv = [a for a in argv if not a.startswith("-Wp,-MMD")]
    return [argv[0], *extra, *argv[1:]]


def compile_objects(tree: Path, objdir: Path, objects: Sequence[str], dest: Path,
                    arch: str = "x86_64") -> list[Path]:
    """Compile `objects` with -g from the slot (tree + objdir) into dest; the ones verified."""
    done = []
    for obj in objects:
        linked = objdir / obj
        cmd = linked.with_name(f".{linked.name}.cmd")
        if not (linked.is_file() and cmd.is_file()):
            continue                          # not built in this config
        out = dest / obj
        out.parent.mkdir(parents=True, exist_ok=True)
        argv = compile_argv(cmd, out)
        if argv is None:
            log.warning("debug objects: cannot read the compile command of %s", obj)
            continue
        proc = run(argv, cwd=objdir, timeout=600, check=False)
        if proc.returncode != 0 or not out.is_file():
            log.warning("debug objects: %s -g failed: %s", obj, (proc.stderr or "")[-300:])
            continue
        if _layout(linked, arch) != _layout(out, arch):
            log.warning("debug objects: %s -g differs from the linked object; not used", obj)
            out.unlink()
            continue
        done.append(out)
    return done


def _objdump(arch: str) -> str:
    import shutil
    return next((t for t in _OBJDUMP.get(arch, ("objdump",)) if shutil.which(t)), "objdump")


def _functions(obj: Path, arch: str = "x86_64") -> dict[str, list[Symbol]]:
    out = run([_objdump(arch), "-t", str(obj)], timeout=120, check=False).stdout or ""
    table: dict[str, list[Symbol]] = {}
    for line in out.splitlines():
        m = _FUNC.match(line.strip())
        if m:
            table.setdefault(m[4], []).append(Symbol(obj, m[2], int(m[1], 16), int(m[3], 16)))
    return table


def _layout(obj: Path, arch: str) -> set[tuple[str, str, int, int]]:
    return {(n, s.section, s.value, s.size) for n, syms in _functions(obj, arch).items()
            for s in syms}


@lru_cache(maxsize=16)
def index(dest: Path, arch: str) -> dict[str, tuple[Symbol, ...]]:
    """function name -> its symbols in the debug objects under dest."""
    found: dict[str, list[Symbol]] = {}
    for obj in sorted(dest.rglob("*.o")):
        for name, syms in _functions(obj, arch).items():
            found.setdefault(name, []).extend(syms)
    return {n: tuple(v) for n, v in found.items()}


def _match(frame: Frame, table: dict[str, tuple[Symbol, ...]]) -> tuple[Symbol, int] | None:
    syms = table.get(frame.function, ())
    sym = next((s for s in syms if frame.size in (None, s.size)), None)
    if sym is None or frame.offset is None or frame.module:
        return None
    return sym, sym.value + frame.offset - (1 if frame.offset else 0)


def lines(dest: Path, frames: Sequence[Frame], arch: str,
          addr2line: str = "addr2line") -> dict[int, str]:
    """frame index -> source (formatted as harness.splats.symbolize does) for frames in dest's
    objects."""
    from harness.splats.symbolize import _parse_addr2line
    if not dest.is_dir():
        return {}
    table = index(dest, arch)
    groups: dict[tuple[Path, str], list[tuple[int, int]]] = {}
    for i, frame in enumerate(frames):
        hit = _match(frame, table)
        if hit is not None:
            groups.setdefault((hit[0].obj, hit[0].section), []).append((i, hit[1]))
    found: dict[int, str] = {}
    for (obj, section), items in groups.items():
        argv = [addr2line, "-e", str(obj), "-j", section, "-f", "-i", "-a",
                *(hex(a) for _, a in items)]
        proc = run(argv, timeout=120, check=False)
        by_addr = _parse_addr2line(proc.stdout or "") if proc.returncode == 0 else {}
        found.update({i: by_addr[a] for i, a in items if a in by_addr})
    return found
