// SPDX-License-Identifier: GPL-2.0
/*
 * thpfile - truncation, hole punching and migration racing file/shmem collapse.
 *
 * Build (in workloads/): gcc -static -O2 -Wall -Wextra -pthread -I thpfile -I lib, the .c
 * files of thpfile/ and lib/, -o thpfile (thpfile/: main.c and one .c/.h pair per part:
 * run, file, collapse, holes, migrate; lib/: the helpers every workload binary shares).
 *
 * A shmem file of --pmds PMDs (a memfd, or with --tmpfs a file on a tmpfs mounted here
 * with huge=within_size) is mapped twice, MAP_SHARED and PMD-aligned (two VMAs: a file
 * collapse retracts the page tables of every VMA mapping the range), populated with small
 * pages under MADV_NOHUGEPAGE, then advised MADV_HUGEPAGE so khugepaged collapses it
 * (collapse_file + retract_page_tables) under the shmem knobs in force (file.h). Threads
 * for --seconds:
 *
 *   mutator   sweeps the PMDs, alternating the two mappings: verifies every page (a page
 *             holds its stamp, or zeros after a punch: anything else is a finding), counts
 *             the PMDs found collapsed (page 0 a compound head and page 256 a tail in
 *             /proc/kpageflags: a PMD-order folio) and re-splits them (debugfs
 *             split_huge_pages) so the collapses go on; rewrites one page per PMD.
 *   collapse  MADV_COLLAPSE of a random PMD through either mapping, every 2 ms.
 *                                                                          (collapse.h)
 *   punch     fallocate(PUNCH_HOLE) of 1..16 pages (every other time an aligned 64K
 *             block, so a refill fault may allocate a 64K shmem folio), reads them back
 *             as zeros through the other mapping (a pte a collapse hid from the punch's
 *             unmap would still show the old page) and through pread, refills half.
 *   truncate  ftruncate into the last two PMDs and back, every 20 ms: the pages below the
 *             cut must survive, those above read zero; refills half of them.  (holes.h)
 *   migrate   move_pages(MPOL_MF_MOVE_ALL) of every 8th page of a PMD to the other NUMA
 *             node (rmap walks over both VMAs), when the guest has two nodes.
 *                                                                          (migrate.h)
 *
 * User threads never touch a PMD another thread is changing (a mutex per PMD); the races
 * are with khugepaged, MADV_COLLAPSE and the kernel's own walkers. --inject-corruption
 * changes one word of the file behind the checker's back after a second (pwrite: the
 * checker must report it, exit 1; the host test proves the checker with it). Findings
 * are printed on stderr and written to /dev/kmsg ("thpfile: FINDING"; not with
 * --no-kmsg, for runs on a host), so are "thpfile: start ..." and "thpfile: done".
 * Output: one JSON line ("event":"thpfile") at the end. Exit: 0 ok, 1 finding, 2 usage,
 * 3 missing feature.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#include "clock.h"
#include "numa.h"
#include "collapse.h"
#include "file.h"
#include "holes.h"
#include "migrate.h"
#include "run.h"

static void report(double secs)
{
	printf("{\"event\":\"thpfile\",\"seed\":%llu,\"seconds\":%.2f,\"pmds\":%lu,\"backing\":\"%s\","
	       "\"nodes\":%d,\"verified\":%lu,\"corrupt\":%lu,\"collapsed_seen\":%lu,\"resplit\":%lu,"
	       "\"sweeps\":%lu,\"rewrites\":%lu,\"collapse_calls\":%lu,\"collapse_ok\":%lu,"
	       "\"collapse_again\":%lu,\"collapse_other\":%lu,\"punches\":%lu,\"punched_pages\":%lu,"
	       "\"refills\":%lu,\"truncations\":%lu,\"truncated_pages\":%lu,\"moved\":%lu,"
	       "\"move_calls\":%lu}\n",
	       (unsigned long long)o.seed, secs, o.pmds, o.tmpfs ? "tmpfs" : "memfd", nnodes,
	       atomic_load(&verified), atomic_load(&corrupt), atomic_load(&collapsed_seen),
	       atomic_load(&resplit), atomic_load(&sweeps), atomic_load(&rewrites),
	       atomic_load(&collapse_calls), atomic_load(&collapse_ok), atomic_load(&collapse_again),
	       atomic_load(&collapse_other), atomic_load(&punches), atomic_load(&punched_pages),
	       atomic_load(&refills), atomic_load(&truncations), atomic_load(&truncated_pages),
	       atomic_load(&moved), atomic_load(&move_calls));
	fflush(stdout);
}

static void progress(double t0)
{
	fprintf(stderr, "thpfile: t=%.0fs verified=%lu corrupt=%lu collapsed_seen=%lu "
		"collapse_ok=%lu punches=%lu truncations=%lu moved=%lu\n", now_s() - t0,
		atomic_load(&verified), atomic_load(&corrupt), atomic_load(&collapsed_seen),
		atomic_load(&collapse_ok), atomic_load(&punches), atomic_load(&truncations),
		atomic_load(&moved));
}

/* --inject-corruption: the checker's own proof, one word of page 0 changed. */
static void inject(void)
{
	uint64_t bad = 0xbadc0ffee;

	pthread_mutex_lock(&pmd_lock[0]);
	if (pwrite(file_fd, &bad, 8, 8 * 8) != 8)
		perror("thpfile: inject");
	pthread_mutex_unlock(&pmd_lock[0]);
	o.inject = false;
}

int main(int argc, char **argv)
{
	pthread_t th[5];
	int nth = 0;
	char msg[160];
	double t0;

	parse_options(argc, argv);
	file_geometry();
	nnodes = online_nodes(nodes);
	file_setup();
	collapse_setup();
	snprintf(msg, sizeof(msg), "thpfile: start seed=%llu pmds=%lu seconds=%.0f backing=%s nodes=%d\n",
		 (unsigned long long)o.seed, o.pmds, o.seconds, o.tmpfs ? "tmpfs" : "memfd", nnodes);
	note(msg);
	t0 = now_s();
	pthread_create(&th[nth++], NULL, mutator, NULL);
	if (!o.no_collapse)
		pthread_create(&th[nth++], NULL, collapser, NULL);
	if (!o.no_punch)
		pthread_create(&th[nth++], NULL, puncher, NULL);
	if (!o.no_truncate)
		pthread_create(&th[nth++], NULL, truncator, NULL);
	if (!o.no_migrate && nnodes == 2)
		pthread_create(&th[nth++], NULL, migrator, NULL);
	while (now_s() - t0 < o.seconds) {
		sleep(1);
		if (o.inject)
			inject();
		progress(t0);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	file_final_check();
	report(now_s() - t0);
	note("thpfile: done\n");
	file_close();
	return atomic_load(&corrupt) ? 1 : 0;
}
