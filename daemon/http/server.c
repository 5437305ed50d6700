// SPDX-License-Identifier: Apache-2.0
/* http: libmicrohttpd server with one thread per connection, so a 30 s CPU
 * profile does not hold up /metrics; the number of connections and of
 * profiles in progress are both bounded. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/server.h"
#include "types/profiler.h"
#include "util/log.h"
#include "util/parse.h"
#include "util/text.h"

#define PID_MAX_VALUE 4194304
#define CONNECTION_TIMEOUT_S 15         /* idle clients; not the profile's own duration */
#define PPROF_PREFIX "/debug/pprof/"

struct http_server {
	struct MHD_Daemon *d;
	struct http_callbacks cb;
	char *token;
	unsigned max_concurrent;
	atomic_uint in_flight;
	uint16_t port;
	atomic_ullong requests, profiles, busy, bad, unauthorized;
};



static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	/* Junk from clients lands here: debug only, so it cannot flood. */
	log_debug("http: %s", line);
}

static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned status, const char *ctype,
				void *buf, size_t len, enum MHD_ResponseMemoryMode mode,
				const char *hdr, const char *hdr_value)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, buf, mode);
	enum MHD_Result ret;

	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(buf);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (hdr)
		MHD_add_response_header(r, hdr, hdr_value);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

__attribute__((format(printf, 5, 6))) static enum MHD_Result
send_text(struct MHD_Connection *c, unsigned status, const char *hdr, const char *hdr_value,
	  const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return MHD_NO;
	return send_buf(c, status, "text/plain; charset=utf-8", msg, n, MHD_RESPMEM_MUST_FREE, hdr,
			hdr_value);
}

static enum MHD_Result bad(struct http_server *s, struct MHD_Connection *c, unsigned status,
			   const char *msg)
{
	atomic_fetch_add(&s->bad, 1);
	return send_text(c, status, NULL, NULL, "%s\n", msg);
}

/* Constant time in the length of the expected token. */
static bool token_ok(const struct http_server *s, const char *auth)
{
	size_t n = strlen(s->token), m;
	unsigned char diff = 0;

	if (!auth || strncmp(auth, "Bearer ", 7))
		return false;
	auth += 7;
	m = strlen(auth);
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)s->token[i] ^ (unsigned char)(i < m ? auth[i] : 0);
	return !diff && m == n;
}

struct arg_count {
	const char *key;
	int n;
};

static enum MHD_Result count_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				 const char *value)
{
	struct arg_count *a = cls;

	(void)kind, (void)value;
	if (key && !strcmp(key, a->key))
		a->n++;
	return MHD_YES;
}

/* An integer query argument: absent → *present false; given twice, empty or
 * malformed → error message. */
static const char *int_arg(struct MHD_Connection *c, const char *key, uint64_t min, uint64_t max,
			   uint64_t *out, bool *present)
{
	struct arg_count a = { key, 0 };
	const char *v = NULL;
	size_t vlen = 0;

	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, count_arg, &a);
	*present = a.n > 0;
	if (!a.n)
		return NULL;
	if (a.n > 1)
		return "given more than once";
	/* With its length: "1%00x" decodes to a C string "1" that would pass. */
	if (MHD_lookup_connection_value_n(c, MHD_GET_ARGUMENT_KIND, key, strlen(key), &v, &vlen) !=
		    MHD_YES || !v || !vlen)
		return "empty";
	if (strlen(v) != vlen)
		return "not a number";
	switch (parse_u64(v, min, max, out)) {
	case 0:
		return NULL;
	case -ERANGE:
		return "out of range";
	default:
		return "not a number";
	}
}

static enum MHD_Result serve_profile(struct http_server *s, struct MHD_Connection *c,
				     const struct profiler_type *t)
{
	struct http_profile_req req = { .type = t };
	struct http_reply reply = { .status = 500 };
	char msg[HTTP_MSG_LEN + 64], disp[64], retry[24];
	uint64_t pid = 0, secs = t->http.default_seconds;
	const char *why;
	bool given;

	why = int_arg(c, "pid", 1, PID_MAX_VALUE, &pid, &given);
	if (why) {
		snprintf(msg, sizeof(msg), "bad pid: %s (want ?pid=N, 1..%d)", why, PID_MAX_VALUE);
		return bad(s, c, MHD_HTTP_BAD_REQUEST, msg);
	}
	why = int_arg(c, "seconds", 0, HTTP_MAX_SECONDS, &secs, &given);
	if (why) {
		snprintf(msg, sizeof(msg), "bad seconds: %s (want ?seconds=S, 0..%d)", why,
			 HTTP_MAX_SECONDS);
		return bad(s, c, MHD_HTTP_BAD_REQUEST, msg);
	}
	/* A type with a default duration has no meaning without one. */
	if (given && !secs && t->http.default_seconds) {
		snprintf(msg, sizeof(msg), "bad seconds: a %s profile needs seconds >= 1", t->name);
		return bad(s, c, MHD_HTTP_BAD_REQUEST, msg);
	}
	req.pid = (int)pid;
	req.seconds = secs;
	/* A type that renders text (Go's goroutine?debug=1|2) takes ?debug=. */
	if (t->ops && t->ops->text) {
		uint64_t dbg = 0;

		why = int_arg(c, "debug", 0, 2, &dbg, &given);
		if (why) {
			snprintf(msg, sizeof(msg), "bad debug: %s (want ?debug=0, 1 or 2)", why);
			return bad(s, c, MHD_HTTP_BAD_REQUEST, msg);
		}
		req.debug = (int)dbg;
	}

	if (atomic_fetch_add(&s->in_flight, 1) >= s->max_concurrent) {
		atomic_fetch_sub(&s->in_flight, 1);
		atomic_fetch_add(&s->busy, 1);
		/* A client may come back once one of the running ones is done. */
		snprintf(retry, sizeof(retry), "%llu",
			 (unsigned long long)(secs ? secs : 1));
		return send_text(c, MHD_HTTP_TOO_MANY_REQUESTS, MHD_HTTP_HEADER_RETRY_AFTER, retry,
				 "too many profile requests at once (at most %u); retry later\n",
				 s->max_concurrent);
	}
	s->cb.profile(s->cb.ctx, &req, &reply);
	atomic_fetch_sub(&s->in_flight, 1);

	if (reply.status >= 200 && reply.status < 300) {
		atomic_fetch_add(&s->profiles, 1);
		if (req.debug)
			return send_buf(c, reply.status, "text/plain; charset=utf-8",
					reply.body ? reply.body : (void *)"", reply.body ? reply.len : 0,
					reply.body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT,
					NULL, NULL);
		snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"", t->http.path);
		return send_buf(c, reply.status, "application/octet-stream", reply.body ? reply.body : (void *)"",
				reply.body ? reply.len : 0,
				reply.body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT,
				"Content-Disposition", disp);
	}
	free(reply.body);
	if (reply.status < 400 || reply.status > 599)
		reply.status = 500;
	reply.message[sizeof(reply.message) - 1] = '\0';
	utf8_sanitize(msg, sizeof(msg), reply.message[0] ? reply.message : "profile failed");
	if (reply.status < 500)
		atomic_fetch_add(&s->bad, 1);
	return send_text(c, reply.status, NULL, NULL, "%s\n", msg);
}

/* HTML-escape src onto the end of *buf. */
static int append(char **buf, size_t *len, size_t *cap, const char *src, bool escape)
{
	for (; *src; src++) {
		const char *rep = NULL;
		char one[2] = { *src, 0 };
		size_t n;

		if (escape) {
			switch (*src) {
			case '<': rep = "&lt;"; break;
			case '>': rep = "&gt;"; break;
			case '&': rep = "&amp;"; break;
			case '"': rep = "&quot;"; break;
			case '\'': rep = "&#39;"; break;
			}
		}
		if (!rep)
			rep = one;
		n = strlen(rep);
		if (*len + n + 1 > *cap) {
			size_t ncap = (*cap ? *cap * 2 : 4096) + n;
			char *b = realloc(*buf, ncap);

			if (!b)
				return -ENOMEM;
			*buf = b;
			*cap = ncap;
		}
		memcpy(*buf + *len, rep, n);
		*len += n;
		(*buf)[*len] = '\0';
	}
	return 0;
}

static enum MHD_Result serve_index(struct http_server *s, struct MHD_Connection *c)
{
	struct http_proc *procs = NULL;
	size_t len = 0, cap = 0, n = 0;
	char *html = NULL, line[512], name[sizeof(procs->name) * 2];
	int err = 0;

	err = append(&html, &len, &cap,
		     "<!DOCTYPE html>\n<html><head><title>profd /debug/pprof/</title></head><body>\n"
		     "<h1>profd /debug/pprof/</h1>\n<p>Profiles of any process: add <code>?pid=N</code> "
		     "(and <code>&amp;seconds=S</code>), e.g. <code>go tool pprof "
		     "http://HOST/debug/pprof/profile?pid=1234&amp;seconds=30</code></p>\n<table>\n",
		     false);
	for (size_t i = 0; profiler_type_at(i) && !err; i++) {
		const struct profiler_type *t = profiler_type_at(i);

		snprintf(line, sizeof(line), "<tr><td><a href=\"%s\">%s</a></td><td>%s</td></tr>\n",
			 t->http.path, t->http.path, t->http.what);
		err = append(&html, &len, &cap, line, false);
	}
	err = err ?: append(&html, &len, &cap, "</table>\n<h2>Processes</h2>\n<table>\n"
					       "<tr><th>pid</th><th>name</th><th></th></tr>\n", false);
	if (!err && s->cb.processes) {
		procs = calloc(HTTP_MAX_PROCS, sizeof(*procs));
		if (!procs)
			err = -ENOMEM;
		else
			n = s->cb.processes(s->cb.ctx, procs, HTTP_MAX_PROCS);
	}
	for (size_t i = 0; i < n && i < HTTP_MAX_PROCS && !err; i++) {
		procs[i].name[sizeof(procs[i].name) - 1] = '\0';
		utf8_sanitize(name, sizeof(name), procs[i].name);
		snprintf(line, sizeof(line), "<tr><td>%d</td><td>", procs[i].pid);
		err = append(&html, &len, &cap, line, false);
		err = err ?: append(&html, &len, &cap, name, true);
		snprintf(line, sizeof(line),
			 "</td><td><a href=\"profile?pid=%d&amp;seconds=10\">cpu</a> "
			 "<a href=\"heap?pid=%d\">heap</a></td></tr>\n", procs[i].pid, procs[i].pid);
		err = err ?: append(&html, &len, &cap, line, false);
	}
	err = err ?: append(&html, &len, &cap, "</table>\n</body></html>\n", false);
	free(procs);
	if (err) {
		free(html);
		return send_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL, "out of memory\n");
	}
	return send_buf(c, MHD_HTTP_OK, "text/html; charset=utf-8", html, len, MHD_RESPMEM_MUST_FREE,
			NULL, NULL);
}

static enum MHD_Result serve_metrics(struct http_server *s, struct MHD_Connection *c)
{
	char *text = NULL;
	size_t len = 0;
	int err;

	if (!s->cb.metrics)
		return bad(s, c, MHD_HTTP_NOT_FOUND, "no metrics");
	err = s->cb.metrics(s->cb.ctx, &text, &len);
	if (err) {
		free(text);
		return send_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL, "metrics: %s\n",
				 strerror(-err));
	}
	return send_buf(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text, len,
			MHD_RESPMEM_MUST_FREE, NULL, NULL);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *upload_data,
			       size_t *upload_data_size, void **con_cls)
{
	static int first_call_marker;
	struct http_server *s = cls;

	(void)version, (void)upload_data;
	/* First call: headers only. Answer once the (ignored) body is in. */
	if (!*con_cls) {
		*con_cls = &first_call_marker;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	atomic_fetch_add(&s->requests, 1);
	if (s->token && !token_ok(s, MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							       MHD_HTTP_HEADER_AUTHORIZATION))) {
		atomic_fetch_add(&s->unauthorized, 1);
		return send_text(c, MHD_HTTP_UNAUTHORIZED, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
				 "Bearer realm=\"profd\"", "missing or wrong bearer token\n");
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		atomic_fetch_add(&s->bad, 1);
		return send_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, MHD_HTTP_HEADER_ALLOW, "GET, HEAD",
				 "method not allowed\n");
	}
	if (!strcmp(url, "/metrics"))
		return serve_metrics(s, c);
	if (!strcmp(url, PPROF_PREFIX) || !strcmp(url, "/debug/pprof"))
		return serve_index(s, c);
	if (!strncmp(url, PPROF_PREFIX, strlen(PPROF_PREFIX))) {
		const char *name = url + strlen(PPROF_PREFIX);

		const struct profiler_type *t = profiler_type_http(name);

		if (t)
			return serve_profile(s, c, t);
	}
	return bad(s, c, MHD_HTTP_NOT_FOUND, "not found; see /debug/pprof/");
}

/* "host:port" / "[v6]:port" → address. */
static int resolve(const char *listen, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[256], *port;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | AI_PASSIVE }, *res = NULL;
	size_t n = strlen(listen);
	int rc;

	if (n >= sizeof(host))
		return -EINVAL;
	memcpy(host, listen, n + 1);
	port = strrchr(host, ':');
	if (!port || port == host)
		return -EINVAL;
	*port++ = '\0';
	if (host[0] == '[') {
		size_t h = strlen(host);

		if (h < 3 || host[h - 1] != ']')
			return -EINVAL;
		host[h - 1] = '\0';
		memmove(host, host + 1, h - 1);
		hints.ai_flags |= AI_NUMERICHOST;
	}
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc || !res)
		return -EADDRNOTAVAIL;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

struct http_server *http_server__start(const char *listen, const char *token,
				       unsigned max_concurrent, const struct http_callbacks *cb,
				       char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	struct http_server *s;
	unsigned flags;
	socklen_t sslen;
	int ret;

	if (!listen || !*listen || !cb || !cb->profile || !max_concurrent) {
		snprintf(err, errlen, "http: listen address, profile callback and max_concurrent needed");
		errno = EINVAL;
		return NULL;
	}
	ret = resolve(listen, &ss, &sslen);
	if (ret) {
		snprintf(err, errlen, "http: cannot use listen address '%s'", listen);
		errno = -ret;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->cb = *cb;
	s->max_concurrent = max_concurrent;
	if (token && *token) {
		s->token = strdup(token);
		if (!s->token) {
			free(s);
			snprintf(err, errlen, "out of memory");
			errno = ENOMEM;
			return NULL;
		}
	}
	flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	errno = 0;
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, handler, s,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				MHD_OPTION_END);
	if (!s->d) {
		ret = errno ? errno : EADDRINUSE;
		snprintf(err, errlen, "http: cannot listen on %s: %s", listen, strerror(ret));
		free(s->token);
		free(s);
		errno = ret;
		return NULL;
	}
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : 0;
	return s;
}

void http_server__stop(struct http_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);
	if (s->token)
		memset(s->token, 0, strlen(s->token));
	free(s->token);
	free(s);
}

uint16_t http_server__port(const struct http_server *s)
{
	return s->port;
}

void http_server__stats(const struct http_server *s, struct http_stats *st)
{
	st->requests = atomic_load(&s->requests);
	st->profiles = atomic_load(&s->profiles);
	st->busy = atomic_load(&s->busy);
	st->bad = atomic_load(&s->bad);
	st->unauthorized = atomic_load(&s->unauthorized);
}
