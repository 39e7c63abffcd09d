"""THP/mTHP knobs: a typed model, YAML matrices, validation, boot args.

Knobs (under /sys/kernel/mm/transparent_hugepage, mm/huge_memory.c + mm/khugepaged.c):
global ``enabled`` ``defrag`` ``shmem_enabled`` ``use_zero_page`` ``shrink_underused``;
per size ``hugepages-<kB>kB/enabled`` (anon: always|inherit|madvise|never) and
``hugepages-<kB>kB/shmem_enabled``; ``khugepaged/`` max_ptes_none, max_ptes_swap,
max_ptes_shared, pages_to_scan, scan_sleep_millisecs, alloc_sleep_millisecs, defrag
(YAML key ``khugepaged_defrag``). Sizes are discovered in the guest: an *anon* size is
a hugepages-* directory with an ``enabled`` file (orders 2..PMD); directories with only
``shmem_enabled`` (e.g. 8kB, order 1) are file/shmem-only.

YAML: a mapping (or a list of mappings) of knob keys. A key given as a *list* is a
matrix axis; a scalar is fixed for every set. Sizes: "64K", "2M", "PMD", or an order
"order4" (16 base pages: 64K with 4K pages, 256K with 16K, 1M with 64K), with an
optional policy "64K:always" (default madvise); "64K+2M" or a list/mapping enables
several at once. When ``sizes`` is given, unlisted anon sizes are set to
``other_sizes`` (default never). ``max_ptes_*`` accept ``max`` (HPAGE_PMD_NR - 1).

Other base page sizes (arm64 16K/64K): "PMD", "orderN" and ``max`` follow the guest;
byte sizes and numbers are literal. A set naming a size the guest does not have (64K
with 64K pages: order 0) is skipped by the tests, saying so (thpsysfs.unavailable); a
number such as max_ptes_none 511 stays 511 (with 16K pages an intermediate value, which
mTHP collapse treats as 0): write ``max`` for "HPAGE_PMD_NR - 1 at any page size".

Naming (stable, documented): ``[name-]`` + one token per axis, in the fixed order of
AXES below, joined by "-". Tokens: sizes "64K" / "64K+2M" / "64K.always" (policy
suffix unless madvise) / "nosizes"; shmem_sizes "shm.64K"; other_sizes "other.inherit";
enabled "thp.always"; defrag "defrag.defer"; shmem_enabled "shmem.advise"; use_zero_page
"zero0"; shrink_underused "shrink0"; max_ptes_none "none0"/"nonemax"; max_ptes_swap
"swap64"; max_ptes_shared "shared0"; pages_to_scan "scan4096"; scan_sleep_millisecs
"sleep100"; alloc_sleep_millisecs "asleep60000"; khugepaged_defrag "kdefrag1".
``{sizes: [64K], max_ptes_none: [0, 511]}`` -> ``64K-none0``, ``64K-none511``.

Applying a set to a guest (read, write in a safe order, verify, restore): harness.guest.sysfs.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Protocol

from harness.errors import UserError

log = logging.getLogger("harness")

THP_ROOT = "/sys/kernel/mm/transparent_hugepage"

CHOICES: dict[str, tuple[str, ...]] = {
    "enabled": ("always", "madvise", "never"),
    "defrag": ("always", "defer", "defer+madvise", "madvise", "never"),
    "shmem_enabled": ("always", "within_size", "advise", "never", "deny", "force"),
    "size": ("always", "inherit", "madvise", "never"),
    "shmem_size": ("always", "inherit", "within_size", "advise", "never"),
}
FLAGS = ("use_zero_page", "shrink_underused", "khugepaged_defrag")
PTES = ("max_ptes_none", "max_ptes_swap", "max_ptes_shared")
KHUGEPAGED_INTS = PTES + ("pages_to_scan", "scan_sleep_millisecs", "alloc_sleep_millisecs")
AXES = ("sizes", "shmem_sizes", "other_sizes", "enabled", "defrag", "shmem_enabled",
        "use_zero_page", "shrink_underused") + KHUGEPAGED_INTS + ("khugepaged_defrag",)
TOKENS = {"other_sizes": "other.", "enabled": "thp.", "defrag": "defrag.",
          "shmem_enabled": "shmem.", "use_zero_page": "zero", "shrink_underused": "shrink",
          "max_ptes_none": "none", "max_ptes_swap": "swap", "max_ptes_shared": "shared",
          "pages_to_scan": "scan", "scan_sleep_millisecs": "sleep",
          "alloc_sleep_millisecs": "asleep", "khugepaged_defrag": "kdefrag"}
PATHS = {"use_zero_page": "use_zero_page", "shrink_underused": "shrink_underused",
         "khugepaged_defrag": "khugepaged/defrag", "enabled": "enabled",
         "defrag": "defrag", "shmem_enabled": "shmem_enabled",
         **{k: f"khugepaged/{k}" for k in KHUGEPAGED_INTS}}
SIZE_RE = re.compile(r"^(\d+)\s*([KMG])(?:i?B)?$", re.IGNORECASE)
ORDER_RE = re.compile(r"^order(\d+)$", re.IGNORECASE)
BRACKET_RE = re.compile(r"\[([^\]]+)\]")
SizeSpec = tuple[tuple[str, str], ...]          # ((label, policy), ...)
SIZE_FIX = "write a power of two from 8K up to the PMD size (16K, 64K, 2M) or PMD"


class CommandResultLike(Protocol):
    @property
    def exit_code(self) -> int: ...
    @property
    def stdout(self) -> str: ...
    @property
    def stderr(self) -> str: ...
    @property
    def duration(self) -> float: ...


class GuestLike(Protocol):
    """What knobs/counters/workloads need from harness.guest.ssh.Guest."""

    def run(self, argv: Sequence[str], timeout: float,
            check: bool = False) -> CommandResultLike: ...
    def read_file(self, path: str) -> str: ...
    def write_sysfs(self, path: str, value: str) -> None: ...


@dataclass(frozen=True)
class KnobSet:
    """One knob configuration; None = leave the guest's value alone."""
    name: str = "default"
    sizes: SizeSpec = ()
    shmem_sizes: SizeSpec = ()
    other_sizes: str | None = None
    enabled: str | None = None
    defrag: str | None = None
    shmem_enabled: str | None = None
    use_zero_page: int | None = None
    shrink_underused: int | None = None
    max_ptes_none: int | str | None = None
    max_ptes_swap: int | str | None = None
    max_ptes_shared: int | str | None = None
    pages_to_scan: int | None = None
    scan_sleep_millisecs: int | None = None
    alloc_sleep_millisecs: int | None = None
    khugepaged_defrag: int | None = None


@dataclass(frozen=True)
class ThpLayout:
    """What the guest offers (discovered, never hard-coded)."""
    page_size: int
    pmd_size: int
    anon_kb: tuple[int, ...]
    shmem_kb: tuple[int, ...]
    files: frozenset[str]                     # knob paths relative to THP_ROOT

    @property
    def max_ptes_limit(self) -> int:          # KHUGEPAGED_MAX_PTES_LIMIT
        return self.pmd_size // self.page_size - 1

    def resolve_kb(self, label: str) -> int:
        """ "64K" -> 64, "PMD" -> the PMD size, "order4" -> 16 pages (in kB)."""
        if m := ORDER_RE.match(label.strip()):
            return (self.page_size << int(m.group(1))) // 1024
        kb = parse_size_kb(label, "size")
        return self.pmd_size // 1024 if kb is None else kb

    def order(self, kb: int) -> int:
        return (kb * 1024 // self.page_size).bit_length() - 1


# ---------------------------------------------------------------- sizes

def parse_size_kb(text: str, where: str) -> int | None:
    """ "64K" -> 64, "2M" -> 2048, "PMD" and "order4" -> None (resolved per guest)."""
    if text.strip().upper() == "PMD":
        return None
    if m := ORDER_RE.match(text.strip()):
        if not 2 <= int(m.group(1)) <= 20:
            raise UserError(f"{where}: THP order {text!r} out of range",
                            "anonymous mTHP orders start at 2")
        return None
    m = SIZE_RE.match(text.strip())
    if not m:
        raise UserError(f"{where}: bad THP size {text!r}", "expected e.g. 64K, 2M or PMD",
                        SIZE_FIX)
    kb = int(m.group(1)) << {"K": 0, "M": 10, "G": 20}[m.group(2).upper()]
    if kb < 8 or kb & (kb - 1):
        raise UserError(f"{where}: THP size {text!r} is not a power of two >= 8K", "",
                        SIZE_FIX)
    return kb


def size_label(kb: int) -> str:
    for unit, shift in (("G", 20), ("M", 10)):
        if kb % (1 << shift) == 0:
            return f"{kb >> shift}{unit}"
    return f"{kb}K"


def _norm_label(text: str, where: str) -> str:
    kb = parse_size_kb(text, where)
    if kb is not None:
        return size_label(kb)
    return "PMD" if text.strip().upper() == "PMD" else text.strip().lower()


def _size_items(value: Any, where: str) -> SizeSpec:
    """One sizes element: "64K", "64K:always+2M", [..], {64K: always} -> ((label, pol),)."""
    if isinstance(value, Mapping):
        items = [f"{k}:{v}" for k, v in value.items()]
    elif isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    elif isinstance(value, str):
        items = [p for p in value.split("+") if p.strip()] if value.strip() else []
    else:
        raise UserError(f"{where}: bad sizes entry {value!r}", "use e.g. 64K, 64K:always, 64K+2M")
    out = []
    for item in items:
        label, _, policy = item.partition(":")
        out.append((_norm_label(label, where), policy.strip() or "madvise"))
    return tuple(out)


# ---------------------------------------------------------- validation

def _check_choice(key: str, value: Any, choices: Sequence[str], where: str) -> str:
    if not isinstance(value, str) or value not in choices:
        hint = (" (quote it: YAML reads on/off/yes/no as booleans)"
                if isinstance(value, bool) else "")
        raise UserError(f"{where}: {key}={value!r} is not allowed{hint}",
                        f"allowed: {', '.join(choices)}")
    return value


def _check_int(key: str, value: Any, where: str, ptes_limit: int | None) -> int | str:
    if key in FLAGS:
        if isinstance(value, bool):
            return int(value)
        if value in (0, 1):
            return int(value)
        raise UserError(f"{where}: {key}={value!r}", "allowed: 0, 1")
    if key in PTES and value == "max":
        return "max"
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UserError(f"{where}: {key}={value!r} is not a non-negative integer",
                        "max_ptes_* also accept 'max'" if key in PTES else "")
    if key == "pages_to_scan" and value == 0:
        raise UserError(f"{where}: pages_to_scan must be >= 1")
    if key in PTES and ptes_limit is not None and value > ptes_limit:
        raise UserError(f"{where}: {key}={value} is above {ptes_limit}",
                        "the largest HPAGE_PMD_NR - 1 the config's archs allow",
                        "use a value up to it, or 'max' for HPAGE_PMD_NR - 1 of the guest")
    return value


def _check_value(key: str, value: Any, where: str, ptes_limit: int | None = None) -> Any:
    if key in ("sizes", "shmem_sizes"):
        items = _size_items(value, where)
        kind = "size" if key == "sizes" else "shmem_size"
        for _, policy in items:
            _check_choice(f"{key} policy", policy, CHOICES[kind], where)
        return items
    if key == "other_sizes":
        return _check_choice(key, value, CHOICES["size"], where)
    if key in CHOICES:
        return _check_choice(key, value, CHOICES[key], where)
    return _check_int(key, value, where, ptes_limit)


def _token(key: str, value: Any) -> str:
    if key in ("sizes", "shmem_sizes"):
        body = "+".join(lbl + ("" if pol == "madvise" else f".{pol}") for lbl, pol in value)
        body = body or "nosizes"
        return body if key == "sizes" else f"shm.{body}"
    return f"{TOKENS[key]}{value}"


# ---------------------------------------------------------------- YAML

def expand_matrix(spec: Mapping[str, Any], source: str = "<knobs>",
                  where: str = "knobs", ptes_limit: int | None = None) -> list[KnobSet]:
    """Expand one mapping into knob sets (lists are axes, scalars fixed).

    ptes_limit: the largest max_ptes_* accepted (None: checked in the guest only)."""
    if not isinstance(spec, Mapping):
        raise UserError(f"{source}: {where} must be a mapping of knob: value(s)")
    unknown = sorted(set(spec) - set(AXES) - {"name"})
    if unknown:
        raise UserError(f"{source}: {where}: unknown knob {unknown[0]!r}",
                        f"known: name, {', '.join(AXES)}")
    prefix = str(spec.get("name", ""))
    fixed: dict[str, Any] = {}
    axes: list[tuple[str, list[Any]]] = []
    for key in (k for k in AXES if k in spec):
        raw = spec[key]
        if isinstance(raw, list):
            if not raw:
                raise UserError(f"{source}: {where}.{key} is an empty list")
            axes.append((key, [_check_value(key, v, f"{source}: {where}.{key}[{i}]", ptes_limit)
                               for i, v in enumerate(raw)]))
        else:
            fixed[key] = _check_value(key, raw, f"{source}: {where}.{key}", ptes_limit)
    if ("sizes" in fixed or any(k == "sizes" for k, _ in axes)) and "other_sizes" not in spec:
        fixed["other_sizes"] = "never"
    out = []
    for combo in itertools.product(*(vals for _, vals in axes)):
        chosen = dict(zip((k for k, _ in axes), combo, strict=False))
        tokens = [prefix] if prefix else []
        tokens += [_token(k, v) for k, v in chosen.items()]
        out.append(KnobSet(name="-".join(tokens) or "default", **fixed, **chosen))
    return out


def parse_knobsets(yaml_obj: Any, source: str, ptes_limit: int | None = None) -> list[KnobSet]:
    """The ``knobs`` section: a mapping or a list of mappings -> uniquely named sets."""
    if yaml_obj is None:
        return [KnobSet()]
    specs = yaml_obj if isinstance(yaml_obj, list) else [yaml_obj]
    sets: list[KnobSet] = []
    for i, spec in enumerate(specs):
        where = f"knobs[{i}]" if isinstance(yaml_obj, list) else "knobs"
        sets += expand_matrix(spec, source, where, ptes_limit)
    seen: set[str] = set()
    for ks in sets:
        if ks.name in seen:
            raise UserError(f"{source}: knobs: two knob sets are named {ks.name!r}",
                            fix="give each list entry a distinct 'name:'")
        seen.add(ks.name)
    return sets


# ------------------------------------------------------------- boot args

def _anon_param(items: Sequence[tuple[int, str]]) -> str:
    """[(kb, policy)] -> "16K-64K:always;128K,512K:inherit" (ranges of doubling sizes)."""
    groups: dict[str, list[int]] = {}
    for kb, policy in sorted(items):
        groups.setdefault(policy, []).append(kb)
    parts = []
    for policy, kbs in groups.items():
        runs: list[list[int]] = []
        for kb in kbs:
            if runs and kb == 2 * runs[-1][-1]:
                runs[-1].append(kb)
            else:
                runs.append([kb])
        spans = [size_label(r[0]) if len(r) == 1 else f"{size_label(r[0])}-{size_label(r[-1])}"
                 for r in runs]
        parts.append(f"{','.join(spans)}:{policy}")
    return ";".join(parts)


def _boot_sizes(ks: KnobSet, key: str, layout: ThpLayout | None) -> list[tuple[int, str]]:
    items: dict[int, str] = {}
    if key == "sizes" and ks.other_sizes not in (None, "never"):
        if layout is None:
            raise UserError(f"knob set {ks.name!r}: other_sizes={ks.other_sizes} needs the "
                            "guest's size list", fix="pass the discovered ThpLayout")
        items.update({kb: ks.other_sizes for kb in layout.anon_kb if ks.other_sizes})
    for label, policy in getattr(ks, key):
        kb = parse_size_kb(label, ks.name)
        if kb is None:
            if layout is None:
                raise UserError(f"knob set {ks.name!r}: {label} needs the guest's layout")
            kb = layout.resolve_kb(label)
        items[kb] = policy
    if not items and key == "sizes" and ks.other_sizes == "never" and layout is not None:
        items[layout.pmd_size // 1024] = "never"
    return sorted(items.items())


def boot_cmdline(ks: KnobSet, layout: ThpLayout | None = None) -> tuple[str, ...]:
    """Kernel command-line arguments for the boot-time part of ks.

    transparent_hugepage= (global enabled), transparent_hugepage_shmem=, thp_anon=,
    thp_shmem= (format of Documentation/admin-guide/mm/transhuge.rst). khugepaged
    tunables have no boot parameter: apply them at runtime. With thp_anon= every anon
    size not listed is "never" at boot.
    """
    args = []
    if ks.enabled is not None:
        args.append(f"transparent_hugepage={ks.enabled}")
    if ks.shmem_enabled is not None:
        args.append(f"transparent_hugepage_shmem={ks.shmem_enabled}")
    for key, param in (("sizes", "thp_anon"), ("shmem_sizes", "thp_shmem")):
        items = _boot_sizes(ks, key, layout)
        if items:
            args.append(f"{param}={_anon_param(items)}")
    return tuple(args)


def describe(ks: KnobSet) -> dict[str, object]:
    """The set knobs of ks as a plain dict (for reports and metadata)."""
    return {f.name: getattr(ks, f.name) for f in fields(ks)
            if getattr(ks, f.name) not in (None, ())}
