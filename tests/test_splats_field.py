"""Rules found by measuring the splat reader on field logs (issue #19): console prefixes that
capture tools, syslog daemons and copy-paste add, report shapes of older kernels and other
architectures, and reporting layers the culprit rule did not know yet.

Every log here is written for the test from the kernel's print formats (lib/dump_stack.c,
arch/arm/kernel/traps.c, kernel/hung_task.c, kernel/rcu/tree_stall.h, mm/kmemleak.c,
lib/refcount.c, scripts/decode_stacktrace.sh, rsyslog/journald/syslogd output formats); the
function names are kernel functions or invented ones.
"""

from __future__ import annotations

import pytest

from harness.splats import culprit as splatculprit
from harness.splats.parse import parse_log

WARN = ("------------[ cut here ]------------\n"
        "WARNING: CPU: 2 PID: 311 at mm/vmscan.c:812 shrink_one_lru+0x4c/0x90\n"
        "Modules linked in:\n"
        "RIP: 0010:shrink_one_lru+0x4c/0x90\n"
        "Call Trace:\n"
        " <TASK>\n"
        " kswapd_balance+0x120/0x300\n"
        " kswapd+0x88/0x140\n"
        " </TASK>\n"
        "---[ end trace 0000000000000000 ]---\n")


def _prefixed(prefix: str) -> str:
    return "".join(prefix + line + "\n" for line in WARN.splitlines())


@pytest.mark.parametrize("prefix", [
    "Sep 14 09:12:33 buildhost kernel: ",                 # journalctl -o short
    "сен 14 09:12:33 buildhost kernel: ",                 # the same in a Russian locale
    "Sep 14 09:12:33.123456 kernel: ",                    # short-precise, no host name
    "Sep 14 09:12:33 kernel: [  104.331201] ",            # host name removed by the reporter
    "2024-09-14T09:12:33.123456+02:00 buildhost kernel: ",  # rsyslog RFC 3339
    "[2024/09/14, 09:12:33.120] ",                        # a serial terminal program's stamp
    "104.331201] ",                                       # a printk stamp torn by the copy
])
def test_console_prefixes_of_field_captures(prefix: str) -> None:
    (splat,) = parse_log(_prefixed(prefix))
    assert (splat.kind, splat.title, splat.function) == (
        "warning", "WARNING in shrink_one_lru", "shrink_one_lru")


def test_editor_line_numbers_before_the_printk_stamp() -> None:
    log = "".join(f"  {900 + i}\t{line}\n" for i, line in enumerate(
        _prefixed("[ 3.1] ").splitlines()))
    (splat,) = parse_log(log)
    assert (splat.kind, splat.function) == ("warning", "shrink_one_lru")


def test_hard_lockup_reported_through_warn() -> None:
    log = ("[ 9.0] ------------[ cut here ]------------\n"
           "[ 9.1] WARNING: CPU: 1 PID: 0 at kernel/watchdog.c:264 "
           "watchdog_overflow_callback+0x9a/0xc0()\n"
           "[ 9.2] Watchdog detected hard LOCKUP on cpu 1\n"
           "[ 9.3] CPU: 1 PID: 0 Comm: swapper/1 Not tainted 3.16.0-4-amd64 #1\n"
           "[ 9.4] Call Trace:\n"
           "[ 9.5]  <NMI>  [<ffffffff8150b4c5>] dump_stack+0x41/0x51\n"
           "[ 9.6]  [<ffffffff81067767>] warn_slowpath_common+0x77/0x90\n"
           "[ 9.7]  [<ffffffff810677cc>] warn_slowpath_fmt+0x4c/0x50\n"
           "[ 9.8]  [<ffffffff810fccd8>] watchdog_overflow_callback+0x9a/0xc0\n"
           "[ 9.9]  <EOE>  [<ffffffffa0123456>] foo_poll_hw+0x30/0x90 [foo]\n"
           "[ 9.9] ---[ end trace 1b2c3d4e5f607182 ]---\n")
    (splat,) = parse_log(log)
    assert (splat.kind, splat.title) == ("hard_lockup", "watchdog: hard LOCKUP in foo_poll_hw")


def test_syslogd_wall_message() -> None:
    log = ("Message from syslogd@buildhost at Sep 14 09:12:33 ...\n"
           " kernel:unregister_netdevice: waiting for veth3 to become free. Usage count = 2\n")
    (splat,) = parse_log(log)
    assert (splat.kind, splat.title) == ("refcount",
                                         "unregister_netdevice: waiting for DEV to become free")


def test_hung_task_header_split_by_a_newline_in_the_comm() -> None:
    log = ("[  612.100000] INFO: task foo\n"
           "[  612.100000] bar:4242 blocked for more than 122 seconds.\n"
           "[  612.100100]       Not tainted 6.9.0 #1\n"
           "[  612.100200] task:foo\n"
           "[  612.100200] bar           state:D stack:0     pid:4242  ppid:1 flags:0x00004002\n"
           "[  612.100300] Call Trace:\n"
           "[  612.100300]  <TASK>\n"
           "[  612.100400]  __schedule+0x2f0/0x9a0\n"
           "[  612.100500]  schedule+0x3c/0xe0\n"
           "[  612.100600]  schedule_timeout+0x1f0/0x280\n"
           "[  612.100700]  __wait_for_common+0x19c/0x380\n"
           "[  612.100800]  __flush_work+0x2a4/0x5f0\n"
           "[  612.100900]  vhost_dev_flush+0x8c/0xe0\n"
           "[  612.101000]  vhost_net_release+0x44/0x170\n"
           "[  612.101100]  __fput+0xec/0x2c0\n"
           "[  612.101200]  </TASK>\n")
    (splat,) = parse_log(log)
    assert (splat.kind, splat.function) == ("hung_task", "vhost_dev_flush")


def test_hung_task_in_a_workqueue_flush_names_the_flusher() -> None:
    names = ["__switch_to", "__schedule", "schedule", "schedule_timeout", "wait_for_completion",
             "__flush_work", "flush_work", "drain_local_caches", "offline_pages"]
    assert splatculprit.pick(names, [], "hung_task") == "drain_local_caches"
    names = ["__schedule", "schedule", "__flush_workqueue", "drain_workqueue", "foo_remove"]
    assert splatculprit.pick(names, [], "hung_task") == "foo_remove"


ARM_OLD = (
    "[ 88.1] BUG: scheduling while atomic: irq/45-foo/97/0x00000102\n"
    "[ 88.1] Modules linked in: foo_wlan(O)\n"
    "[ 88.2] CPU: 0 PID: 97 Comm: irq/45-foo Tainted: G           O 3.14.79 #3\n"
    "[ 88.2] Backtrace: \n"
    "[ 88.3] [<c0012f20>] (dump_backtrace+0x0/0x10c) from [<c0013104>] (show_stack+0x18/0x1c)\n"
    "[ 88.3]  r6:c0542a10 r5:00000000 r4:c0588e00\n"
    "[ 88.4] [<c00130ec>] (show_stack+0x0/0x1c) from [<c03a1e54>] (dump_stack+0x20/0x28)\n"
    "[ 88.4] [<c03a1e34>] (dump_stack+0x0/0x28) from [<c00431b8>] (__schedule_bug+0x50/0x64)\n"
    "[ 88.5] [<c0043168>] (__schedule_bug+0x0/0x64) from [<c03a2a40>] (__schedule+0x68/0x404)\n"
    "[ 88.5] [<c03a29d8>] (__schedule+0x0/0x404) from [<c03a2e10>] (schedule+0x70/0x74)\n"
    "[ 88.6] [<c03a2da0>] (schedule+0x0/0x74) from [<c03a4a1c>] "
    "(__mutex_lock_slowpath+0xe0/0x1a0)\n"
    "[ 88.6] [<c03a493c>] (__mutex_lock_slowpath+0x0/0x1a0) from [<bf01a2d4>] "
    "(foo_wlan_rx_irq+0x3c/0x120 [foo_wlan])\n")


def test_arm_frames_of_3x_kernels_and_the_outermost_caller() -> None:
    (splat,) = parse_log(ARM_OLD)
    assert (splat.kind, splat.title, splat.function) == (
        "atomic_sleep", "BUG: scheduling while atomic in foo_wlan_rx_irq", "foo_wlan_rx_irq")
    assert splat.frames[-1].module == "foo_wlan"


def test_arm_frames_of_4x_kernels() -> None:
    log = ("[ 51.0] INFO: task kworker/u8:3:1502 blocked for more than 120 seconds.\n"
           "[ 51.1]       Not tainted 4.19.66-v7+ #1253\n"
           "[ 51.2] kworker/u8:3    D    0  1502      2 0x00000000\n"
           "[ 51.3] Workqueue: writeback wb_workfn (flush-179:0)\n"
           "[ 51.4] [<8083c2a0>] (__schedule) from [<8083c8e4>] (schedule+0x50/0xa8)\n"
           "[ 51.5] [<8083c8e4>] (schedule) from [<8083cc6c>] (io_schedule+0x20/0x40)\n"
           "[ 51.6] [<8083cc6c>] (io_schedule) from [<80232a10>] (__lock_page+0x118/0x14c)\n"
           "[ 51.7] [<80232a10>] (__lock_page) from [<80249c30>] (mpage_writepages+0x90/0x10c)\n"
           "[ 51.8] [<80249c30>] (mpage_writepages) from [<8024c0e8>] (do_writepages+0x50/0x9c)\n")
    (splat,) = parse_log(log)
    assert (splat.kind, splat.function) == ("hung_task", "mpage_writepages")


def test_decode_stacktrace_frames_and_rip() -> None:
    log = ("general protection fault, probably for non-canonical address 0xdffffc0000000003: "
           "0000 [#1] PREEMPT SMP KASAN\n"
           "KASAN: null-ptr-deref in range [0x0000000000000018-0x000000000000001f]\n"
           "CPU: 1 PID: 733 Comm: modprobe Not tainted 6.3.0 #1\n"
           "RIP: 0010:foo_probe_port (drivers/misc/foo.c:211) \n"
           "Call Trace:\n"
           " <TASK>\n"
           "? die_addr (arch/x86/kernel/dumpstack.c:460) \n"
           "foo_probe (drivers/misc/foo.c:260 drivers/misc/foo.c:301) \n"
           "really_probe (drivers/base/dd.c:658) \n")
    (splat,) = parse_log(log)
    assert (splat.kind, splat.title, splat.function) == (
        "oops", "general protection fault in foo_probe_port", "foo_probe_port")
    assert [f.function for f in splat.frames] == ["die_addr", "foo_probe", "really_probe"]
    assert splat.frames[1].source == "drivers/misc/foo.c:260"


def test_a_stack_of_only_guesses_is_read() -> None:
    log = ("INFO: task mysqld:2210 blocked for more than 120 seconds.\n"
           "\"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message.\n"
           "mysqld          D ffff88003f4d3080     0  2210      1 0x00000000\n"
           "Call Trace:\n"
           " [<ffffffff8150a1c3>] ? __mutex_lock_slowpath+0x13e/0x180\n"
           " [<ffffffff8150a05b>] ? mutex_lock+0x2b/0x50\n"
           " [<ffffffff811a2d1e>] ? ext4_sync_file+0x9e/0x2a0\n"
           " [<ffffffff811a8f11>] ? vfs_fsync_range+0xa1/0x100\n")
    (splat,) = parse_log(log)
    assert splat.function == "ext4_sync_file"


@pytest.mark.parametrize(("cands", "kind", "want"), [
    # device printk wrappers print for their caller
    (["vprintk_emit", "dev_vprintk_emit", "dev_printk_emit", "__netdev_printk", "netdev_warn",
      "foo_link_update"], "rcu_stall", "foo_link_update"),
    # the arm unwinder's own frame, and the completion wait's core
    (["unwind_backtrace", "show_stack", "dump_stack", "__schedule_bug", "__schedule", "schedule",
      "schedule_timeout", "wait_for_common", "foo_cmd_sync"], "atomic_sleep", "foo_cmd_sync"),
    # the page allocator sleeps on its caller's behalf
    (["__cond_resched", "__alloc_pages_nodemask", "alloc_pages_current", "__get_free_pages",
      "foo_ring_init"], "atomic_sleep", "foo_ring_init"),
    # reference-tracker debugging is like refcount_t's: its caller put the reference
    (["ref_tracker_free", "foo_release", "__fput"], "warning", "foo_release"),
    # a file system's panic helper BUG()s for its caller
    (["__ext5_panic", "ext5_journal_commit"], "bug", "ext5_journal_commit")])
def test_reporting_layers_found_in_field_logs(cands: list[str], kind: str, want: str) -> None:
    assert splatculprit.pick(cands, [], kind) == want


def test_refcount_warning_without_its_message_is_refcount() -> None:
    log = ("[ 90.0] WARNING: CPU: 3 PID: 77 at lib/refcount.c:28 refcount_warn_saturate+0xd8/0xe0\n"
           "[ 90.1] Modules linked in:\n"
           "[ 90.2] RIP: 0010:refcount_warn_saturate+0xd8/0xe0\n"
           "[ 90.3] Call Trace:\n"
           "[ 90.4]  <TASK>\n"
           "[ 90.5]  foo_session_put+0x5a/0x70\n"
           "[ 90.6]  foo_ioctl+0x1c4/0x300\n"
           "[ 90.7]  </TASK>\n"
           "[ 90.8] ---[ end trace 0000000000000000 ]---\n")
    (splat,) = parse_log(log)
    assert (splat.kind, splat.title, splat.function) == (
        "refcount", "WARNING: refcount bug in foo_session_put", "foo_session_put")


STALL = (
    "[ 300.100000] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:\n"
    "[ 300.100100] rcu: \tTasks blocked on level-0 rcu_node (CPUs 0-1): P812/1:b..l\n"
    "[ 300.100200] rcu: \t(detected by 1, t=10502 jiffies, g=9001, q=77 ncpus=2)\n"
    "[ 300.100300] task:foo-worker      state:R  running task     stack:0     pid:812   ppid:2\n"
    "[ 300.100400] Call Trace:\n"
    "[ 300.100500]  <TASK>\n"
    "[ 300.100600]  __schedule+0x3a0/0xb40\n"
    "[ 300.100700]  preempt_schedule_common+0x44/0x90\n"
    "[ 300.100800]  foo_scan_table+0x1d0/0x2f0\n"
    "[ 300.100900]  foo_worker+0x58/0xc0\n"
    "[ 300.101000]  </TASK>\n"
    "[ 300.101100] rcu: rcu_preempt kthread starved for 10490 jiffies! g9001 f0x0 "
    "RCU_GP_WAIT_FQS(5) ->state=0x0 ->cpu=0\n"
    "[ 300.101200] rcu: RCU grace-period kthread stack dump:\n"
    "[ 300.101300] task:rcu_preempt     state:R  running task     stack:0     pid:16    ppid:2\n"
    "[ 300.101400] Call Trace:\n"
    "[ 300.101500]  <TASK>\n"
    "[ 300.101600]  __schedule+0x3a0/0xb40\n"
    "[ 300.101700]  rcu_gp_fqs_loop+0x1c4/0x600\n"
    "[ 300.101800]  rcu_gp_kthread+0x9c/0x140\n"
    "[ 300.101900]  </TASK>\n"
    "[ 300.102000] rcu: Stack dump where RCU GP kthread last ran:\n"
    "[ 300.102100] Sending NMI from CPU 1 to CPUs 0:\n"
    "[ 300.102200] NMI backtrace for cpu 0\n"
    "[ 300.102300] CPU: 0 PID: 900 Comm: bar Not tainted 6.8.0 #1\n"
    "[ 300.102400] RIP: 0010:bar_spin_poll+0x12/0x40\n"
    "[ 300.102500] Call Trace:\n"
    "[ 300.102600]  <NMI>\n"
    "[ 300.102700]  nmi_cpu_backtrace+0xc0/0x120\n"
    "[ 300.102800]  </NMI>\n"
    "[ 300.102900]  <TASK>\n"
    "[ 300.103000]  bar_spin_poll+0x12/0x40\n"
    "[ 300.103100]  </TASK>\n")


def test_rcu_stall_culprit_is_not_read_from_the_gp_kthread_dumps() -> None:
    (splat,) = parse_log(STALL)
    assert (splat.kind, splat.title) == ("rcu_stall", "INFO: rcu detected stall in foo_scan_table")


@pytest.mark.parametrize("header", [
    "BUG: Bad page state in process foo  pfn:1a2b3",
    "Unable to handle kernel paging request at virtual address 0000000000dead10",
])
def test_a_header_printed_twice_in_a_row_is_one_report(header: str) -> None:
    log = (f"[ 50.0] {header}\n[ 50.0] {header}\n"
           "[ 50.1] CPU: 0 PID: 9 Comm: foo Not tainted 5.10.0 #1\n[ 50.2] Call trace:\n"
           "[ 50.3]  foo_handler+0x10/0x40\n[ 50.4]  foo_main+0x20/0x80\n")
    assert len(parse_log(log)) == 1


def test_headers_of_other_cpus_in_a_row_are_other_reports() -> None:
    log = "".join(f"[ 70.{i}] NMI watchdog: Watchdog detected hard LOCKUP on cpu {i}\n"
                  for i in range(3))
    assert [s.kind for s in parse_log(log)] == ["hard_lockup"] * 3


def test_kmemleak_record_without_its_first_line() -> None:
    log = ("    6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b a5  kkkkkkkkkkkkkkk.\n"
           "  backtrace:\n"
           "    [<00000000a1b2c3d4>] __kmalloc+0x1a4/0x2f0\n"
           "    [<00000000b2c3d4e5>] foo_table_grow+0x3c/0x90 [foo]\n"
           "    [<00000000c3d4e5f6>] foo_ioctl+0x2e0/0x400 [foo]\n"
           "    [<00000000d4e5f6a7>] __x64_sys_ioctl+0x8d/0xc0\n")
    (splat,) = parse_log(log)
    assert (splat.kind, splat.title, splat.function) == (
        "memory_leak", "memory leak in foo_table_grow", "foo_table_grow")
    # the word alone, in a user program's output, is no report
    assert parse_log("results:\n  backtrace:\n    none\n") == []
