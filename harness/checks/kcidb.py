"""Build checks in KCIDB: per (arch, version, prefix) a checkout (the base plus the first k
patches: patchset_hash over exactly those), a build whose status is the prefix's
bisectability and whose log excerpt carries its new warnings, and a test per check
("kharness.checks.<check>"); a new finding is an issue (category build.<check>) with an
incident on that test."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from harness.checks.model import CheckResult, Finding, Status
from harness.results.fields import JsonObject

Obj = JsonObject                 # a KCIDB object being built: JSON by nature
Ident = Callable[..., str]
STATUS = {Status.PASS: "PASS", Status.FAIL: "FAIL", Status.ERROR: "ERROR", Status.SKIP: "SKIP"}
EXCERPT_MAX = 16384


def _variant(r: CheckResult) -> str:
    return "baseline" if r.patch.number == 0 else f"{r.patch.version}:{r.patch.number}"


def _excerpt(findings: list[Finding] | tuple[Finding, ...]) -> str | None:
    text = "\n".join(f.one_line() for f in findings)
    return text[-EXCERPT_MAX:] if text else None


def checkouts(ident: Ident, results: list[CheckResult],
              checkout: Callable[[str], Obj]) -> list[Obj]:
    """One per prefix checked, made by the run's own checkout builder, with its own id."""
    out = {}
    for r in results:
        if r.arch:
            v = _variant(r)
            out[v] = {**checkout(v), "id": ident("check-checkout", v)}
    return list(out.values())


def builds(ident: Ident, results: list[CheckResult]) -> list[Obj]:
    by: dict[tuple[str, str], list[CheckResult]] = defaultdict(list)
    for r in results:
        if r.arch:
            by[(r.arch, _variant(r))].append(r)
    out: list[Obj] = []
    for (arch, variant), rs in sorted(by.items()):
        bis = next((r for r in rs if r.check == "bisectability"), None)
        warnings = [f for r in rs if r.check != "bisectability" for f in r.findings]
        failed = bis is not None and bis.status is Status.FAIL
        out.append({"id": ident("check-build", arch, variant),
                    "checkout_id": ident("check-checkout", variant), "origin": "kharness",
                    "architecture": arch, "config_name": "kharness build checks",
                    "status": None if bis is None else STATUS[bis.status],
                    "log_excerpt": _excerpt(bis.findings if failed and bis else warnings),
                    "command": bis.command if bis is not None and bis.command else None,
                    "duration": bis.seconds if bis is not None else None,
                    "misc": {"new_warnings": [f.as_dict() for f in warnings] or None,
                             "patch": rs[0].patch.label, "subject": rs[0].patch.subject}})
    return out


def tests(ident: Ident, results: list[CheckResult]) -> list[Obj]:
    return [{"id": ident("check", r.arch, _variant(r), r.check),
             "build_id": ident("check-build", r.arch, _variant(r)), "origin": "kharness",
             "path": f"kharness.checks.{r.check.replace('-', '_')}", "status": STATUS[r.status],
             "duration": r.seconds, "log_excerpt": _excerpt(r.findings + r.preexisting),
             "comment": f"{r.check} on {r.patch.label} {r.patch.subject}"[:1000],
             "misc": {"note": r.note or None, "command": r.command or None,
                      "findings": [f.as_dict() for f in r.findings] or None,
                      "preexisting": len(r.preexisting)}}
            for r in results if r.arch]


def issues_and_incidents(ident: Ident, results: list[CheckResult]) -> tuple[list[Obj], list[Obj]]:
    issues: dict[str, Obj] = {}
    incidents = []
    for r in results:
        for n, f in enumerate(r.findings if r.status is Status.FAIL else ()):
            key = ident("check-issue", r.check, f.file, f.function, f.flag, f.message)
            issues.setdefault(key, {
                "id": key, "version": 1, "origin": "kharness",
                "categories": [f"build.{r.check.replace('-', '_')}"],
                "report_subject": f"{r.check}: {f.message}"[:1000],
                "culprit": {"code": True, "tool": False, "harness": False},
                "comment": f.one_line()[:1000],
                "misc": {"file": f.file, "function": f.function or None, "flag": f.flag or None}})
            incidents.append({"id": ident("check-incident", r.arch, _variant(r), r.check, n),
                              "origin": "kharness", "issue_id": key, "issue_version": 1,
                              "test_id": ident("check", r.arch, _variant(r), r.check),
                              "build_id": ident("check-build", r.arch, _variant(r)),
                              "present": True, "comment": f"new in {r.patch.label}: "
                              f"{f.one_line()}"[:1000]})
    return list(issues.values()), incidents
