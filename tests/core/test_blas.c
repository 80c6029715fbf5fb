/* test_blas: wg_gemm and the matmul op against a naive triple loop, BLIS
 * style, at odd sizes m, n, k in {1, 7, 33, 130}, f32 and f64, every
 * transpose of A and B (swapped strides), C row- or column-major (the VJPs
 * write gradients through a transposed operand's strides), beta 0 and 1.
 *
 * The reference is computed in long double from the same values (they are
 * representable in f32, so both dtypes see exactly the reference's inputs).
 * The normalised residual
 *
 *     r = ||C - C_ref||_F / (eps (k + 2) (|alpha| ||A||_F ||B||_F + |beta| ||C0||_F))
 *
 * is at most 1 for any correctly rounded summation order (each element's
 * error is at most (k + 2) eps times its |alpha| |a_i|.|b_j| + |beta c0|, and
 * the Frobenius norm of |A||B| is at most ||A||_F ||B||_F), so r > 1 is a
 * bug, not noise.  Typical values are far below; the largest is printed.
 *
 * beta = 0 must not read C (the forward pass hands gemm uninitialised arena
 * memory): C starts as NaN there.
 */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "core_util.h"
#include "wg_parts.h"
#include "wg_test.h"

static const int64_t sizes[] = {1, 7, 33, 130, 210};
enum { N_SIZES = sizeof sizes / sizeof sizes[0], MAXD = 210 };

static double worst[2]; /* per dtype */

static double frob(const double *x, size_t n)
{
    long double s = 0;
    for (size_t i = 0; i < n; i++) s += (long double)x[i] * x[i];
    return sqrt((double)s);
}

/* Fill n values representable in f32. */
static void fill_f32_exact(double *v, size_t n)
{
    for (size_t i = 0; i < n; i++) v[i] = (double)(float)wg_rng_normal(&cu_rng);
}

/* Store op-space matrix x [r,c] into buf, transposed (column-major) if t;
 * returns the row and column strides of the op-space view. */
static void store(wg_dtype dt, void *buf, const double *x, int64_t r, int64_t c, bool t, int64_t *rs, int64_t *cs)
{
    *rs = t ? 1 : c;
    *cs = t ? r : 1;
    for (int64_t i = 0; i < r; i++)
        for (int64_t j = 0; j < c; j++) cu_store(dt, buf, (size_t)(i * *rs + j * *cs), x[i * c + j]);
}

static void gemm_case(int64_t m, int64_t n, int64_t k)
{
    static double a[MAXD * MAXD], b[MAXD * MAXD], c0[MAXD * MAXD], got[MAXD * MAXD];
    static long double ab[MAXD * MAXD];
    static double abuf[MAXD * MAXD], bbuf[MAXD * MAXD], cbuf[MAXD * MAXD]; /* large enough for f64 */
    fill_f32_exact(a, (size_t)(m * k));
    fill_f32_exact(b, (size_t)(k * n));
    fill_f32_exact(c0, (size_t)(m * n));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            long double s = 0;
            for (int64_t p = 0; p < k; p++) s += (long double)a[i * k + p] * b[p * n + j];
            ab[i * n + j] = s;
        }
    const double na = frob(a, (size_t)(m * k)), nb = frob(b, (size_t)(k * n)), nc = frob(c0, (size_t)(m * n));
    for (int d = 0; d < 2; d++) {
        wg_dtype dt = d ? WG_F64 : WG_F32;
        double eps = d ? DBL_EPSILON : FLT_EPSILON;
        for (int tr = 0; tr < 8; tr++) {
            bool ta = tr & 1, tb = tr & 2, tc = tr & 4;
            for (int bi = 0; bi < 2; bi++) {
                double alpha = bi ? 1.0 : -0.75, beta = bi ? 1.0 : 0.0;
                int64_t rs_a, cs_a, rs_b, cs_b, rs_c, cs_c;
                store(dt, abuf, a, m, k, ta, &rs_a, &cs_a);
                store(dt, bbuf, b, k, n, tb, &rs_b, &cs_b);
                if (beta == 0) {
                    store(dt, cbuf, c0, m, n, tc, &rs_c, &cs_c);
                    for (int64_t i = 0; i < m * n; i++) cu_store(dt, cbuf, (size_t)i, NAN);
                } else {
                    store(dt, cbuf, c0, m, n, tc, &rs_c, &cs_c);
                }
                wg_gemm(dt, m, n, k, alpha, abuf, rs_a, cs_a, bbuf, rs_b, cs_b, beta, cbuf, rs_c, cs_c);
                long double err2 = 0;
                for (int64_t i = 0; i < m; i++)
                    for (int64_t j = 0; j < n; j++) {
                        got[i * n + j] = cu_load(dt, cbuf, (size_t)(i * rs_c + j * cs_c));
                        long double want = alpha * ab[i * n + j] + beta * c0[i * n + j];
                        long double e = got[i * n + j] - want;
                        err2 += e * e;
                    }
                double r = sqrt((double)err2) / (eps * (double)(k + 2) * (fabs(alpha) * na * nb + fabs(beta) * nc));
                if (isnan(r) || r > worst[d]) worst[d] = isnan(r) ? INFINITY : r;
                CHECK(r <= 1, "gemm %s m=%lld n=%lld k=%lld trans a%d b%d c%d alpha %g beta %g: residual %.3g",
                      d ? "f64" : "f32", (long long)m, (long long)n, (long long)k, ta, tb, tc, alpha, beta, r);
            }
        }
    }
}

/* The matmul op on the same sizes: forward values, all transpose flags. */
static void matmul_case(int64_t m, int64_t n, int64_t k)
{
    static double a[MAXD * MAXD], b[MAXD * MAXD], at[MAXD * MAXD], bt[MAXD * MAXD];
    fill_f32_exact(a, (size_t)(m * k));
    fill_f32_exact(b, (size_t)(k * n));
    for (int64_t i = 0; i < m; i++)
        for (int64_t p = 0; p < k; p++) at[p * m + i] = a[i * k + p];
    for (int64_t p = 0; p < k; p++)
        for (int64_t j = 0; j < n; j++) bt[j * k + p] = b[p * n + j];
    const double na = frob(a, (size_t)(m * k)), nb = frob(b, (size_t)(k * n));
    wg_tape *t = wg_tape_new();
    for (int d = 0; d < 2; d++) {
        wg_dtype dt = d ? WG_F64 : WG_F32;
        double eps = d ? DBL_EPSILON : FLT_EPSILON;
        for (int tr = 0; tr < 4; tr++) {
            bool ta = tr & 1, tb = tr & 2;
            wg_tensor *A = ta ? cu_tensor(t, dt, 2, (int64_t[]){k, m}, at, false)
                              : cu_tensor(t, dt, 2, (int64_t[]){m, k}, a, false);
            wg_tensor *B = tb ? cu_tensor(t, dt, 2, (int64_t[]){n, k}, bt, false)
                              : cu_tensor(t, dt, 2, (int64_t[]){k, n}, b, false);
            wg_tensor *C = wg_matmul_ex(t, A, B, ta, tb);
            CHECK(C && wg_dim(C, 0) == m && wg_dim(C, 1) == n, "matmul %lldx%lldx%lld: %s", (long long)m,
                  (long long)k, (long long)n, wg_tape_error(t));
            if (!C) break;
            long double err2 = 0;
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < n; j++) {
                    long double s = 0;
                    for (int64_t p = 0; p < k; p++) s += (long double)a[i * k + p] * b[p * n + j];
                    long double e = wg_get(C, (size_t)(i * n + j)) - s;
                    err2 += e * e;
                }
            double r = sqrt((double)err2) / (eps * (double)(k + 2) * na * nb);
            if (isnan(r) || r > worst[d]) worst[d] = isnan(r) ? INFINITY : r;
            CHECK(r <= 1, "matmul %s m=%lld n=%lld k=%lld trans a%d b%d: residual %.3g", d ? "f64" : "f32",
                  (long long)m, (long long)n, (long long)k, ta, tb, r);
            wg_tape_reset(t);
        }
    }
    wg_tape_free(t);
}

int main(void)
{
    wg_rng_seed(&cu_rng, 130);
    /* On 2 and 3 threads the largest products (210^3 = 2^23.1, above
     * ops/blas.c's WG_SPLIT_MIN) are cut into column blocks (112 + 98;
     * 80 + 80 + 50), each a kernel or BLIS call of its own. */
    /* With WG_TEST_SMALL (the ThreadSanitizer pass, built without OpenMP, so
     * one thread whatever the count) one thread count and sizes up to 130. */
    const char *small_env = getenv("WG_TEST_SMALL");
    const int small = small_env && small_env[0] && strcmp(small_env, "0") != 0;
    const int n_sizes = small ? N_SIZES - 1 : N_SIZES;
    for (int threads = 1; threads <= (small ? 1 : 3); threads++) {
        wg_set_num_threads(threads);
        for (int i = 0; i < n_sizes; i++)
            for (int j = 0; j < n_sizes; j++)
                for (int l = 0; l < n_sizes; l++) {
                    gemm_case(sizes[i], sizes[j], sizes[l]);
                    matmul_case(sizes[i], sizes[j], sizes[l]);
                }
    }
    /* The same product on 1, 2 and 3 threads is the same to the bit: only
     * BLIS runs in column blocks, and it sums each element over k in one
     * order.  Shapes above WG_SPLIT_MIN whose last block is narrow (n = 17,
     * 40: a block of 1 or 8 columns, which a small kernel would take). */
    {
        static const int64_t shp[][3] = {{512, 40, 1024}, {1024, 17, 600}, {300, 210, 300}, {128, 130, 784}};
        for (size_t si = 0; si < sizeof shp / sizeof shp[0]; si++)
            for (int d = 0; d < 2; d++) {
                const int64_t m = shp[si][0], n = shp[si][1], k = shp[si][2];
                const size_t es = d ? 8 : 4;
                char *A = malloc((size_t)(m * k) * es), *B = malloc((size_t)(k * n) * es);
                char *C[3];
                for (int i = 0; i < 3; i++) C[i] = malloc((size_t)(m * n) * es);
                for (int64_t i = 0; i < m * k; i++) cu_store(d ? WG_F64 : WG_F32, A, (size_t)i, wg_rng_normal(&cu_rng));
                for (int64_t i = 0; i < k * n; i++) cu_store(d ? WG_F64 : WG_F32, B, (size_t)i, wg_rng_normal(&cu_rng));
                for (int threads = 1; threads <= 3; threads++) {
                    wg_set_num_threads(threads);
                    /* y = x W^T as a dense layer: W [n, k] read transposed */
                    wg_gemm(d ? WG_F64 : WG_F32, m, n, k, 1.0, A, k, 1, B, 1, k, 0.0, C[threads - 1], n, 1);
                }
                CHECK(memcmp(C[0], C[1], (size_t)(m * n) * es) == 0 && memcmp(C[0], C[2], (size_t)(m * n) * es) == 0,
                      "%s %lld x %lld x %lld: the product differs between 1, 2 and 3 threads", d ? "f64" : "f32",
                      (long long)m, (long long)n, (long long)k);
                free(A), free(B);
                for (int i = 0; i < 3; i++) free(C[i]);
            }
        wg_set_num_threads(1);
    }
    /* The matmul VJP records how many threads' row blocks wrote a dense
     * weight's gradient (x W^T, W [out, in]): the blocks zero_grad and the
     * optimisers reuse.  512 x 130 x 130 multiply-adds split; 7 x 130 x 130
     * do not. */
    for (int threads = 1; threads <= 3; threads++) {
        wg_set_num_threads(threads);
        for (int big = 0; big < 2; big++) {
            const int64_t rows = big ? 512 : 7, ws[2] = {130, 130}, xs[2] = {rows, 130};
            wg_param *W = wg_param_new(WG_F32, 2, ws);
            wg_tape *t = wg_tape_new();
            wg_tensor *x = wg_full(t, WG_F32, 2, xs, 0.5);
            wg_tensor *y = wg_sum(t, wg_matmul_ex(t, x, wg_use(t, W), false, true));
            CHECK(y && wg_backward(t, y) == 0, "dense backward: %s", wg_tape_error(t));
            int want = big && WG_OMP ? threads : 1; /* built without OpenMP (TSan): one block */
            CHECK(W->priv->grad_blocks == want, "%lld x 130 x 130 on %d threads: grad_blocks %d, want %d", (long long)rows,
                  threads, W->priv->grad_blocks, want);
            CHECK(wg_get(x, 0) == 0.5 && ((float *)W->grad)[130 * 129 + 7] == (float)(0.5 * (double)rows),
                  "dW = sum over rows of x: %g", ((float *)W->grad)[130 * 129 + 7]);
            wg_tape_free(t);
            wg_param_free(W);
        }
    }
    wg_set_num_threads(1);
    printf("largest normalised residual: f32 %.3g, f64 %.3g (bound 1)\n", worst[0], worst[1]);
    printf("%s\n", wg_blas_info());
    return wg_test_done("test_blas");
}
