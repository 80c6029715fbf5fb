/* wg_nn.h: activations, losses, layers, MLPs, initialisers, data utilities
 * and metrics.
 *
 * Every differentiable function here is a composition of the public primitive
 * ops (wg_ops.h).  nn/ contains no gradient code: the tape differentiates each
 * composite, and the build keeps nn/ away from the tape's internals.
 *
 * Conventions for every function that takes a tape `t`:
 *   - it records on `t` and returns a tensor owned by `t`, valid until
 *     wg_tape_reset(t); NULL on error, with the message on the tape
 *     ("fn: problem: operands", see wg_tape_error) -- a NULL input just
 *     propagates NULL;
 *   - f32 and f64 both work; results have the dtype of the inputs;
 *   - "finite at +-1000": values and gradients of sigmoid, tanh, softplus,
 *     softmax, log-softmax, BCE (from logits), CE, SiLU, ELU, softsign stay
 *     finite for inputs of +-1000 (stable forms, noted per function);
 *   - the class axis of softmax-style functions and losses is the LAST axis;
 *     every leading axis counts samples.
 *
 * Functions without a tape (initialisers, data utilities, metrics) work on
 * plain arrays; on bad arguments they return -1 (or NULL) and set
 * wg_last_error().  Randomness always comes from an explicit wg_rng
 * (xoshiro256**, wg_rng.h): the same seed gives the same numbers everywhere.
 */
#ifndef WG_NN_H
#define WG_NN_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "wg_ops.h"
#include "wg_rng.h"
#include "wg_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ==== activations ======================================================== */
/* All elementwise unless noted; x of any shape, 0-d scalars included.  The
 * derivative at a kink is stated where one exists. */

wg_tensor *wg_nn_identity(wg_tape *t, wg_tensor *x);                /* x */
wg_tensor *wg_nn_linear(wg_tape *t, wg_tensor *x, double alpha);    /* alpha*x */
/* Heaviside step (1 if x >= 0 else 0) and sign (-1, 0, 1): zero gradient
 * everywhere, for the perceptron. */
wg_tensor *wg_nn_step(wg_tape *t, wg_tensor *x);
wg_tensor *wg_nn_sign(wg_tape *t, wg_tensor *x);
/* 1/(1+e^-x), computed as exp(-softplus(-x)): never overflows, keeps full
 * relative precision in both tails, sigmoid'(0) = 1/4. */
wg_tensor *wg_nn_sigmoid(wg_tape *t, wg_tensor *x);
wg_tensor *wg_nn_tanh(wg_tape *t, wg_tensor *x); /* the primitive */
/* max(x, 0); relu'(0) = 0 (PyTorch's convention). */
wg_tensor *wg_nn_relu(wg_tape *t, wg_tensor *x);
/* x for x > 0, alpha*x otherwise; derivative alpha at 0 (PyTorch's).  Any
 * alpha works (alpha > 1 too). */
#define WG_NN_LEAKY_ALPHA 0.01
wg_tensor *wg_nn_leaky_relu(wg_tape *t, wg_tensor *x, double alpha);
/* PReLU: as leaky relu with a learned slope `alpha`, a tensor that broadcasts
 * against x (usually wg_use of a 0-d or [C] wg_param).  d/dx at 0 is alpha;
 * d/dalpha = min(x, 0). */
wg_tensor *wg_nn_prelu(wg_tape *t, wg_tensor *x, wg_tensor *alpha);
/* ELU: x for x > 0, alpha*(e^x - 1) otherwise (e^x - 1 in an expm1-accurate
 * form); derivative alpha at 0.  alpha = 1 is the usual choice. */
wg_tensor *wg_nn_elu(wg_tape *t, wg_tensor *x, double alpha);
/* SiLU / swish x*sigmoid(x), and the trainable x*sigmoid(beta*x) with a
 * tensor beta that broadcasts against x. */
wg_tensor *wg_nn_silu(wg_tape *t, wg_tensor *x);
wg_tensor *wg_nn_swish(wg_tape *t, wg_tensor *x, wg_tensor *beta);
/* x/(1+|x|). */
wg_tensor *wg_nn_softsign(wg_tape *t, wg_tensor *x);
/* log(1+e^x) as max(x,0) + log1p(e^-|x|): never overflows, softplus'(0) = 1/2,
 * and the left tail's derivative e^x/(1+e^x) keeps full relative precision. */
wg_tensor *wg_nn_softplus(wg_tape *t, wg_tensor *x);
/* Maxout: the last axis of z holds groups of k affine pieces,
 * [..., m*k] -> [..., m], out[..., j] = max_i z[..., j*k + i].  Feed it the
 * output of a dense layer with m*k units.  The gradient goes to the first
 * maximal piece. */
wg_tensor *wg_nn_maxout(wg_tape *t, wg_tensor *z, int64_t k);
/* Along `axis` (negative counts from the end).  softmax subtracts the
 * detached max; log_softmax is x - logsumexp(x); logsumexp adds the max back.
 * keepdim as in wg_sum_axis. */
wg_tensor *wg_nn_softmax(wg_tape *t, wg_tensor *x, int axis);
wg_tensor *wg_nn_log_softmax(wg_tape *t, wg_tensor *x, int axis);
wg_tensor *wg_nn_logsumexp(wg_tape *t, wg_tensor *x, int axis, bool keepdim);

/* Activations by name, for layers and for the calculator. */
typedef enum {
    WG_ACT_IDENTITY = 0,
    WG_ACT_SIGMOID,
    WG_ACT_TANH,
    WG_ACT_RELU,
    WG_ACT_LEAKY_RELU, /* alpha: slope, default WG_NN_LEAKY_ALPHA */
    WG_ACT_ELU,        /* alpha, default 1 */
    WG_ACT_SILU,
    WG_ACT_SOFTPLUS,
    WG_ACT_SOFTSIGN,
    WG_ACT_STEP,
    WG_ACT_SIGN,
    WG_ACT_SOFTMAX,     /* along the last axis */
    WG_ACT_LOG_SOFTMAX, /* along the last axis */
    WG_ACT_COUNT
} wg_act;
/* alpha is used by LEAKY_RELU and ELU only; WG_ACT_DEFAULT_ALPHA (a NaN)
 * picks their defaults (0.01 and 1). */
#define WG_ACT_DEFAULT_ALPHA NAN
wg_tensor *wg_nn_activate(wg_tape *t, wg_tensor *x, wg_act act, double alpha);
/* "sigmoid", "tanh", "relu", "leaky_relu", "elu", "silu", "softplus", ... */
const char *wg_act_name(wg_act act);
/* The activation of that name (also "identity"/"linear", "swish" for silu),
 * or -1. */
int wg_act_from_name(const char *name);

/* ==== losses ============================================================= */

typedef enum {
    WG_REDUCE_MEAN = 0, /* the default */
    WG_REDUCE_SUM = 1,
    WG_REDUCE_NONE = 2, /* the unreduced per-element / per-sample losses */
} wg_reduction;
/* Sum or mean of all elements (NONE returns x). */
wg_tensor *wg_nn_reduce(wg_tape *t, wg_tensor *x, wg_reduction red);

/* Elementwise losses: y (prediction) and target have the same shape (target
 * may broadcast).  MEAN divides by the number of elements, as PyTorch. */
/* E = 1/2 sum (y - target)^2, the lectures' sum-of-squares error (always a sum). */
wg_tensor *wg_nn_sum_squares(wg_tape *t, wg_tensor *y, wg_tensor *target);
wg_tensor *wg_nn_mse(wg_tape *t, wg_tensor *y, wg_tensor *target, wg_reduction red);
wg_tensor *wg_nn_l1(wg_tape *t, wg_tensor *y, wg_tensor *target, wg_reduction red);
/* Negative log-likelihoods where the network predicts location mu and a raw
 * (unconstrained) scale s; the scale is softplus(s) + WG_NN_MIN_SCALE.
 *   Gaussian: sigma = scale, nll = log(sigma) + (y-mu)^2/(2 sigma^2) + log(2 pi)/2
 *   Laplace:  b = scale,     nll = log(2 b) + |y-mu|/b      (lecture 003)
 * mu, raw_scale and y share one shape (y may broadcast). */
#define WG_NN_MIN_SCALE 1e-6
wg_tensor *wg_nn_gaussian_nll(wg_tape *t, wg_tensor *mu, wg_tensor *raw_scale, wg_tensor *y,
                              wg_reduction red);
wg_tensor *wg_nn_laplace_nll(wg_tape *t, wg_tensor *mu, wg_tensor *raw_scale, wg_tensor *y,
                             wg_reduction red);
/* Mixture density loss (lecture 003): p(y|x) = sum_m pi_m p_m(y), with
 * pi = softmax(logits) over the last axis and p_m a Laplace or Gaussian with
 * location mu[..., m] and scale softplus(raw_scale[..., m]) + WG_NN_MIN_SCALE.
 * logits, mu, raw_scale are [N, M]; y is [N, 1] (or [N]).  nll per sample =
 * -logsumexp_m(log pi_m + log p_m(y)); MEAN divides by N. */
typedef enum { WG_DIST_LAPLACE = 0, WG_DIST_GAUSSIAN = 1 } wg_dist;
wg_tensor *wg_nn_mixture_nll(wg_tape *t, wg_tensor *logits, wg_tensor *mu, wg_tensor *raw_scale,
                             wg_tensor *y, wg_dist dist, wg_reduction red);
/* Binary cross-entropy -(y log p + (1-y) log(1-p)) on probabilities p in
 * (0,1) (p = 0 or 1 against a disagreeing target is infinite, as the math),
 * and from logits z as softplus(z) - y z (finite everywhere). Elementwise. */
wg_tensor *wg_nn_bce(wg_tape *t, wg_tensor *p, wg_tensor *y, wg_reduction red);
wg_tensor *wg_nn_bce_logits(wg_tape *t, wg_tensor *z, wg_tensor *y, wg_reduction red);

/* Categorical cross-entropy.  Per sample (a row along the last axis) the loss
 * is -sum_c y_c log q_c; MEAN divides by the number of samples.  Natural
 * logarithm: lecture 000's "-log(0.06) = 1.22" is base 10; here -ln(0.0596)
 * = 2.82.  `labels` are class indices, one per sample (numel / C of them),
 * each in [0, C); an index out of range is an error on the tape. */
/* On probabilities q (e.g. a softmax output). */
wg_tensor *wg_nn_cross_entropy(wg_tape *t, wg_tensor *q, wg_tensor *y_onehot, wg_reduction red);
wg_tensor *wg_nn_cross_entropy_idx(wg_tape *t, wg_tensor *q, const int *labels, wg_reduction red);
/* The "softmax loss": CE of softmax(logits), computed as -sum y log_softmax. */
wg_tensor *wg_nn_softmax_cross_entropy(wg_tape *t, wg_tensor *logits, wg_tensor *y_onehot,
                                       wg_reduction red);
wg_tensor *wg_nn_softmax_cross_entropy_idx(wg_tape *t, wg_tensor *logits, const int *labels,
                                           wg_reduction red);
/* Softmax CE with options.  Exactly one of y (one-hot or soft targets) and
 * labels must be non-NULL.
 *   class_weights (C values, may be NULL = all 1): sample i's loss is scaled
 *     by sum_c w_c y_ic; MEAN then divides by the sum of those factors
 *     (PyTorch's weighted mean).
 *   label_smoothing eps in [0,1): targets become (1-eps) y + eps/C. */
typedef struct {
    wg_reduction reduction;
    const double *class_weights;
    double label_smoothing;
} wg_ce_opts;
wg_tensor *wg_nn_softmax_cross_entropy_ex(wg_tape *t, wg_tensor *logits, wg_tensor *y,
                                          const int *labels, const wg_ce_opts *opts);

/* Soft Jaccard and soft Dice losses (lecture 004).  p: softmax outputs,
 * y: one-hot targets, both [..., C]; sums run over every leading axis.
 *   alpha_i = sum y*p, beta_i = sum (y + p)     (per class i)
 *   Jaccard: J_i = (alpha_i + eps)/(beta_i - alpha_i + eps), loss 1 - mean_i J_i
 *   Dice:    D_i = (2 alpha_i + eps)/(beta_i + eps),         loss 1 - mean_i D_i
 * eps > 0 avoids 0/0; WG_NN_DICE_EPS is a common choice.  Returns a 0-d loss. */
#define WG_NN_DICE_EPS 1e-6
wg_tensor *wg_nn_soft_jaccard(wg_tape *t, wg_tensor *p, wg_tensor *y, double eps);
wg_tensor *wg_nn_soft_dice(wg_tape *t, wg_tensor *p, wg_tensor *y, double eps);
/* Perceptron criterion: sum over samples of max(0, -a*y) with targets y in
 * {-1, +1} and activations a (same shape).  A sample exactly on the boundary
 * (a = 0) counts as misclassified: its gradient is -y. */
wg_tensor *wg_nn_perceptron_criterion(wg_tape *t, wg_tensor *a, wg_tensor *y, wg_reduction red);
/* Weight decay penalty 1/2 gamma sum ||w||^2 over the parameters (each
 * recorded with wg_use, so gradients land in p->grad).  Parameters with
 * ndim <= 1 are biases and left out unless include_biases. */
wg_tensor *wg_nn_l2_penalty(wg_tape *t, size_t n, wg_param *const *params, double gamma,
                            bool include_biases);

/* ==== initialisers ======================================================= */
/* Fill p->data (f32 or f64); return 0, or -1 with wg_last_error() on a NULL
 * parameter or rng or a bad argument.  fan_in is D_in, the layer's input
 * dimension. */
int wg_init_constant(wg_param *p, double v); /* v = 0: the zero init */
int wg_init_normal(wg_param *p, double sigma, wg_rng *r);   /* N(0, sigma^2) */
int wg_init_uniform(wg_param *p, double a, wg_rng *r);      /* U(-a, a) */
/* Xavier/Glorot as lecture 003 writes it: sigma^2 = 1/D_in.  The uniform
 * variant has the same variance: U(-sqrt(3/D_in), sqrt(3/D_in)). */
int wg_init_xavier_normal(wg_param *p, int64_t fan_in, wg_rng *r);
int wg_init_xavier_uniform(wg_param *p, int64_t fan_in, wg_rng *r);
/* He: sigma^2 = 2/D_in (for ReLU layers). */
int wg_init_he_normal(wg_param *p, int64_t fan_in, wg_rng *r);

typedef enum {
    WG_INIT_ZERO = 0,     /* everything 0 (the demos show it failing) */
    WG_INIT_CONSTANT,     /* every weight = arg */
    WG_INIT_NORMAL,       /* sigma = arg */
    WG_INIT_SMALL,        /* sigma = 0.01 */
    WG_INIT_LARGE,        /* sigma = 0.2 */
    WG_INIT_XAVIER,       /* normal, sigma^2 = 1/D_in */
    WG_INIT_XAVIER_UNIFORM,
    WG_INIT_HE,           /* normal, sigma^2 = 2/D_in */
} wg_init;
/* Fill p by `scheme` (arg is the value for CONSTANT and sigma for NORMAL;
 * fan_in = D_in is used by the Xavier and He schemes).  0 or -1. */
int wg_init_param(wg_param *p, wg_init scheme, double arg, int64_t fan_in, wg_rng *r);
const char *wg_init_name(wg_init scheme); /* "zero", "constant", "normal", "small", ... */
int wg_init_from_name(const char *name);  /* or -1 */

/* ==== layers and models ================================================== */

/* A dense layer y = x W^T + b.  W is [n_out, n_in] (PyTorch's layout, the
 * lectures' w_ji), b is [n_out] or absent.  Forward is one matmul reading W
 * transposed through strides plus one broadcast add.  The layer owns W and b. */
typedef struct wg_dense {
    int64_t n_in, n_out;
    wg_param *W;
    wg_param *b; /* NULL without a bias */
} wg_dense;
/* NULL (wg_last_error) on bad sizes or no memory.  Weights start at zero. */
wg_dense *wg_dense_new(wg_dtype dt, int64_t n_in, int64_t n_out, bool bias);
void wg_dense_free(wg_dense *l);
/* W by `scheme` (arg for CONSTANT/NORMAL), b = bias (a small positive bias,
 * e.g. 0.01, keeps ReLU units alive).  rng may be NULL for ZERO/CONSTANT. */
int wg_dense_init(wg_dense *l, wg_init scheme, double arg, double bias, wg_rng *r);
/* x [N, n_in] -> [N, n_out] (x [n_in] -> [n_out] too). */
wg_tensor *wg_dense_forward(wg_tape *t, wg_dense *l, wg_tensor *x);

/* A multi-layer perceptron.  sizes = {M_0 (inputs), M_1, ..., M_L (outputs)};
 * layer l = 1..L computes z_l = h_l(W_l z_{l-1} + b_l + sum_k S_kl z_k) with
 * z_0 = x, h_l the hidden activation for l < L and the output activation for
 * l = L.  The S_kl are shortcut connections (lecture 001): the input or an
 * earlier layer k feeding layer l > k+1 directly, through its own weight
 * matrix S_kl [M_l, M_k] without bias.
 *
 * The struct is public for reading; change it only through these functions.
 * The model owns its layers and parameters. */
typedef struct wg_shortcut {
    int from, to; /* 0 = the input, L = the output layer */
    wg_param *S;  /* [M_to, M_from] */
} wg_shortcut;

typedef struct wg_mlp {
    wg_dtype dtype;
    int n_layers;       /* L */
    int64_t *sizes;     /* L + 1 entries */
    wg_dense **layers;  /* layers[l-1] is layer l */
    wg_act hidden, output;
    double alpha;       /* for LEAKY_RELU / ELU hidden or output activations */
    int n_shortcuts;
    wg_shortcut *shortcuts;
    size_t n_params;    /* W_1, b_1, ..., W_L, b_L, then each S in order added */
    wg_param **params;
} wg_mlp;

/* n_sizes >= 2.  Weights start at zero: call wg_mlp_init.  Use WG_ACT_IDENTITY
 * as the output with wg_nn_softmax_cross_entropy (it takes logits).  alpha:
 * WG_ACT_DEFAULT_ALPHA for the activation's default.  NULL (wg_last_error) on
 * bad arguments. */
wg_mlp *wg_mlp_new(wg_dtype dt, int n_sizes, const int64_t *sizes, wg_act hidden, wg_act output,
                   double alpha);
void wg_mlp_free(wg_mlp *m);
/* Add a shortcut from layer `from` (0 = input) to layer `to`, from < to - 1.
 * Its weights start at zero.  Appends S to params.  0 or -1 (wg_last_error). */
int wg_mlp_add_shortcut(wg_mlp *m, int from, int to);
/* Initialise every W (and S) by `scheme` with D_in = that matrix's column
 * count, every b to `bias`. */
int wg_mlp_init(wg_mlp *m, wg_init scheme, double arg, double bias, wg_rng *r);
/* x [N, M_0] -> [N, M_L].  Records each parameter with wg_use. */
wg_tensor *wg_mlp_forward(wg_tape *t, wg_mlp *m, wg_tensor *x);
/* The parameter list, for optimisers and checkpoints: *n = m->n_params. */
wg_param *const *wg_mlp_params(const wg_mlp *m, size_t *n);
/* Number of scalars: N_p = sum_l M_l (M_{l-1} + 1), plus the shortcuts'. */
size_t wg_mlp_count(const wg_mlp *m);
void wg_mlp_zero_grad(wg_mlp *m);
/* One line per layer and shortcut, then "N_p = ..." (the formula's value) and
 * the total with shortcuts.  f NULL = stdout. */
void wg_mlp_summary(const wg_mlp *m, FILE *f);

/* ==== data utilities (plain arrays, row-major [n, d]) ==================== */

/* Zero-centring and standardisation: fit on the training data, then apply
 * the same mean (and std) to any data.  Owns its two arrays. */
typedef struct wg_scaler {
    size_t d;
    double *mean; /* d */
    double *std;  /* d; 1 where a feature is constant, or when !scale */
    bool scale;   /* false: zero-centre only */
} wg_scaler;
int wg_scaler_fit(wg_scaler *s, wg_dtype dt, const void *x, size_t n, size_t d, bool scale);
/* x[i, j] = (x[i, j] - mean[j]) / std[j], in place. */
int wg_scaler_apply(const wg_scaler *s, wg_dtype dt, void *x, size_t n);
void wg_scaler_free(wg_scaler *s);

/* PCA through LAPACK's symmetric eigensolver (dsyev) on the covariance
 * (divided by n - 1).  Components sorted by decreasing eigenvalue. */
typedef struct wg_pca {
    size_t d;
    double *mean;       /* d */
    double *eigvals;    /* d, decreasing */
    double *components; /* d x d row-major: row k is the k-th eigenvector */
} wg_pca;
int wg_pca_fit(wg_pca *p, wg_dtype dt, const void *x, size_t n, size_t d);
/* out[i, k] = <x_i - mean, u_k> for k < n_comp (decorrelation), divided by
 * sqrt(lambda_k + eps) when whiten.  out is [n, n_comp] of dtype dt and must
 * not overlap x. */
int wg_pca_apply(const wg_pca *p, wg_dtype dt, const void *x, size_t n, size_t n_comp,
                 bool whiten, double eps, void *out);
void wg_pca_free(wg_pca *p);

/* out [n, n_classes] of dtype dt: 1 at labels[i], 0 elsewhere.  -1 on a label
 * out of range (the message names the index and the label). */
int wg_one_hot(wg_dtype dt, const int *labels, size_t n, int n_classes, void *out);

/* A seeded mini-batch iterator over n samples.  Allocates its permutation once;
 * wg_batcher_next does no allocation.  With shuffle it reshuffles at the start
 * of every epoch (Fisher-Yates with its own xoshiro256** stream). */
typedef struct wg_batcher {
    size_t n, batch_size;
    size_t *perm; /* n */
    size_t pos;
    int64_t epoch; /* completed epochs */
    bool shuffle, drop_last;
    wg_rng rng;
    int shard_rank, shard_size; /* wg_batcher_shard; 0 and 1 until then */
    size_t global_count;        /* the whole batch's size at the last wg_batcher_next */
} wg_batcher;
int wg_batcher_init(wg_batcher *b, size_t n, size_t batch_size, bool shuffle, bool drop_last,
                    uint64_t seed);
/* The next batch: *idx points at `*count` sample indices (inside b->perm).
 * Returns false at the end of an epoch (then the next call starts the next
 * epoch). */
bool wg_batcher_next(wg_batcher *b, const size_t **idx, size_t *count);
void wg_batcher_free(wg_batcher *b);
/* Data parallelism: this batcher becomes process `rank` of `size` (0 <= rank
 * < size).  Every process makes its batcher with the same n, batch_size,
 * shuffle, drop_last and seed, so all draw the same global batches; then
 * wg_batcher_next gives each process its own contiguous share of every
 * batch: of a global batch of c samples (b->global_count), rank r takes
 * [c*r/size, c*(r+1)/size), so shares differ by at most one and may be empty
 * (then *count is 0 and the call still returns true: the process takes part
 * in the step with a zero gradient).  A rank's mean loss times
 * *count / global_count, summed over the ranks, is the mean over the global
 * batch: that is the weight to give the gradient reduction (dist/wg_dist.h).
 * -1 on a bad rank or size. */
int wg_batcher_shard(wg_batcher *b, int rank, int size);
/* dst[r] = src[idx[r]] for rows of `row_elems` elements of dtype dt. */
void wg_gather_rows(wg_dtype dt, const void *src, size_t row_elems, const size_t *idx, size_t count,
                    void *dst);
void wg_gather_labels(const int *src, const size_t *idx, size_t count, int *dst);

/* Train/validation split: perm (n entries, caller-owned) receives a seeded
 * permutation; its first *n_train entries are the training samples, the rest
 * (round(n * val_fraction)) the validation samples. */
int wg_train_val_split(size_t n, double val_fraction, uint64_t seed, size_t *perm, size_t *n_train);

/* ==== metrics ============================================================ */

/* pred[i] = argmax of row i of scores [n, c] (the first maximal one). */
void wg_argmax_rows(wg_dtype dt, const void *scores, size_t n, size_t c, int *pred);
double wg_accuracy(const int *pred, const int *labels, size_t n);   /* fraction in [0,1] */
double wg_error_rate(const int *pred, const int *labels, size_t n); /* 1 - accuracy */
/* Accuracy of a [N, C] score tensor against N labels. */
double wg_accuracy_of(const wg_tensor *scores, const int *labels);
/* cm[true * c + pred] counts (c x c, caller-owned, zeroed here).  -1 if a
 * label or prediction is out of [0, c). */
int wg_confusion_matrix(const int *pred, const int *labels, size_t n, int c, size_t *cm);
void wg_confusion_print(const size_t *cm, int c, FILE *f);

#ifdef __cplusplus
}
#endif
#endif
