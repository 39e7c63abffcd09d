#!/usr/bin/env python3
"""Real console captures of LKDTM crash types, for the splat corpus (tests/data/logs/real).

    python bench/lkdtm_capture.py --arch x86_64                  # every case of the arch
    python bench/lkdtm_capture.py --arch arm64 --only stack-guard-exhaust,corrupt-stack
    python bench/lkdtm_capture.py --arch arm64 --only kcsan-basic     # KCSAN (kcsan fragment)
    python bench/lkdtm_capture.py --list                         # the cases

Builds the config's baseline (examples/quickstart.yaml by default) with the case's kconfig
fragment (`lkdtm`, or `kcsan` for the KCSAN cases; cached like any build), then per case boots
a fresh guest with the case's command line, writes the crash type to
/sys/kernel/debug/provoke-crash/DIRECT from a detached shell (the harness sends nothing else: no
sysrq, no evidence gathering; a KCSAN case writes nothing: its KUnit test case, chosen with
kunit.filter_glob, races at boot) and records the console until
QEMU exits (a panic: `panic=-1 -no-reboot`), the console stays quiet for the case's `quiet`
seconds, or `cap` seconds pass; the guest is then shut down and reaped. Writes
OUT/<arch>-<fragment>-<case>.log (the console as captured, up to that moment) and a draft
OUT/<arch>-<fragment>-<case>.expect.yaml with what harness.splats reads in it. The drafts are not
expectations: check every splat by eye (tests/data/logs/README.md) before copying a pair into
the corpus. Exit 0 when every case was captured, 2 on a usage or infrastructure error.
"""

from __future__ import annotations

import argparse
import logging
import re
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.errors import KernelFailure, KharnessError  # noqa: E402 (after the sys.path line)
from harness.kernel import build  # noqa: E402
from harness.machine.vm import VM  # noqa: E402
from harness.splats.parse import Splat, parse_file  # noqa: E402
from harness.util import cache_dir  # noqa: E402

log = logging.getLogger("harness")
DIRECT = "/sys/kernel/debug/provoke-crash/DIRECT"
FRAGMENT = "lkdtm"
BOTH = ("x86_64", "arm64")
SLAB = ("slub_debug=FZPU",)
VALIDATE = "for f in /sys/kernel/slab/*/validate; do echo 1 > $f; done"


@dataclass(frozen=True)
class Case:
    """One boot: an LKDTM crash type (none: the boot itself provokes the report), the command
    line it needs, the kconfig fragment of its kernel and how long to listen."""

    name: str
    crash: str
    cmdline: tuple[str, ...] = ()
    archs: tuple[str, ...] = BOTH
    after: str = ""             # shell run in the guest after the write (same detached shell)
    quiet: float = 12.0         # console silent this long after the trigger: captured
    cap: float = 150.0          # never listen longer than this
    fragment: str = FRAGMENT


def kcsan(name: str, test: str) -> Case:
    """A KCSAN KUnit test case run at boot (kernel/kcsan/kcsan_test.c): its reports are real
    KCSAN reports of two racing test functions. The console is read from the login on."""
    return Case(name, "", (f"kunit.filter_glob=kcsan.{test}",), quiet=30.0, cap=420.0,
                fragment="kcsan")


HUNG = ("sysctl.kernel.hung_task_timeout_secs=10",)
LOCKUP = ("watchdog_thresh=5", "rcupdate.rcu_cpu_stall_timeout=10")
CASES = (
    Case("stack-guard-exhaust", "EXHAUST_STACK"),
    Case("stack-guard-leading", "STACK_GUARD_PAGE_LEADING"),
    Case("stack-guard-trailing", "STACK_GUARD_PAGE_TRAILING"),
    Case("corrupt-stack", "CORRUPT_STACK"),
    Case("usercopy-heap", "USERCOPY_SLAB_SIZE_TO"),
    Case("usercopy-stack", "USERCOPY_STACK_FRAME_FROM"),
    Case("usercopy-kernel", "USERCOPY_KERNEL"),
    Case("fortify-strscpy", "FORTIFY_STRSCPY"),
    Case("fortify-mem", "FORTIFY_MEM_OBJECT"),
    Case("unset-smep", "UNSET_SMEP", archs=("x86_64",)),
    Case("access-userspace", "ACCESS_USERSPACE"),
    Case("exec-data", "EXEC_DATA"),
    Case("write-ro", "WRITE_RO"),
    Case("slab-linear-overflow", "SLAB_LINEAR_OVERFLOW", SLAB),
    Case("write-after-free", "WRITE_AFTER_FREE", SLAB, after=VALIDATE),
    Case("slab-free-cross", "SLAB_FREE_CROSS", SLAB),
    Case("slab-free-page", "SLAB_FREE_PAGE", SLAB),
    Case("warning-message", "WARNING_MESSAGE"),
    Case("panic", "PANIC"),
    Case("bug-in-hardirq", "BUG_IN_HARDIRQ"),
    Case("warning-panic-on-warn", "WARNING", ("panic_on_warn=1",)),
    Case("exception-panic-on-oops", "EXCEPTION", ("oops=panic",)),
    Case("hung-task-panic", "HUNG_TASK", (*HUNG, "hung_task_panic=1"), quiet=40.0),
    Case("softlockup-panic", "SOFTLOCKUP", (*LOCKUP, "softlockup_panic=1"), quiet=40.0),
    Case("hardlockup", "HARDLOCKUP", LOCKUP, archs=("arm64",), quiet=40.0),
    kcsan("kcsan-basic", "test_basic"),                    # plain write vs plain read
    kcsan("kcsan-unknown-origin", "test_unknown_origin"),  # "race at unknown origin"
    kcsan("kcsan-assert-writer", "test_assert_exclusive_writer"),   # "KCSAN: assert: race"
    kcsan("kcsan-write-write", "test_write_write_struct"),
)


def cases_for(arch: str, only: Sequence[str]) -> list[Case]:
    known = {c.name for c in CASES}
    unknown = sorted(set(only) - known)
    if unknown:
        raise SystemExit(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return [c for c in CASES if arch in c.archs and (not only or c.name in only)]


def listen(vm: VM, case: Case) -> str:
    """Wait until QEMU exits, the console is quiet for case.quiet s, or case.cap s pass."""
    assert vm.qemu is not None and vm.qemu.console is not None
    console, t0 = vm.qemu.console, time.monotonic()
    last, last_change = console.mark(), time.monotonic()
    while True:
        if vm.qemu.wait_exit(1.0) is not None:
            return "guest exited"
        now, mark = time.monotonic(), console.mark()
        if mark != last:
            last, last_change = mark, now
        if now - last_change >= case.quiet:
            return f"console quiet for {case.quiet:.0f}s"
        if now - t0 >= case.cap:
            return f"cap of {case.cap:.0f}s"


def trigger(vm: VM, case: Case) -> None:
    """The write, detached so that the ssh session ends at once whatever the kernel does."""
    if not case.crash:
        return
    script = f"echo {case.crash} > {DIRECT}" + (f"; {case.after}" if case.after else "")
    try:
        vm.guest.run(["sh", "-c", f"({script}) </dev/null >/dev/null 2>&1 &"], timeout=60.0,
                     check=True)
    except KernelFailure as e:          # the kernel died before the session ended: the point
        log.info("%s: %s", case.name, str(e).splitlines()[0])


def capture(kernel: Path, arch: str, case: Case, out: Path) -> Path:
    """Boot, trigger, listen; the console bytes up to the end of listening, as OUT/<name>.log."""
    dest = out / f"{short(arch)}-{case.fragment}-{case.name.removeprefix(case.fragment + '-')}.log"
    workdir = cache_dir("lkdtm") / f"{arch}-{case.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    with VM(kernel, arch, workdir=workdir, name=f"lkdtm-{case.name}", mem="1G", cpus=2,
            cmdline_extra=list(case.cmdline)) as vm:
        trigger(vm, case)
        why = listen(vm, case)
        size = vm.console_path.stat().st_size
        dest.write_bytes(vm.console_path.read_bytes()[:size])
    shutil.rmtree(workdir, ignore_errors=True)   # the guest's initrd copy and key: ~8 MB a case
    log.info("%s %s: %s; %s (%d bytes)", arch, case.name, why, dest, size)
    return dest


def short(arch: str) -> str:
    return "x86" if arch == "x86_64" else arch


def draft(logfile: Path, arch: str, case: Case) -> list[Splat]:
    """What the parser reads in the capture, as a draft sidecar (to check by eye)."""
    found = parse_file(logfile)
    text = logfile.read_text(errors="backslashreplace")
    m = re.search(r"Linux version (\S+)", text)
    extra = " ".join(case.cmdline) or "no extra command line"
    head = (f"# DRAFT (bench/lkdtm_capture.py, check by eye): {m.group(1) if m else '?'} {arch} "
            f"(quickstart baseline + {case.fragment} fragment), TCG, {extra}: "
            f"{f'LKDTM {case.crash}' if case.crash else 'at boot'}.\n")
    rows = [{"kind": s.kind, "title": s.title, "function": s.function, "line": s.line,
             "end_line": s.end_line} for s in found]
    side = logfile.with_name(logfile.name[: -len(".log")] + ".expect.yaml")
    side.write_text(head + yaml.safe_dump({"splats": rows}, sort_keys=False, width=200))
    return found


def run(config: str, arch: str, only: Sequence[str], out: Path, kernel: Path | None) -> int:
    todo = cases_for(arch, only)
    kernels: dict[str, Path] = {}
    out.mkdir(parents=True, exist_ok=True)
    for case in todo:
        t0 = time.monotonic()
        if case.fragment not in kernels:
            kernels[case.fragment] = kernel or build.build_for_config(
                config, arch, "baseline", extra_fragments=(case.fragment,)).image
        logfile = capture(kernels[case.fragment], arch, case, out)
        found = draft(logfile, arch, case)
        print(f"{arch:7s} {case.name:24s} {time.monotonic() - t0:5.0f}s  {len(found)} splat(s)",
              flush=True)
        for s in found:
            print(f"        [{s.kind}] {s.title}  ({s.function}; lines {s.line}-{s.end_line})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=str(ROOT / "examples" / "quickstart.yaml"))
    p.add_argument("--arch", choices=BOTH, default="x86_64")
    p.add_argument("--only", default="", help="comma-separated case names (default: all)")
    p.add_argument("--out", type=Path, help="output directory (default: in the cache)")
    p.add_argument("--kernel", type=Path, help="boot this image (built with the cases' fragment) "
                   "instead of building the config's")
    p.add_argument("--list", action="store_true", help="print the cases and exit")
    args = p.parse_args(argv)
    if args.list:
        for c in CASES:
            print(f"{c.name:24s} {c.crash:26s} {','.join(c.archs):14s} {' '.join(c.cmdline)}")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname).1s %(message)s",
                        datefmt="%H:%M:%S")
    logging.getLogger("paramiko").setLevel(logging.WARNING)
    out = args.out or cache_dir("lkdtm") / f"captures-{time.strftime('%Y%m%d-%H%M%S')}"
    only = [n for n in args.only.split(",") if n]
    try:
        return run(args.config, args.arch, only, out, args.kernel)
    except KharnessError as e:
        print(f"lkdtm_capture: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
