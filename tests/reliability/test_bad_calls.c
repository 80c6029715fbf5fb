/* test_bad_calls: a table of wrong calls to the public API.  Each must fail
 * cleanly (NULL or -1, never a crash), leave a message that names the
 * function and the operands, and leak nothing (the ASan pass checks that).
 * Empty tensors and zero-size batches, which are legal, must give the
 * well-defined results NumPy gives. */
#include <inttypes.h>
#include <math.h>

#include "rel_util.h"
#include "wengert.h"
#include "wg_test.h"

static const int64_t S23[2] = {2, 3}, S4[1] = {4}, S5[5] = {1, 1, 1, 1, 1};

static wg_tensor *f32(wg_tape *t, int ndim, const int64_t *shape)
{
    return wg_tensor_new(t, WG_F32, ndim, shape, NULL, true);
}

/* Each case gets a fresh tape and returns 1 if the bad call failed as it
 * should (returned NULL or -1). */
typedef int (*bad_fn)(wg_tape *t);

#define BAD(name) static int name(wg_tape *t)

BAD(null_tape_op) { (void)t; return wg_exp(NULL, NULL) == NULL; }
BAD(null_tape_leaf) { (void)t; return wg_var(NULL, 1) == NULL; }
BAD(null_tape_backward) { (void)t; return wg_backward(NULL, NULL) == -1; }
BAD(null_operand) { return wg_exp(t, NULL) == NULL; }
BAD(null_second_operand) { return wg_mul(t, f32(t, 2, S23), (wg_tensor *)NULL) == NULL; }
BAD(foreign_handle)
{
    wg_tape *u = wg_tape_new();
    wg_tensor *x = f32(u, 2, S23);
    int r = wg_add(t, f32(t, 2, S23), x) == NULL;
    wg_tape_free(u);
    return r;
}
BAD(stale_handle)
{
    wg_tensor *x = f32(t, 2, S23);
    wg_tape_reset(t);
    return wg_exp(t, x) == NULL;
}
BAD(broadcast_mismatch) { return wg_add(t, f32(t, 2, S23), f32(t, 1, S4)) == NULL; }
BAD(dtype_mismatch) { return wg_sub(t, f32(t, 2, S23), wg_tensor_new(t, WG_F64, 2, S23, NULL, true)) == NULL; }
BAD(matmul_inner)
{
    int64_t a[2] = {32, 784}, b[2] = {100, 10};
    return wg_matmul(t, f32(t, 2, a), f32(t, 2, b)) == NULL;
}
BAD(matmul_rank) { return wg_matmul(t, f32(t, 1, S4), f32(t, 1, S4)) == NULL; }
BAD(axis_too_big) { return wg_sum_axis(t, f32(t, 2, S23), 2, false) == NULL; }
BAD(axis_too_negative) { return wg_max_axis(t, f32(t, 2, S23), -3, false) == NULL; }
BAD(transpose_axis) { return wg_transpose(t, f32(t, 2, S23), 0, 5) == NULL; }
BAD(slice_axis) { return wg_slice(t, f32(t, 2, S23), 2, 0, 1) == NULL; }
BAD(concat_axis)
{
    wg_tensor *x = f32(t, 2, S23), *xs[2] = {x, x};
    return wg_concat(t, 2, xs, 3) == NULL;
}
BAD(concat_none) { return wg_concat(t, 0, NULL, 0) == NULL; }
BAD(reshape_count)
{
    int64_t r[2] = {4, 2};
    return wg_reshape(t, f32(t, 2, S23), 2, r) == NULL;
}
BAD(broadcast_to_bad)
{
    int64_t r[2] = {4, 3};
    return wg_broadcast_to(t, f32(t, 2, S23), 2, r) == NULL;
}
BAD(backward_not_scalar) { return wg_backward(t, f32(t, 2, S23)) == -1; }
BAD(backward_null) { return wg_backward(t, NULL) == -1; }
BAD(backward_seed_shape) { return wg_backward_seed(t, f32(t, 2, S23), f32(t, 1, S4)) == -1; }
BAD(tensor_ndim) { return f32(t, 5, S5) == NULL; }
BAD(tensor_negative_dim)
{
    int64_t n[1] = {-2};
    return f32(t, 1, n) == NULL;
}
BAD(tensor_dtype) { return wg_tensor_new(t, (wg_dtype)9, 2, S23, NULL, true) == NULL; }
BAD(tensor_null_shape) { return wg_tensor_new(t, WG_F32, 2, NULL, NULL, true) == NULL; }
BAD(use_null) { return wg_use(t, NULL) == NULL; }
BAD(param_ndim) { (void)t; return wg_param_new(WG_F32, 5, S5) == NULL; }
BAD(param_dtype) { (void)t; return wg_param_new((wg_dtype)3, 2, S23) == NULL; }
BAD(arena_limit)
{
    wg_tape *small = wg_tape_new_limited(4096);
    int64_t s[2] = {100, 100};
    int r = wg_tensor_new(small, WG_F64, 2, s, NULL, true) == NULL && wg_tape_status(small) == WG_ERR_NOMEM;
    /* Move the message onto t, where the harness reads it. */
    wg_tape_fail(t, WG_ERR_NOMEM, "%s", wg_tape_error(small));
    wg_tape_free(small);
    return r;
}
BAD(max_of_empty_axis)
{
    int64_t s[2] = {0, 3};
    return wg_max_axis(t, f32(t, 2, s), 0, false) == NULL;
}
BAD(error_is_sticky)
{
    wg_add(t, f32(t, 2, S23), f32(t, 1, S4)); /* the first error */
    return wg_exp(t, f32(t, 2, S23)) == NULL && wg_backward(t, NULL) == -1;
}
BAD(idx_garbage)
{
    wg_idx x;
    char err[256];
    static const unsigned char junk[12] = {0, 0, 8, 3, 0, 0, 0, 9, 0, 0, 0, 9};
    wg_status st = wg_idx_parse(junk, sizeof junk, "junk.idx", &x, err, sizeof err);
    wg_tape_fail(t, st, "%s", err);
    return st != WG_OK && x.data == NULL;
}

/* nn/ and optim/: the same rules hold for layers, losses and optimisers. */
static wg_mlp *small_mlp(void)
{
    int64_t sizes[3] = {4, 5, 3};
    return wg_mlp_new(WG_F32, 3, sizes, WG_ACT_TANH, WG_ACT_IDENTITY, NAN);
}
BAD(mlp_one_size) { (void)t; return wg_mlp_new(WG_F32, 1, S4, WG_ACT_TANH, WG_ACT_IDENTITY, NAN) == NULL; }
BAD(mlp_null_sizes) { (void)t; return wg_mlp_new(WG_F32, 3, NULL, WG_ACT_TANH, WG_ACT_IDENTITY, NAN) == NULL; }
BAD(mlp_null_model) { return wg_mlp_forward(t, NULL, f32(t, 2, S23)) == NULL; }
BAD(mlp_wrong_width)
{
    wg_mlp *m = small_mlp();
    int64_t s[2] = {2, 7};
    int r = m && wg_mlp_forward(t, m, f32(t, 2, s)) == NULL;
    wg_mlp_free(m);
    return r;
}
BAD(mlp_wrong_dtype)
{
    wg_mlp *m = small_mlp();
    int64_t s[2] = {2, 4};
    int r = m && wg_mlp_forward(t, m, wg_tensor_new(t, WG_F64, 2, s, NULL, false)) == NULL;
    wg_mlp_free(m);
    return r;
}
BAD(label_out_of_range)
{
    static const int labels[2] = {0, 7};
    return wg_nn_softmax_cross_entropy_idx(t, f32(t, 2, S23), labels, WG_REDUCE_MEAN) == NULL;
}
BAD(dense_sizes) { (void)t; return wg_dense_new(WG_F32, 0, -3, true) == NULL; }
BAD(optim_null_params) { (void)t; return wg_optim_new(NULL, 3, NULL) == NULL; }
BAD(optim_negative_lr)
{
    (void)t;
    wg_param *p = wg_param_new(WG_F32, 2, S23);
    wg_optim_config cfg = wg_optim_defaults(WG_OPT_ADAM);
    cfg.lr = -1;
    wg_optim *o = wg_optim_new(&cfg, 1, &p);
    wg_optim_free(o);
    wg_param_free(p);
    return o == NULL;
}
BAD(optim_null_step) { (void)t; return wg_optim_step(NULL) == -1; }
BAD(batcher_empty)
{
    (void)t;
    wg_batcher b;
    return wg_batcher_init(&b, 0, 32, true, false, 1) == -1;
}
BAD(one_hot_range)
{
    (void)t;
    static const int labels[2] = {0, 11};
    float out[20];
    return wg_one_hot(WG_F32, labels, 2, 10, out) == -1;
}

/* A model given another model's checkpoint: the same names, other shapes. */
BAD(other_models_checkpoint)
{
    char *dir = rel_tmpdir("wg-bad"), path[4096];
    if (!dir) return 0;
    rel_path(path, sizeof path, dir, "a.safetensors");
    int64_t sa[2] = {784, 100}, sb[2] = {784, 30};
    wg_param *pa = wg_param_new(WG_F32, 2, sa), *pb = wg_param_new(WG_F32, 2, sb);
    snprintf(pa->name, sizeof pa->name, "dense1.w");
    snprintf(pb->name, sizeof pb->name, "dense1.w");
    ((float *)pb->data)[0] = 42;
    wg_checkpoint *ca = wg_checkpoint_new(), *cb = wg_checkpoint_new();
    wg_checkpoint_add_param(ca, pa);
    wg_checkpoint_add_param(cb, pb);
    int r = wg_checkpoint_save(ca, path) == 0 && wg_checkpoint_load(cb, path) == -1 &&
            ((float *)pb->data)[0] == 42;
    wg_tape_fail(t, WG_ERR_SHAPE, "%s", wg_checkpoint_error(cb));
    wg_checkpoint_free(ca);
    wg_checkpoint_free(cb);
    wg_param_free(pa);
    wg_param_free(pb);
    rel_rmdir(dir);
    free(dir);
    return r;
}

static const struct {
    const char *what;
    bad_fn fn;
    int no_tape; /* the message is in wg_last_error(), not on the tape */
    const char *want[3];
} cases[] = {
    {"NULL tape, op", null_tape_op, 1, {"exp: invalid handle: the tape is NULL"}},
    {"NULL tape, leaf", null_tape_leaf, 1, {"invalid handle: the tape is NULL"}},
    {"NULL tape, backward", null_tape_backward, 1, {"backward: invalid handle: the tape is NULL"}},
    {"NULL operand", null_operand, 0, {"exp: invalid handle: argument 1 is NULL"}},
    {"NULL second operand", null_second_operand, 0, {"mul: invalid handle: argument 2 is NULL"}},
    {"handle of another tape", foreign_handle, 0, {"add: invalid handle: argument 2 belongs to another tape"}},
    {"handle from before a reset", stale_handle, 0, {"exp: invalid handle", "before the last wg_tape_reset"}},
    {"shapes that cannot broadcast", broadcast_mismatch, 0, {"add:", "f32[2,3]", "f32[4]"}},
    {"f32 with f64", dtype_mismatch, 0, {"sub: dtype mismatch", "f32[2,3]", "f64[2,3]"}},
    {"matmul inner dimensions", matmul_inner, 0, {"matmul: inner dimensions differ", "f32[32,784]", "f32[100,10]"}},
    {"matmul of vectors", matmul_rank, 0, {"matmul:", "f32[4]"}},
    {"axis 2 of a matrix", axis_too_big, 0, {"sum", "axis 2 out of range", "f32[2,3]"}},
    {"axis -3 of a matrix", axis_too_negative, 0, {"max_axis", "-3", "f32[2,3]"}},
    {"transpose axis 5", transpose_axis, 0, {"transpose:", "out of range", "f32[2,3]"}},
    {"slice axis 2", slice_axis, 0, {"slice: axis 2 out of range for f32[2,3]"}},
    {"concat axis 3", concat_axis, 0, {"concat: axis 3 out of range", "f32[2,3]"}},
    {"concat of nothing", concat_none, 0, {"concat:", "got 0"}},
    {"reshape 6 into 8", reshape_count, 0, {"reshape:", "f32[2,3]", "8"}},
    {"broadcast_to a smaller shape", broadcast_to_bad, 0, {"broadcast_to:", "f32[2,3]"}},
    {"backward of a matrix", backward_not_scalar, 0, {"backward:", "one element", "f32[2,3]"}},
    {"backward of NULL", backward_null, 0, {"backward: invalid handle"}},
    {"seed of another shape", backward_seed_shape, 0, {"backward: seed must match", "f32[2,3]", "f32[4]"}},
    {"tensor of 5 dimensions", tensor_ndim, 0, {"tensor: ndim must be 0..4, got 5"}},
    {"negative dimension", tensor_negative_dim, 0, {"invalid dimension -2 at axis 0"}},
    {"unknown dtype", tensor_dtype, 0, {"tensor: unknown dtype 9"}},
    {"NULL shape", tensor_null_shape, 0, {"tensor: shape is NULL"}},
    {"wg_use of NULL", use_null, 0, {"use: invalid handle: the parameter is NULL"}},
    {"parameter of 5 dimensions", param_ndim, 1, {"param_new:", "got 5"}},
    {"parameter of unknown dtype", param_dtype, 1, {"param_new: unknown dtype 3"}},
    {"arena limit", arena_limit, 0, {"arena: out of memory", "4096-byte limit"}},
    {"max over an empty axis", max_of_empty_axis, 0, {"max_axis:", "empty", "f32[0,3]"}},
    {"ops after an error", error_is_sticky, 0, {"add:", "f32[2,3]", "f32[4]"}},
    {"IDX garbage", idx_garbage, 0, {"junk.idx"}},
    {"another model's checkpoint", other_models_checkpoint, 0,
     {"tensor 'dense1.w'", "F32 [784,100]", "F32 [784,30]"}},
    {"MLP of one size", mlp_one_size, 1, {"mlp_new: need at least 2 sizes", "got 1"}},
    {"MLP of NULL sizes", mlp_null_sizes, 1, {"mlp_new: invalid handle: sizes is NULL"}},
    {"NULL model", mlp_null_model, 0, {"mlp: invalid handle: the model is NULL"}},
    {"input of the wrong width", mlp_wrong_width, 0, {"mlp:", "[N,4]", "f32[2,7]"}},
    {"input of the wrong dtype", mlp_wrong_dtype, 0, {"mlp: dtype mismatch", "f64[2,4]"}},
    {"label out of range", label_out_of_range, 0, {"softmax_cross_entropy_idx: label out of range", "labels[1] = 7", "f32[2,3]"}},
    {"dense layer of no units", dense_sizes, 1, {"dense_new: sizes must be >= 1", "n_in = 0", "n_out = -3"}},
    {"optimiser without parameters", optim_null_params, 1, {"optim_new: params is NULL"}},
    {"negative learning rate", optim_negative_lr, 1, {"optim_new: bad hyperparameters", "lr -1"}},
    {"step of a NULL optimiser", optim_null_step, 1, {"optim_step: invalid handle"}},
    {"batcher over nothing", batcher_empty, 1, {"batcher_init:", "n = 0"}},
    {"one-hot label out of range", one_hot_range, 1, {"one_hot: label out of range", "labels[1] = 11"}},
};

static void table(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wg_set_last_error("%s", "");
        wg_tape *t = wg_tape_new();
        int failed = cases[i].fn(t);
        const char *msg = cases[i].no_tape ? wg_last_error() : wg_tape_error(t);
        CHECK(failed, "%s: the call fails cleanly", cases[i].what);
        CHECK(msg != NULL, "%s: there is a message", cases[i].what);
        for (int k = 0; k < 3 && cases[i].want[k]; k++)
            CHECK(msg && strstr(msg, cases[i].want[k]), "%s: message \"%s\" lacks \"%s\"", cases[i].what,
                  msg ? msg : "(null)", cases[i].want[k]);
        wg_tape_free(t);
    }
}

/* Empty tensors and zero-size batches are legal: NumPy's answers. */
static void empty_and_zero_batch(void)
{
    wg_tape *t = wg_tape_new();
    int64_t s03[2] = {0, 3}, s20[2] = {2, 0}, x04[2] = {0, 4}, w43[2] = {4, 3}, s3[1] = {3};
    wg_tensor *e = f32(t, 2, s03);
    CHECK(wg_item(wg_sum(t, e)) == 0, "sum of an empty tensor is 0");
    CHECK(isnan(wg_item(wg_mean(t, e))), "mean of an empty tensor is NaN (0/0, as NumPy)");
    wg_tensor *z = wg_matmul(t, f32(t, 2, s20), e);
    CHECK(z && wg_numel(z) == 6 && wg_get(z, 0) == 0 && wg_get(z, 5) == 0, "[2,0]@[0,3] is zeros [2,3]");
    wg_tensor *sl = wg_slice(t, f32(t, 2, S23), 1, 2, 1);
    CHECK(sl && wg_dim(sl, 1) == 0, "a slice with start > end is empty, as in Python");

    /* A dense layer on a batch of 0 rows: forward and backward work, the
     * loss (a sum) is 0 and every gradient is 0. */
    wg_param *w = wg_param_new(WG_F32, 2, w43), *b = wg_param_new(WG_F32, 1, s3);
    for (int i = 0; i < 12; i++) ((float *)w->data)[i] = 0.1f * (float)i;
    wg_tensor *x = wg_tensor_new(t, WG_F32, 2, x04, NULL, false);
    wg_tensor *h = wg_tanh(t, wg_add(t, wg_matmul(t, x, wg_use(t, w)), wg_use(t, b)));
    wg_tensor *loss = wg_sum(t, wg_mul(t, h, h));
    CHECK(h && wg_dim(h, 0) == 0 && wg_dim(h, 1) == 3, "the layer maps [0,4] to [0,3]");
    CHECK(wg_backward(t, loss) == 0, "backward on a zero-size batch: %s", wg_tape_error(t));
    CHECK(wg_item(loss) == 0, "its loss is 0");
    double gsum = 0;
    for (int i = 0; i < 12; i++) gsum += fabs(((float *)w->grad)[i]);
    for (int i = 0; i < 3; i++) gsum += fabs(((float *)b->grad)[i]);
    CHECK(gsum == 0, "every gradient is 0, got a total of %g", gsum);
    CHECK(wg_tape_error(t) == NULL, "no error: %s", wg_tape_error(t));
    wg_param_free(w);
    wg_param_free(b);

    /* The same batch of 0 through an MLP and a summed cross-entropy: 0, no error.
     * (A MEAN-reduced loss over no samples is 0/0 = NaN, as in NumPy and
     * PyTorch; anomaly mode names it, below.) */
    wg_tape_reset(t);
    wg_mlp *m = small_mlp();
    int64_t e4[2] = {0, 4};
    wg_tensor *logits = m ? wg_mlp_forward(t, m, wg_tensor_new(t, WG_F32, 2, e4, NULL, false)) : NULL;
    static const int no_labels[1] = {0};
    wg_tensor *ce = wg_nn_softmax_cross_entropy_idx(t, logits, no_labels, WG_REDUCE_SUM);
    CHECK(logits && wg_dim(logits, 0) == 0 && wg_dim(logits, 1) == 3, "the MLP maps [0,4] to [0,3]: %s",
          wg_tape_error(t));
    CHECK(ce && wg_item(ce) == 0 && wg_backward(t, ce) == 0, "summed CE over no samples is 0: %s", wg_tape_error(t));
    wg_mlp_free(m);

    /* In anomaly mode the NaN mean of an empty batch is named. */
    wg_tape_reset(t);
    wg_tape_set_anomaly(t, true);
    CHECK(wg_mean(t, f32(t, 2, s03)) == NULL, "anomaly mode refuses the NaN mean");
    CHECK(strstr(wg_tape_error(t), "mean: non-finite value in the forward pass") &&
              strstr(wg_tape_error(t), "f32[0,3]"),
          "%s", wg_tape_error(t));
    wg_tape_free(t);

    /* Readers given NULL return neutral values instead of crashing. */
    char buf[16];
    CHECK(isnan(wg_get(NULL, 3)) && wg_numel(NULL) == 0 && wg_dim(NULL, 0) == 0 && wg_grad(NULL) == NULL,
          "readers accept NULL");
    CHECK_STR(wg_shape_str(NULL, buf, sizeof buf), "(null)");
    CHECK(wg_tape_error(NULL) != NULL && wg_tape_status(NULL) == WG_ERR_HANDLE, "a NULL tape reads as an error");
    wg_tape_free(NULL);
    wg_param_free(NULL);
}

int main(void)
{
    table();
    empty_and_zero_batch();
    return wg_test_done("test_bad_calls");
}
