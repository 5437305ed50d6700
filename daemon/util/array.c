// SPDX-License-Identifier: Apache-2.0
/* array: see array.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/array.h"

int array__reserve(void **arr, size_t *cap, size_t need, size_t elem, size_t *bytes)
{
	size_t ncap = *cap ? *cap : 16;
	void *a;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	a = realloc(*arr, ncap * elem);
	if (!a)
		return -ENOMEM;
	*bytes += (ncap - *cap) * elem;
	*arr = a;
	*cap = ncap;
	return 0;
}

int array__push(void **arr, size_t *n, size_t *cap, size_t elem, const void *v, size_t *bytes)
{
	if (array__reserve(arr, cap, *n + 1, elem, bytes))
		return -ENOMEM;
	memcpy((char *)*arr + *n * elem, v, elem);
	(*n)++;
	return 0;
}
