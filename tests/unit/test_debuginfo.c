// SPDX-License-Identifier: Apache-2.0
/* debuginfo: stripped programs built here whose names and lines come from
 * elsewhere: .gnu_debuglink (beside the binary, in .debug/, under a debug
 * root; a bad CRC refused), the build-id directory (a wrong build id
 * refused; a file only the target's mount namespace sees), MiniDebugInfo
 * made the way Fedora makes it, debuginfod (a local HTTP server), and Go
 * programs (-ldflags='-s -w' named from .gopclntab; unstripped ones with
 * lines from Go's compressed DWARF). Expected answers come from the
 * unstripped build, symbolized the same way. */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "binary/elf.h"
#include "harness.h"
#include "symbolize/debuginfo.h"
#include "symbolize/gopclntab.h"
#include "symbolize/symbolizer.h"
#include "symfix.h"

static const char sp_src[] =
	"#include <stdio.h>\n"
	"volatile int sink;\n"
	"__attribute__((noinline)) static int sp_hidden(int x)\n"
	"{\n"
	"	for (int i = 0; i < x; i++)\n"
	"		sink += i * VARIANT; /* SP_HIDDEN */\n"
	"	return sink;\n"
	"}\n"
	"__attribute__((noinline)) int sp_visible(int x)\n"
	"{\n"
	"	return sp_hidden(x) + 1;\n"
	"}\n"
	"int main(int argc, char **argv)\n"
	"{\n"
	"	char cmd[64];\n"
	"	(void)argv;\n"
	"	printf(\"hidden %lx\\nvisible %lx\\nready\\n\", (unsigned long)&sp_hidden,\n"
	"	       (unsigned long)&sp_visible);\n"
	"	fflush(stdout);\n"
	"	while (fgets(cmd, sizeof(cmd), stdin))\n"
	"		;\n"
	"	return sp_visible(argc) == 1234;\n"
	"}\n";

static const char go_src[] =
	"package main\n"
	"\n"
	"import (\n"
	"	\"bufio\"\n"
	"	\"fmt\"\n"
	"	\"os\"\n"
	"	\"reflect\"\n"
	")\n"
	"\n"
	"//go:noinline\n"
	"func burn(n int) int {\n"
	"	s := 0\n"
	"	for i := 0; i < n; i++ {\n"
	"		s += i * i % 7 // GO_BURN\n"
	"	}\n"
	"	return s\n"
	"}\n"
	"\n"
	"func main() {\n"
	"	fmt.Printf(\"burn %x\\nready\\n\", reflect.ValueOf(burn).Pointer())\n"
	"	sc := bufio.NewScanner(os.Stdin)\n"
	"	for sc.Scan() {\n"
	"	}\n"
	"	os.Exit(burn(3) & 0)\n"
	"}\n";

/* Serves a directory over HTTP on loopback; says its port, then "ready";
 * exits when stdin closes. */
static const char http_py[] =
	"import http.server, os, sys, threading\n"
	"d = sys.argv[1]\n"
	"class H(http.server.SimpleHTTPRequestHandler):\n"
	"    def __init__(self, *a, **k):\n"
	"        super().__init__(*a, directory=d, **k)\n"
	"    def log_message(self, *a):\n"
	"        pass\n"
	"srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)\n"
	"print('port %x' % srv.server_address[1])\n"
	"print('ready', flush=True)\n"
	"threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()\n"
	"srv.serve_forever()\n";

static struct symfix fx;
static char build_id[128];

static void di_cleanup(void)
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
	if (!ASSERT_TRUE(fx_mkdir(&fx, "dbgtest"), "mkdtemp"))
		return false;
	atexit(di_cleanup);
	d = fx.dir;
	if (fx_write(P("sp.c"), sp_src, strlen(sp_src)))
		return ASSERT_TRUE(false, "write sources");
	if (fx_run("cd %s && cc -O2 -g -fPIE -pie -DVARIANT=1 sp.c -o sp_full && "
		   "cc -O2 -g -fPIE -pie -DVARIANT=3 sp.c -o sp_other && "
		   "objcopy --only-keep-debug sp_full sp.debug && "
		   "objcopy --only-keep-debug sp_other sp_other.debug && "
		   "mkdir -p a b/.debug c root%s/c bad bid nolink && "
		   "cp sp_full a/sp && strip --strip-all a/sp && "
		   "objcopy --add-gnu-debuglink=sp.debug a/sp && cp sp.debug a/sp.debug && "
		   "cp a/sp b/sp && cp sp.debug b/.debug/sp.debug && "
		   "cp a/sp c/sp && cp sp.debug root%s/c/sp.debug && "
		   "cp a/sp bad/sp && cp sp.debug bad/sp.debug && printf x >> bad/sp.debug && "
		   "cp sp_full nolink/sp && strip --strip-all nolink/sp",
		   d, d, d))
		return ASSERT_TRUE(false, "build fixtures");
	if (!ASSERT_TRUE(fx_capture(build_id, sizeof(build_id),
				    "readelf -n %s | awk '/Build ID/ { print $3 }'", P("sp_full")),
			 "build id") ||
	    !ASSERT_TRUE(strlen(build_id) == 40, build_id))
		return false;
	fx.state = 1;
	return true;
}

/* ---- expectations from the unstripped build --------------------------- */

#define PROBES 24

struct want {
	char name[64];
	char file[256];
	int line;
	size_t nlines;
};

static struct want ref_hidden[PROBES];
static bool ref_done;

static bool reference(void)
{
	struct symbolizer *s;
	struct fxchild c = { .pid = -1 };
	struct sym_frame fr;
	bool ok = true;

	if (ref_done)
		return true;
	s = symbolizer__new();
	if (!ASSERT_OK_PTR(s, "new") || !fx_start1(&c, P("sp_full"))) {
		ok = false;
		goto out;
	}
	for (int k = 0; k < PROBES && ok; k++) {
		ok = ASSERT_OK(symbolizer__user(s, c.pid, fx_sym(&c, "hidden") + k, &fr), "ref") &&
		     ASSERT_TRUE(fr.nlines >= 1 && fr.lines[0].file, "reference has lines");
		if (!ok)
			break;
		ref_hidden[k].nlines = fr.nlines;
		snprintf(ref_hidden[k].name, sizeof(ref_hidden[k].name), "%s",
			 fr.lines[fr.nlines - 1].name);
		snprintf(ref_hidden[k].file, sizeof(ref_hidden[k].file), "%s", fr.lines[0].file);
		ref_hidden[k].line = fr.lines[0].line;
	}
	ASSERT_STREQ(ref_hidden[0].name, "sp_hidden", "reference name");
out:
	fx_stop(&c);
	symbolizer__free(s);
	ref_done = ok;
	return ok;
}

enum expect { LINES, NAMES_ONLY, NOTHING };

/* Start argv, symbolize sp_hidden in it with debug root dirs, and check
 * against the reference. */
static void expect_argv(char *const argv[], const char *dirs, enum expect ex, const char *what,
			struct symbolizer_stats *st_out)
{
	struct symbolizer_opts o;
	struct symbolizer *s = NULL;
	struct fxchild c = { .pid = -1 };
	struct sym_frame fr;

	if (!reference())
		return;
	symbolizer__default_opts(&o);
	o.debug_dirs = dirs;
	o.debuginfod = 0;
	s = symbolizer__new_opts(&o);
	if (!ASSERT_OK_PTR(s, "new") || !fx_start(&c, argv))
		goto out;
	for (int k = 0; k < PROBES; k++) {
		if (!ASSERT_OK(symbolizer__user(s, c.pid, fx_sym(&c, "hidden") + k, &fr), what))
			break;
		if (ex == NOTHING) {
			ASSERT_TRUE(fr.nlines == 0 || strcmp(fr.lines[0].name, "sp_hidden"), what);
			continue;
		}
		if (!ASSERT_TRUE(fr.nlines >= 1, what))
			break;
		ASSERT_STREQ(fr.lines[fr.nlines - 1].name, ref_hidden[k].name, what);
		if (ex == NAMES_ONLY) {
			ASSERT_EQ(fr.nlines, 1, what);
			ASSERT_TRUE(fr.lines[0].file == NULL && fr.lines[0].line == 0, what);
			ASSERT_FALSE(fr.flags & SYM_FRAME_DEBUG_INFO, what);
			continue;
		}
		ASSERT_EQ(fr.nlines, ref_hidden[k].nlines, what);
		ASSERT_STREQ(fr.lines[0].file, ref_hidden[k].file, what);
		ASSERT_EQ(fr.lines[0].line, ref_hidden[k].line, what);
		ASSERT_TRUE(fr.flags & SYM_FRAME_DEBUG_INFO, what);
	}
	if (st_out)
		symbolizer__stats(s, st_out);
out:
	fx_stop(&c);
	symbolizer__free(s);
}

static void expect(const char *bin, const char *dirs, enum expect ex, const char *what)
{
	char *argv[] = { (char *)bin, NULL };

	expect_argv(argv, dirs, ex, what, NULL);
}

/* ---- separate debug files ------------------------------------------------ */

void test_debuginfo_debuglink(void)
{
	char root[256];

	if (!fixtures())
		return;
	snprintf(root, sizeof(root), "%s", P("root"));
	/* nothing but .dynsym in the stripped binary: the reference itself
	 * shows sp_hidden only comes from the debug file */
	expect(P("nolink/sp"), P("empty"), NOTHING, "stripped, no debug file");
	expect(P("a/sp"), P("empty"), LINES, "debuglink beside the binary");
	expect(P("b/sp"), P("empty"), LINES, "debuglink in .debug/");
	expect(P("c/sp"), P("empty"), NOTHING, "debuglink under another root");
	expect(P("c/sp"), root, LINES, "debuglink under the debug root");
	expect(P("bad/sp"), P("empty"), NOTHING, "CRC mismatch refused");
}

static int put_build_id_file(const char *root, const char *src)
{
	return fx_run("mkdir -p %s/.build-id/%.2s && cp %s %s/.build-id/%.2s/%s.debug", root,
		      build_id, src, root, build_id, build_id + 2);
}

void test_debuginfo_build_id_dir(void)
{
	struct symbolizer_stats st;
	char *argv[] = { NULL, NULL };

	if (!fixtures())
		return;
	if (!ASSERT_OK(put_build_id_file(P("idroot"), P("sp.debug")), "place") ||
	    !ASSERT_OK(put_build_id_file(P("wrongroot"), P("sp_other.debug")), "place wrong"))
		return;
	argv[0] = (char *)P("nolink/sp");
	expect_argv(argv, P("idroot"), LINES, "build-id directory", &st);
	ASSERT_EQ(st.separate_debug, 1, "one separate debug file");
	ASSERT_TRUE(st.with_dwarf >= 1, "DWARF found");
	expect(P("nolink/sp"), P("wrongroot"), NOTHING, "another build's debug file refused");
	/* several roots: the first that has it */
	{
		char dirs[600];

		snprintf(dirs, sizeof(dirs), "%s:%s:%s", P("empty"), P("wrongroot"), P("idroot"));
		expect(P("nolink/sp"), dirs, LINES, "third of three roots");
	}
}

/* The debug file exists only in the target's own mount namespace (a tmpfs
 * mounted over the debug root by the child): found through /proc/PID/root. */
void test_debuginfo_target_namespace(void)
{
	char script[2048];
	char *argv[] = { "/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
			 script, NULL };
	struct symbolizer_stats st;

	if (!fixtures() || !fx_have("unshare"))
		return;
	if (getuid() != 0)
		SKIP("mount namespaces need root");
	if (fx_run("mkdir -p %s", P("nsroot")))
		return;
	snprintf(script, sizeof(script),
		 "mount -t tmpfs none %s && mkdir -p %s/.build-id/%.2s && "
		 "cp %s %s/.build-id/%.2s/%s.debug && exec %s",
		 P("nsroot"), P("nsroot"), build_id, P("sp.debug"), P("nsroot"), build_id,
		 build_id + 2, P("nolink/sp"));
	expect_argv(argv, P("nsroot"), LINES, "debug file in the target's namespace", &st);
	ASSERT_EQ(st.separate_debug, 1, "found in the target's root");
	/* the host's view of that directory is empty */
	expect(P("nolink/sp"), P("nsroot"), NOTHING, "not on the host");
}

/* A debug file damaged inside its DWARF (build id intact): answers or not,
 * never a crash. */
void test_debuginfo_corrupt_debug_file(void)
{
	unsigned char *buf = NULL;
	uint64_t rng = 0x1234567, off = 0, size = 0;
	char out[128], root[64];
	size_t len;

	if (!fixtures() || !reference())
		return;
	if (!ASSERT_TRUE(fx_capture(out, sizeof(out),
				    "readelf -SW %s 2>/dev/null | awk '$2 == \".debug_info\" { print $5, $6 }'",
				    P("sp.debug")), "debug_info") ||
	    sscanf(out, "%lx %lx", (unsigned long *)&off, (unsigned long *)&size) != 2 || !size)
		return;
	for (int round = 0; round < 12; round++) {
		if (!ASSERT_OK(fx_read(P("sp.debug"), &buf, &len), "read"))
			return;
		for (int k = 0; k < 1 + round * 3; k++) {
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			buf[off + rng % size] ^= (unsigned char)(rng >> 33 | 1);
		}
		if (round == 11)
			len = off + size / 2; /* truncated in .debug_info */
		snprintf(root, sizeof(root), "croot%d", round);
		fx_write(P("corrupt.debug"), buf, len);
		free(buf);
		if (!ASSERT_OK(put_build_id_file(P(root), P("corrupt.debug")), "place"))
			return;
		{
			struct symbolizer_opts o;
			struct symbolizer *s;
			struct fxchild c = { .pid = -1 };
			struct sym_frame fr;

			symbolizer__default_opts(&o);
			o.debug_dirs = P(root);
			s = symbolizer__new_opts(&o);
			if (ASSERT_OK_PTR(s, "new") && fx_start1(&c, P("nolink/sp"))) {
				for (int k = -64; k < 256; k++)
					ASSERT_OK(symbolizer__user(s, c.pid,
								   fx_sym(&c, "hidden") + k, &fr),
						  "lookup");
			}
			fx_stop(&c);
			symbolizer__free(s);
		}
	}
}

/* ---- MiniDebugInfo -------------------------------------------------------- */

/* GDB manual, "MiniDebugInfo": the function symbols .dynsym lacks, in an
 * xz-compressed ELF in .gnu_debugdata. */
static int make_minidebuginfo(const char *dir, const char *bin)
{
	return fx_run("cd %s && "
		      "nm -D %s --format=posix --defined-only | awk '{ print $1 }' | sort > dynsyms && "
		      "nm %s --format=posix --defined-only | "
		      "awk '{ if ($2 == \"T\" || $2 == \"t\" || $2 == \"D\") print $1 }' | sort > funcsyms && "
		      "comm -13 dynsyms funcsyms > keep_symbols && "
		      "objcopy --only-keep-debug %s debug && "
		      "objcopy -S --remove-section .gdb_index --remove-section .comment "
		      "--keep-symbols=keep_symbols debug mini_debuginfo && "
		      "strip --strip-all -R .comment %s && rm -f mini_debuginfo.xz && "
		      "xz mini_debuginfo && "
		      "objcopy --add-section .gnu_debugdata=mini_debuginfo.xz %s",
		      dir, bin, bin, bin, bin, bin);
}

void test_debuginfo_minidebuginfo(void)
{
	struct symbolizer_stats st;
	char *argv[] = { NULL, NULL };
	char out[64];

	if (!fixtures() || !fx_have("xz"))
		return;
	if (fx_run("mkdir -p %s && cp %s %s/sp", P("mini"), P("sp_full"), P("mini")) ||
	    !ASSERT_OK(make_minidebuginfo(P("mini"), "sp"), "make MiniDebugInfo"))
		return;
	/* as Fedora ships it: no .symtab, a .gnu_debugdata */
	ASSERT_TRUE(fx_capture(out, sizeof(out), "readelf -SW %s | grep -c gnu_debugdata",
			       P("mini/sp")) && atoi(out) == 1, ".gnu_debugdata present");
	ASSERT_FALSE(fx_capture(out, sizeof(out), "readelf -SW %s | grep -q ' .symtab'",
				P("mini/sp")), "no .symtab");
	argv[0] = (char *)P("mini/sp");
	expect_argv(argv, P("empty"), NAMES_ONLY, "MiniDebugInfo names the static function", &st);
	ASSERT_EQ(st.with_dwarf, 0, "no lines from MiniDebugInfo");

	/* a damaged xz stream: no names from it, no crash */
	if (fx_run("cd %s && cp sp sp_badxz && printf 'garbage' > junk.xz && "
		   "objcopy --update-section .gnu_debugdata=junk.xz sp_badxz",
		   P("mini")) == 0)
		expect(P("mini/sp_badxz"), P("empty"), NOTHING, "damaged .gnu_debugdata");
	if (fx_run("cd %s && cp sp sp_cutxz && head -c 100 mini_debuginfo.xz > cut.xz && "
		   "objcopy --update-section .gnu_debugdata=cut.xz sp_cutxz",
		   P("mini")) == 0)
		expect(P("mini/sp_cutxz"), P("empty"), NOTHING, "truncated .gnu_debugdata");
}

/* ---- debuginfod ----------------------------------------------------------- */

void test_debuginfo_debuginfod(void)
{
	char url[128], *argv[] = { "/usr/bin/env", "python3", NULL, NULL, NULL };
	struct fxchild srv = { .pid = -1 };
	struct symbolizer_opts o;
	struct symbolizer *s = NULL;
	struct fxchild c = { .pid = -1 };
	struct symbolizer_stats st;
	struct sym_frame fr;

	if (!fixtures() || !reference() || !fx_have("python3"))
		return;
	{
		void *lib = dlopen("libdebuginfod.so.1", RTLD_NOW | RTLD_LOCAL);

		if (!lib)
			SKIP("libdebuginfod.so.1 is not installed (scripts/deps.sh installs it)");
		dlclose(lib);
	}
	if (fx_write(P("serve_dir.py"), http_py, strlen(http_py)) ||
	    fx_run("mkdir -p %s/buildid/%s && cp %s %s/buildid/%s/debuginfo", P("srv"), build_id,
		   P("sp.debug"), P("srv"), build_id))
		return;
	argv[2] = (char *)P("serve_dir.py");
	argv[3] = (char *)P("srv");
	if (!fx_start(&srv, argv))
		goto out;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)fx_sym(&srv, "port"));
	setenv("DEBUGINFOD_URLS", url, 1);
	setenv("DEBUGINFOD_CACHE_PATH", P("dcache"), 1);
	setenv("DEBUGINFOD_TIMEOUT", "10", 1);
	symbolizer__default_opts(&o);
	o.debug_dirs = P("empty");
	s = symbolizer__new_opts(&o);
	if (!ASSERT_OK_PTR(s, "new") || !fx_start1(&c, P("nolink/sp")))
		goto out;
	if (ASSERT_OK(symbolizer__user(s, c.pid, fx_sym(&c, "hidden") + 4, &fr), "lookup") &&
	    ASSERT_TRUE(fr.nlines >= 1, "named")) {
		ASSERT_STREQ(fr.lines[fr.nlines - 1].name, "sp_hidden", "name from debuginfod");
		ASSERT_STREQ(fr.lines[0].file, ref_hidden[4].file, "file from debuginfod");
		ASSERT_EQ(fr.lines[0].line, ref_hidden[4].line, "line from debuginfod");
	}
	symbolizer__stats(s, &st);
	ASSERT_EQ(st.separate_debug, 1, "the fetched file");
out:
	unsetenv("DEBUGINFOD_URLS");
	unsetenv("DEBUGINFOD_CACHE_PATH");
	unsetenv("DEBUGINFOD_TIMEOUT");
	fx_stop(&c);
	fx_stop(&srv);
	symbolizer__free(s);
}

/* ---- Go ------------------------------------------------------------------- */

static bool go_fixtures(void)
{
	static int state;

	if (state)
		return state == 1;
	state = -1;
	if (!fixtures() || !fx_have("go"))
		return false;
	if (fx_write(P("gdemo.go"), go_src, strlen(go_src)) ||
	    fx_run("cd %s && export GOCACHE=/tmp/profd-gocache GOPATH=%s/gopath GOFLAGS=-mod=mod "
		   "GO111MODULE=off HOME=%s && go build -o gdemo gdemo.go && "
		   "go build -ldflags='-s -w' -o gdemo_stripped gdemo.go",
		   fx.dir, fx.dir, fx.dir))
		return ASSERT_TRUE(false, "go build");
	state = 1;
	return true;
}

/* Stripped Go: names, files and lines from .gopclntab, compared with Go's
 * own reader of the table. */
void test_debuginfo_go_stripped(void)
{
	struct symbolizer *s = symbolizer__new();
	struct fxchild c = { .pid = -1 };
	struct sym_frame fr;
	char out[64];

	if (!go_fixtures() || !ASSERT_OK_PTR(s, "new"))
		goto out;
	ASSERT_FALSE(fx_capture(out, sizeof(out), "readelf -SW %s | grep -q -e ' .symtab' -e debug_info",
				P("gdemo_stripped")), "no .symtab, no DWARF");
	if (!fx_start1(&c, P("gdemo_stripped")))
		goto out;
	for (int k = 0; k < 32; k += 5) {
		if (ASSERT_OK(symbolizer__user(s, c.pid, fx_sym(&c, "burn") + k, &fr), "lookup") &&
		    ASSERT_EQ(fr.nlines, 1, "named")) {
			ASSERT_STREQ(fr.lines[0].name, "main.burn", "name from .gopclntab");
			ASSERT_STREQ(fr.lines[0].system_name, "main.burn", "system name");
		}
	}
	/* every byte of main.burn and of runtime.mallocgc against Go's own
	 * reader of the same table (go tool addr2line) */
	{
		static const char *const funcs[] = { "main.burn", "runtime.mallocgc" };
		char out_path[300], cmd[1024], want[1024];
		uint64_t bias = 0;
		size_t checked = 0, with_line = 0;
		FILE *in, *res;

		snprintf(out_path, sizeof(out_path), "%s", P("go_addrs"));
		in = fopen(out_path, "we");
		if (!ASSERT_OK_PTR(in, "addrs"))
			goto out;
		for (size_t f = 0; f < 2; f++) {
			char a[64];
			uint64_t start;

			if (!ASSERT_TRUE(fx_capture(a, sizeof(a),
						    "go tool nm -size %s | awk '$4 == \"%s\" { print $1, $2 }'",
						    P("gdemo"), funcs[f]), funcs[f]))
				continue;
			start = strtoull(a, NULL, 16);
			if (f == 0)
				bias = fx_sym(&c, "burn") - start; /* 0: not PIE */
			for (uint64_t k = 0, size = strtoull(strchr(a, ' ') + 1, NULL, 10); k < size; k++)
				fprintf(in, "0x%llx\n", (unsigned long long)(start + k));
		}
		fclose(in);
		snprintf(cmd, sizeof(cmd), "go tool addr2line %s < %s", P("gdemo_stripped"), out_path);
		in = fopen(out_path, "re");
		res = popen(cmd, "r");
		while (in && res && fgets(want, sizeof(want), in)) {
			uint64_t addr = strtoull(want, NULL, 16);
			char func[512], loc[512];

			if (!fgets(func, sizeof(func), res) || !fgets(loc, sizeof(loc), res))
				break;
			func[strcspn(func, "\n")] = '\0';
			loc[strcspn(loc, "\n")] = '\0';
			if (!ASSERT_OK(symbolizer__user(s, c.pid, addr + bias, &fr), "lookup") ||
			    !ASSERT_EQ(fr.nlines, 1, "one line"))
				break;
			checked++;
			ASSERT_STREQ(fr.lines[0].name, func, "go tool addr2line's function");
			snprintf(want, sizeof(want), "%s:%d", fr.lines[0].file ? fr.lines[0].file : "?",
				 fr.lines[0].line);
			ASSERT_STREQ(want, loc, "go tool addr2line's file:line");
			ASSERT_FALSE(fr.flags & SYM_FRAME_DEBUG_INFO, "no inlining information");
			with_line += fr.lines[0].line > 0;
		}
		if (in)
			fclose(in);
		if (res)
			pclose(res);
		ASSERT_TRUE(checked > 100 && with_line == checked, "every byte with a line");
	}
out:
	fx_stop(&c);
	symbolizer__free(s);
}

/* Unstripped Go: lines from Go's DWARF (SHF_COMPRESSED sections). */
void test_debuginfo_go_dwarf(void)
{
	struct symbolizer *s = symbolizer__new();
	struct fxchild c = { .pid = -1 };
	struct sym_frame fr;
	char out[32];
	int line;
	bool seen = false;

	if (!go_fixtures() || !ASSERT_OK_PTR(s, "new") || !fx_start1(&c, P("gdemo")))
		goto out;
	if (!ASSERT_TRUE(fx_capture(out, sizeof(out), "grep -n GO_BURN %s | cut -d: -f1",
				    P("gdemo.go")), "grep"))
		goto out;
	line = atoi(out);
	for (int k = 0; k < 96 && !seen; k++) {
		if (symbolizer__user(s, c.pid, fx_sym(&c, "burn") + k, &fr) || !fr.nlines)
			continue;
		ASSERT_STREQ(fr.lines[fr.nlines - 1].name, "main.burn", "Go DWARF name");
		ASSERT_STREQ(fr.lines[0].file, P("gdemo.go"), "Go source file");
		seen = fr.lines[0].line == line;
	}
	ASSERT_TRUE(seen, "the loop body's line");
out:
	fx_stop(&c);
	symbolizer__free(s);
}

/* The parser on the real table, then on damaged copies of it. */
void test_debuginfo_gopclntab_garbage(void)
{
	uint8_t *tab = NULL, *buf = NULL;
	struct elf_sym_in *syms = NULL;
	uint64_t rng = 0xfeedface, addr = 0, text = 0;
	size_t len = 0, n = 0, len2;
	bool found = false;
	int fd, err;

	if (!go_fixtures())
		return;
	fd = open(P("gdemo_stripped"), O_RDONLY | O_CLOEXEC);
	if (!ASSERT_TRUE(fd >= 0, "open"))
		return;
	err = elf_file__section(fd, ".gopclntab", 1u << 30, (void **)&tab, &len, &addr);
	ASSERT_OK(elf_file__section(fd, ".text", 0, NULL, &len2, &text), ".text");
	close(fd);
	if (!ASSERT_OK(err, ".gopclntab"))
		return;
	if (ASSERT_OK(gopclntab__symbols(tab, len, text, &syms, &n), "parse")) {
		ASSERT_TRUE(n > 1000, "runtime and main functions");
		for (size_t i = 0; i < n; i++)
			found |= !strcmp(syms[i].name, "main.burn");
		ASSERT_TRUE(found, "main.burn listed");
	}
	free(syms);
	buf = malloc(len);
	if (!ASSERT_OK_PTR(buf, "malloc"))
		goto out;
	for (size_t cut = 0; cut < len; cut += len / 37 + 1) {
		syms = NULL;
		if (!gopclntab__symbols(tab, cut, text, &syms, &n))
			for (size_t i = 0; i < n; i++)
				ASSERT_TRUE(syms[i].name && (const uint8_t *)syms[i].name < tab + cut,
					    "name inside the truncated table");
		free(syms);
	}
	for (int round = 0; round < 300; round++) {
		memcpy(buf, tab, len);
		for (int k = 0; k < 1 + round % 8; k++) {
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			/* the header and function table, mostly */
			buf[round & 1 ? rng % len : rng % (len < 8192 ? len : 8192)] ^=
				(uint8_t)(rng >> 29 | 1);
		}
		syms = NULL;
		if (!gopclntab__symbols(buf, len, round % 3 ? text : 0, &syms, &n))
			for (size_t i = 0; i < n; i++)
				ASSERT_TRUE(syms[i].size > 0 && strlen(syms[i].name) < len, "sane");
		free(syms);
	}
	ASSERT_EQ(gopclntab__symbols((const uint8_t *)"\xf0\xff\xff\xff\0\0\1\x08", 8, 0, &syms, &n),
		  -ENOEXEC, "header only");
	ASSERT_EQ(gopclntab__symbols((const uint8_t *)"0123456789abcdef", 16, 0, &syms, &n),
		  -ENOEXEC, "no magic");
out:
	free(buf);
	free(tab);
}
