"""Rules found by the eighth field measurement (issue #19): the source-layer table read for a
report's own header function too (a WARNING raised inside an infrastructure layer names the
caller that handed it bad input), and report formats that were read as a bare `bug` or missed
(old-format KCSAN, arm64's "Bad mode in ... handler", a KASAN report interleaved with an oops,
powerpc's data-access fault, "VFS: Close: file count is 0").

Every log here is written for the test from the kernel's print formats (lib/bug.c,
kernel/panic.c, mm/kasan/report.c, kernel/kcsan/report.c, arch/arm64/kernel/traps.c,
arch/powerpc/mm/fault.c, arch/powerpc/kernel/traps.c, fs/open.c, arch/x86/kernel/dumpstack.c,
arch/arm64/kernel/stacktrace.c); function names are kernel
functions or invented ones (demo_*), numbers are made up.
"""

from __future__ import annotations

import pytest

from harness.splats.parse import parse_log
from tests.conftest import call_trace as _trace
from tests.conftest import console_lines as _lines
from tests.conftest import kind_and_function as _one

ARCHES = pytest.mark.parametrize("arch", ["x86_64", "arm64"])


@ARCHES
def test_warning_raised_in_the_allocator_is_the_callers(arch: str) -> None:
    # an over-large request warns inside the page allocator: the caller asked for it
    rip = "pc : " if arch == "arm64" else "RIP: 0010:"
    log = _lines("------------[ cut here ]------------",
                 "WARNING: CPU: 1 PID: 4410 at mm/page_alloc.c:4781 "
                 "__alloc_frozen_pages_noprof+0x2f1/0x6a0",
                 "Modules linked in:", "CPU: 1 PID: 4410 Comm: demo Not tainted 6.13.0 #1",
                 f"{rip}__alloc_frozen_pages_noprof+0x2f1/0x6a0",
                 *_trace(arch, "__alloc_pages_noprof", "___kmalloc_large_node",
                         "__kmalloc_large_node_noprof", "__kmalloc_noprof", "demo_read_table",
                         "demo_fill_super", "get_tree_bdev", "vfs_get_tree"),
                 "---[ end trace 0000000000000000 ]---")
    assert _one(log) == ("warning", "demo_read_table")
    assert parse_log(log)[0].title == "WARNING in demo_read_table"


@pytest.mark.parametrize("second", [
    ("race at unknown origin, with write to 0xffff888012345678 of 8 bytes by task 812 on cpu 2:",),
    ("write to 0xffff888012345678 of 8 bytes by task 812 on cpu 2:",)])
def test_old_kcsan_racing_access_is_a_kcsan_report(second: tuple[str]) -> None:
    # KCSAN's first format (v5.3-era x86_64 kernels, before "data-race in f / g"): the header
    # names the access ("racing read|write") and the one function seen
    log = _lines("==================================================================",
                 "BUG: KCSAN: racing write in demo_update_stats+0x2c/0x90", "",
                 "CPU: 2 PID: 812 Comm: demo Not tainted 5.4.0 #1", *second,
                 " demo_update_stats+0x2c/0x90", " demo_ioctl+0x51/0x80",
                 " do_vfs_ioctl+0x3e/0x8c0", " __x64_sys_ioctl+0x6b/0xb0",
                 " do_syscall_64+0x5f/0x1a0",
                 "==================================================================")
    assert _one(log) == ("kcsan", "demo_update_stats")
    assert parse_log(log)[0].title == "KCSAN: racing write in demo_update_stats"


@pytest.mark.parametrize("die", [(), ("Internal error: Oops - bad mode: 0 [#1] PREEMPT SMP",
                                      "Modules linked in:")])
def test_arm64_bad_mode_is_an_oops(die: tuple[str, ...]) -> None:
    # arch/arm64/kernel/traps.c bad_mode(): "Bad mode in <handler> handler detected", the
    # registers, then (older kernels) die("Oops - bad mode") and panic("bad mode"): one
    # oops-class report, titled alike whichever kernel printed it, named by the pc
    log = _lines("Bad mode in Synchronous Abort handler detected on CPU0, code 0x34000001 -- BTI",
                 *die, "CPU: 0 PID: 0 Comm: swapper Not tainted 5.10.0 #1",
                 "Hardware name: linux,dummy-virt (DT)", "pstate: 80000489 (Nzcv daIf -PAN -UAO)",
                 "pc : demo_feature_probe+0x0/0x3c0", "lr : demo_cpu_init+0xbc/0xec",
                 "sp : ffff800012345eb0", "Kernel panic - not syncing: bad mode",
                 *_trace("arm64", "dump_backtrace", "show_stack", "dump_stack", "panic",
                         "bad_mode", "el1_inv", "el1_sync_handler", "el1_sync",
                         "demo_feature_probe", "demo_cpu_init", "start_kernel"))
    splats = parse_log(log)
    assert [(s.kind, s.function) for s in splats] == [("oops", "demo_feature_probe")]
    assert splats[0].title == "Oops bad mode in demo_feature_probe"


def _tagged(*rows: tuple[str, str]) -> str:
    """Console lines with printk caller ids: two tasks' reports printed at once."""
    return "".join(f"[  72.{i:06d}][{who:>6}] {row}\n" for i, (who, row) in enumerate(rows, 1))


@ARCHES
def test_interleaved_reports_are_ordered_by_the_first_bug_named(arch: str) -> None:
    # task 1533's KASAN separator comes first, but task 1560's fault is named first
    a, b = "T1533", "T1560"
    if arch == "arm64":
        fault = [(b, "Unable to handle kernel NULL pointer dereference at virtual address "
                     "00000000000000c8"),
                 (b, "Internal error: Oops: 0000000096000006 [#1] PREEMPT SMP"),
                 (b, "pc : refcount_dec_and_test+0x28/0x60"), (b, "Call trace:"),
                 (b, " refcount_dec_and_test+0x28/0x60"), (b, " demo_connect+0x8d8/0xea0"),
                 (b, " __sys_connect+0x264/0x330")]
    else:
        fault = [(b, "general protection fault, probably for non-canonical address "
                     "0xdffffc0000000019: 0000 [#1] PREEMPT SMP KASAN"),
                 (b, "RIP: 0010:refcount_dec_and_test+0x28/0x60"), (b, "Call Trace:"),
                 (b, " <TASK>"), (b, " refcount_dec_and_test+0x28/0x60"),
                 (b, " demo_connect+0x8d8/0xea0"), (b, " __sys_connect+0x264/0x330"),
                 (b, " </TASK>")]
    kasan = [(a, "BUG: KASAN: null-ptr-deref in refcount_dec_and_test+0x28/0x60"),
             (a, "Read of size 4 at addr 00000000000000c8 by task demo/1533"), (a, ""),
             *((a, row) for row in _trace(arch, "dump_stack_lvl", "kasan_report",
                                          "refcount_dec_and_test", "demo_connect",
                                          "__sys_connect")),
             (a, "==================================================================")]
    rows = [(a, "=================================================================="), fault[0],
            *[r for pair in zip(kasan, fault[1:], strict=False) for r in pair],
            *kasan[len(fault) - 1:]]
    splats = parse_log(_tagged(*rows))
    assert [(s.kind, s.function) for s in splats] == [("oops", "demo_connect"),
                                                      ("kasan", "demo_connect")]


def test_powerpc_data_access_fault_is_a_paging_request_oops() -> None:
    # arch/powerpc/mm/fault.c and kernel/traps.c die(): the faulting function is on NIP
    log = _lines("BUG: Unable to handle kernel data access on read at 0x8000000041a25f20",
                 "Faulting instruction address: 0xc00000000022d79c",
                 "Oops: Kernel access of bad area, sig: 11 [#1]",
                 "LE PAGE_SIZE=64K MMU=Hash SMP NR_CPUS=2048 NUMA pSeries", "Modules linked in:",
                 "CPU: 0 PID: 12 Comm: kworker/0:1 Not tainted 5.4.0 #1",
                 "NIP:  c00000000022d79c LR: c00000000022d784 CTR: 0000000000000000",
                 "REGS: c00000007a3ef6e0 TRAP: 0380   Not tainted  (5.4.0)",
                 "MSR:  800000010280b033 <SF,VEC,VSX,EE,FP,ME,IR,DR,RI,LE>  CR: 22824428",
                 "GPR00: c00000000022d784 c00000007a3ef970 c000000001f24600 0000000000004000",
                 "NIP [c00000000022d79c] demo_rebuild_domains+0x1ac/0x5f0",
                 "LR [c00000000022d784] demo_rebuild_domains+0x194/0x5f0", "Call Trace:",
                 "[c00000007a3efa20] [c00000000030a060] demo_update_flag+0x7b0/0x13a0",
                 "[c00000007a3efb30] [c00000000030b06c] demo_css_offline+0x26c/0x280",
                 "Instruction dump:", "7fa3eb78 38a00000 38800800 3fe2ffb0 3bff4e00 488818d9",
                 "---[ end trace ecc3a767a3dac4b3 ]---")
    assert _one(log) == ("oops", "demo_rebuild_domains")
    assert parse_log(log)[0].title == ("BUG: unable to handle kernel paging request in "
                                       "demo_rebuild_domains")


@pytest.mark.parametrize("count", ["0", "zero"])
def test_vfs_close_with_a_zero_file_count_is_a_bug(count: str) -> None:
    # fs/open.c filp_close() of older kernels prints "is 0"
    log = _lines("demo: opening", f"VFS: Close: file count is {count}", "demo: done")
    assert [(s.kind, s.title) for s in parse_log(log)] == [
        ("bug", "VFS: Close: file count is zero")]
