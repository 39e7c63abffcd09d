"""The splat guard's decisions on recorded console logs (real kernel output)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.splats import guard as splatguard
from harness.splats.model import Splat

LOGS = Path(__file__).parent / "data" / "logs"


def _splats(name: str) -> list[Splat]:
    text = (LOGS / name).read_text()
    return splatguard.test_splats(text, "t::x", kernel=None, arch="arm64")


def test_a_splat_fails_a_test_that_expects_none() -> None:
    failure = splatguard.verdict(None, _splats("arm64-swapops-bug.log"))
    assert isinstance(failure, splatguard.SplatFound)
    assert "[bug] kernel BUG in zap_pte_range" in str(failure)
    assert "function: zap_pte_range" in str(failure)


def test_the_expected_splat_passes_and_only_it() -> None:
    found = _splats("arm64-swapops-bug.log")
    assert splatguard.verdict({"kind": "bug", "title": "zap_pte_range"}, found) is None
    missing = splatguard.verdict({"kind": "lockdep"}, found)
    assert missing is not None and not isinstance(missing, splatguard.SplatFound)
    assert "expected splat {'kind': 'lockdep'} not seen" in str(missing)


def test_a_clean_console_passes() -> None:
    assert splatguard.test_splats("[    1.0] ok\n", "t::x", None, "x86_64") == []
    assert splatguard.verdict(None, []) is None
    assert "not seen" in str(splatguard.verdict({"kind": "warning"}, []))


def test_console_slice_reads_from_the_offset(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    log.write_bytes(b"before\n\xffafter\n")

    class Machine:
        console_path = log
        scale = 1.0
    assert splatguard.console_slice(Machine(), 7, "t::x", healthy=False) == "\\xffafter\n"


def test_a_symbolisation_failure_is_logged_and_the_splats_stand(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A vmlinux that cannot be read (here: missing) costs the file:line, not the splat, and
    says so in the log."""
    kernel = SimpleNamespace(vmlinux=tmp_path / "vmlinux")
    text = (LOGS / "arm64-swapops-bug.log").read_text()
    found = splatguard.test_splats(text, "t::x", kernel=kernel, arch="arm64")
    assert [s.title for s in found] == [s.title for s in _splats("arm64-swapops-bug.log")]
    assert found and all(f.source is None for s in found for f in s.frames)
    assert f"t::x: {len(found)} splat(s) not symbolised against {tmp_path / 'vmlinux'}" \
        in caplog.text
