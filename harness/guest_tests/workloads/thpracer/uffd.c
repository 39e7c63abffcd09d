// SPDX-License-Identifier: GPL-2.0
/* thpracer: uffd.c - definitions of uffd.h */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "rng.h"
#include "region.h"
#include "run.h"
#include "uffd.h"

atomic_bool handler_stop;
atomic_ulong wp_protected, wp_served, wp_missed;

static int uffd = -1;

bool uffd_setup(void)
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

void *uffd_handler(void *arg)
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

void *wp_writer(void *arg)
{
	uint64_t s = o.seed ^ 0x3b;

	(void)arg;
	while (!atomic_load(&stop)) {
		unsigned long first = (xorshift64(&s) % (o.pmds * BLOCKS)) * BLOCK_PAGES, n = 0;
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
