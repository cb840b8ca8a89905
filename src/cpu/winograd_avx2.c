/* cpu/winograd_avx2.c — F(2x2, 3x3)'s row transforms (cpu/winograd_rows.h) at 8 tiles per AVX2
 * vector, for CPUs with AVX2 but not AVX-512 (issue 18): the same bits as the portable functions
 * of cpu/winograd.c and as the AVX-512 ones. An input row's even and odd columns for 8 tiles: two
 * loads, two shuffles and two cross-lane permutes; the output's two columns interleaved by two
 * unpacks and two permutes. Partial vectors (row ends, a last group of fewer than 8 tiles) use
 * masked loads and stores, whole ones plain loads and stores. Chosen at run time (cpu->simd). */
#include "cpu/conv.h"
#include "cpu/avx2.h"

#if MC_AVX512
/* row[c .. c + 7], 0 for the columns outside [0, w) (not read) */
T256 static inline __m256 cols8(const float *row, int c, int w) {
    if (c >= 0 && c + 8 <= w) return _mm256_loadu_ps(row + c);
    int lo = c < 0 ? -c : 0, hi = w - c < 8 ? w - c : 8;
    if (lo >= hi) return _mm256_setzero_ps();
    return _mm256_maskload_ps(row + c, lanes8(lo, hi));
}

/* the even (*e) and odd (*o) columns of row[c .. c + 15], 0 outside [0, w) */
T256 static inline void split8(const float *row, int c, int w, __m256 *e, __m256 *o) {
    evens_odds8(cols8(row, c, w), cols8(row, c + 8, w), e, o);
}

/* e0 o0 e1 o1 e2 o2 e3 o3 into *y0, e4 o4 ... e7 o7 into *y1 */
T256 static inline void zip8(__m256 e, __m256 o, __m256 *y0, __m256 *y1) {
    __m256 lo = _mm256_unpacklo_ps(e, o), hi = _mm256_unpackhi_ps(e, o); /* (e0 o0 e1 o1 | e4 o4 e5 o5) */
    *y0 = _mm256_permute2f128_ps(lo, hi, 0x20);
    *y1 = _mm256_permute2f128_ps(lo, hi, 0x31);
}

#define TGT T256
#define VW 8
#define FN(name) name##256
typedef __m256 vec;
#define V_ZERO() _mm256_setzero_ps()
#define V_ADD(a, b) _mm256_add_ps(a, b)
#define V_SUB(a, b) _mm256_sub_ps(a, b)
#define V_MUL(a, b) _mm256_mul_ps(a, b)
#define V_SET1(x) _mm256_set1_ps(x)
#define V_NEG(x) _mm256_xor_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u)))
typedef int msk; /* the first n lanes */
#define M_FIRST(n) (n)
#define V_LOADK(k, p) loadn8(k, p)
#define V_STOREK(p, k, v) storen8(p, k, v)
#define SPLIT(row, c, w, e, o) split8(row, c, w, e, o)
#define ZIP(e, o, y0, y1) zip8(e, o, y0, y1)
#include "cpu/winograd_rows.h"

#else
void mc_cpu_wino_grad_row256(const float *plane, int oh, int ow, int ty, int tx0, int cnt, float *e, size_t lde) {
    (void)plane, (void)oh, (void)ow, (void)ty, (void)tx0, (void)cnt, (void)e, (void)lde;
}
void mc_cpu_wino_in_row256(const float *plane, int h, int w, int pad, int ty, int tx0, int cnt, float *v, size_t ldv) {
    (void)plane, (void)h, (void)w, (void)pad, (void)ty, (void)tx0, (void)cnt, (void)v, (void)ldv;
}
void mc_cpu_wino_out_row256(const float *m, size_t ldm, int oh, int ow, int ty, int tx0, int cnt, float beta,
                            float *yk) {
    (void)m, (void)ldm, (void)oh, (void)ow, (void)ty, (void)tx0, (void)cnt, (void)beta, (void)yk;
}
#endif
