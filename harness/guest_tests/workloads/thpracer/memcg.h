/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memcg.h - thpracer's memory cgroup racer, --memcg (definitions in memcg.c).
 *
 * The process runs in its own memory cgroup (cgroup2 mounted on /sys/fs/cgroup if it is
 * not): memory.max = the populated size (region and movers) + 12 MB (a max_ptes_none 511
 * collapse fills holes: limit reclaim in the charging context, khugepaged's included; no
 * memory.high, whose throttling sleeps stalled every thread), and memory.reclaim of 1M
 * every 50 ms (proactive reclaim to swap) while khugepaged collapses; memory.stat
 * pgsteal / pgscan and memory.events high / max are reported.
 */
#ifndef THPRACER_MEMCG_H
#define THPRACER_MEMCG_H

#include <stdbool.h>

/* Create the cgroup, set memory.max, join it; false (why on stderr) if not possible. */
bool memcg_start(void);
/* The reclaimer thread: memory.reclaim until stop. */
void *reclaimer(void *arg);
/* Read the cgroup's counters, leave it and remove it. */
void memcg_stop(void);
/* The report's memcg fields, each after a comma (-1 for counters not read). */
void memcg_json(void);
#endif /* THPRACER_MEMCG_H */
