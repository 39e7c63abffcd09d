"""`kharness cache`: see and bound the disk the harness cache uses.

    kharness cache [du]                               # MB and entries per area, total, root
    kharness cache prune [--keep N] [--older-than DAYS] [--dry-run]

prune removes only what the harness rebuilds on demand, and nothing in use:
  images/<arch>/  per kind (initramfs, rootfs, cloud-local) the N most recently used
                  images stay (default 1); older ones go, with their .json sidecar. A kind
                  whose .<kind>.lock is held (an image being built) is skipped.
  builds/         complete entries (with metadata.json) not used for DAYS (default 14)
                  go. An entry's mtime is when it was last built or used (a cache hit touches it).
                  *.partial (a build being stored) and entries without metadata.json are
                  never removed; an arch with a build running (a work/*/<arch>-*.lock held)
                  is skipped.
Left alone, and why:
  sources/        kernel repositories: the work/ worktrees are registered in them, and
                  cloning or unpacking again is the slowest step the harness has.
  work/           build slots: git worktrees plus the object dirs that make rebuilds
                  incremental; removing one by hand leaves stale worktree records behind.
  debian/         package indexes and .debs: images are rebuilt from them (offline too),
                  and nothing records which image still needs which .deb.
  images/cloud/   downloaded cloud images are named by checksum, not superseded by kind.
Exit 2 on bad input or when there is no cache.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.util import cache_root

MB = 1e6
DAY = 86400.0
AREAS = ("builds", "images", "sources", "work", "debian")
ENTRY_DEPTH = {"images": 2, "work": 2, "debian": 2}     # images/<arch>/<file>, work/<src>/<slot>
IMAGE_KINDS = {"initramfs": ".cpio", "rootfs": ".ext4", "cloud-local": ".qcow2"}


@dataclass(frozen=True)
class Usage:
    area: str
    bytes: int
    entries: int


def add_cli(subparsers: Any) -> None:
    """Register `cache` (with `du` and `prune`) on the main CLI's subparsers."""
    fmt = argparse.RawDescriptionHelpFormatter
    p = subparsers.add_parser("cache", help="show (du) or prune the harness cache",
                              description=__doc__, formatter_class=fmt)
    p.set_defaults(func=du_handler)
    sub = p.add_subparsers(dest="cache_command", metavar="{du,prune}")
    d = sub.add_parser("du", help="size and entry count per cache area (the default)")
    d.set_defaults(func=du_handler)
    pr = sub.add_parser("prune", help="remove superseded images and old builds",
                        description=__doc__, formatter_class=fmt)
    pr.add_argument("--keep", type=_count, default=1, metavar="N",
                    help="images kept per arch and kind, newest first (default: 1)")
    pr.add_argument("--older-than", type=_days, default=14.0, metavar="DAYS",
                    help="remove complete builds not built or used for DAYS (default: 14)")
    pr.add_argument("--dry-run", action="store_true", help="only print what would be removed")
    pr.set_defaults(func=prune_handler)


def _count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {n}")
    return n


def _days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of days, got {text!r}") from None
    if not days >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return days


def existing_root() -> Path:
    """The cache root; a UserError (exit 2) when there is none. Never creates it."""
    root = cache_root()
    if not root.is_dir():
        raise UserError(f"no kharness cache at {root}", "nothing cached yet, or a wrong path",
                        "set KHARNESS_CACHE to the cache directory, or run a build first")
    return root


# ---------------------------------------------------------------- du

def disk_usage(path: Path, seen: set[tuple[int, int]]) -> int:
    """Bytes allocated under path, like `du -s -B1`: hard links once, symlinks not followed."""
    total = _allocated(path, seen)
    if path.is_dir() and not path.is_symlink():
        for top, dirs, files in os.walk(path):
            total += sum(_allocated(Path(top, name), seen) for name in dirs + files)
    return total


def _allocated(path: Path, seen: set[tuple[int, int]]) -> int:
    try:
        st = path.lstat()
    except OSError:                    # vanished or unreadable: count nothing
        return 0
    if (st.st_dev, st.st_ino) in seen:
        return 0
    seen.add((st.st_dev, st.st_ino))
    return st.st_blocks * 512


def count_entries(path: Path, depth: int) -> int:
    """Items `depth` levels below path; hidden files, locks and image sidecars not counted."""
    items = [path]
    for _ in range(depth):
        items = [c for d in items if d.is_dir() and not d.is_symlink()
                 for c in sorted(d.iterdir()) if _is_entry(c)]
    return len(items)


def _is_entry(path: Path) -> bool:
    name = path.name
    sidecar = name.endswith(".json") and path.with_name(name[:-5]).exists()
    return not (name.startswith(".") or name.endswith(".lock") or sidecar)


def usage(root: Path) -> list[Usage]:
    """One Usage per area, then "others" (everything else at the root)."""
    seen: set[tuple[int, int]] = set()
    rows = [Usage(a, disk_usage(root / a, seen), count_entries(root / a, ENTRY_DEPTH.get(a, 1)))
            for a in AREAS]
    others = [p for p in sorted(root.iterdir()) if p.name not in AREAS]
    rows.append(Usage("others", sum(disk_usage(p, seen) for p in others),
                      sum(1 for p in others if _is_entry(p))))
    return rows


def du_handler(args: argparse.Namespace) -> int:
    root = existing_root()
    rows = usage(root)
    print(f"cache root: {root}")
    print(f"{'area':8} {'MB':>10} {'entries':>8}")
    for r in [*rows, Usage("total", sum(r.bytes for r in rows), sum(r.entries for r in rows))]:
        print(f"{r.area:8} {r.bytes / MB:10.1f} {r.entries:8d}")
    return 0


# ---------------------------------------------------------------- prune

class Pruner:
    """Removes (or, dry, only reports) paths; every removal and skip is one printed line."""

    def __init__(self, dry_run: bool) -> None:
        self.dry_run, self.freed = dry_run, 0

    def remove(self, path: Path) -> None:
        size = disk_usage(path, set())
        try:
            if not self.dry_run:
                _delete(path)
        except OSError as e:
            self.skip(path, f"cannot remove: {e.strerror or e}")
            return
        self.freed += size
        print(f"{'would remove' if self.dry_run else 'removed'} {path} ({size / MB:.1f} MB)")

    def skip(self, path: Path, why: str) -> None:
        print(f"skipped {path}: {why}")

    def summary(self) -> str:
        return f"{'would free' if self.dry_run else 'freed'} {self.freed / MB:.1f} MB"


def _delete(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def locks_free(paths: Sequence[Path], create: bool) -> Iterator[Path | None]:
    """Take every lock without waiting and hold them for the block. Yields None when all
    were taken, else the first lock that is held (or cannot be opened): then hold nothing.
    A missing lock file is created when `create`, else it counts as free."""
    with contextlib.ExitStack() as stack:
        for path in paths:
            if not create and not path.exists():
                continue
            try:
                f = stack.enter_context(open(path, "a"))
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:                       # BlockingIOError: someone holds it
                stack.close()
                yield path
                return
        yield None


def kind_images(arch_dir: Path, kind: str) -> list[Path]:
    """Images of one kind (`<kind>-<16 hex>.<ext>`), newest first. Temporary files and
    sidecars never match."""
    ext = IMAGE_KINDS[kind]
    found = [(_mtime(p), p) for p in arch_dir.glob(f"{kind}-*{ext}")
             if p.is_file() and not p.is_symlink() and len(p.name) == len(kind) + 17 + len(ext)
             and all(c in "0123456789abcdef" for c in p.name[len(kind) + 1:-len(ext)])]
    return [p for t, p in sorted(found, reverse=True) if t >= 0]


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:                    # removed meanwhile (cloud.local_image drops old ones)
        return -1.0


def prune_images(root: Path, keep: int, pruner: Pruner) -> None:
    from harness.arch import PROFILES
    from harness.image.initramfs import info_path
    images = root / "images"
    arch_dirs = sorted(images / a for a in PROFILES if (images / a).is_dir())
    for arch_dir in arch_dirs:
        for kind in IMAGE_KINDS:
            if len(kind_images(arch_dir, kind)) <= keep:
                continue
            lock = arch_dir / f".{kind}.lock"          # harness.image.initramfs.image_lock
            with locks_free([lock], create=not pruner.dry_run) as held:
                if held is not None:
                    pruner.skip(arch_dir / f"{kind}-*",
                                f"an image is being built (lock {held} is held)")
                    continue
                for old in kind_images(arch_dir, kind)[keep:]:    # listed again under the lock
                    pruner.remove(old)
                    if info_path(old).exists():
                        pruner.remove(info_path(old))


def _build_arch(entry: Path) -> str | None:
    try:
        arch = json.loads((entry / "metadata.json").read_text()).get("arch")
    except (OSError, ValueError, AttributeError):
        return None
    return arch if isinstance(arch, str) and "/" not in arch and "*" not in arch else None


def slot_locks(root: Path, arch: str | None) -> list[Path]:
    """The build-slot locks (harness.kernel.build.build) of arch's slots, or of every slot."""
    return sorted((root / "work").glob(f"*/{arch}-*.lock" if arch else "*/*.lock"))


def _old_complete(entry: Path, cutoff: float) -> bool:
    complete = (entry / "metadata.json").is_file()
    return complete and not entry.is_symlink() and entry.stat().st_mtime < cutoff


def prune_builds(root: Path, older_than_days: float, now: float, pruner: Pruner) -> None:
    builds, cutoff = root / "builds", now - older_than_days * DAY
    by_arch: dict[str | None, list[Path]] = {}
    for entry in sorted(builds.iterdir()) if builds.is_dir() else []:
        if entry.name.endswith(".partial"):
            pruner.skip(entry, "a build being stored (or an interrupted one): left alone")
        elif entry.is_dir() and not (entry / "metadata.json").is_file():
            pruner.skip(entry, "no metadata.json (incomplete): left alone")
        elif entry.is_dir() and _old_complete(entry, cutoff):
            by_arch.setdefault(_build_arch(entry), []).append(entry)
    for arch, entries in by_arch.items():
        with locks_free(slot_locks(root, arch), create=False) as held:
            for entry in entries:
                if held is not None:
                    pruner.skip(entry,
                                f"a {arch or 'kernel'} build is running (lock {held} is held)")
                elif _old_complete(entry, cutoff):       # checked again under the locks
                    pruner.remove(entry)


def prune_handler(args: argparse.Namespace) -> int:
    root = existing_root()
    pruner = Pruner(args.dry_run)
    prune_images(root, args.keep, pruner)
    prune_builds(root, args.older_than, time.time(), pruner)
    print(pruner.summary())
    return 0

