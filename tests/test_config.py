from __future__ import annotations

from pathlib import Path

import pytest

from harness import config
from harness.errors import UserError


def load_text(tmp_path: Path, text: str) -> config.Config:
    p = tmp_path / "k.yaml"
    p.write_text(text)
    return config.load(p)


BASE = "kernel:\n  source: {debian: linux-source-7.2}\n"


def test_quickstart_parses() -> None:
    cfg = config.load(Path(__file__).parent.parent / "examples" / "quickstart.yaml")
    assert cfg.source.kind == "debian" and cfg.source.suite == "sid"
    assert cfg.archs == ("x86_64", "arm64")
    assert cfg.series is not None and cfg.series.latest() == "v1"
    assert [cfg.variant(v).label for v in cfg.variants] == ["baseline", "patched"]


@pytest.mark.parametrize("text, needle", [
    ("kernel: [\n", "malformed YAML"),
    ("- a\n- b\n", "must be a mapping"),
    (BASE + "colour: red\n", "colour: unknown key"),
    ("name: x\n", "kernel: missing"),
    ("kernel:\n  source: {debian: a, git: b}\n", "exactly one of"),
    ("kernel:\n  source: {git: /nonexistent}\n", "needs a ref"),
    ("kernel:\n  source: {tarball: 'http://x/y.tar.xz'}\n", "needs its sha256"),
    ("kernel:\n  source: {debian: a, ref: b}\n", "not valid for a debian source"),
    (BASE + "archs: [sparc]\n", "unknown arch 'sparc'"),
    (BASE + "  options: [CONFIG_FOO]\n", "bad option"),
    (BASE + "variants: [patched]\n", "needs a series"),
    (BASE + "series: {name: s, versions: {v1: a}}\nvariants: [v9]\n", "unknown series version"),
    (BASE + "  flavour: x\n", "kernel.flavour: unknown key"),
])
def test_bad_configs_name_the_key(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(UserError) as e:
        load_text(tmp_path, text)
    assert needle in str(e.value)
    assert str(tmp_path / "k.yaml") in str(e.value) or "variant" in str(e.value) \
        or "arch" in str(e.value)


def test_malformed_yaml_names_line(tmp_path: Path) -> None:
    with pytest.raises(UserError) as e:
        load_text(tmp_path, "kernel:\n  source: {debian: x\n")
    assert "line" in str(e.value)


def test_variants_and_prefixes(tmp_path: Path) -> None:
    cfg = load_text(tmp_path, BASE + "series:\n  name: s\n  versions: {v1: a, v2: b}\n")
    assert cfg.variant("patched") == config.Variant("patched", "v2", None)
    assert cfg.variant("v1:2") == config.Variant("v1:2", "v1", 2)
    assert cfg.variant("v2:0").is_baseline
    assert cfg.series is not None
    assert cfg.series.versions[0] == ("v1", str((tmp_path / "a").resolve()))


def test_options_mapping_form(tmp_path: Path) -> None:
    cfg = load_text(tmp_path, BASE + "  options: {KASAN: true, CONFIG_LOG_BUF_SHIFT: 17}\n")
    assert cfg.options == ("CONFIG_KASAN=y", "CONFIG_LOG_BUF_SHIFT=17")
