"""Build logic against the fake kernel tree (real git, real make, fake kbuild)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from harness import arch, config
from harness.errors import InfrastructureError, UserError
from harness.kernel import build
from harness.sources import series
from tests.conftest import git, make_series, write_config

V1 = "int khugepaged(void) { return 42; /* kharness-demo */ }\n"


@pytest.fixture
def cfg(fake_repo: Path, tmp_path: Path, isolated_cache: Path) -> config.Config:
    d = make_series(fake_repo, tmp_path / "v1", [("mm: one", V1), ("mm: two", V1 + "//2\n")])
    return config.load(write_config(tmp_path / "k.yaml", fake_repo, {"v1": str(d)}))


def test_baseline_and_patched_differ_and_cache_hits(cfg: config.Config) -> None:
    base = build.build(build.request_for(cfg, cfg.variant("baseline"), "x86_64"))
    patched = build.build(build.request_for(cfg, cfg.variant("patched"), "x86_64"))
    assert b"kharness-demo" in patched.vmlinux.read_bytes()
    assert b"kharness-demo" not in base.vmlinux.read_bytes()
    assert not base.cached and not patched.cached and base.dir != patched.dir
    t0 = time.monotonic()
    again = build.build(build.request_for(cfg, cfg.variant("patched"), "x86_64"))
    assert again.cached and again.dir == patched.dir and time.monotonic() - t0 < 2
    meta = patched.metadata()
    assert meta["series"]["version"] == "v1" and meta["series"]["prefix"] == "2"
    assert meta["variant"] == "patched" and "make" in meta["command"]
    assert (patched.dir / "config").read_text().count("CONFIG_SWAP=y") == 1


def test_cache_hit_marks_the_entry_used(cfg: config.Config) -> None:
    """`kharness cache prune` drops builds by mtime: a hit must count as a use."""
    import os
    base = build.build(build.request_for(cfg, cfg.variant("baseline"), "x86_64"))
    os.utime(base.dir, (1_000_000, 1_000_000))
    assert build.build(build.request_for(cfg, cfg.variant("baseline"), "x86_64")).cached
    assert base.dir.stat().st_mtime > time.time() - 60
    os.utime(base.dir, (1_000_000, 1_000_000))
    assert build.lookup(build.request_for(cfg, cfg.variant("baseline"), "x86_64")) is not None
    assert base.dir.stat().st_mtime > time.time() - 60


def test_prefix_builds_first_k_patches(cfg: config.Config) -> None:
    one = build.build(build.request_for(cfg, cfg.variant("v1:1"), "x86_64"))
    two = build.build(build.request_for(cfg, cfg.variant("v1:2"), "x86_64"))
    assert b"//2" not in one.vmlinux.read_bytes() and b"//2" in two.vmlinux.read_bytes()
    assert one.metadata()["series"]["prefix"] == "1"


def test_same_tree_same_key(cfg: config.Config) -> None:
    a = build.request_for(cfg, cfg.variant("v1:0"), "x86_64")
    b = build.request_for(cfg, cfg.variant("baseline"), "x86_64")
    assert a.key("gcc") == b.key("gcc")
    c = build.request_for(cfg, cfg.variant("baseline"), "x86_64", extra_options=("CONFIG_X=y",))
    assert c.key("gcc") != a.key("gcc")
    # an extra fragment the config already has (kharness boot adding `disk`) changes nothing
    d = build.request_for(cfg, cfg.variant("baseline"), "x86_64",
                          extra_fragments=(cfg.fragments[0], cfg.fragments[0]))
    assert d.key("gcc") == a.key("gcc") and d.fragments == cfg.fragments


def test_compile_error_is_a_finding_with_error_lines(cfg: config.Config, fake_repo: Path) -> None:
    (fake_repo / "FAIL").write_text("1")
    git(fake_repo, "add", "FAIL")
    git(fake_repo, "commit", "-qm", "break")
    cfg2 = config.load(write_config(cfg.path, fake_repo))
    with pytest.raises(build.BuildFailed) as e:
        build.build(build.request_for(cfg2, cfg2.variant("baseline"), "x86_64"))
    assert "expected ';'" in str(e.value) and e.value.exit_code == 1
    assert "Error 1" in str(e.value)


def test_interrupted_build_leaves_no_artifact(cfg: config.Config, isolated_cache: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*a: object, **k: object) -> None:
        raise KeyboardInterrupt
    monkeypatch.setattr(build, "write_json", boom)
    with pytest.raises(KeyboardInterrupt):
        build.build(build.request_for(cfg, cfg.variant("baseline"), "x86_64"))
    builds = isolated_cache / "builds"
    assert not [p for p in builds.iterdir() if (p / "metadata.json").exists()]
    assert build.lookup(build.request_for(cfg, cfg.variant("baseline"), "x86_64")) is None


def test_missing_cross_compiler_is_one_clear_error(cfg: config.Config,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _: None)
    with pytest.raises(InfrastructureError, match="compiler .*gcc not found"):
        build.toolchain_version(arch.get("arm64"))


def test_series_patch_failure_through_build(cfg: config.Config, fake_repo: Path) -> None:
    (fake_repo / "mm" / "khugepaged.c").write_text("int other;\n")
    git(fake_repo, "commit", "-qam", "diverge")
    cfg2 = config.load(cfg.path)
    with pytest.raises(UserError, match="patch 1/2 \"mm: one\" does not apply"):
        build.request_for(cfg2, cfg2.variant("patched"), "x86_64")
    assert series  # module used via build


def test_boot_artifact_is_vmlinux_only_with_a_direct_boot_option() -> None:
    from harness import arch
    x86, arm = arch.get("x86_64"), arch.get("arm64")
    assert build.boot_artifact(x86, "CONFIG_X=y\nCONFIG_PVH=y\n", "bzImage") == "vmlinux"
    assert build.boot_artifact(x86, "CONFIG_PVH=y\n", "bzImage") == "vmlinux"
    assert build.boot_artifact(x86, "# CONFIG_PVH is not set\n", "bzImage") == "bzImage"
    assert build.boot_artifact(x86, "CONFIG_PVH_X=y\n", "bzImage") == "bzImage"
    assert build.boot_artifact(arm, "CONFIG_PVH=y\n", "Image") == "Image"


def test_a_series_touching_no_kconfig_file_skips_configure(
        cfg: config.Config, fake_repo: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.kernel import kconfig
    calls: list[Path] = []
    real = kconfig.generate

    def generate(tree: Path, *a: Any, **k: Any) -> Any:
        calls.append(tree)
        return real(tree, *a, **k)
    monkeypatch.setattr(kconfig, "generate", generate)
    build.build(build.request_for(cfg, cfg.variant("baseline"), "x86_64"))
    build.build(build.request_for(cfg, cfg.variant("patched"), "x86_64"))   # mm/khugepaged.c
    assert len(calls) == 1
    # a series that changes a Kconfig file is configured again
    git(fake_repo, "checkout", "-q", "-b", "kc")
    (fake_repo / "Kconfig").write_text((fake_repo / "Kconfig").read_text() + "\n# changed\n")
    git(fake_repo, "commit", "-qam", "kconfig: touch")
    kc = tmp_path / "kc"
    kc.mkdir()
    git(fake_repo, "format-patch", "-q", "-o", str(kc), "HEAD~1")
    git(fake_repo, "checkout", "-q", "main")
    cfg2 = config.load(write_config(tmp_path / "k2.yaml", fake_repo, {"v1": str(kc)}))
    build.build(build.request_for(cfg2, cfg2.variant("patched"), "x86_64"))
    assert len(calls) == 2
