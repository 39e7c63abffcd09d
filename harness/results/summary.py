"""Terminal summary of a run: per-cell outcome counts and the baseline-vs-patched verdict
(one per arch, kernel config and knob set)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence

from harness.results import records as rec
from harness.results.verdict import GroupVerdict
from harness.splats.symbolize import culprit_frame

INTERESTING = ("collapse_alloc", "collapse_alloc_failed", "collapse_exceed_none_pte",
               "collapse_exceed_swap_pte", "collapse_exceed_shared_pte")


def cell_table(records: Sequence[rec.Record]) -> str:
    per: dict[str, Counter[str]] = {}
    for r in records:
        if isinstance(r, rec.TestRecord):
            per.setdefault(r.cell, Counter())[r.outcome.value] += 1
    if not per:
        return "no test results"
    kinds = [o.value for o in (rec.Outcome.PASSED, rec.Outcome.FAILED, rec.Outcome.CRASH,
                               rec.Outcome.LOCKUP, rec.Outcome.TIMEOUT, rec.Outcome.ERROR,
                               rec.Outcome.INFRA, rec.Outcome.SKIPPED)]
    w = max(24, *(len(c) + 2 for c in per))
    head = f"{'cell':{w}s}" + "".join(f"{k:>9s}" for k in kinds)
    rows = [f"{cell:{w}s}" + "".join(f"{c.get(k, 0):9d}" for k in kinds)
            for cell, c in sorted(per.items())]
    return "\n".join([head, "-" * len(head), *rows])


def verdict_text(groups: list[GroupVerdict]) -> str:
    if not groups:
        return "verdict: nothing to compare (need a baseline and another variant)"
    out = []
    for g in groups:
        state = "REGRESSION" if g.regression else "no regression"
        out.append(f"== {g.where} knobs={g.knobset}: {g.other} vs {g.base}: {state}")
        for c in g.changed:
            why = f" ({c.why})" if c.why else ""
            out.append(f"   changed  {c.test}: {c.before} -> {c.after}{why}")
        for new in g.new_splats:
            out.append(f"   NEW SPLAT {new.splat.label} ({new.test})")
            if culprit_frame(new.splat):
                out.append(f"     at {culprit_frame(new.splat)}")
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


PYTEST_EXITS = {2: "interrupted", 3: "internal error", 4: "usage error",
                5: "no tests collected"}


def _first_line(text: str | None, width: int = 160) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    line = next((ln for ln in lines if ln.startswith("E ")), lines[-1] if lines else "")
    return line[:width]


def incomplete(records: Iterable[rec.Record],
               log_reason: Callable[[str], str] = lambda cell: "") -> list[str]:
    """Why the run could not judge everything: one entry per cell whose pytest did not run
    to its end, that gave no test results, or whose tests ended in error/infra (the last
    attempt of each, for a resumed run). `log_reason(cell)` adds the cell log's error."""
    records = list(records)
    tests = rec.tests(records)
    tested = {t.cell for t in tests}
    out = []
    for name, c in sorted(rec.cells(records).items()):
        if c.status is rec.CellStatus.INFRA:
            rc = c.pytest_exit
            why = (f"pytest exit {rc} ({PYTEST_EXITS.get(rc, 'failed')})" if rc is not None
                   else "infrastructure error")
            out.append(": ".join(p for p in (name, why, log_reason(name)) if p))
        elif c.status is rec.CellStatus.DONE and name not in tested:
            out.append(": ".join(p for p in (name, "no test results", log_reason(name)) if p))
    errors: dict[str, list[rec.TestRecord]] = {}
    for t in tests:
        if t.outcome.is_problem:
            errors.setdefault(t.cell, []).append(t)
    for name, errs in sorted(errors.items()):
        first = errs[0]
        msg = _first_line(first.message)
        out.append(f"{name}: {len(errs)} test(s) ended in {first.outcome}, first "
                   f"{first.nodeid}" + (f": {msg}" if msg else ""))
    return out


def incomplete_line(problems: list[str], shown: int = 3) -> str:
    """The run's last line when it could not judge everything (exit 2)."""
    more = f" (+{len(problems) - shown} more)" if len(problems) > shown else ""
    return (f"kharness: run incomplete: {len(problems)} problem(s): "
            + "; ".join(problems[:shown]) + more)
