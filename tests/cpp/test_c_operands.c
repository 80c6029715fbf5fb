/* test_c_operands: the numbers-as-operands macros of wg_ops.h from C.
 *
 * - The plain names are functions: &wg_add ... &wg_pow are function pointers
 *   that record the op of two tensors (and (wg_add)(t, a, b) calls it).
 * - Every macro evaluates each of its arguments once, the tape included
 *   (counted through functions with a side effect).
 * - A number on either side becomes a 0-d constant of the other operand's
 *   dtype; wg_pow(t, x, number) records pow_c, wg_pow(t, x, y) pow.
 * - A NULL operand propagates NULL. */
#include <stdio.h>

#include "wengert.h"
#include "wg_test.h"

typedef wg_tensor *(*binary_fn)(wg_tape *, wg_tensor *, wg_tensor *);

static int tape_calls, operand_calls;
static wg_tape *count_tape(wg_tape *t)
{
    tape_calls++;
    return t;
}
static wg_tensor *count_operand(wg_tensor *x)
{
    operand_calls++;
    return x;
}
static double count_number(double v)
{
    operand_calls++;
    return v;
}

/* Each macro once per operand form: (tensor, tensor), (tensor, number),
 * (number, tensor), (number, number); one tape evaluation per call. */
#define CHECK_ONCE(op)                                                                         \
    do {                                                                                       \
        tape_calls = operand_calls = 0;                                                        \
        CHECK(op(count_tape(t), count_operand(x), count_operand(y)) != NULL, "%s", #op);       \
        CHECK(op(count_tape(t), count_operand(x), count_number(2.5)) != NULL, "%s", #op);      \
        CHECK(op(count_tape(t), count_number(2.5), count_operand(y)) != NULL, "%s", #op);      \
        CHECK(op(count_tape(t), count_number(1.5), count_number(2.5)) != NULL, "%s", #op);     \
        CHECK(tape_calls == 4, "%s: the tape expression was evaluated %d times in 4 calls", #op, tape_calls); \
        CHECK(operand_calls == 8, "%s: the operands were evaluated %d times (want 8)", #op, operand_calls); \
    } while (0)

int main(void)
{
    wg_tape *t = wg_tape_new();
    wg_tensor *x = wg_var(t, 2), *y = wg_var(t, 3);

    /* Function pointers, and the values they compute. */
    struct {
        binary_fn f;
        const char *op;
        double want;
    } fns[] = {{&wg_add, "add", 5}, {&wg_sub, "sub", -1}, {&wg_mul, "mul", 6}, {&wg_div, "div", 2.0 / 3.0},
               {&wg_max, "max", 3}, {&wg_min, "min", 2}, {&wg_pow, "pow", 8}};
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        wg_tensor *r = fns[i].f(t, x, y);
        CHECK(r != NULL, "%s through its pointer: %s", fns[i].op, wg_tape_error(t));
        CHECK_STR(wg_op_name(r), fns[i].op);
        CHECK_NEAR(wg_item(r), fns[i].want, 1e-15);
    }
    binary_fn add = wg_add; /* the name without & decays too */
    CHECK(add == &wg_add, "wg_add and &wg_add differ");
    CHECK_NEAR(wg_item((wg_add)(t, x, y)), 5, 0);

    CHECK_ONCE(wg_add);
    CHECK_ONCE(wg_sub);
    CHECK_ONCE(wg_mul);
    CHECK_ONCE(wg_div);
    CHECK_ONCE(wg_max);
    CHECK_ONCE(wg_min);
    CHECK_ONCE(wg_pow);

    /* Numbers on either side, int, float and double literals. */
    CHECK_NEAR(wg_item(wg_add(t, 2.0, x)), 4, 0);
    CHECK_NEAR(wg_item(wg_sub(t, x, 2)), 0, 0);
    CHECK_NEAR(wg_item(wg_mul(t, 0.5f, x)), 1, 0);
    CHECK_NEAR(wg_item(wg_div(t, 1, x)), 0.5, 0);
    CHECK_NEAR(wg_item(wg_max(t, x, 7)), 7, 0);
    CHECK_NEAR(wg_item(wg_min(t, -1, x)), -1, 0);
    wg_tensor *p = wg_pow(t, x, 2);
    CHECK_STR(wg_op_name(p), "pow_c");
    CHECK_NEAR(wg_item(p), 4, 0);
    p = wg_pow(t, x, y);
    CHECK_STR(wg_op_name(p), "pow");
    p = wg_pow(t, 2, y);
    CHECK_STR(wg_op_name(p), "pow");
    CHECK_NEAR(wg_item(p), 8, 0);
    CHECK_STR(wg_op_name(wg_input(p, 0)), "leaf");
    /* The constant takes the dtype of the other operand. */
    wg_tensor *xf = wg_scalar(t, WG_F32, 1.5, true);
    CHECK(wg_dtype_of(wg_mul(t, 2, xf)) == WG_F32, "2 * f32 is not f32");
    CHECK(wg_dtype_of(wg_pow(t, xf, 2)) == WG_F32, "f32^2 is not f32");
    /* A const operand is accepted as before. */
    const wg_tensor *cx = x;
    CHECK_NEAR(wg_item(wg_add(t, cx, 1)), 3, 0);

    /* The seed expression through the macros: 124, 44, 66. */
    wg_tensor *x1 = wg_var(t, 1), *x2 = wg_var(t, 3);
    wg_tensor *f = wg_add(t, wg_pow(t, wg_add(t, wg_mul(t, 2, x1), wg_mul(t, 3, x2)), 2), 3);
    CHECK(wg_backward(t, f) == 0, "backward: %s", wg_tape_error(t));
    CHECK_NEAR(wg_item(f), 124, 0);
    CHECK_NEAR(wg_grad_item(x1), 44, 0);
    CHECK_NEAR(wg_grad_item(x2), 66, 0);

    /* NULL propagates, with a number on the other side too. */
    CHECK(wg_add(t, NULL, 2) == NULL, "NULL + 2 is not NULL");
    CHECK(wg_pow(t, NULL, 2) == NULL, "NULL ^ 2 is not NULL");
    wg_tape_free(t);
    return wg_test_done("test_c_operands");
}
