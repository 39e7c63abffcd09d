"""thpwork's population pattern language, mirrored on the host.

A pattern says which ptes of each PMD-sized block of a region thpwork populates
(guest_tests/workloads/thpwork/util.c): atoms `full|none|half|first:A|last:A|every:K[:OFF]|
ptes:R|chunks:SIZE:R|random:PCT[:SEED]`, joined with `+` (union within a block) and `|`
(cycle over blocks). Tests compute expectations from it, and YAML is checked before any
VM boots.

    Pattern.parse("first:50%|none", page_size=4096, ptes=512).count(1024, 512)  # -> 256
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from harness.errors import UserError

MASK64 = (1 << 64) - 1
BYTES_RE = re.compile(r"^(\d+)(b|k|kb|m|mb|g|gb|pmd|pmds)?$", re.IGNORECASE)
UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
         "g": 1 << 30, "gb": 1 << 30}


def parse_bytes(text: str, pmd_size: int = 0) -> int:
    """ "64K" -> 65536, "4pmd" -> 4 * pmd_size (as thpwork's parse_bytes)."""
    m = BYTES_RE.match(str(text).strip())
    if not m or (m.group(2) or "").lower().startswith("pmd") and not pmd_size:
        raise UserError(f"bad size {text!r}", "expected e.g. 64K, 16M, 4pmd")
    unit = (m.group(2) or "").lower()
    return int(m.group(1)) * (pmd_size if unit.startswith("pmd") else UNITS[unit])


def parse_ranges(text: str) -> tuple[tuple[int, int], ...]:
    """ "0-3,7" -> ((0, 3), (7, 7))."""
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()) or int(hi or lo) < int(lo):
            raise UserError(f"bad range list {text!r}", "expected e.g. 0-3,7,9-12")
        out.append((int(lo), int(hi or lo)))
    return tuple(out)


def _in(ranges: Sequence[tuple[int, int]], v: int) -> bool:
    return any(lo <= v <= hi for lo, hi in ranges)


def splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


@dataclass(frozen=True)
class Atom:
    kind: str
    a: int = 0
    b: int = 0
    ppm: int = 0
    seed: int = 1
    ranges: tuple[tuple[int, int], ...] = ()

    def hit(self, pmd: int, pte: int, ptes: int) -> bool:
        k = self.kind
        if k in ("full", "none", "half"):
            return k == "full" or (k == "half" and pte < ptes // 2)
        if k in ("first", "last"):
            return pte < self.a if k == "first" else pte >= ptes - self.a
        if k == "every":
            return pte >= self.b and (pte - self.b) % self.a == 0
        if k in ("ptes", "chunks"):
            return _in(self.ranges, pte if k == "ptes" else pte // self.a)
        return splitmix64(self.seed ^ (pmd << 32) ^ pte) % 1000000 < self.ppm


def _amount(text: str, page: int, ptes: int) -> int:
    if text.endswith("%"):
        return int(ptes * float(text[:-1]) / 100.0)
    if text.isdigit():
        return int(text)
    n = parse_bytes(text)
    if n % page:
        raise UserError(f"{text!r} is not a multiple of the page size {page}")
    return n // page


def _atom(text: str, page: int, ptes: int) -> Atom:
    kind, _, rest = text.partition(":")
    arg, _, arg2 = rest.partition(":")
    if kind in ("full", "none", "half") and not rest:
        return Atom(kind)
    if kind in ("first", "last") and arg and not arg2:
        return Atom(kind, a=_amount(arg, page, ptes))
    if kind == "every" and arg:
        return Atom(kind, a=max(1, _amount(arg, page, ptes)),
                    b=_amount(arg2, page, ptes) if arg2 else 0)
    if kind == "ptes" and arg and not arg2:
        return Atom(kind, ranges=parse_ranges(arg))
    if kind == "chunks" and arg2:
        return Atom(kind, a=_amount(arg, page, ptes), ranges=parse_ranges(arg2))
    if kind == "random" and arg:
        return Atom(kind, ppm=int(float(arg.rstrip("%")) * 10000.0 + 0.5),
                    seed=int(arg2, 0) if arg2 else 1)
    raise UserError(f"bad pattern atom {text!r}",
                    "full|none|half|first:A|last:A|every:K[:OFF]|ptes:R|chunks:SIZE:R|"
                    "random:PCT[:SEED], joined with + (union) and | (cycle over PMDs)")


@dataclass(frozen=True)
class Pattern:
    """thpwork's population pattern (see thpwork/util.c), for one page geometry."""
    spec: str
    groups: tuple[tuple[Atom, ...], ...]

    @classmethod
    def parse(cls, spec: str, page_size: int = 4096, ptes: int = 512) -> Pattern:
        groups = tuple(tuple(_atom(a, page_size, ptes) for a in g.split("+"))
                       for g in spec.split("|"))
        return cls(spec, groups)

    def hit(self, pmd: int, pte: int, ptes: int) -> bool:
        return any(a.hit(pmd, pte, ptes) for a in self.groups[pmd % len(self.groups)])

    def count(self, pages: int, ptes: int, pmds: str | None = None) -> int:
        """How many of `pages` pages (ptes per PMD) the pattern selects."""
        sel = parse_ranges(pmds) if pmds else None
        return sum(1 for i in range(pages) if (sel is None or _in(sel, i // ptes))
                   and self.hit(i // ptes, i % ptes, ptes))
