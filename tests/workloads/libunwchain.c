// SPDX-License-Identifier: Apache-2.0
/* libunwchain.so: two frames inside a shared library, built with frame
 * pointers (the default workload flags), calling back into code without
 * them (for the unwind workload: a mixed FP / no-FP chain through a PLT). */

__attribute__((noinline)) static unsigned long lib_inner(unsigned long (*cb)(unsigned long),
							   unsigned long x)
{
	volatile unsigned long r = cb(x);

	return r + 1;
}

__attribute__((noinline)) unsigned long unw_lib_outer(unsigned long (*cb)(unsigned long),
						     unsigned long x)
{
	volatile unsigned long r = lib_inner(cb, x);

	return r + 1;
}
