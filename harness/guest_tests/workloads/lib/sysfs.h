/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sysfs.h - one-value files of sysfs, procfs, debugfs and cgroupfs (definitions in
 * sysfs.c).
 */
#ifndef WORKLOADS_LIB_SYSFS_H
#define WORKLOADS_LIB_SYSFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define THP_ROOT "/sys/kernel/mm/transparent_hugepage"

/* The file's text (at most len - 1 bytes), trailing newlines and blanks cut. */
bool read_text(const char *path, char *buf, size_t len);
/* The file's leading decimal number. */
bool read_u64(const char *path, uint64_t *v);
/* One write(2) of text; true if all of it was taken (errno says why not). */
bool write_text(const char *path, const char *text);
#endif /* WORKLOADS_LIB_SYSFS_H */
