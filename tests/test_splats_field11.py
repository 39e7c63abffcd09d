"""Culprit and title rules found by measuring the splat reader on the remaining misses of field
batches 2-10, held out against batch 11 (issue #19).

Every log here is written for the test from the kernel's print formats (arch/x86/mm/fault.c's
page-fault Oops, arch/arm64/mm/fault.c's die_kernel_fault, arch/x86/kernel/traps.c's
handle_stack_overflow, arch/arm64/kernel/traps.c's handle_bad_stack, kernel/watchdog.c's soft
lockup, lib/dump_stack.c); the function names are kernel functions or invented ones (`frob_*`).
"""

from __future__ import annotations

import pytest

from harness.splats.table import arch_neutral
from tests.conftest import kind_function_title as _one


# A syscall wrapper is titled as the field spells it: a 64-bit arch entry or the plain function
# by the syscall's kernel name (`sys_X`, the same on every arch), the inner SYSCALL_DEFINE
# layers, 4.x's SyS_, the ia32 entry and compat entries by the bare syscall (`X`); the culprit
# function stays the frame as printed.
@pytest.mark.parametrize(("frame", "spelled"), [
    ("__x64_sys_rmdir", "sys_rmdir"), ("__arm64_sys_rmdir", "sys_rmdir"),
    ("__riscv_sys_rmdir", "sys_rmdir"), ("sys_rmdir", "sys_rmdir"),
    ("__ia32_sys_rmdir", "rmdir"), ("__se_sys_rmdir", "rmdir"),
    ("__do_sys_rmdir", "rmdir"), ("SyS_rmdir", "rmdir"),
    ("compat_SyS_mount", "mount"), ("__ia32_compat_sys_mount", "mount"),
    ("__arm64_compat_sys_mount", "mount"), ("__do_compat_sys_mount", "mount"),
    ("__sys_sendmsg", "__sys_sendmsg"), ("ksys_ioctl", "ksys_ioctl"), ("sysfs_frob", "sysfs_frob"),
])
def test_syscall_wrapper_spelling(frame: str, spelled: str) -> None:
    assert arch_neutral(frame) == spelled


SOFT_LOCKUP = {
    "x86_64": """\
[  281.6] watchdog: BUG: soft lockup - CPU#1 stuck for 134s! [frobd:4588]
[  281.6] Modules linked in:
[  281.6] CPU: 1 PID: 4588 Comm: frobd Not tainted 4.9.0 #1
[  281.6] Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.3 04/01/2014
[  281.6] RIP: 0010:[<ffffffff81c66ccf>]  [<ffffffff81c66ccf>] {wrapper}+0x40/0x80
[  281.6] RSP: 0018:ffff880183f5f9f8  EFLAGS: 00000293
[  281.6] Call Trace:
[  281.6]  [<ffffffff81c66d10>] do_fast_syscall_32+0x2f4/0x860
[  281.6]  [<ffffffff838a0766>] entry_SYSENTER_compat+0x70/0x7f
""",
    "arm64": """\
[  281.6] watchdog: BUG: soft lockup - CPU#1 stuck for 134s! [frobd:4588]
[  281.6] Modules linked in:
[  281.6] CPU: 1 PID: 4588 Comm: frobd Not tainted 5.10.0 #1
[  281.6] Hardware name: linux,dummy-virt (DT)
[  281.6] pstate: 80400005 (Nzcv daif +PAN -UAO -TCO BTYPE=--)
[  281.6] pc : {wrapper}+0x40/0x80
[  281.6] lr : {wrapper}+0x38/0x80
[  281.6] sp : ffff800012f3bd60
[  281.6] Call trace:
[  281.6]  {wrapper}+0x40/0x80
[  281.6]  el0_svc_common.constprop.0+0x7c/0x1c0
[  281.6]  do_el0_svc_compat+0x1c/0x28
[  281.6]  el0_svc_compat+0x1c/0x28
""",
}


@pytest.mark.parametrize(("arch", "wrapper", "title"), [
    ("x86_64", "compat_SyS_mount", "BUG: soft lockup in mount"),
    ("arm64", "__arm64_compat_sys_mount", "BUG: soft lockup in mount"),
    ("x86_64", "__ia32_compat_sys_mount", "BUG: soft lockup in mount"),
    ("arm64", "__arm64_sys_mount", "BUG: soft lockup in sys_mount"),
])
def test_soft_lockup_in_a_syscall_wrapper_is_titled_by_the_syscall(arch: str, wrapper: str,
                                                                    title: str) -> None:
    assert _one(SOFT_LOCKUP[arch].format(wrapper=wrapper)) == ("soft_lockup", wrapper, title)


# A fault in the slab freeing path (here the string helper it calls) while KASAN's quarantine
# drains is the quarantine's own: named after the drain, not the allocation that triggered it.
QUARANTINE_FAULT = {
    "x86_64": """\
[ 2766.5] BUG: unable to handle page fault for address: ffffe8ffffe00000
[ 2766.5] #PF: supervisor read access in kernel mode
[ 2766.5] #PF: error_code(0x0000) - not-present page
[ 2766.5] PGD 12c25b067 P4D 12c25b067 PUD 12c25c067 PMD 0
[ 2766.5] Oops: 0000 [#1] PREEMPT SMP KASAN
[ 2766.5] CPU: 0 PID: 26603 Comm: frobd Not tainted 5.10.0 #1
[ 2766.5] Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.3 04/01/2014
[ 2766.5] RIP: 0010:__memmove+0x24/0x1a0
[ 2766.5] Code: 90 90 48 89 f8 48 83 fa 20 0f 82 03 01 00 00 <48> 39 fe 7d 0f 49 89 f0 49 01 d0
[ 2766.5] RSP: 0018:ffff888098f9fbd0 EFLAGS: 00010002
[ 2766.5] RAX: ffff8880a2d4c000 RBX: ffffe8ffffe00000 RCX: 0000000000000008
[ 2766.5] Call Trace:
[ 2766.5]  ___cache_free+0x291/0x380
[ 2766.5]  qlist_free_all+0x85/0x150
[ 2766.5]  kasan_quarantine_reduce+0x169/0x1b0
[ 2766.5]  __kasan_slab_alloc+0x8e/0xa0
[ 2766.5]  kmem_cache_alloc+0x11a/0x6f0
[ 2766.5]  getname_flags+0xd6/0x5b0
[ 2766.5]  do_sys_openat2+0x1a3/0x470
[ 2766.5]  __x64_sys_openat+0x13f/0x1f0
[ 2766.5]  do_syscall_64+0x35/0xb0
[ 2766.5]  entry_SYSCALL_64_after_hwframe+0x44/0xae
[ 2766.5] ---[ end trace a09fada1be6227a0 ]---
""",
    "arm64": """\
[ 2766.5] Unable to handle kernel paging request at virtual address ffff00000e000000
[ 2766.5] Mem abort info:
[ 2766.5]   ESR = 0x96000007
[ 2766.5]   EC = 0x25: DABT (current EL), IL = 32 bits
[ 2766.5] Internal error: Oops: 96000007 [#1] PREEMPT SMP
[ 2766.5] Modules linked in:
[ 2766.5] CPU: 0 PID: 26603 Comm: frobd Not tainted 5.10.0 #1
[ 2766.5] Hardware name: linux,dummy-virt (DT)
[ 2766.5] pstate: 80400005 (Nzcv daif +PAN -UAO -TCO BTYPE=--)
[ 2766.5] pc : __memcpy+0x110/0x180
[ 2766.5] lr : ___cache_free+0x98/0x3c0
[ 2766.5] sp : ffff800012f3bb20
[ 2766.5] Call trace:
[ 2766.5]  __memcpy+0x110/0x180
[ 2766.5]  ___cache_free+0x98/0x3c0
[ 2766.5]  qlist_free_all+0x5c/0xd0
[ 2766.5]  kasan_quarantine_reduce+0x14c/0x190
[ 2766.5]  __kasan_slab_alloc+0x7c/0xa0
[ 2766.5]  kmem_cache_alloc+0x1a4/0x3a0
[ 2766.5]  getname_flags+0x60/0x260
[ 2766.5]  do_sys_openat2+0x98/0x1b0
[ 2766.5]  __arm64_sys_openat+0xa0/0xf8
[ 2766.5]  el0_svc_common.constprop.0+0x7c/0x1c0
[ 2766.5] Code: a8c12027 a88120c7 a8c12027 a88120c7 (a8c12027)
[ 2766.5] ---[ end trace a09fada1be6227a0 ]---
""",
}


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_fault_while_draining_the_kasan_quarantine_is_the_quarantines(arch: str) -> None:
    kind, function, _title = _one(QUARANTINE_FAULT[arch])
    assert (kind, function) == ("oops", "qlist_free_all")


def test_a_stall_in_the_quarantine_keeps_its_unit_of_work() -> None:
    # the quarantine rule is for faults: a CPU stalled there is named by what it was doing
    log = QUARANTINE_FAULT["x86_64"].splitlines()
    stall = ["[ 2766.4] watchdog: BUG: soft lockup - CPU#0 stuck for 23s! [frobd:26603]",
             *[ln.replace("__memmove+0x24/0x1a0", "qlist_free_all+0x4e/0x100") for ln in log[5:]
               if "Code:" not in ln and "___cache_free" not in ln]]
    assert _one("\n".join(stall) + "\n") == ("soft_lockup", "__x64_sys_openat",
                                              "BUG: soft lockup in sys_openat")


# A stack overflow through a cycle of functions (a notifier chain re-entering itself through
# another device) is named by the unit of work that entered it; a function calling itself is
# the recursion and keeps its name.
CYCLE = ["frob_netdev_event", "notifier_call_chain", "call_netdevice_notifiers_info",
         "__netdev_update_features", "netdev_change_features", "frob_compute_features"]
ENTRY = ["frob_add_slave", "do_setlink", "rtnl_newlink", "rtnetlink_rcv_msg", "netlink_rcv_skb",
         "netlink_unicast", "netlink_sendmsg", "sock_sendmsg", "____sys_sendmsg",
         "__sys_sendmsg"]


def _overflow(arch: str, frames: list[str]) -> str:
    if arch == "x86_64":
        head = ("[ 2331.7] BUG: stack guard page was hit at ffffc9001a6e7fe8 (stack is "
                "ffffc9001a6e8000..ffffc9001a6effff)\n"
                "[ 2331.7] kernel stack overflow (double-fault): 0000 [#1] PREEMPT SMP KASAN\n"
                "[ 2331.7] CPU: 0 PID: 9061 Comm: frobd Not tainted 5.13.0 #1\n"
                "[ 2331.7] Hardware name: QEMU Standard PC (i440FX + PIIX, 1996)\n"
                "[ 2331.7] RIP: 0010:arch_stack_walk+0x57/0xe0\n"
                "[ 2331.7] RSP: 0018:ffffc9001a6e7ff0 EFLAGS: 00010246\n"
                "[ 2331.7] Call Trace:\n"
                "[ 2331.7]  stack_trace_save+0x8c/0xc0\n[ 2331.7]  kasan_save_stack+0x1b/0x40\n"
                "[ 2331.7]  kfree+0xeb/0x670\n[ 2331.7]  pskb_expand_head+0xb0b/0x1060\n")
        tail = ("[ 2331.7]  do_syscall_64+0x35/0xb0\n"
                "[ 2331.7]  entry_SYSCALL_64_after_hwframe+0x44/0xae\n"
                "[ 2331.7] ---[ end trace 0e3920d6a9af969b ]---\n"
                "[ 2331.7] RIP: 0010:arch_stack_walk+0x57/0xe0\n")
    else:
        head = ("[ 2331.7] Insufficient stack space to handle exception!\n"
                "[ 2331.7] ESR: 0x96000047 -- DABT (current EL)\n"
                "[ 2331.7] FAR: 0xffff80001a6e7fe0\n"
                "[ 2331.7] Task stack:     [0xffff80001a6e8000..0xffff80001a6f0000]\n"
                "[ 2331.7] IRQ stack:      [0xffff800010000000..0xffff800010008000]\n"
                "[ 2331.7] Overflow stack: [0xffff00007fbc0390..0xffff00007fbc1390]\n"
                "[ 2331.7] CPU: 0 PID: 9061 Comm: frobd Not tainted 6.1.0 #1\n"
                "[ 2331.7] Hardware name: linux,dummy-virt (DT)\n"
                "[ 2331.7] pstate: 80400005 (Nzcv daif +PAN -UAO -TCO -DIT -SSBS BTYPE=--)\n"
                "[ 2331.7] pc : mark_lock+0x4/0x1b4\n[ 2331.7] lr : lock_acquire+0x100/0x1f8\n"
                "[ 2331.7] sp : ffff80001a6e8010\n"
                "[ 2331.7] Kernel panic - not syncing: kernel stack overflow\n"
                "[ 2331.7] Call trace:\n"
                "[ 2331.7]  dump_backtrace+0x1c4/0x1f0\n[ 2331.7]  show_stack+0x2c/0x54\n"
                "[ 2331.7]  dump_stack_lvl+0x104/0x16c\n[ 2331.7]  panic+0x218/0x50c\n"
                "[ 2331.7]  nmi_panic+0xbc/0xf0\n[ 2331.7]  panic_bad_stack+0x134/0x154\n"
                "[ 2331.7]  handle_bad_stack+0x34/0x48\n[ 2331.7]  __bad_stack+0x78/0x7c\n"
                "[ 2331.7]  mark_lock+0x4/0x1b4\n[ 2331.7]  lock_acquire+0x100/0x1f8\n"
                "[ 2331.7]  psi_group_change+0x128/0x3d0\n")
        tail = ("[ 2331.7]  __arm64_sys_sendmsg+0x2c/0x3c\n"
                "[ 2331.7]  el0_svc_common.constprop.0+0x7c/0x1c0\n")
    return head + "".join(f"[ 2331.7]  {f}+0x10/0x100\n" for f in frames) + tail


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_overflow_through_a_cycle_is_named_by_its_unit_of_work(arch: str) -> None:
    kind, function, _title = _one(_overflow(arch, CYCLE * 4 + ENTRY))
    assert (kind, function) == ("stack", "rtnl_newlink")


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_overflow_of_a_self_recursive_function_is_named_by_it(arch: str) -> None:
    frames = ["frob_walk"] * 8 + ["frob_setsockopt", "__sys_setsockopt"]
    kind, function, _title = _one(_overflow(arch, frames).replace("pskb_expand_head", "frob_walk"))
    assert (kind, function) == ("stack", "frob_walk")


# A C++-mangled plain function (an out-of-tree module built as C++) is named by its identifier.
MANGLED_WARNING = {
    "x86_64": """\
[  492.2] ------------[ cut here ]------------
[  492.2] WARNING: CPU: 1 PID: 2495 at frob/frob.cc:42 _Z9frob_pokeiii+0x49a/0x1a10
[  492.2] Modules linked in: frob
[  492.2] CPU: 1 PID: 2495 Comm: frobd Not tainted 6.1.0 #1
[  492.2] RIP: 0010:_Z9frob_pokeiii+0x49a/0x1a10
[  492.2] Call Trace:
[  492.2]  <TASK>
[  492.2]  _Z9frob_pokeiii+0x49a/0x1a10
[  492.2]  frob_ioctl+0x8c/0x120
[  492.2]  </TASK>
[  492.2] ---[ end trace 0000000000000000 ]---
""",
    "arm64": """\
[  492.2] ------------[ cut here ]------------
[  492.2] WARNING: CPU: 1 PID: 2495 at frob/frob.cc:42 _Z9frob_pokeiii+0x49a/0x1a10
[  492.2] Modules linked in: frob
[  492.2] CPU: 1 PID: 2495 Comm: frobd Not tainted 6.1.0 #1
[  492.2] pc : _Z9frob_pokeiii+0x49a/0x1a10
[  492.2] lr : frob_ioctl+0x8c/0x120
[  492.2] Call trace:
[  492.2]  _Z9frob_pokeiii+0x49a/0x1a10
[  492.2]  frob_ioctl+0x8c/0x120
[  492.2] ---[ end trace 0000000000000000 ]---
""",
}


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_a_cxx_mangled_function_is_named_by_its_identifier(arch: str) -> None:
    assert _one(MANGLED_WARNING[arch]) == ("warning", "frob_poke", "WARNING in frob_poke")
