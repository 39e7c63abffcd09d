// SPDX-License-Identifier: GPL-2.0
/* thpracer: migrate.c - definitions of migrate.h */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "sysfs.h"
#include "migrate.h"
#include "region.h"
#include "run.h"

#define MPOL_BIND 2
#define MPOL_MF_MOVE (1 << 1)

int nodes[2], nnodes;
atomic_ulong moved, move_calls, move_failed, mbind_calls, migrate_calls, compactions;

/*
 * The neighbours of one PMD (its odd blocks); with `ranges` also every 4th page of the
 * collapse ranges (a migration entry there fails that collapse, so only now and then).
 */
static unsigned long pmd_targets(unsigned long pmd, void **pages, bool ranges)
{
	unsigned long n = 0;

	for (unsigned long i = 0; i < PMD_PAGES; i++) {
		unsigned long page = pmd * PMD_PAGES + i, block = i / BLOCK_PAGES;

		if (populated(page) && (block % 2 == 1 || (ranges && i % 4 == 0)))
			pages[n++] = region + page * PAGE;
	}
	return n;
}

static void move_pmd(unsigned long pmd, int to, bool ranges, void **pages, int *tnodes,
		     int *status)
{
	unsigned long n = pmd_targets(pmd, pages, ranges);

	for (unsigned long i = 0; i < n; i++)
		tnodes[i] = to;
	atomic_fetch_add(&move_calls, 1);
	if (syscall(SYS_move_pages, 0, n, pages, tnodes, status, MPOL_MF_MOVE) < 0) {
		atomic_fetch_add(&move_failed, 1);
		return;
	}
	for (unsigned long i = 0; i < n; i++)
		if (status[i] == to)
			atomic_fetch_add(&moved, 1);
}

static void mbind_pmd(unsigned long pmd, int to)
{
	unsigned long mask = 1UL << to;

	atomic_fetch_add(&mbind_calls, 1);
	syscall(SYS_mbind, region + pmd * PMD_SIZE, PMD_SIZE, MPOL_BIND, &mask, 64, MPOL_MF_MOVE);
}

static void migrate_all(int from, int to)
{
	unsigned long old = 1UL << from, new = 1UL << to;

	atomic_fetch_add(&migrate_calls, 1);
	syscall(SYS_migrate_pages, 0, 64, &old, &new);
}

void *migrator(void *arg)
{
	void **pages = calloc(PMD_PAGES, sizeof(*pages));
	int *tnodes = calloc(PMD_PAGES, sizeof(int)), *status = calloc(PMD_PAGES, sizeof(int));
	unsigned long round = 0;

	(void)arg;
	while (!atomic_load(&stop)) {
		unsigned long pmd = round % o.pmds;
		int to = nodes[(round / o.pmds) % 2];  /* each pass flips every target */

		if (round % 32 == 31)
			migrate_all(nodes[to == nodes[0]], to);
		else if (round % 8 == 7)
			mbind_pmd(pmd, to);
		else
			move_pmd(pmd, to, round % 4 == 3, pages, tnodes, status);
		round++;
	}
	free(pages);
	free(tnodes);
	free(status);
	return NULL;
}

void *compactor(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		if (write_text("/proc/sys/vm/compact_memory", "1"))
			atomic_fetch_add(&compactions, 1);
		usleep(o.compact_ms * 1000);
	}
	return NULL;
}
