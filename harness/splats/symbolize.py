"""Symbolise splat frames against the build's vmlinux: `func+0x1a/0x40`, raw addresses ->
file:line.

API:
  symbolize(splat, vmlinux, arch) -> Splat
      the same splat with every frame's `source` set: "mm/khugepaged.c:1342",
      "include/linux/swapops.h:468 [pfn_swap_entry_folio inlined] mm/memory.c:1702",
      "module <name>" (frames in modules are not in vmlinux), "no symbol" or "no debug info".
  symbolize_frames(frames, vmlinux, arch) -> list[str]   ("func+0x1a/0x40 mm/khugepaged.c:1342")
  symbolize_addresses(addresses, vmlinux, arch, kaslr=0) -> dict[int, str]
      raw addresses as printed; `kaslr` is subtracted first (see kaslr_offset()).
  kaslr_offset(text) -> int   the "Kernel Offset: 0x... from 0x..." of a console capture, or 0
  elf_arch(vmlinux) -> "x86_64" | "arm64" | None

How: symbol start addresses come from System.map next to vmlinux, else `nm -n -S` (cross `nm`,
then llvm-nm, then nm); `func+off` is start + off, minus one byte for return addresses (every
frame with a non-zero offset) so the call instruction's line is reported. Duplicate static
names are told apart by the size printed in the frame. Lines come from one batched `addr2line -f
-i` run: x86_64 uses the host `addr2line`; arm64 tries `aarch64-linux-gnu-addr2line`, then
`gdb-multiarch`, then `llvm-addr2line`. Kernels here are built without DWARF by default
(kconfigs/debug-info.config adds it); frames vmlinux cannot place are then looked up in the
build's debug objects (the C files the series touches, compiled with -g beside the build:
harness.kernel.debugobj), so the code under test has file:line at no link-time cost. A frame found
nowhere says "no debug info" (one warning line is logged). Nothing here raises for a
missing tool.
"""

from __future__ import annotations

import logging
import platform
import re
import shutil
import struct
from collections.abc import Iterable, Sequence
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from harness.errors import UserError
from harness.splats.model import Frame, Splat
from harness.util import run

log = logging.getLogger("harness")

NO_DEBUG = "no debug info"
_TOP_DIRS = ("arch", "block", "certs", "crypto", "drivers", "fs", "include", "init", "io_uring",
             "ipc", "kernel", "lib", "mm", "net", "rust", "security", "sound", "virt", "samples")
_ADDR2LINE = {"x86_64": ("addr2line", "x86_64-linux-gnu-addr2line", "llvm-addr2line"),
              "arm64": ("aarch64-linux-gnu-addr2line", "gdb-multiarch", "llvm-addr2line",
                        "addr2line")}
_NM = {"x86_64": ("nm", "x86_64-linux-gnu-nm", "llvm-nm"),
       "arm64": ("aarch64-linux-gnu-nm", "llvm-nm", "nm")}
_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        log.warning("symbolize: %s", message)


def elf_arch(vmlinux: Path) -> str | None:
    """Architecture of an ELF file from its header (e_machine), or None if not ELF."""
    head = vmlinux.read_bytes()[:20] if vmlinux.is_file() else b""
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return None
    machine = struct.unpack_from("<H" if head[5] == 1 else ">H", head, 18)[0]
    return {62: "x86_64", 183: "arm64"}.get(machine)


def has_dwarf(vmlinux: Path) -> bool:
    """True if the ELF file has a .debug_info or .debug_line section (64-bit ELF only)."""
    with vmlinux.open("rb") as f:
        ident = f.read(64)
        if ident[:4] != b"\x7fELF" or ident[4] != 2:
            return False
        end = "<" if ident[5] == 1 else ">"
        shoff, = struct.unpack_from(end + "Q", ident, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", ident, 0x3A)
        f.seek(shoff)
        table = f.read(shentsize * shnum)
        names_off, names_size = struct.unpack_from(end + "QQ", table, shstrndx * shentsize + 24)
        f.seek(names_off)
        names = f.read(names_size)
    return b".debug_info\x00" in names or b".debug_line\x00" in names


def _host_is(arch: str) -> bool:
    machine = platform.machine().lower()
    return machine in (("x86_64", "amd64") if arch == "x86_64" else ("aarch64", "arm64"))


def _tool(candidates: Iterable[str], arch: str) -> str | None:
    """First installed tool; the host's plain addr2line only for the host's own arch."""
    for name in candidates:
        if name == "addr2line" and not _host_is(arch):
            continue
        if shutil.which(name):
            return name
    return None


@lru_cache(maxsize=8)
def _symbols(vmlinux: Path, arch: str) -> dict[str, tuple[tuple[int, int], ...]]:
    """name -> ((start, size), ...) from System.map or nm; sizes from the next symbol."""
    system_map = vmlinux.with_name("System.map")
    if system_map.is_file():
        text = system_map.read_text(errors="replace")
    else:
        nm = _tool(_NM.get(arch, ("nm",)), arch) or "nm"
        text = run([nm, "-n", vmlinux], timeout=120, check=False).stdout or ""
    rows = sorted((int(m[1], 16), m[2]) for m in
                  re.finditer(r"^([0-9a-f]{8,16}) [tTwW] (\S+)$", text, re.MULTILINE))
    table: dict[str, list[tuple[int, int]]] = {}
    nexts = [*rows[1:], (rows[-1][0], "")] if rows else []
    for (addr, name), nxt in zip(rows, nexts, strict=True):
        table.setdefault(name, []).append((addr, nxt[0] - addr))
    return {name: tuple(v) for name, v in table.items()}


def _address(frame: Frame, symbols: dict[str, tuple[tuple[int, int], ...]]) -> int | None:
    candidates = symbols.get(frame.function, ())
    if not candidates or frame.offset is None:
        return None
    start = next((a for a, size in candidates if size == frame.size), candidates[0][0])
    return start + frame.offset - (1 if frame.offset else 0)


def _relative(path: str) -> str:
    parts = path.split("/")
    for i, part in enumerate(parts[:-1]):
        if part in _TOP_DIRS:
            return "/".join(parts[i:])
    return path


def _format_chain(chain: Sequence[tuple[str, str]]) -> str:
    """(function, file:line) pairs, innermost first, as one source string."""
    if not chain:
        return NO_DEBUG
    inner_func, inner = chain[0]
    if len(chain) == 1:
        return inner
    return f"{inner} [{inner_func} inlined] {chain[-1][1]}"


def _parse_addr2line(out: str) -> dict[int, str]:
    found: dict[int, str] = {}
    addr: int | None = None
    chain: list[tuple[str, str]] = []
    lines = out.splitlines()
    i = 0
    while i < len(lines):
        if re.fullmatch(r"0x[0-9a-f]+", lines[i].strip()):
            if addr is not None:
                found[addr] = _format_chain(chain)
            addr, chain, i = int(lines[i], 16), [], i + 1
            continue
        if i + 1 < len(lines) and not lines[i + 1].startswith("??"):
            where = re.sub(r" \(discriminator \d+\)", "", lines[i + 1].strip())
            chain.append((lines[i].strip(), _relative(where)))
        i += 2
    if addr is not None:
        found[addr] = _format_chain(chain)
    return found


def _run_addr2line(tool: str, vmlinux: Path, addrs: list[int]) -> dict[int, str]:
    argv = [tool, "-e", str(vmlinux), "-f", "-i", "-a", *(hex(a) for a in addrs)]
    proc = run(argv, timeout=300, check=False)
    if proc.returncode != 0:
        _warn_once(f"{tool} failed: {(proc.stderr or '').strip()[:200]}")
        return {}
    return _parse_addr2line(proc.stdout)


def _run_gdb(vmlinux: Path, addrs: list[int]) -> dict[int, str]:
    argv = ["gdb-multiarch", "-batch", "-nx"]
    for a in addrs:
        argv += ["-ex", f"info line *{a:#x}"]
    proc = run([*argv, str(vmlinux)], timeout=300, check=False)
    if proc.returncode != 0:
        _warn_once(f"gdb-multiarch failed: {(proc.stderr or '').strip()[:200]}")
    out = proc.stdout or ""
    answers = [ln for ln in out.splitlines() if ln.startswith(("Line ", "No line number"))]
    found: dict[int, str] = {}
    for addr, answer in zip(addrs, answers, strict=False):           # one answer per -ex, in order
        m = re.match(r'Line (\d+) of "([^"]+)"', answer)
        found[addr] = f"{_relative(m[2])}:{m[1]}" if m else NO_DEBUG
    return found


def kaslr_offset(text: str) -> int:
    """KASLR displacement printed by a panic ("Kernel Offset: 0x1e000000 from ..."), else 0."""
    m = re.search(r"Kernel Offset: (0x[0-9a-f]+) from", text)
    return int(m[1], 16) if m else 0


def symbolize_addresses(addresses: Iterable[int], vmlinux: Path, arch: str,
                        kaslr: int = 0) -> dict[int, str]:
    """file:line (or "no debug info") for each raw kernel address, keyed as given."""
    given = sorted(set(addresses))
    if kaslr:
        moved = symbolize_addresses((a - kaslr for a in given), vmlinux, arch)
        return {a: moved[a - kaslr] for a in given}
    addrs = given
    if not addrs:
        return {}
    if not has_dwarf(vmlinux):
        _warn_once(f"{vmlinux} has no DWARF (build with kconfigs/debug-info.config for lines)")
        return dict.fromkeys(addrs, NO_DEBUG)
    tool = _tool(_ADDR2LINE.get(arch, ("addr2line",)), arch)
    if tool is None:
        _warn_once(f"no addr2line for {arch} (install binutils-multiarch or llvm)")
        return dict.fromkeys(addrs, NO_DEBUG)
    found = _run_gdb(vmlinux, addrs) if tool == "gdb-multiarch" else _run_addr2line(
        tool, vmlinux, addrs)
    return {a: found.get(a, NO_DEBUG) for a in addrs}


def _sources(frames: Sequence[Frame], vmlinux: Path, arch: str) -> list[str]:
    symbols = _symbols(vmlinux, arch)
    addrs = [None if f.module else _address(f, symbols) for f in frames]
    lines = symbolize_addresses((a for a in addrs if a is not None), vmlinux, arch)
    out = []
    for frame, addr in zip(frames, addrs, strict=False):
        if frame.module:
            out.append(f"module {frame.module}")
        else:
            out.append("no symbol" if addr is None else lines.get(addr, NO_DEBUG))
    return _from_debug_objects(frames, out, vmlinux, arch)


def _from_debug_objects(frames: Sequence[Frame], sources: list[str], vmlinux: Path,
                        arch: str) -> list[str]:
    """Frames vmlinux could not place, looked up in the build's debug objects (the files the
    series touches, compiled with -g beside the build: harness.kernel.debugobj)."""
    from harness.kernel import debugobj
    todo = [i for i, s in enumerate(sources) if s in (NO_DEBUG, "no symbol")]
    tool = _tool(_ADDR2LINE.get(arch, ("addr2line",)), arch)
    dest = vmlinux.parent / debugobj.DIRNAME
    if not todo or tool is None or tool == "gdb-multiarch" or not dest.is_dir():
        return sources
    found = debugobj.lines(dest, [frames[i] for i in todo], arch, tool)
    out = list(sources)
    for k, i in enumerate(todo):
        if k in found and found[k] != NO_DEBUG:
            out[i] = found[k]
    return out


def _check(vmlinux: Path, arch: str) -> None:
    if not vmlinux.is_file():
        raise UserError(f"no vmlinux at {vmlinux}", fix="pass the build's vmlinux (not bzImage)")
    if arch not in _ADDR2LINE:
        raise UserError(f"cannot symbolise for arch {arch!r}", fix="use x86_64 or arm64")


RIP_FRAME = re.compile(r"(?:RIP: [0-9a-f]{4}:|pc : |PC is at | at )(?:\[<[0-9a-f]+>\]\s*)?"
                       r"(?P<frame>[A-Za-z_.$][\w.$]*\+0x[0-9a-f]+/0x[0-9a-f]+)")


def rip_frame(header: str, lines: Sequence[str] = ()) -> Frame | None:
    """The faulting instruction's frame (x86 "RIP: 0010:f+0x1/0x2", arm64 "pc : f+...", or a
    WARNING header's "at f+0x1/0x2"), which the call trace itself does not list."""
    from harness.splats.model import parse_frame
    for text in (header, *lines):
        m = RIP_FRAME.search(text)
        if m:
            return parse_frame(m["frame"])
    return None


def symbolize(splat: Splat, vmlinux: Path, arch: str) -> Splat:
    """The splat with `source` filled in on each frame (see module docstring), and its
    `location` (when the report printed none) from the faulting instruction's frame."""
    _check(vmlinux, arch)
    rip = rip_frame(splat.header, splat.lines)
    if rip is not None and rip.offset:        # the faulting instruction, not a return
        rip = replace(rip, offset=rip.offset + 1)   # address: cancel the "- 1" of _address
    todo = (*splat.frames, *([rip] if rip is not None and not splat.location else []))
    sources = _sources(todo, vmlinux, arch)
    frames = tuple(replace(f, source=s) for f, s in zip(splat.frames, sources, strict=False))
    location = splat.location
    if len(todo) > len(splat.frames) and re.match(r"\S+:\d+", sources[-1]):
        location = sources[-1]
    return replace(splat, frames=frames, location=location)


def symbolize_frames(frames: Sequence[Frame], vmlinux: Path, arch: str) -> list[str]:
    """Each frame as "func+0x1a/0x40 file:line" (or "... no debug info")."""
    _check(vmlinux, arch)
    sources = _sources(frames, vmlinux, arch)
    return [str(replace(f, source=s)) for f, s in zip(frames, sources, strict=False)]


class SplatLike(Protocol):
    """What culprit_frame reads: a Splat, or a splat as the journal holds it."""
    @property
    def function(self) -> str | None: ...
    @property
    def header(self) -> str | None: ...
    @property
    def location(self) -> str | None: ...
    @property
    def frames(self) -> Sequence[object]: ...


def culprit_frame(splat: SplatLike) -> str | None:
    """The journal splat's culprit frame as recorded ("collapse_single_pmd+0x580/0x18de
    mm/khugepaged.c:1342"): the first reliable frame of its `function`, else the faulting
    instruction (the header's "at f+0x1/0x2") with the splat's location (file:line printed
    by WARN/BUG, or symbolised from the RIP), else the first reliable frame with a source
    line; None when nothing was recorded."""
    frames = [str(f) for f in splat.frames]
    func = splat.function or ""
    named = [f for f in frames if func and f.split("+", 1)[0].split(".", 1)[0] == func]
    if named:
        return named[0]
    rip, where = rip_frame(splat.header or ""), splat.location
    if rip is not None and rip.function.split(".", 1)[0] == func:
        return f"{rip} {where}" if where else str(rip)
    if func and where:
        return f"{func} {where}"
    placed = [f for f in frames if not f.startswith("? ") and re.search(r" \S+:\d+", f)]
    return next(iter(placed), None)
