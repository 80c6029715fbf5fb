/* wg_tensor.h: tensors, parameters and the Wengert tape.
 *
 * A tape records every op while the forward pass runs.  Each op computes its
 * value at once and appends one node; the handle it returns (a wg_tensor *)
 * *is* that node.  wg_backward() walks the nodes in reverse and applies each
 * op's vector-Jacobian product.
 *
 * Ownership: a tape owns everything recorded on it.  Handles stay valid until
 * wg_tape_reset() or wg_tape_free() of their tape.  Parameters (wg_param) are
 * owned by the caller and outlive tapes; recording one with wg_use() makes a
 * leaf whose gradient accumulates straight into param->grad.
 *
 * Errors: the first user error on a tape (bad shape, dtype mix, invalid handle,
 * out of memory, NaN in anomaly mode) is stored on the tape with the op's name
 * and the shapes; that op and every later op on the tape return NULL and do
 * nothing.  Check once with wg_tape_error().  Nothing aborts.
 */
#ifndef WG_TENSOR_H
#define WG_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WG_MAX_DIMS 4

typedef enum { WG_F32 = 0, WG_F64 = 1 } wg_dtype;

typedef enum {
    WG_OK = 0,
    WG_ERR_SHAPE,   /* shapes do not fit the op */
    WG_ERR_DTYPE,   /* f32 and f64 mixed */
    WG_ERR_HANDLE,  /* NULL, foreign or stale tensor handle */
    WG_ERR_AXIS,    /* axis or index out of range */
    WG_ERR_ARG,     /* any other bad argument */
    WG_ERR_NOMEM,   /* arena limit reached or malloc failed */
    WG_ERR_NAN,     /* anomaly mode saw a NaN or Inf */
} wg_status;

typedef struct wg_tape wg_tape;
typedef struct wg_tensor wg_tensor; /* a node of a tape; opaque */

/* ---- the tape ---------------------------------------------------------- */

/* A new, empty tape with no memory limit; NULL only if malloc fails. */
wg_tape *wg_tape_new(void);
/* The same with the arena capped at `max_bytes` (0 = no cap), and the
 * node index with it: every node also takes a 24-byte slot (a scalar op's
 * whole record), at most max_bytes / 24 of them.  Recording past either cap
 * is a WG_ERR_NOMEM error on the tape, never a crash. */
wg_tape *wg_tape_new_limited(size_t max_bytes);
/* Forget every node (all handles become invalid) and clear the error; keeps
 * the arena's memory, so the next pass of the same size does no malloc. */
void wg_tape_reset(wg_tape *t);
/* Frees the tape and everything recorded on it.  NULL is a no-op. */
void wg_tape_free(wg_tape *t);

/* NULL when the tape has no error, else "op: problem: operands". */
const char *wg_tape_error(const wg_tape *t);
wg_status wg_tape_status(const wg_tape *t);

size_t wg_tape_nodes(const wg_tape *t);    /* nodes recorded since reset */
/* The arena's bytes in use, the nodes' 24-byte slots and, after a backward
 * pass through scalar records, their 8-byte gradients. */
size_t wg_tape_bytes_used(const wg_tape *t);
size_t wg_tape_capacity(const wg_tape *t); /* bytes the arena holds (high-water) */

/* Anomaly mode: check every op's output (forward) and every gradient
 * (backward) for NaN/Inf and record the first offender as WG_ERR_NAN.  Off by
 * default; a tape starts with it on when WG_ANOMALY=1 is in the environment. */
void wg_tape_set_anomaly(wg_tape *t, bool on);

/* Handle checks.  A handle (wg_tensor *) is valid from the op that returned
 * it until wg_tape_reset or wg_tape_free of its tape.  Every public function
 * that takes a handle checks it before reading anything through it: ops,
 * backward, the nn/ composites (the *_idx losses too) record "fn: invalid
 * handle: ..." on the tape; the readers (wg_item, wg_shape, ...) return
 * 0 / NULL / NaN and record the same on the handle's tape.
 *
 * By default reset reuses the tape's memory, so what is detected is:
 *   - NULL, and a handle of another live tape: always;
 *   - a handle of an earlier pass: when its memory holds no node of the
 *     current pass, or a node of it (the pass count is checked);
 * and what is not: a handle of an earlier pass whose memory a node of the
 * current pass now occupies reads as that node, silently; one whose memory
 * now holds values reads garbage (a crash is possible).
 *
 * With handle checks on (this call, or WG_CHECK_HANDLES=1 in the environment
 * when the tape is made), reset never reuses memory for the next pass: each
 * pass gets new blocks and the old ones are kept, untouched, until
 * wg_tape_free.  Then every use of a handle of an earlier pass is a
 * WG_ERR_HANDLE error naming the function, and a pointer that is not in the
 * tape's memory is never read.  For debugging: memory grows by one pass per
 * reset, and a training loop then mallocs every step.  Recording takes the
 * checked path (as in anomaly mode). */
void wg_tape_set_check_handles(wg_tape *t, bool on);
/* For composites outside the core: true if x is a live handle of t; else
 * false, with "fn: invalid handle: <name> is NULL" (or "... belongs to
 * another tape", "... was recorded before the last wg_tape_reset") recorded
 * on t.  False without a message when t already holds an error. */
bool wg_tape_check_handle(wg_tape *t, const char *fn, const char *name, const wg_tensor *x);

/* Errors that happen with no tape to hold them (NULL tape, bad arguments to
 * wg_param_new, ...): the last such message of this thread, or NULL. */
const char *wg_last_error(void);

/* For composites outside the core (nn/, io/, demos): record a user error the
 * way an op does, "fn: problem: operands"; the first error on a tape wins and
 * later ops return NULL.  With t NULL the message goes to wg_last_error(). */
void wg_tape_fail(wg_tape *t, wg_status st, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Set the message wg_last_error() returns (errors with no tape to hold them). */
void wg_set_last_error(const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* ---- leaves ------------------------------------------------------------ */

/* A 0-d f64 variable that requires a gradient. */
wg_tensor *wg_var(wg_tape *t, double v);
/* A 0-d constant.  It takes the dtype of the other operand of the op that
 * uses it, so wg_mul(t, 2, x) works for f32 and f64 x alike. */
wg_tensor *wg_const(wg_tape *t, double v);
/* A 0-d leaf of the given dtype. */
wg_tensor *wg_scalar(wg_tape *t, wg_dtype dt, double v, bool requires_grad);
/* A leaf copied from `data` (row-major, `dt` elements), or zeros if data is
 * NULL.  ndim 0..4; a dimension may be 0 (an empty tensor). */
wg_tensor *wg_tensor_new(wg_tape *t, wg_dtype dt, int ndim, const int64_t *shape,
                         const void *data, bool requires_grad);
/* A constant leaf that reads `data` in place, without a copy (torch's
 * from_numpy): the caller's array must stay alive and unchanged until the
 * tape is reset.  For a batch taken from a dataset array each step.  No
 * gradient; a one-element view copies its value.  data must not be NULL. */
wg_tensor *wg_tensor_view(wg_tape *t, wg_dtype dt, int ndim, const int64_t *shape, const void *data);
/* Constant leaves filled with one value. */
wg_tensor *wg_full(wg_tape *t, wg_dtype dt, int ndim, const int64_t *shape, double v);
wg_tensor *wg_full_like(wg_tape *t, const wg_tensor *x, double v);
wg_tensor *wg_zeros_like(wg_tape *t, const wg_tensor *x);

/* ---- reading a tensor ------------------------------------------------- */
/* These accept NULL and return 0 / NULL for it. */
wg_dtype wg_dtype_of(const wg_tensor *x);
int wg_ndim(const wg_tensor *x);
int64_t wg_dim(const wg_tensor *x, int axis); /* negative axes count from the end */
const int64_t *wg_shape(const wg_tensor *x);
size_t wg_numel(const wg_tensor *x);
bool wg_requires_grad(const wg_tensor *x);
/* Row-major values: float * for WG_F32, double * for WG_F64. */
const void *wg_data(const wg_tensor *x);
/* Element i as a double; wg_item is element 0 (for scalars). */
double wg_get(const wg_tensor *x, size_t i);
double wg_item(const wg_tensor *x);
/* The gradient from the latest wg_backward, or NULL if none reached x.
 * Leaves (wg_var, wg_tensor_new, wg_use) accumulate over backward calls;
 * intermediate nodes hold the latest pass only. */
const void *wg_grad(const wg_tensor *x);
double wg_grad_get(const wg_tensor *x, size_t i); /* 0 if no gradient */
double wg_grad_item(const wg_tensor *x);
/* "f32[2,3]" into buf; returns buf. */
char *wg_shape_str(const wg_tensor *x, char *buf, size_t len);

/* ---- walking the tape ------------------------------------------------- */
/* Nodes are linked newest to oldest: start at wg_tape_last and follow wg_prev. */
wg_tensor *wg_tape_last(const wg_tape *t);
wg_tensor *wg_prev(const wg_tensor *x);
size_t wg_node_index(const wg_tensor *x); /* 0 for the first node of the tape */
const char *wg_op_name(const wg_tensor *x); /* "leaf", "add", "matmul", ... */
int wg_n_inputs(const wg_tensor *x);
wg_tensor *wg_input(const wg_tensor *x, int i);
bool wg_is_leaf(const wg_tensor *x);

/* ---- backward ---------------------------------------------------------- */

/* Gradients of `out` with respect to everything recorded before it that
 * requires a gradient.  `out` must have one element (seed 1).  Returns 0, or
 * -1 with the error on the tape.  Calling it again is allowed: intermediate
 * gradients are recomputed, leaf and parameter gradients accumulate, exactly
 * as PyTorch's backward(retain_graph=True). */
int wg_backward(wg_tape *t, wg_tensor *out);
/* The same with an explicit seed (the cotangent), same shape and dtype. */
int wg_backward_seed(wg_tape *t, wg_tensor *out, const wg_tensor *seed);
/* Zero the gradients of every leaf on the tape. */
void wg_tape_zero_grad(wg_tape *t);

/* ---- replay ------------------------------------------------------------ */

/* Evaluate the recorded program again at new inputs, without recording it
 * again (CppAD's ADFun, ADOL-C's gradient(tag, ...)): write the new inputs
 * into the leaves, call wg_tape_replay, then wg_backward as usual.  A
 * replay starts a new evaluation: it zeroes every leaf's gradient, as
 * wg_tape_zero_grad does (a parameter's too: its gradient buffer).
 * Leaves the tape owns (wg_var, wg_scalar, wg_tensor_new, wg_full, ...)
 * take new values through wg_leaf_set; a view (wg_tensor_view) or a
 * parameter (wg_use) reads the caller's memory, so the caller writes that.
 * Every handle stays valid and is the same node, now holding its new value.
 *
 * Each node's forward kernel runs again, in recording order, over its
 * inputs' new values: ops that decide from values (max, min, abs, sign,
 * step, max_axis, mask; relu is a max) decide again from the new ones.
 * What the caller's own C code decided while recording (an if on wg_item,
 * a loop count) is not re-decided: the replay follows the recorded path,
 * as ADOL-C's does, so record again when such a branch would go the other
 * way.  Everything on the tape is replayed, forward-mode tangents and
 * recorded (create-graph) gradients included.
 *
 * Returns 0, or -1 with the error on the tape: a tape that already has an
 * error (its recording is incomplete; the error stays), a call from a
 * gradient hook during backward, out of memory, or a non-finite value in
 * anomaly mode ("op: non-finite value in the replayed forward pass ..."). */
int wg_tape_replay(wg_tape *t);
/* Element i of leaf x's value becomes v (converted to x's dtype), for
 * wg_tape_replay.  Returns 0, or -1 with the error on x's tape: a stale
 * handle ("leaf_set: invalid handle: ..."), a node that is not a leaf, a
 * view or parameter leaf (write the caller's memory instead), i out of
 * range, or a tape that has an error. */
int wg_leaf_set(wg_tensor *x, size_t i, double v);

/* Called by backward for each parameter (wg_use) whose gradient this pass
 * is complete, in the order the reverse walk reaches them: when the walk
 * reaches the parameter's leaf, every op that used it has added its part.
 * For starting a gradient's reduction (dist/) or an update while backward
 * goes on.  A parameter recorded twice on the tape is reported at each of
 * its leaves, newest first; its gradient is final at the last report.
 * Parameters no gradient reached are not reported.  The hook must not
 * record on the tape.  Kept over wg_tape_reset; fn NULL removes it. */
typedef struct wg_param wg_param;
void wg_tape_set_grad_hook(wg_tape *t, void (*fn)(wg_param *p, void *ctx), void *ctx);

/* ---- parameters -------------------------------------------------------- */

/* A tensor that outlives tapes and owns its gradient.  Fields are public so
 * that optimisers and initialisers can work on plain arrays; do not resize. */
typedef struct wg_param {
    wg_dtype dtype;
    int ndim;
    int64_t shape[WG_MAX_DIMS];
    size_t numel;
    void *data; /* float * or double *, numel elements, 64-byte aligned */
    void *grad; /* same; accumulates; zero it with wg_param_zero_grad */
    char name[48];
    /* The library's own (how the last backward split the gradient over
     * threads, a hint for the optimiser): NULL in a parameter made by hand,
     * which works, on one thread. */
    struct wg_param_priv *priv;
} wg_param;

/* Zero-filled; NULL (and wg_last_error()) on a bad shape or no memory. */
wg_param *wg_param_new(wg_dtype dt, int ndim, const int64_t *shape);
void wg_param_free(wg_param *p);
void wg_param_zero_grad(wg_param *p);
/* Record p on t as a leaf that requires a gradient; gradients land in p->grad.
 * The leaf reads p->data in place, except a one-element parameter, whose
 * value is copied when it is recorded (as every one-element node keeps its
 * value inline). */
wg_tensor *wg_use(wg_tape *t, wg_param *p);

/* ---- threads and BLAS -------------------------------------------------- */

/* Threads for large matrix products and the optimiser steps after them
 * (default 1).
 *
 * Thread safety: separate tapes, parameters and optimisers may be used in
 * separate threads at the same time, each by one thread at a time; one tape,
 * parameter or optimiser must never be used by two threads at once.
 * wg_set_num_threads, wg_get_num_threads, wg_blas_info and wg_last_error (a
 * per-thread message) may be called from any thread at any time.  The count
 * set here is a process-wide default: every call that splits work (a matmul,
 * wg_backward, wg_param_zero_grad, wg_optim_step, wg_grad_norm) reads it once
 * and carries it through, so a change by another thread affects later calls,
 * never one call halfway; and results do not depend on it (except a gradient
 * norm's last bits). */
void wg_set_num_threads(int n);
int wg_get_num_threads(void);
/* Fast math (default off; process-wide, like the thread count): the
 * forward kernels of exp and tanh, and the ops built on them, take glibc's
 * vector functions (libmvec), two to three times faster than libm's and
 * within 4 ulp of the exact value instead of correctly rounded.  Every
 * element takes the same path, so a value does not depend on the tensor it
 * is in; recording and replay agree.  Read by each kernel as it runs: set it
 * before recording, not between a recording and its replay.  Where libmvec
 * is not found (not x86-64 glibc) it changes nothing, and wg_get_fast_math
 * says false. */
void wg_set_fast_math(bool on);
bool wg_get_fast_math(void);
/* "BLIS 0.9.0, kernels skx (chosen by wengert: ...)"; initialises BLIS. */
const char *wg_blas_info(void);

#ifdef __cplusplus
}
#endif
#endif
