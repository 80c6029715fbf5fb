/* test_grad_hook: wg_tape_set_grad_hook reports each parameter when its
 * gradient is final.  At every report the test copies the gradient; after
 * backward the copy must equal the final gradient bit for bit (so nothing
 * was added after the report), the reports come in reverse recording order,
 * a parameter used twice is reported at both leaves with the final value at
 * the last report, a parameter no gradient reaches and a non-parameter leaf
 * are not reported, and removing the hook stops the reports. */
#include <stdlib.h>

#include "wengert.h"
#include "wg_test.h"

enum { MAXR = 16 };
typedef struct log {
    int n;
    wg_param *who[MAXR];
    double *copy[MAXR];
} hook_log;

static void record(wg_param *p, void *ctx)
{
    hook_log *L = ctx;
    if (L->n == MAXR) return;
    L->who[L->n] = p;
    L->copy[L->n] = malloc(p->numel * sizeof(double));
    for (size_t i = 0; i < p->numel; i++) L->copy[L->n][i] = ((double *)p->grad)[i];
    L->n++;
}

static wg_param *param(int64_t r, int64_t c, double base)
{
    wg_param *p = wg_param_new(WG_F64, 2, (int64_t[]){r, c});
    for (size_t i = 0; i < p->numel; i++) ((double *)p->data)[i] = base + 0.1 * (double)i;
    return p;
}

static int same(const double *a, const wg_param *p)
{
    return memcmp(a, p->grad, p->numel * sizeof(double)) == 0;
}

int main(void)
{
    wg_param *A = param(3, 4, 0.3), *B = param(4, 2, -0.2), *U = param(2, 2, 1.0);
    wg_tape *t = wg_tape_new();
    hook_log L = {0};
    wg_tape_set_grad_hook(t, record, &L);
    /* f = sum(tanh(x A) B) + sum(A * A): A is recorded twice (leaves 1 and 4),
     * B once, U is recorded but reaches nothing; x is a leaf with a gradient
     * but not a parameter. */
    double xv[15];
    for (int i = 0; i < 15; i++) xv[i] = 0.2 * i - 1.1;
    wg_tensor *x = wg_tensor_new(t, WG_F64, 2, (int64_t[]){5, 3}, xv, true);
    wg_tensor *a1 = wg_use(t, A);
    wg_tensor *h = wg_tanh(t, wg_matmul(t, x, a1));
    wg_tensor *y = wg_matmul(t, h, wg_use(t, B));
    wg_use(t, U);
    wg_tensor *a2 = wg_use(t, A);
    wg_tensor *f = wg_add(t, wg_sum(t, y), wg_sum(t, wg_mul(t, a2, a2)));
    CHECK(f && wg_backward(t, f) == 0, "%s", wg_tape_error(t));
    CHECK(L.n == 3, "%d reports, want 3 (A, B, A)", L.n);
    if (L.n == 3) {
        CHECK(L.who[0] == A && L.who[1] == B && L.who[2] == A, "order: %p %p %p", (void *)L.who[0],
              (void *)L.who[1], (void *)L.who[2]);
        CHECK(same(L.copy[1], B), "B changed after its report");
        CHECK(same(L.copy[2], A), "A changed after its last report");
        CHECK(!same(L.copy[0], A), "A's first report (newer leaf) should precede the matmul's contribution");
    }
    /* Exact: at A's first report only d/dA sum(A*A) = 2A had landed. */
    if (L.n >= 1)
        for (size_t i = 0; i < A->numel; i++)
            CHECK(L.copy[0][i] == 2 * ((double *)A->data)[i], "A's first report [%zu] = %g", i, L.copy[0][i]);
    for (int i = 0; i < L.n; i++) free(L.copy[i]);
    /* The hook stays over a reset; NULL removes it. */
    L.n = 0;
    wg_tape_reset(t);
    wg_param_zero_grad(B);
    CHECK(wg_backward(t, wg_sum(t, wg_use(t, B))) == 0, "%s", wg_tape_error(t));
    CHECK(L.n == 1 && L.who[0] == B, "after reset: %d reports", L.n);
    for (int i = 0; i < L.n; i++) free(L.copy[i]);
    L.n = 0;
    wg_tape_reset(t);
    wg_tape_set_grad_hook(t, NULL, NULL);
    CHECK(wg_backward(t, wg_sum(t, wg_use(t, B))) == 0, "%s", wg_tape_error(t));
    CHECK(L.n == 0, "removed hook: %d reports", L.n);
    wg_tape_set_grad_hook(NULL, record, &L); /* a NULL tape is a no-op */
    wg_tape_free(t);
    wg_param_free(A);
    wg_param_free(B);
    wg_param_free(U);
    return wg_test_done("test_grad_hook");
}
