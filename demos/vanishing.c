/* vanishing: the vanishing gradient (lectures 001, 002, 004).
 *
 * One deep MLP, built twice with the same weights: once with sigmoid hidden
 * units, once with ReLU.  One backward pass of an MSE loss on a random batch,
 * then the norm of the gradient of each layer's weight matrix.  sigmoid' is
 * at most 1/4, so each layer further from the output multiplies the
 * gradient by a small factor and the first layers barely learn; ReLU's
 * derivative is 0 or 1, and the gradient keeps its size much better.
 * Picture: gradient norm per layer, log scale, both networks.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "plot.h"
#include "wengert.h"

#define MAX_L 16

/* Gradient norm of each layer's W after one backward pass; 0 on success. */
static int layer_grad_norms(wg_mlp *m, const float *x, const float *y, int64_t batch, double *norms)
{
    wg_tape *t = wg_tape_new();
    wg_mlp_zero_grad(m);
    wg_tensor *xt = wg_tensor_new(t, WG_F32, 2, (int64_t[]){batch, m->sizes[0]}, x, false);
    wg_tensor *yt = wg_tensor_new(t, WG_F32, 2, (int64_t[]){batch, m->sizes[m->n_layers]}, y, false);
    wg_tensor *l = wg_nn_mse(t, wg_mlp_forward(t, m, xt), yt, WG_REDUCE_MEAN);
    if (!l || wg_backward(t, l) != 0) {
        fprintf(stderr, "vanishing: %s\n", wg_tape_error(t));
        wg_tape_free(t);
        return -1;
    }
    for (int k = 0; k < m->n_layers; k++) norms[k] = wg_grad_norm(1, &m->layers[k]->W);
    wg_tape_free(t);
    return 0;
}

int main(int argc, char **argv)
{
    demo_opts o;
    demo_parse(argc, argv, "vanishing",
               "vanishing: gradient norm per layer of a deep sigmoid MLP against the same MLP with ReLU", &o);
    const int L = 12;          /* weight layers: 11 hidden layers and the output layer */
    const int64_t width = 64, batch = 256, n_in = 32;
    int64_t sizes[MAX_L + 1];
    sizes[0] = n_in;
    for (int k = 1; k < L; k++) sizes[k] = width;
    sizes[L] = 1;

    wg_mlp *sig = wg_mlp_new(WG_F32, L + 1, sizes, WG_ACT_SIGMOID, WG_ACT_IDENTITY, NAN);
    wg_mlp *relu = wg_mlp_new(WG_F32, L + 1, sizes, WG_ACT_RELU, WG_ACT_IDENTITY, NAN);
    if (!sig || !relu) return 1;
    /* the same weights in both: Xavier (sigma^2 = 1/D_in), biases 0 */
    wg_rng rng;
    wg_rng_seed(&rng, (uint64_t)o.seed);
    wg_mlp_init(sig, WG_INIT_XAVIER, 0, 0, &rng);
    for (size_t i = 0; i < sig->n_params; i++)
        memcpy(relu->params[i]->data, sig->params[i]->data, sig->params[i]->numel * sizeof(float));

    static float x[256 * 32], y[256];
    for (int64_t i = 0; i < batch * n_in; i++) x[i] = (float)wg_rng_normal(&rng);
    for (int64_t i = 0; i < batch; i++) y[i] = (float)wg_rng_normal(&rng);
    double ns[MAX_L], nr[MAX_L];
    if (layer_grad_norms(sig, x, y, batch, ns) != 0 || layer_grad_norms(relu, x, y, batch, nr) != 0) return 1;

    printf("An MLP %lld-%lldx%d-1, the same Xavier weights, sigmoid or ReLU hidden units; one backward pass of an\n"
           "MSE loss on %lld random samples.  ||dE/dW_l|| for each layer l (layer %d is the output layer):\n\n",
           (long long)n_in, (long long)width, L - 1, (long long)batch, L);
    printf("   layer    sigmoid       ReLU\n");
    for (int k = 0; k < L; k++) printf("   %3d     %.3e   %.3e\n", k + 1, ns[k], nr[k]);
    printf("\nfirst layer / last layer gradient norm: sigmoid %.3e, relu %.3e\n", ns[0] / ns[L - 1], nr[0] / nr[L - 1]);
    printf("With sigmoid the first layer's gradient is %.0f times smaller than the output layer's: the deep layers\n"
           "hardly learn.  sigmoid' <= 1/4 shrinks the gradient at every layer; ReLU' is 1 on active units.\n",
           ns[L - 1] / ns[0]);

    if (o.plots) {
        FILE *gp = plot_open(o.out, "vanishing.png", 900, 550);
        if (gp) {
            plot_block_begin(gp, "g");
            for (int k = 0; k < L; k++) fprintf(gp, "%d %g %g\n", k + 1, ns[k], nr[k]);
            plot_block_end(gp);
            fprintf(gp, "set title 'gradient norm per layer, same weights (Xavier), %d layers'\n", L);
            fprintf(gp, "set logscale y; set format y '%%.0e'; set grid; set xtics 1\n");
            fprintf(gp, "set xlabel 'layer (1 = next to the input, %d = output)'; set ylabel '||dE/dW_l||'\n", L);
            fprintf(gp, "set key bottom right\n");
            fprintf(gp, "plot $g using 1:2 with linespoints lw 2 pt 7 title 'sigmoid', "
                        "$g using 1:3 with linespoints lw 2 pt 5 title 'ReLU'\n");
            plot_close(gp);
        }
        demo_report_pictures(o.out, (const char *[]){"vanishing.png"}, 1);
    }
    wg_mlp_free(sig);
    wg_mlp_free(relu);
    return 0;
}
