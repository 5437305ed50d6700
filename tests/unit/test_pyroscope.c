// SPDX-License-Identifier: Apache-2.0
/* pyroscope: series labels per profile type, label sanitizing, the
 * PushRequest on the wire (field numbers checked by hand, not only through
 * our own .proto), the /ingest query. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/pyroscope.h"
#include "harness.h"
#include "types/profiler.h"
#include "push.pb-c.h"
#include "util/text.h"

/* "name=value,..." of a label set, for compact comparisons. */
static const char *joined(const struct pyro_labelset *ls)
{
	static char buf[8192];
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ls->n; i++)
		off += snprintf(buf + off, sizeof(buf) - off, "%s%s=%s", i ? "," : "", ls->name[i],
				ls->value[i]);
	return buf;
}

void test_pyroscope_labels_per_type(void)
{
	const struct {
		const struct profiler_type *type;
		const char *want;
	} cases[] = {
		{ profiler_type_find("cpu"), "__name__=process_cpu,host=h1,pid=42,process_name=nginx,service_name=web" },
		{ profiler_type_find("heap"),
		  "__delta__=false,__name__=memory,host=h1,pid=42,process_name=nginx,service_name=web" },
		{ profiler_type_find("allocs"),
		  "__delta__=false,__name__=memory,host=h1,pid=42,process_name=nginx,service_name=web" },
		{ profiler_type_find("mutex"), "__name__=mutex,host=h1,pid=42,process_name=nginx,service_name=web" },
		{ profiler_type_find("block"), "__name__=block,host=h1,pid=42,process_name=nginx,service_name=web" },
		{ profiler_type_find("threadcreate"),
		  "__name__=threadcreate,host=h1,pid=42,process_name=nginx,service_name=web" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pyroscope_meta m = { .type = cases[i].type, .service_name = "web",
					    .host = "h1", .pid = 42, .process = "nginx" };
		struct pyro_labelset ls;

		if (!ASSERT_OK(pyroscope__labels(&m, &ls), "labels"))
			continue;
		ASSERT_STREQ(joined(&ls), cases[i].want, cases[i].type->name);
		pyroscope__labels_done(&ls);
	}
	struct pyroscope_meta bad = { .type = NULL };
	struct pyro_labelset ls;

	ASSERT_EQ(pyroscope__labels(&bad, &ls), -EINVAL, "unknown type");
}

void test_pyroscope_label_sanitizing(void)
{
	char longval[3000], name[64];
	struct pyro_label extra[40] = {
		{ "k8s.pod", "p-1" },           /* dot → '_' */
		{ "9lives", "cat" },            /* leading digit → '_' prefix */
		{ "", "dropped" },              /* empty name */
		{ "empty", "" },                /* empty value */
		{ "service_name", "override" }, /* built-in wins */
		{ "long", longval },
	};
	struct pyroscope_meta m = { .type = profiler_type_find("cpu"), .service_name = "",
				    .process = "bad\xff\nname", .extra = extra, .n_extra = 6 };
	struct pyro_labelset ls;

	memset(longval, 'v', sizeof(longval) - 1);
	longval[sizeof(longval) - 1] = '\0';
	if (!ASSERT_OK(pyroscope__labels(&m, &ls), "labels"))
		return;
	/* No host given, no pid: those labels are left out. */
	ASSERT_EQ(ls.n, 6, "count");
	for (size_t i = 0; i < ls.n; i++) {
		ASSERT_TRUE(utf8_valid(ls.value[i], strlen(ls.value[i])), "utf8 value");
		ASSERT_TRUE(strlen(ls.value[i]) <= PYRO_MAX_VALUE_LEN, "value length");
		if (!strcmp(ls.name[i], "long"))
			ASSERT_EQ(strlen(ls.value[i]), PYRO_MAX_VALUE_LEN, "cut to the limit");
	}
	ASSERT_STREQ(ls.name[0], "_9lives", "digit prefixed (sorted first)");
	ASSERT_STREQ(ls.name[1], "__name__", "__name__");
	ASSERT_STREQ(ls.name[2], "k8s_pod", "dot replaced");
	ASSERT_STREQ(ls.name[3], "long", "long");
	ASSERT_STREQ(ls.name[4], "process_name", "process_name");
	ASSERT_STREQ(ls.value[4], "bad??name", "raw comm made valid");
	ASSERT_STREQ(ls.name[5], "service_name", "service_name");
	ASSERT_STREQ(ls.value[5], "bad??name", "service falls back to the process");
	pyroscope__labels_done(&ls);

	/* No service, no process: the server's own default, set explicitly. */
	m.process = NULL;
	m.n_extra = 0;
	if (ASSERT_OK(pyroscope__labels(&m, &ls), "labels 2")) {
		ASSERT_STREQ(joined(&ls), "__name__=process_cpu,service_name=unknown_service", "fallback");
		pyroscope__labels_done(&ls);
	}

	/* Too many labels: capped at the server's limit, built-ins kept. */
	for (int i = 0; i < 40; i++) {
		static char names[40][16];

		snprintf(names[i], sizeof(names[i]), "extra%02d", i);
		extra[i].name = names[i];
		extra[i].value = "x";
	}
	m.n_extra = 40;
	m.service_name = "svc";
	if (ASSERT_OK(pyroscope__labels(&m, &ls), "labels 3")) {
		ASSERT_EQ(ls.n, PYRO_MAX_LABELS, "capped");
		ASSERT_TRUE(strstr(joined(&ls), "service_name=svc") != NULL, "built-in kept");
		pyroscope__labels_done(&ls);
	}

	snprintf(name, sizeof(name), "a-b c");
	ASSERT_TRUE(pyroscope__sanitize_label_name(name, sizeof(name)), "sanitize");
	ASSERT_STREQ(name, "a_b_c", "sanitized");
	name[0] = '\0';
	ASSERT_FALSE(pyroscope__sanitize_label_name(name, sizeof(name)), "empty");
}

/* Minimal protobuf walker: the key of the next field, and its LEN payload. */
static bool next_field(const uint8_t **p, const uint8_t *end, unsigned *field, unsigned *wt,
		       const uint8_t **val, size_t *len)
{
	uint64_t key = 0, l = 0;
	int shift = 0;

	if (*p >= end)
		return false;
	while (*p < end && shift < 64) {
		uint8_t b = *(*p)++;

		key |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80))
			break;
	}
	*field = key >> 3;
	*wt = key & 7;
	if (*wt != 2)
		return false;
	shift = 0;
	while (*p < end && shift < 64) {
		uint8_t b = *(*p)++;

		l |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80))
			break;
	}
	if (l > (size_t)(end - *p))
		return false;
	*val = *p;
	*len = l;
	*p += l;
	return true;
}

void test_pyroscope_push_wire(void)
{
	static const uint8_t profile[] = { 0x1f, 0x8b, 0x08, 0x00, 'p', 'r', 'o', 'f' };
	struct pyroscope_meta m = { .type = profiler_type_find("block"), .service_name = "db", .host = "h",
				    .pid = 7, .process = "postgres" };
	const uint8_t *p, *end, *v, *sp, *send, *sv;
	unsigned field, wt, nlabels = 0, nsamples = 0;
	Push__V1__PushRequest *req;
	uint8_t *buf = NULL, *buf2 = NULL;
	size_t len = 0, len2 = 0, vl, svl;
	char id[64] = "";

	if (!ASSERT_OK(pyroscope__encode_push(&m, profile, sizeof(profile), &buf, &len), "encode"))
		return;
	/* PushRequest.series = 1 */
	p = buf;
	end = buf + len;
	ASSERT_TRUE(next_field(&p, end, &field, &wt, &v, &vl), "series field");
	ASSERT_EQ(field, 1, "PushRequest.series is field 1");
	ASSERT_TRUE(p == end, "one series");
	/* RawProfileSeries.labels = 1, .samples = 2 */
	sp = v;
	send = v + vl;
	while (next_field(&sp, send, &field, &wt, &sv, &svl)) {
		if (field == 1) {
			nlabels++;
		} else if (field == 2) {
			const uint8_t *q = sv, *qe = sv + svl, *fv;
			unsigned f2, w2;
			size_t fl;

			nsamples++;
			while (next_field(&q, qe, &f2, &w2, &fv, &fl)) {
				if (f2 == 1) {
					ASSERT_EQ(fl, sizeof(profile), "RawSample.raw_profile is field 1");
					ASSERT_TRUE(!memcmp(fv, profile, fl), "raw bytes");
				} else if (f2 == 2 && fl < sizeof(id)) {
					memcpy(id, fv, fl);
					id[fl] = '\0';
				}
			}
		}
	}
	ASSERT_EQ(nlabels, 5, "labels are field 1");
	ASSERT_EQ(nsamples, 1, "samples are field 2");
	ASSERT_EQ(strlen(id), 36, "RawSample.ID is field 2, a UUID");
	ASSERT_TRUE(id[14] == '4' && strchr("89ab", id[19]), "version 4 UUID");

	/* And through protobuf-c: the labels in order. */
	req = push__v1__push_request__unpack(NULL, len, buf);
	if (ASSERT_OK_PTR(req, "unpack") && ASSERT_EQ(req->n_series, 1, "series")) {
		Push__V1__RawProfileSeries *s = req->series[0];

		if (ASSERT_EQ(s->n_labels, 5, "n_labels") && ASSERT_EQ(s->n_samples, 1, "n_samples")) {
			ASSERT_STREQ(s->labels[0]->name, "__name__", "first label");
			ASSERT_STREQ(s->labels[0]->value, "block", "block is not mutex");
			ASSERT_STREQ(s->labels[4]->name, "service_name", "last label");
			ASSERT_STREQ(s->labels[4]->value, "db", "service");
			ASSERT_STREQ(s->samples[0]->id, id, "id");
		}
	}
	push__v1__push_request__free_unpacked(req, NULL);

	/* A second encoding gets its own ID. */
	if (ASSERT_OK(pyroscope__encode_push(&m, profile, sizeof(profile), &buf2, &len2), "encode 2")) {
		req = push__v1__push_request__unpack(NULL, len2, buf2);
		if (ASSERT_OK_PTR(req, "unpack 2"))
			ASSERT_TRUE(strcmp(req->series[0]->samples[0]->id, id) != 0, "fresh id");
		push__v1__push_request__free_unpacked(req, NULL);
	}
	free(buf);
	free(buf2);
}

void test_pyroscope_ingest_path(void)
{
	struct pyroscope_meta m = { .type = profiler_type_find("cpu"), .service_name = "my app{x}", .host = "h-1",
				    .pid = 42, .process = "a,b=c", .start_ns = 1700000000123456789LL,
				    .end_ns = 1700000010000000001LL };
	char buf[300], small[40];

	if (!ASSERT_OK(pyroscope__ingest_path(&m, buf, sizeof(buf)), "ingest"))
		return;
	/* name = my_app_x_{host=h-1,pid=42,process_name=a_b_c}, URL-encoded; from
	 * rounds down, until up. */
	ASSERT_STREQ(buf,
		     "/ingest?name=my_app_x_%7Bhost%3Dh-1%2Cpid%3D42%2Cprocess_name%3Da_b_c%7D"
		     "&from=1700000000&until=1700000011&format=pprof",
		     "path");
	ASSERT_EQ(pyroscope__ingest_path(&m, small, sizeof(small)), -ENAMETOOLONG, "too small");
	ASSERT_STREQ(small, "", "nothing half-written");
}
