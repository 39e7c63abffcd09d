"""Kernel builds: (source, variant, arch, kconfig) -> cached, verified artifacts.

Reuse: each (source repo, arch) has one build slot = a git worktree + a persistent O=
objdir. Switching the slot between variants with `git checkout` rewrites only the files
that differ, so make recompiles only what a series touches (measured ~11 s for a
khugepaged.c change vs ~4 min cold). Artifacts are copied out into a content-addressed
cache keyed by every input (git tree of the commit, arch, kconfig request, toolchain), so
an identical request is a cache hit in well under a second.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import platform
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import arch as archmod
from harness.config import Config, Variant
from harness.errors import HarnessBug, InfrastructureError, KernelFailure, UserError
from harness.kernel import kconfig
from harness.sources import series
from harness.sources import tree as source
from harness.util import cache_dir, cmdline, file_lock, mark_used, stable_hash, write_json

log = logging.getLogger("harness")
GCC_TRIPLET = {"arm64": "aarch64", "x86_64": "x86-64"}   # Debian's cross-gcc package names
RECIPE_VERSION = 1          # bump when the build recipe changes what lands in artifacts
ARTIFACTS = ("vmlinux", "System.map", ".config")


class BuildFailed(KernelFailure):
    """The kernel did not compile: a finding about the tree/series, not the rig."""


@dataclass(frozen=True)
class BuildRequest:
    source: source.Source
    commit: str
    tree: str                # git tree sha: the exact source content
    arch: str
    variant: str
    requested: kconfig.Requested
    fragments: tuple[str, ...]
    series_info: tuple[tuple[str, str], ...] = ()   # (key, value) pairs for metadata
    jobs: int = 0
    config_path: str = "CONFIG"
    debug_objects: tuple[str, ...] = ()    # recompiled with -g beside the build (debugobj)

    def key(self, toolchain: str) -> str:
        return stable_hash({"tree": self.tree, "arch": self.arch, "recipe": RECIPE_VERSION,
                            "kconfig": self.requested.as_text(), "toolchain": toolchain})[:20]


@dataclass(frozen=True)
class BuildResult:
    dir: Path
    arch: str
    variant: str
    image: Path
    vmlinux: Path
    system_map: Path
    config: Path
    cached: bool
    seconds: float

    def metadata(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.dir / "metadata.json").read_text())
        return data


def make_vars(profile: archmod.ArchProfile) -> list[str]:
    cross = archmod.cross_prefix(profile)
    return [f"ARCH={profile.make_arch}"] + ([f"CROSS_COMPILE={cross}"] if cross else [])


def toolchain_version(profile: archmod.ArchProfile) -> str:
    gcc = archmod.cross_prefix(profile) + "gcc"
    if shutil.which(gcc) is None:
        raise InfrastructureError(f"cross compiler {gcc} not found",
                                  f"needed to build {profile.name} kernels",
                                  f"apt-get install gcc-{GCC_TRIPLET[profile.name]}-linux-gnu"
                                  " (or: kharness doctor --install)")
    from harness.util import run
    return run([gcc, "--version"]).stdout.splitlines()[0]


def request_for(cfg: Config, variant: Variant, arch: str, *, extra_fragments: tuple[str, ...] = (),
                extra_options: tuple[str, ...] = (), jobs: int = 0,
                src: source.Source | None = None) -> BuildRequest:
    profile = archmod.get(arch)
    src = src or source.resolve(cfg.source)
    commit, info = src.base, [("base", src.base)]
    touched = _series_objects(cfg, variant)
    if variant.commit is not None:
        commit = source.git(src.repo, "rev-parse", "--verify", "-q", f"{variant.commit}^{{commit}}",
                            check=False)
        if not commit:
            raise UserError(f"commit {variant.commit!r} not found in the source repository",
                            "", "use a sha or ref reachable from the configured source")
        info = [("base", src.base), ("commit", commit)]
    elif not variant.is_baseline:
        if not (cfg.series is not None and variant.version is not None):
            raise HarnessBug("a series variant without a series or a version")
        sv = series.load_version(cfg.series.name, variant.version,
                                 dict(cfg.series.versions)[variant.version])
        applied = series.apply(src.repo, src.base, sv)
        commit = applied.commit_for(variant.prefix)
        k = variant.prefix if variant.prefix is not None else len(sv.patches)
        info += [("series", sv.series), ("version", sv.version), ("prefix", str(k)),
                 ("patches", str(len(sv.patches))),
                 ("patch_sha256", ",".join(p.sha256[:16] for p in sv.patches[:k]))]
    names = cfg.fragments + tuple(f for f in dict.fromkeys(extra_fragments)
                                  if f not in cfg.fragments)
    frags = kconfig.collect(names, cfg.options + extra_options, profile, (cfg.base_dir,))
    return BuildRequest(source=src, commit=commit, tree=source.tree_of(src.repo, commit),
                        arch=profile.name, variant=variant.label, requested=kconfig.merge(frags),
                        fragments=names, series_info=tuple(info), jobs=jobs,
                        config_path=str(cfg.path), debug_objects=touched)


def _series_objects(cfg: Config, variant: Variant) -> tuple[str, ...]:
    """Objects built from the C files the series touches (the variant's version, or the
    latest for baseline, so pre-existing splats in that code get lines too)."""
    from harness.errors import KharnessError
    from harness.kernel import debugobj
    if cfg.series is None or variant.commit is not None:
        return ()
    version = variant.version or cfg.series.latest()
    try:
        sv = series.load_version(cfg.series.name, version, dict(cfg.series.versions)[version])
    except KharnessError:
        return ()
    return debugobj.touched_objects(sv.touched_paths())


def lookup(req: BuildRequest) -> BuildResult | None:
    toolchain = toolchain_version(archmod.get(req.arch))
    out = cache_dir("builds") / req.key(toolchain)
    if not (out / "metadata.json").exists():
        return None
    return _result(mark_used(out), req, cached=True, seconds=0.0)


def build(req: BuildRequest, *, force: bool = False) -> BuildResult:
    profile = archmod.get(req.arch)
    toolchain = toolchain_version(profile)
    out = cache_dir("builds") / req.key(toolchain)
    t0 = time.monotonic()
    if (out / "metadata.json").exists() and not force:
        log.info("[%s %s] cache hit %s", req.arch, req.variant, out)
        _late_debug_objects(req, out)
        return _result(mark_used(out), req, cached=True, seconds=time.monotonic() - t0)
    slot = slot_dir(req)
    with file_lock(slot.with_name(slot.name + ".lock")):
        if (out / "metadata.json").exists() and not force:    # built while we waited
            return _result(out, req, cached=True, seconds=time.monotonic() - t0)
        return _build_in_slot(req, profile, toolchain, slot, out, t0)


def _debug_objects(req: BuildRequest, slot: Path, dest: Path) -> list[str]:
    """The series' objects compiled with -g from the slot into dest (harness.kernel.debugobj)."""
    from harness.kernel import debugobj
    t0 = time.monotonic()
    made = debugobj.compile_objects(slot / "src", slot / "obj", req.debug_objects, dest,
                                    req.arch)
    if made:
        log.info("[%s %s] debug objects %s (%.1fs)", req.arch, req.variant,
                 " ".join(str(p.relative_to(dest)) for p in made), time.monotonic() - t0)
    return [str(p.relative_to(dest)) for p in made]


@contextlib.contextmanager
def _try_lock(path: Path) -> Iterator[bool]:
    """The slot lock if it is free right now (True), else False at once."""
    with open(path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _late_debug_objects(req: BuildRequest, out: Path) -> None:
    """A cached build from before debug objects existed: make them if the slot still holds
    exactly this commit (else the objects there are another variant's)."""
    from harness.kernel import debugobj
    from harness.util import run
    if not req.debug_objects or (out / debugobj.DIRNAME).exists():
        return
    slot = slot_dir(req)
    with _try_lock(slot.with_name(slot.name + ".lock")) as locked:
        if not locked or not (slot / "src").is_dir():
            return                      # the slot is busy building: never wait for it
        head = run(["git", "-C", str(slot / "src"), "rev-parse", "HEAD"], check=False).stdout
        if (head or "").strip() != req.commit or (out / debugobj.DIRNAME).exists():
            return
        tmp = out / (debugobj.DIRNAME + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        if _debug_objects(req, slot, tmp):
            os.replace(tmp, out / debugobj.DIRNAME)
        shutil.rmtree(tmp, ignore_errors=True)


def slot_dir(req: BuildRequest) -> Path:
    """One build slot per (source, arch, kconfig request): variants that share a config
    (baseline, patched, series versions, prefixes) reuse each other's objects, and a build
    with other options (KASAN, LKDTM…) never clobbers them."""
    cfg = stable_hash(req.requested.as_text())[:10]
    return cache_dir("work", req.source.repo.name) / f"{req.arch}-{cfg}"


@dataclass(frozen=True)
class Slot:
    """A build slot: worktree, persistent O= directory, and the lock that guards both."""

    tree: Path
    objdir: Path
    lock: Path
    make_vars: tuple[str, ...]


def slot_for(req: BuildRequest) -> Slot:
    slot = slot_dir(req)
    return Slot(slot / "src", slot / "obj", slot.with_name(slot.name + ".lock"),
                tuple(make_vars(archmod.get(req.arch))))


def checkout_configured(req: BuildRequest, commit: str) -> Slot:
    """The slot of `req` checked out at `commit` with req's .config (caller holds the lock)."""
    profile = archmod.get(req.arch)
    s = slot_for(req)
    series.ensure_worktree(req.source.repo, s.tree, commit)
    _configure(s.tree, s.objdir, profile, req, list(s.make_vars), toolchain_version(profile))
    return s


def _build_in_slot(req: BuildRequest, profile: archmod.ArchProfile, toolchain: str, slot: Path,
                   out: Path, t0: float) -> BuildResult:
    from harness.kernel import make as buildrun
    tree, objdir = slot / "src", slot / "obj"
    series.ensure_worktree(req.source.repo, tree, req.commit)
    mvars = make_vars(profile)
    _configure(tree, objdir, profile, req, mvars, toolchain)
    jobs = req.jobs or os.cpu_count() or 1
    argv = ["make", "-C", str(tree), f"O={objdir}", f"-j{jobs}", *mvars,
            Path(profile.kernel_image).name]
    log_path = objdir / "kharness-build.log"
    label = f"{req.arch} {req.variant}"
    t_make = time.monotonic()
    rc = buildrun.run_make(argv, log_path, label, cache_dir("work") / f"objcount-{req.arch}")
    if rc != 0:
        raise BuildFailed(f"[{label}] kernel build failed (exit {rc})",
                          buildrun.error_summary(log_path), f"full log: {log_path}")
    seconds = time.monotonic() - t0
    _store(out, objdir, profile, req, toolchain, argv, log_path,
           {"total": seconds, "make": time.monotonic() - t_make})
    log.info("[%s] built in %.1fs -> %s", label, seconds, out)
    return _result(out, req, cached=False, seconds=seconds)


def _configure(tree: Path, objdir: Path, profile: archmod.ArchProfile, req: BuildRequest,
               make_vars: list[str], toolchain: str) -> None:
    """Regenerate .config unless the request, the toolchain and every Kconfig input are
    what the slot was last configured with (a series that touches no Kconfig file, as most
    mm series, skips it: ~5 s); keep the old file (and its mtime) when nothing changed."""
    stamp = objdir / "kharness-config.key"
    key = stable_hash([req.requested.as_text(), toolchain,
                       kconfig.inputs_id(req.source.repo, req.tree)])
    if stamp.exists() and stamp.read_text() == key and (objdir / ".config").exists():
        return
    scratch = objdir.parent / "kconfig-scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    new = kconfig.generate(tree, scratch, profile, req.requested, make_vars)
    old = objdir / ".config"
    if not old.exists() or old.read_bytes() != new.read_bytes():
        objdir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(new, old)
    shutil.rmtree(scratch, ignore_errors=True)
    stamp.write_text(key)


def _store(out: Path, objdir: Path, profile: archmod.ArchProfile, req: BuildRequest,
           toolchain: str, argv: list[str], log_path: Path, durations: dict[str, float]) -> None:
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    image = objdir / profile.kernel_image
    shutil.copy2(image, tmp / image.name)
    for name in ARTIFACTS:
        shutil.copy2(objdir / name, tmp / name.lstrip("."))
    shutil.copy2(log_path, tmp / "build.log")
    from harness.kernel import debugobj
    t_debug = time.monotonic()
    debug = _debug_objects(req, objdir.parent, tmp / debugobj.DIRNAME)
    durations = {**durations, "debug_objects": time.monotonic() - t_debug}
    config_text = (objdir / ".config").read_text()
    write_json(tmp / "metadata.json", {
        "arch": req.arch, "variant": req.variant, "image": image.name,
        "boot": boot_artifact(profile, config_text, image.name),
        "source": req.source.identity, "commit": req.commit, "tree": req.tree,
        "series": dict(req.series_info), "fragments": list(req.fragments),
        "debug_objects": debug,
        "config_sha256": stable_hash(config_text),
        "requested_options": len(req.requested.options),
        "toolchain": toolchain, "make": os.environ.get("MAKE", "make"),
        "durations": durations, "host": platform.node(), "python": sys.version.split()[0],
        "command": cmdline(argv), "reproduce": _reproducer(req),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    })
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)          # an interrupted build never looks complete


def boot_artifact(profile: archmod.ArchProfile, config_text: str, image: str) -> str:
    """What QEMU's -kernel gets: vmlinux when the arch can boot it directly (x86 PVH)."""
    opt = profile.direct_boot_option
    return "vmlinux" if opt and f"\n{opt}=y\n" in f"\n{config_text}" else image


def _reproducer(req: BuildRequest) -> str:
    return cmdline(["kharness", "build", req.config_path, "--arch", req.arch,
                    "--variant", req.variant])


def _result(out: Path, req: BuildRequest, *, cached: bool, seconds: float) -> BuildResult:
    meta = json.loads((out / "metadata.json").read_text())
    return BuildResult(dir=out, arch=req.arch, variant=req.variant,
                       image=out / meta.get("boot", meta["image"]),
                       vmlinux=out / "vmlinux", system_map=out / "System.map",
                       config=out / "config", cached=cached, seconds=seconds)


def build_for_config(config_path: str | Path, arch: str, variant: str, kconfig: str = "",
                     **kw: Any) -> BuildResult:
    """Convenience for other modules (boot, pytest fixtures): load, request, build; `kconfig`
    names an entry of the YAML's `configs:` ("" = the kernel section)."""
    from harness import config as configmod
    cfg = configmod.load(config_path).for_kconfig(kconfig)
    if archmod.get(arch).name not in cfg.archs:
        raise UserError(f"arch {arch} is not in {cfg.path}", f"archs: {', '.join(cfg.archs)}")
    return build(request_for(cfg, cfg.variant(variant), arch, **kw))
