"""Slices of a run's matrix for CI engines: `--shard I/N` and `--cell NAME`.

A shard is a deterministic function of the matrix alone: the cells in matrix order
(`kharness plan`'s) cut into N contiguous blocks whose sizes differ by at most one, so N CI
jobs given the same config and `--shard 1/N` ... `--shard N/N` run every cell exactly once,
on any machine, without talking to each other. Contiguous, not round robin: the variants of
one kernel config sit next to each other in the matrix, so a shard usually holds a baseline
and its patched variants, and their builds share one slot (a patched build after its
baseline recompiles the touched files only: 8-15 s instead of a 206-223 s cold build).
Each shard writes its own run directory; `kharness merge` joins them (harness.campaign.merge).
Cells are opaque here: only their `name` is read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from harness.errors import UserError

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


class Named(Protocol):
    @property
    def name(self) -> str: ...


C = TypeVar("C", bound=Named)


@dataclass(frozen=True)
class Shard:
    index: int      # 1-based
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def first(self) -> bool:
        """Shard 1 also runs what belongs to the whole run once (the build checks)."""
        return self.index == 1


def parse(text: str) -> Shard:
    m = _SHARD.match(text)
    if not m:
        raise UserError(f"bad --shard {text!r}", "expected I/N", "e.g. --shard 2/4")
    index, count = int(m[1]), int(m[2])
    if count < 1 or not 1 <= index <= count:
        raise UserError(f"bad --shard {text!r}", "need 1 <= I <= N, N >= 1",
                        f"e.g. --shard 1/{max(count, 1)}")
    return Shard(index, count)


def select(cells: Sequence[C], shard: Shard | None = None, names: Sequence[str] = ()) -> list[C]:
    """The cells of `shard` (its contiguous block of the matrix), narrowed to `names`."""
    if names:
        known = {c.name for c in cells}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise UserError(f"--cell {unknown[0]!r} is not in the matrix",
                            f"cells: {', '.join(sorted(known))}",
                            "name a cell as `kharness plan` lists it")
        cells = [c for c in cells if c.name in set(names)]
    if shard is None:
        return list(cells)
    n = len(cells)
    return list(cells[(shard.index - 1) * n // shard.count:shard.index * n // shard.count])
