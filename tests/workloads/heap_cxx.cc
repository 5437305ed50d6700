// SPDX-License-Identifier: Apache-2.0
/* heap_cxx: C++ operator new/new[]/delete from known callers.
 *   make_objects  new Obj (1000 B) N times, kept
 *   make_arrays   new char[3000] N times, kept
 *   churn_objects new + delete Obj N times
 * Usage: heap_cxx N (waits for a line on stdin first). */
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

struct Obj {
	char data[1000];
};

static Obj *volatile objs[100000];
static char *volatile arrays[100000];

__attribute__((noinline)) void make_objects(int n)
{
	for (int i = 0; i < n; i++)
		objs[i] = new Obj;
}

__attribute__((noinline)) void make_arrays(int n)
{
	for (int i = 0; i < n; i++)
		arrays[i] = new char[3000];
}

__attribute__((noinline)) void churn_objects(int n)
{
	for (int i = 0; i < n; i++) {
		Obj *volatile o = new Obj;
		o->data[0] = 1;
		delete o;
	}
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100;
	char line[16];

	if (n > 100000)
		n = 100000;
	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	make_objects(n);
	make_arrays(n);
	churn_objects(n);
	sleep(1);
	return 0;
}
