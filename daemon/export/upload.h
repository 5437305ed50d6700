/* SPDX-License-Identifier: Apache-2.0 */
/* upload: sends profiles to a profile store with libcurl: Pyroscope push
 * (Connect, application/proto), Pyroscope /ingest?format=pprof, or a plain
 * POST of the .pb.gz. Retries with exponential backoff and jitter; what the
 * store cannot take now (no connection, timeout, 5xx, 408, 429) goes to the
 * spool and is replayed, oldest first, when it answers again; a 4xx is the
 * store's final word: logged with its message, counted, dropped.
 *
 * An uploader blocks while it sends (up to timeout × (retries+1) plus the
 * backoff) and is not thread-safe: give it its own thread. Only
 * uploader__cancel() may be called from another thread. */
#ifndef PROFD_UPLOAD_H
#define PROFD_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>


struct pyroscope_meta;
struct spool_stats;

enum upload_mode {
	UPLOAD_MODE_PUSH = 0,   /* Pyroscope POST /push.v1.PusherService/Push */
	UPLOAD_MODE_INGEST,     /* Pyroscope POST /ingest?format=pprof */
	UPLOAD_MODE_PPROF,      /* POST the .pb.gz to url as is */
};

struct upload_opts {
	const char *url;                /* base URL of the store, http(s)://... */
	enum upload_mode mode;
	const char *tenant_id;          /* NULL/"": no X-Scope-OrgID */
	const char *bearer_token_file;  /* NULL/"": none */
	const char *basic_auth_user;    /* with basic_auth_password_file */
	const char *basic_auth_password_file;
	uint64_t timeout_ns;            /* per request, connection included */
	unsigned retries;               /* attempts after the first */
	uint64_t backoff_initial_ns;
	uint64_t backoff_max_ns;
	const char *spool_dir;          /* NULL/"": no spool, undeliverable = dropped */
	uint64_t spool_max_bytes;
	const char *tls_ca_file;        /* NULL/"": system CAs */
	bool tls_insecure_skip_verify;
};

enum upload_result {
	UPLOAD_DELIVERED = 0,   /* the store answered 2xx */
	UPLOAD_SPOOLED,         /* store unavailable: kept for replay */
	UPLOAD_REJECTED,        /* the store answered 4xx (not 408/429): dropped */
	UPLOAD_DROPPED,         /* store unavailable and no spool, or no room in it */
};

struct upload_stats {
	uint64_t delivered;     /* profiles the store accepted, replayed ones included */
	uint64_t delivered_bytes;
	uint64_t replayed;      /* of which came from the spool */
	uint64_t attempts;      /* HTTP requests started */
	uint64_t failures;      /* attempts that failed in a way worth retrying */
	uint64_t rejected;      /* profiles dropped after a 4xx */
	uint64_t spooled;       /* profiles put in the spool */
	uint64_t dropped;       /* profiles lost: unavailable store, no spool room */
	long last_status;       /* HTTP status of the last answer; 0: none */
};

struct uploader;

/* Check the options, read the secret files (refusing files others can read),
 * open the spool. Returns NULL with errno set and a message in err. */
struct uploader *uploader__new(const struct upload_opts *o, char *err, size_t errlen);
void uploader__free(struct uploader *u);

/* Send one gzipped pprof profile described by m. While the spool holds older
 * profiles they go first (one attempt each); if the store still fails, this
 * one joins the spool behind them, so order is kept and a down store costs
 * one attempt, not a backoff series. Returns an enum upload_result, or
 * -errno (ENOMEM, EINVAL from encoding). */
int uploader__send(struct uploader *u, const struct pyroscope_meta *m, const uint8_t *gz,
		   size_t len);

/* Deliver spooled profiles, oldest first, at most max (0: all), one attempt
 * each; stop at the first that fails in a retryable way. Call it now and
 * then (each interval) so the spool drains without new profiles. Returns how
 * many were delivered. */
int uploader__replay(struct uploader *u, unsigned max);

/* From any thread or a signal handler: abort the transfer in progress and any
 * backoff wait; from then on profiles go straight to the spool. */
void uploader__cancel(struct uploader *u);

const struct upload_stats *uploader__stats(const struct uploader *u);
/* NULL without a spool. */
const struct spool_stats *uploader__spool_stats(const struct uploader *u);

#endif
