// SPDX-License-Identifier: Apache-2.0
/* unwind loader, without BPF (dry run): trie block splitting, load bias,
 * program headers of garbage, this process's mappings, and files whose
 * .eh_frame is corrupt, truncated or absent mapped executable into this
 * process: they fall back to frame-pointer steps and nothing crashes. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "unwind/loader.h"

/* Blocks must tile [start, end) exactly, each aligned to its size. */
static bool blocks_tile(uint64_t start, uint64_t end, const struct unwind_block *b, size_t n)
{
	uint64_t at = start;

	for (size_t i = 0; i < n; i++) {
		uint64_t size = b[i].bits == 0 ? 0 : 1ULL << (64 - b[i].bits);

		if (b[i].addr != at || (b[i].addr & (size - 1)) || size == 0)
			return false;
		at += size;
	}
	return at == end;
}

void test_unwind_lpm_split(void)
{
	static const struct {
		uint64_t start, end;
		size_t n; /* fewest blocks */
	} cases[] = {
		{ 0x1000, 0x2000, 1 },
		{ 0x7f0000001000, 0x7f0000004000, 2 },	  /* 4K + 8K */
		{ 0x7f0000000000, 0x7f0000100000, 1 },	  /* one 1 MiB block */
		{ 0x7fd4afd70000, 0x7fd4afec6000, 6 },	  /* libc text: 64K 512K 512K 256K 16K 8K */
		{ 0x555555555000, 0x555555556000, 1 },
		{ 0x1000, 0x1000, 0 },
	};
	struct unwind_block b[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = unwind_lpm_split(cases[i].start, cases[i].end, b, 128);

		ASSERT_EQ(n, cases[i].n, "block count");
		ASSERT_TRUE(blocks_tile(cases[i].start, cases[i].end, b, n), "blocks tile the range");
	}
	/* Page-aligned ranges anywhere in the user half: never more than 2 per
	 * bit of the address, always an exact tiling. */
	srand(7);
	for (int i = 0; i < 2000; i++) {
		uint64_t s = ((uint64_t)rand() << 24 ^ (uint64_t)rand()) & 0x7ffffffff000ULL;
		uint64_t e = s + (((uint64_t)rand() & 0xffffff) + 1) * 4096;
		size_t n = unwind_lpm_split(s, e, b, 128);

		if (!ASSERT_TRUE(n <= 2 * 52, "bounded") ||
		    !ASSERT_TRUE(blocks_tile(s, e, b, n), "random range tiled"))
			break;
	}
}

void test_unwind_bias(void)
{
	/* A PIE (text at offset == vaddr) and a file whose text vaddr is a page
	 * above its offset (lld, libLLVM-style layouts). */
	const struct unwind_load pie[] = {
		{ .offset = 0, .vaddr = 0, .filesz = 0x600, .flags = 4 },
		{ .offset = 0x1000, .vaddr = 0x1000, .filesz = 0x2000, .flags = 5 },
	};
	const struct unwind_load shifted[] = {
		{ .offset = 0, .vaddr = 0, .filesz = 0x1234, .flags = 4 },
		{ .offset = 0x1240, .vaddr = 0x2240, .filesz = 0x5000, .flags = 5 },
	};
	uint64_t bias = 0;

	ASSERT_OK(unwind_bias(pie, 2, 0x555555555000, 0x1000, &bias), "pie");
	ASSERT_EQ(bias, 0x555555554000, "pie bias");
	ASSERT_OK(unwind_bias(shifted, 2, 0x7f0000001000, 0x1000, &bias), "shifted");
	/* runtime of vaddr 0x2240 = vm_start + (0x1240 - 0x1000) */
	ASSERT_EQ(0x2240 + bias, 0x7f0000001240, "shifted: vaddr maps into the mapping");
	ASSERT_EQ(unwind_bias(pie, 2, 0x1000, 0x9000, &bias), -ENOENT, "offset in no segment");
	ASSERT_EQ(unwind_bias(pie, 0, 0x1000, 0, &bias), -ENOENT, "no segments");
}

void test_unwind_elf_loads_garbage(void)
{
	struct unwind_load loads[UNWIND_MAX_LOADS];
	unsigned char buf[4096];
	size_t n = 99;

	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(unwind_elf_loads(-1, buf, sizeof(buf), loads, &n), -EINVAL, "zeros");
	ASSERT_EQ(n, 0, "no loads");
	memcpy(buf, "\177ELF\2\1\1", 7);
	ASSERT_EQ(unwind_elf_loads(-1, buf, 10, loads, &n), -EINVAL, "truncated header");
	/* phoff pointing past the end, then an absurd phnum */
	((Elf64_Ehdr *)buf)->e_phentsize = sizeof(Elf64_Phdr);
	((Elf64_Ehdr *)buf)->e_phnum = 3;
	((Elf64_Ehdr *)buf)->e_phoff = 4090;
	ASSERT_EQ(unwind_elf_loads(-1, buf, sizeof(buf), loads, &n), -EINVAL, "phdrs past end");
	((Elf64_Ehdr *)buf)->e_phoff = (uint64_t)-8;
	ASSERT_EQ(unwind_elf_loads(-1, buf, sizeof(buf), loads, &n), -EINVAL, "phoff overflow");
	((Elf64_Ehdr *)buf)->e_phoff = 64;
	((Elf64_Ehdr *)buf)->e_phnum = 60000;
	ASSERT_EQ(unwind_elf_loads(-1, buf, sizeof(buf), loads, &n), -EINVAL, "phnum absurd");
	/* well-formed headers without PT_LOAD */
	((Elf64_Ehdr *)buf)->e_phnum = 1;
	ASSERT_EQ(unwind_elf_loads(-1, buf, sizeof(buf), loads, &n), -EINVAL, "no PT_LOAD");
	srand(11);
	for (int i = 0; i < 500; i++) {
		for (size_t k = 0; k < sizeof(buf); k++)
			buf[k] = (unsigned char)rand();
		if (i & 1)
			memcpy(buf, "\177ELF\2\1\1", 7);
		unwind_elf_loads(-1, buf, (size_t)rand() % sizeof(buf), loads, &n);
		ASSERT_TRUE(n <= UNWIND_MAX_LOADS, "bounded loads");
	}
}

/* This process: the test binary and libc get tables, shared by files. */
void test_unwind_loader_self(void)
{
	struct unwind_loader_opts o = { .dry_run = true };
	struct unwind_loader *l = unwind_loader__new(&o);
	struct profd_unw_mapping m;
	struct unwind_loader_stats st;
	void *qs = dlsym(RTLD_DEFAULT, "qsort");

	if (!ASSERT_OK_PTR(l, "new"))
		return;
	ASSERT_OK(unwind_loader__add_pid(l, getpid()), "add self");
	ASSERT_OK(unwind_loader__lookup(l, getpid(), (uint64_t)(uintptr_t)qs, &m), "libc mapped");
	ASSERT_EQ(m.kind, PROFD_UNW_MAP_TABLE, "libc has a table");
	ASSERT_TRUE(m.nrows > 1000, "libc rows");
	ASSERT_TRUE(m.bias <= (uint64_t)(uintptr_t)qs, "bias below qsort");
	ASSERT_OK(unwind_loader__lookup(l, getpid(), (uint64_t)(uintptr_t)test_unwind_bias, &m),
		  "test binary mapped");
	ASSERT_EQ(m.kind, PROFD_UNW_MAP_TABLE, "test binary has a table");
	ASSERT_EQ(unwind_loader__lookup(l, getpid(), 0x10, &m), -ENOENT, "unmapped address");
	/* A rescan changes nothing and loads no table twice. */
	unwind_loader__stats(l, &st);
	size_t tables = st.tables, builds = st.builds;
	ASSERT_OK(unwind_loader__add_pid(l, getpid()), "rescan");
	unwind_loader__stats(l, &st);
	ASSERT_EQ(st.tables, tables, "same tables");
	ASSERT_EQ(st.builds, builds, "no rebuild");
	ASSERT_EQ(st.pids, 1, "one pid");
	ASSERT_TRUE(st.table_bytes > 0 && st.rules > 0, "accounted");
	unwind_loader__remove_pid(l, getpid());
	unwind_loader__stats(l, &st);
	ASSERT_EQ(st.pids, 0, "removed");
	ASSERT_EQ(st.map_entries, 0, "no trie blocks left");
	ASSERT_EQ(unwind_loader__add_pid(l, 0x3fffffff), -ESRCH, "no such pid");
	unwind_loader__free(l);
}

/* A cap below libc's table: refused and counted, frame pointers instead. */
void test_unwind_loader_cap(void)
{
	struct unwind_loader_opts o = { .dry_run = true, .max_table_bytes = 64 << 10 };
	struct unwind_loader *l = unwind_loader__new(&o);
	struct profd_unw_mapping m;
	struct unwind_loader_stats st;
	void *qs = dlsym(RTLD_DEFAULT, "qsort");

	if (!ASSERT_OK_PTR(l, "new"))
		return;
	ASSERT_OK(unwind_loader__add_pid(l, getpid()), "add self");
	ASSERT_OK(unwind_loader__lookup(l, getpid(), (uint64_t)(uintptr_t)qs, &m), "libc mapped");
	ASSERT_EQ(m.kind, PROFD_UNW_MAP_FP, "libc refused: frame pointers");
	unwind_loader__stats(l, &st);
	ASSERT_TRUE(st.refused_cap >= 1, "refusal counted");
	ASSERT_TRUE(st.table_bytes <= 64 << 10, "cap kept");
	unwind_loader__free(l);
}

static bool sh(const char *cmd)
{
	return system(cmd) == 0;
}

/* Overwrite the .eh_frame and .eh_frame_hdr sections of path with garbage. */
static bool smash_eh_frame(const char *path)
{
	Elf_Scn *scn = NULL;
	bool done = false;
	size_t shstrndx;
	Elf *e;
	int fd;

	elf_version(EV_CURRENT);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (e && !elf_getshdrstrndx(e, &shstrndx)) {
		while ((scn = elf_nextscn(e, scn))) {
			GElf_Shdr sh;
			const char *name;

			if (!gelf_getshdr(scn, &sh))
				continue;
			name = elf_strptr(e, shstrndx, sh.sh_name);
			if (!name || strncmp(name, ".eh_frame", 9))
				continue;
			for (uint64_t k = 0; k < sh.sh_size; k++) {
				unsigned char c = (unsigned char)(k * 131 + 7);

				if (pwrite(fd, &c, 1, (off_t)(sh.sh_offset + k)) != 1)
					break;
			}
			done = true;
		}
	}
	elf_end(e);
	close(fd);
	return done;
}

/* Map a file executable into this process; the address or NULL. */
static void *map_exec(const char *path, size_t *len)
{
	struct stat sb;
	void *p;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &sb) || sb.st_size == 0) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	*len = (size_t)sb.st_size;
	p = mmap(NULL, *len, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

void test_unwind_loader_corrupt_files(void)
{
	char dir[] = "/tmp/profd-unwl.XXXXXX", cmd[4096], path[3][64];
	struct unwind_loader_opts o = { .dry_run = true };
	struct unwind_loader *l = NULL;
	struct unwind_loader_stats st;
	void *maps[3] = {};
	size_t lens[3] = {};

	if (!ASSERT_OK_PTR(mkdtemp(dir), "mkdtemp"))
		return;
	snprintf(path[0], sizeof(path[0]), "%s/smashed.so", dir);
	snprintf(path[1], sizeof(path[1]), "%s/truncated.so", dir);
	snprintf(path[2], sizeof(path[2]), "%s/random.bin", dir);
	snprintf(cmd, sizeof(cmd),
		 "printf 'int f(int x){return x*3;}\\nint g(int x){return f(x)+1;}\\n' > %s/lib.c && "
		 "cc -O2 -fomit-frame-pointer -shared -fPIC %s/lib.c -o %s && cp %s %s/full.so && "
		 "head -c 3000 %s/full.so > %s && head -c 20000 /dev/urandom > %s",
		 dir, dir, path[0], path[0], dir, dir, path[1], path[2]);
	if (!ASSERT_TRUE(sh(cmd), "build inputs"))
		goto cleanup;
	ASSERT_TRUE(smash_eh_frame(path[0]), "smash .eh_frame");
	for (int i = 0; i < 3; i++)
		ASSERT_OK_PTR(maps[i] = map_exec(path[i], &lens[i]), "map exec");
	l = unwind_loader__new(&o);
	if (!ASSERT_OK_PTR(l, "new"))
		goto cleanup;
	ASSERT_OK(unwind_loader__add_pid(l, getpid()), "add self with corrupt mappings");
	for (int i = 0; i < 3; i++) {
		struct profd_unw_mapping m;

		if (!maps[i])
			continue;
		ASSERT_OK(unwind_loader__lookup(l, getpid(), (uint64_t)(uintptr_t)maps[i], &m),
			  "corrupt file mapped");
		ASSERT_EQ(m.kind, PROFD_UNW_MAP_FP, "corrupt file: frame-pointer steps");
	}
	unwind_loader__stats(l, &st);
	ASSERT_TRUE(st.no_cfi >= 3, "three files without usable CFI counted");
	ASSERT_TRUE(st.tables >= 2, "the good files still have tables");
cleanup:
	unwind_loader__free(l);
	for (int i = 0; i < 3; i++)
		if (maps[i])
			munmap(maps[i], lens[i]);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	sh(cmd);
}

/* Lazy tables: a process found by a sample gets the tables of its program
 * and of the sampled file; another file is built when a sample lands in it,
 * once, whoever maps it (a second process builds nothing); a target gets
 * every table at once. */
void test_unwind_loader_lazy(void)
{
	struct unwind_loader_opts o = { .dry_run = true };
	struct unwind_loader *l = unwind_loader__new(&o);
	struct profd_unw_mapping m;
	struct unwind_loader_stats st;
	uint64_t qs = (uint64_t)(uintptr_t)dlsym(RTLD_DEFAULT, "qsort");
	uint64_t ev = (uint64_t)(uintptr_t)dlsym(RTLD_DEFAULT, "elf_version");
	uint64_t gp = (uint64_t)(uintptr_t)dlsym(RTLD_DEFAULT, "getpid");
	uint64_t self = (uint64_t)(uintptr_t)test_unwind_bias;
	size_t builds, scans;
	pid_t child;

	if (!ASSERT_OK_PTR(l, "new") || !ASSERT_TRUE(qs && ev && gp, "qsort, elf_version, getpid"))
		goto out;
	/* A first sample in qsort: its file, libc and the program get
	 * tables, libelf (mapped, not sampled) none: the walker does not
	 * know it. */
	unwind_loader__event(l, getpid(), qs);
	ASSERT_EQ(unwind_loader__poll(l), 1, "one scan");
	unwind_loader__stats(l, &st);
	ASSERT_EQ(st.pids, 1, "tracked");
	ASSERT_OK(unwind_loader__lookup(l, getpid(), qs, &m), "libc mapped");
	ASSERT_EQ(m.kind, PROFD_UNW_MAP_TABLE, "libc has a table");
	ASSERT_OK(unwind_loader__lookup(l, getpid(), self, &m), "program mapped");
	ASSERT_EQ(m.kind, PROFD_UNW_MAP_TABLE, "the program has a table");
	ASSERT_EQ(unwind_loader__lookup(l, getpid(), ev, &m), -ENOENT, "libelf deferred");
	ASSERT_TRUE(st.deferred > 0, "deferred files counted");
	ASSERT_EQ(st.lazy_builds, 0, "no lazy build yet");
	builds = st.builds;
	/* qsort is ASan's interceptor under ASan: that file, plus libc. */
	ASSERT_TRUE(builds <= 4, "program, the sampled file, libc and the vDSO only");
	ASSERT_OK(unwind_loader__lookup(l, getpid(), gp, &m), "libc's getpid mapped");
	ASSERT_EQ(m.kind, PROFD_UNW_MAP_TABLE, "libc has a table at once");

	/* A sample in libelf: its table now, at once (no rescan interval),
	 * without rereading the maps. */
	scans = st.scans;
	unwind_loader__event(l, getpid(), ev);
	ASSERT_EQ(unwind_loader__poll(l), 1, "the deferred file handled");
	ASSERT_OK(unwind_loader__lookup(l, getpid(), ev, &m), "libelf mapped");
	ASSERT_EQ(m.kind, PROFD_UNW_MAP_TABLE, "libelf has a table");
	unwind_loader__stats(l, &st);
	ASSERT_EQ(st.builds, builds + 1, "one build");
	ASSERT_EQ(st.scans, scans, "no rescan");
	ASSERT_EQ(st.lazy_builds, 1, "counted as lazy");
	builds = st.builds;
	unwind_loader__event(l, getpid(), ev + 4096);
	unwind_loader__poll(l);
	unwind_loader__stats(l, &st);
	ASSERT_EQ(st.builds, builds, "built once");

	/* Another process mapping the same files builds nothing: its mappings
	 * of files with a table get it at once. */
	child = fork();
	if (!child) {
		pause();
		_exit(0);
	}
	if (!ASSERT_TRUE(child > 0, "fork"))
		goto out;
	unwind_loader__event(l, child, qs);
	unwind_loader__poll(l);
	ASSERT_OK(unwind_loader__lookup(l, child, qs, &m), "child's libc mapped");
	ASSERT_EQ(m.kind, PROFD_UNW_MAP_TABLE, "child's libc has the table");
	ASSERT_OK(unwind_loader__lookup(l, child, self, &m), "child's program mapped");
	ASSERT_EQ(m.kind, PROFD_UNW_MAP_TABLE, "child's program has the table");
	ASSERT_OK(unwind_loader__lookup(l, child, ev, &m), "child's libelf mapped");
	ASSERT_EQ(m.kind, PROFD_UNW_MAP_TABLE, "child's libelf has the table");
	unwind_loader__stats(l, &st);
	ASSERT_EQ(st.builds, builds, "no file built twice");
	ASSERT_EQ(st.pids, 2, "two processes");
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	unwind_loader__remove_pid(l, child);

	/* A target: every file at once, nothing deferred left in it. */
	ASSERT_OK(unwind_loader__add_pid(l, getpid()), "add as a target");
	unwind_loader__stats(l, &st);
	ASSERT_EQ(st.deferred, 0, "nothing deferred");
	ASSERT_TRUE(st.builds > builds, "the rest built");
	ASSERT_EQ(st.lazy_builds, 1, "a target's builds are not lazy ones");
out:
	unwind_loader__free(l);
}

/* The first executable mapping of path in pid's maps: its start, or 0. */
static uint64_t exec_mapping_of(pid_t pid, const char *path)
{
	char fn[64], line[512];
	unsigned long long start = 0, s, e;
	char perms[8], file[256];
	FILE *f;

	snprintf(fn, sizeof(fn), "/proc/%d/maps", (int)pid);
	f = fopen(fn, "re");
	if (!f)
		return 0;
	while (!start && fgets(line, sizeof(line), f)) {
		file[0] = '\0';
		if (sscanf(line, "%llx-%llx %7s %*s %*s %*s %255s", &s, &e, perms, file) >= 3 &&
		    perms[2] == 'x' && !strcmp(file, path))
			start = s;
	}
	fclose(f);
	return start;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts))
		;
}

/* Exits come from pidfds: a tracked child that exits is dropped at the
 * next reap with no /proc read; one that execs gets its new program's
 * mappings from the first sample there (an event), and the executable is
 * looked at then, not on a timer. */
void test_unwind_loader_lifecycle(void)
{
	struct unwind_loader_opts o = { .dry_run = true };
	struct unwind_loader *l = unwind_loader__new(&o);
	struct unwind_loader_stats st;
	struct profd_unw_mapping m;
	uint64_t self = (uint64_t)(uintptr_t)test_unwind_bias, addr = 0;
	char exe[256];
	int go[2] = { -1, -1 };
	pid_t child = -1;

	if (!ASSERT_OK_PTR(l, "new") || !ASSERT_OK(pipe(go), "pipe"))
		goto out;
	child = fork();
	if (!child) {
		char c;

		close(go[1]);
		if (read(go[0], &c, 1) == 1)
			execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(1);
	}
	close(go[0]);
	if (!ASSERT_TRUE(child > 0, "fork"))
		goto out;
	ASSERT_OK(unwind_loader__add_pid(l, child), "add the child");
	unwind_loader__stats(l, &st);
	ASSERT_EQ(st.pids, 1, "tracked");
	if (!st.watched) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		close(go[1]);
		unwind_loader__free(l);
		SKIP("no pidfd here (pidfd_open: pre-5.3 kernel or no fds)");
	}
	ASSERT_EQ(st.watched, 1, "watched by a pidfd");
	ASSERT_OK(unwind_loader__lookup(l, child, self, &m), "the program mapped");

	/* exec: the old program's ranges stay until a sample in the new one. */
	ASSERT_EQ(write(go[1], "x", 1), 1, "go");
	for (int i = 0; i < 200 && !addr; i++) {
		char link[64];
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/%d/exe", (int)child);
		n = readlink(link, exe, sizeof(exe) - 1);
		if (n > 0 && (exe[n] = '\0', strstr(exe, "sleep")))
			addr = exec_mapping_of(child, exe);
		if (!addr)
			sleep_ms(10);
	}
	if (!ASSERT_TRUE(addr != 0, "the child runs sleep"))
		goto out;
	sleep_ms(1100); /* the rescan interval, and a reap is due */
	unwind_loader__stats(l, &st);
	size_t checks = st.identity_checks, scans = st.scans;
	unwind_loader__event(l, child, addr);
	ASSERT_EQ(unwind_loader__poll(l), 1, "the event rescans");
	unwind_loader__stats(l, &st);
	ASSERT_EQ(st.scans, scans + 1, "one scan");
	ASSERT_EQ(st.exits, 0, "alive: not dropped");
	ASSERT_EQ(st.identity_checks, checks + 1, "the executable looked at once, on the change");
	ASSERT_OK(unwind_loader__lookup(l, child, addr, &m), "the new program mapped");
	ASSERT_EQ(m.kind, PROFD_UNW_MAP_TABLE, "with its table");
	ASSERT_EQ(unwind_loader__lookup(l, child, self, &m), -ENOENT,
		  "the old program's ranges gone");

	/* exit: the pidfd tells at the next reap. */
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	child = -1;
	sleep_ms(1100);
	unwind_loader__poll(l);
	unwind_loader__stats(l, &st);
	ASSERT_EQ(st.pids, 0, "forgotten");
	ASSERT_EQ(st.watched, 0, "its pidfd closed");
	ASSERT_EQ(st.exits, 1, "one exit");
	ASSERT_EQ(st.identity_checks, checks + 1, "no /proc read to tell it");
out:
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	if (go[1] >= 0)
		close(go[1]);
	unwind_loader__free(l);
}
