/* optim.c: optimisers as plain array kernels over parameter lists.
 *
 * Nothing here knows the tape: a step reads p->grad and writes p->data and
 * the optimiser's own buffers.  Each kernel exists for f32 and f64; the
 * arithmetic of the f32 kernels runs in float, like PyTorch's.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wg_clones.h"
#include "wg_parts.h"
#include "wg_optim.h"
#include "wg_tensor.h"

/* ---- kernels ------------------------------------------------------------ */

/* Compiled for the CPU's vector width (WG_CLONES); wg_optim_step runs them
 * over a parameter's blocks of rows (wg_parts.h). */
/* The step kernels, once as the public ones (g read only) and once for the
 * step in backward, which zeroes each gradient element as it reads it
 * (Z: g[i] = 0), so that a parameter's gradient is one pass while it is in
 * the cache, not a step and then a zero_grad.  The arithmetic is the same. */
#define DEFINE_STEPS(T, SFX, LINK, SGD, MOM, NES, ADAM, GQ, Z)                                      \
    WG_CLONES LINK void SGD(size_t n, T lr, T *restrict w, GQ T *restrict g)                        \
    {                                                                                               \
        for (size_t i = 0; i < n; i++) {                                                            \
            w[i] -= lr * g[i];                                                                      \
            Z;                                                                                      \
        }                                                                                           \
    }                                                                                               \
    WG_CLONES LINK void MOM(size_t n, T lr, T mu, T *restrict w, GQ T *restrict g, T *restrict dw)  \
    {                                                                                               \
        for (size_t i = 0; i < n; i++) {                                                            \
            dw[i] = -lr * g[i] + mu * dw[i];                                                        \
            w[i] += dw[i];                                                                          \
            Z;                                                                                      \
        }                                                                                           \
    }                                                                                               \
    WG_CLONES LINK void NES(size_t n, T lr, T mu, T *restrict w, GQ T *restrict g, T *restrict dw)  \
    {                                                                                               \
        for (size_t i = 0; i < n; i++) {                                                            \
            T prev = dw[i];                                                                         \
            dw[i] = mu * prev - lr * g[i];                                                          \
            w[i] += (1 + mu) * dw[i] - mu * prev;                                                   \
            Z;                                                                                      \
        }                                                                                           \
    }                                                                                               \
    WG_CLONES LINK void ADAM(size_t n, int64_t t, double lr, double b1, double b2, double eps, double wd, \
                             T *restrict w, GQ T *restrict g, T *restrict m, T *restrict v)         \
    {                                                                                               \
        /* bias corrections 1 - b^t, computed once per step */                                      \
        const T c1 = (T)(1.0 - pow(b1, (double)t)), c2 = (T)(1.0 - pow(b2, (double)t));             \
        const T B1 = (T)b1, B2 = (T)b2, a = (T)lr, e = (T)eps, decay = (T)(1.0 - lr * wd);          \
        for (size_t i = 0; i < n; i++) {                                                            \
            if (wd != 0) w[i] *= decay;                                                             \
            m[i] = B1 * m[i] + (1 - B1) * g[i];                                                     \
            v[i] = B2 * v[i] + (1 - B2) * g[i] * g[i];                                              \
            T mhat = m[i] / c1, vhat = v[i] / c2;                                                   \
            w[i] -= a * mhat / (SQRT(vhat) + e);                                                    \
            Z;                                                                                      \
        }                                                                                           \
    }

#define DEFINE_KERNELS(T, SFX)                                                                      \
    DEFINE_STEPS(T, SFX, , wg_sgd_step_##SFX, wg_momentum_step_##SFX, wg_nesterov_step_##SFX,       \
                 wg_adam_step_##SFX, const, (void)0)                                                \
    DEFINE_STEPS(T, SFX, static, sgd_zero_##SFX, momentum_zero_##SFX, nesterov_zero_##SFX,          \
                 adam_zero_##SFX, , g[i] = 0)                                                       \
    /* Whether every element is finite: g*0 is 0, or NaN for an infinity or */  \
    /* a NaN, summed in 32 lanes (the step in backward's check: cheaper */     \
    /* than the sum of squares it needs no value of). */                         \
    WG_CLONES static bool finite_##SFX(size_t n, const T *g)                                        \
    {                                                                                               \
        T acc[32] = {0};                                                                            \
        const size_t nv = n - n % 32;                                                               \
        for (size_t i = 0; i < nv; i += 32)                                                         \
            for (int l = 0; l < 32; l++) acc[l] += g[i + l] * 0;                                    \
        for (size_t i = nv; i < n; i++) acc[0] += g[i] * 0;                                         \
        T s = 0;                                                                                    \
        for (int l = 0; l < 32; l++) s += acc[l];                                                   \
        return s == 0;                                                                              \
    }                                                                                               \
    /* The sum of squares in double, in 32 lanes: a vector loop, where one */                       \
    /* running sum was one add per element at the add's latency. */                                \
    WG_CLONES static double sumsq_##SFX(size_t n, const T *g)                                       \
    {                                                                                               \
        double acc[32] = {0}, s = 0;                                                                \
        const size_t nv = n - n % 32;                                                               \
        for (size_t i = 0; i < nv; i += 32)                                                         \
            for (int l = 0; l < 32; l++) acc[l] += (double)g[i + l] * (double)g[i + l];             \
        for (int w = 16; w > 0; w /= 2)                                                             \
            for (int l = 0; l < w; l++) acc[l] += acc[l + w];                                       \
        s = acc[0];                                                                                 \
        for (size_t i = nv; i < n; i++) s += (double)g[i] * (double)g[i];                           \
        return s;                                                                                   \
    }

#define SQRT sqrtf
DEFINE_KERNELS(float, f32)
#undef SQRT
#define SQRT sqrt
DEFINE_KERNELS(double, f64)
#undef SQRT

void wg_perceptron_rule(size_t n, double alpha, double y, double y_pred, double *w, const double *x)
{
    const double s = alpha * (y - y_pred);
    if (s == 0 || !w || !x) return; /* correctly classified: no change */
    for (size_t i = 0; i < n; i++) w[i] += s * x[i];
}

/* ---- parameter lists ---------------------------------------------------- */

/* The squared gradient entries [lo, hi) of p, summed. */
static double block_sumsq(const wg_param *p, size_t lo, size_t hi)
{
    return p->dtype == WG_F32 ? sumsq_f32(hi - lo, (const float *)p->grad + lo)
                              : sumsq_f64(hi - lo, (const double *)p->grad + lo);
}

/* A parameter's sum of squared gradient entries, over its blocks of rows
 * on a call's `threads`. */
static double param_sumsq(const wg_param *p, int threads)
{
    double part[WG_MAX_BLOCKS] = {0}, s = 0;
    WG_PARAM_BLOCKS(p, threads, blk, lo, hi, part[blk] = block_sumsq(p, lo, hi));
    for (int k = 0; k < WG_MAX_BLOCKS; k++) s += part[k];
    return s;
}

static bool block_finite(const wg_param *p, size_t lo, size_t hi)
{
    return p->dtype == WG_F32 ? finite_f32(hi - lo, (const float *)p->grad + lo)
                              : finite_f64(hi - lo, (const double *)p->grad + lo);
}

/* Every gradient element of p finite?  Checked in its blocks of rows, each
 * on the thread that wrote it. */
static bool param_finite(const wg_param *p, int threads)
{
    bool ok[WG_MAX_BLOCKS];
    for (int b = 0; b < WG_MAX_BLOCKS; b++) ok[b] = true;
    WG_PARAM_BLOCKS(p, threads, blk, lo, hi, ok[blk] = block_finite(p, lo, hi));
    for (int b = 0; b < WG_MAX_BLOCKS; b++)
        if (!ok[b]) return false;
    return true;
}

/* The ordinary step refuses a gradient whose norm is not finite.  When
 * every listed parameter is f32 and nothing clips, that is exactly "some
 * element is not finite" (a sum of squares in double of finite f32 values
 * cannot overflow), and checking that (g*0 in float lanes) is a third of the
 * work of the sum of squares it replaces: the norm is then computed only
 * for the message.  An f64 gradient can be finite with an infinite sum of
 * squares, which the step refuses too: lists with one keep the norm. */
static bool check_only(const wg_optim *o)
{
    if (o->cfg.clip_norm > 0) return false;
    for (size_t k = 0; k < o->n; k++)
        if (o->params[k]->dtype != WG_F32) return false;
    return true;
}

static double grad_norm_on(size_t n, wg_param *const *ps, int threads)
{
    double s = 0;
    for (size_t k = 0; ps && k < n; k++)
        if (ps[k] && ps[k]->grad) s += param_sumsq(ps[k], threads);
    return sqrt(s);
}

double wg_grad_norm(size_t n, wg_param *const *ps) { return grad_norm_on(n, ps, wg_parts_threads()); }

static void scale_grads(size_t n, wg_param *const *ps, double c)
{
    for (size_t k = 0; k < n; k++) {
        wg_param *p = ps[k];
        if (!p || !p->grad) continue;
        for (size_t i = 0; i < p->numel; i++) {
            if (p->dtype == WG_F32)
                ((float *)p->grad)[i] *= (float)c;
            else
                ((double *)p->grad)[i] *= c;
        }
    }
}

double wg_clip_grad_norm(size_t n, wg_param *const *ps, double max_norm)
{
    double norm = wg_grad_norm(n, ps);
    if (ps && max_norm > 0 && norm > max_norm && isfinite(norm)) scale_grads(n, ps, max_norm / norm);
    return norm;
}

static bool is_bias(const wg_param *p) { return p->ndim <= 1; }

void wg_weight_decay_grad(size_t n, wg_param *const *ps, double lambda, bool include_biases)
{
    for (size_t k = 0; ps && k < n; k++) {
        wg_param *p = ps[k];
        if (!p || !p->grad || lambda == 0 || (is_bias(p) && !include_biases)) continue;
        for (size_t i = 0; i < p->numel; i++) {
            if (p->dtype == WG_F32)
                ((float *)p->grad)[i] += (float)lambda * ((float *)p->data)[i];
            else
                ((double *)p->grad)[i] += lambda * ((double *)p->data)[i];
        }
    }
}

void wg_zero_grads(size_t n, wg_param *const *ps)
{
    for (size_t k = 0; ps && k < n; k++)
        if (ps[k]) wg_param_zero_grad(ps[k]);
}

/* ---- the optimiser object ----------------------------------------------- */

static const char *const opt_names[] = {"sgd", "momentum", "nesterov", "adam", "adamw"};
enum { N_OPT = sizeof opt_names / sizeof *opt_names };

const char *wg_opt_name(wg_opt_kind kind) { return (unsigned)kind < N_OPT ? opt_names[kind] : "unknown"; }

int wg_opt_from_name(const char *name)
{
    for (int i = 0; name && i < N_OPT; i++)
        if (strcmp(name, opt_names[i]) == 0) return i;
    return -1;
}

wg_optim_config wg_optim_defaults(wg_opt_kind kind)
{
    bool adam = kind == WG_OPT_ADAM || kind == WG_OPT_ADAMW;
    return (wg_optim_config){
        .kind = kind,
        .lr = adam ? 1e-3 : 0.01,
        .momentum = 0.9,
        .beta1 = 0.9,
        .beta2 = 0.999,
        .eps = 1e-8,
        .weight_decay = kind == WG_OPT_ADAMW ? 0.01 : 0.0,
        .decay_biases = false,
        .clip_norm = 0.0,
    };
}

static size_t dsize(wg_dtype dt) { return dt == WG_F32 ? sizeof(float) : sizeof(double); }

static void inbw_free(struct wg_optim_inbw *s);
static void inbw_detach(wg_optim *o);

void wg_optim_free(wg_optim *o)
{
    if (!o) return;
    inbw_detach(o); /* freed between begin and end: the parameters forget its sink */
    inbw_free(o->inbw);
    for (size_t i = 0; i < o->n; i++) {
        if (o->buf1) free(o->buf1[i]);
        if (o->buf2) free(o->buf2[i]);
    }
    free(o->buf1);
    free(o->buf2);
    free(o->step);
    free(o->params);
    free(o);
}

wg_optim *wg_optim_new(const wg_optim_config *cfg, size_t n, wg_param *const *params)
{
    wg_optim_config c = cfg ? *cfg : wg_optim_defaults(WG_OPT_SGD);
    if ((unsigned)c.kind >= N_OPT) {
        wg_set_last_error("optim_new: unknown optimiser %d", (int)c.kind);
        return NULL;
    }
    if (!(c.lr >= 0) || !(c.momentum >= 0) || !(c.beta1 >= 0 && c.beta1 < 1) || !(c.beta2 >= 0 && c.beta2 < 1) ||
        !(c.eps >= 0) || !(c.weight_decay >= 0) || !(c.clip_norm >= 0)) {
        wg_set_last_error("optim_new: bad hyperparameters: lr %g, momentum %g, beta1 %g, beta2 %g, eps %g, "
                          "weight_decay %g, clip_norm %g",
                          c.lr, c.momentum, c.beta1, c.beta2, c.eps, c.weight_decay, c.clip_norm);
        return NULL;
    }
    if (!isfinite(c.lr) || !isfinite(c.momentum) || !isfinite(c.eps) || !isfinite(c.weight_decay) ||
        !isfinite(c.clip_norm)) {
        wg_set_last_error("optim_new: hyperparameters must be finite: lr %g, momentum %g, eps %g, weight_decay %g, "
                          "clip_norm %g", c.lr, c.momentum, c.eps, c.weight_decay, c.clip_norm);
        return NULL;
    }
    /* Adam divides by sqrt(v) + eps, and v is 0 wherever the gradient has
     * been 0: eps = 0 made 0/0 = NaN weights. */
    if ((c.kind == WG_OPT_ADAM || c.kind == WG_OPT_ADAMW) && !(c.eps > 0)) {
        wg_set_last_error("optim_new: %s needs eps > 0 (it divides by sqrt(v) + eps, and v = 0 where the gradient "
                          "is 0): got eps %g", opt_names[c.kind], c.eps);
        return NULL;
    }
    if (n && !params) {
        wg_set_last_error("optim_new: params is NULL for %zu parameters", n);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (!params[i] || (params[i]->dtype != WG_F32 && params[i]->dtype != WG_F64) ||
            (params[i]->numel && (!params[i]->data || !params[i]->grad))) {
            wg_set_last_error("optim_new: params[%zu] is NULL or not a valid parameter", i);
            return NULL;
        }
    /* The same parameter twice would be stepped twice per step. */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (params[i] == params[j] || (params[i]->numel && params[i]->data == params[j]->data)) {
                wg_set_last_error("optim_new: params[%zu] and params[%zu] are the same parameter%s%.48s", j, i,
                                  params[i]->name[0] ? " " : "", params[i]->name);
                return NULL;
            }
    wg_optim *o = calloc(1, sizeof *o);
    if (!o) goto oom;
    o->cfg = c;
    o->params = malloc(sizeof *o->params * (n ? n : 1));
    o->buf1 = calloc(n ? n : 1, sizeof *o->buf1);
    o->buf2 = calloc(n ? n : 1, sizeof *o->buf2);
    o->step = calloc(n ? n : 1, sizeof *o->step);
    if (!o->params || !o->buf1 || !o->buf2 || !o->step) goto oom;
    o->n = n;
    bool one = c.kind != WG_OPT_SGD, two = c.kind == WG_OPT_ADAM || c.kind == WG_OPT_ADAMW;
    for (size_t i = 0; i < n; i++) {
        o->params[i] = params[i];
        size_t bytes = params[i]->numel * dsize(params[i]->dtype);
        if (one && !(o->buf1[i] = calloc(1, bytes ? bytes : 1))) goto oom;
        if (two && !(o->buf2[i] = calloc(1, bytes ? bytes : 1))) goto oom;
    }
    return o;
oom:
    wg_optim_free(o);
    wg_set_last_error("optim_new: out of memory");
    return NULL;
}

void wg_optim_zero_grad(wg_optim *o)
{
    if (o) wg_zero_grads(o->n, o->params);
}

void wg_optim_reset(wg_optim *o)
{
    if (!o) return;
    for (size_t i = 0; i < o->n; i++) {
        size_t bytes = o->params[i]->numel * dsize(o->params[i]->dtype);
        if (o->buf1[i]) memset(o->buf1[i], 0, bytes);
        if (o->buf2[i]) memset(o->buf2[i], 0, bytes);
        o->step[i] = 0;
    }
    o->last_grad_norm = 0;
}

/* Parameter k's elements [lo, lo + n) take one step with the gradient
 * values gv (element lo's first: p->grad + lo, or a block handed over in
 * backward); with zero, each gradient element is zeroed as it is read (the
 * step in backward). */
static void step_kernel(wg_optim *o, size_t k, double lr, int64_t t, size_t lo, size_t n, void *gv, bool zero)
{
    const wg_optim_config *c = &o->cfg;
    wg_param *p = o->params[k];
    const double wd = c->kind == WG_OPT_ADAMW && (c->decay_biases || !is_bias(p)) ? c->weight_decay : 0.0;
    if (p->dtype == WG_F32) {
        float *w = (float *)p->data + lo, *g = gv;
        float *b1 = o->buf1[k] ? (float *)o->buf1[k] + lo : NULL, *b2 = o->buf2[k] ? (float *)o->buf2[k] + lo : NULL;
        const float lf = (float)lr, mu = (float)c->momentum;
        switch (c->kind) {
        case WG_OPT_SGD: zero ? sgd_zero_f32(n, lf, w, g) : wg_sgd_step_f32(n, lf, w, g); break;
        case WG_OPT_MOMENTUM: zero ? momentum_zero_f32(n, lf, mu, w, g, b1) : wg_momentum_step_f32(n, lf, mu, w, g, b1); break;
        case WG_OPT_NESTEROV: zero ? nesterov_zero_f32(n, lf, mu, w, g, b1) : wg_nesterov_step_f32(n, lf, mu, w, g, b1); break;
        case WG_OPT_ADAM:
        case WG_OPT_ADAMW:
            zero ? adam_zero_f32(n, t, lr, c->beta1, c->beta2, c->eps, wd, w, g, b1, b2)
                 : wg_adam_step_f32(n, t, lr, c->beta1, c->beta2, c->eps, wd, w, g, b1, b2);
            break;
        }
    } else {
        double *w = (double *)p->data + lo, *g = gv;
        double *b1 = o->buf1[k] ? (double *)o->buf1[k] + lo : NULL, *b2 = o->buf2[k] ? (double *)o->buf2[k] + lo : NULL;
        const double mu = c->momentum;
        switch (c->kind) {
        case WG_OPT_SGD: zero ? sgd_zero_f64(n, lr, w, g) : wg_sgd_step_f64(n, lr, w, g); break;
        case WG_OPT_MOMENTUM: zero ? momentum_zero_f64(n, lr, mu, w, g, b1) : wg_momentum_step_f64(n, lr, mu, w, g, b1); break;
        case WG_OPT_NESTEROV: zero ? nesterov_zero_f64(n, lr, mu, w, g, b1) : wg_nesterov_step_f64(n, lr, mu, w, g, b1); break;
        case WG_OPT_ADAM:
        case WG_OPT_ADAMW:
            zero ? adam_zero_f64(n, t, lr, c->beta1, c->beta2, c->eps, wd, w, g, b1, b2)
                 : wg_adam_step_f64(n, t, lr, c->beta1, c->beta2, c->eps, wd, w, g, b1, b2);
            break;
        }
    }
}

static void step_block_z(wg_optim *o, size_t k, double lr, int64_t t, size_t lo, size_t n, bool zero)
{
    wg_param *p = o->params[k];
    step_kernel(o, k, lr, t, lo, n, (char *)p->grad + lo * dsize(p->dtype), zero);
}

static void step_block(wg_optim *o, size_t k, double lr, int64_t t, size_t lo, size_t n)
{
    step_block_z(o, k, lr, t, lo, n, false);
}

/* The plain step (no clipping, no coupled decay) when some parameter's
 * gradient came in blocks from several threads: one parallel region, in
 * which each thread sums the squares of its blocks, the threads meet, and,
 * if the total is finite, each steps its blocks.  Separate regions for the
 * check and the step of every parameter cost a fork and join each (2-4 us
 * here).  Blocks of parameters that came from one thread go to thread 0.
 * Returns the norm (not finite: nothing was changed). */
/* The non-empty block of p's rows that thread `me` of a step on `threads`
 * updates, if any.  Every thread passes the step's one count: had each read
 * the default itself, a change of it by another thread mid-step left rows
 * stepped twice or not at all. */
static bool thread_block(const wg_param *p, int threads, int me, size_t *lo, size_t *hi)
{
    const int pb = wg_param_blocks(p, threads);
    if (me >= pb) return false;
    wg_param_block(p, pb, me, lo, hi);
    return *hi > *lo;
}

static double step_fused(wg_optim *o, double lr, int threads, int blocks)
{
    double part[WG_MAX_BLOCKS] = {0}, norm = 0;
    const bool check = check_only(o); /* then part[] is 0 or NaN, and so is the "norm" */
#pragma omp parallel num_threads(blocks)
    {
        /* Block b on thread b; should OpenMP give fewer threads than asked
         * (OMP_THREAD_LIMIT, a nested region), a thread takes every nth
         * block, so no block is ever left out. */
        const int me = wg_omp_thread_num(), nth = wg_omp_num_threads();
        size_t lo, hi;
        for (int b = me; b < blocks; b += nth) {
            double s = 0;
            for (size_t k = 0; k < o->n; k++)
                if (thread_block(o->params[k], threads, b, &lo, &hi))
                    s += !check ? block_sumsq(o->params[k], lo, hi) : block_finite(o->params[k], lo, hi) ? 0 : NAN;
            part[b] = s;
        }
#pragma omp barrier
        double total = 0;
        for (int i = 0; i < blocks; i++) total += part[i];
        if (isfinite(total))
            for (int b = me; b < blocks; b += nth)
                for (size_t k = 0; k < o->n; k++)
                    if (thread_block(o->params[k], threads, b, &lo, &hi))
                        step_block(o, k, lr, o->step[k] + 1, lo, hi - lo);
#pragma omp master
        norm = sqrt(total);
    }
    if (isfinite(norm))
        for (size_t k = 0; k < o->n; k++) o->step[k]++;
    return norm;
}

int wg_optim_step_lr(wg_optim *o, double lr)
{
    if (!o) {
        wg_set_last_error("optim_step: invalid handle: the optimiser is NULL");
        return -1;
    }
    if (!(lr >= 0) || isinf(lr)) {
        wg_set_last_error("optim_step: learning rate must be finite and >= 0: got %g", lr);
        return -1;
    }
    const wg_optim_config *c = &o->cfg;
    const int threads = wg_parts_threads(); /* once: the whole step splits by it */
    int blocks = 1;
    for (size_t k = 0; k < o->n; k++)
        if (wg_param_blocks(o->params[k], threads) > blocks) blocks = wg_param_blocks(o->params[k], threads);
    if (blocks > 1 && !(c->clip_norm > 0) && !(c->weight_decay > 0 && c->kind != WG_OPT_ADAMW)) {
        double norm = step_fused(o, lr, threads, blocks);
        if (isfinite(norm)) return 0;
        norm = grad_norm_on(o->n, o->params, threads);
        wg_set_last_error("optim_step: non-finite gradient (norm %g): step skipped", norm);
        return -1;
    }
    /* A non-finite gradient would poison the weights and the moments for
     * good: refuse the step and leave everything as it was. */
    bool finite = true;
    for (size_t k = 0; check_only(o) && finite && k < o->n; k++)
        finite = !o->params[k]->grad || param_finite(o->params[k], threads);
    double norm = check_only(o) && finite ? 0 : grad_norm_on(o->n, o->params, threads);
    if (!isfinite(norm)) {
        wg_set_last_error("optim_step: non-finite gradient (norm %g): step skipped", norm);
        return -1;
    }
    if (c->clip_norm > 0) {
        o->last_grad_norm = norm;
        if (norm > c->clip_norm) scale_grads(o->n, o->params, c->clip_norm / norm);
    }
    /* Coupled L2 decay goes into the gradient, as the gradient of lambda/2 ||w||^2. */
    if (c->weight_decay > 0 && c->kind != WG_OPT_ADAMW)
        wg_weight_decay_grad(o->n, o->params, c->weight_decay, c->decay_biases);
    for (size_t k = 0; k < o->n; k++) {
        int64_t t = ++o->step[k];
        WG_PARAM_BLOCKS(o->params[k], threads, blk, lo, hi, step_block(o, k, lr, t, lo, hi - lo));
    }
    return 0;
}

int wg_optim_step(wg_optim *o)
{
    if (!o) return wg_optim_step_lr(o, 0);
    return wg_optim_step_lr(o, o->cfg.lr);
}

/* ---- optimiser-in-backward ---------------------------------------------- */

/* The state of one begin ... end, kept (and reused) between them. */
struct wg_optim_inbw {
    wg_tape *tape;  /* non-NULL between begin and end */
    double lr;
    int threads;    /* read once at begin, as every call that splits work */
    bool counted;   /* uses[] counted for this pass */
    bool failed;    /* a parameter's gradient was not finite */
    size_t *by_grad; /* parameter indices sorted by their gradient's address */
    int *uses;       /* leaves of each parameter still to report this pass */
    bool *done;      /* stepped (or skipped) this pass */
    char msg[256];   /* the first error of the pass */
    /* The listed parameters' wg_step_sink (wg_parts.h): a matmul VJP that
     * makes a weight's whole gradient hands it over in blocks of rows,
     * stepped as they come (inbw_rows), into scr (kept between passes). */
    wg_step_sink sink;
    void *scr;
    size_t scr_cap;
};

static void inbw_free(struct wg_optim_inbw *s)
{
    if (!s) return;
    free(s->by_grad);
    free(s->uses);
    free(s->done);
    free(s->scr);
    free(s);
}

/* by_grad sorted by gradient address (insertion sort: once per optimiser,
 * and qsort would need a global for its context, shared between threads). */
static void sort_by_grad(const wg_optim *o, size_t *idx)
{
    for (size_t i = 1; i < o->n; i++) {
        size_t v = idx[i], j = i;
        for (; j > 0 && (const char *)o->params[idx[j - 1]]->grad > (const char *)o->params[v]->grad; j--)
            idx[j] = idx[j - 1];
        idx[j] = v;
    }
}

/* The index of the parameter whose gradient buffer is `grad`, or -1. */
static ptrdiff_t inbw_find(const wg_optim *o, const void *grad)
{
    const struct wg_optim_inbw *s = o->inbw;
    size_t lo = 0, hi = o->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *g = o->params[s->by_grad[mid]]->grad;
        if (g == (const char *)grad) return (ptrdiff_t)s->by_grad[mid];
        if (g < (const char *)grad) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

/* How many leaves of each listed parameter the tape holds (a gradient is
 * final at its parameter's last report); counted at the first report, when
 * the tape is complete. */
static void inbw_count(wg_optim *o)
{
    struct wg_optim_inbw *s = o->inbw;
    memset(s->uses, 0, sizeof *s->uses * (o->n ? o->n : 1));
    for (wg_tensor *x = wg_tape_last(s->tape); x; x = wg_prev(x)) {
        if (!wg_is_leaf(x) || !wg_requires_grad(x)) continue;
        ptrdiff_t k = wg_grad(x) ? inbw_find(o, wg_grad(x)) : -1;
        if (k >= 0) s->uses[k]++;
    }
    s->counted = true;
}

static void zero_block(wg_param *p, size_t lo, size_t hi)
{
    const size_t es = dsize(p->dtype);
    memset((char *)p->grad + lo * es, 0, (hi - lo) * es);
}

static void step_zero_block(wg_optim *o, size_t k, double lr, int64_t t, size_t lo, size_t hi)
{
    step_block_z(o, k, lr, t, lo, hi - lo, true);
}

/* Parameter k's step, exactly the ordinary step's arithmetic for it, then its
 * gradient zeroed, in the blocks of rows backward wrote it in. */
static void inbw_step(wg_optim *o, size_t k)
{
    struct wg_optim_inbw *s = o->inbw;
    wg_param *p = o->params[k];
    const wg_optim_config *c = &o->cfg;
    s->done[k] = true;
    if (!p->numel) {
        o->step[k]++;
        return;
    }
    if (!param_finite(p, s->threads)) {
        if (!s->failed)
            snprintf(s->msg, sizeof s->msg, "optim_backward: non-finite gradient in params[%zu]%s%.48s: "
                     "its step skipped", k, p->name[0] ? " " : "", p->name);
        s->failed = true;
        WG_PARAM_BLOCKS(p, s->threads, blk, lo, hi, zero_block(p, lo, hi));
        return;
    }
    if (c->weight_decay > 0 && c->kind != WG_OPT_ADAMW) wg_weight_decay_grad(1, &p, c->weight_decay, c->decay_biases);
    const int64_t t = ++o->step[k];
    const double lr = s->lr;
    WG_PARAM_BLOCKS(p, s->threads, blk, lo, hi, step_zero_block(o, k, lr, t, lo, hi));
}

static void inbw_hook(wg_param *p, void *ctx)
{
    wg_optim *o = ctx;
    struct wg_optim_inbw *s = o->inbw;
    if (!s || !s->tape) return;
    if (!s->counted) inbw_count(o);
    ptrdiff_t k = inbw_find(o, p->grad);
    if (k < 0 || s->done[k] || s->uses[k] <= 0) return; /* not listed, or past its count */
    if (--s->uses[k] == 0) inbw_step(o, (size_t)k);
}

/* ---- the gradient in blocks (wg_parts.h's wg_step_sink) ---- */

static void *inbw_scratch(size_t bytes, void *ctx)
{
    struct wg_optim_inbw *s = ((wg_optim *)ctx)->inbw;
    if (bytes > s->scr_cap) {
        void *q = aligned_alloc(64, (bytes + 63) / 64 * 64);
        if (!q) return NULL;
        free(s->scr);
        s->scr = q;
        s->scr_cap = bytes;
    }
    return s->scr;
}

/* p's whole gradient is about to come in blocks: its step starts (the
 * gradient is finite: the op proved it). */
static bool inbw_take(wg_param *p, void *ctx)
{
    wg_optim *o = ctx;
    struct wg_optim_inbw *s = o->inbw;
    const ptrdiff_t k = s && s->tape && p->numel ? inbw_find(o, p->grad) : -1;
    if (k < 0 || s->done[k]) return false;
    s->done[k] = true;
    o->step[k]++;
    return true;
}

/* Rows [r0, r1) of p's gradient, g: inbw_step's arithmetic on them (coupled
 * weight decay into the gradient, then the kernel), without the zeroing. */
static void inbw_rows(wg_param *p, int64_t r0, int64_t r1, void *g, void *ctx)
{
    wg_optim *o = ctx;
    const wg_optim_config *c = &o->cfg;
    const ptrdiff_t k = inbw_find(o, p->grad);
    const size_t row = p->numel / (size_t)p->shape[0], lo = (size_t)r0 * row, n = (size_t)(r1 - r0) * row;
    if (k < 0) return;
    if (c->weight_decay > 0 && c->kind != WG_OPT_ADAMW && (c->decay_biases || !is_bias(p))) {
        if (p->dtype == WG_F32) {
            float *gf = g;
            const float *w = (const float *)p->data + lo;
            for (size_t i = 0; i < n; i++) gf[i] += (float)c->weight_decay * w[i];
        } else {
            double *gd = g;
            const double *w = (const double *)p->data + lo;
            for (size_t i = 0; i < n; i++) gd[i] += c->weight_decay * w[i];
        }
    }
    step_kernel(o, (size_t)k, o->inbw->lr, o->step[k], lo, n, g, false);
}

/* The listed parameters' sink: ours from begin to end. */
static void inbw_sinks(wg_optim *o, bool on)
{
    const wg_step_sink *mine = &o->inbw->sink;
    for (size_t k = 0; k < o->n; k++) {
        struct wg_param_priv *pv = o->params[k]->priv;
        if (pv && (on || pv->sink == mine)) pv->sink = on ? mine : NULL;
    }
}

static void inbw_detach(wg_optim *o)
{
    if (o->inbw && o->inbw->tape) inbw_sinks(o, false);
}

int wg_optim_backward_begin(wg_optim *o, wg_tape *t, double lr)
{
    if (!o || !t) {
        wg_set_last_error("optim_backward_begin: invalid handle: the %s is NULL", !o ? "optimiser" : "tape");
        return -1;
    }
    if (!(lr >= 0) || isinf(lr)) {
        wg_set_last_error("optim_backward_begin: learning rate must be finite and >= 0: got %g", lr);
        return -1;
    }
    if (o->cfg.clip_norm > 0) {
        wg_set_last_error("optim_backward_begin: clip_norm %g needs the norm of every gradient before the first "
                          "update: clip with the ordinary step (wg_optim_step), not in backward", o->cfg.clip_norm);
        return -1;
    }
    if (o->inbw && o->inbw->tape) {
        wg_set_last_error("optim_backward_begin: called twice without wg_optim_backward_end");
        return -1;
    }
    if (!o->inbw) {
        struct wg_optim_inbw *s = calloc(1, sizeof *s);
        size_t n1 = o->n ? o->n : 1;
        if (s) {
            s->by_grad = malloc(sizeof *s->by_grad * n1);
            s->uses = calloc(n1, sizeof *s->uses);
            s->done = calloc(n1, sizeof *s->done);
        }
        if (!s || !s->by_grad || !s->uses || !s->done) {
            inbw_free(s);
            wg_set_last_error("optim_backward_begin: out of memory");
            return -1;
        }
        for (size_t k = 0; k < o->n; k++) s->by_grad[k] = k;
        o->inbw = s;
        sort_by_grad(o, s->by_grad);
    }
    struct wg_optim_inbw *s = o->inbw;
    s->lr = lr;
    s->threads = wg_parts_threads();
    s->counted = s->failed = false;
    s->msg[0] = 0;
    memset(s->done, 0, sizeof *s->done * (o->n ? o->n : 1));
    s->tape = t;
    s->sink = (wg_step_sink){.tape = t, .scratch = inbw_scratch, .begin = inbw_take, .rows = inbw_rows, .ctx = o};
    inbw_sinks(o, true);
    wg_tape_set_grad_hook(t, inbw_hook, o);
    return 0;
}

int wg_optim_backward_end(wg_optim *o)
{
    if (!o || !o->inbw || !o->inbw->tape) {
        wg_set_last_error(o ? "optim_backward_end: no wg_optim_backward_begin before it"
                            : "optim_backward_end: invalid handle: the optimiser is NULL");
        return -1;
    }
    struct wg_optim_inbw *s = o->inbw;
    wg_tape_set_grad_hook(s->tape, NULL, NULL);
    inbw_sinks(o, false);
    s->sink.tape = NULL;
    const char *terr = wg_tape_error(s->tape);
    if (terr && !s->failed) {
        snprintf(s->msg, sizeof s->msg, "optim_backward_end: the backward pass failed, parameters it had not "
                 "finished were not stepped: %.160s", terr);
        s->failed = true;
    }
    /* Backward is over: every gradient is final.  Step (or, after a failed
     * pass, just zero) what it did not report. */
    for (size_t k = 0; k < o->n; k++) {
        if (s->done[k]) continue;
        if (terr) {
            wg_param *p = o->params[k];
            if (p->numel) WG_PARAM_BLOCKS(p, s->threads, blk, lo, hi, zero_block(p, lo, hi));
        } else {
            inbw_step(o, k);
        }
    }
    s->tape = NULL;
    if (s->failed) {
        wg_set_last_error("%s", s->msg);
        return -1;
    }
    return 0;
}
