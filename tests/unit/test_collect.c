// SPDX-License-Identifier: Apache-2.0
/* Collector helpers that need no BPF: CPU lists and environment probes. */
#include <errno.h>
#include <string.h>

#include "collect/perf_events.h"
#include "collect/probe.h"
#include "harness.h"

void test_collect_cpu_list(void)
{
	static const struct {
		const char *in;
		int n;
	} cases[] = {
		{ "0", 1 },       { "0-1\n", 2 },     { "0-3,5,7-8", 7 }, { "1,1,1", 1 },
		{ "", 0 },        { "a", -EINVAL },   { "0-", -EINVAL },  { "3-1", -EINVAL },
		{ "0,,1", -EINVAL }, { "-1", -EINVAL }, { "9999", -EINVAL }, { "0 1", -EINVAL },
	};
	unsigned char mask[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ASSERT_EQ(parse_cpu_list(cases[i].in, mask, 64), cases[i].n, cases[i].in);
	ASSERT_EQ(parse_cpu_list("0-3,5,7-8", mask, 64), 7, "mask");
	ASSERT_TRUE(mask[0] && mask[3] && !mask[4] && mask[5] && !mask[6] && mask[8], "mask bits");
}

void test_collect_probe_missing_btf(void)
{
	char msg[512] = "";

	ASSERT_EQ(probe_environment_at("/nonexistent/btf/vmlinux", msg, sizeof(msg)), -ENOENT,
		  "missing BTF is an error");
	ASSERT_TRUE(strstr(msg, "kernel BTF is missing") != NULL, "message names BTF");
	ASSERT_TRUE(strstr(msg, "/nonexistent/btf/vmlinux") != NULL, "message names the path");
}
