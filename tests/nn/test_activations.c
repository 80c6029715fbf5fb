/* Activations: values against libm formulas, derivatives at the kinks,
 * gradchecks in f64 at ordinary points and at +-1000, finiteness at +-1000,
 * lecture 000's softmax table, and the error messages. */
#include <float.h>

#include "nn_test_util.h"

typedef wg_tensor *(*unary)(wg_tape *, wg_tensor *);

static wg_tensor *leaky(wg_tape *t, wg_tensor *x) { return wg_nn_leaky_relu(t, x, WG_NN_LEAKY_ALPHA); }
static wg_tensor *leaky_big(wg_tape *t, wg_tensor *x) { return wg_nn_leaky_relu(t, x, 2.5); }
static wg_tensor *leaky_neg(wg_tape *t, wg_tensor *x) { return wg_nn_leaky_relu(t, x, -0.3); }
static wg_tensor *elu1(wg_tape *t, wg_tensor *x) { return wg_nn_elu(t, x, 1.0); }
static wg_tensor *elu_half(wg_tape *t, wg_tensor *x) { return wg_nn_elu(t, x, 0.5); }
static wg_tensor *lin3(wg_tape *t, wg_tensor *x) { return wg_nn_linear(t, x, 3.0); }

/* libm references, written from the definitions */
static double r_sigmoid(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }
static double r_softplus(double x) { return x > 700 ? x : log1p(exp(x)); }
static double r_relu(double x) { return x > 0 ? x : 0; }
static double r_leaky(double x) { return x > 0 ? x : WG_NN_LEAKY_ALPHA * x; }
static double r_leaky_big(double x) { return x > 0 ? x : 2.5 * x; }
static double r_leaky_neg(double x) { return x > 0 ? x : -0.3 * x; }
static double r_elu1(double x) { return x > 0 ? x : expm1(x); }
static double r_elu_half(double x) { return x > 0 ? x : 0.5 * expm1(x); }
static double r_silu(double x) { return x * r_sigmoid(x); }
static double r_softsign(double x) { return x / (1 + fabs(x)); }
static double r_ident(double x) { return x; }
static double r_lin3(double x) { return 3 * x; }
static double r_step(double x) { return x >= 0 ? 1 : 0; }
static double r_sign(double x) { return x > 0 ? 1 : x < 0 ? -1 : 0; }

typedef struct {
    const char *name;
    unary f;
    double (*ref)(double);
    bool smooth_at_extremes; /* gradcheck at +-1000 */
    double d0;               /* derivative at 0 */
} act_case;

static const act_case cases[] = {
    {"identity", wg_nn_identity, r_ident, true, 1},
    {"linear(3)", lin3, r_lin3, true, 3},
    {"sigmoid", wg_nn_sigmoid, r_sigmoid, true, 0.25},
    {"tanh", wg_nn_tanh, tanh, true, 1},
    {"relu", wg_nn_relu, r_relu, true, 0},
    {"leaky_relu", leaky, r_leaky, true, WG_NN_LEAKY_ALPHA},
    {"leaky_relu(2.5)", leaky_big, r_leaky_big, true, 2.5},
    {"leaky_relu(-0.3)", leaky_neg, r_leaky_neg, true, -0.3},
    {"elu", elu1, r_elu1, true, 1},
    {"elu(0.5)", elu_half, r_elu_half, true, 0.5},
    {"silu", wg_nn_silu, r_silu, true, 0.5},
    {"softsign", wg_nn_softsign, r_softsign, true, 1},
    {"softplus", wg_nn_softplus, r_softplus, true, 0.5},
    {"step", wg_nn_step, r_step, true, 0},
    {"sign", wg_nn_sign, r_sign, true, 0},
};
enum { N_CASES = sizeof cases / sizeof *cases };

static wg_tensor *apply_case(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    return ((const act_case *)ctx)->f(t, in[0]);
}

/* relative-or-absolute closeness for the value checks */
static int close_to(double got, double want, double rtol)
{
    return fabs(got - want) <= rtol * fmax(fabs(want), 1e-300) || got == want;
}

static void test_values_and_grads(void)
{
    static const double xs[] = {-1000, -700, -50, -30, -7.5, -2.5, -1.3, -0.4, -1e-9, 1e-9,
                                0.3,   0.7,  1.9, 3.1, 12,   30,   50,   700,  1000};
    enum { NX = sizeof xs / sizeof *xs };
    /* away from kinks, for the gradchecks */
    static const double ordinary[] = {-2.5, -1.3, -0.4, 0.3, 0.7, 1.9, 3.1};
    static const double extreme[] = {-1000, 1000};
    wg_tape *t = wg_tape_new();
    for (int c = 0; c < N_CASES; c++) {
        const act_case *k = &cases[c];
        /* values against the reference, element by element, and finite grads */
        wg_tape_reset(t);
        wg_tensor *x = wg_tensor_new(t, WG_F64, 1, (int64_t[]){NX}, xs, true);
        wg_tensor *y = k->f(t, x);
        CHECK(y != NULL, "%s: %s", k->name, wg_tape_error(t));
        if (!y) continue;
        wg_tensor *s = wg_sum(t, y);
        CHECK(wg_backward(t, s) == 0, "%s backward: %s", k->name, wg_tape_error(t));
        for (int i = 0; i < NX; i++) {
            double want = k->ref(xs[i]);
            CHECK(close_to(wg_get(y, i), want, 1e-13), "%s(%g) = %.17g, want %.17g", k->name, xs[i], wg_get(y, i),
                  want);
            CHECK(isfinite(wg_grad_get(x, i)), "%s'(%g) = %g is not finite", k->name, xs[i], wg_grad_get(x, i));
        }
        /* derivative at exactly 0 */
        wg_tape_reset(t);
        wg_tensor *z = wg_var(t, 0.0);
        CHECK(wg_backward(t, k->f(t, z)) == 0, "%s at 0: %s", k->name, wg_tape_error(t));
        CHECK(fabs(wg_grad_item(z) - k->d0) <= 1e-15, "%s'(0) = %.17g, want %g", k->name, wg_grad_item(z), k->d0);

        /* gradchecks in f64 */
        wg_param *p = param_vec(ordinary, sizeof ordinary / sizeof *ordinary);
        char label[64];
        snprintf(label, sizeof label, "%s at ordinary points", k->name);
        GRADCHECK(label, apply_case, (void *)k, 1, &p);
        wg_param_free(p);
        if (k->smooth_at_extremes) {
            p = param_vec(extreme, 2);
            snprintf(label, sizeof label, "%s at +-1000", k->name);
            GRADCHECK(label, apply_case, (void *)k, 1, &p);
            wg_param_free(p);
        }
    }
    wg_tape_free(t);
}

/* The derivatives the stable forms must get right, against closed forms. */
static void test_derivative_formulas(void)
{
    wg_tape *t = wg_tape_new();
    static const double xs[] = {-1000, -40, -3, -0.5, 0, 0.5, 3, 40, 1000};
    for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) {
        /* sigma' = sigma(x) sigma(-x): accurate in both tails, unlike s (1 - s) */
        double x = xs[i], s = r_sigmoid(x), ds_ = s * r_sigmoid(-x);
        wg_tape_reset(t);
        wg_tensor *v = wg_var(t, x);
        wg_backward(t, wg_nn_sigmoid(t, v));
        CHECK(close_to(wg_grad_item(v), ds_, 1e-12), "sigmoid'(%g) = %.17g, want %.17g", x, wg_grad_item(v), ds_);
        wg_tape_reset(t);
        v = wg_var(t, x);
        wg_backward(t, wg_nn_softplus(t, v));
        CHECK(close_to(wg_grad_item(v), s, 1e-12), "softplus'(%g) = %.17g, want %.17g", x, wg_grad_item(v), s);
        wg_tape_reset(t);
        v = wg_var(t, x);
        wg_backward(t, wg_nn_silu(t, v));
        double ds = s + x * ds_;
        CHECK(fabs(wg_grad_item(v) - ds) <= 1e-12 * fmax(1, fabs(ds)), "silu'(%g) = %.17g, want %.17g", x,
              wg_grad_item(v), ds);
        /* elu' = e^x on the left, relative to the tiny value itself (it was 0
         * at x = -40 while e^-40 = 4e-18), and elu(x) = expm1(x) exactly. */
        wg_tape_reset(t);
        v = wg_var(t, x);
        wg_tensor *e = wg_nn_elu(t, v, 1.0);
        wg_backward(t, e);
        double de = x > 0 ? 1 : exp(x), ve = x > 0 ? x : expm1(x);
        CHECK(close_to(wg_grad_item(v), de, 1e-12), "elu'(%g) = %.17g, want %.17g", x, wg_grad_item(v), de);
        CHECK(close_to(wg_item(e), ve, 1e-15), "elu(%g) = %.17g, want %.17g", x, wg_item(e), ve);
    }
    static const double tiny[] = {-1e-10, -1e-300, -3e-8};
    for (size_t i = 0; i < sizeof tiny / sizeof *tiny; i++) {
        wg_tape_reset(t);
        wg_tensor *v = wg_var(t, tiny[i]);
        wg_tensor *e = wg_nn_elu(t, v, 1.0);
        CHECK(close_to(wg_item(e), expm1(tiny[i]), 1e-15), "elu(%g) = %.17g, want expm1 = %.17g", tiny[i],
              wg_item(e), expm1(tiny[i]));
    }
    wg_tape_free(t);
}

/* PReLU and the trainable swish: gradients for x and for the learned slope. */
static wg_tensor *prelu_f(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    (void)ctx;
    return wg_nn_prelu(t, in[0], in[1]);
}
static wg_tensor *swish_f(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    (void)ctx;
    return wg_nn_swish(t, in[0], in[1]);
}

static void test_learned(void)
{
    static const double xs[] = {-2.5, -0.4, 0.3, 1.9, -1000, 1000};
    static const double a[] = {0.25};
    wg_param *p[2] = {param_vec(xs, 6), param_vec(a, 1)};
    GRADCHECK("prelu (x and alpha)", prelu_f, NULL, 2, p);
    static const double beta[] = {1.7};
    wg_param_free(p[1]);
    p[1] = param_vec(beta, 1);
    GRADCHECK("swish (x and beta)", swish_f, NULL, 2, p);
    /* per-channel alpha broadcasting over [2,3] */
    static const double x6[] = {-1, 2, -3, 4, -5, 0.5}, a3[] = {0.1, 0.2, 0.3};
    wg_tape *t = wg_tape_new();
    wg_tensor *x = wg_tensor_new(t, WG_F64, 2, (int64_t[]){2, 3}, x6, false);
    wg_tensor *al = wg_tensor_new(t, WG_F64, 1, (int64_t[]){3}, a3, true);
    wg_tensor *y = wg_nn_prelu(t, x, al);
    for (int i = 0; i < 6; i++) {
        double want = x6[i] > 0 ? x6[i] : a3[i % 3] * x6[i];
        CHECK_NEAR(wg_get(y, i), want, 1e-15);
    }
    wg_backward(t, wg_sum(t, y));
    CHECK_NEAR(wg_grad_get(al, 0), -1 + 4 * 0, 1e-15); /* x<0 entries of column 0: -1 (and 4 > 0) */
    CHECK_NEAR(wg_grad_get(al, 2), -3 + 0.5 * 0, 1e-15);
    /* PReLU'(0) w.r.t. x is alpha */
    wg_tape_reset(t);
    wg_tensor *z = wg_var(t, 0.0);
    wg_backward(t, wg_nn_prelu(t, z, wg_const(t, 0.25)));
    CHECK_NEAR(wg_grad_item(z), 0.25, 0);
    wg_tape_free(t);
    wg_param_free(p[0]);
    wg_param_free(p[1]);
}

/* ---- softmax family ------------------------------------------------------ */

typedef struct {
    int which; /* 0 softmax, 1 log_softmax, 2 logsumexp, 3 logsumexp keepdim */
    int axis;
} sm_ctx;

static wg_tensor *sm_f(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    const sm_ctx *c = ctx;
    switch (c->which) {
    case 0: return wg_nn_softmax(t, in[0], c->axis);
    case 1: return wg_nn_log_softmax(t, in[0], c->axis);
    case 2: return wg_nn_logsumexp(t, in[0], c->axis, false);
    default: return wg_nn_logsumexp(t, in[0], c->axis, true);
    }
}

static void test_softmax(void)
{
    wg_tape *t = wg_tape_new();
    /* lecture 000: z = (-3.44, 1.16, -0.81, 3.91) -> (0.0006, 0.0596, 0.0083, 0.9315) */
    static const double z[] = {-3.44, 1.16, -0.81, 3.91}, want[] = {0.0006, 0.0596, 0.0083, 0.9315};
    wg_tensor *x = wg_tensor_new(t, WG_F64, 1, (int64_t[]){4}, z, false);
    wg_tensor *s = wg_nn_softmax(t, x, -1);
    for (int i = 0; i < 4; i++) {
        char buf[16];
        snprintf(buf, sizeof buf, "%.4f", wg_get(s, i));
        CHECK(fabs(atof(buf) - want[i]) < 1e-9, "softmax[%d] = %s to four places, want %.4f", i, buf, want[i]);
    }
    /* f32 gives the same table */
    wg_tensor *x32 = wg_tensor_new(t, WG_F32, 1, (int64_t[]){4}, (float[]){-3.44f, 1.16f, -0.81f, 3.91f}, false);
    wg_tensor *s32 = wg_nn_softmax(t, x32, 0);
    for (int i = 0; i < 4; i++) CHECK_NEAR(wg_get(s32, i), want[i], 0.00005);

    /* rows sum to 1; log_softmax = log(softmax); logsumexp against libm */
    static const double m[] = {1, 2, 3, -1, 0.5, 4, 1000, -1000, 0, -1000, -1000, -999};
    wg_tape_reset(t);
    wg_tensor *a = wg_tensor_new(t, WG_F64, 2, (int64_t[]){4, 3}, m, false);
    wg_tensor *sa = wg_nn_softmax(t, a, 1), *la = wg_nn_log_softmax(t, a, -1), *lse = wg_nn_logsumexp(t, a, 1, false);
    CHECK(wg_ndim(lse) == 1 && wg_dim(lse, 0) == 4, "logsumexp without keepdim has shape [4]");
    for (int r = 0; r < 4; r++) {
        double mx = fmax(m[3 * r], fmax(m[3 * r + 1], m[3 * r + 2])), se = 0;
        for (int c = 0; c < 3; c++) se += exp(m[3 * r + c] - mx);
        double ref_lse = mx + log(se), rowsum = 0;
        CHECK_NEAR(wg_get(lse, r), ref_lse, 1e-12 * fmax(1, fabs(ref_lse)));
        for (int c = 0; c < 3; c++) {
            double ls = m[3 * r + c] - ref_lse, sm = exp(m[3 * r + c] - mx) / se;
            CHECK(isfinite(wg_get(la, 3 * r + c)), "log_softmax finite at row %d", r);
            CHECK_NEAR(wg_get(la, 3 * r + c), ls, 1e-12 * fmax(1, fabs(ls)));
            CHECK_NEAR(wg_get(sa, 3 * r + c), sm, 1e-15);
            rowsum += wg_get(sa, 3 * r + c);
        }
        CHECK_NEAR(rowsum, 1.0, 1e-15);
    }

    /* gradchecks: ordinary values, along both axes, and at +-1000 */
    wg_rng rng;
    wg_rng_seed(&rng, 3);
    wg_param *p = param_randn(&rng, 2, (int64_t[]){3, 4}, 1.5);
    static const double ext[] = {1000, -1000, 0, 3, -1000, 999.5, 1000, -2, 1000, 1000, -1000, -1000};
    wg_param *pe = param_from(WG_F64, 2, (int64_t[]){3, 4}, ext);
    for (int which = 0; which < 4; which++)
        for (int axis = -1; axis <= 0; axis++) {
            sm_ctx c = {which, axis};
            char label[64];
            snprintf(label, sizeof label, "softmax family %d along axis %d", which, axis);
            GRADCHECK(label, sm_f, &c, 1, &p);
            snprintf(label, sizeof label, "softmax family %d along axis %d at +-1000", which, axis);
            GRADCHECK(label, sm_f, &c, 1, &pe);
        }
    wg_param_free(p);
    wg_param_free(pe);
    wg_tape_free(t);
}

static wg_tensor *maxout_f(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    (void)ctx;
    return wg_nn_maxout(t, in[0], 3);
}

static void test_maxout(void)
{
    static const double z[] = {1, 5, 2, -1, -3, -2, 0.5, 0.25, 0.75, 7, 8, 9};
    wg_tape *t = wg_tape_new();
    wg_tensor *x = wg_tensor_new(t, WG_F64, 2, (int64_t[]){2, 6}, z, false);
    wg_tensor *y = wg_nn_maxout(t, x, 3);
    CHECK(wg_ndim(y) == 2 && wg_dim(y, 0) == 2 && wg_dim(y, 1) == 2, "maxout shape [2,2]");
    for (int i = 0; i < 4; i++) {
        double want = fmax(z[3 * i], fmax(z[3 * i + 1], z[3 * i + 2]));
        CHECK_NEAR(wg_get(y, i), want, 0);
    }
    wg_param *p = param_from(WG_F64, 2, (int64_t[]){2, 6}, z);
    GRADCHECK("maxout", maxout_f, NULL, 1, &p);
    wg_param_free(p);
    /* errors name the op and the shape */
    wg_tape_reset(t);
    x = wg_tensor_new(t, WG_F64, 2, (int64_t[]){2, 5}, NULL, false);
    CHECK(wg_nn_maxout(t, x, 3) == NULL, "maxout with 5 %% 3 != 0 fails");
    CHECK_STR(wg_tape_error(t), "maxout: the last dimension is not a multiple of k = 3: z is f64[2,5]");
    wg_tape_free(t);
}

static void test_errors_and_names(void)
{
    wg_tape *t = wg_tape_new();
    CHECK(wg_nn_sigmoid(t, NULL) == NULL, "NULL input gives NULL");
    CHECK_STR(wg_tape_error(t), "sigmoid: invalid handle: x is NULL");
    /* the first error stays; later composites return NULL */
    wg_tensor *v = wg_var(t, 1.0);
    CHECK(v == NULL || wg_nn_relu(t, v) == NULL, "ops after an error return NULL");
    CHECK_STR(wg_tape_error(t), "sigmoid: invalid handle: x is NULL");
    wg_tape_reset(t);
    CHECK(wg_nn_activate(t, wg_var(t, 1), (wg_act)99, 0) == NULL, "unknown activation fails");
    CHECK_STR(wg_tape_error(t), "activate: unknown activation 99");
    CHECK(wg_nn_softplus(NULL, NULL) == NULL, "NULL tape gives NULL");
    CHECK_STR(wg_last_error(), "softplus: invalid handle: the tape is NULL");
    wg_tape_free(t);
    for (int a = 0; a < WG_ACT_COUNT; a++)
        CHECK(wg_act_from_name(wg_act_name((wg_act)a)) == a, "name round trip for %d (%s)", a, wg_act_name((wg_act)a));
    CHECK(wg_act_from_name("swish") == WG_ACT_SILU, "swish is silu");
    CHECK(wg_act_from_name("nope") == -1, "unknown name");
    /* wg_nn_activate dispatches to the same composite */
    t = wg_tape_new();
    wg_tensor *x = wg_var(t, -0.7);
    CHECK_NEAR(wg_item(wg_nn_activate(t, x, WG_ACT_ELU, NAN)), expm1(-0.7), 1e-15);
    CHECK_NEAR(wg_item(wg_nn_activate(t, x, WG_ACT_LEAKY_RELU, NAN)), -0.7 * WG_NN_LEAKY_ALPHA, 1e-17);
    wg_tape_free(t);
}

/* f32: still finite at +-1000, gradcheck passes with f32 tolerances. */
static void test_f32(void)
{
    wg_tape *t = wg_tape_new();
    float xs[] = {-1000, -20, 0, 20, 1000};
    for (int c = 0; c < N_CASES; c++) {
        wg_tape_reset(t);
        wg_tensor *x = wg_tensor_new(t, WG_F32, 1, (int64_t[]){5}, xs, true);
        wg_tensor *y = cases[c].f(t, x);
        CHECK(y && wg_dtype_of(y) == WG_F32, "%s keeps f32", cases[c].name);
        if (!y) continue;
        wg_backward(t, wg_sum(t, y));
        for (int i = 0; i < 5; i++) {
            CHECK(isfinite(wg_get(y, i)) && isfinite(wg_grad_get(x, i)), "%s f32 finite at %g", cases[c].name,
                  (double)xs[i]);
            double want = cases[c].ref(xs[i]);
            CHECK(fabs(wg_get(y, i) - want) <= 1e-6 * fmax(1, fabs(want)), "%s f32 (%g) = %g, want %g", cases[c].name,
                  (double)xs[i], wg_get(y, i), want);
        }
    }
    wg_tape_free(t);
}

int main(void)
{
    test_values_and_grads();
    test_derivative_formulas();
    test_learned();
    test_softmax();
    test_maxout();
    test_errors_and_names();
    test_f32();
    return wg_test_done("nn activations");
}
