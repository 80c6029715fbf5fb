/* blas.c: every BLIS call of the library, and the choice of BLIS kernels.
 *
 * BLIS 0.9 picks its kernels from CPUID at its first call and falls back to
 * slow reference kernels ("generic") on CPUs it does not know, for instance
 * AMD's family 0x1a, which has AVX-512.  Before BLIS initialises we therefore
 * pick a configuration from the CPU's features and hand it to BLIS through
 * BLIS_ARCH_TYPE, unless the user has set that variable, which wins.  Only
 * configurations whose instructions the CPU has are ever chosen: knl's kernels
 * on a CPU without AVX-512ER die with SIGILL.
 *
 * Debian 12's BLIS 0.9 typed API takes non-const pointers (1.0 adds const):
 * the casts happen here and nowhere else.
 */
#include <blis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#include "blas.h"
#include "wg_tensor.h"

static once_flag blas_once = ONCE_FLAG_INIT;
static char blas_choice[160];
static char blas_info[320];
int wg_n_threads = 1;

static int cpu_is_amd(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_cpu_is("amd");
#else
    return 0;
#endif
}

static void choose_kernels(void)
{
    const char *user = getenv("BLIS_ARCH_TYPE");
    if (user && user[0]) {
        snprintf(blas_choice, sizeof blas_choice, "set by the user: BLIS_ARCH_TYPE=%s", user);
        return;
    }
#if defined(__x86_64__)
    __builtin_cpu_init();
    int id = -1;
    const char *why = "";
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl")) {
        id = BLIS_ARCH_SKX;
        why = "AVX-512 F/DQ/CD/BW/VL";
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        id = cpu_is_amd() ? BLIS_ARCH_ZEN : BLIS_ARCH_HASWELL;
        why = "AVX2 and FMA";
    } else if (__builtin_cpu_supports("avx")) {
        id = BLIS_ARCH_SANDYBRIDGE;
        why = "AVX";
    }
    if (id >= 0) {
        char v[16];
        snprintf(v, sizeof v, "%d", id);
        setenv("BLIS_ARCH_TYPE", v, 0);
        snprintf(blas_choice, sizeof blas_choice, "chosen by wengert from the CPU's %s", why);
        return;
    }
#endif
    snprintf(blas_choice, sizeof blas_choice, "BLIS's own CPU detection");
}

static void blas_init_once(void)
{
    choose_kernels();
    bli_init();
    bli_thread_set_num_threads(wg_n_threads);
    snprintf(blas_info, sizeof blas_info, "BLIS %s, kernels %s (%s)", bli_info_get_version_str(),
             bli_arch_string(bli_arch_query_id()), blas_choice);
}

void wg_blas_init(void) { call_once(&blas_once, blas_init_once); }

const char *wg_blas_info(void)
{
    wg_blas_init();
    return blas_info;
}

void wg_set_num_threads(int n)
{
    if (n < 1) n = 1;
    wg_n_threads = n;
    wg_blas_init();
    bli_thread_set_num_threads(n);
}

int wg_get_num_threads(void) { return wg_n_threads; }

void wg_gemm(int dt, int64_t m, int64_t n, int64_t k, double alpha, const void *a, int64_t rs_a,
             int64_t cs_a, const void *b, int64_t rs_b, int64_t cs_b, double beta, void *c,
             int64_t rs_c, int64_t cs_c)
{
    if (m <= 0 || n <= 0) return;
    if (k <= 0) { /* BLIS wants k >= 1 for the typed API; C = beta C */
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                if (dt == WG_F32) {
                    float *p = (float *)c + i * rs_c + j * cs_c;
                    *p = beta == 0 ? 0.0f : (float)(beta * *p);
                } else {
                    double *p = (double *)c + i * rs_c + j * cs_c;
                    *p = beta == 0 ? 0.0 : beta * *p;
                }
            }
        return;
    }
    wg_blas_init();
    if (dt == WG_F32) {
        float al = (float)alpha, be = (float)beta;
        bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &al, (float *)a, rs_a, cs_a,
                  (float *)b, rs_b, cs_b, &be, c, rs_c, cs_c);
    } else {
        double al = alpha, be = beta;
        bli_dgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &al, (double *)a, rs_a, cs_a,
                  (double *)b, rs_b, cs_b, &be, c, rs_c, cs_c);
    }
}
