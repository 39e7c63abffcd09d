"""bench/splat_syzkaller.py on a folder of report files written for the test (syzkaller's
test-data layout: TITLE/ALT/TYPE header, blank line, log)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WARN = """\
[   10.000001] ------------[ cut here ]------------
[   10.000002] WARNING: CPU: 0 PID: 1 at drivers/frob/frob.c:12 {func}+0x13c/0x174
[   10.000003] Call Trace:
[   10.000004]  {func}+0x13c/0x174
[   10.000005]  frob_ioctl+0x2c/0x48
[   10.000007] ---[ end trace 0000000000000000 ]---
"""


def _bench(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "bench" / "splat_syzkaller.py"),
                           str(folder), *args], capture_output=True, text=True, check=False)


def test_counts_recall_false_positives_culprits_and_alt_titles(tmp_path: Path) -> None:
    (tmp_path / "1").write_text("TITLE: WARNING in frob_check\nTYPE: WARNING\n\n"
                                + WARN.format(func="frob_check"))
    (tmp_path / "2").write_text("# an ALT title names what we name\nTITLE: WARNING in frob_ioctl\n"
                                "ALT: WARNING in frob_check2\n\n" + WARN.format(func="frob_check2"))
    (tmp_path / "3").write_text("TITLE: WARNING in frob_other\n\n" + WARN.format(func="frob_x"))
    (tmp_path / "4").write_text("\n[    1.000000] frob: probed\n")                # clean
    (tmp_path / "5").write_text("TITLE: SYZFAIL: frob\n\nSYZFAIL: frob\n")       # not kernel
    (tmp_path / "6").write_text("TITLE: WARNING in frob_gone\n\n[    1.0] nothing here\n")
    out = _bench(tmp_path, "--kinds", "--misses")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == (
        "6 files: recall 75.0 % (3/4), false positives 0/1, culprit 50.0 % (2/4), "
        "kind (TYPE:) 100.0 % (1/1)")
    assert "3\tCULPRIT\twant frob_other\tgot frob_x" in out.stdout
    assert "6\tMISS" in out.stdout


def test_overrides_fix_a_label_or_leave_it_out(tmp_path: Path) -> None:
    (tmp_path / "1").write_text("TITLE: WARNING in frob_wrong\n\n" + WARN.format(func="frob_x"))
    (tmp_path / "2").write_text("TITLE: WARNING in frob_junk\n\n" + WARN.format(func="frob_y"))
    fixed = tmp_path.parent / "overrides.txt"
    fixed.write_text("1 frob_x   # the data's own comment says so\n2 -\n")
    out = _bench(tmp_path, "--overrides", str(fixed))
    assert out.stdout.splitlines()[-1].endswith("culprit 100.0 % (1/1)")


def test_a_missing_folder_is_one_line_and_exit_2(tmp_path: Path) -> None:
    out = _bench(tmp_path / "nope")
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "is not a directory" in out.stderr
