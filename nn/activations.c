/* activations.c: activation functions as compositions of primitive ops.
 *
 * No gradient code: the tape differentiates every line.  Two things decide
 * how each composite is written.
 *   Stability: nothing may overflow at |x| = 1000, so exp only ever sees
 *     -|x| or a value shifted by its max.
 *   Kinks: max(a, b) and min(a, b) send ties to b and |x|'(0) = 0, so a
 *     smooth function built from them can get a wrong derivative at 0.  The
 *     operand order is chosen so that each tie lands where the derivative
 *     comes out right (softplus'(0) = 1/2); masks from step() carry the
 *     piecewise definitions whose derivative at 0 comes from the left piece
 *     (ELU, PReLU).
 */
#include <math.h>
#include <string.h>

#include "nn_check.h"
#include "wg_nn.h"

wg_tensor *wg_nn_identity(wg_tape *t, wg_tensor *x)
{
    NN_CHECK1(t, "identity", x);
    return x;
}

wg_tensor *wg_nn_linear(wg_tape *t, wg_tensor *x, double alpha)
{
    NN_CHECK1(t, "linear", x);
    return wg_mul(t, alpha, x);
}

wg_tensor *wg_nn_step(wg_tape *t, wg_tensor *x)
{
    NN_CHECK1(t, "step", x);
    return wg_step(t, x);
}

wg_tensor *wg_nn_sign(wg_tape *t, wg_tensor *x)
{
    NN_CHECK1(t, "sign", x);
    return wg_sign(t, x);
}

/* log(1 + e^x) = max(x, 0) + log1p(e^-|x|), with -|x| written as
 * min(0, x) - max(x, 0).  The ties put the derivative at 0 at 0 + 1/2 =
 * sigmoid(0), and for x < 0 the gradient is e^x/(1+e^x) with full relative
 * precision (a form with (x+|x|)/2 would cancel 1/2 - 1/2 and lose it). */
wg_tensor *wg_nn_softplus(wg_tape *t, wg_tensor *x)
{
    NN_CHECK1(t, "softplus", x);
    wg_tensor *hi = wg_max(t, x, 0); /* tie to the constant */
    wg_tensor *lo = wg_min(t, 0, x); /* tie to x */
    return wg_add(t, hi, wg_log1p(t, wg_exp(t, wg_sub(t, lo, hi))));
}

/* sigmoid(x) = exp(-softplus(-x)).  0.5 tanh(x/2) + 0.5 would be as stable
 * but loses the relative precision of the left tail (sigmoid(-30) ~ 1e-13
 * computed as 0.5 - 0.4999999999999); this form keeps it in both tails. */
wg_tensor *wg_nn_sigmoid(wg_tape *t, wg_tensor *x)
{
    NN_CHECK1(t, "sigmoid", x);
    return wg_exp(t, wg_neg(t, wg_nn_softplus(t, wg_neg(t, x))));
}

wg_tensor *wg_nn_tanh(wg_tape *t, wg_tensor *x)
{
    NN_CHECK1(t, "tanh", x);
    return wg_tanh(t, x);
}

wg_tensor *wg_nn_relu(wg_tape *t, wg_tensor *x)
{
    NN_CHECK1(t, "relu", x);
    return wg_max(t, x, 0); /* tie at 0 goes to the constant: relu'(0) = 0 */
}

/* max(x, a x) for a <= 1 and min(x, a x) for a > 1 pick the right piece on
 * both sides; the tie at 0 goes to b = a x, so the derivative there is a. */
wg_tensor *wg_nn_leaky_relu(wg_tape *t, wg_tensor *x, double alpha)
{
    NN_CHECK1(t, "leaky_relu", x);
    if (isnan(alpha)) alpha = WG_NN_LEAKY_ALPHA;
    wg_tensor *ax = wg_mul(t, alpha, x);
    return alpha <= 1 ? wg_max(t, x, ax) : wg_min(t, x, ax);
}

/* x + (alpha - 1) * x * [x <= 0].  The mask step(-x) is 1 at x = 0, so the
 * derivative there is alpha, and d/dalpha = x [x <= 0] = min(x, 0). */
wg_tensor *wg_nn_prelu(wg_tape *t, wg_tensor *x, wg_tensor *alpha)
{
    NN_CHECK2(t, "prelu", x, alpha);
    wg_tensor *neg_part = wg_mul(t, x, wg_step(t, wg_neg(t, x)));
    return wg_add(t, x, wg_mul(t, wg_sub(t, alpha, 1), neg_part));
}

/* e^u - 1 for u <= 0, accurate in value and in derivative.  The value comes
 * from h = tanh(u/2): e^u - 1 = 2h / (1 - h) has no cancellation near 0, but
 * its derivative through tanh, 1 - h^2, underflows to 0 in the left tail
 * (elu'(-40) would be 0 instead of 4e-18).  So the gradient is routed through
 * the plain form e^u - 1, whose derivative is e^u exactly, and the value is
 * corrected by a detached difference: value = stable, gradient = e^u. */
static wg_tensor *expm1_nonpos(wg_tape *t, wg_tensor *u)
{
    wg_tensor *h = wg_tanh(t, wg_mul(t, 0.5, u));
    wg_tensor *stable = wg_div(t, wg_mul(t, 2, h), wg_sub(t, 1, h));
    wg_tensor *plain = wg_sub(t, wg_exp(t, u), 1);
    return wg_add(t, plain, wg_detach(t, wg_sub(t, stable, plain)));
}

/* x [x > 0] + alpha expm1(min(0, x)) [x <= 0].  min(0, x) sends its tie at 0
 * to x, so the derivative at 0 comes from the left piece: alpha.  exp never
 * sees a positive argument. */
wg_tensor *wg_nn_elu(wg_tape *t, wg_tensor *x, double alpha)
{
    NN_CHECK1(t, "elu", x);
    if (isnan(alpha)) alpha = 1.0;
    wg_tensor *left = wg_step(t, wg_neg(t, x)); /* 1 where x <= 0 */
    wg_tensor *pos = wg_mul(t, x, wg_sub(t, 1, left));
    wg_tensor *neg = wg_mul(t, wg_mul(t, alpha, left), expm1_nonpos(t, wg_min(t, 0, x)));
    return wg_add(t, pos, neg);
}

wg_tensor *wg_nn_silu(wg_tape *t, wg_tensor *x)
{
    NN_CHECK1(t, "silu", x);
    return wg_mul(t, x, wg_nn_sigmoid(t, x));
}

wg_tensor *wg_nn_swish(wg_tape *t, wg_tensor *x, wg_tensor *beta)
{
    NN_CHECK2(t, "swish", x, beta);
    return wg_mul(t, x, wg_nn_sigmoid(t, wg_mul(t, beta, x)));
}

wg_tensor *wg_nn_softsign(wg_tape *t, wg_tensor *x)
{
    NN_CHECK1(t, "softsign", x);
    return wg_div(t, x, wg_add(t, 1, wg_abs(t, x)));
}

wg_tensor *wg_nn_maxout(wg_tape *t, wg_tensor *z, int64_t k)
{
    NN_CHECK1(t, "maxout", z);
    int nd = wg_ndim(z);
    char s[80];
    if (nd < 1 || nd >= WG_MAX_DIMS) {
        wg_tape_fail(t, WG_ERR_SHAPE, "maxout: z must have 1 to %d dimensions: z is %s", WG_MAX_DIMS - 1,
                     wg_shape_str(z, s, sizeof s));
        return NULL;
    }
    int64_t last = wg_dim(z, -1);
    if (k < 1 || last % k != 0) {
        wg_tape_fail(t, WG_ERR_SHAPE, "maxout: the last dimension is not a multiple of k = %lld: z is %s",
                     (long long)k, wg_shape_str(z, s, sizeof s));
        return NULL;
    }
    int64_t shape[WG_MAX_DIMS];
    memcpy(shape, wg_shape(z), sizeof(int64_t) * (size_t)nd);
    shape[nd - 1] = last / k;
    shape[nd] = k;
    return wg_max_axis(t, wg_reshape(t, z, nd + 1, shape), -1, false);
}

/* x - max, with the max detached: softmax and log-softmax do not depend on
 * the shift, so no gradient needs to flow through it. */
static wg_tensor *shift_by_max(wg_tape *t, wg_tensor *x, int axis)
{
    return wg_sub(t, x, wg_detach(t, wg_max_axis(t, x, axis, true)));
}

wg_tensor *wg_nn_softmax(wg_tape *t, wg_tensor *x, int axis)
{
    NN_CHECK1(t, "softmax", x);
    wg_tensor *e = wg_exp(t, shift_by_max(t, x, axis));
    return wg_div(t, e, wg_sum_axis(t, e, axis, true));
}

wg_tensor *wg_nn_log_softmax(wg_tape *t, wg_tensor *x, int axis)
{
    NN_CHECK1(t, "log_softmax", x);
    wg_tensor *s = shift_by_max(t, x, axis);
    return wg_sub(t, s, wg_log(t, wg_sum_axis(t, wg_exp(t, s), axis, true)));
}

wg_tensor *wg_nn_logsumexp(wg_tape *t, wg_tensor *x, int axis, bool keepdim)
{
    NN_CHECK1(t, "logsumexp", x);
    wg_tensor *m = wg_detach(t, wg_max_axis(t, x, axis, true));
    wg_tensor *lse = wg_add(t, m, wg_log(t, wg_sum_axis(t, wg_exp(t, wg_sub(t, x, m)), axis, true)));
    if (keepdim || !lse) return lse;
    /* Drop the reduced axis (a view, no copy). */
    int nd = wg_ndim(lse), ax = axis < 0 ? axis + nd : axis, k = 0;
    int64_t shape[WG_MAX_DIMS];
    for (int i = 0; i < nd; i++)
        if (i != ax) shape[k++] = wg_dim(lse, i);
    return wg_reshape(t, lse, k, shape);
}

static const char *const act_names[WG_ACT_COUNT] = {
    [WG_ACT_IDENTITY] = "identity", [WG_ACT_SIGMOID] = "sigmoid",       [WG_ACT_TANH] = "tanh",
    [WG_ACT_RELU] = "relu",         [WG_ACT_LEAKY_RELU] = "leaky_relu", [WG_ACT_ELU] = "elu",
    [WG_ACT_SILU] = "silu",         [WG_ACT_SOFTPLUS] = "softplus",     [WG_ACT_SOFTSIGN] = "softsign",
    [WG_ACT_STEP] = "step",         [WG_ACT_SIGN] = "sign",             [WG_ACT_SOFTMAX] = "softmax",
    [WG_ACT_LOG_SOFTMAX] = "log_softmax",
};

const char *wg_act_name(wg_act act)
{
    return (unsigned)act < WG_ACT_COUNT ? act_names[act] : "unknown";
}

int wg_act_from_name(const char *name)
{
    if (!name) return -1;
    if (strcmp(name, "linear") == 0) return WG_ACT_IDENTITY;
    if (strcmp(name, "swish") == 0) return WG_ACT_SILU;
    for (int i = 0; i < WG_ACT_COUNT; i++)
        if (strcmp(name, act_names[i]) == 0) return i;
    return -1;
}

wg_tensor *wg_nn_activate(wg_tape *t, wg_tensor *x, wg_act act, double alpha)
{
    switch (act) {
    case WG_ACT_IDENTITY: return wg_nn_identity(t, x);
    case WG_ACT_SIGMOID: return wg_nn_sigmoid(t, x);
    case WG_ACT_TANH: return wg_nn_tanh(t, x);
    case WG_ACT_RELU: return wg_nn_relu(t, x);
    case WG_ACT_LEAKY_RELU: return wg_nn_leaky_relu(t, x, alpha);
    case WG_ACT_ELU: return wg_nn_elu(t, x, alpha);
    case WG_ACT_SILU: return wg_nn_silu(t, x);
    case WG_ACT_SOFTPLUS: return wg_nn_softplus(t, x);
    case WG_ACT_SOFTSIGN: return wg_nn_softsign(t, x);
    case WG_ACT_STEP: return wg_nn_step(t, x);
    case WG_ACT_SIGN: return wg_nn_sign(t, x);
    case WG_ACT_SOFTMAX: return wg_nn_softmax(t, x, -1);
    case WG_ACT_LOG_SOFTMAX: return wg_nn_log_softmax(t, x, -1);
    default: break;
    }
    NN_CHECK1(t, "activate", x);
    wg_tape_fail(t, WG_ERR_ARG, "activate: unknown activation %d", (int)act);
    return NULL;
}
