"""Build checks as JUnit: a suite per (arch, version), a test case per check per patch."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

from harness.checks.model import CheckResult, Status, order
from harness.report import junit
from harness.util import atomic_write


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:60]


def case(r: CheckResult) -> ET.Element:
    p = r.patch
    classname = f"checks.{r.arch}.{p.version}.{p.number:02d}-{_slug(p.subject)}"
    el = ET.Element("testcase", classname=classname, name=r.check, time=f"{r.seconds:.3f}")
    text = "\n".join([*(f.one_line() for f in r.findings),
                      *([f"note: {r.note}"] if r.note else []),
                      *([f"reproduce: {r.command}"] if r.command else [])])
    if r.status is Status.FAIL:
        first = r.findings[0].one_line() if r.findings else r.note
        sub = ET.SubElement(el, "failure", message=junit.xml_safe(
            f"{p.label} {r.check}: {first}"[:500]), type="build-check")
        sub.text = junit.xml_safe(text)
    elif r.status is Status.ERROR:
        sub = ET.SubElement(el, "error", message=junit.xml_safe(r.note[:500]), type="infra")
        sub.text = junit.xml_safe(text)
    elif r.status is Status.SKIP:
        ET.SubElement(el, "skipped", message=junit.xml_safe(r.note[:500]))
    elif text:
        ET.SubElement(el, "system-out").text = junit.xml_safe(text)
    return el


def suites(results: list[CheckResult]) -> list[ET.Element]:
    by: dict[tuple[str, str], list[CheckResult]] = defaultdict(list)
    for r in results:
        by[(r.arch, r.patch.version)].append(r)
    out = []
    for (arch, version), rs in sorted(by.items()):
        suite = ET.Element("testsuite", name=f"checks/{arch}/{version}")
        for r in sorted(rs, key=lambda r: (r.patch.number, order(r.check))):
            suite.append(case(r))
        junit.count(suite)
        out.append(suite)
    return out


def write(path: Path, results: list[CheckResult]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, junit.merged(suites(results), "kharness checks"))
    return path
