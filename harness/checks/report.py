"""Build checks in report.html: per (arch, version) a patches x checks table and, per
patch, what it made new (file:line, message, flag, function, the command that shows it)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from harness.checks.model import CheckResult, Finding, PatchRef, Status, order


@dataclass(frozen=True)
class PatchRow:
    patch: PatchRef
    cells: tuple[tuple[str, str, str], ...]      # (check, status, title)
    results: tuple[CheckResult, ...]             # those with something to show

    @property
    def failed(self) -> bool:
        return any(r.status is Status.FAIL for r in self.results)


@dataclass(frozen=True)
class GroupView:
    id: str
    arch: str
    version: str
    checks: tuple[str, ...]
    rows: tuple[PatchRow, ...]
    errors: tuple[CheckResult, ...]

    @property
    def failed(self) -> bool:
        return any(r.failed for r in self.rows)


def shown(r: CheckResult) -> tuple[Finding, ...]:
    return r.findings + r.preexisting


def view(results: list[CheckResult]) -> list[GroupView]:
    by: dict[tuple[str, str], list[CheckResult]] = defaultdict(list)
    errors = [r for r in results if not r.arch]
    for r in results:
        if r.arch:
            by[(r.arch, r.patch.version)].append(r)
    groups = [_group(arch, version, rs) for (arch, version), rs in sorted(by.items())]
    if errors:
        groups.append(GroupView("checks-rig", "", "", (), (), tuple(errors)))
    return groups


def _group(arch: str, version: str, rs: list[CheckResult]) -> GroupView:
    checks = tuple(sorted({r.check for r in rs}, key=order))
    rows = []
    for number in sorted({r.patch.number for r in rs}):
        mine = {r.check: r for r in rs if r.patch.number == number}
        patch = next(iter(mine.values())).patch
        cells = tuple((c, mine[c].status.value if c in mine else "", _title(mine.get(c)))
                      for c in checks)
        detail = tuple(r for c, r in sorted(mine.items(), key=lambda kv: order(kv[0]))
                       if shown(r) or r.status in (Status.ERROR, Status.SKIP))
        rows.append(PatchRow(patch, cells, detail))
    return GroupView(f"checks-{arch}-{version}", arch, version, checks, tuple(rows), ())


def _title(r: CheckResult | None) -> str:
    if r is None:
        return "not run"
    parts = [f"{len(r.findings)} new"] if r.findings else []
    parts += [f"{len(r.preexisting)} pre-existing"] if r.preexisting else []
    parts += [r.note] if r.note else []
    return "; ".join(parts) or r.status.value
