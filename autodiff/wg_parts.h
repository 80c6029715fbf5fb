/* wg_parts.h: cutting work into one block per thread, for ops/ and optim/.
 * Private to the library (not installed) and below both: it knows parameters
 * (wg_tensor.h), never the tape's internals.
 *
 * Threads: the thread count is a process-wide default (wg_set_num_threads),
 * but every call that splits work reads it once, at its start, and carries
 * that count through: a matmul, a backward pass, a zero_grad, an optimiser
 * step.  So another thread that changes the default while a step runs can
 * change how the next call splits, never split one call inconsistently.
 *
 * Blocks of rows: on several threads wg_gemm cuts C's columns into blocks
 * (wg_block_span), one block per thread in thread order.  For dW^T = x^T dy
 * those columns are the rows of the weight, so each core writes the gradient
 * rows of its block; the matmul VJP notes the number of blocks in the
 * parameter's private part (wg_parts_note).  Zeroing the gradient and the
 * optimiser's step then cut the parameter into the same blocks of rows on the
 * same threads, and every row stays in the cache of the core that uses it.  A
 * serial SGD step after a split backward pulled half of each weight matrix
 * across cores: 10 us for the 784-128-10 step at 1 thread, 41 us at 2.  The
 * note is a hint for locality only: any number of blocks gives the same
 * weights, bit for bit (only a gradient norm's last bits depend on it). */
#ifndef WG_PARTS_H
#define WG_PARTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wg_tensor.h"

#ifdef _OPENMP
#include <omp.h>
#define WG_OMP 1
#define wg_omp_thread_num() omp_get_thread_num()
#define wg_omp_num_threads() omp_get_num_threads()
#else /* built without OpenMP (as the ThreadSanitizer build is): one thread, no blocks */
#define WG_OMP 0
#define wg_omp_thread_num() 0
#define wg_omp_num_threads() 1
#endif

/* A parameter's step taken from its gradient's rows as an op makes them,
 * so the whole gradient is never stored (optim/'s wg_optim_backward_begin
 * sets one on each listed parameter; ops/matmul.c's VJP uses it).  An op
 * whose VJP alone makes a parameter's whole gradient on `tape`, while that
 * tape's gradient hook is set (so not in grad_of), may, instead of adding
 * it to p->grad:
 *   - get its scratch memory from scratch(bytes, ctx) (NULL: write p->grad
 *     as usual), kept by the sink between passes, so no pass allocates;
 *   - call begin(p, ctx) once: false means "write p->grad as usual";
 *   - after true, hand over every row of the gradient exactly once, in
 *     blocks: rows(p, r0, r1, g, ctx) with g rows [r0, r1) of dim 0, row-major
 *     and contiguous, each element the bits the ordinary VJP would have added
 *     to a zero p->grad, and every element finite.  rows may run on several
 *     threads at once for disjoint rows, and may write g (scratch).
 * p->grad is then left as it was (zero) and the parameter's leaf is not
 * reported to the tape's gradient hook. */
typedef struct wg_step_sink {
    const wg_tape *tape;
    void *(*scratch)(size_t bytes, void *ctx);
    bool (*begin)(wg_param *p, void *ctx);
    void (*rows)(wg_param *p, int64_t r0, int64_t r1, void *g, void *ctx);
    void *ctx;
} wg_step_sink;

/* The private part of a parameter made by wg_param_new (wg_param.priv). */
struct wg_param_priv {
    int grad_blocks; /* blocks of rows the last backward wrote grad in; 0 or 1: one */
    const wg_step_sink *sink; /* NULL, or the step in backward's (see above) */
};

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

#define WG_MAX_BLOCKS 64
/* The thread count for one call that splits work: the default, read once. */
static inline int wg_parts_threads(void)
{
    const int t = wg_get_num_threads();
    return !WG_OMP || t < 1 ? 1 : t < WG_MAX_BLOCKS ? t : WG_MAX_BLOCKS;
}
/* A backward that wrote p's gradient in `parts` blocks of rows says so. */
static inline void wg_parts_note(wg_param *p, int parts)
{
    if (p->priv) p->priv->grad_blocks = parts;
}
/* The blocks p's gradient was last written in, for a call running on
 * `threads` threads (wg_parts_threads): 1 unless a split backward wrote it. */
static inline int wg_param_blocks(const wg_param *p, int threads)
{
    int b = WG_OMP && p->priv ? p->priv->grad_blocks : 1;
    if (b > threads) b = threads;
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

/* BODY once per block of p's rows (wg_param_blocks(p, threads)), with blk
 * its index and [lo, hi) its elements, block blk on thread blk.  One block
 * runs inline: an OpenMP region of one thread still cost about a
 * microsecond. */
#define WG_PARAM_BLOCKS(p, threads, blk, lo, hi, BODY)                                            \
    do {                                                                                          \
        const int p_ = wg_param_blocks(p, threads);                                               \
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
