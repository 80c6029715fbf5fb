/* blas.h: the one door to BLIS (private to ops/). */
#ifndef WG_BLAS_H
#define WG_BLAS_H

#include <stddef.h>
#include <stdint.h>

/* C[m,n] = alpha * A[m,k] * B[k,n] + beta * C, each matrix given by its base
 * pointer and its row and column strides in elements, so a transpose is only
 * a swap of strides.  dt is WG_F32 or WG_F64; k = 0 scales C by beta.
 * Returns the number of threads whose blocks of C's columns (wg_parts.h)
 * wrote C: 1 when it ran on this thread alone. */
int wg_gemm(int dt, int64_t m, int64_t n, int64_t k, double alpha, const void *a, int64_t rs_a,
             int64_t cs_a, const void *b, int64_t rs_b, int64_t cs_b, double beta, void *c,
             int64_t rs_c, int64_t cs_c);
/* The same on `threads` threads, a count the caller read once for its whole
 * call (wg_parts_threads); wg_gemm reads the default itself. */
int wg_gemm_on(int threads, int dt, int64_t m, int64_t n, int64_t k, double alpha, const void *a, int64_t rs_a,
               int64_t cs_a, const void *b, int64_t rs_b, int64_t cs_b, double beta, void *c,
               int64_t rs_c, int64_t cs_c);

/* A product made by blocks of C's columns, for a VJP that hands a gradient
 * over block by block (wg_parts.h's wg_step_sink).  wg_gemm_cols writes
 * columns [j0, j1) of C = A B into c, which holds those columns only
 * (column j0 at c, strides rs_c and cs_c): the bits wg_gemm_on(threads, ...,
 * alpha 1, beta 1) adds to a zero C for the whole product, on any number of
 * threads, because the block takes the kernel the whole product takes and
 * every kernel sums each element in an order that does not depend on the
 * columns around it.  wg_gemm_cols_plan says whether a product is worth
 * cutting so: 0 if not (empty, a product BLIS makes, whose every call packs
 * A again, or a kernel that may fall back to BLIS), else how many threads
 * the blocks may run on (1: the small kernels run on one thread, as the
 * whole product would). */
int wg_gemm_cols_plan(int threads, int dt, int64_t m, int64_t n, int64_t k, int64_t rs_a, int64_t cs_a,
                      int64_t rs_b, int64_t cs_b, int64_t rs_c, int64_t cs_c);
void wg_gemm_cols(int dt, int64_t m, int64_t n, int64_t k, const void *a, int64_t rs_a, int64_t cs_a, const void *b,
                  int64_t rs_b, int64_t cs_b, int64_t j0, int64_t j1, void *c, int64_t rs_c, int64_t cs_c);

/* Choose BLIS kernels (once, before BLIS initialises). */
void wg_blas_init(void);

#endif
