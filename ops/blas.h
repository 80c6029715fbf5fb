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

/* Choose BLIS kernels (once, before BLIS initialises). */
void wg_blas_init(void);

#endif
