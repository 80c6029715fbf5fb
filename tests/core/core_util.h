/* core_util.h: helpers shared by the core's test programs.
 *
 * Random inputs come from one explicit wg_rng per program (seeded in main),
 * drawn from a few distributions chosen to keep every op away from its kinks:
 *
 *   FILL_NORMAL    N(0, 1)
 *   FILL_POS       uniform [0.5, 2]                (log, sqrt, pow bases)
 *   FILL_AWAY0     +-uniform [0.5, 2]              (divisors, abs, x^-1)
 *   FILL_HALF      k + uniform [0.35, 0.65], k in -3..2
 *   FILL_INT       k + uniform [-0.15, 0.15], k in -3..3
 *                  (a HALF value and an INT value differ by at least 0.2:
 *                   max/min never meet a tie, and both branches occur)
 *   FILL_DISTINCT  a shuffled ladder 0.1 * (i - n/2) + uniform [0, 0.01]:
 *                  all values at least 0.09 apart (max_axis has no near-ties)
 */
#ifndef CORE_UTIL_H
#define CORE_UTIL_H

#include <stdint.h>
#include <stdlib.h>

#include "wengert.h"

typedef enum { FILL_NORMAL, FILL_POS, FILL_AWAY0, FILL_HALF, FILL_INT, FILL_DISTINCT } fill_kind;

static wg_rng cu_rng;

static inline double cu_draw(fill_kind k)
{
    double u = wg_rng_uniform(&cu_rng);
    switch (k) {
    case FILL_POS: return 0.5 + 1.5 * u;
    case FILL_AWAY0: return (wg_rng_below(&cu_rng, 2) ? 1 : -1) * (0.5 + 1.5 * u);
    case FILL_HALF: return (double)((int)wg_rng_below(&cu_rng, 6) - 3) + 0.35 + 0.3 * u;
    case FILL_INT: return (double)((int)wg_rng_below(&cu_rng, 7) - 3) - 0.15 + 0.3 * u;
    default: return wg_rng_normal(&cu_rng);
    }
}

/* Fill n doubles from the distribution k. */
static inline void cu_fill(double *v, size_t n, fill_kind k)
{
    if (k != FILL_DISTINCT) {
        for (size_t i = 0; i < n; i++) v[i] = cu_draw(k);
        return;
    }
    for (size_t i = 0; i < n; i++) v[i] = 0.1 * ((double)i - (double)n / 2);
    for (size_t i = n; i > 1; i--) { /* Fisher-Yates */
        size_t j = (size_t)wg_rng_below(&cu_rng, i);
        double tmp = v[i - 1];
        v[i - 1] = v[j];
        v[j] = tmp;
    }
    for (size_t i = 0; i < n; i++) v[i] += 0.01 * wg_rng_uniform(&cu_rng);
}

static inline void cu_store(wg_dtype dt, void *dst, size_t i, double v)
{
    if (dt == WG_F32)
        ((float *)dst)[i] = (float)v;
    else
        ((double *)dst)[i] = v;
}

static inline double cu_load(wg_dtype dt, const void *src, size_t i)
{
    return dt == WG_F32 ? (double)((const float *)src)[i] : ((const double *)src)[i];
}

/* A parameter filled from k; NULL only on out of memory. */
static inline wg_param *cu_param(wg_dtype dt, int ndim, const int64_t *shape, fill_kind k)
{
    wg_param *p = wg_param_new(dt, ndim, shape);
    if (!p) return NULL;
    double *v = malloc((p->numel ? p->numel : 1) * sizeof *v);
    if (!v) {
        wg_param_free(p);
        return NULL;
    }
    cu_fill(v, p->numel, k);
    for (size_t i = 0; i < p->numel; i++) cu_store(dt, p->data, i, v[i]);
    free(v);
    return p;
}

/* A leaf on t holding v converted to dt (n = the shape's element count). */
static inline wg_tensor *cu_tensor(wg_tape *t, wg_dtype dt, int ndim, const int64_t *shape, const double *v,
                                   bool requires_grad)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    double *buf = malloc((n ? n : 1) * sizeof *buf); /* big enough for either dtype */
    if (!buf) return NULL;
    for (size_t i = 0; i < n; i++) cu_store(dt, buf, i, v[i]);
    wg_tensor *x = wg_tensor_new(t, dt, ndim, shape, buf, requires_grad);
    free(buf);
    return x;
}

/* One input of a checked function: its shape and how it is filled. */
typedef struct {
    int ndim;
    int64_t d[WG_MAX_DIMS];
    fill_kind fill;
} in_spec;

/* The operands of op(a) op(b) with op(a) [m,k] and op(b) [k,n], each 3-D
 * (batch first) when a3 / b3, stored transposed when ta / tb. */
static inline void cu_matmul_specs(int64_t m, int64_t k, int64_t n, int64_t batch, bool a3, bool b3, bool ta,
                                   bool tb, in_spec in[2])
{
    int i = 0;
    in[0] = in[1] = (in_spec){0, {0}, FILL_NORMAL};
    if (a3) in[0].d[i++] = batch;
    in[0].d[i++] = ta ? k : m;
    in[0].d[i++] = ta ? m : k;
    in[0].ndim = i;
    i = 0;
    if (b3) in[1].d[i++] = batch;
    in[1].d[i++] = tb ? n : k;
    in[1].d[i++] = tb ? k : n;
    in[1].ndim = i;
}

#endif
