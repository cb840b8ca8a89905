/* cpu/avx512.h — what the CPU backend's AVX-512 files share (internal to src/cpu/): whether the
 * compiler can build them (MC_AVX512), the target attribute they are compiled with (T512: any
 * x86-64 build, no -march; chosen at run time by mc_cpu_f32_level, cpu->simd), loads and
 * stores of the first lanes, and the even/odd split of 32 floats.
 *
 * Masked loads and stores only where a vector is partial: on the AMD EPYC this was measured on,
 * the masked forms with a full mask made the Winograd input transform 20 % slower than the
 * portable code instead of 20 % faster (docs/performance.md). */
#ifndef MC_CPU_AVX512_H
#define MC_CPU_AVX512_H

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && \
    (!defined(__clang__) && __GNUC__ >= 9 || defined(__clang__) && __clang_major__ >= 8)
#define MC_AVX512 1
#include <immintrin.h>
#define T512 __attribute__((target("avx512f,avx512vl,avx2,fma")))

/* the first n lanes (none for n <= 0, all for n >= 16) */
static inline __mmask16 first16(int n) {
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1u);
}

T512 static inline __m512 load_k(__mmask16 k, const float *p) {
    return k == 0xFFFF ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(k, p);
}
T512 static inline void store_k(float *p, __mmask16 k, __m512 v) {
    if (k == 0xFFFF)
        _mm512_storeu_ps(p, v);
    else
        _mm512_mask_storeu_ps(p, k, v);
}

/* the lane indices of the even (odd) elements of two vectors, for _mm512_permutex2var_ps */
T512 static inline __m512i evens16(void) {
    return _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
}
T512 static inline __m512i odds16(void) {
    return _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
}
/* the even (*e) and odd (*o) elements of a[0 .. 15] b[0 .. 15]; ev = evens16(), od = odds16(),
 * made once by the caller outside its loops */
T512 static inline void evens_odds16(__m512 a, __m512 b, __m512i ev, __m512i od, __m512 *e, __m512 *o) {
    *e = _mm512_permutex2var_ps(a, ev, b);
    *o = _mm512_permutex2var_ps(a, od, b);
}

#else
#define MC_AVX512 0
#endif

#endif
