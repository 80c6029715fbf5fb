/* wg_clones.h: WG_CLONES compiles a hot loop three times, for AVX-512
 * (x86-64-v4), AVX2+FMA (x86-64-v3) and baseline x86-64, and the dynamic
 * loader picks the copy this CPU runs (GCC's target_clones).  The library is
 * built for baseline x86-64, whose 4-wide SSE2 loops ran the 784-128-10 SGD
 * step at about half the speed of the wide ones.  Not installed: for the
 * library's own kernels (ops/, optim/). */
#ifndef WG_CLONES_H
#define WG_CLONES_H

#include "wg_parts.h" /* WG_OMP and the per-thread blocks */

/* Not under ASan or TSan: the clones' resolvers are ifuncs, run while the
 * loader relocates, before the sanitizer's runtime is set up (a TSan build
 * died before main in every binary), so sanitized builds take the baseline
 * loops. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(__SANITIZE_THREAD__)
#define WG_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define WG_CLONES
#endif

#endif
