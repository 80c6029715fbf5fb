/* dist_bench: the step time of data-parallel MLP training (dist/), and the
 * part of it spent communicating, with and without overlap.
 *
 *   dist_bench [--hidden 512,512] [--batch 256] [--steps 40] [--threads 1]
 *              [--mode overlap|blocking|comm] [--bucket BYTES]
 *   mpirun -np 2 build/bench/dist_bench --mode overlap
 *
 * One f32 MLP 784-H...-10 (ReLU, softmax cross-entropy, SGD) trains on a
 * global batch of random inputs split over the processes (wg_batcher_shard's
 * shares).  Per step it times, on every rank:
 *   compute   forward + backward (+ the hook's packing and MPI tests, which
 *             run inside backward) + the optimiser step
 *   comm      time blocked on the reduction after backward: all of it for
 *             --mode blocking (wg_dist_allreduce), what overlap did not hide
 *             for --mode overlap (wg_dist_end)
 *   hook      the part of compute spent in the hook (overlap only)
 * and prints medians over the steps after 5 warm-up steps, the slowest rank's
 * median for each.  --mode comm times wg_dist_allreduce alone (no compute)
 * on the model's gradients: the reduction's own cost at this size.  Run
 * without mpirun it is one process with no reduction.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wengert.h"
#include "wg_dist.h"

enum { IN = 784, CLASSES = 10, WARMUP = 5, MAXL = 6 };

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv)
{
    int64_t sizes[MAXL + 2] = {IN, 512, 512};
    int n_sizes = 3;
    long batch = 256, steps = 40, threads = 1;
    size_t bucket = 0;
    const char *mode = "overlap";
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--hidden") == 0) {
            n_sizes = 1;
            for (char *s = argv[++i]; *s && n_sizes <= MAXL;) {
                sizes[n_sizes++] = strtol(s, &s, 10);
                if (*s == ',') s++;
            }
        } else if (i + 1 < argc && strcmp(argv[i], "--batch") == 0) {
            batch = atol(argv[++i]);
        } else if (i + 1 < argc && strcmp(argv[i], "--steps") == 0) {
            steps = atol(argv[++i]);
        } else if (i + 1 < argc && strcmp(argv[i], "--threads") == 0) {
            threads = atol(argv[++i]);
        } else if (i + 1 < argc && strcmp(argv[i], "--mode") == 0) {
            mode = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--bucket") == 0) {
            bucket = (size_t)atol(argv[++i]);
        } else {
            fprintf(stderr, "usage: dist_bench [--hidden 512,512] [--batch 256] [--steps 40] [--threads 1] "
                            "[--mode overlap|blocking|comm] [--bucket BYTES]\n");
            return 2;
        }
    }
    sizes[n_sizes++] = CLASSES;
    if (batch < 1 || steps < 1 || threads < 1 ||
        (strcmp(mode, "overlap") && strcmp(mode, "blocking") && strcmp(mode, "comm"))) {
        fprintf(stderr, "dist_bench: bad --batch, --steps, --threads or --mode\n");
        return 2;
    }
    const int overlap = strcmp(mode, "overlap") == 0, comm_only = strcmp(mode, "comm") == 0;
    if (wg_dist_init(&argc, &argv) != 0) {
        fprintf(stderr, "dist_bench: %s\n", wg_last_error());
        return 1;
    }
    wg_set_num_threads((int)threads);
    wg_mlp *m = wg_mlp_new(WG_F32, n_sizes, sizes, WG_ACT_RELU, WG_ACT_IDENTITY, NAN);
    wg_rng rng;
    wg_rng_seed(&rng, 1);
    if (!m || wg_mlp_init(m, WG_INIT_HE, 0, 0, &rng) != 0) {
        fprintf(stderr, "dist_bench: %s\n", wg_last_error());
        return 1;
    }
    size_t n_params;
    wg_param *const *ps = wg_mlp_params(m, &n_params);
    wg_optim_config cfg = wg_optim_defaults(WG_OPT_SGD);
    cfg.lr = 0.01;
    wg_optim *opt = wg_optim_new(&cfg, n_params, ps);
    wg_dist_group *d = wg_dist_new(MPI_COMM_WORLD, n_params, ps, bucket);
    if (!opt || !d || wg_dist_broadcast(d) != 0) {
        fprintf(stderr, "dist_bench: %s\n", wg_last_error());
        return 1;
    }
    const int rank = wg_dist_rank(d), P = wg_dist_size(d);
    /* This rank's share of the global batch: random pixels and labels. */
    size_t lo = (size_t)batch * (size_t)rank / (size_t)P, hi = (size_t)batch * (size_t)(rank + 1) / (size_t)P;
    size_t b = hi - lo;
    float *x = malloc(sizeof *x * (b ? b : 1) * IN);
    int *y = malloc(sizeof *y * (b ? b : 1));
    for (size_t i = 0; i < b * IN; i++) x[i] = (float)wg_rng_uniform(&rng);
    for (size_t i = 0; i < b; i++) y[i] = (int)wg_rng_below(&rng, CLASSES);
    double w = (double)b / (double)batch;
    wg_tape *t = wg_tape_new();
    double *ts = malloc(sizeof *ts * 4 * (size_t)steps);
    if (!x || !y || !t || !ts) return 1;
    double *step_t = ts, *comp_t = ts + steps, *comm_t = ts + 2 * steps, *hook_t = ts + 3 * steps;
    for (long s = -WARMUP; s < steps; s++) {
        MPI_Barrier(MPI_COMM_WORLD); /* every step starts together: no skew carried over */
        wg_dist_stats st0 = wg_dist_get_stats(d);
        double t0 = MPI_Wtime(), t1 = t0, t2 = t0;
        if (comm_only) {
            if (wg_dist_allreduce(d, w) != 0) return 1;
            t1 = t0, t2 = MPI_Wtime();
        } else {
            wg_tape_reset(t);
            wg_optim_zero_grad(opt);
            wg_tensor *xt = wg_tensor_view(t, WG_F32, 2, (int64_t[]){(int64_t)b, IN}, x);
            wg_tensor *l = wg_nn_softmax_cross_entropy_idx(t, wg_mlp_forward(t, m, xt), y, WG_REDUCE_MEAN);
            if (overlap && wg_dist_begin(d, t, w) != 0) return 1;
            if (!l || wg_backward(t, l) != 0) {
                fprintf(stderr, "dist_bench: %s\n", wg_tape_error(t));
                return 1;
            }
            t1 = MPI_Wtime();
            if ((overlap ? wg_dist_end(d) : wg_dist_allreduce(d, w)) != 0) {
                fprintf(stderr, "dist_bench: %s\n", wg_last_error());
                return 1;
            }
            t2 = MPI_Wtime();
            if (wg_optim_step(opt) != 0) return 1;
        }
        double t3 = MPI_Wtime();
        if (s < 0) continue;
        wg_dist_stats st1 = wg_dist_get_stats(d);
        step_t[s] = t3 - t0;
        comm_t[s] = t2 - t1;
        comp_t[s] = (t1 - t0) + (t3 - t2);
        hook_t[s] = st1.hook_seconds - st0.hook_seconds;
    }
    double med[4] = {median(step_t, (int)steps), median(comp_t, (int)steps), median(comm_t, (int)steps),
                     median(hook_t, (int)steps)}, worst[4];
    MPI_Reduce(med, worst, 4, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        char arch[96] = "784";
        for (int i = 1; i < n_sizes; i++) snprintf(arch + strlen(arch), sizeof arch - strlen(arch), "-%lld", (long long)sizes[i]);
        printf("%s batch %ld: %d process%s x %ld thread%s, %s, %d bucket%s (%.2f MB): step %.3f ms, compute %.3f ms, "
               "comm %.3f ms, hook %.3f ms (medians of %ld steps, slowest rank)\n",
               arch, batch, P, P > 1 ? "es" : "", threads, threads > 1 ? "s" : "", mode, wg_dist_n_buckets(d),
               wg_dist_n_buckets(d) > 1 ? "s" : "", (double)wg_dist_get_stats(d).bytes / 1e6, 1e3 * worst[0],
               1e3 * worst[1], 1e3 * worst[2], 1e3 * worst[3], steps);
    }
    free(ts);
    free(x);
    free(y);
    wg_tape_free(t);
    wg_dist_free(d);
    wg_optim_free(opt);
    wg_mlp_free(m);
    wg_dist_finalize();
    return 0;
}
