/* SPDX-License-Identifier: Apache-2.0 */
/* harness: named assertions for the unit tests. Each ASSERT_* records a
 * failure (file, line, name, values) and evaluates to false so a test can
 * bail out early: `if (!ASSERT_OK(err, "open")) return;`.
 *
 * SKIP("reason %s", ...) ends a test as skipped, for what a user's host may
 * lack (a tool, a privilege); the runner counts it under "skipped", or as a
 * failure under CI=true. A fixture that cannot be built is a failure
 * (ASSERT it), never a skip. A test that ends without running a single
 * assertion and without SKIP fails: an early return cannot pass. */
#ifndef PROFD_TEST_HARNESS_H
#define PROFD_TEST_HARNESS_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

extern int harness_failures;
extern int harness_checks;
extern char harness_skip_reason[256];

static inline bool harness_check(bool ok, const char *file, int line, const char *name,
				 const char *detail)
{
	harness_checks++;
	if (!ok) {
		harness_failures++;
		fprintf(stderr, "  FAIL %s:%d %s: %s\n", file, line, name, detail);
	}
	return ok;
}

/* Record that the running test is skipped, and why (the first reason wins);
 * the caller returns. SKIP() does both. */
__attribute__((format(printf, 3, 4))) static inline void harness_skip(const char *file, int line,
								     const char *fmt, ...)
{
	va_list ap;
	int n;

	if (harness_skip_reason[0])
		return;
	n = snprintf(harness_skip_reason, sizeof(harness_skip_reason), "%s:%d: ", file, line);
	if (n < 0 || (size_t)n >= sizeof(harness_skip_reason))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(harness_skip_reason + n, sizeof(harness_skip_reason) - n, fmt, ap);
	va_end(ap);
	if (!harness_skip_reason[0])
		snprintf(harness_skip_reason, sizeof(harness_skip_reason), "skipped");
}

#define SKIP(...)                                             \
	do {                                                  \
		harness_skip(__FILE__, __LINE__, __VA_ARGS__); \
		return;                                       \
	} while (0)

#define ASSERT_TRUE(c, name) harness_check(!!(c), __FILE__, __LINE__, name, #c " is false")
#define ASSERT_FALSE(c, name) harness_check(!(c), __FILE__, __LINE__, name, #c " is true")

#define ASSERT_EQ(a, b, name)                                                               \
	({                                                                                  \
		long long _a = (long long)(a), _b = (long long)(b);                         \
		char _d[160];                                                               \
		snprintf(_d, sizeof(_d), "%s == %lld, expected %s == %lld", #a, _a, #b, _b); \
		harness_check(_a == _b, __FILE__, __LINE__, name, _d);                      \
	})

#define ASSERT_OK(err, name) ASSERT_EQ(err, 0, name)
#define ASSERT_ERR(err, name) ASSERT_TRUE((err) < 0, name)

#define ASSERT_STREQ(a, b, name)                                                            \
	({                                                                                  \
		const char *_a = (a), *_b = (b);                                            \
		char _d[512];                                                               \
		snprintf(_d, sizeof(_d), "\"%.200s\", expected \"%.200s\"", _a ? _a : "(null)",     \
			 _b ? _b : "(null)");                                               \
		harness_check(_a && _b && !strcmp(_a, _b), __FILE__, __LINE__, name, _d);   \
	})

#define ASSERT_OK_PTR(p, name) ASSERT_TRUE((p) != NULL, name)

#endif
