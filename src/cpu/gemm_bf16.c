/* cpu/gemm_bf16.c — the bf16 GEMM of the CPU backend's opt-in bf16 mode (mc_net_opts.precision =
 * MC_PRECISION_BF16, `--precision bf16`; docs/performance.md "bf16").
 *
 * What it computes, as PyTorch's CPU autocast does for convolutions and linear layers: both
 * operands are rounded from float32 to bfloat16 (round to nearest even, NaN stays NaN: PyTorch's
 * c10::BFloat16 conversion, 0x7FC0 for every NaN), their products are exact in float32 (8-bit
 * significands), and they are summed in float32:
 *     C = alpha * S + beta * C,    S = fp32 sum over k of bf16(op(A)[i][k]) * bf16(op(B)[k][j])
 * with S summed by VDPBF16PS (`_mm512_dpbf16_ps`: each instruction adds a pair of products, k and
 * k+1, to a float32 accumulator) in increasing k, for the whole k in one accumulator chain.
 * VDPBF16PS treats bf16 subnormals (below 1.2e-38) as zero and flushes subnormal results: the
 * only departure from exact bf16-input, float32-accumulate arithmetic.
 *
 * Blocking is fixed: the packed operands are cut into blocks of MR = 8 rows of op(A) and NR = 32
 * columns of op(B), k is never cut, and each element of C is computed by one call in the order
 * above. So an element's value depends on its row of op(A), its column of op(B) and k only — not
 * on how the caller cuts the product among threads (cpu/conv.h), and not on m, n or the thread
 * count.
 *
 * The instructions are compiled with function-level target attributes, so the file builds for
 * any x86-64 (and the build needs no -march); the path is chosen at run time from CPUID
 * (mc_cpu_bf16_available). On other architectures, or a compiler without the intrinsics, the
 * mode is simply unavailable.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "cpu/conv.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && \
    (!defined(__clang__) && __GNUC__ >= 10 || defined(__clang__) && __clang_major__ >= 11)
#define HAVE_BF16_KERNEL 1
#include <immintrin.h>
#else
#define HAVE_BF16_KERNEL 0
#endif

#define MR 8
#define NR 32

/* ---- conversion (PyTorch's c10::BFloat16 round_to_nearest_even) ------------------------- */
uint16_t mc_bf16_round(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

float mc_bf16_float(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ---- availability -------------------------------------------------------------------------- */
int mc_cpu_bf16_available(void) {
    /* tests: pretend the CPU lacks it (the refusal path is then tested on every machine) */
    const char *t = getenv("MC_TEST_NO_BF16");
    if (t && *t && *t != '0') return 0;
#if HAVE_BF16_KERNEL
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
#else
    return 0;
#endif
}

#if HAVE_BF16_KERNEL
/* ---- packing ------------------------------------------------------------------------------- */
/* A word holds a pair along k: bits 0-15 the bf16 of element 2p, bits 16-31 that of 2p+1 (so the
 * pairs of op(A) and op(B) line up in VDPBF16PS's lanes); past k, past m or past n: zero. */
static inline uint32_t pair(float lo, float hi) {
    return (uint32_t)mc_bf16_round(lo) | (uint32_t)mc_bf16_round(hi) << 16;
}

#define T512 __attribute__((target("avx512f,avx512bf16")))

/* 16 floats to their bf16 bits in the low half of each 32-bit lane (the scalar rule above) */
T512 static inline __m512i rne16(__m512 x) {
    const __m512i u = _mm512_castps_si512(x);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    const __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
    return _mm512_mask_mov_epi32(r, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), _mm512_set1_epi32(0x7fc0));
}

/* the kp words of a row of floats that is contiguous along k (r[0..k)) */
T512 static void row_words(const float *r, int k, uint32_t *w) {
    int q = 0, p = 0;
    for (; q + 32 <= k; q += 32, p += 16) {
        /* 32 floats -> 32 bf16 in order = 16 pairs (little-endian: element 2p in the low half) */
        _mm256_storeu_si256((__m256i *)(w + p), _mm512_cvtepi32_epi16(rne16(_mm512_loadu_ps(r + q))));
        _mm256_storeu_si256((__m256i *)(w + p + 8), _mm512_cvtepi32_epi16(rne16(_mm512_loadu_ps(r + q + 16))));
    }
    for (; q < k; q += 2, p++) w[p] = pair(r[q], q + 1 < k ? r[q + 1] : 0.0f);
}

/* op(A) rows [i0, i0+mr) (mr <= MR) as kp pairs x MR words: out[p*MR + i]; tmp: MR*kp words */
T512 static void pack_a(int ta, const float *a, int lda, int i0, int mr, int k, uint32_t *out, uint32_t *tmp) {
    const int kp = (k + 1) / 2;
    if (!ta) { /* rows of op(A) contiguous along k: their words, then transposed */
        for (int i = 0; i < mr; i++) row_words(a + (size_t)(i0 + i) * lda, k, tmp + (size_t)i * kp);
        for (int p = 0; p < kp; p++) {
            uint32_t *o = out + (size_t)p * MR;
            for (int i = 0; i < mr; i++) o[i] = tmp[(size_t)i * kp + p];
            for (int i = mr; i < MR; i++) o[i] = 0;
        }
        return;
    }
    for (int p = 0; p < kp; p++) {
        const int k0 = 2 * p;
        const float *r0 = a + (size_t)k0 * lda + i0, *r1 = r0 + lda;
        uint32_t *o = out + (size_t)p * MR;
        for (int i = 0; i < mr; i++) o[i] = pair(r0[i], k0 + 1 < k ? r1[i] : 0.0f);
        for (int i = mr; i < MR; i++) o[i] = 0;
    }
}

/* op(B) columns [j0, j0+nr) (nr <= NR) as kp pairs x NR words: out[p*NR + j]; tmp: NR*kp words */
T512 static void pack_b(int tb, const float *b, int ldb, int j0, int nr, int k, uint32_t *out, uint32_t *tmp) {
    const int kp = (k + 1) / 2;
    if (!tb && nr == NR) {
        /* rows of op(B) are contiguous: two rows at a time, 16 columns per vector */
        for (int p = 0; p < kp; p++) {
            const float *r0 = b + (size_t)(2 * p) * ldb + j0;
            const int has1 = 2 * p + 1 < k;
            for (int h = 0; h < NR; h += 16) {
                __m512i lo = rne16(_mm512_loadu_ps(r0 + h));
                __m512i hi = has1 ? rne16(_mm512_loadu_ps(r0 + ldb + h)) : _mm512_setzero_si512();
                _mm512_storeu_si512(out + (size_t)p * NR + h, _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
            }
        }
        return;
    }
    if (tb) { /* columns of op(B) contiguous along k: their words, then transposed */
        for (int j = 0; j < nr; j++) row_words(b + (size_t)(j0 + j) * ldb, k, tmp + (size_t)j * kp);
        for (int p = 0; p < kp; p++) {
            uint32_t *o = out + (size_t)p * NR;
            for (int j = 0; j < nr; j++) o[j] = tmp[(size_t)j * kp + p];
            for (int j = nr; j < NR; j++) o[j] = 0;
        }
        return;
    }
    for (int p = 0; p < kp; p++) { /* the last strip of a non-transposed B */
        const int k0 = 2 * p;
        const float *r0 = b + (size_t)k0 * ldb + j0, *r1 = r0 + ldb;
        uint32_t *o = out + (size_t)p * NR;
        for (int j = 0; j < nr; j++) o[j] = pair(r0[j], k0 + 1 < k ? r1[j] : 0.0f);
        for (int j = nr; j < NR; j++) o[j] = 0;
    }
}

/* ---- the micro-kernel: an MR x NR block of C over all kp pairs ----------------------------- */
T512 static void kernel(int kp, const uint32_t *restrict ap, const uint32_t *restrict bp, int mr, int nr,
                        float alpha, float beta, float *c, int ldc) {
    __m512 acc[MR][2];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int p = 0; p < kp; p++) {
        const __m512bh b0 = (__m512bh)_mm512_loadu_si512(bp + (size_t)p * NR);
        const __m512bh b1 = (__m512bh)_mm512_loadu_si512(bp + (size_t)p * NR + 16);
        const uint32_t *a = ap + (size_t)p * MR;
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            const __m512bh av = (__m512bh)_mm512_set1_epi32((int)a[i]);
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], av, b0);
            acc[i][1] = _mm512_dpbf16_ps(acc[i][1], av, b1);
        }
    }
    const __mmask16 m0 = nr >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nr) - 1);
    const __mmask16 m1 = nr >= 32 ? (__mmask16)0xffff : nr > 16 ? (__mmask16)((1u << (nr - 16)) - 1) : 0;
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    for (int i = 0; i < mr; i++) {
        float *ci = c + (size_t)i * ldc;
        __m512 y0 = _mm512_mul_ps(va, acc[i][0]), y1 = _mm512_mul_ps(va, acc[i][1]);
        if (beta != 0.0f) { /* beta 0 never reads C (it may hold NaN garbage) */
            y0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, ci), y0);
            y1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, ci + 16), y1);
        }
        _mm512_mask_storeu_ps(ci, m0, y0);
        _mm512_mask_storeu_ps(ci + 16, m1, y1);
    }
}

int mc_cpu_bf16_gemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                     int ldb, float beta, float *c, int ldc) {
    if (m <= 0 || n <= 0) return MC_OK;
    const int kp = (k + 1) / 2, mb = (m + MR - 1) / MR;
    if (kp == 0) { /* empty sum: C = beta C */
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                float *y = c + (size_t)i * ldc + j;
                *y = beta == 0.0f ? 0.0f : beta * *y;
            }
        return MC_OK;
    }
    const size_t awords = (size_t)mb * kp * MR, bwords = (size_t)kp * NR;
    uint32_t *buf = mc_cpu_thread_scratch(sizeof(uint32_t) * (awords + 2 * bwords));
    if (!buf) return MC_ENOMEM;
    uint32_t *ap = buf, *bp = buf + awords, *tmp = bp + bwords; /* tmp: NR*kp >= MR*kp words */
    for (int ib = 0; ib < mb; ib++) {
        const int i0 = ib * MR, mr = m - i0 < MR ? m - i0 : MR;
        pack_a(ta, a, lda, i0, mr, k, ap + (size_t)ib * kp * MR, tmp);
    }
    for (int j0 = 0; j0 < n; j0 += NR) {
        const int nr = n - j0 < NR ? n - j0 : NR;
        pack_b(tb, b, ldb, j0, nr, k, bp, tmp);
        for (int ib = 0; ib < mb; ib++) {
            const int i0 = ib * MR, mr = m - i0 < MR ? m - i0 : MR;
            kernel(kp, ap + (size_t)ib * kp * MR, bp, mr, nr, alpha, beta, c + (size_t)i0 * ldc + j0, ldc);
        }
    }
    return MC_OK;
}
#else
int mc_cpu_bf16_gemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                     int ldb, float beta, float *c, int ldc) {
    (void)ta, (void)tb, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda, (void)b, (void)ldb;
    (void)beta, (void)c, (void)ldc;
    return MC_EUNSUP;
}
#endif

int mc_cpu_has_bf16(void) { return mc_cpu_bf16_available(); }
