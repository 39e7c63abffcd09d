/* SPDX-License-Identifier: GPL-2.0 */
/*
 * census.h - folio-order census of a virtual range (definitions in census.c).
 *
 * For every base page of [addr, addr+len) in process PID:
 *   /proc/PID/pagemap  -> present / swapped / none, PFN, exclusively-mapped bit
 *   /proc/kpageflags   -> KPF_COMPOUND_HEAD / KPF_COMPOUND_TAIL / KPF_THP / KPF_ZERO_PAGE
 * A folio's extent is found in PFN space: the head is the nearest KPF_COMPOUND_HEAD
 * at or below the PFN, the folio ends before the first PFN after it that is not a
 * KPF_COMPOUND_TAIL. order = log2(number of pages). Works for PMD-mapped and
 * PTE-mapped folios alike, and for folios mapped misaligned (after mremap).
 * Needs CAP_SYS_ADMIN (PFNs are hidden otherwise).
 *
 * Offline mode (for tests): --save DIR writes pagemap.bin (raw entries of the range),
 * kpageflags.bin (sorted (pfn, flags) u64 pairs of every PFN consulted) and meta.txt;
 * --load DIR recomputes the census from those files.
 */
#ifndef THPWORK_CENSUS_H
#define THPWORK_CENSUS_H

#include "util.h"
#include "pageflags.h"   /* lib/: PM_* and KPF_* bits */

#define NORDERS         32
#define MAX_FOLIO_PAGES (1UL << 18)
#define KPF_CHUNK       512

/* -------------------------------------------------- kpageflags source */

struct kpf_src {
	int fd;                 /* live /proc/kpageflags, or -1 when offline */
	uint64_t *tab;          /* offline: sorted (pfn, flags) pairs */
	size_t ntab;
	uint64_t *rec;          /* live + --save: every (pfn, flags) read */
	size_t nrec, caprec;
};

void kpf_record(struct kpf_src *s, uint64_t pfn, uint64_t flags);
uint64_t kpf_lookup(const struct kpf_src *s, uint64_t pfn);
bool kpf_get(struct kpf_src *s, uint64_t pfn, size_t n, uint64_t *out);
bool folio_extent(struct kpf_src *s, uint64_t pfn, uint64_t flags,
			 uint64_t *head, uint64_t *nr);
/* ------------------------------------------------------------ census */

struct census {
	uint64_t addr, len, ps, pmd;
	uint64_t pages, present, none, swapped, zero, shared, nopfn, hugetlb, nonthp;
	uint64_t orders[NORDERS], folios[NORDERS], misaligned[NORDERS], partial[NORDERS];
	long long anon_huge_kb;
	size_t nblk;                       /* per-PMD detail (0 = off) */
	uint64_t (*blk_orders)[NORDERS];
	uint64_t *blk_none, *blk_swapped, *blk_zero;
};

/* Folios seen in the range, keyed by head PFN (open addressing). */
struct folio_ent {
	uint64_t head, nr, mapped;
	int order;
};

struct folio_tab {
	struct folio_ent *e;
	size_t cap;
};

struct folio_ent *folio_find(struct folio_tab *t, uint64_t head, bool *fresh);
struct folio_ent *folio_at(struct census *c, struct kpf_src *s, struct folio_tab *t,
				  uint64_t va, uint64_t pfn, size_t blk, int *err);
void count_absent(struct census *c, uint64_t e, size_t blk);
int census_compute(struct census *c, const uint64_t *pm, struct kpf_src *s);
long long smaps_anon_huge(pid_t pid, uint64_t addr, uint64_t len);
void census_emit(FILE *out, const struct census *c, long pid);
/* ------------------------------------------------------- save / load */

bool write_file(const char *dir, const char *name, const void *data, size_t len);
int cmp_pair(const void *a, const void *b);
bool census_save(const char *dir, const struct census *c, const uint64_t *pm,
			struct kpf_src *s);
void *slurp(const char *dir, const char *name, size_t *len);
bool meta_get(const char *meta, const char *key, uint64_t *v);
/* ---------------------------------------------------------- entry point */

bool census_alloc_detail(struct census *c);
uint64_t *read_pagemap(pid_t pid, const struct census *c);
int census_load_src(struct census *c, struct kpf_src *s, uint64_t **pm,
			   const char *dir, FILE *out);
int census_live_src(struct census *c, struct kpf_src *s, uint64_t **pm, pid_t pid,
			   bool save, FILE *out);
int census_run(FILE *out, pid_t pid, uint64_t addr, uint64_t len, bool detail,
		      const char *save_dir, const char *load_dir);
#endif /* THPWORK_CENSUS_H */
