// SPDX-License-Identifier: GPL-2.0
/*
 * thpracer - rmap walkers and page-table users racing khugepaged's collapses.
 *
 * Build: gcc -static -O2 -Wall -Wextra -pthread thpracer.c -o thpracer
 *
 * A PMD-aligned region of --pmds PMDs is populated with small pages, then advised
 * MADV_HUGEPAGE, so khugepaged collapses it under the knobs in force. Each PMD holds
 * blocks of 16 base pages (64K with 4K pages, 256K with 16K): even blocks fully populated
 * (what an mTHP collapse takes), odd blocks partly (3 of 16 pages: never collapsed to mTHP while max_ptes_none is 0, so they are
 * the "uninvolved" neighbours under the same page table). Threads for --seconds:
 *
 *   mutator   sweeps the region: verifies every populated page's contents (a changed
 *             page is a finding), counts the blocks found collapsed (a large folio in
 *             /proc/self/pagemap + /proc/kpageflags) and re-splits them (debugfs
 *             split_huge_pages, or MADV_DONTNEED of one page + rewrite) so khugepaged
 *             never runs out of work; it also touches the neighbours (a stale migration
 *             entry is met there).
 *   migrate   move_pages(2) of the neighbours of one PMD (every 4th round also of some
 *             collapse-range pages) to the other node, PMD after PMD; every 8th round mbind(2)
 *             MPOL_MF_MOVE of a whole PMD, every 32nd migrate_pages(2) of the process.
 *   compact   writes /proc/sys/vm/compact_memory every --compact-ms (0: never).
 *   pageout   (--pageout) MADV_COLD / MADV_PAGEOUT of neighbour pages (reclaim's rmap
 *             walk, try_to_unmap; swap ptes next to the collapsing ranges).
 *   uffd      (--uffd) userfaultfd write-protect of one block at a time, written back,
 *             faults served by a handler thread (wp_missed counts writes that raised none).
 *   ksm       (--ksm) neighbour pages get PMD-independent contents, the region is
 *             MADV_MERGEABLE and ksmd runs at its fastest: KSM pages next to the
 *             collapsing ranges, migrated through rmap_walk_ksm (pages_shared reported).
 *   walkers   (--walkers) /proc/self/smaps and pagemap readers and process_vm_readv
 *             or vmsplice (GUP) of a PMD's neighbours, every millisecond.
 *   idle      (--idle) marks the region's PFNs idle through /sys/kernel/mm/page_idle/
 *             bitmap and reads it back (an rmap walk started from user space).
 *
 * Output: one JSON line on stdout at the end ("event":"racer") with the counts; a progress
 * line on stderr every second. Exit: 0 ok, 1 finding (changed page), 2 usage, 3 missing
 * kernel feature (named on stderr).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* the base page and PMD of the running kernel (4K/2M, arm64 16K/32M, 64K/512M): geometry() */
static unsigned long page_bytes, pmd_pages;
#define PAGE page_bytes
#define PMD_PAGES pmd_pages
#define PMD_SIZE (PAGE * PMD_PAGES)
#define BLOCK_PAGES 16UL                    /* order-4 blocks: 64K with 4K pages */
#define BLOCKS (PMD_PAGES / BLOCK_PAGES)
#define SPARSE 3UL                          /* populated pages of an odd block */
#define MPOL_BIND 2
#define MPOL_MF_MOVE (1 << 1)
#define KPF_COMPOUND_HEAD 15
#define KPF_COMPOUND_TAIL 16
#define KPF_THP 22
#define SPLIT_FILE "/sys/kernel/debug/split_huge_pages"

struct opts {
	double seconds;
	unsigned long pmds, compact_ms;
	uint64_t seed;
	bool pageout, idle, no_migrate, uffd, ksm, walkers, fork, mremap, memcg;
};

static struct opts o = { .seconds = 10, .pmds = 16, .compact_ms = 1000, .seed = 1 };
static char *region;
static uint8_t *gen;                        /* per page: generation of its contents */
static bool *blk_large;                     /* per 64K block: large at the last sweep */
static int nodes[2], nnodes;
static atomic_bool stop, handler_stop;      /* the uffd handler outlives the writers */
static atomic_ulong moved, move_calls, move_failed, mbind_calls, migrate_calls;
static atomic_ulong compactions, collapsed_seen, resplit, verified, corrupt, touched;
static atomic_ulong paged_out, idle_rounds, sweeps, wp_protected, wp_served, wp_missed;
static int uffd = -1;
static atomic_ulong walks, gup_bytes;
static long ksm_shared = -1, ksm_sharing = -1;
static int kpf_fd = -1, pagemap_fd = -1;
static bool split_debugfs;

#define MOVERS 4                            /* --mremap: PMDs of their own, moved around */
static char *mover_at[MOVERS];              /* where mover PMD i is mapped now */

/* A page of the region, or (index >= pmds * PMD_PAGES) of a --mremap mover PMD. */
static char *page_addr(unsigned long page)
{
	unsigned long pmd = page / PMD_PAGES;

	if (pmd < o.pmds)
		return region + page * PAGE;
	return mover_at[pmd - o.pmds] + (page % PMD_PAGES) * PAGE;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static bool populated(unsigned long page)   /* page index within the region */
{
	unsigned long in_pmd = page % PMD_PAGES, block = in_pmd / BLOCK_PAGES;

	return block % 2 == 0 || in_pmd % BLOCK_PAGES < SPARSE;
}

static uint64_t stamp(unsigned long page, unsigned int g, unsigned long word)
{
	/* --ksm: a neighbour page's contents do not depend on its PMD, so KSM merges them */
	if (o.ksm && (page % PMD_PAGES / BLOCK_PAGES) % 2 == 1 && g == 1)
		page %= PMD_PAGES;
	return (o.seed * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)page << 20) ^ ((uint64_t)g << 12) ^ word;
}

static void fill(unsigned long page)
{
	uint64_t *w = (uint64_t *)page_addr(page);

	gen[page]++;
	for (unsigned long i = 0; i < PAGE / 8; i += 8)
		w[i] = stamp(page, gen[page], i);
}

/* The page holds its stamp; a finding is reported with write(2) (no stdio lock: the
 * --fork children check pages too). */
static bool check(unsigned long page)
{
	volatile uint64_t *w = (volatile uint64_t *)page_addr(page);

	for (unsigned long i = 0; i < PAGE / 8; i += 8) {
		uint64_t want = stamp(page, gen[page], i), got = w[i];

		if (got != want) {
			char msg[160];
			int n = snprintf(msg, sizeof(msg), "thpracer: FINDING page %lu (%p) pid %d word %lu: "
					 "%#llx, want %#llx\n", page, (void *)w, (int)getpid(), i,
					 (unsigned long long)got, (unsigned long long)want);

			if (write(2, msg, n) < 0)
				n = 0;
			atomic_fetch_add(&corrupt, 1);
			return false;
		}
	}
	atomic_fetch_add(&verified, 1);
	return true;
}

static int read_nodes(void)
{
	FILE *f = fopen("/sys/devices/system/node/online", "r");
	int a = 0, b = 0, n;

	if (!f)
		return 1;
	n = fscanf(f, "%d-%d", &a, &b);
	fclose(f);
	nodes[0] = a;
	nodes[1] = n == 2 ? b : a;
	return n == 2 ? 2 : 1;
}

/* A large folio (collapsed) backs this page: pagemap PFN + kpageflags. */
static bool large(unsigned long page)
{
	uint64_t pm, flags;
	uintptr_t va = (uintptr_t)page_addr(page);

	if (pagemap_fd < 0 || kpf_fd < 0)
		return false;
	if (pread(pagemap_fd, &pm, 8, (va / PAGE) * 8) != 8 || !(pm >> 63))
		return false;
	pm &= (1ULL << 55) - 1;
	if (!pm || pread(kpf_fd, &flags, 8, pm * 8) != 8)
		return false;
	return flags & ((1ULL << KPF_COMPOUND_HEAD) | (1ULL << KPF_COMPOUND_TAIL) | (1ULL << KPF_THP));
}

static void split_range(unsigned long first, unsigned long pages)
{
	char buf[96];
	int fd, n;

	if (split_debugfs) {
		fd = open(SPLIT_FILE, O_WRONLY);
		if (fd >= 0) {
			n = snprintf(buf, sizeof(buf), "%d,%#lx,%#lx", (int)getpid(),
				     (unsigned long)page_addr(first),
				     (unsigned long)page_addr(first + pages - 1) + PAGE);
			if (write(fd, buf, n) == n) {
				close(fd);
				return;
			}
			close(fd);
		}
	}
	/* fallback: drop one page of the folio and write it again (a new small page) */
	madvise(page_addr(first + pages - 1), PAGE, MADV_DONTNEED);
	gen[first + pages - 1] = 0;
	fill(first + pages - 1);
}

/* Verify a block, count and re-split it when collapsed; true: newly seen collapsed. */
static bool sweep_block(unsigned long first)
{
	unsigned long n = 0;
	bool seen;

	for (unsigned long p = first; p < first + BLOCK_PAGES; p++)
		if (populated(p)) {
			check(p);
			n++;
		}
	atomic_fetch_add(&touched, n);
	if (!populated(first + BLOCK_PAGES - 1))
		return false;               /* a neighbour block: never collapsed to mTHP */
	bool now_large = large(first), *was = &blk_large[first / BLOCK_PAGES];

	seen = now_large && !*was;          /* small -> large: khugepaged collapsed it */
	if (seen)
		atomic_fetch_add(&collapsed_seen, 1);
	if (now_large && (split_debugfs || !*was)) {
		split_range(first, BLOCK_PAGES);
		atomic_fetch_add(&resplit, 1);
	}
	/* a debugfs split leaves small pages; MADV_DONTNEED leaves the folio partly mapped */
	*was = now_large && !split_debugfs;
	return seen;
}

static void *mutator(void *arg)
{
	unsigned long total = o.pmds * PMD_PAGES;

	(void)arg;
	while (!atomic_load(&stop)) {
		for (unsigned long b = 0; b < total && !atomic_load(&stop); b += BLOCK_PAGES)
			sweep_block(b);
		atomic_fetch_add(&sweeps, 1);
	}
	return NULL;
}

/*
 * The neighbours of one PMD (its odd blocks); with `ranges` also every 4th page of the
 * collapse ranges (a migration entry there fails that collapse, so only now and then).
 */
static unsigned long pmd_targets(unsigned long pmd, void **pages, bool ranges)
{
	unsigned long n = 0;

	for (unsigned long i = 0; i < PMD_PAGES; i++) {
		unsigned long page = pmd * PMD_PAGES + i, block = i / BLOCK_PAGES;

		if (populated(page) && (block % 2 == 1 || (ranges && i % 4 == 0)))
			pages[n++] = region + page * PAGE;
	}
	return n;
}

static void move_pmd(unsigned long pmd, int to, bool ranges, void **pages, int *tnodes,
		     int *status)
{
	unsigned long n = pmd_targets(pmd, pages, ranges);

	for (unsigned long i = 0; i < n; i++)
		tnodes[i] = to;
	atomic_fetch_add(&move_calls, 1);
	if (syscall(SYS_move_pages, 0, n, pages, tnodes, status, MPOL_MF_MOVE) < 0) {
		atomic_fetch_add(&move_failed, 1);
		return;
	}
	for (unsigned long i = 0; i < n; i++)
		if (status[i] == to)
			atomic_fetch_add(&moved, 1);
}

static void mbind_pmd(unsigned long pmd, int to)
{
	unsigned long mask = 1UL << to;

	atomic_fetch_add(&mbind_calls, 1);
	syscall(SYS_mbind, region + pmd * PMD_SIZE, PMD_SIZE, MPOL_BIND, &mask, 64, MPOL_MF_MOVE);
}

static void migrate_all(int from, int to)
{
	unsigned long old = 1UL << from, new = 1UL << to;

	atomic_fetch_add(&migrate_calls, 1);
	syscall(SYS_migrate_pages, 0, 64, &old, &new);
}

static void *migrator(void *arg)
{
	void **pages = calloc(PMD_PAGES, sizeof(*pages));
	int *tnodes = calloc(PMD_PAGES, sizeof(int)), *status = calloc(PMD_PAGES, sizeof(int));
	unsigned long round = 0;

	(void)arg;
	while (!atomic_load(&stop)) {
		unsigned long pmd = round % o.pmds;
		int to = nodes[(round / o.pmds) % 2];  /* each pass flips every target */

		if (round % 32 == 31)
			migrate_all(nodes[to == nodes[0]], to);
		else if (round % 8 == 7)
			mbind_pmd(pmd, to);
		else
			move_pmd(pmd, to, round % 4 == 3, pages, tnodes, status);
		round++;
	}
	free(pages);
	free(tnodes);
	free(status);
	return NULL;
}

static void *compactor(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		int fd = open("/proc/sys/vm/compact_memory", O_WRONLY);

		if (fd >= 0) {
			if (write(fd, "1", 1) == 1)
				atomic_fetch_add(&compactions, 1);
			close(fd);
		}
		usleep(o.compact_ms * 1000);
	}
	return NULL;
}

/* page_idle: mark the region's PFNs idle, read the bitmap back (rmap walks). */
static void *idler(void *arg)
{
	int fd = open("/sys/kernel/mm/page_idle/bitmap", O_RDWR);
	uint64_t all = ~0ULL, word;

	(void)arg;
	while (fd >= 0 && !atomic_load(&stop)) {
		for (unsigned long p = 0; p < o.pmds * PMD_PAGES; p += 64) {
			uint64_t pm;
			uintptr_t va = (uintptr_t)(region + p * PAGE);

			if (pread(pagemap_fd, &pm, 8, (va / PAGE) * 8) != 8 || !(pm >> 63))
				continue;
			pm &= (1ULL << 55) - 1;
			if (pwrite(fd, &all, 8, (pm / 64) * 8) == 8 && pread(fd, &word, 8, (pm / 64) * 8) == 8)
				continue;
		}
		atomic_fetch_add(&idle_rounds, 1);
		usleep(20000);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* Reclaim's rmap walks on the neighbours: MADV_COLD / MADV_PAGEOUT of odd blocks. */
static void *pager(void *arg)
{
	uint64_t s = o.seed ^ 0xc01d;
	unsigned long n = 0;

	(void)arg;
	while (!atomic_load(&stop)) {
		unsigned long pmd = rnd(&s) % o.pmds, block = (rnd(&s) % (BLOCKS / 2)) * 2 + 1;
		char *at = region + pmd * PMD_SIZE + block * BLOCK_PAGES * PAGE;

		if (madvise(at, SPARSE * PAGE, n % 2 ? MADV_PAGEOUT : MADV_COLD) == 0)
			atomic_fetch_add(&paged_out, 1);
		n++;
		usleep(2000);
	}
	return NULL;
}

/*
 * userfaultfd write-protect: the region is registered in WP mode; the wp thread protects
 * one block's populated pages, writes each (same value back), and the handler thread
 * serves the WP fault by unprotecting. Every protected page written must raise exactly
 * one event: khugepaged must keep out of (or preserve) write-protected ptes, so a
 * missing event (wp_missed) means a collapse or a walker dropped the uffd-wp bit.
 */
static bool uffd_setup(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)region, .len = o.pmds * PMD_SIZE },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};

	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) || ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		fprintf(stderr, "thpracer: userfaultfd WP unavailable (CONFIG_USERFAULTFD): %s\n",
			strerror(errno));
		return false;
	}
	return true;
}

static int wp(char *at, unsigned long len, bool on)
{
	struct uffdio_writeprotect w = {
		.range = { .start = (uintptr_t)at, .len = len },
		.mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	return ioctl(uffd, UFFDIO_WRITEPROTECT, &w);
}

static void *uffd_handler(void *arg)
{
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };
	struct uffd_msg msg;

	(void)arg;
	while (!atomic_load(&handler_stop)) {
		if (poll(&pfd, 1, 100) <= 0 || read(uffd, &msg, sizeof(msg)) != sizeof(msg))
			continue;
		if (msg.event != UFFD_EVENT_PAGEFAULT || !(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP))
			continue;
		atomic_fetch_add(&wp_served, 1);    /* before the writer can go on */
		wp((char *)(uintptr_t)(msg.arg.pagefault.address & ~(PAGE - 1)), PAGE, false);
	}
	return NULL;
}

static void *wp_writer(void *arg)
{
	uint64_t s = o.seed ^ 0x3b;

	(void)arg;
	while (!atomic_load(&stop)) {
		unsigned long first = (rnd(&s) % (o.pmds * BLOCKS)) * BLOCK_PAGES, n = 0;
		unsigned long before = atomic_load(&wp_served);

		for (unsigned long p = first; p < first + BLOCK_PAGES; p++)
			if (populated(p) && wp(region + p * PAGE, PAGE, true) == 0)
				n++;
		atomic_fetch_add(&wp_protected, n);
		usleep(5000);                       /* give khugepaged a look at it */
		for (unsigned long p = first; p < first + BLOCK_PAGES; p++)
			if (populated(p)) {
				volatile uint64_t *w = (volatile uint64_t *)(region + p * PAGE);

				w[0] = w[0];
			}
		if (atomic_load(&wp_served) - before < n)
			atomic_fetch_add(&wp_missed, n - (atomic_load(&wp_served) - before));
	}
	return NULL;
}

/* KSM: ksmd at its fastest over the region; the old settings restored at the end. */
static const char *const ksm_knobs[] = { "run", "sleep_millisecs", "pages_to_scan" };
static char ksm_saved[3][32];

static bool ksm_write(const char *name, const char *value, char *old, size_t oldlen)
{
	char path[96];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/kernel/mm/ksm/%s", name);
	fd = open(path, O_RDWR);
	if (fd < 0)
		return false;
	if (old) {
		n = read(fd, old, oldlen - 1);
		old[n > 0 ? n : 0] = 0;
	}
	n = pwrite(fd, value, strlen(value), 0);
	close(fd);
	return n == (ssize_t)strlen(value);
}

static bool ksm_start(void)
{
	const char *fast[] = { "1", "0", "2000" };

	if (madvise(region, o.pmds * PMD_SIZE, MADV_MERGEABLE)) {
		fprintf(stderr, "thpracer: MADV_MERGEABLE failed (CONFIG_KSM): %s\n", strerror(errno));
		return false;
	}
	for (int i = 0; i < 3; i++)
		if (!ksm_write(ksm_knobs[i], fast[i], ksm_saved[i], sizeof(ksm_saved[i])))
			return false;
	return true;
}

static long ksm_read(const char *name)
{
	char path[96], buf[32] = "";
	int fd;

	snprintf(path, sizeof(path), "/sys/kernel/mm/ksm/%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = 0;
	if (fd >= 0)
		close(fd);
	return atol(buf);
}

static void ksm_stop(void)
{
	for (int i = 2; i >= 0; i--)
		ksm_write(ksm_knobs[i], ksm_saved[i], NULL, 0);
}

/*
 * Page-table walkers without the rmap: /proc/self/pagemap and smaps readers (mmap read
 * lock, walk_page_range) and GUP through process_vm_readv (or vmsplice, without
 * CONFIG_CROSS_MEMORY_ATTACH) of a PMD's neighbours.
 */
static void *walker(void *arg)
{
	static char buf[1 << 18];   /* >= SPARSE pages, a PMD's pagemap */
	uint64_t s = o.seed ^ 0x3a1c;
	int pipefd[2] = { -1, -1 };

	(void)arg;
	if (pipe(pipefd))
		pipefd[0] = -1;
	while (!atomic_load(&stop)) {
		unsigned long pmd = rnd(&s) % o.pmds, block = (rnd(&s) % (BLOCKS / 2)) * 2 + 1;
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

static void usage(void)
{
	fprintf(stderr, "usage: thpracer [--seconds S] [--pmds N] [--seed N] [--compact-ms MS]\n"
		"                [--pageout] [--idle] [--uffd] [--ksm] [--walkers] [--no-migrate]\n"
		"                [--fork] [--mremap] [--memcg]\n");
	exit(2);
}

static void parse(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seconds", 1, 0, 's' }, { "pmds", 1, 0, 'p' }, { "seed", 1, 0, 'S' },
		{ "compact-ms", 1, 0, 'c' }, { "pageout", 0, 0, 'o' }, { "idle", 0, 0, 'i' },
		{ "no-migrate", 0, 0, 'n' }, { "uffd", 0, 0, 'u' },
		{ "ksm", 0, 0, 'k' }, { "walkers", 0, 0, 'w' }, { "fork", 0, 0, 'f' },
		{ "mremap", 0, 0, 'm' }, { "memcg", 0, 0, 'g' }, { 0, 0, 0, 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': o.seconds = atof(optarg); break;
		case 'p': o.pmds = strtoul(optarg, NULL, 0); break;
		case 'S': o.seed = strtoull(optarg, NULL, 0) | 1; break;
		case 'c': o.compact_ms = strtoul(optarg, NULL, 0); break;
		case 'o': o.pageout = true; break;
		case 'i': o.idle = true; break;
		case 'n': o.no_migrate = true; break;
		case 'u': o.uffd = true; break;
		case 'k': o.ksm = true; break;
		case 'w': o.walkers = true; break;
		case 'f': o.fork = true; break;
		case 'm': o.mremap = true; break;
		case 'g': o.memcg = true; break;
		default: usage();
		}
	}
	if (o.pmds == 0 || o.seconds <= 0)
		usage();
}

static void kmsg(const char *msg)
{
	int fd = open("/dev/kmsg", O_WRONLY);

	if (fd >= 0) {
		if (write(fd, msg, strlen(msg)) < 0)
			perror("kmsg");
		close(fd);
	}
}

#include "thpracer_modes.h"

static void geometry(void)
{
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "r");
	unsigned long pmd = 0;

	page_bytes = (unsigned long)sysconf(_SC_PAGESIZE);
	if (f) {
		if (fscanf(f, "%lu", &pmd) != 1)
			pmd = 0;
		fclose(f);
	}
	pmd_pages = pmd ? pmd / page_bytes : page_bytes / 8;   /* 8-byte ptes per table */
}

static void setup(void)
{
	size_t len = o.pmds * PMD_SIZE;
	char *raw = mmap(NULL, len + PMD_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (raw == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	region = (char *)(((uintptr_t)raw + PMD_SIZE - 1) & ~(PMD_SIZE - 1));
	gen = calloc((o.pmds + MOVERS) * PMD_PAGES, 1);
	blk_large = calloc((o.pmds + MOVERS) * BLOCKS, sizeof(bool));
	madvise(region, len, MADV_NOHUGEPAGE);          /* small pages while populating */
	for (unsigned long p = 0; p < o.pmds * PMD_PAGES; p++)
		if (populated(p))
			fill(p);
	madvise(region, len, MADV_HUGEPAGE);            /* now khugepaged may take it */
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
	kpf_fd = open("/proc/kpageflags", O_RDONLY);
	split_debugfs = access(SPLIT_FILE, W_OK) == 0;
	if (o.mremap)
		movers_setup();
}

static void progress(double t0)
{
	fprintf(stderr, "thpracer: t=%.0fs moved=%lu collapsed_seen=%lu resplit=%lu verified=%lu "
		"corrupt=%lu compactions=%lu paged_out=%lu idle_rounds=%lu\n", now() - t0,
		atomic_load(&moved), atomic_load(&collapsed_seen), atomic_load(&resplit),
		atomic_load(&verified), atomic_load(&corrupt), atomic_load(&compactions),
		atomic_load(&paged_out), atomic_load(&idle_rounds));
}

static void report(double secs)
{
	printf("{\"event\":\"racer\",\"seed\":%llu,\"seconds\":%.2f,\"pmds\":%lu,\"nodes\":%d,"
	       "\"split\":\"%s\",\"moved\":%lu,\"move_calls\":%lu,\"move_failed\":%lu,"
	       "\"mbind_calls\":%lu,\"migrate_calls\":%lu,\"compactions\":%lu,"
	       "\"collapsed_seen\":%lu,\"resplit\":%lu,\"sweeps\":%lu,\"verified\":%lu,"
	       "\"touched\":%lu,\"corrupt\":%lu,\"paged_out\":%lu,\"idle_rounds\":%lu,"
	       "\"wp_protected\":%lu,\"wp_served\":%lu,\"wp_missed\":%lu,"
	       "\"ksm_pages_shared\":%ld,\"ksm_pages_sharing\":%ld,\"walks\":%lu,"
	       "\"gup_bytes\":%lu,\"page_size\":%lu,\"pmd_size\":%lu,",
	       (unsigned long long)o.seed, secs, o.pmds, nnodes,
	       split_debugfs ? "debugfs" : "dontneed", atomic_load(&moved),
	       atomic_load(&move_calls), atomic_load(&move_failed), atomic_load(&mbind_calls),
	       atomic_load(&migrate_calls), atomic_load(&compactions),
	       atomic_load(&collapsed_seen), atomic_load(&resplit), atomic_load(&sweeps),
	       atomic_load(&verified), atomic_load(&touched), atomic_load(&corrupt),
	       atomic_load(&paged_out), atomic_load(&idle_rounds), atomic_load(&wp_protected),
	       atomic_load(&wp_served), atomic_load(&wp_missed), ksm_shared, ksm_sharing,
	       atomic_load(&walks), atomic_load(&gup_bytes), PAGE, PMD_SIZE);
	modes_json();
	printf("}\n");
	fflush(stdout);
}

static void final_check(void)
{
	for (unsigned long p = 0; p < o.pmds * PMD_PAGES; p++)
		if (populated(p))
			check(p);
}

int main(int argc, char **argv)
{
	pthread_t th[12], handler;
	int nth = 0;
	char msg[160];
	double t0;

	parse(argc, argv);
	geometry();
	nnodes = read_nodes();
	if (!o.no_migrate && nnodes < 2) {
		fprintf(stderr, "thpracer: needs 2 NUMA nodes (CONFIG_NUMA, numa=fake=2 or a NUMA "
			"machine); /sys/devices/system/node/online has one\n");
		return 3;
	}
	if (o.memcg && !memcg_start())
		return 3;
	if (o.fork) {
		cs = mmap(NULL, sizeof(*cs), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (cs == MAP_FAILED)
			return 2;
	}
	setup();
	snprintf(msg, sizeof(msg), "thpracer: start seed=%llu pmds=%lu seconds=%.0f nodes=%d\n",
		 (unsigned long long)o.seed, o.pmds, o.seconds, nnodes);
	kmsg(msg);
	t0 = now();
	pthread_create(&th[nth++], NULL, mutator, NULL);
	if (!o.no_migrate)
		pthread_create(&th[nth++], NULL, migrator, NULL);
	if (o.compact_ms)
		pthread_create(&th[nth++], NULL, compactor, NULL);
	if (o.idle)
		pthread_create(&th[nth++], NULL, idler, NULL);
	if (o.pageout)
		pthread_create(&th[nth++], NULL, pager, NULL);
	if (o.walkers)
		pthread_create(&th[nth++], NULL, walker, NULL);
	if (o.fork)
		pthread_create(&th[nth++], NULL, forker, NULL);
	if (o.mremap)
		pthread_create(&th[nth++], NULL, mover, NULL);
	if (o.memcg)
		pthread_create(&th[nth++], NULL, reclaimer, NULL);
	if (o.ksm && !ksm_start())
		return 3;
	if (o.uffd) {
		if (!uffd_setup())
			return 3;
		pthread_create(&handler, NULL, uffd_handler, NULL);
		pthread_create(&th[nth++], NULL, wp_writer, NULL);
	}
	while (now() - t0 < o.seconds) {
		sleep(1);
		progress(t0);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	atomic_store(&handler_stop, true);
	if (o.uffd)
		pthread_join(handler, NULL);
	if (o.ksm) {
		ksm_shared = ksm_read("pages_shared");
		ksm_sharing = ksm_read("pages_sharing");
		ksm_stop();
	}
	final_check();
	if (o.mremap)
		movers_final_check();
	if (o.memcg)
		memcg_stop();
	report(now() - t0);
	kmsg("thpracer: done\n");
	return atomic_load(&corrupt) || (cs && atomic_load(&cs->corrupt)) ? 1 : 0;
}
