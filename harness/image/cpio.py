"""Deterministic newc ("070701") cpio archives, the format the kernel unpacks as initramfs.

Entries are sorted by path, every parent directory is present, owners are root, mtimes
are fixed and inode numbers sequential, so equal content gives byte-identical archives.
Archives end with the TRAILER!!! entry and are padded to 512 bytes: the kernel accepts
several archives concatenated one after another (base image + per-run overlay).
"""

from __future__ import annotations

import stat
from collections.abc import Iterable
from dataclasses import dataclass

from harness.errors import UserError

MAGIC = b"070701"
TRAILER = "TRAILER!!!"
HEADER_LEN = 110
BLOCK = 512
MTIME = 0


@dataclass(frozen=True)
class Entry:
    """One archive member. `name` is relative ("etc/passwd"); `mode` includes the type bits."""

    name: str
    mode: int
    data: bytes = b""
    rdev: tuple[int, int] = (0, 0)

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)

    @property
    def is_symlink(self) -> bool:
        return stat.S_ISLNK(self.mode)

    @property
    def is_file(self) -> bool:
        return stat.S_ISREG(self.mode)


def norm(path: str) -> str:
    """'/usr/bin/x' and './usr/bin/x' -> 'usr/bin/x'; rejects '..' and empty names."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise UserError(f"bad path in image: {path!r}", "must be a non-empty path without '..'")
    return "/".join(parts)


def directory(name: str, perm: int = 0o755) -> Entry:
    return Entry(norm(name), stat.S_IFDIR | perm)


def file(name: str, data: bytes, perm: int = 0o644) -> Entry:
    return Entry(norm(name), stat.S_IFREG | perm, data)


def symlink(name: str, target: str) -> Entry:
    return Entry(norm(name), stat.S_IFLNK | 0o777, target.encode())


def chardev(name: str, major: int, minor: int, perm: int = 0o600) -> Entry:
    return Entry(norm(name), stat.S_IFCHR | perm, rdev=(major, minor))


def _pad4(n: int) -> int:
    return (4 - n % 4) % 4


def _header(ino: int, entry: Entry, namesize: int) -> bytes:
    nlink = 2 if entry.is_dir else 1
    fields = (ino, entry.mode, 0, 0, nlink, MTIME, len(entry.data), 0, 0,
              entry.rdev[0], entry.rdev[1], namesize, 0)
    return MAGIC + b"".join(b"%08X" % f for f in fields)


def _member(ino: int, entry: Entry) -> bytes:
    name = entry.name.encode() + b"\0"
    head = _header(ino, entry, len(name)) + name
    head += b"\0" * _pad4(len(head))
    return head + entry.data + b"\0" * _pad4(len(entry.data))


def with_parents(entries: Iterable[Entry]) -> list[Entry]:
    """Entries sorted by name, plus a 0755 directory for every missing parent.

    A later entry for the same name replaces an earlier one.
    """
    by_name = {e.name: e for e in entries}
    for name in list(by_name):
        parts = name.split("/")
        for i in range(1, len(parts)):
            by_name.setdefault("/".join(parts[:i]), directory("/".join(parts[:i])))
    return [by_name[n] for n in sorted(by_name)]


def pack(entries: Iterable[Entry]) -> bytes:
    """A complete newc archive (with trailer, padded to 512 bytes)."""
    chunks = [_member(ino, e) for ino, e in enumerate(with_parents(entries), start=1)]
    chunks.append(_member(0, Entry(TRAILER, 0)))
    out = b"".join(chunks)
    return out + b"\0" * ((BLOCK - len(out) % BLOCK) % BLOCK)


def unpack(data: bytes) -> list[Entry]:
    """Parse one or several concatenated newc archives (zero padding between them allowed)."""
    entries: list[Entry] = []
    pos = 0
    while pos < len(data):
        if data[pos:pos + 4] == b"\0\0\0\0":
            pos += 4
            continue
        entry, pos = _parse_member(data, pos)
        if entry.name != TRAILER:
            entries.append(entry)
    return entries


def _parse_member(data: bytes, pos: int) -> tuple[Entry, int]:
    if pos % 4 or data[pos:pos + 6] != MAGIC:
        raise UserError(f"not a newc cpio archive at offset {pos}", repr(data[pos:pos + 6]))
    f = [int(data[pos + 6 + 8 * i:pos + 14 + 8 * i], 16) for i in range(13)]
    mode, size, rmaj, rmin, namesize = f[1], f[6], f[9], f[10], f[11]
    name_at = pos + HEADER_LEN
    name = data[name_at:name_at + namesize - 1].decode()
    body_at = name_at + namesize + _pad4(HEADER_LEN + namesize)
    body = data[body_at:body_at + size]
    return Entry(name, mode, body, (rmaj, rmin)), body_at + size + _pad4(size)
