/* test_demo: runs one demo in its reduced mode and checks the numbers it
 * prints, and that the pictures it names are PNG files.
 *
 *     test_demo NAME EXECUTABLE OUT_DIR [--data DIR]   (the data folder for mnist)
 *
 * Each demo prints its results in words; the checks below read the numbers
 * back from those lines and test them against the lectures' values or
 * against bounds, so a demo that computes the wrong thing fails here. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "wg_test.h"

static char out[1 << 20];
static const char *exe, *out_dir;
static char data_dir[1024];

/* Runs the demo with `args` (already quoted for the shell); its stdout lands
 * in out.  Returns its exit status, -1 if it could not run or died. */
static int run(const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' %s", exe, args);
    out[0] = '\0';
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL, "cannot run %s", cmd);
    if (!p) return -1;
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    printf("$ %s\n%s", cmd, out);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The line starting with `prefix` (searched from the start), or NULL. */
static const char *line(const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, prefix, n) == 0) return p;
    CHECK(0, "no line starts with \"%s\"", prefix);
    return NULL;
}

/* sscanf on the line starting with prefix; the count of fields converted. */
#define SCAN(prefix, fmt, ...) (line(prefix) ? sscanf(line(prefix), fmt, __VA_ARGS__) : -1)

static void check_pngs(void)
{
    const char *p = strstr(out, "pictures:");
    CHECK(p != NULL, "the demo names no pictures");
    if (!p) return;
    p += strlen("pictures:");
    int n = 0;
    while (*p && *p != '\n') {
        while (*p == ' ' || *p == ',') p++;
        char path[1024];
        size_t k = strcspn(p, ",\n");
        if (k == 0 || k >= sizeof path) break;
        memcpy(path, p, k);
        path[k] = '\0';
        p += k;
        FILE *f = fopen(path, "rb");
        unsigned char sig[8] = {0};
        size_t got = f ? fread(sig, 1, 8, f) : 0;
        if (f) fclose(f);
        CHECK(got == 8 && memcmp(sig, "\x89PNG\r\n\x1a\n", 8) == 0, "%s is not a PNG file", path);
        n++;
    }
    CHECK(n > 0, "no picture files listed");
}

static void check_softmax(void)
{
    /* lecture 000's y' to the four places it prints, from the library */
    const double want_p[4] = {0.0006, 0.0596, 0.0083, 0.9315}, want_z[4] = {-3.44, 1.16, -0.81, 3.91};
    const char *names[4] = {"  apple", "  banana", "  pear", "  cherry"};
    for (int k = 0; k < 4; k++) {
        char label[16];
        double z, ez, lez, p, lp;
        CHECK(SCAN(names[k], "%15s %lf %lf %lf %lf %lf", label, &z, &ez, &lez, &p, &lp) == 6, "row %s", names[k]);
        CHECK_NEAR(p, want_p[k], 0.00005 + 1e-9);
        CHECK_NEAR(z, want_z[k], 1e-9);
    }
    double loss;
    CHECK(SCAN("The truth is banana", "The truth is banana, y = [0, 1, 0, 0]: loss = -ln(y'_banana) = %lf", &loss) == 1,
          "banana loss");
    CHECK_NEAR(loss, 2.8209, 0.00005 + 1e-9); /* -ln(0.0596...), the natural-log value of lecture 000's 1.22 */
    /* lecture 003's four losses, to the two places it prints (its 1.38 is ln 4 = 1.3863 truncated) */
    double l[4];
    CHECK(SCAN("losses:", "losses: %lf %lf %lf %lf", &l[0], &l[1], &l[2], &l[3]) == 4, "losses");
    const double want_l[4] = {0.16, 0.78, 1.38, 4.87};
    for (int i = 0; i < 4; i++) CHECK_NEAR(l[i], want_l[i], 0.0065);
    CHECK_NEAR(l[2], log(4.0), 1e-4);
}

static void check_perceptron(void)
{
    int n, epochs, updates, wrong, total;
    CHECK(SCAN("separable data:", "separable data: %d points, converged after %d epochs (%d weight updates); "
                                  "misclassified now: %d of %d", &n, &epochs, &updates, &wrong, &total) == 5,
          "the perceptron did not converge on separable data");
    CHECK(wrong == 0 && total == n && epochs >= 1 && updates >= 1, "separable: %d of %d wrong after %d epochs", wrong,
          total, epochs);
    int xe, xu, xw, fewest, clean;
    CHECK(SCAN("XOR:", "XOR: not converged after %d epochs (%d weight updates); misclassified at the end: %d of 4; "
                       "fewest after any epoch: %d; epochs without mistakes: %d", &xe, &xu, &xw, &fewest, &clean) == 5,
          "XOR line (the perceptron must not converge on XOR)");
    CHECK(xw >= 1 && fewest >= 1 && clean == 0, "XOR: %d wrong, fewest %d, %d clean epochs", xw, fewest, clean);
}

static void check_xor(void)
{
    double o[4];
    CHECK(SCAN("XOR solved:", "XOR solved: yes; outputs %lf %lf %lf %lf", &o[0], &o[1], &o[2], &o[3]) == 4,
          "XOR not solved");
    CHECK(o[0] < 0.2 && o[1] > 0.8 && o[2] > 0.8 && o[3] < 0.2, "outputs %g %g %g %g", o[0], o[1], o[2], o[3]);
    /* rewritten the right way up, the hidden units are lecture 001's two
     * detectors, "at least one 1" weighted up and "both 1" weighted down, and
     * the rewriting changed no output */
    double change = -1;
    CHECK(SCAN("(largest change", "(largest change of an output: %lf", &change) == 1 && change < 1e-9,
          "rewriting changed the outputs by %g", change);
    const char *h[2] = {line("hidden unit 1:"), line("hidden unit 2:")};
    int n_or = 0, n_and = 0;
    for (int u = 0; u < 2; u++) {
        const char *w = h[u] ? strstr(h[u], "weight ") : NULL;
        double wt = w ? atof(w + 7) : 0;
        if (h[u] && strstr(h[u], "'at least one 1' detector (OR)") && wt > 1) n_or++;
        if (h[u] && strstr(h[u], "'both 1' detector (AND)") && wt < -1) n_and++;
    }
    CHECK(n_or == 1 && n_and == 1, "want one OR unit weighted up and one AND unit weighted down: %d %d", n_or, n_and);
}

static void check_regression(void)
{
    double train, noise, truth;
    CHECK(SCAN("training RMSE:", "training RMSE: %lf (the noise alone gives about %lf)", &train, &noise) == 2, "train");
    CHECK(SCAN("RMSE of the fit", "RMSE of the fit against the true f0: %lf", &truth) == 1, "truth");
    /* the fit follows the function, not the noise: it is much closer to the
     * truth than the samples are, and it does not fit the noise away */
    CHECK(truth < 0.6 * noise, "RMSE to the truth %g, noise %g", truth, noise);
    CHECK(train > 0.6 * noise && train < 1.3 * noise, "training RMSE %g, noise %g", train, noise);
}

static void check_vanishing(void)
{
    double rs, rr;
    CHECK(SCAN("first layer / last layer", "first layer / last layer gradient norm: sigmoid %lf, relu %lf", &rs, &rr) == 2,
          "ratio line");
    /* sigmoid: the gradient shrinks by orders of magnitude towards the input;
     * ReLU with the same weights keeps it within a small factor */
    CHECK(rs < 1e-4, "sigmoid first/last %g", rs);
    CHECK(rr > 0.1 && rr < 10, "relu first/last %g", rr);
    /* and it shrinks at every layer, not just overall */
    const char *p = line("   layer    sigmoid");
    double prev = -1;
    int rows = 0, monotone = 1;
    for (p = p ? strchr(p, '\n') : NULL; p && p[1] == ' '; p = strchr(p + 1, '\n')) {
        int l;
        double gs, gr;
        if (sscanf(p + 1, "%d %lf %lf", &l, &gs, &gr) != 3) break;
        if (prev >= 0 && !(gs > prev)) monotone = 0;
        prev = gs;
        rows++;
    }
    CHECK(rows >= 8 && monotone, "%d rows; sigmoid gradient norms grow towards the output: %d", rows, monotone);
}

/* "NAME: last-layer std X (first layer Y)[, saturated (|a| > 0.99) Z%]" */
static void init_case(const char *name, double *last, double *first, double *sat)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s: last-layer std", name);
    const char *l = line(prefix);
    *sat = -1;
    CHECK(l && sscanf(l + strlen(prefix), " %lf (first layer %lf), saturated (|a| > 0.99) %lf%%", last, first, sat) >= 2,
          "line for %s", name);
}

static void check_init(void)
{
    double last, first, sat;
    init_case("tanh, sigma = 0.01", &last, &first, &sat);
    CHECK(last < 1e-4 * first, "small weights: activations must die out, std %g -> %g", first, last);
    init_case("tanh, sigma = 0.2", &last, &first, &sat);
    CHECK(sat > 30 && last > 0.7, "large weights: tanh must saturate, %g%% saturated, std %g", sat, last);
    init_case("tanh, Xavier", &last, &first, &sat);
    CHECK(last > 0.1 && last < 0.8 && sat >= 0 && sat < 5, "Xavier tanh: std %g, %g%% saturated", last, sat);
    init_case("ReLU, Xavier", &last, &first, &sat);
    CHECK(last < 0.1 * first, "Xavier ReLU: activations must collapse, std %g -> %g", first, last);
    init_case("ReLU, He", &last, &first, &sat);
    CHECK(last > 0.5 * first && last < 2 * first, "He ReLU: std must hold, %g -> %g", first, last);
}

static void check_optimizers(void)
{
    int gd = -1, mom = -1, nes = -1, adam = -1;
    CHECK(SCAN("steps to E < 1e-6:", "steps to E < 1e-6: gd %d, momentum %d, nesterov %d, adam %d", &gd, &mom, &nes,
               &adam) == 4, "steps line");
    CHECK(gd > 0 && mom > 0 && nes > 0 && adam > 0, "every method must reach the tolerance: %d %d %d %d", gd, mom, nes, adam);
    /* on the ill-conditioned valley both momentum methods need far fewer steps */
    CHECK(mom < gd / 2 && nes < gd / 2, "gd %d, momentum %d, nesterov %d", gd, mom, nes);
}

static void check_uncertainty(void)
{
    double rmse, rel, nll1, nll2, lo, hi;
    CHECK(SCAN("location RMSE", "location RMSE %lf, mean relative scale error %lf", &rmse, &rel) == 2, "part 1");
    CHECK(rmse < 0.1 && rel < 0.25, "location RMSE %g, relative scale error %g", rmse, rel);
    CHECK(SCAN("mean NLL:", "mean NLL: single Laplace %lf, mixture of 2 Laplace components %lf", &nll1, &nll2) == 2, "nll");
    CHECK(nll2 < nll1 - 0.5, "the mixture (NLL %g) must beat a single Laplace (%g) clearly", nll2, nll1);
    CHECK(SCAN("mixture components at x = 0.5:", "mixture components at x = 0.5: %lf %lf", &lo, &hi) == 2, "components");
    CHECK(fabs(lo + 0.8) < 0.1 && fabs(hi - 0.8) < 0.1, "components at %g and %g, branches at -0.8 and 0.8", lo, hi);
}

static void check_early_stopping(void)
{
    double best = -1, end = -1, restored = -2;
    int best_epoch = -1, stop = -1, last = -1;
    CHECK(SCAN("best validation MSE", "best validation MSE %lf at epoch %d; early stopping stops at epoch %d; "
                                      "at epoch %d it would be %lf", &best, &best_epoch, &stop, &last, &end) == 5,
          "summary line");
    CHECK(SCAN("restored parameters:", "restored parameters: validation MSE %lf", &restored) == 1, "restored line");
    /* the restored model is the best one, exactly; stopping comes `patience`
     * (200) epochs after the best; training on would have overfitted */
    CHECK(fabs(restored - best) <= 1e-12 * best, "restored %.17g, best %.17g", restored, best);
    CHECK(best_epoch > 1 && stop == best_epoch + 200 && stop < last, "best %d, stop %d, last %d", best_epoch, stop, last);
    CHECK(end > 2 * best, "validation MSE %g at the end, %g at the best epoch: no overfitting shown", end, best);
}

static void check_curvature(void)
{
    /* lecture 000: a ReLU network's second derivative is 0 almost everywhere.
     * At every sampled input the ReLU MLP's Hessian is exactly 0 while its
     * gradient is not; tanh and sigmoid (the same weights) bend everywhere */
    const char *names[3] = {"ReLU:", "tanh:", "sigmoid:"};
    for (int a = 0; a < 3; a++) {
        int zero = -1, total = -1;
        double hmax = -1, gmin = -1;
        char fmt[160];
        snprintf(fmt, sizeof fmt, "%s Hessian exactly 0 at %%d of %%d inputs; largest |entry| %%lf; smallest gradient norm %%lf",
                 names[a]);
        CHECK(SCAN(names[a], fmt, &zero, &total, &hmax, &gmin) == 4, "line %s", names[a]);
        CHECK(total >= 50 && gmin > 1e-4, "%s: %d inputs, smallest gradient norm %g", names[a], total, gmin);
        if (a == 0)
            CHECK(zero == total && hmax == 0, "ReLU: Hessian 0 at %d of %d inputs, largest entry %g", zero, total, hmax);
        else
            CHECK(zero == 0 && hmax > 1e-3, "%s: Hessian 0 at %d of %d inputs, largest entry %g", names[a], zero, total,
                  hmax);
    }
    double err = -1, rel = -1;
    CHECK(SCAN("tanh Hessian against", "tanh Hessian against central differences of the gradient (h = 1e-5, 20 inputs): "
                                       "largest error %lf (relative to its largest entry %lf)", &err, &rel) == 2,
          "finite-difference line");
    CHECK(rel >= 0 && rel < 1e-6, "the tanh Hessian is %g off its central differences", rel);
    /* Newton against gradient descent on the ill-conditioned logistic
     * regression: both reach |grad| < 1e-8; Newton in a handful of steps,
     * gradient descent in hundreds of times as many */
    double cond = -1;
    CHECK(SCAN("Hessian at the minimum:", "Hessian at the minimum: eigenvalues %*f %*f %*f, condition number %lf",
               &cond) == 1 && cond > 100, "condition number %g", cond);
    int nt = -1, gd = -1;
    CHECK(SCAN("iterations to |grad| < 1e-08:", "iterations to |grad| < 1e-08: Newton %d, gradient descent %d", &nt,
               &gd) == 2, "iterations line (gradient descent must converge too)");
    CHECK(nt >= 1 && nt <= 8 && gd > 100 * nt, "Newton %d iterations, gradient descent %d", nt, gd);
    double lnt = -1, lgd = -1;
    CHECK(SCAN("loss above the minimum after", "loss above the minimum after %*d iterations: Newton %lf, gradient descent %lf",
               &lnt, &lgd) == 2, "loss line");
    CHECK(lnt < 1e-12 && lgd > 1e-3, "after Newton's iterations: Newton %g above the minimum, gradient descent %g", lnt,
          lgd);
}

/* MNIST-shaped synthetic data: ten random binary prototypes, each sample a
 * prototype with 15% of its pixels flipped.  Used when data/mnist is absent,
 * so that the MNIST test always runs. */
static void write_idx(const char *path, const unsigned char *hdr, size_t hl, const unsigned char *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "cannot write %s", path);
    if (!f) return;
    CHECK(fwrite(hdr, 1, hl, f) == hl && fwrite(d, 1, n, f) == n, "short write to %s", path);
    fclose(f);
}

static void write_synthetic(const char *dir)
{
    unsigned long long s = 12345;
#define RND() (s = s * 6364136223846793005ULL + 1442695040888963407ULL, (unsigned)(s >> 33))
    static unsigned char proto[10][784];
    for (int c = 0; c < 10; c++)
        for (int j = 0; j < 784; j++) proto[c][j] = RND() % 100 < 25 ? 255 : 0;
    const char *split[2] = {"train", "t10k"};
    const unsigned n[2] = {6000, 2000};
    for (int k = 0; k < 2; k++) {
        unsigned char *img = malloc((size_t)n[k] * 784), *lab = malloc(n[k]);
        CHECK(img && lab, "out of memory");
        if (!img || !lab) return;
        for (unsigned i = 0; i < n[k]; i++) {
            lab[i] = (unsigned char)(RND() % 10);
            for (int j = 0; j < 784; j++)
                img[(size_t)i * 784 + j] = RND() % 100 < 15 ? (unsigned char)(255 - proto[lab[i]][j]) : proto[lab[i]][j];
        }
        unsigned char hi[16] = {0, 0, 8, 3, 0, 0, (unsigned char)(n[k] >> 8), (unsigned char)n[k], 0, 0, 0, 28, 0, 0, 0, 28};
        unsigned char hl[8] = {0, 0, 8, 1, 0, 0, (unsigned char)(n[k] >> 8), (unsigned char)n[k]};
        char path[1200];
        snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte", dir, split[k]);
        write_idx(path, hi, 16, img, (size_t)n[k] * 784);
        snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte", dir, split[k]);
        write_idx(path, hl, 8, lab, n[k]);
        free(img);
        free(lab);
    }
#undef RND
}

/* Whether two files hold the same bytes (and both exist). */
static int same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int ca = getc(fa), cb = getc(fb);
        if (ca != cb) same = 0;
        if (ca == EOF || cb == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

/* A small run on a subset, saved; the saved model evaluated alone must give
 * the same accuracy; missing data must name the fetch command. */
static void check_mnist(void)
{
    double acc = -1, loss = -1;
    char train_lines[2][600]; /* the last epoch's line of the first run and of --step-in-backward */
    const char *e1 = strstr(out, "\nepoch  2/2");
    snprintf(train_lines[0], sizeof train_lines[0], "%.*s", e1 ? (int)strcspn(e1 + 1, "\n") : 0, e1 ? e1 + 1 : "");
    CHECK(SCAN("test accuracy:", "test accuracy: %lf%%", &acc) == 1, "no accuracy line");
    /* 2 epochs on 6000 images: about 89% on the real test images, 99% on the synthetic ones */
    CHECK(acc >= 85.0, "test accuracy %.2f%% on the subset, want at least 85%%", acc);
    CHECK(SCAN("test loss:", "test loss: %lf", &loss) == 1 && loss < 0.5, "test loss %g", loss);
    const char *end = out + strlen(out);
    while (end > out && end[-1] == '\n') end--;
    const char *start = end;
    while (start > out && start[-1] != '\n') start--;
    /* "test accuracy: " then 1 to 3 digits, a point, 2 digits and '%' */
    const char *q = start + 15;
    int digits = 0;
    while (q < end && *q >= '0' && *q <= '9') q++, digits++;
    int ok = strncmp(start, "test accuracy: ", 15) == 0 && digits >= 1 && digits <= 3 && end - q == 4 && q[0] == '.' &&
             q[1] >= '0' && q[1] <= '9' && q[2] >= '0' && q[2] <= '9' && q[3] == '%';
    CHECK(ok, "the last line is not exactly 'test accuracy: NN.NN%%': '%.*s'", (int)(end - start), start);
    int epochs = 0;
    for (const char *p = out; (p = strstr(p, "\nepoch ")); p++) epochs++;
    CHECK(epochs == 2, "%d epoch lines, want 2", epochs);
    check_pngs();

    char args[3000];
    snprintf(args, sizeof args, "--quick --data '%s' --no-plots --load '%s/model.safetensors' --epochs 0", data_dir,
             out_dir);
    CHECK(run(args) == 0, "mnist --load --epochs 0 failed");
    double acc2 = -1;
    CHECK(SCAN("test accuracy:", "test accuracy: %lf%%", &acc2) == 1 && acc2 == acc,
          "the saved model gives %.2f%%, the trained one gave %.2f%%", acc2, acc);

    /* The optimiser stepping in backward trains the same model, bit for bit:
     * the same printed numbers and a byte-identical checkpoint. */
    snprintf(args, sizeof args, "--quick --data '%s' --no-plots --step-in-backward --save '%s/model_inbw.safetensors'",
             data_dir, out_dir);
    CHECK(run(args) == 0, "mnist --step-in-backward failed");
    const char *e2 = strstr(out, "\nepoch  2/2");
    snprintf(train_lines[1], sizeof train_lines[1], "%.*s", e2 ? (int)strcspn(e2 + 1, "\n") : 0, e2 ? e2 + 1 : "");
    /* the line ends in its seconds: compare up to the test accuracy's '%' */
    const char *cut = strstr(train_lines[0], "test loss");
    cut = cut ? strchr(cut, '%') : NULL;
    size_t upto = cut ? (size_t)(cut - train_lines[0]) + 1 : 0;
    CHECK(upto && strncmp(train_lines[0], train_lines[1], upto) == 0, "--step-in-backward: '%s', ordinary: '%s'",
          train_lines[1], train_lines[0]);
    char path[2][1200];
    snprintf(path[0], sizeof path[0], "%s/model.safetensors", out_dir);
    snprintf(path[1], sizeof path[1], "%s/model_inbw.safetensors", out_dir);
    CHECK(same_file(path[0], path[1]), "%s and %s differ: stepping in backward changed the trained weights", path[0],
          path[1]);

    /* A failed --load is an error naming the file.  (That it also frees the
     * model and the data cannot be seen from here: LeakSanitizer counts what
     * main's frame still points to at exit as reachable.) */
    snprintf(args, sizeof args, "--quick --data '%s' --no-plots --load '%s/no-such.safetensors' --epochs 0 2>&1",
             data_dir, out_dir);
    CHECK(run(args) == 1, "a failed --load must exit 1");
    CHECK(strstr(out, "no-such.safetensors") != NULL, "the failed --load does not name the file: %s", out);

    CHECK(run("--data no-such-folder 2>&1") == 1, "missing data must fail");
    CHECK(strstr(out, "scripts/fetch-mnist") != NULL, "the message does not name scripts/fetch-mnist");
}

typedef struct {
    const char *name;
    void (*check)(void);
} demo_check;

static const demo_check checks[] = {
    {"softmax", check_softmax},
    {"perceptron", check_perceptron},
    {"xor", check_xor},
    {"regression", check_regression},
    {"mnist", check_mnist},
    {"vanishing", check_vanishing},
    {"init", check_init},
    {"optimizers", check_optimizers},
    {"uncertainty", check_uncertainty},
    {"early_stopping", check_early_stopping},
    {"curvature", check_curvature},
};


int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: test_demo NAME EXECUTABLE OUT_DIR [--data DIR]\n");
        return 2;
    }
    exe = argv[2];
    out_dir = argv[3];
    char args[4096];
    snprintf(args, sizeof args, "mkdir -p '%s'", out_dir);
    CHECK(system(args) == 0, "cannot create %s", out_dir);
    if (strcmp(argv[1], "mnist") == 0) {
        const char *given = argc > 5 ? argv[5] : "data/mnist";
        snprintf(data_dir, sizeof data_dir, "%s", given);
        char probe[1100];
        snprintf(probe, sizeof probe, "%s/train-images-idx3-ubyte", data_dir);
        FILE *f = fopen(probe, "rb");
        if (f) {
            fclose(f);
        } else {
            snprintf(data_dir, sizeof data_dir, "%s", out_dir);
            write_synthetic(data_dir);
            printf("(no MNIST in %s: using synthetic data of the same format)\n", given);
        }
        snprintf(args, sizeof args, "--quick --out '%s' --data '%s' --save '%s/model.safetensors'", out_dir, data_dir,
                 out_dir);
    } else {
        snprintf(args, sizeof args, "--quick --out '%s'", out_dir);
    }
    int st = run(args);
    CHECK(st == 0, "%s exited with status %d", argv[1], st);
    int found = 0;
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
        if (strcmp(checks[i].name, argv[1]) == 0) {
            checks[i].check();
            found = 1;
        }
    CHECK(found, "no checks for demo '%s'", argv[1]);
    if (strcmp(argv[1], "mnist") != 0) check_pngs();
    return wg_test_done(argv[1]);
}
