// SPDX-License-Identifier: GPL-2.0
/* lib: clock.c - definitions of clock.h */
#define _GNU_SOURCE
#include <time.h>
#include "clock.h"

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}
