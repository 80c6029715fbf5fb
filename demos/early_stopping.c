/* early_stopping: training and validation curves, and the epoch early
 * stopping picks (lecture 001).
 *
 * A network far larger than its data (1-64-64-1, tanh) is fitted to 20 noisy
 * samples of a smooth function.  The training error keeps falling; the
 * validation error (on 200 other samples) falls, reaches a minimum, then
 * rises as the network fits the noise.  wg_early_stop watches the validation
 * loss, remembers the parameters at its minimum, and says when `patience`
 * epochs have passed without improvement.  The run continues past that
 * point only to show where the curves go; the restored model is the best one.
 * Picture: both curves, the chosen epoch and the stopping epoch marked.
 */
#include <math.h>
#include <stdio.h>

#include "plot.h"
#include "wengert.h"

#define N_TRAIN 20
#define N_VAL 200
#define MAX_EPOCHS 3000

static double f0(double x) { return sin(2 * x); }

static double mse_of(wg_tape *t, wg_mlp *m, const double *x, const double *y, int n, bool learn)
{
    wg_tape_reset(t);
    wg_tensor *xt = wg_tensor_new(t, WG_F64, 2, (int64_t[]){n, 1}, x, false);
    wg_tensor *yt = wg_tensor_new(t, WG_F64, 2, (int64_t[]){n, 1}, y, false);
    wg_tensor *l = wg_nn_mse(t, wg_mlp_forward(t, m, xt), yt, WG_REDUCE_MEAN);
    if (!l || (learn && wg_backward(t, l) != 0)) {
        fprintf(stderr, "early_stopping: %s\n", wg_tape_error(t));
        return NAN;
    }
    return wg_item(l);
}

int main(int argc, char **argv)
{
    demo_opts o;
    demo_parse(argc, argv, "early_stopping",
               "early_stopping: training and validation curves of an oversized network, with the chosen epoch", &o);
    const int epochs = o.quick ? 1500 : MAX_EPOCHS, patience = 200;
    wg_rng rng;
    wg_rng_seed(&rng, (uint64_t)o.seed);
    static double xt[N_TRAIN], yt[N_TRAIN], xv[N_VAL], yv[N_VAL];
    for (int i = 0; i < N_TRAIN; i++) xt[i] = -2 + 4 * wg_rng_uniform(&rng), yt[i] = f0(xt[i]) + 0.3 * wg_rng_normal(&rng);
    for (int i = 0; i < N_VAL; i++) xv[i] = -2 + 4 * wg_rng_uniform(&rng), yv[i] = f0(xv[i]) + 0.3 * wg_rng_normal(&rng);

    wg_mlp *m = wg_mlp_new(WG_F64, 4, (int64_t[]){1, 64, 64, 1}, WG_ACT_TANH, WG_ACT_IDENTITY, NAN);
    wg_tape *t = wg_tape_new();
    if (!m || !t) return 1;
    wg_mlp_init(m, WG_INIT_XAVIER, 0, 0, &rng);
    wg_optim *opt = demo_adam(m, 0.01);
    size_t np;
    wg_param *const *ps = wg_mlp_params(m, &np);
    wg_early_stop *es = wg_early_stop_new(np, ps, patience, 0);

    static double tr[MAX_EPOCHS], va[MAX_EPOCHS];
    int stop_epoch = -1;
    for (int e = 0; e < epochs; e++) {
        wg_optim_zero_grad(opt);
        tr[e] = mse_of(t, m, xt, yt, N_TRAIN, true); /* one full-batch step per epoch */
        if (isnan(tr[e])) return 1;
        wg_optim_step(opt);
        va[e] = mse_of(t, m, xv, yv, N_VAL, false);
        if (wg_early_stop_update(es, va[e]) && stop_epoch < 0) stop_epoch = e + 1;
    }
    double end_val = va[epochs - 1], end_train = tr[epochs - 1];
    int best = (int)es->best_epoch + 1;
    wg_early_stop_restore(es);
    double restored_val = mse_of(t, m, xv, yv, N_VAL, false);

    printf("An MLP 1-64-64-1 (tanh, %zu parameters) fitted to %d noisy samples of sin(2x) (noise sd 0.3),\n"
           "validated on %d others; Adam, one full-batch step per epoch, patience %d.\n\n",
           wg_mlp_count(m), N_TRAIN, N_VAL, patience);
    printf("   epoch   train MSE   validation MSE\n");
    for (int e = 0; e < epochs; e += epochs / 10) printf("   %5d   %9.4f   %9.4f\n", e + 1, tr[e], va[e]);
    printf("   %5d   %9.4f   %9.4f\n", epochs, end_train, end_val);
    printf("\nbest validation MSE %.4f at epoch %d; early stopping stops at epoch %d; at epoch %d it would be %.4f\n",
           es->best, best, stop_epoch, epochs, end_val);
    printf("restored parameters: validation MSE %.4f\n", restored_val);
    printf("Training longer keeps lowering the training error (%.4f at the end) while the validation error\n"
           "rises: the network starts fitting the noise.  Early stopping keeps the model of epoch %d.\n",
           end_train, best);

    if (o.plots) {
        FILE *gp = plot_open(o.out, "early_stopping.png", 1000, 600);
        if (gp) {
            plot_block_begin(gp, "c");
            for (int e = 0; e < epochs; e++) fprintf(gp, "%d %g %g\n", e + 1, tr[e], va[e]);
            plot_block_end(gp);
            fprintf(gp, "set title 'early stopping: training and validation error'; set grid; set logscale y\n");
            fprintf(gp, "set xlabel 'epoch'; set ylabel 'MSE'; set key top right\n");
            fprintf(gp, "set arrow 1 from %d, graph 0 to %d, graph 1 nohead lw 2 lc rgb '#238b45'\n", best, best);
            fprintf(gp, "set label 1 'best epoch %d' at %d, graph 0.95 left offset 0.5,0 tc rgb '#238b45'\n", best, best);
            if (stop_epoch > 0) {
                fprintf(gp, "set arrow 2 from %d, graph 0 to %d, graph 1 nohead lw 2 dt 2 lc rgb '#888888'\n", stop_epoch,
                        stop_epoch);
                fprintf(gp, "set label 2 'stop (patience %d)' at %d, graph 0.88 left offset 0.5,0 tc rgb '#555555'\n",
                        patience, stop_epoch);
            }
            fprintf(gp, "plot $c using 1:2 with lines lw 2 title 'training', $c using 1:3 with lines lw 2 title 'validation'\n");
            plot_close(gp);
        }
        demo_report_pictures(o.out, (const char *[]){"early_stopping.png"}, 1);
    }
    wg_early_stop_free(es);
    wg_optim_free(opt);
    wg_mlp_free(m);
    wg_tape_free(t);
    return 0;
}
