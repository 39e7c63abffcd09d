"""kharness as a package: the wheel, installed into a fresh virtualenv (no -e) and run from
a directory outside the checkout, finds everything it needs inside itself.

From there: `kharness doctor`, `kharness init`, `kharness plan`, `kharness scan-log`, a real
`kharness boot ... -- true`, pytest of the starter guest test against the installed plugin,
and `kharness run --tests guest_tests/test_smoke.py` (the suite shipped in the wheel). The
kernel is the quickstart's baseline (the starter config asks for the same tree and
fragments), so with the suite's cache it is not rebuilt.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from harness.util import cmdline

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("harness/kernel/kconfigs/virt.config", "harness/kernel/kconfigs/x86_64/virt.config",
           "harness/image/recipes/init", "harness/image/recipes/initramfs.yaml",
           "harness/guest_tests/test_smoke.py", "harness/guest_tests/workloads/thpwork/main.c",
           "harness/guest_tests/workloads/thpracer/main.c",
           "harness/guest_tests/workloads/lib/kmsg.c", "harness/report/templates/report.html.j2",
           "harness/starter/kharness.yaml", "harness/py.typed",
           "harness/splats/data/layers.txt.gz")


def _run(argv: list[str], cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    print(f"$ cd {cwd} && {cmdline(argv)}")
    r = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                       check=False)
    print(r.stdout[-3000:], r.stderr[-3000:])
    return r


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    r = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist),
              str(ROOT)], dist)
    assert r.returncode == 0, r.stderr
    (whl,) = dist.glob("kharness-*.whl")
    return whl


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bin/ of a fresh virtualenv with the wheel (and its dependencies from PyPI)."""
    where = tmp_path_factory.mktemp("venv")
    assert _run([sys.executable, "-m", "venv", str(where)], where).returncode == 0
    r = _run([str(where / "bin" / "pip"), "install", "-q", str(wheel)], where)
    assert r.returncode == 0, r.stderr
    return where / "bin"


def test_wheel_ships_the_run_time_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert not [f for f in SHIPPED if f not in names]
    assert not [n for n in names if "__pycache__" in n or n.startswith(("tests/", "examples/"))]


def test_installed_kharness_works_outside_the_checkout(venv: Path, tmp_path: Path) -> None:
    k = str(venv / "kharness")
    where = _run([str(venv / "python"), "-c", "import harness; print(harness.__file__)"],
                 tmp_path)
    assert where.returncode == 0 and not where.stdout.startswith(str(ROOT)), where.stdout
    assert _run([k, "doctor"], tmp_path).returncode == 0
    assert _run([k, "init", "proj"], tmp_path).returncode == 0
    cfg = tmp_path / "proj" / "kharness.yaml"
    plan = _run([k, "plan", str(cfg)], tmp_path)
    assert plan.returncode == 0 and "[x86_64 baseline]" in plan.stdout
    log = ROOT / "tests" / "data" / "logs" / "arm64-hung-task-khugepaged.log"
    scan = _run([k, "scan-log", str(log)], tmp_path)
    assert scan.returncode == 1 and "hung" in scan.stdout
    boot = _run([k, "boot", str(cfg), "--arch", "x86_64", "--variant", "baseline", "--", "true"],
                tmp_path)
    assert boot.returncode == 0, boot.stderr[-2000:]


def test_installed_plugin_runs_guest_tests(venv: Path, tmp_path: Path) -> None:
    assert _run([str(venv / "kharness"), "init", "proj"], tmp_path).returncode == 0
    proj = tmp_path / "proj"
    mine = _run([str(venv / "python"), "-m", "pytest", ".", "--kharness-config",
                 "kharness.yaml", "-q", "-p", "no:cacheprovider"], proj)
    assert mine.returncode == 0 and "2 passed" in mine.stdout
    out = tmp_path / "run"
    shipped = _run([str(venv / "kharness"), "run", "kharness.yaml", "--tests",
                    "guest_tests/test_smoke.py", "--checks", "none", "--out", str(out)], proj)
    assert shipped.returncode == 0, shipped.stderr[-2000:]
    journal = (out / "results.jsonl").read_text()
    assert '"nodeid": "guest_tests/test_smoke.py::test_guest_answers[x86_64-baseline]"' in journal
