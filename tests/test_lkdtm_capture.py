"""bench/lkdtm_capture.py: the case table, the detached trigger, when listening stops, drafts."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

spec = importlib.util.spec_from_file_location(
    "bench_lkdtm", Path(__file__).resolve().parent.parent / "bench" / "lkdtm_capture.py")
assert spec is not None and spec.loader is not None
bench = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = bench          # dataclasses look their module up
spec.loader.exec_module(bench)


def test_cases_per_arch_and_by_name() -> None:
    x86 = {c.name for c in bench.cases_for("x86_64", [])}
    arm = {c.name for c in bench.cases_for("arm64", [])}
    assert "unset-smep" in x86 - arm and "hardlockup" in arm - x86
    assert [c.crash for c in bench.cases_for("arm64", ["panic", "unset-smep"])] == ["PANIC"]
    with pytest.raises(SystemExit, match="unknown case"):
        bench.cases_for("x86_64", ["no-such-case"])
    assert len({c.name for c in bench.CASES}) == len(bench.CASES)


class FakeGuest:
    def __init__(self) -> None:
        self.argv: list[str] = []

    def run(self, argv: list[str], timeout: float, check: bool) -> None:
        self.argv = argv


class FakeConsole:
    def __init__(self, growth: list[int]) -> None:
        self.growth = growth

    def mark(self) -> int:
        return self.growth.pop(0) if len(self.growth) > 1 else self.growth[0]


class FakeQemu:
    def __init__(self, console: FakeConsole, exit_after: int | None) -> None:
        self.console, self.polls, self.exit_after = console, 0, exit_after

    def wait_exit(self, timeout: float) -> int | None:
        self.polls += 1
        return 0 if self.exit_after is not None and self.polls > self.exit_after else None


class FakeVM:
    def __init__(self, qemu: FakeQemu) -> None:
        self.qemu, self.guest = qemu, FakeGuest()


def test_trigger_is_one_detached_shell() -> None:
    vm: Any = FakeVM(FakeQemu(FakeConsole([0]), None))
    case = bench.Case("wf", "WRITE_AFTER_FREE", after="sync")
    bench.trigger(vm, case)
    assert vm.guest.argv == ["sh", "-c", "(echo WRITE_AFTER_FREE > /sys/kernel/debug/"
                             "provoke-crash/DIRECT; sync) </dev/null >/dev/null 2>&1 &"]


def test_kcsan_cases_write_nothing_and_use_their_fragment() -> None:
    (case,) = bench.cases_for("arm64", ["kcsan-basic"])
    assert case.fragment == "kcsan" and case.cmdline == ("kunit.filter_glob=kcsan.test_basic",)
    vm: Any = FakeVM(FakeQemu(FakeConsole([0]), None))
    bench.trigger(vm, case)
    assert vm.guest.argv == []          # the boot itself races: nothing is sent
    assert {c.fragment for c in bench.CASES} == {"lkdtm", "kcsan"}


def test_listen_stops_on_exit_quiet_or_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter(float(t) for t in range(10_000))
    monkeypatch.setattr(bench.time, "monotonic", lambda: next(clock))
    exits: Any = FakeVM(FakeQemu(FakeConsole([0, 5, 9]), exit_after=2))
    assert bench.listen(exits, bench.Case("p", "PANIC")) == "guest exited"
    quiet: Any = FakeVM(FakeQemu(FakeConsole([0, 5, 9]), exit_after=None))
    assert bench.listen(quiet, bench.Case("w", "WARNING", quiet=6.0)) == "console quiet for 6s"
    chatty: Any = FakeVM(FakeQemu(FakeConsole(list(range(500))), exit_after=None))
    assert bench.listen(chatty, bench.Case("s", "SOFTLOCKUP", cap=30.0)) == "cap of 30s"


def test_draft_sidecar_is_what_the_parser_reads(tmp_path: Path) -> None:
    log = tmp_path / "x86-lkdtm-warning.log"
    log.write_text("[    0.000000] Linux version 7.2.13+ (root@host) #1\n"
                   "[   20.100000] lkdtm: Performing direct entry WARNING\n"
                   "[   20.100100] ------------[ cut here ]------------\n"
                   "[   20.100200] WARNING: drivers/misc/lkdtm/bugs.c:114 at "
                   "lkdtm_WARNING+0x1e/0x30, CPU#0: sh/95\n"
                   "[   20.100300] Call Trace:\n"
                   "[   20.100400]  <TASK>\n"
                   "[   20.100500]  lkdtm_do_action+0x16/0x30\n"
                   "[   20.100600]  </TASK>\n"
                   "[   20.100700] ---[ end trace 0000000000000000 ]---\n")
    found = bench.draft(log, "x86_64", bench.Case("warning", "WARNING"))
    side = tmp_path / "x86-lkdtm-warning.expect.yaml"
    text = side.read_text()
    assert text.startswith("# DRAFT") and "7.2.13+ x86_64" in text and "LKDTM WARNING." in text
    (row,) = yaml.safe_load(text)["splats"]
    assert row == {"kind": "warning", "title": "WARNING in lkdtm_WARNING",
                   "function": "lkdtm_WARNING", "line": 3, "end_line": 9}
    assert [s.title for s in found] == ["WARNING in lkdtm_WARNING"]
