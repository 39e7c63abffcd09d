// SPDX-License-Identifier: GPL-2.0
/* thpwork: stress.c - definitions of stress.h */
#define _GNU_SOURCE  /* before any system header: mremap, strerrorname_np, ... */
#include "stress.h"

static const char *const op_names[NR_OPS] = {
	"fault", "read", "dontneed", "mprotect", "munmap", "mremap", "advise",
	"fork", "collapse", "pageout", "cold", "verify",
};

uint32_t stress_tag(struct stress *st, int s, size_t page, uint32_t gen)
{
	uint32_t t = (uint32_t)splitmix64(st->seed ^ ((uint64_t)s << 40) ^
					  ((uint64_t)page << 8) ^ gen);
	return t ? t : 1;
}

void report_corruption(struct stress *st, int s, size_t page, uint32_t want,
			      uint32_t got, int last_op)
{
	struct jw w;

	atomic_fetch_add(&st->corruptions, 1);
	if (atomic_flag_test_and_set(&st->reported))
		return;
	jw_begin(&w, st->out, "corruption");
	jw_int(&w, "slot", s);
	jw_u64(&w, "page", page);
	jw_u64(&w, "addr", (uint64_t)(uintptr_t)(st->slots[s].cur + page * st->ps));
	jw_u64(&w, "expected", want);
	jw_u64(&w, "got", got);
	jw_str(&w, "last_op", last_op >= 0 ? op_names[last_op] : "");
	jw_end(&w);
}

/*
 * Returns the number of bad pages and reports the first one. Pages expected to be
 * zero are only read when `all` (reading maps the zero page, which changes what
 * khugepaged sees), i.e. by the explicit verify op and the final check.
 */
size_t verify_slot(struct stress *st, int s, bool all)
{
	struct slot *sl = &st->slots[s];
	size_t bad = 0;

	for (size_t i = 0; i < st->npages; i++) {
		volatile uint32_t *p = (uint32_t *)(sl->cur + i * st->ps);
		uint32_t a, b, want = sl->expect[i];

		if (!want && !all)
			continue;
		a = p[0];
		b = p[st->ps / 4 - 1];
		if (a == want && b == (want ? ~want : 0))
			continue;
		if (!bad)
			report_corruption(st, s, i, want, a, sl->last_op);
		bad++;
	}
	return bad;
}

void sub_range(struct stress *st, uint64_t *rng, size_t *first, size_t *n)
{
	*rng = splitmix64(*rng);
	*first = (size_t)(*rng % st->npages);
	*rng = splitmix64(*rng);
	*n = 1 + (size_t)(*rng % (st->npages - *first));
}

int op_fault(struct stress *st, int s, size_t first, size_t n)
{
	struct slot *sl = &st->slots[s];

	sl->gen++;
	for (size_t i = first; i < first + n; i++) {
		uint32_t *p = (uint32_t *)(sl->cur + i * st->ps), t = stress_tag(st, s, i, sl->gen);

		p[0] = t;
		p[st->ps / 4 - 1] = ~t;
		sl->expect[i] = t;
	}
	return 0;
}

int op_zap(struct stress *st, int s, size_t first, size_t n, bool unmap)
{
	struct slot *sl = &st->slots[s];
	char *a = sl->cur + first * st->ps;
	size_t len = n * st->ps;

	if (unmap) {
		if (munmap(a, len) ||
		    mmap(a, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
			return -1;
		madvise(a, len, MADV_HUGEPAGE);
	} else if (madvise(a, len, MADV_DONTNEED)) {
		return -1;
	}
	memset(&sl->expect[first], 0, n * sizeof(uint32_t));
	return 0;
}

/* Move the slot between home and alt, re-reserving the vacated range. */
int op_mremap(struct stress *st, int s)
{
	struct slot *sl = &st->slots[s];
	char *to = sl->cur == sl->home ? sl->alt : sl->home, *from = sl->cur;

	if (mremap(from, st->len, st->len, MREMAP_MAYMOVE | MREMAP_FIXED, to) == MAP_FAILED)
		return -1;
	sl->cur = to;
	/* keep the vacated range reserved so no other mapping lands there */
	mmap(from, st->len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
	     -1, 0);
	return 0;
}

int op_fork(struct stress *st, int s, size_t first, size_t n)
{
	struct slot *sl = &st->slots[s];
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		size_t bad = 0;

		for (size_t i = 0; i < st->npages; i++) {
			volatile uint32_t *p = (uint32_t *)(sl->cur + i * st->ps);

			bad += p[0] != sl->expect[i];
		}
		for (size_t i = first; i < first + n; i++)
			((volatile uint32_t *)(sl->cur + i * st->ps))[0] = 0xdeadbeef;
		_exit(bad ? 1 : 0);
	}
	atomic_fetch_add(&st->children, 1);
	return 0;
}

void reap_children(struct stress *st, int flags)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, flags)) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			atomic_fetch_add(&st->child_failures, 1);
}

int run_op(struct stress *st, int op, int s, uint64_t *rng)
{
	struct slot *sl = &st->slots[s];
	size_t first, n;
	char *a;

	sub_range(st, rng, &first, &n);
	a = sl->cur + first * st->ps;
	switch (op) {
	case OP_FAULT:    return op_fault(st, s, first, n);
	case OP_READ:
		for (size_t i = first; i < first + n; i++)
			(void)*(volatile char *)(sl->cur + i * st->ps);
		return 0;
	case OP_DONTNEED: return op_zap(st, s, first, n, false);
	case OP_MUNMAP:   return op_zap(st, s, first, n, true);
	case OP_MPROTECT:
		return mprotect(a, n * st->ps, PROT_READ) ||
		       mprotect(a, n * st->ps, PROT_READ | PROT_WRITE) ? -1 : 0;
	case OP_MREMAP:   return op_mremap(st, s);
	case OP_ADVISE:
		return madvise(a, n * st->ps, MADV_NOHUGEPAGE) ||
		       madvise(a, n * st->ps, MADV_HUGEPAGE) ? -1 : 0;
	case OP_FORK:     return op_fork(st, s, first, n);
	case OP_COLLAPSE: return madvise(sl->cur, st->len, MADV_COLLAPSE);
	case OP_PAGEOUT:  return madvise(a, n * st->ps, MADV_PAGEOUT);
	case OP_COLD:     return madvise(a, n * st->ps, MADV_COLD);
	case OP_VERIFY:   return verify_slot(st, s, true) ? -1 : 0;
	}
	return 0;
}

void *stress_thread(void *arg)
{
	struct stress *st = arg;
	uint64_t rng = splitmix64(st->seed ^ (uint64_t)pthread_self());

	while (now_s() < st->deadline) {
		int s, op;

		rng = splitmix64(rng);
		s = (int)(rng % (uint64_t)st->nslots);
		op = st->ops[(rng >> 32) % (uint64_t)st->nops];
		pthread_mutex_lock(&st->slots[s].lock);
		/* a corruption is reported once; keep going until the deadline */
		verify_slot(st, s, false);
		if (run_op(st, op, s, &rng))
			atomic_fetch_add(&st->fail[op], 1);
		st->slots[s].last_op = op;
		atomic_fetch_add(&st->count[op], 1);
		pthread_mutex_unlock(&st->slots[s].lock);
		reap_children(st, WNOHANG);
	}
	return NULL;
}

int stress_setup_slot(struct stress *st, struct slot *sl, size_t pmd)
{
	size_t span = 2 * st->len + 3 * pmd;
	char *base = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			  -1, 0);

	if (base == MAP_FAILED)
		return -1;
	sl->home = align_up(base, pmd);
	sl->alt = sl->home + st->len + pmd + st->ps;    /* one page off PMD alignment */
	sl->cur = sl->home;
	sl->last_op = -1;
	if (mmap(sl->home, st->len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		return -1;
	madvise(sl->home, st->len, MADV_HUGEPAGE);
	sl->expect = calloc(st->npages, sizeof(uint32_t));
	pthread_mutex_init(&sl->lock, NULL);
	return sl->expect ? 0 : -1;
}

bool stress_parse_ops(struct stress *st, const char *spec)
{
	char buf[256], *save, *tok;

	st->nops = 0;
	if (strlen(spec) >= sizeof(buf))
		return false;
	strcpy(buf, spec);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int i;

		for (i = 0; i < NR_OPS && strcmp(tok, op_names[i]); i++)
			;
		if (i == NR_OPS || st->nops == NR_OPS)
			return false;
		st->ops[st->nops++] = i;
	}
	return st->nops > 0;
}

void stress_emit(struct stress *st, double secs, int threads)
{
	struct jw w;

	jw_begin(&w, st->out, "stress");
	jw_dbl(&w, "seconds", secs);
	jw_int(&w, "threads", threads);
	jw_int(&w, "slots", st->nslots);
	jw_u64(&w, "slot_size", st->len);
	jw_open(&w, "ops", '{');
	for (int i = 0; i < NR_OPS; i++)
		if (atomic_load(&st->count[i]))
			jw_u64(&w, op_names[i], atomic_load(&st->count[i]));
	jw_close(&w, '}');
	jw_open(&w, "failed", '{');
	for (int i = 0; i < NR_OPS; i++)
		if (atomic_load(&st->fail[i]))
			jw_u64(&w, op_names[i], atomic_load(&st->fail[i]));
	jw_close(&w, '}');
	jw_u64(&w, "children", atomic_load(&st->children));
	jw_u64(&w, "child_failures", atomic_load(&st->child_failures));
	jw_u64(&w, "corruptions", atomic_load(&st->corruptions));
	jw_end(&w);
}

int stress_run(FILE *out, double seconds, int threads, int nslots, size_t slot_len,
		      const char *ops, uint64_t seed)
{
	static struct stress st;
	pthread_t tid[256];
	size_t pmd = pmd_size();
	double t0 = now_s();

	st.out = out;
	st.ps = page_size();
	st.len = slot_len ? slot_len : pmd;
	st.npages = st.len / st.ps;
	st.nslots = nslots > 0 ? nslots : 2 * threads;
	st.seed = seed;
	if (threads < 1 || threads > 256 || st.len % st.ps || !st.npages)
		return emit_error(out, EXIT_USAGE, "bad --threads or --slot-size");
	if (!stress_parse_ops(&st, ops ? ops : DEFAULT_STRESS_OPS))
		return emit_error(out, EXIT_USAGE, "bad --ops %s", ops);
	st.slots = calloc((size_t)st.nslots, sizeof(struct slot));
	for (int i = 0; i < st.nslots; i++)
		if (stress_setup_slot(&st, &st.slots[i], pmd))
			return emit_error(out, EXIT_ENV, "mmap: %s", strerror(errno));
	st.deadline = t0 + seconds;
	for (int i = 0; i < threads; i++)
		pthread_create(&tid[i], NULL, stress_thread, &st);
	for (int i = 0; i < threads; i++)
		pthread_join(tid[i], NULL);
	for (int i = 0; i < st.nslots; i++)
		verify_slot(&st, i, true);
	reap_children(&st, 0);
	stress_emit(&st, now_s() - t0, threads);
	return atomic_load(&st.corruptions) || atomic_load(&st.child_failures)
		? EXIT_FINDING : EXIT_OK;
}
