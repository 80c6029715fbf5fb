/* evals.c: GradBench's evals as wengert programs, all in f64.
 *
 * Each eval parses its input once (not timed), then `run` records the
 * function on the tape (reset first, so no malloc after the first run) and,
 * for a derivative, runs backward; `write` prints the output.  The primal is
 * the same recording without the backward pass, so derivative/primal is the
 * cost of the tape's reverse sweep.  Which representation each uses, and why,
 * is said at each eval: tensor ops where the program is vectorisable (each op
 * then costs one node for many numbers), the scalar tape where it is not.
 *
 * Inputs are checked against the types of evals/<name>/README.md (and what
 * GradBench's evals actually send, see the comments); any mismatch is an
 * error naming the field, never a crash.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gb.h"

#define PI 3.14159265358979323846

/* ---- input parsing ---------------------------------------------------------- */

static int need(gb_job *j, const cJSON *in, const char *name, const cJSON **f)
{
    *f = cJSON_GetObjectItemCaseSensitive(in, name);
    if (!*f) {
        snprintf(j->err, sizeof j->err, "input has no field \"%s\"", name);
        return -1;
    }
    return 0;
}

static int get_num(gb_job *j, const cJSON *in, const char *name, double *v)
{
    const cJSON *f;
    if (need(j, in, name, &f)) return -1;
    if (!cJSON_IsNumber(f)) {
        snprintf(j->err, sizeof j->err, "input.%s must be a number", name);
        return -1;
    }
    *v = f->valuedouble;
    return 0;
}

static int get_int(gb_job *j, const cJSON *in, const char *name, long lo, long hi, long *v)
{
    double d;
    if (get_num(j, in, name, &d)) return -1;
    if (d != floor(d) || d < (double)lo || d > (double)hi) {
        snprintf(j->err, sizeof j->err, "input.%s must be an integer in [%ld, %ld], got %g", name, lo, hi, d);
        return -1;
    }
    *v = (long)d;
    return 0;
}

/* A flat array of numbers; want < 0 accepts any length >= 1.  *out is malloc'd. */
static int get_vec(gb_job *j, const cJSON *in, const char *name, long want, double **out, long *len)
{
    const cJSON *f;
    *out = NULL;
    if (need(j, in, name, &f)) return -1;
    if (!cJSON_IsArray(f)) {
        snprintf(j->err, sizeof j->err, "input.%s must be an array of numbers", name);
        return -1;
    }
    long n = cJSON_GetArraySize(f);
    if ((want >= 0 && n != want) || (want < 0 && n < 1)) {
        snprintf(j->err, sizeof j->err, "input.%s has %ld numbers, expected %s%ld", name, n,
                 want < 0 ? "at least " : "", want < 0 ? 1L : want);
        return -1;
    }
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    if (!v) {
        snprintf(j->err, sizeof j->err, "out of memory for input.%s", name);
        return -1;
    }
    long i = 0;
    for (const cJSON *e = f->child; e; e = e->next, i++) {
        if (!cJSON_IsNumber(e)) {
            snprintf(j->err, sizeof j->err, "input.%s[%ld] is not a number", name, i);
            free(v);
            return -1;
        }
        v[i] = e->valuedouble;
    }
    *out = v;
    if (len) *len = n;
    return 0;
}

/* An array of rows of numbers, row-major into *out (malloc'd).  rows/cols < 0
 * accept any count (then returned); every row must have the same length. */
static int get_mat(gb_job *j, const cJSON *in, const char *name, long rows, long cols, double **out, long *r_out,
                   long *c_out)
{
    const cJSON *f;
    *out = NULL;
    if (need(j, in, name, &f)) return -1;
    if (!cJSON_IsArray(f)) {
        snprintf(j->err, sizeof j->err, "input.%s must be an array of arrays of numbers", name);
        return -1;
    }
    long r = cJSON_GetArraySize(f);
    if ((rows >= 0 && r != rows) || r < 1) {
        snprintf(j->err, sizeof j->err, "input.%s has %ld rows, expected %ld", name, r, rows >= 0 ? rows : 1L);
        return -1;
    }
    const cJSON *r0 = f->child;
    long c = cJSON_IsArray(r0) ? cJSON_GetArraySize(r0) : -1;
    if (cols >= 0 && c != cols) {
        snprintf(j->err, sizeof j->err, "input.%s[0] has %ld numbers, expected %ld", name, c, cols);
        return -1;
    }
    if (c < 0 || (double)r * (double)c > 1e9) {
        snprintf(j->err, sizeof j->err, "input.%s must be an array of arrays of numbers", name);
        return -1;
    }
    double *v = malloc((size_t)(r * c > 0 ? r * c : 1) * sizeof *v);
    if (!v) {
        snprintf(j->err, sizeof j->err, "out of memory for input.%s", name);
        return -1;
    }
    long i = 0;
    for (const cJSON *row = f->child; row; row = row->next, i++) {
        if (!cJSON_IsArray(row) || cJSON_GetArraySize(row) != c) {
            snprintf(j->err, sizeof j->err, "input.%s[%ld] is not an array of %ld numbers", name, i, c);
            free(v);
            return -1;
        }
        long k = 0;
        for (const cJSON *e = row->child; e; e = e->next, k++) {
            if (!cJSON_IsNumber(e)) {
                snprintf(j->err, sizeof j->err, "input.%s[%ld][%ld] is not a number", name, i, k);
                free(v);
                return -1;
            }
            v[i * c + k] = e->valuedouble;
        }
    }
    *out = v;
    if (r_out) *r_out = r;
    if (c_out) *c_out = c;
    return 0;
}

/* The tape's error into the job: a run that fails reports it. */
static int tape_failed(gb_job *j, wg_tape *t)
{
    const char *e = wg_tape_error(t);
    snprintf(j->err, sizeof j->err, "%s", e ? e : "a wengert op failed with no message");
    return -1;
}

static void copy_grad(double *dst, const wg_tensor *x, size_t n)
{
    const double *g = wg_grad(x);
    if (g)
        memcpy(dst, g, n * sizeof *dst);
    else
        memset(dst, 0, n * sizeof *dst);
}

static wg_tensor *leaf(wg_tape *t, int ndim, const int64_t *shape, const double *data, bool grad)
{
    return wg_tensor_new(t, WG_F64, ndim, shape, data, grad);
}

static wg_tensor *view(wg_tape *t, int ndim, const int64_t *shape, const double *data)
{
    return wg_tensor_view(t, WG_F64, ndim, shape, data);
}

/* log(sum(exp(x))) along `axis`: wengert's fused op (the max shifted out;
 * the gradient is the softmax, one pass over x). */
static wg_tensor *logsumexp(wg_tape *t, wg_tensor *x, int axis, bool keepdim)
{
    return wg_logsumexp(t, x, axis, keepdim);
}

/* A generic state: the parsed arrays and the output. */
typedef struct {
    bool grad;
    long n, m, s, d, k, l, c, b, p;
    double gamma, wishart_m, w;
    double *x, *a, *b2, *c2, *e; /* inputs (meaning per eval) */
    double *out;                 /* output numbers */
    size_t n_out;
    double val;
    double *work, *work2, *work3; /* per-eval scratch */
    void *ptrs;                   /* per-eval handle arrays */
} st_t;

static void st_free(gb_job *j)
{
    st_t *s = j->st;
    if (!s) return;
    free(s->x);
    free(s->a);
    free(s->b2);
    free(s->c2);
    free(s->e);
    free(s->out);
    free(s->work);
    free(s->work2);
    free(s->work3);
    free(s->ptrs);
    free(s);
    j->st = NULL;
}

static st_t *st_new(gb_job *j, bool grad)
{
    st_t *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(j->err, sizeof j->err, "out of memory");
        return NULL;
    }
    s->grad = grad;
    j->st = s;
    j->free = st_free;
    return s;
}

static int alloc_out(gb_job *j, st_t *s, size_t n)
{
    s->n_out = n;
    s->out = calloc(n ? n : 1, sizeof *s->out);
    if (!s->out) {
        snprintf(j->err, sizeof j->err, "out of memory for the output (%zu numbers)", n);
        return -1;
    }
    return 0;
}

static void write_val(gb_job *j, gb_out *o) { gb_num(o, ((st_t *)j->st)->val); }
static void write_vec(gb_job *j, gb_out *o)
{
    st_t *s = j->st;
    gb_nums(o, s->out, s->n_out);
}
static void write_val_or_vec(gb_job *j, gb_out *o)
{
    st_t *s = j->st;
    if (s->grad)
        write_vec(j, o);
    else
        write_val(j, o);
}

/* ---- hello: f(x) = x^2 on the scalar tape; "double" is its gradient 2x ------ */

static int hello_run(gb_job *j, wg_tape *t)
{
    st_t *s = j->st;
    wg_tape_reset(t);
    wg_tensor *x = wg_var(t, s->x[0]);
    wg_tensor *y = wg_mul(t, x, x);
    if (!y) return tape_failed(j, t);
    if (s->grad) {
        if (wg_backward(t, y) != 0) return tape_failed(j, t);
        s->val = wg_grad_item(x);
    } else {
        s->val = wg_item(y);
    }
    return 0;
}

static int hello_prepare(const char *fn, const cJSON *in, gb_job *j)
{
    bool grad = strcmp(fn, "double") == 0;
    if (!grad && strcmp(fn, "square") != 0) {
        snprintf(j->err, sizeof j->err, "unknown function (hello has square, double)");
        return -1;
    }
    st_t *s = st_new(j, grad);
    if (!s) return -1;
    s->x = malloc(sizeof *s->x);
    if (!s->x) return snprintf(j->err, sizeof j->err, "out of memory"), -1;
    if (cJSON_IsNumber(in)) {
        s->x[0] = in->valuedouble;
    } else {
        snprintf(j->err, sizeof j->err, "input must be a number");
        return -1;
    }
    j->run = hello_run;
    j->write = write_val;
    return 0;
}

/* ---- lse: a + log sum exp(x - a), a = max x.  Tensor ops: one fused node for any n. */

static int lse_run(gb_job *j, wg_tape *t)
{
    st_t *s = j->st;
    wg_tape_reset(t);
    wg_tensor *x = leaf(t, 1, (int64_t[]){s->n}, s->x, s->grad);
    wg_tensor *y = logsumexp(t, x, 0, false);
    if (!y) return tape_failed(j, t);
    if (s->grad) {
        if (wg_backward(t, y) != 0) return tape_failed(j, t);
        copy_grad(s->out, x, (size_t)s->n);
    } else {
        s->val = wg_item(y);
    }
    return 0;
}

static bool pick(gb_job *j, const char *fn, const char *primal, const char *deriv, const char *mod, bool *grad)
{
    *grad = strcmp(fn, deriv) == 0;
    if (*grad || strcmp(fn, primal) == 0) return true;
    snprintf(j->err, sizeof j->err, "unknown function (%s has %s, %s)", mod, primal, deriv);
    return false;
}

static int lse_prepare(const char *fn, const cJSON *in, gb_job *j)
{
    bool grad;
    if (!pick(j, fn, "primal", "gradient", "lse", &grad)) return -1;
    st_t *s = st_new(j, grad);
    if (!s || get_vec(j, in, "x", -1, &s->x, &s->n)) return -1;
    if (grad && alloc_out(j, s, (size_t)s->n)) return -1;
    j->run = lse_run;
    j->write = write_val_or_vec;
    return 0;
}

/* ---- llsq: y(x) = 1/2 sum_i (s_i - sum_j x_j t_i^j)^2, t_i = -1 + 2i/(n-1),
 * s_i = sign(t_i).  Tensor ops: the powers t_i^j are a constant [n,m] matrix
 * (built in each run, as the other tools do), so y = 1/2 |s - T x|^2 is one
 * GEMV and three elementwise nodes. */

static int llsq_run(gb_job *j, wg_tape *t)
{
    st_t *s = j->st;
    long n = s->n, m = s->m;
    double *T = s->work, *sv = s->work2;
    for (long i = 0; i < n; i++) {
        double ti = -1.0 + (double)i * 2.0 / (double)(n - 1);
        sv[i] = ti > 0 ? 1.0 : ti < 0 ? -1.0 : 0.0;
        double p = 1.0;
        for (long q = 0; q < m; q++) {
            T[i * m + q] = p;
            p *= ti;
        }
    }
    wg_tape_reset(t);
    wg_tensor *x = leaf(t, 2, (int64_t[]){m, 1}, s->x, s->grad);
    wg_tensor *r = wg_sub(t, view(t, 2, (int64_t[]){n, 1}, sv), wg_matmul(t, view(t, 2, (int64_t[]){n, m}, T), x));
    wg_tensor *y = wg_mul(t, 0.5, wg_sum(t, wg_pow(t, r, 2)));
    if (!y) return tape_failed(j, t);
    if (s->grad) {
        if (wg_backward(t, y) != 0) return tape_failed(j, t);
        copy_grad(s->out, x, (size_t)m);
    } else {
        s->val = wg_item(y);
    }
    return 0;
}

static int llsq_prepare(const char *fn, const cJSON *in, gb_job *j)
{
    bool grad;
    if (!pick(j, fn, "primal", "gradient", "llsq", &grad)) return -1;
    st_t *s = st_new(j, grad);
    if (!s || get_vec(j, in, "x", -1, &s->x, &s->m) || get_int(j, in, "n", 2, 100000000, &s->n)) return -1;
    if ((double)s->n * (double)s->m > 1e8) {
        snprintf(j->err, sizeof j->err, "n*m = %ld*%ld is too large", s->n, s->m);
        return -1;
    }
    s->work = malloc((size_t)(s->n * s->m) * sizeof(double));
    s->work2 = malloc((size_t)s->n * sizeof(double));
    if (!s->work || !s->work2) return snprintf(j->err, sizeof j->err, "out of memory"), -1;
    if (grad && alloc_out(j, s, (size_t)s->m)) return -1;
    j->run = llsq_run;
    j->write = write_val_or_vec;
    return 0;
}

/* ---- det: the determinant by expansion by minors, on the scalar tape.
 *
 * Expansion along the rows from the bottom: the minor of the last k rows and
 * the column set S is  D(S) = sum_{j in S} (-1)^{pos of j in S} A[ell-k, j] D(S\j).
 * The plain recursion evaluates the same minor many times (ell! products);
 * here each distinct minor is recorded once, indexed by the bitmask of S, so
 * the tape has about ell 2^ell nodes (22,000 at ell = 11, not 10^8).  Same
 * cofactor expansion, same value and gradient up to rounding; but an
 * O(ell 2^ell) program, not the O(ell!) one the C++ tools run, so compare
 * wengert's det with other tools by derivative/primal ratio, not by time.
 * bench/ runs this same algorithm in PyTorch and ADOL-C.  Scalar tape: the
 * work is scalar-shaped (each minor is a short dot product of other minors). */

#define DET_MAX 16 /* 2^16 minors, 1M nodes; GradBench's largest ell is 11 */

static int det_run(gb_job *j, wg_tape *t)
{
    st_t *s = j->st;
    long l = s->l;
    wg_tensor **a = s->ptrs, **D = a + l * l;
    wg_tape_reset(t);
    for (long i = 0; i < l * l; i++) a[i] = wg_scalar(t, WG_F64, s->x[i], s->grad);
    uint32_t full = (1u << l) - 1;
    for (uint32_t mask = 1; mask <= full; mask++) {
        int k = __builtin_popcount(mask);
        long row = l - k;
        if (k == 1) {
            D[mask] = a[row * l + __builtin_ctz(mask)];
            continue;
        }
        wg_tensor *acc = NULL;
        int pos = 0;
        for (uint32_t rest = mask; rest; rest &= rest - 1, pos++) {
            int col = __builtin_ctz(rest);
            wg_tensor *term = wg_mul(t, a[row * l + col], D[mask & ~(1u << col)]);
            if (!acc)
                acc = term; /* pos 0: sign + */
            else
                acc = (pos & 1) ? wg_sub(t, acc, term) : wg_add(t, acc, term);
        }
        D[mask] = acc;
    }
    wg_tensor *y = D[full];
    if (!y) return tape_failed(j, t);
    if (s->grad) {
        if (wg_backward(t, y) != 0) return tape_failed(j, t);
        for (long i = 0; i < l * l; i++) s->out[i] = wg_grad_item(a[i]);
    } else {
        s->val = wg_item(y);
    }
    return 0;
}

static int det_prepare(const char *fn, const cJSON *in, gb_job *j)
{
    bool grad;
    if (!pick(j, fn, "primal", "gradient", "det", &grad)) return -1;
    st_t *s = st_new(j, grad);
    if (!s || get_int(j, in, "ell", 1, DET_MAX, &s->l) || get_vec(j, in, "A", s->l * s->l, &s->x, NULL)) return -1;
    s->ptrs = calloc((size_t)(s->l * s->l) + ((size_t)1 << s->l), sizeof(wg_tensor *));
    if (!s->ptrs) return snprintf(j->err, sizeof j->err, "out of memory"), -1;
    if (grad && alloc_out(j, s, (size_t)(s->l * s->l))) return -1;
    j->run = det_run;
    j->write = write_val_or_vec;
    return 0;
}

/* ---- ode: y' = f(y) with f_0 = x_0, f_i = x_i y_{i-1}, y(0) = 0, classic RK4
 * from t = 0 to 2 in s steps (what GradBench's tools compute; the README's
 * sum is not what they do).  The gradient is that of y_{n-1}(2) through the
 * RK4 steps.  Tensor ops over the n components: f(v) = x * [1, v_0..v_{n-2}]
 * is a slice, a concat and a multiply; the steps' y + c k are fused axpy
 * nodes; one step is 19 nodes of n numbers. */

static wg_tensor *ode_f(wg_tape *t, wg_tensor *x, wg_tensor *one, wg_tensor *v, long n)
{
    if (n == 1) return x;
    wg_tensor *parts[2] = {one, wg_slice(t, v, 0, 0, n - 1)};
    return wg_mul(t, x, wg_concat(t, 2, parts, 0));
}

static int ode_run(gb_job *j, wg_tape *t)
{
    st_t *s = j->st;
    long n = s->n;
    double h = 2.0 / (double)s->s;
    wg_tape_reset(t);
    wg_tensor *x = leaf(t, 1, (int64_t[]){n}, s->x, s->grad);
    wg_tensor *one = wg_full(t, WG_F64, 1, (int64_t[]){1}, 1.0);
    wg_tensor *y = wg_full(t, WG_F64, 1, (int64_t[]){n}, 0.0);
    for (long step = 0; step < s->s; step++) {
        wg_tensor *k1 = ode_f(t, x, one, y, n);
        wg_tensor *k2 = ode_f(t, x, one, wg_axpy(t, h / 2, k1, y), n);
        wg_tensor *k3 = ode_f(t, x, one, wg_axpy(t, h / 2, k2, y), n);
        wg_tensor *k4 = ode_f(t, x, one, wg_axpy(t, h, k3, y), n);
        wg_tensor *sum = wg_add(t, wg_axpy(t, 2, k3, wg_axpy(t, 2, k2, k1)), k4);
        y = wg_axpy(t, h / 6, sum, y);
    }
    if (!y) return tape_failed(j, t);
    if (s->grad) {
        wg_tensor *last = wg_slice(t, y, 0, n - 1, n);
        if (!last || wg_backward(t, last) != 0) return tape_failed(j, t);
        copy_grad(s->out, x, (size_t)n);
    } else {
        memcpy(s->out, wg_data(y), (size_t)n * sizeof(double));
    }
    return 0;
}

static int ode_prepare(const char *fn, const cJSON *in, gb_job *j)
{
    bool grad;
    if (!pick(j, fn, "primal", "gradient", "ode", &grad)) return -1;
    st_t *s = st_new(j, grad);
    if (!s || get_vec(j, in, "x", -1, &s->x, &s->n) || get_int(j, in, "s", 1, 10000000, &s->s)) return -1;
    if ((double)s->n * (double)s->s > 2e7) { /* 19 nodes of n numbers a step, kept for backward: 6 GB here */
        snprintf(j->err, sizeof j->err, "n*s = %ld*%ld is too large for the tape (at most 2e7)", s->n, s->s);
        return -1;
    }
    if (alloc_out(j, s, (size_t)s->n)) return -1;
    j->run = ode_run;
    j->write = write_vec;
    return 0;
}

/* ---- gmm: the log-posterior of a Gaussian mixture (ADBench's objective).
 * Tensor ops, batched over components and points:
 *   Q_k = diag(exp q_k) + strictly-lower part filled column by column from l_k;
 *   U = Q^T is built row by row (row i of U is column i of Q: i zeros,
 *   exp q_ki, then l_k's i-th column block), so Q_k (x_n - mu_k) is row n of
 *   X U_k - mu_k U_k: one GEMM [N,D] x [K,D,D] with X shared by the batch.
 *   err = -N D/2 log 2pi + sum_n logsumexp_k(alpha_k + sum q_k - |Q_k(x_n-mu_k)|^2/2)
 *         - N logsumexp(alpha) + Wishart prior.
 * About 4D + 30 nodes in all, whatever N and K. */

static double log_gamma_distrib(double a, long p)
{
    double out = 0.25 * (double)p * (double)(p - 1) * log(PI);
    for (long jj = 1; jj <= p; jj++) out += lgamma(a + 0.5 * (double)(1 - jj));
    return out;
}

static int gmm_run(gb_job *j, wg_tape *t)
{
    st_t *s = j->st;
    long d = s->d, k = s->k, n = s->n, L = d * (d - 1) / 2;
    wg_tape_reset(t);
    wg_tensor *alpha = leaf(t, 1, (int64_t[]){k}, s->a, s->grad);
    wg_tensor *mu = leaf(t, 2, (int64_t[]){k, d}, s->b2, s->grad);
    wg_tensor *q = leaf(t, 2, (int64_t[]){k, d}, s->c2, s->grad);
    wg_tensor *l = leaf(t, 2, (int64_t[]){k, L}, s->e, s->grad);
    wg_tensor *x = view(t, 2, (int64_t[]){n, d}, s->x);
    wg_tensor *qd = wg_exp(t, q);
    wg_tensor *sum_q = wg_sum_axis(t, q, 1, true); /* [k,1] */
    wg_tensor **rows = s->ptrs;
    long off = 0;
    for (long i = 0; i < d; i++) {
        wg_tensor *parts[3];
        int np = 0;
        if (i > 0) parts[np++] = wg_full(t, WG_F64, 2, (int64_t[]){k, i}, 0.0);
        parts[np++] = wg_slice(t, qd, 1, i, i + 1);
        if (d - 1 - i > 0) parts[np++] = wg_slice(t, l, 1, off, off + d - 1 - i);
        off += d - 1 - i;
        rows[i] = wg_reshape(t, np == 1 ? parts[0] : wg_concat(t, np, parts, 1), 3, (int64_t[]){k, 1, d});
    }
    wg_tensor *U = d == 1 ? rows[0] : wg_concat(t, (int)d, rows, 1); /* [k,d,d] */
    /* (x - mu_k) U_k = x U_k - mu_k U_k: the [k,n,d] difference is never formed,
     * and x, a constant, needs no gradient through the big product. */
    wg_tensor *qx = wg_sub(t, wg_matmul(t, x, U), wg_matmul(t, wg_reshape(t, mu, 3, (int64_t[]){k, 1, d}), U));
    wg_tensor *sq = wg_sum_axis(t, wg_pow(t, qx, 2), 2, false); /* [k,n] */
    wg_tensor *main_term = wg_sub(t, wg_add(t, wg_reshape(t, alpha, 2, (int64_t[]){k, 1}), sum_q), wg_mul(t, 0.5, sq));
    wg_tensor *slse = wg_sum(t, logsumexp(t, main_term, 0, false));
    wg_tensor *lse_alpha = logsumexp(t, alpha, 0, false);
    double n_w = (double)(d + (long)s->wishart_m + 1);
    double C = n_w * (double)d * (log(s->gamma) - 0.5 * log(2.0)) - log_gamma_distrib(0.5 * n_w, d);
    double constant = -(double)n * (double)d * 0.5 * log(2 * PI) + (double)k * C;
    wg_tensor *frob = wg_add(t, wg_sum(t, wg_pow(t, qd, 2)), wg_sum(t, wg_pow(t, l, 2)));
    wg_tensor *prior = wg_sub(t, wg_mul(t, s->wishart_m, wg_sum(t, sum_q)), wg_mul(t, 0.5 * s->gamma * s->gamma, frob));
    wg_tensor *err = wg_add(t, wg_sub(t, wg_add(t, slse, constant), wg_mul(t, (double)n, lse_alpha)), prior);
    if (!err) return tape_failed(j, t);
    if (s->grad) {
        if (wg_backward(t, err) != 0) return tape_failed(j, t);
        double *o = s->out;
        copy_grad(o, alpha, (size_t)k);
        copy_grad(o + k, mu, (size_t)(k * d));
        copy_grad(o + k + k * d, q, (size_t)(k * d));
        copy_grad(o + k + 2 * k * d, l, (size_t)(k * L));
    } else {
        s->val = wg_item(err);
    }
    return 0;
}

/* {"alpha":[k], "mu":[[d]*k], "q":[[d]*k], "l":[[d(d-1)/2]*k]}: shaped like the input. */
static void gmm_rows(gb_out *o, const char *name, const double *v, long rows, long cols)
{
    gb_qstr(o, name);
    gb_str(o, ":[");
    for (long r = 0; r < rows; r++) {
        if (r) gb_str(o, ",");
        gb_nums(o, v + r * cols, (size_t)cols);
    }
    gb_str(o, "]");
}

static void gmm_write(gb_job *j, gb_out *o)
{
    st_t *s = j->st;
    if (!s->grad) {
        gb_num(o, s->val);
        return;
    }
    long d = s->d, k = s->k, L = d * (d - 1) / 2;
    gb_str(o, "{\"alpha\":");
    gb_nums(o, s->out, (size_t)k);
    gb_str(o, ",");
    gmm_rows(o, "mu", s->out + k, k, d);
    gb_str(o, ",");
    gmm_rows(o, "q", s->out + k + k * d, k, d);
    gb_str(o, ",");
    gmm_rows(o, "l", s->out + k + 2 * k * d, k, L);
    gb_str(o, "}");
}

static int gmm_prepare(const char *fn, const cJSON *in, gb_job *j)
{
    bool grad;
    if (!pick(j, fn, "objective", "jacobian", "gmm", &grad)) return -1;
    st_t *s = st_new(j, grad);
    long m;
    if (!s || get_int(j, in, "d", 1, 4096, &s->d) || get_int(j, in, "k", 1, 1000000, &s->k) ||
        get_int(j, in, "n", 1, 100000000, &s->n) || get_int(j, in, "m", 0, 1000000, &m) ||
        get_num(j, in, "gamma", &s->gamma))
        return -1;
    s->wishart_m = (double)m;
    long d = s->d, k = s->k, L = d * (d - 1) / 2;
    if ((double)k * (double)s->n * (double)d > 3e8 || (double)k * (double)d * (double)d > 3e8) {
        snprintf(j->err, sizeof j->err, "k*n*d = %ld*%ld*%ld or k*d*d is too large (at most 3e8)", k, s->n, d);
        return -1;
    }
    if (get_vec(j, in, "alpha", k, &s->a, NULL) || get_mat(j, in, "mu", k, d, &s->b2, NULL, NULL) ||
        get_mat(j, in, "q", k, d, &s->c2, NULL, NULL) || get_mat(j, in, "x", s->n, d, &s->x, NULL, NULL))
        return -1;
    if (L > 0) {
        if (get_mat(j, in, "l", k, L, &s->e, NULL, NULL)) return -1;
    } else {
        s->e = calloc(1, sizeof(double)); /* d = 1: l is k empty rows */
        if (!s->e) return snprintf(j->err, sizeof j->err, "out of memory"), -1;
    }
    s->ptrs = calloc((size_t)d, sizeof(wg_tensor *));
    if (!s->ptrs) return snprintf(j->err, sizeof j->err, "out of memory"), -1;
    if (grad && alloc_out(j, s, (size_t)(k + 2 * k * d + k * L))) return -1;
    j->run = gmm_run;
    j->write = gmm_write;
    return 0;
}

/* ---- lstm: ADBench's LSTM with diagonal weights, l layers of b units over a
 * sequence of c characters.  Tensor ops on vectors of b (and 4b) numbers:
 * the four gates of a layer are one [4b] product, and sigmoid(z) is
 * (1 + tanh(z/2))/2, so each layer step is 15 nodes: concat, mul, add, tanh,
 * mul, add, four slices, the cell (3) and hidden (2) updates.  The loss
 * gathers the c-1 predictions into one [c-1,b] tensor and is a few nodes:
 *   loss = -(sum_t <ygold_t, ypred_t - log(sum exp ypred_t + 2)>) / ((c-1) b).
 * The jacobian is d/d main_params (row-major) then d/d extra_params. */

static int lstm_run(gb_job *j, wg_tape *t)
{
    st_t *s = j->st;
    long l = s->l, b = s->b, c = s->c;
    const double *seq = s->x, *state = s->c2;
    wg_tape_reset(t);
    wg_tensor *mp = leaf(t, 2, (int64_t[]){2 * l, 4 * b}, s->a, s->grad);
    wg_tensor *ep = leaf(t, 2, (int64_t[]){3, b}, s->b2, s->grad);
    wg_tensor *sc = view(t, 1, (int64_t[]){4 * b}, s->work);       /* 0.5 x3b, 1 xb */
    wg_tensor *c0 = view(t, 1, (int64_t[]){4 * b}, s->work + 4 * b); /* 0.5 x3b, 0 xb */
    wg_tensor **W = s->ptrs, **B = W + l, **h = B + l, **cell = h + l, **ys = cell + l;
    int64_t vb[1] = {b}, v4b[1] = {4 * b};
    for (long i = 0; i < l; i++) {
        W[i] = wg_mul(t, wg_reshape(t, wg_slice(t, mp, 0, 2 * i, 2 * i + 1), 1, v4b), sc);
        B[i] = wg_mul(t, wg_reshape(t, wg_slice(t, mp, 0, 2 * i + 1, 2 * i + 2), 1, v4b), sc);
        h[i] = view(t, 1, vb, state + (2 * i) * b);
        cell[i] = view(t, 1, vb, state + (2 * i + 1) * b);
    }
    wg_tensor *in_w = wg_reshape(t, wg_slice(t, ep, 0, 0, 1), 1, vb);
    wg_tensor *out_w = wg_reshape(t, wg_slice(t, ep, 0, 1, 2), 1, vb);
    wg_tensor *out_b = wg_reshape(t, wg_slice(t, ep, 0, 2, 3), 1, vb);
    for (long step = 0; step < c - 1; step++) {
        wg_tensor *in = wg_mul(t, view(t, 1, vb, seq + step * b), in_w);
        for (long i = 0; i < l; i++) {
            wg_tensor *cat[4] = {in, h[i], in, h[i]};
            wg_tensor *z = wg_add(t, wg_mul(t, W[i], wg_concat(t, 4, cat, 0)), B[i]);
            wg_tensor *g = wg_add(t, wg_mul(t, wg_tanh(t, z), sc), c0);
            wg_tensor *forget = wg_slice(t, g, 0, 0, b), *ingate = wg_slice(t, g, 0, b, 2 * b);
            wg_tensor *outgate = wg_slice(t, g, 0, 2 * b, 3 * b), *change = wg_slice(t, g, 0, 3 * b, 4 * b);
            cell[i] = wg_add(t, wg_mul(t, cell[i], forget), wg_mul(t, ingate, change));
            h[i] = wg_mul(t, outgate, wg_tanh(t, cell[i]));
            in = h[i];
        }
        ys[step] = wg_reshape(t, wg_add(t, wg_mul(t, in, out_w), out_b), 2, (int64_t[]){1, b});
    }
    wg_tensor *Y = c - 1 == 1 ? ys[0] : wg_concat(t, (int)(c - 1), ys, 0); /* [c-1,b] */
    wg_tensor *G = view(t, 2, (int64_t[]){c - 1, b}, seq + b);
    wg_tensor *lse = wg_log(t, wg_add(t, wg_sum_axis(t, wg_exp(t, Y), 1, true), 2.0)); /* [c-1,1] */
    wg_tensor *gsum = view(t, 2, (int64_t[]){c - 1, 1}, s->work2);
    wg_tensor *total = wg_sub(t, wg_sum(t, wg_mul(t, G, Y)), wg_sum(t, wg_mul(t, lse, gsum)));
    wg_tensor *loss = wg_mul(t, -1.0 / (double)((c - 1) * b), total);
    if (!loss) return tape_failed(j, t);
    if (s->grad) {
        if (wg_backward(t, loss) != 0) return tape_failed(j, t);
        copy_grad(s->out, mp, (size_t)(8 * l * b));
        copy_grad(s->out + 8 * l * b, ep, (size_t)(3 * b));
    } else {
        s->val = wg_item(loss);
    }
    return 0;
}

static int lstm_prepare(const char *fn, const cJSON *in, gb_job *j)
{
    bool grad;
    if (!pick(j, fn, "objective", "jacobian", "lstm", &grad)) return -1;
    st_t *s = st_new(j, grad);
    long r, cols;
    if (!s || get_mat(j, in, "main_params", -1, -1, &s->a, &r, &cols)) return -1;
    if (r % 2 != 0 || cols % 4 != 0 || cols == 0) {
        snprintf(j->err, sizeof j->err, "input.main_params must be 2l rows of 4b numbers, got %ld rows of %ld", r, cols);
        return -1;
    }
    s->l = r / 2;
    s->b = cols / 4;
    if (get_mat(j, in, "extra_params", 3, s->b, &s->b2, NULL, NULL) ||
        get_mat(j, in, "state", 2 * s->l, s->b, &s->c2, NULL, NULL) ||
        get_mat(j, in, "sequence", -1, s->b, &s->x, &s->c, NULL))
        return -1;
    if (s->c < 2) {
        snprintf(j->err, sizeof j->err, "input.sequence needs at least 2 rows, got %ld", s->c);
        return -1;
    }
    long b = s->b, c = s->c;
    s->work = malloc((size_t)(8 * b) * sizeof(double));
    s->work2 = malloc((size_t)(c - 1) * sizeof(double));
    s->ptrs = calloc((size_t)(4 * s->l + c), sizeof(wg_tensor *));
    if (!s->work || !s->work2 || !s->ptrs) return snprintf(j->err, sizeof j->err, "out of memory"), -1;
    for (long i = 0; i < 4 * b; i++) {
        s->work[i] = i < 3 * b ? 0.5 : 1.0;
        s->work[4 * b + i] = i < 3 * b ? 0.5 : 0.0;
    }
    for (long q = 0; q + 1 < c; q++) {
        double g = 0;
        for (long i = 0; i < b; i++) g += s->x[(q + 1) * b + i];
        s->work2[q] = g;
    }
    if (grad && alloc_out(j, s, (size_t)(8 * s->l * b + 3 * b))) return -1;
    j->run = lstm_run;
    j->write = write_val_or_vec;
    return 0;
}

/* ---- ba: bundle adjustment (ADBench).  The input gives one camera, point,
 * weight and feature, repeated: n cameras, m points, p observations, the i-th
 * seeing camera i mod n and point i mod m.  Tensor ops batched over the p
 * observations: each observation's camera and point are gathered (outside
 * the tape: it is input layout, not arithmetic) into [p,11] and [p,3] leaves,
 * so the error of observation i depends on row i only, and two backward
 * passes seeded with (1,0) and (0,1) per row give all p 2x15 Jacobian blocks
 * at once; a third gives the diagonal of d w_err / d w.
 *
 * Rodrigues' rotation uses the sin and cos ops (one node each for all p
 * rows).  Rows with theta = 0 take the first-order formula X + rot x X, as ADBench
 * does (blended in only when some row needs it).
 *
 * Output: GradBench's compressed form, as its C++ tools write it: the objective
 * is {"reproj_error":{"elements":[2 numbers],"repeated":p}, "w_err":{"element":
 * x,"repeated":p}}; the jacobian is {"rows","cols","vals"}: the first 30
 * entries of the CSR arrays of the (3p) x (11n+3m+p) Jacobian (observation 0's
 * two rows) and its last entry. */

static wg_tensor *col(wg_tape *t, wg_tensor *x, long a, long b) { return wg_slice(t, x, 1, a, b); }

static wg_tensor *cross(wg_tape *t, wg_tensor *a, wg_tensor *b)
{
    wg_tensor *a0 = col(t, a, 0, 1), *a1 = col(t, a, 1, 2), *a2 = col(t, a, 2, 3);
    wg_tensor *b0 = col(t, b, 0, 1), *b1 = col(t, b, 1, 2), *b2 = col(t, b, 2, 3);
    wg_tensor *c[3] = {wg_sub(t, wg_mul(t, a1, b2), wg_mul(t, a2, b1)), wg_sub(t, wg_mul(t, a2, b0), wg_mul(t, a0, b2)),
                       wg_sub(t, wg_mul(t, a0, b1), wg_mul(t, a1, b0))};
    return wg_concat(t, 3, c, 1);
}

typedef struct {
    double *cams, *X, *W, *feat; /* gathered per observation: [p,11], [p,3], [p,1], [p,2] */
    double *mask, *seed0, *seed1;
    double *vals; /* 30 per observation + 1 per weight */
    double err[2], werr;
} ba_t;

static int ba_run(gb_job *j, wg_tape *t)
{
    st_t *s = j->st;
    ba_t *B = s->ptrs;
    long p = s->p;
    int64_t p1[2] = {p, 1};
    wg_tape_reset(t);
    wg_tensor *cam = leaf(t, 2, (int64_t[]){p, 11}, B->cams, s->grad);
    wg_tensor *X = leaf(t, 2, (int64_t[]){p, 3}, B->X, s->grad);
    wg_tensor *w = leaf(t, 2, p1, B->W, s->grad);
    wg_tensor *rot = col(t, cam, 0, 3);
    wg_tensor *xo = wg_sub(t, X, col(t, cam, 3, 6));
    wg_tensor *sqtheta = wg_sum_axis(t, wg_mul(t, rot, rot), 1, true); /* [p,1] */
    if (!sqtheta) return tape_failed(j, t);
    const double *sq = wg_data(sqtheta);
    bool any_zero = false;
    for (long i = 0; i < p; i++) any_zero |= sq[i] == 0;
    wg_tensor *m = NULL;
    if (any_zero) {
        for (long i = 0; i < p; i++) B->mask[i] = sq[i] == 0;
        m = view(t, 2, p1, B->mask);
        sqtheta = wg_add(t, sqtheta, m); /* theta 1 on those rows: finite, and blended out below */
    }
    wg_tensor *theta = wg_sqrt(t, sqtheta);
    wg_tensor *sin_t = wg_sin(t, theta), *cos_t = wg_cos(t, theta);
    wg_tensor *wv = wg_div(t, rot, theta); /* [p,3] */
    wg_tensor *tmp = wg_mul(t, wg_sum_axis(t, wg_mul(t, wv, xo), 1, true), wg_sub(t, 1.0, cos_t));
    wg_tensor *xcam = wg_add(t, wg_add(t, wg_mul(t, xo, cos_t), wg_mul(t, cross(t, wv, xo), sin_t)), wg_mul(t, wv, tmp));
    if (any_zero) {
        wg_tensor *small = wg_add(t, xo, cross(t, rot, xo));
        xcam = wg_add(t, wg_mul(t, xcam, wg_sub(t, 1.0, m)), wg_mul(t, small, m));
    }
    wg_tensor *proj = wg_div(t, col(t, xcam, 0, 2), col(t, xcam, 2, 3)); /* [p,2] */
    wg_tensor *rsq = wg_sum_axis(t, wg_mul(t, proj, proj), 1, true);
    wg_tensor *L = wg_add(t, wg_add(t, wg_mul(t, col(t, cam, 9, 10), rsq), wg_mul(t, col(t, cam, 10, 11), wg_mul(t, rsq, rsq))), 1.0);
    wg_tensor *pr = wg_add(t, wg_mul(t, wg_mul(t, proj, L), col(t, cam, 6, 7)), col(t, cam, 7, 9));
    wg_tensor *err = wg_mul(t, w, wg_sub(t, pr, view(t, 2, (int64_t[]){p, 2}, B->feat))); /* [p,2] */
    wg_tensor *werr = wg_sub(t, 1.0, wg_mul(t, w, w)); /* [p,1] */
    if (!err || !werr) return tape_failed(j, t);
    const double *e = wg_data(err);
    B->err[0] = e[0];
    B->err[1] = e[1];
    B->werr = wg_get(werr, 0);
    if (!s->grad) return 0;
    for (int row = 0; row < 2; row++) {
        wg_tensor *seed = view(t, 2, (int64_t[]){p, 2}, row ? B->seed1 : B->seed0);
        if (!seed || wg_backward_seed(t, err, seed) != 0) return tape_failed(j, t);
        const double *gc = wg_grad(cam), *gx = wg_grad(X), *gw = wg_grad(w);
        for (long i = 0; i < p; i++) {
            double *v = B->vals + 30 * i + 15 * row;
            for (int q = 0; q < 11; q++) v[q] = gc ? gc[11 * i + q] : 0;
            for (int q = 0; q < 3; q++) v[11 + q] = gx ? gx[3 * i + q] : 0;
            v[14] = gw ? gw[i] : 0;
        }
        wg_tape_zero_grad(t);
    }
    if (wg_backward(t, wg_sum(t, werr)) != 0) return tape_failed(j, t);
    const double *gw = wg_grad(w);
    for (long i = 0; i < p; i++) B->vals[30 * p + i] = gw ? gw[i] : 0;
    wg_tape_zero_grad(t);
    return 0;
}

static void ba_write(gb_job *j, gb_out *o)
{
    st_t *s = j->st;
    ba_t *B = s->ptrs;
    long n = s->n, m = s->m, p = s->p;
    if (!s->grad) {
        gb_str(o, "{\"reproj_error\":{\"elements\":");
        gb_nums(o, B->err, 2);
        gb_str(o, ",\"repeated\":");
        gb_int(o, p);
        gb_str(o, "},\"w_err\":{\"element\":");
        gb_num(o, B->werr);
        gb_str(o, ",\"repeated\":");
        gb_int(o, p);
        gb_str(o, "}}");
        return;
    }
    /* CSR of the full Jacobian: rows 0..2p-1 have 15 entries, then p rows of 1. */
    gb_str(o, "{\"rows\":[");
    for (long i = 0; i < 30; i++) {
        long r = i <= 2 * p ? 15 * i : 30 * p + (i - 2 * p);
        gb_int(o, r);
        gb_str(o, ",");
    }
    gb_int(o, 31 * p);
    gb_str(o, "],\"cols\":[");
    for (int row = 0; row < 2; row++) {
        for (int q = 0; q < 15; q++) {
            long cidx = q < 11 ? q : q < 14 ? 11 * n + (q - 11) : 11 * n + 3 * m; /* observation 0: camera 0, point 0, w 0 */
            gb_int(o, cidx);
            gb_str(o, ",");
        }
    }
    gb_int(o, 11 * n + 3 * m + p - 1);
    gb_str(o, "],\"vals\":[");
    for (int i = 0; i < 30; i++) {
        gb_num(o, B->vals[i]);
        gb_str(o, ",");
    }
    gb_num(o, B->vals[30 * p + p - 1]);
    gb_str(o, "]}");
}

static void ba_free(gb_job *j)
{
    st_t *s = j->st;
    if (s && s->ptrs) {
        ba_t *B = s->ptrs;
        free(B->cams);
        free(B->X);
        free(B->W);
        free(B->feat);
        free(B->mask);
        free(B->seed0);
        free(B->seed1);
        free(B->vals);
    }
    st_free(j);
}

static int ba_prepare(const char *fn, const cJSON *in, gb_job *j)
{
    bool grad;
    if (!pick(j, fn, "objective", "jacobian", "ba", &grad)) return -1;
    st_t *s = st_new(j, grad);
    if (!s) return -1;
    j->free = ba_free;
    double *cam = NULL, *x = NULL, *feat = NULL;
    if (get_int(j, in, "n", 1, 100000000, &s->n) || get_int(j, in, "m", 1, 100000000, &s->m) ||
        get_int(j, in, "p", 10, 10000000, &s->p) || get_num(j, in, "w", &s->w))
        return -1;
    if (get_vec(j, in, "cam", 11, &cam, NULL) || get_vec(j, in, "x", 3, &x, NULL) || get_vec(j, in, "feat", 2, &feat, NULL)) {
        free(cam);
        free(x);
        free(feat);
        return -1;
    }
    long p = s->p;
    ba_t *B = calloc(1, sizeof *B);
    s->ptrs = B;
    if (B) {
        B->cams = malloc((size_t)p * 11 * sizeof(double));
        B->X = malloc((size_t)p * 3 * sizeof(double));
        B->W = malloc((size_t)p * sizeof(double));
        B->feat = malloc((size_t)p * 2 * sizeof(double));
        B->mask = malloc((size_t)p * sizeof(double));
        B->seed0 = malloc((size_t)p * 2 * sizeof(double));
        B->seed1 = malloc((size_t)p * 2 * sizeof(double));
        B->vals = malloc((size_t)p * 31 * sizeof(double));
    }
    if (!B || !B->cams || !B->X || !B->W || !B->feat || !B->mask || !B->seed0 || !B->seed1 || !B->vals) {
        free(cam);
        free(x);
        free(feat);
        return snprintf(j->err, sizeof j->err, "out of memory for p = %ld", p), -1;
    }
    /* The input's cameras and points are all the same; the observation i sees
     * camera i mod n and point i mod m (what GradBench's tools build). */
    for (long i = 0; i < p; i++) {
        memcpy(B->cams + 11 * i, cam, 11 * sizeof(double));
        memcpy(B->X + 3 * i, x, 3 * sizeof(double));
        B->W[i] = s->w;
        B->feat[2 * i] = feat[0];
        B->feat[2 * i + 1] = feat[1];
        B->seed0[2 * i] = 1;
        B->seed0[2 * i + 1] = 0;
        B->seed1[2 * i] = 0;
        B->seed1[2 * i + 1] = 1;
    }
    free(cam);
    free(x);
    free(feat);
    j->run = ba_run;
    j->write = ba_write;
    return 0;
}

/* ---- kmeans: cost = sum_i min_j |p_i - c_j|^2; dir = J / H elementwise, J the
 * gradient and H the diagonal of the Hessian of the cost with respect to the
 * centroids.  Tensor ops: the squared distances are |p|^2 + |c|^2 - 2 P C^T
 * ([n,k], one GEMM), the min is -max(-D) along k.  The Hessian is diagonal
 * (each centroid's term is a sum of squares of its own coordinates), so its
 * diagonal is H.1: the gradient is recorded (wg_grad_of with create_graph)
 * and differentiated again, reverse over reverse, seeded with ones. */

static int kmeans_run(gb_job *j, wg_tape *t)
{
    st_t *s = j->st;
    long n = s->n, k = s->k, d = s->d;
    wg_tape_reset(t);
    wg_tensor *P = view(t, 2, (int64_t[]){n, d}, s->x);
    wg_tensor *C = leaf(t, 2, (int64_t[]){k, d}, s->a, s->grad);
    wg_tensor *pp = wg_sum_axis(t, wg_pow(t, P, 2), 1, true);                          /* [n,1] */
    wg_tensor *cc = wg_reshape(t, wg_sum_axis(t, wg_pow(t, C, 2), 1, false), 2, (int64_t[]){1, k});
    wg_tensor *D = wg_add(t, wg_add(t, pp, cc), wg_mul(t, -2.0, wg_matmul_ex(t, P, C, false, true))); /* [n,k] */
    wg_tensor *cost = wg_sum(t, wg_neg(t, wg_max_axis(t, wg_neg(t, D), 1, false)));
    if (!cost) return tape_failed(j, t);
    if (!s->grad) {
        s->val = wg_item(cost);
        return 0;
    }
    wg_tensor *J, *H;
    if (wg_grad_of(t, cost, NULL, 1, &C, &J, true) != 0) return tape_failed(j, t);
    if (wg_grad_of(t, wg_sum(t, J), NULL, 1, &C, &H, false) != 0) return tape_failed(j, t);
    wg_tensor *dir = wg_div(t, J, H);
    if (!dir) return tape_failed(j, t);
    memcpy(s->out, wg_data(dir), (size_t)(k * d) * sizeof(double));
    return 0;
}

static void kmeans_write(gb_job *j, gb_out *o)
{
    st_t *s = j->st;
    if (!s->grad) {
        gb_num(o, s->val);
        return;
    }
    gb_str(o, "[");
    for (long r = 0; r < s->k; r++) {
        if (r) gb_str(o, ",");
        gb_nums(o, s->out + r * s->d, (size_t)s->d);
    }
    gb_str(o, "]");
}

static int kmeans_prepare(const char *fn, const cJSON *in, gb_job *j)
{
    bool grad;
    if (!pick(j, fn, "cost", "dir", "kmeans", &grad)) return -1;
    st_t *s = st_new(j, grad);
    if (!s || get_mat(j, in, "points", -1, -1, &s->x, &s->n, &s->d) ||
        get_mat(j, in, "centroids", -1, s->d, &s->a, &s->k, NULL))
        return -1;
    if ((double)s->n * (double)s->k > 2e8) {
        snprintf(j->err, sizeof j->err, "n*k = %ld*%ld is too large (at most 2e8)", s->n, s->k);
        return -1;
    }
    if (grad && alloc_out(j, s, (size_t)(s->k * s->d))) return -1;
    j->run = kmeans_run;
    j->write = kmeans_write;
    return 0;
}

/* ---- the module table ---------------------------------------------------------- */

static const struct {
    const char *name;
    int (*prepare)(const char *fn, const cJSON *in, gb_job *j);
} modules[] = {
    {"hello", hello_prepare}, {"lse", lse_prepare}, {"llsq", llsq_prepare}, {"det", det_prepare},
    {"ode", ode_prepare},     {"gmm", gmm_prepare}, {"lstm", lstm_prepare}, {"ba", ba_prepare},
    {"kmeans", kmeans_prepare}, {"particle", gb_particle_prepare}, {"saddle", gb_saddle_prepare},
    {"ht", gb_ht_prepare},
};

const char *gb_module_list(void) { return "hello lse llsq det ode gmm lstm ba kmeans particle saddle ht"; }

bool gb_module_known(const char *module)
{
    for (size_t i = 0; i < sizeof modules / sizeof *modules; i++)
        if (strcmp(modules[i].name, module) == 0) return true;
    return false;
}

int gb_prepare(const char *module, const char *function, const cJSON *input, gb_job *job)
{
    for (size_t i = 0; i < sizeof modules / sizeof *modules; i++) {
        if (strcmp(modules[i].name, module) != 0) continue;
        if (!cJSON_IsObject(input) && strcmp(module, "hello") != 0) {
            snprintf(job->err, sizeof job->err, "input must be an object");
            return -1;
        }
        int rc = modules[i].prepare(function, input, job);
        if (rc != 0 && job->free) job->free(job);
        return rc;
    }
    snprintf(job->err, sizeof job->err, "wengert has no module '%.100s' (it has: %s)", module, gb_module_list());
    return -1;
}
