/* softmax: the lectures' two softmax tables, computed by the library.
 *
 * Lecture 000: the logits of a four-class fruit classifier (apple, banana,
 * pear, cherry) through softmax, and the loss of the sample whose truth is
 * "banana".  Lecture 003: four samples with their targets, logits, softmax
 * outputs and cross-entropy losses.  Each number is printed next to the
 * lecture's, and the largest difference is reported.  Pictures: bar charts of
 * the probabilities.
 */
#include <math.h>
#include <stdio.h>

#include "plot.h"
#include "wengert.h"

#define K 4

static const char *fruit[K] = {"apple", "banana", "pear", "cherry"};
static const double fruit_z[K] = {-3.44, 1.16, -0.81, 3.91};
/* lecture 000's table: exp(z) and y' */
static const double lecture_exp[K] = {0.03, 3.19, 0.44, 49.90};
static const double lecture_p[K] = {0.0006, 0.0596, 0.0083, 0.9315};

/* lecture 003: targets (class index), logits, rounded softmax outputs and losses */
static const int ce_label[K] = {0, 1, 2, 3};
static const double ce_z[K][K] = {{3, 1, -1, -1}, {3, 3, 1, 0}, {1, 1, 1, 1}, {3, 2, 3, -1}};
static const double lecture_q[K][K] = {
    {0.85, 0.12, 0.02, 0.02}, {0.46, 0.46, 0.06, 0.02}, {0.25, 0.25, 0.25, 0.25}, {0.42, 0.16, 0.42, 0.01}};
static const double lecture_ce[K] = {0.16, 0.78, 1.38, 4.87};

static int fail(wg_tape *t)
{
    fprintf(stderr, "softmax: %s\n", wg_tape_error(t));
    wg_tape_free(t);
    return 1;
}

int main(int argc, char **argv)
{
    demo_opts o;
    demo_parse(argc, argv, "softmax",
               "softmax: lecture 000's fruit table and lecture 003's cross-entropy table, computed by wengert", &o);
    wg_tape *t = wg_tape_new();
    if (!t) return 1;

    /* ---- lecture 000: one sample, four fruits ---- */
    wg_tensor *z = wg_tensor_new(t, WG_F64, 1, (int64_t[]){K}, fruit_z, true);
    wg_tensor *ez = wg_exp(t, z);
    wg_tensor *p = wg_nn_softmax(t, z, -1);
    /* the "softmax loss" of the banana sample, straight from the logits */
    wg_tensor *z2 = wg_reshape(t, z, 2, (int64_t[]){1, K});
    wg_tensor *loss = wg_nn_softmax_cross_entropy_idx(t, z2, (int[]){1}, WG_REDUCE_MEAN);
    if (!loss || wg_backward(t, loss) != 0) return fail(t);

    printf("Lecture 000: softmax y'_k = exp(z_k) / sum_j exp(z_j) of a fruit classifier's logits\n\n");
    printf("  label    z_k     exp(z_k)  lecture   y'_k     lecture\n");
    double max_diff_p = 0;
    for (int k = 0; k < K; k++) {
        printf("  %-7s %6.2f  %8.4f  %6.2f    %.4f   %.4f\n", fruit[k], fruit_z[k], wg_get(ez, k), lecture_exp[k],
               wg_get(p, k), lecture_p[k]);
        max_diff_p = fmax(max_diff_p, fabs(wg_get(p, k) - lecture_p[k]));
    }
    printf("fruit table: largest |y' - lecture| = %.5f (the lecture rounds to 4 places)\n", max_diff_p);
    printf("\nThe truth is banana, y = [0, 1, 0, 0]: loss = -ln(y'_banana) = %.4f\n", wg_item(loss));
    printf("  (the lecture writes -log(0.06) = 1.22, a base-10 logarithm: -log10(0.0596) = %.2f;\n"
           "   wengert uses natural logarithms: -ln(0.0596) = %.2f)\n",
           -log10(lecture_p[1]), -log(lecture_p[1]));
    printf("  gradient of that loss with respect to the logits, y' - y: [");
    for (int k = 0; k < K; k++) printf("%s%.4f", k ? ", " : "", wg_grad_get(z, k));
    printf("]\n");

    /* ---- lecture 003: four samples ---- */
    wg_tensor *zs = wg_tensor_new(t, WG_F64, 2, (int64_t[]){K, K}, ce_z, false);
    wg_tensor *q = wg_nn_softmax(t, zs, -1);
    wg_tensor *ce = wg_nn_softmax_cross_entropy_idx(t, zs, ce_label, WG_REDUCE_NONE);
    if (!ce) return fail(t);
    printf("\nLecture 003: cross-entropy loss -ln(q_true) of four samples\n\n");
    printf("  target      logits z        softmax(z), wengert               lecture                   loss    lecture\n");
    double max_diff_q = 0, max_diff_ce = 0;
    for (int s = 0; s < K; s++) {
        printf("  (%d,%d,%d,%d)   (%+2.0f,%+2.0f,%+2.0f,%+2.0f)   (", s == 0, s == 1, s == 2, s == 3, ce_z[s][0], ce_z[s][1],
               ce_z[s][2], ce_z[s][3]);
        for (int k = 0; k < K; k++) {
            printf("%s%.4f", k ? ", " : "", wg_get(q, (size_t)(s * K + k)));
            max_diff_q = fmax(max_diff_q, fabs(wg_get(q, (size_t)(s * K + k)) - lecture_q[s][k]));
        }
        printf(")  (%.2f, %.2f, %.2f, %.2f)  %.4f  %.2f\n", lecture_q[s][0], lecture_q[s][1], lecture_q[s][2],
               lecture_q[s][3], wg_get(ce, (size_t)s), lecture_ce[s]);
        max_diff_ce = fmax(max_diff_ce, fabs(wg_get(ce, (size_t)s) - lecture_ce[s]));
    }
    printf("cross-entropy table: largest |q - lecture| = %.4f, largest |loss - lecture| = %.4f "
           "(the lecture rounds to 2 places)\n", max_diff_q, max_diff_ce);
    printf("losses: %.4f %.4f %.4f %.4f\n", wg_get(ce, 0), wg_get(ce, 1), wg_get(ce, 2), wg_get(ce, 3));

    if (o.plots) {
        FILE *gp = plot_open(o.out, "softmax.png", 1100, 450);
        if (gp) {
            plot_block_begin(gp, "fruit");
            for (int k = 0; k < K; k++) fprintf(gp, "%s %g %g\n", fruit[k], wg_get(p, k), lecture_p[k]);
            plot_block_end(gp);
            plot_block_begin(gp, "ce");
            for (int s = 0; s < K; s++)
                for (int k = 0; k < K; k++)
                    fprintf(gp, "%d %d %g %d\n", s, k, wg_get(q, (size_t)(s * K + k)), k == ce_label[s]);
            plot_block_end(gp);
            fprintf(gp, "set multiplot layout 1,2\n");
            fprintf(gp, "set style data histogram; set style histogram clustered gap 1; set style fill solid 0.8 border -1\n");
            fprintf(gp, "set title 'lecture 000: softmax of the fruit logits'; set ylabel 'probability y''_k'\n");
            fprintf(gp, "set yrange [0:1]; set grid ytics; set key top left\n");
            fprintf(gp, "plot $fruit using 2:xtic(1) title 'wengert' lc rgb '#2171b5', '' using 3 title 'lecture' lc rgb '#fd8d3c'\n");
            fprintf(gp, "set style data boxes; set boxwidth 0.2; set title 'lecture 003: softmax of four samples (true class dark)'\n");
            fprintf(gp, "set xrange [-0.5:3.8]; set xtics ('sample 1' 0.3, 'sample 2' 1.3, 'sample 3' 2.3, 'sample 4' 3.3)\n");
            fprintf(gp, "plot $ce using ($1 + 0.2*$2):3:($4 > 0 ? 0x08306b : 0x9ecae1) with boxes lc rgb variable notitle, "
                        "$ce using ($1 + 0.2*$2):($3 + 0.04):(sprintf('%%.2f', $3)) with labels font ',8' notitle\n");
            fprintf(gp, "unset multiplot\n");
            plot_close(gp);
        }
        demo_report_pictures(o.out, (const char *[]){"softmax.png"}, 1);
    }
    wg_tape_free(t);
    return 0;
}
