"""What the kernel prints when something goes wrong: the splat table and its regexes.

Each `StartPattern` row of `TABLE` is (kind, start regex, title formats, where the culprit
comes from). The other patterns say which lines continue a report (BODY, STRONG, POST_END),
which end it (TERM, END_TRACE, CUT) and how titles are normalised (fn, norm); which frames
to skip when naming the culprit is harness.splats.culprit. The state machine that walks a log with
them is harness.splats.parse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.splats.rust import demangle


@dataclass(frozen=True)
class StartPattern:
    kind: str
    rx: re.Pattern[str]
    titles: tuple[str, ...]
    src: tuple[str, ...] = ("trace",)
    at: str = ""            # culprit = the ", at:" function after the line matching this
    allow: str = ""         # kind-specific continuation lines that would otherwise close it
    role: str = ""          # oops_hdr | panic | generic | leak_summary
    free: int = -1          # lines after the header that continue it (-1: 3 if it has a stack)


def start_pattern(kind: str, rx: str, titles: tuple[str, ...], src: tuple[str, ...] = ("trace",),
       free: int = -1, **kw: str) -> StartPattern:
    return StartPattern(kind, re.compile(rx), titles, src, free=free, **kw)


DL = ("possible deadlock in {func}", "possible deadlock")
W = ("WARNING in {func}", "WARNING at {loc}", "WARNING")
HDR = ("hdr", "rip", "trace")
NMI = r"NMI backtrace for cpu|Sending NMI from CPU|Task dump for CPU|Showing all locks held"
LD = r"(?:WARNING|\[ INFO|\[ BUG): "
TABLE = (
    start_pattern("lockdep", LD + r"possible circular locking dependency detected", DL, ("at", "trace"),
       at="is trying to acquire"),
    start_pattern("lockdep", LD + r"possible recursive locking detected", DL, ("at", "trace"),
       at="is trying to acquire"),
    start_pattern("lockdep", LD + r"possible irq lock inversion dependency detected", DL,
       ("at", "trace"), at="just changed the state"),
    start_pattern("lockdep", LD + r"\w+-safe -> \w+-unsafe lock order detected", DL, ("at", "trace"),
       at="is trying to acquire"),
    start_pattern("lockdep", LD + r"inconsistent lock state", ("inconsistent lock state in {func}",
       "inconsistent lock state"), ("at", "trace"), at="takes:"),
    start_pattern("lockdep", LD + r"bad unlock balance detected", ("WARNING: bad unlock balance in {func}",
       "WARNING: bad unlock balance"), ("at", "trace"), at="is trying to release"),
    start_pattern("lockdep", LD + r"bad contention detected", ("WARNING: bad contention in {func}",
       "WARNING: bad contention"), ("at", "trace"), at="is trying to contend"),
    start_pattern("lockdep", LD + r"held lock freed", ("WARNING: held lock freed in {func}",
       "WARNING: held lock freed"), ("at", "trace"), at="lock still held"),
    start_pattern("lockdep", LD + r"lock held when returning to user space", (
       "WARNING: lock held when returning to user space in {func}",
       "WARNING: lock held when returning to user space"), ("at",), at="is leaving the kernel"),
    start_pattern("lockdep", LD + r"(?P<comm>\S+)/(?P<pid>\d+) still has locks held", (
       "WARNING: lock held at task exit in {func}", "WARNING: lock held at task exit"),
       ("at", "trace"), at="held by"),
    start_pattern("lockdep", LD + r"Nested lock was not taken", (
       "WARNING: nested lock was not taken in {func}", "WARNING: nested lock was not taken"),
       ("at", "trace"), at="is trying to lock"),
    start_pattern("lockdep", r"\[ BUG: Invalid wait context \]", ("BUG: Invalid wait context in {func}",
       "BUG: Invalid wait context"), ("at", "trace"), at="is trying to lock"),
    start_pattern("lockdep", r"WARNING: chain_key collision", ("WARNING: chain_key collision in {func}",
       "WARNING: chain_key collision")),
    start_pattern("lockdep", r"INFO: trying to register non-static key", (
       "INFO: trying to register non-static key in {func}",
       "INFO: trying to register non-static key")),
    start_pattern("lockdep", r"BUG: (?P<what>MAX_\w+|[\w ]+) too low!", ("BUG: {what} too low!",)),
    start_pattern("lockdep", r"BUG: +\d+ unexpected failures", ("BUG: locking selftest failures",), ()),
    start_pattern("rcu", LD + r"suspicious RCU usage", ("suspicious RCU usage at {loc}",
       "suspicious RCU usage in {func}", "suspicious RCU usage")),
    start_pattern("rcu_stall", r"(?:rcu: )?INFO: \w+ (?:self-)?detected (?:expedited )?stalls? on", (
       "INFO: rcu detected stall in {func}", "INFO: rcu detected stall"), ("rip", "trace"),
       allow=NMI),
    start_pattern("soft_lockup", r"(?:\w+ )?(?:watchdog: )?BUG: soft lockup - CPU#(?P<cpu>\d+) stuck for "
       r"\d+s! \[(?P<comm>.*):(?P<pid>\d+)\]", ("BUG: soft lockup in {func}", "BUG: soft lockup"),
       ("rip", "trace"), allow=NMI),
    start_pattern("hard_lockup", r"(?:\w+ )?(?:watchdog: )?(?:CPU\d+: )?Watchdog detected hard LOCKUP on cpu "
       r"(?P<cpu>\d+)", ("watchdog: hard LOCKUP in {func}", "watchdog: hard LOCKUP"),
       ("rip", "trace"), allow=NMI),
    start_pattern("hung_task", r"(?:INFO: task (?P<comm>.+)|[^\[\]]*\S):(?P<pid>\d+) blocked(?: in I/O wait)? for "
       r"more than \d+ seconds", ("INFO: task hung in {func}", "INFO: task hung"),
       allow="Showing all locks held"),
    start_pattern("hung_task", r"INFO: task (?P<comm>.+):(?P<pid>\d+) can't die for more than \d+ seconds", (
       "INFO: task can't die in {func}", "INFO: task can't die")),
    start_pattern("bug", r"BUG: workqueue lockup - pool", ("BUG: workqueue lockup in {func}",
       "BUG: workqueue lockup"), ("workfn",), allow=r"Showing (?:busy workqueues|backtraces of "
       r"busy workers)|workqueue \S+: flags|pool \d+:|task:|Workqueue:"),
    start_pattern("atomic_sleep", r"BUG: sleeping function called from invalid context at (?P<loc>\S+)", (
       "BUG: sleeping function called from invalid context in {func}",
       "BUG: sleeping function called from invalid context at {loc}")),
    start_pattern("atomic_sleep", r"BUG: scheduling while atomic: (?P<comm>.+)/(?P<pid>\d+)/", (
       "BUG: scheduling while atomic in {func}", "BUG: scheduling while atomic")),
    start_pattern("atomic_sleep", r"BUG: (?P<what>workqueue leaked (?:lock or atomic|atomic, lock or RCU))",
       ("BUG: {what} in {func}", "BUG: {what}"), ("workfn", "trace")),
    start_pattern("atomic_sleep", r"BUG: (?P<what>assuming (?:atomic|non migratable) context|scheduling in a"
       r" non-blocking section)", ("BUG: {what} in {func}", "BUG: {what}")),
    start_pattern("bug", r"BUG: using (?P<what>\S+) in preemptible", (
       "BUG: using {what} in preemptible code in {func}", "BUG: using {what} in preemptible code")),
    start_pattern("kasan", r"BUG: KAS(?:AN|an): (?P<type>double-free or invalid-free|out of bounds access|"
       r"[\w-]+)(?: in (?P<hfunc>[^\s(]+))?", (
       "KASAN: {type} {rw} in {func}", "KASAN: {type} in {func}", "KASAN: {type}"), HDR),
    start_pattern("kfence", r"BUG: KFENCE: (?P<type>.+?) in (?P<hfunc>\S+)", ("KFENCE: {type} in {func}",
       "KFENCE: {type}"), HDR),
    start_pattern("kmsan", r"BUG: KMSAN: (?P<type>use of uninitialized memory|[\w-]+) in (?P<hfunc>\S+)", ("KMSAN: {type} in {func}",
       "KMSAN: {type}"), HDR),
    start_pattern("kcsan", r"BUG: KCSAN: (?P<type>assert: race|racing (?:read|write)|[\w-]+) in (?P<hfunc>[^\s/]+)(?: / "
       r"(?P<hfunc2>\S+))?", ("KCSAN: {type} in {hfn} / {hfn2}", "KCSAN: {type} in {hfn}"), ("hdr",)),
    start_pattern("ubsan", r"UBSAN: (?P<type>.+?) in (?P<loc>\S+)", ("UBSAN: {type} in {func}",
       "UBSAN: {type} in {loc}")),
    start_pattern("bad_page", r"BUG: Bad page (?P<what>state|map|cache) in process (?P<comm>\S+)", (
       "BUG: Bad page {what} in {func}", "BUG: Bad page {what}")),
    start_pattern("bad_page", r"BUG: Bad rss-counter state(?:.* Comm:(?P<comm>\S+) Pid:(?P<pid>\d+))?", (
       "BUG: Bad rss-counter state",), ()),
    start_pattern("bad_page", r"BUG: non-zero (?P<what>\w+) on freeing mm", (
       "BUG: non-zero {what} on freeing mm",), ()),
    start_pattern("memory_leak", r"unreferenced object(?: (?:\(\w+\) )?0x[0-9a-f]+ \(size \d+\)|$)", (
       "memory leak in {func}", "memory leak")),    # (or the line alone, its object cut off)
    start_pattern("memory_leak", r"kmemleak: \d+ new suspected memory leaks", (
       "kmemleak: suspected memory leaks",), (), role="leak_summary"),
    start_pattern("slab", r"BUG (?P<cache>[\w.-]+(?:\([^)]*\))?) \((?:Not tainted|Tainted: [^)]*)\): "
       r"(?P<reason>.+)", ("SLUB: {reason} in {func}", "SLUB: {reason} in {cache}")),
    start_pattern("slab", r"INFO: (?P<what>Allocated|Freed) in (?P<hfunc>[\w.$]+)", ("INFO: {what} in {func}",),
       ("hdr",), role="fragment"),
    start_pattern("stack", r"Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: "
       r"(?P<hfunc>\S+)", ("kernel panic: stack is corrupted in {func}",
       "kernel panic: stack is corrupted"), HDR),
    start_pattern("stack", r"Kernel panic - not syncing: corrupted stack end detected inside scheduler", (
       "kernel panic: corrupted stack end in {func}", "kernel panic: corrupted stack end"),
       ("unit", "trace")),
    start_pattern("stack", r"BUG: (?:\w+ )?stack guard page was hit", ("BUG: stack guard page was hit in {func}",
       "BUG: stack guard page was hit"), ("rip", "trace")),
    start_pattern("stack", r"Insufficient stack space to handle exception", (
       "kernel stack overflow in {func}", "kernel stack overflow"), ("rip", "trace")),
    start_pattern("oops", r"(?:BUG: (?:unable to handle )?kernel NULL pointer dereference|Unable to handle "
       r"kernel NULL pointer dereference)", (
       "BUG: unable to handle kernel NULL pointer dereference in {func}",
       "BUG: unable to handle kernel NULL pointer dereference"), ("rip", "trace")),
    start_pattern("oops", r"(?:BUG: unable to handle (?:page fault for address|kernel paging request)|Unable"
       r" to handle kernel paging request|BUG: Unable to handle kernel (?:data access|instruction fetch)"
       r"(?: on (?:read|write|execute))? at 0x[0-9a-f]+)", (
       "BUG: unable to handle kernel paging request in {func}",
       "BUG: unable to handle kernel paging request"), ("rip", "trace")),
    start_pattern("oops", r"(?:BUG: u|U)nable to handle kernel(?: (?P<what>[\w -]+?))?(?: at virtual address|$)",
       ("BUG: unable to handle kernel {what} in {func}", "BUG: unable to handle kernel {what}",
        "BUG: unable to handle kernel in {func}", "BUG: unable to handle kernel"), ("rip", "trace")),
    start_pattern("bug", r"kernel BUG at (?P<loc>.+?)!?$", ("kernel BUG in {func}", "kernel BUG at {loc}"),
       ("rip", "trace")),
    start_pattern("oops", r"(?:Oops: )?(?P<what>[A-Za-z][^\[\]]*?): (?:[0-9a-f]{4}|[0-9a-f]{8}|[0-9a-f]{16})"
       r" \[#\d+\]", (), ("rip", "trace"), role="oops_hdr"),
    start_pattern("oops", r"Internal error: (?P<what>[^\[\]]*?): [0-9a-f]{1,16} \[#\d+\]", (), ("rip", "trace"),
       role="oops_hdr"),
    start_pattern("oops", r"Unhandled fault: (?P<what>.+?) \(0x[0-9a-f]+\) at 0x[0-9a-f]+", (
       "Unhandled fault: {what} in {func}", "Unhandled fault: {what}"), ("rip", "trace"),
       role="kernel_mode"),
    start_pattern("oops", r"Bad mode in (?P<handler>.+?) handler detected on CPU\d+", ("Oops bad mode in {func}",
       "Oops bad mode"), ("rip", "trace")),
    start_pattern("oops", r"PANIC: double fault", ("double fault in {func}", "double fault"), ("rip",)),
    start_pattern("oops", r"SError Interrupt on CPU\d+", ("SError Interrupt in {func}", "SError Interrupt"),
       ("rip", "trace")),
    start_pattern("cfi", r"CFI failure at (?P<hfunc>\S+)", ("CFI failure in {func}", "CFI failure"), HDR),
    start_pattern("warning", r"WARNING: (?:\[.*\] )?(?P<loc>\S+:\d+) at (?P<hfunc>[^\s,]+)(?: \[[\w-]+\])?(?:,? CPU#"
       r"(?P<cpu>\d+): (?P<comm>.+)/(?P<pid>\d+))?", W, HDR),
    start_pattern("warning", r"WARNING: at (?P<hfunc>[^\s,]+)(?: \[[\w-]+\])?,? CPU#(?P<cpu>\d+): "
       r"(?P<comm>.+)/(?P<pid>\d+)", W, HDR),
    start_pattern("warning", r"WARNING: CPU: (?P<cpu>\d+) PID: (?P<pid>\d+) at (?P<loc>\S+:\d+) "
       r"(?P<hfunc>\S+)", W, HDR),
    start_pattern("warning", r"WARNING: CPU: (?P<cpu>\d+) PID: (?P<pid>\d+) at (?P<loc>\S+:\d+)$", W,
       ("rip", "trace")),
    start_pattern("warning", r"WARNING: CPU: (?P<cpu>\d+) PID: (?P<pid>\d+) at (?P<hfunc>[A-Za-z_.$][\w.$]*"
       r"(?:\+0x\S+)?)", W, HDR),
    start_pattern("warning", r"WARNING: at (?P<loc>\S+:\d+) (?P<hfunc>[\w.]+)", W, HDR),
    start_pattern("warning", r"WARNING: CPU: (?P<cpu>\d+) PID: (?P<pid>\d+)(?: at)?$", W, ("rip", "trace")),
    start_pattern("warning", r"WARNING: kernel stack (?:regs|frame pointer) at", (
       "WARNING: kernel stack has bad value",), ()),
    start_pattern("bug", r"rust_kernel: panicked at (?P<loc>\S+?):?$", ("Rust panic",), (), free=1,
       role="message"),                         # (its message on the next line, then BUG())
    start_pattern("bug", r"VFS: Busy inodes after unmount of \S+", ("VFS: Busy inodes after unmount",), (),
       role="message"),
    start_pattern("bug", r"VFS: Close: file count is (?:zero|0)$", ("VFS: Close: file count is zero",), (),
       role="message"),
    start_pattern("bug", r"IPv6: BUG: Address \S+ on device \S+ is missing its host route", (
       "BUG: Address IPV6ADDR on device DEV is missing its host route",), (), role="message"),
    start_pattern("refcount", r"unregister_netdevice: waiting for (?P<dev>\S+) to become free", (
       "unregister_netdevice: waiting for DEV to become free",), (), role="repeat"),
    start_pattern("panic", r"Kernel panic - not syncing: (?P<reason>.*)", (), role="panic"),
    start_pattern("bug", r"BUG: Dentry \S+\s+still in use \(-?\d+\) \[unmount of \S+ \S+\]", (
       "BUG: Dentry still in use in unmount",), ("rip", "trace")),   # (no fs or loop device)
    start_pattern("bug", r"BUG: (?P<gwhat>.+)", ("BUG: {gwhat} in {func}", "BUG: {gwhat}"), ("rip", "trace"),
       role="generic"),
    start_pattern("bug", r"---\[ end trace [0-9a-f]+ \]---", ("corrupted report in {func}",
       "corrupted report"), ("rip", "trace"), role="orphan"),
    start_pattern("bug", r"(?P<label>BUG|INFO):$", ("{label}: corrupted",), (), role="generic"),
    start_pattern("warning", r"WARNING:$", ("WARNING: corrupted",), (), role="generic"),
)
_ORPHAN = ("corrupted report in {func}", "corrupted report")
_SIG = r"\s*(?:\[<?[0-9a-f]+>?\]\s*)?(?:\?\s+)?(?:"
SIGNATURES = tuple(start_pattern(kind, _SIG + rx + r")(?:\.\w+)*\+0x", _ORPHAN, ("trace",), role="orphan")
                   for kind, rx in (
    ("warning", r"__warn|report_bug|warn_slowpath_\w+"),
    ("kasan", r"_*kasan_report\w*|print_address_description\w*"),
    ("ubsan", r"__ubsan_handle_\w+|ubsan_epilogue"), ("kmsan", r"kmsan_report"),
    ("kfence", r"kfence_report_error"), ("bad_page", r"bad_page|print_bad_pte|print_bad_page_map"),
    ("atomic_sleep", r"__might_resched|___might_sleep|__schedule_bug"),
    ("rcu_stall", r"rcu_dump_cpu_stacks|print_cpu_stall\w*|print_other_cpu_stall\w*"),
    ("lockdep", (r"print_circular_bug\w*|print_usage_bug\w*|print_deadlock_bug|"
                r"print_unlock_imbalance_bug|lockdep_rcu_suspicious")),
    ("list_corruption", r"__list_\w+_valid(?:_or_report)?"), ("refcount", r"refcount_warn_saturate"),
    ("stack", r"__stack_chk_fail"), ("oops", r"oops_begin|__die|die|page_fault_oops|die_kernel_fault"),
    ("panic", r"panic")))
"""Frames only a bug report's printing puts on a stack: a stack holding one is a report whose
header was lost (dropped printk messages, a capture that starts late)."""
ORPHAN_REGS = start_pattern("bug", r"\s*(?:RIP: 0010:|pc : |PC is at )(?:\[<[0-9a-f]+>\]\s*)*"
                            r"[A-Za-z_.$][\w.$]*\+0x", _ORPHAN, ("rip", "trace"), role="orphan")
"""A kernel-mode register dump (x86 kernel CS 0010, arm64 `pc :`, arm `PC is at`): show_regs
prints one only for a report (die, WARN, lockups) or when asked (ASKED); outside both, it is a
report whose header was lost."""
ORPHAN_TASK = start_pattern("hung_task", r"task:(?P<comm>.+?)\s+state:D\s", _ORPHAN, ("trace",),
                            role="orphan")
"""A task dump in D state (sched_show_task): printed by the hung-task detector, or when asked
(sysrq w/t: a dump that ASKED starts); outside both, a hung-task report whose header was lost."""
ORPHAN_LEAK = start_pattern("memory_leak", r"\s*backtrace(?: \(crc [0-9a-f]+\))?:\s*$", ("memory leak in {func}",
                            "memory leak"), ("trace",), role="orphan")
"""kmemleak's "backtrace:" right after an object's hex dump, with no "unreferenced object" line before
it (a paste from /sys/kernel/debug/kmemleak that starts mid-record): the record of one leaked object."""
HEX_ROW = re.compile(r"\s*(?:[0-9a-f]{2} ){8,}|\s*hex dump \(first")
"""A row of kmemleak's hex dump (or its heading): the lines a leak record's backtrace follows."""
ASKED = re.compile(r"NMI backtrace|Sending NMI|[Ss]ys[Rr]q|Task dump for CPU|Show Regs")
"""Register and task dumps somebody asked for (sysrq, NMI backtraces of all CPUs): no report."""
DUMP = re.compile(r"task:|\s|\d+ locks? held by|Showing (?:all|busy)|=+$|INFO: lockdep")
"""The lines of an asked-for task dump (task lines, stacks, held locks)."""
QUICK = re.compile(r"BUG|WARNING|rust_kernel: panicked|INFO:|Oops|Bad mode|end trace|VFS: |unregister_netdevice|Unhandled fault|Internal error|[Ee]rror|[Uu]nable to handle|Kernel panic|UBSAN|"
                    r"unreferenced object|kmemleak|LOCKUP|stall|PANIC|CFI failure|SError|"
                    r"Insufficient stack|\[#\d+\]|blocked (?:in I/O wait )?for more than")
NOT_START = re.compile(r"BUG: Bad page map: \d+ messages|BUG \S+ \([^)]*\): kasan: bad access detected|INFO: lockdep is turned off|"
                        r"INFO: Stall ended|INFO: NMI handler|WARNING: workqueue cpumask")
RECLASS: tuple[tuple[re.Pattern[str], str, tuple[str, ...]], ...] = tuple(
    (re.compile(rx, re.MULTILINE), kind, titles) for rx, kind, titles in (
        (r"refcount_t: (?P<reason>[^.\n]+)|^lib/refcount\.c:", "refcount", ("refcount_t: {reason} in {func}",
         "refcount_t: {reason}", "WARNING: refcount bug in {func}", "WARNING: refcount bug")),
        (r"(?P<op>list_add|list_del)(?: corruption| double add)|^lib/list_debug\.c",
         "list_corruption", ("{op} corruption in {func}", "list corruption in {func}",
                             "list corruption")),
        (r"Voluntary context switch within RCU read-side critical section", "rcu", (
         "Voluntary context switch within RCU read-side critical section in {func}",
         "Voluntary context switch within RCU read-side critical section")),
        (r"^mm/page_table_check\.c", "bad_page", ("page_table_check: {label} in {func}",
         "page_table_check: {label}")),
        (r"Watchdog detected hard LOCKUP", "hard_lockup", ("watchdog: hard LOCKUP in {func}",
         "watchdog: hard LOCKUP")),
        (r"^kernel/locking/(?!irqflag-debug\.c)|^DEBUG_(?:LOCKS|RWSEMS)_WARN_ON", "lockdep", (
         "{label}: locking bug in {func}", "{label}: locking bug")),
        (r"rust_kernel: panicked at \S+\n(?P<rmsg>[^\n]+)", "bug", ("{rmsg} in {func}", "{rmsg}")),
        (r"VFS: Busy inodes after unmount", "bug", ("VFS: Busy inodes after unmount",)),
        (r"VFS: Close: file count is zero", "bug", ("VFS: Close: file count is zero",)),
        (r"^lib/debugobjects\.c|^ODEBUG:", "warning", ("WARNING: ODEBUG bug in {func}",
         "WARNING: ODEBUG bug")),
        (r"^mm/usercopy\.c", "bug", ("BUG: bad usercopy in {func}", "BUG: bad usercopy")),
    ))
PANIC_KINDS = ((r"^KASAN\b", "kasan"), (r"^KFENCE\b", "kfence"), (r"^KMSAN\b", "kmsan"),
                (r"^KCSAN\b", "kcsan"), (r"^UBSAN\b", "ubsan"), ((r"stack-protector|stack end|stack "
                r"overflow"), "stack"), (r"softlockup", "soft_lockup"), (r"Hard LOCKUP", "hard_lockup"),
                (r"hung_task", "hung_task"), (r"RCU Stall", "rcu_stall"),
                (r"panic_on_warn", "warning"), (r"Fatal exception|Oops", "oops"))
CONSEQUENCE = re.compile(r"Fatal exception|panic_on_warn|softlockup|Hard LOCKUP|hung_task|"
                          r"RCU Stall|Attempted to kill|Aiee|Oops|BUG")


def alt(*parts: str) -> re.Pattern[str]:
    return re.compile("(?:" + "|".join(parts) + ")")


PREFIX = re.compile(
    r"(?:\*\* \d+ printk messages dropped \*\* ?)?"
    r"(?:\[\d{4}[-/]\d\d[-/]\d\d,? \d\d:\d\d:\d\d(?:\.\d+)?\] ?)?"      # a terminal program's stamp
    r"(?:\s*\d+\s+(?=\[\s*\d+\.\d+\]))?"                       # an editor's (cat -n) line number
    r"(?P<kmsg>\d+,\d+,\d+,[^;,]*(?:,caller=(?P<kcaller>[TC]\d+))?[^;]*;)?"
    r"(?P<jrnl>(?:[^\W\d_]{3,4}\.? [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)?|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"
    r"(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)(?: \S+)? kernel: ?|\s*kernel:(?=\S))?"
    r"(?:<(?P<lvl>\d{1,2})>)?"
    r"(?P<fac>[a-z]+\d?\s*:\s*(?:emerg|alert|crit|err|warn|notice|info|debug)\s*: ?)?"
    r"(?:\[\s*(?P<ts>\d+\.\d+)\]|\d+\.\d{6}\]|\[[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d [\d:]{8} \d{4}\])?"
    r"(?: ?\[\s*(?P<caller>[TC]\d+)\])?(?: [\w.-]+ kernel:(?= ))?")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][AB012]|[\r\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]")
ARM_FRAME = re.compile(r"\s*\[<[0-9a-f]+>\] \((?P<func>[A-Za-z_.$][\w.$]*)(?:\+0x[0-9a-f]+/0x[0-9a-f]+)?"
                       r"(?: \[(?P<mod>[\w-]+)\])?\) from ")
ARM_CALLER = re.compile(ARM_FRAME.pattern + r"\[<[0-9a-f]+>\] \((?P<cfunc>[A-Za-z_.$][\w.$]*)"
                        r"(?:\+0x(?P<off>[0-9a-f]+)/0x[0-9a-f]+)?(?: \[(?P<cmod>[\w-]+)\])?\)")
FRAME = re.compile(
    r"\s*(?:<(?:IRQ|EOI|EOE|NMI)>\s*)?(?:\[<?(?:0x)?[0-9a-f]{8,16}>?\]\s*){0,2}(?P<q>\?\s+)?"
    r"(?P<func>[A-Za-z_.$][\w.$]*)"
    r"\+0x(?P<off>[0-9a-f]+)/0x(?P<size>[0-9a-f]+)(?:\s+\[(?P<mod>[\w-]+)(?:\s+[0-9a-f]+)?\])?"
    r"(?:\s+\([A-Z]+\))?(?:\s+\S+:\d+(?:\s+\[inline\])?)?\s*$")
DECODED = re.compile(r"\s*(?:<(?:IRQ|EOI|EOE|NMI)>\s*)?(?P<q>\?\s+)?(?P<func>[A-Za-z_.$][\w.$]*) "
                     r"\((?P<src>[\w./-]+\.[chS]:\d+)(?: [\w./-]+\.[chS]:\d+)*\)\s*$")
"""A frame as scripts/decode_stacktrace.sh rewrites it: "func (file:line)", the offset replaced by the
source line (and an inlined chain's lines after it)."""
INLINE = re.compile(r"\s*(?:<(?:IRQ|EOI|EOE|NMI)>\s*)?(?P<func>[A-Za-z_][\w.]*) \S+\.[chS]:\d+ \[inline\]\s*$")
RIP = re.compile(r"\s*(?:RIP: [0-9a-f]{4}:|pc : |PC is at |NIP: |NIP \[[0-9a-f]+\] |EIP: |IP: |epc : )"
                  r"(?:\[<[0-9a-f]+>\]\s*)*(?P<func>[A-Za-z_.$][\w.$]*)(?:\+0x(?P<off>[0-9a-f]*)| \([\w./-]+"
                  r"\.[chS]:\d+)")
HELD_BY = re.compile(r"(?:locks? held by (?P<comm>.+)/(?P<pid>\d+)[:.]$|comm \"(?P<c2>[^\"]+)\", "
                      r"pid (?P<p2>\d+))")
CPU_HDR = re.compile(r"CPU: (?P<cpu>\d+) (?:UID: \d+ )?PID: (?P<pid>\d+) Comm: (?P<comm>\S+)")
LOCK = re.compile(r"(?:^|\s)\((?P<name>[^\s{}]+?)\)\{[-+.?0-9a-zA-Z]*\}|is trying to "
                   r"(?:release|contend) lock \((?P<name2>\S+)\) at")
AT = re.compile(r"(?:, at: |^\s*)(?:\[<[0-9a-f]+>\]\s+)?(?P<func>[A-Za-z_.$][\w.$]*)\+0x")
TRACE_HDR = re.compile(r"(?P<call>Call [Tt]race:|\s*backtrace(?: \(crc [0-9a-f]+\))?:)|"
                        r"(?:Allocated|Freed|allocated|freed) by task|Last potentially|"
                        r"Second to last|Uninit was|Local variable|-> #\d|.*acquired at:|INFO: (?:Allocated|"
                        r"Freed) in |ref_tracker: |(?:read|write)(?: \(marked\))? to 0x|race at unknown|"
                        r".*registered at:|\.\.\. which became|Preemption disabled at")
CUT = re.compile(r"-+\[ cut here \]-+|8<-+ cut here -+")
SLUB_WARN = re.compile(r"mm/slub\.c:\d+ at |at (?:__slab_err|object_err|slab_err)\+")
SEP = re.compile(r"[=-]{8,}$")
END_TRACE = re.compile(r"---\[ end trace")
POST_END = re.compile(r"(?:R[A-Z0-9]{1,2}|E[A-Z]{2}|[CDEFGS]S|CR\d|DR\d|PKRU|knlGS)\s*:|Code: |"
                       r"Kernel Offset|SMP: stopping|Rebooting in|CPU features|Memory Limit|"
                       r"note: |---\[ end Kernel panic|Disabling lock debugging|PHYS_OFFSET|FIX \S+: ")
TERM = re.compile(r"kharness: |sysrq: |NMI backtrace for cpu|Sending NMI from CPU|Showing "
                   r"(?:all locks held|busy workqueues|state of)|Task dump for CPU|Mem-Info:|"
                   r"oom-kill:|Out of memory|Memory cgroup out of memory|-+\[ cut here \]|"
                   r"\S+ invoked oom-killer:|\S+: page allocation failure:")
STRONG = re.compile(r"\s*(?:\?\s+)?[\w.$]+(?:\+0x| \([\w./-]+\.[chS]:\d+)|\s*\[<|\s*</?(?:TASK|IRQ|NMI)>|Call [Tt]race|"
                     r"(?:RIP|RSP|RAX|R\d\d|pc|lr|sp|x\d+)\s*:")
PRE = re.compile(r"(?:page|head|flags|raw|memcg|mapping|aops|anon flags|page dumped because|"
                  r"page_type|page_owner|vma|mm|list_(?:add|del)|DEBUG_\w+|slab \S+ start|"
                  r"sysrq: Trigger a crash)[: ]|\s+\S|\[[A-Z][\w ]+\] 0x[0-9a-f]+-0x")
BODY = alt(
    r"\s", r"[=-]{3,}", r">?[0-9a-f]{8,16}[: ]", r"\[[0-9a-f]{16}\] ", r"rcu: ", r"CPU: \d+ ",
    r"(?:Call [Tt]race|stack backtrace|backtrace|Code|Modules linked in|Hardware name|Workqueue|"
    r"Tainted|irq event stamp|hardirqs last|softirqs last|pstate|Mem abort info|Data abort info|"
    r"Memory state around|The buggy address|Allocated by task|Freed by task|Uninit was|"
    r"Local variable|Last potentially|Second to last|page dumped because|page_type|page_owner|"
    r"Preemption disabled at|in_atomic\(\)|preempt_count|RCU nest depth|Disabling lock debugging|"
    r"Kernel Offset|SMP: stopping|Rebooting in|CPU features|Memory Limit|note: |INFO: lockdep|"
    r"other info that might|Chain exists of|Possible (?:interrupt )?unsafe|rcu_scheduler_active|"
    r"RCU used illegally|Possible false positive|\"echo 0 >|Future hung task|hex dump|comm \"|"
    r"Read of size|Write of size|Free of addr|Use-after-free|Out-of-bounds|Corrupted memory|"
    r"Invalid (?:read|write|free)|kfence-#|allocated by task|freed by task|Object |Redzone |"
    r"Padding |FIX |INFO: (?:Slab|Object|Allocated|Freed|0x)|Thread overran|RCU grace-period|"
    r"Unless rcu|Stack dump where|#PF|PGD |Oops|-> #\d|\*\*\* DEADLOCK|Kernel panic|---\[ end|"
    r"Allocated in |Freed in |Slab 0x|0x[0-9a-f]{8,}-0x|(?:PC|LR) is at|Process \S+ \(pid:|pgd = |"
    r"Backtrace:|Flags: |Control: |Table: |Register r\d+ information:|ref_tracker: |(?:read|write)(?: \(marked\))? to 0x|"
    r"race at unknown|value changed|bits changed|Reported by Kernel Concurrency|\(stack is not available\)|\[<[0-9a-f]+>\] )",
    r"\[[0-9a-f]{8}\] \*pgd=", r"(?:r\d+|ip|fp|psr)\s*:",
    r"(?:Faulting instruction address:|NIP[: ]|LR \[|REGS: |MSR: |CFAR: |GPR\d\d: |Instruction dump:|"
    r"(?:LE |BE )?PAGE_SIZE=)",                  # powerpc's die() and register dump
    r"Exception stack\(0x", r"[0-9a-f]{4}: [0-9a-f]{8,16} ",
    r"(?:task|page|head|flags|raw|memcg|mapping|aops|addr|file|pgd|p4d|pud|pmd|pte|vma|mm):",
    r"(?:pc|lr|sp|pmr|x\d{1,2})\s*:", r"(?:ESR|EC|SET|EA|FSC|ISV|CM|GCS|SSE|SF|Xs) = ",
    r"(?:R[A-Z0-9]{1,2}|E[A-Z]{2}|[CDEFGS]S|CR\d|DR\d|PKRU|knlGS)\s*:\s*[0-9a-f]",
    r"<\/?(?:TASK|IRQ|NMI|SOFTIRQ|EOI|EOE|#DF)>", r"\S+ pgtable: ", r"(?:\?\s+)?[\w.$]+ \([\w./-]+\.[chS]:\d+", r"CPU#\d+ Utilization",
    r"\S+ #\d+ (?:Not tainted|Tainted)", r"\S+\.[chS]:\d+ ",
    r".*(?:is trying to|is leaving the kernel|locks? held by|still has locks held|is freeing "
    r"memory|just changed the state|lock already depends|already holding|dependency chain|new "
    r"lock dependency|irq-(?:un)?safe lock|became \S+ at|the dependencies between|shortest "
    r"dependencies|interrupts could create|missing lock nesting|comparison function|state was "
    r"registered at|no more locks to release|no locks held|is not holding|\[HC\d|inconsistent \{"
    r"|, at: |blocked on an? |context-\{)")
SEPARATED = ("lockdep", "rcu", "kasan", "kfence", "kmsan", "kcsan", "ubsan", "slab")
"""Kinds whose reports open with a ===== line of their own (lockdep, the sanitizers, SLUB)."""
GAP = 3
SUFFIX = re.compile(r"(?:\.(?:isra|constprop|part|cold|llvm|lto_priv|localalias|"
                     r"specialized)(?:\.\d+)*)+$")


NATIVE_SYSCALL = re.compile(r"^(?:__(?:x64|x32|arm64|riscv|s390x?|powerpc)_)?sys_(?=\w)")
SYSCALL_WRAPPER = re.compile(
    r"^(?:__(?:x64|x32|ia32|arm64|riscv|s390x?|powerpc)_|__se_|__do_)?(?:compat_)?(?:sys|SyS|SYSC)_(?=\w)")


def arch_neutral(func: str) -> str:
    """A syscall wrapper as the field's titles spell it: a 64-bit arch entry or the plain
    `sys_` function (`__x64_sys_madvise`, `__arm64_sys_madvise`, `sys_madvise`) ->
    `sys_madvise`, the same on every arch; the inner SYSCALL_DEFINE layers (`__se_sys_`,
    `__do_sys_`, 4.x's `SyS_`), the ia32 entry and compat entries (`compat_SyS_mount`,
    `__ia32_compat_sys_mount`) -> the bare syscall, `madvise`, as syzkaller spells them."""
    if NATIVE_SYSCALL.match(func):
        return NATIVE_SYSCALL.sub("sys_", func, count=1)
    return SYSCALL_WRAPPER.sub("", func, count=1)


MANGLED = re.compile(r"_Z(\d+)(\w+)$")
"""An Itanium C++ ABI mangled plain function: `_Z`, the identifier's length, the identifier,
then its parameter types."""


def fn(text: str | None) -> str | None:
    """Bare function name: no +off/size, no [module], no .isra.0/.cold suffixes; a JITed BPF
    program (`bpf_prog_<tag>_<name>`) is `bpf_prog`, its tag changes with every load."""
    if not text:
        return None
    name = re.split(r"\+0x|\s", text.strip(), maxsplit=1)[0]
    name = re.sub(r"^bpf_prog_[0-9a-f]{16}(?:_\w*)?$", "bpf_prog", name)
    if name.startswith(("_R", "__cfi__R")) and (rust := demangle(name)):
        return rust                              # a v0-mangled Rust symbol, as Rust spells it
    if (m := MANGLED.match(name)) and len(m[2]) >= int(m[1]):   # C++'s `_Z8fakeNameiii`:
        name = m[2][:int(m[1])]                                  # the identifier
    return SUFFIX.sub("", name) or None


def norm(text: str) -> str:
    """Strip what varies between runs (addresses, numbers, pids, offsets) from title parts."""
    text = re.sub(r"\+0x[0-9a-f]+/0x[0-9a-f]+|\{[^{}]*\}|\(\d+\)", "", text)
    text = re.sub(r"\s*\b\w+=\S+", "", text)
    text = re.sub(r"\[\S+:\d+\]|\b\S+/\d+\b|\b(?:0x)?[0-9a-f]{6,}\b", "", text)
    text = re.sub(r"CPU#?\d+", "CPU", text)
    text = re.sub(r"(?:\s+[-@])+(?=\s|$)", "", text)     # "0x..-0x.. @offset=N" leftovers
    return re.sub(r"\s{2,}", " ", text).strip(" ,:|!.")


GLUED = re.compile(r"\S.*?(?=(?:<\d>)?\[\s*\d+\.\d{6}\](?:\[\s*[TC]\d+\])? )")
