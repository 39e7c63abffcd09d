/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ksm.h - thpracer's KSM racer, --ksm (definitions in ksm.c): neighbour pages get
 * PMD-independent contents (region.c's stamp), the region is MADV_MERGEABLE and ksmd
 * runs at its fastest: KSM pages next to the collapsing ranges, migrated through
 * rmap_walk_ksm. The old ksmd settings are restored at the end.
 */
#ifndef THPRACER_KSM_H
#define THPRACER_KSM_H

#include <stdbool.h>

extern long ksm_shared, ksm_sharing;        /* pages_shared/_sharing at the end; -1: no --ksm */

/* Advise the region mergeable, ksmd at full speed; false (why on stderr) if not. */
bool ksm_start(void);
/* Read ksm_shared and ksm_sharing, restore ksmd's settings. */
void ksm_finish(void);
#endif /* THPRACER_KSM_H */
