"""With-vs-without verdicts from journal records: outcomes, new splats, counter deltas.

Grouping key is (arch, kernel config, knobset): variants are compared within one (arch,
config), never across configs (a journal without "config" has the one config ""). The test
identity inside a group is the nodeid with its
variant parameter removed, so the same test on baseline and patched lines up.

A splat in the record of a test that passed was expected by that test (`expect_splat`): the
splat guard fails a test on any other splat. Such splats are listed apart (`expected_splats`),
neither new nor pre-existing: they are the test working, not a finding.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from harness.results.journal import FINDINGS, INFRA

VARIANT_PARAM = re.compile(r"(?<=[\[-])(?:x86_64|arm64)-[^\]-]+(?:-|(?=\]))")


@dataclass(frozen=True)
class Change:
    test: str
    before: str
    after: str


@dataclass
class GroupVerdict:
    arch: str
    knobset: str
    base: str
    other: str
    changed: list[Change] = field(default_factory=list)
    new_splats: list[dict[str, Any]] = field(default_factory=list)
    gone_splats: list[str] = field(default_factory=list)
    common_splats: list[str] = field(default_factory=list)
    expected_splats: list[str] = field(default_factory=list)
    counters: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    infra: list[str] = field(default_factory=list)
    config: str = ""              # the kernel config ("" = the run has no config axis)

    @property
    def where(self) -> str:
        """"x86_64" or "x86_64 config=ptc": the (arch, config) the group compares within."""
        return f"{self.arch} config={self.config}" if self.config else self.arch

    def holds(self, record: dict[str, Any]) -> bool:
        """Whether a test record belongs to this group (any of its variants)."""
        return (record.get("arch") == self.arch and config_of(record) == self.config
                and str(record.get("knobset") or "-") == self.knobset)

    @property
    def regression(self) -> bool:
        worse = any(c.after in FINDINGS and c.before not in FINDINGS for c in self.changed)
        return worse or bool(self.new_splats)


def config_of(record: dict[str, Any]) -> str:
    return str(record.get("config") or "")


def test_key(record: dict[str, Any]) -> str:
    """nodeid without the arch-variant parameter."""
    nodeid = str(record.get("nodeid", ""))
    tag = f"{record.get('arch')}-{record.get('variant')}"
    return nodeid.replace(f"[{tag}]", "").replace(f"{tag}-", "").replace(f"-{tag}", "")


def compare(records: list[dict[str, Any]], base: str = "baseline",
            other: str = "patched") -> list[GroupVerdict]:
    by: dict[tuple[str, str, str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
    for r in records:
        if r.get("type") == "test" and r.get("variant") in (base, other):
            key = (str(r["arch"]), config_of(r), str(r.get("knobset") or "-"), str(r["variant"]))
            by[key][test_key(r)] = r
    out = []
    for arch, conf, knobset in sorted({k[:3] for k in by}):
        g = GroupVerdict(arch, knobset, base, other, config=conf)
        out.append(_group(g, by[(arch, conf, knobset, base)], by[(arch, conf, knobset, other)]))
    return out


def _group(g: GroupVerdict, b: dict[str, dict[str, Any]],
           p: dict[str, dict[str, Any]]) -> GroupVerdict:
    for test in sorted(set(b) | set(p)):
        before = b.get(test, {}).get("outcome", "missing")
        after = p.get(test, {}).get("outcome", "missing")
        if before != after:
            g.changed.append(Change(test, before, after))
        if after in INFRA or before in INFRA:
            g.infra.append(test)
    bt = {s["title"]: s for r in b.values() for s in r.get("splats", [])}
    pt = {s["title"]: (s, r) for r in p.values() for s in r.get("splats", [])}
    expected = _expected_titles([*b.values(), *p.values()])
    g.new_splats = [{**s, "test": r.get("nodeid")} for t, (s, r) in sorted(pt.items())
                    if t not in bt and t not in expected]
    g.gone_splats = sorted(set(bt) - set(pt) - expected)
    g.common_splats = sorted((set(bt) & set(pt)) - expected)
    g.expected_splats = sorted((set(bt) | set(pt)) & expected)
    g.counters = _counter_deltas(b, p)
    return g


def _expected_titles(records: list[dict[str, Any]]) -> set[str]:
    """Titles of splats only ever seen in tests that passed: expected by their test."""
    passed = {s["title"] for r in records if r.get("outcome") == "passed"
              for s in r.get("splats", [])}
    other = {s["title"] for r in records if r.get("outcome") != "passed"
             for s in r.get("splats", [])}
    return passed - other


def _sum_counters(records: dict[str, dict[str, Any]]) -> dict[str, dict[str, int]]:
    total: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in records.values():
        for size, stats in (r.get("counters") or {}).items():
            for name, value in stats.items():
                if isinstance(value, (int, float)):
                    total[size][name] += int(value)
    return total


def _counter_deltas(b: dict[str, dict[str, Any]],
                    p: dict[str, dict[str, Any]]) -> dict[str, dict[str, tuple[int, int]]]:
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
