// SPDX-License-Identifier: GPL-2.0
/* thpracer: memcg.c - definitions of memcg.h */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include "sysfs.h"
#include "memcg.h"
#include "region.h"
#include "run.h"

static char memcg_dir[64];
static atomic_ulong memcg_reclaims, memcg_reclaim_ok;
static long memcg_pgsteal = -1, memcg_pgscan = -1, memcg_high_events = -1, memcg_max_events = -1;

static bool write_str(const char *dir, const char *name, const char *value)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return write_text(path, value);
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

bool memcg_start(void)
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

void *reclaimer(void *arg)
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

void memcg_stop(void)
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

void memcg_json(void)
{
	printf(",\"memcg_reclaims\":%lu,\"memcg_reclaim_ok\":%lu,\"memcg_pgsteal\":%ld,"
	       "\"memcg_pgscan\":%ld,\"memcg_high_events\":%ld,\"memcg_max_events\":%ld",
	       atomic_load(&memcg_reclaims), atomic_load(&memcg_reclaim_ok), memcg_pgsteal,
	       memcg_pgscan, memcg_high_events, memcg_max_events);
}
