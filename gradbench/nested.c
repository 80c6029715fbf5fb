/* nested.c: GradBench's nested-AD evals, particle and saddle, each in its
 * four variants: the first letter is the AD mode of the outer derivative,
 * the second that of the inner one (r reverse, f forward), so
 *
 *   rr  reverse over reverse   rf  reverse over forward
 *   fr  forward over reverse   ff  forward over forward
 *
 * Both evals minimise by GradBench's gradient descent (the schedule all its
 * tools share; see argmin_outer) a function whose evaluation itself needs a
 * derivative (the inner one): particle's force is -grad_x p(x; w), saddle's
 * inner argmax climbs grad_p2 f(p1, p2).  The outer derivative differentiates
 * through those inner derivatives.  The scalar work is done on 2-element f64
 * tensors (one node per vector op).
 *
 * How each mode is done with wengert's higher-order API:
 *
 *   inner reverse  wg_grad_of on a leaf holding the point; under an outer
 *                  forward derivative the leaf carries the point's tangent
 *                  and the gradient is recorded (create_graph), so its
 *                  tangent is the forward-over-reverse derivative.
 *   inner forward  one JVP per coordinate: a fresh node equal to the point
 *                  (a reshape, so it stays connected to it) gets the unit
 *                  tangent, and the function's tangent is the partial
 *                  derivative; under an outer forward derivative that is
 *                  tangent level 1 (wg_set_tangent_at), nested in the
 *                  outer level 0: forward over forward.
 *   outer forward  one run per coordinate with a unit tangent on the
 *                  variable.  Forward mode needs no history, so the tape is
 *                  restarted at every Euler step / inner iteration: the live
 *                  values and their tangents are copied into new leaves
 *                  (restart), and the tape stays a few dozen nodes.
 *   outer reverse  the whole objective on one tape, then one numeric
 *                  backward (wg_grad_of).  Under it the inner reverse
 *                  gradient is an op of its own (a custom op, ig_op) that
 *                  computes the gradient on a second tape and whose VJP is
 *                  reverse over reverse there (create_graph, then the
 *                  gradient of <gy, grad>).  Why not wg_grad_of on the
 *                  outer tape: its recorded pass walks every earlier node
 *                  and propagates into the point's whole history (the point
 *                  depends on all earlier steps), so each inner gradient
 *                  would cost O(tape) nodes and the run O(steps^2).
 *
 * Values only (the descent's trial points) use the inner mode alone, with
 * the tape restarted as under an outer forward derivative.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gb.h"

enum { OUT_NONE, OUT_FWD, OUT_REV };

/* Guards against inputs that never converge (a NaN, a particle that never
 * comes down): an error instead of a run that does not end. */
#define MAX_EULER_STEPS 20000
#define MAX_ITERATIONS 5000000L /* descent iterations and Euler steps of one evaluation */

typedef struct nest nest;
/* An inner function h(z, th), z a 2-vector, th its parameters. */
typedef wg_tensor *(*inner_fn)(wg_tape *t, wg_tensor *z, wg_tensor *th);
/* An objective of the outer descent, from its variable v (a [n] leaf). */
typedef wg_tensor *(*outer_fn)(nest *c, wg_tensor *v);

struct nest {
    wg_tape *t;     /* the run's tape */
    int outer;      /* OUT_*: how the objective being run is differentiated */
    bool inner_fwd; /* the inner derivative in forward mode (else reverse) */
    bool outer_fwd; /* the variant's outer mode (used for the gradients) */
    inner_fn h;     /* the inner function */
    wg_tape *it;    /* ig_op's tape */
    wg_custom_op *op;
    long iters; /* descent iterations so far (MAX_ITERATIONS) */
    double const_v[4]; /* saddle's step 2: the argmin p1 */
    double in[2];   /* the input: particle's w, saddle's start */
    double out[4];  /* the output */
    int n_out;
    char *err; /* the job's message buffer */
    size_t err_len;
    bool failed; /* err is set */
};

static int failf(nest *c, const char *msg)
{
    if (!c->failed) snprintf(c->err, c->err_len, "%s", msg);
    c->failed = true;
    return -1;
}

static int tape_fail(nest *c, wg_tape *t)
{
    const char *e = wg_tape_error(t);
    return failf(c, e ? e : "a wengert op failed with no message");
}

static wg_tensor *vec2(wg_tape *t, const double *v, bool grad)
{
    return wg_tensor_new(t, WG_F64, 1, (int64_t[]){2}, v, grad);
}

/* ---- restarting the tape under forward mode ------------------------------- */

/* Under OUT_NONE and OUT_FWD: live[0..n) (each at most 4 numbers) into new
 * leaves on a reset tape, each with its level-0 tangent (OUT_FWD).  Under
 * OUT_REV nothing changes: reverse mode needs the history. */
static int restart(nest *c, int n, wg_tensor **live)
{
    if (c->outer == OUT_REV) return 0;
    enum { MAXL = 4 };
    double v[MAXL][4], tv[MAXL][4];
    int nd[MAXL];
    int64_t sh[MAXL][WG_MAX_DIMS];
    for (int i = 0; i < n; i++) {
        size_t m = wg_numel(live[i]);
        nd[i] = wg_ndim(live[i]);
        memcpy(sh[i], wg_shape(live[i]), (size_t)nd[i] * sizeof(int64_t));
        memcpy(v[i], wg_data(live[i]), m * sizeof(double));
        const wg_tensor *tg = c->outer == OUT_FWD ? wg_tangent(live[i]) : NULL;
        if (tg)
            memcpy(tv[i], wg_data(tg), m * sizeof(double));
        else
            memset(tv[i], 0, sizeof tv[i]);
    }
    wg_tape_reset(c->t);
    for (int i = 0; i < n; i++) {
        live[i] = wg_tensor_new(c->t, WG_F64, nd[i], sh[i], v[i], true);
        if (c->outer == OUT_FWD &&
            wg_set_tangent(c->t, live[i], wg_tensor_new(c->t, WG_F64, nd[i], sh[i], tv[i], false)) != 0)
            return tape_fail(c, c->t);
    }
    return live[n - 1] ? 0 : tape_fail(c, c->t);
}

/* ---- the inner gradient ---------------------------------------------------- */

/* ig_op: grad_z h(z, th) as one op, computed on c->it.  Its VJP is reverse
 * over reverse there: the gradient recorded (create_graph), then the
 * gradient of <gy, grad_z h> with respect to z and th. */
static int ig_forward(void *ctx, int n, wg_tensor *const *x, wg_tensor *y, void *ydata)
{
    (void)n, (void)y;
    nest *c = ctx;
    wg_tape *it = c->it;
    wg_tape_reset(it);
    wg_tensor *z = vec2(it, wg_data(x[0]), true);
    wg_tensor *th = wg_tensor_new(it, WG_F64, wg_ndim(x[1]), wg_shape(x[1]), wg_data(x[1]), false), *g;
    if (!th || wg_grad_of(it, c->h(it, z, th), NULL, 1, &z, &g, false) != 0) {
        wg_tape_fail(c->t, WG_ERR_ARG, "inner_grad: %s", wg_tape_error(it));
        return -1;
    }
    memcpy(ydata, wg_data(g), 2 * sizeof(double));
    return 0;
}

static void ig_vjp(void *ctx, int n, wg_tensor *const *x, const wg_tensor *y, const void *gy, void *const *gx)
{
    (void)n, (void)y;
    nest *c = ctx;
    wg_tape *it = c->it;
    wg_tape_reset(it);
    wg_tensor *in[2] = {vec2(it, wg_data(x[0]), true),
                        wg_tensor_new(it, WG_F64, wg_ndim(x[1]), wg_shape(x[1]), wg_data(x[1]), true)};
    wg_tensor *g, *d[2];
    if (!in[1] || wg_grad_of(it, c->h(it, in[0], in[1]), NULL, 1, in, &g, true) != 0 ||
        wg_grad_of(it, wg_sum(it, wg_mul(it, g, vec2(it, gy, false))), NULL, 2, in, d, false) != 0) {
        char m[400];
        snprintf(m, sizeof m, "inner_grad backward: %s", wg_tape_error(it));
        failf(c, m);
        return;
    }
    for (int i = 0; i < 2; i++) {
        if (!gx[i]) continue;
        double *dst = gx[i];
        const double *src = wg_data(d[i]);
        for (size_t e = 0; e < wg_numel(x[i]); e++) dst[e] += src[e];
    }
}

static wg_tensor *unit(wg_tape *t, int i) { return vec2(t, (double[2]){i == 0, i == 1}, false); }

/* grad_z h(z, th), a [2] node, by the inner mode (see the file comment). */
static wg_tensor *inner_grad(nest *c, wg_tensor *z, wg_tensor *th)
{
    wg_tape *t = c->t;
    if (!c->inner_fwd) {
        if (c->outer == OUT_REV) return wg_custom(t, c->op, 2, (wg_tensor *[]){z, th});
        wg_tensor *zl = vec2(t, wg_data(z), true), *g;
        if (!zl) return NULL;
        if (c->outer == OUT_FWD && wg_tangent(z) && wg_set_tangent(t, zl, wg_tangent(z)) != 0) return NULL;
        if (wg_grad_of(t, c->h(t, zl, th), NULL, 1, &zl, &g, c->outer == OUT_FWD) != 0) return NULL;
        return g;
    }
    /* Under an outer forward derivative (tangent level 0) the inner one is
     * level 1: the nodes computing its tangents carry level-0 tangents, so
     * the partial derivative it gives has the outer one as its tangent. */
    const int lv = c->outer == OUT_FWD;
    wg_tensor *gi[2];
    for (int i = 0; i < 2; i++) {
        wg_tensor *zc = wg_reshape(t, z, 1, (int64_t[]){2});
        if (!zc || wg_set_tangent_at(t, lv, zc, unit(t, i)) != 0) return NULL;
        wg_tensor *y = c->h(t, zc, th);
        if (!y) return NULL;
        wg_tensor *ty = wg_tangent_at(y, lv);
        gi[i] = wg_reshape(t, ty ? ty : wg_scalar(t, WG_F64, 0.0, false), 1, (int64_t[]){1});
    }
    return wg_concat(t, 2, gi, 0);
}

/* ---- GradBench's gradient descent ----------------------------------------------- */

static double dist2(const double *a, const double *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
    return sqrt(s);
}

static double mag(const double *a, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += a[i] * a[i];
    return sqrt(s);
}

static int count_iter(nest *c)
{
    if (++c->iters <= MAX_ITERATIONS) return 0;
    return failf(c, "no result after 5e6 descent iterations and Euler steps (the descent does not converge from "
                    "this input)");
}

/* The value of f at v[0..n) (n <= 2): the inner derivatives by the inner
 * mode, no outer derivative. */
static int obj_value(nest *c, outer_fn f, int n, const double *v, double *val)
{
    c->outer = OUT_NONE;
    wg_tape_reset(c->t);
    wg_tensor *y = f(c, wg_tensor_new(c->t, WG_F64, 1, (int64_t[]){n}, v, true));
    if (!y) return c->failed ? -1 : tape_fail(c, c->t);
    *val = wg_item(y);
    return 0;
}

/* The gradient of f at v by the variant's outer mode: one backward over the
 * whole run, or one forward run per coordinate. */
static int obj_grad(nest *c, outer_fn f, int n, const double *v, double *g)
{
    wg_tape *t = c->t;
    if (!c->outer_fwd) {
        c->outer = OUT_REV;
        wg_tape_reset(t);
        wg_tensor *x = wg_tensor_new(t, WG_F64, 1, (int64_t[]){n}, v, true), *gx;
        wg_tensor *y = f(c, x);
        if (!y) return c->failed ? -1 : tape_fail(c, t);
        if (wg_grad_of(t, y, NULL, 1, &x, &gx, false) != 0) return c->failed ? -1 : tape_fail(c, t);
        if (c->failed) return -1; /* an ig_op backward */
        memcpy(g, wg_data(gx), (size_t)n * sizeof(double));
        return 0;
    }
    c->outer = OUT_FWD;
    for (int i = 0; i < n; i++) {
        wg_tape_reset(t);
        double e[2] = {i == 0, i == 1};
        wg_tensor *x = wg_tensor_new(t, WG_F64, 1, (int64_t[]){n}, v, true);
        if (wg_set_tangent(t, x, wg_tensor_new(t, WG_F64, 1, (int64_t[]){n}, e, false)) != 0)
            return tape_fail(c, t);
        wg_tensor *y = f(c, x);
        if (!y) return c->failed ? -1 : tape_fail(c, t);
        const wg_tensor *ty = wg_tangent(y);
        g[i] = ty ? wg_item(ty) : 0.0;
    }
    return 0;
}

/* multivariate_argmin of f from x[0..n) (in place): eta starts at 1e-5; stop
 * when |g| <= 1e-5 or the proposed step is <= 1e-5; a step that lowers f is
 * taken, and after 10 of them in a row eta doubles (an iteration of its own);
 * a step that does not lower f halves eta. */
static int argmin_outer(nest *c, outer_fn f, int n, double *x)
{
    double fx, gx[2], xp[2], fxp, eta = 1e-5;
    int i = 0;
    if (obj_value(c, f, n, x, &fx) || obj_grad(c, f, n, x, gx)) return -1;
    for (;;) {
        if (count_iter(c)) return -1;
        if (mag(gx, n) <= 1e-5) return 0;
        if (i == 10) {
            eta *= 2;
            i = 0;
            continue;
        }
        for (int k = 0; k < n; k++) xp[k] = x[k] - eta * gx[k];
        if (dist2(x, xp, n) <= 1e-5) return 0;
        if (obj_value(c, f, n, xp, &fxp)) return -1;
        if (fxp < fx) {
            memcpy(x, xp, (size_t)n * sizeof *x);
            fx = fxp;
            if (obj_grad(c, f, n, x, gx)) return -1;
            i++;
        } else {
            eta /= 2;
            i = 0;
        }
    }
}

/* The same descent on the tape, of h(., th) from start: its iterates are
 * nodes, so the outer derivative sees through it.  *th is restarted with the
 * rest.  Returns the argmin (a [2] node). */
static wg_tensor *argmin_inner(nest *c, wg_tensor **th, const double *start)
{
    wg_tape *t = c->t;
    double eta = 1e-5;
    int i = 0;
    wg_tensor *x = vec2(t, start, false);
    wg_tensor *hx = x ? c->h(t, x, *th) : NULL;
    if (!hx) return NULL;
    double fx = wg_item(hx);
    wg_tensor *gx = inner_grad(c, x, *th);
    if (!gx) return NULL;
    for (;;) {
        if (count_iter(c)) return NULL;
        wg_tensor *live[3] = {*th, x, gx};
        if (restart(c, 3, live)) return NULL;
        *th = live[0], x = live[1], gx = live[2];
        const double *xv = wg_data(x), *gv = wg_data(gx);
        if (mag(gv, 2) <= 1e-5) return x;
        if (i == 10) {
            eta *= 2;
            i = 0;
            continue;
        }
        wg_tensor *xp = wg_sub(t, x, wg_mul(t, eta, gx));
        if (!xp) return NULL;
        if (dist2(xv, wg_data(xp), 2) <= 1e-5) return x;
        wg_tensor *hp = c->h(t, xp, *th);
        if (!hp) return NULL;
        double fxp = wg_item(hp);
        if (fxp < fx) {
            x = xp;
            fx = fxp;
            if (!(gx = inner_grad(c, x, *th))) return NULL;
            i++;
        } else {
            eta /= 2;
            i = 0;
        }
    }
}

/* ---- particle ----------------------------------------------------------------------
 * p(x; w) = 1/|x - (10, 10 - w)| + 1/|x - (10, 0)|.  The particle starts at
 * (0, 8) with velocity (0.75, 0); Euler steps of dt = 0.1 with acceleration
 * -grad_x p until the new position has y <= 0; the crossing is interpolated
 * linearly along the last step; the objective is its x coordinate squared,
 * minimised over w from the input's w. */

static wg_tensor *particle_p(wg_tape *t, wg_tensor *x, wg_tensor *w)
{
    wg_tensor *c1 = wg_concat(t, 2, (wg_tensor *[]){wg_full(t, WG_F64, 1, (int64_t[]){1}, 10.0), wg_sub(t, 10.0, w)}, 0);
    wg_tensor *c2 = vec2(t, (double[]){10.0, 0.0}, false);
    wg_tensor *r1 = wg_sqrt(t, wg_sum(t, wg_pow(t, wg_sub(t, x, c1), 2)));
    wg_tensor *r2 = wg_sqrt(t, wg_sum(t, wg_pow(t, wg_sub(t, x, c2), 2)));
    return wg_add(t, wg_div(t, 1.0, r1), wg_div(t, 1.0, r2));
}

static wg_tensor *at(wg_tape *t, wg_tensor *v, int i) { return wg_reshape(t, wg_slice(t, v, 0, i, i + 1), 0, NULL); }

/* naive_euler(w), w a [1] leaf. */
static wg_tensor *particle_obj(nest *c, wg_tensor *w)
{
    wg_tape *t = c->t;
    wg_tensor *x = vec2(t, (double[]){0.0, 8.0}, false), *xd = vec2(t, (double[]){0.75, 0.0}, false);
    for (int step = 0; step < MAX_EULER_STEPS; step++) {
        if (count_iter(c)) return NULL;
        wg_tensor *live[3] = {w, x, xd};
        if (restart(c, 3, live)) return NULL;
        w = live[0], x = live[1], xd = live[2];
        wg_tensor *xdd = wg_neg(t, inner_grad(c, x, w));
        wg_tensor *xn = wg_add(t, x, wg_mul(t, 0.1, xd));
        if (!xdd || !xn) return NULL;
        if (((const double *)wg_data(xn))[1] > 0) {
            x = xn;
            xd = wg_add(t, xd, wg_mul(t, 0.1, xdd));
            continue;
        }
        wg_tensor *dtf = wg_div(t, wg_neg(t, at(t, x, 1)), at(t, xd, 1));
        wg_tensor *x0 = at(t, wg_add(t, x, wg_mul(t, dtf, xd)), 0);
        return wg_mul(t, x0, x0);
    }
    char m[200];
    snprintf(m, sizeof m, "the particle did not reach y <= 0 within %d Euler steps (w = %.17g)", MAX_EULER_STEPS,
             ((const double *)wg_data(w))[0]);
    failf(c, m);
    return NULL;
}

/* ---- saddle --------------------------------------------------------------------------
 * f(p1, p2) = |p1|^2 - |p2|^2.  r1 = argmin over p1 of max over p2 of
 * f(p1, p2), the max by the inner descent (argmin of -f); r2 = argmax over
 * p2 of f(r1, p2) by the outer mode.  Every descent starts at the input's
 * start.  Output [r1, r2]. */

static wg_tensor *saddle_f(wg_tape *t, wg_tensor *p1, wg_tensor *p2)
{
    return wg_sub(t, wg_sum(t, wg_pow(t, p1, 2)), wg_sum(t, wg_pow(t, p2, 2)));
}

/* The inner function: -f(p1, p2) as a function of z = p2, th = p1. */
static wg_tensor *saddle_negf(wg_tape *t, wg_tensor *z, wg_tensor *th) { return wg_neg(t, saddle_f(t, th, z)); }

/* r1_cost(p1) = max over p2 of f(p1, p2) = f(p1, argmin of -f(p1, .)). */
static wg_tensor *saddle_r1_cost(nest *c, wg_tensor *p1)
{
    wg_tensor *p2 = argmin_inner(c, &p1, c->in);
    return p2 ? saddle_f(c->t, p1, p2) : NULL;
}

/* Step 2's objective: -f(r1, p2), r1 fixed (const_v). */
static wg_tensor *saddle_r2_cost(nest *c, wg_tensor *p2)
{
    return saddle_negf(c->t, p2, vec2(c->t, c->const_v, false));
}

/* ---- the jobs ---------------------------------------------------------------------- */

typedef struct {
    nest c;
    bool saddle;
} nested_st;

static int nested_run(gb_job *j, wg_tape *t)
{
    nested_st *s = j->st;
    nest *c = &s->c;
    c->t = t;
    c->iters = 0;
    c->failed = false;
    int rc;
    if (!s->saddle) {
        c->out[0] = c->in[0];
        rc = argmin_outer(c, particle_obj, 1, c->out);
    } else {
        double r1[2] = {c->in[0], c->in[1]}, r2[2] = {c->in[0], c->in[1]};
        rc = argmin_outer(c, saddle_r1_cost, 2, r1);
        memcpy(c->const_v, r1, sizeof r1);
        if (rc == 0) rc = argmin_outer(c, saddle_r2_cost, 2, r2);
        memcpy(c->out, r1, sizeof r1);
        memcpy(c->out + 2, r2, sizeof r2);
    }
    wg_tape_reset(t); /* no node of ig_op outlives the run */
    return rc;
}

static void nested_write(gb_job *j, gb_out *o)
{
    nested_st *s = j->st;
    if (s->saddle)
        gb_nums(o, s->c.out, 4);
    else
        gb_num(o, s->c.out[0]);
}

static void nested_free(gb_job *j)
{
    nested_st *s = j->st;
    if (!s) return;
    if (s->c.it) wg_tape_free(s->c.it);
    if (s->c.op) wg_custom_free(s->c.op);
    free(s);
    j->st = NULL;
}

static int nested_prepare(const char *mod, const char *fn, const cJSON *in, gb_job *j, bool saddle)
{
    if (strlen(fn) != 2 || !strchr("rf", fn[0]) || !strchr("rf", fn[1])) {
        snprintf(j->err, sizeof j->err, "unknown function (%s has rr, rf, fr, ff)", mod);
        return -1;
    }
    nested_st *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(j->err, sizeof j->err, "out of memory");
        return -1;
    }
    j->st = s;
    j->free = nested_free;
    s->saddle = saddle;
    nest *c = &s->c;
    c->outer_fwd = fn[0] == 'f';
    c->inner_fwd = fn[1] == 'f';
    c->h = saddle ? saddle_negf : particle_p;
    c->err = j->err;
    c->err_len = sizeof j->err;
    const char *field = saddle ? "start" : "w";
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(in, field);
    if (!saddle) {
        if (!cJSON_IsNumber(f)) {
            snprintf(j->err, sizeof j->err, f ? "input.w must be a number" : "input has no field \"w\"");
            return -1;
        }
        c->in[0] = f->valuedouble;
    } else {
        if (!cJSON_IsArray(f) || cJSON_GetArraySize(f) != 2 || !cJSON_IsNumber(f->child) ||
            !cJSON_IsNumber(f->child->next)) {
            snprintf(j->err, sizeof j->err,
                     f ? "input.start must be an array of 2 numbers" : "input has no field \"start\"");
            return -1;
        }
        c->in[0] = f->child->valuedouble;
        c->in[1] = f->child->next->valuedouble;
    }
    if (!c->outer_fwd && !c->inner_fwd) {
        c->it = wg_tape_new();
        c->op = wg_custom_register(&(wg_custom_def){
                .name = "inner_grad", .n_inputs = 2, .forward = ig_forward, .vjp = ig_vjp, .ctx = c});
        if (!c->it || !c->op) {
            snprintf(j->err, sizeof j->err, "cannot set up the inner gradient: %s",
                     c->it ? wg_last_error() : "out of memory for a tape");
            return -1;
        }
    }
    j->run = nested_run;
    j->write = nested_write;
    return 0;
}

int gb_particle_prepare(const char *fn, const cJSON *in, gb_job *j) { return nested_prepare("particle", fn, in, j, false); }
int gb_saddle_prepare(const char *fn, const cJSON *in, gb_job *j) { return nested_prepare("saddle", fn, in, j, true); }
