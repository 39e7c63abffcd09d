/* SPDX-License-Identifier: GPL-2.0 */
/*
 * watch.h - follow khugepaged progress from inside the guest (definitions in
 * watch.c). Polls khugepaged/full_scans every --interval-ms and prints one
 * "scan" event with every THP counter each time it advances, so the host needs a
 * single SSH command per wait instead of one round trip per poll.
 *
 * Counters: khugepaged/{full_scans,pages_collapsed}, /proc/vmstat lines starting
 * with thp_, compact_, pswp and nr_anon_transparent_hugepages, and every file of
 * every hugepages-<size>kB/stats/ directory (keyed by size in kB).
 */
#ifndef THPWORK_WATCH_H
#define THPWORK_WATCH_H

#include "util.h"

bool vmstat_wanted(const char *name);
void dump_vmstat(struct jw *w);
void dump_size_stats(struct jw *w, const char *dirname);
void dump_sizes(struct jw *w);
uint64_t khugepaged_num(const char *name);
void emit_counters(FILE *out, const char *event, long n, double t0);
bool pid_alive(pid_t pid);
int watch_run(FILE *out, long scans, double timeout, long interval_ms, pid_t pid);
#endif /* THPWORK_WATCH_H */
