/* test_dist: data-parallel training over MPI (dist/), run under mpirun by
 * run_dist.sh.
 *
 *   test_dist equiv              P processes against one: SGD and Adam, 20
 *                                steps each, on a global batch of 25 (so
 *                                P = 2, 3 split it unevenly) with a last
 *                                partial batch of 20; overlapped and blocking
 *                                reductions and bucket sizes bit-identical;
 *                                the reduction itself against the rank-order
 *                                sum; prints "hash ..." (rank 0) for the
 *                                repeat check across runs
 *   test_dist mismatch           the last rank's model differs (shape, then
 *                                count, then dtype): wg_dist_new fails on
 *                                every rank, each time
 *   test_dist resume STEPS IN|- OUT   STEPS steps of Adam from the checkpoint
 *                                IN (every rank loads), then rank 0 saves OUT
 *
 * Tolerance of the P-against-one comparison: each rank's loss is the mean
 * over its own rows and its gradient is weighted by rows/B, where one
 * process divides the batch's sum by B; and the weight gradients X^T dY are
 * summed over the rows in P pieces and then across ranks instead of in one
 * GEMM.  f32 addition is not associative, so the gradients differ in their
 * last bits and the parameters drift apart by a few roundings over 20
 * steps: measured at most 1.2e-7 relative (2 ulps) for P = 2 and 3.  The
 * check allows 1e-6 relative to max(1, |w|) for parameters and losses
 * (about 16 f32 ulps); weighting the ranks equally instead of by their
 * share fails it by 5e-3.  Bit-exact agreement is asked where the
 * arithmetic is the same: repeated runs at one P, overlapped against
 * blocking, one bucket size against another, every rank against rank 0.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wengert.h"
#include "wg_dist.h"
#include "wg_test.h"

enum { N = 70, D = 6, H = 16, C = 3, BATCH = 25, STEPS = 20 };
static const double PARAM_TOL = 1e-6, LOSS_TOL = 1e-6;

static float X[N * D];
static int Y[N];
static int rank_, size_;

static void make_data(void)
{
    wg_rng r;
    wg_rng_seed(&r, 11);
    for (int i = 0; i < N * D; i++) X[i] = (float)wg_rng_normal(&r);
    for (int i = 0; i < N; i++) {
        double best = -INFINITY;
        for (int c = 0; c < C; c++) {
            double s = 0;
            for (int j = 0; j < D; j++) s += X[i * D + j] * cos(0.7 * c + 1.3 * j);
            if (s > best) best = s, Y[i] = c;
        }
    }
}

typedef struct run {
    wg_mlp *m;
    wg_optim *opt;
    wg_batcher bt;
    wg_tape *t;
    size_t n;
    wg_param *const *ps;
} run;

static int run_new(run *R, wg_opt_kind kind, int hidden, wg_dtype dt)
{
    memset(R, 0, sizeof *R);
    int64_t sizes[3] = {D, hidden, C};
    R->m = wg_mlp_new(dt, 3, sizes, WG_ACT_TANH, WG_ACT_IDENTITY, NAN);
    wg_rng init;
    wg_rng_seed(&init, 5);
    if (!R->m || wg_mlp_init(R->m, WG_INIT_XAVIER, 0, 0.01, &init) != 0) return -1;
    R->ps = wg_mlp_params(R->m, &R->n);
    wg_optim_config cfg = wg_optim_defaults(kind);
    cfg.lr = kind == WG_OPT_SGD ? 0.2 : 0.01;
    R->opt = wg_optim_new(&cfg, R->n, R->ps);
    R->t = wg_tape_new();
    if (!R->opt || !R->t || wg_batcher_init(&R->bt, N, BATCH, true, false, 3) != 0) return -1;
    return 0;
}

static void run_free(run *R)
{
    wg_batcher_free(&R->bt);
    wg_tape_free(R->t);
    wg_optim_free(R->opt);
    wg_mlp_free(R->m);
}

enum { LOCAL, OVERLAP, BLOCKING };

/* `steps` steps; with d, this rank's share of each batch and the reduction
 * `how`.  losses[s] receives the global batch's mean loss (may be NULL). */
static int train(run *R, wg_dist_group *d, int how, int steps, double *losses)
{
    static float xb[BATCH * D];
    static int yb[BATCH];
    for (int s = 0; s < steps; s++) {
        const size_t *idx;
        size_t count;
        if (!wg_batcher_next(&R->bt, &idx, &count) && !wg_batcher_next(&R->bt, &idx, &count)) return -1;
        wg_gather_rows(WG_F32, X, D, idx, count, xb);
        wg_gather_labels(Y, idx, count, yb);
        wg_tape_reset(R->t);
        wg_optim_zero_grad(R->opt);
        double w = (double)count / (double)R->bt.global_count, loss = 0;
        if (how == OVERLAP && wg_dist_begin(d, R->t, w) != 0) return -1;
        if (count > 0) {
            wg_tensor *x = wg_tensor_view(R->t, WG_F32, 2, (int64_t[]){(int64_t)count, D}, xb);
            wg_tensor *l = wg_nn_softmax_cross_entropy_idx(R->t, wg_mlp_forward(R->t, R->m, x), yb, WG_REDUCE_MEAN);
            if (!l || wg_backward(R->t, l) != 0) {
                fprintf(stderr, "rank %d step %d: %s\n", rank_, s, wg_tape_error(R->t));
                return -1;
            }
            loss = wg_item(l);
        }
        if (how == OVERLAP && wg_dist_end(d) != 0) return -1;
        if (how == BLOCKING && wg_dist_allreduce(d, w) != 0) return -1;
        if (d) {
            double part = w * loss;
            MPI_Allreduce(&part, &loss, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        }
        if (losses) losses[s] = loss;
        if (wg_optim_step(R->opt) != 0) return -1;
    }
    return 0;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * 1099511628211u;
    return h;
}

static uint64_t params_hash(const run *R)
{
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < R->n; i++) h = fnv(h, R->ps[i]->data, R->ps[i]->numel * (R->ps[i]->dtype ? 8 : 4));
    return h;
}

static int same_bits(const run *A, const run *B)
{
    for (size_t i = 0; i < A->n; i++)
        if (memcmp(A->ps[i]->data, B->ps[i]->data, A->ps[i]->numel * (A->ps[i]->dtype ? 8 : 4)) != 0) return 0;
    return 1;
}

static double max_rel_diff(const run *A, const run *B)
{
    double worst = 0;
    for (size_t i = 0; i < A->n; i++)
        for (size_t j = 0; j < A->ps[i]->numel; j++) {
            double a = A->ps[i]->dtype ? ((double *)A->ps[i]->data)[j] : ((float *)A->ps[i]->data)[j];
            double b = B->ps[i]->dtype ? ((double *)B->ps[i]->data)[j] : ((float *)B->ps[i]->data)[j];
            double r = fabs(a - b) / fmax(1.0, fabs(b));
            if (!(r <= worst)) worst = r; /* NaN sticks */
        }
    return worst;
}

/* ---- equiv ------------------------------------------------------------- */

static void check_equiv(wg_opt_kind kind)
{
    const char *name = wg_opt_name(kind);
    run ref, ov, ov1, bl;
    double lref[STEPS], lov[STEPS], lbl[STEPS];
    CHECK(run_new(&ref, kind, H, WG_F32) == 0 && run_new(&ov, kind, H, WG_F32) == 0 &&
          run_new(&ov1, kind, H, WG_F32) == 0 && run_new(&bl, kind, H, WG_F32) == 0, "set-up: %s", wg_last_error());
    /* The reference: one process on the whole batch, no MPI. */
    CHECK(train(&ref, NULL, LOCAL, STEPS, lref) == 0, "%s: reference run", name);
    wg_dist_group *d = wg_dist_new(MPI_COMM_WORLD, ov.n, ov.ps, 0);
    wg_dist_group *d1 = wg_dist_new(MPI_COMM_WORLD, ov1.n, ov1.ps, 1); /* one bucket per parameter */
    wg_dist_group *db = wg_dist_new(MPI_COMM_WORLD, bl.n, bl.ps, 0);
    CHECK(d && d1 && db, "wg_dist_new: %s", wg_last_error());
    if (!d || !d1 || !db) goto out;
    CHECK(wg_dist_n_buckets(d) == 1 && wg_dist_n_buckets(d1) == (int)ov1.n, "buckets: %d and %d",
          wg_dist_n_buckets(d), wg_dist_n_buckets(d1));
    for (size_t i = 0; i < ov.n; i++) { /* the shards must start equal: rank 0's weights */
        if (rank_ != 0) memset(ov.ps[i]->data, 0, ov.ps[i]->numel * 4);
        if (rank_ != 0) memset(bl.ps[i]->data, 0, bl.ps[i]->numel * 4);
    }
    CHECK(wg_dist_broadcast(d) == 0 && wg_dist_broadcast(db) == 0, "broadcast: %s", wg_last_error());
    CHECK(same_bits(&ov, &ov1) && same_bits(&bl, &ov1), "broadcast gave other weights");
    for (run *R = &ov; R; R = R == &ov ? &ov1 : R == &ov1 ? &bl : NULL)
        CHECK(wg_batcher_shard(&R->bt, rank_, size_) == 0, "shard: %s", wg_last_error());
    CHECK(train(&ov, d, OVERLAP, STEPS, lov) == 0, "%s: overlapped run: %s", name, wg_last_error());
    CHECK(train(&ov1, d1, OVERLAP, STEPS, NULL) == 0, "%s: overlapped run, small buckets: %s", name, wg_last_error());
    CHECK(train(&bl, db, BLOCKING, STEPS, lbl) == 0, "%s: blocking run: %s", name, wg_last_error());
    wg_dist_stats st = wg_dist_get_stats(d1);
    CHECK(st.steps == STEPS && st.started_in_backward == STEPS * (int64_t)ov1.n,
          "%s: %lld of %lld buckets started from backward", name, (long long)st.started_in_backward,
          (long long)(STEPS * (int64_t)ov1.n));
    CHECK(same_bits(&ov, &bl), "%s: overlapped and blocking reductions differ (max rel %.3g)", name, max_rel_diff(&ov, &bl));
    CHECK(same_bits(&ov, &ov1), "%s: bucket sizes 1 MiB and 1 byte differ (max rel %.3g)", name, max_rel_diff(&ov, &ov1));
    double worst_loss = 0;
    for (int s = 0; s < STEPS; s++) {
        CHECK(lov[s] == lbl[s], "%s step %d: loss %.17g overlapped, %.17g blocking", name, s, lov[s], lbl[s]);
        double r = fabs(lov[s] - lref[s]) / fmax(1.0, fabs(lref[s]));
        CHECK(r <= LOSS_TOL, "%s step %d: loss %.9g on %d processes, %.9g on one", name, s, lov[s], size_, lref[s]);
        if (r > worst_loss) worst_loss = r;
    }
    double worst = max_rel_diff(&ov, &ref);
    CHECK(worst <= PARAM_TOL, "%s: parameters after %d steps differ from one process's by %.3g relative", name, STEPS,
          worst);
    /* Every rank holds the same parameters. */
    uint64_t h = params_hash(&ov), h0 = h;
    MPI_Bcast(&h0, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    CHECK(h == h0, "%s: rank %d's parameters differ from rank 0's", name, rank_);
    if (rank_ == 0) {
        printf("%s: %d processes against one after %d steps: parameters within %.3g, losses within %.3g (relative)\n",
               name, size_, STEPS, worst, worst_loss);
        printf("hash %s %016" PRIx64 "\n", name, h);
    }
out:
    wg_dist_free(d);
    wg_dist_free(d1);
    wg_dist_free(db);
    run_free(&ref);
    run_free(&ov);
    run_free(&ov1);
    run_free(&bl);
}

/* The reduction alone: rank r's gradient element j is a known value; the
 * result must be the rank-order sum of weight_r * g_r(j), computed here. */
static float g32(int r, size_t j) { return (float)(sin(1.0 + 3.1 * r + 0.37 * (double)j) * pow(10, (int)(j % 7) - 3)); }
static double g64(int r, size_t j) { return sin(2.0 + 1.7 * r + 0.11 * (double)j) * pow(10, (int)(j % 5) - 2); }
static double wt(int r) { return (r + 1.0) / 3.7; }

static void check_reduction(void)
{
    int64_t sa[2] = {37, 5}, sb[1] = {1001}, sc[1] = {2};
    wg_param *p[3] = {wg_param_new(WG_F32, 2, sa), wg_param_new(WG_F64, 1, sb), wg_param_new(WG_F32, 1, sc)};
    for (int blocking = 0; blocking < 2; blocking++) {
        for (size_t j = 0; j < p[0]->numel; j++) ((float *)p[0]->grad)[j] = g32(rank_, j);
        for (size_t j = 0; j < p[1]->numel; j++) ((double *)p[1]->grad)[j] = g64(rank_, j);
        for (size_t j = 0; j < p[2]->numel; j++) ((float *)p[2]->grad)[j] = g32(rank_, j + 500);
        wg_dist_group *d = wg_dist_new(MPI_COMM_WORLD, 3, p, 64);
        CHECK(d != NULL, "reduction: wg_dist_new: %s", wg_last_error());
        if (!d) break;
        wg_tape *t = wg_tape_new();
        int rc = blocking ? wg_dist_allreduce(d, wt(rank_)) : (wg_dist_begin(d, t, wt(rank_)) || wg_dist_end(d));
        CHECK(rc == 0, "reduction: %s", wg_last_error());
        size_t bad = 0;
        for (size_t j = 0; j < p[0]->numel; j++) {
            float s = (float)(wt(0) * (double)g32(0, j));
            for (int r = 1; r < size_; r++) s += (float)(wt(r) * (double)g32(r, j));
            bad += memcmp(&s, (float *)p[0]->grad + j, 4) != 0;
        }
        for (size_t j = 0; j < p[1]->numel; j++) {
            double s = wt(0) * g64(0, j);
            for (int r = 1; r < size_; r++) s += wt(r) * g64(r, j);
            bad += memcmp(&s, (double *)p[1]->grad + j, 8) != 0;
        }
        for (size_t j = 0; j < p[2]->numel; j++) {
            float s = (float)(wt(0) * (double)g32(0, j + 500));
            for (int r = 1; r < size_; r++) s += (float)(wt(r) * (double)g32(r, j + 500));
            bad += memcmp(&s, (float *)p[2]->grad + j, 4) != 0;
        }
        CHECK(bad == 0, "reduction (%s): %zu elements differ from the rank-order sum", blocking ? "blocking" : "begin/end",
              bad);
        wg_tape_free(t);
        wg_dist_free(d);
    }
    for (int i = 0; i < 3; i++) wg_param_free(p[i]);
}

/* ---- mismatch ----------------------------------------------------------- */

static void check_mismatch(const char *kind)
{
    int last = rank_ == size_ - 1;
    int hidden = H;
    wg_dtype dt = WG_F32;
    if (last && strcmp(kind, "shape") == 0) hidden = H + 1;
    if (last && strcmp(kind, "dtype") == 0) dt = WG_F64;
    run R;
    CHECK(run_new(&R, WG_OPT_SGD, hidden, dt) == 0, "set-up: %s", wg_last_error());
    size_t n = R.n;
    if (last && strcmp(kind, "count") == 0) n--; /* one parameter short */
    wg_dist_group *d = wg_dist_new(MPI_COMM_WORLD, n, R.ps, 0);
    const char *e = wg_last_error();
    CHECK(d == NULL, "%s: wg_dist_new accepted a different model on rank %d", kind, size_ - 1);
    char want[200];
    if (strcmp(kind, "count") == 0)
        snprintf(want, sizeof want, "rank %d: dist_new: the parameter list differs from rank 0's: %zu parameters here, %zu on rank 0",
                 size_ - 1, R.n - 1, R.n);
    else if (strcmp(kind, "shape") == 0)
        snprintf(want, sizeof want, "rank %d: dist_new: the parameter list differs from rank 0's: parameter 0 ('%s') is "
                 "f32[%d,%d] here, f32[%d,%d] on rank 0", size_ - 1, "W1", H + 1, D, H, D);
    else
        snprintf(want, sizeof want, "rank %d: dist_new: the parameter list differs from rank 0's: parameter 0 ('%s') is "
                 "f64[%d,%d] here, f32[%d,%d] on rank 0", size_ - 1, "W1", H, D, H, D);
    CHECK_STR(e, want);
    wg_dist_free(d);
    run_free(&R);
}

/* ---- resume ------------------------------------------------------------- */

/* Parameters, Adam's m and v, the step count and the batcher (its
 * permutation as f64, position, epoch and generator). */
static wg_checkpoint *resume_list(run *R, double *perm)
{
    wg_checkpoint *c = wg_checkpoint_new();
    if (!c || wg_checkpoint_add_params(c, (int)R->n, R->ps) != 0) return c;
    for (size_t i = 0; i < R->n; i++) {
        char name[80];
        wg_param *p = R->ps[i];
        snprintf(name, sizeof name, "adam.m.%s", p->name);
        wg_checkpoint_add(c, name, p->dtype, p->ndim, p->shape, R->opt->buf1[i]);
        snprintf(name, sizeof name, "adam.v.%s", p->name);
        wg_checkpoint_add(c, name, p->dtype, p->ndim, p->shape, R->opt->buf2[i]);
    }
    wg_checkpoint_add(c, "batcher.perm", WG_F64, 1, (int64_t[]){N}, perm);
    return c;
}

static int resume(int steps, const char *in, const char *out)
{
    run R;
    double perm[N];
    if (run_new(&R, WG_OPT_ADAM, H, WG_F32) != 0) return -1;
    wg_dist_group *d = wg_dist_new(MPI_COMM_WORLD, R.n, R.ps, 1);
    wg_checkpoint *c = resume_list(&R, perm);
    int rc = d && c && !wg_checkpoint_error(c) ? 0 : -1;
    if (rc == 0 && wg_batcher_shard(&R.bt, rank_, size_) != 0) rc = -1;
    if (rc == 0 && strcmp(in, "-") != 0) {
        /* Every rank loads the file itself; all must succeed. */
        int64_t v[7];
        int lr = wg_checkpoint_load(c, in);
        const char *keys[7] = {"step", "pos", "epoch", "rng0", "rng1", "rng2", "rng3"};
        for (int k = 0; k < 7 && lr == 0; k++) lr = wg_checkpoint_meta_i64(c, keys[k], &v[k]);
        rc = wg_dist_agree(d, lr, wg_checkpoint_error(c));
        if (rc == 0) {
            for (size_t i = 0; i < R.n; i++) R.opt->step[i] = v[0];
            for (int i = 0; i < N; i++) R.bt.perm[i] = (size_t)perm[i];
            R.bt.pos = (size_t)v[1];
            R.bt.epoch = v[2];
            for (int i = 0; i < 4; i++) R.bt.rng.s[i] = (uint64_t)v[3 + i];
        }
    } else if (rc == 0) {
        rc = wg_dist_broadcast(d);
    }
    if (rc == 0) rc = train(&R, d, OVERLAP, steps, NULL);
    if (rc == 0) {
        for (int i = 0; i < N; i++) perm[i] = (double)R.bt.perm[i];
        int sr = 0;
        if (rank_ == 0) { /* rank 0 writes (atomically); the others learn the outcome */
            sr = wg_checkpoint_set_meta_i64(c, "step", R.opt->step[0]) ||
                 wg_checkpoint_set_meta_i64(c, "pos", (int64_t)R.bt.pos) ||
                 wg_checkpoint_set_meta_i64(c, "epoch", R.bt.epoch);
            for (int i = 0; i < 4 && !sr; i++) {
                char k[8];
                snprintf(k, sizeof k, "rng%d", i);
                sr = wg_checkpoint_set_meta_i64(c, k, (int64_t)R.bt.rng.s[i]);
            }
            if (!sr) sr = wg_checkpoint_save(c, out);
        }
        rc = wg_dist_agree(d, sr, wg_checkpoint_error(c));
    }
    if (rc != 0) fprintf(stderr, "rank %d: resume: %s\n", rank_, wg_last_error());
    wg_checkpoint_free(c);
    wg_dist_free(d);
    run_free(&R);
    return rc;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    make_data();
    int rc;
    if (argc >= 2 && strcmp(argv[1], "equiv") == 0) {
        check_reduction();
        check_equiv(WG_OPT_SGD);
        check_equiv(WG_OPT_ADAM);
        rc = wg_test_done("test_dist equiv");
    } else if (argc >= 2 && strcmp(argv[1], "mismatch") == 0) {
        /* One after the other in one run: each failed wg_dist_new leaves
         * every rank ready for the next call. */
        check_mismatch("shape");
        check_mismatch("count");
        check_mismatch("dtype");
        rc = wg_test_done("test_dist mismatch");
    } else if (argc >= 5 && strcmp(argv[1], "resume") == 0) {
        rc = resume(atoi(argv[2]), argv[3], argv[4]) == 0 ? 0 : 1;
    } else {
        fprintf(stderr, "usage: test_dist equiv | mismatch | resume STEPS IN|- OUT\n");
        rc = 2;
    }
    MPI_Finalize();
    return rc;
}
