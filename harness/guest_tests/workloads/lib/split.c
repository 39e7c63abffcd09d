// SPDX-License-Identifier: GPL-2.0
/* lib: split.c - definitions of split.h */
#define _GNU_SOURCE
#include <stdio.h>
#include <unistd.h>
#include <sys/mount.h>
#include "split.h"
#include "sysfs.h"

bool split_available(void)
{
	return access(SPLIT_HUGE_PAGES, W_OK) == 0;
}

bool split_mount_debugfs(void)
{
	if (split_available())
		return true;
	mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	return split_available();
}

bool split_huge_range(pid_t pid, const void *start, const void *end, int order)
{
	char buf[96];

	if (order < 0)
		snprintf(buf, sizeof(buf), "%d,0x%lx,0x%lx", (int)pid, (unsigned long)start,
			 (unsigned long)end);
	else
		snprintf(buf, sizeof(buf), "%d,0x%lx,0x%lx,%d", (int)pid, (unsigned long)start,
			 (unsigned long)end, order);
	return write_text(SPLIT_HUGE_PAGES, buf);
}
