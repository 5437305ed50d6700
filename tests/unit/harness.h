/* SPDX-License-Identifier: Apache-2.0 */
/* harness: named assertions for the unit tests. Each ASSERT_* records a
 * failure (file, line, name, values) and evaluates to false so a test can
 * bail out early: `if (!ASSERT_OK(err, "open")) return;`. */
#ifndef PROFD_TEST_HARNESS_H
#define PROFD_TEST_HARNESS_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

extern int harness_failures;

static inline bool harness_check(bool ok, const char *file, int line, const char *name,
				 const char *detail)
{
	if (!ok) {
		harness_failures++;
		fprintf(stderr, "  FAIL %s:%d %s: %s\n", file, line, name, detail);
	}
	return ok;
}

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
