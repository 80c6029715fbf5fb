/* regression: lecture 004's example E4.3, regression with one hidden layer.
 *
 * Noisy samples y(n) = f0(x(n)) + z(n) of a 1-D function are fitted by
 *     f(x) = sum_i w2_i sigmoid(w1_i x + b1_i) + b2,
 * a weighted sum of M1 sigmoid basis functions, each centred at -b1_i/w1_i
 * with slope w1_i.  Trained with the MSE loss (the l2 loss of the lecture's
 * Gaussian noise model) and Adam.  Prints the fit's error against the truth
 * and the learned basis functions; draws the fit over the truth and the
 * samples, and each weighted basis function.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "plot.h"
#include "wengert.h"

#define M1 10       /* hidden sigmoid units */
#define N 100       /* noisy samples */
#define NOISE 0.2   /* standard deviation of z(n) */
#define X_MIN (-3.0)
#define X_MAX 3.0

static double f0(double x) { return sin(2 * x) + 0.3 * x; }

int main(int argc, char **argv)
{
    demo_opts o;
    demo_parse(argc, argv, "regression",
               "regression: lecture 004's E4.3, one hidden sigmoid layer fitted to noisy samples of a 1-D function", &o);
    const int steps = o.quick ? 2000 : 6000;
    wg_rng rng;
    wg_rng_seed(&rng, (uint64_t)o.seed);
    static double xs[N], ys[N];
    for (int i = 0; i < N; i++) {
        xs[i] = X_MIN + (X_MAX - X_MIN) * (i + 0.5) / N; /* evenly spaced, so no stretch is unseen */
        ys[i] = f0(xs[i]) + NOISE * wg_rng_normal(&rng);
    }

    wg_mlp *m = wg_mlp_new(WG_F64, 3, (int64_t[]){1, M1, 1}, WG_ACT_SIGMOID, WG_ACT_IDENTITY, NAN);
    wg_tape *t = wg_tape_new();
    if (!m || !t) return 1;
    wg_mlp_init(m, WG_INIT_XAVIER, 0, 0, &rng);
    const double lr = 0.1;
    wg_optim *opt = demo_adam(m, lr);
    wg_lr_schedule sched = {.kind = WG_LR_COSINE, .lr0 = lr, .t_max = steps, .lr_min = 0.001};
    double loss = NAN;
    for (int s = 0; s < steps; s++) {
        wg_tape_reset(t);
        wg_tensor *x = wg_tensor_new(t, WG_F64, 2, (int64_t[]){N, 1}, xs, false);
        wg_tensor *y = wg_tensor_new(t, WG_F64, 2, (int64_t[]){N, 1}, ys, false);
        wg_tensor *l = wg_nn_mse(t, wg_mlp_forward(t, m, x), y, WG_REDUCE_MEAN);
        wg_optim_zero_grad(opt);
        if (!l || wg_backward(t, l) != 0) {
            fprintf(stderr, "regression: %s\n", wg_tape_error(t));
            return 1;
        }
        loss = wg_item(l);
        wg_optim_step_lr(opt, wg_lr_at(&sched, s));
    }

    /* the fit on a fine grid, against the truth */
    enum { G = 301 };
    static double gx[G];
    for (int i = 0; i < G; i++) gx[i] = X_MIN + (X_MAX - X_MIN) * i / (G - 1);
    wg_tape_reset(t);
    wg_tensor *x = wg_tensor_new(t, WG_F64, 2, (int64_t[]){G, 1}, gx, false);
    wg_tensor *fit = wg_mlp_forward(t, m, x);
    wg_tensor *basis = wg_nn_sigmoid(t, wg_dense_forward(t, m->layers[0], x)); /* [G, M1] */
    if (!basis) {
        fprintf(stderr, "regression: %s\n", wg_tape_error(t));
        return 1;
    }
    double se = 0;
    for (int i = 0; i < G; i++) se += pow(wg_get(fit, (size_t)i) - f0(gx[i]), 2);
    double rmse_truth = sqrt(se / G);

    const double *W1 = m->layers[0]->W->data, *b1 = m->layers[0]->b->data;
    const double *W2 = m->layers[1]->W->data, *b2 = m->layers[1]->b->data;
    printf("E4.3: f(x) = sum_i w2_i sigmoid(w1_i x + b1_i) + b2 with %d sigmoid units, fitted to %d samples of\n"
           "f0(x) = sin(2x) + 0.3x on [%g, %g] with Gaussian noise of standard deviation %g (MSE loss, Adam, %d steps)\n\n",
           M1, N, X_MIN, X_MAX, NOISE, steps);
    printf("training RMSE: %.4f (the noise alone gives about %.2f)\n", sqrt(loss), NOISE);
    printf("RMSE of the fit against the true f0: %.4f\n", rmse_truth);
    printf("\nthe learned basis functions w2_i sigmoid(w1_i (x - c_i)), centre c_i = -b1_i/w1_i:\n");
    printf("   unit   centre c_i   slope w1_i   weight w2_i\n");
    for (int i = 0; i < M1; i++)
        printf("   %2d     %+8.3f     %+8.3f     %+8.3f%s\n", i + 1, -b1[i] / W1[i], W1[i], W2[i],
               fabs(-b1[i] / W1[i]) > 3 ? "   (centre outside the data: acts as a ramp or offset)" : "");
    printf("   output bias b2 = %+.3f\n", b2[0]);

    if (o.plots) {
        FILE *gp = plot_open(o.out, "regression.png", 1300, 500);
        if (gp) {
            plot_block_begin(gp, "s");
            for (int i = 0; i < N; i++) fprintf(gp, "%g %g\n", xs[i], ys[i]);
            plot_block_end(gp);
            plot_block_begin(gp, "g");
            for (int i = 0; i < G; i++) {
                fprintf(gp, "%g %g %g", gx[i], f0(gx[i]), wg_get(fit, (size_t)i));
                for (int k = 0; k < M1; k++) fprintf(gp, " %g", W2[k] * wg_get(basis, (size_t)(i * M1 + k)));
                fputc('\n', gp);
            }
            plot_block_end(gp);
            fprintf(gp, "set multiplot layout 1,2\n");
            fprintf(gp, "set grid; set xlabel 'x'; set key top left\n");
            fprintf(gp, "set title 'E4.3: fit with %d sigmoid units (RMSE to the truth %.3f)'\n", M1, rmse_truth);
            fprintf(gp, "plot $s with points pt 7 ps 0.7 lc rgb '#999999' title 'noisy samples', "
                        "$g using 1:2 with lines lw 2 dt 2 lc rgb 'black' title 'truth f_0', "
                        "$g using 1:3 with lines lw 3 lc rgb '#d7301f' title 'network f'\n");
            fprintf(gp, "set title 'the learned basis functions w2_i sigmoid(w1_i x + b1_i)'; set key off\n");
            fprintf(gp, "plot for [k=4:%d] $g using 1:k with lines lw 2\n", 3 + M1);
            fprintf(gp, "unset multiplot\n");
            plot_close(gp);
        }
        demo_report_pictures(o.out, (const char *[]){"regression.png"}, 1);
    }
    wg_optim_free(opt);
    wg_mlp_free(m);
    wg_tape_free(t);
    return 0;
}
