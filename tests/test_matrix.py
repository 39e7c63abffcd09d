"""The kernel-config axis: `configs:` parsing, the matrix of cells, verdicts per (arch,
config), the cost estimate of `kharness plan` from history, and what the nested pytest and
the repro folder are told. Unit tests: no kernel is built."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness import config
from harness.campaign import matrix, pytestcmd
from harness.campaign.run import RunOptions, cells_for, pytest_call
from harness.cli import main as cli
from harness.errors import UserError
from harness.kernel import build as buildmod
from harness.kernel import kconfig
from harness.results import history, summary, verdict
from harness.results.records import CellRecord, RunRecord, TestRecord
from harness.sources import tree

ROOT = Path(__file__).parent.parent
NIGHTLY = ROOT / "examples" / "nightly.yaml"
BASE = """\
kernel:
  source: {git: /nonexistent, ref: main}
  fragments: [virt, thp]
  options: [CONFIG_KSM=y]
series: {name: demo, versions: {v1: demo/v1}}
archs: [x86_64, arm64]
guest: {mem: 2G, cpus: 2}
knobs:
  - {name: pmd, sizes: PMD}
"""
CONFIGS = """\
configs:
  plain: [virt, thp]
  ptc: [..., page-table-check]
  big:
    archs: [aarch64]
    options: {ARM64_16K_PAGES: y}
    guest: {mem: 4G}
    knobs: [{name: small, sizes: [64K]}]
"""


def load(tmp_path: Path, text: str) -> config.Config:
    p = tmp_path / "kh.yaml"
    p.write_text(text)
    return config.load(p)


# ------------------------------------------------------------------------ configs:
def test_configs_expand_fragments_options_archs_guest_knobs(tmp_path: Path) -> None:
    cfg = load(tmp_path, BASE + CONFIGS)
    assert cfg.kconfig_names() == ("plain", "ptc", "big")
    ptc = cfg.for_kconfig("ptc")
    assert ptc.fragments == ("virt", "thp", "page-table-check")   # "..." = kernel.fragments
    assert ptc.options == ("CONFIG_KSM=y",) and ptc.archs == ("x86_64", "arm64")
    assert ptc.kconfig == "ptc" and ptc.guest == cfg.guest and ptc.guest.mem == "2G"
    big = cfg.for_kconfig("big")
    assert big.fragments == ("virt", "thp")                        # default: the kernel's
    assert big.options == ("CONFIG_KSM=y", "CONFIG_ARM64_16K_PAGES=y")
    assert big.archs == ("arm64",)                                 # alias resolved
    assert (big.guest.mem, big.guest.cpus) == ("4G", 2)           # merged over guest:
    assert [k.name for k in big.knobsets] == ["small-64K"]
    assert cfg.for_kconfig("") is cfg and [k.name for k in cfg.knobsets] == ["pmd"]


def test_no_configs_is_one_anonymous_config_with_old_cell_names(tmp_path: Path) -> None:
    cfg = load(tmp_path, BASE)
    assert cfg.kconfig_names() == ("",)
    cells = cells_for(cfg, RunOptions(config=cfg.path, out=tmp_path))
    assert [c.name for c in cells] == ["x86_64/baseline", "x86_64/patched",
                                       "arm64/baseline", "arm64/patched"]
    assert cells[1].slug == "x86_64-patched" and cells[1].record()["config"] == ""


@pytest.mark.parametrize(("entry", "needle"), [
    ("configs: [a, b]", "configs: must map config names"),
    ("configs:\n  bad/name: [virt]", "configs.bad/name: bad config name"),
    ("configs:\n  x: {fragment: [virt]}", "configs.x.fragment: unknown key"),
    ("configs:\n  x: {archs: [sparc]}", "sparc"),
    ("configs:\n  x: {options: [NOT AN OPTION]}", "configs.x.options"),
    ("configs:\n  x: {guest: {mem: 2G, cpus: 0}}", "cpus"),
    ("configs:\n  x: {guest: [1]}", "configs.x.guest: must be a mapping"),
])
def test_bad_configs_name_the_key(tmp_path: Path, entry: str, needle: str) -> None:
    with pytest.raises(UserError) as e:
        load(tmp_path, BASE + entry + "\n")
    assert needle in e.value.one_line()


def test_unknown_config_name_lists_the_known_ones(tmp_path: Path) -> None:
    cfg = load(tmp_path, BASE + CONFIGS)
    with pytest.raises(UserError) as e:
        cfg.for_kconfig("kasan")
    assert "kasan" in e.value.one_line() and "plain, ptc, big" in e.value.one_line()
    with pytest.raises(UserError, match="no configs: section"):
        load(tmp_path, BASE).for_kconfig("kasan")


# -------------------------------------------------------------------------- matrix
def test_matrix_is_configs_x_their_archs_x_variants(tmp_path: Path) -> None:
    cfg = load(tmp_path, BASE + CONFIGS)
    names = [c.name for c in cells_for(cfg, RunOptions(config=cfg.path, out=tmp_path))]
    assert names == ["x86_64/plain/baseline", "x86_64/plain/patched",
                     "arm64/plain/baseline", "arm64/plain/patched",
                     "x86_64/ptc/baseline", "x86_64/ptc/patched",
                     "arm64/ptc/baseline", "arm64/ptc/patched",
                     "arm64/big/baseline", "arm64/big/patched"]
    sel = RunOptions(config=cfg.path, out=tmp_path, archs=("x86_64",), kconfigs=("big", "ptc"),
                     variants=("patched",))
    assert [c.name for c in cells_for(cfg, sel)] == ["x86_64/ptc/patched"]   # big: arm64 only
    cell = matrix.Cell("arm64", "v1:2", "big")
    assert cell.slug == "arm64-big-v1_2" and cell.record() == {
        "cell": "arm64/big/v1:2", "arch": "arm64", "config": "big", "variant": "v1:2"}
    with pytest.raises(UserError, match="kasan"):
        cells_for(cfg, RunOptions(config=cfg.path, out=tmp_path, kconfigs=("kasan",)))


def test_each_config_requests_its_own_kernel(tmp_path: Path) -> None:
    """The kconfig request (hence the build key and slot) differs per config, not per name."""
    cfg = load(tmp_path, BASE + CONFIGS)
    from harness import arch
    texts = {k: kconfig.merge(kconfig.collect(cfg.for_kconfig(k).fragments,
                                              cfg.for_kconfig(k).options, arch.get("arm64"),
                                              (cfg.base_dir,))).as_text()
             for k in cfg.kconfig_names()}
    assert "CONFIG_PAGE_TABLE_CHECK=y" in texts["ptc"] and "PAGE_TABLE_CHECK" not in texts["plain"]
    assert "CONFIG_ARM64_16K_PAGES=y" in texts["big"] and "CONFIG_KSM=y" in texts["plain"]
    assert len(set(texts.values())) == 3


def test_nested_pytest_gets_the_config(tmp_path: Path) -> None:
    cfg = load(tmp_path, BASE + CONFIGS)
    opts = RunOptions(config=cfg.path, out=tmp_path)
    argv = pytestcmd.argv(pytest_call(cfg, matrix.Cell("arm64", "patched", "big"), opts, tmp_path))
    assert argv[argv.index("--kharness-kconfig") + 1] == "big"
    plain = pytestcmd.argv(pytest_call(cfg, matrix.Cell("arm64", "patched"), opts, tmp_path))
    assert "--kharness-kconfig" not in plain


def test_nightly_example_has_three_configs_and_arm64_16k() -> None:
    cfg = config.load(NIGHTLY)
    assert len(cfg.kconfig_names()) >= 3 and "arm64-16k" in cfg.kconfig_names()
    a16 = cfg.for_kconfig("arm64-16k")
    assert a16.archs == ("arm64",) and a16.fragments[-1] == "pages-16k"
    assert cfg.for_kconfig("racers").guest.numa_nodes == 2
    assert [k.name for k in cfg.for_kconfig("arm64-16k").knobsets] == [
        "mthp-64K-none0", "mthp-64K-nonemax"]


# ------------------------------------------------------------------------ verdicts
def rec(config_: str, variant: str, test: str, outcome: str, *titles: str) -> TestRecord:
    return TestRecord.from_json(rec_json(config_, variant, test, outcome, *titles))


def rec_json(config_: str, variant: str, test: str, outcome: str, *titles: str
             ) -> dict[str, Any]:
    cell = "/".join(p for p in ("x86_64", config_, variant) if p)
    return {"type": "test", "cell": cell, "arch": "x86_64", "config": config_, "knobset": None,
            "variant": variant, "nodeid": f"t.py::{test}[x86_64-{variant}]", "outcome": outcome,
            "splats": [{"kind": "warning", "title": t} for t in titles]}


def test_verdicts_compare_variants_within_one_config() -> None:
    """Same node ids in two configs: the ptc regression is ptc's; debug stays clean, and a
    splat of debug's baseline does not make ptc's patched splat look pre-existing."""
    records = [rec("debug", "baseline", "test_a", "passed", "WARNING in x"),
               rec("debug", "patched", "test_a", "passed", "WARNING in x"),
               rec("ptc", "baseline", "test_a", "passed"),
               rec("ptc", "patched", "test_a", "failed", "WARNING in x")]
    debug, ptc = verdict.compare(records)
    assert (debug.config, debug.regression, ptc.config, ptc.regression) == \
        ("debug", False, "ptc", True)
    assert [s.splat.title for s in ptc.new_splats] == ["WARNING in x"]
    assert ptc.holds(records[3]) and not ptc.holds(records[1])
    text = summary.verdict_text([debug, ptc])
    assert "== x86_64 config=ptc knobs=-: patched vs baseline: REGRESSION" in text
    assert "== x86_64 config=debug knobs=-: patched vs baseline: no regression" in text
    table = summary.cell_table(records)
    assert "x86_64/ptc/patched" in table.splitlines()[-1]


def test_old_journals_without_config_group_as_before() -> None:
    records = [TestRecord.from_json({k: v for k, v in rec_json("", v, "test_a", "passed").items()
                                     if k != "config"}) for v in ("baseline", "patched")]
    (g,) = verdict.compare(records)
    assert g.config == "" and g.where == "x86_64" and g.holds(records[0])


# ----------------------------------------------------------- plan: costs from history
def store_run(hist: Path, out: Path, name: str, cells: list[dict[str, Any]]) -> None:
    with history.open_store(hist) as conn:
        history.store(conn, out, RunRecord.from_json({"name": name, "started": "t"}),
                      [CellRecord.from_json({"type": "cell", **c}) for c in cells])


def test_plan_estimates_from_history_medians_else_defaults(tmp_path: Path) -> None:
    hist = tmp_path / "history"
    for n, (tests, build, cached) in enumerate([(100.0, 300.0, False), (140.0, 0.2, True),
                                                (120.0, 360.0, False)]):
        store_run(hist, tmp_path / f"r{n}", "nightly", [
            {"cell": "x86_64/ptc/baseline", "status": "done", "seconds": tests,
             "build": {"dir": "/b", "seconds": build, "cached": cached}}])
    store_run(hist, tmp_path / "other", "other", [
        {"cell": "x86_64/ptc/baseline", "status": "done", "seconds": 9999.0,
         "build": {"dir": "/b", "seconds": 9999.0, "cached": False}}])
    costs = history.costs_from(hist, "nightly")
    assert costs["x86_64/ptc/baseline"] == history.CellCost(build=330.0, tests=120.0, runs=3)
    est = matrix.estimate(matrix.Cell("x86_64", "baseline", "ptc"), costs)
    assert (est.build, est.tests, est.source) == (330.0, 120.0, "history (3 runs)")
    new = matrix.estimate(matrix.Cell("x86_64", "patched", "ptc"), costs)
    assert (new.build, new.tests, new.source) == (
        matrix.DEFAULT_INCREMENTAL_BUILD, matrix.DEFAULT_TESTS, "default")
    assert history.costs_from(tmp_path / "none", "nightly") == {}
    assert not (tmp_path / "none").exists()                  # plan creates no store


def test_old_history_store_gains_the_cached_column(tmp_path: Path) -> None:
    hist = tmp_path / "history"
    hist.mkdir()
    old = history.SCHEMA.replace(", build_cached INTEGER", "")
    with sqlite3.connect(hist / "history.sqlite") as conn:
        conn.executescript(old)
    store_run(hist, tmp_path / "r", "n", [{"cell": "x86_64/baseline", "status": "done",
                                           "seconds": 5.0, "build": {"cached": False,
                                                                     "seconds": 7.0}}])
    assert history.costs_from(hist, "n")["x86_64/baseline"].build == 7.0


def test_kharness_plan_prints_the_matrix_with_costs(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    hist = tmp_path / "history"
    store_run(hist, tmp_path / "r", "nightly", [
        {"cell": "x86_64/ptc/baseline", "status": "done", "seconds": 125.0,
         "build": {"dir": "/b", "seconds": 400.0, "cached": False}}])
    assert cli.main(["plan", str(NIGHTLY), "--history", str(hist)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line.count("/") == 2
            and not line.startswith(" ")}
    assert set(rows) == {f"{a}/{k}/{v}" for a, k in [("x86_64", "debug"), ("x86_64", "ptc"),
                                                     ("x86_64", "racers"), ("arm64", "arm64-16k")]
                         for v in ("baseline", "patched")}
    assert rows["x86_64/ptc/baseline"].split()[1:] == ["6m40s", "2m05s", "history", "(1", "run)"]
    assert rows["arm64/arm64-16k/baseline"].split()[1:] == ["3m45s", "15m00s", "default"]
    assert "matrix: 8 cells over 4 kernel config(s), 2 arch(s), 2 variant(s)" in out
    assert "[x86_64 ptc baseline]" in out and "[arm64 arm64-16k patched]" in out
    assert cli.main(["plan", str(NIGHTLY), "--kconfig", "ptc", "--history", str(hist)]) == 0
    assert "matrix: 2 cells over 1 kernel config(s)" in capsys.readouterr().out


# ------------------------------------------------------------------------- repro
def test_repro_config_keeps_only_the_cells_config(tmp_path: Path) -> None:
    from harness.campaign import repro
    from harness.results.runinfo import RunInfo
    shutil.copytree(ROOT / "examples" / "demo-series", tmp_path / "demo-series")
    cfgpath = tmp_path / "nightly.yaml"
    cfgpath.write_text(NIGHTLY.read_text())
    out = tmp_path / "run"
    dest = tmp_path / "repro"
    dest.mkdir()
    info = RunInfo(out, RunRecord.from_json({"config": str(cfgpath)}))
    assert repro._config_yaml(info, "arm64", "patched", dest, "arm64-16k")
    data = yaml.safe_load((dest / "kharness.yaml").read_text())
    assert list(data["configs"]) == ["arm64-16k"] and data["archs"] == ["arm64"]
    narrowed = config.from_dict(data, dest / "kharness.yaml")
    assert [c.name for c in cells_for(narrowed, RunOptions(config=cfgpath, out=out))] == [
        "arm64/arm64-16k/baseline", "arm64/arm64-16k/patched"]


def test_resumed_run_keeps_the_cells_of_earlier_attempts(tmp_path: Path) -> None:
    """`--resume DIR --kconfig ptc` adds ptc's cells to run.json, keeping the earlier ones."""
    from harness.campaign import run
    (tmp_path / "run.json").write_text('{"cells": ["x86_64/debug/baseline"], '
                                       '"kconfigs": {"debug": {"fragments": ["virt"]}}}')
    meta = RunRecord(config="k.yaml", name="n", config_sha256="0",
                     cells=("x86_64/ptc/baseline", "x86_64/debug/baseline"),
                     kconfigs={"ptc": {"fragments": ["virt", "page-table-check"]}},
                     source={}, series=None, qemu={}, host="h", cpus=2, started="t", command="c")
    got = run._resumed(tmp_path, meta)
    assert got.cells == ("x86_64/debug/baseline", "x86_64/ptc/baseline")
    assert set(got.kconfigs or {}) == {"debug", "ptc"}
    assert run._resumed(tmp_path / "none", meta) == meta


def test_each_cell_is_built_with_its_configs_fragments(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """_build_cells asks the build for the cell's config, not the kernel: section."""
    from harness.campaign import run
    cfg = load(tmp_path, BASE + CONFIGS)
    asked: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]] = []

    def request_for(c: config.Config, v: config.Variant, arch: str, **kw: Any) -> str:
        asked.append((arch, c.kconfig, c.fragments, c.options))
        return f"{arch}/{c.kconfig}/{v.label}"

    monkeypatch.setattr(tree, "resolve", lambda spec: None)
    monkeypatch.setattr(buildmod, "request_for", request_for)
    monkeypatch.setattr(buildmod, "build", lambda req: type(
        "B", (), {"dir": Path(req), "cached": True, "seconds": 0.0})())
    cells = cells_for(cfg, RunOptions(config=cfg.path, out=tmp_path, variants=("baseline",)))
    built, failed = run._build_cells(cfg, cells)
    assert not failed
    assert {c.name: str(b.dir) for c, b in built.items()} == {
        c.name: c.name for c in cells}
    assert ("x86_64", "ptc", ("virt", "thp", "page-table-check"), ("CONFIG_KSM=y",)) in asked
    assert ("arm64", "big", ("virt", "thp"), ("CONFIG_KSM=y", "CONFIG_ARM64_16K_PAGES=y")) \
        in asked and len(asked) == 5
