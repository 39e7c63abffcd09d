"""Rules found by the eighth field measurement (issue #19): the source-layer table read for a
report's own header function too (a WARNING raised inside an infrastructure layer names the
caller that handed it bad input), and report formats that were read as a bare `bug` or missed
(old-format KCSAN, arm64's "Bad mode in ... handler", a KASAN report interleaved with an oops).

Every log here is written for the test from the kernel's print formats (lib/bug.c,
kernel/panic.c, mm/kasan/report.c, kernel/kcsan/report.c, arch/arm64/kernel/traps.c,
arch/x86/kernel/dumpstack.c, arch/arm64/kernel/stacktrace.c); function names are kernel
functions or invented ones (demo_*), numbers are made up.
"""

from __future__ import annotations

import pytest

from harness.splats.parse import parse_log


def _one(text: str) -> tuple[str, str | None]:
    splats = parse_log(text)
    assert splats, text
    return splats[0].kind, splats[0].function


def _lines(*rows: str) -> str:
    return "".join(f"[  71.{i:06d}] {row}\n" for i, row in enumerate(rows, 1))


def _trace(arch: str, *names: str) -> tuple[str, ...]:
    """A call trace as each architecture prints it (x86_64 in <TASK>, arm64 "Call trace:")."""
    frames = tuple(f" {n}+0x{16 * (i + 3):x}/0x{640 + 16 * i:x}" for i, n in enumerate(names))
    if arch == "arm64":
        return ("Call trace:", *frames)
    return ("Call Trace:", " <TASK>", *frames, " </TASK>")


ARCHES = pytest.mark.parametrize("arch", ["x86_64", "arm64"])


@ARCHES
def test_warning_raised_in_the_allocator_is_the_callers(arch: str) -> None:
    # an over-large request warns inside the page allocator: the caller asked for it
    rip = "pc : " if arch == "arm64" else "RIP: 0010:"
    log = _lines("------------[ cut here ]------------",
                 "WARNING: CPU: 1 PID: 4410 at mm/page_alloc.c:4781 "
                 "__alloc_frozen_pages_noprof+0x2f1/0x6a0",
                 "Modules linked in:", "CPU: 1 PID: 4410 Comm: demo Not tainted 6.13.0 #1",
                 f"{rip}__alloc_frozen_pages_noprof+0x2f1/0x6a0",
                 *_trace(arch, "__alloc_pages_noprof", "___kmalloc_large_node",
                         "__kmalloc_large_node_noprof", "__kmalloc_noprof", "demo_read_table",
                         "demo_fill_super", "get_tree_bdev", "vfs_get_tree"),
                 "---[ end trace 0000000000000000 ]---")
    assert _one(log) == ("warning", "demo_read_table")
    assert parse_log(log)[0].title == "WARNING in demo_read_table"
