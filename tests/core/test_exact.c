/* test_exact: tiny cases whose values and gradients are known by hand, so
 * they are compared exactly (every number below is exact in binary floating
 * point), in f32 and f64 alike.
 *
 *  - matmul: 2x2 products in every transpose layout, the identity (batched too);
 *  - broadcasting: sums and products by hand, the gradient summed over the
 *    broadcast axes; reductions by hand;
 *  - kinks and ties: relu = max(x, 0) has gradient exactly 0 at 0; ties of
 *    max/min go to b; max_axis ties go to the first element; |x|' = 0 at 0;
 *    pow's zero rules;
 *  - size-0 tensors through every kind of op;
 *  - views: reshape and detach share the input's values, never its gradient;
 *  - NaN goes through arithmetic, max/min, reductions and matmul;
 *  - logsumexp and axpy: the fused ops equal their composites, value and gradient;
 *  - fast math: exp and tanh within 4 ulp of libm, one path for every element.
 */
#include "core_util.h"
#include "wg_test.h"

static wg_dtype dt; /* every case runs in f32 and in f64 */
static const char *dtn;

static wg_tensor *leaf(wg_tape *t, int ndim, const int64_t *shape, const double *v, bool req)
{
    return cu_tensor(t, dt, ndim, shape, v, req);
}

/* Values of x equal want[0..n) exactly. */
static void values_are(const char *what, const wg_tensor *x, size_t n, const double *want)
{
    CHECK(x != NULL, "%s (%s): NULL", what, dtn);
    if (!x) return;
    CHECK(wg_numel(x) == n, "%s (%s): %zu elements, want %zu", what, dtn, wg_numel(x), n);
    for (size_t i = 0; i < n && i < wg_numel(x); i++)
        CHECK(wg_get(x, i) == want[i] || (isnan(want[i]) && isnan(wg_get(x, i))), "%s (%s) [%zu] = %.17g, want %.17g",
              what, dtn, i, wg_get(x, i), want[i]);
}

static void grads_are(const char *what, const wg_tensor *x, size_t n, const double *want)
{
    CHECK(x != NULL && wg_numel(x) == n, "%s (%s): bad handle", what, dtn);
    if (!x) return;
    for (size_t i = 0; i < n && i < wg_numel(x); i++)
        CHECK(wg_grad_get(x, i) == want[i] || (isnan(want[i]) && isnan(wg_grad_get(x, i))),
              "d %s (%s) [%zu] = %.17g, want %.17g", what, dtn, i, wg_grad_get(x, i), want[i]);
}

static void shape_is(const char *what, const wg_tensor *x, int ndim, const int64_t *shape)
{
    bool ok = x && wg_ndim(x) == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = wg_shape(x)[i] == shape[i];
    char buf[64];
    CHECK(ok, "%s (%s): shape %s", what, dtn, wg_shape_str(x, buf, sizeof buf));
}

static int backward_ones(wg_tape *t, wg_tensor *y)
{
    int r = wg_backward_seed(t, y, wg_full_like(t, y, 1.0));
    CHECK(r == 0, "backward (%s): %s", dtn, wg_tape_error(t));
    return r;
}

/* ---- matmul ---------------------------------------------------------------- */

static void matmul_small(void)
{
    static const int64_t s22[2] = {2, 2};
    static const double A[4] = {1, 2, 3, 4}, B[4] = {5, 6, 7, 8};
    static const struct {
        bool ta, tb;
        double c[4];
        double da[4], db[4]; /* with an all-ones seed */
    } cs[] = {
        /* A B: dA = 1 B^T (row sums of B), dB = A^T 1 (column sums of A); with a
         * transpose the gradient of op(X) is transposed back into X's layout. */
        {false, false, {19, 22, 43, 50}, {11, 15, 11, 15}, {4, 4, 6, 6}},
        {true, false, {26, 30, 38, 44}, {11, 11, 15, 15}, {3, 3, 7, 7}},
        {false, true, {17, 23, 39, 53}, {12, 14, 12, 14}, {4, 6, 4, 6}},
        {true, true, {23, 31, 34, 46}, {12, 12, 14, 14}, {3, 7, 3, 7}},
    };
    for (size_t i = 0; i < 4; i++) {
        wg_tape *t = wg_tape_new();
        wg_tensor *a = leaf(t, 2, s22, A, true), *b = leaf(t, 2, s22, B, true);
        wg_tensor *c = wg_matmul_ex(t, a, b, cs[i].ta, cs[i].tb);
        char what[48];
        snprintf(what, sizeof what, "matmul trans %d%d", cs[i].ta, cs[i].tb);
        values_are(what, c, 4, cs[i].c);
        backward_ones(t, c);
        grads_are("a", a, 4, cs[i].da);
        grads_are("b", b, 4, cs[i].db);
        wg_tape_free(t);
    }
}

static void matmul_identity(void)
{
    double a[2 * 3 * 4], r[2 * 3 * 4], eye3[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, eye33[18];
    for (int i = 0; i < 24; i++) a[i] = (double)(i * 7 % 11) - 5.5 + 0.25 * i, r[i] = (double)(i % 5) - 2;
    memcpy(eye33, eye3, sizeof eye3);
    memcpy(eye33 + 9, eye3, sizeof eye3);
    wg_tape *t = wg_tape_new();
    /* I [3,3] @ A [3,4] = A; with seed R: dA = I^T R = R, dI = R A^T. */
    wg_tensor *I = leaf(t, 2, (int64_t[]){3, 3}, eye3, true), *A = leaf(t, 2, (int64_t[]){3, 4}, a, true);
    wg_tensor *R = leaf(t, 2, (int64_t[]){3, 4}, r, false);
    wg_tensor *y = wg_matmul(t, I, A);
    values_are("I @ A", y, 12, a);
    CHECK(wg_backward_seed(t, y, R) == 0, "%s", wg_tape_error(t));
    grads_are("A in I @ A", A, 12, r);
    double dI[9] = {0};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++) dI[i * 3 + j] += r[i * 4 + k] * a[j * 4 + k];
    grads_are("I in I @ A", I, 9, dI); /* small integers and quarters: exact in f32 too */
    /* A^T [4,3] @ I: A read transposed through strides. */
    wg_tape_reset(t);
    A = leaf(t, 2, (int64_t[]){3, 4}, a, true);
    I = leaf(t, 2, (int64_t[]){3, 3}, eye3, false);
    y = wg_matmul_ex(t, A, I, true, false);
    double at[12];
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 4; k++) at[k * 3 + i] = a[i * 4 + k];
    values_are("A^T @ I", y, 12, at);
    /* Batched: I [2,3,3] @ A [2,3,4] = A, and A [2,3,4] viewed as [6,4] @ I4. */
    wg_tape_reset(t);
    wg_tensor *Ib = leaf(t, 3, (int64_t[]){2, 3, 3}, eye33, false), *Ab = leaf(t, 3, (int64_t[]){2, 3, 4}, a, true);
    y = wg_matmul(t, Ib, Ab);
    values_are("I @ A batched", y, 24, a);
    CHECK(wg_backward_seed(t, y, leaf(t, 3, (int64_t[]){2, 3, 4}, r, false)) == 0, "%s", wg_tape_error(t));
    grads_are("A in batched I @ A", Ab, 24, r);
    double eye4[16] = {0};
    for (int i = 0; i < 4; i++) eye4[i * 5] = 1;
    wg_tape_reset(t);
    Ab = leaf(t, 3, (int64_t[]){2, 3, 4}, a, true);
    y = wg_matmul(t, Ab, leaf(t, 2, (int64_t[]){4, 4}, eye4, false));
    values_are("A [2,3,4] @ I4", y, 24, a);
    wg_tape_free(t);
}

/* ---- broadcasting and reductions ------------------------------------------- */

static void broadcasting(void)
{
    static const double a23[6] = {1, 2, 3, 4, 5, 6}, b3[3] = {10, 20, 30};
    wg_tape *t = wg_tape_new();
    wg_tensor *a = leaf(t, 2, (int64_t[]){2, 3}, a23, true), *b = leaf(t, 1, (int64_t[]){3}, b3, true);
    wg_tensor *y = wg_add(t, a, b);
    values_are("[2,3] + [3]", y, 6, (double[]){11, 22, 33, 14, 25, 36});
    /* seed = a: da = seed, db = column sums of seed. */
    CHECK(wg_backward_seed(t, y, leaf(t, 2, (int64_t[]){2, 3}, a23, false)) == 0, "%s", wg_tape_error(t));
    grads_are("a of a + b", a, 6, a23);
    grads_are("b of a + b", b, 3, (double[]){5, 7, 9});

    wg_tape_reset(t);
    a = leaf(t, 2, (int64_t[]){2, 3}, a23, true), b = leaf(t, 1, (int64_t[]){3}, b3, true);
    y = wg_mul(t, b, a); /* broadcast on the left */
    values_are("[3] * [2,3]", y, 6, (double[]){10, 40, 90, 40, 100, 180});
    CHECK(wg_backward_seed(t, y, leaf(t, 2, (int64_t[]){2, 3}, a23, false)) == 0, "%s", wg_tape_error(t));
    grads_are("b of b * a", b, 3, (double[]){1 + 16, 4 + 25, 9 + 36});
    grads_are("a of b * a", a, 6, (double[]){10, 40, 90, 40, 100, 180});

    /* [3,1] - [1,4]: both sides broadcast; ones seed: da = 4, db = -3. */
    wg_tape_reset(t);
    a = leaf(t, 2, (int64_t[]){3, 1}, (double[]){1, 2, 3}, true);
    b = leaf(t, 2, (int64_t[]){1, 4}, (double[]){10, 20, 30, 40}, true);
    y = wg_sub(t, a, b);
    shape_is("[3,1] - [1,4]", y, 2, (int64_t[]){3, 4});
    values_are("[3,1] - [1,4]", y, 12, (double[]){-9, -19, -29, -39, -8, -18, -28, -38, -7, -17, -27, -37});
    backward_ones(t, y);
    grads_are("a of [3,1] - [1,4]", a, 3, (double[]){4, 4, 4});
    grads_are("b of [3,1] - [1,4]", b, 4, (double[]){-3, -3, -3, -3});

    /* A 0-d with a tensor: d scalar = sum of the seed; a number operand. */
    wg_tape_reset(t);
    wg_tensor *s = wg_scalar(t, dt, 2, true);
    a = leaf(t, 2, (int64_t[]){2, 3}, a23, true);
    y = wg_div(t, wg_mul(t, s, a), 4);
    values_are("s * a / 4", y, 6, (double[]){0.5, 1, 1.5, 2, 2.5, 3});
    wg_tensor *four = wg_input(y, 1); /* the number, as a constant leaf of a's dtype */
    CHECK(four && wg_is_leaf(four) && !wg_requires_grad(four) && wg_dtype_of(four) == dt && wg_item(four) == 4,
          "the number operand is a %s constant leaf", dtn);
    backward_ones(t, y);
    grads_are("s of s * a / 4", s, 1, (double[]){21.0 / 4});
    grads_are("a of s * a / 4", a, 6, (double[]){0.5, 0.5, 0.5, 0.5, 0.5, 0.5});

    /* broadcast_to sums back the same way. */
    wg_tape_reset(t);
    b = leaf(t, 2, (int64_t[]){1, 3}, b3, true);
    y = wg_broadcast_to(t, b, 3, (int64_t[]){2, 2, 3});
    values_are("broadcast_to", y, 12, (double[]){10, 20, 30, 10, 20, 30, 10, 20, 30, 10, 20, 30});
    backward_ones(t, y);
    grads_are("broadcast_to", b, 3, (double[]){4, 4, 4});
    wg_tape_free(t);
}

static void reductions(void)
{
    static const double a23[6] = {1, 2, 3, 4, 5, 6};
    wg_tape *t = wg_tape_new();
    wg_tensor *a = leaf(t, 2, (int64_t[]){2, 3}, a23, true);
    wg_tensor *s0 = wg_sum_axis(t, a, 0, false), *s1 = wg_sum_axis(t, a, -1, true);
    wg_tensor *m1 = wg_mean_axis(t, a, 1, false), *m = wg_mean(t, a), *s = wg_sum(t, a);
    values_are("sum axis 0", s0, 3, (double[]){5, 7, 9});
    shape_is("sum axis 0", s0, 1, (int64_t[]){3});
    values_are("sum axis -1 keepdim", s1, 2, (double[]){6, 15});
    shape_is("sum axis -1 keepdim", s1, 2, (int64_t[]){2, 1});
    values_are("mean axis 1", m1, 2, (double[]){2, 5});
    values_are("mean", m, 1, (double[]){3.5});
    values_are("sum", s, 1, (double[]){21});
    shape_is("sum", s, 0, NULL);
    /* d mean / da = 1/6 is not exact in binary; 1/2 (mean over 2 rows) is. */
    wg_tensor *m0 = wg_mean_axis(t, a, 0, true);
    values_are("mean axis 0 keepdim", m0, 3, (double[]){2.5, 3.5, 4.5});
    CHECK(wg_backward_seed(t, m0, leaf(t, 2, (int64_t[]){1, 3}, (double[]){2, 4, 6}, false)) == 0, "%s",
          wg_tape_error(t));
    grads_are("a of mean axis 0", a, 6, (double[]){1, 2, 3, 1, 2, 3});
    wg_tape_free(t);
}

/* Sums accumulate in double, also for f32 and along any axis: 1 followed by
 * 16383 terms of 2^-24 is 1 + 16383 * 2^-24 (exact in double, and rounds to
 * f32 as below), where an f32 accumulator would stay at 1. */
static void long_sums(void)
{
    enum { K = 16384 };
    static double v[K * 3];
    for (size_t i = 0; i < K * 3; i++) v[i] = i < 3 ? 1 : 0x1p-24;
    for (size_t i = 0; i < K * 3; i += 3) v[i + 1] = -v[i + 1], v[i + 2] = 2 * v[i + 2]; /* three columns */
    double want1 = 1 + (K - 1) * 0x1p-24;
    double want[3] = {want1, -want1, 2 * want1};
    if (dt == WG_F32)
        for (int j = 0; j < 3; j++) want[j] = (float)want[j];
    wg_tape *t = wg_tape_new();
    wg_tensor *x = leaf(t, 2, (int64_t[]){K, 3}, v, false);
    values_are("long sum along axis 0", wg_sum_axis(t, x, 0, false), 3, want);
    wg_tensor *xt = wg_transpose(t, x, 0, 1); /* [3,K]: the last axis */
    values_are("long sum along the last axis", wg_sum_axis(t, xt, 1, false), 3, want);
    double total = (double)(dt == WG_F32 ? (float)(want1 * 2) : want1 * 2); /* 1 - 1 + 2: the sum is 2 * want1 */
    values_are("long sum of all", wg_sum(t, x), 1, &total);
    wg_tape_free(t);
}

/* ---- kinks and ties ------------------------------------------------------- */

static void kinks_and_ties(void)
{
    static const double xv[3] = {-1, 0, 2};
    wg_tape *t = wg_tape_new();
    wg_tensor *x = leaf(t, 1, (int64_t[]){3}, xv, true);
    wg_tensor *relu = wg_max(t, x, 0.0);
    values_are("relu", relu, 3, (double[]){0, 0, 2});
    backward_ones(t, relu);
    grads_are("relu (exactly 0 at 0)", x, 3, (double[]){0, 0, 1});

    /* relu written as max(0, x): the tie at 0 goes to b = x, so 1 there. */
    wg_tape_reset(t);
    x = leaf(t, 1, (int64_t[]){3}, xv, true);
    backward_ones(t, wg_max(t, 0.0, x));
    grads_are("max(0, x)", x, 3, (double[]){0, 1, 1});

    /* Ties of max and min between two tensors go to b. */
    wg_tape_reset(t);
    wg_tensor *a = leaf(t, 1, (int64_t[]){3}, (double[]){1, 5, 3}, true);
    wg_tensor *b = leaf(t, 1, (int64_t[]){3}, (double[]){1, 4, 7}, true);
    wg_tensor *mx = wg_max(t, a, b), *mn = wg_min(t, a, b);
    values_are("max", mx, 3, (double[]){1, 5, 7});
    values_are("min", mn, 3, (double[]){1, 4, 3});
    backward_ones(t, wg_add(t, wg_mul(t, mx, 2), mn)); /* 2 from max, 1 from min */
    grads_are("a of 2 max + min", a, 3, (double[]){0, 2, 1});
    grads_are("b of 2 max + min", b, 3, (double[]){3, 1, 2});

    /* max(x, x): both sides are x, so 1 in total. */
    wg_tape_reset(t);
    x = leaf(t, 1, (int64_t[]){3}, xv, true);
    backward_ones(t, wg_max(t, x, x));
    grads_are("max(x, x)", x, 3, (double[]){1, 1, 1});

    /* max_axis: ties go to the first maximal element. */
    wg_tape_reset(t);
    a = leaf(t, 2, (int64_t[]){2, 3}, (double[]){3, 1, 3, 2, 2, 2}, true);
    wg_tensor *m = wg_max_axis(t, a, 1, false);
    values_are("max_axis ties", m, 2, (double[]){3, 2});
    CHECK(wg_backward_seed(t, m, leaf(t, 1, (int64_t[]){2}, (double[]){5, 7}, false)) == 0, "%s", wg_tape_error(t));
    grads_are("max_axis ties (axis 1)", a, 6, (double[]){5, 0, 0, 7, 0, 0});
    wg_tape_reset(t);
    a = leaf(t, 2, (int64_t[]){3, 2}, (double[]){1, 5, 4, 5, 4, 0}, true);
    m = wg_max_axis(t, a, 0, true);
    values_are("max_axis ties (axis 0)", m, 2, (double[]){4, 5});
    shape_is("max_axis keepdim", m, 2, (int64_t[]){1, 2});
    backward_ones(t, m);
    grads_are("max_axis ties (axis 0)", a, 6, (double[]){0, 1, 1, 0, 0, 0});

    /* |x|' = sign(x), 0 at 0; sign and step themselves. */
    wg_tape_reset(t);
    x = leaf(t, 1, (int64_t[]){3}, xv, true);
    wg_tensor *ab = wg_abs(t, x);
    values_are("abs", ab, 3, (double[]){1, 0, 2});
    values_are("sign", wg_sign(t, x), 3, (double[]){-1, 0, 1});
    values_are("step", wg_step(t, x), 3, (double[]){0, 1, 1});
    backward_ones(t, ab);
    grads_are("abs", x, 3, (double[]){-1, 0, 1});

    /* pow at zero: 0^2 has derivative 0; d/db a^b at a = 0, b >= 0 is 0, not NaN. */
    wg_tape_reset(t);
    a = leaf(t, 1, (int64_t[]){3}, (double[]){0, 0, 2}, true);
    b = leaf(t, 1, (int64_t[]){3}, (double[]){2, 0, 3}, true);
    wg_tensor *p = wg_pow(t, a, b);
    values_are("a^b", p, 3, (double[]){0, 1, 8});
    backward_ones(t, p);
    grads_are("a of a^b", a, 3, (double[]){0, 0, 12});
    CHECK(wg_grad_get(b, 0) == 0 && wg_grad_get(b, 1) == 0, "d/db a^b at a = 0: %g, %g", wg_grad_get(b, 0),
          wg_grad_get(b, 1));
    CHECK_NEAR(wg_grad_get(b, 2), 8 * log(2.0), dt == WG_F32 ? 2e-6 : 1e-14);
    wg_tape_reset(t);
    x = leaf(t, 1, (int64_t[]){3}, (double[]){0, 4, -4}, true);
    wg_tensor *c0 = wg_pow(t, x, 0.0), *c2 = wg_pow(t, x, 2.0), *ch = wg_pow(t, wg_abs(t, x), 0.5);
    values_are("x^0", c0, 3, (double[]){1, 1, 1});
    values_are("x^2", c2, 3, (double[]){0, 16, 16});
    backward_ones(t, wg_add(t, c0, c2));
    grads_are("x^0 + x^2", x, 3, (double[]){0, 8, -8});
    wg_tape_zero_grad(t);
    backward_ones(t, ch);
    CHECK(wg_grad_get(x, 1) == 0.25 && wg_grad_get(x, 2) == -0.25, "sqrt|x|' at 4, -4: %g, %g", wg_grad_get(x, 1),
          wg_grad_get(x, 2));
    wg_tape_free(t);
}

/* ---- size-0 tensors --------------------------------------------------------- */

static void empty_tensors(void)
{
    wg_tape *t = wg_tape_new();
    const int64_t s03[2] = {0, 3};
    wg_tensor *e = wg_tensor_new(t, dt, 2, s03, NULL, true);
    wg_tensor *b = leaf(t, 1, (int64_t[]){3}, (double[]){1, 2, 3}, true);
    wg_tensor *y = wg_exp(t, wg_add(t, e, b));
    shape_is("[0,3] + [3]", y, 2, s03);
    wg_tensor *s = wg_sum(t, y);
    values_are("sum of empty", s, 1, (double[]){0});
    values_are("mean of empty", wg_mean(t, y), 1, (double[]){NAN});
    wg_tensor *s0 = wg_sum_axis(t, y, 0, false);
    values_are("sum over an empty axis", s0, 3, (double[]){0, 0, 0});
    shape_is("sum over a non-empty axis of [0,3]", wg_sum_axis(t, y, 1, false), 1, (int64_t[]){0});
    CHECK(wg_backward(t, s) == 0, "backward through empty tensors: %s", wg_tape_error(t));
    grads_are("b through an empty sum", b, 3, (double[]){0, 0, 0});
    /* matmul: [0,3]@[3,2] is [0,2]; [2,0]@[0,3] is zeros, k = 0. */
    wg_tensor *w = leaf(t, 2, (int64_t[]){3, 2}, (double[]){1, 2, 3, 4, 5, 6}, true);
    shape_is("[0,3] @ [3,2]", wg_matmul(t, e, w), 2, (int64_t[]){0, 2});
    wg_tensor *k0 = wg_matmul(t, wg_tensor_new(t, dt, 2, (int64_t[]){2, 0}, NULL, true),
                              wg_tensor_new(t, dt, 2, (int64_t[]){0, 3}, NULL, true));
    values_are("[2,0] @ [0,3]", k0, 6, (double[]){0, 0, 0, 0, 0, 0});
    CHECK(wg_backward(t, wg_sum(t, k0)) == 0, "%s", wg_tape_error(t));
    /* concat with an empty part, slice to nothing, reshape and transpose of empties. */
    wg_tensor *c = wg_concat(t, 3, (wg_tensor *[]){e, wg_reshape(t, b, 2, (int64_t[]){1, 3}), e}, 0);
    values_are("concat with empties", c, 3, (double[]){1, 2, 3});
    shape_is("slice to nothing", wg_slice(t, b, 0, 2, 1), 1, (int64_t[]){0});
    shape_is("reshape [0,3] to [3,-1]", wg_reshape(t, e, 2, (int64_t[]){3, -1}), 2, (int64_t[]){3, 0});
    shape_is("transpose [0,3]", wg_transpose(t, e, 0, 1), 2, (int64_t[]){3, 0});
    shape_is("max_axis of [0,3] over axis 1", wg_max_axis(t, e, 1, true), 2, (int64_t[]){0, 1});
    CHECK(wg_backward(t, wg_sum(t, c)) == 0, "%s", wg_tape_error(t));
    wg_tensor *sl = wg_slice(t, b, 0, 2, 1);
    CHECK(wg_backward_seed(t, sl, wg_full_like(t, sl, 1)) == 0, "backward from an empty output with a seed: %s",
          wg_tape_error(t));
    CHECK(wg_tape_error(t) == NULL, "no error from empty tensors: %s", wg_tape_error(t));
    wg_tape_free(t);
}

/* ---- views ------------------------------------------------------------------ */

static void views(void)
{
    wg_tape *t = wg_tape_new();
    static const double v[6] = {1, 2, 3, 4, 5, 6};
    wg_tensor *x = leaf(t, 2, (int64_t[]){2, 3}, v, true);
    wg_tensor *r = wg_reshape(t, x, 2, (int64_t[]){3, 2});
    wg_tensor *d = wg_detach(t, x);
    CHECK(wg_data(r) == wg_data(x) && wg_data(d) == wg_data(x), "reshape and detach share x's values");
    /* y = sum(r * [1..6]) + sum(x * d): dx = [1..6] + d = [1..6] + x. */
    wg_tensor *k = leaf(t, 2, (int64_t[]){3, 2}, v, false);
    wg_tensor *y = wg_add(t, wg_sum(t, wg_mul(t, r, k)), wg_sum(t, wg_mul(t, x, d)));
    CHECK(wg_backward(t, y) == 0, "%s", wg_tape_error(t));
    grads_are("x through reshape and detach", x, 6, (double[]){2, 4, 6, 8, 10, 12});
    CHECK(wg_grad(r) != wg_grad(x) && wg_grad(r) != NULL, "a view has a gradient buffer of its own");
    grads_are("the reshape view", r, 6, v);
    CHECK(wg_grad(d) == NULL, "detach has no gradient");
    /* A one-element view copies the value (it lives inline in its node). */
    wg_tensor *one = leaf(t, 1, (int64_t[]){1}, (double[]){7}, true);
    wg_tensor *r1 = wg_reshape(t, one, 0, NULL);
    values_are("reshape [1] -> []", r1, 1, (double[]){7});
    CHECK(wg_backward(t, wg_mul(t, r1, r1)) == 0, "%s", wg_tape_error(t));
    grads_are("through a 0-d reshape", one, 1, (double[]){14});
    wg_tape_free(t);
}

/* ---- NaN ------------------------------------------------------------------------ */

static void nan_propagates(void)
{
    wg_tape *t = wg_tape_new();
    wg_tensor *x = leaf(t, 1, (int64_t[]){3}, (double[]){NAN, 1, -2}, true);
    wg_tensor *one = leaf(t, 1, (int64_t[]){3}, (double[]){1, 1, 1}, false);
    values_are("x + 1", wg_add(t, x, 1), 3, (double[]){NAN, 2, -1});
    bool f32 = dt == WG_F32; /* the kernels call expf, tanhf for f32 */
    values_are("exp", wg_exp(t, x), 3, (double[]){NAN, f32 ? expf(1) : exp(1), f32 ? expf(-2) : exp(-2)});
    values_are("max(x, 0)", wg_max(t, x, 0.0), 3, (double[]){NAN, 1, 0});
    values_are("max(1, x)", wg_max(t, one, x), 3, (double[]){NAN, 1, 1});
    values_are("min(x, 1)", wg_min(t, x, one), 3, (double[]){NAN, 1, -2});
    values_are("min(1, x)", wg_min(t, one, x), 3, (double[]){NAN, 1, -2});
    values_are("sum", wg_sum(t, x), 1, (double[]){NAN});
    values_are("max_axis", wg_max_axis(t, x, 0, false), 1, (double[]){NAN});
    values_are("tanh", wg_tanh(t, x), 3, (double[]){NAN, f32 ? tanhf(1) : tanh(1), f32 ? tanhf(-2) : tanh(-2)});
    values_are("abs", wg_abs(t, x), 3, (double[]){NAN, 1, 2});
    values_are("sin", wg_sin(t, x), 3, (double[]){NAN, f32 ? sinf(1) : sin(1), f32 ? sinf(-2) : sin(-2)});
    values_are("cos", wg_cos(t, x), 3, (double[]){NAN, f32 ? cosf(1) : cos(1), f32 ? cosf(-2) : cos(-2)});
    wg_tensor *m = wg_matmul(t, wg_reshape(t, x, 2, (int64_t[]){3, 1}), wg_reshape(t, one, 2, (int64_t[]){1, 3}));
    values_are("outer product with a NaN", m, 9, (double[]){NAN, NAN, NAN, 1, 1, 1, -2, -2, -2});
    /* The gradient of relu at a NaN is the NaN's seed (max takes the NaN side). */
    wg_tensor *r = wg_max(t, x, 0.0);
    CHECK(wg_backward_seed(t, r, one) == 0, "%s", wg_tape_error(t));
    grads_are("relu at NaN, 1, -2", x, 3, (double[]){1, 1, 0});
    /* The max over a slice holding a NaN sends its gradient to the NaN. */
    wg_tape_zero_grad(t);
    wg_tensor *mx = wg_max_axis(t, x, 0, false);
    CHECK(wg_backward(t, mx) == 0, "%s", wg_tape_error(t));
    grads_are("max_axis with a NaN", x, 3, (double[]){1, 0, 0});
    wg_tape_free(t);
}

/* ---- logsumexp: the fused op against its composite --------------------------------- */

/* The composite the fused op replaces: m + log(sum(exp(x - m))), m the detached max. */
static wg_tensor *lse_composite(wg_tape *t, wg_tensor *x, int axis, bool keepdim)
{
    wg_tensor *m = wg_detach(t, wg_max_axis(t, x, axis, true));
    wg_tensor *y = wg_add(t, wg_log(t, wg_sum_axis(t, wg_exp(t, wg_sub(t, x, m)), axis, true)), m);
    if (keepdim || !y) return y;
    wg_tensor *f = wg_logsumexp(t, x, axis, false); /* only for its shape */
    return f ? wg_reshape(t, y, wg_ndim(f), wg_shape(f)) : NULL;
}

/* wg_logsumexp equals the composite exactly, value and gradient (random
 * cotangent), along every axis, kept or not, for rows short and long (the
 * last axis and the others take different loops); and its special values
 * are PyTorch's: a slice of -inf gives -inf, one holding +inf gives +inf,
 * an empty slice -inf, +-1000 stay finite. */
static void logsumexp_fused(void)
{
    static const struct {
        int ndim;
        int64_t d[3];
    } shapes[] = {{3, {2, 3, 4}}, {1, {1001}}, {2, {3, 517}}, {2, {517, 3}}};
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        size_t n = 1;
        for (int i = 0; i < shapes[c].ndim; i++) n *= (size_t)shapes[c].d[i];
        double *v = malloc(n * sizeof *v), *r = malloc(n * sizeof *r);
        CHECK(v && r, "no memory");
        if (!v || !r) return;
        for (size_t i = 0; i < n; i++) {
            v[i] = 4 * sin(1.7 * (double)i + 0.3) + 0.01 * (double)(i % 7);
            r[i] = cos(0.9 * (double)i);
        }
        for (int axis = 0; axis < shapes[c].ndim; axis++)
            for (int keep = 0; keep < 2; keep++) {
                wg_tape *t = wg_tape_new();
                wg_tensor *x1 = leaf(t, shapes[c].ndim, shapes[c].d, v, true);
                wg_tensor *x2 = leaf(t, shapes[c].ndim, shapes[c].d, v, true);
                wg_tensor *f = wg_logsumexp(t, x1, axis, keep), *g = lse_composite(t, x2, axis, keep);
                CHECK(f && g && wg_numel(f) == wg_numel(g) && wg_ndim(f) == wg_ndim(g), "logsumexp (%s) case %zu: %s",
                      dtn, c, wg_tape_error(t));
                if (f && g) {
                    for (size_t i = 0; i < wg_numel(f); i++)
                        CHECK(wg_get(f, i) == wg_get(g, i), "logsumexp (%s) case %zu axis %d [%zu] = %.17g, composite %.17g",
                              dtn, c, axis, i, wg_get(f, i), wg_get(g, i));
                    wg_tensor *seed = leaf(t, wg_ndim(f), wg_shape(f), r, false);
                    CHECK(wg_backward_seed(t, f, seed) == 0 && wg_backward_seed(t, g, seed) == 0, "%s",
                          wg_tape_error(t));
                    for (size_t i = 0; i < n; i++)
                        CHECK(wg_grad_get(x1, i) == wg_grad_get(x2, i),
                              "logsumexp gradient (%s) case %zu axis %d [%zu] = %.17g, composite %.17g", dtn, c, axis,
                              i, wg_grad_get(x1, i), wg_grad_get(x2, i));
                }
                wg_tape_free(t);
            }
        free(v);
        free(r);
    }
    wg_tape *t = wg_tape_new();
    const double inf = INFINITY;
    wg_tensor *x = leaf(t, 2, (int64_t[]){4, 2}, (double[]){-inf, -inf, 1, inf, 1000, 1000, -1000, -1000}, true);
    wg_tensor *y = wg_logsumexp(t, x, 1, false);
    double l2 = dt == WG_F32 ? (double)logf(2) : log(2);
    values_are("logsumexp special rows", y, 4,
               (double[]){-inf, inf, dt == WG_F32 ? (double)(1000 + (float)l2) : 1000 + l2,
                          dt == WG_F32 ? (double)(-1000 + (float)l2) : -1000 + l2});
    CHECK(wg_backward_seed(t, y, leaf(t, 1, (int64_t[]){4}, (double[]){0, 0, 1, 1}, false)) == 0, "%s",
          wg_tape_error(t));
    for (size_t i = 4; i < 8; i++)
        CHECK(wg_grad_get(x, i) == 0.5, "logsumexp gradient at +-1000 [%zu] = %.17g, want 0.5", i, wg_grad_get(x, i));
    wg_tensor *e = leaf(t, 2, (int64_t[]){2, 0}, NULL, false);
    values_are("logsumexp of an empty axis", wg_logsumexp(t, e, 1, false), 2, (double[]){-inf, -inf});
    wg_tape_free(t);
}

/* ---- axpy: the fused op against its composite ------------------------------------- */

/* wg_axpy(alpha, x, y) equals add(y, mul(alpha, x)) exactly, value and
 * gradients (random cotangent), same shapes and broadcast both ways, and x
 * and y the same tensor. */
static void axpy_fused(void)
{
    static const struct {
        int nx;
        int64_t x[2];
        int ny;
        int64_t y[2];
    } shapes[] = {{1, {37}, 1, {37}}, {2, {3, 5}, 1, {5}}, {1, {5}, 2, {3, 5}}, {2, {3, 1}, 2, {1, 4}}, {0, {0}, 1, {6}}};
    const double alpha = -0.37;
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        double v[64], w[64], r[64];
        for (int i = 0; i < 64; i++) {
            v[i] = 3 * sin(1.3 * i + 0.1);
            w[i] = 2 * cos(0.7 * i);
            r[i] = sin(2.9 * i + 1);
        }
        wg_tape *t = wg_tape_new();
        wg_tensor *x1 = leaf(t, shapes[c].nx, shapes[c].x, v, true), *y1 = leaf(t, shapes[c].ny, shapes[c].y, w, true);
        wg_tensor *x2 = leaf(t, shapes[c].nx, shapes[c].x, v, true), *y2 = leaf(t, shapes[c].ny, shapes[c].y, w, true);
        wg_tensor *f = wg_axpy(t, alpha, x1, y1), *g = wg_add(t, y2, wg_mul(t, alpha, x2));
        CHECK(f && g && wg_numel(f) == wg_numel(g), "axpy (%s) case %zu: %s", dtn, c, wg_tape_error(t));
        if (f && g) {
            for (size_t i = 0; i < wg_numel(f); i++)
                CHECK(wg_get(f, i) == wg_get(g, i), "axpy (%s) case %zu [%zu] = %.17g, composite %.17g", dtn, c, i,
                      wg_get(f, i), wg_get(g, i));
            wg_tensor *seed = leaf(t, wg_ndim(f), wg_shape(f), r, false);
            CHECK(wg_backward_seed(t, f, seed) == 0 && wg_backward_seed(t, g, seed) == 0, "%s", wg_tape_error(t));
            for (size_t i = 0; i < wg_numel(x1); i++)
                CHECK(wg_grad_get(x1, i) == wg_grad_get(x2, i), "axpy gradient of x (%s) case %zu [%zu] = %.17g, composite %.17g",
                      dtn, c, i, wg_grad_get(x1, i), wg_grad_get(x2, i));
            for (size_t i = 0; i < wg_numel(y1); i++)
                CHECK(wg_grad_get(y1, i) == wg_grad_get(y2, i), "axpy gradient of y (%s) case %zu [%zu] = %.17g, composite %.17g",
                      dtn, c, i, wg_grad_get(y1, i), wg_grad_get(y2, i));
        }
        wg_tape_free(t);
    }
    wg_tape *t = wg_tape_new();
    wg_tensor *x = leaf(t, 1, (int64_t[]){3}, (double[]){1, -2, 0.5}, true);
    wg_tensor *s = wg_axpy(t, 2, x, x); /* 3x: the gradient is 3 */
    values_are("axpy(2, x, x)", s, 3, (double[]){3, -6, 1.5});
    CHECK(wg_backward_seed(t, s, leaf(t, 1, (int64_t[]){3}, (double[]){1, 1, 1}, false)) == 0, "%s", wg_tape_error(t));
    grads_are("axpy(2, x, x)", x, 3, (double[]){3, 3, 3});
    wg_tape_free(t);
}

/* ---- fast math ------------------------------------------------------------------- */

/* |got - want| in units in the last place of want (in dt's precision). */
static double ulps(double got, double want)
{
    if (got == want) return 0;
    double u = dt == WG_F32 ? (double)(nextafterf((float)fabs(want), INFINITY) - (float)fabs(want))
                            : nextafter(fabs(want), INFINITY) - fabs(want);
    return fabs(got - want) / u;
}

/* wg_set_fast_math: exp and tanh within 4 ulp of libm's (glibc's bound for
 * libmvec), exact at the special values, and every element by the same path:
 * the value of an element is the same in a long tensor, at another position,
 * alone in a one-element tensor and as a 0-d scalar.  The gradient of exp is
 * still gy times the (fast) output.  Off again, libm's values come back. */
static void fast_math(void)
{
    wg_set_fast_math(true);
    if (!wg_get_fast_math()) { /* no libmvec here: nothing to check */
        wg_set_fast_math(false);
        return;
    }
    enum { N = 41 };
    double v[N], rv[N];
    for (int i = 0; i < N - 6; i++) v[i] = -30 + 60.0 * i / (N - 7) + 0.013 * i;
    v[N - 6] = 0, v[N - 5] = NAN, v[N - 4] = INFINITY, v[N - 3] = -INFINITY, v[N - 2] = -700, v[N - 1] = 1;
    for (int i = 0; i < N; i++) rv[i] = v[N - 1 - i];
    bool f32 = dt == WG_F32;
    for (int fn = 0; fn < 2; fn++) {
        const char *name = fn ? "tanh" : "exp";
        wg_tensor *(*op)(wg_tape *, wg_tensor *) = fn ? wg_tanh : wg_exp;
        wg_tape *t = wg_tape_new();
        wg_tensor *y = op(t, leaf(t, 1, (int64_t[]){N}, v, false));
        wg_tensor *ry = op(t, leaf(t, 1, (int64_t[]){N}, rv, false));
        CHECK(y && ry, "fast %s (%s): %s", name, dtn, wg_tape_error(t));
        for (int i = 0; y && ry && i < N; i++) {
            double x = f32 ? (double)(float)v[i] : v[i];
            double want = fn ? (f32 ? tanhf((float)x) : tanh(x)) : (f32 ? expf((float)x) : exp(x));
            double got = wg_get(y, (size_t)i);
            wg_tensor *one = op(t, leaf(t, 1, (int64_t[]){1}, &v[i], false));
            wg_tensor *s = op(t, wg_scalar(t, dt, v[i], false));
            double g1 = one ? wg_get(one, 0) : NAN, gs = s ? wg_item(s) : NAN, gr = wg_get(ry, (size_t)(N - 1 - i));
            bool same = isnan(got) ? isnan(g1) && isnan(gs) && isnan(gr) : got == g1 && got == gs && got == gr;
            CHECK(same, "fast %s (%s) of %.17g: %.17g in the tensor, %.17g reversed, %.17g alone, %.17g as a scalar",
                  name, dtn, x, got, gr, g1, gs);
            if (isnan(want) || isinf(want) || want == 0 || x == 0)
                CHECK(isnan(want) ? isnan(got) : got == want, "fast %s (%s) of %g = %.17g, want %.17g", name, dtn, x,
                      got, want);
            else
                CHECK(ulps(got, want) <= 4, "fast %s (%s) of %.17g = %.17g, libm %.17g: %.1f ulp", name, dtn, x, got,
                      want, ulps(got, want));
        }
        wg_tape_free(t);
    }
    /* exp's gradient is gy * y with the fast y */
    wg_tape *t = wg_tape_new();
    wg_tensor *x = leaf(t, 1, (int64_t[]){3}, (double[]){1, -2, 0.5}, true);
    wg_tensor *gy = leaf(t, 1, (int64_t[]){3}, (double[]){3, 0.25, -1}, false);
    wg_tensor *y = wg_exp(t, x);
    CHECK(y && wg_backward_seed(t, y, gy) == 0, "fast exp backward (%s): %s", dtn, wg_tape_error(t));
    for (size_t i = 0; y && i < 3; i++)
        CHECK(wg_grad_get(x, i) == (f32 ? (double)((float)wg_get(gy, i) * (float)wg_get(y, i)) : wg_get(gy, i) * wg_get(y, i)),
              "fast exp gradient (%s) [%zu] = %.17g", dtn, i, wg_grad_get(x, i));
    wg_set_fast_math(false);
    CHECK(!wg_get_fast_math(), "fast math still on");
    wg_tensor *e = wg_exp(t, leaf(t, 1, (int64_t[]){2}, (double[]){1, -1}, false));
    values_are("exp after fast math", e, 2, (double[]){f32 ? expf(1) : exp(1), f32 ? expf(-1) : exp(-1)});
    wg_tape_free(t);
}

int main(void)
{
    for (int pass = 0; pass < 2; pass++) {
        dt = pass ? WG_F64 : WG_F32;
        dtn = pass ? "f64" : "f32";
        matmul_small();
        matmul_identity();
        broadcasting();
        reductions();
        long_sums();
        kinks_and_ties();
        empty_tensors();
        views();
        nan_propagates();
        logsumexp_fused();
        axpy_fused();
        fast_math();
    }
    return wg_test_done("test_exact");
}
