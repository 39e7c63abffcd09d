// SPDX-License-Identifier: GPL-2.0
/* thpracer: region.c - definitions of region.h */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include "geom.h"
#include "pageflags.h"
#include "split.h"
#include "mremap.h"
#include "region.h"
#include "run.h"

unsigned long page_bytes, pmd_pages;
char *region;
char *mover_at[MOVERS];
int pagemap_fd = -1, kpf_fd = -1;
bool split_debugfs;
atomic_ulong collapsed_seen, resplit, verified, corrupt, touched, sweeps;

static uint8_t *gen;                        /* per page: generation of its contents */
static bool *blk_large;                     /* per 64K block: large at the last sweep */

void region_geometry(void)
{
	page_bytes = page_size();
	pmd_pages = pmd_size() / page_bytes;    /* without THP: 8-byte ptes per table */
}

char *page_addr(unsigned long page)
{
	unsigned long pmd = page / PMD_PAGES;

	if (pmd < o.pmds)
		return region + page * PAGE;
	return mover_at[pmd - o.pmds] + (page % PMD_PAGES) * PAGE;
}

bool populated(unsigned long page)          /* page index within the region */
{
	unsigned long in_pmd = page % PMD_PAGES, block = in_pmd / BLOCK_PAGES;

	return block % 2 == 0 || in_pmd % BLOCK_PAGES < SPARSE;
}

static uint64_t stamp(unsigned long page, unsigned int g, unsigned long word)
{
	/* --ksm: a neighbour page's contents do not depend on its PMD, so KSM merges them */
	if (o.ksm && (page % PMD_PAGES / BLOCK_PAGES) % 2 == 1 && g == 1)
		page %= PMD_PAGES;
	return (o.seed * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)page << 20) ^ ((uint64_t)g << 12) ^ word;
}

void fill(unsigned long page)
{
	uint64_t *w = (uint64_t *)page_addr(page);

	gen[page]++;
	for (unsigned long i = 0; i < PAGE / 8; i += 8)
		w[i] = stamp(page, gen[page], i);
}

/* A finding is reported with write(2) (no stdio lock: the --fork children check pages too). */
bool check(unsigned long page)
{
	volatile uint64_t *w = (volatile uint64_t *)page_addr(page);

	for (unsigned long i = 0; i < PAGE / 8; i += 8) {
		uint64_t want = stamp(page, gen[page], i), got = w[i];

		if (got != want) {
			char msg[160];
			int n = snprintf(msg, sizeof(msg), "thpracer: FINDING page %lu (%p) pid %d word %lu: "
					 "%#llx, want %#llx\n", page, (void *)w, (int)getpid(), i,
					 (unsigned long long)got, (unsigned long long)want);

			if (write(2, msg, n) < 0)
				n = 0;
			atomic_fetch_add(&corrupt, 1);
			return false;
		}
	}
	atomic_fetch_add(&verified, 1);
	return true;
}

/* A large folio (collapsed) backs this page: pagemap PFN + kpageflags. */
static bool large(unsigned long page)
{
	return va_kpageflags(pagemap_fd, kpf_fd, page_addr(page), PAGE) &
	       (KPF_HEAD | KPF_TAIL | KPF_THP_BIT);
}

static void split_range(unsigned long first, unsigned long pages)
{
	if (split_debugfs && split_huge_range(getpid(), page_addr(first),
					      page_addr(first + pages - 1) + PAGE, -1))
		return;
	/* fallback: drop one page of the folio and write it again (a new small page) */
	madvise(page_addr(first + pages - 1), PAGE, MADV_DONTNEED);
	gen[first + pages - 1] = 0;
	fill(first + pages - 1);
}

bool sweep_block(unsigned long first)
{
	unsigned long n = 0;
	bool seen;

	for (unsigned long p = first; p < first + BLOCK_PAGES; p++)
		if (populated(p)) {
			check(p);
			n++;
		}
	atomic_fetch_add(&touched, n);
	if (!populated(first + BLOCK_PAGES - 1))
		return false;               /* a neighbour block: never collapsed to mTHP */
	bool now_large = large(first), *was = &blk_large[first / BLOCK_PAGES];

	seen = now_large && !*was;          /* small -> large: khugepaged collapsed it */
	if (seen)
		atomic_fetch_add(&collapsed_seen, 1);
	if (now_large && (split_debugfs || !*was)) {
		split_range(first, BLOCK_PAGES);
		atomic_fetch_add(&resplit, 1);
	}
	/* a debugfs split leaves small pages; MADV_DONTNEED leaves the folio partly mapped */
	*was = now_large && !split_debugfs;
	return seen;
}

void *mutator(void *arg)
{
	unsigned long total = o.pmds * PMD_PAGES;

	(void)arg;
	while (!atomic_load(&stop)) {
		for (unsigned long b = 0; b < total && !atomic_load(&stop); b += BLOCK_PAGES)
			sweep_block(b);
		atomic_fetch_add(&sweeps, 1);
	}
	return NULL;
}

void region_setup(void)
{
	size_t len = o.pmds * PMD_SIZE;
	char *raw = mmap(NULL, len + PMD_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (raw == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	region = align_up(raw, PMD_SIZE);
	gen = calloc((o.pmds + MOVERS) * PMD_PAGES, 1);
	blk_large = calloc((o.pmds + MOVERS) * BLOCKS, sizeof(bool));
	madvise(region, len, MADV_NOHUGEPAGE);          /* small pages while populating */
	for (unsigned long p = 0; p < o.pmds * PMD_PAGES; p++)
		if (populated(p))
			fill(p);
	madvise(region, len, MADV_HUGEPAGE);            /* now khugepaged may take it */
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
	kpf_fd = open("/proc/kpageflags", O_RDONLY);
	split_debugfs = split_available();
	if (o.mremap)
		movers_setup();
}

void region_final_check(void)
{
	for (unsigned long p = 0; p < o.pmds * PMD_PAGES; p++)
		if (populated(p))
			check(p);
}
