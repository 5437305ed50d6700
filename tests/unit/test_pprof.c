// SPDX-License-Identifier: Apache-2.0
/* pprof builder and encoder: profiles built through the API are gunzipped
 * and unpacked with protobuf-c and checked field by field, written to disk
 * and read back with the real `go tool pprof` (which must be installed: its
 * absence fails these tests), and every out-of-memory path is walked with
 * the builder's test hook, pprof_test_alloc_fails(), defined here. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "harness.h"
#include "pprof/pprof.h"
#include "profile.pb-c.h"

typedef Perftools__Profiles__Profile Profile;

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The builder's fault-injection hook (weak in daemon/pprof; only the test
 * build defines it): the nth allocation from now on (n >= 1, counting
 * zlib's) fails once with ENOMEM; 0 disables. */
bool pprof_test_alloc_fails(void);
static unsigned long fail_nth;

bool pprof_test_alloc_fails(void)
{
	return fail_nth && --fail_nth == 0;
}

static void inject_alloc_failure(unsigned long nth)
{
	fail_nth = nth;
}

/* ---- helpers: gunzip, decode, validate ---- */

static int gunzip(const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen)
{
	z_stream zs = { 0 };
	size_t cap = inlen * 4 + 64, len = 0;
	uint8_t *buf = malloc(cap);
	int ret;

	if (!buf || inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
		free(buf);
		return -ENOMEM;
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = inlen;
	do {
		if (len == cap) {
			uint8_t *nb = realloc(buf, cap *= 2);

			if (!nb) {
				ret = Z_MEM_ERROR;
				break;
			}
			buf = nb;
		}
		zs.next_out = buf + len;
		zs.avail_out = cap - len;
		ret = inflate(&zs, Z_NO_FLUSH);
		len = cap - zs.avail_out;
	} while (ret == Z_OK);
	inflateEnd(&zs);
	/* A single gzip member that ends exactly at the end of the input. */
	if (ret != Z_STREAM_END || zs.avail_in) {
		free(buf);
		return -EINVAL;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

/* How often a top-level field number occurs in a serialized message. */
static int count_field(const uint8_t *b, size_t len, unsigned field)
{
	size_t i = 0;
	int n = 0;

	while (i < len) {
		uint64_t key = 0, v = 0;
		int shift = 0;

		do
			key |= (uint64_t)(b[i] & 0x7f) << shift, shift += 7;
		while (b[i++] & 0x80 && i < len);
		if ((key >> 3) == field)
			n++;
		switch (key & 7) {
		case 0:
			while (i < len && b[i++] & 0x80)
				;
			break;
		case 1:
			i += 8;
			break;
		case 2:
			shift = 0;
			do
				v |= (uint64_t)(b[i] & 0x7f) << shift, shift += 7;
			while (b[i++] & 0x80 && i < len);
			i += v;
			break;
		case 5:
			i += 4;
			break;
		default:
			return -1;
		}
	}
	return n;
}

/* Encodes p, checks the gzip framing, and unpacks it. */
static Profile *decode(const struct pprof *p, const char *name, uint8_t **raw, size_t *rawlen)
{
	uint8_t *gz = NULL, *pb = NULL;
	size_t gzlen = 0, pblen = 0;
	Profile *prof = NULL;

	if (!ASSERT_OK(pprof__encode(p, &gz, &gzlen), name))
		return NULL;
	ASSERT_TRUE(gzlen > 18 && gz[0] == 0x1f && gz[1] == 0x8b, name);
	if (ASSERT_OK(gunzip(gz, gzlen, &pb, &pblen), name)) {
		prof = perftools__profiles__profile__unpack(NULL, pblen, pb);
		ASSERT_OK_PTR(prof, name);
	}
	if (raw && prof) {
		*raw = pb;
		*rawlen = pblen;
		pb = NULL;
	}
	free(pb);
	free(gz);
	return prof;
}

static const char *S(const Profile *prof, int64_t idx)
{
	if (idx < 0 || (size_t)idx >= prof->n_string_table)
		return "<out of range>";
	return prof->string_table[idx];
}

static bool idx_ok(const Profile *prof, int64_t idx)
{
	return idx >= 0 && (size_t)idx < prof->n_string_table;
}

/* What Go's profile.CheckValid and Parca demand, plus profd's own promises
 * (dense ids, no duplicate strings, merged samples). */
static void check_valid(const Profile *prof, const char *name)
{
	bool ok = true;

	ok &= ASSERT_TRUE(prof->n_string_table >= 1, name);
	ok &= ASSERT_STREQ(prof->string_table[0], "", name);
	if (prof->n_string_table < 4000)
		for (size_t i = 0; i < prof->n_string_table; i++)
			for (size_t j = i + 1; j < prof->n_string_table; j++)
				ok &= ASSERT_TRUE(strcmp(prof->string_table[i], prof->string_table[j]), name);
	for (size_t i = 0; i < prof->n_sample_type; i++)
		ok &= ASSERT_TRUE(idx_ok(prof, prof->sample_type[i]->type) &&
				  idx_ok(prof, prof->sample_type[i]->unit), name);
	if (prof->period_type)
		ok &= ASSERT_TRUE(idx_ok(prof, prof->period_type->type) &&
				  idx_ok(prof, prof->period_type->unit), name);
	for (size_t i = 0; i < prof->n_comment; i++)
		ok &= ASSERT_TRUE(prof->comment[i] > 0 && idx_ok(prof, prof->comment[i]), name);
	ok &= ASSERT_TRUE(idx_ok(prof, prof->default_sample_type), name);
	for (size_t i = 0; i < prof->n_mapping; i++) {
		const Perftools__Profiles__Mapping *m = prof->mapping[i];

		ok &= ASSERT_EQ(m->id, i + 1, name);
		ok &= ASSERT_TRUE(idx_ok(prof, m->filename) && idx_ok(prof, m->build_id), name);
	}
	for (size_t i = 0; i < prof->n_function; i++) {
		const Perftools__Profiles__Function *f = prof->function[i];

		ok &= ASSERT_EQ(f->id, i + 1, name);
		ok &= ASSERT_TRUE(idx_ok(prof, f->name) && idx_ok(prof, f->system_name) &&
				  idx_ok(prof, f->filename), name);
	}
	for (size_t i = 0; i < prof->n_location; i++) {
		const Perftools__Profiles__Location *l = prof->location[i];

		ok &= ASSERT_EQ(l->id, i + 1, name);
		ok &= ASSERT_TRUE(l->mapping_id <= prof->n_mapping, name);
		for (size_t j = 0; j < l->n_line; j++)
			ok &= ASSERT_TRUE(l->line[j]->function_id >= 1 &&
					  l->line[j]->function_id <= prof->n_function, name);
	}
	for (size_t i = 0; i < prof->n_sample; i++) {
		const Perftools__Profiles__Sample *s = prof->sample[i];

		ok &= ASSERT_EQ(s->n_value, prof->n_sample_type, name);
		for (size_t j = 0; j < s->n_location_id; j++)
			ok &= ASSERT_TRUE(s->location_id[j] >= 1 &&
					  s->location_id[j] <= prof->n_location, name);
		for (size_t j = 0; j < s->n_label; j++)
			ok &= ASSERT_TRUE(s->label[j]->key > 0 && idx_ok(prof, s->label[j]->key) &&
					  idx_ok(prof, s->label[j]->str) &&
					  idx_ok(prof, s->label[j]->num_unit), name);
	}
	/* Merging: no two samples with the same stack and the same labels. */
	if (prof->n_sample < 3000) {
		for (size_t i = 0; i < prof->n_sample; i++) {
			for (size_t j = i + 1; j < prof->n_sample; j++) {
				const Perftools__Profiles__Sample *a = prof->sample[i], *b = prof->sample[j];
				bool same = a->n_location_id == b->n_location_id &&
					    a->n_label == b->n_label;

				for (size_t k = 0; same && k < a->n_location_id; k++)
					same = a->location_id[k] == b->location_id[k];
				for (size_t k = 0; same && k < a->n_label; k++)
					same = a->label[k]->key == b->label[k]->key &&
					       a->label[k]->str == b->label[k]->str &&
					       a->label[k]->num == b->label[k]->num &&
					       a->label[k]->num_unit == b->label[k]->num_unit;
				ok &= ASSERT_FALSE(same, name);
			}
		}
	}
	if (!ok)
		fprintf(stderr, "  (profile check '%s' failed)\n", name);
}

/* ---- helpers: files, commands, go tool pprof ---- */

static bool make_tmpdir(char *dir, size_t size)
{
	snprintf(dir, size, "/tmp/profd-test-pprof-XXXXXX");
	return ASSERT_OK_PTR(mkdtemp(dir), "mkdtemp");
}

static void remove_tmpdir(const char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "  warning: could not remove %s\n", dir);
}

/* Runs a shell command; returns its exit status (-1 if it did not exit)
 * and its stdout+stderr in *out (malloc'ed, NUL-terminated). */
static int run(char **out, const char *fmt, ...)
{
	char cmd[4096], *buf = NULL;
	size_t len = 0, cap = 0;
	va_list ap;
	FILE *f;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	*out = NULL;
	f = popen(cmd, "r");
	if (!f)
		return -1;
	for (;;) {
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 65536);

			if (!nb)
				break;
			buf = nb;
		}
		size_t n = fread(buf + len, 1, cap - len - 1, f);
		if (!n)
			break;
		len += n;
	}
	if (buf)
		buf[len] = '\0';
	*out = buf;
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* go tool pprof with HOME and PPROF_TMPDIR in dir, so it writes nothing into
 * the real home, and PPROF_BINARY_PATH there too, so only the mapping
 * filenames themselves can be found for symbolization. */
static char *pprof_tool(const char *dir, const char *args, const char *file, const char *name)
{
	char *out = NULL;
	int st;

	st = run(&out, "cd '%s' && HOME='%s' PPROF_TMPDIR='%s' PPROF_BINARY_PATH='%s' "
		       "go tool pprof %s '%s' 2>&1",
		 dir, dir, dir, dir, args, file);
	if (!ASSERT_EQ(st, 0, name))
		fprintf(stderr, "  go tool pprof %s %s:\n%s\n", args, file, out ? out : "");
	if (!ASSERT_OK_PTR(out, name)) {
		free(out);
		return NULL;
	}
	return out;
}

static bool contains(const char *hay, const char *needle, const char *name)
{
	bool ok = hay && strstr(hay, needle);

	if (!ASSERT_TRUE(ok, name))
		fprintf(stderr, "  missing \"%s\" in:\n%s\n", needle, hay ? hay : "(null)");
	return ok;
}

static bool lacks(const char *hay, const char *needle, const char *name)
{
	bool ok = hay && !strstr(hay, needle);

	if (!ASSERT_TRUE(ok, name))
		fprintf(stderr, "  unexpected \"%s\" in:\n%s\n", needle, hay ? hay : "(null)");
	return ok;
}

/* The line after the first line that reads `want` once runs of blanks are
 * squeezed and the ends trimmed, squeezed the same way; NULL if absent.
 * -raw prints samples as "  3   30000000: 1 2 " followed by label lines. */
static char *squeeze(const char *s, size_t n)
{
	char *r = malloc(n + 1), *w = r;

	if (!r)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == ' ' || s[i] == '\t') {
			if (w != r && w[-1] != ' ')
				*w++ = ' ';
			continue;
		}
		*w++ = s[i];
	}
	while (w != r && w[-1] == ' ')
		w--;
	*w = '\0';
	return r;
}

static bool find_line(const char *text, const char *want, char **next)
{
	const char *line = text;

	if (next)
		*next = NULL;
	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t n = end ? (size_t)(end - line) : strlen(line);
		char *sq = squeeze(line, n);
		bool hit = sq && !strcmp(sq, want);

		free(sq);
		if (hit) {
			if (next && end) {
				const char *e2 = strchr(end + 1, '\n');

				*next = squeeze(end + 1, e2 ? (size_t)(e2 - end - 1) : strlen(end + 1));
			}
			return true;
		}
		line = end ? end + 1 : NULL;
	}
	return false;
}

static bool has_line(const char *text, const char *want, const char *name)
{
	bool ok = find_line(text, want, NULL);

	if (!ASSERT_TRUE(ok, name))
		fprintf(stderr, "  no line \"%s\" in:\n%s\n", want, text ? text : "(null)");
	return ok;
}

/* ---- builder and encoding, checked through protobuf-c ---- */

void test_pprof_dedup_and_ids(void)
{
	struct pprof_mapping m1 = { 0x400000, 0x500000, 0x1000, "/bin/a", "abcd" };
	struct pprof_mapping m;
	uint64_t id, f1, f2, l1;
	struct pprof *p;

	p = pprof__new();
	if (!ASSERT_OK_PTR(p, "new"))
		return;
	/* An empty builder encodes to a profile holding just string_table[0]. */
	Profile *prof = decode(p, "empty", NULL, NULL);

	if (prof) {
		check_valid(prof, "empty valid");
		ASSERT_EQ(prof->n_string_table, 1, "empty string table");
		ASSERT_TRUE(!prof->n_sample && !prof->n_sample_type && !prof->n_mapping &&
			    !prof->n_location && !prof->n_function && !prof->period_type,
			    "empty profile");
		perftools__profiles__profile__free_unpacked(prof, NULL);
	}
	ASSERT_EQ(pprof__mapping(p, &m1), 1, "first mapping");
	ASSERT_EQ(pprof__mapping(p, &m1), 1, "same mapping");
	/* Each key field on its own makes a new mapping. */
	m = m1;
	m.start++;
	ASSERT_EQ(pprof__mapping(p, &m), 2, "start differs");
	m = m1;
	m.limit++;
	ASSERT_EQ(pprof__mapping(p, &m), 3, "limit differs");
	m = m1;
	m.offset++;
	ASSERT_EQ(pprof__mapping(p, &m), 4, "offset differs");
	m = m1;
	m.filename = "/bin/b";
	ASSERT_EQ(pprof__mapping(p, &m), 5, "filename differs");
	m = m1;
	m.build_id = "abce";
	ASSERT_EQ(pprof__mapping(p, &m), 6, "build id differs");
	m = m1;
	m.build_id = NULL;
	id = pprof__mapping(p, &m);
	ASSERT_EQ(id, 7, "no build id");
	m.build_id = "";
	ASSERT_EQ(pprof__mapping(p, &m), id, "NULL and empty build id are the same");
	ASSERT_EQ(pprof__mapping(p, &m1), 1, "first mapping again");

	f1 = pprof__function(p, "foo", "_Z3foov", "foo.c", 10);
	ASSERT_EQ(f1, 1, "function 1");
	ASSERT_EQ(pprof__function(p, "foo", "_Z3foov", "foo.c", 10), f1, "same function");
	ASSERT_EQ(pprof__function(p, "foo", "_Z3foov", "foo.c", 11), 2, "start line differs");
	ASSERT_EQ(pprof__function(p, "foo", "foo", "foo.c", 10), 3, "system name differs");
	ASSERT_EQ(pprof__function(p, "foo", "_Z3foov", "bar.c", 10), 4, "filename differs");
	f2 = pprof__function(p, "bar", "_Z3foov", "foo.c", 10);
	ASSERT_EQ(f2, 5, "name differs");
	ASSERT_EQ(pprof__function(p, NULL, NULL, NULL, 0), 6, "all empty");
	ASSERT_EQ(pprof__function(p, "", "", "", 0), 6, "NULL and \"\" are the same");

	l1 = pprof__location(p, 1, 0x401000, &(struct pprof_line){ f1, 12 }, 1);
	ASSERT_EQ(l1, 1, "location 1");
	/* Same (mapping, address): the first lines win. */
	ASSERT_EQ(pprof__location(p, 1, 0x401000, &(struct pprof_line){ f2, 99 }, 1), l1,
		  "same location");
	ASSERT_EQ(pprof__location(p, 2, 0x401000, NULL, 0), 2, "mapping differs");
	ASSERT_EQ(pprof__location(p, 1, 0x401001, NULL, 0), 3, "address differs");
	ASSERT_EQ(pprof__location(p, 0, 0x401000, NULL, 0), 4, "no mapping");
	/* Found as added, and nothing added by looking. */
	ASSERT_EQ(pprof__location_find(p, 1, 0x401000), l1, "find location 1");
	ASSERT_EQ(pprof__location_find(p, 1, 0x401001), 3, "find by address");
	ASSERT_EQ(pprof__location_find(p, 0, 0x401000), 4, "find without mapping");
	ASSERT_EQ(pprof__location_find(p, 2, 0x401001), 0, "find absent");
	ASSERT_EQ(pprof__location_find(NULL, 1, 0x401000), 0, "find NULL");
	/* (the 4 locations encoded below show that looking added none) */

	/* Bad input: errno EINVAL and nothing added. */
	errno = 0;
	ASSERT_EQ(pprof__location(p, 8, 0x1, NULL, 0), 0, "unknown mapping");
	ASSERT_EQ(errno, EINVAL, "unknown mapping errno");
	errno = 0;
	ASSERT_EQ(pprof__location(p, 1, 0x2, &(struct pprof_line){ 7, 1 }, 1), 0, "unknown function");
	ASSERT_EQ(errno, EINVAL, "unknown function errno");
	ASSERT_EQ(pprof__location(p, 1, 0x2, &(struct pprof_line){ 0, 1 }, 1), 0, "function 0");
	ASSERT_EQ(pprof__location(p, 1, 0x2, NULL, 1), 0, "lines NULL");
	ASSERT_EQ(pprof__mapping(p, NULL), 0, "mapping NULL");
	ASSERT_EQ(pprof__mapping(NULL, &m1), 0, "builder NULL");
	ASSERT_EQ(pprof__mapping_mark(p, 0, PPROF_HAS_FUNCTIONS), -EINVAL, "mark id 0");
	ASSERT_EQ(pprof__mapping_mark(p, 8, PPROF_HAS_FUNCTIONS), -EINVAL, "mark unknown id");
	ASSERT_EQ(pprof__mapping_mark(p, 1, 1u << 4), -EINVAL, "mark unknown flag");
	ASSERT_EQ(pprof__add_sample(p, &l1, 1, (int64_t[]){ 1 }, NULL, 0), -EINVAL,
		  "sample before sample types");
	ASSERT_EQ(pprof__add_sample_type(p, NULL, "count"), -EINVAL, "type NULL");
	ASSERT_EQ(pprof__add_sample_type(p, "", "count"), -EINVAL, "type empty");
	ASSERT_OK(pprof__add_sample_type(p, "samples", "count"), "sample type");
	ASSERT_EQ(pprof__add_sample(p, (uint64_t[]){ 5 }, 1, (int64_t[]){ 1 }, NULL, 0), -EINVAL,
		  "unknown location");
	ASSERT_EQ(pprof__add_sample(p, (uint64_t[]){ 0 }, 1, (int64_t[]){ 1 }, NULL, 0), -EINVAL,
		  "location 0");
	ASSERT_EQ(pprof__add_sample(p, &l1, 1, NULL, NULL, 0), -EINVAL, "values NULL");
	ASSERT_EQ(pprof__add_sample(p, &l1, 1, (int64_t[]){ 1 },
				    &(struct pprof_label){ .key = NULL, .str = "x" }, 1),
		  -EINVAL, "label key NULL");
	ASSERT_EQ(pprof__add_sample(p, &l1, 1, (int64_t[]){ 1 },
				    &(struct pprof_label){ .key = "", .str = "x" }, 1),
		  -EINVAL, "label key empty");
	ASSERT_EQ(pprof__sample_count(p), 0, "no sample added by bad calls");
	ASSERT_OK(pprof__add_sample(p, &l1, 1, (int64_t[]){ 1 }, NULL, 0), "sample");
	ASSERT_EQ(pprof__add_sample_type(p, "cpu", "nanoseconds"), -EINVAL,
		  "sample type after a sample");
	ASSERT_OK(pprof__add_sample(p, NULL, 0, (int64_t[]){ 4 }, NULL, 0), "sample with no stack");
	ASSERT_EQ(pprof__sample_count(p), 2, "two samples");
	ASSERT_EQ(pprof__value_total(p, 0), 5, "total");
	ASSERT_EQ(pprof__value_total(p, 1), 0, "total of a missing type");
	ASSERT_EQ(pprof__add_comment(p, NULL), -EINVAL, "comment NULL");

	prof = decode(p, "decode", NULL, NULL);
	if (prof) {
		check_valid(prof, "valid");
		ASSERT_EQ(prof->n_mapping, 7, "mappings");
		ASSERT_EQ(prof->n_function, 6, "functions");
		ASSERT_EQ(prof->n_location, 4, "locations");
		ASSERT_EQ(prof->location[0]->n_line, 1, "first lines kept");
		ASSERT_EQ(prof->location[0]->line[0]->function_id, f1, "first lines kept: function");
		ASSERT_EQ(prof->location[0]->line[0]->line, 12, "first lines kept: line");
		ASSERT_EQ(prof->location[3]->mapping_id, 0, "no mapping");
		ASSERT_EQ(prof->mapping[6]->build_id, 0, "no build id is index 0");
		ASSERT_STREQ(S(prof, prof->mapping[4]->filename), "/bin/b", "filename");
		ASSERT_EQ(prof->n_sample, 2, "samples");
		ASSERT_EQ(prof->sample[1]->n_location_id, 0, "empty stack");
		ASSERT_EQ(prof->sample[1]->value[0], 4, "empty stack value");
		perftools__profiles__profile__free_unpacked(prof, NULL);
	}
	pprof__free(p);
	pprof__free(NULL);
}

/* Builds the CPU-style profile that the field-by-field and go tool tests share. */
struct cpu_ids {
	uint64_t m_exe, m_lib, f_leaf, f_inl, f_main, f_lib, l_leaf, l_main, l_lib, l_kern;
};

static struct pprof *build_cpu_profile(struct cpu_ids *ids)
{
	struct pprof_label l_a[] = {
		{ .key = "comm", .str = "worker" },
		{ .key = "pid", .str = "4242" },
		{ .key = "cpu", .num = 0, .num_unit = "id" },
		{ .key = "bytes", .num = 4096, .num_unit = "bytes" },
	};
	/* The same labels in another order: the same set. */
	struct pprof_label l_a2[] = { l_a[3], l_a[1], l_a[2], l_a[0] };
	struct pprof_label l_b[] = { { .key = "comm", .str = "other" }, { .key = "pid", .str = "7" } };
	struct pprof *p = pprof__new();
	bool ok = true;

	if (!p)
		return NULL;
	ok &= !pprof__add_sample_type(p, "samples", "count");
	ok &= !pprof__add_sample_type(p, "cpu", "nanoseconds");
	ok &= !pprof__set_period(p, "cpu", "nanoseconds", 10000000);
	pprof__set_time(p, 1700000000123456789LL, 10 * 1000000000LL);
	ok &= !pprof__add_comment(p, "profd unit test");
	ok &= !pprof__add_comment(p, "#hidden comment");

	ids->m_exe = pprof__mapping(p, &(struct pprof_mapping){
		0x555555554000, 0x555555556000, 0x1000, "/usr/bin/fakeexe", "0123456789abcdef" });
	ids->m_lib = pprof__mapping(p, &(struct pprof_mapping){
		0x7f0000001000, 0x7f0000009000, 0x2000, "/lib/libfake.so.1", NULL });
	ok &= !pprof__mapping_mark(p, ids->m_exe, PPROF_HAS_FUNCTIONS | PPROF_HAS_FILENAMES);
	ok &= !pprof__mapping_mark(p, ids->m_exe, PPROF_HAS_LINE_NUMBERS | PPROF_HAS_INLINE_FRAMES);
	ok &= !pprof__mapping_mark(p, ids->m_lib, PPROF_HAS_FUNCTIONS);

	ids->f_leaf = pprof__function(p, "app::leaf_work", "_ZN3app9leaf_workEv", "/src/app/leaf.cc", 40);
	ids->f_inl = pprof__function(p, "app::inlined_helper", "_ZN3app14inlined_helperEv",
				     "/src/app/helper.h", 7);
	ids->f_main = pprof__function(p, "main", "main", "/src/app/main.cc", 3);
	ids->f_lib = pprof__function(p, "fake_lib_call", "fake_lib_call", NULL, 0);

	/* leaf_work inlined into inlined_helper, physically in inlined_helper. */
	ids->l_leaf = pprof__location(p, ids->m_exe, 0x555555554a10,
				      (struct pprof_line[]){ { ids->f_leaf, 44 }, { ids->f_inl, 9 } }, 2);
	ids->l_main = pprof__location(p, ids->m_exe, 0x555555554b2f,
				      &(struct pprof_line){ ids->f_main, 12 }, 1);
	ids->l_lib = pprof__location(p, ids->m_lib, 0x7f0000001234,
				     &(struct pprof_line){ ids->f_lib, 0 }, 1);
	ids->l_kern = pprof__location(p, 0, 0xffffffff81000010ULL, NULL, 0);

	uint64_t s1[] = { ids->l_leaf, ids->l_main };
	uint64_t s2[] = { ids->l_lib, ids->l_leaf, ids->l_main };
	uint64_t s3[] = { ids->l_kern, ids->l_lib, ids->l_main };

	ok &= !pprof__add_sample(p, s1, 2, (int64_t[]){ 3, 30000000 }, l_a, ARRAY_SIZE(l_a));
	ok &= !pprof__add_sample(p, s1, 2, (int64_t[]){ 2, 20000000 }, l_a2, ARRAY_SIZE(l_a2));
	ok &= !pprof__add_sample(p, s1, 2, (int64_t[]){ 1, 10000000 }, l_b, ARRAY_SIZE(l_b));
	ok &= !pprof__add_sample(p, s2, 3, (int64_t[]){ 7, 70000000 }, l_b, ARRAY_SIZE(l_b));
	ok &= !pprof__add_sample(p, s3, 3, (int64_t[]){ 11, 110000000 }, NULL, 0);
	ok &= !pprof__add_sample(p, s3, 3, (int64_t[]){ 5, 50000000 }, NULL, 0);
	ok &= !pprof__add_sample(p, s2, 3, (int64_t[]){ 2, 20000000 }, l_b, ARRAY_SIZE(l_b));
	if (!ASSERT_TRUE(ok, "build cpu profile")) {
		pprof__free(p);
		return NULL;
	}
	return p;
}

static const Perftools__Profiles__Label *find_label(const Profile *prof,
						    const Perftools__Profiles__Sample *s,
						    const char *key)
{
	for (size_t i = 0; i < s->n_label; i++)
		if (!strcmp(S(prof, s->label[i]->key), key))
			return s->label[i];
	return NULL;
}

void test_pprof_encode_fields(void)
{
	const Perftools__Profiles__Label *lab;
	const Perftools__Profiles__Mapping *m;
	const Perftools__Profiles__Location *l;
	const Perftools__Profiles__Function *f;
	const Perftools__Profiles__Sample *s;
	struct cpu_ids ids;
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	struct pprof *p;
	Profile *prof;

	p = build_cpu_profile(&ids);
	if (!ASSERT_OK_PTR(p, "build"))
		return;
	ASSERT_EQ(pprof__sample_count(p), 4, "merged sample count");
	ASSERT_EQ(pprof__value_total(p, 0), 31, "total samples");
	ASSERT_EQ(pprof__value_total(p, 1), 310000000, "total cpu");
	prof = decode(p, "decode", &raw, &rawlen);
	if (!prof)
		goto out;
	check_valid(prof, "valid");
	/* time_nanos exactly once (twice reads as "concatenated profiles"). */
	ASSERT_EQ(count_field(raw, rawlen, 9), 1, "time_nanos once");
	ASSERT_EQ(count_field(raw, rawlen, 14), 0, "default_sample_type unset is omitted");

	ASSERT_EQ(prof->n_sample_type, 2, "sample types");
	ASSERT_STREQ(S(prof, prof->sample_type[0]->type), "samples", "type 0");
	ASSERT_STREQ(S(prof, prof->sample_type[0]->unit), "count", "unit 0");
	ASSERT_STREQ(S(prof, prof->sample_type[1]->type), "cpu", "type 1");
	ASSERT_STREQ(S(prof, prof->sample_type[1]->unit), "nanoseconds", "unit 1");
	if (ASSERT_OK_PTR(prof->period_type, "period type")) {
		ASSERT_STREQ(S(prof, prof->period_type->type), "cpu", "period type");
		ASSERT_STREQ(S(prof, prof->period_type->unit), "nanoseconds", "period unit");
	}
	ASSERT_EQ(prof->period, 10000000, "period");
	ASSERT_EQ(prof->time_nanos, 1700000000123456789LL, "time");
	ASSERT_EQ(prof->duration_nanos, 10000000000LL, "duration");
	ASSERT_EQ(prof->default_sample_type, 0, "default sample type");
	ASSERT_EQ(prof->drop_frames, 0, "drop frames");
	ASSERT_EQ(prof->keep_frames, 0, "keep frames");
	if (ASSERT_EQ(prof->n_comment, 2, "comments")) {
		ASSERT_STREQ(S(prof, prof->comment[0]), "profd unit test", "comment 0");
		ASSERT_STREQ(S(prof, prof->comment[1]), "#hidden comment", "comment 1");
	}

	if (ASSERT_EQ(prof->n_mapping, 2, "mappings")) {
		m = prof->mapping[0];
		ASSERT_EQ(m->id, ids.m_exe, "exe id");
		ASSERT_EQ(m->memory_start, 0x555555554000, "exe start");
		ASSERT_EQ(m->memory_limit, 0x555555556000, "exe limit");
		ASSERT_EQ(m->file_offset, 0x1000, "exe offset");
		ASSERT_STREQ(S(prof, m->filename), "/usr/bin/fakeexe", "exe filename");
		ASSERT_STREQ(S(prof, m->build_id), "0123456789abcdef", "exe build id");
		ASSERT_TRUE(m->has_functions && m->has_filenames && m->has_line_numbers &&
			    m->has_inline_frames, "exe flags");
		m = prof->mapping[1];
		ASSERT_EQ(m->id, ids.m_lib, "lib id");
		ASSERT_EQ(m->memory_start, 0x7f0000001000, "lib start");
		ASSERT_EQ(m->memory_limit, 0x7f0000009000, "lib limit");
		ASSERT_EQ(m->file_offset, 0x2000, "lib offset");
		ASSERT_STREQ(S(prof, m->filename), "/lib/libfake.so.1", "lib filename");
		ASSERT_EQ(m->build_id, 0, "lib build id");
		ASSERT_TRUE(m->has_functions && !m->has_filenames && !m->has_line_numbers &&
			    !m->has_inline_frames, "lib flags");
	}

	if (ASSERT_EQ(prof->n_function, 4, "functions")) {
		f = prof->function[ids.f_leaf - 1];
		ASSERT_EQ(f->id, ids.f_leaf, "leaf id");
		ASSERT_STREQ(S(prof, f->name), "app::leaf_work", "leaf name");
		ASSERT_STREQ(S(prof, f->system_name), "_ZN3app9leaf_workEv", "leaf system name");
		ASSERT_STREQ(S(prof, f->filename), "/src/app/leaf.cc", "leaf file");
		ASSERT_EQ(f->start_line, 40, "leaf start line");
		f = prof->function[ids.f_lib - 1];
		ASSERT_STREQ(S(prof, f->name), "fake_lib_call", "lib fn name");
		ASSERT_EQ(f->filename, 0, "lib fn no file");
		ASSERT_EQ(f->start_line, 0, "lib fn no start line");
	}

	if (ASSERT_EQ(prof->n_location, 4, "locations")) {
		l = prof->location[ids.l_leaf - 1];
		ASSERT_EQ(l->id, ids.l_leaf, "leaf loc id");
		ASSERT_EQ(l->mapping_id, ids.m_exe, "leaf loc mapping");
		ASSERT_EQ(l->address, 0x555555554a10, "leaf loc address");
		ASSERT_FALSE(l->is_folded, "not folded");
		if (ASSERT_EQ(l->n_line, 2, "inline chain")) {
			ASSERT_EQ(l->line[0]->function_id, ids.f_leaf, "innermost first");
			ASSERT_EQ(l->line[0]->line, 44, "innermost line");
			ASSERT_EQ(l->line[1]->function_id, ids.f_inl, "physical last");
			ASSERT_EQ(l->line[1]->line, 9, "physical line");
		}
		l = prof->location[ids.l_kern - 1];
		ASSERT_EQ(l->mapping_id, 0, "kernel loc no mapping");
		ASSERT_EQ(l->address, 0xffffffff81000010ULL, "kernel loc address");
		ASSERT_EQ(l->n_line, 0, "kernel loc no lines");
	}

	if (ASSERT_EQ(prof->n_sample, 4, "samples")) {
		/* s1 with label set A (given twice, in two orders): merged. */
		s = prof->sample[0];
		ASSERT_EQ(s->n_location_id, 2, "s1 depth");
		ASSERT_EQ(s->location_id[0], ids.l_leaf, "s1 leaf first");
		ASSERT_EQ(s->location_id[1], ids.l_main, "s1 root last");
		ASSERT_EQ(s->n_value, 2, "s1 values");
		ASSERT_EQ(s->value[0], 5, "s1 merged count");
		ASSERT_EQ(s->value[1], 50000000, "s1 merged cpu");
		ASSERT_EQ(s->n_label, 4, "s1 labels");
		lab = find_label(prof, s, "comm");
		ASSERT_TRUE(lab && !strcmp(S(prof, lab->str), "worker") && !lab->num && !lab->num_unit,
			    "s1 comm");
		lab = find_label(prof, s, "pid");
		ASSERT_TRUE(lab && !strcmp(S(prof, lab->str), "4242"), "s1 pid");
		lab = find_label(prof, s, "cpu");
		ASSERT_TRUE(lab && !lab->str && lab->num == 0 && !strcmp(S(prof, lab->num_unit), "id"),
			    "s1 cpu 0 keeps its unit");
		lab = find_label(prof, s, "bytes");
		ASSERT_TRUE(lab && !lab->str && lab->num == 4096 &&
			    !strcmp(S(prof, lab->num_unit), "bytes"), "s1 bytes");
		/* s1 with label set B: its own sample. */
		s = prof->sample[1];
		ASSERT_EQ(s->n_location_id, 2, "s1b depth");
		ASSERT_EQ(s->value[0], 1, "s1b count");
		ASSERT_EQ(s->n_label, 2, "s1b labels");
		lab = find_label(prof, s, "comm");
		ASSERT_TRUE(lab && !strcmp(S(prof, lab->str), "other"), "s1b comm");
		s = prof->sample[2];
		ASSERT_EQ(s->n_location_id, 3, "s2 depth");
		ASSERT_EQ(s->location_id[0], ids.l_lib, "s2 leaf");
		ASSERT_EQ(s->value[0], 9, "s2 merged count");
		ASSERT_EQ(s->value[1], 90000000, "s2 merged cpu");
		s = prof->sample[3];
		ASSERT_EQ(s->location_id[0], ids.l_kern, "s3 leaf");
		ASSERT_EQ(s->n_label, 0, "s3 no labels");
		ASSERT_EQ(s->value[0], 16, "s3 merged count");
		ASSERT_EQ(s->value[1], 160000000, "s3 merged cpu");
	}
	perftools__profiles__profile__free_unpacked(prof, NULL);
out:
	free(raw);
	pprof__free(p);
}

void test_pprof_value_saturation(void)
{
	struct pprof *p = pprof__new();
	uint64_t loc;

	if (!ASSERT_OK_PTR(p, "new"))
		return;
	ASSERT_OK(pprof__add_sample_type(p, "v", "count"), "type");
	loc = pprof__location(p, 0, 0x10, NULL, 0);
	ASSERT_OK(pprof__add_sample(p, &loc, 1, (int64_t[]){ INT64_MAX - 1 }, NULL, 0), "big");
	ASSERT_OK(pprof__add_sample(p, &loc, 1, (int64_t[]){ 5 }, NULL, 0), "overflowing");
	ASSERT_TRUE(pprof__value_total(p, 0) == INT64_MAX, "saturates up");
	ASSERT_OK(pprof__add_sample(p, NULL, 0, (int64_t[]){ INT64_MIN + 1 }, NULL, 0), "small");
	ASSERT_OK(pprof__add_sample(p, NULL, 0, (int64_t[]){ -5 }, NULL, 0), "underflowing");
	/* INT64_MAX + INT64_MIN = -1 */
	ASSERT_EQ(pprof__value_total(p, 0), -1, "negative values sum");
	pprof__free(p);
}

/* ---- go tool pprof reads what we write ---- */

void test_pprof_go_tool_cpu(void)
{
	char dir[64], path[128], want[256], *out = NULL, *next = NULL;
	struct cpu_ids ids;
	struct pprof *p;

	if (!make_tmpdir(dir, sizeof(dir)))
		return;
	p = build_cpu_profile(&ids);
	if (!ASSERT_OK_PTR(p, "build"))
		goto out;
	snprintf(path, sizeof(path), "%s/cpu.pb.gz", dir);
	if (!ASSERT_OK(pprof__write_file(p, path), "write"))
		goto out;

	out = pprof_tool(dir, "-raw", path, "-raw");
	if (!out)
		goto out;
	has_line(out, "PeriodType: cpu nanoseconds", "-raw period type");
	has_line(out, "Period: 10000000", "-raw period");
	has_line(out, "Duration: 10s", "-raw duration");
	has_line(out, "Comment: profd unit test", "-raw comment");
	has_line(out, "samples/count cpu/nanoseconds", "-raw sample types");
	/* Merged samples, leaf-first location ids, and their labels on the
	 * following line(s): strings first, numbers (with units) after. */
	snprintf(want, sizeof(want), "5 50000000: %lu %lu", ids.l_leaf, ids.l_main);
	if (ASSERT_TRUE(find_line(out, want, &next), "-raw merged sample s1")) {
		ASSERT_STREQ(next, "comm:[worker] pid:[4242]", "-raw s1 string labels");
		free(next);
		ASSERT_TRUE(strstr(out, "bytes:[4096 bytes] cpu:[0 id]") != NULL,
			    "-raw s1 numeric labels");
	}
	snprintf(want, sizeof(want), "1 10000000: %lu %lu", ids.l_leaf, ids.l_main);
	if (ASSERT_TRUE(find_line(out, want, &next), "-raw s1 other labels")) {
		ASSERT_STREQ(next, "comm:[other] pid:[7]", "-raw s1b labels");
		free(next);
	}
	snprintf(want, sizeof(want), "9 90000000: %lu %lu %lu", ids.l_lib, ids.l_leaf, ids.l_main);
	has_line(out, want, "-raw merged sample s2");
	snprintf(want, sizeof(want), "16 160000000: %lu %lu %lu", ids.l_kern, ids.l_lib, ids.l_main);
	has_line(out, want, "-raw merged sample s3");
	/* Locations: address, mapping, inline chain innermost first. */
	snprintf(want, sizeof(want), "%lu: 0x555555554a10 M=%lu app::leaf_work /src/app/leaf.cc:44 "
		 "s=40(_ZN3app9leaf_workEv)", ids.l_leaf, ids.m_exe);
	if (ASSERT_TRUE(find_line(out, want, &next), "-raw inline location")) {
		ASSERT_STREQ(next, "app::inlined_helper /src/app/helper.h:9 s=7(_ZN3app14inlined_helperEv)",
			     "-raw inline caller");
		free(next);
	}
	snprintf(want, sizeof(want), "%lu: 0x7f0000001234 M=%lu fake_lib_call :0 s=0", ids.l_lib,
		 ids.m_lib);
	has_line(out, want, "-raw lib location");
	snprintf(want, sizeof(want), "%lu: 0xffffffff81000010", ids.l_kern);
	has_line(out, want, "-raw kernel location");
	/* Mappings: range, file, build id, has_* flags. */
	has_line(out, "1: 0x555555554000/0x555555556000/0x1000 /usr/bin/fakeexe 0123456789abcdef "
		      "[FN][FL][LN][IN]", "-raw exe mapping");
	has_line(out, "2: 0x7f0000001000/0x7f0000009000/0x2000 /lib/libfake.so.1 [FN]",
		 "-raw lib mapping");
	free(out);

	out = pprof_tool(dir, "-top", path, "-top");
	if (!out)
		goto out;
	has_line(out, "File: fakeexe", "-top file");
	has_line(out, "Build ID: 0123456789abcdef", "-top build id");
	has_line(out, "profd unit test", "-top comment");
	lacks(out, "#hidden comment", "-top hides # comments");
	has_line(out, "Type: cpu", "-top type");
	contains(out, "Total samples = 310ms", "-top total");
	/* flat: s3 160, s2 90, s1 50 + 10; cum adds the callees' time. */
	has_line(out, "160ms 51.61% 51.61% 160ms 51.61% <unknown>", "-top kernel frame");
	has_line(out, "90ms 29.03% 80.65% 250ms 80.65% fake_lib_call", "-top lib frame");
	has_line(out, "60ms 19.35% 100% 150ms 48.39% app::leaf_work (inline)", "-top inline frame");
	has_line(out, "0 0% 100% 150ms 48.39% app::inlined_helper", "-top inline caller");
	has_line(out, "0 0% 100% 310ms 100% main", "-top root");
	free(out);

	out = pprof_tool(dir, "-tags", path, "-tags");
	if (!out)
		goto out;
	has_line(out, "comm: Total 150.0ms", "-tags comm total");
	has_line(out, "100.0ms (66.67%): other", "-tags comm other");
	has_line(out, "50.0ms (33.33%): worker", "-tags comm worker");
	has_line(out, "50.0ms ( 100%): 4kB", "-tags bytes");
	has_line(out, "cpu: Total 50.0ms", "-tags numeric zero label kept");
	has_line(out, "pid: Total 150.0ms", "-tags pid");

	/* -tagfocus works on our labels. */
	free(out);
	out = pprof_tool(dir, "-top -tagfocus=comm=worker", path, "-tagfocus");
	if (out)
		contains(out, "Showing nodes accounting for 50ms, 16.13% of 310ms total",
			 "-tagfocus total");
out:
	free(out);
	pprof__free(p);
	remove_tmpdir(dir);
}

/* Go's allocs profile layout: four types, default alloc_space. */
static struct pprof *build_heap_profile(const char *default_type)
{
	struct pprof *p = pprof__new();
	uint64_t m, f1, f2, l1, l2;
	bool ok = true;

	if (!p)
		return NULL;
	ok &= !pprof__add_sample_type(p, "alloc_objects", "count");
	ok &= !pprof__add_sample_type(p, "alloc_space", "bytes");
	ok &= !pprof__add_sample_type(p, "inuse_objects", "count");
	ok &= !pprof__add_sample_type(p, "inuse_space", "bytes");
	ok &= !pprof__set_period(p, "space", "bytes", 524288);
	if (default_type)
		ok &= !pprof__set_default_sample_type(p, default_type);
	pprof__set_time(p, 1700000000000000000LL, 0);
	m = pprof__mapping(p, &(struct pprof_mapping){ 0x400000, 0x800000, 0, "/opt/heapapp", "feed" });
	ok &= !pprof__mapping_mark(p, m, PPROF_HAS_FUNCTIONS);
	f1 = pprof__function(p, "alloc_big", "alloc_big", "heap.c", 1);
	f2 = pprof__function(p, "alloc_small", "alloc_small", "heap.c", 20);
	l1 = pprof__location(p, m, 0x401000, &(struct pprof_line){ f1, 2 }, 1);
	l2 = pprof__location(p, m, 0x402000, &(struct pprof_line){ f2, 21 }, 1);
	ok &= !pprof__add_sample(p, &l1, 1, (int64_t[]){ 10, 10485760, 2, 2097152 },
				 &(struct pprof_label){ .key = "bytes", .num = 1048576 }, 1);
	ok &= !pprof__add_sample(p, &l2, 1, (int64_t[]){ 1000, 65536, 900, 57600 },
				 &(struct pprof_label){ .key = "bytes", .num = 64 }, 1);
	if (!ok) {
		pprof__free(p);
		return NULL;
	}
	return p;
}

void test_pprof_go_tool_heap(void)
{
	char dir[64], path[128], *out = NULL;
	struct pprof *p = NULL;
	Profile *prof;

	if (!make_tmpdir(dir, sizeof(dir)))
		return;
	p = build_heap_profile("alloc_space");
	if (!ASSERT_OK_PTR(p, "build"))
		goto out;
	prof = decode(p, "decode", NULL, NULL);
	if (prof) {
		check_valid(prof, "valid");
		ASSERT_STREQ(S(prof, prof->default_sample_type), "alloc_space", "default type index");
		ASSERT_EQ(prof->n_sample_type, 4, "four types");
		ASSERT_EQ(prof->sample[0]->n_value, 4, "four values");
		ASSERT_EQ(prof->sample[1]->value[2], 900, "inuse objects");
		perftools__profiles__profile__free_unpacked(prof, NULL);
	}
	snprintf(path, sizeof(path), "%s/allocs.pb.gz", dir);
	if (!ASSERT_OK(pprof__write_file(p, path), "write"))
		goto out;
	out = pprof_tool(dir, "-top", path, "-top");
	has_line(out, "Type: alloc_space", "-top default type");
	has_line(out, "10MB 99.38% 99.38% 10MB 99.38% alloc_big", "-top alloc_space values");
	free(out);
	out = pprof_tool(dir, "-top -sample_index=inuse_objects", path, "-top inuse_objects");
	has_line(out, "Type: inuse_objects", "-sample_index type");
	has_line(out, "900 99.78% 99.78% 900 99.78% alloc_small", "-sample_index values");
	free(out);
	out = pprof_tool(dir, "-raw", path, "-raw");
	has_line(out, "PeriodType: space bytes", "-raw period type");
	has_line(out, "Period: 524288", "-raw period");
	has_line(out, "alloc_objects/count alloc_space/bytes[dflt] inuse_objects/count inuse_space/bytes",
		 "-raw types");
	has_line(out, "10 10485760 2 2097152: 1", "-raw heap sample");
	has_line(out, "bytes:[1048576]", "-raw unitless numeric label");
	free(out);
	out = NULL;
	pprof__free(p);

	/* Control: without default_sample_type pprof shows the last type. */
	p = build_heap_profile(NULL);
	if (!ASSERT_OK_PTR(p, "build control"))
		goto out;
	if (!ASSERT_OK(pprof__write_file(p, path), "write control"))
		goto out;
	out = pprof_tool(dir, "-top", path, "-top control");
	has_line(out, "Type: inuse_space", "-top without default");
out:
	free(out);
	pprof__free(p);
	remove_tmpdir(dir);
}

/* A profile whose mapping names a real binary with symbols. With
 * has_functions pprof must keep our (fake) function name; without it pprof
 * re-symbolizes from the binary and shows the real one, which proves the
 * flag is what protects our names. */
static struct pprof *build_symbolized(const char *bin, uint64_t start, uint64_t limit,
				      uint64_t offset, uint64_t addr, bool mark)
{
	struct pprof *p = pprof__new();
	uint64_t m, f, l;
	bool ok = true;

	if (!p)
		return NULL;
	ok &= !pprof__add_sample_type(p, "samples", "count");
	m = pprof__mapping(p, &(struct pprof_mapping){ start, limit, offset, bin, NULL });
	if (mark)
		ok &= !pprof__mapping_mark(p, m, PPROF_HAS_FUNCTIONS);
	f = pprof__function(p, "profd_fake_frame", "profd_fake_frame", NULL, 0);
	l = pprof__location(p, m, addr, &(struct pprof_line){ f, 0 }, 1);
	ok &= !pprof__add_sample(p, &l, 1, (int64_t[]){ 7 }, NULL, 0);
	if (!ok) {
		pprof__free(p);
		return NULL;
	}
	return p;
}

void test_pprof_go_tool_has_functions(void)
{
	char dir[64], src[128], bin[128], path[128], *out = NULL;
	unsigned long long off = 0, vaddr = 0, filesz = 0, sym = 0;
	struct pprof *p = NULL;
	int st;
	FILE *f;

	if (!make_tmpdir(dir, sizeof(dir)))
		return;
	snprintf(src, sizeof(src), "%s/victim.c", dir);
	snprintf(bin, sizeof(bin), "%s/victim", dir);
	snprintf(path, sizeof(path), "%s/sym.pb.gz", dir);
	f = fopen(src, "w");
	if (!ASSERT_OK_PTR(f, "write source"))
		goto out;
	fputs("__attribute__((noinline)) int real_victim_fn(int x) { return x * 3 + 1; }\n"
	      "int main(int argc, char **argv) { (void)argv; return real_victim_fn(argc); }\n", f);
	fclose(f);
	st = run(&out, "cc -g -O1 -no-pie -o '%s' '%s' 2>&1", bin, src);
	if (!ASSERT_EQ(st, 0, "cc")) {
		fprintf(stderr, "%s\n", out ? out : "");
		goto out;
	}
	free(out);
	/* Where the executable segment and the function are, from the ELF. */
	st = run(&out, "readelf -lW '%s' | awk '$1 == \"LOAD\" && / R E / { print $2, $3, $5 }'; "
		       "nm '%s' | awk '$3 == \"real_victim_fn\" { print $1 }'", bin, bin);
	if (!ASSERT_EQ(st, 0, "readelf/nm") || !ASSERT_OK_PTR(out, "readelf output") ||
	    !ASSERT_EQ(sscanf(out, "%llx %llx %llx %llx", &off, &vaddr, &filesz, &sym), 4,
		       "parse readelf/nm"))
		goto out;
	free(out);
	out = NULL;
	/* Same page-aligned range /proc/PID/maps would show for the segment. */
	uint64_t start = vaddr & ~0xfffULL, limit = (vaddr + filesz + 0xfff) & ~0xfffULL;

	p = build_symbolized(bin, start, limit, off & ~0xfffULL, sym + 4, true);
	if (!ASSERT_OK_PTR(p, "build marked") || !ASSERT_OK(pprof__write_file(p, path), "write"))
		goto out;
	out = pprof_tool(dir, "-top", path, "-top has_functions");
	has_line(out, "7 100% 100% 7 100% profd_fake_frame", "fake name survives");
	lacks(out, "real_victim_fn", "no re-symbolization");
	free(out);
	out = NULL;
	pprof__free(p);

	p = build_symbolized(bin, start, limit, off & ~0xfffULL, sym + 4, false);
	if (!ASSERT_OK_PTR(p, "build unmarked") || !ASSERT_OK(pprof__write_file(p, path), "write"))
		goto out;
	out = pprof_tool(dir, "-top", path, "-top control");
	has_line(out, "7 100% 100% 7 100% real_victim_fn", "control: pprof re-symbolizes");
out:
	free(out);
	pprof__free(p);
	remove_tmpdir(dir);
}

/* ---- scale ---- */

#define BIG_SAMPLES 200000
#define BIG_STACKS 5000
#define BIG_LOCS 2000
#define BIG_FUNCS 500

static uint64_t lcg(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return *s >> 33;
}

void test_pprof_large(void)
{
	static int64_t expect[BIG_STACKS][2];
	char dir[64], path[128], name[64], want[128], *out = NULL;
	struct timespec t0, t1, t2;
	uint64_t locs[BIG_LOCS], stack[40];
	int64_t total = 0;
	struct pprof *p;
	uint8_t *gz = NULL;
	size_t gzlen = 0;
	Profile *prof;

	memset(expect, 0, sizeof(expect));
	if (!make_tmpdir(dir, sizeof(dir)))
		return;
	p = pprof__new();
	if (!ASSERT_OK_PTR(p, "new"))
		goto out;
	ASSERT_OK(pprof__add_sample_type(p, "samples", "count"), "type");
	ASSERT_OK(pprof__add_sample_type(p, "cpu", "nanoseconds"), "type");
	ASSERT_OK(pprof__set_period(p, "cpu", "nanoseconds", 10000000), "period");
	pprof__set_time(p, 1700000000000000000LL, 60000000000LL);
	for (int i = 0; i < BIG_LOCS; i++) {
		struct pprof_mapping m = { 0x400000 + (i % 4) * 0x1000000ULL,
					   0x400000 + (i % 4 + 1) * 0x1000000ULL, 0, NULL, NULL };
		uint64_t mid, fid;

		snprintf(name, sizeof(name), "/usr/lib/big%d.so", i % 4);
		m.filename = name;
		mid = pprof__mapping(p, &m);
		snprintf(name, sizeof(name), "big_function_%d", i % BIG_FUNCS);
		fid = pprof__function(p, name, name, "big.c", i % BIG_FUNCS);
		locs[i] = pprof__location(p, mid, m.start + 0x100 + i * 16,
					  &(struct pprof_line){ fid, i }, 1);
		if (!ASSERT_EQ(locs[i], i + 1, "location ids 1..N"))
			goto out;
	}
	ASSERT_OK(pprof__mapping_mark(p, 1, PPROF_HAS_FUNCTIONS), "mark");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int j = 0; j < BIG_SAMPLES; j++) {
		int s = (j * 7919) % BIG_STACKS, depth = 4 + s % 28;
		uint64_t ss = s + 1;
		/* Stacks over labels: half the samples of a stack say pid 100, half pid 200. */
		struct pprof_label lab = { .key = "pid", .str = (j / BIG_STACKS) % 2 ? "200" : "100" };
		int64_t v[2] = { 1 + j % 3, (1 + j % 3) * 10000000LL };

		/* (leaf, caller) is unique per stack; the rest is pseudo-random. */
		stack[0] = locs[s % BIG_LOCS];
		stack[1] = locs[s / BIG_LOCS];
		for (int k = 2; k < depth; k++)
			stack[k] = locs[lcg(&ss) % BIG_LOCS];
		if (pprof__add_sample(p, stack, depth, v, &lab, 1)) {
			ASSERT_TRUE(false, "add sample");
			goto out;
		}
		expect[s][(j / BIG_STACKS) % 2] += v[0];
		total += v[0];
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ASSERT_EQ(pprof__sample_count(p), 2 * BIG_STACKS, "merged to stacks x label sets");
	ASSERT_EQ(pprof__value_total(p, 0), total, "total count");
	ASSERT_EQ(pprof__value_total(p, 1), total * 10000000LL, "total cpu");
	if (!ASSERT_OK(pprof__encode(p, &gz, &gzlen), "encode"))
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t2);
	fprintf(stderr, "  info: %d samples added in %.0f ms, encoded (%zu bytes gz) in %.0f ms\n",
		BIG_SAMPLES,
		(t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6, gzlen,
		(t2.tv_sec - t1.tv_sec) * 1e3 + (t2.tv_nsec - t1.tv_nsec) / 1e6);

	prof = decode(p, "decode", NULL, NULL);
	if (prof) {
		size_t bad = 0;

		check_valid(prof, "valid");
		ASSERT_EQ(prof->n_sample, 2 * BIG_STACKS, "decoded samples");
		ASSERT_EQ(prof->n_location, BIG_LOCS, "decoded locations");
		ASSERT_EQ(prof->n_function, BIG_FUNCS, "decoded functions");
		ASSERT_EQ(prof->n_mapping, 4, "decoded mappings");
		for (size_t i = 0; i < prof->n_sample; i++) {
			const Perftools__Profiles__Sample *s = prof->sample[i];
			int idx = (s->location_id[0] - 1) + (s->location_id[1] - 1) * BIG_LOCS;
			int half = !strcmp(S(prof, s->label[0]->str), "200");

			if (idx >= BIG_STACKS || s->n_location_id != (size_t)(4 + idx % 28) ||
			    s->value[0] != expect[idx][half] ||
			    s->value[1] != expect[idx][half] * 10000000LL)
				bad++;
		}
		ASSERT_EQ(bad, 0, "every merged sample has its expected sum");
		perftools__profiles__profile__free_unpacked(prof, NULL);
	}

	snprintf(path, sizeof(path), "%s/big.pb.gz", dir);
	if (!ASSERT_OK(pprof__write_file(p, path), "write"))
		goto out;
	out = pprof_tool(dir, "-top -nodecount=3 -sample_index=samples", path, "-top big");
	snprintf(want, sizeof(want), "of %lld total", (long long)total);
	contains(out, want, "go tool pprof reads the big profile");
out:
	free(out);
	free(gz);
	pprof__free(p);
	remove_tmpdir(dir);
}

/* ---- writing files ---- */

static int count_entries(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* Entries in dir whose name starts with prefix (leftover temporaries). */
static int count_prefixed(const char *dir, const char *prefix)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, prefix, strlen(prefix)))
			n++;
	closedir(d);
	return n;
}

static struct pprof *tiny_profile(int64_t value)
{
	struct pprof *p = pprof__new();
	uint64_t f, l;

	if (!p)
		return NULL;
	if (pprof__add_sample_type(p, "samples", "count")) {
		pprof__free(p);
		return NULL;
	}
	f = pprof__function(p, "tiny_fn", NULL, NULL, 0);
	l = pprof__location(p, 0, 0x1234, &(struct pprof_line){ f, 0 }, 1);
	if (!l || pprof__add_sample(p, &l, 1, &value, NULL, 0)) {
		pprof__free(p);
		return NULL;
	}
	return p;
}

void test_pprof_write_file(void)
{
	char dir[64], path[160], sub[160], *out = NULL;
	struct pprof *p1 = tiny_profile(111), *p2 = tiny_profile(222);
	struct stat st;

	if (!ASSERT_OK_PTR(p1, "p1") || !ASSERT_OK_PTR(p2, "p2") || !make_tmpdir(dir, sizeof(dir)))
		goto nodir;
	snprintf(path, sizeof(path), "%s/out.pb.gz", dir);
	ASSERT_OK(pprof__write_file(p1, path), "write");
	ASSERT_EQ(count_entries(dir), 1, "only the file, no temporary");
	ASSERT_OK(stat(path, &st), "stat");
	ASSERT_EQ(st.st_mode & 0777, 0600, "mode 0600");
	out = pprof_tool(dir, "-raw", path, "-raw first");
	has_line(out, "111: 1", "first content");
	free(out);

	/* Replacing an existing file. */
	ASSERT_OK(pprof__write_file(p2, path), "overwrite");
	ASSERT_EQ(count_entries(dir), 1, "still one file");
	out = pprof_tool(dir, "-raw", path, "-raw second");
	has_line(out, "222: 1", "replaced content");
	free(out);
	out = NULL;

	/* Relative path: the temporary goes in the current directory. */
	char cwd[4096];

	if (ASSERT_OK_PTR(getcwd(cwd, sizeof(cwd)), "getcwd") && ASSERT_OK(chdir(dir), "chdir")) {
		ASSERT_OK(pprof__write_file(p1, "rel.pb.gz"), "relative path");
		ASSERT_OK(chdir(cwd), "chdir back");
		snprintf(sub, sizeof(sub), "%s/rel.pb.gz", dir);
		ASSERT_OK(access(sub, R_OK), "relative file exists");
		ASSERT_EQ(count_entries(dir), 2, "two files, no temporary");
	}

	/* Failures leave nothing behind. */
	snprintf(sub, sizeof(sub), "%s/missing/out.pb.gz", dir);
	ASSERT_EQ(pprof__write_file(p1, sub), -ENOENT, "missing directory");
	ASSERT_EQ(errno, ENOENT, "missing directory errno");
	ASSERT_EQ(pprof__write_file(p1, "/etc/passwd/x.pb.gz"), -ENOTDIR, "directory is a file");
	ASSERT_EQ(count_prefixed("/etc", ".passwd"), 0, "nothing beside /etc/passwd");
	ASSERT_ERR(pprof__write_file(p1, "/proc/x.pb.gz"), "unwritable /proc");
	ASSERT_EQ(access("/proc/x.pb.gz", F_OK), -1, "no file in /proc");
	ASSERT_EQ(count_prefixed("/proc", ".x.pb.gz"), 0, "no temporary in /proc");
	ASSERT_ERR(pprof__write_file(p1, "/sys/x.pb.gz"), "unwritable /sys");
	ASSERT_EQ(count_prefixed("/sys", ".x.pb.gz"), 0, "no temporary in /sys");

	/* The target is a non-empty directory: the temporary was written and
	 * must be removed when rename() refuses. */
	snprintf(sub, sizeof(sub), "%s/adir", dir);
	ASSERT_OK(mkdir(sub, 0700), "mkdir");
	snprintf(path, sizeof(path), "%s/adir/keep", dir);
	ASSERT_OK(close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600)), "create keep");
	ASSERT_ERR(pprof__write_file(p1, sub), "rename over a directory");
	ASSERT_EQ(count_entries(dir), 3, "no temporary left after failed rename");
	ASSERT_EQ(count_prefixed(dir, ".adir"), 0, "no .adir temporary");

	ASSERT_EQ(pprof__write_file(p1, ""), -EINVAL, "empty path");
	ASSERT_EQ(pprof__write_file(p1, NULL), -EINVAL, "NULL path");
	ASSERT_EQ(pprof__write_file(NULL, "x"), -EINVAL, "NULL profile");
	snprintf(sub, sizeof(sub), "%s/", dir);
	ASSERT_EQ(pprof__write_file(p1, sub), -EISDIR, "trailing slash");
	snprintf(sub, sizeof(sub), "%s/..", dir);
	ASSERT_EQ(pprof__write_file(p1, sub), -EISDIR, "dot dot");
	ASSERT_EQ(count_entries(dir), 3, "nothing new after bad paths");

	/* A name too long for a temporary name to be built beside it is
	 * shortened in the temporary, not refused. */
	char longname[256];

	memset(longname, 'n', 250);
	longname[250] = '\0';
	snprintf(path, sizeof(path), "%s/", dir);
	char *lp = malloc(strlen(path) + sizeof(longname));

	if (ASSERT_OK_PTR(lp, "malloc")) {
		sprintf(lp, "%s%s", path, longname);
		ASSERT_OK(pprof__write_file(p1, lp), "long name");
		ASSERT_OK(access(lp, R_OK), "long name written");
		ASSERT_EQ(count_entries(dir), 4, "long name: no temporary");
		free(lp);
	}
	remove_tmpdir(dir);
nodir:
	pprof__free(p1);
	pprof__free(p2);
}

/* ---- out of memory ---- */

static bool enomem_ok(int err, bool *hit, const char *name)
{
	if (err == -ENOMEM) {
		*hit = true;
		return false;
	}
	return ASSERT_OK(err, name);
}

static bool enomem_id(uint64_t id, bool *hit, const char *name)
{
	if (!id) {
		if (!ASSERT_EQ(errno, ENOMEM, name))
			return false;
		*hit = true;
		return false;
	}
	return true;
}

/* Sample types cannot be retried once samples exist, so a caller that fails
 * here gives up on the profile. */
static bool scenario_header(struct pprof *p, bool *hit)
{
	return enomem_ok(pprof__add_sample_type(p, "samples", "count"), hit, "type") &&
	       enomem_ok(pprof__add_sample_type(p, "cpu", "nanoseconds"), hit, "type");
}

/* One fixed sequence of calls. Each may fail with ENOMEM under injection; the
 * values of the samples that were accepted are summed into added[]. */
static void scenario(struct pprof *p, int64_t added[2], bool *hit)
{
	uint64_t maps[3] = { 0 }, funcs[12] = { 0 }, locs[30] = { 0 };
	struct pprof_label many[20];
	char keys[20][8], name[32];

	enomem_ok(pprof__set_period(p, "cpu", "nanoseconds", 1000), hit, "period");
	enomem_ok(pprof__set_default_sample_type(p, "cpu"), hit, "default");
	enomem_ok(pprof__add_comment(p, "enomem scenario"), hit, "comment");
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "/bin/prog%d", i);
		maps[i] = pprof__mapping(p, &(struct pprof_mapping){ i * 0x1000, (i + 1) * 0x1000, 0,
								     name, "beef" });
		if (enomem_id(maps[i], hit, "mapping"))
			enomem_ok(pprof__mapping_mark(p, maps[i], PPROF_HAS_FUNCTIONS), hit, "mark");
	}
	for (int i = 0; i < 12; i++) {
		snprintf(name, sizeof(name), "fn_%d", i);
		funcs[i] = pprof__function(p, name, name, "file.c", i);
		enomem_id(funcs[i], hit, "function");
	}
	for (int i = 0; i < 30; i++) {
		struct pprof_line lines[3] = { { funcs[i % 12], i }, { funcs[(i + 1) % 12], i + 1 },
					       { funcs[(i + 2) % 12], i + 2 } };
		size_t n = (size_t)(i % 4);

		/* A missing mapping or function would make a different location. */
		if (!maps[i % 3] ||
		    (n && (!lines[0].function_id || !lines[1].function_id || !lines[2].function_id)))
			continue;
		locs[i] = pprof__location(p, maps[i % 3], 0x100 + i, n ? lines : NULL, n);
		enomem_id(locs[i], hit, "location");
	}
	for (int i = 0; i < 20; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
		many[i] = (struct pprof_label){ .key = keys[i], .str = i % 2 ? "odd" : NULL,
						.num = i, .num_unit = "bytes" };
	}
	for (int j = 0; j < 300; j++) {
		uint64_t stack[6];
		int64_t v[2] = { 1 + j % 5, 100 * (1 + j % 5) };
		size_t nl = j % 3 == 0 ? 0 : j % 3 == 1 ? 2 : 20;   /* 20: off the stack buffer */
		bool skip = false;

		for (int k = 0; k < 6; k++) {
			stack[k] = locs[(j % 25 + k * 3) % 30];
			skip |= !stack[k];
		}
		if (skip)
			continue;
		if (enomem_ok(pprof__add_sample(p, stack, 1 + j % 6, v, many, nl), hit, "sample")) {
			added[0] += v[0];
			added[1] += v[1];
		}
	}
}

void test_pprof_enomem_builder(void)
{
	int64_t full[2] = { 0 };
	struct pprof *ref;
	unsigned long nth;
	bool hit = false;

	/* Reference run without injection. */
	ref = pprof__new();
	if (!ASSERT_OK_PTR(ref, "new"))
		return;
	ASSERT_TRUE(scenario_header(ref, &hit), "header");
	scenario(ref, full, &hit);
	ASSERT_FALSE(hit, "no ENOMEM without injection");
	ASSERT_TRUE(full[0] > 0, "scenario adds samples");

	for (nth = 1;; nth++) {
		int64_t added[2] = { 0 }, again[2] = { 0 };
		struct pprof *p;
		Profile *prof;
		bool again_hit = false;
		char name[64];

		hit = false;
		snprintf(name, sizeof(name), "enomem at allocation %lu", nth);
		inject_alloc_failure(nth);
		p = pprof__new();
		if (!p) {
			inject_alloc_failure(0);
			ASSERT_EQ(errno, ENOMEM, name);
			continue;
		}
		if (!scenario_header(p, &hit)) {
			inject_alloc_failure(0);
			ASSERT_TRUE(hit, name);
			pprof__free(p);   /* a half-set-up builder frees cleanly */
			continue;
		}
		scenario(p, added, &hit);
		inject_alloc_failure(0);
		if (!hit) {
			pprof__free(p);
			break;   /* every allocation point has been failed once */
		}
		/* The builder is consistent: totals match what was accepted. */
		ASSERT_EQ(pprof__value_total(p, 0), added[0], name);
		ASSERT_EQ(pprof__value_total(p, 1), added[1], name);
		/* And usable: the whole scenario again now succeeds. */
		scenario(p, again, &again_hit);
		ASSERT_FALSE(again_hit, name);
		ASSERT_EQ(again[0], full[0], name);
		ASSERT_EQ(pprof__value_total(p, 0), added[0] + full[0], name);
		ASSERT_EQ(pprof__sample_count(p), pprof__sample_count(ref), name);
		prof = decode(p, name, NULL, NULL);
		if (prof) {
			check_valid(prof, name);
			ASSERT_EQ(prof->n_mapping, 3, name);
			ASSERT_EQ(prof->n_function, 12, name);
			ASSERT_EQ(prof->n_location, 30, name);
			perftools__profiles__profile__free_unpacked(prof, NULL);
		}
		pprof__free(p);
		if (!ASSERT_TRUE(nth < 5000, "injection loop terminates"))
			break;
	}
	ASSERT_TRUE(nth > 100, "many allocation points were exercised");
	pprof__free(ref);
}

void test_pprof_enomem_encode_and_write(void)
{
	uint8_t *base = NULL, *buf = NULL;
	size_t baselen = 0, len = 0;
	int64_t added[2] = { 0 };
	char dir[64], path[128];
	struct pprof *p;
	unsigned long nth;
	bool hit = false;
	int err;

	p = pprof__new();
	if (!ASSERT_OK_PTR(p, "new"))
		return;
	ASSERT_TRUE(scenario_header(p, &hit), "header");
	scenario(p, added, &hit);
	if (!ASSERT_OK(pprof__encode(p, &base, &baselen), "baseline encode"))
		goto out;
	for (nth = 1; nth < 1000; nth++) {
		inject_alloc_failure(nth);
		err = pprof__encode(p, &buf, &len);
		inject_alloc_failure(0);
		if (err == -ENOMEM)
			continue;
		/* Encoding is deterministic; after failures it is still the same. */
		if (ASSERT_OK(err, "encode") && ASSERT_EQ(len, baselen, "same length"))
			ASSERT_TRUE(!memcmp(buf, base, len), "same bytes");
		free(buf);
		buf = NULL;
		break;
	}
	ASSERT_TRUE(nth > 10 && nth < 1000, "encode allocation points, zlib's included");

	if (!make_tmpdir(dir, sizeof(dir)))
		goto out;
	snprintf(path, sizeof(path), "%s/p.pb.gz", dir);
	for (nth = 1; nth < 1000; nth++) {
		inject_alloc_failure(nth);
		err = pprof__write_file(p, path);
		inject_alloc_failure(0);
		if (err == -ENOMEM) {
			if (!ASSERT_EQ(count_entries(dir), 0, "nothing written on ENOMEM"))
				break;
			continue;
		}
		ASSERT_OK(err, "write");
		ASSERT_EQ(count_entries(dir), 1, "written");
		break;
	}
	remove_tmpdir(dir);
out:
	free(base);
	pprof__free(p);
}

/* pprof__location_find: 0 until the location exists, then its id, for
 * exactly its (mapping, address); a mapping asked for again after others
 * (the recent-mapping shortcut) keeps its id, and one that differs from a
 * recent one only in its file or build id gets its own. */
void test_pprof_location_find(void)
{
	struct pprof_mapping m1 = { 0x400000, 0x500000, 0, "/bin/a", "ab" };
	struct pprof_mapping m2 = { 0x400000, 0x500000, 0, "/bin/a", "cd" };
	struct pprof_line line;
	uint64_t map1, map2, loc;
	struct pprof *p;

	p = pprof__new();
	if (!ASSERT_OK_PTR(p, "new"))
		return;
	map1 = pprof__mapping(p, &m1);
	ASSERT_EQ(map1, 1, "mapping");
	ASSERT_EQ(pprof__location_find(p, map1, 0x401000), 0, "none yet");
	line = (struct pprof_line){ pprof__function(p, "f", "f", NULL, 0), 3 };
	loc = pprof__location(p, map1, 0x401000, &line, 1);
	ASSERT_EQ(loc, 1, "location");
	ASSERT_EQ(pprof__location_find(p, map1, 0x401000), loc, "found");
	ASSERT_EQ(pprof__location_find(p, 0, 0x401000), 0, "other mapping");
	ASSERT_EQ(pprof__location_find(p, map1, 0x401001), 0, "other address");
	ASSERT_EQ(pprof__location_find(NULL, map1, 0x401000), 0, "NULL builder");
	map2 = pprof__mapping(p, &m2);
	ASSERT_EQ(map2, 2, "build id differs from the recent one");
	ASSERT_EQ(pprof__mapping(p, &m1), map1, "first again");
	m1.filename = "/bin/b";
	ASSERT_EQ(pprof__mapping(p, &m1), 3, "file differs from the recent one");
	m1.filename = "/bin/a";
	ASSERT_EQ(pprof__mapping(p, &m1), map1, "first once more");
	ASSERT_EQ(pprof__mapping(p, &m2), map2, "second again");
	pprof__free(p);
}

/* The recent-function shortcut is keyed on the name's pointer but never
 * trusts it: a buffer reused for another name, a different system name,
 * file or start line each make their own function; asking again for any
 * of them, in any order, gives its first id. */
void test_pprof_function_recent(void)
{
	char buf[16] = "alpha";
	uint64_t f1, f2, f3, f4, f5;
	struct pprof *p;

	p = pprof__new();
	if (!ASSERT_OK_PTR(p, "new"))
		return;
	f1 = pprof__function(p, buf, buf, "a.c", 1);
	ASSERT_EQ(f1, 1, "first");
	ASSERT_EQ(pprof__function(p, buf, buf, "a.c", 1), f1, "same again");
	ASSERT_EQ(pprof__function(p, "alpha", "alpha", "a.c", 1), f1, "same text elsewhere");
	strcpy(buf, "beta");
	f2 = pprof__function(p, buf, buf, "a.c", 1);
	ASSERT_EQ(f2, 2, "buffer reused for another name");
	f3 = pprof__function(p, buf, "beta_sys", "a.c", 1);
	ASSERT_EQ(f3, 3, "system name differs");
	f4 = pprof__function(p, buf, buf, "b.c", 1);
	ASSERT_EQ(f4, 4, "file differs");
	f5 = pprof__function(p, buf, buf, NULL, 2);
	ASSERT_EQ(f5, 5, "no file, other start line");
	ASSERT_EQ(pprof__function(p, "alpha", "alpha", "a.c", 1), f1, "first once more");
	ASSERT_EQ(pprof__function(p, buf, "beta_sys", "a.c", 1), f3, "third again");
	ASSERT_EQ(pprof__function(p, buf, buf, "a.c", 1), f2, "second again");
	ASSERT_EQ(pprof__function(p, buf, buf, NULL, 2), f5, "fifth again");
	Profile *prof = decode(p, "recent functions", NULL, NULL);

	if (prof && ASSERT_EQ(prof->n_function, 5, "five functions")) {
		ASSERT_STREQ(prof->string_table[prof->function[0]->name], "alpha", "first's name");
		ASSERT_STREQ(prof->string_table[prof->function[1]->name], "beta", "second's name");
		ASSERT_STREQ(prof->string_table[prof->function[2]->system_name], "beta_sys",
			     "third's system name");
		ASSERT_STREQ(prof->string_table[prof->function[3]->filename], "b.c", "fourth's file");
		ASSERT_EQ(prof->function[4]->start_line, 2, "fifth's start line");
	}
	if (prof)
		perftools__profiles__profile__free_unpacked(prof, NULL);
	pprof__free(p);
}

struct fill_ctx {
	struct pprof *p;
	int calls;
	bool bad;
};

/* 0x10 gets two lines (an inline chain), 0x20 stays bare. */
static size_t fill_lines(void *ctx, uint64_t addr, struct pprof_line *lines, size_t cap)
{
	struct fill_ctx *c = ctx;

	c->calls++;
	if (addr != 0x10 || cap < 2)
		return 0;
	lines[0] = (struct pprof_line){ pprof__function(c->p, "inner", "inner", NULL, 0), 0 };
	lines[1] = (struct pprof_line){ c->bad ? 99 : pprof__function(c->p, "outer", "outer", NULL, 0),
					0 };
	return 2;
}

/* pprof__fill_locations: the bare locations of one mapping get the lines
 * the callback gives, once (a location with lines, or of another mapping,
 * is not asked about); pprof__mapping_set_range gives the mapping its range;
 * a line with an unknown function is refused. */
void test_pprof_fill_locations(void)
{
	struct pprof_mapping km = { 0, 0, 0, "[kernel.kallsyms]", "" };
	struct pprof_mapping um = { 0x400000, 0x500000, 0, "/bin/a", "" };
	struct fill_ctx c = { 0 };
	const Perftools__Profiles__Location *l;
	struct pprof_line line;
	uint64_t kmap, umap;
	Profile *prof;
	struct pprof *p;

	p = pprof__new();
	if (!ASSERT_OK_PTR(p, "new"))
		return;
	c.p = p;
	ASSERT_OK(pprof__add_sample_type(p, "samples", "count"), "sample type");
	kmap = pprof__mapping(p, &km);
	umap = pprof__mapping(p, &um);
	line = (struct pprof_line){ pprof__function(p, "user", "user", NULL, 0), 7 };
	ASSERT_EQ(pprof__location(p, kmap, 0x10, NULL, 0), 1, "bare 0x10");
	ASSERT_EQ(pprof__location(p, kmap, 0x20, NULL, 0), 2, "bare 0x20");
	ASSERT_EQ(pprof__location(p, umap, 0x401000, &line, 1), 3, "user location");
	ASSERT_EQ(pprof__location(p, umap, 0x10, NULL, 0), 4, "bare, other mapping");
	ASSERT_OK(pprof__add_sample(p, (uint64_t[]){ 1, 2, 3, 4 }, 4, (int64_t[]){ 1 }, NULL, 0),
		  "sample");
	ASSERT_EQ(pprof__fill_locations(p, 0, fill_lines, &c), -EINVAL, "no mapping");
	ASSERT_OK(pprof__fill_locations(p, kmap, fill_lines, &c), "fill");
	ASSERT_EQ(c.calls, 2, "asked about the kernel mapping's two bare locations only");
	c.calls = 0;
	ASSERT_OK(pprof__fill_locations(p, kmap, fill_lines, &c), "fill again");
	ASSERT_EQ(c.calls, 1, "a filled location is not asked again");
	ASSERT_OK(pprof__mapping_set_range(p, kmap, 0xffffffff81000000ULL, 0xffffffffc0000000ULL),
		  "range");
	ASSERT_EQ(pprof__mapping_set_range(p, 9, 1, 2), -EINVAL, "unknown mapping");
	prof = decode(p, "decode", NULL, NULL);
	if (prof && ASSERT_EQ(prof->n_location, 4, "locations")) {
		l = prof->location[0];
		if (ASSERT_EQ(l->n_line, 2, "0x10's lines")) {
			ASSERT_STREQ(S(prof, prof->function[l->line[0]->function_id - 1]->name), "inner",
				     "leaf line");
			ASSERT_STREQ(S(prof, prof->function[l->line[1]->function_id - 1]->name), "outer",
				     "caller line");
		}
		ASSERT_EQ(prof->location[1]->n_line, 0, "0x20 bare");
		ASSERT_EQ(prof->location[2]->n_line, 1, "user location kept");
		ASSERT_EQ(prof->location[3]->n_line, 0, "other mapping's bare location");
		ASSERT_EQ(prof->mapping[0]->memory_start, 0xffffffff81000000ULL, "start");
		ASSERT_EQ(prof->mapping[0]->memory_limit, 0xffffffffc0000000ULL, "limit");
	}
	if (prof)
		perftools__profiles__profile__free_unpacked(prof, NULL);
	pprof__free(p);
	/* An unknown function id: refused, the location left bare. */
	p = pprof__new();
	if (!ASSERT_OK_PTR(p, "new"))
		return;
	c = (struct fill_ctx){ .p = p, .bad = true };
	kmap = pprof__mapping(p, &km);
	ASSERT_EQ(pprof__location(p, kmap, 0x10, NULL, 0), 1, "bare 0x10");
	ASSERT_EQ(pprof__fill_locations(p, kmap, fill_lines, &c), -EINVAL, "unknown function");
	c.bad = false;
	c.calls = 0;
	ASSERT_OK(pprof__fill_locations(p, kmap, fill_lines, &c), "then a good fill");
	ASSERT_EQ(c.calls, 1, "the refused location was still bare");
	pprof__free(p);
}
