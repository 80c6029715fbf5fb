/* test_threads: the thread-safety contract of wg_tensor.h.  Two models, each
 * with its own tape, parameters and optimiser, train in two threads while a
 * third thread keeps changing the default thread count (1, 2, 3, ...).  Each
 * model's weights must equal, bit for bit, those of the same model trained
 * alone on one thread: the products and the steps give the same bits on any
 * thread count, so any difference is a step split inconsistently (rows
 * stepped twice or not at all) or a race.
 *
 * The model is large enough that its GEMMs are split into column blocks and
 * the optimiser works in row blocks (256 inputs, 512 hidden, batch 128: the
 * weight gradient is 16.7M multiply-adds, above ops/blas.c's split size).
 * With WG_TEST_SMALL set (the ThreadSanitizer pass, which builds without
 * OpenMP and runs each access through its checker) the sizes are 64-64-10 at
 * batch 32 and the steps fewer. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "wengert.h"
#include "wg_test.h"

typedef struct {
    int64_t d, h, c, b;
    int steps;
    uint64_t seed;
    wg_param *w1, *w2;
    float *x, *y;
    const char *err; /* NULL, or what went wrong (a training thread cannot CHECK) */
} model;

static int model_init(model *m, uint64_t seed, int small)
{
    memset(m, 0, sizeof *m);
    m->d = small ? 64 : 256;
    m->h = small ? 64 : 512;
    m->c = 10;
    m->b = small ? 32 : 128;
    m->steps = small ? 6 : 40;
    m->seed = seed;
    const int64_t s1[2] = {m->h, m->d}, s2[2] = {m->c, m->h};
    m->w1 = wg_param_new(WG_F32, 2, s1);
    m->w2 = wg_param_new(WG_F32, 2, s2);
    m->x = malloc(sizeof(float) * (size_t)(m->b * m->d));
    m->y = malloc(sizeof(float) * (size_t)(m->b * m->c));
    if (!m->w1 || !m->w2 || !m->x || !m->y) return 0;
    wg_rng r;
    wg_rng_seed(&r, seed);
    for (size_t i = 0; i < m->w1->numel; i++) ((float *)m->w1->data)[i] = (float)(0.06 * wg_rng_normal(&r));
    for (size_t i = 0; i < m->w2->numel; i++) ((float *)m->w2->data)[i] = (float)(0.06 * wg_rng_normal(&r));
    for (int64_t i = 0; i < m->b * m->d; i++) m->x[i] = (float)wg_rng_normal(&r);
    for (int64_t i = 0; i < m->b * m->c; i++) m->y[i] = (float)wg_rng_normal(&r);
    return 1;
}

static void model_free(model *m)
{
    wg_param_free(m->w1);
    wg_param_free(m->w2);
    free(m->x);
    free(m->y);
}

/* steps of Adam on mean((tanh(x W1^T) W2^T - y)^2) */
static void *train(void *arg)
{
    model *m = arg;
    wg_tape *t = wg_tape_new();
    wg_param *ps[2] = {m->w1, m->w2};
    wg_optim_config oc = wg_optim_defaults(WG_OPT_ADAM);
    oc.lr = 0.01;
    wg_optim *o = wg_optim_new(&oc, 2, ps);
    if (!t || !o) {
        m->err = "no tape or optimiser";
        goto out;
    }
    const int64_t sx[2] = {m->b, m->d}, sy[2] = {m->b, m->c};
    for (int s = 0; s < m->steps; s++) {
        wg_tape_reset(t);
        wg_tensor *x = wg_tensor_view(t, WG_F32, 2, sx, m->x), *y = wg_tensor_view(t, WG_F32, 2, sy, m->y);
        wg_tensor *h = wg_tanh(t, wg_matmul_ex(t, x, wg_use(t, m->w1), false, true));
        wg_tensor *d = wg_sub(t, wg_matmul_ex(t, h, wg_use(t, m->w2), false, true), y);
        wg_tensor *loss = wg_mean(t, wg_mul(t, d, d));
        if (!loss || wg_backward(t, loss) != 0) {
            m->err = "forward or backward failed";
            break;
        }
        if (wg_optim_step(o) != 0) {
            m->err = "optimiser step failed";
            break;
        }
        wg_optim_zero_grad(o);
    }
out:
    wg_optim_free(o);
    wg_tape_free(t);
    return NULL;
}

static atomic_int training;

static void *churn(void *arg)
{
    (void)arg;
    for (unsigned i = 0; atomic_load(&training); i++) {
        wg_set_num_threads(1 + (int)(i % 3));
        sched_yield();
    }
    return NULL;
}

int main(void)
{
    const char *e = getenv("WG_TEST_SMALL");
    const int small = e && e[0] && strcmp(e, "0") != 0;
    model alone[2], both[2];
    for (int k = 0; k < 2; k++) {
        CHECK(model_init(&alone[k], 100 + (uint64_t)k, small), "out of memory");
        CHECK(model_init(&both[k], 100 + (uint64_t)k, small), "out of memory");
    }
    if (wg_test_failures) return 1;
    /* each alone, on one thread */
    wg_set_num_threads(1);
    for (int k = 0; k < 2; k++) {
        train(&alone[k]);
        CHECK(alone[k].err == NULL, "model %d alone: %s", k, alone[k].err);
    }
    /* both at once while the default changes under them */
    atomic_store(&training, 1);
    pthread_t th[3];
    CHECK(pthread_create(&th[2], NULL, churn, NULL) == 0, "pthread_create");
    for (int k = 0; k < 2; k++) CHECK(pthread_create(&th[k], NULL, train, &both[k]) == 0, "pthread_create");
    for (int k = 0; k < 2; k++) pthread_join(th[k], NULL);
    atomic_store(&training, 0);
    pthread_join(th[2], NULL);
    for (int k = 0; k < 2; k++) {
        CHECK(both[k].err == NULL, "model %d in a thread: %s", k, both[k].err);
        size_t n1 = alone[k].w1->numel, n2 = alone[k].w2->numel, bad = 0;
        for (size_t i = 0; i < n1; i++)
            bad += memcmp((float *)alone[k].w1->data + i, (float *)both[k].w1->data + i, sizeof(float)) != 0;
        for (size_t i = 0; i < n2; i++)
            bad += memcmp((float *)alone[k].w2->data + i, (float *)both[k].w2->data + i, sizeof(float)) != 0;
        CHECK(bad == 0, "model %d: %zu of %zu weights differ from the model trained alone", k, bad, n1 + n2);
        /* and training moved the weights */
        model fresh;
        CHECK(model_init(&fresh, 100 + (uint64_t)k, small) &&
                  memcmp(fresh.w1->data, both[k].w1->data, sizeof(float) * n1) != 0,
              "model %d: training left W1 as it was", k);
        model_free(&fresh);
    }
    for (int k = 0; k < 2; k++) {
        model_free(&alone[k]);
        model_free(&both[k]);
    }
    wg_set_num_threads(1);
    return wg_test_done("test_threads");
}
