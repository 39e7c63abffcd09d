// SPDX-License-Identifier: GPL-2.0
/* thpfile: collapse.c - definitions of collapse.h */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include "geom.h"
#include "pageflags.h"
#include "rng.h"
#include "split.h"
#include "collapse.h"
#include "file.h"
#include "run.h"

atomic_ulong collapsed_seen, resplit, sweeps;
atomic_ulong collapse_calls, collapse_ok, collapse_again, collapse_other;

static int kpf_fd = -1, pagemap_fd = -1;
static bool *pmd_large;
static bool split_debugfs;

void collapse_setup(void)
{
	pmd_large = calloc(o.pmds, sizeof(bool));
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
	kpf_fd = open("/proc/kpageflags", O_RDONLY);
	split_debugfs = split_available();
}

static uint64_t kpageflags(unsigned long page, int m)
{
	return va_kpageflags(pagemap_fd, kpf_fd, file_map[m] + page * PAGE, PAGE);
}

/* A PMD-order folio backs the PMD: folios are index-aligned, so page 0 a head and page
 * 256 a tail means one folio of order >= 9 (both just read through mapping m). */
static bool pmd_folio(unsigned long pmd, int m)
{
	unsigned long first = pmd * PMD_PAGES;

	return (kpageflags(first, m) & KPF_HEAD) && (kpageflags(first + PMD_PAGES / 2, m) & KPF_TAIL);
}

static void split_pmd(unsigned long pmd)
{
	if (split_huge_range(getpid(), file_map[0] + pmd * PMD_SIZE,
			     file_map[0] + (pmd + 1) * PMD_SIZE, -1))
		atomic_fetch_add(&resplit, 1);
}

void *mutator(void *arg)
{
	uint64_t s = o.seed ^ 0x5eed;

	(void)arg;
	for (unsigned long sweep = 0; !atomic_load(&stop); sweep++) {
		for (unsigned long pmd = 0; pmd < o.pmds && !atomic_load(&stop); pmd++) {
			unsigned long first = pmd * PMD_PAGES;

			pthread_mutex_lock(&pmd_lock[pmd]);
			for (unsigned long p = first; p < first + PMD_PAGES; p++)
				check(p, (p + sweep) % 2);
			if (pmd_folio(pmd, sweep % 2)) {
				if (!pmd_large[pmd])
					atomic_fetch_add(&collapsed_seen, 1);
				pmd_large[pmd] = true;
				if (split_debugfs && sweep % 2)
					split_pmd(pmd);
			} else {
				pmd_large[pmd] = false;
			}
			fill(first + xorshift64(&s) % PMD_PAGES);
			pthread_mutex_unlock(&pmd_lock[pmd]);
		}
		atomic_fetch_add(&sweeps, 1);
	}
	return NULL;
}

void *collapser(void *arg)
{
	uint64_t s = o.seed ^ 0xc0;

	(void)arg;
	while (!atomic_load(&stop)) {
		unsigned long pmd = xorshift64(&s) % o.pmds;

		atomic_fetch_add(&collapse_calls, 1);
		if (madvise(file_map[xorshift64(&s) % 2] + pmd * PMD_SIZE, PMD_SIZE, MADV_COLLAPSE) == 0)
			atomic_fetch_add(&collapse_ok, 1);
		else if (errno == EAGAIN)
			atomic_fetch_add(&collapse_again, 1);
		else
			atomic_fetch_add(&collapse_other, 1);
		usleep(2000);
	}
	return NULL;
}
