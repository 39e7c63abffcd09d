"""`kharness scan-log FILE... [--json] [--vmlinux PATH]`: the splats in console/dmesg captures.

Human-readable summary by default. With --json, stdout is exactly one JSON array for the whole
invocation (all files, in the order given), each element `Splat.to_json()`: at least "file",
"line" (1-based first line of the splat), "kind", "title", "function" (null if none), "frames",
"locks", "raw". With --vmlinux, frames are symbolised (arch taken from the ELF header).
Exit status: 0 no splat, 1 at least one splat, 2 usage error (one line on stderr, no traceback).

harness/cli/main.py registers it with `scanlog.add_cli(subparsers)`;
`python -m harness.cli.scanlog` works standalone.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.errors import KharnessError, UserError
from harness.splats.model import Splat
from harness.splats.parse import parse_file
from harness.splats.symbolize import elf_arch, symbolize

PROG = "kharness scan-log"
_SHOWN_FRAMES = 6


def _configure(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("files", nargs="+", metavar="FILE", type=Path,
                        help="console or dmesg capture(s)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON array of all splats instead of a summary")
    parser.add_argument("--vmlinux", type=Path, metavar="PATH",
                        help="the build's vmlinux, to turn frames into file:line")
    parser.set_defaults(func=handler)
    return parser


def add_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the `scan-log` subcommand (handler in `func`)."""
    _configure(subparsers.add_parser(
        "scan-log", help="find kernel splats (WARNING, BUG, lockdep, ...) in console logs",
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter))


def _check_inputs(files: Sequence[Path], vmlinux: Path | None) -> str | None:
    for path in files:
        if not path.exists():
            return f"no such file: {path}"
        if not path.is_file():
            return f"not a regular file: {path}"
    if vmlinux is not None:
        if not vmlinux.is_file():
            return f"no such vmlinux: {vmlinux}"
        if elf_arch(vmlinux) is None:
            return f"not an x86_64 or arm64 ELF file: {vmlinux} (pass vmlinux, not the image)"
    return None


def _scan(files: Sequence[Path], vmlinux: Path | None) -> list[Splat]:
    found: list[Splat] = []
    arch = elf_arch(vmlinux) if vmlinux is not None else None
    for path in files:
        try:
            splats = parse_file(path)
        except OSError as e:
            raise UserError(f"cannot read {path}", e.strerror or str(e)) from e
        if vmlinux is not None and arch is not None:
            splats = [symbolize(s, vmlinux, arch) for s in splats]
        found.extend(splats)
    return found


def _describe(splat: Splat) -> list[str]:
    who = " ".join(filter(None, [f"cpu {splat.cpu}" if splat.cpu is not None else "",
                                 f"pid {splat.pid}" if splat.pid is not None else "",
                                 f"({splat.comm})" if splat.comm else ""]))
    out = [f"  {splat.file}:{splat.line}: {splat.kind}: {splat.title}"
           + (" [truncated]" if splat.truncated else "")]
    if splat.function or who:
        out.append(f"      culprit: {splat.function or '-'}" + (f"   {who}" if who else ""))
    if splat.locks:
        out.append(f"      locks: {', '.join(splat.locks)}")
    frames = [f for f in splat.frames if f.reliable]
    start = next((i for i, f in enumerate(frames) if f.function.split(".")[0] == splat.function), 0)
    frames = frames[start:start + _SHOWN_FRAMES]
    out.extend(f"        {f}" for f in frames)
    return out


def _summary(files: Sequence[Path], splats: Sequence[Splat]) -> str:
    lines: list[str] = []
    for path in files:
        mine = [s for s in splats if s.file == str(path)]
        lines.append(f"{path}: " + (f"{len(mine)} splat{'s' * (len(mine) != 1)}"
                                    if mine else "no splats"))
        for splat in mine:
            lines.extend(_describe(splat))
    return "\n".join(lines)


def handler(args: argparse.Namespace) -> int:
    """Run scan-log for parsed arguments; returns the exit status (0, 1 or 2)."""
    problem = _check_inputs(args.files, args.vmlinux)
    if problem:
        print(f"{PROG}: error: {problem}", file=sys.stderr)
        return 2
    try:
        splats = _scan(args.files, args.vmlinux)
    except KharnessError as e:
        print(f"{PROG}: {e.label}: {e.one_line()}", file=sys.stderr)
        return e.exit_code
    if args.json:
        print(json.dumps([s.to_json() for s in splats], indent=2))
    else:
        print(_summary(args.files, splats))
    return 1 if splats else 0


def main(argv: Sequence[str] | None = None) -> int:
    if not logging.getLogger("harness").handlers:
        logging.basicConfig(level=logging.WARNING, format="kharness: %(message)s")
    parser = _configure(argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0]))
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:                      # argparse usage errors exit 2, --help 0
        return int(e.code or 0)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
