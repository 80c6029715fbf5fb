/* soak: 1,000,000 record / backward / reset cycles on one tape, with the
 * resident set size measured at the start, after a warm-up and at the end.
 * It must stay flat: the arena is reused, nothing else allocates.
 *
 * Not part of the default suite: `meson test -C BUILD --benchmark --suite soak`
 * or run BUILD/tests/reliability/soak [CYCLES].
 *
 * Each cycle records a small training step: scalars, a matmul with a
 * parameter, broadcasting, tanh, reductions, slice and concat, then backward.
 * Every 1000th cycle also provokes an error (a shape mismatch) before the
 * reset, so the error path is soaked too. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "wengert.h"

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static int cycle(wg_tape *t, wg_param *w, wg_param *b, const float *xdata, long i)
{
    int64_t xs[2] = {16, 32}, bad[1] = {5};
    wg_tensor *x = wg_tensor_new(t, WG_F32, 2, xs, xdata, false);
    wg_tensor *h = wg_tanh(t, wg_add(t, wg_matmul(t, x, wg_use(t, w)), wg_use(t, b)));
    wg_tensor *parts[2] = {wg_slice(t, h, 1, 0, 8), wg_slice(t, h, 1, 8, 32)};
    wg_tensor *c = wg_concat(t, 2, parts, 1);
    wg_tensor *s = wg_scalar(t, WG_F32, 0.5 + (double)(i % 7), true);
    wg_tensor *loss = wg_add(t, wg_mean(t, wg_mul(t, c, c)), wg_sum(t, wg_max_axis(t, h, 1, false)));
    loss = wg_add(t, loss, wg_mul(t, wg_pow(t, s, 2), 1e-3));
    if (!loss || wg_backward(t, loss) != 0) return -1;
    if (i % 1000 == 999) { /* an error, then the reset must clear it */
        if (wg_add(t, h, wg_tensor_new(t, WG_F32, 1, bad, NULL, false)) != NULL || !wg_tape_error(t)) return -1;
    }
    wg_param_zero_grad(w);
    wg_param_zero_grad(b);
    wg_tape_reset(t);
    return wg_tape_error(t) ? -1 : 0;
}

int main(int argc, char **argv)
{
    long cycles = argc > 1 ? atol(argv[1]) : 1000000, warm = 1000;
    if (cycles < 2 * warm) cycles = 2 * warm;
    int64_t ws[2] = {32, 32}, bs[1] = {32};
    wg_param *w = wg_param_new(WG_F32, 2, ws), *b = wg_param_new(WG_F32, 1, bs);
    static float xdata[16 * 32];
    wg_rng r;
    wg_rng_seed(&r, 3);
    for (int i = 0; i < 16 * 32; i++) xdata[i] = (float)wg_rng_normal(&r);
    for (int i = 0; i < 32 * 32; i++) ((float *)w->data)[i] = (float)(0.1 * wg_rng_normal(&r));
    wg_tape *t = wg_tape_new();
    long rss0 = rss_kb(), rss_warm = 0;
    size_t cap_warm = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < cycles; i++) {
        if (cycle(t, w, b, xdata, i) != 0) {
            fprintf(stderr, "soak: cycle %ld failed: %s\n", i, wg_tape_error(t));
            return 1;
        }
        if (i == warm - 1) {
            rss_warm = rss_kb();
            cap_warm = wg_tape_capacity(t);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long rss_end = rss_kb();
    size_t cap_end = wg_tape_capacity(t);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("soak: %ld cycles in %.1f s (%.2f us each)\n", cycles, secs, 1e6 * secs / (double)cycles);
    printf("soak: RSS %ld kB at the start, %ld kB after %ld cycles, %ld kB at the end (%+ld kB)\n", rss0, rss_warm,
           warm, rss_end, rss_end - rss_warm);
    printf("soak: tape capacity %zu bytes after %ld cycles, %zu at the end\n", cap_warm, warm, cap_end);
    wg_tape_free(t);
    wg_param_free(w);
    wg_param_free(b);
    /* Flat: the arena never grew after the warm-up and RSS grew by less than
     * one 64 KiB arena block (page-cache noise, lazily touched pages). */
    int flat = cap_end == cap_warm && rss_end - rss_warm < 64;
    printf("soak: %s\n", flat ? "flat" : "NOT FLAT");
    return flat ? 0 : 1;
}
