"""Stalls are named after their unit of work (issue #19): the function the innermost syscall,
softirq, timer or work dispatcher on the stalled CPU's stack called, not wherever the tick
found the CPU. Logs written here from kernel/rcu/tree_stall.h and kernel/watchdog.c formats."""

from __future__ import annotations

from harness.splats.parse import parse_log

SOFT = """\
watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [repro:{pid}]
Modules linked in:
CPU: 1 PID: {pid} Comm: repro Not tainted 6.8.0 #1
RIP: 0010:{rip}+0x1c/0x40
Call Trace:
 <IRQ>
 ? watchdog_timer_fn+0x1e5/0x250
 ? __hrtimer_run_queues+0x10f/0x2a0
 ? hrtimer_interrupt+0xf8/0x230
 ? __sysvec_apic_timer_interrupt+0x4c/0x110
 ? sysvec_apic_timer_interrupt+0x69/0x90
 </IRQ>
 <TASK>
 ? asm_sysvec_apic_timer_interrupt+0x1a/0x20
{frames}
 </TASK>
"""

RCU = """\
rcu: INFO: rcu_preempt self-detected stall on CPU
rcu: \t0-....: (21000 ticks this GP) idle=8a4c/1/0x4000000000000000 softirq=901/901 fqs=5250
rcu: \t(t=21002 jiffies g=1617 q=311 ncpus=2)
CPU: 0 PID: 77 Comm: repro Not tainted 6.8.0 #1
RIP: 0010:{rip}+0x1c/0x40
Call Trace:
 <IRQ>
 ? rcu_dump_cpu_stacks+0xe1/0x150
 ? rcu_sched_clock_irq+0x5a2/0x1230
 ? update_process_times+0x7a/0xb0
 ? tick_nohz_handler+0x8f/0x140
 ? __hrtimer_run_queues+0x10f/0x2a0
 ? hrtimer_interrupt+0xf8/0x230
 ? __sysvec_apic_timer_interrupt+0x4c/0x110
 ? sysvec_apic_timer_interrupt+0x69/0x90
 </IRQ>
 <TASK>
 ? asm_sysvec_apic_timer_interrupt+0x1a/0x20
{frames}
 </TASK>
"""


def _frames(*names: str) -> str:
    return "\n".join(f" {n}+0x{16 * (i + 1):x}/0x200" for i, n in enumerate(names))


def _one(text: str) -> tuple[str, str | None, str]:
    [splat] = parse_log(text)
    return splat.kind, splat.function, splat.title


SYSCALL = ("foo_step", "foo_scan", "foo_ioctl_scan", "foo_ioctl", "__x64_sys_ioctl",
           "do_syscall_64", "entry_SYSCALL_64_after_hwframe")


def test_syscall_stall_is_named_after_the_operation_the_ioctl_dispatched() -> None:
    assert _one(SOFT.format(pid=90, rip="foo_check", frames=_frames(*SYSCALL))) == (
        "soft_lockup", "foo_ioctl", "BUG: soft lockup in foo_ioctl")


def test_the_same_loop_interrupted_at_two_depths_gets_one_title() -> None:
    deep = _one(SOFT.format(pid=90, rip="foo_check", frames=_frames(*SYSCALL)))
    shallow = _one(SOFT.format(pid=91, rip="foo_scan", frames=_frames(*SYSCALL[2:])))
    assert deep == shallow


def test_softirq_stall_names_the_napi_poll_function() -> None:
    frames = _frames("bar_clean_rx", "bar_poll", "__napi_poll", "net_rx_action", "handle_softirqs",
                     "irq_exit_rcu", "sysvec_call_function_single",
                     "asm_sysvec_call_function_single",
                     "default_idle", "default_idle_call", "do_idle", "cpu_startup_entry")
    assert _one(RCU.format(rip="bar_desc_done", frames=frames))[1] == "bar_poll"


def test_workqueue_stall_names_the_work_function() -> None:
    frames = _frames("baz_walk", "baz_refresh_work", "process_one_work", "worker_thread",
                     "kthread", "ret_from_fork", "ret_from_fork_asm")
    assert _one(RCU.format(rip="baz_next", frames=frames)) == (
        "rcu_stall", "baz_refresh_work", "INFO: rcu detected stall in baz_refresh_work")


def test_a_kernel_threads_own_loop_keeps_the_interrupted_function() -> None:
    frames = _frames("qux_scan_one", "qux_daemon", "kthread", "ret_from_fork", "ret_from_fork_asm")
    assert _one(SOFT.format(pid=92, rip="qux_cmp", frames=frames))[1] == "qux_cmp"


def test_waiting_on_a_cross_cpu_call_is_one_bucket() -> None:
    frames = _frames("smp_call_function_many_cond", "on_each_cpu_cond_mask", "flush_tlb_mm_range",
                     "dup_mmap", "copy_process", "kernel_clone", "__do_sys_clone",
                     "do_syscall_64", "entry_SYSCALL_64_after_hwframe")
    assert _one(SOFT.format(pid=93, rip="csd_lock_wait", frames=frames))[1] == "smp_call_function"


def test_thp_code_spinning_keeps_its_name_under_a_syscall() -> None:
    """The code kharness tests (khugepaged, collapse, migration) is named even below a syscall:
    exit_group spinning on the khugepaged mm list is a khugepaged bug, not an exit bug."""
    log = SOFT.format(pid=812, rip="queued_spin_lock_slowpath", frames=_frames(
        "_raw_spin_lock", "__khugepaged_exit", "mmput", "do_exit", "do_group_exit",
        "__x64_sys_exit_group", "do_syscall_64", "entry_SYSCALL_64_after_hwframe"))
    kind, function, title = _one(log)
    assert (kind, function) == ("soft_lockup", "__khugepaged_exit")
    assert title == "BUG: soft lockup in __khugepaged_exit"
