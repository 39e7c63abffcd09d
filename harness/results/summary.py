"""Terminal summary of a run: per-cell outcome counts and the baseline-vs-patched verdict."""

from __future__ import annotations

from collections import Counter
from typing import Any

from harness.results.verdict import GroupVerdict
from harness.splats.symbolize import culprit_frame

INTERESTING = ("collapse_alloc", "collapse_alloc_failed", "collapse_exceed_none_pte",
               "collapse_exceed_swap_pte", "collapse_exceed_shared_pte")


def cell_table(records: list[dict[str, Any]]) -> str:
    per: dict[str, Counter[str]] = {}
    for r in records:
        if r.get("type") == "test":
            per.setdefault(str(r["cell"]), Counter())[str(r["outcome"])] += 1
    if not per:
        return "no test results"
    kinds = ["passed", "failed", "crash", "lockup", "timeout", "error", "infra", "skipped"]
    head = f"{'cell':24s}" + "".join(f"{k:>9s}" for k in kinds)
    rows = [f"{cell:24s}" + "".join(f"{c.get(k, 0):9d}" for k in kinds)
            for cell, c in sorted(per.items())]
    return "\n".join([head, "-" * len(head), *rows])


def verdict_text(groups: list[GroupVerdict]) -> str:
    if not groups:
        return "verdict: nothing to compare (need a baseline and another variant)"
    out = []
    for g in groups:
        state = "REGRESSION" if g.regression else "no regression"
        out.append(f"== {g.arch} knobs={g.knobset}: {g.other} vs {g.base}: {state}")
        for c in g.changed:
            out.append(f"   changed  {c.test}: {c.before} -> {c.after}")
        for s in g.new_splats:
            out.append(f"   NEW SPLAT [{s.get('kind')}] {s.get('title')} ({s.get('test')})")
            if culprit_frame(s):
                out.append(f"     at {culprit_frame(s)}")
        for t in g.gone_splats:
            out.append(f"   gone     {t}")
        for t in g.common_splats:
            out.append(f"   both     {t} (pre-existing, not blamed on the series)")
        for t in g.expected_splats:
            out.append(f"   expected {t} (expected by its test)")
        out += _counter_lines(g)
    return "\n".join(out)


def _counter_lines(g: GroupVerdict) -> list[str]:
    lines = []
    for size, stats in g.counters.items():
        cells = [f"{n.removeprefix('collapse_')}={b}->{p}" for n, (b, p) in stats.items()
                 if (n in INTERESTING or n in ("pages_collapsed", "full_scans")) and (b or p)]
        if cells:
            lines.append(f"   {size:>9s}: " + "  ".join(cells))
    return lines
