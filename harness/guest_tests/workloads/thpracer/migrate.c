// SPDX-License-Identifier: GPL-2.0
/* thpracer: migrate.c - definitions of migrate.h */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "sysfs.h"
#include "ksm.h"
#include "migrate.h"
#include "region.h"
#include "run.h"

#define MPOL_BIND 2
#define MPOL_MF_MOVE (1 << 1)
#define MPOL_MF_MOVE_ALL (1 << 2)

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

#define KSM_SAMPLE 4

/*
 * --ksm: up to KSM_SAMPLE of the pages about to move (spread over the list, a different
 * set each call) that are KSM pages now, with their node; after the move, those on `to`
 * that were elsewhere and are still KSM pages are KSM pages migrated (ksm_moved).
 */
static unsigned long ksm_pick(void **pages, unsigned long n, void **pick, int *node)
{
	static atomic_ulong turn;
	unsigned long k = 0, step = n / KSM_SAMPLE, off;

	if (!o.ksm || step == 0)
		return 0;
	off = atomic_fetch_add(&turn, 1) % step;
	for (unsigned long j = 0; j < KSM_SAMPLE; j++)
		if (ksm_page(pages[j * step + off]))
			pick[k++] = pages[j * step + off];
	if (k && syscall(SYS_move_pages, 0, k, pick, NULL, node, 0) < 0)
		return 0;
	atomic_fetch_add(&ksm_sampled, k);
	return k;
}

static void ksm_count(void **pick, const int *node, unsigned long k, int to)
{
	int now[KSM_SAMPLE];

	if (!k || syscall(SYS_move_pages, 0, k, pick, NULL, now, 0) < 0)
		return;
	for (unsigned long j = 0; j < k; j++)
		if (node[j] >= 0 && node[j] != to && now[j] == to && ksm_page(pick[j]))
			atomic_fetch_add(&ksm_moved, 1);
}

static void move_pmd(unsigned long pmd, int to, bool ranges, void **pages, int *tnodes,
		     int *status)
{
	unsigned long n = pmd_targets(pmd, pages, ranges), k;
	void *pick[KSM_SAMPLE];
	int node[KSM_SAMPLE];

	for (unsigned long i = 0; i < n; i++)
		tnodes[i] = to;
	k = ksm_pick(pages, n, pick, node);
	atomic_fetch_add(&move_calls, 1);
	/* a KSM page is mapped by every page merged into it: move_pages() leaves such shared
	 * pages alone (-EACCES) unless MPOL_MF_MOVE_ALL (CAP_SYS_NICE; the racer runs as root) */
	if (syscall(SYS_move_pages, 0, n, pages, tnodes, status,
		    o.ksm ? MPOL_MF_MOVE_ALL : MPOL_MF_MOVE) < 0) {
		atomic_fetch_add(&move_failed, 1);
		return;
	}
	for (unsigned long i = 0; i < n; i++)
		if (status[i] == to)
			atomic_fetch_add(&moved, 1);
	ksm_count(pick, node, k, to);
}

static void mbind_pmd(unsigned long pmd, int to)
{
	unsigned long mask = 1UL << to;

	atomic_fetch_add(&mbind_calls, 1);
	syscall(SYS_mbind, region + pmd * PMD_SIZE, PMD_SIZE, MPOL_BIND, &mask, 64,
		o.ksm ? MPOL_MF_MOVE_ALL : MPOL_MF_MOVE);
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
