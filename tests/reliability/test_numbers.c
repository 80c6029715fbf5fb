/* test_numbers: bad numbers are refused with a message, not accepted
 * silently (issue 13, item 6): PCA and the scaler on data with NaN or Inf
 * (they reported success with NaN components and a std of 1), Adam(W) with
 * eps = 0 (a zero gradient then wrote NaN weights), the same parameter twice
 * in one optimiser (it was stepped twice), non-finite hyperparameters. */
#include <math.h>

#include "wengert.h"
#include "wg_test.h"

static void check_msg(const char *want)
{
    const char *got = wg_last_error();
    CHECK(got && strstr(got, want), "message \"%s\" lacks \"%s\"", got ? got : "(none)", want);
}

int main(void)
{
    for (int bad = 0; bad < 2; bad++) {
        double x[3][2] = {{1, 2}, {3, 4}, {5, 6}};
        x[2][1] = bad ? INFINITY : NAN;
        wg_scaler s;
        CHECK(wg_scaler_fit(&s, WG_F64, x, 3, 2, true) == -1, "scaler_fit accepted %g", x[2][1]);
        check_msg(bad ? "scaler_fit: non-finite value inf at row 2, column 1" : "scaler_fit: non-finite value nan at row 2, column 1");
        float xf[3][2] = {{1, 2}, {3, 4}, {5, 6}};
        xf[1][0] = bad ? -INFINITY : NAN;
        wg_pca p;
        CHECK(wg_pca_fit(&p, WG_F32, xf, 3, 2) == -1, "pca_fit accepted %g", (double)xf[1][0]);
        check_msg(bad ? "pca_fit: non-finite value -inf at row 1, column 0" : "pca_fit: non-finite value nan at row 1, column 0");
    }
    /* finite data still fits */
    {
        double x[3][2] = {{1, 2}, {3, 5}, {5, 6}};
        wg_scaler s;
        wg_pca p;
        CHECK(wg_scaler_fit(&s, WG_F64, x, 3, 2, true) == 0 && wg_pca_fit(&p, WG_F64, x, 3, 2) == 0, "finite data: %s",
              wg_last_error());
        wg_scaler_free(&s);
        wg_pca_free(&p);
    }
    const int64_t shape[1] = {4};
    wg_param *a = wg_param_new(WG_F32, 1, shape), *b = wg_param_new(WG_F32, 1, shape);
    for (int kind = WG_OPT_ADAM; kind <= WG_OPT_ADAMW; kind++) {
        wg_optim_config c = wg_optim_defaults((wg_opt_kind)kind);
        c.eps = 0;
        CHECK(wg_optim_new(&c, 1, &a) == NULL, "%s with eps = 0 accepted", wg_opt_name((wg_opt_kind)kind));
        check_msg("needs eps > 0");
    }
    {
        wg_optim_config c = wg_optim_defaults(WG_OPT_SGD);
        c.lr = INFINITY;
        CHECK(wg_optim_new(&c, 1, &a) == NULL, "lr = inf accepted");
        check_msg("optim_new: hyperparameters must be finite");
    }
    wg_param *dup[3] = {a, b, a};
    CHECK(wg_optim_new(NULL, 3, dup) == NULL, "the same parameter twice accepted");
    check_msg("optim_new: params[0] and params[2] are the same parameter");
    wg_param *two[2] = {a, b};
    wg_optim *o = wg_optim_new(NULL, 2, two);
    CHECK(o != NULL, "two distinct parameters: %s", wg_last_error());
    wg_optim_free(o);
    wg_param_free(a);
    wg_param_free(b);
    return wg_test_done("test_numbers");
}
