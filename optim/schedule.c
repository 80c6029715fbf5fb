/* schedule.c: learning-rate schedules (lecture 004) and early stopping. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "wg_optim.h"

double wg_lr_at(const wg_lr_schedule *s, int64_t t)
{
    if (!s) return 0.0;
    if (t < 0) t = 0;
    switch (s->kind) {
    case WG_LR_CONSTANT: return s->lr0;
    case WG_LR_STEP: return s->lr0 * pow(s->gamma, (double)(s->step_size > 0 ? t / s->step_size : 0));
    case WG_LR_EXPONENTIAL: return s->lr0 * pow(s->gamma, (double)t);
    case WG_LR_INV_T: return s->t0 > 0 ? s->lr0 / (1.0 + (double)t / s->t0) : s->lr0;
    case WG_LR_COSINE: {
        if (s->t_max <= 0) return s->lr0;
        double u = (double)(t < s->t_max ? t : s->t_max) / (double)s->t_max;
        return s->lr_min + (s->lr0 - s->lr_min) * 0.5 * (1.0 + cos(3.14159265358979323846 * u));
    }
    }
    return s->lr0;
}

static size_t pbytes(const wg_param *p) { return p->numel * (p->dtype == WG_F32 ? sizeof(float) : sizeof(double)); }

void wg_early_stop_free(wg_early_stop *e)
{
    if (!e) return;
    for (size_t i = 0; e->best_data && i < e->n; i++) free(e->best_data[i]);
    free(e->best_data);
    free(e->params);
    free(e);
}

wg_early_stop *wg_early_stop_new(size_t n, wg_param *const *params, int patience, double min_delta)
{
    if ((n && !params) || patience < 1 || !(min_delta >= 0)) {
        wg_set_last_error("early_stop_new: need params, patience >= 1 and min_delta >= 0: patience %d, min_delta %g",
                          patience, min_delta);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (!params[i] || (params[i]->numel && !params[i]->data)) {
            wg_set_last_error("early_stop_new: params[%zu] is NULL or has no data", i);
            return NULL;
        }
    wg_early_stop *e = calloc(1, sizeof *e);
    if (!e) goto oom;
    e->patience = patience;
    e->min_delta = min_delta;
    e->best = INFINITY;
    e->best_epoch = -1;
    e->params = malloc(sizeof *e->params * (n ? n : 1));
    e->best_data = calloc(n ? n : 1, sizeof *e->best_data);
    if (!e->params || !e->best_data) goto oom;
    e->n = n;
    for (size_t i = 0; i < n; i++) {
        e->params[i] = params[i];
        if (!(e->best_data[i] = malloc(pbytes(params[i]) ? pbytes(params[i]) : 1))) goto oom;
    }
    return e;
oom:
    wg_early_stop_free(e);
    wg_set_last_error("early_stop_new: out of memory");
    return NULL;
}

bool wg_early_stop_update(wg_early_stop *e, double val_loss)
{
    if (!e) return true;
    int64_t epoch = e->epoch++;
    if (val_loss < e->best - e->min_delta) { /* false for NaN */
        e->best = val_loss;
        e->best_epoch = epoch;
        e->bad = 0;
        for (size_t i = 0; i < e->n; i++) memcpy(e->best_data[i], e->params[i]->data, pbytes(e->params[i]));
    } else {
        e->bad++;
    }
    if (e->bad >= e->patience) e->stop = true;
    return e->stop;
}

int wg_early_stop_restore(wg_early_stop *e)
{
    if (!e) {
        wg_set_last_error("early_stop_restore: invalid handle: NULL");
        return -1;
    }
    if (e->best_epoch < 0) return 0;
    for (size_t i = 0; i < e->n; i++) memcpy(e->params[i]->data, e->best_data[i], pbytes(e->params[i]));
    return 0;
}
