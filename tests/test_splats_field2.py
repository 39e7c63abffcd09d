"""Rules found by the second field measurement (issue #19, syzkaller's public report test data):
reporting layers, the part of a report to read, and header formats the reader did not know.

Every log here is written for the test from the kernel's print formats (lib/bug.c's and
kernel/panic.c's WARNING lines old and new, mm/kmsan/report.c, mm/page_owner.c,
lib/fault-inject.c, lib/ubsan.c, kernel/rcu/tree_stall.h, kernel/hung_task.c, mm/usercopy.c,
fs/proc/generic.c, mm/kasan/report.c of 4.x); the function names are kernel functions or
invented ones, the numbers are made up.
"""

from __future__ import annotations

from harness.splats.parse import parse_log
from tests.conftest import kind_function_title as _one


def test_new_warning_header_without_symbol_falls_back_to_the_stack() -> None:
    # 6.18+ "WARNING: file:line at <ip>, CPU#n: comm/pid": with no symbol for the ip the header
    # names no function; debugobjects and the slab free path are machinery, the caller is next.
    log = ("[  12.000001] ------------[ cut here ]------------\n"
           "[  12.000002] ODEBUG: free active (active state 0) object: ffff888012340000 "
           "object type: timer_list hint: demo_timer_fn+0x0/0x40\n"
           "[  12.000003] WARNING: lib/debugobjects.c:612 at 0x0, CPU#0: kworker/0:1/17\n"
           "[  12.000004] Modules linked in:\n"
           "[  12.000005] RIP: 0010:debug_check_no_obj_freed+0x3a0/0x520\n"
           "[  12.000006] Call Trace:\n"
           "[  12.000007]  <IRQ>\n"
           "[  12.000008]  kfree+0x120/0x600\n"
           "[  12.000009]  demo_expire+0x88/0x200\n"
           "[  12.000010]  call_timer_fn+0x1a0/0x580\n"
           "[  12.000011]  __run_timers+0x600/0x880\n"
           "[  12.000012]  </IRQ>\n")
    kind, func, _title = _one(log)
    assert (kind, func) == ("warning", "demo_expire")


def test_kmsan_infoleak_names_the_caller_of_the_data_sink() -> None:
    # KMSAN checks outgoing data where it leaves the kernel (copy to user/iter, an URB): the
    # header names that sink; the leak is the caller that filled the buffer.
    usb = ("[  30.1] =====================================================\n"
           "[  30.1] BUG: KMSAN: kernel-usb-infoleak in usb_submit_urb+0x6e0/0x1f00\n"
           "[  30.1]  kmsan_report+0x170/0x2d0\n"
           "[  30.1]  kmsan_internal_check_memory+0x900/0xa80\n"
           "[  30.1]  kmsan_handle_urb+0x28/0x40\n"
           "[  30.1]  usb_submit_urb+0x6e0/0x1f00\n"
           "[  30.1]  usb_start_wait_urb+0x140/0x400\n"
           "[  30.1]  usb_control_msg+0x300/0x500\n"
           "[  30.1]  demo_usb_read_reg+0x120/0x300\n"
           "[  30.1]  demo_usb_probe+0x400/0x900\n"
           "[  30.1] =====================================================\n")
    assert _one(usb)[:2] == ("kmsan", "demo_usb_read_reg")
    read = ("[  31.2] BUG: KMSAN: kernel-infoleak in _copy_to_iter+0x800/0x1f00\n"
            "[  31.2]  _copy_to_iter+0x800/0x1f00\n"
            "[  31.2]  demo_attr_read_iter+0x500/0x900\n"
            "[  31.2]  vfs_read+0x800/0xf00\n")
    assert _one(read)[:2] == ("kmsan", "demo_attr_read_iter")


def test_bad_page_allocation_stack_skips_page_owner_and_page_pool() -> None:
    log = ("[ 70.1] BUG: Bad page state in process demo  pfn:1a2b3\n"
           "[ 70.1] page: refcount:0 mapcount:0 mapping:0000000000000000 index:0x0 pfn:0x1a2b3\n"
           "[ 70.1] page dumped because: page_pool leak\n"
           "[ 70.1] page_owner tracks the page as allocated\n"
           "[ 70.1] page last allocated via order 0, migratetype Unmovable, "
           "gfp_mask 0x2820(GFP_ATOMIC), pid 90, tgid 90 (demo), ts 1, free_ts 0\n"
           "[ 70.1]  __set_page_owner+0xa0/0x700\n"
           "[ 70.1]  post_alloc_hook+0xe0/0x1e0\n"
           "[ 70.1]  get_page_from_freelist+0xd00/0x2900\n"
           "[ 70.1]  __alloc_pages_noprof+0x1e0/0x1e00\n"
           "[ 70.1]  page_pool_alloc_pages+0x20/0x60\n"
           "[ 70.1]  demo_rx_refill+0x360/0x1800\n"
           "[ 70.1]  demo_poll+0x2f0/0x490\n")
    assert _one(log)[:2] == ("bad_page", "demo_rx_refill")


def test_ubsan_static_handlers_and_fault_injection_are_machinery() -> None:
    ubsan = ("[ 3.8] UBSAN: Undefined behaviour in net/demo/idents.c:40:2\n"
             "[ 3.8] signed integer overflow:\n"
             "[ 3.8] Call Trace:\n"
             "[ 3.8]  [<ffffffff81b2e7d9>] dump_stack+0x45/0x6c\n"
             "[ 3.8]  [<ffffffff81bcb87d>] ubsan_epilogue+0xd/0x40\n"
             "[ 3.8]  [<ffffffff81bcbc4d>] handle_overflow+0xbd/0xe0\n"
             "[ 3.8]  [<ffffffff81bcbc7e>] __ubsan_handle_add_overflow+0xe/0x10\n"
             "[ 3.8]  [<ffffffff82680a4a>] demo_idents_reserve+0x9a/0xd0\n")
    assert _one(ubsan)[:2] == ("ubsan", "demo_idents_reserve")
    fail = ("[ 9.1] FAULT_INJECTION: forcing a failure.\n"
            "[ 9.1] name failslab, interval 1, probability 0, space 0, times 0\n"
            "[ 9.1] WARNING: CPU: 0 PID: 7 at mm/demo.c:10 demo_check+0x5d/0x70\n"
            "[ 9.1] Call Trace:\n"
            "[ 9.1]  dump_stack+0x1a7/0x27d\n"
            "[ 9.1]  should_fail+0x914/0xae0\n"
            "[ 9.1]  should_failslab+0xec/0x120\n"
            "[ 9.1]  demo_check+0x5d/0x70\n"
            "[ 9.1]  demo_open+0x26/0x390\n")
    assert _one(fail)[1] == "demo_check"


def test_procfs_registration_warning_blames_the_registering_caller() -> None:
    log = ("[ 126.7] ------------[ cut here ]------------\n"
           "[ 126.7] proc_dir_entry 'demo/1.2.3.4' already registered\n"
           "[ 126.7] WARNING: CPU: 1 PID: 40 at fs/proc/generic.c:330 proc_register+0x2a4/0x370\n"
           "[ 126.7] RIP: 0010:proc_register+0x2a4/0x370\n"
           "[ 126.7] Call Trace:\n"
           "[ 126.7]  proc_create_data+0xf8/0x180\n"
           "[ 126.7]  demo_target_check+0xf9c/0x16d0\n"
           "[ 126.7]  xt_check_target+0x22c/0x7d0\n")
    assert _one(log)[:2] == ("warning", "demo_target_check")


def test_the_trace_holding_the_kernel_rip_is_the_reports_stack() -> None:
    # 4.x panic_on_warn: another CPU's stack lines landed before the WARNING's own "Call Trace:";
    # the trace that holds the kernel-mode RIP is the trapping context's.
    log = ("[ 42.18] ------------[ cut here ]------------\n"
           "[ 42.19]  demo_rx_build+0x9cb/0x1810\n"
           "[ 42.19]  demo_rx_get_user+0x17d0/0x3940\n"
           "[ 42.20] WARNING: CPU: 0 PID: 6 at fs/proc/generic.c:330 proc_register+0x2a4/0x370\n"
           "[ 42.21] Kernel panic - not syncing: panic_on_warn set ...\n"
           "[ 42.52] CPU: 0 PID: 6 Comm: demo Not tainted 4.15.0+ #1\n"
           "[ 42.53] Call Trace:\n"
           "[ 42.53]  dump_stack+0x194/0x257\n"
           "[ 42.54]  panic+0x1e4/0x41c\n"
           "[ 42.56]  __warn+0x1dc/0x200\n"
           "[ 42.57]  report_bug+0x211/0x2d0\n"
           "[ 42.60]  do_invalid_op+0x1b/0x20\n"
           "[ 42.61]  invalid_op+0x22/0x40\n"
           "[ 42.61] RIP: 0010:proc_register+0x2a4/0x370\n"
           "[ 42.62] RSP: 0018:ffff8801b3def528 EFLAGS: 00010286\n"
           "[ 42.66]  proc_create_data+0xf8/0x180\n"
           "[ 42.67]  demo_target_check+0xf9c/0x16d0\n"
           "[ 42.73]  xt_check_target+0x22c/0x7d0\n")
    assert _one(log)[1] == "demo_target_check"


def test_stall_task_dump_and_kasan_stack_saving_are_the_reporting_part() -> None:
    # 4.x "Task dump for CPU" (_sched_show_task, trace_apic_timer_interrupt); the interrupted
    # context was saving a KASAN allocation stack: the unwinder is instrumentation, not the loop.
    log = ("[ 943.3] INFO: rcu_preempt self-detected stall on CPU\n"
           "[ 943.3] \t0-...: (3 ticks this GP) idle=6fd/140000000000001/0 softirq=1/1 fqs=1 \n"
           "[ 943.3] Task dump for CPU 0:\n"
           "[ 943.3] demo            R  running task    29216   513  10808 0x10000008\n"
           "[ 943.4] Call Trace:\n"
           "[ 943.4]  <IRQ>  [<ffffffff813d2223>] _sched_show_task+0x31f/0x32b\n"
           "[ 943.4]  [<ffffffff813d223f>] sched_show_task+0x10/0x12\n"
           "[ 943.4]  [<ffffffff813d4c0b>] rcu_dump_cpu_stacks+0x151/0x165\n"
           "[ 943.4]  [<ffffffff812b12c0>] rcu_check_callbacks+0x6cf/0x144f\n"
           "[ 943.4]  [<ffffffff812bdccb>] update_process_times+0x36/0x66\n"
           "[ 943.5]  [<ffffffff8333bb72>] smp_trace_apic_timer_interrupt+0x23f/0x43b\n"
           "[ 943.5]  [<ffffffff83339b68>] trace_apic_timer_interrupt+0xa8/0xb0\n"
           "[ 943.5]  <EOI>  [<ffffffff81274f55>] unwind_next_frame+0x67/0x90\n"
           "[ 943.5]  [<ffffffff8146be5f>] __save_stack_trace+0x6f/0x7c\n"
           "[ 943.5]  [<ffffffff8146be5f>] save_stack+0x43/0xd0\n"
           "[ 943.5]  [<ffffffff8146c10f>] kmem_cache_alloc_trace+0x81/0x139\n"
           "[ 943.5]  [<ffffffff813c993d>] demo_event_mmap+0x2b6/0x7ee\n"
           "[ 943.5]  [<ffffffff814441c1>] mmap_region+0x8e7/0xb6c\n")
    assert _one(log)[:2] == ("rcu_stall", "demo_event_mmap")


def test_x86_exception_handlers_are_trap_machinery() -> None:
    log = ("[ 557.8] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:\n"
           "[ 557.8] rcu: \t(detected by 0, t=10502 jiffies, g=52381, q=77)\n"
           "[ 557.8] demo            R  running task    21584 17898   5513 0x00000000\n"
           "[ 557.8] Call Trace:\n"
           "[ 557.8]  <IRQ>\n"
           "[ 557.8]  sched_show_task.cold+0x2b6/0x30a\n"
           "[ 557.8]  print_other_cpu_stall.cold+0xa83/0xba5\n"
           "[ 557.8]  rcu_check_callbacks+0xafc/0x1990\n"
           "[ 558.1]  apic_timer_interrupt+0xf/0x20\n"
           "[ 558.1]  </IRQ>\n"
           "[ 558.1] RIP: 0010:do_error_trap+0x270/0x4d0\n"
           "[ 558.3]  do_divide_error+0x18/0x20\n"
           "[ 558.3]  divide_error+0x14/0x20\n"
           "[ 558.3] RIP: 0010:demo_emulate_div+0x12/0x40\n"
           "[ 558.4]  demo_emulate_insn+0x1efd/0x5020\n")
    assert _one(log)[:2] == ("rcu_stall", "demo_emulate_div")


def test_tty_ldisc_semaphore_is_a_wait_primitive_for_hung_tasks() -> None:
    log = ("[ 843.2] INFO: task getty:2986 blocked for more than 120 seconds.\n"
           "[ 843.2]       Not tainted 3.18.0 #12\n"
           "[ 843.2] \"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message.\n"
           "[ 843.2] getty           D ffffffff83e27d60 28152  2986      1 0x00000002\n"
           "[ 843.2] Call Trace:\n"
           "[ 843.2]  [<ffffffff835bdeb4>] schedule+0x64/0x160\n"
           "[ 843.3]  [<ffffffff835c9c1a>] schedule_timeout+0x2fa/0x5d0\n"
           "[ 843.3]  [<ffffffff835cb4ec>] ldsem_down_write+0x1ac/0x357\n"
           "[ 843.3]  [<ffffffff835cbdd2>] tty_ldisc_lock_pair_timeout+0xb2/0x160\n"
           "[ 843.3]  [<ffffffff81f8b03f>] demo_ldisc_hangup+0x21f/0x720\n")
    assert _one(log)[:2] == ("hung_task", "demo_ldisc_hangup")


def test_usercopy_warn_stays_a_warning() -> None:
    # 4.15's hardened usercopy WARNs (usercopy_warn); later kernels BUG in the same file.
    log = ("[ 54.5] ------------[ cut here ]------------\n"
           "[ 54.5] Bad or missing usercopy whitelist? Kernel memory exposure attempt detected "
           "from SLAB object 'demo_cache' (offset 64, size 16)!\n"
           "[ 54.5] WARNING: CPU: 1 PID: 67 at mm/usercopy.c:81 usercopy_warn+0xdb/0x100\n"
           "[ 54.6] RIP: 0010:usercopy_warn+0xdb/0x100\n"
           "[ 54.7]  __check_heap_object+0x89/0xc0\n"
           "[ 54.7]  __check_object_size+0x272/0x530\n"
           "[ 54.7]  demo_put_cmsg+0x233/0x3f0\n")
    kind, func, title = _one(log)
    assert (kind, func) == ("warning", "demo_put_cmsg")
    assert title == "WARNING: bad usercopy in demo_put_cmsg"


def test_kasan_object_dump_header_alone_is_not_a_slab_report() -> None:
    # 4.x KASAN described the object through SLUB's object_err(): "BUG <cache> (...): kasan: bad
    # access detected" is a line of a KASAN report, not SLUB's own corruption report.
    assert parse_log("[   72.1] BUG demo_cache (Not tainted): kasan: bad access detected\n") == []


def test_a_jump_to_no_function_leaves_stale_guesses_unnamed() -> None:
    # x86 prints a kernel RIP with no symbol as a bare address; the ORC unwinder cannot start
    # there, and the "? " words it scans are stale: the report names no culprit.
    log = ("[ 418.9] BUG: kernel NULL pointer dereference, address: 0000000000000086\n"
           "[ 418.9] #PF: supervisor instruction fetch in kernel mode\n"
           "[ 418.9] #PF: error_code(0x0010) - not-present page\n"
           "[ 418.9] Oops: 0010 [#1] PREEMPT SMP KASAN\n"
           "[ 418.9] RIP: 0010:0x86\n"
           "[ 418.9] Code: Bad RIP value.\n"
           "[ 419.0] Call Trace:\n"
           "[ 419.0]  ? demo_irq_dispatch+0x154/0x280\n"
           "[ 419.0]  ? demo_vcpu_run+0x3a3/0xd50\n"
           "[ 419.1] ---[ end trace 0000000000000000 ]---\n")
    kind, func, _title = _one(log)
    assert (kind, func) == ("oops", None)


def test_printf_family_is_printk_machinery() -> None:
    # lib/vsprintf.c reads the caller's string: a bad read in strnlen under vscnprintf (the
    # "c"+"n" spelling too) is the printk caller's bad argument.
    log = ("[  40.1] ==================================================================\n"
           "[  40.1] BUG: KASAN: stack-out-of-bounds in strnlen+0x80/0xa0\n"
           "[  40.1] Read of size 1 at addr ffff888011112222 by task demo/77\n"
           "[  40.1] Call Trace:\n"
           "[  40.1]  dump_stack+0x90/0xd0\n"
           "[  40.1]  kasan_report+0x100/0x200\n"
           "[  40.1]  strnlen+0x80/0xa0\n"
           "[  40.1]  string+0x40/0x100\n"
           "[  40.1]  vsnprintf+0x300/0x900\n"
           "[  40.1]  vscnprintf+0x20/0x40\n"
           "[  40.1]  vprintk_emit+0x90/0x300\n"
           "[  40.1]  printk+0x80/0xa0\n"
           "[  40.1]  demo_set_name+0x120/0x200\n"
           "[  40.1]  demo_ioctl+0x300/0x500\n"
           "[  40.1] ==================================================================\n")
    assert _one(log)[:2] == ("kasan", "demo_set_name")


def test_powerpc_frames_with_stack_pointer_column_are_read() -> None:
    # powerpc prints "[sp] [pc] func+off/size"; the first line, "(unreliable)", has no symbol.
    log = ("[ 300.1] INFO: task demo:4242 blocked for more than 120 seconds.\n"
           "[ 300.1]       Not tainted 5.4.0 #1\n"
           "[ 300.1] \"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message.\n"
           "[ 300.1] demo            D    0  4242   4000 0x00040000\n"
           "[ 300.1] Call Trace:\n"
           "[ 300.1] [c000000001234500] [c000000001234560] 0xc000000001234560 (unreliable)\n"
           "[ 300.1] [c0000000012346f0] [c00000000002a000] __switch_to+0x300/0x500\n"
           "[ 300.1] [c000000001234760] [c000000001300000] __schedule+0x300/0x900\n"
           "[ 300.1] [c000000001234830] [c000000001300a00] schedule+0x40/0x100\n"
           "[ 300.1] [c0000000012348a0] [c000000001300f00] schedule_timeout+0x200/0x500\n"
           "[ 300.1] [c000000001234950] [c000000001301100] wait_for_common+0xf0/0x200\n"
           "[ 300.1] [c000000001234a00] [c000000000500000] demo_drain_requests+0x180/0x300\n"
           "[ 300.1] [c000000001234ab0] [c000000000160000] mmput+0xb0/0x200\n")
    assert _one(log)[:2] == ("hung_task", "demo_drain_requests")


def test_old_kmsan_header_wording_is_kmsan() -> None:
    # 4.x KMSAN said "use of uninitialized memory in f" before "uninit-value in f".
    log = ("[  50.1] ==================================================================\n"
           "[  50.1] BUG: KMSAN: use of uninitialized memory in demo_route_update+0x200/0x500\n"
           "[  50.1] Call Trace:\n"
           "[  50.1]  dump_stack+0x100/0x180\n"
           "[  50.1]  kmsan_report+0x100/0x200\n"
           "[  50.1]  __msan_warning_32+0x60/0xb0\n"
           "[  50.1]  demo_route_update+0x200/0x500\n"
           "[  50.1]  demo_notify+0x100/0x300\n"
           "[  50.1] ==================================================================\n")
    kind, func, title = _one(log)
    assert (kind, func) == ("kmsan", "demo_route_update")
    assert title == "KMSAN: use of uninitialized memory in demo_route_update"


def test_stall_below_a_preemption_on_interrupt_return() -> None:
    # The stall dump's task stack runs the scheduler (finish_task_switch and the teardown it
    # calls) because the tick preempted the task on interrupt return; the stalled code is below
    # retint_kernel, and KASAN's quarantine and the allocator above it are machinery.
    log = ("[ 163.1] rcu: INFO: rcu_preempt self-detected stall on CPU\n"
           "[ 163.1] rcu: \t0-...!: (10499 ticks this GP) idle=bea/1/0x4000000000000002\n"
           "[ 163.1] NMI backtrace for cpu 0\n"
           "[ 163.1] Call Trace:\n"
           "[ 163.1]  <IRQ>\n"
           "[ 163.1]  dump_stack+0x100/0x150\n"
           "[ 163.1]  nmi_cpu_backtrace+0xa0/0x100\n"
           "[ 163.1]  rcu_dump_cpu_stacks+0x150/0x200\n"
           "[ 163.1]  rcu_sched_clock_irq+0x800/0x1000\n"
           "[ 163.1]  update_process_times+0x100/0x180\n"
           "[ 163.1]  hrtimer_interrupt+0x300/0x700\n"
           "[ 163.1]  smp_apic_timer_interrupt+0x100/0x200\n"
           "[ 163.1]  apic_timer_interrupt+0xf/0x20\n"
           "[ 163.1]  </IRQ>\n"
           "[ 163.1] RIP: 0010:demo_free_stack+0x60/0x200\n"
           "[ 163.1]  demo_free_stack+0x60/0x200\n"
           "[ 163.1]  finish_task_switch+0x300/0x500\n"
           "[ 163.1]  __schedule+0x900/0xc00\n"
           "[ 163.1]  preempt_schedule_irq+0xc0/0x140\n"
           "[ 163.1]  retint_kernel+0x1b/0x2b\n"
           "[ 163.1] RIP: 0010:qlink_free+0x90/0xb0\n"
           "[ 163.1]  quarantine_reduce+0x150/0x1d0\n"
           "[ 163.1]  __kasan_kmalloc+0x40/0x1b0\n"
           "[ 163.1]  kmem_cache_alloc_trace+0x1f0/0x2f0\n"
           "[ 163.1]  demo_open+0x3a0/0xc00\n"
           "[ 163.1]  do_dentry_open+0x700/0x1000\n")
    assert _one(log)[:2] == ("rcu_stall", "demo_open")


def test_interrupt_entry_variants_bound_the_stall_report() -> None:
    # 4.4's KAISER build names its timer entry "smp_apic_timer_interrupt_entry_after_..."; it is
    # still the interrupt entry below which the stalled (here idle-loop) code runs.
    log = ("[ 575.7] INFO: rcu_sched detected stalls on CPUs/tasks:\n"
           "[ 575.7] \t(detected by 1, t=300000 jiffies, g=100, c=99, q=10)\n"
           "[ 575.7] swapper/1       R running task on cpu   1     0     0      1 0x00000008 0\n"
           "[ 575.8] Call Trace:\n"
           "[ 575.8]  <IRQ>  [<ffffffff81600000>] _sched_show_task+0x300/0x325\n"
           "[ 575.8]  [<ffffffff81600100>] sched_show_task+0x10/0x12\n"
           "[ 575.8]  [<ffffffff81600200>] rcu_check_callbacks+0xb00/0xc00\n"
           "[ 575.8]  [<ffffffff81400000>] update_process_times+0x3f/0x70\n"
           "[ 575.8]  [<ffffffff81400100>] hrtimer_interrupt+0x180/0x400\n"
           "[ 575.8]  [<ffffffff81012000>] smp_apic_timer_interrupt+0xd0/0x130\n"
           "[ 575.9]  [<ffffffff81011c00>] smp_apic_timer_interrupt_entry_after_demo+0x20/0x2e\n"
           "[ 575.9]  [<ffffffff81300000>] demo_pending_wakeups+0x100/0x200\n"
           "[ 575.9]  [<ffffffff81440000>] cpu_startup_entry+0x140/0x990\n")
    assert _one(log)[:2] == ("rcu_stall", "demo_pending_wakeups")


def test_rbtree_helpers_and_usb_submit_checks_blame_the_caller() -> None:
    # A fault inside lib/rbtree.c is a tree its user corrupted; usb_submit_urb's "BOGUS urb"
    # WARN checks the URB a driver built.
    oops = ("[  90.1] BUG: unable to handle page fault for address: ffff887ffffffff0\n"
            "[  90.1] #PF: supervisor read access in kernel mode\n"
            "[  90.1] Oops: 0000 [#1] PREEMPT SMP\n"
            "[  90.1] RIP: 0010:rb_erase+0x37/0x1800\n"
            "[  90.1] Call Trace:\n"
            "[  90.1]  demo_cache_evict+0x190/0x380\n"
            "[  90.1]  demo_cache_shutdown+0x150/0x350\n"
            "[  90.1] ---[ end trace 0000000000000000 ]---\n")
    assert _one(oops)[:2] == ("oops", "demo_cache_evict")
    warn = ("[  91.1] ------------[ cut here ]------------\n"
            "[  91.1] usb 1-1: BOGUS urb xfer, pipe 1 != type 3\n"
            "[  91.1] WARNING: CPU: 0 PID: 42 at drivers/usb/core/urb.c:478 "
            "usb_submit_urb+0x1100/0x1400\n"
            "[  91.1] RIP: 0010:usb_submit_urb+0x1100/0x1400\n"
            "[  91.1] Call Trace:\n"
            "[  91.1]  demo_tablet_open+0xd0/0x130\n"
            "[  91.1]  input_open_device+0x170/0x280\n"
            "[  91.1] ---[ end trace 0000000000000000 ]---\n")
    assert _one(warn)[:2] == ("warning", "demo_tablet_open")


def test_hung_task_in_synchronous_usb_messages_and_srcu_waits() -> None:
    # usb_control_msg submits and waits: a task hung there is hung in its caller. A wait for an
    # SRCU grace period is bucketed with synchronize_rcu, whatever the wrapper's underscores.
    usb = ("[ 534.7] INFO: task demo:1721 blocked for more than 143 seconds.\n"
           "[ 534.7] Call Trace:\n"
           "[ 534.7]  schedule+0x9a/0x250\n"
           "[ 534.7]  schedule_timeout+0x440/0xb20\n"
           "[ 534.7]  wait_for_completion_timeout+0x280/0x3e0\n"
           "[ 534.8]  usb_start_wait_urb+0x140/0x2b0\n"
           "[ 534.8]  usb_control_msg+0x310/0x4a0\n"
           "[ 534.8]  demo_usb_write+0x850/0xa10\n"
           "[ 534.8]  vfs_write+0x260/0x5c0\n")
    assert _one(usb)[:2] == ("hung_task", "demo_usb_write")
    srcu = ("[2294.1] INFO: task kworker/u4:0:437 blocked for more than 140 seconds.\n"
            "[2294.2] Call Trace:\n"
            "[2294.2]  [<ffffffff810008f9>] __schedule+0x580/0x1ce0\n"
            "[2294.2]  [<ffffffff810020da>] schedule+0x80/0x1b0\n"
            "[2294.2]  [<ffffffff8100557a>] wait_for_completion+0x260/0x3c0\n"
            "[2294.2]  [<ffffffff815ef967>] __synchronize_srcu+0x190/0x250\n"
            "[2294.3]  [<ffffffff81c18e9d>] demo_mark_destroy_workfn+0xf0/0x330\n"
            "[2294.3]  [<ffffffff8145beed>] process_one_work+0x8d0/0x14a0\n")
    assert _one(srcu)[:2] == ("hung_task", "synchronize_rcu")


def test_stall_skips_srcu_read_side_and_text_address_lookups() -> None:
    # __srcu_read_lock is a lock primitive whatever its underscores; is_*_text_address is the
    # unwinder asking whether a word is code (here under KASAN's stack saving).
    srcu = ("[ 631.5] INFO: rcu_sched self-detected stall on CPU\n"
            "[ 631.5] \t1-....: (125000 ticks this GP) idle=abc/1/0x4000000000000002\n"
            "[ 631.5] NMI backtrace for cpu 1\n"
            "[ 631.5] Call Trace:\n"
            "[ 631.5]  <IRQ>\n"
            "[ 631.5]  dump_stack+0x100/0x150\n"
            "[ 631.5]  nmi_cpu_backtrace+0xa0/0x100\n"
            "[ 631.5]  rcu_dump_cpu_stacks+0x150/0x200\n"
            "[ 631.5]  apic_timer_interrupt+0xf/0x20\n"
            "[ 631.5]  </IRQ>\n"
            "[ 631.5] RIP: 0010:__srcu_read_lock+0xec/0x160\n"
            "[ 631.5]  demo_guest_read_page+0x80/0x200\n"
            "[ 631.5]  demo_vcpu_run+0x300/0x900\n")
    assert _one(srcu)[:2] == ("rcu_stall", "demo_guest_read_page")
    unwind = ("[2701.1] rcu: INFO: rcu_preempt self-detected stall on CPU\n"
              "[2701.1] rcu: \t0-....: (10500 ticks this GP) idle=abc/1/0x4000000000000000\n"
              "[2701.1] NMI backtrace for cpu 0\n"
              "[2701.1] Call Trace:\n"
              "[2701.1]  <IRQ>\n"
              "[2701.1]  dump_stack+0x100/0x150\n"
              "[2701.1]  nmi_cpu_backtrace+0xa0/0x100\n"
              "[2701.1]  rcu_dump_cpu_stacks+0x150/0x200\n"
              "[2701.1]  sysvec_apic_timer_interrupt+0x51/0xf0\n"
              "[2701.1]  </IRQ>\n"
              "[2701.2]  is_bpf_text_address+0x36/0x160\n"
              "[2701.2]  kernel_text_address+0xbd/0xf0\n"
              "[2701.2]  stack_trace_save+0x8c/0xc0\n"
              "[2701.2]  kasan_save_stack+0x1b/0x40\n"
              "[2701.2]  __kasan_kmalloc+0xbf/0xd0\n"
              "[2701.2]  kmem_cache_alloc_trace+0x13d/0x300\n"
              "[2701.2]  demo_add_addr+0x96/0x390\n"
              "[2701.2]  demo_sendmsg+0x1377/0x1cf0\n")
    assert _one(unwind)[:2] == ("rcu_stall", "demo_add_addr")


def test_container_and_checksum_helpers_blame_their_caller() -> None:
    # lib/idr.c's "ida_free called for id=N which is not allocated" WARN checks its caller's id;
    # KMSAN flagging a crc32 over a buffer blames whoever filled the buffer.
    warn = ("[1175.6] ------------[ cut here ]------------\n"
            "[1175.6] ida_free called for id=8192 which is not allocated.\n"
            "[1175.6] WARNING: CPU: 0 PID: 99 at lib/idr.c:525 ida_free+0x370/0x420\n"
            "[1175.6] RIP: 0010:ida_free+0x370/0x420\n"
            "[1175.6] Call Trace:\n"
            "[1175.6]  <TASK>\n"
            "[1175.6]  demo_conn_del+0x7c0/0xcb0\n"
            "[1175.6]  demo_hash_flush+0x180/0x240\n"
            "[1175.6]  </TASK>\n"
            "[1175.6] ---[ end trace 0000000000000000 ]---\n")
    assert _one(warn)[:2] == ("warning", "demo_conn_del")
    kmsan = ("[ 417.7] =====================================================\n"
             "[ 417.7] BUG: KMSAN: uninit-value in crc32_le_base+0x43c/0xd80\n"
             "[ 417.7]  crc32_le_base+0x43c/0xd80\n"
             "[ 417.7]  demo_add_checksums+0xb2c/0xe70\n"
             "[ 417.7]  demo_construct+0x9d40/0xde70\n"
             "[ 417.7] =====================================================\n")
    assert _one(kmsan)[:2] == ("kmsan", "demo_add_checksums")
