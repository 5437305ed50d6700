/* SPDX-License-Identifier: Apache-2.0 */
/* unwind loader: feeds the BPF stack walker (bpf/unwind.bpf.h). It owns the
 * walker's shared maps, builds one table per distinct file (keyed by device,
 * inode, size and mtime, so every process mapping libc shares one table),
 * keeps them under a kernel-memory cap, and mirrors each tracked process's
 * executable mappings from /proc/PID/maps into the (pid, address) trie. New
 * processes and dlopen'd libraries arrive as "unknown mapping" events from
 * the walker; exited and exec'd processes are noticed by unwind_loader__poll.
 * A process found by an event gets the tables of its program, of the C
 * library and of the file the event's address is in; each other file's
 * table is built when a sample first lands in it (the walker reports it as
 * unknown until then).
 * Single-threaded: call everything from the agent's loop. */
#ifndef PROFD_UNWIND_LOADER_H
#define PROFD_UNWIND_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "binary/procmaps.h"
#include "profd/walker.h"

struct bpf_object;
struct unwind_loader;

struct unwind_loader_opts {
	size_t max_table_bytes;	   /* kernel memory for row tables (0: 64 MiB) */
	uint32_t max_files;	   /* tables loaded at once (0: 4096) */
	uint32_t max_pids;	   /* processes tracked (0: 4096) */
	uint32_t max_map_entries;  /* (pid, address) trie blocks (0: 2^18) */
	uint32_t rescan_ms;	   /* min time between two scans of one pid (0: 1000) */
	bool dry_run;		   /* build tables and per-process state but create
				    * and touch no BPF map (unit tests, no root) */
};

/* 0 when this kernel has what the walker needs (bpf_loop, bpf_task_pt_regs,
 * LPM trie, hash of maps, ring buffer), else -EOPNOTSUPP with the missing
 * piece named in why. */
int unwind_loader__probe(char *why, size_t len);

/* Create the shared maps (unless dry_run). NULL + errno: EPERM without
 * CAP_BPF, EINVAL/EOPNOTSUPP when the kernel lacks a map type, ENOMEM. */
struct unwind_loader *unwind_loader__new(const struct unwind_loader_opts *o);
void unwind_loader__free(struct unwind_loader *l); /* NULL-safe */

/* Make obj (opened, not loaded, including bpf/unwind.bpf.h) use the loader's
 * maps. Returns 0 or -errno (-ENOENT: obj has no walker maps). */
int unwind_loader__reuse_maps(struct unwind_loader *l, struct bpf_object *obj);

/* Read pid's mappings now and load the tables of every file they map (a
 * target: complete stacks from its first sample). Returns 0, -ESRCH (gone),
 * -ENOSPC (max_pids reached, counted) or another -errno. A file whose table
 * cannot be built or loaded is not an error: its mappings get frame-pointer
 * steps and the reason is counted. */
int unwind_loader__add_pid(struct unwind_loader *l, pid_t pid);
void unwind_loader__remove_pid(struct unwind_loader *l, pid_t pid);

/* Handle unknown-mapping events: track new pids; rescan a known pid (at
 * most once per rescan_ms) only when an executable mapping it has covers
 * the event's address and is not mirrored as it is (PROCMAP_QUERY, 6.11+;
 * before, every event rescans, and a pid whose rescans find nothing new
 * backs off up to 32 x rescan_ms). Once a second drop processes that
 * exited (their pidfds, one epoll_wait(); kill(pid, 0) for those without);
 * check the executable of each (exec: rescan) every 30 s, and without a
 * pidfd its start time (pid reuse) too, every 5 s. Returns the number of
 * scans done or -errno. */
int unwind_loader__poll(struct unwind_loader *l);
/* A descriptor readable when the walkers reported something (an epoll fd,
 * owned by l), for a loop that would rather wake than poll; -1 if none. */
int unwind_loader__events_fd(const struct unwind_loader *l);
/* A process the loader started tracking, and the executable mappings its
 * first scan read (maps.n 0: not kept, too many), so that who else wants
 * them (the symbolizer) need not read /proc/PID/maps again. */
struct unwind_new_proc {
	pid_t pid;
	struct procmaps maps; /* the taker releases it (procmaps__release) */
};
/* Move up to max of the pids tracked since the last call (oldest first; the
 * last 256 are kept) to out; returns how many. */
size_t unwind_loader__take_new(struct unwind_loader *l, struct unwind_new_proc *out, size_t max);

/* Queue an unknown-mapping event as if the walker had sent it (tests):
 * the next poll handles it. */
void unwind_loader__event(struct unwind_loader *l, pid_t pid, uint64_t addr);

/* What the loader told the walker about pid's address (tests, debugging):
 * 0 and *out, or -ENOENT. */
int unwind_loader__lookup(const struct unwind_loader *l, pid_t pid, uint64_t addr,
			  struct profd_unw_mapping *out);

struct unwind_loader_stats {
	size_t pids;		/* processes tracked */
	size_t mappings;	/* executable mappings mirrored */
	size_t map_entries;	/* trie blocks inserted (current) */
	size_t files;		/* distinct files seen (cached verdicts) */
	size_t tables;		/* tables loaded in the kernel */
	size_t table_bytes;	/* their kernel memory (fdinfo memlock) */
	size_t rows;		/* their rows */
	size_t rules;		/* global rules in use */
	size_t builds;		/* tables built since start */
	size_t lazy_builds;	/* of which when a sample first fell in a file
				 * whose table had been deferred */
	size_t deferred;	/* files mapped whose table waits for a sample */
	size_t build_ns;	/* time spent building them */
	size_t no_cfi;		/* files without usable CFI (frame pointers only) */
	size_t refused_cap;	/* tables refused: memory cap or max_files */
	size_t refused_rules;	/* tables refused: global rule array full */
	size_t load_errors;	/* tables the kernel refused (map create/update) */
	size_t table_flushes;	/* insertions of a scan's new tables into unw_tables */
	size_t batch_fallbacks;	/* of which the batch update failed (one by one) */
	size_t open_errors;	/* mapped files we could not open */
	size_t pids_refused;	/* processes not tracked: max_pids */
	size_t watched;		/* of pids, those whose exit a pidfd tells */
	size_t map_full;	/* trie inserts that failed */
	size_t events;		/* unknown-mapping events received */
	size_t events_stale;	/* of which told nothing new (no rescan) */
	size_t identity_checks;	/* /proc/PID/exe checks (and start time, for
				 * pids without a pidfd) */
	size_t scans;		/* /proc/PID/maps scans */
	size_t exits;		/* processes dropped: exited, pid reused */
	uint64_t cpu_ns;	/* CPU time of the callers' add_pid and poll
				 * (filled by unwinder.c, not the loader) */
};
void unwind_loader__stats(const struct unwind_loader *l, struct unwind_loader_stats *st);

/* Helpers exported for the unit tests. */

/* One aligned block of an address range: [addr, addr + 2^(64 - bits)). */
struct unwind_block {
	uint64_t addr;
	uint32_t bits; /* address prefix bits */
};
/* Split [start, end) into the fewest aligned power-of-two blocks, in address
 * order. Returns their number (at most 128), storing up to cap. */
size_t unwind_lpm_split(uint64_t start, uint64_t end, struct unwind_block *out, size_t cap);

struct unwind_load {
	uint64_t offset, vaddr, filesz;
	uint32_t flags; /* PF_X, PF_R, PF_W */
};
#define UNWIND_MAX_LOADS 16
/* The PT_LOAD headers of an ELF file (fd) or image; 0 or -EINVAL. */
int unwind_elf_loads(int fd, const void *image, size_t size, struct unwind_load *loads,
		     size_t *n);
/* Load bias of a mapping of file offset pgoff at vm_start: runtime address =
 * ELF vaddr + bias, from the PT_LOAD that covers pgoff. 0 or -ENOENT. */
int unwind_bias(const struct unwind_load *loads, size_t n, uint64_t vm_start, uint64_t pgoff,
		uint64_t *bias);

#endif
