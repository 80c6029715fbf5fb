/* optim.c: optimisers as plain array kernels over parameter lists.
 *
 * Nothing here knows the tape: a step reads p->grad and writes p->data and
 * the optimiser's own buffers.  Each kernel exists for f32 and f64; the
 * arithmetic of the f32 kernels runs in float, like PyTorch's.
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "wg_clones.h"
#include "wg_parts.h"
#include "wg_optim.h"
#include "wg_tensor.h"

/* ---- kernels ------------------------------------------------------------ */

/* Compiled for the CPU's vector width (WG_CLONES); wg_optim_step runs them
 * over a parameter's blocks of rows (wg_parts.h). */
#define DEFINE_KERNELS(T, SFX)                                                                      \
    WG_CLONES void wg_sgd_step_##SFX(size_t n, T lr, T *w, const T *g)                              \
    {                                                                                               \
        for (size_t i = 0; i < n; i++) w[i] -= lr * g[i];                                           \
    }                                                                                               \
    WG_CLONES void wg_momentum_step_##SFX(size_t n, T lr, T mu, T *w, const T *g, T *dw)            \
    {                                                                                               \
        for (size_t i = 0; i < n; i++) {                                                            \
            dw[i] = -lr * g[i] + mu * dw[i];                                                        \
            w[i] += dw[i];                                                                          \
        }                                                                                           \
    }                                                                                               \
    WG_CLONES void wg_nesterov_step_##SFX(size_t n, T lr, T mu, T *w, const T *g, T *dw)            \
    {                                                                                               \
        for (size_t i = 0; i < n; i++) {                                                            \
            T prev = dw[i];                                                                         \
            dw[i] = mu * prev - lr * g[i];                                                          \
            w[i] += (1 + mu) * dw[i] - mu * prev;                                                   \
        }                                                                                           \
    }                                                                                               \
    WG_CLONES void wg_adam_step_##SFX(size_t n, int64_t t, double lr, double b1, double b2, double eps, \
                                      double wd, T *restrict w, const T *restrict g, T *restrict m, \
                                      T *restrict v)                                                \
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
        }                                                                                           \
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

void wg_optim_free(wg_optim *o)
{
    if (!o) return;
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

/* Parameter k's elements [lo, lo + n) take one step. */
static void step_block(wg_optim *o, size_t k, double lr, int64_t t, size_t lo, size_t n)
{
    const wg_optim_config *c = &o->cfg;
    wg_param *p = o->params[k];
    const double wd = c->kind == WG_OPT_ADAMW && (c->decay_biases || !is_bias(p)) ? c->weight_decay : 0.0;
    if (p->dtype == WG_F32) {
        float *w = (float *)p->data + lo, *g = (float *)p->grad + lo;
        float *b1 = o->buf1[k] ? (float *)o->buf1[k] + lo : NULL, *b2 = o->buf2[k] ? (float *)o->buf2[k] + lo : NULL;
        switch (c->kind) {
        case WG_OPT_SGD: wg_sgd_step_f32(n, (float)lr, w, g); break;
        case WG_OPT_MOMENTUM: wg_momentum_step_f32(n, (float)lr, (float)c->momentum, w, g, b1); break;
        case WG_OPT_NESTEROV: wg_nesterov_step_f32(n, (float)lr, (float)c->momentum, w, g, b1); break;
        case WG_OPT_ADAM:
        case WG_OPT_ADAMW: wg_adam_step_f32(n, t, lr, c->beta1, c->beta2, c->eps, wd, w, g, b1, b2); break;
        }
    } else {
        double *w = (double *)p->data + lo, *g = (double *)p->grad + lo;
        double *b1 = o->buf1[k] ? (double *)o->buf1[k] + lo : NULL, *b2 = o->buf2[k] ? (double *)o->buf2[k] + lo : NULL;
        switch (c->kind) {
        case WG_OPT_SGD: wg_sgd_step_f64(n, lr, w, g); break;
        case WG_OPT_MOMENTUM: wg_momentum_step_f64(n, lr, c->momentum, w, g, b1); break;
        case WG_OPT_NESTEROV: wg_nesterov_step_f64(n, lr, c->momentum, w, g, b1); break;
        case WG_OPT_ADAM:
        case WG_OPT_ADAMW: wg_adam_step_f64(n, t, lr, c->beta1, c->beta2, c->eps, wd, w, g, b1, b2); break;
        }
    }
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
                if (thread_block(o->params[k], threads, b, &lo, &hi)) s += block_sumsq(o->params[k], lo, hi);
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
        wg_set_last_error("optim_step: non-finite gradient (norm %g): step skipped", norm);
        return -1;
    }
    /* A non-finite gradient would poison the weights and the moments for
     * good: refuse the step and leave everything as it was. */
    double norm = grad_norm_on(o->n, o->params, threads);
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
