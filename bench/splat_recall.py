#!/usr/bin/env python3
"""Recall of the splat parser over the corpus, per kind: python bench/splat_recall.py [LOGDIR]

For every tests/data/logs/**/*.log with a *.expect.yaml sidecar, expected splats are matched
one-to-one with parsed ones of the same kind; a match is "exact" when title and function (if
the sidecar gives them) agree too. Extra parsed splats are counted as false positives.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness.splats import Splat, parse_file

DEFAULT = Path(__file__).resolve().parents[1] / "tests" / "data" / "logs"


def expected(log: Path) -> list[dict[str, Any]] | None:
    sidecar = log.with_name(log.name[: -len(".log")] + ".expect.yaml")
    if not sidecar.exists():
        return None
    data = yaml.safe_load(sidecar.read_text()) or {}
    return list(data.get("splats", []) if isinstance(data, dict) else data)


def exact(want: dict[str, Any], got: Splat) -> bool:
    return all(want[k] == getattr(got, k) for k in ("title", "function") if k in want)


def score(log: Path, want: list[dict[str, Any]], tally: dict[str, Counter[str]]) -> None:
    found = parse_file(log)
    unmatched = list(found)
    for exp in want:
        kind = str(exp.get("kind"))
        tally[kind]["expected"] += 1
        same = [s for s in unmatched if s.kind == kind]
        hit = next((s for s in same if exact(exp, s)), same[0] if same else None)
        if hit is not None:
            unmatched.remove(hit)
            tally[kind]["found"] += 1
            tally[kind]["exact"] += exact(exp, hit)
    for extra in unmatched:
        tally[extra.kind]["extra"] += 1


def table(tally: dict[str, Counter[str]], logs: int) -> str:
    rows = [f"{'kind':<16}{'expected':>9}{'found':>7}{'recall':>8}{'exact':>7}{'extra':>7}"]
    total: Counter[str] = Counter()
    for kind in sorted(tally):
        c = tally[kind]
        total.update(c)
        recall = f"{c['found'] / c['expected']:.0%}" if c["expected"] else "-"
        rows.append(f"{kind:<16}{c['expected']:>9}{c['found']:>7}{recall:>8}{c['exact']:>7}"
                    f"{c['extra']:>7}")
    recall = f"{total['found'] / total['expected']:.0%}" if total["expected"] else "-"
    rows.append(f"{'TOTAL':<16}{total['expected']:>9}{total['found']:>7}{recall:>8}"
                f"{total['exact']:>7}{total['extra']:>7}   ({logs} logs)")
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else DEFAULT
    tally: dict[str, Counter[str]] = {}
    logs = 0
    for log in sorted(root.rglob("*.log")):
        want = expected(log)
        if want is None:
            print(f"skipping {log} (no .expect.yaml)", file=sys.stderr)
            continue
        logs += 1
        for exp in want:
            tally.setdefault(str(exp.get("kind")), Counter())
        for s in parse_file(log):
            tally.setdefault(s.kind, Counter())
        score(log, want, tally)
    print(table(tally, logs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
