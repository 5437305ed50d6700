// SPDX-License-Identifier: Apache-2.0
/* generation: flip and key collection of the double-buffered drain. */
#include <time.h>

#include <bpf/bpf.h>

#include "collect/generation.h"

/* A program that read the old generation before the switch finishes in
 * microseconds (it runs with interrupts or preemption off); wait well past
 * that. */
#define GRACE_NS (5 * 1000 * 1000)

uint32_t generation__switch(uint32_t *gen, uint32_t *bss_gen)
{
	struct timespec grace = { 0, GRACE_NS };
	uint32_t done = *gen;

	*gen ^= 1;
	__atomic_store_n(bss_gen, *gen, __ATOMIC_RELEASE);
	nanosleep(&grace, NULL);
	return done;
}

int generation__keys(int fd, void *keys, size_t key_size, uint32_t max)
{
	char *at = keys;
	void *prev = NULL;
	int n = 0;

	while ((uint32_t)n < max && !bpf_map_get_next_key(fd, prev, at)) {
		prev = at;
		at += key_size;
		n++;
	}
	return n;
}
