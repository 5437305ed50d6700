/* SPDX-License-Identifier: Apache-2.0 */
/* gapwalk: the agent's half of the wait profiles' gap walk
 * (include/profd/wait.h), their user-stack walk when the shared .eh_frame
 * walker is off (--unwind=fp, kernels before 5.17, a walker that did not
 * load). Derives the per-PC unwind rules that wait.bpf.c walks the frames of
 * libraries without frame pointers with, from each file's .eh_frame
 * (daemon/unwind/), and unwinds the stack windows (exemplars) BPF copies
 * where it found no rule, reporting every rule it used so the caller can
 * install them. Uses the symbolizer to find mappings; library code, never
 * logs; not thread-safe (one thread, like the symbolizer). */
#ifndef PROFD_GAPWALK_H
#define PROFD_GAPWALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "profd/unwind.h"
#include "profd/wait.h"

struct gapwalk;
struct symbolizer;

/* sym is borrowed and must outlive the gapwalk. Each file's table is built
 * once and kept on the symbolizer's image of the file (binary/image.h), so
 * it goes when the symbolizer drops the file. NULL with errno on failure. */
struct gapwalk *gapwalk__new(struct symbolizer *sym);
void gapwalk__free(struct gapwalk *g);

/* The rule for leaving the frame at pc of process pid; leaf: pc is exact,
 * else a return address. Never fails: a PC in no file, or in a file without
 * CFI, gets PROFD_WAIT_RULE_FP (follow frame pointers, as the kernel does). */
void gapwalk__rule(struct gapwalk *g, pid_t pid, uint64_t pc, bool leaf,
		   struct profd_wait_rule *out);

/* A table row (row.rule value and, for a rule index, the rule) as a wait
 * rule. Pure. Rules that need registers BPF does not have, signal frames
 * and INVALID rows become PROFD_WAIT_RULE_INVALID; the standard
 * frame-pointer frame (CFA = rbp + 16, rbp at CFA - 16, RA at CFA - 8)
 * becomes PROFD_WAIT_RULE_FP. */
void gapwalk_rule_from_unw(unsigned int row_rule, const struct profd_unw_rule *r,
			   struct profd_wait_rule *out);

enum gapwalk_end {
	GAPWALK_SPLICE,  /* reached a frame-pointer function whose rbp is splice_bp:
			  * the frames BPF followed from there continue the stack */
	GAPWALK_ROOT,    /* reached the outermost frame: the stack is complete */
	GAPWALK_FP_END,  /* followed frame pointers in the window to where they end
			  * (as a walk in BPF would) */
	GAPWALK_TRUNC,   /* ran out of window, rules or frames: the stack ends here */
};

/* Called for every rule the walk used, with the key BPF looks it up by. */
typedef void (*gapwalk_learn_fn)(void *ctx, const struct profd_wait_rule_key *key,
				 const struct profd_wait_rule *rule);

/*
 * Unwind ex (copied at a frame with no rule) within its window. Writes the
 * return addresses of the frames above ex->regs.pc to out (at most cap) and
 * returns how many. When a frame-pointer function is reached with rbp ==
 * splice_bp the walk ends GAPWALK_SPLICE; with another rbp it follows frame
 * pointers within the window (GAPWALK_FP_END where the chain ends,
 * GAPWALK_TRUNC where it leaves the window). learn (may be NULL) gets each
 * rule used. pid is the process the exemplar came from.
 */
size_t gapwalk__unwind(struct gapwalk *g, pid_t pid, const struct profd_wait_exemplar *ex,
		       uint64_t splice_bp, uint64_t *out, size_t cap, enum gapwalk_end *end,
		       gapwalk_learn_fn learn, void *ctx);

struct gapwalk_stats {
	uint64_t rules;         /* rules derived */
	uint64_t tables;        /* unwind tables built */
	uint64_t table_errors;  /* files whose table could not be built */
	uint64_t no_file;       /* PCs in no file mapping (JIT, vDSO, gone) */
};

void gapwalk__stats(const struct gapwalk *g, struct gapwalk_stats *st);

#endif
