/* SPDX-License-Identifier: GPL-2.0 */
/*
 * migrate.h - thpracer's migration and compaction racers (definitions in migrate.c).
 *
 *   migrate   move_pages(2) of the neighbours of one PMD (every 4th round also of some
 *             collapse-range pages) to the other node, PMD after PMD; every 8th round
 *             mbind(2) MPOL_MF_MOVE of a whole PMD, every 32nd migrate_pages(2) of the
 *             process.
 *   compact   writes /proc/sys/vm/compact_memory every --compact-ms (0: never).
 */
#ifndef THPRACER_MIGRATE_H
#define THPRACER_MIGRATE_H

#include <stdatomic.h>

extern int nodes[2], nnodes;                /* online_nodes(): the two nodes, how many */
extern atomic_ulong moved, move_calls, move_failed, mbind_calls, migrate_calls, compactions;

void *migrator(void *arg);
void *compactor(void *arg);
#endif /* THPRACER_MIGRATE_H */
