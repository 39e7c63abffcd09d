"""Which clang to use for the clang check: the newest installed that the tree accepts.

The tree states its minimum (scripts/min-tool-version.sh llvm: 17.0.1 for 7.2); Debian 12's
`clang` is 14, too old, while bookworm also carries clang-19/lld-19/llvm-19, used as
`make LLVM=-19`. A clang older than the minimum is one line (found, needed, how to get it).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from harness.util import run

VERSION = re.compile(r"clang version (\d+)\.(\d+)\.(\d+)")
SUFFIXES = tuple(f"-{n}" for n in range(25, 13, -1)) + ("",)
INSTALL_HINT = "apt-get install clang-19 lld-19 llvm-19 (bookworm carries them)"


@dataclass(frozen=True)
class Clang:
    suffix: str                     # "-19" -> LLVM=-19; "" -> LLVM=1
    version: tuple[int, int, int]

    @property
    def llvm_var(self) -> str:
        return f"LLVM={self.suffix}" if self.suffix else "LLVM=1"

    @property
    def text(self) -> str:
        return ".".join(map(str, self.version))


def minimum(tree: Path, make_arch: str) -> tuple[int, int, int]:
    script = tree / "scripts" / "min-tool-version.sh"
    if not script.exists():
        return (0, 0, 0)
    proc = run(["sh", str(script), "llvm"], env={"SRCARCH": make_arch}, check=False)
    m = re.match(r"(\d+)\.(\d+)\.(\d+)", proc.stdout.strip())
    return (int(m[1]), int(m[2]), int(m[3])) if m else (0, 0, 0)


def installed() -> list[Clang]:
    """Every clang-N on PATH (with its ld.lld-N), newest first."""
    out = []
    for suffix in SUFFIXES:
        cc = shutil.which(f"clang{suffix}")
        if cc is None or shutil.which(f"ld.lld{suffix}") is None:
            continue
        m = VERSION.search(run([cc, "--version"], check=False).stdout)
        if m:
            out.append(Clang(suffix, (int(m[1]), int(m[2]), int(m[3]))))
    return sorted(set(out), key=lambda c: c.version, reverse=True)


def choose(tree: Path, make_arch: str) -> tuple[Clang | None, str]:
    """(clang to use, "") or (None, one line saying what was found and what is needed)."""
    need = minimum(tree, make_arch)
    found = installed()
    ok = [c for c in found if c.version >= need]
    if ok:
        return ok[0], ""
    need_text = ".".join(map(str, need))
    have = ", ".join(f"clang{c.suffix} {c.text}" for c in found) or "no clang with ld.lld"
    return None, (f"clang check skipped: found {have}; the tree needs LLVM >= {need_text} "
                  f"(scripts/min-tool-version.sh) (fix: {INSTALL_HINT})")
