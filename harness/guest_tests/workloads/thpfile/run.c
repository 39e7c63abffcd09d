// SPDX-License-Identifier: GPL-2.0
/* thpfile: run.c - definitions of run.h */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include "kmsg.h"
#include "run.h"

struct opts o = { .seconds = 10, .pmds = 8, .seed = 1 };
atomic_bool stop;

static void usage(void)
{
	fprintf(stderr, "usage: thpfile [--seconds S] [--pmds N] [--seed N] [--tmpfs] [--no-collapse]\n"
		"               [--no-punch] [--no-truncate] [--no-migrate] [--inject-corruption]\n"
		"               [--no-kmsg]\n");
	exit(2);
}

void parse_options(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seconds", 1, 0, 's' }, { "pmds", 1, 0, 'p' }, { "seed", 1, 0, 'S' },
		{ "tmpfs", 0, 0, 't' }, { "no-collapse", 0, 0, 'c' }, { "no-punch", 0, 0, 'h' },
		{ "no-truncate", 0, 0, 'T' }, { "no-migrate", 0, 0, 'm' },
		{ "inject-corruption", 0, 0, 'I' }, { "no-kmsg", 0, 0, 'K' }, { 0, 0, 0, 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': o.seconds = atof(optarg); break;
		case 'p': o.pmds = strtoul(optarg, NULL, 0); break;
		case 'S': o.seed = strtoull(optarg, NULL, 0) | 1; break;
		case 't': o.tmpfs = true; break;
		case 'c': o.no_collapse = true; break;
		case 'h': o.no_punch = true; break;
		case 'T': o.no_truncate = true; break;
		case 'm': o.no_migrate = true; break;
		case 'I': o.inject = true; break;
		case 'K': o.no_kmsg = true; break;
		default: usage();
		}
	}
	if (o.pmds < 2 || o.seconds <= 0)
		usage();
}

void note(const char *msg)
{
	if (!o.no_kmsg)
		kmsg(msg);
}
