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
 * blocks of wg_block_rows(n, parts) columns, one block per thread in thread
 * order.  For dW^T = x^T dy those columns are the rows of the weight, so
 * each core writes the gradient rows of its block; the matmul VJP records
 * the number of blocks in the parameter (wg_param.grad_blocks).  Zeroing the
 * gradient and the optimiser's step then cut the parameter into the same
 * blocks of rows on the same threads, and every row stays in the cache of
 * the core that uses it.  A serial SGD step after a split backward pulled
 * half of each weight matrix across cores: 10 us for the 784-128-10 step at
 * 1 thread, 41 us at 2. */

/* Rows (or columns) per block when n are cut into `parts` blocks: a
 * multiple of 16, so a block starts on a cache line for f32 and f64 rows. */
static inline int64_t wg_block_rows(int64_t n, int parts)
{
    return ((n + parts - 1) / parts + 15) / 16 * 16;
}

/* BODY once per block of rows, with blk its index and [lo, hi) its range of
 * elements (rows of row_len elements).  One block (parts <= 1) runs inline:
 * an OpenMP region of one thread still cost about a microsecond. */
#define WG_ROW_BLOCKS(parts, rows, row_len, blk, lo, hi, BODY)                                    \
    do {                                                                                          \
        const int p_ = (parts);                                                                   \
        const int64_t rows_ = (rows);                                                             \
        const size_t rl_ = (row_len);                                                             \
        if (p_ <= 1) {                                                                            \
            const int blk = 0;                                                                    \
            const size_t lo = 0, hi = (size_t)rows_ * rl_;                                        \
            (void)blk;                                                                            \
            BODY;                                                                                 \
            break;                                                                                \
        }                                                                                         \
        const int64_t br_ = wg_block_rows(rows_, p_);                                             \
        _Pragma("omp parallel for num_threads(p_) schedule(static, 1)")                           \
        for (int blk = 0; blk < p_; blk++) {                                                      \
            const int64_t r0_ = blk * br_, r1_ = r0_ + br_ < rows_ ? r0_ + br_ : rows_;           \
            if (r0_ >= rows_) continue;                                                           \
            const size_t lo = (size_t)r0_ * rl_, hi = (size_t)r1_ * rl_;                          \
            BODY;                                                                                 \
        }                                                                                         \
    } while (0)

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
static inline size_t wg_param_row_len(const wg_param *p)
{
    return p->ndim < 1 || p->shape[0] < 1 ? p->numel : p->numel / (size_t)p->shape[0];
}
static inline int64_t wg_param_rows(const wg_param *p)
{
    return p->ndim < 1 || p->shape[0] < 1 ? 1 : p->shape[0];
}
/* Block blk of `parts` of p's elements, as WG_ROW_BLOCKS cuts them: [*lo, *hi),
 * empty past the last row. */
static inline void wg_param_block(const wg_param *p, int parts, int blk, size_t *lo, size_t *hi)
{
    const int64_t rows = wg_param_rows(p), br = parts <= 1 ? rows : wg_block_rows(rows, parts);
    const int64_t r0 = blk * br < rows ? blk * br : rows, r1 = r0 + br < rows ? r0 + br : rows;
    *lo = (size_t)r0 * wg_param_row_len(p);
    *hi = (size_t)r1 * wg_param_row_len(p);
}

#endif
