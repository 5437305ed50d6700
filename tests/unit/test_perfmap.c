// SPDX-License-Identifier: Apache-2.0
/* perfmap: the perf map parser (table-driven), and a program built here
 * that copies a function into anonymous executable memory and names the
 * copies in /tmp/perf-PID.map: its JIT names resolve, a line appended
 * later is picked up, and the map is refused when it is a symlink, a
 * FIFO, owned by someone else or too big. In a pid and mount namespace of
 * its own the map is found by the namespace pid, in the private /tmp. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "symbolize/perfmap.h"
#include "symbolize/symbolizer.h"
#include "symfix.h"

void test_perfmap_parse(void)
{
	static const char text[] =
		"1000 100 alpha\n"
		"0x2000 0x80 beta with spaces (and [brackets])\n"
		"3000 10 crlf\r\n"
		"ABCD0 20 UPPER\n"
		"4000 0 zero_size\n"
		"0 10 zero_start\n"
		"5000 10\n"          /* no name */
		"5000 10 \n"         /* empty name */
		"zzzz 10 bad_hex\n"
		"6000  10 two_spaces\n"
		"6000\t10 tab\n"
		"ffffffffffffffff 10 wraps\n"
		"10000000000000000 10 seventeen\n"
		"1000 100 alpha_again\n" /* the same code regenerated: wins */
		"1080 10 inner\n"        /* overlaps alpha_again, later: wins inside */
		"7000 40 last_no_newline";
	struct perfmap *pm = NULL;
	const struct perfmap_sym *s;
	static const struct {
		uint64_t addr;
		const char *name; /* NULL: none */
	} q[] = {
		{ 0x1000, "alpha_again" }, { 0x107f, "alpha_again" }, { 0x1080, "inner" },
		{ 0x108f, "inner" },       { 0x1090, "alpha_again" }, { 0x10ff, "alpha_again" },
		{ 0x1100, NULL },          { 0x2000, "beta with spaces (and [brackets])" },
		{ 0x207f, "beta with spaces (and [brackets])" }, { 0x2080, NULL },
		{ 0x3005, "crlf" },        { 0xabcd0, "UPPER" }, { 0x4000, NULL },
		{ 0x5000, NULL },          { 0x6000, NULL },     { 0x7020, "last_no_newline" },
		{ 0, NULL },               { UINT64_MAX, NULL },
	};

	if (!ASSERT_OK(perfmap__parse(text, sizeof(text) - 1, &pm), "parse"))
		return;
	ASSERT_EQ(pm->nsyms, 7, "valid lines kept");
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		char what[64];

		snprintf(what, sizeof(what), "0x%llx", (unsigned long long)q[i].addr);
		s = perfmap__find(pm, q[i].addr);
		if (q[i].name && ASSERT_OK_PTR(s, what))
			ASSERT_STREQ(perfmap__name(pm, s), q[i].name, what);
		else if (!q[i].name)
			ASSERT_TRUE(s == NULL, what);
	}
	perfmap__free(pm);
	pm = NULL;
	ASSERT_OK(perfmap__parse("", 0, &pm), "empty");
	ASSERT_EQ(pm->nsyms, 0, "no symbols");
	ASSERT_TRUE(perfmap__find(pm, 0x1000) == NULL, "empty find");
	perfmap__free(pm);
	ASSERT_TRUE(perfmap__find(NULL, 1) == NULL, "NULL map");
	perfmap__free(NULL);
}

/* Random text: never a crash, every symbol well-formed. */
void test_perfmap_garbage(void)
{
	static const char alphabet[] = "0123456789abcdefx \n\r\t\0zZ_";
	uint64_t rng = 88172645463325252ULL;
	char buf[4096];
	struct perfmap *pm;

	for (int round = 0; round < 500; round++) {
		size_t n = (size_t)(round * 7) % sizeof(buf);

		for (size_t k = 0; k < n; k++) {
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			buf[k] = alphabet[rng % (sizeof(alphabet) - 1)];
		}
		pm = NULL;
		if (!ASSERT_OK(perfmap__parse(buf, n, &pm), "parse"))
			continue;
		for (size_t i = 0; i < pm->nsyms; i++) {
			ASSERT_TRUE(pm->syms[i].size > 0 && pm->syms[i].start > 0, "sane");
			ASSERT_TRUE(pm->syms[i].name < pm->names_len, "name in pool");
			perfmap__find(pm, pm->syms[i].start);
		}
		perfmap__free(pm);
	}
}

/* jit_template is copied (it has no relocations: -O1, no calls, no data)
 * into anonymous memory twice; the copies are named in the perf map.
 * Commands: "b" appends a line for the second copy; "q" exits. With an
 * argument N it just runs the JIT code for N ms (for profiling). */
static const char jit_src[] =
	"#include <stdio.h>\n"
	"#include <stdlib.h>\n"
	"#include <string.h>\n"
	"#include <sys/mman.h>\n"
	"#include <time.h>\n"
	"#include <unistd.h>\n"
	"__attribute__((noinline, used, section(\"jit_tpl\"))) long jit_template(long n)\n"
	"{\n"
	"	long s = 0;\n"
	"	for (long i = 0; i < n; i++)\n"
	"		s += (i * i) ^ (s >> 3);\n"
	"	return s;\n"
	"}\n"
	"extern char __start_jit_tpl[], __stop_jit_tpl[];\n"
	"static void map_line(unsigned long a, unsigned long len, const char *name)\n"
	"{\n"
	"	char path[64];\n"
	"	FILE *f;\n"
	"	snprintf(path, sizeof(path), \"/tmp/perf-%d.map\", (int)getpid());\n"
	"	f = fopen(path, \"a\");\n"
	"	if (!f) { perror(path); exit(2); }\n"
	"	fprintf(f, \"%lx %lx %s\\n\", a, len, name);\n"
	"	fclose(f);\n"
	"}\n"
	"int main(int argc, char **argv)\n"
	"{\n"
	"	size_t len = (size_t)(__stop_jit_tpl - __start_jit_tpl);\n"
	"	char *mem = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);\n"
	"	long (*alpha)(long), (*beta)(long);\n"
	"	char cmd[64], path[64];\n"
	"	volatile long sink = 0;\n"
	"	if (mem == MAP_FAILED) return 2;\n"
	"	memcpy(mem, __start_jit_tpl, len);\n"
	"	memcpy(mem + 4096, __start_jit_tpl, len);\n"
	"	if (mprotect(mem, 65536, PROT_READ | PROT_EXEC)) return 2;\n"
	"	alpha = (long (*)(long))(void *)mem;\n"
	"	beta = (long (*)(long))(void *)(mem + 4096);\n"
	"	map_line((unsigned long)mem, len, \"jit_alpha\");\n"
	"	snprintf(path, sizeof(path), \"/tmp/perf-%d.map\", (int)getpid());\n"
	"	if (argc > 1) {\n"
	"		struct timespec t0, t;\n"
	"		long ms = atol(argv[1]);\n"
	"		map_line((unsigned long)mem + 4096, len, \"LuaTrace:beta [jit]\");\n"
	"		printf(\"ready\\n\");\n"
	"		fflush(stdout);\n"
	"		clock_gettime(CLOCK_MONOTONIC, &t0);\n"
	"		do {\n"
	"			sink += alpha(20000) + beta(10000);\n"
	"			clock_gettime(CLOCK_MONOTONIC, &t);\n"
	"		} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);\n"
	"		unlink(path);\n"
	"		return 0;\n"
	"	}\n"
	"	sink += alpha(10) + beta(10);\n"
	"	printf(\"alpha %lx\\nbeta %lx\\nlen %zx\\nready\\n\", (unsigned long)mem,\n"
	"	       (unsigned long)mem + 4096, len);\n"
	"	fflush(stdout);\n"
	"	while (fgets(cmd, sizeof(cmd), stdin)) {\n"
	"		if (cmd[0] == 'b')\n"
	"			map_line((unsigned long)mem + 4096, len, \"LuaTrace:beta [jit]\");\n"
	"		printf(\"ready\\n\");\n"
	"		fflush(stdout);\n"
	"	}\n"
	"	unlink(path);\n"
	"	return 0;\n"
	"}\n";

static struct symfix fx;

static void pm_cleanup(void)
{
	fx_rmdir(fx.dir);
}

static bool fixtures(void)
{
	if (fx.state)
		return ASSERT_EQ(fx.state, 1, "fixtures built");
	fx.state = -1;
	if (!ASSERT_TRUE(fx_mkdir(&fx, "jittest"), "mkdtemp"))
		return false;
	atexit(pm_cleanup);
	if (fx_write(fx_path(&fx, "jit.c"), jit_src, strlen(jit_src)) ||
	    fx_run("cd %s && cc -O1 -fno-stack-protector -fcf-protection=none jit.c -o jit", fx.dir))
		return ASSERT_TRUE(false, "build");
	fx.state = 1;
	return true;
}

static void map_path(char *buf, size_t len, pid_t pid)
{
	snprintf(buf, len, "/tmp/perf-%d.map", (int)pid);
}

void test_perfmap_jit(void)
{
	struct symbolizer_opts o;
	struct symbolizer *s = NULL;
	struct fxchild c = { .pid = -1 };
	struct symbolizer_stats st;
	struct sym_frame fr;
	uint64_t alpha, beta, len;

	if (!fixtures())
		return;
	symbolizer__default_opts(&o);
	o.maps_reload_ms = 0;
	s = symbolizer__new_opts(&o);
	if (!ASSERT_OK_PTR(s, "new") || !fx_start1(&c, fx_path(&fx, "jit")))
		goto out;
	alpha = fx_sym(&c, "alpha");
	beta = fx_sym(&c, "beta");
	len = fx_sym(&c, "len");
	for (uint64_t off = 0; off < len; off += 3) {
		if (!ASSERT_OK(symbolizer__user(s, c.pid, alpha + off, &fr), "alpha") ||
		    !ASSERT_EQ(fr.nlines, 1, "alpha named"))
			break;
		ASSERT_STREQ(fr.lines[0].name, "jit_alpha", "JIT name");
		ASSERT_TRUE(fr.flags & SYM_FRAME_JIT, "JIT flag");
		ASSERT_OK_PTR(fr.map, "mapping");
		if (fr.map)
			ASSERT_STREQ(fr.map->path, "", "anonymous mapping");
	}
	ASSERT_OK(symbolizer__user(s, c.pid, alpha + len, &fr), "past alpha");
	ASSERT_EQ(fr.nlines, 0, "past the entry");
	ASSERT_OK(symbolizer__user(s, c.pid, beta + 1, &fr), "beta");
	ASSERT_EQ(fr.nlines, 0, "not in the map yet");
	/* the JIT appends a line: the next miss reads the map again */
	if (!ASSERT_TRUE(fx_cmd(&c, "b"), "append"))
		goto out;
	ASSERT_OK(symbolizer__user(s, c.pid, beta + 1, &fr), "beta");
	if (ASSERT_EQ(fr.nlines, 1, "beta named after the map grew"))
		ASSERT_STREQ(fr.lines[0].name, "LuaTrace:beta [jit]", "name with spaces");
	symbolizer__stats(s, &st);
	ASSERT_TRUE(st.perfmap_loads >= 2, "read twice");
	ASSERT_EQ(st.perfmap_symbols, 2, "two JIT symbols held");
	/* names survive the map's replacement until prune */
	ASSERT_OK(symbolizer__user(s, c.pid, alpha, &fr), "alpha");
	if (ASSERT_EQ(fr.nlines, 1, "alpha"))
		ASSERT_STREQ(fr.lines[0].name, "jit_alpha", "still named");
out:
	fx_stop(&c);
	symbolizer__free(s);
}

/* Look alpha up with a fresh symbolizer: named or not. */
static bool jit_named(pid_t pid, uint64_t alpha, size_t max_bytes)
{
	struct symbolizer_opts o;
	struct symbolizer *s;
	struct sym_frame fr;
	bool named = false;

	symbolizer__default_opts(&o);
	o.max_perfmap_bytes = max_bytes;
	s = symbolizer__new_opts(&o);
	if (ASSERT_OK_PTR(s, "new") && ASSERT_OK(symbolizer__user(s, pid, alpha, &fr), "lookup"))
		named = fr.nlines == 1 && !strcmp(fr.lines[0].name, "jit_alpha");
	symbolizer__free(s);
	return named;
}

void test_perfmap_refused(void)
{
	struct fxchild c = { .pid = -1 };
	char path[64], saved[300], fifo[64];
	uint64_t alpha;

	if (!fixtures() || !fx_start1(&c, fx_path(&fx, "jit")))
		goto out;
	alpha = fx_sym(&c, "alpha");
	map_path(path, sizeof(path), c.pid);
	snprintf(saved, sizeof(saved), "%s", fx_path(&fx, "saved.map"));
	ASSERT_TRUE(jit_named(c.pid, alpha, 1 << 20), "the genuine map");
	ASSERT_FALSE(jit_named(c.pid, alpha, 8), "bigger than the cap");
	/* a symlink (to a file with the right contents): not followed */
	if (fx_run("mv %s %s && ln -s %s %s", path, saved, saved, path) == 0)
		ASSERT_FALSE(jit_named(c.pid, alpha, 1 << 20), "symlink refused");
	unlink(path);
	/* owned by another user (chown needs root: the rest still runs) */
	if (getuid() != 0)
		harness_skip(__FILE__, __LINE__, "the foreign-owner check needs root");
	else if (fx_run("cp %s %s && chown 12345 %s", saved, path, path) == 0) {
		ASSERT_FALSE(jit_named(c.pid, alpha, 1 << 20), "foreign owner refused");
		ASSERT_OK(chown(path, 0, 0), "chown back");
		ASSERT_TRUE(jit_named(c.pid, alpha, 1 << 20), "root-owned accepted");
	}
	unlink(path);
	/* a FIFO: refused without blocking */
	snprintf(fifo, sizeof(fifo), "%s", path);
	if (ASSERT_OK(mkfifo(fifo, 0600), "mkfifo"))
		ASSERT_FALSE(jit_named(c.pid, alpha, 1 << 20), "FIFO refused");
	unlink(path);
	ASSERT_FALSE(jit_named(c.pid, alpha, 1 << 20), "no map at all");
	fx_run("mv %s %s", saved, path);
out:
	fx_stop(&c);
}

/* The JIT in its own pid and mount namespace with a private /tmp: the map
 * is /tmp/perf-<its namespace pid>.map in its root, invisible from ours. */
void test_perfmap_namespaces(void)
{
	char script[1024], children[64], line[64];
	char *argv[] = { "/usr/bin/unshare", "-p", "-f", "-m", "--mount-proc", "/bin/sh", "-c",
			 script, NULL };
	struct fxchild c = { .pid = -1 };
	struct symbolizer *s = NULL;
	struct sym_frame fr;
	pid_t inner = 0;
	FILE *f;

	if (!fixtures() || !fx_have("unshare"))
		return;
	if (getuid() != 0)
		SKIP("namespaces need root");
	/* the program lives in /tmp too: reach it through /mnt */
	snprintf(script, sizeof(script),
		 "mount --bind %s /mnt && mount -t tmpfs none /tmp && exec /mnt/jit", fx.dir);
	if (!fx_start(&c, argv))
		goto out;
	/* unshare forked: the JIT is its child */
	snprintf(children, sizeof(children), "/proc/%d/task/%d/children", (int)c.pid, (int)c.pid);
	f = fopen(children, "re");
	if (f) {
		if (fgets(line, sizeof(line), f))
			inner = (pid_t)atoi(line);
		fclose(f);
	}
	if (!ASSERT_TRUE(inner > 0, "the JIT's host pid"))
		goto out;
	map_path(line, sizeof(line), inner);
	ASSERT_TRUE(access(line, F_OK) != 0, "no map by the host pid on our /tmp");
	s = symbolizer__new();
	if (ASSERT_OK_PTR(s, "new") &&
	    ASSERT_OK(symbolizer__user(s, inner, fx_sym(&c, "alpha") + 2, &fr), "lookup") &&
	    ASSERT_EQ(fr.nlines, 1, "named in its namespace"))
		ASSERT_STREQ(fr.lines[0].name, "jit_alpha", "JIT name through /proc/PID/root");
out:
	fx_stop(&c);
	symbolizer__free(s);
}
