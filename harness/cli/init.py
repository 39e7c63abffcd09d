"""`kharness init DIR`: a starter config and a guest test to edit.

Writes DIR/kharness.yaml (the quickstart's kernel without a series, x86_64, one knob set)
and DIR/test_my_collapse.py (two guest tests using the plugin's fixtures). Never
overwrites: an existing file is a usage error naming it.
"""

from __future__ import annotations

import argparse
import logging
import shutil
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.resources import data_path

log = logging.getLogger("harness")
FILES = ("kharness.yaml", "test_my_collapse.py")


def add_cli(subparsers: Any) -> None:
    p = subparsers.add_parser("init", help="write a starter config and guest test into DIR",
                              description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dir", type=Path, help="directory to create or fill")
    p.set_defaults(func=handler)


def init(dest: Path) -> list[Path]:
    taken = [dest / f for f in FILES if (dest / f).exists()]
    if taken:
        raise UserError(f"{taken[0]} already exists", "kharness init never overwrites",
                        "choose an empty directory or move the file away")
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for name in FILES:
        shutil.copyfile(data_path("starter", name), dest / name)
        out.append(dest / name)
    return out


def handler(args: argparse.Namespace) -> int:
    for path in init(args.dir):
        print(f"wrote {path}")
    print(f"next: kharness plan {args.dir / 'kharness.yaml'}  then  "
          f"cd {args.dir} && pytest . --kharness-config kharness.yaml")
    return 0
