/* custom.c: users' ops, recorded like primitives.
 *
 * A registered op is a table entry of its own: a copy of wg_op_custom below
 * with the user's name, whose rules call the user's callbacks.  Its nodes
 * keep their inputs in aux (any count up to WG_CUSTOM_MAX_IN), so they reach
 * the tape, backward and forward mode through the entry's n_inputs/input.
 * A missing vjp_ops or jvp_ops leaves the entry's rule NULL, so a
 * create-graph pass or a tangent through the op is a tape error naming it,
 * never a silently wrong number.
 *
 *   forward   def->forward(ctx, n, x, y, y's values)
 *   VJP       def->vjp: gx[i] += J_i^T gy for each input needing a gradient
 *   recorded  def->vjp_ops; JVP def->jvp_ops (both optional)
 */
#include "wg_higher.h"
#include "wg_internal.h"

enum { WG_CUSTOM_MAX_IN = 8 };

struct wg_custom_op {
    wg_op op; /* first: a node's op pointer is the registration */
    wg_custom_def def;
    char name[64];
};

static const struct wg_custom_op *reg_of(const wg_tensor *n) { return (const struct wg_custom_op *)n->op; }
static int custom_n_inputs(const wg_tensor *n) { return (int)n->attr.i[0]; }
static wg_tensor *custom_input(const wg_tensor *n, int i) { return ((wg_tensor **)n->aux)[i]; }

static void custom_fwd(wg_tensor *n)
{
    const struct wg_custom_op *r = reg_of(n);
    r->def.forward(r->def.ctx, (int)n->attr.i[0], n->aux, n, n->data);
}

static void custom_vjp(wg_tensor *n)
{
    const struct wg_custom_op *r = reg_of(n);
    wg_tensor **xs = n->aux;
    const int k = (int)n->attr.i[0];
    void *gx[WG_CUSTOM_MAX_IN] = {0};
    bool any = false;
    for (int i = 0; i < k; i++) {
        if (!wg_needs_grad(xs[i])) continue;
        if (!(gx[i] = wg_grad_buf(xs[i]))) return;
        any = true;
    }
    if (any) r->def.vjp(r->def.ctx, k, xs, n, n->grad, gx);
}

static wg_tensor *custom_vjp_ops(wg_tape *t, wg_tensor *n, wg_tensor *gy, int i)
{
    const struct wg_custom_op *r = reg_of(n);
    return r->def.vjp_ops(t, r->def.ctx, (int)n->attr.i[0], n->aux, n, gy, i);
}

static wg_tensor *custom_jvp(wg_tape *t, wg_tensor *n, wg_tensor *const *tx)
{
    const struct wg_custom_op *r = reg_of(n);
    return r->def.jvp_ops(t, r->def.ctx, (int)n->attr.i[0], n->aux, n, tx);
}

/* The shape rule: inputs of one dtype, then the user's rule (or the first
 * input's shape).  The node keeps the input count. */
static int custom_shape(wg_tape *t, const wg_op *op, wg_args *g)
{
    const struct wg_custom_op *r = (const struct wg_custom_op *)op;
    const int n = g->n;
    wg_tensor *const *xs = g->x;
    for (int i = 1; i < n; i++)
        if (xs[i]->dtype != xs[0]->dtype) {
            char s0[80], si[80];
            wg_tape_fail(t, WG_ERR_DTYPE, "%s: dtype mismatch: input 1 is %s, input %d is %s", op->name,
                    wg_fmt_shape(xs[0], s0, sizeof s0), i + 1, wg_fmt_shape(xs[i], si, sizeof si));
            return 0;
        }
    g->out_ndim = xs[0]->ndim;
    memcpy(g->out, xs[0]->shape, sizeof g->out);
    if (r->def.shape) {
        if (r->def.shape(r->def.ctx, n, xs, &g->out_ndim, g->out) != 0 || g->out_ndim < 0 ||
            g->out_ndim > WG_MAX_DIMS) {
            if (t->status == WG_OK) wg_tape_fail(t, WG_ERR_SHAPE, "%s: the op's shape rule refused its inputs", op->name);
            return 0;
        }
    }
    g->attr[0] = n;
    return 1;
}

/* The template every registration copies; on its own it records nothing
 * (wg_custom takes only registrations). */
const wg_op wg_op_custom = {.name = "custom", .id = WG_OP_custom, .arity = -1, .shape = custom_shape, .fwd = custom_fwd,
                            .vjp = custom_vjp, .vjp_ops = custom_vjp_ops, .jvp = custom_jvp,
                            .n_inputs = custom_n_inputs, .input = custom_input};

wg_custom_op *wg_custom_register(const wg_custom_def *def)
{
    if (!def || !def->name || !def->name[0] || !def->forward || !def->vjp) {
        wg_set_last_error("custom_register: a definition needs a name, forward and vjp%s",
                          def && def->name ? "" : " (the name is NULL)");
        return NULL;
    }
    if (def->n_inputs < 1 || def->n_inputs > WG_CUSTOM_MAX_IN) {
        wg_set_last_error("custom_register: %.63s: n_inputs must be 1..%d, got %d", def->name, WG_CUSTOM_MAX_IN,
                          def->n_inputs);
        return NULL;
    }
    if (strlen(def->name) >= sizeof ((struct wg_custom_op *)0)->name) {
        wg_set_last_error("custom_register: the name '%.40s...' is longer than 63 bytes", def->name);
        return NULL;
    }
    struct wg_custom_op *r = calloc(1, sizeof *r);
    if (!r) {
        wg_set_last_error("custom_register: %s: out of memory", def->name);
        return NULL;
    }
    r->def = *def;
    strcpy(r->name, def->name);
    r->def.name = r->name;
    r->op = wg_op_custom;
    r->op.name = r->name;
    r->op.arity = def->n_inputs;
    if (!def->vjp_ops) r->op.vjp_ops = NULL;
    if (!def->jvp_ops) r->op.jvp = NULL;
    return r;
}

void wg_custom_free(wg_custom_op *op) { free(op); }

wg_tensor *wg_custom(wg_tape *t, const wg_custom_op *op, int n, wg_tensor *const *xs)
{
    if (!t) {
        wg_set_last_error("custom: invalid handle: the tape is NULL");
        return NULL;
    }
    if (t->status != WG_OK) return NULL;
    if (!op) {
        wg_tape_fail(t, WG_ERR_HANDLE, "custom: invalid handle: the op is NULL");
        return NULL;
    }
    const char *name = op->name;
    if (n != op->def.n_inputs || !xs) {
        wg_tape_fail(t, WG_ERR_ARG, "%s: takes %d inputs, got %d%s", name, op->def.n_inputs, n, xs ? "" : " (NULL list)");
        return NULL;
    }
    if (!wg_check_handles(t, name, n, xs)) return NULL;
    wg_tensor **saved = wg_arena_alloc(t, (size_t)n * sizeof *saved);
    if (!saved) return NULL;
    memcpy(saved, xs, (size_t)n * sizeof *saved);
    if (!wg_check_inputs(t, name, n, saved)) return NULL; /* records as their mirrors */
    wg_args g = {.n = n, .x = saved};
    wg_tensor *node = wg_node_of(t, &op->op, &g);
    if (!node) return NULL;
    node->aux = saved;
    if (op->def.forward(op->def.ctx, n, saved, node, node->data) != 0) {
        if (t->status == WG_OK) wg_tape_fail(t, WG_ERR_ARG, "%s: the op's forward failed", name);
        return NULL;
    }
    return wg_node_done(t, node);
}
