// SPDX-License-Identifier: GPL-2.0
/* thpwork: watch.c - definitions of watch.h */
#define _GNU_SOURCE  /* before any system header: mremap, strerrorname_np, ... */
#include "watch.h"

static const char *const vmstat_prefixes[] = {
	"thp_", "compact_", "pswp", "nr_anon_transparent_hugepages", NULL
};

bool vmstat_wanted(const char *name)
{
	for (int i = 0; vmstat_prefixes[i]; i++)
		if (!strncmp(name, vmstat_prefixes[i], strlen(vmstat_prefixes[i])))
			return true;
	return false;
}

void dump_vmstat(struct jw *w)
{
	char name[128];
	unsigned long long v;
	FILE *f = fopen("/proc/vmstat", "r");

	jw_open(w, "vmstat", '{');
	while (f && fscanf(f, "%127s %llu", name, &v) == 2)
		if (vmstat_wanted(name))
			jw_u64(w, name, v);
	jw_close(w, '}');
	if (f)
		fclose(f);
}

void dump_size_stats(struct jw *w, const char *dirname)
{
	char path[PATH_MAX];
	struct dirent *de;
	uint64_t v;
	DIR *d;

	snprintf(path, sizeof(path), THP_ROOT "/%s/stats", dirname);
	d = opendir(path);
	if (!d)
		return;
	jw_open(w, dirname + strlen("hugepages-"), '{');
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), THP_ROOT "/%s/stats/%s", dirname, de->d_name);
		if (read_u64(path, &v))
			jw_u64(w, de->d_name, v);
	}
	jw_close(w, '}');
	closedir(d);
}

/* "sizes": {"64kB": {...}, ...}  (key = directory name without "hugepages-") */
void dump_sizes(struct jw *w)
{
	struct dirent *de;
	DIR *d = opendir(THP_ROOT);

	jw_open(w, "sizes", '{');
	while (d && (de = readdir(d)))
		if (!strncmp(de->d_name, "hugepages-", 10))
			dump_size_stats(w, de->d_name);
	jw_close(w, '}');
	if (d)
		closedir(d);
}

uint64_t khugepaged_num(const char *name)
{
	char path[PATH_MAX];
	uint64_t v = 0;

	snprintf(path, sizeof(path), THP_ROOT "/khugepaged/%s", name);
	read_u64(path, &v);
	return v;
}

void emit_counters(FILE *out, const char *event, long n, double t0)
{
	struct jw w;

	jw_begin(&w, out, event);
	jw_int(&w, "n", n);
	jw_dbl(&w, "t", now_s() - t0);
	jw_u64(&w, "full_scans", khugepaged_num("full_scans"));
	jw_u64(&w, "pages_collapsed", khugepaged_num("pages_collapsed"));
	dump_vmstat(&w);
	dump_sizes(&w);
	jw_end(&w);
}

bool pid_alive(pid_t pid)
{
	return pid <= 0 || kill(pid, 0) == 0 || errno != ESRCH;
}

int watch_run(FILE *out, long scans, double timeout, long interval_ms, pid_t pid)
{
	double t0 = now_s();
	uint64_t base = khugepaged_num("full_scans"), last = base, cur;

	emit_counters(out, "scan", 0, t0);
	while ((long)(last - base) < scans) {
		usleep((useconds_t)interval_ms * 1000);
		cur = khugepaged_num("full_scans");
		if (cur != last) {
			last = cur;
			emit_counters(out, "scan", (long)(cur - base), t0);
			continue;
		}
		if (!pid_alive(pid)) {
			emit_counters(out, "pid_exited", (long)(cur - base), t0);
			return EXIT_GONE;
		}
		if (now_s() - t0 > timeout) {
			emit_counters(out, "timeout", (long)(cur - base), t0);
			return EXIT_TIMEOUT;
		}
	}
	return EXIT_OK;
}
