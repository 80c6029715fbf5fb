/* init.c: parameter initialisers.  All randomness comes from the caller's
 * wg_rng (xoshiro256**, normals by Box-Muller), so one seed gives one stream
 * of numbers on every run and machine. */
#include <math.h>
#include <string.h>

#include "wg_nn.h"

static int param_ok(const char *fn, const wg_param *p, const wg_rng *r, bool need_rng)
{
    if (!p) {
        wg_set_last_error("%s: invalid handle: the parameter is NULL", fn);
        return 0;
    }
    if (p->numel && !p->data) {
        wg_set_last_error("%s: the parameter has no data", fn);
        return 0;
    }
    if (need_rng && !r) {
        wg_set_last_error("%s: invalid handle: the rng is NULL", fn);
        return 0;
    }
    return 1;
}

static void put(wg_param *p, size_t i, double v)
{
    if (p->dtype == WG_F32)
        ((float *)p->data)[i] = (float)v;
    else
        ((double *)p->data)[i] = v;
}

int wg_init_constant(wg_param *p, double v)
{
    if (!param_ok("init_constant", p, NULL, false)) return -1;
    for (size_t i = 0; i < p->numel; i++) put(p, i, v);
    return 0;
}

int wg_init_normal(wg_param *p, double sigma, wg_rng *r)
{
    if (!param_ok("init_normal", p, r, true)) return -1;
    if (!(sigma >= 0) || isinf(sigma)) {
        wg_set_last_error("init_normal: sigma must be finite and >= 0: got %g", sigma);
        return -1;
    }
    for (size_t i = 0; i < p->numel; i++) put(p, i, sigma * wg_rng_normal(r));
    return 0;
}

int wg_init_uniform(wg_param *p, double a, wg_rng *r)
{
    if (!param_ok("init_uniform", p, r, true)) return -1;
    if (!(a >= 0) || isinf(a)) {
        wg_set_last_error("init_uniform: the bound must be finite and >= 0: got %g", a);
        return -1;
    }
    for (size_t i = 0; i < p->numel; i++) put(p, i, a * (2.0 * wg_rng_uniform(r) - 1.0));
    return 0;
}

static int fan_in_ok(const char *fn, int64_t fan_in)
{
    if (fan_in < 1) {
        wg_set_last_error("%s: fan_in must be >= 1: got %lld", fn, (long long)fan_in);
        return 0;
    }
    return 1;
}

int wg_init_xavier_normal(wg_param *p, int64_t fan_in, wg_rng *r)
{
    if (!param_ok("init_xavier_normal", p, r, true) || !fan_in_ok("init_xavier_normal", fan_in)) return -1;
    return wg_init_normal(p, sqrt(1.0 / (double)fan_in), r);
}

int wg_init_xavier_uniform(wg_param *p, int64_t fan_in, wg_rng *r)
{
    if (!param_ok("init_xavier_uniform", p, r, true) || !fan_in_ok("init_xavier_uniform", fan_in)) return -1;
    return wg_init_uniform(p, sqrt(3.0 / (double)fan_in), r); /* U(-a,a) has variance a^2/3 */
}

int wg_init_he_normal(wg_param *p, int64_t fan_in, wg_rng *r)
{
    if (!param_ok("init_he_normal", p, r, true) || !fan_in_ok("init_he_normal", fan_in)) return -1;
    return wg_init_normal(p, sqrt(2.0 / (double)fan_in), r);
}

static const char *const init_names[] = {"zero",   "constant", "normal",         "small",
                                         "large",  "xavier",   "xavier_uniform", "he"};

const char *wg_init_name(wg_init scheme)
{
    return (unsigned)scheme < sizeof init_names / sizeof *init_names ? init_names[scheme] : "unknown";
}

int wg_init_from_name(const char *name)
{
    if (!name) return -1;
    for (size_t i = 0; i < sizeof init_names / sizeof *init_names; i++)
        if (strcmp(name, init_names[i]) == 0) return (int)i;
    return -1;
}

int wg_init_param(wg_param *w, wg_init scheme, double arg, int64_t fan_in, wg_rng *r)
{
    switch (scheme) {
    case WG_INIT_ZERO: return wg_init_constant(w, 0.0);
    case WG_INIT_CONSTANT: return wg_init_constant(w, arg);
    case WG_INIT_NORMAL: return wg_init_normal(w, arg, r);
    case WG_INIT_SMALL: return wg_init_normal(w, 0.01, r);
    case WG_INIT_LARGE: return wg_init_normal(w, 0.2, r);
    case WG_INIT_XAVIER: return wg_init_xavier_normal(w, fan_in, r);
    case WG_INIT_XAVIER_UNIFORM: return wg_init_xavier_uniform(w, fan_in, r);
    case WG_INIT_HE: return wg_init_he_normal(w, fan_in, r);
    }
    wg_set_last_error("init: unknown scheme %d", (int)scheme);
    return -1;
}
