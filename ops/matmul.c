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

static void matmul_vjp(wg_tensor *n)
{
    wg_tensor *a = n->in[0], *b = n->in[1];
    mm_geom g = geom_of(a, b, n->attr.i[0], n->attr.i[1]);
    const size_t es = wg_dtype_size(n->dtype);
    const char *ap = a->data, *bp = b->data, *gc = n->grad;
    char *ga = wg_needs_grad(a) ? wg_grad_buf(a) : NULL;
    char *gb = wg_needs_grad(b) ? wg_grad_buf(b) : NULL;
    const int th = n->tape->bw_threads ? n->tape->bw_threads : wg_parts_threads(); /* one count per pass */
    int parts_a = 1, parts_b = 1;
    for (int64_t i = 0; i < g.batch; i++) {
        const char *dc = gc + (size_t)(i * g.m * g.n) * es;
        if (ga) /* d op(A)[m,k] += dC[m,n] * op(B)^T[n,k] */
            parts_a = wg_gemm_on(th, n->dtype, g.m, g.k, g.n, 1.0, dc, g.n, 1, bp + (size_t)(i * g.bs_b) * es, g.cs_b,
                              g.rs_b, 1.0, ga + (size_t)(i * g.bs_a) * es, g.rs_a, g.cs_a);
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
