"""CLI contract: user errors are one line on stderr and exit 2; no tracebacks."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from harness.cli import doctor
from harness.cli import main as cli
from tests.conftest import git, make_series, one_line_error, run_cli, write_config


def test_malformed_yaml(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kernel:\n  source: {debian: x\n")
    one_line_error(run_cli("build", str(bad)), "malformed YAML")


def test_missing_config_file(tmp_path: Path) -> None:
    one_line_error(run_cli("plan", str(tmp_path / "none.yaml")), "config file not found")


def test_unknown_subcommand() -> None:
    proc = run_cli("frobnicate")
    assert proc.returncode == 2 and "usage error" in proc.stderr


def test_plan_prints_commands() -> None:
    proc = run_cli("plan", "examples/quickstart.yaml")
    assert proc.returncode == 0, proc.stderr
    assert "[arm64 patched]" in proc.stdout and "CROSS_COMPILE=aarch64-linux-gnu-" in proc.stdout
    assert "git am -3" in proc.stdout and "olddefconfig" in proc.stdout
    assert "only if the series changes a Kconfig input" in proc.stdout


def test_non_applying_patch_exit_2(fake_repo: Path, tmp_path: Path, isolated_cache: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    d = make_series(fake_repo, tmp_path / "v1", [("mm: one", "int x;\n")])
    (fake_repo / "mm" / "khugepaged.c").write_text("int other;\n")
    git(fake_repo, "commit", "-qam", "diverge")
    cfg = write_config(tmp_path / "k.yaml", fake_repo, {"v1": str(d)})
    assert cli.main(["-q", "build", str(cfg), "--variant", "patched"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'patch 1/1 "mm: one" does not apply' in err[0]
    assert "mm/khugepaged.c" in err[0]


def test_dropped_option_exit_2(fake_repo: Path, tmp_path: Path, isolated_cache: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    (fake_repo / "DROP").write_text("CONFIG_NEEDS_FOO\n")
    git(fake_repo, "add", "DROP")
    git(fake_repo, "commit", "-qm", "drop")
    cfg = write_config(tmp_path / "k.yaml", fake_repo)
    assert cli.main(["-q", "build", str(cfg), "--option", "CONFIG_NEEDS_FOO=y"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "CONFIG_NEEDS_FOO=y was dropped" in err[0] and "FOO_DEP" in err[0]


def test_missing_cross_compiler_exit_2(fake_repo: Path, tmp_path: Path, isolated_cache: Path,
                                       monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    real = shutil.which
    monkeypatch.setattr(shutil, "which",
                        lambda c: None if c.startswith("aarch64") else real(c))
    cfg = write_config(tmp_path / "k.yaml", fake_repo)
    assert cli.main(["-q", "build", str(cfg), "--arch", "arm64"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "aarch64-linux-gnu-gcc not found" in err[0]
    assert "apt-get install gcc-aarch64-linux-gnu" in err[0]


def test_build_prints_table_and_cache_hit(fake_repo: Path, tmp_path: Path, isolated_cache: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(tmp_path / "k.yaml", fake_repo)
    assert cli.main(["-q", "build", str(cfg)]) == 0
    assert "built in" in capsys.readouterr().out
    assert cli.main(["-q", "build", str(cfg)]) == 0
    assert "cached" in capsys.readouterr().out


def test_doctor_reports_missing_and_install_command(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(shutil, "which", lambda c: None if c == "flex" else "/bin/x")
    monkeypatch.setattr(os.path, "exists", lambda p: True)
    assert doctor.doctor(install=False) == 2
    out = capsys.readouterr().out
    assert "missing: flex" in out and "apt-get install -y --no-install-recommends flex" in out


def test_doctor_all_present(monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(shutil, "which", lambda c: "/bin/x")
    monkeypatch.setattr(os.path, "exists", lambda p: True)
    assert doctor.doctor(install=False) == 0


def test_boot_cloud_image_needs_a_checksum(tmp_path: Path) -> None:
    kernel = tmp_path / "vmlinux"
    kernel.write_bytes(b"\x7fELF" + bytes(14) + (62).to_bytes(2, "little") + bytes(100))
    one_line_error(run_cli("boot", "--kernel", str(kernel), "--cloud-image",
                           "https://example.org/debian.qcow2", "--workdir", str(tmp_path / "vm")),
                   "needs --sha256")
    one_line_error(run_cli("boot", "--kernel", str(kernel), "--cloud-image", str(tmp_path / "x"),
                           "--sha256", "abc", "--workdir", str(tmp_path / "vm")), "bad sha256")


def test_image_unknown_arch_is_one_line() -> None:
    one_line_error(run_cli("image", "--arch", "sparc"), "unknown arch 'sparc'")


def test_image_builds_each_arch_and_kind_in_order(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import image as imagecli
    made: list[tuple[str, str, bool]] = []

    def fake(arch: str, kind: str, refresh: bool) -> str:      # the seam: no Debian, no disk
        made.append((arch, kind, refresh))
        return f"/cache/{arch}/{kind}"
    monkeypatch.setattr(imagecli, "build_one", fake)
    assert cli.main(["image", "--arch", "aarch64", "--arch", "x86_64", "--arch", "arm64",
                     "--kind", "rootfs", "--kind", "initramfs"]) == 0
    assert made == [("arm64", "rootfs", False), ("arm64", "initramfs", False),
                    ("x86_64", "rootfs", False), ("x86_64", "initramfs", False)]
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["arm64", "rootfs", "/cache/arm64/rootfs"]
    made.clear()
    assert cli.main(["image", "--refresh"]) == 0           # default: initramfs, both archs
    assert made == [("arm64", "initramfs", True), ("x86_64", "initramfs", True)]


def test_image_lock_is_per_kind(isolated_cache: Path) -> None:
    """A cloud image being built (minutes) must not block a test that needs the initramfs."""
    import fcntl

    from harness.image import initramfs as image
    locks = isolated_cache / "images" / "x86_64"

    def free(kind: str) -> bool:
        with open(locks / f".{kind}.lock", "a") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            fcntl.flock(f, fcntl.LOCK_UN)
            return True
    with image.image_lock("x86_64", "cloud-local"):
        assert not free("cloud-local")
        assert free("initramfs") and free("rootfs")
    assert free("cloud-local")
