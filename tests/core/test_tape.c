/* test_tape: the lecture's 44/66 example, backward twice, reset reuse. */
#include "wengert.h"
#include "wg_test.h"

static void lecture_example(void)
{
    wg_tape *t = wg_tape_new();
    wg_tensor *x1 = wg_var(t, 1), *x2 = wg_var(t, 3);
    wg_tensor *f = wg_add(t, wg_pow(t, wg_add(t, wg_mul(t, 2, x1), wg_mul(t, 3, x2)), 2), 3);
    CHECK(wg_backward(t, f) == 0, "%s", wg_tape_error(t));
    CHECK(wg_item(f) == 124, "f = %g", wg_item(f));
    CHECK(wg_grad_item(x1) == 44, "df/dx1 = %g", wg_grad_item(x1));
    CHECK(wg_grad_item(x2) == 66, "df/dx2 = %g", wg_grad_item(x2));
    /* A second backward: leaves accumulate (as PyTorch with retain_graph). */
    CHECK(wg_backward(t, f) == 0, "%s", wg_tape_error(t));
    CHECK(wg_grad_item(x1) == 88, "after two passes df/dx1 = %g", wg_grad_item(x1));
    wg_tape_zero_grad(t);
    CHECK(wg_grad_item(x1) == 0, "after zero_grad df/dx1 = %g", wg_grad_item(x1));
    wg_tape_free(t);
}

static void reset_keeps_capacity(void)
{
    wg_tape *t = wg_tape_new();
    int64_t shape[2] = {8, 16};
    size_t cap_after_first = 0;
    for (int it = 0; it < 100000; it++) {
        wg_tensor *x = wg_tensor_new(t, WG_F32, 2, shape, NULL, true);
        wg_tensor *y = wg_sum(t, wg_mul(t, wg_exp(t, x), x));
        if (wg_backward(t, y) != 0) {
            CHECK(0, "iteration %d: %s", it, wg_tape_error(t));
            break;
        }
        if (it == 0) cap_after_first = wg_tape_capacity(t);
        if (wg_tape_capacity(t) != cap_after_first) {
            CHECK(0, "capacity grew at iteration %d: %zu -> %zu", it, cap_after_first, wg_tape_capacity(t));
            break;
        }
        wg_tape_reset(t);
    }
    CHECK(cap_after_first > 0, "the arena holds memory after a pass");
    wg_tape_free(t);
}

int main(void)
{
    lecture_example();
    reset_keeps_capacity();
    return wg_test_done("test_tape");
}
