// SPDX-License-Identifier: Apache-2.0
/* http: libmicrohttpd server with one thread per connection, so a 30 s CPU
 * profile does not hold up /metrics; the number of connections and of
 * profiles in progress are both bounded. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/peer.h"
#include "http/server.h"
#include "types/profiler.h"
#include "util/log.h"
#include "util/parse.h"
#include "util/text.h"

#define PID_MAX_VALUE 4194304
#define CONNECTION_TIMEOUT_S 15         /* idle clients; not the profile's own duration */
#define WATCH_MS 200                    /* how late after its deadline a request is cut */

/* An open connection, from accept to close, as the watchdog sees it. */
struct conn {
	bool used;
	bool answering;         /* a whole request is in: no deadline */
	bool cut;               /* shut down already */
	bool privileged;        /* root or allow_group (counted apart) */
	int fd;                 /* our dup of the socket: shutdown() ends it */
	uid_t uid;              /* (uid_t)-1: not a loopback client */
	int64_t since;          /* CLOCK_MONOTONIC ns: connected or last answered */
};
#define PPROF_PREFIX "/debug/pprof/"

struct http_server {
	struct MHD_Daemon *d;
	struct http_callbacks cb;
	char *token;
	char *group;            /* [http] allow_group, or NULL */
	gid_t gid;
	unsigned max_concurrent;
	atomic_uint in_flight;
	uint16_t port;
	atomic_ullong requests, profiles, busy, bad, unauthorized, forbidden, cut;
	/* Connections and the watchdog cutting slow ones. */
	pthread_mutex_t lock;
	struct conn conns[HTTP_MAX_CONNECTIONS];
	pthread_t watchdog;
	bool watching, stop;
	pthread_cond_t wake;
};

/* Who made the request and what they may see. */
struct access {
	bool all;               /* root, the allowed group, or the bearer token */
	uid_t uid;              /* otherwise: the processes this user could ptrace */
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
	/* go tool pprof prints a text/plain answer's body (the one-line reason
	 * of a 4xx or 5xx) only when this header is present, as Go's own
	 * net/http/pprof sets it. */
	if (status >= 400)
		MHD_add_response_header(r, "X-Go-Pprof", "1");
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

__attribute__((format(printf, 3, 4))) static enum MHD_Result
forbid(struct http_server *s, struct MHD_Connection *c, const char *fmt, ...)
{
	char msg[HTTP_MSG_LEN];
	va_list ap;

	atomic_fetch_add(&s->forbidden, 1);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return send_text(c, MHD_HTTP_FORBIDDEN, NULL, NULL, "%s\n", msg);
}

/* Who is privileged, for the 403 messages. */
static const char *privileged(const struct http_server *s, char *buf, size_t len)
{
	if (s->group)
		snprintf(buf, len, "root or members of group '%s'", s->group);
	else
		snprintf(buf, len, "root ([http] allow_group adds a group)");
	return buf;
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
				     const struct profiler_type *t, const struct access *acc)
{
	char who[128];
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c,
								     MHD_CONNECTION_INFO_CONNECTION_FD);
	struct http_profile_req req = { .type = t, .client_fd = ci ? ci->connect_fd : -1 };
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
	if (!acc->all) {
		if (!pid && t->host_wide)
			return forbid(s, c, "a host-wide %s profile needs %s; add ?pid=N for one of "
				      "your own processes", t->name, privileged(s, who, sizeof(who)));
		if (pid && !peer__may_read(acc->uid, (pid_t)pid))
			return forbid(s, c, "uid %u may not profile pid %llu: only processes it could "
				      "ptrace (all uids %u, dumpable); others need %s",
				      (unsigned)acc->uid, (unsigned long long)pid, (unsigned)acc->uid,
				      privileged(s, who, sizeof(who)));
	}
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

static enum MHD_Result serve_index(struct http_server *s, struct MHD_Connection *c,
				   const struct access *acc)
{
	struct http_proc *procs = NULL;
	size_t len = 0, cap = 0, n = 0;
	char *html = NULL, line[512], name[sizeof(procs->name) * 2];
	int err = 0;

	err = append(&html, &len, &cap,
		     "<!DOCTYPE html>\n<html><head><title>profd /debug/pprof/</title></head><body>\n"
		     "<h1>profd /debug/pprof/</h1>\n<p>Profiles of any process: add <code>?pid=N</code> "
		     "(and <code>&amp;seconds=S</code>), e.g. <code>go tool pprof "
		     "http://HOST/debug/pprof/profile?pid=1234&amp;seconds=30</code></p>\n"
		     "<p>Every profile is collected for <code>seconds</code> from the request on: "
		     "heap and allocs attach an allocator probe to the process and answer what it "
		     "saw in that time (default 10 s), not the process's whole heap; for a process "
		     "profd heap-profiles continuously ([heap] processes) they answer its current "
		     "state at once, as Go's do.</p>\n"
		     "<p>You see the processes you may profile: your own (same uid, dumpable) or, "
		     "for root and the allowed group, all.</p>\n<table>\n",
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
		/* Only what the user could profile. */
		if (!acc->all && !peer__may_read(acc->uid, procs[i].pid))
			continue;
		procs[i].name[sizeof(procs[i].name) - 1] = '\0';
		utf8_sanitize(name, sizeof(name), procs[i].name);
		snprintf(line, sizeof(line), "<tr><td>%d</td><td>", procs[i].pid);
		err = append(&html, &len, &cap, line, false);
		err = err ?: append(&html, &len, &cap, name, true);
		if (procs[i].kernel)
			snprintf(line, sizeof(line),
				 "</td><td><a href=\"profile?pid=%d&amp;seconds=10\">cpu</a></td></tr>\n",
				 procs[i].pid);
		else
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

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void cut(struct http_server *s, struct conn *k)
{
	if (k->cut)
		return;
	k->cut = true;
	shutdown(k->fd, SHUT_RDWR);     /* the connection's thread sees EOF */
	atomic_fetch_add(&s->cut, 1);
}

/* A connection opens: who is it, may they have one more? Or it closes. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct http_server *s = cls;
	struct conn *k = *socket_context;
	const union MHD_ConnectionInfo *ci;
	unsigned mine = 0, open = 0;
	bool loopback = false;
	uid_t uid = (uid_t)-1;
	int fd;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (!k)
			return;
		pthread_mutex_lock(&s->lock);
		close(k->fd);
		k->used = false;
		pthread_mutex_unlock(&s->lock);
		*socket_context = NULL;
		return;
	}
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci)
		return;
	if (!s->token && peer__uid(ci->connect_fd, &loopback, &uid))
		uid = (uid_t)-1;
	fd = fcntl(ci->connect_fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		shutdown(ci->connect_fd, SHUT_RDWR);
		return;
	}
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < HTTP_MAX_CONNECTIONS; i++) {
		struct conn *o = &s->conns[i];

		if (!o->used) {
			if (!k)
				k = o;
			continue;
		}
		open++;
		mine += o->uid == uid && !o->privileged;
	}
	if (!k) {               /* MHD's own limit is the same: cannot happen */
		pthread_mutex_unlock(&s->lock);
		shutdown(fd, SHUT_RDWR);
		close(fd);
		return;
	}
	*k = (struct conn){ .used = true, .fd = fd, .uid = uid, .since = mono_ns() };
	k->privileged = uid == 0 || (uid != (uid_t)-1 && s->group && peer__in_group(uid, s->gid));
	*socket_context = k;
	pthread_cond_signal(&s->wake); /* a request deadline to watch */
	/* One user may not take everything; nobody but root and the group the
	 * last few: /metrics and the index stay reachable. */
	if (!k->privileged && (mine >= HTTP_MAX_CONNECTIONS_PER_USER ||
			       open >= HTTP_MAX_CONNECTIONS - HTTP_RESERVED_CONNECTIONS))
		cut(s, k);
	pthread_mutex_unlock(&s->lock);
}

static void set_answering(struct http_server *s, struct MHD_Connection *c, bool answering)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c,
								     MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn *k = ci ? ci->socket_context : NULL;

	if (!k)
		return;
	pthread_mutex_lock(&s->lock);
	k->answering = answering;
	k->since = mono_ns();
	if (!answering)
		pthread_cond_signal(&s->wake); /* its next request has a deadline */
	pthread_mutex_unlock(&s->lock);
}

/* A request answered (or abandoned): the next one on this connection must
 * come whole within the deadline too. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)con_cls, (void)toe;
	set_answering(cls, c, false);
}

/* Cuts connections that took longer than HTTP_REQUEST_TIMEOUT_S to send a
 * request: a client trickling header lines (slowloris) or a body cannot
 * hold a connection, as MHD's idle timeout alone would let it. */
static void *watchdog(void *arg)
{
	struct http_server *s = arg;
	const int64_t limit = (int64_t)HTTP_REQUEST_TIMEOUT_S * 1000000000;

	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		int64_t now = mono_ns(), next = INT64_MAX;
		struct timespec ts;

		for (size_t i = 0; i < HTTP_MAX_CONNECTIONS; i++) {
			struct conn *k = &s->conns[i];

			if (!k->used || k->answering)
				continue;
			if (now - k->since > limit)
				cut(s, k);
			else if (k->since + limit < next)
				next = k->since + limit;
		}
		/* Asleep until the first deadline (a little after it, so that it
		 * has passed), or until a connection opens: an idle agent's
		 * watchdog costs nothing. */
		if (next == INT64_MAX) {
			pthread_cond_wait(&s->wake, &s->lock);
			continue;
		}
		next += WATCH_MS * 1000000L - now;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += next / 1000000000;
		ts.tv_nsec += next % 1000000000;
		ts.tv_sec += ts.tv_nsec / 1000000000;
		ts.tv_nsec %= 1000000000;
		pthread_cond_timedwait(&s->wake, &s->lock, &ts);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* Everything with the bearer token (checked before); else the local user
 * behind a loopback connection. NULL, or why the request is refused. */
static const char *authorize(struct http_server *s, struct MHD_Connection *c, struct access *acc)
{
	const union MHD_ConnectionInfo *ci;
	bool loopback = false;

	*acc = (struct access){ .all = s->token != NULL };
	if (acc->all)
		return NULL;
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci || peer__uid(ci->connect_fd, &loopback, &acc->uid))
		return loopback ? "cannot tell which local user made this request"
				: "only local users may connect without [http] token_file";
	acc->all = acc->uid == 0 || (s->group && peer__in_group(acc->uid, s->gid));
	return NULL;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *upload_data,
			       size_t *upload_data_size, void **con_cls)
{
	static int first_call_marker;
	struct http_server *s = cls;
	struct access acc;
	const char *why;
	char who[128];

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
	set_answering(s, c, true);
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
	why = authorize(s, c, &acc);
	if (why)
		return forbid(s, c, "%s", why);
	if (!strcmp(url, "/metrics")) {
		if (!acc.all)
			return forbid(s, c, "/metrics needs %s", privileged(s, who, sizeof(who)));
		return serve_metrics(s, c);
	}
	if (!strcmp(url, PPROF_PREFIX) || !strcmp(url, "/debug/pprof"))
		return serve_index(s, c, &acc);
	if (!strncmp(url, PPROF_PREFIX, strlen(PPROF_PREFIX))) {
		const char *name = url + strlen(PPROF_PREFIX);

		const struct profiler_type *t = profiler_type_http(name);

		if (t)
			return serve_profile(s, c, t, &acc);
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

bool http_listen_is_loopback(const char *listen)
{
	struct sockaddr_storage ss;
	socklen_t len;

	/* "localhost" may resolve to both; each must be loopback: the first is bound. */
	if (resolve(listen, &ss, &len))
		return false;
	if (ss.ss_family == AF_INET)
		return (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
	if (ss.ss_family == AF_INET6) {
		const struct in6_addr *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}

struct http_server *http_server__start(const struct http_options *o,
				       const struct http_callbacks *cb, char *err, size_t errlen)
{
	const char *listen = o ? o->listen : NULL, *token = o ? o->token : NULL;
	unsigned max_concurrent = o ? o->max_concurrent : 0;
	struct group gr, *grp = NULL;
	char grbuf[4096];
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
	if ((!token || !*token) && !http_listen_is_loopback(listen)) {
		snprintf(err, errlen, "http: listen = %s is not a loopback address: set [http] "
			 "token_file (who connects from another host cannot be told apart)", listen);
		errno = EPERM;
		return NULL;
	}
	if (o->allow_group && *o->allow_group) {
		ret = getgrnam_r(o->allow_group, &gr, grbuf, sizeof(grbuf), &grp);
		if (ret || !grp) {
			snprintf(err, errlen, "http: allow_group '%s': no such group", o->allow_group);
			errno = ret ? ret : ENOENT;
			return NULL;
		}
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->cb = *cb;
	s->max_concurrent = max_concurrent;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	if (grp) {
		s->gid = grp->gr_gid;
		s->group = strdup(o->allow_group);
		if (!s->group) {
			free(s);
			snprintf(err, errlen, "out of memory");
			errno = ENOMEM;
			return NULL;
		}
	}
	if (token && *token) {
		s->token = strdup(token);
		if (!s->token) {
			free(s->group);
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
				MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				MHD_OPTION_END);
	if (!s->d) {
		ret = errno ? errno : EADDRINUSE;
		snprintf(err, errlen, "http: cannot listen on %s: %s", listen, strerror(ret));
		free(s->token);
		free(s->group);
		free(s);
		errno = ret;
		return NULL;
	}
	s->watching = !pthread_create(&s->watchdog, NULL, watchdog, s);
	if (!s->watching)
		log_warn("http: no watchdog thread: slow clients are cut only when idle %d s",
			 CONNECTION_TIMEOUT_S);
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : 0;
	return s;
}

void http_server__stop(struct http_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);
	if (s->watching) {
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		pthread_cond_signal(&s->wake);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->watchdog, NULL);
	}
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->wake);
	if (s->token)
		memset(s->token, 0, strlen(s->token));
	free(s->token);
	free(s->group);
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
	st->forbidden = atomic_load(&s->forbidden);
	st->cut = atomic_load(&s->cut);
}
