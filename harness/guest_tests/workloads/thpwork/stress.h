/* SPDX-License-Identifier: GPL-2.0 */
/*
 * stress.h - threads racing khugepaged on MADV_HUGEPAGE memory, with data
 * verification (definitions in stress.c).
 *
 * The memory is split into slots (PMD-aligned, --slot-size each). A thread picks
 * a random slot, locks it (threads never race each other on one slot; they race
 * khugepaged and each other's mmap_lock use), and runs one random operation:
 *   fault     write tags into a random sub-range
 *   read      read a random sub-range (maps the zero page where empty)
 *   dontneed  MADV_DONTNEED a sub-range
 *   mprotect  mprotect a sub-range read-only and back (VMA split + merge)
 *   munmap    munmap a sub-range and map it again (MAP_FIXED, MADV_HUGEPAGE)
 *   mremap    move the whole slot between its PMD-aligned home and a misaligned
 *             alternate address (folios become misaligned)
 *   advise    MADV_NOHUGEPAGE a sub-range, then MADV_HUGEPAGE again
 *   fork      fork a child that verifies the slot, writes to it (COW) and exits
 *   collapse  MADV_COLLAPSE the slot
 *   pageout   MADV_PAGEOUT a sub-range (swap if configured)
 *   cold      MADV_COLD a sub-range
 *   verify    check every page of the slot against its expected tag
 * Every page's expected content is tracked; a mismatch is a "corruption" event and
 * exit code 1 (EXIT_FINDING).
 */
#ifndef THPWORK_STRESS_H
#define THPWORK_STRESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include "util.h"

enum { OP_FAULT, OP_READ, OP_DONTNEED, OP_MPROTECT, OP_MUNMAP, OP_MREMAP, OP_ADVISE,
       OP_FORK, OP_COLLAPSE, OP_PAGEOUT, OP_COLD, OP_VERIFY, NR_OPS };

struct slot {
	pthread_mutex_t lock;
	char *home, *alt, *cur;   /* home: PMD aligned; alt: misaligned */
	uint32_t *expect;         /* per page; 0 = must read as zero */
	uint32_t gen;
	int last_op;
};

struct stress {
	double deadline;
	size_t ps, len, npages;
	int nslots, nops, ops[NR_OPS];
	uint64_t seed;
	struct slot *slots;
	atomic_ulong count[NR_OPS], fail[NR_OPS];
	atomic_ulong corruptions, child_failures, children;
	atomic_flag reported;
	FILE *out;
};

uint32_t stress_tag(struct stress *st, int s, size_t page, uint32_t gen);
void report_corruption(struct stress *st, int s, size_t page, uint32_t want,
			      uint32_t got, int last_op);
size_t verify_slot(struct stress *st, int s, bool all);
void sub_range(struct stress *st, uint64_t *rng, size_t *first, size_t *n);
int op_fault(struct stress *st, int s, size_t first, size_t n);
int op_zap(struct stress *st, int s, size_t first, size_t n, bool unmap);
int op_mremap(struct stress *st, int s);
int op_fork(struct stress *st, int s, size_t first, size_t n);
void reap_children(struct stress *st, int flags);
int run_op(struct stress *st, int op, int s, uint64_t *rng);
void *stress_thread(void *arg);
int stress_setup_slot(struct stress *st, struct slot *sl, size_t pmd);
bool stress_parse_ops(struct stress *st, const char *spec);
void stress_emit(struct stress *st, double secs, int threads);
#define DEFAULT_STRESS_OPS \
	"fault,read,dontneed,mprotect,munmap,mremap,advise,fork,collapse,pageout,cold,verify"

int stress_run(FILE *out, double seconds, int threads, int nslots, size_t slot_len,
		      const char *ops, uint64_t seed);
#endif /* THPWORK_STRESS_H */
