// SPDX-License-Identifier: Apache-2.0
/* threads/report: see report.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/frames.h"
#include "pprof/pprof.h"
#include "symbolize/symbolizer.h"
#include "aggregate/threads_report.h"
#include "profd/python.h"
#include "python/python.h"

/* glibc 2.36 x86-64 __pthread_mutex_s.__kind: type in the low 2 bits,
 * flags 16 robust, 32 PI, 64 PP, 128 pshared. */
#define MUTEX_KIND_VALID(k) (((k) & ~(3u | 16u | 32u | 64u | 128u)) == 0)

static const char *user_name(struct symbolizer *sym, pid_t pid, uint64_t addr, bool leaf)
{
	struct sym_frame f;

	if (symbolizer__user(sym, pid, leaf ? addr : addr - 1, &f) || !f.nlines)
		return NULL;
	return f.lines[f.nlines - 1].name;
}

static const char *kernel_name(struct symbolizer *sym, uint64_t addr)
{
	struct sym_frame f;

	if (symbolizer__kernel(sym, addr, &f) || !f.nlines)
		return NULL;
	return f.lines[f.nlines - 1].name;
}

/* A pthread_mutex_lock-family frame among the first ones. */
static bool in_mutex_lock(struct symbolizer *sym, const struct thread_info *t)
{
	for (size_t i = 0; i < t->nu && i < 6; i++) {
		const char *n = user_name(sym, (pid_t)t->rec.tgid, t->ustack[i], i == 0);

		if (n && (strstr(n, "pthread_mutex_lock") || strstr(n, "pthread_mutex_timedlock") ||
			  strstr(n, "pthread_mutex_clocklock") || strstr(n, "pthread_mutex_cond_lock") ||
			  strstr(n, "mtx_lock") || strstr(n, "mtx_timedlock")))
			return true;
	}
	return false;
}

static int find_tid(const struct threads_snapshot *s, uint32_t tgid, uint32_t tid)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->t[i].rec.tid == tid && (!tgid || s->t[i].rec.tgid == tgid))
			return (int)i;
	return -1;
}

int threads_report__build(struct threads_report *r, struct threads_snapshot *s,
			  struct symbolizer *sym)
{
	struct wg_node *nodes;
	int err;

	memset(r, 0, sizeof(*r));
	r->s = s;
	r->sym = sym;
	r->mutex = calloc(s->n ? s->n : 1, sizeof(bool));
	nodes = calloc(s->n ? s->n : 1, sizeof(*nodes));
	if (!r->mutex || !nodes) {
		free(nodes);
		free(r->mutex);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct thread_info *t = &s->t[i];

		nodes[i].tid = (int32_t)t->rec.tid;
		nodes[i].owner = WG_NOT_WAITING;
		if (t->wait != THREAD_WAIT_MUTEX)
			continue;
		/* Value 2 is glibc's lll_lock protocol, used by more than
		 * mutexes: a pthread_mutex frame confirms it; without a
		 * stack, a valid __kind and an owner in this process. */
		if (t->nu ? in_mutex_lock(sym, t)
			  : (t->mutex_read && MUTEX_KIND_VALID(t->m_kind) &&
			     find_tid(s, t->rec.tgid, t->m_owner) >= 0))
			r->mutex[i] = true;
		if (!r->mutex[i]) {
			nodes[i].owner = WG_OWNER_UNKNOWN;
			continue;
		}
		/* __owner is cleared before __lock on unlock: trust it only
		 * while the lock is taken. */
		if (t->mutex_read && t->m_lock && t->m_owner && t->m_owner <= INT32_MAX)
			nodes[i].owner = (int32_t)t->m_owner;
		else
			nodes[i].owner = WG_OWNER_UNKNOWN;
	}
	err = waitgraph__build(nodes, s->n, &r->g);
	free(nodes);
	if (err) {
		free(r->mutex);
		r->mutex = NULL;
	}
	return err;
}

void threads_report__free(struct threads_report *r)
{
	waitgraph__free(&r->g);
	free(r->mutex);
	r->mutex = NULL;
}

static const char *state_of(const struct thread_info *t)
{
	return thread_state_name(t->state);
}

int threads_report__pprof(struct threads_report *r, threads_sink_fn sink, void *ctx,
			  size_t *drops)
{
	uint64_t locs[PROFD_THREADS_KSTACK + PROFD_MAX_STACK_DEPTH];
	struct frames_stats fst = { 0 };
	int added = 0;

	for (size_t i = 0; i < r->s->n; i++) {
		const struct thread_info *t = &r->s->t[i];
		char comm[PROFD_COMM_LEN + 1];
		struct pprof_label l[4];
		size_t nl = 0;
		int64_t one = 1;
		struct pprof *p;
		int n;

		p = sink(ctx, (pid_t)t->rec.tgid, t->rec.pcomm);
		if (!p) {
			(*drops)++;
			continue;
		}
		memcpy(comm, t->rec.pcomm, PROFD_COMM_LEN);
		comm[PROFD_COMM_LEN] = '\0';
		n = frames__locations(p, r->sym, (pid_t)t->rec.tgid, (const uint64_t *)t->rec.kstack, t->rec.nkstack,
				      t->ustack, t->nu, FRAMES_LEAF_EXACT, locs,
				      sizeof(locs) / sizeof(locs[0]), &fst);
		if (n < 0)
			return n;
		l[nl++] = (struct pprof_label){ .key = "state", .str = state_of(t) };
		l[nl++] = (struct pprof_label){ .key = "pid", .num = t->rec.tgid };
		l[nl++] = (struct pprof_label){ .key = "comm", .str = comm[0] ? comm : "?" };
		if (r->g.cycle[i])
			l[nl++] = (struct pprof_label){ .key = "deadlock", .num = r->g.cycle[i] };
		if (pprof__add_sample(p, locs, n, &one, l, nl))
			return -ENOMEM;
		added++;
	}
	return added;
}

/* "350ms", "12s", "5 minutes", "3 hours" (Go: minutes, past one). */
static void duration(char *buf, size_t len, uint64_t ns)
{
	if (ns < 1000000000ULL)
		snprintf(buf, len, "%" PRIu64 "ms", (uint64_t)(ns / 1000000));
	else if (ns < 60000000000ULL)
		snprintf(buf, len, "%" PRIu64 "s", (uint64_t)(ns / 1000000000ULL));
	else if (ns < 3600000000000ULL)
		snprintf(buf, len, "%" PRIu64 " minutes", (uint64_t)(ns / 60000000000ULL));
	else
		snprintf(buf, len, "%" PRIu64 " hours", (uint64_t)(ns / 3600000000000ULL));
}

static void name16(char *out, const char *in)
{
	memcpy(out, in, PROFD_COMM_LEN);
	out[PROFD_COMM_LEN] = '\0';
}

/* The wait channel: the first kernel frame outside the scheduler. */
static const char *wchan(struct threads_report *r, const struct thread_info *t)
{
	for (size_t i = 0; i < t->rec.nkstack; i++) {
		const char *n = kernel_name(r->sym, (uint64_t)t->rec.kstack[i]);

		if (!n)
			return NULL;
		if (strstr(n, "schedule") || strstr(n, "__switch_to") || !strcmp(n, "__cond_resched"))
			continue;
		return n;
	}
	return NULL;
}

static void thread_ref(struct threads_report *r, FILE *f, int i)
{
	char nm[PROFD_COMM_LEN + 1];

	name16(nm, r->s->t[i].rec.comm);
	fprintf(f, "thread %u \"%s\"", r->s->t[i].rec.tid, nm);
}

/* What thread i is doing, for a chain's end: "sleeps in read". */
static void doing(struct threads_report *r, FILE *f, int i)
{
	const struct thread_info *t = &r->s->t[i];
	const char *sc = (int64_t)t->rec.orig_ax >= 0 ? thread_syscall_name((uint64_t)t->rec.orig_ax) : NULL;

	if (t->state == 'R')
		fprintf(f, "which is running");
	else if (t->state == 'r')
		fprintf(f, "which is runnable");
	else if (sc)
		fprintf(f, "which %s in %s", t->state == 'D' ? "waits (disk-sleep)" : "sleeps", sc);
	else if ((int64_t)t->rec.orig_ax >= 0)
		fprintf(f, "which sleeps in syscall %" PRIu64, (uint64_t)t->rec.orig_ax);
	else
		fprintf(f, "which is %s", state_of(t));
}

static void mutex_clause(struct threads_report *r, FILE *f, int i)
{
	const struct thread_info *t = &r->s->t[i];

	fprintf(f, "waits for mutex 0x%" PRIx64, t->wait_addr);
	if (r->g.next[i] >= 0) {
		fprintf(f, " held by ");
		thread_ref(r, f, r->g.next[i]);
	} else if (r->g.end[i] == WG_END_MISSING) {
		fprintf(f, " held by thread %d, not in this snapshot (exited, or another process)",
			r->g.missing[i]);
	} else {
		fprintf(f, " whose owner is not recorded");
	}
}

size_t threads_report__deadlocks(struct threads_report *r, FILE *f)
{
	const struct threads_snapshot *s = r->s;
	size_t lines = 0;

	for (size_t c = 0; c < r->g.ncycles; c++) {
		size_t a = r->g.cycle_start[c], b = r->g.cycle_start[c + 1];

		fprintf(f, "deadlock #%zu (pid %u): ", c + 1, s->t[r->g.cycle_nodes[a]].rec.tgid);
		for (size_t k = a; k < b; k++) {
			int i = r->g.cycle_nodes[k];

			if (k > a) {
				fprintf(f, ", which ");
			} else {
				thread_ref(r, f, i);
				fputc(' ', f);
			}
			mutex_clause(r, f, i);
		}
		fprintf(f, ": deadlock\n");
		lines++;
	}
	/* Chains: group the waiters by where their chain ends. */
	for (size_t h = 0; h < s->n; h++) {
		size_t direct = 0, total = 0, behind_cycle = 0;

		for (size_t i = 0; i < s->n; i++) {
			if (r->g.end_node[i] != (int)h || r->g.cycle[i])
				continue;
			if (r->g.end[i] == WG_END_HOLDER || r->g.end[i] == WG_END_CYCLE) {
				total++;
				direct += r->g.next[i] == (int)h;
				behind_cycle += r->g.end[i] == WG_END_CYCLE;
			}
		}
		if (!total)
			continue;
		if (behind_cycle) {
			fprintf(f, "%zu thread%s wait%s behind deadlock #%d (", total,
				total == 1 ? "" : "s", total == 1 ? "s" : "", r->g.cycle[h]);
			thread_ref(r, f, (int)h);
			fprintf(f, ")\n");
		} else {
			fprintf(f, "%zu thread%s wait%s for a mutex held by ", total,
				total == 1 ? "" : "s", total == 1 ? "s" : "");
			thread_ref(r, f, (int)h);
			fputs(", ", f);
			doing(r, f, (int)h);
			if (direct != total)
				fprintf(f, " (%zu directly, %zu behind other waiters)", direct,
					total - direct);
			fputc('\n', f);
		}
		lines++;
	}
	for (size_t i = 0; i < s->n; i++) {
		if (r->g.end[i] != WG_END_UNKNOWN && r->g.end[i] != WG_END_MISSING)
			continue;
		if (r->g.end_node[i] != (int)i)
			continue; /* reported once, by the chain's last waiter */
		thread_ref(r, f, (int)i);
		fputc(' ', f);
		if (r->mutex[i])
			mutex_clause(r, f, (int)i);
		else
			fprintf(f, "waits for a lock at 0x%" PRIx64 " that records no owner "
				"(not a pthread mutex): owner unknown", s->t[i].wait_addr);
		fputc('\n', f);
		lines++;
	}
	return lines;
}

static void frame_lines(struct threads_report *r, FILE *f, const struct thread_info *t,
			bool addrs)
{
	for (size_t i = 0; i < t->rec.nkstack; i++) {
		const char *n = kernel_name(r->sym, (uint64_t)t->rec.kstack[i]);

		if (addrs)
			fprintf(f, "#\t0x%" PRIx64 "\t%s [kernel]\n", (uint64_t)t->rec.kstack[i], n ? n : "?");
		else
			fprintf(f, "%s [kernel]\n", n ? n : "?");
	}
	for (size_t i = 0; i < t->nu; i++) {
		struct sym_frame fr;
		uint64_t a = t->ustack[i];
		const struct sym_line *ln = NULL;

		if (PROFD_PY_IS_FRAME(a)) { /* a Python frame (collect/threads.c) */
			struct python_frame pf;

			python__frame((pid_t)t->rec.tgid, a, &pf);
			if (addrs)
				fprintf(f, "#\t0x%" PRIx64 "\t%s\t%s:%d\n", a, pf.name, pf.file, pf.line);
			else
				fprintf(f, "%s\n\t%s:%d\n", pf.name, pf.file, pf.line);
			continue;
		}
		if (!symbolizer__user(r->sym, (pid_t)t->rec.tgid, i ? a - 1 : a, &fr) && fr.nlines)
			ln = &fr.lines[fr.nlines - 1];
		if (addrs) {
			fprintf(f, "#\t0x%" PRIx64 "\t%s", a, ln ? ln->name : "?");
			if (ln && ln->file)
				fprintf(f, "\t%s:%d", ln->file, ln->line);
			else if (fr.map && fr.map->path)
				fprintf(f, "\t%s", fr.map->path);
			fputc('\n', f);
		} else {
			fprintf(f, "%s\n", ln ? ln->name : "?");
			if (ln && ln->file)
				fprintf(f, "\t%s:%d\n", ln->file, ln->line);
			else if (!ln || !ln->file)
				fprintf(f, "\t%s 0x%" PRIx64 "\n",
					fr.map && fr.map->path ? fr.map->path : "?", a);
		}
	}
}

static int cmp_u64s(const uint64_t *a, size_t na, const uint64_t *b, size_t nb)
{
	if (na != nb)
		return na < nb ? -1 : 1;
	for (size_t i = 0; i < na; i++)
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	return 0;
}

/* qsort_r comparator (HTTP requests render at once: no global). */
static int cmp_stack(const void *x, const void *y, void *ctx)
{
	const struct threads_snapshot *snap = ctx;
	const struct thread_info *a = &snap->t[*(const int *)x];
	const struct thread_info *b = &snap->t[*(const int *)y];
	int c;

	if (a->rec.tgid != b->rec.tgid)
		return a->rec.tgid < b->rec.tgid ? -1 : 1;
	if (a->state != b->state)
		return a->state < b->state ? -1 : 1;
	c = cmp_u64s((const uint64_t *)a->rec.kstack, a->rec.nkstack, (const uint64_t *)b->rec.kstack, b->rec.nkstack);
	return c ? c : cmp_u64s(a->ustack, a->nu, b->ustack, b->nu);
}

static void text1(struct threads_report *r, FILE *f)
{
	const struct threads_snapshot *s = r->s;
	int *ord = calloc(s->n ? s->n : 1, sizeof(int));

	fprintf(f, "threads profile: total %zu\n", s->n);
	if (!ord)
		return;
	for (size_t i = 0; i < s->n; i++)
		ord[i] = (int)i;
	qsort_r(ord, s->n, sizeof(int), cmp_stack, (void *)s);
	for (size_t i = 0; i < s->n;) {
		const struct thread_info *t = &s->t[ord[i]];
		char nm[PROFD_COMM_LEN + 1];
		size_t j = i + 1;

		while (j < s->n && !cmp_stack(&ord[i], &ord[j], (void *)s))
			j++;
		fprintf(f, "%zu @", j - i);
		for (size_t k = 0; k < t->rec.nkstack; k++)
			fprintf(f, " 0x%" PRIx64, (uint64_t)t->rec.kstack[k]);
		for (size_t k = 0; k < t->nu; k++)
			fprintf(f, " 0x%" PRIx64, t->ustack[k]);
		name16(nm, t->rec.pcomm);
		fprintf(f, "\n# state %s, pid %u \"%s\"\n", state_of(t), t->rec.tgid, nm);
		frame_lines(r, f, t, true);
		fputc('\n', f);
		i = j;
	}
	free(ord);
}

static void text2(struct threads_report *r, FILE *f)
{
	const struct threads_snapshot *s = r->s;

	for (size_t i = 0; i < s->n; i++) {
		const struct thread_info *t = &s->t[i];
		const char *sc = (int64_t)t->rec.orig_ax >= 0 ? thread_syscall_name((uint64_t)t->rec.orig_ax) : NULL;
		const char *wc = t->state != 'R' ? wchan(r, t) : NULL;
		char nm[PROFD_COMM_LEN + 1], pc[PROFD_COMM_LEN + 1], d[32];

		name16(nm, t->rec.comm);
		name16(pc, t->rec.pcomm);
		fprintf(f, "thread %u \"%s\" [%s", t->rec.tid, nm, state_of(t));
		if (t->in_state_ns) {
			duration(d, sizeof(d), t->in_state_ns);
			fprintf(f, ", %s", d);
		}
		fprintf(f, "]: pid %u \"%s\"\n", t->rec.tgid, pc);
		if (t->rec.flags & PROFD_THR_KTHREAD)
			fprintf(f, "kernel thread\n");
		else if (sc)
			fprintf(f, "syscall %s(0x%" PRIx64 ", 0x%" PRIx64 ", 0x%" PRIx64 ")\n", sc,
				(uint64_t)t->rec.args[0], (uint64_t)t->rec.args[1], (uint64_t)t->rec.args[2]);
		else if ((int64_t)t->rec.orig_ax >= 0)
			fprintf(f, "syscall %" PRIu64 "\n", (uint64_t)t->rec.orig_ax);
		if (wc)
			fprintf(f, "wchan %s\n", wc);
		if (t->on_cpu)
			fprintf(f, "on a CPU: no kernel stack; user stack as of its last kernel entry\n");
		else if (t->user_approx)
			fprintf(f, "runnable in user mode: user stack as of its last kernel entry\n");
		if (r->mutex[i] || (t->wait == THREAD_WAIT_MUTEX)) {
			if (r->mutex[i])
				mutex_clause(r, f, (int)i);
			else
				fprintf(f, "waits for a lock at 0x%" PRIx64 " (not a pthread mutex): "
					"owner unknown", t->wait_addr);
			if (r->g.cycle[i])
				fprintf(f, ": deadlock #%d", r->g.cycle[i]);
			fputc('\n', f);
		} else if (t->wait == THREAD_WAIT_FUTEX) {
			fprintf(f, "waits on futex 0x%" PRIx64 " (condition variable, semaphore or "
				"similar: no owner recorded)\n", t->wait_addr);
		}
		frame_lines(r, f, t, false);
		fputc('\n', f);
	}
}

void threads_report__text(struct threads_report *r, FILE *f, int debug)
{
	if (debug >= 2)
		text2(r, f);
	else
		text1(r, f);
	fprintf(f, "# snapshot of %zu threads: walk %.3f ms, user stacks %.3f ms, "
		"visits spread over %.3f ms (not atomic)\n",
		r->s->n, r->s->walk_ns / 1e6, r->s->unwind_ns / 1e6, r->s->spread_ns / 1e6);
	if (r->g.ncycles || r->s->n) {
		char *buf = NULL;
		size_t len = 0, lines = 0;
		FILE *m = open_memstream(&buf, &len);

		if (m) {
			lines = threads_report__deadlocks(r, m);
			fclose(m);
		}
		if (lines)
			fprintf(f, "\n# waits for mutexes:\n%s", buf);
		free(buf);
	}
}
