// SPDX-License-Identifier: Apache-2.0
/* collect/threads: see threads.h. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collect/threads.h"
#include "python/python.h"
#include "python/pystack.h"
#include "unwind/gapwalk.h"
#include "util/procmem.h"
#include "threads.skel.h"

#define PROFD_WAIT_READ(ctx, addr, out) mem_read_u64(ctx, addr, out)
static int mem_read_u64(void *ctx, __u64 addr, __u64 *out);
#define PROFD_WAIT_STEP_IMPL
#include "profd/wait.h"

#define NR_FUTEX 202
#define FUTEX_CMD(op) ((op) & 0x7f) /* without FUTEX_PRIVATE_FLAG (128), CLOCK_REALTIME (256) */
#define FUTEX_WAIT 0
#define FUTEX_LOCK_PI 6
#define FUTEX_WAIT_BITSET 9
#define FUTEX_LOCK_PI2 13
#define FUTEX_TID_MASK 0x3fffffffu

struct threads_collector {
	struct threads_bpf *skel;
	bool no_pid_param;        /* kernel before 6.1: filter in the program */
	/* Unwind tables kept from one snapshot to the next (built on
	 * first use per file), for the symbolizer they were made with. */
	struct gapwalk *gw;
	struct symbolizer *gw_sym;
	/* Iterator links kept between snapshots (creating and destroying one
	 * costs more than the walk): per pid with the pid parameter, pid 0
	 * for the unfiltered walk. Replaced round-robin past MAX_LINKS. */
#define MAX_LINKS 64
	struct {
		pid_t pid;
		struct bpf_link *link;
	} links[MAX_LINKS];
	unsigned next_link;
	/* Processes found to run no (supported) CPython, not scanned again
	 * for NOPY_RESCAN_NS (direct-mapped by pid). */
#define NOPY_SLOTS 4096
#define NOPY_RESCAN_NS (30 * 1000000000LL)
	struct {
		pid_t pid;
		int64_t at;
	} nopy[NOPY_SLOTS];
	/* Python processes this collector had python/ scan: forgotten there
	 * once gone (no loader may follow them to tell their exit). */
#define PY_SEEN_MAX 1024
	pid_t py_seen[PY_SEEN_MAX];
	size_t npy_seen;
};

static struct bpf_link *link_for(struct threads_collector *c, pid_t pid)
{
	union bpf_iter_link_info li = {};
	DECLARE_LIBBPF_OPTS(bpf_iter_attach_opts, o);
	struct bpf_link *link;
	unsigned slot;

	if (c->no_pid_param)
		pid = 0;
	for (unsigned i = 0; i < MAX_LINKS; i++)
		if (c->links[i].link && c->links[i].pid == pid)
			return c->links[i].link;
	if (pid) {
		li.task.pid = pid;
		o.link_info = &li;
		o.link_info_len = sizeof(li);
	}
	link = bpf_program__attach_iter(c->skel->progs.threads_iter, pid ? &o : NULL);
	if (!link && pid && errno != ESRCH && errno != ENOENT) {
		/* Before 6.1: no pid parameter; walk everything and filter in
		 * the program. */
		c->no_pid_param = true;
		return link_for(c, 0);
	}
	if (!link)
		return NULL;
	slot = c->next_link++ % MAX_LINKS;
	bpf_link__destroy(c->links[slot].link);
	c->links[slot].pid = pid;
	c->links[slot].link = link;
	return link;
}

static int mem_read_u64(void *ctx, __u64 addr, __u64 *out)
{
	return procmem_cache_read(ctx, addr, out, sizeof(*out));
}

struct threads_collector *threads_collector__new(char *err, size_t len)
{
	struct threads_collector *c = calloc(1, sizeof(*c));
	int e;

	if (!c) {
		snprintf(err, len, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	c->skel = threads_bpf__open_and_load();
	if (!c->skel) {
		e = errno;
		snprintf(err, len, "cannot load the threads iterator (bpf/threads.bpf.c): %s",
			 strerror(e));
		free(c);
		errno = e;
		return NULL;
	}
	return c;
}

void threads_collector__free(struct threads_collector *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < MAX_LINKS; i++)
		bpf_link__destroy(c->links[i].link);
	threads_bpf__destroy(c->skel);
	gapwalk__free(c->gw);
	free(c);
}

static int64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* One walk of the iterator, records appended to *buf. pid 0: every task. */
static int walk(struct threads_collector *c, pid_t pid, uint8_t **buf, size_t *len, size_t *cap)
{
	struct bpf_link *link = link_for(c, pid);
	int fd, err = 0;

	if (!link)
		return errno == ESRCH || errno == ENOENT ? 0 : -errno; /* gone: no threads */
	/* Also with the pid parameter: a kernel that ignored it would
	 * otherwise hand every task of the host to a per-process profile. */
	c->skel->bss->want_tgid = (uint32_t)pid;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n;

		if (*cap - *len < 64 * 1024) {
			size_t nc = *cap ? *cap * 2 : 256 * 1024;
			uint8_t *nb = realloc(*buf, nc);

			if (!nb) {
				err = -ENOMEM;
				break;
			}
			*buf = nb;
			*cap = nc;
		}
		n = read(fd, *buf + *len, *cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		if (!n)
			break;
		*len += n;
	}
	close(fd);
	return err;
}

static char state_letter(const struct profd_thread_rec *r)
{
	static const char letters[] = "RSDTtXZPI";
	unsigned s = (r->state | r->exit_state) & 0x7f, i = 0;

	if ((r->state & 0x7ff) == 0x402) /* TASK_IDLE */
		return 'I';
	if (r->state & 0x1000) /* TASK_RTLOCK_WAIT */
		return 'D';
	while (s) {
		i++;
		s >>= 1;
	}
	return letters[i < sizeof(letters) - 1 ? i : 0];
}

const char *thread_state_name(char state)
{
	switch (state) {
	case 'R': return "running";
	case 'S': return "sleeping";
	case 'D': return "disk-sleep";
	case 'T': return "stopped";
	case 't': return "tracing-stop";
	case 'X': return "dead";
	case 'Z': return "zombie";
	case 'P': return "parked";
	case 'I': return "idle";
	case 'r': return "runnable";
	}
	return "unknown";
}

const char *thread_syscall_name(uint64_t nr)
{
	static const struct {
		unsigned nr;
		const char *name;
	} t[] = {
		{ 0, "read" }, { 1, "write" }, { 7, "poll" }, { 17, "pread64" }, { 18, "pwrite64" },
		{ 19, "readv" }, { 20, "writev" }, { 23, "select" }, { 24, "sched_yield" },
		{ 34, "pause" }, { 35, "nanosleep" }, { 43, "accept" }, { 44, "sendto" },
		{ 45, "recvfrom" }, { 46, "sendmsg" }, { 47, "recvmsg" }, { 42, "connect" },
		{ 61, "wait4" }, { 64, "semget" }, { 65, "semop" }, { 69, "msgsnd" },
		{ 70, "msgrcv" }, { 72, "fcntl" }, { 73, "flock" }, { 74, "fsync" },
		{ 130, "rt_sigsuspend" }, { 128, "rt_sigtimedwait" }, { 202, "futex" },
		{ 208, "io_getevents" }, { 230, "clock_nanosleep" }, { 232, "epoll_wait" },
		{ 247, "waitid" }, { 257, "openat" }, { 270, "pselect6" }, { 271, "ppoll" },
		{ 281, "epoll_pwait" }, { 288, "accept4" }, { 299, "recvmmsg" },
		{ 426, "io_uring_enter" }, { 441, "epoll_pwait2" }, { 449, "futex_waitv" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].nr == nr)
			return t[i].name;
	return NULL;
}

/* Rules looked up during one snapshot, by (tgid, pc, leaf): the threads of
 * a process mostly share their frames, and each lookup asks the
 * symbolizer. Open addressing; a full cache just stops caching. */
#define RULE_CACHE_SIZE 8192
struct rule_cache {
	struct {
		uint64_t pc;
		uint32_t tgid; /* 0: empty */
		uint32_t leaf;
		struct profd_wait_rule r;
	} e[RULE_CACHE_SIZE];
	size_t n;
};

static void rule_get(struct rule_cache *rc, struct gapwalk *gw, uint32_t tgid, uint64_t pc,
		     bool leaf, struct profd_wait_rule *out)
{
	uint64_t h = (pc ^ ((uint64_t)tgid << 32) ^ leaf) * 0x9e3779b97f4a7c15ULL;
	size_t i = (h >> 40) % RULE_CACHE_SIZE;

	for (size_t k = 0; k < 16; k++, i = (i + 1) % RULE_CACHE_SIZE) {
		if (!rc->e[i].tgid)
			break;
		if (rc->e[i].tgid == tgid && rc->e[i].pc == pc && rc->e[i].leaf == leaf) {
			*out = rc->e[i].r;
			return;
		}
	}
	gapwalk__rule(gw, (pid_t)tgid, pc, leaf, out);
	if (!rc->e[i].tgid && rc->n < RULE_CACHE_SIZE / 2) {
		rc->e[i].tgid = tgid;
		rc->e[i].pc = pc;
		rc->e[i].leaf = leaf;
		rc->e[i].r = *out;
		rc->n++;
	}
}

static int py_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	return procmem_cache_read(ctx, addr, buf, len);
}

/* Record the native frame (pc, sp), or in its place the Python frames it
 * runs (py NULL: not a Python thread). false when the stack is full. */
static bool push_frame(struct thread_info *ti, struct pystack *py, uint64_t pc, uint64_t sp,
		       bool is_ret)
{
	uint64_t v;

	while (ti->nu < PROFD_MAX_STACK_DEPTH) {
		switch (py ? pystack_step(py, pc, sp, is_ret, &v) : PYSTACK_NATIVE) {
		case PYSTACK_EMIT:
			ti->ustack[ti->nu++] = v;
			continue;
		case PYSTACK_SKIP:
			return true;
		default:
			ti->ustack[ti->nu++] = pc;
			return true;
		}
	}
	return false;
}

/* The user stack from the saved registers, with the .eh_frame rules; for
 * a thread of a CPython process (pycfg), its Python frames in place of the
 * eval function's activations that run them. */
static void unwind_user(struct gapwalk *gw, struct rule_cache *rc, struct procmem_cache *m,
			struct thread_info *ti, const struct profd_py_proc *pycfg)
{
	struct profd_wait_regs st = { .pc = ti->rec.ip, .sp = ti->rec.sp, .bp = ti->rec.bp, .leaf = 1 };
	struct pystack ps, *py = NULL;

	ti->nu = 0;
	if (st.pc < 0x1000 || st.pc >= 0x00fffffffffff000ULL)
		return;
	if (pycfg && pystack_begin(&ps, pycfg, ti->rec.fsbase, py_read, m))
		py = &ps;
	if (!push_frame(ti, py, st.pc, st.sp, false))
		return;
	while (ti->nu < PROFD_MAX_STACK_DEPTH) {
		struct profd_wait_rule r;
		__u64 pair[2];

		rule_get(rc, gw, ti->rec.tgid, st.pc, st.leaf, &r);
		if (r.cmd == PROFD_WAIT_RULE_STEP) {
			if (profd_wait_step(&r, &st, m))
				break;
		} else if (r.cmd == PROFD_WAIT_RULE_FP) {
			if (!st.bp || st.bp < st.sp || procmem_cache_read(m, st.bp, pair, 16) ||
			    !pair[1])
				break;
			if (pair[0] && pair[0] <= st.bp)
				pair[0] = 0; /* the chain must go up the stack */
			st.sp = st.bp + 16;
			st.bp = pair[0];
			st.pc = pair[1];
			st.leaf = 0;
		} else {
			break; /* STOP: the outermost frame; INVALID: cannot go on */
		}
		if (st.pc < 0x1000 || st.pc >= 0x00fffffffffff000ULL)
			break;
		if (!push_frame(ti, py, st.pc, st.sp, true))
			break;
	}
}

/* Forget the Python processes of py_seen that have exited. */
static void python_gone(struct threads_collector *c)
{
	for (size_t i = 0; i < c->npy_seen;) {
		if (kill(c->py_seen[i], 0) && errno == ESRCH) {
			python__forget(c->py_seen[i]);
			c->py_seen[i] = c->py_seen[--c->npy_seen];
		} else {
			i++;
		}
	}
}

/* Whether tgid runs a CPython whose frames pystack can walk, into *cfg.
 * Unknown processes are scanned (python/python.c keeps what it found);
 * the answer "none" is kept for NOPY_RESCAN_NS. */
static bool python_of(struct threads_collector *c, uint32_t tgid, int64_t now,
		      struct profd_py_proc *cfg)
{
	unsigned slot = tgid % NOPY_SLOTS;

	if (!python__walk_config((pid_t)tgid, false, cfg))
		return true;
	if (c->nopy[slot].pid == (pid_t)tgid && now - c->nopy[slot].at < NOPY_RESCAN_NS)
		return false;
	if (!python__walk_config((pid_t)tgid, true, cfg)) {
		if (c->npy_seen < PY_SEEN_MAX)
			c->py_seen[c->npy_seen++] = (pid_t)tgid;
		return true;
	}
	c->nopy[slot].pid = (pid_t)tgid;
	c->nopy[slot].at = now;
	return false;
}

/* A futex wait: which kind, and for a mutex its words. */
static void read_wait(struct procmem_cache *m, struct thread_info *ti)
{
	const struct profd_thread_rec *r = &ti->rec;
	unsigned cmd = FUTEX_CMD(r->args[1]);
	uint32_t w[5];

	if (!(r->flags & PROFD_THR_REGS) || ti->on_cpu || r->orig_ax != NR_FUTEX)
		return;
	ti->wait_addr = r->args[0];
	ti->wait = THREAD_WAIT_FUTEX;
	if (cmd == FUTEX_LOCK_PI || cmd == FUTEX_LOCK_PI2)
		ti->pi = true;
	else if (!((cmd == FUTEX_WAIT || cmd == FUTEX_WAIT_BITSET) && (uint32_t)r->args[2] == 2))
		return;
	ti->wait = THREAD_WAIT_MUTEX;
	if (procmem_cache_read(m, ti->wait_addr, w, sizeof(w)))
		return;
	ti->mutex_read = true;
	ti->m_lock = w[0];
	ti->m_owner = ti->pi ? (w[0] & FUTEX_TID_MASK) : w[2];
	ti->m_kind = w[4];
}

static int cmp_thread(const void *a, const void *b)
{
	const struct thread_info *x = a, *y = b;

	if (x->rec.tgid != y->rec.tgid)
		return x->rec.tgid < y->rec.tgid ? -1 : 1;
	return (x->rec.tid > y->rec.tid) - (x->rec.tid < y->rec.tid);
}

int threads_collector__snapshot(struct threads_collector *c, struct symbolizer *sym,
				const pid_t *pids, size_t npids, struct threads_snapshot *out)
{
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, nrec;
	uint64_t first = UINT64_MAX, last = 0;
	struct gapwalk *gw = NULL;
	struct rule_cache *rc = NULL;
	struct procmem_cache *m = NULL;
	struct profd_py_proc pycfg;
	uint32_t py_tgid = 0;
	bool have_py = false;
	int64_t t0, t1;
	int err = 0;

	memset(out, 0, sizeof(*out));
	out->wall_ns = now_ns(CLOCK_REALTIME);
	t0 = now_ns(CLOCK_MONOTONIC);
	if (!npids)
		err = walk(c, 0, &buf, &len, &cap);
	for (size_t i = 0; !err && i < npids; i++)
		err = walk(c, pids[i], &buf, &len, &cap);
	t1 = now_ns(CLOCK_MONOTONIC);
	out->walk_ns = t1 - t0;
	if (err)
		goto out;
	nrec = len / sizeof(struct profd_thread_rec);
	out->t = calloc(nrec ? nrec : 1, sizeof(*out->t));
	m = calloc(1, sizeof(*m));
	rc = calloc(1, sizeof(*rc));
	if (c->gw && c->gw_sym != sym) {
		gapwalk__free(c->gw);
		c->gw = NULL;
	}
	if (!c->gw) {
		c->gw = gapwalk__new(sym);
		c->gw_sym = sym;
	}
	gw = c->gw;
	if (!out->t || !m || !rc || !gw) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nrec; i++) {
		struct thread_info *ti = &out->t[out->n++];
		struct profd_thread_rec *r = &ti->rec;

		memcpy(r, buf + i * sizeof(*r), sizeof(*r));
		if (r->nkstack > PROFD_THREADS_KSTACK)
			r->nkstack = PROFD_THREADS_KSTACK;
		ti->state = state_letter(r);
		ti->on_cpu = ti->state == 'R' && (r->flags & PROFD_THR_ON_CPU);
		if (ti->state == 'R' && !ti->on_cpu)
			ti->state = 'r'; /* runnable, waiting for a CPU */
		/* Running in user mode: registers of its last kernel entry. */
		ti->user_approx = (ti->state == 'R' || ti->state == 'r') && (int64_t)r->orig_ax == -1;
		if (ti->state != 'R' && ti->state != 'r' && (r->flags & PROFD_THR_SCHED_INFO) &&
		    r->last_arrival && r->now_ns > r->last_arrival)
			ti->in_state_ns = r->now_ns - r->last_arrival;
		if (r->now_ns < first)
			first = r->now_ns;
		if (r->now_ns > last)
			last = r->now_ns;
	}
	qsort(out->t, out->n, sizeof(*out->t), cmp_thread);
	python_gone(c);
	for (size_t i = 0; i < out->n; i++) {
		struct thread_info *ti = &out->t[i];

		if (!(ti->rec.flags & PROFD_THR_REGS))
			continue;
		if (ti->rec.tgid != py_tgid) {
			py_tgid = ti->rec.tgid;
			have_py = python_of(c, py_tgid, t1, &pycfg);
		}
		procmem_cache_reset(m, (pid_t)ti->rec.tgid);
		unwind_user(gw, rc, m, ti, have_py ? &pycfg : NULL);
		if (ti->rec.ip && ti->nu <= 1 && m->failures)
			out->unreadable++;
		read_wait(m, ti);
	}
	out->spread_ns = last > first ? last - first : 0;
	out->overflow = c->skel->bss->nr_overflow;
	out->unwind_ns = now_ns(CLOCK_MONOTONIC) - t1;
out:
	free(rc);
	free(m);
	free(buf);
	if (err) {
		threads_snapshot__free(out);
		return err;
	}
	return 0;
}

void threads_snapshot__free(struct threads_snapshot *s)
{
	free(s->t);
	s->t = NULL;
	s->n = 0;
}
