/* SPDX-License-Identifier: GPL-2.0 */
/*
 * file.h - thpfile's shmem file, its two mappings and the checker (definitions in
 * file.c).
 *
 * A shmem file of --pmds PMDs (a memfd, or with --tmpfs a file on a tmpfs mounted on
 * TMPFS_DIR with huge=within_size) is mapped twice, MAP_SHARED and PMD-aligned (two
 * VMAs: a file collapse retracts the page tables of every VMA mapping the range),
 * populated with small pages under MADV_NOHUGEPAGE, then advised MADV_HUGEPAGE. Page p
 * is written through mapping p % 2 and holds a stamp of (seed, page, generation), or
 * zeros after a punch or truncation (generation 0). User threads change a PMD only
 * under its pmd_lock.
 */
#ifndef THPFILE_FILE_H
#define THPFILE_FILE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* the base page and PMD of the running kernel (4K/2M, arm64 16K/32M, 64K/512M) */
extern unsigned long page_bytes, pmd_pages;
#define PAGE page_bytes
#define PMD_PAGES pmd_pages
#define PMD_SIZE (PAGE * PMD_PAGES)
#define MAX_PAGE 65536UL                    /* check_pread()'s buffer */
#define BLOCK_PAGES 16UL
#define TMPFS_DIR "/tmp/thpfile-tmpfs"

extern int file_fd;
extern char *file_map[2];
extern uint8_t *gen;                        /* per page: 0 = a hole (zeros), else stamp */
extern pthread_mutex_t *pmd_lock;           /* per PMD */
extern atomic_ulong verified, corrupt, rewrites;

/* page_bytes and pmd_pages of the running kernel; exit 2 above MAX_PAGE. */
void file_geometry(void);
/* Create, map twice, populate and advise the file; exit 3 (why on stderr) if the kernel
 * lacks what it takes, 2 if it cannot be mapped. */
void file_setup(void);
/* Write the page's next generation of its stamp (through mapping page % 2). */
void fill(unsigned long page);
/* The page through mapping m (0/1) holds its stamp (or zeros for a hole); a difference
 * is a finding. */
bool check(unsigned long page, int m);
/* The page cache itself (pread: no page table involved) holds the same. */
bool check_pread(unsigned long page);
/* check() and check_pread() every page. */
void file_final_check(void);
/* Close the file; unmount the --tmpfs. */
void file_close(void);
#endif /* THPFILE_FILE_H */
