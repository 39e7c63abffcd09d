"""Kconfig as a model: parse fragments, detect conflicts, merge, olddefconfig, verify.

Base = `make tinyconfig` (measured: the smallest config that boots fastest and builds in
~4 min cold on 2 cores) + fragments from kconfigs/ (name.config and <arch>/name.config)
+ user fragments/options. Merged with the kernel's scripts/kconfig/merge_config.sh, then
olddefconfig, then every requested option is checked; a dropped one is a UserError naming
it and the dependency that Kconfig reports as unmet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from harness.arch import ArchProfile
from harness.errors import UserError
from harness.resources import kconfig_dir
from harness.util import run, sha256_bytes

KCONFIG_DIR = kconfig_dir()
SET_RE = re.compile(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$")
UNSET_RE = re.compile(r"^# (CONFIG_[A-Za-z0-9_]+) is not set$")
# "# kharness-overrides: CONFIG_A CONFIG_B": this fragment may change what an earlier one
# chose for these options (a Kconfig choice such as the arm64 page size: the virt fragment
# says 4K, a page-size fragment listed after it says 16K). Any other disagreement conflicts.
OVERRIDE_RE = re.compile(r"^# kharness-overrides:((?:\s+CONFIG_[A-Za-z0-9_]+)+)\s*$")
# What olddefconfig reads besides the request: the Kconfig files, the kconfig tool and
# scripts/Kconfig.include, and the base configs (tinyconfig = kernel/configs/tiny*.config
# + arch/*/configs/tiny.config). A series touching none of them configures like its base.
KCONFIG_INPUT = re.compile(r"(^|/)Kconfig[^/]*$|^scripts/kconfig/|^scripts/Kconfig\.include$"
                           r"|^kernel/configs/|^arch/[^/]+/configs/")


@dataclass(frozen=True)
class Fragment:
    label: str                           # where it came from (file path or "option")
    options: tuple[tuple[str, str], ...]  # (CONFIG_X, value); "n" for not set
    overrides: frozenset[str] = frozenset()  # options it may change after earlier fragments


@dataclass(frozen=True)
class Requested:
    options: tuple[tuple[str, str, str], ...]   # (name, value, label)

    def as_text(self) -> str:
        lines = [f"# {name} is not set" if v == "n" else f"{name}={v}"
                 for name, v, _ in self.options]
        return "\n".join(lines) + "\n"


def parse(text: str, label: str) -> Fragment:
    opts: list[tuple[str, str]] = []
    overrides: set[str] = set()
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if m := OVERRIDE_RE.match(line):
            overrides.update(m.group(1).split())
        elif m := SET_RE.match(line):
            opts.append((m.group(1), m.group(2)))
        elif m := UNSET_RE.match(line):
            opts.append((m.group(1), "n"))
        elif line and not line.startswith("#"):
            raise UserError(f"{label}:{n}: not a kconfig line: {line!r}", "",
                            "use CONFIG_X=y or '# CONFIG_X is not set'")
    stray = sorted(overrides - {name for name, _ in opts})
    if stray:
        raise UserError(f"{label}: kharness-overrides names {stray[0]}, which it does not set",
                        "", "set the option in the same fragment or drop it from the line")
    return Fragment(label, tuple(opts), frozenset(overrides))


def fragment_files(name: str, profile: ArchProfile, search: tuple[Path, ...] = ()) -> list[Path]:
    """A fragment name resolves to name.config and <arch>/name.config; a path to itself."""
    if name.endswith(".config") or "/" in name:
        path = Path(name).expanduser()
        if not path.is_file():
            raise UserError(f"kconfig fragment not found: {name}", "", "fix the path")
        return [path]
    found = []
    for d in (*search, KCONFIG_DIR):
        found += [p for p in (d / f"{name}.config", d / profile.name / f"{name}.config")
                  if p.is_file()]
        if found:
            return found
    known = sorted({p.stem for p in KCONFIG_DIR.rglob("*.config")})
    raise UserError(f"unknown kconfig fragment {name!r}", f"known: {', '.join(known)}",
                    "or give a path to a .config fragment")


def collect(names: tuple[str, ...], options: tuple[str, ...], profile: ArchProfile,
            search: tuple[Path, ...] = ()) -> list[Fragment]:
    frags = [parse(p.read_text(), str(p))
             for n in names for p in fragment_files(n, profile, search)]
    if options:
        frags.append(parse("\n".join(_norm_opt(o) for o in options), "options"))
    return frags


def _norm_opt(opt: str) -> str:
    name, _, value = opt.partition("=")
    return f"# {name} is not set" if value == "n" else opt


def merge(frags: list[Fragment]) -> Requested:
    """Fragments must agree, except on options a later fragment declares it overrides;
    `options` (user, last) override with precedence."""
    chosen: dict[str, tuple[str, str]] = {}
    for frag in frags:
        for name, value in frag.options:
            prev = chosen.get(name)
            if prev and prev[0] != value and frag.label != "options" \
                    and name not in frag.overrides:
                raise UserError(f"conflicting kconfig fragments: {name}={prev[0]} in {prev[1]} "
                                f"but {name}={value} in {frag.label}", "",
                                "drop one, or override with an explicit option")
            chosen[name] = (value, frag.label)
    return Requested(tuple((n, v, lab) for n, (v, lab) in chosen.items()))


def read_config(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if m := SET_RE.match(line):
            values[m.group(1)] = m.group(2)
        elif m := UNSET_RE.match(line):
            values[m.group(1)] = "n"
    return values


PAGE_SIZE_OPTIONS = {"CONFIG_ARM64_16K_PAGES": 16384, "CONFIG_ARM64_64K_PAGES": 65536}


def base_page_size(final: dict[str, str]) -> int:
    """The base page size a final .config builds for (bytes; 4096 unless arm64 16K/64K)."""
    return next((size for opt, size in PAGE_SIZE_OPTIONS.items() if final.get(opt) == "y"), 4096)


def missing(requested: Requested, final: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """(name, wanted, got, label) for every requested option not honoured."""
    out = []
    for name, want, label in requested.options:
        got = final.get(name, "n")
        if got != want and not (want == "n" and got == "n"):
            out.append((name, want, got, label))
    return out


def inputs_id(repo: Path, tree: str) -> str:
    """A hash of every Kconfig input of a git tree (see KCONFIG_INPUT): two trees with the
    same id turn the same request into the same .config."""
    listing = run(["git", f"--git-dir={repo}", "ls-tree", "-r", "--full-tree", tree]).stdout
    kept = [line for line in listing.splitlines()
            if KCONFIG_INPUT.search(line.partition("\t")[2])]
    return sha256_bytes("\n".join(kept).encode())


def generate(tree: Path, objdir: Path, profile: ArchProfile, requested: Requested,
             make_vars: list[str], base: str = "tinyconfig") -> Path:
    """Write objdir/.config = base + requested (merge_config.sh), olddefconfig, verified."""
    objdir.mkdir(parents=True, exist_ok=True)
    fragment = objdir / "kharness-fragment.config"
    fragment.write_text(requested.as_text())
    make = ["make", "-s", "-C", str(tree), f"O={objdir}", *make_vars]
    run([*make, base], timeout=600)
    run([str(tree / "scripts/kconfig/merge_config.sh"), "-m", "-O", str(objdir),
         str(objdir / ".config"), str(fragment)], cwd=tree, timeout=600,
        env={"ARCH": profile.make_arch})
    run([*make, "olddefconfig"], timeout=600)
    verify(tree, objdir / ".config", requested)
    return objdir / ".config"


def verify(tree: Path, config: Path, requested: Requested) -> None:
    bad = missing(requested, read_config(config))
    if not bad:
        return
    final = read_config(config)
    name, want, got, label = bad[0]
    state = "not set" if got == "n" else f"={got}"
    why = f"requested by {label}, {state} after olddefconfig"
    dep = unmet_dependency(tree, name, final)
    if dep:
        why += f"; unmet dependency: {dep}"
    more = f" (+{len(bad) - 1} more: {', '.join(b[0] for b in bad[1:4])})" if len(bad) > 1 else ""
    raise UserError(f"kconfig option {name}={want} was dropped{more}", why,
                    "enable its dependencies in a fragment or drop the option")


def unmet_dependency(tree: Path, name: str, final: dict[str, str]) -> str:
    """The `depends on` lines of `config NAME` with each symbol's final value."""
    sym = name.removeprefix("CONFIG_")
    head = re.compile(rf"^\s*(menu)?config {sym}\s*$")
    deps: list[str] = []
    found = False
    for path in sorted(tree.rglob("Kconfig*")):
        lines = path.read_text(errors="replace").splitlines()
        for i, line in enumerate(lines):
            if head.match(line):
                found = True
                deps += _depends_after(lines[i + 1:])
    if not found:
        return f"no 'config {sym}' in this tree's Kconfig (renamed or removed?)"
    if not deps:
        return ""
    expr = " && ".join(f"({d})" if "||" in d else d for d in deps)
    syms = sorted(set(re.findall(r"\b[A-Z0-9_]*[A-Z][A-Z0-9_]*\b", expr)))
    values = ", ".join(f"{s}={final.get('CONFIG_' + s, 'n')}" for s in syms)
    return f"{expr} [{values}]"


def _depends_after(lines: list[str]) -> list[str]:
    deps = []
    for line in lines:
        s = line.strip()
        if re.match(r"^(menu)?config \w+$", s) or s in ("endmenu", "endif") or s.startswith(
                ("menu ", "if ", "choice", "source ")):
            break
        if s.startswith("depends on"):
            deps.append(s.removeprefix("depends on").strip())
    return deps
