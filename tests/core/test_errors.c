/* test_errors: every user error of the core, asserted by its exact text.
 *
 * Each case records a failing op on a fresh tape and checks: the op returned
 * NULL, wg_tape_status is the expected code, wg_tape_error is the expected
 * message, later ops return NULL and leave the first message in place, and
 * the tape works again after wg_tape_reset.  Nothing here may abort.
 */
#include "core_util.h"
#include "wg_test.h"

static const int64_t s23[] = {2, 3}, s4[] = {4}, s32[] = {3, 2};

static wg_tensor *ones(wg_tape *t, wg_dtype dt, int ndim, const int64_t *shape)
{
    return wg_tensor_new(t, dt, ndim, shape, NULL, true);
}

/* The op just recorded on t failed with `st` and `msg`; then the error sticks. */
static void expect_error(wg_tape *t, const wg_tensor *got, wg_status st, const char *msg)
{
    CHECK(got == NULL, "the failing op returned a handle; want NULL for \"%s\"", msg);
    CHECK(wg_tape_status(t) == st, "status %d, want %d for \"%s\"", (int)wg_tape_status(t), (int)st, msg);
    CHECK_STR(wg_tape_error(t), msg);
    /* Sticky: later ops, even valid-looking ones, return NULL and keep the message. */
    size_t nodes = wg_tape_nodes(t);
    CHECK(wg_scalar(t, WG_F32, 1, false) == NULL, "a leaf after the error must be NULL");
    CHECK(wg_exp(t, wg_var(t, 1)) == NULL, "an op after the error must be NULL");
    CHECK(wg_backward(t, wg_tape_last(t)) == -1, "backward after the error must fail");
    CHECK(wg_tape_nodes(t) == nodes, "nodes recorded after the error: %zu -> %zu", nodes, wg_tape_nodes(t));
    CHECK_STR(wg_tape_error(t), msg);
    /* A reset clears it. */
    wg_tape_reset(t);
    CHECK(wg_tape_error(t) == NULL && wg_tape_status(t) == WG_OK, "reset must clear \"%s\"", msg);
    wg_tensor *v = wg_var(t, 2);
    wg_tensor *y = wg_mul(t, v, v);
    CHECK(y && wg_backward(t, y) == 0 && wg_grad_item(v) == 4, "the tape must work after reset: %s",
          wg_tape_error(t) ? wg_tape_error(t) : "wrong gradient");
    wg_tape_reset(t);
}

typedef wg_tensor *(*bin_fn)(wg_tape *, wg_tensor *, wg_tensor *);

static void binary_errors(void)
{
    static const struct {
        const char *name;
        bin_fn op;
    } ops[] = {{"add", wg__add}, {"sub", wg__sub}, {"mul", wg__mul}, {"div", wg__div},
               {"max", wg__max}, {"min", wg__min}, {"pow", wg__pow}};
    wg_tape *t = wg_tape_new();
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        char want[160];
        wg_tensor *a = ones(t, WG_F32, 2, s23), *b = ones(t, WG_F32, 1, s4);
        snprintf(want, sizeof want, "%s: shapes cannot broadcast: a is f32[2,3], b is f32[4]", ops[i].name);
        expect_error(t, ops[i].op(t, a, b), WG_ERR_SHAPE, want);

        a = ones(t, WG_F64, 3, (int64_t[]){2, 3, 4}), b = ones(t, WG_F64, 2, (int64_t[]){2, 4});
        snprintf(want, sizeof want, "%s: shapes cannot broadcast: a is f64[2,3,4], b is f64[2,4]", ops[i].name);
        expect_error(t, ops[i].op(t, a, b), WG_ERR_SHAPE, want);

        a = ones(t, WG_F32, 1, s4), b = ones(t, WG_F64, 1, s4);
        snprintf(want, sizeof want, "%s: dtype mismatch: a is f32[4], b is f64[4]", ops[i].name);
        expect_error(t, ops[i].op(t, a, b), WG_ERR_DTYPE, want);

        a = ones(t, WG_F64, 0, NULL);
        snprintf(want, sizeof want, "%s: invalid handle: argument 2 is NULL", ops[i].name);
        expect_error(t, ops[i].op(t, a, NULL), WG_ERR_HANDLE, want);
        snprintf(want, sizeof want, "%s: invalid handle: argument 1 is NULL", ops[i].name);
        expect_error(t, ops[i].op(t, NULL, NULL), WG_ERR_HANDLE, want);
    }
    /* A number operand takes the other side's dtype: no dtype error. */
    wg_tensor *x = ones(t, WG_F32, 1, s4);
    wg_tensor *y = wg_add(t, x, 2.5);
    CHECK(y && wg_dtype_of(y) == WG_F32, "f32 + 2.5 must be f32: %s", wg_tape_error(t));
    y = wg_pow(t, 2, wg_sub(t, 1, x));
    CHECK(y && wg_dtype_of(y) == WG_F32, "2^(1 - f32) must be f32: %s", wg_tape_error(t));
    /* But a wg_scalar has a dtype of its own. */
    expect_error(t, wg_mul(t, ones(t, WG_F32, 1, s4), wg_scalar(t, WG_F64, 2, false)), WG_ERR_DTYPE,
                 "mul: dtype mismatch: a is f32[4], b is f64[]");
    wg_tape_free(t);
}

static void matmul_errors(void)
{
    wg_tape *t = wg_tape_new();
    wg_tensor *a = ones(t, WG_F32, 2, (int64_t[]){32, 784}), *b = ones(t, WG_F32, 2, (int64_t[]){100, 10});
    expect_error(t, wg_matmul(t, a, b), WG_ERR_SHAPE,
                 "matmul: inner dimensions differ: a is f32[32,784], b is f32[100,10]");
    a = ones(t, WG_F32, 2, s23), b = ones(t, WG_F32, 2, s32);
    expect_error(t, wg_matmul_ex(t, a, b, true, false), WG_ERR_SHAPE,
                 "matmul: inner dimensions differ: a is f32[2,3] (transposed), b is f32[3,2]");
    a = ones(t, WG_F32, 2, s23), b = ones(t, WG_F32, 2, s32);
    expect_error(t, wg_matmul_ex(t, a, b, false, true), WG_ERR_SHAPE,
                 "matmul: inner dimensions differ: a is f32[2,3], b is f32[3,2] (transposed)");
    a = ones(t, WG_F64, 3, (int64_t[]){2, 2, 3}), b = ones(t, WG_F64, 3, (int64_t[]){3, 3, 2});
    expect_error(t, wg_matmul(t, a, b), WG_ERR_SHAPE, "matmul: batch sizes differ: a is f64[2,2,3], b is f64[3,3,2]");
    a = ones(t, WG_F64, 1, s4), b = ones(t, WG_F64, 2, (int64_t[]){4, 1});
    expect_error(t, wg_matmul(t, a, b), WG_ERR_SHAPE, "matmul: operands must be 2-D or 3-D: a is f64[4], b is f64[4,1]");
    a = ones(t, WG_F64, 4, (int64_t[]){1, 1, 2, 2}), b = ones(t, WG_F64, 2, (int64_t[]){2, 2});
    expect_error(t, wg_matmul(t, a, b), WG_ERR_SHAPE,
                 "matmul: operands must be 2-D or 3-D: a is f64[1,1,2,2], b is f64[2,2]");
    a = ones(t, WG_F32, 2, s23), b = ones(t, WG_F64, 2, s32);
    expect_error(t, wg_matmul(t, a, b), WG_ERR_DTYPE, "matmul: dtype mismatch: a is f32[2,3], b is f64[3,2]");
    a = ones(t, WG_F32, 2, s23);
    expect_error(t, wg_matmul(t, a, NULL), WG_ERR_HANDLE, "matmul: invalid handle: argument 2 is NULL");
    wg_tape_free(t);
}

static void axis_errors(void)
{
    wg_tape *t = wg_tape_new();
    wg_tensor *x;
    x = ones(t, WG_F32, 2, s23);
    expect_error(t, wg_sum_axis(t, x, 2, false), WG_ERR_AXIS, "sum: axis 2 out of range for f32[2,3]");
    x = ones(t, WG_F32, 2, s23);
    expect_error(t, wg_mean_axis(t, x, -3, true), WG_ERR_AXIS, "mean: axis -3 out of range for f32[2,3]");
    x = ones(t, WG_F64, 3, (int64_t[]){2, 3, 4});
    expect_error(t, wg_max_axis(t, x, 3, false), WG_ERR_AXIS, "max_axis: axis 3 out of range for f64[2,3,4]");
    x = ones(t, WG_F64, 0, NULL);
    expect_error(t, wg_sum_axis(t, x, 0, false), WG_ERR_AXIS, "sum: axis 0 out of range for f64[]");
    x = ones(t, WG_F32, 2, s23);
    expect_error(t, wg_transpose(t, x, 0, 2), WG_ERR_AXIS, "transpose: axes (0, 2) out of range for f32[2,3]");
    x = ones(t, WG_F32, 2, s23);
    expect_error(t, wg_transpose(t, x, -3, 1), WG_ERR_AXIS, "transpose: axes (-3, 1) out of range for f32[2,3]");
    x = ones(t, WG_F32, 2, s23);
    expect_error(t, wg_slice(t, x, 2, 0, 1), WG_ERR_AXIS, "slice: axis 2 out of range for f32[2,3]");
    x = ones(t, WG_F32, 2, s23);
    expect_error(t, wg_concat(t, 2, (wg_tensor *[]){x, x}, -3), WG_ERR_AXIS, "concat: axis -3 out of range for f32[2,3]");
    x = ones(t, WG_F32, 3, (int64_t[]){2, 0, 3});
    expect_error(t, wg_max_axis(t, x, 1, false), WG_ERR_SHAPE, "max_axis: cannot reduce an empty axis 1 of f32[2,0,3]");
    wg_tape_free(t);
}

static void shape_errors(void)
{
    wg_tape *t = wg_tape_new();
    wg_tensor *x;
    x = ones(t, WG_F32, 2, s23);
    expect_error(t, wg_reshape(t, x, 2, (int64_t[]){4, 2}), WG_ERR_SHAPE,
                 "reshape: f32[2,3] has 6 elements, the new shape has 8");
    x = ones(t, WG_F32, 2, s23);
    expect_error(t, wg_reshape(t, x, 2, (int64_t[]){4, -1}), WG_ERR_SHAPE,
                 "reshape: cannot infer axis 1: 6 elements of f32[2,3] do not divide by 4");
    x = ones(t, WG_F32, 2, s23);
    expect_error(t, wg_reshape(t, x, 2, (int64_t[]){-1, -1}), WG_ERR_SHAPE,
                 "reshape: invalid dimension -1 at axis 1 for f32[2,3]");
    x = ones(t, WG_F32, 2, s23);
    expect_error(t, wg_reshape(t, x, 3, (int64_t[]){-2, 1, 3}), WG_ERR_SHAPE,
                 "reshape: invalid dimension -2 at axis 0 for f32[2,3]");
    x = ones(t, WG_F32, 2, s23);
    expect_error(t, wg_reshape(t, x, 5, (int64_t[]){1, 1, 2, 3, 1}), WG_ERR_SHAPE,
                 "reshape: ndim must be 0..4 with a shape, got 5 for f32[2,3]");
    /* Dimensions whose product overflows must not wrap around to a match. */
    x = ones(t, WG_F32, 2, (int64_t[]){0, 3});
    expect_error(t, wg_reshape(t, x, 3, (int64_t[]){INT64_C(1) << 32, INT64_C(1) << 32, 0}), WG_ERR_SHAPE,
                 "reshape: f32[0,3] has 0 elements, the new shape is too large");

    /* An empty tensor whose other dimensions multiply past 2^60: no elements,
     * but its strides would overflow int64_t. */
    x = ones(t, WG_F32, 1, (int64_t[]){0});
    expect_error(t, wg_reshape(t, x, 3, (int64_t[]){0, INT64_C(1) << 40, INT64_C(1) << 40}), WG_ERR_SHAPE,
                 "reshape: f32[0] has 0 elements, the new shape is too large");
    x = ones(t, WG_F32, 2, (int64_t[]){0, 3});
    wg_tensor *wide = wg_reshape(t, x, 2, (int64_t[]){0, INT64_C(1) << 59}); /* allowed: 2^59 */
    CHECK(wide && wg_numel(wide) == 0, "reshape to [0, 2^59]: %s", wg_tape_error(t));
    wg_tensor *sixteen[16];
    for (int i = 0; i < 16; i++) sixteen[i] = wide; /* 16 * 2^59 would wrap int64_t */
    expect_error(t, wg_concat(t, 16, sixteen, 1), WG_ERR_SHAPE,
                 "concat: axis 1 grows too long at tensor 2 (f32[0,576460752303423488])");

    x = ones(t, WG_F32, 2, (int64_t[]){2, 3});
    expect_error(t, wg_broadcast_to(t, x, 2, (int64_t[]){2, 4}), WG_ERR_SHAPE,
                 "broadcast_to: cannot broadcast f32[2,3]: axis 1 is 3, target is 4");
    x = ones(t, WG_F32, 2, (int64_t[]){2, 3});
    expect_error(t, wg_broadcast_to(t, x, 1, (int64_t[]){3}), WG_ERR_SHAPE,
                 "broadcast_to: cannot broadcast f32[2,3] to 1 dimensions");
    x = ones(t, WG_F32, 1, (int64_t[]){1});
    expect_error(t, wg_broadcast_to(t, x, 2, (int64_t[]){-5, 1}), WG_ERR_SHAPE,
                 "broadcast_to: invalid dimension -5 at axis 0");

    wg_tensor *a = ones(t, WG_F32, 2, s23), *b = ones(t, WG_F32, 2, (int64_t[]){2, 4});
    expect_error(t, wg_concat(t, 2, (wg_tensor *[]){a, b}, 0), WG_ERR_SHAPE,
                 "concat: tensor 2 is f32[2,4], tensor 1 is f32[2,3] (only axis 0 may differ)");
    a = ones(t, WG_F32, 2, s23), b = ones(t, WG_F64, 2, s23);
    expect_error(t, wg_concat(t, 3, (wg_tensor *[]){a, a, b}, 1), WG_ERR_DTYPE,
                 "concat: tensor 3 is f64[2,3], tensor 1 is f32[2,3] (only axis 1 may differ)");
    expect_error(t, wg_concat(t, 0, (wg_tensor *[]){NULL}, 0), WG_ERR_ARG, "concat: needs at least one tensor, got 0");
    expect_error(t, wg_concat(t, 2, NULL, 0), WG_ERR_ARG, "concat: needs at least one tensor, got 0");
    a = ones(t, WG_F32, 2, s23);
    expect_error(t, wg_concat(t, 2, (wg_tensor *[]){a, NULL}, 0), WG_ERR_HANDLE,
                 "concat: invalid handle: argument 2 is NULL");
    wg_tape_free(t);
}

static void leaf_errors(void)
{
    wg_tape *t = wg_tape_new();
    expect_error(t, wg_tensor_new(t, WG_F32, 5, (int64_t[]){1, 1, 1, 1, 1}, NULL, false), WG_ERR_SHAPE,
                 "tensor: ndim must be 0..4, got 5");
    expect_error(t, wg_tensor_new(t, WG_F32, -1, NULL, NULL, false), WG_ERR_SHAPE, "tensor: ndim must be 0..4, got -1");
    expect_error(t, wg_tensor_new(t, WG_F32, 2, NULL, NULL, false), WG_ERR_ARG, "tensor: shape is NULL for ndim 2");
    expect_error(t, wg_tensor_new(t, (wg_dtype)7, 1, s4, NULL, false), WG_ERR_DTYPE, "tensor: unknown dtype 7");
    expect_error(t, wg_tensor_new(t, WG_F64, 2, (int64_t[]){3, -2}, NULL, false), WG_ERR_SHAPE,
                 "leaf: invalid dimension -2 at axis 1");
    expect_error(t, wg_scalar(t, (wg_dtype)2, 1, false), WG_ERR_DTYPE, "scalar: unknown dtype 2");
    static const float six[6] = {1, 2, 3, 4, 5, 6};
    expect_error(t, wg_tensor_view(t, WG_F32, 2, s23, NULL), WG_ERR_ARG, "tensor_view: data is NULL");
    expect_error(t, wg_tensor_view(t, WG_F32, 5, (int64_t[]){1, 1, 1, 1, 1}, six), WG_ERR_SHAPE,
                 "tensor_view: ndim must be 0..4, got 5");
    expect_error(t, wg_tensor_view(t, WG_F32, 2, NULL, six), WG_ERR_ARG, "tensor_view: shape is NULL for ndim 2");
    expect_error(t, wg_tensor_view(t, (wg_dtype)3, 2, s23, six), WG_ERR_DTYPE, "tensor_view: unknown dtype 3");
    expect_error(t, wg_tensor_view(t, WG_F32, 2, (int64_t[]){2, -3}, six), WG_ERR_SHAPE,
                 "tensor_view: invalid dimension -3 at axis 1");
    expect_error(t, wg_tensor_view(t, WG_F32, 3, (int64_t[]){0, INT64_C(1) << 40, INT64_C(1) << 40}, six),
                 WG_ERR_NOMEM, "tensor_view: out of memory: tensor too large");
    expect_error(t, wg_full(t, WG_F32, 1, (int64_t[]){-1}, 0), WG_ERR_SHAPE, "leaf: invalid dimension -1 at axis 0");
    expect_error(t, wg_full_like(t, NULL, 0), WG_ERR_HANDLE, "full_like: invalid handle: argument 1 is NULL");
    expect_error(t, wg_use(t, NULL), WG_ERR_HANDLE, "use: invalid handle: the parameter is NULL");
    /* wg_param's fields are public: a corrupted one is refused, not trusted. */
    wg_param *p = wg_param_new(WG_F32, 2, s23);
    snprintf(p->name, sizeof p->name, "w");
    p->ndim = 7;
    expect_error(t, wg_use(t, p), WG_ERR_ARG, "use: invalid parameter 'w': dtype 0, ndim 7, numel 6, data set, grad set");
    p->ndim = 2;
    p->shape[0] = 5; /* resized without new buffers */
    expect_error(t, wg_use(t, p), WG_ERR_ARG, "use: invalid parameter 'w': dtype 0, ndim 2, numel 6, data set, grad set");
    p->shape[0] = 2;
    void *g = p->grad;
    p->grad = NULL;
    expect_error(t, wg_use(t, p), WG_ERR_ARG, "use: invalid parameter 'w': dtype 0, ndim 2, numel 6, data set, grad NULL");
    p->grad = g;
    CHECK(wg_use(t, p) != NULL, "the repaired parameter is accepted: %s", wg_tape_error(t));
    wg_param_free(p);
    expect_error(t, wg_tensor_new(t, WG_F32, 3, (int64_t[]){0, INT64_C(1) << 40, INT64_C(1) << 40}, NULL, false),
                 WG_ERR_NOMEM, "leaf: out of memory: tensor too large");
    /* Too large to ever fit: an error, not a wrapped size. */
    expect_error(t, wg_tensor_new(t, WG_F64, 4, (int64_t[]){1 << 20, 1 << 20, 1 << 20, 1 << 20}, NULL, false),
                 WG_ERR_NOMEM, "leaf: out of memory: tensor too large");
    wg_tape_free(t);
}

static void unary_null_handles(void)
{
    typedef wg_tensor *(*un_fn)(wg_tape *, wg_tensor *);
    static const struct {
        const char *name;
        un_fn op;
    } ops[] = {{"neg", wg_neg},   {"exp", wg_exp}, {"log", wg_log},   {"log1p", wg_log1p}, {"sqrt", wg_sqrt},
               {"tanh", wg_tanh}, {"sin", wg_sin},     {"cos", wg_cos},   {"abs", wg_abs}, {"sign", wg_sign}, {"step", wg_step},   {"sum", wg_sum},
               {"mean", wg_mean}, {"detach", wg_detach}};
    wg_tape *t = wg_tape_new();
    char want[96];
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        snprintf(want, sizeof want, "%s: invalid handle: argument 1 is NULL", ops[i].name);
        expect_error(t, ops[i].op(t, NULL), WG_ERR_HANDLE, want);
    }
    expect_error(t, wg_pow(t, (wg_tensor *)NULL, 2.0), WG_ERR_HANDLE, "pow_c: invalid handle: argument 1 is NULL");
    expect_error(t, wg_sum_axis(t, NULL, 0, false), WG_ERR_HANDLE, "sum: invalid handle: argument 1 is NULL");
    expect_error(t, wg_max_axis(t, NULL, 0, false), WG_ERR_HANDLE, "max_axis: invalid handle: argument 1 is NULL");
    expect_error(t, wg_transpose(t, NULL, 0, 1), WG_ERR_HANDLE, "transpose: invalid handle: argument 1 is NULL");
    expect_error(t, wg_reshape(t, NULL, 1, s4), WG_ERR_HANDLE, "reshape: invalid handle: argument 1 is NULL");
    expect_error(t, wg_broadcast_to(t, NULL, 1, s4), WG_ERR_HANDLE, "broadcast_to: invalid handle: argument 1 is NULL");
    expect_error(t, wg_slice(t, NULL, 0, 0, 1), WG_ERR_HANDLE, "slice: invalid handle: argument 1 is NULL");
    wg_tape_free(t);
}

/* Handles from another tape and from before a reset. */
static void foreign_and_stale(void)
{
    wg_tape *t = wg_tape_new(), *u = wg_tape_new();
    wg_tensor *x = ones(t, WG_F32, 2, s23);
    wg_tensor *y = ones(u, WG_F32, 2, s23);
    expect_error(t, wg_add(t, x, y), WG_ERR_HANDLE, "add: invalid handle: argument 2 belongs to another tape");
    x = ones(t, WG_F32, 2, s23);
    expect_error(t, wg_matmul_ex(t, y, x, false, true), WG_ERR_HANDLE,
                 "matmul: invalid handle: argument 1 belongs to another tape");
    expect_error(t, wg_exp(t, y), WG_ERR_HANDLE, "exp: invalid handle: argument 1 belongs to another tape");
    CHECK(wg_tape_error(u) == NULL, "the other tape must be untouched: %s", wg_tape_error(u));

    /* Stale: x is from before the reset (checked before anything new is
     * recorded, so its memory still holds the old node). */
    x = ones(t, WG_F32, 2, s23);
    wg_tape_reset(t);
    expect_error(t, wg_exp(t, x), WG_ERR_HANDLE,
                 "exp: invalid handle: argument 1 was recorded before the last wg_tape_reset");
    x = ones(t, WG_F32, 2, s23);
    wg_tape_reset(t);
    expect_error(t, wg_concat(t, 2, (wg_tensor *[]){x, x}, 0), WG_ERR_HANDLE,
                 "concat: invalid handle: argument 1 was recorded before the last wg_tape_reset");
    x = wg_var(t, 3);
    y = wg_mul(t, x, x);
    wg_tape_reset(t);
    CHECK(wg_backward(t, y) == -1, "backward on a stale handle must fail");
    CHECK_STR(wg_tape_error(t), "backward: invalid handle: argument 1 was recorded before the last wg_tape_reset");
    wg_tape_reset(t);
    x = wg_var(t, 3);
    y = wg_var(u, 3);
    CHECK(wg_backward(t, y) == -1, "backward on another tape's handle must fail");
    CHECK_STR(wg_tape_error(t), "backward: invalid handle: argument 1 belongs to another tape");
    wg_tape_free(t);
    wg_tape_free(u);
}

static void backward_errors(void)
{
    wg_tape *t = wg_tape_new();
    wg_tensor *x = ones(t, WG_F32, 2, s23);
    CHECK(wg_backward(t, wg_exp(t, x)) == -1, "backward on a [2,3] output without a seed must fail");
    CHECK(wg_tape_status(t) == WG_ERR_SHAPE, "status %d", (int)wg_tape_status(t));
    CHECK_STR(wg_tape_error(t), "backward: output must have one element without a seed, got f32[2,3]");
    wg_tape_reset(t);

    x = ones(t, WG_F32, 2, s23);
    wg_tensor *y = wg_exp(t, x);
    CHECK(wg_backward_seed(t, y, ones(t, WG_F32, 2, s32)) == -1, "a [3,2] seed for a [2,3] output must fail");
    CHECK_STR(wg_tape_error(t), "backward: seed must match the output: output is f32[2,3], seed is f32[3,2]");
    wg_tape_reset(t);

    x = ones(t, WG_F32, 2, s23);
    y = wg_exp(t, x);
    CHECK(wg_backward_seed(t, y, ones(t, WG_F64, 2, s23)) == -1, "an f64 seed for an f32 output must fail");
    CHECK_STR(wg_tape_error(t), "backward: seed must match the output: output is f32[2,3], seed is f64[2,3]");
    wg_tape_reset(t);

    x = ones(t, WG_F32, 2, s23);
    CHECK(wg_backward_seed(t, wg_exp(t, x), NULL) == -1, "a NULL seed must fail");
    CHECK_STR(wg_tape_error(t), "backward: invalid handle: the seed is NULL");
    wg_tape_reset(t);

    CHECK(wg_backward(t, NULL) == -1, "backward(NULL) must fail");
    CHECK_STR(wg_tape_error(t), "backward: invalid handle: argument 1 is NULL");
    wg_tape_reset(t);

    /* An empty output has no element to seed. */
    x = ones(t, WG_F32, 2, (int64_t[]){0, 3});
    CHECK(wg_backward(t, wg_exp(t, x)) == -1, "backward on an empty output must fail");
    CHECK_STR(wg_tape_error(t), "backward: output must have one element without a seed, got f32[0,3]");
    wg_tape_free(t);
}

/* With no tape, the message goes to wg_last_error(). */
#define NULL_TAPE(call, msg)                                                  \
    do {                                                                      \
        CHECK((call) == NULL, "%s with a NULL tape returned a handle", #call); \
        CHECK_STR(wg_last_error(), msg);                                      \
    } while (0)

static void null_tape(void)
{
    NULL_TAPE(wg_add(NULL, 1.0, 2.0), "add: invalid handle: the tape is NULL");
    NULL_TAPE(wg_div(NULL, (wg_tensor *)NULL, (wg_tensor *)NULL), "div: invalid handle: the tape is NULL");
    NULL_TAPE(wg_matmul(NULL, NULL, NULL), "matmul: invalid handle: the tape is NULL");
    NULL_TAPE(wg_exp(NULL, NULL), "exp: invalid handle: the tape is NULL");
    NULL_TAPE(wg_sign(NULL, NULL), "sign: invalid handle: the tape is NULL");
    NULL_TAPE(wg_pow(NULL, (wg_tensor *)NULL, 3), "pow_c: invalid handle: the tape is NULL");
    NULL_TAPE(wg_sum_axis(NULL, NULL, 0, false), "sum: invalid handle: the tape is NULL");
    NULL_TAPE(wg_mean(NULL, NULL), "mean: invalid handle: the tape is NULL");
    NULL_TAPE(wg_max_axis(NULL, NULL, 0, true), "max_axis: invalid handle: the tape is NULL");
    NULL_TAPE(wg_transpose(NULL, NULL, 0, 1), "transpose: invalid handle: the tape is NULL");
    NULL_TAPE(wg_reshape(NULL, NULL, 0, NULL), "reshape: invalid handle: the tape is NULL");
    NULL_TAPE(wg_broadcast_to(NULL, NULL, 0, NULL), "broadcast_to: invalid handle: the tape is NULL");
    NULL_TAPE(wg_slice(NULL, NULL, 0, 0, 1), "slice: invalid handle: the tape is NULL");
    NULL_TAPE(wg_concat(NULL, 0, NULL, 0), "concat: invalid handle: the tape is NULL");
    NULL_TAPE(wg_detach(NULL, NULL), "detach: invalid handle: the tape is NULL");
    NULL_TAPE(wg_var(NULL, 1), "scalar: invalid handle: the tape is NULL");
    NULL_TAPE(wg_const(NULL, 1), "const: invalid handle: the tape is NULL");
    NULL_TAPE(wg_tensor_new(NULL, WG_F32, 0, NULL, NULL, false), "tensor: invalid handle: the tape is NULL");
    NULL_TAPE(wg_tensor_view(NULL, WG_F32, 0, NULL, NULL), "tensor_view: invalid handle: the tape is NULL");
    NULL_TAPE(wg_use(NULL, NULL), "use: invalid handle: the tape is NULL");
    NULL_TAPE(wg_zeros_like(NULL, NULL), "full_like: invalid handle: the tape is NULL");
    CHECK(wg_backward(NULL, NULL) == -1, "backward(NULL tape) must fail");
    CHECK_STR(wg_last_error(), "backward: invalid handle: the tape is NULL");
    CHECK(wg_backward_seed(NULL, NULL, NULL) == -1, "backward_seed(NULL tape) must fail");
    CHECK_STR(wg_last_error(), "backward: invalid handle: the tape is NULL");
    CHECK_STR(wg_tape_error(NULL), "invalid handle: the tape is NULL");
    CHECK(wg_tape_status(NULL) == WG_ERR_HANDLE, "status of a NULL tape");
    /* These accept NULL quietly. */
    wg_tape_reset(NULL);
    wg_tape_free(NULL);
    wg_tape_zero_grad(NULL);
    wg_tape_set_anomaly(NULL, true);
    wg_param_free(NULL);
    wg_param_zero_grad(NULL);
    CHECK(wg_numel(NULL) == 0 && wg_ndim(NULL) == 0 && wg_data(NULL) == NULL && wg_grad(NULL) == NULL,
          "readers of a NULL tensor");
    CHECK(isnan(wg_item(NULL)) && isnan(wg_grad_item(NULL)), "values of a NULL tensor are NaN");
    char buf[16];
    CHECK_STR(wg_shape_str(NULL, buf, sizeof buf), "(null)");
}

static void param_errors(void)
{
    CHECK(wg_param_new(WG_F32, 5, (int64_t[]){1, 1, 1, 1, 1}) == NULL, "5-D param");
    CHECK_STR(wg_last_error(), "param_new: ndim must be 0..4 with a shape, got 5");
    CHECK(wg_param_new(WG_F32, 2, NULL) == NULL, "param without a shape");
    CHECK_STR(wg_last_error(), "param_new: ndim must be 0..4 with a shape, got 2");
    CHECK(wg_param_new((wg_dtype)9, 1, s4) == NULL, "param of dtype 9");
    CHECK_STR(wg_last_error(), "param_new: unknown dtype 9");
    CHECK(wg_param_new(WG_F64, 2, (int64_t[]){3, -1}) == NULL, "param with a negative dimension");
    CHECK_STR(wg_last_error(), "param_new: invalid dimension -1 at axis 1");
    CHECK(wg_param_new(WG_F64, 3, (int64_t[]){INT64_C(1) << 30, INT64_C(1) << 30, INT64_C(1) << 30}) == NULL,
          "a param too large to count");
    CHECK_STR(wg_last_error(), "param_new: out of memory: tensor too large");
    CHECK(wg_param_new(WG_F64, 3, (int64_t[]){0, INT64_C(1) << 40, INT64_C(1) << 40}) == NULL,
          "an empty param with a 2^80 stride");
    CHECK_STR(wg_last_error(), "param_new: out of memory: tensor too large");
}

int main(void)
{
    binary_errors();
    matmul_errors();
    axis_errors();
    shape_errors();
    leaf_errors();
    unary_null_handles();
    foreign_and_stale();
    backward_errors();
    null_tape();
    param_errors();
    return wg_test_done("test_errors");
}
