"""bench/racers.py: time to detection from a console (a synthetic log written for this test)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location(
    "bench_racers", Path(__file__).resolve().parent.parent / "bench" / "racers.py")
assert spec is not None and spec.loader is not None
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)

CONSOLE = """\
[    3.100000] kharness: test start guest_tests/test_racers.py::test_migration_racer
[    4.250000] thpracer: start seed=77 pmds=16 seconds=300 nodes=2
[   16.750000] ------------[ cut here ]------------
[   16.750001] WARNING: include/linux/leafops.h:380 at softleaf_entry_wait_on_locked+0x50/0x60, CPU#1: thpracer/140
[   16.750002] CPU: 1 UID: 0 PID: 140 Comm: thpracer Not tainted 7.2.13+ #1
[   16.750003] Call Trace:
[   16.750004]  <TASK>
[   16.750005]  migration_entry_wait+0x30/0x40
[   16.750006]  do_swap_page+0x100/0x900
[   16.750007]  </TASK>
[   16.750008] ---[ end trace 0000000000000000 ]---
"""


def test_detection_is_first_splat_after_the_racer_start() -> None:
    ttd, title = bench.detection(CONSOLE)
    assert abs(ttd - 12.5) < 1e-6 and "softleaf_entry_wait_on_locked" in title


def test_thpfile_start_counts_too() -> None:
    console = CONSOLE.replace("thpracer: start seed=77 pmds=16 seconds=300 nodes=2",
                              "thpfile: start seed=77 pmds=8 seconds=30 backing=memfd nodes=2")
    ttd, _ = bench.detection(console)
    assert abs(ttd - 12.5) < 1e-6


def test_no_splat_or_no_racer() -> None:
    head = "\n".join(CONSOLE.splitlines()[:2])
    assert bench.detection(head) == (None, "")
    assert bench.detection("[ 1.0] hello\n") == (None, "racer never started")


def test_summary_median_and_spread() -> None:
    runs = [{"ttd": t} for t in (12.0, 30.0, None, 8.0)]
    s = bench.summary(runs, 300.0)
    assert s == {"runs": 4, "detected": 3, "cap": 300.0, "median": 12.0, "min": 8.0, "max": 30.0}
