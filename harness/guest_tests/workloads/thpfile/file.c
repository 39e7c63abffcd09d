// SPDX-License-Identifier: GPL-2.0
/* thpfile: file.c - definitions of file.h */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include "geom.h"
#include "file.h"
#include "run.h"

unsigned long page_bytes, pmd_pages;
int file_fd = -1;
char *file_map[2];
uint8_t *gen;
pthread_mutex_t *pmd_lock;
atomic_ulong verified, corrupt, rewrites;

void file_geometry(void)
{
	page_bytes = page_size();
	pmd_pages = pmd_size() / page_bytes;    /* without THP: 8-byte ptes per table */
	if (page_bytes > MAX_PAGE) {
		fprintf(stderr, "thpfile: page size %lu above %lu\n", page_bytes, MAX_PAGE);
		exit(2);
	}
}

static uint64_t stamp(unsigned long page, unsigned int g, unsigned long word)
{
	if (!g)
		return 0;
	return (o.seed * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)page << 20) ^ ((uint64_t)g << 12) ^ word;
}

void fill(unsigned long page)
{
	uint64_t *w = (uint64_t *)(file_map[page % 2] + page * PAGE);

	gen[page] = gen[page] == 255 ? 1 : gen[page] + 1;
	for (unsigned long i = 0; i < PAGE / 8; i += 8)
		w[i] = stamp(page, gen[page], i);
	atomic_fetch_add(&rewrites, 1);
}

static void finding(const char *how, unsigned long page, unsigned long word, uint64_t got,
		    uint64_t want)
{
	char msg[200];

	snprintf(msg, sizeof(msg), "thpfile: FINDING page %lu (pmd %lu) via %s word %lu: %#llx, "
		 "want %#llx (gen %u)\n", page, page / PMD_PAGES, how, word,
		 (unsigned long long)got, (unsigned long long)want, gen[page]);
	fputs(msg, stderr);
	if (atomic_fetch_add(&corrupt, 1) < 5)
		note(msg);
}

bool check(unsigned long page, int m)
{
	volatile uint64_t *w = (volatile uint64_t *)(file_map[m] + page * PAGE);

	for (unsigned long i = 0; i < PAGE / 8; i += 8) {
		uint64_t want = stamp(page, gen[page], i), got = w[i];

		if (got != want) {
			finding(m ? "map B" : "map A", page, i, got, want);
			return false;
		}
	}
	atomic_fetch_add(&verified, 1);
	return true;
}

bool check_pread(unsigned long page)
{
	static __thread uint64_t buf[MAX_PAGE / 8];

	if (pread(file_fd, buf, PAGE, page * PAGE) != (ssize_t)PAGE) {
		finding("pread (short)", page, 0, 0, 0);
		return false;
	}
	for (unsigned long i = 0; i < PAGE / 8; i += 8)
		if (buf[i] != stamp(page, gen[page], i)) {
			finding("pread", page, i, buf[i], stamp(page, gen[page], i));
			return false;
		}
	atomic_fetch_add(&verified, 1);
	return true;
}

static int open_file(void)
{
	if (!o.tmpfs)
		return memfd_create("thpfile", MFD_CLOEXEC);
	mkdir(TMPFS_DIR, 0700);
	umount2(TMPFS_DIR, MNT_DETACH);
	if (mount("thpfile", TMPFS_DIR, "tmpfs", 0, "huge=within_size,size=1G")) {
		fprintf(stderr, "thpfile: mount tmpfs huge=within_size (CONFIG_TMPFS, "
			"CONFIG_TRANSPARENT_HUGEPAGE): %s\n", strerror(errno));
		exit(3);
	}
	return open(TMPFS_DIR "/file", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
}

static char *map_aligned(size_t len)
{
	char *raw = mmap(NULL, len + PMD_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			 -1, 0);
	char *at = align_up(raw, PMD_SIZE);

	if (raw == MAP_FAILED ||
	    mmap(at, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, file_fd, 0) != at) {
		perror("thpfile: mmap");
		exit(2);
	}
	return at;
}

void file_setup(void)
{
	size_t len = o.pmds * PMD_SIZE;

	file_fd = open_file();
	if (file_fd < 0 || ftruncate(file_fd, len)) {
		fprintf(stderr, "thpfile: shmem file (CONFIG_SHMEM/MEMFD): %s\n", strerror(errno));
		exit(3);
	}
	gen = calloc(o.pmds * PMD_PAGES, 1);
	pmd_lock = calloc(o.pmds, sizeof(*pmd_lock));
	for (unsigned long i = 0; i < o.pmds; i++)
		pthread_mutex_init(&pmd_lock[i], NULL);
	for (int m = 0; m < 2; m++) {
		file_map[m] = map_aligned(len);
		madvise(file_map[m], len, MADV_NOHUGEPAGE);  /* small folios while populating */
	}
	for (unsigned long p = 0; p < o.pmds * PMD_PAGES; p++)
		fill(p);
	for (int m = 0; m < 2; m++)
		if (madvise(file_map[m], len, MADV_HUGEPAGE)) {
			fprintf(stderr, "thpfile: MADV_HUGEPAGE (CONFIG_TRANSPARENT_HUGEPAGE): %s\n",
				strerror(errno));
			exit(3);
		}
}

void file_final_check(void)
{
	for (unsigned long p = 0; p < o.pmds * PMD_PAGES; p++)
		if (check(p, p % 2))
			check_pread(p);
}

void file_close(void)
{
	if (o.tmpfs) {
		close(file_fd);
		umount2(TMPFS_DIR, MNT_DETACH);
	}
}
