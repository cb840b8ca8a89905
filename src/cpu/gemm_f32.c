/* cpu/gemm_f32.c — the CPU backend's own float32 GEMM (issue 18): the driver, the packing and the
 * choice of kernels; the micro-kernels are cpu/gemm_f32_avx512.c's and cpu/gemm_f32_avx2.c's.
 *
 * Why: OpenBLAS picks its kernels from the CPU's family and model (or from OPENBLAS_CORETYPE,
 * which some cluster images pin to Haswell for old OpenBLAS bugs), not from its feature flags. On
 * an AVX-512 CPU whose OpenBLAS runs its AVX2 kernels, the float32 GEMM peak is half the machine's
 * (2 cores of an AMD EPYC here: 107 GFLOP/s per thread with the Haswell kernels, 205 with
 * SkylakeX's). This GEMM is chosen from CPUID at run time (mc_cpu_f32_level), so a pinned or
 * misdetected OpenBLAS no longer halves every convolution. On CPUs with AVX2 and FMA but not
 * AVX-512 its AVX2 kernels run (level with OpenBLAS's Haswell kernels in speed, ahead where B is
 * read in place), and they give the AVX-512 kernels' bits: a run repeats to the bit on either
 * kind of CPU. OpenBLAS stays the path on older CPUs and on request (MC_CPU_GEMM=openblas, for
 * comparisons).
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
 * block of C in registers (8 x 48 or 4 x 64 with AVX-512, 6 x 16 with AVX2) and streams one strip
 * and one panel. Packing transposes with 8x8 in-register transposes where the operand's layout
 * needs it (op(A) = A, op(B) = B^T). Narrower instances serve a last strip, and op(B) = B is
 * read in place when k <= DIRECT_K (docs/performance.md).
 *
 * The instructions are compiled with function-level target attributes, so the file builds for
 * any x86-64 and the build needs no -march; on other architectures or compilers the GEMM is
 * simply unavailable and OpenBLAS does the work.
 */
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "cpu/conv.h"
#include "cpu/gemm_f32.h"

int mc_cpu_f32_level(void) {
#if MC_AVX512
    __builtin_cpu_init();
    int level = 0;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) level = MC_F32_AVX2;
    if (level && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")) level = MC_F32_AVX512;
    /* tests: pretend the CPU lacks AVX-512 (the AVX2 kernels then run), or AVX2 too (OpenBLAS) */
    const char *t = getenv("MC_TEST_NO_AVX512");
    if (t && *t && *t != '0' && level > MC_F32_AVX2) level = MC_F32_AVX2;
    t = getenv("MC_TEST_NO_AVX2");
    if (t && *t && *t != '0') level = 0;
    return level;
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
    const int level = mc_cpu_f32_level();
    if (!level && e && !strcmp(e, "own")) {
        *why = "MC_CPU_GEMM=own: this CPU has no AVX2 with FMA";
        return -1;
    }
    return level;
}

#if MC_AVX512
#define KC 256 /* k per block: fixes how every element is summed (the same for every kernel) */
#define NC 1536 /* columns of B per packed block (a multiple of every shape's strip width) */
#define DIRECT_K 64 /* op(B) = B read in place up to this k (measured: no gain at 128, 256) */

/* ---- 8 x 8 transposes: o[i] = (r0[i], r1[i], ..., r7[i]) ------------------------------------- */
T256 static inline void tr8_regs(__m256 r0, __m256 r1, __m256 r2, __m256 r3, __m256 r4, __m256 r5, __m256 r6,
                                 __m256 r7, __m256 o[8]) {
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3),
           t3 = _mm256_unpackhi_ps(r2, r3), t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
           t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee),
           u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee),
           u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee),
           u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
    o[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    o[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    o[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    o[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    o[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    o[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    o[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    o[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/* 8 rows x 8 columns of src into dst (dst[q ldd + i] = src[i ld + q]) */
T256 static inline void tr8(const float *src, size_t ld, float *dst, size_t ldd) {
    __m256 o[8];
    tr8_regs(_mm256_loadu_ps(src), _mm256_loadu_ps(src + ld), _mm256_loadu_ps(src + 2 * ld),
             _mm256_loadu_ps(src + 3 * ld), _mm256_loadu_ps(src + 4 * ld), _mm256_loadu_ps(src + 5 * ld),
             _mm256_loadu_ps(src + 6 * ld), _mm256_loadu_ps(src + 7 * ld), o);
    for (int q = 0; q < 8; q++) _mm256_storeu_ps(dst + q * ldd, o[q]);
}

/* mr rows (mr <= pr) x 8 columns into 8 groups of pr, rows past mr zero (the panels of 6 and
 * 8 rows, and partial ones): dst[pr q + i] = src[i ld + q] */
T256 static inline void trp8(const float *src, size_t ld, int mr, int pr, float *dst) {
    __m256 r[8], o[8];
    for (int i = 0; i < 8; i++) r[i] = i < mr ? _mm256_loadu_ps(src + i * ld) : _mm256_setzero_ps();
    tr8_regs(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], o);
    for (int q = 0; q < 8; q++)
        if (pr == 8) {
            _mm256_storeu_ps(dst + 8 * q, o[q]);
        } else {
            _mm_storeu_ps(dst + pr * q, _mm256_castps256_ps128(o[q]));
            if (pr == 6) _mm_storel_pi((__m64 *)(dst + 6 * q + 4), _mm256_extractf128_ps(o[q], 1));
        }
}

/* 4 rows x 8 columns into 8 groups of 4 (the 4-row panels): dst[4q + i] = src[i ld + q] */
T256 static inline void tr4x8(const float *src, size_t ld, float *dst) {
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

/* ---- packing (AVX2: under both instruction sets' kernels) ---------------------------------- */
/* Panel of op(A) for the pr-row micro-tiles (pr = 8, 6 or 4): rows [i0, i0+mr) (mr <= pr), k in
 * [p0, p0+kc), as out[p*pr + i]; rows past mr are zero. */
T256 static void pack_a(int ta, const float *a, int lda, int i0, int mr, int p0, int kc, int pr, float *out) {
    if (ta) { /* op(A)[i][p] = a[p*lda + i]: pr consecutive floats per p */
        const float *r = a + (size_t)p0 * lda + i0;
        if (mr == pr && pr == 8)
            for (int p = 0; p < kc; p++) _mm256_storeu_ps(out + (size_t)p * 8, _mm256_loadu_ps(r + (size_t)p * lda));
        else if (mr == pr && pr == 4)
            for (int p = 0; p < kc; p++) _mm_storeu_ps(out + (size_t)p * 4, _mm_loadu_ps(r + (size_t)p * lda));
        else
            for (int p = 0; p < kc; p++) {
                float *o = out + (size_t)p * pr;
                const float *s = r + (size_t)p * lda;
                for (int i = 0; i < mr; i++) o[i] = s[i];
                for (int i = mr; i < pr; i++) o[i] = 0.0f;
            }
        return;
    }
    const float *r = a + (size_t)i0 * lda + p0; /* op(A)[i][p] = r[i*lda + p] */
    int p = 0;
    if (mr == pr && pr == 8)
        for (; p + 8 <= kc; p += 8) tr8(r + p, (size_t)lda, out + (size_t)p * 8, 8);
    else if (mr == pr && pr == 4)
        for (; p + 8 <= kc; p += 8) tr4x8(r + p, (size_t)lda, out + (size_t)p * 4);
    else
        for (; p + 8 <= kc; p += 8) trp8(r + p, (size_t)lda, mr, pr, out + (size_t)p * pr);
    for (; p < kc; p++) {
        float *o = out + (size_t)p * pr;
        for (int i = 0; i < mr; i++) o[i] = r[(size_t)i * lda + p];
        for (int i = mr; i < pr; i++) o[i] = 0.0f;
    }
}

/* Strip of op(B) for the sw-column micro-tiles (sw = 48, 64 or 16): columns [j0, j0+nr)
 * (nr <= sw), k in [p0, p0+kc), as out[p*sw + j]; columns past nr are zero. */
T256 static void pack_b(int tb, const float *b, int ldb, int j0, int nr, int p0, int kc, int sw, float *out) {
    if (!tb) { /* op(B)[p][j] = b[p*ldb + j]: rows of the strip are contiguous */
        const int nv = sw / 8;
        __m256i mk[8];
        for (int v = 0; v < nv; v++) mk[v] = first8(nr - 8 * v);
        for (int p = 0; p < kc; p++) {
            const float *r = b + (size_t)(p0 + p) * ldb + j0;
            float *o = out + (size_t)p * sw;
            for (int v = 0; v < nv; v++) _mm256_storeu_ps(o + 8 * v, _mm256_maskload_ps(r + 8 * v, mk[v]));
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

/* shape 1 (the second micro-tile) where it computes at most 90 % of the padded products shape 0
 * would (never where the two are the same) */
static int use_wide(const mc_f32_isa *isa, int m, int n) {
    const long r0 = isa->rows[0], c0 = isa->cols[0], r1 = isa->rows[1], c1 = isa->cols[1];
    const long narrow = (m + r0 - 1) / r0 * r0 * ((n + c0 - 1) / c0 * c0),
               wide = (m + r1 - 1) / r1 * r1 * ((n + c1 - 1) / c1 * c1);
    return 10 * wide <= 9 * narrow;
}

/* The driver. pa: op(A) already packed by mc_cpu_f32_pa_pack for this isa and shape (its panels
 * are then read in place, the same floats pack_a would have written), else NULL (A packed here). */
static int drive(const mc_f32_isa *isa, int wide, int ta, int tb, int m, int n, int k, float alpha, const float *a,
                 int lda, const float *pa, const float *b, int ldb, float beta, float *c, int ldc) {
    const int pr = isa->rows[wide], sw = isa->cols[wide], MC = isa->mc, mpad = (m + pr - 1) / pr * pr;
    /* op(B) = B with k <= DIRECT_K: the kernel reads whole strips in place (a strip of at most
     * 64 rows, 12 KB, stays in L1 while the panels of A pass over it; packing would only copy
     * it: the Winograd forward's and backward-data's V, the 64-channel layers' k = 64, 8 % of
     * such a convolution); partial strips are packed (zero columns past n) */
    const int direct = !tb && k <= DIRECT_K;
    const int kc0 = k < KC ? k : KC, nc0 = n < NC ? (n + sw - 1) / sw * sw : NC,
              mc0 = pa ? 0 : m < MC ? mpad : MC;
    float *buf = mc_cpu_thread_scratch(sizeof(float) * (size_t)kc0 * (nc0 + mc0));
    if (!buf) return MC_ENOMEM;
    float *bpk = buf, *apk = buf + (size_t)kc0 * nc0;
    for (int jc = 0; jc < n; jc += NC) {
        const int nc = n - jc < NC ? n - jc : NC;
        for (int pc = 0; pc < k; pc += KC) {
            const int kc = k - pc < KC ? k - pc : KC;
            const int mode = pc > 0 ? MC_F32_ADD : beta == 0.0f ? MC_F32_STORE : MC_F32_BLEND;
            /* one block of rows (m <= MC, the convolutions' usual case): A packed first, then
             * each strip of B packed just before the panels pass over it (it stays in L1);
             * else the whole block of B first, reused by every block of rows */
            const int one_block = m <= MC;
            if (!one_block)
                for (int js = 0; js < nc; js += sw)
                    if (!direct || nc - js < sw)
                        pack_b(tb, b, ldb, jc + js, nc - js < sw ? nc - js : sw, pc, kc, sw, bpk + (size_t)js * kc);
            for (int ic = 0; ic < m; ic += MC) {
                const int mcb = m - ic < MC ? m - ic : MC;
                /* the panels of rows [ic, ic + mcb) for this block of k: apk[is kc + p pr + i] */
                const float *ap = pa ? pa + (size_t)pc * mpad + (size_t)ic * kc : apk;
                if (!pa)
                    for (int is = 0; is < mcb; is += pr)
                        pack_a(ta, a, lda, ic + is, mcb - is < pr ? mcb - is : pr, pc, kc, pr, apk + (size_t)is * kc);
                for (int js = 0; js < nc; js += sw) {
                    const int nr = nc - js < sw ? nc - js : sw;
                    const mc_f32_kernel kern = isa->kernel[wide][(nr + isa->vw - 1) / isa->vw - 1];
                    const int inplace = direct && nr == sw;
                    float *strip = one_block ? bpk : bpk + (size_t)js * kc;
                    if (one_block && !inplace) pack_b(tb, b, ldb, jc + js, nr, pc, kc, sw, strip);
                    const float *bs = inplace ? b + (size_t)pc * ldb + jc + js : strip;
                    const size_t ldbp = inplace ? (size_t)ldb : (size_t)sw;
                    for (int is = 0; is < mcb; is += pr) {
                        const int mr = mcb - is < pr ? mcb - is : pr;
                        kern(kc, ap + (size_t)is * kc, bs, ldbp, mr, nr, mode, alpha, beta,
                             c + (size_t)(ic + is) * ldc + jc + js, ldc);
                    }
                }
            }
        }
    }
    return MC_OK;
}

/* the kernels of a level; NULL for a level not compiled in */
static const mc_f32_isa *isa_of(int level) {
    return level == MC_F32_AVX512 ? &mc_f32_avx512 : level == MC_F32_AVX2 ? &mc_f32_avx2 : NULL;
}

/* C = beta C for an empty sum */
static void empty_sum(int m, int n, float beta, float *c, int ldc) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float *y = c + (size_t)i * ldc + j;
            *y = beta == 0.0f ? 0.0f : beta * *y;
        }
}

int mc_cpu_f32_gemm(int level, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                    const float *b, int ldb, float beta, float *c, int ldc) {
    const mc_f32_isa *isa = isa_of(level);
    if (!isa) return MC_EUNSUP;
    if (m <= 0 || n <= 0) return MC_OK;
    if (k <= 0) {
        empty_sum(m, n, beta, c, ldc);
        return MC_OK;
    }
    return drive(isa, use_wide(isa, m, n), ta, tb, m, n, k, alpha, a, lda, NULL, b, ldb, beta, c, ldc);
}

/* ---- op(A) packed once for many products (mc_cpu_f32_pa) ----------------------------------- */
int mc_cpu_f32_pa_init(mc_cpu_f32_pa *p, int level, int m, int k, int n) {
    const mc_f32_isa *isa = isa_of(level);
    if (!isa) return MC_EUNSUP;
    p->level = level;
    p->m = m;
    p->k = k;
    p->wide = m > 0 && n > 0 ? use_wide(isa, m, n) : 0;
    const int pr = isa->rows[p->wide];
    p->floats = (size_t)((m + pr - 1) / pr * pr) * (size_t)(k > 0 ? k : 0);
    return MC_OK;
}

void mc_cpu_f32_pa_pack(const mc_cpu_f32_pa *p, int ta, const float *a, int lda, float *out) {
    const mc_f32_isa *isa = isa_of(p->level);
    if (!isa) return;
    const int pr = isa->rows[p->wide], m = p->m, k = p->k, mpad = (m + pr - 1) / pr * pr;
    for (int pc = 0; pc < k; pc += KC) {
        const int kc = k - pc < KC ? k - pc : KC;
        for (int i0 = 0; i0 < m; i0 += pr)
            pack_a(ta, a, lda, i0, m - i0 < pr ? m - i0 : pr, pc, kc, pr, out + (size_t)pc * mpad + (size_t)i0 * kc);
    }
}

int mc_cpu_f32_gemm_pa(const mc_cpu_f32_pa *p, const float *pa, int n, float alpha, const float *b, int ldb,
                       float beta, float *c, int ldc) {
    const mc_f32_isa *isa = isa_of(p->level);
    if (!isa) return MC_EUNSUP;
    if (p->m <= 0 || n <= 0) return MC_OK;
    if (p->k <= 0) {
        empty_sum(p->m, n, beta, c, ldc);
        return MC_OK;
    }
    return drive(isa, p->wide, 0, 0, p->m, n, p->k, alpha, NULL, 0, pa, b, ldb, beta, c, ldc);
}
#else
int mc_cpu_f32_pa_init(mc_cpu_f32_pa *p, int level, int m, int k, int n) {
    (void)p, (void)level, (void)m, (void)k, (void)n;
    return MC_EUNSUP;
}
void mc_cpu_f32_pa_pack(const mc_cpu_f32_pa *p, int ta, const float *a, int lda, float *out) {
    (void)p, (void)ta, (void)a, (void)lda, (void)out;
}
int mc_cpu_f32_gemm_pa(const mc_cpu_f32_pa *p, const float *pa, int n, float alpha, const float *b, int ldb,
                       float beta, float *c, int ldc) {
    (void)p, (void)pa, (void)n, (void)alpha, (void)b, (void)ldb, (void)beta, (void)c, (void)ldc;
    return MC_EUNSUP;
}
int mc_cpu_f32_gemm(int level, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                    const float *b, int ldb, float beta, float *c, int ldc) {
    (void)level, (void)ta, (void)tb, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda, (void)b;
    (void)ldb, (void)beta, (void)c, (void)ldc;
    return MC_EUNSUP;
}
#endif
