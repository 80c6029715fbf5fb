/* test_f32_f64: the same random graphs, recorded once in f32 and once in f64
 * from the same inputs, agree to f32 precision in every node's value and
 * every gradient.
 *
 * A graph starts from three [3,4] inputs and a [4,4] weight (all requiring
 * gradients) and applies GRAPH_STEPS ops drawn at random from the table in
 * step(), each to operands drawn from the nodes made so far; the loss is the
 * sum of every node made.  The ops are wrapped so that values stay moderate
 * (exp of a tanh, a divisor in [1,3], log1p of a square), so the f64 graph is
 * a faithful reference and a gap can only come from the f32 arithmetic.
 *
 * The comparison is normwise per node: max |v32 - v64| <= TOL * max(1, max |v64|).
 * Rounding gives about FLT_EPSILON (1.2e-7) per op, and the deepest node is
 * a few dozen ops deep.  The largest error over all graphs (printed at the
 * end) was 15 FLT_EPSILON in values and 8 in gradients when this was written;
 * TOL = 128 FLT_EPSILON (1.5e-5) keeps a margin of 8 for other BLIS kernels
 * and libm versions, and is far below the O(1) error of a wrong kernel.
 */
#include <float.h>

#include "core_util.h"
#include "wg_test.h"

enum { N_GRAPHS = 300, GRAPH_STEPS = 14, POOL = 64 };
static const double TOL = 128 * FLT_EPSILON;
static const int64_t s34[2] = {3, 4}, s44[2] = {4, 4};

static double worst_value, worst_grad; /* the largest normwise errors seen */

/* One random op on nodes of the pool; every result is [3,4]. */
static wg_tensor *step(wg_tape *t, wg_rng *r, wg_tensor *const *pool, int n, wg_tensor *w)
{
    wg_tensor *a = pool[wg_rng_below(r, (uint64_t)n)], *b = pool[wg_rng_below(r, (uint64_t)n)];
    switch (wg_rng_below(r, 21)) {
    case 0: return wg_add(t, a, b);
    case 1: return wg_sub(t, a, b);
    case 2: return wg_mul(t, a, wg_tanh(t, b));
    case 3: return wg_div(t, a, wg_add(t, 2, wg_tanh(t, b)));
    case 4: return wg_tanh(t, a);
    case 5: return wg_exp(t, wg_tanh(t, a));
    case 6: return wg_log1p(t, wg_mul(t, a, a));
    case 7: return wg_sqrt(t, wg_add(t, wg_pow(t, a, 2), 1));
    case 8: return wg_abs(t, a);
    case 9: return wg_max(t, a, b);
    case 10: return wg_min(t, a, wg_neg(t, b));
    case 11: return wg_pow(t, wg_add(t, 1.5, wg_tanh(t, a)), wg_tanh(t, b));
    case 12: return wg_div(t, wg_matmul(t, a, w), 4);
    case 13: return wg_div(t, wg_matmul(t, wg_matmul_ex(t, a, b, false, true), a), 12);
    case 14: { /* softmax along rows */
        wg_tensor *e = wg_exp(t, wg_sub(t, a, wg_max_axis(t, a, 1, true)));
        return wg_div(t, e, wg_sum_axis(t, e, -1, true));
    }
    case 15: return wg_add(t, a, wg_mean_axis(t, b, 0, true));
    case 16: return wg_reshape(t, wg_transpose(t, a, 0, 1), 2, s34);
    case 17: return wg_slice(t, wg_concat(t, 2, (wg_tensor *[]){a, b}, 1), 1, 2, 6);
    case 18: return wg_broadcast_to(t, wg_div(t, wg_sum_axis(t, a, 0, true), 3), 2, s34);
    case 19: return wg_sub(t, a, wg_detach(t, wg_mul(t, b, 0.5)));
    default: return wg_matmul_ex(t, wg_matmul_ex(t, w, a, false, true), wg_mul(t, w, 0.25), true, false);
    }
}

/* Record graph `seed` on t in dtype dt from the inputs; returns the loss. */
static wg_tensor *build(wg_tape *t, wg_dtype dt, uint64_t seed, double *const *in, wg_tensor **leaves)
{
    wg_rng r;
    wg_rng_seed(&r, seed);
    wg_tensor *pool[POOL];
    int n = 0;
    for (int i = 0; i < 3; i++) pool[n++] = leaves[i] = cu_tensor(t, dt, 2, s34, in[i], true);
    leaves[3] = cu_tensor(t, dt, 2, s44, in[3], true);
    wg_tensor *loss = wg_sum(t, pool[0]);
    for (int s = 0; s < GRAPH_STEPS && n < POOL; s++) {
        pool[n] = step(t, &r, pool, n, leaves[3]);
        loss = wg_add(t, loss, wg_sum(t, pool[n]));
        n++;
    }
    return loss;
}

/* Normwise error of an f32 buffer against an f64 one, relative to max(1, |ref|). */
static double normwise(const float *x32, const double *x64, size_t n)
{
    double err = 0, scale = 1;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)x32[i] - x64[i]);
        err = d > err || isnan(d) ? d : err;
        scale = fmax(scale, fabs(x64[i]));
    }
    return err / scale;
}

/* The next node at or before n that is not a constant: a number operand
 * becomes a constant node of the other operand's dtype, so the f32 tape
 * holds a few more constants than the f64 one. */
static wg_tensor *skip_consts(wg_tensor *n)
{
    while (n && wg_is_leaf(n) && !wg_requires_grad(n)) n = wg_prev(n);
    return n;
}

static void compare(uint64_t seed)
{
    double v[4][16];
    for (int i = 0; i < 4; i++) cu_fill(v[i], 16, FILL_NORMAL);
    double *in[4] = {v[0], v[1], v[2], v[3]};
    wg_tape *t32 = wg_tape_new(), *t64 = wg_tape_new();
    wg_tensor *l32[4], *l64[4];
    wg_tensor *y32 = build(t32, WG_F32, seed, in, l32), *y64 = build(t64, WG_F64, seed, in, l64);
    CHECK(y32 && y64 && wg_backward(t32, y32) == 0 && wg_backward(t64, y64) == 0, "graph %llu: %s / %s",
          (unsigned long long)seed, wg_tape_error(t32), wg_tape_error(t64));
    if (!y32 || !y64) goto out;
    /* Every node: the same op, shape and dtype in its precision, values and gradients close. */
    wg_tensor *a = skip_consts(wg_tape_last(t32)), *b = skip_consts(wg_tape_last(t64));
    size_t n_compared = 0;
    for (; a && b; a = skip_consts(wg_prev(a)), b = skip_consts(wg_prev(b)), n_compared++) {
        CHECK(strcmp(wg_op_name(a), wg_op_name(b)) == 0 && wg_numel(a) == wg_numel(b) &&
                  wg_dtype_of(a) == WG_F32 && wg_dtype_of(b) == WG_F64,
              "graph %llu node %zu: %s vs %s", (unsigned long long)seed, wg_node_index(a), wg_op_name(a),
              wg_op_name(b));
        double ev = normwise(wg_data(a), wg_data(b), wg_numel(a));
        worst_value = fmax(worst_value, ev);
        CHECK(ev <= TOL, "graph %llu node %zu (%s): values differ by %.3g (normwise)", (unsigned long long)seed,
              wg_node_index(a), wg_op_name(a), ev);
        CHECK((wg_grad(a) == NULL) == (wg_grad(b) == NULL), "graph %llu node %zu (%s): gradient in one dtype only",
              (unsigned long long)seed, wg_node_index(a), wg_op_name(a));
        if (wg_grad(a) && wg_grad(b)) {
            double eg = normwise(wg_grad(a), wg_grad(b), wg_numel(a));
            worst_grad = fmax(worst_grad, eg);
            CHECK(eg <= TOL, "graph %llu node %zu (%s): gradients differ by %.3g (normwise)",
                  (unsigned long long)seed, wg_node_index(a), wg_op_name(a), eg);
        }
    }
    CHECK(a == NULL && b == NULL && n_compared > GRAPH_STEPS, "graph %llu: the tapes differ in length (%zu compared)",
          (unsigned long long)seed, n_compared);
    /* The first input is always in the loss (the other inputs' gradients,
     * where a graph uses them, were compared in the walk). */
    CHECK(wg_grad(l32[0]) != NULL && wg_grad(l64[0]) != NULL, "graph %llu: input 0 has no gradient",
          (unsigned long long)seed);
out:
    wg_tape_free(t32);
    wg_tape_free(t64);
}

int main(void)
{
    wg_rng_seed(&cu_rng, 3232);
    for (uint64_t seed = 1; seed <= N_GRAPHS; seed++) compare(seed);
    printf("%d graphs: worst normwise difference %.3g in values, %.3g in gradients (%.0f and %.0f FLT_EPSILON)\n",
           N_GRAPHS, worst_value, worst_grad, worst_value / FLT_EPSILON, worst_grad / FLT_EPSILON);
    return wg_test_done("test_f32_f64");
}
