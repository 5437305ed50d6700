/* SPDX-License-Identifier: Apache-2.0 */
/* array: growable arrays of fixed-size elements (the symbolizer's indexes),
 * doubling from 16, with the bytes they add counted into a budget. */
#ifndef PROFD_UTIL_ARRAY_H
#define PROFD_UTIL_ARRAY_H

#include <stddef.h>

/* Room in *arr (elem bytes each, *cap of them) for need elements; the
 * capacity added is added to *bytes. 0 or -ENOMEM (*arr unchanged). */
int array__reserve(void **arr, size_t *cap, size_t need, size_t elem, size_t *bytes);

/* Append the elem bytes at v as element *n of *arr, growing it. 0 or
 * -ENOMEM. */
int array__push(void **arr, size_t *n, size_t *cap, size_t elem, const void *v, size_t *bytes);

#endif
