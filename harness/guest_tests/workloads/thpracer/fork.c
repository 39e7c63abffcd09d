// SPDX-License-Identifier: GPL-2.0
/* thpracer: fork.c - definitions of fork.h */
#define _GNU_SOURCE
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "clock.h"
#include "fork.h"
#include "geom.h"
#include "rng.h"
#include "region.h"
#include "run.h"

struct child_stats {
	atomic_ulong forks, verified, corrupt, cow_writes, paged_out;
};

static struct child_stats *cs;

bool fork_setup(void)
{
	cs = mmap(NULL, sizeof(*cs), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (cs == MAP_FAILED) {
		cs = NULL;
		return false;
	}
	return true;
}

static void child_run(unsigned long pmd)
{
	unsigned long first = pmd * PMD_PAGES, ok = 0, bad = 0, cow = 0, out = 0;

	for (unsigned long p = first; p < first + PMD_PAGES; p++)
		if (populated(p) && split_debugfs)  /* contents stable: no DONTNEED rewrites */
			check(p) ? ok++ : bad++;
	for (unsigned long p = first; p < first + PMD_PAGES; p++)
		if (populated(p) && (p % PMD_PAGES / BLOCK_PAGES) % 2 == 1) {
			fill(p);                    /* the child's own copy (COW) */
			cow++;
		}
	for (unsigned long b = 1; b < BLOCKS; b += 2)
		if (madvise(page_addr(first + b * BLOCK_PAGES), SPARSE * PAGE, MADV_PAGEOUT) == 0)
			out++;
	for (unsigned long p = first; p < first + PMD_PAGES; p++)
		if (populated(p) && (p % PMD_PAGES / BLOCK_PAGES) % 2 == 1)
			check(p) ? ok++ : bad++;    /* swapped in again: the child's values */
	atomic_fetch_add(&cs->verified, ok);
	atomic_fetch_add(&cs->corrupt, bad);
	atomic_fetch_add(&cs->cow_writes, cow);
	atomic_fetch_add(&cs->paged_out, out);
	_exit(bad ? 1 : 0);
}

static void reap(pid_t pid)
{
	double deadline = 0;
	int st;

	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (atomic_load(&stop) && !deadline)
			deadline = now_s() + 30;
		if (deadline && now_s() > deadline) {
			kill(pid, SIGKILL);
			deadline = now_s() + 1e9;
		}
		usleep(1000);
	}
}

void *forker(void *arg)
{
	uint64_t s = o.seed ^ 0xf02c;

	(void)arg;
	while (!atomic_load(&stop)) {
		unsigned long pmd = xorshift64(&s) % o.pmds;
		pid_t pid = fork();

		if (pid == 0)
			child_run(pmd);
		if (pid < 0) {
			usleep(10000);
			continue;
		}
		atomic_fetch_add(&cs->forks, 1);
		for (unsigned long b = 0; b < BLOCKS; b += 2) {  /* COW on the parent's side */
			volatile uint64_t *w = (volatile uint64_t *)page_addr(pmd * PMD_PAGES + b * BLOCK_PAGES);

			w[0] = w[0];
		}
		reap(pid);
		usleep(10000);
	}
	return NULL;
}

bool fork_corrupt(void)
{
	return cs && atomic_load(&cs->corrupt);
}

void fork_json(void)
{
	printf(",\"forks\":%lu,\"child_verified\":%lu,\"child_corrupt\":%lu,\"cow_writes\":%lu,"
	       "\"child_paged_out\":%lu",
	       cs ? atomic_load(&cs->forks) : 0, cs ? atomic_load(&cs->verified) : 0,
	       cs ? atomic_load(&cs->corrupt) : 0, cs ? atomic_load(&cs->cow_writes) : 0,
	       cs ? atomic_load(&cs->paged_out) : 0);
}
