/* SPDX-License-Identifier: Apache-2.0 */
/* upload_worker: the uploader (export/upload.h) on its own thread behind a
 * bounded in-memory queue, so a slow or unreachable profile store never
 * holds up collection. The agent enqueues finished profiles; the worker
 * sends them in order, and replays the spool when it has nothing else to do.
 * Every function here may be called from any thread. */
#ifndef PROFD_UPLOAD_WORKER_H
#define PROFD_UPLOAD_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "export/spool.h"
#include "export/upload.h"

struct profd_config;
struct pyroscope_meta;

/* What the queue may hold before new profiles are dropped (counted): at one
 * profile per process per interval, a store that answers slower than that
 * is not kept up with by buffering more. */
#define UPLOAD_QUEUE_MAX_ITEMS 20000
#define UPLOAD_QUEUE_MAX_BYTES (128ULL << 20)
/* How often an idle worker tries the spool again. */
#define UPLOAD_REPLAY_PERIOD_NS (5ULL * 1000000000)

struct upload_worker_stats {
	struct upload_stats up;
	struct spool_stats spool;       /* all zero without a spool */
	uint64_t queued;                /* waiting in memory now */
	uint64_t queued_bytes;
	uint64_t queue_dropped;         /* refused: queue full */
	uint64_t errors;                /* could not be encoded (ENOMEM, EINVAL) */
};

struct upload_worker;

/* Create the uploader with options o (secrets are read and the spool
 * opened now) and start its thread. NULL with errno set and a message in
 * err. */
struct upload_worker *upload_worker__start(const struct upload_opts *o, char *err, size_t errlen);

/* Queue one gzipped profile described by m (copied). Takes gz (malloc'ed)
 * whatever happens. Returns 0, or -ENOBUFS when the queue is full or
 * -ENOMEM (both counted; the profile is dropped). */
int upload_worker__enqueue_take(struct upload_worker *w, const struct pyroscope_meta *m,
				uint8_t *gz, size_t len);

/* Finish: send what is queued for at most timeout_ns, then abort the
 * transfer in progress and put whatever is left in the spool (or drop it
 * without one); join the thread and free. NULL-safe. */
void upload_worker__stop(struct upload_worker *w, uint64_t timeout_ns);

void upload_worker__stats(struct upload_worker *w, struct upload_worker_stats *st);

#endif
