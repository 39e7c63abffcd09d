"""Boot-to-SSH-ready under TCG: median and p90 per arch, and virtme-ng for comparison.

    python bench/boot.py                       # 10 boots per arch (kernels from the tests)
    python bench/boot.py --runs 20 --arch x86_64 --vng-kernel /tmp/vngk2/boot/vmlinuz-...

Kernels: the quickstart baselines (examples/quickstart.yaml, via the build cache) unless
$KHARNESS_TEST_KERNEL_<ARCH> names another image.
"Ready" = QEMU spawned -> console shows `kharness: sshd ready` -> SSH authenticated
(VM.boot_seconds, which also counts writing the per-VM key overlay). Each boot is a
fresh VM, run one at a time. virtme-ng is timed as the wall time of
`vng -v --run KERNEL --disable-kvm --force-9p -- echo MARK` (boot + first command + exit),
counted only when MARK comes back; it needs 9p/virtio-console in the kernel, so it is given
its own kernel (--vng-kernel, e.g. Debian's linux-binary-*-amd64 and linux-modules-*-amd64
extracted together) and a busybox (--busybox); vng wants `depmod` (kmod) on the host.

Our tinyconfig-based kernels cannot be booted by vng 1.42: they lack CONFIG_NET_9P_VIRTIO,
CONFIG_9P_FS, CONFIG_VIRTIO_FS and CONFIG_VIRTIO_CONSOLE, so vng's root (the host file
system over 9p/virtiofs) never mounts: "VFS: Cannot open root device" panic. On this
host vng also needs --disable-kvm (it does not probe KVM; QEMU aborts in kvm_buf_set_msrs)
and --force-9p (no virtiofsd). vng 1.42 exits 255 on this host ("cannot find script I/O
ports") and runs the command through its console fallback, whose output appears only with
-v; each run's exit status is printed beside its time.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.machine.vm import VM

QUICKSTART = Path(__file__).resolve().parent.parent / "examples" / "quickstart.yaml"
TARGETS = {"x86_64": 3.0, "arm64": 5.0}


def kernel_for(arch: str) -> Path:
    """$KHARNESS_TEST_KERNEL_<ARCH>, else the quickstart baseline (built or from the cache)."""
    env = os.environ.get(f"KHARNESS_TEST_KERNEL_{arch.upper()}")
    if env:
        return Path(env)
    from harness.kernel import build
    return build.build_for_config(QUICKSTART, arch, "baseline").image


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.9 * len(ordered)) - 1))]


def boot_once(arch: str, kernel: Path, workdir: Path, cpus: int) -> float:
    with VM(kernel, arch, workdir=workdir, name=f"bench-{arch}", accel="tcg",
            cpus=cpus) as vm:
        vm.guest.run(["true"], timeout=60)
        return vm.boot_seconds


def bench_kharness(arch: str, runs: int, cpus: int) -> list[float]:
    kernel = kernel_for(arch)
    times = []
    with tempfile.TemporaryDirectory(prefix="kh-bench-") as tmp:
        boot_once(arch, kernel, Path(tmp) / "warm", cpus)          # warm image cache
        for i in range(runs):
            times.append(boot_once(arch, kernel, Path(tmp) / f"run{i}", cpus))
            print(f"  {arch} run {i + 1}/{runs}: {times[-1]:.2f}s", file=sys.stderr)
    return times


VNG_MARK = "kharness-vng-ran"


def bench_vng(kernel: Path, busybox: Path | None, runs: int) -> list[float]:
    """Wall time of vng booting, running `echo VNG_MARK` and powering off. A run counts only
    when the marker's line came back: vng's exit status alone is not trusted (1.42 exits 255
    here after the command ran), and a vng that failed before booting must not make a ratio."""
    # -v: on this host vng falls back to the console for the command ("cannot find script
    # I/O ports") and shows its output only with the console
    argv = ["vng", "-v", "--run", str(kernel), "--disable-kvm", "--force-9p"]
    argv += ["--busybox", str(busybox)] if busybox else []
    argv += ["--", "echo", VNG_MARK]
    times = []
    for i in range(runs):
        start = time.monotonic()
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False,
                              stdin=subprocess.DEVNULL)
        took = time.monotonic() - start
        lines = (proc.stdout + "\n" + proc.stderr).splitlines()
        ran = any(line.strip() == VNG_MARK for line in lines)
        tail = [ln for ln in lines if ln.strip()][-1:]
        note = ("" if proc.returncode == 0
                else f" (exit {proc.returncode}: {' | '.join(tail)[:100]})")
        if ran:
            times.append(took)
        else:
            note += " -- the command did not run: not counted"
        print(f"  vng run {i + 1}/{runs}: {took:.2f}s{note}", file=sys.stderr)
    if not times:
        print(f"vng never ran the command; try by hand: {' '.join(argv)}", file=sys.stderr)
    return times


def row(name: str, times: list[float], target: float | None) -> dict[str, object]:
    return {"what": name, "runs": len(times), "median": statistics.median(times),
            "p90": p90(times), "min": min(times), "max": max(times), "target": target}


def print_table(rows: list[dict[str, object]]) -> None:
    print(f"{'what':34s} {'runs':>4s} {'median':>7s} {'p90':>7s} {'min':>7s} {'max':>7s}"
          f" {'target':>7s}")
    for r in rows:
        target = f"{r['target']:.1f}" if r["target"] else "-"
        print(f"{r['what']:34s} {r['runs']:>4d} {r['median']:7.2f} {r['p90']:7.2f} "
              f"{r['min']:7.2f} {r['max']:7.2f} {target:>7s}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", action="append", choices=sorted(TARGETS))
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--cpus", type=int, default=2)
    p.add_argument("--vng-kernel", type=Path, help="kernel virtme-ng can boot (needs 9p)")
    p.add_argument("--busybox", type=Path, help="static busybox for vng's initramfs")
    p.add_argument("--json", type=Path, help="also write the rows here")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = []
    for arch in args.arch or sorted(TARGETS):
        rows.append(row(f"kharness {arch} tcg", bench_kharness(arch, args.runs, args.cpus),
                        TARGETS[arch]))
    if args.vng_kernel and not shutil.which("vng"):
        print("--vng-kernel given but no `vng` on PATH (pip install virtme-ng)", file=sys.stderr)
    elif args.vng_kernel:
        vng_times = bench_vng(args.vng_kernel, args.busybox, args.runs)
        if vng_times:
            rows.append(row(f"vng {args.vng_kernel.name} tcg", vng_times, None))
    print_table(rows)
    ours = [r for r in rows if str(r["what"]).startswith("kharness x86_64")]
    vng = [r for r in rows if str(r["what"]).startswith("vng")]
    if ours and vng:
        ratio = float(vng[0]["median"]) / float(ours[0]["median"])    # type: ignore[arg-type]
        print(f"vng/kharness median ratio (x86_64): {ratio:.2f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
