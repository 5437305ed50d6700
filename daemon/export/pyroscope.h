/* SPDX-License-Identifier: Apache-2.0 */
/* pyroscope: what Grafana Pyroscope needs around a pprof profile: the series
 * labels (service_name, __name__, __delta__, host, pid, process_name) made
 * valid for its validator, the push API request (push.v1.PushRequest encoded
 * with protobuf-c) and the legacy /ingest query. No I/O; upload.c sends. */
#ifndef PROFD_PYROSCOPE_H
#define PROFD_PYROSCOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>


/* Pyroscope's default per-tenant limits (pkg/validation). */
#define PYRO_MAX_LABELS 30
#define PYRO_MAX_NAME_LEN 1024
#define PYRO_MAX_VALUE_LEN 2048

struct profiler_type;

#define PYRO_PUSH_PATH "/push.v1.PusherService/Push"
#define PYRO_PUSH_CONTENT_TYPE "application/proto"

struct pyro_label {
	const char *name;
	const char *value;
};

/* What one profile is: copied into the labels, never kept. */
struct pyroscope_meta {
	const struct profiler_type *type; /* its registry entry (pyroscope name) */
	const char *service_name;       /* NULL/"": process, else "unknown_service" */
	const char *host;               /* NULL/"": no host label */
	int pid;                        /* <= 0: no pid label */
	const char *process;            /* process name (comm, raw bytes); NULL: none */
	const struct pyro_label *extra; /* more series labels; built-ins win on a clash */
	size_t n_extra;
	int64_t start_ns, end_ns;       /* the interval (CLOCK_REALTIME), for /ingest */
};

/* Sanitized, deduplicated labels sorted by name (the server's order). */
struct pyro_labelset {
	size_t n;
	char *name[PYRO_MAX_LABELS];
	char *value[PYRO_MAX_LABELS];
};

/* The __name__ (profile family) of a type, from the registry: process_cpu,
 * memory (heap and allocs), mutex, ... NULL for no type. */
const char *pyroscope__profile_name(const struct profiler_type *type);

/* Make name a valid label name in place: [a-zA-Z_][a-zA-Z0-9_]*, at most
 * PYRO_MAX_NAME_LEN bytes (characters outside become '_', a leading digit gets
 * a '_' prefix when there is room). Returns false for "" (drop the label). */
bool pyroscope__sanitize_label_name(char *name, size_t size);

/* Build the series labels of m into ls. Values are made valid UTF-8 without
 * control characters and cut to PYRO_MAX_VALUE_LEN; labels with an empty name
 * or value are left out (the server treats empty as absent); extras beyond
 * PYRO_MAX_LABELS are dropped. Returns 0, -EINVAL (unknown type) or -ENOMEM. */
int pyroscope__labels(const struct pyroscope_meta *m, struct pyro_labelset *ls);
void pyroscope__labels_done(struct pyro_labelset *ls);

/* Encode a PushRequest with one series (m's labels) holding one RawSample:
 * the profile bytes (gzipped pprof) and a fresh random UUID, so a retried or
 * replayed body carries the same ID. *buf is malloc'ed, owned by the caller.
 * Returns 0, -EINVAL or -ENOMEM. */
int pyroscope__encode_push(const struct pyroscope_meta *m, const uint8_t *profile, size_t len,
			   uint8_t **buf, size_t *buf_len);

/* The path and query of a legacy ingest request:
 * "/ingest?name=<service>{host=..,pid=..,process_name=..}&from=S&until=S&format=pprof"
 * (URL-encoded; from/until in Unix seconds). Returns 0 or -ENAMETOOLONG. */
int pyroscope__ingest_path(const struct pyroscope_meta *m, char *buf, size_t size);

#endif
