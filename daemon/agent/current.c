// SPDX-License-Identifier: Apache-2.0
/* current: the current state of a profile the agent collects continuously,
 * for /debug/pprof/heap and /allocs (as Go's net/http/pprof answers them:
 * at once). A cumulative type's state is the collector's maps, read without
 * reset, so it goes into a builder of its own and the interval's profile
 * is left as it was. Runs on the main thread, which owns the profilers; the
 * HTTP threads queue requests in the shared state (agent_http.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent_internal.h"
#include "aggregate/frames.h"
#include "pprof/pprof.h"

struct now_sink {
	pid_t pid;
	struct pprof *p;
};

static struct pprof *now_sink(void *ctx, struct profiler *pr, pid_t pid)
{
	struct now_sink *s = ctx;

	(void)pr;
	return pid == s->pid ? s->p : NULL;
}

/* The instance of a continuous type of req's probe group targeting
 * req->pid, or NULL. */
static struct agent_inst *inst_for(struct agent *a, const struct agent_now_req *req)
{
	const char *group = req->type->probe_group;

	for (size_t i = 0; group && i < a->ntypes; i++) {
		const struct agent_ptype *t = &a->types[i];

		if (!t->per_pid || t->type->kind != PROFILER_CUMULATIVE || !t->type->probe_group ||
		    strcmp(t->type->probe_group, group))
			continue;
		for (size_t j = 0; j < t->ninst; j++)
			if (t->inst[j]->pid == req->pid)
				return t->inst[j];
	}
	return NULL;
}

static void answer(struct agent *a, struct agent_now_req *req)
{
	struct agent_inst *in = inst_for(a, req);
	/* The header of the type asked for (heap and allocs share sample
	 * types; they differ in the default one), the instance's options. */
	struct profiler hdr = { .type = req->type };
	struct now_sink s = { .pid = req->pid };
	int err;

	if (!in) {
		req->status = 0;        /* no longer collected: on demand then */
		return;
	}
	hdr.opts = in->run.pr.opts;
	s.p = pprof__new();
	if (!s.p) {
		err = -ENOMEM;
		goto fail;
	}
	err = profiler_init_profile(&hdr, s.p);
	if (err)
		goto fail;
	frames__main_mapping(s.p, a->sym, req->pid);
	err = run__drain_to(&in->run, now_sink, &s);
	if (err < 0)
		goto fail;
	pprof__set_time(s.p, agent_now_ns(CLOCK_REALTIME), 0);
	/* As for every profile served over HTTP: go tool pprof would ask
	 * /debug/pprof/symbol about mappings not marked symbolized. */
	for (uint64_t id = 1; !pprof__mapping_mark(s.p, id, PPROF_HAS_FUNCTIONS); id++)
		;
	err = pprof__encode(s.p, &req->body, &req->len);
	if (err)
		goto fail;
	pprof__free(s.p);
	req->status = 200;
	return;
fail:
	pprof__free(s.p);
	req->status = 500;
	snprintf(req->message, sizeof(req->message), "cannot read the current %s profile: %s",
		 req->type->name, strerror(-err));
}

void agent_now_serve(struct agent *a)
{
	struct agent_now_req *reqs[HTTP_MAX_CONNECTIONS_AGENT];
	uint64_t v;
	size_t n;

	if (read(a->sh.now_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&a->sh.lock);
	n = a->sh.nnow;
	memcpy(reqs, a->sh.now, n * sizeof(*reqs));
	a->sh.nnow = 0;
	pthread_mutex_unlock(&a->sh.lock);
	/* Outside the lock: the requests are ours until marked done. */
	for (size_t i = 0; i < n; i++)
		answer(a, reqs[i]);
	pthread_mutex_lock(&a->sh.lock);
	for (size_t i = 0; i < n; i++)
		reqs[i]->done = true;
	pthread_cond_broadcast(&a->sh.now_done);
	pthread_mutex_unlock(&a->sh.lock);
}
