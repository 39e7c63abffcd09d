#!/usr/bin/env python3
"""Build-check benchmark: `kharness check` on a >= 4-patch series touching mm/khugepaged.c
(examples/check-demo.yaml), per arch, after the base kernel is built.

Usage: python bench/checks.py [--arch x86_64 --arch arm64] [--config CFG] [--keep-clang]
For each arch it empties the check cache (results keyed by prefix tree) and, unless
--keep-clang, the clang O= directory, then runs every check once ("first") and again
("cached"). Prints, per arch: the first run's wall time, the clang O= set-up (olddefconfig +
prepare, once per slot), per-prefix compile seconds of gcc W=1 / sparse / clang for the
base and each patch, bisectability build seconds per prefix, and the per-patch figure the
target is about: gcc + sparse seconds per patch (target <= 30 s).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def measure(arch: str, cfg_path: Path, keep_clang: bool) -> dict[str, object]:
    from harness import config
    from harness.checks.model import CheckResult
    from harness.checks.runner import CheckOptions, run_checks
    from harness.kernel import build
    from harness.util import cache_dir
    cfg = config.load(cfg_path)
    req = build.request_for(cfg, cfg.variant("baseline"), arch)
    build.build(req)                                   # the base is built (not timed)
    shutil.rmtree(cache_dir("checks"), ignore_errors=True)
    if not keep_clang:
        for d in build.slot_for(req).objdir.parent.glob("obj-clang*"):
            shutil.rmtree(d)
    got: list[CheckResult] = []
    t0 = time.monotonic()
    run_checks(cfg, CheckOptions(checks=cfg.checks, archs=(arch,)), got.append)
    first = time.monotonic() - t0
    t1 = time.monotonic()
    run_checks(cfg, CheckOptions(checks=cfg.checks, archs=(arch,)), lambda r: None)
    cached = time.monotonic() - t1
    return {"first": first, "cached": cached, "results": got}


def table(arch: str, m: dict[str, object]) -> list[str]:
    from harness.checks.model import CheckResult
    results: list[CheckResult] = m["results"]   # type: ignore[assignment]
    secs: dict[tuple[str, int], float] = {(r.check, r.patch.number): r.seconds for r in results}
    n = max(r.patch.number for r in results)
    lines = [f"== {arch}: first run {m['first']:.1f} s, second run (cached) {m['cached']:.1f} s",
             f"{'prefix':8s}" + "".join(f"{c:>15s}" for c in
                                        ("bisectability", "gcc W=1", "sparse", "clang",
                                         "kernel-doc", "checkpatch"))]
    for k in range(n + 1):
        row = [secs.get((c, k)) for c in ("bisectability", "gcc", "sparse", "clang",
                                           "kernel-doc", "checkpatch")]
        lines.append(f"{'base' if k == 0 else f'{k}/{n}':8s}" + "".join(
            f"{v:15.1f}" if v is not None else f"{'-':>15s}" for v in row))
    per_patch = [secs.get(("gcc", k), 0.0) + secs.get(("sparse", k), 0.0) for k in range(1, n + 1)]
    lines.append(f"gcc + sparse per patch: median {statistics.median(per_patch):.1f} s, "
                 f"max {max(per_patch):.1f} s (target <= 30 s); base first run "
                 f"{secs.get(('gcc', 0), 0.0) + secs.get(('sparse', 0), 0.0):.1f} s")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", action="append", default=[])
    ap.add_argument("--config", default=str(ROOT / "examples" / "check-demo.yaml"))
    ap.add_argument("--keep-clang", action="store_true",
                    help="keep the clang O= directory (time only the compiles)")
    args = ap.parse_args()
    import logging
    logging.basicConfig(level=logging.WARNING)
    for arch in args.arch or ["x86_64", "arm64"]:
        print("\n".join(table(arch, measure(arch, Path(args.config), args.keep_clang))),
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
