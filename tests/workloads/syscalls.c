// SPDX-License-Identifier: Apache-2.0
/* syscalls: spends its time in the kernel reading /dev/zero in 1 MiB
 * chunks from read_zeros(), so kernel frames (vfs_read, ...) dominate.
 * The syscall instruction is issued inline: glibc's read() has no frame
 * pointer, and a frame-pointer walk from inside it would skip read_zeros.
 * Usage: syscalls SECONDS. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static char buf[1 << 20];

__attribute__((noinline)) void read_zeros(int fd)
{
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(SYS_read), "D"(fd), "S"(buf), "d"(sizeof(buf))
			 : "rcx", "r11", "memory");
	if (ret < 0)
		exit(1);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 10;
	struct timespec a, b;
	int fd = open("/dev/zero", O_RDONLY);

	if (fd < 0)
		return 1;
	printf("ready\n");
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &a);
	do {
		for (int i = 0; i < 64; i++)
			read_zeros(fd);
		clock_gettime(CLOCK_MONOTONIC, &b);
	} while (b.tv_sec - a.tv_sec + (b.tv_nsec - a.tv_nsec) / 1e9 < secs);
	return 0;
}
