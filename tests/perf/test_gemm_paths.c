/* test_gemm_paths.c: matmul takes one of two roads inside ops/blas.c, BLIS
 * or the small-product kernels (a batch of 1..4 rows, 10 outputs, tiny
 * products).  Both must give the same values: forward and both VJPs of
 * wg_matmul_ex, every transpose combination, f32 and f64, on shapes on both
 * sides of each threshold, against a plain triple loop in double with a
 * random cotangent. */
#include <stdlib.h>

#include "wengert.h"
#include "wg_test.h"

static wg_rng rng;

static void fill(double *p, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] = wg_rng_uniform(&rng) * 2 - 1;
}

/* element (i, j) of X [r, c] row-major, read transposed if t */
static double at(const double *x, int64_t c, int t, int64_t i, int64_t j) { return t ? x[j * c + i] : x[i * c + j]; }

static void check_case(wg_dtype dt, int64_t m, int64_t n, int64_t k, int ta, int tb)
{
    int64_t sa[2] = {ta ? k : m, ta ? m : k}, sb[2] = {tb ? n : k, tb ? k : n}, sc[2] = {m, n};
    size_t na = (size_t)(m * k), nb = (size_t)(k * n), nc = (size_t)(m * n);
    double *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b), *g = malloc(nc * sizeof *g);
    fill(a, na), fill(b, nb), fill(g, nc);
    wg_tape *t = wg_tape_new();
    wg_tensor *A, *B, *G;
    if (dt == WG_F32) { /* the same numbers, rounded to f32 on the tape */
        float *af = malloc(na * sizeof *af), *bf = malloc(nb * sizeof *bf), *gf = malloc(nc * sizeof *gf);
        for (size_t i = 0; i < na; i++) a[i] = af[i] = (float)a[i];
        for (size_t i = 0; i < nb; i++) b[i] = bf[i] = (float)b[i];
        for (size_t i = 0; i < nc; i++) g[i] = gf[i] = (float)g[i];
        A = wg_tensor_new(t, WG_F32, 2, sa, af, true);
        B = wg_tensor_new(t, WG_F32, 2, sb, bf, true);
        G = wg_tensor_new(t, WG_F32, 2, sc, gf, false);
        free(af), free(bf), free(gf);
    } else {
        A = wg_tensor_new(t, WG_F64, 2, sa, a, true);
        B = wg_tensor_new(t, WG_F64, 2, sb, b, true);
        G = wg_tensor_new(t, WG_F64, 2, sc, g, false);
    }
    wg_tensor *C = wg_matmul_ex(t, A, B, ta, tb);
    CHECK(C && wg_backward_seed(t, C, G) == 0, "matmul m=%lld n=%lld k=%lld: %s", (long long)m, (long long)n,
          (long long)k, wg_tape_error(t));
    if (!C || wg_tape_error(t)) goto done;
    double tol = dt == WG_F32 ? 2e-5 * (double)(k > m ? k : m) : 1e-12 * (double)(k > m ? k : m);
    double worst_c = 0, worst_a = 0, worst_b = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double want = 0;
            for (int64_t p = 0; p < k; p++) want += at(a, sa[1], ta, i, p) * at(b, sb[1], tb, p, j);
            double d = fabs(wg_get(C, (size_t)(i * n + j)) - want);
            if (d > worst_c) worst_c = d;
        }
    /* dA = G B^T, dB = A^T G, stored in A's and B's own layouts */
    for (int64_t i = 0; i < m; i++)
        for (int64_t p = 0; p < k; p++) {
            double want = 0;
            for (int64_t j = 0; j < n; j++) want += g[i * n + j] * at(b, sb[1], tb, p, j);
            double d = fabs(wg_grad_get(A, (size_t)(ta ? p * m + i : i * k + p)) - want);
            if (d > worst_a) worst_a = d;
        }
    for (int64_t p = 0; p < k; p++)
        for (int64_t j = 0; j < n; j++) {
            double want = 0;
            for (int64_t i = 0; i < m; i++) want += at(a, sa[1], ta, i, p) * g[i * n + j];
            double d = fabs(wg_grad_get(B, (size_t)(tb ? j * k + p : p * n + j)) - want);
            if (d > worst_b) worst_b = d;
        }
    CHECK(worst_c <= tol && worst_a <= tol && worst_b <= tol,
          "%s m=%lld n=%lld k=%lld ta=%d tb=%d: max error C %.3g, dA %.3g, dB %.3g (tol %.3g)",
          dt == WG_F32 ? "f32" : "f64", (long long)m, (long long)n, (long long)k, ta, tb, worst_c, worst_a, worst_b, tol);
done:
    wg_tape_free(t);
    free(a), free(b), free(g);
}

int main(void)
{
    wg_rng_seed(&rng, 5);
    /* around WG_THIN = 4, WG_NARROW = 16, WG_SHORT = 32 and WG_TINY = 32^3 */
    static const int64_t sizes[] = {1, 3, 4, 5, 10, 16, 17, 33, 70};
    const int ns = (int)(sizeof sizes / sizeof sizes[0]);
    for (int d = 0; d < 2; d++)
        for (int im = 0; im < ns; im++)
            for (int in = 0; in < ns; in++)
                for (int ik = 0; ik < ns; ik += 2)
                    for (int tr = 0; tr < 4; tr++)
                        check_case(d ? WG_F64 : WG_F32, sizes[im], sizes[in], sizes[ik], tr & 1, tr >> 1);
    /* the MLP shapes themselves: a batch of 1 and of 128 through 784-128-10 */
    for (int tr = 0; tr < 4; tr++) {
        check_case(WG_F32, 1, 128, 784, tr & 1, tr >> 1);
        check_case(WG_F32, 128, 10, 128, tr & 1, tr >> 1);
        check_case(WG_F32, 128, 128, 10, tr & 1, tr >> 1);
    }
    return wg_test_done("gemm_paths");
}
