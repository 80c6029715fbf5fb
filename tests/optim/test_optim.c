/* optim: each optimiser's first steps against its formula, momentum and
 * Nesterov against plain gradient descent on an ill-conditioned quadratic,
 * Adam's bias correction at t = 1, AdamW, weight decay, clipping, the
 * schedules, early stopping and the perceptron rule. */
#include <stdlib.h>

#include "wengert.h"
#include "wg_parts.h" /* the private block note */
#include "wg_test.h"

static wg_param *vec(int64_t n, const double *v)
{
    wg_param *p = wg_param_new(WG_F64, 1, &n);
    for (int64_t i = 0; i < n; i++) ((double *)p->data)[i] = v[i];
    return p;
}

static void test_first_steps(void)
{
    const double lr = 0.1, mu = 0.9, w0[2] = {1, -2}, g1[2] = {0.5, -0.25}, g2[2] = {-0.3, 0.7};
    double w[2], dw[2] = {0, 0};
    /* SGD: w - lr g */
    memcpy(w, w0, sizeof w);
    wg_sgd_step_f64(2, lr, w, g1);
    for (int i = 0; i < 2; i++) CHECK_NEAR(w[i], w0[i] - lr * g1[i], 0);
    /* momentum, lecture 001: dw = -lr g + mu dw_prev; w += dw */
    memcpy(w, w0, sizeof w);
    wg_momentum_step_f64(2, lr, mu, w, g1, dw);
    wg_momentum_step_f64(2, lr, mu, w, g2, dw);
    for (int i = 0; i < 2; i++) {
        double d1 = -lr * g1[i], d2 = -lr * g2[i] + mu * d1;
        CHECK_NEAR(dw[i], d2, 1e-16);
        CHECK_NEAR(w[i], w0[i] + d1 + d2, 1e-15);
    }
    /* f32 kernels give the same numbers in float */
    float wf[2] = {1, -2}, gf[2] = {0.5f, -0.25f}, dwf[2] = {0, 0};
    wg_momentum_step_f32(2, 0.1f, 0.9f, wf, gf, dwf);
    for (int i = 0; i < 2; i++) CHECK_NEAR(wf[i], w0[i] - lr * g1[i], 1e-7);

    /* Adam at t = 1: m = (1-b1) g, v = (1-b2) g^2, so the corrected moments
     * are g and g^2 and the step is lr g / (|g| + eps): about lr * sign(g) */
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8, a = 1e-3;
    double m[2] = {0, 0}, v[2] = {0, 0};
    memcpy(w, w0, sizeof w);
    wg_adam_step_f64(2, 1, a, b1, b2, eps, 0, w, g1, m, v);
    for (int i = 0; i < 2; i++) {
        CHECK_NEAR(m[i], (1 - b1) * g1[i], 1e-17);
        CHECK_NEAR(v[i], (1 - b2) * g1[i] * g1[i], 1e-18);
        CHECK_NEAR(w[i], w0[i] - a * g1[i] / (fabs(g1[i]) + eps), 1e-15);
        CHECK(fabs(fabs(w[i] - w0[i]) - a) < 1e-9, "t=1 step is lr in size: %g", w[i] - w0[i]);
    }
    /* t = 2 against Algorithm 1 written out */
    double w1[2] = {w[0], w[1]};
    wg_adam_step_f64(2, 2, a, b1, b2, eps, 0, w, g2, m, v);
    for (int i = 0; i < 2; i++) {
        double mm = b1 * (1 - b1) * g1[i] + (1 - b1) * g2[i];
        double vv = b2 * (1 - b2) * g1[i] * g1[i] + (1 - b2) * g2[i] * g2[i];
        double mh = mm / (1 - b1 * b1), vh = vv / (1 - b2 * b2);
        CHECK_NEAR(w[i], w1[i] - a * mh / (sqrt(vh) + eps), 1e-15);
    }
    /* AdamW: decoupled decay first, w (1 - lr wd), then the Adam step */
    memcpy(w, w0, sizeof w);
    m[0] = m[1] = v[0] = v[1] = 0;
    wg_adam_step_f64(2, 1, a, b1, b2, eps, 0.01, w, g1, m, v);
    for (int i = 0; i < 2; i++) CHECK_NEAR(w[i], w0[i] * (1 - a * 0.01) - a * g1[i] / (fabs(g1[i]) + eps), 1e-15);
    float wa[2] = {1, -2}, ma[2] = {0, 0}, va[2] = {0, 0};
    wg_adam_step_f32(2, 1, a, b1, b2, eps, 0, wa, gf, ma, va);
    for (int i = 0; i < 2; i++) CHECK_NEAR(wa[i], w0[i] - a * g1[i] / (fabs(g1[i]) + eps), 1e-6);
}

/* E(w) = 1/2 sum_i a_i w_i^2: condition number 100 */
static const double A[2] = {1, 100};
static void quad_grad(const double *w, double *g)
{
    for (int i = 0; i < 2; i++) g[i] = A[i] * w[i];
}

/* Nesterov as lecture 004 writes it, theta and its look-ahead gradient,
 * against the kernel that stores the look-ahead point. */
static void test_nesterov_form(void)
{
    const double lr = 0.005, mu = 0.8;
    double th[2] = {1, 1}, dth[2] = {0, 0}, w[2] = {1, 1}, dw[2] = {0, 0}, g[2];
    for (int step = 0; step < 50; step++) {
        double look[2] = {th[0] + mu * dth[0], th[1] + mu * dth[1]};
        quad_grad(look, g);
        for (int i = 0; i < 2; i++) {
            dth[i] = mu * dth[i] - lr * g[i];
            th[i] += dth[i];
        }
        quad_grad(w, g); /* one gradient, at the stored point */
        wg_nesterov_step_f64(2, lr, mu, w, g, dw);
        for (int i = 0; i < 2; i++) {
            CHECK_NEAR(dw[i], dth[i], 1e-14);
            CHECK_NEAR(w[i] - mu * dw[i], th[i], 1e-14); /* theta = w - mu dw */
        }
    }
}

/* Iterations of the optimiser object until |w| < tol on the quadratic. */
static int iterations(wg_opt_kind kind, double lr)
{
    double w0[2] = {1, 1};
    wg_param *p = vec(2, w0);
    wg_optim_config c = wg_optim_defaults(kind);
    c.lr = lr;
    wg_optim *o = wg_optim_new(&c, 1, &p);
    int it = -1;
    for (int k = 0; k < 100000; k++) {
        double *w = p->data;
        if (sqrt(w[0] * w[0] + w[1] * w[1]) < 1e-6) {
            it = k;
            break;
        }
        quad_grad(w, p->grad);
        wg_optim_step(o);
    }
    wg_optim_free(o);
    wg_param_free(p);
    return it;
}

static void test_ill_conditioned(void)
{
    /* the same step size for all: 1/L, the best stable choice for GD */
    int gd = iterations(WG_OPT_SGD, 0.01), mom = iterations(WG_OPT_MOMENTUM, 0.01),
        nes = iterations(WG_OPT_NESTEROV, 0.01);
    printf("ill-conditioned quadratic (kappa 100), iterations to |w| < 1e-6: GD %d, momentum %d, Nesterov %d\n", gd,
           mom, nes);
    CHECK(gd > 0 && mom > 0 && nes > 0, "all converge");
    CHECK(mom < gd, "momentum %d < GD %d", mom, gd);
    CHECK(nes < gd, "Nesterov %d < GD %d", nes, gd);
}

static void test_optim_object(void)
{
    const double w0[3] = {1, 2, 3};
    int64_t sh2[2] = {1, 3};
    wg_param *W = wg_param_new(WG_F64, 2, sh2), *b = vec(3, w0);
    memcpy(W->data, w0, sizeof w0);
    wg_param *ps[2] = {W, b};
    /* L2 decay through the gradient, biases skipped */
    wg_optim_config c = wg_optim_defaults(WG_OPT_SGD);
    c.lr = 0.5;
    c.weight_decay = 0.1;
    wg_optim *o = wg_optim_new(&c, 2, ps);
    CHECK(o && o->buf1[0] == NULL && o->buf2[0] == NULL, "SGD has no buffers");
    for (int i = 0; i < 3; i++) ((double *)W->grad)[i] = ((double *)b->grad)[i] = 1;
    CHECK(wg_optim_step(o) == 0, "step");
    for (int i = 0; i < 3; i++) {
        CHECK_NEAR(((double *)W->data)[i], w0[i] - 0.5 * (1 + 0.1 * w0[i]), 1e-15);
        CHECK_NEAR(((double *)b->data)[i], w0[i] - 0.5, 1e-15);
    }
    CHECK(o->step[0] == 1 && o->step[1] == 1, "steps counted");
    /* a non-finite gradient is refused, nothing changes */
    double before = ((double *)W->data)[0];
    ((double *)W->grad)[1] = NAN;
    CHECK(wg_optim_step(o) == -1, "NaN gradient refused");
    CHECK(strstr(wg_last_error(), "optim_step: non-finite gradient") != NULL, "message: %s", wg_last_error());
    CHECK(((double *)W->data)[0] == before && o->step[0] == 1, "unchanged");
    wg_optim_zero_grad(o);
    CHECK(((double *)W->grad)[1] == 0, "zero_grad");
    /* f64: a finite gradient whose sum of squares overflows is refused too */
    ((double *)W->grad)[0] = 1e200;
    CHECK(wg_optim_step(o) == -1 && strstr(wg_last_error(), "(norm inf)") != NULL, "huge f64 gradient: %s",
          wg_last_error());
    CHECK(((double *)W->data)[0] == before && o->step[0] == 1, "unchanged");
    wg_optim_free(o);
    /* f32 lists check finiteness without the norm (the vector body and the
     * tail of 37 elements, NaN and infinity), and refuse with its norm */
    {
        wg_param *q = wg_param_new(WG_F32, 1, (int64_t[]){37});
        wg_optim *oq = wg_optim_new(NULL, 1, &q);
        for (size_t at = 0; at < 37; at += 35)
            for (int bad = 0; bad < 2; bad++) {
                for (size_t i = 0; i < 37; i++) ((float *)q->grad)[i] = 0.5f;
                ((float *)q->grad)[at] = bad ? NAN : INFINITY;
                CHECK(wg_optim_step(oq) == -1 && strstr(wg_last_error(), bad ? "(norm nan)" : "(norm inf)") != NULL,
                      "f32 %s at %zu: %s", bad ? "NaN" : "inf", at, wg_last_error());
                CHECK(((float *)q->data)[0] == 0 && oq->step[0] == 0, "f32: the refused step changed something");
            }
        wg_optim_zero_grad(oq);
        ((float *)q->grad)[36] = 3e38f; /* finite, its square too (in double) */
        CHECK(wg_optim_step(oq) == 0 && oq->step[0] == 1, "f32: a large finite gradient steps: %s", wg_last_error());
        wg_optim_free(oq);
        wg_param_free(q);
    }

    /* Adam through the object: state is reachable as plain arrays */
    memcpy(W->data, w0, sizeof w0);
    wg_optim *ad = wg_optim_new(&(wg_optim_config){.kind = WG_OPT_ADAM, .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999,
                                                   .eps = 1e-8},
                                1, ps);
    for (int i = 0; i < 3; i++) ((double *)W->grad)[i] = 0.5 * (i + 1);
    wg_optim_step(ad);
    for (int i = 0; i < 3; i++) {
        double g = 0.5 * (i + 1);
        CHECK_NEAR(((double *)ad->buf1[0])[i], 0.1 * g, 1e-16);
        CHECK_NEAR(((double *)ad->buf2[0])[i], 0.001 * g * g, 1e-17);
        CHECK_NEAR(((double *)W->data)[i], w0[i] - 1e-3 * g / (g + 1e-8), 1e-15);
    }
    wg_optim_reset(ad);
    CHECK(ad->step[0] == 0 && ((double *)ad->buf1[0])[2] == 0, "reset");
    wg_optim_free(ad);

    /* clipping by the global norm */
    double g3[3] = {3, 0, 4};
    memcpy(W->grad, g3, sizeof g3);
    memset(b->grad, 0, sizeof g3);
    CHECK_NEAR(wg_clip_grad_norm(2, ps, 1.0), 5, 1e-15);
    CHECK_NEAR(((double *)W->grad)[0], 0.6, 1e-15);
    CHECK_NEAR(((double *)W->grad)[2], 0.8, 1e-15);
    CHECK_NEAR(wg_grad_norm(2, ps), 1, 1e-15);
    CHECK_NEAR(wg_clip_grad_norm(2, ps, 10.0), 1, 1e-15); /* below the limit: unchanged */
    CHECK_NEAR(((double *)W->grad)[0], 0.6, 1e-15);

    c = wg_optim_defaults(WG_OPT_SGD);
    c.lr = -1;
    CHECK(wg_optim_new(&c, 2, ps) == NULL, "negative lr");
    CHECK(strncmp(wg_last_error(), "optim_new: bad hyperparameters: lr -1", 37) == 0, "message: %s", wg_last_error());
    for (int k = 0; k <= WG_OPT_ADAMW; k++) CHECK(wg_opt_from_name(wg_opt_name((wg_opt_kind)k)) == k, "name %d", k);
    CHECK_NEAR(wg_optim_defaults(WG_OPT_ADAM).lr, 1e-3, 0);
    CHECK_NEAR(wg_optim_defaults(WG_OPT_ADAM).beta2, 0.999, 0);
    wg_param_free(W);
    wg_param_free(b);
}

static void test_schedules(void)
{
    wg_lr_schedule s = {.kind = WG_LR_CONSTANT, .lr0 = 0.1};
    CHECK_NEAR(wg_lr_at(&s, 1000), 0.1, 0);
    s = (wg_lr_schedule){.kind = WG_LR_STEP, .lr0 = 0.1, .gamma = 0.5, .step_size = 10};
    CHECK_NEAR(wg_lr_at(&s, 9), 0.1, 0);
    CHECK_NEAR(wg_lr_at(&s, 10), 0.05, 1e-17);
    CHECK_NEAR(wg_lr_at(&s, 25), 0.025, 1e-17);
    s = (wg_lr_schedule){.kind = WG_LR_EXPONENTIAL, .lr0 = 0.1, .gamma = 0.9};
    CHECK_NEAR(wg_lr_at(&s, 3), 0.1 * 0.9 * 0.9 * 0.9, 1e-16);
    s = (wg_lr_schedule){.kind = WG_LR_INV_T, .lr0 = 0.1, .t0 = 20};
    CHECK_NEAR(wg_lr_at(&s, 0), 0.1, 0);
    CHECK_NEAR(wg_lr_at(&s, 20), 0.05, 1e-17);
    CHECK_NEAR(wg_lr_at(&s, 60), 0.1 / 4, 1e-17);
    s = (wg_lr_schedule){.kind = WG_LR_COSINE, .lr0 = 0.1, .t_max = 100, .lr_min = 0.001};
    CHECK_NEAR(wg_lr_at(&s, 0), 0.1, 1e-17);
    CHECK_NEAR(wg_lr_at(&s, 50), 0.001 + 0.099 * 0.5, 1e-16);
    CHECK_NEAR(wg_lr_at(&s, 100), 0.001, 1e-17);
    CHECK_NEAR(wg_lr_at(&s, 500), 0.001, 1e-17);
}

static void test_early_stopping(void)
{
    const double w0 = 1;
    wg_param *p = vec(1, &w0);
    wg_early_stop *e = wg_early_stop_new(1, &p, 3, 0.0);
    const double losses[] = {5, 4, 3, 3.5, 3.2, 3.1, 2.0};
    int stopped_at = -1;
    for (int k = 0; k < 7; k++) {
        ((double *)p->data)[0] = 10 + k; /* the "parameters" after epoch k */
        if (wg_early_stop_update(e, losses[k])) {
            stopped_at = k;
            break;
        }
    }
    CHECK(stopped_at == 5, "stops after 3 reports without improvement: at %d", stopped_at);
    CHECK(e->best_epoch == 2 && e->best == 3, "best at report 2");
    CHECK(wg_early_stop_restore(e) == 0 && ((double *)p->data)[0] == 12, "restored the best parameters: %g",
          ((double *)p->data)[0]);
    wg_early_stop_free(e);
    /* NaN never improves; min_delta needs a real improvement */
    e = wg_early_stop_new(1, &p, 2, 0.1);
    wg_early_stop_update(e, 1.0);
    CHECK(!wg_early_stop_update(e, NAN), "NaN is one bad report");
    CHECK(wg_early_stop_update(e, 0.95), "an improvement smaller than min_delta is none");
    wg_early_stop_free(e);
    CHECK(wg_early_stop_new(1, &p, 0, 0) == NULL, "patience 0 rejected");
    wg_param_free(p);
}

/* The perceptron rule on AND (with a bias input) converges. */
static void test_perceptron(void)
{
    double w[3] = {0, 0, 0};
    const double x[2] = {2, -1};
    wg_perceptron_rule(2, 0.5, 1, 0, w, x);
    CHECK(w[0] == 1 && w[1] == -0.5, "w + alpha (y - y') x");
    wg_perceptron_rule(2, 0.5, 1, 1, w, x);
    CHECK(w[0] == 1 && w[1] == -0.5, "no change when correct");
    w[0] = w[1] = 0;
    const double X[4][3] = {{0, 0, 1}, {0, 1, 1}, {1, 0, 1}, {1, 1, 1}}, Y[4] = {0, 0, 0, 1};
    int epochs = 0, errors = 1;
    while (errors && epochs < 100) {
        errors = 0;
        for (int i = 0; i < 4; i++) {
            double a = w[0] * X[i][0] + w[1] * X[i][1] + w[2] * X[i][2], yp = a >= 0 ? 1 : 0;
            errors += yp != Y[i];
            wg_perceptron_rule(3, 1.0, Y[i], yp, w, X[i]);
        }
        epochs++;
    }
    CHECK(errors == 0, "perceptron learns AND (%d epochs)", epochs);
}

/* A parameter whose gradient a split backward wrote (grad_blocks = 2 or 3)
 * is stepped, zeroed and measured in blocks of rows on as many threads: the
 * result must equal the one-thread result, bit for bit for the elementwise
 * steps and to 1e-12 for the norm (its sums run in another order).  The
 * shape has a row count that does not divide evenly (200 rows: blocks of
 * 112 + 88 and 80 + 80 + 40) and a row length that is not a multiple of 16. */
static void test_row_blocks(void)
{
    const int64_t shape[2] = {200, 333};
    for (int kind = WG_OPT_SGD; kind <= WG_OPT_ADAMW; kind++) {
        for (int dt = 0; dt < 2; dt++) {
            wg_param *p[4];
            double norm[4];
            for (int v = 0; v < 4; v++) { /* blocks 1 (reference), 2, 3, and 2 on one thread */
                p[v] = wg_param_new(dt ? WG_F64 : WG_F32, 2, shape);
                wg_rng r;
                wg_rng_seed(&r, 77);
                for (size_t i = 0; i < p[v]->numel; i++) {
                    double w = wg_rng_normal(&r), g = wg_rng_normal(&r);
                    if (dt) ((double *)p[v]->data)[i] = w, ((double *)p[v]->grad)[i] = g;
                    else ((float *)p[v]->data)[i] = (float)w, ((float *)p[v]->grad)[i] = (float)g;
                }
                wg_parts_note(p[v], v == 0 ? 1 : v == 1 ? 2 : v == 2 ? 3 : 2);
                wg_set_num_threads(v == 3 ? 1 : v == 0 ? 1 : v + 1);
                wg_optim_config oc = wg_optim_defaults((wg_opt_kind)kind);
                wg_optim *o = wg_optim_new(&oc, 1, &p[v]);
                CHECK(o != NULL, "optim_new: %s", wg_last_error());
                if (!o) return;
                norm[v] = wg_grad_norm(1, &p[v]);
                for (int step = 0; step < 3; step++) CHECK(wg_optim_step(o) == 0, "step: %s", wg_last_error());
                wg_optim_free(o);
            }
            size_t bytes = p[0]->numel * (dt ? 8 : 4);
            for (int v = 1; v < 4; v++) {
                CHECK(memcmp(p[v]->data, p[0]->data, bytes) == 0, "%s %s, %d blocks on %d threads: weights differ "
                      "from the one-thread step", wg_opt_name((wg_opt_kind)kind), dt ? "f64" : "f32", p[v]->priv->grad_blocks,
                      v == 3 ? 1 : v + 1);
                CHECK(fabs(norm[v] - norm[0]) <= 1e-12 * norm[0], "%s: norm %.17g in blocks, %.17g in one",
                      dt ? "f64" : "f32", norm[v], norm[0]);
            }
            /* A non-finite entry in the last block: the blocked step refuses,
             * and nothing changes (weights, state, step count). */
            for (int v = 1; v < 3; v++) {
                wg_set_num_threads(v + 1);
                wg_optim_config oc = wg_optim_defaults((wg_opt_kind)kind);
                wg_optim *o = wg_optim_new(&oc, 1, &p[v]);
                size_t last = p[v]->numel - 1;
                if (dt) ((double *)p[v]->grad)[last] = NAN;
                else ((float *)p[v]->grad)[last] = INFINITY;
                void *before = malloc(bytes);
                memcpy(before, p[v]->data, bytes);
                CHECK(o && wg_optim_step(o) == -1 && o->step[0] == 0, "%s: a non-finite gradient in block %d must be "
                      "refused", wg_opt_name((wg_opt_kind)kind), p[v]->priv->grad_blocks - 1);
                CHECK(memcmp(before, p[v]->data, bytes) == 0, "%s: the refused step changed the weights",
                      wg_opt_name((wg_opt_kind)kind));
                free(before);
                wg_optim_free(o);
            }
            /* zero_grad in blocks clears every element */
            for (int v = 1; v < 3; v++) {
                wg_set_num_threads(v + 1);
                wg_param_zero_grad(p[v]);
                size_t nonzero = 0;
                for (size_t i = 0; i < p[v]->numel; i++)
                    nonzero += dt ? ((double *)p[v]->grad)[i] != 0 : ((float *)p[v]->grad)[i] != 0;
                CHECK(nonzero == 0, "zero_grad in %d blocks left %zu of %zu entries", p[v]->priv->grad_blocks, nonzero,
                      p[v]->numel);
            }
            for (int v = 0; v < 4; v++) wg_param_free(p[v]);
        }
    }
    wg_set_num_threads(1);
}

int main(void)
{
    test_first_steps();
    test_nesterov_form();
    test_ill_conditioned();
    test_optim_object();
    test_schedules();
    test_early_stopping();
    test_perceptron();
    test_row_blocks();
    return wg_test_done("optim");
}
