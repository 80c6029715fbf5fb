/* wg_higher.h: gradients as tensors (grad of grad, to any order), forward
 * mode, Jacobians, Hessians and Hessian-vector products, and custom ops.
 *
 * Every op of the table has, beside its fast numeric VJP, the same VJP
 * written with wengert's own ops (recorded) and a JVP rule.  So:
 *
 *   - wg_grad_of(..., create_graph = true) records the backward pass on the
 *     tape: the gradients it returns are ordinary nodes, and differentiating
 *     them again gives second (third, ...) derivatives.  It is PyTorch's
 *     torch.autograd.grad(create_graph=True); leaf .grad buffers are not
 *     touched.
 *   - wg_set_tangent attaches a tangent to a node; every op recorded after it
 *     computes its own tangent as it runs (its JVP rule), so a JVP costs about
 *     one extra forward pass.  Tangents are recorded too, so a gradient
 *     recorded while tangents are on carries the Hessian-vector product
 *     (forward-over-reverse).  wg_set_tangent_at nests forward mode: the
 *     nodes that compute level-1 tangents carry level-0 tangents, so
 *     tangents of tangents give second derivatives (forward-over-forward).
 *
 * Example (the lecture's seed expression, its gradient and Hessian):
 *
 *     wg_tensor *x[2] = {wg_var(t, 1), wg_var(t, 3)}, *g[2];
 *     wg_tensor *f = wg_add(t, wg_pow(t, wg_add(t, wg_mul(t, 2, x[0]), wg_mul(t, 3, x[1])), 2), 3);
 *     wg_grad_of(t, f, NULL, 2, x, g, true);      // g = (44, 66), recorded
 *     double H[4];
 *     wg_hessian_of(t, f, 2, x, H);               // 8 12 12 18
 *
 * Errors are the tape's, as for every op: -1 (or NULL) and wg_tape_error(t).
 */
#ifndef WG_HIGHER_H
#define WG_HIGHER_H

#include "wg_gradcheck.h"
#include "wg_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- gradients as tensors ------------------------------------------------ */

/* The gradients of `out` with respect to xs[0..n) (torch.autograd.grad).
 * seed: the cotangent, shaped like out, or NULL for a one-element out (seed
 * 1).  gs[i] is a new tensor on t shaped like xs[i]: zeros where out does not
 * depend on xs[i].  With create_graph the backward pass is recorded with each
 * op's recorded VJP, so gs[i] can be differentiated again (and the seed may
 * itself require a gradient); without it gs[i] are constants computed by the
 * fast numeric VJPs.  xs may be leaves or intermediate nodes.  Leaf and
 * parameter .grad buffers are left as they were, and the tape's gradient
 * hook (wg_tape_set_grad_hook) is not called.  Returns 0 or -1. */
int wg_grad_of(wg_tape *t, wg_tensor *out, const wg_tensor *seed, int n, wg_tensor *const *xs, wg_tensor **gs,
               bool create_graph);

enum { WG_CREATE_GRAPH = 1 };
/* wg_backward_seed with flags: with WG_CREATE_GRAPH the pass is recorded
 * (PyTorch's backward(create_graph=True)): leaf gradients accumulate into
 * their .grad buffers as usual (then the gradient hook is called for each
 * parameter, after the pass), and wg_grad_tensor(x) returns each leaf's
 * gradient as a differentiable node.  seed may be NULL for a one-element out. */
int wg_backward_ex(wg_tape *t, wg_tensor *out, const wg_tensor *seed, unsigned flags);
/* A leaf's gradient as a node, summed over the create-graph backward passes
 * since the tape's last reset; NULL if none reached it. */
wg_tensor *wg_grad_tensor(const wg_tensor *x);

/* ---- forward mode --------------------------------------------------------- */

/* Attach tangent tx (same dtype and shape as x, any node of t) to x: every op
 * recorded from now on that uses x, directly or not, gets a tangent (its JVP
 * rule).  Setting it again replaces it; tangents last until wg_tape_reset.
 * Returns 0 or -1. */
int wg_set_tangent(wg_tape *t, wg_tensor *x, wg_tensor *tx);
/* x's tangent (a node of the tape, differentiable), or NULL for zero. */
wg_tensor *wg_tangent(const wg_tensor *x);

/* Nested forward mode (PyTorch's forward-AD levels, JAX's jvp of jvp):
 * WG_TANGENT_LEVELS independent tangents per node.  Level 0 is
 * wg_set_tangent's and the outermost: the nodes an op records to compute
 * its level-k tangent carry tangents at every level below k, never at k or
 * above.  So, with level-0 tangent u and level-1 tangent v on the inputs,
 * wg_tangent_at(wg_tangent_at(y, 1), 0) is the second directional
 * derivative D2y[u, v] (forward-over-forward), and wg_tangent_at(y, 0) and
 * wg_tangent_at(y, 1) are the first ones, as with one level.  A level-k
 * tangent may be any node, itself carrying tangents at levels below k.
 * The functions behave as wg_set_tangent and wg_tangent; a level outside
 * 0..WG_TANGENT_LEVELS-1 is the tape error "set_tangent_at: level L is out
 * of range ..." (or "tangent_at: ..."). */
enum { WG_TANGENT_LEVELS = 4 };
int wg_set_tangent_at(wg_tape *t, int level, wg_tensor *x, wg_tensor *tx);
wg_tensor *wg_tangent_at(const wg_tensor *x, int level);

/* ---- on a recorded graph ---------------------------------------------------- */
/* N = the total number of elements of xs[0..n); M = out's.  Results are f64,
 * row-major.  Each returns 0 or -1. */

/* H[N*N] of a one-element out: one recorded backward, then one numeric
 * backward per row. */
int wg_hessian_of(wg_tape *t, wg_tensor *out, int n, wg_tensor *const *xs, double *H);
/* J[M*N], reverse mode: one backward per output element. */
int wg_jacobian_of(wg_tape *t, wg_tensor *out, int n, wg_tensor *const *xs, double *J);
/* hv[i] = (H v)[i] for a one-element out, v[i] shaped like xs[i]:
 * reverse-over-reverse (a recorded backward, then a numeric one seeded with
 * v).  hv[i] are constants on t. */
int wg_hvp_of(wg_tape *t, wg_tensor *out, int n, wg_tensor *const *xs, wg_tensor *const *v, wg_tensor **hv);

/* ---- drivers over a function -------------------------------------------------- */
/* f records a computation from leaves for the parameters (as wg_gradcheck's
 * functions do: one leaf per parameter, wg_use'd by the driver) and returns
 * its output.  The driver resets t and records on it; the parameters' values
 * and .grad buffers are left as they were.  v, hv: N doubles, the parameters'
 * elements in order. */
typedef wg_gradcheck_fn wg_fn; /* wg_tensor *f(wg_tape *t, wg_tensor *const *inputs, void *ctx) */

typedef enum {
    WG_MODE_REVERSE = 0, /* Jacobian: one backward per output; HVP: reverse-over-reverse */
    WG_MODE_FORWARD = 1, /* Jacobian: one JVP per input; HVP: forward-over-reverse */
} wg_ad_mode;

/* J[M*N]; m must be f's output size (checked). */
int wg_jacobian(wg_tape *t, wg_fn f, void *ctx, int n, wg_param *const *xs, wg_ad_mode mode, size_t m,
                double *J);
int wg_hessian(wg_tape *t, wg_fn f, void *ctx, int n, wg_param *const *xs, double *H);
int wg_hvp(wg_tape *t, wg_fn f, void *ctx, int n, wg_param *const *xs, const double *v, double *hv,
           wg_ad_mode mode);

/* ---- custom ops ------------------------------------------------------------------ */
/* A user's op, recorded on the tape like a primitive (torch.autograd.Function,
 * jax.custom_vjp).  Inputs share one dtype; the output has that dtype.
 *
 *   shape    the output's shape from the inputs'; NULL: the first input's
 *   forward  write the output's values (y: numel elements of the dtype)
 *   vjp      the numeric VJP: for each i with gx[i] != NULL, add input i's
 *            cotangent into gx[i] (+=, shaped like input i) from gy
 *   vjp_ops  optional: the same VJP recorded with wengert's ops (returns
 *            input i's cotangent, shaped like it), for grad of grad; without
 *            it, a create-graph pass through the op is a tape error
 *   jvp_ops  optional: the output's tangent from the inputs' tangents (NULL
 *            entries are zero), with wengert's ops; without it, forward mode
 *            through the op is a tape error
 *
 * Return -1 from shape or forward (after wg_tape_fail, or not) to fail the op. */
typedef struct wg_custom_def {
    const char *name; /* copied; names the op in errors and wg_op_name */
    int n_inputs;     /* 1..8 */
    int (*shape)(void *ctx, int n, wg_tensor *const *x, int *ndim, int64_t shape[WG_MAX_DIMS]);
    int (*forward)(void *ctx, int n, wg_tensor *const *x, wg_tensor *y, void *ydata);
    void (*vjp)(void *ctx, int n, wg_tensor *const *x, const wg_tensor *y, const void *gy, void *const *gx);
    wg_tensor *(*vjp_ops)(wg_tape *t, void *ctx, int n, wg_tensor *const *x, wg_tensor *y, wg_tensor *gy, int i);
    wg_tensor *(*jvp_ops)(wg_tape *t, void *ctx, int n, wg_tensor *const *x, wg_tensor *y, wg_tensor *const *tx);
    void *ctx; /* passed to every callback; the caller's */
} wg_custom_def;

typedef struct wg_custom_op wg_custom_op;
/* Register an op; NULL and wg_last_error() on a bad definition or no memory.
 * Free it after every tape that recorded it was reset or freed. */
wg_custom_op *wg_custom_register(const wg_custom_def *def);
void wg_custom_free(wg_custom_op *op);
/* Record op on xs[0..n). */
wg_tensor *wg_custom(wg_tape *t, const wg_custom_op *op, int n, wg_tensor *const *xs);

#ifdef __cplusplus
}
#endif
#endif
