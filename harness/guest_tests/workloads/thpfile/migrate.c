// SPDX-License-Identifier: GPL-2.0
/* thpfile: migrate.c - definitions of migrate.h */
#define _GNU_SOURCE
#include <sys/syscall.h>
#include <unistd.h>
#include "rng.h"
#include "file.h"
#include "migrate.h"
#include "run.h"

#define MPOL_MF_MOVE_ALL (1 << 2)

int nodes[2], nnodes;
atomic_ulong moved, move_calls;

void *migrator(void *arg)
{
	void *pages[PMD_PAGES / 8];
	int to[PMD_PAGES / 8], status[PMD_PAGES / 8];
	uint64_t s = o.seed ^ 0x3e;

	(void)arg;
	for (unsigned long round = 0; !atomic_load(&stop); round++) {
		unsigned long pmd = xorshift64(&s) % o.pmds, n = PMD_PAGES / 8;

		for (unsigned long i = 0; i < n; i++) {
			pages[i] = file_map[round % 2] + pmd * PMD_SIZE + i * 8 * PAGE;
			to[i] = nodes[round / o.pmds % 2];
		}
		atomic_fetch_add(&move_calls, 1);
		if (syscall(SYS_move_pages, 0, n, pages, to, status, MPOL_MF_MOVE_ALL) == 0)
			for (unsigned long i = 0; i < n; i++)
				if (status[i] == to[i])
					atomic_fetch_add(&moved, 1);
		usleep(1000);
	}
	return NULL;
}
