/* test_step_sink: the matmul VJP handing a weight's gradient to a
 * wg_step_sink (wg_parts.h) in blocks of rows, as the optimiser in backward
 * uses it.  For a dense layer y = x W^T at every product kernel the library
 * picks (an outer product at batch 1, dot products, an axpy over a few
 * terms, the narrow kernels for at most one vector's lanes), on one and two
 * threads, f32 and f64, the rows the sink receives must be the bits
 * the ordinary backward writes to W's gradient, every row exactly once,
 * with W's gradient buffer left untouched and x's gradient unchanged.  And
 * the ordinary path must be taken (begin never called, the gradient written)
 * where the sink cannot be used: no gradient hook on the tape, W used twice,
 * the sink on another tape, an infinite or NaN input, values large enough
 * that a product could overflow, a sink that declines, and a product BLIS
 * makes (not cut: every call would pack x again). */
#include <stdlib.h>

#include "core_util.h"
#include "wg_parts.h"
#include "wg_test.h"
#include "wengert.h"

typedef struct {
    wg_param *p;
    int begins, declines;
    unsigned char *seen; /* rows received */
    void *got;           /* the rows, as a gradient */
    void *buf;
    size_t cap;
    int bad_rows;        /* a row outside the parameter or twice */
} sink_log;

static void *scratch(size_t bytes, void *ctx)
{
    sink_log *L = ctx;
    if (bytes > L->cap) {
        free(L->buf);
        L->buf = malloc(bytes);
        L->cap = L->buf ? bytes : 0;
    }
    return L->buf;
}
static bool take(wg_param *p, void *ctx)
{
    sink_log *L = ctx;
    if (p != L->p || L->declines) return false;
    L->begins++;
    return true;
}
static void rows(wg_param *p, int64_t r0, int64_t r1, void *g, void *ctx)
{
    sink_log *L = ctx;
    const size_t es = p->dtype == WG_F32 ? 4 : 8, row = p->numel / (size_t)p->shape[0];
#pragma omp critical
    {
        for (int64_t r = r0; r < r1; r++) {
            if (r < 0 || r >= p->shape[0] || L->seen[r]) L->bad_rows++;
            else L->seen[r] = 1;
        }
        if (r0 >= 0 && r1 <= p->shape[0] && r1 > r0)
            memcpy((char *)L->got + (size_t)r0 * row * es, g, (size_t)(r1 - r0) * row * es);
    }
}
static void no_hook(wg_param *p, void *ctx)
{
    (void)p;
    (void)ctx;
}

static void fill(wg_dtype dt, void *v, size_t n, wg_rng *r, double scale)
{
    for (size_t i = 0; i < n; i++) {
        double x = scale * (wg_rng_uniform(r) * 2 - 1);
        if (dt == WG_F32) ((float *)v)[i] = (float)x;
        else ((double *)v)[i] = x;
    }
}

enum { PLAIN, NO_HOOK, TWICE, OTHER_TAPE, INF_INPUT, NAN_INPUT, HUGE, DECLINE, BLIS_SIZE, N_CASES };
static const char *const case_name[] = {"plain", "no hook", "W used twice", "sink of another tape", "inf in x",
                                        "NaN in x", "huge values", "sink declines", "a product BLIS makes"};

/* loss = sum(r * (x W^T)) (+ sum(W) for TWICE): its gradient to W is r^T x. */
static wg_tensor *loss_of(wg_tape *t, wg_dtype dt, int64_t b, int64_t in, const void *x, wg_param *W, const void *r,
                          int out, int kase, wg_tensor **xl)
{
    *xl = wg_tensor_new(t, dt, 2, (int64_t[]){b, in}, x, true);
    wg_tensor *y = wg_matmul_ex(t, *xl, wg_use(t, W), false, true);
    wg_tensor *rt = wg_tensor_new(t, dt, 2, (int64_t[]){b, out}, r, false);
    wg_tensor *l = wg_sum(t, wg_mul(t, y, rt));
    if (kase == TWICE) l = wg_add(t, l, wg_sum(t, wg_use(t, W)));
    return l;
}

static void one(wg_dtype dt, int threads, int64_t b, int64_t in, int64_t out, int kase)
{
    const size_t es = dt == WG_F32 ? 4 : 8;
    wg_rng rg;
    wg_rng_seed(&rg, (uint64_t)(b * 1000003 + in * 1009 + out * 7 + kase));
    wg_param *W = wg_param_new(dt, 2, (int64_t[]){out, in});
    fill(dt, W->data, W->numel, &rg, 1);
    void *x = malloc((size_t)(b * in) * es), *r = malloc((size_t)(b * out) * es);
    fill(dt, x, (size_t)(b * in), &rg, kase == HUGE ? (dt == WG_F32 ? 1e19 : 1e154) : 1);
    fill(dt, r, (size_t)(b * out), &rg, kase == HUGE ? (dt == WG_F32 ? 1e19 : 1e154) : 1);
    if (kase == INF_INPUT || kase == NAN_INPUT) {
        double bad = kase == INF_INPUT ? INFINITY : NAN;
        size_t i = (size_t)(b * in) / 2;
        if (dt == WG_F32) ((float *)x)[i] = (float)bad;
        else ((double *)x)[i] = bad;
    }
    wg_set_num_threads(threads);

    /* the ordinary gradients */
    wg_tape *t0 = wg_tape_new();
    wg_tensor *x0;
    wg_tensor *l0 = loss_of(t0, dt, b, in, x, W, r, (int)out, kase, &x0);
    CHECK(l0 && wg_backward(t0, l0) == 0, "backward: %s", wg_tape_error(t0));
    void *want = malloc(W->numel * es), *want_x = malloc((size_t)(b * in) * es);
    memcpy(want, W->grad, W->numel * es);
    memcpy(want_x, wg_grad(x0), (size_t)(b * in) * es);
    wg_param_zero_grad(W);

    /* the same with a sink on W */
    sink_log L = {.p = W, .declines = kase == DECLINE};
    L.seen = calloc((size_t)out, 1);
    L.got = calloc(W->numel, es);
    wg_tape *t = wg_tape_new(), *other = wg_tape_new();
    wg_step_sink s = {.tape = kase == OTHER_TAPE ? other : t, .scratch = scratch, .begin = take, .rows = rows,
                      .ctx = &L};
    W->priv->sink = &s;
    if (kase != NO_HOOK) wg_tape_set_grad_hook(t, no_hook, NULL);
    wg_tensor *x1;
    wg_tensor *l1 = loss_of(t, dt, b, in, x, W, r, (int)out, kase, &x1);
    CHECK(l1 && wg_backward(t, l1) == 0, "backward: %s", wg_tape_error(t));
    W->priv->sink = NULL;

    char what[160];
    snprintf(what, sizeof what, "%s, %d thread(s), x [%lld,%lld], W [%lld,%lld], %s", dt == WG_F32 ? "f32" : "f64",
             threads, (long long)b, (long long)in, (long long)out, (long long)in, case_name[kase]);
    CHECK(memcmp(wg_grad(x1), want_x, (size_t)(b * in) * es) == 0, "%s: x's gradient differs", what);
    if (kase == PLAIN) {
        int64_t missing = 0;
        for (int64_t i = 0; i < out; i++) missing += !L.seen[i];
        CHECK(L.begins == 1 && L.bad_rows == 0 && missing == 0, "%s: begin %d times, %d bad rows, %lld rows missing",
              what, L.begins, L.bad_rows, (long long)missing);
        CHECK(memcmp(L.got, want, W->numel * es) == 0, "%s: the rows differ from the ordinary gradient", what);
        size_t nonzero = 0;
        for (size_t i = 0; i < W->numel * es; i++) nonzero += ((unsigned char *)W->grad)[i] != 0;
        CHECK(nonzero == 0, "%s: W's gradient buffer was written (%zu bytes)", what, nonzero);
    } else {
        int64_t seen = 0;
        for (int64_t i = 0; i < out; i++) seen += L.seen[i];
        CHECK(L.begins == 0 && seen == 0, "%s: the sink was used (begin %d, %lld rows)", what, L.begins,
              (long long)seen);
        /* the ordinary path: bits equal where finite (NaN != NaN) */
        CHECK(memcmp(W->grad, want, W->numel * es) == 0 || kase == INF_INPUT || kase == NAN_INPUT || kase == HUGE,
              "%s: W's gradient differs from the ordinary one", what);
    }
    wg_tape_free(t);
    wg_tape_free(other);
    wg_tape_free(t0);
    wg_param_free(W);
    free(x);
    free(r);
    free(want);
    free(want_x);
    free(L.seen);
    free(L.got);
    free(L.buf);
}

int main(void)
{
    /* batch, in, out: an outer product (batch 1, 784 x 128 as mlp_a_b1's
     * first layer, several blocks of rows), a few terms, the narrow kernels
     * (7 outputs, 8 inputs: at most a vector's lanes), tiny products, one input
     * (then dW^T has unit strides both ways: the axpy and dot kernels) */
    static const int64_t shapes[][3] = {{1, 784, 128}, {1, 30, 7}, {3, 50, 70}, {8, 40, 60}, {64, 256, 7},
                                        {64, 8, 200}, {5, 9, 11}, {2, 3000, 40}, {20, 30, 40},
                                        {4, 1, 30}, {6, 1, 1}};
    for (int d = 0; d < 2; d++)
        for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
            for (int th = 1; th <= 2; th++)
                one(d ? WG_F64 : WG_F32, th, shapes[i][0], shapes[i][1], shapes[i][2], PLAIN);
    for (int d = 0; d < 2; d++)
        for (int k = NO_HOOK; k < N_CASES; k++)
            for (int th = 1; th <= 2; th++) {
                if (k == BLIS_SIZE) {
                    one(d ? WG_F64 : WG_F32, th, 128, 300, 200, k);
                    continue;
                }
                one(d ? WG_F64 : WG_F32, th, 1, 40, 20, k);
                one(d ? WG_F64 : WG_F32, th, 64, 256, 7, k);
            }
    wg_set_num_threads(1);
    return wg_test_done("test_step_sink");
}
