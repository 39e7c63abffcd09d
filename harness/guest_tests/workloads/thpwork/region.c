// SPDX-License-Identifier: GPL-2.0
/* thpwork: region.c - definitions of region.h */
#define _GNU_SOURCE  /* before any system header: mremap, strerrorname_np, ... */
#include "region.h"
#include "split.h"

uint32_t page_tag(const struct region *r, size_t i)
{
	return (uint32_t)splitmix64(r->seed ^ i) | 1;
}

bool sel_parse(const struct region *r, const char *pattern, const char *pmds,
		      struct sel *s)
{
	s->all_pmds = !pmds;
	return parse_pattern(pattern, r->ps, r->ptes, &s->pat) &&
		(!pmds || parse_ranges(pmds, &s->pmds));
}

bool sel_hit(const struct region *r, const struct sel *s, size_t i)
{
	long pmd = (long)(i / r->ptes);

	if (!s->all_pmds && !in_ranges(&s->pmds, pmd))
		return false;
	return pattern_hit(&s->pat, pmd, (long)(i % r->ptes), (long)r->ptes);
}

int region_map(FILE *out, struct region *r, size_t size, uint64_t seed)
{
	char *raw;

	r->ps = page_size();
	r->pmd = pmd_size();
	r->ptes = r->pmd / r->ps;
	r->len = (size + r->pmd - 1) / r->pmd * r->pmd;
	r->npages = r->len / r->ps;
	r->seed = seed;
	if (!r->len)
		return emit_error(out, EXIT_USAGE, "empty region");
	raw = mmap(NULL, r->len + r->pmd, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return emit_error(out, EXIT_ENV, "mmap %zu: %s", r->len, strerror(errno));
	r->addr = align_up(raw, r->pmd);
	if (r->addr > raw)
		munmap(raw, (size_t)(r->addr - raw));
	munmap(r->addr + r->len, (size_t)(raw + r->pmd - r->addr));
	r->state = calloc(r->npages, 1);
	return r->state ? EXIT_OK : emit_error(out, EXIT_ENV, "out of memory");
}

int region_advise(FILE *out, struct region *r, const char *mode)
{
	int advice;

	if (!strcmp(mode, "hugepage"))
		advice = MADV_HUGEPAGE;
	else if (!strcmp(mode, "nohugepage"))
		advice = MADV_NOHUGEPAGE;
	else
		return emit_error(out, EXIT_USAGE, "advise: hugepage|nohugepage, not %s", mode);
	if (madvise(r->addr, r->len, advice))
		return emit_error(out, EXIT_ENV, "madvise(%s): %s", mode, strerror(errno));
	return EXIT_OK;
}

/* Touch the selected pages (write a tag or read); returns the count or -1. */
long region_touch(struct region *r, const struct sel *s, bool write)
{
	long n = 0;

	for (size_t i = 0; i < r->npages; i++) {
		char *p = r->addr + i * r->ps;

		if (!sel_hit(r, s, i))
			continue;
		if (write) {
			((volatile uint32_t *)p)[0] = page_tag(r, i);
			((volatile uint32_t *)p)[r->ps / 4 - 1] = ~page_tag(r, i);
			r->state[i] = ST_WRITTEN;
		} else {
			(void)*(volatile char *)p;
			if (r->state[i] == ST_NONE)
				r->state[i] = ST_READ;
		}
		n++;
	}
	return n;
}

int cmd_populate(FILE *out, struct region *r, const char *pattern, const char *pmds,
			const char *touch)
{
	struct sel s;
	struct jw w;
	long n;

	if (!sel_parse(r, pattern, pmds, &s))
		return emit_error(out, EXIT_USAGE, "bad --pattern %s / --pmds %s", pattern,
				  pmds ? pmds : "");
	if (strcmp(touch, "write") && strcmp(touch, "read"))
		return emit_error(out, EXIT_USAGE, "--touch write|read, not %s", touch);
	n = region_touch(r, &s, touch[0] == 'w');
	jw_begin(&w, out, "populate");
	jw_str(&w, "pattern", pattern);
	jw_str(&w, "touch", touch);
	jw_int(&w, "pages", n);
	jw_end(&w);
	return EXIT_OK;
}

/* Apply `advice` to maximal runs of selected pages; returns pages advised. */
long advise_runs(struct region *r, const struct sel *s, int advice, int *err)
{
	long n = 0;

	*err = 0;
	for (size_t i = 0; i < r->npages;) {
		size_t j = i;

		while (j < r->npages && sel_hit(r, s, j))
			j++;
		if (j == i) {
			i++;
			continue;
		}
		if (madvise(r->addr + i * r->ps, (j - i) * r->ps, advice))
			*err = errno;
		n += (long)(j - i);
		i = j;
	}
	return n;
}

long swap_total_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "SwapTotal: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

/* Count selected pages that pagemap reports swapped out. */
long count_swapped(struct region *r, const struct sel *s)
{
	uint64_t e;
	long n = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	for (size_t i = 0; fd >= 0 && i < r->npages; i++) {
		if (!sel_hit(r, s, i))
			continue;
		if (pread(fd, &e, 8, (off_t)(((uintptr_t)r->addr / r->ps + i) * 8)) == 8 &&
		    (e & PM_SWAP))
			n++;
	}
	if (fd >= 0)
		close(fd);
	return n;
}

/* MADV_PAGEOUT (swapout) or MADV_DONTNEED the selected pages. */
int cmd_zap(FILE *out, struct region *r, const char *pattern, const char *pmds,
		   bool pageout)
{
	struct sel s;
	struct jw w;
	long n;
	int err;

	if (!sel_parse(r, pattern, pmds, &s))
		return emit_error(out, EXIT_USAGE, "bad --pages %s", pattern);
	n = advise_runs(r, &s, pageout ? MADV_PAGEOUT : MADV_DONTNEED, &err);
	if (!pageout)
		for (size_t i = 0; i < r->npages; i++)
			if (sel_hit(r, &s, i))
				r->state[i] = ST_NONE;
	jw_begin(&w, out, pageout ? "pageout" : "dontneed");
	jw_str(&w, "pages_pattern", pattern);
	jw_int(&w, "requested", n);
	if (pageout) {
		jw_int(&w, "swapped", count_swapped(r, &s));
		jw_int(&w, "swap_total_kb", swap_total_kb());
	}
	jw_str(&w, "error", err ? strerrorname_np(err) : "");
	jw_end(&w);
	return err ? EXIT_ENV : EXIT_OK;
}

bool pmd_selected(const struct ranges *pmds, bool all, long b)
{
	return all || in_ranges(pmds, b);
}

int cmd_collapse(FILE *out, struct region *r, const char *pmds)
{
	struct ranges rg = { 0 };
	long tried = 0, ok = 0, nerr[4] = { 0 };
	const int errs[4] = { EAGAIN, EINVAL, ENOMEM, 0 };
	struct jw w;

	if (pmds && !parse_ranges(pmds, &rg))
		return emit_error(out, EXIT_USAGE, "bad --pmds %s", pmds);
	for (size_t b = 0; b < r->len / r->pmd; b++) {
		if (!pmd_selected(&rg, !pmds, (long)b))
			continue;
		tried++;
		if (!madvise(r->addr + b * r->pmd, r->pmd, MADV_COLLAPSE)) {
			ok++;
			continue;
		}
		int k = 0;

		while (errs[k] && errs[k] != errno)
			k++;
		nerr[k]++;
	}
	jw_begin(&w, out, "collapse");
	jw_int(&w, "attempted", tried);
	jw_int(&w, "ok", ok);
	jw_open(&w, "errors", '{');
	for (int k = 0; k < 4; k++)
		if (nerr[k])
			jw_int(&w, errs[k] ? strerrorname_np(errs[k]) : "other", nerr[k]);
	jw_close(&w, '}');
	jw_end(&w);
	return EXIT_OK;
}

/* Move [a, a+len) to a fresh place outside the region (it stays mapped there). */
int move_out(char *a, size_t len)
{
	char *to = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (to == MAP_FAILED)
		return -1;
	return mremap(a, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to) == MAP_FAILED ? -1 : 0;
}

int split_one(struct region *r, const char *how, size_t b, size_t at, size_t len)
{
	char *a = r->addr + b * r->pmd + at;
	size_t first = (b * r->pmd + at) / r->ps;
	int rc;

	if (!strcmp(how, "mprotect"))
		return mprotect(a, len, PROT_READ);
	if (!strcmp(how, "madvise"))
		return madvise(a, len, MADV_NOHUGEPAGE);
	if (!strcmp(how, "munmap"))
		rc = munmap(a, len);
	else
		rc = move_out(a, len);
	if (!rc)
		memset(r->state + first, ST_NONE, len / r->ps);
	return rc;
}

/* Split the VMA inside chosen PMDs: how = mprotect | munmap | mremap | madvise. */
int cmd_split(FILE *out, struct region *r, const char *how, const char *at_s,
		     const char *len_s, const char *pmds)
{
	struct ranges rg = { 0 };
	size_t at, len;
	long n = 0, errors = 0;
	struct jw w;

	if (strcmp(how, "mprotect") && strcmp(how, "munmap") && strcmp(how, "mremap") &&
	    strcmp(how, "madvise"))
		return emit_error(out, EXIT_USAGE, "--how mprotect|munmap|mremap|madvise");
	at = r->pmd / 2;            /* defaults: 16 pages in the middle of each PMD */
	len = 16 * r->ps;
	if ((at_s && !parse_bytes(at_s, r->pmd, &at)) ||
	    (len_s && !parse_bytes(len_s, r->pmd, &len)) ||
	    at % r->ps || len % r->ps || !len || at + len > r->pmd ||
	    (pmds && !parse_ranges(pmds, &rg)))
		return emit_error(out, EXIT_USAGE, "bad --at/--len/--pmds (inside one PMD)");
	for (size_t b = 0; b < r->len / r->pmd; b++) {
		if (!pmd_selected(&rg, !pmds, (long)b))
			continue;
		n++;
		errors += split_one(r, how, b, at, len) != 0;
	}
	jw_begin(&w, out, "split");
	jw_str(&w, "how", how);
	jw_u64(&w, "at", at);
	jw_u64(&w, "len", len);
	jw_int(&w, "pmds", n);
	jw_int(&w, "errors", errors);
	jw_end(&w);
	return errors ? EXIT_ENV : EXIT_OK;
}

/* mremap the whole region to PMD alignment + by (misaligning every folio). */
int cmd_shift(FILE *out, struct region *r, const char *by_s)
{
	size_t by;
	char *res, *to;
	struct jw w;

	if (!parse_bytes(by_s, r->pmd, &by) || by % r->ps || by >= r->pmd)
		return emit_error(out, EXIT_USAGE, "bad --by %s", by_s);
	res = mmap(NULL, r->len + 2 * r->pmd, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED)
		return emit_error(out, EXIT_ENV, "mmap: %s", strerror(errno));
	to = align_up(res, r->pmd) + by;
	if (mremap(r->addr, r->len, r->len, MREMAP_MAYMOVE | MREMAP_FIXED, to) == MAP_FAILED)
		return emit_error(out, EXIT_ENV, "mremap: %s", strerror(errno));
	r->addr = to;
	jw_begin(&w, out, "shift");
	jw_u64(&w, "addr", (uint64_t)(uintptr_t)r->addr);
	jw_u64(&w, "by", by);
	jw_end(&w);
	return EXIT_OK;
}

void child_hold(struct region *r, const struct sel *s, int ready_fd, bool do_write,
		       bool advise)
{
	char c = 1;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (int fd = 3; fd < 1024; fd++)   /* control sockets: the client waits for EOF */
		if (fd != ready_fd)
			close(fd);
	if (do_write)
		for (size_t i = 0; i < r->npages; i++)
			if (sel_hit(r, s, i))
				((volatile uint32_t *)(r->addr + i * r->ps))[0] = 0xc0ffee;
	if (advise && madvise(r->addr, r->len, MADV_HUGEPAGE))
		_exit(EXIT_ENV);
	if (write(ready_fd, &c, 1) != 1)
		_exit(EXIT_ENV);
	for (;;)
		pause();
}

/*
 * Fork a child that keeps the region shared (COW); it may write some pages first.
 * advise: the child applies MADV_HUGEPAGE itself once its writes are done (the region
 * was not advised before the fork: see region_setup).
 */
int cmd_fork(FILE *out, struct region *r, const char *child_writes, bool advise)
{
	struct sel s = { 0 };
	struct jw w;
	int p[2];
	char c;

	if (r->child)
		return emit_error(out, EXIT_USAGE, "a child (%d) already shares the region",
				  (int)r->child);
	if (child_writes && !sel_parse(r, child_writes, NULL, &s))
		return emit_error(out, EXIT_USAGE, "bad --child-writes %s", child_writes);
	if (pipe(p))
		return emit_error(out, EXIT_ENV, "pipe: %s", strerror(errno));
	fflush(out);
	r->child = fork();
	if (r->child == 0)
		child_hold(r, &s, p[1], child_writes != NULL, advise);
	close(p[1]);
	if (r->child < 0 || read(p[0], &c, 1) != 1)
		return emit_error(out, EXIT_ENV, "fork: %s", strerror(errno));
	close(p[0]);
	jw_begin(&w, out, "fork");
	jw_int(&w, "child", r->child);
	jw_str(&w, "child_writes", child_writes ? child_writes : "");
	jw_end(&w);
	return EXIT_OK;
}

int cmd_unfork(FILE *out, struct region *r)
{
	struct jw w;
	pid_t child = r->child;

	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	r->child = 0;
	jw_begin(&w, out, "unfork");
	jw_int(&w, "child", child);
	jw_end(&w);
	return EXIT_OK;
}

/* Split the region's large folios to `order` via debugfs split_huge_pages. */
int cmd_split_folios(FILE *out, struct region *r, int order)
{
	struct jw w;
	bool ok;

	if (order < 0)
		return emit_error(out, EXIT_USAGE, "--order N needed");
	if (!split_mount_debugfs())
		return emit_error(out, EXIT_ENV, "no " SPLIT_HUGE_PAGES " (DEBUG_FS?)");
	ok = split_huge_range(getpid(), r->addr, r->addr + r->len, order);
	jw_begin(&w, out, "split-folios");
	jw_int(&w, "order", order);
	jw_bool(&w, "ok", ok);
	jw_str(&w, "error", ok ? "" : strerror(errno));
	jw_end(&w);
	return ok ? EXIT_OK : EXIT_ENV;
}

/* Check the tags of written pages and that read-touched pages are still zero. */
int cmd_verify(FILE *out, struct region *r)
{
	long checked = 0, bad = 0, first_bad = -1;
	uint32_t want = 0, got = 0;
	struct jw w;

	for (size_t i = 0; i < r->npages; i++) {
		volatile uint32_t *p = (uint32_t *)(r->addr + i * r->ps);
		uint32_t t = r->state[i] == ST_WRITTEN ? page_tag(r, i) : 0;

		if (r->state[i] == ST_NONE)
			continue;
		checked++;
		if (p[0] == t && p[r->ps / 4 - 1] == (t ? ~t : 0))
			continue;
		if (!bad++) {
			first_bad = (long)i;
			want = t;
			got = p[0];
		}
	}
	jw_begin(&w, out, "verify");
	jw_int(&w, "checked", checked);
	jw_int(&w, "bad", bad);
	jw_int(&w, "first_bad", first_bad);
	jw_u64(&w, "expected", want);
	jw_u64(&w, "got", got);
	jw_end(&w);
	return bad ? EXIT_FINDING : EXIT_OK;
}

void emit_region(FILE *out, const struct region *r, bool held)
{
	struct jw w;
	char ctl[64];

	snprintf(ctl, sizeof(ctl), "@thpwork-%d", (int)getpid());
	jw_begin(&w, out, "region");
	jw_int(&w, "pid", getpid());
	jw_u64(&w, "addr", (uint64_t)(uintptr_t)r->addr);
	jw_u64(&w, "len", r->len);
	jw_u64(&w, "page_size", r->ps);
	jw_u64(&w, "pmd_size", r->pmd);
	jw_bool(&w, "held", held);
	jw_str(&w, "ctl", held ? ctl : "");
	jw_end(&w);
}
