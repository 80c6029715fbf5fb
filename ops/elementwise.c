/* elementwise.c: binary ops that broadcast like NumPy, and broadcast_to.
 *
 *   op    forward        VJP to a                    VJP to b
 *   add   a + b          gy                          gy
 *   sub   a - b          gy                          -gy
 *   mul   a * b          gy * b                      gy * a
 *   div   a / b          gy / b                      -gy * a / b^2
 *   max   a>b ? a : b    gy where a > b              gy where a <= b (ties go to b)
 *   min   a<b ? a : b    gy where a < b              gy where a >= b (ties go to b)
 *   pow   a^b            gy * b * a^(b-1), 0 if b=0  gy * y * log(a), 0 if a=0 and b>=0
 *   mask  b != 0 ? a : 0 gy where b != 0, else 0     none (b is a 0/1 mask)
 *   broadcast_to(x)      gy summed over the broadcast axes
 *
 * Second order: each op's partial derivatives are written once more with
 * wengert's own ops (the *_partial functions below: g times dy/da or dy/db,
 * elementwise).  The recorded VJP is partial(gy) summed back to the operand's
 * shape; the JVP is the sum of partial(ta) and partial(tb).  The kinks of
 * max and min become 0/1 masks, 1 - step(b - a) and the like, whose own
 * derivative is 0, applied with mask (a select, as PyTorch's formulas use
 * masked_fill: an infinite gy must give exactly 0 to the operand not
 * chosen, not inf * 0): the tie rules above hold at every order.  pow keeps
 * its zero rules the same way: d/da is masked to 0 where a = b = 0, and d/db
 * takes log(a) at a + [a == 0 and b >= 0].
 *
 * NaN: max and min propagate a NaN in a (a NaN in b is b's value already).
 * The tie rule of max makes relu = max(x, 0) have relu'(0) = 0, as PyTorch.
 * The zero rules of pow are PyTorch's, so 0^2 has derivative 0, not NaN.
 *
 * Shapes: both operands are right-aligned; each dimension must be equal or 1,
 * and the output takes the larger.  All VJPs go through one loop (BC_FOR)
 * that walks the output's index space with each operand's strides, 0 along
 * its broadcast axes; accumulating through those strides *is* the sum over
 * the broadcast axes.
 */
#include <tgmath.h>

#include "wg_internal.h"

/* Output extents and per-operand element strides, padded to 4 dims on the left. */
typedef struct {
    int64_t n[WG_MAX_DIMS];
    int64_t sa[WG_MAX_DIMS], sb[WG_MAX_DIMS];
    bool flat; /* one loop over n[3]; sa[3], sb[3] in {0, 1} */
} bc_plan;

static void pad4(const wg_tensor *x, int64_t d[WG_MAX_DIMS])
{
    int off = WG_MAX_DIMS - x->ndim;
    for (int i = 0; i < WG_MAX_DIMS; i++) d[i] = i < off ? 1 : x->shape[i - off];
}

static void strides_for(const int64_t dx[WG_MAX_DIMS], const int64_t dout[WG_MAX_DIMS], int64_t s[WG_MAX_DIMS])
{
    int64_t st = 1;
    for (int i = WG_MAX_DIMS - 1; i >= 0; i--) {
        s[i] = (dx[i] == 1 && dout[i] != 1) ? 0 : st;
        st *= dx[i];
    }
}

/* The broadcast shape of a and b into out_shape/out_ndim; 0 if incompatible. */
static int bc_shape(const wg_tensor *a, const wg_tensor *b, int *ndim, int64_t shape[WG_MAX_DIMS])
{
    int64_t da[WG_MAX_DIMS], db[WG_MAX_DIMS];
    pad4(a, da);
    pad4(b, db);
    *ndim = a->ndim > b->ndim ? a->ndim : b->ndim;
    int off = WG_MAX_DIMS - *ndim;
    for (int i = off; i < WG_MAX_DIMS; i++) {
        if (da[i] != db[i] && da[i] != 1 && db[i] != 1) return 0;
        shape[i - off] = da[i] == 1 ? db[i] : da[i];
    }
    return 1;
}

static void bc_plan_make(const wg_tensor *a, const wg_tensor *b, const wg_tensor *out, bc_plan *p)
{
    int64_t da[WG_MAX_DIMS], db[WG_MAX_DIMS], dout[WG_MAX_DIMS];
    pad4(out, dout);
    if ((a->size == out->size || a->size == 1) && (b->size == out->size || b->size == 1)) {
        /* Equal shapes or a scalar operand: one flat loop. */
        for (int i = 0; i < WG_MAX_DIMS; i++) p->n[i] = 1, p->sa[i] = 0, p->sb[i] = 0;
        p->n[3] = (int64_t)out->size;
        p->sa[3] = a->size == out->size && out->size != 1;
        p->sb[3] = b->size == out->size && out->size != 1;
        p->flat = true;
        return;
    }
    pad4(a, da);
    pad4(b, db);
    strides_for(da, dout, p->sa);
    strides_for(db, dout, p->sb);
    for (int i = 0; i < WG_MAX_DIMS; i++) p->n[i] = dout[i];
    p->flat = false;
}

/* Run STMT for every output element with ia, ib, io its indices into a, b
 * and out.  The inner loop is specialised on the innermost strides so the
 * common cases (same shape, row broadcast, scalar) vectorise. */
#define BC_INNER(p, ja, jb, jo, ...)                                                        \
    do {                                                                                     \
        const int64_t n3_ = (p)->n[3];                                                       \
        if ((p)->sa[3] == 1 && (p)->sb[3] == 1) {                                            \
            for (int64_t i3_ = 0; i3_ < n3_; i3_++) {                                        \
                size_t ia = (ja) + i3_, ib = (jb) + i3_, io = (jo) + i3_;                    \
                __VA_ARGS__;                                                                        \
            }                                                                                \
        } else if ((p)->sa[3] == 1 && (p)->sb[3] == 0) {                                     \
            const size_t ib = (jb);                                                          \
            for (int64_t i3_ = 0; i3_ < n3_; i3_++) {                                        \
                size_t ia = (ja) + i3_, io = (jo) + i3_;                                     \
                __VA_ARGS__;                                                                        \
            }                                                                                \
        } else if ((p)->sa[3] == 0 && (p)->sb[3] == 1) {                                     \
            const size_t ia = (ja);                                                          \
            for (int64_t i3_ = 0; i3_ < n3_; i3_++) {                                        \
                size_t ib = (jb) + i3_, io = (jo) + i3_;                                     \
                __VA_ARGS__;                                                                        \
            }                                                                                \
        } else {                                                                             \
            for (int64_t i3_ = 0; i3_ < n3_; i3_++) {                                        \
                size_t ia = (ja) + (size_t)(i3_ * (p)->sa[3]), ib = (jb) + (size_t)(i3_ * (p)->sb[3]); \
                size_t io = (jo) + i3_;                                                      \
                __VA_ARGS__;                                                                        \
            }                                                                                \
        }                                                                                    \
    } while (0)

#define BC_FOR(p, ...)                                                                      \
    do {                                                                                     \
        if ((p)->flat) {                                                                     \
            BC_INNER(p, 0, 0, 0, __VA_ARGS__);                                                      \
            break;                                                                           \
        }                                                                                    \
        size_t jo_ = 0;                                                                      \
        for (int64_t i0_ = 0; i0_ < (p)->n[0]; i0_++)                                        \
            for (int64_t i1_ = 0; i1_ < (p)->n[1]; i1_++)                                    \
                for (int64_t i2_ = 0; i2_ < (p)->n[2]; i2_++, jo_ += (size_t)(p)->n[3]) {    \
                    size_t ja_ = (size_t)(i0_ * (p)->sa[0] + i1_ * (p)->sa[1] + i2_ * (p)->sa[2]); \
                    size_t jb_ = (size_t)(i0_ * (p)->sb[0] + i1_ * (p)->sb[1] + i2_ * (p)->sb[2]); \
                    BC_INNER(p, ja_, jb_, jo_, __VA_ARGS__);                                        \
                }                                                                            \
    } while (0)

/* An operand's gradient buffer for the general VJP: *first (store, not add)
 * only when the operand has the output's size, so that the loop writes each
 * of its elements exactly once; a broadcast operand sums several output
 * elements into one, so its buffer starts at zero (wg_grad_first). */
static void *vjp_grad(wg_tensor *x, const wg_tensor *out, bool *first)
{
    if (x->size != out->size) {
        *first = false;
        return wg_grad_buf(x);
    }
    return wg_grad_first(x, first);
}

/* Record a binary op: checks, broadcast shape, node.  The caller runs the kernel. */
/* The shape rule of the binary ops: NumPy broadcasting. */
static int broadcast_shape(wg_tape *t, const wg_op *op, wg_args *g)
{
    const wg_tensor *a = g->x[0], *b = g->x[1];
    if (a->ndim == 0 && b->ndim == 0) {
        g->out_ndim = 0;
    } else if (!bc_shape(a, b, &g->out_ndim, g->out)) {
        char sa[80], sb[80];
        wg_tape_fail(t, WG_ERR_SHAPE, "%s: shapes cannot broadcast: a is %s, b is %s", op->name,
                wg_fmt_shape(a, sa, sizeof sa), wg_fmt_shape(b, sb, sizeof sb));
        return 0;
    }
    return 1;
}

static wg_tensor *binary_node(wg_tape *t, const wg_op *op, wg_tensor **a, wg_tensor **b)
{
    wg_tensor *xs[2] = {*a, *b};
    if (!wg_check_inputs(t, op->name, 2, xs)) return NULL;
    *a = xs[0], *b = xs[1]; /* records are now their mirrors */
    if (!wg_unify_dtypes(t, op->name, a, b)) return NULL;
    xs[0] = *a, xs[1] = *b;
    wg_args g = {.n = 2, .x = xs};
    return wg_node_of(t, op, &g);
}

/* One binary op: forward expression of (A, B), and the per-element gradient
 * contributions GA and GB of (G, A, B, Y).  One-element operands take short
 * paths, kept small so that they compile to a few dozen instructions; the
 * general paths are separate functions. */
#define BINARY_OP(name, FWD, GA, GB)                                                         \
    static void name##_kernel(wg_tensor *n)                                                  \
    {                                                                                        \
        const wg_tensor *a_ = n->in[0], *b_ = n->in[1];                                      \
        if (n->ndim == 0) { /* then a and b are 0-d: replay's scalar path, no plan */        \
            WG_TYPED(n->dtype, {                                                             \
                const T A = *(const T *)&a_->val, B = *(const T *)&b_->val;                  \
                (void)A, (void)B;                                                            \
                *(T *)&n->val = (FWD);                                                       \
            });                                                                              \
            return;                                                                          \
        }                                                                                    \
        WG_TYPED(n->dtype, {                                                                 \
            const T *ap = a_->data, *bp = b_->data;                                          \
            T *yp = n->data;                                                                 \
            bc_plan p;                                                                       \
            bc_plan_make(a_, b_, n, &p);                                                     \
            BC_FOR(&p, {                                                                     \
                const T A = ap[ia], B = bp[ib];                                              \
                (void)A, (void)B;                                                            \
                yp[io] = (FWD);                                                              \
            });                                                                              \
        });                                                                                  \
    }                                                                                        \
    static __attribute__((noinline)) void name##_vjp_general(wg_tensor *n)                   \
    {                                                                                        \
        wg_tensor *a_ = n->in[0], *b_ = n->in[1];                                            \
        WG_TYPED(n->dtype, {                                                                 \
            const T *ap = a_->data, *bp = b_->data, *yp = n->data, *gp = n->grad;            \
            bool fa = false, fb = false;                                                     \
            T *ga = wg_needs_grad(a_) ? vjp_grad(a_, n, &fa) : NULL;                         \
            T *gb = wg_needs_grad(b_) ? vjp_grad(b_, n, &fb) : NULL;                         \
            bc_plan p;                                                                       \
            bc_plan_make(a_, b_, n, &p);                                                     \
            if (ga && fa)                                                                    \
                BC_FOR(&p, {                                                                 \
                    const T A = ap[ia], B = bp[ib], Y = yp[io], G = gp[io];                  \
                    (void)Y; (void)B; (void)A; (void)G;                                      \
                    ga[ia] = (GA);                                                           \
                });                                                                          \
            else if (ga)                                                                     \
                BC_FOR(&p, {                                                                 \
                    const T A = ap[ia], B = bp[ib], Y = yp[io], G = gp[io];                  \
                    (void)Y; (void)B; (void)A; (void)G;                                             \
                    ga[ia] += (GA);                                                          \
                });                                                                          \
            if (gb && fb)                                                                    \
                BC_FOR(&p, {                                                                 \
                    const T A = ap[ia], B = bp[ib], Y = yp[io], G = gp[io];                  \
                    (void)Y; (void)B; (void)A; (void)G;                                      \
                    gb[ib] = (GB);                                                           \
                });                                                                          \
            else if (gb)                                                                     \
                BC_FOR(&p, {                                                                 \
                    const T A = ap[ia], B = bp[ib], Y = yp[io], G = gp[io];                  \
                    (void)Y; (void)B; (void)A; (void)G;                                             \
                    gb[ib] += (GB);                                                          \
                });                                                                          \
        });                                                                                  \
    }                                                                                        \
    static void name##_vjp(wg_tensor *n)                                                     \
    {                                                                                        \
        if (n->size != 1) { /* then a and b have one element too */                      \
            name##_vjp_general(n);                                                           \
            return;                                                                          \
        }                                                                                    \
        wg_tensor *a_ = n->in[0], *b_ = n->in[1];                                            \
        WG_TYPED(n->dtype, {                                                                 \
            const T A = *(const T *)&a_->val, B = *(const T *)&b_->val;                      \
            const T Y = *(const T *)&n->val, G = *(const T *)&n->gval; /* see val */         \
            (void)Y, (void)A, (void)B;                                                       \
            bool first;                                                                      \
            if (wg_needs_grad(a_)) {                                                         \
                T *ga = wg_grad_slot(a_, &first);                                            \
                if (!ga) return;                                                             \
                *ga = first ? (GA) : *ga + (GA);                                             \
            }                                                                                \
            if (wg_needs_grad(b_)) {                                                         \
                T *gb = wg_grad_slot(b_, &first);                                            \
                if (!gb) return;                                                             \
                *gb = first ? (GB) : *gb + (GB);                                             \
            }                                                                                \
        });                                                                                  \
    }                                                                                        \
    static __attribute__((noinline)) wg_tensor *name##_general(wg_tape *t, wg_tensor *a, wg_tensor *b) \
    {                                                                                        \
        if (!t) {                                                                            \
            wg_set_last_error(#name ": invalid handle: the tape is NULL");                   \
            return NULL;                                                                     \
        }                                                                                    \
        wg_tensor *n = binary_node(t, &wg_op_##name, &a, &b);                                \
        if (!n) return NULL;                                                                 \
        name##_kernel(n);                                                                    \
        return wg_node_done(t, n);                                                           \
    }                                                                                        \
    wg_tensor *wg__##name(wg_tape *t, wg_tensor *a, wg_tensor *b);                           \
    /* Two live scalars of two dtypes: the dtype rule (a number as an operand */           \
    /* takes the other's), then the fast path again.  Out of line, so that the */          \
    /* fast path keeps a and b in registers. */                                             \
    static __attribute__((noinline)) wg_tensor *name##_mixed(wg_tape *t, wg_tensor *a, wg_tensor *b) \
    {                                                                                        \
        return wg_unify_dtypes(t, #name, &a, &b) ? wg__##name(t, a, b) : NULL;               \
    }                                                                                        \
    /* The slots' chunk is full: the next one, then the fast path again. */                \
    static __attribute__((noinline)) wg_tensor *name##_room(wg_tape *t, wg_tensor *a, wg_tensor *b) \
    {                                                                                        \
        return wg_rec_room(t, WG_OP_##name) ? wg__##name(t, a, b) : NULL;                    \
    }                                                                                        \
    /* The record's forward and VJP (the compact scalar tape, wg_internal.h): */         \
    /* the same expressions on its inputs' slots. */                                        \
    static void name##_rec_fwd(wg_tape *t, wg_rec *r)                                        \
    {                                                                                        \
        const wg_rec *sa = wg_slot(t, r->in.x[0]), *sb = wg_slot(t, r->in.x[1]);             \
        WG_TYPED(WG_REC_DT(r), {                                                             \
            const T A = WG_REC_IN(r, 0, sa, T), B = WG_REC_IN(r, 1, sb, T);                  \
            (void)A, (void)B;                                                                \
            WG_REC_SET(r, T, (FWD));                                                           \
        });                                                                                  \
    }                                                                                        \
    static void name##_rec_vjp(wg_tape *t, const wg_rec *r)                                  \
    {                                                                                        \
        const uint32_t ia = r->in.x[0], ib = r->in.x[1];                                     \
        const wg_rec *sa = wg_slot(t, ia), *sb = wg_slot(t, ib);                             \
        WG_TYPED(WG_REC_DT(r), {                                                             \
            const T A = WG_REC_IN(r, 0, sa, T), B = WG_REC_IN(r, 1, sb, T);                  \
            const T Y = *(const T *)&r->val, G = WG_REC_G(t, r, T);                          \
            (void)Y, (void)A, (void)B;                                                       \
            WG_REC_ACC(t, r, 0, ia, T, (GA));                                                \
            WG_REC_ACC(t, r, 1, ib, T, (GB));                                                \
        });                                                                                  \
    }                                                                                        \
    /* The scalar chains of expression code (x*a + b, 100,000 times) are */                \
    /* records: two live 0-d operands of one dtype, on a tape with no error, */            \
    /* no anomaly mode and no tangents, can fail no check, so the constructor */           \
    /* writes the 24-byte record and nothing else (bench/README.md, scalar_chain). */      \
    wg_tensor *wg__##name(wg_tape *t, wg_tensor *a, wg_tensor *b)                            \
    {                                                                                        \
        wg_scl A_, B_;                                                                       \
        if (!t || !wg_scl_of(t, a, &A_) || !wg_scl_of(t, b, &B_)) return name##_general(t, a, b); \
        if ((A_.tag ^ B_.tag) & WG_R_F32) return name##_mixed(t, a, b);                      \
        if (t->slot == t->slot_end) return name##_room(t, a, b);                             \
        wg_rec *r = wg_rec_put(t, WG_OP_##name, A_.tag | B_.tag, A_.in_tag | B_.in_tag << 2, A_.id, B_.id); \
        WG_TYPED(WG_REC_DT(r), {                                                             \
            const T A = *(const T *)&A_.v, B = *(const T *)&B_.v;                            \
            (void)A, (void)B;                                                                \
            WG_REC_SET(r, T, (FWD));                                                           \
        });                                                                                  \
        return (wg_tensor *)r;                                                               \
    }

BINARY_OP(add, A + B, G, G)
BINARY_OP(sub, A - B, G, -G)
BINARY_OP(mul, A *B, G *B, G *A)
BINARY_OP(div, A / B, G / B, -G * ((A / B) / B)) /* PyTorch's grouping; no overflow of b^2 */
BINARY_OP(max, (A > B || A != A) ? A : B, (A > B || A != A) ? G : 0, (A > B || A != A) ? 0 : G)
BINARY_OP(min, (A < B || A != A) ? A : B, (A < B || A != A) ? G : 0, (A < B || A != A) ? 0 : G)
/* Grouped as PyTorch does: gy * (b a^(b-1)) and gy * (y log a); the zero of d/db
 * multiplies gy, so an infinite gy gives NaN there, as in PyTorch. */
BINARY_OP(pow, pow(A, B), B == 0 ? 0 : G * (B * pow(A, B - 1)), G * ((A == 0 && B >= 0) ? 0 : Y * log(A)))
BINARY_OP(mask, B != 0 ? A : 0, B != 0 ? G : 0, 0)

/* ---- recorded partials: g * dy/d(input i), elementwise, out-shaped g ------- */

static wg_tensor *add_partial(wg_tape *t, wg_tensor *n, wg_tensor *g, int i)
{
    (void)t, (void)n, (void)i;
    return g;
}
static wg_tensor *sub_partial(wg_tape *t, wg_tensor *n, wg_tensor *g, int i)
{
    (void)n;
    return i ? wg_neg(t, g) : g;
}
static wg_tensor *mul_partial(wg_tape *t, wg_tensor *n, wg_tensor *g, int i) { return wg__mul(t, g, n->in[1 - i]); }
static wg_tensor *div_partial(wg_tape *t, wg_tensor *n, wg_tensor *g, int i)
{
    wg_tensor *b = n->in[1];
    return i == 0 ? wg__div(t, g, b) : wg_neg(t, wg__div(t, wg__mul(t, g, n), b)); /* -g y / b */
}
/* 1 where the gradient goes to a: a > b (max) or a < b (min), or a is NaN. */
static wg_tensor *kink_mask(wg_tape *t, wg_tensor *n, bool is_max, int i)
{
    wg_tensor *a = n->in[0], *b = n->in[1];
    wg_tensor *to_b = wg_step(t, is_max ? wg__sub(t, b, a) : wg__sub(t, a, b)); /* ties go to b */
    return i ? to_b : wg__sub(t, wg_full_like(t, to_b, 1), to_b);
}
static wg_tensor *max_partial(wg_tape *t, wg_tensor *n, wg_tensor *g, int i)
{
    return wg__mask(t, g, kink_mask(t, n, true, i));
}
static wg_tensor *min_partial(wg_tape *t, wg_tensor *n, wg_tensor *g, int i)
{
    return wg__mask(t, g, kink_mask(t, n, false, i));
}
/* [x == 0] as 0/1: step(x) step(-x) */
static wg_tensor *is_zero(wg_tape *t, wg_tensor *x) { return wg__mul(t, wg_step(t, x), wg_step(t, wg_neg(t, x))); }
static wg_tensor *pow_partial(wg_tape *t, wg_tensor *n, wg_tensor *g, int i)
{
    wg_tensor *a = n->in[0], *b = n->in[1];
    if (i == 0) { /* g * (b a^(b-1)), exactly 0 where a = b = 0 (0 * 0^-1 is the kernel's 0) */
        wg_tensor *d = wg__mul(t, g, wg__mul(t, b, wg__pow(t, a, wg__sub(t, b, wg_full_like(t, b, 1)))));
        wg_tensor *both = wg__mul(t, is_zero(t, a), is_zero(t, b));
        return wg__mask(t, d, wg__sub(t, wg_full_like(t, both, 1), both));
    }
    /* g * (y log(a + [a == 0 and b >= 0])): 0 there; 0^b log 0 stays -inf for b < 0 */
    wg_tensor *zero = wg__mul(t, is_zero(t, a), wg_step(t, b));
    return wg__mul(t, g, wg__mul(t, n, wg_log(t, wg__add(t, a, zero))));
}
/* The mask is piecewise constant: only the selected values have a derivative. */
static wg_tensor *mask_partial(wg_tape *t, wg_tensor *n, wg_tensor *g, int i)
{
    return i == 0 ? wg__mask(t, g, n->in[1]) : wg_full_like(t, g, 0);
}

/* x broadcast to n's shape (itself when it has it already). */
static wg_tensor *to_out_shape(wg_tape *t, wg_tensor *x, const wg_tensor *n)
{
    if (x->ndim == n->ndim && memcmp(x->shape, n->shape, sizeof x->shape) == 0) return x;
    return wg_broadcast_to(t, x, n->ndim, n->shape);
}

#define BINARY_ENTRY(nm)                                                                     \
    static wg_tensor *nm##_vjp_ops(wg_tape *t, wg_tensor *n, wg_tensor *gy, int i)           \
    {                                                                                          \
        return wg_sum_to(t, nm##_partial(t, n, gy, i), n->in[i]);                            \
    }                                                                                          \
    static wg_tensor *nm##_jvp(wg_tape *t, wg_tensor *n, wg_tensor *const *tx)               \
    {                                                                                          \
        wg_tensor *ty = NULL;                                                                  \
        for (int i = 0; i < 2; i++) {                                                          \
            if (!tx[i]) continue;                                                              \
            wg_tensor *d = nm##_partial(t, n, to_out_shape(t, tx[i], n), i);                 \
            ty = ty ? wg__add(t, ty, d) : d;                                                   \
        }                                                                                      \
        return ty;                                                                             \
    }                                                                                          \
    const wg_op wg_op_##nm = {.name = #nm, .id = WG_OP_##nm, .arity = 2, .shape = broadcast_shape, .fwd = nm##_kernel, \
                                .vjp = nm##_vjp, .vjp_ops = nm##_vjp_ops, .jvp = nm##_jvp,   \
                                .binary = wg__##nm, .rec_fwd = nm##_rec_fwd, .rec_vjp = nm##_rec_vjp};

BINARY_ENTRY(add)
BINARY_ENTRY(sub)
BINARY_ENTRY(mul)
BINARY_ENTRY(div)
BINARY_ENTRY(max)
BINARY_ENTRY(min)
BINARY_ENTRY(pow)
BINARY_ENTRY(mask)

wg_tensor *wg_sum_to(wg_tape *t, wg_tensor *g, const wg_tensor *like)
{
    if (!g) return NULL;
    /* records are 0-d: like may be one (a mirror's input), g the cotangent of one */
    bool g0 = wg_is_rec(g) || g->ndim == 0, like0 = wg_is_rec(like) || like->ndim == 0;
    if (g0 && like0) return g;
    if (!(like = wg_solid(t, (wg_tensor *)like)) || !(g = wg_solid(t, g))) return NULL;
    if (g->ndim == like->ndim && memcmp(g->shape, like->shape, sizeof g->shape) == 0) return g;
    /* like padded with 1s on the left to g's rank; axes summed from the last,
     * kept as 1, so the earlier axis numbers stay valid */
    int off = g->ndim - like->ndim;
    wg_tensor *r = g;
    for (int ax = g->ndim - 1; ax >= 0 && r; ax--) {
        int64_t want = ax < off ? 1 : like->shape[ax - off];
        if (want == 1 && g->shape[ax] != 1) r = wg_sum_axis(t, r, ax, true);
    }
    return r ? wg_reshape(t, r, like->ndim, like->shape) : NULL;
}

/* ---- broadcast_to ------------------------------------------------------- */

static void broadcast_to_vjp(wg_tensor *n)
{
    wg_tensor *x = n->in[0];
    if (!wg_needs_grad(x)) return;
    bc_plan p;
    bc_plan_make(x, x->size == n->size ? x : n, n, &p); /* b unused: any operand of out's shape */
    WG_TYPED(n->dtype, {
        T *gx = wg_grad_buf(x);
        const T *gp = n->grad;
        if (!gx) return;
        BC_FOR(&p, {
            (void)ib;
            gx[ia] += gp[io];
        });
    });
}
static void broadcast_to_fwd(wg_tensor *n)
{
    const wg_tensor *x = n->in[0];
    bc_plan p;
    bc_plan_make(x, x->size == n->size ? x : n, n, &p);
    WG_TYPED(n->dtype, {
        const T *xp = x->data;
        T *yp = n->data;
        BC_FOR(&p, {
            (void)ib;
            yp[io] = xp[ia];
        });
    });
}
static wg_tensor *broadcast_to_vjp_ops(wg_tape *t, wg_tensor *n, wg_tensor *gy, int i)
{
    return wg_sum_to(t, gy, n->in[i]);
}
static wg_tensor *broadcast_to_jvp(wg_tape *t, wg_tensor *n, wg_tensor *const *tx)
{
    return wg_broadcast_to(t, tx[0], n->ndim, n->shape);
}
/* broadcast_to's shape rule: the target, to which x's dimensions,
 * right-aligned, are equal or 1. */
static int broadcast_to_shape(wg_tape *t, const wg_op *op, wg_args *g)
{
    (void)op;
    const wg_tensor *x = g->x[0];
    const int ndim = g->ndim;
    const int64_t *shape = g->target;
    char sx[80];
    if (ndim < x->ndim || ndim > WG_MAX_DIMS || (ndim > 0 && !shape)) {
        wg_tape_fail(t, WG_ERR_SHAPE, "broadcast_to: cannot broadcast %s to %d dimensions", wg_fmt_shape(x, sx, sizeof sx),
                ndim);
        return 0;
    }
    for (int i = 0; i < x->ndim; i++) {
        int64_t want = shape[ndim - x->ndim + i];
        if (x->shape[i] != want && x->shape[i] != 1) {
            wg_tape_fail(t, WG_ERR_SHAPE, "broadcast_to: cannot broadcast %s: axis %d is %lld, target is %lld",
                    wg_fmt_shape(x, sx, sizeof sx), i, (long long)x->shape[i], (long long)want);
            return 0;
        }
    }
    g->out_ndim = ndim;
    if (ndim) memcpy(g->out, shape, (size_t)ndim * sizeof *shape);
    return 1;
}
const wg_op wg_op_broadcast_to = {.name = "broadcast_to", .id = WG_OP_broadcast_to, .arity = 1,
                                  .shape = broadcast_to_shape, .fwd = broadcast_to_fwd, .vjp = broadcast_to_vjp,
                                  .vjp_ops = broadcast_to_vjp_ops, .jvp = broadcast_to_jvp};

wg_tensor *wg_broadcast_to(wg_tape *t, wg_tensor *x, int ndim, const int64_t *shape)
{
    if (!t) {
        wg_set_last_error("broadcast_to: invalid handle: the tape is NULL");
        return NULL;
    }
    if (!wg_check_inputs(t, "broadcast_to", 1, &x)) return NULL;
    wg_args g = {.n = 1, .x = &x, .ndim = ndim, .target = shape};
    wg_tensor *n = wg_node_of(t, &wg_op_broadcast_to, &g);
    if (!n) return NULL;
    broadcast_to_fwd(n);
    return wg_node_done(t, n);
}

/* ---- axpy: alpha x + y, fused ------------------------------------------- *
 *
 *   axpy   out = alpha x + y      gx += alpha gy      gy_in += gy      (alpha a constant, attr.c)
 *
 * Why fused (measured, GradBench's ode: an RK4 step is y + h k, k1 + 2 k2,
 * ..., 6 of its 25 tensor nodes): the composite add(y, mul(alpha, x)) writes
 * an x-sized intermediate in the forward, and in backward copies gy twice
 * (into y's and the product's gradients) before scaling one copy: five
 * passes over memory where this takes three.  Same rounding as the
 * composite: (T)alpha * x, then + y, no contraction (C17 mode), so the
 * values are the composite's exactly (test_exact).  Broadcasts as add does.
 *
 * Second order and forward mode: linear in (x, y), so the recorded VJP is
 * alpha gy (summed back to x's shape) and gy (to y's), and the JVP
 * alpha tx + ty. */

static void axpy_kernel(wg_tensor *n)
{
    const wg_tensor *x = n->in[0], *y = n->in[1];
    WG_TYPED(n->dtype, {
        const T *ap = x->data, *bp = y->data;
        T *yp = n->data;
        const T al = (T)n->attr.c;
        bc_plan p;
        bc_plan_make(x, y, n, &p);
        BC_FOR(&p, { yp[io] = al * ap[ia] + bp[ib]; });
    });
}
static void axpy_vjp(wg_tensor *n)
{
    wg_tensor *x = n->in[0], *y = n->in[1];
    WG_TYPED(n->dtype, {
        const T *gp = n->grad;
        const T al = (T)n->attr.c;
        bool fa = false, fb = false;
        T *ga = wg_needs_grad(x) ? vjp_grad(x, n, &fa) : NULL;
        T *gb = wg_needs_grad(y) ? vjp_grad(y, n, &fb) : NULL;
        bc_plan p;
        bc_plan_make(x, y, n, &p);
        if (ga && x->size != n->size) {
            /* x broadcast: gy summed over the broadcast axes first, then
             * scaled, as the composite's add and mul VJPs do (same rounding) */
            T *sum = x->size ? wg_arena_alloc(n->tape, x->size * sizeof(T)) : NULL;
            if (x->size && !sum) return;
            for (size_t i = 0; i < x->size; i++) sum[i] = 0;
            BC_FOR(&p, { (void)ib; sum[ia] += gp[io]; });
            for (size_t i = 0; i < x->size; i++) ga[i] += sum[i] * al;
        } else if (ga && fa) {
            BC_FOR(&p, { (void)ib; ga[ia] = gp[io] * al; });
        } else if (ga) {
            BC_FOR(&p, { (void)ib; ga[ia] += gp[io] * al; });
        }
        if (gb && fb)
            BC_FOR(&p, { (void)ia; gb[ib] = gp[io]; });
        else if (gb)
            BC_FOR(&p, { (void)ia; gb[ib] += gp[io]; });
    });
}
static wg_tensor *alpha_of(wg_tape *t, const wg_tensor *n) { return wg_scalar(t, (wg_dtype)n->dtype, n->attr.c, false); }
static wg_tensor *axpy_vjp_ops(wg_tape *t, wg_tensor *n, wg_tensor *gy, int i)
{
    return wg_sum_to(t, i == 0 ? wg__mul(t, gy, alpha_of(t, n)) : gy, n->in[i]);
}
static wg_tensor *axpy_jvp(wg_tape *t, wg_tensor *n, wg_tensor *const *tx)
{
    wg_tensor *ty = tx[0] ? wg__mul(t, to_out_shape(t, tx[0], n), alpha_of(t, n)) : NULL;
    if (tx[1]) ty = ty ? wg__add(t, ty, tx[1]) : to_out_shape(t, tx[1], n);
    return ty;
}
const wg_op wg_op_axpy = {.name = "axpy", .id = WG_OP_axpy, .arity = 2, .shape = broadcast_shape,
                          .fwd = axpy_kernel, .vjp = axpy_vjp, .vjp_ops = axpy_vjp_ops, .jvp = axpy_jvp};

wg_tensor *wg_axpy(wg_tape *t, double alpha, wg_tensor *x, wg_tensor *y)
{
    if (!t) {
        wg_set_last_error("axpy: invalid handle: the tape is NULL");
        return NULL;
    }
    wg_tensor *n = binary_node(t, &wg_op_axpy, &x, &y);
    if (!n) return NULL;
    n->attr.c = alpha;
    axpy_kernel(n);
    return wg_node_done(t, n);
}
