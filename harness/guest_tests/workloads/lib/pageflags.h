/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pageflags.h - what backs a virtual page (definitions in pageflags.c):
 * /proc/<pid>/pagemap entries (Documentation/admin-guide/mm/pagemap.rst) and the
 * /proc/kpageflags bits of their PFNs. PFNs need CAP_SYS_ADMIN (0 otherwise).
 */
#ifndef WORKLOADS_LIB_PAGEFLAGS_H
#define WORKLOADS_LIB_PAGEFLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* pagemap entry bits */
#define PM_PFN_MASK     ((1ULL << 55) - 1)
#define PM_EXCLUSIVE    (1ULL << 56)
#define PM_SWAP         (1ULL << 62)
#define PM_PRESENT      (1ULL << 63)

/* kpageflags bits */
#define KPF_HEAD        (1ULL << 15)   /* KPF_COMPOUND_HEAD */
#define KPF_TAIL        (1ULL << 16)   /* KPF_COMPOUND_TAIL */
#define KPF_HUGETLB     (1ULL << 17)
#define KPF_KSM         (1ULL << 21)
#define KPF_THP_BIT     (1ULL << 22)   /* KPF_THP */
#define KPF_ZERO        (1ULL << 24)   /* KPF_ZERO_PAGE */

/* The PFN of the present page at va (pagemap_fd: an open /proc/<pid>/pagemap, ps: the
 * base page size); false if the entry cannot be read or the page is not present. */
bool va_pfn(int pagemap_fd, const void *va, size_t ps, uint64_t *pfn);
/* The kpageflags of the page at va (kpf_fd: an open /proc/kpageflags); 0 if either fd
 * is closed (< 0), the page is not present, its PFN hidden or unreadable. */
uint64_t va_kpageflags(int pagemap_fd, int kpf_fd, const void *va, size_t ps);
#endif /* WORKLOADS_LIB_PAGEFLAGS_H */
