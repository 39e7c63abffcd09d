"""repro/ folders: one per finding, self-contained, and a repro.sh that decides by itself."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from harness import config
from harness.report import html as report
from harness.results import journal as results
from harness.results import verdict

DATA = Path(__file__).parent / "data" / "journals"
ROOT = Path(__file__).parent.parent
LOCKDEP = "possible deadlock in khugepaged_scan_mm_slot"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    out = tmp_path / "run"
    out.mkdir()
    shutil.copy(DATA / "two-arch.jsonl", out / "results.jsonl")
    run = json.loads((DATA / "two-arch.run.json").read_text())
    run["config"] = str(ROOT / "examples" / "quickstart.yaml")
    (out / "run.json").write_text(json.dumps(run))
    shutil.copytree(DATA / "two-arch-cells", out / "cells")
    vmdir = next((out / "cells" / "x86_64-patched").glob("*/console.log")).parent
    (vmdir / "vm.json").write_text(json.dumps({"qemu_argv": "qemu-system-x86_64 -kernel k "
                                               "-append 'console=ttyS0 kharness.zram=256M'"}))
    records = results.load(out / "results.jsonl")
    report.write_all(out, records, verdict.compare(records))
    return out


def folder(run_dir: Path) -> Path:
    (one,) = sorted((run_dir / "repro").iterdir())
    return one


def test_one_folder_per_finding_with_everything(run_dir: Path) -> None:
    d = folder(run_dir)
    assert d.name == "1-x86_64_patched-test_collapse_swapped_x86_64-patched-mthp-all"
    assert sorted(p.name for p in (d / "series").iterdir()) == [
        "0001-mm-khugepaged-say-hello-when-the-thread-starts.patch",
        "0002-mm-khugepaged-note-the-first-mTHP-collapse.patch"]
    assert (d / "cmdline.txt").read_text() == "console=ttyS0 kharness.zram=256M\n"
    finding = json.loads((d / "finding.json").read_text())
    assert finding["splat"]["title"] == LOCKDEP and finding["why"].startswith("new splat")
    assert (d / "test" / "test_collapse.py").is_file()
    assert json.loads((d / "knobs.json").read_text())["knobset"] == "mthp-all"
    assert os.access(d / "repro.sh", os.X_OK)
    subprocess.run(["sh", "-n", str(d / "repro.sh")], check=True)


def test_config_is_narrowed_and_reads_its_local_series(run_dir: Path) -> None:
    d = folder(run_dir)
    cfg = config.load(d / "kharness.yaml")
    assert cfg.archs == ("x86_64",) and cfg.variants == ("baseline", "patched")
    assert cfg.series is not None and cfg.series.versions == (("v1", str(d / "series")),)


def fake_kharness(tmp_path: Path, splat: str | None) -> Path:
    """A `kharness` that writes a journal with (or without) the splat into --out."""
    record = {"type": "test", "nodeid": "guest_tests/test_collapse.py::test_collapse_swapped"
              "[x86_64-patched-mthp-all]", "outcome": "failed" if splat else "passed",
              "splats": [{"kind": "lockdep", "title": splat}] if splat else []}
    script = tmp_path / "fake-kharness"
    script.write_text("#!/bin/sh\nwhile [ \"$1\" != --out ]; do shift; done\nmkdir -p \"$2\"\n"
                      f"echo '{json.dumps(record)}' > \"$2/results.jsonl\"\n"
                      f"exit {1 if splat else 0}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


@pytest.mark.parametrize(("splat", "rc", "says"), [(LOCKDEP, 1, "REPRODUCED:"),
                                                    (None, 0, "not reproduced:")])
def test_repro_sh_decides(run_dir: Path, tmp_path: Path, splat: str | None, rc: int,
                          says: str) -> None:
    env = {**os.environ, "KHARNESS": str(fake_kharness(tmp_path, splat))}
    proc = subprocess.run([str(folder(run_dir) / "repro.sh"), str(tmp_path / "again")],
                          env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == rc, proc.stderr
    assert says in proc.stdout and LOCKDEP in proc.stdout


def test_repro_sh_says_how_to_install(run_dir: Path) -> None:
    env = {**os.environ, "KHARNESS": "/nonexistent/kharness"}
    proc = subprocess.run([str(folder(run_dir) / "repro.sh")], env=env, capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 2 and "pip install -e ." in proc.stderr


def test_no_findings_no_folders(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    shutil.copy(DATA / "nightly-1.jsonl", out / "results.jsonl")
    records = results.load(out / "results.jsonl")
    report.write_all(out, records, verdict.compare(records))
    assert not (out / "repro").exists()


def test_bisect_reproducer_points_at_real_paths(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from harness.campaign.pytestcmd import PytestCall
    from harness.cli import bisect as bisectcli
    cfg = tmp_path / "k.yaml"
    step = SimpleNamespace(call=lambda v, d: PytestCall(cfg, "x86_64", v, d / "results.jsonl", d))
    cmd = bisectcli.reproducer(step, tmp_path, "v3:2")  # type: ignore[arg-type]
    assert "STEPDIR" not in cmd and (tmp_path / "reproduce" / "v3_2").is_dir()
    assert cmd.startswith(f"cd {Path.cwd()} && ") and " -m pytest " in cmd
    assert "--kharness-variant v3:2" in cmd and "guest_tests" in cmd    # the shipped suite
    assert str(tmp_path / "reproduce" / "v3_2") in cmd
