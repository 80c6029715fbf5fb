/* test_records.c: the compact scalar tape (wg_internal.h).
 *
 * A 0-d result of an elementwise op on live 0-d operands is a 24-byte
 * record, not a node.  Anomaly mode records full nodes only (it checks every
 * value), so the same program run with it on is the reference: every value
 * and every gradient must agree, exactly where the two sum the same terms
 * in the same order (programs of records alone; a zero's sign aside), to rounding where a record
 * also feeds tensor ops (its mirror's gradient joins the record's at the end).
 * Then: handles of records in every public reader, stale and foreign
 * records, the limit, the memory per op, and replay through mirrors.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core_util.h"
#include "wg_internal.h"
#include "wg_test.h"

enum { N_LEAVES = 4, N_OPS = 400 };

typedef struct {
    int op, a, b; /* op kind, operand indices */
} step;

/* A random program: each step an op of earlier values (fan-out and reuse
 * included); kinds 0..10 are scalar ops (records), 11 and 12 go through
 * tensor ops (reshape and sum; pow_c), so records meet mirrors. */
static void random_program(step *p, int n, bool with_tensors)
{
    for (int i = 0; i < n; i++) {
        int avail = N_LEAVES + i;
        p[i].op = (int)wg_rng_below(&cu_rng, with_tensors ? 13 : 11);
        p[i].a = avail - 1 - (int)wg_rng_below(&cu_rng, avail < 6 ? (unsigned)avail : 6u); /* mostly recent */
        p[i].b = (int)wg_rng_below(&cu_rng, (unsigned)avail);
    }
}

static wg_tensor *apply(wg_tape *t, const step *s, wg_tensor **v)
{
    wg_tensor *a = v[s->a], *b = v[s->b];
    switch (s->op) {
    case 0: return wg_add(t, a, b);
    case 1: return wg_sub(t, a, b);
    case 2: return wg_tanh(t, wg_mul(t, a, b)); /* bounded: the program stays finite */
    case 3: return wg_div(t, a, wg_add(t, 2.0, wg_mul(t, b, b)));
    case 4: return wg_max(t, a, b);
    case 5: return wg_min(t, a, b);
    case 6: return wg_sin(t, a);
    case 7: return wg_cos(t, a);
    case 8: return wg_neg(t, wg_abs(t, a));
    case 9: return wg_exp(t, wg_tanh(t, a));
    case 10: return wg_log(t, wg_add(t, 1.5, wg_tanh(t, a)));
    case 11: return wg_sum(t, wg_reshape(t, wg_mul(t, a, b), 1, (int64_t[]){1}));
    default: return wg_tanh(t, wg_pow(t, a, 2));
    }
}

typedef struct {
    double val[N_LEAVES + N_OPS], grad[N_LEAVES + N_OPS];
    size_t recs;
} run_out;

/* The program on leaves x (in dtype dt); the sum of its last 8 values is
 * differentiated.  anomaly: full nodes only.  Also replays at x2 when given. */
static int run(const step *p, int n, wg_dtype dt, const double *x, bool anomaly, run_out *o, const double *x2)
{
    wg_tape *t = wg_tape_new();
    wg_tape_set_anomaly(t, anomaly);
    wg_tensor *v[N_LEAVES + N_OPS];
    for (int i = 0; i < N_LEAVES; i++) v[i] = wg_scalar(t, dt, x[i], true);
    for (int i = 0; i < n; i++) v[N_LEAVES + i] = apply(t, &p[i], v);
    wg_tensor *y = v[N_LEAVES + n - 1];
    for (int i = 2; i <= 8; i++) y = wg_add(t, y, v[N_LEAVES + n - i]);
    int rc = y && wg_backward(t, y) == 0 ? 0 : -1;
    if (rc == 0 && x2) {
        for (int i = 0; i < N_LEAVES; i++) rc |= wg_leaf_set(v[i], 0, x2[i]);
        rc |= wg_tape_replay(t);
        rc |= wg_backward(t, y);
    }
    CHECK(rc == 0, "the program failed: %s", wg_tape_error(t));
    o->recs = 0;
    for (int i = 0; i < N_LEAVES + n; i++) {
        o->val[i] = wg_item(v[i]);
        o->grad[i] = wg_grad_item(v[i]);
        o->recs += wg_is_rec(v[i]);
    }
    wg_tape_free(t);
    return rc;
}

/* Two runs agree: exactly (tol 0) or to tol relative. */
static void same(const char *what, const run_out *a, const run_out *b, int n, double tol)
{
    int bad = 0;
    for (int i = 0; i < N_LEAVES + n && bad < 3; i++) {
        /* exact: equal as numbers (a unary op's node VJP adds its first term
         * to +0, a record's stores it, so a zero gradient may differ in sign) */
        bool ok_v = tol == 0 ? a->val[i] == b->val[i] : fabs(a->val[i] - b->val[i]) <= tol * fmax(1, fabs(b->val[i]));
        bool ok_g = tol == 0 ? a->grad[i] == b->grad[i]
                             : fabs(a->grad[i] - b->grad[i]) <= tol * fmax(1, fabs(b->grad[i]));
        if (!ok_v || !ok_g) bad++;
        CHECK(ok_v && ok_g, "%s: value %d: %.17g vs %.17g, gradient %.17g vs %.17g", what, i, a->val[i], b->val[i],
              a->grad[i], b->grad[i]);
    }
}

static void against_nodes(void)
{
    static step p[N_OPS];
    run_out rec, node, rep, fresh;
    for (int trial = 0; trial < 40; trial++) {
        bool tensors = trial % 2;
        wg_dtype dt = trial % 4 < 2 ? WG_F64 : WG_F32;
        int n = 20 + (int)wg_rng_below(&cu_rng, N_OPS - 20);
        random_program(p, n, tensors);
        double x[N_LEAVES], x2[N_LEAVES];
        for (int i = 0; i < N_LEAVES; i++) x[i] = cu_draw(FILL_NORMAL), x2[i] = cu_draw(FILL_NORMAL);
        if (run(p, n, dt, x, false, &rec, NULL) || run(p, n, dt, x, true, &node, NULL)) continue;
        char what[96];
        snprintf(what, sizeof what, "trial %d (%s, %s tensor ops)", trial, dt == WG_F32 ? "f32" : "f64",
                 tensors ? "with" : "no");
        CHECK(rec.recs > (size_t)n / 2 && node.recs == 0, "%s: %zu records of %d values, %zu in anomaly mode", what,
              rec.recs, n, node.recs);
        same(what, &rec, &node, n, tensors ? (dt == WG_F32 ? 1e-5 : 1e-12) : 0);
        /* replay at x2 equals a fresh recording there, to the bit */
        if (run(p, n, dt, x, false, &rep, x2) || run(p, n, dt, x2, false, &fresh, NULL)) continue;
        snprintf(what, sizeof what, "trial %d replayed", trial);
        same(what, &rep, &fresh, n, 0);
    }
}

/* A record in every reader, and the errors of stale and foreign records. */
static void handles(void)
{
    wg_tape *t = wg_tape_new(), *u = wg_tape_new();
    wg_tensor *x = wg_var(t, 3), *c = wg_const(t, 2);
    wg_tensor *y = wg_mul(t, x, c), *z = wg_exp(t, y);
    CHECK(wg_is_rec(y) && wg_is_rec(z) && !wg_is_rec(x), "scalar results are records, leaves nodes");
    CHECK_STR(wg_op_name(y), "mul");
    CHECK(wg_n_inputs(y) == 2 && wg_input(y, 0) == x && wg_input(y, 1) == c && wg_input(z, 0) == y,
          "a record's inputs are the handles it was made from");
    CHECK(wg_prev(z) == y && wg_prev(y) == c && wg_tape_last(t) == z && wg_node_index(z) == 3, "the list");
    CHECK(wg_ndim(y) == 0 && wg_numel(y) == 1 && wg_dtype_of(y) == WG_F64 && wg_dim(y, 0) == 0 && wg_shape(y) &&
              wg_requires_grad(y) && !wg_is_leaf(y),
          "shape and flags");
    CHECK(wg_item(y) == 6 && *(const double *)wg_data(y) == 6 && wg_get(y, 1) != wg_get(y, 1), "value");
    char buf[32];
    CHECK_STR(wg_shape_str(z, buf, sizeof buf), "f64[]");
    CHECK(wg_grad(z) == NULL && wg_grad_item(z) == 0, "no gradient before backward");
    CHECK(wg_backward(t, z) == 0, "%s", wg_tape_error(t));
    CHECK(wg_grad(y) && wg_grad_item(z) == 1 && wg_grad_item(y) == exp(6.0) && wg_grad_item(x) == 2 * exp(6.0),
          "gradients through records: dz/dy %g, dz/dx %g", wg_grad_item(y), wg_grad_item(x));
    CHECK(wg_leaf_set(y, 0, 1) == -1, "leaf_set on a record");
    CHECK_STR(wg_tape_error(t), "leaf_set: node 2 is mul f64[], not a leaf");

    /* another tape's record, then a stale one */
    CHECK(wg_add(u, y, y) == NULL, "a record of another tape");
    CHECK_STR(wg_tape_error(u), "add: invalid handle: argument 1 belongs to another tape");
    wg_tape_reset(t);
    CHECK(wg_add(t, z, z) == NULL, "a stale record");
    CHECK_STR(wg_tape_error(t), "add: invalid handle: argument 1 was recorded before the last wg_tape_reset");
    wg_tape_reset(t);
    wg_var(t, 1);
    CHECK(wg_item(z) != wg_item(z), "a stale record reads as NaN");
    CHECK_STR(wg_tape_error(t), "get: invalid handle: the tensor was recorded before the last wg_tape_reset");
    wg_tape_reset(t);
    for (int i = 0; i < 4; i++) wg_var(t, i); /* slots 0..3 are nodes' now, where y and z were records */
    CHECK(wg_sub(t, z, z) == NULL, "a stale record whose slot is a node's");
    CHECK_STR(wg_tape_error(t), "sub: invalid handle: argument 1 was recorded before the last wg_tape_reset");

    /* a record made from a mirror: the mirror stands for its record */
    wg_tape_reset(t);
    x = wg_var(t, 0.5);
    y = wg_sin(t, x);
    wg_tensor *s = wg_sum(t, wg_reshape(t, y, 1, (int64_t[]){1})); /* y's mirror feeds reshape */
    wg_tensor *m = wg_input(wg_input(s, 0), 0);
    CHECK(m == y, "wg_input gives the record, not its mirror");
    z = wg_add(t, wg_mul(t, y, y), s);
    CHECK(wg_backward(t, z) == 0 && fabs(wg_grad_item(x) - (2 * sin(0.5) + 1) * cos(0.5)) < 1e-15,
          "dz/dx = (2 sin x + 1) cos x: %.17g", wg_grad_item(x));
    wg_tape_free(t);
    wg_tape_free(u);
}

/* 32 bytes a binary op; the limit counts records (24 bytes each) too. */
static void memory(void)
{
    size_t used[2];
    for (int k = 0; k < 2; k++) {
        wg_tape *t = wg_tape_new();
        wg_tensor *a = wg_var(t, 0.999), *b = wg_var(t, 0.001), *y = wg_var(t, 0.5);
        for (int i = 0; i < 5000 * (k + 1); i++) y = wg_add(t, wg_mul(t, y, a), b);
        CHECK(wg_backward(t, y) == 0, "%s", wg_tape_error(t));
        used[k] = wg_tape_bytes_used(t);
        wg_tape_free(t);
    }
    CHECK(used[1] - used[0] == 10000 * 32, "10,000 more ops took %zu bytes, want 320,000", used[1] - used[0]);

    const size_t limit = 24 * 1000;
    wg_tape *t = wg_tape_new_limited(limit);
    wg_tensor *y = wg_var(t, 0.5);
    int n = 0;
    while (y && n < 5000) y = wg_mul(t, y, y), n += y != NULL;
    CHECK(!y && n > 900 && n < 1000, "the limited tape holds %d records", n);
    CHECK(wg_tape_error(t) && strstr(wg_tape_error(t), "mul: arena: out of memory: 24 bytes requested"), "%s",
          wg_tape_error(t));
    wg_tape_reset(t);
    y = wg_var(t, 3);
    CHECK(wg_backward(t, wg_mul(t, y, y)) == 0 && wg_grad_item(y) == 6, "after reset: %s", wg_tape_error(t));
    wg_tape_free(t);

    /* handle checks make nodes only (a record's memory is reused at once) */
    t = wg_tape_new();
    wg_tape_set_check_handles(t, true);
    y = wg_var(t, 3);
    wg_tensor *z = wg_mul(t, y, y);
    CHECK(!wg_is_rec(z) && wg_backward(t, z) == 0 && wg_grad_item(y) == 6, "check-handles mode: %s",
          wg_tape_error(t));
    wg_tape_free(t);
}

int main(void)
{
    wg_rng_seed(&cu_rng, 20261202);
    against_nodes();
    handles();
    memory();
    return wg_test_done("test_records");
}
