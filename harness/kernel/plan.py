"""Expanding a config + CLI selections into build requests; `kharness plan` output."""

from __future__ import annotations

import argparse

from harness import arch as archmod
from harness import config
from harness.kernel import build, kconfig
from harness.kernel.build import BuildRequest, BuildResult
from harness.sources import tree as source
from harness.util import cache_dir, cmdline


def selection(args: argparse.Namespace) -> tuple[config.Config, list[str], list[config.Variant]]:
    cfg = config.load(args.config)
    archs = [archmod.get(a).name for a in (args.arch or cfg.archs)]
    variants = [cfg.variant(v) for v in (args.variant or cfg.variants)]
    return cfg, archs, variants


def kernels(args: argparse.Namespace) -> list[tuple[config.Config, str]]:
    """(config narrowed to one kernel config, arch) for every kernel config x arch selected
    (`--kconfig`, default all of `configs:`; archs as Config.archs_for)."""
    cfg = config.load(args.config)
    names = tuple(getattr(args, "kconfig", None) or ())
    chosen = tuple(dict.fromkeys(archmod.get(a).name for a in (args.arch or ())))
    from harness.campaign import matrix
    return [(cfg.for_kconfig(k), a) for k in matrix.kconfigs(cfg, names)
            for a in cfg.archs_for(k, chosen)]


def requests(args: argparse.Namespace) -> list[BuildRequest]:
    cfg, _, variants = selection(args)
    pairs = kernels(args)
    for a in dict.fromkeys(a for _, a in pairs):     # fail early on a missing cross compiler
        build.toolchain_version(archmod.get(a))
    src = source.resolve(cfg.source)
    return [build.request_for(k, v, a, extra_fragments=tuple(args.fragment),
                              extra_options=tuple(args.option), jobs=args.jobs, src=src)
            for k, a in pairs for v in variants]


def build_all(args: argparse.Namespace) -> list[BuildResult]:
    # baseline first per arch: patched variants then rebuild only what the series touches
    return [build.build(r, force=getattr(args, "force", False)) for r in requests(args)]


def describe(args: argparse.Namespace) -> str:
    cfg, archs, variants = selection(args)
    lines = [f"config: {cfg.path}", f"source: {cfg.source.kind} {cfg.source.location}"
             + (f" ({cfg.source.suite})" if cfg.source.kind == "debian" else "")
             + (f" @ {cfg.source.ref}" if cfg.source.ref else ""),
             f"fragments: {', '.join(cfg.fragments + tuple(args.fragment))}",
             f"archs: {', '.join(archs)}", f"variants: {', '.join(v.label for v in variants)}",
             *_checks_lines(cfg), ""]
    for k, a in kernels(args):
        profile = archmod.get(a)
        frags = kconfig.collect(k.fragments + tuple(args.fragment),
                                k.options + tuple(args.option), profile, (k.base_dir,))
        slot = cache_dir("work") / "<source>" / f"{a}-<config hash>"
        make = ["make", "-C", f"{slot}/src", f"O={slot}/obj", *build.make_vars(profile)]
        where = f"{a} {k.kconfig}" if k.kconfig else a
        for v in variants:
            lines.append(f"[{where} {v.label}]")
            if not v.is_baseline:
                lines.append(f"  git am -3 <series {v.version}"
                             f"{'' if v.prefix is None else f' first {v.prefix} patches'}>")
            lines.append(f"  git checkout --detach <{'base' if v.is_baseline else 'applied'}>")
            when = "" if v.is_baseline else "   # only if the series changes a Kconfig input"
            lines.append(f"  {cmdline([*make, 'tinyconfig'])}{when}")
            lines.append(f"  merge_config.sh -m .config <{len(kconfig.merge(frags).options)} "
                         f"options from {len(frags)} fragments>; make olddefconfig; verify")
            lines.append(f"  {cmdline([*make, '-j<cores>', profile.kernel_image.split('/')[-1]])}")
    return "\n".join(lines)


def _checks_lines(cfg: config.Config) -> list[str]:
    """What `kharness check` / `run` would check, per patch of every version, before booting."""
    if not cfg.checks or cfg.series is None:
        return ["build checks: none"]
    from harness.checks import compile as ccompile
    gcc = cmdline(["make", "O=<slot>/obj", *ccompile.GCC.make_args, "<touched objects>"])
    return [(f"build checks: {', '.join(cfg.checks)} (each patch of "
            f"{', '.join(cfg.series.version_names())}, new versus the last prefix that compiled)"),
            f"  gcc: {gcc}; sparse: the same + C=2; clang: LLVM=-<N> W=1 in <slot>/obj-clang-<N>",
            ("  checkpatch: scripts/checkpatch.pl --strict --show-types <patch>; kernel-doc: "
            "scripts/kernel-doc -none -Wall <touched files>; bisectability: build every prefix")]


def matrix_text(args: argparse.Namespace) -> str:
    """`kharness plan`'s matrix: every cell with its estimated cost (history or defaults)."""
    from pathlib import Path

    from harness.campaign import matrix
    from harness.campaign.run import default_jobs
    from harness.results import history
    cfg = config.load(args.config)
    cells = matrix.cells(cfg, tuple(args.arch or ()), tuple(args.variant or ()),
                         tuple(getattr(args, "kconfig", None) or ()))
    directory = Path(getattr(args, "history", None) or "runs/history").resolve()
    costs = history.costs_from(directory, cfg.name)
    runs = max((c.runs for c in costs.values()), default=0)
    where = (f"{directory / 'history.sqlite'} (up to {runs} earlier runs of {cfg.name!r}), "
             "stated defaults elsewhere" if costs else
             f"stated defaults (no history of {cfg.name!r} in {directory})")
    return matrix.table(cfg, cells, costs, default_jobs(), where)
