"""`kharness image`: build (or find in the cache) the guest images, and print their paths.

    kharness image                                   # initramfs for x86_64 and arm64
    kharness image --arch arm64 --kind rootfs        # the Debian root disk (python3, stress-ng)
    kharness image --kind cloud-local                # the local cloud-image stand-in (host arch)

Useful before going offline, or to warm a fresh cache while kernels compile (the test
command does that). Output: one line per image, `ARCH KIND PATH`. Exit 2 on errors.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from harness import arch as arch_mod

log = logging.getLogger("harness")
KINDS = ("initramfs", "rootfs", "cloud-local")


def add_cli(subparsers: Any) -> None:
    """Register `image` on the main CLI's subparsers."""
    p = subparsers.add_parser("image", help="build or find the guest images; print their paths",
                              description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", action="append", type=_arch,
                   help="x86_64 | arm64 (repeatable; default: both)")
    p.add_argument("--kind", action="append", choices=KINDS,
                   help="image kind (repeatable; default: initramfs)")
    p.add_argument("--refresh", action="store_true",
                   help="re-read Debian's index and rebuild even when cached")
    p.set_defaults(func=handler)


def _arch(name: str) -> str:
    try:
        return arch_mod.get(name).name
    except Exception as e:                  # UserError: argparse prints it as a usage error
        raise argparse.ArgumentTypeError(str(e)) from e


def build_one(arch: str, kind: str, refresh: bool) -> str:
    from harness.image import cloud, rootfs
    from harness.image import initramfs as image
    if kind == "initramfs":
        return str(image.initramfs(arch, refresh=refresh))
    if kind == "rootfs":
        return str(rootfs.rootfs_disk(arch, refresh=refresh))
    return str(cloud.local_image(arch, refresh=refresh))


def handler(args: argparse.Namespace) -> int:
    archs = list(dict.fromkeys(args.arch or sorted(arch_mod.PROFILES)))
    kinds = list(dict.fromkeys(args.kind or ["initramfs"]))
    for arch in archs:
        for kind in kinds:
            log.info("image: %s %s", arch, kind)
            print(f"{arch:8} {kind:12} {build_one(arch, kind, args.refresh)}", flush=True)
    return 0
