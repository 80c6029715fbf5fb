/* test_gradcheck: every primitive op of ops/ops.def against central
 * differences, in f64, with wg_gradcheck (random cotangent for non-scalar
 * outputs, h = cbrt(eps) max(|x|, 1)).
 *
 * The case list is generated from ops.def: the X-macro below declares
 * gc_case_<op> for every op and main() calls each one, so an op added to
 * ops.def without a case here fails to link.
 *
 * Built a second time with WG_GC_REPLAY as test_replay: the same cases,
 * each replayed at new inputs (replay_check.h).
 *
 * Tolerance: rtol 1e-6, atol 1e-7 (tighter than wg_gradcheck's f64 defaults).
 * Central differences in f64 with this h are good to about 1e-10 relative
 * on these inputs; a wrong VJP is off by O(1).  Inputs come from the
 * distributions of core_util.h, chosen so that no finite-difference step
 * crosses a kink (max/min ties, |x| at 0, log and sqrt at <= 0).
 */
#include <stdio.h>

#include "core_util.h"
#include "custom_ops.h"
#include "wg_test.h"

#define X(name) void gc_case_##name(void);
#include "ops.def"
#undef X

enum { MAX_IN = 4 };

static int n_cases;

/* "<prefix><label> on [2,3] [3]": a case's name in failures, with its
 * inputs' shapes. */
static void case_where(char *buf, size_t len, const char *prefix, const char *label, int n, const in_spec *in)
{
    int k = snprintf(buf, len, "%s%s on", prefix, label);
    for (int j = 0; j < n && k > 0 && (size_t)k < len; j++) {
        k += snprintf(buf + k, len - (size_t)k, " [");
        for (int i = 0; i < in[j].ndim && k > 0 && (size_t)k < len; i++)
            k += snprintf(buf + k, len - (size_t)k, i ? ",%lld" : "%lld", (long long)in[j].d[i]);
        if (k > 0 && (size_t)k < len) k += snprintf(buf + k, len - (size_t)k, "]");
    }
}

#ifdef WG_GC_REPLAY
/* Built as test_replay: every case below is a replay case instead. */
#include "replay_check.h"
#else
/* Gradcheck f on fresh random f64 inputs; label names the case in failures. */
static void gc(const char *label, wg_gradcheck_fn f, void *ctx, int n, const in_spec *in)
{
    wg_param *ps[MAX_IN] = {0};
    size_t total = 0;
    char where[256];
    case_where(where, sizeof where, "", label, n, in);
    for (int i = 0; i < n; i++) {
        ps[i] = cu_param(WG_F64, in[i].ndim, in[i].d, in[i].fill);
        CHECK(ps[i] != NULL, "%s: no memory for input %d: %s", where, i, wg_last_error());
        if (!ps[i]) goto out;
        total += ps[i]->numel;
    }
    wg_gradcheck_opts opts = {.atol = 1e-7, .rtol = 1e-6, .seed = (uint64_t)n_cases};
    wg_gradcheck_report rep;
    int rc = wg_gradcheck(f, ctx, n, ps, &opts, &rep);
    CHECK(rc == 1, "%s: %s", where, rep.message);
    CHECK(rep.n_checked == total, "%s: checked %zu of %zu elements", where, rep.n_checked, total);
    n_cases++;
out:
    for (int i = 0; i < n; i++) wg_param_free(ps[i]);
}
#endif

/* ---- leaf ------------------------------------------------------------------ */

static wg_tensor *f_identity(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    (void)t, (void)ctx;
    return in[0];
}

void gc_case_leaf(void)
{
    gc("leaf", f_identity, NULL, 1, (in_spec[]){{2, {2, 3}, FILL_NORMAL}});
    gc("leaf", f_identity, NULL, 1, (in_spec[]){{0, {0}, FILL_NORMAL}});
    gc("leaf", f_identity, NULL, 1, (in_spec[]){{4, {2, 1, 2, 2}, FILL_NORMAL}});
}

/* ---- binary ops, broadcasting on both sides --------------------------------- */

typedef wg_tensor *(*bin_fn)(wg_tape *, wg_tensor *, wg_tensor *);
enum { BIN_TT, BIN_NUM_LEFT, BIN_NUM_RIGHT, BIN_SAME };
typedef struct {
    bin_fn op;
    int mode;
    double c;
} bin_ctx;

static wg_tensor *f_binary(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    const bin_ctx *b = ctx;
    switch (b->mode) {
    case BIN_NUM_LEFT: return b->op(t, wg_const(t, b->c), in[0]);
    case BIN_NUM_RIGHT: return b->op(t, in[0], wg_const(t, b->c));
    case BIN_SAME: return b->op(t, in[0], in[0]);
    default: return b->op(t, in[0], in[1]);
    }
}

static const struct {
    int na;
    int64_t a[WG_MAX_DIMS];
    int nb;
    int64_t b[WG_MAX_DIMS];
} bin_shapes[] = {
    {2, {3, 4}, 2, {3, 4}},       {2, {3, 4}, 1, {4}},          {1, {4}, 2, {3, 4}},
    {2, {3, 1}, 2, {1, 4}},       {2, {1, 4}, 2, {3, 1}},       {3, {2, 3, 4}, 2, {3, 1}},
    {2, {3, 1}, 3, {2, 3, 4}},    {0, {0}, 2, {2, 3}},          {2, {2, 3}, 0, {0}},
    {0, {0}, 0, {0}},             {1, {1}, 3, {2, 3, 4}},       {4, {2, 1, 3, 1}, 3, {2, 1, 2}},
    {3, {2, 1, 2}, 4, {2, 1, 3, 1}},
};

/* fa, fb: the input distributions of a and b; c: the number operand. */
static void binary_cases(const char *name, bin_fn op, fill_kind fa, fill_kind fb, double c)
{
    for (size_t i = 0; i < sizeof bin_shapes / sizeof bin_shapes[0]; i++) {
        in_spec in[2] = {{bin_shapes[i].na, {0}, fa}, {bin_shapes[i].nb, {0}, fb}};
        memcpy(in[0].d, bin_shapes[i].a, sizeof in[0].d);
        memcpy(in[1].d, bin_shapes[i].b, sizeof in[1].d);
        gc(name, f_binary, &(bin_ctx){op, BIN_TT, 0}, 2, in);
    }
    char label[64];
    snprintf(label, sizeof label, "%s(%g, x)", name, c);
    gc(label, f_binary, &(bin_ctx){op, BIN_NUM_LEFT, c}, 1, (in_spec[]){{2, {2, 3}, fb}});
    gc(label, f_binary, &(bin_ctx){op, BIN_NUM_LEFT, c}, 1, (in_spec[]){{0, {0}, fb}});
    snprintf(label, sizeof label, "%s(x, %g)", name, c);
    gc(label, f_binary, &(bin_ctx){op, BIN_NUM_RIGHT, c}, 1, (in_spec[]){{2, {2, 3}, fa}});
    gc(label, f_binary, &(bin_ctx){op, BIN_NUM_RIGHT, c}, 1, (in_spec[]){{0, {0}, fa}});
    snprintf(label, sizeof label, "%s(x, x)", name);
    gc(label, f_binary, &(bin_ctx){op, BIN_SAME, 0}, 1, (in_spec[]){{2, {3, 2}, fa == FILL_HALF ? FILL_NORMAL : fa}});
}

void gc_case_add(void) { binary_cases("add", wg__add, FILL_NORMAL, FILL_NORMAL, 1.7); }
void gc_case_sub(void) { binary_cases("sub", wg__sub, FILL_NORMAL, FILL_NORMAL, 1.7); }
void gc_case_mul(void) { binary_cases("mul", wg__mul, FILL_NORMAL, FILL_NORMAL, 1.7); }
void gc_case_div(void) { binary_cases("div", wg__div, FILL_AWAY0, FILL_AWAY0, 1.7); }
/* max(x, 0) and min(0, x) are relu and its mirror; HALF values are never 0. */
void gc_case_max(void) { binary_cases("max", wg__max, FILL_HALF, FILL_INT, 0.0); }
void gc_case_min(void) { binary_cases("min", wg__min, FILL_HALF, FILL_INT, 0.0); }
void gc_case_pow(void) { binary_cases("pow", wg__pow, FILL_POS, FILL_NORMAL, 1.7); }
static wg_tensor *axpy_m13(wg_tape *t, wg_tensor *a, wg_tensor *b) { return wg_axpy(t, -1.3, a, b); }
void gc_case_axpy(void) { binary_cases("axpy(-1.3, a, b)", axpy_m13, FILL_NORMAL, FILL_NORMAL, 1.7); }

/* mask(x, m): m a fixed 0/1 pattern (a constant here, so only x is checked),
 * broadcast both ways; and exactly 0 where m is 0 even for inf and NaN. */
static wg_tensor *f_mask(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    const int *shape_kind = ctx;
    static const double m6[6] = {1, 0, 1, 1, 0, 1}, m3[3] = {0, 1, 1};
    wg_tensor *m = *shape_kind == 0 ? wg_tensor_new(t, WG_F64, 2, (int64_t[]){2, 3}, m6, false)
                                    : wg_tensor_new(t, WG_F64, 1, (int64_t[]){3}, m3, false);
    return wg_mask(t, in[0], m);
}

void gc_case_mask(void)
{
    int same = 0, row = 1;
    gc("mask", f_mask, &same, 1, (in_spec[]){{2, {2, 3}, FILL_NORMAL}});
    gc("mask, m broadcast", f_mask, &row, 1, (in_spec[]){{2, {4, 3}, FILL_NORMAL}});
    gc("mask, x broadcast", f_mask, &same, 1, (in_spec[]){{1, {3}, FILL_NORMAL}});
    wg_tape *t = wg_tape_new();
    wg_tensor *x = wg_tensor_new(t, WG_F64, 1, (int64_t[]){3}, (double[]){INFINITY, NAN, 2}, true);
    wg_tensor *m = wg_tensor_new(t, WG_F64, 1, (int64_t[]){3}, (double[]){0, 0, 1}, false);
    wg_tensor *y = wg_mask(t, x, m);
    CHECK(y && wg_get(y, 0) == 0 && wg_get(y, 1) == 0 && wg_get(y, 2) == 2, "mask of inf, NaN: %g %g %g", wg_get(y, 0),
          wg_get(y, 1), wg_get(y, 2));
    wg_tensor *g = wg_tensor_new(t, WG_F64, 1, (int64_t[]){3}, (double[]){INFINITY, INFINITY, 3}, false);
    CHECK(wg_backward_seed(t, y, g) == 0 && wg_grad_get(x, 0) == 0 && wg_grad_get(x, 1) == 0 && wg_grad_get(x, 2) == 3,
          "mask's VJP of an infinite cotangent: %g %g %g", wg_grad_get(x, 0), wg_grad_get(x, 1), wg_grad_get(x, 2));
    wg_tape_free(t);
}

/* ---- unary ops ---------------------------------------------------------------- */

typedef wg_tensor *(*un_fn)(wg_tape *, wg_tensor *);

static wg_tensor *f_unary(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    return (*(un_fn *)ctx)(t, in[0]);
}

static void unary_cases(const char *name, un_fn op, fill_kind k)
{
    gc(name, f_unary, &op, 1, (in_spec[]){{2, {2, 3}, k}});
    gc(name, f_unary, &op, 1, (in_spec[]){{0, {0}, k}});
    gc(name, f_unary, &op, 1, (in_spec[]){{1, {7}, k}});
    gc(name, f_unary, &op, 1, (in_spec[]){{4, {2, 1, 2, 3}, k}});
}

void gc_case_neg(void) { unary_cases("neg", wg_neg, FILL_NORMAL); }
void gc_case_exp(void) { unary_cases("exp", wg_exp, FILL_NORMAL); }
void gc_case_log(void) { unary_cases("log", wg_log, FILL_POS); }
void gc_case_log1p(void) { unary_cases("log1p", wg_log1p, FILL_POS); }
void gc_case_sqrt(void) { unary_cases("sqrt", wg_sqrt, FILL_POS); }
void gc_case_tanh(void) { unary_cases("tanh", wg_tanh, FILL_NORMAL); }
void gc_case_sin(void) { unary_cases("sin", wg_sin, FILL_NORMAL); }
void gc_case_cos(void) { unary_cases("cos", wg_cos, FILL_NORMAL); }
void gc_case_abs(void) { unary_cases("abs", wg_abs, FILL_AWAY0); }

/* sign and step: the gradient through them is zero, and the product rule
 * around them still works: d/dx [x sign(x) + x step(x)] = sign(x) + step(x). */
static wg_tensor *f_times(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    un_fn op = *(un_fn *)ctx;
    return wg_add(t, wg_mul(t, in[0], op(t, in[0])), wg_mul(t, op(t, in[0]), in[0]));
}

static void piecewise_cases(const char *name, un_fn op)
{
    unary_cases(name, op, FILL_AWAY0);
    char label[64];
    snprintf(label, sizeof label, "x*%s(x) + %s(x)*x", name, name);
    gc(label, f_times, &op, 1, (in_spec[]){{2, {3, 4}, FILL_AWAY0}});
    /* Nothing requires a gradient behind them, even from a leaf that does. */
    wg_tape *t = wg_tape_new();
    wg_tensor *x = wg_tensor_new(t, WG_F64, 1, (int64_t[]){3}, (double[]){-1, 0, 2}, true);
    wg_tensor *y = op(t, x);
    CHECK(y && !wg_requires_grad(y), "%s(x) of a leaf that requires grad must not require one", name);
    CHECK(wg_backward(t, wg_sum(t, y)) == 0, "%s: %s", name, wg_tape_error(t));
    for (size_t i = 0; i < 3; i++) CHECK(wg_grad_get(x, i) == 0, "%s: gradient %g at %zu", name, wg_grad_get(x, i), i);
    wg_tape_free(t);
}

void gc_case_sign(void) { piecewise_cases("sign", wg_sign); }
void gc_case_step(void) { piecewise_cases("step", wg_step); }

static wg_tensor *f_pow_c(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    return wg_pow(t, in[0], *(double *)ctx);
}

void gc_case_pow_c(void)
{
    static const struct {
        double c;
        fill_kind k;
    } cs[] = {{0, FILL_NORMAL}, {1, FILL_NORMAL}, {2, FILL_NORMAL},  {3, FILL_NORMAL},
              {0.5, FILL_POS},  {-1, FILL_AWAY0}, {-2.5, FILL_POS}, {1.5, FILL_POS}};
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        char label[32];
        snprintf(label, sizeof label, "pow_c(x, %g)", cs[i].c);
        double c = cs[i].c;
        gc(label, f_pow_c, &c, 1, (in_spec[]){{2, {2, 3}, cs[i].k}});
        gc(label, f_pow_c, &c, 1, (in_spec[]){{0, {0}, cs[i].k}});
    }
}

/* ---- reductions ----------------------------------------------------------- */

enum { RED_SUM, RED_MEAN, RED_MAX, RED_LSE };
typedef struct {
    int which;
    bool all;
    int axis;
    bool keepdim;
} red_ctx;

static wg_tensor *f_reduce(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    const red_ctx *r = ctx;
    if (r->which == RED_MAX) return wg_max_axis(t, in[0], r->axis, r->keepdim);
    if (r->which == RED_LSE) return wg_logsumexp(t, in[0], r->axis, r->keepdim);
    if (r->all) return r->which == RED_SUM ? wg_sum(t, in[0]) : wg_mean(t, in[0]);
    return r->which == RED_SUM ? wg_sum_axis(t, in[0], r->axis, r->keepdim)
                               : wg_mean_axis(t, in[0], r->axis, r->keepdim);
}

static void reduce_cases(const char *name, int which, fill_kind k)
{
    static const in_spec shapes[] = {
        {3, {2, 3, 4}, FILL_NORMAL}, {1, {5}, FILL_NORMAL}, {4, {2, 1, 3, 2}, FILL_NORMAL}, {2, {1, 4}, FILL_NORMAL}};
    char label[64];
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        in_spec in = shapes[s];
        in.fill = k;
        if (which != RED_MAX && which != RED_LSE) { /* along an axis only */
            snprintf(label, sizeof label, "%s(all)", name);
            gc(label, f_reduce, &(red_ctx){which, true, 0, false}, 1, &in);
        }
        for (int axis = -in.ndim; axis < in.ndim; axis++)
            for (int keep = 0; keep < 2; keep++) {
                snprintf(label, sizeof label, "%s(axis %d, keepdim %d)", name, axis, keep);
                gc(label, f_reduce, &(red_ctx){which, false, axis, keep}, 1, &in);
            }
    }
    if (which != RED_MAX && which != RED_LSE) {
        snprintf(label, sizeof label, "%s(all) of a 0-d", name);
        gc(label, f_reduce, &(red_ctx){which, true, 0, false}, 1, (in_spec[]){{0, {0}, k}});
    }
}

void gc_case_sum(void) { reduce_cases("sum", RED_SUM, FILL_NORMAL); }
void gc_case_mean(void) { reduce_cases("mean", RED_MEAN, FILL_NORMAL); }
void gc_case_max_axis(void) { reduce_cases("max_axis", RED_MAX, FILL_DISTINCT); }
void gc_case_logsumexp(void) { reduce_cases("logsumexp", RED_LSE, FILL_NORMAL); }

/* ---- matmul ----------------------------------------------------------------- */

typedef struct {
    bool ta, tb, same;
} mm_ctx;

static wg_tensor *f_matmul(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    const mm_ctx *m = ctx;
    return wg_matmul_ex(t, in[0], m->same ? in[0] : in[1], m->ta, m->tb);
}

void gc_case_matmul(void)
{
    static const int64_t dims[][3] = {{3, 4, 5}, {1, 4, 1}, {3, 1, 2}, {2, 3, 1}}; /* m, k, n */
    enum { L22, L33, L32, L23 };
    static const char *layout[] = {"2-D@2-D", "3-D@3-D", "3-D@2-D", "2-D@3-D"};
    const int64_t batch = 2;
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
        for (int l = L22; l <= L23; l++)
            for (int ta = 0; ta < 2; ta++)
                for (int tb = 0; tb < 2; tb++) {
                    bool a3 = l == L33 || l == L32, b3 = l == L33 || l == L23;
                    in_spec in[2];
                    cu_matmul_specs(dims[d][0], dims[d][1], dims[d][2], batch, a3, b3, ta, tb, in);
                    char label[80];
                    snprintf(label, sizeof label, "matmul %s trans_a %d trans_b %d", layout[l], ta, tb);
                    gc(label, f_matmul, &(mm_ctx){ta, tb, false}, 2, in);
                }
    /* One tensor on both sides: x x^T and x^T x accumulate both VJPs into one gradient. */
    gc("matmul x@x^T", f_matmul, &(mm_ctx){false, true, true}, 1, (in_spec[]){{2, {3, 4}, FILL_NORMAL}});
    gc("matmul x^T@x", f_matmul, &(mm_ctx){true, false, true}, 1, (in_spec[]){{2, {3, 4}, FILL_NORMAL}});
    gc("matmul x@x (batched)", f_matmul, &(mm_ctx){false, false, true}, 1, (in_spec[]){{3, {2, 3, 3}, FILL_NORMAL}});
}

/* ---- shape ops -------------------------------------------------------------- */

static wg_tensor *f_transpose(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    const int *ax = ctx;
    return wg_transpose(t, in[0], ax[0], ax[1]);
}

void gc_case_transpose(void)
{
    static const struct {
        in_spec in;
        int ax[2];
    } cs[] = {
        {{2, {2, 3}, FILL_NORMAL}, {0, 1}},       {{2, {2, 3}, FILL_NORMAL}, {-1, -2}},
        {{2, {2, 3}, FILL_NORMAL}, {1, 1}},       {{3, {2, 3, 4}, FILL_NORMAL}, {0, 2}},
        {{3, {2, 3, 4}, FILL_NORMAL}, {1, 2}},    {{3, {2, 3, 4}, FILL_NORMAL}, {0, -2}},
        {{4, {2, 3, 1, 2}, FILL_NORMAL}, {0, 3}}, {{4, {2, 3, 1, 2}, FILL_NORMAL}, {1, -2}},
        {{4, {2, 3, 2, 2}, FILL_NORMAL}, {2, 3}},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        char label[64];
        snprintf(label, sizeof label, "transpose(%d, %d)", cs[i].ax[0], cs[i].ax[1]);
        gc(label, f_transpose, (void *)cs[i].ax, 1, &cs[i].in);
    }
}

typedef struct {
    int ndim;
    int64_t d[WG_MAX_DIMS];
} shape_arg;

static wg_tensor *f_reshape(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    const shape_arg *s = ctx;
    return wg_reshape(t, in[0], s->ndim, s->d);
}

/* reshape shares x's values: multiply two views of one input. */
static wg_tensor *f_reshape_twice(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    (void)ctx;
    wg_tensor *a = wg_reshape(t, in[0], 2, (int64_t[]){3, 2});
    wg_tensor *b = wg_reshape(t, in[0], 2, (int64_t[]){-1, 2});
    return wg_mul(t, wg_exp(t, a), b);
}

void gc_case_reshape(void)
{
    static const struct {
        in_spec in;
        shape_arg to;
    } cs[] = {
        {{3, {2, 3, 4}, FILL_NORMAL}, {2, {4, -1}}}, {{3, {2, 3, 4}, FILL_NORMAL}, {1, {24}}},
        {{2, {2, 3}, FILL_NORMAL}, {3, {3, 1, 2}}},  {{0, {0}, FILL_NORMAL}, {2, {1, 1}}},
        {{2, {1, 1}, FILL_NORMAL}, {0, {0}}},        {{1, {6}, FILL_NORMAL}, {3, {-1, 1, 3}}},
        {{1, {6}, FILL_NORMAL}, {4, {1, 2, 3, 1}}},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) gc("reshape", f_reshape, (void *)&cs[i].to, 1, &cs[i].in);
    gc("exp(reshape(x)) * reshape(x)", f_reshape_twice, NULL, 1, (in_spec[]){{2, {2, 3}, FILL_NORMAL}});
}

static wg_tensor *f_broadcast_to(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    const shape_arg *s = ctx;
    return wg_broadcast_to(t, in[0], s->ndim, s->d);
}

void gc_case_broadcast_to(void)
{
    static const struct {
        in_spec in;
        shape_arg to;
    } cs[] = {
        {{2, {3, 1}, FILL_NORMAL}, {3, {2, 3, 4}}},    {{1, {4}, FILL_NORMAL}, {2, {3, 4}}},
        {{0, {0}, FILL_NORMAL}, {2, {2, 3}}},          {{2, {1, 1}, FILL_NORMAL}, {2, {2, 3}}},
        {{2, {2, 3}, FILL_NORMAL}, {2, {2, 3}}},       {{3, {1, 3, 1}, FILL_NORMAL}, {4, {2, 2, 3, 4}}},
        {{3, {2, 1, 3}, FILL_NORMAL}, {3, {2, 4, 3}}}, {{0, {0}, FILL_NORMAL}, {0, {0}}},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++)
        gc("broadcast_to", f_broadcast_to, (void *)&cs[i].to, 1, &cs[i].in);
}

typedef struct {
    int axis;
    int64_t start, end;
} slice_arg;

static wg_tensor *f_slice(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    const slice_arg *s = ctx;
    return wg_slice(t, in[0], s->axis, s->start, s->end);
}

void gc_case_slice(void)
{
    static const struct {
        in_spec in;
        slice_arg s;
    } cs[] = {
        {{2, {5, 4}, FILL_NORMAL}, {0, 1, 4}},         {{2, {5, 4}, FILL_NORMAL}, {-1, -3, -1}},
        {{2, {5, 4}, FILL_NORMAL}, {1, 0, 100}},       {{2, {5, 4}, FILL_NORMAL}, {0, -100, 2}},
        {{2, {5, 4}, FILL_NORMAL}, {0, 3, 1}},         {{3, {2, 5, 3}, FILL_NORMAL}, {1, -4, 4}},
        {{3, {2, 5, 3}, FILL_NORMAL}, {-3, 1, 2}},     {{4, {2, 3, 4, 2}, FILL_NORMAL}, {2, 1, -1}},
        {{1, {6}, FILL_NORMAL}, {0, -2, 6}},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        char label[64];
        snprintf(label, sizeof label, "slice(axis %d, %lld:%lld)", cs[i].s.axis, (long long)cs[i].s.start,
                 (long long)cs[i].s.end);
        gc(label, f_slice, (void *)&cs[i].s, 1, &cs[i].in);
    }
}

typedef struct {
    int axis, n;
    bool same;
} concat_arg;

static wg_tensor *f_concat(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    const concat_arg *c = ctx;
    wg_tensor *xs[3] = {in[0], c->same ? in[0] : in[1], c->same ? in[0] : in[2]};
    return wg_concat(t, c->n, xs, c->axis);
}

void gc_case_concat(void)
{
    /* Three inputs along each axis of a [2,3,4]-like shape, the axis sized 1, 2, 3. */
    for (int axis = -3; axis < 3; axis++) {
        int ax = axis < 0 ? axis + 3 : axis;
        in_spec in[3];
        for (int j = 0; j < 3; j++) {
            in[j] = (in_spec){3, {2, 3, 4}, FILL_NORMAL};
            in[j].d[ax] = j + 1;
        }
        char label[32];
        snprintf(label, sizeof label, "concat(axis %d)", axis);
        gc(label, f_concat, &(concat_arg){axis, 3, false}, 3, in);
    }
    gc("concat of one", f_concat, &(concat_arg){0, 1, false}, 1, (in_spec[]){{2, {2, 3}, FILL_NORMAL}});
    gc("concat(x, x, x)", f_concat, &(concat_arg){1, 3, true}, 1, (in_spec[]){{2, {2, 3}, FILL_NORMAL}});
    gc("concat of 0-d-like [1]", f_concat, &(concat_arg){0, 3, false}, 3,
       (in_spec[]){{1, {1}, FILL_NORMAL}, {1, {1}, FILL_NORMAL}, {1, {1}, FILL_NORMAL}});
}

/* detach cannot be finite-differenced (the numeric side sees through it), so
 * its case checks that no gradient passes: for f = sum(x * detach(x)) the
 * tape's gradient is exactly detach(x) = x, not 2x. */
void gc_case_detach(void)
{
    static const int64_t shapes[][2] = {{2, 3}, {1, 1}};
    for (size_t s = 0; s < 2; s++) {
        wg_tape *t = wg_tape_new();
        wg_param *p = cu_param(WG_F64, 2, shapes[s], FILL_NORMAL);
        wg_tensor *x = wg_use(t, p);
        wg_tensor *d = wg_detach(t, x);
        CHECK(d && !wg_requires_grad(d), "detach must not require a gradient");
        CHECK(wg_backward(t, wg_sum(t, wg_mul(t, x, d))) == 0, "%s", wg_tape_error(t));
        for (size_t i = 0; i < p->numel; i++) {
            double xi = ((double *)p->data)[i];
            CHECK(((double *)p->grad)[i] == xi, "d/dx sum(x detach(x)) [%zu] = %.17g, want exactly %.17g", i,
                  ((double *)p->grad)[i], xi);
            CHECK(wg_get(d, i) == xi, "detach value [%zu] = %g, want %g", i, wg_get(d, i), xi);
        }
        /* Backward from the detached node alone reaches nothing. */
        wg_param_zero_grad(p);
        int64_t sh[2] = {shapes[s][0], shapes[s][1]};
        CHECK(wg_backward_seed(t, d, wg_full(t, WG_F64, 2, sh, 1.0)) == 0, "%s", wg_tape_error(t));
        for (size_t i = 0; i < p->numel; i++)
            CHECK(((double *)p->grad)[i] == 0, "gradient through detach alone [%zu] = %g", i, ((double *)p->grad)[i]);
        wg_tape_free(t);
        wg_param_free(p);
    }
    n_cases++;
}

/* ---- custom ops (tests/core/custom_ops.h): a user's erf and a b^2 ---------- */

static wg_custom_op *cop_erf, *cop_ab2;

static wg_tensor *f_custom(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    const wg_custom_op *op = ctx;
    return wg_custom(t, op, op == cop_erf ? 1 : 2, in);
}

void gc_case_custom(void)
{
    cop_erf = make_erf(false);
    cop_ab2 = make_ab2(false);
    CHECK(cop_erf && cop_ab2, "register: %s", wg_last_error());
    if (!cop_erf || !cop_ab2) return;
    gc("custom erf", f_custom, cop_erf, 1, (in_spec[]){{2, {3, 4}, FILL_NORMAL}});
    gc("custom erf 0-d", f_custom, cop_erf, 1, (in_spec[]){{0, {0}, FILL_NORMAL}});
    gc("custom ab2", f_custom, cop_ab2, 2, (in_spec[]){{2, {2, 3}, FILL_NORMAL}, {2, {2, 3}, FILL_NORMAL}});
    wg_custom_free(cop_erf);
    wg_custom_free(cop_ab2);
}

/* ---- composites: a two-layer MLP with a log-sum-exp loss ------------------- */

static wg_tensor *f_mlp(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    (void)ctx;
    wg_tensor *x = in[0], *w1 = in[1], *b1 = in[2], *w2 = in[3];
    wg_tensor *h = wg_tanh(t, wg_add(t, wg_matmul(t, x, w1), b1));     /* [4,5] */
    wg_tensor *z = wg_matmul_ex(t, h, w2, false, true);                 /* [4,3] */
    wg_tensor *m = wg_detach(t, wg_max_axis(t, z, 1, true));            /* the stability shift */
    wg_tensor *s = wg_sub(t, z, m);
    wg_tensor *lse = wg_add(t, wg_log(t, wg_sum_axis(t, wg_exp(t, s), -1, true)), m);
    return wg_mean(t, wg_sub(t, lse, wg_slice(t, z, 1, 0, 1)));
}

static void gc_composites(void)
{
    gc("mlp", f_mlp, NULL, 4,
       (in_spec[]){{2, {4, 3}, FILL_NORMAL}, {2, {3, 5}, FILL_NORMAL}, {1, {5}, FILL_NORMAL}, {2, {3, 5}, FILL_NORMAL}});
}

int main(void)
{
    wg_rng_seed(&cu_rng, 20261122);
    static void (*const cases[])(void) = {
#define X(name) gc_case_##name,
#include "ops.def"
#undef X
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) cases[i]();
    gc_composites();
#ifdef WG_GC_REPLAY
    replay_extra();
    printf("%d replay checks over %zu ops\n", n_cases, sizeof cases / sizeof cases[0]);
    return wg_test_done("test_replay");
#else
    printf("%d gradient checks over %zu ops\n", n_cases, sizeof cases / sizeof cases[0]);
    return wg_test_done("test_gradcheck");
#endif
}
