"""With-vs-without verdicts from journal records: outcomes, new splats, counter deltas.

Grouping key is (arch, kernel config, knobset): variants are compared within one (arch,
config), never across configs (a journal without "config" has the one config ""). The test
identity inside a group is the nodeid with its variant parameter removed, so the same test
on baseline and patched lines up.

A splat in the record of a test that passed was expected by that test (`expect_splat`): the
splat guard fails a test on any other splat. Such splats are listed apart (`expected_splats`),
neither new nor pre-existing: they are the test working, not a finding.

A test that could not judge (a racer whose race did not happen: its skip message starts
"inconclusive") is a change that is not a regression either way; the change carries the
reason so the verdict shows why the test did not count.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from harness.results.journal import FINDINGS, INFRA
from harness.results.records import Outcome, Record, SplatRecord, TestRecord

INCONCLUSIVE = "inconclusive"   # how a test's skip message says it could not judge
VARIANT_PARAM = re.compile(r"(?<=[\[-])(?:x86_64|arm64)-[^\]-]+(?:-|(?=\]))")


@dataclass(frozen=True)
class Change:
    test: str
    before: str
    after: str
    why: str = ""                 # an inconclusive skip's reason (either side), else ""


@dataclass(frozen=True)
class NewSplat:
    """A splat seen with the series only, and the test (nodeid) that printed it."""
    splat: SplatRecord
    test: str


@dataclass(frozen=True)
class GroupVerdict:
    arch: str
    knobset: str
    base: str
    other: str
    changed: tuple[Change, ...] = ()
    new_splats: tuple[NewSplat, ...] = ()
    gone_splats: tuple[str, ...] = ()
    common_splats: tuple[str, ...] = ()
    expected_splats: tuple[str, ...] = ()
    counters: Mapping[str, Mapping[str, tuple[int, int]]] = field(default_factory=dict)
    infra: tuple[str, ...] = ()
    config: str = ""              # the kernel config ("" = the run has no config axis)

    @property
    def where(self) -> str:
        """"x86_64" or "x86_64 config=ptc": the (arch, config) the group compares within."""
        return f"{self.arch} config={self.config}" if self.config else self.arch

    def holds(self, record: TestRecord) -> bool:
        """Whether a test record belongs to this group (any of its variants)."""
        return (record.arch == self.arch and record.config == self.config
                and (record.knobset or "-") == self.knobset)

    @property
    def new_titles(self) -> frozenset[str]:
        return frozenset(s.splat.title for s in self.new_splats)

    def splat_status(self, record: TestRecord, title: str) -> str | None:
        """new | pre-existing | baseline only | expected, for a splat of a test record of
        this group; None when the group does not compare it."""
        if not self.holds(record):
            return None
        if record.variant == self.other and title in self.new_titles:
            return "new"
        if title in self.common_splats:
            return "pre-existing"
        if record.variant == self.base and title in self.gone_splats:
            return "baseline only"
        if title in self.expected_splats:
            return "expected"
        return None

    @property
    def regression(self) -> bool:
        worse = any(c.after in FINDINGS and c.before not in FINDINGS for c in self.changed)
        return worse or bool(self.new_splats)


def _strip_variant(nodeid: str, arch: str, variant: str) -> str:
    tag = f"{arch}-{variant}"
    return nodeid.replace(f"[{tag}]", "").replace(f"{tag}-", "").replace(f"-{tag}", "")


def test_key(record: TestRecord) -> str:
    """nodeid without the arch-variant parameter."""
    return _strip_variant(record.nodeid, record.arch, record.variant)


def compare(records: Iterable[Record], base: str = "baseline",
            other: str = "patched") -> list[GroupVerdict]:
    by: dict[tuple[str, str, str, str], dict[str, TestRecord]] = defaultdict(dict)
    for t in records:
        if isinstance(t, TestRecord) and t.variant in (base, other):
            by[(t.arch, t.config, t.knobset or "-", t.variant)][test_key(t)] = t
    out = []
    for arch, conf, knobset in sorted({k[:3] for k in by}):
        out.append(_group(GroupVerdict(arch, knobset, base, other, config=conf),
                          by[(arch, conf, knobset, base)], by[(arch, conf, knobset, other)]))
    return out


def _group(g: GroupVerdict, b: dict[str, TestRecord], p: dict[str, TestRecord]) -> GroupVerdict:
    changed, infra = [], []
    for test in sorted(set(b) | set(p)):
        before = b[test].outcome.value if test in b else "missing"
        after = p[test].outcome.value if test in p else "missing"
        if before != after:
            changed.append(Change(test, before, after, _inconclusive(p.get(test))
                                  or _inconclusive(b.get(test))))
        if after in INFRA or before in INFRA:
            infra.append(test)
    bt = {s.title: s for r in b.values() for s in r.seen_splats}
    pt = {s.title: (s, r) for r in p.values() for s in r.seen_splats}
    expected = _expected_titles([*b.values(), *p.values()])
    return replace(
        g, changed=tuple(changed), infra=tuple(infra),
        new_splats=tuple(NewSplat(s, r.nodeid) for t, (s, r) in sorted(pt.items())
                         if t not in bt and t not in expected),
        gone_splats=tuple(sorted(set(bt) - set(pt) - expected)),
        common_splats=tuple(sorted((set(bt) & set(pt)) - expected)),
        expected_splats=tuple(sorted((set(bt) | set(pt)) & expected)),
        counters=_counter_deltas(b, p))


def _inconclusive(record: TestRecord | None) -> str:
    """The reason of a test that skipped as inconclusive (a racer that could not prove
    its race: `inconclusive: ...`), else ""."""
    if record is None or record.outcome is not Outcome.SKIPPED:
        return ""
    message = (record.message or "").strip()
    return message.splitlines()[0][:300] if message.startswith(INCONCLUSIVE) else ""


def _expected_titles(records: list[TestRecord]) -> set[str]:
    """Titles of splats only ever seen in tests that passed: expected by their test."""
    passed = {s.title for r in records if r.outcome is Outcome.PASSED for s in r.seen_splats}
    other = {s.title for r in records if r.outcome is not Outcome.PASSED for s in r.seen_splats}
    return passed - other


def _sum_counters(records: dict[str, TestRecord]) -> dict[str, dict[str, int]]:
    total: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in records.values():
        for size, name, value in (r.counters.rows() if r.counters else ()):
            total[size][name] += value
    return total


def _counter_deltas(b: dict[str, TestRecord],
                    p: dict[str, TestRecord]) -> dict[str, dict[str, tuple[int, int]]]:
    tb, tp = _sum_counters(b), _sum_counters(p)
    out: dict[str, dict[str, tuple[int, int]]] = {}
    for size in sorted(set(tb) | set(tp), key=_size_order):
        names = sorted(set(tb.get(size, {})) | set(tp.get(size, {})))
        out[size] = {n: (tb.get(size, {}).get(n, 0), tp.get(size, {}).get(n, 0)) for n in names}
    return out


def _size_order(size: str) -> tuple[int, str]:
    m = re.match(r"(\d+)", size)
    return (int(m.group(1)) if m else 1 << 30, size)


def any_regression(groups: list[GroupVerdict]) -> bool:
    return any(g.regression for g in groups)
