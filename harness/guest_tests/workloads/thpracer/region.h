/* SPDX-License-Identifier: GPL-2.0 */
/*
 * region.h - thpracer's region and the mutator that keeps khugepaged busy on it
 * (definitions in region.c).
 *
 * A PMD-aligned region of --pmds PMDs of small pages, advised MADV_HUGEPAGE once
 * populated. Each PMD holds blocks of BLOCK_PAGES base pages: even blocks fully
 * populated (what an mTHP collapse takes), odd blocks partly (SPARSE of them: never
 * collapsed to mTHP while max_ptes_none is 0, the "neighbours" under the same page
 * table). Page indices at or past pmds * PMD_PAGES are those of the --mremap movers'
 * PMDs (mremap.h). Every populated page holds a stamp of (seed, page, generation).
 */
#ifndef THPRACER_REGION_H
#define THPRACER_REGION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* the base page and PMD of the running kernel (4K/2M, arm64 16K/32M, 64K/512M) */
extern unsigned long page_bytes, pmd_pages;
#define PAGE page_bytes
#define PMD_PAGES pmd_pages
#define PMD_SIZE (PAGE * PMD_PAGES)
#define BLOCK_PAGES 16UL                    /* order-4 blocks: 64K with 4K pages */
#define BLOCKS (PMD_PAGES / BLOCK_PAGES)
#define SPARSE 3UL                          /* populated pages of an odd block */
#define MOVERS 4                            /* --mremap: PMDs of their own, moved around */

extern char *region;
extern char *mover_at[MOVERS];              /* where mover PMD i is mapped now */
extern int pagemap_fd, kpf_fd;              /* /proc/self/pagemap, /proc/kpageflags */
extern bool split_debugfs;                  /* re-split by debugfs, else MADV_DONTNEED */
extern atomic_ulong collapsed_seen, resplit, verified, corrupt, touched, sweeps;

/* page_bytes and pmd_pages of the running kernel. */
void region_geometry(void);
/* Map, populate and advise the region (and the movers with --mremap); exit 1 if it
 * cannot be mapped. */
void region_setup(void);
/* A page of the region, or of a --mremap mover PMD. */
char *page_addr(unsigned long page);
/* The page is populated (a page of an even block, or one of an odd block's first SPARSE). */
bool populated(unsigned long page);
/* Write the page's next generation of its stamp. */
void fill(unsigned long page);
/* The page holds its stamp; a changed page is a finding (on stderr, counted in corrupt). */
bool check(unsigned long page);
/* Verify a block, count and re-split it when collapsed; true: newly seen collapsed. */
bool sweep_block(unsigned long first);
/* The mutator thread: sweep_block() over the region until stop. */
void *mutator(void *arg);
/* check() every populated page of the region. */
void region_final_check(void);
#endif /* THPRACER_REGION_H */
