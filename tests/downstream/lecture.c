#include <stdio.h>
#include <wengert.h>

int main(void)
{
    wg_tape *t = wg_tape_new();
    wg_tensor *x1 = wg_var(t, 1), *x2 = wg_var(t, 3);
    wg_tensor *f = wg_add(t, wg_pow(t, wg_add(t, wg_mul(t, 2, x1), wg_mul(t, 3, x2)), 2), 3);
    if (wg_backward(t, f) != 0) {
        fprintf(stderr, "%s\n", wg_tape_error(t));
        return 1;
    }
    printf("%g %g %g\n", wg_item(f), wg_grad_item(x1), wg_grad_item(x2)); /* 124 44 66 */
    wg_tape_free(t);
    return 0;
}
