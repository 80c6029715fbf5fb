/* losses.c: loss functions as compositions of primitive ops.
 *
 * Elementwise losses reduce over every element; row losses (cross-entropy,
 * mixture density) first sum over the class / component axis, the last one,
 * and then reduce over the samples.  Logarithms are natural.  Every loss
 * that starts from logits goes through log_softmax or softplus, so nothing
 * overflows at |logit| = 1000.
 */
#include <math.h>
#include <stdlib.h>

#include "nn_check.h"
#include "wg_nn.h"

static const double LOG_2PI = 1.8378770664093454836; /* log(2 pi) */

wg_tensor *wg_nn_reduce(wg_tape *t, wg_tensor *x, wg_reduction red)
{
    NN_CHECK1(t, "reduce", x);
    switch (red) {
    case WG_REDUCE_MEAN: return wg_mean(t, x);
    case WG_REDUCE_SUM: return wg_sum(t, x);
    case WG_REDUCE_NONE: return x;
    }
    wg_tape_fail(t, WG_ERR_ARG, "reduce: unknown reduction %d", (int)red);
    return NULL;
}

wg_tensor *wg_nn_sum_squares(wg_tape *t, wg_tensor *y, wg_tensor *target)
{
    NN_CHECK2(t, "sum_squares", y, target);
    wg_tensor *d = wg_sub(t, y, target);
    return wg_mul(t, 0.5, wg_sum(t, wg_mul(t, d, d)));
}

wg_tensor *wg_nn_mse(wg_tape *t, wg_tensor *y, wg_tensor *target, wg_reduction red)
{
    NN_CHECK2(t, "mse", y, target);
    wg_tensor *d = wg_sub(t, y, target);
    return wg_nn_reduce(t, wg_mul(t, d, d), red);
}

wg_tensor *wg_nn_l1(wg_tape *t, wg_tensor *y, wg_tensor *target, wg_reduction red)
{
    NN_CHECK2(t, "l1", y, target);
    return wg_nn_reduce(t, wg_abs(t, wg_sub(t, y, target)), red);
}

/* softplus(s) + a floor, so that log(scale) and 1/scale stay finite when the
 * network drives s to -inf. */
static wg_tensor *scale_of(wg_tape *t, wg_tensor *raw)
{
    return wg_add(t, wg_nn_softplus(t, raw), WG_NN_MIN_SCALE);
}

/* log p(y) of a Gaussian (sigma) or Laplace (b) with the given scale. */
static wg_tensor *log_density(wg_tape *t, wg_dist dist, wg_tensor *mu, wg_tensor *scale, wg_tensor *y)
{
    wg_tensor *d = wg_sub(t, y, mu);
    if (dist == WG_DIST_GAUSSIAN) {
        wg_tensor *z = wg_div(t, d, scale);
        /* -log sigma - z^2/2 - log(2 pi)/2 */
        return wg_sub(t, wg_neg(t, wg_log(t, scale)), wg_add(t, wg_mul(t, 0.5, wg_mul(t, z, z)), 0.5 * LOG_2PI));
    }
    /* -log(2b) - |y - mu|/b */
    return wg_neg(t, wg_add(t, wg_log(t, wg_mul(t, 2, scale)), wg_div(t, wg_abs(t, d), scale)));
}

wg_tensor *wg_nn_gaussian_nll(wg_tape *t, wg_tensor *mu, wg_tensor *raw_scale, wg_tensor *y, wg_reduction red)
{
    NN_CHECK3(t, "gaussian_nll", mu, raw_scale, y);
    return wg_nn_reduce(t, wg_neg(t, log_density(t, WG_DIST_GAUSSIAN, mu, scale_of(t, raw_scale), y)), red);
}

wg_tensor *wg_nn_laplace_nll(wg_tape *t, wg_tensor *mu, wg_tensor *raw_scale, wg_tensor *y, wg_reduction red)
{
    NN_CHECK3(t, "laplace_nll", mu, raw_scale, y);
    return wg_nn_reduce(t, wg_neg(t, log_density(t, WG_DIST_LAPLACE, mu, scale_of(t, raw_scale), y)), red);
}

wg_tensor *wg_nn_mixture_nll(wg_tape *t, wg_tensor *logits, wg_tensor *mu, wg_tensor *raw_scale, wg_tensor *y,
                             wg_dist dist, wg_reduction red)
{
    NN_CHECK3(t, "mixture_nll", logits, mu, raw_scale);
    NN_CHECK1(t, "mixture_nll", y);
    char s1[80], s2[80], s3[80], s4[80];
    if (wg_ndim(logits) != 2 || wg_ndim(mu) != 2 || wg_ndim(raw_scale) != 2 || wg_dim(mu, 0) != wg_dim(logits, 0) ||
        wg_dim(mu, 1) != wg_dim(logits, 1) || wg_dim(raw_scale, 0) != wg_dim(logits, 0) ||
        wg_dim(raw_scale, 1) != wg_dim(logits, 1) || wg_ndim(y) < 1 || wg_ndim(y) > 2 ||
        wg_dim(y, 0) != wg_dim(logits, 0) || (wg_ndim(y) == 2 && wg_dim(y, 1) != 1)) {
        wg_tape_fail(t, WG_ERR_SHAPE,
                     "mixture_nll: want logits, mu, raw_scale [N,M] and y [N] or [N,1]: logits is %s, mu is %s, "
                     "raw_scale is %s, y is %s",
                     wg_shape_str(logits, s1, sizeof s1), wg_shape_str(mu, s2, sizeof s2),
                     wg_shape_str(raw_scale, s3, sizeof s3), wg_shape_str(y, s4, sizeof s4));
        return NULL;
    }
    if (dist != WG_DIST_LAPLACE && dist != WG_DIST_GAUSSIAN) {
        wg_tape_fail(t, WG_ERR_ARG, "mixture_nll: unknown distribution %d", (int)dist);
        return NULL;
    }
    if (wg_ndim(y) == 1) y = wg_reshape(t, y, 2, (int64_t[]){wg_dim(y, 0), 1});
    /* log sum_m pi_m p_m(y) = logsumexp_m(log_softmax(logits)_m + log p_m(y)) */
    wg_tensor *lp = wg_add(t, wg_nn_log_softmax(t, logits, -1), log_density(t, dist, mu, scale_of(t, raw_scale), y));
    return wg_nn_reduce(t, wg_neg(t, wg_nn_logsumexp(t, lp, -1, false)), red);
}

wg_tensor *wg_nn_bce(wg_tape *t, wg_tensor *p, wg_tensor *y, wg_reduction red)
{
    NN_CHECK2(t, "bce", p, y);
    wg_tensor *l1 = wg_mul(t, y, wg_log(t, p));
    wg_tensor *l0 = wg_mul(t, wg_sub(t, 1, y), wg_log1p(t, wg_neg(t, p)));
    return wg_nn_reduce(t, wg_neg(t, wg_add(t, l1, l0)), red);
}

/* -(y log s(z) + (1-y) log(1-s(z))) = softplus(z) - y z */
wg_tensor *wg_nn_bce_logits(wg_tape *t, wg_tensor *z, wg_tensor *y, wg_reduction red)
{
    NN_CHECK2(t, "bce_logits", z, y);
    return wg_nn_reduce(t, wg_sub(t, wg_nn_softplus(t, z), wg_mul(t, y, z)), red);
}

/* ---- categorical cross-entropy ----------------------------------------- */

/* A constant [..., C] one-hot leaf shaped like `like` from one label per row;
 * NULL with "fn: label out of range" on the tape for a bad label. */
static wg_tensor *onehot_leaf(wg_tape *t, const char *fn, wg_tensor *like, const int *labels)
{
    char s[80];
    if (!labels) {
        wg_tape_fail(t, WG_ERR_ARG, "%s: labels is NULL", fn);
        return NULL;
    }
    if (wg_ndim(like) < 1 || wg_dim(like, -1) < 1) {
        wg_tape_fail(t, WG_ERR_SHAPE, "%s: want scores with a class axis: scores are %s", fn,
                     wg_shape_str(like, s, sizeof s));
        return NULL;
    }
    int64_t c = wg_dim(like, -1);
    size_t rows = wg_numel(like) / (size_t)c;
    for (size_t i = 0; i < rows; i++)
        if (labels[i] < 0 || labels[i] >= c) {
            wg_tape_fail(t, WG_ERR_ARG, "%s: label out of range: labels[%zu] = %d, scores are %s", fn, i, labels[i],
                         wg_shape_str(like, s, sizeof s));
            return NULL;
        }
    wg_tensor *y = wg_tensor_new(t, wg_dtype_of(like), wg_ndim(like), wg_shape(like), NULL, false);
    if (!y) return NULL;
    /* A fresh constant leaf of this tape, zero-filled: write the ones in
     * place rather than build the matrix in a temporary (no malloc per step). */
    void *d = (void *)wg_data(y);
    for (size_t i = 0; i < rows; i++) {
        if (wg_dtype_of(y) == WG_F32)
            ((float *)d)[i * (size_t)c + (size_t)labels[i]] = 1.0f;
        else
            ((double *)d)[i * (size_t)c + (size_t)labels[i]] = 1.0;
    }
    return y;
}

/* -sum_c y_c logq_c per row, reduced over rows. */
static wg_tensor *row_xent(wg_tape *t, wg_tensor *logq, wg_tensor *y, wg_reduction red)
{
    return wg_nn_reduce(t, wg_neg(t, wg_sum_axis(t, wg_mul(t, y, logq), -1, false)), red);
}

wg_tensor *wg_nn_cross_entropy(wg_tape *t, wg_tensor *q, wg_tensor *y_onehot, wg_reduction red)
{
    NN_CHECK2(t, "cross_entropy", q, y_onehot);
    return row_xent(t, wg_log(t, q), y_onehot, red);
}

wg_tensor *wg_nn_cross_entropy_idx(wg_tape *t, wg_tensor *q, const int *labels, wg_reduction red)
{
    NN_CHECK1(t, "cross_entropy_idx", q);
    wg_tensor *y = onehot_leaf(t, "cross_entropy_idx", q, labels);
    return y ? row_xent(t, wg_log(t, q), y, red) : NULL;
}

wg_tensor *wg_nn_softmax_cross_entropy(wg_tape *t, wg_tensor *logits, wg_tensor *y_onehot, wg_reduction red)
{
    NN_CHECK2(t, "softmax_cross_entropy", logits, y_onehot);
    return row_xent(t, wg_nn_log_softmax(t, logits, -1), y_onehot, red);
}

wg_tensor *wg_nn_softmax_cross_entropy_idx(wg_tape *t, wg_tensor *logits, const int *labels, wg_reduction red)
{
    NN_CHECK1(t, "softmax_cross_entropy_idx", logits);
    wg_tensor *y = onehot_leaf(t, "softmax_cross_entropy_idx", logits, labels);
    return y ? row_xent(t, wg_nn_log_softmax(t, logits, -1), y, red) : NULL;
}

wg_tensor *wg_nn_softmax_cross_entropy_ex(wg_tape *t, wg_tensor *logits, wg_tensor *y, const int *labels,
                                          const wg_ce_opts *opts)
{
    static const char *fn = "softmax_cross_entropy_ex";
    NN_CHECK1(t, fn, logits);
    wg_ce_opts o = opts ? *opts : (wg_ce_opts){WG_REDUCE_MEAN, NULL, 0.0};
    if ((y == NULL) == (labels == NULL)) {
        wg_tape_fail(t, WG_ERR_ARG, "%s: give exactly one of y and labels", fn);
        return NULL;
    }
    if (!(o.label_smoothing >= 0 && o.label_smoothing < 1)) {
        wg_tape_fail(t, WG_ERR_ARG, "%s: label_smoothing must be in [0, 1): got %g", fn, o.label_smoothing);
        return NULL;
    }
    if (labels) y = onehot_leaf(t, fn, logits, labels);
    if (!y) return NULL;
    int64_t c = wg_dim(logits, -1);
    wg_tensor *target = y;
    if (o.label_smoothing > 0)
        target = wg_add(t, wg_mul(t, 1 - o.label_smoothing, y), o.label_smoothing / (double)c);
    wg_tensor *w = NULL;
    if (o.class_weights) {
        w = wg_tensor_new(t, wg_dtype_of(logits), 1, &c, NULL, false);
        if (!w) return NULL;
        void *d = (void *)wg_data(w); /* a fresh constant leaf: fill in place */
        for (int64_t i = 0; i < c; i++) {
            if (wg_dtype_of(w) == WG_F32)
                ((float *)d)[i] = (float)o.class_weights[i];
            else
                ((double *)d)[i] = o.class_weights[i];
        }
        target = wg_mul(t, target, w);
    }
    wg_tensor *per = row_xent(t, wg_nn_log_softmax(t, logits, -1), target, WG_REDUCE_NONE);
    if (!w || o.reduction != WG_REDUCE_MEAN) return wg_nn_reduce(t, per, o.reduction);
    /* weighted mean: divide by sum_i sum_c w_c y_ic (the unsmoothed targets) */
    return wg_div(t, wg_sum(t, per), wg_sum(t, wg_mul(t, y, w)));
}

/* ---- overlap losses (lecture 004) --------------------------------------- */

/* alpha = sum y*p and beta = sum (y + p) per class, summed over every axis
 * but the last. */
static int overlap_sums(wg_tape *t, const char *fn, wg_tensor *p, wg_tensor *y, double eps, wg_tensor **alpha,
                        wg_tensor **beta)
{
    char s1[80], s2[80];
    int nd = wg_ndim(p);
    if (nd < 1 || nd != wg_ndim(y)) {
        wg_tape_fail(t, WG_ERR_SHAPE, "%s: p and y must have the same shape [..., C]: p is %s, y is %s", fn,
                     wg_shape_str(p, s1, sizeof s1), wg_shape_str(y, s2, sizeof s2));
        return 0;
    }
    for (int i = 0; i < nd; i++)
        if (wg_dim(p, i) != wg_dim(y, i)) {
            wg_tape_fail(t, WG_ERR_SHAPE, "%s: p and y must have the same shape [..., C]: p is %s, y is %s", fn,
                         wg_shape_str(p, s1, sizeof s1), wg_shape_str(y, s2, sizeof s2));
            return 0;
        }
    if (!(eps > 0)) {
        wg_tape_fail(t, WG_ERR_ARG, "%s: eps must be > 0: got %g", fn, eps);
        return 0;
    }
    int64_t shape[2] = {-1, wg_dim(p, -1)};
    wg_tensor *p2 = wg_reshape(t, p, 2, shape), *y2 = wg_reshape(t, y, 2, shape);
    *alpha = wg_sum_axis(t, wg_mul(t, y2, p2), 0, false);
    *beta = wg_sum_axis(t, wg_add(t, y2, p2), 0, false);
    return *alpha && *beta;
}

wg_tensor *wg_nn_soft_jaccard(wg_tape *t, wg_tensor *p, wg_tensor *y, double eps)
{
    NN_CHECK2(t, "soft_jaccard", p, y);
    wg_tensor *a, *b;
    if (!overlap_sums(t, "soft_jaccard", p, y, eps, &a, &b)) return NULL;
    wg_tensor *j = wg_div(t, wg_add(t, a, eps), wg_add(t, wg_sub(t, b, a), eps));
    return wg_sub(t, 1, wg_mean(t, j));
}

wg_tensor *wg_nn_soft_dice(wg_tape *t, wg_tensor *p, wg_tensor *y, double eps)
{
    NN_CHECK2(t, "soft_dice", p, y);
    wg_tensor *a, *b;
    if (!overlap_sums(t, "soft_dice", p, y, eps, &a, &b)) return NULL;
    wg_tensor *d = wg_div(t, wg_add(t, wg_mul(t, 2, a), eps), wg_add(t, b, eps));
    return wg_sub(t, 1, wg_mean(t, d));
}

/* max(0, -a y): the tie at -a y = 0 goes to b = -a y, so a sample on the
 * boundary still moves the weights. */
wg_tensor *wg_nn_perceptron_criterion(wg_tape *t, wg_tensor *a, wg_tensor *y, wg_reduction red)
{
    NN_CHECK2(t, "perceptron_criterion", a, y);
    return wg_nn_reduce(t, wg_max(t, 0, wg_neg(t, wg_mul(t, a, y))), red);
}

wg_tensor *wg_nn_l2_penalty(wg_tape *t, size_t n, wg_param *const *params, double gamma, bool include_biases)
{
    if (!t) {
        wg_set_last_error("l2_penalty: invalid handle: the tape is NULL");
        return NULL;
    }
    if (wg_tape_status(t) != WG_OK) return NULL;
    if (n && !params) {
        wg_tape_fail(t, WG_ERR_HANDLE, "l2_penalty: invalid handle: params is NULL");
        return NULL;
    }
    wg_tensor *acc = NULL;
    wg_dtype dt = WG_F64;
    for (size_t i = 0; i < n; i++) {
        if (!params[i]) {
            wg_tape_fail(t, WG_ERR_HANDLE, "l2_penalty: invalid handle: params[%zu] is NULL", i);
            return NULL;
        }
        dt = params[i]->dtype;
        if (params[i]->ndim <= 1 && !include_biases) continue;
        wg_tensor *w = wg_use(t, params[i]);
        wg_tensor *sq = wg_sum(t, wg_mul(t, w, w));
        acc = acc ? wg_add(t, acc, sq) : sq;
    }
    if (!acc) return wg_scalar(t, dt, 0.0, false);
    return wg_mul(t, 0.5 * gamma, acc);
}
