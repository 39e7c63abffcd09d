"""The HTML report in a real browser: headless Chromium renders it, DOM and screenshot checked.

The synthetic journal puts <script>alert(1)</script> and & in a test name and
<script>document.title='PWNED'</script> / <img onerror=...> in a console excerpt: if any of
it ran, document.title would change (visible in --dump-dom) or the DOM would hold a
<script>/<img> element. The screenshot goes to tests/artifacts/report.png (gitignored).
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from harness.report import html as report
from harness.results import history, runinfo, verdict
from harness.results import journal as results

DATA = Path(__file__).parent / "data" / "journals"
ARTIFACTS = Path(__file__).parent / "artifacts"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--mute-audio")
TIMEOUT = 120


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


BROWSER = chromium()
pytestmark = pytest.mark.skipif(BROWSER is None, reason="chromium not installed "
                                "(apt-get install -y chromium); the CI set-up installs it")


def make_run(dest: Path) -> Path:
    dest.mkdir(parents=True)
    shutil.copy(DATA / "two-arch.jsonl", dest / "results.jsonl")
    shutil.copy(DATA / "two-arch.run.json", dest / "run.json")
    shutil.copytree(DATA / "two-arch-cells", dest / "cells")
    return dest


@pytest.fixture(scope="module")
def report_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """two-arch report with a trend: the same run stored as yesterday's and today's."""
    root = tmp_path_factory.mktemp("browser")
    yesterday, out = make_run(root / "yesterday"), make_run(root / "run")
    meta = runinfo.load_run(out)
    records = results.load(out / "results.jsonl")
    history.record(root / "history", yesterday, meta, records)
    trend = history.record(root / "history", out, meta, records)
    groups = verdict.compare(records)
    report.write_all(out, records, groups, trend=trend)
    return out / "report.html"


def browse(html: Path, *args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    assert BROWSER is not None
    argv = [BROWSER, *FLAGS, f"--user-data-dir={tmp / 'profile'}", *args, html.as_uri()]
    return subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, check=False)


@pytest.fixture(scope="module")
def dom(report_html: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    proc = browse(report_html, "--dump-dom", "--virtual-time-budget=3000",
                  tmp=tmp_path_factory.mktemp("chromium"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "<body" in proc.stdout, proc.stderr[-2000:]
    return proc.stdout


def visible_text(dom: str) -> str:
    text = re.sub(r"<style.*?</style>|<svg.*?</svg>", " ", dom, flags=re.DOTALL)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text))


def test_dom_shows_the_verdict_and_splats(dom: str) -> None:
    text = visible_text(dom)
    assert "REGRESSION: the series changed something for the worse" in text
    assert "x86_64, knobs mthp-all: patched vs baseline: REGRESSION" in text
    assert "arm64, knobs pmd-only: patched vs baseline: no regression" in text
    assert "new [lockdep] possible deadlock in khugepaged_scan_mm_slot" in text
    assert "pre-existing [warning] WARNING in collapse_huge_page" in text
    assert "Nightly trend (last 2 runs)" in text


def test_dom_has_inline_svg_charts(dom: str) -> None:
    # collapse_alloc bars: x86_64 and arm64 x (mthp-all 3 sizes + pmd-only 1) x 2 variants,
    # durations: 4 cells x build/boot/test
    assert len(re.findall(r'<rect class="bar"', dom)) == 2 * (3 + 1) * 2 + 4 * 3
    assert len(re.findall(r'<svg [^>]*class="chart per-scan"', dom)) >= 4
    assert len(re.findall(r'<svg [^>]*class="spark"', dom)) >= 4
    assert len(re.findall(r'<svg [^>]*class="chart census"', dom)) == 2     # x86_64 x 2 knob sets
    assert len(re.findall(r'<rect class="folio"', dom)) > 10


def test_injected_markup_did_not_run(dom: str) -> None:
    titles = re.findall(r"<title>(.*?)</title>", dom)
    assert titles[0] == "kharness: quickstart"             # document.title untouched
    assert "<script" not in dom.lower() and "<img" not in dom.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;co" in dom             # as text
    assert "&lt;script&gt;document.title='PWNED'&lt;/script&gt; &amp; &lt;img" in dom


def test_screenshot(report_html: Path, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    proc = browse(report_html, f"--screenshot={shot}", "--window-size=1280,2000", tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 2000)
