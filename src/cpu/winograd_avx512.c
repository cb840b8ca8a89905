/* cpu/winograd_avx512.c — the F(2x2, 3x3) row transforms of cpu/winograd.c (input, output,
 * output-gradient) and its filter transform in AVX-512 registers, for CPUs that have it (issue 18).
 *
 * Why: the portable row transforms (winograd.c: split_row, bt4, at4) go through small temporary
 * rows: each input row is split into even and odd columns in memory, each butterfly reads and
 * writes its rows again. On ResNet18's and the PixelShuffle module's steps they were ~14 % (input)
 * and ~9 % (output) of the time in `perf`, ahead of everything but the GEMM micro-kernel. Here 16
 * tiles are one vector: an input row's even and odd columns come out of two loads by two
 * permutes (split16; twice, two columns apart, for the tiles' four columns), the 4 x 4
 * butterflies stay in 16 registers, and the 16 transformed values go straight to V; the output side interleaves its two columns with two permutes and stores whole
 * output rows. The filter transform (~2 %) takes 16 filters per vector by gathers.
 *
 * Exactness: the same float operations on the same operands in the same order as the portable
 * functions (each an IEEE add, subtract, halving or sign flip; no contraction: the build is
 * -std=c11, where GCC's default is -ffp-contract=off, and beta's blend is an explicit multiply then
 * add), so the results
 * are bitwise those of winograd.c's scalar path; tests/test_winograd_simd.c compares the two.
 * Compiled with function-level target attributes (as cpu/gemm_f32.c), chosen at run time with the
 * own GEMM's CPU check (mc_cpu_avx512_available: cpu->avx512). */
#include "cpu/conv.h"
#include "cpu/avx512.h"

#if MC_AVX512
T512 void mc_cpu_wino_in_row512(const float *plane, int h, int w, int pad, int ty, int tx0, int cnt, float *v,
                                size_t ldv) {
    for (int q0 = 0; q0 < cnt; q0 += 16) {
        __m512 H[4][4]; /* d B of the 4 input rows: H[row][component], one tile per lane */
        for (int i = 0; i < 4; i++) {
            int iy = 2 * ty - pad + i;
            if (iy < 0 || iy >= h) {
                H[i][0] = H[i][1] = H[i][2] = H[i][3] = _mm512_setzero_ps();
                continue;
            }
            const float *row = plane + (size_t)iy * w;
            int c0 = 2 * (tx0 + q0) - pad; /* tile q's columns: c0 + 2q .. c0 + 2q + 3 */
            __m512 d0, d1, d2, d3;
            split16(row, c0, w, &d0, &d1);
            split16(row, c0 + 2, w, &d2, &d3);
            H[i][0] = _mm512_sub_ps(d0, d2);
            H[i][1] = _mm512_add_ps(d1, d2);
            H[i][2] = _mm512_sub_ps(d2, d1);
            H[i][3] = _mm512_sub_ps(d1, d3);
        }
        const __mmask16 k = first16(cnt - q0);
        for (int j = 0; j < 4; j++) { /* B^T (.) down the rows: V[4 r + j] */
            float *o = v + q0 + (size_t)j * ldv;
            store_k(o, k, _mm512_sub_ps(H[0][j], H[2][j]));
            store_k(o + 4 * ldv, k, _mm512_add_ps(H[1][j], H[2][j]));
            store_k(o + 8 * ldv, k, _mm512_sub_ps(H[2][j], H[1][j]));
            store_k(o + 12 * ldv, k, _mm512_sub_ps(H[1][j], H[3][j]));
        }
    }
}

T512 void mc_cpu_wino_out_row512(const float *m, size_t ldm, int oh, int ow, int ty, int tx0, int cnt, float beta,
                                 float *yk) {
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const __m512 vb = _mm512_set1_ps(beta);
    for (int q0 = 0; q0 < cnt; q0 += 16) {
        const __mmask16 k = first16(cnt - q0);
        __m512 S[2][4]; /* A^T m: S[r][j] */
        for (int j = 0; j < 4; j++) {
            const float *p = m + q0 + (size_t)j * ldm;
            __m512 a0 = load_k(k, p), a1 = load_k(k, p + 4 * ldm), a2 = load_k(k, p + 8 * ldm), a3 = load_k(k, p + 12 * ldm);
            S[0][j] = _mm512_add_ps(_mm512_add_ps(a0, a1), a2);
            S[1][j] = _mm512_sub_ps(_mm512_sub_ps(a1, a2), a3);
        }
        const int x0 = 2 * (tx0 + q0), ncol = 2 * (cnt - q0) < ow - x0 ? 2 * (cnt - q0) : ow - x0;
        const __mmask16 k0 = first16(ncol), k1 = first16(ncol - 16 > 0 ? ncol - 16 : 0);
        for (int r = 0; r < 2 && 2 * ty + r < oh; r++) {
            __m512 e = _mm512_add_ps(_mm512_add_ps(S[r][0], S[r][1]), S[r][2]); /* (.) A along the row */
            __m512 o = _mm512_sub_ps(_mm512_sub_ps(S[r][1], S[r][2]), S[r][3]);
            __m512 y0 = _mm512_permutex2var_ps(e, lo, o), y1 = _mm512_permutex2var_ps(e, hi, o);
            float *yr = yk + (size_t)(2 * ty + r) * ow + x0;
            if (beta != 0.0f) {
                y0 = _mm512_add_ps(y0, _mm512_mul_ps(vb, load_k(k0, yr)));
                y1 = _mm512_add_ps(y1, _mm512_mul_ps(vb, load_k(k1, yr + 16)));
            }
            store_k(yr, k0, y0);
            store_k(yr + 16, k1, y1);
        }
    }
}

/* -x as C's unary minus: the sign bit flipped (0 - x would turn -0 into +0) */
T512 static inline __m512 neg(__m512 x) {
    return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u)));
}

/* winograd.c's a2x: a, a + b, a - b, -b into rows o, o + ld, o + 2 ld, o + 3 ld */
T512 static inline void a2x(__m512 a, __m512 b, float *o, size_t ld, __mmask16 k) {
    store_k(o, k, a);
    store_k(o + ld, k, _mm512_add_ps(a, b));
    store_k(o + 2 * ld, k, _mm512_sub_ps(a, b));
    store_k(o + 3 * ld, k, neg(b));
}

T512 void mc_cpu_wino_grad_row512(const float *plane, int oh, int ow, int ty, int tx0, int cnt, float *e, size_t lde) {
    const float *r0 = plane + (size_t)(2 * ty) * ow, *r1 = r0 + ow;
    const int second = 2 * ty + 1 < oh;
    for (int q0 = 0; q0 < cnt; q0 += 16) {
        const int c0 = 2 * (tx0 + q0);
        const __mmask16 k = first16(cnt - q0);
        __m512 g0e, g0o, g1e = _mm512_setzero_ps(), g1o = _mm512_setzero_ps();
        split16(r0, c0, ow, &g0e, &g0o);
        if (second) split16(r1, c0, ow, &g1e, &g1o);
        float *o = e + q0;
        a2x(g0e, g0o, o, lde, k); /* A g: rows g0, g0 + g1, g0 - g1, -g1, then (.) A^T */
        a2x(_mm512_add_ps(g0e, g1e), _mm512_add_ps(g0o, g1o), o + 4 * lde, lde, k);
        a2x(_mm512_sub_ps(g0e, g1e), _mm512_sub_ps(g0o, g1o), o + 8 * lde, lde, k);
        a2x(neg(g1e), neg(g1o), o + 12 * lde, lde, k);
    }
}

/* U[xi][q] = (G g G^T)[xi] for the 16 filters g = w[q .. q + 15] (fewer at the end of kc), with
 * winograd.c's filter_transform's operations: the nine taps of 16 filters by gathers */
T512 void mc_cpu_wino_filter512(const float *w, size_t q0, size_t kc, float *U) {
    const __mmask16 k = first16(kc - q0 < 16 ? (int)(kc - q0) : 16);
    const __m512i nine = _mm512_setr_epi32(0, 9, 18, 27, 36, 45, 54, 63, 72, 81, 90, 99, 108, 117, 126, 135);
    const __m512 half = _mm512_set1_ps(0.5f);
    const float *g = w + q0 * 9;
    __m512 t[4][3]; /* G g */
    for (int j = 0; j < 3; j++) {
        __m512 g0 = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, _mm512_add_epi32(nine, _mm512_set1_epi32(j)), g, 4);
        __m512 g1 = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, _mm512_add_epi32(nine, _mm512_set1_epi32(3 + j)), g, 4);
        __m512 g2 = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, _mm512_add_epi32(nine, _mm512_set1_epi32(6 + j)), g, 4);
        t[0][j] = g0;
        t[1][j] = _mm512_mul_ps(half, _mm512_add_ps(_mm512_add_ps(g0, g1), g2));
        t[2][j] = _mm512_mul_ps(half, _mm512_add_ps(_mm512_sub_ps(g0, g1), g2));
        t[3][j] = g2;
    }
    for (int i = 0; i < 4; i++) { /* (G g) G^T */
        __m512 a0 = t[i][0], a1 = t[i][1], a2 = t[i][2];
        store_k(U + (size_t)(i * 4 + 0) * kc + q0, k, a0);
        store_k(U + (size_t)(i * 4 + 1) * kc + q0, k, _mm512_mul_ps(half, _mm512_add_ps(_mm512_add_ps(a0, a1), a2)));
        store_k(U + (size_t)(i * 4 + 2) * kc + q0, k, _mm512_mul_ps(half, _mm512_add_ps(_mm512_sub_ps(a0, a1), a2)));
        store_k(U + (size_t)(i * 4 + 3) * kc + q0, k, a2);
    }
}

#else
void mc_cpu_wino_filter512(const float *w, size_t q0, size_t kc, float *U) { (void)w, (void)q0, (void)kc, (void)U; }
void mc_cpu_wino_grad_row512(const float *plane, int oh, int ow, int ty, int tx0, int cnt, float *e, size_t lde) {
    (void)plane, (void)oh, (void)ow, (void)ty, (void)tx0, (void)cnt, (void)e, (void)lde;
}
void mc_cpu_wino_in_row512(const float *plane, int h, int w, int pad, int ty, int tx0, int cnt, float *v, size_t ldv) {
    (void)plane, (void)h, (void)w, (void)pad, (void)ty, (void)tx0, (void)cnt, (void)v, (void)ldv;
}
void mc_cpu_wino_out_row512(const float *m, size_t ldm, int oh, int ow, int ty, int tx0, int cnt, float beta,
                            float *yk) {
    (void)m, (void)ldm, (void)oh, (void)ow, (void)ty, (void)tx0, (void)cnt, (void)beta, (void)yk;
}
#endif
