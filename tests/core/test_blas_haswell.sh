#!/bin/sh
# test_blas with BLIS's haswell kernels (also zen's choice), whose
# small-product "sup" path sums in another order than the packed path: a
# product split over threads must still equal the one-thread product bit for
# bit.  Needs AVX2 and FMA (haswell's kernels die with SIGILL without them):
# skipped (77) on a CPU without.
grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo || exit 77
BLIS_ARCH_TYPE=haswell exec "$1"
