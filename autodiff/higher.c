/* higher.c: gradients as tensors, forward mode, Jacobians and Hessians.
 *
 * Two backward passes share the tape's reverse walk:
 *
 *   numeric   the fast path (tape.c): each node's `vjp` kernel adds into
 *             gradient buffers.  Used for first order and for the last
 *             derivative of a higher-order one (a Hessian's rows).
 *   recorded  each node's `vjp_ops` returns its inputs' cotangents as new
 *             nodes, summed per node through the table's add.  The
 *             cotangents live in t->gmap, by node id, for one pass; the
 *             nodes they make are appended to the tape after everything the
 *             walk visits, so the walk never meets them.
 *
 * Nothing here knows which op a node is: every rule comes from its entry.
 *
 * The functional forms (wg_grad_of and the drivers) must not touch leaf
 * gradient buffers, which accumulate over passes and may be a parameter's.
 * The numeric one parks the reachable leaves' buffers for the pass: their
 * gradients land in fresh arena buffers, which are read, then the leaves
 * get their own buffers back.
 */
#include <math.h>

#include "wg_higher.h"
#include "wg_internal.h"

static int tape_ok(wg_tape *t, const char *fn)
{
    if (!t) {
        wg_set_last_error("%s: invalid handle: the tape is NULL", fn);
        return 0;
    }
    return t->status == WG_OK;
}

/* n handles of t, each live, names fn in the error: the list itself, or a
 * copy with records' mirrors (wg_check_list); NULL on error. */
static wg_tensor *const *check_list(wg_tape *t, const char *fn, int n, wg_tensor *const *xs)
{
    if (n < 0 || (n > 0 && !xs)) {
        wg_tape_fail(t, WG_ERR_ARG, "%s: needs a list of %d tensors, got %s", fn, n, xs ? "a negative count" : "NULL");
        return NULL;
    }
    static wg_tensor *const none[1] = {NULL};
    return n == 0 ? none : wg_check_list(t, fn, n, xs);
}

/* 1 + the id of the newest of outs that requires a gradient, or 0 if none. */
static size_t newest_req(int k, wg_tensor *const *outs)
{
    size_t top = 0;
    for (int j = 0; j < k; j++)
        if (wg_h_req(outs[j]) && wg_h_id(outs[j]) + (size_t)1 > top) top = wg_h_id(outs[j]) + (size_t)1;
    return top;
}

/* ---- the recorded pass --------------------------------------------------- */

/* Fill t->gmap with the recorded cotangents of every node that leads to one
 * of outs (seeded with seeds[j], or ones).  *top is 1 + the id of the newest
 * output walked from (0 when none requires a gradient); 0 / -1. */
static int walk(wg_tape *t, int k, wg_tensor *const *outs, wg_tensor *const *seeds, uint32_t stop, size_t *top);
/* The recorded backward: gmap[id] is each node's cotangent, as a node, for
 * the nodes from id `stop` on (older ones are neither walked nor given a
 * cotangent: a gradient with respect to a node late on a long tape costs
 * the part of the tape after it, not the whole).  In t->in_walk, so that a
 * VJP rule cannot start another pass over gmap.  A record is walked as its
 * mirror (wg_solid), whose id it shares. */
static int recorded_walk(wg_tape *t, int k, wg_tensor *const *outs, wg_tensor *const *seeds, uint32_t stop,
                         size_t *top)
{
    *top = 0;
    if (!wg_not_in_backward(t, "grad_of")) return -1;
    t->in_walk = true;
    int rc = walk(t, k, outs, seeds, stop, top);
    t->in_walk = false;
    t->bw_node = NULL;
    return rc;
}
static int walk(wg_tape *t, int k, wg_tensor *const *outs, wg_tensor *const *seeds, uint32_t stop, size_t *top)
{
    *top = newest_req(k, outs);
    if (!*top || *top - 1 < stop) return 0; /* no wanted node is older than an output */
    const size_t n0 = *top;
    if (!wg_idmap_reserve(t, &t->gmap, &t->gmap_cap, n0)) return -1;
    memset(t->gmap + stop, 0, (n0 - stop) * sizeof *t->gmap);
    wg_tensor *(*add)(wg_tape *, wg_tensor *, wg_tensor *) = wg_op_table[WG_OP_add]->binary;
    for (int j = 0; j < k; j++) {
        wg_tensor *out = outs[j];
        const uint32_t id = wg_h_id(out);
        if (!wg_h_req(out) || id < stop) continue;
        wg_tensor *s = seeds && seeds[j] ? seeds[j] : wg_full_like(t, out, 1);
        if (!s) return -1;
        t->gmap[id] = t->gmap[id] ? add(t, t->gmap[id], s) : s;
    }
    for (size_t id = n0 - 1; id > stop; id--) {
        wg_tensor *gy = t->gmap[id];
        if (!gy) continue;
        wg_tensor *n = wg_solid(t, wg_handle_at(t, id));
        if (!n) return -1;
        if (n->flags & WG_F_LEAF) continue;
        if (!n->op->vjp_ops) {
            wg_tape_fail(t, WG_ERR_ARG,
                    "%s: no recorded VJP: a create-graph backward (second order) cannot pass through this op",
                    n->op->name);
            return -1;
        }
        t->bw_node = n;
        for (int i = 0, m = wg_node_n_in(n); i < m; i++) {
            wg_tensor *x = wg_node_in(n, i); /* a node, or a record (a mirror's input) */
            if (!x || !wg_h_req(x) || wg_h_id(x) < stop) continue;
            const uint32_t xid = wg_h_id(x);
            wg_tensor *gx = n->op->vjp_ops(t, n, gy, i);
            if (!gx || t->status != WG_OK) {
                if (t->status == WG_OK)
                    wg_tape_fail(t, WG_ERR_ARG, "%s: its recorded VJP returned no tensor for input %d", n->op->name,
                            i + 1);
                t->bw_node = NULL;
                return -1;
            }
            t->gmap[xid] = t->gmap[xid] ? add(t, t->gmap[xid], gx) : gx;
        }
    }
    t->bw_node = NULL;
    return t->status == WG_OK ? 0 : -1;
}

/* x's recorded cotangent after a walk up to id top - 1, or zeros. */
static wg_tensor *walked_grad(wg_tape *t, size_t top, wg_tensor *x)
{
    wg_tensor *g = x->id < top ? t->gmap[x->id] : NULL;
    return g ? g : wg_full_like(t, x, 0);
}

/* ---- the numeric functional pass ---------------------------------------- */

typedef struct {
    wg_tensor *node;
    void *grad;
    double gval;
    uint32_t grad_epoch;
} parked_leaf;

/* The leaf of slot id that requires a gradient, or NULL. */
static wg_tensor *req_leaf(const wg_tape *t, size_t id)
{
    const wg_rec *s = wg_slot(t, id);
    if (!(s->tag & WG_R_FULL)) return NULL;
    wg_tensor *x = s->in.node;
    return (x->flags & (WG_F_LEAF | WG_F_REQ)) == (WG_F_LEAF | WG_F_REQ) ? x : NULL;
}

/* The numeric backward from outs with seeds, and each xs[i]'s gradient
 * written as a constant node gs[i] (gs non-NULL) or as doubles into flat
 * (the xs' elements in order; flat non-NULL).  Leaf buffers are parked. */
static int numeric_grads(wg_tape *t, int k, wg_tensor *const *outs, wg_tensor *const *seeds, int n,
                         wg_tensor *const *xs, wg_tensor **gs, double *flat)
{
    if (!wg_not_in_backward(t, "grad_of")) return -1; /* before the parking: scratch is the pass's */
    const size_t top = newest_req(k, outs);
    size_t n_leaves = 0;
    for (size_t id = 0; id < top; id++) n_leaves += req_leaf(t, id) != NULL;
    if (n_leaves * sizeof(parked_leaf) > t->scratch_cap) {
        void *p = realloc(t->scratch, n_leaves * sizeof(parked_leaf));
        if (!p) {
            wg_tape_fail(t, WG_ERR_NOMEM, "grad_of: out of memory for %zu leaves", n_leaves);
            return -1;
        }
        t->scratch = p;
        t->scratch_cap = n_leaves * sizeof(parked_leaf);
    }
    parked_leaf *park = t->scratch;
    size_t j = 0;
    for (size_t id = top; id-- > 0;) {
        wg_tensor *x = req_leaf(t, id);
        if (!x) continue;
        park[j++] = (parked_leaf){x, x->grad, x->gval.d, x->grad_epoch};
        x->grad = NULL; /* a fresh, zeroed buffer for this pass (wg_grad_buf) */
    }
    /* The gradient hook (dist/, an optimiser in backward) is for the
     * parameters' own gradients, which this pass leaves alone. */
    void (*hook)(wg_param *, void *) = t->grad_hook;
    t->grad_hook = NULL;
    int rc = wg_backward_many(t, k, outs, (const wg_tensor *const *)seeds);
    t->grad_hook = hook;
    size_t off = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        wg_tensor *x = xs[i];
        const void *g = wg_grad(x);
        if (x->id >= top) g = NULL; /* recorded later: out does not depend on it */
        if (flat) {
            for (size_t e = 0; e < x->size; e++)
                flat[off + e] = !g ? 0.0 : x->dtype == WG_F32 ? (double)((const float *)g)[e] : ((const double *)g)[e];
            off += x->size;
        }
        if (gs && !(gs[i] = g ? wg_const_like(t, x, g) : wg_full_like(t, x, 0))) rc = -1;
    }
    while (j-- > 0) {
        park[j].node->grad = park[j].grad;
        park[j].node->gval.d = park[j].gval;
        park[j].node->grad_epoch = park[j].grad_epoch;
    }
    return rc;
}

/* ---- gradients as tensors ------------------------------------------------- */

int wg_grad_of(wg_tape *t, wg_tensor *out, const wg_tensor *seed, int n, wg_tensor *const *xs, wg_tensor **gs,
               bool create_graph)
{
    if (!tape_ok(t, "grad_of")) return -1;
    wg_tensor *chk[2] = {out, (wg_tensor *)seed};
    if (!wg_check_inputs(t, "grad_of", seed ? 2 : 1, chk) || !(xs = check_list(t, "grad_of", n, xs))) return -1;
    out = chk[0], seed = chk[1];
    if (n > 0 && !gs) {
        wg_tape_fail(t, WG_ERR_ARG, "grad_of: the output array gs is NULL");
        return -1;
    }
    if (!wg_seed_ok(t, out, seed)) return -1;
    if (!create_graph) {
        wg_tensor *s = (wg_tensor *)seed;
        return numeric_grads(t, 1, &out, &s, n, xs, gs, NULL);
    }
    wg_tensor *s = (wg_tensor *)seed;
    size_t top;
    uint32_t oldest = UINT32_MAX; /* the walk ends at the oldest x */
    for (int i = 0; i < n; i++) oldest = xs[i]->id < oldest ? xs[i]->id : oldest;
    if (recorded_walk(t, 1, &out, &s, oldest, &top) != 0) return -1;
    for (int i = 0; i < n; i++)
        if (!(gs[i] = walked_grad(t, top, xs[i]))) return -1;
    return 0;
}

int wg_backward_ex(wg_tape *t, wg_tensor *out, const wg_tensor *seed, unsigned flags)
{
    if (!(flags & WG_CREATE_GRAPH)) return seed ? wg_backward_seed(t, out, seed) : wg_backward(t, out);
    if (!tape_ok(t, "backward")) return -1;
    wg_tensor *chk[2] = {out, (wg_tensor *)seed};
    if (!wg_check_inputs(t, "backward", seed ? 2 : 1, chk)) return -1;
    out = chk[0], seed = chk[1];
    if (!wg_seed_ok(t, out, seed)) return -1;
    wg_tensor *s = (wg_tensor *)seed;
    size_t top;
    if (recorded_walk(t, 1, &out, &s, 0, &top) != 0) return -1;
    if (!top) return 0;
    if (++t->epoch == 0) t->epoch = 1;
    wg_tensor *(*add)(wg_tape *, wg_tensor *, wg_tensor *) = wg_op_table[WG_OP_add]->binary;
    /* Every leaf the walk reached: its value into its own buffer, its node
     * into lgrad, both accumulating as PyTorch's .grad does. */
    for (size_t id = top; id-- > 0;) {
        const wg_rec *sl = wg_slot(t, id);
        wg_tensor *x = (sl->tag & WG_R_FULL) ? sl->in.node : NULL;
        wg_tensor *g = x && (x->flags & WG_F_LEAF) ? t->gmap[id] : NULL;
        if (!g) continue;
        void *buf = wg_grad_buf(x);
        if (!buf || !wg_idmap_reserve(t, &t->lgrad, &t->lgrad_cap, x->id)) return -1;
        WG_TYPED(x->dtype, {
            T *b = buf;
            const T *gp = wg_is_rec(g) ? (const T *)&((const wg_rec *)g)->val : (const T *)g->data; /* a record: 0-d */
            for (size_t e = 0; e < x->size; e++) b[e] += gp[e];
        });
        t->lgrad[x->id] = t->lgrad[x->id] ? add(t, t->lgrad[x->id], g) : g;
        if (x->id >= t->lgrad_hi) t->lgrad_hi = x->id + 1;
        if (t->status != WG_OK) return -1;
        /* its .grad is final: the hook, as in the numeric backward */
        if ((x->flags & WG_F_PARAM) && t->grad_hook) t->grad_hook(x->aux, t->grad_hook_ctx);
    }
    return 0;
}

wg_tensor *wg_grad_tensor(const wg_tensor *x_)
{
    wg_tensor view;
    const wg_tensor *x = wg_reader(x_, "grad_tensor", &view);
    if (!x) return NULL;
    const wg_tape *t = x->tape;
    return x->id < t->lgrad_hi ? t->lgrad[x->id] : NULL;
}

/* ---- forward mode ---------------------------------------------------------- */

static int set_tangent(wg_tape *t, const char *fn, int level, wg_tensor *x, wg_tensor *tx)
{
    if (!tape_ok(t, fn)) return -1;
    if (level < 0 || level >= WG_TANGENT_LEVELS) {
        wg_tape_fail(t, WG_ERR_ARG, "%s: level %d is out of range: levels are 0..%d", fn, level,
                     WG_TANGENT_LEVELS - 1);
        return -1;
    }
    wg_tensor *xs[2] = {x, tx};
    if (!wg_check_inputs(t, fn, 2, xs)) return -1;
    x = xs[0], tx = xs[1];
    if (x->dtype != tx->dtype || x->ndim != tx->ndim || memcmp(x->shape, tx->shape, sizeof x->shape) != 0) {
        char sx[80], st[80];
        wg_tape_fail(t, WG_ERR_SHAPE, "%s: the tangent must match the tensor: tensor is %s, tangent is %s", fn,
                     wg_fmt_shape(x, sx, sizeof sx), wg_fmt_shape(tx, st, sizeof st));
        return -1;
    }
    struct wg_tan_level *L = &t->lvl[level];
    if (!wg_idmap_reserve(t, &L->tan, &L->cap, x->id)) return -1;
    L->tan[x->id] = tx;
    if (x->id >= L->hi) L->hi = x->id + 1;
    t->fwd_active = true; /* ops now take their general paths, which propagate */
    wg_tape_update_fast(t);
    return 0;
}

int wg_set_tangent(wg_tape *t, wg_tensor *x, wg_tensor *tx) { return set_tangent(t, "set_tangent", 0, x, tx); }
int wg_set_tangent_at(wg_tape *t, int level, wg_tensor *x, wg_tensor *tx)
{
    return set_tangent(t, "set_tangent_at", level, x, tx);
}

static wg_tensor *tangent(const wg_tensor *x_, const char *fn, int level)
{
    wg_tensor view;
    const wg_tensor *x = wg_reader(x_, fn, &view);
    if (!x) return NULL;
    wg_tape *t = x->tape;
    if (level < 0 || level >= WG_TANGENT_LEVELS) {
        if (t->status == WG_OK)
            wg_tape_fail(t, WG_ERR_ARG, "%s: level %d is out of range: levels are 0..%d", fn, level,
                         WG_TANGENT_LEVELS - 1);
        return NULL;
    }
    const struct wg_tan_level *L = &t->lvl[level];
    return x->id < L->hi ? L->tan[x->id] : NULL;
}

wg_tensor *wg_tangent(const wg_tensor *x) { return tangent(x, "tangent", 0); }
wg_tensor *wg_tangent_at(const wg_tensor *x, int level) { return tangent(x, "tangent_at", level); }

/* ---- on a recorded graph ------------------------------------------------------ */

static size_t total_size(int n, wg_tensor *const *xs)
{
    size_t N = 0;
    for (int i = 0; i < n; i++) N += xs[i]->size;
    return N;
}

/* A constant one-hot of x's shape, to be moved with set_onehot. */
static void set_onehot(wg_tensor *s, size_t at, double v)
{
    if (s->dtype == WG_F32)
        ((float *)s->data)[at] = (float)v;
    else
        ((double *)s->data)[at] = v;
}

static int scalar_out(wg_tape *t, const char *fn, const wg_tensor *out)
{
    if (out->size != 1) {
        char so[80];
        wg_tape_fail(t, WG_ERR_SHAPE, "%s: the output must have one element, got %s", fn,
                wg_fmt_shape(out, so, sizeof so));
        return 0;
    }
    return 1;
}

int wg_hessian_of(wg_tape *t, wg_tensor *out, int n, wg_tensor *const *xs, double *H)
{
    if (!tape_ok(t, "hessian") || !wg_check_inputs(t, "hessian", 1, &out) || !(xs = check_list(t, "hessian", n, xs)))
        return -1;
    if (!scalar_out(t, "hessian", out)) return -1;
    if (!H) {
        wg_tape_fail(t, WG_ERR_ARG, "hessian: the result array is NULL");
        return -1;
    }
    const size_t N = total_size(n, xs);
    wg_tensor *small[16], **g = n <= 16 ? small : wg_arena_alloc(t, (size_t)n * sizeof *g);
    if (!g || wg_grad_of(t, out, NULL, n, xs, g, true) != 0) return -1;
    for (int i = 0; i < n; i++)
        if (!(g[i] = wg_solid(t, g[i]))) return -1; /* read below as nodes */
    size_t row = 0;
    for (int i = 0; i < n; i++) {
        /* Row r of H: the gradient of g_i[e] = the backward from g_i seeded with e. */
        wg_tensor *seed = wg_full_like(t, g[i], 0);
        if (!seed) return -1;
        for (size_t e = 0; e < g[i]->size; e++, row++) {
            set_onehot(seed, e, 1);
            wg_tensor *s = seed;
            if (numeric_grads(t, 1, &g[i], &s, n, xs, NULL, H + row * N) != 0) return -1;
            set_onehot(seed, e, 0);
        }
    }
    return 0;
}

int wg_jacobian_of(wg_tape *t, wg_tensor *out, int n, wg_tensor *const *xs, double *J)
{
    if (!tape_ok(t, "jacobian") || !wg_check_inputs(t, "jacobian", 1, &out) ||
        !(xs = check_list(t, "jacobian", n, xs)))
        return -1;
    if (!J) {
        wg_tape_fail(t, WG_ERR_ARG, "jacobian: the result array is NULL");
        return -1;
    }
    const size_t N = total_size(n, xs);
    wg_tensor *seed = wg_full_like(t, out, 0);
    if (!seed) return -1;
    for (size_t r = 0; r < out->size; r++) {
        set_onehot(seed, r, 1);
        wg_tensor *s = seed;
        if (numeric_grads(t, 1, &out, &s, n, xs, NULL, J + r * N) != 0) return -1;
        set_onehot(seed, r, 0);
    }
    return 0;
}

int wg_hvp_of(wg_tape *t, wg_tensor *out, int n, wg_tensor *const *xs, wg_tensor *const *v, wg_tensor **hv)
{
    if (!tape_ok(t, "hvp") || !wg_check_inputs(t, "hvp", 1, &out) || !(xs = check_list(t, "hvp", n, xs)) ||
        !(v = check_list(t, "hvp", n, v)))
        return -1;
    if (!scalar_out(t, "hvp", out)) return -1;
    if (n > 0 && !hv) {
        wg_tape_fail(t, WG_ERR_ARG, "hvp: the output array is NULL");
        return -1;
    }
    wg_tensor *small[16], **g = n <= 16 ? small : wg_arena_alloc(t, (size_t)n * sizeof *g);
    if (!g || wg_grad_of(t, out, NULL, n, xs, g, true) != 0) return -1;
    for (int i = 0; i < n; i++)
        if (!wg_seed_ok(t, g[i], v[i])) return -1;
    return numeric_grads(t, n, g, v, n, xs, hv, NULL);
}

/* ---- drivers over a function ---------------------------------------------------- */

enum { MAX_FN_INPUTS = 64 };

static int fn_args_ok(wg_tape *t, const char *fn, wg_fn f, int n, wg_param *const *ps)
{
    if (!t) {
        wg_set_last_error("%s: invalid handle: the tape is NULL", fn);
        return 0;
    }
    wg_tape_reset(t);
    if (!f || n < 1 || n > MAX_FN_INPUTS || !ps) {
        wg_tape_fail(t, WG_ERR_ARG, "%s: needs a function and 1..%d parameters, got %d", fn, MAX_FN_INPUTS, n);
        return 0;
    }
    return 1;
}

/* Leaves for the parameters, then f; NULL on error (on the tape). */
static wg_tensor *record_fn(wg_tape *t, const char *fn, wg_fn f, void *ctx, int n, wg_param *const *ps,
                            wg_tensor **leaves, const double *tangent, size_t onehot)
{
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        if (!(leaves[i] = wg_use(t, ps[i]))) return NULL;
        wg_tensor *tx = NULL;
        if (tangent) {
            tx = wg_tensor_new(t, ps[i]->dtype, ps[i]->ndim, ps[i]->shape, NULL, false);
            if (!tx) return NULL;
            for (size_t e = 0; e < ps[i]->numel; e++) set_onehot(tx, e, tangent[off + e]);
        } else if (onehot != SIZE_MAX && onehot >= off && onehot < off + ps[i]->numel) {
            tx = wg_full(t, ps[i]->dtype, ps[i]->ndim, ps[i]->shape, 0);
            if (!tx) return NULL;
            set_onehot(tx, onehot - off, 1);
        }
        if (tx && wg_set_tangent(t, leaves[i], tx) != 0) return NULL;
        off += ps[i]->numel;
    }
    wg_tensor *out = f(t, leaves, ctx);
    if (!out && t->status == WG_OK) wg_tape_fail(t, WG_ERR_ARG, "%s: the function returned NULL", fn);
    return t->status == WG_OK ? out : NULL;
}

static size_t params_size(int n, wg_param *const *ps)
{
    size_t N = 0;
    for (int i = 0; i < n; i++) N += ps[i] ? ps[i]->numel : 0;
    return N;
}

static void tensor_to_doubles(const wg_tensor *x, double *dst)
{
    for (size_t e = 0; e < x->size; e++)
        dst[e] = x->dtype == WG_F32 ? (double)((const float *)x->data)[e] : ((const double *)x->data)[e];
}

int wg_jacobian(wg_tape *t, wg_fn f, void *ctx, int n, wg_param *const *xs, wg_ad_mode mode, size_t m, double *J)
{
    if (!fn_args_ok(t, "jacobian", f, n, xs)) return -1;
    wg_tensor *leaves[MAX_FN_INPUTS];
    const size_t N = params_size(n, xs);
    if (mode == WG_MODE_REVERSE) {
        wg_tensor *out = record_fn(t, "jacobian", f, ctx, n, xs, leaves, NULL, SIZE_MAX);
        if (!out) return -1;
        if (out->size != m) {
            wg_tape_fail(t, WG_ERR_SHAPE, "jacobian: the function's output has %zu elements, m is %zu", out->size, m);
            return -1;
        }
        return wg_jacobian_of(t, out, n, leaves, J);
    }
    /* Forward: one pass with a one-hot tangent per input element: column c. */
    for (size_t c = 0; c < N; c++) {
        wg_tape_reset(t);
        wg_tensor *out = record_fn(t, "jacobian", f, ctx, n, xs, leaves, NULL, c);
        if (!out) return -1;
        if (out->size != m) {
            wg_tape_fail(t, WG_ERR_SHAPE, "jacobian: the function's output has %zu elements, m is %zu", out->size, m);
            return -1;
        }
        wg_tensor *ty = wg_tangent(out);
        for (size_t r = 0; r < m; r++)
            J[r * N + c] = !ty ? 0.0 : ty->dtype == WG_F32 ? (double)((const float *)ty->data)[r]
                                                            : ((const double *)ty->data)[r];
    }
    return 0;
}

int wg_hessian(wg_tape *t, wg_fn f, void *ctx, int n, wg_param *const *xs, double *H)
{
    if (!fn_args_ok(t, "hessian", f, n, xs)) return -1;
    wg_tensor *leaves[MAX_FN_INPUTS];
    wg_tensor *out = record_fn(t, "hessian", f, ctx, n, xs, leaves, NULL, SIZE_MAX);
    return out ? wg_hessian_of(t, out, n, leaves, H) : -1;
}

int wg_hvp(wg_tape *t, wg_fn f, void *ctx, int n, wg_param *const *xs, const double *v, double *hv, wg_ad_mode mode)
{
    if (!fn_args_ok(t, "hvp", f, n, xs)) return -1;
    if (!v || !hv) {
        wg_tape_fail(t, WG_ERR_ARG, "hvp: v or hv is NULL");
        return -1;
    }
    wg_tensor *leaves[MAX_FN_INPUTS], *g[MAX_FN_INPUTS];
    size_t off = 0;
    if (mode == WG_MODE_FORWARD) {
        /* Forward-over-reverse: tangents v on the leaves; the recorded
         * gradient's tangent is H v. */
        wg_tensor *out = record_fn(t, "hvp", f, ctx, n, xs, leaves, v, SIZE_MAX);
        if (!out || !scalar_out(t, "hvp", out) || wg_grad_of(t, out, NULL, n, leaves, g, true) != 0) return -1;
        for (int i = 0; i < n; i++, off += xs[i - 1]->numel) {
            wg_tensor *tg = wg_tangent(g[i]);
            if (tg)
                tensor_to_doubles(tg, hv + off);
            else
                memset(hv + off, 0, xs[i]->numel * sizeof *hv);
        }
        return 0;
    }
    wg_tensor *out = record_fn(t, "hvp", f, ctx, n, xs, leaves, NULL, SIZE_MAX);
    if (!out) return -1;
    wg_tensor *vt[MAX_FN_INPUTS], *hvt[MAX_FN_INPUTS];
    for (int i = 0; i < n; i++) {
        if (!(vt[i] = wg_tensor_new(t, xs[i]->dtype, xs[i]->ndim, xs[i]->shape, NULL, false))) return -1;
        for (size_t e = 0; e < xs[i]->numel; e++) set_onehot(vt[i], e, v[off + e]);
        off += xs[i]->numel;
    }
    if (wg_hvp_of(t, out, n, leaves, vt, hvt) != 0) return -1;
    off = 0;
    for (int i = 0; i < n; i++) {
        tensor_to_doubles(hvt[i], hv + off);
        off += xs[i]->numel;
    }
    return 0;
}
