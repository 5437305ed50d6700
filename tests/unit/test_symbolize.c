// SPDX-License-Identifier: Apache-2.0
/* symbolize: placeholder */
#include "harness.h"
#include "symbolize/symbolizer.h"

void test_symbolize_smoke(void)
{
	struct symbolizer *s = symbolizer__new();

	ASSERT_OK_PTR(s, "new");
	symbolizer__free(s);
}
