/* wg_ops.h: the primitive ops.  Each records one node on the tape and
 * returns it (owned by the tape, valid until wg_tape_reset), or NULL on error
 * (the message is on the tape; see wg_tape_error).
 *
 * Binary ops broadcast like NumPy.  Any operand of wg_add, wg_sub, wg_mul,
 * wg_div, wg_max, wg_min and wg_pow may be a plain number instead of a tensor:
 *
 *     wg_tensor *f = wg_add(t, wg_pow(t, wg_add(t, wg_mul(t, 2, x1), wg_mul(t, 3, x2)), 2), 3);
 *
 * A number becomes a 0-d constant with the dtype of the other operand.
 */
#ifndef WG_OPS_H
#define WG_OPS_H

#include "wg_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- binary elementwise, broadcasting ---------------------------------- */
wg_tensor *wg__add(wg_tape *t, wg_tensor *a, wg_tensor *b);
wg_tensor *wg__sub(wg_tape *t, wg_tensor *a, wg_tensor *b);
wg_tensor *wg__mul(wg_tape *t, wg_tensor *a, wg_tensor *b);
wg_tensor *wg__div(wg_tape *t, wg_tensor *a, wg_tensor *b);
/* max: the gradient goes to a where a > b, to b elsewhere (ties go to b), so
 * max(x, 0) has derivative 0 at x = 0.  min: to a where a < b, ties to b. */
wg_tensor *wg__max(wg_tape *t, wg_tensor *a, wg_tensor *b);
wg_tensor *wg__min(wg_tape *t, wg_tensor *a, wg_tensor *b);
/* a^b elementwise.  d/db is taken as 0 where a == 0 and b >= 0 (PyTorch's rule). */
wg_tensor *wg__pow(wg_tape *t, wg_tensor *a, wg_tensor *b);
/* x where m is nonzero, else exactly 0 (an inf or NaN in x included), with
 * broadcasting: PyTorch's masked_fill(m == 0, 0).  The gradient goes to x
 * where m is nonzero; m, a mask, gets none. */
wg_tensor *wg_mask(wg_tape *t, wg_tensor *x, wg_tensor *m);
/* alpha x + y (alpha a constant), broadcasting as add: one fused op, equal
 * value for value to add(y, mul(alpha, x)); its backward is one pass per
 * operand (gx = alpha gy, gy_in = gy). */
wg_tensor *wg_axpy(wg_tape *t, double alpha, wg_tensor *x, wg_tensor *y);
wg_tensor *wg__mask(wg_tape *t, wg_tensor *x, wg_tensor *m); /* the same (the op table's constructor) */
/* x^c for a constant c; the derivative is 0 where c == 0. */
wg_tensor *wg__pow_c(wg_tape *t, wg_tensor *x, double c);

/* ---- unary elementwise ------------------------------------------------- */
wg_tensor *wg_neg(wg_tape *t, wg_tensor *x);
wg_tensor *wg_exp(wg_tape *t, wg_tensor *x);
wg_tensor *wg_log(wg_tape *t, wg_tensor *x);
wg_tensor *wg_log1p(wg_tape *t, wg_tensor *x);
wg_tensor *wg_sqrt(wg_tape *t, wg_tensor *x);
wg_tensor *wg_tanh(wg_tape *t, wg_tensor *x);
wg_tensor *wg_sin(wg_tape *t, wg_tensor *x); /* radians */
wg_tensor *wg_cos(wg_tape *t, wg_tensor *x);
wg_tensor *wg_abs(wg_tape *t, wg_tensor *x);  /* |x|' = sign(x), 0 at 0 */
wg_tensor *wg_sign(wg_tape *t, wg_tensor *x); /* -1, 0, 1; zero gradient */
wg_tensor *wg_step(wg_tape *t, wg_tensor *x); /* Heaviside: 1 if x >= 0 else 0; zero gradient */

/* ---- reductions (axis may be negative; keepdim keeps it as size 1) ------ */
wg_tensor *wg_sum(wg_tape *t, wg_tensor *x);  /* all elements -> 0-d */
wg_tensor *wg_mean(wg_tape *t, wg_tensor *x); /* all elements -> 0-d */
wg_tensor *wg_sum_axis(wg_tape *t, wg_tensor *x, int axis, bool keepdim);
wg_tensor *wg_mean_axis(wg_tape *t, wg_tensor *x, int axis, bool keepdim);
/* Max along an axis.  The gradient goes to the first maximal element. */
wg_tensor *wg_max_axis(wg_tape *t, wg_tensor *x, int axis, bool keepdim);
/* log(sum(exp(x))) along an axis, computed with the max shifted out (an
 * infinite max is not shifted, as PyTorch: a slice of -inf gives -inf);
 * the gradient is the softmax along the axis.  One fused op, equal to the
 * composite max + log(sum(exp(x - max))) value for value and in its
 * gradient; it keeps exp(x - max), one number per element of x, for backward. */
wg_tensor *wg_logsumexp(wg_tape *t, wg_tensor *x, int axis, bool keepdim);

/* ---- linear algebra (BLIS) --------------------------------------------- */
/* [m,k]@[k,n] -> [m,n]; [B,m,k]@[B,k,n] -> [B,m,n]; a 2-D operand is shared by
 * every batch.  wg_matmul_ex reads a and/or b transposed (their last two axes
 * swapped) through strides, without copying. */
wg_tensor *wg_matmul(wg_tape *t, wg_tensor *a, wg_tensor *b);
wg_tensor *wg_matmul_ex(wg_tape *t, wg_tensor *a, wg_tensor *b, bool trans_a, bool trans_b);

/* ---- shape ------------------------------------------------------------- */
wg_tensor *wg_transpose(wg_tape *t, wg_tensor *x, int axis0, int axis1);
/* One dimension may be -1 (inferred).  Shares x's values; no copy. */
wg_tensor *wg_reshape(wg_tape *t, wg_tensor *x, int ndim, const int64_t *shape);
wg_tensor *wg_broadcast_to(wg_tape *t, wg_tensor *x, int ndim, const int64_t *shape);
/* x[..., start:end, ...] along `axis`; negative indices count from the end,
 * and the range is clamped as in Python. */
wg_tensor *wg_slice(wg_tape *t, wg_tensor *x, int axis, int64_t start, int64_t end);
/* Join n tensors along `axis`; all other dimensions must agree. */
wg_tensor *wg_concat(wg_tape *t, int n, wg_tensor *const *xs, int axis);
/* The same values, cut off from the graph (stop-gradient). */
wg_tensor *wg_detach(wg_tape *t, wg_tensor *x);

/* ---- numbers as operands ------------------------------------------------ */
/* wg_add, wg_sub, wg_mul, wg_div, wg_max, wg_min and wg_pow are functions of
 * two tensors, so &wg_add is a function pointer.  In C the same names are also
 * function-like macros that accept a plain number for either operand (the
 * macro is not expanded when the name is not followed by a parenthesis: `&wg_add`
 * and `(wg_add)(t, a, b)` reach the functions).  Each macro argument is
 * evaluated exactly once.  In C++ the numbers are taken by overloads (after
 * this block), with the same meaning. */
wg_tensor *wg_add(wg_tape *t, wg_tensor *a, wg_tensor *b);
wg_tensor *wg_sub(wg_tape *t, wg_tensor *a, wg_tensor *b);
wg_tensor *wg_mul(wg_tape *t, wg_tensor *a, wg_tensor *b);
wg_tensor *wg_div(wg_tape *t, wg_tensor *a, wg_tensor *b);
wg_tensor *wg_max(wg_tape *t, wg_tensor *a, wg_tensor *b);
wg_tensor *wg_min(wg_tape *t, wg_tensor *a, wg_tensor *b);
/* The general a^b (wg__pow); with a number for b, the macro (C) or overload
 * (C++) records x^c (wg__pow_c) instead. */
wg_tensor *wg_pow(wg_tape *t, wg_tensor *a, wg_tensor *b);

#ifndef __cplusplus
/* An operand before it meets the tape: a tensor, or a number that becomes a
 * 0-d constant (wg_const) once the op has its tape, so the tape expression is
 * evaluated once.  Everything here inlines to the plain call at -O1. */
typedef struct wg__operand {
    wg_tensor *x;
    double v;
    bool num;
} wg__operand;
static inline wg__operand wg__opnd_t(wg_tensor *x) { wg__operand o = {x, 0, false}; return o; }
static inline wg__operand wg__opnd_ct(const wg_tensor *x) { wg__operand o = {(wg_tensor *)x, 0, false}; return o; }
static inline wg__operand wg__opnd_null(void *x) { wg__operand o = {(wg_tensor *)x, 0, false}; return o; }
static inline wg__operand wg__opnd_num(double v) { wg__operand o = {NULL, v, true}; return o; }
#define WG__OPERAND(x) \
    _Generic((x), wg_tensor *: wg__opnd_t, const wg_tensor *: wg__opnd_ct, void *: wg__opnd_null, \
             default: wg__opnd_num)(x)
static inline wg_tensor *wg__opnd(wg_tape *t, wg__operand o) { return o.num ? wg_const(t, o.v) : o.x; }
#define WG__BINARY_NUM(name) \
    static inline wg_tensor *wg__##name##_num(wg_tape *t, wg__operand a, wg__operand b) \
    { \
        wg_tensor *x = wg__opnd(t, a); \
        return wg__##name(t, x, wg__opnd(t, b)); \
    }
WG__BINARY_NUM(add)
WG__BINARY_NUM(sub)
WG__BINARY_NUM(mul)
WG__BINARY_NUM(div)
WG__BINARY_NUM(max)
WG__BINARY_NUM(min)
#undef WG__BINARY_NUM
static inline wg_tensor *wg__pow_num(wg_tape *t, wg__operand a, wg__operand b)
{
    wg_tensor *x = wg__opnd(t, a);
    return b.num ? wg__pow_c(t, x, b.v) : wg__pow(t, x, b.x);
}
#define wg_add(t, a, b) wg__add_num((t), WG__OPERAND(a), WG__OPERAND(b))
#define wg_sub(t, a, b) wg__sub_num((t), WG__OPERAND(a), WG__OPERAND(b))
#define wg_mul(t, a, b) wg__mul_num((t), WG__OPERAND(a), WG__OPERAND(b))
#define wg_div(t, a, b) wg__div_num((t), WG__OPERAND(a), WG__OPERAND(b))
#define wg_max(t, a, b) wg__max_num((t), WG__OPERAND(a), WG__OPERAND(b))
#define wg_min(t, a, b) wg__min_num((t), WG__OPERAND(a), WG__OPERAND(b))
/* wg_pow(t, x, 2) is x^c with a constant exponent; wg_pow(t, x, y) with a
 * tensor y is the general a^b. */
#define wg_pow(t, a, b) wg__pow_num((t), WG__OPERAND(a), WG__OPERAND(b))
#endif /* !__cplusplus */

#ifdef __cplusplus
}

/* C++: numbers as operands through overloads, as the C macros do.  A number
 * (any arithmetic type: 2, 2.0, 2.0f) on either side becomes a 0-d constant;
 * a number as wg_pow's exponent records x^c.  The two-tensor forms are the C
 * functions above (const tensors are accepted as in C). */
#include <type_traits>

extern "C++" {
#define WG__IF_NUM(N) typename std::enable_if<std::is_arithmetic<N>::value, int>::type = 0
#define WG__CXX_BINARY(name) \
    inline wg_tensor *wg_##name(wg_tape *t, const wg_tensor *a, const wg_tensor *b) \
    { \
        return wg__##name(t, const_cast<wg_tensor *>(a), const_cast<wg_tensor *>(b)); \
    } \
    template <typename N, WG__IF_NUM(N)> inline wg_tensor *wg_##name(wg_tape *t, N a, wg_tensor *b) \
    { \
        wg_tensor *x = wg_const(t, static_cast<double>(a)); \
        return wg__##name(t, x, b); \
    } \
    template <typename N, WG__IF_NUM(N)> inline wg_tensor *wg_##name(wg_tape *t, N a, const wg_tensor *b) \
    { \
        return wg_##name(t, a, const_cast<wg_tensor *>(b)); \
    } \
    template <typename N, WG__IF_NUM(N)> inline wg_tensor *wg_##name(wg_tape *t, wg_tensor *a, N b) \
    { \
        return wg__##name(t, a, wg_const(t, static_cast<double>(b))); \
    } \
    template <typename N, WG__IF_NUM(N)> inline wg_tensor *wg_##name(wg_tape *t, const wg_tensor *a, N b) \
    { \
        return wg_##name(t, const_cast<wg_tensor *>(a), b); \
    } \
    template <typename N, typename M, WG__IF_NUM(N), WG__IF_NUM(M)> \
    inline wg_tensor *wg_##name(wg_tape *t, N a, M b) \
    { \
        wg_tensor *x = wg_const(t, static_cast<double>(a)); \
        return wg__##name(t, x, wg_const(t, static_cast<double>(b))); \
    }
WG__CXX_BINARY(add)
WG__CXX_BINARY(sub)
WG__CXX_BINARY(mul)
WG__CXX_BINARY(div)
WG__CXX_BINARY(max)
WG__CXX_BINARY(min)
#undef WG__CXX_BINARY
inline wg_tensor *wg_pow(wg_tape *t, const wg_tensor *a, const wg_tensor *b)
{
    return wg__pow(t, const_cast<wg_tensor *>(a), const_cast<wg_tensor *>(b));
}
template <typename N, WG__IF_NUM(N)> inline wg_tensor *wg_pow(wg_tape *t, N a, wg_tensor *b)
{
    return wg__pow(t, wg_const(t, static_cast<double>(a)), b);
}
template <typename N, WG__IF_NUM(N)> inline wg_tensor *wg_pow(wg_tape *t, N a, const wg_tensor *b)
{
    return wg__pow(t, wg_const(t, static_cast<double>(a)), const_cast<wg_tensor *>(b));
}
template <typename N, WG__IF_NUM(N)> inline wg_tensor *wg_pow(wg_tape *t, wg_tensor *a, N c)
{
    return wg__pow_c(t, a, static_cast<double>(c));
}
template <typename N, WG__IF_NUM(N)> inline wg_tensor *wg_pow(wg_tape *t, const wg_tensor *a, N c)
{
    return wg__pow_c(t, const_cast<wg_tensor *>(a), static_cast<double>(c));
}
template <typename N, typename M, WG__IF_NUM(N), WG__IF_NUM(M)> inline wg_tensor *wg_pow(wg_tape *t, N a, M c)
{
    return wg__pow_c(t, wg_const(t, static_cast<double>(a)), static_cast<double>(c));
}
#undef WG__IF_NUM
}
#endif
#endif
