"""New versus before: which diagnostics a patch made new.

Two diagnostics are the same when (file, function, flag, message) agree (numbers in the
message ignored); among several with one key, the one whose line maps through the patch to
the new line is preferred, then any left over (its line was inside a changed hunk). What
cannot be paired is new. Counts matter: a second identical warning in a function is new.
"""

from __future__ import annotations

from collections import defaultdict

from harness.checks.linemap import LineMap
from harness.checks.model import Diagnostic


def split_new(after: list[Diagnostic], before: list[Diagnostic],
              maps: dict[str, LineMap]) -> tuple[list[Diagnostic], list[Diagnostic]]:
    """(new, pre-existing) among `after`, relative to `before`."""
    pool: dict[tuple[str, str, str, str], list[int | None]] = defaultdict(list)
    for d in before:
        m = maps.get(d.file)
        pool[d.key()].append(d.line if m is None else m.map(d.line))
    ordered = sorted(after, key=lambda x: (x.file, x.line))
    paired = [False] * len(ordered)
    for i, d in enumerate(ordered):          # first: the same line, mapped through the patch
        lines = pool.get(d.key())
        if lines and d.line in lines:
            lines.remove(d.line)
            paired[i] = True
    for i, d in enumerate(ordered):          # then: the same key, line moved inside a hunk
        lines = pool.get(d.key())
        if not paired[i] and lines:
            lines.pop(0)
            paired[i] = True
    new = [d for d, p in zip(ordered, paired, strict=False) if not p]
    old = [d for d, p in zip(ordered, paired, strict=False) if p]
    return new, old
