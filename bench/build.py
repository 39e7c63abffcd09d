#!/usr/bin/env python3
"""Build benchmark: cold build per arch, patched-after-baseline rebuild, cache hit.

Usage: python bench/build.py [--arch x86_64 --arch arm64] [--repeat 3] [--config CFG]
       python bench/build.py --in-place        # one sample, into the real cache
Each repetition uses a fresh cache directory (sources are shared by symlink, so the one-off
Debian import is not timed) so the baseline build is truly cold; the patched build then
reuses the baseline's build slot; the third request must be a cache hit. --in-place
measures one repetition in the real cache instead (it refuses when that config's build
slot already exists, which would not be cold), so the kernels stay for later use.
Prints a table of medians; targets: cold <= 240 s, patched <= 10% of cold, hit <= 2 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def one(arch: str, cfg_path: Path, shared_sources: Path) -> tuple[float, float, float]:
    from harness import util
    with tempfile.TemporaryDirectory(prefix="kh-bench-", dir=util.cache_root().parent) as tmp:
        os.environ["KHARNESS_CACHE"] = tmp
        (Path(tmp) / "sources").symlink_to(shared_sources)
        return measure(arch, cfg_path)


def measure(arch: str, cfg_path: Path) -> tuple[float, float, float]:
    """(cold make seconds, patched-after-baseline wall seconds, cache-hit wall seconds)."""
    from harness import config
    from harness.kernel import build
    cfg = config.load(cfg_path)
    base = build.build(build.request_for(cfg, cfg.variant("baseline"), arch))
    if base.cached:
        raise SystemExit(f"{arch} baseline is already in the cache: not a cold build")
    cold = base.metadata()["durations"]["make"]
    t0 = time.monotonic()
    build.build(build.request_for(cfg, cfg.variant("patched"), arch))
    patched = time.monotonic() - t0
    t0 = time.monotonic()
    hit = build.build(build.request_for(cfg, cfg.variant("patched"), arch))
    assert hit.cached
    return cold, patched, time.monotonic() - t0


def slot_exists(arch: str, cfg_path: Path) -> Path | None:
    """The build slot (work/<source>/<arch>-<config>) of this config, if it exists."""
    from harness import config
    from harness.kernel import build
    cfg = config.load(cfg_path)
    slot = build.slot_dir(build.request_for(cfg, cfg.variant("baseline"), arch))
    return slot if slot.exists() else None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", action="append")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--config", default=str(ROOT / "examples" / "quickstart.yaml"))
    ap.add_argument("--in-place", action="store_true",
                    help="one cold sample in the real cache (the kernels stay there)")
    args = ap.parse_args()
    from harness import config, util
    from harness.sources import tree as source
    real_cache = util.cache_root()
    source.resolve(config.load(args.config).source)     # import once, outside the timing
    rows = []
    for arch in args.arch or ["x86_64", "arm64"]:
        samples = []
        for i in range(1 if args.in_place else args.repeat):
            os.environ["KHARNESS_CACHE"] = str(real_cache)
            if args.in_place:
                slot = slot_exists(arch, Path(args.config))
                if slot is not None:
                    raise SystemExit(f"{slot} exists: not a cold build (remove it or drop "
                                     "--in-place)")
                samples.append(measure(arch, Path(args.config)))
            else:
                samples.append(one(arch, Path(args.config), real_cache / "sources"))
            print(f"{arch} run {i + 1}: cold {samples[-1][0]:.1f}s patched {samples[-1][1]:.1f}s "
                  f"hit {samples[-1][2]:.2f}s", flush=True)
        cold, patched, hit = (statistics.median(s[k] for s in samples) for k in range(3))
        rows.append((arch, len(samples), cold, patched, 100 * patched / cold, hit))
    print(f"\n{'arch':8s} {'n':>2s} {'cold make (s)':>14s} {'patched (s)':>12s} {'% of cold':>10s}"
          f" {'cache hit (s)':>14s}")
    for arch, n, cold, patched, pct, hit in rows:
        print(f"{arch:8s} {n:2d} {cold:14.1f} {patched:12.1f} {pct:9.1f}% {hit:14.2f}")
    print(f"host: {os.cpu_count()} cores; targets: cold <= 240 s, patched <= 10% of cold, "
          "hit <= 2 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
