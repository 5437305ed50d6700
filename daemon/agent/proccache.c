// SPDX-License-Identifier: Apache-2.0
/* proccache: the agent's per-process identities, kept while their pidfds
 * say the processes live. See proccache.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/proccache.h"

void proccache__init(struct proccache *c)
{
	*c = (struct proccache){ .ready = true };
	/* At most the processes the agent profiles at once, twice over. */
	pidwatch__init(&c->watch, 8192);
}

static struct proc_ident **slot_of(struct proccache *c, pid_t pid)
{
	struct proc_ident **pp = &c->buckets[(uint32_t)pid % PROCCACHE_BUCKETS];

	while (*pp && (*pp)->pid != pid)
		pp = &(*pp)->next;
	return pp;
}

static void ident_drop(struct proccache *c, struct proc_ident **pp)
{
	struct proc_ident *e = *pp;

	*pp = e->next;
	pidwatch__remove(&c->watch, e->watch);
	free(e);
	c->n--;
}

void proccache__done(struct proccache *c)
{
	if (!c->ready)
		return;
	for (size_t i = 0; i < PROCCACHE_BUCKETS; i++)
		while (c->buckets[i])
			ident_drop(c, &c->buckets[i]);
	pidwatch__done(&c->watch);
	c->ready = false;
}

static void read_start(struct proccache *c, struct proc_ident *e)
{
	c->st.reads++;
	e->has_start = !procinfo__start_boottime(e->pid, &e->start_boot_ns);
}

static void read_comm(struct proccache *c, struct proc_ident *e)
{
	c->st.reads++;
	e->has_comm = !procinfo__comm(e->pid, e->comm, sizeof(e->comm)) && e->comm[0];
	if (!e->has_comm)
		e->comm[0] = '\0';
}

static void read_unit(struct proccache *c, struct proc_ident *e, int64_t now_mono)
{
	c->st.reads++;
	e->has_unit = !procinfo__unit(e->pid, e->unit, sizeof(e->unit));
	if (!e->has_unit)
		e->unit[0] = '\0';
	e->unit_read_ns = now_mono;
}

/* Whether the sample's name (16 bytes, maybe without a NUL) is e's. */
static bool same_name(const struct proc_ident *e, const char *comm16)
{
	size_t n = strnlen(comm16, PROCINFO_COMM_LEN);

	return e->has_comm && strlen(e->comm) == n && !memcmp(e->comm, comm16, n);
}

const struct proc_ident *proccache__get(struct proccache *c, pid_t pid, const char *comm16,
					int64_t now_mono)
{
	struct proc_ident **pp, *e;

	if (!c->ready)
		proccache__init(c);
	c->st.lookups++;
	pp = slot_of(c, pid);
	e = *pp;
	/* Trusted only while its pidfd says the process it read lives: asked
	 * now, not at the last tick, so that a pid reused since is new. */
	if (e && (e->exited || e->watch < 0 || pidwatch__exited(&c->watch, e->watch))) {
		c->st.forgotten += e->exited || e->watch >= 0;
		ident_drop(c, pp);
		e = NULL;
	}
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e)
			return NULL;
		e->pid = pid;
		/* The pidfd before the reads: if pid is another process's by
		 * then, the pidfd tells at the next lookup. */
		e->watch = pidwatch__add(&c->watch, pid, e);
		read_start(c, e);
		read_comm(c, e);
		read_unit(c, e, now_mono);
		e->next = c->buckets[(uint32_t)pid % PROCCACHE_BUCKETS];
		c->buckets[(uint32_t)pid % PROCCACHE_BUCKETS] = e;
		c->n++;
	} else {
		bool renamed = !comm16 || !same_name(e, comm16);

		if (renamed) {
			/* An exec or a rename: the name now, and the unit it
			 * may have changed with (a new service's name). */
			c->st.renames += comm16 != NULL;
			read_comm(c, e);
		}
		if (renamed || now_mono - e->unit_read_ns >= PROCCACHE_UNIT_REFRESH_NS)
			read_unit(c, e, now_mono);
		if (!e->has_start)
			read_start(c, e);
	}
	e->used = c->sweeps;
	return e;
}

/* Told once: its pidfd goes now (else every later check would tell it
 * again until the sweep). */
static void mark_exited(void *ctx, void *owner)
{
	struct proccache *c = ctx;
	struct proc_ident *e = owner;

	e->exited = true;
	pidwatch__remove(&c->watch, e->watch);
	e->watch = -1;
}

int proccache__poll(struct proccache *c)
{
	int n;

	if (!c->ready)
		return 0;
	n = pidwatch__poll(&c->watch, mark_exited, c);
	return n < 0 ? n : 0;
}

int proccache__alive(const struct proccache *c, pid_t pid)
{
	const struct proc_ident *e;

	if (!c->ready)
		return -1;
	e = c->buckets[(uint32_t)pid % PROCCACHE_BUCKETS];
	while (e && e->pid != pid)
		e = e->next;
	if (!e)
		return -1;
	if (e->exited)
		return 0;
	return e->watch < 0 ? -1 : 1;
}

void proccache__sweep(struct proccache *c)
{
	if (!c->ready)
		return;
	for (size_t i = 0; i < PROCCACHE_BUCKETS; i++) {
		struct proc_ident **pp = &c->buckets[i];

		while (*pp) {
			struct proc_ident *e = *pp;

			if (e->exited || e->watch < 0 || c->sweeps - e->used >= PROCCACHE_KEEP_SWEEPS) {
				c->st.forgotten += e->exited || e->watch >= 0;
				ident_drop(c, pp);
				continue;
			}
			pp = &e->next;
		}
	}
	c->sweeps++;
}
