// SPDX-License-Identifier: Apache-2.0
/* unwind_tables FILE...: for each ELF file, the time to build its unwind
 * table, its rows and rules, and the kernel memory the walker's inner array
 * for it takes (created, filled and measured through fdinfo, as the loader
 * does). Built and run by bench_unwind.sh (root). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "unwind/unwind.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long memlock_of(int fd)
{
	char path[64], line[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_INNER_MAP);
		const struct profd_unw_row *rows;
		struct unwind_stats st;
		struct unwind_table *t;
		size_t nrows, nrules;
		double t0 = now_s(), took;
		long mem = -1;
		int fd;

		t = unwind_table__build(argv[i], &st);
		took = now_s() - t0;
		if (!t) {
			printf("%s: no table: %s\n", argv[i], strerror(errno));
			continue;
		}
		rows = unwind_table__rows(t, &nrows);
		unwind_table__rules(t, &nrules);
		fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "unw_rows", 4, sizeof(*rows), (__u32)nrows, &o);
		if (fd >= 0) {
			for (__u32 k = 0; k < nrows; k++)
				bpf_map_update_elem(fd, &k, &rows[k], BPF_ANY);
			mem = memlock_of(fd);
			close(fd);
		}
		printf("%s: built in %.3f s, %zu FDEs, %zu rows, %zu rules, kernel memory %.1f KiB "
		       "(rows %.1f KiB + rules %.1f KiB in the shared rule array)\n",
		       argv[i], took, st.fdes, nrows, nrules, mem / 1024.0, nrows * 8 / 1024.0,
		       nrules * 16 / 1024.0);
		unwind_table__free(t);
	}
	return 0;
}
