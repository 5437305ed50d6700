// SPDX-License-Identifier: Apache-2.0
/* python__scan_maps of a process that runs no CPython (this one): not
 * registered, its libraries rejected by their .gnu.hash Bloom filters, and
 * a second scan of the same files opens none of them (each known by the
 * maps' device and inode). */
#include <errno.h>
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
