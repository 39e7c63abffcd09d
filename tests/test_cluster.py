"""Shards, merge, and the cluster's pure parts (placement, security, bundle, caps, worker
argv), without kernels. The real cluster and shards: tests/test_cluster_real.py."""

from __future__ import annotations

import argparse
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.campaign import cluster, merge, remote, shard
from harness.campaign.run import Cell, CellOutcome, RunOptions, cell_record
from harness.cli import worker as workercli
from harness.config import load
from harness.errors import InfrastructureError, UserError
from harness.results import journal as results
from harness.results.records import BuildInfo, CellRecord, CellStatus
from harness.util import write_json

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class C:
    name: str


def test_shards_cut_the_matrix_into_contiguous_balanced_blocks() -> None:
    cells = [C(f"c{i}") for i in range(7)]
    parts = [shard.select(cells, shard.parse(f"{i}/3")) for i in (1, 2, 3)]
    assert [[c.name for c in p] for p in parts] == [["c0", "c1"], ["c2", "c3"],
                                                    ["c4", "c5", "c6"]]
    for n in (1, 2, 5, 7, 9):
        parts = [shard.select(cells, shard.parse(f"{i}/{n}")) for i in range(1, n + 1)]
        assert [c for p in parts for c in p] == cells            # each cell once, in order
        assert max(map(len, parts)) - min(map(len, parts)) <= 1
    assert shard.select(cells, shard.parse("9/9")) == [cells[6]]


@pytest.mark.parametrize("bad", ["0/2", "3/2", "1/0", "a/b", "1", "-1/2"])
def test_bad_shard_is_a_usage_error(bad: str) -> None:
    with pytest.raises(UserError, match="bad --shard"):
        shard.parse(bad)


def test_cell_names_narrow_and_unknown_ones_are_refused() -> None:
    cells = [Cell("x86_64", "baseline"), Cell("x86_64", "patched"), Cell("arm64", "patched")]
    assert shard.select(cells, None, ["arm64/patched"]) == [cells[2]]
    assert shard.select(cells, shard.parse("2/2"), ["x86_64/baseline", "arm64/patched"]) == \
        [cells[2]]
    quickstart = [Cell(a, v) for a in ("x86_64", "arm64") for v in ("baseline", "patched")]
    assert shard.select(quickstart, shard.parse("2/2")) == quickstart[2:]   # arm64's pair
    with pytest.raises(UserError, match="not in the matrix"):
        shard.select(cells, None, ["arm64/baseline"])


def _slice(d: Path, cells: list[str], sha: str = "abc", checks: int = 1,
           shard_label: str | None = None) -> Path:
    d.mkdir(parents=True)
    write_json(d / "run.json", {"config_sha256": sha, "cells": cells, "shard": shard_label,
                                "durations": {"total": 10.0}, "started": "2026-12-07T01:00:00Z",
                                "finished": "2026-12-07T01:10:00Z", "host": "h"})
    j = results.Journal(d / "results.jsonl")
    for k in range(checks):
        j.append({"type": "check", "check": "gcc", "arch": "x86_64", "version": "v1", "patch": 1,
                  "status": "pass", "seconds": k})
    for c in cells:
        slug = c.replace("/", "-")
        (d / "cells" / slug).mkdir(parents=True)
        (d / "cells" / slug / "console.log").write_text(f"console of {c}\n")
        j.append({"type": "test", "cell": c, "nodeid": "t::a", "outcome": "passed",
                  "evidence": str(d / "cells" / slug / "console.log")})
        j.append({"type": "cell", "cell": c, "status": "done"})
    return d


def test_merge_joins_slices_rewrites_paths_and_keeps_checks_once(tmp_path: Path) -> None:
    a = _slice(tmp_path / "a", ["x/baseline"], shard_label="1/2")
    b = _slice(tmp_path / "b", ["x/patched"], shard_label="2/2")
    out = merge.merge([a, b], tmp_path / "m")
    recs = list(results.read(out / "results.jsonl"))
    assert [r["type"] for r in recs].count("check") == 1
    tests = [r for r in recs if r["type"] == "test"]
    assert [r["evidence"] for r in tests] == [str(out / "cells" / "x-baseline" / "console.log"),
                                              str(out / "cells" / "x-patched" / "console.log")]
    assert all(Path(str(r["evidence"])).read_text().startswith("console of") for r in tests)
    meta = json.loads((out / "run.json").read_text())
    assert meta["cells"] == ["x/baseline", "x/patched"] and meta["shard"] is None
    assert [m["shard"] for m in meta["merged_from"]] == ["1/2", "2/2"]
    with pytest.raises(UserError, match="already holds a run"):
        merge.merge([a, b], out)


@pytest.mark.parametrize("name", ["cluster-retry", "two-arch", "nightly-2"])
def test_merge_writes_each_record_as_read_paths_moved(tmp_path: Path, name: str) -> None:
    """Records go through their types and back: the merged journal is the slice's, line for
    line, with only the paths under the slice's home moved (what a JSON rewrite does)."""
    data = ROOT / "tests" / "data" / "journals"
    a = tmp_path / "a"
    a.mkdir()
    shutil.copy(data / f"{name}.jsonl", a / "results.jsonl")
    shutil.copy(data / f"{name}.run.json", a / "run.json")
    home = str(json.loads((a / "run.json").read_text()).get("out") or a)
    out = merge.merge([a], tmp_path / "m")
    want = [merge.rebase(merge.rebase(r, home, str(out)), str(a), str(out))
            for r in results.read(a / "results.jsonl")]
    got = (out / "results.jsonl").read_text().splitlines()
    assert got == [json.dumps(r, sort_keys=True) for r in want]


def test_merge_rewrites_paths_of_a_slice_written_elsewhere(tmp_path: Path) -> None:
    """A CI shard ran in /builds/runner/runs/shard-1 and was downloaded here."""
    a = _slice(tmp_path / "a", ["x/baseline"])
    meta = json.loads((a / "run.json").read_text())
    write_json(a / "run.json", {**meta, "out": "/builds/runner/runs/shard-1"})
    recs = [merge.rebase(r, str(a), "/builds/runner/runs/shard-1")
            for r in results.read(a / "results.jsonl")]
    (a / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    out = merge.merge([a], tmp_path / "m")
    tests = [r for r in results.read(out / "results.jsonl") if r["type"] == "test"]
    assert tests[0]["evidence"] == str(out / "cells" / "x-baseline" / "console.log")


def test_merge_refuses_other_configs_and_a_cell_twice(tmp_path: Path) -> None:
    a = _slice(tmp_path / "a", ["x/baseline"])
    with pytest.raises(UserError, match="different configs"):
        merge.merge([a, _slice(tmp_path / "b", ["x/patched"], sha="def")], tmp_path / "m1")
    with pytest.raises(UserError, match="finished in both"):
        merge.merge([a, _slice(tmp_path / "c", ["x/baseline"])], tmp_path / "m2")
    with pytest.raises(UserError, match="not a run directory"):
        merge.merge([a, tmp_path], tmp_path / "m3")


def test_rebase_moves_only_paths_under_the_old_directory() -> None:
    rec = {"a": "/w/run/cells/x", "b": ["/w/run", "/w/runner/x", 3], "c": {"d": "/w/run/y"}}
    assert merge.rebase(rec, "/w/run", "/out") == {
        "a": "/out/cells/x", "b": ["/out", "/w/runner/x", 3], "c": {"d": "/out/y"}}


def test_placement_prefers_kvm_falls_back_to_tcg_and_refuses_what_nobody_runs() -> None:
    tcg_only: dict[str, dict[str, float]] = {"w1": {"cores": 2, "tcg-x86_64": 2,
                                                    "tcg-arm64": 2}}
    with_kvm: dict[str, dict[str, float]] = {
        **tcg_only, "w2": {"cores": 4, "kvm-arm64": 4, "tcg-arm64": 4}}
    assert cluster.requirements("arm64", tcg_only) == {"cores": 1, "tcg-arm64": 1}
    assert cluster.requirements("arm64", with_kvm) == {"cores": 1, "kvm-arm64": 1}
    assert cluster.requirements("x86_64", with_kvm) == {"cores": 1, "tcg-x86_64": 1}
    with pytest.raises(InfrastructureError, match="can run riscv64"):
        cluster.requirements("riscv64", with_kvm)


def test_placement_asks_for_guest_memory_where_workers_advertise_it() -> None:
    ours: dict[str, dict[str, float]] = {"w1": {"cores": 2, "tcg-x86_64": 2, "mem-mib": 16000}}
    plain: dict[str, dict[str, float]] = {"w2": {"cores": 2, "tcg-x86_64": 2}}
    assert cluster.requirements("x86_64", ours, 2048) == {"cores": 1, "tcg-x86_64": 1,
                                                          "mem-mib": 2048}
    assert cluster.requirements("x86_64", {**ours, **plain}, 2048) == {"cores": 1,
                                                                       "tcg-x86_64": 1}
    with pytest.raises(InfrastructureError, match="no worker has 32768 MiB"):
        cluster.requirements("x86_64", ours, 32768)


@pytest.mark.parametrize(("address", "loopback"), [
    ("tcp://127.0.0.1:8786", True), ("tcp://localhost:8786", True), ("tcp://[::1]:8786", True),
    ("tcp://10.0.0.5:8786", False), ("tls://sched.lab:8786", False), ("127.0.0.2:1", True)])
def test_loopback(address: str, loopback: bool) -> None:
    assert cluster.is_loopback(address) is loopback


def test_non_loopback_cluster_needs_tls_or_an_explicit_insecure() -> None:
    assert cluster.ClusterOptions("tcp://127.0.0.1:8786").security() is None
    with pytest.raises(UserError, match="not a loopback address"):
        cluster.ClusterOptions("tcp://10.0.0.5:8786").security()
    assert cluster.ClusterOptions("tcp://10.0.0.5:8786", insecure=True).security() is None
    with pytest.raises(UserError, match="together"):
        cluster.ClusterOptions("tls://10.0.0.5:8786", tls_ca="ca.pem").security()


def test_tls_security_is_dask_security(tmp_path: Path) -> None:
    sec = cluster.ClusterOptions("tls://10.0.0.5:8786", tls_ca="ca.pem", tls_cert="c.pem",
                                 tls_key="k.pem").security()
    assert sec.require_encryption and sec.tls_ca_file == "ca.pem"


def test_bundle_ships_the_config_folder_and_unpacks_to_the_same_config(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KHARNESS_CACHE", str(tmp_path / "cache"))
    cfg = load(ROOT / "examples" / "quickstart.yaml")
    b = remote.make_bundle(cfg)
    assert b.config == "quickstart.yaml"
    assert any(p.startswith("demo-series/v1/") for p, _ in b.files)
    there = load(remote.unpack(b))
    assert there.path != cfg.path and there.name == cfg.name
    assert there.series is not None and cfg.series is not None
    theirs = Path(there.series.versions[0][1])
    assert theirs.is_dir() and theirs.is_relative_to(tmp_path / "cache")
    assert remote.unpack(b) == there.path               # once per digest


def test_bundle_refuses_a_series_outside_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "cfg").mkdir()
    (tmp_path / "series").mkdir()
    (tmp_path / "cfg" / "k.yaml").write_text(
        "kernel: {source: {debian: linux-source-7.2}}\nseries: {name: s, versions: "
        "{v1: ../series}}\n")
    with pytest.raises(UserError, match="outside"):
        remote.make_bundle(load(tmp_path / "cfg" / "k.yaml"))


def test_collect_caps_files_and_the_cell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote, "FILE_CAP", 100)
    monkeypatch.setattr(remote, "CELL_CAP", 300)
    (tmp_path / "vm1").mkdir()
    (tmp_path / "vm1" / "console.log").write_bytes(b"x" * 150 + b"TAIL")
    (tmp_path / "vm1" / "initrd.cpio").write_bytes(b"c" * 10)
    (tmp_path / "vm1" / "id_ed25519").write_bytes(b"key")
    (tmp_path / "junit.xml").write_bytes(b"j" * 90)
    (tmp_path / "pytest.log").write_bytes(b"p" * 90)
    (tmp_path / "z.log").write_bytes(b"z" * 90)
    files = dict(remote.collect(tmp_path))          # smallest first, as many as fit
    assert set(files) == {"junit.xml", "pytest.log", "z.log", "cluster-dropped.txt"}
    assert b"vm1/console.log (145 bytes)" in files["cluster-dropped.txt"]
    head = remote.capped((tmp_path / "vm1" / "console.log").read_bytes())
    assert head.startswith(b"[kharness: first 54 bytes dropped (cap 100)]\n")
    assert head.endswith(b"x" * 96 + b"TAIL")


def test_land_files_stays_inside_the_cell(tmp_path: Path) -> None:
    res = remote.CellResult(CellStatus.DONE, "w", "/x", "/b",
                            files=(("a/b.log", b"ok"), ("../../evil", b"no")))
    cluster.land_files(res, tmp_path / "cells" / "c")
    assert (tmp_path / "cells" / "c" / "a" / "b.log").read_bytes() == b"ok"
    assert not (tmp_path / "evil").exists()


def test_timing_splits_queueing_from_cluster_overhead() -> None:
    t = cluster.timing(submitted=100.0, started=130.0, task=50.0, landed=180.4)
    assert t == {"queued": 30.0, "task": 50.0, "overhead": 0.4}


def test_cluster_cell_record_says_where_and_how_often(tmp_path: Path) -> None:
    cfg = load(ROOT / "examples" / "quickstart.yaml")
    opts = RunOptions(config=cfg.path, out=tmp_path)
    o = CellOutcome(Cell("x86_64", "patched"), CellStatus.DONE, pytest_exit=0, seconds=3.0,
                    build=BuildInfo("/b", True, 0.0), worker="tcp://127.0.0.1:1", retries=1,
                    timing={"queued": 0.1, "task": 3.0, "overhead": 0.2})
    cell = cell_record(cfg, o, opts)
    rec = cell.to_json()
    assert rec["worker"] == "tcp://127.0.0.1:1" and rec["infra_retries"] == 1
    assert CellRecord.from_json(rec).to_json() == rec          # the journal's exact round trip
    assert rec["cluster"] == {"queued": 0.1, "task": 3.0, "overhead": 0.2} and "reproduce" in rec
    local = cell_record(cfg, CellOutcome(Cell("x86_64", "baseline"), CellStatus.DONE, 0, 1.0,
                                         BuildInfo("/b", True, 0.0)), opts).to_json()
    assert "worker" not in local and "infra_retries" not in local
    lost = cell_record(cfg, CellOutcome(Cell("x86_64", "patched"), CellStatus.INFRA,
                                        message="lost", worker="", retries=2), opts).to_json()
    assert (lost["worker"], lost["infra_retries"], lost["cluster"]) == ("", 2, None)
    failed = cell_record(cfg, CellOutcome(Cell("x86_64", "patched"),
                                          CellStatus.BUILD_FAILED, message="no"), opts).to_json()
    assert failed == {"type": "cell", "cell": "x86_64/patched", "arch": "x86_64",
                      "variant": "patched", "status": "build-failed", "message": "no"}


def _worker_args(**kw: Any) -> argparse.Namespace:
    base = {"scheduler": "tcp://127.0.0.1:8786", "host": "127.0.0.1", "name": "w1",
            "no_nanny": False, "tls_ca": None, "tls_cert": None, "tls_key": None,
            "insecure": False}
    return argparse.Namespace(**{**base, **kw})


def test_worker_advertises_cores_and_what_its_qemu_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which",
                        lambda b: "/usr/bin/" + b if b == "qemu-system-aarch64" else None)
    assert workercli.resources(4, {"arm64": True}, mem_mib=8000) == {
        "cores": 4, "mem-mib": 8000, "tcg-arm64": 4, "kvm-arm64": 4}
    assert workercli.resources(1)["mem-mib"] > 0
    argv = workercli.worker_argv(_worker_args(), {"cores": 4, "tcg-arm64": 4})
    assert argv[argv.index("--resources") + 1] == "cores=4,tcg-arm64=4"
    assert argv[argv.index("--nthreads") + 1] == "4"
    assert argv[argv.index("--host") + 1] == "127.0.0.1" and "--no-dashboard" in argv


def test_worker_listens_beyond_loopback_only_with_tls_or_insecure() -> None:
    with pytest.raises(UserError, match="not loopback"):
        workercli.worker_argv(_worker_args(host="192.0.2.1"), {"cores": 1})
    assert "--tls-ca-file" in workercli.worker_argv(
        _worker_args(host="192.0.2.1", tls_ca="a", tls_cert="b", tls_key="c"), {"cores": 1})
    assert workercli.worker_argv(_worker_args(host="192.0.2.1", insecure=True), {"cores": 1})


def test_seed_cache_hardlinks_and_copies_appended_files(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "builds" / "k").mkdir(parents=True)
    (src / "builds" / "k" / "vmlinux").write_bytes(b"elf")
    (src / "sources" / "r" / "logs").mkdir(parents=True)
    (src / "sources" / "r" / "logs" / "HEAD").write_text("reflog\n")
    (src / "work" / "slot").mkdir(parents=True)
    (src / "work" / "slot" / "obj").write_text("x")
    os.mkfifo(src / "builds" / "k" / "fifo")          # a reader would block forever
    (src / "builds" / "k" / "link").symlink_to("vmlinux")
    assert workercli.seed_cache(src, dst) == 2
    assert os.path.samefile(src / "builds" / "k" / "vmlinux", dst / "builds" / "k" / "vmlinux")
    assert not os.path.samefile(src / "sources" / "r" / "logs" / "HEAD",
                                dst / "sources" / "r" / "logs" / "HEAD")
    assert not (dst / "work").exists()


class FakeClient:
    """The two calls placement makes, answering as two workers would."""

    def __init__(self, held: dict[str, list[str]]) -> None:
        self.held = held

    def run(self, func: Any, slots: list[str]) -> dict[str, list[str]]:
        assert func is remote.held_slots
        return {w: [s for s in slots if s in have] for w, have in self.held.items()}

    def scheduler_info(self, n_workers: int = 5) -> dict[str, Any]:
        assert n_workers == -1                    # every worker, not Dask's first five
        return {"workers": {w: {"resources": {"cores": 1}} for w in self.held}}


def test_cells_prefer_the_workers_holding_their_kernel(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    client = FakeClient({"tcp://a": ["s1"], "tcp://b": ["s1", "s2"]})
    assert cluster.preferred_workers(client, ["s1", "s2", "s3"]) == {
        "s1": ["tcp://a", "tcp://b"], "s2": ["tcp://b"]}
    assert cluster.worker_resources(client) == {"tcp://a": {"cores": 1}, "tcp://b": {"cores": 1}}
    monkeypatch.setenv("KHARNESS_CACHE", str(tmp_path))
    remote.remember_slot("s9")
    assert remote.held_slots(["s8", "s9"]) == ["s9"]


def test_slot_ids_name_a_kernel_per_bundle_and_cell() -> None:
    cfg = load(ROOT / "examples" / "quickstart.yaml")
    b = remote.make_bundle(cfg)
    ids = {cluster.slot_id(b, Cell(a, v)) for a in ("x86_64", "arm64")
           for v in ("baseline", "patched")}
    assert len(ids) == 4
    assert cluster.slot_id(b, Cell("arm64", "patched")) == \
        cluster.slot_id(remote.make_bundle(cfg), Cell("arm64", "patched"))
