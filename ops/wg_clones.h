/* wg_clones.h: WG_CLONES compiles a hot loop three times, for AVX-512
 * (x86-64-v4), AVX2+FMA (x86-64-v3) and baseline x86-64, and the dynamic
 * loader picks the copy this CPU runs (GCC's target_clones).  The library is
 * built for baseline x86-64, whose 4-wide SSE2 loops ran the 784-128-10 SGD
 * step at about half the speed of the wide ones.  Not installed: for the
 * library's own kernels (ops/, optim/). */
#ifndef WG_CLONES_H
#define WG_CLONES_H

#include "wg_tensor.h"

#ifdef _OPENMP
#include <omp.h>
#define WG_OMP 1
#else /* built without OpenMP: one thread, no blocks */
#define WG_OMP 0
static inline int omp_get_thread_num(void) { return 0; }
#endif

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define WG_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define WG_CLONES
#endif

/* ---- blocks of rows, one per thread --------------------------------------
 *
 * On several threads (wg_set_num_threads) wg_gemm cuts C's columns into
 * blocks (wg_block_span), one block per thread in thread order.  For dW^T = x^T dy those columns are the rows of the weight, so
 * each core writes the gradient rows of its block; the matmul VJP records
 * the number of blocks in the parameter (wg_param.grad_blocks).  Zeroing the
 * gradient and the optimiser's step then cut the parameter into the same
 * blocks of rows on the same threads, and every row stays in the cache of
 * the core that uses it.  A serial SGD step after a split backward pulled
 * half of each weight matrix across cores: 10 us for the 784-128-10 step at
 * 1 thread, 41 us at 2. */

/* Block blk of n rows (or columns) cut into `parts` blocks, [*lo, *hi):
 * a multiple of 16 per block, so a block starts on a cache line for f32 and
 * f64 rows; blocks past the end are empty.  wg_gemm's column blocks and
 * the parameters' row blocks are both cut here. */
static inline void wg_block_span(int64_t n, int parts, int blk, int64_t *lo, int64_t *hi)
{
    const int64_t size = parts <= 1 ? n : ((n + parts - 1) / parts + 15) / 16 * 16;
    *lo = blk * size < n ? blk * size : n;
    *hi = *lo + size < n ? *lo + size : n;
}

/* The blocks a parameter's gradient was last written in, as far as this
 * process runs threads now: 1 unless a split backward wrote it. */
#define WG_MAX_BLOCKS 64
static inline int wg_param_blocks(const wg_param *p)
{
    int b = WG_OMP ? p->grad_blocks : 1, t = wg_get_num_threads();
    if (b > t) b = t;
    if (b > WG_MAX_BLOCKS) b = WG_MAX_BLOCKS;
    return b < 1 || p->ndim < 1 || p->shape[0] < 1 ? 1 : b;
}
/* Block blk of `parts` of p's elements, rows of dim 0 cut by wg_block_span:
 * [*lo, *hi). */
static inline void wg_param_block(const wg_param *p, int parts, int blk, size_t *lo, size_t *hi)
{
    const bool rows = p->ndim >= 1 && p->shape[0] >= 1;
    const size_t row_len = rows ? p->numel / (size_t)p->shape[0] : p->numel;
    int64_t r0, r1;
    wg_block_span(rows ? p->shape[0] : 1, parts, blk, &r0, &r1);
    *lo = (size_t)r0 * row_len;
    *hi = (size_t)r1 * row_len;
}

/* BODY once per block of p's rows (wg_param_blocks), with blk its index and
 * [lo, hi) its elements, block blk on thread blk.  One block runs inline: an
 * OpenMP region of one thread still cost about a microsecond. */
#define WG_PARAM_BLOCKS(p, blk, lo, hi, BODY)                                                     \
    do {                                                                                          \
        const int p_ = wg_param_blocks(p);                                                        \
        if (p_ <= 1) {                                                                            \
            const int blk = 0;                                                                    \
            const size_t lo = 0, hi = (p)->numel;                                                 \
            (void)blk;                                                                            \
            BODY;                                                                                 \
            break;                                                                                \
        }                                                                                         \
        _Pragma("omp parallel for num_threads(p_) schedule(static, 1)")                           \
        for (int blk = 0; blk < p_; blk++) {                                                      \
            size_t lo, hi;                                                                        \
            wg_param_block(p, p_, blk, &lo, &hi);                                                 \
            if (hi > lo) BODY;                                                                    \
        }                                                                                         \
    } while (0)

#endif
