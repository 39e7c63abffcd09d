"""`kharness cache`: du per area, prune of superseded images and old builds, locks honoured."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from harness.cli import cache as cachecli
from harness.cli import main as cli
from harness.image import initramfs as image
from harness.util import file_lock
from tests import conftest
from tests.conftest import run_cli

NOW = time.time()
DAY = 86400.0
H = ["0" * 16, "1" * 16, "2" * 16, "3" * 16]       # image hashes


def put(path: Path, size: int = 4096, age_days: float = 0.0) -> Path:
    """A real file of `size` bytes whose mtime is `age_days` ago."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"k" * size)
    t = NOW - age_days * DAY
    os.utime(path, (t, t))
    return path


def put_build(cache: Path, key: str, arch: str, age_days: float, complete: bool = True) -> Path:
    entry = cache / "builds" / key
    put(entry / "vmlinux", 100_000)
    if complete:
        (entry / "metadata.json").write_text(json.dumps({"arch": arch, "image": "bzImage"}))
    t = NOW - age_days * DAY
    os.utime(entry, (t, t))
    return entry


def one_line_error(proc: subprocess.CompletedProcess[str], needle: str) -> None:
    conftest.one_line_error(proc, needle, prefix="kharness: ")


@pytest.fixture
def images(isolated_cache: Path) -> Path:
    """x86_64: three initramfs (newest H[2]) with sidecars and one rootfs; arm64: two
    initramfs (newest H[1]); plus files prune must never touch."""
    x86, arm = isolated_cache / "images" / "x86_64", isolated_cache / "images" / "arm64"
    for h, age in zip(H[:3], (30, 20, 1), strict=False):
        put(x86 / f"initramfs-{h}.cpio", 8192, age)
        put(x86 / f"initramfs-{h}.cpio.json", 100, age)
    put(x86 / f"rootfs-{H[0]}.ext4", 8192, 50)
    put(arm / f"initramfs-{H[0]}.cpio", 8192, 9)
    put(arm / f"initramfs-{H[1]}.cpio", 8192, 2)
    put(x86 / f".initramfs-{H[3]}.cpio.tmp123", 100, 90)      # atomic_write in progress
    put(x86 / f"cloud-local-{H[3]}.tmp", 100, 90)             # qemu-img convert in progress
    put(isolated_cache / "images" / "cloud" / f"{H[0]}-debian.qcow2", 100, 90)
    put(isolated_cache / "images" / "resolve" / "abc.json", 100, 90)
    return isolated_cache


def test_du_matches_du_and_counts_entries(isolated_cache: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    c = isolated_cache
    put_build(c, "a" * 20, "x86_64", 1)
    put_build(c, "b" * 20, "arm64", 1)
    put(c / "images" / "x86_64" / f"initramfs-{H[0]}.cpio", 3_000_000)
    put(c / "images" / "x86_64" / f"initramfs-{H[0]}.cpio.json", 300)     # sidecar: no entry
    put(c / "images" / "x86_64" / ".initramfs.lock", 0)                   # lock: no entry
    put(c / "sources" / "git-0123" / "Makefile", 50_000)
    put(c / "sources" / "git-0123.lock", 0)
    put(c / "work" / "linux" / "x86_64-abc" / "obj" / "vmlinux.o", 2_000_000)
    put(c / "work" / "linux" / "arm64-abc" / "obj" / "vmlinux.o", 1_000_000)
    put(c / "debian" / "pool" / "busybox.deb", 500_000)
    put(c / "accel" / "boot.json", 10)
    put(c / "boot" / "run-1" / "console.log", 20_000)
    rows = {r.area: r for r in cachecli.usage(c)}
    assert list(rows) == ["builds", "images", "sources", "work", "debian", "others"]
    assert {a: r.entries for a, r in rows.items()} == {
        "builds": 2, "images": 1, "sources": 1, "work": 2, "debian": 1, "others": 2}
    if shutil.which("du"):                  # an independent oracle: the same bytes as du
        for area in ("builds", "images", "sources", "work", "debian"):
            du = subprocess.run(["du", "-s", "-B1", str(c / area)], capture_output=True,
                                text=True, check=True).stdout
            assert rows[area].bytes == int(du.split()[0]), area
    assert rows["work"].bytes >= 3_000_000 and rows["images"].bytes >= 3_000_300
    assert cli.main(["cache"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"cache root: {c}"
    total = out[-1].split()
    assert total[0] == "total" and total[2] == "9"
    assert float(total[1]) == pytest.approx(sum(r.bytes for r in rows.values()) / 1e6, abs=0.06)
    assert cli.main(["cache", "du"]) == 0
    assert capsys.readouterr().out.splitlines() == out


def test_prune_keeps_newest_per_arch_and_kind(images: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    before = sorted(p for p in images.rglob("*") if p.is_file())
    assert cli.main(["cache", "prune"]) == 0
    x86, arm = images / "images" / "x86_64", images / "images" / "arm64"
    gone = [x86 / f"initramfs-{H[0]}.cpio", x86 / f"initramfs-{H[0]}.cpio.json",
            x86 / f"initramfs-{H[1]}.cpio", x86 / f"initramfs-{H[1]}.cpio.json",
            arm / f"initramfs-{H[0]}.cpio"]
    for p in gone:
        assert not p.exists(), p
    after = sorted(p for p in images.rglob("*") if p.is_file())
    assert sorted(set(before) - set(after)) == sorted(gone)
    assert (x86 / f"initramfs-{H[2]}.cpio").exists()
    assert (x86 / f"initramfs-{H[2]}.cpio.json").exists()
    assert (x86 / f"rootfs-{H[0]}.ext4").exists() and (arm / f"initramfs-{H[1]}.cpio").exists()
    out = capsys.readouterr().out.splitlines()
    assert f"removed {x86 / f'initramfs-{H[0]}.cpio'} (0.0 MB)" in out
    assert len([line for line in out if line.startswith("removed ")]) == 5
    assert out[-1].startswith("freed ")


def test_prune_keep_two_and_dry_run(images: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = sorted(p for p in images.rglob("*") if p.is_file())
    assert cli.main(["cache", "prune", "--dry-run"]) == 0
    assert sorted(p for p in images.rglob("*") if p.is_file()) == before   # nothing deleted
    assert not (images / "images" / "x86_64" / ".initramfs.lock").exists()  # nor created
    out = capsys.readouterr().out.splitlines()
    assert len([line for line in out if line.startswith("would remove ")]) == 5
    assert not any(line.startswith("removed ") for line in out)
    assert out[-1].startswith("would free ")
    assert cli.main(["cache", "prune", "--keep", "2"]) == 0
    x86 = images / "images" / "x86_64"
    assert not (x86 / f"initramfs-{H[0]}.cpio").exists()
    assert (x86 / f"initramfs-{H[1]}.cpio").exists() and (x86 / f"initramfs-{H[2]}.cpio").exists()
    assert (images / "images" / "arm64" / f"initramfs-{H[0]}.cpio").exists()


def test_held_image_lock_prevents_deletion(images: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    x86 = images / "images" / "x86_64"
    with image.image_lock("x86_64", "initramfs"):          # an initramfs being built
        assert cli.main(["cache", "prune"]) == 0
    assert all((x86 / f"initramfs-{h}.cpio").exists() for h in H[:3])
    assert not (images / "images" / "arm64" / f"initramfs-{H[0]}.cpio").exists()
    out = capsys.readouterr().out
    assert f"skipped {x86 / 'initramfs-*'}: an image is being built" in out


def test_prune_builds_old_complete_only(isolated_cache: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    c = isolated_cache
    old_x86 = put_build(c, "a" * 20, "x86_64", 30)
    old_arm = put_build(c, "b" * 20, "arm64", 15)
    fresh = put_build(c, "c" * 20, "x86_64", 3)
    partial = put_build(c, "d" * 20 + ".partial", "x86_64", 40)
    incomplete = put_build(c, "e" * 20, "x86_64", 40, complete=False)
    slot_lock = c / "work" / "linux" / "x86_64-0123456789.lock"
    with file_lock(slot_lock):                              # an x86_64 build is running
        assert cli.main(["cache", "prune"]) == 0
    assert old_x86.exists() and not old_arm.exists()
    assert fresh.exists() and partial.exists() and incomplete.exists()
    out = capsys.readouterr().out
    assert f"skipped {old_x86}: a x86_64 build is running" in out
    assert f"skipped {partial}:" in out and f"skipped {incomplete}:" in out
    assert cli.main(["cache", "prune", "--older-than", "20", "--dry-run"]) == 0
    assert old_x86.exists() and f"would remove {old_x86} (0.1 MB)" in capsys.readouterr().out
    assert cli.main(["cache", "prune", "--older-than", "20"]) == 0
    assert not old_x86.exists() and fresh.exists() and partial.exists()
    assert cli.main(["cache", "prune", "--older-than", "0"]) == 0
    assert not fresh.exists() and partial.exists() and incomplete.exists()


def test_bad_keep_and_days_exit_2(isolated_cache: Path) -> None:
    isolated_cache.mkdir()
    one_line_error(run_cli("cache", "prune", "--keep", "-1"), "--keep")
    one_line_error(run_cli("cache", "prune", "--keep", "x"), "--keep")
    one_line_error(run_cli("cache", "prune", "--older-than", "-3"), "--older-than")


def test_missing_cache_root_exit_2(isolated_cache: Path) -> None:
    for args in (("cache",), ("cache", "prune")):
        one_line_error(run_cli(*args), f"no kharness cache at {isolated_cache}")
    assert not isolated_cache.exists()                      # and it was not created
