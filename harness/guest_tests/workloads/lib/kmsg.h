/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kmsg.h - lines into the kernel log (definitions in kmsg.c): a workload's start,
 * end and findings land in the guest console between the splats they may explain
 * (bench/racers.py times a splat from the "<binary>: start" line).
 */
#ifndef WORKLOADS_LIB_KMSG_H
#define WORKLOADS_LIB_KMSG_H

/* One write(2) of msg (a whole line, '\n' included) to /dev/kmsg; nothing if it cannot
 * be opened, perror("kmsg") if the write fails. */
void kmsg(const char *msg);
#endif /* WORKLOADS_LIB_KMSG_H */
