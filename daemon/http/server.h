/* SPDX-License-Identifier: Apache-2.0 */
/* http: the agent's HTTP endpoint (libmicrohttpd): net/http/pprof-style
 * /debug/pprof/<type's http path>?pid=N&seconds=S (profile, heap, allocs, ...:
 * the registry's types, types/profiler.h; ?debug=1|2 for the text forms of
 * a type that has them),
 * the /debug/pprof/ index, and /metrics. It parses and checks requests; the
 * agent answers them through callbacks. Loopback by default; each request is
 * authorized by the local user who made it (http/peer.h): root and the
 * allowed group see everything, other users only the processes they could
 * ptrace. A bearer token (required to listen beyond loopback) replaces that
 * check. A bound on profile requests served at once. */
#ifndef PROFD_HTTP_SERVER_H
#define PROFD_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_SECONDS 300            /* longest ?seconds= accepted */
#define HTTP_MAX_CONNECTIONS 64         /* open connections, whatever they do */
#define HTTP_MAX_CONNECTIONS_PER_USER 8 /* of which one local user other than root
					 * (or a remote client) may hold */
#define HTTP_RESERVED_CONNECTIONS 8     /* of which only root and allow_group may take
					 * the last ones: /metrics and the index
					 * answer whatever others hold */
#define HTTP_REQUEST_TIMEOUT_S 10       /* to send a whole request (headers and
					 * body) from connecting or from the last
					 * answer on a kept-alive connection */
#define HTTP_MAX_PROCS 4096             /* processes listed on the index page */
#define HTTP_MSG_LEN 256

struct profiler_type;

struct http_profile_req {
	const struct profiler_type *type; /* from the registry, by its HTTP path */
	int pid;                /* 0: no ?pid= given (the callback decides) */
	uint64_t seconds;       /* 0: a snapshot or the type's short default */
	int client_fd;          /* the connection's socket: a callback that
				 * sees it hang up (POLLRDHUP) stops early */
	int debug;              /* ?debug=1|2, types with a text op: the answer is
				 * that text form (text/plain); 0: pprof */
};

/* What a callback answers. A 2xx takes body (malloc'ed; the server frees it);
 * anything else sends message as text/plain. */
struct http_reply {
	int status;             /* 200; 404 for an unknown pid, 400, 503, ... */
	uint8_t *body;
	size_t len;
	char message[HTTP_MSG_LEN];
};

struct http_proc {
	int pid;
	bool kernel;            /* a kernel thread: nothing but cpu to offer */
	char name[64];          /* raw comm; escaped by the server */
};

struct http_callbacks {
	/* Collect a profile for req (may block for req->seconds; runs on the
	 * connection's own thread, several at once up to max_concurrent). */
	void (*profile)(void *ctx, const struct http_profile_req *req, struct http_reply *reply);
	/* Up to max processes for the index page; returns how many. May be NULL. */
	size_t (*processes)(void *ctx, struct http_proc *out, size_t max);
	/* Prometheus text format, malloc'ed into *text. Returns 0 or -errno. */
	int (*metrics)(void *ctx, char **text, size_t *len);
	void *ctx;
};

struct http_stats {
	uint64_t requests;
	uint64_t profiles;      /* profile requests answered 200 */
	uint64_t busy;          /* refused with 429: too many at once */
	uint64_t bad;           /* 400, 404, 405 */
	uint64_t unauthorized;  /* 401 */
	uint64_t forbidden;     /* 403: the user may not see that */
	uint64_t cut;           /* connections closed: too slow to send a request,
				 * or more than a user's share */
};

struct http_server;

struct http_options {
	const char *listen;     /* "host:port" or "[v6addr]:port" (port 0: any free port) */
	const char *token;      /* NULL/"": none (then listen must be a loopback
				 * address), else the bearer token requests must
				 * carry (the caller reads it with secret__read()) */
	const char *allow_group; /* NULL/"": none; members see everything, as root does */
	unsigned max_concurrent; /* >= 1 */
};

/* Returns NULL with errno set and a message in err. */
struct http_server *http_server__start(const struct http_options *o,
				       const struct http_callbacks *cb, char *err, size_t errlen);
/* Whether a listen address is a loopback one (127/8, localhost, [::1]). */
bool http_listen_is_loopback(const char *listen);
/* Stop listening, wait for requests in progress, free. NULL-safe. */
void http_server__stop(struct http_server *s);
uint16_t http_server__port(const struct http_server *s);
/* A snapshot of the counters. */
void http_server__stats(const struct http_server *s, struct http_stats *st);

#endif
