"""The config's `guest:` section: the machine guest_tests boot (pytest plugin, kharness run).

    guest:
      mem: 2G            # QEMU -m
      cpus: 2
      zram: 256M         # zram swap device set up by init (null: none)
      cmdline: [...]     # extra kernel command line
      numa_nodes: 2      # NUMA guest (0/absent: none)
      numa: emulated     # emulated (default): `numa=fake=N` on the command line, same
                         # machine (kernel needs NUMA_EMU: the `racers` fragment);
                         # machine: QEMU NUMA topology (x86_64 on q35, `numa` fragment)

Emulated nodes are the cheap way: no ACPI/PCI in the kernel (a ~25 % longer cold x86_64
build) and no q35 boot, on both archs (mm/numa_emulation.c serves x86 and arm64 alike).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.errors import UserError

KEYS = ("mem", "cpus", "zram", "cmdline", "numa_nodes", "numa")
NUMA_MODES = ("emulated", "machine")
MEM_RE = re.compile(r"\d+\s*[MmGg]?")                 # what harness.machine.qemu.mem_mib reads
ZRAM_RE = re.compile(r"\d+[KkMmGg]?(,[A-Za-z0-9_-]+)?")  # SIZE[,ALG] (the guest init's zram=)


@dataclass(frozen=True)
class GuestSettings:
    mem: str = "1G"
    cpus: int = 2
    zram: str | None = "256M"
    cmdline: tuple[str, ...] = ()
    numa_nodes: int = 0
    numa: str = "emulated"

    @property
    def machine_numa_nodes(self) -> int:
        """Nodes QEMU describes (the VM's numa_nodes): only in `machine` mode."""
        return self.numa_nodes if self.numa == "machine" else 0

    @property
    def kernel_cmdline(self) -> tuple[str, ...]:
        """The user's command line plus `numa=fake=N` for emulated nodes."""
        emulated = self.numa_nodes and self.numa == "emulated"
        fake = (f"numa=fake={self.numa_nodes}",) if emulated else ()
        return self.cmdline + fake


def _int(value: Any, key: str, where: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UserError(f"{where}: guest {key} must be an integer >= {minimum}, not {value!r}",
                        "", f"write a whole number >= {minimum} for guest.{key}")
    return value


def _mem(value: Any, where: str) -> str:
    text = str(value).strip()
    if isinstance(value, bool) or not MEM_RE.fullmatch(text) or int(re.sub(r"\D", "", text)) == 0:
        raise UserError(f"{where}: guest mem {value!r} is not a memory size",
                        "QEMU -m takes MiB or a number with an M or G suffix",
                        "write e.g. mem: 512M or mem: 2G")
    return text


def _zram(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not ZRAM_RE.fullmatch(str(value).strip()):
        raise UserError(f"{where}: guest zram {value!r} is not a zram size",
                        "the guest's zram swap takes SIZE[,ALGORITHM]",
                        "write e.g. zram: 256M, zram: 256M,lzo, or zram: null for none")
    return str(value).strip()


def _cmdline(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(value.split())
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        raise UserError(f"{where}: guest cmdline {value!r} is not a command line",
                        "it takes a string or a list of arguments",
                        "write e.g. cmdline: [quiet, loglevel=7]")
    return tuple(str(v) for v in value)


def parse(section: Any, where: str = "config") -> GuestSettings:
    """Validated settings from a `guest:` mapping (None: the defaults)."""
    if section is not None and not isinstance(section, Mapping):
        raise UserError(f"{where}: guest must be a mapping, not {section!r}", "",
                        "write e.g. guest: {mem: 2G, cpus: 2}")
    data = dict(section or {})
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise UserError(f"{where}: unknown guest key {', '.join(unknown)}",
                        f"known: {', '.join(KEYS)}", "fix the guest section")
    mem = _mem(data.get("mem", "1G"), where)
    cpus = _int(data.get("cpus", 2), "cpus", where, 1)
    numa = str(data.get("numa", "emulated"))
    if numa not in NUMA_MODES:
        raise UserError(f"{where}: guest numa must be {' or '.join(NUMA_MODES)}, not {numa!r}",
                        "", "fix guest.numa")
    nodes = _int(data.get("numa_nodes", 0), "numa_nodes", where, 0)
    if nodes == 1:
        raise UserError(f"{where}: guest numa_nodes 1 is not a NUMA guest", "",
                        "use 0 (no NUMA) or 2 and more")
    return GuestSettings(mem=mem, cpus=cpus, zram=_zram(data.get("zram", "256M"), where),
                         cmdline=_cmdline(data.get("cmdline"), where), numa_nodes=nodes,
                         numa=numa)
