"""Running make: full log to disk, a one-line progress display on a TTY, error extraction."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from harness.errors import HarnessBug
from harness.util import cmdline

log = logging.getLogger("harness")
STEP_RE = re.compile(r"^\s+(CC|AS|LD|AR|HOSTCC|GEN|CALL|OBJCOPY|KSYMS|SYSMAP|LDS|CPP|"
                     r"HOSTLD|UPD|MKPIGGY|ZOFFSET|VOFFSET|RELOCS|BTF|MODPOST|GZIP|XZKERN)\s+(\S+)")
ERROR_RE = re.compile(r"(error:|Error \d+|undefined reference|multiple definition|"
                      r"No rule to make target|fatal error|\*\*\*)")


def run_make(argv: list[str], log_path: Path, label: str, count_file: Path) -> int:
    """Run make, tee to log_path, show progress on a TTY; returns the exit code."""
    log.info("[%s] $ %s", label, cmdline(argv))
    expected = _read_int(count_file)
    tty = sys.stderr.isatty()
    steps, last_note, t0 = 0, time.monotonic(), time.monotonic()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as logf, subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            errors="backslashreplace", env={**os.environ, "LC_ALL": "C"}) as proc:
        if not (proc.stdout is not None):
            raise HarnessBug("invariant failed: proc.stdout is not None")
        for line in proc.stdout:
            logf.write(line)
            m = STEP_RE.match(line)
            if not m:
                continue
            steps += 1
            if tty:
                _show(label, steps, expected, m.group(1), m.group(2), time.monotonic() - t0)
            elif time.monotonic() - last_note > 60:
                log.info("[%s] %d steps, %.0fs", label, steps, time.monotonic() - t0)
                last_note = time.monotonic()
        rc = proc.wait()
    if tty:
        sys.stderr.write("\r\033[K")
    if rc == 0 and steps > expected:
        count_file.parent.mkdir(parents=True, exist_ok=True)
        count_file.write_text(str(steps))
    return rc


def _show(label: str, steps: int, expected: int, kind: str, target: str, elapsed: float) -> None:
    pct = f"{min(99, 100 * steps // expected):3d}%" if expected else f"{steps:5d}"
    sys.stderr.write(f"\r\033[K[{label}] {pct} {elapsed:4.0f}s {kind:7s} {target[-60:]}")
    sys.stderr.flush()


def _read_int(path: Path) -> int:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return 0


def error_summary(log_path: Path, limit: int = 20) -> str:
    """The compiler error lines (with a line of context), not the whole log."""
    lines = log_path.read_text(errors="replace").splitlines()
    picked: list[str] = []
    for i, line in enumerate(lines):
        if ERROR_RE.search(line) and line not in picked:
            picked.append(line)
            if i + 1 < len(lines) and lines[i + 1].startswith(" ") and "|" in lines[i + 1]:
                picked.append(lines[i + 1])
        if len(picked) >= limit:
            break
    return "\n".join(picked or lines[-limit:])
