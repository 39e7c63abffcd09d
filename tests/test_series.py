from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from harness.config import SourceSpec
from harness.errors import UserError
from harness.sources import series
from harness.sources import tree as source
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
    monkeypatch.setattr(shutil, "which", lambda _: None)
    with pytest.raises(UserError, match="needs b4"):
        series.load_version("demo", "v1", "lore:20250428181218.85925-1-npache@redhat.com")


def test_apply_gives_one_commit_per_patch(fake_repo: Path, tmp_path: Path,
                                          isolated_cache: Path) -> None:
    d = make_series(fake_repo, tmp_path / "v1", [("mm: one", V1), ("mm: two", V2)])
    src = source.resolve(SourceSpec("git", str(fake_repo), ref="main"))
    sv = series.load_version("demo", "v1", str(d))
    applied = series.apply(src.repo, src.base, sv)
    assert len(applied.commits) == 2
    def show(c: str | None) -> str:
        return source.git(src.repo, "show", f"{c}:mm/khugepaged.c")
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


def _format_patches(repo: Path, out: Path, n: int) -> Path:
    out.mkdir(parents=True)
    git(repo, "format-patch", "-q", "-M", "-o", str(out), f"HEAD~{n}")
    return out


def test_touched_paths_cover_new_renamed_and_deleted_files(fake_repo: Path,
                                                           tmp_path: Path) -> None:
    git(fake_repo, "checkout", "-q", "-b", "s")
    (fake_repo / "mm" / "new.c").write_text("int x;\n")
    git(fake_repo, "add", "mm/new.c")
    git(fake_repo, "mv", "mm/khugepaged.c", "mm/collapse.c")
    git(fake_repo, "commit", "-qm", "mm: move")
    d = _format_patches(fake_repo, tmp_path / "v1", 1)
    sv = series.load_version("demo", "v1", str(d))
    assert sv.touched_paths() == ("mm/collapse.c", "mm/khugepaged.c", "mm/new.c")


def test_apply_checks_out_only_what_the_series_touches_and_falls_back_to_3way(
        fake_repo: Path, tmp_path: Path, isolated_cache: Path) -> None:
    lines = [f"int line{i};\n" for i in range(1, 21)]
    (fake_repo / "mm" / "khugepaged.c").write_text("".join(lines))
    git(fake_repo, "commit", "-qam", "twenty lines")
    git(fake_repo, "checkout", "-q", "-b", "s")
    (fake_repo / "mm" / "khugepaged.c").write_text("".join(
        ["int line2_patched;\n" if i == 1 else ln for i, ln in enumerate(lines)]))
    (fake_repo / "mm" / "added.c").write_text("int added;\n")
    git(fake_repo, "add", "mm/added.c")
    git(fake_repo, "commit", "-qam", "mm: patch line 2")
    d = _format_patches(fake_repo, tmp_path / "v1", 1)
    git(fake_repo, "checkout", "-q", "main")
    # main moves on inside the patch's context: plain apply fails, `git am -3` merges
    (fake_repo / "mm" / "khugepaged.c").write_text("".join(
        ["int line5_upstream;\n" if i == 4 else ln for i, ln in enumerate(lines)]))
    git(fake_repo, "commit", "-qam", "upstream line 5")
    src = source.resolve(SourceSpec("git", str(fake_repo), ref="main"))
    applied = series.apply(src.repo, src.base, series.load_version("demo", "v1", str(d)))
    merged = source.git(src.repo, "show", f"{applied.commit_for(None)}:mm/khugepaged.c")
    assert "int line2_patched;" in merged and "int line5_upstream;" in merged
    assert source.git(src.repo, "show", f"{applied.commit_for(None)}:mm/added.c") == "int added;"
    wt = isolated_cache / "work" / src.repo.name / "apply"
    checked_out = sorted(str(p.relative_to(wt)) for p in wt.rglob("*")
                         if p.is_file() and ".git" not in p.parts)
    assert checked_out == ["mm/added.c", "mm/khugepaged.c"]
    assert (fake_repo / "Makefile").exists() and not (wt / "Makefile").exists()
