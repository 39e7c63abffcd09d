"""Splat detector, the eye of the harness: every kernel bug report in a console/dmesg capture.

API: parse_log(text, file="<log>") -> list[Splat]; parse_file(path) -> list[Splat];
Splat.to_json() -> dict; compare(baseline, patched) -> Comparison(.new, .gone, .both: titles);
slice_by_markers(text, start_marker, end_marker) -> str; slice_for_test(text, nodeid) -> str.
Kinds (KINDS): the issue's list plus kcsan, slab (SLUB debug "BUG kmalloc-64 ..."), cfi.
A WARNING/BUG is reclassified by its message or file (_RECLASS): refcount_t -> refcount,
list_add/list_del corruption -> list_corruption, "Voluntary context switch within RCU" -> rcu,
mm/page_table_check.c -> bad_page, kernel/locking/ -> lockdep.

Table-driven (style 9): each `_P` row of `_TABLE` is (kind, start regex, titles, where the culprit
comes from). `parse_log` cleans each line (printk timestamps, `[T123]`/`[C1]` caller ids, `<4>`
levels, `dmesg -x` prefixes, /dev/kmsg records, journald, ANSI), then runs one small state machine
per printk caller id (one for the whole log when there are none):

* a start line opens a report and pulls in its preamble ("cut here", the `=====` line, the WARN
  message, dump_page / list-corruption text printed before a BUG);
* body lines (frames, registers, lockdep/KASAN/hung-task text, indented lines) extend it; up to
  `_GAP` foreign lines (other CPUs interleaving) are tolerated when the report then resumes;
* `---[ end trace` ends it (only the x86 register summary and a panic may follow); after
  `</TASK>` no foreign line is tolerated; kharness markers, OOM/sysrq dumps, a new "cut here" and
  a second `CPU: N ... PID:` header close it. A report reaching the end of the capture in the
  middle of its trace (or before any trace) is `truncated`.

Nesting, so that what a developer calls one bug is one splat:
* a `Kernel panic - not syncing` inside or right after a report is folded into it (Fatal
  exception, panic_on_warn, softlockup / hung_task / Hard LOCKUP / RCU Stall panics);
* an Oops header right after `kernel BUG at` / `Unable to handle kernel ...` belongs to it;
* a lockdep report printed in the middle of a WARNING/BUG/Oops (before its end marker) is folded
  into it: it comes from the reporting path (syzkaller strips it the same way);
* hung-task reports keep their blocker dump and a following "Showing all locks held"; RCU stalls
  and lockups keep the NMI backtraces of other CPUs; consecutive "Bad rss-counter" lines are one
  splat; kmemleak's "N new suspected memory leaks" is dropped when the objects were printed.

Decisions: a panic on its own (`echo c > /proc/sysrq-trigger`) is kind `panic`, title
"kernel panic: sysrq triggered crash", function the first non-panic frame (sysrq_handle_crash);
a lone panic whose reason names a lockup/hung task gets that kind. OOM-killer invocations and
page allocation failures are not kernel bugs and are not reported (they only close open reports).
`line` is the first line of the splat, preamble included; `header` is the line that identified it.
Titles follow syzkaller ("WARNING in f", "possible deadlock in f", "INFO: task hung in f") with no
addresses, pids, cpus, offsets or compiler suffixes (.isra.0, .cold).
"""

from __future__ import annotations

import re
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KINDS = ("bug", "oops", "warning", "lockdep", "rcu", "rcu_stall", "soft_lockup", "hard_lockup",
         "hung_task", "atomic_sleep", "kasan", "kfence", "kmsan", "kcsan", "ubsan", "bad_page",
         "refcount", "memory_leak", "list_corruption", "panic", "stack", "invalid_opcode", "slab",
         "cfi")
START_MARKER = "kharness: test start {}"
END_MARKER = "kharness: test end {}"


@dataclass(frozen=True)
class Frame:
    function: str
    offset: int | None = None
    size: int | None = None
    module: str | None = None
    reliable: bool = True
    source: str | None = None          # "file:line" after symbolize(), or "no debug info"

    def __str__(self) -> str:
        text = ("" if self.reliable else "? ") + self.function
        if self.offset is not None:
            text += f"+{self.offset:#x}/{self.size or 0:#x}"
        if self.module:
            text += f" [{self.module}]"
        return f"{text} {self.source}" if self.source else text


@dataclass(frozen=True)
class Splat:
    kind: str
    title: str
    function: str | None
    frames: tuple[Frame, ...]
    locks: tuple[str, ...]
    lines: tuple[str, ...]
    line: int
    file: str
    header: str = ""
    end_line: int = 0
    cpu: int | None = None
    pid: int | None = None
    comm: str | None = None
    message: str | None = None
    location: str | None = None
    truncated: bool = False

    @property
    def raw(self) -> str:
        return "\n".join(self.lines)

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "end_line": self.end_line,
                "kind": self.kind, "title": self.title, "function": self.function,
                "header": self.header, "frames": [str(f) for f in self.frames],
                "locks": list(self.locks), "cpu": self.cpu, "pid": self.pid, "comm": self.comm,
                "message": self.message, "location": self.location,
                "truncated": self.truncated, "raw": self.raw}


@dataclass(frozen=True)
class Comparison:
    new: list[str]
    gone: list[str]
    both: list[str]


@dataclass(frozen=True)
class _Line:
    no: int
    raw: str
    text: str
    ctx: str | None
    kernel: bool


@dataclass(frozen=True)
class _P:
    kind: str
    rx: re.Pattern[str]
    titles: tuple[str, ...]
    src: tuple[str, ...] = ("trace",)
    at: str = ""            # culprit = the ", at:" function after the line matching this
    allow: str = ""         # kind-specific continuation lines that would otherwise close it
    role: str = ""          # oops_hdr | panic | generic | leak_summary


def _p(kind: str, rx: str, titles: tuple[str, ...], src: tuple[str, ...] = ("trace",),
       **kw: str) -> _P:
    return _P(kind, re.compile(rx), titles, src, **kw)


_DL = ("possible deadlock in {func}", "possible deadlock")
_W = ("WARNING in {func}", "WARNING at {loc}", "WARNING")
_HDR = ("hdr", "rip", "trace")
_NMI = r"NMI backtrace for cpu|Sending NMI from CPU|Task dump for CPU|Showing all locks held"
_LD = r"(?:WARNING|\[ INFO|\[ BUG): "
_TABLE = (
    _p("lockdep", _LD + r"possible circular locking dependency detected", _DL, ("at", "trace"),
       at="is trying to acquire"),
    _p("lockdep", _LD + r"possible recursive locking detected", _DL, ("at", "trace"),
       at="is trying to acquire"),
    _p("lockdep", _LD + r"possible irq lock inversion dependency detected", _DL,
       ("at", "trace"), at="just changed the state"),
    _p("lockdep", _LD + r"\w+-safe -> \w+-unsafe lock order detected", _DL, ("at", "trace"),
       at="is trying to acquire"),
    _p("lockdep", _LD + r"inconsistent lock state", ("inconsistent lock state in {func}",
       "inconsistent lock state"), ("at", "trace"), at="takes:"),
    _p("lockdep", _LD + r"bad unlock balance detected", ("WARNING: bad unlock balance in {func}",
       "WARNING: bad unlock balance"), ("at", "trace"), at="is trying to release"),
    _p("lockdep", _LD + r"bad contention detected", ("WARNING: bad contention in {func}",
       "WARNING: bad contention"), ("at", "trace"), at="is trying to contend"),
    _p("lockdep", _LD + r"held lock freed", ("WARNING: held lock freed in {func}",
       "WARNING: held lock freed"), ("trace", "at"), at="lock still held"),
    _p("lockdep", _LD + r"lock held when returning to user space", (
       "WARNING: lock held when returning to user space in {func}",
       "WARNING: lock held when returning to user space"), ("at",), at="is leaving the kernel"),
    _p("lockdep", _LD + r"(?P<comm>\S+)/(?P<pid>\d+) still has locks held", (
       "WARNING: lock held at task exit in {func}", "WARNING: lock held at task exit"),
       ("at", "trace"), at="held by"),
    _p("lockdep", _LD + r"Nested lock was not taken", (
       "WARNING: nested lock was not taken in {func}", "WARNING: nested lock was not taken"),
       ("at", "trace"), at="is trying to lock"),
    _p("lockdep", r"\[ BUG: Invalid wait context \]", ("BUG: Invalid wait context in {func}",
       "BUG: Invalid wait context"), ("at", "trace"), at="is trying to lock"),
    _p("lockdep", r"WARNING: chain_key collision", ("WARNING: chain_key collision in {func}",
       "WARNING: chain_key collision")),
    _p("lockdep", r"INFO: trying to register non-static key", (
       "INFO: trying to register non-static key in {func}",
       "INFO: trying to register non-static key")),
    _p("lockdep", r"BUG: (?P<what>MAX_\w+|[\w ]+) too low!", ("BUG: {what} too low!",)),
    _p("lockdep", r"BUG: +\d+ unexpected failures", ("BUG: locking selftest failures",), ()),
    _p("rcu", _LD + r"suspicious RCU usage", ("suspicious RCU usage at {loc}",
       "suspicious RCU usage in {func}", "suspicious RCU usage")),
    _p("rcu_stall", r"(?:rcu: )?INFO: \w+ (?:self-)?detected (?:expedited )?stalls? on", (
       "INFO: rcu detected stall in {func}", "INFO: rcu detected stall"), ("rip", "trace"),
       allow=_NMI),
    _p("soft_lockup", r"(?:\w+ )?(?:watchdog: )?BUG: soft lockup - CPU#(?P<cpu>\d+) stuck for "
       r"\d+s! \[(?P<comm>.*):(?P<pid>\d+)\]", ("BUG: soft lockup in {func}", "BUG: soft lockup"),
       ("rip", "trace"), allow=_NMI),
    _p("hard_lockup", r"(?:\w+ )?(?:watchdog: )?(?:CPU\d+: )?Watchdog detected hard LOCKUP on cpu "
       r"(?P<cpu>\d+)", ("watchdog: hard LOCKUP in {func}", "watchdog: hard LOCKUP"),
       ("rip", "trace"), allow=_NMI),
    _p("hung_task", r"INFO: task (?P<comm>.+):(?P<pid>\d+) blocked(?: in I/O wait)? for more "
       r"than \d+ seconds", ("INFO: task hung in {func}", "INFO: task hung"),
       allow="Showing all locks held"),
    _p("bug", r"BUG: workqueue lockup - pool", ("BUG: workqueue lockup in {func}",
       "BUG: workqueue lockup"), ("workfn",), allow=r"Showing (?:busy workqueues|backtraces of "
       r"busy workers)|workqueue \S+: flags|pool \d+:|task:|Workqueue:"),
    _p("atomic_sleep", r"BUG: sleeping function called from invalid context at (?P<loc>\S+)", (
       "BUG: sleeping function called from invalid context in {func}",
       "BUG: sleeping function called from invalid context at {loc}")),
    _p("atomic_sleep", r"BUG: scheduling while atomic: (?P<comm>.+)/(?P<pid>\d+)/", (
       "BUG: scheduling while atomic in {func}", "BUG: scheduling while atomic")),
    _p("atomic_sleep", r"BUG: (?P<what>workqueue leaked (?:lock or atomic|atomic, lock or RCU))",
       ("BUG: {what} in {func}", "BUG: {what}"), ("workfn", "trace")),
    _p("atomic_sleep", r"BUG: (?P<what>assuming (?:atomic|non migratable) context|scheduling in a"
       r" non-blocking section)", ("BUG: {what} in {func}", "BUG: {what}")),
    _p("bug", r"BUG: using (?P<what>\S+) in preemptible", (
       "BUG: using {what} in preemptible code in {func}", "BUG: using {what} in preemptible code")),
    _p("kasan", r"BUG: KASAN: (?P<type>[\w-]+)(?: in (?P<hfunc>\S+))?", (
       "KASAN: {type} {rw} in {func}", "KASAN: {type} in {func}", "KASAN: {type}"), _HDR),
    _p("kfence", r"BUG: KFENCE: (?P<type>.+?) in (?P<hfunc>\S+)", ("KFENCE: {type} in {func}",
       "KFENCE: {type}"), _HDR),
    _p("kmsan", r"BUG: KMSAN: (?P<type>[\w-]+) in (?P<hfunc>\S+)", ("KMSAN: {type} in {func}",
       "KMSAN: {type}"), _HDR),
    _p("kcsan", r"BUG: KCSAN: (?P<type>[\w-]+) in (?P<what>.+)", ("KCSAN: {type} in {what}",)),
    _p("ubsan", r"UBSAN: (?P<type>.+?) in (?P<loc>\S+)", ("UBSAN: {type} in {func}",
       "UBSAN: {type} in {loc}")),
    _p("bad_page", r"BUG: Bad page (?P<what>state|map|cache) in process (?P<comm>\S+)", (
       "BUG: Bad page {what} in {func}", "BUG: Bad page {what}")),
    _p("bad_page", r"BUG: Bad rss-counter state(?:.* Comm:(?P<comm>\S+) Pid:(?P<pid>\d+))?", (
       "BUG: Bad rss-counter state",), ()),
    _p("bad_page", r"BUG: non-zero (?P<what>\w+) on freeing mm", (
       "BUG: non-zero {what} on freeing mm",), ()),
    _p("memory_leak", r"unreferenced object 0x[0-9a-f]+ \(size \d+\)", ("memory leak in {func}",
       "memory leak")),
    _p("memory_leak", r"kmemleak: \d+ new suspected memory leaks", (
       "kmemleak: suspected memory leaks",), (), role="leak_summary"),
    _p("slab", r"BUG (?P<cache>[\w.-]+(?:\([^)]*\))?) \((?:Not tainted|Tainted: [^)]*)\): "
       r"(?P<reason>.+)", ("SLUB: {reason} in {func}", "SLUB: {reason} in {cache}")),
    _p("stack", r"Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: "
       r"(?P<hfunc>\S+)", ("kernel panic: stack is corrupted in {func}",
       "kernel panic: stack is corrupted"), _HDR),
    _p("stack", r"Kernel panic - not syncing: corrupted stack end detected inside scheduler", (
       "kernel panic: corrupted stack end in {func}", "kernel panic: corrupted stack end")),
    _p("stack", r"(?:BUG: (?:\w+ )?stack guard page was hit|Insufficient stack space to handle "
       r"exception|Kernel panic - not syncing: kernel stack overflow)", (
       "kernel stack overflow in {func}", "kernel stack overflow"), ("rip", "trace")),
    _p("oops", r"(?:BUG: (?:unable to handle )?kernel NULL pointer dereference|Unable to handle "
       r"kernel NULL pointer dereference)", (
       "BUG: unable to handle kernel NULL pointer dereference in {func}",
       "BUG: unable to handle kernel NULL pointer dereference"), ("rip", "trace")),
    _p("oops", r"(?:BUG: unable to handle (?:page fault for address|kernel paging request)|Unable"
       r" to handle kernel paging request)", (
       "BUG: unable to handle kernel paging request in {func}",
       "BUG: unable to handle kernel paging request"), ("rip", "trace")),
    _p("oops", r"(?:BUG: u|U)nable to handle kernel (?P<what>[\w -]+?)(?: at virtual address|$)",
       ("BUG: unable to handle kernel {what} in {func}", "BUG: unable to handle kernel {what}"),
       ("rip", "trace")),
    _p("bug", r"kernel BUG at (?P<loc>.+?)!?$", ("kernel BUG in {func}", "kernel BUG at {loc}"),
       ("rip", "trace")),
    _p("oops", r"(?:Oops: )?(?P<what>[A-Za-z][^\[\]]*?): (?:[0-9a-f]{4}|[0-9a-f]{8}|[0-9a-f]{16})"
       r" \[#\d+\]", (), ("rip", "trace"), role="oops_hdr"),
    _p("oops", r"PANIC: double fault", ("double fault in {func}", "double fault"), ("rip",)),
    _p("oops", r"SError Interrupt on CPU\d+", ("SError Interrupt in {func}", "SError Interrupt"),
       ("rip", "trace")),
    _p("cfi", r"CFI failure at (?P<hfunc>\S+)", ("CFI failure in {func}", "CFI failure"), _HDR),
    _p("warning", r"WARNING: (?P<loc>\S+:\d+) at (?P<hfunc>[^\s,]+),? CPU#(?P<cpu>\d+): "
       r"(?P<comm>.+)/(?P<pid>\d+)", _W, _HDR),
    _p("warning", r"WARNING: at (?P<hfunc>[^\s,]+),? CPU#(?P<cpu>\d+): (?P<comm>.+)/(?P<pid>\d+)",
       _W, _HDR),
    _p("warning", r"WARNING: CPU: (?P<cpu>\d+) PID: (?P<pid>\d+) at (?P<loc>\S+:\d+) "
       r"(?P<hfunc>\S+)", _W, _HDR),
    _p("warning", r"WARNING: CPU: (?P<cpu>\d+) PID: (?P<pid>\d+) at (?P<hfunc>\S+)", _W, _HDR),
    _p("warning", r"WARNING: at (?P<loc>\S+:\d+) (?P<hfunc>[\w.]+)", _W, _HDR),
    _p("warning", r"WARNING: kernel stack (?:regs|frame pointer) at", (
       "WARNING: kernel stack has bad value",), ()),
    _p("panic", r"Kernel panic - not syncing: (?P<reason>.*)", (), role="panic"),
    _p("bug", r"BUG: (?P<gwhat>.+)", ("BUG: {gwhat} in {func}", "BUG: {gwhat}"), ("rip", "trace"),
       role="generic"),
)
_QUICK = re.compile(r"BUG|WARNING|INFO: |Oops|[Ee]rror|[Uu]nable to handle|Kernel panic|UBSAN|"
                    r"unreferenced object|kmemleak|LOCKUP|stall|PANIC|CFI failure|SError|"
                    r"Insufficient stack|\[#\d+\]")
_NOT_START = re.compile(r"BUG: Bad page map: \d+ messages|INFO: lockdep is turned off|"
                        r"INFO: Stall ended|INFO: NMI handler")
_RECLASS: tuple[tuple[re.Pattern[str], str, tuple[str, ...]], ...] = tuple(
    (re.compile(rx, re.MULTILINE), kind, titles) for rx, kind, titles in (
        (r"refcount_t: (?P<reason>[^.\n]+)", "refcount", ("refcount_t: {reason} in {func}",
         "refcount_t: {reason}")),
        (r"(?P<op>list_add|list_del)(?: corruption| double add)|^lib/list_debug\.c",
         "list_corruption", ("{op} corruption in {func}", "list corruption in {func}",
                             "list corruption")),
        (r"Voluntary context switch within RCU read-side critical section", "rcu", (
         "Voluntary context switch within RCU read-side critical section in {func}",
         "Voluntary context switch within RCU read-side critical section")),
        (r"^mm/page_table_check\.c", "bad_page", ("page_table_check: {label} in {func}",
         "page_table_check: {label}")),
        (r"^kernel/locking/|^DEBUG_(?:LOCKS|RWSEMS)_WARN_ON", "lockdep", (
         "{label}: locking bug in {func}", "{label}: locking bug")),
        (r"^lib/debugobjects\.c|^ODEBUG:", "warning", ("WARNING: ODEBUG bug in {func}",
         "WARNING: ODEBUG bug")),
        (r"^mm/usercopy\.c", "bug", ("BUG: bad usercopy in {func}", "BUG: bad usercopy")),
    ))
_PANIC_KINDS = ((r"softlockup", "soft_lockup"), (r"Hard LOCKUP", "hard_lockup"),
                (r"hung_task", "hung_task"), (r"RCU Stall", "rcu_stall"),
                (r"panic_on_warn", "warning"), (r"Fatal exception|Oops", "oops"))
_CONSEQUENCE = re.compile(r"Fatal exception|panic_on_warn|softlockup|Hard LOCKUP|hung_task|"
                          r"RCU Stall|Attempted to kill|Aiee|Oops|BUG")


def _alt(*parts: str) -> re.Pattern[str]:
    return re.compile("(?:" + "|".join(parts) + ")")


_PREFIX = re.compile(
    r"(?:\*\* \d+ printk messages dropped \*\* ?)?"
    r"(?P<kmsg>\d+,\d+,\d+,[^;,]*(?:,caller=(?P<kcaller>[TC]\d+))?[^;]*;)?"
    r"(?P<jrnl>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ kernel: )?"
    r"(?:<(?P<lvl>\d{1,2})>)?"
    r"(?P<fac>[a-z]+\d?\s*:\s*(?:emerg|alert|crit|err|warn|notice|info|debug)\s*: ?)?"
    r"(?:\[\s*(?P<ts>\d+\.\d+)\]|\[[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d [\d:]{8} \d{4}\])?"
    r"(?:\[\s*(?P<caller>[TC]\d+)\])?(?: [\w.-]+ kernel:(?= ))?")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][AB012]|\r")
_FRAME = re.compile(
    r"\s*(?:\[<?(?:0x)?[0-9a-f]{8,16}>?\]\s*)?(?P<q>\?\s+)?(?P<func>[A-Za-z_.$][\w.$]*)"
    r"\+0x(?P<off>[0-9a-f]+)/0x(?P<size>[0-9a-f]+)(?:\s+\[(?P<mod>[\w-]+)(?:\s+[0-9a-f]+)?\])?"
    r"(?:\s+\([A-Z]+\))?(?:\s+\S+:\d+(?:\s+\[inline\])?)?\s*$")
_INLINE = re.compile(r"\s*(?P<func>[A-Za-z_][\w.]*) \S+\.[chS]:\d+ \[inline\]\s*$")
_RIP = re.compile(r"\s*(?:RIP: [0-9a-f]{4}:|pc : |PC is at |NIP: |EIP: |IP: |epc : )"
                  r"(?:\[<[0-9a-f]+>\]\s*)*(?P<func>[A-Za-z_.$][\w.$]*)\+0x")
_HELD_BY = re.compile(r"(?:locks? held by (?P<comm>.+)/(?P<pid>\d+)[:.]$|comm \"(?P<c2>[^\"]+)\", "
                      r"pid (?P<p2>\d+))")
_CPU_HDR = re.compile(r"CPU: (?P<cpu>\d+) (?:UID: \d+ )?PID: (?P<pid>\d+) Comm: (?P<comm>\S+)")
_LOCK = re.compile(r"(?:^|\s)\((?P<name>[^\s{}]+?)\)\{[-+.?0-9a-zA-Z]*\}|is trying to "
                   r"(?:release|contend) lock \((?P<name2>\S+)\) at")
_AT = re.compile(r"(?:, at: |^\s*)(?:\[<[0-9a-f]+>\] )?(?P<func>[A-Za-z_.$][\w.$]*)\+0x")
_TRACE_HDR = re.compile(r"(?P<call>Call [Tt]race:|\s*backtrace(?: \(crc [0-9a-f]+\))?:)|"
                        r"(?:Allocated|Freed|allocated|freed) by task|Last potentially|"
                        r"Second to last|Uninit was|Local variable|-> #\d|.*acquired at:|"
                        r".*registered at:|\.\.\. which became|Preemption disabled at")
_CUT = re.compile(r"-+\[ cut here \]-+")
_SLUB_WARN = re.compile(r"mm/slub\.c:\d+ at |at (?:__slab_err|object_err|slab_err)\+")
_SEP = re.compile(r"[=-]{8,}$")
_END_TRACE = re.compile(r"---\[ end trace")
_POST_END = re.compile(r"(?:R[A-Z0-9]{1,2}|E[A-Z]{2}|[CDEFGS]S|CR\d|DR\d|PKRU|knlGS)\s*:|Code: |"
                       r"Kernel Offset|SMP: stopping|Rebooting in|CPU features|Memory Limit|"
                       r"note: |---\[ end Kernel panic|Disabling lock debugging|PHYS_OFFSET|FIX \S+: ")
_TERM = re.compile(r"kharness: |sysrq: |NMI backtrace for cpu|Sending NMI from CPU|Showing "
                   r"(?:all locks held|busy workqueues|state of)|Task dump for CPU|Mem-Info:|"
                   r"oom-kill:|Out of memory|Memory cgroup out of memory|-+\[ cut here \]|"
                   r"\S+ invoked oom-killer:|\S+: page allocation failure:")
_STRONG = re.compile(r"\s*(?:\?\s+)?[\w.$]+\+0x|\s*\[<|\s*</?(?:TASK|IRQ|NMI)>|Call [Tt]race|"
                     r"(?:RIP|RSP|RAX|R\d\d|pc|lr|sp|x\d+)\s*:")
_PRE = re.compile(r"(?:page|head|flags|raw|memcg|mapping|aops|anon flags|page dumped because|"
                  r"page_type|page_owner|vma|mm|list_(?:add|del)|DEBUG_\w+|slab \S+ start|"
                  r"sysrq: Trigger a crash)[: ]|\s+\S")
_BODY = _alt(
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
    r"Allocated in |Freed in |Slab 0x|0x[0-9a-f]{8,}-0x)",
    r"(?:task|page|head|flags|raw|memcg|mapping|aops|addr|file|pgd|p4d|pud|pmd|pte|vma|mm):",
    r"(?:pc|lr|sp|pmr|x\d{1,2})\s*:", r"(?:ESR|EC|SET|EA|FSC|ISV|CM|GCS|SSE|SF|Xs) = ",
    r"(?:R[A-Z0-9]{1,2}|E[A-Z]{2}|[CDEFGS]S|CR\d|DR\d|PKRU|knlGS)\s*:\s*[0-9a-f]",
    r"<\/?(?:TASK|IRQ|NMI|SOFTIRQ|EOI|#DF)>", r"\S+ pgtable: ", r"CPU#\d+ Utilization",
    r"\S+ #\d+ (?:Not tainted|Tainted)", r"\S+\.[chS]:\d+ ",
    r".*(?:is trying to|is leaving the kernel|locks? held by|still has locks held|is freeing "
    r"memory|just changed the state|lock already depends|already holding|dependency chain|new "
    r"lock dependency|irq-(?:un)?safe lock|became \S+ at|the dependencies between|shortest "
    r"dependencies|interrupts could create|missing lock nesting|comparison function|state was "
    r"registered at|no more locks to release|no locks held|is not holding|\[HC\d|inconsistent \{"
    r"|, at: |blocked on an? |context-\{)")
_SKIP_COMMON = (
    r"_*warn\w*|warn_\w+|_*report_bug\w*|handle_bug|(?:asm_)?exc_\w+|do_error_trap|do_trap\w*|"
    r"_*die\w*|oops_\w+|(?:v|nmi_|__)?panic\w*|check_panic_on_warn|dump_\w+|show_stack|"
    r"_*show_regs\w*|sched_show_task|show_trace_log_lvl|_?printk\w*|vprintk\w*|console_\w+|"
    r"_*lock_acquire\w*|_*lock_release|lock_acquired|lock_contended|lock_sync|lockdep_\w+|"
    r"validate_chain|check_prevs?_add|check_noncircular|check_irq_usage|mark_lock\w*|mark_usage|"
    r"print_\w*bug\w*|debug_check_no_locks_\w+|__lock_\w+|reacquire_held_locks|_raw_\w+|"
    r"raw_spin_\w+|do_raw_\w+|(?:native_|__pv_)?queued_\w+|spin_\w+|_*rwsem_\w+|"
    r"_*(?:down|up)(?:_\w+)?|_*mutex_\w+|mutex_\w+|_*rt_mutex\w*|rt_spin_\w+|osq_\w+|"
    r"percpu_(?:down|up)_\w+|__percpu_\w+|mmap_(?:read|write)_\w+|__mmap_lock_\w+|"
    r"_*schedule\w*|preempt_schedule\w*|_*cond_resched\w*|_*might_\w+|"
    r"context_switch|finish_task_switch\w*|io_schedule\w*|s?rcu_\w+|__rcu_\w+|_*kasan_\w+|"
    r"__asan_\w+|check_region_inline|print_report|print_address_description\w*|_*kfence_\w+|"
    r"_*kmsan_\w+|__msan_\w+|_*ubsan_\w+|_*mem(?:cpy|set|move)\w*|_*refcount_\w+|__list_\w+|"
    r"__stack_chk_fail|__check_object_size|check_heap_object|usercopy_\w+|__dump_page|bad_page|"
    r"free_page_is_bad\w*|print_bad_\w+|_*page_table_check_\w+|watchdog_\w+|_*hrtimer_\w+|"
    r"hrtimer_\w+|_*sysvec_\w+|asm_sysvec_\w+|_*irq_exit\w*|handle_softirqs|_*do_softirq\w*|"
    r"el[01]h?t?_64_\w+|el[01]_\w+|do_mem_abort|do_translation_fault|do_page_fault|"
    r"__do_kernel_fault|do_bad_area|do_alignment_fault|do_debug_exception|call_break_hook|"
    r"brk_handler|bug_brk_handler|call_on_irq_stack|do_interrupt_handler|gic_handle_irq\w*|"
    r"page_fault_oops|kernelmode_fixup_or_oops|_*bad_area\w*|do_user_addr_fault|"
    r"do_kern_addr_fault|handle_page_fault|fixup_exception|_*nmi_\w+|nmi_\w+|default_do_nmi|"
    r"arch_trigger_cpumask_backtrace|trigger_\w+_backtrace|debug_smp_processor_id|"
    r"check_preemption_disabled|__this_cpu_preempt_check|__handle_sysrq|write_sysrq_trigger|"
    r"kthread|ret_from_fork\w*|do_syscall_\w+|entry_SYS\w+|worker_thread|process_one_work|"
    r"process_scheduled_works|"
    r"smpboot_thread_fn|schedule_\w*timeout\w*|schedule|wait_for_completion\w*|__pfx_\w+|"
    r"kmem_cache_free\w*|kv?free\w*|_*slab_free\w*|do_slab_free|_*kmem_cache_free\w*|vfree\w*")
_IDLE = (r"__switch_to\w*|default_idle\w*|arch_cpu_idle\w*|cpu_idle\w*|do_idle|cpuidle_\w+|\w*safe_halt|"
         r"cpu_startup_entry|start_secondary|secondary_start_kernel|rest_init|start_kernel|"
         r"x86_64_start_\w+|common_startup_64|cpu_relax|__const_udelay|_*udelay|__delay|"
         r"delay_\w+|smp_call_function\w*|csd_lock_wait\w*")
_SKIP_KIND = {
    "hung_task": r"__switch_to\w*|\w*(?:sched|_lock|_slowlock|wait|completion|synchron|rwsem|"
                 r"mutex)\w*|"
                 r"_*down\w*|_*folio_lock\w*",
    "soft_lockup": _IDLE, "hard_lockup": _IDLE, "rcu_stall": _IDLE,
    "memory_leak": r"kmemleak_\w+|_*kmalloc\w*|kmalloc_\w+|_*kmem_cache_\w+|kmem_cache_\w+|"
                   r"_*slab_\w+|___slab_alloc|kz?alloc\w*|kcalloc\w*|_*kv[mz]alloc\w*|"
                   r"_*vz?malloc\w*|_*alloc_pages\w*|_*folio_alloc\w*|new_slab|kmemdup\w*|"
                   r"kstrn?dup\w*|krealloc\w*|__do_kmalloc_node|trace_kmalloc\w*|pcpu_alloc\w*|"
                   r"__alloc_percpu\w*|mempool_alloc\w*|alloc_slab_page|allocate_slab",
    "slab": r"check_\w+|alloc_debug_processing|free_debug_processing|free_to_partial_list|"
            r"on_freelist|\w+_consistency_checks|\w*slab\w*|object_err|"
            r"print_trailer|kmem_cache_\w+|_*kmalloc\w*|kmalloc_\w+|kz?alloc\w*|_*do_kmalloc\w*",
    "bad_page": r"_*free_\w+|free_\w+|_*folio_put\w*|folios_put\w*|put_page\w*|release_pages|"
                r"check_new_page\w*|prep_new_page|get_page_from_freelist|_*alloc_pages\w*|"
                r"_*folio_alloc\w*|rmqueue\w*|__rmqueue\w*",
}
_GAP = 3
_SUFFIX = re.compile(r"(?:\.(?:isra|constprop|part|cold|llvm|lto_priv|localalias|"
                     r"specialized)(?:\.\d+)*)+$")


def _fn(text: str | None) -> str | None:
    """Bare function name: no +off/size, no [module], no .isra.0/.cold suffixes."""
    if not text:
        return None
    name = re.split(r"\+0x|\s", text.strip(), maxsplit=1)[0]
    return _SUFFIX.sub("", name) or None


def _norm(text: str) -> str:
    """Strip what varies between runs (addresses, numbers, pids, offsets) from title parts."""
    text = re.sub(r"\+0x[0-9a-f]+/0x[0-9a-f]+", "", text)
    text = re.sub(r"\s*\b\w+=\S+", "", text)
    text = re.sub(r"\[\S+:\d+\]|\b\S+/\d+\b|\b(?:0x)?[0-9a-f]{6,}\b", "", text)
    text = re.sub(r"CPU#?\d+", "CPU", text)
    text = re.sub(r"(?:\s+[-@])+(?=\s|$)", "", text)     # "0x..-0x.. @offset=N" leftovers
    return re.sub(r"\s{2,}", " ", text).strip(" ,:|!.")


_GLUED = re.compile(r"\S.*?(?=(?:<\d>)?\[\s*\d+\.\d{6}\](?:\[\s*[TC]\d+\])? )")


def _clean(no: int, raw: str) -> _Line:
    line = _ANSI.sub("", raw)
    glued = _GLUED.match(line)                   # "userspace text[  41.3] kernel message"
    if glued:
        line = line[glued.end():]
    m = _PREFIX.match(line)
    assert m is not None                         # every group is optional
    text = line[m.end():]
    kernel = m.end() > 0
    if line[:m.end()].endswith(("]", ":")) and text.startswith(" "):
        text = text[1:]                          # the separator after "[ts]" / "kern :warn :"
    text = re.sub(r"^kmemleak: (?=\s|unreferenced object)", "", text)
    return _Line(no, raw.rstrip("\r\n"), text.rstrip(), m["caller"] or m["kcaller"], kernel)


def _parse_frame(text: str) -> Frame | None:
    m = _FRAME.match(text)
    if m:
        return Frame(m["func"], int(m["off"], 16), int(m["size"], 16), m["mod"], not m["q"])
    m = _INLINE.match(text)
    return Frame(m["func"]) if m else None


def _match_start(text: str) -> tuple[_P, re.Match[str]] | None:
    if not _QUICK.search(text) or _NOT_START.match(text):
        return None
    for pat in _TABLE:
        m = pat.rx.match(text)
        if m:
            return pat, m
    return None


def start_kind(raw: str) -> str | None:
    """The kind of splat a raw console line opens (timestamps etc. allowed), else None.

    Cheap enough to run on every console line as it arrives (VM fail-fast)."""
    hit = _match_start(_clean(0, raw).text)
    return hit[0].kind if hit else None


class _Report:
    """A report being assembled: its lines and the little state the end rules need."""

    def __init__(self, pat: _P, m: re.Match[str], head: _Line, pre: list[_Line]) -> None:
        self.pat, self.m, self.head = pat, m, head
        self.lines = [*pre, head]
        self.pending: list[_Line] = []
        self.state = "open"                      # open | soft (after </TASK>) | ended
        self.after_head = self.cpu_hdrs = self.gap = 0
        self.multi = pat.kind in ("rcu_stall", "soft_lockup", "hard_lockup")
        self.has_trace = self.done = self.nmi = False
        self.free_lines = 3 if {"trace", "rip"} & set(pat.src) else 0

    def fold(self, ln: _Line, pat: _P) -> None:
        self._take(ln)
        if pat.role == "panic" or pat.kind == "lockdep":
            self.multi = True
            self.state = "open"

    def feed(self, ln: _Line) -> bool:
        """Take the line if it continues this report; False means the report is over."""
        text = ln.text
        if not text.strip():
            (self.pending if self.pending else self.lines).append(ln)
            return True
        if self.state == "ended":
            return self._take(ln) if _POST_END.match(text) else False
        allowed = bool(self.pat.allow) and re.match(self.pat.allow, text) is not None
        if _TERM.match(text) and not allowed:
            return False
        if _CPU_HDR.match(text):
            self.cpu_hdrs += 1
            if self.cpu_hdrs > 1 and not self.multi:
                return False
        if self.after_head < self.free_lines and not self.has_trace and not self.pending:
            self.after_head += 1                 # header continuation (WARN text, UBSAN detail)
            return self._take(ln)
        return self._body(ln, allowed)

    def _body(self, ln: _Line, allowed: bool) -> bool:
        if allowed or _BODY.match(ln.text) or _POST_END.match(ln.text):
            if self.pending and not _STRONG.match(ln.text):
                self.pending.append(ln)
                return True
            return self._take(ln)
        if self.state == "soft":
            return False
        self.gap += 1
        self.pending.append(ln)
        return self.gap <= _GAP

    def _take(self, ln: _Line) -> bool:
        self.lines.extend(p for p in self.pending if not p.text.strip() or _BODY.match(p.text))
        self.pending, self.gap = [], 0
        self.lines.append(ln)
        text = ln.text
        self.has_trace = self.has_trace or bool(_FRAME.match(text) or _TRACE_HDR.match(text))
        self.nmi = self.nmi or text.startswith(("Sending NMI", "NMI backtrace"))
        if _END_TRACE.match(text):
            self.state = "ended"
        elif text.strip() == "</TASK>" and self.state == "open":
            self.state = "soft"
        return True


class _Parser:
    """One open report per printk context; lines of other contexts never mix into it."""

    def __init__(self, use_ctx: bool) -> None:
        self.use_ctx = use_ctx
        self.open: dict[str | None, _Report] = {}
        self.recent: dict[str | None, deque[_Line]] = defaultdict(lambda: deque(maxlen=48))
        self.reports: list[_Report] = []
        self.last: _Report | None = None

    def feed(self, ln: _Line) -> None:
        key = (ln.ctx or "-") if self.use_ctx else None   # "-": unprefixed lines (cat, QEMU)
        hit = _match_start(ln.text)
        if hit:
            self._start(key, ln, *hit)
            return
        rep = self.open.get(key)
        if rep is not None:
            if rep.feed(ln):
                return
            self._close(key)
        elif self._to_nmi_report(ln):
            return
        self.recent[key].append(ln)

    def _to_nmi_report(self, ln: _Line) -> bool:
        if not (ln.ctx or "").startswith("C"):
            return False
        return any(r.nmi and r.feed(ln) for r in self.open.values())

    def _start(self, key: str | None, ln: _Line, pat: _P, m: re.Match[str]) -> None:
        rep = self.open.get(key)
        if rep is not None and _folds(rep, pat):
            rep.fold(ln, pat)
            return
        last = self.last
        if (rep is None and pat.role == "panic" and last is not None
                and _CONSEQUENCE.search(m["reason"]) and ln.no - last.lines[-1].no <= 80):
            last.fold(ln, pat)
            self.open[key] = last
            return
        if (rep is None and pat.kind == "warning" and last is not None and last.pat.kind == "slab"
                and _SLUB_WARN.search(ln.text) and ln.no - last.lines[-1].no <= 8):
            for pre in self._preamble(key):      # 7.2 SLUB: object_err/slab_err end in WARN_ON
                last.lines.append(pre)
            last.fold(ln, pat)
            self.open[key] = last
            return
        if rep is not None:
            self._close(key, for_next=True)
        self.open[key] = _Report(pat, m, ln, self._preamble(key))

    def _close(self, key: str | None, for_next: bool = False) -> None:
        """Finish the open report; trailing blanks (and =====, if for_next) go back."""
        rep = self.open.pop(key)
        self.recent[key].extend(rep.pending)
        rep.pending = []
        tail: list[_Line] = []
        while len(rep.lines) > 1 and (not rep.lines[-1].text.strip() or (
                for_next and _SEP.match(rep.lines[-1].text.strip()))):
            tail.insert(0, rep.lines.pop())
        self.recent[key].extend(tail)
        if not rep.done:
            rep.done = True
            self.reports.append(rep)
        self.last = rep

    def _preamble(self, key: str | None) -> list[_Line]:
        buf = self.recent[key]
        first = _preamble_start(list(buf))
        if first is None:
            return []
        pre = list(buf)[first:]
        for _ in pre:
            buf.pop()
        return pre

    def finish(self) -> list[_Report]:
        for key in list(self.open):
            self._close(key)
        return self.reports


def _folds(rep: _Report, pat: _P) -> bool:
    if pat.role == "panic":
        return True
    if pat.role == "oops_hdr":
        return not rep.has_trace and len(rep.lines) < 40 and rep.pat.kind not in (
            "hung_task", "rcu_stall", "soft_lockup", "hard_lockup", "warning")
    if pat.kind == "lockdep":
        return rep.state == "open" and rep.pat.kind in (
            "warning", "bug", "oops", "invalid_opcode", "list_corruption", "refcount", "stack")
    if pat.role == "leak_summary":
        return rep.pat.kind == "memory_leak"
    return pat is rep.pat and not rep.has_trace and pat.src == ()


def _preamble_start(buf: list[_Line]) -> int | None:
    """Index in buf where the coming report really begins (cut here, =====, dumps), if any."""
    idx = next((i for i in range(len(buf) - 1, max(-1, len(buf) - 9), -1)
                if _CUT.match(buf[i].text.strip())), None)
    if idx is None:
        j = len(buf) - 1
        while j >= 0 and not buf[j].text.strip():
            j -= 1
        if j < 0 or not (_SEP.match(buf[j].text.strip()) or buf[j].text.startswith("sysrq: ")):
            return None
        idx = j
    while idx > 0 and len(buf) - idx < 40 and _PRE.match(buf[idx - 1].text):
        idx -= 1
    return idx


@dataclass
class _Info:
    rip: str | None = None
    at: str | None = None
    workfn: str | None = None
    loc: str | None = None
    rw: str | None = None
    cpu_hdr: re.Match[str] | None = None
    held_by: re.Match[str] | None = None


def _scan(rep: _Report, texts: list[str]) -> tuple[_Info, list[Frame], list[str]]:
    info = _Info()
    at_rx = re.compile(rep.pat.at) if rep.pat.at else None
    after_at = False
    for i, text in enumerate(texts[rep.lines.index(rep.head):]):
        info.rip = info.rip or _fn((m := _RIP.match(text)) and m["func"])
        info.cpu_hdr = info.cpu_hdr or _CPU_HDR.match(text)
        info.held_by = info.held_by or _HELD_BY.search(text)
        if at_rx is not None and info.at is None:
            if after_at and (m := _AT.search(text)):
                info.at = _fn(m["func"])
            after_at = after_at or bool(at_rx.search(text))
        if info.workfn is None and (m := re.search(r"(?:workfn=|last function: |^Workqueue: "
                                                    r"\S+ )([\w.]+)", text)):
            info.workfn = _fn(m[1])
        if info.loc is None and 0 < i < 4 and (m := re.match(r"(\S+\.[chS]:\d+) ", text)):
            info.loc = m[1]
        if info.rw is None and (m := re.match(r"(Read|Write) of size", text)):
            info.rw = m[1]
    return info, _primary_trace(texts), _locks(texts)


def _traces(texts: list[str]) -> list[tuple[str, list[Frame]]]:
    """(label, frames) of every stack in the report; label "call", "aux" or "primary"."""
    out: list[tuple[str, list[Frame]]] = []
    cur: list[Frame] | None = None
    primary_next = False
    for text in texts:
        primary_next = primary_next or text.startswith("stack backtrace:")
        frame = _parse_frame(text)
        if frame is not None:
            if cur is None:
                cur = []
                out.append(("call", cur))
            cur.append(frame)
        elif (m := _TRACE_HDR.match(text)) is not None:
            cur = []
            label = "aux" if not m["call"] else "primary" if primary_next else "call"
            primary_next = primary_next and label != "primary"
            out.append((label, cur))
        elif not text.strip() or text.strip() in ("</TASK>", "</IRQ>") or _RIP.match(text):
            cur = None
    return out


def _primary_trace(texts: list[str]) -> list[Frame]:
    traces = [t for t in _traces(texts) if t[1]]
    for want in ("primary", "call", "aux"):
        found = next((frames for label, frames in traces if label == want), None)
        if found:
            return found
    return []


def _locks(texts: list[str]) -> list[str]:
    names: list[str] = []
    for text in texts:
        for m in _LOCK.finditer(text):
            name = m["name"] or m["name2"]
            if name and name not in names:
                names.append(name)
    return names


def _classify(rep: _Report, haystack: str) -> tuple[str, tuple[str, ...], str]:
    """Final (kind, title formats, label) once the whole report is known."""
    pat, m = rep.pat, rep.m
    if pat.role == "oops_hdr":
        return _oops_kind(m["what"])
    if pat.role == "panic":
        reason = _norm(m["reason"].split(" ]---")[0])
        kind = next((k for rx, k in _PANIC_KINDS if re.search(rx, reason)), "panic")
        return kind, (f"kernel panic: {reason}".replace("{", "(").replace("}", ")"),), ""
    if pat.kind in ("warning", "bug"):
        label = "kernel BUG" if pat.kind == "bug" else "WARNING"
        for rx, kind, titles in _RECLASS:
            if rx.search(haystack):
                return kind, titles, label
    return pat.kind, pat.titles, ""


def _oops_kind(what: str) -> tuple[str, tuple[str, ...], str]:
    what = re.sub(r"^Internal error: |,? probably for .*$", "", what).strip()
    table = ((r"Oops - BUG$", "bug", "kernel BUG"), (r"invalid opcode|Oops - Undefined instr",
             "invalid_opcode", "invalid opcode"), (r"UBSAN", "ubsan", what),
             (r"KASAN", "kasan", "KASAN: invalid-access"), (r"Oops$", "oops", "Oops"))
    kind, label = next(((k, lab) for rx, k, lab in table if re.search(rx, what)),
                       ("oops", _norm(what)))
    return kind, (label + " in {func}", label), label


def _culprit(rep: _Report, kind: str, info: _Info, frames: list[Frame]) -> str | None:
    extra = _SKIP_KIND.get(kind)
    skip = re.compile(_SKIP_COMMON + ("|" + extra if extra else ""))
    named: list[str] = []
    cands: list[str] = []
    for src in rep.pat.src:
        if src == "trace":
            # "f+0x0/..." below the top frame is a return address just past a noreturn call at
            # the end of the function laid out before f (arm64: "sysrq_connect+0x0" for
            # sysrq_handle_crash -> panic): f itself is not on the stack.
            cands.extend(_fn(f.function) or f.function for i, f in enumerate(frames)
                         if f.reliable and not (i and f.offset == 0))
            continue
        value = {"hdr": _fn(rep.m.groupdict().get("hfunc")), "rip": info.rip, "at": info.at,
                 "workfn": info.workfn}[src]
        if value:
            named.append(value)
            cands.append(value)
    good = next((c for c in cands if not skip.fullmatch(c) and not c.startswith("0x")), None)
    return good or (named[0] if named else None)


def _title(formats: tuple[str, ...], fields: dict[str, str]) -> str:
    for fmt in formats:
        try:
            return fmt.format_map(fields)
        except KeyError:
            continue
    return formats[-1] if formats else "unknown splat"


def _message(rep: _Report) -> str | None:
    pre = [ln.text.strip() for ln in rep.lines[:rep.lines.index(rep.head)]]
    cut = next((i for i, t in enumerate(pre) if _CUT.match(t)), None)
    msg = [t for t in (pre[cut + 1:] if cut is not None else []) if t and not _SEP.match(t)]
    msg += [t for t in pre[:cut] if re.match(r"list_|refcount_t:|DEBUG_|page dumped", t)]
    return "\n".join(msg) or None


def _build(rep: _Report, file: str, last_no: int) -> Splat | None:
    texts = [ln.text for ln in rep.lines]
    info, frames, locks = _scan(rep, texts)
    if rep.pat.role == "generic" and not (rep.head.kernel or frames):
        return None
    groups = {k: v for k, v in rep.m.groupdict().items() if v}
    message = _message(rep)
    head_at = rep.lines.index(rep.head)
    haystack = "\n".join([message or "", groups.get("loc", ""), *texts[head_at + 1:head_at + 3]])
    kind, formats, label = _classify(rep, haystack)
    func = _culprit(rep, kind, info, frames)
    if kind == "panic" and rep.m.groupdict().get("reason", "").startswith("sysrq triggered crash"):
        func = "sysrq_handle_crash"             # its only caller (drivers/tty/sysrq.c)
    fields = _fields(groups, info, func, label, haystack)
    title = _title(formats, fields)
    return Splat(
        kind=kind, title=title, function=func, frames=tuple(frames), locks=tuple(locks),
        lines=tuple(ln.raw for ln in rep.lines), line=rep.lines[0].no, file=file,
        header=rep.head.text.strip(), end_line=rep.lines[-1].no, message=message,
        location=groups.get("loc") or info.loc, truncated=rep.lines[-1].no == last_no and _looks_cut(rep, frames),
        **_who(groups, info))


def _fields(groups: dict[str, str], info: _Info, func: str | None, label: str,
            haystack: str) -> dict[str, str]:
    fields = {k: _norm(v) for k, v in groups.items() if k not in ("loc", "hfunc")}
    if "loc" in groups or info.loc:
        fields["loc"] = _norm(groups.get("loc") or info.loc or "") or "unknown"
    if "gwhat" in groups:                        # generic "BUG: <what>: <details>"
        fields["gwhat"] = _norm(re.split(r": | on CPU|, | - ", groups["gwhat"])[0]) or "BUG"
    for rx, _kind, _titles in _RECLASS:
        if (m := rx.search(haystack)) is not None:
            fields.update({k: v.strip() for k, v in m.groupdict().items() if v})
            break
    if label:
        fields["label"] = label
    if info.rw:
        fields["rw"] = info.rw
    if func:
        fields["func"] = func
    return fields


def _who(groups: dict[str, str], info: _Info) -> dict[str, Any]:
    hdr, held = info.cpu_hdr, info.held_by
    cpu = groups.get("cpu") or (hdr["cpu"] if hdr else None)
    pid = groups.get("pid") or (hdr["pid"] if hdr else held and (held["pid"] or held["p2"]))
    comm = groups.get("comm") or (hdr["comm"] if hdr else held and (held["comm"] or held["c2"]))
    return {"cpu": int(cpu) if cpu else None, "pid": int(pid) if pid else None, "comm": comm}


def _looks_cut(rep: _Report, frames: list[Frame]) -> bool:
    if rep.state == "ended" or not {"trace", "rip"} & set(rep.pat.src):
        return False
    last = rep.lines[-1].text
    return not frames or bool(_FRAME.match(last) or _TRACE_HDR.match(last)) or rep.gap > 0


def _split_lines(text: str) -> list[str]:
    lines = text.split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def parse_log(text: str, file: str = "<log>") -> list[Splat]:
    """Every splat in a console or dmesg capture, in order of appearance."""
    # Lines are "\n"-separated as grep/editors count them: serial consoles leave stray "\r"s
    # inside lines (QEMU e820 dump), which str.splitlines() would treat as line breaks.
    lines = [_clean(i, raw) for i, raw in enumerate(_split_lines(text), 1)]
    parser = _Parser(use_ctx=sum(1 for ln in lines if ln.ctx) >= 3)
    for ln in lines:
        parser.feed(ln)
    splats = [s for s in (_build(r, file, len(lines)) for r in parser.finish()) if s]
    if any(s.kind == "memory_leak" and s.title != "kmemleak: suspected memory leaks"
           for s in splats):
        splats = [s for s in splats if s.title != "kmemleak: suspected memory leaks"]
    return sorted(splats, key=lambda s: s.line)


def parse_file(path: str | Path) -> list[Splat]:
    data = Path(path).read_bytes().decode("utf-8", errors="backslashreplace")
    return parse_log(data, str(path))


def _unique_titles(splats: Iterable[Splat]) -> list[str]:
    return list(dict.fromkeys(s.title for s in splats))


def compare(baseline: Iterable[Splat], patched: Iterable[Splat]) -> Comparison:
    """Title-level diff: splats new in patched, gone from baseline, present in both."""
    base, new = _unique_titles(baseline), _unique_titles(patched)
    return Comparison(new=[t for t in new if t not in base], gone=[t for t in base if t not in new],
                      both=[t for t in new if t in base])


def slice_by_markers(text: str, start_marker: str, end_marker: str) -> str:
    """The raw lines strictly between the last `start_marker` line and the next `end_marker`.

    Markers are matched against the cleaned message (timestamps, caller ids, levels removed).
    No start marker: "". No end marker after it (the test crashed the guest): up to the end.
    """
    raws = [ln + "\n" for ln in _split_lines(text)]
    if raws and not text.endswith("\n"):
        raws[-1] = raws[-1][:-1]
    start: int | None = None
    end: int | None = None
    for i, raw in enumerate(raws):
        msg = _clean(i, raw).text.strip()
        if msg == start_marker.strip():
            start, end = i, None
        elif start is not None and end is None and msg == end_marker.strip():
            end = i
    if start is None:
        return ""
    return "".join(raws[start + 1:end if end is not None else len(raws)])


def slice_for_test(text: str, nodeid: str) -> str:
    """The part of a log written while pytest node `nodeid` ran."""
    return slice_by_markers(text, START_MARKER.format(nodeid), END_MARKER.format(nodeid))
