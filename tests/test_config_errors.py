"""One validation of the whole config before anything runs: the exact error lines, and
`kharness plan` / `kharness run` / `kharness bisect` exiting 2 on them before any build."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import config
from harness.cli import main as cli
from harness.errors import UserError
from harness.guest.knobs import KnobSet
from harness.guestcfg import GuestSettings
from tests.conftest import one_line_error, run_cli

BASE = "kernel:\n  source: {debian: linux-source-7.2}\n"
FIX_MAX = "(fix: use a value up to it, or 'max' for HPAGE_PMD_NR - 1 of the guest)"
ALLOWED = "allowed: name, kernel, series, archs, variants, configs, checks, guest, knobs"

# (YAML after BASE, the error line after "<path>: ")
BAD = [
    ("knobs: [{sizes: [3K]}]\n",
     ("knobs[0].sizes[0]: THP size '3K' is not a power of two >= 8K "
     "(fix: write a power of two from 8K up to the PMD size (16K, 64K, 2M) or PMD)")),
    ("knobs: {sizes: [64K, huge]}\n",
     ("knobs.sizes[1]: bad THP size 'huge': expected e.g. 64K, 2M or PMD "
     "(fix: write a power of two from 8K up to the PMD size (16K, 64K, 2M) or PMD)")),
    ("knobs: {max_ptes_none: [9999]}\n",
     ("knobs.max_ptes_none[0]: max_ptes_none=9999 is above 511: the largest HPAGE_PMD_NR - 1 "
     f"the config's archs allow {FIX_MAX}")),
    ("archs: [x86_64, arm64]\nknobs: {max_ptes_swap: 8192}\n",
     ("knobs.max_ptes_swap: max_ptes_swap=8192 is above 8191: the largest HPAGE_PMD_NR - 1 "
     f"the config's archs allow {FIX_MAX}")),
    ("guest: {mem: lots, cpus: -3}\n",
     ("guest mem 'lots' is not a memory size: QEMU -m takes MiB or a number with an M or G "
     "suffix (fix: write e.g. mem: 512M or mem: 2G)")),
    ("guest: {cpus: -3}\n",
     ("guest cpus must be an integer >= 1, not -3 (fix: write a whole number >= 1 for "
     "guest.cpus)")),
    ("guest: {zram: lots}\n",
     ("guest zram 'lots' is not a zram size: the guest's zram swap takes SIZE[,ALGORITHM] "
     "(fix: write e.g. zram: 256M, zram: 256M,lzo, or zram: null for none)")),
    ("guest: {cmdline: {quiet: 1}}\n",
     ("guest cmdline {'quiet': 1} is not a command line: it takes a string or a list of "
     "arguments (fix: write e.g. cmdline: [quiet, loglevel=7])")),
    ("guest: 3\n", "guest must be a mapping, not 3 (fix: write e.g. guest: {mem: 2G, cpus: 2})"),
    ("tests: [guest_tests/test_smoke.py]\n", f"tests: unknown key (fix: remove it; {ALLOWED})"),
    ("bisect: {mode: versions}\n", f"bisect: unknown key (fix: remove it; {ALLOWED})"),
]


def _write(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "k.yaml"
    p.write_text(BASE + body)
    return p


@pytest.mark.parametrize("body, line", BAD)
def test_error_line(tmp_path: Path, body: str, line: str) -> None:
    p = _write(tmp_path, body)
    with pytest.raises(UserError) as e:
        config.load(p)
    assert e.value.one_line() == f"{p.resolve()}: {line}"


def test_good_sections_become_typed_objects(tmp_path: Path) -> None:
    cfg = config.load(_write(tmp_path, "archs: [x86_64, arm64]\nguest: {mem: 2G, cpus: 4, "
                             "zram: '256M,lzo', cmdline: quiet}\n"
                             "knobs: {sizes: [64K], max_ptes_none: [0, max, 8191]}\n"))
    assert cfg.guest == GuestSettings(mem="2G", cpus=4, zram="256M,lzo", cmdline=("quiet",))
    assert all(isinstance(k, KnobSet) for k in cfg.knobsets)
    assert [k.name for k in cfg.knobsets] == ["64K-none0", "64K-nonemax", "64K-none8191"]
    assert config.load(_write(tmp_path, "")).knobsets == ()


def test_the_limit_follows_the_archs(tmp_path: Path) -> None:
    """511 at 4K pages (x86_64 only), 8191 once arm64 (64K pages possible) is in the config:
    the exact limit of a guest is checked after boot (harness.guest.sysfs)."""
    assert config.load(_write(tmp_path, "knobs: {max_ptes_none: 511}\n")).knobsets
    with pytest.raises(UserError, match="above 511"):
        config.load(_write(tmp_path, "knobs: {max_ptes_none: 512}\n"))
    arm = config.load(_write(tmp_path, "archs: [arm64]\nknobs: {max_ptes_none: 2047}\n"))
    assert arm.knobsets[0].max_ptes_none == 2047


@pytest.mark.parametrize("command", ["plan", "run", "bisect", "build"])
@pytest.mark.parametrize("body, line", BAD)
def test_cli_exits_2_before_any_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str], command: str,
                                      body: str, line: str) -> None:
    from harness.kernel import build
    from harness.sources import tree

    def forbidden(*a: object, **k: object) -> None:
        raise AssertionError("built or resolved a source on a bad config")
    monkeypatch.setattr(build, "build", forbidden)
    monkeypatch.setattr(tree, "resolve", forbidden)
    p = _write(tmp_path, body)
    out = tmp_path / "out"
    extra = ["--out", str(out)] if command in ("run", "bisect") else []
    assert cli.main([command, str(p), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"kharness: usage error: {p.resolve()}: {line}"]
    assert not out.exists()


def test_plan_in_a_child_process(tmp_path: Path) -> None:
    """What a user's shell sees: exit 2, one line, no traceback."""
    p = _write(tmp_path, "knobs: [{sizes: [3K]}]\n")
    one_line_error(run_cli("plan", str(p)), "THP size '3K'", "kharness: usage error: ")
