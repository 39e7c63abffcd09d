// SPDX-License-Identifier: GPL-2.0
/* thpwork: util.c - definitions of util.h */
#define _GNU_SOURCE  /* before any system header: mremap, strerrorname_np, ... */
#include "util.h"

void jw_strlit(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void jw_key(struct jw *w, const char *k)
{
	if (w->comma[w->depth])
		fputc(',', w->f);
	w->comma[w->depth] = true;
	if (k) {
		jw_strlit(w->f, k);
		fputc(':', w->f);
	}
}

void jw_open(struct jw *w, const char *k, char c)
{
	jw_key(w, k);
	fputc(c, w->f);
	w->depth++;
	w->comma[w->depth] = false;
}

void jw_close(struct jw *w, char c)
{
	fputc(c, w->f);
	w->depth--;
}

/* Start a one-line event object: {"event":"<name>", ... */
void jw_begin(struct jw *w, FILE *f, const char *event)
{
	memset(w, 0, sizeof(*w));
	w->f = f;
	fputc('{', f);
	jw_key(w, "event");
	jw_strlit(f, event);
}

void jw_end(struct jw *w)
{
	fputs("}\n", w->f);
	fflush(w->f);
}

void jw_int(struct jw *w, const char *k, long long v)
{
	jw_key(w, k);
	fprintf(w->f, "%lld", v);
}

void jw_u64(struct jw *w, const char *k, uint64_t v)
{
	jw_key(w, k);
	fprintf(w->f, "%" PRIu64, v);
}

void jw_dbl(struct jw *w, const char *k, double v)
{
	jw_key(w, k);
	fprintf(w->f, "%.6f", v);
}

void jw_bool(struct jw *w, const char *k, bool v)
{
	jw_key(w, k);
	fputs(v ? "true" : "false", w->f);
}

void jw_str(struct jw *w, const char *k, const char *v)
{
	jw_key(w, k);
	jw_strlit(w->f, v);
}

/* An object {"<index>": count, ...} of the non-zero entries of counts[0..n). */
void jw_hist(struct jw *w, const char *k, const uint64_t *counts, int n)
{
	char idx[16];

	jw_open(w, k, '{');
	for (int i = 0; i < n; i++) {
		if (!counts[i])
			continue;
		snprintf(idx, sizeof(idx), "%d", i);
		jw_u64(w, idx, counts[i]);
	}
	jw_close(w, '}');
}

int emit_error(FILE *out, int code, const char *fmt, ...)
{
	char msg[512];
	struct jw w;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	jw_begin(&w, out, "error");
	jw_str(&w, "msg", msg);
	jw_int(&w, "code", code);
	jw_end(&w);
	return code;
}

/*
 * Parse "<n>[K|M|G|pmd]" into bytes (K=1024). "pmd" multiplies by pmd_size.
 * Returns false on junk.
 */
bool parse_bytes(const char *s, size_t pmd_size, size_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return false;
	if (!strcasecmp(end, "") || !strcasecmp(end, "b"))
		;
	else if (!strcasecmp(end, "k") || !strcasecmp(end, "kb"))
		v <<= 10;
	else if (!strcasecmp(end, "m") || !strcasecmp(end, "mb"))
		v <<= 20;
	else if (!strcasecmp(end, "g") || !strcasecmp(end, "gb"))
		v <<= 30;
	else if (!strcasecmp(end, "pmd") || !strcasecmp(end, "pmds"))
		v *= pmd_size;
	else
		return false;
	*out = v;
	return true;
}

bool parse_long(const char *s, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 0);
	return !errno && end != s && *end == '\0';
}

int order_of(size_t pages)
{
	int o = 0;

	while (((size_t)1 << (o + 1)) <= pages)
		o++;
	return o;
}

/* "0-3,7,9-12" */
bool parse_ranges(const char *s, struct ranges *r)
{
	char buf[512], *save, *tok;

	r->n = 0;
	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *dash = strchr(tok, '-');
		long lo, hi;

		if (r->n == MAX_RANGES)
			return false;
		if (dash) {
			*dash = '\0';
			if (!parse_long(tok, &lo) || !parse_long(dash + 1, &hi))
				return false;
		} else if (!parse_long(tok, &lo)) {
			return false;
		} else {
			hi = lo;
		}
		if (lo < 0 || hi < lo)
			return false;
		r->lo[r->n] = lo;
		r->hi[r->n] = hi;
		r->n++;
	}
	return r->n > 0;
}

bool in_ranges(const struct ranges *r, long v)
{
	for (int i = 0; i < r->n; i++)
		if (v >= r->lo[i] && v <= r->hi[i])
			return true;
	return false;
}

/* Amount in pages: "N", "N%" (of ptes), "N{K,M,G}" bytes. */
bool parse_amount(const char *s, size_t ps, size_t ptes, long *out)
{
	size_t len = strlen(s), bytes;
	long v;

	if (len && s[len - 1] == '%') {
		char buf[32];
		double pct;

		if (len >= sizeof(buf))
			return false;
		memcpy(buf, s, len - 1);
		buf[len - 1] = '\0';
		pct = strtod(buf, NULL);
		if (pct < 0 || pct > 100)
			return false;
		*out = (long)((double)ptes * pct / 100.0);
		return true;
	}
	if (parse_long(s, &v))
		return (*out = v) >= 0;
	if (!parse_bytes(s, 0, &bytes) || bytes % ps)
		return false;
	*out = (long)(bytes / ps);
	return true;
}

bool parse_ppm(const char *s, uint64_t *ppm)
{
	char buf[32];
	size_t len = strlen(s);
	double pct;

	if (!len || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len + 1);
	if (buf[len - 1] == '%')
		buf[len - 1] = '\0';
	pct = strtod(buf, NULL);
	if (pct < 0 || pct > 100)
		return false;
	*ppm = (uint64_t)(pct * 10000.0 + 0.5);
	return true;
}

bool parse_atom(char *s, size_t ps, size_t ptes, struct pat_atom *a)
{
	char *arg = strchr(s, ':'), *arg2 = NULL;

	memset(a, 0, sizeof(*a));
	if (arg) {
		*arg++ = '\0';
		arg2 = strchr(arg, ':');
		if (arg2)
			*arg2++ = '\0';
	}
	if (!strcmp(s, "full") || !strcmp(s, "none") || !strcmp(s, "half")) {
		a->kind = s[0] == 'f' ? P_FULL : s[0] == 'n' ? P_NONE : P_HALF;
		return !arg;
	}
	if (!arg)
		return false;
	if (!strcmp(s, "first") || !strcmp(s, "last")) {
		a->kind = s[0] == 'f' ? P_FIRST : P_LAST;
		return !arg2 && parse_amount(arg, ps, ptes, &a->a);
	}
	if (!strcmp(s, "every")) {
		a->kind = P_EVERY;
		if (!parse_amount(arg, ps, ptes, &a->a) || a->a < 1)
			return false;
		return !arg2 || parse_amount(arg2, ps, ptes, &a->b);
	}
	if (!strcmp(s, "ptes")) {
		a->kind = P_PTES;
		return !arg2 && parse_ranges(arg, &a->r);
	}
	if (!strcmp(s, "chunks")) {
		a->kind = P_CHUNKS;
		/* SIZE is an amount, as harness/guest/pattern.py reads it: "16" pages, "64K" */
		if (!arg2 || !parse_amount(arg, ps, ptes, &a->a) || a->a < 1)
			return false;
		return parse_ranges(arg2, &a->r);
	}
	if (!strcmp(s, "random")) {
		a->kind = P_RANDOM;
		if (!parse_ppm(arg, &a->ppm))
			return false;
		a->seed = arg2 ? strtoull(arg2, NULL, 0) : 1;
		return true;
	}
	return false;
}

bool parse_pattern(const char *spec, size_t ps, size_t ptes, struct pattern *p)
{
	char buf[512], *gsave, *asave, *group, *atom;

	memset(p, 0, sizeof(*p));
	if (!*spec || strlen(spec) >= sizeof(buf))
		return false;
	strcpy(buf, spec);
	for (group = strtok_r(buf, "|", &gsave); group;
	     group = strtok_r(NULL, "|", &gsave)) {
		if (p->ngroups == MAX_GROUPS)
			return false;
		for (atom = strtok_r(group, "+", &asave); atom;
		     atom = strtok_r(NULL, "+", &asave)) {
			int *n = &p->natoms[p->ngroups];

			if (*n == MAX_ATOMS || !parse_atom(atom, ps, ptes, &p->atoms[p->ngroups][*n]))
				return false;
			(*n)++;
		}
		p->ngroups++;
	}
	return p->ngroups > 0;
}

bool atom_hit(const struct pat_atom *a, long pmd, long pte, long ptes)
{
	switch (a->kind) {
	case P_FULL:   return true;
	case P_NONE:   return false;
	case P_HALF:   return pte < ptes / 2;
	case P_FIRST:  return pte < a->a;
	case P_LAST:   return pte >= ptes - a->a;
	case P_EVERY:  return pte >= a->b && (pte - a->b) % a->a == 0;
	case P_PTES:   return in_ranges(&a->r, pte);
	case P_CHUNKS: return in_ranges(&a->r, pte / a->a);
	case P_RANDOM:
		return splitmix64(a->seed ^ ((uint64_t)pmd << 32) ^ (uint64_t)pte) % 1000000
			< a->ppm;
	}
	return false;
}

bool pattern_hit(const struct pattern *p, long pmd, long pte, long ptes)
{
	int g = (int)(pmd % p->ngroups);

	for (int i = 0; i < p->natoms[g]; i++)
		if (atom_hit(&p->atoms[g][i], pmd, pte, ptes))
			return true;
	return false;
}
