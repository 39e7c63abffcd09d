/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mremap.h - thpracer's mremap racer, --mremap (definitions in mremap.c).
 *
 * MOVERS PMDs of their own (the region's pattern) moved whole by mremap() between
 * PMD-aligned slots (move_page_tables moves the PMD entry: the page table, or the huge
 * PMD) every 2 ms; before each move the mover verifies the PMD, counts its blocks found
 * collapsed (mremap_collapsed_seen), re-splits them.
 */
#ifndef THPRACER_MREMAP_H
#define THPRACER_MREMAP_H

/* Map and populate the mover PMDs (region.h's mover_at); exit 2 if they cannot be. */
void movers_setup(void);
/* The mover thread: sweep and move one mover PMD per round until stop. */
void *mover(void *arg);
/* check() every populated page of the movers. */
void movers_final_check(void);
/* The report's mremap fields, each after a comma (zeros without --mremap). */
void mremap_json(void);
#endif /* THPRACER_MREMAP_H */
