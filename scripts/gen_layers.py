#!/usr/bin/env python3
"""Write harness/splats/data/layers.txt.gz: which kernel functions belong to an infrastructure
layer, decided by where the kernel defines them (issue #19).

The splat reader's culprit rule skips the frames of the machinery that noticed, printed or
carried a problem (harness/splats/culprit.py). Its hand-written name patterns miss every
helper they do not spell out; the kernel's own tree says where each function lives. This
script scans a tree (ctags-like: definitions at file scope in .c files, inline functions in
headers) and classifies each function by its source path with `TABLE` below. A name defined
in an infrastructure path and anywhere else in the generic code, x86 or arm64 (a static
function with a common name) is left out: ambiguous, so not infrastructure.

Usage: scripts/gen_layers.py SRC [-o harness/splats/data/layers.txt.gz]
SRC is a kernel tree, or a git directory holding one (the kharness source cache,
~/.cache/kharness/sources/debian-linux-source-7.2_*, read at HEAD without changing it).
The output is gzipped text, one `layer name` per line, sorted.
"""

from __future__ import annotations

import argparse
import fnmatch
import gzip
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

# (path glob, layer or None, reason). The first matching row decides; None = not
# infrastructure (a culprit when it is on the stack), listed where it carves an exception
# out of a wider infrastructure row below it. Paths are relative to the tree's top.
TABLE: tuple[tuple[str, str | None, str], ...] = (
    # exceptions first: code whose own bugs are what a report in it is about
    ("lib/test_*", None, "test modules: the code under test is the culprit"),
    ("lib/tests/*", None, "test modules"),
    ("lib/*kunit*", None, "KUnit test cases (the framework itself is lib/kunit/)"),
    ("lib/*_test.c", None, "test modules"),
    ("lib/kunit/*test*", None, "KUnit's own tests"),
    ("lib/zstd/*", None, "compression algorithms: self-contained, their bugs are theirs"),
    ("lib/lz4/*", None, "compression"), ("lib/lzo/*", None, "compression"),
    ("lib/xz/*", None, "compression"), ("lib/zlib_*", None, "compression"),
    ("lib/decompress*", None, "compression"), ("lib/842/*", None, "compression"),
    ("lib/raid6/*", None, "RAID arithmetic, called by md"),
    ("lib/reed_solomon/*", None, "error-correcting codes"), ("lib/bch.c", None, "ECC"),
    ("lib/maple_tree.c", None, "the VMA tree: mm developers' code"),
    ("lib/crypto/*", None, "crypto algorithms"),
    ("lib/fonts/*", None, "console fonts (data)"),
    ("kernel/time/posix-*", None, "POSIX timer syscalls: a subsystem, not plumbing"),
    ("kernel/time/alarmtimer.c", None, "alarm timers (a subsystem with its own bugs)"),
    ("kernel/time/itimer.c", None, "itimer syscalls"),
    ("kernel/time/namespace*", None, "time namespaces"),
    ("kernel/time/*test*", None, "test modules"),
    ("kernel/trace/bpf_trace.c", None, "BPF helpers: BPF's code"),
    ("kernel/trace/*test*", None, "test modules"),
    ("kernel/locking/*torture*", None, "torture tests"),
    ("kernel/locking/test-*", None, "test modules"),
    ("kernel/rcu/*torture*", None, "torture tests"), ("kernel/rcu/refscale.c", None, "tests"),
    ("kernel/rcu/rcuscale.c", None, "tests"),
    ("kernel/sched/ext*", None, "sched_ext: BPF schedulers' own code"),
    ("mm/kasan/kasan_test*", None, "KASAN's test cases are culprits"),
    ("mm/kfence/kfence_test*", None, "KFENCE's test cases"),
    ("mm/kmsan/kmsan_test*", None, "KMSAN's test cases"),
    ("kernel/kcsan/kcsan_test*", None, "KCSAN's test cases"),
    ("lib/nlattr.c", None, "netlink attribute parsing: where netlink's bounds bugs are"),
    ("kernel/sched/wait*", None, "wait queues: GENERIC in culprit.py, named when nothing better"),
    ("kernel/sched/*completion*", None, "completions: hung-task rules read them"),
    ("kernel/sched/swait.c", None, "simple wait queues"),
    # infrastructure
    ("lib/*", "library", "generic library: strings, containers, crc, kobject, iov_iter, "
     "bitmaps, sorting, vsprintf, debugobjects, refcount, list debugging"),
    ("kernel/locking/*", "locking", "locks, lockdep"),
    ("kernel/time/*", "timers", "timers, hrtimers, ticks, timekeeping"),
    ("kernel/workqueue.c", "workqueue", "work item plumbing"),
    ("kernel/kthread.c", "kthread", "kernel thread plumbing"),
    ("kernel/rcu/*", "rcu", "RCU"),
    ("kernel/printk/*", "printk", "printing"),
    ("kernel/trace/*", "tracing", "ftrace, trace events"),
    ("include/trace/*", "tracing", "trace event definitions"),
    ("kernel/sched/*", "scheduler", "scheduling, wake-ups, waits, completions, PSI"),
    ("kernel/irq/*", "irq", "interrupt handling"),
    ("kernel/softirq.c", "irq", "softirqs, tasklets"),
    ("kernel/irq_work.c", "irq", "irq_work"),
    ("kernel/entry/*", "entry", "syscall and interrupt entry/exit"),
    ("kernel/smp.c", "smp", "cross-CPU calls"),
    ("kernel/stop_machine.c", "smp", "stop_machine"),
    ("kernel/panic.c", "warn/bug", "WARN and panic"),
    ("kernel/notifier.c", "notifier", "notifier chains"),
    ("kernel/kcsan/*", "sanitizer", "KCSAN"),
    ("kernel/kcov.c", "sanitizer", "coverage"),
    ("kernel/stacktrace.c", "stack dump", "stack saving"),
    ("kernel/kallsyms.c", "stack dump", "symbol lookup"),
    ("kernel/extable.c", "stack dump", "text address checks"),
    ("kernel/hung_task.c", "watchdog", "hung task detector"),
    ("kernel/watchdog*", "watchdog", "lockup detectors"),
    ("kernel/dma/debug.c", "dma debug", "DMA-API debugging checks"),
    ("kernel/jump_label.c", "patching", "static keys"),
    ("kernel/static_call*", "patching", "static calls"),
    ("kernel/task_work.c", "entry", "deferred work on return to user mode"),
    ("mm/slub.c", "allocator", "slab allocator"),
    ("mm/slab_common.c", "allocator", "slab allocator"), ("mm/slab.h", "allocator", "slab"),
    ("mm/page_alloc.c", "allocator", "page allocator"),
    ("mm/mempool.c", "allocator", "mempools"),
    ("mm/percpu*", "allocator", "per-CPU allocator"),
    ("mm/util.c", "allocator", "kstrdup, kmemdup, kvmalloc helpers"),
    ("mm/failslab.c", "fault injection", "slab fault injection"),
    ("mm/page_owner.c", "allocator", "page owner tracking"),
    ("mm/page_ext.c", "allocator", "page_ext"),
    ("mm/kasan/*", "sanitizer", "KASAN"), ("mm/kmsan/*", "sanitizer", "KMSAN"),
    ("mm/kfence/*", "sanitizer", "KFENCE"),
    ("mm/kmemleak.c", "allocator", "kmemleak"),
    ("mm/debug.c", "printk", "dump_page and friends"),
    ("mm/usercopy.c", "string/memory", "hardened usercopy"),
    ("mm/maccess.c", "string/memory", "nofault copies"),
    ("arch/x86/lib/*", "string/memory", "string, usercopy, checksum"),
    ("arch/arm64/lib/*", "string/memory", "string, usercopy, checksum"),
    ("arch/x86/entry/*", "entry", "syscall and exception entry"),
    ("arch/x86/kernel/dumpstack*", "stack dump", "stack dump"),
    ("arch/x86/kernel/unwind_*", "stack dump", "unwinders"),
    ("arch/x86/kernel/stacktrace.c", "stack dump", "stack saving"),
    ("arch/x86/kernel/traps.c", "warn/bug", "traps"),
    ("arch/x86/kernel/nmi*", "entry", "NMI"),
    ("arch/x86/kernel/irq*", "entry", "interrupts"),
    ("arch/x86/kernel/apic/*", "entry", "APIC"),
    ("arch/x86/kernel/smp.c", "smp", "IPIs"),
    ("arch/x86/mm/fault.c", "entry", "page fault entry"),
    ("arch/x86/mm/extable.c", "entry", "exception fixups"),
    ("arch/x86/include/asm/*", "arch inline", "atomics, bitops, uaccess, irqflags, preempt"),
    ("arch/arm64/kernel/entry*", "entry", "exception entry"),
    ("arch/arm64/kernel/traps.c", "warn/bug", "traps"),
    ("arch/arm64/kernel/debug-monitors.c", "warn/bug", "BRK handlers"),
    ("arch/arm64/kernel/stacktrace.c", "stack dump", "unwinder"),
    ("arch/arm64/kernel/irq.c", "entry", "interrupts"),
    ("arch/arm64/kernel/smp.c", "smp", "IPIs"),
    ("arch/arm64/mm/fault.c", "entry", "fault entry"),
    ("arch/arm64/mm/extable.c", "entry", "exception fixups"),
    ("arch/arm64/include/asm/*", "arch inline", "atomics, bitops, uaccess, irqflags"),
    ("include/asm-generic/*", "arch inline", "generic atomics, bitops, uaccess"),
    ("include/linux/atomic/*", "arch inline", "atomics"),
)
PARTIAL: tuple[tuple[str, str, str, str], ...] = (
    ("mm/mempolicy.c", r"_*(?:alloc|vma_alloc|folio_alloc)_\w+|\w*interleave\w*|policy_node\w*|"
     r"mempolicy_slab_node|_*get_vma_policy|get_task_policy|apply_policy_zone|huge_node",
     "allocator", "the page allocator's NUMA-policy path (mbind, migration stay culprits)"),
)
"""Paths of which only some functions are infrastructure: (path glob, name regex, layer,
reason); the file's other functions count as defined elsewhere (culprits)."""
HEADERS = re.compile(r"include/linux/(?:"
                     r"seqlock|spinlock\w*|rwlock\w*|mutex\w*|rwsem|lockdep\w*|local_lock\w*|"
                     r"bit_spinlock|lockref|rcu\w*|srcu\w*|refcount\w*|kref\w*|list\w*|llist\w*|"
                     r"plist\w*|rbtree\w*|xarray|idr|radix-tree|rhashtable\w*|string\w*|"
                     r"fortify-string|uaccess|instrumented|kasan\w*|kmsan\w*|kcsan\w*|kfence|"
                     r"kmemleak|slab|gfp|percpu\w*|bitops|bitmap|cpumask|kobject\w*|workqueue\w*|"
                     r"timer\w*|hrtimer\w*|wait\w*|swait|completion|preempt|irqflags|"
                     r"jump_label|static_call|printk|ratelimit\w*|debugobjects|overflow|err|"
                     r"compiler\w*|minmax|kthread|smp|irq_work|uio|scatterlist|bug|"
                     r"sched|interrupt|hardirq|task_work|ref_tracker|"
                     r"seq_file|seq_buf|kallsyms|stacktrace|stackdepot|ftrace|tracepoint|"
                     r"trace_events|device|device/\w+|sysfs|kernfs|klist|crc\w*)\.h")
"""include/linux headers whose inline functions belong to the layers above (a report's
stack shows them once symbolized: `__seqprop_assert`, `spin_lock`, `list_add`)."""
HEADER_LAYER = "inline helper"
SCANNED = re.compile(r"(?!(?:Documentation|tools|samples|scripts|usr|rust)/)"
                     r"(?!arch/(?!x86/|arm64/))[^\n]*\.[ch]")
"""Where definitions count: the generic code, x86 and arm64 (other architectures' copies
of a name say nothing about the kernels kharness reads)."""
ATTRIBUTES = re.compile(r"__attribute__|__printf|__scanf|__section|__aligned|__alias|__malloc|"
                        r"__must_hold|__acquires?|__releases?|__cond_acquires?|__no_\w+|__diag\w*|"
                        r"__alloc_size|__realloc_size|__assume_aligned|__counted_by\w*|"
                        r"__free|__cleanup|__nocfi|__noreturn|__retain|__used|__weak|"
                        r"__context_analysis\w*|__no_context_analysis|__guarded_by|__must_not_hold|"
                        r"__acquire_shared|__releases_shared|__cond_acquires_shared|_?[A-Z_0-9]+")
"""Macros that take arguments in front of, or after, a function's name in its signature
(upper-case names are macros too: SYSCALL_DEFINE3(...) defines no function of that name)."""

_NOISE = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])+\'|'
                    r"^[ \t]*#(?:[^\n]*\\\n)*[^\n]*", re.S | re.M)
_TOKENS = re.compile(r"[{};]")
_IDENT = re.compile(r"[A-Za-z_]\w*")


def _blank(m: re.Match[str]) -> str:
    return "\n" * m.group().count("\n") + " "


def functions(text: str) -> Iterator[str]:
    """Names of the functions a C file or header defines at file scope: a top-level `{`
    whose head (the text since the previous top-level `;` or `}`) is a declarator with a
    parameter list, not an initializer or a struct."""
    text = _NOISE.sub(_blank, text)
    depth, last = 0, 0
    for m in _TOKENS.finditer(text):
        tok = m.group()
        if tok == "{":
            if depth == 0 and (name := _declarator(text[last:m.start()])):
                yield name
            depth += 1
        elif tok == "}":
            depth = max(depth - 1, 0)
            if depth == 0:
                last = m.end()
        elif depth == 0:
            last = m.end()


def _declarator(head: str) -> str | None:
    """The function name in a definition's head, if it is one: the identifier before the
    first top-level parenthesis that is not an attribute macro's."""
    if "(" not in head or "=" in head.replace("==", ""):
        return None
    depth = 0
    pos = 0
    while pos < len(head):
        c = head[pos]
        if c == "(":
            if depth == 0:
                before = head[:pos].rstrip()
                m = re.search(r"([A-Za-z_]\w*)$", before)
                if m is None:
                    return None                 # a function pointer's "(*name)" or a cast
                name = m.group(1)
                if not ATTRIBUTES.fullmatch(name):
                    words = _IDENT.findall(before)
                    if words and words[0] in ("struct", "union", "enum") and len(words) <= 2:
                        return None
                    return name
            depth += 1
        elif c == ")":
            depth -= 1
        pos += 1
    return None


def sources(src: Path) -> Iterator[tuple[str, str]]:
    """(path, text) of every scanned file of a tree or of a git directory's HEAD."""
    if (src / "objects").is_dir() and (src / "HEAD").is_file():
        git = ["git", f"--git-dir={src}"]
        listing = subprocess.run([*git, "ls-tree", "-r", "-z", "HEAD"], check=True,
                                 capture_output=True).stdout.decode()
        entries = [e.split("\t", 1) for e in listing.split("\0") if e]
        blobs = [(path, meta.split()[2]) for meta, path in entries
                 if meta.split()[1] == "blob" and SCANNED.fullmatch(path)]
        with subprocess.Popen([*git, "cat-file", "--batch"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE) as cat:
            assert cat.stdin is not None and cat.stdout is not None  # noqa: S101
            for path, sha in blobs:
                cat.stdin.write(sha.encode() + b"\n")
                cat.stdin.flush()
                size = int(cat.stdout.readline().split()[2])
                data = cat.stdout.read(size + 1)[:-1]
                yield path, data.decode("utf-8", "replace")
            cat.stdin.close()
        return
    for root, _dirs, files in os.walk(src):
        for f in sorted(files):
            path = os.path.relpath(os.path.join(root, f), src).replace(os.sep, "/")
            if SCANNED.fullmatch(path):
                yield path, Path(root, f).read_text(errors="replace")


def classify(path: str) -> str | None:
    """The infrastructure layer of a source path, or None."""
    for glob, layer, _reason in TABLE:
        if fnmatch.fnmatchcase(path, glob):
            return layer
    return HEADER_LAYER if HEADERS.fullmatch(path) else None


def layers(src: Path) -> dict[str, str]:
    """function name -> layer, for names defined only in infrastructure paths."""
    found: dict[str, str] = {}
    elsewhere: set[str] = set()
    for path, text in sources(src):
        layer = classify(path)
        partial = [(rx, lay) for glob, rx, lay, _reason in PARTIAL
                   if fnmatch.fnmatchcase(path, glob)]
        for name in functions(text):
            if partial:
                layer = next((lay for rx, lay in partial if re.fullmatch(rx, name)), None)
            if layer is None:
                elsewhere.add(name)
            else:
                found.setdefault(name, layer)
    return {n: lay for n, lay in found.items() if n not in elsewhere}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path, help="kernel tree, or a git directory holding one")
    ap.add_argument("-o", "--output", type=Path,
                    default=Path(__file__).resolve().parent.parent / "harness" / "splats" /
                    "data" / "layers.txt.gz")
    args = ap.parse_args(argv)
    table = layers(args.src)
    text = "".join(f"{lay}\t{name}\n" for name, lay in sorted(table.items(),
                                                             key=lambda kv: (kv[1], kv[0])))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0: the same tree gives the same bytes
    args.output.write_bytes(gzip.compress(text.encode(), compresslevel=9, mtime=0))
    print(f"{args.output}: {len(table)} functions, {args.output.stat().st_size} bytes",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
