// SPDX-License-Identifier: Apache-2.0
/* wait collector: lifecycle of wait.bpf.c and the double-buffered drain. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collect/generation.h"
#include "collect/metrics.h"
#include "collect/wait.h" /* before the skeleton: its .rodata has unw_cfg */
#include "collect/bpf_diag.h"
#include "unwind/unwinder.h"
#include "util/phase.h"
#include "wait.skel.h"

#define DEFAULT_MAX_STACKS 8192
#define DEFAULT_MAX_KEYS 16384
#define DEFAULT_MAX_INFLIGHT 8192

struct wait_collector {
	struct wait_bpf *skel;
	uint32_t kind;
	uint32_t gen;
	bool dwarf;                    /* user stacks by the walker's programs */
	uint32_t max_keys;
	struct profd_wait_key *keys;   /* drain scratch, max_keys entries */
	uint64_t ustacks_gone;
	uint64_t kstacks_gone;
	uint64_t rules_added;
	uint64_t rules_failed;
};

void wait_collector__free(struct wait_collector *c)
{
	if (!c)
		return;
	wait_bpf__destroy(c->skel);
	free(c->keys);
	free(c);
}

/* bpf_task_pt_regs() (5.15) and bpf_get_current_task_btf() (5.11), both
 * needed to find a task's user registers without knowing THREAD_SIZE. */
static int have_task_pt_regs(void)
{
	enum bpf_prog_type t = BPF_PROG_TYPE_RAW_TRACEPOINT;

	return libbpf_probe_bpf_helper(t, BPF_FUNC_task_pt_regs, NULL) > 0 &&
	       libbpf_probe_bpf_helper(t, BPF_FUNC_get_current_task_btf, NULL) > 0;
}

struct wait_collector *wait_collector__new(const struct wait_opts *opts)
{
	uint32_t max_stacks = opts->max_stacks ? opts->max_stacks : DEFAULT_MAX_STACKS;
	uint32_t inflight = opts->max_inflight ? opts->max_inflight : DEFAULT_MAX_INFLIGHT;
	struct wait_collector *c;
	bool mutex, block, tc;
	int err;

	if (opts->kind < PROFD_WAIT_KIND_MUTEX || opts->kind > PROFD_WAIT_KIND_THREADCREATE) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->kind = opts->kind;
	c->max_keys = opts->max_keys ? opts->max_keys : DEFAULT_MAX_KEYS;
	c->keys = calloc(c->max_keys, sizeof(*c->keys));
	if (!c->keys) {
		err = -ENOMEM;
		goto cleanup;
	}
	c->skel = wait_bpf__open();
	if (!c->skel) {
		err = -errno;
		goto cleanup;
	}
	phase_mark("wait: BPF object open");
	c->skel->rodata->cfg.filter_pids = opts->npids > 0;
	c->skel->rodata->cfg.min_block_ns = opts->min_block_ns;
	c->skel->rodata->cfg.task_pt_regs = have_task_pt_regs();
	/* One walk's start program per kind: the walker's needs bpf_loop
	 * (5.17), which the verifier would refuse even in a program that is
	 * loaded but never run. */
	c->dwarf = opts->unw != NULL;
	mutex = opts->kind == PROFD_WAIT_KIND_MUTEX;
	block = opts->kind == PROFD_WAIT_KIND_BLOCK;
	tc = opts->kind == PROFD_WAIT_KIND_THREADCREATE;
	bpf_program__set_autoload(c->skel->progs.sys_enter, mutex && !c->dwarf);
	bpf_program__set_autoload(c->skel->progs.sys_enter_dwarf, mutex && c->dwarf);
	bpf_program__set_autoload(c->skel->progs.sys_exit, mutex);
	bpf_program__set_autoload(c->skel->progs.sched_switch, block && !c->dwarf);
	bpf_program__set_autoload(c->skel->progs.sched_switch_dwarf, block && c->dwarf);
	bpf_program__set_autoload(c->skel->progs.task_newtask, tc && !c->dwarf);
	bpf_program__set_autoload(c->skel->progs.task_newtask_dwarf, tc && c->dwarf);
	if (opts->npids > 0)
		bpf_map__set_max_entries(c->skel->maps.pid_filter, opts->npids);
	bpf_map__set_max_entries(c->skel->maps.ustacks, max_stacks);
	/* Kernel stacks only for block; a map cannot have 0 entries. */
	bpf_map__set_max_entries(c->skel->maps.kstacks,
				 opts->kind == PROFD_WAIT_KIND_BLOCK ? max_stacks / 2 : 1);
	bpf_map__set_max_entries(c->skel->maps.starts,
				 opts->kind == PROFD_WAIT_KIND_THREADCREATE ? 1 : inflight);
	bpf_map__set_max_entries(c->skel->maps.counts_0, c->max_keys);
	bpf_map__set_max_entries(c->skel->maps.counts_1, c->max_keys);
	if (c->dwarf) {
		/* The gap walk's rules and stack windows stay unused. */
		bpf_map__set_max_entries(c->skel->maps.rules, 1);
		bpf_map__set_max_entries(c->skel->maps.exemplars, 1);
		err = unwinder__prepare(opts->unw, c->skel->obj, &c->skel->rodata->unw_cfg);
		if (err)
			goto cleanup;
	} else {
		unwinder__disable(c->skel->obj);
	}
	phase_mark("wait: unwinder maps prepared");
	bpf_diag__request_stats(c->skel->obj);
	err = wait_bpf__load(c->skel);
	if (err)
		goto cleanup;
	phase_mark_split("wait: load: BTF + maps + CO-RE", "wait: load: verifier (kernel)",
			 bpf_diag__log_programs(c->skel->obj));
	for (size_t i = 0; i < opts->npids; i++) {
		__u32 pid = opts->pids[i];
		__u8 one = 1;

		if (bpf_map_update_elem(bpf_map__fd(c->skel->maps.pid_filter), &pid, &one,
					BPF_ANY)) {
			err = -errno;
			goto cleanup;
		}
	}
	return c;
cleanup:
	wait_collector__free(c);
	errno = -err;
	return NULL;
}

int wait_collector__start(struct wait_collector *c)
{
	int err = wait_bpf__attach(c->skel);

	phase_mark("wait: attach tracepoints");
	return err;
}

void wait_collector__stop(struct wait_collector *c)
{
	wait_bpf__detach(c->skel);
}

int wait_collector__add_rule(struct wait_collector *c, const struct profd_wait_rule_key *key,
			     const struct profd_wait_rule *rule)
{
	if (bpf_map_update_elem(bpf_map__fd(c->skel->maps.rules), key, rule, BPF_ANY)) {
		c->rules_failed++;
		return -errno;
	}
	c->rules_added++;
	return 0;
}

int wait_collector__drain(struct wait_collector *c, wait_sample_fn fn, void *ctx)
{
	uint32_t done = generation__switch(&c->gen, &c->skel->bss->gen);
	struct profd_wait_stack ustack, kstack;
	struct profd_wait_exemplar ex;
	int counts_fd, ustacks_fd, kstacks_fd, ex_fd, nkeys;

	counts_fd = bpf_map__fd(done ? c->skel->maps.counts_1 : c->skel->maps.counts_0);
	ustacks_fd = bpf_map__fd(c->skel->maps.ustacks);
	kstacks_fd = bpf_map__fd(c->skel->maps.kstacks);
	ex_fd = bpf_map__fd(c->skel->maps.exemplars);

	nkeys = generation__keys(counts_fd, c->keys, sizeof(*c->keys), c->max_keys);
	for (int i = 0; i < nkeys; i++) {
		const struct profd_wait_key *k = &c->keys[i];
		struct profd_wait_value v;
		struct wait_sample s = { .key = k };

		if (bpf_map_lookup_elem(counts_fd, k, &v))
			continue;
		s.count = v.count;
		s.delay_ns = v.delay_ns;
		if (k->ustack) {
			if (!bpf_map_lookup_elem(ustacks_fd, &k->ustack, &ustack) &&
			    ustack.nframes <= PROFD_MAX_STACK_DEPTH)
				s.ustack = &ustack;
			else
				c->ustacks_gone += v.count;
		}
		if (s.ustack && (ustack.flags & PROFD_WAIT_STACK_MISS) &&
		    !bpf_map_lookup_elem(ex_fd, &k->ustack, &ex) && ex.len <= sizeof(ex.bytes))
			s.exemplar = &ex;
		if (k->kstack) {
			if (!bpf_map_lookup_elem(kstacks_fd, &k->kstack, &kstack) &&
			    kstack.nframes <= PROFD_MAX_STACK_DEPTH)
				s.kstack = &kstack;
			else
				c->kstacks_gone += v.count;
		}
		fn(&s, ctx);
		bpf_map_delete_elem(counts_fd, k);
	}
	return nkeys;
}

void wait_collector__stats(const struct wait_collector *c, struct wait_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->ustacks_gone = c->ustacks_gone;
	st->kstacks_gone = c->kstacks_gone;
	st->rules_added = c->rules_added;
	st->rules_failed = c->rules_failed;
	metrics__sum(bpf_map__fd(c->skel->maps.metrics), st->metrics, PROFD_WAIT_METRIC_MAX);
	if (c->dwarf)
		metrics__sum(bpf_map__fd(c->skel->maps.unw_metrics), st->unw, PROFD_UNW_M_MAX);
}
