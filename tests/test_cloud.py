"""harness.image.cloud: cloud image download, NoCloud seed, local stand-in disk layout."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from harness import util
from harness.errors import InfrastructureError, UserError
from harness.image import cloud


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("KHARNESS_CACHE", str(root))
    return root

def test_cloud_image_downloads_once_and_verifies(tmp_path: Path, cache: Path) -> None:
    src = tmp_path / "debian-12-genericcloud-amd64.qcow2"
    src.write_bytes(b"QFI\xfb" + os.urandom(100_000))
    digest = util.sha256_file(src)
    got = cloud.cloud_image(src.as_uri(), digest)
    assert got.read_bytes() == src.read_bytes() and got.parent == cache / "images" / "cloud"
    src.unlink()                                        # second call must not download again
    assert cloud.cloud_image(src.as_uri(), digest.upper()) == got
    other = tmp_path / "other.img"
    other.write_bytes(b"not it")
    with pytest.raises(UserError, match="checksum mismatch"):
        wrong = digest.replace(digest[0], "0" if digest[0] != "0" else "1")
        cloud.cloud_image(other.as_uri(), wrong)
    assert sorted(p.name for p in got.parent.iterdir() if not p.name.startswith(".")) == [got.name]
    with pytest.raises(UserError, match="bad sha256"):
        cloud.cloud_image(src.as_uri(), "abc")


def test_a_local_image_is_verified_and_used_in_place(tmp_path: Path, cache: Path) -> None:
    src = tmp_path / "mine.qcow2"
    src.write_bytes(b"QFI\xfb" + os.urandom(10_000))
    digest = util.sha256_file(src)
    assert cloud.cloud_image(str(src), digest) == src.resolve()
    assert not (cache / "images" / "cloud").exists() or \
        not [p for p in (cache / "images" / "cloud").iterdir() if not p.name.startswith(".")]
    with pytest.raises(UserError, match="checksum mismatch"):
        cloud.cloud_image(str(src), "0" * 64)
    with pytest.raises(UserError, match="no cloud image"):
        cloud.cloud_image(str(tmp_path / "missing.qcow2"), digest)


@pytest.mark.skipif(shutil.which("isoinfo") is None, reason="no isoinfo (genisoimage)")
def test_nocloud_seed_carries_the_key(tmp_path: Path) -> None:
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample kharness@run"
    seed = cloud.nocloud_seed(key, tmp_path / "seed.iso")
    info = subprocess.run(["isoinfo", "-d", "-i", str(seed)], capture_output=True, text=True,
                          check=True).stdout
    assert "Volume id: cidata" in info

    def read(name: str) -> str:
        return subprocess.run(["isoinfo", "-R", "-i", str(seed), "-x", f"/{name}"],
                              capture_output=True, text=True, check=True).stdout
    user_data = read("user-data")
    assert user_data.startswith("#cloud-config\n") and key in user_data
    assert "disable_root: false" in user_data
    assert "instance-id: kharness-" in read("meta-data")


def test_user_data_asks_for_an_ed25519_host_key_only() -> None:
    text = cloud.user_data("ssh-ed25519 AAAA k")
    assert "ssh_genkeytypes:\n- ed25519\n" in text and "ssh-ed25519 AAAA k" in text


def test_mbr_has_one_linux_partition_at_1mib() -> None:
    sector = cloud.mbr(0xdeadbeef, 2048, 4096)
    assert len(sector) == 512 and sector[510:] == b"\x55\xaa"
    assert struct.unpack_from("<I", sector, 440)[0] == 0xdeadbeef       # PARTUUID deadbeef-01
    assert sector[446 + 4] == 0x83
    assert struct.unpack_from("<II", sector, 446 + 8) == (2048, 4096)
    assert sector[462:510] == bytes(48)                                  # entries 2-4 empty


def test_partitioned_disk_places_the_filesystem_at_the_partition(tmp_path: Path) -> None:
    fs = tmp_path / "fs.img"
    data = b"\0" * (1 << 20) + b"superblock" + b"\0" * (512 - 10) + b"\0" * (1 << 20)
    fs.write_bytes(data)
    disk = tmp_path / "disk.raw"
    cloud.partitioned(fs, disk, 0x1234)
    raw = disk.read_bytes()
    assert len(raw) == 2048 * 512 + len(data)
    assert raw[2048 * 512:] == data and raw[:512] == cloud.mbr(0x1234, 2048, len(data) // 512)
    assert disk.stat().st_blocks * 512 < len(raw)                        # zero runs: sparse
    bad = tmp_path / "bad.img"
    bad.write_bytes(b"x" * 100)
    with pytest.raises(InfrastructureError, match="whole number of sectors"):
        cloud.partitioned(bad, tmp_path / "bad.raw", 1)


def test_disk_format_tells_qcow2_from_raw(tmp_path: Path) -> None:
    (tmp_path / "a.qcow2").write_bytes(b"QFI\xfb" + bytes(100))
    (tmp_path / "b.raw").write_bytes(bytes(100))
    assert cloud.disk_format(tmp_path / "a.qcow2") == "qcow2"
    assert cloud.disk_format(tmp_path / "b.raw") == "raw"


def test_check_kernel_names_what_systemd_lacks(tmp_path: Path) -> None:
    kernel = tmp_path / "bzImage"
    kernel.write_bytes(b"k")
    cloud.check_kernel(kernel)                           # no config beside it: not checked
    full = "".join(f"{o}=y\n" for o in cloud.KERNEL_NEEDS)
    (tmp_path / "config").write_text(full)
    cloud.check_kernel(kernel)
    (tmp_path / "config").write_text(
        full.replace("CONFIG_CGROUPS=y\n", "# CONFIG_CGROUPS is not set\n"))
    with pytest.raises(UserError, match="CONFIG_CGROUPS not set") as info:
        cloud.check_kernel(kernel)
    assert "disk fragment" in info.value.fix
    (tmp_path / "config").write_text("CONFIG_VIRTIO_BLK=y\n")
    with pytest.raises(UserError, match="cannot boot a root disk: CONFIG_EXT4_FS not set"):
        cloud.check_kernel(kernel, cloud.DISK_NEEDS, "a root disk")


def test_local_recipe_is_valid() -> None:
    recipe = cloud.load_local_recipe()
    assert {"systemd-sysv", "openssh-server", "cloud-init"} <= set(recipe.packages)
