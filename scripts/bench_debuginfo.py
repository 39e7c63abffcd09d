#!/usr/bin/env python3
"""What debug info costs: one cold x86_64 build per option, time and size, printed as a table.

    .venv/bin/python scripts/bench_debuginfo.py [--config examples/quickstart.yaml]
        [--arch x86_64] [--only none,full,...] [--report]

Each option is the quickstart baseline kconfig plus a few options, so each gets its own build
slot and builds cold (git worktree + full make). "none" adds CONFIG_LOCALVERSION only, to
force a cold build of the default config in a slot of its own. Measured per build: wall time,
CPU time of make and its children (user + sys: robust when other jobs share the cores),
vmlinux size and its .debug_* sections, the object directory on disk. "touched" is the
default build plus harness.kernel.debugobj: the objects the series touches recompiled with -g
beside the build (no relink). Results append to .kharness/bench-debuginfo.jsonl; --report
prints the table from it without building.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import config
from harness.kernel import build

OPTIONS: dict[str, tuple[str, ...]] = {
    "none": ('CONFIG_LOCALVERSION="-bench"',),
    "full": ("CONFIG_DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT=y",),
    "reduced": ("CONFIG_DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT=y", "CONFIG_DEBUG_INFO_REDUCED=y"),
    "split": ("CONFIG_DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT=y", "CONFIG_DEBUG_INFO_SPLIT=y"),
}
RESULTS = ROOT / ".kharness" / "bench-debuginfo.jsonl"


def cpu_children() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def du(path: Path) -> int:
    if not path.exists():
        return 0
    out = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=False)
    return int(out.stdout.split()[0]) if out.stdout else 0


def debug_bytes(elf: Path) -> int:
    out = subprocess.run(["readelf", "-S", "-W", str(elf)], capture_output=True, text=True,
                         check=False).stdout
    total = 0
    for line in out.splitlines():
        parts = line.replace("[ ", "[").split()
        if len(parts) > 5 and parts[1].startswith(".debug_"):
            total += int(parts[5], 16)
    return total


def bench_one(cfg: config.Config, arch: str, name: str) -> dict[str, Any]:
    req = build.request_for(cfg, cfg.variant("baseline"), arch, extra_options=OPTIONS[name])
    slot = build.slot_dir(req)
    cpu0, t0 = cpu_children(), time.monotonic()
    res = build.build(req)
    wall, cpu = time.monotonic() - t0, cpu_children() - cpu0
    meta = res.metadata()
    return {"option": name, "arch": arch, "options": list(OPTIONS[name]), "cached": res.cached,
            "wall_s": round(wall, 1), "make_s": round(meta["durations"]["make"], 1),
            "cpu_s": round(cpu, 1) if not res.cached else None,
            "vmlinux_bytes": res.vmlinux.stat().st_size, "debug_bytes": debug_bytes(res.vmlinux),
            "objdir_bytes": du(slot / "obj"), "build_dir": str(res.dir),
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def bench_touched(cfg: config.Config, arch: str) -> dict[str, Any]:
    from harness.kernel import debugobj
    req = build.request_for(cfg, cfg.variant("patched"), arch)
    res = build.build(req)
    slot = build.slot_dir(req)
    t0, cpu0 = time.monotonic(), cpu_children()
    dest = Path(ROOT / ".kharness" / "bench-touched")
    made = debugobj.compile_objects(slot / "src", slot / "obj", req.debug_objects, dest, arch)
    wall, cpu = time.monotonic() - t0, cpu_children() - cpu0
    return {"option": "touched", "arch": arch, "options": [str(p) for p in made],
            "cached": False, "wall_s": round(wall, 1), "make_s": round(wall, 1),
            "cpu_s": round(cpu, 1), "vmlinux_bytes": res.vmlinux.stat().st_size,
            "debug_bytes": sum(debug_bytes(p) for p in made), "objdir_bytes": du(dest),
            "build_dir": str(res.dir), "when": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                             time.gmtime())}


def verify(cfg: config.Config, arch: str, objects: tuple[str, ...]) -> int:
    """Debug objects (from the "none" slot) against the "full" build's DWARF: for every
    function of the objects, at its start, middle and last byte, both must give the same
    file:line. Prints the counts; returns the number of disagreements."""
    from harness.kernel import debugobj
    from harness.splats import symbolize
    from harness.splats.model import Frame
    none = build.request_for(cfg, cfg.variant("baseline"), arch, extra_options=OPTIONS["none"])
    full = build.request_for(cfg, cfg.variant("baseline"), arch, extra_options=OPTIONS["full"])
    slot, vmlinux = build.slot_dir(none), build.build(full).vmlinux
    dest = ROOT / ".kharness" / "bench-verify"
    debugobj.compile_objects(slot / "src", slot / "obj", objects, dest, arch)
    frames = [Frame(name, off, s.size) for name, syms in debugobj.index(dest, arch).items()
              for s in syms[:1] for off in sorted({1, s.size // 2, max(1, s.size - 1)})]
    ours = debugobj.lines(dest, frames, arch)
    dwarf = symbolize.symbolize_frames(frames, vmlinux, arch)
    bad = [(str(f), ours.get(i), dwarf[i]) for i, f in enumerate(frames)
           if ours.get(i) != dwarf[i].split(" ", 1)[1]]
    print(f"verify {', '.join(objects)}: {len(frames)} frames, {len(ours)} placed by debug "
          f"objects, {len(frames) - len(bad)} identical to full DWARF, {len(bad)} differ")
    for row in bad[:10]:
        print("  differs:", *row)
    return len(bad)


SAMPLE_FLAGS: dict[str, tuple[str, ...]] = {    # what scripts/Makefile.debug adds (gcc)
    "none": (), "full": ("-g",),
    "reduced": ("-g", "-fno-var-tracking", "-femit-struct-debug-baseonly"),
    "split": ("-g", "-gsplit-dwarf"),
    "g1": ("-g1",),          # line tables only (KCFLAGS=-g1): file:line for every frame
}


def sample(cfg: config.Config, arch: str, n: int, only: tuple[str, ...]) -> None:
    """Compile cost per option on a sample of the "none" build's objects (every k-th C
    object of the tree): CPU seconds of the compiler and bytes written, per option. The
    link is not in it (the full builds measure that)."""
    import tempfile

    from harness.kernel import debugobj
    req = build.request_for(cfg, cfg.variant("baseline"), arch, extra_options=OPTIONS["none"])
    obj = build.slot_dir(req) / "obj"
    cmds = sorted(p for p in obj.rglob(".*.o.cmd") if not p.relative_to(obj).parts[0] in (
        "tools", "scripts") and "savedcmd_" in p.read_text(errors="replace")
        and " -c -o " in p.read_text(errors="replace"))
    picked = cmds[::max(1, len(cmds) // n)][:n]
    flags_of = {k: v for k, v in SAMPLE_FLAGS.items() if k in only or k == "none"}
    cpu = dict.fromkeys(flags_of, 0.0)
    size = dict.fromkeys(flags_of, 0)
    with tempfile.TemporaryDirectory(prefix="bench-sample-") as tmp:
        for i, cmd in enumerate(picked):
            for name, flags in flags_of.items():       # round robin: same load for all
                out = Path(tmp) / name / f"{i}.o"
                out.parent.mkdir(exist_ok=True)
                argv = debugobj.compile_argv(cmd, out, flags)
                if argv is None:
                    continue
                c0 = cpu_children()
                subprocess.run(argv, cwd=obj, capture_output=True, check=False)
                cpu[name] += cpu_children() - c0
                size[name] += sum(p.stat().st_size for p in out.parent.glob(f"{i}.*"))
    print(f"sampled compile cost, {len(picked)} of {len(cmds)} objects ({arch}):")
    for name in flags_of:
        print(f"  {name:8} cpu {cpu[name]:7.1f} s ({100 * (cpu[name] / cpu['none'] - 1):+6.1f} %)"
              f"  output {size[name] / 1e6:7.1f} MB ({size[name] / max(1, size['none']):.1f}x)")


def table(rows: list[dict[str, Any]]) -> str:
    latest = {(r["arch"], r["option"]): r for r in rows if not r.get("cached")}
    base = {a: r for (a, o), r in latest.items() if o == "none"}
    head = (f"{'arch':7} {'option':8} {'make s':>7} {'cpu s':>7} {'+cpu%':>6} {'vmlinux MB':>10}"
            f" {'debug MB':>9} {'objdir MB':>9}")
    lines = [head]
    for (arch, opt), r in sorted(latest.items(), key=lambda kv: list(OPTIONS).index(kv[0][1])
                                 if kv[0][1] in OPTIONS else 99):
        b = base.get(arch)
        if opt == "touched":
            pct = 100 * r["cpu_s"] / b["cpu_s"] if b and b.get("cpu_s") else None
        else:
            pct = 100 * (r["cpu_s"] / b["cpu_s"] - 1) if b and b.get("cpu_s") and r.get(
                "cpu_s") else None
        lines.append(f"{arch:7} {opt:8} {r['make_s']:7.1f} {r['cpu_s'] or 0:7.1f} "
                     f"{'' if pct is None else f'{pct:+.1f}':>6} "
                     f"{r['vmlinux_bytes'] / 1e6:10.1f} {r['debug_bytes'] / 1e6:9.1f} "
                     f"{r['objdir_bytes'] / 1e6:9.1f}")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=str(ROOT / "examples" / "quickstart.yaml"))
    p.add_argument("--arch", default="x86_64")
    p.add_argument("--only", default=",".join([*OPTIONS, "touched"]))
    p.add_argument("--report", action="store_true", help="print the table, build nothing")
    p.add_argument("--verify", metavar="OBJ", action="append", default=[],
                   help="compare debug objects with the full-DWARF build for OBJ "
                   "(e.g. mm/khugepaged.o); builds nothing new")
    p.add_argument("--sample", type=int, metavar="N",
                   help="compile cost per option on N objects of the 'none' build instead")
    args = p.parse_args()
    if args.sample:
        sample(config.load(args.config), args.arch, args.sample, tuple(args.only.split(",")))
        return 0
    if args.verify:
        return 1 if verify(config.load(args.config), args.arch, tuple(args.verify)) else 0
    RESULTS.parent.mkdir(exist_ok=True)
    if not args.report:
        cfg = config.load(args.config)
        for name in args.only.split(","):
            row = bench_touched(cfg, args.arch) if name == "touched" else bench_one(
                cfg, args.arch, name)
            print(json.dumps(row), flush=True)
            with RESULTS.open("a") as f:
                f.write(json.dumps(row) + "\n")
    rows = [json.loads(x) for x in RESULTS.read_text().splitlines()] if RESULTS.exists() else []
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
