/* cpu/im2col_avx512.c — the stride-2 row copies of cpu/conv.c's im2col and col2im in AVX-512
 * registers, for CPUs that have it (issue 18).
 *
 * Why: the stride-2 convolutions (ResNet's 7x7 stem and the PixelShuffle module's, the 3x3 and
 * 1x1 stride-2 convolutions of the downsampling blocks, DenseNet's stem) gather every other input
 * column into the column matrix, and their backward-data adds the column matrix back into every
 * other input column. The portable loops do that one float at a time: `perf` put im2col at ~21 %
 * and col2im at ~10 % of ResNet18's 7x7 stride-2 convolution (3 -> 64 channels at 320 x 320).
 * Here 16 columns take two loads and a permute (gather), or a permute and a masked add (scatter).
 *
 * Exactness: the gather is a copy; the scatter adds each s[q] to its own dst[2q] once, in the
 * order the caller calls it, as the portable loop does — bitwise the same results
 * (tests/test_im2col_simd.c compares the convolutions with the SIMD rows on and off). Only the
 * even elements are written (masked stores): the odd ones between them, which may belong to
 * another thread's piece, are never touched; nothing outside [0, 2n - 2] is read or written.
 * Compiled with function-level target attributes as cpu/gemm_f32.c, chosen at run time with the
 * own GEMM's CPU check (mc_cpu_f32_available). */
#include "cpu/conv.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && \
    (!defined(__clang__) && __GNUC__ >= 9 || defined(__clang__) && __clang_major__ >= 8)
#include <immintrin.h>
#define T512 __attribute__((target("avx512f,avx512vl,avx2,fma")))

static inline __mmask16 first(int n) {
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1u);
}

T512 void mc_cpu_gather2_512(const float *src, int n, float *dst) {
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    int q = 0;
    for (; q + 16 < n; q += 16) { /* src[2q .. 2q + 31] all inside [0, 2n - 2] */
        const float *s = src + 2 * (size_t)q;
        _mm512_storeu_ps(dst + q, _mm512_permutex2var_ps(_mm512_loadu_ps(s), ev, _mm512_loadu_ps(s + 16)));
    }
    if (q < n) { /* the last 1..16: src[2q .. 2n - 2] only */
        const int r = n - q, len = 2 * r - 1;
        const float *s = src + 2 * (size_t)q;
        const __m512 a = _mm512_maskz_loadu_ps(first(len), s), b = _mm512_maskz_loadu_ps(first(len - 16), s + 16);
        _mm512_mask_storeu_ps(dst + q, first(r), _mm512_permutex2var_ps(a, ev, b));
    }
}

T512 void mc_cpu_scatter2_add512(const float *s, int n, float *dst) {
    const __m512i lo = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    const __m512i hi = _mm512_setr_epi32(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
    const __mmask16 even = 0x5555;
    int q = 0;
    for (; q + 16 < n; q += 16) { /* dst[2q .. 2q + 31] all inside [0, 2n - 2] */
        float *d = dst + 2 * (size_t)q;
        const __m512 v = _mm512_loadu_ps(s + q);
        const __m512 d0 = _mm512_loadu_ps(d), d1 = _mm512_loadu_ps(d + 16);
        _mm512_mask_storeu_ps(d, even, _mm512_add_ps(d0, _mm512_permutexvar_ps(lo, v)));
        _mm512_mask_storeu_ps(d + 16, even, _mm512_add_ps(d1, _mm512_permutexvar_ps(hi, v)));
    }
    if (q < n) { /* the last 1..16: dst[2q .. 2n - 2] only */
        const int r = n - q, len = 2 * r - 1;
        float *d = dst + 2 * (size_t)q;
        const __mmask16 k0 = (__mmask16)(first(len) & even), k1 = (__mmask16)(first(len - 16) & even);
        const __m512 v = _mm512_maskz_loadu_ps(first(r), s + q);
        const __m512 d0 = _mm512_maskz_loadu_ps(k0, d), d1 = _mm512_maskz_loadu_ps(k1, d + 16);
        _mm512_mask_storeu_ps(d, k0, _mm512_add_ps(d0, _mm512_permutexvar_ps(lo, v)));
        _mm512_mask_storeu_ps(d + 16, k1, _mm512_add_ps(d1, _mm512_permutexvar_ps(hi, v)));
    }
}

#else
void mc_cpu_gather2_512(const float *src, int n, float *dst) { (void)src, (void)n, (void)dst; }
void mc_cpu_scatter2_add512(const float *s, int n, float *dst) { (void)s, (void)n, (void)dst; }
#endif
