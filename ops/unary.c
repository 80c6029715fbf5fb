/* unary.c: elementwise ops of one tensor.  Shape: the same as x.
 *
 *   op      forward          VJP: gx += gy * ...        saved
 *   neg     -x               -1                         -
 *   exp     e^x              y                          output
 *   log     ln x             1 / x                      -
 *   log1p   ln(1 + x)        1 / (1 + x)                -
 *   sqrt    sqrt(x)          1 / (2 y)                  output
 *   tanh    tanh(x)          1 - y^2                    output
 *   sin     sin x            cos x                      -
 *   cos     cos x            -sin x                     -
 *   abs     |x|              sign(x); 0 at x = 0 (kink) -
 *   pow_c   x^c              c x^(c-1); 0 when c = 0    the constant c
 *   sign    -1, 0, 1         none (zero gradient)
 *   step    1 if x >= 0      none (zero gradient); Heaviside as in lecture 000
 *
 * sign and step are piecewise constant: their outputs never require a
 * gradient, so nothing flows back through them (the derivative is 0 almost
 * everywhere and undefined at the jump).
 *
 * Second order and forward mode: the Jacobian of an elementwise op is
 * diagonal, so the recorded VJP and the JVP are the same product, g times
 * y'(x), written below once per op (*_dmul) with wengert's ops: the VJP
 * with g = gy, the JVP with g = tx.  Each uses the saved value the kernel
 * uses (exp's and tanh's output), so the recorded backward is differentiable
 * through it.
 */
#include <stdatomic.h>
#include <tgmath.h>

#include "wg_internal.h"

/* ---- fast math: exp and tanh through glibc's vector library ---------------
 *
 * By default every kernel calls libm's scalar exp and tanh, correctly
 * rounded in practice, and 3.7 ns an element here: lse's whole time went
 * there (PyTorch's exp is vectorised).  With wg_set_fast_math(true), the
 * tensor kernels of exp and tanh call libmvec's SSE entry points instead
 * (1.3 ns per f64 exp), within 4 ulp of the exact value (glibc's bound).
 * Every element goes through the vector function, the last odd one in a
 * padded pair, so an element's value never depends on its position or on
 * the tensor's size, and recording, replay and recorded VJPs agree.  The
 * SSE entry points (not the AVX ones, a little faster) so that one machine
 * and the next give the same values. */
static atomic_bool fast_math;

void wg_set_fast_math(bool on) { atomic_store_explicit(&fast_math, on, memory_order_relaxed); }
bool wg_get_fast_math(void) { return WG_HAVE_MVEC && atomic_load_explicit(&fast_math, memory_order_relaxed); }

#if WG_HAVE_MVEC
#include <emmintrin.h>
__m128d _ZGVbN2v_exp(__m128d);
__m128d _ZGVbN2v_tanh(__m128d);
__m128 _ZGVbN4v_expf(__m128);
__m128 _ZGVbN4v_tanhf(__m128);

/* y = f(x) for n elements through a vector function, in place allowed. */
static void vec_f64(__m128d (*f)(__m128d), const double *x, double *y, size_t n)
{
    size_t i = 0;
    for (; i + 2 <= n; i += 2) _mm_storeu_pd(y + i, f(_mm_loadu_pd(x + i)));
    if (i < n) {
        double r[2];
        _mm_storeu_pd(r, f(_mm_set_pd(0.0, x[i])));
        y[i] = r[0];
    }
}
static void vec_f32(__m128 (*f)(__m128), const float *x, float *y, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4) _mm_storeu_ps(y + i, f(_mm_loadu_ps(x + i)));
    if (i < n) {
        float p[4] = {0, 0, 0, 0}, r[4];
        for (size_t j = i; j < n; j++) p[j - i] = x[j];
        _mm_storeu_ps(r, f(_mm_loadu_ps(p)));
        for (size_t j = i; j < n; j++) y[j] = r[j - i];
    }
}
#endif

bool wg_vec_math(int fn, int dt, const void *x, void *y, size_t n)
{
#if WG_HAVE_MVEC
    if (!atomic_load_explicit(&fast_math, memory_order_relaxed)) return false;
    if (dt == WG_F32)
        vec_f32(fn == WG_VEC_EXP ? _ZGVbN4v_expf : _ZGVbN4v_tanhf, x, y, n);
    else
        vec_f64(fn == WG_VEC_EXP ? _ZGVbN2v_exp : _ZGVbN2v_tanh, x, y, n);
    return true;
#else
    (void)fn, (void)dt, (void)x, (void)y, (void)n;
    return false;
#endif
}

/* The shape rule of elementwise unary ops: x's shape. */
int wg_same_shape(wg_tape *t, const wg_op *op, wg_args *g)
{
    (void)t, (void)op;
    g->out_ndim = g->x[0]->ndim;
    memcpy(g->out, g->x[0]->shape, sizeof g->out);
    return 1;
}

static wg_tensor *unary_node(wg_tape *t, const wg_op *op, wg_tensor *x)
{
    if (!t) {
        wg_set_last_error("%s: invalid handle: the tape is NULL", op->name);
        return NULL;
    }
    if (!wg_check_inputs(t, op->name, 1, &x)) return NULL;
    wg_args g = {.n = 1, .x = &x};
    return wg_node_of(t, op, &g);
}

/* One unary op: forward of X, and the VJP, gx's increment, of (G, X, Y, C)
 * where G is gy and C pow_c's constant.  The VJPs are grouped as PyTorch's
 * (gy / x for log, not gy * (1/x), which overflows for a subnormal x). */
#define UNARY_OP(name, FWD, VJP) UNARY_OP_V(name, FWD, VJP, -1)
/* VEC: WG_VEC_EXP or WG_VEC_TANH, the vector function the forward may take
 * in fast math (wg_vec_math), or -1 for none. */
#define UNARY_OP_V(name, FWD, VJP, VEC)                                       \
    static void name##_vjp(wg_tensor *n)                                     \
    {                                                                        \
        wg_tensor *x = n->in[0];                                             \
        if (!wg_needs_grad(x)) return;                                       \
        WG_TYPED(n->dtype, {                                                 \
            const T *xp = x->data, *yp = n->data, *gp = n->grad;             \
            const T C = (T)n->attr.c;                                        \
            bool first_ = false; /* a tensor's first contribution: stored */  \
            T *gx = n->size == 1 ? wg_grad_acc(x) : wg_grad_first(x, &first_); \
            if (!gx) return;                                                 \
            (void)C;                                                         \
            if (first_)                                                      \
                for (size_t i = 0; i < n->size; i++) {                       \
                    const T X = xp[i], Y = yp[i], G = gp[i];                 \
                    (void)X, (void)Y, (void)G;                               \
                    gx[i] = (VJP);                                           \
                }                                                            \
            else                                                             \
                for (size_t i = 0; i < n->size; i++) {                       \
                    const T X = xp[i], Y = yp[i], G = gp[i];                 \
                    (void)X, (void)Y, (void)G;                               \
                    gx[i] += (VJP);                                          \
                }                                                            \
        });                                                                  \
    }                                                                        \
    static void name##_fwd(wg_tensor *n)                                     \
    {                                                                        \
        if ((VEC) >= 0 && wg_vec_math((VEC), n->dtype, n->in[0]->data, n->data, n->size)) \
            return;                                                          \
        WG_TYPED(n->dtype, {                                                 \
            const T *xp = n->in[0]->data;                                    \
            const T C = (T)n->attr.c;                                        \
            T *yp = n->data;                                                 \
            (void)C;                                                         \
            for (size_t i = 0; i < n->size; i++) {                           \
                const T X = xp[i];                                           \
                yp[i] = (FWD);                                               \
            }                                                                \
        });                                                                  \
    }                                                                        \
    /* A record's value from its input's (xv, in r's dtype), its forward */ \
    /* over its input's slot, and its VJP (the compact scalar tape): the */ \
    /* same expressions; pow_c, sign and step have no records (below). */   \
    static inline __attribute__((unused)) void name##_rec_val(wg_rec *r, const void *xv) \
    {                                                                        \
        if ((VEC) >= 0 && wg_vec_math((VEC), WG_REC_DT(r), xv, &r->val, 1)) return; \
        WG_TYPED(WG_REC_DT(r), {                                             \
            const T X = *(const T *)xv, C = 0;                               \
            (void)C;                                                         \
            WG_REC_SET(r, T, (FWD));                                           \
        });                                                                  \
    }                                                                        \
    static __attribute__((unused)) void name##_rec_fwd(wg_tape *t, wg_rec *r) \
    {                                                                        \
        const wg_rec *sx = wg_slot(t, r->in.x[0]);                           \
        name##_rec_val(r, (r->in_tag & WG_RI_NODE) ? (const void *)&sx->in.node->val : (const void *)&sx->val); \
    }                                                                        \
    static __attribute__((unused)) void name##_rec_vjp(wg_tape *t, const wg_rec *r) \
    {                                                                        \
        const uint32_t ix = r->in.x[0];                                      \
        if (!(r->in_tag & WG_RI_REQ)) return;                                \
        const wg_rec *sx = wg_slot(t, ix);                                   \
        WG_TYPED(WG_REC_DT(r), {                                             \
            const T X = WG_REC_IN(r, 0, sx, T), Y = *(const T *)&r->val;     \
            const T G = WG_REC_G(t, r, T), C = 0;                            \
            (void)X, (void)Y, (void)G, (void)C;                              \
            WG_REC_ACC(t, r, 0, ix, T, (VJP));                               \
        });                                                                  \
    }

/* A live 0-d operand on a tape that records without checks gives a
 * record; anything else a node. */
#define UNARY_CTOR(name)                                                     \
    static __attribute__((noinline)) wg_tensor *name##_room(wg_tape *t, wg_tensor *x) \
    {                                                                        \
        return wg_rec_room(t, WG_OP_##name) ? wg_##name(t, x) : NULL;        \
    }                                                                        \
    wg_tensor *wg_##name(wg_tape *t, wg_tensor *x)                           \
    {                                                                        \
        wg_scl X_;                                                           \
        if (t && wg_scl_of(t, x, &X_)) {                                     \
            if (t->slot == t->slot_end) return name##_room(t, x);            \
            wg_rec *r = wg_rec_put(t, WG_OP_##name, X_.tag, X_.in_tag, X_.id, 0); \
            name##_rec_val(r, &X_.v);                                        \
            return (wg_tensor *)r;                                           \
        }                                                                    \
        wg_tensor *n = unary_node(t, &wg_op_##name, x);                      \
        if (!n) return NULL;                                                 \
        name##_fwd(n);                                                       \
        return wg_node_done(t, n);                                           \
    }

UNARY_OP(neg, -X, -G)
UNARY_OP_V(exp, exp(X), G * Y, WG_VEC_EXP)
UNARY_OP(log, log(X), G / X)
UNARY_OP(log1p, log1p(X), G / (1 + X))
UNARY_OP(sqrt, sqrt(X), G / (2 * Y))
UNARY_OP_V(tanh, tanh(X), G * (1 - Y * Y), WG_VEC_TANH)
/* PyTorch's grouping: gy * cos(x), gy * -sin(x). */
UNARY_OP(sin, sin(X), G * cos(X))
UNARY_OP(cos, cos(X), G * -sin(X))
UNARY_OP(abs, fabs(X), G * ((X > 0) - (X < 0)))
/* x^0: an exact 0 (not gy * 0, NaN for an infinite gy), as PyTorch */
UNARY_OP(pow_c, C == 2 ? X * X : pow(X, C), C == 0 ? 0 : G * (C == 2 ? 2 * X : C * pow(X, C - 1)))
UNARY_OP(sign, (T)((X > 0) - (X < 0)), 0)
UNARY_OP(step, (T)(X >= 0), 0)

/* g * y'(x), recorded; n is the node (its output y), x = n->in[0]. */
static wg_tensor *neg_dmul(wg_tape *t, wg_tensor *n, wg_tensor *g)
{
    (void)n;
    return wg_neg(t, g);
}
static wg_tensor *exp_dmul(wg_tape *t, wg_tensor *n, wg_tensor *g) { return wg__mul(t, g, n); }
static wg_tensor *log_dmul(wg_tape *t, wg_tensor *n, wg_tensor *g) { return wg__div(t, g, n->in[0]); }
static wg_tensor *log1p_dmul(wg_tape *t, wg_tensor *n, wg_tensor *g)
{
    return wg__div(t, g, wg__add(t, wg_full_like(t, n, 1), n->in[0]));
}
static wg_tensor *sqrt_dmul(wg_tape *t, wg_tensor *n, wg_tensor *g)
{
    return wg__div(t, g, wg__mul(t, wg_full_like(t, n, 2), n));
}
static wg_tensor *tanh_dmul(wg_tape *t, wg_tensor *n, wg_tensor *g)
{
    return wg__mul(t, g, wg__sub(t, wg_full_like(t, n, 1), wg__mul(t, n, n)));
}
static wg_tensor *sin_dmul(wg_tape *t, wg_tensor *n, wg_tensor *g) { return wg__mul(t, g, wg_cos(t, n->in[0])); }
static wg_tensor *cos_dmul(wg_tape *t, wg_tensor *n, wg_tensor *g)
{
    return wg__mul(t, g, wg_neg(t, wg_sin(t, n->in[0])));
}
static wg_tensor *abs_dmul(wg_tape *t, wg_tensor *n, wg_tensor *g) { return wg__mul(t, g, wg_sign(t, n->in[0])); }
static wg_tensor *pow_c_dmul(wg_tape *t, wg_tensor *n, wg_tensor *g)
{
    wg_tensor *x = n->in[0];
    const double c = n->attr.c;
    if (c == 0) return wg_full_like(t, g, 0); /* x^0: an exact 0, as the kernel (not g * 0) */
    wg_tensor *d = c == 2 ? wg__mul(t, wg_full_like(t, x, 2), x)
                          : wg__mul(t, wg_full_like(t, x, c), wg__pow_c(t, x, c - 1));
    return wg__mul(t, g, d);
}
/* Piecewise constant: no gradient at any order. */
static wg_tensor *sign_dmul(wg_tape *t, wg_tensor *n, wg_tensor *g)
{
    (void)g;
    return wg_full_like(t, n->in[0], 0);
}
static wg_tensor *step_dmul(wg_tape *t, wg_tensor *n, wg_tensor *g)
{
    (void)g;
    return wg_full_like(t, n->in[0], 0);
}

#define UNARY_ENTRY(nm, rec_f, rec_v)                                                 \
    static wg_tensor *nm##_vjp_ops(wg_tape *t, wg_tensor *n, wg_tensor *gy, int i)    \
    {                                                                                   \
        (void)i;                                                                        \
        return nm##_dmul(t, n, gy);                                                   \
    }                                                                                   \
    static wg_tensor *nm##_jvp(wg_tape *t, wg_tensor *n, wg_tensor *const *tx)        \
    {                                                                                   \
        return nm##_dmul(t, n, tx[0]);                                                \
    }                                                                                   \
    const wg_op wg_op_##nm = {.name = #nm, .id = WG_OP_##nm, .arity = 1, .shape = wg_same_shape, .fwd = nm##_fwd, \
                                .vjp = nm##_vjp, .vjp_ops = nm##_vjp_ops, .jvp = nm##_jvp, .rec_fwd = rec_f, .rec_vjp = rec_v};

UNARY_ENTRY(neg, neg_rec_fwd, neg_rec_vjp)
UNARY_ENTRY(exp, exp_rec_fwd, exp_rec_vjp)
UNARY_ENTRY(log, log_rec_fwd, log_rec_vjp)
UNARY_ENTRY(log1p, log1p_rec_fwd, log1p_rec_vjp)
UNARY_ENTRY(sqrt, sqrt_rec_fwd, sqrt_rec_vjp)
UNARY_ENTRY(tanh, tanh_rec_fwd, tanh_rec_vjp)
UNARY_ENTRY(sin, sin_rec_fwd, sin_rec_vjp)
UNARY_ENTRY(cos, cos_rec_fwd, cos_rec_vjp)
UNARY_ENTRY(abs, abs_rec_fwd, abs_rec_vjp)
UNARY_ENTRY(pow_c, NULL, NULL)
UNARY_ENTRY(sign, NULL, NULL)
UNARY_ENTRY(step, NULL, NULL)

UNARY_CTOR(neg)
UNARY_CTOR(exp)
UNARY_CTOR(log)
UNARY_CTOR(log1p)
UNARY_CTOR(sqrt)
UNARY_CTOR(tanh)
UNARY_CTOR(sin)
UNARY_CTOR(cos)
UNARY_CTOR(abs)

wg_tensor *wg__pow_c(wg_tape *t, wg_tensor *x, double c)
{
    wg_tensor *n = unary_node(t, &wg_op_pow_c, x);
    if (!n) return NULL;
    n->attr.c = c;
    pow_c_fwd(n);
    return wg_node_done(t, n);
}

/* Piecewise constant: the output is cut off from the graph. */
static wg_tensor *constant_piecewise(wg_tape *t, const wg_op *op, void (*fwd)(wg_tensor *), wg_tensor *x)
{
    wg_tensor *n = unary_node(t, op, x);
    if (!n) return NULL;
    n->flags &= (uint8_t)~WG_F_REQ;
    fwd(n);
    return wg_node_done(t, n);
}

wg_tensor *wg_sign(wg_tape *t, wg_tensor *x) { return constant_piecewise(t, &wg_op_sign, sign_fwd, x); }
wg_tensor *wg_step(wg_tape *t, wg_tensor *x) { return constant_piecewise(t, &wg_op_step, step_fwd, x); }
