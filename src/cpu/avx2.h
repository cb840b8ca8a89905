/* cpu/avx2.h — what the CPU backend's AVX2 files share (internal to src/cpu/: gemm_f32.c's
 * packing, gemm_f32_avx2.c, winograd_avx2.c, strided_avx2.c): the target attribute they are
 * compiled with (T256: any x86-64 build, no -march; chosen at run time by mc_cpu_f32_level), the
 * lane masks of AVX2's masked loads and stores, loads of the first lanes with zeros after them,
 * and the even/odd split of 16 floats. Masked stores only where a vector is partial: AVX2's masked
 * store is slow on AMD CPUs. */
#ifndef MC_CPU_AVX2_H
#define MC_CPU_AVX2_H

#include "cpu/avx512.h" /* MC_AVX512: the compiler can build the x86 SIMD files; immintrin.h */

#if MC_AVX512
#define T256 __attribute__((target("avx2,fma")))

/* lanes lo .. hi - 1 of 8 (none where hi <= lo), as a maskload/maskstore mask */
T256 static inline __m256i lanes8(int lo, int hi) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_and_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(hi), idx),
                            _mm256_cmpgt_epi32(idx, _mm256_set1_epi32(lo - 1)));
}

/* the first n of 8 lanes (none for n <= 0, all for n >= 8) */
T256 static inline __m256i first8(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* p[0 .. 7], the lanes from n on 0 and not read */
T256 static inline __m256 loadn8(int n, const float *p) {
    if (n >= 8) return _mm256_loadu_ps(p);
    if (n <= 0) return _mm256_setzero_ps();
    return _mm256_maskload_ps(p, first8(n));
}

/* the first n lanes of v to p (n >= 8: all; the others not written) */
T256 static inline void storen8(float *p, int n, __m256 v) {
    if (n >= 8)
        _mm256_storeu_ps(p, v);
    else if (n > 0)
        _mm256_maskstore_ps(p, first8(n), v);
}

/* the even (*e) and odd (*o) elements of a[0 .. 7] b[0 .. 7]: (a0 a2 b0 b2 | a4 a6 b4 b6), then
 * the 64-bit pairs in the order 0 2 1 3 */
T256 static inline void evens_odds8(__m256 a, __m256 b, __m256 *e, __m256 *o) {
    *e = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
    *o = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8));
}
#endif

#endif
