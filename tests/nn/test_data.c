/* Data utilities and metrics: standardisation fitted on train and applied to
 * test, PCA decorrelation and whitening (identity covariance on correlated
 * data), one-hot, the seeded mini-batch iterator, the train/validation split,
 * accuracy, error rate and the confusion matrix. */
#include "nn_test_util.h"

/* Covariance (divided by n - 1) of x [n, d] into c [d, d]. */
static void covariance(const double *x, size_t n, size_t d, double *c)
{
    double mean[8] = {0};
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) mean[j] += x[i * d + j] / (double)n;
    for (size_t a = 0; a < d; a++)
        for (size_t b = 0; b < d; b++) {
            double s = 0;
            for (size_t i = 0; i < n; i++) s += (x[i * d + a] - mean[a]) * (x[i * d + b] - mean[b]);
            c[a * d + b] = s / (double)(n - 1);
        }
}

/* n samples of a correlated 3-D Gaussian: x = A z + m. */
static double *correlated(size_t n, uint64_t seed)
{
    static const double A[9] = {2, 0, 0, 1.5, 0.5, 0, -1, 0.8, 0.3}, m[3] = {5, -3, 0.5};
    double *x = malloc(sizeof(double) * n * 3);
    wg_rng r;
    wg_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        double z[3] = {wg_rng_normal(&r), wg_rng_normal(&r), wg_rng_normal(&r)};
        for (int a = 0; a < 3; a++) x[i * 3 + a] = m[a] + A[a * 3] * z[0] + A[a * 3 + 1] * z[1] + A[a * 3 + 2] * z[2];
    }
    return x;
}

static void test_scaler(void)
{
    enum { N = 1000 };
    double *tr = correlated(N, 1), *te = correlated(N, 2);
    wg_scaler s;
    CHECK(wg_scaler_fit(&s, WG_F64, tr, N, 3, true) == 0, "fit");
    double mean0 = s.mean[0], std0 = s.std[0];
    CHECK(wg_scaler_apply(&s, WG_F64, tr, N) == 0, "apply");
    double c[9];
    covariance(tr, N, 3, c);
    for (int j = 0; j < 3; j++) {
        double m = 0;
        for (int i = 0; i < N; i++) m += tr[i * 3 + j] / N;
        CHECK_NEAR(m, 0, 1e-12);
        CHECK_NEAR(c[j * 4] * (N - 1) / N, 1, 1e-12); /* population variance 1 */
    }
    /* the test set gets the training set's mean and std, not its own */
    double te0 = te[0];
    wg_scaler_apply(&s, WG_F64, te, N);
    CHECK_NEAR(te[0], (te0 - mean0) / std0, 1e-15);
    wg_scaler_free(&s);
    /* zero-centring only; a constant feature is centred, not divided by 0 */
    float xf[6] = {1, 7, 3, 7, 5, 7};
    CHECK(wg_scaler_fit(&s, WG_F32, xf, 3, 2, true) == 0, "fit f32");
    wg_scaler_apply(&s, WG_F32, xf, 3);
    CHECK(xf[1] == 0 && xf[3] == 0 && xf[5] == 0, "constant feature becomes 0");
    wg_scaler_free(&s);
    float xc[4] = {1, 10, 3, 20};
    wg_scaler_fit(&s, WG_F32, xc, 2, 2, false);
    wg_scaler_apply(&s, WG_F32, xc, 2);
    CHECK(xc[0] == -1 && xc[1] == -5 && xc[2] == 1 && xc[3] == 5, "zero-centre keeps the scale");
    wg_scaler_free(&s);
    CHECK(wg_scaler_fit(&s, WG_F32, xc, 0, 2, true) == -1, "empty data");
    free(tr);
    free(te);
}

static void test_pca(void)
{
    enum { N = 2000 };
    double *x = correlated(N, 3);
    double c[9];
    covariance(x, N, 3, c);
    CHECK(fabs(c[1]) > 1, "the data are correlated: cov01 = %g", c[1]);
    wg_pca p;
    CHECK(wg_pca_fit(&p, WG_F64, x, N, 3) == 0, "pca_fit: %s", wg_last_error());
    CHECK(p.eigvals[0] >= p.eigvals[1] && p.eigvals[1] >= p.eigvals[2] && p.eigvals[2] > 0, "eigenvalues decrease");
    /* each component is an eigenvector of the covariance: C u = lambda u */
    for (int k = 0; k < 3; k++)
        for (int a = 0; a < 3; a++) {
            double cu = 0;
            for (int b = 0; b < 3; b++) cu += c[a * 3 + b] * p.components[k * 3 + b];
            CHECK_NEAR(cu, p.eigvals[k] * p.components[k * 3 + a], 1e-10);
        }
    /* decorrelation: diagonal covariance with the eigenvalues; whitening: identity */
    double *y = malloc(sizeof(double) * N * 3);
    CHECK(wg_pca_apply(&p, WG_F64, x, N, 3, false, 0, y) == 0, "decorrelate");
    covariance(y, N, 3, c);
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) CHECK_NEAR(c[a * 3 + b], a == b ? p.eigvals[a] : 0, 1e-9);
    CHECK(wg_pca_apply(&p, WG_F64, x, N, 3, true, 0, y) == 0, "whiten");
    covariance(y, N, 3, c);
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) CHECK_NEAR(c[a * 3 + b], a == b ? 1 : 0, 1e-10);
    /* f32 data and two components */
    float *xf = malloc(sizeof(float) * N * 3), *yf = malloc(sizeof(float) * N * 2);
    for (int i = 0; i < N * 3; i++) xf[i] = (float)x[i];
    wg_pca pf;
    CHECK(wg_pca_fit(&pf, WG_F32, xf, N, 3) == 0 && wg_pca_apply(&pf, WG_F32, xf, N, 2, true, 0, yf) == 0, "f32 pca");
    for (int i = 0; i < N * 2; i++) y[i] = yf[i];
    double c2[4];
    covariance(y, N, 2, c2);
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++) CHECK_NEAR(c2[a * 2 + b], a == b ? 1 : 0, 1e-5);
    CHECK(wg_pca_apply(&p, WG_F64, x, N, 4, true, 0, y) == -1, "too many components");
    CHECK_STR(wg_last_error(), "pca_apply: need a fitted pca, x, out and 1 <= n_comp <= 3: n_comp = 4");
    wg_pca_free(&p);
    wg_pca_free(&pf);
    free(x);
    free(y);
    free(xf);
    free(yf);
}

static void test_one_hot_and_batches(void)
{
    int labels[4] = {2, 0, 1, 2};
    float oh[12];
    CHECK(wg_one_hot(WG_F32, labels, 4, 3, oh) == 0, "one_hot");
    for (int i = 0; i < 4; i++)
        for (int c = 0; c < 3; c++) CHECK(oh[i * 3 + c] == (c == labels[i] ? 1.0f : 0.0f), "one_hot[%d][%d]", i, c);
    labels[1] = 3;
    CHECK(wg_one_hot(WG_F32, labels, 4, 3, oh) == -1, "label out of range");
    CHECK_STR(wg_last_error(), "one_hot: label out of range [0,3): labels[1] = 3");

    /* every sample once per epoch, in batches of 4, 4, 2; a new order per epoch */
    wg_batcher b;
    CHECK(wg_batcher_init(&b, 10, 4, true, false, 77) == 0, "batcher");
    size_t first[10] = {0}, k = 0;
    for (int epoch = 0; epoch < 3; epoch++) {
        int seen[10] = {0}, nb = 0;
        const size_t *idx;
        size_t cnt;
        size_t order[10], m = 0;
        while (wg_batcher_next(&b, &idx, &cnt)) {
            CHECK(cnt == (nb < 2 ? 4u : 2u), "batch %d has %zu", nb, cnt);
            for (size_t i = 0; i < cnt; i++) seen[idx[i]]++, order[m++] = idx[i];
            nb++;
        }
        CHECK(nb == 3 && b.epoch == epoch + 1, "3 batches per epoch");
        for (int i = 0; i < 10; i++) CHECK(seen[i] == 1, "sample %d seen %d times", i, seen[i]);
        if (epoch == 0)
            for (k = 0; k < 10; k++) first[k] = order[k];
        else {
            int same = 1;
            for (k = 0; k < 10; k++) same &= order[k] == first[k];
            CHECK(!same, "epoch %d reshuffled", epoch);
        }
    }
    /* the same seed gives the same order */
    wg_batcher b2;
    wg_batcher_init(&b2, 10, 4, true, false, 77);
    const size_t *i2;
    size_t c2;
    wg_batcher_next(&b2, &i2, &c2);
    for (k = 0; k < 4; k++) CHECK(i2[k] == first[k], "same seed, same first batch");
    wg_batcher_free(&b2);
    wg_batcher_free(&b);
    /* drop_last, no shuffle */
    wg_batcher_init(&b, 10, 4, false, true, 1);
    int nb = 0;
    while (wg_batcher_next(&b, &i2, &c2)) {
        CHECK(c2 == 4 && i2[0] == (size_t)(4 * nb), "in order, full batches");
        nb++;
    }
    CHECK(nb == 2, "drop_last leaves 2 batches");
    wg_batcher_free(&b);
    /* gather */
    double src[6] = {0, 1, 10, 11, 20, 21}, dst[4];
    size_t idx[2] = {2, 0};
    wg_gather_rows(WG_F64, src, 2, idx, 2, dst);
    CHECK(dst[0] == 20 && dst[1] == 21 && dst[2] == 0 && dst[3] == 1, "gather rows");
    int ls[3] = {7, 8, 9}, ld[2];
    wg_gather_labels(ls, idx, 2, ld);
    CHECK(ld[0] == 9 && ld[1] == 7, "gather labels");
    /* split: a permutation, 20 % validation */
    size_t perm[50], ntr;
    CHECK(wg_train_val_split(50, 0.2, 5, perm, &ntr) == 0 && ntr == 40, "split 40/10");
    int seen[50] = {0};
    for (k = 0; k < 50; k++) seen[perm[k]]++;
    for (k = 0; k < 50; k++) CHECK(seen[k] == 1, "split is a permutation");
    CHECK(wg_train_val_split(50, 1.5, 5, perm, &ntr) == -1, "bad fraction");
}

static void test_metrics(void)
{
    const double scores[8] = {0.1, 0.9, 2, 1, 0.5, 0.5, -1, -2};
    int pred[4], labels[4] = {1, 0, 1, 1};
    wg_argmax_rows(WG_F64, scores, 4, 2, pred);
    CHECK(pred[0] == 1 && pred[1] == 0 && pred[2] == 0 && pred[3] == 0, "argmax (ties to the first)");
    CHECK_NEAR(wg_accuracy(pred, labels, 4), 0.5, 0);
    CHECK_NEAR(wg_error_rate(pred, labels, 4), 0.5, 0);
    wg_tape *t = wg_tape_new();
    wg_tensor *s = wg_tensor_new(t, WG_F64, 2, (int64_t[]){4, 2}, scores, false);
    CHECK_NEAR(wg_accuracy_of(s, labels), 0.5, 0);
    wg_tape_free(t);
    size_t cm[4];
    CHECK(wg_confusion_matrix(pred, labels, 4, 2, cm) == 0, "confusion");
    CHECK(cm[0] == 1 && cm[1] == 0 && cm[2] == 2 && cm[3] == 1, "cm = [[1,0],[2,1]]");
    labels[2] = 5;
    CHECK(wg_confusion_matrix(pred, labels, 4, 2, cm) == -1, "label out of range");
    CHECK_STR(wg_last_error(), "confusion_matrix: class out of range [0,2): labels[2] = 5, pred[2] = 0");
}

int main(void)
{
    test_scaler();
    test_pca();
    test_one_hot_and_batches();
    test_metrics();
    return wg_test_done("nn data");
}
