from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness import series, source
from harness.config import SourceSpec
from harness.errors import UserError
from tests.conftest import git, make_series

V1 = "int khugepaged(void) { return 1; }\n"
V2 = "int khugepaged(void) { return 2; }\n"


def test_directory_series_skips_cover_letter(fake_repo: Path, tmp_path: Path) -> None:
    d = make_series(fake_repo, tmp_path / "v1", [("mm: one", V1), ("mm: two", V2)])
    sv = series.load_version("demo", "v1", str(d))
    assert [p.subject for p in sv.patches] == ["mm: one", "mm: two"]
    assert [p.number for p in sv.patches] == [1, 2]


def test_mbox_series(fake_repo: Path, tmp_path: Path) -> None:
    d = make_series(fake_repo, tmp_path / "v1", [("mm: one", V1), ("mm: two", V2)])
    mbox = tmp_path / "s.mbx"
    mbox.write_bytes(b"".join(p.read_bytes() for p in sorted(d.iterdir())))
    sv = series.load_version("demo", "v1", str(mbox))
    assert [p.subject for p in sv.patches] == ["mm: one", "mm: two"]


def test_missing_series_location(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        series.load_version("demo", "v3", str(tmp_path / "nope"))


def test_lore_without_b4_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(series.shutil, "which", lambda _: None)
    with pytest.raises(UserError, match="needs b4"):
        series.load_version("demo", "v1", "lore:20250428181218.85925-1-npache@redhat.com")


def test_apply_gives_one_commit_per_patch(fake_repo: Path, tmp_path: Path,
                                          isolated_cache: Path) -> None:
    d = make_series(fake_repo, tmp_path / "v1", [("mm: one", V1), ("mm: two", V2)])
    src = source.resolve(SourceSpec("git", str(fake_repo), ref="main"))
    sv = series.load_version("demo", "v1", str(d))
    applied = series.apply(src.repo, src.base, sv)
    assert len(applied.commits) == 2
    show = lambda c: source.git(src.repo, "show", f"{c}:mm/khugepaged.c")
    assert show(applied.commit_for(1)) == V1.strip()
    assert show(applied.commit_for(None)) == V2.strip()
    assert applied.commit_for(0) == src.base
    assert series.apply(src.repo, src.base, sv) == applied        # cached by ref
    with pytest.raises(UserError, match="out of range"):
        applied.commit_for(3)


def test_non_applying_patch_names_patch_file_hunk(fake_repo: Path, tmp_path: Path,
                                                  isolated_cache: Path) -> None:
    d = make_series(fake_repo, tmp_path / "v1", [("mm: one", V1), ("mm: clash", V2)])
    (fake_repo / "mm" / "khugepaged.c").write_text("int khugepaged(void) { return 9; }\n")
    git(fake_repo, "commit", "-qam", "diverge")
    src = source.resolve(SourceSpec("git", str(fake_repo), ref="main"))
    sv = series.load_version("demo", "v1", str(d))
    with pytest.raises(UserError) as e:
        series.apply(src.repo, src.base, sv)
    msg = str(e.value)
    assert "series demo v1: patch 1/2 \"mm: one\" does not apply" in msg
    assert "mm/khugepaged.c" in msg
    wt = isolated_cache / "work" / src.repo.name / "apply"
    status = subprocess.run(["git", "-C", str(wt), "status", "--porcelain"],
                            capture_output=True, text=True, check=True).stdout
    assert status == ""                                            # tree left clean
    assert not (wt / ".git").is_file() or not list((src.repo / "worktrees").glob("*/rebase-apply"))


def test_user_checkout_untouched(fake_repo: Path, tmp_path: Path, isolated_cache: Path) -> None:
    d = make_series(fake_repo, tmp_path / "v1", [("mm: one", V1)])
    before = git(fake_repo, "status", "--porcelain"), git(fake_repo, "rev-parse", "HEAD")
    src = source.resolve(SourceSpec("git", str(fake_repo), ref="main"))
    series.apply(src.repo, src.base, series.load_version("demo", "v1", str(d)))
    assert (git(fake_repo, "status", "--porcelain"), git(fake_repo, "rev-parse", "HEAD")) == before
    assert git(fake_repo, "worktree", "list").count("\n") == 0
