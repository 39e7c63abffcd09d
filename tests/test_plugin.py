"""The kharness pytest plugin (harness/plugin/__init__.py), tested with pytester.

Most tests run in milliseconds: KharnessState.kernel / .vm are monkeypatched to return a
fake build and a fake VM whose console is a temp file the inner tests write kernel text
into, so option handling, parametrisation, markers, the splat guard and the journal are
exercised without QEMU. The last test boots the real quickstart kernel (integration).
"""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness import plugin
from harness.guest.ssh import CommandResult, Outcome

pytest_plugins = ["pytester"]

CONFIG = """\
kernel:
  source: {git: /nonexistent, ref: main}
archs: [x86_64, arm64]
variants: [baseline, patched]
series:
  name: demo
  versions:
    v1: series/v1
knobs:
  - name: mthp
    sizes: [64K]
    max_ptes_none: [0, 511]
  - name: pmd
    sizes: PMD
"""

WARNING = """\
[   10.000000] ------------[ cut here ]------------
[   10.000001] Tried to split an unsplittable folio
[   10.000002] WARNING: mm/huge_memory.c:4099 at __folio_split+0x130/0x4fc, CPU#0: thpwork/138
[   10.000003] CPU: 0 UID: 0 PID: 138 Comm: thpwork Not tainted 7.2.13+ #1 PREEMPTLAZY
[   10.000004] RIP: 0010:__folio_split+0x130/0x4fc
[   10.000005] Call Trace:
[   10.000006]  <TASK>
[   10.000007]  split_huge_pages_write+0x6cd/0x809
[   10.000008]  full_proxy_write+0x5c/0x77
[   10.000009]  vfs_write+0x8d/0x162
[   10.000010]  ksys_write+0x6e/0x9e
[   10.000011]  do_syscall_64+0xa9/0x283
[   10.000012]  entry_SYSCALL_64_after_hwframe+0x4b/0x53
[   10.000013]  </TASK>
[   10.000014] ---[ end trace 0000000000000000 ]---
"""

PROBE = ("/sys/kernel/mm/transparent_hugepage/hugepages-64kB/stats/collapse_alloc\n"
         "/sys/kernel/mm/transparent_hugepage/khugepaged/max_ptes_none\n"
         "thp_fault_alloc 0\nSwapTotal:       0 kB\n")


# ----------------------------------------------------------------------------- fakes

class FakeGuest:
    """Answers the plugin's guest calls; markers go to the fake console like /dev/kmsg."""

    def __init__(self, console: Path) -> None:
        self.console = console

    def _log(self, line: str) -> None:
        with self.console.open("a") as f:
            f.write(f"[   11.000000] {line}\n")

    def run(self, argv: list[str], timeout: float | None = None, check: bool = False,
            **kw: Any) -> CommandResult:
        return CommandResult(0, PROBE if "ls -d" in " ".join(argv) else "", "", 0.0)

    def mark_test_start(self, nodeid: str) -> None:
        self._log(f"kharness: test start {nodeid}")

    def mark_test_end(self, nodeid: str) -> None:
        self._log(f"kharness: test end {nodeid}")


@dataclass
class FakeQemu:
    up: bool = True

    def alive(self) -> bool:
        return self.up


@dataclass
class FakeProfile:
    name: str


@dataclass
class FakeVM:
    workdir: Path
    arch: str
    name: str
    outcome: Outcome = Outcome.OK
    scale: float = 0.02
    qemu: FakeQemu = field(default_factory=FakeQemu)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.console_path.write_text("[    0.000000] Linux version 7.2.13+ (fake)\n")
        self.guest = FakeGuest(self.console_path)
        self.profile = FakeProfile(self.arch)

    @property
    def console_path(self) -> Path:
        return self.workdir / "console.log"

    def close(self) -> None:
        self.qemu.up = False


@dataclass(frozen=True)
class FakeKernel:
    arch: str
    variant: str
    vmlinux: Path = Path("/nonexistent/vmlinux")
    config: Path = Path("/nonexistent/.config")


# Inner runs without plugins that only cost time (hypothesis re-imports itself per run).
QUIET = "addopts = -p no:hypothesispytest -p no:benchmark -p no:xdist -p no:cacheprovider\n"


def ini(pytester: pytest.Pytester, extra: str = "") -> None:
    pytester.makeini(f"[pytest]\nkharness_config = {pytester.path / 'kh.yaml'}\n{QUIET}{extra}")


@pytest.fixture
def kp(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """pytester with a kharness config and the fake kernel/VM behind KharnessState."""
    pytester.makefile(".yaml", kh=CONFIG)
    ini(pytester)
    booted: list[str] = []

    def fake_vm(self: plugin.KharnessState, target: plugin.Target, fresh: bool = False) -> Any:
        current: Any = self.vms.get(target)
        if current is not None and (fresh or not plugin._healthy(current)):
            current.close()
            current = None
        if current is None:
            self.counter += 1
            current = FakeVM(self.workdir / f"{target.id}-vm{self.counter}", target.arch,
                             f"{target.id}-{self.counter}")
            booted.append(current.name)
            self.vms[target] = current
        return current

    monkeypatch.setattr(plugin.KharnessState, "vm", fake_vm)
    monkeypatch.setattr(plugin.KharnessState, "kernel",
                        lambda self, t: FakeKernel(t.arch, t.variant))
    pytester.booted = booted  # type: ignore[attr-defined]
    return pytester


def journal(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def splat_test(marker: str = "", extra: str = "") -> str:
    return textwrap.dedent(f"""\
        import pytest
        WARNING = {WARNING!r}

        {marker}
        def test_warns(vm):
            with vm.console_path.open("a") as f:
                f.write(WARNING)
            {extra}
        """)


# ------------------------------------------------------------- options and ini precedence

def test_targets_from_config_then_ini_then_command_line(kp: pytest.Pytester) -> None:
    kp.makepyfile("def test_t(kh_target):\n    pass\n")
    ids = kp.runpytest("--collect-only", "-q").stdout.str()
    assert ids.count("test_t[") == 4 and "test_t[x86_64-baseline]" in ids \
        and "test_t[arm64-patched]" in ids
    ini(kp, "kharness_archs = arm64\nkharness_variants = patched\n")
    out = kp.runpytest("--collect-only", "-q").stdout.str()
    assert "test_t[arm64-patched]" in out and out.count("test_t[") == 1
    out = kp.runpytest("--collect-only", "-q", "--kharness-arch", "amd64",
                       "--kharness-variant", "baseline").stdout.str()
    assert "test_t[x86_64-baseline]" in out and out.count("test_t[") == 1   # alias resolved


def test_config_option_overrides_ini(kp: pytest.Pytester) -> None:
    kp.makefile(".yaml", other=CONFIG.replace("archs: [x86_64, arm64]", "archs: [arm64]"))
    kp.makepyfile("def test_t(kh_target):\n    pass\n")
    out = kp.runpytest("--collect-only", "-q", "--kharness-config",
                       str(kp.path / "other.yaml")).stdout.str()
    assert "x86_64" not in out and out.count("test_t[arm64-") == 2


@pytest.mark.parametrize("args, extra, needles", [
    (["--kharness-arch", "sparc"], "", ["--kharness-arch", "sparc"]),
    ([], "kharness_archs = sparc\n", ["ini kharness_archs", "sparc"]),
    (["--kharness-variant", "v9"], "", ["--kharness-variant", "v9"]),
    (["--kharness-knobs", "nosuch"], "", ["--kharness-knobs", "nosuch",
                                          "mthp-64K-none0", "pmd"]),
    (["--kharness-fail-fast", "lockdep,oopsie"], "", ["--kharness-fail-fast", "oopsie",
                                                      "atomic_sleep"]),
    ([], "kharness_fail_fast = nosuch\n", ["ini kharness_fail_fast", "nosuch"]),
])
def test_bad_values_name_where_they_came_from(kp: pytest.Pytester, args: list[str],
                                              extra: str, needles: list[str]) -> None:
    ini(kp, extra)
    kp.makepyfile("def test_t(kh_target):\n    pass\n")
    res = kp.runpytest(*args)
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    err = res.stderr.str()
    assert all(n in err for n in needles), err


KCONFIGS = """\
configs:
  ptc: [page-table-check]
  small:
    archs: [arm64]
    guest: {mem: 3G}
    knobs: [{name: tiny, sizes: [16K]}]
"""


def test_kconfig_narrows_archs_knobs_guest_and_lands_in_the_journal(kp: pytest.Pytester) -> None:
    kp.makefile(".yaml", kh=CONFIG + KCONFIGS)
    kp.makepyfile("def test_k(kharness, kh_target, knobset):\n"
                  "    assert kharness.cfg.guest.mem == '3G'\n"
                  "    assert kharness.cfg.fragments == ('page-table-check',) or "
                  "kharness.cfg.kconfig == 'small'\n")
    res = kp.runpytest("--kharness-kconfig", "small", "--kharness-journal",
                       str(kp.path / "j.jsonl"), "-q")
    res.assert_outcomes(passed=2)          # arm64 only, knob set "tiny" only
    recs = journal(kp.path / "j.jsonl")
    assert {(r["cell"], r["config"], r["knobset"]) for r in recs} == {
        ("arm64/small/baseline", "small", "tiny-16K"), ("arm64/small/patched", "small", "tiny-16K")}
    res = kp.runpytest("--collect-only", "-q", "--kharness-kconfig", "ptc")
    assert res.stdout.str().count("test_k[") == 12         # both archs, the 3 top-level knob sets
    ini(kp, "kharness_kconfig = nosuch\n")
    res = kp.runpytest()
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    assert "ini kharness_kconfig" in res.stderr.str() and "ptc, small" in res.stderr.str()


def test_bad_config_file_is_a_usage_error_naming_the_option(kp: pytest.Pytester) -> None:
    kp.makefile(".yaml", bad="kernel: [\n")
    res = kp.runpytest("--kharness-config", str(kp.path / "bad.yaml"))
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    assert "--kharness-config" in res.stderr.str()


@pytest.mark.parametrize("body, needle", [
    ("knobs: [{sizes: [3K]}]\n", "knobs[0].sizes[0]: THP size '3K' is not a power of two"),
    ("knobs: {max_ptes_none: [9999]}\n", "max_ptes_none=9999 is above 8191"),
    ("guest: {mem: lots, cpus: -3}\n", "guest mem 'lots' is not a memory size"),
    ("tests: [a.py]\n", "tests: unknown key"),
])
def test_the_plugin_validates_the_config_as_kharness_does(kp: pytest.Pytester, body: str,
                                                           needle: str) -> None:
    """The same one validation as `kharness plan`/`run`: a usage error before collection."""
    kp.makefile(".yaml", bad=CONFIG + body)
    res = kp.runpytest("--kharness-config", str(kp.path / "bad.yaml"))
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    assert needle in res.stderr.str(), res.stderr.str()


def test_knob_selection_by_glob_and_ids(kp: pytest.Pytester) -> None:
    kp.makepyfile("def test_k(kh_target, knobset):\n    assert knobset.name\n")
    out = kp.runpytest("--collect-only", "-q", "--kharness-arch", "x86_64",
                       "--kharness-variant", "baseline", "--kharness-knobs", "mthp-*"
                       ).stdout.str()
    assert "test_k[x86_64-baseline-mthp-64K-none0]" in out
    assert "test_k[x86_64-baseline-mthp-64K-none511]" in out and "-pmd]" not in out


def test_no_config_skips_guest_tests(pytester: pytest.Pytester) -> None:
    pytester.makeini(f"[pytest]\n{QUIET}")
    pytester.makepyfile("def test_g(guest):\n    pass\n")
    res = pytester.runpytest("-rs")
    res.assert_outcomes(skipped=1)
    assert "no kharness config" in res.stdout.str()


# ------------------------------------------------------------------------- markers

def test_markers_registered(kp: pytest.Pytester) -> None:
    out = kp.runpytest("--markers").stdout.str()
    for name in ("kharness_arch(", "kharness_variant(", "expect_splat(", "needs("):
        assert f"@pytest.mark.{name}" in out
    kp.makepyfile(textwrap.dedent("""\
        import pytest
        @pytest.mark.kharness_arch("arm64")
        @pytest.mark.kharness_variant("patched")
        @pytest.mark.needs("mthp_collapse")
        @pytest.mark.expect_splat(kind="warning")
        def test_m(kh_target):
            pass
        """))
    kp.runpytest("--strict-markers").assert_outcomes(passed=4)


def test_arch_variant_and_needs_markers_skip(kp: pytest.Pytester) -> None:
    kp.makepyfile(textwrap.dedent("""\
        import pytest
        @pytest.mark.kharness_arch("arm64")
        def test_arm(vm):
            pass
        @pytest.mark.kharness_variant("patched")
        def test_patched(vm):
            pass
        @pytest.mark.needs("mthp_collapse", "swap")
        def test_needs_swap(vm):
            pass
        @pytest.mark.needs("mthp_collapse")
        def test_needs_mthp(vm, kernel_features):
            assert kernel_features["mthp_collapse"] and not kernel_features["swap"]
        @pytest.mark.needs("warp_drive")
        def test_unknown(vm):
            pass
        """))
    res = kp.runpytest("--kharness-arch", "x86_64", "--kharness-variant", "baseline", "-rs")
    res.assert_outcomes(passed=1, skipped=3, errors=1)      # a bad marker is an error
    out = res.stdout.str()
    assert "only on arm64" in out and "only on variants patched" in out
    assert "kernel lacks swap" in out and "unknown feature(s)" in out


# ------------------------------------------------------------ splat guard and journal

def test_splat_fails_the_test_naming_kind_title_function(kp: pytest.Pytester) -> None:
    kp.makepyfile(splat_test())
    res = kp.runpytest("--kharness-arch", "x86_64", "--kharness-variant", "baseline",
                       "--kharness-journal", str(kp.path / "j.jsonl"))
    res.assert_outcomes(failed=1)
    out = res.stdout.str()
    assert "SplatFound" in out and "[warning] WARNING in __folio_split" in out
    assert "function: __folio_split" in out and "split_huge_pages_write" in out
    (rec,) = journal(kp.path / "j.jsonl")
    assert rec["outcome"] == "failed" and rec["cell"] == "x86_64/baseline"
    assert rec["splats"][0]["kind"] == "warning" and "__folio_split" in rec["message"]
    assert "Tried to split" in rec["console"]


def test_expect_splat_accepts_it_and_fails_when_missing(kp: pytest.Pytester) -> None:
    kp.makepyfile(splat_test('@pytest.mark.expect_splat(kind="warning", title="__folio_split")')
                  + textwrap.dedent("""
        @pytest.mark.expect_splat(kind="bug")
        def test_quiet(vm):
            pass

        @pytest.mark.expect_splat(kind="lockdep")
        def test_other_kind(vm):
            with vm.console_path.open("a") as f:
                f.write(WARNING)
        """))
    res = kp.runpytest("--kharness-arch", "x86_64", "--kharness-variant", "baseline",
                       "--kharness-journal", str(kp.path / "j.jsonl"))
    res.assert_outcomes(passed=1, failed=2)
    out = res.stdout.str()
    assert "expected splat {'kind': 'bug'} not seen" in out
    recs = {r["nodeid"].split("::")[1]: r for r in journal(kp.path / "j.jsonl")}
    assert recs["test_warns[x86_64-baseline]"]["outcome"] == "passed"
    assert recs["test_warns[x86_64-baseline]"]["splats"][0]["title"] == "WARNING in __folio_split"


def test_skip_after_a_splat_fails_and_a_skip_reason_is_journalled(kp: pytest.Pytester) -> None:
    """An inconclusive racer skips: a splat in the same test still fails it; a plain skip
    keeps its reason in the journal (the verdict shows an inconclusive one)."""
    kp.makepyfile(splat_test(extra='pytest.skip("inconclusive: vacuous race: no page moved")')
                  + textwrap.dedent("""
        def test_quiet_skip(vm):
            pytest.skip("inconclusive: vacuous race: ksmd merged nothing")
        """))
    res = kp.runpytest("--kharness-arch", "x86_64", "--kharness-variant", "baseline",
                       "--kharness-journal", str(kp.path / "j.jsonl"))
    res.assert_outcomes(failed=1, skipped=1)
    recs = {r["nodeid"].split("::")[1]: r for r in journal(kp.path / "j.jsonl")}
    warns = recs["test_warns[x86_64-baseline]"]
    assert warns["outcome"] == "failed" and "__folio_split" in warns["message"]
    quiet = recs["test_quiet_skip[x86_64-baseline]"]
    assert quiet["outcome"] == "skipped"
    assert quiet["message"] == "inconclusive: vacuous race: ksmd merged nothing"


def test_splat_before_the_test_is_not_its_own(kp: pytest.Pytester) -> None:
    """Only the test's slice of the console counts (console offset at setup)."""
    kp.makepyfile(splat_test() + textwrap.dedent("""
        def test_after(vm):
            pass
        """))
    res = kp.runpytest("--kharness-arch", "x86_64", "--kharness-variant", "baseline")
    res.assert_outcomes(passed=1, failed=1)


def test_journal_records_counters_per_test(kp: pytest.Pytester) -> None:
    kp.makepyfile(textwrap.dedent("""\
        def test_c(vm, kh_record, knobset):
            kh_record["counters"] = {"64kB": {"collapse_alloc": 3}}
            kh_record["per_scan"] = [{"full_scans": 1, "64kB": {"collapse_alloc": 3}}]
            kh_record["census"] = {"4": 512}
        def test_skipped(vm):
            import pytest
            pytest.skip("nope")
        """))
    res = kp.runpytest("--kharness-journal", str(kp.path / "j.jsonl"), "--kharness-knobs", "pmd")
    res.assert_outcomes(passed=4, skipped=4)
    recs = journal(kp.path / "j.jsonl")
    assert len(recs) == 8 and {r["cell"] for r in recs} == {
        "x86_64/baseline", "x86_64/patched", "arm64/baseline", "arm64/patched"}
    want = "test_journal_records_counters_per_test.py::test_c[x86_64-baseline"
    rec = next(r for r in recs if r["nodeid"].startswith(want))
    assert rec["knobset"] == "pmd" and rec["outcome"] == "passed"
    assert rec["counters"] == {"64kB": {"collapse_alloc": 3}} and rec["census"] == {"4": 512}
    assert rec["per_scan"][0]["full_scans"] == 1 and rec["duration"] >= 0
    assert rec["splats"] == [] and "console" not in rec
    assert sum(r["outcome"] == "skipped" for r in recs) == 4
    assert len(kp.booted) == 4                      # type: ignore[attr-defined]


def test_crash_is_recorded_and_the_guest_replaced(kp: pytest.Pytester) -> None:
    kp.makepyfile(textwrap.dedent("""\
        from harness.guest.ssh import GuestCrashed, Outcome
        def test_crash(vm):
            vm.outcome = Outcome.CRASH
            vm.qemu.up = False
            raise GuestCrashed(Outcome.CRASH, "guest crashed", "Kernel panic - not syncing",
                               vm.console_path)
        def test_next(vm):
            assert vm.name.endswith("-2")
        """))
    res = kp.runpytest("--kharness-arch", "x86_64", "--kharness-variant", "baseline",
                       "--kharness-journal", str(kp.path / "j.jsonl"))
    res.assert_outcomes(passed=1, failed=1)
    recs = {r["nodeid"].split("::")[1]: r for r in journal(kp.path / "j.jsonl")}
    assert recs["test_crash[x86_64-baseline]"]["outcome"] == "crash"
    assert recs["test_crash[x86_64-baseline]"]["phases"]["call"] == "crash"
    assert recs["test_next[x86_64-baseline]"]["outcome"] == "passed"
    assert kp.booted == ["x86_64-baseline-1", "x86_64-baseline-2"]  # type: ignore[attr-defined]


def test_guest_scope_test_boots_per_test(kp: pytest.Pytester) -> None:
    kp.makepyfile("def test_a(vm):\n    pass\ndef test_b(vm):\n    pass\n")
    kp.runpytest("--kharness-arch", "arm64", "--kharness-variant", "patched",
                 "--kharness-guest-scope", "test").assert_outcomes(passed=2)
    assert len(kp.booted) == 2                      # type: ignore[attr-defined]


@pytest.mark.parametrize(("option", "boots"), [("CONFIG_ARM64_64K_PAGES", 2),
                                               ("CONFIG_ARM64_4K_PAGES", 1)])
def test_fresh_guest_marker_boots_one_above_its_page_size(
        kp: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, option: str, boots: int) -> None:
    config = kp.path / "kernel.config"
    config.write_text(f"{option}=y\n# CONFIG_ARM64_16K_PAGES is not set\n")
    monkeypatch.setattr(plugin.KharnessState, "kernel",
                        lambda self, t: FakeKernel(t.arch, t.variant, config=config))
    kp.makepyfile(textwrap.dedent("""\
        import pytest
        def test_a(vm):
            pass
        @pytest.mark.fresh_guest(min_page_size=16384, reason="big blocks")
        def test_b(vm):
            pass
        @pytest.mark.fresh_guest(min_page_size=1 << 20)
        def test_c(vm):
            pass
        def test_d(vm):
            pass
        """))
    kp.runpytest("-p", "no:randomly", "--kharness-arch", "arm64", "--kharness-variant",
                 "patched").assert_outcomes(passed=4)
    # test_b's guest (64K pages) is then shared by test_c (1M minimum: not fresh) and test_d
    assert len(kp.booted) == boots                  # type: ignore[attr-defined]


# ------------------------------------------------------------------ -k, -x, --junitxml

def test_k_selects_by_target_and_knob_ids(kp: pytest.Pytester) -> None:
    kp.makepyfile("def test_k(vm, knobset):\n    pass\n")
    res = kp.runpytest("-k", "arm64 and patched and none511", "-q")
    res.assert_outcomes(passed=1)
    assert kp.booted == ["arm64-patched-1"]         # type: ignore[attr-defined]


def test_x_stops_after_the_first_splat(kp: pytest.Pytester) -> None:
    kp.makepyfile(splat_test() + "\ndef test_z(vm):\n    pass\n")
    res = kp.runpytest("-x", "--kharness-variant", "baseline")
    res.assert_outcomes(failed=1)
    assert "stopping after 1 failures" in res.stdout.str()


def test_junitxml_carries_console_excerpt_property(kp: pytest.Pytester) -> None:
    kp.makepyfile(splat_test())
    xml = kp.path / "junit.xml"
    kp.runpytest("--kharness-arch", "x86_64", "--kharness-variant", "baseline",
                 f"--junitxml={xml}")
    case = ET.parse(xml).getroot().find(".//testcase")
    assert case is not None and case.find("failure") is not None
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert "Tried to split an unsplittable folio" in (props.get("console_excerpt") or "")
    assert (props.get("kharness_console") or "").endswith("console.log")


# ------------------------------------------------------------ real guest (integration)

REAL_WARN_TEST = """\
from harness.guest import knobs
from harness.guest import sysfs as thpsysfs
from harness.guest import workloads

def test_unmarked_warning(guest, vm):
    ks = knobs.expand_matrix({"sizes": "64K", "enabled": "madvise"}, "t")[0]
    thpsysfs.ThpKnobs(guest).apply(ks)
    guest.run(["sh", "-c", "echo 1 > /sys/kernel/debug/clear_warn_once"], timeout=60,
              check=True)
    w = workloads.start_populate(guest, "2M", "first:32", advise="before", split_to=1)
    workloads.stop(guest, w)
"""


@pytest.mark.integration
def test_real_guest_warning_fails_an_unmarked_test(request: pytest.FixtureRequest,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end: a real VM_WARN_ONCE (debugfs split of an anonymous 64K folio to
    order 1) in a real 7.2 guest fails a test that does not expect it."""
    from harness import config
    from harness.kernel import build
    from harness.util import cache_root
    from tests.conftest import QUICKSTART
    cfg = config.load(QUICKSTART)
    if build.lookup(build.request_for(cfg, cfg.variant("baseline"), "x86_64")) is None:
        pytest.skip("quickstart x86_64 baseline kernel not built yet")
    monkeypatch.setenv("KHARNESS_CACHE", str(cache_root()))   # pytester moves $HOME
    pytester: pytest.Pytester = request.getfixturevalue("pytester")
    pytester.makeini(f"[pytest]\nkharness_config = {QUICKSTART}\n{QUIET}")
    pytester.makepyfile(REAL_WARN_TEST)
    res = pytester.runpytest("--kharness-arch", "x86_64", "--kharness-variant", "baseline",
                             "--kharness-journal", str(pytester.path / "j.jsonl"))
    res.assert_outcomes(failed=1)
    out = res.stdout.str()
    assert "SplatFound" in out and "[warning] WARNING in __folio_split" in out
    (rec,) = journal(pytester.path / "j.jsonl")
    assert rec["outcome"] == "failed" and rec["splats"][0]["function"] == "__folio_split"


def test_known_splat_xfails_and_an_unknown_one_still_fails(kp: pytest.Pytester) -> None:
    kp.makepyfile(splat_test('@pytest.mark.known_splat(title="__folio_split", reason="lkml 1")')
                  + textwrap.dedent("""
        @pytest.mark.known_splat(title="swap_pte_batch", reason="lkml 2")
        def test_other_splat(vm):
            with vm.console_path.open("a") as f:
                f.write(WARNING)

        @pytest.mark.known_splat(title="__folio_split")
        def test_quiet(vm):
            pass
        """))
    res = kp.runpytest("--kharness-arch", "x86_64", "--kharness-variant", "baseline", "-rx",
                       "--kharness-journal", str(kp.path / "j.jsonl"))
    res.assert_outcomes(xfailed=1, failed=1, passed=1)
    out = res.stdout.str()
    assert "known kernel finding: WARNING in __folio_split (lkml 1)" in out
    recs = {r["nodeid"].split("::")[1]: r for r in journal(kp.path / "j.jsonl")}
    assert recs["test_warns[x86_64-baseline]"]["outcome"] == "skipped"
    assert "known kernel finding" in recs["test_warns[x86_64-baseline]"]["xfail"]
    assert recs["test_other_splat[x86_64-baseline]"]["outcome"] == "failed"
