"""A self-contained reproducer folder per finding of a run: RUN/repro/<n>-<test>/.

A finding is what the verdict blames on the series: a new splat, or a test whose outcome
changed for the worse (a new failure, crash, lockup or timeout); without a baseline to compare
with, every failing test of a non-baseline cell. Each folder holds:

  repro.sh          rebuild the kernel and re-run just that test with kharness; exit 1 and
                    "REPRODUCED" when the finding shows again (kharness's exit-code convention)
  kharness.yaml     the run's config narrowed to that arch and variant, the series pointing
                    at series/ below (every path relative to the folder)
  kernel.config     the exact .config the kernel was built with (repro.sh compares)
  series/           the patches as applied, in order (none for a baseline finding)
  cmdline.txt       the guest kernel's command line (from the VM's QEMU argv)
  knobs.json        the knob set: name, settings, the sysfs values written
  workload.txt      the workload invocations the test recorded (with their --seed); the
                    test's source is in test/ (the seed of a workload it starts itself is there)
  finding.json      what was found (kind, title, culprit, frames), in which cell and test
  README.md         all of the above in words, with the source identity
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from harness.resources import data_path
from harness.results import verdict
from harness.results.fields import JsonObject
from harness.results.journal import FINDINGS
from harness.results.records import SplatRecord, TestRecord
from harness.results.runinfo import RunInfo, run_source
from harness.util import atomic_write


@dataclass(frozen=True)
class Finding:
    """One thing to reproduce: a test record of the variant under suspicion and why."""

    record: TestRecord
    why: str                          # "new splat [warning] WARNING in ..." | "passed -> failed"
    splat: SplatRecord | None = None
    new_splat: bool = False           # the splat is new with the series (finding.json: + test)

    @property
    def cell(self) -> str:
        return self.record.cell

    @property
    def nodeid(self) -> str:
        return self.record.nodeid

    @property
    def slug(self) -> str:
        name = self.nodeid.split("::")[-1]
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{self.cell}-{name}").strip("_")[:90]


def findings(info: RunInfo, groups: list[verdict.GroupVerdict]) -> list[Finding]:
    """New splats and tests changed for the worse, one Finding per (cell, test)."""
    by_key = {(r.arch, r.config, r.variant, r.knobset or "-", verdict.test_key(r)): r
              for r in info.tests}
    found: dict[tuple[str, str], Finding] = {}
    for g in groups:
        for new in g.new_splats:
            r = next((t for t in info.tests if t.nodeid == new.test
                      and t.variant == g.other and g.holds(t)), None)
            if r is not None:
                found.setdefault((r.cell, r.nodeid), Finding(
                    r, f"new splat {new.splat.label}", new.splat, new_splat=True))
        for c in g.changed:
            r = by_key.get((g.arch, g.config, g.other, g.knobset, c.test))
            if r is not None and c.after in FINDINGS and c.before not in FINDINGS:
                found.setdefault((r.cell, r.nodeid), Finding(
                    r, f"{c.before} on {g.base} -> {c.after} on {g.other}", _first_splat(r)))
    if not groups:
        for r in info.tests:
            if r.variant != "baseline" and r.outcome.is_finding:
                found.setdefault((r.cell, r.nodeid), Finding(
                    r, f"{r.outcome.value} (no baseline to compare with)", _first_splat(r)))
    return list(found.values())


def _first_splat(r: TestRecord) -> SplatRecord | None:
    return next(iter(r.seen_splats), None)


def write_all(info: RunInfo, groups: list[verdict.GroupVerdict]) -> list[Path]:
    """RUN/repro/<n>-<slug>/ for every finding; the folders written."""
    out = []
    for n, f in enumerate(findings(info, groups), 1):
        dest = info.out / "repro" / f"{n}-{f.slug}"
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        write_one(info, f, dest)
        out.append(dest)
    return out


def write_one(info: RunInfo, f: Finding, dest: Path) -> None:
    arch, variant = f.record.arch, f.record.variant
    patches = _series(info, variant, dest / "series")
    config_ok = _kernel_config(info, f.cell, dest / "kernel.config")
    cfg_ok = _config_yaml(info, arch, variant, dest, f.record.config)
    _text(dest / "cmdline.txt", _kernel_cmdline(info, f) or "(not recorded: no vm.json)")
    _json(dest / "knobs.json", {"knobset": f.record.knobset,
                                "settings": f.record.extra.get("knobs") or _knobset(info, f),
                                "sysfs_written": f.record.extra.get("knob_values")})
    _text(dest / "workload.txt", _workloads(f, dest))
    _json(dest / "finding.json", {"why": f.why, "cell": f.cell, "nodeid": f.nodeid,
                                  "outcome": f.record.outcome.value,
                                  "splat": _splat_json(f),
                                  "message": f.record.message})
    script = repro_sh(f, arch, variant)
    atomic_write(dest / "repro.sh", script)
    (dest / "repro.sh").chmod(0o755)
    _text(dest / "README.md", _readme(info, f, patches, config_ok, cfg_ok))


# -------------------------------------------------------------------- pieces
def _splat_json(f: Finding) -> JsonObject | None:
    """The finding's splat as the journal has it; a new one also names its test."""
    if f.splat is None:
        return None
    return {**f.splat.to_json(), **({"test": f.nodeid} if f.new_splat else {})}


def _text(path: Path, text: str) -> None:
    atomic_write(path, text if text.endswith("\n") else text + "\n")


def _json(path: Path, data: JsonObject) -> None:
    _text(path, json.dumps(data, indent=1, sort_keys=True, default=str))


def _series(info: RunInfo, variant: str, dest: Path) -> int | None:
    patches = info.patches(variant)
    if not patches:
        return None if patches is None else 0
    dest.mkdir()
    for p in patches:
        name = Path(p.origin.split("#")[0]).name if p.origin.endswith(".patch") else \
            f"{p.number:04d}-{re.sub(r'[^A-Za-z0-9]+', '-', p.subject)[:50].strip('-')}.patch"
        (dest / name).write_bytes(p.data)
    return len(patches)


def _knobset(info: RunInfo, f: Finding) -> JsonObject | None:
    """The settings of the record's knob set, from the run's config (`knobs:` section, or
    the record's kernel config's own)."""
    from harness.errors import KharnessError
    from harness.guest import knobs
    cfg, name = info.config(), f.record.knobset
    if cfg is None or not name:
        return None
    try:
        cfg = cfg.for_kconfig(f.record.config)
    except KharnessError:
        return None
    return next((knobs.describe(ks) for ks in cfg.knobsets if ks.name == name), None)


def _kernel_config(info: RunInfo, cell: str, dest: Path) -> bool:
    known = info.cells.get(cell)
    directory = known.build_dir if known else None
    src = Path(directory) / "config" if directory else None
    if src is None or not src.is_file():
        return False
    shutil.copyfile(src, dest)
    return True


def _config_yaml(info: RunInfo, arch: str, variant: str, dest: Path, kconfig: str = "") -> bool:
    """kharness.yaml: the run's config for just (arch, baseline + variant) and the cell's
    kernel config (the one entry left under `configs:`), series local."""
    path = Path(info.run.config if info.run else "")
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return False
    if not isinstance(data, dict):
        return False
    data["name"] = f"repro-{data.get('name', 'run')}"
    data["archs"], data["variants"] = [arch], ["baseline", variant]
    if kconfig and isinstance(data.get("configs"), dict) and kconfig in data["configs"]:
        entry = data["configs"][kconfig]
        if isinstance(entry, dict) and "archs" in entry:
            entry = {**entry, "archs": [arch]}
        data["configs"] = {kconfig: entry}
    cfg = info.config()
    series = data.get("series")
    if isinstance(series, dict) and cfg is not None and cfg.series is not None:
        v = cfg.variant(variant)
        if v.version is not None:
            series["versions"] = {v.version: "series"}
    narrowed = cfg.for_kconfig(kconfig) if cfg is not None and kconfig else cfg
    names = narrowed.fragments if narrowed is not None else \
        (data.get("kernel") or {}).get("fragments") or []
    for name in names:
        for cand in (path.parent / name, path.parent / f"{name}.config"):
            if cand.is_file():                       # a fragment of the user's, not shipped
                shutil.copyfile(cand, dest / cand.name)
    _text(dest / "kharness.yaml", "# kharness reproducer config, made from "
          f"{path}\n" + yaml.safe_dump(data, sort_keys=False))
    return True


def _kernel_cmdline(info: RunInfo, f: Finding) -> str:
    """The -append of the VM whose console holds the test's start marker."""
    celldir = info.out / "cells" / f.cell.replace("/", "-").replace(":", "_")
    marker = f"kharness: test start {f.nodeid}"
    for console in sorted(celldir.glob("*/console.log")):
        if marker not in console.read_text(errors="replace"):
            continue
        try:
            vm = json.loads((console.parent / "vm.json").read_text())
        except (OSError, ValueError):
            return ""
        argv = shlex.split(str(vm.get("qemu_argv") or ""))
        return argv[argv.index("-append") + 1] if "-append" in argv[:-1] else str(
            vm.get("cmdline") or "")
    return ""


def _test_file(nodeid: str) -> Path:
    """The source of a test: the shipped suite's node ids are relative to the package."""
    path = Path(nodeid.split("::")[0])
    return path if path.is_absolute() or path.exists() else data_path(str(path))


def _workloads(f: Finding, dest: Path) -> str:
    test_file = _test_file(f.nodeid)
    lines = [f"# test: {f.nodeid}"]
    if test_file.is_file():
        (dest / "test").mkdir(exist_ok=True)
        shutil.copyfile(test_file, dest / "test" / test_file.name)
        lines.append(f"# its source at the time of the run: test/{test_file.name}")
    recorded = f.record.extra.get("workloads")
    argvs = [argv for argv in recorded if isinstance(argv, list)] \
        if isinstance(recorded, list) else []
    lines += [shlex.join(str(a) for a in argv) for argv in argvs] or [
        "# the test recorded no workload invocation: see its source (seeds are literal there)"]
    return "\n".join(lines)


def repro_sh(f: Finding, arch: str, variant: str) -> str:
    title = f.splat.title if f.splat else ""
    check = {"nodeid": f.nodeid, "title": title, "outcome": f.record.outcome.value}
    argv = ["run", "$here/kharness.yaml", "--arch", arch, "--variant", variant,
            "--tests", f.nodeid, "--checks", "none", "--out", "$out"]   # a runtime finding
    run = " ".join(f'"{a}"' if a.startswith("$") else shlex.quote(a) for a in argv)
    return f"""#!/bin/sh
# kharness reproducer: {_one_line(f.why)}
#   {f.cell}  {f.nodeid}
# Rebuilds the kernel ({arch} {variant}: same source, kconfig fragments and series/) and
# re-runs just this test in a fresh guest. Usage: ./repro.sh [RUN_DIR]
# Exit: 1 and REPRODUCED when the finding shows again, 0 when it does not, 2 on trouble.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${{1:-$here/run-$(date +%Y%m%d-%H%M%S)}}
kharness=${{KHARNESS:-kharness}}
if ! command -v "$kharness" >/dev/null 2>&1; then
    echo "repro.sh: kharness not found. Install it (Debian 12): git clone the kharness" \\
         "repository, then in it: bash scripts/quickstart.sh (or python3 -m venv .venv &&" \\
         ".venv/bin/pip install -e . && .venv/bin/kharness doctor --install);" \\
         "then KHARNESS=/path/to/.venv/bin/kharness $0" >&2
    exit 2
fi
rc=0
"$kharness" {run} || rc=$?
[ "$rc" -le 1 ] || {{ echo "repro.sh: kharness run failed (exit $rc)" >&2; exit 2; }}
python3 - "$out" "$here" <<'EOF'
import json, pathlib, sys
want = json.loads({json.dumps(json.dumps(check))})
out, here = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
recs = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines() if x.strip()]
tests = [r for r in recs if r.get("type") == "test" and r.get("nodeid") == want["nodeid"]]
hit = any((want["title"] and want["title"] in [s.get("title") for s in r.get("splats") or []])
          or (not want["title"] and r.get("outcome") == want["outcome"]) for r in tests)
builds = [r.get("build", {{}}).get("dir") for r in recs if r.get("type") == "cell"]
for d in filter(None, builds):
    same = pathlib.Path(d, "config").read_bytes() == (here / "kernel.config").read_bytes() \\
        if (here / "kernel.config").exists() else True
    print("kernel .config:", "identical to kernel.config" if same else "DIFFERS from kernel.config")
print("REPRODUCED:" if hit else "not reproduced:", want["title"] or want["outcome"],
      "in", want["nodeid"], "(run:", out, ")")
sys.exit(1 if hit else 0)
EOF
"""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _readme(info: RunInfo, f: Finding, patches: int | None, config_ok: bool,
            cfg_ok: bool) -> str:
    src = dict(run_source(info.run))
    s = f.splat or SplatRecord("", "")
    frames = "\n".join(f"    {x}" for x in s.frames[:16])
    return f"""# Reproducer: {_one_line(f.why)}

- cell `{f.cell}`, test `{f.nodeid}`, outcome **{f.record.outcome.value}**
- culprit: `{s.function or "?"}` at `{s.location or "no file:line recorded"}`
- source: `{json.dumps(src, sort_keys=True)}`
- series: {"none (baseline)" if patches == 0 else f"{patches} patch(es) in series/"
           if patches else "not recoverable (the config or series moved since the run)"}
- kernel.config: {"the exact .config of the build" if config_ok else "missing (build dir gone)"}
- kharness.yaml: {"the run's config, narrowed to this cell" if cfg_ok else
                  "missing: the run's config no longer reads"}
- run: `{info.run.command if info.run else ""}` ({info.run.started if info.run else "?"})

Run `./repro.sh` (needs kharness; it says how to install it if missing). It builds the
kernel (cached builds are reused; an empty `KHARNESS_CACHE` rebuilds from scratch), boots a
fresh guest and runs only this test; it prints REPRODUCED and exits 1 when the finding shows
again. cmdline.txt, knobs.json and workload.txt say what the guest ran with.

Call trace:

{frames or "    (none)"}
"""
