// SPDX-License-Identifier: Apache-2.0
/* waitgraph: cycles, chains behind a holder, unknown and absent owners,
 * garbage (self-owned, duplicates, owner tids that are nobody), and random
 * graphs checked against a brute-force walk. */
#include <stdlib.h>

#include "harness.h"
#include "aggregate/waitgraph.h"

static int idx_of(const struct wg_node *n, size_t cnt, int32_t tid)
{
	for (size_t i = 0; i < cnt; i++)
		if (n[i].tid == tid)
			return (int)i;
	return -1;
}

void test_waitgraph_cycle_and_chain(void)
{
	/* 1201 <-> 1202 deadlock; 1203 waits behind 1201; 1300 sleeps, three
	 * wait for it directly, 1310 behind 1311; 1400 waits for an owner not
	 * in the snapshot; 1500 for an unknown owner; 1600 is idle. */
	const struct wg_node n[] = {
		{ 1202, 1201 }, { 1201, 1202 }, { 1203, 1201 }, { 1300, 0 },
		{ 1311, 1300 }, { 1312, 1300 }, { 1313, 1300 }, { 1310, 1311 },
		{ 1400, 999999 }, { 1500, WG_OWNER_UNKNOWN }, { 1600, 0 },
	};
	struct wg_result r;
	size_t cnt = sizeof(n) / sizeof(n[0]);

	ASSERT_OK(waitgraph__build(n, cnt, &r), "build");
	ASSERT_EQ(r.ncycles, 1, "one cycle");
	ASSERT_EQ(r.cycle_start[1] - r.cycle_start[0], 2, "two threads in it");
	ASSERT_EQ(n[r.cycle_nodes[0]].tid, 1201, "starts at the smallest tid");
	ASSERT_EQ(n[r.cycle_nodes[1]].tid, 1202, "then its owner");
	ASSERT_EQ(r.cycle[idx_of(n, cnt, 1201)], 1, "1201 in cycle 1");
	ASSERT_EQ(r.cycle[idx_of(n, cnt, 1202)], 1, "1202 in cycle 1");
	ASSERT_EQ(r.cycle[idx_of(n, cnt, 1203)], 0, "1203 behind it, not in it");
	ASSERT_EQ(r.end[idx_of(n, cnt, 1203)], WG_END_CYCLE, "1203 ends in the cycle");
	for (int32_t t = 1310; t <= 1313; t++) {
		ASSERT_EQ(r.end[idx_of(n, cnt, t)], WG_END_HOLDER, "chain to the holder");
		ASSERT_EQ(n[r.end_node[idx_of(n, cnt, t)]].tid, 1300, "holder 1300");
	}
	ASSERT_EQ(r.end[idx_of(n, cnt, 1300)], WG_END_NONE, "holder waits for nothing");
	ASSERT_EQ(r.end[idx_of(n, cnt, 1400)], WG_END_MISSING, "absent owner");
	ASSERT_EQ(r.missing[idx_of(n, cnt, 1400)], 999999, "absent owner's tid");
	ASSERT_EQ(r.end[idx_of(n, cnt, 1500)], WG_END_UNKNOWN, "unknown owner");
	ASSERT_EQ(r.end[idx_of(n, cnt, 1600)], WG_END_NONE, "idle");
	waitgraph__free(&r);
}

void test_waitgraph_garbage(void)
{
	/* A thread owning the mutex it waits for (relocking a normal mutex: a
	 * deadlock of one); a duplicated tid; negative garbage owners; a
	 * three-cycle listed in reverse; empty input. */
	const struct wg_node n[] = {
		{ 7, 7 }, { 8, 9 }, { 8, 8 }, { 9, -5 }, { 30, 10 }, { 20, 30 }, { 10, 20 },
	};
	struct wg_result r;
	size_t cnt = sizeof(n) / sizeof(n[0]);

	ASSERT_OK(waitgraph__build(n, cnt, &r), "build");
	ASSERT_EQ(r.ncycles, 2, "self-deadlock and the 3-cycle");
	ASSERT_EQ(n[r.cycle_nodes[0]].tid, 7, "cycle 1 is tid 7");
	ASSERT_EQ(r.cycle_start[1], 1, "of one thread");
	ASSERT_EQ(r.cycle_start[2] - r.cycle_start[1], 3, "cycle 2 has three");
	ASSERT_EQ(n[r.cycle_nodes[1]].tid, 10, "starts at 10");
	ASSERT_EQ(n[r.cycle_nodes[2]].tid, 20, "10 waits for 20");
	ASSERT_EQ(n[r.cycle_nodes[3]].tid, 30, "20 waits for 30");
	ASSERT_EQ(r.end[1], WG_END_UNKNOWN, "8 waits for 9 whose owner is garbage");
	ASSERT_EQ(r.end[2], WG_END_NONE, "duplicate 8 ignored");
	waitgraph__free(&r);
	ASSERT_OK(waitgraph__build(NULL, 0, &r), "empty");
	ASSERT_EQ(r.ncycles, 0, "no cycles");
	waitgraph__free(&r);
}

/* Random functional graphs: every node in a cycle must reach itself, and
 * every other waiting node must not. */
void test_waitgraph_random(void)
{
	enum { N = 300 };
	struct wg_node n[N];
	struct wg_result r;
	unsigned seed = 12345;
	int bad = 0;

	for (int round = 0; round < 50; round++) {
		for (int i = 0; i < N; i++) {
			seed = seed * 1103515245 + 12345;
			n[i].tid = 1000 + i;
			switch ((seed >> 16) % 5) {
			case 0: n[i].owner = 0; break;
			case 1: n[i].owner = WG_OWNER_UNKNOWN; break;
			case 2: n[i].owner = 5000 + (seed >> 20) % 10; break; /* absent */
			default: n[i].owner = 1000 + (int)((seed >> 8) % N); break;
			}
		}
		if (waitgraph__build(n, N, &r)) {
			bad++;
			break;
		}
		for (int i = 0; i < N; i++) {
			int v = i, in = 0;

			for (int s = 0; s <= N && n[v].owner >= 1000 && n[v].owner < 1000 + N; s++) {
				v = n[v].owner - 1000;
				if (v == i) {
					in = 1;
					break;
				}
			}
			if (in != (r.cycle[i] != 0))
				bad++;
		}
		waitgraph__free(&r);
	}
	ASSERT_EQ(bad, 0, "cycle membership agrees with brute force");
}
