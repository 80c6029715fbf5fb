/* ht.c: GradBench's ht (hand tracking, from ADBench) as a wengert program.
 *
 * The function (evals/ht; the mathematics is ADBench's hand model, which
 * GradBench's C++ tools compute in cpp/gradbench/evals/ht.hpp):
 *
 *   theta (26 numbers) -> pose: angle-axis global rotation theta[0:3], global
 *   translation theta[3:6], then 4 numbers per finger (5 fingers): the first
 *   of the finger's three bones gets two Euler angles (x, then z), the next
 *   two one each (x).  Bone b's angles are pose column b + 3, so the fingers
 *   use bones 2-4, 6-8, 10-12, 14-16, 18-20 and every other bone keeps the
 *   identity rotation (the model must have at least 21 bones).  The third
 *   Euler angle (y) is never set from theta, so each bone's rotation is
 *   Rz(z) Rx(x) (the C++'s Rz Ry Rx with Ry = I, exactly).
 *
 *   relatives_b = base_relatives_b [[R_b, 0], [0, 1]]
 *   absolutes_b = absolutes_parent(b) relatives_b   (the parent comes earlier)
 *   transforms_b = absolutes_b inverse_base_absolutes_b
 *   vertex v = sum_b weights[v][b] (transforms_b base_positions[v])[0:3]
 *   (x negated if is_mirrored), then R_g vertex + translation, where R_g is
 *   Rodrigues' rotation of the angle axis theta[0:3], and exactly the identity
 *   (no derivative) when its norm is below 1e-4, as the C++ does.
 *
 *   simple (us is empty):   err[3i+j] = points[i][j] - vertex(correspondences[i])[j]
 *   complicated:            the point on triangle correspondences[i] at
 *                           barycentric (u0, u1, 1-u0-u1), with (u0, u1) = us[i]
 *
 * objective: err, 3 npts numbers.  jacobian: d err / d(theta) as 3 npts rows
 * of 26 numbers; in the complicated variant each row starts with 2 more, the
 * derivatives with respect to its own point's u0 and u1 (every row depends
 * on one point's us only, so the npts x 2 us columns are compressed into 2,
 * as GradBench's tools write them).
 *
 * Input types (what GradBench's eval actually sends; it reads ADBench's files
 * into numpy arrays and sends their tolist()):
 *   theta: double[26]; us: double[npts][2] (pairs: the README types it as a
 *   flat double[], but the eval sends numpy's (npts, 2) array as pairs, and
 *   GradBench's C++ tools read pairs; a flat double[2 npts] is accepted too),
 *   or [] for the simple variant;
 *   data.correspondences: int[npts]; data.points: double[npts][3];
 *   data.model: bone_count (optional; if given, the number of bones),
 *   bone_names: string[B], parents: int[B] (-1 for a root, else an earlier
 *   bone), base_relatives and inverse_base_absolutes: double[B][4][4]
 *   (row-major matrices), base_positions: double[V][4] (homogeneous),
 *   weights: double[V][B], triangles: int[T][3], is_mirrored: bool.
 * Anything else is an error naming the field.
 *
 * Representation: tensor ops.  The bone part is batched over bones (one
 * node for the 22 rotations, one batched matmul for the relatives) except
 * the chain of absolutes, which follows the parents (two nodes per bone).
 * The per-point part is a handful of nodes for all points: each point's
 * vertex (or its triangle's three vertices) has its weights and base
 * position gathered outside the tape, once (input layout, as ba does), so
 * the skinning is one GEMM [rows, B] x [B, 12] and a 4-term sum.
 *
 * The jacobian is forward mode: the Jacobian is 3 npts x 26 (npts is 100 to
 * 100000 in ADBench's data), so 26 (28) JVPs, one per column, beat 3 npts
 * reverse passes.  The function is recorded once with tangents that are
 * views of a buffer, then replayed (wg_tape_replay) with each column's unit
 * tangent (on theta, or on every point's u0, then u1) written there: the
 * replay skips the recording's shape rules and allocation (1.3 against 2.1
 * ms per jacobian at 100 points, measured on the shared machine). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gb.h"

#define HT_THETA 26
#define HT_MIN_BONES 21 /* the finger parameters reach bone 20 */

typedef struct {
    bool grad, complicated, mirrored;
    long B, V, NT, npts, rows; /* rows: npts, or 3 npts (a triangle's three vertices) */
    double theta[HT_THETA];
    double *us;                /* [npts, 2] */
    int *parents;              /* [B] */
    double *sel;               /* [2B, 26]: bone b's (x, z) Euler angles from theta */
    double *base_rel, *inv_abs; /* [B, 4, 4] */
    double *wp, *bp;           /* per row: the vertex's weights [rows, B] and base position [rows, 4] */
    double *points;            /* [npts, 3] */
    double *zeros, *ones;      /* [B] */
    double *tus;               /* [npts, 2]: the tangent of us in the current column */
    double tth[HT_THETA];      /* the tangent of theta in the current column */
    double I3[9], G[27], mirror[3];
    wg_tensor **abs;           /* [B], per run */
    double *out;               /* err [3 npts], or the jacobian by columns [ncols][3 npts] */
    long ncols;
} ht_t;

/* ---- input parsing, with the field's path in every message -------------------- */

static const cJSON *field(gb_job *j, const cJSON *obj, const char *path, const char *name)
{
    const cJSON *f = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;
    if (!cJSON_IsObject(obj))
        snprintf(j->err, sizeof j->err, "%s must be an object", path);
    else if (!f)
        snprintf(j->err, sizeof j->err, "%s has no field \"%s\"", path, name);
    return f;
}

/* The length of array f, or -1 (with the error) if f is not an array or is
 * longer than max. */
static long length(gb_job *j, const cJSON *f, const char *path, long max)
{
    if (!cJSON_IsArray(f)) {
        snprintf(j->err, sizeof j->err, "%s must be an array", path);
        return -1;
    }
    long n = cJSON_GetArraySize(f);
    if (n > max) {
        snprintf(j->err, sizeof j->err, "%s has %ld elements, at most %ld are accepted", path, n, max);
        return -1;
    }
    return n;
}

/* f: an array of exactly n numbers, into dst. */
static int nums(gb_job *j, const cJSON *f, const char *path, long n, double *dst)
{
    if (!cJSON_IsArray(f) || cJSON_GetArraySize(f) != n) {
        if (cJSON_IsArray(f))
            snprintf(j->err, sizeof j->err, "%s has %d numbers, expected %ld", path, cJSON_GetArraySize(f), n);
        else
            snprintf(j->err, sizeof j->err, "%s must be an array of %ld numbers", path, n);
        return -1;
    }
    long i = 0;
    for (const cJSON *e = f->child; e; e = e->next, i++) {
        if (!cJSON_IsNumber(e)) {
            snprintf(j->err, sizeof j->err, "%s[%ld] is not a number", path, i);
            return -1;
        }
        dst[i] = e->valuedouble;
    }
    return 0;
}

/* f: r arrays of c numbers each, row-major into dst. */
static int mat(gb_job *j, const cJSON *f, const char *path, long r, long c, double *dst)
{
    if (!cJSON_IsArray(f) || cJSON_GetArraySize(f) != r) {
        if (cJSON_IsArray(f))
            snprintf(j->err, sizeof j->err, "%s has %d rows, expected %ld", path, cJSON_GetArraySize(f), r);
        else
            snprintf(j->err, sizeof j->err, "%s must be an array of %ld arrays of %ld numbers", path, r, c);
        return -1;
    }
    long i = 0;
    char p[200];
    for (const cJSON *e = f->child; e; e = e->next, i++) {
        snprintf(p, sizeof p, "%s[%ld]", path, i);
        if (nums(j, e, p, c, dst + i * c)) return -1;
    }
    return 0;
}

/* f: an array of exactly n integers in [lo, hi], into dst. */
static int ints(gb_job *j, const cJSON *f, const char *path, long n, long lo, long hi, int *dst)
{
    if (!cJSON_IsArray(f) || cJSON_GetArraySize(f) != n) {
        if (cJSON_IsArray(f))
            snprintf(j->err, sizeof j->err, "%s has %d integers, expected %ld", path, cJSON_GetArraySize(f), n);
        else
            snprintf(j->err, sizeof j->err, "%s must be an array of %ld integers", path, n);
        return -1;
    }
    long i = 0;
    for (const cJSON *e = f->child; e; e = e->next, i++) {
        double d = cJSON_IsNumber(e) ? e->valuedouble : NAN;
        if (!(d == floor(d) && d >= (double)lo && d <= (double)hi)) {
            if (cJSON_IsNumber(e))
                snprintf(j->err, sizeof j->err, "%s[%ld] = %g is not an integer in [%ld, %ld]", path, i, d, lo, hi);
            else
                snprintf(j->err, sizeof j->err, "%s[%ld] is not an integer", path, i);
            return -1;
        }
        dst[i] = (int)d;
    }
    return 0;
}

/* ---- the function ------------------------------------------------------------- */

static wg_tensor *view(wg_tape *t, int ndim, const int64_t *shape, const double *data)
{
    return wg_tensor_view(t, WG_F64, ndim, shape, data);
}

/* Every row's vertex after skinning, mirroring and the global transform:
 * [rows, 3]; NULL on a tape error. */
static wg_tensor *vertices(wg_tape *t, ht_t *h, wg_tensor *theta)
{
    long B = h->B, rows = h->rows;
    int64_t b1[2] = {B, 1};
    /* the bones' Euler angles [B, 2] = (x, z), their cos and sin */
    wg_tensor *ang = wg_reshape(t, wg_matmul(t, view(t, 2, (int64_t[]){2 * B, HT_THETA}, h->sel),
                                             wg_reshape(t, theta, 2, (int64_t[]){HT_THETA, 1})),
                                2, (int64_t[]){B, 2});
    wg_tensor *c = wg_cos(t, ang), *s = wg_sin(t, ang);
    wg_tensor *cx = wg_slice(t, c, 1, 0, 1), *cz = wg_slice(t, c, 1, 1, 2);
    wg_tensor *sx = wg_slice(t, s, 1, 0, 1), *sz = wg_slice(t, s, 1, 1, 2);
    wg_tensor *z = view(t, 2, b1, h->zeros), *o = view(t, 2, b1, h->ones);
    /* [[Rz Rx, 0], [0, 1]] per bone, row-major */
    wg_tensor *tr[16] = {cz, wg_neg(t, wg_mul(t, sz, cx)), wg_mul(t, sz, sx), z,
                         sz, wg_mul(t, cz, cx), wg_neg(t, wg_mul(t, cz, sx)), z,
                         z, sx, cx, z,
                         z, z, z, o};
    int64_t b44[3] = {B, 4, 4};
    wg_tensor *TR = wg_reshape(t, wg_concat(t, 16, tr, 1), 3, b44);
    wg_tensor *rel = wg_matmul(t, view(t, 3, b44, h->base_rel), TR); /* [B, 4, 4] */
    if (!rel) return NULL;
    for (long b = 0; b < B; b++) {
        wg_tensor *rb = wg_slice(t, rel, 0, b, b + 1); /* [1, 4, 4] */
        h->abs[b] = h->parents[b] < 0 ? rb : wg_matmul(t, h->abs[h->parents[b]], rb);
    }
    wg_tensor *T = wg_matmul(t, wg_concat(t, (int)B, h->abs, 0), view(t, 3, b44, h->inv_abs));
    wg_tensor *T3 = wg_reshape(t, wg_slice(t, T, 1, 0, 3), 2, (int64_t[]){B, 12}); /* rows 0..2 of each */
    /* skinning: the weighted transform per row [rows, 3, 4] times its base position */
    wg_tensor *blend = wg_reshape(t, wg_matmul(t, view(t, 2, (int64_t[]){rows, B}, h->wp), T3), 3,
                                  (int64_t[]){rows, 3, 4});
    wg_tensor *pos = wg_sum_axis(t, wg_mul(t, blend, view(t, 3, (int64_t[]){rows, 1, 4}, h->bp)), 2, false);
    if (h->mirrored) pos = wg_mul(t, pos, view(t, 2, (int64_t[]){1, 3}, h->mirror));
    /* the global rotation (Rodrigues), identity below norm 1e-4 */
    wg_tensor *aa = wg_slice(t, theta, 0, 0, 3);
    wg_tensor *sq = wg_sum(t, wg_mul(t, aa, aa));
    if (!sq) return NULL;
    wg_tensor *Rg = view(t, 2, (int64_t[]){3, 3}, h->I3);
    if (sqrt(wg_item(sq)) >= 1e-4) {
        wg_tensor *norm = wg_sqrt(t, sq);
        wg_tensor *n = wg_reshape(t, wg_div(t, aa, norm), 2, (int64_t[]){3, 1});
        wg_tensor *cn = wg_cos(t, norm);
        wg_tensor *K = wg_reshape(t, wg_matmul(t, view(t, 2, (int64_t[]){9, 3}, h->G), n), 2, (int64_t[]){3, 3});
        /* R = cos I + (1 - cos) n n^T + sin [n]x */
        Rg = wg_add(t, wg_add(t, wg_mul(t, cn, Rg), wg_mul(t, wg_sub(t, 1.0, cn), wg_matmul_ex(t, n, n, false, true))),
                    wg_mul(t, wg_sin(t, norm), K));
    }
    wg_tensor *tr_g = wg_reshape(t, wg_slice(t, theta, 0, 3, 6), 2, (int64_t[]){1, 3});
    return wg_add(t, wg_matmul_ex(t, pos, Rg, false, true), tr_g);
}

/* err [npts, 3] */
static wg_tensor *ht_err(wg_tape *t, ht_t *h, wg_tensor *theta, wg_tensor *us)
{
    long n = h->npts;
    wg_tensor *v = vertices(t, h, theta);
    if (h->complicated) {
        wg_tensor *u0 = wg_slice(t, us, 1, 0, 1), *u1 = wg_slice(t, us, 1, 1, 2);
        wg_tensor *hp = wg_add(t, wg_add(t, wg_mul(t, u0, wg_slice(t, v, 0, 0, n)), wg_mul(t, u1, wg_slice(t, v, 0, n, 2 * n))),
                               wg_mul(t, wg_sub(t, wg_sub(t, 1.0, u0), u1), wg_slice(t, v, 0, 2 * n, 3 * n)));
        v = hp;
    }
    return wg_sub(t, view(t, 2, (int64_t[]){n, 3}, h->points), v);
}

static int fail_tape(gb_job *j, wg_tape *t)
{
    const char *e = wg_tape_error(t);
    snprintf(j->err, sizeof j->err, "%s", e ? e : "a wengert op failed with no message");
    return -1;
}

/* The tangents of column col: a unit theta direction, or every point's u0
 * (col 0) or u1 (col 1) in the complicated variant. */
static void set_direction(ht_t *h, long col)
{
    long k = h->complicated ? col - 2 : col;
    memset(h->tth, 0, sizeof h->tth);
    if (k >= 0) h->tth[k] = 1;
    if (h->complicated)
        for (long i = 0; i < 2 * h->npts; i++) h->tus[i] = k < 0 && i % 2 == k + 2;
}

static int ht_run(gb_job *j, wg_tape *t)
{
    ht_t *h = j->st;
    size_t m = (size_t)(3 * h->npts);
    int64_t n2[2] = {h->npts, 2}, nt[1] = {HT_THETA};
    wg_tape_reset(t);
    wg_tensor *theta = wg_tensor_new(t, WG_F64, 1, nt, h->theta, false);
    wg_tensor *us = h->complicated ? wg_tensor_new(t, WG_F64, 2, n2, h->us, false) : NULL;
    if (h->grad) {
        /* the tangents are views of h->tth and h->tus: recorded once, then
         * replayed with the next column's unit tangents written there */
        set_direction(h, 0);
        if (wg_set_tangent(t, theta, view(t, 1, nt, h->tth)) != 0 ||
            (us && wg_set_tangent(t, us, view(t, 2, n2, h->tus)) != 0))
            return fail_tape(j, t);
    }
    wg_tensor *err = ht_err(t, h, theta, us);
    if (!err) return fail_tape(j, t);
    if (!h->grad) {
        memcpy(h->out, wg_data(err), m * sizeof(double));
        return 0;
    }
    wg_tensor *te = wg_tangent(err);
    for (long col = 0; col < h->ncols; col++) {
        if (col > 0) {
            set_direction(h, col);
            if (wg_tape_replay(t) != 0) return fail_tape(j, t);
        }
        if (te)
            memcpy(h->out + col * (long)m, wg_data(te), m * sizeof(double));
        else
            memset(h->out + col * (long)m, 0, m * sizeof(double));
    }
    return 0;
}

static void ht_write(gb_job *j, gb_out *o)
{
    ht_t *h = j->st;
    long m = 3 * h->npts;
    if (!h->grad) {
        gb_nums(o, h->out, (size_t)m);
        return;
    }
    gb_str(o, "[");
    for (long r = 0; r < m; r++) {
        gb_str(o, r ? ",[" : "[");
        for (long c = 0; c < h->ncols; c++) {
            if (c) gb_str(o, ",");
            gb_num(o, h->out[c * m + r]);
        }
        gb_str(o, "]");
    }
    gb_str(o, "]");
}

static void ht_free(gb_job *j)
{
    ht_t *h = j->st;
    if (!h) return;
    free(h->us);
    free(h->parents);
    free(h->sel);
    free(h->base_rel);
    free(h->inv_abs);
    free(h->wp);
    free(h->bp);
    free(h->points);
    free(h->zeros);
    free(h->ones);
    free(h->tus);
    free(h->abs);
    free(h->out);
    free(h);
    j->st = NULL;
}

/* malloc'd n doubles (at least 1), or NULL with the error */
static double *dalloc(gb_job *j, long n)
{
    double *p = calloc((size_t)(n > 0 ? n : 1), sizeof(double));
    if (!p) snprintf(j->err, sizeof j->err, "out of memory (%ld numbers)", n);
    return p;
}

#define LIMIT 10000000L /* elements of any one array */

static int ht_parse(gb_job *j, ht_t *h, const cJSON *in)
{
    const cJSON *f, *data, *model;
    if (!(f = field(j, in, "input", "theta")) || nums(j, f, "input.theta", HT_THETA, h->theta)) return -1;
    if (!(data = field(j, in, "input", "data")) || !(model = field(j, data, "input.data", "model"))) return -1;
    if (!cJSON_IsObject(model)) return snprintf(j->err, sizeof j->err, "input.data.model must be an object"), -1;

    /* bones */
    if (!(f = field(j, model, "input.data.model", "parents"))) return -1;
    long B = h->B = length(j, f, "input.data.model.parents", 10000);
    if (B < 0) return -1;
    if (B < HT_MIN_BONES)
        return snprintf(j->err, sizeof j->err,
                        "input.data.model.parents has %ld bones; ht's theta poses bones 0..20, so at least %d are needed",
                        B, HT_MIN_BONES), -1;
    if (!(h->parents = malloc((size_t)B * sizeof(int))) || !(h->abs = calloc((size_t)B, sizeof(wg_tensor *))))
        return snprintf(j->err, sizeof j->err, "out of memory"), -1;
    if (ints(j, f, "input.data.model.parents", B, -1, B - 1, h->parents)) return -1;
    for (long b = 0; b < B; b++)
        if (h->parents[b] >= b)
            return snprintf(j->err, sizeof j->err,
                            "input.data.model.parents[%ld] = %d: a bone's parent must be an earlier bone (or -1)", b,
                            h->parents[b]), -1;
    const cJSON *bc = cJSON_GetObjectItemCaseSensitive(model, "bone_count");
    if (bc && !(cJSON_IsNumber(bc) && bc->valuedouble == (double)B))
        return snprintf(j->err, sizeof j->err, "input.data.model.bone_count must be the number of bones, %ld", B), -1;
    if (!(f = field(j, model, "input.data.model", "bone_names"))) return -1;
    if (!cJSON_IsArray(f) || cJSON_GetArraySize(f) != B)
        return snprintf(j->err, sizeof j->err, "input.data.model.bone_names must be an array of %ld strings", B), -1;
    long i = 0;
    for (const cJSON *e = f->child; e; e = e->next, i++)
        if (!cJSON_IsString(e))
            return snprintf(j->err, sizeof j->err, "input.data.model.bone_names[%ld] is not a string", i), -1;
    if (!(h->base_rel = dalloc(j, 16 * B)) || !(h->inv_abs = dalloc(j, 16 * B))) return -1;
    const char *mats[2] = {"base_relatives", "inverse_base_absolutes"};
    for (int q = 0; q < 2; q++) {
        char p[120];
        snprintf(p, sizeof p, "input.data.model.%s", mats[q]);
        if (!(f = field(j, model, "input.data.model", mats[q]))) return -1;
        if (!cJSON_IsArray(f) || cJSON_GetArraySize(f) != B)
            return snprintf(j->err, sizeof j->err, "%s must be an array of %ld 4x4 matrices", p, B), -1;
        i = 0;
        for (const cJSON *e = f->child; e; e = e->next, i++) {
            char pi[200];
            snprintf(pi, sizeof pi, "%s[%ld]", p, i);
            if (mat(j, e, pi, 4, 4, (q ? h->inv_abs : h->base_rel) + 16 * i)) return -1;
        }
    }

    /* vertices */
    if (!(f = field(j, model, "input.data.model", "base_positions"))) return -1;
    long V = h->V = length(j, f, "input.data.model.base_positions", LIMIT);
    if (V < 0) return -1;
    if (V < 1 || V * B > 100000000L)
        return snprintf(j->err, sizeof j->err, "input.data.model.base_positions has %ld vertices (%ld bones)", V, B), -1;
    double *base = dalloc(j, 4 * V), *w = dalloc(j, V * B);
    int *tri = NULL, *corr = NULL;
    int rc = -1;
    if (!base || !w) goto out;
    if (mat(j, f, "input.data.model.base_positions", V, 4, base)) goto out;
    if (!(f = field(j, model, "input.data.model", "weights")) || mat(j, f, "input.data.model.weights", V, B, w)) goto out;
    if (!(f = field(j, model, "input.data.model", "triangles"))) goto out;
    long NT = h->NT = length(j, f, "input.data.model.triangles", LIMIT);
    if (NT < 0) goto out;
    if (!(tri = malloc((size_t)(3 * NT + 1) * sizeof(int)))) {
        snprintf(j->err, sizeof j->err, "out of memory");
        goto out;
    }
    i = 0;
    for (const cJSON *e = f->child; e; e = e->next, i++) {
        char p[80];
        snprintf(p, sizeof p, "input.data.model.triangles[%ld]", i);
        if (ints(j, e, p, 3, 0, V - 1, tri + 3 * i)) goto out;
    }
    if (!(f = field(j, model, "input.data.model", "is_mirrored"))) goto out;
    if (!cJSON_IsBool(f)) {
        snprintf(j->err, sizeof j->err, "input.data.model.is_mirrored must be true or false");
        goto out;
    }
    h->mirrored = cJSON_IsTrue(f);

    /* points */
    const cJSON *us;
    if (!(us = field(j, in, "input", "us")) || length(j, us, "input.us", 2 * LIMIT) < 0) goto out;
    h->complicated = cJSON_GetArraySize(us) > 0;
    if (!(f = field(j, data, "input.data", "correspondences"))) goto out;
    long n = h->npts = length(j, f, "input.data.correspondences", LIMIT);
    if (n < 0) goto out;
    if (n < 1) {
        snprintf(j->err, sizeof j->err, "input.data.correspondences is empty");
        goto out;
    }
    if (!(corr = malloc((size_t)n * sizeof(int)))) {
        snprintf(j->err, sizeof j->err, "out of memory");
        goto out;
    }
    long hi = h->complicated ? NT - 1 : V - 1;
    if (h->complicated && NT < 1) {
        snprintf(j->err, sizeof j->err, "input.data.model.triangles is empty, but us is not (the complicated variant)");
        goto out;
    }
    if (ints(j, f, "input.data.correspondences", n, 0, hi, corr)) goto out;
    if (!(h->points = dalloc(j, 3 * n))) goto out;
    if (!(f = field(j, data, "input.data", "points")) || mat(j, f, "input.data.points", n, 3, h->points)) goto out;
    if (h->complicated) {
        if (!(h->us = dalloc(j, 2 * n))) goto out;
        if (cJSON_IsArray(us->child) ? mat(j, us, "input.us", n, 2, h->us) : nums(j, us, "input.us", 2 * n, h->us))
            goto out;
    }

    /* gathered per row: row i is point i's vertex, or (complicated) row
     * k n + i is vertex k of point i's triangle */
    long rows = h->rows = h->complicated ? 3 * n : n;
    if (rows * B > 50000000L) { /* the gathered weights: at most 400 MB */
        snprintf(j->err, sizeof j->err, "%ld points x %ld bones is too large", n, B);
        goto out;
    }
    if (!(h->wp = dalloc(j, rows * B)) || !(h->bp = dalloc(j, rows * 4))) goto out;
    for (long r = 0; r < rows; r++) {
        long v = h->complicated ? tri[3 * corr[r % n] + r / n] : corr[r];
        memcpy(h->wp + r * B, w + v * B, (size_t)B * sizeof(double));
        memcpy(h->bp + r * 4, base + v * 4, 4 * sizeof(double));
    }
    rc = 0;
out:
    free(base);
    free(w);
    free(tri);
    free(corr);
    return rc;
}

int gb_ht_prepare(const char *fn, const cJSON *in, gb_job *j)
{
    bool grad = strcmp(fn, "jacobian") == 0;
    if (!grad && strcmp(fn, "objective") != 0) {
        snprintf(j->err, sizeof j->err, "unknown function (ht has objective, jacobian)");
        return -1;
    }
    ht_t *h = calloc(1, sizeof *h);
    if (!h) return snprintf(j->err, sizeof j->err, "out of memory"), -1;
    h->grad = grad;
    j->st = h;
    j->free = ht_free;
    if (ht_parse(j, h, in)) return -1;
    long B = h->B, n = h->npts;
    if (!(h->sel = dalloc(j, 2 * B * HT_THETA)) || !(h->zeros = dalloc(j, B)) || !(h->ones = dalloc(j, B)))
        return -1;
    /* theta -> pose: per finger, the first bone gets (x, z), the next two x */
    long k = 6, bone = 2;
    for (int finger = 0; finger < 5; finger++, bone++)
        for (int q = 0; q < 3; q++, bone++) {
            h->sel[(2 * bone) * HT_THETA + k++] = 1;
            if (q == 0) h->sel[(2 * bone + 1) * HT_THETA + k++] = 1;
        }
    for (long b = 0; b < B; b++) h->ones[b] = 1;
    h->I3[0] = h->I3[4] = h->I3[8] = 1;
    /* [n]x = G n, flattened row-major: (0,1) = -z, (0,2) = y, (1,0) = z, (1,2) = -x, (2,0) = -y, (2,1) = x */
    h->G[1 * 3 + 2] = -1;
    h->G[2 * 3 + 1] = 1;
    h->G[3 * 3 + 2] = 1;
    h->G[5 * 3 + 0] = -1;
    h->G[6 * 3 + 1] = -1;
    h->G[7 * 3 + 0] = 1;
    h->mirror[0] = -1;
    h->mirror[1] = h->mirror[2] = 1;
    h->ncols = HT_THETA + (h->complicated ? 2 : 0);
    if (h->complicated && !(h->tus = dalloc(j, 2 * n))) return -1;
    if (!(h->out = dalloc(j, (grad ? h->ncols : 1) * 3 * n))) return -1;
    j->run = ht_run;
    j->write = ht_write;
    return 0;
}
