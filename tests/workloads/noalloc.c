// SPDX-License-Identifier: Apache-2.0
/* noalloc: a static program with no C library and so no allocator: profd
 * must refuse it with a clear error. Says "ready" and sleeps. */
// cflags: -nostdlib -static -fno-stack-protector -O1
static long sys3(long nr, long a, long b, long c)
{
	long ret;

	__asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return ret;
}

void _start(void)
{
	sys3(1, 1, (long)"ready\n", 6);   /* write */
	for (;;)
		sys3(34, 0, 0, 0);         /* pause */
}
