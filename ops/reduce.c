/* reduce.c: sum, mean and max, over all elements or along one axis.
 *
 *   sum       y = sum_k x[k]            gx[k] += gy
 *   mean      y = sum_k x[k] / K        gx[k] += gy / K     (K = 0 gives NaN, as PyTorch)
 *   max_axis  y = max_k x[k]            gx[argmax] += gy    saved: argmax per output
 *
 * Tie rule of max_axis: the gradient goes to the first maximal element (the
 * index PyTorch's max(dim) returns).  A NaN in the slice is the maximum.
 *
 * Shape: along an axis, x is viewed as [outer, K, inner]; the output is
 * [outer, inner], with the axis kept as 1 when keepdim.  Over all elements the
 * output is 0-d.  Sums accumulate in double, also for f32.
 *
 * Second order and forward mode: sum and mean are linear, so the JVP is the
 * op itself on the tangent and the recorded VJP is gy put back on the
 * reduced axis (reshape to keepdim, broadcast_to x's shape, times 1/K for
 * mean).  max_axis is linear in x for a fixed argmax: both rules use a
 * constant one-hot mask of the argmax, whose own derivative is 0.
 */
#include <math.h>

#include "wg_internal.h"

enum { AXIS_ALL = -1 };

typedef struct {
    size_t outer, k, inner;
} red_view;

static red_view view_of(const wg_tensor *x, int axis)
{
    red_view v = {1, x->size, 1};
    if (axis == AXIS_ALL) return v;
    v.k = (size_t)x->shape[axis];
    for (int i = 0; i < axis; i++) v.outer *= (size_t)x->shape[i];
    for (int i = axis + 1; i < x->ndim; i++) v.inner *= (size_t)x->shape[i];
    return v;
}

/* The shape rule of the reductions: x without axis i[0] (kept as 1 if
 * i[1], keepdim), or a 0-d result if i[2] (all).  The node keeps the
 * axis, made non-negative (AXIS_ALL for all), and keepdim. */
static int reduce_shape(wg_tape *t, const wg_op *op, wg_args *g)
{
    const wg_tensor *x = g->x[0];
    const int axis = (int)g->i[0];
    const bool keepdim = g->i[1], all = g->i[2];
    int ax = AXIS_ALL;
    g->out_ndim = 0;
    if (!all) {
        ax = wg_norm_axis(axis, x->ndim);
        if (ax < 0) {
            char sx[80];
            wg_tape_fail(t, WG_ERR_AXIS, "%s: axis %d out of range for %s", op->name, axis,
                    wg_fmt_shape(x, sx, sizeof sx));
            return 0;
        }
        for (int i = 0; i < x->ndim; i++) {
            if (i != ax)
                g->out[g->out_ndim++] = x->shape[i];
            else if (keepdim)
                g->out[g->out_ndim++] = 1;
        }
    }
    g->attr[0] = ax;
    g->attr[1] = keepdim;
    return 1;
}

static wg_tensor *reduce_node(wg_tape *t, const wg_op *op, wg_tensor *x, int axis, bool keepdim, bool all)
{
    if (!t) {
        wg_set_last_error("%s: invalid handle: the tape is NULL", op->name);
        return NULL;
    }
    if (!wg_check_inputs(t, op->name, 1, &x)) return NULL;
    wg_args g = {.n = 1, .x = &x, .i = {axis, keepdim, all}};
    return wg_node_of(t, op, &g);
}

/* ---- sum and mean -------------------------------------------------------- */

static void sum_fwd(wg_tensor *n, bool mean)
{
    const wg_tensor *x = n->in[0];
    red_view v = view_of(x, (int)n->attr.i[0]);
    double scale = mean ? 1.0 / (double)v.k : 1.0;
    WG_TYPED(n->dtype, {
        const T *xp = x->data;
        T *yp = n->data;
        if (v.inner == 1) {
            /* Four accumulators: one is a chain of dependent adds, 4 cycles
             * an element (lse's sum took as long as its max and sub). */
            for (size_t o = 0; o < v.outer; o++) {
                double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
                const T *row = xp + o * v.k;
                size_t k = 0;
                for (; k + 4 <= v.k; k += 4) {
                    s0 += row[k];
                    s1 += row[k + 1];
                    s2 += row[k + 2];
                    s3 += row[k + 3];
                }
                for (; k < v.k; k++) s0 += row[k];
                yp[o] = (T)(((s0 + s1) + (s2 + s3)) * scale);
            }
        } else {
            /* Walk rows in memory order, a block of columns at a time, into
             * double accumulators on the stack (f32 summed in f32 lost the
             * small terms of long sums). */
            enum { BLK = 256 };
            double acc[BLK];
            for (size_t o = 0; o < v.outer; o++)
                for (size_t i0 = 0; i0 < v.inner; i0 += BLK) {
                    size_t w = v.inner - i0 < BLK ? v.inner - i0 : BLK;
                    for (size_t i = 0; i < w; i++) acc[i] = 0;
                    for (size_t k = 0; k < v.k; k++) {
                        const T *xr = xp + (o * v.k + k) * v.inner + i0;
                        for (size_t i = 0; i < w; i++) acc[i] += xr[i];
                    }
                    for (size_t i = 0; i < w; i++) yp[o * v.inner + i0 + i] = (T)(acc[i] * scale);
                }
        }
    });
}

static void sum_vjp_scaled(wg_tensor *n, bool mean)
{
    wg_tensor *x = n->in[0];
    if (!wg_needs_grad(x)) return;
    red_view v = view_of(x, (int)n->attr.i[0]);
    double scale = mean ? 1.0 / (double)v.k : 1.0;
    WG_TYPED(n->dtype, {
        bool first; /* every element of gx is written once: the first pass stores */
        T *gx = wg_grad_first(x, &first);
        const T *gy = n->grad;
        if (!gx) return;
        if (v.inner == 1) { /* along the last axis (or all): one number per row, spread */
            for (size_t o = 0; o < v.outer; o++) {
                const T g = (T)(gy[o] * scale);
                T *gr = gx + o * v.k;
                if (first)
                    for (size_t k = 0; k < v.k; k++) gr[k] = g;
                else
                    for (size_t k = 0; k < v.k; k++) gr[k] += g;
            }
            return;
        }
        for (size_t o = 0; o < v.outer; o++)
            for (size_t k = 0; k < v.k; k++) {
                T *gr = gx + (o * v.k + k) * v.inner;
                const T *go = gy + o * v.inner;
                if (first)
                    for (size_t i = 0; i < v.inner; i++) gr[i] = (T)(go[i] * scale);
                else
                    for (size_t i = 0; i < v.inner; i++) gr[i] += (T)(go[i] * scale);
            }
    });
}

static void sum_vjp(wg_tensor *n) { sum_vjp_scaled(n, false); }
static void mean_vjp(wg_tensor *n) { sum_vjp_scaled(n, true); }
static void sum_fwd1(wg_tensor *n) { sum_fwd(n, false); }
static void mean_fwd1(wg_tensor *n) { sum_fwd(n, true); }

/* gy ([outer, inner] as n's shape) spread back over x's shape along the
 * reduced axis: reshape to keepdim, then broadcast_to. */
static wg_tensor *unreduce(wg_tape *t, const wg_tensor *n, wg_tensor *gy)
{
    const wg_tensor *x = n->in[0];
    int ax = (int)n->attr.i[0];
    if (ax != AXIS_ALL && !n->attr.i[1]) {
        int64_t kd[WG_MAX_DIMS];
        for (int i = 0; i < x->ndim; i++) kd[i] = i == ax ? 1 : x->shape[i];
        gy = wg_reshape(t, gy, x->ndim, kd);
    }
    return wg_broadcast_to(t, gy, x->ndim, x->shape);
}
/* The same reduction of another tensor of x's shape. */
static wg_tensor *reduce_like(wg_tape *t, const wg_tensor *n, wg_tensor *x, bool mean)
{
    int ax = (int)n->attr.i[0];
    if (ax == AXIS_ALL) return mean ? wg_mean(t, x) : wg_sum(t, x);
    return mean ? wg_mean_axis(t, x, ax, n->attr.i[1]) : wg_sum_axis(t, x, ax, n->attr.i[1]);
}
static wg_tensor *sum_vjp_ops(wg_tape *t, wg_tensor *n, wg_tensor *gy, int i)
{
    (void)i;
    return unreduce(t, n, gy);
}
static wg_tensor *mean_vjp_ops(wg_tape *t, wg_tensor *n, wg_tensor *gy, int i)
{
    (void)i;
    const wg_tensor *x = n->in[0];
    red_view v = view_of(x, (int)n->attr.i[0]);
    wg_tensor *g = unreduce(t, n, gy);
    return g ? wg__mul(t, g, wg_scalar(t, (wg_dtype)g->dtype, 1.0 / (double)v.k, false)) : NULL;
}
static wg_tensor *sum_jvp(wg_tape *t, wg_tensor *n, wg_tensor *const *tx) { return reduce_like(t, n, tx[0], false); }
static wg_tensor *mean_jvp(wg_tape *t, wg_tensor *n, wg_tensor *const *tx) { return reduce_like(t, n, tx[0], true); }

const wg_op wg_op_sum = {.name = "sum", .id = WG_OP_sum, .arity = 1, .shape = reduce_shape, .fwd = sum_fwd1, .vjp = sum_vjp,
                         .vjp_ops = sum_vjp_ops, .jvp = sum_jvp};
const wg_op wg_op_mean = {.name = "mean", .id = WG_OP_mean, .arity = 1, .shape = reduce_shape, .fwd = mean_fwd1, .vjp = mean_vjp,
                          .vjp_ops = mean_vjp_ops, .jvp = mean_jvp};

static wg_tensor *sum_like(wg_tape *t, const wg_op *op, wg_tensor *x, int axis, bool keepdim, bool all)
{
    wg_tensor *n = reduce_node(t, op, x, axis, keepdim, all);
    if (!n) return NULL;
    sum_fwd(n, op == &wg_op_mean);
    return wg_node_done(t, n);
}

wg_tensor *wg_sum(wg_tape *t, wg_tensor *x) { return sum_like(t, &wg_op_sum, x, 0, false, true); }
wg_tensor *wg_mean(wg_tape *t, wg_tensor *x) { return sum_like(t, &wg_op_mean, x, 0, false, true); }
wg_tensor *wg_sum_axis(wg_tape *t, wg_tensor *x, int axis, bool keepdim)
{
    return sum_like(t, &wg_op_sum, x, axis, keepdim, false);
}
wg_tensor *wg_mean_axis(wg_tape *t, wg_tensor *x, int axis, bool keepdim)
{
    return sum_like(t, &wg_op_mean, x, axis, keepdim, false);
}

/* ---- max along an axis --------------------------------------------------- */

static void max_axis_vjp(wg_tensor *n)
{
    wg_tensor *x = n->in[0];
    if (!wg_needs_grad(x)) return;
    red_view v = view_of(x, (int)n->attr.i[0]);
    const uint32_t *arg = n->aux;
    WG_TYPED(n->dtype, {
        T *gx = wg_grad_buf(x);
        const T *gy = n->grad;
        if (!gx) return;
        for (size_t o = 0; o < v.outer; o++)
            for (size_t i = 0; i < v.inner; i++) {
                size_t j = o * v.inner + i;
                gx[(o * v.k + arg[j]) * v.inner + i] += gy[j];
            }
    });
}
static void max_axis_fwd(wg_tensor *n);

/* The argmax as a constant one-hot mask of x's shape. */
static wg_tensor *argmax_mask(wg_tape *t, const wg_tensor *n)
{
    const wg_tensor *x = n->in[0];
    wg_tensor *m = wg_full_like(t, x, 0);
    if (!m) return NULL;
    red_view v = view_of(x, (int)n->attr.i[0]);
    const uint32_t *arg = n->aux;
    WG_TYPED(n->dtype, {
        T *mp = (T *)m->data; /* a constant made just now: nothing has read it */
        for (size_t o = 0; o < v.outer; o++)
            for (size_t i = 0; i < v.inner; i++) mp[(o * v.k + arg[o * v.inner + i]) * v.inner + i] = 1;
    });
    return m;
}
static wg_tensor *max_axis_vjp_ops(wg_tape *t, wg_tensor *n, wg_tensor *gy, int i)
{
    (void)i;
    return wg__mul(t, unreduce(t, n, gy), argmax_mask(t, n));
}
static wg_tensor *max_axis_jvp(wg_tape *t, wg_tensor *n, wg_tensor *const *tx)
{
    return wg_sum_axis(t, wg__mul(t, tx[0], argmax_mask(t, n)), (int)n->attr.i[0], n->attr.i[1]);
}
/* max_axis's shape rule: a reduction's, over an axis that has elements
 * (when the output has any) and whose argmax fits the uint32 it is kept in. */
static int max_axis_shape(wg_tape *t, const wg_op *op, wg_args *g)
{
    if (!reduce_shape(t, op, g)) return 0;
    const wg_tensor *x = g->x[0];
    red_view v = view_of(x, (int)g->attr[0]);
    char sx[80];
    if (v.k == 0 && wg_shape_numel(g->out_ndim, g->out) > 0) {
        wg_tape_fail(t, WG_ERR_SHAPE, "max_axis: cannot reduce an empty axis %d of %s", (int)g->i[0],
                wg_fmt_shape(x, sx, sizeof sx));
        return 0;
    }
    if (v.k > UINT32_MAX) {
        wg_tape_fail(t, WG_ERR_SHAPE, "max_axis: axis %d of %s is longer than 2^32", (int)g->i[0],
                wg_fmt_shape(x, sx, sizeof sx));
        return 0;
    }
    return 1;
}
const wg_op wg_op_max_axis = {.name = "max_axis", .id = WG_OP_max_axis, .arity = 1, .shape = max_axis_shape,
                              .fwd = max_axis_fwd,
                              .vjp = max_axis_vjp, .vjp_ops = max_axis_vjp_ops, .jvp = max_axis_jvp};

wg_tensor *wg_max_axis(wg_tape *t, wg_tensor *x, int axis, bool keepdim)
{
    wg_tensor *n = reduce_node(t, &wg_op_max_axis, x, axis, keepdim, false);
    if (!n) return NULL;
    uint32_t *arg = n->size ? wg_arena_alloc(t, n->size * sizeof *arg) : NULL;
    if (n->size && !arg) return NULL;
    n->aux = arg;
    max_axis_fwd(n);
    return wg_node_done(t, n);
}

/* Values and argmax (n->aux) of a max_axis node from its input. */
static void max_axis_fwd(wg_tensor *n)
{
    const wg_tensor *x = n->in[0];
    red_view v = view_of(x, (int)n->attr.i[0]);
    uint32_t *arg = n->aux;
    WG_TYPED(n->dtype, {
        const T *xp = x->data;
        T *yp = n->data;
        if (v.inner == 1) { /* rows: the max first, in a loop that vectorises, then its index */
            for (size_t o = 0; o < v.outer; o++) {
                const T *row = xp + o * v.k;
                T b0 = row[0], b1 = row[0], b2 = row[0], b3 = row[0];
                bool nan = row[0] != row[0];
                size_t k = 1;
                for (; k + 4 <= v.k; k += 4) { /* four chains of compare-and-select */
                    b0 = row[k] > b0 ? row[k] : b0;
                    b1 = row[k + 1] > b1 ? row[k + 1] : b1;
                    b2 = row[k + 2] > b2 ? row[k + 2] : b2;
                    b3 = row[k + 3] > b3 ? row[k + 3] : b3;
                    nan |= (row[k] != row[k]) | (row[k + 1] != row[k + 1]) | (row[k + 2] != row[k + 2]) |
                           (row[k + 3] != row[k + 3]);
                }
                for (; k < v.k; k++) {
                    b0 = row[k] > b0 ? row[k] : b0;
                    nan |= row[k] != row[k];
                }
                b0 = b1 > b0 ? b1 : b0;
                b2 = b3 > b2 ? b3 : b2;
                const T best = b2 > b0 ? b2 : b0;
                uint32_t bi = 0;
                if (nan) /* the first NaN is the maximum */
                    while (row[bi] == row[bi]) bi++;
                else /* the first element equal to the maximum (as a strict > scan keeps) */
                    while (row[bi] != best) bi++;
                yp[o] = row[bi];
                arg[o] = bi;
            }
            return;
        }
        for (size_t o = 0; o < v.outer; o++)
            for (size_t i = 0; i < v.inner; i++) {
                const T *col = xp + o * v.k * v.inner + i;
                T best = col[0];
                uint32_t bi = 0;
                for (size_t k = 1; k < v.k && best == best; k++) {
                    T c = col[k * v.inner];
                    if (c > best || c != c) best = c, bi = (uint32_t)k;
                }
                yp[o * v.inner + i] = best;
                arg[o * v.inner + i] = bi;
            }
    });
}

/* ---- logsumexp along an axis (fused) ------------------------------------- *
 *
 *   logsumexp  y = m + log sum_k exp(x[k] - m)      gx[k] += gy exp(x[k] - y)
 *              m = max_k x[k], taken as 0 where it is infinite (as PyTorch:
 *              a row of -inf gives -inf, one holding +inf gives +inf)
 *              saved: e = exp(x - m) (x's shape), then s = sum_k e (y's shape)
 *
 * Why fused (measured, bench/compare --gradbench, lse at n = 160000): the
 * composite m + log(sum(exp(x - detach(max)))) is seven nodes, four of them
 * x-sized, and its backward three x-sized passes; GradBench's lse gradient
 * took 1.6 times its primal and 2.4 times PyTorch's.  Here the forward is a
 * max pass and one exp pass (which keeps e) and the VJP one pass,
 * gx = (gy / s) e: the composite's gradient to the bit (its log VJP is
 * gy / s, its exp VJP times e), and s is summed in the same order as
 * sum_axis, so values and gradients equal the composite's exactly (the
 * test in test_exact checks that).  exp goes through wg_vec_math in fast math.
 *
 * Second order and forward mode, written with the composite's parts: the
 * recorded VJP is gy * exp(x - y) with y this node (so it is differentiable
 * again, through y too), and the JVP is sum_k tx[k] exp(x[k] - y). */

static void lse_fwd(wg_tensor *n)
{
    const wg_tensor *x = n->in[0];
    red_view v = view_of(x, (int)n->attr.i[0]);
    WG_TYPED(n->dtype, {
        const T *xp = x->data;
        T *yp = n->data, *e = n->aux, *s = e + x->size;
        /* m into y, as the masked max; then e = x - m */
        if (v.inner == 1) { /* rows: the max in four chains of registers */
            for (size_t o = 0; o < v.outer; o++) {
                const T *row = xp + o * v.k;
                T b0 = -INFINITY, b1 = -INFINITY, b2 = -INFINITY, b3 = -INFINITY;
                size_t k = 0;
                for (; k + 4 <= v.k; k += 4) {
                    b0 = row[k] > b0 ? row[k] : b0;
                    b1 = row[k + 1] > b1 ? row[k + 1] : b1;
                    b2 = row[k + 2] > b2 ? row[k + 2] : b2;
                    b3 = row[k + 3] > b3 ? row[k + 3] : b3;
                }
                for (; k < v.k; k++) b0 = row[k] > b0 ? row[k] : b0;
                b0 = b1 > b0 ? b1 : b0;
                b2 = b3 > b2 ? b3 : b2;
                T m = b2 > b0 ? b2 : b0;
                if (m == INFINITY || m == -INFINITY) m = 0;
                yp[o] = m;
                T *er = e + o * v.k;
                for (k = 0; k < v.k; k++) er[k] = row[k] - m;
            }
        } else {
            for (size_t j = 0; j < v.outer * v.inner; j++) yp[j] = -INFINITY;
            for (size_t o = 0; o < v.outer; o++)
                for (size_t k = 0; k < v.k; k++) {
                    const T *xr = xp + (o * v.k + k) * v.inner;
                    T *mr = yp + o * v.inner;
                    for (size_t i = 0; i < v.inner; i++) mr[i] = xr[i] > mr[i] ? xr[i] : mr[i];
                }
            for (size_t j = 0; j < v.outer * v.inner; j++)
                if (yp[j] == INFINITY || yp[j] == -INFINITY) yp[j] = 0;
            for (size_t o = 0; o < v.outer; o++)
                for (size_t k = 0; k < v.k; k++) {
                    const T *xr = xp + (o * v.k + k) * v.inner;
                    const T *mr = yp + o * v.inner;
                    T *er = e + (o * v.k + k) * v.inner;
                    for (size_t i = 0; i < v.inner; i++) er[i] = xr[i] - mr[i];
                }
        }
        if (!wg_vec_math(WG_VEC_EXP, n->dtype, e, e, x->size))
            for (size_t j = 0; j < x->size; j++) e[j] = (T)(sizeof(T) == sizeof(float) ? expf((float)e[j]) : exp((double)e[j]));
        /* s summed as sum_axis sums (sum_fwd), so that it is the composite's to the bit */
        if (v.inner == 1) {
            for (size_t o = 0; o < v.outer; o++) {
                double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
                const T *row = e + o * v.k;
                size_t k = 0;
                for (; k + 4 <= v.k; k += 4) {
                    s0 += row[k];
                    s1 += row[k + 1];
                    s2 += row[k + 2];
                    s3 += row[k + 3];
                }
                for (; k < v.k; k++) s0 += row[k];
                s[o] = (T)((s0 + s1) + (s2 + s3));
            }
        } else {
            enum { BLK = 256 };
            double acc[BLK];
            for (size_t o = 0; o < v.outer; o++)
                for (size_t i0 = 0; i0 < v.inner; i0 += BLK) {
                    size_t w = v.inner - i0 < BLK ? v.inner - i0 : BLK;
                    for (size_t i = 0; i < w; i++) acc[i] = 0;
                    for (size_t k = 0; k < v.k; k++) {
                        const T *er = e + (o * v.k + k) * v.inner + i0;
                        for (size_t i = 0; i < w; i++) acc[i] += er[i];
                    }
                    for (size_t i = 0; i < w; i++) s[o * v.inner + i0 + i] = (T)acc[i];
                }
        }
        for (size_t j = 0; j < v.outer * v.inner; j++)
            yp[j] = (T)(sizeof(T) == sizeof(float) ? logf((float)s[j]) : log((double)s[j])) + yp[j];
    });
}

static void lse_vjp(wg_tensor *n)
{
    wg_tensor *x = n->in[0];
    if (!wg_needs_grad(x)) return;
    red_view v = view_of(x, (int)n->attr.i[0]);
    WG_TYPED(n->dtype, {
        bool first; /* every element of gx is written once */
        T *gx = wg_grad_first(x, &first);
        const T *gy = n->grad, *e = n->aux, *s = e + x->size;
        if (!gx) return;
        if (v.inner == 1) { /* rows: one factor gy / s per row */
            for (size_t o = 0; o < v.outer; o++) {
                const T g = gy[o] / s[o];
                T *gr = gx + o * v.k;
                const T *er = e + o * v.k;
                if (first)
                    for (size_t k = 0; k < v.k; k++) gr[k] = g * er[k];
                else
                    for (size_t k = 0; k < v.k; k++) gr[k] += g * er[k];
            }
            return;
        }
        for (size_t o = 0; o < v.outer; o++)
            for (size_t k = 0; k < v.k; k++) {
                T *gr = gx + (o * v.k + k) * v.inner;
                const T *er = e + (o * v.k + k) * v.inner;
                const T *go = gy + o * v.inner, *so = s + o * v.inner;
                if (first)
                    for (size_t i = 0; i < v.inner; i++) gr[i] = (go[i] / so[i]) * er[i];
                else
                    for (size_t i = 0; i < v.inner; i++) gr[i] += (go[i] / so[i]) * er[i];
            }
    });
}

/* exp(x - y) with y this node spread back over the axis: the softmax. */
static wg_tensor *lse_softmax(wg_tape *t, wg_tensor *n)
{
    wg_tensor *x = n->in[0];
    return wg_exp(t, wg__sub(t, x, unreduce(t, n, n)));
}
static wg_tensor *lse_vjp_ops(wg_tape *t, wg_tensor *n, wg_tensor *gy, int i)
{
    (void)i;
    return wg__mul(t, unreduce(t, n, gy), lse_softmax(t, n));
}
static wg_tensor *lse_jvp(wg_tape *t, wg_tensor *n, wg_tensor *const *tx)
{
    return reduce_like(t, n, wg__mul(t, tx[0], lse_softmax(t, n)), false);
}
const wg_op wg_op_logsumexp = {.name = "logsumexp", .id = WG_OP_logsumexp, .arity = 1, .shape = reduce_shape,
                               .fwd = lse_fwd, .vjp = lse_vjp, .vjp_ops = lse_vjp_ops, .jvp = lse_jvp};

wg_tensor *wg_logsumexp(wg_tape *t, wg_tensor *x, int axis, bool keepdim)
{
    wg_tensor *n = reduce_node(t, &wg_op_logsumexp, x, axis, keepdim, false);
    if (!n) return NULL;
    size_t count = x->size + n->size;
    void *aux = count ? wg_arena_alloc(t, count * wg_dtype_size(n->dtype)) : NULL;
    if (count && !aux) return NULL;
    n->aux = aux;
    lse_fwd(n);
    return wg_node_done(t, n);
}
