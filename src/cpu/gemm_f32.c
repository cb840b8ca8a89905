/* cpu/gemm_f32.c — the CPU backend's own float32 GEMM for CPUs with AVX-512 (issue 18).
 *
 * Why: OpenBLAS picks its kernels from the CPU's family and model (or from OPENBLAS_CORETYPE,
 * which some cluster images pin to Haswell for old OpenBLAS bugs), not from its feature flags. On
 * an AVX-512 CPU whose OpenBLAS runs its AVX2 kernels, the float32 GEMM peak is half the machine's
 * (2 cores of an AMD EPYC here: 107 GFLOP/s per thread with the Haswell kernels, 205 with
 * SkylakeX's). This GEMM is chosen from CPUID at run time (mc_cpu_f32_available), so a pinned
 * or misdetected OpenBLAS no longer halves every convolution; OpenBLAS stays the path on CPUs
 * without AVX-512 (its Haswell kernels are already at the AVX2 peak there) and on request
 * (MC_CPU_GEMM=openblas, for comparisons).
 *
 * What it computes: row-major C = alpha op(A) op(B) + beta C, with k cut into blocks of KC:
 *     S_b = sum over k in block b of op(A)[i][k] op(B)[k][j]   (one fused multiply-add chain in
 *                                                              increasing k, from 0)
 *     C = alpha S_0 + beta C   (beta 0: C = alpha S_0, C is never read: it may hold NaN garbage)
 *     C = C + alpha S_b        for b = 1, 2, ... in order   (one fused multiply-add each)
 * The blocks are a function of k alone, so an element's value depends on its row of op(A), its
 * column of op(B), k, alpha, beta and its old value only: not on m, n, where a caller cuts the
 * product among threads, or the thread count (cpu/conv.h). Summing in blocks of KC is also a
 * little more accurate than one chain over all of k.
 *
 * Blocking (the usual one of Goto's GEMM): B is packed in strips of NR columns (KC x NC per
 * block, in L2/L3), A in panels of MR rows (MC x KC, in L2); the micro-kernel keeps an MR x NR
 * block of C in 24 of the 32 vector registers and streams one strip and one panel. Packing
 * transposes with 8x8 in-register transposes where the operand's layout needs it (op(A) = A,
 * op(B) = B^T). Beside it (below): a 4 x 64 shape, narrower instances for a last strip, and
 * op(B) = B read in place when k <= DIRECT_K (docs/performance.md).
 *
 * The instructions are compiled with function-level target attributes, so the file builds for
 * any x86-64 and the build needs no -march; on other architectures or compilers the GEMM is
 * simply unavailable and OpenBLAS does the work.
 */
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "cpu/conv.h"
#include "cpu/avx512.h"

int mc_cpu_f32_available(void) {
    /* tests: pretend the CPU lacks AVX-512 (the OpenBLAS path is then what runs) */
    const char *t = getenv("MC_TEST_NO_AVX512");
    if (t && *t && *t != '0') return 0;
#if MC_AVX512
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

int mc_cpu_own_gemm(const char **why) {
    const char *e = getenv("MC_CPU_GEMM");
    *why = NULL;
    if (e && *e && strcmp(e, "own") && strcmp(e, "openblas")) {
        *why = "MC_CPU_GEMM: not 'own' or 'openblas'";
        return -1;
    }
    if (e && !strcmp(e, "openblas")) return 0;
    if (!mc_cpu_f32_available()) {
        if (e && !strcmp(e, "own")) {
            *why = "MC_CPU_GEMM=own: this CPU has no AVX-512 (F, VL)";
            return -1;
        }
        return 0;
    }
    return 1;
}

#if MC_AVX512
/* Two micro-kernel shapes, chosen per call by how much of the last strip and panel they would
 * waste (mc_cpu_f32_gemm): 8 x 48 (24 accumulators, one broadcast per row and three loads of B
 * per step of k) for the wide products of the convolutions; 4 x 64 (16 accumulators, four loads
 * and four broadcasts) where n is a multiple of 64 but not of 48 — backward-filter's 64 x 64 and
 * 128 x 128 products (m = output channels, n = input channels), where a 48-wide strip would leave
 * two thirds of the last strip empty. Both sum each element in the same order, so the choice
 * never changes a bit (test_gemm_f32). */
#define MR 8   /* rows of a micro-tile: one broadcast each */
#define NR 48  /* columns: three 16-float vectors */
#define MRW 4  /* the 4 x 64 shape */
#define NRW 64
#define KC 256 /* k per block */
#define MC 128 /* rows of A per packed block (a multiple of MR and MRW) */
#define NC 1536 /* columns of B per packed block (a multiple of NR and NRW) */
#define DIRECT_K 64 /* op(B) = B read in place up to this k (measured: no gain at 128, 256) */

/* ---- 8x8 transpose: o[i] = (r0[i], r1[i], ..., r7[i]) -------------------------------------- */
T512 static inline void tr8(const float *src, size_t ld, float *dst, size_t ldd) {
    __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + ld), r2 = _mm256_loadu_ps(src + 2 * ld),
           r3 = _mm256_loadu_ps(src + 3 * ld), r4 = _mm256_loadu_ps(src + 4 * ld),
           r5 = _mm256_loadu_ps(src + 5 * ld), r6 = _mm256_loadu_ps(src + 6 * ld),
           r7 = _mm256_loadu_ps(src + 7 * ld);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3),
           t3 = _mm256_unpackhi_ps(r2, r3), t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
           t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee),
           u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee),
           u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee),
           u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
    _mm256_storeu_ps(dst, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(dst + ldd, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(dst + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(dst + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(dst + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(dst + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(dst + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(dst + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31));
}

/* ---- 4 rows x 8 columns into 8 groups of 4 (the 4-row panels): dst[4p + i] = src[i ld + p] -- */
T512 static inline void tr4x8(const float *src, size_t ld, float *dst) {
    __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + ld), r2 = _mm256_loadu_ps(src + 2 * ld),
           r3 = _mm256_loadu_ps(src + 3 * ld);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3),
           t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee),
           u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
    _mm256_storeu_ps(dst, _mm256_permute2f128_ps(u0, u1, 0x20));
    _mm256_storeu_ps(dst + 8, _mm256_permute2f128_ps(u2, u3, 0x20));
    _mm256_storeu_ps(dst + 16, _mm256_permute2f128_ps(u0, u1, 0x31));
    _mm256_storeu_ps(dst + 24, _mm256_permute2f128_ps(u2, u3, 0x31));
}

/* the lanes of a strip's vector v (columns 16v .. 16v+15) that lie in its first nr columns */
static inline __mmask16 lanes(int nr, int v) { return first16(nr - 16 * v); }

/* ---- packing ------------------------------------------------------------------------------- */
/* Panel of op(A) for the pr-row micro-tiles (pr = MR or MRW): rows [i0, i0+mr) (mr <= pr), k in
 * [p0, p0+kc), as out[p*pr + i]; rows past mr are zero. */
T512 static void pack_a(int ta, const float *a, int lda, int i0, int mr, int p0, int kc, int pr, float *out) {
    if (ta) { /* op(A)[i][p] = a[p*lda + i]: pr consecutive floats per p */
        const __mmask8 mk = (__mmask8)((1u << mr) - 1);
        if (pr == MR)
            for (int p = 0; p < kc; p++)
                _mm256_storeu_ps(out + (size_t)p * MR, _mm256_maskz_loadu_ps(mk, a + (size_t)(p0 + p) * lda + i0));
        else
            for (int p = 0; p < kc; p++)
                _mm_storeu_ps(out + (size_t)p * MRW, _mm_maskz_loadu_ps(mk, a + (size_t)(p0 + p) * lda + i0));
        return;
    }
    const float *r = a + (size_t)i0 * lda + p0; /* op(A)[i][p] = r[i*lda + p] */
    int p = 0;
    if (mr == pr && pr == MR)
        for (; p + 8 <= kc; p += 8) tr8(r + p, (size_t)lda, out + (size_t)p * MR, MR);
    else if (mr == pr)
        for (; p + 8 <= kc; p += 8) tr4x8(r + p, (size_t)lda, out + (size_t)p * MRW);
    for (; p < kc; p++) {
        float *o = out + (size_t)p * pr;
        for (int i = 0; i < mr; i++) o[i] = r[(size_t)i * lda + p];
        for (int i = mr; i < pr; i++) o[i] = 0.0f;
    }
}

/* Strip of op(B) for the sw-column micro-tiles (sw = NR or NRW): columns [j0, j0+nr) (nr <= sw),
 * k in [p0, p0+kc), as out[p*sw + j]; columns past nr are zero. */
T512 static void pack_b(int tb, const float *b, int ldb, int j0, int nr, int p0, int kc, int sw, float *out) {
    if (!tb) { /* op(B)[p][j] = b[p*ldb + j]: rows of the strip are contiguous */
        const int nv = sw / 16;
        const __mmask16 m0 = lanes(nr, 0), m1 = lanes(nr, 1), m2 = lanes(nr, 2), m3 = lanes(nr, 3);
        for (int p = 0; p < kc; p++) {
            const float *r = b + (size_t)(p0 + p) * ldb + j0;
            float *o = out + (size_t)p * sw;
            _mm512_storeu_ps(o, _mm512_maskz_loadu_ps(m0, r));
            _mm512_storeu_ps(o + 16, _mm512_maskz_loadu_ps(m1, r + 16));
            _mm512_storeu_ps(o + 32, _mm512_maskz_loadu_ps(m2, r + 32));
            if (nv == 4) _mm512_storeu_ps(o + 48, _mm512_maskz_loadu_ps(m3, r + 48));
        }
        return;
    }
    /* op(B)[p][j] = b[j*ldb + p]: transposed in 8x8 blocks */
    const float *r = b + (size_t)j0 * ldb + p0;
    int j = 0;
    for (; j + 8 <= nr; j += 8) {
        int p = 0;
        for (; p + 8 <= kc; p += 8) tr8(r + (size_t)j * ldb + p, (size_t)ldb, out + (size_t)p * sw + j, (size_t)sw);
        for (; p < kc; p++)
            for (int q = j; q < j + 8; q++) out[(size_t)p * sw + q] = r[(size_t)q * ldb + p];
    }
    for (int p = 0; p < kc; p++) {
        float *o = out + (size_t)p * sw;
        for (int q = j; q < nr; q++) o[q] = r[(size_t)q * ldb + p];
        for (int q = nr; q < sw; q++) o[q] = 0.0f;
    }
}

/* ---- the micro-kernels: an R x 16V block of C over one k block ------------------------------ */
enum { STORE, BLEND, ADD }; /* C = alpha S; C = alpha S + beta C; C = C + alpha S */

/* R and V are constants in each instance below (the loops unroll, acc stays in registers) */
T512 static inline __attribute__((always_inline)) void kernel_rv(const int R, const int V, int kc,
                                                                 const float *restrict ap,
                                                                 const float *restrict bp, size_t ldbp, int mr,
                                                                 int nr, int mode, float alpha, float beta,
                                                                 float *c, int ldc) {
    __m512 acc[MR][4];
#pragma GCC unroll 8
    for (int i = 0; i < R; i++)
#pragma GCC unroll 4
        for (int v = 0; v < V; v++) acc[i][v] = _mm512_setzero_ps();
    for (int p = 0; p < kc; p++) {
        __m512 bv[4];
#pragma GCC unroll 4
        for (int v = 0; v < V; v++) bv[v] = _mm512_loadu_ps(bp + (size_t)p * ldbp + 16 * v);
        const float *av = ap + (size_t)p * R;
#pragma GCC unroll 8
        for (int i = 0; i < R; i++) {
            const __m512 x = _mm512_set1_ps(av[i]);
#pragma GCC unroll 4
            for (int v = 0; v < V; v++) acc[i][v] = _mm512_fmadd_ps(x, bv[v], acc[i][v]);
        }
    }
    __mmask16 mk[4];
#pragma GCC unroll 4
    for (int v = 0; v < V; v++) mk[v] = lanes(nr, v);
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 8
    for (int i = 0; i < R; i++) {
        if (i >= mr) break;
        float *ci = c + (size_t)i * ldc;
#pragma GCC unroll 4
        for (int v = 0; v < V; v++) {
            if (!mk[v]) break;
            __m512 y;
            if (mode == STORE)
                y = _mm512_mul_ps(va, acc[i][v]);
            else if (mode == BLEND)
                y = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mk[v], ci + 16 * v), _mm512_mul_ps(va, acc[i][v]));
            else
                y = _mm512_fmadd_ps(va, acc[i][v], _mm512_maskz_loadu_ps(mk[v], ci + 16 * v));
            _mm512_mask_storeu_ps(ci + 16 * v, mk[v], y);
        }
    }
}

/* the instances: R rows by V vectors; a strip's last vectors that hold no column of C are not
 * computed (a last strip of n mod 48 <= 16 columns takes the 8 x 16 one, not 8 x 48) */
#define KERNEL(R, V)                                                                                          \
    T512 static void kernel_##R##x##V(int kc, const float *restrict ap, const float *restrict bp, size_t ldbp, \
                                       int mr, int nr, int mode, float alpha, float beta, float *c, int ldc) {   \
        kernel_rv(R, V, kc, ap, bp, ldbp, mr, nr, mode, alpha, beta, c, ldc);                                  \
    }
KERNEL(8, 1)
KERNEL(8, 2)
KERNEL(8, 3)
KERNEL(4, 1)
KERNEL(4, 2)
KERNEL(4, 3)
KERNEL(4, 4)
#undef KERNEL

typedef void (*kernel_fn)(int kc, const float *restrict ap, const float *restrict bp, size_t ldbp, int mr, int nr,
                          int mode, float alpha, float beta, float *c, int ldc);
/* [wide][vectors - 1] */
static const kernel_fn kernels[2][4] = {{kernel_8x1, kernel_8x2, kernel_8x3, kernel_8x3},
                                        {kernel_4x1, kernel_4x2, kernel_4x3, kernel_4x4}};

/* the 4 x 64 shape where it computes at most 90 % of the padded products the 8 x 48 one would */
static int use_wide(int m, int n) {
    const long narrow = (long)((m + MR - 1) / MR * MR) * ((n + NR - 1) / NR * NR),
               wide = (long)((m + MRW - 1) / MRW * MRW) * ((n + NRW - 1) / NRW * NRW);
    return 10 * wide <= 9 * narrow;
}

int mc_cpu_f32_gemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                    int ldb, float beta, float *c, int ldc) {
    if (m <= 0 || n <= 0) return MC_OK;
    if (k <= 0) { /* empty sum: C = beta C */
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                float *y = c + (size_t)i * ldc + j;
                *y = beta == 0.0f ? 0.0f : beta * *y;
            }
        return MC_OK;
    }
    const int wide = use_wide(m, n), pr = wide ? MRW : MR, sw = wide ? NRW : NR;
    /* op(B) = B with k <= DIRECT_K: the kernel reads whole strips in place (a strip of at most
     * 64 rows, 12 KB, stays in L1 while the panels of A pass over it; packing would only copy
     * it: the Winograd forward's and backward-data's V, the 64-channel layers' k = 64, 8 % of
     * such a convolution); partial strips are packed (zero columns past n) */
    const int direct = !tb && k <= DIRECT_K;
    const int kc0 = k < KC ? k : KC, nc0 = n < NC ? (n + sw - 1) / sw * sw : NC,
              mc0 = m < MC ? (m + pr - 1) / pr * pr : MC;
    float *buf = mc_cpu_thread_scratch(sizeof(float) * (size_t)kc0 * (nc0 + mc0));
    if (!buf) return MC_ENOMEM;
    float *bpk = buf, *apk = buf + (size_t)kc0 * nc0;
    for (int jc = 0; jc < n; jc += NC) {
        const int nc = n - jc < NC ? n - jc : NC;
        for (int pc = 0; pc < k; pc += KC) {
            const int kc = k - pc < KC ? k - pc : KC;
            const int mode = pc > 0 ? ADD : beta == 0.0f ? STORE : BLEND;
            for (int js = 0; js < nc; js += sw)
                if (!direct || nc - js < sw)
                    pack_b(tb, b, ldb, jc + js, nc - js < sw ? nc - js : sw, pc, kc, sw, bpk + (size_t)js * kc);
            for (int ic = 0; ic < m; ic += MC) {
                const int mcb = m - ic < MC ? m - ic : MC;
                for (int is = 0; is < mcb; is += pr)
                    pack_a(ta, a, lda, ic + is, mcb - is < pr ? mcb - is : pr, pc, kc, pr, apk + (size_t)is * kc);
                for (int js = 0; js < nc; js += sw) {
                    const int nr = nc - js < sw ? nc - js : sw;
                    for (int is = 0; is < mcb; is += pr) {
                        const int mr = mcb - is < pr ? mcb - is : pr;
                        float *ct = c + (size_t)(ic + is) * ldc + jc + js;
                        const int inplace = direct && nr == sw;
                        const float *bs = inplace ? b + (size_t)pc * ldb + jc + js : bpk + (size_t)js * kc;
                        const size_t ldbp = inplace ? (size_t)ldb : (size_t)sw;
                        kernels[wide][(nr + 15) / 16 - 1](kc, apk + (size_t)is * kc, bs, ldbp, mr, nr, mode, alpha,
                                                          beta, ct, ldc);
                    }
                }
            }
        }
    }
    return MC_OK;
}
#else
int mc_cpu_f32_gemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                    int ldb, float beta, float *c, int ldc) {
    (void)ta, (void)tb, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda, (void)b, (void)ldb;
    (void)beta, (void)c, (void)ldc;
    return MC_EUNSUP;
}
#endif
