// SPDX-License-Identifier: GPL-2.0
/* thpwork: census.c - definitions of census.h */
#define _GNU_SOURCE  /* before any system header: mremap, strerrorname_np, ... */
#include "census.h"

void kpf_record(struct kpf_src *s, uint64_t pfn, uint64_t flags)
{
	if (s->caprec == 0)
		return;
	if (s->nrec == s->caprec) {
		s->caprec *= 2;
		s->rec = realloc(s->rec, s->caprec * 2 * sizeof(uint64_t));
	}
	s->rec[2 * s->nrec] = pfn;
	s->rec[2 * s->nrec + 1] = flags;
	s->nrec++;
}

uint64_t kpf_lookup(const struct kpf_src *s, uint64_t pfn)
{
	size_t lo = 0, hi = s->ntab;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (s->tab[2 * mid] == pfn)
			return s->tab[2 * mid + 1];
		if (s->tab[2 * mid] < pfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Flags of pfn .. pfn+n-1 into out[]; false on I/O error. */
bool kpf_get(struct kpf_src *s, uint64_t pfn, size_t n, uint64_t *out)
{
	if (s->fd < 0) {
		for (size_t i = 0; i < n; i++)
			out[i] = kpf_lookup(s, pfn + i);
		return true;
	}
	ssize_t want = (ssize_t)(n * sizeof(uint64_t));
	ssize_t got = pread(s->fd, out, want, (off_t)(pfn * sizeof(uint64_t)));

	if (got < 0)
		return false;
	for (size_t i = (size_t)got / sizeof(uint64_t); i < n; i++)
		out[i] = 0;
	for (size_t i = 0; i < n; i++)
		kpf_record(s, pfn + i, out[i]);
	return true;
}

/* Head PFN and size (pages) of the folio containing pfn, whose flags are given. */
bool folio_extent(struct kpf_src *s, uint64_t pfn, uint64_t flags,
			 uint64_t *head, uint64_t *nr)
{
	uint64_t buf[KPF_CHUNK];
	uint64_t h = pfn, n = 1;

	if (flags & KPF_TAIL) {
		bool found = false;

		while (!found && pfn - h < MAX_FOLIO_PAGES && h > 0) {
			size_t cnt = h < KPF_CHUNK ? (size_t)h : KPF_CHUNK;

			if (!kpf_get(s, h - cnt, cnt, buf))
				return false;
			for (size_t i = cnt; i-- > 0;) {
				if (buf[i] & KPF_HEAD) {
					h = h - cnt + i;
					found = true;
					break;
				}
				if (!(buf[i] & KPF_TAIL)) {
					*head = pfn;    /* inconsistent snapshot: treat as order 0 */
					*nr = 1;
					return true;
				}
			}
			if (!found)
				h -= cnt;
		}
		if (!found) {
			*head = pfn;
			*nr = 1;
			return true;
		}
	} else if (!(flags & KPF_HEAD)) {
		*head = pfn;
		*nr = 1;
		return true;
	}
	for (bool more = true; more && n < MAX_FOLIO_PAGES;) {
		if (!kpf_get(s, h + n, KPF_CHUNK, buf))
			return false;
		for (size_t i = 0; i < KPF_CHUNK; i++) {
			if (!(buf[i] & KPF_TAIL)) {
				more = false;
				break;
			}
			n++;
		}
	}
	*head = h;
	*nr = n;
	return true;
}

struct folio_ent *folio_find(struct folio_tab *t, uint64_t head, bool *fresh)
{
	size_t i = (size_t)(splitmix64(head) % t->cap);

	while (t->e[i].nr && t->e[i].head != head)
		i = (i + 1) % t->cap;
	*fresh = !t->e[i].nr;
	t->e[i].head = head;
	return &t->e[i];
}

/* The folio of the page at (va, pfn), counted when first seen; NULL = zero page. */
struct folio_ent *folio_at(struct census *c, struct kpf_src *s, struct folio_tab *t,
				  uint64_t va, uint64_t pfn, size_t blk, int *err)
{
	uint64_t flags, head, nr;
	struct folio_ent *f;
	bool fresh;

	if (!kpf_get(s, pfn, 1, &flags) || !folio_extent(s, pfn, flags, &head, &nr)) {
		*err = -1;
		return NULL;
	}
	if (flags & KPF_ZERO) {
		c->zero++;
		if (c->nblk)
			c->blk_zero[blk]++;
		return NULL;
	}
	f = folio_find(t, head, &fresh);
	if (!fresh)
		return f;
	f->nr = nr;
	f->order = order_of(nr);
	c->folios[f->order]++;
	if ((va - (pfn - head) * c->ps) % (nr * c->ps))
		c->misaligned[f->order]++;
	if (flags & KPF_HUGETLB)
		c->hugetlb++;
	if (nr > 1 && !(flags & KPF_THP_BIT))
		c->nonthp++;
	return f;
}

void count_absent(struct census *c, uint64_t e, size_t blk)
{
	if (e & PM_PRESENT) {
		c->nopfn++;
		return;
	}
	if (e & PM_SWAP)
		c->swapped++;
	else
		c->none++;
	if (c->nblk)
		((e & PM_SWAP) ? c->blk_swapped : c->blk_none)[blk]++;
}

int census_compute(struct census *c, const uint64_t *pm, struct kpf_src *s)
{
	struct folio_tab t = { .cap = 2 * c->pages + 1 };
	struct folio_ent *f = NULL;
	uint64_t base = c->addr - c->addr % c->pmd, prev_pfn = 0;
	int err = 0;

	t.e = calloc(t.cap, sizeof(*t.e));
	if (!t.e)
		return -1;
	for (uint64_t i = 0; i < c->pages && !err; i++) {
		uint64_t e = pm[i], va = c->addr + i * c->ps, pfn = e & PM_PFN_MASK;
		size_t blk = c->nblk ? (size_t)((va - base) / c->pmd) : 0;

		if (!(e & PM_PRESENT) || !pfn) {
			count_absent(c, e, blk);
			f = NULL;
			continue;
		}
		/* fast path: next PFN of the same folio */
		if (!f || pfn != prev_pfn + 1 || pfn >= f->head + f->nr)
			f = folio_at(c, s, &t, va, pfn, blk, &err);
		prev_pfn = pfn;
		if (!f)
			continue;
		f->mapped++;
		c->present++;
		c->orders[f->order]++;
		if (c->nblk)
			c->blk_orders[blk][f->order]++;
		if (!(e & PM_EXCLUSIVE))
			c->shared++;
	}
	for (size_t i = 0; i < t.cap; i++)
		if (t.e[i].nr && t.e[i].mapped < t.e[i].nr)
			c->partial[t.e[i].order]++;
	free(t.e);
	return err;
}

/* AnonHugePages (kB) summed over the VMAs of pid overlapping the range; -1 if unknown. */
long long smaps_anon_huge(pid_t pid, uint64_t addr, uint64_t len)
{
	char path[64], line[512];
	unsigned long long lo, hi, kb;
	long long total = 0;
	bool inside = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx-%llx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
			inside = lo < addr + len && hi > addr;
		else if (inside && sscanf(line, "AnonHugePages: %llu kB", &kb) == 1)
			total += (long long)kb;
	}
	fclose(f);
	return total;
}

void census_emit(FILE *out, const struct census *c, long pid)
{
	struct jw w;

	jw_begin(&w, out, "census");
	jw_int(&w, "pid", pid);
	jw_u64(&w, "addr", c->addr);
	jw_u64(&w, "len", c->len);
	jw_u64(&w, "page_size", c->ps);
	jw_u64(&w, "pmd_size", c->pmd);
	jw_u64(&w, "pages", c->pages);
	jw_u64(&w, "present", c->present);
	jw_u64(&w, "none", c->none);
	jw_u64(&w, "swapped", c->swapped);
	jw_u64(&w, "zero", c->zero);
	jw_u64(&w, "shared", c->shared);
	jw_u64(&w, "hugetlb", c->hugetlb);
	jw_u64(&w, "nonthp_large", c->nonthp);
	jw_int(&w, "anon_huge_kb", c->anon_huge_kb);
	jw_hist(&w, "orders", c->orders, NORDERS);
	jw_hist(&w, "folios", c->folios, NORDERS);
	jw_hist(&w, "misaligned", c->misaligned, NORDERS);
	jw_hist(&w, "partial", c->partial, NORDERS);
	if (c->nblk) {
		jw_open(&w, "pmds", '[');
		for (size_t b = 0; b < c->nblk; b++) {
			jw_open(&w, NULL, '{');
			jw_hist(&w, "orders", c->blk_orders[b], NORDERS);
			jw_u64(&w, "none", c->blk_none[b]);
			jw_u64(&w, "swapped", c->blk_swapped[b]);
			jw_u64(&w, "zero", c->blk_zero[b]);
			jw_close(&w, '}');
		}
		jw_close(&w, ']');
	}
	jw_end(&w);
}

bool write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[PATH_MAX];
	int fd;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return false;
	ok = write(fd, data, len) == (ssize_t)len;
	close(fd);
	return ok;
}

int cmp_pair(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

bool census_save(const char *dir, const struct census *c, const uint64_t *pm,
			struct kpf_src *s)
{
	char meta[256];
	size_t j = 0;

	qsort(s->rec, s->nrec, 2 * sizeof(uint64_t), cmp_pair);
	for (size_t i = 0; i < s->nrec; i++) {
		if (j && s->rec[2 * (j - 1)] == s->rec[2 * i])
			continue;
		s->rec[2 * j] = s->rec[2 * i];
		s->rec[2 * j + 1] = s->rec[2 * i + 1];
		j++;
	}
	snprintf(meta, sizeof(meta), "addr=%" PRIu64 "\nlen=%" PRIu64 "\npage_size=%" PRIu64
		 "\npmd_size=%" PRIu64 "\n", c->addr, c->len, c->ps, c->pmd);
	mkdir(dir, 0755);
	return write_file(dir, "pagemap.bin", pm, c->pages * 8) &&
		write_file(dir, "kpageflags.bin", s->rec, j * 16) &&
		write_file(dir, "meta.txt", meta, strlen(meta));
}

void *slurp(const char *dir, const char *name, size_t *len)
{
	char path[PATH_MAX];
	struct stat st;
	void *buf;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) < 0)
		return NULL;
	buf = malloc((size_t)st.st_size + 1);
	*len = (size_t)read(fd, buf, (size_t)st.st_size);
	((char *)buf)[*len] = '\0';
	close(fd);
	return buf;
}

bool meta_get(const char *meta, const char *key, uint64_t *v)
{
	const char *p = strstr(meta, key);

	if (!p || p[strlen(key)] != '=')
		return false;
	*v = strtoull(p + strlen(key) + 1, NULL, 0);
	return true;
}

bool census_alloc_detail(struct census *c)
{
	uint64_t base = c->addr - c->addr % c->pmd;

	c->nblk = (size_t)((c->addr + c->len - base + c->pmd - 1) / c->pmd);
	c->blk_orders = calloc(c->nblk, sizeof(*c->blk_orders));
	c->blk_none = calloc(c->nblk, sizeof(uint64_t));
	c->blk_swapped = calloc(c->nblk, sizeof(uint64_t));
	c->blk_zero = calloc(c->nblk, sizeof(uint64_t));
	return c->blk_orders && c->blk_none && c->blk_swapped && c->blk_zero;
}

uint64_t *read_pagemap(pid_t pid, const struct census *c)
{
	char path[64];
	uint64_t *pm = calloc(c->pages ? c->pages : 1, 8);
	ssize_t want = (ssize_t)(c->pages * 8);
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	fd = open(path, O_RDONLY);
	if (fd < 0 || !pm)
		return NULL;
	if (pread(fd, pm, want, (off_t)(c->addr / c->ps * 8)) != want) {
		close(fd);
		free(pm);
		return NULL;
	}
	close(fd);
	return pm;
}

int census_load_src(struct census *c, struct kpf_src *s, uint64_t **pm,
			   const char *dir, FILE *out)
{
	size_t mlen, plen, klen;
	char *meta = slurp(dir, "meta.txt", &mlen);

	if (!meta || !meta_get(meta, "addr", &c->addr) || !meta_get(meta, "len", &c->len) ||
	    !meta_get(meta, "page_size", &c->ps) || !meta_get(meta, "pmd_size", &c->pmd))
		return emit_error(out, EXIT_USAGE, "%s/meta.txt missing or incomplete", dir);
	*pm = slurp(dir, "pagemap.bin", &plen);
	s->tab = slurp(dir, "kpageflags.bin", &klen);
	if (!*pm || !s->tab || plen != c->len / c->ps * 8)
		return emit_error(out, EXIT_USAGE, "%s: pagemap.bin/kpageflags.bin bad", dir);
	s->ntab = klen / 16;
	s->fd = -1;
	free(meta);
	return EXIT_OK;
}

int census_live_src(struct census *c, struct kpf_src *s, uint64_t **pm, pid_t pid,
			   bool save, FILE *out)
{
	c->ps = page_size();
	c->pmd = pmd_size();
	if (c->addr % c->ps || c->len % c->ps)
		return emit_error(out, EXIT_USAGE, "addr/len not page aligned");
	c->pages = c->len / c->ps;
	*pm = read_pagemap(pid, c);
	if (!*pm)
		return emit_error(out, EXIT_ENV, "cannot read /proc/%d/pagemap: %s", (int)pid,
				  strerror(errno));
	s->fd = open("/proc/kpageflags", O_RDONLY);
	if (s->fd < 0)
		return emit_error(out, EXIT_ENV, "cannot open /proc/kpageflags: %s (need root)",
				  strerror(errno));
	if (save) {
		s->caprec = 4096;
		s->rec = malloc(s->caprec * 16);
	}
	c->anon_huge_kb = smaps_anon_huge(pid, c->addr, c->len);
	return EXIT_OK;
}

int census_run(FILE *out, pid_t pid, uint64_t addr, uint64_t len, bool detail,
		      const char *save_dir, const char *load_dir)
{
	struct census c = { .addr = addr, .len = len, .anon_huge_kb = -1 };
	struct kpf_src s = { .fd = -1 };
	uint64_t *pm = NULL;
	int rc;

	rc = load_dir ? census_load_src(&c, &s, &pm, load_dir, out)
		      : census_live_src(&c, &s, &pm, pid, save_dir != NULL, out);
	if (rc)
		return rc;
	c.pages = c.len / c.ps;
	if (detail && !census_alloc_detail(&c))
		return emit_error(out, EXIT_ENV, "out of memory");
	if (census_compute(&c, pm, &s) < 0)
		return emit_error(out, EXIT_ENV, "reading /proc/kpageflags failed: %s",
				  strerror(errno));
	if (c.nopfn && !load_dir)
		return emit_error(out, EXIT_ENV, "pagemap hides PFNs (need CAP_SYS_ADMIN)");
	if (save_dir && !census_save(save_dir, &c, pm, &s))
		return emit_error(out, EXIT_ENV, "cannot save census to %s", save_dir);
	census_emit(out, &c, (long)pid);
	if (s.fd >= 0)
		close(s.fd);
	free(pm);
	free(s.rec);
	return EXIT_OK;
}
