/* replay_check.h: test_replay's gc(), which test_gradcheck.c uses instead of
 * its gradient check when built as test_replay (WG_GC_REPLAY): so every
 * case of that file, generated from ops.def, is also a replay case.
 *
 * A case: the function is recorded once at random inputs (the parameters'
 * data, read through wg_use, so a 0-d input is the inline copy replay must
 * refresh), reduced to a scalar with a random cotangent r, and
 * differentiated; then new random inputs from the same distributions are
 * written into the parameters, the tape is replayed (wg_tape_replay) and
 * differentiated again.  A second tape records the same function at the new
 * inputs.  Every node's value on the replayed tape must equal the fresh
 * tape's node at the same position, and the gradients must be equal: the
 * same kernels on the same numbers, so equal to the last bit (NaN equals
 * NaN).  The inputs avoid kinks, but max/min/abs/max_axis may decide
 * differently at the new inputs than at the old ones, which is the point. */
#ifndef REPLAY_CHECK_H
#define REPLAY_CHECK_H

#include <math.h>
#include <stdlib.h>

static bool same_num(double a, double b) { return a == b || (a != a && b != b); }

/* The scalar sum(y * r), r random with y's shape and dtype (values in rv). */
static wg_tensor *rc_loss(wg_tape *t, wg_tensor *y, const double *rv)
{
    if (!y) return NULL;
    wg_tensor *r = cu_tensor(t, wg_dtype_of(y), wg_ndim(y), wg_shape(y), rv, false);
    return wg_sum(t, wg_mul(t, y, r));
}

/* Each node of a equals the node of b at the same position, walking both
 * tapes from the newest. */
static void rc_same_tapes(const char *where, wg_tape *a, wg_tape *b)
{
    CHECK(wg_tape_nodes(a) == wg_tape_nodes(b), "%s: the replayed tape has %zu nodes, the fresh one %zu", where,
          wg_tape_nodes(a), wg_tape_nodes(b));
    wg_tensor *x = wg_tape_last(a), *y = wg_tape_last(b);
    for (; x && y; x = wg_prev(x), y = wg_prev(y)) {
        size_t n = wg_numel(x);
        CHECK(n == wg_numel(y) && strcmp(wg_op_name(x), wg_op_name(y)) == 0, "%s: node %zu is %s here, %s there",
              where, wg_node_index(x), wg_op_name(x), wg_op_name(y));
        if (n != wg_numel(y)) return;
        for (size_t i = 0; i < n; i++)
            if (!same_num(wg_get(x, i), wg_get(y, i))) {
                CHECK(false, "%s: node %zu (%s) [%zu]: replayed %.17g, recorded %.17g", where, wg_node_index(x),
                      wg_op_name(x), i, wg_get(x, i), wg_get(y, i));
                return;
            }
    }
}

static void gc(const char *label, wg_gradcheck_fn f, void *ctx, int n, const in_spec *in)
{
    wg_param *p0[MAX_IN] = {0}, *p1[MAX_IN] = {0};
    wg_tensor *x0[MAX_IN], *x1[MAX_IN];
    wg_tape *ta = wg_tape_new(), *tb = wg_tape_new();
    double *rv = NULL;
    char where[256];
    case_where(where, sizeof where, "replay ", label, n, in);
    for (int i = 0; i < n; i++) {
        p0[i] = cu_param(WG_F64, in[i].ndim, in[i].d, in[i].fill);
        p1[i] = cu_param(WG_F64, in[i].ndim, in[i].d, in[i].fill);
        CHECK(p0[i] && p1[i], "%s: no memory for input %d", where, i);
        if (!p0[i] || !p1[i]) goto out;
        x0[i] = wg_use(ta, p0[i]);
    }
    /* Record at the first inputs and differentiate once. */
    wg_tensor *y = f(ta, x0, ctx);
    size_t ny = y ? wg_numel(y) : 0;
    rv = malloc((ny ? ny : 1) * sizeof *rv);
    if (!rv) goto out;
    cu_fill(rv, ny, FILL_NORMAL);
    wg_tensor *loss = rc_loss(ta, y, rv);
    CHECK(loss && wg_backward(ta, loss) == 0, "%s: recording: %s", where, wg_tape_error(ta));
    if (!loss) goto out;
    /* New inputs into the parameters' memory; replay; differentiate again. */
    for (int i = 0; i < n; i++) {
        memcpy(p0[i]->data, p1[i]->data, p0[i]->numel * sizeof(double));
        memset(p0[i]->grad, 0, p0[i]->numel * sizeof(double));
    }
    CHECK(wg_tape_replay(ta) == 0, "%s: replay: %s", where, wg_tape_error(ta));
    CHECK(wg_backward(ta, loss) == 0, "%s: backward after replay: %s", where, wg_tape_error(ta));
    /* A fresh recording at the new inputs. */
    for (int i = 0; i < n; i++) x1[i] = wg_use(tb, p1[i]);
    wg_tensor *lb = rc_loss(tb, f(tb, x1, ctx), rv);
    CHECK(lb && wg_backward(tb, lb) == 0, "%s: fresh recording: %s", where, wg_tape_error(tb));
    if (!lb) goto out;
    rc_same_tapes(where, ta, tb);
    for (int i = 0; i < n; i++)
        for (size_t j = 0; j < p0[i]->numel; j++) {
            double g0 = ((double *)p0[i]->grad)[j], g1 = ((double *)p1[i]->grad)[j];
            if (!same_num(g0, g1)) {
                CHECK(false, "%s: gradient of input %d [%zu]: replayed %.17g, recorded %.17g", where, i, j, g0, g1);
                break;
            }
        }
    n_cases++;
out:
    free(rv);
    wg_tape_free(ta);
    wg_tape_free(tb);
    for (int i = 0; i < n; i++) wg_param_free(p0[i]), wg_param_free(p1[i]);
}

/* ---- beyond the op cases ---------------------------------------------------- */

/* Views (one element and many), reshape to 0-d, detach, a tape-owned leaf
 * set through wg_leaf_set, f32, and max re-deciding: exact values. */
static void replay_leaves(void)
{
    wg_tape *t = wg_tape_new();
    double v1 = 2, vs[3] = {1, 2, 3};
    float f = 1.5f;
    wg_tensor *a = wg_tensor_view(t, WG_F64, 0, NULL, &v1);
    wg_tensor *b = wg_tensor_view(t, WG_F64, 1, (int64_t[]){3}, vs);
    wg_tensor *c = wg_var(t, 5);
    wg_tensor *s = wg_reshape(t, wg_slice(t, b, 0, 1, 2), 0, NULL); /* vs[1], 0-d */
    wg_tensor *d = wg_detach(t, wg_mul(t, c, c));
    wg_tensor *m = wg_max(t, c, a);
    wg_tensor *y = wg_add(t, wg_add(t, wg_mul(t, a, s), d), m); /* a vs[1] + c^2 + max(c, a) */
    wg_tensor *xf = wg_scalar(t, WG_F32, 0, true);
    wg_tensor *yf = wg_mul(t, wg_tensor_view(t, WG_F32, 0, NULL, &f), wg_exp(t, xf));
    CHECK(y && yf && wg_item(y) == 2 * 2 + 25 + 5 && wg_item(yf) == 1.5, "recorded: %g %g (%s)", wg_item(y),
          wg_item(yf), wg_tape_error(t) ? wg_tape_error(t) : "");
    CHECK(wg_backward(t, y) == 0 && wg_grad_item(c) == 1, "d/dc at c = 5 > a: %g", wg_grad_item(c));
    v1 = 7, vs[1] = -3, f = 2.5f;
    CHECK(wg_leaf_set(c, 0, 4) == 0 && wg_leaf_set(xf, 0, 0) == 0, "leaf_set: %s", wg_tape_error(t));
    wg_tape_zero_grad(t);
    CHECK(wg_tape_replay(t) == 0, "replay: %s", wg_tape_error(t));
    CHECK(wg_item(y) == 7 * -3 + 16 + 7, "replayed: %.17g, want %.17g", wg_item(y), 7.0 * -3 + 16 + 7);
    CHECK(wg_item(d) == 16 && wg_item(s) == -3 && wg_item(m) == 7, "detach %g, reshape %g, max %g", wg_item(d),
          wg_item(s), wg_item(m));
    CHECK(wg_item(yf) == 2.5, "f32 replayed: %.9g", wg_item(yf));
    /* max now goes to a: c's gradient is 0 (detach passes none) */
    CHECK(wg_backward(t, y) == 0 && wg_grad_item(c) == 0, "d/dc at c = 4 < a = 7: %g", wg_grad_item(c));
    CHECK(wg_backward(t, yf) == 0 && wg_grad_item(xf) == 2.5f, "d/dxf: %g", wg_grad_item(xf));
    wg_tape_free(t);
}

/* The lecture's seed expression f = (2 x1 + 3 x2)^2 + 3 replayed at many
 * points: f and its gradient 4(2x1+3x2), 6(2x1+3x2) exactly. */
static void replay_seed(void)
{
    wg_tape *t = wg_tape_new();
    wg_tensor *x1 = wg_var(t, 1), *x2 = wg_var(t, 3);
    wg_tensor *f = wg_add(t, wg_pow(t, wg_add(t, wg_mul(t, 2, x1), wg_mul(t, 3, x2)), 2), 3);
    for (int i = -3; i <= 3; i++) {
        double a = i * 0.5, b = 1 - i;
        CHECK(wg_leaf_set(x1, 0, a) == 0 && wg_leaf_set(x2, 0, b) == 0, "%s", wg_tape_error(t));
        CHECK(wg_tape_replay(t) == 0 && wg_backward(t, f) == 0, "%s", wg_tape_error(t));
        double u = 2 * a + 3 * b;
        CHECK(wg_item(f) == u * u + 3 && wg_grad_item(x1) == 4 * u && wg_grad_item(x2) == 6 * u,
              "at (%g, %g): f %g, grad %g %g; want %g, %g %g", a, b, wg_item(f), wg_grad_item(x1), wg_grad_item(x2),
              u * u + 3, 4 * u, 6 * u);
    }
    wg_tape_free(t);
}

/* Error cases: each a message on the tape, nothing changed. */
static void replay_errors(void)
{
    CHECK(wg_tape_replay(NULL) == -1, "replay of NULL");
    CHECK_STR(wg_last_error(), "replay: invalid handle: the tape is NULL");
    wg_tape *t = wg_tape_new();
    CHECK(wg_tape_replay(t) == 0, "replay of an empty tape: %s", wg_tape_error(t));
    wg_tensor *x = wg_var(t, 2);
    wg_tensor *y = wg_mul(t, x, x);
    wg_tensor *v = wg_tensor_view(t, WG_F64, 0, NULL, &(double){1});
    CHECK(wg_leaf_set(y, 0, 1) == -1, "leaf_set of a non-leaf");
    CHECK_STR(wg_tape_error(t), "leaf_set: node 1 is mul f64[], not a leaf");
    wg_tape_reset(t);
    x = wg_var(t, 2);
    CHECK(wg_leaf_set(x, 1, 1) == -1, "leaf_set out of range");
    CHECK_STR(wg_tape_error(t), "leaf_set: index 1 out of range for leaf 0 (f64[], 1 elements)");
    wg_tape_reset(t);
    v = wg_tensor_view(t, WG_F64, 0, NULL, &(double){1});
    CHECK(wg_leaf_set(v, 0, 1) == -1, "leaf_set of a view");
    CHECK_STR(wg_tape_error(t), "leaf_set: leaf 0 (f64[]) reads the caller's memory (a view): write the new values there");
    wg_tape_reset(t);
    /* a stale handle: x from before the reset */
    CHECK(wg_leaf_set(x, 0, 1) == -1, "leaf_set of a stale handle");
    CHECK(wg_tape_error(t) && strncmp(wg_tape_error(t), "leaf_set: invalid handle", 24) == 0, "stale: %s",
          wg_tape_error(t) ? wg_tape_error(t) : "(none)");
    /* a tape with an error: replay refuses, the error stays */
    wg_tape_reset(t);
    x = wg_var(t, 2);
    y = wg_add(t, wg_exp(t, x), wg_tensor_new(t, WG_F64, 1, (int64_t[]){2}, NULL, false));
    wg_tensor *z = wg_add(t, wg_tensor_new(t, WG_F64, 1, (int64_t[]){2}, NULL, false),
                          wg_tensor_new(t, WG_F64, 1, (int64_t[]){3}, NULL, false));
    CHECK(y && !z, "a shape error");
    const char *want = "add: shapes cannot broadcast: a is f64[2], b is f64[3]";
    CHECK_STR(wg_tape_error(t), want);
    CHECK(wg_tape_replay(t) == -1 && wg_leaf_set(x, 0, 1) == -1, "replay or leaf_set of a tape with an error");
    CHECK_STR(wg_tape_error(t), want);
    /* anomaly mode: a non-finite value appears only at the new input */
    wg_tape_reset(t);
    wg_tape_set_anomaly(t, true);
    x = wg_var(t, 2);
    y = wg_log(t, x);
    CHECK(y && wg_leaf_set(x, 0, -1) == 0, "%s", wg_tape_error(t) ? wg_tape_error(t) : "");
    CHECK(wg_tape_replay(t) == -1, "replay at log(-1) in anomaly mode");
    CHECK_STR(wg_tape_error(t), "log: non-finite value in the replayed forward pass at node 1: inputs f64[], output f64[]");
    wg_tape_free(t);
}

static void replay_extra(void)
{
    replay_leaves();
    replay_seed();
    replay_errors();
}

#endif
