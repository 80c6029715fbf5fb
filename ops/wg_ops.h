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
/* x^c for a constant c; the derivative is 0 where c == 0. */
wg_tensor *wg__pow_c(wg_tape *t, wg_tensor *x, double c);

/* ---- unary elementwise ------------------------------------------------- */
wg_tensor *wg_neg(wg_tape *t, wg_tensor *x);
wg_tensor *wg_exp(wg_tape *t, wg_tensor *x);
wg_tensor *wg_log(wg_tape *t, wg_tensor *x);
wg_tensor *wg_log1p(wg_tape *t, wg_tensor *x);
wg_tensor *wg_sqrt(wg_tape *t, wg_tensor *x);
wg_tensor *wg_tanh(wg_tape *t, wg_tensor *x);
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
static inline wg_tensor *wg__as_tensor(wg_tape *t, wg_tensor *x) { (void)t; return x; }
static inline wg_tensor *wg__as_tensor_c(wg_tape *t, const wg_tensor *x) { (void)t; return (wg_tensor *)x; }
static inline wg_tensor *wg__as_null(wg_tape *t, void *x) { (void)t; return (wg_tensor *)x; }
#define WG_OPERAND(t, x) \
    _Generic((x), wg_tensor *: wg__as_tensor, const wg_tensor *: wg__as_tensor_c, \
             void *: wg__as_null, default: wg_const)((t), (x))

#define wg_add(t, a, b) wg__add((t), WG_OPERAND((t), (a)), WG_OPERAND((t), (b)))
#define wg_sub(t, a, b) wg__sub((t), WG_OPERAND((t), (a)), WG_OPERAND((t), (b)))
#define wg_mul(t, a, b) wg__mul((t), WG_OPERAND((t), (a)), WG_OPERAND((t), (b)))
#define wg_div(t, a, b) wg__div((t), WG_OPERAND((t), (a)), WG_OPERAND((t), (b)))
#define wg_max(t, a, b) wg__max((t), WG_OPERAND((t), (a)), WG_OPERAND((t), (b)))
#define wg_min(t, a, b) wg__min((t), WG_OPERAND((t), (a)), WG_OPERAND((t), (b)))
/* wg_pow(t, x, 2) is x^c with a constant exponent; wg_pow(t, x, y) with a
 * tensor y is the general a^b. */
static inline wg_tensor *wg__pow_num(wg_tape *t, wg_tensor *x, double c) { return wg__pow_c(t, x, c); }
#define wg_pow(t, a, b) \
    _Generic((b), wg_tensor *: wg__pow, const wg_tensor *: wg__pow, default: wg__pow_num)( \
        (t), WG_OPERAND((t), (a)), (b))

#ifdef __cplusplus
}
#endif
#endif
