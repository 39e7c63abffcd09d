"""Culprit rules found by measuring the splat reader on the remaining misses of field batches
2-9, held out against batch 10 (issue #19).

Every log here is written for the test from the kernel's print formats (kernel/panic.c's
__warn, lib/debugobjects.c, arch/x86/mm/fault.c, arch/arm64/mm/fault.c and kernel/process.c's
show_regs, lib/dump_stack.c, lib/kobject.c's pr_debug lines); the function names are kernel
functions or invented ones (`frob_*`).
"""

from __future__ import annotations

import pytest

from tests.conftest import kind_and_function as _one

# 4.x's WARN prints its message after the header, and panic_on_warn's panic comes before the
# stack; another task's lines are interleaved in runs, with the report's own lines between.
ODEBUG_INTERLEAVED = {
    "x86_64": """\
[  77.1] ------------[ cut here ]------------
[  77.1] WARNING: CPU: 0 PID: 2484 at lib/debugobjects.c:260 debug_print_object+0x181/0x210
[  77.1] ODEBUG: free active (active state 0) object type: work_struct hint: frob_work_fn+0x0/0x90
[  77.1] Kernel panic - not syncing: panic_on_warn set ...
[  77.1]
[  77.1] CPU: 0 PID: 2484 Comm: frobd Not tainted 4.4.194+ #0
[  77.1] kobject: 'frob0' (ffff8800bb7592b0): kobject_cleanup, parent           (null)
[  77.1] kobject: 'frob0' (ffff8800bb7592b0): calling ktype release
[  77.1] kobject: 'frob0': free name
[  77.1] kobject: 'frob1' (ffff8801d66cbe18): fill_kobj_path: path = '/frob1'
[  77.1] Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.3 04/01/2014
[  77.1] kobject: 'frob1': free name
[  77.1]  0000000000000000 ffff8800baa3f860 ffffffff81cb8911 ffff8800baa3f998
[  77.1] Call Trace:
[  77.1]  [<ffffffff81cb8911>] dump_stack+0xc1/0x120
[  77.1]  [<ffffffff813e5f5d>] panic+0x1a2/0x364
[  77.1]  [<ffffffff8110c041>] warn_slowpath_fmt+0xb1/0xd0
[  77.1]  [<ffffffff81d15631>] debug_print_object+0x181/0x210
[  77.1]  [<ffffffff81d16eb2>] debug_check_no_obj_freed+0x482/0x8a0
[  77.1]  [<ffffffff81502e2f>] kfree+0xef/0x240
[  77.1]  [<ffffffff81c62057>] frob_release+0x1d7/0x350
[  77.1]  [<ffffffff815a1f30>] __fput+0x230/0x6d0
""",
    "arm64": """\
[  77.1] ------------[ cut here ]------------
[  77.1] WARNING: CPU: 0 PID: 2484 at lib/debugobjects.c:260 debug_print_object+0xd8/0x100
[  77.1] ODEBUG: free active (active state 0) object type: work_struct hint: frob_work_fn+0x0/0x90
[  77.1] Kernel panic - not syncing: panic_on_warn set ...
[  77.1]
[  77.1] CPU: 0 PID: 2484 Comm: frobd Not tainted 4.4.194+ #0
[  77.1] kobject: 'frob0' (ffffffc0bb7592b0): kobject_cleanup, parent           (null)
[  77.1] kobject: 'frob0' (ffffffc0bb7592b0): calling ktype release
[  77.1] kobject: 'frob0': free name
[  77.1] kobject: 'frob1' (ffffffc1d66cbe18): fill_kobj_path: path = '/frob1'
[  77.1] Hardware name: linux,dummy-virt (DT)
[  77.1] kobject: 'frob1': free name
[  77.1] Call trace:
[  77.1] [<ffffff80080895d0>] dump_backtrace+0x0/0x1e0
[  77.1] [<ffffff80080897d4>] show_stack+0x24/0x30
[  77.1] [<ffffff8008497e70>] dump_stack+0xa4/0xc8
[  77.1] [<ffffff80081b1c5c>] panic+0x13c/0x2c4
[  77.1] [<ffffff80080a52b8>] warn_slowpath_fmt+0xa8/0xd0
[  77.1] [<ffffff80084c5a80>] debug_print_object+0xd8/0x100
[  77.1] [<ffffff80084c6b24>] debug_check_no_obj_freed+0x1a4/0x2a0
[  77.1] [<ffffff800823b9a8>] kfree+0xe8/0x220
[  77.1] [<ffffff8008702a34>] frob_release+0x94/0x140
[  77.1] [<ffffff8008266e20>] __fput+0x90/0x1e0
""",
}


@pytest.mark.parametrize("arch", sorted(ODEBUG_INTERLEAVED))
def test_foreign_lines_bound_per_run_not_in_sum(arch: str) -> None:
    # Each run of another context's lines is short; a body line of the report between runs
    # ("Hardware name:") ends a run, so the stack after them is still this report's.
    assert _one(ODEBUG_INTERLEAVED[arch]) == ("warning", "frob_release")


# An ODEBUG report raised while (re)initialising a timer: the timer API the check ran in is
# the object's own machinery, as debug_object_* is; the culprit is who initialised it.
ODEBUG_TIMER = {
    "x86_64": """\
[  81.2] ODEBUG: init active (active state 0) object type: timer_list hint: frob_timeout+0x0/0x60
[  81.2] WARNING: CPU: 1 PID: 3001 at lib/debugobjects.c:514 debug_print_object+0x16e/0x250
[  81.2] Modules linked in:
[  81.2] CPU: 1 PID: 3001 Comm: frobd Not tainted 6.1.0 #1
[  81.2] RIP: 0010:debug_print_object+0x16e/0x250
[  81.2] Call Trace:
[  81.2]  <TASK>
[  81.2]  __debug_object_init+0x2d1/0x6b0
[  81.2]  init_timer_key+0x45/0x1c0
[  81.2]  frob_start+0x8e/0x2a0
[  81.2]  frob_ioctl+0x3b1/0x7e0
[  81.2]  __x64_sys_ioctl+0x18f/0x210
[  81.2]  do_syscall_64+0x3b/0xb0
[  81.2]  entry_SYSCALL_64_after_hwframe+0x63/0xcd
[  81.2]  </TASK>
""",
    "arm64": """\
[  81.2] ODEBUG: init active (active state 0) object type: timer_list hint: frob_timeout+0x0/0x60
[  81.2] WARNING: CPU: 1 PID: 3001 at lib/debugobjects.c:514 debug_print_object+0xb0/0x130
[  81.2] Modules linked in:
[  81.2] CPU: 1 PID: 3001 Comm: frobd Not tainted 6.1.0 #1
[  81.2] Hardware name: linux,dummy-virt (DT)
[  81.2] pc : debug_print_object+0xb0/0x130
[  81.2] lr : debug_print_object+0xb0/0x130
[  81.2] Call trace:
[  81.2]  debug_print_object+0xb0/0x130
[  81.2]  __debug_object_init+0x1a8/0x5a0
[  81.2]  init_timer_key+0x3c/0x150
[  81.2]  frob_start+0x70/0x1f0
[  81.2]  frob_ioctl+0x2b0/0x5c0
[  81.2]  __arm64_sys_ioctl+0xa8/0xf0
[  81.2]  invoke_syscall+0x48/0x114
[  81.2]  el0_svc+0x44/0xb0
""",
}


@pytest.mark.parametrize("arch", sorted(ODEBUG_TIMER))
def test_odebug_passes_over_the_timer_api(arch: str) -> None:
    assert _one(ODEBUG_TIMER[arch]) == ("warning", "frob_start")


# A jump to a garbage address from a timer callback pointer: the callee never ran, so the top
# stack frame, the one that made the call, is the culprit even in the timer core's layer.
BAD_JUMP = {
    "x86_64": """\
[ 190.7] BUG: unable to handle kernel paging request at ffffffffffffffff
[ 190.7] #PF error: [INSTR]
[ 190.7] Oops: 0010 [#1] SMP
[ 190.7] CPU: 1 PID: 0 Comm: swapper/1 Not tainted 5.4.0 #1
[ 190.7] RIP: 0010:0xffffffffffffffff
[ 190.7] Code: Bad RIP value.
[ 190.7] RSP: 0018:ffff88021fd07d10 EFLAGS: 00010286
[ 190.7] Call Trace:
[ 190.7]  <IRQ>
[ 190.7]  __run_timers+0x6a1/0x9a0
[ 190.7]  run_timer_softirq+0x3c/0x80
[ 190.7]  __do_softirq+0x1c2/0x5b5
[ 190.7]  irq_exit+0x1a5/0x1c0
[ 190.7]  exiting_irq+0xe/0x10
[ 190.7]  smp_apic_timer_interrupt+0x7e/0x250
[ 190.7]  apic_timer_interrupt+0xf/0x20
[ 190.7]  </IRQ>
[ 190.7] RIP: 0010:default_idle+0x2a/0x160
[ 190.7]  arch_cpu_idle+0xa/0x10
[ 190.7]  do_idle+0x1b7/0x290
""",
    "arm64": """\
[ 190.7] Unable to handle kernel paging request at virtual address ffffffffffffffff
[ 190.7] Mem abort info:
[ 190.7]   ESR = 0x86000006
[ 190.7] Internal error: Oops: 86000006 [#1] PREEMPT SMP
[ 190.7] CPU: 1 PID: 0 Comm: swapper/1 Not tainted 5.4.0 #1
[ 190.7] Hardware name: linux,dummy-virt (DT)
[ 190.7] pc : 0xffffffffffffffff
[ 190.7] lr : call_timer_fn+0x3c/0x1f0
[ 190.7] Call trace:
[ 190.7]  0xffffffffffffffff
[ 190.7]  call_timer_fn+0x3c/0x1f0
[ 190.7]  __run_timers.part.0+0x1d8/0x2c0
[ 190.7]  run_timer_softirq+0x3c/0x80
[ 190.7]  __do_softirq+0x128/0x3a8
[ 190.7]  irq_exit+0xd0/0xe0
[ 190.7]  __handle_domain_irq+0x8c/0xf0
[ 190.7]  gic_handle_irq+0x5c/0xb4
[ 190.7]  el1_irq+0xb8/0x180
[ 190.7]  default_idle_call+0x1c/0x40
""",
}


@pytest.mark.parametrize("arch", sorted(BAD_JUMP))
def test_a_jump_to_garbage_is_the_top_frame_s_call(arch: str) -> None:
    want = "__run_timers" if arch == "x86_64" else "call_timer_fn"
    assert _one(BAD_JUMP[arch]) == ("oops", want)


# A fault inside the lock machinery (the lock validator reading a freed lock's class): the lock
# the taker passed in is bad, so the taker is the culprit even when it is workqueue plumbing.
LOCK_FAULT = {
    "x86_64": """\
[  52.1] general protection fault: 0000 [#1] SMP KASAN
[  52.1] CPU: 0 PID: 7001 Comm: frobd Not tainted 4.9.60 #1
[  52.1] RIP: 0010:[<ffffffff8143d030>]  [<ffffffff8143d030>] __lock_acquire+0xc00/0x4e80
[  52.1] RSP: 0018:ffff8801c5d47a28  EFLAGS: 00010006
[  52.1] Call Trace:
[  52.1]  [<ffffffff81441b4f>] lock_acquire+0x12f/0x3d0
[  52.1]  [<ffffffff8286e5a4>] mutex_lock_nested+0xc4/0x880
[  52.1]  [<ffffffff8136e3c0>] drain_workqueue+0x90/0x4d0
[  52.1]  [<ffffffff81373b7d>] destroy_workqueue+0x1d/0x5f0
[  52.1]  [<ffffffff8290399c>] frob_close+0x23c/0x2e0
[  52.1]  [<ffffffff815a1f30>] __fput+0x230/0x6d0
""",
    "arm64": """\
[  52.1] Unable to handle kernel paging request at virtual address dead000000000108
[  52.1] Internal error: Oops: 96000004 [#1] PREEMPT SMP
[  52.1] CPU: 0 PID: 7001 Comm: frobd Not tainted 5.10.0 #1
[  52.1] Hardware name: linux,dummy-virt (DT)
[  52.1] pc : __lock_acquire+0x6c/0x1f48
[  52.1] lr : lock_acquire+0x1a4/0x3f0
[  52.1] Call trace:
[  52.1]  __lock_acquire+0x6c/0x1f48
[  52.1]  lock_acquire+0x1a4/0x3f0
[  52.1]  __mutex_lock+0xa4/0x8f0
[  52.1]  mutex_lock_nested+0x30/0x40
[  52.1]  drain_workqueue+0x48/0x1b0
[  52.1]  destroy_workqueue+0x30/0x2f0
[  52.1]  frob_close+0x9c/0x140
[  52.1]  __fput+0x90/0x1e0
""",
}


@pytest.mark.parametrize("arch", sorted(LOCK_FAULT))
def test_a_fault_taking_a_lock_is_the_taker_s(arch: str) -> None:
    assert _one(LOCK_FAULT[arch]) == ("oops", "drain_workqueue")


# A starved RCU grace-period kthread: the stall report dumps the CPU it last ran on with
# dump_cpu_task ("Task dump for CPU N:", no NMI backtrace there) before the stalled CPU's own
# dump; the former is the victim's CPU, the latter carries the report and the culprit.
_STALL_HEAD = """\
[ 417.7] rcu: INFO: rcu_sched self-detected stall on CPU
[ 417.7] rcu: \t1-...!: (10499 ticks this GP) idle=9f9/1/0x4000000000000002 softirq=2116/2117 fqs=0
[ 417.7] \t(t=10500 jiffies g=989 q=72)
[ 417.7] rcu: rcu_sched kthread starved for 10500 jiffies! g989 f0x0 RCU_GP_WAIT_FQS(5) ->cpu=0
[ 417.7] rcu: RCU grace-period kthread stack dump:
[ 417.7] task:rcu_sched state:R running task stack:0 pid:13 ppid:2 flags:0x00000008
"""
GP_TASK_DUMP = {
    "arm64": _STALL_HEAD + """\
[ 417.7] Call trace:
[ 417.7]  __switch_to+0xf4/0x150
[ 417.7]  __schedule+0x2d0/0x7b0
[ 417.7]  schedule+0x5c/0xf0
[ 417.7]  schedule_timeout+0xa0/0x1c0
[ 417.7]  rcu_gp_fqs_loop+0x120/0x3b0
[ 417.7]  rcu_gp_kthread+0x1a4/0x220
[ 417.7]  kthread+0x13c/0x150
[ 417.7]  ret_from_fork+0x10/0x20
[ 417.7] rcu: Stack dump where RCU GP kthread last ran:
[ 417.7] Task dump for CPU 0:
[ 417.7] task:frobd state:R running task stack:0 pid:1432 ppid:1414 flags:0x00000000
[ 417.7] Call trace:
[ 417.7]  __switch_to+0xf4/0x150
[ 417.7]  frob_poll_idle+0x40/0x90
[ 417.7] Task dump for CPU 1:
[ 417.7] task:frobd state:R running task stack:0 pid:1429 ppid:1407 flags:0x00000000
[ 417.7] Call trace:
[ 417.7]  dump_backtrace+0x0/0x1e0
[ 417.7]  show_stack+0x18/0x24
[ 417.7]  sched_show_task+0x150/0x180
[ 417.7]  dump_cpu_task+0x48/0x54
[ 417.7]  rcu_dump_cpu_stacks+0xf4/0x138
[ 417.7]  print_cpu_stall+0x16c/0x228
[ 417.7]  rcu_sched_clock_irq+0x578/0x770
[ 417.7]  update_process_times+0x68/0xa0
[ 417.7]  tick_sched_timer+0x5c/0xd0
[ 417.7]  __hrtimer_run_queues+0x150/0x2f0
[ 417.7]  hrtimer_interrupt+0xf4/0x2a0
[ 417.7]  arch_timer_handler_virt+0x34/0x44
[ 417.7]  handle_percpu_devid_irq+0x84/0x150
[ 417.7]  generic_handle_domain_irq+0x2c/0x44
[ 417.7]  gic_handle_irq+0x50/0x130
[ 417.7]  call_on_irq_stack+0x2c/0x5c
[ 417.7]  do_interrupt_handler+0x80/0x84
[ 417.7]  el1_interrupt+0x34/0x70
[ 417.7]  el1h_64_irq_handler+0x18/0x24
[ 417.7]  el1h_64_irq+0x64/0x68
[ 417.7]  _raw_spin_lock_bh+0x30/0x70
[ 417.7]  frob_recvmsg+0x1a0/0x3c0
[ 417.7]  inet_recvmsg+0x5c/0x1a0
[ 417.7]  ____sys_recvmsg+0x98/0x1c0
[ 417.7]  do_recvmmsg+0x10c/0x2f0
[ 417.7]  __arm64_sys_recvmmsg+0x94/0x100
[ 417.7]  invoke_syscall+0x48/0x114
[ 417.7]  el0_svc_common.constprop.0+0x44/0xec
[ 417.7]  do_el0_svc+0x28/0x34
[ 417.7]  el0_svc+0x2c/0x84
""",
    "x86_64": _STALL_HEAD + """\
[ 417.7] Call Trace:
[ 417.7]  <TASK>
[ 417.7]  __schedule+0x8f0/0x2490
[ 417.7]  schedule+0xd9/0x270
[ 417.7]  schedule_timeout+0x14e/0x2c0
[ 417.7]  rcu_gp_fqs_loop+0x1e6/0xa90
[ 417.7]  rcu_gp_kthread+0x26a/0x380
[ 417.7]  kthread+0x2e4/0x3a0
[ 417.7]  ret_from_fork+0x1f/0x30
[ 417.7]  </TASK>
[ 417.7] rcu: Stack dump where RCU GP kthread last ran:
[ 417.7] Task dump for CPU 0:
[ 417.7] task:frobd state:R running task stack:0 pid:1432 ppid:1414 flags:0x00004008
[ 417.7] Call Trace:
[ 417.7]  <TASK>
[ 417.7]  __schedule+0x8f0/0x2490
[ 417.7]  frob_poll_idle+0x40/0x90
[ 417.7]  </TASK>
[ 417.7] Task dump for CPU 1:
[ 417.7] task:frobd state:R running task stack:0 pid:1429 ppid:1407 flags:0x00004008
[ 417.7] Call Trace:
[ 417.7]  <IRQ>
[ 417.7]  sched_show_task+0x3fa/0x560
[ 417.7]  dump_cpu_task+0x5c/0x70
[ 417.7]  rcu_dump_cpu_stacks+0x24f/0x3d0
[ 417.7]  print_cpu_stall+0x360/0x610
[ 417.7]  rcu_sched_clock_irq+0x10f6/0x17b0
[ 417.7]  update_process_times+0x186/0x220
[ 417.7]  tick_sched_timer+0x12d/0x310
[ 417.7]  __hrtimer_run_queues+0x5e3/0xc70
[ 417.7]  hrtimer_interrupt+0x394/0x8d0
[ 417.7]  __sysvec_apic_timer_interrupt+0x10b/0x410
[ 417.7]  sysvec_apic_timer_interrupt+0x8f/0xb0
[ 417.7]  </IRQ>
[ 417.7]  <TASK>
[ 417.7]  asm_sysvec_apic_timer_interrupt+0x1a/0x20
[ 417.7] RIP: 0010:_raw_spin_lock_bh+0x3a/0x50
[ 417.7]  frob_recvmsg+0x1a0/0x3c0
[ 417.7]  inet_recvmsg+0x5c/0x1a0
[ 417.7]  ____sys_recvmsg+0x2b7/0x690
[ 417.7]  do_recvmmsg+0x31e/0x8a0
[ 417.7]  __x64_sys_recvmmsg+0x20f/0x260
[ 417.7]  do_syscall_64+0x3d/0xb0
[ 417.7]  entry_SYSCALL_64_after_hwframe+0x63/0xcd
[ 417.7]  </TASK>
""",
}


@pytest.mark.parametrize("arch", sorted(GP_TASK_DUMP))
def test_stall_reads_past_the_gp_kthread_s_cpu_task_dump(arch: str) -> None:
    want = "__arm64_sys_recvmmsg" if arch == "arm64" else "__x64_sys_recvmmsg"
    assert _one(GP_TASK_DUMP[arch]) == ("rcu_stall", want)


# A soft lockup of a kernel thread spinning in a cross-CPU call: waiting for other CPUs is
# one bucket whoever asked, with or without a unit-of-work dispatcher on the stack.
SMP_WAIT = {
    "x86_64": """\
[ 300.1] watchdog: BUG: soft lockup - CPU#0 stuck for 143s! [frobd:812]
[ 300.1] Modules linked in:
[ 300.1] CPU: 0 PID: 812 Comm: frobd Not tainted 6.1.0 #1
[ 300.1] RIP: 0010:smp_call_function_many_cond+0x3a6/0xb00
[ 300.1] RSP: 0018:ffffc90003c7fb20 EFLAGS: 00000202
[ 300.1] Call Trace:
[ 300.1]  <TASK>
[ 300.1]  on_each_cpu_cond_mask+0x3a/0x70
[ 300.1]  frob_flush_all+0x7c/0x120
[ 300.1]  frob_thread+0x1b0/0x2c0
[ 300.1]  kthread+0x2e4/0x3a0
[ 300.1]  ret_from_fork+0x1f/0x30
[ 300.1]  </TASK>
""",
    "arm64": """\
[ 300.1] watchdog: BUG: soft lockup - CPU#0 stuck for 143s! [frobd:812]
[ 300.1] Modules linked in:
[ 300.1] CPU: 0 PID: 812 Comm: frobd Not tainted 6.1.0 #1
[ 300.1] Hardware name: linux,dummy-virt (DT)
[ 300.1] pc : smp_call_function_many_cond+0x1d4/0x6b0
[ 300.1] lr : smp_call_function_many_cond+0x1a0/0x6b0
[ 300.1] Call trace:
[ 300.1]  smp_call_function_many_cond+0x1d4/0x6b0
[ 300.1]  on_each_cpu_cond_mask+0x40/0x70
[ 300.1]  frob_flush_all+0x60/0xe0
[ 300.1]  frob_thread+0x150/0x250
[ 300.1]  kthread+0x120/0x130
[ 300.1]  ret_from_fork+0x10/0x20
""",
}


@pytest.mark.parametrize("arch", sorted(SMP_WAIT))
def test_a_stall_waiting_for_other_cpus_is_one_bucket(arch: str) -> None:
    assert _one(SMP_WAIT[arch]) == ("soft_lockup", "smp_call_function")


# A task blocked on the console lock while looking the console device up: in a hung task's
# stack (the blocked task's, not the reporter's) console code is the waiter.
HUNG_CONSOLE = {
    "x86_64": """\
[ 983.1] INFO: task frobd:4242 blocked for more than 143 seconds.
[ 983.1]       Not tainted 6.1.0 #1
[ 983.1] "echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.
[ 983.1] task:frobd           state:D stack:27480 pid:4242  ppid:4100   flags:0x00004004
[ 983.1] Call Trace:
[ 983.1]  <TASK>
[ 983.1]  __schedule+0x8f0/0x2490
[ 983.1]  schedule+0xd9/0x270
[ 983.1]  schedule_timeout+0x21f/0x2a0
[ 983.1]  __down_common+0x2b4/0x4a0
[ 983.1]  down+0x74/0xa0
[ 983.1]  console_lock+0x5b/0x80
[ 983.1]  console_device+0x16/0xb0
[ 983.1]  tty_lookup_driver+0x3a4/0x440
[ 983.1]  tty_open+0x2c3/0xe60
[ 983.1]  chrdev_open+0x26a/0x770
[ 983.1]  do_dentry_open+0x6cc/0x13f0
[ 983.1]  </TASK>
""",
    "arm64": """\
[ 983.1] INFO: task frobd:4242 blocked for more than 143 seconds.
[ 983.1]       Not tainted 6.1.0 #1
[ 983.1] "echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.
[ 983.1] task:frobd           state:D stack:0     pid:4242  ppid:4100   flags:0x00000008
[ 983.1] Call trace:
[ 983.1]  __switch_to+0x1a4/0x2b0
[ 983.1]  __schedule+0x7c4/0x1a10
[ 983.1]  schedule+0xa4/0x1b0
[ 983.1]  schedule_timeout+0x20c/0x2a0
[ 983.1]  __down_common+0x2e4/0x6b0
[ 983.1]  down+0x98/0xc0
[ 983.1]  console_lock+0x48/0x70
[ 983.1]  console_device+0x20/0xd0
[ 983.1]  tty_lookup_driver+0x2a0/0x360
[ 983.1]  tty_open+0x1f0/0xbe0
[ 983.1]  chrdev_open+0x1d0/0x5b0
""",
}


@pytest.mark.parametrize("arch", sorted(HUNG_CONSOLE))
def test_a_hung_task_s_console_code_is_the_waiter(arch: str) -> None:
    assert _one(HUNG_CONSOLE[arch]) == ("hung_task", "console_device")
