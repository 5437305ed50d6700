// SPDX-License-Identifier: Apache-2.0
/* Stripped binaries: functions no symbol names are named after their
 * .eh_frame FDE (binary/ehframe.c, symbolizer), PLT stubs after their
 * relocation's target (binary/elf.c), checked against nm and objdump on
 * programs built here, on Debian's gzip, and on garbage. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "binary/ehframe.h"
#include "binary/elf.h"
#include "binary/file.h"
#include "harness.h"
#include "symbolize/symbolizer.h"
#include "symfix.h"

/* Functions in source order (-fno-toplevel-reorder): alpha and beta are
 * static (no symbol once stripped); exported_fn is in .dynsym with its
 * size (-rdynamic) and after_exported follows it unnamed; asm_nosize is a
 * global without .size or CFI, followed by the unnamed after_asm. */
static const char stripped_src[] =
	"#include <stdio.h>\n"
	"#include <string.h>\n"
	"#include <strings.h>\n"
	"volatile unsigned long sink;\n"
	"__attribute__((noinline)) static unsigned long alpha(unsigned long n)\n"
	"{ unsigned long s = 0; for (unsigned long i = 0; i < n; i++) s += i * i ^ s; return s; }\n"
	"__attribute__((noinline)) static unsigned long beta(unsigned long n)\n"
	"{ unsigned long s = 1; for (unsigned long i = 0; i < n; i++) s += i ^ (s >> 3); return s; }\n"
	"__attribute__((noinline)) unsigned long exported_fn(unsigned long n) { return n * 3 + sink; }\n"
	"__attribute__((noinline)) static unsigned long after_exported(unsigned long n)\n"
	"{ unsigned long s = 0; for (unsigned long i = 0; i < n; i++) s += i * 7; return s; }\n"
	"__asm__(\".text\\n.globl asm_nosize\\n.type asm_nosize,@function\\n"
	"asm_nosize:\\n nop\\n nop\\n nop\\n nop\\n ret\\n\");\n"
	"void asm_nosize(void);\n"
	"__attribute__((noinline)) static unsigned long after_asm(unsigned long n)\n"
	"{ unsigned long s = 5; for (unsigned long i = 0; i < n; i++) s ^= i << 2; return s; }\n"
	"int main(int argc, char **argv)\n"
	"{\n"
	"	char line[64];\n"
	"	(void)argv;\n"
	"	printf(\"alpha %lx\\nbeta %lx\\nexported_fn %lx\\nafter_exported %lx\\n\"\n"
	"	       \"asm_nosize %lx\\nafter_asm %lx\\nready\\n\", (unsigned long)alpha,\n"
	"	       (unsigned long)beta, (unsigned long)exported_fn, (unsigned long)after_exported,\n"
	"	       (unsigned long)asm_nosize, (unsigned long)after_asm);\n"
	"	fflush(stdout);\n"
	"	asm_nosize();\n"
	"	sink = alpha(argc) + beta(argc) + exported_fn(argc) + after_exported(argc) +\n"
	"	       after_asm(argc) + (unsigned long)ffs(argc) + strlen(argv[0]);\n"
	"	while (fgets(line, sizeof(line), stdin))\n"
	"		;\n"
	"	return 0;\n"
	"}\n";

static struct symfix fx;

static void fx_cleanup(void)
{
	fx_rmdir(fx.dir);
}

#define P(name) fx_path(&fx, name)

static bool build(void)
{
	if (fx.state)
		return fx.state > 0;
	fx.state = -1;
	if (!ASSERT_TRUE(fx_mkdir(&fx, "stripped"), "mkdtemp"))
		return false;
	atexit(fx_cleanup);
	if (fx_write(P("s.c"), stripped_src, sizeof(stripped_src) - 1) ||
	    /* as distro binaries are: no frame pointers, stripped */
	    fx_run("cd %s && cc -O2 -fomit-frame-pointer -fno-toplevel-reorder -fno-builtin "
		   "-fcf-protection=none -rdynamic s.c -o full && cp full s && strip --strip-all s",
		   fx.dir) ||
	    fx_run("cd %s && cc -O2 -fomit-frame-pointer -fno-builtin -fcf-protection=full "
		   "-Wl,-z,ibtplt s.c -o ibt", fx.dir))
		return false;
	fx.state = 1;
	return true;
}

/* ELF address of name in the unstripped copy (nm), 0 if absent. */
static uint64_t nm_addr(const char *bin, const char *name)
{
	char out[64] = "";

	if (!fx_capture(out, sizeof(out), "nm %s | awk '$3 == \"%s\" { print $1 }'", bin, name) ||
	    !out[0])
		return 0;
	return strtoull(out, NULL, 16);
}

static int open_funcs(const char *path, struct ehframe_funcs **t)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0)
		return -errno;
	err = ehframe_funcs__read_fd(fd, t);
	close(fd);
	return err;
}

/* Every function symbol of the unstripped copy with a size is an FDE of
 * the stripped one, and addresses inside map to its start. */
void test_ehframe_funcs_match_symbols(void)
{
	static const char *const fns[] = { "alpha", "beta", "exported_fn", "after_exported",
					   "after_asm", "main" };
	struct ehframe_funcs *t = NULL;
	uint64_t start;

	if (!build() || !ASSERT_OK(open_funcs(P("s"), &t), "read .eh_frame"))
		return;
	ASSERT_TRUE(t->n >= 6, "FDEs");
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		uint64_t a = nm_addr(P("full"), fns[i]);

		if (!ASSERT_TRUE(a, fns[i]))
			continue;
		ASSERT_OK(ehframe_funcs__find(t, a, &start), fns[i]);
		ASSERT_EQ(start, a, fns[i]);
		ASSERT_OK(ehframe_funcs__find(t, a + 3, &start), fns[i]);
		ASSERT_EQ(start, a, fns[i]);
	}
	/* hand-written code without CFI has no FDE */
	ASSERT_EQ(ehframe_funcs__find(t, nm_addr(P("full"), "asm_nosize") + 1, &start), -ENOENT,
		  "asm without CFI");
	ASSERT_EQ(ehframe_funcs__find(t, 0, &start), -ENOENT, "address 0");
	ASSERT_EQ(ehframe_funcs__find(t, UINT64_MAX, &start), -ENOENT, "end of space");
	ehframe_funcs__free(t);
}

/* Distro libraries: one function per entry of .eh_frame_hdr's search
 * table (the linker's own count of FDEs), each start found there. */
void test_ehframe_funcs_match_hdr(void)
{
	static const char *const libs[] = { "/usr/bin/gzip", "/lib/x86_64-linux-gnu/libc.so.6",
					    "/lib/x86_64-linux-gnu/liblzma.so.5" };

	for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]); i++) {
		struct ehframe_funcs *t = NULL;
		unsigned char *hdr = NULL;
		uint64_t haddr = 0, start;
		size_t len = 0, found = 0;
		uint32_t count;
		struct stat st;
		int fd = binary_open_regular(libs[i], &st);

		if (!ASSERT_TRUE(fd >= 0, libs[i]))
			continue;
		if (ASSERT_OK(elf_file__section(fd, ".eh_frame_hdr", 1 << 24, (void **)&hdr, &len,
						&haddr), libs[i]) &&
		    ASSERT_TRUE(len >= 12 && hdr[0] == 1 && hdr[2] == 0x03 && hdr[3] == 0x3b,
				"udata4 count, datarel sdata4 table") &&
		    ASSERT_OK(ehframe_funcs__read_fd(fd, &t), libs[i])) {
			memcpy(&count, hdr + 8, 4);
			ASSERT_TRUE(count > 100 && len >= 12 + (size_t)count * 8, "table size");
			ASSERT_EQ(t->n, count, libs[i]);
			for (uint32_t k = 0; k < count && 12 + (size_t)k * 8 + 8 <= len; k++) {
				int32_t rel;

				memcpy(&rel, hdr + 12 + (size_t)k * 8, 4);
				found += !ehframe_funcs__find(t, haddr + (uint64_t)(int64_t)rel, &start) &&
					 start == haddr + (uint64_t)(int64_t)rel;
			}
			ASSERT_EQ(found, count, "every start of the search table");
		}
		ehframe_funcs__free(t);
		free(hdr);
		close(fd);
	}
}

/* Section headers gone: .eh_frame through PT_GNU_EH_FRAME, same table. */
void test_ehframe_funcs_without_sections(void)
{
	struct ehframe_funcs *a = NULL, *b = NULL;
	unsigned char *buf = NULL;
	Elf64_Ehdr *eh;
	size_t len = 0;

	if (!build() || !ASSERT_OK(fx_read(P("s"), &buf, &len), "read") ||
	    !ASSERT_TRUE(len > sizeof(*eh), "size"))
		goto out;
	eh = (Elf64_Ehdr *)buf;
	eh->e_shoff = 0;
	eh->e_shnum = 0;
	eh->e_shstrndx = 0;
	if (!ASSERT_OK(fx_write(P("noshdr"), buf, len), "write") ||
	    !ASSERT_OK(open_funcs(P("s"), &a), "with sections") ||
	    !ASSERT_OK(open_funcs(P("noshdr"), &b), "without sections"))
		goto out;
	if (ASSERT_EQ(b->n, a->n, "same FDEs") && ASSERT_EQ(b->base, a->base, "same base"))
		ASSERT_TRUE(!memcmp(a->f, b->f, a->n * sizeof(*a->f)), "same table");
out:
	ehframe_funcs__free(a);
	ehframe_funcs__free(b);
	free(buf);
}

static bool is_subset(const struct ehframe_funcs *sub, const struct ehframe_funcs *of)
{
	uint64_t start;

	for (size_t i = 0; i < sub->n; i++) {
		uint64_t a = sub->base + sub->f[i].off;

		if (ehframe_funcs__find(of, a, &start) || start != a)
			return false;
	}
	return true;
}

static bool well_formed(const struct ehframe_funcs *t, const struct ehframe_range *r)
{
	for (size_t i = 0; i < t->n; i++) {
		uint64_t a = t->base + t->f[i].off;

		if ((i && t->f[i].off <= t->f[i - 1].off) || !t->f[i].len || a < r->start ||
		    a + t->f[i].len > r->end)
			return false;
	}
	return true;
}

/* The parser of other processes' files survives garbage: truncated at
 * every length (a subset of the functions survives), bytes flipped
 * anywhere, random bytes; nothing outside the code range is returned. */
void test_ehframe_funcs_garbage(void)
{
	struct ehframe_funcs *full = NULL, *t;
	struct ehframe_range code = { 0, 0 };
	uint64_t rng = 0x243f6a8885a308d3ULL, vaddr = 0;
	struct elf_image *img = NULL;
	unsigned char *sec = NULL;
	size_t len = 0, bad = 0, notsub = 0;
	struct stat st;
	int fd;

	if (!build())
		return;
	fd = binary_open_regular(P("s"), &st);
	if (!ASSERT_TRUE(fd >= 0, "open"))
		return;
	ASSERT_OK(elf_file__section(fd, ".eh_frame", 1 << 20, (void **)&sec, &len, &vaddr),
		  ".eh_frame");
	if (ASSERT_OK(elf_image__open_fd_opts(fd, ELF_IMAGE_NO_SYMS, &img), "headers")) {
		for (size_t i = 0; i < img->nloads; i++)
			if (img->loads[i].flags & PF_X)
				code = (struct ehframe_range){ img->loads[i].vaddr,
							       img->loads[i].vaddr + img->loads[i].memsz };
		elf_image__free(img);
	}
	close(fd);
	if (!sec || !ASSERT_TRUE(len > 64, "section size") || !ASSERT_TRUE(code.end, "code"))
		goto out;
	if (!ASSERT_OK(ehframe_funcs__parse(sec, len, vaddr, &code, 1, &full), "parse") ||
	    !ASSERT_TRUE(full->n >= 6, "functions"))
		goto out;
	/* every truncation: copied to an exact-size buffer so ASan sees reads past it */
	for (size_t cut = 0; cut <= len; cut++) {
		unsigned char *b = malloc(cut ? cut : 1);

		memcpy(b, sec, cut);
		if (ehframe_funcs__parse(b, cut, vaddr, &code, 1, &t) == 0) {
			bad += !well_formed(t, &code);
			notsub += !is_subset(t, full);
			ehframe_funcs__free(t);
		}
		free(b);
	}
	ASSERT_EQ(bad, 0, "truncations: sorted, in range");
	ASSERT_EQ(notsub, 0, "truncations: only real functions");
	/* byte flips, 1-4 per round, anywhere */
	for (int round = 0; round < 3000; round++) {
		unsigned char *b = malloc(len);

		memcpy(b, sec, len);
		for (int k = 0; k <= round % 4; k++) {
			rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
			b[(rng >> 33) % len] ^= (unsigned char)(1u << ((rng >> 20) & 7));
		}
		if (ehframe_funcs__parse(b, len, vaddr, &code, 1, &t) == 0) {
			bad += !well_formed(t, &code);
			ehframe_funcs__free(t);
		}
		free(b);
	}
	ASSERT_EQ(bad, 0, "flips: sorted, in range");
	/* random bytes, and random bytes after a valid CIE */
	for (int round = 0; round < 500; round++) {
		size_t n = 1 + round * 7 % 4096;
		unsigned char *b = malloc(n);

		for (size_t i = 0; i < n; i++) {
			rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
			b[i] = (unsigned char)(rng >> 56);
		}
		if (round % 2 && n > 24)
			memcpy(b, sec, 24 < len ? 24 : len);
		if (ehframe_funcs__parse(b, n, vaddr, NULL, 0, &t) == 0)
			ehframe_funcs__free(t);
		free(b);
	}
	/* no data at all */
	if (ASSERT_OK(ehframe_funcs__parse(NULL, 0, 0, NULL, 0, &t), "empty"))
		ASSERT_EQ(t->n, 0, "no functions");
	ehframe_funcs__free(t);
out:
	ehframe_funcs__free(full);
	free(sec);
}

/* The symbolizer on the running stripped program: unnamed static
 * functions get file+0xSTART, each its own; the sized .dynsym symbol and
 * the size-less one do not swallow the unnamed functions after them. */
void test_symbolize_stripped_functions(void)
{
	static const char *const unnamed[] = { "alpha", "beta", "after_exported", "after_asm" };
	struct symbolizer *s = NULL;
	struct fxchild c = { .pid = -1 };
	struct sym_frame fr;
	char want[64];

	if (!build())
		return;
	s = symbolizer__new();
	if (!ASSERT_OK_PTR(s, "new") || !fx_start1(&c, P("s")))
		goto out;
	for (size_t i = 0; i < sizeof(unnamed) / sizeof(unnamed[0]); i++) {
		uint64_t a = fx_sym(&c, unnamed[i]);

		snprintf(want, sizeof(want), "s+0x%" PRIx64, nm_addr(P("full"), unnamed[i]));
		for (uint64_t k = 0; k < 8; k += 3) {
			if (!ASSERT_OK(symbolizer__user(s, c.pid, a + k, &fr), unnamed[i]) ||
			    !ASSERT_EQ(fr.nlines, 1, unnamed[i]))
				continue;
			ASSERT_STREQ(fr.lines[0].name, want, unnamed[i]);
			ASSERT_STREQ(fr.lines[0].system_name, want, unnamed[i]);
			ASSERT_TRUE(fr.lines[0].file == NULL && fr.lines[0].line == 0, "no file, no line");
		}
		/* the mapping and address stay for a later symbolization */
		ASSERT_TRUE(fr.map && strstr(fr.map->path, "/s") && fr.map->build_id[0],
			    "mapping with build id");
	}
	if (ASSERT_OK(symbolizer__user(s, c.pid, fx_sym(&c, "exported_fn") + 1, &fr), "exported") &&
	    ASSERT_EQ(fr.nlines, 1, "exported"))
		ASSERT_STREQ(fr.lines[0].name, "exported_fn", ".dynsym name kept");
	if (ASSERT_OK(symbolizer__user(s, c.pid, fx_sym(&c, "asm_nosize") + 1, &fr), "asm") &&
	    ASSERT_EQ(fr.nlines, 1, "asm"))
		ASSERT_STREQ(fr.lines[0].name, "asm_nosize", "size-less symbol without FDE kept");
out:
	fx_stop(&c);
	symbolizer__free(s);
}

/* objdump's PLT names (<name@plt>: labels) of path, into names/addrs. */
static size_t objdump_plt(const char *path, char names[][64], uint64_t *addrs, size_t cap)
{
	char cmd[512], line[256];
	size_t n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "objdump -d -j .plt -j .plt.sec -j .plt.got %s 2>/dev/null | "
		 "sed -n 's/^\\([0-9a-f]*\\) <\\(.*@plt\\)>:$/\\1 \\2/p'", path);
	p = popen(cmd, "r");
	if (!p)
		return 0;
	while (n < cap && fgets(line, sizeof(line), p)) {
		unsigned long long a;

		if (sscanf(line, "%llx %63s", &a, names[n]) == 2)
			addrs[n++] = a;
	}
	pclose(p);
	return n;
}

static bool has_section(const char *path, const char *name)
{
	char out[16] = "";

	return fx_capture(out, sizeof(out), "readelf -SW %s | grep -c ' %s '", path, name) &&
	       atoi(out) > 0;
}

/* Every stub objdump names, named the same; n stubs at least. */
static void check_plt(const char *path, size_t min)
{
	static char names[512][64];
	static uint64_t addrs[512];
	struct elf_image *img = NULL;
	struct stat st;
	size_t n, ok = 0;
	int fd;

	n = objdump_plt(path, names, addrs, 512);
	if (!ASSERT_TRUE(n >= min, path))
		return;
	fd = binary_open_regular(path, &st);
	if (!ASSERT_TRUE(fd >= 0, path))
		return;
	if (ASSERT_OK(elf_image__open_fd(fd, &img), path)) {
		for (size_t i = 0; i < n; i++) {
			const struct elf_sym *a = elf_image__find(img, addrs[i]);
			const struct elf_sym *b = elf_image__find(img, addrs[i] + 5);

			ok += a && b && !strcmp(elf_image__name(img, a), names[i]) &&
			      !strcmp(elf_image__name(img, b), names[i]);
			if (!a || strcmp(elf_image__name(img, a), names[i]))
				fprintf(stderr, "  %s: %#" PRIx64 " is %s, objdump says %s\n", path,
					addrs[i], a ? elf_image__name(img, a) : "(none)", names[i]);
		}
		ASSERT_EQ(ok, n, path);
	}
	elf_image__free(img);
	close(fd);
}

void test_plt_names(void)
{
	struct elf_image *img = NULL;
	struct stat st;
	uint64_t plt = 0;
	size_t len = 0;
	int fd;

	if (!build())
		return;
	/* classic lazy .plt and .plt.got, no .plt.sec */
	ASSERT_FALSE(has_section(P("s"), ".plt.sec"), "no .plt.sec without IBT");
	check_plt(P("s"), 4);
	/* IBT: endbr64 stubs in .plt.sec, the lazy ones in .plt */
	ASSERT_TRUE(has_section(P("ibt"), ".plt.sec"), ".plt.sec with -z ibtplt");
	check_plt(P("ibt"), 4);
	/* the lazy .plt stubs of the IBT layout carry their target's name too */
	fd = binary_open_regular(P("ibt"), &st);
	if (ASSERT_TRUE(fd >= 0, "open") &&
	    ASSERT_OK(elf_file__section(fd, ".plt", 0, NULL, &len, &plt), ".plt") &&
	    ASSERT_OK(elf_image__open_fd(fd, &img), "image")) {
		size_t named = 0;

		for (uint64_t a = plt + 16; a + 16 <= plt + len; a += 16) {
			const struct elf_sym *sym = elf_image__find(img, a + 4);
			const char *nm = sym ? elf_image__name(img, sym) : "";

			named += strlen(nm) > 4 && !strcmp(nm + strlen(nm) - 4, "@plt");
		}
		ASSERT_EQ(named, len / 16 - 1, "lazy IBT stubs named");
		ASSERT_TRUE(!elf_image__find(img, plt + 1), "PLT0 has no target");
	}
	elf_image__free(img);
	if (fd >= 0)
		close(fd);
	/* Debian's own gzip (its .plt and .plt.got) */
	check_plt("/usr/bin/gzip", 10);
}

/* Relocations, symbols and stubs flipped: the reader survives. */
void test_plt_garbage(void)
{
	uint64_t rng = 0xa4093822299f31d0ULL;
	unsigned char *orig = NULL;
	size_t len = 0;

	if (!build() || !ASSERT_OK(fx_read(P("ibt"), &orig, &len), "read"))
		return;
	for (int round = 0; round < 400; round++) {
		unsigned char *b = malloc(len);
		struct elf_image *img = NULL;

		memcpy(b, orig, len);
		for (int k = 0; k <= round % 8; k++) {
			rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
			/* the first 16 KiB: headers, .dynsym, .rela.*, .plt* */
			b[(rng >> 33) % (len < 16384 ? len : 16384)] ^= (unsigned char)(rng >> 13);
		}
		if (elf_image__open_mem(b, len, &img) == 0) {
			for (size_t i = 0; i < img->nsyms; i++)
				(void)strlen(elf_image__name(img, &img->syms[i]));
			elf_image__free(img);
		}
		free(b);
	}
	free(orig);
}
