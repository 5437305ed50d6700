// SPDX-License-Identifier: Apache-2.0
/* latesym: user frames whose lines are read at the end of a one-shot run
 * (symbolizer__user_defer, frames__user_resolve) end up in the profile
 * exactly as frames symbolized at once do: the same locations, mappings
 * (with their flags), functions, files, lines and inline chains, compared
 * field by field on the two decoded profiles. No DWARF is opened before
 * the end. A process that exited, whose binary was deleted, still gets its
 * lines through the files held open. The truth is the same symbolizer
 * answering at once, on a child built here with cc -O2 -g. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "harness.h"
#include "symfix.h"
#include "aggregate/frames.h"
#include "pprof/pprof.h"
#include "profile.pb-c.h"
#include "symbolize/symbolizer.h"

typedef Perftools__Profiles__Profile Profile;

/* mix() is always inlined into hot_loop(); the child prints where its
 * functions and one of libc's are, then waits for its stdin to close. */
static const char late_src[] =
	"#include <stdio.h>\n"
	"#include <string.h>\n"
	"#include <time.h>\n"
	"volatile unsigned long sink;\n"
	"static inline __attribute__((always_inline)) unsigned long mix(unsigned long x)\n"
	"{\n"
	"	x ^= x >> 13;\n"
	"	x *= 0x9e3779b97f4a7c15UL;\n"
	"	return x ^ (x >> 29);\n"
	"}\n"
	"__attribute__((noinline, noipa)) unsigned long hot_loop(unsigned long n)\n"
	"{\n"
	"	unsigned long s = 0;\n"
	"	for (unsigned long i = 0; i < n; i++)\n"
	"		s += mix(i + s);\n"
	"	return s;\n"
	"}\n"
	"int main(void)\n"
	"{\n"
	"	char buf[64];\n"
	"	printf(\"hot %lx\\nmain %lx\\nlibc %lx\\nready\\n\", (unsigned long)&hot_loop,\n"
	"	       (unsigned long)&main, (unsigned long)&clock_gettime);\n"
	"	fflush(stdout);\n"
	"	while (fgets(buf, sizeof(buf), stdin))\n"
	"		sink += hot_loop(strlen(buf));\n"
	"	return 0;\n"
	"}\n";

static struct symfix late_fx;

static const char *late_path(const char *name)
{
	static char buf[4][256];
	static int i;
	char *b = buf[i++ % 4];

	snprintf(b, sizeof(buf[0]), "%s/%s", late_fx.dir, name);
	return b;
}

static void late_cleanup(void)
{
	char cmd[300];

	if (late_fx.dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", late_fx.dir);
		if (system(cmd))
			fprintf(stderr, "  could not remove %s\n", late_fx.dir);
	}
}

/* The source and one binary built from it (copied per test as needed). */
static bool late_build(void)
{
	static int state;

	if (state)
		return ASSERT_EQ(state, 1, "fixture built");
	state = -1;
	if (!ASSERT_TRUE(fx_mkdir(&late_fx, "latesym"), "mkdtemp"))
		return false;
	atexit(late_cleanup);
	if (!ASSERT_OK(fx_write(late_path("late.c"), late_src, strlen(late_src)), "write source") ||
	    !ASSERT_OK(fx_run("cc -O2 -g -fPIE -pie %s -o %s", late_path("late.c"), late_path("late")),
		       "cc -O2 -g"))
		return false;
	state = 1;
	return true;
}

static int gunzip_buf(const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen)
{
	z_stream z = { 0 };
	size_t cap = inlen * 8 + 4096;
	uint8_t *buf = malloc(cap), *nb;
	int r;

	if (!buf || inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
		free(buf);
		return -ENOMEM;
	}
	z.next_in = (uint8_t *)in;
	z.avail_in = (uInt)inlen;
	do {
		if (z.total_out == cap) {
			nb = realloc(buf, cap * 2);
			if (!nb) {
				r = Z_MEM_ERROR;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		z.next_out = buf + z.total_out;
		z.avail_out = (uInt)(cap - z.total_out);
		r = inflate(&z, Z_NO_FLUSH);
	} while (r == Z_OK);
	*outlen = z.total_out;
	inflateEnd(&z);
	if (r != Z_STREAM_END) {
		free(buf);
		return -EINVAL;
	}
	*out = buf;
	return 0;
}

static Profile *decode(const struct pprof *p)
{
	uint8_t *gz = NULL, *pb = NULL;
	size_t gzlen = 0, pblen = 0;
	Profile *prof = NULL;

	if (ASSERT_OK(pprof__encode(p, &gz, &gzlen), "encode") &&
	    ASSERT_OK(gunzip_buf(gz, gzlen, &pb, &pblen), "gunzip"))
		prof = perftools__profiles__profile__unpack(NULL, pblen, pb);
	free(pb);
	free(gz);
	ASSERT_TRUE(prof != NULL, "unpack");
	return prof;
}

static const char *str(const Profile *p, int64_t i)
{
	return i >= 0 && (size_t)i < p->n_string_table ? p->string_table[i] : "<bad index>";
}

static const Perftools__Profiles__Function *func(const Profile *p, uint64_t id)
{
	return id && id <= p->n_function && p->function[id - 1]->id == id ? p->function[id - 1] :
									  NULL;
}

struct late_counts {
	size_t lines, inlined, with_file;
};

/* What `go tool pprof -raw` prints of a and b is the same: samples,
 * locations (address, mapping, and each line's function name, system
 * name, file, start line and line), mappings with their flags. Function
 * ids may differ (functions are made in another order). */
static bool same_profile(const Profile *a, const Profile *b, struct late_counts *c)
{
	bool ok = true;

	if (!ASSERT_EQ(a->n_sample, b->n_sample, "samples") ||
	    !ASSERT_EQ(a->n_location, b->n_location, "locations") ||
	    !ASSERT_EQ(a->n_mapping, b->n_mapping, "mappings"))
		return false;
	for (size_t i = 0; i < a->n_sample && ok; i++) {
		ok = ASSERT_EQ(a->sample[i]->n_location_id, b->sample[i]->n_location_id, "stack depth");
		for (size_t j = 0; ok && j < a->sample[i]->n_location_id; j++)
			ok = ASSERT_EQ(a->sample[i]->location_id[j], b->sample[i]->location_id[j],
				       "sample location");
	}
	for (size_t i = 0; i < a->n_mapping && ok; i++) {
		const Perftools__Profiles__Mapping *x = a->mapping[i], *y = b->mapping[i];

		ok = ASSERT_EQ(x->memory_start, y->memory_start, "mapping start") &&
		     ASSERT_EQ(x->memory_limit, y->memory_limit, "mapping limit") &&
		     ASSERT_EQ(x->file_offset, y->file_offset, "mapping offset") &&
		     ASSERT_STREQ(str(a, x->filename), str(b, y->filename), "mapping file") &&
		     ASSERT_STREQ(str(a, x->build_id), str(b, y->build_id), "mapping build id") &&
		     ASSERT_EQ(x->has_functions, y->has_functions, "[FN]") &&
		     ASSERT_EQ(x->has_filenames, y->has_filenames, "[FL]") &&
		     ASSERT_EQ(x->has_line_numbers, y->has_line_numbers, "[LN]") &&
		     ASSERT_EQ(x->has_inline_frames, y->has_inline_frames, "[IN]");
	}
	for (size_t i = 0; i < a->n_location && ok; i++) {
		const Perftools__Profiles__Location *x = a->location[i], *y = b->location[i];

		ok = ASSERT_EQ(x->id, y->id, "location id") &&
		     ASSERT_EQ(x->address, y->address, "location address") &&
		     ASSERT_EQ(x->mapping_id, y->mapping_id, "location mapping") &&
		     ASSERT_EQ(x->n_line, y->n_line, "lines of a location");
		c->lines += ok ? x->n_line : 0;
		c->inlined += ok && x->n_line > 1;
		for (size_t j = 0; ok && j < x->n_line; j++) {
			const Perftools__Profiles__Function *fx = func(a, x->line[j]->function_id);
			const Perftools__Profiles__Function *fy = func(b, y->line[j]->function_id);

			ok = ASSERT_TRUE(fx && fy, "functions by id") &&
			     ASSERT_EQ(x->line[j]->line, y->line[j]->line, "line") &&
			     ASSERT_STREQ(str(a, fx->name), str(b, fy->name), "function name") &&
			     ASSERT_STREQ(str(a, fx->system_name), str(b, fy->system_name), "system name") &&
			     ASSERT_STREQ(str(a, fx->filename), str(b, fy->filename), "file") &&
			     ASSERT_EQ(fx->start_line, fy->start_line, "start line");
			c->with_file += ok && str(a, fx->filename)[0];
		}
	}
	return ok;
}

static struct symbolizer *late_symbolizer(void)
{
	struct symbolizer_opts o;

	symbolizer__default_opts(&o);
	o.debuginfod = 0;
	return symbolizer__new_opts(&o);
}

static struct pprof *late_pprof(void)
{
	struct pprof *p = pprof__new();

	if (p && (pprof__add_sample_type(p, "samples", "count") ||
		  pprof__set_period(p, "cpu", "nanoseconds", 1)))
		ASSERT_TRUE(false, "pprof header");
	return p;
}

/* Stacks through hot_loop (each byte of its first 192: inlined mix()),
 * main, and libc's clock_gettime (its DWARF where libc6-dbg is
 * installed), added to p through s. */
static bool add_stacks(struct pprof *p, struct symbolizer *s, const struct fxchild *c,
		       struct frames_stats *st)
{
	uint64_t hot = fx_sym(c, "hot"), mainf = fx_sym(c, "main"), libc = fx_sym(c, "libc");
	int64_t one = 1;

	if (!ASSERT_TRUE(hot && mainf && libc, "the child's addresses"))
		return false;
	for (uint64_t i = 0; i < 192; i++) {
		uint64_t stack[3] = { hot + i, mainf + 1 + i % 48, libc + 1 + i };
		uint64_t locs[3];
		int n;

		n = frames__locations(p, s, c->pid, NULL, 0, stack, 3, FRAMES_LEAF_EXACT, locs, 3, st);
		if (!ASSERT_EQ(n, 3, "three frames") ||
		    !ASSERT_OK(pprof__add_sample(p, locs, 3, &one, NULL, 0), "sample"))
			return false;
	}
	return true;
}

void test_latesym_same_as_at_once(void)
{
	struct symbolizer *now = NULL, *late = NULL;
	struct pprof *pn = NULL, *pl = NULL;
	struct frames_stats sn = { 0 }, sl = { 0 }, sr = { 0 };
	struct symbolizer_stats ss;
	struct late_counts c = { 0 };
	Profile *a = NULL, *b = NULL;
	struct fxchild ch = { .pid = -1 };

	if (!late_build() || !fx_start1(&ch, late_path("late")))
		goto out;
	now = late_symbolizer();
	late = late_symbolizer();
	pn = late_pprof();
	pl = late_pprof();
	if (!ASSERT_TRUE(now && late && pn && pl, "new"))
		goto out;
	symbolizer__user_defer(late);
	if (!add_stacks(pn, now, &ch, &sn) || !add_stacks(pl, late, &ch, &sl))
		goto out;
	symbolizer__stats(late, &ss);
	ASSERT_EQ(ss.dwarf_opens, 0, "no DWARF opened while deferring");
	ASSERT_TRUE(sl.deferred > 0 && sl.deferred <= sl.frames, "frames deferred");
	ASSERT_EQ(sn.deferred, 0, "none deferred at once");
	if (!ASSERT_OK(frames__user_resolve(pl, late, &sr), "resolve"))
		goto out;
	symbolizer__stats(late, &ss);
	ASSERT_TRUE(ss.dwarf_opens > 0, "DWARF opened at the end");
	ASSERT_TRUE(sr.frames > 0 && sr.frames <= (uint64_t)pprof__sample_count(pl) * 3,
		    "each location looked up once");
	a = decode(pn);
	b = decode(pl);
	if (!a || !b)
		goto out;
	ASSERT_TRUE(same_profile(a, b, &c), "the same profile");
	/* the comparison is about something: files, lines, inline chains */
	ASSERT_TRUE(c.inlined > 0, "inlined frames (mix in hot_loop)");
	ASSERT_TRUE(c.with_file > 0, "lines with their file");
out:
	fx_stop(&ch);
	if (a)
		perftools__profiles__profile__free_unpacked(a, NULL);
	if (b)
		perftools__profiles__profile__free_unpacked(b, NULL);
	pprof__free(pn);
	pprof__free(pl);
	symbolizer__free(now);
	symbolizer__free(late);
}

/* The process exits, its binary deleted, its pid forgotten (a prune)
 * before the end: its lines still come, through the file held open. */
void test_latesym_process_gone(void)
{
	struct symbolizer *now = NULL, *late = NULL;
	struct pprof *pn = NULL, *pl = NULL;
	struct frames_stats sn = { 0 }, sl = { 0 }, sr = { 0 };
	struct symbolizer_stats ss;
	struct late_counts c = { 0 };
	Profile *a = NULL, *b = NULL;
	struct fxchild ch = { .pid = -1 };
	const char *bin;
	struct stat st;

	if (!late_build())
		return;
	bin = late_path("gone");
	if (!ASSERT_OK(fx_run("cp %s %s", late_path("late"), bin), "copy the binary") ||
	    !fx_start1(&ch, bin))
		goto out;
	now = late_symbolizer();
	late = late_symbolizer();
	pn = late_pprof();
	pl = late_pprof();
	if (!ASSERT_TRUE(now && late && pn && pl, "new"))
		goto out;
	symbolizer__user_defer(late);
	if (!add_stacks(pn, now, &ch, &sn) || !add_stacks(pl, late, &ch, &sl))
		goto out;
	ASSERT_OK(unlink(bin), "delete the binary");
	fx_stop(&ch);
	ASSERT_TRUE(stat(bin, &st) && errno == ENOENT, "binary gone");
	symbolizer__prune(late);
	symbolizer__stats(late, &ss);
	ASSERT_EQ(ss.pids, 0, "the exited process forgotten");
	ASSERT_EQ(ss.dwarf_opens, 0, "no DWARF opened before the end");
	if (!ASSERT_OK(frames__user_resolve(pl, late, &sr), "resolve"))
		goto out;
	a = decode(pn);
	b = decode(pl);
	if (!a || !b)
		goto out;
	ASSERT_TRUE(same_profile(a, b, &c), "the same profile as while it lived");
	ASSERT_TRUE(c.inlined > 0, "inlined frames after the exit");
	ASSERT_TRUE(c.with_file > 0, "files and lines after the exit");
out:
	fx_stop(&ch);
	if (a)
		perftools__profiles__profile__free_unpacked(a, NULL);
	if (b)
		perftools__profiles__profile__free_unpacked(b, NULL);
	pprof__free(pn);
	pprof__free(pl);
	symbolizer__free(now);
	symbolizer__free(late);
}
