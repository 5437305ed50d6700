/* SPDX-License-Identifier: Apache-2.0 */
/* symbolizer: turns (pid, address) and kernel addresses into mappings and
 * function names.
 *
 * User addresses go through the process's /proc/PID/maps to the ELF file it
 * mapped, opened through the process's own view of the filesystem
 * (/proc/PID/map_files/START-END, else /proc/PID/root/PATH), so containers
 * and deleted-but-running binaries work. Names come from .symtab, else
 * .dynsym. Each file is parsed once and cached by (dev, inode) of the maps
 * line, shared by every process that maps it. Kernel addresses go through
 * /proc/kallsyms. The symbolizer knows nothing about BPF and never logs
 * above debug level. It is not thread-safe: one thread uses it at a time.
 */
#ifndef PROFD_SYMBOLIZER_H
#define PROFD_SYMBOLIZER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct symbolizer;

enum {
	SYM_MAP_KERNEL = 1 << 0,   /* the [kernel.kallsyms] pseudo mapping */
	SYM_MAP_SPECIAL = 1 << 1,  /* [vdso], [vsyscall], anonymous, ... */
	SYM_MAP_DELETED = 1 << 2,  /* the file was deleted after mapping */
	SYM_MAP_HAS_SYMS = 1 << 3, /* the file had a symbol table profd read */
};

/* One executable VMA. start/limit/offset are verbatim from /proc/PID/maps;
 * path has " (deleted)" trimmed; build_id is lowercase hex or "". */
struct sym_mapping {
	uint64_t start;
	uint64_t limit;
	uint64_t offset;
	const char *path;
	const char *build_id;
	unsigned flags;
};

#define SYM_MAX_INLINE 8

/* One function of an inline chain. file is NULL and line 0 when unknown. */
struct sym_line {
	const char *name;         /* human-readable (demangled when known) */
	const char *system_name;  /* as in the symbol table */
	const char *file;
	int line;
};

/* The result of one lookup. map is NULL when the address is in no known
 * executable mapping; nlines is 0 when no symbol covers it. lines[0] is the
 * innermost inlined function, lines[nlines-1] the one containing the code. */
struct sym_frame {
	const struct sym_mapping *map;
	size_t nlines;
	struct sym_line lines[SYM_MAX_INLINE];
};

struct symbolizer_stats {
	size_t files;        /* ELF files parsed and cached */
	size_t symbols;      /* symbols held by those files */
	size_t pids;         /* processes whose maps are held */
	size_t bytes;        /* approximate memory held */
	size_t maps_reloads; /* times a /proc/PID/maps was (re)read */
	size_t unused_files; /* of files, those no held process maps (the LRU) */
	size_t file_parses;  /* files opened and parsed since creation */
	size_t kernel_symbols; /* text symbols from kallsyms, 0 until loaded */
	size_t mappings;     /* mapping records held over all pids */
	size_t mappings_dropped; /* maps lines not recorded (max_maps_per_pid) */
};

/* Limits; symbolizer__default_opts() fills the defaults in brackets. */
struct symbolizer_opts {
	size_t max_pids;         /* processes held at once; more get -ENOSPC [32768] */
	size_t max_maps_per_pid; /* mapping records per process, current and
				  * replaced ones (dlclose, exec) [8192] */
	size_t max_unused_files; /* parsed files kept after the last process
				  * mapping them is forgotten (LRU) [64] */
	unsigned maps_reload_ms; /* minimum time between two re-reads of one
				  * process's maps on a miss [1000] */
	const char *kallsyms_path; /* copied; ["/proc/kallsyms"] */
};

void symbolizer__default_opts(struct symbolizer_opts *opts);

/* Returns NULL with errno set on failure. symbolizer__new() uses the
 * defaults; opts may be NULL for the same. */
struct symbolizer *symbolizer__new(void);
struct symbolizer *symbolizer__new_opts(const struct symbolizer_opts *opts);
void symbolizer__free(struct symbolizer *s);

/* Read /proc/PID/maps now and open the files it maps, so that a process that
 * exits later can still be symbolized. -ESRCH if the process is gone (or
 * has no user mappings: kernel thread, zombie), -ENOSPC past max_pids.
 * For a known pid the maps are re-read at once (call it after exec);
 * records of mappings that are gone stay valid until forget_pid/prune. */
int symbolizer__add_pid(struct symbolizer *s, pid_t pid);

/* Symbolize addr in pid (a process id, i.e. the tgid). The caller passes
 * the address to look up: the sampled PC for a leaf, return address - 1
 * for callers. An unknown pid is added on first use; an address outside
 * every known mapping makes the maps be re-read (dlopen), at most once per
 * maps_reload_ms per pid. name == system_name (no demangling here; pprof
 * demangles such names itself).
 * Returns 0 (out filled, possibly with map NULL / nlines 0) or -errno
 * (-ESRCH unknown and gone, -ENOSPC past max_pids, -EINVAL).
 * Pointers in *out stay valid until symbolizer__forget_pid(pid),
 * symbolizer__prune() or symbolizer__free(). */
int symbolizer__user(struct symbolizer *s, pid_t pid, uint64_t addr, struct sym_frame *out);

/* Symbolize a kernel address through /proc/kallsyms (loaded on first use).
 * out->map is the single [kernel.kallsyms] mapping. Module symbols carry
 * their module in system_name as "name [module]".
 * Returns 0, or the load error on every call (out->map still set, nlines
 * 0): -EPERM when kallsyms shows only zero addresses (kptr_restrict, no
 * CAP_SYSLOG when the file was opened), -ENOENT, -ENODATA. */
int symbolizer__kernel(struct symbolizer *s, uint64_t addr, struct sym_frame *out);

/* Drop the kallsyms table so the next symbolizer__kernel() reads it again
 * (modules and BPF programs come and go). Invalidates every pointer
 * symbolizer__kernel() returned. */
void symbolizer__kernel_reload(struct symbolizer *s);

/* The executable mapping of the program itself (/proc/PID/exe), to be
 * the profile's first mapping as pprof expects; NULL if unknown. Valid like
 * symbolizer__user() results. */
const struct sym_mapping *symbolizer__main_mapping(struct symbolizer *s, pid_t pid);

/* Drop what is held for pid (process exited, or profile interval over). */
void symbolizer__forget_pid(struct symbolizer *s, pid_t pid);

/* Housekeeping for the end of a profile interval, once no pointer from a
 * lookup is held any more: forget every pid whose process exited or whose
 * pid now belongs to another process (start time changed), and free the
 * records of mappings that later maps reads replaced (dlclose, exec, JIT
 * churn), which otherwise count against max_maps_per_pid. Invalidates
 * pointers into those. Returns the number of pids forgotten. */
size_t symbolizer__prune(struct symbolizer *s);

void symbolizer__stats(const struct symbolizer *s, struct symbolizer_stats *st);

#endif
