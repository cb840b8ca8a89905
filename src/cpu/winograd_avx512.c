/* cpu/winograd_avx512.c — the F(2x2, 3x3) row transforms of cpu/winograd.c (input, output,
 * output-gradient: cpu/winograd_rows.h at 16 tiles per vector) and its filter transform in
 * AVX-512 registers, for CPUs that have it (issue 18; cpu/winograd_avx2.c: the rows at 8).
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
 * own GEMM's CPU check (mc_cpu_f32_level: cpu->simd). */
#include "cpu/conv.h"
#include "cpu/avx512.h"

#if MC_AVX512
#define TGT T512
#define VW 16
#define FN(name) name##512
#define ROWS_ALL_LIVE 1
typedef __m512 vec;
#define V_ZERO() _mm512_setzero_ps()
#define V_ADD(a, b) _mm512_add_ps(a, b)
#define V_SUB(a, b) _mm512_sub_ps(a, b)
#define V_MUL(a, b) _mm512_mul_ps(a, b)
#define V_SET1(x) _mm512_set1_ps(x)
/* -x as C's unary minus: the sign bit flipped (0 - x would turn -0 into +0) */
#define V_NEG(x) _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u)))
typedef __mmask16 msk;
#define M_FIRST(n) first16(n)
#define V_LOADK(k, p) load_k(k, p)
#define V_STOREK(p, k, v) store_k(p, k, v)
#define SPLIT(row, c, w, e, o) split16(row, c, w, e, o)
#define ZIP(e, o, y0, y1)                                                                                      \
    (*(y0) = _mm512_permutex2var_ps(e, _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23), o), \
     *(y1) = _mm512_permutex2var_ps(e, _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), o))
#include "cpu/winograd_rows.h"

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
