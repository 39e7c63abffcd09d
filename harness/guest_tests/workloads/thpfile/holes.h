/* SPDX-License-Identifier: GPL-2.0 */
/*
 * holes.h - thpfile's hole punching and truncation (definitions in holes.c).
 *
 *   punch     fallocate(PUNCH_HOLE) of 1..16 pages (every other time an aligned 64K
 *             block, so a refill fault may allocate a 64K shmem folio), reads them back
 *             as zeros through the other mapping (a pte a collapse hid from the punch's
 *             unmap would still show the old page) and through pread, refills half.
 *   truncate  ftruncate into the last two PMDs and back, every 20 ms: the pages below the
 *             cut must survive, those above read zero; refills half of them.
 */
#ifndef THPFILE_HOLES_H
#define THPFILE_HOLES_H

#include <stdatomic.h>

extern atomic_ulong punches, punched_pages, refills, truncations, truncated_pages;

void *puncher(void *arg);
void *truncator(void *arg);
#endif /* THPFILE_HOLES_H */
