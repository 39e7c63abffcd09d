"""Host prerequisites: check every tool the harness needs; print (or run) the install."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

from harness.util import cmdline


@dataclass(frozen=True)
class Tool:
    command: str
    package: str          # Debian/Ubuntu package
    why: str


TOOLS: tuple[Tool, ...] = (
    Tool("make", "make", "kernel builds"),
    Tool("gcc", "gcc", "x86_64 kernels and guest tools"),
    Tool("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu", "arm64 kernels and guest tools"),
    Tool("flex", "flex", "kconfig"),
    Tool("bison", "bison", "kconfig"),
    Tool("bc", "bc", "kernel build"),
    Tool("perl", "perl", "kernel build"),
    Tool("cpio", "cpio", "inspecting initramfs images"),
    Tool("xz", "xz-utils", "unpacking Debian kernel sources"),
    Tool("zstd", "zstd", "unpacking Debian packages"),
    Tool("tar", "tar", "unpacking sources"),
    Tool("git", "git", "sources, series application"),
    Tool("qemu-system-x86_64", "qemu-system-x86", "x86_64 guests"),
    Tool("qemu-system-aarch64", "qemu-system-arm", "arm64 guests"),
    Tool("qemu-img", "qemu-utils", "disk images"),
    Tool("gpgv", "gpgv", "Debian archive signatures"),
    Tool("readelf", "binutils", "image library resolution"),
    Tool("mkfs.ext4", "e2fsprogs", "root filesystem disks"),
    Tool("ssh-keygen", "openssh-client", "interactive ssh to guests (optional)"),
    Tool("genisoimage", "genisoimage", "cloud-init NoCloud seeds for cloud images"),
    Tool("sparse", "sparse", "the sparse build check (kharness check)"),
    Tool("clang-19", "clang-19", "the clang build check (7.2 needs LLVM >= 17.0.1)"),
    Tool("ld.lld-19", "lld-19", "the clang build check (linker)"),
    Tool("llvm-ar-19", "llvm-19", "the clang build check (binutils)"),
)
HEADERS: tuple[tuple[str, str], ...] = (
    ("/usr/include/libelf.h", "libelf-dev"),
    ("/usr/include/openssl/opensslv.h", "libssl-dev"),
    ("/usr/aarch64-linux-gnu/include/stdio.h", "libc6-dev-arm64-cross"),
    ("/usr/share/keyrings/debian-archive-keyring.gpg", "debian-archive-keyring"),
)


def missing_packages() -> list[tuple[str, str]]:
    """(package, reason) for everything absent."""
    out = [(t.package, f"{t.command}: {t.why}") for t in TOOLS if shutil.which(t.command) is None]
    out += [(pkg, path) for path, pkg in HEADERS if not os.path.exists(path)]
    return out


def install_argv(packages: list[str]) -> list[str]:
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    return [*sudo, "apt-get", "install", "-y", "--no-install-recommends",
            *sorted(set(packages))]


def doctor(install: bool) -> int:
    rc = _packages(install)
    if rc == 0 and install:
        from harness.checks import sparsetool
        print(f"doctor: {sparsetool.ensure()}")
    return rc


def _packages(install: bool) -> int:
    miss = missing_packages()
    for pkg, why in miss:
        print(f"missing: {pkg:24s} ({why})")
    if not miss:
        print("doctor: all host tools present")
        return 0
    argv = install_argv([p for p, _ in miss])
    if not install:
        print(f"install with: {cmdline(argv)}")
        return 2
    if shutil.which("apt-get") is None:
        print("doctor: no apt-get on this host; install the packages above with your package "
              "manager", file=sys.stderr)
        return 2
    sudo = argv[:1] if argv[0] == "sudo" else []
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in ([*sudo, "apt-get", "update", "-q"], argv):
        print(f"$ {cmdline(step)}", flush=True)
        if subprocess.run(step, env=env, check=False).returncode != 0:
            return 2
    still = missing_packages()
    for pkg, why in still:
        print(f"still missing: {pkg} ({why})", file=sys.stderr)
    return 2 if still else 0
