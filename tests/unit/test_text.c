// SPDX-License-Identifier: Apache-2.0
/* text: UTF-8 validation, sanitizers; ptype names. */
#include <string.h>

#include "harness.h"
#include "util/text.h"

void test_text_utf8_valid(void)
{
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
		{ "", true },
		{ "plain ascii", true },
		{ "caf\xc3\xa9", true },                 /* é */
		{ "\xe2\x82\xac", true },                /* € */
		{ "\xf0\x9f\x98\x80", true },            /* U+1F600 */
		{ "\xc3", false },                       /* truncated */
		{ "\xe2\x82", false },
		{ "\x80", false },                       /* lone continuation */
		{ "\xc0\xaf", false },                   /* overlong '/' */
		{ "\xe0\x80\xaf", false },               /* overlong */
		{ "\xed\xa0\x80", false },               /* surrogate U+D800 */
		{ "\xf4\x90\x80\x80", false },           /* > U+10FFFF */
		{ "\xff", false },
		{ "ok\xc3\xa9\xff", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ASSERT_EQ(utf8_valid(cases[i].s, strlen(cases[i].s)), cases[i].ok, cases[i].s);
}

void test_text_utf8_sanitize(void)
{
	char out[16];

	ASSERT_EQ(utf8_sanitize(out, sizeof(out), "caf\xc3\xa9\xff\n"), 7, "len");
	ASSERT_STREQ(out, "caf\xc3\xa9??", "bad byte and newline replaced");
	/* Truncation never splits a character: 14 bytes of room, € is 3. */
	utf8_sanitize(out, sizeof(out), "0123456789abc\xe2\x82\xac");
	ASSERT_STREQ(out, "0123456789abc", "cut before a partial character");
	ASSERT_TRUE(utf8_valid(out, strlen(out)), "still valid");
	utf8_sanitize(out, 1, "abc");
	ASSERT_STREQ(out, "", "room for NUL only");
}

void test_text_path_component(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "nginx", "nginx" },       { "../etc", "_._etc" },  { "..", "_." },
		{ ".", "_" },               { "", "_" },              { "a/b", "a_b" },
		{ "kworker/0:1", "kworker_0_1" }, { ".hidden", "_hidden" },
		{ "caf\xc3\xa9", "caf__" }, { "x\ny", "x_y" },        { "py-3.11+", "py-3.11+" },
	};
	char out[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		path_component_sanitize(out, sizeof(out), cases[i].in);
		ASSERT_STREQ(out, cases[i].out, cases[i].in);
	}
	ASSERT_EQ(path_component_sanitize(out, 5, "abcdefgh"), 4, "bounded");
	ASSERT_STREQ(out, "abcd", "bounded value");
}
