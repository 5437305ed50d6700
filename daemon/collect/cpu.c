// SPDX-License-Identifier: Apache-2.0
/* cpu collector: lifecycle of cpu.bpf.c and the double-buffered drain. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "profd/abi.h"
#include "profd/walker.h" /* before the skeleton: its .rodata has unw_cfg */
#include "cpu.skel.h"
#include "collect/metrics.h"
#include "collect/cpu.h"
#include "collect/generation.h"
#include "collect/perf_events.h"
#include "collect/bpf_diag.h"
#include "unwind/unwinder.h"
#include "util/phase.h"

#define DEFAULT_MAX_STACKS 16384
#define DEFAULT_MAX_KEYS 32768

struct cpu_collector {
	struct cpu_bpf *skel;
	struct perf_events pe;
	uint64_t frequency;
	uint32_t gen;
	bool dwarf;             /* stacks from the walker's program (frames_N) */
	uint64_t stack_lookup_lost;
	struct profd_cpu_key *keys;   /* drain scratch, max_keys entries */
	uint64_t *counts;              /* their values (batch drain) */
	uint32_t max_keys;
	uint32_t max_frames;          /* entries of frames_N (the walker's) */
	/* Batch drain of the walker's stacks: their ids and frames as taken,
	 * and (id << 32 | slot) sorted to find them. */
	__u32 *ids;
	uint64_t (*frames)[PROFD_MAX_STACK_DEPTH];
	uint64_t *order;
	uint32_t frames_cap;
	bool no_batch;                /* the kernel has no batch ops on these maps */
};

/* A drain that needed more room than this many stacks gives it back. */
#define KEEP_FRAMES 1024

void cpu_collector__free(struct cpu_collector *c)
{
	if (!c)
		return;
	perf_events__detach_all(&c->pe);
	cpu_bpf__destroy(c->skel);
	free(c->keys);
	free(c->counts);
	free(c->ids);
	free(c->frames);
	free(c->order);
	free(c);
}

/* Entries for what one drain interval (1 s) can bring: every sample a new
 * aggregate with a new user and kernel stack, times 2 for late drains; at
 * least 1024, at most cap. For frames_N (about 1 KiB each, preallocated):
 * 2 MiB for 2 CPUs at 99 Hz instead of 33 MiB sized for the largest host. */
static uint32_t entries_for(uint64_t frequency, uint32_t cap)
{
	int cpus = libbpf_num_possible_cpus();
	uint64_t need = 4 * frequency * (uint64_t)(cpus > 0 ? cpus : 1);
	uint32_t n = 1024;

	while (n < need && n < cap)
		n <<= 1;
	return n;
}

struct cpu_collector *cpu_collector__new(const struct cpu_opts *opts)
{
	uint32_t max_stacks = opts->max_stacks ? opts->max_stacks : DEFAULT_MAX_STACKS;
	struct cpu_collector *c;
	int err;

	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->frequency = opts->frequency;
	c->max_keys = opts->max_keys ? opts->max_keys : entries_for(opts->frequency, DEFAULT_MAX_KEYS);
	c->keys = calloc(c->max_keys, sizeof(*c->keys));
	c->counts = calloc(c->max_keys, sizeof(*c->counts));
	if (!c->keys || !c->counts) {
		err = -ENOMEM;
		goto cleanup;
	}
	c->skel = cpu_bpf__open();
	if (!c->skel) {
		err = -errno;
		goto cleanup;
	}
	phase_mark("cpu: BPF object open");
	c->skel->rodata->cfg.filter_pids = opts->npids > 0;
	if (opts->npids > 0)
		bpf_map__set_max_entries(c->skel->maps.pid_filter, opts->npids);
	bpf_map__set_max_entries(c->skel->maps.counts_0, c->max_keys);
	bpf_map__set_max_entries(c->skel->maps.counts_1, c->max_keys);
	c->dwarf = opts->unw != NULL;
	if (c->dwarf) {
		/* Both kinds of stacks go to frames_N. */
		bpf_program__set_autoload(c->skel->progs.on_cpu_sample, false);
		bpf_map__set_max_entries(c->skel->maps.stacks_0, 1);
		bpf_map__set_max_entries(c->skel->maps.stacks_1, 1);
		c->max_frames = entries_for(opts->frequency, max_stacks);
		bpf_map__set_max_entries(c->skel->maps.frames_0, c->max_frames);
		bpf_map__set_max_entries(c->skel->maps.frames_1, c->max_frames);
		err = unwinder__prepare(opts->unw, c->skel->obj, &c->skel->rodata->unw_cfg);
		if (err)
			goto cleanup;
	} else {
		/* The walker's maps exist but stay unused: make them tiny. */
		bpf_program__set_autoload(c->skel->progs.on_cpu_sample_dwarf, false);
		bpf_map__set_max_entries(c->skel->maps.stacks_0, max_stacks);
		bpf_map__set_max_entries(c->skel->maps.stacks_1, max_stacks);
		bpf_map__set_max_entries(c->skel->maps.frames_0, 1);
		bpf_map__set_max_entries(c->skel->maps.frames_1, 1);
		unwinder__disable(c->skel->obj);
	}
	phase_mark("cpu: unwinder maps prepared");
	bpf_diag__request_stats(c->skel->obj);
	err = cpu_bpf__load(c->skel);
	if (err)
		goto cleanup;
	phase_mark_split("cpu: load: BTF + maps + CO-RE", "cpu: load: verifier (kernel)",
			 bpf_diag__log_programs(c->skel->obj));
	for (size_t i = 0; i < opts->npids; i++) {
		__u32 pid = opts->pids[i];
		__u8 one = 1;

		err = bpf_map_update_elem(bpf_map__fd(c->skel->maps.pid_filter), &pid, &one, BPF_ANY);
		if (err) {
			err = -errno;
			goto cleanup;
		}
	}
	return c;
cleanup:
	cpu_collector__free(c);
	errno = -err;
	return NULL;
}

int cpu_collector__start(struct cpu_collector *c)
{
	int err = perf_events__attach_all(&c->pe, c->dwarf ? c->skel->progs.on_cpu_sample_dwarf
								: c->skel->progs.on_cpu_sample,
					  c->frequency);

	phase_mark("cpu: attach perf events");
	return err;
}

void cpu_collector__stop(struct cpu_collector *c)
{
	perf_events__detach_all(&c->pe);
}

/* Read and delete every entry of the hash map fd (a finished generation:
 * nothing writes it any more) into keys and values, at most max, in as
 * few syscalls as the kernel allows. Returns the number of entries, or
 * -errno (-EINVAL, -EOPNOTSUPP: no batch ops for this map or kernel). */
static int take_all(int fd, void *keys, size_t key_size, void *values, size_t value_size,
		    uint32_t max)
{
	__u32 batch = 0, n = 0, count;
	int err;

	do {
		count = max - n;
		err = bpf_map_lookup_and_delete_batch(fd, n ? &batch : NULL, &batch,
						      (char *)keys + (size_t)n * key_size,
						      (char *)values + (size_t)n * value_size, &count,
						      NULL);
		if (err && errno != ENOENT)
			return n ? (int)n : -errno;
		n += count;
	} while (!err && n < max);
	return (int)n;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The frames of stack id among the n taken (c->order: id << 32 | slot,
 * sorted), or NULL. */
static const uint64_t *taken_frames(const struct cpu_collector *c, int n, __s32 id)
{
	size_t lo = 0, hi = (size_t)n;

	if (id < 0)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		__u32 at = (__u32)(c->order[mid] >> 32);

		if (at == (__u32)id)
			return c->frames[(uint32_t)c->order[mid]];
		if (at < (__u32)id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static size_t depth(const uint64_t *ips)
{
	size_t n = 0;

	while (n < PROFD_MAX_STACK_DEPTH && ips[n])
		n++;
	return n;
}

static void frames_release(struct cpu_collector *c)
{
	free(c->ids);
	free(c->frames);
	free(c->order);
	c->ids = NULL;
	c->frames = NULL;
	c->order = NULL;
	c->frames_cap = 0;
}

/* Room for every stack of frames_N: what one drain may hold. */
static int frames_reserve(struct cpu_collector *c)
{
	if (c->frames_cap >= c->max_frames)
		return 0;
	frames_release(c);
	c->ids = malloc(c->max_frames * sizeof(*c->ids));
	c->frames = malloc(c->max_frames * sizeof(*c->frames));
	c->order = malloc(c->max_frames * sizeof(*c->order));
	if (!c->ids || !c->frames || !c->order) {
		frames_release(c);
		return -ENOMEM;
	}
	c->frames_cap = c->max_frames;
	return 0;
}

/* Every stack of the walker's finished generation (a hash), taken in a
 * few syscalls and indexed by id. Returns how many, or -errno (then they
 * are read one by one). */
static int take_frames(struct cpu_collector *c, int frames_fd)
{
	int n = frames_reserve(c);

	if (n)
		return n;
	n = take_all(frames_fd, c->ids, sizeof(*c->ids), c->frames, sizeof(*c->frames),
		     c->max_frames);
	for (int i = 0; i < n; i++)
		c->order[i] = (uint64_t)c->ids[i] << 32 | (uint32_t)i;
	if (n > 1)
		qsort(c->order, (size_t)n, sizeof(*c->order), u64_cmp);
	return n;
}

/* Read a stack by id into ips; returns the number of frames (0 on loss). */
static size_t read_stack(struct cpu_collector *c, int stacks_fd, __s32 id, uint64_t *ips)
{
	if (id < 0)
		return 0;
	memset(ips, 0, PROFD_MAX_STACK_DEPTH * sizeof(*ips));
	if (bpf_map_lookup_elem(stacks_fd, &id, ips)) {
		c->stack_lookup_lost++;
		return 0;
	}
	return depth(ips);
}

/* One stack of an aggregate: among the taken ones (ntaken >= 0), else
 * read from the map into buf. */
static const uint64_t *stack_of(struct cpu_collector *c, int ntaken, int stacks_fd, __s32 id,
				uint64_t *buf, size_t *n)
{
	const uint64_t *f;

	*n = 0;
	if (ntaken < 0) {
		*n = read_stack(c, stacks_fd, id, buf);
		return buf;
	}
	if (id < 0)
		return NULL;
	f = taken_frames(c, ntaken, id);
	if (!f) {
		c->stack_lookup_lost++;
		return NULL;
	}
	*n = depth(f);
	return f;
}

/* Free every stack bucket of a drained generation. */
static void clear_stacks(int stacks_fd)
{
	__u32 sid;

	while (!bpf_map_get_next_key(stacks_fd, NULL, &sid))
		if (bpf_map_delete_elem(stacks_fd, &sid))
			break;
}

static bool no_batch_ops(int err)
{
	return err == -EINVAL || err == -EOPNOTSUPP || err == -ENOTSUP || err == -ENOSYS;
}

/* The drain in batches: the finished generation's counts (a hash) taken
 * in a few syscalls, and the walker's stacks too; the kernel's stack
 * maps (frame pointers) have no batch ops, their stacks are read by id
 * and their buckets cleared one by one. Before: five syscalls per
 * aggregate and two per stack. */
static int drain_batch(struct cpu_collector *c, int counts_fd, int stacks_fd, cpu_sample_fn fn,
		       void *ctx)
{
	uint64_t ubuf[PROFD_MAX_STACK_DEPTH], kbuf[PROFD_MAX_STACK_DEPTH];
	int nkeys, ntaken = -1;

	nkeys = take_all(counts_fd, c->keys, sizeof(*c->keys), c->counts, sizeof(*c->counts),
			 c->max_keys);
	if (nkeys < 0)
		return nkeys;
	if (c->dwarf)
		ntaken = take_frames(c, stacks_fd);
	for (int i = 0; i < nkeys; i++) {
		struct cpu_sample s = { .key = &c->keys[i], .count = c->counts[i] };

		s.ustack = stack_of(c, ntaken, stacks_fd, c->keys[i].user_stack_id, ubuf, &s.nustack);
		s.kstack = stack_of(c, ntaken, stacks_fd, c->keys[i].kern_stack_id, kbuf, &s.nkstack);
		fn(&s, ctx);
	}
	if (ntaken < 0)
		clear_stacks(stacks_fd);
	/* Beyond KEEP_FRAMES (a big host) the room goes back after each
	 * drain: it is only as resident as the stacks written in it. */
	if (c->frames_cap > KEEP_FRAMES)
		frames_release(c);
	return nkeys;
}

int cpu_collector__drain(struct cpu_collector *c, cpu_sample_fn fn, void *ctx)
{
	uint64_t ustack[PROFD_MAX_STACK_DEPTH], kstack[PROFD_MAX_STACK_DEPTH];
	uint32_t done = generation__switch(&c->gen, &c->skel->bss->gen);
	int counts_fd, stacks_fd, nkeys;

	counts_fd = bpf_map__fd(done ? c->skel->maps.counts_1 : c->skel->maps.counts_0);
	stacks_fd = bpf_map__fd(done ? c->skel->maps.stacks_1 : c->skel->maps.stacks_0);
	if (c->dwarf) /* user and kernel stacks */
		stacks_fd = bpf_map__fd(done ? c->skel->maps.frames_1 : c->skel->maps.frames_0);
	if (!c->no_batch) {
		nkeys = drain_batch(c, counts_fd, stacks_fd, fn, ctx);
		if (!no_batch_ops(nkeys))
			return nkeys;
		c->no_batch = true; /* nothing taken: one entry at a time */
	}

	nkeys = generation__keys(counts_fd, c->keys, sizeof(*c->keys), c->max_keys);
	for (int i = 0; i < nkeys; i++) {
		struct cpu_sample s = { .key = &c->keys[i] };

		if (bpf_map_lookup_elem(counts_fd, &c->keys[i], &s.count))
			continue;
		s.nustack = read_stack(c, stacks_fd, c->keys[i].user_stack_id, ustack);
		s.ustack = ustack;
		s.nkstack = read_stack(c, stacks_fd, c->keys[i].kern_stack_id, kstack);
		s.kstack = kstack;
		fn(&s, ctx);
		bpf_map_delete_elem(counts_fd, &c->keys[i]);
	}
	clear_stacks(stacks_fd);
	return nkeys;
}

void cpu_collector__stats(const struct cpu_collector *c, struct cpu_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->stack_lookup_lost = c->stack_lookup_lost;
	metrics__sum(bpf_map__fd(c->skel->maps.metrics), st->metrics, PROFD_METRIC_MAX);
	if (c->dwarf)
		metrics__sum(bpf_map__fd(c->skel->maps.unw_metrics), st->unw, PROFD_UNW_M_MAX);
}

uint32_t cpu_collector__capacity(const struct cpu_collector *c)
{
	return c->max_keys;
}
