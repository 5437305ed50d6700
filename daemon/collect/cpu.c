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
	uint32_t max_keys;
};

void cpu_collector__free(struct cpu_collector *c)
{
	if (!c)
		return;
	perf_events__detach_all(&c->pe);
	cpu_bpf__destroy(c->skel);
	free(c->keys);
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
	if (!c->keys) {
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
		bpf_map__set_max_entries(c->skel->maps.frames_0, entries_for(opts->frequency, max_stacks));
		bpf_map__set_max_entries(c->skel->maps.frames_1, entries_for(opts->frequency, max_stacks));
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

/* Read a stack by id into ips; returns the number of frames (0 on loss). */
static size_t read_stack(struct cpu_collector *c, int stacks_fd, __s32 id, uint64_t *ips)
{
	size_t n;

	if (id < 0)
		return 0;
	memset(ips, 0, PROFD_MAX_STACK_DEPTH * sizeof(*ips));
	if (bpf_map_lookup_elem(stacks_fd, &id, ips)) {
		c->stack_lookup_lost++;
		return 0;
	}
	for (n = 0; n < PROFD_MAX_STACK_DEPTH && ips[n]; n++)
		;
	return n;
}

int cpu_collector__drain(struct cpu_collector *c, cpu_sample_fn fn, void *ctx)
{
	uint64_t ustack[PROFD_MAX_STACK_DEPTH], kstack[PROFD_MAX_STACK_DEPTH];
	uint32_t done = generation__switch(&c->gen, &c->skel->bss->gen);
	int counts_fd, stacks_fd, nkeys;
	__u32 sid, next_sid;

	counts_fd = bpf_map__fd(done ? c->skel->maps.counts_1 : c->skel->maps.counts_0);
	stacks_fd = bpf_map__fd(done ? c->skel->maps.stacks_1 : c->skel->maps.stacks_0);
	if (c->dwarf) /* user and kernel stacks */
		stacks_fd = bpf_map__fd(done ? c->skel->maps.frames_1 : c->skel->maps.frames_0);

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
	/* Free every stack bucket of the drained generation. */
	while (!bpf_map_get_next_key(stacks_fd, NULL, &next_sid)) {
		sid = next_sid;
		if (bpf_map_delete_elem(stacks_fd, &sid))
			break;
	}
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
