// SPDX-License-Identifier: Apache-2.0
/* dwarf: lines and inline chains of programs built here with -g, compared
 * address by address with binutils' `addr2line -f -i` (an independent
 * DWARF reader); start lines against the source; PIE; C++ names from DWARF
 * and from a stripped binary's .dynsym; sharing by build id; the DWARF
 * memory budget and open-file bound; corrupt and truncated DWARF. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "symbolize/demangle.h"
#include "symbolize/dwarf.h"
#include "symbolize/symbolizer.h"
#include "symfix.h"

/* leaf and mid are always inlined into top: chains of three. Each function
 * is on known lines the test finds by grep, not by number. */
static const char dw_src[] =
	"#include <stdio.h>\n"
	"#include <string.h>\n"
	"volatile int sink;\n"
	"int dw_other(int x);\n"
	"static inline __attribute__((always_inline)) int dw_leaf(int x)\n"
	"{\n"
	"	int r = x * 3; /* LEAF */\n"
	"	sink += r;\n"
	"	return r ^ 5;\n"
	"}\n"
	"static inline __attribute__((always_inline)) int dw_mid(int x)\n"
	"{\n"
	"	int y = dw_leaf(x + 1); /* MID */\n"
	"	return y + dw_leaf(x);\n"
	"}\n"
	"__attribute__((noinline)) int dw_top(int x)\n"
	"{\n"
	"	int s = 0;\n"
	"	for (int i = 0; i < x; i++)\n"
	"		s += dw_mid(i); /* TOP */\n"
	"	return s;\n"
	"}\n"
	"__attribute__((noinline)) static int dw_static(int x)\n"
	"{\n"
	"	for (int i = 0; i < x; i++)\n"
	"		sink += i * 7;\n"
	"	return sink;\n"
	"}\n"
	"int main(int argc, char **argv)\n"
	"{\n"
	"	char cmd[256];\n"
	"	(void)argv;\n"
	"	printf(\"top %lx\\nstatic %lx\\nother %lx\\nready\\n\", (unsigned long)&dw_top,\n"
	"	       (unsigned long)&dw_static, (unsigned long)&dw_other);\n"
	"	fflush(stdout);\n"
	"	while (fgets(cmd, sizeof(cmd), stdin))\n"
	"		;\n"
	"	return dw_top(argc) + dw_static(argc) + dw_other(argc) == 12345;\n"
	"}\n";

/* A second compile unit, with an inline function from a header-like
 * static inline defined here. */
static const char dw2_src[] =
	"extern volatile int sink;\n"
	"static inline __attribute__((always_inline)) int dw2_sq(int v) { return v * v; }\n"
	"__attribute__((noinline)) int dw_other(int x)\n"
	"{\n"
	"	int t = 0;\n"
	"	for (int i = 0; i < x; i++)\n"
	"		t += dw2_sq(i + sink);\n"
	"	return t;\n"
	"}\n";

static const char cxx_src[] =
	"#include <cstdio>\n"
	"#include <string>\n"
	"#include <vector>\n"
	"volatile int sink;\n"
	"namespace app {\n"
	"struct Worker {\n"
	"	int k;\n"
	"	__attribute__((noinline)) int run(int x) const { return x * k + sink; }\n"
	"	__attribute__((always_inline)) inline int twice(int x) const { return 2 * x + sink; }\n"
	"	__attribute__((noinline)) int outer(int x) const { return twice(x) + 1; }\n"
	"};\n"
	"template <typename T> __attribute__((noinline)) T apply(T v) { return v + (T)sink; }\n"
	"__attribute__((noinline)) int overload(int x) { return x + sink; }\n"
	"__attribute__((noinline)) double overload(double x) { return x * 2 + sink; }\n"
	"}\n"
	"namespace { __attribute__((noinline)) int hidden(int x) { return x - sink; } }\n"
	"int main(int argc, char **)\n"
	"{\n"
	"	app::Worker w{3};\n"
	"	char cmd[64];\n"
	"	int (app::Worker::*run)(int) const = &app::Worker::run;\n"
	"	int (app::Worker::*outer)(int) const = &app::Worker::outer;\n"
	"	std::printf(\"run %lx\\nouter %lx\\napply %lx\\noverload_i %lx\\noverload_d %lx\\n\"\n"
	"		    \"hidden %lx\\nready\\n\",\n"
	"		    (unsigned long)*(void **)&run,\n"
	"		    (unsigned long)*(void **)&outer,\n"
	"		    (unsigned long)(void *)&app::apply<long>,\n"
	"		    (unsigned long)(void *)(int (*)(int))&app::overload,\n"
	"		    (unsigned long)(void *)(double (*)(double))&app::overload,\n"
	"		    (unsigned long)(void *)&hidden);\n"
	"	std::fflush(stdout);\n"
	"	while (std::fgets(cmd, sizeof(cmd), stdin))\n"
	"		;\n"
	"	return w.run(argc) + w.outer(argc) + (int)app::apply<long>(argc) +\n"
	"	       app::overload(argc) + (int)app::overload(1.0) + hidden(argc) == 7;\n"
	"}\n";

/* A GNU C nested function: its DIE is a child of its parent's, and its
 * code lies outside its parent's. */
static const char nest_src[] =
	"volatile int sink;\n"
	"static inline __attribute__((always_inline)) int nest_leaf(int v)\n"
	"{\n"
	"	sink += v;\n"
	"	return v * 3;\n"
	"}\n"
	"__attribute__((noinline)) int nest_outer(int x)\n"
	"{\n"
	"	__attribute__((noinline)) int nest_inner(int y) { sink += y * x; return nest_leaf(y + x); }\n"
	"	int s = 0;\n"
	"	for (int i = 0; i < x; i++)\n"
	"		s += nest_inner(i) + nest_leaf(i);\n"
	"	return s;\n"
	"}\n"
	"int main(int argc, char **argv)\n"
	"{\n"
	"	(void)argv;\n"
	"	return nest_outer(argc) == 12345;\n"
	"}\n";

static struct symfix fx;

static void dw_cleanup(void)
{
	fx_rmdir(fx.dir);
}

static const char *P(const char *name)
{
	return fx_path(&fx, name);
}

static bool fixtures(void)
{
	const char *d;

	if (fx.state)
		return ASSERT_EQ(fx.state, 1, "fixtures built");
	fx.state = -1;
	if (!ASSERT_TRUE(fx_mkdir(&fx, "dwtest"), "mkdtemp"))
		return false;
	atexit(dw_cleanup);
	d = fx.dir;
	if (fx_write(P("dw.c"), dw_src, strlen(dw_src)) ||
	    fx_write(P("dw2.c"), dw2_src, strlen(dw2_src)) ||
	    fx_write(P("cxx.cc"), cxx_src, strlen(cxx_src)) ||
	    fx_write(P("nest.c"), nest_src, strlen(nest_src)))
		return ASSERT_TRUE(false, "write sources");
	if (fx_run("cd %s && cc -O2 -g -fno-pie -no-pie dw.c dw2.c -o dw", d) ||
	    fx_run("cd %s && cc -O2 -g -fPIE -pie dw.c dw2.c -o dwpie", d) ||
	    fx_run("cd %s && cc -O2 -g -gdwarf-4 -fno-pie -no-pie dw.c dw2.c -o dw4", d) ||
	    fx_run("cd %s && g++ -O2 -g -fno-pie -no-pie cxx.cc -o cxx", d) ||
	    fx_run("cd %s && cc -O2 -g -fno-pie -no-pie nest.c -o nest", d) ||
	    fx_run("cd %s && g++ -O2 -rdynamic -fPIE -pie cxx.cc -o cxx_dyn && strip --strip-all cxx_dyn",
		   d))
		return ASSERT_TRUE(false, "build fixtures");
	fx.state = 1;
	return true;
}

/* ---- the oracle: addr2line -f -i -a ------------------------------------ */

#define A2L_MAX_ADDRS 2048
#define A2L_MAX_DEPTH 16

struct a2l_frame {
	char func[256];
	char file[512];
	int line;
};

struct a2l {
	uint64_t addr;
	int n;
	struct a2l_frame f[A2L_MAX_DEPTH];
};

/* Run addr2line over addrs of file; results in the same order. */
static int a2l_run(const char *file, const uint64_t *addrs, size_t n, struct a2l *out)
{
	char in_path[300], cmd[1024], line[1024];
	struct a2l *cur = NULL;
	size_t k = 0;
	bool want_func = true;
	FILE *f, *p;

	snprintf(in_path, sizeof(in_path), "%s/a2l.in", fx.dir);
	f = fopen(in_path, "we");
	if (!f)
		return -errno;
	for (size_t i = 0; i < n; i++)
		fprintf(f, "0x%llx\n", (unsigned long long)addrs[i]);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "addr2line -f -i -a -e '%s' < '%s'", file, in_path);
	p = popen(cmd, "r");
	if (!p)
		return -errno;
	while (fgets(line, sizeof(line), p)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "0x", 2) && want_func) {
			if (k == n)
				break;
			cur = &out[k++];
			memset(cur, 0, sizeof(*cur));
			cur->addr = strtoull(line, NULL, 16);
			continue;
		}
		if (!cur)
			continue;
		if (want_func) {
			if (cur->n == A2L_MAX_DEPTH)
				continue;
			snprintf(cur->f[cur->n].func, sizeof(cur->f[0].func), "%.255s", line);
			want_func = false;
		} else {
			char *colon = strrchr(line, ':'), *disc = strstr(line, " (discriminator");

			if (disc)
				*disc = '\0';
			colon = strrchr(line, ':');
			if (colon) {
				*colon = '\0';
				cur->f[cur->n].line = atoi(colon + 1);
			}
			snprintf(cur->f[cur->n].file, sizeof(cur->f[0].file), "%.511s", line);
			cur->n++;
			want_func = true;
		}
	}
	pclose(p);
	return k == n ? 0 : -EIO;
}

/* [start, start + size) of a function, from nm -S. */
static bool nm_range(const char *file, const char *func, uint64_t *start, uint64_t *size)
{
	char out[256];
	unsigned long long a, s;

	if (!fx_capture(out, sizeof(out), "nm -S '%s' | awk '$4 == \"%s\" { print $1, $2 }'",
			file, func) ||
	    sscanf(out, "%llx %llx", &a, &s) != 2)
		return false;
	*start = a;
	*size = s;
	return true;
}

/* The line of the source holding marker (grep -n). */
static int src_line(const char *src, const char *marker)
{
	char out[64];

	if (!fx_capture(out, sizeof(out), "grep -n -F '%s' '%s' | head -1 | cut -d: -f1", marker,
			P(src)))
		return -1;
	return atoi(out);
}

/* Symbolize every byte of func in pid (runtime = vaddr + bias) and compare
 * with addr2line; counts the chain depths seen. */
static void compare_function(struct symbolizer *s, pid_t pid, const char *file, const char *func,
			     uint64_t bias, size_t depth_seen[4])
{
	static uint64_t addrs[A2L_MAX_ADDRS];
	static struct a2l want[A2L_MAX_ADDRS];
	uint64_t start, size;
	size_t n, checked = 0;
	char what[128];

	if (!ASSERT_TRUE(nm_range(file, func, &start, &size), func))
		return;
	n = size < A2L_MAX_ADDRS ? size : A2L_MAX_ADDRS;
	for (size_t i = 0; i < n; i++)
		addrs[i] = start + i;
	if (!ASSERT_OK(a2l_run(file, addrs, n, want), "addr2line"))
		return;
	for (size_t i = 0; i < n; i++) {
		struct sym_frame fr;

		snprintf(what, sizeof(what), "%s+0x%zx", func, i);
		if (!want[i].n || !strcmp(want[i].f[0].func, "??"))
			continue;
		if (!ASSERT_OK(symbolizer__user(s, pid, addrs[i] + bias, &fr), what))
			return;
		checked++;
		if (!ASSERT_EQ(fr.nlines, want[i].n, what))
			continue;
		ASSERT_TRUE(fr.flags & SYM_FRAME_DEBUG_INFO, what);
		depth_seen[fr.nlines < 4 ? fr.nlines : 3]++;
		for (size_t k = 0; k < fr.nlines; k++) {
			ASSERT_STREQ(fr.lines[k].name, want[i].f[k].func, what);
			ASSERT_STREQ(fr.lines[k].file, want[i].f[k].file, what);
			ASSERT_EQ(fr.lines[k].line, want[i].f[k].line, what);
		}
	}
	ASSERT_TRUE(checked >= n / 2, "most addresses known to addr2line");
}

static void check_program(const char *bin, bool pie)
{
	size_t depth[4] = { 0 };
	struct symbolizer *s = symbolizer__new();
	struct fxchild c = { .pid = -1 };
	struct sym_frame fr;
	uint64_t start, size, bias = 0;

	if (!ASSERT_OK_PTR(s, "new") || !fx_start1(&c, P(bin)))
		goto out;
	if (pie && ASSERT_TRUE(nm_range(P(bin), "dw_top", &start, &size), "nm"))
		bias = fx_sym(&c, "top") - start;
	compare_function(s, c.pid, P(bin), "dw_top", bias, depth);
	compare_function(s, c.pid, P(bin), "dw_static", bias, depth);
	compare_function(s, c.pid, P(bin), "dw_other", bias, depth);
	ASSERT_TRUE(depth[1] > 0, "code not inlined");
	ASSERT_TRUE(depth[2] > 0, "one level inlined (dw2_sq, dw_mid)");
	ASSERT_TRUE(depth[3] > 0, "two levels inlined (dw_leaf in dw_mid in dw_top)");

	/* start lines: where each function begins in the source */
	if (ASSERT_OK(symbolizer__user(s, c.pid, fx_sym(&c, "top"), &fr), "top") &&
	    ASSERT_TRUE(fr.nlines >= 1, "top lines")) {
		ASSERT_STREQ(fr.lines[fr.nlines - 1].name, "dw_top", "physical function last");
		ASSERT_EQ(fr.lines[fr.nlines - 1].start_line, src_line("dw.c", "int dw_top(int x)"),
			  "start line of dw_top");
	}
	if (ASSERT_OK(symbolizer__user(s, c.pid, fx_sym(&c, "static") + 2, &fr), "static") &&
	    ASSERT_EQ(fr.nlines, 1, "static lines")) {
		ASSERT_STREQ(fr.lines[0].name, "dw_static", "static function named by DWARF");
		ASSERT_EQ(fr.lines[0].start_line, src_line("dw.c", "static int dw_static(int x)"),
			  "start line of dw_static");
	}
out:
	fx_stop(&c);
	symbolizer__free(s);
}

void test_dwarf_lines_match_addr2line(void)
{
	if (fixtures() && fx_have("addr2line"))
		check_program("dw", false);
}

void test_dwarf_lines_pie(void)
{
	if (fixtures() && fx_have("addr2line"))
		check_program("dwpie", true);
}

void test_dwarf_lines_dwarf4(void)
{
	if (fixtures() && fx_have("addr2line"))
		check_program("dw4", false);
}

/* The frames an inlined chain produces, by name and line, from the source. */
void test_dwarf_inline_chain(void)
{
	struct symbolizer *s = symbolizer__new();
	struct fxchild c = { .pid = -1 };
	uint64_t start, size;
	bool seen = false;
	struct sym_frame fr;

	if (!fixtures() || !ASSERT_OK_PTR(s, "new") || !fx_start1(&c, P("dw")))
		goto out;
	if (!ASSERT_TRUE(nm_range(P("dw"), "dw_top", &start, &size), "nm"))
		goto out;
	for (uint64_t a = start; a < start + size && !seen; a++) {
		if (symbolizer__user(s, c.pid, a, &fr) || fr.nlines != 3)
			continue;
		seen = true;
		ASSERT_STREQ(fr.lines[0].name, "dw_leaf", "innermost");
		ASSERT_STREQ(fr.lines[1].name, "dw_mid", "middle");
		ASSERT_STREQ(fr.lines[2].name, "dw_top", "physical");
		/* callers' lines are the call sites */
		ASSERT_TRUE(fr.lines[1].line == src_line("dw.c", "dw_leaf(x + 1); /* MID */") ||
				    fr.lines[1].line == src_line("dw.c", "return y + dw_leaf(x);"),
			    "mid's line is a call of dw_leaf");
		ASSERT_EQ(fr.lines[2].line, src_line("dw.c", "s += dw_mid(i); /* TOP */"),
			  "top's line is the call of dw_mid");
		ASSERT_TRUE(fr.lines[0].line >= src_line("dw.c", "LEAF") &&
				    fr.lines[0].line <= src_line("dw.c", "LEAF") + 2,
			    "leaf's line in dw_leaf");
		ASSERT_EQ(fr.lines[0].start_line, src_line("dw.c", "int dw_leaf(int x)"),
			  "inlined function's start line");
		ASSERT_STREQ(fr.lines[0].file, P("dw.c"), "absolute source path");
	}
	ASSERT_TRUE(seen, "a three-deep chain in dw_top");
out:
	fx_stop(&c);
	symbolizer__free(s);
}

/* C++: DWARF names are the linkage names demangled (pprof's simple form),
 * system names the mangled ones, as nm lists them. */
void test_dwarf_cxx_names(void)
{
	static const struct {
		const char *sym;     /* printed by the program */
		const char *name;
		const char *nm_grep; /* finds the mangled name in nm */
	} cases[] = {
		{ "run", "app::Worker::run", "6Worker3run" },
		{ "outer", "app::Worker::outer", "6Worker5outer" },
		{ "apply", "app::apply", "5applyIl" },
		{ "overload_i", "app::overload", "8overloadEi" },
		{ "overload_d", "app::overload", "8overloadEd" },
		{ "hidden", "(anonymous namespace)::hidden", "6hidden" },
	};
	struct symbolizer *s = NULL, *full = NULL;
	struct symbolizer_opts o;
	struct fxchild c = { .pid = -1 };
	struct sym_frame fr;
	char mangled[512], want[1024];

	if (!fixtures())
		return;
	symbolizer__default_opts(&o);
	s = symbolizer__new_opts(&o);
	o.demangle = SYM_DEMANGLE_FULL;
	full = symbolizer__new_opts(&o);
	if (!ASSERT_OK_PTR(s, "new") || !ASSERT_OK_PTR(full, "new") || !fx_start1(&c, P("cxx")))
		goto out;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t a = fx_sym(&c, cases[i].sym);

		if (!ASSERT_TRUE(a != 0, cases[i].sym) ||
		    !ASSERT_TRUE(fx_capture(mangled, sizeof(mangled),
					    "nm '%s' | awk '$3 ~ /%s/ { print $3; exit }'", P("cxx"),
					    cases[i].nm_grep),
				 cases[i].nm_grep))
			continue;
		if (ASSERT_OK(symbolizer__user(s, c.pid, a, &fr), cases[i].sym) &&
		    ASSERT_TRUE(fr.nlines >= 1, cases[i].sym)) {
			ASSERT_STREQ(fr.lines[fr.nlines - 1].name, cases[i].name, cases[i].sym);
			ASSERT_STREQ(fr.lines[fr.nlines - 1].system_name, mangled, cases[i].sym);
			ASSERT_STREQ(fr.lines[fr.nlines - 1].file, P("cxx.cc"), "C++ source file");
		}
		if (ASSERT_OK(symbolizer__user(full, c.pid, a, &fr), cases[i].sym) &&
		    ASSERT_TRUE(fr.nlines >= 1, cases[i].sym) &&
		    ASSERT_TRUE(fx_capture(want, sizeof(want), "c++filt '%s'", mangled), "c++filt"))
			ASSERT_STREQ(fr.lines[fr.nlines - 1].name, want, "full form is c++filt's");
	}
	/* the always-inline member inside outer() */
	{
		uint64_t start, size;
		bool seen = false;

		if (ASSERT_TRUE(fx_capture(mangled, sizeof(mangled),
					   "nm '%s' | awk '$3 ~ /6Worker5outer/ { print $3 }'", P("cxx")),
				"nm finds Worker::outer") &&
		    ASSERT_TRUE(nm_range(P("cxx"), mangled, &start, &size), "outer range")) {
			for (uint64_t a = start; a < start + size && !seen; a++)
				if (!symbolizer__user(s, c.pid, a, &fr) && fr.nlines == 2 &&
				    !strcmp(fr.lines[0].name, "app::Worker::twice"))
					seen = true;
		}
		ASSERT_TRUE(seen, "Worker::twice inlined into Worker::outer");
	}
out:
	fx_stop(&c);
	symbolizer__free(s);
	symbolizer__free(full);
}

/* No DWARF, no .symtab: .dynsym names (-rdynamic) demangled. */
void test_dwarf_cxx_stripped(void)
{
	struct symbolizer *s = symbolizer__new();
	struct fxchild c = { .pid = -1 };
	struct sym_frame fr;

	if (!fixtures() || !ASSERT_OK_PTR(s, "new") || !fx_start1(&c, P("cxx_dyn")))
		goto out;
	if (ASSERT_OK(symbolizer__user(s, c.pid, fx_sym(&c, "apply") + 1, &fr), "apply") &&
	    ASSERT_EQ(fr.nlines, 1, "one line")) {
		ASSERT_STREQ(fr.lines[0].name, "app::apply", "demangled from .dynsym");
		ASSERT_TRUE(!strncmp(fr.lines[0].system_name, "_ZN3app5applyIl", 15),
			    fr.lines[0].system_name);
		ASSERT_TRUE(fr.lines[0].file == NULL && fr.lines[0].line == 0, "no lines");
		ASSERT_FALSE(fr.flags & SYM_FRAME_DEBUG_INFO, "not from DWARF");
	}
out:
	fx_stop(&c);
	symbolizer__free(s);
}

/* Two copies of one binary (two inodes, one build id) in two processes:
 * symbols parsed once, DWARF opened once, same answers. */
void test_dwarf_shared_by_build_id(void)
{
	struct symbolizer *s = symbolizer__new();
	struct fxchild a = { .pid = -1 }, b = { .pid = -1 };
	struct symbolizer_stats st1, st2;
	struct sym_frame fa, fb;

	if (!fixtures() || !ASSERT_OK_PTR(s, "new") || fx_run("cp %s %s", P("dw"), P("dw_copy")))
		goto out;
	if (!fx_start1(&a, P("dw")) || !fx_start1(&b, P("dw_copy")))
		goto out;
	ASSERT_OK(symbolizer__add_pid(s, a.pid), "add a");
	ASSERT_OK(symbolizer__user(s, a.pid, fx_sym(&a, "top") + 8, &fa), "lookup a");
	symbolizer__stats(s, &st1);
	ASSERT_OK(symbolizer__add_pid(s, b.pid), "add b");
	ASSERT_OK(symbolizer__user(s, b.pid, fx_sym(&b, "top") + 8, &fb), "lookup b");
	symbolizer__stats(s, &st2);
	ASSERT_EQ(st2.buildid_hits - st1.buildid_hits, st2.files - st1.files,
		  "every file of b known by build id");
	ASSERT_EQ(st2.debug_infos, st1.debug_infos, "nothing new parsed");
	ASSERT_EQ(st2.dwarf_opens, 1, "DWARF opened once");
	ASSERT_TRUE(st2.frame_cache_hits > st1.frame_cache_hits, "b's lookup was a cache hit");
	if (ASSERT_EQ(fa.nlines, fb.nlines, "same depth") && fa.nlines) {
		ASSERT_STREQ(fb.lines[0].name, fa.lines[0].name, "same name");
		ASSERT_EQ(fb.lines[0].line, fa.lines[0].line, "same line");
	}
out:
	fx_stop(&a);
	fx_stop(&b);
	symbolizer__free(s);
}

/* The dw and dwpie fixtures running, and dw_top's range in each: lookups
 * alternate between them over every third byte of the function. */
struct dw_pair {
	struct fxchild a, b;
	uint64_t start, size, pstart, psize, bias;
};

static bool dw_pair_start(struct dw_pair *p)
{
	*p = (struct dw_pair){ .a = { .pid = -1 }, .b = { .pid = -1 } };
	if (!fx_start1(&p->a, P("dw")) || !fx_start1(&p->b, P("dwpie")) ||
	    !ASSERT_TRUE(nm_range(P("dw"), "dw_top", &p->start, &p->size), "nm") ||
	    !ASSERT_TRUE(nm_range(P("dwpie"), "dw_top", &p->pstart, &p->psize), "nm"))
		return false;
	p->bias = fx_sym(&p->b, "top") - p->pstart;
	return true;
}

/* The n-th lookup's process and address; false past the end. */
static bool dw_pair_at(const struct dw_pair *p, uint64_t n, pid_t *pid, uint64_t *addr)
{
	uint64_t i = n * 3;

	if (i >= p->size || i >= p->psize)
		return false;
	*pid = n % 2 ? p->b.pid : p->a.pid;
	*addr = n % 2 ? p->pstart + i + p->bias : p->start + i;
	return true;
}

/* s answers at (pid, addr) what ref does: names, files, lines, inline
 * depth and build ID. */
static bool same_answer(struct symbolizer *ref, struct symbolizer *s, pid_t pid, uint64_t addr,
			const char *what)
{
	struct sym_frame x, y;

	if (!ASSERT_OK(symbolizer__user(ref, pid, addr, &x), "ref") ||
	    !ASSERT_OK(symbolizer__user(s, pid, addr, &y), what) ||
	    !ASSERT_EQ(x.nlines, y.nlines, "same depth"))
		return false;
	for (size_t k = 0; k < x.nlines; k++) {
		ASSERT_STREQ(y.lines[k].name, x.lines[k].name, "same names");
		ASSERT_STREQ(y.lines[k].file, x.lines[k].file, "same files");
		ASSERT_EQ(y.lines[k].line, x.lines[k].line, "same lines");
	}
	ASSERT_STREQ(y.map->build_id, x.map->build_id, "same build id");
	return true;
}

/* One DWARF file open at a time, and a heap budget of one byte: files
 * are closed and reopened as lookups alternate, answers do not change,
 * and the bytes held stay bounded. */
void test_dwarf_budget(void)
{
	struct symbolizer_opts o;
	struct symbolizer *ref = NULL, *s = NULL;
	struct dw_pair dp = { .a = { .pid = -1 }, .b = { .pid = -1 } };
	struct symbolizer_stats st;
	uint64_t addr;
	pid_t pid;

	if (!fixtures())
		return;
	symbolizer__default_opts(&o);
	ref = symbolizer__new_opts(&o);
	o.max_debug_open = 1;
	o.max_debug_bytes = 1;
	o.max_cached_frames = 0; /* every lookup reaches DWARF */
	s = symbolizer__new_opts(&o);
	if (!ASSERT_OK_PTR(ref, "new") || !ASSERT_OK_PTR(s, "new"))
		goto out;
	if (!dw_pair_start(&dp))
		goto out;
	for (uint64_t n = 0; dw_pair_at(&dp, n, &pid, &addr); n++)
		if (!same_answer(ref, s, pid, addr, "bounded"))
			break;
	symbolizer__stats(s, &st);
	ASSERT_TRUE(st.dwarf_open <= 1, "at most one open");
	ASSERT_TRUE(st.dwarf_evictions > 4, "closed and reopened");
	ASSERT_TRUE(st.dwarf_opens == st.dwarf_evictions + st.dwarf_open, "opens balance");
	symbolizer__stats(ref, &st);
	ASSERT_EQ(st.dwarf_evictions, 0, "the default budget holds both");
	ASSERT_EQ(st.dwarf_open, 2, "both open");
	ASSERT_TRUE(st.dwarf_bytes > 0 && st.dwarf_bytes < st.bytes, "DWARF bytes counted");
out:
	fx_stop(&dp.a);
	fx_stop(&dp.b);
	symbolizer__free(ref);
	symbolizer__free(s);
}

/* ---- functions the unit walk does not see ------------------------------- */

/* Chains of every address of both functions, in one order or the other. */
static bool nest_chains(const char *first, const char *second, struct a2l *got, size_t max,
			size_t *n)
{
	const char *funcs[2] = { first, second };
	struct dwarf_file *df = NULL;
	uint64_t start, size;
	int fd;

	*n = 0;
	fd = open(P("nest"), O_RDONLY | O_CLOEXEC);
	if (!ASSERT_TRUE(fd >= 0, "open nest") || !ASSERT_OK(dwarf_file__open(fd, &df), "dwarf"))
		goto fail;
	close(fd);
	for (int f = 0; f < 2; f++) {
		if (!ASSERT_TRUE(nm_range(P("nest"), funcs[f], &start, &size), funcs[f]))
			goto fail;
		for (uint64_t a = start; a < start + size && *n < max; a++) {
			struct dwarf_line l[A2L_MAX_DEPTH];
			struct a2l *g = &got[(*n)++];
			int k = dwarf_file__lookup(df, a, l, A2L_MAX_DEPTH);

			*g = (struct a2l){ .addr = a, .n = k };
			for (int j = 0; j < k; j++) {
				snprintf(g->f[j].func, sizeof(g->f[j].func), "%s",
					 l[j].name ? l[j].name : "?");
				g->f[j].line = l[j].line;
			}
		}
	}
	dwarf_file__free(df);
	return true;
fail:
	if (fd >= 0 && !df)
		close(fd);
	dwarf_file__free(df);
	return false;
}

static int a2l_addr_cmp(const void *a, const void *b)
{
	const struct a2l *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* A unit's functions are indexed without what is inside them, a function's
 * inlined calls when an address first falls in it: a function nested in
 * another is found all the same, whether an address of the nested one or
 * of its parent comes first, with its own inlined calls. */
void test_dwarf_nested_function(void)
{
	static struct a2l inner_first[512], outer_first[512];
	size_t n1, n2, inner = 0, chained = 0;

	if (!fixtures() || !nest_chains("nest_inner.0", "nest_outer", inner_first, 512, &n1) ||
	    !nest_chains("nest_outer", "nest_inner.0", outer_first, 512, &n2) ||
	    !ASSERT_EQ(n1, n2, "same addresses") || !ASSERT_TRUE(n1 > 0, "addresses"))
		return;
	qsort(inner_first, n1, sizeof(*inner_first), a2l_addr_cmp);
	qsort(outer_first, n2, sizeof(*outer_first), a2l_addr_cmp);
	for (size_t i = 0; i < n1; i++) {
		const struct a2l *a = &inner_first[i], *b = &outer_first[i];
		char what[64];

		snprintf(what, sizeof(what), "0x%" PRIx64, a->addr);
		if (!ASSERT_EQ(a->n, b->n, what))
			continue;
		for (int k = 0; k < a->n; k++) {
			ASSERT_STREQ(a->f[k].func, b->f[k].func, what);
			ASSERT_EQ(a->f[k].line, b->f[k].line, what);
		}
		if (a->n && !strcmp(a->f[a->n - 1].func, "nest_inner")) {
			inner++;
			chained += a->n >= 2 && !strcmp(a->f[0].func, "nest_leaf");
		}
	}
	ASSERT_TRUE(inner >= 8, "addresses of the nested function named after it");
	ASSERT_TRUE(chained > 0, "inlined calls inside the nested function");
}

/* ---- corrupt and truncated DWARF ---------------------------------------- */

struct section {
	char name[64];
	uint64_t off, size;
};

static size_t debug_sections(const char *file, struct section *secs, size_t max)
{
	char cmd[512], line[512];
	size_t n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "readelf -SW '%s'", file);
	p = popen(cmd, "r");
	if (!p)
		return 0;
	while (n < max && fgets(line, sizeof(line), p)) {
		char name[64], type[32];
		unsigned long long addr, off, size;
		char *b = strchr(line, ']');

		if (!b || sscanf(b + 1, "%63s %31s %llx %llx %llx", name, type, &addr, &off, &size) != 5)
			continue;
		if (strncmp(name, ".debug_", 7))
			continue;
		snprintf(secs[n].name, sizeof(secs[n].name), "%s", name);
		secs[n].off = off;
		secs[n].size = size;
		n++;
	}
	pclose(p);
	return n;
}

/* Open a damaged copy and look up every address of dw_top: whatever comes
 * back, lines are sane and nothing crashes (ASan watches our side). */
static int poke_dwarf(const char *path, uint64_t start, uint64_t size, size_t *answered)
{
	struct dwarf_line out[8];
	struct dwarf_file *df = NULL;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = dwarf_file__open(fd, &df);
	close(fd);
	if (err)
		return err;
	for (uint64_t a = start - 64; a < start + size + 64; a++) {
		int n = dwarf_file__lookup(df, a, out, 8);

		ASSERT_TRUE(n >= 0 && n <= 8, "line count in range");
		for (int k = 0; k < n; k++) {
			ASSERT_TRUE(out[k].line >= 0, "line >= 0");
			if (out[k].name)
				(void)strlen(out[k].name);
			if (out[k].file)
				(void)strlen(out[k].file);
		}
		*answered += n > 0;
	}
	dwarf_file__lookup(df, 0, out, 8);
	dwarf_file__lookup(df, UINT64_MAX, out, 8);
	dwarf_file__free(df);
	return 0;
}

void test_dwarf_corrupt(void)
{
	struct section secs[32];
	unsigned char *orig = NULL, *buf = NULL;
	uint64_t rng = 0x9e3779b97f4a7c15ULL, start, size;
	size_t len = 0, nsec, answered = 0, opened = 0, rejected = 0;
	const char *path;

	if (!fixtures())
		return;
	path = P("dw_corrupt");
	if (!ASSERT_OK(fx_read(P("dw"), &orig, &len), "read") ||
	    !ASSERT_TRUE(nm_range(P("dw"), "dw_top", &start, &size), "nm"))
		goto out;
	nsec = debug_sections(P("dw"), secs, 32);
	if (!ASSERT_TRUE(nsec >= 4, "debug sections found"))
		goto out;
	buf = malloc(len);
	if (!ASSERT_OK_PTR(buf, "malloc"))
		goto out;

	/* intact: every address of dw_top answered */
	ASSERT_OK(fx_write(path, orig, len), "write");
	answered = 0;
	ASSERT_OK(poke_dwarf(path, start, size, &answered), "intact");
	ASSERT_TRUE(answered >= size, "intact file answers");

	/* truncated anywhere: inside headers, inside each debug section */
	for (size_t i = 0; i < nsec; i++) {
		uint64_t cuts[3] = { secs[i].off, secs[i].off + secs[i].size / 2,
				     secs[i].off + secs[i].size - 1 };

		for (int k = 0; k < 3; k++) {
			if (cuts[k] >= len)
				continue;
			ASSERT_OK(fx_write(path, orig, cuts[k]), "write truncated");
			if (poke_dwarf(path, start, size, &answered))
				rejected++;
			else
				opened++;
		}
	}
	for (size_t cut = 0; cut < 256; cut += 37) {
		ASSERT_OK(fx_write(path, orig, cut), "write truncated");
		ASSERT_ERR(poke_dwarf(path, start, size, &answered), "truncated headers");
	}
	/* random bytes changed inside one debug section at a time */
	for (int round = 0; round < 200; round++) {
		const struct section *sec = &secs[round % nsec];
		int nflip = 1 + round % 6;

		memcpy(buf, orig, len);
		for (int k = 0; k < nflip && sec->size; k++) {
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			buf[sec->off + rng % sec->size] ^= (unsigned char)(rng >> 40 | 1);
		}
		/* and sometimes a whole header run zeroed or set */
		if (round % 5 == 4 && sec->size > 16)
			memset(buf + sec->off + rng % (sec->size - 16), round & 8 ? 0xff : 0, 16);
		ASSERT_OK(fx_write(path, buf, len), "write flipped");
		if (poke_dwarf(path, start, size, &answered))
			rejected++;
		else
			opened++;
	}
	/* and more in .debug_info and .debug_abbrev, which the unit walk
	 * reads itself (DIEs through the abbreviation table) */
	for (int round = 0; round < 300; round++) {
		const struct section *sec = NULL;

		for (size_t i = 0, k = 0; i < nsec; i++)
			if ((!strcmp(secs[i].name, ".debug_info") ||
			     !strcmp(secs[i].name, ".debug_abbrev")) &&
			    k++ == (size_t)round % 2)
				sec = &secs[i];
		if (!ASSERT_OK_PTR(sec, ".debug_info and .debug_abbrev"))
			break;
		memcpy(buf, orig, len);
		for (int k = 0; k < 1 + round % 3 && sec->size; k++) {
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			buf[sec->off + rng % sec->size] ^= (unsigned char)(rng >> 40 | 1);
		}
		ASSERT_OK(fx_write(path, buf, len), "write flipped");
		if (poke_dwarf(path, start, size, &answered))
			rejected++;
		else
			opened++;
	}
	/* a unit length saying more than .debug_info holds, or less than its
	 * DIEs: the walk reads only what libdw knows to be the section */
	for (size_t i = 0; i < nsec; i++) {
		static const uint32_t lens[] = { 0x7fffffff, 0x00ffffff, 0x10, 0x1 };

		if (strcmp(secs[i].name, ".debug_info") || secs[i].size < 4)
			continue;
		for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
			memcpy(buf, orig, len);
			memcpy(buf + secs[i].off, &lens[k], 4);
			ASSERT_OK(fx_write(path, buf, len), "write unit length");
			if (poke_dwarf(path, start, size, &answered))
				rejected++;
			else
				opened++;
		}
	}
	ASSERT_TRUE(opened > 0, "damaged files still opened");
	printf("  corrupt DWARF: %zu opened, %zu rejected, %zu addresses answered\n", opened,
	       rejected, answered);
	/* not ELF at all */
	ASSERT_OK(fx_write(path, "#!/bin/sh\n", 10), "write");
	ASSERT_EQ(poke_dwarf(path, start, size, &answered), -ENOEXEC, "not ELF");
	/* ELF without DWARF */
	ASSERT_EQ(poke_dwarf(P("cxx_dyn"), start, size, &answered), -ENODATA, "no DWARF");
out:
	free(buf);
	free(orig);
}

/* Distro builds record relative paths (-fdebug-prefix-map: DW_AT_comp_dir
 * "./sub", file "../sub/rel.c"): joined with the unit's directory and
 * cleaned, like addr2line's answer without the "./" and "x/..". */
void test_dwarf_relative_paths(void)
{
	static const char rel_src[] =
		"#include <stdio.h>\n"
		"__attribute__((noinline)) int rel_fn(int x) { return x * 5 + 1; }\n"
		"int main(void)\n"
		"{\n"
		"	char cmd[16];\n"
		"	printf(\"fn %lx\\nready\\n\", (unsigned long)&rel_fn);\n"
		"	fflush(stdout);\n"
		"	while (fgets(cmd, sizeof(cmd), stdin))\n"
		"		;\n"
		"	return rel_fn(2) == 3;\n"
		"}\n";
	struct symbolizer *s = NULL;
	struct fxchild c = { .pid = -1 };
	struct sym_frame fr;
	char a2l[512], want[512];

	if (!fixtures())
		return;
	if (fx_run("mkdir -p %s/sub", fx.dir) || fx_write(P("sub/rel.c"), rel_src, strlen(rel_src)) ||
	    fx_run("cd %s && cc -O1 -g -fdebug-prefix-map=%s=. ../sub/rel.c -o ../rel",
		   P("sub"), fx.dir))
		return;
	/* addr2line's own reading: "./sub/../sub/rel.c:2" */
	if (!ASSERT_TRUE(fx_capture(a2l, sizeof(a2l), "addr2line -e %s $(nm %s | awk '$3 == \"rel_fn\" { print $1 }')",
				    P("rel"), P("rel")), "addr2line") ||
	    !ASSERT_TRUE(strstr(a2l, "sub/../sub/rel.c:") != NULL, a2l))
		return;
	snprintf(want, sizeof(want), "sub/rel.c");
	s = symbolizer__new();
	if (!ASSERT_OK_PTR(s, "new") || !fx_start1(&c, P("rel")))
		goto out;
	if (ASSERT_OK(symbolizer__user(s, c.pid, fx_sym(&c, "fn"), &fr), "lookup") &&
	    ASSERT_EQ(fr.nlines, 1, "one line")) {
		ASSERT_STREQ(fr.lines[0].file, want, "joined with comp_dir, cleaned");
		ASSERT_EQ(fr.lines[0].line, atoi(strrchr(a2l, ':') + 1), "addr2line's line");
	}
out:
	fx_stop(&c);
	symbolizer__free(s);
}

/* The whole cache's budget (max_cache_bytes) with DWARF: a budget nothing
 * fits in drops every binary, symbols and DWARF index, at each prune; the
 * lookups after it read both again and answer what an unbounded
 * symbolizer does (names, files, lines, inline depth). */
void test_dwarf_cache_budget_prune(void)
{
	struct symbolizer_opts o;
	struct symbolizer *ref = NULL, *s = NULL;
	struct dw_pair dp = { .a = { .pid = -1 }, .b = { .pid = -1 } };
	struct symbolizer_stats st;
	uint64_t addr;
	pid_t pid;
	size_t prunes = 0;

	if (!fixtures())
		return;
	symbolizer__default_opts(&o);
	ref = symbolizer__new_opts(&o);
	o.max_cache_bytes = 1;
	s = symbolizer__new_opts(&o);
	if (!ASSERT_OK_PTR(ref, "new") || !ASSERT_OK_PTR(s, "new"))
		goto out;
	if (!dw_pair_start(&dp))
		goto out;
	for (uint64_t n = 0; dw_pair_at(&dp, n, &pid, &addr); n++) {
		if (!same_answer(ref, s, pid, addr, "budget"))
			break;
		if (n % 2 == 1) {
			symbolizer__prune(s);
			prunes++;
			symbolizer__stats(s, &st);
			ASSERT_EQ(st.files, 0, "nothing kept past a prune");
			ASSERT_EQ(st.dwarf_open, 0, "no DWARF kept past a prune");
		}
	}
	symbolizer__stats(s, &st);
	ASSERT_TRUE(prunes >= 4, "several prunes");
	ASSERT_TRUE(st.cache_evictions >= 2 * prunes - 2, "both binaries dropped at each prune");
	ASSERT_TRUE(st.file_parses >= 2 * prunes, "read again after each prune");
	ASSERT_TRUE(st.dwarf_opens >= 2 * prunes, "DWARF opened again after each prune");
	symbolizer__stats(ref, &st);
	ASSERT_EQ(st.cache_evictions, 0, "no budget, no eviction");
	ASSERT_EQ(st.file_parses, 2, "parsed once each");
out:
	fx_stop(&dp.a);
	fx_stop(&dp.b);
	symbolizer__free(ref);
	symbolizer__free(s);
}

/* A prune over the budget closes only the DWARF it needs to, least
 * recently looked up first, and never the one looked up last: with a
 * looked up before b and the cache over by a's DWARF, a's is closed, b's
 * stays open (no reopening and re-indexing in the next interval), no
 * binary is dropped, and both answer after it what an unbounded
 * symbolizer does, a's DWARF opened again. */
void test_dwarf_cache_budget_lru(void)
{
	struct symbolizer_opts o;
	struct symbolizer *ref = NULL, *s = NULL;
	struct dw_pair dp = { .a = { .pid = -1 }, .b = { .pid = -1 } };
	struct symbolizer_stats st1, st2;
	size_t dwa = 0;
	uint64_t addr;
	pid_t pid;

	if (!fixtures())
		return;
	symbolizer__default_opts(&o);
	ref = symbolizer__new_opts(&o);
	s = symbolizer__new_opts(&o);
	if (!ASSERT_OK_PTR(ref, "new") || !ASSERT_OK_PTR(s, "new") || !dw_pair_start(&dp))
		goto out;
	/* a (dw) first, then b (dwpie): a is the least recently used */
	for (uint64_t n = 0; n < 2 && dw_pair_at(&dp, n, &pid, &addr); n++) {
		if (!same_answer(ref, s, pid, addr, "before"))
			goto out;
		symbolizer__stats(s, &st1);
		if (n == 0)
			dwa = st1.dwarf_bytes;
	}
	if (!ASSERT_EQ(st1.dwarf_open, 2, "both DWARF open") || !ASSERT_EQ(st1.files, 2, "two files") ||
	    !ASSERT_TRUE(dwa > 0 && 4 * (st1.dwarf_bytes - dwa) > st1.bytes - dwa, "b's DWARF"))
		goto out;
	/* room for all but a's DWARF: more than a quarter of it is b's */
	symbolizer__set_max_cache_bytes(s, st1.bytes - dwa);
	symbolizer__prune(s);
	symbolizer__stats(s, &st2);
	ASSERT_EQ(st2.dwarf_open, 1, "one DWARF closed, the one looked up last kept open");
	ASSERT_EQ(st2.dwarf_evictions, st1.dwarf_evictions + 1, "one closed");
	ASSERT_EQ(st2.cache_evictions, 0, "no binary dropped");
	ASSERT_EQ(st2.files, 2, "both files kept");
	ASSERT_TRUE(st2.bytes <= st1.bytes - dwa, "within the budget");
	/* b at addresses not looked up yet: its DWARF, still open */
	for (uint64_t n = 3; n < 9 && dw_pair_at(&dp, n, &pid, &addr); n += 2)
		if (!same_answer(ref, s, pid, addr, "b after the prune"))
			goto out;
	symbolizer__stats(s, &st2);
	ASSERT_EQ(st2.dwarf_opens, st1.dwarf_opens, "b's DWARF not opened again");
	/* a: its DWARF opened again, the same answers */
	for (uint64_t n = 2; n < 8 && dw_pair_at(&dp, n, &pid, &addr); n += 2)
		if (!same_answer(ref, s, pid, addr, "a after the prune"))
			goto out;
	symbolizer__stats(s, &st2);
	ASSERT_EQ(st2.dwarf_opens, st1.dwarf_opens + 1, "a's DWARF opened again");
	ASSERT_EQ(st2.file_parses, st1.file_parses, "no file read again");
out:
	fx_stop(&dp.a);
	fx_stop(&dp.b);
	symbolizer__free(ref);
	symbolizer__free(s);
}

/* The DWARF closed first is that of the binary looked up least recently,
 * counting the lookups answered from cached results, which read no DWARF:
 * a, read before b but looked up again after it (a cached result), keeps
 * its DWARF open when the budget has room for one; b's is closed and
 * opened again on b's next miss, with the same answers. */
void test_dwarf_cache_budget_cached_lookups_count(void)
{
	struct symbolizer_opts o;
	struct symbolizer *ref = NULL, *s = NULL;
	struct dw_pair dp = { .a = { .pid = -1 }, .b = { .pid = -1 } };
	struct symbolizer_stats st0, st1, st2;
	uint64_t addr;
	pid_t pid;

	if (!fixtures())
		return;
	symbolizer__default_opts(&o);
	ref = symbolizer__new_opts(&o);
	s = symbolizer__new_opts(&o);
	if (!ASSERT_OK_PTR(ref, "new") || !ASSERT_OK_PTR(s, "new") || !dw_pair_start(&dp))
		goto out;
	if (!dw_pair_at(&dp, 0, &pid, &addr) || !same_answer(ref, s, pid, addr, "a"))
		goto out;
	symbolizer__stats(s, &st0);
	if (!dw_pair_at(&dp, 1, &pid, &addr) || !same_answer(ref, s, pid, addr, "b"))
		goto out;
	/* a again, from the cached results: no DWARF read */
	if (!dw_pair_at(&dp, 0, &pid, &addr) || !same_answer(ref, s, pid, addr, "a cached"))
		goto out;
	symbolizer__stats(s, &st1);
	if (!ASSERT_EQ(st1.dwarf_open, 2, "both DWARF open") ||
	    !ASSERT_EQ(st1.frame_cache_hits, st0.frame_cache_hits + 1, "a answered from the cache"))
		goto out;
	/* room for all but b's DWARF */
	symbolizer__set_max_cache_bytes(s, st1.bytes - (st1.dwarf_bytes - st0.dwarf_bytes));
	symbolizer__prune(s);
	symbolizer__stats(s, &st2);
	ASSERT_EQ(st2.dwarf_open, 1, "one DWARF closed");
	ASSERT_EQ(st2.cache_evictions, 0, "no binary dropped");
	for (uint64_t n = 2; n < 8 && dw_pair_at(&dp, n, &pid, &addr); n += 2)
		if (!same_answer(ref, s, pid, addr, "a after the prune"))
			goto out;
	symbolizer__stats(s, &st2);
	ASSERT_EQ(st2.dwarf_opens, st1.dwarf_opens, "a's DWARF kept open");
	for (uint64_t n = 3; n < 9 && dw_pair_at(&dp, n, &pid, &addr); n += 2)
		if (!same_answer(ref, s, pid, addr, "b after the prune"))
			goto out;
	symbolizer__stats(s, &st2);
	ASSERT_EQ(st2.dwarf_opens, st1.dwarf_opens + 1, "b's DWARF opened again");
out:
	fx_stop(&dp.a);
	fx_stop(&dp.b);
	symbolizer__free(ref);
	symbolizer__free(s);
}

/* Cached results outlive a prune (the same frames come back interval
 * after interval): the lookups after it answer from the cache, with no
 * DWARF lookup, what an unbounded symbolizer that never pruned answers;
 * once the names take more than their share of the budget, the prune
 * drops them with the results, and the lookups after it resolve again
 * and still answer the same. */
void test_dwarf_results_outlive_prune(void)
{
	struct symbolizer *ref = NULL, *s = NULL;
	struct dw_pair dp = { .a = { .pid = -1 }, .b = { .pid = -1 } };
	struct symbolizer_stats st0, st1, st2;
	uint64_t addr, n;
	pid_t pid;

	if (!fixtures())
		return;
	ref = symbolizer__new();
	s = symbolizer__new();
	if (!ASSERT_OK_PTR(ref, "new") || !ASSERT_OK_PTR(s, "new") || !dw_pair_start(&dp))
		goto out;
	for (n = 0; dw_pair_at(&dp, n, &pid, &addr); n++)
		if (!same_answer(ref, s, pid, addr, "first pass"))
			goto out;
	symbolizer__stats(s, &st0);
	ASSERT_TRUE(st0.frame_cache_misses >= n / 2, "first pass resolved");
	ASSERT_TRUE(st0.name_bytes > 0, "names kept");
	ASSERT_EQ(symbolizer__prune(s), 0, "both alive");
	symbolizer__stats(s, &st1);
	ASSERT_EQ(st1.name_bytes, st0.name_bytes, "names kept past the prune");
	for (n = 0; dw_pair_at(&dp, n, &pid, &addr); n++)
		if (!same_answer(ref, s, pid, addr, "after a prune"))
			goto out;
	symbolizer__stats(s, &st1);
	ASSERT_EQ(st1.frame_cache_misses, st0.frame_cache_misses, "every lookup a cache hit");
	ASSERT_EQ(st1.frame_cache_hits - st0.frame_cache_hits, n, "n hits");
	ASSERT_EQ(st1.dwarf_opens, st0.dwarf_opens, "no DWARF opened again");

	/* names over an eighth of the budget: dropped at the prune */
	symbolizer__set_max_cache_bytes(s, st1.name_bytes * 8 - 8);
	symbolizer__prune(s);
	symbolizer__stats(s, &st2);
	ASSERT_EQ(st2.name_bytes, 0, "names dropped");
	symbolizer__set_max_cache_bytes(s, 0);
	for (n = 0; dw_pair_at(&dp, n, &pid, &addr); n++)
		if (!same_answer(ref, s, pid, addr, "after the names went"))
			goto out;
	symbolizer__stats(s, &st2);
	ASSERT_TRUE(st2.frame_cache_misses - st1.frame_cache_misses >= n / 2, "resolved again");
out:
	fx_stop(&dp.a);
	fx_stop(&dp.b);
	symbolizer__free(ref);
	symbolizer__free(s);
}
