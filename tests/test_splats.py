"""Splat parser tests: the golden corpus in tests/data/logs (and logs/real), plus rules.

Every `*.log` under tests/data/logs is checked against its `*.expect.yaml` sidecar (see
tests/data/logs/README.md). Logs dropped into logs/real/ are picked up automatically.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.splats import culprit as splatculprit
from harness.splats import parse as splats
from harness.splats.parse import Splat, compare, parse_file, parse_log, slice_by_markers

LOGS = Path(__file__).parent / "data" / "logs"
CORPUS = sorted(LOGS.rglob("*.log"))


def expectations(log: Path) -> list[dict[str, Any]]:
    sidecar = log.with_name(log.name[:-len(".log")] + ".expect.yaml")
    if not sidecar.exists():
        pytest.fail(f"{log.name}: missing expectations {sidecar.name} (see logs/README.md)")
    data = yaml.safe_load(sidecar.read_text()) or {}
    found = data.get("splats", []) if isinstance(data, dict) else data
    assert isinstance(found, list), f"{sidecar}: 'splats' must be a list"
    return found


def ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(LOGS)) for p in paths]


@pytest.mark.parametrize("log", CORPUS, ids=ids(CORPUS))
def test_corpus_matches_expectations(log: Path) -> None:
    want = expectations(log)
    got = parse_file(log)
    summary = [(s.line, s.kind, s.title, s.function) for s in got]
    assert len(got) == len(want), f"expected {len(want)} splats, got {summary}"
    for exp, splat in zip(want, got, strict=False):
        for key, value in exp.items():
            actual = getattr(splat, key)
            if isinstance(actual, tuple):
                actual = list(actual)
            assert actual == value, f"{key} of splat at line {splat.line}: {summary}"


def mutate(text: str, seed: int) -> str:
    """The same bug on another run: new timestamps, pids, addresses, CPU numbers, task ids."""
    rnd = random.Random(seed)
    addr_map: dict[str, str] = {}

    def addr(m: re.Match[str]) -> str:
        return addr_map.setdefault(m[0], m[0][:6] + "".join(
            rnd.choice("0123456789abcdef") for _ in m[0][6:]))

    text = re.sub(r"\b(?:ffff|0000)[0-9a-f]{12}\b", addr, text)
    text = re.sub(r"\[\s*\d+\.\d+\]", lambda m: f"[{rnd.uniform(1, 9999):12.6f}]", text)
    shift = rnd.randint(100, 900)
    text = re.sub(r"\[\s*T(\d+)\]", lambda m: f"[{'T' + str(int(m[1]) + shift):>6}]", text)
    text = re.sub(r"(PID: |pid: |pid:|Pid:|/|P)(\d{2,5})\b",
                  lambda m: m[1] + str(int(m[2]) + shift), text)
    return re.sub(r"(CPU: |CPU#|cpu )(\d)\b", lambda m: m[1] + str((int(m[2]) + 1) % 4), text)


@pytest.mark.parametrize("log", CORPUS, ids=ids(CORPUS))
def test_titles_stable_across_runs(log: Path) -> None:
    text = log.read_text(errors="replace")
    base = [(s.kind, s.title, s.function, s.line) for s in parse_log(text)]
    for seed in (1, 2):
        again = [(s.kind, s.title, s.function, s.line) for s in parse_log(mutate(text, seed))]
        assert again == base


def test_corpus_has_both_arches_and_clean_boots() -> None:
    names = [p.name for p in CORPUS]
    assert any(n.startswith("arm64-") for n in names)
    assert any(n.startswith("x86-") for n in names)
    assert any("clean" in n and not expectations(p) for n, p in zip(names, CORPUS, strict=False))


def test_every_kind_in_corpus_is_known() -> None:
    for log in CORPUS:
        for exp in expectations(log):
            assert exp.get("kind") in splats.KINDS, f"{log.name}: {exp}"


def test_known_run_pairs_give_same_titles() -> None:
    pairs = [(p, p.with_name(p.name.replace("-run1", "-run2"))) for p in CORPUS
             if "-run1" in p.name]
    assert pairs
    for one, two in pairs:
        assert [s.title for s in parse_file(one)] == [s.title for s in parse_file(two)]


WARN = """\
[   10.000000] ------------[ cut here ]------------
[   10.000001] WARNING: mm/khugepaged.c:100 at collapse_huge_page+0x5e2/0xb40, CPU#0: khugepaged/35
[   10.000002] Modules linked in:
[   10.000003] CPU: 0 UID: 0 PID: 35 Comm: khugepaged Not tainted 7.2.0 #1 PREEMPT(voluntary)
[   10.000004] RIP: 0010:collapse_huge_page+0x5e2/0xb40
[   10.000005] Call Trace:
[   10.000006]  <TASK>
[   10.000007]  hpage_collapse_scan_pmd+0x8f1/0xd80
[   10.000008]  khugepaged+0x14d/0x2f0
[   10.000009]  </TASK>
[   10.000010] ---[ end trace 0000000000000000 ]---
"""


def test_truncated_at_end_of_capture() -> None:
    cut = "\n".join(WARN.splitlines()[:8])
    (splat,) = parse_log(cut)
    assert splat.truncated and splat.title == "WARNING in collapse_huge_page"
    (whole,) = parse_log(WARN)
    assert not whole.truncated and whole.end_line == 11


def test_truncated_in_header_keeps_kind() -> None:
    (splat,) = parse_log("[    1.0] BUG: kernel NULL pointer dereference, address: 0000000000000008")
    assert splat.kind == "oops" and splat.function is None and splat.truncated
    assert splat.title == "BUG: unable to handle kernel NULL pointer dereference"


def test_to_json_schema() -> None:
    (splat,) = parse_log(WARN, file="console.log")
    data = splat.to_json()
    for key in ("file", "line", "kind", "title", "function", "frames", "locks", "raw"):
        assert key in data
    assert data["file"] == "console.log" and data["line"] == 1
    assert data["frames"] == [str(f) for f in splat.frames]
    assert str(data["frames"][0] if isinstance(data["frames"], list) else "") == \
        "hpage_collapse_scan_pmd+0x8f1/0xd80"
    assert str(data["raw"]).splitlines()[1].endswith("khugepaged/35")


def test_splat_is_frozen() -> None:
    (splat,) = parse_log(WARN)
    with pytest.raises(AttributeError):
        splat.title = "x"  # type: ignore[misc]


def test_compare_title_level() -> None:
    base = parse_log(WARN)
    patched = parse_log(WARN + WARN.replace("collapse_huge_page", "release_pte_pages"))
    result = compare(base, patched)
    assert result.new == ["WARNING in release_pte_pages"]
    assert result.both == ["WARNING in collapse_huge_page"] and result.gone == []
    assert compare(patched, base).gone == ["WARNING in release_pte_pages"]


def test_kharness_marker_closes_report_and_is_not_a_splat() -> None:
    log = WARN.replace("---[ end trace 0000000000000000 ]---\n", "") + (
        "[   11.0] kharness: test end t::a\n"
        "[   11.1] kharness: test start t::b\n  some indented user output\n")
    (splat,) = parse_log(log)
    assert splat.end_line == 10


def test_slice_by_markers() -> None:
    log = (LOGS / "x86-markers-two-tests.log").read_text()
    first = slice_by_markers(log, "kharness: test start t.py::test_a", "kharness: test end t.py::test_a")
    second = splats.slice_for_test(log, "t.py::test_b")
    assert parse_log(first) == []
    assert [s.title for s in parse_log(second)] == ["WARNING in collapse_huge_page"]
    assert slice_by_markers(log, "kharness: test start nope", "kharness: test end nope") == ""


def test_slice_without_end_marker_runs_to_end() -> None:
    log = "[ 1.0] kharness: test start t::c\n" + WARN
    assert [s.title for s in parse_log(splats.slice_for_test(log, "t::c"))] == [
        "WARNING in collapse_huge_page"]


@pytest.mark.parametrize("line", [
    "[    0.000000] Lock dependency validator: Copyright (c) 2006 Red Hat, Inc., Ingo Molnar",
    "[    0.000000] ... MAX_LOCKDEP_SUBCLASSES:  8",
    "[    0.000000]   Good, all 261 testcases passed! |",
    "[    0.131040] rcu: RCU lockdep checking is enabled.",
    "[    2.000000] WARNING: The mand mount option has been deprecated and",
    "[    2.000000] NMI watchdog: Perf NMI watchdog permanently disabled",
    "[    2.000000] ACPI BIOS Error (bug): Could not resolve symbol [\\_SB.PCI0.S08], AE_NOT_FOUND",
    "[    2.000000] ACPI Warning: SystemIO range 0x0000000000000600-0x000000000000063F conflicts",
    "[    3.000000] traps: a.out[123] general protection fault ip:401136 sp:7ffd0 error:0 in a.out",
    "[    3.000000] a.out[124]: segfault at 0 ip 0000000000401136 sp 00007ffd4 error 6 in a.out",
    "[    3.000000] kharness: test start tests/test_x.py::test_bug[WARNING: BUG: Oops]",
    "qemu-system-x86_64: warning: TCG doesn't support requested feature: CPUID.01H:ECX.vmx",
    "WARNING: Image format was not specified for 'disk.img' and probing guessed raw.",
    "[    4.000000] INFO: lockdep is turned off.",
    "[    4.000000] RETBleed: WARNING: Spectre v2 mitigation leaves CPU vulnerable to RETBleed",
    "[    4.000000] khungtaskd: \"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" ...",
])
def test_harmless_scary_lines(line: str) -> None:
    assert parse_log(line + "\n" + line) == []


def test_panic_after_oops_is_folded() -> None:
    log = (LOGS / "x86-swapops-bug-panic.log").read_text()
    kinds = [s.kind for s in parse_log(log)]
    assert kinds == ["bug"]
    assert "Fatal exception" in parse_log(log)[0].raw


def test_parse_file_accepts_str_and_bad_bytes(tmp_path: Path) -> None:
    path = tmp_path / "bad.log"
    path.write_bytes(WARN.encode() + b"\xff\xfe garbage\n")
    (splat,) = parse_file(str(path))
    assert splat.file == str(path)


def test_splat_type_exported() -> None:
    assert Splat.__dataclass_params__.frozen  # type: ignore[attr-defined]


VARIANTS = {
    "journalctl-monotonic": (
        ("[  12.345678] vm1 kernel: ------------[ cut here ]------------\n"
        "[  12.345679] vm1 kernel: WARNING: CPU: 0 PID: 1 at mm/khugepaged.c:10 "
        "collapse_huge_page+0x5/0x10\n[  12.345680] vm1 kernel: Call Trace:\n"
        "[  12.345681] vm1 kernel:  <TASK>\n[  12.345682] vm1 kernel:  khugepaged+0x1/0x2\n"),
        [("warning", "WARNING in collapse_huge_page")]),
    "journalctl-short": (
        ("Jun 01 12:00:00 vm1 kernel: BUG: kernel NULL pointer dereference, address: 0000000000000008\n"
        "Jun 01 12:00:00 vm1 kernel: RIP: 0010:release_pte_pages+0x5/0x10\n"),
        [("oops", "BUG: unable to handle kernel NULL pointer dereference in release_pte_pages")]),
    "x86-pre-4.16-fault": (
        ("[  1.0] BUG: unable to handle kernel NULL pointer dereference at 0000000000000008\n"
        "[  1.0] IP: [<ffffffff81234567>] release_pte_pages+0x5/0x10\n[  1.0] Oops: 0000 [#1] SMP\n"
        "[  1.0] Call Trace:\n[  1.0]  [<ffffffff81234500>] collapse_huge_page+0x1/0x2\n"),
        [("oops", "BUG: unable to handle kernel NULL pointer dereference in release_pte_pages")]),
    "x86-old-gpf": (
        ("general protection fault: 0000 [#1] SMP KASAN\n"
        "RIP: 0010:[<ffffffff81234567>]  [<ffffffff81234567>] release_pte_pages+0x5/0x10\n"
        "Call Trace:\n [<ffffffff81234500>] collapse_huge_page+0x1/0x2\n"),
        [("oops", "general protection fault in release_pte_pages")]),
    "spinlock-generic-bug": (
        ("[ 1.0] BUG: spinlock bad magic on CPU#0, khugepaged/35\n"
        "[ 1.0]  lock: 0xffff888003a1c200, .magic: 00000000, .owner: <none>/-1, .owner_cpu: 0\n"
        "[ 1.0] Call Trace:\n[ 1.0]  <TASK>\n[ 1.0]  do_raw_spin_lock+0x1/0x2\n"
        "[ 1.0]  release_pte_pages+0x1/0x2\n"),
        [("bug", "BUG: spinlock bad magic in release_pte_pages")]),
    "panic-kill-init": (
        "[ 1.0] Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b\n",
        [("panic", "kernel panic: Attempted to kill init")]),
    "hung-comm-with-colon": (
        ("[ 1.0] INFO: task kworker/u4:2:45 blocked for more than 143 seconds.\n"
        "[ 1.0] Call Trace:\n[ 1.0]  __schedule+0x1/0x2\n[ 1.0]  folio_wait_bit_common+0x1/0x2\n"
        "[ 1.0]  migrate_pages_batch+0x1/0x2\n"),
        [("hung_task", "INFO: task hung in migrate_pages_batch")]),
    "rcu-expedited-nmi": (
        ("[ 1.0] rcu: INFO: rcu_preempt detected expedited stalls on CPUs/tasks: { 1-.... } 21 "
        "jiffies s: 1221 root: 0x2/.\n[ 1.0] Sending NMI from CPU 0 to CPUs 1:\n"
        "[ 1.0] NMI backtrace for cpu 1\n[ 1.0] RIP: 0010:mthp_collapse+0x1/0x2\n"),
        [("rcu_stall", "INFO: rcu detected stall in mthp_collapse")]),
    "syzbot-symbolized-kasan": (
        ("BUG: KASAN: slab-out-of-bounds in collapse_huge_page+0x8d1/0x1a40 mm/khugepaged.c:1234\n"
        "Write of size 4 at addr ffff888006f1c010 by task khugepaged/35\n\nCall Trace:\n <TASK>\n"
        " __dump_stack lib/dump_stack.c:94 [inline]\n"
        " collapse_huge_page+0x8d1/0x1a40 mm/khugepaged.c:1234\n"),
        [("kasan", "KASAN: slab-out-of-bounds Write in collapse_huge_page")]),
    "kcsan": (
        ("[ 1.0] ==================================================================\n"
        "[ 1.0] BUG: KCSAN: data-race in collapse_scan_pmd / release_pte_pages\n"),
        [("kcsan", "KCSAN: data-race in collapse_scan_pmd / release_pte_pages")]),
    "arm64-old-oops": (
        ("[ 1.0] Unable to handle kernel paging request at virtual address dead000000000108\n"
        "[ 1.0] Internal error: Oops: 96000044 [#1] PREEMPT SMP\n"
        "[ 1.0] PC is at release_pte_pages+0x74/0x1a0\n"
        "[ 1.0] [<ffff0000080a1b2c>] release_pte_pages+0x74/0x1a0\n"),
        [("oops", "BUG: unable to handle kernel paging request in release_pte_pages")]),
    "userspace-glued-to-printk": (
        ("[    1.000000] ------------[ cut here ]------------\n"
        "ok 3 collapse[   41.378514] WARNING: mm/khugepaged.c:1 at collapse_huge_page+0x5e2/0xb40,"
        " CPU#1: khugepaged/35\n[   41.4] Call Trace:\n[   41.4]  <TASK>\n"
        "[   41.4]  khugepaged+0x1/0x2\n"),
        [("warning", "WARNING in collapse_huge_page")]),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_format_variants(name: str) -> None:
    text, want = VARIANTS[name]
    assert [(s.kind, s.title) for s in parse_log(text)] == want


@pytest.mark.parametrize("line, kind", [
    ("[   12.345678] WARNING: CPU: 1 PID: 77 at mm/khugepaged.c:1 f+0x0/0x10", "warning"),
    ("[    3.1][  T40] BUG: scheduling while atomic: khugepaged/40/0x00000002", "atomic_sleep"),
    ("[    3.1] WARNING: suspicious RCU usage", "rcu"),
    ("[    3.1] kharness: test start guest_tests/x.py::t", None),
    ("[    3.1] INFO: lockdep is turned off.", None),
])
def test_start_kind_on_raw_console_lines(line: str, kind: str | None) -> None:
    assert splats.start_kind(line) == kind


NOISE = Path(__file__).parent / "data" / "splat-noise.txt"
NOISE_LINES = [ln for ln in NOISE.read_text().splitlines() if ln and not ln.startswith("#")]


@pytest.mark.parametrize("line", NOISE_LINES)
@pytest.mark.parametrize("prefix", ["", "[   12.345678] ", "[   12.345678][ T4121] ", "<4>"])
def test_noise_lines(prefix: str, line: str) -> None:
    assert parse_log(f"{prefix}{line}\n") == []


def test_noise_lines_together_are_clean() -> None:
    text = "".join(f"[{i:5d}.000000] {line}\n" for i, line in enumerate(NOISE_LINES))
    assert parse_log(text) == []


TWINS = [("field/x86-warning-7x-folio-split.log", "field/arm64-warning-7x-folio-split.log"),
         ("x86-hung-task-khugepaged.log", "arm64-hung-task-khugepaged.log"),
         ("real/x86-lkdtm-warning.log", "real/arm64-lkdtm-warning.log"),
         ("real/x86-lkdtm-bug.log", "real/arm64-lkdtm-bug.log"),
         *((f"field/blind9/x86-{x}.log", f"field/blind9/arm64-{a}.log") for x, a in (
             ("6x-warn-split-pmd-panic", "6x-warn-split-pmd-panic"),
             ("6x-kcsan-collapse-scan-zap", "6x-kcsan-collapse-scan-zap-reordered"),
             ("5x-hung-remote-vm-nmi-other", "5x-hung-remote-vm"),
             ("6x-rcu-self-detected-collapse-scan", "6x-rcu-self-detected-collapse-scan"),
             ("6x-refcount-underflow-put-pid", "7x-refcount-underflow-put-pid"),
             ("4x-vm-bug-on-page-collapse-shmem", "4x-vm-bug-on-page-collapse-shmem"))),
         ("field/blind10/x86-6x-kasan-list-helper-header.log",
          "field/blind10/arm64-6x-kasan-list-helper-header.log")]


@pytest.mark.parametrize(("x86", "arm64"), TWINS)
def test_same_bug_same_title_on_both_arches(x86: str, arm64: str) -> None:
    assert parse_file(LOGS / x86)[0].title == parse_file(LOGS / arm64)[0].title


SYSCALL = """\
[   10.000000] ------------[ cut here ]------------
[   10.000001] refcount_t: underflow; use-after-free.
[   10.000002] WARNING: CPU: 0 PID: 1 at lib/refcount.c:28 refcount_warn_saturate+0x13c/0x174
[   10.000003] Call trace:
[   10.000004]  refcount_warn_saturate+0x13c/0x174
[   10.000005]  {wrapper}+0x2c/0x48
[   10.000006]  do_syscall_64+0x82/0x190
[   10.000007] ---[ end trace 0000000000000000 ]---
"""


def test_syscall_wrappers_title_is_arch_neutral() -> None:
    titles = {parse_log(SYSCALL.format(wrapper=w))[0].title
              for w in ("__x64_sys_madvise", "__arm64_sys_madvise", "__riscv_sys_madvise")}
    assert titles == {"refcount_t: underflow; use-after-free in sys_madvise"}
    inner = {parse_log(SYSCALL.format(wrapper=w))[0].title
             for w in ("__do_sys_madvise", "__se_sys_madvise", "SyS_madvise")}
    assert inner == {"refcount_t: underflow; use-after-free in madvise"}


@pytest.mark.parametrize(("name", "layer"), [
    ("report_bug", "warn/bug/trap"), ("fixup_bug", "warn/bug/trap"),
    ("__sanitizer_cov_trace_pc", "sanitizer"), ("__hwasan_check_x0_67043363", "sanitizer"),
    ("check_memory_region", "sanitizer"),
    ("create_object", "allocator"), ("kmem_cache_alloc_node", "allocator"),
    ("__kmalloc_cache_noprof", "allocator"), ("debug_print_object", "debugobjects"),
    ("register_lock_class", "lockdep"), ("refcount_warn_saturate", "refcount"),
    ("__list_add_valid_or_report", "list debug"), ("dump_stack_lvl", "printk"),
    ("memcmp", "string/memory"), ("strlen", "string/memory"), ("memset_erms", "string/memory"),
    ("_copy_to_user", "string/memory"), ("do_syscall_64", "entry"), ("el0t_64_sync", "entry"),
    ("collapse_huge_page", None), ("khugepaged", None), ("hpage_collapse_scan_pmd", None),
    ("do_swap_page", None), ("strp_recv", None), ("list_lru_del", None),
    # real code whose names look like a layer's (audited against every function of 7.2)
    ("get_user_pages", None), ("__get_user_pages", None), ("memcmp_pages", None),
    ("copy_user_large_folio", None), ("__list_lru_add", None), ("list_add_leaf_cfs_rq", None),
    ("copy_to_user_policy", None), ("print_verifier_state", None), ("dump_holder", None),
    ("watchdog_set_timeout", None), ("kmalloc_oob_right", None), ("set_bitmap_file", None),
    ("atomic_pool_work_fn", None), ("schedule_drain_work", None), ("__percpu_counter_init_many", None),
    # arm64 fault entry and the irq plumbing a tick travels through
    ("do_tag_check_fault", "entry"), ("handle_bad_stack", "entry"), ("dump_cpu_task", "entry"),
    ("handle_percpu_devid_irq", "entry"), ("generic_handle_domain_irq", "entry"),
    ("arch_timer_handler_virt", "entry"), ("tcp_write_timer_handler", None),
    ("neigh_timer_handler", None), ("call_rwsem_down_write_failed", "locking")])
def test_culprit_layers(name: str, layer: str | None) -> None:
    assert splatculprit.layer(name) == layer


@pytest.mark.parametrize(("cands", "kind", "want"), [
    (["on_each_cpu_cond_mask", "flush_tlb_mm_range", "dup_mmap"], "soft_lockup", "dup_mmap"),
    (["__wake_up", "on_each_cpu"], "warning", "__wake_up"),      # nothing better: the helper
    (["__schedule", "mutex_lock_nested", "rtnl_lock", "tun_chr_close"], "hung_task", "rtnl_lock"),
    (["kmemleak_alloc", "sk_prot_alloc", "sk_alloc", "inet_create"], "memory_leak", "inet_create"),
    (["refcount_dec_and_test", "l2tp_tunnel_dec_refcount", "l2tp_session_free"], "refcount",
     "l2tp_session_free"),
    (["debug_print_object", "debug_check_no_obj_freed", "kfree", "__sk_destruct"], "odebug",
     "__sk_destruct"),
    # arm64's __pi_ aliases are the string helpers they alias
    (["__pi_memcpy_generic", "ext4_write_inline_data_end"], "kasan", "ext4_write_inline_data_end"),
    # library containers allocate for their caller
    (["kmemleak_alloc_percpu", "pcpu_alloc_noprof", "__percpu_counter_init_many", "mm_init"],
     "memory_leak", "mm_init"),
    (["kmem_cache_alloc_lru_noprof", "xas_alloc", "xas_create", "xa_store", "io_register_pbuf"],
     "memory_leak", "io_register_pbuf")])
def test_culprit_pick(cands: list[str], kind: str, want: str) -> None:
    assert splatculprit.pick(cands, [], kind) == want


TICK = ["dump_backtrace", "show_stack", "sched_show_task", "dump_cpu_task", "rcu_dump_cpu_stacks",
        "rcu_sched_clock_irq", "update_process_times", "tick_nohz_handler", "hrtimer_interrupt",
        "arch_timer_handler_virt", "handle_percpu_devid_irq", "generic_handle_domain_irq",
        "gic_handle_irq", "call_on_irq_stack", "do_interrupt_handler", "el1_interrupt",
        "el1h_64_irq_handler", "el1h_64_irq"]


@pytest.mark.parametrize(("names", "want"), [
    (TICK + ["collapse_scan_pmd", "khugepaged"], ["collapse_scan_pmd", "khugepaged"]),
    # stalled inside a softirq: only the tick's own interrupt is the reporting path
    (TICK + ["foo_rx_poll", "net_rx_action", "handle_softirqs", "irq_exit_rcu", "el1_interrupt",
             "el1h_64_irq", "default_idle_call"],
     ["foo_rx_poll", "net_rx_action", "handle_softirqs", "irq_exit_rcu", "el1_interrupt",
      "el1h_64_irq", "default_idle_call"]),
    # no reporting path on the stack (another CPU's NMI backtrace): nothing is cut
    (["foo_irq_handler", "handle_irq_event", "handle_edge_irq", "common_interrupt", "bar"],
     ["foo_irq_handler", "handle_irq_event", "handle_edge_irq", "common_interrupt", "bar"])])
def test_stall_stack_read_below_the_interrupt_that_reported(names: list[str],
                                                            want: list[str]) -> None:
    assert splatculprit.interrupted(names) == want


def test_complete_stack_at_end_of_capture_is_not_truncated() -> None:
    (stall,) = parse_file(LOGS / "field/blind9/arm64-6x-rcu-self-detected-collapse-scan.log")
    assert not stall.truncated                     # ends on ret_from_fork: the whole stack
    (oops,) = parse_file(LOGS / "field/arm64-oops-header-dropped-no-end.log")
    assert oops.truncated                          # an Oops still owes its Code: / end trace


def test_header_wins_unless_it_is_reporting_machinery() -> None:
    # a generic helper's check is its caller's misuse; the helper stays when nothing follows
    cands = ["__queue_work", "queue_work_on", "nbd_queue_rq"]
    assert splatculprit.pick(cands, cands[:1], "warning", header="__queue_work") == "nbd_queue_rq"
    assert splatculprit.pick(cands[:2], cands[:1], "warning", header="__queue_work") == "__queue_work"
    cands = ["refcount_warn_saturate", "mmgrab", "__khugepaged_enter"]
    assert splatculprit.pick(cands, cands[:1], "refcount", header=cands[0]) == "mmgrab"
    assert splatculprit.pick(["memcpy", "sctp_getsockopt"], ["memcpy"], "kasan",
                             header="memcpy") == "sctp_getsockopt"


TRACE = "[ 1.1] Call Trace:\n[ 1.2]  {caller}+0x1/0x2\n[ 1.3]  do_syscall_64+0x3/0x4\n"


@pytest.mark.parametrize(("head", "kind", "title", "func"), [
    ("WARNING: CPU: 0 PID: 1 at mm/foo.c:12", "warning", "WARNING in bar", "bar"),
    ("WARNING: CPU: 0 PID: 1 at", "warning", "WARNING in bar", "bar"),
    ("WARNING: mm/foo.c:12 at foo+0x1/0x2", "warning", "WARNING in foo", "foo"),
    ("WARNING: mm/foo.c:12 at foo.cold+0x1/0x2 [mod], CPU#1: a b/12", "warning", "WARNING in foo",
     "foo"),
    ("WARNING: at mm/foo.c:12 foo+0x1/0x2()", "warning", "WARNING in foo", "foo"),
    ("WARNING:", "warning", "WARNING: corrupted", None),
    ("BUG:", "bug", "BUG: corrupted", None),
    ("BUG: unable to handle kernel", "oops", "BUG: unable to handle kernel in bar", "bar"),
    ("BUG: KCSAN: assert: race in foo / bar.isra.0", "kcsan", "KCSAN: assert: race in foo / bar",
     "foo"),
    ("BUG: KASan: out of bounds access in foo+0x1/0x2 at addr ffff88001", "kasan",
     "KASAN: out of bounds access in foo", "foo"),
    ("INFO: task a b:12 can't die for more than 143 seconds.", "hung_task",
     "INFO: task can't die in bar", "bar"),
    ("BUG: IRQ stack guard page was hit at ffffc900 (stack is ffffc9..ffffc9)", "stack",
     "BUG: stack guard page was hit in bar", "bar"),
    ("Kernel panic - not syncing: UBSAN: panic_on_warn set ...", "ubsan",
     "kernel panic: UBSAN: panic_on_warn set in bar", "bar"),
])
def test_header_forms(head: str, kind: str, title: str, func: str | None) -> None:
    (splat,) = parse_log(f"[ 1.0] {head}\n" + TRACE.format(caller="bar"))
    assert (splat.kind, splat.title, splat.function) == (kind, title, func)


def test_lockdep_acquisition_site_wins_unless_a_lock_primitive() -> None:
    stack = ["lock_acquire", "down_read", "do_user_addr_fault", "exc_page_fault", "pipe_read"]
    assert splatculprit.pick(["do_user_addr_fault", *stack], [], "lockdep",
                             site="do_user_addr_fault") == "do_user_addr_fault"
    assert splatculprit.pick(["__might_fault", *stack], [], "lockdep",
                             site="__might_fault") == "pipe_read"


def unsymbolize(text: str) -> str:
    """A report as the console printed it, before syz-symbolize / decode_stacktrace.sh."""
    lines = [ln for ln in text.split("\n") if not ln.rstrip().endswith("[inline]")]
    return "\n".join(re.sub(r"(\+0x[0-9a-f]+/0x[0-9a-f]+(?: \[[\w-]+\])?) \S+\.[chS]:\d+$", r"\1",
                            ln.rstrip()) for ln in lines)


SYMBOLIZED = [p for p in CORPUS if "[inline]" in p.read_text(errors="replace")]


@pytest.mark.parametrize("log", SYMBOLIZED, ids=ids(SYMBOLIZED))
def test_symbolized_and_raw_reports_get_one_title(log: Path) -> None:
    text = log.read_text(errors="replace")
    assert [s.title for s in parse_log(unsymbolize(text))] == [s.title for s in parse_log(text)]


@pytest.mark.parametrize(("a", "b", "title"), [
    ("BUG: Dentry ffff888012345678{i=0,n=lo}  still in use (1) [unmount of ext4 loop4]",
     "BUG: Dentry ffff88807a1b2c3d{i=2,n=foo}  still in use (3) [unmount of ext4 loop5]",
     "BUG: Dentry still in use in unmount"),
    ("BUG: spinlock bad magic on CPU#0, syz-executor.3/12345",
     "BUG: spinlock bad magic on CPU#3, kworker/1:2/77", "BUG: spinlock bad magic in bar"),
    ("BUG: scheduling while atomic: syz-executor.0/3301/0x00000002",
     "BUG: scheduling while atomic: khugepaged/52/0x00000003", "BUG: scheduling while atomic in bar"),
])
def test_generic_titles_drop_what_varies(a: str, b: str, title: str) -> None:
    titles = {parse_log(f"[ 1.0] {head}\n" + TRACE.format(caller="bar"))[0].title for head in (a, b)}
    assert titles == {title}
