"""`kharness` command line. Errors: one line on stderr, exit 2 (usage/infra) or 1 (finding)."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence

from harness.errors import HarnessBug, KharnessError

log = logging.getLogger("harness")
# Modules that register their own subcommands with add_cli(subparsers).
PLUGGED = ("harness.cli.init", "harness.cli.scanlog", "harness.cli.boot", "harness.cli.image",
           "harness.cli.run", "harness.cli.bisect", "harness.cli.cache", "harness.checks.cli",
           "harness.report.kcidb", "harness.cli.worker")


# Commands that may download Debian packages (kernel source, guest images).
DOWNLOADERS = ("build", "run", "nightly", "bisect", "check", "boot", "image")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:     # type: ignore[override]
        self.exit(2, f"kharness: usage error: {message} (see: {self.prog} --help)\n")


def _setup_logging(verbosity: int) -> None:
    level = logging.DEBUG if verbosity > 0 else logging.INFO if verbosity == 0 else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname).1s %(message)s", "%H:%M:%S"))
    root = logging.getLogger("harness")
    root.handlers[:] = [handler]
    root.setLevel(level)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="kharness", description=__doc__)
    p.add_argument("-v", "--verbose", action="count", default=0, help="debug output")
    p.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_build(sub)
    _add_plan(sub)
    d = sub.add_parser("doctor", help="check host tools; --install installs them (Debian/Ubuntu)")
    d.add_argument("--install", action="store_true")
    d.set_defaults(func=_cmd_doctor)
    for name in PLUGGED:
        importlib.import_module(name).add_cli(sub)
    for name in DOWNLOADERS:
        sub.choices[name].add_argument(
            "--allow-unsigned", action="store_true",
            help="use Debian indexes whose signature cannot be checked (no gpgv or keyring)")
    return p


def add_kernel_args(sp: argparse.ArgumentParser) -> None:
    """Options shared by every command that builds kernels from a config."""
    sp.add_argument("config", help="kharness YAML file")
    sp.add_argument("--arch", action="append", help="arch (repeatable; default: config's archs)")
    sp.add_argument("--variant", action="append",
                    help="baseline | patched | <version> | <version>:<k> (repeatable)")
    sp.add_argument("--kconfig", action="append", default=[], metavar="NAME",
                    help="kernel config from the YAML's configs: (repeatable; default: all)")
    sp.add_argument("--fragment", action="append", default=[], help="extra kconfig fragment")
    sp.add_argument("--option", action="append", default=[], help="extra CONFIG_X=y")
    sp.add_argument("-j", "--jobs", type=int, default=0, help="make -j (default: all cores)")


def _add_build(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    b = sub.add_parser("build", help="build kernels (variants x archs), cached")
    add_kernel_args(b)
    b.add_argument("--force", action="store_true", help="rebuild even on a cache hit")
    b.set_defaults(func=_cmd_build)


def _add_plan(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    b = sub.add_parser("plan", help="print the matrix with its estimated cost, what would be "
                       "built and the exact commands")
    add_kernel_args(b)
    b.add_argument("--history", metavar="DIR", default="runs/history",
                   help="estimate from the runs stored in DIR/history.sqlite "
                   "(kharness nightly's store; default: runs/history)")
    b.set_defaults(func=_cmd_plan)


def _cmd_build(args: argparse.Namespace) -> int:
    from harness.kernel import plan
    results = plan.build_all(args)
    for r in results:
        state = "cached" if r.cached else f"built in {r.seconds:.0f}s"
        print(f"{r.arch:7s} {r.variant:12s} {state:16s} {r.image}")
    return 0


def _cmd_plan(args: argparse.Namespace) -> int:
    from harness.kernel import plan
    print(plan.matrix_text(args))
    print()
    print(plan.describe(args))
    return 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    from harness.cli import doctor
    return doctor.doctor(args.install)


def guarded(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a command handler: a KharnessError is one line on stderr and its exit code."""
    try:
        return func(args)
    except KharnessError as e:
        print(f"kharness: {e.label}: {e.one_line()}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("kharness: interrupted", file=sys.stderr)
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(-1 if args.quiet else args.verbose)
    if getattr(args, "allow_unsigned", False):      # nested pytest runs inherit it
        from harness.sources import debian
        os.environ[debian.ALLOW_UNSIGNED_ENV] = "1"
    try:
        return guarded(args.func, args)
    except BrokenPipeError:          # `kharness plan ... | head`: the reader left, not a bug
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as e:
        if args.verbose:
            raise
        bug = HarnessBug(f"internal error: {type(e).__name__}: {e}", "",
                         "rerun with -v for a traceback and report it")
        print(f"kharness: {bug.label}: {bug.one_line()}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
