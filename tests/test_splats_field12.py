"""Rules found by measuring the splat reader on syzkaller's report test data again (issue #19,
2026-12-08; the data is not in this repository).

Every log here is written for the test from the kernel's print formats (lib/bug.c's 7.x
`WARNING: [cond] file:line at f, CPU#n: comm/pid`, kernel/hung_task.c, net/core/dev.c's
unregister_netdevice wait, kernel/rcu/tree_stall.h, arch/x86/mm/fault.c, kernel/locking/lockdep.c's
irq-safe -> unsafe report, mm/kasan/report.c, lib/debugobjects.c); the function names are kernel
functions or invented ones (`frob_*`).
"""

from __future__ import annotations

import pytest

from harness.splats.parse import parse_log
from tests.conftest import call_trace, console_lines, frame_lines
from tests.conftest import kind_function_title as _one


@pytest.mark.parametrize("cond", ["time_after(jiffies, timeout)", "arr[i] != NULL", "!frob->ready"])
def test_a_warning_that_prints_its_condition(cond: str) -> None:
    # 7.x WARN_ON() prints the condition in brackets before file:line (riscv here: epc/ra)
    log = console_lines(
        "------------[ cut here ]------------",
        f"WARNING: [{cond}] fs/frob/frob.c:3026 at frob_exit_work+0x44c/0xbc0, CPU#0: "
        "kworker/u8:0/10040",
        "Modules linked in:",
        "CPU: 0 UID: 0 PID: 10040 Comm: kworker/u8:0 Not tainted 7.1.0 #1 PREEMPT",
        "Hardware name: riscv-virtio,qemu (DT)",
        "Workqueue: frob_exit frob_exit_work",
        "epc : frob_exit_work+0x44c/0xbc0",
        " ra : frob_exit_work+0x44c/0xbc0",
        "[<ffffffff80014264>] frob_exit_work+0x44c/0xbc0",
        "[<ffffffff801c2668>] process_one_work+0x930/0x1e14",
        "[<ffffffff801c408c>] worker_thread+0x540/0xcbc",
        "[<ffffffff801e3054>] kthread+0x37c/0x778",
        "---[ end trace 0000000000000000 ]---")
    assert _one(log) == ("warning", "frob_exit_work", "WARNING in frob_exit_work")


def test_a_one_line_report_between_two_frames_leaves_the_stack_open() -> None:
    # another task's unregister_netdevice wait printed in the middle of a hung task's stack
    log = console_lines(
        "INFO: task frobd:6102 blocked for more than 120 seconds.",
        "      Not tainted 4.4.96 #180",
        '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.',
        "frobd           D ffff8800b901f990     0  6102   1942 0x00000004",
        "Call Trace:",
        " [<ffffffff829f5a8c>] schedule+0x9c/0x1b0",
        "unregister_netdevice: waiting for lo to become free. Usage count = 6",
        " [<ffffffff829f6315>] schedule_preempt_disabled+0x15/0x20",
        " [<ffffffff829fb0c0>] mutex_lock_nested+0x3b0/0x1130",
        " [<ffffffff8223552c>] frob_copy_ns+0xcc/0x220",
        " [<ffffffff81229c28>] frob_create_ns+0x108/0x120",
        " [<ffffffff81229d28>] SyS_unshare+0x108/0x120")
    splats = parse_log(log)
    assert [(s.kind, s.function) for s in splats] == [("hung_task", "frob_copy_ns"),
                                                      ("refcount", None)]
    assert splats[1].title == "unregister_netdevice: waiting for DEV to become free"
    assert splats[0].end_line == 12 and splats[1].line == splats[1].end_line == 7


def test_a_warning_in_the_stalls_own_dump_is_the_stall() -> None:
    # the stall reporter's tick WARNs while dumping the blocked tasks: the interrupted stack
    # below it is the stall's (here a wait for other CPUs' calls, one bucket)
    log = console_lines(
        "rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:",
        "rcu: \tTasks blocked on level-0 rcu_node (CPUs 0-1):",
        "------------[ cut here ]------------",
        "IRQs not enabled as expected",
        "WARNING: CPU: 1 PID: 4737 at kernel/sched/core.c:2698 "
        "try_invoke_on_locked_down_task+0x18b/0x320",
        "CPU: 1 PID: 4737 Comm: frobd Not tainted 5.8.0 #0",
        "Call Trace:", " <IRQ>",
        *frame_lines(
            "dump_stack", "__warn", "report_bug", "handle_bug", "exc_invalid_op",
            "asm_exc_invalid_op"),
        "RIP: 0010:try_invoke_on_locked_down_task+0x18b/0x320",
        *frame_lines(
            "rcu_sched_clock_irq", "update_process_times", "tick_sched_timer",
            "__hrtimer_run_queues", "hrtimer_interrupt", "__sysvec_apic_timer_interrupt",
            "sysvec_apic_timer_interrupt"),
        " </IRQ>",
        " asm_sysvec_apic_timer_interrupt+0x12/0x20",
        "RIP: 0010:smp_call_function_single+0x311/0x450",
        *frame_lines(
            "on_each_cpu", "frob_clock_was_set", "frob_adjtime", "__x64_sys_clock_adjtime",
            "do_syscall_64", "entry_SYSCALL_64_after_hwframe"))
    assert _one(log) == ("rcu_stall", "smp_call_function",
                         "INFO: rcu detected stall in smp_call_function")
    assert len(parse_log(log)) == 1


def test_a_jump_to_garbage_from_the_workqueue_names_the_work_runner() -> None:
    # a work item whose function pointer is garbage: nothing but infrastructure called it
    log = console_lines(
        "BUG: unable to handle kernel NULL pointer dereference at 0000000000000286",
        "IP: 0x286",
        "PGD 1d8d6a067 P4D 1d8d6a067 PUD 1d925e067 PMD 0",
        "Oops: 0010 [#1] SMP KASAN",
        "CPU: 1 PID: 3289 Comm: kworker/u4:7 Not tainted 4.13.0 #5",
        "Workqueue: frob frob_work",
        "RIP: 0010:0x286",
        "RSP: 0018:ffff8801ca577540 EFLAGS: 00010246",
        "Call Trace:",
        " process_one_work+0xbf3/0x1bc0",
        " worker_thread+0x223/0x1860",
        " kthread+0x35e/0x430",
        " ret_from_fork+0x2a/0x40",
        "Code:  Bad RIP value.",
        "---[ end trace 05ef833e13705a0a ]---")
    kind, func, _title = _one(log)
    assert (kind, func) == ("oops", "process_one_work")


def _safe_unsafe(became: tuple[str, ...]) -> str:
    return console_lines(
        "=====================================================",
        "WARNING: HARDIRQ-safe -> HARDIRQ-unsafe lock order detected",
        "5.10.0 #20 Not tainted",
        "-----------------------------------------------------",
        "frobd/5097 [HC0[0]:SC0[0]:HE0:SE1] is trying to acquire:",
        "ff76a014 (&frob->seq){+.+.}-{0:0}, at: frob_flush_locked+0x418/0x608",
        "",
        "and this task is already holding:",
        "ff76a018 (frob_cpu_lock){-...}-{2:2}, at: frob_flush+0x40/0x80",
        "which would create a new lock dependency:",
        " (frob_cpu_lock){-...}-{2:2} -> (&frob->seq){+.+.}-{0:0}",
        "",
        "but this new dependency connects a HARDIRQ-irq-safe lock:",
        " (frob_cpu_lock){-...}-{2:2}",
        "",
        "... which became HARDIRQ-irq-safe at:",
        *became,
        "",
        "to a HARDIRQ-irq-unsafe lock:",
        " (&frob->seq){+.+.}-{0:0}",
        "",
        "... which became HARDIRQ-irq-unsafe at:",
        "...",
        "  lock_acquire+0x6c/0x74",
        "  frob_flush_locked+0x418/0x608",
        "",
        "stack backtrace:",
        "CPU: 0 PID: 5097 Comm: frobd Not tainted 5.10.0 #20",
        "Call trace:",
        *frame_lines(
            "dump_backtrace", "show_stack", "dump_stack", "check_irq_usage", "__lock_acquire",
            "lock_acquire", "frob_flush_locked", "frob_flush", "frob_work"))


@pytest.mark.parametrize(("became", "culprit"), [
    (("  lock_acquire.part.0+0xe4/0x4b0", "  lock_acquire+0x6c/0x74",
      "  _raw_spin_lock_irqsave+0x54/0x70", "  frob_account_irq+0x54/0xac",
      "  frob_tick+0x40/0x74"), "frob_account_irq"),
    ((), "frob_flush_locked"),           # (no "became" stack printed: the acquisition site)
])
def test_irq_safe_to_unsafe_is_named_where_the_safe_lock_is_taken_in_irq(
        became: tuple[str, ...], culprit: str) -> None:
    assert _one(_safe_unsafe(became)) == ("lockdep", culprit, f"possible deadlock in {culprit}")


@pytest.mark.parametrize("chatter", [5, 12, 25, 50])
def test_a_sanitizer_report_reads_past_other_tasks_chatter(chatter: int) -> None:
    noise = tuple(f"frobnet: {i}:{i + 1} transaction failed 29189/-3, size 0-0 line 3127"
                  for i in range(chatter))
    log = console_lines(
        "==================================================================",
        "BUG: KASAN: use-after-free in __list_del_entry+0x196/0x1d0",
        *noise,
        "Read of size 8 at addr ffff8801ce6e8e10 by task kworker/1:2/2403",
        *noise,
        "CPU: 1 PID: 2403 Comm: kworker/1:2 Not tainted 4.9.86 #50",
        *noise,
        *call_trace("x86_64", "dump_stack", "print_address_description", "kasan_report",
                    "__asan_report_load8_noabort", "__list_del_entry", "frob_release_work",
                    "frob_deferred_func", "process_one_work", "worker_thread", "kthread"),
        "==================================================================")
    assert _one(log)[:2] == ("kasan", "frob_release_work")


def test_a_warning_reads_past_chatter_before_its_stack() -> None:
    noise = tuple(f"kobject: 'frob{i}' (ffff8800bb7592b0): kobject_cleanup, parent (null)"
                  for i in range(20))
    log = console_lines(
        "------------[ cut here ]------------",
        "WARNING: CPU: 0 PID: 2484 at lib/debugobjects.c:260 debug_print_object+0x181/0x210",
        "ODEBUG: init active (active state 0) object type: timer_list hint: (null)",
        "Kernel panic - not syncing: panic_on_warn set ...",
        "CPU: 0 PID: 2484 Comm: frobd Not tainted 4.4.194 #0",
        *noise,
        *call_trace("x86_64", "dump_stack", "panic", "__warn", "warn_slowpath_fmt",
                    "debug_print_object", "__debug_object_init", "init_timer_key",
                    "frob_init_queue", "frob_register_disk", "frob_probe"))
    assert _one(log) == ("warning", "frob_init_queue", "WARNING: ODEBUG bug in frob_init_queue")


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_a_fault_in_an_rbtree_helper_is_its_callers_even_in_the_scheduler(arch: str) -> None:
    # kernel/sched is infrastructure for hung tasks and stalls, but a fault in the rbtree walk
    # it asked for is its own bug
    pc = ("RIP: 0010:rb_erase_cached+0x7e2/0x3590" if arch == "x86_64"
          else "pc : rb_erase_cached+0x7e2/0x3590")
    log = console_lines(
        "general protection fault: 0000 [#1] PREEMPT SMP KASAN" if arch == "x86_64" else
        "Unable to handle kernel paging request at virtual address dead000000000108",
        *(() if arch == "x86_64" else ("Internal error: Oops: 0000000096000044 [#1] PREEMPT SMP",)),
        "CPU: 1 PID: 4242 Comm: frobd Not tainted 6.1.0 #1",
        pc,
        *call_trace(arch, "set_next_entity", "pick_next_task_fair", "__schedule", "schedule",
                    "do_nanosleep", "hrtimer_nanosleep", "__x64_sys_nanosleep"))
    assert _one(log)[:2] == ("oops", "set_next_entity")


def test_two_records_glued_on_one_console_line_keep_the_first() -> None:
    # another CPU's record began before this one ended its line: the header before it counts
    log = ("[   92.396607] general protection fault: 0000 [#1] [  387.811073] audit: type=1326 "
           "audit(1486238739.637:135): auid=4294967295 uid=0 gid=0\n"
           "[   92.396700] CPU: 0 PID: 4242 Comm: frobd Not tainted 4.10.0 #1\n"
           "[   92.396800] RIP: 0010:frob_walk+0x2a/0x90\n"
           "[   92.396900] Call Trace:\n"
           "[   92.397000]  frob_ioctl+0x20/0x40\n")
    splats = parse_log(log)
    assert [(s.kind, s.function, s.line) for s in splats] == [("oops", "frob_walk", 1)]


def test_completing_an_uninitialised_completion_is_the_completers_bug() -> None:
    # complete() is a wake-up like __wake_up: the completion's owner passed it in
    log = console_lines(
        "INFO: trying to register non-static key.",
        "The code is fine but needs lockdep annotation, or maybe",
        "you didn't initialize this object before use?",
        "turning off the locking correctness validator.",
        "CPU: 0 PID: 0 Comm: swapper/0 Not tainted 5.8.0 #1",
        "Call Trace:", " <IRQ>",
        *frame_lines(
            "dump_stack", "register_lock_class", "__lock_acquire", "lock_acquire",
            "_raw_spin_lock_irqsave", "complete", "frob_htc_rx_msg", "frob_usb_reg_in_cb",
            "__usb_hcd_giveback_urb", "usb_hcd_giveback_urb", "call_timer_fn",
            "run_timer_softirq", "__do_softirq"),
        " </IRQ>")
    assert _one(log) == ("lockdep", "frob_htc_rx_msg",
                         "INFO: trying to register non-static key in frob_htc_rx_msg")


def test_a_stack_announced_but_not_begun_reads_past_chatter() -> None:
    # "Call Trace:" printed, then other tasks' messages before the first frame
    noise = tuple(f"frobctp: [Deprecated]: frobd (pid {2200 + i}) Use of int in max_burst "
                  "socket option deprecated." for i in range(6))
    log = console_lines(
        "kernel BUG at ./include/linux/skbuff.h:2069!",
        "invalid opcode: 0000 [#1] SMP KASAN",
        "CPU: 1 PID: 22157 Comm: frobd Not tainted 4.14.0 #129",
        "RIP: 0010:skb_pull+0xd5/0xf0",
        "Call Trace:",
        *noise,
        " frob6_gro_receive+0xb4/0xbe0",
        " SyS_writev+0x27/0x30")
    assert _one(log)[:2] == ("bug", "frob6_gro_receive")


def test_a_stall_caught_while_the_tick_prints_is_the_interrupted_code() -> None:
    # 4.x: "self-detected" then "detected stalls" (one report); the NMI finds the CPU in the
    # serial console printing from the timer interrupt; below </IRQ> the interrupted code's pc
    log = console_lines(
        "INFO: rcu_sched self-detected stall on CPU",
        "INFO: rcu_sched detected stalls on CPUs/tasks:",
        "\t1-...: (65000 ticks this GP) idle=395/140000000000001/0 softirq=122875/122875 fqs=16248",
        "\t(detected by 0, t=65002 jiffies, g=72940, c=72939, q=1777)",
        "Sending NMI from CPU 0 to CPUs 1:",
        "NMI backtrace for cpu 1",
        "CPU: 1 PID: 12579 Comm: frobd Not tainted 4.11.0 #71",
        "RIP: 0010:io_serial_in+0x6b/0x90",
        "RSP: 0018:ffff8801dbf066a0 EFLAGS: 00000002",
        "Call Trace:", " <IRQ>",
        *frame_lines(
            "wait_for_xmitr", "serial8250_console_putchar", "uart_console_write",
            "serial8250_console_write", "hrtimer_interrupt", "local_apic_timer_interrupt",
            "smp_apic_timer_interrupt", "apic_timer_interrupt"),
        "RIP: 0010:debug_lockdep_rcu_enabled.part.19+0xf/0x60",
        "RSP: 0018:ffff8801cd596778 EFLAGS: 00000202 ORIG_RAX: ffffffffffffff10",
        " </IRQ>",
        " debug_lockdep_rcu_enabled+0x77/0x90",
        " frob_write_space+0x5b6/0x920",
        " ? frob_transport_lookup+0x190/0x190")
    splats = parse_log(log)
    assert [(s.kind, s.function) for s in splats] == [("rcu_stall", "frob_write_space")]


def test_a_workqueue_deadlock_held_by_the_worker_is_named_after_the_flusher() -> None:
    # both sites are the worker's: the chain's first entry says who flushed the queue
    log = console_lines(
        "======================================================",
        "WARNING: possible circular locking dependency detected",
        "5.6.0 #1 Not tainted",
        "------------------------------------------------------",
        "kworker/u8:2/43 is trying to acquire lock:",
        "ffffc9000027fdf0 ((work_completion)(&peer->tx_work)){+.+.}, at: "
        "process_one_work+0x8c0/0x17b0",
        "",
        "but task is already holding lock:",
        "ffff8880649b0d28 ((wq_completion)frob-kex#8){+.+.}, at: process_one_work+0x88b/0x17b0",
        "",
        "which lock already depends on the new lock.",
        "",
        "the existing dependency chain (in reverse order) is:",
        "",
        "-> #2 ((wq_completion)frob-kex#8){+.+.}:",
        "       flush_workqueue+0x115/0x1520",
        "       frob_peer_remove_after_dead+0x16a/0x230",
        "       frob_peer_remove+0x23f/0x340",
        "",
        "-> #1 (&frob->static_identity.lock){++++}:",
        "       down_read+0x95/0x430",
        "       frob_handshake_create+0xca/0x680",
        "       process_one_work+0x9b5/0x17b0",
        "",
        "-> #0 ((work_completion)(&peer->tx_work)){+.+.}:",
        "       __lock_acquire+0x2899/0x4ef0",
        "       lock_acquire+0x194/0x410",
        "       process_one_work+0x91b/0x17b0",
        "",
        "stack backtrace:",
        "CPU: 1 PID: 43 Comm: kworker/u8:2 Not tainted 5.6.0 #1",
        *call_trace("x86_64", "dump_stack", "check_noncircular", "__lock_acquire", "lock_acquire",
                    "process_one_work", "worker_thread", "kthread", "ret_from_fork"))
    assert _one(log) == ("lockdep", "frob_peer_remove_after_dead",
                         "possible deadlock in frob_peer_remove_after_dead")
