/* gradcheck.c: the tape's gradient against central differences. */
#include <float.h>
#include <math.h>

#include "wg_gradcheck.h"
#include "wg_internal.h"
#include "wg_rng.h"

typedef struct {
    wg_gradcheck_fn f;
    void *ctx;
    int n;
    wg_param *const *in;
    wg_tape *t;
    const double *r; /* cotangent, NULL for a one-element output */
} gc_ctx;

/* Record f on a fresh pass; NULL on error. */
static wg_tensor *run(gc_ctx *c)
{
    wg_tape_reset(c->t);
    wg_tensor *leaves[64];
    for (int i = 0; i < c->n; i++) leaves[i] = wg_use(c->t, c->in[i]);
    wg_tensor *y = c->f(c->t, leaves, c->ctx);
    /* read below as a node: a scalar record's mirror (the check adds no node) */
    return y && wg_tape_check_handle(c->t, "gradcheck", "the output", y) ? wg_solid(c->t, y) : NULL;
}

/* sum(r * y) in double; NAN if f failed. */
static double loss_at(gc_ctx *c)
{
    wg_tensor *y = run(c);
    if (!y || wg_tape_error(c->t)) return NAN;
    double s = 0;
    for (size_t i = 0; i < y->size; i++) s += (c->r ? c->r[i] : 1.0) * wg_get(y, i);
    return s;
}

static double param_get(const wg_param *p, const void *buf, size_t i)
{
    return p->dtype == WG_F32 ? ((const float *)buf)[i] : ((const double *)buf)[i];
}

static void param_set(wg_param *p, size_t i, double v)
{
    if (p->dtype == WG_F32)
        ((float *)p->data)[i] = (float)v;
    else
        ((double *)p->data)[i] = v;
}

int wg_gradcheck(wg_gradcheck_fn f, void *ctx, int n_inputs, wg_param *const *inputs,
                 const wg_gradcheck_opts *opts, wg_gradcheck_report *rep)
{
    wg_gradcheck_report dummy;
    if (!rep) rep = &dummy;
    memset(rep, 0, sizeof *rep);
    if (!f || n_inputs < 1 || n_inputs > 64 || !inputs) {
        snprintf(rep->message, sizeof rep->message, "gradcheck: needs a function and 1..64 inputs, got %d", n_inputs);
        return -1;
    }
    for (int i = 0; i < n_inputs; i++)
        if (!inputs[i]) {
            snprintf(rep->message, sizeof rep->message, "gradcheck: invalid handle: input %d is NULL", i + 1);
            return -1;
        }
    bool f32 = inputs[0]->dtype == WG_F32;
    double atol = opts && opts->atol > 0 ? opts->atol : f32 ? 1e-3 : 1e-6;
    double rtol = opts && opts->rtol > 0 ? opts->rtol : f32 ? 1e-2 : 1e-5;
    uint64_t seed = opts ? opts->seed : 0;

    gc_ctx c = {f, ctx, n_inputs, inputs, wg_tape_new(), NULL};
    double *r = NULL;
    void **saved_grad = calloc((size_t)n_inputs, sizeof *saved_grad);
    int rc = -1;
    if (!c.t || !saved_grad) {
        snprintf(rep->message, sizeof rep->message, "gradcheck: out of memory");
        goto done;
    }
    /* Keep the callers' gradients; the check accumulates into zeroed ones. */
    for (int i = 0; i < n_inputs; i++) {
        size_t bytes = inputs[i]->numel * wg_dtype_size(inputs[i]->dtype);
        saved_grad[i] = malloc(bytes ? bytes : 1);
        if (!saved_grad[i]) {
            snprintf(rep->message, sizeof rep->message, "gradcheck: out of memory");
            goto done;
        }
        memcpy(saved_grad[i], inputs[i]->grad, bytes);
        wg_param_zero_grad(inputs[i]);
    }

    wg_tensor *y = run(&c);
    if (!y || wg_tape_error(c.t)) {
        snprintf(rep->message, sizeof rep->message, "gradcheck: f failed: %s",
                 wg_tape_error(c.t) ? wg_tape_error(c.t) : "returned NULL");
        goto restore;
    }
    int bw;
    if (y->size == 1) {
        bw = wg_backward(c.t, y);
    } else {
        r = malloc(y->size * sizeof *r);
        if (!r) {
            snprintf(rep->message, sizeof rep->message, "gradcheck: out of memory for the %zu-element cotangent",
                     y->size);
            goto restore;
        }
        wg_rng rng;
        wg_rng_seed(&rng, seed ^ 0x5eed0fc0747a6e47ULL);
        for (size_t i = 0; i < y->size; i++) r[i] = wg_rng_normal(&rng);
        wg_tensor *seedt = wg_tensor_new(c.t, (wg_dtype)y->dtype, y->ndim, y->shape, NULL, false);
        if (seedt)
            for (size_t i = 0; i < y->size; i++) {
                if (y->dtype == WG_F32)
                    ((float *)seedt->data)[i] = (float)r[i];
                else
                    ((double *)seedt->data)[i] = r[i];
            }
        /* f32: the numeric side must use the cotangent the tape saw. */
        for (size_t i = 0; seedt && i < y->size; i++) r[i] = wg_get(seedt, i);
        bw = seedt ? wg_backward_seed(c.t, y, seedt) : -1;
    }
    if (bw != 0) {
        snprintf(rep->message, sizeof rep->message, "gradcheck: backward failed: %s", wg_tape_error(c.t));
        goto restore;
    }
    c.r = r;

    double worst_ratio = -1;
    rep->passed = true;
    for (int i = 0; i < n_inputs; i++) {
        wg_param *p = inputs[i];
        double eps = p->dtype == WG_F32 ? FLT_EPSILON : DBL_EPSILON;
        for (size_t j = 0; j < p->numel; j++) {
            double x = param_get(p, p->data, j);
            double h = cbrt(eps) * fmax(fabs(x), 1.0);
            param_set(p, j, x + h);
            double xp = param_get(p, p->data, j);
            double fp = loss_at(&c);
            param_set(p, j, x - h);
            double xm = param_get(p, p->data, j);
            double fm = loss_at(&c);
            param_set(p, j, x);
            if (isnan(fp) && wg_tape_error(c.t)) {
                snprintf(rep->message, sizeof rep->message, "gradcheck: f failed: %s", wg_tape_error(c.t));
                rc = -1;
                goto restore;
            }
            double num = (fp - fm) / (xp - xm); /* the step actually taken in the dtype */
            double ana = param_get(p, p->grad, j);
            double err = fabs(ana - num);
            double scale = fmax(fabs(ana), fabs(num));
            double rel = scale > 0 ? err / scale : 0;
            double ratio = err / (atol + rtol * scale);
            if (!(err <= atol + rtol * scale)) rep->passed = false;
            if (isnan(err)) ratio = INFINITY;
            rep->n_checked++;
            if (err > rep->max_abs_err || isnan(err)) rep->max_abs_err = err;
            if (rel > rep->max_rel_err || isnan(rel)) rep->max_rel_err = rel;
            if (ratio > worst_ratio) {
                worst_ratio = ratio;
                rep->worst_input = i;
                rep->worst_index = j;
                rep->worst_analytic = ana;
                rep->worst_numeric = num;
            }
        }
    }
    snprintf(rep->message, sizeof rep->message,
             "gradcheck %s: %zu elements, max abs err %.3g, max rel err %.3g; worst at input %d [%zu]: "
             "analytic %.10g, numeric %.10g",
             rep->passed ? "passed" : "FAILED", rep->n_checked, rep->max_abs_err, rep->max_rel_err,
             rep->worst_input, rep->worst_index, rep->worst_analytic, rep->worst_numeric);
    rc = rep->passed ? 1 : 0;
restore:
    for (int i = 0; i < n_inputs; i++)
        if (saved_grad[i]) memcpy(inputs[i]->grad, saved_grad[i], inputs[i]->numel * wg_dtype_size(inputs[i]->dtype));
done:
    if (saved_grad)
        for (int i = 0; i < n_inputs; i++) free(saved_grad[i]);
    free(saved_grad);
    free(r);
    wg_tape_free(c.t);
    return rc;
}
