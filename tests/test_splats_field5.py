"""Rules found by the fifth field measurement (issue #19, a fit batch of syzkaller's public
report test data, measured against a held-out batch): more infrastructure layers (USB URB
plumbing, driver-core and bus teardown, klist, workqueue cancel and flush, the page cache's
lookup and truncation, the page allocator, iov_iter copy helpers, printk's hex formatting,
physical-address checks, the dentry refcount check, sk_buff bounds checks for a BUG), and which
part of a report names the culprit (a held lock's site for "held lock freed", the lock already
held when lockdep sees a workqueue pseudo-lock, a stalled CPU's own warning inside its stack,
irq-flag debugging that is not lockdep).

Every log here is written for the test from the kernel's print formats (lib/bug.c,
kernel/panic.c, mm/kasan/report.c, kernel/locking/lockdep.c, kernel/locking/irqflag-debug.c,
kernel/hung_task.c, kernel/rcu/tree_stall.h, lib/nmi_backtrace.c, net/core/skbuff.c,
arch/x86/kernel/dumpstack.c, arch/arm64/kernel/stacktrace.c); function names are kernel
functions or invented ones (demo_*), numbers are made up.
"""

from __future__ import annotations

import pytest

from harness.splats.parse import parse_log
from tests.conftest import call_trace as _trace
from tests.conftest import console_lines as _lines
from tests.conftest import frame_lines
from tests.conftest import kind_and_function as _one


def _title(text: str) -> str:
    return parse_log(text)[0].title


def _kasan(arch: str, func: str, *names: str) -> str:
    return _lines("==================================================================",
                  f"BUG: KASAN: slab-use-after-free in {func}+0x2c4/0x340",
                  "Read of size 8 at addr ffff888012345678 by task demo/1234", "",
                  "CPU: 1 PID: 1234 Comm: demo Not tainted 6.8.0 #1",
                  *_trace(arch, "dump_stack_lvl", "print_report", "kasan_report", func, *names),
                  "==================================================================")


def _warn(arch: str, where: str, func: str, *names: str) -> str:
    rip = "pc : " if arch == "arm64" else "RIP: 0010:"
    return _lines("------------[ cut here ]------------",
                  f"WARNING: CPU: 0 PID: 321 at {where} {func}+0x1a4/0x2d0",
                  "Modules linked in:", "CPU: 0 PID: 321 Comm: demo Not tainted 6.8.0 #1",
                  f"{rip}{func}+0x1a4/0x2d0", *_trace(arch, *names),
                  "---[ end trace 0000000000000000 ]---")


ARCHES = pytest.mark.parametrize("arch", ["x86_64", "arm64"])


@ARCHES
def test_usb_urb_teardown_is_the_drivers_call(arch: str) -> None:
    log = _kasan(arch, "usb_kill_anchored_urbs", "demo_usb_disconnect", "usb_unbind_interface",
                 "device_release_driver_internal", "bus_remove_device", "device_del")
    assert _one(log) == ("kasan", "demo_usb_disconnect")
    assert _title(log) == "KASAN: slab-use-after-free Read in demo_usb_disconnect"


@ARCHES
def test_driver_core_teardown_is_the_drivers_call(arch: str) -> None:
    log = _warn(arch, "drivers/base/power/sysfs.c:819", "dpm_sysfs_remove", "dpm_sysfs_remove",
                "device_del", "device_unregister", "i2c_del_adapter", "demo_i2c_core_done",
                "demo_disconnect")
    assert _one(log) == ("warning", "demo_i2c_core_done")


def test_klist_walk_is_the_callers_lookup() -> None:
    log = _lines("general protection fault, probably for non-canonical address "
                 "0xdffffc0000000003: 0000 [#1] PREEMPT SMP KASAN",
                 "CPU: 0 PID: 77 Comm: demo Not tainted 6.8.0 #1",
                 "RIP: 0010:klist_next+0x4a/0x3f0",
                 *_trace("x86_64", "device_find_child", "demo_get_port", "demo_probe"),
                 "---[ end trace 0000000000000000 ]---")
    assert _one(log) == ("oops", "device_find_child")


def test_cancelling_work_is_the_callers_teardown() -> None:
    log = _lines("general protection fault, probably for non-canonical address "
                 "0xdffffc0000000001: 0000 [#1] PREEMPT SMP KASAN",
                 "CPU: 1 PID: 88 Comm: demo Not tainted 6.8.0 #1",
                 "RIP: 0010:__cancel_work_timer+0x8e/0x540",
                 *_trace("x86_64", "cancel_work_sync", "demo_close", "input_close_device",
                         "evdev_release", "__fput"),
                 "---[ end trace 0000000000000000 ]---")
    assert _one(log) == ("oops", "demo_close")


@ARCHES
def test_page_cache_lookup_and_truncation_are_the_filesystems_call(arch: str) -> None:
    log = _kasan(arch, "find_lock_entries", "truncate_inode_pages_range", "demo_evict_inode",
                 "evict", "iput")
    assert _one(log) == ("kasan", "demo_evict_inode")


def test_hung_task_reading_a_page_cache_folio_is_named_as_the_field_does() -> None:
    # syzkaller skips do_read_cache_folio but names its exported wrapper read_cache_folio
    log = _lines("INFO: task demo:5612 blocked for more than 143 seconds.",
                 "      Not tainted 6.8.0 #1",
                 '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.',
                 "task:demo            state:D stack:0     pid:5612  tgid:5612  ppid:1",
                 *_trace("arm64", "__switch_to", "__schedule", "schedule", "io_schedule",
                         "folio_wait_bit_common", "do_read_cache_folio", "read_cache_folio",
                         "demo_read_sector", "demo_check_partition", "bdev_disk_changed"))
    assert _one(log) == ("hung_task", "read_cache_folio")


@ARCHES
def test_page_allocator_warning_is_the_allocators_caller(arch: str) -> None:
    log = _warn(arch, "mm/page_alloc.c:4545", "__alloc_pages", "__alloc_pages",
                "__kmalloc_large_node", "__kmalloc", "demo_write_syslog", "vfs_write",
                "ksys_write")
    assert _one(log) == ("warning", "demo_write_syslog")
    assert _title(log) == "WARNING in demo_write_syslog"


def test_iov_iter_copy_helpers_are_the_callers_copy() -> None:
    log = _kasan("x86_64", "simple_copy_to_iter", "__skb_datagram_iter", "skb_copy_datagram_iter",
                 "demo_recvmsg", "sock_recvmsg")
    assert _one(log) == ("kasan", "__skb_datagram_iter")


def test_printk_hex_formatting_and_phys_addr_checks_are_the_callers() -> None:
    log = _kasan("x86_64", "hex_string", "vsnprintf", "dev_vprintk_emit", "dev_printk_emit",
                 "_dev_info", "demo_usb_probe", "usb_probe_interface")
    assert _one(log) == ("kasan", "demo_usb_probe")
    log = _lines("------------[ cut here ]------------",
                 "kernel BUG at arch/x86/mm/physaddr.c:28!",
                 "invalid opcode: 0000 [#1] PREEMPT SMP KASAN",
                 "CPU: 0 PID: 99 Comm: demo Not tainted 6.8.0 #1",
                 "RIP: 0010:__phys_addr+0xd3/0x140",
                 *_trace("x86_64", "demo_fs_recovery", "demo_fs_start", "demo_mount"),
                 "---[ end trace 0000000000000000 ]---")
    assert _one(log) == ("bug", "demo_fs_recovery")


def test_dentry_refcount_check_is_the_callers_put() -> None:
    log = _warn("x86_64", "fs/dcache.c:365", "fast_dput", "fast_dput", "dput", "__fput",
                "task_work_run", "exit_to_user_mode_loop")
    assert _one(log) == ("warning", "__fput")


def test_skb_bounds_bug_is_the_callers_push_but_a_warning_keeps_its_helper() -> None:
    log = _lines("skbuff: skb_under_panic: text:ffffffff81234567 len:82 put:24 head:ffff88800a "
                 "data:ffff88800b tail:0x3a end:0xc0 dev:demo0",
                 "------------[ cut here ]------------",
                 "kernel BUG at net/core/skbuff.c:200!",
                 "invalid opcode: 0000 [#1] PREEMPT SMP KASAN",
                 "CPU: 0 PID: 55 Comm: demo Not tainted 6.8.0 #1",
                 "RIP: 0010:skb_panic+0x16c/0x1d0",
                 *_trace("x86_64", "skb_push", "demo_header", "demo_sendmsg", "sock_sendmsg"),
                 "---[ end trace 0000000000000000 ]---")
    assert _one(log) == ("bug", "demo_header")
    assert _title(log) == "kernel BUG in demo_header"
    # a WARN in skb_put itself is titled after it (the field's convention)
    warn = _warn("x86_64", "net/core/skbuff.c:2500", "skb_put", "demo_send_frame",
                 "demo_sock_sendmsg")
    assert _one(warn) == ("warning", "skb_put")


HELD_FREED = (
    "=========================",
    "WARNING: held lock freed!",
    "6.8.0 #1 Not tainted",
    "-------------------------",
    "demo/4242 is freeing memory ffff888012340000-ffff8880123407ff, with a lock still held there!",
    "ffff888012340130 (sk_lock-AF_DEMO){+.+.}-{0:0}, at: demo_release+0x11a/0x3b0",
    "2 locks held by demo/4242:",
    " #0: ffff888011110000 (&sb->s_type->i_mutex_key#11){+.+.}-{4:4}, at: "
    "__sock_release+0x89/0x2a0",
    " #1: ffff888012340130 (sk_lock-AF_DEMO){+.+.}-{0:0}, at: demo_release+0x11a/0x3b0",
    "",
    "stack backtrace:",
    "CPU: 0 PID: 4242 Comm: demo Not tainted 6.8.0 #1",
)


@ARCHES
def test_held_lock_freed_is_named_after_the_lock_holder(arch: str) -> None:
    # the field names the held lock's ", at:" site: the holder let its object go while locked
    log = _lines(*HELD_FREED, *_trace(arch, "dump_stack_lvl", "debug_check_no_locks_freed",
                                      "kfree", "__sk_destruct", "sk_destruct", "__sk_free",
                                      "sk_free", "demo_destroy_socket", "demo_release",
                                      "__sock_release"))
    assert _one(log) == ("lockdep", "demo_release")
    assert _title(log) == "WARNING: held lock freed in demo_release"


def test_workqueue_pseudo_lock_is_named_after_the_lock_already_held() -> None:
    log = _lines("======================================================",
                 "WARNING: possible circular locking dependency detected",
                 "6.8.0 #1 Not tainted",
                 "------------------------------------------------------",
                 "demo/3699 is trying to acquire lock:",
                 "ffff88803d3d5d28 ((wq_completion)demo-wq){+.+.}-{0:0}, at: "
                 "__flush_workqueue+0xe6/0x1520",
                 "",
                 "but task is already holding lock:",
                 "ffff88805ffdce80 (&demo->static_lock){++++}-{4:4}, at: "
                 "demo_set_device+0xfb7/0x1490",
                 "",
                 "which lock already depends on the new lock.",
                 "",
                 "stack backtrace:",
                 "CPU: 0 PID: 3699 Comm: demo Not tainted 6.8.0 #1",
                 *_trace("x86_64", "dump_stack_lvl", "check_noncircular", "__lock_acquire",
                         "lock_acquire", "__flush_workqueue", "demo_peer_remove",
                         "demo_set_device", "genl_rcv_msg"))
    assert _one(log) == ("lockdep", "demo_set_device")
    assert _title(log) == "possible deadlock in demo_set_device"


@ARCHES
def test_irq_flag_debugging_is_a_warning_not_a_locking_bug(arch: str) -> None:
    log = _warn(arch, "kernel/locking/irqflag-debug.c:10", "warn_bogus_irq_restore",
                "demo_wait", "__pv_queued_spin_lock_slowpath", "_raw_spin_lock", "demo_lock")
    assert _one(log) == ("warning", "demo_wait")
    assert _title(log) == "WARNING in demo_wait"


def test_a_stalled_cpus_own_warning_is_not_the_stalls_reporting_path() -> None:
    # The stalled CPU was printing an allocation failure from a timer callback when the NMI
    # came: that dump_stack is the stalled code's, the stall is the timer's.
    log = _lines("rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:",
                 "rcu: \t0-...!: (1 GPs behind) idle=a3e/1/0x4000000000000002 softirq=38/39 fqs=1",
                 "\t(detected by 1, t=10586 jiffies, g=559657, q=0)",
                 "Sending NMI from CPU 1 to CPUs 0:",
                 "NMI backtrace for cpu 0",
                 "CPU: 0 PID: 2854 Comm: demo Not tainted 6.8.0 #1",
                 "RIP: 0010:vsnprintf+0x1a9/0x19a0",
                 "Call Trace:", " <IRQ>",
                 *frame_lines(
                     "snprintf", "console_emit_next_record", "console_unlock", "vprintk_emit",
                     "_printk", "show_trace_log_lvl", "dump_stack_lvl", "warn_alloc",
                     "__alloc_pages_slowpath", "__alloc_pages", "kmem_cache_alloc",
                     "__build_skb", "__netdev_alloc_skb", "demo_send_frame", "demo_announce",
                     "call_timer_fn", "run_timer_softirq", "handle_softirqs", "irq_exit_rcu",
                     "sysvec_apic_timer_interrupt"),
                 " </IRQ>", " <TASK>",
                 *frame_lines(
                     "asm_sysvec_apic_timer_interrupt", "demo_create_blob", "demo_ioctl",
                     "__x64_sys_ioctl", "do_syscall_64", "entry_SYSCALL_64_after_hwframe"),
                 " </TASK>")
    assert _one(log) == ("rcu_stall", "demo_announce")


def test_ipv6_address_without_its_host_route_is_a_bug_message() -> None:
    # net/ipv6/addrconf.c's pr_warn about a broken invariant: a one-line report, titled
    # without the address and device so that every occurrence gets one title
    log = _lines("IPv6: BUG: Address 2001:db8::1 on device demo0 is missing its host route.",
                 "demo0: link becomes ready")
    assert _one(log) == ("bug", None)
    assert _title(log) == "BUG: Address IPV6ADDR on device DEV is missing its host route"
    assert not parse_log(_lines("IPv6: ADDRCONF(NETDEV_CHANGE): demo0: link becomes ready"))
