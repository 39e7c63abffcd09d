/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fork.h - thpracer's fork/COW racer, --fork (definitions in fork.c).
 *
 * Every 10 ms a child is forked (copy_page_range under the collapse) that verifies one
 * PMD's pages, writes its neighbours (COW), MADV_PAGEOUTs them (its exclusive copies:
 * reclaim's try_to_unmap over the shared anon_vma tree) and verifies them again after
 * swap-in; the parent writes the PMD's collapse ranges (same values: COW on its side)
 * while the child shares them. Counters in a MAP_SHARED page (forks, child_verified,
 * cow_writes, child_paged_out).
 */
#ifndef THPRACER_FORK_H
#define THPRACER_FORK_H

#include <stdbool.h>

/* Map the shared counters; false if that fails. */
bool fork_setup(void);
/* The forker thread: a child per round until stop. */
void *forker(void *arg);
/* A child found a changed page. */
bool fork_corrupt(void);
/* The report's fork fields, each after a comma (zeros without --fork). */
void fork_json(void);
#endif /* THPRACER_FORK_H */
