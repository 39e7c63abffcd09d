/* SPDX-License-Identifier: GPL-2.0 */
/*
 * uffd.h - thpracer's userfaultfd write-protect racer, --uffd (definitions in uffd.c).
 *
 * The region is registered in WP mode; the wp thread protects one block's populated
 * pages, writes each (same value back), and the handler thread serves the WP fault by
 * unprotecting. Every protected page written must raise exactly one event: khugepaged
 * must keep out of (or preserve) write-protected ptes, so a missing event (wp_missed)
 * means a collapse or a walker dropped the uffd-wp bit.
 */
#ifndef THPRACER_UFFD_H
#define THPRACER_UFFD_H

#include <stdatomic.h>
#include <stdbool.h>

extern atomic_bool handler_stop;            /* the handler outlives the writers */
extern atomic_ulong wp_protected, wp_served, wp_missed;

/* Open the userfaultfd and register the region; false (why on stderr) if unavailable. */
bool uffd_setup(void);
/* The handler thread: serves WP faults until handler_stop. */
void *uffd_handler(void *arg);
/* The wp thread: protects, waits, writes a random block until stop. */
void *wp_writer(void *arg);
#endif /* THPRACER_UFFD_H */
