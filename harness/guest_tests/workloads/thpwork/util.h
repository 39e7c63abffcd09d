/* SPDX-License-Identifier: GPL-2.0 */
/*
 * util.h - shared helpers of thpwork (definitions in util.c). The image builder
 * compiles every .c of this folder, with the shared ../lib/ (-I lib), into one static
 * binary, thpwork.
 *
 * JSON writer, number/size parsing, range lists, folio orders and the population
 * pattern language (mirrored in harness/guest/pattern.py). The clock, the PRNG,
 * sysfs access and the page/PMD geometry are lib/'s (included here for every part).
 */
#ifndef THPWORK_UTIL_H
#define THPWORK_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include "clock.h"
#include "geom.h"
#include "rng.h"
#include "sysfs.h"

/* Exit codes, shared with harness/workloads.py. */
#define EXIT_OK       0
#define EXIT_FINDING  1   /* data corruption or another kernel misbehaviour */
#define EXIT_USAGE    2
#define EXIT_ENV      3   /* missing kernel feature / permission */
#define EXIT_TIMEOUT  4
#define EXIT_GONE     5   /* the watched process exited */

/* ---------------------------------------------------------------- JSON */

struct jw {
	FILE *f;
	int depth;
	bool comma[16];
};

void jw_strlit(FILE *f, const char *s);
void jw_key(struct jw *w, const char *k);
void jw_open(struct jw *w, const char *k, char c);
void jw_close(struct jw *w, char c);
void jw_begin(struct jw *w, FILE *f, const char *event);
void jw_end(struct jw *w);
void jw_int(struct jw *w, const char *k, long long v);
void jw_u64(struct jw *w, const char *k, uint64_t v);
void jw_dbl(struct jw *w, const char *k, double v);
void jw_bool(struct jw *w, const char *k, bool v);
void jw_str(struct jw *w, const char *k, const char *v);
void jw_hist(struct jw *w, const char *k, const uint64_t *counts, int n);
int emit_error(FILE *out, int code, const char *fmt, ...);
/* ------------------------------------------------------------ numbers */

bool parse_bytes(const char *s, size_t pmd_size, size_t *out);
bool parse_long(const char *s, long *out);
/* ------------------------------------------------------------- orders */

int order_of(size_t pages);
/* --------------------------------------------------------- range lists */

#define MAX_RANGES 64

struct ranges {
	int n;
	long lo[MAX_RANGES], hi[MAX_RANGES];   /* inclusive */
};

bool parse_ranges(const char *s, struct ranges *r);
bool in_ranges(const struct ranges *r, long v);
/* ------------------------------------------------------------ patterns */
/*
 * Pattern language (per PMD-sized block of the region; pte = page index
 * inside the block, ptes = pages per PMD):
 *   full | none | half
 *   first:A | last:A             A = amount: N pages, N% of a PMD, or N{K,M,G} bytes
 *   every:K[:OFF]                pte >= OFF and (pte - OFF) % K == 0
 *   ptes:RANGES                  e.g. ptes:0-15,32,100-199
 *   chunks:SIZE:RANGES           chunk index in RANGES; SIZE = amount ("16" pages, "64K")
 *   random:PCT[:SEED]            each pte with probability PCT% (splitmix64)
 * Atoms joined with '+' are a union; groups separated by '|' cycle over PMDs
 * (PMD i uses group i % ngroups).
 */

enum pat_kind { P_FULL, P_NONE, P_HALF, P_FIRST, P_LAST, P_EVERY, P_PTES,
		P_CHUNKS, P_RANDOM };

struct pat_atom {
	enum pat_kind kind;
	long a, b;              /* first/last: a; every: a=K b=OFF; chunks: a=pages */
	uint64_t ppm, seed;     /* random */
	struct ranges r;
};

#define MAX_ATOMS 8
#define MAX_GROUPS 8

struct pattern {
	int ngroups;
	int natoms[MAX_GROUPS];
	struct pat_atom atoms[MAX_GROUPS][MAX_ATOMS];
};

bool parse_amount(const char *s, size_t ps, size_t ptes, long *out);
bool parse_ppm(const char *s, uint64_t *ppm);
bool parse_atom(char *s, size_t ps, size_t ptes, struct pat_atom *a);
bool parse_pattern(const char *spec, size_t ps, size_t ptes, struct pattern *p);
bool atom_hit(const struct pat_atom *a, long pmd, long pte, long ptes);
bool pattern_hit(const struct pattern *p, long pmd, long pte, long ptes);
#endif /* THPWORK_UTIL_H */
