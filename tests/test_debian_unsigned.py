"""Debian indexes over plain HTTP: an unchecked signature is refused unless --allow-unsigned."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from harness.cli import main as cli
from harness.errors import InfrastructureError
from harness.sources import debian


@pytest.fixture
def no_gpgv(monkeypatch: pytest.MonkeyPatch) -> None:
    real = shutil.which
    monkeypatch.setattr(shutil, "which",
                        lambda name, *a, **k: None if name == "gpgv" else real(name, *a, **k))
    monkeypatch.delenv(debian.ALLOW_UNSIGNED_ENV, raising=False)


def test_no_gpgv_is_refused(tmp_path: Path, no_gpgv: None) -> None:
    index = tmp_path / "InRelease"
    index.write_text("unsigned\n")
    with pytest.raises(InfrastructureError) as e:
        debian._verify_inrelease(index)
    assert e.value.one_line() == (
        f"cannot check the signature of {index}: gpgv is missing and the index came over plain "
        "HTTP (fix: install gpgv debian-archive-keyring (kharness doctor --install), or pass "
        "--allow-unsigned to use it unchecked)")


def test_no_keyring_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(debian, "KEYRING", tmp_path / "none.gpg")
    monkeypatch.delenv(debian.ALLOW_UNSIGNED_ENV, raising=False)
    with pytest.raises(InfrastructureError, match=f"{tmp_path / 'none.gpg'} is missing"):
        debian._verify_inrelease(tmp_path / "InRelease")


def test_allow_unsigned_warns_and_goes_on(tmp_path: Path, no_gpgv: None,
                                         monkeypatch: pytest.MonkeyPatch,
                                         caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv(debian.ALLOW_UNSIGNED_ENV, "1")
    monkeypatch.setattr(debian, "_warned_unsigned", False)
    debian._verify_inrelease(tmp_path / "InRelease")
    assert "gpgv missing: InRelease signature not checked (--allow-unsigned)" in caplog.text


@pytest.mark.parametrize("command", cli.DOWNLOADERS)
def test_every_downloading_command_takes_the_flag(command: str) -> None:
    args = cli.build_parser().parse_args([command, "--allow-unsigned"] + (
        ["x.yaml"] if command not in ("image",) else []))
    assert args.allow_unsigned is True


def test_the_flag_reaches_nested_pytest_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """main() exports it: `kharness run`'s cells (child pytest processes) inherit it."""
    monkeypatch.setenv(debian.ALLOW_UNSIGNED_ENV, "0")     # restored after the test
    assert not debian.allow_unsigned()
    monkeypatch.setattr(cli, "guarded", lambda func, args: 0)
    assert cli.main(["run", "x.yaml", "--allow-unsigned"]) == 0
    assert os.environ[debian.ALLOW_UNSIGNED_ENV] == "1" and debian.allow_unsigned()
