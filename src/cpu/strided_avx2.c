/* cpu/strided_avx2.c — cpu/strided_avx512.c's stride-2 rows at 8 lanes, for CPUs with AVX2 but
 * not AVX-512 (issue 18): im2col's stride-2 gather and 3 x 3 stride-2 max pooling, forward and
 * backward (the backward's gather too). col2im's stride-2 scatter stays portable here: it must
 * not write the odd elements between its targets (another thread's piece may own them), and
 * AVX2's masked store is slow.
 *
 * Exactness: the portable loops' operations on the same operands in the same order (a gather is
 * a copy; the forward's maximum takes v where v > acc or v is NaN, as the portable comparison;
 * the backward finds the same element of each window — the first equal to the maximum, or the
 * last NaN — and adds the gradients in window order), so the bits are theirs
 * (tests/test_strided_simd.c compares them). Nothing outside [0, 2n - 2] is read or written.
 * Chosen at run time (cpu->simd). */
#include "cpu/conv.h"
#include "cpu/avx2.h"

#if MC_AVX512
/* the even (*e) and odd (*o) elements of r[0 .. 15], those at or past r[len] 0 (not read) */
T256 static inline void split_len(const float *r, int len, __m256 *e, __m256 *o) {
    evens_odds8(loadn8(len, r), loadn8(len - 8, r + 8), e, o);
}

T256 void mc_cpu_gather2_256(const float *src, int n, float *dst) {
    for (int q = 0; q < n; q += 8) { /* src[2q .. 2n - 2] only */
        __m256 e, o;
        split_len(src + 2 * (size_t)q, 2 * (n - q) - 1, &e, &o);
        storen8(dst + q, n - q, e);
    }
}

T256 void mc_cpu_max2_256(const float *src, int n, float *acc) {
    for (int q = 0; q < n; q += 8) {
        __m256 v, o;
        split_len(src + 2 * (size_t)q, 2 * (n - q) - 1, &v, &o);
        const __m256 a = loadn8(n - q, acc + q);
        /* a = (v > a || isnan(v)) ? v : a */
        const __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, a, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
        storen8(acc + q, n - q, _mm256_blendv_ps(a, v, take));
    }
}

/* up to 8 windows: the element of each (0 .. 8 in row-major order) that gets its gradient */
T256 static void window_index8(const float *x00, int w, int cnt, const float *m8, int k[8]) {
    const int len = 2 * cnt + 1; /* the columns the cnt windows read from each row */
    const __m256 m = loadn8(cnt, m8);
    const __m256 nan = _mm256_cmp_ps(m, m, _CMP_UNORD_Q);
    __m256 kf = _mm256_setzero_ps(), kn = _mm256_setzero_ps(); /* first equal; last NaN (int bits) */
    __m256 cand[9];
    for (int r = 0; r < 3; r++) {
        __m256 e2, o2;
        split_len(x00 + (size_t)r * w, len, &cand[3 * r], &cand[3 * r + 1]);
        split_len(x00 + (size_t)r * w + 2, len - 2, &e2, &o2);
        cand[3 * r + 2] = e2;
    }
    for (int j = 8; j >= 0; j--)
        kf = _mm256_blendv_ps(kf, _mm256_castsi256_ps(_mm256_set1_epi32(j)), _mm256_cmp_ps(cand[j], m, _CMP_EQ_OQ));
    for (int j = 0; j < 9; j++)
        kn = _mm256_blendv_ps(kn, _mm256_castsi256_ps(_mm256_set1_epi32(j)),
                              _mm256_cmp_ps(cand[j], cand[j], _CMP_UNORD_Q));
    _mm256_storeu_si256((__m256i *)k, _mm256_castps_si256(_mm256_blendv_ps(kf, kn, nan)));
}

T256 void mc_cpu_maxpool3s2_bwd256(const float *x00, int w, int cnt, const float *m16, const float *g16,
                                   float *d00) {
    const size_t off[9] = {0, 1, 2, (size_t)w, (size_t)w + 1, (size_t)w + 2, 2 * (size_t)w, 2 * (size_t)w + 1,
                           2 * (size_t)w + 2};
    for (int h = 0; h < cnt; h += 8) { /* windows h .. h + 7, then the next eight: in window order */
        const int c8 = cnt - h < 8 ? cnt - h : 8;
        int k[8];
        window_index8(x00 + 2 * (size_t)h, w, c8, m16 + h, k);
        for (int l = 0; l < c8; l++) d00[2 * (size_t)(h + l) + off[k[l]]] += g16[h + l];
    }
}

T256 void mc_cpu_maxpool3s2_codes256(const float *x00, int w, int cnt, const float *m16, int32_t *k16) {
    for (int h = 0; h < cnt; h += 8) {
        int k[8];
        window_index8(x00 + 2 * (size_t)h, w, cnt - h < 8 ? cnt - h : 8, m16 + h, k);
        for (int l = 0; l < 8 && h + l < cnt; l++) k16[h + l] = k[l];
    }
}

/* cpu/strided_avx512.c's maxpool_gather_row at 8 lanes: the masked adds as blends (acc + g where
 * the code matches, acc elsewhere) */
T256 static inline void maxpool_gather_row8(const int32_t *k, const float *g, int r, int n, __m256 *acc_e,
                                            __m256 *acc_o) {
    const __m256i m0 = first8(n), m1 = first8(n - 1);
    const __m256i k0 = _mm256_maskload_epi32(k, m0), k1 = _mm256_maskload_epi32(k + 1, m1);
    const __m256 g0 = loadn8(n, g), g1 = loadn8(n - 1, g + 1);
    const __m256 e = _mm256_castsi256_ps(_mm256_and_si256(m0, _mm256_cmpeq_epi32(k0, _mm256_set1_epi32(3 * r + 1))));
    const __m256 o0 = _mm256_castsi256_ps(_mm256_and_si256(m0, _mm256_cmpeq_epi32(k0, _mm256_set1_epi32(3 * r + 2))));
    const __m256 o1 = _mm256_castsi256_ps(_mm256_and_si256(m1, _mm256_cmpeq_epi32(k1, _mm256_set1_epi32(3 * r))));
    *acc_e = _mm256_blendv_ps(*acc_e, _mm256_add_ps(*acc_e, g0), e);
    *acc_o = _mm256_blendv_ps(*acc_o, _mm256_add_ps(*acc_o, g0), o0);
    *acc_o = _mm256_blendv_ps(*acc_o, _mm256_add_ps(*acc_o, g1), o1);
}

T256 void mc_cpu_maxpool3s2_gather256(const int32_t *ka, const float *ga, int ra, const int32_t *kb,
                                      const float *gb, int ow, int w, float *d) {
    for (int b = 0; b < ow; b += 8) {
        __m256 e = _mm256_setzero_ps(), o = _mm256_setzero_ps();
        maxpool_gather_row8(ka + b, ga + b, ra, ow - b, &e, &o);
        if (kb) maxpool_gather_row8(kb + b, gb + b, 0, ow - b, &e, &o);
        /* (e0 o0 e1 o1 | e4 o4 e5 o5), (e2 o2 e3 o3 | e6 o6 e7 o7) -> elements 0-7, 8-15 */
        const __m256 lo = _mm256_unpacklo_ps(e, o), hi = _mm256_unpackhi_ps(e, o);
        float *p = d + 2 * (size_t)b;
        const int n2 = w - 2 * b; /* 2 (ow - b) or one less */
        storen8(p, n2, _mm256_permute2f128_ps(lo, hi, 0x20));
        storen8(p + 8, n2 - 8, _mm256_permute2f128_ps(lo, hi, 0x31));
    }
}

/* cpu/sums_avx512.c's plane sum with the eight double partials as two vectors of four */
T256 double mc_cpu_plane_sum8_256(const float *p, int hw) {
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    int j = 0;
    for (; j + 8 <= hw; j += 8) {
        a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(_mm_loadu_ps(p + j)));
        a1 = _mm256_add_pd(a1, _mm256_cvtps_pd(_mm_loadu_ps(p + j + 4)));
    }
    double s[8];
    _mm256_storeu_pd(s, a0);
    _mm256_storeu_pd(s + 4, a1);
    for (int k = 0; j < hw; j++, k++) s[k] += (double)p[j];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

#else
void mc_cpu_gather2_256(const float *src, int n, float *dst) { (void)src, (void)n, (void)dst; }
void mc_cpu_max2_256(const float *src, int n, float *acc) { (void)src, (void)n, (void)acc; }
void mc_cpu_maxpool3s2_bwd256(const float *x00, int w, int cnt, const float *m16, const float *g16, float *d00) {
    (void)x00, (void)w, (void)cnt, (void)m16, (void)g16, (void)d00;
}
double mc_cpu_plane_sum8_256(const float *p, int hw) {
    (void)p, (void)hw;
    return 0.0;
}
void mc_cpu_maxpool3s2_codes256(const float *x00, int w, int cnt, const float *m16, int32_t *k16) {
    (void)x00, (void)w, (void)cnt, (void)m16, (void)k16;
}
void mc_cpu_maxpool3s2_gather256(const int32_t *ka, const float *ga, int ra, const int32_t *kb, const float *gb,
                                 int ow, int w, float *d) {
    (void)ka, (void)ga, (void)ra, (void)kb, (void)gb, (void)ow, (void)w, (void)d;
}
#endif
