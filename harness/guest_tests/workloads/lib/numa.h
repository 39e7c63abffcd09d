/* SPDX-License-Identifier: GPL-2.0 */
/*
 * numa.h - the NUMA nodes a workload migrates between (definitions in numa.c).
 */
#ifndef WORKLOADS_LIB_NUMA_H
#define WORKLOADS_LIB_NUMA_H

/* The first two online nodes ("a-b" of /sys/devices/system/node/online) in nodes[0..1]
 * and 2, or 1 with one node online (nodes[0] == nodes[1]; untouched if the file is
 * missing). */
int online_nodes(int nodes[2]);
#endif /* WORKLOADS_LIB_NUMA_H */
