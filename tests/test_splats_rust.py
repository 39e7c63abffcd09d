"""Rust in kernel reports (issue #19): v0-mangled frames read as Rust names, and a Rust panic
(`rust_kernel: panicked at FILE:LINE:COL:`, its message, then BUG() from rust/helpers/bug.c)
titled by its message and the Rust function that panicked.

The symbols are mangled by hand for invented crates (`frob`) after RFC 2603's grammar; the log
is written from the kernel's print formats (rust/kernel/lib.rs's panic handler, lib/bug.c).
"""

from __future__ import annotations

import pytest

from harness.splats.parse import parse_log
from harness.splats.rust import demangle
from harness.splats.table import fn
from tests.conftest import console_lines, frame_lines
from tests.conftest import kind_function_title as _one


@pytest.mark.parametrize(("symbol", "name"), [
    ("_RNvCs1234abcd_4frob9frob_init", "frob::frob_init"),
    ("_RNvMs_NtCs1234abcd_4frob5queueNtB4_5Queue4push", "<frob::queue::Queue>::push"),
    ("_RNvXs0_NtCs1234abcd_4frob5queueNtB5_5QueueNtNtCs9876_4core3ops4Drop4drop",
     "<frob::queue::Queue as core::ops::Drop>::drop"),
    ("_RINvCs1234abcd_4frob3getmE", "frob::get"),                 # generic args dropped
    ("_RNCNvCs1234abcd_4frob3run0B3_", "frob::run::{closure}"),
    ("__cfi__RNvCs1234abcd_4frob9frob_init", "frob::frob_init"),  # a CFI stub's name
])
def test_v0_symbols_read_as_rust_names(symbol: str, name: str) -> None:
    assert demangle(symbol) == name
    assert fn(f"{symbol}+0x17e5/0x1860") == name


@pytest.mark.parametrize("symbol", [
    "frob_init", "_RNvCs1234abcd_u6frb_ob3foo", "_RNvCs1234abcd_4frob", "_RNvCs1234abcd_9frob",
    "_RNvCs1234abcd_4frobB9_", "_RZZZ",
])
def test_what_is_not_understood_stays_as_printed(symbol: str) -> None:
    assert demangle(symbol) is None
    assert fn(symbol) == symbol


PANIC_FRAMES = (
    "_RNvCs1234abcd_7___rustc17rust_begin_unwind",
    "_RNvNtCs9876_4core9panicking9panic_fmt",
    "_RNvNtNtCs9876_4core9panicking11panic_const24panic_const_sub_overflow",
    "_RNvMs_NtCs1234abcd_4frob5queueNtB4_5Queue4push",
    "_RNvCs1234abcd_4frob10frob_ioctl",
    "__x64_sys_ioctl", "do_syscall_64", "entry_SYSCALL_64_after_hwframe")


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_a_rust_panic_is_titled_by_its_message_and_the_function_that_panicked(arch: str) -> None:
    pc = ("RIP: 0010:rust_helper_BUG+0x8/0x10" if arch == "x86_64"
          else "pc : rust_helper_BUG+0x8/0x10")
    oops = ("Oops: invalid opcode: 0000 [#1] PREEMPT SMP KASAN PTI" if arch == "x86_64"
            else "Internal error: Oops - BUG: 00000000f2000800 [#1] PREEMPT SMP")
    trace = ("Call Trace:", " <TASK>") if arch == "x86_64" else ("Call trace:",)
    log = console_lines(
        "rust_kernel: panicked at drivers/frob/queue.rs:877:13:",
        "attempt to subtract with overflow",
        "------------[ cut here ]------------",
        "kernel BUG at rust/helpers/bug.c:7!",
        oops,
        "CPU: 0 UID: 0 PID: 298 Comm: frobd Not tainted 6.12.23 #0",
        pc,
        *trace,
        *frame_lines(*PANIC_FRAMES))
    splats = parse_log(log)
    assert len(splats) == 1
    assert _one(log) == ("bug", "<frob::queue::Queue>::push",
                         "attempt to subtract with overflow in <frob::queue::Queue>::push")
    assert splats[0].line == 1


def test_a_bug_without_the_panic_line_is_still_named_after_the_rust_function() -> None:
    log = console_lines(
        "kernel BUG at rust/helpers/bug.c:7!",
        "Oops: invalid opcode: 0000 [#1] PREEMPT SMP KASAN PTI",
        "RIP: 0010:rust_helper_BUG+0x8/0x10",
        "Call Trace:", " <TASK>",
        *frame_lines(*PANIC_FRAMES))
    assert _one(log) == ("bug", "<frob::queue::Queue>::push",
                         "kernel BUG in <frob::queue::Queue>::push")
