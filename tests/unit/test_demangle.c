// SPDX-License-Identifier: Apache-2.0
/* demangle: C++ names in pprof's simplified form and in full (checked
 * against c++filt), Rust legacy names (a program built here with rustc),
 * names that are not mangled, and garbage. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "symbolize/demangle.h"
#include "symbolize/symbolizer.h"
#include "symfix.h"

void test_demangle_table(void)
{
	static const struct {
		const char *mangled;
		const char *simple; /* NULL: not demangled */
	} cases[] = {
		{ "_ZN3app7do_workEi", "app::do_work" },
		{ "_ZNK3app6Worker3runEv", "app::Worker::run" },
		{ "_ZN3app6WorkerC2Ev", "app::Worker::Worker" },
		{ "_ZN3app6WorkerD2Ev", "app::Worker::~Worker" },
		{ "_ZN3app5applyIiEET_S1_", "app::apply" },
		{ "_ZNSt6vectorIiSaIiEE9push_backERKi", "std::vector::push_back" },
		{ "_ZN12_GLOBAL__N_16helperEi", "(anonymous namespace)::helper" },
		{ "_ZN3appplERKNS_1VES2_", "app::operator+" },
		{ "_ZN3app1VclEi", "app::V::operator()" },
		{ "_ZN3app1VltERKS0_", "app::V::operator<" },
		{ "_ZN3app1VlsEi", "app::V::operator<<" },
		{ "_ZN3app1VixEi", "app::V::operator[]" },
		{ "_ZN3app1VcviEv", "app::V::operator int" },
		{ "_Znwm", "operator new" },
		{ "_ZdlPvm", "operator delete" },
		{ "_ZN3app7do_workEi.constprop.0", "app::do_work" },
		{ "_ZN3app7do_workEi.cold", "app::do_work" },
		{ "_ZZ4mainENKUliE_clEi", "main::{lambda(int)#1}::operator()" },
		{ "_ZNSt8functionIFviEEclEi", "std::function::operator()" },
		{ "_ZN5outer5innerIN3app1VEE3getIiEERKS2_T_", "outer::inner::get" },
		/* Rust legacy: hash dropped, escapes undone */
		{ "_ZN1r4main17h086b0cfd890a8ea9E", "r::main" },
		{ "_ZN3std2rt10lang_start28_$u7b$$u7b$closure$u7d$$u7d$17ha86af84d9cc65291E",
		  "std::rt::lang_start::{{closure}}" },
		{ "_ZN46_$LT$Test$u20$as$u20$core..ops..drop..Drop$GT$4drop17h0123456789abcdefE",
		  "<Test as core::ops::drop::Drop>::drop" },
		/* not ours to demangle */
		{ "main", NULL },
		{ "dw_top", NULL },
		{ "_R", NULL },
		{ "_RNvCs1234_4test4main", NULL },
		{ "_Z", NULL },
		{ "_Zfoo", NULL },
		{ "_ZN3app", NULL },
		{ "", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *d = sym_demangle(cases[i].mangled, SYM_DEMANGLE_SIMPLE);

		if (cases[i].simple)
			ASSERT_STREQ(d, cases[i].simple, cases[i].mangled);
		else
			ASSERT_TRUE(d == NULL, cases[i].mangled);
		free(d);
	}
	ASSERT_TRUE(sym_demangle(NULL, SYM_DEMANGLE_SIMPLE) == NULL, "NULL");
	ASSERT_TRUE(sym_demangle("_ZN3app7do_workEi", SYM_DEMANGLE_NONE) == NULL, "NONE");
}

/* FULL is the demangler's own text: compare with binutils' c++filt. */
void test_demangle_full_matches_cxxfilt(void)
{
	static const char *const names[] = {
		"_ZN3app7do_workEi",	  "_ZNK3app6Worker3runEv", "_ZN3app5applyIiEET_S1_",
		"_ZNSt6vectorIiSaIiEE9push_backERKi", "_ZZ4mainENKUliE_clEi",
		"_ZN12_GLOBAL__N_16helperEi", "_ZN3app1VcviEv",
	};
	char want[1024];

	if (!fx_have("c++filt"))
		return;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *d = sym_demangle(names[i], SYM_DEMANGLE_FULL);

		if (ASSERT_TRUE(fx_capture(want, sizeof(want), "c++filt '%s'", names[i]), "c++filt"))
			ASSERT_STREQ(d, want, names[i]);
		free(d);
	}
}

/* Long, deep and broken inputs: a name, or NULL, never a crash. */
void test_demangle_garbage(void)
{
	char buf[DEMANGLE_MAX_INPUT + 64];
	uint64_t rng = 0x2545f4914f6cdd1dULL;
	char *d;

	memset(buf, 'N', sizeof(buf) - 1);
	buf[0] = '_';
	buf[1] = 'Z';
	buf[sizeof(buf) - 1] = '\0';
	ASSERT_TRUE(sym_demangle(buf, SYM_DEMANGLE_SIMPLE) == NULL, "over the input limit");
	/* nested templates a thousand deep, within the limit */
	strcpy(buf, "_ZN1a1fI");
	for (int i = 0; i < 300; i++)
		strcat(buf, "N1bIi");
	d = sym_demangle(buf, SYM_DEMANGLE_SIMPLE);
	free(d);
	for (int round = 0; round < 2000; round++) {
		size_t n = 2 + round % 40;

		buf[0] = '_';
		buf[1] = 'Z';
		for (size_t k = 2; k < n; k++) {
			static const char alphabet[] = "NEIZSTCDv0123456789_$.abcdKRPOLivcl";

			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			buf[k] = alphabet[rng % (sizeof(alphabet) - 1)];
		}
		buf[n] = '\0';
		d = sym_demangle(buf, round & 1 ? SYM_DEMANGLE_FULL : SYM_DEMANGLE_SIMPLE);
		if (d)
			ASSERT_TRUE(strlen(d) > 0, "non-empty result");
		free(d);
	}
}

/* A Rust program built here: its legacy-mangled function comes back as
 * crate::function, matching the mangled symbol nm lists. */
void test_demangle_rust_program(void)
{
	static struct symfix f;
	static const char src[] =
		"use std::io::BufRead;\n"
		"#[inline(never)] fn burn(n: u64) -> u64 { let mut s = 0u64;"
		" for i in 0..n { s = s.wrapping_add(i * i % 7); } s }\n"
		"fn main() {\n"
		"  println!(\"burn {:x}\", burn as usize);\n"
		"  println!(\"ready\");\n"
		"  let stdin = std::io::stdin();\n"
		"  for _ in stdin.lock().lines() {}\n"
		"  std::process::exit((burn(3) == 99) as i32);\n"
		"}\n";
	struct symbolizer *s = NULL;
	char mangled[512];
	struct fxchild c = { .pid = -1 };
	struct sym_frame fr;

	if (!fx_have("rustc"))
		return;
	if (!ASSERT_TRUE(fx_mkdir(&f, "rusttest"), "mkdtemp"))
		return;
	if (!ASSERT_OK(fx_write(fx_path(&f, "rdemo.rs"), src, strlen(src)), "write") ||
	    fx_run("cd %s && rustc -O -C debuginfo=0 rdemo.rs -o rdemo 2>/dev/null", f.dir))
		goto out;
	if (!ASSERT_TRUE(fx_capture(mangled, sizeof(mangled),
				    "nm %s | awk '$3 ~ /5rdemo4burn17h/ { print $3 }'",
				    fx_path(&f, "rdemo")), "burn in nm") ||
	    !ASSERT_TRUE(!strncmp(mangled, "_ZN5rdemo4burn17h", 17), mangled))
		goto out;
	s = symbolizer__new();
	if (!ASSERT_OK_PTR(s, "new") || !fx_start1(&c, fx_path(&f, "rdemo")))
		goto out;
	if (ASSERT_OK(symbolizer__user(s, c.pid, fx_sym(&c, "burn") + 1, &fr), "lookup") &&
	    ASSERT_EQ(fr.nlines, 1, "one line")) {
		ASSERT_STREQ(fr.lines[0].name, "rdemo::burn", "demangled, hash dropped");
		ASSERT_STREQ(fr.lines[0].system_name, mangled, "mangled kept");
	}
out:
	fx_stop(&c);
	symbolizer__free(s);
	fx_rmdir(f.dir);
}
