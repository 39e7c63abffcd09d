/* SPDX-License-Identifier: GPL-2.0 */
/*
 * run.h - thpracer's run: the command line and the stop flag every thread polls
 * (definitions in run.c).
 */
#ifndef THPRACER_RUN_H
#define THPRACER_RUN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct opts {
	double seconds, ksm_warmup;
	unsigned long pmds, compact_ms;
	uint64_t seed;
	bool pageout, idle, no_migrate, uffd, ksm, walkers, fork, mremap, memcg;
};

extern struct opts o;           /* --seconds 10 --pmds 16 --compact-ms 1000 --seed 1
				   --ksm-warmup 60 */
extern atomic_bool stop;        /* set once --seconds are over: every racer returns */

/* Parse argv into o; usage on stderr and exit 2 on anything else. */
void parse_options(int argc, char **argv);
#endif /* THPRACER_RUN_H */
