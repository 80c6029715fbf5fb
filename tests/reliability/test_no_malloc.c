/* test_no_malloc: after its first step, a training loop does no malloc (the
 * tape's promise, DESIGN.md): 100 steps of the 784-128-10 MLP at batch 128
 * (forward, softmax cross-entropy over labels, backward, Adam, zero-grad,
 * reset) on one thread, with every allocation the library makes counted:
 * meson links this test with -Wl,--wrap for malloc, calloc, realloc,
 * aligned_alloc and posix_memalign, which catches the library's calls (it
 * is linked statically) in the normal and the sanitizer builds alike, and
 * not those inside shared libraries: BLIS's OpenMP back end has libgomp
 * allocate a 1568-byte team for each of BLIS's calls (two a step here),
 * which this test does not see.  The 10-class layer's products took the
 * narrow kernel in ops/blas.c, whose 8 KB packing buffer was a malloc per
 * call: 200 over these 100 steps before it moved to the stack. */
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "wengert.h"
#include "wrap_alloc.h"
#include "wg_test.h"


static atomic_long n_alloc;
static atomic_int counting;

static void count(void)
{
    if (atomic_load_explicit(&counting, memory_order_relaxed)) atomic_fetch_add(&n_alloc, 1);
}
void *__wrap_malloc(size_t n) { return count(), __real_malloc(n); }
void *__wrap_calloc(size_t k, size_t n) { return count(), __real_calloc(k, n); }
void *__wrap_realloc(void *p, size_t n) { return count(), __real_realloc(p, n); }
void *__wrap_aligned_alloc(size_t a, size_t n) { return count(), __real_aligned_alloc(a, n); }
int __wrap_posix_memalign(void **out, size_t a, size_t n) { return count(), __real_posix_memalign(out, a, n); }

enum { D = 784, H = 128, C = 10, B = 128, STEPS = 100 };

int main(void)
{
    wg_set_num_threads(1);
    const int64_t sizes[3] = {D, H, C};
    wg_mlp *m = wg_mlp_new(WG_F32, 3, sizes, WG_ACT_RELU, WG_ACT_IDENTITY, WG_ACT_DEFAULT_ALPHA);
    wg_rng r;
    wg_rng_seed(&r, 5);
    CHECK(m && wg_mlp_init(m, WG_INIT_HE, 0, 0, &r) == 0, "mlp: %s", wg_last_error());
    size_t np;
    wg_param *const *ps = wg_mlp_params(m, &np);
    wg_optim_config oc = wg_optim_defaults(WG_OPT_ADAM);
    wg_optim *o = wg_optim_new(&oc, np, ps);
    wg_tape *t = wg_tape_new();
    float *x = malloc(sizeof(float) * B * D);
    int *y = malloc(sizeof(int) * B);
    CHECK(o && t && x && y, "setup: %s", wg_last_error());
    if (wg_test_failures) return 1;
    for (int i = 0; i < B * D; i++) x[i] = (float)wg_rng_uniform(&r);
    for (int i = 0; i < B; i++) y[i] = i % C;
    double first = 0, last = 0;
    long before = 0;
    for (int step = 0; step <= STEPS; step++) {
        if (step == 1) { /* the first step may allocate: the arena, BLIS's pools */
            before = atomic_load(&n_alloc);
            atomic_store(&counting, 1);
        }
        wg_tape_reset(t);
        wg_tensor *xs = wg_tensor_view(t, WG_F32, 2, (int64_t[]){B, D}, x);
        wg_tensor *loss = wg_nn_softmax_cross_entropy_idx(t, wg_mlp_forward(t, m, xs), y, WG_REDUCE_MEAN);
        if (!loss || wg_backward(t, loss) != 0 || wg_optim_step(o) != 0) {
            atomic_store(&counting, 0);
            CHECK(0, "step %d: %s %s", step, wg_tape_error(t) ? wg_tape_error(t) : "", wg_last_error());
            break;
        }
        wg_optim_zero_grad(o);
        if (step == 0) first = wg_item(loss);
        last = wg_item(loss);
    }
    atomic_store(&counting, 0);
    long n = atomic_load(&n_alloc) - before;
    CHECK(n == 0, "%ld allocations in training steps 2 to %d (want 0)", n, STEPS + 1);
    CHECK(last < first, "the loss went down: %g -> %g", first, last);
    free(x);
    free(y);
    wg_tape_free(t);
    wg_optim_free(o);
    wg_mlp_free(m);
    return wg_test_done("test_no_malloc");
}
