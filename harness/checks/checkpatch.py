"""scripts/checkpatch.pl --strict of the tree under test, on each patch of a series.

Each patch is judged on its own (checkpatch has no "base"): ERROR and WARNING are
findings that fail the check; --strict's CHECK remarks are shown and do not fail it.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from harness.checks.model import Finding, PatchRef
from harness.util import cmdline, run

MESSAGE = re.compile(r"^(?P<sev>ERROR|WARNING|CHECK):(?:(?P<type>[A-Z0-9_]+):)?\s*(?P<msg>.*)$")
WHERE = re.compile(r"^#(?P<pline>\d+):\s*(?:FILE:\s*(?P<file>[^:\s]+):(?P<line>\d+):)?")
FAILING = frozenset({"error", "warning"})


def argv(tree: Path, patch_file: Path) -> list[str]:
    return ["perl", str(tree / "scripts" / "checkpatch.pl"), "--strict", "--show-types",
            "--no-color", str(patch_file)]


def parse(text: str, patch: PatchRef, command: str = "") -> list[Finding]:
    out: list[Finding] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = MESSAGE.match(line)
        if not m:
            continue
        where = WHERE.match(lines[i + 1]) if i + 1 < len(lines) else None
        file = (where["file"] or "(commit message)") if where else "(patch)"
        lineno = int(where["line"]) if where and where["line"] else 0
        out.append(Finding("checkpatch", patch, file, lineno, m["msg"].strip(),
                           m["sev"].lower(), m["type"] or "", "", command))
    return out


def check_patch(tree: Path, patch: PatchRef, data: bytes) -> tuple[list[Finding], str]:
    """(findings, copy-paste command) for one patch's mail text."""
    with tempfile.TemporaryDirectory(prefix="kharness-checkpatch-") as tmp:
        f = Path(tmp) / f"{patch.number:04d}.patch"
        f.write_bytes(data)
        cmd = argv(tree, f)
        proc = run(cmd, cwd=tree, check=False, timeout=600)
        shown = cmdline(["perl", "scripts/checkpatch.pl", "--strict", "--show-types",
                         f"{patch.number:04d}.patch"])
        return parse(proc.stdout, patch, shown), shown
