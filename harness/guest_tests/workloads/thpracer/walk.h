/* SPDX-License-Identifier: GPL-2.0 */
/*
 * walk.h - thpracer's other walkers of the region (definitions in walk.c).
 *
 *   pageout   (--pageout) MADV_COLD / MADV_PAGEOUT of neighbour pages (reclaim's rmap
 *             walk, try_to_unmap; swap ptes next to the collapsing ranges).
 *   walkers   (--walkers) /proc/self/smaps and pagemap readers and process_vm_readv
 *             or vmsplice (GUP) of a PMD's neighbours, every millisecond.
 *   idle      (--idle) marks the region's PFNs idle through /sys/kernel/mm/page_idle/
 *             bitmap and reads it back (an rmap walk started from user space).
 */
#ifndef THPRACER_WALK_H
#define THPRACER_WALK_H

#include <stdatomic.h>

extern atomic_ulong paged_out, idle_rounds, walks, gup_bytes;

void *pager(void *arg);
void *walker(void *arg);
void *idler(void *arg);
#endif /* THPRACER_WALK_H */
