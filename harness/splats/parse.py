"""Splat detector, the eye of the harness: every kernel bug report in a console/dmesg capture.

API: parse_log(text, file="<log>") -> list[Splat]; parse_file(path) -> list[Splat];
Splat.to_json() -> dict; compare(baseline, patched) -> Comparison(.new, .gone, .both: titles);
slice_by_markers(text, start_marker, end_marker) -> str; slice_for_test(text, nodeid) -> str.
Kinds (KINDS): the issue's list plus kcsan, slab (SLUB debug "BUG kmalloc-64 ..."), cfi.
Reports read besides the obvious ones: KCSAN ("KCSAN: data-race in f / g"), "task can't die"
(hung_task), "unregister_netdevice: waiting for DEV to become free" (refcount; its 10 s repeats
are one splat), "VFS: Busy inodes after unmount" / "VFS: Close: file count is zero" (bug, plain
or as the message of a CHECK_DATA_CORRUPTION WARNING), arm's "Unhandled fault" / "Internal
error" (oops), SLUB's "INFO: Allocated/Freed in" (part of the open report, else its own
corrupted one), lone panics (the cause's kind when it names a known report), bare "BUG:" /
"WARNING:" ("... corrupted"), cut WARNING headers, and stacks whose header was lost ("corrupted
report in f", found from an orphan "---[ end trace" line, a reporting frame on a stack, or a
kernel-mode register dump or a D-state task dump nobody asked for: not in a sysrq /
NMI-backtrace dump).
A WARNING/BUG is reclassified by its message or file (RECLASS): refcount_t -> refcount,
list_add/list_del corruption -> list_corruption, "Voluntary context switch within RCU" -> rcu,
mm/page_table_check.c -> bad_page, kernel/locking/ -> lockdep.

Modules: this one finds and assembles reports (line cleaning, the per-context state machine,
nesting); harness.splats.describe turns a finished report into a Splat (kind, title, culprit,
primary stack) and harness.splats.culprit names the culprit (the first frame outside the reporting
layers); harness.splats.model holds Splat and Frame (re-exported here).

Table-driven (style 9): the patterns live in harness/splats/table.py (each `StartPattern` row of
`TABLE` is kind, start regex, titles, where the culprit comes from). `parse_log` cleans each line
(printk timestamps, `[T123]`/`[C1]` caller ids, `<4>` levels, `dmesg -x` prefixes, /dev/kmsg
records, journald, ANSI), then runs one small state machine per printk caller id (one for the whole
log when there are none):

* a start line opens a report and pulls in its preamble ("cut here", the `=====` line, the WARN
  message, dump_page / list-corruption text printed before a BUG);
* body lines (frames, registers, lockdep/KASAN/hung-task text, indented lines) extend it; up to
  `GAP` foreign lines (other CPUs interleaving) are tolerated when the report then resumes;
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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from harness.errors import HarnessBug
from harness.splats.describe import build
from harness.splats.model import KINDS, Comparison, Frame, Splat
from harness.splats.table import (
    ANSI,
    ASKED,
    BODY,
    CONSEQUENCE,
    CPU_HDR,
    CUT,
    DUMP,
    END_TRACE,
    FRAME,
    GAP,
    GLUED,
    HEX_ROW,
    NOT_START,
    ORPHAN_LEAK,
    ORPHAN_REGS,
    ORPHAN_TASK,
    POST_END,
    PRE,
    PREFIX,
    QUICK,
    SEP,
    SEPARATED,
    SIGNATURES,
    SLUB_WARN,
    STRONG,
    TABLE,
    TERM,
    TRACE_HDR,
    StartPattern,
)

__all__ = [
    "END_MARKER",
    "KINDS",
    "START_MARKER",
    "Comparison",
    "Frame",
    "Splat",
    "compare",
    "parse_file",
    "parse_log",
    "slice_by_markers",
    "slice_for_test",
    "start_kind",
]

START_MARKER = "kharness: test start {}"
_ADDR = re.compile(r"\b(?:0x)?[0-9a-f]{6,}\b")
END_MARKER = "kharness: test end {}"


@dataclass(frozen=True)
class _Line:
    no: int
    raw: str
    text: str
    ctx: str | None
    kernel: bool


def _clean(no: int, raw: str) -> _Line:
    line = ANSI.sub("", raw)
    glued = GLUED.match(line)                   # "userspace text[  41.3] kernel message"
    if glued:
        line = line[glued.end():]
    m = PREFIX.match(line)
    if not (m is not None):                         # every group is optional
        raise HarnessBug("invariant failed: m is not None")
    text = line[m.end():]
    kernel = m.end() > 0
    if line[:m.end()].endswith(("]", ":")) and text.startswith(" "):
        text = text[1:]                          # the separator after "[ts]" / "kern :warn :"
    text = re.sub(r"^kmemleak: (?=\s|unreferenced object)", "", text)
    return _Line(no, raw.rstrip("\r\n"), text.rstrip(), m["caller"] or m["kcaller"], kernel)


STAMP = re.compile(r"\s*(?:<\d>)?\[\s*\d+\.\d{6}\]")
SECOND_STAMP = re.compile(r"(?:<\d>)?\[\s*\d+\.\d{6}\](?:\[\s*[TC]\d+\])? ")


def _unglue(no: int, raw: str) -> list[_Line]:
    """A console line holding two printk records (another CPU's record printed before this one
    ended its line: "...[#1] [ 387.8] audit: ..."): two lines of the same number, so a report's
    header or frame before the glued record is kept (user-space text glued before a record is
    dropped by `_clean`)."""
    first = STAMP.match(raw)
    m = SECOND_STAMP.search(raw, first.end()) if first else None
    if first is None or m is None or not raw[first.end():m.start()].strip():
        return [_clean(no, raw)]
    return [_clean(no, raw[:m.start()]), _clean(no, raw[m.start():])]


def _match_start(text: str) -> tuple[StartPattern, re.Match[str]] | None:
    if not QUICK.search(text) or NOT_START.match(text):
        return None
    for pat in TABLE:
        m = pat.rx.match(text)
        if m:
            return pat, m
    return None


def start_kind(raw: str) -> str | None:
    """The kind of splat a raw console line opens (timestamps etc. allowed), else None.

    Cheap enough to run on every console line as it arrives (VM fail-fast)."""
    hit = _match_start(_clean(0, raw).text)
    return hit[0].kind if hit else None


SANITIZERS = ("kasan", "kfence", "kmsan", "kcsan")
LONG_GAP = 60                                    # foreign lines in a row a waiting report skips


class _Report:
    """A report being assembled: its lines and the little state the end rules need."""

    def __init__(self, pat: StartPattern, m: re.Match[str], head: _Line, pre: list[_Line]) -> None:
        self.pat, self.m, self.head = pat, m, head
        self.heads = [m]                         # a symbolized header repeated per inline frame
        self.lines = [*pre, head]
        self.pending: list[_Line] = []
        self.state = "open"                      # open | soft (after </TASK>) | ended
        self.after_head = self.cpu_hdrs = self.gap = 0
        self.multi = pat.kind in ("rcu_stall", "soft_lockup", "hard_lockup")
        self.has_trace = self.has_frame = self.done = self.nmi = False
        self.free_lines = pat.free if pat.free >= 0 else 3 if {"trace", "rip"} & set(pat.src) else 0

    def fold(self, ln: _Line, pat: StartPattern) -> None:
        self._take(ln)
        if pat.role == "panic" or pat.kind == "lockdep":
            self.multi = True
            self.state = "open"

    def repeats_head(self, pat: StartPattern, ln: _Line) -> bool:
        """The same header again right after it, nothing between: a symbolizer's line per inlined
        frame, or the same line but for an address (a console line duplicated by syslog, a fault
        header printed again before its body). Headers naming another CPU or task are another
        report (five CPUs' hard lockups in a row)."""
        if pat is not self.pat or self.lines[-1] is not self.head:
            return False
        return "hdr" in pat.src or _ADDR.sub("", ln.text) == _ADDR.sub("", self.head.text)

    def take_head(self, ln: _Line, m: re.Match[str]) -> None:
        self.heads.append(m)
        self.lines.append(ln)
        self.head = ln

    def feed(self, ln: _Line) -> bool:
        """Take the line if it continues this report; False means the report is over."""
        text = ln.text
        if self.head.kernel and not ln.kernel and self.state != "ended" and not BODY.match(text):
            return True                          # user space writing to the same console (a
        if not text.strip():                     # fuzzer's program log) between printk lines
            (self.pending if self.pending else self.lines).append(ln)
            return True
        if self.state == "ended":
            return self._take(ln) if POST_END.match(text) else False
        allowed = bool(self.pat.allow) and re.match(self.pat.allow, text) is not None
        if TERM.match(text) and not allowed:
            return False
        if CPU_HDR.match(text):
            self.cpu_hdrs += 1
            if self.cpu_hdrs > 1 and not self.multi:
                return False
        if self.after_head < self.free_lines and not self.has_trace and not self.pending:
            self.after_head += 1                 # header continuation (WARN text, UBSAN detail)
            return self._take(ln)
        return self._body(ln, allowed)

    def _body(self, ln: _Line, allowed: bool) -> bool:
        if allowed or BODY.match(ln.text) or POST_END.match(ln.text):
            if self.pending and not STRONG.match(ln.text):
                self.pending.append(ln)          # (a body line ends a run of foreign lines:
                self.gap = 0                     # GAP bounds each run, not their sum)
                return True
            return self._take(ln)
        if self.state == "soft":
            return False
        self.gap += 1
        self.pending.append(ln)
        return self.gap <= (LONG_GAP if self.waits else GAP)

    @property
    def waits(self) -> bool:
        """Whether the report is still to come: a sanitizer's (long, printed while the fuzzer's
        other tasks keep writing: binder's, audit's, kobject's messages), or one with no frame
        of its stack yet (maybe just its "Call Trace:" line). Its closing line or the next report
        still ends it."""
        return self.pat.kind in SANITIZERS or (not self.has_frame and "trace" in self.pat.src)

    def _take(self, ln: _Line) -> bool:
        self.lines.extend(p for p in self.pending if not p.text.strip() or BODY.match(p.text))
        self.pending, self.gap = [], 0
        self.lines.append(ln)
        text = ln.text
        self.has_trace = self.has_trace or bool(FRAME.match(text) or TRACE_HDR.match(text))
        self.has_frame = self.has_frame or bool(FRAME.match(text))
        self.nmi = self.nmi or text.startswith(("Sending NMI", "NMI backtrace"))
        if END_TRACE.match(text):
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
        self.asked = False                       # inside a dump somebody asked for (ASKED)

    def feed(self, ln: _Line) -> None:
        key = (ln.ctx or "-") if self.use_ctx else None   # "-": unprefixed lines (cat, QEMU)
        if ln.kernel and ln.text.strip():
            self.asked = bool(ASKED.search(ln.text)) or (self.asked and bool(DUMP.match(ln.text)))
        hit = _match_start(ln.text)
        if hit:
            self._start(key, ln, *hit)
            return
        rep = self.open.get(key)
        if rep is not None:
            if rep.feed(ln):
                return
            self._close(key)
        elif self._to_nmi_report(ln) or self._orphan_stack(key, ln) or self._orphan_regs(key, ln) \
                or self._orphan_task(key, ln) or self._orphan_leak(key, ln):
            return
        self.recent[key].append(ln)

    def _far(self, ln: _Line) -> bool:
        """A kernel line more than 200 lines past the last report (not the rest of one we took)."""
        return ln.kernel and (self.last is None or ln.no - self.last.lines[-1].no > 200)

    def _orphan_stack(self, key: str | None, ln: _Line) -> bool:
        """A reporting-machinery frame (SIGNATURES) far from any report: its header was lost."""
        if not self._far(ln):
            return False
        hit = next(((p, m) for p in SIGNATURES if (m := p.rx.match(ln.text))), None)
        if hit is None:
            return False
        self.open[key] = _Report(hit[0], hit[1], ln, self._stack_before(key))
        return True

    def _orphan_regs(self, key: str | None, ln: _Line) -> bool:
        """A kernel-mode register dump (ORPHAN_REGS) far from any report and not asked for
        (sysrq, NMI backtraces: ASKED in the 40 lines before): its header was lost."""
        m = ORPHAN_REGS.rx.match(ln.text)
        if m is None or not self._far(ln) or any(ASKED.search(p.text)
                                                 for p in list(self.recent[key])[-40:]):
            return False
        self.open[key] = _Report(ORPHAN_REGS, m, ln, self._stack_before(key))
        return True

    def _orphan_task(self, key: str | None, ln: _Line) -> bool:
        """A D-state task dump (ORPHAN_TASK) far from any report and not in an asked-for dump
        (sysrq w/t): a hung-task report whose header was lost."""
        m = ORPHAN_TASK.rx.match(ln.text)
        if m is None or self.asked or not self._far(ln):
            return False
        self.open[key] = _Report(ORPHAN_TASK, m, ln, self._stack_before(key))
        return True

    def _orphan_leak(self, key: str | None, ln: _Line) -> bool:
        """kmemleak's "backtrace:" right after a hex-dump row, far from any report (ORPHAN_LEAK): a
        leaked object's record whose "unreferenced object" line was cut off. Not only kernel
        lines: /sys/kernel/debug/kmemleak is read without printk prefixes."""
        m = ORPHAN_LEAK.rx.match(ln.text)
        if m is None or (self.last is not None and ln.no - self.last.lines[-1].no <= 200):
            return False
        before = [p for p in self.recent[key] if p.text.strip()]
        if not before or not HEX_ROW.match(before[-1].text):
            return False
        self.open[key] = _Report(ORPHAN_LEAK, m, ln, self._stack_before(key))
        return True

    def _to_nmi_report(self, ln: _Line) -> bool:
        if not (ln.ctx or "").startswith("C"):
            return False
        return any(r.nmi and r.feed(ln) for r in self.open.values())

    def _start(self, key: str | None, ln: _Line, pat: StartPattern, m: re.Match[str]) -> None:
        rep = self.open.get(key)
        if rep is not None and self._into_open(key, rep, ln, pat, m):
            return
        if self.open.get(key) is None and self._into_last(key, ln, pat, m):
            return
        if pat.role == "orphan" and self.open.get(key) is None:
            self._start_orphan(key, ln, pat, m)
            return
        if self._aside(key, ln, pat, m):
            return
        if self.open.get(key) is not None:
            self._close(key, for_next=pat.kind in SEPARATED and pat.role != "panic")
        self.open[key] = _Report(pat, m, ln, [*self._message_before(ln, pat),
                                                   *self._preamble(key, pat)])

    def _aside(self, key: str | None, ln: _Line, pat: StartPattern, m: re.Match[str]) -> bool:
        """A one-line report (unregister_netdevice's wait, VFS's busy inodes) printed while
        another report's stack is being read is a report of its own, but the stack goes on:
        printk interleaves another task's message between two frames."""
        rep = self.open.get(key)
        if rep is None or pat.src or pat.role not in ("repeat", "message") or rep.pat is pat \
                or not rep.has_trace or rep.state != "open":
            return False
        aside = _Report(pat, m, ln, [])
        aside.done = True
        self.reports.append(aside)
        return True

    def _message_before(self, ln: _Line, pat: StartPattern) -> list[_Line]:
        """A message report printed just before a WARN/BUG's "cut here" (CHECK_DATA_CORRUPTION
        with BUG_ON_DATA_CORRUPTION: the message, then BUG()) is that report's message: its
        lines move into the new report's preamble."""
        last = self.last
        if last is None or last.pat.role != "message" or pat.kind not in ("warning", "bug") \
                or ln.no - last.lines[-1].no > 6 or last not in self.reports:
            return []
        self.reports.remove(last)
        self.last = None
        return last.lines

    def _into_open(self, key: str | None, rep: _Report, ln: _Line, pat: StartPattern,
                   m: re.Match[str]) -> bool:
        """Whether the open report takes this start line (True) or it starts another."""
        if rep.repeats_head(pat, ln):
            rep.take_head(ln, m)
            return True
        if _folds(rep, pat):
            rep.fold(ln, pat)
            return True
        if rep.pat.role == "message" and pat.kind in ("warning", "bug"):
            self._unopen(key, rep)               # 6.x CHECK_DATA_CORRUPTION: the WARN's message
        return False

    def _into_last(self, key: str | None, ln: _Line, pat: StartPattern, m: re.Match[str]) -> bool:
        """Whether the report just closed takes this start line: its repeat, its panic, the
        WARN_ON a 7.2 SLUB report ends with."""
        last = self.last
        if last is None:
            return False
        near = ln.no - last.lines[-1].no
        repeat = pat.role == "repeat" and last.pat is pat and near <= 80
        panic = pat.role == "panic" and bool(CONSEQUENCE.search(m["reason"])) and near <= 80
        slub = (pat.kind == "warning" and last.pat.kind == "slab" and near <= 8
                and bool(SLUB_WARN.search(ln.text)))
        stall = (pat.kind == "warning" and last.pat.kind == "rcu_stall" and near <= 3
                 and not last.has_trace and len(last.lines) < 8)
        if not (repeat or panic or slub or stall):
            return False
        if slub or stall:                        # (stall: a WARN raised in the stall's own dump;
            last.lines.extend(self._preamble(key, pat))   # its stack, the tick interrupting
        last.multi = last.multi or stall         # the stalled CPU, is the stall's)
        last.fold(ln, pat)
        self.open[key] = last
        return True

    def _start_orphan(self, key: str | None, ln: _Line, pat: StartPattern,
                      m: re.Match[str]) -> None:
        """An end-of-trace line outside any report: the stack before it lost its header."""
        last = self.last
        taken = last is not None and ln.no - last.lines[-1].no <= 200   # the end of one we took
        stack = [] if taken else self._stack_before(key)
        if not any(FRAME.match(p.text) for p in stack):
            self.recent[key].extend([*stack, ln])
            return
        sig = next(((sp, sm) for p in stack for sp in SIGNATURES if (sm := sp.rx.match(p.text))),
                   (pat, m))                     # the reporting frame says which kind it was
        self.open[key] = _Report(*sig, ln, stack)

    def _unopen(self, key: str | None, rep: _Report) -> None:
        """Forget an open report: its lines go back to the preamble buffer."""
        del self.open[key]
        self.recent[key].extend([*rep.lines, *rep.pending])

    def _close(self, key: str | None, for_next: bool = False) -> None:
        """Finish the open report; trailing blanks (and =====, if for_next) go back."""
        rep = self.open.pop(key)
        self.recent[key].extend(rep.pending)
        rep.pending = []
        tail: list[_Line] = []
        while len(rep.lines) > 1 and (not rep.lines[-1].text.strip() or (
                for_next and SEP.match(rep.lines[-1].text.strip()))):
            tail.insert(0, rep.lines.pop())
        self.recent[key].extend(tail)
        if not rep.done:
            rep.done = True
            self.reports.append(rep)
        self.last = rep

    def _preamble(self, key: str | None, pat: StartPattern) -> list[_Line]:
        buf = self.recent[key]
        first = _preamble_start(list(buf), pat.kind in SEPARATED and pat.role != "panic")
        if first is None:
            return []
        pre = list(buf)[first:]
        for _ in pre:
            buf.pop()
        return pre

    def _stack_before(self, key: str | None) -> list[_Line]:
        """The stack (and registers) just before an orphan end-of-trace line: a report whose
        header was lost (capture started late, printk messages dropped)."""
        buf = self.recent[key]
        pre: list[_Line] = []
        while buf and len(pre) < 80 and buf[-1].text.strip() and BODY.match(buf[-1].text):
            pre.insert(0, buf.pop())
        return pre

    def finish(self) -> list[_Report]:
        for key in list(self.open):
            self._close(key)
        return self.reports


def _folds(rep: _Report, pat: StartPattern) -> bool:
    if pat.role in ("panic", "fragment", "orphan"):
        return True
    if pat.role == "repeat":
        return pat is rep.pat
    if pat.role == "oops_hdr":
        return not rep.has_trace and len(rep.lines) < 40 and bool(rep.pat.src) \
            and rep.pat.kind not in (
            "hung_task", "rcu_stall", "soft_lockup", "hard_lockup", "warning")
    if pat.kind == "lockdep":
        return rep.state == "open" and rep.pat.kind in (
            "warning", "bug", "oops", "invalid_opcode", "list_corruption", "refcount", "stack")
    if pat.role == "leak_summary":
        return rep.pat.kind == "memory_leak"
    if pat.kind == "hard_lockup" and rep.pat.kind == "warning" and rep.lines[-1] is rep.head:
        return True                              # 3.x/4.x: the watchdog's WARN() message
    if pat.kind == rep.pat.kind == "rcu_stall" and not rep.has_trace and len(rep.lines) <= 3:
        return True                              # "self-detected stall" then "detected stalls"
    return pat is rep.pat and not rep.has_trace and pat.src == ()


def _preamble_start(buf: list[_Line], separated: bool = True) -> int | None:
    """Index in buf where the coming report really begins (cut here, =====, dumps), if any.
    A ===== line opens only the reports that print one (`separated`): before a panic or a
    hung task it is the end of something else (a lock list, another report)."""
    idx = next((i for i in range(len(buf) - 1, max(-1, len(buf) - 9), -1)
                if CUT.match(buf[i].text.strip())), None)
    if idx is None:
        j = len(buf) - 1
        while j >= 0 and not buf[j].text.strip():
            j -= 1
        if j < 0 or not ((separated and SEP.match(buf[j].text.strip()))
                         or buf[j].text.startswith("sysrq: ")):
            return None
        idx = j
    while idx > 0 and len(buf) - idx < 40 and PRE.match(buf[idx - 1].text):
        idx -= 1
    return idx


def _split_lines(text: str) -> list[str]:
    lines = text.split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def parse_log(text: str, file: str = "<log>") -> list[Splat]:
    """Every splat in a console or dmesg capture, in order of appearance."""
    # Lines are "\n"-separated as grep/editors count them: serial consoles leave stray "\r"s
    # inside lines (QEMU e820 dump), which str.splitlines() would treat as line breaks.
    lines = [ln for i, raw in enumerate(_split_lines(text), 1) for ln in _unglue(i, raw)]
    parser = _Parser(use_ctx=sum(1 for ln in lines if ln.ctx) >= 3)
    for ln in lines:
        parser.feed(ln)
    splats = [s for s in (build(r, file, len(lines)) for r in parser.finish()) if s]
    if any(s.kind == "memory_leak" and s.title != "kmemleak: suspected memory leaks"
           for s in splats):
        splats = [s for s in splats if s.title != "kmemleak: suspected memory leaks"]
    splats = [s for s in splats if not _inside_sanitizer_report(s, splats)]
    splats = [_without_its_oops(s, lines) for s in splats]
    return sorted(splats, key=lambda s: _header_line(s, lines))


OOPS_TRACE = re.compile(r"---\[ end trace|Code: |RIP: |pc : |PC is at |NIP[: ]|EIP: ")


def _without_its_oops(splat: Splat, lines: Sequence[_Line]) -> Splat:
    """A "Fatal exception" panic is the Oops it ends, as its kind, only when that Oops is in the
    capture (its register dump, Code: line or end-trace marker just before the panic); a capture
    that holds the panic line alone is a bare panic."""
    if splat.kind != "oops" or splat.frames or not splat.title.startswith("kernel panic:"):
        return splat
    before = lines[max(0, splat.line - 31):splat.line - 1]
    if any(OOPS_TRACE.search(ln.text) for ln in before):
        return splat
    return replace(splat, kind="panic")


SANITIZER_REPORTER = re.compile(r"_*(?P<san>kasan|kmsan|kcsan|kfence)_(?:report|print_origin)\w*")


def _inside_sanitizer_report(splat: Splat, splats: Sequence[Splat]) -> bool:
    """A WARNING raised by a sanitizer's own reporting code (its stack runs through
    kmsan_report or kasan_report, e.g. the stack depot's check while KMSAN prints an origin)
    after that sanitizer's report began: a fault in the reporter, part of that report."""
    if splat.kind != "warning":
        return False
    sans = {m["san"] for f in splat.frames if (m := SANITIZER_REPORTER.fullmatch(f.function))}
    return any(o.kind in sans and o.line < splat.line for o in splats)


def _header_line(splat: Splat, lines: Sequence[_Line]) -> int:
    """The number of the line that names the report, past a preamble (=====, cut here): when
    two tasks' reports interleave, the first bug named comes first, not the first separator."""
    head = next((raw for raw in splat.lines if splat.header and splat.header in raw), None)
    return next((ln.no for ln in lines[splat.line - 1:] if ln.raw == head), splat.line)


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
