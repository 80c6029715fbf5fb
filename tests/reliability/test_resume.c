/* test_resume: train N steps, save parameters and optimiser state, load them
 * in a fresh process and train M more: the result is bit-identical to an
 * uninterrupted N+M-step run with the same seed and thread count.
 *
 * The training: an MLP 8-16-3 (tanh) with Adam on a softmax cross-entropy,
 * mini-batches of 32 drawn by a seeded wg_rng.  Everything a step depends on
 * goes into the checkpoint: the parameters, Adam's m and v, the step count
 * and the batch sampler's generator state (in __metadata__).
 *
 *   test_resume                                  runs the whole test
 *   test_resume run THREADS STEPS IN|- OUT [params-only]   one training process
 */
#include <inttypes.h>
#include <math.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rel_util.h"
#include "wengert.h"
#include "wg_test.h"

enum { N_SAMPLES = 256, D_IN = 8, N_CLASSES = 3, BATCH = 32, N_STEPS = 20, M_STEPS = 15 };

/* The data: x ~ N(0,1), label = argmax of a fixed linear map of x. */
static void make_data(float *x, int *labels)
{
    wg_rng r;
    wg_rng_seed(&r, 7);
    for (size_t i = 0; i < (size_t)N_SAMPLES * D_IN; i++) x[i] = (float)wg_rng_normal(&r);
    for (int i = 0; i < N_SAMPLES; i++) {
        double best = -INFINITY;
        for (int c = 0; c < N_CLASSES; c++) {
            double s = 0;
            for (int j = 0; j < D_IN; j++) s += x[i * D_IN + j] * sin(1.0 + c * D_IN + j);
            if (s > best) best = s, labels[i] = c;
        }
    }
}

struct run {
    wg_mlp *mlp;
    wg_optim *opt;
    wg_checkpoint *ck;
    wg_rng batches;
};

static int setup(struct run *R, int params_only)
{
    int64_t sizes[3] = {D_IN, 16, N_CLASSES};
    R->mlp = wg_mlp_new(WG_F32, 3, sizes, WG_ACT_TANH, WG_ACT_IDENTITY, NAN);
    wg_rng init;
    wg_rng_seed(&init, 1);
    if (!R->mlp || wg_mlp_init(R->mlp, WG_INIT_XAVIER, 0, 0.01, &init) != 0) return -1;
    size_t n;
    wg_param *const *ps = wg_mlp_params(R->mlp, &n);
    wg_optim_config cfg = wg_optim_defaults(WG_OPT_ADAM);
    cfg.lr = 0.01;
    R->opt = wg_optim_new(&cfg, n, ps);
    R->ck = wg_checkpoint_new();
    wg_rng_seed(&R->batches, 99);
    if (!R->opt || !R->ck || wg_checkpoint_add_params(R->ck, (int)n, ps) != 0) return -1;
    if (params_only) return 0;
    for (size_t i = 0; i < n; i++) {
        char name[80];
        snprintf(name, sizeof name, "adam.m.%s", ps[i]->name);
        if (wg_checkpoint_add(R->ck, name, ps[i]->dtype, ps[i]->ndim, ps[i]->shape, R->opt->buf1[i])) return -1;
        snprintf(name, sizeof name, "adam.v.%s", ps[i]->name);
        if (wg_checkpoint_add(R->ck, name, ps[i]->dtype, ps[i]->ndim, ps[i]->shape, R->opt->buf2[i])) return -1;
    }
    return 0;
}

static void teardown(struct run *R)
{
    wg_checkpoint_free(R->ck);
    wg_optim_free(R->opt);
    wg_mlp_free(R->mlp);
}

/* The step count, the optimiser's settings and the sampler's state. */
static int save(struct run *R, const char *path)
{
    wg_checkpoint *c = R->ck;
    char key[16], val[24];
    int r = wg_checkpoint_set_meta_i64(c, "step", R->opt->step[0]) ||
            wg_checkpoint_set_meta(c, "optimizer", wg_opt_name(R->opt->cfg.kind)) ||
            wg_checkpoint_set_meta_f64(c, "lr", R->opt->cfg.lr) ||
            wg_checkpoint_set_meta_f64(c, "beta1", R->opt->cfg.beta1) ||
            wg_checkpoint_set_meta_f64(c, "beta2", R->opt->cfg.beta2) ||
            wg_checkpoint_set_meta_f64(c, "eps", R->opt->cfg.eps);
    for (int i = 0; i < 4 && !r; i++) {
        snprintf(key, sizeof key, "rng.s%d", i);
        snprintf(val, sizeof val, "%" PRIu64, R->batches.s[i]);
        r = wg_checkpoint_set_meta(c, key, val);
    }
    if (!r) r = wg_checkpoint_set_meta_i64(c, "rng.has_spare", R->batches.has_spare) ||
                wg_checkpoint_set_meta_f64(c, "rng.spare", R->batches.spare);
    if (!r) r = wg_checkpoint_save(c, path);
    if (r) fprintf(stderr, "save: %s\n", wg_checkpoint_error(c));
    return r ? -1 : 0;
}

static int load(struct run *R, const char *path)
{
    wg_checkpoint *c = R->ck;
    int64_t step, spare_flag;
    double lr;
    if (wg_checkpoint_load(c, path) || wg_checkpoint_meta_i64(c, "step", &step) ||
        wg_checkpoint_meta_f64(c, "lr", &lr) || wg_checkpoint_meta_i64(c, "rng.has_spare", &spare_flag) ||
        wg_checkpoint_meta_f64(c, "rng.spare", &R->batches.spare)) {
        fprintf(stderr, "load: %s\n", wg_checkpoint_error(c));
        return -1;
    }
    if (lr != R->opt->cfg.lr || strcmp(wg_checkpoint_meta(c, "optimizer"), "adam") != 0) {
        fprintf(stderr, "load: the checkpoint was made with other settings\n");
        return -1;
    }
    for (size_t i = 0; i < R->opt->n; i++) R->opt->step[i] = step;
    R->batches.has_spare = (int)spare_flag;
    for (int i = 0; i < 4; i++) {
        char key[16];
        snprintf(key, sizeof key, "rng.s%d", i);
        const char *v = wg_checkpoint_meta(c, key);
        if (!v) return -1;
        R->batches.s[i] = strtoull(v, NULL, 10);
    }
    return 0;
}

static int train(struct run *R, int steps)
{
    static float x[N_SAMPLES * D_IN], xb[BATCH * D_IN];
    static int labels[N_SAMPLES], lb[BATCH];
    make_data(x, labels);
    wg_tape *t = wg_tape_new();
    int64_t shape[2] = {BATCH, D_IN};
    for (int s = 0; s < steps; s++) {
        size_t idx[BATCH];
        for (int i = 0; i < BATCH; i++) idx[i] = (size_t)wg_rng_below(&R->batches, N_SAMPLES);
        wg_gather_rows(WG_F32, x, D_IN, idx, BATCH, xb);
        wg_gather_labels(labels, idx, BATCH, lb);
        wg_tensor *xt = wg_tensor_new(t, WG_F32, 2, shape, xb, false);
        wg_tensor *loss = wg_nn_softmax_cross_entropy_idx(t, wg_mlp_forward(t, R->mlp, xt), lb, WG_REDUCE_MEAN);
        if (!loss || wg_backward(t, loss) != 0 || wg_optim_step(R->opt) != 0) {
            fprintf(stderr, "step %d: %s\n", s, wg_tape_error(t) ? wg_tape_error(t) : wg_last_error());
            wg_tape_free(t);
            return -1;
        }
        wg_optim_zero_grad(R->opt);
        wg_tape_reset(t);
    }
    wg_tape_free(t);
    return 0;
}

/* One training process: exit status 0 on success. */
static int run_main(int threads, int steps, const char *in, const char *out, int params_only)
{
    wg_set_num_threads(threads);
    struct run R = {0};
    int r = setup(&R, params_only);
    if (!r && strcmp(in, "-") != 0) r = load(&R, in);
    if (!r) r = train(&R, steps);
    if (!r) r = save(&R, out);
    teardown(&R);
    return r ? 1 : 0;
}

/* ---- the driver: each run is a fresh process ----------------------------- */

static char self[4096];

static int spawn(int threads, int steps, const char *in, const char *out, int params_only)
{
    char th[16], st[16];
    snprintf(th, sizeof th, "%d", threads);
    snprintf(st, sizeof st, "%d", steps);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        execl(self, self, "run", th, st, in, out, params_only ? "params-only" : (char *)NULL, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int same_file(const char *a, const char *b)
{
    size_t la = 0, lb = 0;
    unsigned char *fa = rel_read_file(a, &la), *fb = rel_read_file(b, &lb);
    int same = fa && fb && la == lb && memcmp(fa, fb, la) == 0;
    free(fa);
    free(fb);
    return same;
}

/* Names the first tensor that differs between two checkpoints of the run. */
static void compare_tensors(const char *a, const char *b, const char *what)
{
    struct run A = {0}, B = {0};
    if (setup(&A, 0) || setup(&B, 0) || wg_checkpoint_load(A.ck, a) || wg_checkpoint_load(B.ck, b)) {
        CHECK(0, "%s: loading for comparison: %s %s", what, wg_checkpoint_error(A.ck), wg_checkpoint_error(B.ck));
    } else {
        for (size_t i = 0; i < A.opt->n; i++) {
            wg_param *p = A.opt->params[i], *q = B.opt->params[i];
            size_t bytes = p->numel * sizeof(float);
            CHECK(memcmp(p->data, q->data, bytes) == 0, "%s: parameter %s differs", what, p->name);
            CHECK(memcmp(A.opt->buf1[i], B.opt->buf1[i], bytes) == 0, "%s: Adam m of %s differs", what, p->name);
            CHECK(memcmp(A.opt->buf2[i], B.opt->buf2[i], bytes) == 0, "%s: Adam v of %s differs", what, p->name);
        }
        CHECK_STR(wg_checkpoint_meta(A.ck, "step"), wg_checkpoint_meta(B.ck, "step"));
    }
    teardown(&A);
    teardown(&B);
}

int main(int argc, char **argv)
{
    if (argc >= 6 && strcmp(argv[1], "run") == 0)
        return run_main(atoi(argv[2]), atoi(argv[3]), argv[4], argv[5], argc > 6);
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) snprintf(self, sizeof self, "%s", argv[0]);
    else self[n] = 0;

    char *dir = rel_tmpdir("wg-resume");
    CHECK(dir != NULL, "scratch directory");
    if (!dir) return wg_test_done("test_resume");
    char a[4096], b[4096], c[4096], d[4096];
    rel_path(a, sizeof a, dir, "first_n.safetensors");
    rel_path(b, sizeof b, dir, "resumed.safetensors");
    rel_path(c, sizeof c, dir, "straight.safetensors");
    rel_path(d, sizeof d, dir, "params_only.safetensors");
    for (int threads = 1; threads <= 2; threads++) {
        CHECK(spawn(threads, N_STEPS, "-", a, 0) == 0, "threads %d: %d steps and save", threads, N_STEPS);
        CHECK(spawn(threads, M_STEPS, a, b, 0) == 0, "threads %d: a fresh process loads and trains %d more", threads,
              M_STEPS);
        CHECK(spawn(threads, N_STEPS + M_STEPS, "-", c, 0) == 0, "threads %d: %d steps straight", threads,
              N_STEPS + M_STEPS);
        CHECK(same_file(b, c), "threads %d: the resumed run's checkpoint is byte-identical to the straight run's",
              threads);
        compare_tensors(b, c, threads == 1 ? "1 thread" : "2 threads");
        CHECK(!same_file(a, c), "threads %d: training moved the parameters", threads);
        /* Sensitivity: without Adam's state the resumed run differs. */
        CHECK(spawn(threads, N_STEPS, "-", d, 1) == 0 && spawn(threads, M_STEPS, d, d, 1) == 0,
              "threads %d: params-only runs", threads);
        struct run P = {0}, S = {0};
        if (setup(&P, 1) == 0 && setup(&S, 0) == 0 && wg_checkpoint_load(P.ck, d) == 0 &&
            wg_checkpoint_load(S.ck, c) == 0) {
            wg_param *p = P.opt->params[0], *s = S.opt->params[0];
            CHECK(memcmp(p->data, s->data, p->numel * sizeof(float)) != 0,
                  "threads %d: resuming without the optimiser state gives other weights", threads);
        } else {
            CHECK(0, "loading the params-only run");
        }
        teardown(&P);
        teardown(&S);
    }
    rel_rmdir(dir);
    free(dir);
    return wg_test_done("test_resume");
}
