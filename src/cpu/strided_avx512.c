/* cpu/strided_avx512.c — stride-2 row kernels in AVX-512 registers, for CPUs that have it
 * (issue 18): the rows of cpu/conv.c's im2col and col2im, and of max pooling's forward and
 * backward (cpu/backend_cpu.c).
 *
 * Why: the stride-2 convolutions (ResNet's 7x7 stem and the PixelShuffle module's, the 3x3 and
 * 1x1 stride-2 convolutions of the downsampling blocks, DenseNet's stem) gather every other input
 * column into the column matrix, and their backward-data adds the column matrix back into every
 * other input column. The portable loops do that one float at a time: `perf` put im2col at ~21 %
 * and col2im at ~10 % of ResNet18's 7x7 stride-2 convolution (3 -> 64 channels at 320 x 320).
 * Here 16 columns take two loads and a permute (gather), or a permute and a masked add (scatter).
 * The 3x3 stride-2 max pooling after those stems (64 planes of 159 x 159 or 160 x 160 per image)
 * was scalar too: its forward takes 16 outputs per tap the same way, and its backward looks for
 * each window's first maximum 16 windows at a time (nine compares and blends). With padding 1
 * and beta 0 (ResNet's, DenseNet's and the PixelShuffle module's pooling, sides 2 oh or
 * 2 oh - 1) the backward is a gather instead: the windows' codes (which element took the
 * maximum), then each input row summed from the codes of the one or two window rows that cover
 * it — no zero fill of the plane and no scalar read-modify-writes (64 planes, batch 16, 2
 * threads, in one process: 160 x 160 17.5 -> 13.3 ms, 159 x 159 12.4 -> 9.1 ms; about the
 * memory's bandwidth, x and dx being 105 MB each).
 *
 * Exactness: the gather is a copy; the scatter adds each s[q] to its own dst[2q] once, in the
 * order the caller calls it, as the portable loop does; the pooling does the portable code's
 * comparisons on the same values, and its backward adds the gradients one window at a time in
 * scan order — bitwise the same results (tests/test_strided_simd.c compares the convolutions and
 * the pooling with the SIMD rows on and off). Only the even elements are written (masked
 * stores): the odd ones between them, which may belong to another thread's piece, are never
 * touched; nothing outside [0, 2n - 2] is read or written.
 * Compiled with function-level target attributes as cpu/gemm_f32.c, chosen at run time with the
 * own GEMM's CPU check (mc_cpu_f32_level: cpu->simd). */
#include "cpu/conv.h"
#include "cpu/avx512.h"

#if MC_AVX512
T512 void mc_cpu_gather2_512(const float *src, int n, float *dst) {
    const __m512i ev = evens16();
    int q = 0;
    for (; q + 16 < n; q += 16) { /* src[2q .. 2q + 31] all inside [0, 2n - 2] */
        const float *s = src + 2 * (size_t)q;
        _mm512_storeu_ps(dst + q, _mm512_permutex2var_ps(_mm512_loadu_ps(s), ev, _mm512_loadu_ps(s + 16)));
    }
    if (q < n) { /* the last 1..16: src[2q .. 2n - 2] only */
        const int r = n - q, len = 2 * r - 1;
        const float *s = src + 2 * (size_t)q;
        const __m512 a = _mm512_maskz_loadu_ps(first16(len), s), b = _mm512_maskz_loadu_ps(first16(len - 16), s + 16);
        _mm512_mask_storeu_ps(dst + q, first16(r), _mm512_permutex2var_ps(a, ev, b));
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
        const __mmask16 k0 = (__mmask16)(first16(len) & even), k1 = (__mmask16)(first16(len - 16) & even);
        const __m512 v = _mm512_maskz_loadu_ps(first16(r), s + q);
        const __m512 d0 = _mm512_maskz_loadu_ps(k0, d), d1 = _mm512_maskz_loadu_ps(k1, d + 16);
        _mm512_mask_storeu_ps(d, k0, _mm512_add_ps(d0, _mm512_permutexvar_ps(lo, v)));
        _mm512_mask_storeu_ps(d + 16, k1, _mm512_add_ps(d1, _mm512_permutexvar_ps(hi, v)));
    }
}

T512 void mc_cpu_max2_512(const float *src, int n, float *acc) {
    const __m512i ev = evens16();
    for (int q = 0; q < n; q += 16) {
        const float *s = src + 2 * (size_t)q;
        __m512 v;
        __mmask16 k = 0xFFFF;
        if (q + 16 < n) {
            v = _mm512_permutex2var_ps(_mm512_loadu_ps(s), ev, _mm512_loadu_ps(s + 16));
        } else { /* the last 1..16: src[2q .. 2n - 2] only */
            const int len = 2 * (n - q) - 1;
            v = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(first16(len), s), ev,
                                       _mm512_maskz_loadu_ps(first16(len - 16), s + 16));
            k = first16(n - q);
        }
        const __m512 a = _mm512_maskz_loadu_ps(k, acc + q);
        /* a = (v > a || isnan(v)) ? v : a */
        const __mmask16 take = _mm512_cmp_ps_mask(v, a, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
        _mm512_mask_storeu_ps(acc + q, (__mmask16)(take & k), v);
    }
}

/* the even (*e) and odd (*o) elements of r[0 .. 31], those at or past r[len] 0 (not read), with no
 * left-edge test (one made the pooling backward 25 % slower) */
T512 static inline void split_len(const float *r, int len, __m512 *e, __m512 *o) {
    const __m512i ev = evens16();
    const __m512i od = odds16();
    const __m512 a = len >= 16 ? _mm512_loadu_ps(r) : _mm512_maskz_loadu_ps(first16(len), r);
    const __m512 b = len >= 32 ? _mm512_loadu_ps(r + 16) : _mm512_maskz_loadu_ps(first16(len - 16), r + 16);
    evens_odds16(a, b, ev, od, e, o);
}

/* the element of each of cnt <= 16 windows the backward gives its gradient to (0..8, row by row
 * in the window): the first equal to the window's maximum m16[l] in scan order, the last NaN when
 * m16[l] is NaN */
T512 static inline __m512i maxpool3s2_codes(const float *x00, int w, int cnt, const float *m16) {
    const int len = 2 * cnt + 1; /* the columns the cnt windows read from each row */
    const __m512 m = cnt == 16 ? _mm512_loadu_ps(m16) : _mm512_maskz_loadu_ps(first16(cnt), m16);
    const __mmask16 nan = _mm512_cmp_ps_mask(m, m, _CMP_UNORD_Q);
    __m512i kf = _mm512_setzero_si512(), kn = _mm512_setzero_si512(); /* first equal; last NaN */
    __m512 cand[9];
    for (int r = 0; r < 3; r++) {
        __m512 e2, o2;
        split_len(x00 + (size_t)r * w, len, &cand[3 * r], &cand[3 * r + 1]);
        split_len(x00 + (size_t)r * w + 2, len - 2, &e2, &o2);
        cand[3 * r + 2] = e2;
    }
    for (int j = 8; j >= 0; j--)
        kf = _mm512_mask_mov_epi32(kf, _mm512_cmp_ps_mask(cand[j], m, _CMP_EQ_OQ), _mm512_set1_epi32(j));
    for (int j = 0; j < 9; j++)
        kn = _mm512_mask_mov_epi32(kn, _mm512_cmp_ps_mask(cand[j], cand[j], _CMP_UNORD_Q), _mm512_set1_epi32(j));
    return _mm512_mask_mov_epi32(kf, nan, kn);
}

T512 void mc_cpu_maxpool3s2_bwd512(const float *x00, int w, int cnt, const float *m16, const float *g16,
                                   float *d00) {
    int k[16];
    _mm512_storeu_si512((void *)k, maxpool3s2_codes(x00, w, cnt, m16));
    const size_t off[9] = {0, 1, 2, (size_t)w, (size_t)w + 1, (size_t)w + 2, 2 * (size_t)w, 2 * (size_t)w + 1,
                           2 * (size_t)w + 2};
    for (int l = 0; l < cnt; l++) d00[2 * l + off[k[l]]] += g16[l]; /* in window order */
}

T512 void mc_cpu_maxpool3s2_codes512(const float *x00, int w, int cnt, const float *m16, int32_t *k16) {
    const __m512i k = maxpool3s2_codes(x00, w, cnt, m16);
    if (cnt == 16)
        _mm512_storeu_si512((void *)k16, k);
    else
        _mm512_mask_storeu_epi32(k16, first16(cnt), k);
}

/* acc_e / acc_o += the gradients of windows b .. b + 15 (codes k, gradients g; window b + 1's
 * from k + 1, g + 1) that went to their row r's even (code 3r + 1) and odd (3r + 2 of window b,
 * then 3r of window b + 1) elements; n windows left in the row (lanes past it not read) */
T512 static inline void maxpool_gather_row(const int32_t *k, const float *g, int r, int n, __m512 *acc_e,
                                           __m512 *acc_o) {
    const __mmask16 m0 = n >= 16 ? 0xFFFF : first16(n), m1 = n > 16 ? 0xFFFF : first16(n - 1);
    const __m512i k0 = _mm512_maskz_loadu_epi32(m0, k), k1 = _mm512_maskz_loadu_epi32(m1, k + 1);
    const __m512 g0 = _mm512_maskz_loadu_ps(m0, g), g1 = _mm512_maskz_loadu_ps(m1, g + 1);
    const __mmask16 e = _mm512_mask_cmpeq_epi32_mask(m0, k0, _mm512_set1_epi32(3 * r + 1));
    const __mmask16 o0 = _mm512_mask_cmpeq_epi32_mask(m0, k0, _mm512_set1_epi32(3 * r + 2));
    const __mmask16 o1 = _mm512_mask_cmpeq_epi32_mask(m1, k1, _mm512_set1_epi32(3 * r));
    *acc_e = _mm512_mask_add_ps(*acc_e, e, *acc_e, g0);
    *acc_o = _mm512_mask_add_ps(*acc_o, o0, *acc_o, g0);
    *acc_o = _mm512_mask_add_ps(*acc_o, o1, *acc_o, g1);
}

T512 void mc_cpu_maxpool3s2_gather512(const int32_t *ka, const float *ga, int ra, const int32_t *kb,
                                      const float *gb, int ow, int w, float *d) {
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    for (int b = 0; b < ow; b += 16) {
        __m512 e = _mm512_setzero_ps(), o = _mm512_setzero_ps();
        maxpool_gather_row(ka + b, ga + b, ra, ow - b, &e, &o);
        if (kb) maxpool_gather_row(kb + b, gb + b, 0, ow - b, &e, &o);
        const __m512 v0 = _mm512_permutex2var_ps(e, lo, o), v1 = _mm512_permutex2var_ps(e, hi, o);
        float *p = d + 2 * (size_t)b;
        if (w - 2 * b >= 32) {
            _mm512_storeu_ps(p, v0);
            _mm512_storeu_ps(p + 16, v1);
        } else {
            const int n2 = w - 2 * b; /* 2 (ow - b) or one less */
            _mm512_mask_storeu_ps(p, first16(n2), v0);
            _mm512_mask_storeu_ps(p + 16, first16(n2 - 16), v1);
        }
    }
}

#else
void mc_cpu_max2_512(const float *src, int n, float *acc) { (void)src, (void)n, (void)acc; }
void mc_cpu_maxpool3s2_bwd512(const float *x00, int w, int cnt, const float *m16, const float *g16, float *d00) {
    (void)x00, (void)w, (void)cnt, (void)m16, (void)g16, (void)d00;
}
void mc_cpu_maxpool3s2_codes512(const float *x00, int w, int cnt, const float *m16, int32_t *k16) {
    (void)x00, (void)w, (void)cnt, (void)m16, (void)k16;
}
void mc_cpu_maxpool3s2_gather512(const int32_t *ka, const float *ga, int ra, const int32_t *kb, const float *gb,
                                 int ow, int w, float *d) {
    (void)ka, (void)ga, (void)ra, (void)kb, (void)gb, (void)ow, (void)w, (void)d;
}
void mc_cpu_gather2_512(const float *src, int n, float *dst) { (void)src, (void)n, (void)dst; }
void mc_cpu_scatter2_add512(const float *s, int n, float *dst) { (void)s, (void)n, (void)dst; }
#endif
