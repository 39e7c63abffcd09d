"""Shared fixtures for kharness's own tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.splats.model import Splat
from harness.splats.parse import parse_log

FAKE = Path(__file__).parent / "fakekernel"
GIT_ID = ["-c", "user.name=t", "-c", "user.email=t@t"]


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("KHARNESS_CACHE", str(cache))
    return cache


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`kharness ARGS` in a child process (exit status and stderr as a user sees them)."""
    return subprocess.run([sys.executable, "-m", "harness.cli.main", *args], capture_output=True,
                          text=True, cwd=Path(__file__).parent.parent, check=False)


def one_line_error(proc: subprocess.CompletedProcess[str], needle: str, prefix: str = "") -> None:
    """Exit 2 with exactly one stderr line that starts with `prefix` and contains `needle`."""
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(prefix) and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *GIT_ID, *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def fake_repo(tmp_path: Path) -> Path:
    """A git repository holding the fake kernel tree (branch main)."""
    repo = tmp_path / "linux"
    shutil.copytree(FAKE, repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    return repo


def make_series(repo: Path, out: Path, edits: list[tuple[str, str]]) -> Path:
    """Commit each (subject, new khugepaged.c text) on a branch and format-patch them."""
    git(repo, "checkout", "-q", "-b", f"series-{out.name}")
    for subject, text in edits:
        (repo / "mm" / "khugepaged.c").write_text(text)
        git(repo, "commit", "-qam", subject)
    out.mkdir(parents=True)
    git(repo, "format-patch", "-q", "--cover-letter", "-o", str(out), f"HEAD~{len(edits)}")
    git(repo, "checkout", "-q", "main")
    return out


def write_config(path: Path, repo: Path, series: dict[str, str] | None = None,
                 extra: str = "") -> Path:
    text = (f"kernel:\n  source: {{git: {repo}, ref: main}}\n  fragments: [tests-basic]\n"
            f"archs: [x86_64]\n")
    if series:
        text += "series:\n  name: demo\n  versions:\n" + "".join(
            f"    {v}: {p}\n" for v, p in series.items())
    path.write_text(text + extra)
    (path.parent / "tests-basic.config").write_text("CONFIG_64BIT=y\nCONFIG_SWAP=y\n")
    return path


ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "examples" / "quickstart.yaml"


@pytest.fixture(scope="session")
def quickstart_kernel():  # type: ignore[no-untyped-def]
    """factory(arch, variant="baseline") -> BuildResult of the quickstart config (cached)."""
    from harness.kernel import build

    def get(arch: str, variant: str = "baseline") -> build.BuildResult:
        return build.build_for_config(QUICKSTART, arch, variant)
    return get


@pytest.fixture(scope="session", autouse=True)
def every_kcidb_json_validates(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """After the session: every kcidb.json any test wrote validates with kcidb-io itself."""
    yield
    try:
        import jsonschema
        import kcidb_io
    except ImportError:                  # not a dev install: nothing to check against
        return
    import json
    bad = []
    for path in sorted(tmp_path_factory.getbasetemp().rglob("kcidb.json")):
        try:
            kcidb_io.schema.LATEST.validate(json.loads(path.read_text()))
        except (jsonschema.ValidationError, ValueError) as e:
            bad.append(f"{path}: {str(e).splitlines()[0]}")
    assert not bad, "kcidb.json files kcidb-io rejects:\n" + "\n".join(bad)


def first_splat(text: str) -> Splat:
    """The first splat the reader finds in a log excerpt; the test fails if it finds none."""
    splats = parse_log(text)
    assert splats, text
    return splats[0]


def kind_and_function(text: str) -> tuple[str, str | None]:
    """The first splat's kind and culprit function."""
    splat = first_splat(text)
    return splat.kind, splat.function


def kind_function_title(text: str) -> tuple[str, str | None, str]:
    """The first splat's kind, culprit function and title."""
    splat = first_splat(text)
    return splat.kind, splat.function, splat.title


def console_lines(*rows: str) -> str:
    """Rows as console lines, each with its own printk timestamp."""
    return "".join(f"[  60.{i:06d}] {row}\n" for i, row in enumerate(rows, 1))


def frame_lines(*names: str) -> tuple[str, ...]:
    """Stack frame lines as the kernel prints them (" f+0x10/0x200"), for a context built by hand
    (<IRQ> ... </IRQ>, an interrupted RIP in between)."""
    return tuple(f" {n}+0x10/0x200" for n in names)


def call_trace(arch: str, *names: str) -> tuple[str, ...]:
    """A call trace as each architecture prints it (x86_64 in <TASK>, arm64 "Call trace:")."""
    frames = tuple(f" {n}+0x{16 * (i + 3):x}/0x{640 + 16 * i:x}" for i, n in enumerate(names))
    if arch == "arm64":
        return ("Call trace:", *frames)
    return ("Call Trace:", " <TASK>", *frames, " </TASK>")
