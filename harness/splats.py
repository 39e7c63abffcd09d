"""Splat detector, the eye of the harness: every kernel bug report in a console/dmesg capture.

API: parse_log(text, file="<log>") -> list[Splat]; parse_file(path) -> list[Splat];
Splat.to_json() -> dict; compare(baseline, patched) -> Comparison(.new, .gone, .both: titles);
slice_by_markers(text, start_marker, end_marker) -> str; slice_for_test(text, nodeid) -> str.
Kinds (KINDS): the issue's list plus kcsan, slab (SLUB debug "BUG kmalloc-64 ..."), cfi.
A WARNING/BUG is reclassified by its message or file (RECLASS): refcount_t -> refcount,
list_add/list_del corruption -> list_corruption, "Voluntary context switch within RCU" -> rcu,
mm/page_table_check.c -> bad_page, kernel/locking/ -> lockdep.

Table-driven (style 9): the patterns live in harness/splattable.py (each `StartPattern` row of
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
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.splattable import (
    ANSI,
    AT,
    BODY,
    CONSEQUENCE,
    CPU_HDR,
    CUT,
    END_TRACE,
    FRAME,
    GAP,
    GLUED,
    HELD_BY,
    INLINE,
    LOCK,
    NOT_START,
    PANIC_KINDS,
    POST_END,
    PRE,
    PREFIX,
    QUICK,
    RECLASS,
    RIP,
    SEP,
    SKIP_COMMON,
    SKIP_KIND,
    SLUB_WARN,
    STRONG,
    TABLE,
    TERM,
    TRACE_HDR,
    StartPattern,
    fn,
    norm,
)

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


def _clean(no: int, raw: str) -> _Line:
    line = ANSI.sub("", raw)
    glued = GLUED.match(line)                   # "userspace text[  41.3] kernel message"
    if glued:
        line = line[glued.end():]
    m = PREFIX.match(line)
    assert m is not None                         # every group is optional
    text = line[m.end():]
    kernel = m.end() > 0
    if line[:m.end()].endswith(("]", ":")) and text.startswith(" "):
        text = text[1:]                          # the separator after "[ts]" / "kern :warn :"
    text = re.sub(r"^kmemleak: (?=\s|unreferenced object)", "", text)
    return _Line(no, raw.rstrip("\r\n"), text.rstrip(), m["caller"] or m["kcaller"], kernel)


def _parse_frame(text: str) -> Frame | None:
    m = FRAME.match(text)
    if m:
        return Frame(m["func"], int(m["off"], 16), int(m["size"], 16), m["mod"], not m["q"])
    m = INLINE.match(text)
    return Frame(m["func"]) if m else None


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


class _Report:
    """A report being assembled: its lines and the little state the end rules need."""

    def __init__(self, pat: StartPattern, m: re.Match[str], head: _Line, pre: list[_Line]) -> None:
        self.pat, self.m, self.head = pat, m, head
        self.lines = [*pre, head]
        self.pending: list[_Line] = []
        self.state = "open"                      # open | soft (after </TASK>) | ended
        self.after_head = self.cpu_hdrs = self.gap = 0
        self.multi = pat.kind in ("rcu_stall", "soft_lockup", "hard_lockup")
        self.has_trace = self.done = self.nmi = False
        self.free_lines = 3 if {"trace", "rip"} & set(pat.src) else 0

    def fold(self, ln: _Line, pat: StartPattern) -> None:
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
                self.pending.append(ln)
                return True
            return self._take(ln)
        if self.state == "soft":
            return False
        self.gap += 1
        self.pending.append(ln)
        return self.gap <= GAP

    def _take(self, ln: _Line) -> bool:
        self.lines.extend(p for p in self.pending if not p.text.strip() or BODY.match(p.text))
        self.pending, self.gap = [], 0
        self.lines.append(ln)
        text = ln.text
        self.has_trace = self.has_trace or bool(FRAME.match(text) or TRACE_HDR.match(text))
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

    def _start(self, key: str | None, ln: _Line, pat: StartPattern, m: re.Match[str]) -> None:
        rep = self.open.get(key)
        if rep is not None and _folds(rep, pat):
            rep.fold(ln, pat)
            return
        last = self.last
        if (rep is None and pat.role == "panic" and last is not None
                and CONSEQUENCE.search(m["reason"]) and ln.no - last.lines[-1].no <= 80):
            last.fold(ln, pat)
            self.open[key] = last
            return
        if (rep is None and pat.kind == "warning" and last is not None and last.pat.kind == "slab"
                and SLUB_WARN.search(ln.text) and ln.no - last.lines[-1].no <= 8):
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
                for_next and SEP.match(rep.lines[-1].text.strip()))):
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


def _folds(rep: _Report, pat: StartPattern) -> bool:
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
                if CUT.match(buf[i].text.strip())), None)
    if idx is None:
        j = len(buf) - 1
        while j >= 0 and not buf[j].text.strip():
            j -= 1
        if j < 0 or not (SEP.match(buf[j].text.strip()) or buf[j].text.startswith("sysrq: ")):
            return None
        idx = j
    while idx > 0 and len(buf) - idx < 40 and PRE.match(buf[idx - 1].text):
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
        info.rip = info.rip or fn((m := RIP.match(text)) and m["func"])
        info.cpu_hdr = info.cpu_hdr or CPU_HDR.match(text)
        info.held_by = info.held_by or HELD_BY.search(text)
        if at_rx is not None and info.at is None:
            if after_at and (m := AT.search(text)):
                info.at = fn(m["func"])
            after_at = after_at or bool(at_rx.search(text))
        if info.workfn is None and (m := re.search(r"(?:workfn=|last function: |^Workqueue: "
                                                    r"\S+ )([\w.]+)", text)):
            info.workfn = fn(m[1])
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
        elif (m := TRACE_HDR.match(text)) is not None:
            cur = []
            label = "aux" if not m["call"] else "primary" if primary_next else "call"
            primary_next = primary_next and label != "primary"
            out.append((label, cur))
        elif not text.strip() or text.strip() in ("</TASK>", "</IRQ>") or RIP.match(text):
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
        for m in LOCK.finditer(text):
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
        reason = norm(m["reason"].split(" ]---")[0])
        kind = next((k for rx, k in PANIC_KINDS if re.search(rx, reason)), "panic")
        return kind, (f"kernel panic: {reason}".replace("{", "(").replace("}", ")"),), ""
    if pat.kind in ("warning", "bug"):
        label = "kernel BUG" if pat.kind == "bug" else "WARNING"
        for rx, kind, titles in RECLASS:
            if rx.search(haystack):
                return kind, titles, label
    return pat.kind, pat.titles, ""


def _oops_kind(what: str) -> tuple[str, tuple[str, ...], str]:
    what = re.sub(r"^Internal error: |,? probably for .*$", "", what).strip()
    table = ((r"Oops - BUG$", "bug", "kernel BUG"), (r"invalid opcode|Oops - Undefined instr",
             "invalid_opcode", "invalid opcode"), (r"UBSAN", "ubsan", what),
             (r"KASAN", "kasan", "KASAN: invalid-access"), (r"Oops$", "oops", "Oops"))
    kind, label = next(((k, lab) for rx, k, lab in table if re.search(rx, what)),
                       ("oops", norm(what)))
    return kind, (label + " in {func}", label), label


def _culprit(rep: _Report, kind: str, info: _Info, frames: list[Frame]) -> str | None:
    extra = SKIP_KIND.get(kind)
    skip = re.compile(SKIP_COMMON + ("|" + extra if extra else ""))
    named: list[str] = []
    cands: list[str] = []
    for src in rep.pat.src:
        if src == "trace":
            # "f+0x0/..." below the top frame is a return address just past a noreturn call at
            # the end of the function laid out before f (arm64: "sysrq_connect+0x0" for
            # sysrq_handle_crash -> panic): f itself is not on the stack.
            cands.extend(fn(f.function) or f.function for i, f in enumerate(frames)
                         if f.reliable and not (i and f.offset == 0))
            continue
        value = {"hdr": fn(rep.m.groupdict().get("hfunc")), "rip": info.rip, "at": info.at,
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
    cut = next((i for i, t in enumerate(pre) if CUT.match(t)), None)
    msg = [t for t in (pre[cut + 1:] if cut is not None else []) if t and not SEP.match(t)]
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
    fields = {k: norm(v) for k, v in groups.items() if k not in ("loc", "hfunc")}
    if "loc" in groups or info.loc:
        fields["loc"] = norm(groups.get("loc") or info.loc or "") or "unknown"
    if "gwhat" in groups:                        # generic "BUG: <what>: <details>"
        fields["gwhat"] = norm(re.split(r": | on CPU|, | - ", groups["gwhat"])[0]) or "BUG"
    for rx, _kind, _titles in RECLASS:
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
    return not frames or bool(FRAME.match(last) or TRACE_HDR.match(last)) or rep.gap > 0


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
