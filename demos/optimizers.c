/* optimizers: gradient descent, momentum, Nesterov and Adam on an
 * ill-conditioned quadratic (lectures 001 and 004).
 *
 * E(w) = 1/2 w^T H w with H's eigenvalues 1 and 25 along axes turned by 30
 * degrees: a long narrow valley.  Every method starts at the same point with
 * the same learning rate where it applies; the gradient comes from the tape.
 * Gradient descent zig-zags across the valley and crawls along it; momentum
 * and Nesterov build up speed along it; Adam scales each coordinate.
 * Prints how many steps each needs to reach E < 1e-6; draws the paths over
 * the contour lines and the loss curves.
 */
#include <math.h>
#include <stdio.h>

#include "plot.h"
#include "wengert.h"

#define MAX_STEPS 2000
#define TOL 1e-6

typedef struct method {
    const char *name;
    wg_opt_kind kind;
    double lr;
} method;

static const method methods[] = {
    {"gradient descent", WG_OPT_SGD, 0.05},
    {"momentum", WG_OPT_MOMENTUM, 0.05},
    {"nesterov", WG_OPT_NESTEROV, 0.05},
    {"adam", WG_OPT_ADAM, 0.2},
};
#define N_METHODS (int)(sizeof methods / sizeof methods[0])

static double H[2][2];

/* E(w) on the tape: 1/2 w^T H w with w a [2, 1] column. */
static wg_tensor *energy(wg_tape *t, wg_tensor *w)
{
    wg_tensor *h = wg_tensor_new(t, WG_F64, 2, (int64_t[]){2, 2}, H, false);
    return wg_mul(t, 0.5, wg_sum(t, wg_mul(t, w, wg_matmul(t, h, w))));
}

int main(int argc, char **argv)
{
    demo_opts o;
    demo_parse(argc, argv, "optimizers",
               "optimizers: gradient descent, momentum, Nesterov and Adam on an ill-conditioned quadratic", &o);
    const double l1 = 1, l2 = 25, th = 30 * 3.14159265358979323846 / 180;
    const double c = cos(th), s = sin(th);
    H[0][0] = l1 * c * c + l2 * s * s, H[1][1] = l1 * s * s + l2 * c * c, H[0][1] = H[1][0] = (l1 - l2) * c * s;
    /* start far along the flat direction (cos th, sin th), a little off it */
    const double start[2] = {-4 * c - 0.6 * s, -4 * s + 0.6 * c}, mu = 0.7;
    const int steps = o.quick ? 600 : MAX_STEPS;

    static double path[N_METHODS][MAX_STEPS + 1][2], loss[N_METHODS][MAX_STEPS + 1];
    int reached[N_METHODS];
    wg_tape *t = wg_tape_new();
    for (int k = 0; k < N_METHODS; k++) {
        wg_param *w = wg_param_new(WG_F64, 2, (int64_t[]){2, 1});
        double *wd = w->data;
        wd[0] = start[0], wd[1] = start[1];
        wg_optim_config cfg = wg_optim_defaults(methods[k].kind);
        cfg.lr = methods[k].lr;
        cfg.momentum = mu;
        wg_optim *opt = wg_optim_new(&cfg, 1, &w);
        reached[k] = -1;
        for (int i = 0; i <= steps; i++) {
            wg_tape_reset(t);
            wg_tensor *e = energy(t, wg_use(t, w));
            wg_param_zero_grad(w);
            if (!e || wg_backward(t, e) != 0) {
                fprintf(stderr, "optimizers: %s\n", wg_tape_error(t));
                return 1;
            }
            path[k][i][0] = wd[0], path[k][i][1] = wd[1], loss[k][i] = wg_item(e);
            if (reached[k] < 0 && loss[k][i] < TOL) reached[k] = i;
            if (i < steps) wg_optim_step(opt);
        }
        wg_optim_free(opt);
        wg_param_free(w);
    }

    printf("E(w) = 1/2 w^T H w, eigenvalues %g and %g (condition number %g), valley turned by 30 degrees;\n"
           "start (%.2f, %.2f), E = %.3f; momentum mu = %g\n\n", l1, l2, l2 / l1, start[0], start[1], loss[0][0], mu);
    printf("   method             lr     steps to E < %g    E after %d steps\n", TOL, steps);
    for (int k = 0; k < N_METHODS; k++) {
        char r[32];
        if (reached[k] >= 0) snprintf(r, sizeof r, "%d", reached[k]);
        else snprintf(r, sizeof r, "not within %d", steps);
        printf("   %-16s  %5.2f   %-18s  %.3e\n", methods[k].name, methods[k].lr, r, loss[k][steps]);
    }
    printf("steps to E < 1e-6: gd %d, momentum %d, nesterov %d, adam %d\n", reached[0], reached[1], reached[2], reached[3]);
    printf("Gradient descent must keep its step below 2/25 for the steep direction, so it crawls along the flat one;\n"
           "momentum accumulates the consistent downhill component and reaches the minimum %.1fx sooner.\n",
           reached[1] > 0 && reached[0] > 0 ? (double)reached[0] / reached[1] : 0.0);

    if (o.plots) {
        FILE *gp = plot_open(o.out, "optimizers_paths.png", 1000, 650);
        if (gp) {
            /* contour lines: E = level is an ellipse with semi-axes sqrt(2 level / lambda) */
            plot_block_begin(gp, "cont");
            const double levels[] = {0.01, 0.1, 0.5, 1.5, 4, 8, 12.5, 20};
            for (int li = 0; li < 8; li++) {
                for (int a = 0; a <= 120; a++) {
                    double phi = 2 * 3.14159265358979323846 * a / 120;
                    double u = sqrt(2 * levels[li] / l1) * cos(phi), v = sqrt(2 * levels[li] / l2) * sin(phi);
                    fprintf(gp, "%g %g\n", c * u - s * v, s * u + c * v);
                }
                fprintf(gp, "\n");
            }
            plot_block_end(gp);
            for (int k = 0; k < N_METHODS; k++) {
                char name[8];
                snprintf(name, sizeof name, "p%d", k);
                plot_block_begin(gp, name);
                int n = reached[k] >= 0 ? reached[k] : steps;
                for (int i = 0; i <= n && i <= 150; i++) fprintf(gp, "%g %g\n", path[k][i][0], path[k][i][1]);
                plot_block_end(gp);
            }
            fprintf(gp, "set title 'paths on E(w) = 1/2 w^T H w (first 150 steps)'; set size ratio -1\n");
            fprintf(gp, "set xrange [-4.5:1.5]; set yrange [-2.5:1.5]; set xlabel 'w_1'; set ylabel 'w_2'; set key outside right\n");
            fprintf(gp, "plot $cont with lines lc rgb '#bbbbbb' notitle");
            for (int k = 0; k < N_METHODS; k++)
                fprintf(gp, ", $p%d with linespoints pt 7 ps 0.4 lw 1.5 title '%s'", k, methods[k].name);
            fprintf(gp, ", '-' with points pt 3 ps 2 lw 2 lc rgb 'black' title 'minimum'\n0 0\ne\n");
            plot_close(gp);
        }
        gp = plot_open(o.out, "optimizers_loss.png", 900, 550);
        if (gp) {
            plot_block_begin(gp, "l");
            for (int i = 0; i <= steps; i++) {
                fprintf(gp, "%d", i);
                for (int k = 0; k < N_METHODS; k++) fprintf(gp, " %g", fmax(loss[k][i], 1e-30));
                fputc('\n', gp);
            }
            plot_block_end(gp);
            fprintf(gp, "set title 'loss E(w) per step'; set logscale y; set format y '%%.0e'; set grid\n");
            fprintf(gp, "set xlabel 'step'; set ylabel 'E'; set yrange [1e-12:100]; set xrange [0:%d]\n",
                    reached[0] > 0 ? reached[0] + 20 : steps);
            fprintf(gp, "plot ");
            for (int k = 0; k < N_METHODS; k++)
                fprintf(gp, "%s$l using 1:%d with lines lw 2 title '%s'", k ? ", " : "", k + 2, methods[k].name);
            fprintf(gp, ", %g with lines dt 2 lc rgb 'black' title 'E = 10^-6'\n", TOL);
            plot_close(gp);
        }
        demo_report_pictures(o.out, (const char *[]){"optimizers_paths.png", "optimizers_loss.png"}, 2);
    }
    wg_tape_free(t);
    return 0;
}
