/* custom_ops.h: two user ops for the tests, written as a user would with
 * the public API only.
 *
 *   erf(x)        y = erf(x)       y' = 2/sqrt(pi) exp(-x^2)     (README's example)
 *   ab2(a, b)     y = a b^2        dy/da = b^2, dy/db = 2 a b    (two inputs)
 *
 * Both give a numeric VJP; with_rules adds the recorded VJP and the JVP, so
 * they compose with higher order; without, a create-graph pass through them
 * must be a tape error. */
#ifndef CUSTOM_OPS_H
#define CUSTOM_OPS_H

#include <math.h>
#include <wengert.h>

#define TWO_OVER_SQRT_PI 1.1283791670955126

static int erf_forward(void *ctx, int n, wg_tensor *const *x, wg_tensor *y, void *yd)
{
    (void)ctx, (void)n;
    for (size_t i = 0; i < wg_numel(y); i++) {
        double v = erf(wg_get(x[0], i));
        if (wg_dtype_of(y) == WG_F32)
            ((float *)yd)[i] = (float)v;
        else
            ((double *)yd)[i] = v;
    }
    return 0;
}
static void erf_vjp(void *ctx, int n, wg_tensor *const *x, const wg_tensor *y, const void *gy, void *const *gx)
{
    (void)ctx, (void)n;
    for (size_t i = 0; i < wg_numel(y); i++) {
        double xi = wg_get(x[0], i), d = TWO_OVER_SQRT_PI * exp(-xi * xi);
        if (wg_dtype_of(y) == WG_F32)
            ((float *)gx[0])[i] += (float)(((const float *)gy)[i] * d);
        else
            ((double *)gx[0])[i] += ((const double *)gy)[i] * d;
    }
}
/* g * 2/sqrt(pi) exp(-x^2), recorded: shared by the recorded VJP and the JVP */
static wg_tensor *erf_dmul(wg_tape *t, wg_tensor *x, wg_tensor *g)
{
    return wg_mul(t, g, wg_mul(t, TWO_OVER_SQRT_PI, wg_exp(t, wg_neg(t, wg_mul(t, x, x)))));
}
static wg_tensor *erf_vjp_ops(wg_tape *t, void *ctx, int n, wg_tensor *const *x, wg_tensor *y, wg_tensor *gy, int i)
{
    (void)ctx, (void)n, (void)y, (void)i;
    return erf_dmul(t, x[0], gy);
}
static wg_tensor *erf_jvp_ops(wg_tape *t, void *ctx, int n, wg_tensor *const *x, wg_tensor *y, wg_tensor *const *tx)
{
    (void)ctx, (void)n, (void)y;
    return erf_dmul(t, x[0], tx[0]);
}

static int ab2_forward(void *ctx, int n, wg_tensor *const *x, wg_tensor *y, void *yd)
{
    (void)ctx, (void)n;
    for (size_t i = 0; i < wg_numel(y); i++) {
        double a = wg_get(x[0], i), b = wg_get(x[1], i);
        if (wg_dtype_of(y) == WG_F32)
            ((float *)yd)[i] = (float)(a * b * b);
        else
            ((double *)yd)[i] = a * b * b;
    }
    return 0;
}
/* Same shapes only: a shape rule refuses anything else. */
static int ab2_shape(void *ctx, int n, wg_tensor *const *x, int *ndim, int64_t shape[WG_MAX_DIMS])
{
    (void)ctx, (void)n;
    if (wg_numel(x[0]) != wg_numel(x[1]) || wg_ndim(x[0]) != wg_ndim(x[1])) {
        wg_tape_fail(NULL, WG_ERR_SHAPE, "ab2: shapes differ");
        return -1;
    }
    *ndim = wg_ndim(x[0]);
    for (int i = 0; i < *ndim; i++) shape[i] = wg_dim(x[0], i);
    return 0;
}
static void ab2_vjp(void *ctx, int n, wg_tensor *const *x, const wg_tensor *y, const void *gy, void *const *gx)
{
    (void)ctx, (void)n;
    for (size_t i = 0; i < wg_numel(y); i++) {
        double a = wg_get(x[0], i), b = wg_get(x[1], i), g = ((const double *)gy)[i];
        if (gx[0]) ((double *)gx[0])[i] += g * b * b;
        if (gx[1]) ((double *)gx[1])[i] += g * 2 * a * b;
    }
}
static wg_tensor *ab2_vjp_ops(wg_tape *t, void *ctx, int n, wg_tensor *const *x, wg_tensor *y, wg_tensor *gy, int i)
{
    (void)ctx, (void)n, (void)y;
    return i == 0 ? wg_mul(t, gy, wg_mul(t, x[1], x[1])) : wg_mul(t, gy, wg_mul(t, 2, wg_mul(t, x[0], x[1])));
}
static wg_tensor *ab2_jvp_ops(wg_tape *t, void *ctx, int n, wg_tensor *const *x, wg_tensor *y, wg_tensor *const *tx)
{
    (void)ctx, (void)n, (void)y;
    wg_tensor *r = NULL;
    if (tx[0]) r = wg_mul(t, tx[0], wg_mul(t, x[1], x[1]));
    if (tx[1]) {
        wg_tensor *s = wg_mul(t, tx[1], wg_mul(t, 2, wg_mul(t, x[0], x[1])));
        r = r ? wg_add(t, r, s) : s;
    }
    return r;
}

static inline wg_custom_op *make_erf(bool with_rules)
{
    wg_custom_def d = {.name = "erf", .n_inputs = 1, .forward = erf_forward, .vjp = erf_vjp,
                       .vjp_ops = with_rules ? erf_vjp_ops : NULL, .jvp_ops = with_rules ? erf_jvp_ops : NULL};
    return wg_custom_register(&d);
}
static inline wg_custom_op *make_ab2(bool with_rules)
{
    wg_custom_def d = {.name = "ab2", .n_inputs = 2, .shape = ab2_shape, .forward = ab2_forward, .vjp = ab2_vjp,
                       .vjp_ops = with_rules ? ab2_vjp_ops : NULL, .jvp_ops = with_rules ? ab2_jvp_ops : NULL};
    return wg_custom_register(&d);
}

#endif
