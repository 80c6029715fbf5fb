/* Losses: lecture 003's cross-entropy table, lecture 000's "1.22" (base 10)
 * against the natural log's 2.82, values against formulas written out in C,
 * f64 gradchecks of every loss (ordinary inputs and logits of +-1000), and
 * the error messages. */
#include "nn_test_util.h"

#define PI 3.14159265358979323846

static const char *two_places(double v, char *buf)
{
    snprintf(buf, 16, "%.2f", v);
    return buf;
}

/* The lecture prints two places, mostly rounded but 1.386 as "1.38"
 * (truncated): accept either reading of the printed number, nothing else. */
static int matches_printed(double v, const char *printed)
{
    char r[16], tr[16];
    snprintf(r, sizeof r, "%.2f", v);
    snprintf(tr, sizeof tr, "%.2f", floor(v * 100) / 100);
    return strcmp(r, printed) == 0 || strcmp(tr, printed) == 0;
}

static void test_lecture_tables(void)
{
    wg_tape *t = wg_tape_new();
    /* lecture 003: C = 4, four samples, scores s, label index */
    static const double s[16] = {3, 1, -1, -1, 3, 3, 1, 0, 1, 1, 1, 1, 3, 2, 3, -1};
    static const int labels[4] = {0, 1, 2, 3};
    static const char *want[4] = {"0.16", "0.78", "1.38", "4.87"};
    wg_tensor *z = wg_tensor_new(t, WG_F64, 2, (int64_t[]){4, 4}, s, false);
    wg_tensor *per = wg_nn_softmax_cross_entropy_idx(t, z, labels, WG_REDUCE_NONE);
    double oh[16] = {0};
    CHECK(wg_one_hot(WG_F64, labels, 4, 4, oh) == 0, "one_hot");
    wg_tensor *y = wg_tensor_new(t, WG_F64, 2, (int64_t[]){4, 4}, oh, false);
    wg_tensor *per_oh = wg_nn_softmax_cross_entropy(t, z, y, WG_REDUCE_NONE);
    wg_tensor *per_p = wg_nn_cross_entropy(t, wg_nn_softmax(t, z, -1), y, WG_REDUCE_NONE);
    wg_tensor *per_pi = wg_nn_cross_entropy_idx(t, wg_nn_softmax(t, z, -1), labels, WG_REDUCE_NONE);
    CHECK(per && wg_ndim(per) == 1 && wg_dim(per, 0) == 4, "per-sample losses [4]: %s", wg_tape_error(t));
    double sum = 0;
    char b[16];
    CHECK_STR(two_places(wg_get(per, 2), b), "1.39"); /* -ln(1/4) = 1.386, printed 1.38 in the lecture */
    for (int i = 0; i < 4; i++) {
        wg_tensor *all[4] = {per, per_oh, per_p, per_pi};
        for (int k = 0; k < 4; k++)
            CHECK(matches_printed(wg_get(all[k], i), want[i]), "sample %d (form %d): CE %s, lecture %s", i + 1, k,
                  two_places(wg_get(all[k], i), b), want[i]);
        /* and against -log softmax written out */
        double se = 0;
        for (int c = 0; c < 4; c++) se += exp(s[4 * i + c]);
        CHECK_NEAR(wg_get(per, i), -(s[4 * i + labels[i]] - log(se)), 1e-14);
        sum += wg_get(per, i);
    }
    CHECK_NEAR(wg_item(wg_nn_softmax_cross_entropy_idx(t, z, labels, WG_REDUCE_MEAN)), sum / 4, 1e-15);
    CHECK_NEAR(wg_item(wg_nn_softmax_cross_entropy_idx(t, z, labels, WG_REDUCE_SUM)), sum, 1e-14);

    /* lecture 000: banana is the true class; the prediction 0.0596 rounds to
     * 0.06.  The lecture's -log(0.06) = 1.22 is base 10; natural logs (what
     * the library uses) give -ln(0.0596) = 2.82. */
    static const double fruit[4] = {-3.44, 1.16, -0.81, 3.91};
    wg_tape_reset(t);
    wg_tensor *f = wg_tensor_new(t, WG_F64, 1, (int64_t[]){4}, fruit, false);
    wg_tensor *ce = wg_nn_softmax_cross_entropy_idx(t, f, (int[]){1}, WG_REDUCE_MEAN);
    CHECK_STR(two_places(wg_item(ce), b), "2.82");
    wg_tensor *lg = wg_neg(t, wg_log(t, wg_const(t, 0.06)));
    CHECK_STR(two_places(wg_item(lg) / log(10.0), b), "1.22"); /* the lecture's number is base 10 */
    CHECK_STR(two_places(wg_item(lg), b), "2.81");               /* natural log of the rounded 0.06 */
    wg_tape_free(t);
}

/* ---- gradchecks ----------------------------------------------------------- */

typedef struct {
    int which;
    wg_reduction red;
    const int *labels;
} loss_ctx;

static double CW[3] = {0.5, 2.0, 1.25};

static wg_tensor *loss_f(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    const loss_ctx *c = ctx;
    switch (c->which) {
    case 0: return wg_nn_mse(t, in[0], in[1], c->red);
    case 1: return wg_nn_l1(t, in[0], in[1], c->red);
    case 2: return wg_nn_sum_squares(t, in[0], in[1]);
    case 3: return wg_nn_bce(t, wg_nn_sigmoid(t, in[0]), wg_nn_sigmoid(t, in[1]), c->red);
    case 4: return wg_nn_bce_logits(t, in[0], wg_nn_sigmoid(t, in[1]), c->red);
    case 5: return wg_nn_softmax_cross_entropy(t, in[0], wg_nn_softmax(t, in[1], -1), c->red);
    case 6: return wg_nn_softmax_cross_entropy_idx(t, in[0], c->labels, c->red);
    case 7: return wg_nn_cross_entropy(t, wg_nn_softmax(t, in[0], -1), wg_nn_softmax(t, in[1], -1), c->red);
    case 8: return wg_nn_cross_entropy_idx(t, wg_nn_softmax(t, in[0], -1), c->labels, c->red);
    case 9: {
        wg_ce_opts o = {c->red, CW, 0.1};
        return wg_nn_softmax_cross_entropy_ex(t, in[0], NULL, c->labels, &o);
    }
    case 10: return wg_nn_perceptron_criterion(t, in[0], wg_nn_sign(t, in[1]), c->red);
    case 11: return wg_nn_soft_dice(t, wg_nn_softmax(t, in[0], -1), wg_nn_softmax(t, in[1], -1), 1e-3);
    case 12: return wg_nn_soft_jaccard(t, wg_nn_softmax(t, in[0], -1), wg_nn_softmax(t, in[1], -1), 1e-3);
    case 13: return wg_nn_gaussian_nll(t, in[0], in[1], wg_mul(t, in[0], 0.5), c->red);
    case 14: return wg_nn_laplace_nll(t, in[0], in[1], wg_mul(t, in[1], -0.5), c->red);
    default: return NULL;
    }
}

static const char *const loss_names[] = {"mse", "l1", "sum_squares", "bce", "bce_logits", "softmax_ce",
                                         "softmax_ce_idx", "ce", "ce_idx", "softmax_ce_ex", "perceptron",
                                         "soft_dice", "soft_jaccard", "gaussian_nll", "laplace_nll"};
enum { N_LOSS = sizeof loss_names / sizeof *loss_names };

static void test_gradchecks(void)
{
    wg_rng r;
    wg_rng_seed(&r, 11);
    static const int labels[4] = {2, 0, 1, 2};
    int64_t sh[2] = {4, 3};
    wg_param *a = param_randn(&r, 2, sh, 1.3), *b = param_randn(&r, 2, sh, 1.3);
    /* L1 and the perceptron have kinks at a == b and a*b == 0: keep away */
    for (size_t i = 0; i < a->numel; i++) {
        double *pa = a->data, *pb = b->data;
        if (fabs(pa[i] - pb[i]) < 0.1) pb[i] += 0.3;
        if (fabs(pa[i]) < 0.1) pa[i] += 0.3;
    }
    wg_param *ins[2] = {a, b};
    for (int w = 0; w < N_LOSS; w++)
        for (int red = 0; red < 3; red++) {
            loss_ctx c = {w, (wg_reduction)red, labels};
            char label[64];
            snprintf(label, sizeof label, "%s, reduction %d", loss_names[w], red);
            GRADCHECK(label, loss_f, &c, 2, ins);
        }
    /* logits of +-1000 for the losses that start from logits: finite values,
     * finite gradients, and the gradcheck */
    static const double big[12] = {1000, -1000, 0, -1000, 1000, 999, 1000, 1000, -1000, -1000, -1000, -1000};
    static const double tgt[12] = {0.3, -2, 1, 1000, -1000, 0.5, 2, -1, 0.25, 0.1, 0.2, 0.3};
    wg_param *pb1 = param_from(WG_F64, 2, sh, big), *pb2 = param_from(WG_F64, 2, sh, tgt);
    wg_param *ext[2] = {pb1, pb2};
    /* The NLLs take (mu, raw scale): moderate locations, raw scales all +1000
     * or all -1000 (scale 1e-6: a loss of ~1e10, which the finite
     * differences can only resolve when no element has a tiny gradient). */
    static const double mu_mod[12] = {0.3, -2, 1, 0.5, -0.7, 0.2, 1.5, -1, 0.25, 0.1, 0.2, 0.3};
    double hi[12], lo[12];
    for (int i = 0; i < 12; i++) hi[i] = 1000, lo[i] = -1000;
    wg_param *pm = param_from(WG_F64, 2, sh, mu_mod), *phi = param_from(WG_F64, 2, sh, hi),
             *plo = param_from(WG_F64, 2, sh, lo);
    wg_param *nll_hi[2] = {pm, phi}, *nll_lo[2] = {pm, plo};
    /* the regression losses: predictions of +-1000 a moderate distance from
     * their targets (a huge residual would only test the finite differences) */
    double near[12];
    for (int i = 0; i < 12; i++) near[i] = big[i] + mu_mod[i];
    wg_param *pn = param_from(WG_F64, 2, sh, near), *reg[2] = {pb1, pn};
    static const int ext_loss[] = {0, 1, 2, 4, 5, 6, 9, 11, 12, 13, 14, 13, 14};
    wg_tape *t = wg_tape_new();
    for (size_t k = 0; k < sizeof ext_loss / sizeof *ext_loss; k++) {
        loss_ctx c = {ext_loss[k], WG_REDUCE_MEAN, labels};
        wg_param **in = ext_loss[k] < 3 ? reg : ext_loss[k] < 13 ? ext : k < 11 ? nll_hi : nll_lo;
        char label[64];
        snprintf(label, sizeof label, "%s at inputs of +-1000", loss_names[ext_loss[k]]);
        GRADCHECK(label, loss_f, &c, 2, in);
        wg_tape_reset(t);
        wg_tensor *l0 = wg_use(t, in[0]), *l1 = wg_use(t, in[1]);
        wg_tensor *L = loss_f(t, (wg_tensor *[]){l0, l1}, &c);
        CHECK(L && isfinite(wg_item(L)), "%s finite at +-1000", label);
        wg_param_zero_grad(in[0]);
        wg_param_zero_grad(in[1]);
        wg_backward(t, L);
        for (size_t i = 0; i < 12; i++)
            CHECK(isfinite(((double *)in[0]->grad)[i]) && isfinite(((double *)in[1]->grad)[i]), "%s: finite gradient",
                  label);
    }
    wg_tape_free(t);
    wg_param_free(pm);
    wg_param_free(pn);
    wg_param_free(phi);
    wg_param_free(plo);
    wg_param_free(pb1);
    wg_param_free(pb2);
    wg_param_free(a);
    wg_param_free(b);
}

/* ---- values against formulas -------------------------------------------- */

static double sp(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

static void test_values(void)
{
    wg_tape *t = wg_tape_new();
    static const double y[4] = {0.5, -1, 2, 0.25}, tg[4] = {1, -1.5, 0, 0.75};
    wg_tensor *Y = wg_tensor_new(t, WG_F64, 1, (int64_t[]){4}, y, false);
    wg_tensor *T = wg_tensor_new(t, WG_F64, 1, (int64_t[]){4}, tg, false);
    double ss = 0, sa = 0;
    for (int i = 0; i < 4; i++) {
        ss += (y[i] - tg[i]) * (y[i] - tg[i]);
        sa += fabs(y[i] - tg[i]);
    }
    CHECK_NEAR(wg_item(wg_nn_sum_squares(t, Y, T)), 0.5 * ss, 1e-15);
    CHECK_NEAR(wg_item(wg_nn_mse(t, Y, T, WG_REDUCE_MEAN)), ss / 4, 1e-15);
    CHECK_NEAR(wg_item(wg_nn_mse(t, Y, T, WG_REDUCE_SUM)), ss, 1e-15);
    CHECK_NEAR(wg_item(wg_nn_l1(t, Y, T, WG_REDUCE_MEAN)), sa / 4, 1e-15);
    CHECK_NEAR(wg_get(wg_nn_l1(t, Y, T, WG_REDUCE_NONE), 2), 2.0, 0);

    /* BCE on probabilities and from logits agree; extreme logits are exact */
    static const double zz[4] = {-3, -0.2, 0.7, 5}, yy[4] = {0, 1, 1, 0};
    wg_tensor *Z = wg_tensor_new(t, WG_F64, 1, (int64_t[]){4}, zz, false);
    wg_tensor *YY = wg_tensor_new(t, WG_F64, 1, (int64_t[]){4}, yy, false);
    double bce = 0;
    for (int i = 0; i < 4; i++) {
        double p = 1 / (1 + exp(-zz[i]));
        bce += -(yy[i] * log(p) + (1 - yy[i]) * log(1 - p));
    }
    CHECK_NEAR(wg_item(wg_nn_bce_logits(t, Z, YY, WG_REDUCE_SUM)), bce, 1e-13);
    CHECK_NEAR(wg_item(wg_nn_bce(t, wg_nn_sigmoid(t, Z), YY, WG_REDUCE_SUM)), bce, 1e-13);
    static const double ze[3] = {1000, 1000, -1000}, ye[3] = {0, 1, 1};
    wg_tensor *ZE = wg_tensor_new(t, WG_F64, 1, (int64_t[]){3}, ze, false);
    wg_tensor *YE = wg_tensor_new(t, WG_F64, 1, (int64_t[]){3}, ye, false);
    wg_tensor *be = wg_nn_bce_logits(t, ZE, YE, WG_REDUCE_NONE);
    CHECK_NEAR(wg_get(be, 0), 1000, 0);
    CHECK_NEAR(wg_get(be, 1), 0, 0);
    CHECK_NEAR(wg_get(be, 2), 1000, 0);

    /* Gaussian and Laplace NLL with the scale through softplus */
    static const double mu[3] = {0.2, -1, 3}, raw[3] = {-0.5, 0.3, 2}, yv[3] = {1, -2, 2.5};
    wg_tensor *MU = wg_tensor_new(t, WG_F64, 1, (int64_t[]){3}, mu, false);
    wg_tensor *RA = wg_tensor_new(t, WG_F64, 1, (int64_t[]){3}, raw, false);
    wg_tensor *YV = wg_tensor_new(t, WG_F64, 1, (int64_t[]){3}, yv, false);
    double g = 0, l = 0;
    for (int i = 0; i < 3; i++) {
        double sc = sp(raw[i]) + WG_NN_MIN_SCALE, d = yv[i] - mu[i];
        g += log(sc) + d * d / (2 * sc * sc) + 0.5 * log(2 * PI);
        l += log(2 * sc) + fabs(d) / sc;
    }
    CHECK_NEAR(wg_item(wg_nn_gaussian_nll(t, MU, RA, YV, WG_REDUCE_MEAN)), g / 3, 1e-14);
    CHECK_NEAR(wg_item(wg_nn_laplace_nll(t, MU, RA, YV, WG_REDUCE_SUM)), l, 1e-14);

    /* soft Dice and Jaccard (lecture 004) written out */
    static const double P[6] = {0.7, 0.2, 0.1, 0.1, 0.3, 0.6}, O[6] = {1, 0, 0, 0, 0, 1};
    wg_tensor *PP = wg_tensor_new(t, WG_F64, 2, (int64_t[]){2, 3}, P, false);
    wg_tensor *OO = wg_tensor_new(t, WG_F64, 2, (int64_t[]){2, 3}, O, false);
    double eps = 1e-3, J = 0, D = 0;
    for (int c = 0; c < 3; c++) {
        double al = P[c] * O[c] + P[3 + c] * O[3 + c], be_ = P[c] + O[c] + P[3 + c] + O[3 + c];
        J += (al + eps) / (be_ - al + eps);
        D += (2 * al + eps) / (be_ + eps);
    }
    CHECK_NEAR(wg_item(wg_nn_soft_jaccard(t, PP, OO, eps)), 1 - J / 3, 1e-15);
    CHECK_NEAR(wg_item(wg_nn_soft_dice(t, PP, OO, eps)), 1 - D / 3, 1e-15);
    /* perfect prediction: loss 0 */
    CHECK_NEAR(wg_item(wg_nn_soft_dice(t, OO, OO, eps)), 0, 1e-15);
    CHECK_NEAR(wg_item(wg_nn_soft_jaccard(t, OO, OO, eps)), 0, 1e-15);

    /* perceptron criterion: only misclassified samples count; a = 0 moves */
    wg_tape_reset(t);
    wg_tensor *A = wg_tensor_new(t, WG_F64, 1, (int64_t[]){4}, (double[]){2, -1, 0.5, 0}, true);
    wg_tensor *TT = wg_tensor_new(t, WG_F64, 1, (int64_t[]){4}, (double[]){1, 1, -1, -1}, false);
    wg_tensor *pc = wg_nn_perceptron_criterion(t, A, TT, WG_REDUCE_SUM);
    CHECK_NEAR(wg_item(pc), 1 + 0.5, 0);
    wg_backward(t, pc);
    CHECK_NEAR(wg_grad_get(A, 0), 0, 0);
    CHECK_NEAR(wg_grad_get(A, 1), -1, 0);
    CHECK_NEAR(wg_grad_get(A, 2), 1, 0);
    CHECK_NEAR(wg_grad_get(A, 3), 1, 0); /* on the boundary: gradient -y */
    wg_tape_free(t);
}

/* class weights and label smoothing against PyTorch's definitions written out */
static void test_ce_options(void)
{
    wg_tape *t = wg_tape_new();
    static const double s[9] = {1, 2, 0.5, -1, 0.3, 2, 0.1, 0.1, 3};
    static const int lab[3] = {1, 0, 2};
    wg_tensor *Z = wg_tensor_new(t, WG_F64, 2, (int64_t[]){3, 3}, s, false);
    double eps = 0.2, num = 0, den = 0, plain = 0, smooth = 0;
    for (int i = 0; i < 3; i++) {
        double m = fmax(s[3 * i], fmax(s[3 * i + 1], s[3 * i + 2])), se = 0;
        for (int c = 0; c < 3; c++) se += exp(s[3 * i + c] - m);
        double lse = m + log(se), wsum = 0, usum = 0;
        for (int c = 0; c < 3; c++) {
            wsum += CW[c] * -(s[3 * i + c] - lse);
            usum += -(s[3 * i + c] - lse);
        }
        double nll = -(s[3 * i + lab[i]] - lse);
        num += (1 - eps) * CW[lab[i]] * nll + eps / 3 * wsum;
        den += CW[lab[i]];
        plain += nll;
        smooth += (1 - eps) * nll + eps / 3 * usum;
    }
    wg_ce_opts o = {WG_REDUCE_MEAN, CW, eps};
    CHECK_NEAR(wg_item(wg_nn_softmax_cross_entropy_ex(t, Z, NULL, lab, &o)), num / den, 1e-14);
    o = (wg_ce_opts){WG_REDUCE_SUM, NULL, eps};
    CHECK_NEAR(wg_item(wg_nn_softmax_cross_entropy_ex(t, Z, NULL, lab, &o)), smooth, 1e-14);
    CHECK_NEAR(wg_item(wg_nn_softmax_cross_entropy_ex(t, Z, NULL, lab, NULL)), plain / 3, 1e-15);
    /* errors */
    CHECK(wg_nn_softmax_cross_entropy_ex(t, Z, Z, lab, NULL) == NULL, "both y and labels");
    CHECK_STR(wg_tape_error(t), "softmax_cross_entropy_ex: give exactly one of y and labels");
    wg_tape_reset(t);
    Z = wg_tensor_new(t, WG_F64, 2, (int64_t[]){3, 3}, s, false);
    CHECK(wg_nn_softmax_cross_entropy_idx(t, Z, (int[]){0, 3, 1}, WG_REDUCE_MEAN) == NULL, "label 3 of 3 classes");
    CHECK_STR(wg_tape_error(t), "softmax_cross_entropy_idx: label out of range: labels[1] = 3, scores are f64[3,3]");
    wg_tape_free(t);
}

/* ---- mixture density ------------------------------------------------------ */

typedef struct {
    wg_dist dist;
} mix_ctx;

static wg_tensor *mix_f(wg_tape *t, wg_tensor *const *in, void *ctx)
{
    return wg_nn_mixture_nll(t, in[0], in[1], in[2], in[3], ((mix_ctx *)ctx)->dist, WG_REDUCE_MEAN);
}

static void test_mixture(void)
{
    enum { N = 3, M = 2 };
    static const double lg[N * M] = {0.3, -0.2, 1.5, 0.1, -1, 2};
    static const double mu[N * M] = {0, 1, -1, 2, 0.5, -0.5};
    static const double rs[N * M] = {0.1, -0.4, 0.7, 0.2, -1, 1.2};
    static const double yv[N] = {0.4, 1.7, -0.2};
    wg_tape *t = wg_tape_new();
    for (int dist = 0; dist < 2; dist++) {
        wg_tape_reset(t);
        wg_tensor *L = wg_tensor_new(t, WG_F64, 2, (int64_t[]){N, M}, lg, false);
        wg_tensor *U = wg_tensor_new(t, WG_F64, 2, (int64_t[]){N, M}, mu, false);
        wg_tensor *S = wg_tensor_new(t, WG_F64, 2, (int64_t[]){N, M}, rs, false);
        wg_tensor *Y = wg_tensor_new(t, WG_F64, 1, (int64_t[]){N}, yv, false);
        double total = 0;
        for (int i = 0; i < N; i++) {
            double z = exp(lg[i * M]) + exp(lg[i * M + 1]), p = 0;
            for (int m = 0; m < M; m++) {
                double pi = exp(lg[i * M + m]) / z, sc = sp(rs[i * M + m]) + WG_NN_MIN_SCALE, d = yv[i] - mu[i * M + m];
                p += pi * (dist == WG_DIST_LAPLACE ? exp(-fabs(d) / sc) / (2 * sc)
                                                   : exp(-d * d / (2 * sc * sc)) / (sc * sqrt(2 * PI)));
            }
            total += -log(p);
        }
        wg_tensor *nll = wg_nn_mixture_nll(t, L, U, S, Y, (wg_dist)dist, WG_REDUCE_SUM);
        CHECK(nll != NULL, "mixture: %s", wg_tape_error(t));
        CHECK_NEAR(wg_item(nll), total, 1e-13);
        /* one component is the plain NLL */
        wg_tensor *one = wg_nn_mixture_nll(t, wg_slice(t, L, 1, 0, 1), wg_slice(t, U, 1, 0, 1),
                                           wg_slice(t, S, 1, 0, 1), Y, (wg_dist)dist, WG_REDUCE_MEAN);
        wg_tensor *Y1 = wg_reshape(t, Y, 2, (int64_t[]){N, 1});
        wg_tensor *plain = dist == WG_DIST_LAPLACE
                               ? wg_nn_laplace_nll(t, wg_slice(t, U, 1, 0, 1), wg_slice(t, S, 1, 0, 1), Y1, WG_REDUCE_MEAN)
                               : wg_nn_gaussian_nll(t, wg_slice(t, U, 1, 0, 1), wg_slice(t, S, 1, 0, 1), Y1, WG_REDUCE_MEAN);
        CHECK_NEAR(wg_item(one), wg_item(plain), 1e-14);
        /* gradcheck over logits, locations, raw scales and y */
        wg_param *ps[4] = {param_from(WG_F64, 2, (int64_t[]){N, M}, lg), param_from(WG_F64, 2, (int64_t[]){N, M}, mu),
                           param_from(WG_F64, 2, (int64_t[]){N, M}, rs), param_from(WG_F64, 1, (int64_t[]){N}, yv)};
        mix_ctx c = {(wg_dist)dist};
        GRADCHECK(dist ? "mixture of Gaussians" : "mixture of Laplace", mix_f, &c, 4, ps);
        /* logits of +-1000 and a tiny scale stay finite */
        ((double *)ps[0]->data)[0] = 1000;
        ((double *)ps[0]->data)[1] = -1000;
        ((double *)ps[2]->data)[2] = -1000;
        GRADCHECK("mixture at +-1000", mix_f, &c, 4, ps);
        for (int i = 0; i < 4; i++) wg_param_free(ps[i]);
    }
    wg_tape_reset(t);
    wg_tensor *L = wg_tensor_new(t, WG_F64, 2, (int64_t[]){N, M}, lg, false);
    wg_tensor *Y = wg_tensor_new(t, WG_F64, 1, (int64_t[]){N + 1}, NULL, false);
    CHECK(wg_nn_mixture_nll(t, L, L, L, Y, WG_DIST_GAUSSIAN, WG_REDUCE_MEAN) == NULL, "bad y shape");
    CHECK_STR(wg_tape_error(t), "mixture_nll: want logits, mu, raw_scale [N,M] and y [N] or [N,1]: logits is f64[3,2], "
                                "mu is f64[3,2], raw_scale is f64[3,2], y is f64[4]");
    wg_tape_free(t);
}

static void test_l2_penalty(void)
{
    wg_param *W = param_from(WG_F64, 2, (int64_t[]){2, 2}, (double[]){1, -2, 3, 0.5});
    wg_param *b = param_from(WG_F64, 1, (int64_t[]){2}, (double[]){4, 5});
    wg_param *ps[2] = {W, b};
    wg_tape *t = wg_tape_new();
    wg_tensor *pen = wg_nn_l2_penalty(t, 2, ps, 0.1, false);
    CHECK_NEAR(wg_item(pen), 0.05 * (1 + 4 + 9 + 0.25), 1e-15);
    wg_backward(t, pen);
    for (int i = 0; i < 4; i++) CHECK_NEAR(((double *)W->grad)[i], 0.1 * ((double *)W->data)[i], 1e-16);
    CHECK_NEAR(((double *)b->grad)[0], 0, 0);
    wg_tape_reset(t);
    CHECK_NEAR(wg_item(wg_nn_l2_penalty(t, 2, ps, 0.1, true)), 0.05 * (1 + 4 + 9 + 0.25 + 16 + 25), 1e-14);
    wg_tape_free(t);
    wg_param_free(W);
    wg_param_free(b);
}

int main(void)
{
    test_lecture_tables();
    test_gradchecks();
    test_values();
    test_ce_options();
    test_mixture();
    test_l2_penalty();
    return wg_test_done("nn losses");
}
