"""Check outputs cached on disk by their inputs (the prefix's git tree, profile, config,
toolchain, objects): the base is compiled once for every version and arch run, and a
second `kharness check` of the same series costs only the comparison."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness.checks.compile import Output
from harness.checks.model import Diagnostic
from harness.util import cache_dir, stable_hash, write_json

FORMAT = 2       # bump when parsing changes what is stored


def _path(key: Any) -> Path:
    return cache_dir("checks") / f"{stable_hash([FORMAT, key])[:24]}.json"


def lookup(key: Any) -> Output | None:
    path = _path(key)
    if not path.exists():
        return None
    try:
        return _load(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError):
        path.unlink(missing_ok=True)
        return None


def store(key: Any, out: Output) -> Output:
    write_json(_path(key), {"diagnostics": [asdict(d) for d in out.diagnostics],
                            "returncode": out.returncode, "command": out.command,
                            "tail": out.tail, "seconds": out.seconds})
    return out


def cached(key: Any, compute: Callable[[], Output]) -> Output:
    hit = lookup(key)
    return hit if hit is not None else store(key, compute())


def _load(data: dict[str, Any]) -> Output:
    diags = tuple(Diagnostic(**{**d, "notes": tuple(d.get("notes", ()))})
                  for d in data["diagnostics"])
    return Output(diags, int(data["returncode"]), str(data["command"]), str(data["tail"]),
                  float(data.get("seconds", 0.0)))
