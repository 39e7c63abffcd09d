/* SPDX-License-Identifier: GPL-2.0 */
/*
 * clock.h - the workloads' clock (definitions in clock.c). Part of lib/, which the
 * image builder links into every workload binary (thpwork, thpracer, thpfile).
 */
#ifndef WORKLOADS_LIB_CLOCK_H
#define WORKLOADS_LIB_CLOCK_H

/* Seconds on CLOCK_MONOTONIC: durations and deadlines, never wall time. */
double now_s(void);
#endif /* WORKLOADS_LIB_CLOCK_H */
