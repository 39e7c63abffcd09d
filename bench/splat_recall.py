#!/usr/bin/env python3
"""Splat parser figures over the corpus: python bench/splat_recall.py [--misses] [LOGDIR]

For every tests/data/logs/**/*.log with a *.expect.yaml sidecar:

* per log (as the held-out field collection is measured): recall = crash logs with at least
  one splat; false positives = clean logs (`splats: []`) with any splat; kind and culprit
  accuracy = the first parsed splat has the first expected splat's kind / function;
* per kind: expected splats are matched one-to-one with parsed ones (same kind first, else the
  next unmatched one in order); "kind" counts matches of the right kind, "culprit" those whose
  function is the expected one (when the sidecar gives it), "title" likewise; parsed splats left
  unmatched are "extra".

--misses lists, per log, what the first parsed splat got wrong (MISS, FP, KIND, CULPRIT, TITLE)
and the number of splats when it differs, with what was expected and what was found.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness.splats.parse import Splat, parse_file

DEFAULT = Path(__file__).resolve().parents[1] / "tests" / "data" / "logs"
COLS = ("expected", "found", "kind", "named", "culprit", "title", "extra")


def expected(log: Path) -> list[dict[str, Any]] | None:
    sidecar = log.with_name(log.name[: -len(".log")] + ".expect.yaml")
    if not sidecar.exists():
        return None
    data = yaml.safe_load(sidecar.read_text()) or {}
    return list(data.get("splats", []) if isinstance(data, dict) else data)


def same(want: dict[str, Any], got: Splat, key: str) -> bool:
    return key in want and want[key] == getattr(got, key)


def pick(exp: dict[str, Any], pool: list[Splat]) -> Splat | None:
    kind = str(exp.get("kind"))
    ranked = sorted(pool, key=lambda s: (s.kind != kind, not same(exp, s, "title"),
                                         abs(s.line - int(exp.get("line", s.line)))))
    return ranked[0] if ranked else None


def score(found: list[Splat], want: list[dict[str, Any]], tally: dict[str, Counter[str]]) -> None:
    unmatched = list(found)
    for exp in want:
        c = tally.setdefault(str(exp.get("kind")), Counter())
        c["expected"] += 1
        c["named"] += "function" in exp
        hit = pick(exp, unmatched)
        if hit is None:
            continue
        unmatched.remove(hit)
        c["found"] += 1
        c["kind"] += hit.kind == exp.get("kind")
        c["culprit"] += same(exp, hit, "function")
        c["title"] += same(exp, hit, "title")
    for extra in unmatched:
        tally.setdefault(extra.kind, Counter())["extra"] += 1


def per_log(found: list[Splat], want: list[dict[str, Any]], logs: Counter[str]) -> None:
    if not want:
        logs["clean"] += 1
        logs["false_positive"] += bool(found)
        return
    logs["crash"] += 1
    if not found:
        return
    logs["detected"] += 1
    logs["kind"] += found[0].kind == want[0].get("kind")
    if "function" in want[0]:
        logs["with_function"] += 1
        logs["culprit"] += found[0].function == want[0]["function"]


def misses(log: Path, found: list[Splat], want: list[dict[str, Any]]) -> str | None:
    """One line per log whose first splat (or splat count) differs from its sidecar."""
    first = want[0] if want else None
    got = found[0] if found else None
    bad = ["FP"] if first is None and found else []
    bad += ["MISS"] if first is not None and got is None else []
    if first is not None and got is not None:
        bad += [label for label, key in (("KIND", "kind"), ("CULPRIT", "function"),
                                         ("TITLE", "title"))
                if key in first and first[key] != getattr(got, key)]
    if len(found) != len(want):
        bad.append(f"{len(found)}/{len(want)} splats")
    if not bad:
        return None
    wanted = [(w.get("kind"), w.get("function")) for w in want]
    parsed = [(s.kind, s.function) for s in found]
    return f"{log.name}: {' '.join(bad)}: want {wanted}, got {parsed}"


def pct(n: int, d: int) -> str:
    return f"{n / d:.1%}" if d else "-"


def table(tally: dict[str, Counter[str]]) -> str:
    rows = [f"{'kind':<16}" + "".join(f"{c:>9}" for c in COLS)]
    total: Counter[str] = Counter()
    for kind in sorted(tally):
        c = tally[kind]
        total.update(c)
        rows.append(f"{kind:<16}" + "".join(f"{c[k]:>9}" for k in COLS))
    rows.append(f"{'TOTAL':<16}" + "".join(f"{total[k]:>9}" for k in COLS))
    rows.append(f"splats: recall {pct(total['found'], total['expected'])}, kind "
                f"{pct(total['kind'], total['found'])}, culprit "
                f"{pct(total['culprit'], total['named'])}, title "
                f"{pct(total['title'], total['expected'])}, extra {total['extra']}")
    return "\n".join(rows)


def log_summary(logs: Counter[str]) -> str:
    return (f"logs: {logs['crash']} crash, {logs['clean']} clean; recall "
            f"{pct(logs['detected'], logs['crash'])} ({logs['detected']}/{logs['crash']}), "
            f"false positives {logs['false_positive']}/{logs['clean']}, kind "
            f"{pct(logs['kind'], logs['detected'])}, culprit "
            f"{pct(logs['culprit'], logs['with_function'])} "
            f"({logs['culprit']}/{logs['with_function']})")


def main(argv: list[str]) -> int:
    show = "--misses" in argv
    args = [a for a in argv if a != "--misses"]
    root = Path(args[0]) if args else DEFAULT
    tally: dict[str, Counter[str]] = {}
    logs: Counter[str] = Counter()
    for log in sorted(root.rglob("*.log")):
        want = expected(log)
        if want is None:
            print(f"skipping {log} (no .expect.yaml)", file=sys.stderr)
            continue
        found = parse_file(log)
        score(found, want, tally)
        per_log(found, want, logs)
        if show and (line := misses(log, found, want)):
            print(line)
    print(table(tally))
    print(log_summary(logs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
