"""harness.guest.knobs against a fake guest whose sysfs is a temporary directory tree."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from harness.errors import InfrastructureError, KernelFailure, UserError
from harness.guest import knobs
from harness.guest import sysfs as thpsysfs
from harness.guest.knobs import KnobSet, boot_cmdline, expand_matrix, parse_knobsets
from harness.guest.sysfs import ThpKnobs, applied

ROOT = knobs.THP_ROOT
PTES_KNOBS = ("max_ptes_none", "max_ptes_swap", "max_ptes_shared")


@dataclass(frozen=True)
class Result:
    exit_code: int
    stdout: str
    stderr: str = ""
    duration: float = 0.0


@dataclass
class FakeGuest:
    """Guest whose absolute paths live under `base`; sysfs writes behave like the kernel."""
    base: Path
    writes: list[tuple[str, str]] = field(default_factory=list)
    commands: dict[str, Callable[[Sequence[str]], Result]] = field(default_factory=dict)
    argvs: list[list[str]] = field(default_factory=list)
    frozen: set[str] = field(default_factory=set)       # paths that ignore writes
    reject: set[str] = field(default_factory=set)       # paths whose writes fail

    def host(self, path: str) -> Path:
        return self.base / path.lstrip("/")

    def run(self, argv: Sequence[str], timeout: float, check: bool = False) -> Result:
        self.argvs.append(list(argv))
        if argv[0] == "grep":
            return self._grep([a for a in argv[3:]])
        return self.commands[argv[0]](argv)

    def _grep(self, paths: Sequence[str]) -> Result:
        lines = []
        for p in paths:
            host = self.host(p)
            files = [host] if host.is_file() else sorted(f for f in host.rglob("*") if f.is_file())
            for f in files:
                guest_path = "/" + str(f.relative_to(self.base))
                lines += [f"{guest_path}:{line}" for line in f.read_text().splitlines()]
        return Result(0 if lines else 1, "\n".join(lines) + "\n")

    def read_file(self, path: str) -> str:
        return self.host(path).read_text()

    def write_sysfs(self, path: str, value: str) -> None:
        host = self.host(path)
        if path[len(ROOT) + 1:] in self.reject:
            raise OSError(22, "Invalid argument")
        old = host.read_text().strip()
        name = path.rsplit("/", 1)[-1]
        if "[" in old:
            words = old.replace("[", "").replace("]", "").split()
            if value not in words:
                raise OSError(22, f"Invalid argument: {value}")
            new = " ".join(f"[{w}]" if w == value else w for w in words)
        elif name in ("full_scans", "pages_collapsed", "hpage_pmd_size") or "/stats/" in path:
            raise PermissionError(13, "read-only")
        else:
            if not re.fullmatch(r"\d+", value):
                raise OSError(22, "Invalid argument")
            limit = {"use_zero_page": 1, "defrag": 1, "shrink_underused": 1}.get(name)
            if name in PTES_KNOBS:
                limit = int(self.host(ROOT + "/hpage_pmd_size").read_text()) // 4096 - 1
            if (limit is not None and int(value) > limit) or (name == "pages_to_scan" and
                                                              value == "0"):
                raise OSError(22, "Invalid argument")
            new = value
        self.writes.append((path[len(ROOT) + 1:], value))
        if path[len(ROOT) + 1:] not in self.frozen:
            host.write_text(new + "\n")

    def tree(self) -> dict[str, str]:
        root = self.host(ROOT)
        return {str(f.relative_to(root)): f.read_text() for f in root.rglob("*") if f.is_file()}


def _w(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


def make_tree(base: Path, page_kb: int = 4, pmd_order: int = 9,
              file_orders: Sequence[int] | None = None) -> FakeGuest:
    """A /sys/kernel/mm/transparent_hugepage like a 7.2 kernel's (defaults of hugepage_init)."""
    root = base / ROOT.lstrip("/")
    _w(root / "enabled", "always [madvise] never")
    _w(root / "defrag", "always defer defer+madvise [madvise] never")
    _w(root / "shmem_enabled", "always within_size advise [never] deny force")
    _w(root / "use_zero_page", "1")
    _w(root / "shrink_underused", "1")
    _w(root / "hpage_pmd_size", str(page_kb * 1024 << pmd_order))
    for name, value in (("defrag", 1), ("max_ptes_none", (1 << pmd_order) - 1),
                        ("max_ptes_swap", 64), ("max_ptes_shared", 256),
                        ("pages_to_scan", 4096), ("pages_collapsed", 0), ("full_scans", 0),
                        ("scan_sleep_millisecs", 10000), ("alloc_sleep_millisecs", 60000)):
        _w(root / "khugepaged" / name, str(value))
    files = set(range(1, pmd_order + 1) if file_orders is None else file_orders)
    for order in sorted(set(range(2, pmd_order + 1)) | files):
        d = root / f"hugepages-{page_kb << order}kB"
        pmd = order == pmd_order
        if order >= 2:
            _w(d / "enabled", "always [inherit] madvise never" if pmd
               else "always inherit madvise [never]")
            for stat in ("anon_fault_alloc", "collapse_exceed_none_pte", "nr_anon"):
                _w(d / "stats" / stat, "0")
        if order in files:
            _w(d / "shmem_enabled", "always [inherit] within_size advise never" if pmd
               else "always inherit within_size advise [never]")
        for stat in ("collapse_alloc", "collapse_alloc_failed", "split"):
            _w(d / "stats" / stat, "0")
    _w(base / "proc" / "vmstat", "nr_free_pages 1000\nthp_fault_alloc 3\nthp_collapse_alloc 1\n"
       "pswpout 0\ncompact_stall 0\nnr_anon_transparent_hugepages 2")
    return FakeGuest(base)


@pytest.fixture
def guest(tmp_path: Path) -> FakeGuest:
    return make_tree(tmp_path)


# ---------------------------------------------------------------- YAML

def test_matrix_naming_example() -> None:
    sets = expand_matrix({"sizes": ["64K"], "max_ptes_none": [0, 511]})
    assert [s.name for s in sets] == ["64K-none0", "64K-none511"]
    assert sets[0].sizes == (("64K", "madvise"),) and sets[0].other_sizes == "never"
    assert sets[1].max_ptes_none == 511


def test_matrix_axes_in_canonical_order_and_fixed_scalars_unnamed() -> None:
    spec = yaml.safe_load("""
        name: sparse
        scan_sleep_millisecs: 100
        max_ptes_none: [0, max]
        sizes: ["64K:always+2M:inherit", [16K, 32K], {128K: never}, []]
        enabled: [madvise]
    """)
    sets = expand_matrix(spec)
    names = [s.name for s in sets]
    assert names[:2] == ["sparse-64K.always+2M.inherit-thp.madvise-none0",
                         "sparse-64K.always+2M.inherit-thp.madvise-nonemax"]
    assert "sparse-16K+32K-thp.madvise-none0" in names
    assert "sparse-128K.never-thp.madvise-nonemax" in names
    assert "sparse-nosizes-thp.madvise-none0" in names
    assert len(sets) == 8 and all(s.scan_sleep_millisecs == 100 for s in sets)


def test_parse_list_of_specs_and_defaults() -> None:
    sets = parse_knobsets([{"name": "a", "sizes": "64K"}, {"name": "b", "use_zero_page": False}],
                          "plan.yaml")
    assert [s.name for s in sets] == ["a", "b"]
    assert sets[0].sizes == (("64K", "madvise"),) and sets[1].use_zero_page == 0
    assert sets[1].other_sizes is None            # no sizes given: leave sizes alone
    assert parse_knobsets(None, "x.yaml") == [KnobSet()]


@pytest.mark.parametrize("spec, needle", [
    ({"enabled": "sometimes"}, "plan.yaml: knobs.enabled"),
    ({"enabled": False}, "quote it"),
    ({"sizes": ["48K"]}, "plan.yaml: knobs.sizes[0]"),
    ({"sizes": ["64K:maybe"]}, "sizes policy"),
    ({"max_ptes_none": [0, -1]}, "knobs.max_ptes_none[1]"),
    ({"max_ptes_swap": "lots"}, "max_ptes_swap"),
    ({"pages_to_scan": 0}, "pages_to_scan"),
    ({"use_zero_page": 2}, "use_zero_page"),
    ({"max_ptes_nones": 0}, "unknown knob 'max_ptes_nones'"),
    ({"defrag": []}, "empty list"),
])
def test_invalid_values_name_file_and_key(spec: dict[str, object], needle: str) -> None:
    with pytest.raises(UserError) as e:
        parse_knobsets(spec, "plan.yaml")
    assert needle in str(e.value)


def test_duplicate_names_rejected() -> None:
    with pytest.raises(UserError, match="two knob sets are named '64K'"):
        parse_knobsets([{"sizes": ["64K"]}, {"sizes": ["64K"]}], "p.yaml")


def test_size_labels() -> None:
    assert knobs.parse_size_kb("2048K", "x") == 2048 and knobs.size_label(2048) == "2M"
    assert knobs.parse_size_kb("64kB", "x") == 64 and knobs.parse_size_kb("pmd", "x") is None
    assert knobs.size_label(524288) == "512M" and knobs.size_label(96) == "96K"


# ------------------------------------------------------- apply / restore

def test_layout_discovery_x86(guest: FakeGuest) -> None:
    k = ThpKnobs(guest)
    assert k.sizes() == ("16K", "32K", "64K", "128K", "256K", "512K", "1M", "2M")  # not 8K
    lay = k.layout()
    assert (lay.page_size, lay.pmd_size, lay.max_ptes_limit) == (4096, 2 << 20, 511)
    assert 8 in lay.shmem_kb and lay.order(64) == 4


def test_layout_discovery_arm64_64k(tmp_path: Path) -> None:
    g = make_tree(tmp_path, page_kb=64, pmd_order=13)
    k = ThpKnobs(g)
    assert k.sizes()[0] == "256K" and k.sizes()[-1] == "512M"
    assert k.layout().page_size == 65536 and k.layout().max_ptes_limit == 8191


def test_apply_verify_restore_roundtrip(guest: FakeGuest) -> None:
    original = guest.tree()
    ks = expand_matrix({"sizes": ["64K"], "max_ptes_none": 0, "enabled": "never",
                        "scan_sleep_millisecs": 100, "defrag": "defer"})[0]
    k = ThpKnobs(guest)
    snap = k.apply(ks)
    now = k.current()
    assert now["hugepages-64kB/enabled"] == "madvise"
    assert now["hugepages-2048kB/enabled"] == "never"           # other_sizes default
    assert now["khugepaged/max_ptes_none"] == "0" and now["enabled"] == "never"
    k.restore(snap)
    assert guest.tree() == original


def test_write_order_follows_the_source(guest: FakeGuest) -> None:
    ks = KnobSet(sizes=(("64K", "always"), ("PMD", "inherit")), other_sizes="never",
                 enabled="always", max_ptes_none=0, scan_sleep_millisecs=100,
                 alloc_sleep_millisecs=1000, use_zero_page=0)
    guest.write_sysfs(ROOT + "/hugepages-32kB/enabled", "always")    # to be narrowed
    guest.writes.clear()
    ThpKnobs(guest).apply(ks)
    order = [p for p, _ in guest.writes]
    pos = {p: i for i, p in enumerate(order)}
    assert pos["khugepaged/max_ptes_none"] < pos["use_zero_page"] < pos["hugepages-64kB/enabled"]
    nevers = [i for i, (p, v) in enumerate(guest.writes) if v == "never"]
    assert [guest.writes[i][0] for i in nevers] == ["hugepages-32kB/enabled"]
    assert max(nevers) < pos["hugepages-64kB/enabled"] < pos["enabled"]
    assert order[-2:] == ["khugepaged/alloc_sleep_millisecs", "khugepaged/scan_sleep_millisecs"]
    assert "hugepages-2048kB/enabled" not in order              # already inherit: no write


def test_missing_size_and_shmem_only_size(guest: FakeGuest) -> None:
    k = ThpKnobs(guest)
    with pytest.raises(UserError, match="no anon THP size 4M") as e:
        k.apply(KnobSet(name="big", sizes=(("4M", "madvise"),)))
    assert "16K" in str(e.value)
    with pytest.raises(UserError, match="no anon THP size 8K"):
        k.apply(KnobSet(sizes=(("8K", "madvise"),)))
    assert guest.writes == []


def test_max_ptes_limits_depend_on_guest(tmp_path: Path, guest: FakeGuest) -> None:
    with pytest.raises(UserError, match="exceeds HPAGE_PMD_NR-1 = 511"):
        ThpKnobs(guest).apply(KnobSet(max_ptes_none=600))
    g64 = make_tree(tmp_path / "arm64", page_kb=64, pmd_order=13)
    assert thpsysfs.targets(KnobSet(max_ptes_none="max"), ThpKnobs(g64).layout()) == {
        "khugepaged/max_ptes_none": "8191"}


def test_kernel_rejection_is_user_error_and_rolls_back(guest: FakeGuest) -> None:
    original = guest.tree()
    guest.reject.add("khugepaged/pages_to_scan")          # e.g. the kernel returns EINVAL
    ks = KnobSet(max_ptes_none=0, pages_to_scan=100, sizes=(("64K", "always"),),
                 other_sizes="never")
    with pytest.raises(UserError, match="writing '100' to .*pages_to_scan failed"):
        ThpKnobs(guest).apply(ks)
    assert ("khugepaged/max_ptes_none", "0") in guest.writes    # written, then rolled back
    assert guest.tree() == original


@pytest.mark.parametrize("error", [InfrastructureError("ssh: connection lost"),
                                   KernelFailure("guest crashed"), TypeError("a harness bug")])
def test_only_a_refused_value_becomes_a_user_error(guest: FakeGuest,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  error: Exception) -> None:
    """The rig breaking, the guest dying or a bug in the harness keeps its own type: none
    of them is the user's knob value."""
    def broken(path: str, value: str) -> None:
        raise error
    monkeypatch.setattr(guest, "write_sysfs", broken)
    with pytest.raises(type(error)) as e:
        ThpKnobs(guest).apply(KnobSet(pages_to_scan=100))
    assert e.value is error


def test_value_that_does_not_stick_is_a_finding(guest: FakeGuest) -> None:
    guest.frozen.add("khugepaged/max_ptes_none")
    with pytest.raises(KernelFailure, match="max_ptes_none: wrote '0', reads '511'"):
        ThpKnobs(guest).apply(KnobSet(max_ptes_none=0))


def test_applied_restores_and_never_masks_the_test_error(guest: FakeGuest) -> None:
    original = guest.tree()
    with applied(guest, KnobSet(sizes=(("64K", "madvise"),), other_sizes="never")) as info:
        assert info.values["hugepages-64kB/enabled"] == "madvise"
        assert guest.tree() != original
    assert guest.tree() == original

    class Boom(Exception):
        pass

    with pytest.raises(Boom), applied(guest, KnobSet(max_ptes_none=0)):
        os.remove(guest.host(ROOT + "/khugepaged/max_ptes_none"))  # restore will fail
        raise Boom()


# -------------------------------------------------------------- boot args

def test_thp_anon_matches_transhuge_rst_example(guest: FakeGuest) -> None:
    ks = KnobSet(sizes=(("16K", "always"), ("32K", "always"), ("64K", "always"),
                        ("128K", "inherit"), ("512K", "inherit"), ("256K", "madvise"),
                        ("1M", "never"), ("2M", "never")), enabled="madvise")
    assert boot_cmdline(ks) == (
        "transparent_hugepage=madvise",
        "thp_anon=16K-64K:always;128K,512K:inherit;256K:madvise;1M-2M:never")


def test_boot_cmdline_layout_dependent_parts(guest: FakeGuest) -> None:
    lay = ThpKnobs(guest).layout()
    ks = expand_matrix({"sizes": ["64K+PMD:inherit"], "other_sizes": "madvise"})[0]
    with pytest.raises(UserError):
        boot_cmdline(ks)
    assert boot_cmdline(ks, lay) == ("thp_anon=16K-1M:madvise;2M:inherit",)
    assert boot_cmdline(KnobSet(sizes=(), other_sizes="never"), lay) == ("thp_anon=2M:never",)
    assert boot_cmdline(KnobSet(shmem_sizes=(("64K", "always"),), shmem_enabled="advise")) == (
        "transparent_hugepage_shmem=advise", "thp_shmem=64K:always")


# -------------------------------------------------- other base page sizes

@pytest.mark.parametrize("page_kb,pmd_order,want", [
    (4, 9, {"hugepages-16kB/enabled": "madvise", "hugepages-64kB/enabled": "madvise",
            "hugepages-2048kB/enabled": "madvise"}),
    (16, 11, {"hugepages-64kB/enabled": "madvise", "hugepages-256kB/enabled": "madvise",
              "hugepages-32768kB/enabled": "madvise"}),
    (64, 13, {"hugepages-256kB/enabled": "madvise", "hugepages-1024kB/enabled": "madvise",
              "hugepages-524288kB/enabled": "madvise"})])
def test_order_sizes_follow_the_page_size(tmp_path: Path, page_kb: int, pmd_order: int,
                                          want: dict[str, str]) -> None:
    ks = expand_matrix({"name": "o", "sizes": "order2+order4+PMD", "max_ptes_none": "max"})[0]
    assert ks.sizes == (("order2", "madvise"), ("order4", "madvise"), ("PMD", "madvise"))
    lay = ThpKnobs(make_tree(tmp_path, page_kb=page_kb, pmd_order=pmd_order)).layout()
    got = thpsysfs.targets(ks, lay)
    assert {k: v for k, v in got.items() if v == "madvise"} == want
    assert got["khugepaged/max_ptes_none"] == str((1 << pmd_order) - 1)
    first, second, pmd = (page_kb << o for o in (2, 4, pmd_order))
    label = knobs.size_label
    assert boot_cmdline(ks, lay) == (
        f"thp_anon={label(first)},{label(second)},{label(pmd)}:madvise",)
    assert thpsysfs.unavailable(ks, lay) is None


def test_order_below_two_is_rejected() -> None:
    with pytest.raises(UserError, match="order 'order1' out of range"):
        expand_matrix({"sizes": "order1"})


def test_sizes_of_other_page_sizes_skip_with_a_reason(tmp_path: Path, guest: FakeGuest) -> None:
    g64 = ThpKnobs(make_tree(tmp_path / "a64", page_kb=64, pmd_order=13)).layout()
    g16 = ThpKnobs(make_tree(tmp_path / "a16", page_kb=16, pmd_order=11)).layout()
    mthp64 = parse_knobsets({"name": "mthp", "sizes": ["64K"], "max_ptes_none": [0, 511]},
                            "q.yaml")
    why = thpsysfs.unavailable(mthp64[0], g64)
    assert why and "64K is not an anonymous THP size with 64K pages" in why and "256K" in why
    assert thpsysfs.unavailable(mthp64[1], g16) is None      # 511: an intermediate value
    assert thpsysfs.unavailable(mthp64[1], ThpKnobs(guest).layout()) is None
    big = KnobSet(name="big", sizes=(("32M", "madvise"),))   # the PMD of 16K pages
    assert "32M is not an anonymous THP size with 4K pages" in str(
        thpsysfs.unavailable(big, ThpKnobs(guest).layout()))
    assert thpsysfs.unavailable(big, g16) is None
    # 64K pages: shmem/file folios stop at MAX_PAGECACHE_ORDER (11: 128M), below the 512M PMD
    g64f = ThpKnobs(make_tree(tmp_path / "a64f", page_kb=64, pmd_order=13,
                              file_orders=range(1, 12))).layout()
    shm = KnobSet(name="shmem", shmem_sizes=(("PMD", "advise"),))
    assert "512M is not a shmem THP size with 64K pages" in str(thpsysfs.unavailable(shm, g64f))
    assert thpsysfs.unavailable(shm, g16) is None
    over = thpsysfs.unavailable(KnobSet(name="n", max_ptes_none=2047), ThpKnobs(guest).layout())
    assert over and "above HPAGE_PMD_NR - 1 = 511 with 4K pages" in over
    # not a size of any base page (order 1 at 4K): an error, not a skip
    assert thpsysfs.unavailable(KnobSet(sizes=(("8K", "madvise"),)), ThpKnobs(guest).layout()) \
        is None
