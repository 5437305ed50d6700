// SPDX-License-Identifier: Apache-2.0
/* Duration, size and integer parsing: accepted forms and garbage. */
#include <errno.h>

#include "harness.h"
#include "util/parse.h"

void test_parse_duration(void)
{
	static const struct {
		const char *in;
		int err;
		uint64_t ns;
	} cases[] = {
		{ "30s", 0, 30000000000ULL }, { "2m", 0, 120000000000ULL },
		{ "500ms", 0, 500000000ULL }, { "1h", 0, 3600000000000ULL },
		{ "1.5s", 0, 1500000000ULL }, { "250us", 0, 250000ULL },
		{ "10", 0, 10000000000ULL },  { "7ns", 0, 7 },
		{ "", -EINVAL, 0 },           { "s", -EINVAL, 0 },
		{ "-1s", -EINVAL, 0 },        { "10x", -EINVAL, 0 },
		{ "10 s", -EINVAL, 0 },       { "0s", -EINVAL, 0 },
		{ "nan", -EINVAL, 0 },        { "1e30h", -ERANGE, 0 },
		{ "inf", -EINVAL, 0 },        { "5sec", -EINVAL, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t ns = 0;
		int err = parse_duration_ns(cases[i].in, &ns);

		ASSERT_EQ(err, cases[i].err, cases[i].in);
		if (!cases[i].err)
			ASSERT_EQ(ns, cases[i].ns, cases[i].in);
	}
	ASSERT_EQ(parse_duration_ns(NULL, &(uint64_t){ 0 }), -EINVAL, "NULL");
}

void test_parse_u64(void)
{
	uint64_t v = 0;

	ASSERT_OK(parse_u64("99", 1, 1000, &v), "99");
	ASSERT_EQ(v, 99, "99 value");
	ASSERT_EQ(parse_u64("0", 1, 1000, &v), -ERANGE, "below min");
	ASSERT_EQ(parse_u64("1001", 1, 1000, &v), -ERANGE, "above max");
	ASSERT_EQ(parse_u64("12a", 1, 1000, &v), -EINVAL, "trailing");
	ASSERT_EQ(parse_u64("-5", 0, 1000, &v), -EINVAL, "negative");
	ASSERT_EQ(parse_u64(" 5", 0, 1000, &v), -EINVAL, "space");
	ASSERT_EQ(parse_u64("99999999999999999999999", 0, UINT64_MAX, &v), -ERANGE, "overflow");
}

void test_parse_size(void)
{
	uint64_t v = 0;

	ASSERT_OK(parse_size("512", &v), "512");
	ASSERT_EQ(v, 512, "512 value");
	ASSERT_OK(parse_size("4k", &v), "4k");
	ASSERT_EQ(v, 4096, "4k value");
	ASSERT_OK(parse_size("64MiB", &v), "64MiB");
	ASSERT_EQ(v, 64ULL << 20, "64MiB value");
	ASSERT_OK(parse_size("2G", &v), "2G");
	ASSERT_EQ(v, 2ULL << 30, "2G value");
	ASSERT_EQ(parse_size("3 k", &v), -EINVAL, "space");
	ASSERT_EQ(parse_size("3q", &v), -EINVAL, "unit");
}
