/* wrap_alloc.h: the allocation functions a test replaces with link-time
 * --wrap (-Wl,--wrap=malloc,...; tests/reliability/meson.build): the real
 * ones, and the wrappers the test defines.  test_no_malloc counts the
 * library's allocations through them, test_alloc_fail fails the N-th. */
#ifndef WRAP_ALLOC_H
#define WRAP_ALLOC_H

#include <stddef.h>

void *__real_malloc(size_t);
void *__real_calloc(size_t, size_t);
void *__real_realloc(void *, size_t);
void *__real_aligned_alloc(size_t, size_t);
int __real_posix_memalign(void **, size_t, size_t);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t a, size_t n);
int __wrap_posix_memalign(void **out, size_t a, size_t n);

#endif
