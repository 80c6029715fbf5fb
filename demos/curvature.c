/* curvature: second derivatives (lecture 000: ReLU's "second derivative is
 * 0 almost everywhere -> no second-order effects"), and what curvature buys.
 *
 * Part 1.  One small MLP, built three times with the same weights: ReLU,
 * tanh and sigmoid hidden units.  At random inputs x, the Hessian of its
 * output with respect to x (wg_hessian_of: a recorded backward, then one
 * backward through it per input).  A ReLU network is piecewise linear in its
 * input: every entry is exactly 0, although its gradient is not; the smooth
 * activations give curvature everywhere.  The tanh Hessian is checked against
 * central differences of the gradient.  Picture: the output and its second
 * derivative along a line through input space.
 *
 * Part 2.  L2-regularised logistic regression on ill-conditioned features
 * (one feature 5 times the scale of the other, the two correlated).
 * Newton's method (the Hessian from wg_hessian_of, the step from LAPACK's
 * Cholesky solve dposv) against gradient descent with the safe step 1/L,
 * L the largest curvature the loss can have: iterations until the gradient
 * norm is below 1e-8.  Pictures: loss above its minimum per iteration, and
 * both paths on the loss's contours.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot.h"
#include "wengert.h"

/* LAPACK's Fortran interface (as nn/data.c declares dsyev_); the trailing
 * lengths are the hidden arguments for the CHARACTER arguments. */
extern void dposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *lda, double *b,
                   const int *ldb, int *info, size_t uplo_len);
extern void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
                   double *work, const int *lwork, int *info, size_t jobz_len, size_t uplo_len);

static void die(const char *what, wg_tape *t)
{
    fprintf(stderr, "curvature: %s: %s\n", what, t ? wg_tape_error(t) : wg_last_error());
    exit(1);
}

/* ---- part 1: the Hessian of an MLP's output with respect to its input ---- */

#define D_IN 2
enum { N_ACT = 3 };
static const wg_act acts[N_ACT] = {WG_ACT_RELU, WG_ACT_TANH, WG_ACT_SIGMOID};
static const char *const act_names[N_ACT] = {"ReLU", "tanh", "sigmoid"};

/* f(x), its gradient g[D_IN] and Hessian H[D_IN * D_IN] with respect to x. */
static void mlp_curvature(wg_tape *t, wg_mlp *m, const double *x, double *f, double *g, double *H)
{
    wg_tape_reset(t);
    wg_tensor *xt = wg_tensor_new(t, WG_F64, 2, (int64_t[]){1, D_IN}, x, true);
    wg_tensor *out = wg_sum(t, wg_mlp_forward(t, m, xt));
    if (!out || wg_hessian_of(t, out, 1, &xt, H) != 0) die("hessian", t);
    *f = wg_item(out);
    if (g) {
        wg_tensor *gx;
        if (wg_grad_of(t, out, NULL, 1, &xt, &gx, false) != 0) die("gradient", t);
        for (int i = 0; i < D_IN; i++) g[i] = wg_get(gx, (size_t)i);
    }
}

static void part1(const demo_opts *o, wg_rng *rng)
{
    const int64_t sizes[] = {D_IN, 16, 16, 1};
    wg_mlp *m[N_ACT];
    for (int a = 0; a < N_ACT; a++)
        if (!(m[a] = wg_mlp_new(WG_F64, 4, sizes, acts[a], WG_ACT_IDENTITY, WG_ACT_DEFAULT_ALPHA))) die("mlp", NULL);
    /* the same weights in all three: Xavier, biases N(0, 0.5^2) so that the
     * ReLU units switch at different places */
    wg_mlp_init(m[0], WG_INIT_XAVIER, 0, 0, rng);
    for (int l = 0; l < m[0]->n_layers; l++) {
        wg_param *b = m[0]->layers[l]->b;
        for (size_t i = 0; i < b->numel; i++) ((double *)b->data)[i] = 0.5 * wg_rng_normal(rng);
    }
    for (int a = 1; a < N_ACT; a++)
        for (size_t i = 0; i < m[0]->n_params; i++)
            memcpy(m[a]->params[i]->data, m[0]->params[i]->data, m[0]->params[i]->numel * sizeof(double));

    wg_tape *t = wg_tape_new();
    if (!t) die("tape", NULL);
    const int n_points = o->quick ? 50 : 500;
    int zero[N_ACT] = {0};
    double hmax[N_ACT] = {0}, gmin[N_ACT], fd_err = 0, fd_scale = 0;
    for (int a = 0; a < N_ACT; a++) gmin[a] = INFINITY;
    double example_x[D_IN], example_H[N_ACT][D_IN * D_IN];
    for (int k = 0; k < n_points; k++) {
        double x[D_IN];
        for (int i = 0; i < D_IN; i++) x[i] = 1.5 * wg_rng_normal(rng);
        for (int a = 0; a < N_ACT; a++) {
            double f, g[D_IN], H[D_IN * D_IN];
            mlp_curvature(t, m[a], x, &f, g, H);
            bool all_zero = true;
            for (int i = 0; i < D_IN * D_IN; i++) {
                all_zero &= H[i] == 0;
                hmax[a] = fmax(hmax[a], fabs(H[i]));
            }
            zero[a] += all_zero;
            gmin[a] = fmin(gmin[a], hypot(g[0], g[1]));
            if (k == 0) memcpy(example_H[a], H, sizeof H);
            if (a == 1 && k < 20) {
                /* tanh: column j of H against the central difference of the
                 * gradient along x_j */
                for (int j = 0; j < D_IN; j++) {
                    double xp[D_IN], xm[D_IN], gp[D_IN], gm[D_IN], fp, Hs[D_IN * D_IN];
                    const double h = 1e-5;
                    memcpy(xp, x, sizeof xp);
                    memcpy(xm, x, sizeof xm);
                    xp[j] += h;
                    xm[j] -= h;
                    mlp_curvature(t, m[a], xp, &fp, gp, Hs);
                    mlp_curvature(t, m[a], xm, &fp, gm, Hs);
                    for (int i = 0; i < D_IN; i++) {
                        fd_err = fmax(fd_err, fabs((gp[i] - gm[i]) / (2 * h) - H[i * D_IN + j]));
                        fd_scale = fmax(fd_scale, fabs(H[i * D_IN + j]));
                    }
                }
            }
        }
        if (k == 0) memcpy(example_x, x, sizeof x);
    }

    printf("Part 1: the Hessian of an MLP %d-16-16-1 (the same weights three times) with respect to its input,\n"
           "at %d random inputs.\n\n",
           D_IN, n_points);
    printf("At x = (%.4f, %.4f):\n", example_x[0], example_x[1]);
    for (int a = 0; a < N_ACT; a++)
        printf("  %-8s H = [% .6e % .6e; % .6e % .6e]\n", act_names[a], example_H[a][0], example_H[a][1],
               example_H[a][2], example_H[a][3]);
    printf("\n");
    for (int a = 0; a < N_ACT; a++)
        printf("%s: Hessian exactly 0 at %d of %d inputs; largest |entry| %.3e; smallest gradient norm %.3e\n",
               act_names[a], zero[a], n_points, hmax[a], gmin[a]);
    printf("tanh Hessian against central differences of the gradient (h = 1e-5, 20 inputs): largest error %.2e "
           "(relative to its largest entry %.2e)\n",
           fd_err, fd_err / fd_scale);
    printf("A ReLU network is linear between kinks: its gradient changes only by jumps, so no second-order\n"
           "term exists to use (lecture 000).  tanh and sigmoid bend everywhere.\n\n");

    if (o->plots) {
        /* f and d2f/ds2 = d^T H d along x(s) = x0 + s d */
        const int n_s = o->quick ? 121 : 601;
        double d[D_IN] = {0.8, 0.6};
        FILE *gp = plot_open(o->out, "mlp_curvature.png", 1000, 700);
        if (gp) {
            plot_block_begin(gp, "line");
            for (int k = 0; k < n_s; k++) {
                double s = -4 + 8.0 * k / (n_s - 1), x[D_IN];
                for (int i = 0; i < D_IN; i++) x[i] = example_x[i] + s * d[i];
                fprintf(gp, "%g", s);
                for (int a = 0; a < N_ACT; a++) {
                    double f, H[D_IN * D_IN];
                    mlp_curvature(t, m[a], x, &f, NULL, H);
                    double c = 0;
                    for (int i = 0; i < D_IN; i++)
                        for (int j = 0; j < D_IN; j++) c += d[i] * H[i * D_IN + j] * d[j];
                    fprintf(gp, " %.10g %.10g", f, c);
                }
                fprintf(gp, "\n");
            }
            plot_block_end(gp);
            fprintf(gp, "set multiplot layout 2,1 title 'the same MLP along a line x0 + s d through input space'\n");
            fprintf(gp, "set grid; set key top left; set ylabel 'f(x0 + s d)'\n");
            fprintf(gp, "plot for [a=0:2] $line using 1:(column(2+2*a)) with lines lw 2 "
                        "title word('ReLU tanh sigmoid', a+1)\n");
            fprintf(gp, "set ylabel 'd^2f/ds^2 = d^T H d'; set xlabel 's'\n");
            fprintf(gp, "plot $line using 1:3 with lines lw 2 title 'ReLU (exactly 0)', "
                        "$line using 1:5 with lines lw 2 title 'tanh', $line using 1:7 with lines lw 2 title 'sigmoid'\n");
            fprintf(gp, "unset multiplot\n");
            plot_close(gp);
        }
    }
    wg_tape_free(t);
    for (int a = 0; a < N_ACT; a++) wg_mlp_free(m[a]);
}

/* ---- part 2: Newton against gradient descent ------------------------------ */

#define N_W 3 /* two feature weights and a bias */
#define LAMBDA 1e-3
#define TOL 1e-8

typedef struct {
    int n;
    double *X, *y; /* X [n, N_W] with a column of ones; y in {0, 1} */
} problem;

/* The loss mean(softplus(z) - y z) + LAMBDA/2 |w|^2 with z = X w, its
 * gradient g and (if H) Hessian at w. */
static double loss_at(wg_tape *t, const problem *p, const double *w, double *g, double *H)
{
    wg_tape_reset(t);
    wg_tensor *wt = wg_tensor_new(t, WG_F64, 2, (int64_t[]){N_W, 1}, w, true);
    wg_tensor *X = wg_tensor_view(t, WG_F64, 2, (int64_t[]){p->n, N_W}, p->X);
    wg_tensor *y = wg_tensor_view(t, WG_F64, 2, (int64_t[]){p->n, 1}, p->y);
    wg_tensor *z = wg_matmul(t, X, wt);
    wg_tensor *L = wg_add(t, wg_nn_bce_logits(t, z, y, WG_REDUCE_MEAN), wg_mul(t, 0.5 * LAMBDA, wg_sum(t, wg_mul(t, wt, wt))));
    if (!L) die("loss", t);
    if (H && wg_hessian_of(t, L, 1, &wt, H) != 0) die("hessian", t);
    if (g) {
        wg_tensor *gw;
        if (wg_grad_of(t, L, NULL, 1, &wt, &gw, false) != 0) die("gradient", t);
        for (int i = 0; i < N_W; i++) g[i] = wg_get(gw, (size_t)i);
    }
    return wg_item(L);
}

static double norm(const double *v)
{
    double s = 0;
    for (int i = 0; i < N_W; i++) s += v[i] * v[i];
    return sqrt(s);
}

typedef struct {
    int iters;         /* to |g| < TOL, or -1 */
    double *loss;      /* per iteration, [0] at the start */
    double (*path)[N_W];
    int cap;
} run;

static void newton(wg_tape *t, const problem *p, run *r)
{
    double w[N_W] = {0}, g[N_W], H[N_W * N_W];
    r->iters = -1;
    for (int k = 0; k < r->cap; k++) {
        r->loss[k] = loss_at(t, p, w, g, H);
        memcpy(r->path[k], w, sizeof w);
        if (norm(g) < TOL) {
            r->iters = k;
            return;
        }
        /* H p = g (H is symmetric positive definite: the logistic loss is
         * convex and the L2 term adds LAMBDA), then w -= p */
        int n = N_W, one = 1, info = 0;
        dposv_("U", &n, &one, H, &n, g, &n, &info, 1);
        if (info != 0) {
            fprintf(stderr, "curvature: dposv failed: info = %d\n", info);
            exit(1);
        }
        for (int i = 0; i < N_W; i++) w[i] -= g[i];
    }
}

static void gradient_descent(wg_tape *t, const problem *p, double step, run *r)
{
    double w[N_W] = {0}, g[N_W];
    r->iters = -1;
    for (int k = 0; k < r->cap; k++) {
        r->loss[k] = loss_at(t, p, w, g, NULL);
        memcpy(r->path[k], w, sizeof w);
        if (norm(g) < TOL) {
            r->iters = k;
            return;
        }
        for (int i = 0; i < N_W; i++) w[i] -= step * g[i];
    }
}

/* Eigenvalues (ascending) of the symmetric N_W x N_W matrix A. */
static void eigenvalues(const double *A, double *ev)
{
    double a[N_W * N_W], work[64];
    memcpy(a, A, sizeof a);
    int n = N_W, lwork = 64, info = 0;
    dsyev_("N", "U", &n, a, &n, ev, work, &lwork, &info, 1, 1);
    if (info != 0) {
        fprintf(stderr, "curvature: dsyev failed: info = %d\n", info);
        exit(1);
    }
}

static void part2(const demo_opts *o, wg_rng *rng)
{
    problem p = {.n = 200};
    p.X = malloc(sizeof(double) * (size_t)p.n * N_W);
    p.y = malloc(sizeof(double) * (size_t)p.n);
    if (!p.X || !p.y) die("out of memory", NULL);
    /* features: u ~ N(0,1) and v = 5 (u + 0.5 N(0,1)): different scales and
     * correlated; labels from a logistic model, noisy (not separable) */
    for (int i = 0; i < p.n; i++) {
        double u = wg_rng_normal(rng), v = 5 * (u + 0.5 * wg_rng_normal(rng));
        p.X[i * N_W + 0] = u;
        p.X[i * N_W + 1] = v;
        p.X[i * N_W + 2] = 1;
        double z = 1.5 * u - 0.2 * v + 0.5;
        p.y[i] = wg_rng_uniform(rng) < 1 / (1 + exp(-z)) ? 1 : 0;
    }
    /* the safe step of gradient descent: 1/L with L = the largest eigenvalue
     * of X^T X / (4n) + LAMBDA I, which bounds the Hessian everywhere
     * (sigmoid' <= 1/4) */
    double B[N_W * N_W] = {0}, ev[N_W];
    for (int i = 0; i < p.n; i++)
        for (int a = 0; a < N_W; a++)
            for (int b = 0; b < N_W; b++) B[a * N_W + b] += p.X[i * N_W + a] * p.X[i * N_W + b] / (4.0 * p.n);
    for (int a = 0; a < N_W; a++) B[a * N_W + a] += LAMBDA;
    eigenvalues(B, ev);
    const double Lmax = ev[N_W - 1];

    wg_tape *t = wg_tape_new();
    if (!t) die("tape", NULL);
    run nr = {.cap = 100}, gr = {.cap = 100000};
    run *runs[2] = {&nr, &gr};
    for (int k = 0; k < 2; k++) {
        runs[k]->loss = malloc(sizeof(double) * (size_t)runs[k]->cap);
        runs[k]->path = malloc(sizeof *runs[k]->path * (size_t)runs[k]->cap);
        if (!runs[k]->loss || !runs[k]->path) die("out of memory", NULL);
    }
    newton(t, &p, &nr);
    gradient_descent(t, &p, 1 / Lmax, &gr);
    if (nr.iters < 0) {
        fprintf(stderr, "curvature: Newton did not converge in %d iterations\n", nr.cap);
        exit(1);
    }
    /* the curvature at the minimum, and the condition number GD suffers */
    double wstar[N_W], gstar[N_W], Hstar[N_W * N_W], evs[N_W];
    memcpy(wstar, nr.path[nr.iters], sizeof wstar);
    const double Lstar = loss_at(t, &p, wstar, gstar, Hstar);
    eigenvalues(Hstar, evs);

    printf("Part 2: L2-regularised logistic regression (lambda = %g) on %d points with two features of scales 1\n"
           "and 5 (correlated) and a bias; start at w = 0.\n\n",
           LAMBDA, p.n);
    printf("minimum: w = (%.6f, %.6f, %.6f), loss %.12f\n", wstar[0], wstar[1], wstar[2], Lstar);
    printf("Hessian at the minimum: eigenvalues %.3e %.3e %.3e, condition number %.0f\n", evs[0], evs[1], evs[2],
           evs[N_W - 1] / evs[0]);
    printf("gradient descent step 1/L = %.3e (L = %.3e bounds the Hessian everywhere)\n\n", 1 / Lmax, Lmax);
    printf("Newton's method (Hessian by wg_hessian_of, step by LAPACK dposv):\n");
    for (int k = 0; k <= nr.iters; k++) {
        double g[N_W];
        loss_at(t, &p, nr.path[k], g, NULL);
        printf("  iteration %d: loss %.15f, |grad| %.3e\n", k, nr.loss[k], norm(g));
    }
    if (gr.iters >= 0)
        printf("\niterations to |grad| < %g: Newton %d, gradient descent %d\n", TOL, nr.iters, gr.iters);
    else
        printf("\niterations to |grad| < %g: Newton %d, gradient descent more than %d\n", TOL, nr.iters, gr.cap);
    int last = gr.iters >= 0 ? gr.iters : gr.cap - 1;
    printf("loss above the minimum after %d iterations: Newton %.3e, gradient descent %.3e\n", nr.iters,
           nr.loss[nr.iters] - Lstar, gr.loss[nr.iters] - Lstar);
    printf("Each Newton step uses the curvature in every direction: the long, flat valley that gradient descent\n"
           "crawls along (its step is limited by the steepest direction) is one step for Newton.\n\n");

    if (o->plots) {
        FILE *gp = plot_open(o->out, "newton_vs_gd.png", 900, 550);
        if (gp) {
            plot_block_begin(gp, "nt");
            for (int k = 0; k <= nr.iters; k++) fprintf(gp, "%d %.17g\n", k, fmax(nr.loss[k] - Lstar, 1e-17));
            plot_block_end(gp);
            plot_block_begin(gp, "gd");
            for (int k = 0; k <= last; k += k < 100 ? 1 : (last / 2000 + 1))
                fprintf(gp, "%d %.17g\n", k, fmax(gr.loss[k] - Lstar, 1e-17));
            plot_block_end(gp);
            fprintf(gp, "set title 'logistic regression: loss above its minimum'\n");
            fprintf(gp, "set logscale xy; set format y '%%.0e'; set grid; set key top right\n");
            fprintf(gp, "set xlabel 'iteration + 1'; set ylabel 'L(w_k) - L(w*)'\n");
            fprintf(gp, "plot $nt using ($1+1):2 with linespoints lw 2 pt 7 title 'Newton (%d iterations)', "
                        "$gd using ($1+1):2 with lines lw 2 title 'gradient descent, step 1/L (%d)'\n",
                    nr.iters, gr.iters);
            plot_close(gp);
        }
        /* both paths in the (w_u, w_v) plane, the bias at its optimum, on
         * contours of the loss */
        gp = plot_open(o->out, "paths.png", 900, 650);
        if (gp) {
            double lo0 = fmin(0, wstar[0]) - 0.5, hi0 = fmax(0, wstar[0]) + 0.5;
            double lo1 = fmin(0, wstar[1]) - 0.03, hi1 = fmax(0, wstar[1]) + 0.03;
            const int ng = o->quick ? 40 : 100;
            plot_block_begin(gp, "grid");
            for (int i = 0; i < ng; i++) {
                for (int j = 0; j < ng; j++) {
                    double w[N_W] = {lo0 + (hi0 - lo0) * i / (ng - 1), lo1 + (hi1 - lo1) * j / (ng - 1), wstar[2]};
                    fprintf(gp, "%g %g %g\n", w[0], w[1], log10(loss_at(t, &p, w, NULL, NULL) - Lstar + 1e-6));
                }
                fprintf(gp, "\n");
            }
            plot_block_end(gp);
            plot_block_begin(gp, "pn");
            for (int k = 0; k <= nr.iters; k++) fprintf(gp, "%g %g\n", nr.path[k][0], nr.path[k][1]);
            plot_block_end(gp);
            plot_block_begin(gp, "pg");
            for (int k = 0; k <= last; k += k < 200 ? 1 : (last / 2000 + 1))
                fprintf(gp, "%g %g\n", gr.path[k][0], gr.path[k][1]);
            plot_block_end(gp);
            fprintf(gp, "set title 'paths from w = 0 (bias shown at its optimum); contours of log10(L - L*)'\n");
            fprintf(gp, "set xlabel 'w_u (feature of scale 1)'; set ylabel 'w_v (feature of scale 5)'\n");
            fprintf(gp, "set view map; set contour base; unset surface; set cntrparam levels 14\n");
            fprintf(gp, "set table $cont; splot $grid using 1:2:3 with lines; unset table\n");
            fprintf(gp, "set key bottom right; set grid\n");
            fprintf(gp, "plot $cont with lines lc 'gray' notitle, $pg with lines lw 2 lc 'blue' "
                        "title 'gradient descent', $pn with linespoints lw 2 pt 7 lc 'red' title 'Newton'\n");
            plot_close(gp);
        }
    }
    wg_tape_free(t);
    for (int k = 0; k < 2; k++) {
        free(runs[k]->loss);
        free(runs[k]->path);
    }
    free(p.X);
    free(p.y);
}

int main(int argc, char **argv)
{
    demo_opts o;
    demo_parse(argc, argv, "curvature",
               "curvature: the Hessian of a ReLU MLP is exactly 0, of tanh and sigmoid MLPs not; Newton's method "
               "against gradient descent on an ill-conditioned logistic regression",
               &o);
    wg_rng rng;
    wg_rng_seed(&rng, (uint64_t)o.seed);
    part1(&o, &rng);
    /* part 2's data from its own stream: the same problem with and without --quick */
    wg_rng_seed(&rng, (uint64_t)o.seed + 1000);
    part2(&o, &rng);
    if (o.plots) demo_report_pictures(o.out, (const char *[]){"mlp_curvature.png", "newton_vs_gd.png", "paths.png"}, 3);
    return 0;
}
