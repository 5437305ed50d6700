// SPDX-License-Identifier: Apache-2.0
#include "harness.h"
#include "unwind/unwind.h"

void test_unwind_smoke(void)
{
	struct unwind_stats st;
	struct unwind_table *t = unwind_table__build("/usr/lib/x86_64-linux-gnu/libc.so.6", &st);

	if (!ASSERT_OK_PTR(t, "build"))
		return;
	printf("rows %zu rules %zu fdes %zu cies %zu bytes %zu gaps %zu stop %zu sig %zu\n", st.rows, st.rules, st.fdes, st.cies, st.table_bytes, st.gap_rows, st.stop_rows, st.signal_ranges);
	for (int i = 0; i < PROFD_UNW_INVALID_MAX; i++)
		if (st.invalid_rows[i])
			printf("  invalid %s %zu\n", unwind_invalid__str(i), st.invalid_rows[i]);
	for (int i = 0; i < UNWIND_ERR_MAX; i++)
		if (st.errors[i])
			printf("  err %s %zu\n", unwind_err__str(i), st.errors[i]);
	unwind_table__free(t);
}
