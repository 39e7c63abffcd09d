// SPDX-License-Identifier: GPL-2.0
/* thpracer: ksm.c - definitions of ksm.h */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "clock.h"
#include "pageflags.h"
#include "sysfs.h"
#include "ksm.h"
#include "region.h"
#include "run.h"

long ksm_shared = -1, ksm_sharing = -1;
long ksm_shared_max = -1, ksm_full_scans = -1;
double ksm_warmup_s = -1;
atomic_ulong ksm_moved, ksm_sampled;
static long scans0;

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

static long ksm_read(const char *name)
{
	char path[96], buf[32];

	snprintf(path, sizeof(path), "/sys/kernel/mm/ksm/%s", name);
	if (!read_text(path, buf, sizeof(buf)))
		buf[0] = 0;
	return atol(buf);
}

bool ksm_start(void)
{
	const char *fast[] = { "1", "0", "2000" };

	if (madvise(region, o.pmds * PMD_SIZE, MADV_MERGEABLE)) {
		fprintf(stderr, "thpracer: MADV_MERGEABLE failed (CONFIG_KSM): %s\n", strerror(errno));
		return false;
	}
	for (int i = 0; i < 3; i++)
		if (!ksm_write(ksm_knobs[i], fast[i], ksm_saved[i], sizeof(ksm_saved[i])))
			return false;
	scans0 = ksm_read("full_scans");
	ksm_shared_max = 0;
	return true;
}

bool ksm_warmup(double limit)
{
	double t0 = now_s(), last = t0;
	bool merged;

	while (!(merged = ksm_read("pages_shared") > 0) && now_s() - t0 < limit) {
		usleep(100 * 1000);
		if (now_s() - last >= 5) {
			last = now_s();
			fprintf(stderr, "thpracer: ksm warm-up t=%.0fs full_scans=%ld pages_shared=0\n",
				last - t0, ksm_read("full_scans") - scans0);
		}
	}
	ksm_warmup_s = now_s() - t0;
	fprintf(stderr, "thpracer: ksm warm-up %s after %.1fs (full_scans=%ld)\n",
		merged ? "merged" : "gave up: nothing merged", ksm_warmup_s,
		ksm_read("full_scans") - scans0);
	return merged;
}

void ksm_sample(void)
{
	long n = ksm_read("pages_shared");

	if (n > ksm_shared_max)
		ksm_shared_max = n;
}

bool ksm_page(const void *va)
{
	return va_kpageflags(pagemap_fd, kpf_fd, va, PAGE) & KPF_KSM;
}


void ksm_finish(void)
{
	ksm_shared = ksm_read("pages_shared");
	ksm_sharing = ksm_read("pages_sharing");
	ksm_full_scans = ksm_read("full_scans") - scans0;
	ksm_sample();
	for (int i = 2; i >= 0; i--)
		ksm_write(ksm_knobs[i], ksm_saved[i], NULL, 0);
}
