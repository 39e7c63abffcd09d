// SPDX-License-Identifier: GPL-2.0
/* thpracer: mremap.c - definitions of mremap.h */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include "geom.h"
#include "mremap.h"
#include "region.h"
#include "run.h"

static char *mover_area;
static unsigned long mover_slot[MOVERS];
static atomic_ulong mremaps, mremap_failed, mremap_collapsed_seen;

void movers_setup(void)
{
	char *raw = mmap(NULL, (2 * MOVERS + 1) * PMD_SIZE, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (raw == MAP_FAILED) {
		perror("thpracer: mmap movers");
		exit(2);
	}
	mover_area = align_up(raw, PMD_SIZE);
	for (unsigned long i = 0; i < MOVERS; i++) {
		char *at = mover_area + i * PMD_SIZE;

		if (mmap(at, PMD_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
			 -1, 0) != at) {
			perror("thpracer: mmap mover");
			exit(2);
		}
		mover_at[i] = at;
		mover_slot[i] = i;
		madvise(at, PMD_SIZE, MADV_NOHUGEPAGE);
		for (unsigned long p = (o.pmds + i) * PMD_PAGES; p < (o.pmds + i + 1) * PMD_PAGES; p++)
			if (populated(p))
				fill(p);
		madvise(at, PMD_SIZE, MADV_HUGEPAGE);
	}
}

void *mover(void *arg)
{
	(void)arg;
	for (unsigned long round = 0; !atomic_load(&stop); round++) {
		unsigned long i = round % MOVERS, first = (o.pmds + i) * PMD_PAGES;
		unsigned long to = mover_slot[i] < MOVERS ? mover_slot[i] + MOVERS : mover_slot[i] - MOVERS;
		char *old = mover_at[i], *new = mover_area + to * PMD_SIZE;

		for (unsigned long b = 0; b < BLOCKS; b++)
			if (sweep_block(first + b * BLOCK_PAGES))
				atomic_fetch_add(&mremap_collapsed_seen, 1);
		if (mremap(old, PMD_SIZE, PMD_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, new) != new) {
			atomic_fetch_add(&mremap_failed, 1);
			usleep(2000);
			continue;
		}
		mover_at[i] = new;
		mover_slot[i] = to;
		atomic_fetch_add(&mremaps, 1);
		/* keep the slot reserved for the way back */
		mmap(old, PMD_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
		usleep(2000);
	}
	return NULL;
}

void movers_final_check(void)
{
	for (unsigned long p = o.pmds * PMD_PAGES; p < (o.pmds + MOVERS) * PMD_PAGES; p++)
		if (populated(p))
			check(p);
}

void mremap_json(void)
{
	printf(",\"mremaps\":%lu,\"mremap_failed\":%lu,\"mremap_collapsed_seen\":%lu",
	       atomic_load(&mremaps), atomic_load(&mremap_failed),
	       atomic_load(&mremap_collapsed_seen));
}
