"""Who is to blame in a report: the first frame that is the caller's fault.

A kernel report's stack starts in the machinery that noticed and printed the problem; the
culprit is the first frame below it. The rule is by *layer*, not by example: a frame is skipped
when its (suffix-stripped) name belongs to one of `LAYERS` (warn/bug/trap handlers, sanitizers
and coverage instrumentation, allocator and kmemleak internals, debugobjects, lockdep,
refcount, list debugging, printk/dump_stack, string/memory/uaccess helpers, MMIO and port I/O
accessors, lock and scheduler slow paths, syscall/exception/interrupt entry, rbtree,
xarray/idr/radix-tree/rhashtable/klist containers, checksum helpers, API argument checks such
as usb_submit_urb's and the rest of the USB URB plumbing, physical-address checks, procfs/sysfs
registration and inode link counts, driver-core and bus registration and teardown, the page
cache's lookup, fill and truncation, the page allocator and its failure warning, iov_iter copy
helpers). `GENERIC` helpers (cross-CPU calls, wake-ups, workqueue/timer plumbing, notifier
chains) are skipped only when a better frame follows, even when the report's header names one
(a WARNING in `__flush_work` or `kobject_add_internal` is its caller's misuse, as the field
names it).
Some reports widen the rule for the part of the report they are read from
(`KIND_SKIP`: a leak's allocation backtrace skips every allocation wrapper; a hung task's
stack skips every wait primitive, and hangs in `rtnl_lock`/`synchronize_rcu` are named after
them, as the field buckets them; a BUG in an sk_buff bounds check is the caller's length).
The header's own function, when the report names one, is
the first candidate (harness.splats.describe), so it wins unless it is itself in a layer.
A stall's stack is read below the interrupt that carried its report (`interrupted`) and named
after the function its innermost unit of work (syscall, softirq, timer, work item, kthread)
called (`anchored`), not after where the CPU happened to be; and
arm64's position-independent aliases (`__pi_memcpy`) are the functions they alias.
mm frames (`collapse_*`, `khugepaged`, `hpage_*`, `do_swap_page`, ...) are in no layer.

After those name rules, the general fallback is where the kernel defines a function
(`source_layer`: scripts/gen_layers.py classifies every function of a 7.2 tree by its source
path, lib/, kernel/locking/, kernel/time/, kernel/rcu/, mm/slub.c, ... and ships the result
as data/layers.txt.gz). A stack frame in such a layer is passed over like a `GENERIC` helper,
for a frame of its own context below it; the report's own header, RIP and "at" function are
not (a WARNING's own check keeps its name), nor are reports whose skip rules already read the
stack they are about (`SOURCE_KINDS`).
"""

from __future__ import annotations

import functools
import gzip
import itertools
import os
import re
from collections.abc import Callable, Sequence
from importlib import resources

LAYERS: tuple[tuple[str, str], ...] = (
    ("warn/bug/trap", (r"_*warn\w*|warn_\w+|_*report_bug\w*|fixup_bug|handle_bug|_*(?:asm_)?exc_\w+|"
     r"do_error_trap|do_trap\w*|do_invalid_op|invalid_op|_*die\w*|oops_\w+|(?:v|nmi_|__)?panic\w*|"
     r"check_panic_on_warn|_*[a-z0-9]+_panic|_*bug_handler|\w*brk_handler|call_break_hook|early_brk64|"
     r"do_debug_exception|el1_dbg|el1_brk64|do_el1_undef|el1_undef|do_undefinstr|"
     r"(?:do_)?(?:divide_error|general_protection|int3|bounds|overflow|stack_segment|"
     r"segment_not_present|double_fault|alignment_check|(?:simd_)?coprocessor_error)|"
     r"arm64?_notify_die|do_kernel_trap|program_check_exception|_*fortify_(?:report|panic)\w*|"
     r"\w*assert_?fail\w*|"   # (a subsystem's ASSERT() reporter, btrfs_assertfail)
     r"rust_helper_(?:BUG|WARN)\w*|\w*::rust_begin_unwind|rust_begin_unwind|core::panicking::\S+|"
     r"kernel::panic\S*")),   # (Rust's panic machinery, demangled)
    ("sanitizer", (r"__sanitizer_\w+|__hwasan_\w+|__asan_\w+|_*kasan\w*|__msan_\w+|_*kmsan\w*|__tsan_\w+|"
     r"_*kcsan\w*|_*ubsan\w*|__kcov\w*|write_comp_data|check_memory_region\w*|check_region_inline|"
     r"memory_is_poisoned\w*|read_word_at_a_time|print_address_description\w*|print_report|"
     r"describe_object\w*|(?:start|end)_report|_*kfence\w*|__stack_chk_fail|save_stack\w*|"
     r"set_track\w*|stack_trace_save\w*|stack_trace_consume_entry\w*|stack_depot_\w+|arch_stack_walk|instrument_\w+|"
     r"handle_(?:overflow|null_ptr_deref|misaligned_access|object_size_mismatch)|"
     r"quarantine_\w+|qlink_\w+|qlist_\w+")),
    ("allocator", (r"(?!\w*(?:oob|uaf|test|invalid|double))"     # (KASAN's test cases are culprits)
     r"(?:_*create_object|_*kmemleak\w*|slab_(?:pre|post)_alloc_hook|_*slab_alloc\w*|"
     r"___slab_alloc|alloc_debug_processing|_*kmem_cache_alloc\w*|_*kmalloc\w*|__do_kmalloc\w*|"
     r"_*kzalloc\w*|kcalloc\w*|_*kv[mz]alloc\w*|_*vz?malloc\w*|_*v[zc]alloc\w*|_*krealloc\w*|new_slab|"
     r"allocate_slab|alloc_slab_page|_*kmem_cache_free\w*|kmem_cache_debug\w*|virt_to_cache|cache_from_obj|_*kv?free\w*|_*slab_free\w*|"
     r"do_slab_free|_*cache_free|free_debug_processing|slab_free_\w*hook|_*vfree\w*|_*vunmap|"
     r"_*alloc_pages\w*|alloc_pages_\w+|_*get_free_pages\w*|get_page_from_freelist|warn_alloc\w*|"
     r"_*folio_alloc\w*|alloc_page_interleave|vma_alloc_folio\w*)")),  # (mempolicy's entry points)
    ("debugobjects", (r"debug_print_object|_*debug_check_no_obj_freed|_*debug_object\w*|"
     r"\w+_is_static_object|lookup_object\w*")),
    ("lockdep", (r"(?:debug_)?lockdep_\w+|_*lock_acquire\w*|_*lock_release|lock_acquired|lock_contended|lock_sync|"
     r"validate_chain|check_prevs?_add|check_noncircular|check_irq_usage|check_deadlock|"
     r"check_usage\w*|mark_lock\w*|mark_usage|mark_held_locks|print_\w*bug\w*|"
     r"debug_check_no_locks_\w+|__lock_\w+|reacquire_held_locks|register_lock_class|"
     r"look_up_lock_class|hlock_class|find_held_lock|debug_locks_off\w*|lock_is_held\w*|"
     r"check_flags|spin_dump|spin_bug|debug_spin_\w+|trigger_\w+_backtrace")),
    ("refcount", r"_*refcount_\w+|ref_tracker_\w+|fast_dput"),
    ("list debug", (r"__list_(?:add|del|move|replace|splice|cut|valid)\w*|__list_\w+_valid\w*|"
     r"list_(?:add|del|move|replace|splice|cut)(?:_tail|_init|_rcu|_entry|_careful|_before|_position)*|"
     r"__hlist_\w+")),
    ("printk", (r"_*printk\w*|vprintk\w*|console_\w+|_*dump_(?:stack\w*|backtrace|page\w*|folio|mm|"
     r"vma\w*|header|tasks?|oom_victim|unreclaimable_slab|\w*object_info)|show_stack|_*show_regs\w*|"
     r"_?sched_show_task|show_trace_log_lvl|_*print_(?:report|address_description\w*|bad_\w+|trailer|"
     r"track\w*|section|\w*bug\w*|lock\w*|tainted|modules|irqtrace_events|ip_sym|error_description|"
     r"memory_metadata|unreferenced\w*|oops_end_marker|hex_dump\w*|worker_info|stop_info)|"
     r"_*v?s(?:c?n)?printf|kv?asprintf|string(?:_nocheck)?|hex_string|widen_string|pointer|format_decode|number|"
     r"special_hex_number|hex_dump_to_buffer|_*(?:net)?dev_(?:v?printk|info|notice|warn|err|alert|crit|emerg|dbg)\w*|"
     r"unwind_backtrace|nmi_cpu_backtrace\w*|nmi_trigger_cpumask_backtrace|\w+_cpumask_backtrace")),
    ("string/memory", (r"_*mem(?:cpy|set|move|cmp|chr|scan|dup)(?:\d+|_(?:erms|orig|fast\w*|generic\w*|"
     r"noinline|toio|fromio|flushcache|user\w*|mcsafe|inatomic|\d+))?|_*str(?:n?len|n?cmp|n?casecmp|l?cpy|"
     r"ncpy|scpy\w*|n?cat|lcat|r?chr|nchr|n?str|sep|pbrk|c?spn|n?dup|ncpy_from_user|nlen_user)|"
     r"_*(?:raw_|arch_)?copy_(?:to|from|in)_user(?:_\d+|_nofault|_iter\w*|_mc|_fromio|_flushcache|"
     r"_nocache\w*|_inatomic)?|copy_user_(?:generic|enhanced|handle)\w*|"
     r"__copy_user\w*|rep_movs_alternative|copyin|"
     r"copyout|__arch_clear_user|"
     r"_*(?:get|put)_user(?:_nocheck)?(?:_\d+|_asm\w*)?|_*clear_user\w*|_*might_\w+|"
     r"_*check_object_size|_*virt_addr_valid|_*copy_(?:to|from)_iter\w*|"
     r"copy_page_(?:to|from)_iter\w*|simple_copy_to_iter|copy_folio_(?:to|from)_iter\w*|"
     r"_*check_(?:heap|stack)_object\w*|usercopy_\w+|_*x86_indirect_\w+|__x86_return_thunk|"
     r"(?:raw_|arch_)?atomic(?:64|_long)?_(?:read|set|add|sub|inc|dec|and|or|xor|andnot|fetch|xchg|"
     r"cmpxchg|try_cmpxchg)\w*|_*(?:test_and_)?(?:set|clear|change)_bit(?:_lock|_unlock)?|"
     r"_*test_bit(?:_acquire)?|_*crc(?:\d+|_itu_t|_ccitt|_t10dif)\w*|_*csum_partial\w*")),
    ("I/O accessors", (r"_*raw_(?:read|write)[bwlq]|(?:read|write)[bwlq](?:_relaxed|_be)?|"
     r"_*io(?:read|write)(?:8|16|32|64)\w*|logic_(?:in|out)[bwl]|(?:in|out)[bwl](?:_p)?|"
     r"_*read_once_\w+")),  # MMIO/port I/O and READ_ONCE's helpers: the caller did the access
    ("locking", (r"_raw_\w+|raw_spin_\w+|do_raw_\w+|(?:native_|__pv_)?queued_\w+|spin_\w+|"
     r"_*rwsem_\w+|call_rwsem_\w+|_*(?:down|up)(?:_\w+)?|_*mutex_\w+|_*rt_mutex\w*|rt_spin_\w+|osq_\w+|"
     r"lock_sock(?:_nested|_fast)?|release_sock|_*atomic_dec_and_(?:raw_)?lock\w*|percpu_(?:down|up)_\w+|__percpu_(?:down|up|rwsem)\w*|mmap_(?:read|write)_\w+|__mmap_lock_\w+|"
     r"_*s?rcu_\w+")),
    ("scheduler", (r"_*schedule(?:_(?:\w*timeout\w*|preempt_disabled|idle|user|loop|debug\w*|bug|tail|"
     r"rtlock))?|preempt_schedule\w*|_*cond_resched\w*|context_switch|"
     r"finish_task_switch\w*|io_schedule\w*|schedule_\w*timeout\w*|wait_for_completion\w*|"
     r"_*wait_for_common\w*|"
     r"watchdog|watchdog_timer_fn|watchdog_overflow_callback|watchdog_hardlockup_\w+|"
     r"watchdog_buddy_\w+|_*hrtimer_\w+|hrtimer_\w+|debug_smp_processor_id|check_preemption_disabled|"
     r"__this_cpu_preempt_check")),
    ("entry", (r"kthread|ret_from_fork\w*|do_syscall_\w+|entry_SYS\w+|invoke_syscall|el0_svc\w*|"
     r"do_el0_svc\w*|el[01]h?t?_64_\w+|el[01]_\w+|do_fast_syscall\w*|syscall_exit_to_user_mode\w*|"
     r"worker_thread|process_one_work|process_scheduled_works|smpboot_thread_fn|asm_\w+|"
     r"_*sysvec_\w+|_*irq_exit\w*|handle_softirqs|_*do_softirq\w*|common_interrupt|"
     r"\w*apic_timer_interrupt\w*|retint_\w+|restore_regs_and_return_to_kernel|gic_handle_irq\w*|call_on_irq_stack|do_interrupt_handler|"
     r"\w*run_sysvec\w*|\w*call_irq_on_stack|run_on_irqstack\w*|"
     r"irqentry_\w+|do_mem_abort|do_translation_fault|_*do_page_fault|do_user_addr_fault|"
     r"do_tag_check_fault|do_sea|do_bad|\w*bad_stack|"
     r"do_kern_addr_fault|handle_page_fault|page_fault_oops|kernelmode_fixup_or_oops|"
     r"__do_kernel_fault|do_bad_area|_*bad_area\w*|fixup_exception|do_alignment_fault|"
     r"do_DataAbort|do_PrefetchAbort|__dabt_svc|__irq_svc|_*nmi_\w+|nmi_\w+|default_do_nmi|"
     r"__handle_sysrq|write_sysrq_trigger|__pfx_\w+|"
     r"(?:generic_|__)?handle_(?:\w+_)?irq(?:_\w+)?|handle_irq_event\w*|arch_timer_handler_\w+|"
     r"__?handle_domain_irq\w*|el1_interrupt|dump_cpu_task")),
    ("tracing", (r"perf_trace_\w+|trace_event_raw_event_\w+|__bpf_trace_\w+|__traceiter_\w+|"
     r"trace_raw_output_\w+|__probestub_\w+|__DO_TRACE\w*")),  # (made by include/trace's macros)
    ("rbtree", r"_*rb_(?:erase|insert_color|replace_node|link_node|first|last|next|prev)\w*|__rb_\w+"),
    ("containers", r"klist_\w+|_*xa_\w+|xas_\w+|_*idr_\w+|_*ida_\w+|_*radix_tree_\w+|_*rhashtable_\w+|"
     r"bucket_table_\w+"),
    ("page cache", (r"find_lock_entries|find_get_entries|_*filemap_get_folio\w*|pagecache_get_page|"
     r"find_or_create_page|grab_cache_page\w*|do_read_cache_\w+|read_cache_page\w*|"
     r"truncate_inode_pages\w*|truncate_pagecache\w*|filemap_alloc_folio\w*|_*(?:un)?lock_page|"
     r"_*folio_(?:un)?lock\w*|folio_wait_\w+|filemap_add_folio|_*filemap_(?:fdatawait|fdatawrite)\w*")),
    ("page free", r"_*free_pages?\w*|free_page_is_bad\w*|bad_page|__dump_page|_*page_table_check_\w+"),
    ("fault injection", r"should_fail\w*|fail_dump"),
    ("API checks", (r"usb_submit_urb|usb_kill_urb|usb_kill_anchored_urbs|usb_hcd_submit_urb|"
     r"usb_start_wait_urb|usb_(?:control|bulk|interrupt)_msg\w*|"
     r"_*phys_addr(?:_symbol)?|proc_register|proc_create\w*|proc_mkdir\w*|proc_symlink|sysfs_warn_dup|"
     r"sysfs_do_create_link\w*|kernfs_add_one|(?:drop|clear|inc|set)_nlink")),
    ("driver core", (r"device_(?:add|del|register|unregister|destroy|create(?:_with_groups|_groups_vargs)?|"
     r"release_driver\w*|(?:create|remove)_(?:bin_)?file)|get_device_parent\w*|(?:get|put)_device|bus_(?:add|remove|probe)_device|"
     r"sysfs_(?:create|remove)_(?:files?|groups?|link|bin_file)\w*|"
     r"unregister_netdevice\w*|unregister_netdev|rollback_registered\w*|dpm_sysfs_\w+|device_pm_remove|"
     r"device_release|devres_release_all|device_for_each_child\w*|__unregister_client|"
     r"i2c_del_adapter|i2c_unregister_device|tty_unregister_device|hwrng_unregister")),
)
GENERIC = (r"on_each_cpu\w*|smp_call_function\w*|_*flush_tlb\w*|csd_lock_wait\w*|_*wake_up\w*|"
           r"complete(?:_all|_on_current_cpu)?|"
           r"_*queue_work\w*|_*queue_delayed_work\w*|insert_work|try_to_grab_pending|_*del_timer\w*|"
           r"_*timer_delete\w*|_*try_to_del_timer\w*|lock_timer_base|sk_stop_timer\w*|iput|dput|"
           r"kthread_stop\w*|finish_wait|fast_dput|_*cancel_(?:delayed_)?work(?:_timer|_sync)?|"
           r"_*flush_(?:delayed_)?work|flush_workqueue|kobject_\w+|_*call_rcu\w*|kfree_rcu\w*|"
           r"\w*notifier_call_chain\w*|call_netdevice_notifiers\w*")
IDLE = (r"__switch_to\w*|default_idle\w*|arch_cpu_idle\w*|cpu_idle\w*|do_idle|cpuidle_\w+|\w*safe_halt|"
        r"cpu_startup_entry|start_secondary|secondary_start_kernel|rest_init|start_kernel|"
        r"x86_64_start_\w+|common_startup_64|cpu_relax|__const_udelay|_*udelay|__delay|delay_\w+|"
        r"update_process_times|tick_\w+|scheduler_tick|sched_tick|account_process_tick|"
        r"irqtime_account_\w+|_*(?:run_)?hrtimer\w*|call_timer_fn|_*run_timers?\w*|"
        r"run_timer_softirq|"                  # idle loops, and the timer tick that noticed
        r"_*unwind_\w+|_*save_stack_trace\w*|_*kernel_text_address|is_\w+_text_address|"
        r"is_ftrace_trampoline")   # and stack saving

LIBRARY = (r"_*percpu_counter_\w+|percpu_ref_\w+|_*xa_\w+|xas_\w+|_*idr_\w+|_*ida_\w+|"
           r"_*radix_tree_\w+|_*rhashtable_\w+|bucket_table_\w+|_*kobject_\w+|kset_\w+|"
           r"_*mempool_\w+")
"""Library containers (percpu counters and refs, xarray/idr/radix tree, rhashtable, kobject,
mempool) allocate on their caller's behalf: in a leak's allocation backtrace they are part of
the allocation, the owner is the frame below them."""
INTERRUPT = re.compile(r"(?:asm_)?sysvec_\w+|__sysvec_\w+|\w*apic_timer_interrupt\w*|"
                       r"asm_exc_nmi|exc_nmi|end_repeat_nmi|default_do_nmi|common_interrupt|"
                       r"ret_from_intr|el1h?_64_irq\w*|el1_irq|el1_interrupt|__irq_svc|"
                       r"do_interrupt_handler|call_on_irq_stack")
"""Interrupt and NMI entry: on a stall's stack, the boundary between the reporting path
(the tick or the NMI that printed the stack) and the context it interrupted."""
PREEMPTED = re.compile(r"preempt_schedule_irq|arm64_preempt_schedule_irq|svc_preempt")
IRQ_RETURN = re.compile(r"retint_\w+|restore_regs_and_return_to_kernel|irqentry_exit\w*|"
                        r"(?:asm_)?sysvec_\w+|__irq_svc|el1h?_64_irq\w*|el1_interrupt|ret_from_intr")
"""Kernel preemption on return from an interrupt, and the return path that calls it."""
SOFTIRQ = re.compile(r"_*do_softirq\w*|handle_softirqs|tasklet_\w*action\w*|net_rx_action|run_timer_softirq")
"""Softirq processing: above a preemption point it ran on the exit of the interrupt that was
about to preempt, so it is the stalled code, not the scheduler's switch."""
REPORTING = re.compile(r"rcu_dump_cpu_stacks|print_(?:other_)?cpu_stall\w*|rcu_sched_clock_irq\w*|"
                       r"watchdog_timer_fn|watchdog_overflow_callback|dump_cpu_task|"
                       r"nmi_cpu_backtrace\w*|_?sched_show_task|_*show_regs\w*|dump_stack\w*|"
                       r"\w*console_write\w*|\w+_console_putchar")   # (the tick printing the report)
NESTED_WARN = re.compile(r"warn_alloc\w*|_*warn\w*|_*report_bug\w*|_*dump_header|oom_kill_process\w*")
"""Callers of dump_stack that print a warning of their own (a failed allocation, a WARN, the OOM
killer): a stalled CPU's stack may be inside one, and that dump_stack is part of the stalled
code, not the path that reported the stall."""
KIND_SKIP = {
    "hung_task": r"__switch_to\w*|ldsem_(?:down|up)_\w+|\w*(?:sched|_lock|_slowlock|wait|completion|synchron|rwsem|mutex|"
                 r"sleep)\w*|_*down\w*|_*folio_lock\w*|\w*flush_(?:delayed_)?work\w*|\w*flush_workqueue|"
                 r"drain_workqueue|usb_(?:bulk|control|interrupt)_msg\w*",
    "atomic_sleep": r"_*alloc_pages\w*|alloc_pages_\w+|_*get_free_pages\w*|get_zeroed_page\w*|"
                    r"_*folio_alloc\w*",
    "soft_lockup": IDLE, "hard_lockup": IDLE, "rcu_stall": IDLE,
    "memory_leak": r"\w*(?:kmemleak|kmalloc|kcalloc|kzalloc|vmalloc|mmap|kmem|slab|alloc|create_object|"
                   r"idr_get|list_lru_init|kv?asprintf|pcpu_create|strn?dup|memdup)\w*|" + LIBRARY,
    "slab": r"check_\w+|alloc_debug_processing|free_debug_processing|free_to_partial_list|"
            r"on_freelist|\w+_consistency_checks|\w*slab\w*|object_err|print_trailer|"
            r"kmem_cache_\w+|_*kmalloc\w*|kmalloc_\w+|kz?alloc\w*|_*do_kmalloc\w*",
    "bad_page": r"_*set_page_owner|_*reset_page_owner|post_alloc_hook|\w*page_pool_alloc\w*|"
                r"_*free_\w+|_*folio_put\w*|folios_put\w*|put_page\w*|release_pages|check_new_page\w*|"
                r"prep_new_page|get_page_from_freelist|_*alloc_pages\w*|_*folio_alloc\w*|"
                r"rmqueue\w*|__rmqueue\w*",
    "refcount": r"\w*refcount\w*",
    "bug": r"skb_(?:over_|under_)?panic|_*skb_(?:push|put|pull)",
    "kmsan": r"usb_submit_urb|usb_start_wait_urb|usb_(?:bulk|control|interrupt)_msg\w*",
    "odebug": r"debug_\w+|\w*rcu\w*|_*hrtimer_\w+|_*timer_\w+|_*(?:init|mod|add|del|try_to_del|destroy)_timer\w*|\w*work_\w+|percpu_\w+|kmem_\w+|"
              r"slab_\w+|__free_\w+|kobject_\w+",
}
KIND_STOP = {"slab": re.compile(r"validate_slab\w*|validate_store")}
"""Frames from which on a stack only says who asked for the check (SLUB's sysfs `validate`
found the corruption): no suspect there, the title names the cache instead."""
HUNG_ANCHORS = ((re.compile(r"rtnl_lock"), "rtnl_lock"),
                (re.compile(r"_*synchronize_(?:rcu|srcu|net|sched)\w*"), "synchronize_rcu"))
STALL_ANCHORS = re.compile(
    r"\w*(?:do_syscall_|do_fast_syscall_|sysenter_dispatch|tracesys_phase2|el0_svc_handler|"
    r"invoke_syscall|ret_fast_syscall|exit_to_usermode|exit_to_user_mode_loop|task_work_run|"
    r"__fput|vfs_(?:read|write|iter_read|iter_write|readv|writev|ioctl|open)|do_iter_read|"
    r"do_iter_write|call_(?:read|write)_iter|new_sync_(?:read|write)|do_iter_readv_writev|"
    r"compat_ioctl|blkdev_(?:driver_)?ioctl|call_mmap|mmap_region|do_mmap|do_dentry_open|"
    r"full_proxy_|netif_receive_skb|do_softirq|handle_softirqs|run_ksoftirqd|call_timer_fn|"
    r"_run_timers|run_timer_softirq|hrtimer_run|tasklet_action|tasklet_hi_action|__do_fault|"
    r"do_page_fault|process_one_work)\w*|"
    r"_*sock_(?:sendmsg|recvmsg|release|mmap|do_ioctl|ioctl)\w*|compat_sock_ioctl|"
    r"(?:kernel_|sock_common_)?setsockopt|(?:kernel_)?listen|(?:kernel_)?accept|sk_common_release|"
    r"_*napi_poll|nfnetlink_rcv_msg|rtnetlink_rcv_msg|netlink_dump\w*|rcu_do_batch|lkdtm_do_action|"
    r"direct_entry|x64_sys_call|(?:__\w+_sys_|__se_sys_|__do_sys_|sys_)?(?:socketpair|connect|ioctl)\w*|ksys_ioctl|page_fault")
SMP_CALL = re.compile(r"smp_call_function\w*")
"""Frames that dispatch a unit of work to the code that does it (syscall entry, the VFS and
socket layers calling a file's or protocol's operation, mmap and open, the return to user
mode running deferred work, softirq, timer, tasklet, RCU-callback, workqueue and packet
receive dispatch, debugfs' proxy and lkdtm's crash-type table): on a stall's stack the
function the innermost of them called is what looped, wherever in it the CPU was when the
report was taken. A kernel thread's own function (`khugepaged`, `kswapd`) is its whole life,
not a unit of work: thread starts are no anchor, so such a stall keeps `pick`'s rule. The list
mirrors syzkaller's (pkg/report/linux.go), which buckets the field's stall reports."""
_COMMON = "|".join(rx for _name, rx in LAYERS)


KIND_KEEP = {"hung_task": r"console_\w+"}
"""Layer frames a kind's stack does not skip: a hung task's stack is the blocked task's, not
the reporter's, so the console code there (console_device waiting for console_lock, whose wait
KIND_SKIP passes over) is the waiter, not printk printing the report."""


def _skipper(kind: str) -> re.Pattern[str]:
    extra = KIND_SKIP.get(kind)
    keep = KIND_KEEP.get(kind)
    common = f"(?!(?:{keep})$)(?:{_COMMON})" if keep else _COMMON
    return re.compile(common + ("|" + extra if extra else ""))


_SKIP = {kind: _skipper(kind) for kind in (*KIND_SKIP, "")}
WQ_MACHINERY = re.compile(r"process_one_work|_*flush_workqueue\w*|drain_workqueue|destroy_workqueue|"
                          r"_*flush_(?:delayed_)?work|_*cancel_(?:delayed_)?work(?:_timer|_sync)?|"
                          r"(?:__)?start_flush_work\w*|touch_(?:work|wq)_lockdep_map")
"""Workqueue machinery that lockdep sees taking a work item's or workqueue's pseudo-lock: a
deadlock reported "at" one of them is named after the lock the task already holds (what it
held while flushing or running the work), as the field does."""
_LOCK_API = re.compile("|".join(rx for name, rx in LAYERS if name in ("locking", "lockdep")) +
                       r"|_*might_\w+")
_GENERIC = re.compile(GENERIC)
_PRIMITIVE = re.compile("|".join(rx for name, rx in LAYERS if name in (
    "string/memory", "I/O accessors", "rbtree", "containers", "list debug")))
"""Memory and I/O access primitives (memcpy, READ_ONCE's helpers, MMIO accessors) and
data-structure helpers (rbtree, list, xarray ...): a fault in one is its caller's access or
node, and that caller is where the fault is, whatever its layer (a page fault in the
unwinder's READ_ONCE_NOCHECK is the unwinder's, a GPF in rb_erase_cached is set_next_entity's)."""
_REPORTER = re.compile("|".join(rx for name, rx in LAYERS if name in ("printk", "warn/bug/trap")))
"""The machinery that prints a report (printk, WARN, panic): a lock it takes is the reporter's,
so a lockdep report "at" one of them is named after the code that was reporting."""


def lock_api(name: str) -> bool:
    """Whether a function is a lock primitive or lockdep itself (not who took the lock)."""
    return _LOCK_API.fullmatch(canonical(name)) is not None


def layer(name: str) -> str | None:
    """The infrastructure layer a bare function name belongs to, if any (for explanations)."""
    return next((label for label, rx in LAYERS if re.fullmatch(rx, name)), None)


@functools.cache
def _source_layers() -> dict[str, str]:
    """function -> layer, from the kernel's tree (scripts/gen_layers.py writes the file);
    read once, on first use. KHARNESS_SOURCE_LAYERS=0 turns the table off (to measure it)."""
    if os.environ.get("KHARNESS_SOURCE_LAYERS") == "0":
        return {}
    data = resources.files("harness.splats").joinpath("data", "layers.txt.gz").read_bytes()
    return {name: lay for lay, _tab, name in
            (line.partition("\t") for line in gzip.decompress(data).decode().splitlines())}


def source_layer(name: str) -> str | None:
    """The infrastructure layer the kernel's source puts a function in (by the path that
    defines it, scripts/gen_layers.py), or None: not infrastructure, defined in a
    non-infrastructure path too, unknown to the tree it was made from, or mm code that
    kharness tests (`MM_FOCUS`), which is never infrastructure."""
    name = canonical(name)
    if MM_FOCUS.fullmatch(name):
        return None
    return _source_layers().get(name)


def canonical(name: str) -> str:
    """The function a symbol stands for: arm64's position-independent aliases (`__pi_memcpy`,
    `__pi_memcpy_generic`) are the same string and memory helpers."""
    return name.removeprefix("__pi_")


def interrupted(names: Sequence[str]) -> list[str]:
    """A stall's stack below the interrupt that carried its report: when a reporting frame
    (the tick's stall check, an NMI or task backtrace) sits above an interrupt entry, the
    frames down to that entry are the reporting path, the rest is what was interrupted.
    A dump_stack called by a warning of the stalled code's own (`NESTED_WARN`) reports nothing
    about the stall. Likewise below a preemption on interrupt return (`preempt_schedule_irq` called from the
    return path): the frames above it are the scheduler switching tasks, not the stalled code."""
    last = max((i for i, n in enumerate(names) if REPORTING.fullmatch(n)
                and not (i + 1 < len(names) and NESTED_WARN.fullmatch(names[i + 1]))), default=None)
    entry = None if last is None else next(
        (i for i in range(last + 1, len(names)) if INTERRUPT.fullmatch(names[i])), None)
    if entry is not None:
        while entry + 1 < len(names) and INTERRUPT.fullmatch(names[entry + 1]):
            entry += 1                           # the whole entry sequence (handler, vector)
        names = names[entry + 1:]
    preempt = next((i for i, n in enumerate(names) if PREEMPTED.fullmatch(n)), None)
    if preempt is not None and any(SOFTIRQ.fullmatch(n) for n in names[:preempt]):
        preempt = None                           # softirqs run on that interrupt's exit: they spun
    if preempt is not None and preempt + 1 < len(names) and IRQ_RETURN.fullmatch(names[preempt + 1]):
        end = preempt + 1
        while end + 1 < len(names) and IRQ_RETURN.fullmatch(names[end + 1]):
            end += 1
        names = names[end + 1:]
    return list(names)


def preempted(names: Sequence[str]) -> bool:
    """Whether a stack shows a preemption on interrupt return (`interrupted` reads below it):
    the pc printed with such a stack is the scheduler's, not the stalled code's."""
    return any(PREEMPTED.fullmatch(n) and i + 1 < len(names) and IRQ_RETURN.fullmatch(names[i + 1])
               for i, n in enumerate(names))


def pick(cands: Sequence[str], named: Sequence[str], kind: str,
         header: str | Sequence[str] | None = None, site: str | None = None) -> str | None:
    """The culprit among candidate functions (header/RIP/"at" names first, then the stack).

    `kind` selects the widened skip rules (a KIND_SKIP key, or the report kind). A `header`
    function (the report's own "at file:line func" or "in func") wins unless it belongs to a
    reporting layer, or (outside bad-access reports, whose header is the faulting access) to
    a source layer: a check raised inside a layer is its caller's misuse. A lockdep
    acquisition `site` (the ", at:" function) wins unless it is a lock primitive or lockdep
    itself: a page fault taking mmap_lock is the acquirer, not its entry path."""
    rx = _SKIP.get(kind, _SKIP[""])

    def skip(name: str) -> bool:
        return rx.fullmatch(canonical(name)) is not None
    stop = KIND_STOP.get(kind)
    if stop is not None:
        cands = list(itertools.takewhile(lambda c: not stop.fullmatch(c), cands))
    headers = [header] if isinstance(header, str) else list(header or ())
    source = SOURCE_KINDS.get(kind, True)
    if kind == "oops" and named and _LOCK_API.fullmatch(canonical(named[0])):
        taker = next((c for c in cands if not _LOCK_API.fullmatch(canonical(c))
                      and not skip(c) and not c.startswith("0x")), None)
        if taker:                                # a fault taking a lock: the lock the taker
            return taker                         # passed in is bad, whatever its layer
    if kind == "oops" and (drain := _quarantine(cands, skip)):
        return drain
    if kind == "oops" and named and _PRIMITIVE.fullmatch(canonical(named[0])):
        caller = next((c for c in cands if c not in named and not skip(c)), None)
        named = [*named, caller] if caller else named   # (the fault came from its caller)

    # a source-layer function to pass over: a RIP or "at" name is kept, except the report's
    # own header function outside bad-access reports
    def infra(c: str) -> bool:
        return (source and (c not in named or (c in headers and kind not in ACCESS))
                and not _GENERIC.fullmatch(c) and source_layer(c) is not None)
    good = next((h for h in headers if not skip(h) and not h.startswith("0x") and not infra(h)),
                None)
    usable = [c for c in cands if not skip(c) and not c.startswith("0x")]
    better = _better(cands, skip, infra)
    if good:                                     # (symbolized reports repeat the header line
        if _GENERIC.fullmatch(good) and better:  # once per inlined frame).
            return better                        # A check or bad access in a generic helper
        return good                              # (a flush, a wake-up): the caller's misuse
    if site and not _LOCK_API.fullmatch(site) and not _REPORTER.fullmatch(site):
        return site
    if kind == "hung_task":
        anchor = next((name for c in cands for rx, name in HUNG_ANCHORS if rx.fullmatch(c)), None)
        if anchor:
            return anchor
    if better or usable:
        return better or usable[0]
    if named:
        return named[0]
    if kind == "oops":                           # a jump to garbage made from infrastructure
        return next((c for c in cands            # (a work item's function pointer): the frame
                     if not c.startswith("0x") and not _REPORTER.fullmatch(canonical(c))),
                    None)                        # that made the call
    return None


QUARANTINE = re.compile(r"_*(?:kasan_)?quarantine_\w+|qlink_\w+|qlist_\w+")
"""KASAN's quarantine: freed objects it holds back, freed for real later from whatever
allocation happens to drain it."""


def _quarantine(cands: Sequence[str], skip: Callable[[str], bool]) -> str | None:
    """A fault in the slab freeing path (or a string helper it calls) whose caller is KASAN's
    quarantine drain: the crash is in freeing an object queued long before, so it is named
    after that caller (`qlist_free_all`), not after the allocation that triggered the drain."""
    for c in cands:
        name = canonical(c)
        if QUARANTINE.fullmatch(name):
            return name
        if not (c.startswith("0x") or _PRIMITIVE.fullmatch(name) or layer(name) == "allocator"
                or (skip(c) and layer(name) != "sanitizer")):
            return None
    return None


def recursion_entry(cands: Sequence[str], kind: str = "stack") -> str | None:
    """A stack overflow through a cycle of functions (a notifier chain re-entering itself
    through several layers) is named by the unit of work that entered the cycle (`anchored`'s
    rule, `rtnl_newlink` for a bonding or team device loop), or failing an anchor by the first
    usable frame outward of the cycle: no function of a cycle owns it. A function calling
    itself is no cycle (its frames repeat in a row): it is the culprit `pick` names. None when
    no function repeats (a deep but finite stack)."""
    rx = _SKIP.get(kind, _SKIP[""])
    usable = [n for n, _ in itertools.groupby(canonical(c) for c in cands)
              if not n.startswith("0x") and not rx.fullmatch(n)]
    usable = [n for n, _ in itertools.groupby(usable)]     # (self-recursion is one frame)
    seen: set[str] = set()
    last = -1
    for i, n in enumerate(usable):
        last = i if n in seen else last
        seen.add(n)
    if last < 0:
        return None
    cycle = set(usable[:last + 1])
    return anchored(cands, kind) or next((n for n in usable[last + 1:] if n not in cycle), None)


SOURCE_KINDS = {"hung_task": False, "atomic_sleep": False, "bad_page": False}
"""Reports whose own skip rules (`KIND_SKIP`) already read the part of the stack they are
about, and whose convention names the first frame past it whatever its layer: the function
that waits (hung task), that sleeps (atomic sleep), that dropped the page (bad page)."""


def _better(cands: Sequence[str], skip: Callable[[str], bool],
            infra: Callable[[str], bool]) -> str | None:
    """The first usable stack frame that is neither a `GENERIC` helper nor in a source layer
    (`source_layer`). A source-layer frame is only passed over for a frame of its own
    context: when an interrupt entry comes first, the frames below it are the code the
    interrupt happened to stop, not the layer's caller, so the layer's frame stays."""
    pending = None
    for c in cands:
        if INTERRUPT.fullmatch(c) and pending:
            return pending
        if skip(c) or c.startswith("0x") or _GENERIC.fullmatch(c):
            continue
        if not infra(c):
            return c
        pending = pending or c
    return None


ACCESS = ("kasan", "kfence", "kmsan")
"""Reports of a bad memory access: their header is the faulting access itself, kept even when
a source layer defines it (a WARNING's or BUG's header in such a layer is its caller's misuse)."""


MM_FOCUS = re.compile(r"_*(?:collapse_|khugepaged|hpage_|thp_|hugepage_|huge_pmd|do_huge_pmd|"
                      r"split_huge|folio_split|migrate_|remove_migration|try_to_migrate|"
                      r"madvise_collapse|do_swap_page|retract_page_tables)\w*")
"""The code kharness exists to test (THP, mTHP collapse, khugepaged, migration, swap-in): a
stall spinning in it is named by it, not by the unit of work it runs in (the issue's "keep the
mm-relevant frames as culprits")."""


def anchored(cands: Sequence[str], kind: str) -> str | None:
    """A stall's culprit by its unit of work (the field's convention, so that two reports of one
    loop get one title): walking the interrupted stack outward from the innermost frame, the
    walk stops at the first `STALL_ANCHORS` frame and names the outermost usable frame met
    before it, the function that dispatcher or syscall called (a generic helper only when
    nothing else is there). None when no anchor is on the stack (an idle loop, a kernel thread
    without a known dispatcher) or nothing usable is above it: then `pick`'s rule holds."""
    at = next((i for i, c in enumerate(cands) if STALL_ANCHORS.fullmatch(canonical(c))), None)
    if at is None:                             # waiting for other CPUs is one bucket (but THP
        mm = any(MM_FOCUS.fullmatch(canonical(c)) for c in cands)       # code waiting: name it)
        return "smp_call_function" if cands and SMP_CALL.fullmatch(cands[0]) and not mm else None
    if any(SMP_CALL.fullmatch(c) for c in cands[:at + 1]):
        return "smp_call_function"             # waiting for other CPUs: one bucket, as the field's
    rx = _SKIP.get(kind, _SKIP[""])
    usable = [c for c in cands[:at] if not rx.fullmatch(canonical(c)) and not c.startswith("0x")]
    if any(MM_FOCUS.fullmatch(canonical(c)) for c in usable):
        return None                            # THP/collapse/migration code spinning: name it
    return usable[-1] if usable else None
