"""Guest binaries built on the host: static executables for the guest's arch.

The image builders (harness.image.initramfs for the initramfs, harness.image.rootfs for the ext4
disk) put every workload binary of guest_tests/workloads/ in the guest (see binaries(): a folder
of translation units is one binary, lib/ is linked into each), keyed by `workload_inputs`
(every source and header, lib's included; compiler version, the static libc it links, CFLAGS)
so a changed workload, library part or toolchain rebuilds the image. Tests can build a workload
for the host, and the kernel's own tools/testing/selftests/mm/khugepaged.c for either arch.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from harness import arch as arch_mod
from harness.errors import InfrastructureError, UserError
from harness.resources import workload_dir
from harness.util import run, sha256_file

WORKLOAD_DIR = workload_dir()
LIB = "lib"   # the folder of helpers shared by every binary (one .h of declarations per .c)
CFLAGS = ("-static", "-O2", "-Wall", "-Wextra", "-pthread")
SELFTEST_CFLAGS = ("-static", "-Wall", "-O2", "-U_FORTIFY_SOURCE", "-Wunreachable-code")
SELFTEST_LIBS = ("-lrt", "-lpthread", "-lm")


def workload_sources(directory: Path) -> list[Path]:
    """Every workload source (*.c) and header, in the folder and its per-binary folders,
    sorted; none if the directory is empty/missing."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.rglob("*") if p.suffix in (".c", ".h") and p.is_file())


def binaries(sources: list[Path], root: Path = WORKLOAD_DIR) -> dict[str, list[Path]]:
    """{binary: its translation units}: a folder of .c files is one binary named after the
    folder (thpwork/: main.c, census.c, ...); a .c directly in the workloads folder is one
    binary of its own; the .c files of lib/ are no binary but linked into every one (they
    come last in each list)."""
    out: dict[str, list[Path]] = {}
    lib = root / LIB
    units = [s for s in sources if s.suffix == ".c"]
    for src in units:
        if src.parent != lib:
            name = src.stem if src.parent == root else src.parent.name
            out.setdefault(name, []).append(src)
    shared = [s for s in units if s.parent == lib]
    return {name: [*own, *shared] for name, own in out.items()}


def compile_argv(cc: str, units: list[Path], exe: Path,
                 root: Path = WORKLOAD_DIR) -> list[str | Path]:
    """The compiler command of one binary: its own folder, then lib/, on the include path."""
    return [cc, *CFLAGS, "-I", units[0].parent, "-I", root / LIB, "-o", exe, *units]


def workload_inputs_names(sources: list[Path],
                          root: Path = WORKLOAD_DIR) -> list[tuple[str, Path]]:
    """(name relative to the workloads folder, path) of every source."""
    return [(str(s.relative_to(root)), s) for s in sources]


def compiler_id(profile: arch_mod.ArchProfile) -> dict[str, str]:
    """What makes the guest compiler's output: its version and the static libc it links."""
    cc = arch_mod.guest_cc(profile)
    version = run([cc, "--version"]).stdout.splitlines()[0]
    libc = Path(run([cc, "-print-file-name=libc.a"]).stdout.strip())
    if not libc.is_absolute():
        pkg = ("libc6-dev" if not arch_mod.cross_prefix(profile)
               else f"libc6-dev-{profile.debian_arch}-cross")
        raise InfrastructureError(f"{cc} has no static libc", "libc.a not found",
                                  f"apt-get install {pkg}")
    return {"cc": cc, "version": version, "libc.a": sha256_file(libc)}


def compile_workloads(profile: arch_mod.ArchProfile, sources: list[Path], tmp: Path,
                      root: Path = WORKLOAD_DIR) -> dict[str, bytes]:
    """Each binary (see binaries()) compiled static for the guest: {name: executable bytes}."""
    cc, out = arch_mod.guest_cc(profile), {}
    for name, units in binaries(sources, root).items():
        exe = tmp / name
        proc = run(compile_argv(cc, units, exe, root), check=False)
        if proc.returncode != 0:
            tail = " | ".join(proc.stderr.strip().splitlines()[-4:])
            raise UserError(f"guest workload {name} does not compile for {profile.name}", tail,
                            f"fix {units[0].parent}")
        out[name] = exe.read_bytes()
    return out


def workload_inputs(profile: arch_mod.ArchProfile, sources: list[Path],
                    root: Path = WORKLOAD_DIR) -> dict[str, Any]:
    if not sources:
        return {}
    compiler = compiler_id(profile) if any(s.suffix == ".c" for s in sources) else {}
    return {"sources": [(name, sha256_file(s)) for name, s in workload_inputs_names(sources, root)],
            "compiler": compiler,
            "cflags": CFLAGS}


def build_workload(name: str, out: Path, cc: str = "gcc") -> Path:
    """Compile one shipped workload binary (thpwork, thpracer, thpfile) static, as the image
    builder does, e.g. for the host."""
    units = binaries(workload_sources(WORKLOAD_DIR)).get(name)
    if not units:
        raise UserError(f"no guest workload {name}", f"not in {WORKLOAD_DIR}")
    out.parent.mkdir(parents=True, exist_ok=True)
    run(compile_argv(cc, units, out), timeout=300)
    return out


def selftest_sources(mm: Path) -> list[str]:
    """khugepaged.c + the helpers its Makefile links ($(TEST_GEN_FILES): ...)."""
    text = (mm / "Makefile").read_text(errors="replace")
    m = re.search(r"^\$\(TEST_GEN_FILES\):\s*(.+)$", text, re.MULTILINE)
    helpers = m.group(1).split() if m else [f for f in ("vm_util.c", "thp_settings.c",
                                                        "hugepage_settings.c")
                                            if (mm / f).exists()]
    return ["khugepaged.c", *helpers]


def build_selftest_khugepaged(kernel_src: Path, arch: str, out: Path,
                              headers: Path | None = None) -> Path:
    """Compile tools/testing/selftests/mm/khugepaged.c static for the guest arch.

    Flags are the mm/Makefile's (-Wall -O2 -U_FORTIFY_SOURCE -Wunreachable-code, -I the
    tree and selftests/ for kselftest.h, tools/include/uapi, -lrt -lpthread -lm) plus
    -static. KHDR_INCLUDES (usr/include of `make headers`) is `headers` if given;
    otherwise the toolchain's linux-libc-dev headers are used (enough for 7.2).
    """
    mm = kernel_src / "tools" / "testing" / "selftests" / "mm"
    if not (mm / "khugepaged.c").exists():
        raise UserError(f"no {mm}/khugepaged.c", "not a kernel tree with mm selftests")
    cc = arch_mod.guest_cc(arch_mod.get(arch))
    if shutil.which(cc) is None:
        raise InfrastructureError(f"no {cc} for {arch}", fix="apt-get install gcc-aarch64-"
                                  "linux-gnu (or run: kharness doctor --install)")
    incs = ["-I", str(kernel_src), "-I", str(mm.parent)]
    incs += ["-isystem", str(headers)] if headers else []
    incs += ["-isystem", str(kernel_src / "tools" / "include" / "uapi")]
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    run([cc, *SELFTEST_CFLAGS, *incs, *selftest_sources(mm), *SELFTEST_LIBS, "-o", out],
        cwd=mm, timeout=600)
    return out
