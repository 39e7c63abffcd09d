/* SPDX-License-Identifier: GPL-2.0 */
/*
 * split.h - splitting large folios through debugfs split_huge_pages (definitions in
 * split.c): the workloads re-split what khugepaged collapsed so it keeps collapsing.
 */
#ifndef WORKLOADS_LIB_SPLIT_H
#define WORKLOADS_LIB_SPLIT_H

#include <stdbool.h>
#include <sys/types.h>

#define SPLIT_HUGE_PAGES "/sys/kernel/debug/split_huge_pages"

/* split_huge_pages is there and writable (CONFIG_DEBUG_FS, mounted, root). */
bool split_available(void);
/* split_available(), after mounting debugfs on /sys/kernel/debug if it is not. */
bool split_mount_debugfs(void);
/* Split the large folios mapped in [start, end) of process pid to `order` (< 0: the
 * kernel's default, order 0); true if the kernel took the request (errno otherwise). */
bool split_huge_range(pid_t pid, const void *start, const void *end, int order);
#endif /* WORKLOADS_LIB_SPLIT_H */
