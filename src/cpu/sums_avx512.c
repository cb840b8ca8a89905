/* cpu/sums_avx512.c — the bias gradient's per-plane sums (cpu/backend_cpu.c's cpu_bias_bwd) in
 * AVX-512 registers, for CPUs that have it (issue 18).
 *
 * Why: the portable loop keeps eight double partial sums (element j into sum j mod 8), which the
 * default build (x86-64: SSE2) turns into four two-lane additions per eight floats; the bias
 * gradient of every convolution with a bias (the PixelShuffle module's seventeen) was ~1.1 % of
 * its color step, 1.3 ms for a 16 x 64 x 80 x 80 gradient. Here the eight partial sums are one
 * vector of eight doubles.
 *
 * Exactness: the same additions in the same order (partial k gets elements k, k + 8, ... in
 * increasing j, the tail into partials 0, 1, ...; then ((a0 + a1) + (a2 + a3)) + ((a4 + a5) +
 * (a6 + a7))): bitwise the portable sum (test_cpu_backend's bias_bwd_case compares them).
 * Compiled with function-level target attributes as cpu/gemm_f32.c, chosen at run time with the
 * own GEMM's CPU check (mc_cpu_f32_level: cpu->simd). */
#include "cpu/conv.h"
#include "cpu/avx512.h"

#if MC_AVX512

T512 double mc_cpu_plane_sum8_512(const float *p, int hw) {
    __m512d a = _mm512_setzero_pd();
    int j = 0;
    for (; j + 8 <= hw; j += 8) a = _mm512_add_pd(a, _mm512_cvtps_pd(_mm256_loadu_ps(p + j)));
    double s[8];
    _mm512_storeu_pd(s, a);
    for (int k = 0; j < hw; j++, k++) s[k] += (double)p[j];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}
#else
double mc_cpu_plane_sum8_512(const float *p, int hw) {
    (void)p, (void)hw;
    return 0.0;
}
#endif
