// SPDX-License-Identifier: GPL-2.0
/*
 * thpracer - rmap walkers and page-table users racing khugepaged's collapses.
 *
 * Build (in workloads/): gcc -static -O2 -Wall -Wextra -pthread -I thpracer -I lib, the .c
 * files of thpracer/ and lib/, -o thpracer (thpracer/: main.c and one .c/.h pair per
 * part: run, region, migrate, walk, uffd, ksm, fork, mremap, memcg; lib/: the helpers
 * every workload binary shares).
 *
 * A PMD-aligned region of --pmds PMDs is populated with small pages, then advised
 * MADV_HUGEPAGE, so khugepaged collapses it under the knobs in force. Each PMD holds
 * blocks of 16 base pages (64K with 4K pages, 256K with 16K): even blocks fully populated
 * (what an mTHP collapse takes), odd blocks partly (3 of 16 pages: never collapsed to mTHP
 * while max_ptes_none is 0, so they are the "uninvolved" neighbours under the same page
 * table). Threads for --seconds:
 *
 *   mutator   sweeps the region: verifies every populated page's contents (a changed
 *             page is a finding), counts the blocks found collapsed (a large folio in
 *             /proc/self/pagemap + /proc/kpageflags) and re-splits them (debugfs
 *             split_huge_pages, or MADV_DONTNEED of one page + rewrite) so khugepaged
 *             never runs out of work; it also touches the neighbours (a stale migration
 *             entry is met there).                                          (region.h)
 *   migrate   move_pages(2) of the neighbours of one PMD (every 4th round also of some
 *             collapse-range pages) to the other node, PMD after PMD; every 8th round mbind(2)
 *             MPOL_MF_MOVE of a whole PMD, every 32nd migrate_pages(2) of the process.
 *   compact   writes /proc/sys/vm/compact_memory every --compact-ms (0: never).
 *                                                                           (migrate.h)
 *   pageout   (--pageout) MADV_COLD / MADV_PAGEOUT of neighbour pages (reclaim's rmap
 *             walk, try_to_unmap; swap ptes next to the collapsing ranges).
 *   walkers   (--walkers) /proc/self/smaps and pagemap readers and process_vm_readv
 *             or vmsplice (GUP) of a PMD's neighbours, every millisecond.
 *   idle      (--idle) marks the region's PFNs idle through /sys/kernel/mm/page_idle/
 *             bitmap and reads it back (an rmap walk started from user space). (walk.h)
 *   uffd      (--uffd) userfaultfd write-protect of one block at a time, written back,
 *             faults served by a handler thread (wp_missed counts writes that raised
 *             none).                                                        (uffd.h)
 *   ksm       (--ksm) neighbour pages get PMD-independent contents, the region is
 *             MADV_MERGEABLE and ksmd runs at its fastest: KSM pages next to the
 *             collapsing ranges, migrated through rmap_walk_ksm. The race window
 *             starts once ksmd has merged (or after --ksm-warmup S); the migrator
 *             samples the KSM pages it moves (ksm_moved).                   (ksm.h)
 *   fork      (--fork) a child every 10 ms: copy_page_range, COW and reclaim of its
 *             copies under the collapse.                                    (fork.h)
 *   mremap    (--mremap) PMDs of their own moved whole between slots.       (mremap.h)
 *   memcg     (--memcg) the process in a memory cgroup of its own, limit and proactive
 *             reclaim while khugepaged collapses.                           (memcg.h)
 *
 * Output: one JSON line on stdout at the end ("event":"racer") with the counts; a progress
 * line on stderr every second; "thpracer: start ..." and "thpracer: done" in /dev/kmsg.
 * Exit: 0 ok, 1 finding (changed page), 2 usage, 3 missing kernel feature (named on
 * stderr).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#include "clock.h"
#include "kmsg.h"
#include "numa.h"
#include "fork.h"
#include "ksm.h"
#include "memcg.h"
#include "migrate.h"
#include "mremap.h"
#include "region.h"
#include "run.h"
#include "uffd.h"
#include "walk.h"

static void progress(double t0)
{
	fprintf(stderr, "thpracer: t=%.0fs moved=%lu collapsed_seen=%lu resplit=%lu verified=%lu "
		"corrupt=%lu compactions=%lu paged_out=%lu idle_rounds=%lu\n", now_s() - t0,
		atomic_load(&moved), atomic_load(&collapsed_seen), atomic_load(&resplit),
		atomic_load(&verified), atomic_load(&corrupt), atomic_load(&compactions),
		atomic_load(&paged_out), atomic_load(&idle_rounds));
}

static void report(double secs)
{
	printf("{\"event\":\"racer\",\"seed\":%llu,\"seconds\":%.2f,\"pmds\":%lu,\"nodes\":%d,"
	       "\"split\":\"%s\",\"moved\":%lu,\"move_calls\":%lu,\"move_failed\":%lu,"
	       "\"mbind_calls\":%lu,\"migrate_calls\":%lu,\"compactions\":%lu,"
	       "\"collapsed_seen\":%lu,\"resplit\":%lu,\"sweeps\":%lu,\"verified\":%lu,"
	       "\"touched\":%lu,\"corrupt\":%lu,\"paged_out\":%lu,\"idle_rounds\":%lu,"
	       "\"wp_protected\":%lu,\"wp_served\":%lu,\"wp_missed\":%lu,"
	       "\"ksm_pages_shared\":%ld,\"ksm_pages_sharing\":%ld,\"ksm_shared_max\":%ld,"
	       "\"ksm_full_scans\":%ld,\"ksm_warmup_s\":%.1f,\"ksm_moved\":%lu,"
	       "\"ksm_sampled\":%lu,\"walks\":%lu,"
	       "\"gup_bytes\":%lu,\"page_size\":%lu,\"pmd_size\":%lu",
	       (unsigned long long)o.seed, secs, o.pmds, nnodes,
	       split_debugfs ? "debugfs" : "dontneed", atomic_load(&moved),
	       atomic_load(&move_calls), atomic_load(&move_failed), atomic_load(&mbind_calls),
	       atomic_load(&migrate_calls), atomic_load(&compactions),
	       atomic_load(&collapsed_seen), atomic_load(&resplit), atomic_load(&sweeps),
	       atomic_load(&verified), atomic_load(&touched), atomic_load(&corrupt),
	       atomic_load(&paged_out), atomic_load(&idle_rounds), atomic_load(&wp_protected),
	       atomic_load(&wp_served), atomic_load(&wp_missed), ksm_shared, ksm_sharing,
	       ksm_shared_max, ksm_full_scans, ksm_warmup_s, atomic_load(&ksm_moved),
	       atomic_load(&ksm_sampled),
	       atomic_load(&walks), atomic_load(&gup_bytes), PAGE, PMD_SIZE);
	fork_json();
	mremap_json();
	memcg_json();
	printf("}\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	pthread_t th[12], handler;
	int nth = 0;
	char msg[160];
	double t0;

	parse_options(argc, argv);
	region_geometry();
	nnodes = online_nodes(nodes);
	if (!o.no_migrate && nnodes < 2) {
		fprintf(stderr, "thpracer: needs 2 NUMA nodes (CONFIG_NUMA, numa=fake=2 or a NUMA "
			"machine); /sys/devices/system/node/online has one\n");
		return 3;
	}
	if (o.memcg && !memcg_start())
		return 3;
	if (o.fork && !fork_setup())
		return 2;
	region_setup();
	if (o.ksm && !ksm_start())
		return 3;
	snprintf(msg, sizeof(msg), "thpracer: start seed=%llu pmds=%lu seconds=%.0f nodes=%d\n",
		 (unsigned long long)o.seed, o.pmds, o.seconds, nnodes);
	kmsg(msg);
	t0 = now_s();
	pthread_create(&th[nth++], NULL, mutator, NULL);
	if (!o.no_migrate)
		pthread_create(&th[nth++], NULL, migrator, NULL);
	if (o.compact_ms)
		pthread_create(&th[nth++], NULL, compactor, NULL);
	if (o.idle)
		pthread_create(&th[nth++], NULL, idler, NULL);
	if (o.pageout)
		pthread_create(&th[nth++], NULL, pager, NULL);
	if (o.walkers)
		pthread_create(&th[nth++], NULL, walker, NULL);
	if (o.fork)
		pthread_create(&th[nth++], NULL, forker, NULL);
	if (o.mremap)
		pthread_create(&th[nth++], NULL, mover, NULL);
	if (o.memcg)
		pthread_create(&th[nth++], NULL, reclaimer, NULL);
	if (o.uffd) {
		if (!uffd_setup())
			return 3;
		pthread_create(&handler, NULL, uffd_handler, NULL);
		pthread_create(&th[nth++], NULL, wp_writer, NULL);
	}
	if (o.ksm) {
		ksm_warmup(o.ksm_warmup);
		t0 = now_s();               /* the race window starts with KSM pages there */
	}
	while (now_s() - t0 < o.seconds) {
		sleep(1);
		progress(t0);
		if (o.ksm)
			ksm_sample();
	}
	atomic_store(&stop, true);
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	atomic_store(&handler_stop, true);
	if (o.uffd)
		pthread_join(handler, NULL);
	if (o.ksm)
		ksm_finish();
	region_final_check();
	if (o.mremap)
		movers_final_check();
	if (o.memcg)
		memcg_stop();
	report(now_s() - t0);
	kmsg("thpracer: done\n");
	return atomic_load(&corrupt) || fork_corrupt() ? 1 : 0;
}
