/* shape.c: ops that move values without arithmetic.
 *
 *   transpose(x, i, j)  swap axes i and j (copies)    gx = transpose(gy)
 *   reshape(x, shape)   same values, new shape        gx += gy (flat)       no copy
 *   slice(x, ax, s, e)  x[.., s:e, ..]                gx[.., s:e, ..] += gy
 *   concat(xs, ax)      xs joined along ax            each gx += its part of gy
 *   detach(x)           x, cut off from the graph     none                  no copy
 *
 * A view along one axis is [outer, K, inner]: outer is the product of the
 * axes before it, inner of the axes after it.
 *
 * Every op here is linear: its JVP is the op itself applied to the tangent,
 * and its recorded VJP is the adjoint op (transpose back, reshape back, pad
 * a slice's cotangent with zeros by concat, slice concat's apart).
 */
#include "wg_internal.h"

static int tape_ok(wg_tape *t, const char *op)
{
    if (!t) {
        wg_set_last_error("%s: invalid handle: the tape is NULL", op);
        return 0;
    }
    return 1;
}

static void axis_view(const int64_t *shape, int ndim, int axis, size_t *outer, size_t *inner)
{
    *outer = *inner = 1;
    for (int i = 0; i < axis; i++) *outer *= (size_t)shape[i];
    for (int i = axis + 1; i < ndim; i++) *inner *= (size_t)shape[i];
}

/* ---- transpose ----------------------------------------------------------- */

/* Element strides of x read in the order of the output's (padded) axes. */
static void transpose_plan(const wg_tensor *x, int a0, int a1, int64_t n[4], int64_t s[4])
{
    int64_t st[WG_MAX_DIMS], st1 = 1;
    for (int i = x->ndim - 1; i >= 0; i--) st[i] = st1, st1 *= x->shape[i];
    int off = WG_MAX_DIMS - x->ndim;
    for (int j = 0; j < WG_MAX_DIMS; j++) {
        if (j < off) {
            n[j] = 1, s[j] = 0;
            continue;
        }
        int src = j - off;
        src = src == a0 ? a1 : src == a1 ? a0 : src;
        n[j] = x->shape[src];
        s[j] = st[src];
    }
}

#define TRANSPOSE_LOOP(n, s, STMT)                                                   \
    do {                                                                             \
        size_t io = 0;                                                               \
        for (int64_t i0 = 0; i0 < n[0]; i0++)                                        \
            for (int64_t i1 = 0; i1 < n[1]; i1++)                                    \
                for (int64_t i2 = 0; i2 < n[2]; i2++)                                \
                    for (int64_t i3 = 0; i3 < n[3]; i3++, io++) {                    \
                        size_t ix = (size_t)(i0 * s[0] + i1 * s[1] + i2 * s[2] + i3 * s[3]); \
                        STMT;                                                        \
                    }                                                                \
    } while (0)

static void transpose_vjp(wg_tensor *n)
{
    wg_tensor *x = n->in[0];
    if (!wg_needs_grad(x)) return;
    int64_t nn[4], s[4];
    transpose_plan(x, (int)n->attr.i[0], (int)n->attr.i[1], nn, s);
    WG_TYPED(n->dtype, {
        bool first; /* a permutation: every element of gx is written once */
        T *gx = wg_grad_first(x, &first);
        const T *gy = n->grad;
        if (!gx) return;
        if (first)
            TRANSPOSE_LOOP(nn, s, gx[ix] = gy[io]);
        else
            TRANSPOSE_LOOP(nn, s, gx[ix] += gy[io]);
    });
}
static void transpose_fwd(wg_tensor *n)
{
    const wg_tensor *x = n->in[0];
    int64_t nn[4], s[4];
    transpose_plan(x, (int)n->attr.i[0], (int)n->attr.i[1], nn, s);
    WG_TYPED(n->dtype, {
        const T *xp = x->data;
        T *yp = n->data;
        TRANSPOSE_LOOP(nn, s, yp[io] = xp[ix]);
    });
}
static wg_tensor *transpose_vjp_ops(wg_tape *t, wg_tensor *n, wg_tensor *gy, int i)
{
    (void)i;
    return wg_transpose(t, gy, (int)n->attr.i[0], (int)n->attr.i[1]);
}
static wg_tensor *transpose_jvp(wg_tape *t, wg_tensor *n, wg_tensor *const *tx)
{
    return wg_transpose(t, tx[0], (int)n->attr.i[0], (int)n->attr.i[1]);
}
/* transpose's shape rule: x with axes i[0] and i[1] swapped; the node
 * keeps them non-negative. */
static int transpose_shape(wg_tape *t, const wg_op *op, wg_args *g)
{
    (void)op;
    const wg_tensor *x = g->x[0];
    const int axis0 = (int)g->i[0], axis1 = (int)g->i[1];
    int a0 = wg_norm_axis(axis0, x->ndim), a1 = wg_norm_axis(axis1, x->ndim);
    if (a0 < 0 || a1 < 0) {
        char sx[80];
        wg_tape_fail(t, WG_ERR_AXIS, "transpose: axes (%d, %d) out of range for %s", axis0, axis1,
                wg_fmt_shape(x, sx, sizeof sx));
        return 0;
    }
    g->out_ndim = x->ndim;
    for (int i = 0; i < x->ndim; i++) g->out[i] = x->shape[i == a0 ? a1 : i == a1 ? a0 : i];
    g->attr[0] = a0;
    g->attr[1] = a1;
    return 1;
}
const wg_op wg_op_transpose = {.name = "transpose", .id = WG_OP_transpose, .arity = 1, .shape = transpose_shape,
                               .fwd = transpose_fwd, .vjp = transpose_vjp, .vjp_ops = transpose_vjp_ops,
                               .jvp = transpose_jvp};

wg_tensor *wg_transpose(wg_tape *t, wg_tensor *x, int axis0, int axis1)
{
    if (!tape_ok(t, "transpose") || !wg_check_inputs(t, "transpose", 1, &x)) return NULL;
    wg_args g = {.n = 1, .x = &x, .i = {axis0, axis1}};
    wg_tensor *n = wg_node_of(t, &wg_op_transpose, &g);
    if (!n) return NULL;
    transpose_fwd(n);
    return wg_node_done(t, n);
}

/* ---- reshape -------------------------------------------------------------- */

/* gx += gy elementwise over x's size: shared by reshape (and nothing else
 * needs it, but it keeps the VJP one line). */
static void flat_acc(wg_tensor *x, const wg_tensor *n)
{
    WG_TYPED(n->dtype, {
        bool first;
        T *gx = wg_grad_first(x, &first);
        const T *gy = n->grad;
        if (!gx) return;
        if (first)
            memcpy(gx, gy, x->size * sizeof(T));
        else
            for (size_t i = 0; i < x->size; i++) gx[i] += gy[i];
    });
}

static void reshape_vjp(wg_tensor *n)
{
    if (wg_needs_grad(n->in[0])) flat_acc(n->in[0], n);
}
/* Shares its input's values; a one-element node keeps a copy inline (as
 * every one does), refreshed here for replay. */
static void alias_fwd(wg_tensor *n)
{
    if (n->data == &n->val) memcpy(&n->val, n->in[0]->data, n->size * wg_dtype_size(n->dtype));
}
static void reshape_fwd(wg_tensor *n) { alias_fwd(n); }
static wg_tensor *reshape_vjp_ops(wg_tape *t, wg_tensor *n, wg_tensor *gy, int i)
{
    return wg_reshape(t, gy, n->in[i]->ndim, n->in[i]->shape);
}
static wg_tensor *reshape_jvp(wg_tape *t, wg_tensor *n, wg_tensor *const *tx)
{
    return wg_reshape(t, tx[0], n->ndim, n->shape);
}
/* reshape's shape rule: the target, with at most one -1 inferred, of x's
 * element count. */
static int reshape_shape(wg_tape *t, const wg_op *op, wg_args *g)
{
    (void)op;
    const wg_tensor *x = g->x[0];
    const int ndim = g->ndim;
    const int64_t *shape = g->target;
    int64_t *s = g->out;
    char sx_buf[80]; /* x's shape, formatted only for an error */
#define SX wg_fmt_shape(x, sx_buf, sizeof sx_buf)
    if (ndim < 0 || ndim > WG_MAX_DIMS || (ndim > 0 && !shape)) {
        wg_tape_fail(t, WG_ERR_SHAPE, "reshape: ndim must be 0..%d with a shape, got %d for %s", WG_MAX_DIMS, ndim, SX);
        return 0;
    }
    int infer = -1;
    size_t known = 1, nz = 1; /* the product of all and of the nonzero dimensions */
    for (int i = 0; i < ndim; i++) {
        s[i] = shape[i];
        if (s[i] == -1 && infer < 0) {
            infer = i;
        } else if (s[i] < 0) {
            wg_tape_fail(t, WG_ERR_SHAPE, "reshape: invalid dimension %lld at axis %d for %s", (long long)s[i], i, SX);
            return 0;
        } else {
            /* The bound of wg_node_new: a wrapped product could match x's size. */
            if (s[i] && nz > WG_MAX_NUMEL / (size_t)s[i]) {
                wg_tape_fail(t, WG_ERR_SHAPE, "reshape: %s has %zu elements, the new shape is too large", SX, x->size);
                return 0;
            }
            nz *= s[i] ? (size_t)s[i] : 1;
            known *= (size_t)s[i];
        }
    }
    if (infer >= 0) {
        if (known == 0 || x->size % known) {
            wg_tape_fail(t, WG_ERR_SHAPE, "reshape: cannot infer axis %d: %zu elements of %s do not divide by %zu",
                    infer, x->size, SX, known);
            return 0;
        }
        s[infer] = (int64_t)(x->size / known);
        known = x->size;
    }
    if (known != x->size) {
        wg_tape_fail(t, WG_ERR_SHAPE, "reshape: %s has %zu elements, the new shape has %zu", SX, x->size, known);
        return 0;
    }
#undef SX
    g->out_ndim = ndim;
    return 1;
}
const wg_op wg_op_reshape = {.name = "reshape", .id = WG_OP_reshape, .arity = 1, .shape = reshape_shape,
                             .fwd = reshape_fwd, .vjp = reshape_vjp, .vjp_ops = reshape_vjp_ops, .jvp = reshape_jvp};

wg_tensor *wg_reshape(wg_tape *t, wg_tensor *x, int ndim, const int64_t *shape)
{
    if (!tape_ok(t, "reshape") || !wg_check_inputs(t, "reshape", 1, &x)) return NULL;
    wg_args g = {.n = 1, .x = &x, .ndim = ndim, .target = shape};
    if (!wg_op_reshape.shape(t, &wg_op_reshape, &g)) return NULL;
    wg_tensor *n = wg_node_alias(t, &wg_op_reshape, x, g.out_ndim, g.out);
    if (!n) return NULL;
    n->n_in = 1;
    n->in[0] = x;
    n->flags |= x->flags & WG_F_REQ;
    return wg_node_done(t, n);
}

/* ---- detach --------------------------------------------------------------- */

static void detach_vjp(wg_tensor *n) { (void)n; }
static void detach_fwd(wg_tensor *n) { alias_fwd(n); } /* shares its input's values (a copy for one element) */
/* No gradient and no tangent pass a detach, at any order. */
static wg_tensor *detach_vjp_ops(wg_tape *t, wg_tensor *n, wg_tensor *gy, int i)
{
    (void)gy;
    return wg_full_like(t, n->in[i], 0);
}
static wg_tensor *detach_jvp(wg_tape *t, wg_tensor *n, wg_tensor *const *tx)
{
    (void)t, (void)n, (void)tx;
    return NULL;
}
const wg_op wg_op_detach = {.name = "detach", .id = WG_OP_detach, .arity = 1, .shape = wg_same_shape,
                            .fwd = detach_fwd, .vjp = detach_vjp, .vjp_ops = detach_vjp_ops, .jvp = detach_jvp};

wg_tensor *wg_detach(wg_tape *t, wg_tensor *x)
{
    if (!tape_ok(t, "detach") || !wg_check_inputs(t, "detach", 1, &x)) return NULL;
    wg_args g = {.n = 1, .x = &x};
    if (!wg_op_detach.shape(t, &wg_op_detach, &g)) return NULL;
    wg_tensor *n = wg_node_alias(t, &wg_op_detach, x, g.out_ndim, g.out);
    if (!n) return NULL;
    n->n_in = 1;
    n->in[0] = x; /* kept for printing; REQ is not inherited, so no gradient flows */
    return n;
}

/* ---- slice and concat: copies of [outer, K, inner] slabs ------------------ */

/* dst[o, dst_off:dst_off+len, :] (+)= src[o, src_off:src_off+len, :] */
static void slab_copy(int dt, bool acc, void *dst, size_t dst_k, size_t dst_off, const void *src, size_t src_k,
                      size_t src_off, size_t len, size_t outer, size_t inner)
{
    WG_TYPED(dt, {
        T *d = dst;
        const T *s = src;
        size_t run = len * inner;
        for (size_t o = 0; o < outer; o++) {
            T *dr = d + (o * dst_k + dst_off) * inner;
            const T *sr = s + (o * src_k + src_off) * inner;
            if (acc)
                for (size_t i = 0; i < run; i++) dr[i] += sr[i];
            else
                memcpy(dr, sr, run * sizeof(T));
        }
    });
}

static void slice_vjp(wg_tensor *n)
{
    wg_tensor *x = n->in[0];
    if (!wg_needs_grad(x)) return;
    int ax = (int)n->attr.i[0];
    size_t outer, inner;
    axis_view(x->shape, x->ndim, ax, &outer, &inner);
    bool first;
    void *gx = wg_grad_first(x, &first);
    if (!gx) return;
    const size_t kx = (size_t)x->shape[ax], off = (size_t)n->attr.i[1], len = (size_t)n->shape[ax];
    if (first) { /* the slab is stored, the rest of each row zeroed: one pass, not memset then add */
        const size_t es = wg_dtype_size(n->dtype);
        for (size_t o = 0; o < outer; o++) {
            char *row = (char *)gx + o * kx * inner * es;
            memset(row, 0, off * inner * es);
            memset(row + (off + len) * inner * es, 0, (kx - off - len) * inner * es);
        }
    }
    slab_copy(n->dtype, !first, gx, kx, off, n->grad, len, 0, len, outer, inner);
}
static void slice_fwd(wg_tensor *n)
{
    const wg_tensor *x = n->in[0];
    int ax = (int)n->attr.i[0];
    size_t outer, inner;
    axis_view(x->shape, x->ndim, ax, &outer, &inner);
    slab_copy(n->dtype, false, n->data, (size_t)n->shape[ax], 0, x->data, (size_t)x->shape[ax],
              (size_t)n->attr.i[1], (size_t)n->shape[ax], outer, inner);
}
/* gy padded with zeros back to x's extent along the axis. */
static wg_tensor *slice_vjp_ops(wg_tape *t, wg_tensor *n, wg_tensor *gy, int i)
{
    const wg_tensor *x = n->in[i];
    int ax = (int)n->attr.i[0];
    int64_t before = n->attr.i[1], after = x->shape[ax] - before - n->shape[ax];
    wg_tensor *parts[3];
    int k = 0;
    int64_t shape[WG_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    if (before > 0) {
        shape[ax] = before;
        parts[k++] = wg_full(t, (wg_dtype)x->dtype, x->ndim, shape, 0);
    }
    parts[k++] = gy;
    if (after > 0) {
        shape[ax] = after;
        parts[k++] = wg_full(t, (wg_dtype)x->dtype, x->ndim, shape, 0);
    }
    return k == 1 ? gy : wg_concat(t, k, parts, ax);
}
static wg_tensor *slice_jvp(wg_tape *t, wg_tensor *n, wg_tensor *const *tx)
{
    return wg_slice(t, tx[0], (int)n->attr.i[0], n->attr.i[1], n->attr.i[1] + n->shape[n->attr.i[0]]);
}
/* slice's shape rule: x with axis i[0] cut to [i[1], i[2]) (negative
 * counts from the end, clamped as Python's slices); the node keeps the
 * axis, non-negative, and the clamped start. */
static int slice_shape(wg_tape *t, const wg_op *op, wg_args *g)
{
    (void)op;
    const wg_tensor *x = g->x[0];
    const int axis = (int)g->i[0];
    int64_t start = g->i[1], end = g->i[2];
    int ax = wg_norm_axis(axis, x->ndim);
    if (ax < 0) {
        char sx[80];
        wg_tape_fail(t, WG_ERR_AXIS, "slice: axis %d out of range for %s", axis, wg_fmt_shape(x, sx, sizeof sx));
        return 0;
    }
    int64_t k = x->shape[ax];
    if (start < 0) start += k;
    if (end < 0) end += k;
    start = start < 0 ? 0 : start > k ? k : start;
    end = end < start ? start : end > k ? k : end;
    g->out_ndim = x->ndim;
    memcpy(g->out, x->shape, sizeof g->out);
    g->out[ax] = end - start;
    g->attr[0] = ax;
    g->attr[1] = start;
    return 1;
}
const wg_op wg_op_slice = {.name = "slice", .id = WG_OP_slice, .arity = 1, .shape = slice_shape, .fwd = slice_fwd,
                           .vjp = slice_vjp, .vjp_ops = slice_vjp_ops, .jvp = slice_jvp};

wg_tensor *wg_slice(wg_tape *t, wg_tensor *x, int axis, int64_t start, int64_t end)
{
    if (!tape_ok(t, "slice") || !wg_check_inputs(t, "slice", 1, &x)) return NULL;
    wg_args g = {.n = 1, .x = &x, .i = {axis, start, end}};
    wg_tensor *n = wg_node_of(t, &wg_op_slice, &g);
    if (!n) return NULL;
    slice_fwd(n);
    return wg_node_done(t, n);
}

/* Each input's slab of the output along the axis: copied in (forward), or
 * the output's gradient added to the input's (VJP). */
static void concat_slabs(wg_tensor *n, bool vjp)
{
    wg_tensor **xs = n->aux;
    int ax = (int)n->attr.i[0], count = (int)n->attr.i[1];
    size_t outer, inner, off = 0;
    axis_view(n->shape, n->ndim, ax, &outer, &inner);
    for (int j = 0; j < count; j++) {
        size_t kj = (size_t)xs[j]->shape[ax];
        if (!vjp) {
            slab_copy(n->dtype, false, n->data, (size_t)n->shape[ax], off, xs[j]->data, kj, 0, kj, outer, inner);
        } else if (wg_needs_grad(xs[j])) {
            bool first; /* input j's gradient is its slab whole: stored on first */
            void *gx = wg_grad_first(xs[j], &first);
            if (!gx) return;
            slab_copy(n->dtype, !first, gx, kj, 0, n->grad, (size_t)n->shape[ax], off, kj, outer, inner);
        }
        off += kj;
    }
}
static void concat_vjp(wg_tensor *n) { concat_slabs(n, true); }
static void concat_fwd(wg_tensor *n) { concat_slabs(n, false); }
static int concat_n_inputs(const wg_tensor *n) { return (int)n->attr.i[1]; }
static wg_tensor *concat_input(const wg_tensor *n, int i) { return ((wg_tensor **)n->aux)[i]; }
/* Input i's part of gy. */
static wg_tensor *concat_vjp_ops(wg_tape *t, wg_tensor *n, wg_tensor *gy, int i)
{
    wg_tensor **xs = n->aux;
    int ax = (int)n->attr.i[0];
    int64_t off = 0;
    for (int j = 0; j < i; j++) off += xs[j]->shape[ax];
    return wg_slice(t, gy, ax, off, off + xs[i]->shape[ax]);
}
/* The inputs' tangents joined, zeros for those without. */
static wg_tensor *concat_jvp(wg_tape *t, wg_tensor *n, wg_tensor *const *tx)
{
    wg_tensor **xs = n->aux;
    int count = (int)n->attr.i[1];
    wg_tensor **parts = wg_arena_alloc(t, (size_t)count * sizeof *parts);
    if (!parts) return NULL;
    for (int j = 0; j < count; j++) parts[j] = tx[j] ? tx[j] : wg_full_like(t, xs[j], 0);
    return wg_concat(t, count, parts, (int)n->attr.i[0]);
}
/* concat's shape rule: inputs of one dtype and rank, equal but along axis
 * i[0], joined along it; the node keeps the axis, non-negative, and the
 * count. */
static int concat_shape(wg_tape *t, const wg_op *op, wg_args *g)
{
    (void)op;
    const int count = g->n, axis = (int)g->i[0];
    const wg_tensor *x0 = g->x[0];
    int ax = wg_norm_axis(axis, x0->ndim);
    char s0[80], sj[80]; /* formatted only for an error */
    if (ax < 0) {
        wg_tape_fail(t, WG_ERR_AXIS, "concat: axis %d out of range for %s", axis, wg_fmt_shape(x0, s0, sizeof s0));
        return 0;
    }
    g->out_ndim = x0->ndim;
    memcpy(g->out, x0->shape, sizeof g->out);
    g->out[ax] = 0;
    for (int j = 0; j < count; j++) {
        const wg_tensor *x = g->x[j];
        bool same = x->dtype == x0->dtype && x->ndim == x0->ndim;
        for (int i = 0; same && i < x0->ndim; i++) same = i == ax || x->shape[i] == x0->shape[i];
        if (!same) {
            wg_tape_fail(t, x->dtype != x0->dtype ? WG_ERR_DTYPE : WG_ERR_SHAPE,
                    "concat: tensor %d is %s, tensor 1 is %s (only axis %d may differ)", j + 1,
                    wg_fmt_shape(x, sj, sizeof sj), wg_fmt_shape(x0, s0, sizeof s0), ax);
            return 0;
        }
        if (x->shape[ax] > (int64_t)WG_MAX_NUMEL - g->out[ax]) {
            wg_tape_fail(t, WG_ERR_SHAPE, "concat: axis %d grows too long at tensor %d (%s)", ax, j + 1,
                    wg_fmt_shape(x, sj, sizeof sj));
            return 0;
        }
        g->out[ax] += x->shape[ax];
    }
    g->attr[0] = ax;
    g->attr[1] = count;
    return 1;
}
const wg_op wg_op_concat = {.name = "concat", .id = WG_OP_concat, .arity = -1, .shape = concat_shape,
                            .fwd = concat_fwd, .vjp = concat_vjp, .vjp_ops = concat_vjp_ops, .jvp = concat_jvp,
                            .n_inputs = concat_n_inputs, .input = concat_input};

wg_tensor *wg_concat(wg_tape *t, int count, wg_tensor *const *xs, int axis)
{
    if (!tape_ok(t, "concat") || t->status != WG_OK) return NULL;
    if (count < 1 || !xs) {
        wg_tape_fail(t, WG_ERR_ARG, "concat: needs at least one tensor, got %d", xs ? count : 0);
        return NULL;
    }
    if (!wg_check_handles(t, "concat", count, xs)) return NULL;
    wg_tensor **saved = wg_arena_alloc(t, (size_t)count * sizeof *saved);
    if (!saved) return NULL;
    memcpy(saved, xs, (size_t)count * sizeof *saved);
    if (!wg_check_inputs(t, "concat", count, saved)) return NULL; /* records as their mirrors */
    wg_args g = {.n = count, .x = saved, .i = {axis}};
    wg_tensor *n = wg_node_of(t, &wg_op_concat, &g);
    if (!n) return NULL;
    n->aux = saved;
    concat_fwd(n);
    return wg_node_done(t, n);
}
