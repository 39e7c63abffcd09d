// SPDX-License-Identifier: GPL-2.0
/* lib: pageflags.c - definitions of pageflags.h */
#define _GNU_SOURCE
#include <unistd.h>
#include "pageflags.h"

bool va_pfn(int pagemap_fd, const void *va, size_t ps, uint64_t *pfn)
{
	uint64_t pm;

	if (pread(pagemap_fd, &pm, 8, (off_t)((uintptr_t)va / ps * 8)) != 8 || !(pm & PM_PRESENT))
		return false;
	*pfn = pm & PM_PFN_MASK;
	return true;
}

uint64_t va_kpageflags(int pagemap_fd, int kpf_fd, const void *va, size_t ps)
{
	uint64_t pfn, flags;

	if (pagemap_fd < 0 || kpf_fd < 0 || !va_pfn(pagemap_fd, va, ps, &pfn) || !pfn)
		return 0;
	if (pread(kpf_fd, &flags, 8, (off_t)(pfn * 8)) != 8)
		return 0;
	return flags;
}
