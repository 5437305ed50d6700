// SPDX-License-Identifier: Apache-2.0
/* profilers: the agent's runs: one per configured type over every
 * process (or the --pid ones), or one per target process for types that
 * are not host-wide; their targets followed from interval to interval. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "util/log.h"

static int cmp_pid(const void *x, const void *y)
{
	pid_t a = *(const pid_t *)x, b = *(const pid_t *)y;

	return (a > b) - (a < b);
}

static bool name_wanted(const struct profd_config *cfg, const char *comm)
{
	for (size_t i = 0; i < cfg->n_heap_names; i++)
		if (!strcmp(cfg->heap_names[i], comm))
			return true;
	return false;
}

/* The processes a continuous profiler of type t targets now, sorted:
 * --pid if given, else for heap/allocs the [heap] processes that exist (by
 * pid, or by name matched against comm), else none (NULL: every process,
 * unless the type needs pids). */
static int targets_for(struct agent *a, const struct profd_config *cfg,
		       const struct agent_ptype *t, pid_t **out, size_t *n)
{
	pid_t *pids = NULL;
	size_t cnt = 0;
	DIR *d = NULL;
	struct dirent *de;

	*out = NULL;
	*n = 0;
	if (!a->o->npids && t->type->host_wide)
		return 0;
	pids = calloc(AGENT_MAX_TARGETS, sizeof(*pids));
	if (!pids)
		return -ENOMEM;
	if (a->o->npids) {
		for (size_t i = 0; i < a->o->npids && cnt < AGENT_MAX_TARGETS; i++)
			pids[cnt++] = a->o->pids[i];
		goto done;
	}
	for (size_t i = 0; i < cfg->n_heap_pids && cnt < AGENT_MAX_TARGETS; i++)
		if (!kill(cfg->heap_pids[i], 0) || errno != ESRCH)
			pids[cnt++] = cfg->heap_pids[i];
	if (cfg->n_heap_names)
		d = opendir("/proc");
	while (d && (de = readdir(d)) && cnt < AGENT_MAX_TARGETS) {
		char comm[PROCINFO_COMM_LEN];
		pid_t pid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = (pid_t)strtol(de->d_name, NULL, 10);
		if (!procinfo__comm(pid, comm, sizeof(comm)) && name_wanted(cfg, comm))
			pids[cnt++] = pid;
	}
	if (d)
		closedir(d);
done:
	qsort(pids, cnt, sizeof(*pids), cmp_pid);
	/* Deduplicate: a process named and given by pid. */
	if (cnt) {
		size_t w = 1;

		for (size_t i = 1; i < cnt; i++)
			if (pids[i] != pids[w - 1])
				pids[w++] = pids[i];
		cnt = w;
	}
	if (!cnt) {
		free(pids);
		pids = NULL;
	}
	*out = pids;
	*n = cnt;
	return 0;
}

/* Start one instance of t over pids (for a per-process type, the one
 * process pid). 0 or -errno (the type logged why). */
static int inst_start(struct agent *a, struct agent_ptype *t, const struct profd_config *cfg,
		      const pid_t *pids, size_t npids, pid_t pid)
{
	struct agent_inst *in, **grown;
	struct profiler_opts opts;
	int err;

	grown = realloc(t->inst, (t->ninst + 1) * sizeof(*t->inst));
	if (!grown)
		return -ENOMEM;
	t->inst = grown;
	in = calloc(1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	in->pid = pid;
	opts = cfg->popts;
	opts.pids = pid ? &in->pid : pids;
	opts.npids = pid ? 1 : npids;
	err = run__start(&in->run, t->type, &opts, a->sym, agent_sink, t);
	if (err) {
		run__free(&in->run);
		free(in);
		return err;
	}
	t->inst[t->ninst++] = in;
	return 0;
}

/* Stop sampling; what was counted goes to this interval's builders. A type
 * that is not a delta is drained at the interval's end instead
 * (agent_drain_snapshots), never here: its profile is the state at that
 * moment, taken once. */
static void inst_stop(struct agent_inst *in)
{
	run__stop(&in->run, false);
	run__free(&in->run);
}

static void inst_remove(struct agent_ptype *t, size_t i)
{
	inst_stop(t->inst[i]);
	free(t->inst[i]);
	memmove(&t->inst[i], &t->inst[i + 1], (t->ninst - i - 1) * sizeof(*t->inst));
	t->ninst--;
}

static void type_stop(struct agent_ptype *t)
{
	while (t->ninst)
		inst_remove(t, t->ninst - 1);
	free(t->inst);
	t->inst = NULL;
}

/* The drain tick (tick) or a drain of every instance of t; errors are
 * logged at most once a minute. */
void agent_type_drain(struct agent_ptype *t, bool tick)
{
	static int64_t last_log;

	for (size_t i = 0; i < t->ninst; i++) {
		int n = tick ? run__tick(&t->inst[i]->run) : run__drain(&t->inst[i]->run);

		if (n < 0 && (!last_log || agent_now_ns(CLOCK_MONOTONIC) - last_log > LOG_EVERY_NS)) {
			log_warn("%s: drain failed: %s", t->type->name, strerror(-n));
			last_log = agent_now_ns(CLOCK_MONOTONIC);
		}
	}
}

/* The state of every type that is not a delta (heap: what is in use now;
 * allocs: what was allocated since it started) into this interval's
 * builders. */
void agent_drain_snapshots(struct agent *a)
{
	for (size_t i = 0; i < a->ntypes; i++)
		if (a->types[i].type->kind != PROFILER_DELTA)
			agent_type_drain(&a->types[i], false);
}

void agent_profilers_stop(struct agent *a)
{
	for (size_t i = 0; i < a->ntypes; i++) {
		type_stop(&a->types[i]);
		free(a->types[i].pids);
	}
	memset(a->types, 0, sizeof(a->types));
	a->ntypes = 0;
}

static void log_targets(const struct agent_ptype *t)
{
	char list[256] = "";
	size_t len = 0, n = t->per_pid ? t->ninst : t->npids;

	for (size_t i = 0; i < n && len < sizeof(list) - 16; i++)
		len += snprintf(list + len, sizeof(list) - len, "%s%d", i ? "," : "",
				t->per_pid ? t->inst[i]->pid : t->pids[i]);
	if (n)
		log_info("%s: profiling %zu process(es): %s%s", t->type->name, n, list,
			 len >= sizeof(list) - 16 ? ",..." : "");
	else if (!t->type->host_wide)
		log_info("%s: no process to profile continuously (see [heap] processes)",
			 t->type->name);
	else
		log_info("%s: profiles processes given with --pid only", t->type->name);
}

/* Bring t's instances in line with t->pids: per process, stop those whose
 * target went away and start those for new targets (a process that cannot
 * be profiled, e.g. gone or without a known allocator, is logged and
 * tried again next interval); else start the one instance. Returns 0, or
 * the single instance's start error. */
static int type_sync(struct agent *a, struct agent_ptype *t, const struct profd_config *cfg)
{
	bool changed = false;
	int err;

	if (!t->per_pid) {
		if (t->ninst || (!t->npids && a->o->npids))
			return 0;
		return inst_start(a, t, cfg, t->pids, t->npids, 0);
	}
	for (size_t i = t->ninst; i-- > 0;) {
		if (!bsearch(&t->inst[i]->pid, t->pids, t->npids, sizeof(*t->pids), cmp_pid)) {
			inst_remove(t, i);
			changed = true;
		}
	}
	for (size_t i = 0; i < t->npids; i++) {
		bool have = false;

		for (size_t j = 0; j < t->ninst && !have; j++)
			have = t->inst[j]->pid == t->pids[i];
		if (have)
			continue;
		err = inst_start(a, t, cfg, NULL, 0, t->pids[i]);
		if (err)
			log_warn("%s: cannot profile pid %d: %s; trying again next interval",
				 t->type->name, t->pids[i], strerror(-err));
		else
			changed = true;
	}
	if (changed)
		log_targets(t);
	return 0;
}

int agent_profilers_start(struct agent *a, const struct profd_config *cfg, char *err,
			   size_t errlen)
{
	int ret = 0;

	if (!agent_continuous(cfg))
		return 0;
	for (int pt = 0; pt < (int)profiler_type_count(); pt++) {
		struct agent_ptype *t = &a->types[a->ntypes];
		const struct profiler_type *type = profiler_type_at(pt), *other = NULL;

		if (!(cfg->types & (1u << pt)))
			continue;
		/* Two collectors of one probe group on one process both see
		 * nothing (heap and allocs: heap's profiles hold alloc_* too):
		 * the first enabled one alone. */
		for (int o = 0; type->probe_group && o < pt && !other; o++)
			if ((cfg->types & (1u << o)) && profiler_type_at(o)->probe_group &&
			    !strcmp(profiler_type_at(o)->probe_group, type->probe_group))
				other = profiler_type_at(o);
		if (other) {
			log_warn("%s: not collected continuously next to %s (one %s probe per "
				 "process); %s profiles hold its sample types too", type->name,
				 other->name, type->probe_group, other->name);
			continue;
		}
		t->a = a;
		t->pt = pt;
		t->type = type;
		t->per_pid = !t->type->host_wide;
		a->ntypes++;
		ret = targets_for(a, cfg, t, &t->pids, &t->npids);
		if (ret) {
			snprintf(err, errlen, "%s: out of memory", t->type->name);
			break;
		}
		ret = type_sync(a, t, cfg);
		if (ret) {
			snprintf(err, errlen, "cannot start the %s profiler: %s", t->type->name,
				 strerror(-ret));
			break;
		}
		/* Once started: from now on the probes are in place. */
		if ((t->per_pid && !t->ninst) || (!t->per_pid && a->o->npids))
			log_targets(t);
	}
	if (ret)
		agent_profilers_stop(a);
	return ret;
}

/* At an interval's end, after its profiles are out: follow [heap]
 * processes that started or exited (and retry those that failed).
 * Attaching to a new process takes a while: the loop waits. */
void agent_profilers_retarget(struct agent *a)
{
	for (size_t i = 0; i < a->ntypes; i++) {
		struct agent_ptype *t = &a->types[i];
		pid_t *pids;
		size_t n;

		if (!t->per_pid)
			continue;
		if (targets_for(a, &a->cfg, t, &pids, &n))
			continue;
		free(t->pids);
		t->pids = pids;
		t->npids = n;
		type_sync(a, t, &a->cfg);
	}
}
