// SPDX-License-Identifier: Apache-2.0
/* build: one table from raw CFI sections — the CFI parser (cfi.c) run over
 * .eh_frame, then .debug_frame, into the table builder (table.c). */
#include <errno.h>
#include <string.h>

#include "unwind/internal.h"

struct unwind_table *unw_build(const struct unwind_input *in, struct unwind_stats *st)
{
	struct unwind_table *t = NULL;
	struct unw_builder b;
	int err;

	err = unw_builder__init(&b, in, st);
	if (err)
		goto cleanup;
	if (in->eh_frame && in->eh_frame_size) {
		err = cfi__parse_section(&b, in->eh_frame, in->eh_frame_size, in->eh_frame_vaddr,
					 false, in->max_fdes);
		if (err)
			goto cleanup;
	}
	if (in->debug_frame && in->debug_frame_size) {
		err = cfi__parse_section(&b, in->debug_frame, in->debug_frame_size, 0, true, 0);
		if (err)
			goto cleanup;
	}
	t = unw_builder__finish(&b);
	if (!t)
		err = -errno;
cleanup:
	unw_builder__done(&b);
	if (err) {
		errno = -err;
		return NULL;
	}
	return t;
}

struct unwind_table *unwind_table__build_raw(const struct unwind_input *in,
					     struct unwind_stats *st)
{
	if (st)
		memset(st, 0, sizeof(*st));
	return unw_build(in, st);
}
