/* cpu/winograd_avx512.c — F(2x2, 3x3)'s transforms of cpu/winograd.c (input, output,
 * output-gradient, filter) in AVX-512 registers, for CPUs that have it (issue 18;
 * cpu/winograd_avx2.c: the row transforms at 8 tiles per vector).
 *
 * Why: the portable row transforms (winograd.c: split_row, bt4, at4) go through small temporary
 * rows: each input row is split into even and odd columns in memory, each butterfly reads and
 * writes its rows again. On ResNet18's and the PixelShuffle module's steps they were ~14 % (input)
 * and ~9 % (output) of the time in `perf`, ahead of everything but the GEMM micro-kernel. Here 16
 * tiles are one vector: an input row's even and odd columns come out of whole-vector loads by two
 * permutes (twice, two columns apart, for the tiles' four columns), the 4 x 4 butterflies stay in
 * registers, and the 16 transformed values go straight to V; the output side interleaves its two
 * columns with two permutes and stores whole output rows. The 16 tiles are 16 consecutive tiles
 * of a block, from one tile row or several (and several images): a vector's lanes come in runs
 * of one tile row each (cpu/conv.h: mc_cpu_wino_lanes), each run's columns loaded (or stored)
 * under its own lane mask. These block transforms replaced row transforms like AVX2's (one tile
 * row per vector and per call), which left lanes empty at every row end: 6 of 16 on a 20 x 20
 * output, 11 on 10 x 10 (winograd.c: block_lanes; docs/performance.md). The filter transform
 * (~2 %) takes 16 filters per vector by gathers.
 *
 * Exactness: the same float operations on the same operands in the same order as the portable
 * functions (each an IEEE add, subtract, halving or sign flip; no contraction: the build is
 * -std=c11, where GCC's default is -ffp-contract=off, and beta's blend is an explicit multiply then
 * add), so the results are bitwise those of winograd.c's scalar path; tests/test_winograd_simd.c
 * compares the two. Compiled with function-level target attributes (as cpu/gemm_f32.c), chosen at
 * run time with the own GEMM's CPU check (mc_cpu_f32_level: cpu->simd). */
#include <stdint.h>
#include "cpu/conv.h"
#include "cpu/avx512.h"

#if MC_AVX512
/* -x as C's unary minus: the sign bit flipped (0 - x would turn -0 into +0) */
#define V_NEG(x) _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u)))

/* ---- block transforms (cpu/conv.h: mc_cpu_wino_lanes) ---- */
/* v as a value the compiler cannot fold into a masked load or store: GCC turns "whole load, then
 * lanes masked in registers" into a masked load, which is slow on the EPYC measured (a block's
 * input transform took 11 ms instead of 4.9) */
T512 static inline __m512 opaque(__m512 v) {
    __asm__("" : "+v"(v));
    return v;
}

/* acc with the lanes k of p[0 .. 15]: a whole-vector load and a register blend where [p, p + 16)
 * lies in [lo, hi), else a masked load */
T512 static inline __m512 merge_k(__m512 acc, const float *p, uintptr_t lo, uintptr_t hi, __mmask16 k) {
    if (!k) return acc;
    const uintptr_t a = (uintptr_t)p;
    if (a >= lo && a + 16 * sizeof(float) <= hi) return _mm512_mask_mov_ps(acc, k, opaque(_mm512_loadu_ps(p)));
    return _mm512_mask_loadu_ps(acc, k, p);
}

/* raw[s] = the columns col + (0, 16, 2, 18)[s] .. + 15 of row `row0 + i` of each run (its lanes
 * only; 0 elsewhere and outside the plane's rows [0, h)), s < ns */
T512 static inline void runs_row(const float *x, uintptr_t lo, uintptr_t hi, size_t img, int h, int w,
                                 const mc_cpu_wino_run *R, int nr, int i, int ns, __m512 raw[4]) {
    static const int off[4] = {0, 16, 2, 18};
    if (nr == 1 && (R->k[0] & R->k[1] & (ns > 2 ? R->k[2] & R->k[3] : 0xFFFF)) == 0xFFFF) {
        /* one run over the whole vector, all its columns inside the row (inside the tensor): whole
         * loads, no tests (64 -> 64 at 80^2, 1 thread: forward 27.1 -> 26.6 ms, backward-filter
         * 35.9 -> 35.5) */
        const int iy = R->row + i;
        if (iy >= 0 && iy < h) {
            const float *p = x + (size_t)R->n * img + (size_t)iy * w + R->col;
            for (int s = 0; s < ns; s++) raw[s] = _mm512_loadu_ps(p + off[s]);
        } else
            for (int s = 0; s < ns; s++) raw[s] = _mm512_setzero_ps();
        return;
    }
    for (int s = 0; s < ns; s++) raw[s] = _mm512_setzero_ps();
    for (int r = 0; r < nr; r++) {
        const int iy = R[r].row + i;
        if (iy < 0 || iy >= h) continue;
        const float *p = x + (size_t)R[r].n * img + (size_t)iy * w + R[r].col;
        for (int s = 0; s < ns; s++) raw[s] = merge_k(raw[s], p + off[s], lo, hi, R[r].k[s]);
    }
}

T512 static inline void store_v(float *p, __mmask16 k, __m512 v) {
    if (k == 0xFFFF)
        _mm512_storeu_ps(p, opaque(v));
    else
        _mm512_mask_storeu_ps(p, k, v);
}

/* V: per input row i the split columns d0..d3 and H = d B (d0 - d2, d1 + d2, d2 - d1, d1 - d3),
 * then B^T (.) down the rows, V[4 r + j] = (H0 - H2, H1 + H2, H2 - H1, H1 - H3)[r][j] (the portable
 * input_row's operations; all four rows' H live: AVX-512 has 32 registers) */
T512 void mc_cpu_wino_in_block512(const float *x, const float *lo, const float *hi, size_t img, int h, int w,
                                  const mc_cpu_wino_lanes *L, float *v, size_t ldv) {
    const __m512i ev = evens16(), od = odds16();
    for (int q = 0; q < L->nvec; q++) {
        const mc_cpu_wino_run *R = L->run + L->first[q];
        const int nr = L->first[q + 1] - L->first[q];
        __m512 H[4][4];
        for (int i = 0; i < 4; i++) {
            __m512 raw[4], d0, d1, d2, d3;
            runs_row(x, (uintptr_t)lo, (uintptr_t)hi, img, h, w, R, nr, i, 4, raw);
            evens_odds16(raw[0], raw[1], ev, od, &d0, &d1);
            evens_odds16(raw[2], raw[3], ev, od, &d2, &d3);
            H[i][0] = _mm512_sub_ps(d0, d2);
            H[i][1] = _mm512_add_ps(d1, d2);
            H[i][2] = _mm512_sub_ps(d2, d1);
            H[i][3] = _mm512_sub_ps(d1, d3);
        }
        const __mmask16 k = first16(L->nb - 16 * q);
        for (int j = 0; j < 4; j++) {
            float *o = v + 16 * (size_t)q + (size_t)j * ldv;
            store_v(o, k, _mm512_sub_ps(H[0][j], H[2][j]));
            store_v(o + 4 * ldv, k, _mm512_add_ps(H[1][j], H[2][j]));
            store_v(o + 8 * ldv, k, _mm512_sub_ps(H[2][j], H[1][j]));
            store_v(o + 12 * ldv, k, _mm512_sub_ps(H[1][j], H[3][j]));
        }
    }
}

/* E: A g A^T of the 2x2 output-gradient tiles (the portable grad_row's operations): a2x stores
 * a, a + b, a - b, -b into rows o, o + ld, o + 2 ld, o + 3 ld */
T512 static inline void a2x_v(__m512 a, __m512 b, float *o, size_t ld, __mmask16 n) {
    store_v(o, n, a);
    store_v(o + ld, n, _mm512_add_ps(a, b));
    store_v(o + 2 * ld, n, _mm512_sub_ps(a, b));
    store_v(o + 3 * ld, n, V_NEG(b));
}
T512 void mc_cpu_wino_grad_block512(const float *g, const float *lo, const float *hi, size_t img, int oh, int ow,
                                    const mc_cpu_wino_lanes *L, float *e, size_t lde) {
    const __m512i ev = evens16(), od = odds16();
    for (int q = 0; q < L->nvec; q++) {
        const mc_cpu_wino_run *R = L->run + L->first[q];
        const int nr = L->first[q + 1] - L->first[q];
        __m512 r0[4], r1[4], g0e, g0o, g1e, g1o;
        runs_row(g, (uintptr_t)lo, (uintptr_t)hi, img, oh, ow, R, nr, 0, 2, r0);
        runs_row(g, (uintptr_t)lo, (uintptr_t)hi, img, oh, ow, R, nr, 1, 2, r1);
        evens_odds16(r0[0], r0[1], ev, od, &g0e, &g0o);
        evens_odds16(r1[0], r1[1], ev, od, &g1e, &g1o);
        const __mmask16 n = first16(L->nb - 16 * q);
        float *o = e + 16 * (size_t)q;
        a2x_v(g0e, g0o, o, lde, n);
        a2x_v(_mm512_add_ps(g0e, g1e), _mm512_add_ps(g0o, g1o), o + 4 * lde, lde, n);
        a2x_v(_mm512_sub_ps(g0e, g1e), _mm512_sub_ps(g0o, g1o), o + 8 * lde, lde, n);
        a2x_v(V_NEG(g1e), V_NEG(g1o), o + 12 * lde, lde, n);
    }
}

/* y = A^T m A (the portable output_row's operations, blended with beta): each run's output columns stored under its
 * masks (masked stores where a run covers part of a vector: the neighbouring columns may be
 * another thread's) */
T512 void mc_cpu_wino_out_block512(const float *m, size_t ldm, size_t img, int oh, int ow, const mc_cpu_wino_lanes *L,
                                   float beta, float *y) {
    const __m512 vb = _mm512_set1_ps(beta);
    const __m512i zl = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i zh = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    for (int q = 0; q < L->nvec; q++) {
        const mc_cpu_wino_run *R = L->run + L->first[q];
        const int nr = L->first[q + 1] - L->first[q];
        const __mmask16 k = first16(L->nb - 16 * q);
        __m512 S[2][4];
        for (int j = 0; j < 4; j++) {
            const float *p = m + 16 * (size_t)q + (size_t)j * ldm;
            __m512 a0 = load_k(k, p), a1 = load_k(k, p + 4 * ldm), a2 = load_k(k, p + 8 * ldm),
                   a3 = load_k(k, p + 12 * ldm);
            S[0][j] = _mm512_add_ps(_mm512_add_ps(a0, a1), a2);
            S[1][j] = _mm512_sub_ps(_mm512_sub_ps(a1, a2), a3);
        }
        for (int r = 0; r < 2; r++) {
            const __m512 ee = _mm512_add_ps(_mm512_add_ps(S[r][0], S[r][1]), S[r][2]);
            const __m512 oo = _mm512_sub_ps(_mm512_sub_ps(S[r][1], S[r][2]), S[r][3]);
            const __m512 y0 = _mm512_permutex2var_ps(ee, zl, oo), y1 = _mm512_permutex2var_ps(ee, zh, oo);
            for (int u = 0; u < nr; u++) {
                const int oy = R[u].row + r;
                if (oy >= oh) continue;
                float *yr = y + (size_t)R[u].n * img + (size_t)oy * ow + R[u].col;
                const __mmask16 k0 = R[u].k[0], k1 = R[u].k[1];
                __m512 z0 = y0, z1 = y1;
                if (beta != 0.0f) {
                    if (k0) z0 = _mm512_add_ps(y0, _mm512_mul_ps(vb, load_k(k0, yr)));
                    if (k1) z1 = _mm512_add_ps(y1, _mm512_mul_ps(vb, load_k(k1, yr + 16)));
                }
                if (k0) store_v(yr, k0, z0);
                if (k1) store_v(yr + 16, k1, z1);
            }
        }
    }
}

/* U[xi][q] = (G g G^T)[xi] for the 16 filters g = w[q .. q + 15] (fewer at the end of kc), with
 * winograd.c's filter_transform's operations: the nine taps of 16 filters by gathers */
T512 void mc_cpu_wino_filter512(const float *w, size_t q0, size_t kc, size_t ldu, float *U) {
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
        store_k(U + (size_t)(i * 4 + 0) * ldu + q0, k, a0);
        store_k(U + (size_t)(i * 4 + 1) * ldu + q0, k, _mm512_mul_ps(half, _mm512_add_ps(_mm512_add_ps(a0, a1), a2)));
        store_k(U + (size_t)(i * 4 + 2) * ldu + q0, k, _mm512_mul_ps(half, _mm512_add_ps(_mm512_sub_ps(a0, a1), a2)));
        store_k(U + (size_t)(i * 4 + 3) * ldu + q0, k, a2);
    }
}

#else
void mc_cpu_wino_filter512(const float *w, size_t q0, size_t kc, size_t ldu, float *U) {
    (void)w, (void)q0, (void)kc, (void)ldu, (void)U;
}
void mc_cpu_wino_in_block512(const float *x, const float *lo, const float *hi, size_t img, int h, int w,
                             const mc_cpu_wino_lanes *L, float *v, size_t ldv) {
    (void)x, (void)lo, (void)hi, (void)img, (void)h, (void)w, (void)L, (void)v, (void)ldv;
}
void mc_cpu_wino_grad_block512(const float *g, const float *lo, const float *hi, size_t img, int oh, int ow,
                               const mc_cpu_wino_lanes *L, float *e, size_t lde) {
    (void)g, (void)lo, (void)hi, (void)img, (void)oh, (void)ow, (void)L, (void)e, (void)lde;
}
void mc_cpu_wino_out_block512(const float *m, size_t ldm, size_t img, int oh, int ow, const mc_cpu_wino_lanes *L,
                              float beta, float *y) {
    (void)m, (void)ldm, (void)img, (void)oh, (void)ow, (void)L, (void)beta, (void)y;
}
#endif
