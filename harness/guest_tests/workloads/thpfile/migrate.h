/* SPDX-License-Identifier: GPL-2.0 */
/*
 * migrate.h - thpfile's migration racer (definitions in migrate.c): move_pages
 * (MPOL_MF_MOVE_ALL) of every 8th page of a PMD to the other NUMA node (rmap walks over
 * both VMAs), when the guest has two nodes.
 */
#ifndef THPFILE_MIGRATE_H
#define THPFILE_MIGRATE_H

#include <stdatomic.h>

extern int nodes[2], nnodes;                /* online_nodes(): the two nodes, how many */
extern atomic_ulong moved, move_calls;

void *migrator(void *arg);
#endif /* THPFILE_MIGRATE_H */
