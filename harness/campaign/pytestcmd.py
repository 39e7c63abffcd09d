"""The nested pytest invocation of a campaign: one owner for `kharness run` cells and bisect
steps.

A call runs the shipped guest suite (harness/guest_tests) unless the user names tests. The
shipped suite runs with rootdir = the harness package folder and no ini file (`-c /dev/null`,
conftests cut at that folder), so its node ids read `guest_tests/test_x.py::...` and its
options are exactly the argv below, whether kharness runs from a checkout or a wheel.
User-named tests run from the caller's working directory with their own ini and conftests.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.resources import data_path, suite_dir
from harness.util import cmdline, pdeathsig_prefix


@dataclass(frozen=True)
class PytestCall:
    config: Path                     # the kharness YAML
    arch: str
    variant: str
    journal: Path                    # results.jsonl the plugin appends to
    workdir: Path                    # consoles, logs, per-test artefacts
    tests: tuple[str, ...] = ()      # () = the shipped suite
    junit: Path | None = None
    extra: tuple[str, ...] = ()      # -k, --kharness-knobs, user pytest args, ...
    cwd: Path | None = None          # where user-named tests are relative to (default: here)
    kconfig: str = ""                # the `configs:` entry ("" = the kernel section)


def shipped(test: str, cwd: Path) -> str | None:
    """`test` (a path or node id) as an absolute node id in the shipped suite, or None when it
    names something else. `guest_tests/...` names the shipped suite from anywhere."""
    path, sep, rest = test.partition("::")
    suite = suite_dir().resolve()
    here = (cwd / path).resolve()
    if here.is_relative_to(suite):
        return f"{here}{sep}{rest}"
    there = data_path(path).resolve()
    if not (cwd / path).exists() and there.is_relative_to(suite) and there.exists():
        return f"{there}{sep}{rest}"
    return None


def selection(call: PytestCall) -> list[str]:
    tests = list(call.tests) or [str(suite_dir())]
    ours = [shipped(t, workdir_of(call)) for t in tests]
    if any(t is None for t in ours):
        return tests
    pkg = str(data_path())
    return [*(t for t in ours if t), "-c", os.devnull, "--rootdir", pkg, "--confcutdir", pkg]


def argv(call: PytestCall) -> list[str]:
    out = [sys.executable, "-m", "pytest", *selection(call), "-p", "no:cacheprovider",
           "--kharness-config", str(call.config.resolve()), "--kharness-arch", call.arch,
           "--kharness-variant", call.variant, "--kharness-journal", str(call.journal),
           "--kharness-workdir", str(call.workdir)]
    if call.kconfig:
        out += ["--kharness-kconfig", call.kconfig]
    if call.junit is not None:
        out += ["--junitxml", str(call.junit), "-o", "junit_family=xunit2"]
    return out + list(call.extra)


def workdir_of(call: PytestCall) -> Path:
    return call.cwd or Path.cwd()


def reproduce(call: PytestCall) -> str:
    """The copy-paste command line, with the directory it must run in."""
    return f"cd {cmdline([str(workdir_of(call))])} && {cmdline(argv(call))}"


def run(call: PytestCall, log: Path) -> int:
    """Run it, output to `log`; pytest's exit code (0 pass, 1 failures, 2-4 errors, 5 empty).
    It dies with the calling thread (PR_SET_PDEATHSIG), and its QEMUs with it: a runner or
    cluster worker killed with -9 leaves no guest behind."""
    with open(log, "w") as f:
        return subprocess.run(pdeathsig_prefix() + argv(call), stdout=f, stderr=subprocess.STDOUT,
                              cwd=workdir_of(call), check=False).returncode
