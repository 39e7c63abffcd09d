"""Every named check on every patch of every series version, per arch.

For one (arch, version): bisectability builds each prefix (incremental in the build
slot); then, holding the slot, each prefix 0..N is checked out and the touched objects
are recompiled per profile (gcc W=1, sparse, clang) and kernel-doc is run on the touched
files — each result cached by the prefix's git tree, so the base is computed once for all
versions and a re-run is instant; checkpatch judges each patch's mail. A warning is blamed
on patch k when it is new relative to the last prefix before k that compiled.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from harness import arch as archmod
from harness.checks import (
    checkpatch,
    compare,
    kerneldoc,
    linemap,
    objects,
    resultcache,
    sparsetool,
    toolchain,
)
from harness.checks import compile as ccompile
from harness.checks.model import (
    CHECKS,
    DEFAULT_CHECKS,
    CheckResult,
    Diagnostic,
    Finding,
    PatchRef,
    Status,
)
from harness.config import Config, Variant
from harness.errors import HarnessBug, UserError
from harness.kernel import build
from harness.sources import series
from harness.sources import tree as source
from harness.util import cmdline, file_lock

log = logging.getLogger("harness")
Emit = Callable[[CheckResult], None]
COMPILED = ("gcc", "sparse", "clang", "kernel-doc")


@dataclass(frozen=True)
class CheckOptions:
    checks: tuple[str, ...] = DEFAULT_CHECKS
    versions: tuple[str, ...] = ()        # () = every version of the series
    archs: tuple[str, ...] = ()           # () = the config's archs


def validate_checks(names: tuple[str, ...], where: str) -> tuple[str, ...]:
    bad = [n for n in names if n not in CHECKS]
    if bad:
        raise UserError(f"{where}: unknown check {bad[0]!r}", f"known: {', '.join(CHECKS)}",
                        "name checks from that list, or 'none'")
    return tuple(c for c in CHECKS if c in names)


def run_checks(cfg: Config, opts: CheckOptions, emit: Emit) -> list[CheckResult]:
    if cfg.series is None:
        raise UserError(f"{cfg.path}: no series to check", "build checks judge patches",
                        "add a series: section")
    versions = opts.versions or cfg.series.version_names()
    for v in versions:
        if v not in cfg.series.version_names():
            raise UserError(f"unknown series version {v!r}",
                            f"{cfg.path} declares {', '.join(cfg.series.version_names())}")
    archs = [archmod.get(a).name for a in (opts.archs or cfg.archs)]
    src = source.resolve(cfg.source)
    out: list[CheckResult] = []
    for arch in archs:
        for version in versions:
            out += VersionChecks(cfg, src, arch, version, opts.checks, emit).run()
    return out


class VersionChecks:
    """The checks of one series version on one arch."""

    def __init__(self, cfg: Config, src: source.Source, arch: str, version: str,
                 checks: tuple[str, ...], emit: Emit) -> None:
        if not (cfg.series is not None):
            raise HarnessBug("invariant failed: cfg.series is not None")
        self.cfg, self.src, self.arch, self.checks, self.emit = cfg, src, arch, checks, emit
        self.sv = series.load_version(cfg.series.name, version,
                                      dict(cfg.series.versions)[version])
        applied = series.apply(src.repo, src.base, self.sv)
        self.commits = (src.base, *applied.commits)
        n = len(self.sv.patches)
        self.patches = (PatchRef(version, 0, n, "base"),
                        *(PatchRef(version, p.number, n, p.subject) for p in self.sv.patches))
        self.req = build.request_for(cfg, Variant("baseline"), arch, src=src)
        self.results: list[CheckResult] = []
        self.clang: toolchain.Clang | None = None
        self.sparse: str | None = None
        self.sparse_note = ""

    def run(self) -> list[CheckResult]:
        log.info("[%s %s] checks: %s", self.arch, self.sv.version, ", ".join(self.checks))
        self._base_slot()
        if "bisectability" in self.checks:
            for k in range(1, len(self.commits)):
                self._add(self._bisectability(k))
        if any(c in self.checks for c in (*COMPILED, "checkpatch")):
            self._source_checks()
        return self.results

    def _add(self, r: CheckResult) -> None:
        self.results.append(r)
        self.emit(r)

    def _base_slot(self) -> None:
        """The base built in its slot: .o.cmd files say which objects the config builds."""
        build.build(self.req)
        if not (build.slot_for(self.req).objdir / "vmlinux").exists():
            build.build(self.req, force=True)

    # -- bisectability ---------------------------------------------------------------
    def _bisectability(self, k: int) -> CheckResult:
        patch, t0 = self.patches[k], time.monotonic()
        variant = self.cfg.variant(f"{self.sv.version}:{k}")
        req = build.request_for(self.cfg, variant, self.arch, src=self.src)
        cmd = cmdline(["kharness", "build", str(self.cfg.path), "--arch", self.arch,
                       "--variant", variant.label])
        try:
            build.build(req)
        except build.BuildFailed as e:
            findings = _build_errors(e, patch, cmd, str(build.slot_for(req).tree))
            return CheckResult("bisectability", self.arch, patch, Status.FAIL, findings,
                               note="does not build", seconds=time.monotonic() - t0,
                               command=cmd)
        return CheckResult("bisectability", self.arch, patch, Status.PASS,
                           seconds=time.monotonic() - t0, command=cmd)

    # -- compiler, sparse, kernel-doc, checkpatch -----------------------------------
    def _profiles(self) -> list[ccompile.Profile]:
        out = []
        if "gcc" in self.checks:
            out.append(ccompile.GCC)
        if "sparse" in self.checks and self.sparse is not None:
            out.append(ccompile.sparse_profile(self.sparse))
        if "clang" in self.checks and self.clang is not None:
            out.append(ccompile.clang_profile(self.clang))
        return out

    def _source_checks(self) -> None:
        slot = build.slot_for(self.req)
        with file_lock(slot.lock):
            if not (slot.tree / ".git").exists() or not (slot.objdir / ".config").exists():
                slot = build.checkout_configured(self.req, self.commits[0])
            self.clang, clang_note = toolchain.choose(slot.tree, archmod.get(self.arch).make_arch)
            self.sparse, self.sparse_note = sparsetool.find(slot.tree)
            sel = objects.select(self.sv.touched_paths(), slot.objdir)
            profiles = self._profiles()
            outs = self._compile_prefixes(slot, profiles, sel)
            if "checkpatch" in self.checks:
                for k in range(1, len(self.commits)):
                    self._add(self._checkpatch(slot, k))
        for p in profiles:
            self._judge(p.check, outs[p.check], sel)
        if "kernel-doc" in self.checks:
            self._judge("kernel-doc", outs["kernel-doc"], sel)
        self._skipped(clang_note)

    def _skipped(self, clang_note: str) -> None:
        notes = {"clang": clang_note if self.clang is None else "", "sparse": self.sparse_note}
        for check, note in notes.items():
            if check in self.checks and note:
                for patch in self.patches[1:]:
                    self._add(CheckResult(check, self.arch, patch, Status.SKIP, note=note))

    def _compile_prefixes(self, slot: build.Slot, profiles: list[ccompile.Profile],
                          sel: objects.Selection) -> dict[str, list[ccompile.Output]]:
        """Outputs per check and prefix; a prefix whose results are all cached is not even
        checked out (a checkout rewrites files, and the next build recompiles them)."""
        outs: dict[str, list[ccompile.Output]] = {p.check: [] for p in profiles}
        outs["kernel-doc"] = []
        touched = self.sv.touched_paths()
        for k, commit in enumerate(self.commits):
            tree_id = source.tree_of(self.src.repo, commit)
            keys = {p.check: self._key(p, sel, tree_id) for p in profiles}
            if "kernel-doc" in self.checks:
                keys["kernel-doc"] = ("kernel-doc", tree_id, touched)
            hits = {c: resultcache.lookup(key) for c, key in keys.items()}
            if any(v is None for v in hits.values()):
                slot = build.checkout_configured(self.req, commit)
            for p in profiles:
                outs[p.check].append(hits[p.check] or self._compile(slot, p, sel, keys[p.check], k))
            if "kernel-doc" in self.checks:
                outs["kernel-doc"].append(hits["kernel-doc"] or resultcache.store(
                    keys["kernel-doc"], kerneldoc.run_kerneldoc(slot.tree, touched)))
        return outs

    def _key(self, p: ccompile.Profile, sel: objects.Selection, tree_id: str) -> tuple[Any, ...]:
        tool = self.clang.text if p.check == "clang" and self.clang else \
            build.toolchain_version(archmod.get(self.arch))
        return ccompile.result_key(p, tree_id, self.arch, self.req.requested.as_text(), tool,
                                   sel.objects)

    def _compile(self, slot: build.Slot, p: ccompile.Profile, sel: objects.Selection,
                 key: tuple[Any, ...], k: int) -> ccompile.Output:
        if not sel.objects:
            return ccompile.Output((), 0, "")
        if p.check == "clang" and self.clang is not None:
            ccompile.prepare_clang(slot, p, self.clang)
        out = resultcache.store(key, ccompile.compile_objects(slot, p, sel.objects))
        log.info("[%s %s] %s %s: %d diagnostics, exit %d (%.1fs)", self.arch,
                 self.patches[k].label, p.check, " ".join(sel.objects), len(out.diagnostics),
                 out.returncode, out.seconds)
        return out

    def _judge(self, check: str, outs: list[ccompile.Output], sel: objects.Selection) -> None:
        base = outs[0]
        base_warn = _relevant(check, base.diagnostics)
        if check != "kernel-doc" and not base.compiled:
            last = (base.tail.splitlines() or ["no output"])[-1]
            for patch in self.patches[1:]:
                self._add(CheckResult(check, self.arch, patch, Status.ERROR,
                                      note=f"the base does not compile with {check}: {last}",
                                      command=base.command, objects=sel.objects))
            return
        self._add(CheckResult(check, self.arch, self.patches[0], Status.PASS,
                              preexisting=tuple(_finding(check, self.patches[0], d, base.command)
                                                for d in base_warn),
                              note=f"{len(base_warn)} in the base (shown, not blamed)"
                              + (f"; {sel.note()}" if sel.note() else ""),
                              seconds=base.seconds, command=base.command, objects=sel.objects))
        last_ok = 0
        for k in range(1, len(self.commits)):
            self._add(self._judge_one(check, outs, k, last_ok, sel))
            if outs[k].compiled:
                last_ok = k

    def _judge_one(self, check: str, outs: list[ccompile.Output], k: int, last_ok: int,
                   sel: objects.Selection) -> CheckResult:
        patch, out = self.patches[k], outs[k]
        after = _relevant(check, out.diagnostics)
        before = _relevant(check, outs[last_ok].diagnostics)
        files = sorted({d.file for d in after + before})
        diff = source.git(self.src.repo, "diff", "-U0", self.commits[last_ok],
                          self.commits[k], "--", *files) if files else ""
        new, old = compare.split_new(after, before, linemap.parse_diff(diff))
        notes = [f"{len(old)} carried over"] if old else []
        if not out.compiled and check != "kernel-doc":
            notes.append("did not compile at this prefix (see bisectability)")
        return CheckResult(check, self.arch, patch, Status.FAIL if new else Status.PASS,
                           tuple(_finding(check, patch, d, out.command) for d in new),
                           note="; ".join(notes), seconds=out.seconds, command=out.command,
                           objects=sel.objects)

    def _checkpatch(self, slot: build.Slot, k: int) -> CheckResult:
        patch, t0 = self.patches[k], time.monotonic()
        findings, cmd = checkpatch.check_patch(slot.tree, patch, self.sv.patches[k - 1].data)
        failing = [f for f in findings if f.severity in checkpatch.FAILING]
        remarks = len(findings) - len(failing)
        return CheckResult("checkpatch", self.arch, patch,
                           Status.FAIL if failing else Status.PASS, tuple(findings),
                           note=f"{remarks} CHECK remarks (not failing)" if remarks else "",
                           seconds=time.monotonic() - t0, command=cmd)


def _relevant(check: str, diags: tuple[Diagnostic, ...]) -> list[Diagnostic]:
    """What a check compares: warnings (errors are bisectability's), sparse's errors too."""
    keep = ("warning", "error") if check in ("sparse", "kernel-doc") else ("warning",)
    return [d for d in diags if d.severity in keep]


def _finding(check: str, patch: PatchRef, d: Diagnostic, command: str) -> Finding:
    return Finding(check, patch, d.file, d.line, d.message, d.severity, d.flag, d.function,
                   command)


def _build_errors(e: build.BuildFailed, patch: PatchRef, command: str,
                  tree: str) -> tuple[Finding, ...]:
    """The compiler errors of a failed prefix build (or its summary when none parse)."""
    from harness.checks import diagnostics
    errors = [d for d in diagnostics.parse(e.why, (tree,)) if d.severity == "error"]
    if errors:
        return tuple(replace(_finding("bisectability", patch, d, command), severity="error")
                     for d in errors[:5])
    first = (e.why.strip().splitlines() or [e.what])[0]
    return (Finding("bisectability", patch, "(build)", 0, first, "error", "", "", command),)
