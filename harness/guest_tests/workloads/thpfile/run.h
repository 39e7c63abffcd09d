/* SPDX-License-Identifier: GPL-2.0 */
/*
 * run.h - thpfile's run: the command line, the stop flag every thread polls and the
 * kernel-log lines --no-kmsg silences (definitions in run.c).
 */
#ifndef THPFILE_RUN_H
#define THPFILE_RUN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct opts {
	double seconds;
	unsigned long pmds;
	uint64_t seed;
	bool tmpfs, no_collapse, no_punch, no_truncate, no_migrate, inject, no_kmsg;
};

extern struct opts o;           /* --seconds 10 --pmds 8 --seed 1 */
extern atomic_bool stop;        /* set once --seconds are over: every racer returns */

/* Parse argv into o; usage on stderr and exit 2 on anything else. */
void parse_options(int argc, char **argv);
/* kmsg(msg), unless --no-kmsg (runs on a host). */
void note(const char *msg);
#endif /* THPFILE_RUN_H */
