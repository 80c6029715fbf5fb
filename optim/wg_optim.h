/* wg_optim.h: optimisers, learning-rate schedules and early stopping.
 *
 * Plain array kernels over parameter lists (wg_param: data + grad).  Nothing
 * here touches a tape: run backward, call a step, zero the gradients, reset
 * the tape.  Full-batch gradient descent, mini-batch SGD and online SGD are
 * the same step; they differ only in how many samples the gradient came from.
 *
 * Every state struct owns its buffers.  Buffers have the dtype and numel of
 * their parameter, so a checkpoint can save and restore them as raw arrays.
 */
#ifndef WG_OPTIM_H
#define WG_OPTIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wg_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ==== array kernels (f32 and f64) ======================================== */
/* n elements; w, g and the state arrays must not overlap. */

/* w -= lr * g */
void wg_sgd_step_f32(size_t n, float lr, float *w, const float *g);
void wg_sgd_step_f64(size_t n, double lr, double *w, const double *g);
/* Momentum exactly as lecture 001: dw = -lr*g + mu*dw; w += dw. */
void wg_momentum_step_f32(size_t n, float lr, float mu, float *w, const float *g, float *dw);
void wg_momentum_step_f64(size_t n, double lr, double mu, double *w, const double *g, double *dw);
/* Nesterov (lecture 004): dtheta_t = mu*dtheta_{t-1} - lr*grad L(theta_t + mu*dtheta_{t-1}),
 * theta_{t+1} = theta_t + dtheta_t.  So that one gradient per step suffices, w
 * holds the look-ahead point  w = theta + mu*dtheta  (the gradient is taken
 * at w, as the formula asks):  dw_new = mu*dw - lr*g;  w += (1+mu)*dw_new - mu*dw.
 * The lecture's theta is w - mu*dw (wg_nesterov_theta).  At the start dw = 0,
 * so w = theta. */
void wg_nesterov_step_f32(size_t n, float lr, float mu, float *w, const float *g, float *dw);
void wg_nesterov_step_f64(size_t n, double lr, double mu, double *w, const double *g, double *dw);
/* Adam as lecture 001's Algorithm 1, t = 1 on the first step:
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *   w -= lr * (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps)
 * AdamW: first w -= lr * wd * w (decoupled weight decay; wd = 0 is Adam). */
void wg_adam_step_f32(size_t n, int64_t t, double lr, double b1, double b2, double eps, double wd,
                      float *w, const float *g, float *m, float *v);
void wg_adam_step_f64(size_t n, int64_t t, double lr, double b1, double b2, double eps, double wd,
                      double *w, const double *g, double *m, double *v);

/* The perceptron learning rule w <- w + alpha (y - y') x, n weights (put the
 * bias in w with a constant 1 in x).  y, y' in {0, 1} (or {-1, +1}). */
void wg_perceptron_rule(size_t n, double alpha, double y, double y_pred, double *w, const double *x);

/* ==== over parameter lists =============================================== */

/* sqrt(sum of every squared gradient element) over the list.  The sum runs
 * in each parameter's row blocks (the blocks its last backward wrote), so on several
 * threads its last bit can differ from the one-thread value, and so can a
 * step clipped by it (clip_norm); unclipped steps do not depend on the
 * thread count. */
double wg_grad_norm(size_t n, wg_param *const *ps);
/* Scale every gradient by max_norm / norm when norm > max_norm; returns the
 * norm before clipping. */
double wg_clip_grad_norm(size_t n, wg_param *const *ps, double max_norm);
/* L2 weight decay on the gradient: g += lambda * w (the gradient of
 * lambda/2 ||w||^2).  Parameters with ndim <= 1 (biases) are skipped unless
 * include_biases. */
void wg_weight_decay_grad(size_t n, wg_param *const *ps, double lambda, bool include_biases);
void wg_zero_grads(size_t n, wg_param *const *ps);

/* ==== an optimiser over a parameter list ================================= */

typedef enum {
    WG_OPT_SGD = 0,   /* w -= lr g */
    WG_OPT_MOMENTUM,  /* lecture 001 */
    WG_OPT_NESTEROV,  /* lecture 004, look-ahead form above */
    WG_OPT_ADAM,
    WG_OPT_ADAMW,
} wg_opt_kind;

typedef struct wg_optim_config {
    wg_opt_kind kind;
    double lr;           /* eta / gamma / alpha; default 0.01, Adam(W) 1e-3 */
    double momentum;     /* mu for MOMENTUM and NESTEROV; default 0.9 */
    double beta1, beta2; /* Adam(W): 0.9, 0.999 */
    double eps;          /* Adam(W): 1e-8 */
    /* L2 weight decay: SGD, momentum, Nesterov and Adam add weight_decay * w
     * to the gradient; AdamW decays the weights directly (decoupled).  Default
     * 0 (AdamW: 0.01).  Biases (ndim <= 1) are skipped unless decay_biases. */
    double weight_decay;
    bool decay_biases;
    double clip_norm;    /* > 0: clip the global gradient norm before each step; default 0 */
} wg_optim_config;

/* The defaults above for `kind`. */
wg_optim_config wg_optim_defaults(wg_opt_kind kind);
const char *wg_opt_name(wg_opt_kind kind); /* "sgd", "momentum", "nesterov", "adam", "adamw" */
int wg_opt_from_name(const char *name);    /* or -1 */

/* State a checkpoint needs: for parameter i, buf1[i] (momentum's dw, or
 * Adam's m) and buf2[i] (Adam's v), each numel elements of that parameter's
 * dtype, NULL where the method has none; step[i] is the number of steps
 * taken for it (Adam's t after the step is step[i]). */
struct wg_optim_inbw; /* private: the state of wg_optim_backward_begin */
typedef struct wg_optim {
    wg_optim_config cfg;
    size_t n;           /* number of parameters */
    wg_param **params;  /* borrowed: the caller keeps them alive */
    void **buf1;        /* n entries (entries NULL for SGD) */
    void **buf2;        /* n entries (entries NULL unless Adam/AdamW) */
    int64_t *step;      /* n entries */
    double last_grad_norm; /* before clipping, when clip_norm > 0; else 0 */
    struct wg_optim_inbw *inbw; /* private (wg_optim_backward_begin); NULL until its first use */
} wg_optim;

/* Copies cfg (NULL = wg_optim_defaults(WG_OPT_SGD)) and the pointer array;
 * buffers start at zero, steps at 0.  NULL (wg_last_error) on bad arguments. */
wg_optim *wg_optim_new(const wg_optim_config *cfg, size_t n, wg_param *const *params);
void wg_optim_free(wg_optim *o);
/* One step with cfg.lr, or with an explicit lr (from a schedule).  Reads
 * p->grad, writes p->data and the state; does not zero the gradients.
 * Returns 0, or -1 (wg_last_error) if a gradient is not finite (then nothing
 * is changed). */
int wg_optim_step(wg_optim *o);
int wg_optim_step_lr(wg_optim *o, double lr);
void wg_optim_zero_grad(wg_optim *o);
/* Zero every buffer and step count. */
void wg_optim_reset(wg_optim *o);

/* ==== optimiser-in-backward (opt-in) ====================================== */
/* PyTorch's optimizer-step-in-backward hooks: each parameter takes its step as
 * soon as backward has finished its gradient, while the rest of the backward
 * pass still runs, and its gradient is zeroed right there.  The gradient is
 * read once, while the cache still holds it from the op that wrote it, and
 * the loop needs no zero_grad and no separate step:
 *
 *     wg_optim_backward_begin(opt, t, wg_lr_at(&lr, step));  // instead of zero_grad ... step
 *     wg_backward(t, loss);                                   // each parameter steps here
 *     if (wg_optim_backward_end(opt) != 0) fprintf(stderr, "%s\n", wg_last_error());
 *
 * begin puts a gradient hook on the tape (wg_tape_set_grad_hook), so it cannot
 * be combined with another hook on the same tape (wg_dist_begin's).  A
 * parameter's step is the ordinary step's arithmetic on its own elements, so
 * when every gradient is finite the weights and the state after begin,
 * backward, end are bit for bit those of wg_optim_zero_grad, backward,
 * wg_optim_step_lr(lr), for every kind, with and without weight decay, on
 * any number of threads.  Differences:
 *  - clip_norm > 0 needs the norm of every gradient before the first update:
 *    begin refuses it (-1); clip with the ordinary step.
 *  - A non-finite gradient skips that parameter's step (its gradient is
 *    zeroed, its step count kept) while the parameters before it in the pass
 *    have already stepped; end then returns -1 naming it.  (The ordinary step
 *    refuses the whole step.)
 *  - Gradients must be zero when backward starts (as they are after a new
 *    parameter, a zero_grad or an earlier end).
 * A dense layer's weight used by one matmul only (x W^T, as nn/'s layers
 * record it) whose gradient the library's own small-product kernels make
 * (a batch of one: an outer product; 8-16 or fewer outputs or inputs) does
 * not even have its gradient stored: the matmul's VJP makes it a block of
 * rows at a time, each block is stepped while it is in the cache, and the
 * weight's gradient buffer is never written (same bits; taken only where the
 * gradient is provably finite, from the norms of x and of the output's
 * gradient, else the weight steps as any other parameter).
 * A parameter recorded several times is stepped at its last use's report.
 * end steps the listed parameters backward did not reach (with their zero
 * gradients, as the ordinary step would), removes the hook and returns 0 or
 * -1 (wg_last_error).  If backward failed (wg_tape_error), end steps nothing
 * more, zeroes the gradients not yet stepped and returns -1.  The first begin
 * allocates (O(n)); later ones do not.  Each begin must be followed by end
 * before the tape is reset or freed.  Returns 0 or -1 (wg_last_error). */
int wg_optim_backward_begin(wg_optim *o, wg_tape *t, double lr);
/* Ends what wg_optim_backward_begin started; see there.  0 or -1. */
int wg_optim_backward_end(wg_optim *o);

/* ==== learning-rate schedules (lecture 004), t = 0, 1, 2, ... ============ */

typedef enum {
    WG_LR_CONSTANT = 0, /* lr0 */
    WG_LR_STEP,         /* lr0 * gamma^floor(t / step_size) */
    WG_LR_EXPONENTIAL,  /* lr0 * gamma^t */
    WG_LR_INV_T,        /* lr0 / (1 + t/t0) */
    WG_LR_COSINE,       /* lr_min + (lr0 - lr_min)(1 + cos(pi min(t,t_max)/t_max))/2 */
} wg_lr_kind;

typedef struct wg_lr_schedule {
    wg_lr_kind kind;
    double lr0;
    double gamma;      /* STEP, EXPONENTIAL */
    int64_t step_size; /* STEP */
    double t0;         /* INV_T */
    int64_t t_max;     /* COSINE */
    double lr_min;     /* COSINE */
} wg_lr_schedule;
double wg_lr_at(const wg_lr_schedule *s, int64_t t);

/* ==== early stopping ===================================================== */

/* Watches a validation loss (lower is better; pass -accuracy to maximise),
 * keeps a copy of the parameters at the best loss seen, and says stop after
 * `patience` (>= 1) reports in a row without an improvement of more than
 * min_delta. */
typedef struct wg_early_stop {
    int patience;
    double min_delta;
    double best;         /* +inf before the first report */
    int64_t best_epoch;  /* index of the best report, -1 before any */
    int64_t epoch;       /* reports so far */
    int bad;             /* reports since the last improvement */
    bool stop;
    size_t n;
    wg_param **params;   /* borrowed */
    void **best_data;    /* owned copies, n entries */
} wg_early_stop;

wg_early_stop *wg_early_stop_new(size_t n, wg_param *const *params, int patience, double min_delta);
void wg_early_stop_free(wg_early_stop *e);
/* Report one validation loss; snapshots the parameters on improvement.
 * Returns true once training should stop.  A NaN loss never improves. */
bool wg_early_stop_update(wg_early_stop *e, double val_loss);
/* Copy the best parameters back (no-op before any report).  0 or -1. */
int wg_early_stop_restore(wg_early_stop *e);

#ifdef __cplusplus
}
#endif
#endif
