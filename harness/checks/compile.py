"""Recompile just the objects a series touches, per toolchain profile, and collect what
the compiler (or sparse) says.

Profiles:
  gcc     W=1 plus -Wmaybe-uninitialized (W=2's warning for a pointer read on an error path
          that a goto jumped over: the v5 review's `pte`; the rest of W=2 — -Wshadow,
          -Wsign-compare, -Wtype-limits, -Wmissing-field-initializers… — is style noise
          across every header, so it is left out)
  sparse  `make C=2` on the same objects (the checker runs even when the object is current)
  clang   LLVM=-N W=1 in its own O= directory beside the gcc one: -Wsometimes-uninitialized
          names the goto directly
The objects are deleted first (gcc, clang) so make cannot skip them as up to date; kbuild
records the new flags, so the slot's next normal build recompiles them — a few seconds.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from harness.checks import diagnostics
from harness.checks.model import Diagnostic
from harness.checks.toolchain import Clang
from harness.kernel.build import Slot
from harness.util import cmdline, run, stable_hash

GCC_EXTRA = ("-Wmaybe-uninitialized",)
CHECK_STEP = re.compile(r"^\s+CHECK\s+(\S+)")
KBUILD_STEP = re.compile(r"^\s+[A-Z][A-Z0-9_]*\s+\S")


@dataclass(frozen=True)
class Profile:
    check: str                       # gcc | sparse | clang
    make_args: tuple[str, ...]
    objdir_name: str = "obj"
    delete_objects: bool = True
    checker_output: bool = False     # only what follows "CHECK file" lines counts (sparse)


@dataclass(frozen=True)
class Output:
    diagnostics: tuple[Diagnostic, ...]
    returncode: int
    command: str
    tail: str = ""
    seconds: float = 0.0

    @property
    def compiled(self) -> bool:
        return self.returncode == 0


GCC = Profile("gcc", ("W=1", "KCFLAGS=" + " ".join(GCC_EXTRA)))


def clang_profile(clang: Clang) -> Profile:
    return Profile("clang", (clang.llvm_var, "W=1"), objdir_name=f"obj-clang{clang.suffix}")


def objdir_for(slot: Slot, profile: Profile) -> Path:
    return slot.objdir.parent / profile.objdir_name


def prepare_clang(slot: Slot, profile: Profile, clang: Clang) -> None:
    """Give the clang O= directory the gcc slot's .config, re-resolved for clang."""
    objdir = objdir_for(slot, profile)
    config = (slot.objdir / ".config").read_bytes()
    key = stable_hash([stable_hash(config.decode(errors="replace")), clang.text])
    stamp = objdir / "kharness-config.key"
    if stamp.exists() and stamp.read_text() == key:
        return
    objdir.mkdir(parents=True, exist_ok=True)
    (objdir / ".config").write_bytes(config)
    run(["make", "-s", "-C", str(slot.tree), f"O={objdir}", *_vars(slot, profile),
         "olddefconfig"], timeout=600, env={"LC_ALL": "C"})
    stamp.write_text(key)


def _vars(slot: Slot, profile: Profile) -> list[str]:
    """ARCH/CROSS_COMPILE for gcc profiles; only ARCH for clang (LLVM picks the target)."""
    if profile.check == "clang":
        return [v for v in slot.make_vars if v.startswith("ARCH=")]
    return list(slot.make_vars)


def argv_for(slot: Slot, profile: Profile, objects: tuple[str, ...], jobs: int) -> list[str]:
    return ["make", "-C", str(slot.tree), f"O={objdir_for(slot, profile)}", f"-j{jobs}", "-k",
            *_vars(slot, profile), *profile.make_args, *objects]


def compile_objects(slot: Slot, profile: Profile, objects: tuple[str, ...],
                    jobs: int = 0) -> Output:
    if not objects:           # make without a target would build (and W=1) the whole kernel
        return Output((), 0, "")
    objdir = objdir_for(slot, profile)
    if profile.delete_objects:
        for obj in objects:
            (objdir / obj).unlink(missing_ok=True)
    argv = argv_for(slot, profile, objects, jobs or os.cpu_count() or 1)
    t0 = time.monotonic()
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          errors="backslashreplace", env={**os.environ, "LC_ALL": "C"},
                          timeout=3600, check=False)
    text = checker_lines(proc.stdout) if profile.checker_output else proc.stdout
    prefixes = (str(slot.tree), str(objdir), os.path.relpath(slot.tree, objdir))
    diags = diagnostics.parse(text, prefixes, diagnostics.tree_reader(slot.tree),
                              kernel_doc=False)
    tail = "\n".join(proc.stdout.strip().splitlines()[-15:])
    return Output(tuple(diags), proc.returncode, cmdline(argv), tail, time.monotonic() - t0)


def checker_lines(text: str) -> str:
    """What sparse printed: the lines after each `CHECK file` step, until the next step."""
    keep: list[str] = []
    inside = False
    for line in text.splitlines():
        if CHECK_STEP.match(line):
            inside = True
        elif KBUILD_STEP.match(line):
            inside = False
        elif inside:
            keep.append(line)
    return "\n".join(keep)


def sparse_profile(sparse: str) -> Profile:
    """The sparse profile with CHECK= a sparse that can check the tree (sparsetool.find)."""
    return Profile("sparse", (*GCC.make_args, "C=2", f"CHECK={sparse}"), delete_objects=False,
                   checker_output=True)


def result_key(profile: Profile, tree_id: str, arch: str, requested: str, tool: str,
               objects: tuple[str, ...]) -> tuple[object, ...]:
    """What a compile result depends on (resultcache key)."""
    return (profile.check, profile.make_args, tree_id, arch, requested, tool, objects)
