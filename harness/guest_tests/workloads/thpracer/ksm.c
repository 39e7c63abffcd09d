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
#include "sysfs.h"
#include "ksm.h"
#include "region.h"
#include "run.h"

long ksm_shared = -1, ksm_sharing = -1;

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
	return true;
}

static long ksm_read(const char *name)
{
	char path[96], buf[32];

	snprintf(path, sizeof(path), "/sys/kernel/mm/ksm/%s", name);
	if (!read_text(path, buf, sizeof(buf)))
		buf[0] = 0;
	return atol(buf);
}

void ksm_finish(void)
{
	ksm_shared = ksm_read("pages_shared");
	ksm_sharing = ksm_read("pages_sharing");
	for (int i = 2; i >= 0; i--)
		ksm_write(ksm_knobs[i], ksm_saved[i], NULL, 0);
}
