"""Just enough ELF: machine, interpreter and DT_NEEDED of a binary (any arch, any endianness),
and busybox's applet table. The initramfs builder follows these to collect shared libraries."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass


@dataclass(frozen=True)
class Elf:
    machine: int
    interp: str | None
    needed: tuple[str, ...]


def parse_elf(data: bytes) -> Elf | None:
    """Machine, PT_INTERP and DT_NEEDED of an ELF file (any arch/endianness); None if not ELF."""
    if data[:4] != b"\x7fELF" or len(data) < 64:
        return None
    is64, end = data[4] == 2, "<" if data[5] == 1 else ">"
    machine = struct.unpack_from(end + "H", data, 18)[0]
    phoff, phentsize, phnum = (struct.unpack_from(end + "Q", data, 32)[0],
                               *struct.unpack_from(end + "HH", data, 54)) if is64 else \
        (struct.unpack_from(end + "I", data, 28)[0], *struct.unpack_from(end + "HH", data, 42))
    fmt = end + ("IIQQQQQQ" if is64 else "IIIIIIII")
    segs = []
    for i in range(phnum):
        f = struct.unpack_from(fmt, data, phoff + i * phentsize)
        # (type, offset, vaddr, filesz) for both layouts
        segs.append((f[0], f[2], f[3], f[5]) if is64 else (f[0], f[1], f[2], f[4]))
    interp = next((data[o:o + n].rstrip(b"\0").decode() for t, o, _v, n in segs if t == 3), None)
    return Elf(machine, interp, _needed(data, segs, end, is64))


def _needed(data: bytes, segs: list[tuple[int, int, int, int]], end: str,
            is64: bool) -> tuple[str, ...]:
    dyn = next(((o, n) for t, o, _v, n in segs if t == 2), None)
    if dyn is None:
        return ()
    fmt = end + ("qQ" if is64 else "iI")
    entries = list(struct.iter_unpack(fmt, data[dyn[0]:dyn[0] + dyn[1]]))
    strtab = next((v for tag, v in entries if tag == 5), None)
    if strtab is None:
        return ()
    base = next(o + strtab - v for t, o, v, n in segs if t == 1 and v <= strtab < v + n)
    out = []
    for tag, val in entries:
        if tag == 0:
            break
        if tag == 1:
            start = base + val
            out.append(data[start:data.index(b"\0", start)].decode())
    return tuple(out)


def busybox_applets(data: bytes) -> list[str]:
    """Applet names from a busybox binary's sorted name table ("[\\0[[\\0acpid\\0...")."""
    start = data.find(b"[\0[[\0")
    if start < 0:
        return []
    table = data[start:data.index(b"\0\0", start)]
    return [n.decode() for n in table.split(b"\0") if re.fullmatch(rb"[\w.\-\[]+", n)]
