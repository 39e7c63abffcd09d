/* SPDX-License-Identifier: GPL-2.0 */
/*
 * region.h - the workload region and the operations on it (definitions in
 * region.c). Every operation writes one JSON event to `out` and returns an exit
 * code (EXIT_*).
 *
 * The region is PMD-aligned, its length rounded up to whole PMDs. Page i belongs to
 * block i / ptes (ptes = pages per PMD) at pte index i % ptes; patterns and --pmds
 * selections are relative to the region start (also after `shift`).
 * Written pages carry a tag (u32 at offset 0, its complement in the last u32) so
 * `verify` can check that collapse/swap/migration preserved the data.
 */
#ifndef THPWORK_REGION_H
#define THPWORK_REGION_H

#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include "util.h"
#include "census.h"

enum { ST_NONE, ST_WRITTEN, ST_READ };

struct region {
	char *addr;
	size_t len, ps, pmd, ptes, npages;
	unsigned char *state;       /* ST_* per page */
	uint64_t seed;
	pid_t child;                /* fork-share child, 0 if none */
};

struct sel {                        /* a page selection: pattern + PMD ranges */
	struct pattern pat;
	struct ranges pmds;
	bool all_pmds;
};

uint32_t page_tag(const struct region *r, size_t i);
bool sel_parse(const struct region *r, const char *pattern, const char *pmds,
		      struct sel *s);
bool sel_hit(const struct region *r, const struct sel *s, size_t i);
int region_map(FILE *out, struct region *r, size_t size, uint64_t seed);
int region_advise(FILE *out, struct region *r, const char *mode);
long region_touch(struct region *r, const struct sel *s, bool write);
int cmd_populate(FILE *out, struct region *r, const char *pattern, const char *pmds,
			const char *touch);
long advise_runs(struct region *r, const struct sel *s, int advice, int *err);
long swap_total_kb(void);
long count_swapped(struct region *r, const struct sel *s);
int cmd_zap(FILE *out, struct region *r, const char *pattern, const char *pmds,
		   bool pageout);
bool pmd_selected(const struct ranges *pmds, bool all, long b);
int cmd_collapse(FILE *out, struct region *r, const char *pmds);
int move_out(char *a, size_t len);
int split_one(struct region *r, const char *how, size_t b, size_t at, size_t len);
int cmd_split(FILE *out, struct region *r, const char *how, const char *at_s,
		     const char *len_s, const char *pmds);
int cmd_shift(FILE *out, struct region *r, const char *by_s);
void child_hold(struct region *r, const struct sel *s, int ready_fd, bool do_write,
		       bool advise);
int cmd_fork(FILE *out, struct region *r, const char *child_writes, bool advise);
int cmd_unfork(FILE *out, struct region *r);
int cmd_split_folios(FILE *out, struct region *r, int order);
int cmd_verify(FILE *out, struct region *r);
void emit_region(FILE *out, const struct region *r, bool held);
#endif /* THPWORK_REGION_H */
