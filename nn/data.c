/* data.c: data utilities on plain row-major arrays [n, d].
 *
 * PCA uses LAPACK's symmetric eigensolver dsyev (Debian's liblapack); the
 * covariance X^T X and the projections run through the library's own matmul
 * op (BLIS) a block of rows at a time, so the memory stays small. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "wg_nn.h"

/* LAPACK's Fortran interface; the two trailing lengths are the hidden
 * arguments gfortran passes for the CHARACTER arguments JOBZ and UPLO. */
extern void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
                   double *work, const int *lwork, int *info, size_t jobz_len, size_t uplo_len);

static double get(wg_dtype dt, const void *x, size_t i)
{
    return dt == WG_F32 ? (double)((const float *)x)[i] : ((const double *)x)[i];
}

static int dtype_ok(const char *fn, wg_dtype dt)
{
    if (dt == WG_F32 || dt == WG_F64) return 1;
    wg_set_last_error("%s: unknown dtype %d", fn, (int)dt);
    return 0;
}

/* Column means of x [n, d] into mean (d). */
static void column_means(wg_dtype dt, const void *x, size_t n, size_t d, double *mean)
{
    for (size_t j = 0; j < d; j++) mean[j] = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) mean[j] += get(dt, x, i * d + j);
    for (size_t j = 0; j < d; j++) mean[j] /= (double)n;
}

/* 1 if every element of x [n, d] is finite; else 0 with "fn: non-finite
 * value ... at row i, column j" as the last error.  A NaN or Inf would
 * otherwise come out as a NaN mean, a std of 1 or eigenvalues of 0, and the
 * fit would report success. */
static int all_finite(const char *fn, wg_dtype dt, const void *x, size_t n, size_t d)
{
    for (size_t i = 0; i < n * d; i++) {
        double v = get(dt, x, i);
        if (!isfinite(v)) {
            wg_set_last_error("%s: non-finite value %g at row %zu, column %zu", fn, v, i / d, i % d);
            return 0;
        }
    }
    return 1;
}

/* ---- zero-centring and standardisation ---------------------------------- */

int wg_scaler_fit(wg_scaler *s, wg_dtype dt, const void *x, size_t n, size_t d, bool scale)
{
    if (!s || !x || n == 0 || d == 0) {
        wg_set_last_error("scaler_fit: need a scaler and data with n, d >= 1: n = %zu, d = %zu", n, d);
        return -1;
    }
    if (!dtype_ok("scaler_fit", dt) || !all_finite("scaler_fit", dt, x, n, d)) return -1;
    memset(s, 0, sizeof *s);
    s->mean = malloc(sizeof(double) * d);
    s->std = malloc(sizeof(double) * d);
    if (!s->mean || !s->std) {
        wg_scaler_free(s);
        wg_set_last_error("scaler_fit: out of memory for d = %zu", d);
        return -1;
    }
    s->d = d;
    s->scale = scale;
    column_means(dt, x, n, d, s->mean);
    for (size_t j = 0; j < d; j++) s->std[j] = 0;
    if (scale) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < d; j++) {
                double c = get(dt, x, i * d + j) - s->mean[j];
                s->std[j] += c * c;
            }
    }
    for (size_t j = 0; j < d; j++) {
        double sd = sqrt(s->std[j] / (double)n);
        s->std[j] = scale && sd > 0 ? sd : 1.0; /* a constant feature only gets centred */
    }
    return 0;
}

int wg_scaler_apply(const wg_scaler *s, wg_dtype dt, void *x, size_t n)
{
    if (!s || !s->mean || !x) {
        wg_set_last_error("scaler_apply: the scaler is not fitted or x is NULL");
        return -1;
    }
    if (!dtype_ok("scaler_apply", dt)) return -1;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < s->d; j++) {
            size_t k = i * s->d + j;
            double v = (get(dt, x, k) - s->mean[j]) / s->std[j];
            if (dt == WG_F32)
                ((float *)x)[k] = (float)v;
            else
                ((double *)x)[k] = v;
        }
    return 0;
}

void wg_scaler_free(wg_scaler *s)
{
    if (!s) return;
    free(s->mean);
    free(s->std);
    memset(s, 0, sizeof *s);
}

/* ---- PCA ---------------------------------------------------------------- */

enum { PCA_BLOCK = 512 }; /* rows per matmul */

/* acc [m, q] (+)= A^T B through the matmul op, where A = rows of x (centred,
 * f64) [r, d] and B is either A itself (for the covariance) or a fixed [d, q]
 * matrix.  Only used with small tapes that are freed at once. */
static int gemm_block(wg_tape *t, const double *a, size_t r, size_t d, const double *b, size_t q, bool self,
                      double *out)
{
    wg_tape_reset(t);
    wg_tensor *A = wg_tensor_new(t, WG_F64, 2, (int64_t[]){(int64_t)r, (int64_t)d}, a, false);
    wg_tensor *P;
    if (self)
        P = wg_matmul_ex(t, A, A, true, false); /* [d, d] */
    else
        P = wg_matmul(t, A, wg_tensor_new(t, WG_F64, 2, (int64_t[]){(int64_t)d, (int64_t)q}, b, false)); /* [r, q] */
    if (!P) {
        wg_set_last_error("pca: %s", wg_tape_error(t));
        return -1;
    }
    const double *p = wg_data(P);
    size_t m = self ? d * d : r * q;
    if (self)
        for (size_t i = 0; i < m; i++) out[i] += p[i];
    else
        memcpy(out, p, sizeof(double) * m);
    return 0;
}

static void centre_rows(wg_dtype dt, const void *x, size_t i0, size_t r, size_t d, const double *mean, double *buf)
{
    for (size_t i = 0; i < r; i++)
        for (size_t j = 0; j < d; j++) buf[i * d + j] = get(dt, x, (i0 + i) * d + j) - mean[j];
}

int wg_pca_fit(wg_pca *p, wg_dtype dt, const void *x, size_t n, size_t d)
{
    if (!p || !x || n < 2 || d == 0 || d > 46340) {
        wg_set_last_error("pca_fit: need a pca, data with n >= 2 and 1 <= d <= 46340: n = %zu, d = %zu", n, d);
        return -1;
    }
    if (!dtype_ok("pca_fit", dt) || !all_finite("pca_fit", dt, x, n, d)) return -1;
    memset(p, 0, sizeof *p);
    size_t blk = n < PCA_BLOCK ? n : PCA_BLOCK;
    p->mean = malloc(sizeof(double) * d);
    p->eigvals = malloc(sizeof(double) * d);
    p->components = malloc(sizeof(double) * d * d);
    double *cov = calloc(d * d, sizeof(double)), *buf = malloc(sizeof(double) * blk * d), *w = malloc(sizeof(double) * d);
    wg_tape *t = wg_tape_new();
    double *work = NULL;
    int rc = -1;
    if (!p->mean || !p->eigvals || !p->components || !cov || !buf || !w || !t) {
        wg_set_last_error("pca_fit: out of memory for d = %zu", d);
        goto done;
    }
    p->d = d;
    column_means(dt, x, n, d, p->mean);
    for (size_t i0 = 0; i0 < n; i0 += blk) {
        size_t r = n - i0 < blk ? n - i0 : blk;
        centre_rows(dt, x, i0, r, d, p->mean, buf);
        if (gemm_block(t, buf, r, d, NULL, 0, true, cov) != 0) goto done;
    }
    for (size_t i = 0; i < d * d; i++) cov[i] /= (double)(n - 1);
    /* Symmetric: row- and column-major agree.  dsyev overwrites cov with the
     * eigenvectors as columns (column-major) and w with ascending eigenvalues. */
    int nn = (int)d, info = 0, lwork = -1;
    double wq;
    dsyev_("V", "U", &nn, cov, &nn, w, &wq, &lwork, &info, 1, 1);
    lwork = info == 0 && wq >= 1 ? (int)wq : 3 * nn;
    work = malloc(sizeof(double) * (size_t)lwork);
    if (!work) {
        wg_set_last_error("pca_fit: out of memory for the LAPACK workspace");
        goto done;
    }
    dsyev_("V", "U", &nn, cov, &nn, w, work, &lwork, &info, 1, 1);
    if (info != 0) {
        wg_set_last_error("pca_fit: LAPACK dsyev failed: info = %d", info);
        goto done;
    }
    for (size_t k = 0; k < d; k++) { /* decreasing order; column d-1-k is a contiguous run */
        p->eigvals[k] = w[d - 1 - k] > 0 ? w[d - 1 - k] : 0.0; /* rounding can make a zero slightly negative */
        memcpy(p->components + k * d, cov + (d - 1 - k) * d, sizeof(double) * d);
    }
    rc = 0;
done:
    if (rc != 0) wg_pca_free(p);
    free(cov);
    free(buf);
    free(w);
    free(work);
    wg_tape_free(t);
    return rc;
}

int wg_pca_apply(const wg_pca *p, wg_dtype dt, const void *x, size_t n, size_t n_comp, bool whiten, double eps,
                 void *out)
{
    if (!p || !p->components || !x || !out || n_comp == 0 || n_comp > p->d) {
        wg_set_last_error("pca_apply: need a fitted pca, x, out and 1 <= n_comp <= %zu: n_comp = %zu", p ? p->d : 0,
                          n_comp);
        return -1;
    }
    if (!dtype_ok("pca_apply", dt)) return -1;
    if (!(eps >= 0)) {
        wg_set_last_error("pca_apply: eps must be >= 0: got %g", eps);
        return -1;
    }
    size_t d = p->d, blk = n < PCA_BLOCK ? (n ? n : 1) : PCA_BLOCK;
    double *u = malloc(sizeof(double) * d * n_comp), *buf = malloc(sizeof(double) * blk * d),
           *res = malloc(sizeof(double) * blk * n_comp);
    wg_tape *t = wg_tape_new();
    int rc = -1;
    if (!u || !buf || !res || !t) {
        wg_set_last_error("pca_apply: out of memory");
        goto done;
    }
    /* u [d, n_comp]: column k is component k, scaled for whitening. */
    for (size_t k = 0; k < n_comp; k++) {
        double sc = 1.0;
        if (whiten) {
            double s = sqrt(p->eigvals[k] + eps);
            sc = s > 0 ? 1.0 / s : 0.0; /* a zero-variance direction stays 0 */
        }
        for (size_t j = 0; j < d; j++) u[j * n_comp + k] = p->components[k * d + j] * sc;
    }
    for (size_t i0 = 0; i0 < n; i0 += blk) {
        size_t r = n - i0 < blk ? n - i0 : blk;
        centre_rows(dt, x, i0, r, d, p->mean, buf);
        if (gemm_block(t, buf, r, d, u, n_comp, false, res) != 0) goto done;
        for (size_t i = 0; i < r * n_comp; i++) {
            if (dt == WG_F32)
                ((float *)out)[i0 * n_comp + i] = (float)res[i];
            else
                ((double *)out)[i0 * n_comp + i] = res[i];
        }
    }
    rc = 0;
done:
    free(u);
    free(buf);
    free(res);
    wg_tape_free(t);
    return rc;
}

void wg_pca_free(wg_pca *p)
{
    if (!p) return;
    free(p->mean);
    free(p->eigvals);
    free(p->components);
    memset(p, 0, sizeof *p);
}

/* ---- encoding, batches, splits ------------------------------------------ */

int wg_one_hot(wg_dtype dt, const int *labels, size_t n, int n_classes, void *out)
{
    if (!labels || !out || n_classes < 1) {
        wg_set_last_error("one_hot: need labels, out and n_classes >= 1: n_classes = %d", n_classes);
        return -1;
    }
    if (!dtype_ok("one_hot", dt)) return -1;
    for (size_t i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= n_classes) {
            wg_set_last_error("one_hot: label out of range [0,%d): labels[%zu] = %d", n_classes, i, labels[i]);
            return -1;
        }
    size_t c = (size_t)n_classes;
    memset(out, 0, n * c * (dt == WG_F32 ? sizeof(float) : sizeof(double)));
    for (size_t i = 0; i < n; i++) {
        if (dt == WG_F32)
            ((float *)out)[i * c + (size_t)labels[i]] = 1.0f;
        else
            ((double *)out)[i * c + (size_t)labels[i]] = 1.0;
    }
    return 0;
}

static void shuffle(wg_rng *r, size_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) { /* Fisher-Yates */
        size_t j = (size_t)wg_rng_below(r, i);
        size_t tmp = a[i - 1];
        a[i - 1] = a[j];
        a[j] = tmp;
    }
}

int wg_batcher_init(wg_batcher *b, size_t n, size_t batch_size, bool shuffle_, bool drop_last, uint64_t seed)
{
    if (!b || n == 0 || batch_size == 0) {
        wg_set_last_error("batcher_init: need n >= 1 and batch_size >= 1: n = %zu, batch_size = %zu", n, batch_size);
        return -1;
    }
    memset(b, 0, sizeof *b);
    b->perm = malloc(sizeof(size_t) * n);
    if (!b->perm) {
        wg_set_last_error("batcher_init: out of memory for n = %zu", n);
        return -1;
    }
    for (size_t i = 0; i < n; i++) b->perm[i] = i;
    b->n = n;
    b->batch_size = batch_size;
    b->shuffle = shuffle_;
    b->drop_last = drop_last;
    b->shard_size = 1;
    wg_rng_seed(&b->rng, seed);
    return 0;
}

bool wg_batcher_next(wg_batcher *b, const size_t **idx, size_t *count)
{
    if (!b || !b->perm) return false;
    if (b->pos == 0 && b->shuffle) shuffle(&b->rng, b->perm, b->n);
    size_t left = b->n - b->pos;
    if (left == 0 || (b->drop_last && left < b->batch_size)) {
        b->pos = 0;
        b->epoch++;
        if (count) *count = 0;
        if (idx) *idx = NULL;
        return false;
    }
    size_t c = left < b->batch_size ? left : b->batch_size;
    b->global_count = c;
    /* This rank's share of the global batch (the whole of it unsharded). */
    size_t parts = b->shard_size > 1 ? (size_t)b->shard_size : 1, r = parts > 1 ? (size_t)b->shard_rank : 0;
    size_t lo = c * r / parts, hi = c * (r + 1) / parts;
    if (idx) *idx = b->perm + b->pos + lo;
    if (count) *count = hi - lo;
    b->pos += c;
    return true;
}

int wg_batcher_shard(wg_batcher *b, int rank, int size)
{
    if (!b || !b->perm || size < 1 || rank < 0 || rank >= size) {
        wg_set_last_error("batcher_shard: need an initialised batcher and 0 <= rank < size: rank %d, size %d",
                rank, size);
        return -1;
    }
    b->shard_rank = rank;
    b->shard_size = size;
    return 0;
}

void wg_batcher_free(wg_batcher *b)
{
    if (!b) return;
    free(b->perm);
    memset(b, 0, sizeof *b);
}

void wg_gather_rows(wg_dtype dt, const void *src, size_t row_elems, const size_t *idx, size_t count, void *dst)
{
    if (!src || !idx || !dst) return;
    size_t es = dt == WG_F32 ? sizeof(float) : sizeof(double), rb = row_elems * es;
    for (size_t r = 0; r < count; r++) memcpy((char *)dst + r * rb, (const char *)src + idx[r] * rb, rb);
}

void wg_gather_labels(const int *src, const size_t *idx, size_t count, int *dst)
{
    if (!src || !idx || !dst) return;
    for (size_t r = 0; r < count; r++) dst[r] = src[idx[r]];
}

int wg_train_val_split(size_t n, double val_fraction, uint64_t seed, size_t *perm, size_t *n_train)
{
    if (!perm || !n_train || !(val_fraction >= 0 && val_fraction <= 1)) {
        wg_set_last_error("train_val_split: need perm, n_train and val_fraction in [0,1]: got %g", val_fraction);
        return -1;
    }
    wg_rng r;
    wg_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) perm[i] = i;
    shuffle(&r, perm, n);
    size_t n_val = (size_t)llround((double)n * val_fraction);
    *n_train = n - n_val;
    return 0;
}
