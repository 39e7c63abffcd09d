"""Map line numbers of a file from one commit to another through `git diff -U0` hunks,
so a warning that only moved because a patch added lines above it is not "new"."""

from __future__ import annotations

import re
from dataclasses import dataclass

HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", re.MULTILINE)
DIFF_FILE = re.compile(r"^diff --git a/(\S+) b/(\S+)$", re.MULTILINE)


@dataclass(frozen=True)
class Hunk:
    old_start: int
    old_len: int
    new_start: int
    new_len: int


@dataclass(frozen=True)
class LineMap:
    """Old line -> new line of one file; None when the old line was changed or removed."""

    hunks: tuple[Hunk, ...] = ()

    def map(self, line: int) -> int | None:
        offset = 0
        for h in self.hunks:
            if h.old_len == 0:          # pure insertion after old_start
                if line <= h.old_start:
                    break
            elif line < h.old_start:
                break
            elif line < h.old_start + h.old_len:
                return None
            offset += h.new_len - h.old_len
        return line + offset


def parse_hunks(diff: str) -> tuple[Hunk, ...]:
    return tuple(Hunk(int(a), int(b) if b else 1, int(c), int(d) if d else 1)
                 for a, b, c, d in HUNK.findall(diff))


def parse_diff(diff: str) -> dict[str, LineMap]:
    """`git diff -U0 A B` of several files -> {new path: LineMap}."""
    maps: dict[str, LineMap] = {}
    starts = [(m.start(), m.group(2)) for m in DIFF_FILE.finditer(diff)]
    for i, (pos, path) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(diff)
        maps[path] = LineMap(parse_hunks(diff[pos:end]))
    return maps
