"""Test results: the record schema, the append-only journal, status priority.

results.jsonl holds one JSON object per line, written and fsync'ed as each test finishes,
so a run killed with -9 keeps everything already finished. Record types:

  {"type": "test", "cell": "x86_64/patched", "arch", "config", "variant", "nodeid", "knobset",
   "outcome": passed|failed|error|skipped|crash|lockup|timeout|infra, "duration",
   "splats": [{"kind","title","function","line"}], "counters": {order_kB: {stat: delta}},
   "per_scan": [...], "census": {order: pages}, "message", "console"}
  {"type": "cell", "cell", "arch", "config", "variant", "status": done|infra|build-failed,
   "build": {...}, "seconds", "reproduce", "message"}; a cell run on a cluster also has
   "worker", "infra_retries", "cluster": {"queued", "task", "overhead"} (seconds)
  {"type": "retry", "cell", "arch", "config", "variant", "attempt", "worker", "reason"}: a
   cluster worker lost mid-cell; the cell ran again elsewhere (infrastructure, never a finding)
  {"type": "check", ...} (harness.checks.model), {"type": "step", ...} (harness.campaign.bisect)
Typed: harness.results.records (TestRecord, CellRecord, RetryRecord; OtherRecord for check and
step). `load()` parses every line into one of them; `read()` gives the lines' JSON.

"cell" is "arch/config/variant" ("x86_64/ptc/patched") when the YAML has `configs:`, else
"arch/variant"; "config" is "" (or absent, in journals from before the config axis) then.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from harness.errors import UserError
from harness.results import records as rec
from harness.results.fields import JsonMap, JsonObject, RecordError
from harness.results.records import Outcome, Record, worst

__all__ = ["FINDINGS", "INFRA", "PRIORITY", "Journal", "Outcome", "load", "read", "worst"]

log = logging.getLogger("harness")

# Higher wins when several results describe one thing (harness.results.records.Outcome).
PRIORITY: dict[str, int] = {o.value: o.priority for o in Outcome}
FINDINGS = frozenset(o.value for o in Outcome if o.is_finding)
INFRA = frozenset(o.value for o in Outcome if o.is_problem)


class Journal:
    """Append-only JSON-lines file; each append is flushed and fsync'ed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, record: Record | JsonMap) -> None:
        """One record (a typed one, or the JSON of a kind another module owns: check, step)."""
        data = record if isinstance(record, Mapping) else record.to_json()
        line = json.dumps(data, sort_keys=True, default=str)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def records(self) -> list[Record]:
        return load(self.path)

    def drop_torn_tail(self) -> None:
        """Cut a torn last line (a writer killed mid-line) before appending again, so it
        does not end up in the middle of the file. Only while no one else appends (a run or
        bisect resuming, before it starts its cells)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            log.warning("%s: dropping a torn last line (%d bytes)", self.path, len(data) - keep)
            os.truncate(self.path, keep)


def load(path: Path) -> list[Record]:
    """The typed records of a journal ([] when there is none); a line that is not JSON (the
    first such line, before any other problem), or a record whose fields do not fit its
    type, is an error naming the file and line."""
    out = []
    for number, obj in list(_numbered(path)):
        try:
            out.append(rec.parse(obj))
        except RecordError as e:
            raise RecordError(f"{path}:{number}: {e.what}", e.why, e.fix) from None
    return out


def read(path: Path) -> Iterator[JsonObject]:
    """The JSON of each record of a journal (see load)."""
    for _, obj in _numbered(path):
        yield obj


def _numbered(path: Path) -> Iterator[tuple[int, JsonObject]]:
    """(line number, JSON object) of each line. Only a torn last line (a writer killed
    mid-write: no newline at its end) is ignored; any other line that is not a JSON object
    is an error naming the file and line."""
    if not path.exists():
        return
    text = path.read_text(errors="replace")
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        torn = number == len(lines) and not text.endswith("\n")
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            if torn:
                continue
            why = f"not JSON ({e.msg.removesuffix(' at')}, column {e.colno})"
            raise _bad_line(path, number, why) from None
        if not isinstance(obj, dict):
            raise _bad_line(path, number, f"a JSON {type(obj).__name__}, not a record")
        yield number, {str(k): v for k, v in obj.items()}


def _bad_line(path: Path, number: int, why: str) -> UserError:
    return UserError(f"{path}:{number}: not a journal record", why,
                     "restore the file, or delete that line to keep the other records")

