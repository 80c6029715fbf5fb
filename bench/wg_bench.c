/* wg_bench.c: the wengert side of bench/compare.
 *
 * A worker driven by bench/compare.py over stdin/stdout, one command a line,
 * one JSON line in reply, so that the driver can alternate it with the
 * PyTorch worker within one run:
 *
 *   load DIR           read the shared initial weights and data written by the driver
 *   threads N          wg_set_num_threads(N) (BLIS's threads)
 *   run NAME N         N iterations of a workload -> {"value": x} in its unit
 *   floor NAME N       the GEMMs of N MLP steps alone, straight BLIS -> ms per step
 *   check NAME         loss of one step from the initial weights (weights restored)
 *   info               versions and BLAS
 *
 *   wg_bench --mem NAME STEPS DIR   memory of a fresh process running STEPS steps
 *
 * Workloads: scalar_chain, scalar_chain_floor (hand-written derivative code),
 * chain_record_<ops> (the size table's f64 chain of ops ops, 1e3 to 1e7,
 * recorded and differentiated; bytes_per_op = wg_tape_bytes_used / ops),
 * chain_replay_<ops> (that chain recorded once, then wg_tape_replay and
 * wg_backward at a new x each iteration),
 * scalar_chain_cpp (the chain through wengert.hpp, wg_bench_cpp.cpp),
 * seed_expression, mlp_a_b128, mlp_a_b32, mlp_a_b1, mlp_b_b128, mnist_epoch,
 * any MLP workload or mnist_demo_epoch with the suffix _inbw (the optimiser
 * steps in backward, wg_optim_backward_begin/end), mnist_demo_epoch (one epoch of the README's MNIST demo: 784-512-256-10,
 * Adam, cosine schedule, shuffled batches of 128, accuracy bookkeeping; its
 * floor is the same epoch's GEMMs through BLIS alone),
 * and the higher-order ones: grad_mlp (one gradient of the 784-128-10 loss
 * at batch 128, the unit of the next two), hvp_mlp (its Hessian-vector
 * product with respect to the weights, reverse-over-reverse), hvp_mlp_fwd
 * (forward-over-reverse), hessian_seed (the full Hessian of a 10-variable
 * scalar expression).
 */
#include <blis.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wengert.h"

enum { CHAIN_OPS = 100000, IN = 784, CLASSES = 10, MAX_LAYERS = 3, BATCH = 128 };
static const float LR = 0.05f;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *read_file(const char *dir, const char *name, size_t want, size_t *got)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (len < 0 || (want && (size_t)len != want)) {
        fclose(f);
        return NULL;
    }
    unsigned char *buf = malloc((size_t)len + 1);
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (got) *got = (size_t)len;
    return buf;
}

/* ---- the MLP: nn/'s wg_mlp, its softmax cross-entropy, optim/'s SGD ------ */

typedef struct {
    wg_mlp *net;
    size_t n_params;
    wg_param *const *params;
    wg_optim *opt; /* SGD, as the README's training loop uses an optimiser */
    float **init;  /* the initial values of params, to restore */
} mlp;

static mlp nets[2]; /* a: 784-128-10, b: 784-512-512-10 */
static float *data_x; /* [BATCH, IN] */
static int data_y[BATCH];

/* Weights are stored [out, in] (wengert's dense layout, and PyTorch's). */
static int mlp_load(mlp *m, const char *dir, char tag, int n_sizes, const int64_t *sizes)
{
    m->net = wg_mlp_new(WG_F32, n_sizes, sizes, WG_ACT_RELU, WG_ACT_IDENTITY, NAN);
    if (!m->net) return -1;
    m->params = wg_mlp_params(m->net, &m->n_params);
    wg_optim_config oc = wg_optim_defaults(WG_OPT_SGD);
    oc.lr = LR;
    m->opt = wg_optim_new(&oc, m->n_params, m->params);
    m->init = calloc(m->n_params, sizeof *m->init);
    if (!m->opt || !m->init) return -1;
    for (size_t i = 0; i < m->n_params; i++) { /* W_1, b_1, W_2, b_2, ... */
        char name[64];
        snprintf(name, sizeof name, "mlp_%c_%c%zu.f32", tag, i % 2 ? 'b' : 'w', i / 2 + 1);
        m->init[i] = read_file(dir, name, m->params[i]->numel * sizeof(float), NULL);
        if (!m->init[i]) return -1;
    }
    return 0;
}

static void mlp_restore(mlp *m)
{
    for (size_t i = 0; i < m->n_params; i++)
        memcpy(m->params[i]->data, m->init[i], m->params[i]->numel * sizeof(float));
    wg_mlp_zero_grad(m->net);
}

/* The workloads ending in _inbw take their optimiser steps in backward
 * (wg_optim_backward_begin/end) instead of backward, step, zero_grad. */
static bool in_backward;

/* One training step on a batch of B rows; returns the loss (NaN on error). */
static double mlp_step(mlp *m, wg_tape *t, const float *x, const int *labels, int B)
{
    wg_tape_reset(t);
    int64_t xs[2] = {B, IN};
    wg_tensor *in = wg_tensor_view(t, WG_F32, 2, xs, x); /* the batch in place, as torch reads it */
    wg_tensor *loss = wg_nn_softmax_cross_entropy_idx(t, wg_mlp_forward(t, m->net, in), labels, WG_REDUCE_MEAN);
    if (in_backward) {
        int rc = wg_optim_backward_begin(m->opt, t, m->opt->cfg.lr);
        if (rc == 0 && (!loss || wg_backward(t, loss) != 0)) fprintf(stderr, "wg_bench: %s\n", wg_tape_error(t));
        if (rc != 0 || wg_optim_backward_end(m->opt) != 0) {
            fprintf(stderr, "wg_bench: %s\n", wg_last_error());
            return NAN;
        }
        return wg_item(loss);
    }
    if (!loss || wg_backward(t, loss) != 0) {
        fprintf(stderr, "wg_bench: %s\n", wg_tape_error(t));
        return NAN;
    }
    double v = wg_item(loss);
    if (wg_optim_step(m->opt) != 0) {
        fprintf(stderr, "wg_bench: %s\n", wg_last_error());
        return NAN;
    }
    wg_optim_zero_grad(m->opt);
    return v;
}

/* ---- MNIST (IDX files, read here so the bench needs nothing from io/) ---- */

static float *mnist_x;
static int *mnist_y;
static int mnist_n;

static unsigned be32(const unsigned char *p) { return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | p[3]; }

static int mnist_load(const char *dir)
{
    if (mnist_x) return 0;
    size_t ni, nl;
    unsigned char *img = read_file(dir, "train-images-idx3-ubyte", 0, &ni);
    unsigned char *lab = read_file(dir, "train-labels-idx1-ubyte", 0, &nl);
    int ok = img && lab && ni >= 16 && nl >= 8 && be32(img) == 0x803 && be32(lab) == 0x801;
    if (ok) {
        mnist_n = (int)be32(img + 4);
        ok = be32(lab + 4) == (unsigned)mnist_n && ni == 16 + (size_t)mnist_n * IN && nl == 8 + (size_t)mnist_n;
    }
    if (ok) {
        mnist_x = malloc(sizeof(float) * (size_t)mnist_n * IN);
        mnist_y = malloc(sizeof(int) * (size_t)mnist_n);
        for (size_t i = 0; i < (size_t)mnist_n * IN; i++) mnist_x[i] = img[16 + i] / 255.0f;
        for (int i = 0; i < mnist_n; i++) mnist_y[i] = lab[8 + i];
    }
    free(img);
    free(lab);
    return ok ? 0 : -1;
}

/* ---- mnist_demo_epoch: one epoch of the README's MNIST demo ----------------
 * demos/mnist.c's train_epoch without its progress bar: 784-512-256-10 ReLU,
 * Adam (lr 1e-3) on the cosine schedule of the demo's 8 epochs, the 60,000
 * images shuffled (wg_batcher, seed 1) into batches of 128 gathered into one
 * buffer, softmax cross-entropy, and the epoch's loss and accuracy counted
 * from every batch's logits.  Every run starts from the same weights, zeroed
 * Adam state and the same shuffle. */
enum { DEMO_EPOCHS = 8 };
static const int64_t DEMO_SIZES[] = {IN, 512, 256, CLASSES};
static mlp demo;
static wg_batcher demo_bt;
static float *demo_xb;
static int demo_yb[BATCH], demo_pred[BATCH];
static volatile double demo_loss; /* the epoch's mean training loss */

static double demo_epoch(wg_tape *t)
{
    mlp_restore(&demo);
    wg_optim_reset(demo.opt);
    wg_batcher_free(&demo_bt);
    if (wg_batcher_init(&demo_bt, (size_t)mnist_n, BATCH, true, false, 1) != 0) return NAN;
    const int64_t per_epoch = (mnist_n + BATCH - 1) / BATCH;
    const wg_lr_schedule sched = {.kind = WG_LR_COSINE, .lr0 = 1e-3, .t_max = per_epoch * DEMO_EPOCHS, .lr_min = 0};
    int64_t step = 0;
    size_t correct = 0, count;
    const size_t *idx;
    double sum = 0;
    while (wg_batcher_next(&demo_bt, &idx, &count)) {
        wg_gather_rows(WG_F32, mnist_x, IN, idx, count, demo_xb);
        wg_gather_labels(mnist_y, idx, count, demo_yb);
        wg_tape_reset(t);
        wg_tensor *x = wg_tensor_view(t, WG_F32, 2, (int64_t[]){(int64_t)count, IN}, demo_xb);
        wg_tensor *z = wg_mlp_forward(t, demo.net, x);
        wg_tensor *l = wg_nn_softmax_cross_entropy_idx(t, z, demo_yb, WG_REDUCE_MEAN);
        if (in_backward) {
            if (wg_optim_backward_begin(demo.opt, t, wg_lr_at(&sched, step++)) != 0) return NAN;
            if (!l || wg_backward(t, l) != 0) fprintf(stderr, "wg_bench: %s\n", wg_tape_error(t));
            if (wg_optim_backward_end(demo.opt) != 0) {
                fprintf(stderr, "wg_bench: %s\n", wg_last_error());
                return NAN;
            }
        } else {
            wg_optim_zero_grad(demo.opt);
            if (!l || wg_backward(t, l) != 0) {
                fprintf(stderr, "wg_bench: %s\n", wg_tape_error(t));
                return NAN;
            }
            if (wg_optim_step_lr(demo.opt, wg_lr_at(&sched, step++)) != 0) {
                fprintf(stderr, "wg_bench: %s\n", wg_last_error());
                return NAN;
            }
        }
        wg_argmax_rows(WG_F32, wg_data(z), count, CLASSES, demo_pred);
        for (size_t i = 0; i < count; i++) correct += demo_pred[i] == demo_yb[i];
        sum += wg_item(l) * (double)count;
    }
    demo_loss = sum / (double)mnist_n;
    return (double)correct / (double)mnist_n; /* the epoch's training accuracy */
}

/* ---- scalar workloads ---------------------------------------------------- */

static volatile double sink;

/* y = x; then CHAIN_OPS ops alternating y*a and y+b; backward to x, a, b. */
/* The chain y = y*a + b, ops ops from x = 0.5, in dtype dt; the sum of the
 * leaves' gradients.  scalar_chain is it in f32 with CHAIN_OPS ops; the
 * chain of bench/compare's size table is it in f64 (as ADOL-C's adouble),
 * its leaves kept in chain64_x (x, a, b) for chain_replay. */
static wg_tensor *chain64_x[3];
static double chain(wg_tape *t, wg_dtype dt, long ops, wg_tensor **leaves)
{
    wg_tape_reset(t);
    wg_tensor *x = wg_scalar(t, dt, 0.5, true);
    wg_tensor *a = wg_scalar(t, dt, 0.9999, true);
    wg_tensor *b = wg_scalar(t, dt, 0.0001, true);
    if (leaves) leaves[0] = x, leaves[1] = a, leaves[2] = b;
    wg_tensor *y = x;
    for (long i = 0; i < ops; i += 2) {
        y = wg_mul(t, y, a);
        y = wg_add(t, y, b);
    }
    if (wg_backward(t, y) != 0) return NAN;
    return wg_grad_item(x) + wg_grad_item(a) + wg_grad_item(b);
}
static double scalar_chain(wg_tape *t) { return chain(t, WG_F32, CHAIN_OPS, NULL); }
static double chain64(wg_tape *t, long ops) { return chain(t, WG_F64, ops, chain64_x); }

/* "chain_record_1e5" -> 100000; 0 if name is not a chain of that kind. */
static long chain_ops(const char *name, const char *prefix)
{
    size_t k = strlen(prefix);
    if (strncmp(name, prefix, k) != 0) return 0;
    char *end;
    double v = strtod(name + k, &end);
    return *end || v < 2 || v > 1e9 ? 0 : (long)v;
}

#ifdef WG_BENCH_CPP
double wg_bench_scalar_chain_cpp(int chain_ops, size_t *nodes);
#endif

/* The same chain with its derivative written by hand: the floor. */
static double scalar_chain_floor(float *vals)
{
    float x = 0.5f, a = 0.9999f, b = 0.0001f, y = x;
    for (int i = 0; i < CHAIN_OPS / 2; i++) {
        vals[i] = y; /* the input of y*a, needed for da */
        y = y * a + b;
    }
    float gy = 1, ga = 0, gb = 0;
    for (int i = CHAIN_OPS / 2; i-- > 0;) {
        gb += gy;
        ga += gy * vals[i];
        gy *= a;
    }
    return (double)gy + ga + gb + y;
}

static double seed_expression(wg_tape *t, double x1v, double x2v)
{
    wg_tape_reset(t);
    wg_tensor *x1 = wg_scalar(t, WG_F32, x1v, true);
    wg_tensor *x2 = wg_scalar(t, WG_F32, x2v, true);
    wg_tensor *f = wg_add(t, wg_pow(t, wg_add(t, wg_mul(t, 2, x1), wg_mul(t, 3, x2)), 2), 3);
    if (wg_backward(t, f) != 0) return NAN;
    return wg_item(f) + wg_grad_item(x1) + wg_grad_item(x2);
}

/* ---- higher order ---------------------------------------------------------- */

/* The 784-128-10 loss at batch 128 as a function of its weights (W1, b1, W2,
 * b2 as leaves): the same ops wg_mlp_forward records. */
static wg_tensor *mlp_a_loss(wg_tape *t, wg_tensor *const *w, void *ctx)
{
    (void)ctx;
    wg_tensor *x = wg_tensor_view(t, WG_F32, 2, (int64_t[]){BATCH, IN}, data_x);
    wg_tensor *h = wg_nn_relu(t, wg_add(t, wg_matmul_ex(t, x, w[0], false, true), w[1]));
    wg_tensor *z = wg_add(t, wg_matmul_ex(t, h, w[2], false, true), w[3]);
    return wg_nn_softmax_cross_entropy_idx(t, z, data_y, WG_REDUCE_MEAN);
}

static double *hvp_v, *hvp_out;
static size_t hvp_n;

static double grad_mlp(wg_tape *t)
{
    mlp *m = &nets[0];
    wg_tape_reset(t);
    wg_tensor *w[4];
    for (int i = 0; i < 4; i++) w[i] = wg_use(t, m->params[i]);
    wg_tensor *loss = mlp_a_loss(t, w, NULL);
    if (!loss || wg_backward(t, loss) != 0) return NAN;
    wg_mlp_zero_grad(m->net);
    return wg_item(loss);
}

/* H v with v_k = sin(k + 1) over the weights in order (W1, b1, W2, b2, each
 * row-major), as torch_bench.py's; returns sum(H v), a checksum both share. */
static double hvp_mlp(wg_tape *t, wg_ad_mode mode)
{
    mlp *m = &nets[0];
    if (!hvp_v) {
        hvp_n = 0;
        for (int i = 0; i < 4; i++) hvp_n += m->params[i]->numel;
        hvp_v = malloc(hvp_n * sizeof *hvp_v);
        hvp_out = malloc(hvp_n * sizeof *hvp_out);
        for (size_t i = 0; i < hvp_n; i++) hvp_v[i] = sin((double)(i + 1));
    }
    if (wg_hvp(t, mlp_a_loss, NULL, 4, m->params, hvp_v, hvp_out, mode) != 0) return NAN;
    double s = 0;
    for (size_t i = 0; i < hvp_n; i++) s += hvp_out[i];
    return s;
}

/* f(x) = sum_i (2 x_i + 3 x_{i+1})^2 + exp(x_i / 10) x_{i+2} + tanh(x_i) x_{i+5}, indices mod
 * 10: the seed expression grown to ten variables; returns sum(H). */
static double hessian_seed(wg_tape *t)
{
    enum { NV = 10 };
    wg_tape_reset(t);
    wg_tensor *x[NV];
    for (int i = 0; i < NV; i++) x[i] = wg_var(t, 0.1 * (i + 1) - 0.4);
    wg_tensor *f = wg_const(t, 0);
    for (int i = 0; i < NV; i++) {
        wg_tensor *a = wg_pow(t, wg_add(t, wg_mul(t, 2, x[i]), wg_mul(t, 3, x[(i + 1) % NV])), 2);
        wg_tensor *b = wg_mul(t, wg_exp(t, wg_mul(t, 0.1, x[i])), x[(i + 2) % NV]);
        wg_tensor *c = wg_mul(t, wg_tanh(t, x[i]), x[(i + 5) % NV]);
        f = wg_add(t, f, wg_add(t, a, wg_add(t, b, c)));
    }
    double H[NV * NV], s = 0;
    if (wg_hessian_of(t, f, NV, x, H) != 0) return NAN;
    for (int i = 0; i < NV * NV; i++) s += H[i];
    return s;
}

/* ---- the GEMM floor ------------------------------------------------------ */

/* The GEMMs of one MLP step as wg_dense and matmul's VJP issue them, with W
 * [out, in] read transposed: forward Z[B,out] = X[B,in] W^T; backward
 * dW^T[in,out] += X^T dZ (written through W's strides) and, above the first
 * layer, dX[B,in] += dZ W. */
static float *fl_buf[MAX_LAYERS + 1], *fl_grad[MAX_LAYERS + 1], *fl_w[MAX_LAYERS], *fl_gw[MAX_LAYERS];
static int fl_sizes[MAX_LAYERS + 1], fl_layers;

static void sgemm(dim_t m, dim_t n, dim_t k, float *a, inc_t rsa, inc_t csa, float *b, inc_t rsb, inc_t csb,
                  float beta, float *c, inc_t rsc, inc_t csc)
{
    float one = 1.0f;
    bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &one, a, rsa, csa, b, rsb, csb, &beta, c, rsc, csc);
}

static void floor_step(int B)
{
    const int *s = fl_sizes;
    for (int l = 0; l < fl_layers; l++)
        sgemm(B, s[l + 1], s[l], fl_buf[l], s[l], 1, fl_w[l], 1, s[l], 0.0f, fl_buf[l + 1], s[l + 1], 1);
    for (int l = fl_layers; l-- > 0;) {
        sgemm(s[l], s[l + 1], B, fl_buf[l], 1, s[l], fl_grad[l + 1], s[l + 1], 1, 1.0f, fl_gw[l], 1, s[l]);
        if (l > 0)
            sgemm(B, s[l], s[l + 1], fl_grad[l + 1], s[l + 1], 1, fl_w[l], s[l], 1, 1.0f, fl_grad[l], s[l], 1);
    }
}

static void floor_alloc(const mlp *m, int B)
{
    for (int l = 0; l <= MAX_LAYERS; l++) {
        free(fl_buf[l]), free(fl_grad[l]);
        fl_buf[l] = fl_grad[l] = NULL;
        if (l < MAX_LAYERS) free(fl_w[l]), free(fl_gw[l]), fl_w[l] = fl_gw[l] = NULL;
    }
    fl_layers = m->net->n_layers;
    for (int l = 0; l <= fl_layers; l++) fl_sizes[l] = (int)m->net->sizes[l];
    wg_rng r;
    wg_rng_seed(&r, 7);
    for (int l = 0; l <= fl_layers; l++) {
        size_t n = (size_t)B * (size_t)fl_sizes[l];
        fl_buf[l] = malloc(n * sizeof(float));
        fl_grad[l] = malloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++) fl_buf[l][i] = (float)wg_rng_uniform(&r), fl_grad[l][i] = 1e-3f;
        if (l < fl_layers) {
            size_t nw = (size_t)fl_sizes[l] * (size_t)fl_sizes[l + 1];
            fl_w[l] = malloc(nw * sizeof(float));
            fl_gw[l] = calloc(nw, sizeof(float));
            memcpy(fl_w[l], m->init[2 * l], nw * sizeof(float));
        }
    }
}

/* ---- commands ------------------------------------------------------------ */

static int mlp_of(const char *name, mlp **m, int *B)
{
    static const struct { const char *name; int net, batch; } w[] = {
        {"mlp_a_b128", 0, 128}, {"mlp_a_b32", 0, 32}, {"mlp_a_b1", 0, 1}, {"mlp_b_b128", 1, 128}};
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
        if (strcmp(name, w[i].name) == 0) {
            *m = &nets[w[i].net];
            *B = w[i].batch;
            return 1;
        }
    return 0;
}

static double mnist_epoch(wg_tape *t, mlp *m)
{
    double loss = 0;
    for (int i = 0; i < mnist_n; i += BATCH) {
        int B = mnist_n - i < BATCH ? mnist_n - i : BATCH;
        loss = mlp_step(m, t, mnist_x + (size_t)i * IN, mnist_y + i, B);
    }
    return loss;
}

/* The time of n iterations of a workload, in its unit; NAN if unknown. */
static double run_one(wg_tape *t, const char *name, long n, double *extra, double *bpo);
static double run(wg_tape *t, const char *name, long n, double *extra, double *bpo)
{
    char base[64];
    size_t len = strlen(name);
    in_backward = len > 5 && len < sizeof base && strcmp(name + len - 5, "_inbw") == 0;
    if (!in_backward) return run_one(t, name, n, extra, bpo);
    memcpy(base, name, len - 5);
    base[len - 5] = 0;
    double v = run_one(t, base, n, extra, bpo);
    in_backward = false;
    return v;
}

static double run_one(wg_tape *t, const char *name, long n, double *extra, double *bpo)
{
    mlp *m;
    int B;
    long ops;
    double t0, dt;
    *extra = *bpo = NAN;
    /* Each timed run starts with one untimed iteration, on both sides (the
     * other side's turn leaves the caches cold and the threads asleep);
     * mnist_epoch, 469 steps, is its own warm-up. */
    if (strcmp(name, "scalar_chain") == 0) {
        sink = scalar_chain(t);
        t0 = now();
        for (long i = 0; i < n; i++) sink = scalar_chain(t);
        dt = now() - t0;
        *extra = (double)wg_tape_nodes(t);
        return dt / ((double)n * CHAIN_OPS) * 1e9;
    }
    if ((ops = chain_ops(name, "chain_record_"))) { /* ns/op, and the tape's bytes per op */
        sink = chain64(t, ops);
        t0 = now();
        for (long i = 0; i < n; i++) *extra = chain64(t, ops);
        dt = now() - t0;
        *bpo = (double)wg_tape_bytes_used(t) / (double)ops;
        return dt / ((double)n * (double)ops) * 1e9;
    }
    if ((ops = chain_ops(name, "chain_replay_"))) { /* the chain recorded once, replayed at new x */
        static long recorded;
        static wg_tensor *y;
        if (recorded != ops || !wg_tape_nodes(t) || wg_tape_last(t) != y) {
            if (isnan(chain64(t, ops))) return NAN;
            recorded = ops;
            y = wg_tape_last(t);
        }
        t0 = now();
        for (long i = -1; i < n; i++) { /* i = -1: untimed */
            if (i == 0) t0 = now();
            wg_leaf_set(chain64_x[0], 0, 0.5 + 1e-3 * (double)(i & 7));
            if (wg_tape_replay(t) != 0 || wg_backward(t, y) != 0) return NAN;
            *extra = wg_grad_item(chain64_x[0]) + wg_grad_item(chain64_x[1]) + wg_grad_item(chain64_x[2]);
        }
        dt = now() - t0;
        *bpo = (double)wg_tape_bytes_used(t) / (double)ops;
        return dt / ((double)n * (double)ops) * 1e9;
    }
#ifdef WG_BENCH_CPP
    if (strcmp(name, "scalar_chain_cpp") == 0) {
        size_t nodes = 0;
        sink = wg_bench_scalar_chain_cpp(CHAIN_OPS, &nodes);
        t0 = now();
        for (long i = 0; i < n; i++) sink = wg_bench_scalar_chain_cpp(CHAIN_OPS, &nodes);
        dt = now() - t0;
        *extra = (double)nodes;
        return dt / ((double)n * CHAIN_OPS) * 1e9;
    }
#endif
    if (strcmp(name, "scalar_chain_floor") == 0) {
        float *vals = malloc(sizeof(float) * CHAIN_OPS / 2);
        sink = scalar_chain_floor(vals);
        t0 = now();
        for (long i = 0; i < n; i++) sink = scalar_chain_floor(vals);
        dt = now() - t0;
        free(vals);
        return dt / ((double)n * CHAIN_OPS) * 1e9;
    }
    if (strcmp(name, "seed_expression") == 0) {
        sink = seed_expression(t, 1.0, 3.0);
        t0 = now();
        for (long i = 0; i < n; i++) sink = seed_expression(t, 1.0 + (double)(i & 7), 3.0);
        dt = now() - t0;
        *bpo = (double)wg_tape_bytes_used(t); /* the whole tape, as ADOL-C's row */
        return dt / (double)n * 1e9;
    }
    if (mlp_of(name, &m, &B)) {
        mlp_step(m, t, data_x, data_y, B);
        t0 = now();
        for (long i = 0; i < n; i++) *extra = mlp_step(m, t, data_x, data_y, B);
        dt = now() - t0;
        return dt / (double)n * 1e3;
    }
    /* higher order: ms per evaluation (hessian_seed: us), extra = a checksum */
    static const char *const higher[] = {"grad_mlp", "hvp_mlp", "hvp_mlp_fwd", "hessian_seed"};
    for (int which = 0; which < 4; which++) {
        if (strcmp(name, higher[which]) != 0) continue;
#define ONE() (which == 0 ? grad_mlp(t) : which == 1 ? hvp_mlp(t, WG_MODE_REVERSE) \
               : which == 2 ? hvp_mlp(t, WG_MODE_FORWARD) : hessian_seed(t))
        double v = ONE();
        if (isnan(v)) return NAN;
        t0 = now();
        for (long i = 0; i < n; i++) v = ONE();
        dt = now() - t0;
#undef ONE
        *extra = v;
        return dt / (double)n * (which == 3 ? 1e6 : 1e3);
    }
    if (strcmp(name, "mnist_demo_epoch") == 0) {
        if (mnist_load("data/mnist") != 0) return NAN;
        if (!demo_xb && !(demo_xb = malloc(sizeof(float) * BATCH * IN))) return NAN;
        t0 = now();
        for (long i = 0; i < n; i++) *extra = demo_epoch(t);
        return isnan(*extra) ? NAN : (now() - t0) / (double)n;
    }
    if (strcmp(name, "mnist_epoch") == 0) {
        if (mnist_load("data/mnist") != 0) return NAN;
        t0 = now();
        for (long i = 0; i < n; i++) *extra = mnist_epoch(t, &nets[0]);
        return (now() - t0) / (double)n;
    }
    return NAN;
}

static int load(const char *dir)
{
    static const int64_t a[] = {IN, 128, CLASSES}, b[] = {IN, 512, 512, CLASSES};
    if (mlp_load(&nets[0], dir, 'a', 3, a) || mlp_load(&nets[1], dir, 'b', 4, b) || mlp_load(&demo, dir, 'd', 4, DEMO_SIZES))
        return -1;
    wg_optim_free(demo.opt); /* the demo's optimiser: Adam with its defaults (lr 1e-3) */
    wg_optim_config oc = wg_optim_defaults(WG_OPT_ADAM);
    if (!(demo.opt = wg_optim_new(&oc, demo.n_params, demo.params))) return -1;
    mlp_restore(&demo);
    data_x = read_file(dir, "x.f32", sizeof(float) * BATCH * IN, NULL);
    unsigned char *y = read_file(dir, "y.u8", BATCH, NULL);
    if (!data_x || !y) return -1;
    for (int i = 0; i < BATCH; i++) data_y[i] = y[i] % CLASSES;
    free(y);
    mlp_restore(&nets[0]);
    mlp_restore(&nets[1]);
    return 0;
}

/* VmRSS / VmHWM of this process in MiB. */
static double proc_status_mib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double v = NAN;
    size_t kl = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') v = atof(line + kl + 1) / 1024.0;
    if (f) fclose(f);
    return v;
}

static int mem_main(const char *name, long steps, const char *dir)
{
    wg_tape *t = wg_tape_new();
    mlp *m;
    int B;
    if (load(dir) != 0 || !mlp_of(name, &m, &B)) {
        fprintf(stderr, "wg_bench: --mem: cannot load %s from %s\n", name, dir);
        return 1;
    }
    double base = proc_status_mib("VmRSS");
    mlp_step(m, t, data_x, data_y, B);
    double first = proc_status_mib("VmRSS");
    size_t cap_first = wg_tape_capacity(t);
    double loss = 0;
    for (long i = 1; i < steps; i++) loss = mlp_step(m, t, data_x, data_y, B);
    printf("{\"base_mib\": %.2f, \"after_first_mib\": %.2f, \"after_last_mib\": %.2f, \"peak_mib\": %.2f, "
           "\"tape_first_bytes\": %zu, \"tape_last_bytes\": %zu, \"loss\": %.6g}\n",
           base, first, proc_status_mib("VmRSS"), proc_status_mib("VmHWM"), cap_first, wg_tape_capacity(t), loss);
    wg_tape_free(t);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "--mem") == 0) return mem_main(argv[2], atol(argv[3]), argv[4]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    wg_tape *t = wg_tape_new();
    char line[1200], cmd[32], arg[1024];
    while (fgets(line, sizeof line, stdin)) {
        long n = 0;
        arg[0] = 0;
        int k = sscanf(line, "%31s %1023s %ld", cmd, arg, &n);
        if (k < 1) continue;
        if (strcmp(cmd, "info") == 0) {
            const char *blas = wg_blas_info(); /* first: wengert picks the kernels before BLIS starts */
            printf("{\"blas\": \"%s\", \"blis_arch_id\": %d, \"compiler\": \"%s\", \"cpp\": %s}\n", blas,
                   (int)bli_arch_query_id(), __VERSION__,
#ifdef WG_BENCH_CPP
                   "true"
#else
                   "false"
#endif
            );
        } else if (strcmp(cmd, "load") == 0) {
            printf(load(arg) == 0 ? "{\"ok\": true}\n" : "{\"error\": \"cannot read the shared data\"}\n");
        } else if (strcmp(cmd, "threads") == 0) {
            wg_set_num_threads(atoi(arg));
            printf("{\"ok\": true}\n");
        } else if (strcmp(cmd, "run") == 0) {
            double extra, bpo, v = run(t, arg, n > 0 ? n : 1, &extra, &bpo);
            if (isnan(v))
                printf("{\"error\": \"%s failed: %s\"}\n", arg, wg_tape_error(t) ? wg_tape_error(t) : "no data");
            else
                printf("{\"value\": %.6g, \"extra\": %.10g, \"tape_bytes\": %zu, \"bytes_per_op\": %.4g}\n", v,
                       isnan(extra) ? -1 : extra, wg_tape_capacity(t), isnan(bpo) ? -1 : bpo);
        } else if (strcmp(cmd, "floor") == 0 && strcmp(arg, "mnist_demo_epoch") == 0) {
            /* The epoch's GEMMs alone: 468 steps at batch 128 and one at 96. */
            if (mnist_load("data/mnist") != 0) {
                printf("{\"error\": \"no MNIST in data/mnist\"}\n");
                continue;
            }
            wg_blas_info();
            bli_thread_set_num_threads(wg_get_num_threads());
            floor_alloc(&demo, BATCH);
            floor_step(BATCH);
            long iters = n > 0 ? n : 1;
            double t0 = now();
            for (long i = 0; i < iters; i++)
                for (int r = 0; r < mnist_n; r += BATCH) floor_step(mnist_n - r < BATCH ? mnist_n - r : BATCH);
            printf("{\"value\": %.6g}\n", (now() - t0) / (double)iters);
        } else if (strcmp(cmd, "check") == 0 || strcmp(cmd, "floor") == 0) {
            mlp *m;
            int B;
            if (!mlp_of(arg, &m, &B)) {
                printf("{\"error\": \"no such MLP workload\"}\n");
                continue;
            }
            if (strcmp(cmd, "floor") == 0) {
                wg_blas_info(); /* the same BLIS kernels wengert chose */
                bli_thread_set_num_threads(wg_get_num_threads());
                floor_alloc(m, B);
                long iters = n > 0 ? n : 1;
                floor_step(B); /* untimed, as the steps are */
                double t0 = now();
                for (long i = 0; i < iters; i++) floor_step(B);
                printf("{\"value\": %.6g}\n", (now() - t0) / (double)iters * 1e3);
                continue;
            }
            mlp_restore(m);
            double loss = mlp_step(m, t, data_x, data_y, B);
            double loss2 = mlp_step(m, t, data_x, data_y, B);
            mlp_restore(m);
            printf("{\"loss\": %.8g, \"loss_after_step\": %.8g}\n", loss, loss2);
        } else if (strcmp(cmd, "quit") == 0) {
            break;
        } else {
            printf("{\"error\": \"unknown command %s\"}\n", cmd);
        }
    }
    wg_tape_free(t);
    return 0;
}
