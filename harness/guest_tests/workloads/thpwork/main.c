// SPDX-License-Identifier: GPL-2.0
/*
 * thpwork - THP/mTHP collapse workloads for kharness guests.
 *
 * Build (in workloads/): gcc -static -O2 -Wall -Wextra -pthread -I thpwork -I lib, the .c
 * files of thpwork/ and lib/, -o thpwork (thpwork/: main.c and one .c/.h pair per part:
 * util, census, region, stress, watch; lib/: the helpers every workload binary shares).
 * Output: one JSON object per line on stdout, each with an "event" key. Exit codes: 0 ok,
 * 1 finding (data corruption), 2 usage, 3 missing kernel feature/permission, 4 timeout,
 * 5 watched process gone.
 *
 * Region workloads (map a PMD-aligned region, populate it, act, then exit or hold):
 *   thpwork populate   [region opts]
 *   thpwork swapout    [region opts] --pages PATTERN        MADV_PAGEOUT those pages
 *   thpwork fork-share [region opts] [--child-writes PAT]   fork a child sharing it
 *   thpwork split      [region opts] --how mprotect|munmap|mremap|madvise
 *                                    [--at OFF] [--len LEN] [--pmds R]
 *                      (mprotect leaves [at, at+len) read-only; munmap/mremap leave a
 *                      hole; madvise = MADV_NOHUGEPAGE there)
 *   thpwork collapse   [region opts]                        MADV_COLLAPSE each PMD
 * With --advise after (the default), MADV_HUGEPAGE is applied once the region is set up:
 * after populate, and for swapout / fork-share after the page-out / the fork (the child
 * advises its own copy), so khugepaged never sees a half-built layout.
 * region opts: --size S (rounded up to whole PMDs; "4pmd" allowed) --pattern P
 *   --pmds RANGES --touch write|read --advise before|after|none --seed N
 *   --split-to ORDER (debugfs split of the populated folios) --census [--detail]
 *   --hold (serve commands) --daemon (hold in the background; returns once ready)
 *   --log FILE --max-hold SECONDS
 * A held workload serves commands on the abstract unix socket @thpwork-<pid>:
 *   thpwork ctl --pid P [--timeout S] COMMAND [opts]
 *   COMMAND: census [--detail] [--save DIR] | populate --pattern P [--pmds R]
 *     [--touch T] | pageout --pages P | dontneed --pages P | collapse [--pmds R]
 *     | split --how H [--at A] [--len L] [--pmds R] | shift --by B | fork
 *     [--child-writes P] | unfork | split-folios --order N | advise --mode
 *     hugepage|nohugepage | verify | region | exit
 * Tools:
 *   thpwork census --pid P --addr A --len L [--detail] [--save DIR] | --load DIR
 *   thpwork watch --scans N [--timeout S] [--interval-ms MS] [--pid P]
 *   thpwork stress --seconds S --threads T [--slots N] [--slot-size S] [--ops a,b]
 *   thpwork info
 *   thpwork zram-swap [--size 256M] [--device zram0]
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/swap.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include "util.h"
#include "census.h"
#include "region.h"
#include "stress.h"
#include "watch.h"
#include "split.h"

struct opts {
	const char *size, *pattern, *pmds, *touch, *advise, *log, *pages, *child_writes;
	const char *how, *at, *len, *by, *addr, *save, *load, *slot_size, *ops, *device;
	const char *mode;
	uint64_t seed;
	long pid, scans, interval_ms;
	int split_to, threads, slots, order;
	double max_hold, timeout, seconds;
	bool hold, daemon, census, detail;
};

static const struct option long_opts[] = {
	{ "size", 1, 0, 's' }, { "pattern", 1, 0, 'p' }, { "pmds", 1, 0, 'P' },
	{ "touch", 1, 0, 'T' }, { "advise", 1, 0, 'a' }, { "seed", 1, 0, 'S' },
	{ "split-to", 1, 0, 'o' }, { "hold", 0, 0, 'H' }, { "daemon", 0, 0, 'D' },
	{ "log", 1, 0, 'l' }, { "max-hold", 1, 0, 'M' }, { "census", 0, 0, 'c' },
	{ "detail", 0, 0, 'd' }, { "pages", 1, 0, 'g' }, { "child-writes", 1, 0, 'w' },
	{ "how", 1, 0, 'h' }, { "at", 1, 0, 'A' }, { "len", 1, 0, 'L' }, { "by", 1, 0, 'b' },
	{ "pid", 1, 0, 'i' }, { "addr", 1, 0, 'r' }, { "save", 1, 0, 'v' },
	{ "load", 1, 0, 'V' }, { "scans", 1, 0, 'n' }, { "timeout", 1, 0, 't' },
	{ "interval-ms", 1, 0, 'I' }, { "seconds", 1, 0, 'e' }, { "threads", 1, 0, 'j' },
	{ "slots", 1, 0, 'O' }, { "slot-size", 1, 0, 'z' }, { "ops", 1, 0, 'x' },
	{ "device", 1, 0, 'y' }, { "order", 1, 0, 'R' }, { "mode", 1, 0, 'm' },
	{ 0, 0, 0, 0 }
};

static void opts_default(struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->pattern = "full";
	o->touch = "write";
	o->advise = "after";
	o->seed = 1;
	o->split_to = -1;
	o->order = -1;
	o->max_hold = 3600;
	o->timeout = 600;
	o->interval_ms = 20;
	o->scans = 1;
	o->seconds = 10;
	o->threads = 4;
}

static void set_opt(struct opts *o, int c, const char *v)
{
	switch (c) {
	case 's': o->size = v; break;
	case 'p': o->pattern = v; break;
	case 'P': o->pmds = v; break;
	case 'T': o->touch = v; break;
	case 'a': o->advise = v; break;
	case 'S': o->seed = strtoull(v, NULL, 0); break;
	case 'o': o->split_to = atoi(v); break;
	case 'H': o->hold = true; break;
	case 'D': o->daemon = o->hold = true; break;
	case 'l': o->log = v; break;
	case 'M': o->max_hold = strtod(v, NULL); break;
	case 'c': o->census = true; break;
	case 'd': o->detail = true; break;
	case 'g': o->pages = v; break;
	case 'w': o->child_writes = v; break;
	case 'h': o->how = v; break;
	case 'A': o->at = v; break;
	case 'L': o->len = v; break;
	case 'b': o->by = v; break;
	case 'i': o->pid = strtol(v, NULL, 0); break;
	case 'r': o->addr = v; break;
	case 'v': o->save = v; break;
	case 'V': o->load = v; break;
	case 'n': o->scans = strtol(v, NULL, 0); break;
	case 't': o->timeout = strtod(v, NULL); break;
	case 'I': o->interval_ms = strtol(v, NULL, 0); break;
	case 'e': o->seconds = strtod(v, NULL); break;
	case 'j': o->threads = atoi(v); break;
	case 'O': o->slots = atoi(v); break;
	case 'z': o->slot_size = v; break;
	case 'x': o->ops = v; break;
	case 'y': o->device = v; break;
	case 'R': o->order = atoi(v); break;
	case 'm': o->mode = v; break;
	}
}

/* Parse argv[2..] (argv[1] is the subcommand); stops at the first non-option. */
static bool parse_opts(int argc, char **argv, struct opts *o)
{
	int c;

	opts_default(o);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "+", long_opts, NULL)) != -1) {
		if (c == '?' || c == ':')
			return false;
		set_opt(o, c, optarg);
	}
	optind++;   /* index into the full argv */
	return true;
}

/* --------------------------------------------------------- daemon mode */

/* Parent: relay the child's output until it closes the pipe; succeed on "region". */
static void relay_and_exit(int fd, pid_t child)
{
	char buf[4096];
	size_t cap = 1 << 16, len = 0;
	char *all = malloc(cap);
	ssize_t n;
	int status;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			break;
		if (len + (size_t)n + 1 > cap)
			all = realloc(all, cap = 2 * (len + (size_t)n + 1));
		memcpy(all + len, buf, (size_t)n);
		len += (size_t)n;
	}
	fflush(stdout);
	all[len] = '\0';
	if (strstr(all, "\"event\":\"region\""))
		exit(EXIT_OK);
	if (waitpid(child, &status, 0) == child && WIFEXITED(status))
		exit(WEXITSTATUS(status) ? WEXITSTATUS(status) : EXIT_ENV);
	exit(EXIT_ENV);
}

/* Fork; the parent never returns. The child gets a FILE* for its start-up output. */
static FILE *daemonize(const char *log)
{
	char path[64];
	int p[2], fd;
	pid_t pid;

	if (pipe(p))
		exit(emit_error(stdout, EXIT_ENV, "pipe: %s", strerror(errno)));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		exit(emit_error(stdout, EXIT_ENV, "fork: %s", strerror(errno)));
	if (pid > 0) {
		close(p[1]);
		relay_and_exit(p[0], pid);
	}
	close(p[0]);
	setsid();
	if (!log) {
		snprintf(path, sizeof(path), "/tmp/thpwork-%d.log", (int)getpid());
		log = path;
	}
	fd = open("/dev/null", O_RDONLY);
	dup2(fd, 0);
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	return fdopen(p[1], "w");
}

/* -------------------------------------------------------- control socket */

static volatile sig_atomic_t stop_flag;

static void on_term(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static socklen_t ctl_addr(struct sockaddr_un *sa, long pid)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "thpwork-%ld", pid);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(sa->sun_path + 1));
}

static int ctl_listen(void)
{
	struct sockaddr_un sa;
	socklen_t len = ctl_addr(&sa, getpid());
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, len) || listen(fd, 8))
		return -1;
	return fd;
}

static int region_cmd(FILE *out, struct region *r, const char *cmd, struct opts *o,
		      bool *quit);

static int split_words(char *line, char **argv, int max)
{
	int n = 0;

	for (char *save, *t = strtok_r(line, " \t\n", &save); t && n < max - 1;
	     t = strtok_r(NULL, " \t\n", &save))
		argv[n++] = t;
	argv[n] = NULL;
	return n;
}

/* One request per connection: a line "CMD ARGS...", answered by events + "done". */
static bool handle_conn(struct region *r, int c)
{
	char line[4096], *argv[64];
	struct timeval tv = { .tv_sec = 10 };
	ssize_t n, len = 0;
	struct opts o;
	bool quit = false;
	struct jw w;
	int argc, rc;
	FILE *out;

	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (len < (ssize_t)sizeof(line) - 1 &&
	       (n = read(c, line + len, sizeof(line) - 1 - (size_t)len)) > 0) {
		len += n;
		if (memchr(line, '\n', (size_t)len))
			break;
	}
	line[len] = '\0';
	argv[0] = "thpwork";
	argc = 1 + split_words(line, argv + 1, 63);
	out = fdopen(c, "w");
	if (argc < 2 || !parse_opts(argc, argv, &o))
		rc = emit_error(out, EXIT_USAGE, "bad request: %s", line);
	else
		rc = region_cmd(out, r, argv[1], &o, &quit);
	jw_begin(&w, out, "done");
	jw_int(&w, "rc", rc);
	jw_end(&w);
	fclose(out);
	return quit;
}

static int serve(struct region *r, int lfd, double max_hold)
{
	double end = now_s() + max_hold;

	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGPIPE, SIG_IGN);
	while (!stop_flag && now_s() < end) {
		struct pollfd pfd = { .fd = lfd, .events = POLLIN };
		int c;

		if (poll(&pfd, 1, 500) <= 0)
			continue;
		c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c >= 0 && handle_conn(r, c))
			break;
	}
	close(lfd);
	if (r->child > 0) {
		kill(r->child, SIGKILL);
		waitpid(r->child, NULL, 0);
	}
	return EXIT_OK;
}

static int ctl_client(long pid, double timeout, int argc, char **argv)
{
	struct sockaddr_un sa;
	socklen_t len = ctl_addr(&sa, pid);
	struct timeval tv = { .tv_sec = (time_t)timeout };
	char req[4096] = "", line[1 << 16];
	int fd = socket(AF_UNIX, SOCK_STREAM, 0), rc = EXIT_ENV;
	FILE *in;

	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, len))
		return emit_error(stdout, EXIT_GONE, "no thpwork holder with pid %ld", pid);
	for (int i = 0; i < argc; i++) {
		strncat(req, argv[i], sizeof(req) - strlen(req) - 2);
		strncat(req, i + 1 < argc ? " " : "\n", sizeof(req) - strlen(req) - 1);
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		return emit_error(stdout, EXIT_GONE, "write to holder: %s", strerror(errno));
	shutdown(fd, SHUT_WR);
	in = fdopen(fd, "r");
	while (fgets(line, sizeof(line), in)) {
		const char *p = strstr(line, "\"rc\":");

		if (!strncmp(line, "{\"event\":\"done\"", 15) && p)
			rc = atoi(p + 5);
		else
			fputs(line, stdout);
	}
	fclose(in);
	return rc;
}

/* ------------------------------------------------------------- dispatch */

static int region_cmd(FILE *out, struct region *r, const char *cmd, struct opts *o,
		      bool *quit)
{
	const char *pages = o->pages ? o->pages : o->pattern;

	if (!strcmp(cmd, "census"))
		return census_run(out, getpid(), (uintptr_t)r->addr, r->len, o->detail, o->save,
				  NULL);
	if (!strcmp(cmd, "populate"))
		return cmd_populate(out, r, o->pattern, o->pmds, o->touch);
	if (!strcmp(cmd, "pageout") || !strcmp(cmd, "dontneed"))
		return cmd_zap(out, r, pages, o->pmds, cmd[0] == 'p');
	if (!strcmp(cmd, "collapse"))
		return cmd_collapse(out, r, o->pmds);
	if (!strcmp(cmd, "split"))
		return cmd_split(out, r, o->how ? o->how : "mprotect", o->at, o->len, o->pmds);
	if (!strcmp(cmd, "shift"))
		return cmd_shift(out, r, o->by ? o->by : "4K");
	if (!strcmp(cmd, "fork"))
		return cmd_fork(out, r, o->child_writes, false);
	if (!strcmp(cmd, "unfork"))
		return cmd_unfork(out, r);
	if (!strcmp(cmd, "split-folios"))
		return cmd_split_folios(out, r, o->order);
	if (!strcmp(cmd, "advise"))
		return region_advise(out, r, o->mode ? o->mode : "hugepage");
	if (!strcmp(cmd, "verify"))
		return cmd_verify(out, r);
	if (!strcmp(cmd, "region")) {
		emit_region(out, r, true);
		return EXIT_OK;
	}
	if (!strcmp(cmd, "exit")) {
		*quit = true;
		return r->child ? cmd_unfork(out, r) : EXIT_OK;
	}
	return emit_error(out, EXIT_USAGE, "unknown command %s", cmd);
}

/*
 * Subcommands whose action shapes what khugepaged will see (swap ptes, shared pages):
 * with --advise after, MADV_HUGEPAGE comes after the action, otherwise khugepaged
 * (woken at once when the mm registers) can collapse the region half-way through it.
 */
static bool advise_after_action(const char *sub)
{
	return !strcmp(sub, "swapout") || !strcmp(sub, "fork-share");
}

/* The one-shot action of a region subcommand (after populate). */
static int region_action(FILE *out, struct region *r, const char *sub, struct opts *o)
{
	bool quit;

	if (!strcmp(sub, "swapout"))
		return cmd_zap(out, r, o->pages ? o->pages : "full", NULL, true);
	if (!strcmp(sub, "fork-share"))
		return cmd_fork(out, r, o->child_writes, !strcmp(o->advise, "after"));
	if (!strcmp(sub, "split"))
		return region_cmd(out, r, "split", o, &quit);
	if (!strcmp(sub, "collapse"))
		return cmd_collapse(out, r, NULL);
	return EXIT_OK;
}

static int region_setup(FILE *out, struct region *r, const char *sub, struct opts *o)
{
	size_t size;
	int rc;

	if (!o->size)
		o->size = "8pmd";             /* 16M with 4K pages */
	if (!parse_bytes(o->size, pmd_size(), &size))
		return emit_error(out, EXIT_USAGE, "bad --size %s", o->size);
	if (strcmp(o->advise, "before") && strcmp(o->advise, "after") && strcmp(o->advise, "none"))
		return emit_error(out, EXIT_USAGE, "--advise before|after|none");
	if ((rc = region_map(out, r, size, o->seed)))
		return rc;
	if (!strcmp(o->advise, "before") && (rc = region_advise(out, r, "hugepage")))
		return rc;
	if ((rc = cmd_populate(out, r, o->pattern, o->pmds, o->touch)))
		return rc;
	if (o->split_to >= 0 && (rc = cmd_split_folios(out, r, o->split_to)))
		return rc;
	if (!strcmp(o->advise, "after") && !advise_after_action(sub) &&
	    (rc = region_advise(out, r, "hugepage")))
		return rc;
	if ((rc = region_action(out, r, sub, o)))
		return rc;
	if (!strcmp(o->advise, "after") && advise_after_action(sub) &&
	    (rc = region_advise(out, r, "hugepage")))
		return rc;
	if (o->census)
		return census_run(out, getpid(), (uintptr_t)r->addr, r->len, o->detail, o->save,
				  NULL);
	return EXIT_OK;
}

static int region_main(const char *sub, struct opts *o)
{
	struct region r = { 0 };
	FILE *out = o->daemon ? daemonize(o->log) : stdout;
	int rc = region_setup(out, &r, sub, o), lfd = -1;

	if (rc)
		return rc;
	if (o->hold && (lfd = ctl_listen()) < 0)
		return emit_error(out, EXIT_ENV, "control socket: %s", strerror(errno));
	emit_region(out, &r, o->hold);
	if (!o->hold)
		return EXIT_OK;
	if (o->daemon)
		fclose(out);    /* the parent sees EOF and returns */
	return serve(&r, lfd, o->max_hold);
}

/* ----------------------------------------------------------- tools */

static void json_size_list(struct jw *w, const char *key, const char *need)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(THP_ROOT);
	unsigned long kb;

	jw_open(w, key, '[');
	while (d && (de = readdir(d))) {
		if (sscanf(de->d_name, "hugepages-%lukB", &kb) != 1)
			continue;
		snprintf(path, sizeof(path), THP_ROOT "/%s/%s", de->d_name, need);
		if (!access(path, F_OK))
			jw_u64(w, NULL, kb);
	}
	jw_close(w, ']');
	if (d)
		closedir(d);
}

static int cmd_info(FILE *out)
{
	struct utsname u;
	struct jw w;

	uname(&u);
	jw_begin(&w, out, "info");
	jw_str(&w, "kernel", u.release);
	jw_str(&w, "machine", u.machine);
	jw_u64(&w, "page_size", page_size());
	jw_u64(&w, "pmd_size", pmd_size());
	jw_int(&w, "cpus", sysconf(_SC_NPROCESSORS_ONLN));
	json_size_list(&w, "sizes_kb", "stats");
	json_size_list(&w, "anon_sizes_kb", "enabled");
	json_size_list(&w, "shmem_sizes_kb", "shmem_enabled");
	jw_int(&w, "swap_total_kb", swap_total_kb());
	jw_bool(&w, "kpageflags", !access("/proc/kpageflags", R_OK));
	jw_bool(&w, "split_debugfs", split_available());
	jw_end(&w);
	return EXIT_OK;
}

static bool swap_active(const char *dev)
{
	char line[512];
	bool found = false;
	FILE *f = fopen("/proc/swaps", "r");

	while (f && fgets(line, sizeof(line), f))
		found |= !strncmp(line, dev, strlen(dev));
	if (f)
		fclose(f);
	return found;
}

static bool write_swap_header(const char *dev, uint64_t size)
{
	size_t ps = page_size();
	char *buf = calloc(1, ps);
	uint32_t *info = (uint32_t *)(buf + 1024);   /* version, last_page, nr_badpages */
	int fd = open(dev, O_WRONLY);
	bool ok;

	if (fd < 0 || !buf)
		return false;
	info[0] = 1;
	info[1] = (uint32_t)(size / ps - 1);
	memcpy(buf + ps - 10, "SWAPSPACE2", 10);
	ok = pwrite(fd, buf, ps, 0) == (ssize_t)ps && !fsync(fd);
	close(fd);
	free(buf);
	return ok;
}

static bool ensure_devnode(const char *name, const char *dev)
{
	char path[PATH_MAX], buf[32];
	unsigned maj, min;

	if (!access(dev, F_OK))
		return true;
	snprintf(path, sizeof(path), "/sys/block/%s/dev", name);
	return read_text(path, buf, sizeof(buf)) && sscanf(buf, "%u:%u", &maj, &min) == 2 &&
		!mknod(dev, S_IFBLK | 0600, makedev(maj, min));
}

/* Set up /dev/<device> as swap (no mkswap/swapon binaries needed). */
static int cmd_zram(FILE *out, const char *size_s, const char *name)
{
	char dev[64], path[PATH_MAX], num[32];
	uint64_t cur = 0;
	size_t size;
	struct jw w;

	snprintf(dev, sizeof(dev), "/dev/%s", name);
	if (!parse_bytes(size_s, 0, &size) || size < 16 * page_size())
		return emit_error(out, EXIT_USAGE, "bad --size %s", size_s);
	if (!swap_active(dev)) {
		snprintf(path, sizeof(path), "/sys/block/%s/disksize", name);
		if (!read_u64(path, &cur))
			return emit_error(out, EXIT_ENV, "no %s (CONFIG_ZRAM?)", path);
		snprintf(num, sizeof(num), "%zu", size);
		if (!cur && !write_text(path, num))
			return emit_error(out, EXIT_ENV, "write %s: %s", path, strerror(errno));
		read_u64(path, &cur);
		if (!ensure_devnode(name, dev) || !write_swap_header(dev, cur))
			return emit_error(out, EXIT_ENV, "%s: %s", dev, strerror(errno));
		if (swapon(dev, 0))
			return emit_error(out, EXIT_ENV, "swapon %s: %s", dev, strerror(errno));
	}
	jw_begin(&w, out, "zram-swap");
	jw_str(&w, "device", dev);
	jw_int(&w, "swap_total_kb", swap_total_kb());
	jw_end(&w);
	return EXIT_OK;
}

static int census_main(struct opts *o)
{
	uint64_t addr = o->addr ? strtoull(o->addr, NULL, 0) : 0;
	size_t len = 0;

	if (!o->load && (!o->pid || !o->addr || !o->len || !parse_bytes(o->len, 0, &len)))
		return emit_error(stdout, EXIT_USAGE, "census: --pid --addr --len, or --load DIR");
	return census_run(stdout, (pid_t)o->pid, addr, len, o->detail, o->save, o->load);
}

static int usage(void)
{
	fputs("usage: thpwork populate|swapout|fork-share|split|collapse [opts]\n"
	      "       thpwork ctl --pid P COMMAND [opts]\n"
	      "       thpwork census|watch|stress|info|zram-swap [opts]\n"
	      "(see the comment at the top of thpwork/main.c)\n", stderr);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";
	struct opts o;
	size_t slot = 0;

	if (argc < 2 || !parse_opts(argc, argv, &o))
		return usage();
	if (!strcmp(sub, "populate") || !strcmp(sub, "swapout") || !strcmp(sub, "fork-share") ||
	    !strcmp(sub, "split") || !strcmp(sub, "collapse"))
		return region_main(sub, &o);
	if (!strcmp(sub, "ctl"))
		return optind < argc ? ctl_client(o.pid, o.timeout, argc - optind, argv + optind)
				     : usage();
	if (!strcmp(sub, "census"))
		return census_main(&o);
	if (!strcmp(sub, "watch"))
		return watch_run(stdout, o.scans, o.timeout, o.interval_ms, (pid_t)o.pid);
	if (!strcmp(sub, "stress")) {
		if (o.slot_size && !parse_bytes(o.slot_size, pmd_size(), &slot))
			return emit_error(stdout, EXIT_USAGE, "bad --slot-size");
		return stress_run(stdout, o.seconds, o.threads, o.slots, slot, o.ops, o.seed);
	}
	if (!strcmp(sub, "info"))
		return cmd_info(stdout);
	if (!strcmp(sub, "zram-swap"))
		return cmd_zram(stdout, o.size ? o.size : "256M", o.device ? o.device : "zram0");
	return usage();
}
