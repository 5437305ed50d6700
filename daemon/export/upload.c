// SPDX-License-Identifier: Apache-2.0
/* upload: libcurl sender, retry policy, spool replay. */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "export/pyroscope.h"
#include "export/spool.h"
#include "export/upload.h"
#include "util/log.h"
#include "util/secret.h"
#include "util/text.h"

#ifndef PROFD_VERSION
#define PROFD_VERSION "dev"
#endif

#define INGEST_PATH_MAX 4096
#define RESPONSE_KEEP 512       /* bytes of an error answer kept for the log */
#define SLEEP_SLICE_NS 20000000LL
#define LOG_INTERVAL_NS (10LL * 1000000000)

enum outcome { OUT_OK, OUT_RETRY, OUT_FATAL };

struct uploader {
	CURL *curl;
	char *url;
	enum upload_mode mode;
	char *tenant_hdr;       /* "X-Scope-OrgID: ..." or NULL */
	char *auth_hdr;         /* "Authorization: Bearer ..." or NULL */
	char *user, *password;  /* basic auth or NULL */
	long timeout_ms;
	unsigned retries;
	uint64_t backoff_initial_ns, backoff_max_ns;
	struct spool *spool;
	struct upload_stats st;
	atomic_bool cancelled;
	unsigned seed;
	bool store_down;        /* last attempt failed retryably: log transitions */
	bool spool_refusing;    /* last spool__push failed: log transitions */
	int64_t last_reject_log_ns;
	uint64_t rejects_unlogged;
	/* per request */
	char resp[RESPONSE_KEEP + 1];
	size_t resp_len;
	char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
	struct uploader *u = user;
	size_t n = size * nmemb, room = RESPONSE_KEEP - u->resp_len;

	/* Keep the start of the answer (the store's message); discard the rest. */
	if (room) {
		memcpy(u->resp + u->resp_len, data, n < room ? n : room);
		u->resp_len += n < room ? n : room;
		u->resp[u->resp_len] = '\0';
	}
	return n;
}

static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct uploader *u = user;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return atomic_load(&u->cancelled);      /* non-zero aborts the transfer */
}

static bool set(const char *s)
{
	return s && *s;
}

void uploader__free(struct uploader *u)
{
	if (!u)
		return;
	if (u->curl)
		curl_easy_cleanup(u->curl);
	spool__free(u->spool);
	free(u->url);
	free(u->tenant_hdr);
	if (u->auth_hdr)
		memset(u->auth_hdr, 0, strlen(u->auth_hdr));
	free(u->auth_hdr);
	if (u->password)
		memset(u->password, 0, strlen(u->password));
	free(u->password);
	free(u->user);
	free(u);
}

struct uploader *uploader__new(const struct upload_opts *o, char *err, size_t errlen)
{
	char secret[SECRET_MAX_LEN + 1];
	struct uploader *u;
	int ret = 0;

	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		snprintf(err, errlen, "libcurl initialization failed: %s", curl_easy_strerror(curl_init_rc));
		errno = EIO;
		return NULL;
	}
	if (!set(o->url) || (strncmp(o->url, "http://", 7) && strncmp(o->url, "https://", 8))) {
		snprintf(err, errlen, "upload URL must start with http:// or https://");
		errno = EINVAL;
		return NULL;
	}
	u = calloc(1, sizeof(*u));
	if (!u) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	u->mode = o->mode;
	u->timeout_ms = o->timeout_ns ? (long)(o->timeout_ns / 1000000) : 10000;
	if (!u->timeout_ms)
		u->timeout_ms = 1;
	u->retries = o->retries;
	u->backoff_initial_ns = o->backoff_initial_ns ? o->backoff_initial_ns : 1000000000ULL;
	u->backoff_max_ns = o->backoff_max_ns > u->backoff_initial_ns ? o->backoff_max_ns
								     : u->backoff_initial_ns;
	if (getrandom(&u->seed, sizeof(u->seed), GRND_NONBLOCK) != sizeof(u->seed))
		u->seed = (unsigned)now_ns();
	u->url = strdup(o->url);
	if (!u->url) {
		ret = -ENOMEM;
		goto oom;
	}
	/* A trailing '/' would double the one every request path starts with. */
	for (size_t n = strlen(u->url); n > 8 && u->url[n - 1] == '/'; n--)
		u->url[n - 1] = '\0';
	if (set(o->tenant_id) && asprintf(&u->tenant_hdr, "X-Scope-OrgID: %s", o->tenant_id) < 0) {
		u->tenant_hdr = NULL;
		ret = -ENOMEM;
		goto oom;
	}
	if (set(o->bearer_token_file)) {
		ret = secret__read(o->bearer_token_file, secret, sizeof(secret), err, errlen);
		if (ret)
			goto fail;
		if (asprintf(&u->auth_hdr, "Authorization: Bearer %s", secret) < 0) {
			u->auth_hdr = NULL;
			ret = -ENOMEM;
		}
		memset(secret, 0, sizeof(secret));
		if (ret)
			goto oom;
	}
	if (set(o->basic_auth_user) != set(o->basic_auth_password_file)) {
		snprintf(err, errlen, "basic auth needs both a user and a password file");
		ret = -EINVAL;
		goto fail;
	}
	if (set(o->basic_auth_user)) {
		ret = secret__read(o->basic_auth_password_file, secret, sizeof(secret), err, errlen);
		if (ret)
			goto fail;
		u->user = strdup(o->basic_auth_user);
		u->password = strdup(secret);
		memset(secret, 0, sizeof(secret));
		if (!u->user || !u->password) {
			ret = -ENOMEM;
			goto oom;
		}
	}
	if (set(o->spool_dir)) {
		u->spool = spool__open(o->spool_dir, o->spool_max_bytes);
		if (!u->spool) {
			ret = -errno;
			snprintf(err, errlen, "spool directory %s: %s", o->spool_dir, strerror(errno));
			goto fail;
		}
	}

	u->curl = curl_easy_init();
	if (!u->curl) {
		ret = -ENOMEM;
		goto oom;
	}
	curl_easy_setopt(u->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(u->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(u->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(u->curl, CURLOPT_TIMEOUT_MS, u->timeout_ms);
	curl_easy_setopt(u->curl, CURLOPT_CONNECTTIMEOUT_MS, u->timeout_ms);
	curl_easy_setopt(u->curl, CURLOPT_USERAGENT, "profd/" PROFD_VERSION);
	curl_easy_setopt(u->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(u->curl, CURLOPT_WRITEDATA, u);
	curl_easy_setopt(u->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(u->curl, CURLOPT_XFERINFODATA, u);
	curl_easy_setopt(u->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(u->curl, CURLOPT_ERRORBUFFER, u->errbuf);
	if (set(o->tls_ca_file))
		curl_easy_setopt(u->curl, CURLOPT_CAINFO, o->tls_ca_file);
	if (o->tls_insecure_skip_verify) {
		curl_easy_setopt(u->curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(u->curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (u->user) {
		curl_easy_setopt(u->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(u->curl, CURLOPT_USERNAME, u->user);
		curl_easy_setopt(u->curl, CURLOPT_PASSWORD, u->password);
	}
	return u;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	uploader__free(u);
	errno = -ret;
	return NULL;
}

void uploader__cancel(struct uploader *u)
{
	atomic_store(&u->cancelled, true);
}

const struct upload_stats *uploader__stats(const struct uploader *u)
{
	return &u->st;
}

const struct spool_stats *uploader__spool_stats(const struct uploader *u)
{
	return u->spool ? spool__stats(u->spool) : NULL;
}

/* One HTTP request. *status is the HTTP status, 0 without an answer. */
static enum outcome attempt(struct uploader *u, const struct upload_item *it, long *status,
			    int64_t *retry_after_ns)
{
	struct curl_slist *hdrs = NULL, *h;
	char ctype[300], timeout[64], url[INGEST_PATH_MAX + 2048];
	curl_off_t retry_after = 0;
	enum outcome out;
	CURLcode rc;

	*status = 0;
	*retry_after_ns = 0;
	snprintf(url, sizeof(url), "%s%s", u->url, it->path ? it->path : "");
	snprintf(ctype, sizeof(ctype), "Content-Type: %s", it->content_type);
	h = curl_slist_append(hdrs, ctype);
	/* No "Expect: 100-continue" round trip before each body. */
	h = h ? curl_slist_append(hdrs = h, "Expect:") : NULL;
	if (h && u->mode == UPLOAD_MODE_PUSH) {
		snprintf(timeout, sizeof(timeout), "Connect-Timeout-Ms: %ld", u->timeout_ms);
		h = curl_slist_append(hdrs = h, "Connect-Protocol-Version: 1");
		h = h ? curl_slist_append(hdrs = h, timeout) : NULL;
	}
	if (h && u->tenant_hdr)
		h = curl_slist_append(hdrs = h, u->tenant_hdr);
	if (h && u->auth_hdr)
		h = curl_slist_append(hdrs = h, u->auth_hdr);
	if (!h) {
		curl_slist_free_all(hdrs);
		return OUT_RETRY;       /* out of memory: keep the profile */
	}
	hdrs = h;

	u->resp_len = 0;
	u->resp[0] = '\0';
	u->errbuf[0] = '\0';
	curl_easy_setopt(u->curl, CURLOPT_URL, url);
	curl_easy_setopt(u->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(u->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(u->curl, CURLOPT_POSTFIELDS, (const char *)it->body);
	curl_easy_setopt(u->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)it->len);
	u->st.attempts++;
	rc = curl_easy_perform(u->curl);
	curl_easy_setopt(u->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);

	if (rc != CURLE_OK) {
		if (!u->store_down)
			log_warn("upload to %s failed: %s", u->url, u->errbuf[0] ? u->errbuf : curl_easy_strerror(rc));
		u->st.last_status = 0;
		u->st.failures++;
		return OUT_RETRY;
	}
	curl_easy_getinfo(u->curl, CURLINFO_RESPONSE_CODE, status);
	u->st.last_status = *status;
	if (*status >= 200 && *status < 300)
		return OUT_OK;
	if (*status >= 500 || *status == 429 || *status == 408) {
		if (curl_easy_getinfo(u->curl, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK &&
		    retry_after > 0)
			*retry_after_ns = (int64_t)retry_after * 1000000000;
		if (!u->store_down)
			log_warn("upload to %s: HTTP %ld, will retry", u->url, *status);
		u->st.failures++;
		out = OUT_RETRY;
	} else {
		out = OUT_FATAL;        /* 3xx (redirects are not followed) and 4xx */
	}
	return out;
}

/* Sleep up to ns, in slices, returning early on cancel. */
static void backoff_sleep(struct uploader *u, int64_t ns)
{
	int64_t end = now_ns() + ns;

	while (!atomic_load(&u->cancelled)) {
		int64_t left = end - now_ns();
		struct timespec ts;

		if (left <= 0)
			break;
		if (left > SLEEP_SLICE_NS)
			left = SLEEP_SLICE_NS;
		ts.tv_sec = left / 1000000000;
		ts.tv_nsec = left % 1000000000;
		nanosleep(&ts, NULL);
	}
}

/* Exponential backoff with "equal jitter": half the step is fixed, half
 * random, so agents restarted together do not retry in lockstep. */
static int64_t backoff_ns(struct uploader *u, unsigned n)
{
	uint64_t step = u->backoff_initial_ns;

	for (unsigned i = 0; i < n && step < u->backoff_max_ns; i++)
		step *= 2;
	if (step > u->backoff_max_ns)
		step = u->backoff_max_ns;
	return (int64_t)(step / 2 + (uint64_t)rand_r(&u->seed) % (step / 2 + 1));
}

static void log_reject(struct uploader *u, long status)
{
	char msg[RESPONSE_KEEP + 1];
	int64_t now = now_ns();

	/* A misconfigured store rejects everything: one line per 10 s. */
	if (u->last_reject_log_ns && now - u->last_reject_log_ns < LOG_INTERVAL_NS) {
		u->rejects_unlogged++;
		return;
	}
	utf8_sanitize(msg, sizeof(msg), u->resp);
	log_err("upload to %s rejected with HTTP %ld: %s (profile dropped%s)", u->url, status,
		msg[0] ? msg : "(no message)",
		u->rejects_unlogged ? "; earlier rejections not logged" : "");
	u->last_reject_log_ns = now;
	u->rejects_unlogged = 0;
}

/* Attempt, then retry up to retries times. */
static enum outcome deliver(struct uploader *u, const struct upload_item *it, unsigned retries)
{
	enum outcome out = OUT_RETRY;
	int64_t retry_after = 0;
	long status = 0;

	for (unsigned i = 0; i <= retries && !atomic_load(&u->cancelled); i++) {
		if (i) {
			int64_t wait = backoff_ns(u, i - 1);

			if (retry_after > wait)
				wait = retry_after < (int64_t)u->backoff_max_ns ? retry_after
										: (int64_t)u->backoff_max_ns;
			backoff_sleep(u, wait);
			if (atomic_load(&u->cancelled))
				break;
		}
		out = attempt(u, it, &status, &retry_after);
		if (out == OUT_OK) {
			if (u->store_down)
				log_info("profile store %s answers again", u->url);
			u->store_down = false;
			u->st.delivered++;
			u->st.delivered_bytes += it->len;
			return out;
		}
		if (out == OUT_FATAL) {
			u->store_down = false;
			u->st.rejected++;
			log_reject(u, status);
			return out;
		}
	}
	if (!u->store_down)
		log_warn("profile store %s unavailable; keeping profiles in the spool", u->url);
	u->store_down = true;
	return OUT_RETRY;
}

int uploader__replay(struct uploader *u, unsigned max)
{
	struct upload_item it;
	enum outcome out;
	int delivered = 0;

	if (!u->spool)
		return 0;
	for (unsigned n = 0; (!max || n < max) && !atomic_load(&u->cancelled); n++) {
		if (spool__peek(u->spool, &it))
			break;
		out = deliver(u, &it, 0);
		upload_item__done(&it);
		if (out == OUT_RETRY)
			break;
		/* Delivered, or rejected for good: either way it leaves. */
		spool__pop(u->spool);
		if (out == OUT_OK) {
			u->st.replayed++;
			delivered++;
		}
	}
	return delivered;
}

static int keep(struct uploader *u, const struct upload_item *it)
{
	int err;

	if (!u->spool) {
		u->st.dropped++;
		return UPLOAD_DROPPED;
	}
	err = spool__push(u->spool, it);
	if (err) {
		u->st.dropped++;
		if (!u->spool_refusing)
			log_warn("spool full or failing (%s): dropping profiles until it takes them "
				 "again (counted in metrics)", strerror(-err));
		u->spool_refusing = true;
		return UPLOAD_DROPPED;
	}
	u->spool_refusing = false;
	u->st.spooled++;
	return UPLOAD_SPOOLED;
}

static int build_item(struct uploader *u, const struct pyroscope_meta *m, const uint8_t *gz,
		      size_t len, struct upload_item *it)
{
	char path[INGEST_PATH_MAX];
	int err;

	memset(it, 0, sizeof(*it));
	switch (u->mode) {
	case UPLOAD_MODE_PUSH:
		err = pyroscope__encode_push(m, gz, len, &it->body, &it->len);
		if (err)
			return err;
		it->path = strdup(PYRO_PUSH_PATH);
		it->content_type = strdup(PYRO_PUSH_CONTENT_TYPE);
		break;
	case UPLOAD_MODE_INGEST:
		err = pyroscope__ingest_path(m, path, sizeof(path));
		if (err)
			return err;
		it->path = strdup(path);
		goto raw;
	case UPLOAD_MODE_PPROF:
		it->path = strdup("");
	raw:
		/* Any type but binary/octet-stream+trie|tree takes the pprof branch. */
		it->content_type = strdup("application/octet-stream");
		it->body = malloc(len ? len : 1);
		if (it->body)
			memcpy(it->body, gz, len);
		it->len = len;
		break;
	default:
		return -EINVAL;
	}
	if (!it->path || !it->content_type || !it->body) {
		upload_item__done(it);
		return -ENOMEM;
	}
	return 0;
}

int uploader__send(struct uploader *u, const struct pyroscope_meta *m, const uint8_t *gz,
		   size_t len)
{
	struct upload_item it;
	enum outcome out;
	int ret;

	ret = build_item(u, m, gz, len, &it);
	if (ret)
		return ret;
	if (atomic_load(&u->cancelled)) {
		ret = keep(u, &it);
		goto out;
	}
	/* Older profiles first; if they cannot go, neither can this one. */
	if (u->spool && spool__stats(u->spool)->items) {
		uploader__replay(u, 0);
		if (spool__stats(u->spool)->items) {
			ret = keep(u, &it);
			goto out;
		}
	}
	out = deliver(u, &it, u->retries);
	if (out == OUT_OK)
		ret = UPLOAD_DELIVERED;
	else if (out == OUT_FATAL)
		ret = UPLOAD_REJECTED;
	else
		ret = keep(u, &it);
out:
	upload_item__done(&it);
	return ret;
}
