"""Patch series: load versions (directory, mbox, lore via b4), apply with `git am -3`.

A series version is an ordered tuple of patches. Applying it on a base commit yields one
commit per patch, so any prefix (first k patches) is a commit that can be built; bisect
across patches walks those commits. Applied results are cached as git refs keyed by
(base, patch contents), so re-applying is free.
"""

from __future__ import annotations

import email
import email.policy
import logging
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.config import SeriesSpec
from harness.errors import InfrastructureError, UserError
from harness.sources.tree import GIT_ENV, git
from harness.util import cache_dir, file_lock, run, sha256_bytes, stable_hash

log = logging.getLogger("harness")
SUBJECT_TAG = re.compile(r"^\s*(\[[^\]]*\]\s*)+")
NUMBER_IN_TAG = re.compile(r"(\d+)/(\d+)")
MBOX_FROM = re.compile(rb"^From [^\s]+ +\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}", re.MULTILINE)
# every path a patch names: git headers, renames/copies, and plain ---/+++ lines
DIFF_PATH = re.compile(rb"^(?:diff --git a/(\S+) b/(\S+)|(?:rename|copy) (?:from|to) (\S+)"
                       rb"|(?:---|\+\+\+) [ab]/(\S+))", re.MULTILINE)


@dataclass(frozen=True)
class Patch:
    number: int
    subject: str
    data: bytes
    origin: str

    @property
    def sha256(self) -> str:
        return sha256_bytes(self.data)


@dataclass(frozen=True)
class SeriesVersion:
    series: str
    version: str
    patches: tuple[Patch, ...]
    origin: str

    @property
    def key(self) -> str:
        return stable_hash([p.sha256 for p in self.patches])

    def touched_paths(self) -> tuple[str, ...]:
        """Every repository path the series creates, changes, renames or deletes."""
        found = {g.decode("utf-8", "surrogateescape")
                 for p in self.patches for m in DIFF_PATH.finditer(p.data) for g in m.groups() if g}
        return tuple(sorted(found))


def subject_of(data: bytes) -> str:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    subject = str(msg.get("Subject", "")).replace("\n", " ")
    return SUBJECT_TAG.sub("", subject).strip() or "(no subject)"


def _is_cover(data: bytes) -> bool:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    tags = re.findall(r"\[([^\]]*)\]", str(msg.get("Subject", "")))
    numbered = [NUMBER_IN_TAG.search(t) for t in tags]
    return any(m is not None and m.group(1).lstrip("0") == "" for m in numbered)


def load_version(series: str, version: str, location: str) -> SeriesVersion:
    if location.startswith("lore:"):
        return _from_lore(series, version, location[5:])
    path = Path(location)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".patch", ".diff"))
        chunks = [(p.read_bytes(), str(p)) for p in files]
        if not chunks:
            raise UserError(f"series {series} {version}: no *.patch files in {path}", "",
                            "point series.versions at a directory of git format-patch files")
    elif path.is_file():
        chunks = [(c, f"{path}#{i + 1}") for i, c in enumerate(split_mbox(path.read_bytes()))]
    else:
        raise UserError(f"series {series} {version}: {path} does not exist", "",
                        "fix series.versions in the config")
    patches = [(d, o) for d, o in chunks
               if not _is_cover(d) and (b"\ndiff --git" in d or b"\n+++ " in d)]
    if not patches:
        raise UserError(f"series {series} {version}: no patches found in {location}")
    return SeriesVersion(series, version, tuple(
        Patch(i + 1, subject_of(d), d, o) for i, (d, o) in enumerate(patches)), location)


def split_mbox(data: bytes) -> list[bytes]:
    starts = [m.start() for m in MBOX_FROM.finditer(data)]
    if not starts:
        return [data]
    return [data[a:b] for a, b in zip(starts, starts[1:] + [len(data)], strict=False)]


def _from_lore(series: str, version: str, msgid: str) -> SeriesVersion:
    b4 = shutil.which("b4")
    if b4 is None:
        raise UserError(f"series {series} {version}: lore:{msgid} needs b4", "b4 is not installed",
                        "pip install b4, or run `b4 am` yourself and point at the mbox")
    out = cache_dir("series", "lore", stable_hash(msgid)[:16])
    mbox = next(out.glob("*.mbx"), None)
    if mbox is None:
        proc = subprocess.run([b4, "am", "-o", str(out), msgid], capture_output=True, text=True,
                              check=False)
        mbox = next(out.glob("*.mbx"), None)
        if proc.returncode != 0 or mbox is None:
            raise InfrastructureError(f"b4 am {msgid} failed",
                                      "offline or lore.kernel.org unreachable: "
                                      + (proc.stderr.strip().splitlines() or ["no output"])[-1],
                                      "download the series as an mbox and use its path")
    return load_version(series, version, str(mbox))


def load_all(spec: SeriesSpec) -> dict[str, SeriesVersion]:
    return {v: load_version(spec.name, v, loc) for v, loc in spec.versions}


@dataclass(frozen=True)
class Applied:
    base: str
    commits: tuple[str, ...]     # commits[k-1] = base + first k patches

    def commit_for(self, prefix: int | None) -> str:
        if prefix is None:
            return self.commits[-1]
        if not 0 <= prefix <= len(self.commits):
            raise UserError(f"prefix {prefix} out of range", f"the series has {len(self.commits)}"
                            " patches", f"use 0..{len(self.commits)}")
        return self.base if prefix == 0 else self.commits[prefix - 1]


def apply(repo: Path, base: str, sv: SeriesVersion) -> Applied:
    """Apply sv on base (cached by ref); raise UserError naming the failing patch."""
    ref = f"refs/kharness/applied/{stable_hash([base, sv.key])[:24]}"
    tip = git(repo, "rev-parse", "-q", "--verify", ref, check=False)
    if tip:
        return _applied_from(repo, base, tip, sv)
    wt = cache_dir("work", repo.name) / "apply"
    with file_lock(wt.with_name(wt.name + ".lock")):
        ensure_worktree(repo, wt, base, only=sv.touched_paths())
        _am(wt, sv)
        tip = run(["git", "-C", str(wt), "rev-parse", "HEAD"]).stdout.strip()
        git(repo, "update-ref", ref, tip)
    log.info("applied %s %s (%d patches) on %s", sv.series, sv.version, len(sv.patches), base[:12])
    return _applied_from(repo, base, tip, sv)


def _applied_from(repo: Path, base: str, tip: str, sv: SeriesVersion) -> Applied:
    commits = git(repo, "rev-list", "--reverse", f"{base}..{tip}").split()
    if len(commits) != len(sv.patches):
        raise InfrastructureError(f"applied {sv.series} {sv.version} has {len(commits)} commits",
                                  f"expected {len(sv.patches)} (an empty patch?)")
    return Applied(base, tuple(commits))


def ensure_worktree(repo: Path, wt: Path, commit: str,
                     only: tuple[str, ...] | None = None) -> None:
    """wt checked out at commit, clean. With `only`, a sparse worktree holding just those
    paths: `git am -3` needs the files a series touches, not the other ~90k (a full
    checkout costs ~25 s once per source)."""
    if not (wt / ".git").exists():
        shutil.rmtree(wt, ignore_errors=True)
        # one repository, many slots: a prune in one process must not race an add in another
        with file_lock(repo.with_name(repo.name + ".worktrees.lock")):
            git(repo, "worktree", "prune")
            log.info("creating worktree %s (once)", wt)
            git(repo, "worktree", "add", "-f", "--detach",
                *(["--no-checkout"] if only is not None else []), str(wt), commit, timeout=1800)
    wt_git = ["git", "-C", str(wt)]
    run([*wt_git, "am", "--abort"], check=False)
    if only:     # non-cone patterns, anchored at the top, glob characters escaped
        patterns = "".join("/" + re.sub(r"([\\*?\[\]!#])", r"\\\1", p) + "\n" for p in only)
        run([*wt_git, "sparse-checkout", "set", "--no-cone", "--stdin"],
            input_bytes=patterns.encode())
    elif only is not None:
        run([*wt_git, "sparse-checkout", "disable"])
    run([*wt_git, "checkout", "-q", "-f", "--detach", commit], timeout=1800)
    run([*wt_git, "clean", "-q", "-fdx"], timeout=600)


def _am(wt: Path, sv: SeriesVersion) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for p in sv.patches:
            f = Path(tmp) / f"{p.number:04d}.patch"
            f.write_bytes(p.data)
            files.append(str(f))
        proc = run(["git", "-C", str(wt), "am", "-3", "--keep-cr", *files],
                   env=GIT_ENV, check=False)
        if proc.returncode == 0:
            return
        output = (proc.stdout or "") + (proc.stderr or "")
        failed = re.search(r"Patch failed at (\d+)", output)
        if failed:   # the exact hunk: what plain `git apply` says at the failing point
            check = run(["git", "-C", str(wt), "apply", "--check",
                         files[int(failed.group(1)) - 1]], check=False)
            output += "\n" + (check.stderr or "")
    run(["git", "-C", str(wt), "am", "--abort"], check=False)
    run(["git", "-C", str(wt), "reset", "-q", "--hard"], check=False)
    raise UserError(*describe_am_failure(sv, output))


def describe_am_failure(sv: SeriesVersion, output: str) -> tuple[str, str, str]:
    """(what, why, fix) naming series, patch number + subject, file and hunk."""
    applied = output.count("Applying: ")
    failed_num = re.search(r"Patch failed at (\d+)", output)
    number = int(failed_num.group(1)) if failed_num else max(applied, 1)
    patch = sv.patches[min(number, len(sv.patches)) - 1]
    where = re.search(r"error: patch failed: (\S+):(\d+)", output)
    conflict = re.search(r"CONFLICT \([^)]*\): Merge conflict in (\S+)", output)
    if where:
        loc = f"{where.group(1)} hunk at line {where.group(2)}"
    elif conflict:
        loc = f"{conflict.group(1)} (3-way merge conflict)"
    else:
        tail = [ln for ln in output.splitlines() if ln.startswith("error:")]
        loc = tail[0][7:] if tail else "unknown location"
    what = (f"series {sv.series} {sv.version}: patch {patch.number}/{len(sv.patches)} "
            f"\"{patch.subject}\" does not apply")
    return what, loc, "rebase the series on the base or pick another base; the tree was left clean"
