/* SPDX-License-Identifier: Apache-2.0 */
/* debuginfo: what profd knows about one binary beyond its headers, shared by
 * every file with the same GNU build id (the same binary in many containers
 * is parsed once): the best symbol table found (its own .symtab, that of a
 * separate debug file, MiniDebugInfo, Go's pclntab, else .dynsym) and where
 * its DWARF lives (the file itself, a separate debug file found by build id
 * or .gnu_debuglink, or debuginfod). The DWARF is opened on first lookup
 * and closed again, least recently used first, when a memory budget or the
 * bound on open files needs room. Internal to symbolize/ (and its unit tests). */
#ifndef PROFD_SYMBOLIZE_DEBUGINFO_H
#define PROFD_SYMBOLIZE_DEBUGINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct dbgcache;
struct dwarf_file;
struct ehframe_funcs;
struct dwarf_line;
struct elf_image;
struct procmaps_entry;

#define DBG_MAX_DEBUG_DIRS 16
#define DBG_MAX_DEBUGDATA (64u << 20)  /* compressed .gnu_debugdata read */
#define DBG_MAX_MINIDEBUG (256u << 20) /* its inflated ELF */
#define DBG_MAX_GOPCLNTAB (512u << 20)

/* Where lines come from. */
enum dbg_src {
	DBG_SRC_NONE, /* no DWARF anywhere */
	DBG_SRC_SELF, /* the mapped file itself */
	DBG_SRC_ROOT, /* debug_path, inside the target process's root */
	DBG_SRC_HOST, /* debug_path, on the host (debug dir, debuginfod cache) */
	DBG_SRC_GOPCLNTAB, /* no DWARF: Go's table in the mapped file (no inlining) */
};

/* Where symbol names come from (bits). */
enum {
	DBG_SYMS_SYMTAB = 1 << 0,    /* the file's own .symtab */
	DBG_SYMS_DYNSYM = 1 << 1,    /* the file's .dynsym only */
	DBG_SYMS_DEBUGFILE = 1 << 2, /* the separate debug file's .symtab */
	DBG_SYMS_MINIDEBUG = 1 << 3, /* .gnu_debugdata */
	DBG_SYMS_GOPCLNTAB = 1 << 4, /* .gopclntab */
};

struct debuginfo {
	struct elf_image *img; /* the binary's loads and build id, best symbols */
	uint64_t id;           /* never reused: safe as a cache key */
	int src;               /* DBG_SRC_* */
	unsigned syms_from;    /* DBG_SYMS_* */
	char *debug_path;      /* for DBG_SRC_ROOT/HOST */
	uint64_t last_used;    /* the user's clock at its last lookup (LRU) */
	/* private to debuginfo.c */
	char key[2 * 64 + 16];
	unsigned refcnt;
	bool hashed;
	struct debuginfo *hnext, *lru_prev, *lru_next;
	struct dwarf_file *dw;                /* open DWARF or NULL */
	struct gopclntab *go;                 /* or the open Go table */
	int dw_err;                           /* a lasting reason it cannot open */
	struct debuginfo *open_prev, *open_next; /* LRU of open DWARF */
	uint64_t dbg_dev, dbg_ino;           /* the debug file, to know it again */
	size_t bytes;                        /* accounted, DWARF excluded */
	struct ehframe_funcs *funcs;         /* function bounds from .eh_frame, on demand */
	int funcs_err;                       /* a lasting reason there are none */
	/* dbgcache__hold(): the files read on demand, kept open (-1: could
	 * not be); valid when held. */
	bool held;
	int held_self, held_debug;
};

struct dbgcache_opts {
	const char *debug_dirs;  /* colon-separated, copied */
	size_t max_unused;       /* debuginfo no file uses kept (LRU) */
	size_t max_dwarf_bytes;  /* heap of open DWARF indexes */
	size_t max_dwarf_open;   /* DWARF files mapped at once */
	bool debuginfod;         /* ask libdebuginfod (DEBUGINFOD_URLS) */
};

struct dbgcache *dbgcache__new(const struct dbgcache_opts *opts);
/* Every debuginfo must have been put. NULL-safe. */
void dbgcache__free(struct dbgcache *dc);

/* The debuginfo of the ELF file open on fd, which process pid maps with e.
 * A file whose build id (and kinds of sections) is known shares that
 * entry; otherwise its symbols are read and its debug files looked up
 * (in pid's root and on the host). Returns 0 and a reference, or -ENOEXEC,
 * -EINVAL (not a usable ELF file), -ENOMEM. */
int dbgcache__get(struct dbgcache *dc, pid_t pid, const struct procmaps_entry *e, int fd,
		  struct debuginfo **out);
/* NULL-safe. */
void dbgcache__put(struct dbgcache *dc, struct debuginfo *di);
/* Change the bound on unused entries (trimming now). The file cache keeps
 * its own unused files' debuginfo alive, so it lends dc what it does not
 * use of the one bound they share. */
void dbgcache__set_max_unused(struct dbgcache *dc, size_t max_unused);

/* Image cache operations (binary/image.h) whose data is a debuginfo of the
 * dbgcache passed as the cache's ctx: binary_cache__new(n,
 * &dbgcache_image_ops, dc) is the symbolizer's per-file cache. */
struct binary_cache_ops;
extern const struct binary_cache_ops dbgcache_image_ops;

/* Lines at vaddr (dwarf_file__lookup(), or Go's table for a Go binary
 * without DWARF), opening the source first if needed, through pid's
 * mapping e when it is the file itself. *inlines says whether the source
 * describes inlining (DWARF does, Go's table here does not). The strings
 * stay valid only until the next call on dc: copy them. Returns the number
 * of lines, 0 when there is no source or it says nothing. */
int dbgcache__lines(struct dbgcache *dc, struct debuginfo *di, pid_t pid,
		    const struct procmaps_entry *e, uint64_t vaddr, struct dwarf_line *out,
		    size_t max, bool *inlines);

/* Open now, and keep open until di is freed, the files of di that later
 * lookups (dbgcache__lines, dbgcache__func_start) read through pid: the
 * mapped file itself (its DWARF or Go table, its .eh_frame) and a debug
 * file in pid's root, so that they can be read after pid exited (a
 * mapped file deleted, or known only through the process, is not found
 * again). One that could not be opened is tried again on the next call.
 * 0 when the file di's lines come from is held (or needs no process: a
 * debug file on the host), else the error opening it; -EMFILE past
 * DBG_MAX_HELD entries. */
#define DBG_MAX_HELD 256
int dbgcache__hold(struct dbgcache *dc, struct debuginfo *di, pid_t pid,
		   const struct procmaps_entry *e);

/* Start of the function containing vaddr according to the .eh_frame of
 * the file itself (one FDE per function), read once per debuginfo on
 * first use through pid's mapping e. 0 and *start, or -ENOENT (no FDE
 * covers vaddr, or the file has no usable .eh_frame). */
int dbgcache__func_start(struct dbgcache *dc, struct debuginfo *di, pid_t pid,
			 const struct procmaps_entry *e, uint64_t vaddr, uint64_t *start);

/* Make room: close open DWARF, least recently used first, until at most
 * max_dwarf_bytes of it remain, and free every entry no file uses. What is
 * dropped is read again on the next lookup that needs it. */
void dbgcache__trim(struct dbgcache *dc, size_t max_dwarf_bytes);
/* Close the open DWARF whose binary was looked up least recently
 * (debuginfo.last_used, then the least recently read), unless it is the
 * only one open: the one looked up last stays. Returns whether one was
 * closed. The bounds of dbgcache_opts close in the same order. */
bool dbgcache__close_lru(struct dbgcache *dc);
/* Change opts.max_dwarf_bytes (applied at the next lookup). */
void dbgcache__set_max_dwarf_bytes(struct dbgcache *dc, size_t bytes);

struct dbgcache_stats {
	size_t infos;        /* debuginfo entries held */
	size_t unused;       /* of which no file uses (the LRU) */
	size_t symbols;
	size_t bytes;        /* symbol tables and DWARF indexes */
	size_t shared_hits;  /* files that found their build id known */
	size_t with_dwarf;   /* entries with DWARF somewhere */
	size_t separate;     /* entries whose DWARF or symbols came from a separate file */
	size_t dwarf_open;
	size_t dwarf_bytes;
	size_t dwarf_opens;     /* DWARF files opened since creation */
	size_t dwarf_evictions; /* closed to make room */
};

void dbgcache__stats(const struct dbgcache *dc, struct dbgcache_stats *st);

/* CRC-32 (zlib's, as .gnu_debuglink uses) of the whole file on fd, read
 * with pread. Returns 0 or -errno. */
int file_crc32(int fd, uint32_t *crc);

#endif
