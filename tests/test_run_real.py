"""`kharness run` end to end on real kernels (x86_64, cached builds after the first)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.results import journal as results
from harness.results.records import CellRecord, Outcome, TestRecord

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent


def kharness(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    r: subprocess.CompletedProcess[str] = subprocess.run(  # type: ignore[call-overload]
        [sys.executable, "-m", "harness.cli.main", *args], cwd=ROOT, capture_output=True,
        text=True, timeout=3600, check=False, **kw)
    return r


def test_quickstart_run_gives_verdict_and_files(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = kharness("run", "examples/quickstart.yaml", "--arch", "x86_64", "-k", "smoke",
                    "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "x86_64 knobs=" in proc.stdout and "no regression" in proc.stdout
    recs = list(results.read(out / "results.jsonl"))
    tests = [r for r in recs if r["type"] == "test"]
    assert {r["variant"] for r in tests} == {"baseline", "patched"}
    assert all(r["outcome"] == "passed" for r in tests)
    meta = json.loads((out / "run.json").read_text())
    assert meta["durations"]["total"] > 0 and "QEMU" in " ".join(meta["qemu"].values())
    for name in ("report.html", "junit.xml", "results.json"):
        if (ROOT / "harness" / "report.py").exists():
            assert (out / name).stat().st_size > 0, name


def test_run_folds_build_checks_into_verdict_junit_and_report(tmp_path: Path) -> None:
    """check-demo: the runtime smoke tests pass on both variants, the build checks do not;
    the run exits 1 naming the patch, and junit/report carry the checks."""
    out = tmp_path / "run"
    proc = kharness("run", "examples/check-demo.yaml", "--arch", "x86_64", "-k", "smoke",
                    "--out", str(out))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "no regression" in proc.stdout            # the runtime verdict
    assert "new gcc finding in v1 3/4" in proc.stdout and "does not build in v1 1/4" in \
        proc.stdout
    recs = list(results.read(out / "results.jsonl"))
    assert {r["outcome"] for r in recs if r["type"] == "test"} == {"passed"}
    assert any(r["type"] == "check" and r["status"] == "fail" for r in recs)
    junit = (out / "junit.xml").read_text()
    assert 'name="checks/x86_64/v1"' in junit and "-Wmaybe-uninitialized" in junit
    html = (out / "report.html").read_text()
    assert 'id="checks-x86_64-v1"' in html and "khugepaged_count_result" in html


def test_series_that_warns_exits_1_and_names_new_splat(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = kharness("run", "examples/warn-demo.yaml", "-k", "swap_bailout", "--checks", "none",
                    "--out", str(out))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "REGRESSION" in proc.stdout
    new = [line for line in proc.stdout.splitlines() if "NEW SPLAT" in line]
    assert new and "[warning] WARNING in collapse_" in new[0], proc.stdout
    tests = [r for r in results.load(out / "results.jsonl") if isinstance(r, TestRecord)]
    by_variant = {r.variant: r for r in tests}
    assert by_variant["baseline"].outcome is Outcome.PASSED
    assert by_variant["patched"].outcome is Outcome.FAILED
    assert by_variant["patched"].seen_splats[0].kind == "warning"


def test_killed_run_resumes_without_redoing_cells(tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = [sys.executable, "-m", "harness.cli.main", "run", "examples/quickstart.yaml", "--arch",
            "x86_64", "-k", "smoke", "-j", "1", "--checks", "none", "--out", str(out)]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    journal = out / "results.jsonl"
    deadline = time.monotonic() + 1200
    while time.monotonic() < deadline and proc.poll() is None:
        if any(r["type"] == "cell" for r in results.read(journal)):
            break
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    first = [r for r in results.read(journal) if r["type"] == "cell"]
    assert len(first) == 1, "expected exactly one finished cell before the kill"
    done_cell = first[0]["cell"]
    tests_before = [r for r in results.read(journal) if r["type"] == "test"
                    and r["cell"] == done_cell]
    resumed = kharness("run", "examples/quickstart.yaml", "--resume", str(out), "--arch",
                       "x86_64", "-k", "smoke", "--checks", "none")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    recs = list(results.read(journal))
    assert [r for r in recs if r["type"] == "test" and r["cell"] == done_cell] == tests_before
    assert {r["cell"] for r in recs if r["type"] == "cell"} == {"x86_64/baseline",
                                                                "x86_64/patched"}
    time.sleep(1)
    ps = subprocess.run(["pgrep", "-f", str(out)], capture_output=True, check=False)
    assert ps.returncode == 1, "a pytest/QEMU from the killed run survived"


def test_a_cell_that_errors_exits_2_saying_why(tmp_path: Path) -> None:
    """A selection whose only test errors in setup (the rig, not the kernel): no verdict can
    be given, so exit 2 with the cell and pytest's error on the last line (the cached
    quickstart baseline; no guest boots)."""
    test = tmp_path / "test_broken.py"
    test.write_text("import pytest\n\n\n@pytest.fixture\ndef rig() -> None:\n"
                    "    raise RuntimeError('the rig broke before the test')\n\n\n"
                    "def test_needs_rig(rig: None) -> None:\n    pass\n")
    out = tmp_path / "run"
    proc = kharness("run", "examples/quickstart.yaml", "--arch", "x86_64", "--variant",
                    "baseline", "--tests", str(test), "--out", str(out))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("kharness: run incomplete: 1 problem(s): x86_64/baseline: "), last
    assert "RuntimeError: the rig broke before the test" in last
    assert str(out / "cells" / "x86_64-baseline" / "pytest.log") in last


AXIS_YAML = """\
name: axis
kernel:
  source: {{debian: linux-source-7.2, suite: sid}}
  fragments: [virt, thp, swap, debug-locking, racers]
series: {{name: demo, versions: {{v1: {series}}}}}
archs: [x86_64]
variants: [baseline, patched]
checks: none
guest: {{mem: 2G, cpus: 2, zram: 256M}}
configs:
  quick: [...]
  disk:
    fragments: [..., disk]
    guest: {{numa_nodes: 2}}
"""


def test_config_axis_runs_each_config_on_its_own_kernel(tmp_path: Path) -> None:
    """A config axis of two kernel configs on x86_64, smoke tests: four cells named
    arch/config/variant, each booted on its config's kernel (disk has ext4 and, from its own
    guest: section, two emulated NUMA nodes; quick has neither), one verdict per (arch,
    config). Both baselines are kernels CI builds anyway (the quickstart's, and the root-disk
    tests' quickstart + disk); each patched kernel is an incremental build in its slot."""
    config = tmp_path / "axis.yaml"
    config.write_text(AXIS_YAML.format(series=ROOT / "examples" / "demo-series" / "v1"))
    out = tmp_path / "run"
    proc = kharness("run", str(config), "-k", "smoke", "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for conf in ("quick", "disk"):
        assert f"== x86_64 config={conf} knobs=-: patched vs baseline: no regression" in \
            proc.stdout, proc.stdout
    recs = results.load(out / "results.jsonl")
    cells = {r.cell: r for r in recs if isinstance(r, CellRecord)}
    assert set(cells) == {f"x86_64/{k}/{v}" for k in ("quick", "disk")
                          for v in ("baseline", "patched")}
    tests = [r for r in recs if isinstance(r, TestRecord)]
    assert {r.cell for r in tests} == set(cells) and all(
        r.outcome is Outcome.PASSED and r.config == r.cell.split("/")[1] for r in tests)
    dirs = {name: str(rec.build.dir if rec.build else None) for name, rec in cells.items()}
    for name in cells:
        kconf = (Path(dirs[name]) / "config").read_text()
        assert ("CONFIG_EXT4_FS=y" in kconf) == ("/disk/" in name), name
        consoles = "".join(p.read_text(errors="replace") for p in
                           (out / "cells" / name.replace("/", "-")).glob("*/console.log"))
        assert ("numa=fake=2" in consoles) == ("/disk/" in name), name
    assert len(set(dirs.values())) == 4 and "None" not in dirs.values()
