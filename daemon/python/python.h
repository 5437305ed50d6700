/* SPDX-License-Identifier: Apache-2.0 */
/* python: Python frames of CPython processes. Finds the interpreter in a
 * process by its symbols (_PyRuntime, _PyEval_EvalFrameDefault, Py_Version
 * in .dynsym or .symtab of any mapped file), registers what the BPF walker
 * needs in py_procs (include/profd/python.h), and turns the Python frames
 * of a stack (PROFD_PY_FRAME values) into function, file and line by
 * reading code objects with process_vm_readv, cached per process and code
 * object. One instance per agent; thread-safe. */
#ifndef PROFD_PYTHON_H_DAEMON
#define PROFD_PYTHON_H_DAEMON

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct bpf_object;

/* Let obj's py_procs map be the shared one (created on first use).
 * Returns 0, -ENOENT if obj has no py_procs, or -errno. */
int python__reuse_map(struct bpf_object *obj);

/* (Re)detect the interpreter of pid after its mappings changed (start,
 * exec, new mappings). What is cached about its code objects is kept when
 * the process, its program image (exec) and its interpreter mapping are
 * the same as at the last scan, and dropped otherwise. */
void python__scan(pid_t pid);
/* The same with pid's executable mappings already read (the unwind
 * loader's scan): a process that maps no CPython costs no other read, and
 * no open of a file already known not to be one (by the maps' device and
 * inode). */
struct procmaps;
void python__scan_maps(pid_t pid, const struct procmaps *pm);

/* What a walker of pid's Python frames needs (python/pystack.h), as
 * registered in py_procs; scan: detect the interpreter first if pid is not
 * known yet (a process no BPF walker follows: the threads snapshot).
 * 0, or -ENOENT when pid runs no supported CPython. */
struct profd_py_proc;
int python__walk_config(pid_t pid, bool scan, struct profd_py_proc *out);

/* Whether the shared py_procs map exists (python__scan before it is a no-op). */
bool python__ready(void);

/* pid exited or is no longer followed. */
void python__forget(pid_t pid);

struct python_frame {
	char name[256]; /* file stem + "." + co_qualname, or "<python>" */
	char file[512]; /* co_filename */
	int line;        /* 0 if unknown */
	int start_line;  /* co_firstlineno */
};

/* A PROFD_PY_FRAME value of pid's stack → its frame. Returns 0, or -errno
 * when the code object cannot be read (then out names "<python>"). */
int python__frame(pid_t pid, uint64_t v, struct python_frame *out);

/* The cache's counters: interpreters registered, code objects read (and
 * of those unreadable), cache hits, rescans that kept the cache, scans,
 * mapped files known without an open. */
struct python_stats {
	uint64_t procs, code_reads, code_hits, code_bad, rescans_kept;
	uint64_t scans, files_known;
	uint64_t bloom_rejects; /* files opened, found no CPython by .gnu.hash */
	uint64_t stale_maps;    /* scans whose maps no longer held the process's
				 * interpreter (a fork of a Python process caught
				 * before its exec): nothing registered or warned */
};
void python__stats(struct python_stats *st);

/* One log line of these counters, if a Python process was seen. */
void python__log_summary(void);

#endif
