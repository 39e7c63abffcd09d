"""Debug objects: the series' C files recompiled with -g beside the build give file:line."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.kernel import debugobj
from harness.splats import symbolize
from harness.splats.model import Frame

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("addr2line") is None,
                                reason="needs gcc and addr2line")
SOURCE = """\
int g;

static int __attribute__((noinline)) helper(int x)
{
\tif (x > 3)
\t\tg += x * 7;
\treturn g;
}

int collapse_single_pmd(int n)
{
\tint i, s = 0;

\tfor (i = 0; i < n; i++)
\t\ts += helper(i);
\treturn s;
}
"""


@pytest.fixture
def slot(tmp_path: Path) -> Path:
    """A kbuild-like slot: src/mm/khugepaged.c, obj/mm/khugepaged.o and its .cmd file."""
    (tmp_path / "src" / "mm").mkdir(parents=True)
    (tmp_path / "obj" / "mm").mkdir(parents=True)
    src = tmp_path / "src" / "mm" / "khugepaged.c"
    src.write_text(SOURCE)
    cmd = (f"gcc -Wp,-MMD,mm/.khugepaged.o.d -Os -fno-asynchronous-unwind-tables "
           f"-DKBUILD_MODNAME='\"khugepaged\"' -c -o mm/khugepaged.o {src}")
    subprocess.run(["sh", "-c", cmd], cwd=tmp_path / "obj", check=True)
    (tmp_path / "obj" / "mm" / ".khugepaged.o.d").unlink()        # fixdep's job in kbuild
    (tmp_path / "obj" / "mm" / ".khugepaged.o.cmd").write_text(
        f"savedcmd_mm/khugepaged.o := {cmd}   ; ./tools/objtool/objtool --orc mm/khugepaged.o\n"
        "source_mm/khugepaged.o := x\n")
    return tmp_path


def test_touched_objects_are_the_c_files() -> None:
    assert debugobj.touched_objects(["mm/khugepaged.c", "include/linux/mm.h", "mm/a.c"]) == (
        "mm/a.o", "mm/khugepaged.o")


def test_compile_verifies_layout_and_leaves_the_slot_alone(slot: Path, tmp_path: Path) -> None:
    before = (slot / "obj" / "mm" / "khugepaged.o").read_bytes()
    made = debugobj.compile_objects(slot / "src", slot / "obj",
                                    ("mm/khugepaged.o", "mm/absent.o"), tmp_path / "dbg")
    assert made == [tmp_path / "dbg" / "mm" / "khugepaged.o"]
    assert (slot / "obj" / "mm" / "khugepaged.o").read_bytes() == before
    assert not (slot / "obj" / "mm" / ".khugepaged.o.d").exists()
    table = debugobj.index(tmp_path / "dbg", "x86_64")
    assert table["collapse_single_pmd"][0].section == ".text"


def test_frames_get_file_and_line(slot: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dbg"
    debugobj.compile_objects(slot / "src", slot / "obj", ("mm/khugepaged.o",), dest)
    sym = debugobj.index(dest, "x86_64")["collapse_single_pmd"][0]
    frames = [Frame("collapse_single_pmd", 0x4, sym.size), Frame("elsewhere", 0x10, 0x40),
              Frame("collapse_single_pmd", 0x4, sym.size + 1)]          # size must match
    found = debugobj.lines(dest, frames, "x86_64")
    assert set(found) == {0}
    assert re.fullmatch(r"mm/khugepaged.c:\d+( .*)?", found[0]), found


def test_symbolize_falls_back_to_debug_objects(slot: Path, tmp_path: Path) -> None:
    """vmlinux without DWARF: frames in the series' objects still get file:line."""
    build = tmp_path / "build"
    build.mkdir()
    subprocess.run(["gcc", "-Os", "-nostdlib", "-static", "-Wl,-e,collapse_single_pmd", "-o",
                    str(build / "vmlinux"), str(slot / "obj" / "mm" / "khugepaged.o")],
                   check=True)
    debugobj.compile_objects(slot / "src", slot / "obj", ("mm/khugepaged.o",),
                             build / debugobj.DIRNAME)
    assert not symbolize.has_dwarf(build / "vmlinux")
    sym = debugobj.index(build / debugobj.DIRNAME, "x86_64")["collapse_single_pmd"][0]
    (line,) = symbolize.symbolize_frames([Frame("collapse_single_pmd", 0x4, sym.size)],
                                         build / "vmlinux", "x86_64")
    assert "mm/khugepaged.c:" in line and "no debug info" not in line, line


def test_culprit_frame_in_terminal_junit_and_report() -> None:
    from harness.report import junit
    from harness.results import summary
    from harness.results.records import SplatRecord
    from harness.results.verdict import GroupVerdict, NewSplat
    want = "collapse_single_pmd.constprop.0+0x580/0x18de mm/khugepaged.c:2563"
    splat = SplatRecord("warning", "WARNING in collapse_single_pmd",
                        function="collapse_single_pmd",
                        frames=("? __pfx_x+0x0/0x10", want, "khugepaged+0x1/0x2 no debug info"))
    assert symbolize.culprit_frame(splat) == want
    g = GroupVerdict("x86_64", "-", "baseline", "patched",
                     new_splats=(NewSplat(splat, "t.py::test_x"),))
    assert f"     at {want}" in summary.verdict_text([g])
    assert f"culprit: {want}" in junit.splat_text([splat])
    assert symbolize.culprit_frame(SplatRecord("warning", "x")) is None


def test_culprit_is_the_faulting_instruction_when_the_trace_skips_it() -> None:
    """The warn-demo WARNING: collapse_single_pmd is only in the header (and as a '?' frame)."""
    from harness.results.records import SplatRecord
    splat = SplatRecord("warning", "WARNING in collapse_single_pmd",
                        function="collapse_single_pmd", location="mm/khugepaged.c:1653",
                        header="WARNING: mm/khugepaged.c:1653 at collapse_single_pmd+0x252/0x18e0, "
                               "CPU#1: khugepaged/32",
                        frames=("? lock_is_held_type+0xbb/0xf7 no debug info",
                                "khugepaged+0x2c4/0x679 mm/khugepaged.c:2909",
                                "? collapse_single_pmd+0x18e0/0x18e0 mm/khugepaged.c:2836"))
    assert symbolize.culprit_frame(splat) == (
        "collapse_single_pmd+0x252/0x18e0 mm/khugepaged.c:1653")


def test_symbolize_places_the_rip_when_the_report_printed_no_location(slot: Path,
                                                                      tmp_path: Path) -> None:
    from harness.splats.model import Splat
    build = tmp_path / "build"
    build.mkdir()
    subprocess.run(["gcc", "-Os", "-nostdlib", "-static", "-Wl,-e,collapse_single_pmd", "-o",
                    str(build / "vmlinux"), str(slot / "obj" / "mm" / "khugepaged.o")],
                   check=True)
    debugobj.compile_objects(slot / "src", slot / "obj", ("mm/khugepaged.o",),
                             build / debugobj.DIRNAME)
    size = debugobj.index(build / debugobj.DIRNAME, "x86_64")["collapse_single_pmd"][0].size
    splat = Splat("gpf", "general protection fault in collapse_single_pmd",
                  "collapse_single_pmd", (), (), (f"RIP: 0010:collapse_single_pmd+0x4/{size:#x}",),
                  1, "t")
    located = symbolize.symbolize(splat, build / "vmlinux", "x86_64").location
    assert located is not None and re.match(r"mm/khugepaged.c:\d+", located), located
