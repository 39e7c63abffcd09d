"""`kharness scan-log` contract (exit codes, JSON schema, file order) and symbolisation."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import scanlog
from harness.splats import symbolize
from harness.splats.parse import Frame, parse_file

LOGS = Path(__file__).parent / "data" / "logs"
CLEAN = LOGS / "x86-clean-boot-debug.log"
ONE = LOGS / "x86-swapops-bug-panic.log"
THREE = LOGS / "x86-rcu-leak-khugepaged.log"
ROOT = Path(__file__).resolve().parents[1]


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = scanlog.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_clean_log_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, str(CLEAN))
    assert code == 0 and "no splats" in out


def test_splat_exits_one_with_summary(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, str(ONE))
    assert code == 1
    assert f"{ONE}:2: bug: kernel BUG in zap_pte_range" in out


def test_json_is_one_array_in_file_order(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "--json", str(THREE), str(CLEAN), str(ONE))
    assert code == 1
    data = json.loads(out)
    assert isinstance(data, list) and len(data) == 4
    assert [d["file"] for d in data] == [str(THREE)] * 3 + [str(ONE)]
    assert [d["line"] for d in data] == [3, 38, 64, 2]
    for item in data:
        assert {"file", "line", "kind", "title", "function", "frames", "locks", "raw"} <= set(item)
        assert isinstance(item["line"], int) and item["line"] >= 1
        assert item["function"] is None or isinstance(item["function"], str)


def test_json_clean_is_empty_array(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, str(CLEAN), "--json")
    assert (code, json.loads(out)) == (0, [])


def test_json_function_null_when_unknown(capsys: pytest.CaptureFixture[str], tmp_path: Path
                                         ) -> None:
    log = tmp_path / "rss.log"
    log.write_text("[ 1.0] BUG: Bad rss-counter state mm:0000000012345678 type:MM_ANONPAGES val:1"
                   " Comm:a.out Pid:77\n")
    code, out, _ = run_main(capsys, "--json", str(log))
    assert code == 1 and json.loads(out)[0]["function"] is None


def test_missing_file_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys, str(CLEAN), "does-not-exist.log")
    assert code == 2 and out == ""
    assert err.strip() == "kharness scan-log: error: no such file: does-not-exist.log"


def test_directory_and_no_args_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(capsys, str(LOGS))[0] == 2
    assert run_main(capsys)[0] == 2
    assert run_main(capsys, "--bogus", str(CLEAN))[0] == 2


def test_bad_vmlinux_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(capsys, "--vmlinux", str(CLEAN), str(ONE))
    assert code == 2 and "not an x86_64 or arm64 ELF" in err and "Traceback" not in err
    assert run_main(capsys, "--vmlinux", "/nonexistent/vmlinux", str(ONE))[0] == 2


def test_add_cli_registers_handler(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="kharness")
    scanlog.add_cli(parser.add_subparsers(dest="cmd", required=True))
    args = parser.parse_args(["scan-log", "--json", str(ONE)])
    assert args.func is scanlog.handler
    assert args.func(args) == 1
    assert json.loads(capsys.readouterr().out)[0]["kind"] == "bug"


@pytest.mark.parametrize(("files", "code"), [([CLEAN], 0), ([CLEAN, THREE], 1), ([], 2)])
def test_subprocess_contract(files: list[Path], code: int) -> None:
    proc = subprocess.run([sys.executable, "-m", "harness.cli.scanlog", "--json", *map(str, files)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == code, proc.stderr
    if code != 2:
        assert isinstance(json.loads(proc.stdout), list)
    else:
        assert "Traceback" not in proc.stderr


def _compile(tmp_path: Path, cc: str, debug: bool) -> Path:
    src = tmp_path / "mm" / "khugepaged.c"
    src.parent.mkdir(exist_ok=True)
    src.write_text("static inline int helper(int x)\n{\n\treturn x * 3;\n}\n\n"
                   "__attribute__((noinline)) int collapse_huge_page(int x)\n{\n"
                   "\tint y = helper(x);\n\treturn y + 1;\n}\n\n"
                   "int main(int argc, char **argv)\n{\n\treturn collapse_huge_page(argc);\n}\n")
    out = tmp_path / ("debug" if debug else "nodebug") / "vmlinux"
    out.parent.mkdir(exist_ok=True)
    subprocess.run([cc, *(["-g"] if debug else []), "-O2", "-o", str(out), str(src)], check=True,
                   cwd=tmp_path, timeout=120)
    return out


def _frames() -> tuple[Frame, ...]:
    return (Frame("collapse_huge_page", 4, 0x10), Frame("main", 4, 0x10),
            Frame("not_in_vmlinux", 1, 2), Frame("f", 1, 2, module="khugepaged_test"))


@pytest.mark.skipif(not shutil.which("gcc") or not shutil.which("addr2line"), reason="no gcc")
def test_symbolize_x86_with_dwarf(tmp_path: Path) -> None:
    vmlinux = _compile(tmp_path, "gcc", debug=True)
    assert symbolize.elf_arch(vmlinux) == "x86_64" and symbolize.has_dwarf(vmlinux)
    out = symbolize.symbolize_frames(_frames(), vmlinux, "x86_64")
    assert out[0].startswith("collapse_huge_page+0x4/0x10 mm/khugepaged.c:")
    assert out[1].startswith("main+0x4/0x10 mm/khugepaged.c:")
    assert out[2].endswith("no symbol") and out[3].endswith("module khugepaged_test")


@pytest.mark.skipif(not shutil.which("gcc"), reason="no gcc")
def test_symbolize_without_dwarf_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture
                                         ) -> None:
    vmlinux = _compile(tmp_path, "gcc", debug=False)
    splat = parse_file(ONE)[0]
    splat = type(splat)(**{**splat.__dict__, "frames": _frames()[:2]})
    out = symbolize.symbolize(splat, vmlinux, "x86_64")
    assert [f.source for f in out.frames] == [symbolize.NO_DEBUG] * 2
    assert out.title == splat.title


@pytest.mark.skipif(not shutil.which("aarch64-linux-gnu-gcc"), reason="no arm64 cross gcc")
def test_symbolize_arm64_cross(tmp_path: Path) -> None:
    vmlinux = _compile(tmp_path, "aarch64-linux-gnu-gcc", debug=True)
    assert symbolize.elf_arch(vmlinux) == "arm64"
    out = symbolize.symbolize_frames(_frames()[:1], vmlinux, "arm64")
    assert "mm/khugepaged.c:" in out[0]


@pytest.mark.skipif(not shutil.which("gcc"), reason="no gcc")
def test_cli_with_vmlinux(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vmlinux = _compile(tmp_path, "gcc", debug=True)
    log = tmp_path / "console.log"
    log.write_text("[ 1.0] ------------[ cut here ]------------\n"
                   "[ 1.1] WARNING: mm/khugepaged.c:9 at collapse_huge_page+0x4/0x10, CPU#0: x/1\n"
                   "[ 1.2] Call Trace:\n[ 1.3]  <TASK>\n[ 1.4]  collapse_huge_page+0x4/0x10\n"
                   "[ 1.5]  main+0x4/0x10\n[ 1.6]  </TASK>\n[ 1.7] ---[ end trace 0 ]---\n")
    code, out, _ = run_main(capsys, "--json", "--vmlinux", str(vmlinux), str(log))
    assert code == 1
    (item,) = json.loads(out)
    assert item["frames"][0].startswith("collapse_huge_page+0x4/0x10 mm/khugepaged.c:")


def test_parse_addr2line_output() -> None:
    out = ("0xffffffff81234567\npfn_swap_entry_folio\n/build/linux/include/linux/swapops.h:468\n"
           "zap_pte_range\n/build/linux/mm/memory.c:1702 (discriminator 2)\n"
           "0xffffffff81234999\n??\n??:0\n")
    parsed = symbolize._parse_addr2line(out)
    assert parsed[0xffffffff81234567] == (
        "include/linux/swapops.h:468 [pfn_swap_entry_folio inlined] mm/memory.c:1702")
    assert parsed[0xffffffff81234999] == symbolize.NO_DEBUG


@pytest.mark.skipif(not shutil.which("gcc"), reason="no gcc")
def test_raw_addresses_with_kaslr_offset(tmp_path: Path) -> None:
    vmlinux = _compile(tmp_path, "gcc", debug=True)
    nm = subprocess.run(["nm", str(vmlinux)], capture_output=True, text=True, check=True).stdout
    start = next(int(line.split()[0], 16) for line in nm.splitlines()
                 if line.endswith(" collapse_huge_page"))
    offset = symbolize.kaslr_offset("Kernel Offset: 0x1e000000 from 0xffffffff81000000 (...)")
    assert offset == 0x1e000000 and symbolize.kaslr_offset("no panic here") == 0
    found = symbolize.symbolize_addresses([start + offset + 3], vmlinux, "x86_64", kaslr=offset)
    assert found[start + offset + 3].startswith("mm/khugepaged.c:")
