"""Host-side control of the guest workloads (guest_tests/workloads/thpwork/).

    with applied(guest, knobset):
        w = start_populate(guest, "64M", "first:50%")     # held in the guest
        series = wait_full_scans(guest, 3, 60, scale, pid=w.pid)
        c = census(guest, w)                              # order -> base pages
        stop(guest, w)

thpwork prints one JSON object per line, each with an "event" key; exit codes are
mirrored in EXIT_*. A held workload is driven with `thpwork ctl --pid P CMD` (one SSH
command per operation). The pattern language (per PMD-sized block of the region) is
mirrored by harness.guest.pattern.Pattern so tests can compute expectations and YAML can be checked
before any VM boots.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from harness.errors import InfrastructureError, KernelFailure, UserError
from harness.guest.counters import WorkloadGone
from harness.guest.knobs import CommandResultLike, GuestLike, size_label

THPWORK = "thpwork"
EXIT_OK, EXIT_FINDING, EXIT_USAGE, EXIT_ENV, EXIT_TIMEOUT, EXIT_GONE = range(6)


class Uploader(Protocol):
    def put(self, src: Path | bytes, remote: str, mode: int | None = None) -> None: ...


class SelftestGuest(GuestLike, Uploader, Protocol):
    """A guest that can also receive files (harness.guest.ssh.Guest)."""


# ------------------------------------------------------- typed results

@dataclass(frozen=True)
class Region:
    pid: int
    addr: int
    len: int
    page_size: int
    pmd_size: int

    @property
    def pages(self) -> int:
        return self.len // self.page_size

    @property
    def ptes_per_pmd(self) -> int:
        return self.pmd_size // self.page_size


@dataclass(frozen=True)
class RunningWorkload:
    region: Region
    argv: tuple[str, ...]
    events: tuple[Mapping[str, Any], ...]       # start-up events, in order
    binary: str = THPWORK

    @property
    def pid(self) -> int:
        return self.region.pid

    @property
    def populated(self) -> int:
        return sum(int(e["pages"]) for e in self.events if e.get("event") == "populate")

    def event(self, name: str) -> Mapping[str, Any] | None:
        return next((e for e in self.events if e.get("event") == name), None)


def _orders(obj: Mapping[str, Any] | None) -> dict[int, int]:
    return {int(k): int(v) for k, v in (obj or {}).items()}


@dataclass(frozen=True, eq=False)
class Census(Mapping[int, int]):
    """Folio-order census of a region: census[order] = base pages mapped at that order.

    Zero-page mappings (`zero`), empty ptes (`none`) and swap entries (`swapped`) are
    not in the mapping. `folios`/`misaligned`/`partial` count folios per order.
    """
    orders: Mapping[int, int]
    pages: int
    present: int
    none: int
    swapped: int
    zero: int
    shared: int
    page_size: int
    pmd_size: int
    anon_huge_kb: int = -1
    folios: Mapping[int, int] = field(default_factory=dict)
    misaligned: Mapping[int, int] = field(default_factory=dict)
    partial: Mapping[int, int] = field(default_factory=dict)
    pmds: tuple[Mapping[int, int], ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict)

    def __getitem__(self, order: int) -> int:
        return self.orders[order]

    def __iter__(self) -> Iterator[int]:
        return iter(sorted(self.orders))

    def __len__(self) -> int:
        return len(self.orders)

    def at_least(self, order: int) -> int:
        """Base pages backed by folios of this order or larger."""
        return sum(n for o, n in self.orders.items() if o >= order)

    def by_size(self) -> dict[str, int]:
        """{"64K": pages, ...} (order 0 is the base page size)."""
        return {size_label((self.page_size << o) // 1024): n for o, n in sorted(self.items())}

    @classmethod
    def from_event(cls, ev: Mapping[str, Any]) -> Census:
        keys = ("pages", "present", "none", "swapped", "zero", "shared", "page_size",
                "pmd_size", "anon_huge_kb")
        return cls(_orders(ev["orders"]), **{k: int(ev[k]) for k in keys},
                   folios=_orders(ev.get("folios")), misaligned=_orders(ev.get("misaligned")),
                   partial=_orders(ev.get("partial")),
                   pmds=tuple(_orders(p["orders"]) for p in ev.get("pmds", ())), raw=dict(ev))


@dataclass(frozen=True)
class StressResult:
    ops: Mapping[str, int]
    failed: Mapping[str, int]
    corruptions: int
    child_failures: int
    raw: Mapping[str, Any]


# ------------------------------------------------------------- running

def parse_events(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]


def _events(res: CommandResultLike, argv: Sequence[str]) -> list[dict[str, Any]]:
    """Events of a thpwork run; its exit code mapped to the error taxonomy."""
    events = parse_events(res.stdout)
    if res.exit_code == EXIT_OK:
        return events
    err: Mapping[str, Any] = next((e for e in reversed(events) if e.get("event") in (
        "error", "corruption", "verify")), {})
    why = str(err.get("msg") or err or (res.stderr or "").strip()[-300:])
    cmd = " ".join(argv)
    if res.exit_code == EXIT_FINDING:
        raise KernelFailure(f"data corruption seen by `{cmd}`", why)
    if res.exit_code == EXIT_USAGE:
        raise UserError(f"bad workload request `{cmd}`", why)
    if res.exit_code == EXIT_ENV:
        raise UserError(f"the guest cannot run `{cmd}`", why,
                        "enable the kernel feature it names (kconfig) or run as root")
    if res.exit_code == EXIT_GONE:
        raise WorkloadGone(f"`{cmd}`: {why}", [])
    raise InfrastructureError(f"`{cmd}` failed (exit {res.exit_code})", why,
                              "is thpwork in the guest image?")


def start(guest: GuestLike, sub: str, options: Sequence[str] = (), *,
          timeout: float = 120.0, binary: str = THPWORK) -> RunningWorkload:
    """Run `thpwork SUB OPTIONS --daemon`: returns once the region is set up and held."""
    argv = (binary, sub, *options, "--daemon")
    events = _events(guest.run(list(argv), timeout=timeout), argv)
    reg = next((e for e in events if e.get("event") == "region"), None)
    if reg is None:
        raise InfrastructureError(f"`{' '.join(argv)}` printed no region event")
    region = Region(int(reg["pid"]), int(reg["addr"]), int(reg["len"]), int(reg["page_size"]),
                    int(reg["pmd_size"]))
    return RunningWorkload(region, argv, tuple(events), binary)


def region_options(size: str | int = "8pmd", pattern: str = "full", *, pmds: str | None = None,
                   touch: str = "write", advise: str = "after", seed: int = 1,
                   split_to: int | None = None) -> list[str]:
    opts = ["--size", str(size), "--pattern", pattern, "--touch", touch, "--advise", advise,
            "--seed", str(seed)]
    opts += ["--pmds", pmds] if pmds else []
    return opts + (["--split-to", str(split_to)] if split_to is not None else [])


def start_populate(guest: GuestLike, size: str | int = "8pmd", pattern: str = "full",
                   **kw: Any) -> RunningWorkload:
    """Map size (whole PMDs), populate per pattern, MADV_HUGEPAGE (advise=after), hold."""
    timeout = kw.pop("timeout", 120.0)
    return start(guest, "populate", region_options(size, pattern, **kw), timeout=timeout)


def start_swapout(guest: GuestLike, size: str | int, pattern: str, pages: str,
                  **kw: Any) -> RunningWorkload:
    """As start_populate, MADV_PAGEOUT the `pages` pattern (needs swap: zram), then
    MADV_HUGEPAGE (advise=after), so khugepaged only ever sees the swapped-out layout."""
    timeout = kw.pop("timeout", 120.0)
    return start(guest, "swapout", [*region_options(size, pattern, **kw), "--pages", pages],
                 timeout=timeout)


def start_fork_share(guest: GuestLike, size: str | int, pattern: str,
                     child_writes: str | None = None, **kw: Any) -> RunningWorkload:
    """As start_populate, fork a child sharing the region (it may write some pages),
    then MADV_HUGEPAGE in both (advise=after): khugepaged sees the final sharing."""
    timeout = kw.pop("timeout", 120.0)
    extra = ["--child-writes", child_writes] if child_writes else []
    return start(guest, "fork-share", region_options(size, pattern, **kw) + extra,
                 timeout=timeout)


def start_split(guest: GuestLike, size: str | int, pattern: str, how: str, *,
                at: str | None = None, length: str | None = None,
                **kw: Any) -> RunningWorkload:
    """As start_populate, then split the VMA inside every PMD (mprotect|munmap|mremap|
    madvise) at offset `at` for `length` (defaults: 16 pages at the PMD's middle)."""
    timeout = kw.pop("timeout", 120.0)
    extra = ["--how", how] + (["--at", at] if at else []) + (["--len", length] if length else [])
    return start(guest, "split", region_options(size, pattern, **kw) + extra, timeout=timeout)


def ctl(guest: GuestLike, w: RunningWorkload, command: str, *args: str,
        timeout: float = 120.0) -> list[dict[str, Any]]:
    """Send one command to a held workload; its events."""
    argv = (w.binary, "ctl", "--pid", str(w.pid), "--timeout", f"{timeout:.0f}", command, *args)
    return _events(guest.run(list(argv), timeout=timeout + 30), argv)


def _one(events: Sequence[Mapping[str, Any]], name: str) -> dict[str, Any]:
    ev = next((e for e in events if e.get("event") == name), None)
    if ev is None:
        raise InfrastructureError(f"thpwork sent no {name!r} event", str(events)[-300:])
    return dict(ev)


def census(guest: GuestLike, w: RunningWorkload, detail: bool = False,
           timeout: float = 120.0) -> Census:
    """Folio-order census of the workload's region (computed in the guest, root)."""
    return Census.from_event(_one(ctl(guest, w, "census", *(["--detail"] if detail else []),
                                      timeout=timeout), "census"))


def census_of(guest: GuestLike, pid: int, addr: int, length: int, detail: bool = False,
              binary: str = THPWORK, timeout: float = 120.0) -> Census:
    """Census of any process's range (e.g. the kernel selftest's)."""
    argv = [binary, "census", "--pid", str(pid), "--addr", hex(addr), "--len", str(length)]
    argv += ["--detail"] if detail else []
    return Census.from_event(_one(_events(guest.run(argv, timeout=timeout), argv), "census"))


def populate(guest: GuestLike, w: RunningWorkload, pattern: str, pmds: str | None = None,
             touch: str = "write") -> dict[str, Any]:
    args = ["--pattern", pattern, "--touch", touch] + (["--pmds", pmds] if pmds else [])
    return _one(ctl(guest, w, "populate", *args), "populate")


def pageout(guest: GuestLike, w: RunningWorkload, pages: str) -> dict[str, Any]:
    """MADV_PAGEOUT the pattern; the event says how many pages ended up swapped."""
    return _one(ctl(guest, w, "pageout", "--pages", pages), "pageout")


def dontneed(guest: GuestLike, w: RunningWorkload, pages: str) -> dict[str, Any]:
    return _one(ctl(guest, w, "dontneed", "--pages", pages), "dontneed")


def collapse(guest: GuestLike, w: RunningWorkload, pmds: str | None = None) -> dict[str, Any]:
    """MADV_COLLAPSE each selected PMD (PMD-only in 7.2): {attempted, ok, errors}."""
    return _one(ctl(guest, w, "collapse", *(["--pmds", pmds] if pmds else [])), "collapse")


def split(guest: GuestLike, w: RunningWorkload, how: str, at: str | None = None,
          length: str | None = None, pmds: str | None = None) -> dict[str, Any]:
    """Split the VMA inside PMDs. mprotect leaves that range read-only: a later
    populate(touch="write") over it kills the holder (SIGSEGV)."""
    args = ["--how", how] + (["--at", at] if at else []) + (["--len", length] if length else [])
    return _one(ctl(guest, w, "split", *args, *(["--pmds", pmds] if pmds else [])), "split")


def shift(guest: GuestLike, w: RunningWorkload, by: str = "4K") -> RunningWorkload:
    """mremap the whole region to PMD alignment + by; returns the moved workload."""
    ev = _one(ctl(guest, w, "shift", "--by", by), "shift")
    return replace(w, region=replace(w.region, addr=int(ev["addr"])))


def fork(guest: GuestLike, w: RunningWorkload, child_writes: str | None = None) -> int:
    """Fork a child sharing the region (COW); returns its pid. unfork() ends it."""
    extra = ["--child-writes", child_writes] if child_writes else []
    return int(_one(ctl(guest, w, "fork", *extra), "fork")["child"])


def unfork(guest: GuestLike, w: RunningWorkload) -> None:
    ctl(guest, w, "unfork")


def split_folios(guest: GuestLike, w: RunningWorkload, order: int) -> dict[str, Any]:
    """Split the region's large folios to `order` (debugfs split_huge_pages)."""
    return _one(ctl(guest, w, "split-folios", "--order", str(order)), "split-folios")


def verify(guest: GuestLike, w: RunningWorkload) -> dict[str, Any]:
    """Check every written page still holds its tag (KernelFailure if not)."""
    return _one(ctl(guest, w, "verify"), "verify")


def stop(guest: GuestLike, w: RunningWorkload, timeout: float = 60.0) -> None:
    """End a held workload (and its fork child); already gone is fine."""
    with contextlib.suppress(WorkloadGone):
        ctl(guest, w, "exit", timeout=timeout)


@contextlib.contextmanager
def held(guest: GuestLike, w: RunningWorkload) -> Iterator[RunningWorkload]:
    """Stop w when the block ends; a failing stop never masks the block's error."""
    try:
        yield w
    except BaseException:
        with contextlib.suppress(Exception):
            stop(guest, w)
        raise
    stop(guest, w)


def run_stress(guest: GuestLike, seconds: float, threads: int, *, ops: Sequence[str] = (),
               slots: int = 0, slot_size: str | None = None, seed: int = 1,
               scale: float = 1.0, binary: str = THPWORK) -> StressResult:
    """`thpwork stress`: threads racing khugepaged; KernelFailure on data corruption."""
    argv = [binary, "stress", "--seconds", str(seconds), "--threads", str(threads),
            "--seed", str(seed)]
    argv += (["--ops", ",".join(ops)] if ops else []) + (["--slots", str(slots)] if slots else [])
    argv += ["--slot-size", slot_size] if slot_size else []
    ev = _one(_events(guest.run(argv, timeout=seconds + 120 * scale), argv), "stress")
    return StressResult(ev["ops"], ev["failed"], int(ev["corruptions"]),
                        int(ev["child_failures"]), ev)


def info(guest: GuestLike, binary: str = THPWORK) -> dict[str, Any]:
    argv = [binary, "info"]
    return _one(_events(guest.run(argv, timeout=60), argv), "info")


def setup_zram_swap(guest: GuestLike, size: str = "256M", device: str = "zram0",
                    binary: str = THPWORK) -> dict[str, Any]:
    """zram swap without mkswap/swapon binaries (idempotent; needs CONFIG_ZRAM, SWAP)."""
    argv = [binary, "zram-swap", "--size", size, "--device", device]
    return _one(_events(guest.run(argv, timeout=120), argv), "zram-swap")


def parse_ksft_totals(text: str) -> dict[str, int]:
    """ "# Totals: pass:5 fail:0 xfail:0 xpass:0 skip:1 error:0" -> {"pass": 5, ...}."""
    m = re.findall(r"# Totals: (.*)", text)
    return {k: int(v) for k, v in re.findall(r"(\w+):(\d+)", m[-1])} if m else {}


def run_selftest_khugepaged(guest: SelftestGuest, binary: Path, args: Sequence[str] = (),
                            timeout: float = 900.0,
                            remote: str = "/tmp/khugepaged",  # noqa: S108 (in the guest)
                            ) -> tuple[int, str, dict[str, int]]:
    """put() the selftest into the guest and run it: (exit code, output, ksft totals)."""
    guest.put(binary, remote, 0o755)
    res = guest.run([remote, *args], timeout=timeout)
    text = res.stdout + res.stderr
    return res.exit_code, text, parse_ksft_totals(text)
