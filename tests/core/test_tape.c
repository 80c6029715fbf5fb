/* test_tape: the tape's semantics with exact numbers.
 *
 *  - the lecture's (2 x1 + 3 x2)^2 + 3 at (1, 3): the Wengert list, every
 *    intermediate value and adjoint, df/dx1 = 44, df/dx2 = 66;
 *  - backward twice (leaves accumulate, intermediates are recomputed),
 *    backward from an intermediate node, wg_tape_zero_grad;
 *  - parameters recorded with wg_use accumulate into p->grad;
 *  - fan-out: a value used many times;
 *  - memory: an arena that runs out (in forward and in backward), reset and
 *    reuse for 100,000 MLP-like steps with the capacity fixed after the first.
 */
#include <stdint.h>

#include "core_util.h"
#include "wg_internal.h" /* fresh_nodes reads aux */
#include "wg_test.h"

/* The huge-allocation case below must get NULL from malloc under ASan too. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }
const char *__tsan_default_options(void);
const char *__tsan_default_options(void) { return "allocator_may_return_null=1"; }

static void lecture_example(void)
{
    wg_tape *t = wg_tape_new();
    wg_tensor *x1 = wg_var(t, 1), *x2 = wg_var(t, 3);
    wg_tensor *a = wg_mul(t, 2, x1), *b = wg_mul(t, 3, x2);
    wg_tensor *c = wg_add(t, a, b);
    wg_tensor *e = wg_pow(t, c, 2);
    wg_tensor *f = wg_add(t, e, 3);
    CHECK(wg_backward(t, f) == 0, "%s", wg_tape_error(t));
    CHECK(wg_item(a) == 2 && wg_item(b) == 9 && wg_item(c) == 11 && wg_item(e) == 121 && wg_item(f) == 124,
          "values a=%g b=%g c=%g e=%g f=%g", wg_item(a), wg_item(b), wg_item(c), wg_item(e), wg_item(f));
    /* Adjoints in reverse order: df/df = 1, df/de = 1, df/dc = 2c = 22, df/da = df/db = 22. */
    CHECK(wg_grad_item(f) == 1 && wg_grad_item(e) == 1 && wg_grad_item(c) == 22 && wg_grad_item(a) == 22 &&
              wg_grad_item(b) == 22,
          "adjoints f=%g e=%g c=%g a=%g b=%g", wg_grad_item(f), wg_grad_item(e), wg_grad_item(c), wg_grad_item(a),
          wg_grad_item(b));
    CHECK(wg_grad_item(x1) == 44, "df/dx1 = %g", wg_grad_item(x1));
    CHECK(wg_grad_item(x2) == 66, "df/dx2 = %g", wg_grad_item(x2));

    /* The Wengert list, newest first: every node, its op and its inputs.
     * The numbers 2, 3 (twice: once per use) and the exponent are constants. */
    static const char *ops[] = {"add", "leaf", "pow_c", "add", "mul", "leaf", "mul", "leaf", "leaf", "leaf"};
    size_t i = 0;
    for (wg_tensor *n = wg_tape_last(t); n; n = wg_prev(n), i++) {
        if (i < 10) CHECK_STR(wg_op_name(n), ops[i]);
        CHECK(wg_node_index(n) == wg_tape_nodes(t) - 1 - i, "node %zu has index %zu", i, wg_node_index(n));
    }
    CHECK(i == 10 && wg_tape_nodes(t) == 10, "the list has %zu nodes, the tape says %zu", i, wg_tape_nodes(t));
    CHECK(wg_n_inputs(f) == 2 && wg_input(f, 0) == e && wg_n_inputs(e) == 1 && wg_input(e, 0) == c &&
              wg_input(c, 0) == a && wg_input(c, 1) == b && wg_input(a, 1) == x1 && wg_input(b, 1) == x2,
          "the inputs link the list");
    CHECK(wg_is_leaf(x1) && !wg_is_leaf(c) && wg_input(x1, 0) == NULL && wg_input(f, 2) == NULL, "leaves");

    /* The lecture's symmetric difference with h = 2e-2: exact for a quadratic. */
    double h = 2e-2, fp = pow(2 * (1 + h / 2) + 9, 2) + 3, fm = pow(2 * (1 - h / 2) + 9, 2) + 3;
    CHECK_NEAR((fp - fm) / h, wg_grad_item(x1), 1e-9);

    /* Backward twice: leaves accumulate (as PyTorch with retain_graph), the
     * intermediates hold this pass only. */
    CHECK(wg_backward(t, f) == 0, "%s", wg_tape_error(t));
    CHECK(wg_grad_item(x1) == 88 && wg_grad_item(x2) == 132, "after two passes %g, %g", wg_grad_item(x1),
          wg_grad_item(x2));
    CHECK(wg_grad_item(c) == 22 && wg_grad_item(e) == 1, "intermediates recomputed: c %g, e %g", wg_grad_item(c),
          wg_grad_item(e));

    wg_tape_zero_grad(t);
    CHECK(wg_grad_item(x1) == 0 && wg_grad_item(x2) == 0, "after zero_grad %g, %g", wg_grad_item(x1),
          wg_grad_item(x2));

    /* Backward from an intermediate: c = 2 x1 + 3 x2, so 2 and 3.  The nodes
     * after c took no part: they have no gradient from this pass. */
    CHECK(wg_backward(t, c) == 0, "%s", wg_tape_error(t));
    CHECK(wg_grad_item(x1) == 2 && wg_grad_item(x2) == 3, "dc/dx = %g, %g", wg_grad_item(x1), wg_grad_item(x2));
    CHECK(wg_grad(f) == NULL && wg_grad(e) == NULL && wg_grad_item(c) == 1, "only c and before took part");
    /* Backward from a leaf seeds the leaf itself. */
    wg_tape_zero_grad(t);
    CHECK(wg_backward(t, x2) == 0 && wg_grad_item(x2) == 1 && wg_grad_item(x1) == 0, "backward from a leaf");
    /* Constants never get a gradient. */
    CHECK(!wg_requires_grad(wg_input(a, 0)) && wg_grad(wg_input(a, 0)) == NULL, "a constant has no gradient");
    wg_tape_free(t);
}

/* Parameters live outside the tape; every use accumulates into p->grad. */
static void params(void)
{
    wg_param *w = wg_param_new(WG_F64, 1, (int64_t[]){3});
    CHECK(w != NULL, "%s", wg_last_error());
    if (!w) return;
    double *wd = w->data, *wg = w->grad;
    wd[0] = 1, wd[1] = -2, wd[2] = 0.5;
    wg_tape *t = wg_tape_new();
    for (int pass = 1; pass <= 2; pass++) {
        /* f = sum(w * w) + sum(3 w): df/dw = 2 w + 3, per pass. */
        wg_tensor *a = wg_use(t, w), *b = wg_use(t, w);
        CHECK(wg_data(a) == w->data && wg_grad(a) == w->grad, "a used parameter shares its buffers");
        wg_tensor *f = wg_add(t, wg_sum(t, wg_mul(t, a, b)), wg_sum(t, wg_mul(t, 3, a)));
        CHECK(wg_backward(t, f) == 0, "%s", wg_tape_error(t));
        for (int i = 0; i < 3; i++)
            CHECK(wg[i] == pass * (2 * wd[i] + 3), "pass %d: grad[%d] = %g, want %g", pass, i, wg[i],
                  pass * (2 * wd[i] + 3));
        wg_tape_reset(t); /* the next pass records on a reset tape: p->grad keeps accumulating */
    }
    wg_param_zero_grad(w);
    CHECK(wg[0] == 0 && wg[1] == 0 && wg[2] == 0, "wg_param_zero_grad");
    /* wg_tape_zero_grad reaches parameters too: they are leaves of the tape. */
    wg_tensor *f = wg_sum(t, wg_use(t, w));
    CHECK(wg_backward(t, f) == 0 && wg[1] == 1, "%s", wg_tape_error(t) ? wg_tape_error(t) : "sum' = 1");
    wg_tape_zero_grad(t);
    CHECK(wg[0] == 0 && wg[1] == 0 && wg[2] == 0, "wg_tape_zero_grad on a parameter");
    /* A 0-d parameter. */
    wg_param *s = wg_param_new(WG_F32, 0, NULL);
    CHECK(s && s->numel == 1, "a 0-d parameter has one element");
    if (s) {
        ((float *)s->data)[0] = 3;
        wg_tape_reset(t);
        wg_tensor *x = wg_use(t, s);
        CHECK(wg_backward(t, wg_mul(t, x, x)) == 0 && ((float *)s->grad)[0] == 6, "d(x^2)/dx at 3 = %g",
              ((float *)s->grad)[0]);
    }
    wg_param_free(s);
    wg_tape_free(t);
    wg_param_free(w);
}

/* A value used many times: VJPs accumulate, so fan-out needs no special case. */
static void fan_out(void)
{
    wg_tape *t = wg_tape_new();
    wg_tensor *x = wg_var(t, 1.5);
    CHECK(wg_backward(t, wg_mul(t, x, x)) == 0 && wg_grad_item(x) == 3, "d(x*x)/dx = %g, want 3", wg_grad_item(x));
    wg_tape_zero_grad(t);
    /* f = sum_{i=1..50} i x: df/dx = 1275. */
    wg_tensor *f = wg_mul(t, 1, x);
    for (int i = 2; i <= 50; i++) f = wg_add(t, f, wg_mul(t, i, x));
    CHECK(wg_backward(t, f) == 0 && wg_grad_item(x) == 1275, "d/dx sum i x = %g, want 1275", wg_grad_item(x));
    CHECK(wg_item(f) == 1275 * 1.5, "f = %g", wg_item(f));
    wg_tape_zero_grad(t);
    /* An intermediate used 50 times: u = x^2, f = u + u + ... (50 terms); df/dx = 100 x. */
    wg_tensor *u = wg_mul(t, x, x);
    wg_tensor *g = u;
    for (int i = 1; i < 50; i++) g = wg_add(t, g, u);
    CHECK(wg_backward(t, g) == 0, "%s", wg_tape_error(t));
    CHECK(wg_grad_item(u) == 50 && wg_grad_item(x) == 150, "du = %g (want 50), dx = %g (want 150)", wg_grad_item(u),
          wg_grad_item(x));
    /* A tensor used by several ops of different kinds: d/dx sum(x*x + exp(x) - x) = 2x + e^x - 1. */
    wg_tape_reset(t);
    double xv[4] = {-1, 0, 0.5, 2};
    wg_tensor *v = wg_tensor_new(t, WG_F64, 1, (int64_t[]){4}, xv, true);
    wg_tensor *s = wg_sum(t, wg_sub(t, wg_add(t, wg_mul(t, v, v), wg_exp(t, v)), v));
    CHECK(wg_backward(t, s) == 0, "%s", wg_tape_error(t));
    for (size_t i = 0; i < 4; i++) CHECK_NEAR(wg_grad_get(v, i), 2 * xv[i] + exp(xv[i]) - 1, 1e-15);
    wg_tape_free(t);
}

/* An MLP-like step: relu(x W1 + b1) W2, squared error, every iteration on a
 * reset tape.  After the first step the arena never grows. */
static void reset_keeps_capacity(void)
{
    const int64_t sx[2] = {4, 8}, sw1[2] = {8, 8}, sb1[1] = {8}, sw2[2] = {8, 2};
    wg_param *w1 = cu_param(WG_F32, 2, sw1, FILL_NORMAL), *b1 = cu_param(WG_F32, 1, sb1, FILL_NORMAL);
    wg_param *w2 = cu_param(WG_F32, 2, sw2, FILL_NORMAL), *x = cu_param(WG_F32, 2, sx, FILL_NORMAL);
    /* x is data: copied onto the tape each step, no gradient, as in training. */
    wg_tape *t = wg_tape_new();
    size_t cap_after_first = 0, used_after_first = 0, nodes_after_first = 0;
    const int iters = 100000;
    int it = 0;
    for (; it < iters; it++) {
        wg_tensor *h = wg_max(t, wg_add(t, wg_matmul(t, wg_tensor_new(t, WG_F32, 2, sx, x->data, false), wg_use(t, w1)), wg_use(t, b1)), 0.0);
        wg_tensor *y = wg_matmul(t, h, wg_use(t, w2));
        wg_tensor *loss = wg_mean(t, wg_pow(t, wg_sub(t, y, 1.0), 2));
        if (!loss || wg_backward(t, loss) != 0) {
            CHECK(0, "iteration %d: %s", it, wg_tape_error(t));
            break;
        }
        if (it == 0) {
            cap_after_first = wg_tape_capacity(t);
            used_after_first = wg_tape_bytes_used(t);
            nodes_after_first = wg_tape_nodes(t);
        }
        if (wg_tape_capacity(t) != cap_after_first || wg_tape_bytes_used(t) != used_after_first ||
            wg_tape_nodes(t) != nodes_after_first) {
            CHECK(0, "iteration %d: capacity %zu -> %zu, used %zu -> %zu, nodes %zu -> %zu", it, cap_after_first,
                  wg_tape_capacity(t), used_after_first, wg_tape_bytes_used(t), nodes_after_first, wg_tape_nodes(t));
            break;
        }
        wg_tape_reset(t);
        CHECK(wg_tape_nodes(t) == 0 && wg_tape_bytes_used(t) == 0 && wg_tape_capacity(t) == cap_after_first,
              "reset rewinds the arena and keeps its capacity");
    }
    CHECK(it == iters, "stopped at iteration %d", it);
    CHECK(cap_after_first > 0 && used_after_first > 0 && used_after_first <= cap_after_first,
          "the arena holds memory after a pass: used %zu of %zu", used_after_first, cap_after_first);
    /* The gradients accumulated over every step into the parameters. */
    bool finite = true;
    for (size_t i = 0; i < w1->numel; i++) finite = finite && isfinite(((float *)w1->grad)[i]);
    CHECK(finite, "accumulated gradients are finite");
    wg_tape_free(t);
    wg_param_free(w1), wg_param_free(b1), wg_param_free(w2), wg_param_free(x);
}

static bool starts_with(const char *s, const char *prefix) { return s && strncmp(s, prefix, strlen(prefix)) == 0; }

/* A tape with a small limit runs out cleanly, in forward and in backward, and
 * works again after reset. */
static void arena_full(void)
{
    const size_t limit = 16384;
    wg_tape *t = wg_tape_new_limited(limit);
    const int64_t s[2] = {16, 16}; /* 1024 bytes of f32 */
    wg_tensor *a = wg_full(t, WG_F32, 2, s, 0.5), *x = a;
    int n_ok = 0;
    while (x && n_ok < 1000) {
        x = wg_matmul(t, x, a);
        if (x) n_ok++;
    }
    CHECK(x == NULL && n_ok > 3 && n_ok < 1000, "the limited tape must fill up: %d matmuls fit", n_ok);
    CHECK(wg_tape_status(t) == WG_ERR_NOMEM, "status %d, want WG_ERR_NOMEM", (int)wg_tape_status(t));
    const char *msg = wg_tape_error(t);
    char suffix[64];
    snprintf(suffix, sizeof suffix, " of the %zu-byte limit in use", limit);
    CHECK(starts_with(msg, "matmul: arena: out of memory: ") && strstr(msg, " bytes requested, ") &&
              strlen(msg) > strlen(suffix) && strcmp(msg + strlen(msg) - strlen(suffix), suffix) == 0,
          "message \"%s\"", msg ? msg : "(null)");
    CHECK(wg_tape_capacity(t) <= limit, "capacity %zu over the limit %zu", wg_tape_capacity(t), limit);
    CHECK(wg_exp(t, a) == NULL, "ops after the error return NULL");
    wg_tape_reset(t);
    CHECK(wg_tape_error(t) == NULL, "reset clears the error");
    wg_tensor *v = wg_var(t, 4);
    CHECK(wg_backward(t, wg_sqrt(t, v)) == 0 && wg_grad_item(v) == 0.25, "the tape works after reset: %s",
          wg_tape_error(t) ? wg_tape_error(t) : "wrong gradient");

    /* Backward needs gradient buffers: a limit that the forward pass exactly
     * fills leaves none for them.  The error names the op whose VJP ran. */
    wg_tape *u = wg_tape_new();
    const int64_t s8[2] = {8, 8}; /* 512 bytes of f64 */
    wg_tensor *y = wg_sum(u, wg_exp(u, wg_tensor_new(u, WG_F64, 2, s8, NULL, true)));
    size_t fwd = wg_tape_bytes_used(u);
    CHECK(y && fwd > 0 && fwd < 65536, "forward used %zu bytes", fwd);
    wg_tape_free(u);
    u = wg_tape_new_limited(fwd);
    y = wg_sum(u, wg_exp(u, wg_tensor_new(u, WG_F64, 2, s8, NULL, true)));
    CHECK(y && wg_tape_bytes_used(u) == fwd, "the same forward pass fits the limit exactly: %s", wg_tape_error(u));
    CHECK(wg_backward(u, y) == -1, "backward must run out of memory");
    char want[160];
    snprintf(want, sizeof want, "sum: arena: out of memory in backward: 512 bytes requested, %zu of the %zu-byte limit in use",
             fwd, fwd);
    CHECK_STR(wg_tape_error(u), want);
    wg_tape_free(u);

    /* Without a limit, a request no machine can meet fails the same way. */
    wg_tape_reset(t);
    wg_tape_free(t);
    t = wg_tape_new();
    const int64_t huge[2] = {INT64_C(1) << 28, INT64_C(1) << 28};
    CHECK(wg_tensor_new(t, WG_F64, 2, huge, NULL, false) == NULL, "a 2^59-byte tensor must fail");
    CHECK_STR(wg_tape_error(t), "leaf: arena: out of memory: 576460752303423488 bytes requested");
    wg_tape_reset(t);
    CHECK(wg_var(t, 1) != NULL && wg_tape_error(t) == NULL, "the tape works after reset");
    wg_tape_free(t);
}

/* Every limit, from tiny to enough, with a graph of every kind of op: the
 * tape runs out somewhere different each time (a node, its values, saved
 * indices, a gradient buffer), never crashes, leaves a list that can still be
 * walked, and records again after reset. */
static void arena_sweep(void)
{
    int ran_out = 0, fit = 0;
    for (size_t limit = 64; limit <= 20000; limit += 96) {
        wg_tape *t = wg_tape_new_limited(limit);
        const int64_t s[2] = {4, 6};
        wg_tensor *x = wg_full(t, WG_F64, 2, s, 0.5);
        wg_tensor *w = wg_tensor_new(t, WG_F64, 2, (int64_t[]){6, 6}, NULL, true);
        wg_tensor *h = wg_tanh(t, wg_matmul(t, x, w));
        wg_tensor *c = wg_concat(t, 3, (wg_tensor *[]){h, x, h}, 1);
        wg_tensor *m = wg_max_axis(t, c, 1, true);
        wg_tensor *y = wg_sum(t, wg_sub(t, wg_slice(t, c, 1, 2, -2), wg_reshape(t, m, 2, (int64_t[]){4, 1})));
        int rc = y ? wg_backward(t, y) : -1;
        if (rc == 0) {
            fit++;
            CHECK(wg_tape_error(t) == NULL, "limit %zu: no error but \"%s\"", limit, wg_tape_error(t));
        } else {
            ran_out++;
            CHECK(wg_tape_status(t) == WG_ERR_NOMEM && strstr(wg_tape_error(t), "arena: out of memory"),
                  "limit %zu: status %d \"%s\"", limit, (int)wg_tape_status(t), wg_tape_error(t));
        }
        size_t walked = 0;
        for (wg_tensor *n = wg_tape_last(t); n; n = wg_prev(n), walked++)
            for (int i = 0; i < wg_n_inputs(n); i++) CHECK(wg_input(n, i) != NULL, "limit %zu: a NULL input", limit);
        CHECK(walked == wg_tape_nodes(t), "limit %zu: walked %zu of %zu nodes", limit, walked, wg_tape_nodes(t));
        CHECK(wg_tape_capacity(t) <= limit, "limit %zu: capacity %zu", limit, wg_tape_capacity(t));
        wg_tape_reset(t);
        wg_tensor *v = wg_var(t, 3);
        bool ok = v && wg_backward(t, wg_mul(t, v, v)) == 0 && wg_grad_item(v) == 6;
        /* Three scalar nodes need well under 2 KiB; below that, running out again is fine. */
        CHECK(ok || (limit < 2048 && wg_tape_status(t) == WG_ERR_NOMEM), "limit %zu: after reset: %s", limit,
              wg_tape_error(t) ? wg_tape_error(t) : "wrong gradient");
        wg_tape_free(t);
    }
    CHECK(ran_out > 10 && fit > 10, "the sweep covers both sides: %d ran out, %d fit", ran_out, fit);
}

/* wg_tensor_view: a batch read in place, no copy, no gradient. */
static void views(void)
{
    float x[6] = {1, 2, 3, 4, 5, 6}; /* [2, 3] */
    wg_param *w = wg_param_new(WG_F32, 2, (int64_t[]){4, 3});
    wg_tape *t = wg_tape_new();
    for (size_t i = 0; i < w->numel; i++) ((float *)w->data)[i] = (float)i;
    wg_tensor *v = wg_tensor_view(t, WG_F32, 2, (int64_t[]){2, 3}, x);
    CHECK(v && wg_data(v) == x && !wg_requires_grad(v) && wg_is_leaf(v), "a view reads the caller's array: %s",
          wg_tape_error(t));
    /* f = sum(x W^T): df/dW[j,k] = sum_i x[i,k] = 5, 7, 9 in every row j */
    wg_tensor *f = wg_sum(t, wg_matmul_ex(t, v, wg_use(t, w), false, true));
    CHECK(f && wg_backward(t, f) == 0, "%s", wg_tape_error(t));
    double want_f = 0;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 3; k++) want_f += x[i * 3 + k] * (float)(j * 3 + k);
    CHECK(wg_item(f) == want_f, "sum(x W^T) = %g, want %g", wg_item(f), want_f);
    for (int j = 0; j < 4; j++)
        for (int k = 0; k < 3; k++)
            CHECK(((float *)w->grad)[j * 3 + k] == x[k] + x[3 + k], "dW[%d,%d] = %g", j, k,
                  ((float *)w->grad)[j * 3 + k]);
    CHECK(wg_grad(v) == NULL, "a view has no gradient");
    /* One element: copied (every 1-element node keeps its value inline). */
    double one = 2.5;
    wg_tensor *s = wg_tensor_view(t, WG_F64, 0, NULL, &one);
    one = 7;
    CHECK(s && wg_item(s) == 2.5 && wg_data(s) != (const void *)&one, "a 1-element view holds 2.5: %g", wg_item(s));
    /* Empty: nothing to read. */
    wg_tensor *e = wg_tensor_view(t, WG_F32, 2, (int64_t[]){0, 3}, x);
    CHECK(e && wg_numel(e) == 0 && wg_dim(e, 1) == 3, "an empty view: %s", wg_tape_error(t));
    wg_tape_free(t);
    wg_param_free(w);
}

/* A fresh node never carries another op's fields: the scalar fast paths put
 * a constant, a variable or an op's result where, before the reset, a
 * parameter's leaf was (its aux pointed at the parameter, which the matmul
 * VJP writes through), and aux must be NULL again.  Every fast path, f32 and
 * f64. */
static void fresh_nodes(void)
{
    wg_param *p = wg_param_new(WG_F64, 0, NULL);
    wg_tape *t = wg_tape_new();
    for (int path = 0; path < 4; path++) {
        wg_tape_reset(t);
        wg_tensor *lf[3];
        for (int i = 0; i < 3; i++) lf[i] = wg_use(t, p); /* every slot a parameter's leaf */
        CHECK(lf[2] && lf[2]->aux == p, "wg_use keeps its parameter in aux");
        wg_tape_reset(t);
        wg_tensor *a = wg_var(t, 2), *n = NULL;
        switch (path) {
        case 0: n = a; break;
        case 1: n = (wg_const(t, 3), wg_tape_last(t)); break;
        case 2: n = wg_mul(t, a, wg_var(t, 3)); break;
        case 3: n = wg_exp(t, a); break;
        }
        for (size_t id = 0; id < wg_tape_nodes(t); id++) {
            const wg_rec *s = wg_slot(t, id);
            if (!(s->tag & WG_R_FULL)) continue; /* a record (paths 2, 3): 24 bytes, no aux */
            const wg_tensor *x = s->in.node;
            CHECK(x->aux == NULL, "path %d: node %u (%s) kept aux %p from the last pass", path, x->id, x->op->name,
                  x->aux);
        }
        CHECK(n != NULL, "path %d: %s", path, wg_tape_error(t));
    }
    wg_tape_free(t);
    wg_param_free(p);
}

/* The op table: one whole entry per op of ops.def, in order, each with its
 * shape rule, forward, both VJPs and JVP (custom ops' template included:
 * a registration clears only the rules its user left out). */
static void op_table(void)
{
    static const char *const names[] = {
#define X(name) #name,
#include "ops.def"
#undef X
    };
    for (int i = 0; i < WG_N_OPS; i++) {
        const wg_op *op = wg_op_table[i];
        CHECK(op && op->id == (wg_op_id)i && strcmp(op->name, names[i]) == 0, "op table entry %d is not %s", i,
              names[i]);
        if (!op) continue;
        CHECK(op->shape && op->fwd && op->vjp && op->vjp_ops && op->jvp, "%s: the entry lacks a rule", op->name);
        CHECK((op->arity < 0) == (op->n_inputs != NULL) && (op->n_inputs != NULL) == (op->input != NULL),
              "%s: a variable arity needs n_inputs and input, a fixed one neither", op->name);
        /* A scalar result is a record exactly for the elementwise ops whose
         * entry has the record rules: both, and only with one or two inputs. */
        CHECK((op->rec_fwd != NULL) == (op->rec_vjp != NULL) && (!op->rec_fwd || op->arity == 1 || op->arity == 2),
              "%s: rec_fwd and rec_vjp go together, for ops of one or two inputs", op->name);
    }
    /* Which ops make records, by what their constructors return on 0-d live
     * operands: every op with record rules, and no other. */
    wg_tape *t = wg_tape_new();
    wg_tensor *a = wg_var(t, 0.5), *b = wg_var(t, 0.25);
    wg_tensor *(*const unary[])(wg_tape *, wg_tensor *) = {wg_neg, wg_exp,  wg_log,  wg_log1p, wg_sqrt, wg_tanh,
                                                           wg_sin, wg_cos,  wg_abs,  wg_sign,  wg_step};
    int seen[WG_N_OPS] = {0};
    for (size_t k = 0; k < sizeof unary / sizeof *unary + 1; k++) {
        wg_tensor *y = k < sizeof unary / sizeof *unary ? unary[k](t, a) : wg_pow(t, a, 3.0);
        const wg_op *op = y && !wg_is_rec(y) ? y->op : y ? wg_op_table[((const wg_rec *)y)->op] : NULL;
        CHECK(op && wg_is_rec(y) == (op->rec_fwd != NULL), "unary %zu (%s): a 0-d result is %s, the entry %s record rules",
              k, op ? op->name : "?", y && wg_is_rec(y) ? "a record" : "a node", op && op->rec_fwd ? "has" : "has no");
        if (op) seen[op->id] = 1;
    }
    for (int i = 0; i < WG_N_OPS; i++) {
        const wg_op *op = wg_op_table[i];
        if (op->arity != 2 || !op->binary) continue;
        wg_tensor *y = op->binary(t, a, b);
        CHECK(y && wg_is_rec(y) && op->rec_fwd, "%s: a 0-d result is a record", op->name);
        seen[i] = 1;
    }
    for (int i = 0; i < WG_N_OPS; i++)
        CHECK(seen[i] || !wg_op_table[i]->rec_fwd, "%s has record rules that no case above reaches", wg_op_table[i]->name);
    wg_tape_free(t);
}

int main(void)
{
    wg_rng_seed(&cu_rng, 7);
    op_table();
    fresh_nodes();
    lecture_example();
    params();
    views();
    fan_out();
    arena_full();
    arena_sweep();
    reset_keeps_capacity();
    return wg_test_done("test_tape");
}
