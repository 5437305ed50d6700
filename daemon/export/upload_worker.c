// SPDX-License-Identifier: Apache-2.0
/* upload_worker: one thread, one uploader, one FIFO of profiles. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "export/pyroscope.h"
#include "types/profiler.h"
#include "util/log.h"
#include "export/upload_worker.h"

struct job {
	struct job *next;
	const struct profiler_type *type;
	int pid;
	int64_t start_ns, end_ns;
	char *service, *host, *process;
	uint8_t *gz;
	size_t len;
};

struct upload_worker {
	struct uploader *u;             /* only the worker thread touches it */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* under lock */
	struct job *head, *tail;
	bool closing;
	struct upload_worker_stats st;
	bool full_logged;
};

static void job__free(struct job *j)
{
	if (!j)
		return;
	free(j->service);
	free(j->host);
	free(j->process);
	free(j->gz);
	free(j);
}

static void deadline_after(struct timespec *ts, uint64_t ns)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ns / 1000000000;
	ts->tv_nsec += ns % 1000000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* Called with the lock held, after the worker used the uploader. */
static void snapshot(struct upload_worker *w)
{
	const struct spool_stats *sp = uploader__spool_stats(w->u);

	w->st.up = *uploader__stats(w->u);
	if (sp)
		w->st.spool = *sp;
}

static void send_job(struct upload_worker *w, const struct job *j)
{
	struct pyroscope_meta m = {
		.type = j->type,
		.service_name = j->service,
		.host = j->host,
		.pid = j->pid,
		.process = j->process,
		.start_ns = j->start_ns,
		.end_ns = j->end_ns,
	};
	int ret = uploader__send(w->u, &m, j->gz, j->len);

	if (ret < 0) {
		pthread_mutex_lock(&w->lock);
		w->st.errors++;
		pthread_mutex_unlock(&w->lock);
		log_warn("cannot upload the %s profile of pid %d: %s", j->type->name, j->pid,
			 strerror(-ret));
	}
}

static void *worker_main(void *arg)
{
	struct upload_worker *w = arg;
	struct timespec deadline;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct job *j;

		if (!w->head) {
			if (w->closing)
				break;
			deadline_after(&deadline, UPLOAD_REPLAY_PERIOD_NS);
			if (pthread_cond_timedwait(&w->cond, &w->lock, &deadline) == ETIMEDOUT &&
			    !w->head && w->st.spool.items) {
				pthread_mutex_unlock(&w->lock);
				uploader__replay(w->u, 0);
				pthread_mutex_lock(&w->lock);
				snapshot(w);
			}
			continue;
		}
		j = w->head;
		w->head = j->next;
		if (!w->head)
			w->tail = NULL;
		w->st.queued--;
		w->st.queued_bytes -= j->len;
		pthread_mutex_unlock(&w->lock);
		send_job(w, j);
		job__free(j);
		pthread_mutex_lock(&w->lock);
		snapshot(w);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

struct upload_worker *upload_worker__start(const struct upload_opts *o, char *err, size_t errlen)
{
	struct upload_worker *w;
	int ret;

	w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->u = uploader__new(o, err, errlen);
	if (!w->u) {
		ret = errno;
		free(w);
		errno = ret;
		return NULL;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	snapshot(w);
	ret = pthread_create(&w->thread, NULL, worker_main, w);
	if (ret) {
		snprintf(err, errlen, "cannot start the upload thread: %s", strerror(ret));
		uploader__free(w->u);
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->lock);
		free(w);
		errno = ret;
		return NULL;
	}
	return w;
}

static char *dup_or_null(const char *s, bool *fail)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*fail = true;
	return d;
}

int upload_worker__enqueue_take(struct upload_worker *w, const struct pyroscope_meta *m,
				uint8_t *gz, size_t len)
{
	bool fail = false, log_full = false;
	struct job *j;
	int ret = 0;

	j = calloc(1, sizeof(*j));
	if (!j) {
		free(gz);
		pthread_mutex_lock(&w->lock);
		w->st.errors++;
		pthread_mutex_unlock(&w->lock);
		return -ENOMEM;
	}
	j->gz = gz;
	j->len = len;
	j->type = m->type;
	j->pid = m->pid;
	j->start_ns = m->start_ns;
	j->end_ns = m->end_ns;
	j->service = dup_or_null(m->service_name, &fail);
	j->host = dup_or_null(m->host, &fail);
	j->process = dup_or_null(m->process, &fail);

	pthread_mutex_lock(&w->lock);
	if (fail) {
		w->st.errors++;
		ret = -ENOMEM;
	} else if (w->st.queued >= UPLOAD_QUEUE_MAX_ITEMS ||
		   w->st.queued_bytes + len > UPLOAD_QUEUE_MAX_BYTES) {
		w->st.queue_dropped++;
		log_full = !w->full_logged;
		w->full_logged = true;
		ret = -ENOBUFS;
	} else {
		if (w->tail)
			w->tail->next = j;
		else
			w->head = j;
		w->tail = j;
		w->st.queued++;
		w->st.queued_bytes += len;
		w->full_logged = false;
		pthread_cond_signal(&w->cond);
		j = NULL;
	}
	pthread_mutex_unlock(&w->lock);
	if (log_full)
		log_warn("upload queue full (%d profiles or %llu MiB): dropping profiles until the "
			 "store catches up (counted in metrics)", UPLOAD_QUEUE_MAX_ITEMS,
			 UPLOAD_QUEUE_MAX_BYTES >> 20);
	job__free(j);
	return ret;
}

void upload_worker__stop(struct upload_worker *w, uint64_t timeout_ns)
{
	struct timespec deadline;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->closing = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	deadline_after(&deadline, timeout_ns);
	if (pthread_timedjoin_np(w->thread, NULL, &deadline)) {
		/* The store is slow or away: what is left goes to the spool. */
		log_info("profile store did not take every profile in time; spooling the rest");
		uploader__cancel(w->u);
		pthread_join(w->thread, NULL);
	}
	uploader__free(w->u);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

void upload_worker__stats(struct upload_worker *w, struct upload_worker_stats *st)
{
	pthread_mutex_lock(&w->lock);
	*st = w->st;
	pthread_mutex_unlock(&w->lock);
}
