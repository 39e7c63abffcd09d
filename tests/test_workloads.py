"""harness.guest.workloads and guest_tests/workloads/ (thpwork built and run on this host; every
binary built warning-free for both archs)."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from harness.errors import InfrastructureError, KernelFailure, UserError
from harness.guest import workloads as wl
from harness.guest.counters import WorkloadGone
from harness.guest.pattern import Pattern, parse_bytes, parse_ranges
from harness.guest.workloads import Census
from harness.image import guestbin
from tests.test_knobs import FakeGuest, Result

DATA = Path(__file__).parent / "data" / "census"
PM_PRESENT, PM_SWAP, PM_EXCL = 1 << 63, 1 << 62, 1 << 56
KPF_HEAD, KPF_TAIL, KPF_ANON, KPF_THP, KPF_ZERO = 1 << 15, 1 << 16, 1 << 12, 1 << 22, 1 << 24
CAN_CENSUS = os.geteuid() == 0 and os.access("/proc/kpageflags", os.R_OK)


@pytest.fixture(scope="module")
def thpwork(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("no gcc")
    return guestbin.build_workload("thpwork", tmp_path_factory.mktemp("bin") / "thpwork")


def host_guest(tmp_path: Path, binary: Path) -> FakeGuest:
    """A 'guest' that is this host: thpwork commands run the natively built binary."""
    g = FakeGuest(tmp_path)

    def run(argv: Sequence[str]) -> Result:
        p = subprocess.run([str(binary), *argv[1:]], check=False, capture_output=True,
                           text=True, timeout=120)
        return Result(p.returncode, p.stdout, p.stderr)

    g.commands["thpwork"] = run
    return g


# ------------------------------------------------------------ patterns

@pytest.mark.parametrize("spec, per_pmd", [
    ("full", 512), ("none", 0), ("half", 256), ("first:100", 100), ("last:10%", 51),
    ("first:64K", 16), ("every:4", 128), ("every:4:1", 128), ("every:8:510", 1),
    ("ptes:0-15,32,100-199", 117), ("chunks:64K:0,2,4-7", 96), ("first:10+last:10", 20),
])
def test_pattern_counts(spec: str, per_pmd: int) -> None:
    assert Pattern.parse(spec).count(4 * 512, 512) == 4 * per_pmd


def test_pattern_cycles_groups_and_selects_pmds() -> None:
    p = Pattern.parse("full|none|first:1")
    assert p.count(6 * 512, 512) == 2 * (512 + 0 + 1)
    assert p.count(6 * 512, 512, pmds="0,2-3") == 512 + 1 + 512
    assert Pattern.parse("half", page_size=65536, ptes=8192).count(8192, 8192) == 4096


@pytest.mark.parametrize("bad", ["", "fill", "first", "first:x", "ptes:3-1", "chunks:64K",
                                 "first:3K", "every:4:1:2"])
def test_pattern_rejects_junk(bad: str) -> None:
    with pytest.raises(UserError):
        Pattern.parse(bad)


def test_sizes_and_ranges() -> None:
    assert parse_bytes("64K") == 65536 and parse_bytes("4pmd", 2 << 20) == 8 << 20
    assert parse_ranges("0-3,7") == ((0, 3), (7, 7))
    with pytest.raises(UserError):
        parse_bytes("4pmd")


def test_c_and_python_patterns_agree(tmp_path: Path, thpwork: Path) -> None:
    for spec, pmds in [("random:37%:9|every:3:1", None), ("chunks:16K:1,5-9+last:7", "1-2"),
                       ("random:50%", "0,3"), ("first:12.5%|half", None),
                       ("chunks:16:0-3,8+ptes:300-301", None)]:   # SIZE in pages
        argv = ["--size", "4pmd", "--pattern", spec, "--advise", "none"]
        argv += ["--pmds", pmds] if pmds else []
        out = subprocess.run([thpwork, "populate", *argv], capture_output=True, text=True,
                             check=True).stdout
        (ev, reg) = [e for e in wl.parse_events(out) if e["event"] in ("populate", "region")]
        ptes = reg["pmd_size"] // reg["page_size"]
        p = Pattern.parse(spec, reg["page_size"], ptes)
        assert ev["pages"] == p.count(reg["len"] // reg["page_size"], ptes, pmds), spec


# -------------------------------------------------------------- census

def write_fixture(d: Path, addr: int, page: int, pmd: int, entries: Sequence[int],
                  flags: dict[int, int]) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "meta.txt").write_text(f"addr={addr}\nlen={len(entries) * page}\n"
                                f"page_size={page}\npmd_size={pmd}\n")
    (d / "pagemap.bin").write_bytes(b"".join(struct.pack("<Q", e) for e in entries))
    (d / "kpageflags.bin").write_bytes(b"".join(struct.pack("<QQ", p, f)
                                                for p, f in sorted(flags.items())))
    return d


def folio(flags: dict[int, int], head: int, order: int) -> None:
    flags[head] = KPF_HEAD | KPF_ANON | (KPF_THP if order else 0)
    for i in range(1, 1 << order):
        flags[head + i] = KPF_TAIL | KPF_ANON | KPF_THP


def load_census(binary: Path, d: Path, detail: bool = True) -> Census:
    argv = [str(binary), "census", "--load", str(d), *(["--detail"] if detail else [])]
    out = subprocess.run(argv,
                         capture_output=True, text=True, check=True).stdout
    return Census.from_event(wl.parse_events(out)[0])


def test_census_arithmetic_on_synthetic_pagemap(tmp_path: Path, thpwork: Path) -> None:
    pte = [0] * 512
    flags: dict[int, int] = {}
    present = PM_PRESENT | PM_EXCL
    folio(flags, 0x1000, 4)                       # pages 0-15: aligned 64K folio
    pte[0:16] = [present | (0x1000 + i) for i in range(16)]
    folio(flags, 0x2000, 4)                       # pages 20-35: 64K folio, misaligned VA
    pte[20:36] = [present | (0x2000 + i) for i in range(16)]
    folio(flags, 0x3000, 2)                       # pages 36-37: half of a 16K folio
    pte[36:38] = [present | 0x3000, present | 0x3001]
    folio(flags, 0x4000, 2)                       # pages 42-43: tail half (head not mapped)
    pte[42:44] = [present | 0x4002, present | 0x4003]
    flags[0x5000] = KPF_ZERO                      # pages 44-47: the shared zero page
    pte[44:48] = [PM_PRESENT | 0x5000] * 4
    pte[48:52] = [PM_SWAP | 0x77] * 4             # swap entries
    for i in range(4):                            # pages 52-55: shared order-0 pages
        flags[0x6000 + i] = KPF_ANON
        pte[52 + i] = PM_PRESENT | (0x6000 + i)
    folio(flags, 0x8000, 6)                       # pages 64-127: aligned 256K folio
    pte[64:128] = [present | (0x8000 + i) for i in range(64)]
    c = load_census(thpwork, write_fixture(tmp_path / "fx", 0x40000000, 4096, 2 << 20,
                                           pte, flags))
    assert c == {0: 4, 2: 4, 4: 32, 6: 64}
    assert (c.present, c.zero, c.swapped, c.shared, c.none) == (104, 4, 4, 4, 400)
    assert c.folios == {0: 4, 2: 2, 4: 2, 6: 1}
    assert c.misaligned == {4: 1} and c.partial == {2: 2}
    assert c.pmds == ({0: 4, 2: 4, 4: 32, 6: 64},)
    assert c.by_size() == {"4K": 4, "16K": 4, "64K": 32, "256K": 64} and c.at_least(4) == 96


def test_census_other_page_size(tmp_path: Path, thpwork: Path) -> None:
    flags: dict[int, int] = {}
    folio(flags, 0x100, 2)                        # 16K pages: order 2 = 64K
    pte = [PM_PRESENT | PM_EXCL | (0x100 + i) for i in range(4)] + [0] * 2044
    c = load_census(thpwork, write_fixture(tmp_path / "fx16", 32 << 20, 16384, 32 << 20,
                                           pte, flags), detail=False)
    assert c == {2: 4} and c.by_size() == {"64K": 4} and c.none == 2044


def test_census_recorded_on_host(thpwork: Path) -> None:
    """Recorded with thpwork on x86_64 6.18: PMD THPs, then a munmap hole in PMD 1,
    DONTNEED of 10 ptes in PMD 3, and `shift --by 4K` (every folio misaligned)."""
    c = load_census(thpwork, DATA / "host-x86_64-mixed")
    assert c == {9: 2022} and (c.none, c.present) == (26, 2022)
    assert c.folios == {9: 4} and c.misaligned == {9: 4} and c.partial == {9: 2}
    assert [p.get(9, 0) for p in c.pmds] == [511, 496, 512, 502, 1]


# ---------------------------------------------------- errors and typing

def test_exit_codes_map_to_the_taxonomy(tmp_path: Path) -> None:
    g = FakeGuest(tmp_path)
    for code, exc in [(1, KernelFailure), (2, UserError), (3, UserError),
                      (5, WorkloadGone), (127, InfrastructureError)]:
        def fail(argv: Sequence[str], c: int = code) -> Result:
            return Result(c, f'{{"event":"error","msg":"boom","code":{c}}}\n')
        g.commands["thpwork"] = fail
        with pytest.raises(exc, match="boom"):
            wl.info(g)


def test_census_is_a_mapping_of_order_to_pages() -> None:
    ev = {"event": "census", "orders": {"0": 3, "4": 16}, "pages": 32, "present": 19,
          "none": 13, "swapped": 0, "zero": 0, "shared": 0, "page_size": 4096,
          "pmd_size": 2097152, "anon_huge_kb": 0, "pmds": [{"orders": {"4": 16}}]}
    c = Census.from_event(ev)
    assert dict(c) == {0: 3, 4: 16} and c[4] == 16 and c.get(9, 0) == 0 and len(c) == 2
    assert c.pmds == ({4: 16},)


# -------------------------------------------------- on this host (root)

@pytest.mark.skipif(not CAN_CENSUS, reason="census needs root and /proc/kpageflags")
def test_populate_then_census_counts_every_populated_page(tmp_path: Path,
                                                          thpwork: Path) -> None:
    g = host_guest(tmp_path, thpwork)
    w = wl.start_populate(g, "4pmd", "first:100|every:3", advise="none")
    with wl.held(g, w):
        ptes = w.region.ptes_per_pmd
        expected = Pattern.parse("first:100|every:3", w.region.page_size, ptes)
        assert w.populated == expected.count(w.region.pages, ptes)
        c = wl.census(g, w, detail=True)
        assert sum(c.values()) == c.present == w.populated      # no THP without madvise
        assert c.none == w.region.pages - w.populated and c.zero == c.swapped == 0
        assert [sum(p.values()) for p in c.pmds] == [100, (ptes + 2) // 3] * 2
        assert wl.verify(g, w)["bad"] == 0
        child = wl.fork(g, w, child_writes="first:10")
        # the child's writes unshare the populated pages among ptes 0-9 of each PMD
        assert child > 0 and wl.census(g, w).shared == w.populated - (10 + 4) * 2
        wl.unfork(g, w)
        assert wl.collapse(g, w, pmds="0")["attempted"] == 1   # PMD-only; may fail: no knob
        assert wl.verify(g, w)["bad"] == 0
        moved = wl.shift(g, w, "8K")
        assert moved.region.addr % w.region.pmd_size == 8192
    with pytest.raises(WorkloadGone):
        wl.census(g, w)


@pytest.mark.skipif(not CAN_CENSUS, reason="census needs root and /proc/kpageflags")
def test_census_of_another_process(tmp_path: Path, thpwork: Path) -> None:
    g = host_guest(tmp_path, thpwork)
    w = wl.start_split(g, "2pmd", "full", "munmap", at="1M", length="64K", advise="none")
    with wl.held(g, w):
        c = wl.census_of(g, w.pid, w.region.addr, w.region.len)
        assert c.none == 2 * 16 and c.present == w.region.pages - 32


def test_stress_runs_clean_briefly(tmp_path: Path, thpwork: Path) -> None:
    g = host_guest(tmp_path, thpwork)
    r = wl.run_stress(g, 1.5, 2, slot_size="1M")
    assert r.corruptions == 0 and r.child_failures == 0 and sum(r.ops.values()) > 100


@pytest.mark.parametrize("name", ["thpwork", "thpracer", "thpfile"])
@pytest.mark.parametrize("cc", ["gcc", "aarch64-linux-gnu-gcc"])
def test_shipped_workloads_compile_without_warnings(tmp_path: Path, cc: str, name: str) -> None:
    """Each binary, lib/ linked in, compiles static for both archs with -Werror added."""
    if shutil.which(cc) is None:
        pytest.skip(f"no {cc}")
    units = guestbin.binaries(guestbin.workload_sources(guestbin.WORKLOAD_DIR))[name]
    out = tmp_path / name
    proc = subprocess.run([str(a) for a in (*guestbin.compile_argv(cc, units, out), "-Werror")],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr[-3000:]
    head = out.read_bytes()[:20]
    host = {"x86_64": 62, "aarch64": 183}[os.uname().machine]
    machine = 183 if cc.startswith("aarch64") else host    # EM_AARCH64 or the host's
    assert head[:4] == b"\x7fELF" and struct.unpack("<H", head[18:20])[0] == machine


def test_build_workload_names_an_unknown_binary(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no guest workload nosuch"):
        guestbin.build_workload("nosuch", tmp_path / "x")


# ------------------------------------------------------ kernel selftest

def test_selftest_sources_from_makefile(tmp_path: Path) -> None:
    mm = tmp_path / "mm"
    mm.mkdir()
    (mm / "Makefile").write_text("$(TEST_GEN_PROGS): vm_util.c thp_settings.c\n")
    (mm / "vm_util.c").write_text("")
    # fallback: the files present
    assert guestbin.selftest_sources(mm) == ["khugepaged.c", "vm_util.c"]
    (mm / "Makefile").write_text("$(TEST_GEN_FILES): vm_util.c thp_settings.c\n")
    assert guestbin.selftest_sources(mm) == ["khugepaged.c", "vm_util.c", "thp_settings.c"]


@pytest.fixture(scope="module")
def kernel_src() -> Path:
    """$KHARNESS_TEST_KERNEL_SRC, else the tools/ subset of the quickstart source (cached)."""
    if "KHARNESS_TEST_KERNEL_SRC" in os.environ:
        return Path(os.environ["KHARNESS_TEST_KERNEL_SRC"])
    from harness import config
    from harness.guest.support import selftest_tree
    from harness.sources import tree as source
    src = source.resolve(config.load(Path(__file__).parent.parent / "examples" /
                                     "quickstart.yaml").source)
    return selftest_tree(src.repo, src.base)


@pytest.mark.integration
@pytest.mark.parametrize("arch, machine", [("x86_64", 62), ("arm64", 183)])
def test_build_selftest_khugepaged(tmp_path: Path, arch: str, machine: int,
                                   kernel_src: Path) -> None:
    cc = "gcc" if arch == "x86_64" else "aarch64-linux-gnu-gcc"
    if shutil.which(cc) is None:
        pytest.skip(f"no {cc}")
    out = guestbin.build_selftest_khugepaged(kernel_src, arch, tmp_path / f"khugepaged-{arch}")
    head = out.read_bytes()[:20]
    assert struct.unpack("<H", head[18:20])[0] == machine
    if arch == "x86_64":
        p = subprocess.run([out, "-h"], check=False, capture_output=True, text=True)
        assert "Usage: ./khugepaged" in p.stderr


def test_ksft_totals() -> None:
    text = "ok 1 x\n# Totals: pass:12 fail:1 xfail:0 xpass:0 skip:3 error:0\n"
    assert wl.parse_ksft_totals(text) == {"pass": 12, "fail": 1, "xfail": 0, "xpass": 0,
                                          "skip": 3, "error": 0}
    assert wl.parse_ksft_totals("nothing") == {}


def test_a_folder_is_one_binary_a_lone_c_file_is_another(tmp_path: Path) -> None:
    (tmp_path / "multi").mkdir()
    for f in ("multi/main.c", "multi/part.c", "multi/part.h", "single.c"):
        (tmp_path / f).write_text("")
    srcs = guestbin.workload_sources(tmp_path)
    assert guestbin.binaries(srcs, tmp_path) == {
        "multi": [tmp_path / "multi/main.c", tmp_path / "multi/part.c"],
        "single": [tmp_path / "single.c"]}
    assert [s for s, _ in guestbin.workload_inputs_names(srcs, tmp_path)] == [
        "multi/main.c", "multi/part.c", "multi/part.h", "single.c"]


def test_lib_is_linked_into_every_binary_and_hashed(tmp_path: Path) -> None:
    for d in ("lib", "multi"):
        (tmp_path / d).mkdir()
    for f in ("lib/a.c", "lib/a.h", "lib/b.c", "multi/main.c", "single.c"):
        (tmp_path / f).write_text("")
    srcs = guestbin.workload_sources(tmp_path)
    lib = [tmp_path / "lib/a.c", tmp_path / "lib/b.c"]
    assert guestbin.binaries(srcs, tmp_path) == {"multi": [tmp_path / "multi/main.c", *lib],
                                                 "single": [tmp_path / "single.c", *lib]}
    assert [s for s, _ in guestbin.workload_inputs_names(srcs, tmp_path)] == [
        "lib/a.c", "lib/a.h", "lib/b.c", "multi/main.c", "single.c"]
    units = guestbin.binaries(srcs, tmp_path)["multi"]
    argv = guestbin.compile_argv("cc", units, tmp_path / "out", tmp_path)
    assert argv[:len(guestbin.CFLAGS) + 1] == ["cc", *guestbin.CFLAGS]
    assert argv[len(guestbin.CFLAGS) + 1:] == ["-I", tmp_path / "multi", "-I", tmp_path / "lib",
                                               "-o", tmp_path / "out", *units]


def header_definitions(text: str) -> list[str]:
    """Top-level lines of a C header that define (a function body, a static, a variable: a
    statement without parentheses that is not an extern, typedef, enum or struct declaration)."""
    bodies = re.findall(r"^\{.*$", text, re.M)
    statics = re.findall(r"^static .*$", text, re.M)
    declarations = r"extern |typedef |enum |static |struct \w+;|[#}/ \t*]"
    variables = re.findall(rf"^(?!{declarations})[^(\n]*;$", text, re.M)
    return bodies + statics + variables


def test_header_definitions_are_found() -> None:
    assert header_definitions("int f(void);\nextern int n;\nstruct s;\n"
                              "struct s {\n\tint a;\n};\n/* x; */\n") == []
    assert header_definitions("int n;\nstatic int m = 1;\nvoid f(void)\n{\n}\n") == [
        "{", "static int m = 1;", "int n;"]


def test_shipped_workloads_are_translation_units() -> None:
    """thpwork, thpracer and thpfile are folders of .c/.h pairs sharing lib/: every header only
    declares (no function bodies, no variables defined), no binary's header has a lib header's
    name (both folders are on the include path), and every lib part is linked into each."""
    root = guestbin.WORKLOAD_DIR
    built = guestbin.binaries(guestbin.workload_sources(root))
    assert sorted(built) == ["thpfile", "thpracer", "thpwork"]
    assert not list(root.glob("*.c")) and not list(root.glob("*.h"))
    lib = sorted((root / guestbin.LIB).glob("*.c"))
    assert lib and all(units[-len(lib):] == lib for units in built.values())
    lib_headers = {h.name for h in (root / guestbin.LIB).glob("*.h")}
    for name in built:
        assert (root / name / "main.c").is_file()
        assert not lib_headers & {h.name for h in (root / name).glob("*.h")}, name
    for h in root.glob("*/*.h"):
        found = header_definitions(h.read_text())
        assert not found, f"{h} defines {found}"
    for c in root.glob("*/*.c"):
        assert (c.with_suffix(".h").is_file() or c.name == "main.c"), f"{c} has no header"
