/* Layers, the MLP and the initialisers: the dense layer against a written-out
 * x W^T + b, gradchecks through layers and shortcuts, the parameter count
 * N_p = sum M_l (M_{l-1} + 1), initialiser variances and reproducibility,
 * and an MLP that learns XOR. */
#include "nn_test_util.h"

static void test_dense(void)
{
    wg_dense *l = wg_dense_new(WG_F64, 3, 4, true);
    CHECK(l && l->W->ndim == 2 && l->W->shape[0] == 4 && l->W->shape[1] == 3 && l->b->numel == 4, "dense shapes");
    wg_rng r;
    wg_rng_seed(&r, 5);
    CHECK(wg_dense_init(l, WG_INIT_XAVIER, 0, 0.25, &r) == 0, "dense_init");
    const double *W = l->W->data, *b = l->b->data;
    for (int j = 0; j < 4; j++) CHECK_NEAR(b[j], 0.25, 0);
    static const double xs[6] = {1, -2, 0.5, 3, 0.25, -1};
    wg_tape *t = wg_tape_new();
    wg_tensor *x = wg_tensor_new(t, WG_F64, 2, (int64_t[]){2, 3}, xs, false);
    wg_tensor *y = wg_dense_forward(t, l, x);
    CHECK(y && wg_dim(y, 0) == 2 && wg_dim(y, 1) == 4, "dense output [2,4]");
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) {
            double want = b[j];
            for (int k = 0; k < 3; k++) want += xs[3 * i + k] * W[3 * j + k];
            CHECK_NEAR(wg_get(y, 4 * i + j), want, 1e-15);
        }
    /* one sample as a vector */
    wg_tensor *y1 = wg_dense_forward(t, l, wg_tensor_new(t, WG_F64, 1, (int64_t[]){3}, xs + 3, false));
    CHECK(y1 && wg_ndim(y1) == 1 && wg_dim(y1, 0) == 4, "dense on a vector gives [4]");
    for (int j = 0; j < 4; j++) CHECK_NEAR(wg_get(y1, j), wg_get(y, 4 + j), 0);
    /* the recorded forward is one matmul and one add (plus the leaves) */
    wg_tape_reset(t);
    x = wg_tensor_new(t, WG_F64, 2, (int64_t[]){2, 3}, xs, false);
    size_t before = wg_tape_nodes(t);
    wg_dense_forward(t, l, x);
    CHECK(wg_tape_nodes(t) - before == 4, "dense records W, b, matmul, add: %zu nodes", wg_tape_nodes(t) - before);
    /* wrong width */
    wg_tape_reset(t);
    x = wg_tensor_new(t, WG_F64, 2, (int64_t[]){2, 4}, NULL, false);
    CHECK(wg_dense_forward(t, l, x) == NULL, "bad width");
    CHECK_STR(wg_tape_error(t), "dense: want x [N,3] or [3]: x is f64[2,4]");
    wg_tape_free(t);
    wg_dense_free(l);
    CHECK(wg_dense_new(WG_F64, 0, 3, true) == NULL, "zero inputs rejected");
    CHECK_STR(wg_last_error(), "dense_new: sizes must be >= 1: n_in = 0, n_out = 3");
}

/* ---- MLP ---------------------------------------------------------------- */

typedef struct {
    wg_mlp *m;
    const double *x;
    int64_t n;
} mlp_ctx;

static wg_tensor *mlp_f(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    (void)in; /* the leaves are the model's own parameters, used again inside */
    mlp_ctx *c = ctx;
    wg_tensor *x = wg_tensor_new(t, WG_F64, 2, (int64_t[]){c->n, c->m->sizes[0]}, c->x, false);
    return wg_mlp_forward(t, c->m, x);
}

static void test_mlp_structure(void)
{
    int64_t sizes[4] = {3, 5, 4, 2};
    wg_mlp *m = wg_mlp_new(WG_F64, 4, sizes, WG_ACT_TANH, WG_ACT_IDENTITY, NAN);
    CHECK(m != NULL, "mlp_new: %s", wg_last_error());
    size_t np = 0;
    for (int l = 1; l < 4; l++) np += (size_t)(sizes[l] * (sizes[l - 1] + 1));
    CHECK(wg_mlp_count(m) == np, "count %zu, formula %zu", wg_mlp_count(m), np);
    size_t n;
    wg_param *const *ps = wg_mlp_params(m, &n);
    CHECK(n == 6 && ps[0] == m->layers[0]->W && ps[1] == m->layers[0]->b && ps[5] == m->layers[2]->b, "param order");
    CHECK_STR(ps[2]->name, "W2");

    /* summary prints the formula's value */
    FILE *f = tmpfile();
    wg_mlp_summary(m, f);
    rewind(f);
    char buf[2048] = {0}, want[64];
    CHECK(fread(buf, 1, sizeof buf - 1, f) > 0, "summary written");
    fclose(f);
    snprintf(want, sizeof want, "N_p = sum_l M_l (M_{l-1} + 1) = %zu\n", np);
    CHECK(strstr(buf, want) != NULL, "summary has \"%s\":\n%s", want, buf);
    CHECK(strstr(buf, "layer 2: dense 5 -> 4, tanh") != NULL, "summary names layer 2:\n%s", buf);

    /* shortcuts: input -> layer 2 and input -> output */
    CHECK(wg_mlp_add_shortcut(m, 0, 2) == 0 && wg_mlp_add_shortcut(m, 0, 3) == 0, "shortcuts: %s", wg_last_error());
    CHECK(wg_mlp_add_shortcut(m, 1, 2) == -1, "adjacent layers are no shortcut");
    CHECK_STR(wg_last_error(), "mlp_add_shortcut: want 0 <= from < to - 1 and to <= 3: from = 1, to = 2");
    CHECK(wg_mlp_add_shortcut(m, 0, 2) == -1, "duplicate shortcut");
    ps = wg_mlp_params(m, &n);
    CHECK(n == 8 && ps[6]->shape[0] == 4 && ps[6]->shape[1] == 3, "S0_2 is [4,3]");
    CHECK(wg_mlp_count(m) == np + 4 * 3 + 2 * 3, "count with shortcuts");

    wg_rng r;
    wg_rng_seed(&r, 9);
    CHECK(wg_mlp_init(m, WG_INIT_XAVIER, 0, 0.1, &r) == 0, "mlp_init");
    /* forward against the definition written out */
    static const double xs[6] = {0.5, -1, 2, 1.5, 0.25, -0.75};
    wg_tape *t = wg_tape_new();
    wg_tensor *x = wg_tensor_new(t, WG_F64, 2, (int64_t[]){2, 3}, xs, false);
    wg_tensor *y = wg_mlp_forward(t, m, x);
    CHECK(y && wg_dim(y, 0) == 2 && wg_dim(y, 1) == 2, "mlp output [2,2]: %s", wg_tape_error(t));
    for (int s = 0; s < 2; s++) {
        double z[4][8];
        for (int k = 0; k < 3; k++) z[0][k] = xs[3 * s + k];
        for (int l = 1; l <= 3; l++) {
            const double *W = m->layers[l - 1]->W->data, *b = m->layers[l - 1]->b->data;
            for (int j = 0; j < sizes[l]; j++) {
                double a = b[j];
                for (int k = 0; k < sizes[l - 1]; k++) a += W[j * sizes[l - 1] + k] * z[l - 1][k];
                for (int q = 0; q < m->n_shortcuts; q++)
                    if (m->shortcuts[q].to == l) {
                        const double *S = m->shortcuts[q].S->data;
                        int fr = m->shortcuts[q].from;
                        for (int k = 0; k < sizes[fr]; k++) a += S[j * sizes[fr] + k] * z[fr][k];
                    }
                z[l][j] = l == 3 ? a : tanh(a);
            }
        }
        for (int j = 0; j < 2; j++) CHECK_NEAR(wg_get(y, 2 * s + j), z[3][j], 1e-14);
    }
    /* gradcheck over every parameter, shortcuts included */
    mlp_ctx c = {m, xs, 2};
    GRADCHECK("mlp with shortcuts", mlp_f, &c, (int)n, (wg_param **)ps);
    /* errors */
    wg_tape_reset(t);
    x = wg_tensor_new(t, WG_F32, 2, (int64_t[]){2, 3}, NULL, false);
    CHECK(wg_mlp_forward(t, m, x) == NULL, "dtype mismatch");
    CHECK_STR(wg_tape_error(t), "mlp: dtype mismatch: the model is f64, x is f32[2,3]");
    wg_tape_reset(t);
    x = wg_tensor_new(t, WG_F64, 2, (int64_t[]){2, 4}, NULL, false);
    CHECK(wg_mlp_forward(t, m, x) == NULL, "width mismatch");
    CHECK_STR(wg_tape_error(t), "mlp: want x [N,3]: x is f64[2,4]");
    wg_tape_free(t);
    wg_mlp_free(m);
    CHECK(wg_mlp_new(WG_F64, 1, sizes, WG_ACT_RELU, WG_ACT_IDENTITY, NAN) == NULL, "one size is no MLP");
    CHECK_STR(wg_last_error(), "mlp_new: need at least 2 sizes (inputs and outputs): got 1");
}

/* XOR with a 2-4-1 tanh MLP, BCE from logits, Adam, full batch. */
static void test_xor(void)
{
    static const float X[8] = {0, 0, 0, 1, 1, 0, 1, 1}, Y[4] = {0, 1, 1, 0};
    int64_t sizes[3] = {2, 4, 1};
    wg_mlp *m = wg_mlp_new(WG_F32, 3, sizes, WG_ACT_TANH, WG_ACT_IDENTITY, NAN);
    wg_rng r;
    wg_rng_seed(&r, 42);
    wg_mlp_init(m, WG_INIT_XAVIER, 0, 0, &r);
    size_t n;
    wg_param *const *ps = wg_mlp_params(m, &n);
    wg_optim_config cfg = wg_optim_defaults(WG_OPT_ADAM);
    cfg.lr = 0.05;
    wg_optim *o = wg_optim_new(&cfg, n, ps);
    wg_tape *t = wg_tape_new();
    int solved_at = -1;
    double loss = 0;
    for (int step = 0; step < 2000 && solved_at < 0; step++) {
        wg_tape_reset(t);
        wg_tensor *x = wg_tensor_new(t, WG_F32, 2, (int64_t[]){4, 2}, X, false);
        wg_tensor *y = wg_tensor_new(t, WG_F32, 2, (int64_t[]){4, 1}, Y, false);
        wg_tensor *z = wg_mlp_forward(t, m, x);
        wg_tensor *L = wg_nn_bce_logits(t, z, y, WG_REDUCE_MEAN);
        if (!L) break;
        loss = wg_item(L);
        int correct = 0;
        for (int i = 0; i < 4; i++) correct += (wg_get(z, i) > 0) == (Y[i] > 0.5f);
        if (correct == 4 && loss < 0.05) solved_at = step;
        wg_optim_zero_grad(o);
        wg_backward(t, L);
        wg_optim_step(o);
    }
    printf("xor: solved at step %d, loss %.4f\n", solved_at, loss);
    CHECK(solved_at >= 0, "XOR not learned in 2000 steps: loss %g (%s)", loss, wg_tape_error(t) ? wg_tape_error(t) : "");
    wg_tape_free(t);
    wg_optim_free(o);
    wg_mlp_free(m);
}

/* ---- initialisers ------------------------------------------------------- */

static void moments(const wg_param *p, double *mean, double *var)
{
    double s = 0, q = 0;
    for (size_t i = 0; i < p->numel; i++) s += ((const double *)p->data)[i];
    *mean = s / (double)p->numel;
    for (size_t i = 0; i < p->numel; i++) {
        double d = ((const double *)p->data)[i] - *mean;
        q += d * d;
    }
    *var = q / (double)(p->numel - 1);
}

static void test_init(void)
{
    enum { N = 200000 };
    const int64_t fan_in = 50;
    wg_param *p = wg_param_new(WG_F64, 2, (int64_t[]){N / 50, 50});
    wg_rng r;
    struct {
        const char *name;
        wg_init s;
        double arg, var, kurt; /* kurtosis E[x^4]/sigma^4: 3 normal, 9/5 uniform */
    } cases[] = {
        {"small", WG_INIT_SMALL, 0, 0.01 * 0.01, 3},
        {"large", WG_INIT_LARGE, 0, 0.2 * 0.2, 3},
        {"normal(0.5)", WG_INIT_NORMAL, 0.5, 0.25, 3},
        {"xavier", WG_INIT_XAVIER, 0, 1.0 / 50, 3},
        {"xavier_uniform", WG_INIT_XAVIER_UNIFORM, 0, 1.0 / 50, 1.8},
        {"he", WG_INIT_HE, 0, 2.0 / 50, 3},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        wg_rng_seed(&r, 1000 + k);
        CHECK(wg_init_param(p, cases[k].s, cases[k].arg, fan_in, &r) == 0, "%s: %s", cases[k].name,
              wg_last_error());
        double mean, var;
        moments(p, &mean, &var);
        /* five standard errors of the estimates */
        double se_var = cases[k].var * sqrt((cases[k].kurt - 1) / N), se_mean = sqrt(cases[k].var / N);
        CHECK(fabs(var - cases[k].var) < 5 * se_var, "%s: variance %.6g, want %.6g +- %.2g", cases[k].name, var,
              cases[k].var, 5 * se_var);
        CHECK(fabs(mean) < 5 * se_mean, "%s: mean %.3g", cases[k].name, mean);
        /* the same seed gives the same numbers, another seed others */
        double first = ((double *)p->data)[0], last = ((double *)p->data)[N - 1];
        wg_rng_seed(&r, 1000 + k);
        wg_init_param(p, cases[k].s, cases[k].arg, fan_in, &r);
        CHECK(((double *)p->data)[0] == first && ((double *)p->data)[N - 1] == last, "%s reproducible", cases[k].name);
        wg_rng_seed(&r, 2000 + k);
        wg_init_param(p, cases[k].s, cases[k].arg, fan_in, &r);
        CHECK(((double *)p->data)[0] != first, "%s: another seed, other numbers", cases[k].name);
    }
    /* the uniform variant stays inside +-sqrt(3/D_in) */
    wg_rng_seed(&r, 7);
    wg_init_xavier_uniform(p, fan_in, &r);
    double a = sqrt(3.0 / 50), mx = 0;
    for (size_t i = 0; i < p->numel; i++) mx = fmax(mx, fabs(((double *)p->data)[i]));
    CHECK(mx <= a && mx > 0.99 * a, "uniform bound: max |w| %g, a %g", mx, a);
    CHECK(wg_init_constant(p, 0) == 0, "zero");
    for (size_t i = 0; i < p->numel; i += 997) CHECK_NEAR(((double *)p->data)[i], 0, 0);
    CHECK(wg_init_normal(p, 0.1, NULL) == -1, "NULL rng");
    CHECK_STR(wg_last_error(), "init_normal: invalid handle: the rng is NULL");
    CHECK(wg_init_he_normal(p, 0, &r) == -1, "fan_in 0");
    CHECK_STR(wg_last_error(), "init_he_normal: fan_in must be >= 1: got 0");
    wg_param_free(p);
    /* f32 parameters draw the same stream, rounded */
    wg_param *p32 = wg_param_new(WG_F32, 1, (int64_t[]){8}), *p64 = wg_param_new(WG_F64, 1, (int64_t[]){8});
    wg_rng_seed(&r, 3);
    wg_init_he_normal(p32, 10, &r);
    wg_rng_seed(&r, 3);
    wg_init_he_normal(p64, 10, &r);
    for (int i = 0; i < 8; i++) CHECK(((float *)p32->data)[i] == (float)((double *)p64->data)[i], "f32 stream %d", i);
    wg_param_free(p32);
    wg_param_free(p64);
    for (int s = 0; s <= WG_INIT_HE; s++)
        CHECK(wg_init_from_name(wg_init_name((wg_init)s)) == s, "init name round trip %d", s);
}

int main(void)
{
    test_dense();
    test_mlp_structure();
    test_xor();
    test_init();
    return wg_test_done("nn layers");
}
