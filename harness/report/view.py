"""What the HTML report shows, computed from a run directory: rows for the template.

Console context for a splat comes from the cell's console logs (RUN/cells/<cell>/*/console.log):
the lines between "kharness: test start NODEID" and "... test end NODEID", located by the
splat's header line (or its title, or its line number within the test's slice).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from markupsafe import Markup

from harness.report import census as svgcensus
from harness.report import junit, svg
from harness.results import records as rec
from harness.results.fields import JsonMap, JsonValue
from harness.results.journal import PRIORITY
from harness.results.records import CellRecord, RunRecord, SplatRecord, TestRecord
from harness.results.verdict import GroupVerdict, test_key
from harness.splats.symbolize import culprit_frame

Row = dict[str, object]          # one row of a template table (the template reads it by key)

OUTCOMES = ("passed", "failed", "crash", "lockup", "timeout", "error", "infra", "skipped")
SIZE_KEY = re.compile(r"^(\d+)\s*(kB|KB|K|k|M|MB|G|GB)$")
NOT_SERIES = {"scan", "t", "event", "full_scans", "pages_collapsed"}
CONTEXT_BEFORE, CONTEXT_AFTER, CONTEXT_MAX = 4, 4, 140


def slug(cell: str) -> str:
    """RUN/cells/<slug> of a cell name, as harness.campaign.run.Cell.slug makes it."""
    return cell.replace("/", "-").replace(":", "_")


def size_kb(label: str) -> int | None:
    m = SIZE_KEY.match(label.strip())
    if not m:
        return None
    unit = m.group(2)[0].upper()
    return int(m.group(1)) << {"K": 0, "M": 10, "G": 20}[unit]


def _strip_ts(line: str) -> str:
    return re.sub(r"^\[\s*\d+\.\d+\]\s?", "", line.rstrip("\r"))


@dataclass
class CellDir:
    """One cell's directory: console logs, vm.json files, junit."""

    path: Path

    @cached_property
    def consoles(self) -> list[list[str]]:
        return [p.read_text(errors="backslashreplace").splitlines()
                for p in sorted(self.path.glob("*/console.log"))]

    @cached_property
    def vms(self) -> list[VmInfo]:
        out = []
        for p in sorted(self.path.glob("*/vm.json")):
            try:
                doc = json.loads(p.read_text())
            except (OSError, ValueError):
                continue
            out.append(VmInfo.from_json(doc if isinstance(doc, dict) else {}))
        return out

    @cached_property
    def times(self) -> dict[tuple[str, str], float]:
        return junit.case_times(self.path / "junit.xml")

    def section(self, nodeid: str) -> list[str]:
        """Console lines of one test (markers included), from the first log holding them."""
        start_mark, end_mark = f"kharness: test start {nodeid}", f"kharness: test end {nodeid}"
        for lines in self.consoles:
            start = next((i for i, ln in enumerate(lines) if ln.endswith(start_mark)
                          or ln.rstrip("\r").endswith(start_mark)), None)
            if start is None:
                continue
            end = next((i for i in range(start, len(lines)) if end_mark in lines[i]),
                       len(lines) - 1)
            return [ln.rstrip("\r") for ln in lines[start:end + 1]]
        return []

    def splat_context(self, nodeid: str, splat: SplatRecord) -> str:
        lines = self.section(nodeid)
        if not lines:
            return ""
        at = _locate(lines, splat)
        span = (splat.end_line or 0) - (splat.line or 0)
        lo = max(0, at - CONTEXT_BEFORE)
        hi = min(len(lines), at + max(span, 0) + CONTEXT_AFTER + 1, lo + CONTEXT_MAX)
        return "\n".join(lines[lo:hi])

    def excerpt(self, nodeid: str, tail: int = 60) -> str:
        return "\n".join(self.section(nodeid)[-tail:])


def _locate(lines: list[str], splat: SplatRecord) -> int:
    for needle in (splat.header, splat.title):
        if needle:
            hit = next((i for i, ln in enumerate(lines) if needle in ln), None)
            if hit is not None:
                return hit
    return min(max(0, (splat.line or 1) - 1), max(0, len(lines) - 1))


@dataclass(frozen=True)
class VmInfo:
    """The fields of a VM's vm.json the report shows."""
    boot_seconds: float | None = None
    reproducer: str = ""             # the QEMU command line (reproducer, else qemu_argv)

    @classmethod
    def from_json(cls, doc: JsonMap) -> VmInfo:
        boot = doc.get("boot_seconds")
        return cls(boot if isinstance(boot, (int, float)) and not isinstance(boot, bool)
                   else None,
                   str(doc.get("reproducer") or doc.get("qemu_argv") or ""))


class RunView:
    """Everything the template needs, derived lazily from one run directory."""

    def __init__(self, out: Path, run: RunRecord | None, records: Sequence[rec.Record],
                 groups: list[GroupVerdict]) -> None:
        self.out, self.run, self.groups, self.records = out, run, groups, records
        self.tests = rec.tests(records)
        self.cell_records = {r.cell: r for r in records if isinstance(r, CellRecord)}
        names = list(run.cells) if run else []
        seen = names + sorted({r.cell for r in self.tests} | set(self.cell_records))
        self.cells = list(dict.fromkeys(seen))
        self.dirs = {c: CellDir(out / "cells" / slug(c)) for c in self.cells}

    @property
    def name(self) -> str:
        return (self.run.name if self.run else "") or self.out.name

    def tests_of(self, cell: str) -> list[TestRecord]:
        return [r for r in self.tests if r.cell == cell]

    def duration(self, r: TestRecord) -> float | None:
        if r.duration is not None:
            return float(r.duration)
        return self.dirs[r.cell].times.get(junit.junit_key(r.nodeid))

    def excerpt(self, r: TestRecord) -> str:
        if r.console is not None and "\n" in r.console:
            return "\n".join(r.console.splitlines()[-60:])
        return self.dirs[r.cell].excerpt(r.nodeid)

    # ---------------------------------------------------------------- matrix
    def matrix(self) -> list[Row]:
        rows: list[Row] = []
        for cell in self.cells:
            counts = Counter(r.outcome.value for r in self.tests_of(cell))
            c = self.cell_records.get(cell)
            worst = max(counts, key=lambda o: PRIORITY.get(o, 3)) if counts else "none"
            rows.append({"cell": cell, "status": c.status.value if c else "not finished",
                         "counts": [(o, counts.get(o, 0)) for o in OUTCOMES],
                         "total": sum(counts.values()), "worst": worst,
                         "message": _cell_message(c)})
        return rows

    # --------------------------------------------------------------- verdicts
    def group_views(self) -> list[Row]:
        ordered = sorted(self.groups, key=lambda g: not g.regression)
        return [self._group(g) for g in ordered]

    def _group(self, g: GroupVerdict) -> Row:
        rows = [{"size": size, "name": name, "base": b, "other": p, "delta": p - b,
                 "pct": None if not b else 100.0 * (p - b) / b}
                for size, stats in g.counters.items() for name, (b, p) in stats.items()
                if b or p]
        return {"g": g, "id": f"g-{g.where.replace(' config=', '-')}-{g.knobset}", "counters": rows,
                "chart": self.collapse_chart(g), "scan_charts": self.scan_charts(g),
                "census_charts": self.census_charts(g)}

    def collapse_chart(self, g: GroupVerdict, stat: str = "collapse_alloc") -> Markup | None:
        """Bars per folio size, baseline beside patched; sizes zero in both are left out."""
        sizes = [s for s, stats in g.counters.items() if any(stats.get(stat, (0, 0)))]
        if not sizes:
            return None
        series = {g.base: [g.counters[s][stat][0] for s in sizes],
                  g.other: [g.counters[s][stat][1] for s in sizes]}
        return svg.grouped_bars(sizes, series, title=f"{stat} per size: {g.other} vs {g.base}",
                                ylabel=stat, cls="collapse")

    def _by_test(self, g: GroupVerdict, field: str) -> dict[str, dict[str, TestRecord]]:
        """test key -> {variant: record} for the group's tests that recorded `field`."""
        by: dict[str, dict[str, TestRecord]] = {}
        for r in self.tests:
            if g.holds(r) and r.variant in (g.base, g.other) and _recorded(r, field):
                by.setdefault(test_key(r), {})[r.variant] = r
        return {t: dict(sorted(recs.items(), key=lambda kv: kv[0] != g.base))
                for t, recs in sorted(by.items())}

    def scan_charts(self, g: GroupVerdict) -> list[Markup]:
        return [c for test, recs in self._by_test(g, "per_scan").items()
                if (c := _scan_chart(test, recs)) is not None]

    def census_charts(self, g: GroupVerdict) -> list[Markup]:
        out = []
        for test, recs in self._by_test(g, "census").items():
            rows, ptes, page_kb = svgcensus.census_rows(recs)
            if rows:
                title = f"folio census of the region, before and after collapse: {test}"
                out.append(svgcensus.folio_map(rows, title=title, ptes=ptes, page_kb=page_kb,
                                               display=title.replace(test, svg.short_test(test))))
        return out

    # ----------------------------------------------------------------- splats
    def splat_rows(self) -> list[Row]:
        rows: list[Row] = []
        for r in self.tests:
            for s in r.seen_splats:
                rows.append({"cell": r.cell, "test": r.nodeid, "variant": r.variant,
                             "status": self.splat_status(r, s.title), "s": s,
                             "culprit": culprit_frame(s), "frames": list(s.frames),
                             "context": self.dirs[r.cell].splat_context(r.nodeid, s)})
        order = {"new": 0, "pre-existing": 1, "baseline only": 2, "expected": 3, "": 4}
        return sorted(rows, key=lambda x: (order.get(str(x["status"]), 4), str(x["cell"])))

    def splat_status(self, r: TestRecord, title: str) -> str:
        return next((st for g in self.groups if (st := g.splat_status(r, title))), "")

    # ------------------------------------------------------ tests, durations
    def test_rows(self) -> list[Row]:
        return [{"r": r, "duration": self.duration(r), "nsplats": len(r.seen_splats)}
                for cell in self.cells for r in self.tests_of(cell)]

    def duration_chart(self) -> Markup | None:
        rows = []
        for cell in self.cells:
            c = self.cell_records.get(cell)
            boot = sum(v.boot_seconds or 0 for v in self.dirs[cell].vms)
            build = float(c.build.seconds or 0) if c and c.build else 0.0
            test = max(0.0, float(c.seconds or 0) - boot) if c else 0.0
            rows.append((cell, {"build": build, "boot": boot, "test": test}))
        if not any(sum(d.values()) for _, d in rows):
            return None
        return svg.stacked_hbars(rows, title="seconds per cell: build, boot, tests")

    def slowest(self, n: int = 10) -> list[tuple[float, TestRecord]]:
        timed = [(d, r) for r in self.tests if (d := self.duration(r)) is not None]
        return sorted(timed, key=lambda x: -x[0])[:n]

    def reproducers(self) -> list[Row]:
        out: list[Row] = []
        for cell in self.cells:
            c = self.cell_records.get(cell)
            cmd = (c.reproduce if c else None) or ""
            celldir = str(self.out / "cells" / slug(cell))
            out.append({"cell": cell, "pytest": f"python3 {cmd}".replace("CELLDIR", celldir)
                        if cmd else "", "build": _build_dir(c),
                        "qemu": [v.reproducer for v in self.dirs[cell].vms]})
        return out


def _cell_message(c: CellRecord | None) -> str:
    return (c.message or "") if c else ""


def _build_dir(c: CellRecord | None) -> str | None:
    """The cell's build directory ("" without a cell record or build)."""
    return c.build.dir if c and c.build else ""


def _recorded(r: TestRecord, field: str) -> bool:
    """Whether the test recorded a non-empty `field` (per_scan, census)."""
    return bool(r.per_scan if field == "per_scan" else r.census if field == "census"
                else r.extra.get(field))


# ------------------------------------------------------------ per-scan series
def scan_series(per_scan: Sequence[JsonValue], stat: str = "collapse_alloc"
                ) -> tuple[list[float], dict[str, list[float]]]:
    """x values and {size: values} of one stat, from the shapes tests write.

    Accepted elements (dicts; anything else is skipped): counters.journal_per_scan's
    {"full_scans": +k, "<size>": {stat: v}, ...} (non-zero stats only: a missing size is 0),
    {"scan": n, "sizes": {size: {stat: v} or v}}, {"scan": n, "<size>": v} and
    CounterDelta.flat()'s {"64K.collapse_alloc": v}. x is "scan" when present, else the
    running total of "full_scans" (a step may cover several scans), else the position.
    """
    rows: list[JsonMap] = [e for e in per_scan if isinstance(e, dict)]
    points = [_scan_point(e, stat) for e in rows]
    sizes = sorted({s for p in points for s in p}, key=lambda s: (size_kb(s) or 1 << 40, s))
    return _scan_xs(rows), {s: [p.get(s, 0.0) for p in points] for s in sizes}


def _scan_xs(rows: list[JsonMap]) -> list[float]:
    xs: list[float] = []
    for i, e in enumerate(rows, 1):
        scan, full = e.get("scan"), e.get("full_scans")
        if isinstance(scan, (int, float)):
            xs.append(float(scan))
        elif isinstance(full, (int, float)) and full > 0:
            xs.append((xs[-1] if xs else 0.0) + float(full))
        else:
            xs.append(float(i))
    return xs


def _scan_point(e: JsonMap, stat: str) -> dict[str, float]:
    nested = e.get("sizes")
    src: Mapping[str, object] = nested if isinstance(nested, dict) else e
    out: dict[str, float] = {}
    for key, value in src.items():
        key = str(key)
        if key in NOT_SERIES:
            continue
        size, _, name = key.partition(".")
        if name and name != stat:
            continue
        if isinstance(value, dict):
            value = value.get(stat)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and size_kb(size):
            out[size] = float(value)
    return out


def size_colours(sizes: Sequence[str]) -> dict[str, str]:
    """The report-wide colour of each folio size label ("64kB" -> the order-4 colour)."""
    return {s: svg.order_colour(svg.size_order(size_kb(s) or 4)) for s in sizes}


def _scan_chart(test: str, recs: dict[str, TestRecord]) -> Markup | None:
    """collapse_alloc per full scan and size: one panel per variant (baseline first), one
    y scale, sizes in the report's size colours; sizes zero throughout are left out."""
    panels = []
    for variant, r in recs.items():
        xs, by_size = scan_series(r.per_scan or ())
        panels.append((variant, xs, by_size))
    sizes = list(dict.fromkeys(s for _, _, by in panels for s in by))
    if not any(v for _, _, by in panels for vals in by.values() for v in vals):
        return None
    title = f"collapse_alloc per full scan: {test}"
    return svg.line_panels(panels, title=title,
                           display=title.replace(test, svg.short_test(test)),
                           xlabel="full scans", ylabel="collapse_alloc", cls="per-scan",
                           colours=size_colours(sizes), panel_w=250, height=250)
