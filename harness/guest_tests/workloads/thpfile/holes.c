// SPDX-License-Identifier: GPL-2.0
/* thpfile: holes.c - definitions of holes.h */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "rng.h"
#include "file.h"
#include "holes.h"
#include "run.h"

atomic_ulong punches, punched_pages, refills, truncations, truncated_pages;

/* Pages [first, first + n) were punched or truncated: zeros through the other mapping
 * (a stale pte would show the old page) and through pread; refill them half the time. */
static void after_hole(unsigned long first, unsigned long n, uint64_t *s)
{
	for (unsigned long p = first; p < first + n; p++)
		gen[p] = 0;
	check(first, 1);
	for (unsigned long p = first; p < first + n; p++)
		check_pread(p);
	if (xorshift64(s) % 2)
		for (unsigned long p = first; p < first + n; p++) {
			fill(p);
			atomic_fetch_add(&refills, 1);
		}
}

void *puncher(void *arg)
{
	uint64_t s = o.seed ^ 0x9c;

	(void)arg;
	for (unsigned long round = 0; !atomic_load(&stop); round++) {
		unsigned long pmd = xorshift64(&s) % o.pmds, first, n;

		if (round % 2) {                    /* an aligned 64K block */
			first = pmd * PMD_PAGES + (xorshift64(&s) % (PMD_PAGES / BLOCK_PAGES)) * BLOCK_PAGES;
			n = BLOCK_PAGES;
		} else {
			n = 1 + xorshift64(&s) % BLOCK_PAGES;
			first = pmd * PMD_PAGES + xorshift64(&s) % (PMD_PAGES - n);
		}
		pthread_mutex_lock(&pmd_lock[pmd]);
		if (fallocate(file_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, first * PAGE,
			      n * PAGE) == 0) {
			atomic_fetch_add(&punches, 1);
			atomic_fetch_add(&punched_pages, n);
			after_hole(first, n, &s);
		}
		pthread_mutex_unlock(&pmd_lock[pmd]);
		usleep(1000);
	}
	return NULL;
}

void *truncator(void *arg)
{
	uint64_t s = o.seed ^ 0x7c;
	unsigned long tail = o.pmds >= 2 ? o.pmds - 2 : 0, end = o.pmds * PMD_PAGES;

	(void)arg;
	while (!atomic_load(&stop)) {
		unsigned long cut = tail * PMD_PAGES + 1 + xorshift64(&s) % (end - tail * PMD_PAGES - 1);

		for (unsigned long pmd = tail; pmd < o.pmds; pmd++)
			pthread_mutex_lock(&pmd_lock[pmd]);
		if (ftruncate(file_fd, cut * PAGE) == 0) {
			for (unsigned long p = tail * PMD_PAGES; p < cut; p++)
				check(p, p % 2);
			if (ftruncate(file_fd, end * PAGE)) {
				perror("thpfile: ftruncate back");
				exit(2);
			}
			atomic_fetch_add(&truncations, 1);
			atomic_fetch_add(&truncated_pages, end - cut);
			after_hole(cut, end - cut, &s);
		}
		for (unsigned long pmd = o.pmds; pmd-- > tail;)
			pthread_mutex_unlock(&pmd_lock[pmd]);
		usleep(20000);
	}
	return NULL;
}
