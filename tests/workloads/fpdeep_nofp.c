// SPDX-License-Identifier: Apache-2.0
/* fpdeep_nofp: fpdeep.c built without frame pointers (the kernel's
 * frame-pointer walk loses the chain; the .eh_frame walker does not).
 * Usage: fpdeep_nofp [DEPTH]. */
// cflags: -fomit-frame-pointer -momit-leaf-frame-pointer
#include "fpdeep.c"
