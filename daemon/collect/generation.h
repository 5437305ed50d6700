/* SPDX-License-Identifier: Apache-2.0 */
/* generation: the double-buffered drain of cpu.bpf.c and wait.bpf.c. Their
 * programs count into the map pair member that `gen` (in the object's
 * mmap'ed .bss) selects; the agent flips it, waits until no program can
 * still be in the old generation, then reads and clears that one. */
#ifndef PROFD_COLLECT_GENERATION_H
#define PROFD_COLLECT_GENERATION_H

#include <stddef.h>
#include <stdint.h>

/* Flip *gen and the BPF side's *bss_gen to the other generation, wait out
 * programs still counting into the old one, and return the old one. */
uint32_t generation__switch(uint32_t *gen, uint32_t *bss_gen);

/* Read up to max keys (key_size bytes each) of the hash map at fd into
 * keys, all before any is deleted (deleting while iterating restarts the
 * walk). Returns how many. */
int generation__keys(int fd, void *keys, size_t key_size, uint32_t max);

#endif
