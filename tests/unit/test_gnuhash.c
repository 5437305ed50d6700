// SPDX-License-Identifier: Apache-2.0
/* gnuhash: the .gnu.hash Bloom filter of real libraries never rejects a
 * symbol they define (libc's every one; libpython's _PyRuntime where it is
 * installed) and rejects most names they do not; malformed and random
 * sections never read out of bounds and say "may" when malformed. */
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "binary/elf.h"
#include "binary/file.h"
#include "python/gnuhash.h"

struct names_ctx {
	const void *data;
	size_t len, n, missed;
};

static int check_defined(const struct elf_func *f, void *arg)
{
	struct names_ctx *c = arg;

	c->n++;
	if (!gnuhash__may_define(c->data, c->len, gnuhash__hash(f->name)))
		c->missed++;
	return 0;
}

/* The .gnu.hash of path, copied, and every defined dynamic symbol checked. */
static bool check_file(const char *path, const char *must, size_t *rejected, size_t tries)
{
	struct names_ctx c = { 0 };
	Elf_Scn *scn = NULL;
	Elf_Data *d;
	GElf_Shdr sh;
	Elf *e;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	e = elf_begin(fd, ELF_C_READ, NULL);
	while (e && (scn = elf_nextscn(e, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_GNU_HASH)
			break;
	d = scn ? elf_rawdata(scn, NULL) : NULL;
	if (ASSERT_TRUE(d && d->d_buf, path)) {
		struct gnuhash_bloom b;

		c.data = d->d_buf;
		c.len = d->d_size;
		ASSERT_TRUE(gnuhash__header(c.data, c.len, &b), "well-formed header");
		elf_symtab__each_sym(e, SHT_DYNSYM, ~0u, check_defined, &c);
		ASSERT_TRUE(c.n > 10, "defined symbols");
		ASSERT_EQ(c.missed, 0, "no defined symbol rejected");
		if (must)
			ASSERT_TRUE(gnuhash__may_define(c.data, c.len, gnuhash__hash(must)), must);
		*rejected = 0;
		for (size_t i = 0; i < tries; i++) {
			char name[64];

			snprintf(name, sizeof(name), "profd_no_such_symbol_%zu", i);
			*rejected += !gnuhash__may_define(c.data, c.len, gnuhash__hash(name));
		}
	}
	if (e)
		elf_end(e);
	close(fd);
	return true;
}

void test_gnuhash_real_files(void)
{
	size_t rejected = 0;

	ASSERT_OK(binary_elf_init(), "libelf");
	ASSERT_EQ(gnuhash__hash(""), 5381, "empty name");
	ASSERT_EQ(gnuhash__hash("printf"), 0x156b2bb8, "dl_new_hash(printf)");
	if (ASSERT_TRUE(check_file("/lib/x86_64-linux-gnu/libc.so.6", "malloc", &rejected, 1000),
			"libc"))
		ASSERT_TRUE(rejected > 500, "most absent names rejected");
	/* libpython3.x where it is installed (Debian: libpython3.11). */
	if (!access("/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0", R_OK))
		check_file("/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0", "_PyRuntime",
			   &rejected, 10);
}

void test_gnuhash_garbage(void)
{
	unsigned seed = 4242;
	struct gnuhash_bloom b;
	uint32_t hdr[4];

	/* Malformed headers say "may". */
	ASSERT_TRUE(gnuhash__may_define(NULL, 0, 1), "no section");
	ASSERT_TRUE(gnuhash__may_define("abc", 3, 1), "short");
	memcpy(hdr, (uint32_t[]){ 1, 1, 0, 6 }, sizeof(hdr));
	ASSERT_FALSE(gnuhash__header(hdr, 64, &b), "no Bloom words");
	memcpy(hdr, (uint32_t[]){ 1, 1, 1, 64 }, sizeof(hdr));
	ASSERT_FALSE(gnuhash__header(hdr, 64, &b), "shift 64");
	memcpy(hdr, (uint32_t[]){ 1, 1, 1, 32 }, sizeof(hdr));
	ASSERT_FALSE(gnuhash__header(hdr, 64, &b), "shift 32: past the hash's bits");
	memcpy(hdr, (uint32_t[]){ 1, 1, 7, 6 }, sizeof(hdr));
	ASSERT_FALSE(gnuhash__header(hdr, 16 + 6 * 8, &b), "words past the end");
	ASSERT_TRUE(gnuhash__header(hdr, 16 + 7 * 8, &b), "words up to the end");
	memcpy(hdr, (uint32_t[]){ 1, 1, 0xffffffffu, 6 }, sizeof(hdr));
	ASSERT_FALSE(gnuhash__header(hdr, 64, &b), "huge count");
	/* Random sections (ASan: every read within len). */
	for (int round = 0; round < 20000; round++) {
		size_t len = (size_t)(rand_r(&seed) % 200);
		unsigned char *buf = malloc(len ? len : 1);

		for (size_t i = 0; i < len; i++)
			buf[i] = (unsigned char)rand_r(&seed);
		if (round & 1 && len >= 16) {
			/* A plausible header over random words. */
			uint32_t w[4] = { 1, 1, (uint32_t)(rand_r(&seed) % 24), (uint32_t)(rand_r(&seed) % 70) };

			memcpy(buf, w, sizeof(w));
		}
		(void)gnuhash__may_define(buf, len, (uint32_t)rand_r(&seed));
		free(buf);
	}
}
