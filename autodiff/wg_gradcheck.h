/* wg_gradcheck.h: compare a tape's gradients with central differences.
 *
 * f records a computation on the tape from the given leaves (one per input
 * parameter) and returns its output.  For a non-scalar output the check uses
 * a random cotangent r, loss = sum(r * y) summed in double, so a transposed
 * or misplaced gradient cannot hide behind all-ones.  Each input element x is
 * moved by h = cbrt(eps) * max(|x|, 1) either way (eps of the input's dtype).
 * An element passes when |analytic - numeric| <= atol + rtol * max(|a|, |n|).
 */
#ifndef WG_GRADCHECK_H
#define WG_GRADCHECK_H

#include "wg_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef wg_tensor *(*wg_gradcheck_fn)(wg_tape *t, wg_tensor *const *inputs, void *ctx);

typedef struct {
    double atol;   /* default 1e-6 for f64, 1e-3 for f32 */
    double rtol;   /* default 1e-5 for f64, 1e-2 for f32 */
    uint64_t seed; /* for the cotangent; default 0 is a fixed seed too */
} wg_gradcheck_opts;

typedef struct {
    bool passed;
    size_t n_checked;
    double max_abs_err; /* max over elements of |analytic - numeric| */
    double max_rel_err; /* max of |a - n| / max(|a|, |n|), 0 where both are 0 */
    int worst_input;    /* where the worst (by tolerance) element is */
    size_t worst_index;
    double worst_analytic, worst_numeric;
    char message[512]; /* one line: the verdict, or the tape's error */
} wg_gradcheck_report;

/* Returns 1 if every element passed, 0 if not, -1 if f failed (then
 * rep->message holds the tape's error).  The inputs' values and gradients are
 * left as they were.  opts may be NULL. */
int wg_gradcheck(wg_gradcheck_fn f, void *ctx, int n_inputs, wg_param *const *inputs,
                 const wg_gradcheck_opts *opts, wg_gradcheck_report *rep);

#ifdef __cplusplus
}
#endif
#endif
