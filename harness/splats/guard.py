"""The splat guard: one test's slice of the guest console, parsed for kernel splats.

The pytest plugin (harness.plugin) records the console offset when a test's guest is handed
out; after the test body it asks `test_splats` for what the kernel printed since, then
`verdict` for what that means: an `expect_splat(kind=..., title=regex)` marker that saw no
matching splat fails the test, and any other splat fails it with `SplatFound` listing kind,
title, function and the first frames.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.errors import KharnessError
from harness.splats.model import Splat
from harness.splats.parse import parse_log

log = logging.getLogger("harness")


class SplatFound(AssertionError):
    """The kernel printed a splat during the test."""


def read_from(path: Path, offset: int) -> str:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read().decode(errors="backslashreplace")


def console_slice(machine: Any, offset: int, nodeid: str, healthy: bool) -> str:
    """The console from offset on; a healthy guest first prints the test's end marker."""
    path: Path = machine.console_path
    end_marker = f"kharness: test end {nodeid}"
    if healthy:
        with contextlib.suppress(KharnessError):
            machine.guest.mark_test_end(nodeid)
        deadline = time.monotonic() + 5 * machine.scale
        while time.monotonic() < deadline and end_marker not in read_from(path, offset):
            time.sleep(0.1)
    return read_from(path, offset)


def test_splats(text: str, nodeid: str, kernel: Any, arch: str) -> list[Splat]:
    """The splats in text, symbolised against the kernel's vmlinux when there is one."""
    found = parse_log(text, file=nodeid)
    if kernel is None:
        return found
    from harness.splats import symbolize
    try:
        return [symbolize.symbolize(s, kernel.vmlinux, arch) for s in found]
    except (KharnessError, OSError) as e:       # the splats stand; only file:line is missing
        log.warning("%s: %d splat(s) not symbolised against %s: %s", nodeid, len(found),
                    kernel.vmlinux, e)
        return found


Marker = Mapping[str, object]       # an expect_splat/known_splat marker's kwargs


def matches(expect: Marker, splat: Splat) -> bool:
    kind, title = expect.get("kind"), expect.get("title")
    return (kind is None or splat.kind == kind) and (
        title is None or re.search(str(title), splat.title) is not None)


def verdict(expect: Marker | None, splats: list[Splat]) -> AssertionError | None:
    """What the test's splats make of it: None (fine), or the exception that fails it."""
    if expect is not None and not [s for s in splats if matches(expect, s)]:
        return AssertionError(f"expected splat {dict(expect)} not seen")
    unexpected = [s for s in splats if expect is None or not matches(expect, s)]
    return SplatFound(describe(unexpected)) if unexpected else None


def split_known(known: list[Marker],
                splats: list[Splat]) -> tuple[list[Splat], list[Splat]]:
    """(unknown, known) splats: `known_splat(kind=..., title=regex, reason=...)` markers name
    kernel findings already reported, which xfail the test instead of failing it."""
    hit = [s for s in splats if any(matches(k, s) for k in known)]
    return [s for s in splats if s not in hit], hit


def known_message(known: list[Marker], hit: list[Splat]) -> str:
    reasons = [str(k.get("reason", "")) for k in known if any(matches(k, s) for s in hit)]
    titles = list(dict.fromkeys(s.title for s in hit))
    return f"known kernel finding: {'; '.join(titles)} ({'; '.join(r for r in reasons if r)})"


def describe(splats: list[Splat]) -> str:
    lines = [f"{len(splats)} kernel splat(s) during the test:"]
    for s in splats:
        lines.append(f"  [{s.kind}] {s.title}  (function: {s.function}, console line {s.line})")
        for frame in list(getattr(s, "frames", []))[:12]:
            lines.append(f"      {frame}")
    return "\n".join(lines)
