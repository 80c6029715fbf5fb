/* test_anomaly: anomaly mode finds the op that made the first NaN or Inf,
 * in the forward pass (its output) and in the backward pass (the gradient
 * its VJP produced), names it with its index on the tape and its input
 * shapes, and is off unless asked for. */
#include <stdlib.h>

#include "wengert.h"
#include "wg_test.h"

static wg_tape *tape(bool anomaly)
{
    wg_tape *t = wg_tape_new();
    wg_tape_set_anomaly(t, anomaly);
    return t;
}

/* log of a negative element: NaN in the forward pass. */
static void forward_nan(void)
{
    int64_t s[2] = {2, 3};
    double x0[6] = {1, 2, 3, -4, 5, 6};
    wg_tape *t = tape(true);
    wg_tensor *x = wg_tensor_new(t, WG_F64, 2, s, x0, true); /* node 0 */
    wg_tensor *e = wg_exp(t, x);                             /* node 1: finite */
    wg_tensor *y = wg_log(t, wg_sub(t, e, 1));               /* node 2 const, 3 sub, 4 log */
    CHECK(e != NULL, "exp is finite and passes");
    CHECK(y == NULL, "log of a negative number is refused in anomaly mode");
    CHECK(wg_tape_status(t) == WG_ERR_NAN, "status %d", (int)wg_tape_status(t));
    (void)y;
    wg_tape_free(t);

    /* The same with the bad value reaching log directly: exact message. */
    t = tape(true);
    x = wg_tensor_new(t, WG_F64, 2, s, x0, true);
    y = wg_log(t, x);
    CHECK(y == NULL, "log(-4) is NaN");
    CHECK_STR(wg_tape_error(t), "log: non-finite value in the forward pass at node 1: inputs f64[2,3], output f64[2,3]");
    CHECK(wg_sum(t, x) == NULL, "later ops return NULL");
    wg_tape_free(t);
}

/* 0/0 with broadcasting, and overflow to Inf: binary ops name both inputs. */
static void forward_binary_and_inf(void)
{
    int64_t sa[2] = {2, 3}, sb[1] = {3};
    float a0[6] = {1, 2, 0, 4, 5, 0}, b0[3] = {1, 2, 0};
    wg_tape *t = tape(true);
    wg_tensor *a = wg_tensor_new(t, WG_F32, 2, sa, a0, true);
    wg_tensor *b = wg_tensor_new(t, WG_F32, 1, sb, b0, true);
    wg_tensor *q = wg_div(t, a, b);
    CHECK(q == NULL, "0/0 is refused");
    CHECK_STR(wg_tape_error(t), "div: non-finite value in the forward pass at node 2: inputs f32[2,3], f32[3], output f32[2,3]");
    wg_tape_free(t);

    t = tape(true);
    wg_tensor *x = wg_var(t, 1000);
    wg_tensor *h = wg_tanh(t, x);
    wg_tensor *y = wg_exp(t, x);
    CHECK(h != NULL, "tanh(1000) = 1 is finite");
    CHECK(y == NULL, "exp(1000) overflows f64");
    CHECK_STR(wg_tape_error(t), "exp: non-finite value in the forward pass at node 2: inputs f64[], output f64[]");
    wg_tape_free(t);
}

/* sqrt at 0: the value is 0, its gradient 1/(2*0) is Inf.  The offender is
 * sqrt (whose VJP made the Inf), not the node that received it. */
static void backward_inf(void)
{
    wg_tape *t = tape(true);
    wg_tensor *x = wg_var(t, 0);        /* node 0 */
    wg_tensor *r = wg_sqrt(t, x);       /* node 1 */
    wg_tensor *y = wg_mul(t, r, 3);     /* node 2 const, node 3 mul */
    CHECK(y != NULL, "the forward pass is finite: %s", wg_tape_error(t));
    CHECK(wg_backward(t, y) == -1, "backward fails");
    CHECK(wg_tape_status(t) == WG_ERR_NAN, "status %d", (int)wg_tape_status(t));
    CHECK_STR(wg_tape_error(t), "sqrt: non-finite value in the backward pass at node 1: inputs f64[], output f64[]");
    wg_tape_free(t);

    /* The Inf lands in an intermediate node (add), still blamed on sqrt. */
    t = tape(true);
    x = wg_var(t, 0);                   /* node 0 */
    wg_tensor *m = wg_add(t, x, 0.0);   /* node 1 const, node 2 add */
    r = wg_sqrt(t, m);                  /* node 3 */
    y = wg_sum(t, wg_mul(t, r, r));     /* node 4 mul, node 5 sum */
    CHECK(wg_backward(t, y) == -1, "backward fails");
    CHECK_STR(wg_tape_error(t), "sqrt: non-finite value in the backward pass at node 3: inputs f64[], output f64[]");
    wg_tape_free(t);

    /* 1/x at a tiny x: the value 1e200 is finite, the gradient -1e400 is not. */
    int64_t s[1] = {2};
    double x0[2] = {1, 1e-200};
    t = tape(true);
    wg_tensor *v = wg_tensor_new(t, WG_F64, 1, s, x0, true); /* node 0 */
    wg_tensor *d = wg_div(t, 1.0, v);                       /* node 1 const, node 2 div */
    y = wg_sum(t, d);
    CHECK(d != NULL, "1/1e-200 is finite: %s", wg_tape_error(t));
    CHECK(wg_backward(t, y) == -1, "backward fails");
    CHECK_STR(wg_tape_error(t), "div: non-finite value in the backward pass at node 2: inputs f64[], f64[2], output f64[2]");
    wg_tape_free(t);

    /* A non-finite seed is reported at the output. */
    t = tape(true);
    x = wg_tensor_new(t, WG_F64, 1, s, x0, true);
    y = wg_mul(t, x, 2.0);
    double bad[2] = {1, NAN};
    wg_tensor *seed = wg_tensor_new(t, WG_F64, 1, s, bad, false); /* leaves are data, not checked */
    CHECK(seed != NULL, "a leaf holding NaN is recorded");
    CHECK(wg_backward_seed(t, y, seed) == -1, "a NaN seed fails backward");
    CHECK_STR(wg_tape_error(t), "mul: non-finite value in the backward pass at node 2: inputs f64[2], f64[], output f64[2]");
    wg_tape_free(t);
}

/* Off by default, and the same computations then run to the end. */
static void off_by_default(void)
{
    unsetenv("WG_ANOMALY");
    wg_tape *t = wg_tape_new();
    wg_tensor *x = wg_var(t, -1);
    wg_tensor *y = wg_log(t, x);
    CHECK(y != NULL && isnan(wg_item(y)), "log(-1) is NaN, no error, when off");
    CHECK(wg_tape_error(t) == NULL, "no error: %s", wg_tape_error(t));
    wg_tape_reset(t);
    x = wg_var(t, 0);
    y = wg_sqrt(t, x);
    CHECK(wg_backward(t, y) == 0 && isinf(wg_grad_item(x)), "an Inf gradient passes when off");
    wg_tape_free(t);

    /* WG_ANOMALY=1 turns it on for new tapes; 0 does not; the flag wins. */
    setenv("WG_ANOMALY", "1", 1);
    t = wg_tape_new();
    CHECK(wg_log(t, wg_var(t, -1)) == NULL, "WG_ANOMALY=1: log(-1) refused");
    CHECK(wg_tape_status(t) == WG_ERR_NAN, "status %d", (int)wg_tape_status(t));
    wg_tape_reset(t);
    wg_tape_set_anomaly(t, false);
    CHECK(wg_log(t, wg_var(t, -1)) != NULL, "wg_tape_set_anomaly(false) turns it off");
    wg_tape_free(t);
    setenv("WG_ANOMALY", "0", 1);
    t = wg_tape_new();
    CHECK(wg_log(t, wg_var(t, -1)) != NULL, "WG_ANOMALY=0 leaves it off");
    wg_tape_free(t);
    unsetenv("WG_ANOMALY");
}

int main(void)
{
    forward_nan();
    forward_binary_and_inf();
    backward_inf();
    off_by_default();
    return wg_test_done("test_anomaly");
}
