/* metrics.c: accuracy, error rate and the confusion matrix, on plain arrays. */
#include "wg_nn.h"

void wg_argmax_rows(wg_dtype dt, const void *scores, size_t n, size_t c, int *pred)
{
    if (!scores || !pred || c == 0) return;
    for (size_t i = 0; i < n; i++) {
        size_t best = 0;
        for (size_t j = 1; j < c; j++) {
            double a = dt == WG_F32 ? ((const float *)scores)[i * c + j] : ((const double *)scores)[i * c + j];
            double b = dt == WG_F32 ? ((const float *)scores)[i * c + best] : ((const double *)scores)[i * c + best];
            if (a > b) best = j;
        }
        pred[i] = (int)best;
    }
}

double wg_accuracy(const int *pred, const int *labels, size_t n)
{
    if (!pred || !labels || n == 0) return 0.0;
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) ok += pred[i] == labels[i];
    return (double)ok / (double)n;
}

double wg_error_rate(const int *pred, const int *labels, size_t n)
{
    if (!pred || !labels || n == 0) return 1.0;
    return 1.0 - wg_accuracy(pred, labels, n);
}

double wg_accuracy_of(const wg_tensor *scores, const int *labels)
{
    if (!scores || !labels || wg_ndim(scores) != 2) return 0.0;
    size_t n = (size_t)wg_dim(scores, 0), c = (size_t)wg_dim(scores, 1), ok = 0;
    const void *d = wg_data(scores);
    for (size_t i = 0; i < n; i++) {
        int p = 0;
        wg_argmax_rows(wg_dtype_of(scores), (const char *)d + i * c * (wg_dtype_of(scores) == WG_F32 ? 4 : 8), 1, c,
                       &p);
        ok += p == labels[i];
    }
    return n ? (double)ok / (double)n : 0.0;
}

int wg_confusion_matrix(const int *pred, const int *labels, size_t n, int c, size_t *cm)
{
    if (!pred || !labels || !cm || c < 1) {
        wg_set_last_error("confusion_matrix: NULL array or c = %d < 1", c);
        return -1;
    }
    for (size_t i = 0; i < (size_t)c * (size_t)c; i++) cm[i] = 0;
    for (size_t i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= c || pred[i] < 0 || pred[i] >= c) {
            wg_set_last_error("confusion_matrix: class out of range [0,%d): labels[%zu] = %d, pred[%zu] = %d", c, i,
                              labels[i], i, pred[i]);
            return -1;
        }
        cm[(size_t)labels[i] * (size_t)c + (size_t)pred[i]]++;
    }
    return 0;
}

void wg_confusion_print(const size_t *cm, int c, FILE *f)
{
    if (!f) f = stdout;
    if (!cm || c < 1) return;
    fprintf(f, "true\\pred");
    for (int j = 0; j < c; j++) fprintf(f, " %6d", j);
    fputc('\n', f);
    for (int i = 0; i < c; i++) {
        fprintf(f, "%9d", i);
        for (int j = 0; j < c; j++) fprintf(f, " %6zu", cm[(size_t)i * (size_t)c + (size_t)j]);
        fputc('\n', f);
    }
}
