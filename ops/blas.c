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
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <threads.h>

#include "blas.h"
#include "wg_clones.h"
#include "wg_tensor.h"

static once_flag blas_once = ONCE_FLAG_INIT;
static char blas_choice[224];
static char blas_info[400];
/* The default thread count: any thread may set it while others read it.
 * Each call that splits work reads it once (wg_parts_threads). */
static atomic_int n_threads_default = 1;


static int cpu_is_amd(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_cpu_is("amd");
#else
    return 0;
#endif
}

/* The configurations this BLIS was built with.  BLIS 0.9 reads
 * BLIS_ARCH_TYPE with atoi, so a name ("haswell") silently means 0 (skx, and
 * SIGILL without AVX-512), and an id it was not built with aborts in BLIS.
 * So a user's value is checked here: a name becomes its id, -1 (BLIS's own
 * detection) is kept, anything else is ignored with a note in wg_blas_info. */
static const struct {
    const char *name;
    int id;
} blis_configs[] = {
#define WG_CFG(name, ID) {name, BLIS_ARCH_##ID},
#ifdef BLIS_CONFIG_SKX
    WG_CFG("skx", SKX)
#endif
#ifdef BLIS_CONFIG_KNL
    WG_CFG("knl", KNL)
#endif
#ifdef BLIS_CONFIG_HASWELL
    WG_CFG("haswell", HASWELL)
#endif
#ifdef BLIS_CONFIG_SANDYBRIDGE
    WG_CFG("sandybridge", SANDYBRIDGE)
#endif
#ifdef BLIS_CONFIG_PENRYN
    WG_CFG("penryn", PENRYN)
#endif
#ifdef BLIS_CONFIG_ZEN3
    WG_CFG("zen3", ZEN3)
#endif
#ifdef BLIS_CONFIG_ZEN2
    WG_CFG("zen2", ZEN2)
#endif
#ifdef BLIS_CONFIG_ZEN
    WG_CFG("zen", ZEN)
#endif
#ifdef BLIS_CONFIG_EXCAVATOR
    WG_CFG("excavator", EXCAVATOR)
#endif
#ifdef BLIS_CONFIG_STEAMROLLER
    WG_CFG("steamroller", STEAMROLLER)
#endif
#ifdef BLIS_CONFIG_PILEDRIVER
    WG_CFG("piledriver", PILEDRIVER)
#endif
#ifdef BLIS_CONFIG_BULLDOZER
    WG_CFG("bulldozer", BULLDOZER)
#endif
#ifdef BLIS_CONFIG_GENERIC
    WG_CFG("generic", GENERIC)
#endif
#undef WG_CFG
    {"(none)", -2},
};

/* The user's BLIS_ARCH_TYPE as an id BLIS accepts (-1: BLIS detects), or -2. */
static int user_arch(const char *v)
{
    char *end;
    long id = strtol(v, &end, 10);
    bool numeric = end != v && *end == 0;
    if (numeric && id == -1) return -1;
    for (size_t i = 0; i + 1 < sizeof blis_configs / sizeof blis_configs[0]; i++)
        if (numeric ? id == blis_configs[i].id : strcasecmp(v, blis_configs[i].name) == 0) return blis_configs[i].id;
    return -2;
}

/* Hand BLIS a configuration id; overwrites an empty value, which BLIS reads as 0. */
static void set_arch(int id)
{
    char v[16];
    snprintf(v, sizeof v, "%d", id);
    setenv("BLIS_ARCH_TYPE", v, 1);
}

static void choose_kernels(void)
{
    const char *user = getenv("BLIS_ARCH_TYPE");
    char ignored[128] = "";
    if (user && user[0]) {
        int uid = user_arch(user);
        if (uid >= -1) {
            snprintf(blas_choice, sizeof blas_choice, "set by the user: BLIS_ARCH_TYPE=%s", user);
            set_arch(uid);
            return;
        }
        snprintf(ignored, sizeof ignored, "ignored BLIS_ARCH_TYPE=%.40s, not a configuration of this BLIS; ", user);
        unsetenv("BLIS_ARCH_TYPE");
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
        set_arch(id);
        snprintf(blas_choice, sizeof blas_choice, "%schosen by wengert from the CPU's %s", ignored, why);
        return;
    }
#endif
    unsetenv("BLIS_ARCH_TYPE");
    snprintf(blas_choice, sizeof blas_choice, "%sBLIS's own CPU detection", ignored);
}

static void blas_init_once(void)
{
    choose_kernels();
    bli_init();
    bli_thread_set_num_threads(atomic_load_explicit(&n_threads_default, memory_order_relaxed));
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
    atomic_store_explicit(&n_threads_default, n, memory_order_relaxed);
    wg_blas_init();
    bli_thread_set_num_threads(n); /* BLIS's own default; gemm_one gives BLIS its count */
}

int wg_get_num_threads(void) { return atomic_load_explicit(&n_threads_default, memory_order_relaxed); }

/* ---- small and skinny products ------------------------------------------
 *
 * BLIS packs panels of both operands before its micro-kernel runs.  When a
 * batch has one row, or a layer has ten outputs, the packing costs more than
 * the product: BLIS runs at a few GFLOP/s there (bench/README.md has the
 * numbers).  These shapes go to two plain kernels instead, in the three memory
 * layouts they can stream through with unit stride:
 *
 *   dot       A's rows and B's columns contiguous: C[i,j] = A[i,:] . B[:,j]
 *             (a forward x W^T: four columns of B share each row of A)
 *   axpy_row  B's and C's rows contiguous: C[i,:] += A[i,p] B[p,:]
 *   axpy_col  A's and C's columns contiguous: C[:,j] += B[p,j] A[:,p], which
 *             is axpy_row on C^T = B^T A^T (dW^T += x^T dy for a small batch)
 *
 * Each is compiled for AVX-512, AVX2+FMA and baseline x86-64 and picked at
 * load time (target_clones).  Lanes are accumulated in a fixed-size array so
 * the compiler vectorises without reassociating a reduction.  beta = 0
 * overwrites C without reading it, as BLIS does. */


#define SMALL_KERNELS(T, SUF, FMA, L)                                                                      \
    WG_CLONES static void dot_##SUF(int64_t m, int64_t n, int64_t k, T alpha, const T *a, int64_t rs_a,  \
                                    const T *b, int64_t cs_b, T beta, T *c, int64_t rs_c, int64_t cs_c)   \
    {                                                                                                     \
        const int64_t kv = k - k % L;                                                                     \
        for (int64_t i = 0; i < m; i++) {                                                                 \
            const T *ai = a + i * rs_a;                                                                   \
            for (int64_t j = 0; j < n; j += 4) {                                                          \
                const int64_t nj = n - j < 4 ? n - j : 4;                                                 \
                T acc[4][L] = {{0}}, sum[4] = {0};                                                        \
                const T *bj[4];                                                                           \
                for (int64_t q = 0; q < 4; q++) bj[q] = b + (j + (q < nj ? q : 0)) * cs_b;                \
                for (int64_t p = 0; p < kv; p += L)                                                       \
                    _Pragma("GCC unroll 4") /* else acc[q] lives on the stack: a store-load per FMA */   \
                    for (int q = 0; q < 4; q++)                                                           \
                        for (int l = 0; l < L; l++) acc[q][l] = FMA(ai[p + l], bj[q][p + l], acc[q][l]);  \
                /* the lanes summed by halving, which vectorises (one lane at a time did not) */           \
                for (int w = L / 2; w > 0; w /= 2)                                                        \
                    for (int q = 0; q < 4; q++)                                                           \
                        for (int l = 0; l < w; l++) acc[q][l] += acc[q][l + w];                           \
                for (int q = 0; q < 4; q++) {                                                             \
                    sum[q] = acc[q][0];                                                                   \
                    for (int64_t p = kv; p < k; p++) sum[q] = FMA(ai[p], bj[q][p], sum[q]);               \
                }                                                                                         \
                for (int64_t q = 0; q < nj; q++) {                                                        \
                    T *cp = c + i * rs_c + (j + q) * cs_c;                                                \
                    *cp = beta == 0 ? alpha * sum[q] : alpha * sum[q] + beta * *cp;                       \
                }                                                                                         \
            }                                                                                             \
        }                                                                                                 \
    }                                                                                                     \
    /* C[i,:] (n contiguous values) = beta C[i,:] + sum_p alpha A[i,p] B[p,:], streaming C once per   \
     * term: for a few terms (an outer product) */                                                     \
    WG_CLONES static void axpy_row_##SUF(int64_t m, int64_t n, int64_t k, T alpha, const T *a,           \
                                         int64_t rs_a, int64_t cs_a, const T *b, int64_t rs_b, T beta,    \
                                         T *c, int64_t rs_c)                                              \
    {                                                                                                     \
        for (int64_t i = 0; i < m; i++) {                                                                 \
            T *ci = c + i * rs_c;                                                                         \
            int64_t p0 = 0;                                                                               \
            if (beta == 0 && k > 0) { /* the first term onto a zero, without a pass that zeroes C */      \
                const T s = alpha * a[i * rs_a], *bp = b;                                                 \
                for (int64_t j = 0; j < n; j++) ci[j] = FMA(s, bp[j], (T)0);                              \
                p0 = 1;                                                                                   \
            } else if (beta == 0)                                                                         \
                for (int64_t j = 0; j < n; j++) ci[j] = 0;                                                \
            else if (beta != 1)                                                                           \
                for (int64_t j = 0; j < n; j++) ci[j] *= beta;                                            \
            for (int64_t p = p0; p < k; p++) {                                                            \
                const T s = alpha * a[i * rs_a + p * cs_a], *bp = b + p * rs_b;                           \
                for (int64_t j = 0; j < n; j++) ci[j] = FMA(s, bp[j], ci[j]);                             \
            }                                                                                             \
        }                                                                                                 \
    }                                                                                                     \
    /* The same for more terms: C in chunks of 4 L columns held in registers over the whole sum (one   \
     * load and store of C per chunk; 128 x 128 x 10, dx = dy W of a 10-class layer: 4.8 us, BLIS 6.8) */ \
    WG_CLONES static void axpy_blk_##SUF(int64_t m, int64_t n, int64_t k, T alpha, const T *a,           \
                                         int64_t rs_a, int64_t cs_a, const T *b, int64_t rs_b, T beta,    \
                                         T *c, int64_t rs_c)                                              \
    {                                                                                                     \
        const int64_t nb = n - n % (4 * L);                                                               \
        for (int64_t i = 0; i < m; i++) {                                                                 \
            T *ci = c + i * rs_c;                                                                         \
            for (int64_t j0 = 0; j0 < nb; j0 += 4 * L) {                                                  \
                T acc[4][L];                                                                              \
                for (int q = 0; q < 4; q++)                                                               \
                    for (int l = 0; l < L; l++)                                                           \
                        acc[q][l] = beta == 0 ? 0 : beta == 1 ? ci[j0 + q * L + l] : beta * ci[j0 + q * L + l]; \
                for (int64_t p = 0; p < k; p++) {                                                         \
                    const T s = alpha * a[i * rs_a + p * cs_a], *bp = b + p * rs_b + j0;                  \
                    _Pragma("GCC unroll 4") /* else acc[q] lives on the stack, as in dot */               \
                    for (int q = 0; q < 4; q++)                                                           \
                        for (int l = 0; l < L; l++) acc[q][l] = FMA(s, bp[q * L + l], acc[q][l]);         \
                }                                                                                         \
                for (int q = 0; q < 4; q++)                                                               \
                    for (int l = 0; l < L; l++) ci[j0 + q * L + l] = acc[q][l];                           \
            }                                                                                             \
        }                                                                                                 \
        if (nb < n) /* the last columns */                                                                \
            axpy_row_##SUF(m, n - nb, k, alpha, a, rs_a, cs_a, b + nb, rs_b, beta, c + nb, rs_c);         \
    }                                                                                                     \
    /* n <= L columns, any strides: alpha B packed once into a k x L panel (zero padded), then C in     \
     * groups of 8 rows, each row one vector of L lanes summed over k (8 independent chains) */        \
    WG_CLONES static int narrow_##SUF(int64_t m, int64_t n, int64_t k, T alpha, const T *a, int64_t rs_a, \
                                      int64_t cs_a, const T *b, int64_t rs_b, int64_t cs_b, T beta, T *c, \
                                      int64_t rs_c, int64_t cs_c)                                         \
    {                                                                                                     \
        /* the panel on the stack up to k = 512 (L * k * sizeof(T) = 64 k bytes, 32 KB; the 10-class layer \
         * of an MLP at batch 128 made two 8 KB mallocs a step); above, one malloc per call */             \
        _Alignas(64) T panel_stack[L * 512];                                                              \
        T *panel = k <= 512 ? panel_stack : malloc(sizeof(T) * L * (size_t)k);                            \
        if (!panel) return 0; /* BLIS then */                                                             \
        for (int64_t p = 0; p < k; p++)                                                                   \
            for (int j = 0; j < L; j++) panel[p * L + j] = j < n ? alpha * b[p * rs_b + j * cs_b] : 0;     \
        for (int64_t i0 = 0; i0 < m; i0 += 8) {                                                           \
            const int64_t r = m - i0 < 8 ? m - i0 : 8;                                                    \
            const T *ar[8];                                                                               \
            for (int q = 0; q < 8; q++) ar[q] = a + (i0 + (q < r ? q : 0)) * rs_a;                        \
            T acc[8][L] = {{0}};                                                                          \
            for (int64_t p = 0; p < k; p++) {                                                             \
                const T *bp = panel + p * L;                                                              \
                _Pragma("GCC unroll 8") /* the 8 rows' vectors in registers */                            \
                for (int q = 0; q < 8; q++) {                                                             \
                    const T s = ar[q][p * cs_a];                                                          \
                    for (int l = 0; l < L; l++) acc[q][l] = FMA(s, bp[l], acc[q][l]);                     \
                }                                                                                         \
            }                                                                                             \
            for (int64_t q = 0; q < r; q++)                                                               \
                for (int64_t j = 0; j < n; j++) {                                                         \
                    T *cp = c + (i0 + q) * rs_c + j * cs_c;                                               \
                    *cp = beta == 0 ? acc[q][j] : acc[q][j] + beta * *cp;                                 \
                }                                                                                         \
        }                                                                                                 \
        if (panel != panel_stack) free(panel);                                                            \
        return 1;                                                                                         \
    }                                                                                                     \
    static int small_##SUF(int64_t m, int64_t n, int64_t k, T alpha, const T *a, int64_t rs_a,           \
                           int64_t cs_a, const T *b, int64_t rs_b, int64_t cs_b, T beta, T *c,            \
                           int64_t rs_c, int64_t cs_c)                                                    \
    {                                                                                                     \
        switch (plan_of(L, m, n, k, rs_a, cs_a, rs_b, cs_b, rs_c, cs_c)) {                                \
        case P_DOT: dot_##SUF(m, n, k, alpha, a, rs_a, b, cs_b, beta, c, rs_c, cs_c); return 1;           \
        case P_AXPY:                                                                                      \
            (k <= WG_THIN ? axpy_row_##SUF : axpy_blk_##SUF)(m, n, k, alpha, a, rs_a, cs_a, b, rs_b, beta, c, rs_c); \
            return 1;                                                                                     \
        case P_AXPY_T: /* C^T = B^T A^T with C^T's and A^T's rows contiguous */                           \
            (k <= WG_THIN ? axpy_row_##SUF : axpy_blk_##SUF)(n, m, k, alpha, b, cs_b, rs_b, a, cs_a, beta, c, cs_c); \
            return 1;                                                                                     \
        case P_NARROW: return narrow_##SUF(m, n, k, alpha, a, rs_a, cs_a, b, rs_b, cs_b, beta, c, rs_c, cs_c); \
        case P_NARROW_T: /* C^T = B^T A^T has m columns */                                                \
            return narrow_##SUF(n, m, k, alpha, b, cs_b, rs_b, a, cs_a, rs_a, beta, c, cs_c, rs_c);        \
        default: return 0;                                                                                \
        }                                                                                                 \
    }                                                                                                     \
    /* Columns [j0, j1) of the product with the kernel the whole one takes: c holds those columns only.   \
     * Every kernel sums each element of C in an order that does not depend on the columns around it,    \
     * and the axpy kernels' beta = 0 is their beta = 1 on a zero C; the others get a zero C, beta = 1. */ \
    static void cols_##SUF(int p, int64_t m, int64_t k, const T *a, int64_t rs_a, int64_t cs_a, \
                           const T *b, int64_t rs_b, int64_t cs_b, int64_t j0, int64_t j1, T *c, int64_t rs_c, \
                           int64_t cs_c)                                                                  \
    {                                                                                                     \
        const int64_t nn = j1 - j0;                                                                       \
        b += j0 * cs_b;                                                                                   \
        if (p != P_AXPY && p != P_AXPY_T) { /* the inner loop along C's unit stride */                    \
            const bool by_col = rs_c == 1;                                                                \
            const int64_t no = by_col ? nn : m, ni = by_col ? m : nn, so = by_col ? cs_c : rs_c;          \
            const int64_t si = by_col ? rs_c : cs_c;                                                      \
            for (int64_t o = 0; o < no; o++)                                                              \
                for (int64_t i = 0; i < ni; i++) c[o * so + i * si] = 0;                                  \
        }                                                                                                 \
        switch (p) {                                                                                      \
        case P_DOT: dot_##SUF(m, nn, k, 1, a, rs_a, b, cs_b, 1, c, rs_c, cs_c); break;                    \
        case P_AXPY: (k <= WG_THIN ? axpy_row_##SUF : axpy_blk_##SUF)(m, nn, k, 1, a, rs_a, cs_a, b, rs_b, 0, c, rs_c); break; \
        case P_AXPY_T: (k <= WG_THIN ? axpy_row_##SUF : axpy_blk_##SUF)(nn, m, k, 1, b, cs_b, rs_b, a, cs_a, 0, c, cs_c); break; \
        case P_NARROW: narrow_##SUF(m, nn, k, 1, a, rs_a, cs_a, b, rs_b, cs_b, 1, c, rs_c, cs_c); break;   \
        case P_NARROW_T: narrow_##SUF(nn, m, k, 1, b, cs_b, rs_b, a, cs_a, rs_a, 1, c, cs_c, rs_c); break; \
        default: gemm_one(sizeof(T) == sizeof(float) ? WG_F32 : WG_F64, m, nn, k, 1.0, a, rs_a, cs_a, b, rs_b, \
                          cs_b, 1.0, c, rs_c, cs_c);                                                       \
        }                                                                                                 \
    }

/* Where these kernels beat BLIS, measured with bench/gemm_shapes at the MLP
 * shapes (bench/README.md): a side of at most WG_THIN (a batch of 1..4 rows,
 * an outer product), a sum over at most one vector's lanes L (dx = dy W
 * of a 10-class layer), at most L columns of C or of C^T (10 classes), or
 * at most WG_TINY multiply-adds. */
enum { WG_THIN = 4, WG_TINY = 32 * 32 * 32 };

/* Which kernel a product takes (L: the vector's lanes). */
enum { P_DOT, P_AXPY, P_AXPY_T, P_NARROW, P_NARROW_T, P_BLIS };
static int plan_of(int64_t L, int64_t m, int64_t n, int64_t k, int64_t rs_a, int64_t cs_a, int64_t rs_b,
                   int64_t cs_b, int64_t rs_c, int64_t cs_c)
{
    const bool tiny = k * m * n <= WG_TINY;
    if (cs_a == 1 && rs_b == 1 && (m <= WG_THIN || tiny)) return P_DOT;
    if (cs_b == 1 && cs_c == 1 && (m <= WG_THIN || k <= L || tiny)) return P_AXPY;
    if (rs_a == 1 && rs_c == 1 && (k <= L || tiny)) return P_AXPY_T;
    if (n <= L) return P_NARROW;
    if (m <= L) return P_NARROW_T;
    return P_BLIS;
}

static void gemm_one(int dt, int64_t m, int64_t n, int64_t k, double alpha, const void *a, int64_t rs_a,
                     int64_t cs_a, const void *b, int64_t rs_b, int64_t cs_b, double beta, void *c,
                     int64_t rs_c, int64_t cs_c);

SMALL_KERNELS(float, s, fmaf, 16)
SMALL_KERNELS(double, d, fma, 8)

/* BLIS on this thread alone (a per-call runtime object), always through its
 * packed path: the "sup" path for small or skinny products, which haswell's
 * configuration has and skx's does not, sums in another order, and a column
 * block could take one path where the whole product took the other (300 x
 * 210 x 300 on 2 threads then differed from 1 thread in the last bits). */
static void gemm_one(int dt, int64_t m, int64_t n, int64_t k, double alpha, const void *a, int64_t rs_a,
                     int64_t cs_a, const void *b, int64_t rs_b, int64_t cs_b, double beta, void *c,
                     int64_t rs_c, int64_t cs_c)
{
    wg_blas_init();
    rntm_t one = BLIS_RNTM_INITIALIZER;
    bli_rntm_set_num_threads(1, &one);
    bli_rntm_disable_l3_sup(&one);
    if (dt == WG_F32) {
        float al = (float)alpha, be = (float)beta;
        bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &al, (float *)a, rs_a, cs_a,
                     (float *)b, rs_b, cs_b, &be, c, rs_c, cs_c, NULL, &one);
    } else {
        double al = alpha, be = beta;
        bli_dgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &al, (double *)a, rs_a, cs_a,
                     (double *)b, rs_b, cs_b, &be, c, rs_c, cs_c, NULL, &one);
    }
}

/* On several threads, C's columns are cut into one block per thread (a
 * multiple of 16 columns each) and every block is a one-thread BLIS call on
 * libgomp's threads, the pool BLIS's own threads come from.  BLIS's packed
 * path sums each element of C over k in the same order whatever the columns
 * around it, so the result does not depend on the number of threads
 * (test_blas checks that bit for bit, with the skx, zen, haswell and generic
 * kernels); a small-product kernel, whose order differs, only ever takes a
 * whole product.  BLIS's
 * threading splits loops it picks by itself, and at the MLP shapes of
 * bench/compare (2 threads; microseconds, 1 thread / BLIS on 2 / blocks):
 *
 *   y = x W^T      128 x 128 x 784    183 / 156 / 131
 *   dW^T = x^T dy  784 x 128 x 128    151 / 128 / 113
 *   y = x W^T      128 x 512 x 784    668 / 440 / 430
 *   dW^T = x^T dy  784 x 512 x 128    532 / 420 / 320
 *   dx = dy W      128 x 784 x 512    590 / 414 / 418
 *   y = x W^T      128 x 512 x 512    494 / 328 / 335
 *
 * Below WG_SPLIT_MIN multiply-adds the split gains nothing: an empty
 * fork and join of two threads costs 2-4 us on this 2-core VM, and the rows
 * a core did not compute have to cross to it.  784-128-10 at batch 32, whose
 * GEMMs are 3.2M, ran 0.16 ms on 2 threads split and 0.16 on 1; at batch
 * 128 (12.8M) the split took the step from 0.43 to 0.37 ms. */
enum { WG_SPLIT_MIN = 1 << 23 };

static int gemm_split(int parts, int dt, int64_t m, int64_t n, int64_t k, double alpha, const void *a, int64_t rs_a,
                      int64_t cs_a, const void *b, int64_t rs_b, int64_t cs_b, double beta, void *c,
                      int64_t rs_c, int64_t cs_c)
{
    int64_t j0, j1;
    wg_block_span(n, parts, 0, &j0, &j1);
    if (parts < 2 || j1 >= n || (double)m * (double)n * (double)k < WG_SPLIT_MIN) {
        gemm_one(dt, m, n, k, alpha, a, rs_a, cs_a, b, rs_b, cs_b, beta, c, rs_c, cs_c);
        return 1;
    }
    const size_t es = dt == WG_F32 ? sizeof(float) : sizeof(double);
#pragma omp parallel for num_threads(parts) schedule(static, 1)
    for (int p = 0; p < parts; p++) {
        int64_t lo, hi;
        wg_block_span(n, parts, p, &lo, &hi);
        if (hi > lo)
            gemm_one(dt, m, hi - lo, k, alpha, a, rs_a, cs_a, (const char *)b + (size_t)(lo * cs_b) * es, rs_b, cs_b,
                     beta, (char *)c + (size_t)(lo * cs_c) * es, rs_c, cs_c);
    }
    return parts;
}

int wg_gemm(int dt, int64_t m, int64_t n, int64_t k, double alpha, const void *a, int64_t rs_a,
            int64_t cs_a, const void *b, int64_t rs_b, int64_t cs_b, double beta, void *c,
            int64_t rs_c, int64_t cs_c)
{
    return wg_gemm_on(wg_parts_threads(), dt, m, n, k, alpha, a, rs_a, cs_a, b, rs_b, cs_b, beta, c, rs_c, cs_c);
}

int wg_gemm_on(int threads, int dt, int64_t m, int64_t n, int64_t k, double alpha, const void *a, int64_t rs_a,
               int64_t cs_a, const void *b, int64_t rs_b, int64_t cs_b, double beta, void *c,
               int64_t rs_c, int64_t cs_c)
{
    if (m <= 0 || n <= 0) return 1;
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
        return 1;
    }
    if (dt == WG_F32 ? small_s(m, n, k, (float)alpha, a, rs_a, cs_a, b, rs_b, cs_b, (float)beta, c, rs_c, cs_c)
                     : small_d(m, n, k, alpha, a, rs_a, cs_a, b, rs_b, cs_b, beta, c, rs_c, cs_c))
        return 1;
    const int parts = !WG_OMP || threads < 1 ? 1 : threads < WG_MAX_BLOCKS ? threads : WG_MAX_BLOCKS;
    return gemm_split(parts, dt, m, n, k, alpha, a, rs_a, cs_a, b, rs_b, cs_b, beta, c, rs_c, cs_c);
}

int wg_gemm_cols_plan(int threads, int dt, int64_t m, int64_t n, int64_t k, int64_t rs_a, int64_t cs_a,
                      int64_t rs_b, int64_t cs_b, int64_t rs_c, int64_t cs_c)
{
    if (m <= 0 || n <= 0 || k <= 0) return 0;
    const int64_t L = dt == WG_F32 ? 16 : 8;
    const int p = plan_of(L, m, n, k, rs_a, cs_a, rs_b, cs_b, rs_c, cs_c);
    if ((p == P_NARROW || p == P_NARROW_T) && k > 512) return 0; /* its malloc may fail, and BLIS then sums */
    /* Not BLIS: each call packs the whole of A again, and for a dense layer's
     * dW^T = x^T dy that is all of x.  Cut into blocks of 48 of W's rows, the
     * 784-512-512-10 step at batch 128 (cachegrind, 512 KB last level) missed
     * the last level 27% more on reads and 60% more on writes than with the
     * gradient stored whole.  (wg_gemm_cols itself handles BLIS too.) */
    (void)threads;
    return p == P_BLIS ? 0 : 1;
}

void wg_gemm_cols(int dt, int64_t m, int64_t n, int64_t k, const void *a, int64_t rs_a, int64_t cs_a, const void *b,
                  int64_t rs_b, int64_t cs_b, int64_t j0, int64_t j1, void *c, int64_t rs_c, int64_t cs_c)
{
    if (j1 <= j0) return;
    const int64_t L = dt == WG_F32 ? 16 : 8;
    const int p = plan_of(L, m, n, k, rs_a, cs_a, rs_b, cs_b, rs_c, cs_c);
    if (dt == WG_F32)
        cols_s(p, m, k, a, rs_a, cs_a, b, rs_b, cs_b, j0, j1, c, rs_c, cs_c);
    else
        cols_d(p, m, k, a, rs_a, cs_a, b, rs_b, cs_b, j0, j1, c, rs_c, cs_c);
}
