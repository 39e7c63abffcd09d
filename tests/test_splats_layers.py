"""Infrastructure layers by where the kernel defines a function (issue #19): the generator
(scripts/gen_layers.py) on a small tree written here, the table it shipped, and the culprit
it gives on reports.

Every log here is written for the test from the kernel's print formats (lib/bug.c,
kernel/panic.c, lib/refcount.c, mm/kasan/report.c, arch/x86/kernel/dumpstack.c,
arch/x86/kernel/traps.c, arch/arm64/kernel/stacktrace.c, arch/arm64/mm/fault.c,
kernel/hung_task.c); function names are kernel functions or invented ones (demo_*), numbers
are made up.
"""

from __future__ import annotations

import gzip
import importlib.util
import sys
from importlib import resources
from pathlib import Path
from types import ModuleType

import pytest

from harness.splats import culprit
from harness.splats.parse import parse_log
from tests.conftest import call_trace as _trace
from tests.conftest import console_lines as _lines

ROOT = Path(__file__).resolve().parent.parent


def _gen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_layers", ROOT / "scripts" / "gen_layers.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["gen_layers"] = mod
    spec.loader.exec_module(mod)
    return mod


FAKE = {
    "lib/demo_string.c": """\
// SPDX-License-Identifier: GPL-2.0
#include <linux/string.h>
#define DEMO_MAX(a, b) ((a) > (b) ? (a) : (b))
/* demo_not_a_function(void) { in a comment } */
static const struct demo_ops demo_table = {
	.fill = demo_fill,
};

static __always_inline int demo_lib_inline(int a)
{
	return a + 1;
}

int __printf(2, 3) demo_lib_print(char *buf,
		const char *fmt, ...)
{
	const char *s = "{ not a brace }";
	return demo_lib_inline(*s);
}
EXPORT_SYMBOL(demo_lib_print);

SYSCALL_DEFINE3(demo_call, int, a, int, b, int, c)
{
	return 0;
}

struct demo_state {
	int x;
};

void demo_shared(void)
{
}

#ifdef CONFIG_DEMO
static noinline void __init demo_lib_setup(unsigned long (*cb)(int),
					int flags) __acquires(demo_lock)
{
	if (flags) {
		cb(0);
	}
}
#endif
""",
    "lib/test_demo.c": "static int demo_test_case(void)\n{\n\treturn 0;\n}\n",
    "include/linux/seqlock.h": """\
static inline void demo_seq_assert(const seqcount_t *s) { lockdep_assert(s); }
static __always_inline unsigned demo_seq_begin(const seqcount_t *s)
{
	return READ_ONCE(s->sequence);
}
""",
    "include/linux/demo_other.h": "static inline int demo_other_inline(void)\n{\n\treturn 0;\n}\n",
    "mm/memory.c": "vm_fault_t demo_fault_page(struct vm_fault *vmf)\n{\n\treturn 0;\n}\n",
    "drivers/demo/demo.c": "static void demo_shared(void)\n{\n}\n",
    "arch/mips/lib/demo.c": "void demo_lib_print(void)\n{\n}\n",   # other arches: not counted
    "mm/mempolicy.c": "struct page *alloc_pages_demo(gfp_t gfp)\n{\n\treturn NULL;\n}\n"
                      "long do_demo_mbind(void)\n{\n\treturn 0;\n}\n",
}


def _tree(tmp_path: Path) -> Path:
    for rel, text in FAKE.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def test_generator_classifies_functions_by_their_source_path(tmp_path: Path) -> None:
    table = _gen().layers(_tree(tmp_path))
    assert table == {"demo_lib_inline": "library", "demo_lib_print": "library",
                     "demo_lib_setup": "library", "demo_seq_assert": "inline helper",
                     "demo_seq_begin": "inline helper", "alloc_pages_demo": "allocator"}
    # not in it: a test module, a header of no layer, mm code, a macro-made syscall, a name
    # also defined as a driver's static (ambiguous), the rest of mempolicy.c, comments, strings


def test_generator_writes_sorted_gzipped_text(tmp_path: Path) -> None:
    out = tmp_path / "out" / "layers.txt.gz"
    assert _gen().main([str(_tree(tmp_path / "src")), "-o", str(out)]) == 0
    lines = gzip.decompress(out.read_bytes()).decode().splitlines()
    assert "library\tdemo_lib_print" in lines and lines == sorted(lines)
    first = out.read_bytes()
    _gen().main([str(tmp_path / "src"), "-o", str(out)])
    assert out.read_bytes() == first                      # reproducible (no gzip mtime)


def test_shipped_table_is_small_and_knows_the_layers() -> None:
    data = resources.files("harness.splats").joinpath("data", "layers.txt.gz").read_bytes()
    assert len(data) < 300_000
    for name in ("add_uevent_var", "crc_itu_t", "__mod_timer", "kthread_should_park",
                 "debug_lockdep_rcu_enabled", "__seqprop_assert", "psi_group_change"):
        assert culprit.source_layer(name), name
    for name in ("collapse_huge_page", "khugepaged", "do_swap_page", "copy_page_range",
                 "__folio_split", "migrate_pages", "do_mbind", "demo_driver_probe"):
        assert culprit.source_layer(name) is None, name


def _refcount(arch: str, *names: str) -> str:
    rip = "pc : " if arch == "arm64" else "RIP: 0010:"
    return _lines("------------[ cut here ]------------",
                  "refcount_t: underflow; use-after-free.",
                  "WARNING: CPU: 1 PID: 4242 at lib/refcount.c:28 "
                  "refcount_warn_saturate+0x13a/0x1d0",
                  "Modules linked in:", "CPU: 1 PID: 4242 Comm: demo Not tainted 7.2.0 #1",
                  f"{rip}refcount_warn_saturate+0x13a/0x1d0",
                  *_trace(arch, "refcount_warn_saturate", *names),
                  "---[ end trace 0000000000000000 ]---")


def _kasan(arch: str, func: str, *names: str) -> str:
    return _lines("==================================================================",
                  f"BUG: KASAN: slab-use-after-free in {func}+0x5c/0x90",
                  "Read of size 1 at addr ffff888011223344 by task demo/99", "",
                  "CPU: 0 PID: 99 Comm: demo Not tainted 7.2.0 #1",
                  *_trace(arch, "dump_stack_lvl", "print_report", "kasan_report", func, *names),
                  "==================================================================")


ARCHES = pytest.mark.parametrize("arch", ["x86_64", "arm64"])


@ARCHES
@pytest.mark.parametrize(("layers", "want"), [
    (("__mod_timer", "demo_arm_watchdog"), "demo_arm_watchdog"),              # timers
    (("kthread_should_park", "demo_poll_thread"), "demo_poll_thread"),          # kthread
    (("__seqprop_assert", "debug_lockdep_rcu_enabled", "demo_read_stats"), "demo_read_stats"),
    (("add_uevent_var", "demo_dev_uevent"), "demo_dev_uevent"),                # lib/ (kobject)
    (("psi_group_change", "try_to_wake_up", "demo_complete"), "demo_complete"),  # scheduler
    (("__mod_timer", "collapse_huge_page", "khugepaged"), "collapse_huge_page"),  # mm kept
    (("copy_page_range", "dup_mmap"), "copy_page_range"),                     # mm kept
])
def test_source_layers_are_passed_over_on_the_stack(arch: str, layers: tuple[str, ...],
                                                    want: str) -> None:
    splat = parse_log(_refcount(arch, *layers, "demo_syscall"))[0]
    assert (splat.kind, splat.function) == ("refcount", want)


@ARCHES
def test_a_string_helper_in_a_library_is_the_library_callers_access(arch: str) -> None:
    splat = parse_log(_kasan(arch, "memcmp", "crc_itu_t", "demo_fw_check", "demo_probe"))[0]
    assert (splat.kind, splat.function) == ("kasan", "demo_fw_check")


@ARCHES
def test_a_warning_raised_in_a_layer_names_the_layers_caller(arch: str) -> None:
    # the header's function is read against the layers too (issue #19, batch 8): a WARNING
    # inside the timer code is the caller's misuse of it, as for any layer frame
    rip = "pc : " if arch == "arm64" else "RIP: 0010:"
    log = _lines("------------[ cut here ]------------",
                 "WARNING: CPU: 0 PID: 7 at kernel/time/timer.c:1120 __mod_timer+0x3a/0x5c0",
                 "Modules linked in:", "CPU: 0 PID: 7 Comm: demo Not tainted 7.2.0 #1",
                 f"{rip}__mod_timer+0x3a/0x5c0",
                 *_trace(arch, "__mod_timer", "demo_arm_watchdog", "demo_open"),
                 "---[ end trace 0000000000000000 ]---")
    assert parse_log(log)[0].function == "demo_arm_watchdog"


def test_a_layer_frame_is_kept_when_an_interrupt_entry_follows_it() -> None:
    log = _lines("general protection fault, probably for non-canonical address "
                 "0xdffffc0000000002: 0000 [#1] PREEMPT SMP KASAN",
                 "CPU: 1 PID: 321 Comm: demo Not tainted 7.2.0 #1",
                 "RIP: 0010:__x86_indirect_thunk_rax+0x10/0x20",
                 "Call Trace:", " <IRQ>", " run_timer_softirq+0x3d0/0x9a0",
                 " handle_softirqs+0x1c2/0x6b0", " irq_exit_rcu+0x9c/0xf0",
                 " sysvec_apic_timer_interrupt+0x8e/0xb0", " </IRQ>", " <TASK>",
                 " asm_sysvec_apic_timer_interrupt+0x1a/0x20",
                 "RIP: 0010:copy_page_range+0x8e2/0x1c40",
                 " dup_mmap+0x9a4/0xe80", " copy_process+0x3c1a/0x6b20", " </TASK>",
                 "---[ end trace 0000000000000000 ]---")
    assert parse_log(log)[0].function == "run_timer_softirq"


def test_a_hung_task_keeps_the_allocator_function_it_waits_in() -> None:
    log = _lines("INFO: task demo:555 blocked for more than 143 seconds.",
                 "      Not tainted 7.2.0 #1",
                 '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.',
                 "task:demo            state:D stack:0     pid:555   tgid:555   ppid:1",
                 *_trace("x86_64", "__schedule", "schedule", "schedule_preempt_disabled",
                         "__mutex_lock", "drain_all_pages", "demo_offline_pages",
                         "demo_store"))
    assert parse_log(log)[0].function == "drain_all_pages"
