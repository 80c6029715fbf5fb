/* test_blas_arch: which BLIS kernels wengert hands its matrix products to.
 *
 * BLIS reads BLIS_ARCH_TYPE once, when it initialises, so each case is its
 * own run of this program (see meson.build):
 *
 *   test_blas_arch auto
 *       BLIS_ARCH_TYPE unset (the program unsets it before anything touches
 *       BLIS): the configuration must be chosen by wengert from the CPU, never
 *       BLIS's "generic" reference kernels on a CPU with AVX, and "skx" on a
 *       CPU with AVX-512 F/DQ/CD/BW/VL (the machine this was written on).
 *   test_blas_arch user KERNELS TEXT
 *       BLIS_ARCH_TYPE set by the environment: wg_blas_info must report the
 *       kernels KERNELS ("auto": what the auto case picks; "-": any) and
 *       contain TEXT.
 *
 * Every run also checks a product computed with those kernels.
 */
#include <stdlib.h>

#include "wengert.h"
#include "wg_test.h"

/* The configuration wengert should pick on this CPU (NULL: no rule). */
static const char *auto_kernels(void)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl"))
        return "skx";
#endif
    return NULL;
}

static bool cpu_has_avx(void)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx");
#else
    return false;
#endif
}

/* "BLIS 0.9.0, kernels skx (...)" -> "skx" */
static void kernels_of(const char *info, char *out, size_t len)
{
    const char *k = info ? strstr(info, "kernels ") : NULL;
    out[0] = 0;
    if (!k) return;
    k += strlen("kernels ");
    size_t n = strcspn(k, " (");
    snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), k);
}

static void product_works(void)
{
    wg_tape *t = wg_tape_new();
    /* 64x64 so that BLIS, not a small-product path, does it: A = 1, B = 2 -> 128 */
    const int64_t s[2] = {64, 64};
    wg_tensor *c = wg_matmul(t, wg_full(t, WG_F32, 2, s, 1), wg_full(t, WG_F32, 2, s, 2));
    CHECK(c != NULL, "%s", wg_tape_error(t));
    bool ok = c != NULL;
    for (size_t i = 0; ok && i < wg_numel(c); i++) ok = wg_get(c, i) == 128;
    CHECK(ok, "ones(64,64) @ 2s(64,64) must be 128 everywhere");
    wg_tape_free(t);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "auto";
    if (strcmp(mode, "auto") == 0) unsetenv("BLIS_ARCH_TYPE"); /* before BLIS initialises */
    const char *info = wg_blas_info();
    printf("%s\n", info);
    char k[32];
    kernels_of(info, k, sizeof k);
    CHECK(k[0] != 0, "wg_blas_info names no kernel configuration: \"%s\"", info);
    if (strcmp(mode, "auto") == 0) {
        CHECK(strstr(info, "(chosen by wengert from the CPU's ") != NULL, "\"%s\" does not say why", info);
        if (cpu_has_avx()) CHECK(strcmp(k, "generic") != 0, "reference kernels on a CPU with AVX: \"%s\"", info);
        if (auto_kernels()) CHECK_STR(k, auto_kernels());
    } else {
        CHECK(argc == 4, "usage: %s user KERNELS TEXT", argv[0]);
        if (argc == 4) {
            const char *want = strcmp(argv[2], "auto") == 0 ? auto_kernels() : strcmp(argv[2], "-") == 0 ? NULL : argv[2];
            if (want) CHECK_STR(k, want);
            CHECK(strstr(info, argv[3]) != NULL, "\"%s\" lacks \"%s\"", info, argv[3]);
        }
    }
    product_works();
    return wg_test_done("test_blas_arch");
}
