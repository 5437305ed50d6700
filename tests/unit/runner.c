// SPDX-License-Identifier: Apache-2.0
/* runner: runs every test_*() collected from tests/unit/test_*.c (see the
 * Makefile's sed rule) or only those named on the command line, and ends
 * with the plain "unit: N passed, N failed, N skipped" line CI reads.
 * A test passes when it ran at least one assertion and none failed; it is
 * skipped when it called SKIP() (harness.h) with no failed assertion, and
 * under CI=true a skip counts as a failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

int harness_failures;
int harness_checks;
char harness_skip_reason[256];

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
	const char *ci = getenv("CI");
	int strict = ci && !strcmp(ci, "true");
	int passed = 0, failed = 0, skipped = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		const char *name = tests[i].name;
		int before = harness_failures;

		if (!selected(name, argc, argv))
			continue;
		harness_checks = 0;
		harness_skip_reason[0] = '\0';
		tests[i].fn();
		if (harness_failures != before) {
			failed++;
			printf("FAIL unit/%s\n", name);
		} else if (harness_skip_reason[0] && strict) {
			failed++;
			printf("FAIL unit/%s: skipped under CI=true: %s\n", name, harness_skip_reason);
		} else if (harness_skip_reason[0]) {
			skipped++;
			printf("SKIP unit/%s: %s\n", name, harness_skip_reason);
		} else if (!harness_checks) {
			failed++;
			printf("FAIL unit/%s: ended without running an assertion\n", name);
		} else {
			passed++;
			printf("ok   unit/%s\n", name);
		}
	}
	printf("unit: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
	return failed ? 1 : 0;
}
