#!/usr/bin/env python3
"""The splat reader against syzkaller-format report files:
python bench/splat_syzkaller.py DIR [--only LIST] [--overrides FILE] [--misses] [--kinds]

Each file of DIR is one console log with syzkaller's test-data header: `TITLE:` (none for a
clean log), `ALT:` (equivalent titles), `TYPE:`, then a blank line and the log; `#` lines are
comments. google/syzkaller's pkg/report/testdata/linux/report/ has this layout; the data is not
in this repository.

Per log, as the issue #19 collection is measured: recall = crash logs with a splat; false
positives = clean logs with one; culprit = the first splat names the title's function (the
part after the last " in "), an ALT title's function, or its title is one of the ALT titles.
Titles that are not kernel reports (SYZFAIL, go runtime errors, lost connection ...) are left
out; so are titles without a function. `--overrides FILE`: lines `N culprit` (or `N -` to leave
a log out of the culprit figure), for labels the data's own comments say are wrong.
`--kinds`: the first splat's kind against TYPE: where the file gives one.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness.splats.culprit import canonical
from harness.splats.model import Splat
from harness.splats.parse import parse_log

NOT_KERNEL = re.compile(r"go runtime error|SYZFAIL|SYZFATAL|lost connection|no output|suppressed|"
                        r"panic: |fatal error:|unexpected kernel reboot|BUG: executor-detected bug")
NO_FUNC = re.compile(r"corrupted|unregister_netdevice|^kernel panic")
TYPES: dict[str, set[str]] = {
    "HANG": {"rcu_stall", "soft_lockup", "hard_lockup", "hung_task"},
    "WARNING": {"warning", "refcount"}, "LOCKDEP": {"lockdep", "rcu"},
    "DoS": {"oops", "bug", "panic", "invalid_opcode", "stack", "list_corruption", "slab",
            "bad_page", "refcount"},
    "ATOMIC_SLEEP": {"atomic_sleep"}, "LEAK": {"memory_leak"}, "UBSAN": {"ubsan"},
    "NULL-POINTER-DEREFERENCE": {"oops"}, "REFCOUNT_WARNING": {"refcount"},
    "BUG": {"bug", "list_corruption", "oops", "invalid_opcode"},
    "MEMORY_SAFETY_BUG": {"kasan", "oops", "bug", "list_corruption", "slab", "kfence", "ubsan",
                          "stack"},
}


def split(text: str) -> tuple[dict[str, list[str]], str]:
    """The header fields and the log."""
    head: dict[str, list[str]] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines) and lines[i].strip():
        if not lines[i].startswith("#"):
            m = re.match(r"([A-Z_]+):\s?(.*)", lines[i])
            if m is None:
                break
            head.setdefault(m[1], []).append(m[2])
        i += 1
    return head, "\n".join(lines[i:])


def title_function(title: str) -> str | None:
    if " in " not in title or NO_FUNC.search(title):
        return None
    func = title.rsplit(" in ", 1)[1].strip().split(" / ")[0]
    if func == "corrupted" or " " in func.replace(" as ", "_") or "/" in func:
        return None
    return canonical(func)


def got_function(splat: Splat) -> str | None:
    if " in " in splat.title:
        return canonical(splat.title.rsplit(" in ", 1)[1].strip().split(" / ")[0])
    return canonical(splat.function) if splat.function else None


def overrides(path: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in Path(path).read_text().splitlines() if path else []:
        parts = line.split("#")[0].split()
        if len(parts) >= 2:
            out[parts[0]] = parts[1]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--only", help="a file listing the names to score")
    ap.add_argument("--overrides")
    ap.add_argument("--misses", action="store_true")
    ap.add_argument("--kinds", action="store_true")
    a = ap.parse_args()
    if not a.dir.is_dir():
        print(f"splat_syzkaller: {a.dir} is not a directory: give the folder of report files",
              file=sys.stderr)
        return 2
    files = sorted((p for p in a.dir.iterdir() if p.is_file()),
                   key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else 0,
                                  p.name))
    if a.only:
        keep = set(Path(a.only).read_text().split())
        files = [p for p in files if p.name in keep]
    fixed = overrides(a.overrides)
    tally: Counter[str] = Counter()
    for path in files:
        head, log = split(path.read_text(encoding="utf-8", errors="replace"))
        titles = head.get("TITLE", [])
        if titles and NOT_KERNEL.match(titles[0]):
            continue
        splats = parse_log(log, path.name)
        first = splats[0] if splats else None
        if not titles:
            tally["clean"] += 1
            tally["fp"] += first is not None
            if first is not None and a.misses:
                print(f"{path.name}\tFP\t{first.title}")
            continue
        tally["crash"] += 1
        tally["found"] += first is not None
        if a.kinds and head.get("TYPE") and head["TYPE"][0] != "SYZ_FAILURE" and first:
            want_kinds = TYPES.get(head["TYPE"][0]) or {head["TYPE"][0].split("-")[0].lower()}
            tally["typed"] += 1
            tally["kind"] += first.kind in want_kinds
        name = fixed.get(path.name)
        want = None if name == "-" else canonical(name) if name else title_function(titles[0])
        if want is None:
            if a.misses and first is None:
                print(f"{path.name}\tMISS\t{titles[0]}")
            continue
        tally["named"] += 1
        got = got_function(first) if first else None
        alts = {f for t in head.get("ALT", []) if (f := title_function(t))}
        same_title = first is not None and first.title in titles[:1] + head.get("ALT", [])
        ok = got is not None and (got == want or (name is None and (got in alts or same_title)))
        tally["culprit"] += ok
        if a.misses and not ok:
            print(f"{path.name}\t{'MISS' if first is None else 'CULPRIT'}\twant {want}\tgot {got}"
                  f"\t| {titles[0]} | ours: {first.title if first else '-'}")

    def pct(x: str, y: str) -> str:
        return f"{100.0 * tally[x] / tally[y]:.1f} % ({tally[x]}/{tally[y]})" if tally[y] else "-"
    print(f"{len(files)} files: recall {pct('found', 'crash')}, false positives "
          f"{tally['fp']}/{tally['clean']}, culprit {pct('culprit', 'named')}"
          + (f", kind (TYPE:) {pct('kind', 'typed')}" if a.kinds else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
