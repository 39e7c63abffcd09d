/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ksm.h - thpracer's KSM racer, --ksm (definitions in ksm.c): neighbour pages get
 * PMD-independent contents (region.c's stamp), the region is MADV_MERGEABLE and ksmd
 * runs at its fastest: KSM pages next to the collapsing ranges, migrated through
 * rmap_walk_ksm. The old ksmd settings are restored at the end.
 *
 * ksmd merges a page only on its second full scan (the first only checksums it), which
 * with 64K pages on a loaded TCG host can take longer than the race: the race window
 * (--seconds) starts once ksmd has merged a page or --ksm-warmup seconds have passed
 * (the racers run during the warm-up too). Proof that KSM pages took part: the migrator
 * samples the KSM pages it moves (ksm_moved: a page with KPF_KSM that changed node). A KSM
 * page is mapped once per page merged into it, so with --ksm the migrator moves with
 * MPOL_MF_MOVE_ALL: MPOL_MF_MOVE leaves shared pages where they are.
 */
#ifndef THPRACER_KSM_H
#define THPRACER_KSM_H

#include <stdatomic.h>
#include <stdbool.h>

extern long ksm_shared, ksm_sharing;        /* pages_shared/_sharing at the end; -1: no --ksm */
extern long ksm_shared_max;                 /* the most pages_shared seen in the race window */
extern long ksm_full_scans;                 /* ksmd's full scans during the run */
extern double ksm_warmup_s;                 /* seconds until ksmd first merged (or gave up) */
extern atomic_ulong ksm_moved, ksm_sampled; /* KSM pages seen to change node / pages sampled */

/* Advise the region mergeable, ksmd at full speed; false (why on stderr) if not. */
bool ksm_start(void);
/* Wait until pages_shared > 0 or `limit` seconds; true if ksmd merged. */
bool ksm_warmup(double limit);
/* Sample pages_shared (into ksm_shared_max); once a second in the race window. */
void ksm_sample(void);
/* Whether the page at va is a KSM page (kpageflags). */
bool ksm_page(const void *va);
/* Read ksm_shared and ksm_sharing, restore ksmd's settings. */
void ksm_finish(void);
#endif /* THPRACER_KSM_H */
