"""guest_tests/workloads/thpfile/ built and run on this host: its checker finds a changed
word of the file (--inject-corruption) and is silent without one."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.image import guestbin


@pytest.fixture(scope="module")
def thpfile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("no gcc")
    return guestbin.build_workload("thpfile", tmp_path_factory.mktemp("bin") / "thpfile")


def run(binary: Path, *extra: str) -> tuple[int, dict[str, int | str], str]:
    argv = [str(binary), "--seconds", "2", "--pmds", "2", "--no-migrate", "--no-kmsg", *extra]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode == 3:
        pytest.skip(f"host kernel: {proc.stderr.strip()}")
    line = next((x for x in proc.stdout.splitlines() if '"event":"thpfile"' in x), "{}")
    return proc.returncode, json.loads(line), proc.stderr


def test_clean_run_verifies_punches_and_truncates(thpfile: Path) -> None:
    code, rep, err = run(thpfile)
    assert code == 0, err[-2000:]
    assert rep["corrupt"] == 0 and int(rep["verified"]) > 0
    assert int(rep["punches"]) > 0 and int(rep["truncations"]) > 0 and int(rep["refills"]) > 0


def test_changed_word_is_a_finding(thpfile: Path) -> None:
    code, rep, err = run(thpfile, "--inject-corruption")
    assert code == 1 and int(rep["corrupt"]) > 0, err[-2000:]
    assert "thpfile: FINDING page 0 (pmd 0)" in err and "0xbadc0ffee" in err
