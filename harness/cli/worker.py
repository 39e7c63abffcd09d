"""`kharness worker SCHEDULER`: a Dask worker that runs kharness cells.

It is `dask worker` with what kharness cells need decided here: the resources it
advertises (harness.campaign.cluster reads them: `cores`, and per arch `kvm-<arch>` when
KVM works for it on this host, `tcg-<arch>` when the QEMU binary is installed, `mem-mib`
for guests: 70 % of RAM), threads =
cores, its own cache ($KHARNESS_CACHE, --cache), no dashboard, and listening on 127.0.0.1
unless --host says otherwise (non-loopback needs TLS or --insecure). Plain `dask worker`
works too when given the same --resources and KHARNESS_CACHE.

--seed-cache DIR fills an empty worker cache from another one by hardlinks (sources,
Debian downloads, images, kernel builds; never the build slots), so a second worker on one
host starts warm instead of spending 5-10 minutes per cold kernel build. Files a tool
appends to in place (git reflogs) are copied, not linked.
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import sys
from pathlib import Path

from harness import arch as archmod
from harness.campaign.cluster import is_loopback
from harness.errors import UserError
from harness.util import cmdline

SEEDED = ("sources", "debian", "images", "builds", "accel", "tools", "selftest-bin",
          "selftest-trees", "checks", "series")


def add_cli(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    w = sub.add_parser("worker", help="run a Dask worker for kharness run --cluster")
    w.add_argument("scheduler", help="scheduler address, e.g. tcp://127.0.0.1:8786")
    w.add_argument("--cores", type=int, default=0, help="cells at once (default: CPU count)")
    w.add_argument("--cache", help="this worker's kharness cache (default: $KHARNESS_CACHE "
                   "or ~/.cache/kharness)")
    w.add_argument("--seed-cache", metavar="DIR",
                   help="hardlink sources, images and builds from another cache first")
    w.add_argument("--name", help="worker name (default: Dask's)")
    w.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    w.add_argument("--no-nanny", action="store_true",
                   help="no restarting nanny process (a killed worker stays dead)")
    w.add_argument("--tls-ca"), w.add_argument("--tls-cert"), w.add_argument("--tls-key")
    w.add_argument("--insecure", action="store_true",
                   help="allow listening on a non-loopback address without TLS")
    w.add_argument("--dry-run", action="store_true", help="print the dask worker command")
    w.set_defaults(func=_cmd_worker)


def resources(cores: int, kvm_works: dict[str, bool] | None = None,
              mem_mib: int | None = None) -> dict[str, int]:
    """What this host offers: cores, guest memory (70 % of RAM, as the local pool caps it),
    and per arch kvm-/tcg- slots (one per core)."""
    out = {"cores": cores, "mem-mib": guest_memory_mib() if mem_mib is None else mem_mib}
    for profile in archmod.PROFILES.values():
        if shutil.which(profile.qemu_binary) is None:
            continue
        out[f"tcg-{profile.name}"] = cores
        works = (kvm_works or {}).get(profile.name)
        if works is None:
            works = _kvm_works(profile)
        if works:
            out[f"kvm-{profile.name}"] = cores
    return out


def guest_memory_mib() -> int:
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 20)
    except (ValueError, OSError):
        total = 4096
    return int(total * 0.7)


def _kvm_works(profile: archmod.ArchProfile) -> bool:
    import platform

    from harness.machine import accel
    if accel.choose_accel(profile, platform.machine(), kvm_works=True) == "tcg":
        return False
    return accel.kvm_verdict(profile, None).works


def worker_argv(args: argparse.Namespace, res: dict[str, int]) -> list[str]:
    tls = [args.tls_ca, args.tls_cert, args.tls_key]
    if any(tls) and not all(tls):
        raise UserError("TLS needs --tls-ca, --tls-cert and --tls-key together")
    if not all(tls) and not is_loopback(f"tcp://{args.host}:0") and not args.insecure:
        raise UserError(f"--host {args.host} is not loopback and no TLS is configured",
                        "a worker boots kernels for whoever reaches the scheduler",
                        "add --tls-ca/--tls-cert/--tls-key, or --insecure on a trusted network")
    argv = [sys.executable, "-m", "distributed.cli.dask_worker", args.scheduler,
            "--nthreads", str(res["cores"]), "--nworkers", "1", "--host", args.host,
            "--no-dashboard", "--resources", ",".join(f"{k}={v}" for k, v in res.items())]
    if args.name:
        argv += ["--name", args.name]
    if args.no_nanny:
        argv += ["--no-nanny"]
    if all(tls):
        argv += ["--tls-ca-file", args.tls_ca, "--tls-cert", args.tls_cert,
                 "--tls-key", args.tls_key]
    return argv


def seed_cache(src: Path, dst: Path) -> int:
    """Hardlink `src`'s reusable entries into `dst` (a copy for files under logs/ dirs and
    lock files); regular files only, on src's file system only; returns the number of
    files. Existing files in dst are kept."""
    n = 0
    for name in SEEDED:
        top = src / name
        if not top.is_dir():
            continue
        dev = top.stat().st_dev
        for root, dirs, files in os.walk(top):
            # stay on the cache's file system: an image being built may have /proc mounted
            dirs[:] = [d for d in dirs if os.lstat(os.path.join(root, d)).st_dev == dev]
            rel = Path(root).relative_to(src)
            (dst / rel).mkdir(parents=True, exist_ok=True)
            for f in files:
                a, b = Path(root) / f, dst / rel / f
                if b.exists() or not stat.S_ISREG(os.lstat(a).st_mode):
                    continue                  # symlinks, devices, fifos: not cache content
                n += 1
                if "logs" in rel.parts or f.endswith(".lock"):
                    shutil.copy2(a, b)
                    continue
                try:
                    os.link(a, b)
                except OSError:
                    shutil.copy2(a, b)
    return n


def _cmd_worker(args: argparse.Namespace) -> int:
    from harness.campaign.cluster import import_distributed
    from harness.util import cache_root
    import_distributed()
    if args.cache:
        os.environ["KHARNESS_CACHE"] = str(Path(args.cache).resolve())
    if args.seed_cache:
        n = seed_cache(Path(args.seed_cache).expanduser().resolve(), cache_root())
        print(f"seeded {cache_root()} from {args.seed_cache}: {n} files", flush=True)
    res = resources(args.cores or os.cpu_count() or 1)
    argv = worker_argv(args, res)
    print(f"cache: {cache_root()}\n$ {cmdline(argv)}", flush=True)
    if args.dry_run:
        return 0
    os.execv(argv[0], argv)  # noqa: S606 - the worker replaces us: an argv list, no shell
