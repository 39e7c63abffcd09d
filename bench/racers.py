"""Time to detection of the injected collapse bugs by the migration racer, per arch.

    python bench/racers.py                                  # 5 runs, both archs, racers-demo
    python bench/racers.py --config examples/racers-demo2.yaml --arch arm64 --runs 7
    python bench/racers.py --variant baseline --cap 120     # how clean is the baseline
    python bench/racers.py --config examples/racers-demo3.yaml \
        --test "shmem_collapse_racer and none511"           # thpfile (file/shmem collapse)

Each run is a fresh guest: `pytest guest_tests/test_racers.py -k "migration_racer and
none0"` on the variant (patched by default) with --kharness-fail-fast any, the racer given
--cap seconds (KHARNESS_RACER_SECONDS). Time to detection = guest printk time of the first
splat minus that of the racer's "thpracer: start" / "thpfile: start" line (both on the
console); a run without a splat counts as not detected within the cap. Prints one line per
run, then the median, min/max and the detection count per arch, and writes them as JSON
with --json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.splats import parse as splats  # noqa: E402 (after the sys.path line)

STAMP = re.compile(r"^\[\s*(\d+\.\d+)\]")
START = re.compile(r"^\[\s*(\d+\.\d+)\].*(?:thpracer|thpfile): start")


def detection(console: str) -> tuple[float | None, str]:
    """(seconds from the racer's start to the first splat, its title) or (None, "")."""
    start = next((float(m.group(1)) for line in console.splitlines()
                  if (m := START.match(line))), None)
    if start is None:
        return None, "racer never started"
    for s in splats.parse_log(console):
        stamps = [float(m.group(1)) for line in s.lines if (m := STAMP.match(line))]
        if stamps and stamps[0] >= start:
            return stamps[0] - start, s.title
    return None, ""


def one_run(cfg: str, arch: str, variant: str, cap: float, test: str) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix=f"racers-{arch}-"))
    argv = [sys.executable, "-m", "pytest", "guest_tests/test_racers.py", "-k", test,
            "-p", "no:cacheprovider", "-q", "--kharness-config", cfg, "--kharness-arch", arch,
            "--kharness-variant", variant, "--kharness-fail-fast", "any",
            "--kharness-workdir", str(work)]
    env = os.environ | {"KHARNESS_RACER_SECONDS": f"{cap:g}"}
    print(f"$ KHARNESS_RACER_SECONDS={cap:g} {shlex.join(argv)}", file=sys.stderr, flush=True)
    t0 = time.monotonic()
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - t0
    consoles = sorted(work.glob("*/console.log"))
    text = "\n".join(p.read_text(errors="backslashreplace") for p in consoles)
    ttd, title = detection(text)
    return {"arch": arch, "variant": variant, "ttd": ttd, "title": title, "wall": round(wall, 1),
            "pytest_exit": proc.returncode, "workdir": str(work)}


def summary(runs: list[dict[str, object]], cap: float) -> dict[str, object]:
    got = sorted(float(r["ttd"]) for r in runs if r["ttd"] is not None)  # type: ignore[arg-type]
    out: dict[str, object] = {"runs": len(runs), "detected": len(got), "cap": cap}
    if got:
        out |= {"median": round(statistics.median(got), 1), "min": round(got[0], 1),
                "max": round(got[-1], 1)}
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="examples/racers-demo.yaml")
    p.add_argument("--arch", action="append", help="default: x86_64 and arm64")
    p.add_argument("--variant", default="patched")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--cap", type=float, default=300.0, help="racer seconds per run")
    p.add_argument("--test", default="migration_racer and none0 and not long")
    p.add_argument("--json", help="write the runs and summaries here")
    args = p.parse_args()
    results: dict[str, object] = {}
    for arch in args.arch or ["x86_64", "arm64"]:
        runs = []
        for i in range(args.runs):
            r = one_run(args.config, arch, args.variant, args.cap, args.test)
            ttd = "not detected" if r["ttd"] is None else f"{r['ttd']:.1f}s"
            print(f"{arch} {args.variant} run {i + 1}: {ttd} {r['title']} "
                  f"(wall {r['wall']}s, pytest exit {r['pytest_exit']}, {r['workdir']})",
                  flush=True)
            runs.append(r)
        s = summary(runs, args.cap)
        print(f"== {arch} {args.variant}: {json.dumps(s)}", flush=True)
        results[arch] = {"summary": s, "runs": runs}
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
