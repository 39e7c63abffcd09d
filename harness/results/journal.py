"""Test results: the record schema, the append-only journal, status priority.

results.jsonl holds one JSON object per line, written and fsync'ed as each test finishes,
so a run killed with -9 keeps everything already finished. Record types:

  {"type": "test", "cell": "x86_64/patched", "arch", "variant", "nodeid", "knobset",
   "outcome": passed|failed|error|skipped|crash|lockup|timeout|infra, "duration",
   "splats": [{"kind","title","function","line"}], "counters": {order_kB: {stat: delta}},
   "per_scan": [...], "census": {order: pages}, "message", "console"}
  {"type": "cell", "cell", "arch", "variant", "status": done|failed|infra, "build": {...},
   "seconds", "reproduce"}
  {"type": "run", ...metadata}
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

# Higher wins when several results describe one thing (e.g. K runs of a bisect step).
PRIORITY = {"crash": 7, "lockup": 6, "timeout": 5, "failed": 4, "error": 3, "infra": 2,
            "passed": 1, "skipped": 0}
FINDINGS = {"crash", "lockup", "timeout", "failed"}
INFRA = {"infra", "error"}


def worst(outcomes: Iterable[str]) -> str:
    items = list(outcomes)
    if not items:
        return "error"            # no results is an error, not a pass
    return max(items, key=lambda o: PRIORITY.get(o, 3))


class Journal:
    """Append-only JSON-lines file; each append is flushed and fsync'ed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, sort_keys=True, default=str)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def records(self, type_: str | None = None) -> list[dict[str, Any]]:
        return [r for r in read(self.path) if type_ is None or r.get("type") == type_]


def read(path: Path) -> Iterator[dict[str, Any]]:
    """Records of a journal; a torn last line (killed mid-write) is ignored."""
    if not path.exists():
        return
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            yield obj


def latest_tests(records: Iterable[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """(cell, nodeid) -> the last test record (a resumed run supersedes earlier tries)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for r in records:
        if r.get("type") == "test":
            out[(str(r.get("cell")), str(r.get("nodeid")))] = r
    return out
