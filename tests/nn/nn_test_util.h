/* nn_test_util.h: helpers shared by the nn tests. */
#ifndef NN_TEST_UTIL_H
#define NN_TEST_UTIL_H

#include <stdlib.h>

#include "wengert.h"
#include "wg_test.h"

/* A parameter of dtype dt and the given shape, filled from vals (as doubles). */
static inline wg_param *param_from(wg_dtype dt, int ndim, const int64_t *shape, const double *vals)
{
    wg_param *p = wg_param_new(dt, ndim, shape);
    if (!p) return NULL;
    for (size_t i = 0; i < p->numel; i++) {
        if (dt == WG_F32)
            ((float *)p->data)[i] = (float)vals[i];
        else
            ((double *)p->data)[i] = vals[i];
    }
    return p;
}

static inline wg_param *param_vec(const double *vals, int64_t n)
{
    return param_from(WG_F64, 1, &n, vals);
}

/* Random normal values * scale into a fresh f64 parameter. */
static inline wg_param *param_randn(wg_rng *r, int ndim, const int64_t *shape, double scale)
{
    wg_param *p = wg_param_new(WG_F64, ndim, shape);
    if (!p) return NULL;
    for (size_t i = 0; i < p->numel; i++) ((double *)p->data)[i] = scale * wg_rng_normal(r);
    return p;
}

/* Gradcheck f over the inputs in f64 (default tolerances) and CHECK it passed. */
#define GRADCHECK(label, f, ctx, n, ins)                                                      \
    do {                                                                                      \
        wg_gradcheck_report rep_;                                                             \
        int rc_ = wg_gradcheck((f), (ctx), (n), (ins), NULL, &rep_);                          \
        CHECK(rc_ == 1, "%s: %s", (label), rep_.message);                                     \
        CHECK(rep_.n_checked > 0, "%s: nothing checked", (label));                            \
    } while (0)

#endif
