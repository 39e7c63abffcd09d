"""Culprit rules found by measuring the splat reader on field batches 7 and 8 (issue #19).

Every log here is written for the test from the kernel's print formats (lib/dump_stack.c,
kernel/panic.c, arch/x86/kernel/traps.c, arch/arm64/kernel/traps.c and entry-common.c,
mm/kasan/report.c, kernel/locking/lockdep.c, lib/hexdump.c); the function names are kernel
functions or invented ones (`frob_*`).
"""

from __future__ import annotations

import pytest

from harness.splats.parse import parse_log
from tests.conftest import kind_and_function as _one

# A WARNING in an allocator check, printed again by panic_on_warn: the trap path's frames
# (x86's __exc_invalid_op, arm64's el1 handlers) are the exception entry, not a caller.
WARN_X86 = """\
[  10.1] ------------[ cut here ]------------
[  10.1] WARNING: CPU: 0 PID: 42 at mm/page_alloc.c:4944 __alloc_pages+0x8cc/0xfb0
[  10.1] Modules linked in:
[  10.1] RIP: 0010:__alloc_pages+0x8cc/0xfb0
[  10.1] Call Trace:
[  10.1]  alloc_pages_mpol+0x79b/0xb40
[  10.1]  __kmalloc_large_node+0xab/0x390
[  10.1]  __kmalloc+0x3fa/0x530
[  10.1]  frob_read_table+0xa1/0x970
[  10.1]  frob_fill_super+0x1f61/0x2f90
[  10.1] Kernel panic - not syncing: kernel: panic_on_warn set ...
[  10.1] Call Trace:
[  10.1]  dump_stack_lvl+0x21c/0x280
[  10.1]  panic+0x4c8/0xea7
[  10.1]  check_panic_on_warn+0x6a/0x80
[  10.1]  __warn+0x6ea/0x710
[  10.1]  report_bug+0x7d4/0x9d0
[  10.1]  handle_bug+0x6c/0xd0
[  10.1]  __exc_invalid_op+0x34/0x80
[  10.1]  exc_invalid_op+0x30/0x40
[  10.1]  asm_exc_invalid_op+0x12/0x20
[  10.1] RIP: 0010:__alloc_pages+0x8cc/0xfb0
[  10.1]  alloc_pages_mpol+0x79b/0xb40
[  10.1]  __kmalloc+0x3fa/0x530
[  10.1]  frob_read_table+0xa1/0x970
"""


def test_warning_under_the_trap_entry_is_named_after_its_caller() -> None:
    assert _one(WARN_X86) == ("warning", "frob_read_table")


# KASAN inside the hex-dump formatter that a caller asked to print its own buffer
KASAN_HEXDUMP = {
    "x86_64": """\
[  54.5] ==================================================================
[  54.5] BUG: KASAN: slab-out-of-bounds in hex_dump_to_buffer+0xdc1/0xdf0
[  54.5] Read of size 1 at addr ffff88801d2c0fff by task mount/3608
[  54.5] Call Trace:
[  54.5]  <TASK>
[  54.5]  dump_stack_lvl+0xcd/0x134
[  54.5]  print_report+0x2ba/0x6e9
[  54.5]  kasan_report+0xb1/0x1e0
[  54.5]  hex_dump_to_buffer+0xdc1/0xdf0
[  54.5]  print_hex_dump+0x12f/0x1d0
[  54.5]  frob_get_xattr+0xaa/0x190
[  54.5]  frob_getxattr+0x1a0/0x2c0
[  54.5]  </TASK>
[  54.5] ==================================================================
""",
    "arm64": """\
[  54.5] ==================================================================
[  54.5] BUG: KASAN: slab-out-of-bounds in hex_dump_to_buffer+0x5c4/0x5e0
[  54.5] Read of size 1 at addr ffff00000d2c0fff by task mount/3608
[  54.5] Call trace:
[  54.5]  dump_backtrace+0x0/0x2b0
[  54.5]  show_stack+0x18/0x28
[  54.5]  dump_stack_lvl+0x68/0x84
[  54.5]  print_report+0x10c/0x5f8
[  54.5]  kasan_report+0xa8/0xf0
[  54.5]  __asan_load1+0x64/0x80
[  54.5]  hex_dump_to_buffer+0x5c4/0x5e0
[  54.5]  print_hex_dump+0xf0/0x1a0
[  54.5]  frob_get_xattr+0xaa/0x190
[  54.5]  frob_getxattr+0x1a0/0x2c0
[  54.5] ==================================================================
""",
}


@pytest.mark.parametrize("arch", sorted(KASAN_HEXDUMP))
def test_bad_access_in_the_hex_dump_formatter_is_the_callers_buffer(arch: str) -> None:
    assert _one(KASAN_HEXDUMP[arch]) == ("kasan", "frob_get_xattr")


# lockdep complaining about a lock that panic's printk flush takes: the report is about the
# code that panicked (arm64's bad_mode here), not about printk.
LOCKDEP_PRINTK = {
    "arm64": ("bad_mode", "el1_inv+0x3c/0x5c", "el1_sync_handler+0x80/0x170"),
    "x86_64": ("frob_fatal_check", "frob_probe+0x3c/0x5c", "do_one_initcall+0x80/0x170"),
}


@pytest.mark.parametrize("arch", sorted(LOCKDEP_PRINTK))
def test_lockdep_on_a_lock_taken_by_printk_names_the_reporter(arch: str) -> None:
    caller, below, further = LOCKDEP_PRINTK[arch]
    log = f"""\
[    0.0] ================================
[    0.0] WARNING: inconsistent lock state
[    0.0] 6.1.0 #1 Not tainted
[    0.0] --------------------------------
[    0.0] inconsistent {{INITIAL USE}} -> {{IN-NMI}} usage.
[    0.0] swapper/0 [HC1[1]:SC0[0]:HE0:SE1] takes:
[    0.0] ffffa00019b517b8 (logbuf_lock){{....}}-{{2:2}}, at: vprintk_emit+0xec/0x510
[    0.0] {{INITIAL USE}} state was registered at:
[    0.0]   lock_acquire+0x94/0xc0
[    0.0]   _raw_spin_lock+0x90/0x120
[    0.0]   vprintk_emit+0xec/0x510
[    0.0]   _printk+0xbc/0xf4
[    0.0]   start_kernel+0x40/0x4f4
[    0.0]
[    0.0] other info that might help us debug this:
[    0.0] no locks held by swapper/0.
[    0.0]
[    0.0] stack backtrace:
[    0.0] Call trace:
[    0.0]  dump_stack_lvl+0x1f0/0x294
[    0.0]  print_usage_bug+0x52c/0x550
[    0.0]  lock_acquire+0x94/0xc0
[    0.0]  _raw_spin_lock+0x90/0x120
[    0.0]  vprintk_emit+0xec/0x510
[    0.0]  printk_deferred+0xbc/0xf4
[    0.0]  __printk_safe_flush+0x4ac/0x4e0
[    0.0]  printk_safe_flush_on_panic+0x104/0x130
[    0.0]  panic+0x4a4/0x8b8
[    0.0]  {caller}+0x14c/0x1b4
[    0.0]  {below}
[    0.0]  {further}
"""
    assert _one(log) == ("lockdep", caller)


# A WARNING raised by a generic helper on its caller's behalf (kobject registration, a flush):
# the caller misused it, as the field names it.
GENERIC_WARN = {
    "x86_64": """\
[ 179.1] kobject_add_internal failed for brport (error: -12 parent: frob0)
[ 179.1] ------------[ cut here ]------------
[ 179.1] WARNING: CPU: 1 PID: 3485 at lib/kobject.c:244 kobject_add_internal+0x3f6/0xbc0
[ 179.1] Modules linked in:
[ 179.1] RIP: 0010:kobject_add_internal+0x3f6/0xbc0
[ 179.1] Call Trace:
[ 179.1]  <TASK>
[ 179.1]  kobject_init_and_add+0xf9/0x150
[ 179.1]  frob_add_port+0x786/0x1990
[ 179.1]  frob_add_slave+0x29/0x30
[ 179.1]  </TASK>
[ 179.1] ---[ end trace 0000000000000000 ]---
""",
    "arm64": """\
[ 1502.3] ------------[ cut here ]------------
[ 1502.3] WARNING: kernel/workqueue.c:4209 at __flush_work+0x2f8/0x3a0, CPU#1: kworker/u8:3/77
[ 1502.3] Modules linked in:
[ 1502.3] pc : __flush_work+0x2f8/0x3a0
[ 1502.3] lr : __flush_work+0x54/0x3a0
[ 1502.3] Call trace:
[ 1502.3]  __flush_work+0x2f8/0x3a0 (P)
[ 1502.3]  flush_work+0x1c/0x30
[ 1502.3]  frob_sync_queue+0x17c/0x230
[ 1502.3]  frob_release+0x18/0x24
[ 1502.3] ---[ end trace 0000000000000000 ]---
""",
}


@pytest.mark.parametrize("arch,caller", [("arm64", "frob_sync_queue"),
                                         ("x86_64", "frob_add_port")])
def test_warning_in_a_generic_helper_is_its_callers_misuse(arch: str, caller: str) -> None:
    assert _one(GENERIC_WARN[arch]) == ("warning", caller)


# vmalloc's API entry points (vzalloc, vcalloc) are the allocator's, like vmalloc itself
@pytest.mark.parametrize("api", ["vzalloc", "vcalloc", "vzalloc_node_noprof"])
def test_warning_under_the_vmalloc_api_names_the_caller(api: str) -> None:
    log = f"""\
------------[ cut here ]------------
WARNING: CPU: 1 PID: 15973 at mm/vmalloc.c:3108 __vmalloc_node_range+0x1036/0x1300
Modules linked in:
RIP: 0010:__vmalloc_node_range+0x1036/0x1300
Call Trace:
 <TASK>
 __vmalloc_node+0x6b/0x80
 {api}+0x6b/0x80
 frob_check+0x1b8/0xae50
 frob_prog_load+0x16d9/0x21d0
 </TASK>
"""
    assert _one(log) == ("warning", "frob_check")


# A fault in an access primitive (MMIO/port I/O accessors, READ_ONCE's out-of-line helper) is
# the access of the function that called it, whatever that caller's layer.
ABORT_ARM64 = """\
[  211.5] Internal error: synchronous external abort: 96000010 [#1] PREEMPT SMP
[  211.5] Modules linked in:
[  211.5] CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0 #11
[  211.5] Hardware name: linux,dummy-virt (DT)
[  211.5] pstate: 40000005 (nZcv daif -PAN -UAO -TCO BTYPE=--)
[  211.5] pc : __raw_readb+0x18/0x2c
[  211.5] lr : __raw_readb+0x18/0x2c
[  211.5] sp : ffff0000401f7c40
[  211.5] Call trace:
[  211.5]  __raw_readb+0x18/0x2c
[  211.5]  logic_inb+0x50/0x13c
[  211.5]  frob_probe_port+0x17c/0x63c
[  211.5]  do_one_initcall+0x294/0x61c
[  211.5]  kernel_init+0x18/0x1d4
[  211.5]  ret_from_fork+0x10/0x30
[  211.5] Code: 910003fd f9000bf3 aa0003f3 97932e41 (08dffe60)
[  211.5] ---[ end trace ec5638d8e916ae8b ]---
"""

FAULT_X86 = """\
[ 335.9] BUG: unable to handle page fault for address: ffffc9001652fa68
[ 335.9] #PF: supervisor read access in kernel mode
[ 335.9] #PF: error_code(0x0000) - not-present page
[ 335.9] Oops: 0000 [#1] PREEMPT SMP KASAN
[ 335.9] CPU: 1 PID: 15844 Comm: cat Not tainted 6.1.0 #1
[ 335.9] RIP: 0010:{rip}+0x0/0x10
[ 335.9] RSP: 0018:ffffc90003a4f8b8 EFLAGS: 00010046
[ 335.9] Call Trace:
[ 335.9]  <TASK>
[ 335.9]  {caller}+0x3e2/0x800
[ 335.9]  {below}+0xb0/0x150
[ 335.9]  proc_single_show+0x116/0x1e0
[ 335.9]  seq_read_iter+0x4f6/0x1240
[ 335.9]  </TASK>
[ 335.9] ---[ end trace 0000000000000000 ]---
"""


def test_external_abort_in_an_mmio_accessor_names_the_driver() -> None:
    assert _one(ABORT_ARM64) == ("oops", "frob_probe_port")


@pytest.mark.parametrize("rip,caller,below", [
    ("__read_once_word_nocheck", "__unwind_start", "__get_wchan"),   # the unwinder faulted
    ("ioread32", "frob_read_status", "frob_show"),
])
def test_page_fault_in_an_access_primitive_is_its_callers(rip: str, caller: str,
                                                          below: str) -> None:
    assert _one(FAULT_X86.format(rip=rip, caller=caller, below=below)) == ("oops", caller)


# The stack depot's WARNING while a sanitizer prints its report's origin/alloc stacks is a
# fault in the reporter, part of that report, not a second bug.
DEPOT_WARN = """\
[ 1307.5] =====================================================
[ 1307.5] BUG: {san}: {what} in frob_sched_in+0x2b6/0xca0
[ 1307.5]  frob_sched_in+0x2b6/0xca0
[ 1307.5]  finish_task_switch+0x72c/0xad0
[ 1307.5]  __schedule+0x182c/0x20a0
[ 1307.5]
[ 1307.5] ------------[ cut here ]------------
[ 1307.5] slab index 52160 out of bounds (604) for stack id 0283cbc0
[ 1307.5] WARNING: CPU: 1 PID: 0 at lib/stackdepot.c:293 stack_depot_fetch+0x2f/0x60
[ 1307.5] Modules linked in:
[ 1307.5] RIP: 0010:stack_depot_fetch+0x2f/0x60
[ 1307.5] Call Trace:
[ 1307.5]  <TASK>
[ 1307.5]  {printer}+0x41/0x2e0
[ 1307.5]  {reporter}+0x1dd/0x2f0
[ 1307.5]  frob_sched_in+0x2b6/0xca0
[ 1307.5]  finish_task_switch+0x72c/0xad0
[ 1307.5]  </TASK>
[ 1307.5] ---[ end trace d0954b51d36472ee ]---
[ 1307.5] Uninit was created at:
[ 1307.5] (stack is not available)
[ 1307.5]
[ 1307.5] =====================================================
"""


@pytest.mark.parametrize("san,what,printer,reporter", [
    ("KMSAN", "uninit-value", "kmsan_print_origin", "kmsan_report"),
    ("KASAN", "use-after-free", "print_report", "kasan_report"),
])
def test_stack_depot_warning_inside_a_sanitizer_report_is_part_of_it(
        san: str, what: str, printer: str, reporter: str) -> None:
    splats = parse_log(DEPOT_WARN.format(san=san, what=what, printer=printer, reporter=reporter))
    assert [(s.kind, s.function) for s in splats] == [(san.lower(), "frob_sched_in")]


# Checksum helpers (lib/crc-itu-t.c, crc7.c, crc-ccitt.c ...) read their caller's buffer, and
# lockdep's RCU-usage check (debug_lockdep_rcu_enabled) is lockdep: a bad access in either is
# the caller's.
KASAN_IN = {
    "x86_64": """\
[ 54.5] ==================================================================
[ 54.5] BUG: KASAN: use-after-free in {helper}+0x1d5/0x2a0
[ 54.5] Read of size 1 at addr ffff8880743a3000 by task frob/4991
[ 54.5] Call Trace:
[ 54.5]  <TASK>
[ 54.5]  dump_stack_lvl+0x1e7/0x2d0
[ 54.5]  print_report+0x163/0x540
[ 54.5]  kasan_report+0x176/0x1b0
[ 54.5]  {helper}+0x1d5/0x2a0
[ 54.5]  frob_sync_fs+0x1d2/0x380
[ 54.5]  sync_filesystem+0x1c8/0x230
[ 54.5]  </TASK>
[ 54.5] ==================================================================
""",
    "arm64": """\
[ 54.5] ==================================================================
[ 54.5] BUG: KASAN: use-after-free in {helper}+0x64/0xa0
[ 54.5] Read of size 1 at addr ffff0000743a3000 by task frob/4991
[ 54.5] Call trace:
[ 54.5]  dump_backtrace+0x0/0x2b0
[ 54.5]  show_stack+0x18/0x28
[ 54.5]  dump_stack_lvl+0x68/0x84
[ 54.5]  print_report+0x10c/0x5f8
[ 54.5]  kasan_report+0xa8/0xf0
[ 54.5]  __asan_load1+0x64/0x80
[ 54.5]  {helper}+0x64/0xa0
[ 54.5]  frob_sync_fs+0x1d2/0x380
[ 54.5]  sync_filesystem+0x1c8/0x230
[ 54.5] ==================================================================
""",
}


@pytest.mark.parametrize("arch", sorted(KASAN_IN))
@pytest.mark.parametrize("helper", ["crc_itu_t", "crc7_be", "crc_ccitt",
                                    "debug_lockdep_rcu_enabled"])
def test_bad_access_in_a_checksum_or_lockdep_check_is_the_callers(arch: str, helper: str) -> None:
    assert _one(KASAN_IN[arch].format(helper=helper)) == ("kasan", "frob_sync_fs")


# A filesystem's ASSERT() reporter (btrfs' assertfail / btrfs_assertfail) is BUG machinery: the
# failed assertion is its caller's.
ASSERT_BUG = {
    "x86_64": """\
[ 399.8] ------------[ cut here ]------------
[ 399.8] kernel BUG at fs/btrfs/ctree.h:3615!
[ 399.8] invalid opcode: 0000 [#1] PREEMPT SMP KASAN
[ 399.8] CPU: 1 PID: 3629 Comm: umount Not tainted 6.1.0 #0
[ 399.8] RIP: 0010:assertfail.constprop.0+0x27/0x29
[ 399.8] RSP: 0018:ffffc90003a4fc28 EFLAGS: 00010246
[ 399.8] Call Trace:
[ 399.8]  <TASK>
[ 399.8]  frob_close_tree+0x49a/0xcfd
[ 399.8]  generic_shutdown_super+0x158/0x480
[ 399.8]  </TASK>
[ 399.8] ---[ end trace 0000000000000000 ]---
""",
    "arm64": """\
[ 399.8] assertion failed: refs == 0, in fs/btrfs/disk-io.c:4327
[ 399.8] ------------[ cut here ]------------
[ 399.8] kernel BUG at fs/btrfs/messages.c:259!
[ 399.8] Internal error: Oops - BUG: 00000000f2000800 [#1] PREEMPT SMP
[ 399.8] Modules linked in:
[ 399.8] CPU: 1 PID: 3629 Comm: umount Not tainted 6.6.0 #0
[ 399.8] pc : btrfs_assertfail+0x28/0x2c
[ 399.8] lr : btrfs_assertfail+0x28/0x2c
[ 399.8] sp : ffff800086b2fb60
[ 399.8] Call trace:
[ 399.8]  btrfs_assertfail+0x28/0x2c
[ 399.8]  frob_close_tree+0x49a/0xcfd
[ 399.8]  generic_shutdown_super+0x158/0x480
[ 399.8] Code: aa0203e3 90007c60 91080000 97ffe0a4 (d4210000)
[ 399.8] ---[ end trace 0000000000000000 ]---
""",
}


@pytest.mark.parametrize("arch", sorted(ASSERT_BUG))
def test_bug_in_an_assertion_reporter_names_the_asserting_caller(arch: str) -> None:
    assert _one(ASSERT_BUG[arch]) == ("bug", "frob_close_tree")


# Old lockdep (3.x) prints the acquisition site as print_ip_sym's "[<addr>] func+off/size",
# padded with more than one space on some builds: the site is still the function.
@pytest.mark.parametrize("addr", ["[<c036a6dc>]     ", "[<ffffffff8136a6dc>]  "])
def test_old_lockdep_site_after_a_padded_address(addr: str) -> None:
    log = f"""\
[ 131.4] ======================================================
[ 131.4] [ INFO: possible circular locking dependency detected ]
[ 131.4] 3.10.37+ #1 Not tainted
[ 131.4] -------------------------------------------------------
[ 131.4] swapper/2/0 is trying to acquire lock:
[ 131.4]  (&port_lock_key){{-.-...}}, at: {addr}frob_console_write+0x108/0x134
[ 131.4]
"""
    assert _one(log) == ("lockdep", "frob_console_write")


# 32-bit arm's __show_regs describes each register's pointee ("Register r0 information: slab
# kmalloc-512 ...", arch/arm/kernel/process.c, 5.12+; the format exists on arm only): part of the
# Oops, so the backtrace after it is still read.
def test_arm_register_information_lines_do_not_end_the_oops() -> None:
    log = """\
[ 794.1] 8<--- cut here ---
[ 794.1] Unable to handle kernel NULL pointer dereference at virtual address 00000000
[ 794.1] [00000000] *pgd=85387003, *pmd=fe74e003
[ 794.1] Internal error: Oops: 80000207 [#1] PREEMPT SMP ARM
[ 794.1] Modules linked in:
[ 794.1] CPU: 1 PID: 8604 Comm: frob Not tainted 6.0.0 #0
[ 794.1] Hardware name: ARM-Versatile Express
[ 794.1] PC is at 0x0
[ 794.1] LR is at frob_receive_buf+0xc0/0x15c
[ 794.1] pc : [<00000000>]    lr : [<808eaab4>]    psr: 60000013
[ 794.1] sp : dfa2de28  ip : 826efeb0  fp : dfa2de6c
[ 794.1] Flags: nZCv  IRQs on  FIQs on  Mode SVC_32  ISA ARM  Segment none
[ 794.1] Control: 30c5387d  Table: 8502cb40  DAC: 00000000
[ 794.1] Register r0 information: slab kmalloc-512 start 84e11000 pointer offset 0 size 512
[ 794.1] Register r1 information: NULL pointer
[ 794.1] Register r2 information: non-slab/vmalloc memory
[ 794.1] Process frob (pid: 8604, stack limit = 0xdfa2c000)
[ 794.1] Stack: (0xdfa2de28 to 0xdfa2e000)
[ 794.1] de20:                   8067b314 0b6d83e6 84e00c00 84e00c18 81de5bc0 84e00c00
[ 794.1] Backtrace:
[ 794.1] [<808ea9f4>] (frob_receive_buf) from [<808dcfac>] (tty_ioctl+0x7b4/0xa6c)
[ 794.1] [<808dc7f8>] (tty_ioctl) from [<804b9814>] (sys_ioctl+0x110/0xa74)
[ 794.1] [<804b9704>] (sys_ioctl) from [<80200060>] (ret_fast_syscall+0x0/0x1c)
[ 794.1] Code: bad PC value
[ 794.2] ---[ end trace 0000000000000000 ]---
"""
    assert _one(log) == ("oops", "frob_receive_buf")


# mempolicy's page-allocation entry points are the page allocator's API: a WARNING in the
# allocator under them is the request of the code that called it.
@pytest.mark.parametrize("entry", ["alloc_page_interleave", "vma_alloc_folio"])
@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_allocator_warning_under_mempolicy_entry_points(entry: str, arch: str) -> None:
    rip = ("RIP: 0010:__alloc_pages+0x45d/0x500\nCall Trace:\n" if arch == "x86_64" else
           "pc : __alloc_pages+0x45d/0x500\nlr : __alloc_pages+0x40/0x500\nCall trace:\n"
           " __alloc_pages+0x45d/0x500\n")
    log = ("------------[ cut here ]------------\n"
           "WARNING: CPU: 0 PID: 31656 at mm/page_alloc.c:5214 __alloc_pages+0x45d/0x500\n"
           "Modules linked in:\n" + rip +
           f" {entry}+0x1e/0x200\n"
           " alloc_pages+0x238/0x2a0\n"
           " __kmalloc_large_node+0x34/0xf0\n"
           " frob_cipso_add+0x5a9/0x23e0\n"
           " genl_family_rcv_msg_doit+0x228/0x320\n"
           "---[ end trace 0000000000000000 ]---\n")
    assert _one(log) == ("warning", "frob_cipso_add")


# "Fatal exception" is the Oops it ends only when that Oops is in the capture; the panic line
# alone (the capture began after the Oops scrolled away) is a bare panic.
@pytest.mark.parametrize("reason", ["Fatal exception in interrupt",        # x86_64's oops_end
                                    "Oops: Fatal exception"])              # arm64's die()
def test_fatal_exception_without_its_oops_is_a_panic(reason: str) -> None:
    alone = (f"[ 616.3] Kernel panic - not syncing: {reason}\n"
             "[ 616.4] Rebooting in 86400 seconds..\n")
    assert _one(alone) == ("panic", None)
    after = ("[ 616.2] Code: f9400260 b4000100 f9400a61 aa1303e0 (f9400c21)\n"
             "[ 616.2] ---[ end trace 0000000000000000 ]---\n" + alone)
    assert _one(after) == ("oops", None)
