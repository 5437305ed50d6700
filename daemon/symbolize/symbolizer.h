/* SPDX-License-Identifier: Apache-2.0 */
/* symbolizer: turns (pid, address) and kernel addresses into mappings,
 * function names, source files and lines, and inlined frames.
 *
 * User addresses go through the process's /proc/PID/maps to the ELF file it
 * mapped, opened through the process's own view of the filesystem
 * (/proc/PID/map_files/START-END, else /proc/PID/root/PATH), so containers
 * and deleted-but-running binaries work. Lines and inlined frames come from
 * DWARF (libdw): in the file, or in a separate debug file found by build id
 * or .gnu_debuglink under the debug directories (in the process's root and
 * on the host), or from debuginfod. Names come from DWARF, else .symtab
 * (the file's or its debug file's), else .dynsym plus MiniDebugInfo
 * (.gnu_debugdata) or Go's .gopclntab; C++ and Rust names are demangled.
 * PLT stubs are "target@plt". Code none of these names is named after the
 * function holding it according to the file's .eh_frame, "FILE+0xSTART"
 * (base name, ELF address of the function), with no file or line.
 * Anonymous executable memory is named from the process's
 * /tmp/perf-PID.map (JITs). Each file is parsed once and cached by (dev,
 * inode), and what it yields is shared by build id, so the same binary in
 * many processes or containers costs once. A file is opened and parsed on
 * the first lookup in one of its mappings (all of a process's at once when
 * it is added with symbolizer__add_pid()), so only binaries samples touch
 * cost memory; max_cache_bytes bounds the whole. Kernel addresses go through
 * /proc/kallsyms. The symbolizer knows nothing about BPF and never logs
 * above debug level. It is not thread-safe: one thread uses it at a time.
 */
#ifndef PROFD_SYMBOLIZER_H
#define PROFD_SYMBOLIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "symbolize/demangle.h" /* enum sym_demangle_style */

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
	const char *system_name;  /* as in the symbol table (mangled) */
	const char *file;         /* source file of line */
	int line;
	int start_line;           /* the function's first line in file, 0 unknown */
};

enum {
	/* Lines come from DWARF, which describes inlining: one line means
	 * the code was not inlined. */
	SYM_FRAME_DEBUG_INFO = 1 << 0,
	SYM_FRAME_JIT = 1 << 1, /* named by the process's perf map */
	/* Looked up while deferring (symbolizer__user_defer): no lines yet,
	 * map is a pinned mapping to pass to symbolizer__user_late(). */
	SYM_FRAME_DEFERRED = 1 << 2,
};

/* The result of one lookup. map is NULL when the address is in no known
 * executable mapping; nlines is 0 when no symbol covers it. lines[0] is the
 * innermost inlined function, lines[nlines-1] the one containing the code;
 * a deeper chain keeps its innermost SYM_MAX_INLINE - 1 and the outermost. */
struct sym_frame {
	const struct sym_mapping *map;
	unsigned flags; /* SYM_FRAME_* */
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
	size_t buildid_hits; /* files whose symbols came from the build-id cache */
	size_t debug_infos;  /* per-build-id entries held */
	size_t with_dwarf;   /* of which have DWARF (in the file or separate) */
	size_t separate_debug; /* of which got DWARF or names from a debug file */
	size_t dwarf_open;   /* DWARF files open (mapped) now */
	size_t dwarf_bytes;  /* heap of their indexes (part of bytes) */
	size_t dwarf_opens;  /* DWARF files opened since creation */
	size_t dwarf_evictions; /* closed for the budget, reopened on demand */
	size_t frame_cache_hits;
	size_t frame_cache_misses;
	size_t perfmap_loads;   /* perf maps (re)read */
	size_t perfmap_symbols; /* JIT symbols held */
	size_t name_bytes;   /* names kept for callers (and the cached results) */
	size_t cache_evictions; /* binaries dropped for max_cache_bytes (re-read
				 * on their next lookup) */
};

/* Limits; symbolizer__default_opts() fills the defaults in brackets. */
struct symbolizer_opts {
	size_t max_pids;         /* processes held at once; more get -ENOSPC [32768] */
	size_t max_maps_per_pid; /* mapping records per process, current and
				  * replaced ones (dlclose, exec) [8192] */
	size_t max_unused_files; /* parsed files kept after the last process
				  * mapping them is forgotten (LRU) [64] */
	unsigned maps_reload_ms; /* minimum time between two re-reads of one
				  * process's maps (or perf map) on a miss [1000] */
	const char *kallsyms_path; /* copied; ["/proc/kallsyms"] */
	const char *debug_dirs;  /* colon-separated roots of separate debug
				  * files, each looked up in the process's root
				  * and on the host; copied ["/usr/lib/debug"] */
	size_t max_debug_bytes;  /* heap of open DWARF indexes, LRU [256 MiB] */
	size_t max_debug_open;   /* DWARF files mapped at once, LRU [64] */
	size_t max_cached_frames; /* lookup results kept per (binary, address);
				   * 0 disables [65536] */
	size_t max_perfmap_bytes; /* largest /tmp/perf-PID.map read [64 MiB] */
	int demangle;            /* enum sym_demangle_style [SIMPLE] */
	int debuginfod;          /* ask libdebuginfod when DEBUGINFOD_URLS is
				  * set; blocks while it fetches [1] */
	size_t max_cache_bytes;  /* the whole cache (bytes of the stats): at
				  * each prune, binaries no process maps go,
				  * then the open DWARF of the least recently
				  * looked-up ones (never that of the one
				  * looked up last), then those binaries
				  * themselves (read again on their next
				  * lookup), each only while over; between
				  * prunes its half bounds the open DWARF and
				  * its eighth the cached results (lowering
				  * max_debug_bytes, max_cached_frames);
				  * 0: no bound [0] */
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
/* The same for a process first seen (a new pid the walker met): its maps
 * are read now, and each file is opened on the first lookup in it, so that
 * only what samples touch is read (a file can be opened only while the
 * process lives: through its map_files or its root).
 * A process that started after s was made, less than 10 s ago, has its
 * files opened at once too, as symbolizer__add_pid does: it may be gone
 * before its first lookup. A known pid is left as it is. 0 or as
 * symbolizer__add_pid. */
int symbolizer__note_pid(struct symbolizer *s, pid_t pid);
/* The same with pid's executable mappings as someone just read them (the
 * unwind loader's scan of a new process: binary/procmaps.h), so that they
 * are not read again; pm NULL or empty: read them. */
struct procmaps;
int symbolizer__note_pid_maps(struct symbolizer *s, pid_t pid, const struct procmaps *pm);

/* Symbolize addr in pid (a process id, i.e. the tgid). The caller passes
 * the address to look up: the sampled PC for a leaf, return address - 1
 * for callers. An unknown pid is added on first use; an address outside
 * every known mapping makes the maps be re-read (dlopen), at most once per
 * maps_reload_ms per pid. Anonymous executable mappings (and memfd ones)
 * are named from the process's perf map, read again at most every
 * maps_reload_ms when an address misses it.
 * Returns 0 (out filled, possibly with map NULL / nlines 0) or -errno
 * (-ESRCH unknown and gone, -ENOSPC past max_pids, -EINVAL, -ENOMEM).
 * Pointers in *out stay valid until symbolizer__forget_pid(pid),
 * symbolizer__prune() or symbolizer__free(). */
int symbolizer__user(struct symbolizer *s, pid_t pid, uint64_t addr, struct sym_frame *out);

/* Until symbolizer__user_undefer(), answer symbolizer__user() lookups in
 * files with lines to read (DWARF in the file or a debug file, a Go table)
 * without reading them, which is most of a one-shot run's first drains
 * (libc's separate DWARF: tens of ms): only what needs the process alive
 * is done (its maps read, the file opened through it, its symbols and
 * debug files found), out->flags is SYM_FRAME_DEFERRED, out->nlines 0 and
 * out->map a pinned copy of the mapping: it stays valid, its file cached
 * and the files its lines come from open (the mapped file itself, a debug
 * file in the process's root), until symbolizer__free(), even once the
 * process exited and its pid was forgotten. Files no lines can come from
 * are looked up at once as before, as are the files of a binary whose
 * files cannot be held open (more than 256 binaries). For a run that names
 * its frames at its end (frames__user_resolve). */
void symbolizer__user_defer(struct symbolizer *s);
/* Stop deferring; returns how many pinned mappings deferred lookups
 * returned. symbolizer__user_deferred(s, i) is the i-th (NULL past the
 * end), ordered binary by binary. */
size_t symbolizer__user_undefer(struct symbolizer *s);
const struct sym_mapping *symbolizer__user_deferred(const struct symbolizer *s, size_t i);
/* What symbolizer__user() would have answered for addr, looked up in map,
 * a pinned mapping a deferred lookup returned (its lines, names and
 * inlines, through the files held open). 0 or -errno (-EINVAL: map is
 * not such a mapping). Pointers in *out stay valid like
 * symbolizer__user() results. */
int symbolizer__user_late(struct symbolizer *s, const struct sym_mapping *map, uint64_t addr,
			  struct sym_frame *out);

/* Symbolize a kernel address through /proc/kallsyms (loaded on first use).
 * out->map is the single [kernel.kallsyms] mapping. Module symbols carry
 * their module in system_name as "name [module]".
 * Returns 0, or the load error on every call (out->map still set, nlines
 * 0): -EPERM when kallsyms shows only zero addresses (kptr_restrict, no
 * CAP_SYSLOG when the file was opened), -ENOENT, -ENODATA. */
int symbolizer__kernel(struct symbolizer *s, uint64_t addr, struct sym_frame *out);

/* Until symbolizer__kernel_undefer(), answer kernel lookups without
 * reading kallsyms (tens of ms of CPU, the most of a one-shot run's first
 * drain): out->map is the kernel's mapping without its range, nlines 0.
 * Only before the first kernel lookup that read it; for a run that
 * names its kernel frames at its end (frames__kernel_resolve). */
void symbolizer__kernel_defer(struct symbolizer *s);
/* Stop deferring. True if a lookup was answered so since
 * symbolizer__kernel_defer(): *as_deferred is then the mapping those
 * lookups returned (its strings are s's), the next lookup reads kallsyms. */
bool symbolizer__kernel_undefer(struct symbolizer *s, struct sym_mapping *as_deferred);

/* Drop the kallsyms table so the next symbolizer__kernel() reads it again
 * (modules and BPF programs come and go). Invalidates every pointer
 * symbolizer__kernel() returned. */
void symbolizer__kernel_reload(struct symbolizer *s);

/* The executable mapping of the program itself (/proc/PID/exe), to be
 * the profile's first mapping as pprof expects; NULL if unknown. Valid like
 * symbolizer__user() results. */
const struct sym_mapping *symbolizer__main_mapping(struct symbolizer *s, pid_t pid);

/* The image (binary/image.h) of the file behind m, a mapping a lookup
 * returned, or NULL (special mappings, files that could not be opened).
 * Borrowed: valid like m. */
struct binary_image;
struct binary_image *symbolizer__mapping_image(const struct sym_mapping *m);

/* Drop what is held for pid (process exited, or profile interval over). */
void symbolizer__forget_pid(struct symbolizer *s, pid_t pid);

/* Housekeeping for the end of a profile interval, once no pointer from a
 * lookup is held any more: forget every pid whose process exited or whose
 * pid now belongs to another process (start time changed), free the
 * records of mappings that later maps reads replaced (dlclose, exec, JIT
 * churn), which otherwise count against max_maps_per_pid, and bring the
 * cache within max_cache_bytes. The names kept for callers (DWARF,
 * demangled, JIT names) and the cached results stay from one prune to the
 * next (the same frames are sampled interval after interval) until they
 * take more than an eighth of max_cache_bytes (8 MiB without a bound).
 * May invalidate every pointer a lookup returned.
 * Exits are told by the processes' pidfds (one poll for all), and only
 * those that exited have their start time read again.
 * Returns the number of pids forgotten. Call it once per interval: the
 * kept names grow with the distinct names looked up until then. */
size_t symbolizer__prune(struct symbolizer *s);

void symbolizer__stats(const struct symbolizer *s, struct symbolizer_stats *st);

/* Change opts.max_cache_bytes (0: no bound), with the bounds derived from
 * it; the cache is brought within it at the next prune. */
void symbolizer__set_max_cache_bytes(struct symbolizer *s, size_t bytes);

#endif
