// SPDX-License-Identifier: GPL-2.0
/* lib: geom.c - definitions of geom.h */
#define _GNU_SOURCE
#include <stdint.h>
#include <unistd.h>
#include "geom.h"
#include "sysfs.h"

size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

size_t pmd_size(void)
{
	uint64_t v;

	if (read_u64(THP_ROOT "/hpage_pmd_size", &v) && v)
		return (size_t)v;
	return page_size() / 8 * page_size();
}

char *align_up(const void *p, size_t to)
{
	return (char *)(((uintptr_t)p + to - 1) & ~(uintptr_t)(to - 1));
}
