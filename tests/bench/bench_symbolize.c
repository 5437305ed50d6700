// SPDX-License-Identifier: Apache-2.0
/* bench_symbolize: time and peak RSS of symbolizing a synthetic CPU profile
 * of a large binary with full debug info, through the same path profd
 * takes (frames__locations into the pprof builder, then encode).
 *
 *   bench_symbolize BINARY COPY [SAMPLES [DEPTH]]
 *
 * BINARY (non-PIE, waits on stdin) is started twice, as itself and as COPY
 * (the same bytes under another inode). Frames are drawn from its function
 * symbols with a Zipf-like skew, as real profiles are, each function having
 * a few hot instructions (loops). Phases:
 *   cold     a new symbolizer: parse, find and index the DWARF
 *   cached   the same symbolizer, a new profile
 *   copy     the second process (another inode, same build id)
 *   nocache  a symbolizer without result cache, DWARF already indexed:
 *            every frame goes through the DWARF index
 * Peak RSS is VmHWM, reset before each phase through /proc/self/clear_refs.
 * Prints one line per phase (us/frame from CPU time, which a busy machine
 * disturbs less than wall time); asserts nothing about time or memory.
 *
 * Results: after each phase (untimed) every distinct address of the
 * profile is looked up again and its inline chain (names, files, lines,
 * flags) hashed; every phase must give the same digest (the nocache one
 * goes through the DWARF index for each address), else the exit status is
 * 3. With BENCH_SYM_DUMP=FILE the chains are written there, one address a
 * line, sorted, for bench_symbolize.sh to compare with another revision's;
 * BENCH_SYM_DUMP_ONLY=1 skips the timed phases (the reference run);
 * BENCH_SYM_COLD_ONLY=1 stops after the cold phase (to profile it). */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "binary/elf.h"
#include "aggregate/frames.h"
#include "pprof/pprof.h"
#include "symbolize/symbolizer.h"

#define BENCH_MAX_DEPTH 64
#define BENCH_PCS_PER_FUNC 4

struct child {
	pid_t pid;
	int in;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* VmRSS or VmHWM in MiB. */
static double status_mib(const char *key)
{
	char line[256];
	double v = -1;
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			v = strtod(line + strlen(key) + 1, NULL) / 1024.0;
	if (f)
		fclose(f);
	return v;
}

static void reset_peak(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (write(fd, "5", 1) != 1)
			perror("clear_refs");
		close(fd);
	}
}

static int start(const char *path, struct child *c)
{
	int in[2], out[2];
	char buf[16];

	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		return -errno;
	c->pid = fork();
	if (c->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		execl(path, path, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	c->in = in[1];
	/* "ready" */
	if (read(out[0], buf, sizeof(buf)) <= 0) {
		close(out[0]);
		return -EIO;
	}
	close(out[0]);
	return 0;
}

static void stop(struct child *c)
{
	int st;

	if (c->pid <= 0)
		return;
	close(c->in);
	if (waitpid(c->pid, &st, 0) != c->pid)
		kill(c->pid, SIGKILL);
}

/* CPU seconds (user + system) this process used so far. */
static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Index in [0, n) with P(i) ~ 1/(i+1): a few hot functions, a long tail. */
static size_t zipf(size_t n)
{
	double u = (double)(rnd() >> 11) / 9007199254740992.0;

	size_t i = (size_t)pow((double)n + 1, u) - 1;

	return i < n ? i : n - 1;
}

/* FNV-1a over a string and its terminator. */
static uint64_t fnv(uint64_t h, const char *str)
{
	const char *c = str ? str : "(null)";

	do {
		h ^= (unsigned char)*c;
		h *= 0x100000001b3ULL;
	} while (*c++);
	return h;
}

static int addr_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Digest of the chains of every distinct address looked up (leaf exact,
 * callers at the return address - 1, as frames__locations does), written
 * to out when not NULL. */
static int results_digest(struct symbolizer *s, pid_t pid, const uint64_t *stacks, size_t nsamples,
			  size_t depth, FILE *out, uint64_t *digest, size_t *distinct)
{
	size_t n = nsamples * depth, k = 0;
	uint64_t *a = malloc(n * sizeof(*a)), h = 0xcbf29ce484222325ULL;
	char buf[64];

	if (!a)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		a[i] = i % depth ? stacks[i] - 1 : stacks[i];
	qsort(a, n, sizeof(*a), addr_cmp);
	for (size_t i = 0; i < n; i++) {
		struct sym_frame f;

		if (k && a[k - 1] == a[i])
			continue;
		a[k++] = a[i];
		if (symbolizer__user(s, pid, a[i], &f))
			f.nlines = 0;
		snprintf(buf, sizeof(buf), "%" PRIx64 " %u", a[i], f.nlines ? f.flags : 0);
		h = fnv(h, buf);
		if (out)
			fputs(buf, out);
		for (size_t j = 0; j < f.nlines; j++) {
			const struct sym_line *l = &f.lines[j];

			snprintf(buf, sizeof(buf), "%d %d", l->line, l->start_line);
			h = fnv(fnv(fnv(fnv(h, l->name), l->system_name), l->file), buf);
			if (out)
				fprintf(out, " | %s ; %s ; %s:%s", l->name, l->system_name,
					l->file ? l->file : "(null)", buf);
		}
		if (out)
			fputc('\n', out);
	}
	free(a);
	*digest = h;
	*distinct = k;
	return 0;
}

struct phase {
	double secs, cpu, peak_mib, rss_mib, anon_mib, file_mib;
	size_t locations, functions;
};

static int run_phase(struct symbolizer *s, pid_t pid, const uint64_t *stacks, size_t nsamples,
		     size_t depth, struct phase *ph)
{
	uint64_t locs[BENCH_MAX_DEPTH];
	struct frames_stats fst = { 0 };
	struct pprof *p = pprof__new();
	uint8_t *buf = NULL;
	size_t len = 0;
	int64_t v[2] = { 1, 10000000 };
	double t0, c0;
	int err = 0;

	if (!p)
		return -ENOMEM;
	pprof__add_sample_type(p, "samples", "count");
	pprof__add_sample_type(p, "cpu", "nanoseconds");
	reset_peak();
	t0 = now_s();
	c0 = cpu_s();
	for (size_t i = 0; i < nsamples && !err; i++) {
		int n = frames__locations(p, s, pid, NULL, 0, stacks + i * depth, depth,
					  FRAMES_LEAF_EXACT, locs, BENCH_MAX_DEPTH, &fst);

		if (n < 0)
			err = n;
		else
			err = pprof__add_sample(p, locs, (size_t)n, v, NULL, 0);
	}
	if (!err)
		err = pprof__encode(p, &buf, &len);
	ph->secs = now_s() - t0;
	ph->cpu = cpu_s() - c0;
	ph->peak_mib = status_mib("VmHWM:");
	ph->rss_mib = status_mib("VmRSS:");
	ph->anon_mib = status_mib("RssAnon:");
	ph->file_mib = status_mib("RssFile:");
	ph->locations = fst.frames - fst.unsymbolized;
	free(buf);
	pprof__free(p);
	return err;
}

static void print_phase(const char *name, const struct phase *ph, const struct symbolizer *s,
			size_t frames)
{
	struct symbolizer_stats st;

	symbolizer__stats(s, &st);
	struct mallinfo2 mi = mallinfo2();

	printf("%-7s %6.3f s wall %6.3f s CPU %5.2f us/frame  peak RSS %6.1f MiB (now: anon %5.1f, "
	       "file %5.1f)  heap %6.1f MiB  accounted %6.1f MiB (DWARF %6.1f)  result cache hits %zu\n",
	       name, ph->secs, ph->cpu, ph->cpu * 1e6 / (double)frames, ph->peak_mib, ph->anon_mib,
	       ph->file_mib,
	       (double)(mi.uordblks + mi.hblkhd) / 1048576.0, (double)st.bytes / 1048576.0,
	       (double)st.dwarf_bytes / 1048576.0, st.frame_cache_hits);
}

int main(int argc, char **argv)
{
	struct child a = { .pid = -1 }, b = { .pid = -1 };
	struct symbolizer_opts o;
	struct symbolizer *s = NULL, *small = NULL;
	struct elf_image *img = NULL;
	size_t nsamples = argc > 3 ? strtoul(argv[3], NULL, 10) : 20000;
	size_t depth = argc > 4 ? strtoul(argv[4], NULL, 10) : 8, nfuncs = 0, distinct = 0;
	uint64_t *stacks = NULL, *funcs = NULL;
	struct phase ph;
	const char *dump = getenv("BENCH_SYM_DUMP");
	uint64_t digest = 0, d;
	size_t ndist = 0, nd;
	FILE *df = NULL;
	int fd, err = 1;

	if (argc < 3 || !nsamples || !depth || depth > BENCH_MAX_DEPTH) {
		fprintf(stderr, "usage: %s BINARY COPY [SAMPLES [DEPTH<=64]]\n", argv[0]);
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || elf_image__open_fd(fd, &img)) {
		fprintf(stderr, "cannot read %s\n", argv[1]);
		return 1;
	}
	close(fd);
	/* frames: a function (skewed), an offset inside it */
	funcs = calloc(img->nsyms, sizeof(*funcs));
	stacks = calloc(nsamples * depth, sizeof(*stacks));
	if (!funcs || !stacks)
		goto out;
	for (size_t i = 0; i < img->nsyms; i++)
		if (img->syms[i].size >= 8)
			funcs[nfuncs++] = i;
	for (size_t i = nfuncs; i > 1; i--) { /* shuffle: hotness unrelated to address */
		size_t j = rnd() % i;
		uint64_t t = funcs[i - 1];

		funcs[i - 1] = funcs[j];
		funcs[j] = t;
	}
	/* a function's hot instructions: BENCH_PCS_PER_FUNC offsets fixed
	 * by a hash of the function and the pick */
	for (size_t i = 0; i < nsamples * depth; i++) {
		size_t f = funcs[zipf(nfuncs)];
		const struct elf_sym *sym = &img->syms[f];
		uint64_t h = (f * 0x9e3779b97f4a7c15ULL) ^ (rnd() % BENCH_PCS_PER_FUNC);

		h ^= h >> 31;
		h *= 0xbf58476d1ce4e5b9ULL;
		stacks[i] = sym->addr + (h >> 17) % sym->size;
	}
	printf("binary: %s, %zu functions; profile: %zu samples x %zu frames\n", argv[1], nfuncs,
	       nsamples, depth);
	if (start(argv[1], &a) || start(argv[2], &b)) {
		fprintf(stderr, "cannot start %s\n", argv[1]);
		goto out;
	}
	printf("baseline RSS %.1f MiB\n", status_mib("VmRSS:"));

	symbolizer__default_opts(&o);
	s = symbolizer__new_opts(&o);
	if (dump && !(df = fopen(dump, "we"))) {
		perror(dump);
		goto out;
	}
	if (getenv("BENCH_SYM_DUMP_ONLY")) {
		err = !s || results_digest(s, a.pid, stacks, nsamples, depth, df, &digest, &ndist);
		printf("results: %zu distinct addresses, digest %016" PRIx64 "\n", ndist, digest);
		goto out;
	}
	if (!s || run_phase(s, a.pid, stacks, nsamples, depth, &ph))
		goto out;
	print_phase("cold", &ph, s, nsamples * depth);
	distinct = ph.locations;
	if (getenv("BENCH_SYM_COLD_ONLY")) { /* to profile the cold phase alone */
		err = 0;
		goto out;
	}
	if (results_digest(s, a.pid, stacks, nsamples, depth, df, &digest, &ndist))
		goto out;
	if (run_phase(s, a.pid, stacks, nsamples, depth, &ph))
		goto out;
	print_phase("cached", &ph, s, nsamples * depth);
	if (results_digest(s, a.pid, stacks, nsamples, depth, NULL, &d, &nd) || d != digest)
		goto differ;
	if (run_phase(s, b.pid, stacks, nsamples, depth, &ph))
		goto out;
	print_phase("copy", &ph, s, nsamples * depth);
	if (results_digest(s, b.pid, stacks, nsamples, depth, NULL, &d, &nd) || d != digest)
		goto differ;
	symbolizer__free(s);
	s = NULL;

	o.max_cached_frames = 0;
	small = symbolizer__new_opts(&o);
	if (!small || run_phase(small, a.pid, stacks, nsamples, depth, &ph) ||
	    run_phase(small, a.pid, stacks, nsamples, depth, &ph))
		goto out;
	print_phase("nocache", &ph, small, nsamples * depth);
	if (results_digest(small, a.pid, stacks, nsamples, depth, NULL, &d, &nd) || d != digest)
		goto differ;
	printf("frames with a name: %zu of %zu\n", distinct, nsamples * depth);
	printf("results: %zu distinct addresses, digest %016" PRIx64 ", the same in every phase\n",
	       ndist, digest);
	err = 0;
	goto out;
differ:
	printf("results: DIFFER between phases (digest %016" PRIx64 " after cold, %016" PRIx64
	       " now)\n", digest, d);
	err = 3;
out:
	if (df)
		fclose(df);
	symbolizer__free(s);
	symbolizer__free(small);
	stop(&a);
	stop(&b);
	elf_image__free(img);
	free(funcs);
	free(stacks);
	return err;
}
