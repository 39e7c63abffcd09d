"""Terminal text of build-check results: a line per result as it lands, and a verdict per
(arch, version) listing what each patch made new ("new build warning in v1 3/4: ...")."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from harness.checks.model import CheckResult, Status, order, result_from_record
from harness.results.records import Record, others

MAX_LINES = 6      # findings shown per result in the summary


def progress_line(r: CheckResult) -> str:
    first = f": {r.findings[0].one_line()}" if r.findings and r.status is Status.FAIL else ""
    more = f" (+{len(r.findings) - 1} more)" if first and len(r.findings) > 1 else ""
    note = f" [{r.note}]" if r.note and not first else ""
    return (f"[{r.arch} {r.patch.label}] {r.check:13s} {r.status.value.upper()}"
            f"{first}{more}{note}")


def results_of(records: Iterable[Record]) -> list[CheckResult]:
    """The build-check results of a journal (its "check" records)."""
    return [result_from_record(r) for r in others(records, "check")]


def verdict_text(results: list[CheckResult]) -> str:
    if not results:
        return ""
    by: dict[tuple[str, str], list[CheckResult]] = defaultdict(list)
    for r in results:
        by[(r.arch, r.patch.version)].append(r)
    out = []
    for (arch, version), rs in sorted(by.items()):
        out += _group(arch, version, rs)
    return "\n".join(out)


def _group(arch: str, version: str, rs: list[CheckResult]) -> list[str]:
    failing = [r for r in rs if r.status is Status.FAIL]
    errors = [r for r in rs if r.status is Status.ERROR]
    state = "NEW FINDINGS" if failing else "CHECK ERRORS" if errors else "clean"
    ran = sorted({r.check for r in rs}, key=order)
    out = [f"== build checks {arch} {version}: {state} ({', '.join(ran)})"]
    for r in sorted(failing, key=lambda r: (r.patch.number, order(r.check))):
        what = "does not build" if r.check == "bisectability" else f"new {r.check} finding"
        out.append(f"   {what} in {r.patch.label} \"{r.patch.subject}\":")
        shown = [f for f in r.findings if f.severity != "check"] or list(r.findings)
        out += [f"      {f.one_line()}" for f in shown[:MAX_LINES]]
        if len(shown) > MAX_LINES:
            out.append(f"      ... {len(shown) - MAX_LINES} more")
        if r.command:
            out.append(f"      reproduce: {r.command}")
    for r in errors:
        out.append(f"   error {r.check} {r.patch.label}: {r.note}")
    skipped = {r.check: r.note for r in rs if r.status is Status.SKIP}
    out += [f"   skipped {c}: {n}" for c, n in skipped.items()]
    base = [r for r in rs if r.patch.number == 0 and r.preexisting]
    for r in base:
        out.append(f"   base: {len(r.preexisting)} {r.check} finding(s) pre-existing, not blamed")
    return out


def exit_code(results: list[CheckResult]) -> int:
    if any(r.status is Status.FAIL for r in results):
        return 1
    return 2 if any(r.status is Status.ERROR for r in results) else 0
