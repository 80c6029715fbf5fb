/* uncertainty: networks that predict a distribution, not a number (lecture 003).
 *
 * Part 1, aleatoric uncertainty: 1-D data whose noise grows with x.  An MLP
 * with two outputs predicts the location mu(x) and the scale b(x) of a
 * Laplace distribution, trained with the Laplace negative log-likelihood
 * log(2b) + |y - mu|/b.  It learns where the data is noisy.
 *
 * Part 2, a mixture density network: a target with two branches (for each x,
 * y is near +g(x) or near -g(x)).  A single Laplace can only put its location
 * between or on one branch; a mixture of two Laplace components, with the
 * weights pi_m(x) from a softmax, finds both.
 *
 * Pictures: mean +- scale over the data with the truth; the mixture's
 * component locations over the two-branch data.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "plot.h"
#include "wengert.h"

#define NMAX 600

static double true_mu(double x) { return sin(3 * x); }
static double true_b(double x) { return 0.02 + 0.2 * (x + 1); } /* 0.02 at x = -1, 0.42 at x = 1 */
static double branch(double x) { return 0.3 + x; }                /* part 2: y near +-(0.3 + x) */

static double laplace(wg_rng *r, double b)
{
    double u = wg_rng_uniform(r) - 0.5;
    return -b * (u < 0 ? -1 : 1) * log(1 - 2 * fabs(u));
}

typedef struct fit {
    wg_mlp *m;
    wg_optim *opt;
} fit;

static fit fit_new(int n_out, wg_rng *r, double lr)
{
    fit f;
    f.m = wg_mlp_new(WG_F64, 4, (int64_t[]){1, 32, 32, n_out}, WG_ACT_TANH, WG_ACT_IDENTITY, NAN);
    wg_mlp_init(f.m, WG_INIT_XAVIER, 0, 0, r);
    f.opt = demo_adam(f.m, lr);
    return f;
}

static void fit_free(fit *f)
{
    wg_optim_free(f->opt);
    wg_mlp_free(f->m);
}

/* The loss of the network's output z [n, k] against y [n, 1]:
 * k = 2: Laplace NLL with (mu, raw scale); k = 3M: mixture (logits, mu, raw scale). */
static wg_tensor *nll(wg_tape *t, wg_tensor *z, wg_tensor *y, int k)
{
    if (k == 2) return wg_nn_laplace_nll(t, wg_slice(t, z, 1, 0, 1), wg_slice(t, z, 1, 1, 2), y, WG_REDUCE_MEAN);
    int M = k / 3;
    return wg_nn_mixture_nll(t, wg_slice(t, z, 1, 0, M), wg_slice(t, z, 1, M, 2 * M), wg_slice(t, z, 1, 2 * M, 3 * M), y,
                             WG_DIST_LAPLACE, WG_REDUCE_MEAN);
}

/* Full-batch training; returns the final mean NLL, NAN on error. */
static double train(wg_tape *t, fit *f, const double *x, const double *y, int n, int k, int steps)
{
    double last = NAN;
    for (int s = 0; s < steps; s++) {
        wg_tape_reset(t);
        wg_tensor *xt = wg_tensor_new(t, WG_F64, 2, (int64_t[]){n, 1}, x, false);
        wg_tensor *yt = wg_tensor_new(t, WG_F64, 2, (int64_t[]){n, 1}, y, false);
        wg_tensor *l = nll(t, wg_mlp_forward(t, f->m, xt), yt, k);
        wg_optim_zero_grad(f->opt);
        if (!l || wg_backward(t, l) != 0) {
            fprintf(stderr, "uncertainty: %s\n", wg_tape_error(t));
            return NAN;
        }
        last = wg_item(l);
        wg_optim_step(f->opt);
    }
    return last;
}

/* The network's outputs at n points, scales through softplus as the losses use them. */
static wg_tensor *predict(wg_tape *t, fit *f, const double *x, int n)
{
    wg_tape_reset(t);
    wg_tensor *xt = wg_tensor_new(t, WG_F64, 2, (int64_t[]){n, 1}, x, false);
    return wg_mlp_forward(t, f->m, xt);
}

static double scale_of(double raw) { return (raw > 0 ? raw + log1p(exp(-raw)) : log1p(exp(raw))) + WG_NN_MIN_SCALE; }

int main(int argc, char **argv)
{
    demo_opts o;
    demo_parse(argc, argv, "uncertainty",
               "uncertainty: a network predicting location and scale (Laplace NLL), and a mixture density network", &o);
    const int n = o.quick ? 300 : NMAX, steps = o.quick ? 1000 : 3000;
    wg_rng rng;
    wg_rng_seed(&rng, (uint64_t)o.seed);
    wg_tape *t = wg_tape_new();
    static double x[NMAX], y[NMAX], x2[NMAX], y2[NMAX];

    /* ---- part 1: heteroscedastic data ---- */
    for (int i = 0; i < n; i++) {
        x[i] = -1 + 2 * wg_rng_uniform(&rng);
        y[i] = true_mu(x[i]) + laplace(&rng, true_b(x[i]));
    }
    fit f1 = fit_new(2, &rng, 0.01);
    double nll1 = train(t, &f1, x, y, n, 2, steps);
    if (isnan(nll1)) return 1;
    enum { G = 201 };
    static double gx[G], mu1[G], b1[G];
    for (int i = 0; i < G; i++) gx[i] = -1 + 2.0 * i / (G - 1);
    wg_tensor *z = predict(t, &f1, gx, G);
    double err_mu = 0, err_b = 0;
    for (int i = 0; i < G; i++) {
        mu1[i] = wg_get(z, (size_t)(2 * i)), b1[i] = scale_of(wg_get(z, (size_t)(2 * i + 1)));
        err_mu += pow(mu1[i] - true_mu(gx[i]), 2);
        err_b += fabs(b1[i] - true_b(gx[i])) / true_b(gx[i]);
    }
    err_mu = sqrt(err_mu / G), err_b /= G;
    printf("Part 1: y = sin(3x) + Laplace noise whose scale grows from %.2f at x = -1 to %.2f at x = 1; %d samples.\n"
           "An MLP 1-32-32-2 (tanh) predicts mu(x) and b(x) = softplus(raw); Laplace NLL, Adam, %d steps: NLL %.3f\n\n",
           true_b(-1), true_b(1), n, steps, nll1);
    printf("      x     true mu   learned mu   true b   learned b\n");
    for (int i = 10; i < G; i += 45)
        printf("   %+5.2f    %+6.3f     %+6.3f     %5.3f     %5.3f\n", gx[i], true_mu(gx[i]), mu1[i], true_b(gx[i]), b1[i]);
    printf("location RMSE %.4f, mean relative scale error %.3f\n", err_mu, err_b);
    printf("The network says it is sure where the data is clean and unsure where it is noisy: aleatoric uncertainty.\n\n");

    /* ---- part 2: two branches ---- */
    for (int i = 0; i < n; i++) {
        x2[i] = wg_rng_uniform(&rng);
        y2[i] = (wg_rng_uniform(&rng) < 0.5 ? -1 : 1) * branch(x2[i]) + laplace(&rng, 0.05);
    }
    fit single = fit_new(2, &rng, 0.01), mdn = fit_new(6, &rng, 0.01);
    double nll_single = train(t, &single, x2, y2, n, 2, steps);
    double nll_mdn = train(t, &mdn, x2, y2, n, 6, steps);
    if (isnan(nll_single) || isnan(nll_mdn)) return 1;
    printf("Part 2: y = +-(0.3 + x) + Laplace noise (scale 0.05), x in [0, 1], each branch equally likely; %d samples.\n", n);
    printf("mean NLL: single Laplace %.3f, mixture of 2 Laplace components %.3f\n", nll_single, nll_mdn);
    static double gx2[G], mdn_out[G][6], single_mu[G], single_b[G];
    for (int i = 0; i < G; i++) gx2[i] = (double)i / (G - 1);
    z = predict(t, &mdn, gx2, G);
    for (int i = 0; i < G; i++)
        for (int k = 0; k < 6; k++) mdn_out[i][k] = wg_get(z, (size_t)(6 * i + k));
    z = predict(t, &single, gx2, G);
    for (int i = 0; i < G; i++) single_mu[i] = wg_get(z, (size_t)(2 * i)), single_b[i] = scale_of(wg_get(z, (size_t)(2 * i + 1)));
    int mid = G / 2;
    double p0 = 1 / (1 + exp(mdn_out[mid][1] - mdn_out[mid][0]));
    double lo = fmin(mdn_out[mid][2], mdn_out[mid][3]), hi = fmax(mdn_out[mid][2], mdn_out[mid][3]);
    printf("at x = 0.5 the branches are at -0.80 and +0.80:\n");
    printf("   mixture: components at %+.3f and %+.3f with weights %.2f and %.2f\n", mdn_out[mid][2], mdn_out[mid][3], p0,
           1 - p0);
    printf("   single Laplace: location %+.3f, scale %.3f (it cannot be on both branches)\n", single_mu[mid], single_b[mid]);
    printf("mixture components at x = 0.5: %.3f %.3f\n", lo, hi);

    if (o.plots) {
        FILE *gp = plot_open(o.out, "uncertainty.png", 1000, 600);
        if (gp) {
            plot_block_begin(gp, "d");
            for (int i = 0; i < n; i++) fprintf(gp, "%g %g\n", x[i], y[i]);
            plot_block_end(gp);
            plot_block_begin(gp, "f");
            for (int i = 0; i < G; i++)
                fprintf(gp, "%g %g %g %g %g\n", gx[i], mu1[i], b1[i], true_mu(gx[i]), true_b(gx[i]));
            plot_block_end(gp);
            fprintf(gp, "set title 'Laplace NLL: the network predicts location mu(x) and scale b(x)'; set grid\n");
            fprintf(gp, "set xlabel 'x'; set ylabel 'y'; set key top left; set yrange [-2.5:2.5]\n");
            fprintf(gp, "plot $f using 1:($2 - $3):($2 + $3) with filledcurves fs transparent solid 0.3 lc rgb '#2171b5' "
                        "title 'learned mu +- b', $d with points pt 7 ps 0.4 lc rgb '#888888' title 'data', "
                        "$f using 1:2 with lines lw 3 lc rgb '#08306b' title 'learned mu', "
                        "$f using 1:4 with lines lw 2 dt 2 lc rgb 'black' title 'true mu', "
                        "$f using 1:($4 - $5) with lines lw 1 dt 3 lc rgb 'black' title 'true mu +- b', "
                        "$f using 1:($4 + $5) with lines lw 1 dt 3 lc rgb 'black' notitle\n");
            plot_close(gp);
        }
        gp = plot_open(o.out, "mdn.png", 1000, 600);
        if (gp) {
            plot_block_begin(gp, "d");
            for (int i = 0; i < n; i++) fprintf(gp, "%g %g\n", x2[i], y2[i]);
            plot_block_end(gp);
            plot_block_begin(gp, "m");
            for (int i = 0; i < G; i++) {
                double e0 = exp(mdn_out[i][0] - fmax(mdn_out[i][0], mdn_out[i][1]));
                double e1 = exp(mdn_out[i][1] - fmax(mdn_out[i][0], mdn_out[i][1]));
                fprintf(gp, "%g %g %g %g %g %g\n", gx2[i], mdn_out[i][2], mdn_out[i][3], e0 / (e0 + e1), e1 / (e0 + e1),
                        single_mu[i]);
            }
            plot_block_end(gp);
            fprintf(gp, "set title 'two-branch target: mixture density network against a single Laplace'; set grid\n");
            fprintf(gp, "set xlabel 'x'; set ylabel 'y'; set key top left; set cbrange [0:1]; set cblabel 'weight pi_m(x)'\n");
            fprintf(gp, "set palette defined (0 '#fee0d2', 1 '#a50f15')\n");
            fprintf(gp, "plot $d with points pt 7 ps 0.4 lc rgb '#888888' title 'data', "
                        "$m using 1:2:4 with lines lw 4 lc palette title 'mixture component 1', "
                        "$m using 1:3:5 with lines lw 4 lc palette title 'mixture component 2', "
                        "$m using 1:6 with lines lw 2 dt 2 lc rgb '#2171b5' title 'single Laplace location'\n");
            plot_close(gp);
        }
        demo_report_pictures(o.out, (const char *[]){"uncertainty.png", "mdn.png"}, 2);
    }
    fit_free(&f1);
    fit_free(&single);
    fit_free(&mdn);
    wg_tape_free(t);
    return 0;
}
