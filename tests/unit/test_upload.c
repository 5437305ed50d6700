// SPDX-License-Identifier: Apache-2.0
/* upload: against a loopback receiver (libmicrohttpd, started by the test)
 * that checks the Pyroscope push contract: method, path, content type,
 * Connect headers, PushRequest labels, and that raw_profile gunzips to a
 * valid profile. Store down → spool → store back → each profile delivered
 * once and in order; 4xx not retried; 5xx retried, then spooled; secrets. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "export/pyroscope.h"
#include "export/spool.h"
#include "export/upload.h"
#include "harness.h"
#include "types/profiler.h"
#include "profile.pb-c.h"
#include "push.pb-c.h"

/* ---- a valid gzipped CPU profile, built here ---- */

static int make_profile(uint8_t **out, size_t *out_len)
{
	char *strings[] = { "", "samples", "count", "cpu", "nanoseconds", "busy_loop", "busy.c" };
	Perftools__Profiles__Profile p = PERFTOOLS__PROFILES__PROFILE__INIT;
	Perftools__Profiles__ValueType vt[2], *pvt[2] = { &vt[0], &vt[1] }, period;
	Perftools__Profiles__Function fn = PERFTOOLS__PROFILES__FUNCTION__INIT, *pfn = &fn;
	Perftools__Profiles__Line line = PERFTOOLS__PROFILES__LINE__INIT, *pline = &line;
	Perftools__Profiles__Location loc = PERFTOOLS__PROFILES__LOCATION__INIT, *ploc = &loc;
	Perftools__Profiles__Sample s = PERFTOOLS__PROFILES__SAMPLE__INIT, *ps = &s;
	uint64_t loc_ids[1] = { 1 };
	int64_t values[2] = { 3, 30303030 };
	uint8_t *raw, *gz;
	z_stream z = { 0 };
	size_t n;

	for (int i = 0; i < 2; i++)
		perftools__profiles__value_type__init(&vt[i]);
	perftools__profiles__value_type__init(&period);
	vt[0].type = 1, vt[0].unit = 2, vt[1].type = 3, vt[1].unit = 4;
	period.type = 3, period.unit = 4;
	fn.id = 1, fn.name = 5, fn.system_name = 5, fn.filename = 6;
	line.function_id = 1, line.line = 42;
	loc.id = 1, loc.n_line = 1, loc.line = &pline;
	s.n_location_id = 1, s.location_id = loc_ids, s.n_value = 2, s.value = values;
	p.n_sample_type = 2, p.sample_type = pvt;
	p.n_sample = 1, p.sample = &ps;
	p.n_location = 1, p.location = &ploc;
	p.n_function = 1, p.function = &pfn;
	p.n_string_table = 7, p.string_table = strings;
	p.period_type = &period, p.period = 10101010;
	p.time_nanos = 1700000000000000000LL;

	n = perftools__profiles__profile__get_packed_size(&p);
	raw = malloc(n);
	gz = malloc(n + 64);
	if (!raw || !gz)
		goto fail;
	perftools__profiles__profile__pack(&p, raw);
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		goto fail;
	z.next_in = raw, z.avail_in = n, z.next_out = gz, z.avail_out = n + 64;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&z);
		goto fail;
	}
	*out_len = z.total_out;
	deflateEnd(&z);
	free(raw);
	*out = gz;
	return 0;
fail:
	free(raw);
	free(gz);
	return -ENOMEM;
}

/* Gunzip and unpack; NULL unless it is a gzip stream holding a profile. */
static Perftools__Profiles__Profile *gunzip_profile(const uint8_t *gz, size_t len)
{
	static uint8_t raw[1 << 16];
	Perftools__Profiles__Profile *p;
	z_stream z = { 0 };

	if (len < 2 || gz[0] != 0x1f || gz[1] != 0x8b)
		return NULL;
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return NULL;
	z.next_in = (uint8_t *)gz, z.avail_in = len, z.next_out = raw, z.avail_out = sizeof(raw);
	if (inflate(&z, Z_FINISH) != Z_STREAM_END) {
		inflateEnd(&z);
		return NULL;
	}
	p = perftools__profiles__profile__unpack(NULL, z.total_out, raw);
	inflateEnd(&z);
	return p;
}

static bool profile_ok(const uint8_t *gz, size_t len)
{
	Perftools__Profiles__Profile *p = gunzip_profile(gz, len);
	bool ok = p && p->n_sample_type == 2 && p->n_sample == 1 && p->n_string_table == 7 &&
		  !strcmp(p->string_table[p->sample_type[1]->type], "cpu") &&
		  p->sample[0]->n_value == 2 && p->sample[0]->value[1] == 30303030;

	perftools__profiles__profile__free_unpacked(p, NULL);
	return ok;
}

/* ---- the receiver ---- */

#define RX_MAX 64

struct rx {
	struct MHD_Daemon *d;
	uint16_t port;
	unsigned status;        /* answer after fail_first */
	unsigned fail_first;    /* answer 503 to this many requests first */
	const char *expect_name; /* __name__ the push must carry */
	pthread_mutex_t lock;
	int requests;
	int good;               /* requests that met the whole contract */
	char error[256];        /* first violation */
	int pids[RX_MAX];       /* pid label of each good profile, in arrival order */
	char ids[RX_MAX][40];
	char path[256], query_name[256], ctype[128], auth[256], tenant[160], connect[8];
};

struct rx_conn {
	uint8_t *buf;
	size_t len;
};

static void rx_fail(struct rx *rx, const char *fmt, const char *arg)
{
	if (!rx->error[0])
		snprintf(rx->error, sizeof(rx->error), fmt, arg ? arg : "(null)");
}

static void copy_hdr(struct MHD_Connection *c, enum MHD_ValueKind kind, const char *key, char *dst,
		     size_t size)
{
	const char *v = MHD_lookup_connection_value(c, kind, key);

	snprintf(dst, size, "%s", v ? v : "");
}

/* Check one push body; returns the pid label or -1. */
static int check_push(struct rx *rx, const struct rx_conn *cc)
{
	Push__V1__PushRequest *req = push__v1__push_request__unpack(NULL, cc->len, cc->buf);
	Push__V1__RawProfileSeries *s;
	const char *name = NULL, *service = NULL, *pid = NULL;
	int ret = -1;

	if (!req || req->n_series != 1 || req->series[0]->n_samples != 1) {
		rx_fail(rx, "PushRequest shape wrong%s", "");
		goto out;
	}
	s = req->series[0];
	for (size_t i = 0; i < s->n_labels; i++) {
		if (i && strcmp(s->labels[i - 1]->name, s->labels[i]->name) >= 0)
			rx_fail(rx, "labels not sorted/unique at %s", s->labels[i]->name);
		if (!strcmp(s->labels[i]->name, "__name__"))
			name = s->labels[i]->value;
		else if (!strcmp(s->labels[i]->name, "service_name"))
			service = s->labels[i]->value;
		else if (!strcmp(s->labels[i]->name, "pid"))
			pid = s->labels[i]->value;
	}
	if (!name || strcmp(name, rx->expect_name ? rx->expect_name : "process_cpu")) {
		rx_fail(rx, "__name__ is %s", name);
		goto out;
	}
	if (!service || !*service || !pid) {
		rx_fail(rx, "service_name/pid missing%s", "");
		goto out;
	}
	if (!profile_ok(s->samples[0]->raw_profile.data, s->samples[0]->raw_profile.len)) {
		rx_fail(rx, "raw_profile is not a gzipped profile%s", "");
		goto out;
	}
	if (rx->good < RX_MAX)
		snprintf(rx->ids[rx->good], sizeof(rx->ids[0]), "%s", s->samples[0]->id);
	ret = atoi(pid);
out:
	push__v1__push_request__free_unpacked(req, NULL);
	return ret;
}

static enum MHD_Result rx_handler(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	static const char reject[] = "{\"code\":\"invalid_argument\",\"message\":\"bad labels\"}";
	struct rx *rx = cls;
	struct rx_conn *cc = *con_cls;
	struct MHD_Response *resp;
	unsigned status;
	enum MHD_Result r;
	int pid = -1;

	(void)version;
	if (!cc) {
		cc = calloc(1, sizeof(*cc));
		*con_cls = cc;
		return cc ? MHD_YES : MHD_NO;
	}
	if (*upload_data_size) {
		uint8_t *b = realloc(cc->buf, cc->len + *upload_data_size);

		if (!b)
			return MHD_NO;
		memcpy(b + cc->len, upload_data, *upload_data_size);
		cc->buf = b;
		cc->len += *upload_data_size;
		*upload_data_size = 0;
		return MHD_YES;
	}

	pthread_mutex_lock(&rx->lock);
	rx->requests++;
	snprintf(rx->path, sizeof(rx->path), "%s", url);
	copy_hdr(c, MHD_HEADER_KIND, "Content-Type", rx->ctype, sizeof(rx->ctype));
	copy_hdr(c, MHD_HEADER_KIND, "Authorization", rx->auth, sizeof(rx->auth));
	copy_hdr(c, MHD_HEADER_KIND, "X-Scope-OrgID", rx->tenant, sizeof(rx->tenant));
	copy_hdr(c, MHD_HEADER_KIND, "Connect-Protocol-Version", rx->connect, sizeof(rx->connect));
	copy_hdr(c, MHD_GET_ARGUMENT_KIND, "name", rx->query_name, sizeof(rx->query_name));
	if (strcmp(method, "POST"))
		rx_fail(rx, "method %s", method);
	if (rx->fail_first) {
		rx->fail_first--;
		status = 503;
	} else {
		status = rx->status;
	}
	if (status == 200) {
		if (!strcmp(url, PYRO_PUSH_PATH)) {
			if (strcmp(rx->ctype, "application/proto") || strcmp(rx->connect, "1"))
				rx_fail(rx, "push headers: content type %s", rx->ctype);
			pid = check_push(rx, cc);
		} else {
			/* ingest and plain pprof: the body is the profile */
			pid = profile_ok(cc->buf, cc->len) ? 0 : -1;
			if (pid < 0)
				rx_fail(rx, "body of %s is not a gzipped profile", url);
		}
		if (pid >= 0 && rx->good < RX_MAX)
			rx->pids[rx->good++] = pid;
	}
	pthread_mutex_unlock(&rx->lock);

	if (status == 400)
		resp = MHD_create_response_from_buffer(sizeof(reject) - 1, (void *)reject,
						       MHD_RESPMEM_PERSISTENT);
	else
		resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	if (status == 429)
		MHD_add_response_header(resp, "Retry-After", "0");
	r = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static void rx_done(void *cls, struct MHD_Connection *c, void **con_cls,
		    enum MHD_RequestTerminationCode toe)
{
	struct rx_conn *cc = *con_cls;

	(void)cls, (void)c, (void)toe;
	if (cc)
		free(cc->buf);
	free(cc);
	*con_cls = NULL;
}

/* Listen on 127.0.0.1:port (0: any free port). */
static int rx_start(struct rx *rx, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	const union MHD_DaemonInfo *info;

	rx->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
				 rx_handler, rx, MHD_OPTION_SOCK_ADDR, &sa,
				 MHD_OPTION_LISTENING_ADDRESS_REUSE, 1U,
				 MHD_OPTION_NOTIFY_COMPLETED, rx_done, rx, MHD_OPTION_END);
	if (!rx->d)
		return -1;
	info = MHD_get_daemon_info(rx->d, MHD_DAEMON_INFO_BIND_PORT);
	rx->port = info ? info->port : 0;
	return rx->port ? 0 : -1;
}

static void rx_stop(struct rx *rx)
{
	if (rx->d)
		MHD_stop_daemon(rx->d);
	rx->d = NULL;
}

static void rx_init(struct rx *rx)
{
	memset(rx, 0, sizeof(*rx));
	pthread_mutex_init(&rx->lock, NULL);
	rx->status = 200;
}

/* ---- helpers ---- */

struct fixture {
	char dir[64];
	char url[128];
	char spool[PATH_MAX];
	struct upload_opts o;
	uint8_t *gz;
	size_t gz_len;
};

static bool fixture_init(struct fixture *f, const struct rx *rx)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/profd-upload-XXXXXX");
	if (!mkdtemp(f->dir) || make_profile(&f->gz, &f->gz_len))
		return false;
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%u/", rx->port);
	snprintf(f->spool, sizeof(f->spool), "%s/spool", f->dir);
	f->o.url = f->url;
	f->o.mode = UPLOAD_MODE_PUSH;
	f->o.timeout_ns = 2000000000ULL;
	f->o.retries = 2;
	f->o.backoff_initial_ns = 1000000;     /* 1 ms: tests stay fast */
	f->o.backoff_max_ns = 4000000;
	f->o.spool_dir = f->spool;
	f->o.spool_max_bytes = 1 << 20;
	return true;
}

static void fixture_done(struct fixture *f)
{
	char cmd[PATH_MAX];

	free(f->gz);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", f->dir);
}

static int send_pid(struct uploader *u, struct fixture *f, int pid)
{
	struct pyroscope_meta m = { .type = profiler_type_find("cpu"), .service_name = "busy", .host = "h",
				    .pid = pid, .process = "busy" };

	return uploader__send(u, &m, f->gz, f->gz_len);
}

static const char *write_secret(struct fixture *f, const char *name, const char *value, mode_t mode)
{
	static char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, value, strlen(value)) != (ssize_t)strlen(value))
		return NULL;
	fchmod(fd, mode);
	close(fd);
	return path;
}

/* ---- tests ---- */

void test_upload_push_contract(void)
{
	char err[256] = "", tokpath[PATH_MAX];
	struct uploader *u = NULL;
	struct fixture f;
	struct rx rx;

	rx_init(&rx);
	if (!ASSERT_OK(rx_start(&rx, 0), "receiver") || !ASSERT_TRUE(fixture_init(&f, &rx), "fixture"))
		goto out_rx;
	snprintf(tokpath, sizeof(tokpath), "%s", write_secret(&f, "token", "s3cret-token\n", 0600));
	f.o.bearer_token_file = tokpath;
	f.o.tenant_id = "team-a";
	u = uploader__new(&f.o, err, sizeof(err));
	if (!ASSERT_OK_PTR(u, err))
		goto out;
	ASSERT_EQ(send_pid(u, &f, 4242), UPLOAD_DELIVERED, "delivered");
	pthread_mutex_lock(&rx.lock);
	ASSERT_STREQ(rx.error, "", "contract");
	ASSERT_EQ(rx.requests, 1, "one request");
	ASSERT_EQ(rx.good, 1, "accepted");
	ASSERT_EQ(rx.pids[0], 4242, "pid label");
	ASSERT_EQ(strlen(rx.ids[0]), 36, "sample ID");
	ASSERT_STREQ(rx.path, "/push.v1.PusherService/Push", "path (no double slash)");
	ASSERT_STREQ(rx.ctype, "application/proto", "content type");
	ASSERT_STREQ(rx.connect, "1", "Connect-Protocol-Version");
	ASSERT_STREQ(rx.auth, "Bearer s3cret-token", "bearer from file, newline trimmed");
	ASSERT_STREQ(rx.tenant, "team-a", "tenant header");
	pthread_mutex_unlock(&rx.lock);
	ASSERT_EQ(uploader__stats(u)->delivered, 1, "delivered counter");
	ASSERT_EQ(uploader__stats(u)->attempts, 1, "attempts");
	ASSERT_EQ(uploader__stats(u)->last_status, 200, "last status");
	ASSERT_EQ(uploader__spool_stats(u)->items, 0, "spool empty");
	uploader__free(u);

	/* Other profile types carry their own family name. */
	f.o.bearer_token_file = NULL;
	u = uploader__new(&f.o, err, sizeof(err));
	if (ASSERT_OK_PTR(u, err)) {
		struct pyroscope_meta m = { .type = profiler_type_find("block"), .service_name = "db", .pid = 9 };

		rx.expect_name = "block";
		ASSERT_EQ(uploader__send(u, &m, f.gz, f.gz_len), UPLOAD_DELIVERED, "block");
		ASSERT_STREQ(rx.error, "", "block contract");
		ASSERT_STREQ(rx.auth, "", "no auth header without a token");
	}
out:
	uploader__free(u);
	fixture_done(&f);
out_rx:
	rx_stop(&rx);
}

void test_upload_store_down_spool_replay(void)
{
	struct uploader *u = NULL;
	char err[256] = "";
	struct fixture f;
	struct rx rx;
	uint16_t port;

	rx_init(&rx);
	if (!ASSERT_OK(rx_start(&rx, 0), "receiver") || !ASSERT_TRUE(fixture_init(&f, &rx), "fixture"))
		goto out_rx;
	port = rx.port;
	rx_stop(&rx);           /* the store goes down: connection refused */
	u = uploader__new(&f.o, err, sizeof(err));
	if (!ASSERT_OK_PTR(u, err))
		goto out;
	for (int pid = 1; pid <= 3; pid++)
		ASSERT_EQ(send_pid(u, &f, pid), UPLOAD_SPOOLED, "spooled while down");
	ASSERT_EQ(uploader__spool_stats(u)->items, 3, "three waiting");
	/* The first profile tried 1 + retries times; later ones only probe
	 * with the oldest spooled profile, once. */
	ASSERT_EQ(uploader__stats(u)->attempts, 3 + 1 + 1, "a down store costs one attempt");
	ASSERT_EQ(uploader__replay(u, 0), 0, "replay while down delivers nothing");
	ASSERT_EQ(uploader__spool_stats(u)->items, 3, "still three");

	/* The store comes back on the same port: the next send drains the
	 * spool first, in order, then goes itself. */
	if (!ASSERT_OK(rx_start(&rx, port), "receiver back"))
		goto out;
	ASSERT_EQ(send_pid(u, &f, 4), UPLOAD_DELIVERED, "delivered after replay");
	ASSERT_EQ(uploader__spool_stats(u)->items, 0, "spool drained");
	ASSERT_STREQ(rx.error, "", "contract");
	ASSERT_EQ(rx.good, 4, "four profiles received");
	for (int i = 0; i < 4 && i < rx.good; i++)
		ASSERT_EQ(rx.pids[i], i + 1, "in order");
	for (int i = 0; i < rx.good; i++)
		for (int j = i + 1; j < rx.good; j++)
			ASSERT_TRUE(strcmp(rx.ids[i], rx.ids[j]), "each delivered once");
	ASSERT_EQ(uploader__stats(u)->replayed, 3, "replayed");
	ASSERT_EQ(uploader__stats(u)->delivered, 4, "delivered");
	ASSERT_EQ(uploader__replay(u, 0), 0, "nothing left");
	ASSERT_EQ(rx.requests, 4, "no duplicate request");

	/* Across a restart of the agent: spooled profiles survive and go out. */
	rx_stop(&rx);
	ASSERT_EQ(send_pid(u, &f, 5), UPLOAD_SPOOLED, "down again");
	uploader__free(u);
	u = uploader__new(&f.o, err, sizeof(err));
	if (!ASSERT_OK_PTR(u, err) || !ASSERT_OK(rx_start(&rx, port), "receiver back again"))
		goto out;
	ASSERT_EQ(uploader__spool_stats(u)->items, 1, "found after restart");
	ASSERT_EQ(uploader__replay(u, 0), 1, "replayed after restart");
	ASSERT_EQ(rx.good, 5, "five in all");
	ASSERT_EQ(rx.pids[4], 5, "the fifth");
	ASSERT_EQ(rx.requests, 5, "still no duplicate");
out:
	uploader__free(u);
	fixture_done(&f);
out_rx:
	rx_stop(&rx);
}

void test_upload_4xx_not_retried(void)
{
	struct uploader *u = NULL;
	char err[256] = "";
	struct fixture f;
	struct rx rx;

	rx_init(&rx);
	rx.status = 400;
	if (!ASSERT_OK(rx_start(&rx, 0), "receiver") || !ASSERT_TRUE(fixture_init(&f, &rx), "fixture"))
		goto out_rx;
	f.o.retries = 5;
	u = uploader__new(&f.o, err, sizeof(err));
	if (!ASSERT_OK_PTR(u, err))
		goto out;
	ASSERT_EQ(send_pid(u, &f, 1), UPLOAD_REJECTED, "rejected");
	ASSERT_EQ(rx.requests, 1, "asked once, not retried");
	ASSERT_EQ(uploader__stats(u)->rejected, 1, "counted");
	ASSERT_EQ(uploader__stats(u)->last_status, 400, "status");
	ASSERT_EQ(uploader__spool_stats(u)->items, 0, "not spooled");
	ASSERT_EQ(send_pid(u, &f, 2), UPLOAD_REJECTED, "rejected again");
	ASSERT_EQ(rx.requests, 2, "one request per profile");
out:
	uploader__free(u);
	fixture_done(&f);
out_rx:
	rx_stop(&rx);
}

void test_upload_5xx_retried_then_spooled(void)
{
	struct uploader *u = NULL;
	char err[256] = "";
	struct fixture f;
	struct rx rx;

	rx_init(&rx);
	rx.status = 503;
	if (!ASSERT_OK(rx_start(&rx, 0), "receiver") || !ASSERT_TRUE(fixture_init(&f, &rx), "fixture"))
		goto out_rx;
	f.o.retries = 2;
	u = uploader__new(&f.o, err, sizeof(err));
	if (!ASSERT_OK_PTR(u, err))
		goto out;
	ASSERT_EQ(send_pid(u, &f, 1), UPLOAD_SPOOLED, "spooled after retries");
	ASSERT_EQ(rx.requests, 3, "1 + 2 retries");
	ASSERT_EQ(uploader__stats(u)->failures, 3, "failures");
	/* 429 is retryable too. */
	rx.status = 429;
	ASSERT_EQ(uploader__replay(u, 0), 0, "429: stays");
	ASSERT_EQ(uploader__spool_stats(u)->items, 1, "still spooled");
	/* Transient: two 503s then 200, within the retries of a new profile;
	 * the spooled one goes first. */
	rx.status = 200;
	ASSERT_EQ(uploader__replay(u, 0), 1, "replayed");
	rx.fail_first = 2;
	ASSERT_EQ(send_pid(u, &f, 2), UPLOAD_DELIVERED, "delivered on the third try");
	ASSERT_EQ(rx.good, 2, "both received");
	ASSERT_EQ(rx.pids[0], 1, "spooled first");
	ASSERT_EQ(rx.pids[1], 2, "then the new one");
out:
	uploader__free(u);
	fixture_done(&f);
out_rx:
	rx_stop(&rx);
}

void test_upload_ingest_and_pprof_modes(void)
{
	struct pyroscope_meta m = { .type = profiler_type_find("cpu"), .service_name = "web", .host = "h", .pid = 3,
				    .process = "nginx", .start_ns = 1700000000000000000LL,
				    .end_ns = 1700000060000000000LL };
	struct uploader *u = NULL;
	char err[256] = "", url[160];
	struct fixture f;
	struct rx rx;

	rx_init(&rx);
	if (!ASSERT_OK(rx_start(&rx, 0), "receiver") || !ASSERT_TRUE(fixture_init(&f, &rx), "fixture"))
		goto out_rx;
	f.o.mode = UPLOAD_MODE_INGEST;
	u = uploader__new(&f.o, err, sizeof(err));
	if (!ASSERT_OK_PTR(u, err))
		goto out;
	ASSERT_EQ(uploader__send(u, &m, f.gz, f.gz_len), UPLOAD_DELIVERED, "ingest");
	ASSERT_STREQ(rx.error, "", "ingest body");
	ASSERT_STREQ(rx.path, "/ingest", "ingest path");
	ASSERT_STREQ(rx.query_name, "web{host=h,pid=3,process_name=nginx}", "ingest name decoded");
	uploader__free(u);

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/custom/store", rx.port);
	f.o.url = url;
	f.o.mode = UPLOAD_MODE_PPROF;
	u = uploader__new(&f.o, err, sizeof(err));
	if (!ASSERT_OK_PTR(u, err))
		goto out;
	ASSERT_EQ(uploader__send(u, &m, f.gz, f.gz_len), UPLOAD_DELIVERED, "pprof");
	ASSERT_STREQ(rx.error, "", "pprof body");
	ASSERT_STREQ(rx.path, "/custom/store", "pprof path");
	ASSERT_STREQ(rx.ctype, "application/octet-stream", "pprof content type");
	ASSERT_EQ(rx.good, 2, "both accepted");
out:
	uploader__free(u);
	fixture_done(&f);
out_rx:
	rx_stop(&rx);
}

void test_upload_secrets_and_basic_auth(void)
{
	char err[256] = "", pw[PATH_MAX];
	struct uploader *u = NULL;
	struct fixture f;
	struct rx rx;

	rx_init(&rx);
	if (!ASSERT_OK(rx_start(&rx, 0), "receiver") || !ASSERT_TRUE(fixture_init(&f, &rx), "fixture"))
		goto out_rx;
	/* World-readable token: refused with a clear message. */
	f.o.bearer_token_file = write_secret(&f, "token", "tok", 0644);
	u = uploader__new(&f.o, err, sizeof(err));
	ASSERT_TRUE(u == NULL && errno == EACCES, "world-readable refused");
	ASSERT_TRUE(strstr(err, "other users can read") && strstr(err, "0644"), err);
	f.o.bearer_token_file = write_secret(&f, "token", "tok", 0602);
	u = uploader__new(&f.o, err, sizeof(err));
	ASSERT_TRUE(u == NULL && errno == EACCES, "world-writable refused");
	f.o.bearer_token_file = write_secret(&f, "token", "a\nX-Evil: 1", 0600);
	u = uploader__new(&f.o, err, sizeof(err));
	ASSERT_TRUE(u == NULL && errno == EINVAL, "header injection refused");
	f.o.bearer_token_file = write_secret(&f, "token", "\n\n", 0600);
	u = uploader__new(&f.o, err, sizeof(err));
	ASSERT_TRUE(u == NULL && errno == EINVAL, "empty refused");
	f.o.bearer_token_file = "/nonexistent/token";
	u = uploader__new(&f.o, err, sizeof(err));
	ASSERT_TRUE(u == NULL && errno == ENOENT, "missing file");
	ASSERT_TRUE(strstr(err, "/nonexistent/token") != NULL, err);
	f.o.bearer_token_file = NULL;

	/* Basic auth, group-readable password file is fine. */
	snprintf(pw, sizeof(pw), "%s", write_secret(&f, "password", "pa:ss\n", 0640));
	f.o.basic_auth_user = "12345";
	f.o.basic_auth_password_file = pw;
	u = uploader__new(&f.o, err, sizeof(err));
	if (!ASSERT_OK_PTR(u, err))
		goto out;
	ASSERT_EQ(send_pid(u, &f, 1), UPLOAD_DELIVERED, "basic");
	ASSERT_STREQ(rx.auth, "Basic MTIzNDU6cGE6c3M=", "base64(12345:pa:ss)");
	uploader__free(u);
	u = NULL;
	f.o.basic_auth_password_file = NULL;
	u = uploader__new(&f.o, err, sizeof(err));
	ASSERT_TRUE(u == NULL && errno == EINVAL, "user without password");
	f.o.url = "ftp://127.0.0.1/";
	f.o.basic_auth_user = NULL;
	u = uploader__new(&f.o, err, sizeof(err));
	ASSERT_TRUE(u == NULL && errno == EINVAL, "bad scheme");
out:
	uploader__free(u);
	fixture_done(&f);
out_rx:
	rx_stop(&rx);
}

void test_upload_bounds_and_cancel(void)
{
	struct uploader *u = NULL;
	char err[256] = "";
	struct fixture f;
	struct rx rx;
	int spooled = 0, dropped = 0;

	rx_init(&rx);
	rx.status = 503;
	if (!ASSERT_OK(rx_start(&rx, 0), "receiver") || !ASSERT_TRUE(fixture_init(&f, &rx), "fixture"))
		goto out_rx;
	/* Room for two requests in the spool. */
	f.o.retries = 0;
	f.o.spool_max_bytes = 2 * (f.gz_len + 200) + 100;
	u = uploader__new(&f.o, err, sizeof(err));
	if (!ASSERT_OK_PTR(u, err))
		goto out;
	for (int pid = 1; pid <= 4; pid++) {
		int r = send_pid(u, &f, pid);

		spooled += r == UPLOAD_SPOOLED;
		dropped += r == UPLOAD_DROPPED;
	}
	ASSERT_EQ(spooled, 2, "bounded");
	ASSERT_EQ(dropped, 2, "the rest dropped");
	ASSERT_EQ(uploader__stats(u)->dropped, 2, "counted");
	ASSERT_EQ(uploader__spool_stats(u)->dropped, 2, "spool counted");
	/* The kept ones are the oldest and go out when the store is back. */
	rx.status = 200;
	ASSERT_EQ(uploader__replay(u, 0), 2, "replayed");
	ASSERT_EQ(rx.pids[0] * 10 + rx.pids[1], 12, "1 then 2");

	/* After cancel nothing is sent: straight to the spool. */
	uploader__cancel(u);
	rx.requests = 0;
	ASSERT_EQ(send_pid(u, &f, 7), UPLOAD_SPOOLED, "spooled after cancel");
	ASSERT_EQ(rx.requests, 0, "no request after cancel");
	uploader__free(u);

	/* Without a spool, an unavailable store means dropped. */
	rx.status = 503;
	f.o.spool_dir = NULL;
	u = uploader__new(&f.o, err, sizeof(err));
	if (ASSERT_OK_PTR(u, err)) {
		ASSERT_EQ(send_pid(u, &f, 8), UPLOAD_DROPPED, "no spool");
		ASSERT_TRUE(uploader__spool_stats(u) == NULL, "no spool stats");
	}
out:
	uploader__free(u);
	fixture_done(&f);
out_rx:
	rx_stop(&rx);
}
