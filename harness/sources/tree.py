"""Kernel sources -> a private git repository in the cache + a base commit.

debian:  linux-source-X.Y from Debian's archive (verified), unpacked once, imported to git.
tarball: local path or URL + sha256, unpacked once, imported to git.
git:     a local repository or remote URL, cloned privately (bare) so the user's checkout
         is never touched; the ref is fetched and pinned to a commit.
Builds never happen in these repositories: build slots are worktrees (see build.py).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.config import SourceSpec
from harness.errors import HarnessBug, InfrastructureError, UserError
from harness.sources import debian
from harness.util import cache_dir, file_lock, open_url, run, sha256_file, stable_hash

log = logging.getLogger("harness")

# Fixed identity and dates make imported commits reproducible (same input -> same sha).
GIT_ENV = {
    "GIT_AUTHOR_NAME": "kharness", "GIT_AUTHOR_EMAIL": "kharness@localhost",
    "GIT_COMMITTER_NAME": "kharness", "GIT_COMMITTER_EMAIL": "kharness@localhost",
    "GIT_AUTHOR_DATE": "2000-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2000-01-01T00:00:00Z",
}


@dataclass(frozen=True)
class Source:
    repo: Path            # bare git repository private to kharness
    base: str             # commit sha of the base tree
    identity: dict[str, str]

    @property
    def key(self) -> str:
        return self.repo.name


def git(repo: Path, *args: str, check: bool = True, timeout: float | None = None,
        cwd: Path | None = None) -> str:
    argv = ["git", f"--git-dir={repo}", *args]
    return run(argv, env=GIT_ENV, check=check, timeout=timeout, cwd=cwd).stdout.strip()


def _lock(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def resolve(spec: SourceSpec, *, offline: bool = False) -> Source:
    if spec.kind == "debian":
        return _debian(spec)
    if spec.kind == "tarball":
        return _tarball(spec)
    return _git(spec, offline=offline)


def _imported(repo: Path) -> str | None:
    if not (repo / "HEAD").exists():
        return None
    return git(repo, "rev-parse", "-q", "--verify", "refs/heads/base^{commit}", check=False) or None


def _import_tree(repo: Path, tree: Path, message: str) -> str:
    """git init --bare repo; commit the contents of `tree` as branch 'base'."""
    run(["git", "init", "-q", "--bare", str(repo)])
    env_tree = ["git", f"--git-dir={repo}", f"--work-tree={tree}"]
    run([*env_tree, "config", "core.bigFileThreshold", "16m"])
    run([*env_tree, "config", "gc.auto", "0"])   # no surprise multi-minute repack later
    log.info("importing %s into git (once)", tree)
    run([*env_tree, "add", "-A", "-f", "."], env=GIT_ENV)
    run([*env_tree, "commit", "-q", "--no-verify", "-m", message], env=GIT_ENV)
    sha = git(repo, "rev-parse", "HEAD")
    git(repo, "update-ref", "refs/heads/base", sha)
    return sha


def _unpack_and_import(repo: Path, tarball: Path, message: str) -> str:
    scratch = Path(tempfile.mkdtemp(prefix="unpack-", dir=repo.parent))
    try:
        log.info("unpacking %s", tarball.name)
        run(["tar", "-xf", str(tarball), "-C", str(scratch), "--strip-components=1",
             "--no-same-owner"], timeout=1800)
        tmp_repo = repo.with_name(repo.name + ".partial")
        shutil.rmtree(tmp_repo, ignore_errors=True)
        sha = _import_tree(tmp_repo, scratch, message)
        os.replace(tmp_repo, repo)             # complete repos only, atomically
        return sha
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _debian(spec: SourceSpec) -> Source:
    pkg = debian.find_package(spec.location, spec.suite, "amd64")
    repo = cache_dir("sources") / f"debian-{pkg.name}_{pkg.version}".replace("~", "_")
    identity = {"kind": "debian", "package": pkg.name, "version": pkg.version,
                "suite": spec.suite, "sha256": pkg.sha256, "url": pkg.url}
    with file_lock(_lock(repo)):
        sha = _imported(repo)
        if sha is None:
            deb = debian.download(pkg)
            inner = _extract_source_tarball(deb, repo.parent)
            try:
                sha = _unpack_and_import(repo, inner, f"{pkg.name} {pkg.version}")
            finally:
                inner.unlink(missing_ok=True)
    return Source(repo=repo, base=sha, identity=identity)


def _extract_source_tarball(deb: Path, dest_dir: Path) -> Path:
    """The usr/src/linux-source-X.Y.tar.* inside the .deb, written to dest_dir."""
    with debian.deb_data_tar(deb) as tar:
        for member in tar.getmembers():
            name = member.name.lstrip("./")
            if name.startswith("usr/src/linux-source-") and ".tar" in name:
                out = dest_dir / Path(name).name
                src = tar.extractfile(member)
                if not (src is not None):
                    raise HarnessBug("invariant failed: src is not None")
                with open(out, "wb") as f:
                    shutil.copyfileobj(src, f, 1 << 20)
                return out
    raise InfrastructureError(f"{deb.name} holds no usr/src/linux-source-*.tar.*",
                              "not a linux-source package")


def _tarball(spec: SourceSpec) -> Source:
    key = stable_hash({"tarball": spec.location, "sha256": spec.sha256})[:16]
    repo = cache_dir("sources") / f"tarball-{key}"
    with file_lock(_lock(repo)):
        sha = _imported(repo)
        if sha is None:
            local = _fetch_tarball(spec, repo.parent)
            sha = _unpack_and_import(repo, local, f"tarball {spec.location}")
    return Source(repo=repo, base=sha, identity={"kind": "tarball", "location": spec.location,
                                                   "sha256": spec.sha256})


def _fetch_tarball(spec: SourceSpec, dest_dir: Path) -> Path:
    if "://" not in spec.location:
        path = Path(spec.location)
        if not path.is_file():
            raise UserError(f"tarball not found: {path}", "", "fix kernel.source.tarball")
    else:
        path = dest_dir / Path(spec.location.split("?")[0]).name
        log.info("downloading %s", spec.location)
        try:
            with open_url(spec.location, 600) as resp, open(path, "wb") as out:
                shutil.copyfileobj(resp, out)
        except OSError as e:
            raise InfrastructureError(f"download failed: {spec.location}", str(e)) from e
    if spec.sha256 and sha256_file(path) != spec.sha256:
        raise UserError(f"sha256 mismatch for {spec.location}",
                        f"expected {spec.sha256}, got {sha256_file(path)}",
                        "fix kernel.source.sha256 or the file")
    return path


def _git(spec: SourceSpec, *, offline: bool) -> Source:
    loc = spec.location
    is_local = "://" not in loc and not loc.startswith("git@")
    if is_local and not (Path(loc) / ".git").exists() and not (Path(loc) / "HEAD").exists():
        raise UserError(f"not a git repository: {loc}", "", "fix kernel.source.git")
    repo = cache_dir("sources") / f"git-{stable_hash(loc)[:16]}"
    with file_lock(_lock(repo)):
        if not (repo / "HEAD").exists():
            argv = ["git", "clone", "-q", "--bare"] + (["--shared"] if is_local else [])
            log.info("cloning %s (once, private bare clone)", loc)
            run([*argv, loc, str(repo)], timeout=7200)
        if not offline or is_local:
            git(repo, "fetch", "-q", "origin", "--tags", "+refs/heads/*:refs/heads/*",
                check=False, timeout=3600)
        sha = git(repo, "rev-parse", "--verify", "-q", f"{spec.ref}^{{commit}}", check=False)
    if not sha:
        raise UserError(f"git ref {spec.ref!r} not found in {loc}", "",
                        "use a branch, tag or sha that exists there")
    return Source(repo=repo, base=sha, identity={"kind": "git", "location": loc,
                                                   "ref": spec.ref, "commit": sha})


def tree_of(repo: Path, commit: str) -> str:
    return git(repo, "rev-parse", f"{commit}^{{tree}}")
