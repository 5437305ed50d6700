// SPDX-License-Identifier: Apache-2.0
/* symbolize: maps-line parsing (table-driven), kallsyms parsing, ELF images
 * (and their corruption), and end-to-end symbolization of live child
 * processes built here with cc: non-PIE, PIE, stripped PIE, shared
 * libraries (one linked at a shifted vaddr), a deleted binary, a process
 * that exits, dlopen, the vDSO and the kernel. Expected values come from
 * the children themselves, /proc/PID/maps and readelf, never from
 * constants. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "symfix.h"
#include "aggregate/frames.h"
#include "pprof/pprof.h"
#include "binary/elf.h"
#include "binary/image.h"
#include "binary/procmaps.h"
#include "symbolize/debuginfo.h"
#include "symbolize/kallsyms.h"
#include "symbolize/symbolizer.h"

/* ---- fixtures ------------------------------------------------------------ */

/* Functions padded with nops so that "function + 16" is still inside them;
 * profd_fx_nosize is assembled without .size (st_size 0). FX_VARIANT moves
 * everything by 257 bytes (top-level asm is emitted in source order). */
static const char fx_main_src[] =
	"#include <dlfcn.h>\n"
	"#include <stdio.h>\n"
	"#include <string.h>\n"
	"#define PAD __asm__ volatile(\".rept 64\\n\\tnop\\n\\t.endr\")\n"
	"__asm__(\".text\\n.globl profd_fx_nosize\\n.type profd_fx_nosize,@function\\n"
	"profd_fx_nosize:\\n.rept 48\\nnop\\n.endr\\nret\\n\");\n"
	"void profd_fx_nosize(void);\n"
	"#ifdef FX_VARIANT\n"
	"__asm__(\".text\\n.globl profd_fx_first\\n.type profd_fx_first,@function\\n"
	"profd_fx_first:\\n.rept 256\\nnop\\n.endr\\nret\\n.size profd_fx_first,.-profd_fx_first\\n\");\n"
	"#endif\n"
	"__attribute__((noinline)) int profd_fx_alpha(int x) { PAD; return x * 3 + 1; }\n"
	"__attribute__((noinline)) int profd_fx_beta(int x) { PAD; return profd_fx_alpha(x) + 2; }\n"
	"#ifdef FX_LIB\n"
	"void profd_fxlib_report(FILE *f);\n"
	"#endif\n"
	"int main(int argc, char **argv)\n"
	"{\n"
	"	char cmd[4096];\n"
	"	(void)argv;\n"
	"	printf(\"alpha %lx\\nbeta %lx\\nnosize %lx\\n\", (unsigned long)&profd_fx_alpha,\n"
	"	       (unsigned long)&profd_fx_beta, (unsigned long)&profd_fx_nosize);\n"
	"#ifdef FX_LIB\n"
	"	profd_fxlib_report(stdout);\n"
	"#endif\n"
	"	printf(\"ready\\n\");\n"
	"	fflush(stdout);\n"
	"	while (fgets(cmd, sizeof(cmd), stdin)) {\n"
	"		void *h;\n"
	"		void (*rep)(FILE *);\n"
	"		cmd[strcspn(cmd, \"\\n\")] = 0;\n"
	"		if (cmd[0] == 'e')\n"
	"			execl(cmd + 2, cmd + 2, (char *)0);\n"
	"		if (cmd[0] != 'd')\n"
	"			continue;\n"
	"		h = dlopen(cmd + 2, RTLD_NOW);\n"
	"		rep = h ? (void (*)(FILE *))dlsym(h, \"profd_fxlib_report\") : NULL;\n"
	"		if (rep)\n"
	"			rep(stdout);\n"
	"		printf(\"ready\\n\");\n"
	"		fflush(stdout);\n"
	"	}\n"
	"	return profd_fx_beta(argc) == 12345;\n"
	"}\n";

/* The executable never names profd_fxlib_gamma, so its address as taken in
 * the library is the library's own (no canonical PLT entry). */
static const char fx_lib_src[] =
	"#include <stdio.h>\n"
	"__attribute__((noinline)) int profd_fxlib_gamma(int x)\n"
	"{ __asm__ volatile(\".rept 64\\n\\tnop\\n\\t.endr\"); return x ^ 0x55; }\n"
	"void profd_fxlib_report(FILE *f)\n"
	"{ fprintf(f, \"gamma %lx\\n\", (unsigned long)&profd_fxlib_gamma); fflush(f); }\n";

/* aligned functions leave gaps, so a symbol end is distinguishable */
#define CFLAGS_FX "-O1 -fno-inline -falign-functions=64 -w"

static char fx_dir[64];
static int fx_state; /* 0 unbuilt, 1 built, -1 failed */

static void fx_cleanup(void)
{
	char cmd[128];

	if (fx_dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx_dir);
		if (system(cmd))
			fprintf(stderr, "  could not remove %s\n", fx_dir);
	}
}

static const char *fx(const char *name)
{
	static char bufs[8][256];
	static int i;
	char *b = bufs[i++ % 8];

	snprintf(b, sizeof(bufs[0]), "%s/%s", fx_dir, name);
	return b;
}

/* Build every fixture once per run into a mkdtemp directory. */
static bool fixtures(void)
{
	char main_c[128], lib_c[128];
	const char *d;

	if (fx_state)
		return ASSERT_EQ(fx_state, 1, "fixtures built");
	fx_state = -1;
	strcpy(fx_dir, "/tmp/profd-symtest-XXXXXX");
	if (!mkdtemp(fx_dir)) {
		fx_dir[0] = '\0';
		return ASSERT_TRUE(false, "mkdtemp");
	}
	atexit(fx_cleanup);
	d = fx_dir;
	snprintf(main_c, sizeof(main_c), "%s/fx.c", d);
	snprintf(lib_c, sizeof(lib_c), "%s/fxlib.c", d);
	if (fx_write(main_c, fx_main_src, strlen(fx_main_src)) ||
	    fx_write(lib_c, fx_lib_src, strlen(fx_lib_src)))
		return ASSERT_TRUE(false, "write fixture sources");
	if (fx_run("cc " CFLAGS_FX " -fno-pie -no-pie %s -o %s/fx_nopie", main_c, d) ||
	    fx_run("cc " CFLAGS_FX " -fPIE -pie %s -o %s/fx_pie", main_c, d) ||
	    fx_run("cc " CFLAGS_FX " -fno-pie -no-pie -DFX_VARIANT %s -o %s/fx_nopie2", main_c, d) ||
	    fx_run("cc " CFLAGS_FX " -fPIE -pie -rdynamic %s -o %s/fx_pie_stripped", main_c, d) ||
	    fx_run("strip --strip-all %s/fx_pie_stripped", d) ||
	    fx_run("cc " CFLAGS_FX " -shared -fPIC %s -o %s/libfx.so", lib_c, d) ||
	    fx_run("cc " CFLAGS_FX " -shared -fPIC -Wl,-Ttext-segment=0x10000000 %s -o %s/libfxshift.so",
		lib_c, d) ||
	    fx_run("strip --strip-all %s/libfxshift.so", d) ||
	    fx_run("cc " CFLAGS_FX " -fPIE -pie -DFX_LIB %s -o %s/fx_lib -L%s -lfx -Wl,-rpath,%s",
		main_c, d, d, d))
		return ASSERT_TRUE(false, "cc fixtures");
	fx_state = 1;
	return true;
}

/* ---- independent truth: /proc/PID/maps via sscanf, readelf -n --------- */

struct maps_line {
	uint64_t start, end, offset;
	char path[512];
};

static bool maps_find(pid_t pid, uint64_t addr, struct maps_line *ml)
{
	char path[64], line[1024];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long s, e, o;
		int n = 0;

		if (sscanf(line, "%lx-%lx %*s %lx %*s %*s %n", &s, &e, &o, &n) < 3 || !n)
			continue;
		if (addr < s || addr >= e)
			continue;
		ml->start = s;
		ml->end = e;
		ml->offset = o;
		line[strcspn(line, "\n")] = '\0';
		snprintf(ml->path, sizeof(ml->path), "%s", line + n);
		found = true;
	}
	fclose(f);
	return found;
}

static bool readelf_build_id(const char *file, char *out, size_t len)
{
	char cmd[512], line[512];
	bool ok = false;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "readelf -n '%s' 2>/dev/null", file);
	p = popen(cmd, "r");
	if (!p)
		return false;
	while (fgets(line, sizeof(line), p)) {
		char *b = strstr(line, "Build ID: ");

		if (b && !ok) {
			snprintf(out, len, "%s", b + strlen("Build ID: "));
			out[strcspn(out, "\n ")] = '\0';
			ok = true;
		}
	}
	pclose(p);
	return ok;
}

static bool has_symtab(const char *file)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "readelf -SW '%s' | grep -q '\\.symtab'", file);
	return system(cmd) == 0;
}

/* Symbolize addr (+ a few offsets inside the function) in pid and check the
 * name and the mapping against maps and readelf. */
static void expect_user(struct symbolizer *s, pid_t pid, uint64_t addr, const char *name,
			const char *file, const char *what)
{
	struct maps_line ml = { 0 };
	struct sym_frame fr;
	char bid[256];
	int err;

	if (!ASSERT_TRUE(addr != 0, what))
		return;
	if (!ASSERT_TRUE(maps_find(pid, addr, &ml), what))
		return;
	for (uint64_t off = 0; off <= 16; off += 8) {
		memset(&fr, 0xa5, sizeof(fr));
		err = symbolizer__user(s, pid, addr + off, &fr);
		if (!ASSERT_OK(err, what) || !ASSERT_OK_PTR(fr.map, what) ||
		    !ASSERT_EQ(fr.nlines, 1, what))
			return;
		ASSERT_STREQ(fr.lines[0].name, name, what);
		ASSERT_STREQ(fr.lines[0].system_name, name, what);
		ASSERT_TRUE(fr.lines[0].file == NULL && fr.lines[0].line == 0, what);
	}
	ASSERT_EQ(fr.map->start, ml.start, what);
	ASSERT_EQ(fr.map->limit, ml.end, what);
	ASSERT_EQ(fr.map->offset, ml.offset, what);
	ASSERT_STREQ(fr.map->path, file, what);
	ASSERT_TRUE(fr.map->flags & SYM_MAP_HAS_SYMS, what);
	ASSERT_FALSE(fr.map->flags & (SYM_MAP_SPECIAL | SYM_MAP_KERNEL), what);
	if (ASSERT_TRUE(readelf_build_id(file, bid, sizeof(bid)), "readelf build id"))
		ASSERT_STREQ(fr.map->build_id, bid, what);
}

/* ---- /proc/PID/maps lines -------------------------------------------------- */

void test_symbolize_procmaps_lines(void)
{
	static const struct {
		const char *line;
		int err;
		uint64_t start, end, offset, inode;
		uint32_t major, minor;
		const char *path;
		unsigned flags;
		int exec;
	} cases[] = {
		{ "55d5c1c8f000-55d5c1c91000 r-xp 00002000 fd:01 1837421                    /usr/bin/cat",
		  0, 0x55d5c1c8f000, 0x55d5c1c91000, 0x2000, 1837421, 0xfd, 1, "/usr/bin/cat", 0, 1 },
		{ "7f00-7f10 r-xp 00000000 00:00 0 ", 0, 0x7f00, 0x7f10, 0, 0, 0, 0, "",
		  SYM_MAP_SPECIAL, 1 },
		{ "7f00-7f10 r-xp 00000000 00:00 0", 0, 0x7f00, 0x7f10, 0, 0, 0, 0, "",
		  SYM_MAP_SPECIAL, 1 },
		{ "7ffd1000-7ffd3000 r-xp 00000000 00:00 0                  [vdso]", 0, 0x7ffd1000,
		  0x7ffd3000, 0, 0, 0, 0, "[vdso]", SYM_MAP_SPECIAL, 1 },
		{ "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]",
		  0, 0xffffffffff600000, 0xffffffffff601000, 0, 0, 0, 0, "[vsyscall]",
		  SYM_MAP_SPECIAL, 1 },
		{ "400000-401000 r-xp 00001000 103:02 42 /tmp/a b (deleted)", 0, 0x400000, 0x401000,
		  0x1000, 42, 0x103, 2, "/tmp/a b", SYM_MAP_DELETED, 1 },
		{ "400000-401000 r-xp 00000000 00:01 7 /memfd:jit (deleted)", 0, 0x400000, 0x401000,
		  0, 7, 0, 1, "/memfd:jit", SYM_MAP_DELETED, 1 },
		{ "400000-401000 r-xp 00000000 00:00 0 [anon:jit code]", 0, 0x400000, 0x401000, 0, 0,
		  0, 0, "[anon:jit code]", SYM_MAP_SPECIAL, 1 },
		{ "400000-401000 r-xs 00000000 00:0e 9 anon_inode:[perf_event]", 0, 0x400000,
		  0x401000, 0, 9, 0, 0xe, "anon_inode:[perf_event]", SYM_MAP_SPECIAL, 1 },
		{ "400000-401000 rw-p 00000000 fd:01 3 /usr/lib/libc.so.6", 0, 0x400000, 0x401000, 0,
		  3, 0xfd, 1, "/usr/lib/libc.so.6", 0, 0 },
		{ "400000-401000 r-xp 00000000 fd:01 3 /x\n", 0, 0x400000, 0x401000, 0, 3, 0xfd, 1,
		  "/x", 0, 1 },
		/* the padding eats the space before "(deleted)": not a file name */
		{ "400000-401000 r-xp 00000000 fd:01 3  (deleted)", 0, 0x400000, 0x401000, 0, 3,
		  0xfd, 1, "(deleted)", SYM_MAP_SPECIAL, 1 },
		{ "FFFF0000-FFFF1000 r-xp 0000ABCD FD:0A 3 /X", 0, 0xffff0000, 0xffff1000, 0xabcd,
		  3, 0xfd, 0xa, "/X", 0, 1 },
		/* garbage and truncation */
		{ "", -EINVAL },
		{ "hello world", -EINVAL },
		{ "7f00", -EINVAL },
		{ "7f00-", -EINVAL },
		{ "7f00-7f10", -EINVAL },
		{ "7f00-7f10 ", -EINVAL },
		{ "7f00-7f10 r-x", -EINVAL },
		{ "7f00-7f10 r-xp", -EINVAL },
		{ "7f00-7f10 r-xp ", -EINVAL },
		{ "7f00-7f10 r-xp 0000", -EINVAL },
		{ "7f00-7f10 r-xp 00000000 fd", -EINVAL },
		{ "7f00-7f10 r-xp 00000000 fd:", -EINVAL },
		{ "7f00-7f10 r-xp 00000000 fd:01", -EINVAL },
		{ "7f00-7f10 r-xp 00000000 fd:01 ", -EINVAL },
		{ "7f10-7f00 r-xp 00000000 fd:01 1 /x", -EINVAL },
		{ "7f00-7f00 r-xp 00000000 fd:01 1 /x", -EINVAL },
		{ "7f00-7f10 rwxq 00000000 fd:01 1 /x", -EINVAL },
		{ "7f00-7f10 r-x 00000000 fd:01 1 /x", -EINVAL },
		{ "7f00-7f10 xr-p 00000000 fd:01 1 /x", -EINVAL },
		{ "7f00-7f10  r-xp 00000000 fd:01 1 /x", -EINVAL },
		{ "g7f00-7f10 r-xp 00000000 fd:01 1 /x", -EINVAL },
		{ "7f00_7f10 r-xp 00000000 fd:01 1 /x", -EINVAL },
		{ "-7f10 r-xp 00000000 fd:01 1 /x", -EINVAL },
		{ "10000000000000000-10000000000000001 r-xp 00000000 fd:01 1 /x", -EINVAL },
		{ "7f00-7f10 r-xp 00000000 fd:01 12x /x", -EINVAL },
		{ "7f00-7f10 r-xp 00000000 fd:01 99999999999999999999999 /x", -EINVAL },
		{ "7f00-7f10 r-xp 00000000 fd01 1 /x", -EINVAL },
		{ "7f00-7f10 r-xp 00000000 fd:01 -1 /x", -EINVAL },
		{ "7f00-7f10 r-xp 0x000000 fd:01 1 /x", -EINVAL },
		{ "7f00-7f10 r-xp 00000000 123456789:01 1 /x", -EINVAL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct procmaps_entry e;
		char *line = strdup(cases[i].line);
		char name[64];
		int err;

		snprintf(name, sizeof(name), "line %zu", i);
		if (!ASSERT_OK_PTR(line, "strdup"))
			return;
		err = procmaps__parse_line(line, &e);
		ASSERT_EQ(err, cases[i].err, name);
		if (!err && !cases[i].err) {
			ASSERT_EQ(e.start, cases[i].start, name);
			ASSERT_EQ(e.end, cases[i].end, name);
			ASSERT_EQ(e.offset, cases[i].offset, name);
			ASSERT_EQ(e.inode, cases[i].inode, name);
			ASSERT_EQ(e.dev_major, cases[i].major, name);
			ASSERT_EQ(e.dev_minor, cases[i].minor, name);
			ASSERT_STREQ(e.path, cases[i].path, name);
			ASSERT_EQ(e.flags, cases[i].flags, name);
			ASSERT_EQ(procmaps_entry__is_exec(&e), cases[i].exec, name);
		}
		free(line);
	}
}

struct count_ctx {
	size_t n;
	uint64_t starts[8];
};

static int count_cb(const struct procmaps_entry *e, void *arg)
{
	struct count_ctx *c = arg;

	if (c->n < 8)
		c->starts[c->n] = e->start;
	c->n++;
	return 0;
}

void test_symbolize_procmaps_file(void)
{
	/* Valid exec lines mixed with garbage, a non-exec line, an embedded
	 * NUL, a huge line and a last line without newline. */
	static const char head[] = "1000-2000 r-xp 00000000 fd:01 5 /bin/a\n"
				   "garbage garbage\n"
				   "2000-3000 rw-p 00000000 fd:01 5 /bin/a\n"
				   "3000-4000 r-xp 00000000 fd:01 5 /bin/\0b\n"
				   "\n";
	static const char tail[] = "\n4000-5000 r-xp 00000000 00:00 0 [vdso]\n"
				   "5000-6000 r-xp 00001000 fd:01 6 /bin/c";
	char path[] = "/tmp/profd-maps-XXXXXX";
	struct count_ctx c = { 0 };
	size_t big = 100000, nbad = 0;
	char *buf;
	int fd, err;

	fd = mkstemp(path);
	if (!ASSERT_TRUE(fd >= 0, "mkstemp"))
		return;
	buf = malloc(big);
	if (!ASSERT_OK_PTR(buf, "malloc")) {
		close(fd);
		return;
	}
	memset(buf, 'x', big);
	ASSERT_EQ(write(fd, head, sizeof(head) - 1), (ssize_t)sizeof(head) - 1, "write");
	ASSERT_EQ(write(fd, buf, big), (ssize_t)big, "write");
	ASSERT_EQ(write(fd, tail, sizeof(tail) - 1), (ssize_t)sizeof(tail) - 1, "write");
	close(fd);
	free(buf);

	err = procmaps__read_file(path, count_cb, &c, &nbad);
	ASSERT_OK(err, "read_file");
	ASSERT_EQ(c.n, 3, "exec lines");
	ASSERT_EQ(c.starts[0], 0x1000, "first");
	ASSERT_EQ(c.starts[1], 0x4000, "vdso");
	ASSERT_EQ(c.starts[2], 0x5000, "unterminated last line");
	ASSERT_EQ(nbad, 4, "bad lines: garbage, NUL, empty, huge");

	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	close(fd);
	c.n = 0;
	ASSERT_OK(procmaps__read_file(path, count_cb, &c, &nbad), "empty file");
	ASSERT_EQ(c.n, 0, "empty file lines");
	unlink(path);
	ASSERT_EQ(procmaps__read_file(path, count_cb, &c, NULL), -ENOENT, "missing file");
	ASSERT_EQ(procmaps__read(0, count_cb, &c, NULL), -EINVAL, "pid 0");
}

/* ---- kallsyms -------------------------------------------------------------- */

void test_symbolize_kallsyms_parse(void)
{
	static const char text[] =
		"ffffffff81000000 T _stext\n"
		"ffffffff81000000 T startup_64\n"
		"ffffffff81000000 t __start_x\n"
		"ffffffff81000100 T do_thing\n"
		"ffffffff81000180 t local_thing\n"
		"ffffffff81000200 D some_data\n"      /* bounds local_thing */
		"ffffffff81000300 W weak_fn\n"
		"not a line at all\n"
		"ffffffff8100040 T\n"                 /* no name */
		"zzzzzzzzzzzzzzzz T bad_hex\n"
		"ffffffff81000400 TT two_types\n"
		"ffffffff810004000 T seventeen_digits\n"
		"ffffffff81000500 t  double_space\n"
		"ffffffffc0001000 t nf_hook\t[nf_tables]\n"
		"ffffffffc0001080 T nft_do\t[nf_tables]\n"
		"ffffffffc0002000 t broken\t[nf_tables\n" /* unterminated module */
		"ffffffffc0003000 t bpf_prog_6deef7357e7b4530_sd_fw\t[bpf]"; /* no newline */
	struct kallsyms *k = NULL;
	const struct ksym *ks;
	int err;

	err = kallsyms__parse(text, sizeof(text) - 1, &k);
	if (!ASSERT_OK(err, "parse"))
		return;
	ASSERT_EQ(k->nsyms, 7, "text symbols, one per address");
	ks = kallsyms__find(k, 0xffffffff81000010);
	if (ASSERT_OK_PTR(ks, "startup"))
		ASSERT_STREQ(k->names + ks->name, "startup_64", "global, fewest underscores");
	ks = kallsyms__find(k, 0xffffffff810001ff);
	if (ASSERT_OK_PTR(ks, "local_thing"))
		ASSERT_STREQ(k->names + ks->name, "local_thing", "local");
	ASSERT_TRUE(kallsyms__find(k, 0xffffffff81000200) == NULL, "data symbol ends text");
	ASSERT_TRUE(kallsyms__find(k, 0xffffffff80000000) == NULL, "below all");
	ks = kallsyms__find(k, 0xffffffff81000301);
	if (ASSERT_OK_PTR(ks, "weak"))
		ASSERT_EQ(ks->size, KALLSYMS_MAX_SYM_SIZE, "gap to the modules capped");
	ASSERT_TRUE(kallsyms__find(k, 0xffffffff81000300 + KALLSYMS_MAX_SYM_SIZE) == NULL,
		    "beyond the cap");
	ks = kallsyms__find(k, 0xffffffffc0001001);
	if (ASSERT_OK_PTR(ks, "module")) {
		ASSERT_STREQ(k->names + ks->name, "nf_hook", "module name");
		ASSERT_STREQ(k->names + ks->sys_name, "nf_hook [nf_tables]", "module system name");
		ASSERT_EQ(ks->size, 0x80, "size from next symbol");
	}
	ks = kallsyms__find(k, 0xffffffffc0003004);
	if (ASSERT_OK_PTR(ks, "bpf"))
		ASSERT_STREQ(k->names + ks->sys_name, "bpf_prog_6deef7357e7b4530_sd_fw [bpf]",
			     "bpf program");
	ks = kallsyms__find(k, 0xffffffffc0002010);
	if (ASSERT_OK_PTR(ks, "after nft_do"))
		ASSERT_STREQ(k->names + ks->name, "nft_do", "malformed module line skipped");
	ASSERT_EQ(k->lo, 0xffffffff81000000, "lo");
	kallsyms__free(k);

	/* What a reader without CAP_SYSLOG sees. */
	k = NULL;
	err = kallsyms__parse("0000000000000000 T _stext\n0000000000000000 t foo\n", 50, &k);
	ASSERT_EQ(err, -EPERM, "all-zero addresses");
	ASSERT_TRUE(k == NULL, "no table");
	ASSERT_EQ(kallsyms__parse("", 0, &k), -ENODATA, "empty");
	ASSERT_EQ(kallsyms__parse("garbage\n\n\n", 10, &k), -ENODATA, "garbage only");
	ASSERT_EQ(kallsyms__parse("ffffffff81000000 D data\n", 24, &k), -ENODATA, "no text");
	kallsyms__free(NULL);
}

/* Address of name in /proc/kallsyms, 0 if absent (or hidden). */
static uint64_t kallsyms_addr(const char *want, bool *found)
{
	unsigned long long addr = 0, a;
	char line[512], name[256], type;
	FILE *f = fopen("/proc/kallsyms", "re");

	*found = false;
	while (f && !*found && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %c %255s", &a, &type, name) == 3 && !strcmp(name, want)) {
			addr = a;
			*found = true;
		}
	}
	if (f)
		fclose(f);
	return addr;
}

/* perf's reading of /sys/kernel/notes, when perf is installed. */
static bool perf_kernel_build_id(char *out, size_t len)
{
	FILE *p = popen("perf buildid-list -k 2>/dev/null", "r");
	bool ok = false;

	if (!p)
		return false;
	if (fgets(out, (int)len, p)) {
		out[strcspn(out, "\n")] = '\0';
		ok = strlen(out) >= 16 && strspn(out, "0123456789abcdef") == strlen(out);
	}
	pclose(p);
	return ok;
}

void test_symbolize_kernel(void)
{
	char bid[256];
	static const char *const names[] = { "__x64_sys_getpid", "do_sys_openat2" };
	struct symbolizer *s = symbolizer__new();
	struct symbolizer_stats st;
	struct sym_frame fr;
	int found = 0;

	if (!ASSERT_OK_PTR(s, "new"))
		return;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		bool ok, alias_ok;
		uint64_t addr = kallsyms_addr(names[i], &ok);
		int err;

		if (!ok)
			continue;
		found++;
		memset(&fr, 0xa5, sizeof(fr));
		err = symbolizer__kernel(s, addr + 1, &fr);
		if (!addr) {
			/* kptr_restrict: a clear error, not wrong names */
			ASSERT_EQ(err, -EPERM, "zero addresses");
			ASSERT_EQ(fr.nlines, 0, "no lines");
			continue;
		}
		if (!ASSERT_OK(err, names[i]) || !ASSERT_EQ(fr.nlines, 1, names[i]))
			continue;
		/* the name, or an alias at the same address (__ia32_sys_getpid) */
		ASSERT_EQ(kallsyms_addr(fr.lines[0].name, &alias_ok), addr, fr.lines[0].name);
		ASSERT_TRUE(alias_ok, "name from kallsyms");
		ASSERT_STREQ(fr.lines[0].system_name, fr.lines[0].name, "core kernel system name");
		ASSERT_STREQ(fr.map->path, "[kernel.kallsyms]", "kernel map");
		ASSERT_TRUE(fr.map->flags & SYM_MAP_KERNEL, "kernel flag");
		ASSERT_TRUE(addr >= fr.map->start && addr < fr.map->limit, "in kernel map");
		ASSERT_TRUE(strlen(fr.map->build_id) == 40 || !fr.map->build_id[0], "build id");
		if (perf_kernel_build_id(bid, sizeof(bid)))
			ASSERT_STREQ(fr.map->build_id, bid, "kernel build id as perf reads it");
	}
	ASSERT_TRUE(found > 0, "a known kernel symbol in /proc/kallsyms");
	symbolizer__stats(s, &st);
	ASSERT_TRUE(st.kernel_symbols > 1000 || st.kernel_symbols == 0, "kernel symbols counted");
	/* Reload drops the table; the next lookup reads it again. */
	symbolizer__kernel_reload(s);
	symbolizer__stats(s, &st);
	ASSERT_EQ(st.kernel_symbols, 0, "dropped");
	symbolizer__free(s);
}

void test_symbolize_kernel_restricted(void)
{
	char path[] = "/tmp/profd-kallsyms-XXXXXX";
	static const char zeros[] = "0000000000000000 T _stext\n0000000000000000 t do_x\n";
	struct symbolizer_opts o;
	struct symbolizer *s;
	struct sym_frame fr;
	int fd;

	fd = mkstemp(path);
	if (!ASSERT_TRUE(fd >= 0, "mkstemp"))
		return;
	ASSERT_EQ(write(fd, zeros, sizeof(zeros) - 1), (ssize_t)sizeof(zeros) - 1, "write");
	close(fd);
	symbolizer__default_opts(&o);
	o.kallsyms_path = path;
	s = symbolizer__new_opts(&o);
	if (ASSERT_OK_PTR(s, "new")) {
		for (int i = 0; i < 2; i++) {
			ASSERT_EQ(symbolizer__kernel(s, 0xffffffff81000001, &fr), -EPERM, "EPERM");
			ASSERT_EQ(fr.nlines, 0, "no names");
			ASSERT_OK_PTR(fr.map, "map set");
			if (fr.map)
				ASSERT_STREQ(fr.map->path, "[kernel.kallsyms]", "kernel map");
		}
	}
	symbolizer__free(s);
	unlink(path);
}

/* ---- ELF images and their corruption --------------------------------------- */

static int open_image(const char *path, struct elf_image **img)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0)
		return -errno;
	err = elf_image__open_fd(fd, img);
	close(fd);
	return err;
}

static const struct elf_sym *image_sym(const struct elf_image *img, const char *name)
{
	for (size_t i = 0; i < img->nsyms; i++)
		if (!strcmp(elf_image__name(img, &img->syms[i]), name))
			return &img->syms[i];
	return NULL;
}

/* Exercise every accessor on whatever a damaged file produced. */
static void poke_image(const struct elf_image *img)
{
	uint64_t va;

	for (uint64_t off = 0; off < 0x4000; off += 0x1f3)
		if (!elf_image__file_to_vaddr(img, off, &va))
			elf_image__find(img, va);
	for (size_t i = 0; i < img->nsyms; i++) {
		ASSERT_TRUE(img->syms[i].name < img->names_len, "name in pool");
		ASSERT_TRUE(img->syms[i].size > 0, "nonzero size");
		if (i)
			ASSERT_TRUE(img->syms[i - 1].addr < img->syms[i].addr, "sorted, unique");
	}
	elf_image__find(img, 0);
	elf_image__find(img, UINT64_MAX);
}

void test_symbolize_elf_image(void)
{
	struct elf_image *img = NULL;
	const struct elf_sym *a, *b, *ns;
	char bid[256];

	if (!fixtures())
		return;
	if (!ASSERT_OK(open_image(fx("fx_nopie"), &img), "open nopie"))
		return;
	ASSERT_TRUE(img->from_symtab, ".symtab used");
	a = image_sym(img, "profd_fx_alpha");
	b = image_sym(img, "profd_fx_beta");
	ns = image_sym(img, "profd_fx_nosize");
	if (ASSERT_OK_PTR(a, "alpha") && ASSERT_OK_PTR(b, "beta")) {
		ASSERT_TRUE(elf_image__find(img, a->addr + 16) == a, "find alpha");
		ASSERT_TRUE(elf_image__find(img, a->addr + a->size - 1) == a, "alpha last byte");
		ASSERT_TRUE(elf_image__find(img, a->addr + a->size) != a, "alpha ends");
		ASSERT_TRUE(elf_image__find(img, a->addr - 1) != a, "alpha starts");
		ASSERT_TRUE(elf_image__find(img, b->addr) == b, "find beta");
	}
	/* no .size: extends to the next symbol (or its section's end) */
	if (ASSERT_OK_PTR(ns, "nosize")) {
		ASSERT_TRUE(ns->size >= 49, "nosize extended");
		ASSERT_TRUE(elf_image__find(img, ns->addr + 48) == ns, "find nosize ret");
	}
	if (ASSERT_TRUE(readelf_build_id(fx("fx_nopie"), bid, sizeof(bid)), "readelf"))
		ASSERT_STREQ(img->build_id, bid, "build id");
	poke_image(img);
	elf_image__free(img);
	img = NULL;

	/* stripped: .dynsym only, exported with -rdynamic */
	ASSERT_FALSE(has_symtab(fx("fx_pie_stripped")), "fixture is stripped");
	if (ASSERT_OK(open_image(fx("fx_pie_stripped"), &img), "open stripped")) {
		ASSERT_FALSE(img->from_symtab, ".dynsym used");
		ASSERT_OK_PTR(image_sym(img, "profd_fx_alpha"), "alpha in .dynsym");
		ASSERT_TRUE(image_sym(img, "main") != NULL, "main exported");
		elf_image__free(img);
	}
	elf_image__free(NULL);
}

void test_symbolize_elf_garbage(void)
{
	static const char *const files[] = { "fx_nopie", "libfx.so", "fx_pie_stripped" };
	char path[] = "/tmp/profd-elfgarbage-XXXXXX";
	struct elf_image *img;
	uint64_t rng = 0x9e3779b97f4a7c15ULL;
	size_t parsed = 0, rejected = 0;
	int fd, err;

	if (!fixtures())
		return;
	fd = mkstemp(path);
	if (!ASSERT_TRUE(fd >= 0, "mkstemp"))
		return;
	close(fd);

	/* zero-length and non-ELF files */
	ASSERT_OK(fx_write(path, "", 0), "write");
	ASSERT_ERR(open_image(path, &img), "zero length");
	ASSERT_OK(fx_write(path, "#!/bin/sh\necho hi\n", 18), "write");
	ASSERT_EQ(open_image(path, &img), -ENOEXEC, "shell script");
	ASSERT_EQ(elf_image__open_mem("\x7f" "ELF", 4, &img) < 0, 1, "4-byte ELF magic");
	ASSERT_EQ(elf_image__open_mem("", 0, &img), -ENOEXEC, "empty buffer");

	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		unsigned char *orig = NULL, *buf = NULL;
		size_t len = 0;
		size_t cuts[24], ncuts = 0;

		if (!ASSERT_OK(fx_read(fx(files[f]), &orig, &len), files[f]))
			continue;
		buf = malloc(len);
		if (!ASSERT_OK_PTR(buf, "malloc")) {
			free(orig);
			continue;
		}
		/* truncation: inside the ELF header, the phdrs, the sections,
		 * the section header table at the end */
		for (size_t c = 0; c < 64 + 64; c += 13)
			cuts[ncuts++] = c;
		cuts[ncuts++] = 64;
		cuts[ncuts++] = 64 + 56;
		cuts[ncuts++] = len / 8;
		cuts[ncuts++] = len / 4;
		cuts[ncuts++] = len / 2;
		cuts[ncuts++] = len * 3 / 4;
		cuts[ncuts++] = len - 64 * 5;
		cuts[ncuts++] = len - 64;
		cuts[ncuts++] = len - 1;
		for (size_t i = 0; i < ncuts; i++) {
			img = NULL;
			ASSERT_OK(fx_write(path, orig, cuts[i]), "write truncated");
			err = open_image(path, &img);
			if (cuts[i] < 64)
				ASSERT_ERR(err, "truncated inside the ELF header");
			if (!err) {
				poke_image(img);
				elf_image__free(img);
				parsed++;
			} else {
				rejected++;
			}
			img = NULL;
			err = elf_image__open_mem(orig, cuts[i], &img);
			if (!err) {
				poke_image(img);
				elf_image__free(img);
			}
		}
		/* byte flips: a few random bytes, biased to the headers */
		for (int round = 0; round < 150; round++) {
			int nflip = 1 + round % 8;

			memcpy(buf, orig, len);
			for (int k = 0; k < nflip; k++) {
				size_t pos;

				rng ^= rng << 13;
				rng ^= rng >> 7;
				rng ^= rng << 17;
				pos = (round & 1) ? rng % len : rng % (len < 4096 ? len : 4096);
				/* the section header table sits at the end */
				if (round % 3 == 2)
					pos = len - 1 - rng % (len < 2048 ? len : 2048);
				buf[pos] ^= (unsigned char)(rng >> 32 | 1);
			}
			img = NULL;
			ASSERT_OK(fx_write(path, buf, len), "write flipped");
			err = open_image(path, &img);
			if (!err) {
				poke_image(img);
				elf_image__free(img);
				parsed++;
			} else {
				rejected++;
			}
			img = NULL;
			if (!elf_image__open_mem(buf, len, &img)) {
				poke_image(img);
				elf_image__free(img);
			}
		}
		/* the untouched file still parses, with symbols */
		img = NULL;
		ASSERT_OK(fx_write(path, orig, len), "write orig");
		if (ASSERT_OK(open_image(path, &img), files[f])) {
			ASSERT_TRUE(img->nsyms > 0, "symbols");
			elf_image__free(img);
		}
		free(buf);
		free(orig);
	}
	ASSERT_TRUE(parsed > 0 && rejected > 0, "both outcomes seen");
	unlink(path);
}

/* map_files needs CAP_SYS_ADMIN; without it files are opened through
 * /proc/PID/root/PATH, but only when the inode still matches. A range no
 * map_files entry has forces that path here. */
void test_symbolize_filecache_fallback(void)
{
	struct procmaps_entry e = { .start = 0x1000, .end = 0x2000, .perms = "r-xp" };
	struct dbgcache_opts dopts = { .max_unused = 1, .max_dwarf_bytes = 64u << 20,
				       .max_dwarf_open = 16 };
	struct binary_image *fe = NULL, *fe2 = NULL;
	struct binary_cache_stats st;
	struct binary_cache *fc = NULL;
	struct dbgcache *dc;
	char path[256];
	struct stat sb;

	if (!fixtures())
		return;
	dc = dbgcache__new(&dopts);
	if (!ASSERT_OK_PTR(dc, "dbgcache"))
		return;
	fc = binary_cache__new(1, &dbgcache_image_ops, dc);
	if (!ASSERT_OK_PTR(fc, "new"))
		goto out;
	snprintf(path, sizeof(path), "%s", fx("fx_pie"));
	if (!ASSERT_OK(stat(path, &sb), "stat"))
		goto out;
	e.path = path;
	e.inode = sb.st_ino;
	e.dev_major = 1;
	if (ASSERT_OK(binary_cache__get(fc, getpid(), &e, &fe), "root fallback")) {
		struct debuginfo *di = fe->data;

		ASSERT_OK_PTR(di, "parsed");
		ASSERT_TRUE(di && image_sym(di->img, "profd_fx_alpha"), "symbols");
	}
	/* the same key again: a cache hit, no second parse */
	if (ASSERT_OK(binary_cache__get(fc, getpid(), &e, &fe2), "hit"))
		ASSERT_TRUE(fe2 == fe, "same entry");
	binary_cache__stats(fc, &st);
	ASSERT_EQ(st.parses, 1, "parsed once");
	binary_cache__put(fc, fe2);
	binary_cache__put(fc, fe);
	binary_cache__stats(fc, &st);
	ASSERT_EQ(st.unused, 1, "on the LRU");

	/* the path now names another file: refused, not misattributed */
	e.inode = sb.st_ino + 1;
	ASSERT_EQ(binary_cache__get(fc, getpid(), &e, &fe), -ESTALE, "inode mismatch");
	/* a deleted file cannot be reached by path */
	e.inode = sb.st_ino;
	e.dev_major = 2;
	e.flags = SYM_MAP_DELETED;
	ASSERT_EQ(binary_cache__get(fc, getpid(), &e, &fe), -ENOENT, "deleted, no map_files");
	/* a directory is not opened, and the verdict is cached */
	e.flags = 0;
	e.path = fx_dir;
	ASSERT_OK(stat(fx_dir, &sb), "stat dir");
	e.inode = sb.st_ino;
	if (ASSERT_OK(binary_cache__get(fc, getpid(), &e, &fe), "directory")) {
		ASSERT_TRUE(fe->data == NULL && fe->err == -ENOEXEC, "not an ELF file");
		binary_cache__put(fc, fe);
	}
	binary_cache__stats(fc, &st);
	ASSERT_EQ(st.unused, 1, "LRU bounded at 1");
	ASSERT_EQ(st.entries, 1, "oldest evicted");
	binary_cache__put(fc, NULL);
out:
	binary_cache__free(fc);
	dbgcache__free(dc);
}

void test_symbolize_libc_parse_speed(void)
{
	struct maps_line ml = { 0 };
	struct elf_image *img = NULL;
	struct timespec t0, t1;
	uint64_t va;
	double ms;

	/* our own libc, found through our maps */
	if (!ASSERT_TRUE(maps_find(getpid(), (uint64_t)(uintptr_t)&getpid, &ml), "libc mapping"))
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!ASSERT_OK(open_image(ml.path, &img), ml.path))
		return;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	printf("  libc: %zu function symbols parsed in %.1f ms (ASan build)\n", img->nsyms, ms);
	ASSERT_TRUE(img->nsyms > 1000, "libc symbols");
	ASSERT_TRUE(ms < 1000, "parse in well under a second");
	/* getpid's own runtime address → its name */
	if (ASSERT_OK(elf_image__file_to_vaddr(img,
					       (uint64_t)(uintptr_t)&getpid - ml.start + ml.offset,
					       &va),
		      "translate")) {
		const struct elf_sym *sym = elf_image__find(img, va);

		if (ASSERT_OK_PTR(sym, "getpid symbol"))
			ASSERT_TRUE(strstr(elf_image__name(img, sym), "getpid") != NULL,
				    elf_image__name(img, sym));
	}
	elf_image__free(img);
}

/* ---- live processes -------------------------------------------------------- */

static void check_fixture(const char *file)
{
	struct symbolizer *s = symbolizer__new();
	struct fxchild c;

	if (!ASSERT_OK_PTR(s, "new"))
		return;
	if (fx_start1(&c, fx(file))) {
		ASSERT_OK(symbolizer__add_pid(s, c.pid), "add_pid");
		expect_user(s, c.pid, fx_sym(&c, "alpha"), "profd_fx_alpha", fx(file), file);
		expect_user(s, c.pid, fx_sym(&c, "beta"), "profd_fx_beta", fx(file), file);
		if (has_symtab(fx(file)))
			expect_user(s, c.pid, fx_sym(&c, "nosize"), "profd_fx_nosize", fx(file),
				    file);
	}
	fx_stop(&c);
	symbolizer__free(s);
}

void test_symbolize_nopie(void)
{
	if (fixtures())
		check_fixture("fx_nopie");
}

void test_symbolize_pie(void)
{
	if (fixtures())
		check_fixture("fx_pie");
}

void test_symbolize_pie_stripped(void)
{
	if (fixtures())
		check_fixture("fx_pie_stripped");
}

void test_symbolize_shared_lib(void)
{
	struct symbolizer *s;
	struct fxchild c;

	if (!fixtures())
		return;
	s = symbolizer__new();
	if (!ASSERT_OK_PTR(s, "new"))
		return;
	/* no add_pid: the first lookup adds the pid */
	if (fx_start1(&c, fx("fx_lib"))) {
		expect_user(s, c.pid, fx_sym(&c, "gamma"), "profd_fxlib_gamma", fx("libfx.so"),
			    "libfx.so");
		expect_user(s, c.pid, fx_sym(&c, "alpha"), "profd_fx_alpha", fx("fx_lib"),
			    "fx_lib");
	}
	fx_stop(&c);
	symbolizer__free(s);
}

/* A library dlopen()ed after the maps were read, one of them stripped and
 * linked at vaddr 0x10000000 so file offsets and vaddrs differ. */
void test_symbolize_dlopen_reload(void)
{
	struct symbolizer_opts o;
	struct symbolizer *slow = NULL, *fast = NULL;
	struct symbolizer_stats st;
	struct sym_frame fr, before;
	char cmd[512];
	struct fxchild c;
	uint64_t gamma;

	if (!fixtures())
		return;
	symbolizer__default_opts(&o);
	o.maps_reload_ms = 3600 * 1000;
	slow = symbolizer__new_opts(&o);
	o.maps_reload_ms = 0;
	fast = symbolizer__new_opts(&o);
	if (!ASSERT_OK_PTR(slow, "new") || !ASSERT_OK_PTR(fast, "new"))
		goto out;
	if (!fx_start1(&c, fx("fx_pie")))
		goto stop;
	ASSERT_OK(symbolizer__add_pid(slow, c.pid), "add slow");
	ASSERT_OK(symbolizer__add_pid(fast, c.pid), "add fast");
	ASSERT_OK(symbolizer__user(fast, c.pid, fx_sym(&c, "alpha") + 4, &before), "before");

	snprintf(cmd, sizeof(cmd), "d %s\n", fx("libfxshift.so"));
	ASSERT_EQ(write(c.in, cmd, strlen(cmd)), (ssize_t)strlen(cmd), "dlopen cmd");
	if (!ASSERT_OK(fx_sync(&c), "dlopen"))
		goto stop;
	gamma = fx_sym(&c, "gamma");
	ASSERT_TRUE(gamma >= 0x10000000, "loaded at its vaddr (offset != vaddr)");

	/* within the reload interval: no re-read, no mapping */
	ASSERT_OK(symbolizer__user(slow, c.pid, gamma + 4, &fr), "slow lookup");
	ASSERT_TRUE(fr.map == NULL && fr.nlines == 0, "not reloaded yet");
	symbolizer__stats(slow, &st);
	ASSERT_EQ(st.maps_reloads, 1, "slow reloads");
	/* an explicit add_pid re-reads */
	ASSERT_OK(symbolizer__add_pid(slow, c.pid), "re-add");
	expect_user(slow, c.pid, gamma, "profd_fxlib_gamma", fx("libfxshift.so"), "slow shifted");

	/* interval 0: the miss itself triggers the re-read */
	expect_user(fast, c.pid, gamma, "profd_fxlib_gamma", fx("libfxshift.so"), "fast shifted");
	symbolizer__stats(fast, &st);
	ASSERT_EQ(st.maps_reloads, 2, "fast reloads");
	/* the record handed out before the re-read is still alive */
	if (ASSERT_OK_PTR(before.map, "before map") && ASSERT_EQ(before.nlines, 1, "before"))
		ASSERT_STREQ(before.lines[0].name, "profd_fx_alpha", "old pointers valid");
	/* unknown address: re-read at most... every time here, still nothing */
	ASSERT_OK(symbolizer__user(fast, c.pid, 0x1000, &fr), "no mapping");
	ASSERT_TRUE(fr.map == NULL && fr.nlines == 0, "address in no mapping");
stop:
	fx_stop(&c);
out:
	symbolizer__free(slow);
	symbolizer__free(fast);
}

/* exec replaces every mapping, some at the same addresses (non-PIE): the
 * re-read must not reuse records of the old file. */
void test_symbolize_exec(void)
{
	struct symbolizer *s = NULL;
	struct symbolizer_stats st1, st2;
	struct sym_frame old_fr, fr;
	char cmd[512];
	struct fxchild c = { .pid = -1 };
	uint64_t old_alpha, alpha;

	if (!fixtures())
		return;
	s = symbolizer__new();
	if (!ASSERT_OK_PTR(s, "new") || !fx_start1(&c, fx("fx_nopie")))
		goto out;
	old_alpha = fx_sym(&c, "alpha");
	ASSERT_OK(symbolizer__user(s, c.pid, old_alpha, &old_fr), "before exec");
	snprintf(cmd, sizeof(cmd), "e %s\n", fx("fx_nopie2"));
	ASSERT_EQ(write(c.in, cmd, strlen(cmd)), (ssize_t)strlen(cmd), "exec cmd");
	c.nsyms = 0;
	if (!ASSERT_OK(fx_sync(&c), "exec"))
		goto out;
	alpha = fx_sym(&c, "alpha");
	ASSERT_TRUE(alpha != old_alpha, "variant moved alpha");
	ASSERT_OK(symbolizer__user(s, c.pid, old_alpha, &fr), "stale view");
	ASSERT_OK(symbolizer__add_pid(s, c.pid), "re-read after exec");
	expect_user(s, c.pid, alpha, "profd_fx_alpha", fx("fx_nopie2"), "after exec");
	expect_user(s, c.pid, fx_sym(&c, "beta"), "profd_fx_beta", fx("fx_nopie2"), "after exec");
	/* records from before the exec stay readable until forget_pid */
	if (ASSERT_OK_PTR(old_fr.map, "old map") && ASSERT_EQ(old_fr.nlines, 1, "old"))
		ASSERT_STREQ(old_fr.map->path, fx("fx_nopie"), "old record intact");
	/* prune: the process lives, its replaced records go */
	symbolizer__stats(s, &st1);
	ASSERT_EQ(symbolizer__prune(s), 0, "alive");
	symbolizer__stats(s, &st2);
	ASSERT_EQ(st2.pids, 1, "kept");
	ASSERT_TRUE(st2.mappings < st1.mappings && st2.mappings > 0, "replaced records freed");
	ASSERT_TRUE(st2.bytes < st1.bytes, "bytes");
	expect_user(s, c.pid, alpha, "profd_fx_alpha", fx("fx_nopie2"), "after prune");
out:
	fx_stop(&c);
	symbolizer__free(s);
}

/* A deleted file is reachable only through map_files, which needs
 * CAP_SYS_ADMIN (CAP_CHECKPOINT_RESTORE). Without it: SKIP (a failure under
 * CI=true, where tests run as root). */
static bool map_files_usable(pid_t pid, uint64_t addr)
{
	struct maps_line ml;
	char path[128];
	int fd;

	if (!ASSERT_TRUE(maps_find(pid, addr, &ml), "mapping"))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", (int)pid,
		 (unsigned long long)ml.start, (unsigned long long)ml.end);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return true;
	}
	harness_skip(__FILE__, __LINE__, "deleted binary: %s: %s (needs CAP_SYS_ADMIN)", path,
		     strerror(errno));
	return false;
}

void test_symbolize_deleted_binary(void)
{
	struct symbolizer *s = NULL;
	struct sym_frame fr;
	struct fxchild c;
	char path[256];

	if (!fixtures())
		return;
	snprintf(path, sizeof(path), "%s", fx("fx_deleted"));
	if (fx_run("cp %s %s", fx("fx_pie"), path))
		return;
	s = symbolizer__new();
	if (!ASSERT_OK_PTR(s, "new"))
		goto out;
	if (!fx_start1(&c, path))
		goto stop;
	if (!map_files_usable(c.pid, fx_sym(&c, "alpha")))
		goto stop;
	ASSERT_OK(unlink(path), "unlink");
	ASSERT_OK(symbolizer__user(s, c.pid, fx_sym(&c, "alpha") + 16, &fr), "lookup");
	if (ASSERT_OK_PTR(fr.map, "map") && ASSERT_EQ(fr.nlines, 1, "symbolized")) {
		ASSERT_STREQ(fr.lines[0].name, "profd_fx_alpha", "name");
		ASSERT_STREQ(fr.map->path, path, "\" (deleted)\" trimmed");
		ASSERT_TRUE(fr.map->flags & SYM_MAP_DELETED, "deleted flag");
		ASSERT_TRUE(strlen(fr.map->build_id) == 40, "build id read from the deleted file");
	}
stop:
	fx_stop(&c);
out:
	symbolizer__free(s);
}

void test_symbolize_exited_process(void)
{
	struct symbolizer *s = NULL, *late = NULL;
	struct sym_frame fr;
	struct fxchild c;
	uint64_t alpha;
	pid_t pid, z;
	int status;

	if (!fixtures())
		return;
	s = symbolizer__new();
	late = symbolizer__new();
	if (!ASSERT_OK_PTR(s, "new") || !ASSERT_OK_PTR(late, "new"))
		goto out;
	if (!fx_start1(&c, fx("fx_nopie")))
		goto out;
	pid = c.pid;
	alpha = fx_sym(&c, "alpha");
	ASSERT_OK(symbolizer__add_pid(s, pid), "add_pid");
	fx_stop(&c);
	ASSERT_EQ(kill(pid, 0), -1, "child is gone");

	/* A miss makes a re-read fail: what was read stays. */
	ASSERT_OK(symbolizer__user(s, pid, 0x10, &fr), "miss on a dead pid");
	ASSERT_OK(symbolizer__user(s, pid, alpha + 16, &fr), "lookup after exit");
	if (ASSERT_OK_PTR(fr.map, "map") && ASSERT_EQ(fr.nlines, 1, "nlines"))
		ASSERT_STREQ(fr.lines[0].name, "profd_fx_alpha", "name after exit");
	/* prune forgets the exited process */
	ASSERT_EQ(symbolizer__prune(s), 1, "prune exited");
	ASSERT_OK(symbolizer__user(s, pid, alpha + 16, &fr) == -ESRCH ? 0 : -1, "gone now");
	ASSERT_EQ(symbolizer__user(late, pid, alpha, &fr), -ESRCH, "never added");
	ASSERT_EQ(symbolizer__add_pid(late, pid), -ESRCH, "add gone pid");

	/* A zombie has empty maps: nothing to symbolize with. */
	z = fork();
	if (z == 0)
		_exit(0);
	if (ASSERT_TRUE(z > 0, "fork")) {
		for (int i = 0; i < 200; i++) {
			char st[64];
			FILE *f;
			char state = 0;

			snprintf(st, sizeof(st), "/proc/%d/stat", (int)z);
			f = fopen(st, "re");
			if (f) {
				if (fscanf(f, "%*d %*s %c", &state) != 1)
					state = 0;
				fclose(f);
			}
			if (state == 'Z')
				break;
			usleep(5000);
		}
		ASSERT_EQ(symbolizer__add_pid(late, z), -ESRCH, "zombie");
		waitpid(z, &status, 0);
	}
out:
	symbolizer__free(s);
	symbolizer__free(late);
}

void test_symbolize_cache_sharing(void)
{
	struct symbolizer_stats st1, st2, st3;
	struct symbolizer_opts o;
	struct symbolizer *s = NULL;
	struct fxchild a = { .pid = -1 }, b = { .pid = -1 };

	if (!fixtures())
		return;
	symbolizer__default_opts(&o);
	o.max_unused_files = 2;
	s = symbolizer__new_opts(&o);
	if (!ASSERT_OK_PTR(s, "new"))
		return;
	if (!fx_start1(&a, fx("fx_lib")) || !fx_start1(&b, fx("fx_lib")))
		goto out;
	ASSERT_OK(symbolizer__add_pid(s, a.pid), "add a");
	symbolizer__stats(s, &st1);
	ASSERT_TRUE(st1.files >= 3, "exe, libfx, libc (and ld.so)");
	ASSERT_EQ(st1.pids, 1, "pids");
	ASSERT_OK(symbolizer__add_pid(s, b.pid), "add b");
	symbolizer__stats(s, &st2);
	ASSERT_EQ(st2.file_parses, st1.file_parses, "nothing parsed twice");
	ASSERT_EQ(st2.files, st1.files, "same files");
	ASSERT_EQ(st2.pids, 2, "pids");
	ASSERT_EQ(st2.unused_files, 0, "all referenced");
	expect_user(s, b.pid, fx_sym(&b, "gamma"), "profd_fxlib_gamma", fx("libfx.so"), "b");
	/* after the lookup, which sets up the result cache */
	symbolizer__stats(s, &st2);

	symbolizer__forget_pid(s, a.pid);
	symbolizer__stats(s, &st3);
	ASSERT_EQ(st3.files, st1.files, "b still maps them");
	ASSERT_EQ(st3.pids, 1, "pids");
	symbolizer__forget_pid(s, b.pid);
	symbolizer__forget_pid(s, b.pid); /* twice is harmless */
	symbolizer__stats(s, &st3);
	ASSERT_EQ(st3.pids, 0, "no pids");
	ASSERT_EQ(st3.unused_files, 2, "LRU bounded at 2");
	ASSERT_TRUE(st3.files <= 2, "the rest freed");
	ASSERT_TRUE(st3.bytes < st2.bytes, "memory released");

	/* re-adding finds the LRU survivors and parses only the rest */
	ASSERT_OK(symbolizer__add_pid(s, a.pid), "re-add a");
	symbolizer__stats(s, &st3);
	ASSERT_EQ(st3.file_parses, st1.file_parses + st1.files - 2, "LRU hits");
	ASSERT_EQ(st3.unused_files, 0, "taken off the LRU");
out:
	fx_stop(&a);
	fx_stop(&b);
	symbolizer__free(s);
}

/* A file rewritten in place keeps its inode number: the cached parse must
 * not be reused for it. */
void test_symbolize_cache_stale_inode(void)
{
	struct symbolizer_stats st1, st2;
	struct symbolizer *s = NULL;
	unsigned char *buf = NULL;
	struct fxchild c;
	size_t len = 0;
	char path[256];
	struct stat sa, sb;

	if (!fixtures())
		return;
	snprintf(path, sizeof(path), "%s", fx("fx_rewritten"));
	if (fx_run("cp %s %s", fx("fx_pie"), path))
		return;
	s = symbolizer__new();
	if (!ASSERT_OK_PTR(s, "new"))
		return;
	if (fx_start1(&c, path)) {
		ASSERT_OK(symbolizer__add_pid(s, c.pid), "add");
		expect_user(s, c.pid, fx_sym(&c, "alpha"), "profd_fx_alpha", path, "before");
	}
	fx_stop(&c);
	symbolizer__forget_pid(s, c.pid);
	symbolizer__stats(s, &st1);

	/* same inode, other contents (the non-PIE layout) */
	ASSERT_OK(stat(path, &sa), "stat");
	if (!ASSERT_OK(fx_read(fx("fx_nopie"), &buf, &len), "read nopie"))
		goto out;
	ASSERT_OK(fx_write(path, buf, len), "rewrite");
	ASSERT_OK(stat(path, &sb), "stat");
	ASSERT_EQ(sa.st_ino, sb.st_ino, "inode kept");
	if (fx_start1(&c, path)) {
		ASSERT_OK(symbolizer__add_pid(s, c.pid), "add");
		expect_user(s, c.pid, fx_sym(&c, "beta"), "profd_fx_beta", path, "after");
		symbolizer__stats(s, &st2);
		ASSERT_TRUE(st2.file_parses > st1.file_parses, "parsed again");
	}
	fx_stop(&c);
out:
	free(buf);
	symbolizer__free(s);
}

void test_symbolize_special_mappings(void)
{
	struct symbolizer *s = symbolizer__new();
	struct sym_frame fr;
	struct maps_line ml;
	struct fxchild c = { .pid = -1 };
	void *h, *fn, *anon = MAP_FAILED;
	uint64_t off;

	if (!ASSERT_OK_PTR(s, "new"))
		return;
	/* vDSO: ours, then the same offset in a child's vDSO */
	h = dlopen("linux-vdso.so.1", RTLD_LAZY | RTLD_NOLOAD);
	fn = h ? dlsym(h, "__vdso_clock_gettime") : NULL;
	if (ASSERT_OK_PTR(fn, "vdso clock_gettime") &&
	    ASSERT_TRUE(maps_find(getpid(), (uint64_t)(uintptr_t)fn, &ml), "vdso map")) {
		off = (uint64_t)(uintptr_t)fn - ml.start;
		ASSERT_OK(symbolizer__user(s, getpid(), (uint64_t)(uintptr_t)fn + 1, &fr), "self");
		if (ASSERT_OK_PTR(fr.map, "vdso map") && ASSERT_EQ(fr.nlines, 1, "vdso sym")) {
			ASSERT_TRUE(strstr(fr.lines[0].name, "clock_gettime") != NULL,
				    fr.lines[0].name);
			ASSERT_STREQ(fr.map->path, "[vdso]", "vdso path");
			ASSERT_EQ(fr.map->flags & (SYM_MAP_SPECIAL | SYM_MAP_HAS_SYMS),
				  SYM_MAP_SPECIAL | SYM_MAP_HAS_SYMS, "vdso flags");
			ASSERT_TRUE(strlen(fr.map->build_id) > 0, "vdso build id");
		}
		if (fixtures() && fx_start1(&c, fx("fx_pie"))) {
			struct maps_line cl;
			bool found = false;
			char mp[64], line[512];
			FILE *f;

			snprintf(mp, sizeof(mp), "/proc/%d/maps", (int)c.pid);
			f = fopen(mp, "re");
			while (f && fgets(line, sizeof(line), f)) {
				unsigned long a, b;

				if (strstr(line, "[vdso]") && sscanf(line, "%lx-%lx", &a, &b) == 2) {
					cl.start = a;
					found = true;
				}
			}
			if (f)
				fclose(f);
			if (ASSERT_TRUE(found, "child vdso")) {
				ASSERT_OK(symbolizer__user(s, c.pid, cl.start + off + 1, &fr),
					  "child vdso");
				if (ASSERT_EQ(fr.nlines, 1, "child vdso sym"))
					ASSERT_TRUE(strstr(fr.lines[0].name, "clock_gettime") != NULL,
						    fr.lines[0].name);
			}
		}
	}
	fx_stop(&c);

	/* anonymous executable memory (JIT): a mapping, no symbols */
	anon = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ASSERT_TRUE(anon != MAP_FAILED, "mmap")) {
		ASSERT_OK(symbolizer__add_pid(s, getpid()), "re-read own maps");
		ASSERT_OK(symbolizer__user(s, getpid(), (uint64_t)(uintptr_t)anon + 8, &fr),
			  "anon");
		if (ASSERT_OK_PTR(fr.map, "anon map")) {
			ASSERT_STREQ(fr.map->path, "", "anon path");
			ASSERT_TRUE(fr.map->flags & SYM_MAP_SPECIAL, "anon special");
			ASSERT_STREQ(fr.map->build_id, "", "no build id");
		}
		ASSERT_EQ(fr.nlines, 0, "no symbols");
		munmap(anon, 4096);
	}
	/* [vsyscall], where the kernel still maps it */
	if (maps_find(getpid(), 0xffffffffff600000ULL, &ml)) {
		ASSERT_OK(symbolizer__user(s, getpid(), 0xffffffffff600000ULL, &fr), "vsyscall");
		if (ASSERT_OK_PTR(fr.map, "vsyscall map"))
			ASSERT_STREQ(fr.map->path, "[vsyscall]", "vsyscall path");
		ASSERT_EQ(fr.nlines, 0, "vsyscall no symbols");
	}
	ASSERT_EQ(symbolizer__user(s, 0, 1, &fr), -EINVAL, "pid 0");
	ASSERT_EQ(symbolizer__user(NULL, 1, 1, &fr), -EINVAL, "NULL");
	symbolizer__free(s);
	symbolizer__free(NULL);
	symbolizer__forget_pid(NULL, 1);
}

void test_symbolize_limits(void)
{
	struct symbolizer_opts o;
	struct symbolizer *s;
	struct symbolizer_stats st;
	struct fxchild a = { .pid = -1 }, b = { .pid = -1 };
	struct sym_frame fr;

	if (!fixtures())
		return;
	symbolizer__default_opts(&o);
	o.max_pids = 1;
	o.max_unused_files = 0;
	s = symbolizer__new_opts(&o);
	if (!ASSERT_OK_PTR(s, "new"))
		return;
	if (!fx_start1(&a, fx("fx_pie")) || !fx_start1(&b, fx("fx_pie")))
		goto out;
	ASSERT_OK(symbolizer__add_pid(s, a.pid), "first pid");
	symbolizer__stats(s, &st);
	ASSERT_EQ(st.mappings_dropped, 0, "nothing dropped");
	ASSERT_EQ(symbolizer__add_pid(s, b.pid), -ENOSPC, "second pid over the limit");
	ASSERT_EQ(symbolizer__user(s, b.pid, fx_sym(&b, "alpha"), &fr), -ENOSPC, "lookup");
	symbolizer__forget_pid(s, a.pid);
	symbolizer__stats(s, &st);
	ASSERT_EQ(st.files, 0, "LRU of 0 keeps nothing");
	ASSERT_OK(symbolizer__user(s, b.pid, fx_sym(&b, "alpha"), &fr), "room again");
	ASSERT_EQ(fr.nlines, 1, "symbolized");
	symbolizer__free(s);

	/* two records per pid: the rest of the maps is dropped, counted */
	o.max_pids = 8;
	o.max_maps_per_pid = 2;
	s = symbolizer__new_opts(&o);
	if (!ASSERT_OK_PTR(s, "new"))
		goto out;
	ASSERT_OK(symbolizer__add_pid(s, a.pid), "add");
	symbolizer__stats(s, &st);
	ASSERT_EQ(st.mappings, 2, "capped");
	ASSERT_TRUE(st.mappings_dropped > 0, "dropped counted");
out:
	fx_stop(&a);
	fx_stop(&b);
	symbolizer__free(s);
}

/* Symbols of modules in the real /proc/kallsyms (loadable modules, BPF
 * programs, ftrace trampolines: whatever this kernel has): named, with
 * the module kept in the system name "name [module]". */
void test_symbolize_kernel_modules(void)
{
	struct symbolizer *s = symbolizer__new();
	char line[1024], name[512], mod[256], want[800];
	unsigned long long addr;
	size_t checked = 0;
	struct sym_frame fr;
	FILE *f = fopen("/proc/kallsyms", "re");
	char type;

	if (!ASSERT_OK_PTR(s, "new") || !ASSERT_OK_PTR(f, "kallsyms"))
		goto out;
	while (checked < 64 && fgets(line, sizeof(line), f)) {
		bool alias_ok;
		uint64_t alias;

		if (sscanf(line, "%llx %c %511s [%255[^]]]", &addr, &type, name, mod) != 4 || !addr ||
		    !strchr("tTwW", type))
			continue;
		/* BPF programs come and go while this runs (other tests, other
		 * profilers): the symbolizer's copy and this read may differ. */
		if (!strcmp(mod, "bpf"))
			continue;
		checked++;
		if (!ASSERT_OK(symbolizer__kernel(s, addr, &fr), name) ||
		    !ASSERT_EQ(fr.nlines, 1, name))
			continue;
		/* the name, or another at the same address */
		alias = kallsyms_addr(fr.lines[0].name, &alias_ok);
		ASSERT_TRUE(!strcmp(fr.lines[0].name, name) || (alias_ok && alias == addr), name);
		snprintf(want, sizeof(want), "%s [%s]", fr.lines[0].name, mod);
		ASSERT_STREQ(fr.lines[0].system_name, want, "module in the system name");
	}
	if (!checked)
		harness_skip(__FILE__, __LINE__, "no module symbols in /proc/kallsyms (no modules loaded)");
	else
		printf("  %zu module symbols checked\n", checked);
out:
	if (f)
		fclose(f);
	symbolizer__free(s);
}

/* The memory budget (max_cache_bytes): a lookup opens only the file it
 * falls in; a prune over the budget drops the least recently looked-up
 * binary first, and a later lookup in it reads it again with the same
 * answer (name, mapping, build id); a budget below anything drops all. */
void test_symbolize_cache_budget(void)
{
	struct symbolizer_stats st0, st1, st2;
	struct symbolizer_opts o;
	struct symbolizer *s = NULL;
	struct fxchild a = { .pid = -1 };
	struct sym_frame fr;

	if (!fixtures())
		return;
	symbolizer__default_opts(&o);
	s = symbolizer__new_opts(&o);
	if (!ASSERT_OK_PTR(s, "new"))
		return;
	if (!fx_start1(&a, fx("fx_lib")))
		goto out;
	/* lazily: libfx only, not the executable, libc or ld.so */
	expect_user(s, a.pid, fx_sym(&a, "gamma"), "profd_fxlib_gamma", fx("libfx.so"), "libfx");
	symbolizer__stats(s, &st0);
	ASSERT_EQ(st0.files, 1, "only the file looked up is read");
	ASSERT_TRUE(st0.mappings >= 3, "every mapping recorded");
	expect_user(s, a.pid, fx_sym(&a, "alpha"), "profd_fx_alpha", fx("fx_lib"), "exe");
	symbolizer__stats(s, &st0);
	ASSERT_EQ(st0.files, 2, "libfx and the executable");
	ASSERT_EQ(st0.file_parses, 2, "parsed once each");

	/* a prune within the budget drops nothing */
	symbolizer__set_max_cache_bytes(s, 1ULL << 30);
	symbolizer__prune(s);
	symbolizer__stats(s, &st1);
	ASSERT_EQ(st1.files, 2, "kept");
	ASSERT_EQ(st1.cache_evictions, 0, "no eviction");

	/* one byte under what is held: libfx, looked up before the
	 * executable, goes; the executable stays */
	symbolizer__set_max_cache_bytes(s, st1.bytes - 1);
	symbolizer__prune(s);
	symbolizer__stats(s, &st2);
	ASSERT_EQ(st2.cache_evictions, 1, "one binary dropped");
	ASSERT_EQ(st2.files, 1, "one file left");
	ASSERT_TRUE(st2.bytes <= st1.bytes - 1, "within the budget");
	expect_user(s, a.pid, fx_sym(&a, "alpha"), "profd_fx_alpha", fx("fx_lib"), "exe kept");
	symbolizer__stats(s, &st2);
	ASSERT_EQ(st2.file_parses, 2, "the executable was not read again");
	expect_user(s, a.pid, fx_sym(&a, "gamma"), "profd_fxlib_gamma", fx("libfx.so"),
		    "libfx read again");
	symbolizer__stats(s, &st2);
	ASSERT_EQ(st2.file_parses, 3, "libfx read again");

	/* a budget nothing fits in: everything goes at the prune, every
	 * lookup after it reads its file again and answers the same */
	symbolizer__set_max_cache_bytes(s, 1);
	symbolizer__prune(s);
	symbolizer__stats(s, &st2);
	ASSERT_EQ(st2.files, 0, "nothing kept");
	ASSERT_EQ(st2.unused_files, 0, "nothing unused kept");
	ASSERT_EQ(st2.cache_evictions, 3, "both dropped");
	ASSERT_EQ(st2.pids, 1, "the process itself is still known");
	for (int round = 0; round < 3; round++) {
		expect_user(s, a.pid, fx_sym(&a, "gamma"), "profd_fxlib_gamma", fx("libfx.so"),
			    "after eviction");
		expect_user(s, a.pid, fx_sym(&a, "alpha"), "profd_fx_alpha", fx("fx_lib"),
			    "after eviction");
		symbolizer__prune(s);
	}
	symbolizer__stats(s, &st2);
	ASSERT_EQ(st2.file_parses, 3 + 2 * 3, "read again after each prune");
	/* the main mapping's build id comes back with its file */
	ASSERT_OK_PTR(symbolizer__main_mapping(s, a.pid), "main mapping");
	if (symbolizer__main_mapping(s, a.pid))
		ASSERT_TRUE(symbolizer__main_mapping(s, a.pid)->build_id[0] != '\0', "build id");
	ASSERT_OK(symbolizer__user(s, a.pid, fx_sym(&a, "alpha"), &fr), "lookup");
out:
	fx_stop(&a);
	symbolizer__free(s);
}

/* A prune tells exits by the processes' pidfds (one poll for all) and
 * reads /proc/PID/stat only for those the poll says exited: a live
 * process stays, a zombie stays (its start time still reads, as before),
 * a reaped one goes. */
void test_symbolize_prune_pidfd(void)
{
	struct symbolizer *s = NULL;
	struct fxchild c = { .pid = -1 };
	struct sym_frame fr;
	uint64_t alpha;
	int status;
	pid_t z;

	if (!fixtures())
		return;
	s = symbolizer__new();
	if (!ASSERT_OK_PTR(s, "new") || !fx_start1(&c, fx("fx_nopie")))
		goto out;
	alpha = fx_sym(&c, "alpha");
	ASSERT_OK(symbolizer__add_pid(s, c.pid), "add live");
	z = fork();
	if (z == 0) {
		pause();
		_exit(0);
	}
	if (!ASSERT_TRUE(z > 0, "fork"))
		goto out;
	ASSERT_OK(symbolizer__add_pid(s, z), "add the child");
	for (int round = 0; round < 3; round++)
		ASSERT_EQ(symbolizer__prune(s), 0, "both alive, pruned again and again");
	kill(z, SIGKILL);
	/* a zombie until reaped: its pidfd is readable, its stat too */
	for (int i = 0; i < 200; i++) {
		char st[64], buf[512], *p;
		FILE *f;

		snprintf(st, sizeof(st), "/proc/%d/stat", (int)z);
		f = fopen(st, "r");
		p = f && fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		if (f)
			fclose(f);
		if (p && p[2] == 'Z')
			break;
		usleep(10000);
	}
	ASSERT_EQ(symbolizer__prune(s), 0, "a zombie stays, as before pidfds");
	ASSERT_EQ(waitpid(z, &status, 0), z, "reap");
	ASSERT_EQ(symbolizer__prune(s), 1, "reaped: forgotten");
	ASSERT_EQ(symbolizer__prune(s), 0, "the live one stays");
	ASSERT_OK(symbolizer__user(s, c.pid, alpha + 16, &fr), "lookup");
	if (ASSERT_EQ(fr.nlines, 1, "nlines"))
		ASSERT_STREQ(fr.lines[0].name, "profd_fx_alpha", "still symbolized");
out:
	fx_stop(&c);
	symbolizer__free(s);
}

/* frames__locations() into a profile: an address seen before (in the same
 * stack or an earlier one) gets the same Location back without its lines
 * being built again, so the profile holds one Function per function
 * sampled, named as the symbolizer names it, and the frames of one
 * mapping share its Mapping. */
void test_symbolize_frames_locations_reused(void)
{
	struct symbolizer *s = NULL, *ref = NULL;
	struct pprof *p = NULL;
	struct fxchild a = { .pid = -1 };
	struct frames_stats st = { 0 };
	struct sym_frame fg, fa;
	uint64_t stack[3], l1[3], l2[3];
	size_t nfuncs;
	int n;

	if (!fixtures())
		return;
	s = symbolizer__new();
	ref = symbolizer__new();
	p = pprof__new();
	if (!ASSERT_OK_PTR(s, "new") || !ASSERT_OK_PTR(ref, "new") || !ASSERT_OK_PTR(p, "pprof"))
		goto out;
	if (!fx_start1(&a, fx("fx_lib")))
		goto out;
	stack[0] = fx_sym(&a, "gamma");     /* the leaf, looked up as it is */
	stack[1] = fx_sym(&a, "alpha") + 1; /* callers: return address - 1 */
	stack[2] = stack[1];
	if (!ASSERT_OK(symbolizer__user(ref, a.pid, stack[0], &fg), "ref gamma") ||
	    !ASSERT_OK(symbolizer__user(ref, a.pid, stack[1] - 1, &fa), "ref alpha") ||
	    !ASSERT_TRUE(fg.nlines >= 1 && fa.nlines >= 1, "both named") ||
	    !ASSERT_STREQ(fg.lines[fg.nlines - 1].name, "profd_fxlib_gamma", "gamma") ||
	    !ASSERT_STREQ(fa.lines[fa.nlines - 1].name, "profd_fx_alpha", "alpha"))
		goto out;
	nfuncs = fg.nlines + fa.nlines;
	n = frames__locations(p, s, a.pid, NULL, 0, stack, 3, FRAMES_LEAF_EXACT, l1, 3, &st);
	if (!ASSERT_EQ(n, 3, "three frames"))
		goto out;
	ASSERT_TRUE(l1[0] && l1[1] && l1[0] != l1[1], "two Locations");
	ASSERT_EQ(l1[2], l1[1], "the same address, the same Location");
	n = frames__locations(p, s, a.pid, NULL, 0, stack, 3, FRAMES_LEAF_EXACT, l2, 3, &st);
	if (!ASSERT_EQ(n, 3, "three frames again"))
		goto out;
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(l2[i], l1[i], "the Location of the first stack");
	ASSERT_EQ(st.frames, 6, "every frame counted");
	ASSERT_EQ(st.unsymbolized, 0, "every frame named");
	/* the functions are those the symbolizer names, each once: the next
	 * one is new */
	ASSERT_EQ(pprof__function(p, fg.lines[0].name, fg.lines[0].system_name, fg.lines[0].file,
				  fg.lines[0].start_line) <= nfuncs, true, "gamma's Function");
	ASSERT_EQ(pprof__function(p, "profd-test-not-sampled", NULL, NULL, 0), nfuncs + 1,
		  "no other Function");
	ASSERT_EQ(pprof__location_find(p, 0, stack[0]), 0, "Locations are in their Mapping");
out:
	fx_stop(&a);
	pprof__free(p);
	symbolizer__free(ref);
	symbolizer__free(s);
}

/* A new process's maps handed over (the unwind loader read them): the
 * symbolizer reads none itself, and names frames with them after the
 * process exited. */
void test_symbolize_note_pid_maps(void)
{
	struct symbolizer_stats st;
	struct symbolizer *s = NULL;
	struct procmaps pm = {};
	struct sym_frame fr;
	struct fxchild c;
	uint64_t alpha;
	pid_t pid;

	if (!fixtures())
		return;
	s = symbolizer__new();
	if (!ASSERT_OK_PTR(s, "new") || !fx_start1(&c, fx("fx_pie")))
		goto out;
	pid = c.pid;
	alpha = fx_sym(&c, "alpha");
	ASSERT_OK(procmaps__load(pid, &pm), "load");
	ASSERT_OK(symbolizer__note_pid_maps(s, pid, &pm), "note with maps");
	procmaps__release(&pm);
	fx_stop(&c);
	ASSERT_OK(symbolizer__user(s, pid, alpha + 16, &fr), "lookup after exit");
	if (ASSERT_OK_PTR(fr.map, "map") && ASSERT_EQ(fr.nlines, 1, "nlines"))
		ASSERT_STREQ(fr.lines[0].name, "profd_fx_alpha", "name from the handed maps");
	symbolizer__stats(s, &st);
	ASSERT_EQ(st.maps_reloads, 0, "no maps read by the symbolizer");
	/* Empty maps: it reads them itself (here: gone). */
	ASSERT_EQ(symbolizer__note_pid_maps(s, pid + 100000, &pm), -ESRCH, "empty maps: read");
	symbolizer__stats(s, &st);
	ASSERT_EQ(st.maps_reloads, 1, "read when none handed");
out:
	symbolizer__free(s);
}

/* The samples of a process that exited before its first lookup: its pid
 * is tried once (a second later, or after a prune, again), not at every
 * sample; a new process the walker meets with that pid is read at once. */
void test_symbolize_gone_pid_once(void)
{
	struct symbolizer_stats st;
	struct symbolizer *s;
	struct sym_frame fr;
	pid_t pid;
	int status;

	s = symbolizer__new();
	if (!ASSERT_OK_PTR(s, "new"))
		return;
	pid = fork();
	if (!pid)
		_exit(0);
	waitpid(pid, &status, 0);
	for (int i = 0; i < 100; i++) {
		ASSERT_EQ(symbolizer__user(s, pid, 0x401000 + i, &fr), -ESRCH, "gone");
		ASSERT_TRUE(fr.map == NULL, "no mapping");
	}
	ASSERT_TRUE(symbolizer__main_mapping(s, pid) == NULL, "no main mapping");
	symbolizer__stats(s, &st);
	ASSERT_EQ(st.maps_reloads, 1, "tried once");
	/* A prune starts over. */
	symbolizer__prune(s);
	ASSERT_EQ(symbolizer__user(s, pid, 0x401000, &fr), -ESRCH, "gone after prune");
	ASSERT_EQ(symbolizer__user(s, pid, 0x401000, &fr), -ESRCH, "gone after prune");
	symbolizer__stats(s, &st);
	ASSERT_EQ(st.maps_reloads, 2, "tried again once after the prune");
	/* A new process noted with that pid is read, not taken for gone. */
	ASSERT_EQ(symbolizer__note_pid(s, pid), -ESRCH, "noted: read");
	symbolizer__stats(s, &st);
	ASSERT_EQ(st.maps_reloads, 3, "noted pid read");
	/* Our own pid, never gone, is read once and held. */
	ASSERT_OK(symbolizer__user(s, getpid(), (uint64_t)(uintptr_t)test_symbolize_gone_pid_once,
				   &fr), "self");
	ASSERT_TRUE(fr.map != NULL, "self mapped");
	symbolizer__free(s);
}
