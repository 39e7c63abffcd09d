"""Bisect on real kernels: examples/bisect-demo.yaml (4 versions, v3 leaks the PTE lock)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent
TEST = "guest_tests/test_swap_bailout.py"


def bisect(tmp: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    out = tmp / "bisect"
    proc = subprocess.run([sys.executable, "-m", "harness.cli.main", "bisect",
                           "examples/bisect-demo.yaml", "--arch", "x86_64", "--test", TEST,
                           "--out", str(out), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=5400, check=False)
    steps = [json.loads(line) for line in (out / "bisect.jsonl").read_text().splitlines()]
    return proc, steps


def test_versions_bisect_names_v3_with_evidence(tmp_path: Path) -> None:
    proc, steps = bisect(tmp_path, "--mode", "versions")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "first bad version: v3" in proc.stdout
    assert "last good: v2" in proc.stdout
    assert "evidence: [" in proc.stdout          # a real splat, e.g. [atomic_sleep] …
    assert len(steps) <= 2 + 2          # endpoint checks + ceil(log2 4) search steps


def test_patches_bisect_names_the_second_patch(tmp_path: Path) -> None:
    proc, steps = bisect(tmp_path, "--mode", "patches", "--version", "v4")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "first bad patch: v4:2" in proc.stdout
    assert len(steps) <= 3


def test_commits_bisect_over_applied_series(tmp_path: Path) -> None:
    from harness import config
    from harness.sources import series
    from harness.sources import tree as source
    cfg = config.load(ROOT / "examples" / "bisect-demo.yaml")
    src = source.resolve(cfg.source)
    assert cfg.series is not None
    sv = series.load_version(cfg.series.name, "v4", dict(cfg.series.versions)["v4"])
    tip = series.apply(src.repo, src.base, sv).commit_for(None)
    proc, steps = bisect(tmp_path, "--mode", "commits", "--good", src.base, "--bad", tip)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"first bad commit: {tip[:12]}" in proc.stdout
    verdicts = {s["label"]: s["verdict"] for s in steps}
    assert verdicts == {src.base[:12]: "good", tip[:12]: "bad",
                        series.apply(src.repo, src.base, sv).commit_for(1)[:12]: "good"}
