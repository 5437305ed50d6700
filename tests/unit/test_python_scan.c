// SPDX-License-Identifier: Apache-2.0
/* python__scan_maps of a process that runs no CPython (this one): not
 * registered, its libraries rejected by their .gnu.hash Bloom filters, and
 * a second scan of the same files opens none of them (each known by the
 * maps' device and inode). */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "binary/procmaps.h"
#include "profd/python.h"
#include "python/python.h"

void test_python_scan_native_known(void)
{
	struct python_stats a, b, c;
	struct profd_py_proc v;
	struct procmaps pm;
	size_t files = 0;

	if (!ASSERT_OK(procmaps__load(getpid(), &pm), "load"))
		return;
	for (size_t i = 0; i < pm.n; i++)
		files += pm.e[i].path[0] == '/' && pm.e[i].inode;
	ASSERT_TRUE(files > 1, "this process maps files");
	python__stats(&a);
	python__scan_maps(getpid(), &pm);
	python__stats(&b);
	ASSERT_EQ(b.scans, a.scans + 1, "scanned");
	ASSERT_TRUE(b.bloom_rejects > a.bloom_rejects, "files rejected by their .gnu.hash");
	ASSERT_EQ(python__walk_config(getpid(), false, &v), -ENOENT, "no CPython here");
	python__scan_maps(getpid(), &pm);
	python__stats(&c);
	ASSERT_EQ(c.files_known - b.files_known, files, "every file known without an open");
	ASSERT_EQ(c.procs, a.procs, "nothing registered");
	/* The reading entry point gives the same answer. */
	python__scan(getpid());
	ASSERT_EQ(python__walk_config(getpid(), true, &v), -ENOENT, "still none");
	python__forget(getpid());
	procmaps__release(&pm);
}

/* Maps older than the process: a python3's maps handed with the pid of a
 * process that runs no Python (what the loader hands for a fork of a
 * Python process that exec'd after its maps were read). The interpreter's
 * version cannot be read there, the maps read again hold no CPython:
 * nothing registered, and no "CPython without a readable Py_Version"
 * warning (counted as stale maps instead). */
static pid_t spawn(char *const argv[])
{
	pid_t c = fork();

	if (c == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	return c;
}

void test_python_scan_stale_maps(void)
{
	char *py[] = { "python3", "-c", "import time; time.sleep(30)", NULL };
	char *sl[] = { "sleep", "30", NULL };
	struct python_stats a, b;
	struct profd_py_proc v;
	struct procmaps pm = {};
	pid_t p = spawn(py), n = spawn(sl);
	bool python = false;

	if (!ASSERT_TRUE(p > 0 && n > 0, "spawned"))
		goto out;
	/* until python3 has mapped its interpreter (exec done) */
	for (int i = 0; i < 200 && !python; i++) {
		procmaps__release(&pm);
		usleep(10000);
		if (procmaps__load(p, &pm))
			continue;
		for (size_t j = 0; j < pm.n; j++)
			python |= strstr(pm.e[j].path, "python3") != NULL;
	}
	if (!ASSERT_TRUE(python, "python3's maps read"))
		goto out;
	python__stats(&a);
	python__scan_maps(n, &pm);
	python__stats(&b);
	ASSERT_EQ(b.stale_maps, a.stale_maps + 1, "found stale");
	ASSERT_EQ(b.procs, a.procs, "nothing registered");
	ASSERT_EQ(python__walk_config(n, false, &v), -ENOENT, "no CPython in the sleep");
	/* the same maps with their own pid: registered */
	python__scan_maps(p, &pm);
	python__stats(&a);
	ASSERT_EQ(a.stale_maps, b.stale_maps, "not stale for its own process");
	ASSERT_EQ(a.procs, b.procs + 1, "python3 registered");
	python__forget(p);
	python__forget(n);
out:
	procmaps__release(&pm);
	if (p > 0)
		kill(p, SIGKILL), waitpid(p, NULL, 0);
	if (n > 0)
		kill(n, SIGKILL), waitpid(n, NULL, 0);
}
