"""Frozen per-architecture profiles: one registry, aliases, no mutable state."""

from __future__ import annotations

import platform
from dataclasses import dataclass

from harness.errors import UserError


@dataclass(frozen=True)
class ArchProfile:
    name: str                       # kharness name: x86_64 | arm64
    make_arch: str                  # ARCH= for kbuild
    cross_compile: str              # CROSS_COMPILE= prefix ("" when native)
    kernel_image: str               # path of the boot image relative to the build dir
    debian_arch: str                # Debian architecture for guest packages
    qemu_binary: str
    qemu_machine: str
    qemu_cpu_tcg: str
    qemu_cpu_kvm: str
    console: str                    # console= device
    host_machines: tuple[str, ...]  # platform.machine() values that can use KVM
    qemu_extra: tuple[str, ...] = ()
    # kconfig option with which QEMU boots the uncompressed vmlinux directly (x86 PVH entry:
    # no decompression under TCG); "" = always boot kernel_image
    direct_boot_option: str = ""
    # machine for NUMA guests when qemu_machine cannot describe NUMA ("" = qemu_machine)
    numa_machine: str = ""
    # base page sizes the arch's kernels can be built with (bytes)
    page_sizes: tuple[int, ...] = (4096,)

    @property
    def max_ptes_limit(self) -> int:
        """The largest HPAGE_PMD_NR - 1 (KHUGEPAGED_MAX_PTES_LIMIT) any of the arch's page
        sizes gives: a PTE is 8 bytes, a page table one page (511 at 4K, 2047 at 16K, 8191
        at 64K). The guest's own limit is known only after boot (harness.guest.sysfs)."""
        return max(self.page_sizes) // 8 - 1


PROFILES: dict[str, ArchProfile] = {
    "x86_64": ArchProfile(
        name="x86_64", make_arch="x86_64", cross_compile="x86_64-linux-gnu-",
        kernel_image="arch/x86/boot/bzImage", debian_arch="amd64",
        qemu_binary="qemu-system-x86_64", qemu_machine="microvm", numa_machine="q35",
        qemu_cpu_tcg="max", qemu_cpu_kvm="host", console="ttyS0",
        host_machines=("x86_64", "amd64"), direct_boot_option="CONFIG_PVH",
    ),
    "arm64": ArchProfile(
        name="arm64", make_arch="arm64", cross_compile="aarch64-linux-gnu-",
        kernel_image="arch/arm64/boot/Image", debian_arch="arm64",
        qemu_binary="qemu-system-aarch64", qemu_machine="virt,gic-version=3",
        qemu_cpu_tcg="max,pauth-impdef=on", qemu_cpu_kvm="host", console="ttyAMA0",
        host_machines=("aarch64", "arm64"), page_sizes=(4096, 16384, 65536),
    ),
}

ALIASES = {"amd64": "x86_64", "x86-64": "x86_64", "x64": "x86_64",
           "aarch64": "arm64", "arm64": "arm64", "x86_64": "x86_64"}


def get(name: str) -> ArchProfile:
    canonical = ALIASES.get(name.lower())
    if canonical is None:
        raise UserError(f"unknown arch {name!r}", f"known: {', '.join(sorted(PROFILES))}",
                        "use x86_64 or arm64 (aliases: amd64, aarch64)")
    return PROFILES[canonical]


def host_profile() -> ArchProfile | None:
    machine = platform.machine().lower()
    return next((p for p in PROFILES.values() if machine in p.host_machines), None)


def cross_prefix(profile: ArchProfile) -> str:
    """The CROSS_COMPILE prefix for this host: empty when building natively."""
    host = host_profile()
    return "" if host is not None and host.name == profile.name else profile.cross_compile


def guest_cc(profile: ArchProfile) -> str:
    """C compiler producing static binaries for the guest."""
    return cross_prefix(profile) + "gcc"
