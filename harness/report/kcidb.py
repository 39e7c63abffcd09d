"""kcidb.json: a run in KernelCI's KCIDB I/O schema v5.3 (kcidb-io's current), valid by kcidb-io.

    document(info) -> dict      checkouts, builds, tests, issues, incidents of one run directory
    write(path, run, records)   the file (validated with kcidb-io when that is installed)
    validate(doc) -> str | None the first schema error, None if valid or kcidb-io is missing
    kharness kcidb RUN          re-export an existing run directory

One function per object kind. A checkout per variant: the source plus, for patched variants,
the series (patchset_hash as the schema defines it: sha256 over the patches' sha256 lines). A
git source names its 40-hex commit; a Debian or tarball source has no git commit, so its
checkout is identified by tree_name ("debian"), a comment with package, version and suite, and
misc.source (package sha256 and URL): what the schema allows when git_* does not apply. A build
per cell, a test per test record, an issue per distinct kernel finding (splat kind + title, or a
lockup/crash of a test) with one incident per occurrence; incident misc says whether the
finding is new with the series. The schema forbids nulls: absent values are left out.
IDs are "kharness:<hash>" of the run's identity (name, start time) and the object's.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from harness.checks import kcidb as checkkcidb
from harness.checks import summary as checksummary
from harness.errors import HarnessBug
from harness.results import runinfo, verdict
from harness.results.fields import JsonMap, JsonObject
from harness.results.records import (
    CellStatus,
    Outcome,
    Record,
    SplatRecord,
    TestRecord,
)
from harness.results.runinfo import BuildMeta, RunInfo, run_source
from harness.splats.symbolize import culprit_frame
from harness.util import atomic_write, stable_hash

log = logging.getLogger("harness")
ORIGIN = "kharness"
VERSION = {"major": 5, "minor": 3}
STATUS = {"passed": "PASS", "failed": "FAIL", "crash": "FAIL", "lockup": "FAIL",
          "timeout": "FAIL", "error": "ERROR", "infra": "MISS", "skipped": "SKIP",
          "xfailed": "PASS", "xpassed": "PASS"}
LOCKUPS = (Outcome.CRASH, Outcome.LOCKUP, Outcome.TIMEOUT)
HEX40 = re.compile(r"^[0-9a-f]{40}$")
EXCERPT_MAX = 16384
Obj = JsonObject                 # a KCIDB object being built: JSON by nature
VERDICTS = {"new": "new with the series", "pre-existing": "pre-existing (also without the series)",
            "baseline only": "without the series only", "expected": "expected by its test"}


def _id(info: RunInfo, *parts: object) -> str:
    run = info.run
    ident = [run.started if run else None, run.name if run else None, *parts]
    return f"{ORIGIN}:{stable_hash(ident)[:24]}"


def _prune(value: object) -> object:
    """The schema forbids null anywhere: drop None members (recursively) and NUL characters."""
    if isinstance(value, dict):
        return {k: _prune(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_prune(v) for v in value if v is not None]
    if isinstance(value, str):
        return value.replace("\0", "\\0")
    return value


def _path_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_") or "_"


def test_path(record: TestRecord) -> str:
    """KCIDB dot path of a test: kharness.<module path>.<function>.<params without arch-variant>."""
    key = verdict.test_key(record)
    head, _, params = key.partition("[")
    parts = [p for chunk in head.split("::") for p in chunk.removesuffix(".py").split("/") if p]
    if params.rstrip("]"):
        parts.append(params.rstrip("]"))
    return ".".join([ORIGIN, *(_path_part(p) for p in parts)])


def _file_url(path: str | Path | None) -> str | None:
    return Path(path).resolve().as_uri() if path and Path(path).exists() else None


def _time(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.datetime.fromtimestamp(float(epoch), datetime.UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


# ------------------------------------------------------------------- checkouts
def patchset_hash(sha256s: Iterable[str]) -> str:
    """KCIDB's patchset hash: sha256 of the patches' newline-terminated sha256 hex digests
    (`sha256sum *.patch | cut -c-64 | sha256sum`); "" when no patch is applied."""
    from harness.util import sha256_bytes
    lines = "".join(f"{h}\n" for h in sha256s)
    return sha256_bytes(lines.encode()) if lines else ""


def _source_fields(src: JsonMap) -> Obj:
    kind = src.get("kind")
    if kind == "git":
        loc, ref = str(src.get("location") or ""), str(src.get("ref") or "")
        commit = str(src.get("commit") or (ref if HEX40.match(ref) else ""))
        return {"tree_name": Path(loc.rstrip("/")).name.removesuffix(".git") or "git",
                "git_commit_hash": commit if HEX40.match(commit) else None,
                "git_repository_url": loc if loc.startswith("https://") else None,
                "git_repository_branch": ref if ref and not HEX40.match(ref) else None,
                "comment": f"git {loc} {ref}".strip()}
    if kind == "debian":
        package = src.get("package") or src.get("location")
        digest = f", .deb sha256 {src['sha256']}" if src.get("sha256") else ""
        return {"tree_name": "debian",
                "comment": " ".join(str(x) for x in ("Debian source package", package,
                                                     src.get("version"), f"({src.get('suite')})"
                                                     if src.get("suite") else None) if x)
                           + f"{digest}; no git commit: identified by misc.source"}
    return {"tree_name": str(kind or "unknown"),
            "comment": f"{kind} {src.get('location') or ''}: no git commit, identified by "
                       "misc.source"}


def checkout(info: RunInfo, variant: str) -> Obj:
    src, run = run_source(info.run), info.run
    patches = info.patches(variant)
    meta = next((m for c, r in info.cells.items()
                 if r.variant == variant and (m := info.build_meta(c))), None)
    obj: Obj = {"id": _id(info, "checkout", variant), "origin": ORIGIN,
                **_source_fields(src), "start_time": run.started if run else None,
                "valid": True, "origin_tests_finish_time": run.finished if run else None,
                "misc": {"variant": variant, "source": dict(src),
                         "commit": meta.commit if meta else None,
                         "series": dict(meta.series) if meta and meta.series else None}}
    if patches is not None:
        obj["patchset_hash"] = patchset_hash(p.sha256 for p in patches)
        files = [{"name": Path(p.origin.split("#")[0]).name, "url": u} for p in patches
                 if (u := _file_url(p.origin.split("#")[0]))]
        obj["patchset_files"] = list({f["url"]: f for f in files}.values()) or None
        if patches:
            obj["comment"] = f"{obj['comment']} + {len(patches)} patch(es): {patches[0].subject}"
    return obj


# ---------------------------------------------------------------------- builds
def build(info: RunInfo, cell: str) -> Obj:
    c = info.cells.get(cell)
    rec = c.record if c else None
    meta = info.build_meta(cell) or BuildMeta()
    b = rec.build if rec else None
    failed = rec is not None and rec.status is CellStatus.BUILD_FAILED
    config = Path(b.dir) / "config" if b and b.dir else None
    return {"id": _id(info, "build", cell),
            "checkout_id": _id(info, "checkout", c.variant if c else None),
            "origin": ORIGIN, "architecture": (c.arch if c else "") or cell.split("/")[0],
            "config_name": "+".join(["tinyconfig", *meta.fragments]),
            "compiler": meta.toolchain, "command": meta.command,
            "start_time": info.run.started if info.run else None,
            "duration": meta.total if meta.total is not None else b.seconds if b else None,
            "status": "FAIL" if failed else "PASS" if b else None,
            "log_excerpt": str(rec.message)[-EXCERPT_MAX:] if rec and failed else None,
            "input_files": [{"name": "config", "url": u}] if (u := _file_url(config)) else None,
            "config_url": _file_url(config),
            "misc": {"cell": cell, "kconfig": (rec.config if rec else None) or None,
                     "dir": b.dir if b else None, "cached": b.cached if b else None,
                     "config_sha256": meta.config_sha256}}


# ----------------------------------------------------------------------- tests
def _excerpt(r: TestRecord) -> str | None:
    lines = [r.message] if r.message else []
    lines += [s.label for s in r.seen_splats]
    text = "\n".join(lines)
    return text[-EXCERPT_MAX:] if text else None


def test(info: RunInfo, r: TestRecord) -> Obj:
    duration, end = r.duration, r.time
    start = end - duration if end is not None and duration is not None else end
    qemu = info.run.qemu if info.run else {}
    return {"id": _id(info, "test", r.cell, r.nodeid),
            "build_id": _id(info, "build", r.cell), "origin": ORIGIN,
            "path": test_path(r), "status": STATUS.get(r.outcome.value, "ERROR"),
            "duration": duration, "start_time": _time(start), "log_excerpt": _excerpt(r),
            "comment": r.nodeid,
            "environment": {"comment": f"QEMU {r.arch} guest"
                                       + (f", knobs {r.knobset}" if r.knobset else ""),
                            "misc": {"knobset": r.knobset, "qemu": qemu.get(r.arch)}},
            "misc": {"outcome": r.outcome.value, "nodeid": r.nodeid, "cell": r.cell,
                     "counters": r.counters.to_json() if r.counters else None}}


# ----------------------------------------------------------- issues, incidents
def findings(r: TestRecord) -> list[SplatRecord]:
    """Every kernel finding in a test record: its splats, and a crash/lockup/timeout outcome
    that came without one (as a splat of that kind, with the test's message)."""
    out = list(r.seen_splats)
    if r.outcome in LOCKUPS and not out:
        out.append(SplatRecord(r.outcome.value, f"{r.outcome.value} in {verdict.test_key(r)}",
                               message=r.message))
    return out


def _issue_id(kind: str, title: str) -> str:
    return f"{ORIGIN}:issue-{stable_hash([kind, title])[:24]}"


def issue(found: SplatRecord) -> Obj:
    """A kernel finding; the id depends on kind and title only, so reruns share it."""
    kind, title = found.kind, found.title
    return {"id": _issue_id(kind, title), "version": 1, "origin": ORIGIN,
            "categories": [f"runtime.{_path_part(kind)}"], "report_subject": title,
            "culprit": {"code": True, "tool": False, "harness": False},
            "comment": found.label, "misc": {"kind": kind, "function": found.function}}


def _status(groups: list[verdict.GroupVerdict], r: TestRecord, title: str) -> str:
    st = next((st for g in groups if (st := g.splat_status(r, title))), None)
    return VERDICTS[st] if st else "not compared"


def incident(info: RunInfo, r: TestRecord, found: SplatRecord, status: str, n: int) -> Obj:
    kind, title = found.kind, found.title
    return {"id": _id(info, "incident", r.cell, r.nodeid, kind, title, n),
            "origin": ORIGIN, "issue_id": _issue_id(kind, title), "issue_version": 1,
            "test_id": _id(info, "test", r.cell, r.nodeid),
            "build_id": _id(info, "build", r.cell), "present": True,
            "comment": f"{status}: {found.label}",
            "misc": {"verdict": status, "location": found.location,
                     "culprit_frame": culprit_frame(found), "frames": list(found.frames) or None}}


def groups_of(info: RunInfo) -> list[verdict.GroupVerdict]:
    return [g for other in info.variants() if other != "baseline"
            for g in verdict.compare(info.records, "baseline", other)]


# -------------------------------------------------------------------- document
def document(info: RunInfo) -> Obj:
    groups = groups_of(info)
    issues: dict[str, Obj] = {}
    incidents: list[Obj] = []
    for r in info.tests:
        for n, found in enumerate(findings(r)):
            issues.setdefault(_issue_id(found.kind, found.title), issue(found))
            incidents.append(incident(info, r, found, _status(groups, r, found.title), n))
    checks = checksummary.results_of(info.records)

    def ident(*parts: object) -> str:
        return _id(info, *parts)

    check_issues, check_incidents = checkkcidb.issues_and_incidents(ident, checks)
    doc: Obj = {"version": dict(VERSION),
                "checkouts": [checkout(info, v) for v in info.variants()]
                + checkkcidb.checkouts(ident, checks, lambda v: checkout(info, v)),
                "builds": [build(info, c) for c in info.cells] + checkkcidb.builds(ident, checks),
                "tests": [test(info, r) for r in info.tests] + checkkcidb.tests(ident, checks),
                "issues": list(issues.values()) + check_issues,
                "incidents": incidents + check_incidents}
    return {k: _prune(v) for k, v in doc.items() if v is not None}


def validate(doc: Obj) -> str | None:
    """The first KCIDB schema violation; None when valid (or when kcidb-io is not installed)."""
    try:
        import jsonschema
        import kcidb_io
    except ImportError:
        return None
    try:
        kcidb_io.schema.LATEST.validate(doc)
    except jsonschema.ValidationError as e:
        return f"{str(e).splitlines()[0]} (at {'/'.join(map(str, e.path))})"
    return None


def write(path: Path, records: Sequence[Record] | None = None) -> Path:
    """Write kcidb.json for the run directory holding `path` (its journal: `records` when
    the caller has read it); an invalid document is written too (for inspection) and logged
    as an error."""
    doc = document(runinfo.load(path.parent, records))
    atomic_write(path, json.dumps(doc, indent=1, sort_keys=True) + "\n")
    error = validate(doc)
    if error:
        log.error("%s does not validate with kcidb-io: %s", path, error)
    return path


# ------------------------------------------------------------------------- CLI
def add_cli(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("kcidb", help="(re-)export a run directory as KCIDB v5 JSON, validated")
    p.add_argument("run", help="run directory (holds run.json and results.jsonl)")
    p.add_argument("-o", "--output", help="file to write (default: RUN/kcidb.json)")
    p.set_defaults(func=_cmd_kcidb)


def _cmd_kcidb(args: argparse.Namespace) -> int:
    from harness.errors import UserError
    out = Path(args.run)
    if not (out / "results.jsonl").exists():
        raise UserError(f"{out} is not a run directory", "no results.jsonl in it",
                        "pass the --out directory of a `kharness run`")
    path = Path(args.output) if args.output else out / "kcidb.json"
    info = runinfo.load(out)
    doc = document(info)
    atomic_write(path, json.dumps(doc, indent=1, sort_keys=True) + "\n")
    counts = ", ".join(f"{len(v)} {k}" for k, v in doc.items() if isinstance(v, list))
    error = validate(doc)
    if error:
        raise HarnessBug(f"{path} does not validate with kcidb-io", error,
                         "report it with the run directory")
    try:
        import kcidb_io  # noqa: F401
        checked = "valid KCIDB v5.3 (kcidb-io)"
    except ImportError:
        checked = "not validated: pip install kcidb-io"
    print(f"wrote {path}: {counts}; {checked}")
    return 0
