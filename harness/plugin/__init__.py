"""kharness pytest plugin: built kernels, booted guests, THP knobs and a splat guard as fixtures.

Options (command line wins over ini, ini over the config file's defaults):
  --kharness-config PATH    ini: kharness_config     the kharness YAML (kernel, series, knobs)
  --kharness-arch A         ini: kharness_archs      repeatable; default: the config's archs
  --kharness-variant V      ini: kharness_variants   repeatable; default: the config's variants
  --kharness-kconfig NAME   ini: kharness_kconfig    one entry of the YAML's `configs:` (its
                            fragments, options, archs, guest and knobs); default: the
                            `kernel:` section itself
  --kharness-knobs NAME     ini: kharness_knobs      only these knob sets (names or globs)
  --kharness-guest-scope S  ini: kharness_guest_scope  "session" (one guest per arch x variant,
                            replaced after a crash) or "test" (a fresh guest per test)
  --kharness-journal PATH   append one JSON line per finished test (see harness.results.journal)
  --kharness-workdir DIR    VM work directories (console logs, vm.json); default: tmp
  --kharness-fail-fast K    ini: kharness_fail_fast  "any" or splat kinds (comma-separated):
                            the first such splat on the console ends the running command and
                            the guest (the test fails with it) instead of waiting out a wedged
                            workload; what bisect uses. Off by default.

Fixtures: kh_target (arch, variant; parametrised, session scope), kernel, vm, guest, thp,
knobset (parametrised over the config's knob sets), kh_record (JSON object merged into the journal
record), kernel_features. Markers: kharness_arch, kharness_variant, expect_splat,
known_splat, needs, fresh_guest.
Every test using a guest runs under the splat guard: a splat in the test's slice of the
console fails the test with kind, title, function and trace.
"""

from __future__ import annotations

import fnmatch
import os
import re
import tempfile
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.errors import HarnessBug, InfrastructureError, KharnessError
from harness.results.fields import JsonObject

if TYPE_CHECKING:      # the plugin loads in every pytest run: the heavy modules load lazily
    from harness.config import Config
    from harness.guest.knobs import KnobSet
    from harness.guest.ssh import Guest
    from harness.guest.support import Kh
    from harness.guest.sysfs import ThpKnobs
    from harness.kernel.build import BuildResult
    from harness.machine.vm import VM
    from harness.results.records import SplatRecord, TestRecord

OPTIONS = ("config", "arch", "variant", "kconfig", "knobs", "guest_scope", "journal", "workdir",
           "fail_fast")
_offset_key = pytest.StashKey[tuple[Any, int]]()


@dataclass
class Gathered:
    """What the plugin gathers about one test for its journal record, beside `notes`: what
    the test itself adds (the kh_record fixture: counters, per_scan, census, ...)."""
    notes: JsonObject = field(default_factory=dict)
    phases: dict[str, str] = field(default_factory=dict)     # setup/call/teardown -> outcome
    duration: float = 0.0
    message: str | None = None
    xfail: str | None = None
    console_excerpt: str = ""
    splats: tuple[SplatRecord, ...] | None = None          # None: no splat guard ran


_record_key = pytest.StashKey[Gathered]()


@dataclass(frozen=True)
class Target:
    arch: str
    variant: str

    @property
    def id(self) -> str:
        return f"{self.arch}-{self.variant}"


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("kharness", "kharness: real kernels in QEMU")
    g.addoption("--kharness-config", help="kharness YAML config")
    g.addoption("--kharness-arch", action="append", help="arch to test (repeatable)")
    g.addoption("--kharness-variant", action="append",
                help="baseline | patched | <version> | <version>:<k> (repeatable)")
    g.addoption("--kharness-kconfig", help="kernel config: a name under the YAML's configs:")
    g.addoption("--kharness-knobs", action="append", help="knob set names/globs (repeatable)")
    g.addoption("--kharness-guest-scope", choices=("session", "test"), help="guest lifetime")
    g.addoption("--kharness-journal", help="results.jsonl to append to")
    g.addoption("--kharness-workdir", help="directory for VM work dirs")
    parser.addini("kharness_config", "kharness YAML config")
    parser.addini("kharness_archs", "archs to test", type="args")
    parser.addini("kharness_variants", "variants to test", type="args")
    parser.addini("kharness_kconfig", "kernel config: a name under the YAML's configs:")
    parser.addini("kharness_knobs", "knob set names/globs", type="args")
    parser.addini("kharness_guest_scope", "session or test", default="session")
    g.addoption("--kharness-fail-fast", help='"any" or comma-separated splat kinds that '
                "end the running command at once")
    parser.addini("kharness_fail_fast", '"any" or splat kinds that end a command at once')


def _opt(config: pytest.Config, name: str) -> tuple[Any, str]:
    """(value, where it came from) with command line > ini."""
    cli = config.getoption(f"kharness_{name}")
    if cli:
        return cli, f"--kharness-{name.replace('_', '-')}"
    ini = {"arch": "kharness_archs", "variant": "kharness_variants"}.get(name, f"kharness_{name}")
    try:
        value = config.getini(ini)
    except ValueError:
        return None, ""
    return (value or None), f"ini {ini}"


def pytest_configure(config: pytest.Config) -> None:
    for line in (
        "kharness_arch(*archs): run only on these archs",
        "kharness_variant(*variants): run only on these variants",
        "expect_splat(kind=None, title=None): the test expects this splat (not a failure)",
        ("known_splat(kind=None, title=None, reason=''): a kernel finding already reported: "
         "the test xfails (not fails) when it is the only splat"),
        "needs(*features): skip unless the kernel has these features (e.g. mthp_collapse)",
        ("fresh_guest(min_page_size=0, reason=''): the test gets a guest booted for it (which "
         "later tests then share) when the kernel's base page is at least min_page_size bytes"),
    ):
        config.addinivalue_line("markers", line)
    state = KharnessState.from_config(config)
    config.stash[_state_key] = state
    config.add_cleanup(state.close)


class KharnessState:
    """Per-session state: the loaded config, targets, booted VMs."""

    def __init__(self, pconfig: pytest.Config, cfg: Config | None, targets: list[Target],
                 knobsets: list[KnobSet], scope: str, journal: Path | None, workdir: Path,
                 fail_fast: frozenset[str] | None = None) -> None:
        self.pconfig, self.cfg, self.targets, self.knobsets = pconfig, cfg, targets, knobsets
        self.scope, self.workdir = scope, workdir
        self.journal = None
        if journal is not None:
            from harness.results.journal import Journal
            self.journal = Journal(journal)
        self.vms: dict[Target, VM] = {}
        self.kernels: dict[Target, BuildResult] = {}
        self.features: dict[Target, dict[str, bool]] = {}
        self.counter = 0
        self.fail_fast = fail_fast

    @classmethod
    def from_config(cls, pconfig: pytest.Config) -> KharnessState:
        path, where = _opt(pconfig, "config")
        workdir_opt, _ = _opt(pconfig, "workdir")
        workdir = Path(workdir_opt or tempfile.mkdtemp(prefix="kharness-"))
        journal, _ = _opt(pconfig, "journal")
        scope, _ = _opt(pconfig, "guest_scope")
        if not path:
            return cls(pconfig, None, [], [], scope or "session", None, workdir)
        from harness import config as configmod
        try:
            cfg = configmod.load(_rel(pconfig, str(path)))
            kconfig, kcwhere = _opt(pconfig, "kconfig")
            cfg = _narrow(cfg, kconfig, kcwhere)
            archs, awhere = _opt(pconfig, "arch")
            variants, vwhere = _opt(pconfig, "variant")
            targets = _targets(cfg, archs, awhere, variants, vwhere)
            names, kwhere = _opt(pconfig, "knobs")
            knobsets = _knobsets(cfg, names, kwhere)
            fail_fast = _fail_fast(*_opt(pconfig, "fail_fast"))
        except KharnessError as e:
            raise pytest.UsageError(f"kharness ({where}): {e.one_line()}") from None
        return cls(pconfig, cfg, targets, knobsets, scope or "session",
                   Path(journal) if journal else None, workdir, fail_fast)

    @property
    def config(self) -> Config:
        """The loaded config (fixtures that need it skip first when there is none)."""
        if self.cfg is None:
            raise HarnessBug("no kharness config loaded", "", "check _state() ran first")
        return self.cfg

    # --- kernels and VMs
    def kernel(self, target: Target) -> BuildResult:
        if target not in self.kernels:
            from harness.kernel import build
            cfg = self.config
            req = build.request_for(cfg, cfg.variant(target.variant), target.arch)
            self.kernels[target] = build.build(req)
        return self.kernels[target]

    def vm(self, target: Target, fresh: bool = False) -> VM:
        current = self.vms.get(target)
        if current is not None and (fresh or not _healthy(current)):
            current.close()
            current = None
        if current is None:
            from harness.machine.vm import VM
            from harness.splats.parse import start_kind
            self.counter += 1
            g = self.config.guest
            current = VM(self.kernel(target).image, target.arch,
                         workdir=self.workdir / f"{target.id.replace(':', '_')}-vm{self.counter}",
                         name=f"{target.id}-{self.counter}", mem=g.mem, cpus=g.cpus,
                         numa_nodes=g.machine_numa_nodes, zram=g.zram,
                         cmdline_extra=g.kernel_cmdline, fail_fast=self.fail_fast,
                         detect=start_kind)
            current.start()
            self.vms[target] = current
        return current

    def drop(self, target: Target) -> None:
        vm = self.vms.pop(target, None)
        if vm is not None:
            vm.close()

    def close(self) -> None:
        for target in list(self.vms):
            self.drop(target)


_state_key = pytest.StashKey[KharnessState]()


def _rel(pconfig: pytest.Config, path: str) -> str:
    p = Path(path)
    return str(p if p.is_absolute() or p.exists() else Path(pconfig.rootpath) / p)


def _narrow(cfg: Config, kconfig: Any, where: str) -> Config:
    """The config narrowed to one `configs:` entry (harness.config.Config.for_kconfig)."""
    from harness.errors import UserError
    try:
        return cfg.for_kconfig(str(kconfig or ""))
    except UserError as e:
        raise UserError(f"{where}: {e.what}", e.why, e.fix) from None


def _targets(cfg: Config, archs: Any, awhere: str, variants: Any, vwhere: str) -> list[Target]:
    from harness import arch as archmod
    from harness.errors import UserError
    out = []
    for a in archs or cfg.archs:
        try:
            name = archmod.get(a).name
        except UserError as e:
            raise UserError(f"{awhere or 'config archs'}: {e.what}", e.why, e.fix) from None
        for v in variants or cfg.variants:
            try:
                out.append(Target(name, cfg.variant(v).label))
            except UserError as e:
                raise UserError(f"{vwhere or 'config variants'}: {e.what}", e.why, e.fix) from None
    return out


def _knobsets(cfg: Config, names: Any, where: str) -> list[KnobSet]:
    from harness.errors import UserError
    sets = list(cfg.knobsets)
    if names:
        chosen = [k for k in sets if any(fnmatch.fnmatch(k.name, n) for n in names)]
        if not chosen:
            raise UserError(f"{where}: no knob set matches {', '.join(names)}",
                            f"known: {', '.join(k.name for k in sets) or 'none'}")
        sets = chosen
    return sets


def _fail_fast(value: Any, where: str) -> frozenset[str] | None:
    """None (off), frozenset() (any kind) or the named splat kinds."""
    from harness.errors import UserError
    from harness.splats.model import KINDS
    if not value:
        return None
    names = {k.strip() for k in str(value).split(",") if k.strip()}
    if names == {"any"}:
        return frozenset()
    unknown = sorted(names - set(KINDS))
    if unknown:
        raise UserError(f"{where}: unknown splat kind {', '.join(unknown)}",
                        f"known: any, {', '.join(KINDS)}", "fix the fail-fast value")
    return frozenset(names)


def _healthy(vm: Any) -> bool:
    from harness.guest.ssh import Outcome
    return bool(vm.qemu is not None and vm.qemu.alive() and vm.outcome == Outcome.OK)


def _state(request: pytest.FixtureRequest) -> KharnessState:
    st = request.config.stash[_state_key]
    if st.cfg is None:
        pytest.skip("no kharness config (use --kharness-config or ini kharness_config)")
    return st


# ------------------------------------------------------------------ parametrisation


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    st = metafunc.config.stash.get(_state_key, None)
    if st is None:
        return
    if "kh_target" in metafunc.fixturenames:
        targets = st.targets or [Target("none", "none")]
        metafunc.parametrize("kh_target", targets, ids=[t.id for t in targets], scope="session")
    if "knobset" in metafunc.fixturenames:
        sets: list[KnobSet | None] = [*st.knobsets] or [None]
        metafunc.parametrize("knobset", sets, ids=[getattr(k, "name", "default") for k in sets])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Group tests by target so each guest boots once per session scope."""
    def key(item: pytest.Item) -> str:
        cs = getattr(item, "callspec", None)
        target = cs.params.get("kh_target") if cs is not None else None
        return target.id if isinstance(target, Target) else ""
    items.sort(key=key)


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="session")
def kharness(request: pytest.FixtureRequest) -> KharnessState:
    return _state(request)


@pytest.fixture(scope="session")
def kernel(kh_target: Target, request: pytest.FixtureRequest) -> BuildResult:
    """The BuildResult for this test's (arch, variant); built once, cached across runs."""
    if kh_target.arch == "none":
        pytest.skip("no kharness config")
    return _state(request).kernel(kh_target)


@pytest.fixture
def vm(kh_target: Target, kernel: BuildResult, request: pytest.FixtureRequest) -> Iterator[VM]:
    """A booted guest VM; shared per target (scope=session) unless it died or scope=test."""
    st = _state(request)
    _skip_by_markers(request.node, kh_target)
    machine = st.vm(kh_target, fresh=st.scope == "test" or _wants_fresh(request.node, kernel))
    _skip_by_needs(request.node, st, kh_target, machine)
    offset = machine.console_path.stat().st_size if machine.console_path.exists() else 0
    request.node.stash[_offset_key] = (machine, offset)
    request.node.user_properties.append(("kharness_console", str(machine.console_path)))
    machine.guest.mark_test_start(request.node.nodeid)
    yield machine
    if st.scope == "test" or not _healthy(machine):
        st.drop(kh_target)


@pytest.fixture
def guest(vm: VM) -> Guest:
    """The SSH-controlled guest (harness.guest.ssh.Guest) of `vm`."""
    return vm.guest


@pytest.fixture
def kh(guest: Guest, vm: VM, kernel: BuildResult, kernel_features: dict[str, bool],
       kh_record: JsonObject) -> Iterator[Kh]:
    """The per-test facade of guest tests (harness.guest.support.Kh): knob sets applied and
    restored, the effective THP state, the collapse model, a Meter, workloads stopped at the
    end."""
    from harness.guest.support import Kh
    k = Kh(guest, vm, kernel, kernel_features, kh_record)
    yield k
    if vm.qemu is not None and vm.qemu.alive() and vm.outcome.value == "ok":   # else: gone
        k.close()


@pytest.fixture
def kh_record(request: pytest.FixtureRequest) -> JsonObject:
    """A JSON object merged into this test's journal record (counters, census, per_scan…):
    the journal checks its known fields' types (harness.results.records.TestRecord)."""
    gathered: Gathered = request.node.stash.setdefault(_record_key, Gathered())
    return gathered.notes


@pytest.fixture
def kernel_features(vm: VM, kh_target: Target, request: pytest.FixtureRequest) -> dict[str, bool]:
    st = _state(request)
    if kh_target not in st.features:
        st.features[kh_target] = probe_features(vm.guest)
    return st.features[kh_target]


def probe_features(guest: Guest) -> dict[str, bool]:
    """What the kernel under test can do, read from the guest (not from version numbers).

    thp: khugepaged sysfs; mthp_collapse: per-size collapse_* stats (the mTHP collapse
    series); zram / swap: a zram device / active swap; vm_events: /proc/vmstat has the
    thp_* events (CONFIG_VM_EVENT_COUNTERS); clear_warn_once / split_debugfs: debugfs
    files (re-arm WARN_ONCE/pr_*_once; split_huge_pages).
    """
    base = "/sys/kernel/mm/transparent_hugepage"
    paths = (f"{base}/hugepages-*kB/stats/collapse_alloc {base}/khugepaged/max_ptes_none "
             "/sys/block/zram0 /sys/kernel/debug/clear_warn_once "
             "/sys/kernel/debug/split_huge_pages " + " ".join(RACER_PATHS.values()))
    script = (f"ls -d {paths} 2>/dev/null; grep -m1 '^thp_' /proc/vmstat; "
              "grep '^SwapTotal:' /proc/meminfo")
    r = guest.run(["sh", "-c", script], timeout=30)
    out = r.stdout
    swap = re.search(r"^SwapTotal:\s+(\d+)", out, re.MULTILINE)
    return {"thp": "khugepaged/max_ptes_none" in out,
            "mthp_collapse": "stats/collapse_alloc" in out, "zram": "zram0" in out,
            "swap": bool(swap and int(swap.group(1)) > 0),
            "vm_events": re.search(r"^thp_", out, re.MULTILINE) is not None,
            "clear_warn_once": "clear_warn_once" in out,
            "split_debugfs": "split_huge_pages" in out,
            **{name: path in out for name, path in RACER_PATHS.items()}}


# What the racers need, by a path only such a kernel (and guest) has; FEATURE_NEEDS names
# the kernel option (and guest setting) in the skip message.
RACER_PATHS = {"numa": "/sys/devices/system/node/node1", "ksm": "/sys/kernel/mm/ksm",
               "page_idle": "/sys/kernel/mm/page_idle/bitmap",
               "numa_balancing": "/proc/sys/kernel/numa_balancing",
               "userfaultfd": "/proc/sys/vm/unprivileged_userfaultfd",
               "compaction": "/proc/sys/vm/compact_memory",
               "shmem_thp": "/sys/kernel/mm/transparent_hugepage/shmem_enabled"}
FEATURE_NEEDS = {"numa": "CONFIG_NUMA + CONFIG_NUMA_EMU and guest numa_nodes: 2 (racers fragment)",
                 "ksm": "CONFIG_KSM", "page_idle": "CONFIG_IDLE_PAGE_TRACKING",
                 "numa_balancing": "CONFIG_NUMA_BALANCING", "userfaultfd": "CONFIG_USERFAULTFD",
                 "compaction": "CONFIG_COMPACTION",
                 "shmem_thp": "CONFIG_SHMEM + CONFIG_TRANSPARENT_HUGEPAGE"}


@pytest.fixture
def thp(guest: Guest, request: pytest.FixtureRequest) -> Iterator[ThpKnobs]:
    """Knob controller for the guest; the test's knob set (if any) applied, restored after."""
    from harness.guest import sysfs as thpsysfs
    ks = request.getfixturevalue("knobset") if "knobset" in request.fixturenames else None
    ctl = thpsysfs.ThpKnobs(guest)
    reason = thpsysfs.unavailable(ks, ctl.layout()) if ks is not None else None
    if reason:                           # a size of other base pages (64K with 64K pages)
        pytest.skip(reason)
    snap = ctl.apply(ks) if ks is not None else ctl.snapshot()
    try:
        yield ctl
    finally:
        if _healthy(request.getfixturevalue("vm")):
            ctl.restore(snap)


def _skip_by_needs(item: pytest.Item, st: KharnessState, target: Target, machine: VM) -> None:
    """@pytest.mark.needs("mthp_collapse", ...): skip unless the kernel has them all."""
    m = item.get_closest_marker("needs")
    if m is None:
        return
    if target not in st.features:
        st.features[target] = probe_features(machine.guest)
    have = st.features[target]
    unknown = [f for f in m.args if f not in have]
    if unknown:
        pytest.fail(f"unknown feature(s) in @pytest.mark.needs: {', '.join(unknown)} "
                    f"(known: {', '.join(sorted(have))})", pytrace=False)
    missing = [f for f in m.args if not have[f]]
    if missing:
        pytest.skip("kernel lacks " + ", ".join(
            f"{f} ({FEATURE_NEEDS[f]})" if f in FEATURE_NEEDS else f for f in missing))


def _wants_fresh(item: pytest.Item, kernel: BuildResult) -> bool:
    """A `fresh_guest` test on a kernel whose base page is big enough for the marker."""
    m = item.get_closest_marker("fresh_guest")
    if m is None:
        return False
    from harness.kernel import kconfig
    minimum = int(m.kwargs.get("min_page_size", 0))
    return minimum <= 0 or kconfig.base_page_size(kconfig.read_config(kernel.config)) >= minimum


def _skip_by_markers(item: pytest.Item, target: Target) -> None:
    m = item.get_closest_marker("kharness_arch")
    if m and target.arch not in m.args:
        pytest.skip(f"only on {', '.join(m.args)}")
    m = item.get_closest_marker("kharness_variant")
    if m and target.variant not in m.args:
        pytest.skip(f"only on variants {', '.join(m.args)}")


# ------------------------------------------------------------------ splat guard + journal


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, None]:
    outcome = yield
    if _offset_key not in item.stash:
        return
    from harness.splats import guard as splatguard
    machine, offset = item.stash[_offset_key]
    text = splatguard.console_slice(machine, offset, item.nodeid, _healthy(machine))
    from harness.results.records import SplatRecord
    gathered = item.stash.setdefault(_record_key, Gathered())
    gathered.console_excerpt = text[-20000:]
    kernel = item.funcargs.get("kernel") if hasattr(item, "funcargs") else None
    splats = splatguard.test_splats(text, item.nodeid, kernel, machine.profile.name)
    gathered.splats = tuple(SplatRecord.of(s) for s in splats)
    marker = item.get_closest_marker("expect_splat")
    known = [m.kwargs for m in item.iter_markers("known_splat")]
    unknown, seen_known = splatguard.split_known(known, splats)
    failure = splatguard.verdict(marker.kwargs if marker else None, unknown)
    missing_expected = failure is not None and not isinstance(failure, splatguard.SplatFound)
    # a test that skipped after a splat (say, an inconclusive race) fails with the splat
    skipped = outcome.excinfo is not None and issubclass(outcome.excinfo[0],
                                                         pytest.skip.Exception)
    if missing_expected or (failure is not None and (outcome.excinfo is None or skipped)):
        outcome.force_exception(failure)
    elif seen_known and outcome.excinfo is None:
        outcome.force_exception(pytest.xfail.Exception(splatguard.known_message(known, seen_known)))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                              call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    g = item.stash.setdefault(_record_key, Gathered())
    g.phases[report.when] = _classify(report, call)
    g.duration = round(g.duration + report.duration, 3)
    if report.failed and g.message is None:
        g.message = report.longreprtext[-2000:]
    if report.skipped and g.message is None and isinstance(report.longrepr, tuple):
        g.message = str(report.longrepr[2]).removeprefix("Skipped: ")[:2000]
    if getattr(report, "wasxfail", None):      # journalled as skipped: keep the reason
        g.xfail = str(report.wasxfail)
    if report.when == "call" and g.console_excerpt:
        item.user_properties.append(("console_excerpt", g.console_excerpt[-4000:]))
        report.sections.append(("kharness console", g.console_excerpt[-8000:]))
    if report.when == "teardown":
        _journal(item, g)


def _classify(report: pytest.TestReport, call: pytest.CallInfo[None]) -> str:
    if report.skipped:
        return "skipped"
    if report.passed:
        return "passed"
    exc = call.excinfo.value if call.excinfo else None
    outcome = getattr(exc, "outcome", None)
    if outcome is not None and getattr(outcome, "value", "") in ("crash", "lockup", "timeout"):
        return str(outcome.value)
    if isinstance(exc, InfrastructureError):
        return "infra"
    return "failed" if report.when == "call" else "error"


def _journal(item: pytest.Item, g: Gathered) -> None:
    st = item.config.stash.get(_state_key, None)
    if st is None or st.journal is None:
        return
    from harness.results.records import Outcome, worst
    phases = g.phases
    cs = getattr(item, "callspec", None)
    target = cs.params.get("kh_target") if cs is not None else None
    knob = cs.params.get("knobset") if cs is not None else None
    if not isinstance(target, Target):
        return
    outcome = worst(phases.values())
    if set(phases.values()) == {"passed"}:
        outcome = Outcome.PASSED
    elif "skipped" in phases.values() and set(phases.values()) <= {"passed", "skipped"}:
        outcome = Outcome.SKIPPED       # skipped in setup or in the test body
    console = g.console_excerpt[-4000:] if outcome not in (Outcome.PASSED,
                                                            Outcome.SKIPPED) else ""
    kconfig = st.cfg.kconfig if st.cfg is not None else ""
    cell = "/".join(p for p in (target.arch, kconfig, target.variant) if p)
    identity: JsonObject = {"type": "test", "cell": cell, "arch": target.arch,
                            **({"config": kconfig} if kconfig else {}),
                            "variant": target.variant, "nodeid": item.nodeid,
                            "knobset": getattr(knob, "name", None), "outcome": outcome.value}
    st.journal.append(journal_record(identity, g, console))


def journal_record(identity: JsonObject, g: Gathered, console: str) -> TestRecord:
    """The journal record of a test: its identity, what the plugin gathered and what the
    test noted (a message the test set wins over pytest's), the notes read as the journal
    will hold them (JSON: tuples are lists, keys are strings). Notes that do not fit the
    record's types make it an error record saying which."""
    import json

    from harness.results.records import Outcome, RecordError, TestRecord
    notes = json.loads(json.dumps(g.notes, default=str))
    own: JsonObject = {"phases": dict(g.phases), "time": time.time(), "pid": os.getpid()}
    gathered: JsonObject = {
        "duration": g.duration, "xfail": g.xfail, "console": console or None,
        "splats": None if g.splats is None else [s.to_json() for s in g.splats],
        "message": None if "message" in notes else g.message}
    data = {**own, **notes, **{k: v for k, v in gathered.items() if v is not None},
            **identity}
    try:
        return TestRecord.from_json(data)
    except RecordError as e:
        bad = {**own, "duration": g.duration, **identity, "outcome": Outcome.ERROR.value,
               "message": f"kharness: this test's kh_record does not fit the journal: "
                          f"{e.one_line()}"}
        return TestRecord.from_json(bad)
