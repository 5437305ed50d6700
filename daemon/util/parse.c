// SPDX-License-Identifier: Apache-2.0
/* parse: durations, sizes and bounded integers, rejecting anything partial. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/parse.h"

int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/* Split "<number><unit>" into a finite non-negative double and the unit. */
static int split_number(const char *s, double *num, const char **unit)
{
	char *end;

	if (!s || !(isdigit((unsigned char)*s) || *s == '.'))
		return -EINVAL;
	errno = 0;
	*num = strtod(s, &end);
	if (errno || end == s || !isfinite(*num) || *num < 0)
		return -EINVAL;
	*unit = end;
	return 0;
}

struct unit {
	const char *name;
	double mult;
};

/* "<number><unit>" with unit from the table (case-insensitive if asked);
 * the product must fit in a u64. */
static int parse_scaled(const char *s, const struct unit *units, size_t n, int icase,
			uint64_t *out)
{
	const char *unit;
	double num, v;
	int err;

	err = split_number(s, &num, &unit);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		if (icase ? strcasecmp(unit, units[i].name) : strcmp(unit, units[i].name))
			continue;
		v = num * units[i].mult;
		if (v >= 1.8e19)
			return -ERANGE;
		*out = (uint64_t)v;
		return 0;
	}
	return -EINVAL;
}

int parse_duration_ns(const char *s, uint64_t *ns)
{
	static const struct unit units[] = {
		{ "", 1e9 },  { "ns", 1 },   { "us", 1e3 },     { "ms", 1e6 },
		{ "s", 1e9 }, { "m", 60e9 }, { "h", 3600e9 },
	};
	uint64_t v;
	int err;

	err = parse_scaled(s, units, sizeof(units) / sizeof(units[0]), 0, &v);
	if (err)
		return err;
	if (v < 1)
		return -EINVAL;
	*ns = v;
	return 0;
}

int parse_size(const char *s, uint64_t *bytes)
{
	static const struct unit units[] = {
		{ "", 1 },
		{ "b", 1 },
		{ "k", 1024.0 },
		{ "kb", 1024.0 },
		{ "kib", 1024.0 },
		{ "m", 1024.0 * 1024 },
		{ "mb", 1024.0 * 1024 },
		{ "mib", 1024.0 * 1024 },
		{ "g", 1024.0 * 1024 * 1024 },
		{ "gb", 1024.0 * 1024 * 1024 },
		{ "gib", 1024.0 * 1024 * 1024 },
	};

	return parse_scaled(s, units, sizeof(units) / sizeof(units[0]), 1, bytes);
}
