/* SPDX-License-Identifier: GPL-2.0 */
/*
 * collapse.h - thpfile's collapse side (definitions in collapse.c).
 *
 *   mutator   sweeps the PMDs, alternating the two mappings: verifies every page (a page
 *             holds its stamp, or zeros after a punch: anything else is a finding), counts
 *             the PMDs found collapsed (page 0 a compound head and page 256 a tail in
 *             /proc/kpageflags: a PMD-order folio) and re-splits them (debugfs
 *             split_huge_pages) so the collapses go on; rewrites one page per PMD.
 *   collapse  MADV_COLLAPSE of a random PMD through either mapping, every 2 ms.
 */
#ifndef THPFILE_COLLAPSE_H
#define THPFILE_COLLAPSE_H

#include <stdatomic.h>

extern atomic_ulong collapsed_seen, resplit, sweeps;
extern atomic_ulong collapse_calls, collapse_ok, collapse_again, collapse_other;

/* Open pagemap and kpageflags, look for debugfs split_huge_pages (after file_setup()). */
void collapse_setup(void);
void *mutator(void *arg);
void *collapser(void *arg);
#endif /* THPFILE_COLLAPSE_H */
