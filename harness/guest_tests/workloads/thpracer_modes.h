/* SPDX-License-Identifier: GPL-2.0 */
/*
 * thpracer's --fork, --mremap and --memcg racers (included by thpracer.c, after the region
 * helpers: populated, fill, check, sweep_block, page_addr).
 *
 *   fork    every 10 ms a child is forked (copy_page_range under the collapse) that
 *           verifies one PMD's pages, writes its neighbours (COW), MADV_PAGEOUTs them (its
 *           exclusive copies: reclaim's try_to_unmap over the shared anon_vma tree) and
 *           verifies them again after swap-in; the parent writes the PMD's collapse
 *           ranges (same values: COW on its side) while the child shares them. Counters
 *           in a MAP_SHARED page (forks, child_verified, cow_writes, child_paged_out).
 *   mremap  MOVERS PMDs of their own (the region's pattern) moved whole by mremap()
 *           between PMD-aligned slots (move_page_tables moves the PMD entry: the page
 *           table, or the huge PMD) every 2 ms; before each move the mover verifies the
 *           PMD, counts its blocks found collapsed (mremap_collapsed_seen), re-splits them.
 *   memcg   the process runs in its own memory cgroup (cgroup2 mounted on /sys/fs/cgroup
 *           if it is not): memory.max = the populated size (region and movers) + 12 MB
 *           (a max_ptes_none 511 collapse fills holes: limit reclaim in the charging
 *           context, khugepaged's included; no memory.high, whose throttling sleeps
 *           stalled every thread), and memory.reclaim of 1M every 50 ms (proactive
 *           reclaim to swap) while khugepaged collapses; memory.stat pgsteal / pgscan and
 *           memory.events high / max are reported.
 */
#include <sys/mount.h>
#include <sys/stat.h>

struct child_stats {
	atomic_ulong forks, verified, corrupt, cow_writes, paged_out;
};

static struct child_stats *cs;
static char *mover_area;
static unsigned long mover_slot[MOVERS];
static atomic_ulong mremaps, mremap_failed, mremap_collapsed_seen;
static char memcg_dir[64];
static atomic_ulong memcg_reclaims, memcg_reclaim_ok;
static long memcg_pgsteal = -1, memcg_pgscan = -1, memcg_high_events = -1, memcg_max_events = -1;

/* ---------------------------------------------------------------- fork / COW */

static void child_run(unsigned long pmd)
{
	unsigned long first = pmd * PMD_PAGES, ok = 0, bad = 0, cow = 0, out = 0;

	for (unsigned long p = first; p < first + PMD_PAGES; p++)
		if (populated(p) && split_debugfs)  /* contents stable: no DONTNEED rewrites */
			check(p) ? ok++ : bad++;
	for (unsigned long p = first; p < first + PMD_PAGES; p++)
		if (populated(p) && (p % PMD_PAGES / BLOCK_PAGES) % 2 == 1) {
			fill(p);                    /* the child's own copy (COW) */
			cow++;
		}
	for (unsigned long b = 1; b < BLOCKS; b += 2)
		if (madvise(page_addr(first + b * BLOCK_PAGES), SPARSE * PAGE, MADV_PAGEOUT) == 0)
			out++;
	for (unsigned long p = first; p < first + PMD_PAGES; p++)
		if (populated(p) && (p % PMD_PAGES / BLOCK_PAGES) % 2 == 1)
			check(p) ? ok++ : bad++;    /* swapped in again: the child's values */
	atomic_fetch_add(&cs->verified, ok);
	atomic_fetch_add(&cs->corrupt, bad);
	atomic_fetch_add(&cs->cow_writes, cow);
	atomic_fetch_add(&cs->paged_out, out);
	_exit(bad ? 1 : 0);
}

static void reap(pid_t pid)
{
	double deadline = 0;
	int st;

	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (atomic_load(&stop) && !deadline)
			deadline = now() + 30;
		if (deadline && now() > deadline) {
			kill(pid, SIGKILL);
			deadline = now() + 1e9;
		}
		usleep(1000);
	}
}

static void *forker(void *arg)
{
	uint64_t s = o.seed ^ 0xf02c;

	(void)arg;
	while (!atomic_load(&stop)) {
		unsigned long pmd = rnd(&s) % o.pmds;
		pid_t pid = fork();

		if (pid == 0)
			child_run(pmd);
		if (pid < 0) {
			usleep(10000);
			continue;
		}
		atomic_fetch_add(&cs->forks, 1);
		for (unsigned long b = 0; b < BLOCKS; b += 2) {  /* COW on the parent's side */
			volatile uint64_t *w = (volatile uint64_t *)page_addr(pmd * PMD_PAGES + b * BLOCK_PAGES);

			w[0] = w[0];
		}
		reap(pid);
		usleep(10000);
	}
	return NULL;
}

/* ---------------------------------------------------------------- mremap */

static void movers_setup(void)
{
	char *raw = mmap(NULL, (2 * MOVERS + 1) * PMD_SIZE, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (raw == MAP_FAILED) {
		perror("thpracer: mmap movers");
		exit(2);
	}
	mover_area = (char *)(((uintptr_t)raw + PMD_SIZE - 1) & ~(PMD_SIZE - 1));
	for (unsigned long i = 0; i < MOVERS; i++) {
		char *at = mover_area + i * PMD_SIZE;

		if (mmap(at, PMD_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
			 -1, 0) != at) {
			perror("thpracer: mmap mover");
			exit(2);
		}
		mover_at[i] = at;
		mover_slot[i] = i;
		madvise(at, PMD_SIZE, MADV_NOHUGEPAGE);
		for (unsigned long p = (o.pmds + i) * PMD_PAGES; p < (o.pmds + i + 1) * PMD_PAGES; p++)
			if (populated(p))
				fill(p);
		madvise(at, PMD_SIZE, MADV_HUGEPAGE);
	}
}

static void *mover(void *arg)
{
	(void)arg;
	for (unsigned long round = 0; !atomic_load(&stop); round++) {
		unsigned long i = round % MOVERS, first = (o.pmds + i) * PMD_PAGES;
		unsigned long to = mover_slot[i] < MOVERS ? mover_slot[i] + MOVERS : mover_slot[i] - MOVERS;
		char *old = mover_at[i], *new = mover_area + to * PMD_SIZE;

		for (unsigned long b = 0; b < BLOCKS; b++)
			if (sweep_block(first + b * BLOCK_PAGES))
				atomic_fetch_add(&mremap_collapsed_seen, 1);
		if (mremap(old, PMD_SIZE, PMD_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, new) != new) {
			atomic_fetch_add(&mremap_failed, 1);
			usleep(2000);
			continue;
		}
		mover_at[i] = new;
		mover_slot[i] = to;
		atomic_fetch_add(&mremaps, 1);
		/* keep the slot reserved for the way back */
		mmap(old, PMD_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
		usleep(2000);
	}
	return NULL;
}

static void movers_final_check(void)
{
	for (unsigned long p = o.pmds * PMD_PAGES; p < (o.pmds + MOVERS) * PMD_PAGES; p++)
		if (populated(p))
			check(p);
}

/* ---------------------------------------------------------------- memcg */

static bool write_str(const char *dir, const char *name, const char *value)
{
	char path[128];
	int fd, n = (int)strlen(value);
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return false;
	ok = write(fd, value, n) == n;
	close(fd);
	return ok;
}

static long read_key(const char *name, const char *key)
{
	char path[128], line[128];
	long value = -1;
	size_t len = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", memcg_dir, name);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, len) && line[len] == ' ')
			value = atol(line + len + 1);
	if (f)
		fclose(f);
	return value;
}

static bool memcg_start(void)
{
	const char *root = "/sys/fs/cgroup";
	char value[32];
	unsigned long pmds = o.pmds + (o.mremap ? MOVERS : 0);
	unsigned long populated_pages = pmds * (PMD_PAGES / 2 + BLOCKS / 2 * SPARSE);

	if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) &&
	    mount("none", root, "cgroup2", 0, NULL)) {
		fprintf(stderr, "thpracer: cannot mount cgroup2 on %s (CONFIG_CGROUPS): %s\n", root,
			strerror(errno));
		return false;
	}
	write_str(root, "cgroup.subtree_control", "+memory");
	snprintf(memcg_dir, sizeof(memcg_dir), "%s/thpracer-%d", root, (int)getpid());
	if (mkdir(memcg_dir, 0755) || !write_str(memcg_dir, "memory.max", "max")) {
		fprintf(stderr, "thpracer: no memory cgroup controller (CONFIG_MEMCG): %s\n",
			strerror(errno));
		return false;
	}
	snprintf(value, sizeof(value), "%lu", populated_pages * PAGE + (12UL << 20));
	write_str(memcg_dir, "memory.max", value);
	snprintf(value, sizeof(value), "%d", (int)getpid());
	if (!write_str(memcg_dir, "cgroup.procs", value)) {
		fprintf(stderr, "thpracer: cannot join %s: %s\n", memcg_dir, strerror(errno));
		return false;
	}
	return true;
}

static void *reclaimer(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		atomic_fetch_add(&memcg_reclaims, 1);
		if (write_str(memcg_dir, "memory.reclaim", "1M"))
			atomic_fetch_add(&memcg_reclaim_ok, 1);
		usleep(50000);
	}
	return NULL;
}

static void memcg_stop(void)
{
	char pid[16];

	memcg_pgsteal = read_key("memory.stat", "pgsteal");
	memcg_pgscan = read_key("memory.stat", "pgscan");
	memcg_high_events = read_key("memory.events", "high");
	memcg_max_events = read_key("memory.events", "max");
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	write_str("/sys/fs/cgroup", "cgroup.procs", pid);
	rmdir(memcg_dir);
}

/* ---------------------------------------------------------------- report */

static void modes_json(void)
{
	printf("\"forks\":%lu,\"child_verified\":%lu,\"child_corrupt\":%lu,\"cow_writes\":%lu,"
	       "\"child_paged_out\":%lu,\"mremaps\":%lu,\"mremap_failed\":%lu,"
	       "\"mremap_collapsed_seen\":%lu,\"memcg_reclaims\":%lu,\"memcg_reclaim_ok\":%lu,"
	       "\"memcg_pgsteal\":%ld,\"memcg_pgscan\":%ld,\"memcg_high_events\":%ld,"
	       "\"memcg_max_events\":%ld",
	       cs ? atomic_load(&cs->forks) : 0, cs ? atomic_load(&cs->verified) : 0,
	       cs ? atomic_load(&cs->corrupt) : 0, cs ? atomic_load(&cs->cow_writes) : 0,
	       cs ? atomic_load(&cs->paged_out) : 0, atomic_load(&mremaps),
	       atomic_load(&mremap_failed), atomic_load(&mremap_collapsed_seen),
	       atomic_load(&memcg_reclaims), atomic_load(&memcg_reclaim_ok), memcg_pgsteal,
	       memcg_pgscan, memcg_high_events, memcg_max_events);
}
