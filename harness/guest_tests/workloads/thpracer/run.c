// SPDX-License-Identifier: GPL-2.0
/* thpracer: run.c - definitions of run.h */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include "run.h"

struct opts o = { .seconds = 10, .pmds = 16, .compact_ms = 1000, .seed = 1, .ksm_warmup = 60 };
atomic_bool stop;

static void usage(void)
{
	fprintf(stderr, "usage: thpracer [--seconds S] [--pmds N] [--seed N] [--compact-ms MS]\n"
		"                [--pageout] [--idle] [--uffd] [--ksm] [--walkers] [--no-migrate]\n"
		"                [--fork] [--mremap] [--memcg] [--ksm-warmup S]\n");
	exit(2);
}

void parse_options(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seconds", 1, 0, 's' }, { "pmds", 1, 0, 'p' }, { "seed", 1, 0, 'S' },
		{ "compact-ms", 1, 0, 'c' }, { "pageout", 0, 0, 'o' }, { "idle", 0, 0, 'i' },
		{ "no-migrate", 0, 0, 'n' }, { "uffd", 0, 0, 'u' },
		{ "ksm", 0, 0, 'k' }, { "walkers", 0, 0, 'w' }, { "fork", 0, 0, 'f' },
		{ "mremap", 0, 0, 'm' }, { "memcg", 0, 0, 'g' }, { "ksm-warmup", 1, 0, 'K' },
		{ 0, 0, 0, 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': o.seconds = atof(optarg); break;
		case 'p': o.pmds = strtoul(optarg, NULL, 0); break;
		case 'S': o.seed = strtoull(optarg, NULL, 0) | 1; break;
		case 'c': o.compact_ms = strtoul(optarg, NULL, 0); break;
		case 'o': o.pageout = true; break;
		case 'i': o.idle = true; break;
		case 'n': o.no_migrate = true; break;
		case 'u': o.uffd = true; break;
		case 'k': o.ksm = true; break;
		case 'K': o.ksm_warmup = atof(optarg); break;
		case 'w': o.walkers = true; break;
		case 'f': o.fork = true; break;
		case 'm': o.mremap = true; break;
		case 'g': o.memcg = true; break;
		default: usage();
		}
	}
	if (o.pmds == 0 || o.seconds <= 0 || o.ksm_warmup < 0)
		usage();
}
