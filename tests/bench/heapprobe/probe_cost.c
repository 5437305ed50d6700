// SPDX-License-Identifier: Apache-2.0
/* probe_cost: attach probe_cost.bpf.o's programs at PATH:SYMBOL+OFFSET, run a
 * command, detach, print how often each half ran. With heapbench as the
 * command, (probed ns - bare ns) / hits per op = cost per probe hit.
 *
 *   probe_cost [-n N] [-o OBJ] [-m entry|ret|both|multi|session]
 *              -p PATH:SYMBOL[+OFFSET] [[-m MODE] -p ...] -- COMMAND [ARGS...]
 *
 * Each -p takes the mode of the last -m before it (default entry).
 * entry/ret/both use perf-event uprobes (what bpftrace and libbpf 1.1 do);
 * multi uses one BPF_TRACE_UPROBE_MULTI link; session uses a
 * BPF_TRACE_UPROBE_SESSION link whose entry half requests the return half on
 * one call in N (-n; 0 = never). OFFSET may be "auto": the offset that
 * attach_point__find() picks for the function, keeping the first argument
 * and, for modes with a return half, the stack pointer intact. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collect/attach_point.h"

#define MAX_PROBES 16
#define ATTACH_UPROBE_MULTI 48	 /* enum bpf_attach_type, kernel >= 6.6 */
#define ATTACH_UPROBE_SESSION 57 /* kernel >= 6.13 */

enum probe_mode { M_ENTRY, M_RET, M_BOTH, M_MULTI, M_SESSION };

struct probe {
	char path[256];
	unsigned long file_off;
	enum probe_mode mode;
};

/* BPF_LINK_CREATE's uprobe_multi member, which libbpf 1.1's headers predate. */
struct link_create_uprobe_multi {
	__u32 prog_fd;
	__u32 target_fd;
	__u32 attach_type;
	__u32 flags;
	__u64 path;
	__u64 offsets;
	__u64 ref_ctr_offsets;
	__u64 cookies;
	__u32 cnt;
	__u32 um_flags;
	__u32 pid;
	__u32 pad;
};

/* Resolve SYMBOL[+OFFSET|+auto] in PATH to a file offset (what the kernel's
 * uprobe API takes). */
static int resolve(const char *spec, struct probe *p, int need_stack)
{
	char sym[256], *plus, *colon;
	unsigned long add = 0, vaddr = 0, size = 0;
	int fd = -1, err = -ENOENT, is_auto = 0;
	Elf *elf = NULL;
	Elf_Scn *scn = NULL;
	size_t nphdr;

	colon = strrchr(spec, ':');
	if (!colon || (size_t)(colon - spec) >= sizeof(p->path) || strlen(colon + 1) >= sizeof(sym))
		return -EINVAL;
	memcpy(p->path, spec, colon - spec);
	p->path[colon - spec] = 0;
	strcpy(sym, colon + 1);
	plus = strchr(sym, '+');
	if (plus) {
		*plus++ = 0;
		if (!strcmp(plus, "auto"))
			is_auto = 1;
		else
			add = strtoul(plus, NULL, 0);
	}
	elf_version(EV_CURRENT);
	fd = open(p->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf)
		goto out;
	while (!vaddr && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM))
			continue;
		d = elf_getdata(scn, NULL);
		for (size_t i = 0; d && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym s;
			const char *n;

			if (!gelf_getsym(d, i, &s) || s.st_shndx == SHN_UNDEF ||
			    GELF_ST_TYPE(s.st_info) != STT_FUNC)
				continue;
			n = elf_strptr(elf, sh.sh_link, s.st_name);
			if (n && !strcmp(n, sym)) {
				vaddr = s.st_value;
				size = s.st_size;
				break;
			}
		}
	}
	if (!vaddr || elf_getphdrnum(elf, &nphdr))
		goto out;
	for (size_t i = 0; i < nphdr; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X) ||
		    vaddr < ph.p_vaddr || vaddr >= ph.p_vaddr + ph.p_filesz)
			continue;
		p->file_off = vaddr - ph.p_vaddr + ph.p_offset;
		if (is_auto) {
			struct attach_point ap;
			size_t n = size && size < ATTACH_POINT_MAX_FUNC ? size : ATTACH_POINT_MAX_BYTES;
			unsigned char *buf = malloc(n);
			int r;

			if (!buf || pread(fd, buf, n, p->file_off) != (ssize_t)n) {
				free(buf);
				goto out;
			}
			/* First argument kept; stack intact when a return half
			 * shares the offset. */
			r = attach_point__find(buf, n, p->file_off, ATTACH_ARG(0),
					       (need_stack ? ATTACH_POINT_F_STACK : 0) |
						       (size ? 0 : ATTACH_POINT_F_PARTIAL),
					       &ap);
			free(buf);
			add = ap.offset;
			fprintf(stderr, "probe_cost: %s+%u: %s%s\n", sym, ap.offset,
				attach_point__reason_str(ap.reason), r ? " (entry)" : "");
		}
		p->file_off += add;
		err = 0;
		break;
	}
out:
	elf_end(elf);
	close(fd);
	return err;
}

static int attach_multi(struct bpf_program *prog, const struct probe *p, int type)
{
	struct link_create_uprobe_multi a;
	unsigned long off = p->file_off;

	memset(&a, 0, sizeof(a));
	a.prog_fd = bpf_program__fd(prog);
	a.attach_type = type;
	a.path = (unsigned long)p->path;
	a.offsets = (unsigned long)&off;
	a.cnt = 1;
	/* The link fd stays open until exit: that keeps it attached. */
	return syscall(__NR_bpf, BPF_LINK_CREATE, &a, sizeof(a)) < 0 ? -errno : 0;
}

static int parse_mode(const char *s, enum probe_mode *m)
{
	static const char *const names[] = { "entry", "ret", "both", "multi", "session" };

	for (unsigned int i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i])) {
			*m = (enum probe_mode)i;
			return 0;
		}
	return -EINVAL;
}

int main(int argc, char **argv)
{
	const char *obj_path = "probe_cost.bpf.o";
	struct probe probes[MAX_PROBES];
	struct bpf_object *obj = NULL;
	struct bpf_program *entry, *ret, *multi, *sess;
	unsigned long long sample_every = 0, tot[2] = { 0, 0 };
	int nprobes = 0, opt, err = 0, status = 0, ncpu, any_multi = 0, any_sess = 0;
	enum probe_mode mode = M_ENTRY;
	pid_t child;

	while ((opt = getopt(argc, argv, "m:n:o:p:")) != -1) {
		switch (opt) {
		case 'm':
			if (parse_mode(optarg, &mode)) {
				fprintf(stderr, "probe_cost: unknown mode '%s'\n", optarg);
				return 2;
			}
			break;
		case 'n':
			sample_every = strtoull(optarg, NULL, 0);
			break;
		case 'o':
			obj_path = optarg;
			break;
		case 'p':
			if (nprobes == MAX_PROBES ||
			    resolve(optarg, &probes[nprobes],
				    mode == M_RET || mode == M_BOTH || mode == M_SESSION)) {
				fprintf(stderr, "probe_cost: cannot resolve '%s'\n", optarg);
				return 2;
			}
			probes[nprobes].mode = mode;
			any_multi |= mode == M_MULTI;
			any_sess |= mode == M_SESSION;
			nprobes++;
			break;
		default:
			return 2;
		}
	}
	if (optind >= argc || !nprobes) {
		fprintf(stderr, "usage: probe_cost [-n N] [-m MODE] -p PATH:SYM[+OFF] ... -- CMD...\n");
		return 2;
	}
	obj = bpf_object__open_file(obj_path, NULL);
	if (!obj) {
		fprintf(stderr, "probe_cost: open %s: %s\n", obj_path, strerror(errno));
		return 1;
	}
	entry = bpf_object__find_program_by_name(obj, "on_entry");
	ret = bpf_object__find_program_by_name(obj, "on_return");
	multi = bpf_object__find_program_by_name(obj, "on_multi");
	sess = bpf_object__find_program_by_name(obj, "on_session");
	if (!entry || !ret || !multi || !sess) {
		fprintf(stderr, "probe_cost: %s lacks a program\n", obj_path);
		return 1;
	}
	bpf_program__set_autoload(multi, any_multi);
	bpf_program__set_autoload(sess, any_sess);
	bpf_program__set_expected_attach_type(multi, ATTACH_UPROBE_MULTI);
	bpf_program__set_expected_attach_type(sess, ATTACH_UPROBE_SESSION);
	{
		struct bpf_map *rodata = bpf_object__find_map_by_name(obj, ".rodata");

		if (rodata && bpf_map__set_initial_value(rodata, &sample_every, sizeof(sample_every))) {
			fprintf(stderr, "probe_cost: cannot set sample_every\n");
			return 1;
		}
	}
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "probe_cost: load: %s\n", strerror(-err));
		return 1;
	}
	for (int i = 0; i < nprobes && !err; i++) {
		LIBBPF_OPTS(bpf_uprobe_opts, uo);
		const struct probe *p = &probes[i];

		if (p->mode == M_ENTRY || p->mode == M_BOTH)
			err = libbpf_get_error(
				bpf_program__attach_uprobe_opts(entry, -1, p->path, p->file_off, &uo));
		if (!err && (p->mode == M_RET || p->mode == M_BOTH)) {
			uo.retprobe = true;
			err = libbpf_get_error(
				bpf_program__attach_uprobe_opts(ret, -1, p->path, p->file_off, &uo));
		}
		if (p->mode == M_MULTI)
			err = attach_multi(multi, p, ATTACH_UPROBE_MULTI);
		if (p->mode == M_SESSION)
			err = attach_multi(sess, p, ATTACH_UPROBE_SESSION);
	}
	if (err) {
		fprintf(stderr, "probe_cost: attach: %s\n", strerror(-err));
		return 1;
	}
	child = fork();
	if (child == 0) {
		execvp(argv[optind], argv + optind);
		_exit(127);
	}
	if (child < 0 || waitpid(child, &status, 0) < 0)
		return 1;
	ncpu = libbpf_num_possible_cpus();
	for (__u32 k = 0; k < 2 && ncpu > 0; k++) {
		__u64 vals[ncpu];

		if (bpf_map__lookup_elem(bpf_object__find_map_by_name(obj, "hits"), &k, sizeof(k),
					 vals, sizeof(vals), 0))
			continue;
		for (int c = 0; c < ncpu; c++)
			tot[k] += vals[c];
	}
	printf("probe_cost: entries=%llu returns=%llu\n", tot[0], tot[1]);
	bpf_object__close(obj);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
