/* perceptron: Rosenblatt's learning rule (lecture 000) on two problems.
 *
 * y' = step(w1 x1 + w2 x2 + w0), and after each misclassified sample
 * w <- w + alpha (y - y') x  (wg_perceptron_rule, the lecture's strategy 2).
 * On linearly separable data the rule stops making mistakes after finitely
 * many epochs; on XOR no line separates the classes, so it never does.
 * Pictures: the data and the learned decision boundary for both problems,
 * and the mistakes per epoch.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "plot.h"
#include "wengert.h"

typedef struct problem {
    const char *name;
    int n;
    double (*x)[3]; /* x1, x2, 1 (the constant input that carries the bias w0) */
    double *y;      /* 0 or 1 */
} problem;

/* Counts the samples step(w . x) gets wrong, on the tape: y' = step(X w). */
static int count_mistakes(wg_tape *t, const problem *p, const double *w)
{
    wg_tape_reset(t);
    wg_tensor *X = wg_tensor_new(t, WG_F64, 2, (int64_t[]){p->n, 3}, p->x, false);
    wg_tensor *W = wg_tensor_new(t, WG_F64, 2, (int64_t[]){3, 1}, w, false);
    wg_tensor *yp = wg_nn_step(t, wg_matmul(t, X, W));
    if (!yp) {
        fprintf(stderr, "perceptron: %s\n", wg_tape_error(t));
        exit(1);
    }
    int m = 0;
    for (int i = 0; i < p->n; i++) m += wg_get(yp, (size_t)i) != p->y[i];
    return m;
}

/* Online perceptron training; mistakes[e] = samples wrong after epoch e,
 * per_epoch[e] = weight updates during it.
 * Returns the number of epochs until an epoch made no update, or -1. */
static int train(wg_tape *t, const problem *p, double alpha, int max_epochs, double *w, int *mistakes, int *per_epoch,
                 int *updates)
{
    w[0] = w[1] = w[2] = 0;
    *updates = 0;
    for (int e = 0; e < max_epochs; e++) {
        int changed = 0;
        for (int i = 0; i < p->n; i++) {
            double a = w[0] * p->x[i][0] + w[1] * p->x[i][1] + w[2] * p->x[i][2];
            double yp = a >= 0 ? 1 : 0; /* Heaviside, as the lecture: 1 if z >= 0 */
            if (yp != p->y[i]) {
                wg_perceptron_rule(3, alpha, p->y[i], yp, w, p->x[i]);
                changed++;
            }
        }
        *updates += changed;
        per_epoch[e] = changed;
        mistakes[e] = count_mistakes(t, p, w);
        if (!changed) return e + 1;
    }
    return -1;
}

static void draw(FILE *gp, const problem *p, const double *w, const char *title)
{
    fprintf(gp, "set title '%s'\n", title);
    plot_block_begin(gp, "pts");
    for (int i = 0; i < p->n; i++) fprintf(gp, "%g %g %g\n", p->x[i][0], p->x[i][1], p->y[i]);
    plot_block_end(gp);
    /* the boundary w0 + w1 x1 + w2 x2 = 0 */
    if (fabs(w[1]) <= 1e-12 && fabs(w[0]) > 1e-12) /* a vertical boundary x1 = -w0/w1 */
        fprintf(gp, "set arrow 1 from first %g, graph 0 to first %g, graph 1 nohead lw 2 lc rgb 'black'\n",
                -w[2] / w[0], -w[2] / w[0]);
    fprintf(gp, "b(x) = %.17g * x + %.17g\n", fabs(w[1]) > 1e-12 ? -w[0] / w[1] : 0.0,
            fabs(w[1]) > 1e-12 ? -w[2] / w[1] : 0.0);
    fprintf(gp, "plot $pts using 1:($3 == 1 ? $2 : 1/0) with points pt 7 ps 1.2 lc rgb '#d7301f' title 'class 1', "
                "$pts using 1:($3 == 0 ? $2 : 1/0) with points pt 6 ps 1.2 lw 2 lc rgb '#0868ac' title 'class 0'%s\n",
            fabs(w[1]) > 1e-12 ? ", b(x) with lines lw 2 lc rgb 'black' title 'decision boundary'" : "");
    fprintf(gp, "unset arrow 1\n");
}

int main(int argc, char **argv)
{
    demo_opts o;
    demo_parse(argc, argv, "perceptron",
               "perceptron: the perceptron learning rule converges on separable data and fails on XOR", &o);
    wg_rng rng;
    wg_rng_seed(&rng, (uint64_t)o.seed);

    /* Separable data: points in [-2, 2]^2 labelled by a hidden line, keeping
     * only those at least 0.05 away from it (a margin, so the perceptron
     * convergence theorem applies). */
    enum { N_SEP = 200, MAX_EPOCHS = 1000, XOR_EPOCHS = 100 };
    static double xs[N_SEP][3], ys[N_SEP];
    const double tw[3] = {0.8, -1.0, 0.3}; /* the hidden line: 0.8 x1 - x2 + 0.3 = 0 */
    for (int i = 0; i < N_SEP;) {
        double x1 = 4 * wg_rng_uniform(&rng) - 2, x2 = 4 * wg_rng_uniform(&rng) - 2;
        double d = (tw[0] * x1 + tw[1] * x2 + tw[2]) / hypot(tw[0], tw[1]);
        if (fabs(d) < 0.05) continue;
        xs[i][0] = x1, xs[i][1] = x2, xs[i][2] = 1, ys[i] = d > 0;
        i++;
    }
    problem sep = {"separable", N_SEP, xs, ys};
    double xx[4][3] = {{0, 0, 1}, {0, 1, 1}, {1, 0, 1}, {1, 1, 1}}, xy[4] = {0, 1, 1, 0};
    problem xor_p = {"XOR", 4, xx, xy};

    wg_tape *t = wg_tape_new();
    static int mis_sep[MAX_EPOCHS], mis_xor[XOR_EPOCHS], upd_e_sep[MAX_EPOCHS], upd_e_xor[XOR_EPOCHS];
    double w_sep[3], w_xor[3];
    int upd_sep, upd_xor;
    const double alpha = 0.1;
    int e_sep = train(t, &sep, alpha, MAX_EPOCHS, w_sep, mis_sep, upd_e_sep, &upd_sep);
    int e_xor = train(t, &xor_p, alpha, XOR_EPOCHS, w_xor, mis_xor, upd_e_xor, &upd_xor);

    printf("Perceptron y' = step(w1 x1 + w2 x2 + w0), rule w <- w + alpha (y - y') x with alpha = %g, w = 0 at the start\n\n",
           alpha);
    int now_sep = count_mistakes(t, &sep, w_sep);
    if (e_sep > 0)
        printf("separable data: %d points, converged after %d epochs (%d weight updates); misclassified now: %d of %d\n",
               N_SEP, e_sep, upd_sep, now_sep, N_SEP);
    else
        printf("separable data: %d points, not converged after %d epochs; misclassified now: %d of %d\n", N_SEP,
               MAX_EPOCHS, now_sep, N_SEP);
    printf("  learned boundary: %.3f x1 %+.3f x2 %+.3f = 0 (the data came from 0.8 x1 - x2 + 0.3 = 0)\n", w_sep[0],
           w_sep[1], w_sep[2]);

    int fewest = 4, clean = 0;
    for (int e = 0; e < XOR_EPOCHS; e++) {
        if (mis_xor[e] < fewest) fewest = mis_xor[e];
        clean += mis_xor[e] == 0;
    }
    int now_xor = count_mistakes(t, &xor_p, w_xor);
    printf("XOR: %s after %d epochs (%d weight updates); misclassified at the end: %d of 4; fewest after any epoch: %d; "
           "epochs without mistakes: %d\n",
           e_xor > 0 ? "converged" : "not converged", XOR_EPOCHS, upd_xor, now_xor, fewest, clean);
    printf("  last weights: %.3f x1 %+.3f x2 %+.3f; the rule keeps cycling because no line puts (0,1) and (1,0)\n"
           "  on one side and (0,0) and (1,1) on the other\n", w_xor[0], w_xor[1], w_xor[2]);

    if (o.plots) {
        FILE *gp = plot_open(o.out, "perceptron.png", 1500, 480);
        if (gp) {
            fprintf(gp, "set multiplot layout 1,3\n");
            fprintf(gp, "set size ratio -1; set grid; set key bottom right opaque; set xlabel 'x_1'; set ylabel 'x_2'\n");
            fprintf(gp, "set xrange [-2.2:2.2]; set yrange [-2.2:2.2]\n");
            char title[128];
            snprintf(title, sizeof title, "separable: converged after %d epochs", e_sep);
            draw(gp, &sep, w_sep, title);
            fprintf(gp, "set xrange [-0.5:1.5]; set yrange [-0.5:1.5]\n");
            snprintf(title, sizeof title, "XOR: after %d epochs, %d of 4 wrong", XOR_EPOCHS, now_xor);
            draw(gp, &xor_p, w_xor, title);
            fprintf(gp, "set size noratio; set autoscale; set xlabel 'epoch'; set ylabel 'weight updates (mistakes during the epoch)'\n");
            fprintf(gp, "set title 'updates per epoch: 0 means converged'; set key top right; set yrange [0:*]\n");
            plot_block_begin(gp, "m");
            for (int e = 0; e < XOR_EPOCHS; e++)
                fprintf(gp, "%d %d\n", e + 1, upd_e_xor[e]);
            plot_block_end(gp);
            plot_block_begin(gp, "s");
            for (int e = 0; e < (e_sep > 0 ? e_sep : MAX_EPOCHS); e++) fprintf(gp, "%d %d\n", e + 1, upd_e_sep[e]);
            plot_block_end(gp);
            fprintf(gp, "plot $s with linespoints lw 2 title 'separable (of %d)', $m with lines lw 2 title 'XOR (of 4)'\n",
                    N_SEP);
            fprintf(gp, "unset multiplot\n");
            plot_close(gp);
        }
        demo_report_pictures(o.out, (const char *[]){"perceptron.png"}, 1);
    }
    wg_tape_free(t);
    return 0;
}
