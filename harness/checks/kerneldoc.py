"""scripts/kernel-doc -none -Wall on the files a series touches (those with kernel-doc
comments can only be judged as a whole file), compared like compiler warnings."""

from __future__ import annotations

import time
from pathlib import Path

from harness.checks import diagnostics
from harness.checks.compile import Output
from harness.util import cmdline, run

SUFFIXES = (".c", ".h")


def argv(files: tuple[str, ...]) -> list[str]:
    return ["scripts/kernel-doc", "-none", "-Wall", *files]


def run_kerneldoc(tree: Path, touched: tuple[str, ...]) -> Output:
    files = tuple(p for p in touched if p.endswith(SUFFIXES) and (tree / p).is_file())
    if not files:
        return Output((), 0, "")
    cmd = argv(files)
    t0 = time.monotonic()
    proc = run(cmd, cwd=tree, check=False, timeout=600)
    text = proc.stdout + "\n" + proc.stderr
    diags = diagnostics.parse(text, (str(tree),), diagnostics.tree_reader(tree))
    return Output(tuple(diags), 0 if "Traceback" not in text else 1, cmdline(cmd),
                  "\n".join(text.strip().splitlines()[-5:]), time.monotonic() - t0)
