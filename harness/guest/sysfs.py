"""Apply a THP/mTHP knob set (harness.guest.knobs.KnobSet) to a guest's sysfs: read every knob in
one command, write in a safe order, read back, restore.

Write order (ThpKnobs.apply, also used to restore), from the stores in the source:
 1. khugepaged thresholds (max_ptes_*, pages_to_scan, khugepaged/defrag): plain
    variables read at scan time, set before any size is enabled so khugepaged never
    scans under a half-applied configuration;
 2. fault-time globals (defrag, use_zero_page, shrink_underused, shmem_enabled,
    per-size shmem_enabled);
 3. anon policies, narrowing first: every write of "never" (per-size, then global)
    before any other policy write, so the set of enabled orders never exceeds
    old | new (each such store calls start_stop_khugepaged());
 4. other per-size ``enabled`` values, then the global ``enabled`` (it drives every
    "inherit" size at once);
 5. alloc_sleep_millisecs, scan_sleep_millisecs last: their store wakes khugepaged
    (khugepaged_sleep_expire = 0), so the first scan uses the complete new config
    instead of waiting out the old sleep (default 10 s).
Knobs must be applied *before* the workload maps memory: khugepaged registers an mm
(khugepaged_enter_vma) only while some order is enabled. Guests with < 512 MB RAM boot
with enabled=never and defrag=never (hugepage_init), so set ``enabled`` explicitly.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from harness.errors import HarnessBug, InfrastructureError, KernelFailure, UserError
from harness.guest.knobs import (
    BRACKET_RE,
    PATHS,
    PTES,
    THP_ROOT,
    GuestLike,
    KnobSet,
    ThpLayout,
    size_label,
)

log = logging.getLogger("harness")


@dataclass(frozen=True)
class Snapshot:
    values: tuple[tuple[str, str], ...]       # (path relative to THP_ROOT, value)


@dataclass(frozen=True)
class Applied:
    knobset: KnobSet
    layout: ThpLayout
    before: Snapshot
    values: Mapping[str, str]                 # what was written and verified


def read_tree(guest: GuestLike, timeout: float = 60.0) -> dict[str, str]:
    """Every file under THP_ROOT in one command: {relative path: first line}."""
    res = guest.run(["grep", "-rHs", "", THP_ROOT], timeout=timeout)
    if res.exit_code not in (0, 1) or not res.stdout.strip():
        raise InfrastructureError(f"cannot read {THP_ROOT} in the guest",
                                  (res.stderr or "no output").strip()[-300:],
                                  "is CONFIG_TRANSPARENT_HUGEPAGE set? is grep in the image?")
    tree: dict[str, str] = {}
    for line in res.stdout.splitlines():
        path, sep, value = line.partition(":")
        if sep and path.startswith(THP_ROOT + "/"):
            tree.setdefault(path[len(THP_ROOT) + 1:], value.strip())
    return tree


def knob_value(raw: str) -> str:
    """ "always [madvise] never" -> "madvise"; "511" -> "511"."""
    m = BRACKET_RE.search(raw)
    return m.group(1) if m else raw.strip()


def layout_from_tree(tree: Mapping[str, str]) -> ThpLayout:
    sizes: dict[str, set[int]] = {"enabled": set(), "shmem_enabled": set()}
    for path in tree:
        m = re.match(r"^hugepages-(\d+)kB/(enabled|shmem_enabled)$", path)
        if m:
            sizes[m.group(2)].add(int(m.group(1)))
    anon = tuple(sorted(sizes["enabled"]))
    pmd = int(tree.get("hpage_pmd_size", "0") or 0)
    # THP_ORDERS_ALL_ANON starts at order 2, so the smallest anon size is 4 pages.
    page = anon[0] * 1024 // 4 if anon else int((8 * pmd) ** 0.5)
    files = frozenset(p for p in tree if "/stats/" not in p)
    return ThpLayout(page_size=page or 4096, pmd_size=pmd or 512 * (page or 4096),
                     anon_kb=anon, shmem_kb=tuple(sorted(sizes["shmem_enabled"])), files=files)


def _writable(path: str) -> bool:
    return path in PATHS.values() or bool(
        re.match(r"^hugepages-\d+kB/(enabled|shmem_enabled)$", path))


def _missing(what: str, ks: KnobSet, have: Sequence[int], layout: ThpLayout) -> UserError:
    labels = ", ".join(size_label(k) for k in have) or "none"
    return UserError(f"knob set {ks.name!r}: the guest has no {what}",
                     f"guest {what.split()[0]} sizes: {labels} (page size {layout.page_size})",
                     "pick sizes the guest's arch/page size offers (or PMD)")


# anon mTHP sizes of some supported base page size: 16K (order 2 of 4K) .. 512M (the PMD
# of 64K pages). A set naming one of them that this guest lacks is not meaningful here.
PORTABLE_KB = (16, 512 << 10)


def unavailable(ks: KnobSet, layout: ThpLayout) -> str | None:
    """Why `ks` cannot run on this guest's page size (None: it can): a size that exists
    only with other base pages (64K with 64K pages is order 0), or a max_ptes_* value
    above this guest's HPAGE_PMD_NR - 1. Anything else wrong stays an error (targets)."""
    page = f"{layout.page_size // 1024}K pages"
    for key, have, kind in (("sizes", layout.anon_kb, "an anonymous"),
                            ("shmem_sizes", layout.shmem_kb, "a shmem")):
        for label, _ in getattr(ks, key):
            kb = layout.resolve_kb(label)
            if kb not in have and PORTABLE_KB[0] <= kb <= PORTABLE_KB[1]:
                sizes = ", ".join(size_label(k) for k in have) or "none"
                return (f"knob set {ks.name!r}: {size_label(kb)} is not {kind} THP size with "
                        f"{page} (this guest's: {sizes}; write orderN or PMD to follow "
                        "the page size)")
    for key in PTES:
        value = getattr(ks, key)
        if value not in (None, "max") and int(value) > layout.max_ptes_limit:
            return (f"knob set {ks.name!r}: {key}={value} is above HPAGE_PMD_NR - 1 = "
                    f"{layout.max_ptes_limit} with {page} (write max to follow the page size)")
    return None


def targets(ks: KnobSet, layout: ThpLayout) -> dict[str, str]:
    """Knob paths -> values to write (validated against the guest's layout)."""
    out: dict[str, str] = {}
    if ks.other_sizes is not None:
        out.update({f"hugepages-{kb}kB/enabled": ks.other_sizes for kb in layout.anon_kb})
    for key, have, kind in (("sizes", layout.anon_kb, "enabled"),
                            ("shmem_sizes", layout.shmem_kb, "shmem_enabled")):
        for label, policy in getattr(ks, key):
            kb = layout.resolve_kb(label)
            if kb not in have:
                raise _missing(f"{'anon' if key == 'sizes' else 'shmem'} THP size "
                               f"{size_label(kb)}", ks, have, layout)
            out[f"hugepages-{kb}kB/{kind}"] = policy
    for key, path in PATHS.items():
        value = getattr(ks, key)
        if value is None:
            continue
        if path not in layout.files:
            raise UserError(f"knob set {ks.name!r}: the guest kernel has no {THP_ROOT}/{path}")
        if key in PTES:
            value = layout.max_ptes_limit if value == "max" else value
            if int(value) > layout.max_ptes_limit:
                raise UserError(f"knob set {ks.name!r}: {key}={value} exceeds "
                                f"HPAGE_PMD_NR-1 = {layout.max_ptes_limit} on this guest")
        out[path] = str(value)
    return out


def _phase(path: str, value: str) -> int:
    if path in ("khugepaged/scan_sleep_millisecs", "khugepaged/alloc_sleep_millisecs"):
        return 5
    if path.startswith("khugepaged/"):
        return 0
    policy = path == "enabled" or path.endswith("/enabled")
    if not policy:
        return 1
    if value == "never":
        return 2
    return 4 if path == "enabled" else 3


def _sort_key(item: tuple[str, str]) -> tuple[int, int, int, str]:
    path, value = item
    m = re.match(r"^hugepages-(\d+)kB/", path)
    return (_phase(path, value), 1 if path == "enabled" else 0,
            int(m.group(1)) if m else 0, path)


def write_plan(current: Mapping[str, str], wanted: Mapping[str, str]) -> list[tuple[str, str]]:
    """The writes needed to go from current to wanted, in a safe order (see module doc)."""
    changes = [(p, v) for p, v in wanted.items() if current.get(p) != v]
    return sorted(changes, key=_sort_key)


# Writes PATH=VALUE arguments in order; on the first refused write prints it and fails.
_BATCH_SCRIPT = ('for kv; do p=${kv%%=*}; v=${kv#*=}; '
                 'printf "%s\\n" "$v" > "$p" || { echo "$v to $p"; exit 1; }; done')


class ThpKnobs:
    """Apply, verify and restore THP knobs in one guest."""

    def __init__(self, guest: GuestLike, timeout: float = 60.0, batch: bool = False) -> None:
        """batch=True: each apply/restore writes its whole plan in one guest command
        (same order; read back once by the verify step) instead of one command plus a
        read-back per file: ~2N fewer SSH round trips, which matters under TCG."""
        self.guest = guest
        self.timeout = timeout
        self.batch = batch
        self._layout: ThpLayout | None = None

    def current(self) -> dict[str, str]:
        tree = read_tree(self.guest, self.timeout)
        if self._layout is None:
            self._layout = layout_from_tree(tree)
        return {p: knob_value(v) for p, v in tree.items() if _writable(p)}

    def layout(self) -> ThpLayout:
        if self._layout is None:
            self.current()
        if not (self._layout is not None):
            raise HarnessBug("invariant failed: self._layout is not None")
        return self._layout

    def sizes(self) -> tuple[str, ...]:
        """Anon THP sizes the guest offers, e.g. ("16K", ..., "2M")."""
        return tuple(size_label(kb) for kb in self.layout().anon_kb)

    def snapshot(self) -> Snapshot:
        return Snapshot(tuple(sorted(self.current().items())))

    def apply(self, ks: KnobSet) -> Snapshot:
        """Write ks, read everything back, verify; returns the state before."""
        before = self.current()
        wanted = targets(ks, self.layout())
        snap = Snapshot(tuple(sorted(before.items())))
        try:
            self._write_all(write_plan(before, wanted), ks.name)
            self._verify(wanted, ks.name)
        except BaseException:
            try:
                self.restore(snap)      # undo a half-applied set; report the first error
            except Exception as e:  # noqa: BLE001 - the first error is the one to report
                log.warning("knobs: undoing %r after a failed apply also failed: %s",
                            ks.name, e)
            raise
        return snap

    def restore(self, snap: Snapshot) -> None:
        wanted = dict(snap.values)
        self._write_all(write_plan(self.current(), wanted), "restore")
        self._verify(wanted, "restore")

    def _write_all(self, plan: Sequence[tuple[str, str]], label: str) -> None:
        if self.batch:
            self._write_batch(plan, label)
            return
        for path, value in plan:
            log.debug("knobs[%s]: %s/%s <- %s", label, THP_ROOT, path, value)
            try:
                self.guest.write_sysfs(f"{THP_ROOT}/{path}", value)
            except (UserError, OSError) as e:   # the guest refused it (EINVAL, EBUSY ...);
                raise UserError(                # the rig or the kernel failing is not ours
                    f"knobs {label!r}: writing {value!r} to {THP_ROOT}/{path} failed",
                    str(e)) from e

    def _write_batch(self, plan: Sequence[tuple[str, str]], label: str) -> None:
        if not plan:
            return
        log.debug("knobs[%s]: %s", label, ", ".join(f"{p} <- {v}" for p, v in plan))
        res = self.guest.run(["sh", "-c", _BATCH_SCRIPT, "sh",
                              *(f"{THP_ROOT}/{p}={v}" for p, v in plan)], timeout=self.timeout)
        if res.exit_code != 0:
            failed = (res.stdout.strip().splitlines() or ["?"])[-1]
            raise UserError(f"knobs {label!r}: writing {failed} failed",
                            (res.stderr or f"exit {res.exit_code}").strip()[-300:])

    def _verify(self, wanted: Mapping[str, str], label: str) -> None:
        now = self.current()
        bad = [f"{p}: wrote {v!r}, reads {now.get(p)!r}" for p, v in wanted.items()
               if now.get(p) != v]
        if bad:
            raise KernelFailure(f"THP knobs {label!r} did not stick", "; ".join(bad))


@contextlib.contextmanager
def applied(guest: GuestLike, ks: KnobSet, timeout: float = 60.0) -> Iterator[Applied]:
    """Apply ks for the duration of the block; always restore the previous values.

    If the block fails, a failing restore (e.g. the guest died) is logged and the
    original exception propagates unchanged.
    """
    knobs = ThpKnobs(guest, timeout)
    before = knobs.apply(ks)
    info = Applied(ks, knobs.layout(), before, targets(ks, knobs.layout()))
    try:
        yield info
    except BaseException:
        try:
            knobs.restore(before)
        except Exception as e:  # noqa: BLE001 - never mask the test's own failure
            log.warning("knobs: restore after failure also failed: %s", e)
        raise
    knobs.restore(before)
