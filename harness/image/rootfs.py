"""Debian root disks: an ext4 image of a fuller userland (python3, stress-ng, ...) made with
mmdebstrap from public packages, plus the kharness init, workloads and SSH set-up of the
initramfs recipe (images/rootfs.yaml). Extract-only, so foreign arches work; root needed
(file owners). Cached by a hash of every input, like the initramfs (harness.image.initramfs).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from harness import arch as arch_mod
from harness.errors import InfrastructureError
from harness.image import cpio
from harness.image.guestbin import compile_workloads, workload_inputs, workload_sources
from harness.image.initramfs import (
    BUILDER,
    IMAGES,
    WORKLOADS,
    Recipe,
    applet_links,
    host_key,
    image_lock,
    info_path,
    load_recipe,
    recipe_entries,
    refresh_archive,
)
from harness.sources import debian
from harness.util import cache_dir, mark_used, run, sha256_bytes, stable_hash, write_json

log = logging.getLogger("harness")
_BUILDER = sha256_bytes(BUILDER.encode() + Path(__file__).read_bytes())


def rootfs_disk(arch: str, packages: Sequence[str] = ("python3", "stress-ng"), *,
                size: str = "4G", refresh: bool = False) -> Path:
    """A cached ext4 image of a Debian userland (mmdebstrap) with the kharness init.

    Boot it with root=/dev/vda rw init=/kharness-init kharness.sshkey=<base64 key line>,
    and a snapshot (copy-on-write) drive: the guest writes to its root filesystem.
    """
    profile = arch_mod.get(arch)
    recipe = load_recipe(IMAGES / "rootfs.yaml")
    if refresh:
        refresh_archive(recipe.suite)
    names = sorted(set(recipe.packages) | set(packages))
    sources = workload_sources(WORKLOADS) if recipe.workloads else []
    inputs = {"kind": "rootfs", "arch": profile.name, "recipe": recipe.sources, "size": size,
              "packages": names, "builder": _BUILDER,
              "workloads": workload_inputs(profile, sources),
              "archive": debian.archive_state(recipe.suite, profile.debian_arch)}
    key = stable_hash(inputs)
    out = cache_dir("images", profile.name) / f"rootfs-{key[:16]}.ext4"
    with image_lock(profile.name, "rootfs"):
        if out.exists() and not refresh:
            log.info("image: cached %s", out)
            return mark_used(out)
        _build_rootfs(recipe, profile, names, sources, out, size, key)
        write_json(info_path(out), {
            "kind": "rootfs", "arch": profile.name, "key": key, "recipe": str(recipe.path),
            "packages": names, "sha256": None, "size": size,   # ext4 is not reproducible
            "ssh_host_key": host_key(key)[1] if recipe.ssh_host_key else None})
    return out


def _build_rootfs(recipe: Recipe, profile: arch_mod.ArchProfile, names: list[str],
                  sources: list[Path], out: Path, size: str, key: str) -> None:
    if os.geteuid() != 0:
        raise InfrastructureError("building a Debian rootfs disk needs root",
                                  "mmdebstrap --mode=root and mkfs.ext4 -d keep file owners",
                                  "run as root (e.g. in CI), or use the default initramfs")
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kharness-rootfs-", dir=out.parent) as tmp:
        root, image = Path(tmp) / "root", Path(tmp) / "rootfs.ext4"
        log.info("image: mmdebstrap %s rootfs for %s: %s", recipe.suite, profile.name,
                 ", ".join(names))
        run(["mmdebstrap", "--mode=root", "--variant=extract", "--quiet",
             f"--architectures={profile.debian_arch}", f"--include={','.join(names)}",
             recipe.suite, root, debian.mirror_for(recipe.suite)], timeout=3600)
        binaries = compile_workloads(profile, sources, Path(tmp))
        _materialize(root, recipe_entries(recipe, binaries, key))
        busybox = root / cpio.norm(recipe.busybox[0]) if recipe.busybox else None
        if busybox is not None and busybox.exists():
            links = applet_links(recipe, busybox.read_bytes(), lambda p: os.path.lexists(root / p))
            _materialize(root, links)
        log.info("image: mkfs.ext4 %s", size)
        run(["mkfs.ext4", "-q", "-F", "-L", "kharness-root", "-d", root, image, size], timeout=1800)
        os.replace(image, out)
    log.info("image: wrote %s in %.0fs", out, time.monotonic() - start)


def _materialize(root: Path, entries: list[cpio.Entry]) -> None:
    """Write entries into a directory tree, replacing what is there."""
    root.mkdir(parents=True, exist_ok=True)
    for e in cpio.with_parents(entries):
        path = root / e.name
        if e.is_dir:
            path.mkdir(exist_ok=True)
            path.chmod(e.mode & 0o7777)
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.is_symlink() or path.exists():
            path.unlink()
        if e.is_symlink:
            path.symlink_to(e.data.decode())
        else:
            path.write_bytes(e.data)
            path.chmod(e.mode & 0o7777)
