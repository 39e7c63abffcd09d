"""Public cloud images booted with the kernel under test: download, NoCloud seed, local stand-in.

A cloud image (Debian genericcloud, Ubuntu cloud, ...) is fetched once by URL + sha256 and
cached (`cloud_image`). The VM boots it copy-on-write with the harness's kernel
(`-kernel`, root on the image's first partition) and a cloud-init NoCloud seed on a second
virtio disk (`nocloud_seed`) that lets root in with the run's ephemeral key. Such an image
runs systemd and cloud-init, so the kernel needs what they need (kconfigs/disk.config,
checked by `check_kernel` when the kernel's config sits beside it).

This machine has no internet beyond package archives, so the tests use `local_image`: a
stand-in built the way cloud images are (mmdebstrap of Debian with systemd, openssh-server
and cloud-init, one ext4 partition in an MBR disk, qcow2), verified by sha256 like any
image and booted in place.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import struct
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from harness import arch as arch_mod
from harness.errors import InfrastructureError, UserError
from harness.image.initramfs import IMAGES, image_lock
from harness.sources import debian
from harness.util import (
    atomic_write,
    cache_dir,
    file_lock,
    mark_used,
    open_url,
    run,
    sha256_bytes,
    sha256_file,
    stable_hash,
)

log = logging.getLogger("harness")

QCOW2_MAGIC = b"QFI\xfb"
SECTOR = 512
FIRST_LBA = 2048                        # partition 1 at 1 MiB, as partitioning tools do
# What a root disk needs from the kernel, and what systemd + cloud-init on a cloud image need
# on top (both from kconfigs/disk.config)
DISK_NEEDS = ("CONFIG_VIRTIO_BLK", "CONFIG_EXT4_FS")
KERNEL_NEEDS = (*DISK_NEEDS, "CONFIG_CGROUPS", "CONFIG_FHANDLE", "CONFIG_INOTIFY_USER",
                "CONFIG_ISO9660_FS", "CONFIG_PACKET")
_BUILDER = sha256_bytes(Path(__file__).read_bytes())


@dataclass(frozen=True)
class CloudBoot:
    """How the VM boots a cloud image: the disk, its root device as the kernel sees it."""
    image: Path
    root: str = "/dev/vda1"


# ---------------------------------------------------------------- kernel

def kernel_config(kernel: Path) -> Path | None:
    """The .config stored beside a built kernel (harness.kernel.build artifacts), if any."""
    for name in ("config", ".config"):
        if (kernel.parent / name).is_file():
            return kernel.parent / name
    return None


def check_kernel(kernel: Path, needs: tuple[str, ...] = KERNEL_NEEDS,
                 what: str = "a cloud image") -> None:
    """A kernel whose config is known must have what the disk's userland needs: ext4 on
    virtio-blk for any root disk; cgroups, fhandle, inotify, AF_PACKET, ISO 9660 (the NoCloud
    seed) for systemd and cloud-init."""
    config = kernel_config(kernel)
    if config is None:
        return
    text = config.read_text(errors="replace")
    lacking = [o for o in needs if not re.search(rf"^{o}=[ym]$", text, re.MULTILINE)]
    if lacking:
        raise UserError(f"kernel {kernel} cannot boot {what}: {', '.join(lacking)} not set",
                        "a root disk needs ext4 on virtio-blk; systemd and cloud-init also need "
                        "cgroups, fhandle, inotify, AF_PACKET and ISO 9660 (the NoCloud seed)",
                        "add the disk fragment to the kernel's fragments (kconfigs/disk.config; "
                        "`kharness boot CONFIG --rootfs/--cloud-image` adds it itself)")


def disk_format(path: Path) -> str:
    with open(path, "rb") as f:
        return "qcow2" if f.read(4) == QCOW2_MAGIC else "raw"


# ---------------------------------------------------------------- download

def cloud_image(url: str, sha256: str) -> Path:
    """A public cloud image (e.g. Debian genericcloud qcow2), verified against `sha256`.

    A URL (http, https, file://) is downloaded once into the cache. A plain path is a file
    the user already has: it is verified and used where it is (the VM boots it with
    snapshot=on, so it is never written), not copied into the cache."""
    sha256 = sha256.lower()
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise UserError(f"bad sha256 {sha256!r} for {url}", "expected 64 hex digits",
                        "give the image's sha256 (e.g. from the SHA512SUMS/SHA256SUMS file)")
    if "://" not in url:
        return _verified_local(Path(url), sha256)
    name = Path(urllib.parse.urlparse(url).path).name or "image"
    dest = cache_dir("images", "cloud") / f"{sha256[:16]}-{name}"
    with file_lock(cache_dir("images", "cloud") / ".lock"):
        if not dest.exists():
            log.info("image: downloading %s", url)
            _download(url, dest, sha256)
    return dest


def _verified_local(path: Path, sha256: str) -> Path:
    path = path.resolve()
    if not path.is_file():
        raise UserError(f"no cloud image at {path}", "the path does not name a file",
                        "give an existing image file, or a URL to download")
    _check_sha256(str(path), sha256_file(path), sha256)
    return path


def _check_sha256(what: str, got: str, expected: str) -> None:
    if got != expected:
        raise UserError(f"checksum mismatch for {what}", f"got sha256 {got}, expected {expected}",
                        "check the URL or file and the sha256 you gave")


def _download(url: str, dest: Path, sha256: str) -> None:
    tmp = dest.with_name(f".{dest.name}.tmp{os.getpid()}")
    h = hashlib.sha256()
    try:
        with open_url(url, 120, ("http", "https", "file")) as resp, open(tmp, "wb") as f:
            for chunk in iter(lambda: resp.read(1 << 20), b""):
                h.update(chunk)
                f.write(chunk)
    except (urllib.error.URLError, OSError) as e:
        tmp.unlink(missing_ok=True)
        raise InfrastructureError(f"download failed: {url}", str(e),
                                  "check the URL and the network; a local file works as a "
                                  "path or file:// URL") from e
    if h.hexdigest() != sha256:
        tmp.unlink()
        _check_sha256(url, h.hexdigest(), sha256)
    os.replace(tmp, dest)


# ---------------------------------------------------------------- NoCloud seed

def user_data(pubkey: str) -> str:
    """cloud-config: root logs in with `pubkey`; ed25519 host key only (RSA key generation
    takes many seconds under TCG); no package updates (no network, no time)."""
    return "#cloud-config\n" + yaml.safe_dump({
        "disable_root": False, "ssh_pwauth": False, "ssh_authorized_keys": [pubkey.strip()],
        "ssh_genkeytypes": ["ed25519"], "package_update": False, "package_upgrade": False},
        sort_keys=True)


def nocloud_seed(pubkey: str, out: Path, *, hostname: str = "kharness") -> Path:
    """A cloud-init NoCloud seed (ISO 9660 volume 'cidata') that lets root in with `pubkey`."""
    meta_data = f"instance-id: kharness-{sha256_bytes(pubkey.encode())[:12]}\n" \
                f"local-hostname: {hostname}\n"
    with tempfile.TemporaryDirectory(prefix="kharness-seed-") as tmp:
        (Path(tmp) / "user-data").write_text(user_data(pubkey))
        (Path(tmp) / "meta-data").write_text(meta_data)
        iso = Path(tmp) / "seed.iso"
        run([*_mkisofs(), "-quiet", "-output", iso, "-volid", "cidata", "-joliet", "-rock",
             Path(tmp) / "user-data", Path(tmp) / "meta-data"])
        atomic_write(out, iso.read_bytes())
    return out


def _mkisofs() -> list[str]:
    if shutil.which("genisoimage"):
        return ["genisoimage"]
    if shutil.which("xorriso"):
        return ["xorriso", "-as", "mkisofs"]
    raise InfrastructureError("no ISO 9660 writer for the cloud-init seed",
                              "neither genisoimage nor xorriso is installed",
                              "apt-get install genisoimage")


# ---------------------------------------------------------------- local stand-in

def mbr(signature: int, first_lba: int, sectors: int) -> bytes:
    """A 512-byte MBR with one Linux partition (type 0x83); PARTUUID is <signature>-01."""
    def chs(_: int) -> bytes:
        return b"\xfe\xff\xff"          # beyond CHS range: LBA only
    entry = b"\x00" + chs(first_lba) + b"\x83" + chs(first_lba + sectors - 1) \
        + struct.pack("<II", first_lba, sectors)
    sector = bytearray(SECTOR)
    struct.pack_into("<I", sector, 440, signature)
    sector[446:462] = entry
    sector[510:512] = b"\x55\xaa"
    return bytes(sector)


def partitioned(fs: Path, out: Path, signature: int) -> None:
    """out = MBR + 1 MiB gap + the filesystem image as partition 1 (sparse)."""
    size = fs.stat().st_size
    if size % SECTOR:
        raise InfrastructureError(f"filesystem image {fs} is not a whole number of sectors")
    with open(out, "wb") as dst, open(fs, "rb") as src:
        dst.write(mbr(signature, FIRST_LBA, size // SECTOR))
        dst.seek(FIRST_LBA * SECTOR)
        while chunk := src.read(1 << 20):
            if chunk.count(0) == len(chunk):
                dst.seek(len(chunk), os.SEEK_CUR)
            else:
                dst.write(chunk)
        dst.truncate(FIRST_LBA * SECTOR + size)


@dataclass(frozen=True)
class LocalRecipe:
    suite: str
    packages: tuple[str, ...]
    size: str


def load_local_recipe(path: Path = IMAGES / "cloud-local.yaml") -> LocalRecipe:
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("packages"), list):
        raise UserError(f"{path}: expected a mapping with suite, packages, size", "",
                        "see images/cloud-local.yaml in the repository")
    return LocalRecipe(str(data.get("suite", "bookworm")),
                       tuple(str(p) for p in data["packages"]), str(data.get("size", "3G")))


def local_image(arch: str = "x86_64", *, refresh: bool = False) -> Path:
    """A cached qcow2 built like a Debian cloud image (images/cloud-local.yaml).

    mmdebstrap runs the packages' maintainer scripts, so only the host's own arch."""
    profile = arch_mod.get(arch)
    host = arch_mod.host_profile()
    if host is None or host.name != profile.name:
        raise UserError(f"cannot build a local cloud image for {arch} on this host",
                        "its packages' maintainer scripts run natively",
                        f"build it on an {arch} host, or give a cloud image URL + sha256")
    if os.geteuid() != 0 or shutil.which("mmdebstrap") is None:
        raise InfrastructureError("building a local cloud image needs root and mmdebstrap",
                                  "mmdebstrap --mode=root keeps file owners",
                                  "run as root with mmdebstrap installed "
                                  "(kharness doctor --install)")
    recipe = load_local_recipe()
    key = stable_hash({"kind": "cloud-local", "arch": profile.name, "recipe": recipe.__dict__,
                       "builder": _BUILDER,
                       "archive": debian.archive_state(recipe.suite, profile.debian_arch)})
    out = cache_dir("images", profile.name) / f"cloud-local-{key[:16]}.qcow2"
    with image_lock(profile.name, "cloud-local"):
        if out.exists() and not refresh:
            return mark_used(out)
        _build_local(recipe, profile, key, out)
        for old in out.parent.glob("cloud-local-*.qcow2"):     # superseded builds: ~0.4 GB each
            if old != out:
                old.unlink()
    return out


def _build_local(recipe: LocalRecipe, profile: arch_mod.ArchProfile, key: str, out: Path) -> None:
    start = time.monotonic()
    signature = int(key[:8], 16)
    with tempfile.TemporaryDirectory(prefix="kharness-cloud-", dir=out.parent) as tmp:
        root, fs, disk = Path(tmp) / "root", Path(tmp) / "root.ext4", Path(tmp) / "disk.raw"
        log.info("image: mmdebstrap %s cloud-style image for %s", recipe.suite, profile.name)
        run(["mmdebstrap", "--mode=root", "--variant=apt", "--quiet",
             f"--architectures={profile.debian_arch}", f"--include={','.join(recipe.packages)}",
             recipe.suite, root, debian.mirror_for(recipe.suite)], timeout=3600)
        (root / "etc/fstab").write_text(
            f"PARTUUID={signature:08x}-01 / ext4 rw,discard,errors=remount-ro 0 1\n")
        (root / "etc/hostname").write_text("localhost\n")
        (root / "etc/default/locale").write_text("LANG=C.UTF-8\n")   # as Debian's images
        (root / "etc/machine-id").write_text("")         # first boot makes one, as in images
        run(["mkfs.ext4", "-q", "-F", "-L", "cloudimg-rootfs", "-d", root, fs, recipe.size],
            timeout=1800)
        partitioned(fs, disk, signature)
        run(["qemu-img", "convert", "-O", "qcow2", disk, out.with_suffix(".tmp")], timeout=1800)
        os.replace(out.with_suffix(".tmp"), out)
    log.info("image: wrote %s (sha256 %s) in %.0fs", out, sha256_file(out)[:16],
             time.monotonic() - start)
