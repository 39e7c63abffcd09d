"""What the splat detector reports: `Splat` (one kernel bug report) and its `Frame`s.

harness.splats.parse finds reports in a console capture, harness.splats.describe turns each into a
Splat; everything downstream (journal, report, bisect, symbolize) reads these types only.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.splats.table import ARM_CALLER, ARM_FRAME, DECODED, FRAME, INLINE

KINDS = ("bug", "oops", "warning", "lockdep", "rcu", "rcu_stall", "soft_lockup", "hard_lockup",
         "hung_task", "atomic_sleep", "kasan", "kfence", "kmsan", "kcsan", "ubsan", "bad_page",
         "refcount", "memory_leak", "list_corruption", "panic", "stack", "invalid_opcode", "slab",
         "cfi")


@dataclass(frozen=True)
class Frame:
    function: str
    offset: int | None = None
    size: int | None = None
    module: str | None = None
    reliable: bool = True
    source: str | None = None          # "file:line" after symbolize(), or "no debug info"
    inline: bool = False               # "f file:line [inline]": only in a symbolized report

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

    def to_json(self) -> dict[str, object]:
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


def parse_frame(text: str) -> Frame | None:
    m = FRAME.match(text)
    if m:
        return Frame(m["func"], int(m["off"], 16), int(m["size"], 16), m["mod"], not m["q"])
    m = INLINE.match(text)
    if m:
        return Frame(m["func"], inline=True)
    m = DECODED.match(text)                      # decode_stacktrace.sh: "f (file:line)"
    if m:
        return Frame(m["func"], reliable=not m["q"], source=m["src"])
    m = ARM_FRAME.match(text)                    # 32-bit arm: "[<pc>] (f [mod]) from [<lr>] (g+..)"
    return Frame(m["func"], module=m["mod"]) if m else None




def arm_caller(text: str) -> Frame | None:
    """The caller a 32-bit arm frame line names after "from" (the next line's function; the
    last line of a stack is the only place the outermost one is printed)."""
    m = ARM_CALLER.match(text)
    if m is None:
        return None
    return Frame(m["cfunc"], int(m["off"], 16) if m["off"] else None, module=m["cmod"])
