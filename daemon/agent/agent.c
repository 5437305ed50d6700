// SPDX-License-Identifier: Apache-2.0
/* agent: the continuous run loop. One profiler per configured type samples
 * every process; each second the loop drains them into one pprof builder
 * per process per type (the sink), flushes processes that exited, and at
 * the end of each interval writes and/or queues for upload every profile,
 * prunes the symbolizer and applies disk retention. Signals come through a
 * signalfd, so the loop is the only place that blocks. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent_internal.h"
#include "run/run.h"
#include "export/disk.h"
#include "export/pyroscope.h"
#include "aggregate/frames.h"
#include "http/server.h"
#include "util/log.h"
#include "pprof/pprof.h"
#include "export/upload_worker.h"
#include "util/sdnotify.h"
#include "util/secret.h"

/* At most one line per this period for errors that repeat every drain. */
#define LOG_EVERY_NS (60LL * 1000000000)

int64_t agent_now_ns(int clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static bool continuous(const struct profd_config *cfg)
{
	return *cfg->output_dir || *cfg->upload.url;
}

/* ---- processes and their builders ---- */

static struct agent_proc **proc_slot(struct agent *a, pid_t pid)
{
	struct agent_proc **pp = &a->buckets[(uint32_t)pid % AGENT_PROC_BUCKETS];

	while (*pp && (*pp)->pid != pid)
		pp = &(*pp)->next;
	return pp;
}

static struct agent_proc *proc_new(struct agent *a, pid_t pid, const char *comm16)
{
	static int64_t last_full_log;
	char unit[PROCINFO_UNIT_LEN];
	struct agent_proc *p;
	const char *svc;
	int64_t boot_ns;
	bool has_unit;

	if (a->nprocs >= AGENT_MAX_PROCS) {
		int64_t now = agent_now_ns(CLOCK_MONOTONIC);

		if (!last_full_log || now - last_full_log > LOG_EVERY_NS) {
			log_warn("more than %d processes with samples in one interval: dropping the "
				 "samples of the others (counted in metrics)", AGENT_MAX_PROCS);
			last_full_log = now;
		}
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	/* The profile covers the interval, or the process's life since it
	 * started in it; if it is gone already, its samples were at least
	 * taken after the previous drain. */
	if (!procinfo__start_boottime(pid, &boot_ns))
		p->start_ns = agent_now_ns(CLOCK_REALTIME) - (agent_now_ns(CLOCK_BOOTTIME) - boot_ns);
	else
		p->start_ns = a->last_drain_ns;
	if (p->start_ns < a->interval_start_ns)
		p->start_ns = a->interval_start_ns;
	/* The name the sample came with saves a read, and is the only one
	 * left when the process exited before this drain. */
	if (comm16 && comm16[0])
		snprintf(p->comm, sizeof(p->comm), "%.*s", PROCINFO_COMM_LEN - 1, comm16);
	else if (procinfo__comm(pid, p->comm, sizeof(p->comm)) || !p->comm[0])
		snprintf(p->comm, sizeof(p->comm), "unknown");
	has_unit = !procinfo__unit(pid, unit, sizeof(unit));
	svc = config__service_for(&a->cfg, p->comm, has_unit ? unit : NULL);
	if (svc)
		snprintf(p->service, sizeof(p->service), "%s", svc);
	else
		procinfo__default_service(has_unit ? unit : NULL, p->comm, p->service,
					  sizeof(p->service));
	*proc_slot(a, pid) = p;
	a->nprocs++;
	return p;
}

/* profiler_sink_fn: the builder of (pid, type) for this interval. */
static struct pprof *agent_sink(void *ctx, struct profiler *pr, pid_t pid)
{
	struct agent_ptype *t = ctx;
	struct agent *a = t->a;
	struct agent_proc *p = *proc_slot(a, pid);
	struct pprof *b;

	/* A snapshot holds what a process that exited since left behind (its
	 * in-use memory is meaningless now): no profile for it. */
	if (!p && t->type->kind != PROFILER_DELTA && kill(pid, 0) && errno == ESRCH)
		return NULL;
	if (!p)
		p = proc_new(a, pid, pr->sink_comm);
	if (!p)
		return NULL;
	if (p->prof[t->pt])
		return p->prof[t->pt];
	b = pprof__new();
	if (!b)
		return NULL;
	if (profiler_init_profile(pr, b)) {
		pprof__free(b);
		return NULL;
	}
	/* Best effort: a process already gone has no executable to name. */
	frames__main_mapping(b, a->sym, pid);
	p->prof[t->pt] = b;
	return b;
}

/* Encode one finished profile, write it and/or queue it for upload. */
static void finish_profile(struct agent *a, struct agent_proc *p, int pt,
			   int64_t end_ns)
{
	static int64_t last_log;
	const struct profiler_type *type = profiler_type_at(pt);
	struct pprof *b = p->prof[pt];
	uint8_t *gz = NULL;
	size_t len = 0;
	int err;

	pprof__set_time(b, p->start_ns, end_ns > p->start_ns ? end_ns - p->start_ns : 0);
	err = pprof__encode(b, &gz, &len);
	if (err) {
		int64_t now = agent_now_ns(CLOCK_MONOTONIC);

		a->encode_errors++;
		if (!last_log || now - last_log > LOG_EVERY_NS) {
			log_warn("cannot encode the %s profile of pid %d: %s, dropping it",
				 type->name, p->pid, strerror(-err));
			last_log = now;
		}
		return;
	}
	a->profiles++;
	/* Failures are counted and logged by the store. */
	if (a->disk)
		disk_store__write(a->disk, p->comm, p->pid, type->name, p->start_ns, gz, len,
				  NULL, 0);
	if (a->sh.up) {
		struct pyroscope_meta m = {
			.type = type,
			.service_name = p->service,
			.host = a->host,
			.pid = p->pid,
			.process = p->comm,
			.start_ns = p->start_ns,
			.end_ns = end_ns,
		};

		upload_worker__enqueue_take(a->sh.up, &m, gz, len);
		gz = NULL;
	}
	free(gz);
}

static void proc_finish_free(struct agent *a, struct agent_proc *p, int64_t end_ns)
{
	for (int pt = 0; pt < (int)profiler_type_count(); pt++) {
		if (!p->prof[pt])
			continue;
		finish_profile(a, p, pt, end_ns);
		pprof__free(p->prof[pt]);
	}
	free(p);
	a->nprocs--;
}

/* Flush the processes seen gone at the previous tick (their last samples
 * came in with this tick's drain) and mark those gone now. kill(pid, 0)
 * needs no privilege: EPERM still means alive. Returns how many were
 * flushed. */
static size_t flush_exited(struct agent *a)
{
	size_t n = 0;

	for (size_t i = 0; i < AGENT_PROC_BUCKETS; i++) {
		struct agent_proc **pp = &a->buckets[i];

		while (*pp) {
			struct agent_proc *p = *pp;

			if (p->exited) {
				*pp = p->next;
				proc_finish_free(a, p, p->exit_ns);
				n++;
				continue;
			}
			/* The time of the check, not the tick's: the drains
			 * before it can take a while on a busy host. */
			if (kill(p->pid, 0) && errno == ESRCH) {
				p->exited = true;
				p->exit_ns = agent_now_ns(CLOCK_REALTIME);
			}
			pp = &p->next;
		}
	}
	return n;
}

static void flush_all(struct agent *a, int64_t now_ns)
{
	for (size_t i = 0; i < AGENT_PROC_BUCKETS; i++) {
		while (a->buckets[i]) {
			struct agent_proc *p = a->buckets[i];

			a->buckets[i] = p->next;
			proc_finish_free(a, p, p->exited ? p->exit_ns : now_ns);
		}
	}
}

/* ---- profilers ---- */

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

/* Stop sampling; what was counted goes to this interval's builders. A
 * snapshot type is drained at the interval's end instead (drain_snapshots),
 * never here: its profile is the state at that moment, taken once. */
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
static void type_drain(struct agent_ptype *t, bool tick)
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
static void drain_snapshots(struct agent *a)
{
	for (size_t i = 0; i < a->ntypes; i++)
		if (a->types[i].type->kind != PROFILER_DELTA)
			type_drain(&a->types[i], false);
}

static void profilers_stop(struct agent *a)
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

static int profilers_start(struct agent *a, const struct profd_config *cfg, char *err,
			   size_t errlen)
{
	int ret = 0;

	if (!continuous(cfg))
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
		profilers_stop(a);
	return ret;
}

/* At an interval's end, after its profiles are out: follow [heap]
 * processes that started or exited (and retry those that failed).
 * Attaching to a new process takes a while: the loop waits. */
static void profilers_retarget(struct agent *a)
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

/* ---- components: disk, upload, http ---- */

static int disk_start(struct agent *a, const struct profd_config *cfg, char *err, size_t errlen)
{
	if (!*cfg->output_dir)
		return 0;
	a->disk = disk_store__new(cfg->output_dir, cfg->retention_size, cfg->retention_age_ns);
	if (!a->disk) {
		int ret = -errno;

		snprintf(err, errlen, "[profd] output_dir '%s': %s", cfg->output_dir,
			 strerror(-ret));
		return ret;
	}
	log_info("writing profiles under %s", cfg->output_dir);
	return 0;
}

static void disk_stop(struct agent *a)
{
	disk_store__free(a->disk);
	a->disk = NULL;
}

/* The content of the uploader's secret files, to tell on reload whether
 * they changed. NULL with a message in err when one cannot be read. */
static char *upload_secrets(const struct profd_config *cfg, char *err, size_t errlen)
{
	char tok[SECRET_MAX_LEN + 1] = "", pw[SECRET_MAX_LEN + 1] = "", *all = NULL;

	if ((*cfg->upload.bearer_token_file &&
	     secret__read(cfg->upload.bearer_token_file, tok, sizeof(tok), err, errlen)) ||
	    (*cfg->upload.basic_auth_password_file &&
	     secret__read(cfg->upload.basic_auth_password_file, pw, sizeof(pw), err, errlen)))
		goto out;
	if (asprintf(&all, "%s\n%s", tok, pw) < 0) {
		snprintf(err, errlen, "out of memory");
		all = NULL;
	}
out:
	memset(tok, 0, sizeof(tok));
	memset(pw, 0, sizeof(pw));
	return all;
}

static void free_secret(char **s)
{
	if (*s)
		memset(*s, 0, strlen(*s));
	free(*s);
	*s = NULL;
}

static int upload_start(struct agent *a, const struct profd_config *cfg, char *err,
			size_t errlen)
{
	struct upload_worker *w;

	if (!*cfg->upload.url)
		return 0;
	a->up_secrets = upload_secrets(cfg, err, errlen);
	if (!a->up_secrets)
		return -EINVAL;
	w = upload_worker__start(cfg, err, errlen);
	if (!w) {
		free_secret(&a->up_secrets);
		return errno ? -errno : -EINVAL;
	}
	pthread_mutex_lock(&a->sh.lock);
	a->sh.up = w;
	pthread_mutex_unlock(&a->sh.lock);
	log_info("uploading profiles to %s", cfg->upload.url);
	return 0;
}

static void upload_stop(struct agent *a, uint64_t timeout_ns)
{
	struct upload_worker *w;

	pthread_mutex_lock(&a->sh.lock);
	w = a->sh.up;
	a->sh.up = NULL;
	pthread_mutex_unlock(&a->sh.lock);
	upload_worker__stop(w, timeout_ns);
	free_secret(&a->up_secrets);
}

static int read_token(const struct profd_config *cfg, char *buf, size_t size, char *err,
		      size_t errlen)
{
	buf[0] = '\0';
	if (!*cfg->http.token_file)
		return 0;
	return secret__read(cfg->http.token_file, buf, size, err, errlen);
}

static int http_start(struct agent *a, const struct profd_config *cfg, char *err, size_t errlen)
{
	char token[SECRET_MAX_LEN + 1], host[256];
	struct http_callbacks cb;
	struct http_server *s;
	const char *colon;
	int ret;

	if (!*cfg->http.listen)
		return 0;
	ret = read_token(cfg, token, sizeof(token), err, errlen);
	if (ret)
		return ret;
	a->http_token = strdup(token);
	if (!a->http_token) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	agent_http__callbacks(&a->sh, &cb);
	s = http_server__start(cfg->http.listen, token, cfg->http.max_concurrent, &cb, err, errlen);
	memset(token, 0, sizeof(token));
	if (!s) {
		ret = errno ? -errno : -EINVAL;
		free(a->http_token);
		a->http_token = NULL;
		return ret;
	}
	pthread_mutex_lock(&a->sh.lock);
	a->sh.http = s;
	pthread_mutex_unlock(&a->sh.lock);
	/* With port 0 the kernel picked one: say which. */
	colon = strrchr(cfg->http.listen, ':');
	snprintf(host, sizeof(host), "%.*s", (int)(colon - cfg->http.listen), cfg->http.listen);
	log_info("serving /debug/pprof/ and /metrics on http://%s:%u/%s", host,
		 http_server__port(s), *token ? " (bearer token required)" : "");
	return 0;
}

static void http_stop(struct agent *a)
{
	struct http_server *s;

	pthread_mutex_lock(&a->sh.lock);
	s = a->sh.http;
	a->sh.http = NULL;
	pthread_mutex_unlock(&a->sh.lock);
	/* Profile requests in progress end early instead of holding us up. */
	atomic_fetch_add(&a->sh.gen, 1);
	http_server__stop(s);
	if (a->http_token)
		memset(a->http_token, 0, strlen(a->http_token));
	free(a->http_token);
	a->http_token = NULL;
}

/* ---- configuration changes ---- */

static bool str_eq(const char *x, const char *y)
{
	return !strcmp(x ? x : "", y ? y : "");
}

static bool profilers_differ(const struct profd_config *x, const struct profd_config *y)
{
	if (continuous(x) != continuous(y) || x->types != y->types ||
	    !profiler_opts_equal(&x->popts, &y->popts) ||
	    x->n_heap_names != y->n_heap_names || x->n_heap_pids != y->n_heap_pids)
		return true;
	for (size_t i = 0; i < x->n_heap_names; i++)
		if (!str_eq(x->heap_names[i], y->heap_names[i]))
			return true;
	return x->n_heap_pids &&
	       memcmp(x->heap_pids, y->heap_pids, x->n_heap_pids * sizeof(*x->heap_pids));
}

static bool disk_differs(const struct profd_config *x, const struct profd_config *y)
{
	return !str_eq(x->output_dir, y->output_dir) || x->retention_size != y->retention_size ||
	       x->retention_age_ns != y->retention_age_ns;
}

/* A setting changed, or the content of a secret file (token rotation is a
 * reason to send SIGHUP). */
static bool upload_differs(struct agent *a, const struct profd_config *x,
			   const struct profd_config *y)
{
	char err[CONFIG_ERR_LEN];
	char *now;
	bool differ;

	if (!str_eq(x->upload.url, y->upload.url) || x->upload.mode != y->upload.mode ||
	    !str_eq(x->upload.tenant_id, y->upload.tenant_id) ||
	    !str_eq(x->upload.bearer_token_file, y->upload.bearer_token_file) ||
	    !str_eq(x->upload.basic_auth_user, y->upload.basic_auth_user) ||
	    !str_eq(x->upload.basic_auth_password_file, y->upload.basic_auth_password_file) ||
	    x->upload.timeout_ns != y->upload.timeout_ns || x->upload.retries != y->upload.retries ||
	    x->upload.backoff_initial_ns != y->upload.backoff_initial_ns ||
	    x->upload.backoff_max_ns != y->upload.backoff_max_ns ||
	    !str_eq(x->upload.spool_dir, y->upload.spool_dir) ||
	    x->upload.spool_max_bytes != y->upload.spool_max_bytes ||
	    !str_eq(x->upload.tls_ca_file, y->upload.tls_ca_file) ||
	    x->upload.tls_insecure_skip_verify != y->upload.tls_insecure_skip_verify)
		return true;
	if (!*y->upload.url)
		return false;
	/* Unreadable now: restart, and fail there with its message. */
	now = upload_secrets(y, err, sizeof(err));
	differ = !now || !str_eq(now, a->up_secrets);
	free_secret(&now);
	return differ;
}

static bool http_differs(struct agent *a, const struct profd_config *x,
			 const struct profd_config *y)
{
	char token[SECRET_MAX_LEN + 1], err[CONFIG_ERR_LEN];
	bool differ;

	if (!str_eq(x->http.listen, y->http.listen) ||
	    !str_eq(x->http.token_file, y->http.token_file) ||
	    x->http.max_concurrent != y->http.max_concurrent)
		return true;
	if (!*y->http.listen || !*y->http.token_file)
		return false;
	/* A token that cannot be read now: restart, and fail there with its message. */
	if (read_token(y, token, sizeof(token), err, sizeof(err)))
		return true;
	differ = !str_eq(token, a->http_token);
	memset(token, 0, sizeof(token));
	return differ;
}

/* Move the components from configuration `from` (what runs) to `to`,
 * restarting those whose settings differ. On error the message is in err
 * and the components are partly moved: apply again with the roles
 * swapped to go back. */
static int apply(struct agent *a, const struct profd_config *to, const struct profd_config *from,
		 char *err, size_t errlen)
{
	bool prof = profilers_differ(from, to), disk = disk_differs(from, to),
	     up = upload_differs(a, from, to), http = http_differs(a, from, to);
	int ret = 0;

	if (prof)
		profilers_stop(a);
	if (disk)
		disk_stop(a);
	if (up)
		upload_stop(a, AGENT_UPLOAD_RELOAD_NS);
	if (http)
		http_stop(a);
	if (disk)
		ret = disk_start(a, to, err, errlen);
	if (!ret && up)
		ret = upload_start(a, to, err, errlen);
	if (!ret && http)
		ret = http_start(a, to, err, errlen);
	if (!ret && prof)
		ret = profilers_start(a, to, err, errlen);
	return ret;
}

/* ---- intervals, snapshot, reload ---- */

/* Start an interval at CLOCK_MONOTONIC time `at` (the previous one's end,
 * so intervals keep a fixed cadence whatever a flush costs), or now when
 * `at` is 0 or long past. Ticks are counted from that start, so that the
 * interval's last tick falls on its end rather than up to a tick later. */
static void interval_begin(struct agent *a, int64_t at)
{
	int64_t now = agent_now_ns(CLOCK_MONOTONIC);
	struct itimerspec its = { .it_interval = { 1, 0 } };

	if (!at || now - at >= AGENT_TICK_NS)
		at = now;
	its.it_value.tv_sec = (at + AGENT_TICK_NS) / 1000000000;
	its.it_value.tv_nsec = (at + AGENT_TICK_NS) % 1000000000;
	if (a->tfd >= 0)
		timerfd_settime(a->tfd, TFD_TIMER_ABSTIME, &its, NULL);
	a->interval_start_ns = agent_now_ns(CLOCK_REALTIME) - (now - at);
	a->last_drain_ns = a->interval_start_ns;
	a->interval_end_mono = at + (int64_t)a->cfg.interval_ns;
}

static void snapshot_update(struct agent *a)
{
	struct agent_snapshot s = { 0 };

	for (size_t i = 0; i < a->ntypes; i++) {
		struct agent_ptype *t = &a->types[i];
		struct agent_type_stats *ts = &s.types[s.ntypes++];

		ts->name = t->type->name;
		/* Instances of one type report the same list: add them up. */
		for (size_t j = 0; j < t->ninst; j++) {
			struct profiler_stat st[PROFILER_MAX_STATS];
			size_t n;

			ts->no_builder += t->inst[j]->run.pr.sink_drops;
			if (!t->type->ops->stats)
				continue;
			n = t->type->ops->stats(&t->inst[j]->run.pr, st, PROFILER_MAX_STATS);
			if (!j)
				ts->n = n;
			for (size_t k = 0; k < n && k < ts->n; k++) {
				if (!j)
					ts->st[k] = st[k];
				else if (st[k].kind == ts->st[k].kind) {
					ts->st[k].value += st[k].value;
					ts->st[k].max += st[k].max;
				}
			}
		}
	}
	s.procs = a->nprocs;
	s.intervals = a->intervals;
	s.profiles = a->profiles;
	s.encode_errors = a->encode_errors;
	s.reloads = a->reloads;
	s.reload_errors = a->reload_errors;
	if (a->disk) {
		const struct disk_stats *d = disk_store__stats(a->disk);

		s.disk_on = true;
		s.disk.written = d->written;
		s.disk.errors = d->errors;
		s.disk.enospc = d->enospc;
		s.disk.removed = d->removed;
		s.disk.bytes_used = d->bytes_used;
		s.disk.files = d->files;
	}
	symbolizer__stats(a->sym, &s.sym);
	for (size_t i = 0; i < a->ntypes; i++) {
		const struct agent_ptype *t = &a->types[i];

		for (size_t j = 0; t->type->probe_group && j < t->ninst &&
				   s.nheap_pids < AGENT_MAX_TARGETS; j++)
			s.heap_pids[s.nheap_pids++] = t->inst[j]->pid ? t->inst[j]->pid : -1;
	}
	s.popts = a->cfg.popts;
	pthread_mutex_lock(&a->sh.lock);
	a->sh.snap = s;
	pthread_mutex_unlock(&a->sh.lock);
}

static void notify_status(struct agent *a)
{
	size_t running = 0;

	for (size_t i = 0; i < a->ntypes; i++)
		running += a->types[i].ninst;
	sdnotify__sendf("STATUS=%zu profiler(s) running, %zu process(es) this interval, "
			"%llu profiles so far", running, a->nprocs,
			(unsigned long long)a->profiles);
}

/* End the interval at now (CLOCK_REALTIME, taken before the last drain). */
static void interval_end(struct agent *a, int64_t now)
{
	int64_t t0 = agent_now_ns(CLOCK_MONOTONIC);
	uint64_t before = a->profiles;

	drain_snapshots(a);
	flush_all(a, now);
	log_debug("interval %llu: %llu profiles finished in %.1f ms", (unsigned long long)a->intervals,
		  (unsigned long long)(a->profiles - before),
		  (agent_now_ns(CLOCK_MONOTONIC) - t0) / 1e6);
	symbolizer__prune(a->sym);
	if (a->disk)
		disk_store__retain(a->disk, now);
	a->intervals++;
	interval_begin(a, a->interval_end_mono);
	profilers_retarget(a);
	notify_status(a);
}

static void tick(struct agent *a)
{
	/* Before the drains: their generation switch is where this tick cuts. */
	int64_t now = agent_now_ns(CLOCK_REALTIME), mono = agent_now_ns(CLOCK_MONOTONIC);

	for (size_t i = 0; i < a->ntypes; i++)
		type_drain(&a->types[i], true);
	a->last_drain_ns = now;
	/* Exited processes hold the symbolizer's records of their mappings:
	 * let them go now, not at the interval's end, so churn stays cheap. */
	if (flush_exited(a))
		symbolizer__prune(a->sym);
	if (mono >= a->interval_end_mono)
		interval_end(a, now);
	snapshot_update(a);
}

static int check_config(const struct profd_config *cfg, char *err, size_t errlen)
{
	if (!continuous(cfg) && !*cfg->http.listen) {
		snprintf(err, errlen, "nothing to do: set [profd] output_dir, [upload] url or "
			 "[http] listen");
		return -EINVAL;
	}
	return 0;
}

static void reload(struct agent *a)
{
	char err[CONFIG_ERR_LEN] = "", err2[CONFIG_ERR_LEN] = "";
	struct profd_config nc;
	int ret;

	sdnotify__sendf("RELOADING=1\nMONOTONIC_USEC=%llu",
			(unsigned long long)(agent_now_ns(CLOCK_MONOTONIC) / 1000));
	log_info("SIGHUP: reloading %s", a->o->config_path);
	ret = config__load(&nc, a->o->config_path, a->o->overrides, a->o->n_overrides, err,
			   sizeof(err));
	if (!ret) {
		ret = check_config(&nc, err, sizeof(err));
		if (ret)
			config__done(&nc);
	}
	if (ret) {
		a->reload_errors++;
		log_err("reload failed: %s; keeping the current configuration", err);
		goto out;
	}
	/* The interval so far is written with the settings it was taken with. */
	tick(a);
	interval_end(a, agent_now_ns(CLOCK_REALTIME));
	ret = apply(a, &nc, &a->cfg, err, sizeof(err));
	if (ret) {
		a->reload_errors++;
		log_err("reload failed: %s; going back to the previous configuration", err);
		if (apply(a, &a->cfg, &nc, err2, sizeof(err2)))
			log_err("cannot go back to the previous configuration either: %s", err2);
		config__done(&nc);
		goto out;
	}
	config__done(&a->cfg);
	a->cfg = nc;
	a->reloads++;
	interval_begin(a, 0);
	log_info("configuration reloaded");
out:
	snapshot_update(a);
	sdnotify__send("READY=1");
	notify_status(a);
}

/* ---- run ---- */

static void shutdown_all(struct agent *a)
{
	atomic_store(&a->sh.stopping, true);
	/* Stopping drains what the collectors still hold into the builders. */
	drain_snapshots(a);
	profilers_stop(a);
	flush_all(a, agent_now_ns(CLOCK_REALTIME));
	http_stop(a);
	upload_stop(a, AGENT_UPLOAD_FLUSH_NS);
	disk_stop(a);
}

int agent_run(const struct agent_opts *o)
{
	char err[CONFIG_ERR_LEN] = "";
	uint64_t wd_usec = 0;
	int64_t wd_last = 0;
	int sfd = -1, tfd = -1, ret = EXIT_FAILURE;
	struct agent *a;
	sigset_t mask;

	_Static_assert(AGENT_TICK_NS == 1000000000LL, "the timerfd ticks once a second");
	a = calloc(1, sizeof(*a));
	if (!a) {
		log_err("out of memory");
		return EXIT_FAILURE;
	}
	a->o = o;
	a->tfd = -1;
	pthread_mutex_init(&a->sh.lock, NULL);
	if (config__load(&a->cfg, o->config_path, o->overrides, o->n_overrides, err,
			 sizeof(err)) ||
	    check_config(&a->cfg, err, sizeof(err))) {
		log_err("%s", err);
		goto out_free;
	}
	if (gethostname(a->host, sizeof(a->host)))
		a->host[0] = '\0';
	if (sdnotify__watchdog_usec(&wd_usec) <= 0)
		wd_usec = 0;

	/* Before any thread exists, so that every thread inherits the mask
	 * and the signals reach only the signalfd. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	a->tfd = tfd;
	if (sfd < 0 || tfd < 0) {
		log_err("cannot set up signal/timer fds: %s", strerror(errno));
		goto out;
	}
	a->sym = symbolizer__new();
	if (!a->sym) {
		log_err("out of memory");
		goto out;
	}
	if (disk_start(a, &a->cfg, err, sizeof(err)) || upload_start(a, &a->cfg, err, sizeof(err)) ||
	    http_start(a, &a->cfg, err, sizeof(err)) ||
	    profilers_start(a, &a->cfg, err, sizeof(err))) {
		log_err("%s", err);
		goto out;
	}
	/* After the profilers attached (per-process probes take a while). */
	interval_begin(a, 0);
	if (!continuous(&a->cfg))
		log_info("no output_dir and no upload url: continuous profiling off, serving "
			 "on-demand profiles only");
	else
		log_info("profiling continuously: %zu type(s), one profile per process every %.3gs",
			 a->ntypes, a->cfg.interval_ns / 1e9);
	snapshot_update(a);
	sdnotify__send("READY=1");
	notify_status(a);

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = tfd, .events = POLLIN },
		};
		int timeout = -1;

		if (wd_usec) {
			int64_t now = agent_now_ns(CLOCK_MONOTONIC) / 1000;

			if (now - wd_last >= (int64_t)wd_usec / 2) {
				sdnotify__send("WATCHDOG=1");
				wd_last = now;
			}
			timeout = (int)((wd_last + (int64_t)wd_usec / 2 - now) / 1000) + 1;
		}
		if (poll(pfd, 2, timeout) < 0 && errno != EINTR) {
			log_err("poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo == SIGHUP) {
				reload(a);
				continue;
			}
			log_info("%s: flushing the current interval and stopping",
				 strsignal(si.ssi_signo));
			ret = EXIT_SUCCESS;
			break;
		}
		if (pfd[1].revents & POLLIN) {
			uint64_t ticks;

			if (read(tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
				log_warn("timerfd read: %s", strerror(errno));
			tick(a);
		}
	}
	sdnotify__send("STOPPING=1");
out:
	shutdown_all(a);
	if (ret == EXIT_SUCCESS)
		log_info("stopped: %llu profiles in %llu interval(s)",
			 (unsigned long long)a->profiles, (unsigned long long)a->intervals + 1);
	symbolizer__free(a->sym);
	if (sfd >= 0)
		close(sfd);
	if (tfd >= 0)
		close(tfd);
out_free:
	config__done(&a->cfg);
	pthread_mutex_destroy(&a->sh.lock);
	free(a);
	return ret;
}
