// SPDX-License-Identifier: Apache-2.0
/* pyroscope: series labels, PushRequest encoding, /ingest query. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "export/pyroscope.h"
#include "push.pb-c.h"
#include "util/text.h"

static const char *const profile_names[PROFD_PT_MAX] = {
	[PROFD_PT_CPU] = "process_cpu", [PROFD_PT_HEAP] = "memory",
	[PROFD_PT_ALLOCS] = "memory",   [PROFD_PT_MUTEX] = "mutex",
	[PROFD_PT_BLOCK] = "block",     [PROFD_PT_THREADCREATE] = "threadcreate",
	[PROFD_PT_THREADS] = "goroutine", /* threads: Go's name for a thread snapshot */
};

const char *pyroscope__profile_name(enum profd_ptype type)
{
	return (unsigned)type < PROFD_PT_MAX ? profile_names[type] : NULL;
}

static bool name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}

bool pyroscope__sanitize_label_name(char *name, size_t size)
{
	size_t n = strnlen(name, size);

	if (!n)
		return false;
	if (n > PYRO_MAX_NAME_LEN)
		n = PYRO_MAX_NAME_LEN;
	name[n] = '\0';
	if (name[0] >= '0' && name[0] <= '9' && n + 1 < size && n < PYRO_MAX_NAME_LEN) {
		memmove(name + 1, name, n + 1);
		name[0] = '_';
		n++;
	}
	for (size_t i = 0; i < n; i++)
		if (!name_char(name[i], i == 0))
			name[i] = '_';
	return true;
}

/* Add (name, value) unless name is taken or either is empty after cleaning. */
static int add_label(struct pyro_labelset *ls, const char *name, const char *value)
{
	char *n = NULL, *v = NULL;
	size_t nlen, vsz;

	if (!name || !value || ls->n >= PYRO_MAX_LABELS)
		return 0;
	nlen = strnlen(name, PYRO_MAX_NAME_LEN + 1);
	n = malloc(nlen + 2);
	vsz = strnlen(value, PYRO_MAX_VALUE_LEN * 4) + 1;
	v = malloc(vsz < PYRO_MAX_VALUE_LEN + 1 ? vsz : PYRO_MAX_VALUE_LEN + 1);
	if (!n || !v)
		goto nomem;
	memcpy(n, name, nlen);
	n[nlen] = '\0';
	if (!pyroscope__sanitize_label_name(n, nlen + 2))
		goto skip;
	utf8_sanitize(v, vsz < PYRO_MAX_VALUE_LEN + 1 ? vsz : PYRO_MAX_VALUE_LEN + 1, value);
	if (!*v)
		goto skip;
	for (size_t i = 0; i < ls->n; i++)
		if (!strcmp(ls->name[i], n))
			goto skip;
	ls->name[ls->n] = n;
	ls->value[ls->n] = v;
	ls->n++;
	return 0;
skip:
	free(n);
	free(v);
	return 0;
nomem:
	free(n);
	free(v);
	return -ENOMEM;
}

void pyroscope__labels_done(struct pyro_labelset *ls)
{
	if (!ls)
		return;
	for (size_t i = 0; i < ls->n; i++) {
		free(ls->name[i]);
		free(ls->value[i]);
	}
	ls->n = 0;
}

int pyroscope__labels(const struct pyroscope_meta *m, struct pyro_labelset *ls)
{
	const char *family = pyroscope__profile_name(m->type);
	const char *service = m->service_name;
	char pid[16];
	int err = 0;

	ls->n = 0;
	if (!family)
		return -EINVAL;
	if (!service || !*service)
		service = m->process && *m->process ? m->process : "unknown_service";
	snprintf(pid, sizeof(pid), "%d", m->pid);

	/* Built-ins first: add_label() keeps the first of equal names. */
	err = err ?: add_label(ls, "__name__", family);
	err = err ?: add_label(ls, "service_name", service);
	/* Interval profiles are deltas; without this the v1 ingester takes
	 * memory alloc_* series as cumulative and differences them. */
	if (m->type == PROFD_PT_HEAP || m->type == PROFD_PT_ALLOCS)
		err = err ?: add_label(ls, "__delta__", "false");
	err = err ?: add_label(ls, "host", m->host);
	if (m->pid > 0)
		err = err ?: add_label(ls, "pid", pid);
	err = err ?: add_label(ls, "process_name", m->process);
	for (size_t i = 0; i < m->n_extra && !err; i++)
		err = add_label(ls, m->extra[i].name, m->extra[i].value);
	if (err) {
		pyroscope__labels_done(ls);
		return err;
	}
	/* Insertion sort by name: at most PYRO_MAX_LABELS entries. */
	for (size_t i = 1; i < ls->n; i++) {
		for (size_t j = i; j > 0 && strcmp(ls->name[j - 1], ls->name[j]) > 0; j--) {
			char *tn = ls->name[j], *tv = ls->value[j];

			ls->name[j] = ls->name[j - 1];
			ls->value[j] = ls->value[j - 1];
			ls->name[j - 1] = tn;
			ls->value[j - 1] = tv;
		}
	}
	return 0;
}

/* RFC 4122 version 4 UUID; on a getrandom() failure the clock still makes it
 * unique enough for an ID the server only records. */
static void uuid4(char out[37])
{
	uint8_t b[16];
	struct timespec ts;

	if (getrandom(b, sizeof(b), GRND_NONBLOCK) != sizeof(b)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		memcpy(b, &ts, sizeof(b) < sizeof(ts) ? sizeof(b) : sizeof(ts));
	}
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
		 b[12], b[13], b[14], b[15]);
}

int pyroscope__encode_push(const struct pyroscope_meta *m, const uint8_t *profile, size_t len,
			   uint8_t **buf, size_t *buf_len)
{
	Push__V1__LabelPair pairs[PYRO_MAX_LABELS], *ppairs[PYRO_MAX_LABELS];
	Push__V1__PushRequest req = PUSH__V1__PUSH_REQUEST__INIT;
	Push__V1__RawProfileSeries series = PUSH__V1__RAW_PROFILE_SERIES__INIT, *pseries = &series;
	Push__V1__RawSample sample = PUSH__V1__RAW_SAMPLE__INIT, *psample = &sample;
	struct pyro_labelset ls;
	char id[37];
	uint8_t *out;
	size_t n;
	int err;

	err = pyroscope__labels(m, &ls);
	if (err)
		return err;
	for (size_t i = 0; i < ls.n; i++) {
		push__v1__label_pair__init(&pairs[i]);
		pairs[i].name = ls.name[i];
		pairs[i].value = ls.value[i];
		ppairs[i] = &pairs[i];
	}
	uuid4(id);
	sample.raw_profile.data = (uint8_t *)profile;
	sample.raw_profile.len = len;
	sample.id = id;
	series.n_labels = ls.n;
	series.labels = ppairs;
	series.n_samples = 1;
	series.samples = &psample;
	req.n_series = 1;
	req.series = &pseries;

	n = push__v1__push_request__get_packed_size(&req);
	out = malloc(n ? n : 1);
	if (!out) {
		err = -ENOMEM;
		goto cleanup;
	}
	push__v1__push_request__pack(&req, out);
	*buf = out;
	*buf_len = n;
cleanup:
	pyroscope__labels_done(&ls);
	return err;
}

/* Characters the legacy name parser takes in an app name or a tag value; the
 * rest ('{', '}', ',', '=', spaces, non-ASCII) would break "app{k=v}". */
static char ingest_char(char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '_' || c == '.' || c == '-' || c == '/')
		return c;
	return '_';
}

/* Append s percent-encoded (after ingest_char() when clean) to buf. */
static int append(char *buf, size_t size, size_t *off, const char *s, bool clean, bool encode)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		char c = clean ? ingest_char(*s) : *s;
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';

		if (!encode || plain) {
			if (*off + 1 >= size)
				return -ENAMETOOLONG;
			buf[(*off)++] = c;
		} else {
			if (*off + 3 >= size)
				return -ENAMETOOLONG;
			buf[(*off)++] = '%';
			buf[(*off)++] = hex[(unsigned char)c >> 4];
			buf[(*off)++] = hex[(unsigned char)c & 15];
		}
	}
	buf[*off] = '\0';
	return 0;
}

int pyroscope__ingest_path(const struct pyroscope_meta *m, char *buf, size_t size)
{
	struct pyro_labelset ls;
	const char *service = NULL;
	char num[64];
	size_t off = 0;
	bool first = true;
	int err;

	if (!size)
		return -ENAMETOOLONG;
	buf[0] = '\0';
	err = pyroscope__labels(m, &ls);
	if (err)
		return err;
	for (size_t i = 0; i < ls.n; i++)
		if (!strcmp(ls.name[i], "service_name"))
			service = ls.value[i];
	err = append(buf, size, &off, "/ingest?name=", false, false);
	err = err ?: append(buf, size, &off, service ? service : "unknown_service", true, true);
	err = err ?: append(buf, size, &off, "{", false, true);
	for (size_t i = 0; i < ls.n && !err; i++) {
		/* The server sets __name__ from the sample types and drops
		 * user labels starting with "__"; service_name is the app name. */
		if (!strncmp(ls.name[i], "__", 2) || !strcmp(ls.name[i], "service_name"))
			continue;
		err = err ?: append(buf, size, &off, first ? "" : ",", false, true);
		err = err ?: append(buf, size, &off, ls.name[i], false, true);
		err = err ?: append(buf, size, &off, "=", false, true);
		err = err ?: append(buf, size, &off, ls.value[i], true, true);
		first = false;
	}
	err = err ?: append(buf, size, &off, "}", false, true);
	snprintf(num, sizeof(num), "&from=%" PRId64 "&until=%" PRId64 "&format=pprof",
		 m->start_ns / 1000000000, (m->end_ns + 999999999) / 1000000000);
	err = err ?: append(buf, size, &off, num, false, false);
	pyroscope__labels_done(&ls);
	if (err)
		buf[0] = '\0';
	return err;
}
