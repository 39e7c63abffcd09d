"""One finished report -> a `Splat`: its kind, syzkaller-style title, culprit function,
primary stack, locks, message, location and who (cpu, pid, comm).

harness.splats.parse assembles a report's lines (its state machine decides where a report starts and
ends); `build` here reads them: which stack is the primary one ("stack backtrace:" for
lockdep, else the call trace), which function is to blame (per the pattern's `src`: header,
RIP/pc, "at" line, workqueue function, then the stack: harness.splats.culprit.pick), and the
final kind, since a WARNING or BUG is reclassified by its message or file (RECLASS).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypedDict

from harness.splats.culprit import (
    WQ_MACHINERY,
    anchored,
    interrupted,
    layer,
    lock_api,
    pick,
    preempted,
    recursion_entry,
)
from harness.splats.model import Frame, Splat, arm_caller, parse_frame
from harness.splats.table import (
    AT,
    CPU_HDR,
    CUT,
    FRAME,
    HELD_BY,
    LOCK,
    PANIC_KINDS,
    RECLASS,
    RIP,
    SEP,
    TRACE_HDR,
    arch_neutral,
    fn,
    norm,
)

BAD_RIP = re.compile(r"\s*(?:RIP: 0010:(?:\[<[0-9a-f]+>\]\s*)*|pc : |PC is at )0x[0-9a-f]+\b")
"""A kernel-mode pc printed as a bare address (x86 "RIP: 0010:0x86", arm64 "pc : 0x86"):
execution jumped to no function, so a stack of "? " guesses below it names no culprit, and the
top frame of a reliable stack made the call (`_culprit`)."""
BOTTOM = re.compile(r"ret_from_fork\w*|el0t?_64_sync|el0_sync|el0t?_64_irq|entry_SYSCALL\w*|"
                    r"entry_SYSENTER\w*|secondary_startup_64\w*|common_startup_64|"
                    r"secondary_start_kernel|__primary_switched|work_pending|ret_fast_syscall|"
                    r"ret_to_user|kernel_init")
"""Frames a kernel stack starts from (thread, syscall and CPU entry): a capture ending on one
ended after the whole stack, not in the middle of it."""
UNMARKED = ("hung_task", "rcu_stall", "soft_lockup", "hard_lockup", "memory_leak", "lockdep", "rcu",
            "atomic_sleep")
"""Reports that end with their stack (no "Code:" / "---[ end trace" after it, as die() and
__warn() print)."""
STALLS = ("rcu_stall", "soft_lockup", "hard_lockup")
"""Reports printed from an interrupt about the context it interrupted."""

GP_DUMP = re.compile(r"(?:rcu: )?(?:RCU grace-period kthread stack dump|Stack dump where RCU GP "
                     r"kthread last ran):")
CPU_DUMP = ("Sending NMI", "NMI backtrace for", "Task dump for CPU")
GP_END = re.compile(r"rcu: |NMI backtrace for cpu|Sending NMI|INFO: |Task dump for CPU")
"""An RCU stall report's dumps of its grace-period kthread (its stack, and the CPU it last ran on,
when it is starved) and the lines that end them. The kthread is the victim, not the culprit: the
stall's culprit is on the stalled CPU's stack or a blocking task's. The last-ran CPU's dump is
an NMI backtrace, or dump_cpu_task's "Task dump for CPU N:" where there is no NMI (arm64)."""

if TYPE_CHECKING:
    from harness.splats.parse import _Report


CHAIN = re.compile(r"-> #\d+ \(.*\)(?:\{[^}]*\})?(?:-\{[^}]*\})?:$")
SAFE_AT = re.compile(r"\.\.\. which became \S+-irq-safe at:$")


@dataclass
class _Section:
    """The stack printed under the first line matching `head` (a lockdep report's "-> #N"
    dependency entry, "... which became HARDIRQ-irq-safe at:"): its function names, up to the
    first line that is not a frame (blank lines before the first frame and lockdep's "..."
    elision excepted)."""
    head: re.Pattern[str]
    names: list[str] = field(default_factory=list)
    state: str = "before"                        # before | in | done

    def feed(self, text: str) -> None:
        line = text.strip()
        if self.state == "before":
            self.state = "in" if self.head.match(line) else "before"
        elif self.state == "in":
            frame = parse_frame(text)
            if frame is not None:
                self.names.extend([name] if (name := fn(frame.function)) else [])
            elif line and not line.startswith("...") or (not line and self.names):
                self.state = "done"


@dataclass
class _Info:
    rip: str | None = None
    at: str | None = None
    held_at: str | None = None                   # lockdep: the lock the task already holds
    safe_at: _Section = field(default_factory=lambda: _Section(SAFE_AT))  # lockdep: irq-safe at
    chain: _Section = field(default_factory=lambda: _Section(CHAIN))      # lockdep: first -> #N
    pcs: list[str] = field(default_factory=list)                          # every kernel pc printed
    workfn: str | None = None
    loc: str | None = None
    rw: str | None = None
    cpu_hdr: re.Match[str] | None = None
    held_by: re.Match[str] | None = None
    bad_rip: bool = False                        # kernel RIP with no symbol: a jump to garbage


def _scan(rep: _Report, texts: list[str]) -> tuple[_Info, list[Frame], list[str]]:
    info = _Info()
    at_rx = re.compile(rep.pat.at) if rep.pat.at else None
    at_window = 0                                # lines left where the ", at:" site may be
    held_window = 0                              # ... and the already-held lock's site
    start = 0 if rep.pat.role == "orphan" else rep.lines.index(rep.head)  # orphan: head is last
    for i, text in enumerate(texts[start:]):
        pc = fn((m := RIP.match(text)) and m["func"])
        if not info.bad_rip:                     # (after a bare-address pc, a RIP line is an
            info.rip = info.rip or pc            # interrupted one's)
        if pc and not pc.startswith("0x"):
            info.pcs.append(pc)
        info.bad_rip = info.bad_rip or (info.rip is None and BAD_RIP.match(text) is not None)
        info.cpu_hdr = info.cpu_hdr or CPU_HDR.match(text)
        info.held_by = info.held_by or HELD_BY.search(text)
        if at_rx is not None and info.at is None:
            if at_window and (m := AT.search(text)):
                info.at = fn(m["func"])
            at_window = 3 if at_rx.search(text) else max(0, at_window - 1)
        if info.held_at is None:
            if held_window and (m := AT.search(text)):
                info.held_at = fn(m["func"])
            held_window = 3 if "task is already holding" in text else max(0, held_window - 1)
        info.chain.feed(text)
        info.safe_at.feed(text)
        if info.workfn is None and (m := re.search(r"(?:workfn=|last function: |^Workqueue: "
                                                    r"\S+ )([\w.]+)", text)):
            info.workfn = fn(m[1])
        if info.loc is None and 0 < i < 4 and (m := re.match(r"(\S+\.[chS]:\d+) ", text)):
            info.loc = m[1]
        if info.rw is None and (m := re.match(r"(Read|Write) (?:of size|at addr)", text)):
            info.rw = m[1]
    return info, _primary_trace(texts, info.rip), _locks(texts)


def _without_gp_kthread(texts: list[str]) -> list[str]:
    """The report with its GP-kthread dumps blanked (GP_DUMP up to the next section; for the CPU
    the kthread last ran on, through that CPU's own backtrace)."""
    out = list(texts)
    mode, dumped = "", False                     # "task" | "last"; dumped: its CPU's dump began
    for i, text in enumerate(texts):
        line = text.strip()
        if GP_DUMP.match(line):
            mode, dumped = ("last" if line.endswith("last ran:") else "task"), False
        elif mode == "last" and not dumped and (line.startswith(CPU_DUMP) or CPU_HDR.match(line)):
            dumped = not line.startswith("Sending NMI")
        elif mode and (GP_END.match(line) or (mode == "task" and CPU_HDR.match(line))):
            mode = ""
        if mode:
            out[i] = ""
    return out


def _traces(texts: list[str]) -> list[tuple[str, list[Frame]]]:
    """(label, frames) of every stack in the report; label "call", "aux" or "primary"."""
    out: list[tuple[str, list[Frame]]] = []
    cur: list[Frame] | None = None
    primary_next = False
    outermost: dict[int, Frame] = {}             # a 32-bit arm stack's last "from" caller
    for text in texts:
        primary_next = primary_next or text.startswith("stack backtrace:")
        frame = parse_frame(text)
        if frame is None and cur is not None and (m := RIP.match(text)) is not None:
            off = m["off"]                       # (None: a decoded "pc (file:line)")
            frame = Frame(m["func"], None if off is None else int(off or "0", 16))  # interrupted pc
        if frame is not None:
            if cur is None:
                cur = []
                out.append(("call", cur))
            cur.append(frame)
            caller = arm_caller(text)
            if caller is None:
                outermost.pop(id(cur), None)
            else:
                outermost[id(cur)] = caller
        elif (m := TRACE_HDR.match(text)) is not None:
            cur = []
            label = "aux" if not m["call"] else "primary" if primary_next else "call"
            primary_next = primary_next and label != "primary"
            out.append((label, cur))
        elif not text.strip() or text.strip() == "</TASK>":
            cur = None                           # one stack goes on past </IRQ> and 4.x's "RIP:"
    for _label, frames in out:
        if (last := outermost.get(id(frames))) is not None:
            frames.append(last)
    return out


def _primary_trace(texts: list[str], rip: str | None = None) -> list[Frame]:
    """The report's own stack: lockdep's "stack backtrace:", else the first call trace, except
    that a trace holding the kernel-mode RIP (the trapping context, 4.x prints it inside the
    trace) wins over stacks other CPUs or tasks printed into the report before it."""
    traces = [t for t in _traces(texts) if t[1]]
    if rip and not any(label == "primary" for label, _f in traces):
        holding = [frames for _label, frames in traces if any(f.function == rip for f in frames)]
        if holding and holding[0] is not next((f for _l, f in traces if _l == "call"), None):
            return holding[0]
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
        title = f"kernel panic: {reason}".replace("{", "(").replace("}", ")")
        return kind, ((title + " in {func}", title) if kind != "panic" else (title,)), ""
    if pat.kind in ("warning", "bug"):
        label = "kernel BUG" if pat.kind == "bug" else "WARNING"
        for rx, kind, titles in RECLASS:
            if rx.search(haystack):
                if kind == "bug" and pat.kind == "warning" and rx.pattern.startswith("^"):
                    kind = "warning"          # a WARN located in a file whose BUGs we title
                                              # (not a message that is the report) stays a WARN
                    titles = tuple(t.replace("BUG: ", "WARNING: ", 1) for t in titles)
                return kind, titles, label
    return pat.kind, pat.titles, ""


def _oops_kind(what: str) -> tuple[str, tuple[str, ...], str]:
    what = re.sub(r"^Internal error: |,? probably for .*$", "", what).strip()
    table = ((r"Oops - BUG$", "bug", "kernel BUG"), (r"invalid opcode|Oops - Undefined instr",
             "invalid_opcode", "invalid opcode"), (r"UBSAN", "ubsan", what),
             (r"KASAN", "kasan", "KASAN: invalid-access"), (r"Oops$", "oops", "Oops"))
    kind, label = next(((k, lab) for rx, k, lab in table if re.search(rx, what)),
                       ("oops", norm(what) or "Internal error"))
    return kind, (label + " in {func}", label), label


def _culprit(rep: _Report, kind: str, formats: tuple[str, ...], info: _Info,
             frames: list[Frame]) -> str | None:
    named: list[str] = []
    cands: list[str] = []
    for src in rep.pat.src:
        if src == "trace":
            # "f+0x0/..." below the top frame is a return address just past a noreturn call at
            # the end of the function laid out before f (arm64: "sysrq_connect+0x0" for
            # sysrq_handle_crash -> panic): f itself is not on the stack.
            # Inlined frames ("f file:line [inline]") only exist once a report is symbolized:
            # the culprit is the function the unsymbolized report names, so both get one title.
            # A stack whose every frame is "? " was printed by a guessing unwinder (no frame
            # pointers, 3.x/4.x): those guesses are all there is.
            guessed = not any(f.reliable for f in frames)
            if guessed and info.bad_rip:         # the unwinder could not start from a garbage
                continue                         # pc: its "? " guesses are stale stack words
            names = [fn(f.function) or f.function for i, f in enumerate(frames)
                     if (f.reliable or guessed) and not (i and f.offset == 0) and not f.inline]
            if kind in STALLS and preempted(names) and info.rip in cands:
                cands.remove(info.rip)           # the pc the scheduler was at, above the cut
                named = [n for n in named if n != info.rip]
            below = interrupted(names) if kind in STALLS else names
            if len(below) < len(names) and len(info.pcs) > 1 and info.rip in cands:
                # the stack was cut below the interrupt that carried the report: the first pc
                # was on that reporting path (the tick printing it), the last is the
                # interrupted code's
                cands[cands.index(info.rip)] = info.pcs[-1]
                named = [info.pcs[-1] if n == info.rip else n for n in named]
            cands.extend(below)
            if info.bad_rip and kind not in STALLS:
                # a jump to garbage: the call through the bad pointer is the top frame's own
                # (the callee never ran), whatever layer defines it (a timer's callback
                # pointer called by __run_timers)
                top = next((n for n in names if not n.startswith("0x")), None)
                named.extend([top] if top and layer(top) is None else [])
            continue
        if src == "unit":
            continue
        values = _header_funcs(rep) if src == "hdr" else [
            {"rip": info.rip, "at": info.at, "workfn": info.workfn}[src]]
        for value in values:
            if value:
                named.append(value)
                cands.append(value)
    odebug = kind == "warning" and bool(re.match(r"WARNING: ODEBUG", formats[0] if formats else ""))
    header = _header_funcs(rep) if "hdr" in rep.pat.src else []
    site = info.at if rep.pat.src[:1] == ("at",) else None    # the acquisition site first
    if site and info.safe_at.names:              # irq-safe -> unsafe: where the safe lock is
        site = next((f for f in info.safe_at.names if not lock_api(f)), site)  # taken in irq
    if site and WQ_MACHINERY.fullmatch(site):    # a work/workqueue pseudo-lock: the lock held
        site = info.held_at if info.held_at and not WQ_MACHINERY.fullmatch(info.held_at) else None
        if site is None:                         # ... or, held by the worker too, whoever
            site = next((f for f in info.chain.names  # flushed it (the chain's first entry)
                         if not WQ_MACHINERY.fullmatch(f) and not lock_api(f)), None)
    if kind == "stack" and not header and (
            func := recursion_entry([c for c in cands if c not in named])):
        return func                              # an overflow: where the recursion began
    if (kind in STALLS or "unit" in rep.pat.src) and (func := anchored(cands, kind)):
        return func
    if "unit" in rep.pat.src and info.workfn:    # a cut stack: the "Workqueue:" line's work item
        return info.workfn
    return pick(cands, named, "odebug" if odebug else kind, header, site)


def _header_funcs(rep: _Report) -> list[str]:
    """The header's function(s): one per header line (inlined frames repeat the header). A
    header that gives a bare address (the stack protector's "corrupted in: ffffffff8343632e"
    on kernels without %pS) is the stack frame printed at that address, if any."""
    out = []
    for m in rep.heads:
        f = fn(m.groupdict().get("hfunc"))
        if not f or m.string.endswith("[inline]"):
            continue
        if ADDRESS.fullmatch(f):
            f = next((fm[1] for line in rep.lines
                      if (fm := re.search(r"\[<0*" + f.removeprefix("0x").lstrip("0") +
                                          r">\] (?:\? )?([\w.$]+)\+", line.text))), None)
            f = fn(f) if f else None
        if f:
            out.append(f)
    return out


ADDRESS = re.compile(r"(?:0x)?[0-9a-f]{8,16}")


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
    msg += [t for t in pre[:cut] if re.match(r"list_|refcount_t:|DEBUG_|page dumped|VFS: ", t)]
    rust = next((i for i, t in enumerate(pre) if t.startswith("rust_kernel: panicked at ")), None)
    if rust is not None:                         # a Rust panic's location and message, then BUG()
        msg += [t for t in pre[rust:rust + 2] if t not in msg]
    return "\n".join(msg) or None


def build(rep: _Report, file: str, last_no: int) -> Splat | None:
    texts = [ln.text for ln in rep.lines]
    read = _without_gp_kthread(texts) if rep.pat.kind == "rcu_stall" else texts
    info, frames, locks = _scan(rep, read)
    if rep.pat.role == "generic" and not (rep.head.kernel or frames):
        return None
    if rep.pat.role in ("kernel_mode", "orphan") and not (frames or info.rip):
        return None                              # arm's "Unhandled fault" of a user-mode access
    groups = {k: v for k, v in rep.m.groupdict().items() if v}
    message = _message(rep)
    head_at = rep.lines.index(rep.head)
    haystack = "\n".join([message or "", groups.get("loc", ""), *texts[head_at + 1:head_at + 3]])
    kind, formats, label = _classify(rep, haystack)
    func = _culprit(rep, kind, formats, info, frames)
    if kind == "panic" and rep.m.groupdict().get("reason", "").startswith("sysrq triggered crash"):
        func = "sysrq_handle_crash"             # its only caller (drivers/tty/sysrq.c)
    fields = _fields(groups, info, func, label, haystack)
    title = _title(formats, fields)
    return Splat(
        kind=kind, title=title, function=func, frames=tuple(frames), locks=tuple(locks),
        lines=tuple(ln.raw for ln in rep.lines), line=rep.lines[0].no, file=file,
        header=rep.head.text.strip(), end_line=rep.lines[-1].no, message=message,
        location=groups.get("loc") or info.loc,
        truncated=rep.lines[-1].no == last_no and _looks_cut(rep, frames),
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
    for key in ("hfunc", "hfunc2"):              # KCSAN names both racing functions
        if name := fn(groups.get(key)):
            fields["hfn" + key[5:]] = name
    if label:
        fields["label"] = label
    if info.rw:
        fields["rw"] = info.rw
    if func:
        fields["func"] = arch_neutral(func)
    return fields


class _Who(TypedDict):
    cpu: int | None
    pid: int | None
    comm: str | None


def _who(groups: dict[str, str], info: _Info) -> _Who:
    hdr, held = info.cpu_hdr, info.held_by
    cpu = groups.get("cpu") or (hdr["cpu"] if hdr else None)
    pid = groups.get("pid") or (hdr["pid"] if hdr else held and (held["pid"] or held["p2"]))
    comm = groups.get("comm") or (hdr["comm"] if hdr else held and (held["comm"] or held["c2"]))
    return {"cpu": int(cpu) if cpu else None, "pid": int(pid) if pid else None,
            "comm": comm}


def _looks_cut(rep: _Report, frames: list[Frame]) -> bool:
    if rep.state == "ended" or not {"trace", "rip"} & set(rep.pat.src):
        return False
    last = rep.lines[-1].text
    if rep.pat.kind in UNMARKED and frames and FRAME.match(last) \
            and BOTTOM.fullmatch(fn(frames[-1].function) or ""):
        return False                             # the stack reached its first frame
    return not frames or bool(FRAME.match(last) or TRACE_HDR.match(last)) or rep.gap > 0


