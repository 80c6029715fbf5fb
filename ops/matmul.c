/* matmul.c: C = op(A) op(B), 2-D or batched 3-D, through BLIS.
 *
 *   forward   C[m,n] = op(A)[m,k] op(B)[k,n]
 *   VJP to A  d op(A) += dC[m,n] op(B)^T      (written through op(A)'s strides)
 *   VJP to B  d op(B) += op(A)^T dC[m,n]      (written through op(B)'s strides)
 *
 * op(X) is X or, with trans_x, X with its last two axes swapped.  Nothing is
 * ever copied to transpose: a transposed operand is the same memory read with
 * its row and column strides swapped, and so is its gradient.  The VJPs call
 * gemm with beta = 1, so they accumulate, and a 2-D operand shared by every
 * batch of a 3-D one gets the sum over the batch for free.
 *
 * Shape: [m,k]@[k,n] -> [m,n]; [B,m,k]@[B,k,n] -> [B,m,n]; a 2-D operand with
 * a 3-D one is used by every batch.  [B,m,k]@[k,n] is one GEMM of B*m rows.
 *
 * Second order: the recorded VJPs are the same two products made with
 * wg_matmul_ex (transposes as flags, still no copies), summed over the batch
 * where a 2-D operand was shared by a 3-D one.  JVP: dA op(B) + op(A) dB.
 */
#include <float.h>
#include <math.h>

#include "blas.h"
#include "wg_clones.h"
#include "wg_internal.h"

typedef struct {
    int64_t batch, m, n, k;
    int64_t rs_a, cs_a, bs_a; /* op(A): row, column and batch strides */
    int64_t rs_b, cs_b, bs_b;
} mm_geom;

/* Geometry of op(a) op(b) from the nodes and the flags in n->attr. */
static mm_geom geom_of(const wg_tensor *a, const wg_tensor *b, bool ta, bool tb)
{
    mm_geom g;
    int64_t ar = a->shape[a->ndim - 2], ac = a->shape[a->ndim - 1];
    int64_t br = b->shape[b->ndim - 2], bc = b->shape[b->ndim - 1];
    g.m = ta ? ac : ar;
    g.k = ta ? ar : ac;
    g.n = tb ? br : bc;
    g.rs_a = ta ? 1 : ac;
    g.cs_a = ta ? ac : 1;
    g.rs_b = tb ? 1 : bc;
    g.cs_b = tb ? bc : 1;
    g.bs_a = a->ndim == 3 ? ar * ac : 0;
    g.bs_b = b->ndim == 3 ? br * bc : 0;
    g.batch = a->ndim == 3 ? a->shape[0] : b->ndim == 3 ? b->shape[0] : 1;
    if (a->ndim == 3 && b->ndim == 2 && !ta) { /* fold the batch into the rows */
        g.m *= g.batch;
        g.batch = 1;
        g.bs_a = 0;
    }
    return g;
}

/* A parameter's gradient written as op(X) with unit row stride (X used
 * transposed, as a dense layer's W) had its column blocks on separate
 * threads, and those columns are X's rows: note how many blocks, for
 * zero_grad and the optimisers (wg_parts.h).  Any other layout: one. */
static void note_blocks(wg_tensor *x, int parts, int64_t batch, int64_t rs)
{
    if (x->op != &wg_op_leaf || !x->aux) return; /* not a parameter (wg_use) */
    wg_parts_note(x->aux, batch == 1 && rs == 1 && x->ndim == 2 ? parts : 1);
}

/* ---- the step in backward: a weight's gradient handed over in blocks ----
 * With an optimiser stepping in backward (wg_parts.h's wg_step_sink), a dense
 * layer's weight W [n_out, n_in], read transposed (x W^T), gets its gradient
 * from this VJP alone: dW^T = x^T dy, whose columns are W's rows.  Instead of
 * adding it to W's gradient buffer, which the optimiser then reads again
 * (and zeroes), the product is made a block of W's rows at a time into a
 * scratch block that stays in the cache, and each block is stepped at once:
 * the gradient is never stored whole.  The bits are those of the ordinary
 * VJP (wg_gemm_cols), and so are the optimiser's, which checks a gradient
 * finite before any of its elements steps; here that has to be known before
 * the first block, so the path is taken only when a bound proves it. */

/* The sum of the squares of n values in double, in 16 lanes (a vector
 * loop); +inf or NaN if one is not finite. */
#define SUMSQ(T)                                                                                     \
    WG_CLONES static double sumsq_##T(const T *v, size_t n)                                          \
    {                                                                                                \
        double acc[16] = {0}, s = 0;                                                                 \
        const size_t nv = n - n % 16;                                                                \
        for (size_t i = 0; i < nv; i += 16)                                                          \
            for (int l = 0; l < 16; l++) acc[l] += (double)v[i + l] * (double)v[i + l];              \
        for (size_t i = nv; i < n; i++) s += (double)v[i] * (double)v[i];                            \
        for (int l = 0; l < 16; l++) s += acc[l];                                                    \
        return s;                                                                                    \
    }
SUMSQ(float)
SUMSQ(double)

static double sumsq(int dt, const void *v, size_t n) { return dt == WG_F32 ? sumsq_float(v, n) : sumsq_double(v, n); }

/* Whether parameter leaf x is used once on its tape, by one input of one
 * node, and its parameter has no other leaf there: then that node's VJP
 * makes the whole gradient. */
static bool sole_use(const wg_tensor *x)
{
    const wg_param *p = x->aux;
    const wg_tape *t = x->tape;
    int uses = 0;
    for (size_t id = 0; id < t->n_nodes; id++) {
        const wg_rec *s = wg_slot(t, id);
        if (!(s->tag & WG_R_FULL)) { /* a scalar record: its inputs by id */
            for (int i = 0; i < wg_op_table[s->op]->arity; i++)
                if (s->in.x[i] == x->id && ++uses > 1) return false;
            continue;
        }
        const wg_tensor *m = s->in.node;
        if (m == x) continue;
        if ((m->flags & WG_F_PARAM) && m->aux == p) return false;
        const int k = wg_node_n_in(m);
        for (int i = 0; i < k; i++)
            if (wg_node_in(m, i) == x && ++uses > 1) return false;
    }
    return uses == 1;
}

/* W's gradient (b = W used transposed) handed to its sink block by block;
 * false (nothing done) where the ordinary VJP must write it. */
static bool vjp_to_sink(wg_tensor *n, const mm_geom *g, wg_tensor *b, const char *ap, const char *dc, int th)
{
    wg_tape *t = n->tape;
    if (b->op != &wg_op_leaf || !(b->flags & WG_F_PARAM) || !b->aux || !t->grad_hook) return false;
    wg_param *p = b->aux;
    const wg_step_sink *s = p->priv ? p->priv->sink : NULL;
    if (!s || s->tape != t || g->batch != 1 || b->ndim != 2 || g->rs_b != 1 || b->grad_epoch == t->epoch) return false;
    /* d op(B)[k,n] = op(A)^T[k,m] dC[m,n]: C's columns are W's rows */
    const int64_t M = g->k, N = g->n, K = g->m, rs_c = g->rs_b, cs_c = g->cs_b;
    const int dt = n->dtype;
    const int par = wg_gemm_cols_plan(th, dt, M, N, K, g->cs_a, g->rs_a, N, 1, rs_c, cs_c);
    if (!par || K > (1 << 22) || !sole_use(b)) return false;
    /* Each element is the dot product of a column of op(A) and one of dC, at
     * most (Cauchy-Schwarz) the product of their norms, so at most the norm
     * of all of op(A) times that of all of dC: finite if that is far enough
     * below the largest value (rounding included, K <= 2^22).  An infinity
     * or a NaN anywhere makes the bound infinite or NaN. */
    const double big = dt == WG_F32 ? 0.25 * FLT_MAX : 0.25 * DBL_MAX;
    const double bound = sqrt(sumsq(dt, ap, (size_t)(K * M))) * sqrt(sumsq(dt, dc, (size_t)(K * N)));
    if (!(bound < big)) return false;
    const size_t es = wg_dtype_size(dt), row = (size_t)M * es;
    /* A block of about 128 KB in whole BLIS panels (multiples of 48 rows);
     * a sum of a few terms (an outer product: batch 1) streams, and a block
     * of about 16 KB stays in L1 between the product and the step. */
    int64_t rows = K <= 16 ? (int64_t)((16u << 10) / row) : (int64_t)((128u << 10) / row) / 48 * 48;
    if (rows < (K <= 16 ? 1 : 48)) rows = K <= 16 ? 1 : 48;
    if (rows > N) rows = N;
    const int64_t nblk = (N + rows - 1) / rows;
    const int nth = par < nblk ? par : (int)nblk;
    char *scratch = s->scratch((size_t)nth * (size_t)rows * row, s->ctx);
    if (!scratch || !s->begin(p, s->ctx)) return false;
#pragma omp parallel for num_threads(nth) schedule(static, 1) if (nth > 1)
    for (int64_t blk = 0; blk < nblk; blk++) {
        char *c = scratch + (size_t)wg_omp_thread_num() * (size_t)rows * row;
        const int64_t r0 = blk * rows, r1 = r0 + rows < N ? r0 + rows : N;
        wg_gemm_cols(dt, M, N, K, ap, g->cs_a, g->rs_a, dc, N, 1, r0, r1, c, rs_c, cs_c);
        s->rows(p, r0, r1, c, s->ctx);
    }
    return true;
}

static void matmul_vjp(wg_tensor *n)
{
    wg_tensor *a = n->in[0], *b = n->in[1];
    mm_geom g = geom_of(a, b, n->attr.i[0], n->attr.i[1]);
    const size_t es = wg_dtype_size(n->dtype);
    const char *ap = a->data, *bp = b->data, *gc = n->grad;
    const int th = n->tape->bw_threads ? n->tape->bw_threads : wg_parts_threads(); /* one count per pass */
    char *ga = wg_needs_grad(a) ? wg_grad_buf(a) : NULL;
    char *gb = wg_needs_grad(b) && g.batch > 1 ? wg_grad_buf(b) : NULL;
    int parts_a = 1, parts_b = 1;
    for (int64_t i = 0; i < g.batch; i++) {
        const char *dc = gc + (size_t)(i * g.m * g.n) * es;
        if (ga) /* d op(A)[m,k] += dC[m,n] * op(B)^T[n,k] */
            parts_a = wg_gemm_on(th, n->dtype, g.m, g.k, g.n, 1.0, dc, g.n, 1, bp + (size_t)(i * g.bs_b) * es, g.cs_b,
                              g.rs_b, 1.0, ga + (size_t)(i * g.bs_a) * es, g.rs_a, g.cs_a);
        /* One product: B's gradient after A's, which reads op(B), so that a
         * weight stepped here (vjp_to_sink) is read at its old value. */
        if (g.batch == 1 && wg_needs_grad(b) && !vjp_to_sink(n, &g, b, ap, dc, th)) gb = wg_grad_buf(b);
        if (gb) /* d op(B)[k,n] += op(A)^T[k,m] * dC[m,n] */
            parts_b = wg_gemm_on(th, n->dtype, g.k, g.n, g.m, 1.0, ap + (size_t)(i * g.bs_a) * es, g.cs_a, g.rs_a, dc, g.n,
                              1, 1.0, gb + (size_t)(i * g.bs_b) * es, g.rs_b, g.cs_b);
    }
    if (ga) note_blocks(a, parts_a, g.batch, g.rs_a);
    if (gb) note_blocks(b, parts_b, g.batch, g.rs_b);
}
static void matmul_fwd(wg_tensor *n)
{
    const wg_tensor *a = n->in[0], *b = n->in[1];
    mm_geom g = geom_of(a, b, n->attr.i[0], n->attr.i[1]);
    const size_t es = wg_dtype_size(n->dtype);
    const int th = wg_parts_threads(); /* read once for the call */
    for (int64_t i = 0; i < g.batch; i++)
        wg_gemm_on(th, n->dtype, g.m, g.n, g.k, 1.0, (const char *)a->data + (size_t)(i * g.bs_a) * es, g.rs_a, g.cs_a,
                (const char *)b->data + (size_t)(i * g.bs_b) * es, g.rs_b, g.cs_b, 0.0,
                (char *)n->data + (size_t)(i * g.m * g.n) * es, g.n, 1);
}
/* A cotangent made batched by a shared 2-D operand, summed back over the batch. */
static wg_tensor *unbatch(wg_tape *t, wg_tensor *g, const wg_tensor *x)
{
    return g && g->ndim > x->ndim ? wg_sum_axis(t, g, 0, false) : g;
}
static wg_tensor *matmul_vjp_ops(wg_tape *t, wg_tensor *n, wg_tensor *gy, int i)
{
    wg_tensor *a = n->in[0], *b = n->in[1];
    const bool ta = n->attr.i[0], tb = n->attr.i[1];
    if (i == 0) /* d op(A) = dC op(B)^T; stored transposed: op(B) dC^T */
        return unbatch(t, ta ? wg_matmul_ex(t, b, gy, tb, true) : wg_matmul_ex(t, gy, b, false, !tb), a);
    /* d op(B) = op(A)^T dC; stored transposed: dC^T op(A) */
    return unbatch(t, tb ? wg_matmul_ex(t, gy, a, true, ta) : wg_matmul_ex(t, a, gy, !ta, false), b);
}
static wg_tensor *matmul_jvp(wg_tape *t, wg_tensor *n, wg_tensor *const *tx)
{
    const bool ta = n->attr.i[0], tb = n->attr.i[1];
    wg_tensor *y = tx[0] ? wg_matmul_ex(t, tx[0], n->in[1], ta, tb) : NULL;
    wg_tensor *z = tx[1] ? wg_matmul_ex(t, n->in[0], tx[1], ta, tb) : NULL;
    return y && z ? wg__add(t, y, z) : y ? y : z;
}
/* "matmul: <problem>: a is f32[2,3]<ta>, b is f32[4,5]<tb>"; returns 0. */
static int mm_fail(wg_tape *t, wg_status st, const char *problem, const wg_tensor *a, const char *ta,
                   const wg_tensor *b, const char *tb)
{
    char sa[80], sb[80];
    wg_tape_fail(t, st, "matmul: %s: a is %s%s, b is %s%s", problem, wg_fmt_shape(a, sa, sizeof sa), ta,
            wg_fmt_shape(b, sb, sizeof sb), tb);
    return 0;
}

/* matmul's shape rule: a (or a^T if i[0]) times b (or b^T if i[1]), 2-D or
 * batched 3-D, one dtype.  The node keeps the two flags. */
static int matmul_shape(wg_tape *t, const wg_op *op, wg_args *g)
{
    (void)op;
    const wg_tensor *a = g->x[0], *b = g->x[1];
    const bool trans_a = g->i[0], trans_b = g->i[1];
    /* Shapes are formatted only for an error: this runs on every matmul. */
    if (a->dtype != b->dtype) return mm_fail(t, WG_ERR_DTYPE, "dtype mismatch", a, "", b, "");
    if (a->ndim < 2 || a->ndim > 3 || b->ndim < 2 || b->ndim > 3)
        return mm_fail(t, WG_ERR_SHAPE, "operands must be 2-D or 3-D", a, "", b, "");
    if (a->ndim == 3 && b->ndim == 3 && a->shape[0] != b->shape[0])
        return mm_fail(t, WG_ERR_SHAPE, "batch sizes differ", a, "", b, "");
    mm_geom m = geom_of(a, b, trans_a, trans_b);
    int64_t kb = trans_b ? b->shape[b->ndim - 1] : b->shape[b->ndim - 2];
    if (m.k != kb)
        return mm_fail(t, WG_ERR_SHAPE, "inner dimensions differ", a, trans_a ? " (transposed)" : "", b,
                       trans_b ? " (transposed)" : "");
    g->out_ndim = 0;
    if (a->ndim == 3 || b->ndim == 3) g->out[g->out_ndim++] = a->ndim == 3 ? a->shape[0] : b->shape[0];
    g->out[g->out_ndim++] = trans_a ? a->shape[a->ndim - 1] : a->shape[a->ndim - 2];
    g->out[g->out_ndim++] = m.n;
    g->attr[0] = trans_a;
    g->attr[1] = trans_b;
    return 1;
}

const wg_op wg_op_matmul = {.name = "matmul", .id = WG_OP_matmul, .arity = 2, .shape = matmul_shape,
                            .fwd = matmul_fwd, .vjp = matmul_vjp, .vjp_ops = matmul_vjp_ops, .jvp = matmul_jvp};

wg_tensor *wg_matmul_ex(wg_tape *t, wg_tensor *a, wg_tensor *b, bool trans_a, bool trans_b)
{
    if (!t) {
        wg_set_last_error("matmul: invalid handle: the tape is NULL");
        return NULL;
    }
    wg_tensor *xs[2] = {a, b};
    if (!wg_check_inputs(t, "matmul", 2, xs)) return NULL;
    wg_args g = {.n = 2, .x = xs, .i = {trans_a, trans_b}};
    wg_tensor *n = wg_node_of(t, &wg_op_matmul, &g);
    if (!n) return NULL;
    matmul_fwd(n);
    return wg_node_done(t, n);
}

wg_tensor *wg_matmul(wg_tape *t, wg_tensor *a, wg_tensor *b) { return wg_matmul_ex(t, a, b, false, false); }
