"""Rules found by the fourth field measurement (issue #19, a fresh batch of syzkaller's public
report test data): more reporting layers (driver-core registration and teardown, the socket lock,
rbtree accessors, inode link-count checks, KASAN's own stack saving, work queueing), the header
of a memory-access report in a generic helper, the stack protector's bare address, stack-end
corruption named by its unit of work, and softirqs run on an interrupt's exit in a soft lockup.

Every log here is written for the test from the kernel's print formats (kernel/panic.c,
kernel/sched/core.c, lib/bug.c, lib/refcount.c, mm/kasan/report.c, kernel/watchdog.c,
arch/x86/mm/fault.c, kernel/locking/lockdep.c); function names are kernel functions or invented
ones (demo_*), numbers are made up.
"""

from __future__ import annotations

from harness.splats.parse import parse_log
from tests.conftest import console_lines as _lines
from tests.conftest import kind_and_function as _one


def test_stack_protector_address_is_the_frame_printed_at_it() -> None:
    # 4.x prints "corrupted in: <address>" (no %pS): the frame with that address is the victim.
    log = _lines("Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: "
                 "ffffffff81a2b3c4",
                 "CPU: 0 PID: 42 Comm: demo Not tainted 4.4.100 #1",
                 "Call Trace:",
                 " [<ffffffff81000100>] dump_stack+0xc1/0x124",
                 " [<ffffffff81000200>] panic+0x19e/0x38d",
                 " [<ffffffff81000300>] __stack_chk_fail+0x22/0x30",
                 " [<ffffffff81a2b3c4>] demo_xmit+0x18ae/0x1a00",
                 " [<ffffffff81a2c000>] demo_sendmsg+0x245/0x490",
                 " [<ffffffff81000400>] entry_SYSCALL_64_fastpath+0x22/0x9e")
    assert _one(log) == ("stack", "demo_xmit")


def test_stack_end_corruption_is_named_by_its_unit_of_work() -> None:
    # The scheduler notices the overwritten canary of whatever ran: the work item (or syscall)
    # that ran it is the one the field names, not the pc it was preempted at.
    stack = ("Call Trace:", " dump_stack+0x1d3/0x2c6", " panic+0x2ad/0x55f",
             " __schedule+0x1ec6/0x1ed0", " preempt_schedule_irq+0x87/0x110",
             " retint_kernel+0x1b/0x2d", "RIP: 0010:demo_copy_page+0x48c/0x1840",
             " demo_fill+0x355/0xdb0", " demo_workfn+0xee9/0x1790",
             " process_one_work+0xc90/0x1c40",
             " worker_thread+0x17f/0x1390", " kthread+0x35a/0x440", " ret_from_fork+0x3a/0x50")
    head = ("Kernel panic - not syncing: corrupted stack end detected inside scheduler",
            "CPU: 1 PID: 7 Comm: kworker/u4:0 Not tainted 4.20.0 #1",
            "Workqueue: demo demo_workfn")
    assert _one(_lines(*head, *stack)) == ("stack", "demo_workfn")
    # a stack cut short by an interleaved message: the "Workqueue:" line still names it
    assert _one(_lines(*head, *stack[:7], "demo-app invoked oom-killer: gfp_mask=0x0, order=0",
                       "Kernel Offset: disabled")) == ("stack", "demo_workfn")


def test_driver_core_registration_and_teardown_are_the_drivers_call() -> None:
    refcount = _lines("------------[ cut here ]------------",
                      "refcount_t: increment on 0; use-after-free.",
                      "WARNING: CPU: 0 PID: 10 at lib/refcount.c:156 "
                      "refcount_inc_checked+0x61/0x70",
                      "RIP: 0010:refcount_inc_checked+0x61/0x70",
                      "Call Trace:", " kobject_get+0x66/0xc0", " kobject_add_internal+0x14f/0x380",
                      " kobject_add+0x150/0x1c0", " get_device_parent.isra.0+0x413/0x560",
                      " device_add+0x2df/0x17a0", " demo_register_dev+0x2e8/0x8f0",
                      " demo_write+0x2d0/0x470", " vfs_write+0x268/0x5d0",
                      "---[ end trace 0000000000000000 ]---")
    assert _one(refcount) == ("refcount", "demo_register_dev")
    gpf = _lines("general protection fault: 0000 [#1] SMP KASAN",
                 "CPU: 0 PID: 12 Comm: kworker/0:1 Not tainted 5.2.0 #1",
                 "RIP: 0010:device_del+0x7a/0xb80", "Call Trace:",
                 " device_unregister+0x11/0x30", " demo_disconnect+0xdf/0x200",
                 " usb_unbind_interface+0x1bd/0x8a0", " process_one_work+0x905/0x1570",
                 "---[ end trace 0000000000000000 ]---")
    assert _one(gpf) == ("oops", "demo_disconnect")


def test_socket_lock_is_a_lock_primitive() -> None:
    log = _lines("WARNING: CPU: 0 PID: 30 at kernel/locking/lockdep.c:735 "
                 "look_up_lock_class+0x179/0x260",
                 "RIP: 0010:look_up_lock_class+0x179/0x260", "Call Trace:",
                 " register_lock_class+0xde/0x1110", " __lock_acquire+0x151/0x1a40",
                 " lock_acquire+0x158/0x250", " _raw_spin_lock_bh+0x34/0x50",
                 " lock_sock_nested+0x45/0x120", " demo_setsockopt+0x2e5/0x3bc0",
                 " __sys_setsockopt+0x1e2/0x250", "---[ end trace 0000000000000000 ]---")
    assert _one(log)[1] == "demo_setsockopt"


def test_rbtree_accessors_and_link_count_checks_are_the_callers() -> None:
    rb = _lines("general protection fault, probably for non-canonical address 0xdffffc000eeeeef0: "
                "0000 [#1] PREEMPT SMP KASAN", "RIP: 0010:rb_first+0x3e/0x80", "Call Trace:",
                " demo_reset+0x18e/0x3d0", " qdisc_reset+0xd9/0x790",
                "---[ end trace 0000000000000000 ]---")
    assert _one(rb) == ("oops", "demo_reset")
    nlink = _lines("------------[ cut here ]------------",
                   "WARNING: CPU: 1 PID: 50 at fs/inode.c:336 drop_nlink+0xc4/0x110",
                   "RIP: 0010:drop_nlink+0xc4/0x110", "Call Trace:", " <TASK>",
                   " demo_rmdir+0x3bc/0x730", " vfs_rmdir+0x3a3/0x510", " do_rmdir+0x3b5/0x580",
                   " </TASK>")
    assert _one(nlink) == ("warning", "demo_rmdir")


def _kasan(func: str, *frames: str) -> str:
    return _lines("==================================================================",
                  f"BUG: KASAN: use-after-free in {func}+0x255/0x4e0",
                  "Read of size 8 at addr ffff88801a663430 by task demo/1", "",
                  "Call Trace:", " <TASK>", " dump_stack_lvl+0x1dc/0x2d8",
                  " print_report+0xf4/0x200", " kasan_report+0x109/0x140",
                  *frames, " </TASK>",
                  "==================================================================")


def test_bad_access_in_a_generic_helper_is_the_callers_object() -> None:
    log = _kasan("__wake_up_common", " __wake_up_common+0x255/0x4e0", " __wake_up+0x115/0x1c0",
                 " demo_release+0x4a9/0xef0", " __fput+0x3f6/0x860")
    assert _one(log) == ("kasan", "demo_release")
    # KASAN saving a stack while a work item queues more work: the work item
    log = _kasan("stack_trace_consume_entry", " stack_trace_consume_entry+0x141/0x160",
                 " arch_stack_walk+0x71/0xf0", " stack_trace_save+0x90/0xc0",
                 " kasan_save_stack+0x22/0x40", " __kasan_record_aux_stack+0x7b/0x90",
                 " insert_work+0x48/0x350", " __queue_work+0x625/0x1120",
                 " __queue_delayed_work+0x1c8/0x270", " queue_delayed_work_on+0x109/0x120",
                 " demo_report_work+0x9d1/0xc80", " process_one_work+0x991/0x15c0")
    assert _one(log) == ("kasan", "demo_report_work")


def test_soft_lockup_in_softirqs_run_on_an_interrupts_exit() -> None:
    # The softirq ran on the exit of the interrupt that was about to preempt the task: it is
    # what spun, not the task below the preemption point.
    log = _lines("watchdog: BUG: soft lockup - CPU#1 stuck for 134s! [demo:16401]",
                 "CPU: 1 PID: 16401 Comm: demo Not tainted 5.10.0 #1",
                 "RIP: 0010:demo_hash+0xe/0x70", "Call Trace:", " <IRQ>",
                 " demo_lookup+0x144/0x3f0", " demo_rx_list+0xdd3/0x23d0",
                 " demo_tasklet_handler+0xd3/0x130",
                 " tasklet_action_common.constprop.0+0x22f/0x2d0",
                 " __do_softirq+0x2a0/0x9f6", " asm_call_irq_on_stack+0xf/0x20", " </IRQ>",
                 " do_softirq_own_stack+0xaa/0xd0", " irq_exit_rcu+0x132/0x200",
                 " sysvec_apic_timer_interrupt+0x4d/0x100",
                 " asm_sysvec_apic_timer_interrupt+0x12/0x20",
                 "RIP: 0010:preempt_schedule_irq+0x49/0x90", " irqentry_exit+0x7a/0xa0",
                 " asm_sysvec_apic_timer_interrupt+0x12/0x20",
                 "RIP: 0010:demo_send_locked+0xbb7/0x2d20", " demo_sendmsg+0x2b/0x40",
                 " __sys_sendto+0x21c/0x320", " __x64_sys_sendto+0xdd/0x1b0",
                 " do_syscall_64+0x2d/0x70", " entry_SYSCALL_64_after_hwframe+0x44/0xa9")
    assert _one(log) == ("soft_lockup", "demo_tasklet_handler")


def test_kmemleak_line_cut_after_its_first_words_is_still_a_leak() -> None:
    log = "[   90.000001] unreferenced object\n[   90.000002]  backtrace:\n"
    assert _one(log)[0] == "memory_leak"
    assert not parse_log("[   90.000001] demo: unreferenced object count is 0\n")


def test_odebug_free_through_vfree_is_the_callers_free() -> None:
    log = _lines("------------[ cut here ]------------",
                 "ODEBUG: free active (active state 0) object type: timer_list hint: "
                 "delayed_work_timer_fn+0x0/0x90",
                 "WARNING: CPU: 1 PID: 60 at lib/debugobjects.c:291 debug_print_object+0x16a/0x220",
                 "RIP: 0010:debug_print_object+0x16a/0x220", "Call Trace:",
                 " debug_check_no_obj_freed+0x65d/0xf1a", " __vunmap+0xde/0x320",
                 " vfree+0x68/0x100", " kvfree+0x4a/0x70", " demo_free_table+0x126/0x180",
                 " demo_set_ctl+0x377/0x644", "---[ end trace 0000000000000000 ]---")
    assert _one(log) == ("warning", "demo_free_table")


def test_user_space_lines_between_printk_lines_do_not_cut_the_stack() -> None:
    # A fuzzer logging its programs to the same serial console: lines without a printk
    # timestamp (and the blank line after them) inside a timestamped report are not the
    # report's, and the stack goes on after them.
    log = ("[  218.530431] BUG: KASAN: global-out-of-bounds in memcmp+0xe3/0x160\n"
           "[  218.536676] Read of size 1 at addr ffffffff88000008 by task demo/8786\n"
           "[  218.536726] Call Trace:\n"
           "[  218.552992]  dump_stack+0x1c4/0x2b4\n"
           "22:45:44 executing program 5:\n"
           "demo_open(&(0x7f0000000200)='/dev/demo\\x00', 0x0, 0x0)\n"
           "\n"
           "[  218.553085]  print_address_description+0x58/0x1ff\n"
           "[  218.587295]  kasan_report+0x242/0x309\n"
           "[  218.595147]  memcmp+0xe3/0x160\n"
           "[  218.610567]  demo_lookup_ns+0xc1/0x570\n"
           "[  218.658223]  demo_write+0x88/0x1e0\n"
           "[  219.155361] ==================================================================\n")
    assert _one(log) == ("kasan", "demo_lookup_ns")


def test_bad_access_in_teardown_helpers_is_the_callers_object() -> None:
    # a sysfs attribute removed through the driver core, a timer deleted through the socket
    # timer helpers, an inode put through iput's lock: the caller handed over a freed object
    log = _kasan("sysfs_remove_file_ns", " sysfs_remove_file_ns+0x5f/0x70",
                 " device_remove_file+0x25/0x30", " demo_release+0x97/0x1c0",
                 " v4l2_release+0x2e7/0x390")
    assert _one(log) == ("kasan", "demo_release")
    log = _kasan("lock_timer_base", " lock_timer_base+0x1d9/0x220",
                 " __try_to_del_timer_sync+0x8d/0x170", " __timer_delete_sync+0xf4/0x1b0",
                 " sk_stop_timer_sync+0x1b/0x80", " demo_del_timer+0x1ae/0x320",
                 " demo_incoming_options+0x1f4d/0x26a0")
    assert _one(log) == ("kasan", "demo_del_timer")
    log = _kasan("lock_acquire", " lock_acquire+0x1c3/0x3c0", " _raw_spin_lock+0x2a/0x40",
                 " _atomic_dec_and_lock+0x9d/0x110", " iput+0x3ee/0x760",
                 " demo_fill_super+0x2352/0x42a0", " get_tree_bdev+0x400/0x620")
    assert _one(log) == ("kasan", "demo_fill_super")
