/* test_higher: every op of ops/ops.def at second order and in forward mode,
 * in f64, four checks per case (hc below):
 *
 *   recorded = numeric   the VJP recorded with the op's own rule (wg_grad_of
 *                        with create_graph) equals the fast numeric VJP, to
 *                        rounding (1e-12 relative), for a random cotangent;
 *   JVP = differences    the tangent forward mode gives equals the central
 *                        difference (f(x + h v) - f(x - h v)) / 2h for a
 *                        random direction v (rtol 1e-6, atol 1e-7);
 *   gradgradcheck        for each input k, x -> r . df/dx_k (recorded) goes
 *                        through wg_gradcheck: its gradient (second
 *                        derivatives, by the numeric VJPs of the recorded
 *                        nodes) against central differences of the first
 *                        derivative (rtol 1e-6, atol 1e-7);
 *   forward over forward with tangents u (level 0) and v (level 1): D2y[u, v]
 *                        against central differences of the JVP along v,
 *                        moved along u (rtol 1e-6, atol 1e-7).
 *
 * The case list is generated from ops.def, as in test_gradcheck: an op
 * without a case here fails to link.  Inputs avoid kinks as there.  Then the
 * rest of the higher-order API: nn/ activations and losses at second order,
 * third derivatives against closed forms, exact Hessians, Jacobians both
 * ways, HVPs both ways, custom ops, and the errors.
 */
#include <float.h>
#include <stdio.h>

#include "core_util.h"
#include "custom_ops.h"
#include "wg_test.h"

#define X(name) void hc_case_##name(void);
#include "ops.def"
#undef X

enum { MAX_IN = 4 };
static int n_cases;

/* ---- the three checks ---------------------------------------------------- */

/* f's output values at the params' current values, as doubles (malloc'd); NULL on error. */
static double *eval(wg_gradcheck_fn f, void *ctx, int n, wg_param *const *ps, size_t *m)
{
    wg_tape *t = wg_tape_new();
    wg_tensor *lv[MAX_IN];
    for (int i = 0; i < n; i++) lv[i] = wg_use(t, ps[i]);
    wg_tensor *y = f(t, lv, ctx);
    double *v = NULL;
    if (y) {
        *m = wg_numel(y);
        v = malloc((*m ? *m : 1) * sizeof *v);
        for (size_t i = 0; i < *m; i++) v[i] = wg_get(y, i);
    }
    wg_tape_free(t);
    return v;
}

/* Leaves lv[i] for the params on t, each with a tangent at levels
 * 0..levels-1 whose values are dirs[level] (the params' elements in order). */
static void use_with_tangents(wg_tape *t, int n, wg_param *const *ps, wg_tensor **lv, int levels,
                              const double *const *dirs, const char *where)
{
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        lv[i] = wg_use(t, ps[i]);
        for (int l = 0; l < levels; l++) {
            wg_tensor *tx = cu_tensor(t, WG_F64, ps[i]->ndim, ps[i]->shape, dirs[l] + off, false);
            CHECK(wg_set_tangent_at(t, l, lv[i], tx) == 0, "%s: set_tangent_at %d: %s", where, l, wg_tape_error(t));
        }
        off += ps[i]->numel;
    }
}

/* f's JVP along v at the params' current values (one tangent level), as
 * doubles (m of them, malloc'd); NULL on error. */
static double *jvp_values(wg_gradcheck_fn f, void *ctx, int n, wg_param *const *ps, const double *v, size_t m)
{
    wg_tape *t = wg_tape_new();
    wg_tensor *lv[MAX_IN];
    use_with_tangents(t, n, ps, lv, 1, &v, "jvp_values");
    wg_tensor *y = f(t, lv, ctx), *ty = y ? wg_tangent(y) : NULL;
    double *r = y ? calloc(m ? m : 1, sizeof *r) : NULL;
    for (size_t e = 0; r && ty && e < m; e++) r[e] = wg_get(ty, e);
    wg_tape_free(t);
    return r;
}

typedef struct {
    wg_gradcheck_fn f;
    void *ctx;
    int n, k;
    const double *r; /* the cotangent, out's size */
    size_t m;
} gg_ctx;

/* x -> r . df/dx_k, recorded: its gradient holds f's second derivatives. */
static wg_tensor *f_gradk(wg_tape *t, wg_tensor *const *in, void *vctx)
{
    const gg_ctx *c = vctx;
    wg_tensor *y = c->f(t, in, c->ctx);
    if (!y) return NULL;
    wg_tensor *r = cu_tensor(t, WG_F64, wg_ndim(y), wg_shape(y), c->r, false);
    wg_tensor *g[MAX_IN];
    if (wg_grad_of(t, y, r, c->n, in, g, true) != 0) return NULL;
    return g[c->k];
}

static void hc(const char *label, wg_gradcheck_fn f, void *ctx, int n, const in_spec *in)
{
    wg_param *ps[MAX_IN] = {0};
    double *r = NULL, *yp = NULL, *ym = NULL, *v = NULL;
    char where[256];
    int k = snprintf(where, sizeof where, "%s on", label);
    size_t N = 0;
    for (int i = 0; i < n; i++) {
        k += snprintf(where + k, sizeof where - (size_t)k, " [");
        for (int j = 0; j < in[i].ndim; j++)
            k += snprintf(where + k, sizeof where - (size_t)k, j ? ",%lld" : "%lld", (long long)in[i].d[j]);
        k += snprintf(where + k, sizeof where - (size_t)k, "]");
        ps[i] = cu_param(WG_F64, in[i].ndim, in[i].d, in[i].fill);
        N += ps[i]->numel;
    }
    size_t m = 0;
    double *y0 = eval(f, ctx, n, ps, &m);
    CHECK(y0 != NULL, "%s: f failed", where);
    if (!y0) goto out;
    free(y0);
    r = malloc((m ? m : 1) * sizeof *r);
    cu_fill(r, m, FILL_NORMAL);

    /* 1. recorded VJP = numeric VJP */
    {
        wg_tape *t = wg_tape_new();
        wg_tensor *lv[MAX_IN], *gn[MAX_IN], *gr[MAX_IN];
        for (int i = 0; i < n; i++) lv[i] = wg_use(t, ps[i]);
        wg_tensor *y = f(t, lv, ctx);
        wg_tensor *seed = y ? cu_tensor(t, WG_F64, wg_ndim(y), wg_shape(y), r, false) : NULL;
        int a = wg_grad_of(t, y, seed, n, lv, gn, false);
        int b = a == 0 ? wg_grad_of(t, y, seed, n, lv, gr, true) : -1;
        CHECK(a == 0 && b == 0, "%s: grad_of: %s", where, wg_tape_error(t));
        for (int i = 0; i < n && b == 0; i++) {
            double worst = 0;
            for (size_t e = 0; e < ps[i]->numel; e++) {
                double x = wg_get(gn[i], e), z = wg_get(gr[i], e);
                double err = fabs(x - z) / (1e-300 + fmax(1.0, fmax(fabs(x), fabs(z))));
                worst = fmax(worst, err);
            }
            CHECK(worst <= 1e-12, "%s: input %d: recorded VJP differs from the numeric one by %.3g (relative)", where,
                  i + 1, worst);
            CHECK(((double *)ps[i]->grad)[0] == 0, "%s: grad_of touched the parameter's .grad", where);
        }
        wg_tape_free(t);
    }

    /* 2. JVP = central differences along a random direction */
    {
        v = malloc((N ? N : 1) * sizeof *v);
        cu_fill(v, N, FILL_NORMAL);
        wg_tape *t = wg_tape_new();
        wg_tensor *lv[MAX_IN];
        use_with_tangents(t, n, ps, lv, 1, (const double *const[]){v}, where);
        wg_tensor *y = f(t, lv, ctx);
        CHECK(y != NULL, "%s: f with tangents: %s", where, wg_tape_error(t));
        wg_tensor *ty = wg_tangent(y);
        const double h = cbrt(DBL_EPSILON);
        double *saved = malloc((N ? N : 1) * sizeof *saved);
        size_t off = 0;
        for (int i = 0; i < n; i++)
            for (size_t e = 0; e < ps[i]->numel; e++) saved[off++] = ((double *)ps[i]->data)[e];
        size_t mm;
#define MOVE(sgn)                                                                                  \
    do {                                                                                           \
        size_t o_ = 0;                                                                             \
        for (int i = 0; i < n; i++)                                                                \
            for (size_t e = 0; e < ps[i]->numel; e++, o_++)                                        \
                ((double *)ps[i]->data)[e] = saved[o_] + (sgn) * h * v[o_];                        \
    } while (0)
        MOVE(1);
        yp = eval(f, ctx, n, ps, &mm);
        MOVE(-1);
        ym = eval(f, ctx, n, ps, &mm);
        MOVE(0);
#undef MOVE
        free(saved);
        double worst = 0;
        size_t at = 0;
        for (size_t e = 0; y && yp && ym && e < m; e++) {
            double fd = (yp[e] - ym[e]) / (2 * h), an = ty ? wg_get(ty, e) : 0;
            double excess = fabs(fd - an) - (1e-7 + 1e-6 * fmax(fabs(fd), fabs(an)));
            if (excess > worst) worst = excess, at = e;
        }
        CHECK(worst <= 0, "%s: JVP differs from central differences at output %zu: %.10g vs %.10g", where, at,
              ty ? wg_get(ty, at) : 0.0, yp && ym ? (yp[at] - ym[at]) / (2 * h) : NAN);
        wg_tape_free(t);
    }

    /* 4. forward over forward: with tangents u at level 0 and v at level 1,
     * the level-0 tangent of y's level-1 tangent is D2y[u, v]: against the
     * central difference of the one-level JVP along v, moved along u, and
     * the level-1 tangent alone against that JVP. */
    {
        double *u = malloc((N ? N : 1) * sizeof *u);
        cu_fill(u, N, FILL_NORMAL);
        wg_tape *t = wg_tape_new();
        wg_tensor *lv[MAX_IN];
        use_with_tangents(t, n, ps, lv, 2, (const double *const[]){u, v}, where);
        wg_tensor *y = f(t, lv, ctx);
        CHECK(y != NULL, "%s: f with two tangent levels: %s", where, wg_tape_error(t));
        wg_tensor *tv = y ? wg_tangent_at(y, 1) : NULL, *tuv = tv ? wg_tangent_at(tv, 0) : NULL;
        double *jp = NULL, *jm = NULL, *j0 = NULL;
        const double h = cbrt(DBL_EPSILON);
        double *saved = malloc((N ? N : 1) * sizeof *saved);
        size_t off = 0;
        for (int i = 0; i < n; i++)
            for (size_t e = 0; e < ps[i]->numel; e++) saved[off++] = ((double *)ps[i]->data)[e];
        for (int sgn = 1; sgn >= -1; sgn--) {
            off = 0;
            for (int i = 0; i < n; i++)
                for (size_t e = 0; e < ps[i]->numel; e++, off++)
                    ((double *)ps[i]->data)[e] = saved[off] + sgn * h * u[off];
            double **dst = sgn == 1 ? &jp : sgn == 0 ? &j0 : &jm;
            *dst = jvp_values(f, ctx, n, ps, v, m);
        }
        free(saved);
        double worst = 0, worst1 = 0;
        size_t at = 0, at1 = 0;
        for (size_t e = 0; y && jp && jm && j0 && e < m; e++) {
            double fd = (jp[e] - jm[e]) / (2 * h), an = tuv ? wg_get(tuv, e) : 0;
            double excess = fabs(fd - an) - (1e-7 + 1e-6 * fmax(fabs(fd), fabs(an)));
            if (excess > worst) worst = excess, at = e;
            double a1 = tv ? wg_get(tv, e) : 0;
            double err1 = fabs(a1 - j0[e]) / fmax(1.0, fabs(j0[e]));
            if (err1 > worst1) worst1 = err1, at1 = e;
        }
        CHECK(worst <= 0, "%s: forward over forward differs from differences of the JVP at output %zu: %.10g vs %.10g",
              where, at, tuv ? wg_get(tuv, at) : 0.0, jp && jm ? (jp[at] - jm[at]) / (2 * h) : NAN);
        CHECK(worst1 <= 1e-12, "%s: the level-1 tangent differs from the one-level JVP at output %zu by %.3g", where,
              at1, worst1);
        free(jp);
        free(jm);
        free(j0);
        free(u);
        wg_tape_free(t);
    }

    /* 3. second derivatives: gradcheck of each input's recorded gradient */
    for (int kk = 0; kk < n; kk++) {
        gg_ctx c = {f, ctx, n, kk, r, m};
        wg_gradcheck_opts opts = {.atol = 1e-7, .rtol = 1e-6, .seed = (uint64_t)n_cases};
        wg_gradcheck_report rep;
        int rc = wg_gradcheck(f_gradk, &c, n, ps, &opts, &rep);
        CHECK(rc == 1, "%s: second derivatives through input %d: %s", where, kk + 1, rep.message);
    }
    n_cases++;
out:
    free(r);
    free(v);
    free(yp);
    free(ym);
    for (int i = 0; i < n; i++) wg_param_free(ps[i]);
}

/* ---- ops -------------------------------------------------------------------- */

static wg_tensor *f_identity(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    (void)t, (void)ctx;
    return in[0];
}
void hc_case_leaf(void) { hc("leaf", f_identity, NULL, 1, (in_spec[]){{2, {2, 3}, FILL_NORMAL}}); }

typedef wg_tensor *(*bin_fn)(wg_tape *, wg_tensor *, wg_tensor *);
static wg_tensor *f_binary(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    return (*(bin_fn *)ctx)(t, in[0], in[1]);
}
/* (a*b) op b: a second use of b, so second derivatives mix inputs even for linear ops */
static wg_tensor *f_binary_mixed(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    return (*(bin_fn *)ctx)(t, wg_mul(t, in[0], in[1]), in[1]);
}

static void binary_cases(const char *name, bin_fn op, fill_kind fa, fill_kind fb)
{
    static const struct {
        int na;
        int64_t a[WG_MAX_DIMS];
        int nb;
        int64_t b[WG_MAX_DIMS];
    } sh[] = {{2, {3, 4}, 2, {3, 4}}, {2, {3, 4}, 1, {4}}, {2, {3, 1}, 2, {1, 4}}, {0, {0}, 2, {2, 3}},
              {3, {2, 1, 3}, 2, {2, 1}}};
    for (size_t i = 0; i < sizeof sh / sizeof sh[0]; i++) {
        in_spec in[2] = {{sh[i].na, {0}, fa}, {sh[i].nb, {0}, fb}};
        memcpy(in[0].d, sh[i].a, sizeof in[0].d);
        memcpy(in[1].d, sh[i].b, sizeof in[1].d);
        hc(name, f_binary, &op, 2, in);
    }
    char label[64];
    snprintf(label, sizeof label, "%s(a*b, b)", name);
    if (op != wg__pow && op != wg__max && op != wg__min) /* a*b would cross pow's, max's domains */
        hc(label, f_binary_mixed, &op, 2, (in_spec[]){{2, {2, 3}, fa}, {1, {3}, fb}});
}

void hc_case_add(void) { binary_cases("add", wg__add, FILL_NORMAL, FILL_NORMAL); }
void hc_case_sub(void) { binary_cases("sub", wg__sub, FILL_NORMAL, FILL_NORMAL); }
void hc_case_mul(void) { binary_cases("mul", wg__mul, FILL_NORMAL, FILL_NORMAL); }
static wg_tensor *axpy_m13(wg_tape *t, wg_tensor *a, wg_tensor *b) { return wg_axpy(t, -1.3, a, b); }
void hc_case_axpy(void) { binary_cases("axpy(-1.3, a, b)", axpy_m13, FILL_NORMAL, FILL_NORMAL); }
void hc_case_div(void) { binary_cases("div", wg__div, FILL_AWAY0, FILL_AWAY0); }
void hc_case_max(void) { binary_cases("max", wg__max, FILL_HALF, FILL_INT); }
void hc_case_min(void) { binary_cases("min", wg__min, FILL_HALF, FILL_INT); }
void hc_case_pow(void) { binary_cases("pow", wg__pow, FILL_POS, FILL_NORMAL); }

/* mask(x * y, m), m a fixed pattern */
static wg_tensor *f_mask(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    (void)ctx;
    wg_tensor *m = wg_tensor_new(t, WG_F64, 1, (int64_t[]){3}, (double[]){1, 0, 1}, false);
    return wg_mask(t, wg_mul(t, in[0], in[1]), m);
}
void hc_case_mask(void)
{
    hc("mask", f_mask, NULL, 2, (in_spec[]){{2, {2, 3}, FILL_NORMAL}, {1, {3}, FILL_NORMAL}});
    /* The zero rules of the recorded VJPs: exactly the numeric VJP's values
     * at the points where a product inf * 0 or 0 * inf would make a NaN. */
    static const struct {
        int op; /* 0 pow, 1 inf * max(a, b), 2 inf * relu(a) */
        double a, b;
    } pts[] = {{0, 0, -2}, {0, 0, 0}, {0, 2, 0}, {0, 0, 1.5}, {1, 1, 2}, {1, 2, 1}, {2, -1, 0}, {2, 1, 0}};
    for (size_t k = 0; k < sizeof pts / sizeof pts[0]; k++) {
        wg_tape *t = wg_tape_new();
        wg_tensor *x[2] = {wg_var(t, pts[k].a), wg_var(t, pts[k].b)}, *gn[2], *gr[2];
        wg_tensor *inf = wg_div(t, 1.0, wg_const(t, 0.0));
        wg_tensor *y = pts[k].op == 0   ? wg_pow(t, x[0], x[1])
                       : pts[k].op == 1 ? wg_mul(t, wg_max(t, x[0], x[1]), inf)
                                        : wg_mul(t, wg_nn_relu(t, x[0]), inf);
        CHECK(wg_grad_of(t, y, NULL, 2, x, gn, false) == 0 && wg_grad_of(t, y, NULL, 2, x, gr, true) == 0, "%s",
              wg_tape_error(t));
        for (int i = 0; i < 2; i++) {
            double n = wg_item(gn[i]), r = wg_item(gr[i]);
            CHECK(n == r || (isnan(n) && isnan(r)), "zero rules, case %zu (a %g, b %g), input %d: numeric %g, recorded %g",
                  k, pts[k].a, pts[k].b, i + 1, n, r);
        }
        wg_tape_free(t);
    }
}

typedef wg_tensor *(*un_fn)(wg_tape *, wg_tensor *);
/* op(x) * x: the product keeps second derivatives of linear-ish ops nonzero */
static wg_tensor *f_unary(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    return wg_mul(t, (*(un_fn *)ctx)(t, in[0]), in[0]);
}
static void unary_cases(const char *name, un_fn op, fill_kind k)
{
    hc(name, f_unary, &op, 1, (in_spec[]){{2, {2, 3}, k}});
    hc(name, f_unary, &op, 1, (in_spec[]){{0, {0}, k}});
}
void hc_case_neg(void) { unary_cases("neg", wg_neg, FILL_NORMAL); }
void hc_case_exp(void) { unary_cases("exp", wg_exp, FILL_NORMAL); }
void hc_case_log(void) { unary_cases("log", wg_log, FILL_POS); }
void hc_case_log1p(void) { unary_cases("log1p", wg_log1p, FILL_POS); }
void hc_case_sqrt(void) { unary_cases("sqrt", wg_sqrt, FILL_POS); }
void hc_case_tanh(void) { unary_cases("tanh", wg_tanh, FILL_NORMAL); }
void hc_case_sin(void) { unary_cases("sin", wg_sin, FILL_NORMAL); }
void hc_case_cos(void) { unary_cases("cos", wg_cos, FILL_NORMAL); }
void hc_case_abs(void) { unary_cases("abs", wg_abs, FILL_AWAY0); }
void hc_case_sign(void) { unary_cases("sign", wg_sign, FILL_AWAY0); }
void hc_case_step(void) { unary_cases("step", wg_step, FILL_AWAY0); }

static wg_tensor *f_pow_c(wg_tape *t, wg_tensor *const *in, void *ctx) { return wg_pow(t, in[0], *(double *)ctx); }
void hc_case_pow_c(void)
{
    static const struct {
        double c;
        fill_kind k;
    } cs[] = {{0, FILL_NORMAL}, {1, FILL_NORMAL}, {2, FILL_NORMAL}, {3, FILL_NORMAL}, {0.5, FILL_POS}, {-2.5, FILL_POS}};
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        char label[32];
        snprintf(label, sizeof label, "pow_c(x, %g)", cs[i].c);
        double c = cs[i].c;
        hc(label, f_pow_c, &c, 1, (in_spec[]){{2, {2, 3}, cs[i].k}});
    }
}

typedef struct {
    int which; /* 0 sum, 1 mean, 2 max, 3 logsumexp */
    bool all;
    int axis;
    bool keepdim;
} red_ctx;
/* reduce(x * x): squared so that the second derivatives are not all zero */
static wg_tensor *f_reduce(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    const red_ctx *r = ctx;
    wg_tensor *x = wg_mul(t, in[0], in[0]);
    if (r->which == 2) return wg_max_axis(t, x, r->axis, r->keepdim);
    if (r->which == 3) return wg_logsumexp(t, x, r->axis, r->keepdim);
    if (r->all) return r->which == 0 ? wg_sum(t, x) : wg_mean(t, x);
    return r->which == 0 ? wg_sum_axis(t, x, r->axis, r->keepdim) : wg_mean_axis(t, x, r->axis, r->keepdim);
}
static void reduce_cases(const char *name, int which, fill_kind k)
{
    char label[64];
    in_spec in = {3, {2, 3, 4}, k};
    if (which < 2) {
        snprintf(label, sizeof label, "%s(all)", name);
        hc(label, f_reduce, &(red_ctx){which, true, 0, false}, 1, &in);
    }
    for (int axis = -1; axis < 3; axis++)
        for (int keep = 0; keep < 2; keep++) {
            snprintf(label, sizeof label, "%s(axis %d, keepdim %d)", name, axis, keep);
            hc(label, f_reduce, &(red_ctx){which, false, axis, keep}, 1, &in);
        }
}
/* max over x*x needs distinct squares: positive distinct values */
void hc_case_sum(void) { reduce_cases("sum", 0, FILL_NORMAL); }
void hc_case_mean(void) { reduce_cases("mean", 1, FILL_NORMAL); }
void hc_case_max_axis(void) { reduce_cases("max_axis", 2, FILL_POS); }
void hc_case_logsumexp(void) { reduce_cases("logsumexp", 3, FILL_NORMAL); }

typedef struct {
    bool ta, tb;
} mm_ctx;
/* (a@b) * (a@b): second derivatives of the product are a's and b's cross terms */
static wg_tensor *f_matmul(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    const mm_ctx *m = ctx;
    wg_tensor *y = wg_matmul_ex(t, in[0], in[1], m->ta, m->tb);
    return wg_mul(t, y, y);
}
void hc_case_matmul(void)
{
    const int64_t M = 3, K = 2, Nn = 4, B = 2;
    for (int l = 0; l < 4; l++) /* 2@2, 3@3, 3@2, 2@3 */
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                in_spec in[2];
                cu_matmul_specs(M, K, Nn, B, l == 1 || l == 2, l == 1 || l == 3, ta, tb, in);
                char label[64];
                snprintf(label, sizeof label, "matmul layout %d trans_a %d trans_b %d", l, ta, tb);
                hc(label, f_matmul, &(mm_ctx){ta, tb}, 2, in);
            }
}

static wg_tensor *f_transpose(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    (void)ctx;
    wg_tensor *y = wg_transpose(t, wg_mul(t, in[0], in[0]), 0, 2);
    return wg_mul(t, y, wg_transpose(t, in[0], 0, 2));
}
void hc_case_transpose(void) { hc("transpose", f_transpose, NULL, 1, (in_spec[]){{3, {2, 3, 4}, FILL_NORMAL}}); }

static wg_tensor *f_reshape(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    (void)ctx;
    wg_tensor *y = wg_reshape(t, wg_mul(t, in[0], in[0]), 2, (int64_t[]){4, -1});
    return wg_mul(t, y, wg_reshape(t, in[0], 2, (int64_t[]){4, 6}));
}
void hc_case_reshape(void) { hc("reshape", f_reshape, NULL, 1, (in_spec[]){{3, {2, 3, 4}, FILL_NORMAL}}); }

static wg_tensor *f_broadcast_to(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    (void)ctx;
    wg_tensor *y = wg_broadcast_to(t, wg_mul(t, in[0], in[0]), 3, (int64_t[]){2, 3, 4});
    return wg_mul(t, y, wg_broadcast_to(t, in[0], 3, (int64_t[]){2, 3, 4}));
}
void hc_case_broadcast_to(void)
{
    hc("broadcast_to", f_broadcast_to, NULL, 1, (in_spec[]){{2, {3, 1}, FILL_NORMAL}});
    hc("broadcast_to from 0-d", f_broadcast_to, NULL, 1, (in_spec[]){{0, {0}, FILL_NORMAL}});
}

static wg_tensor *f_slice(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    const int *ax = ctx;
    wg_tensor *y = wg_slice(t, wg_mul(t, in[0], in[0]), *ax, 1, 3);
    return wg_mul(t, y, wg_slice(t, in[0], *ax, 1, 3));
}
void hc_case_slice(void)
{
    for (int ax = 0; ax < 3; ax++) {
        char label[32];
        snprintf(label, sizeof label, "slice(axis %d)", ax);
        hc(label, f_slice, &ax, 1, (in_spec[]){{3, {4, 4, 4}, FILL_NORMAL}});
    }
}

static wg_tensor *f_concat(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    const int *ax = ctx;
    wg_tensor *xs[3] = {in[0], wg_mul(t, in[1], in[0]), in[1]};
    wg_tensor *y = wg_concat(t, 3, xs, *ax);
    return wg_mul(t, y, y);
}
void hc_case_concat(void)
{
    for (int ax = 0; ax < 2; ax++) {
        char label[32];
        snprintf(label, sizeof label, "concat(axis %d)", ax);
        hc(label, f_concat, &ax, 2, (in_spec[]){{2, {2, 3}, FILL_NORMAL}, {2, {2, 3}, FILL_NORMAL}});
    }
}

/* detach: f = x^2 * detach(x): d/dx is 2 x d (d = detach(x) held constant),
 * d2/dx2 = 2 d: finite differences see through detach, so check exactly. */
void hc_case_detach(void)
{
    wg_tape *t = wg_tape_new();
    wg_tensor *x = wg_var(t, 1.5);
    wg_tensor *f = wg_mul(t, wg_mul(t, x, x), wg_detach(t, x)), *g, *h;
    CHECK(wg_grad_of(t, f, NULL, 1, &x, &g, true) == 0 && wg_grad_of(t, g, NULL, 1, &x, &h, true) == 0, "%s",
          wg_tape_error(t));
    CHECK(wg_item(g) == 2 * 1.5 * 1.5 && wg_item(h) == 2 * 1.5, "detach: g = %g (want 4.5), h = %g (want 3)",
          wg_item(g), wg_item(h));
    wg_tape_reset(t);
    x = wg_var(t, 1.5);
    CHECK(wg_set_tangent(t, x, wg_scalar(t, WG_F64, 1, false)) == 0, "%s", wg_tape_error(t));
    wg_tensor *d = wg_detach(t, x);
    CHECK(wg_tangent(d) == NULL, "no tangent passes a detach");
    wg_tape_free(t);
    n_cases++;
}

/* custom: the erf and a b^2 of custom_ops.h, with their recorded rules */
static wg_tensor *f_custom(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    const wg_custom_op *op = ctx;
    wg_tensor *y = wg_custom(t, op, wg_numel(in[1]) ? 2 : 1, in);
    return y;
}
static wg_tensor *f_custom1(wg_tape *t, wg_tensor *const *in, void *ctx) { return wg_custom(t, ctx, 1, in); }
static wg_tensor *f_custom2(wg_tape *t, wg_tensor *const *in, void *ctx) { return wg_custom(t, ctx, 2, in); }
void hc_case_custom(void)
{
    (void)f_custom;
    wg_custom_op *e = make_erf(true), *a = make_ab2(true);
    hc("custom erf", f_custom1, e, 1, (in_spec[]){{2, {2, 3}, FILL_NORMAL}});
    hc("custom ab2", f_custom2, a, 2, (in_spec[]){{1, {5}, FILL_NORMAL}, {1, {5}, FILL_NORMAL}});
    /* Without the recorded rules: first order works, second order is an error naming the op. */
    wg_custom_op *e1 = make_erf(false);
    wg_tape *t = wg_tape_new();
    wg_tensor *x = wg_var(t, 0.3), *g, *y = wg_custom(t, e1, 1, &x);
    CHECK(wg_grad_of(t, y, NULL, 1, &x, &g, false) == 0 && fabs(wg_item(g) - TWO_OVER_SQRT_PI * exp(-0.09)) < 1e-15,
          "custom erf without rules: first order: %s", wg_tape_error(t));
    CHECK(wg_grad_of(t, y, NULL, 1, &x, &g, true) == -1, "create-graph through a custom op without vjp_ops must fail");
    CHECK_STR(wg_tape_error(t), "erf: no recorded VJP: a create-graph backward (second order) cannot pass through this op");
    wg_tape_reset(t);
    x = wg_var(t, 0.3);
    wg_set_tangent(t, x, wg_scalar(t, WG_F64, 1, false));
    CHECK(wg_custom(t, e1, 1, &x) == NULL, "forward mode through a custom op without jvp_ops must fail");
    CHECK_STR(wg_tape_error(t), "erf: no JVP rule: forward mode cannot pass through this op");
    wg_tape_free(t);
    wg_custom_free(e);
    wg_custom_free(a);
    wg_custom_free(e1);
}

/* ---- nn/: every activation and loss at second order ------------------------------ */

static wg_tensor *f_act(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    return wg_nn_activate(t, in[0], *(wg_act *)ctx, WG_ACT_DEFAULT_ALPHA);
}
static void nn_cases(void)
{
    static const char *names[] = {"identity", "sigmoid",  "tanh", "relu", "leaky_relu", "elu",        "silu",
                                  "softplus", "softsign", "step", "sign", "softmax",    "log_softmax"};
    for (int a = 0; a < WG_ACT_COUNT; a++) {
        wg_act act = (wg_act)a;
        char label[48];
        snprintf(label, sizeof label, "nn %s", names[a]);
        /* HALF stays away from 0, the kink of relu, leaky_relu, elu, step, sign */
        hc(label, f_act, &act, 1, (in_spec[]){{2, {3, 4}, FILL_HALF}});
    }
}

typedef enum { L_MSE, L_L1, L_BCE_LOGITS, L_SOFTMAX_XENT, L_GAUSS_NLL, L_LAPLACE_NLL, L_BCE, L_XENT, L_DICE } loss_kind;
static wg_tensor *f_loss(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    /* in[0]: predictions (or logits), in[1]: a second input (scale); targets are fixed constants */
    loss_kind k = *(loss_kind *)ctx;
    static const double tgt[12] = {0.2, 0.9, 0.1, 0.4, 0.7, 0.3, 0.6, 0.05, 0.8, 0.5, 0.35, 0.65};
    static const double onehot[12] = {0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0};
    const int64_t sh[2] = {3, 4};
    wg_tensor *y = cu_tensor(t, WG_F64, 2, sh, tgt, false), *oh = cu_tensor(t, WG_F64, 2, sh, onehot, false);
    switch (k) {
    case L_MSE: return wg_nn_mse(t, in[0], y, WG_REDUCE_MEAN);
    case L_L1: return wg_nn_l1(t, in[0], y, WG_REDUCE_SUM);
    case L_BCE_LOGITS: return wg_nn_bce_logits(t, in[0], y, WG_REDUCE_MEAN);
    case L_SOFTMAX_XENT: return wg_nn_softmax_cross_entropy(t, in[0], oh, WG_REDUCE_MEAN);
    case L_GAUSS_NLL: return wg_nn_gaussian_nll(t, in[0], in[1], y, WG_REDUCE_MEAN);
    case L_LAPLACE_NLL: return wg_nn_laplace_nll(t, in[0], in[1], y, WG_REDUCE_MEAN);
    case L_BCE: return wg_nn_bce(t, wg_nn_sigmoid(t, in[0]), y, WG_REDUCE_MEAN);
    case L_XENT: return wg_nn_cross_entropy(t, wg_nn_softmax(t, in[0], -1), oh, WG_REDUCE_SUM);
    default: return wg_nn_soft_dice(t, wg_nn_sigmoid(t, in[0]), y, 1e-6);
    }
}
static void loss_cases(void)
{
    static const char *names[] = {"mse", "l1", "bce_logits", "softmax_xent", "gaussian_nll", "laplace_nll",
                                  "bce", "cross_entropy", "soft_dice"};
    for (int k = L_MSE; k <= L_DICE; k++) {
        loss_kind kind = (loss_kind)k;
        char label[48];
        snprintf(label, sizeof label, "nn loss %s", names[k]);
        hc(label, f_loss, &kind, 2, (in_spec[]){{2, {3, 4}, FILL_HALF}, {2, {3, 4}, FILL_NORMAL}});
    }
}

/* ---- third order against closed forms ----------------------------------------------- */

typedef enum { T_TANH, T_EXP, T_POW, T_SIN, T_COS } third_kind;
static double third_closed(third_kind k, double x)
{
    switch (k) {
    case T_TANH: { /* with s = 1 - tanh^2: tanh' = s, tanh'' = -2 tanh s, d3/dx3 = 4 tanh^2 s - 2 s^2 */
        double th = tanh(x), s2 = 1 - th * th;
        return 4 * th * th * s2 - 2 * s2 * s2;
    }
    case T_EXP: return exp(x);
    case T_SIN: return -cos(x);
    case T_COS: return sin(x);
    default: return 3.5 * 2.5 * 1.5 * pow(x, 0.5); /* x^3.5 */
    }
}
static void third_order(void)
{
    static const double xs[] = {-1.3, 0.2, 0.9};
    for (int k = T_TANH; k <= T_COS; k++)
        for (size_t i = 0; i < 3; i++) {
            double x0 = k == T_POW ? fabs(xs[i]) + 0.1 : xs[i];
            wg_tape *t = wg_tape_new();
            wg_tensor *x = wg_var(t, x0), *g1, *g2, *g3;
            wg_tensor *y = k == T_TANH ? wg_tanh(t, x)
                           : k == T_EXP ? wg_exp(t, x)
                           : k == T_SIN ? wg_sin(t, x)
                           : k == T_COS ? wg_cos(t, x)
                                        : wg_pow(t, x, 3.5);
            int rc = wg_grad_of(t, y, NULL, 1, &x, &g1, true) | wg_grad_of(t, g1, NULL, 1, &x, &g2, true) |
                     wg_grad_of(t, g2, NULL, 1, &x, &g3, false);
            CHECK(rc == 0, "third order: %s", wg_tape_error(t));
            double want = third_closed((third_kind)k, x0);
            CHECK(fabs(wg_item(g3) - want) <= 1e-13 * fmax(1, fabs(want)), "d3/dx3 case %d at %g = %.17g, want %.17g", k,
                  x0, wg_item(g3), want);
            wg_tape_free(t);
        }
}

/* ---- exact Hessians ------------------------------------------------------------------- */

static wg_tensor *f_seed(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    (void)ctx;
    wg_tensor *x1 = wg_slice(t, in[0], 0, 0, 1), *x2 = wg_slice(t, in[0], 0, 1, 2);
    return wg_sum(t, wg_add(t, wg_pow(t, wg_add(t, wg_mul(t, 2, x1), wg_mul(t, 3, x2)), 2), 3));
}
/* Rosenbrock: sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2 */
static wg_tensor *f_rosen(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    (void)ctx;
    int64_t n = wg_dim(in[0], 0);
    wg_tensor *a = wg_slice(t, in[0], 0, 0, n - 1), *b = wg_slice(t, in[0], 0, 1, n);
    wg_tensor *d = wg_sub(t, b, wg_mul(t, a, a));
    return wg_sum(t, wg_add(t, wg_mul(t, 100, wg_mul(t, d, d)), wg_pow(t, wg_sub(t, 1, a), 2)));
}
/* softmax cross-entropy of logits z with a fixed one-hot: H = diag(p) - p p^T */
static wg_tensor *f_sxent(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    (void)ctx;
    wg_tensor *z = wg_reshape(t, in[0], 2, (int64_t[]){1, 5});
    wg_tensor *y = wg_tensor_new(t, WG_F64, 2, (int64_t[]){1, 5}, (double[]){0, 0, 1, 0, 0}, false);
    return wg_nn_softmax_cross_entropy(t, z, y, WG_REDUCE_SUM);
}

static void exact_hessians(void)
{
    wg_tape *t = wg_tape_new();
    /* the lecture's seed, with scalar leaves and with the driver */
    wg_tensor *x[2] = {wg_var(t, 1), wg_var(t, 3)}, *g[2];
    wg_tensor *f = wg_add(t, wg_pow(t, wg_add(t, wg_mul(t, 2, x[0]), wg_mul(t, 3, x[1])), 2), 3);
    double H[4];
    CHECK(wg_grad_of(t, f, NULL, 2, x, g, true) == 0 && wg_item(g[0]) == 44 && wg_item(g[1]) == 66,
          "seed gradient %g %g: %s", wg_item(g[0]), wg_item(g[1]), wg_tape_error(t));
    CHECK(wg_hessian_of(t, f, 2, x, H) == 0, "%s", wg_tape_error(t));
    CHECK(H[0] == 8 && H[1] == 12 && H[2] == 12 && H[3] == 18, "seed Hessian %g %g %g %g, want 8 12 12 18", H[0], H[1],
          H[2], H[3]);
    wg_param *p = wg_param_new(WG_F64, 1, (int64_t[]){2});
    ((double *)p->data)[0] = 1, ((double *)p->data)[1] = 3;
    double H2[4] = {0};
    CHECK(wg_hessian(t, f_seed, NULL, 1, &p, H2) == 0 && H2[0] == 8 && H2[1] == 12 && H2[2] == 12 && H2[3] == 18,
          "seed Hessian through the driver %g %g %g %g: %s", H2[0], H2[1], H2[2], H2[3], wg_tape_error(t));
    wg_param_free(p);

    /* Rosenbrock at a point: tridiagonal, exactly */
    enum { R = 5 };
    const double xr[R] = {0.3, -1.2, 0.8, 1.1, -0.4};
    p = wg_param_new(WG_F64, 1, (int64_t[]){R});
    memcpy(p->data, xr, sizeof xr);
    double HR[R * R], want[R * R] = {0};
    for (int i = 0; i < R - 1; i++) {
        want[i * R + i] += 1200 * xr[i] * xr[i] - 400 * xr[i + 1] + 2;
        want[(i + 1) * R + i + 1] += 200;
        want[i * R + i + 1] = want[(i + 1) * R + i] = -400 * xr[i];
    }
    CHECK(wg_hessian(t, f_rosen, NULL, 1, &p, HR) == 0, "%s", wg_tape_error(t));
    for (int i = 0; i < R * R; i++)
        CHECK(fabs(HR[i] - want[i]) <= 1e-12 * fmax(1, fabs(want[i])), "Rosenbrock H[%d] = %.17g, want %.17g", i, HR[i],
              want[i]);
    wg_param_free(p);

    /* softmax cross-entropy: diag(p) - p p^T */
    const double z[5] = {0.5, -1.0, 2.0, 0.1, -0.3};
    p = wg_param_new(WG_F64, 1, (int64_t[]){5});
    memcpy(p->data, z, sizeof z);
    double HS[25], pr[5], s = 0;
    for (int i = 0; i < 5; i++) s += exp(z[i]);
    for (int i = 0; i < 5; i++) pr[i] = exp(z[i]) / s;
    CHECK(wg_hessian(t, f_sxent, NULL, 1, &p, HS) == 0, "%s", wg_tape_error(t));
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) {
            double w = (i == j ? pr[i] : 0) - pr[i] * pr[j];
            CHECK(fabs(HS[i * 5 + j] - w) <= 1e-15, "softmax xent H[%d][%d] = %.17g, want %.17g", i, j, HS[i * 5 + j], w);
        }
    wg_param_free(p);
    wg_tape_free(t);
}

/* ---- Jacobians both ways, JVP = J v, HVP = H v both ways ------------------------------- */

/* R^5 x R^[2,3] -> R^[2,3]: mixes every op kind a little */
static wg_tensor *f_vec(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    (void)ctx;
    wg_tensor *a = wg_reshape(t, wg_slice(t, in[0], 0, 0, 3), 2, (int64_t[]){1, 3});
    wg_tensor *h = wg_tanh(t, wg_mul(t, a, in[1]));
    return wg_add(t, wg_mul(t, h, wg_exp(t, wg_sum(t, wg_slice(t, in[0], 0, 3, 5)))), wg_pow(t, in[1], 2));
}
static wg_tensor *f_scal(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    wg_tensor *y = f_vec(t, in, ctx);
    return wg_add(t, wg_sum(t, wg_mul(t, y, y)), wg_sum(t, wg_log1p(t, wg_exp(t, in[0]))));
}

static void drivers(void)
{
    wg_param *ps[2] = {cu_param(WG_F64, 1, (int64_t[]){5}, FILL_NORMAL), cu_param(WG_F64, 2, (int64_t[]){2, 3},
                                                                                 FILL_NORMAL)};
    enum { N = 11, M = 6 };
    double Jr[M * N], Jf[M * N], H[N * N], v[N], hvr[N], hvf[N];
    wg_tape *t = wg_tape_new();
    CHECK(wg_jacobian(t, f_vec, NULL, 2, ps, WG_MODE_REVERSE, M, Jr) == 0, "%s", wg_tape_error(t));
    CHECK(wg_jacobian(t, f_vec, NULL, 2, ps, WG_MODE_FORWARD, M, Jf) == 0, "%s", wg_tape_error(t));
    double worst = 0;
    for (int i = 0; i < M * N; i++) worst = fmax(worst, fabs(Jr[i] - Jf[i]) / fmax(1, fabs(Jr[i])));
    CHECK(worst <= 1e-14, "forward and reverse Jacobians differ by %.3g", worst);
    /* JVP on a tape = J v */
    cu_fill(v, N, FILL_NORMAL);
    wg_tape_reset(t);
    wg_tensor *l0 = wg_use(t, ps[0]), *l1 = wg_use(t, ps[1]);
    wg_set_tangent(t, l0, cu_tensor(t, WG_F64, 1, (int64_t[]){5}, v, false));
    wg_set_tangent(t, l1, cu_tensor(t, WG_F64, 2, (int64_t[]){2, 3}, v + 5, false));
    wg_tensor *y = f_vec(t, (wg_tensor *[]){l0, l1}, NULL), *ty = wg_tangent(y);
    CHECK(ty != NULL, "JVP: %s", wg_tape_error(t));
    for (int r = 0; r < M && ty; r++) {
        double jv = 0;
        for (int c = 0; c < N; c++) jv += Jr[r * N + c] * v[c];
        CHECK(fabs(wg_get(ty, (size_t)r) - jv) <= 1e-13 * fmax(1, fabs(jv)), "JVP[%d] = %.17g, J v = %.17g", r,
              wg_get(ty, (size_t)r), jv);
    }
    /* HVP both ways = H v, and H symmetric */
    CHECK(wg_hessian(t, f_scal, NULL, 2, ps, H) == 0, "%s", wg_tape_error(t));
    CHECK(wg_hvp(t, f_scal, NULL, 2, ps, v, hvr, WG_MODE_REVERSE) == 0, "%s", wg_tape_error(t));
    CHECK(wg_hvp(t, f_scal, NULL, 2, ps, v, hvf, WG_MODE_FORWARD) == 0, "%s", wg_tape_error(t));
    for (int r = 0; r < N; r++) {
        double hv = 0;
        for (int c = 0; c < N; c++) {
            hv += H[r * N + c] * v[c];
            CHECK(fabs(H[r * N + c] - H[c * N + r]) <= 1e-12 * fmax(1, fabs(H[r * N + c])), "H not symmetric at %d,%d",
                  r, c);
        }
        CHECK(fabs(hvr[r] - hv) <= 1e-12 * fmax(1, fabs(hv)), "HVP rev[%d] = %.17g, H v = %.17g", r, hvr[r], hv);
        CHECK(fabs(hvf[r] - hv) <= 1e-12 * fmax(1, fabs(hv)), "HVP fwd[%d] = %.17g, H v = %.17g", r, hvf[r], hv);
    }
    /* parameters untouched */
    for (int i = 0; i < 2; i++)
        for (size_t e = 0; e < ps[i]->numel; e++)
            CHECK(((double *)ps[i]->grad)[e] == 0, "a driver wrote the parameter's gradient");
    /* the Hessian against central differences of the gradient */
    wg_gradcheck_report rep;
    for (int k = 0; k < 2; k++) {
        double r1 = 1;
        gg_ctx c = {f_scal, NULL, 2, k, &r1, 1};
        CHECK(wg_gradcheck(f_gradk, &c, 2, ps, &(wg_gradcheck_opts){.atol = 1e-7, .rtol = 1e-6}, &rep) == 1, "%s",
              rep.message);
    }
    wg_tape_free(t);
    wg_param_free(ps[0]);
    wg_param_free(ps[1]);
}

/* ---- wg_backward_ex, grad of an intermediate, f32, errors ---------------------------- */

static int hook_calls;
static void count_hook(wg_param *p, void *ctx)
{
    (void)p, (void)ctx;
    hook_calls++;
}

/* A hook that starts another pass of its own tape: refused, not a crash. */
typedef struct {
    wg_tape *t;
    wg_tensor *out, *x;
    int which, rc;
} nest_ctx;
static void nesting_hook(wg_param *p, void *vctx)
{
    (void)p;
    nest_ctx *c = vctx;
    wg_tensor *g;
    if (c->which == 0) c->rc = wg_backward(c->t, c->out);
    if (c->which == 1) c->rc = wg_grad_of(c->t, c->out, NULL, 1, &c->x, &g, false);
    if (c->which == 2) c->rc = wg_grad_of(c->t, c->out, NULL, 1, &c->x, &g, true);
    if (c->which == 3) wg_tape_reset(c->t), c->rc = -1;
}
/* A custom op whose VJP rule asks for gradients on its tape mid-walk. */
static nest_ctx *nest_op_ctx;
static int nest_fwd(void *ctx, int n, wg_tensor *const *x, wg_tensor *y, void *ydata)
{
    (void)ctx, (void)n, (void)y;
    *(double *)ydata = wg_item(x[0]);
    return 0;
}
static void nest_vjp(void *ctx, int n, wg_tensor *const *x, const wg_tensor *y, const void *gy, void *const *gx)
{
    (void)ctx, (void)n, (void)x, (void)y;
    *(double *)gx[0] += *(const double *)gy;
}
static wg_tensor *nest_vjp_ops(wg_tape *t, void *ctx, int n, wg_tensor *const *x, wg_tensor *y, wg_tensor *gy, int i)
{
    (void)ctx, (void)n, (void)x, (void)y, (void)i;
    wg_tensor *g;
    nest_op_ctx->rc = wg_grad_of(t, nest_op_ctx->out, NULL, 1, &nest_op_ctx->x, &g, true);
    return gy;
}

static void nested_passes(void)
{
    static const char *const want[] = {
        "backward: called inside a backward pass of the same tape (from a VJP rule or the gradient hook)",
        "grad_of: called inside a backward pass of the same tape (from a VJP rule or the gradient hook)",
        "grad_of: called inside a backward pass of the same tape (from a VJP rule or the gradient hook)",
        "tape_reset: called inside a backward pass of the same tape (from a VJP rule or the gradient hook)",
    };
    wg_param *p = wg_param_new(WG_F64, 0, NULL);
    ((double *)p->data)[0] = 0.5;
    for (int which = 0; which < 4; which++) {
        wg_tape *t = wg_tape_new();
        nest_ctx c = {t, NULL, NULL, which, 0};
        wg_tape_set_grad_hook(t, nesting_hook, &c);
        c.x = wg_use(t, p);
        c.out = wg_exp(t, c.x);
        CHECK(wg_backward(t, c.out) == -1 && c.rc == -1, "case %d: a pass inside the hook was not refused", which);
        CHECK_STR(wg_tape_error(t), want[which]);
        wg_tape_free(t);
    }
    wg_custom_def d = {.name = "nest", .n_inputs = 1, .forward = nest_fwd, .vjp = nest_vjp, .vjp_ops = nest_vjp_ops};
    wg_custom_op *op = wg_custom_register(&d);
    wg_tape *t = wg_tape_new();
    nest_ctx c = {t, NULL, NULL, 0, 0};
    nest_op_ctx = &c;
    c.x = wg_var(t, 2);
    c.out = wg_custom(t, op, 1, &c.x);
    wg_tensor *g;
    CHECK(wg_grad_of(t, c.out, NULL, 1, &c.x, &g, true) == -1 && c.rc == -1,
          "a grad_of inside a recorded VJP rule was not refused");
    CHECK_STR(wg_tape_error(t), want[1]);
    wg_tape_free(t);
    wg_custom_free(op);
    wg_param_free(p);
}

/* A gradient hook (dist/'s allreduce, an optimiser-in-backward) sees the
 * parameters' own gradients: the functional passes, which leave .grad alone,
 * must not call it; wg_backward and wg_backward_ex still do. */
static void hook_cases(void)
{
    wg_tape *t = wg_tape_new();
    wg_param *p = wg_param_new(WG_F64, 1, (int64_t[]){3});
    for (int i = 0; i < 3; i++) ((double *)p->data)[i] = 0.5 * (i + 1);
    wg_tape_set_grad_hook(t, count_hook, NULL);
    wg_tensor *x = wg_use(t, p), *g, *h;
    wg_tensor *f = wg_sum(t, wg_mul(t, wg_exp(t, x), x));
    hook_calls = 0;
    CHECK(wg_grad_of(t, f, NULL, 1, &x, &g, false) == 0 && wg_grad_of(t, f, NULL, 1, &x, &g, true) == 0, "%s",
          wg_tape_error(t));
    double H[9];
    CHECK(wg_hessian_of(t, f, 1, &x, H) == 0, "%s", wg_tape_error(t));
    CHECK(wg_grad_of(t, wg_sum(t, g), NULL, 1, &x, &h, false) == 0, "%s", wg_tape_error(t));
    CHECK(hook_calls == 0, "the gradient hook ran %d times in functional passes", hook_calls);
    CHECK(wg_backward(t, f) == 0 && hook_calls == 1, "wg_backward: hook ran %d times, want 1", hook_calls);
    CHECK(wg_backward_ex(t, f, NULL, WG_CREATE_GRAPH) == 0 && hook_calls == 2,
          "wg_backward_ex: hook ran %d times in all, want 2", hook_calls);
    wg_tape_free(t);
    wg_param_free(p);
}

static void api_cases(void)
{
    wg_tape *t = wg_tape_new();
    wg_tensor *x = wg_var(t, 2), *y = wg_var(t, -1);
    wg_tensor *u = wg_mul(t, x, y);           /* intermediate */
    wg_tensor *f = wg_add(t, wg_exp(t, u), wg_mul(t, x, x));
    CHECK(wg_backward_ex(t, f, NULL, WG_CREATE_GRAPH) == 0, "%s", wg_tape_error(t));
    wg_tensor *gx = wg_grad_tensor(x);
    double e = exp(-2.0);
    CHECK(gx && fabs(wg_item(gx) - (-e + 4)) < 1e-15 && fabs(wg_grad_item(x) - (-e + 4)) < 1e-15,
          "backward_ex: dx = %g, .grad = %g, want %g", wg_item(gx), wg_grad_item(x), -e + 4);
    wg_tensor *gxx;
    CHECK(wg_grad_of(t, gx, NULL, 1, &x, &gxx, false) == 0 && fabs(wg_item(gxx) - (e + 2)) < 1e-15,
          "d2f/dx2 = %g, want %g", wg_item(gxx), e + 2);
    /* a second create-graph pass accumulates, as .grad does */
    CHECK(wg_backward_ex(t, f, NULL, WG_CREATE_GRAPH) == 0 && fabs(wg_item(wg_grad_tensor(x)) - 2 * (-e + 4)) < 1e-14,
          "accumulated grad tensor %g", wg_item(wg_grad_tensor(x)));
    /* gradient with respect to an intermediate; and to a node recorded after out: zeros */
    wg_tensor *late = wg_var(t, 5), *gs[2];
    CHECK(wg_grad_of(t, f, NULL, 2, (wg_tensor *[]){u, late}, gs, true) == 0 && fabs(wg_item(gs[0]) - e) < 1e-15 &&
              wg_item(gs[1]) == 0,
          "d/du = %g (want %g), d/dlate = %g", wg_item(gs[0]), e, wg_item(gs[1]));
    /* f32 */
    wg_tensor *xf = wg_scalar(t, WG_F32, 0.5, true), *gf, *hf;
    wg_tensor *ff = wg_tanh(t, xf);
    CHECK(wg_grad_of(t, ff, NULL, 1, &xf, &gf, true) == 0 && wg_grad_of(t, gf, NULL, 1, &xf, &hf, false) == 0 &&
              wg_dtype_of(hf) == WG_F32 && fabs(wg_item(hf) - (-2 * tanh(0.5) * (1 - tanh(0.5) * tanh(0.5)))) < 1e-6,
          "f32 tanh'' = %g", wg_item(hf));
    /* errors name the function and the shapes */
    wg_tensor *v3 = wg_full(t, WG_F64, 1, (int64_t[]){3}, 1);
    CHECK(wg_set_tangent(t, x, v3) == -1, "a tangent of the wrong shape must fail");
    CHECK_STR(wg_tape_error(t), "set_tangent: the tangent must match the tensor: tensor is f64[], tangent is f64[3]");
    wg_tape_reset(t);
    wg_tensor *w = wg_full(t, WG_F64, 1, (int64_t[]){3}, 1);
    wg_tensor *g1;
    CHECK(wg_grad_of(t, wg_mul(t, w, w), NULL, 1, &w, &g1, true) == -1, "a non-scalar out without a seed must fail");
    CHECK_STR(wg_tape_error(t), "backward: output must have one element without a seed, got f64[3]");
    wg_tape_reset(t);
    double H[1];
    w = wg_full(t, WG_F64, 1, (int64_t[]){3}, 1);
    CHECK(wg_hessian_of(t, w, 1, &w, H) == -1, "hessian of a vector must fail");
    CHECK_STR(wg_tape_error(t), "hessian: the output must have one element, got f64[3]");
    wg_tape_reset(t);
    CHECK(wg_grad_of(t, NULL, NULL, 0, NULL, NULL, true) == -1, "NULL out");
    CHECK_STR(wg_tape_error(t), "grad_of: invalid handle: argument 1 is NULL");
    /* stale tangents do not survive a reset */
    wg_tape_reset(t);
    x = wg_var(t, 1);
    wg_set_tangent(t, x, wg_scalar(t, WG_F64, 1, false));
    wg_tape_reset(t);
    x = wg_var(t, 1);
    CHECK(wg_tangent(x) == NULL && wg_tangent(wg_exp(t, x)) == NULL, "a tangent survived the reset");
    /* a handle from before the reset is an error, as for every reader */
    wg_tensor *old = x;
    wg_tape_reset(t);
    CHECK(wg_tangent(old) == NULL && wg_grad_tensor(old) == NULL, "a stale handle gave a tangent");
    CHECK_STR(wg_tape_error(t), "tangent: invalid handle: the tensor was recorded before the last wg_tape_reset");
    /* a gradient with respect to a node late on a long tape records only the
     * part after it (the walk stops at the oldest node asked for), so a
     * loop that differentiates at its own iterate stays linear */
    wg_tape_reset(t);
    wg_tensor *it = wg_var(t, 1.0001);
    for (int i = 0; i < 2000; i++) it = wg_mul(t, it, 1.0001);
    wg_tensor *z = wg_mul(t, wg_mul(t, it, it), it), *dz;
    size_t before = wg_tape_nodes(t);
    CHECK(wg_grad_of(t, z, NULL, 1, &it, &dz, true) == 0, "%s", wg_tape_error(t));
    size_t added = wg_tape_nodes(t) - before;
    CHECK(added < 30, "grad_of at the end of a 2000-op chain recorded %zu nodes", added);
    CHECK(fabs(wg_item(dz) - 3 * wg_item(it) * wg_item(it)) < 1e-12 * wg_item(dz), "d(it^3)/d it = %g, want %g",
          wg_item(dz), 3 * wg_item(it) * wg_item(it));
    /* forward over forward, exactly: f = x^2 y^3 + exp(x y) at (1, 2); level 0
     * along x, level 1 along y: d2f/dxdy = 6 x y^2 + (1 + x y) exp(x y) */
    wg_tape_reset(t);
    x = wg_var(t, 1);
    y = wg_var(t, 2);
    wg_tensor *one = wg_scalar(t, WG_F64, 1, false);
    CHECK(wg_set_tangent_at(t, 0, x, one) == 0 && wg_set_tangent_at(t, 1, y, one) == 0, "%s", wg_tape_error(t));
    f = wg_add(t, wg_mul(t, wg_pow(t, x, 2), wg_pow(t, y, 3)), wg_exp(t, wg_mul(t, x, y)));
    wg_tensor *fx = wg_tangent_at(f, 0), *fy = wg_tangent_at(f, 1), *fxy = fy ? wg_tangent_at(fy, 0) : NULL;
    double e2 = exp(2.0);
    CHECK(fx && fy && fxy && fabs(wg_item(fx) - (16 + 2 * e2)) < 1e-12 && fabs(wg_item(fy) - (12 + e2)) < 1e-12 &&
              fabs(wg_item(fxy) - (24 + 3 * e2)) < 1e-12,
          "forward over forward: fx %g fy %g fxy %g, want %g %g %g", fx ? wg_item(fx) : NAN, fy ? wg_item(fy) : NAN,
          fxy ? wg_item(fxy) : NAN, 16 + 2 * e2, 12 + e2, 24 + 3 * e2);
    /* level 0 is the outermost: the nodes of its rules carry no level-1
     * tangent (the two perturbations stay apart) */
    CHECK(fx && wg_tangent_at(fx, 1) == NULL, "a level-0 tangent node carries a level-1 tangent");
    CHECK(wg_set_tangent_at(t, WG_TANGENT_LEVELS, x, one) == -1, "level out of range must fail");
    CHECK_STR(wg_tape_error(t), "set_tangent_at: level 4 is out of range: levels are 0..3");
    wg_tape_reset(t);
    x = wg_var(t, 1);
    CHECK(wg_tangent_at(x, -1) == NULL, "level -1 gave a tangent");
    CHECK_STR(wg_tape_error(t), "tangent_at: level -1 is out of range: levels are 0..3");
    wg_tape_free(t);
}

int main(void)
{
    wg_rng_seed(&cu_rng, 20261201);
    static void (*const cases[])(void) = {
#define X(name) hc_case_##name,
#include "ops.def"
#undef X
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) cases[i]();
    nn_cases();
    loss_cases();
    third_order();
    exact_hessians();
    drivers();
    api_cases();
    hook_cases();
    nested_passes();
    printf("%d higher-order cases over %zu ops\n", n_cases, sizeof cases / sizeof cases[0]);
    return wg_test_done("test_higher");
}
