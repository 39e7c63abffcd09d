"""Typed records of the build checks: a diagnostic, a finding, a check result."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from harness.results import fields as f
from harness.results.fields import JsonMap, JsonObject

# The named checks, in the order they run and are shown.
CHECKS = ("bisectability", "gcc", "clang", "sparse", "checkpatch", "kernel-doc")
DEFAULT_CHECKS = CHECKS
_NUMBERS = re.compile(r"\b\d+\b")


class Status(StrEnum):
    """Outcome of one check on one patch; higher priority wins when merged."""

    PASS = "pass"  # noqa: S105 (a check status, not a password)
    SKIP = "skip"
    ERROR = "error"     # the rig could not run the check (no tool, make broke): not a finding
    FAIL = "fail"       # the patch made something new: a finding

    @property
    def priority(self) -> int:
        return {"skip": 0, "pass": 1, "error": 2, "fail": 3}[self.value]


@dataclass(frozen=True)
class Diagnostic:
    """One compiler/checker message, with its notes ("note:", include chains)."""

    file: str
    line: int
    column: int
    severity: str            # warning | error | note | check (checkpatch CHECK)
    message: str
    flag: str = ""           # -Wmaybe-uninitialized, or "" (sparse, kernel-doc)
    function: str = ""
    notes: tuple[str, ...] = ()

    def key(self) -> tuple[str, str, str, str]:
        """What makes two diagnostics the same one, wherever the patch moved its line."""
        return (self.file, self.function, self.flag, _NUMBERS.sub("N", self.message))

    def where(self) -> str:
        return f"{self.file}:{self.line}" + (f":{self.column}" if self.column else "")


@dataclass(frozen=True)
class PatchRef:
    """Patch `number` of `total` of a series version; number 0 is the base."""

    version: str
    number: int
    total: int
    subject: str

    @property
    def label(self) -> str:
        return "base" if self.number == 0 else f"{self.version} {self.number}/{self.total}"

    @property
    def variant(self) -> str:
        return "baseline" if self.number == 0 else f"{self.version}:{self.number}"


@dataclass(frozen=True)
class Finding:
    check: str
    patch: PatchRef
    file: str
    line: int
    message: str
    severity: str = "warning"
    flag: str = ""
    function: str = ""
    command: str = ""          # copy-paste reproducer

    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def one_line(self) -> str:
        flag = f" [{self.flag}]" if self.flag else ""
        fn = f" (in {self.function})" if self.function else ""
        return f"{self.where()}: {self.severity}: {self.message}{flag}{fn}"

    def as_dict(self) -> JsonObject:
        return {"file": self.file, "line": self.line, "message": self.message,
                "severity": self.severity, "flag": self.flag, "function": self.function,
                "command": self.command}


@dataclass(frozen=True)
class CheckResult:
    check: str
    arch: str
    patch: PatchRef
    status: Status
    findings: tuple[Finding, ...] = ()
    preexisting: tuple[Finding, ...] = ()     # shown, not blamed
    note: str = ""
    seconds: float = 0.0
    command: str = ""
    objects: tuple[str, ...] = field(default=())

    def record(self) -> JsonObject:
        """The journal record (results.jsonl, type "check")."""
        p = self.patch
        return {"type": "check", "check": self.check, "arch": self.arch,
                "version": p.version, "patch": p.number, "patches": p.total,
                "subject": p.subject, "status": self.status.value,
                "findings": [f.as_dict() for f in self.findings],
                "preexisting": [f.as_dict() for f in self.preexisting],
                "note": self.note, "seconds": round(self.seconds, 2),
                "command": self.command, "objects": list(self.objects)}


def result_from_record(r: JsonMap) -> CheckResult:
    """Inverse of CheckResult.record (reports read the journal); a RecordError names a
    field of the wrong type."""
    w = "check record"
    patch = PatchRef(f.text(r, "version", w), f.opt_int(r, "patch", w) or 0,
                     f.opt_int(r, "patches", w) or 0, f.text(r, "subject", w))
    check = f.text(r, "check", w)

    def finding(value: object, key: str) -> Finding:
        d = f.as_object(value, w, key)
        return Finding(check, patch, f.text(d, "file", w), f.opt_int(d, "line", w) or 0,
                       f.text(d, "message", w), f.text(d, "severity", w, "warning"),
                       f.text(d, "flag", w), f.text(d, "function", w), f.text(d, "command", w))

    return CheckResult(check, f.text(r, "arch", w), patch, Status(f.text(r, "status", w, "error")),
                       tuple(finding(d, "findings") for d in f.as_list(r.get("findings", []),
                                                                        w, "findings")),
                       tuple(finding(d, "preexisting") for d in f.as_list(
                           r.get("preexisting", []), w, "preexisting")),
                       f.text(r, "note", w), float(f.opt_number(r, "seconds", w) or 0.0),
                       f.text(r, "command", w), f.strings(r.get("objects", []), w, "objects"))


def rig_error(message: str) -> CheckResult:
    """A result saying the checks could not run at all (the rig broke, not the series)."""
    return CheckResult("checks", "", PatchRef("", 0, 0, ""), Status.ERROR, note=message)


def order(check: str) -> int:
    """Display position of a check name (unknown names last)."""
    return CHECKS.index(check) if check in CHECKS else len(CHECKS)
