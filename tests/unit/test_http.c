// SPDX-License-Identifier: Apache-2.0
/* http: the server on 127.0.0.1 with fake callbacks, driven by libcurl and by
 * raw sockets sending junk: routes, parameter checks, defaults, 404 from the
 * callback, bearer token, the concurrency bound, and survival. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "http/server.h"
#include "types/profiler.h"

struct fake {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char type[32];
	int pid;
	uint64_t seconds;
	int calls;
	int slow_waiting;       /* slow requests inside the callback */
	bool release;
};

static void fake_profile(void *ctx, const struct http_profile_req *req, struct http_reply *reply)
{
	struct fake *f = ctx;

	pthread_mutex_lock(&f->lock);
	snprintf(f->type, sizeof(f->type), "%s", req->type->name);
	f->pid = req->pid;
	f->seconds = req->seconds;
	f->calls++;
	if (req->pid == 777) {  /* slow: holds a slot until released */
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 5;
		f->slow_waiting++;
		pthread_cond_broadcast(&f->cond);
		while (!f->release && !pthread_cond_timedwait(&f->cond, &f->lock, &ts))
			;
		f->slow_waiting--;
	}
	pthread_mutex_unlock(&f->lock);
	if (req->pid == 999) {
		reply->status = 404;
		snprintf(reply->message, sizeof(reply->message), "no process with pid %d", req->pid);
		return;
	}
	reply->status = 200;
	reply->body = malloc(64);
	if (reply->body)
		reply->len = snprintf((char *)reply->body, 64, "PROF %s %d %llu%s", req->type->name,
				      req->pid, (unsigned long long)req->seconds,
				      req->debug == 1 ? " debug=1" : req->debug == 2 ? " debug=2" : "");
}

static size_t fake_procs(void *ctx, struct http_proc *out, size_t max)
{
	(void)ctx;
	if (max < 2)
		return 0;
	out[0].pid = 1;
	snprintf(out[0].name, sizeof(out[0].name), "systemd");
	out[1].pid = 42;
	snprintf(out[1].name, sizeof(out[1].name), "<script>\xff");
	return 2;
}

static int fake_metrics(void *ctx, char **text, size_t *len)
{
	(void)ctx;
	*text = strdup("# TYPE profd_samples_total counter\nprofd_samples_total 5\n");
	if (!*text)
		return -ENOMEM;
	*len = strlen(*text);
	return 0;
}

struct resp {
	long status;
	char body[4096];
	size_t len;
	char retry_after[16];
	char ctype[128];
};

static size_t on_body(char *d, size_t sz, size_t n, void *u)
{
	struct resp *r = u;
	size_t room = sizeof(r->body) - 1 - r->len, k = sz * n < room ? sz * n : room;

	memcpy(r->body + r->len, d, k);
	r->len += k;
	r->body[r->len] = '\0';
	return sz * n;
}

static size_t on_header(char *d, size_t sz, size_t n, void *u)
{
	struct resp *r = u;
	size_t len = sz * n;

	if (len > 13 && !strncasecmp(d, "Retry-After: ", 13))
		snprintf(r->retry_after, sizeof(r->retry_after), "%.*s", (int)strcspn(d + 13, "\r\n"), d + 13);
	if (len > 14 && !strncasecmp(d, "Content-Type: ", 14))
		snprintf(r->ctype, sizeof(r->ctype), "%.*s", (int)strcspn(d + 14, "\r\n"), d + 14);
	return len;
}

static int get(uint16_t port, const char *path, const char *auth, const char *method, struct resp *r)
{
	struct curl_slist *h = NULL;
	char url[512];
	CURL *c = curl_easy_init();
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	if (!c)
		return -1;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (method && !strcmp(method, "HEAD"))
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (method)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (auth) {
		h = curl_slist_append(NULL, auth);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	}
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return rc == CURLE_OK ? 0 : -1;
}

static struct http_server *start(struct fake *f, const char *token, unsigned max)
{
	struct http_callbacks cb = { fake_profile, fake_procs, fake_metrics, f };
	char err[256];

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	return http_server__start(&(struct http_options){ .listen = "127.0.0.1:0", .token = token, .max_concurrent = max }, &cb, err, sizeof(err));
}

void test_http_routes_and_params(void)
{
	static const struct {
		const char *path;
		long status;
		const char *body;       /* prefix of the body */
	} cases[] = {
		{ "/debug/pprof/profile?pid=1234&seconds=5", 200, "PROF cpu 1234 5" },
		{ "/debug/pprof/profile?pid=1234", 200, "PROF cpu 1234 30" },  /* Go's default */
		{ "/debug/pprof/heap?pid=1234", 200, "PROF heap 1234 0" },
		{ "/debug/pprof/allocs?pid=1&seconds=10", 200, "PROF allocs 1 10" },
		{ "/debug/pprof/mutex?pid=2", 200, "PROF mutex 2 0" },
		{ "/debug/pprof/block?pid=3&debug=1", 200, "PROF block 3 0" },  /* unknown args ignored */
		{ "/debug/pprof/threadcreate?pid=4", 200, "PROF threadcreate 4 0" },
		{ "/debug/pprof/heap", 200, "PROF heap 0 0" },                  /* no pid: callback decides */
		{ "/debug/pprof/heap?pid=999", 404, "no process with pid 999" },
		{ "/debug/pprof/heap?pid=abc", 400, "bad pid: not a number" },
		{ "/debug/pprof/heap?pid=-1", 400, "bad pid: not a number" },
		{ "/debug/pprof/heap?pid=0", 400, "bad pid: out of range" },
		{ "/debug/pprof/heap?pid=99999999999999999999999", 400, "bad pid: out of range" },
		{ "/debug/pprof/heap?pid=", 400, "bad pid: empty" },
		{ "/debug/pprof/heap?pid=1&pid=2", 400, "bad pid: given more than once" },
		{ "/debug/pprof/heap?pid=1%00", 400, "bad pid" },
		{ "/debug/pprof/heap?pid=%zz", 400, "bad pid" },
		{ "/debug/pprof/profile?pid=1&seconds=1e3", 400, "bad seconds: not a number" },
		{ "/debug/pprof/profile?pid=1&seconds=301", 400, "bad seconds: out of range" },
		{ "/debug/pprof/profile?pid=1&seconds=0", 400, "bad seconds: a cpu profile needs" },
		/* threads (a type with a text op): the alias path, ?debug=1|2 */
		{ "/debug/pprof/goroutine?pid=1", 200, "PROF threads 1 0" },
		{ "/debug/pprof/threads?pid=7&debug=2", 200, "PROF threads 7 0 debug=2" },
		{ "/debug/pprof/goroutine?pid=7&debug=1", 200, "PROF threads 7 0 debug=1" },
		{ "/debug/pprof/threads?pid=7&debug=3", 400, "bad debug: out of range" },
		{ "/debug/pprof/threads?pid=7&debug=x", 400, "bad debug: not a number" },
		{ "/debug/pprof/trace?pid=1", 404, "not found" },
		{ "/debug/pprof/../../etc/passwd", 404, "not found" },
		{ "/", 404, "not found" },
		{ "/metrics", 200, "# TYPE profd_samples_total counter\nprofd_samples_total 5\n" },
	};
	struct http_stats st;
	struct http_server *s;
	struct resp r;
	struct fake f;

	s = start(&f, NULL, 4);
	if (!ASSERT_OK_PTR(s, "start"))
		return;
	ASSERT_TRUE(http_server__port(s) > 0, "port");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (!ASSERT_OK(get(http_server__port(s), cases[i].path, NULL, NULL, &r), cases[i].path))
			continue;
		ASSERT_EQ(r.status, cases[i].status, cases[i].path);
		if (!ASSERT_TRUE(!strncmp(r.body, cases[i].body, strlen(cases[i].body)), cases[i].path))
			fprintf(stderr, "    body: %s\n", r.body);
	}
	get(http_server__port(s), "/debug/pprof/heap?pid=5", NULL, NULL, &r);
	ASSERT_STREQ(r.ctype, "application/octet-stream", "profile content type");
	get(http_server__port(s), "/metrics", NULL, NULL, &r);
	ASSERT_STREQ(r.ctype, "text/plain; version=0.0.4; charset=utf-8", "metrics content type");
	get(http_server__port(s), "/debug/pprof/threads?pid=5&debug=2", NULL, NULL, &r);
	ASSERT_STREQ(r.ctype, "text/plain; charset=utf-8", "threads text content type");
	get(http_server__port(s), "/debug/pprof/threads?pid=5", NULL, NULL, &r);
	ASSERT_STREQ(r.ctype, "application/octet-stream", "threads pprof content type");
	/* A type without a text op does not read ?debug=. */
	get(http_server__port(s), "/debug/pprof/heap?pid=7&debug=1", NULL, NULL, &r);
	ASSERT_STREQ(r.body, "PROF heap 7 0", "heap ignores ?debug=");
	get(http_server__port(s), "/debug/pprof/heap?pid=5", NULL, "POST", &r);
	ASSERT_EQ(r.status, 405, "POST");
	ASSERT_OK(get(http_server__port(s), "/debug/pprof/heap?pid=5", NULL, "HEAD", &r), "HEAD");
	ASSERT_EQ(r.status, 200, "HEAD status");
	ASSERT_EQ(r.len, 0, "HEAD has no body");
	http_server__stats(s, &st);
	ASSERT_TRUE(st.bad >= 15, "bad counted");
	ASSERT_TRUE(st.profiles >= 8, "profiles counted");
	http_server__stop(s);
	http_server__stop(NULL);
}

void test_http_index(void)
{
	struct http_server *s;
	struct resp r;
	struct fake f;

	s = start(&f, NULL, 4);
	if (!ASSERT_OK_PTR(s, "start"))
		return;
	ASSERT_OK(get(http_server__port(s), "/debug/pprof/", NULL, NULL, &r), "get");
	ASSERT_EQ(r.status, 200, "status");
	ASSERT_TRUE(!strncmp(r.ctype, "text/html", 9), r.ctype);
	for (const char *const *t = (const char *const[]){ "profile", "heap", "allocs", "mutex", "block",
							     "threadcreate", NULL };
	     *t; t++) {
		char link[64];

		snprintf(link, sizeof(link), "href=\"%s\"", *t);
		ASSERT_TRUE(strstr(r.body, link) != NULL, *t);
	}
	ASSERT_TRUE(strstr(r.body, "<td>systemd</td>") != NULL, "process listed");
	ASSERT_TRUE(strstr(r.body, "&lt;script&gt;?") != NULL, "name escaped and sanitized");
	ASSERT_TRUE(strstr(r.body, "<script>") == NULL, "no raw markup");
	ASSERT_TRUE(strstr(r.body, "profile?pid=42&amp;seconds=10") != NULL, "per-process link");
	ASSERT_OK(get(http_server__port(s), "/debug/pprof", NULL, NULL, &r), "no slash");
	ASSERT_EQ(r.status, 200, "index without slash");
	http_server__stop(s);
}

void test_http_token(void)
{
	struct http_server *s;
	struct resp r;
	struct fake f;

	s = start(&f, "s3cret", 4);
	if (!ASSERT_OK_PTR(s, "start"))
		return;
	get(http_server__port(s), "/metrics", NULL, NULL, &r);
	ASSERT_EQ(r.status, 401, "no token");
	get(http_server__port(s), "/debug/pprof/heap?pid=1", "Authorization: Bearer wrong", NULL, &r);
	ASSERT_EQ(r.status, 401, "wrong token");
	get(http_server__port(s), "/debug/pprof/heap?pid=1", "Authorization: Bearer s3cre", NULL, &r);
	ASSERT_EQ(r.status, 401, "prefix of the token");
	get(http_server__port(s), "/debug/pprof/heap?pid=1", "Authorization: Bearer s3cretX", NULL, &r);
	ASSERT_EQ(r.status, 401, "token plus more");
	get(http_server__port(s), "/debug/pprof/heap?pid=1", "Authorization: Basic czNjcmV0", NULL, &r);
	ASSERT_EQ(r.status, 401, "basic");
	ASSERT_EQ(f.calls, 0, "callback never reached");
	get(http_server__port(s), "/debug/pprof/heap?pid=1", "Authorization: Bearer s3cret", NULL, &r);
	ASSERT_EQ(r.status, 200, "right token");
	http_server__stop(s);
}

struct slow_arg {
	uint16_t port;
	struct resp r;
};

static void *slow_get(void *p)
{
	struct slow_arg *a = p;

	get(a->port, "/debug/pprof/heap?pid=777&seconds=7", NULL, NULL, &a->r);
	return NULL;
}

void test_http_concurrency_bound(void)
{
	struct slow_arg a = { 0 };
	struct http_stats st;
	struct http_server *s;
	struct timespec ts;
	pthread_t t;
	struct resp r;
	struct fake f;

	s = start(&f, NULL, 1);
	if (!ASSERT_OK_PTR(s, "start"))
		return;
	a.port = http_server__port(s);
	if (!ASSERT_OK(pthread_create(&t, NULL, slow_get, &a), "thread"))
		goto out;
	/* Wait until the slow request holds the only slot. */
	pthread_mutex_lock(&f.lock);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	while (!f.slow_waiting && !pthread_cond_timedwait(&f.cond, &f.lock, &ts))
		;
	pthread_mutex_unlock(&f.lock);
	ASSERT_EQ(f.slow_waiting, 1, "slow request in progress");
	get(a.port, "/debug/pprof/heap?pid=1&seconds=3", NULL, NULL, &r);
	ASSERT_EQ(r.status, 429, "too many");
	ASSERT_STREQ(r.retry_after, "3", "Retry-After");
	/* Not a profile request: still served. */
	get(a.port, "/metrics", NULL, NULL, &r);
	ASSERT_EQ(r.status, 200, "metrics while busy");
	pthread_mutex_lock(&f.lock);
	f.release = true;
	pthread_cond_broadcast(&f.cond);
	pthread_mutex_unlock(&f.lock);
	pthread_join(t, NULL);
	ASSERT_EQ(a.r.status, 200, "slow one finished");
	get(a.port, "/debug/pprof/heap?pid=1", NULL, NULL, &r);
	ASSERT_EQ(r.status, 200, "slot free again");
	http_server__stats(s, &st);
	ASSERT_EQ(st.busy, 1, "busy counted");
out:
	http_server__stop(s);
}

/* Send raw bytes, return the first line of the answer ("" if closed). */
static void raw(uint16_t port, const void *data, size_t len, char *line, size_t size)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct pollfd p;
	const char *d = data;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	line[0] = '\0';
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while (len) {
		n = send(fd, d, len, MSG_NOSIGNAL);
		if (n <= 0)
			break;  /* the server may close early on junk */
		d += n;
		len -= n;
	}
	shutdown(fd, SHUT_WR);
	p.fd = fd;
	p.events = POLLIN;
	if (poll(&p, 1, 5000) == 1) {
		n = recv(fd, line, size - 1, 0);
		line[n > 0 ? n : 0] = '\0';
		line[strcspn(line, "\r\n")] = '\0';
	}
	close(fd);
}

void test_http_garbage(void)
{
	static char huge[100000];
	char line[256], *req;
	struct http_server *s;
	struct resp r;
	struct fake f;
	uint16_t port;

	s = start(&f, NULL, 2);
	if (!ASSERT_OK_PTR(s, "start"))
		return;
	port = http_server__port(s);
	raw(port, "GARBAGE\r\n\r\n", 11, line, sizeof(line));
	ASSERT_TRUE(!line[0] || !strncmp(line, "HTTP/1.1 4", 10), "junk line");
	raw(port, "\x00\x01\x02\xff\xfe\r\n\r\n", 8, line, sizeof(line));
	ASSERT_TRUE(!line[0] || !strncmp(line, "HTTP/1.1 4", 10), "binary");
	raw(port, "GET /debug/pprof/heap?pid=1 HTTP/1.1\r\nHost", 42, line, sizeof(line));
	ASSERT_TRUE(strncmp(line, "HTTP/1.1 2", 10), "truncated request not served");
	/* A 100 kB header: refused by libmicrohttpd's memory limit. */
	memset(huge, 'a', sizeof(huge));
	req = malloc(sizeof(huge) + 128);
	if (ASSERT_OK_PTR(req, "malloc")) {
		int n = snprintf(req, 128, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ");

		memcpy(req + n, huge, sizeof(huge));
		memcpy(req + n + sizeof(huge), "\r\n\r\n", 4);
		raw(port, req, n + sizeof(huge) + 4, line, sizeof(line));
		ASSERT_TRUE(!line[0] || !strncmp(line, "HTTP/1.1 4", 10), "huge header refused");
		/* Junk in the request line's target and version. */
		raw(port, "GET /\x01\x02 HTTP/9.9\r\n\r\n", 21, line, sizeof(line));
		ASSERT_TRUE(!line[0] || !strncmp(line, "HTTP/1.1 4", 10) || !strncmp(line, "HTTP/1.1 505", 12),
			    "bad version");
		free(req);
	}
	raw(port, "GET /debug/pprof/heap?pid=1 HTTP/1.0\r\n\r\n", 40, line, sizeof(line));
	ASSERT_TRUE(!strncmp(line, "HTTP/1.", 7) && strstr(line, " 200"), "HTTP/1.0 by hand");
	/* Still alive and answering. */
	ASSERT_OK(get(port, "/debug/pprof/heap?pid=1", NULL, NULL, &r), "after garbage");
	ASSERT_EQ(r.status, 200, "serves after garbage");
	http_server__stop(s);
}

void test_http_start_errors(void)
{
	struct http_callbacks cb = { fake_profile, NULL, NULL, NULL };
	struct http_server *s, *s2;
	struct resp r;
	char err[256], addr[64];

	ASSERT_TRUE(http_server__start(&(struct http_options){ .listen = "nonsense", .token = NULL, .max_concurrent = 1 }, &cb, err, sizeof(err)) == NULL, "bad addr");
	ASSERT_TRUE(http_server__start(&(struct http_options){ .listen = "127.0.0.1:0", .token = NULL, .max_concurrent = 0 }, &cb, err, sizeof(err)) == NULL, "max 0");
	s = http_server__start(&(struct http_options){ .listen = "[::1]:0", .token = NULL, .max_concurrent = 1 }, &cb, err, sizeof(err));
	if (s) {        /* no IPv6 on some hosts: then nothing to check */
		ASSERT_TRUE(http_server__port(s) > 0, "v6 port");
		http_server__stop(s);
	}
	s = http_server__start(&(struct http_options){ .listen = "127.0.0.1:0", .token = NULL, .max_concurrent = 1 }, &cb, err, sizeof(err));
	if (!ASSERT_OK_PTR(s, err))
		return;
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", http_server__port(s));
	s2 = http_server__start(&(struct http_options){ .listen = addr, .token = NULL, .max_concurrent = 1 }, &cb, err, sizeof(err));
	ASSERT_TRUE(s2 == NULL, "port in use");
	ASSERT_TRUE(strstr(err, addr) != NULL, err);
	http_server__stop(s2);
	/* No metrics or process callbacks: 404 and an index without processes. */
	get(http_server__port(s), "/metrics", NULL, NULL, &r);
	ASSERT_EQ(r.status, 404, "no metrics callback");
	get(http_server__port(s), "/debug/pprof/", NULL, NULL, &r);
	ASSERT_EQ(r.status, 200, "index without processes");
	http_server__stop(s);
}
