// SPDX-License-Identifier: GPL-2.0
/* thpracer: walk.c - definitions of walk.h */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>
#include "geom.h"
#include "pageflags.h"
#include "rng.h"
#include "region.h"
#include "run.h"
#include "walk.h"

atomic_ulong paged_out, idle_rounds, walks, gup_bytes;

/* Reclaim's rmap walks on the neighbours: MADV_COLD / MADV_PAGEOUT of odd blocks. */
void *pager(void *arg)
{
	uint64_t s = o.seed ^ 0xc01d;
	unsigned long n = 0;

	(void)arg;
	while (!atomic_load(&stop)) {
		unsigned long pmd = xorshift64(&s) % o.pmds;
		unsigned long block = (xorshift64(&s) % (BLOCKS / 2)) * 2 + 1;
		char *at = region + pmd * PMD_SIZE + block * BLOCK_PAGES * PAGE;

		if (madvise(at, SPARSE * PAGE, n % 2 ? MADV_PAGEOUT : MADV_COLD) == 0)
			atomic_fetch_add(&paged_out, 1);
		n++;
		usleep(2000);
	}
	return NULL;
}

/* page_idle: mark the region's PFNs idle, read the bitmap back (rmap walks). */
void *idler(void *arg)
{
	int fd = open("/sys/kernel/mm/page_idle/bitmap", O_RDWR);
	uint64_t all = ~0ULL, word;

	(void)arg;
	while (fd >= 0 && !atomic_load(&stop)) {
		for (unsigned long p = 0; p < o.pmds * PMD_PAGES; p += 64) {
			uint64_t pfn;

			if (!va_pfn(pagemap_fd, region + p * PAGE, PAGE, &pfn))
				continue;
			if (pwrite(fd, &all, 8, (pfn / 64) * 8) == 8 && pread(fd, &word, 8, (pfn / 64) * 8) == 8)
				continue;
		}
		atomic_fetch_add(&idle_rounds, 1);
		usleep(20000);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

/*
 * Page-table walkers without the rmap: /proc/self/pagemap and smaps readers (mmap read
 * lock, walk_page_range) and GUP through process_vm_readv (or vmsplice, without
 * CONFIG_CROSS_MEMORY_ATTACH) of a PMD's neighbours.
 */
void *walker(void *arg)
{
	static char buf[1 << 18];   /* >= SPARSE pages, a PMD's pagemap */
	uint64_t s = o.seed ^ 0x3a1c;
	int pipefd[2] = { -1, -1 };

	(void)arg;
	if (pipe(pipefd))
		pipefd[0] = -1;
	while (!atomic_load(&stop)) {
		unsigned long pmd = xorshift64(&s) % o.pmds;
		unsigned long block = (xorshift64(&s) % (BLOCKS / 2)) * 2 + 1;
		char *at = region + pmd * PMD_SIZE;
		struct iovec local = { buf, SPARSE * PAGE };
		struct iovec remote = { at + block * BLOCK_PAGES * PAGE, SPARSE * PAGE };
		int fd = open("/proc/self/smaps", O_RDONLY);
		ssize_t n;

		if (fd >= 0) {
			while (read(fd, buf, sizeof(buf)) > 0)
				;
			close(fd);
		}
		if (pread(pagemap_fd, buf, PMD_PAGES * 8, ((uintptr_t)at / PAGE) * 8) > 0)
			atomic_fetch_add(&walks, 1);
		n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
		if (n <= 0 && pipefd[0] >= 0) {     /* no CROSS_MEMORY_ATTACH: vmsplice pins too */
			n = vmsplice(pipefd[1], &remote, 1, 0);
			if (n > 0 && read(pipefd[0], buf, n) != n)
				n = 0;
		}
		if (n > 0)
			atomic_fetch_add(&gup_bytes, n);
		usleep(1000);
	}
	if (pipefd[0] >= 0) {
		close(pipefd[0]);
		close(pipefd[1]);
	}
	return NULL;
}
