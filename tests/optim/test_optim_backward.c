/* optim_backward: the optimiser-in-backward (wg_optim_backward_begin/end)
 * against the ordinary zero_grad, backward, step, bit for bit: every kind,
 * with and without weight decay, f32 and f64, one and two threads, a
 * parameter recorded twice and one backward never reaches; then what differs
 * (clipping refused, a non-finite gradient skips its parameter, a failed
 * backward), and the ordinary Adam step against Algorithm 1 written out here
 * in the same order of operations, to the bit (so a change of its arithmetic,
 * a reciprocal or a fused multiply-add, shows). */
#include <stdlib.h>

#include "wengert.h"
#include "wg_test.h"

enum { N_IN = 24, N_H = 40, N_OUT = 7, BATCH = 16, STEPS = 4 };

static void pset(wg_param *p, size_t i, double v)
{
    if (p->dtype == WG_F32) ((float *)p->data)[i] = (float)v;
    else ((double *)p->data)[i] = v;
}
static double gget(const wg_param *p, size_t i)
{
    return p->dtype == WG_F32 ? ((const float *)p->grad)[i] : ((const double *)p->grad)[i];
}
static const char *dname(wg_dtype dt) { return dt == WG_F32 ? "f32" : "f64"; }

typedef struct {
    wg_mlp *m;
    wg_param *s; /* recorded twice: logits (z + s) * s */
    wg_param *u; /* listed, never recorded */
    wg_param *ps[16];
    size_t n;
} model;

static void model_make(model *md, wg_dtype dt, const int64_t *sizes, int n_sizes)
{
    md->m = wg_mlp_new(dt, n_sizes, sizes, WG_ACT_RELU, WG_ACT_IDENTITY, NAN);
    wg_rng r;
    wg_rng_seed(&r, 11);
    wg_mlp_init(md->m, WG_INIT_HE, 0, 0.01, &r);
    const int64_t c = sizes[n_sizes - 1], four = 4;
    md->s = wg_param_new(dt, 1, &c);
    md->u = wg_param_new(dt, 1, &four);
    for (int64_t i = 0; i < c; i++) pset(md->s, (size_t)i, 1 + 0.1 * (double)i);
    for (int64_t i = 0; i < four; i++) pset(md->u, (size_t)i, 0.5 - 0.2 * (double)i);
    size_t n;
    wg_param *const *ps = wg_mlp_params(md->m, &n);
    for (size_t i = 0; i < n; i++) md->ps[i] = ps[i];
    md->ps[n] = md->s;
    md->ps[n + 1] = md->u;
    md->n = n + 2;
}

static void model_free(model *md)
{
    wg_mlp_free(md->m);
    wg_param_free(md->s);
    wg_param_free(md->u);
}

static wg_tensor *loss_of(wg_tape *t, model *md, wg_dtype dt, int64_t b, int64_t d, const void *x, const int *y)
{
    wg_tensor *z = wg_mlp_forward(t, md->m, wg_tensor_view(t, dt, 2, (int64_t[]){b, d}, x));
    z = wg_mul(t, wg_add(t, z, wg_use(t, md->s)), wg_use(t, md->s));
    return wg_nn_softmax_cross_entropy_idx(t, z, y, WG_REDUCE_MEAN);
}

static size_t bytes_of(const wg_param *p) { return p->numel * (p->dtype == WG_F32 ? 4 : 8); }

/* Two copies of one model, one trained the ordinary way, one in backward,
 * compared bit for bit after every step. */
static void compare_paths(wg_opt_kind kind, double wd, wg_dtype dt, int threads, const int64_t *sizes, int n_sizes,
                          int64_t b)
{
    const char *what = wg_opt_name(kind);
    const int64_t d = sizes[0], c = sizes[n_sizes - 1];
    model a, m;
    model_make(&a, dt, sizes, n_sizes);
    model_make(&m, dt, sizes, n_sizes);
    wg_optim_config oc = wg_optim_defaults(kind);
    oc.lr = kind == WG_OPT_ADAM || kind == WG_OPT_ADAMW ? 1e-2 : 0.05;
    if (wd >= 0) oc.weight_decay = wd;
    wg_optim *oa = wg_optim_new(&oc, a.n, a.ps), *om = wg_optim_new(&oc, m.n, m.ps);
    CHECK(oa && om, "optim_new: %s", wg_last_error());
    wg_rng r;
    wg_rng_seed(&r, 5);
    size_t es = dt == WG_F32 ? 4 : 8;
    void *x = malloc((size_t)(b * d) * es);
    int *y = malloc(sizeof *y * (size_t)b);
    for (int64_t i = 0; i < b * d; i++) {
        double v = wg_rng_normal(&r);
        if (dt == WG_F32) ((float *)x)[i] = (float)v;
        else ((double *)x)[i] = v;
    }
    for (int64_t i = 0; i < b; i++) y[i] = (int)(wg_rng_uniform(&r) * (double)c);
    wg_tape *ta = wg_tape_new(), *tm = wg_tape_new();
    wg_set_num_threads(threads);
    for (int step = 0; step < STEPS && oa && om; step++) {
        const double lr = oc.lr * (1.0 - 0.2 * step); /* a schedule */
        wg_tape_reset(ta);
        wg_tensor *la = loss_of(ta, &a, dt, b, d, x, y);
        wg_optim_zero_grad(oa);
        CHECK(la && wg_backward(ta, la) == 0, "%s: backward: %s", what, wg_tape_error(ta));
        CHECK(wg_optim_step_lr(oa, lr) == 0, "%s: step: %s", what, wg_last_error());

        wg_tape_reset(tm);
        wg_tensor *lm = loss_of(tm, &m, dt, b, d, x, y);
        void *w1 = malloc(bytes_of(m.ps[0]));
        memcpy(w1, m.ps[0]->data, bytes_of(m.ps[0]));
        CHECK(wg_optim_backward_begin(om, tm, lr) == 0, "%s: begin: %s", what, wg_last_error());
        CHECK(lm && wg_backward(tm, lm) == 0, "%s: backward: %s", what, wg_tape_error(tm));
        /* W1 stepped during backward, before end, and its gradient is zero */
        CHECK(memcmp(w1, m.ps[0]->data, bytes_of(m.ps[0])) != 0 && gget(m.ps[0], 0) == 0 && om->step[0] == step + 1,
              "%s: W1 must step in backward (step count %lld)", what, (long long)om->step[0]);
        free(w1);
        CHECK(wg_optim_backward_end(om) == 0, "%s: end: %s", what, wg_last_error());
        CHECK(wg_item(la) == wg_item(lm), "%s %s, %d thread(s), step %d: losses %.17g and %.17g", what,
              dname(dt), threads, step, wg_item(la), wg_item(lm));
        for (size_t k = 0; k < a.n; k++) {
            wg_param *pa = a.ps[k], *pm = m.ps[k];
            CHECK(memcmp(pa->data, pm->data, bytes_of(pa)) == 0, "%s wd %g %s, %d thread(s), step %d: params[%zu] "
                  "differs from the ordinary step", what, oc.weight_decay, dname(dt), threads, step, k);
            CHECK(oa->step[k] == om->step[k], "%s: params[%zu] step count %lld, ordinary %lld", what, k,
                  (long long)om->step[k], (long long)oa->step[k]);
            for (int j = 0; j < 2; j++) {
                void *ba = j ? oa->buf2[k] : oa->buf1[k], *bm = j ? om->buf2[k] : om->buf1[k];
                CHECK((!ba && !bm) || (ba && bm && memcmp(ba, bm, bytes_of(pa)) == 0),
                      "%s: params[%zu]'s state buffer %d differs", what, k, j + 1);
            }
            size_t nonzero = 0;
            for (size_t i = 0; i < pm->numel; i++) nonzero += gget(pm, i) != 0;
            CHECK(nonzero == 0, "%s: end left %zu nonzero gradient entries in params[%zu]", what, nonzero, k);
        }
    }
    wg_set_num_threads(1);
    wg_tape_free(ta);
    wg_tape_free(tm);
    wg_optim_free(oa);
    wg_optim_free(om);
    model_free(&a);
    model_free(&m);
    free(x);
    free(y);
}

static void test_same_as_ordinary(void)
{
    const int64_t small[] = {N_IN, N_H, N_OUT};
    for (int kind = WG_OPT_SGD; kind <= WG_OPT_ADAMW; kind++)
        for (int dt = 0; dt < 2; dt++) {
            compare_paths((wg_opt_kind)kind, -1, dt ? WG_F64 : WG_F32, 1, small, 3, BATCH); /* the kind's default */
            compare_paths((wg_opt_kind)kind, 0.02, dt ? WG_F64 : WG_F32, 1, small, 3, BATCH);
        }
    /* Two threads: the first layer's products are 2^23 multiply-adds, so
     * backward writes its weight gradient in two blocks of rows, one per
     * thread, and the step in backward runs on those blocks. */
    const int64_t wide[] = {512, 256, 10};
    compare_paths(WG_OPT_ADAM, -1, WG_F32, 2, wide, 3, 64);
    compare_paths(WG_OPT_SGD, 0.01, WG_F32, 2, wide, 3, 64);
}

/* What the step in backward does differently, and its errors. */
static void test_differences(void)
{
    const int64_t sizes[] = {N_IN, N_H, N_OUT};
    model md;
    model_make(&md, WG_F64, sizes, 3);
    wg_tape *t = wg_tape_new();
    wg_optim_config oc = wg_optim_defaults(WG_OPT_ADAM);
    oc.clip_norm = 1;
    wg_optim *o = wg_optim_new(&oc, md.n, md.ps);
    CHECK(wg_optim_backward_begin(o, t, 1e-3) == -1 && strstr(wg_last_error(), "clip_norm"),
          "clipping in backward must be refused: %s", wg_last_error());
    wg_optim_free(o);
    oc.clip_norm = 0;
    o = wg_optim_new(&oc, md.n, md.ps);
    CHECK(wg_optim_backward_end(o) == -1 && strstr(wg_last_error(), "no wg_optim_backward_begin"),
          "end without begin: %s", wg_last_error());
    CHECK(wg_optim_backward_begin(o, t, -1) == -1 && strstr(wg_last_error(), "learning rate"), "lr -1: %s",
          wg_last_error());
    CHECK(wg_optim_backward_begin(NULL, t, 1) == -1 && wg_optim_backward_begin(o, NULL, 1) == -1, "NULL handles");

    double x[BATCH * N_IN];
    int y[BATCH];
    wg_rng r;
    wg_rng_seed(&r, 3);
    for (int i = 0; i < BATCH * N_IN; i++) x[i] = wg_rng_normal(&r);
    for (int i = 0; i < BATCH; i++) y[i] = i % N_OUT;
    /* u is listed and never used: end steps it; give it a NaN gradient (a
     * stale one from outside), so end reports it and skips only it. */
    size_t ku = md.n - 1;
    void *before = malloc(bytes_of(md.u)), *w0 = malloc(bytes_of(md.ps[0]));
    memcpy(before, md.u->data, bytes_of(md.u));
    memcpy(w0, md.ps[0]->data, bytes_of(md.ps[0]));
    ((double *)md.u->grad)[1] = NAN;
    wg_tensor *l = loss_of(t, &md, WG_F64, BATCH, N_IN, x, y);
    CHECK(wg_optim_backward_begin(o, t, 1e-3) == 0, "begin: %s", wg_last_error());
    CHECK(wg_optim_backward_begin(o, t, 1e-3) == -1 && strstr(wg_last_error(), "twice"), "begin twice: %s",
          wg_last_error());
    CHECK(l && wg_backward(t, l) == 0, "backward: %s", wg_tape_error(t));
    char name[32];
    snprintf(name, sizeof name, "params[%zu]", ku);
    CHECK(wg_optim_backward_end(o) == -1 && strstr(wg_last_error(), "non-finite") && strstr(wg_last_error(), name),
          "a NaN gradient in %s must be reported by end: %s", name, wg_last_error());
    CHECK(memcmp(before, md.u->data, bytes_of(md.u)) == 0 && o->step[ku] == 0,
          "the parameter with the NaN gradient must not step (step count %lld)", (long long)o->step[ku]);
    CHECK(memcmp(w0, md.ps[0]->data, bytes_of(md.ps[0])) != 0 && o->step[0] == 1,
          "the finite parameters step (W1 step count %lld)", (long long)o->step[0]);
    CHECK(gget(md.u, 1) == 0, "the skipped parameter's gradient is zeroed");

    /* A failed backward (a bad seed): nothing more steps, gradients zeroed. */
    wg_tape_reset(t);
    l = loss_of(t, &md, WG_F64, BATCH, N_IN, x, y);
    memcpy(w0, md.ps[0]->data, bytes_of(md.ps[0]));
    CHECK(wg_optim_backward_begin(o, t, 1e-3) == 0, "begin: %s", wg_last_error());
    CHECK(wg_backward_seed(t, l, wg_full(t, WG_F64, 1, (int64_t[]){3}, 0)) == -1, "a wrong seed must fail");
    CHECK(wg_optim_backward_end(o) == -1 && strstr(wg_last_error(), "backward pass failed"),
          "end after a failed backward: %s", wg_last_error());
    CHECK(memcmp(w0, md.ps[0]->data, bytes_of(md.ps[0])) == 0 && o->step[0] == 1, "nothing steps after a failed backward");
    free(before);
    free(w0);
    wg_optim_free(o);
    wg_tape_free(t);
    model_free(&md);
}

/* The ordinary Adam step, f32 and f64, against Algorithm 1 written out here
 * with the kernel's order of operations (in float for f32), bit for bit,
 * over enough elements for the vector loop and its tail. */
#define ADAM_REF(T, SQRT)                                                                                  \
    static void adam_ref_##T(size_t n, int64_t t, double lr, double b1, double b2, double eps, double wd, T *w, \
                             const T *g, T *m, T *v)                                                       \
    {                                                                                                      \
        const T c1 = (T)(1.0 - pow(b1, (double)t)), c2 = (T)(1.0 - pow(b2, (double)t));                    \
        const T B1 = (T)b1, B2 = (T)b2, a = (T)lr, e = (T)eps, decay = (T)(1.0 - lr * wd);                 \
        for (size_t i = 0; i < n; i++) {                                                                   \
            if (wd != 0) w[i] = w[i] * decay;                                                              \
            m[i] = B1 * m[i] + (1 - B1) * g[i];                                                            \
            v[i] = B2 * v[i] + (1 - B2) * g[i] * g[i];                                                     \
            T mhat = m[i] / c1, vhat = v[i] / c2;                                                          \
            w[i] = w[i] - a * mhat / (SQRT(vhat) + e);                                                     \
        }                                                                                                  \
    }
ADAM_REF(float, sqrtf)
ADAM_REF(double, sqrt)

static void test_adam_bits(void)
{
    enum { N = 1037 };
    static float w[2][N], g[N], m[2][N], v[2][N];
    static double wd_[2][N], gd[N], md[2][N], vd[2][N];
    wg_rng r;
    wg_rng_seed(&r, 9);
    for (int i = 0; i < N; i++) w[0][i] = w[1][i] = (float)(wd_[0][i] = wd_[1][i] = wg_rng_normal(&r));
    size_t diff = 0;
    for (int t = 1; t <= 6; t++) {
        for (int i = 0; i < N; i++) gd[i] = g[i] = (float)(wg_rng_normal(&r) * (i % 5 ? 1e-3 : 3));
        const double wdk = t % 2 ? 0.01 : 0;
        wg_adam_step_f32(N, t, 1e-3 * t, 0.9, 0.999, 1e-8, wdk, w[0], g, m[0], v[0]);
        adam_ref_float(N, t, 1e-3 * t, 0.9, 0.999, 1e-8, wdk, w[1], g, m[1], v[1]);
        wg_adam_step_f64(N, t, 1e-3 * t, 0.9, 0.999, 1e-8, wdk, wd_[0], gd, md[0], vd[0]);
        adam_ref_double(N, t, 1e-3 * t, 0.9, 0.999, 1e-8, wdk, wd_[1], gd, md[1], vd[1]);
    }
    diff += memcmp(w[0], w[1], sizeof w[0]) != 0;
    diff += memcmp(m[0], m[1], sizeof m[0]) != 0;
    diff += memcmp(v[0], v[1], sizeof v[0]) != 0;
    diff += memcmp(wd_[0], wd_[1], sizeof wd_[0]) != 0;
    diff += memcmp(md[0], md[1], sizeof md[0]) != 0;
    diff += memcmp(vd[0], vd[1], sizeof vd[0]) != 0;
    CHECK(diff == 0, "Adam's kernel differs from Algorithm 1 in its order of operations in %zu of 6 arrays", diff);
}

int main(void)
{
    test_adam_bits();
    test_same_as_ordinary();
    test_differences();
    return wg_test_done("optim_backward");
}
