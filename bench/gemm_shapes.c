/* gemm_shapes.c: wengert's wg_gemm against BLIS alone, at the shapes and
 * strides of the MLP steps in bench/compare, to place the small-product
 * thresholds of ops/blas.c.  Usage: gemm_shapes [threads]  (prints a table). */
#include <blis.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "blas.h"
#include "wengert.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *buf(size_t n, wg_rng *r)
{
    float *p = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = (float)wg_rng_uniform(r) - 0.5f;
    return p;
}

/* Best of 5 rounds of `it` calls, in microseconds. */
static double best_us(int use_blis, dim_t m, dim_t n, dim_t k, float *a, inc_t rsa, inc_t csa, float *b, inc_t rsb,
                      inc_t csb, float beta, float *c, inc_t rsc, inc_t csc)
{
    float one = 1;
    int it = 1 + (int)(2e7 / (double)(m * n * k + 1000));
    double best = 1e30;
    for (int r = 0; r < 6; r++) {
        double t0 = now();
        for (int i = 0; i < it; i++) {
            if (use_blis)
                bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &one, a, rsa, csa, b, rsb, csb, &beta, c, rsc,
                          csc);
            else
                wg_gemm(WG_F32, m, n, k, 1.0, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc);
        }
        double dt = (now() - t0) / it * 1e6;
        if (r > 0 && dt < best) best = dt; /* round 0 warms up */
    }
    return best;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    printf("%s, %d thread(s)\n", wg_blas_info(), threads);
    wg_set_num_threads(threads);
    wg_rng r;
    wg_rng_seed(&r, 1);
    static const int batches[] = {1, 8, 32, 128};
    static const int layers[][2] = {{784, 128}, {128, 10}, {784, 512}, {512, 512}, {512, 10}};
    printf("| product | m | n | k | wg_gemm us | BLIS us | BLIS / wg |\n|---|---|---|---|---|---|---|\n");
    for (size_t bi = 0; bi < sizeof batches / sizeof batches[0]; bi++)
        for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++) {
            int B = batches[bi], in = layers[li][0], out = layers[li][1];
            float *x = buf((size_t)B * in, &r), *w = buf((size_t)in * out, &r), *y = buf((size_t)B * out, &r);
            float *gw = buf((size_t)in * out, &r), *gx = buf((size_t)B * in, &r);
            struct { const char *name; dim_t m, n, k; float *a; inc_t rsa, csa; float *b; inc_t rsb, csb; float beta; float *c; inc_t rsc, csc; } p[] = {
                {"y = x W^T", B, out, in, x, in, 1, w, 1, in, 0, y, out, 1},
                {"dW^T += x^T dy", in, out, B, x, 1, in, y, out, 1, 1, gw, 1, in},
                {"dx += dy W", B, in, out, y, out, 1, w, in, 1, 1, gx, in, 1},
            };
            for (int q = 0; q < 3; q++) {
                double tw = best_us(0, p[q].m, p[q].n, p[q].k, p[q].a, p[q].rsa, p[q].csa, p[q].b, p[q].rsb, p[q].csb,
                                    p[q].beta, p[q].c, p[q].rsc, p[q].csc);
                double tb = best_us(1, p[q].m, p[q].n, p[q].k, p[q].a, p[q].rsa, p[q].csa, p[q].b, p[q].rsb, p[q].csb,
                                    p[q].beta, p[q].c, p[q].rsc, p[q].csc);
                printf("| %s | %ld | %ld | %ld | %.2f | %.2f | %.2f |\n", p[q].name, (long)p[q].m, (long)p[q].n,
                       (long)p[q].k, tw, tb, tb / tw);
            }
            free(x), free(w), free(y), free(gw), free(gx);
        }
    return 0;
}
