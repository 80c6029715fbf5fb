/* init: weight initialisation and the activations it produces (lecture 003).
 *
 * A deep MLP of equal-width layers is fed standard normal inputs and the
 * activations of every layer are collected, for five initialisations:
 *   tanh, weights N(0, 0.01^2): activations shrink towards 0 layer by layer;
 *   tanh, weights N(0, 0.2^2):  activations saturate at -1 and +1;
 *   tanh, Xavier (sigma^2 = 1/D_in): well scaled in every layer;
 *   ReLU, Xavier: activations collapse towards 0 in deeper layers;
 *   ReLU, He (sigma^2 = 2/D_in): well scaled again.
 * Prints each layer's mean and standard deviation; draws the histograms of
 * every layer for each case (the lecture's figures) and the std per layer.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "plot.h"
#include "wengert.h"

#define MAX_DEPTH 10

typedef struct init_case {
    const char *name, *file;
    wg_act act;
    wg_init scheme;
    double sigma; /* for WG_INIT_NORMAL */
} init_case;

static const init_case cases[] = {
    {"tanh, sigma = 0.01", "init_tanh_small.png", WG_ACT_TANH, WG_INIT_NORMAL, 0.01},
    {"tanh, sigma = 0.2", "init_tanh_large.png", WG_ACT_TANH, WG_INIT_NORMAL, 0.2},
    {"tanh, Xavier", "init_tanh_xavier.png", WG_ACT_TANH, WG_INIT_XAVIER, 0},
    {"ReLU, Xavier", "init_relu_xavier.png", WG_ACT_RELU, WG_INIT_XAVIER, 0},
    {"ReLU, He", "init_relu_he.png", WG_ACT_RELU, WG_INIT_HE, 0},
};
#define N_CASES (int)(sizeof cases / sizeof cases[0])

/* Histogram of layer activations as gnuplot boxes, one panel per layer. */
static void draw_histograms(const demo_opts *o, const init_case *c, int depth, const float *const *acts, size_t n,
                            const double *mean, const double *sd)
{
    FILE *gp = plot_open(o->out, c->file, 1500, 620);
    if (!gp) return;
    const int bins = 40;
    double lo = c->act == WG_ACT_TANH ? -1 : 0, hi = 1;
    if (c->act == WG_ACT_RELU) { /* a common range for all layers: the largest spread */
        for (int l = 0; l < depth; l++) hi = fmax(hi, mean[l] + 3 * sd[l]);
    }
    bool relu = c->act == WG_ACT_RELU;
    fprintf(gp, "set multiplot layout 2,%d title '%s: histograms of the activations of layers 1 to %d%s'\n",
            (depth + 1) / 2, c->name, depth, relu ? " (the zeros of inactive units left out)" : "");
    fprintf(gp, "set style fill solid 0.8 noborder; unset ytics; set xtics %g font ',7'; set yrange [0:*]\n",
            c->act == WG_ACT_TANH ? 1.0 : (hi > 4 ? 2.0 : 1.0));
    fprintf(gp, "set lmargin 2; set rmargin 2\n");
    for (int l = 0; l < depth; l++) {
        size_t h[64] = {0}, zeros = 0;
        for (size_t i = 0; i < n; i++) {
            if (relu && acts[l][i] == 0) {
                zeros++;
                continue;
            }
            int b = (int)((acts[l][i] - lo) / (hi - lo) * bins);
            h[b < 0 ? 0 : b >= bins ? bins - 1 : b]++;
        }
        if (relu)
            fprintf(gp, "set title \"layer %d: mean %.2g, std %.2g\\n%.0f%% zeros\" font ',9'\n", l + 1, mean[l], sd[l],
                    100.0 * (double)zeros / (double)n);
        else
            fprintf(gp, "set title \"layer %d\\nmean %.2g, std %.2g\" font ',9'\n", l + 1, mean[l], sd[l]);
        fprintf(gp, "set xrange [%g:%g]\n", lo, hi);
        fprintf(gp, "plot '-' using 1:2 with boxes lc rgb '#2171b5' notitle\n");
        for (int b = 0; b < bins; b++) fprintf(gp, "%g %zu\n", lo + (b + 0.5) * (hi - lo) / bins, h[b]);
        fprintf(gp, "e\n");
    }
    fprintf(gp, "unset multiplot\n");
    plot_close(gp);
}

int main(int argc, char **argv)
{
    demo_opts o;
    demo_parse(argc, argv, "init", "init: per-layer activations of a deep MLP for five initialisations (lecture 003)", &o);
    const int depth = 10;
    const int64_t width = 500, n = o.quick ? 200 : 1000; /* at D_in = 500, sigma = 0.2 saturates tanh */
    printf("A %d-layer MLP, %lld units per layer, fed %lld standard normal inputs; biases 0.\n"
           "Mean and standard deviation of each layer's activations:\n\n",
           depth, (long long)width, (long long)n);

    float *x = malloc((size_t)(n * width) * sizeof *x);
    wg_rng rng;
    wg_rng_seed(&rng, (uint64_t)o.seed);
    for (int64_t i = 0; i < n * width; i++) x[i] = (float)wg_rng_normal(&rng);
    wg_tape *t = wg_tape_new();
    double sd_all[N_CASES][MAX_DEPTH];
    for (int c = 0; c < N_CASES; c++) {
        wg_tape_reset(t);
        wg_dense *layers[MAX_DEPTH];
        const float *acts[MAX_DEPTH];
        double mean[MAX_DEPTH], sd[MAX_DEPTH], sat = 0;
        wg_tensor *h = wg_tensor_new(t, WG_F32, 2, (int64_t[]){n, width}, x, false);
        for (int l = 0; l < depth; l++) {
            layers[l] = wg_dense_new(WG_F32, width, width, true);
            wg_dense_init(layers[l], cases[c].scheme, cases[c].sigma, 0, &rng);
            h = wg_nn_activate(t, wg_dense_forward(t, layers[l], h), cases[c].act, NAN);
            if (!h) {
                fprintf(stderr, "init: %s\n", wg_tape_error(t));
                return 1;
            }
            acts[l] = wg_data(h);
            double s = 0, s2 = 0;
            size_t m = (size_t)(n * width);
            for (size_t i = 0; i < m; i++) s += acts[l][i], s2 += (double)acts[l][i] * acts[l][i];
            mean[l] = s / (double)m;
            sd[l] = sqrt(fmax(s2 / (double)m - mean[l] * mean[l], 0));
            sd_all[c][l] = sd[l];
            if (l == depth - 1) {
                for (size_t i = 0; i < m; i++) sat += fabsf(acts[l][i]) > 0.99f;
                sat /= (double)m;
            }
        }
        printf("%s\n   mean:", cases[c].name);
        for (int l = 0; l < depth; l++) printf(" %+9.2e", mean[l]);
        printf("\n   std: ");
        for (int l = 0; l < depth; l++) printf(" %9.2e", sd[l]);
        printf("\n%s: last-layer std %.3e (first layer %.3e)", cases[c].name, sd[depth - 1], sd[0]);
        if (cases[c].act == WG_ACT_TANH) printf(", saturated (|a| > 0.99) %.1f%%", 100 * sat);
        printf("\n\n");
        if (o.plots) draw_histograms(&o, &cases[c], depth, acts, (size_t)(n * width), mean, sd);
        for (int l = 0; l < depth; l++) wg_dense_free(layers[l]);
    }
    printf("Small weights: the signal dies out (and with it the gradient); large weights: tanh saturates and its\n"
           "derivative is 0; Xavier keeps tanh layers well scaled; ReLU halves the variance at each layer unless\n"
           "the weights are doubled in variance, which is He's initialisation.\n");

    if (o.plots) {
        FILE *gp = plot_open(o.out, "init_std.png", 900, 550);
        if (gp) {
            plot_block_begin(gp, "s");
            for (int l = 0; l < depth; l++) {
                fprintf(gp, "%d", l + 1);
                for (int c = 0; c < N_CASES; c++) fprintf(gp, " %g", fmax(sd_all[c][l], 1e-30));
                fputc('\n', gp);
            }
            plot_block_end(gp);
            fprintf(gp, "set title 'standard deviation of the activations per layer'; set logscale y; set grid\n");
            fprintf(gp, "set format y '%%.0e'; set xlabel 'layer'; set ylabel 'std'; set xtics 1; set key outside right\n");
            fprintf(gp, "plot ");
            for (int c = 0; c < N_CASES; c++)
                fprintf(gp, "%s$s using 1:%d with linespoints lw 2 title '%s'", c ? ", " : "", c + 2, cases[c].name);
            fprintf(gp, "\n");
            plot_close(gp);
        }
        const char *names[N_CASES + 1];
        for (int c = 0; c < N_CASES; c++) names[c] = cases[c].file;
        names[N_CASES] = "init_std.png";
        demo_report_pictures(o.out, names, N_CASES + 1);
    }
    wg_tape_free(t);
    free(x);
    return 0;
}
