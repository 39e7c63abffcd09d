"""Regenerate the synthetic journals in this directory: python tests/data/journals/make_journals.py

two-arch.*      a finished `kharness run`: x86_64 + arm64 x baseline/patched x knob sets
                pmd-only / mthp-all. x86_64/mthp-all: a lockdep splat new in patched
                (test_collapse_swapped fails), a WARN in collapse_huge_page in both
                (test_collapse_anon fails in both). arm64/pmd-only: test_rescan_is_idle
                failed on baseline, passes patched (an improvement). Per-size counters,
                per-scan series (two shapes), junit only for the x86_64 cells, console
                logs with test markers for every cell. A test name and a console line
                carry HTML (<script>, &) to prove escaping.
nightly-{1,2,3}.*  three nightly runs of one config: run 2 changes the patched build
                (series v1 -> v2) and brings a new failure, a new splat and a collapse
                counter regression; a baseline test flips with identical inputs (flaky);
                run 3 repeats run 2 exactly.
cluster-retry.* recorded, not generated: the journal of tests/test_cluster_real.py's
                run with a worker killed -9 mid-cell (quickstart smoke, x86_64 on a local
                Dask cluster): a retry record and cluster cell records (worker,
                infra_retries, cluster timing).
Splat records are what harness.splats.parse.parse_log makes of the console slices.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from harness.splats import parse as splats  # noqa: E402 (after the sys.path line)

LOGS = HERE.parent / "logs"
T0 = 1795600000.0
XSS_NAME = "<script>alert(1)</script>&co"
XSS_LINE = ("thpwork: mapped /tmp/<script>document.title='PWNED'</script> & "
            "<img src=x onerror=\"document.title='PWNED2'\"> R&D")
SIZES = {"pmd-only": ["2048kB"], "mthp-all": ["64kB", "128kB", "2048kB"]}


def splat_lines(name: str) -> list[str]:
    """Lines of a corpus log without its test markers or timestamps."""
    text = (LOGS / name).read_text()
    return [re.sub(r"^\[\s*\d+\.\d+\] ", "", ln) for ln in text.splitlines()
            if "kharness: test" not in ln]


WARN = splat_lines("x86-warning-collapse-oldformat-plain.log")[4:46]
LOCKDEP = splat_lines("x86-lockdep-circular.log")


def nodeid(module: str, test: str, arch: str, variant: str, knob: str | None) -> str:
    params = "-".join(p for p in (arch, variant, knob) if p)
    return f"guest_tests/{module}.py::{test}[{params}]"


def counters(sizes: list[str], scale: dict[str, int], swap: bool = False,
             groups: bool = False) -> dict[str, Any]:
    """Per-size stats; with groups, also journal_counters' "khugepaged" and "vmstat"."""
    out: dict[str, Any] = {}
    if groups:
        out["khugepaged"] = {"full_scans": 7, "pages_collapsed": sum(scale.values())}
        out["vmstat"] = {"thp_collapse_alloc": scale.get("2048kB", 0)}
    for size in sizes:
        alloc = scale.get(size, 0)
        out[size] = {"collapse_alloc": alloc, "collapse_alloc_failed": alloc // 16,
                     "collapse_exceed_none_pte": 3 if size == "2048kB" else 0,
                     "collapse_exceed_swap_pte": 24 if swap else 0,
                     "collapse_exceed_shared_pte": 0}
    return out


def per_scan_journal(sizes: list[str], scale: dict[str, int], scans: int = 6) -> list[Any]:
    """harness.guest.counters.journal_per_scan's shape: per step {"full_scans": +k, "t",
    "pages_collapsed", "<size>": {non-zero stats}, "vmstat": {...}}; converging to 0.
    The second step covers two scans (khugepaged was quicker than the 20 ms poll)."""
    out = []
    for i in range(1, scans + 1):
        share = {size: scale.get(size, 0) >> i if i < scans else 0 for size in sizes}
        step: dict[str, Any] = {"full_scans": 2 if i == 2 else 1, "t": round(0.8 * i, 3),
                                "pages_collapsed": sum(share.values())}
        step.update({s: {"collapse_alloc": v} for s, v in share.items() if v})
        if sum(share.values()):
            step["vmstat"] = {"thp_collapse_alloc": share.get("2048kB", 0)}
        out.append(step)
    return out


def per_scan_flat(sizes: list[str], scale: dict[str, int], scans: int = 5) -> list[Any]:
    """{"scan", "<size>": cumulative collapse_alloc} per full scan."""
    out = []
    for i in range(1, scans + 1):
        row: dict[str, Any] = {"scan": i}
        for size in sizes:
            total = scale.get(size, 0)
            row[size] = total - (total >> i) if i < scans else total
        out.append(row)
    return out


def census(variant: str, knob: str) -> dict[str, Any]:
    """The folio census fields a collapse test records (khsupport.Meter): totals after
    ("census"), before ("census_before") and per PMD of a 3-PMD region (order -> pages).
    Before: base pages; after: PMD 0 whole, PMD 1 partly in mTHPs (more with patched)."""
    before = [{"0": 512}, {"0": 132}, {"0": 1}]
    if knob == "pmd-only":
        after = [{"9": 512}, {"0": 132}, {"0": 1}]
    else:
        after = [{"9": 512}, {"4": 128 if variant == "patched" else 64, "0": 4 if variant ==
                              "patched" else 68}, {"0": 1}]
    total = {o: sum(int(p.get(o, 0)) for p in after) for o in sorted({o for p in after for o in p})}
    return {"census": total, "census_before": {"0": 645},
            "census_pmds": {"ptes": 512, "page_kb": 4, "before": before, "after": after}}


def scale_for(arch: str, variant: str, knob: str) -> dict[str, int]:
    base = {"64kB": 96, "128kB": 48, "2048kB": 12} if knob == "mthp-all" else {"2048kB": 16}
    if variant == "patched" and knob == "mthp-all":
        base = {k: v + v // 3 if k != "2048kB" else v for k, v in base.items()}
    if arch == "arm64":
        base = {k: v // 2 for k, v in base.items()}
    return base


class Cell:
    def __init__(self, arch: str, variant: str) -> None:
        self.arch, self.variant = arch, variant
        self.name, self.slug = f"{arch}/{variant}", f"{arch}-{variant}"
        self.console = ["Linux version 7.2.0-kharness (root@vm) #1 SMP PREEMPT_DYNAMIC",
                        "Run /init as init process", "kharness: guest ready"]
        self.records: list[dict[str, Any]] = []
        self.clock = 12.0

    def add(self, nid: str, knob: str | None, outcome: str, body: list[str],
            **extra: Any) -> dict[str, Any]:
        start = len(self.console)
        self.console.append(f"kharness: test start {nid}")
        self.console += body
        self.console.append(f"kharness: test end {nid}")
        found = splats.parse_log("\n".join(self.console[start:]), file=nid)
        rec = {"type": "test", "cell": self.name, "arch": self.arch, "variant": self.variant,
               "nodeid": nid, "knobset": knob, "outcome": outcome,
               "phases": {"setup": "passed", "call": outcome, "teardown": "passed"},
               "pid": 4242, "time": T0 + len(self.records) * 7.5,
               "splats": [s.to_json() | {"raw": None} for s in found], **extra}
        self.records.append(rec)
        return rec

    def stamped_console(self) -> str:
        lines = []
        for ln in self.console:
            self.clock += 0.0137
            lines.append(f"[{self.clock:12.6f}] {ln}")
        return "\r\n".join(lines) + "\r\n"


def two_arch_cell(arch: str, variant: str) -> Cell:
    c = Cell(arch, variant)
    c.add(nodeid("test_smoke", "test_guest_answers", arch, variant, None), None, "passed", [])
    if arch == "x86_64":
        c.add(nodeid("test_smoke", "test_kmsg_roundtrip", arch, variant, XSS_NAME), XSS_NAME,
              "passed", [XSS_LINE])
    for knob in ("pmd-only", "mthp-all"):
        sizes, sc = SIZES[knob], scale_for(arch, variant, knob)
        shape = per_scan_journal if arch == "x86_64" else per_scan_flat
        warn = arch == "x86_64" and knob == "mthp-all"
        c.add(nodeid("test_collapse", "test_collapse_anon", arch, variant, knob), knob,
              "failed" if warn else "passed", ([XSS_LINE] + WARN) if warn else ["collapse ok"],
              counters=counters(sizes, sc, groups=arch == "x86_64"), per_scan=shape(sizes, sc),
              **(census(variant, knob) if arch == "x86_64" else {}),
              **({"message": "SplatFound: 1 kernel splat(s) during the test"} if warn else {}))
        lockdep = warn and variant == "patched"
        c.add(nodeid("test_collapse", "test_collapse_swapped", arch, variant, knob), knob,
              "failed" if lockdep else "passed", LOCKDEP if lockdep else ["swap-in ok"],
              counters=counters(sizes, {k: v // 2 for k, v in sc.items()}, swap=True),
              **({"message": "SplatFound: 1 kernel splat(s) during the test"} if lockdep
                 else {}))
        flip = arch == "arm64" and knob == "pmd-only" and variant == "baseline"
        c.add(nodeid("test_convergence", "test_rescan_is_idle", arch, variant, knob), knob,
              "failed" if flip else "passed", ["rescan"],
              per_scan=shape(sizes, sc, 8),
              **({"message": "AssertionError: scan 7 still collapsed 1 range"} if flip else {}))
    c.add(nodeid("test_swap", "test_zram_swapout", arch, variant, None), None,
          "skipped" if arch == "arm64" else "passed", [])
    if arch == "arm64":
        for i, r in enumerate(c.records):
            r["duration"] = round(3.5 + 1.25 * i, 3)
    return c


def junit(c: Cell) -> str:
    suite = ET.Element("testsuite", name="pytest", hostname="vm",
                       timestamp="2026-11-25T21:42:56.514572+00:00")
    fails = skips = 0
    for i, r in enumerate(c.records):
        mod, _, name = r["nodeid"].partition("::")
        case = ET.SubElement(suite, "testcase", classname=mod.removesuffix(".py").replace("/", "."),
                             name=name, time=f"{2.0 + i * 0.75:.3f}")
        props = ET.SubElement(case, "properties")
        ET.SubElement(props, "property", name="kharness_console",
                      value=f"/tmp/run/cells/{c.slug}/{c.slug}-vm1/console.log")
        if r["outcome"] == "failed":
            fails += 1
            f = ET.SubElement(case, "failure", message=r.get("message", "failed"))
            f.text = "harness.plugin.SplatFound: " + "; ".join(s["title"] for s in r["splats"])
        elif r["outcome"] == "skipped":
            skips += 1
            ET.SubElement(case, "skipped", type="pytest.skip", message="no zram")
    suite.set("tests", str(len(c.records)))
    suite.set("failures", str(fails))
    suite.set("errors", "0")
    suite.set("skipped", str(skips))
    suite.set("time", "42.000")
    top = ET.Element("testsuites", name="pytest tests")
    top.append(suite)
    return '<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="unicode")


def cell_record(c: Cell, build_dir: str, seconds: float, build_s: float) -> dict[str, Any]:
    return {"type": "cell", "cell": c.name, "arch": c.arch, "variant": c.variant,
            "status": "done", "pytest_exit": 1 if any(r["outcome"] == "failed"
                                                      for r in c.records) else 0,
            "seconds": seconds, "build": {"dir": build_dir, "cached": build_s < 1,
                                          "seconds": build_s},
            "reproduce": f"-m pytest guest_tests -p no:cacheprovider --kharness-config "
                         f"examples/quickstart.yaml --kharness-arch {c.arch} --kharness-variant "
                         f"{c.variant} --kharness-journal RUN/results.jsonl --kharness-workdir "
                         f"CELLDIR --junitxml CELLDIR/junit.xml -o junit_family=xunit2 -q -rA"}


def run_meta(name: str, cells: list[str], started: str, versions: list[str],
             total: float) -> dict[str, Any]:
    return {"type": "run", "config": f"/work/main/examples/{name}.yaml", "name": name,
            "config_sha256": "e7dd11bf2a2ed3ac4ddf88e5379aadd1f0c2c9c988d1707b6368cd63f9892bc7",
            "cells": cells, "source": {"kind": "debian", "location": "linux-source-7.2",
                                       "ref": "", "suite": "sid"},
            "series": {"name": "mthp-collapse", "versions": versions},
            "qemu": {"x86_64": "QEMU emulator version 7.2.22", "arm64": "QEMU emulator "
                     "version 7.2.22"}, "host": "vm", "cpus": 2, "started": started,
            "finished": started.replace("T21", "T22"), "durations": {"total": total},
            "command": f"kharness run examples/{name}.yaml --out runs/{name}"}


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))


def make_two_arch() -> None:
    cells = [two_arch_cell(a, v) for a in ("x86_64", "arm64") for v in ("baseline", "patched")]
    records: list[dict[str, Any]] = [r for c in cells for r in c.records]
    for i, c in enumerate(cells):
        records.append(cell_record(c, f"/root/.cache/kharness/builds/{i:04d}cafe", 150.0 + 20 * i,
                                   0.2 if c.variant == "baseline" else 212.5))
    write_jsonl(HERE / "two-arch.jsonl", records)
    meta = run_meta("quickstart", [c.name for c in cells], "2026-11-25T21:00:00Z", ["v1"], 640.5)
    (HERE / "two-arch.run.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    root = HERE / "two-arch-cells"
    shutil.rmtree(root, ignore_errors=True)
    for c in cells:
        vm = root / c.slug / f"{c.slug}-vm1"
        vm.mkdir(parents=True)
        (vm / "console.log").write_text(c.stamped_console())
        (vm / "vm.json").write_text(json.dumps({"boot_seconds": 17.06 if c.arch == "x86_64"
                                                else 41.5, "accel": "tcg"}) + "\n")
        if c.arch == "x86_64":
            (root / c.slug / "junit.xml").write_text(junit(c))


def nightly_cell(variant: str, run: int) -> Cell:
    c = Cell("x86_64", variant)
    knob = "mthp-all"
    sizes = SIZES[knob]
    sc = scale_for("x86_64", variant, knob)
    if variant == "patched" and run >= 2:
        sc = {k: (v * 6) // 10 for k, v in sc.items()}        # -40%: a counter regression
    c.add(nodeid("test_collapse", "test_collapse_anon", "x86_64", variant, knob), knob, "passed",
          ["collapse ok"], counters=counters(sizes, sc), duration=12.5)
    bad = variant == "patched" and run >= 2
    c.add(nodeid("test_collapse", "test_collapse_swapped", "x86_64", variant, knob), knob,
          "failed" if bad else "passed", LOCKDEP if bad else ["swap-in ok"], duration=20.25,
          counters=counters(sizes, {k: v // 2 for k, v in sc.items()}, swap=True))
    flaky = variant == "baseline" and run >= 2
    c.add(nodeid("test_convergence", "test_rescan_is_idle", "x86_64", variant, knob), knob,
          "failed" if flaky else "passed", ["rescan"], duration=8.0)
    return c


def make_nightly() -> None:
    for run in (1, 2, 3):
        cells = [nightly_cell(v, run) for v in ("baseline", "patched")]
        records: list[dict[str, Any]] = [r for c in cells for r in c.records]
        builds = {"baseline": "/root/.cache/kharness/builds/base0000",
                  "patched": f"/root/.cache/kharness/builds/patch{min(run, 2)}"}
        for c in cells:
            records.append(cell_record(c, builds[c.variant], 90.0 + run, 0.1))
        write_jsonl(HERE / f"nightly-{run}.jsonl", records)
        meta = run_meta("nightly-mm", [c.name for c in cells], f"2026-11-{20 + run}T21:00:00Z",
                        ["v1"], 300.0 + run)
        (HERE / f"nightly-{run}.run.json").write_text(
            json.dumps(meta, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    make_two_arch()
    make_nightly()
