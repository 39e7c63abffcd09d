// SPDX-License-Identifier: GPL-2.0
/* lib: numa.c - definitions of numa.h */
#define _GNU_SOURCE
#include <stdio.h>
#include "numa.h"

int online_nodes(int nodes[2])
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
