"""One junit.xml for a whole run: the cells' pytest junit files merged, or made from records.

Every <testsuite> is a cell and every <testcase> has classname = the cell ("x86_64/patched")
and name = the pytest nodeid, so CI dashboards group by cell. A cell whose junit.xml is
missing or unreadable (pytest killed, build failed) gets one synthesised from the journal.
Failure texts carry the splats (kind, title, function, location, call trace) and a
console excerpt. A test that passed with splats expected them (`expect_splat`; the splat guard
fails a test on any other): each is a property `kharness.expected_splat` ("[kind] title") and a
line of system-out saying it was expected by the test, never a failure.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from harness.results.journal import FINDINGS, INFRA
from harness.results.records import CellRecord, CellStatus, Outcome, SplatRecord, TestRecord
from harness.splats.symbolize import culprit_frame

Excerpt = Callable[[TestRecord], str]
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """Text with the characters XML 1.0 cannot hold (console escapes, NULs) as \\xNN."""
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def junit_key(nodeid: str) -> tuple[str, str]:
    """pytest's (classname, name) of a nodeid: a/b.py::C::t[x] -> ("a.b.C", "t[x]")."""
    path, *rest = nodeid.split("::")
    module = path.removesuffix(".py").replace("/", ".")
    if not rest:
        return module, path
    return ".".join([module, *rest[:-1]]), rest[-1]


def read_cases(path: Path) -> list[ET.Element] | None:
    """The <testcase> elements of a pytest junit file; None if absent or unreadable."""
    try:
        root = ET.parse(path).getroot()  # noqa: S314 (pytest's own junit.xml of this run)
    except (OSError, ET.ParseError):
        return None
    return list(root.iter("testcase"))


def case_times(path: Path) -> dict[tuple[str, str], float]:
    """(classname, name) -> seconds, from a junit file (empty if unreadable)."""
    out = {}
    for case in read_cases(path) or []:
        try:
            out[(case.get("classname", ""), case.get("name", ""))] = float(case.get("time", 0))
        except ValueError:
            continue
    return out


def splat_text(splats: Sequence[SplatRecord]) -> str:
    lines = [f"{len(splats)} kernel splat(s) during the test:"] if splats else []
    for s in splats:
        where = s.location or s.function or "?"
        lines.append(f"  {s.label}  ({where})")
        if s.message:
            lines.append(f"      {s.message}")
        if culprit_frame(s):
            lines.append(f"      culprit: {culprit_frame(s)}")
        lines += [f"      {f}" for f in s.frames[:24]]
    return "\n".join(lines)


def mark_expected(case: ET.Element, record: TestRecord | None) -> ET.Element:
    """Expected splats of a passed test as properties and a system-out note (see above)."""
    splats = record.seen_splats if record else ()
    if not splats or record is None or record.outcome is not Outcome.PASSED:
        return case
    props = case.find("properties")
    if props is None:
        props = ET.Element("properties")
        case.insert(0, props)
    lines = []
    for s in splats:
        label = xml_safe(s.label)
        ET.SubElement(props, "property", name="kharness.expected_splat", value=label)
        lines.append(f"kharness: kernel splat expected by this test (expect_splat): {label}")
    out = case.find("system-out")
    if out is None:
        out = ET.SubElement(case, "system-out")
    out.text = "\n".join([*lines, out.text or ""]).strip() + "\n"
    return case


def failure_text(record: TestRecord, excerpt: str) -> str:
    parts = [record.message or f"outcome: {record.outcome.value}"]
    if record.seen_splats:
        parts.append(splat_text(record.seen_splats))
    if excerpt:
        parts.append("--- console excerpt ---\n" + excerpt)
    return xml_safe("\n\n".join(parts))


def _synth_case(cell: str, record: TestRecord, excerpt: Excerpt) -> ET.Element:
    case = ET.Element("testcase", classname=cell, name=xml_safe(record.nodeid),
                      time=f"{float(record.duration or 0):.3f}")
    outcome = record.outcome.value
    message = xml_safe(record.message or outcome)
    if outcome in FINDINGS:
        tag = "failure"
    elif outcome in INFRA:
        tag = "error"
    elif outcome == "skipped":
        ET.SubElement(case, "skipped", message=message)
        return case
    else:
        return mark_expected(case, record)
    el = ET.SubElement(case, tag, message=message, type=outcome)
    el.text = failure_text(record, excerpt(record))
    return case


def _merged_case(cell: str, case: ET.Element, record: TestRecord | None,
                 excerpt: Excerpt) -> ET.Element:
    new = ET.Element("testcase", dict(case.attrib))
    new.set("classname", cell)
    new.set("name", record.nodeid if record else
            f"{case.get('classname')}::{case.get('name')}")
    for child in case:
        new.append(child)
    bad = [c for c in new if c.tag in ("failure", "error")]
    if bad and record is not None:
        extra = failure_text(replace(record, message=None), excerpt(record)).strip()
        bad[0].text = ((bad[0].text or "") + "\n\n" + extra).strip()
    return mark_expected(new, record)


def _cell_meta_case(cell: CellRecord) -> ET.Element | None:
    status = cell.status
    if status not in (CellStatus.BUILD_FAILED, CellStatus.INFRA):
        return None
    failed = status is CellStatus.BUILD_FAILED
    case = ET.Element("testcase", classname=cell.cell, name="build" if failed else "cell",
                      time=f"{float(cell.build.seconds or 0) if cell.build else 0.0:.3f}")
    el = ET.SubElement(case, "failure" if failed else "error",
                       message=cell.message or status.value, type=status.value)
    el.text = cell.message or f"cell {status.value} (pytest exit {cell.pytest_exit})"
    return case


def cell_suite(cell: str, junit_path: Path, tests: list[TestRecord],
               cell_record: CellRecord | None, excerpt: Excerpt) -> ET.Element:
    suite = ET.Element("testsuite", name=cell)
    cases = read_cases(junit_path)
    if cases is not None:
        by_key = {junit_key(r.nodeid): r for r in tests}
        for case in cases:
            rec = by_key.get((case.get("classname", ""), case.get("name", "")))
            suite.append(_merged_case(cell, case, rec, excerpt))
        suite.set("source", str(junit_path))
    else:
        for r in tests:
            suite.append(_synth_case(cell, r, excerpt))
        suite.set("source", "results.jsonl")
    meta = _cell_meta_case(cell_record) if cell_record else None
    if meta is not None and not tests:
        suite.append(meta)
    count(suite)
    return suite


def count(el: ET.Element) -> None:
    cases = list(el.iter("testcase"))
    el.set("tests", str(len(cases)))
    for tag, attr in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
        el.set(attr, str(sum(1 for c in cases if c.find(tag) is not None)))
    el.set("time", f"{sum(float(c.get('time') or 0) for c in cases):.3f}")


def merged(suites: list[ET.Element], name: str) -> bytes:
    root = ET.Element("testsuites", name=name)
    root.extend(suites)
    count(root)
    ET.indent(root)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body
