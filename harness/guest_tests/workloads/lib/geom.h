/* SPDX-License-Identifier: GPL-2.0 */
/*
 * geom.h - the running kernel's page geometry (definitions in geom.c): the base page
 * and the PMD (4K/2M on x86_64; arm64 4K/2M, 16K/32M or 64K/512M), PMD alignment, and
 * the madvise advice values older libc headers lack.
 */
#ifndef WORKLOADS_LIB_GEOM_H
#define WORKLOADS_LIB_GEOM_H

#include <stddef.h>
#include <sys/mman.h>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MADV_COLD
#define MADV_COLD 20
#endif

/* The base page size in bytes. */
size_t page_size(void);
/* The PMD size in bytes: THP's hpage_pmd_size; without THP, derived (8-byte ptes:
 * page_size() / 8 of them per table). */
size_t pmd_size(void);
/* p rounded up to a multiple of `to` (a power of two): a PMD-aligned start inside an
 * over-sized mapping. */
char *align_up(const void *p, size_t to);
#endif /* WORKLOADS_LIB_GEOM_H */
