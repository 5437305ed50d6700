// SPDX-License-Identifier: Apache-2.0
/* runner: runs every test_*() collected from tests/unit/test_*.c (see the
 * Makefile's sed rule) or only those named on the command line, and ends
 * with the plain "N passed, N failed" line CI reads. */
#include <stdio.h>
#include <string.h>

#include "harness.h"

int harness_failures;

#define TEST(fn) void fn(void);
#include "tests.h"
#undef TEST

static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
#define TEST(fn) { #fn, fn },
#include "tests.h"
#undef TEST
};

static int selected(const char *name, int argc, char **argv)
{
	if (argc < 2)
		return 1;
	for (int i = 1; i < argc; i++)
		if (strstr(name, argv[i]))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		int before = harness_failures;

		if (!selected(tests[i].name, argc, argv))
			continue;
		tests[i].fn();
		if (harness_failures == before) {
			passed++;
			printf("ok   unit/%s\n", tests[i].name);
		} else {
			failed++;
			printf("FAIL unit/%s\n", tests[i].name);
		}
	}
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
