"""A build check as a bisect predicate: is there a finding of CHECK in a variant that the
good endpoint does not have? ("first patch with a new warning", "first version that does
not build"). Compiles only the objects that differ between the two trees."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness import arch as archmod
from harness.checks import compare, kerneldoc, linemap, objects, resultcache, sparsetool, toolchain
from harness.checks import compile as ccompile
from harness.checks.model import Diagnostic
from harness.config import Config, Variant
from harness.errors import UserError
from harness.kernel import build
from harness.sources import tree as source
from harness.util import file_lock

BISECTABLE = ("bisectability", "gcc", "clang", "sparse", "kernel-doc")


@dataclass(frozen=True)
class StepVerdict:
    bad: bool
    evidence: tuple[str, ...]
    detail: str


def validate(check: str) -> str:
    if check not in BISECTABLE:
        raise UserError(f"--check {check!r} cannot be bisected",
                        "checkpatch judges one patch, not a tree",
                        f"use one of {', '.join(BISECTABLE)}")
    return check


def judge(cfg: Config, arch: str, check: str, good: Variant, variant: Variant,
          src: source.Source) -> StepVerdict:
    req = build.request_for(cfg, variant, arch, src=src)
    if check == "bisectability":
        try:
            build.build(req)
        except build.BuildFailed as e:
            return StepVerdict(True, (f"does not build: {e.why.splitlines()[0]}",), e.fix)
        return StepVerdict(False, (), "builds")
    ref = build.request_for(cfg, good, arch, src=src)
    build.build(ref)
    touched = tuple(source.git(src.repo, "diff", "--name-only", ref.commit, req.commit).split())
    if not touched:
        return StepVerdict(False, (), "same tree as the good endpoint")
    before, after = _outputs(ref, req, check, touched)
    files = sorted({d.file for d in before + after})
    diff = source.git(src.repo, "diff", "-U0", ref.commit, req.commit, "--", *files) \
        if files else ""
    new, _ = compare.split_new(after, before, linemap.parse_diff(diff))
    ev = tuple(f"{d.where()}: {d.severity}: {d.message}" + (f" [{d.flag}]" if d.flag else "")
               for d in new)
    return StepVerdict(bool(new), ev, f"{check} on {', '.join(touched[:4]) or 'nothing'}")


def _outputs(ref: build.BuildRequest, req: build.BuildRequest, check: str,
             touched: tuple[str, ...]) -> tuple[list[Diagnostic], list[Diagnostic]]:
    keep = ("warning", "error") if check in ("sparse", "kernel-doc") else ("warning",)
    slot = build.slot_for(ref)
    outs = []
    with file_lock(slot.lock):
        for r in (ref, req):
            key, compute = _plan(slot, ref, check, touched,
                                 source.tree_of(ref.source.repo, r.commit))
            out = resultcache.lookup(key)
            if out is None:        # checked out only when the result is not cached
                build.checkout_configured(ref, r.commit)
                out = resultcache.store(key, compute())
            outs.append([d for d in out.diagnostics if d.severity in keep])
    return outs[0], outs[1]


def _plan(slot: build.Slot, ref: build.BuildRequest, check: str, touched: tuple[str, ...],
          tree_id: str) -> tuple[tuple[Any, ...], Callable[[], ccompile.Output]]:
    """(cache key, how to compute) of one check on one tree."""
    if check == "kernel-doc":
        return ("kernel-doc", tree_id, touched), lambda: kerneldoc.run_kerneldoc(slot.tree,
                                                                                 touched)
    profile, clang = ccompile.GCC, None
    tool = build.toolchain_version(archmod.get(ref.arch))
    if check == "sparse":
        sparse, why = sparsetool.find(slot.tree)
        if sparse is None:
            raise UserError(why)
        profile = ccompile.sparse_profile(sparse)
    if check == "clang":
        clang, why = toolchain.choose(slot.tree, archmod.get(ref.arch).make_arch)
        if clang is None:
            raise UserError(why)
        profile, tool = ccompile.clang_profile(clang), clang.text
    sel = objects.select(touched, slot.objdir)
    key = ccompile.result_key(profile, tree_id, ref.arch, ref.requested.as_text(), tool,
                              sel.objects)

    def compute() -> ccompile.Output:
        if profile.check == "clang" and clang is not None:
            ccompile.prepare_clang(slot, profile, clang)
        return ccompile.compile_objects(slot, profile, sel.objects)

    return key, compute
