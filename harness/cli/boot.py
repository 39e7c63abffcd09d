"""`kharness boot`: boot a kernel and hand back a guest you can drive.

    kharness boot --kernel arch/x86/boot/bzImage --arch x86_64          # wait for Ctrl-C
    kharness boot --kernel Image --arch arm64 -- cat /proc/meminfo     # run, exit with status
    kharness boot CONFIG.yaml --arch arm64 --variant patched           # kernel.build makes it
    kharness boot CONFIG.yaml --arch x86_64 --cloud-image URL --sha256 HEX   # systemd + cloud-init

It prints the ssh command (key in the VM's work directory) and the console log path.
Exit status: the command's, or 0 after Ctrl-C; 1 if the guest crashed/locked up; 2 for
usage or infrastructure errors. Also runnable as `python -m harness.cli.boot ...`.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness import arch as arch_mod
from harness.errors import UserError
from harness.util import cache_dir, cmdline

log = logging.getLogger("harness")


def add_cli(subparsers: Any) -> None:
    """Register `boot` on the main CLI's subparsers."""
    p = subparsers.add_parser("boot", help="boot a kernel in QEMU; ssh in or run a command",
                              description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    p.set_defaults(func=handler)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", nargs="?", help="kharness YAML (with --variant); or use --kernel")
    p.add_argument("--kernel", type=Path, help="boot this image directly (bzImage / Image)")
    p.add_argument("--arch", help="x86_64 | arm64 (default: guessed from --kernel)")
    p.add_argument("--variant", default="baseline", help="variant to build (with CONFIG)")
    p.add_argument("--kconfig", metavar="NAME", default="",
                   help="kernel config from CONFIG's configs: (default: its kernel: section)")
    p.add_argument("--mem", default="1G")
    p.add_argument("--cpus", type=int, default=2)
    p.add_argument("--numa", type=int, default=0,
                   help="NUMA nodes (kernel needs the numa fragment, CONFIG_NUMA; "
                        "x86_64 NUMA guests boot on q35)")
    p.add_argument("--append", action="append", default=[], metavar="ARG",
                   help="extra kernel command line argument (repeatable)")
    p.add_argument("--zram", help="zram swap size in the guest, e.g. 512M")
    p.add_argument("--accel", choices=("kvm", "tcg"), help="default: KVM if it really works")
    p.add_argument("--initrd", type=Path, help="base initramfs (default: the kharness image)")
    p.add_argument("--rootfs", action="store_true",
                   help="boot a Debian root disk (images/rootfs.yaml, built once, cached) "
                   "instead of the initramfs: python3, stress-ng, ...")
    p.add_argument("--package", action="append", default=[], metavar="PKG",
                   help="with --rootfs: extra Debian package in the disk (repeatable)")
    p.add_argument("--disk", type=Path, help="boot this raw ext4 root disk (as --rootfs makes)")
    p.add_argument("--cloud-image", metavar="URL",
                   help="boot a public cloud image (URL, file:// or path; with --sha256) with "
                   "the kernel under test: systemd + cloud-init, key via a NoCloud seed; "
                   "`local` builds a stand-in from Debian packages (images/cloud-local.yaml)")
    p.add_argument("--sha256", help="with --cloud-image: the image's sha256")
    p.add_argument("--cloud-root",
                   help="with --cloud-image: root device as the guest kernel sees it "
                        "(default: the image's first partition, /dev/vda1)")
    p.add_argument("--workdir", type=Path, help="VM directory (default: in the cache)")
    p.add_argument("--name", default="boot")
    p.add_argument("--timeout", type=float, help="timeout for `-- CMD` (default: none)")
    _split_command_after_dashdash(p)


def _split_command_after_dashdash(p: argparse.ArgumentParser) -> None:
    """Everything after the first `--` is the guest command (args.command)."""
    parse = p.parse_known_args

    def parse_known_args(args: Sequence[str] | None = None,
                         namespace: argparse.Namespace | None = None) -> Any:
        words = list(sys.argv[1:] if args is None else args)
        command = words[words.index("--") + 1:] if "--" in words else []
        words = words[:words.index("--")] if "--" in words else words
        ns, extra = parse(words, namespace)
        ns.command = command
        return ns, extra

    p.parse_known_args = parse_known_args  # type: ignore[method-assign,assignment]


def guess_arch(image: Path) -> str:
    """arm64 Image has "ARM\\x64" at offset 56; bzImage has "HdrS" at 0x202; an ELF vmlinux
    says it in e_machine (62 x86_64, 183 aarch64)."""
    with open(image, "rb") as f:
        head = f.read(0x210)
    if head[:4] == b"\x7fELF" and len(head) >= 20:
        machine = int.from_bytes(head[18:20], "little")
        if machine in (62, 183):
            return "x86_64" if machine == 62 else "arm64"
    if head[56:60] == b"ARM\x64":
        return "arm64"
    if head[0x202:0x206] == b"HdrS":
        return "x86_64"
    raise UserError(f"cannot tell the arch of {image}", "", "pass --arch")


def resolve_kernel(args: argparse.Namespace) -> tuple[Path, str]:
    if args.kernel is not None:
        if not args.kernel.is_file():
            raise UserError(f"no kernel image at {args.kernel}", "", "build it or fix the path")
        arch = arch_mod.get(args.arch or guess_arch(args.kernel)).name
        return args.kernel, arch
    if args.config is None:
        raise UserError("nothing to boot", "give CONFIG (+ --variant) or --kernel PATH")
    if not args.arch:
        raise UserError("--arch is required with CONFIG")
    from harness.config import DISK_FRAGMENT
    from harness.kernel import build  # lazy: the build module pulls in git, kconfig...
    on_disk = bool(getattr(args, "rootfs", False) or getattr(args, "disk", None)
                   or getattr(args, "cloud_image", None))
    result = build.build_for_config(args.config, args.arch, args.variant,
                                    kconfig=getattr(args, "kconfig", ""),
                                    extra_fragments=(DISK_FRAGMENT,) if on_disk else ())
    return result.image, result.arch


def root_disk(args: argparse.Namespace, arch: str) -> Path | None:
    if getattr(args, "disk", None) is not None:
        return Path(args.disk)
    if not getattr(args, "rootfs", False):
        return None
    from harness.image import rootfs  # lazy: image building pulls in Debian access
    return rootfs.rootfs_disk(arch, ("python3", "stress-ng", *args.package))


def cloud_boot(args: argparse.Namespace, arch: str) -> Any:
    url = getattr(args, "cloud_image", None)
    if url is None:
        return None
    from harness.image import cloud  # lazy: image building pulls in Debian access
    if url == "local":
        image = cloud.local_image(arch)
    elif not args.sha256:
        raise UserError(f"--cloud-image {url} needs --sha256", "the image is verified before use",
                        "pass --sha256 HEX (from the image's SHA256SUMS)")
    else:
        image = cloud.cloud_image(url, args.sha256)
    return cloud.CloudBoot(image, args.cloud_root or cloud.CloudBoot.root)


def handler(args: argparse.Namespace) -> int:
    from harness.machine.vm import VM  # lazy: keeps `kharness --help` fast
    kernel, arch = resolve_kernel(args)
    workdir = args.workdir or cache_dir("boot") / f"{args.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    extra = list(args.append)
    with VM(kernel, arch, workdir=workdir, name=args.name, mem=args.mem, cpus=args.cpus,
            numa_nodes=args.numa, cmdline_extra=extra, zram=args.zram, accel=args.accel,
            initrd=args.initrd, rootfs=root_disk(args, arch), cloud=cloud_boot(args, arch)) as vm:
        print(f"kharness: {arch} guest up in {vm.boot_seconds:.1f}s ({vm.accel}); "
              f"console: {vm.console_path}", file=sys.stderr)
        print(cmdline(vm.ssh_command()), flush=True)
        if args.command:
            return _run(vm, args.command, args.timeout)
        return _wait(vm)


def _run(vm: Any, command: list[str], timeout: float | None) -> int:
    result = vm.guest.run(command, timeout=timeout if timeout else 1e9)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return int(result.exit_code)


def _wait(vm: Any) -> int:
    print("kharness: Ctrl-C to shut the guest down", file=sys.stderr, flush=True)
    try:
        while vm.wait(1.0) is None:
            pass
    except KeyboardInterrupt:
        print("\nkharness: shutting down", file=sys.stderr)
        return 0
    print("kharness: the guest powered off", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.cli.boot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true")
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname).1s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("paramiko").setLevel(logging.WARNING)
    from harness.cli.main import guarded
    return guarded(handler, args)


if __name__ == "__main__":
    sys.exit(main())
