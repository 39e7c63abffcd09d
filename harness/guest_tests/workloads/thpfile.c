// SPDX-License-Identifier: GPL-2.0
/*
 * thpfile - truncation, hole punching and migration racing file/shmem collapse.
 *
 * Build: gcc -static -O2 -Wall -Wextra -pthread thpfile.c -o thpfile
 *
 * A shmem file of --pmds PMDs (a memfd, or with --tmpfs a file on a tmpfs mounted here
 * with huge=within_size) is mapped twice, MAP_SHARED and PMD-aligned (two VMAs: a file
 * collapse retracts the page tables of every VMA mapping the range), populated with small
 * pages under MADV_NOHUGEPAGE, then advised MADV_HUGEPAGE so khugepaged collapses it
 * (collapse_file + retract_page_tables) under the shmem knobs in force. Threads for
 * --seconds:
 *
 *   mutator   sweeps the PMDs, alternating the two mappings: verifies every page (a page
 *             holds its stamp, or zeros after a punch: anything else is a finding), counts
 *             the PMDs found collapsed (page 0 a compound head and page 256 a tail in
 *             /proc/kpageflags: a PMD-order folio) and re-splits them (debugfs
 *             split_huge_pages) so the collapses go on; rewrites one page per PMD.
 *   collapse  MADV_COLLAPSE of a random PMD through either mapping, every 2 ms.
 *   punch     fallocate(PUNCH_HOLE) of 1..16 pages (every other time an aligned 64K
 *             block, so a refill fault may allocate a 64K shmem folio), reads them back
 *             as zeros through the other mapping (a pte a collapse hid from the punch's
 *             unmap would still show the old page) and through pread, refills half.
 *   truncate  ftruncate into the last two PMDs and back, every 20 ms: the pages below the
 *             cut must survive, those above read zero; refills half of them.
 *   migrate   move_pages(MPOL_MF_MOVE_ALL) of every 8th page of a PMD to the other NUMA
 *             node (rmap walks over both VMAs), when the guest has two nodes.
 *
 * User threads never touch a PMD another thread is changing (a mutex per PMD); the races
 * are with khugepaged, MADV_COLLAPSE and the kernel's own walkers. --inject-corruption
 * changes one word of the file behind the checker's back after a second (pwrite: the
 * checker must report it, exit 1; the host test proves the checker with it). Findings
 * are printed on stderr and written to /dev/kmsg ("thpfile: FINDING"; not with
 * --no-kmsg, for runs on a host). Output: one JSON line
 * ("event":"thpfile") at the end. Exit: 0 ok, 1 finding, 2 usage, 3 missing feature.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* the base page and PMD of the running kernel (4K/2M, arm64 16K/32M, 64K/512M): geometry() */
static unsigned long page_bytes, pmd_pages;
#define PAGE page_bytes
#define PMD_PAGES pmd_pages
#define PMD_SIZE (PAGE * PMD_PAGES)
#define MAX_PAGE 65536UL
#define BLOCK_PAGES 16UL
#define KPF_COMPOUND_HEAD 15
#define KPF_COMPOUND_TAIL 16
#define MPOL_MF_MOVE_ALL (1 << 2)
#define SPLIT_FILE "/sys/kernel/debug/split_huge_pages"
#define TMPFS_DIR "/tmp/thpfile-tmpfs"
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

struct opts {
	double seconds;
	unsigned long pmds;
	uint64_t seed;
	bool tmpfs, no_collapse, no_punch, no_truncate, no_migrate, inject, no_kmsg;
};

static struct opts o = { .seconds = 10, .pmds = 8, .seed = 1 };
static int fd = -1, kpf_fd = -1, pagemap_fd = -1, nodes[2], nnodes;
static char *map[2];
static uint8_t *gen;                        /* per page: 0 = a hole (zeros), else stamp */
static bool *pmd_large;
static pthread_mutex_t *lock;
static atomic_bool stop;
static atomic_ulong verified, corrupt, collapsed_seen, resplit, sweeps, rewrites;
static atomic_ulong collapse_calls, collapse_ok, collapse_again, collapse_other;
static atomic_ulong punches, punched_pages, refills, truncations, truncated_pages;
static atomic_ulong moved, move_calls;
static bool split_debugfs;

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

static void kmsg(const char *msg)
{
	int k = o.no_kmsg ? -1 : open("/dev/kmsg", O_WRONLY);

	if (k >= 0) {
		if (write(k, msg, strlen(msg)) < 0)
			perror("kmsg");
		close(k);
	}
}

static uint64_t stamp(unsigned long page, unsigned int g, unsigned long word)
{
	if (!g)
		return 0;
	return (o.seed * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)page << 20) ^ ((uint64_t)g << 12) ^ word;
}

static void fill(unsigned long page)
{
	uint64_t *w = (uint64_t *)(map[page % 2] + page * PAGE);

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
		kmsg(msg);
}

/* The page through mapping `m` (0/1) holds its stamp (or zeros for a hole). */
static bool check(unsigned long page, int m)
{
	volatile uint64_t *w = (volatile uint64_t *)(map[m] + page * PAGE);

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

/* The page cache itself (pread: no page table involved) holds the same. */
static bool check_pread(unsigned long page)
{
	static __thread uint64_t buf[MAX_PAGE / 8];

	if (pread(fd, buf, PAGE, page * PAGE) != (ssize_t)PAGE) {
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

static uint64_t kpageflags(unsigned long page, int m)
{
	uint64_t pm, flags;
	uintptr_t va = (uintptr_t)(map[m] + page * PAGE);

	if (pagemap_fd < 0 || kpf_fd < 0)
		return 0;
	if (pread(pagemap_fd, &pm, 8, (va / PAGE) * 8) != 8 || !(pm >> 63))
		return 0;
	pm &= (1ULL << 55) - 1;
	if (!pm || pread(kpf_fd, &flags, 8, pm * 8) != 8)
		return 0;
	return flags;
}

/* A PMD-order folio backs the PMD: folios are index-aligned, so page 0 a head and page
 * 256 a tail means one folio of order >= 9 (both just read through mapping m). */
static bool pmd_folio(unsigned long pmd, int m)
{
	unsigned long first = pmd * PMD_PAGES;

	return (kpageflags(first, m) >> KPF_COMPOUND_HEAD & 1) &&
	       (kpageflags(first + PMD_PAGES / 2, m) >> KPF_COMPOUND_TAIL & 1);
}

static void split_pmd(unsigned long pmd)
{
	char buf[96];
	int s = open(SPLIT_FILE, O_WRONLY), n;

	if (s < 0)
		return;
	n = snprintf(buf, sizeof(buf), "%d,%#lx,%#lx", (int)getpid(),
		     (unsigned long)(map[0] + pmd * PMD_SIZE), (unsigned long)(map[0] + (pmd + 1) * PMD_SIZE));
	if (write(s, buf, n) == n)
		atomic_fetch_add(&resplit, 1);
	close(s);
}

static void *mutator(void *arg)
{
	uint64_t s = o.seed ^ 0x5eed;

	(void)arg;
	for (unsigned long sweep = 0; !atomic_load(&stop); sweep++) {
		for (unsigned long pmd = 0; pmd < o.pmds && !atomic_load(&stop); pmd++) {
			unsigned long first = pmd * PMD_PAGES;

			pthread_mutex_lock(&lock[pmd]);
			for (unsigned long p = first; p < first + PMD_PAGES; p++)
				check(p, (p + sweep) % 2);
			if (pmd_folio(pmd, sweep % 2)) {
				if (!pmd_large[pmd])
					atomic_fetch_add(&collapsed_seen, 1);
				pmd_large[pmd] = true;
				if (split_debugfs && sweep % 2)
					split_pmd(pmd);
			} else {
				pmd_large[pmd] = false;
			}
			fill(first + rnd(&s) % PMD_PAGES);
			pthread_mutex_unlock(&lock[pmd]);
		}
		atomic_fetch_add(&sweeps, 1);
	}
	return NULL;
}

static void *collapser(void *arg)
{
	uint64_t s = o.seed ^ 0xc0;

	(void)arg;
	while (!atomic_load(&stop)) {
		unsigned long pmd = rnd(&s) % o.pmds;

		atomic_fetch_add(&collapse_calls, 1);
		if (madvise(map[rnd(&s) % 2] + pmd * PMD_SIZE, PMD_SIZE, MADV_COLLAPSE) == 0)
			atomic_fetch_add(&collapse_ok, 1);
		else if (errno == EAGAIN)
			atomic_fetch_add(&collapse_again, 1);
		else
			atomic_fetch_add(&collapse_other, 1);
		usleep(2000);
	}
	return NULL;
}

/* Pages [first, first + n) were punched or truncated: zeros through the other mapping
 * (a stale pte would show the old page) and through pread; refill them half the time. */
static void after_hole(unsigned long first, unsigned long n, uint64_t *s)
{
	for (unsigned long p = first; p < first + n; p++)
		gen[p] = 0;
	check(first, 1);
	for (unsigned long p = first; p < first + n; p++)
		check_pread(p);
	if (rnd(s) % 2)
		for (unsigned long p = first; p < first + n; p++) {
			fill(p);
			atomic_fetch_add(&refills, 1);
		}
}

static void *puncher(void *arg)
{
	uint64_t s = o.seed ^ 0x9c;

	(void)arg;
	for (unsigned long round = 0; !atomic_load(&stop); round++) {
		unsigned long pmd = rnd(&s) % o.pmds, first, n;

		if (round % 2) {                    /* an aligned 64K block */
			first = pmd * PMD_PAGES + (rnd(&s) % (PMD_PAGES / BLOCK_PAGES)) * BLOCK_PAGES;
			n = BLOCK_PAGES;
		} else {
			n = 1 + rnd(&s) % BLOCK_PAGES;
			first = pmd * PMD_PAGES + rnd(&s) % (PMD_PAGES - n);
		}
		pthread_mutex_lock(&lock[pmd]);
		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, first * PAGE, n * PAGE) == 0) {
			atomic_fetch_add(&punches, 1);
			atomic_fetch_add(&punched_pages, n);
			after_hole(first, n, &s);
		}
		pthread_mutex_unlock(&lock[pmd]);
		usleep(1000);
	}
	return NULL;
}

static void *truncator(void *arg)
{
	uint64_t s = o.seed ^ 0x7c;
	unsigned long tail = o.pmds >= 2 ? o.pmds - 2 : 0, end = o.pmds * PMD_PAGES;

	(void)arg;
	while (!atomic_load(&stop)) {
		unsigned long cut = tail * PMD_PAGES + 1 + rnd(&s) % (end - tail * PMD_PAGES - 1);

		for (unsigned long pmd = tail; pmd < o.pmds; pmd++)
			pthread_mutex_lock(&lock[pmd]);
		if (ftruncate(fd, cut * PAGE) == 0) {
			for (unsigned long p = tail * PMD_PAGES; p < cut; p++)
				check(p, p % 2);
			if (ftruncate(fd, end * PAGE)) {
				perror("thpfile: ftruncate back");
				exit(2);
			}
			atomic_fetch_add(&truncations, 1);
			atomic_fetch_add(&truncated_pages, end - cut);
			after_hole(cut, end - cut, &s);
		}
		for (unsigned long pmd = o.pmds; pmd-- > tail;)
			pthread_mutex_unlock(&lock[pmd]);
		usleep(20000);
	}
	return NULL;
}

static void *migrator(void *arg)
{
	void *pages[PMD_PAGES / 8];
	int to[PMD_PAGES / 8], status[PMD_PAGES / 8];
	uint64_t s = o.seed ^ 0x3e;

	(void)arg;
	for (unsigned long round = 0; !atomic_load(&stop); round++) {
		unsigned long pmd = rnd(&s) % o.pmds, n = PMD_PAGES / 8;

		for (unsigned long i = 0; i < n; i++) {
			pages[i] = map[round % 2] + pmd * PMD_SIZE + i * 8 * PAGE;
			to[i] = nodes[round / o.pmds % 2];
		}
		atomic_fetch_add(&move_calls, 1);
		if (syscall(SYS_move_pages, 0, n, pages, to, status, MPOL_MF_MOVE_ALL) == 0)
			for (unsigned long i = 0; i < n; i++)
				if (status[i] == to[i])
					atomic_fetch_add(&moved, 1);
		usleep(1000);
	}
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: thpfile [--seconds S] [--pmds N] [--seed N] [--tmpfs] [--no-collapse]\n"
		"               [--no-punch] [--no-truncate] [--no-migrate] [--inject-corruption]\n"
		"               [--no-kmsg]\n");
	exit(2);
}

static void parse(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seconds", 1, 0, 's' }, { "pmds", 1, 0, 'p' }, { "seed", 1, 0, 'S' },
		{ "tmpfs", 0, 0, 't' }, { "no-collapse", 0, 0, 'c' }, { "no-punch", 0, 0, 'h' },
		{ "no-truncate", 0, 0, 'T' }, { "no-migrate", 0, 0, 'm' },
		{ "inject-corruption", 0, 0, 'I' }, { "no-kmsg", 0, 0, 'K' }, { 0, 0, 0, 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': o.seconds = atof(optarg); break;
		case 'p': o.pmds = strtoul(optarg, NULL, 0); break;
		case 'S': o.seed = strtoull(optarg, NULL, 0) | 1; break;
		case 't': o.tmpfs = true; break;
		case 'c': o.no_collapse = true; break;
		case 'h': o.no_punch = true; break;
		case 'T': o.no_truncate = true; break;
		case 'm': o.no_migrate = true; break;
		case 'I': o.inject = true; break;
		case 'K': o.no_kmsg = true; break;
		default: usage();
		}
	}
	if (o.pmds < 2 || o.seconds <= 0)
		usage();
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
	char *at = (char *)(((uintptr_t)raw + PMD_SIZE - 1) & ~(PMD_SIZE - 1));

	if (raw == MAP_FAILED || mmap(at, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) != at) {
		perror("thpfile: mmap");
		exit(2);
	}
	return at;
}

static void setup(void)
{
	size_t len = o.pmds * PMD_SIZE;

	fd = open_file();
	if (fd < 0 || ftruncate(fd, len)) {
		fprintf(stderr, "thpfile: shmem file (CONFIG_SHMEM/MEMFD): %s\n", strerror(errno));
		exit(3);
	}
	gen = calloc(o.pmds * PMD_PAGES, 1);
	pmd_large = calloc(o.pmds, sizeof(bool));
	lock = calloc(o.pmds, sizeof(*lock));
	for (unsigned long i = 0; i < o.pmds; i++)
		pthread_mutex_init(&lock[i], NULL);
	for (int m = 0; m < 2; m++) {
		map[m] = map_aligned(len);
		madvise(map[m], len, MADV_NOHUGEPAGE);  /* small folios while populating */
	}
	for (unsigned long p = 0; p < o.pmds * PMD_PAGES; p++)
		fill(p);
	for (int m = 0; m < 2; m++)
		if (madvise(map[m], len, MADV_HUGEPAGE)) {
			fprintf(stderr, "thpfile: MADV_HUGEPAGE (CONFIG_TRANSPARENT_HUGEPAGE): %s\n",
				strerror(errno));
			exit(3);
		}
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
	kpf_fd = open("/proc/kpageflags", O_RDONLY);
	split_debugfs = access(SPLIT_FILE, W_OK) == 0;
}

static void report(double secs)
{
	printf("{\"event\":\"thpfile\",\"seed\":%llu,\"seconds\":%.2f,\"pmds\":%lu,\"backing\":\"%s\","
	       "\"nodes\":%d,\"verified\":%lu,\"corrupt\":%lu,\"collapsed_seen\":%lu,\"resplit\":%lu,"
	       "\"sweeps\":%lu,\"rewrites\":%lu,\"collapse_calls\":%lu,\"collapse_ok\":%lu,"
	       "\"collapse_again\":%lu,\"collapse_other\":%lu,\"punches\":%lu,\"punched_pages\":%lu,"
	       "\"refills\":%lu,\"truncations\":%lu,\"truncated_pages\":%lu,\"moved\":%lu,"
	       "\"move_calls\":%lu}\n",
	       (unsigned long long)o.seed, secs, o.pmds, o.tmpfs ? "tmpfs" : "memfd", nnodes,
	       atomic_load(&verified), atomic_load(&corrupt), atomic_load(&collapsed_seen),
	       atomic_load(&resplit), atomic_load(&sweeps), atomic_load(&rewrites),
	       atomic_load(&collapse_calls), atomic_load(&collapse_ok), atomic_load(&collapse_again),
	       atomic_load(&collapse_other), atomic_load(&punches), atomic_load(&punched_pages),
	       atomic_load(&refills), atomic_load(&truncations), atomic_load(&truncated_pages),
	       atomic_load(&moved), atomic_load(&move_calls));
	fflush(stdout);
}

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
	if (page_bytes > MAX_PAGE) {
		fprintf(stderr, "thpfile: page size %lu above %lu\n", page_bytes, MAX_PAGE);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	pthread_t th[5];
	int nth = 0;
	char msg[160];
	double t0;

	parse(argc, argv);
	geometry();
	nnodes = read_nodes();
	setup();
	snprintf(msg, sizeof(msg), "thpfile: start seed=%llu pmds=%lu seconds=%.0f backing=%s nodes=%d\n",
		 (unsigned long long)o.seed, o.pmds, o.seconds, o.tmpfs ? "tmpfs" : "memfd", nnodes);
	kmsg(msg);
	t0 = now();
	pthread_create(&th[nth++], NULL, mutator, NULL);
	if (!o.no_collapse)
		pthread_create(&th[nth++], NULL, collapser, NULL);
	if (!o.no_punch)
		pthread_create(&th[nth++], NULL, puncher, NULL);
	if (!o.no_truncate)
		pthread_create(&th[nth++], NULL, truncator, NULL);
	if (!o.no_migrate && nnodes == 2)
		pthread_create(&th[nth++], NULL, migrator, NULL);
	while (now() - t0 < o.seconds) {
		sleep(1);
		if (o.inject) {                     /* the checker's own proof: one word changed */
			uint64_t bad = 0xbadc0ffee;

			pthread_mutex_lock(&lock[0]);
			if (pwrite(fd, &bad, 8, 8 * 8) != 8)
				perror("thpfile: inject");
			pthread_mutex_unlock(&lock[0]);
			o.inject = false;
		}
		fprintf(stderr, "thpfile: t=%.0fs verified=%lu corrupt=%lu collapsed_seen=%lu "
			"collapse_ok=%lu punches=%lu truncations=%lu moved=%lu\n", now() - t0,
			atomic_load(&verified), atomic_load(&corrupt), atomic_load(&collapsed_seen),
			atomic_load(&collapse_ok), atomic_load(&punches), atomic_load(&truncations),
			atomic_load(&moved));
	}
	atomic_store(&stop, true);
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	for (unsigned long p = 0; p < o.pmds * PMD_PAGES; p++)
		if (check(p, p % 2))
			check_pread(p);
	report(now() - t0);
	kmsg("thpfile: done\n");
	if (o.tmpfs) {
		close(fd);
		umount2(TMPFS_DIR, MNT_DETACH);
	}
	return atomic_load(&corrupt) ? 1 : 0;
}
