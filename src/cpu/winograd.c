/* cpu/winograd.c — 3x3 stride-1 convolutions by Winograd's minimal filtering F(2x2, 3x3)
 * (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016) for the CPU backend,
 * and F(4x4, 3x3) (opt-in, cpu->winograd == 4: 36 products per 4x4 outputs instead of 16 per 2x2;
 * about ten times the rounding error: its transforms below, docs/performance.md). Both share the
 * plans, blocks and chunked sums described here, with m = 2 or 4 outputs per tile side and
 * (m + 2)^2 GEMMs per block.
 *
 * A 2x2 block of outputs of one channel pair needs 36 multiply-adds directly and 16 after the
 * transforms: with U = G g G^T (the 3x3 filter g as 4x4), V = B^T d B (a 4x4 input tile d) and
 * the output Y = A^T (U . V) A (. element-wise), summing over input channels turns the 16
 * element-wise products into 16 GEMMs, M_xi (k x tiles) = U_xi (k x c) V_xi (c x tiles),
 * 2.25 times fewer flops than im2col + GEMM. The matrices (exact in binary: entries 0, +-1, 1/2):
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
 *   G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
 *   A^T = [1 1 1 0; 0 1 -1 -1]
 * Backward-data is the forward convolution of dy with the filters transposed (c <-> k) and
 * rotated by 180 degrees, padding 2 - p. Backward-filter is the adjoint of the forward in U:
 *   dU_xi (k x c) = sum over tiles (A dY A^T)_xi (k x tiles) . V_xi^T, then dW = G^T dU G.
 * Rounding: the transforms add a few float operations per product; errors stay ~1e-7 relative to
 * the sum of |terms| (tests/test_cpu_backend.c checks them against the definition).
 *
 * Tiles (2x2 outputs) are numbered over the whole batch, n * tiles_per_image + ty * tw + tx, and
 * processed in blocks of nt tiles, so that the transformed data stays in cache: each thread
 * transforms a block of inputs into V (16 x c x nt), runs the 16 GEMMs into M (16 x k x nt) and
 * transforms M back into the output. The forward and backward-data cut the tiles among the
 * threads and each thread its share into blocks of 48 (or 96) tiles, with U packed once for the
 * own GEMM (MC_WINO_FNT below): their sums run over the channels only, so the cut changes no bit.
 * Backward-filter's blocks depend on the shape only (a few MB per thread, their count a multiple
 * of MC_CPU_WAYS); it sums over blocks in mc_cpu_chunks chunks of consecutive blocks, each into
 * its own dU, added in chunk order: the result is bitwise the same for any thread count
 * (cpu/conv.h). A thread done with its own blocks (forward) or chunks (backward-filter) takes
 * the last ones of another thread's share (mc_cpu_steal): who computes one changes no bit either.
 */
#include <omp.h>
#include <string.h>
#include "cpu/conv.h"

/* floats of V + M per thread and block (sets the block size: 8 MB). With the own AVX-512 GEMM
 * (cpu/gemm_f32.c) wider blocks paid: 2M floats took ResNet18's training step from 1.19 to
 * 1.15 s (alternating runs; 1M and 4M slower; docs/performance.md) — the GEMMs get more columns
 * per packed filter matrix. */
#ifndef MC_WINO_BLOCK
#define MC_WINO_BLOCK (1 << 21)
#endif

/* F(2x2, 3x3) backward-filter's blocks where they hold 48 tiles or more in this many floats of
 * V + E per thread (384 KB: in the L2 with the chunk's dU; layers with c + k <= 128), MC_WINO_BLOCK's
 * elsewhere. 2 threads, alternating medians, against MC_WINO_BLOCK's: 64 -> 64 at 80^2 18.4 ->
 * 16.3 ms (48 tiles a block instead of 916), 32 at 160^2 29.1 -> 24.9 (96), 16 at 320^2 44.9 ->
 * 43.3 (192); 128 channels and more were slower with blocks of 64-128 tiles (their k per product
 * too short against a larger dU). Backward-filter sums its tiles block by block, so the blocks set
 * its bits: a function of the shape alone, as before (docs/performance.md). F(4x4, 3x3) keeps
 * MC_WINO_BLOCK4 (not measured). */
#ifndef MC_WINO_FBLOCK
#define MC_WINO_FBLOCK 98304
#endif

/* F(4x4, 3x3): 9/4 as many floats, so that a block holds as many tiles' worth of GEMM columns as
 * F(2x2, 3x3)'s (smaller blocks made its 36 GEMMs too narrow: docs/performance.md) */
#define MC_WINO_BLOCK4 (MC_WINO_BLOCK * 9 / 4)
static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

/* the distance between the nn matrices of V, M, E, U or dU (floats, wplan's ldv, ldm, ku): n
 * rounded up to a whole number of 64-byte lines, and an odd one. The transforms write (or read)
 * all nn matrices at once, one stream each; at a multiple of 4 KB apart (ResNet18's 128-, 256-
 * and 512-channel layers: V and M 51200 floats; U and dU, K x C, for any power-of-two channel
 * counts) the streams alias each other in the L1 and the loads wait on unrelated stores: the
 * input transform of 16 x 64 x 80 x 80 took 9.1-12.5 ms on one thread at a multiple of 4 KB,
 * 4.9 ms at 1024 bytes past one; a 512-channel backward-filter 30.5 ms against 28.2 with dU's
 * matrices apart (its dW loop). Layout only: the same bits. */
static size_t stream_ld(size_t n) {
    const size_t ld = round16(n);
    return (ld / 16) % 2 ? ld : ld + 16;
}

int mc_cpu_wino_ok(const mc_conv_desc *d) {
    return d->kh == 3 && d->kw == 3 && d->sh == 1 && d->sw == 1 && d->groups == 1 && d->ph == d->pw &&
           d->ph >= 0 && d->ph <= 2 && d->oh >= 2 && d->ow >= 2 && d->c >= 16 && d->k >= 16;
}

typedef struct wplan {
    int m, nn;          /* outputs per tile side (2: F(2x2,3x3), 4: F(4x4,3x3)); nn = (m + 2)^2 */
    int th, tw;         /* tiles per column and row of an image */
    size_t tpi, ntiles; /* tiles per image, in the batch */
    int nt;             /* tiles per block */
    size_t nblocks;
    int simd;           /* F(2x2, 3x3)'s transforms: cpu->simd's (MC_F32_AVX512: the block transforms,
                           MC_F32_AVX2: the AVX2 row transforms) or 0, portable (F(4x4, 3x3)'s
                           always); the same bits */
    size_t ldv, ldm, ku; /* floats between the nn matrices of V (c x nt), of M and E (k x nt), of U
                            and dU (k x c): stream_ld */
} wplan;

/* the tiles and blocks (cpu/conv.h); simd: which transforms run them. fixed_nt > 0: blocks of
 * that many tiles (the forward products' plans: their bits do not depend on the blocks, and the
 * threads cut the tiles themselves, wino_forward); 0: blocks of about MC_WINO_BLOCK (or
 * MC_WINO_FBLOCK, above) floats of V + M, as many as a multiple of MC_CPU_WAYS and of equal size
 * (backward-filter's, whose sums are taken block by block: fixed by the shape alone) */
static void make_plan(const mc_cpu *cpu, const mc_conv_desc *d, int m, int fixed_nt, wplan *p) {
    p->m = m;
    p->simd = m == 2 ? cpu->simd : 0;
    p->nn = (m + 2) * (m + 2);
    p->th = (d->oh + m - 1) / m;
    p->tw = (d->ow + m - 1) / m;
    p->tpi = (size_t)p->th * p->tw;
    p->ntiles = p->tpi * (size_t)d->n;
    size_t nt;
    if (fixed_nt > 0) {
        nt = (size_t)fixed_nt;
    } else {
        nt = (m == 4 ? MC_WINO_BLOCK4 : MC_WINO_BLOCK) / ((size_t)p->nn * (size_t)(d->c + d->k));
        const size_t nt_l2 = MC_WINO_FBLOCK / ((size_t)p->nn * (size_t)(d->c + d->k));
        if (m == 2 && nt_l2 >= 48) nt = nt_l2;
        nt = nt < 32 ? 32 : (nt > 2048 ? 2048 : nt & ~(size_t)15);
        /* blocks of about equal size, as many as a multiple of MC_CPU_WAYS (balanced for 1, 2, 4
         * threads), no larger than nt */
        size_t nb = (p->ntiles + nt - 1) / nt;
        nb = (nb + MC_CPU_WAYS - 1) / MC_CPU_WAYS * MC_CPU_WAYS;
        nt = (p->ntiles + nb - 1) / nb;
        if (nt > 16) nt = (nt + 3) & ~(size_t)3;
        if (nt < 1) nt = 1;
    }
    p->nt = (int)nt;
    p->nblocks = (p->ntiles + nt - 1) / nt;
    p->ldv = stream_ld((size_t)d->c * nt);
    p->ldm = stream_ld((size_t)d->k * nt);
    p->ku = stream_ld((size_t)d->k * d->c);
}

/* threads for `pieces` pieces of work */
static int threads_for(const mc_cpu *cpu, size_t pieces) {
    size_t t = (size_t)cpu->threads < pieces ? (size_t)cpu->threads : pieces;
    return t < 1 ? 1 : (int)t;
}

/* ---- transforms ------------------------------------------------------------------------- */
/* U[xi][k][c] = (G g G^T)[xi] for the 3x3 filters g = w[k][c], the matrices ku apart */
static void filter_transform(const mc_cpu *cpu, int K, int C, const float *w, size_t ku, float *U) {
    const size_t kc = (size_t)K * C;
    if (cpu->simd == MC_F32_AVX512) { /* 16 filters per vector (cpu/winograd_avx512.c; the same bits) */
        const size_t nb = (kc + 15) / 16;
#pragma omp parallel for schedule(static) num_threads(threads_for(cpu, kc / 256 + 1))
        for (size_t b = 0; b < nb; b++) mc_cpu_wino_filter512(w, b * 16, kc, ku, U);
        return;
    }
#pragma omp parallel for schedule(static) num_threads(threads_for(cpu, kc / 256 + 1))
    for (size_t q = 0; q < kc; q++) {
        const float *g = w + q * 9;
        float t[4][3]; /* G g */
        for (int j = 0; j < 3; j++) {
            t[0][j] = g[j];
            t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
            t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
            t[3][j] = g[6 + j];
        }
        for (int i = 0; i < 4; i++) { /* (G g) G^T */
            U[(size_t)(i * 4 + 0) * ku + q] = t[i][0];
            U[(size_t)(i * 4 + 1) * ku + q] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
            U[(size_t)(i * 4 + 2) * ku + q] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
            U[(size_t)(i * 4 + 3) * ku + q] = t[i][2];
        }
    }
}

/* The transforms work on a tile row at a time: the tiles tx in [tx0, tx0 + cnt) of tile row ty
 * of one image, one channel, with the tiles as vector lanes (unit stride after splitting input
 * rows into even and odd columns). `tmp` holds 20 * cnt + 4 floats. */

/* even and odd columns of row iy of channel xc shifted by -pad: e[q] = row[2(tx0+q) - pad],
 * o[q] = row[2(tx0+q) + 1 - pad], q <= cnt (0 outside the row) */
static void split_row(const float *restrict row, int w, int pad, int tx0, int cnt, float *restrict e,
                      float *restrict o) {
    int s0 = 2 * tx0 - pad;
    /* q where both columns are inside: s0 + 2q >= 0 and s0 + 2q + 1 <= w - 1 */
    int lo = s0 >= 0 ? 0 : (1 - s0) / 2, hi = (w - 2 - s0) >= 0 ? (w - 2 - s0) / 2 + 1 : 0;
    if (hi > cnt + 1) hi = cnt + 1;
    if (lo > hi) lo = hi;
    for (int q = 0; q < lo; q++) {
        int c = s0 + 2 * q;
        e[q] = c >= 0 && c < w ? row[c] : 0.0f;
        o[q] = c + 1 >= 0 && c + 1 < w ? row[c + 1] : 0.0f;
    }
    const float *r = row + s0;
    for (int q = lo; q < hi; q++) {
        e[q] = r[2 * q];
        o[q] = r[2 * q + 1];
    }
    for (int q = hi; q <= cnt; q++) {
        int c = s0 + 2 * q;
        e[q] = c >= 0 && c < w ? row[c] : 0.0f;
        o[q] = c + 1 >= 0 && c + 1 < w ? row[c + 1] : 0.0f;
    }
}

/* The element-wise butterflies of the transforms, over n lanes (tiles); restrict parameters so
 * that they vectorise */
/* B^T on 4 inputs: a0 - a2, a1 + a2, a2 - a1, a1 - a3 */
static void bt4(int n, const float *restrict a0, const float *restrict a1, const float *restrict a2,
                const float *restrict a3, float *restrict o0, float *restrict o1, float *restrict o2,
                float *restrict o3) {
    for (int q = 0; q < n; q++) {
        o0[q] = a0[q] - a2[q];
        o1[q] = a1[q] + a2[q];
        o2[q] = a2[q] - a1[q];
        o3[q] = a1[q] - a3[q];
    }
}
/* A^T on 4 inputs: a0 + a1 + a2, a1 - a2 - a3 */
static void at4(int n, const float *restrict a0, const float *restrict a1, const float *restrict a2,
                const float *restrict a3, float *restrict o0, float *restrict o1) {
    for (int q = 0; q < n; q++) {
        o0[q] = a0[q] + a1[q] + a2[q];
        o1[q] = a1[q] - a2[q] - a3[q];
    }
}
/* A on 2 inputs, with the row of A g given by the signs: a = sa0 x0 (+-) x1 ...: see grad_row */
static void a2x(int n, const float *restrict a, const float *restrict b, float *restrict o0, float *restrict o1,
                float *restrict o2, float *restrict o3) {
    for (int q = 0; q < n; q++) {
        o0[q] = a[q];
        o1[q] = a[q] + b[q];
        o2[q] = a[q] - b[q];
        o3[q] = -b[q];
    }
}
static void add2(int n, const float *restrict a, const float *restrict b, float *restrict o) {
    for (int q = 0; q < n; q++) o[q] = a[q] + b[q];
}
static void sub2(int n, const float *restrict a, const float *restrict b, float *restrict o) {
    for (int q = 0; q < n; q++) o[q] = a[q] - b[q];
}
static void neg1(int n, const float *restrict a, float *restrict o) {
    for (int q = 0; q < n; q++) o[q] = -a[q];
}

/* v[xi * ldv + q] = (B^T d B)[xi] of the input tiles of a tile row segment of channel xc */
static void input_row(const mc_conv_desc *d, const float *xc, int ty, int tx0, int cnt, float *v, size_t ldv,
                      float *tmp) {
    float *H = tmp, *restrict E = tmp + 16 * cnt, *restrict O = E + cnt + 1; /* H[row][component][q] */
    for (int i = 0; i < 4; i++) {
        int iy = 2 * ty - d->ph + i;
        float *restrict h0 = H + (size_t)(4 * i) * cnt, *restrict h1 = h0 + cnt, *restrict h2 = h1 + cnt,
                       *restrict h3 = h2 + cnt;
        if (iy < 0 || iy >= d->h) {
            memset(h0, 0, 4 * (size_t)cnt * sizeof(float));
            continue;
        }
        split_row(xc + (size_t)iy * d->w, d->w, d->pw, tx0, cnt, E, O);
        bt4(cnt, E, O, E + 1, O + 1, h0, h1, h2, h3); /* d B along the row */
    }
    for (int j = 0; j < 4; j++) { /* B^T (.) down the rows */
        const float *restrict r0 = H + (size_t)j * cnt, *restrict r1 = H + (size_t)(4 + j) * cnt,
                             *restrict r2 = H + (size_t)(8 + j) * cnt, *restrict r3 = H + (size_t)(12 + j) * cnt;
        float *restrict v0 = v + (size_t)j * ldv, *restrict v1 = v + (size_t)(4 + j) * ldv,
                       *restrict v2 = v + (size_t)(8 + j) * ldv, *restrict v3 = v + (size_t)(12 + j) * ldv;
        bt4(cnt, r0, r1, r2, r3, v0, v1, v2, v3);
    }
}

/* y (2x2 per tile) = A^T m A for a tile row segment of output channel yk, blended with beta */
static void output_row(const mc_conv_desc *d, const float *m, size_t ldm, int ty, int tx0, int cnt, float beta,
                       float *yk, float *tmp) {
    float *S = tmp, *restrict E = tmp + 8 * cnt, *restrict O = E + cnt; /* S[r][j][q] = (A^T m)[r][j] */
    for (int j = 0; j < 4; j++) {
        const float *restrict m0 = m + (size_t)j * ldm, *restrict m1 = m + (size_t)(4 + j) * ldm,
                             *restrict m2 = m + (size_t)(8 + j) * ldm, *restrict m3 = m + (size_t)(12 + j) * ldm;
        float *restrict s0 = S + (size_t)j * cnt, *restrict s1 = S + (size_t)(4 + j) * cnt;
        at4(cnt, m0, m1, m2, m3, s0, s1);
    }
    const int x0 = 2 * tx0, ncol = 2 * cnt < d->ow - x0 ? 2 * cnt : d->ow - x0;
    for (int r = 0; r < 2 && 2 * ty + r < d->oh; r++) {
        const float *restrict a0 = S + (size_t)(4 * r) * cnt, *restrict a1 = a0 + cnt, *restrict a2 = a1 + cnt,
                             *restrict a3 = a2 + cnt;
        at4(cnt, a0, a1, a2, a3, E, O); /* (.) A along the row */
        float *restrict yr = yk + (size_t)(2 * ty + r) * d->ow + x0;
        const int pairs = ncol / 2;
        if (beta == 0.0f) {
            for (int q = 0; q < pairs; q++) {
                yr[2 * q] = E[q];
                yr[2 * q + 1] = O[q];
            }
            if (ncol & 1) yr[ncol - 1] = E[pairs];
        } else {
            for (int q = 0; q < pairs; q++) {
                yr[2 * q] = E[q] + beta * yr[2 * q];
                yr[2 * q + 1] = O[q] + beta * yr[2 * q + 1];
            }
            if (ncol & 1) yr[ncol - 1] = E[pairs] + beta * yr[ncol - 1];
        }
    }
}

/* e[xi * lde + q] = (A g A^T)[xi] for the 2x2 output-gradient tiles g of a tile row segment of
 * channel gk (0 outside the output) */
static void grad_row(const mc_conv_desc *d, const float *gk, int ty, int tx0, int cnt, float *e, size_t lde,
                     float *tmp) {
    float *restrict G0e = tmp, *restrict G0o = G0e + cnt + 1, *restrict G1e = G0o + cnt + 1,
                   *restrict G1o = G1e + cnt + 1;
    split_row(gk + (size_t)(2 * ty) * d->ow, d->ow, 0, tx0, cnt, G0e, G0o);
    if (2 * ty + 1 < d->oh)
        split_row(gk + (size_t)(2 * ty + 1) * d->ow, d->ow, 0, tx0, cnt, G1e, G1o);
    else
        memset(G1e, 0, 2 * (size_t)(cnt + 1) * sizeof(float));
    float *o[16];
    for (int xi = 0; xi < 16; xi++) o[xi] = e + (size_t)xi * lde;
    /* A g: rows g0, g0 + g1, g0 - g1, -g1 (two columns each, into tmp), then (.) A^T */
    float *ra = G1o + cnt + 1, *rb = ra + cnt;
    a2x(cnt, G0e, G0o, o[0], o[1], o[2], o[3]);
    add2(cnt, G0e, G1e, ra);
    add2(cnt, G0o, G1o, rb);
    a2x(cnt, ra, rb, o[4], o[5], o[6], o[7]);
    sub2(cnt, G0e, G1e, ra);
    sub2(cnt, G0o, G1o, rb);
    a2x(cnt, ra, rb, o[8], o[9], o[10], o[11]);
    neg1(cnt, G1e, ra);
    neg1(cnt, G1o, rb);
    a2x(cnt, ra, rb, o[12], o[13], o[14], o[15]);
}

/* ---- F(4x4, 3x3) ------------------------------------------------------------------------
 * The Toom-Cook construction on the points 0, 1, -1, 1/2, -2 and infinity (chosen among the
 * usual sets for the smallest rounding error in float32: ~4e-7 of the sum of |terms| against
 * ~9e-7 for 0, +-1, +-2; F(2x2, 3x3): ~7e-8; docs/performance.md). A^T[i][j] = a_j^i, G[j] =
 * (1, a_j, a_j^2) / prod_{l != j} (a_j - a_l), the rows of B^T the coefficients of
 * prod_{l != j} (x - a_l) (the last one of prod_l (x - a_l)); infinity adds the last column of
 * A^T, the last row of G and of B^T:
 *   B^T = [1 -3/2 -2 3/2 1 0; 0 -1 1/2 5/2 1 0; 0 1 -5/2 1/2 1 0; 0 -2 -1 2 1 0;
 *          0 1/2 -1 -1/2 1 0; 0 1 -3/2 -2 3/2 1]
 *   G   = [1 0 0; 1/3 1/3 1/3; -1/3 1/3 -1/3; -16/15 -8/15 -4/15; 1/15 -2/15 4/15; 0 0 1]
 *   A^T = [1 1 1 1 1 0; 0 1 -1 1/2 -2 0; 0 1 1 1/4 4 0; 0 1 -1 1/8 -8 1]
 * B^T and A^T are exact in binary; G is not: the filter transforms (U = G g G^T, and dW = G^T dU G
 * in backward-filter) are computed in double and rounded once. */
static const double G4[6][3] = {{1.0, 0.0, 0.0},
                                {1.0 / 3, 1.0 / 3, 1.0 / 3},
                                {-1.0 / 3, 1.0 / 3, -1.0 / 3},
                                {-16.0 / 15, -8.0 / 15, -4.0 / 15},
                                {1.0 / 15, -2.0 / 15, 4.0 / 15},
                                {0.0, 0.0, 1.0}};

/* U[xi][k][c] = (G g G^T)[xi] for the 3x3 filters g = w[k][c], xi = 6 i + j; 16 filters at a
 * time as vector lanes (consecutive q, so that the 36 stores per lane group are contiguous) */
static void filter_transform4(const mc_cpu *cpu, int K, int C, const float *w, size_t ku, float *U) {
    const size_t kc = (size_t)K * C, ngroups = (kc + 15) / 16;
#pragma omp parallel for schedule(static) num_threads(threads_for(cpu, kc / 256 + 1))
    for (size_t grp = 0; grp < ngroups; grp++) {
        const size_t q0 = grp * 16, nq = kc - q0 < 16 ? kc - q0 : 16;
        double g[9][16], t[6][3][16];
        for (size_t l = 0; l < nq; l++)
            for (int e = 0; e < 9; e++) g[e][l] = (double)w[(q0 + l) * 9 + (size_t)e];
        for (size_t l = nq; l < 16; l++)
            for (int e = 0; e < 9; e++) g[e][l] = 0.0;
        for (int i = 0; i < 6; i++)
            for (int b = 0; b < 3; b++)
                for (int l = 0; l < 16; l++)
                    t[i][b][l] = G4[i][0] * g[b][l] + G4[i][1] * g[3 + b][l] + G4[i][2] * g[6 + b][l];
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++) {
                float u[16];
                for (int l = 0; l < 16; l++)
                    u[l] = (float)(t[i][0][l] * G4[j][0] + t[i][1][l] * G4[j][1] + t[i][2][l] * G4[j][2]);
                memcpy(U + (size_t)(i * 6 + j) * ku + q0, u, nq * sizeof(float));
            }
    }
}

/* the four phases of row iy shifted by -pad: p_r[q] = row[4(tx0+q) + r - pad], q <= cnt (0
 * outside the row) */
static void split_row4(const float *restrict row, int w, int pad, int tx0, int cnt, float *restrict p0,
                       float *restrict p1, float *restrict p2, float *restrict p3) {
    const int s0 = 4 * tx0 - pad;
    /* q where all four columns are inside: s0 + 4q >= 0 and s0 + 4q + 3 <= w - 1 */
    int lo = s0 >= 0 ? 0 : (3 - s0) / 4, hi = (w - 4 - s0) >= 0 ? (w - 4 - s0) / 4 + 1 : 0;
    if (hi > cnt + 1) hi = cnt + 1;
    if (lo > hi) lo = hi;
    float *const ps[4] = {p0, p1, p2, p3};
    for (int q = 0; q < lo; q++)
        for (int r = 0; r < 4; r++) {
            int c = s0 + 4 * q + r;
            ps[r][q] = c >= 0 && c < w ? row[c] : 0.0f;
        }
    const float *rr = row + s0;
    for (int q = lo; q < hi; q++) {
        p0[q] = rr[4 * q];
        p1[q] = rr[4 * q + 1];
        p2[q] = rr[4 * q + 2];
        p3[q] = rr[4 * q + 3];
    }
    for (int q = hi; q <= cnt; q++)
        for (int r = 0; r < 4; r++) {
            int c = s0 + 4 * q + r;
            ps[r][q] = c >= 0 && c < w ? row[c] : 0.0f;
        }
}

/* B^T on 6 inputs, over n lanes (every pointer a restrict parameter: GCC vectorises only then) */
static void bt6_(int n, const float *restrict a0, const float *restrict a1, const float *restrict a2,
                 const float *restrict a3, const float *restrict a4, const float *restrict a5, float *restrict o0,
                 float *restrict o1, float *restrict o2, float *restrict o3, float *restrict o4, float *restrict o5) {
    for (int q = 0; q < n; q++) {
        const float x0 = a0[q], x1 = a1[q], x2 = a2[q], x3 = a3[q], x4 = a4[q], x5 = a5[q];
        o0[q] = x0 - 1.5f * x1 - 2.0f * x2 + 1.5f * x3 + x4;
        o1[q] = -x1 + 0.5f * x2 + 2.5f * x3 + x4;
        o2[q] = x1 - 2.5f * x2 + 0.5f * x3 + x4;
        o3[q] = -2.0f * x1 - x2 + 2.0f * x3 + x4;
        o4[q] = 0.5f * x1 - x2 - 0.5f * x3 + x4;
        o5[q] = x1 - 1.5f * x2 - 2.0f * x3 + 1.5f * x4 + x5;
    }
}
static void bt6(int n, const float *a0, const float *a1, const float *a2, const float *a3, const float *a4,
                const float *a5, float *const *o) {
    bt6_(n, a0, a1, a2, a3, a4, a5, o[0], o[1], o[2], o[3], o[4], o[5]);
}
/* A^T on 6 inputs, over n lanes */
static void at6_(int n, const float *restrict a0, const float *restrict a1, const float *restrict a2,
                 const float *restrict a3, const float *restrict a4, const float *restrict a5, float *restrict o0,
                 float *restrict o1, float *restrict o2, float *restrict o3) {
    for (int q = 0; q < n; q++) {
        const float x0 = a0[q], x1 = a1[q], x2 = a2[q], x3 = a3[q], x4 = a4[q], x5 = a5[q];
        o0[q] = x0 + x1 + x2 + x3 + x4;
        o1[q] = x1 - x2 + 0.5f * x3 - 2.0f * x4;
        o2[q] = x1 + x2 + 0.25f * x3 + 4.0f * x4;
        o3[q] = x1 - x2 + 0.125f * x3 - 8.0f * x4 + x5;
    }
}
static void at6(int n, const float *a0, const float *a1, const float *a2, const float *a3, const float *a4,
                const float *a5, float *const *o) {
    at6_(n, a0, a1, a2, a3, a4, a5, o[0], o[1], o[2], o[3]);
}
/* A (the transpose of A^T) on 4 inputs, over n lanes */
static void a4x_(int n, const float *restrict g0, const float *restrict g1, const float *restrict g2,
                 const float *restrict g3, float *restrict o0, float *restrict o1, float *restrict o2,
                 float *restrict o3, float *restrict o4, float *restrict o5) {
    for (int q = 0; q < n; q++) {
        const float x0 = g0[q], x1 = g1[q], x2 = g2[q], x3 = g3[q];
        o0[q] = x0;
        o1[q] = x0 + x1 + x2 + x3;
        o2[q] = x0 - x1 + x2 - x3;
        o3[q] = x0 + 0.5f * x1 + 0.25f * x2 + 0.125f * x3;
        o4[q] = x0 - 2.0f * x1 + 4.0f * x2 - 8.0f * x3;
        o5[q] = x3;
    }
}
static void a4x(int n, const float *g0, const float *g1, const float *g2, const float *g3, float *const *o) {
    a4x_(n, g0, g1, g2, g3, o[0], o[1], o[2], o[3], o[4], o[5]);
}

/* v[xi * ldv + q] = (B^T d B)[xi] of the 6x6 input tiles of a tile row segment of channel xc */
static void input_row4(const mc_conv_desc *d, const float *xc, int ty, int tx0, int cnt, float *v, size_t ldv,
                       float *tmp) {
    float *H = tmp, *P = tmp + 36 * (size_t)cnt; /* H[row][component][q]; P: 4 phases of cnt + 1 */
    const size_t pn = (size_t)cnt + 1;
    for (int i = 0; i < 6; i++) {
        int iy = 4 * ty - d->ph + i;
        float *h[6];
        for (int j = 0; j < 6; j++) h[j] = H + (size_t)(6 * i + j) * cnt;
        if (iy < 0 || iy >= d->h) {
            memset(h[0], 0, 6 * (size_t)cnt * sizeof(float));
            continue;
        }
        split_row4(xc + (size_t)iy * d->w, d->w, d->pw, tx0, cnt, P, P + pn, P + 2 * pn, P + 3 * pn);
        bt6(cnt, P, P + pn, P + 2 * pn, P + 3 * pn, P + 1, P + pn + 1, h); /* d B along the row */
    }
    for (int j = 0; j < 6; j++) { /* B^T (.) down the rows */
        float *o[6];
        for (int a = 0; a < 6; a++) o[a] = v + (size_t)(6 * a + j) * ldv;
        bt6(cnt, H + (size_t)j * cnt, H + (size_t)(6 + j) * cnt, H + (size_t)(12 + j) * cnt, H + (size_t)(18 + j) * cnt,
            H + (size_t)(24 + j) * cnt, H + (size_t)(30 + j) * cnt, o);
    }
}

/* y (4x4 per tile) = A^T m A for a tile row segment of output channel yk, blended with beta */
static void output_row4(const mc_conv_desc *d, const float *m, size_t ldm, int ty, int tx0, int cnt, float beta,
                        float *yk, float *tmp) {
    float *S = tmp, *Y = tmp + 24 * (size_t)cnt; /* S[r][j][q] = (A^T m)[r][j]; Y: 4 outputs of a row */
    for (int j = 0; j < 6; j++) {
        float *o[4];
        for (int r = 0; r < 4; r++) o[r] = S + (size_t)(6 * r + j) * cnt;
        at6(cnt, m + (size_t)j * ldm, m + (size_t)(6 + j) * ldm, m + (size_t)(12 + j) * ldm, m + (size_t)(18 + j) * ldm,
            m + (size_t)(24 + j) * ldm, m + (size_t)(30 + j) * ldm, o);
    }
    const int x0 = 4 * tx0, ncol = 4 * cnt < d->ow - x0 ? 4 * cnt : d->ow - x0;
    float *ys[4] = {Y, Y + cnt, Y + 2 * (size_t)cnt, Y + 3 * (size_t)cnt};
    for (int r = 0; r < 4 && 4 * ty + r < d->oh; r++) {
        const float *a = S + (size_t)(6 * r) * cnt;
        at6(cnt, a, a + cnt, a + 2 * (size_t)cnt, a + 3 * (size_t)cnt, a + 4 * (size_t)cnt, a + 5 * (size_t)cnt, ys);
        float *restrict yr = yk + (size_t)(4 * ty + r) * d->ow + x0;
        const int quads = ncol / 4;
        if (beta == 0.0f) {
            for (int q = 0; q < quads; q++)
                for (int s = 0; s < 4; s++) yr[4 * q + s] = ys[s][q];
            for (int c = 4 * quads; c < ncol; c++) yr[c] = ys[c & 3][quads];
        } else {
            for (int q = 0; q < quads; q++)
                for (int s = 0; s < 4; s++) yr[4 * q + s] = ys[s][q] + beta * yr[4 * q + s];
            for (int c = 4 * quads; c < ncol; c++) yr[c] = ys[c & 3][quads] + beta * yr[c];
        }
    }
}

/* e[xi * lde + q] = (A g A^T)[xi] for the 4x4 output-gradient tiles g of a tile row segment of
 * channel gk (0 outside the output) */
static void grad_row4(const mc_conv_desc *d, const float *gk, int ty, int tx0, int cnt, float *e, size_t lde,
                      float *tmp) {
    float *R = tmp, *P = tmp + 24 * (size_t)cnt; /* R[a][j][q] = (g A^T)[a][j]; P: 4 phases of cnt + 1 */
    const size_t pn = (size_t)cnt + 1;
    for (int a = 0; a < 4; a++) {
        float *o[6];
        for (int j = 0; j < 6; j++) o[j] = R + (size_t)(6 * a + j) * cnt;
        if (4 * ty + a >= d->oh) {
            memset(o[0], 0, 6 * (size_t)cnt * sizeof(float));
            continue;
        }
        split_row4(gk + (size_t)(4 * ty + a) * d->ow, d->ow, 0, tx0, cnt, P, P + pn, P + 2 * pn, P + 3 * pn);
        a4x(cnt, P, P + pn, P + 2 * pn, P + 3 * pn, o);
    }
    for (int j = 0; j < 6; j++) { /* A (.) down the rows */
        float *o[6];
        for (int i = 0; i < 6; i++) o[i] = e + (size_t)(6 * i + j) * lde;
        a4x(cnt, R + (size_t)j * cnt, R + (size_t)(6 + j) * cnt, R + (size_t)(12 + j) * cnt, R + (size_t)(18 + j) * cnt,
            o);
    }
}

/* the segments (image, tile row, first tile, count) of tiles [t0, t0 + nb): SEG(n, ty, tx0, cnt, j0) */
#define FOR_SEGMENTS(p, t0, nb, BODY)                                                                  \
    for (size_t t_ = (t0); t_ < (t0) + (size_t)(nb);) {                                                \
        size_t n_ = t_ / (p)->tpi, r_ = t_ % (p)->tpi;                                                 \
        int ty = (int)(r_ / (size_t)(p)->tw), tx0 = (int)(r_ % (size_t)(p)->tw);                       \
        int cnt = (p)->tw - tx0;                                                                       \
        if ((size_t)cnt > (t0) + (size_t)(nb) - t_) cnt = (int)((t0) + (size_t)(nb) - t_);             \
        size_t n = n_, j0 = t_ - (t0);                                                                 \
        BODY;                                                                                          \
        t_ += (size_t)cnt;                                                                             \
    }

/* ---- the AVX-512 block transforms' lanes (cpu/conv.h: mc_cpu_wino_lanes) ----
 * With AVX-512 the F(2x2, 3x3) transforms take a block's tiles 16 at a time whatever tile row or
 * image they belong to (cpu/winograd_avx512.c): the row transforms split the vectors at every row
 * end, so that a 20 x 20 output filled 10 of 16 lanes and a 10 x 10 one 5, and went through a
 * call per tile row and channel. One transform's input transform, 1 thread, against the row
 * transforms (alternating, medians): 64 ch at 80^2 5.4 -> 4.9 ms, 128 at 40^2 6.3 -> 3.2, 256 at
 * 20^2 2.9 -> 1.9, 512 at 10^2 3.1 -> 1.1 (docs/performance.md). */

/* the portable row transforms' tmp (the block transforms' lanes after it) */
static size_t row_tmp_floats(const wplan *p) {
    return p->m == 4 ? round16(40 * (size_t)p->tw + 32) : round16(20 * (size_t)p->tw + 8);
}
/* runs at most for a block of nt tiles (a run per vector and one more per tile-row end) */
static size_t lanes_runs(const wplan *p) { return (size_t)(p->nt + 15) / 16 + (size_t)p->nt / (size_t)p->tw + 2; }
/* floats for one block's lanes (first and runs) */
static size_t lanes_floats(const wplan *p) {
    return round16((((size_t)(p->nt + 15) / 16 + 1) * sizeof(int) + lanes_runs(p) * sizeof(mc_cpu_wino_run)) /
                       sizeof(float) + 16);
}

/* the lanes [lo, hi) of 16 positions as bits */
static unsigned short bits16(int lo, int hi) {
    if (lo < 0) lo = 0;
    if (hi > 16) hi = 16;
    return lo >= hi ? 0 : (unsigned short)(((1u << (hi - lo)) - 1u) << lo);
}

/* the lanes of the block [t0, t0 + nb) for a transform reading (or writing) rows of w columns
 * from 2 ty - pad, 2 tx - pad, in the memory at mem (lanes_floats(p) floats) */
static void block_lanes(const wplan *p, size_t t0, int nb, int pad, int w, float *mem, mc_cpu_wino_lanes *L) {
    static const int coff[4] = {0, 16, 2, 18}, loff[4] = {0, 16, 0, 16}; /* column; first position's lane x 2 */
    const int nvec = (nb + 15) / 16;
    int *first = (int *)mem;
    mc_cpu_wino_run *run = (mc_cpu_wino_run *)(mem + round16(((size_t)nvec + 1) * sizeof(int) / sizeof(float) + 1));
    int nr = 0;
    for (int v = 0; v < nvec; v++) {
        first[v] = nr;
        const int lanes = nb - 16 * v < 16 ? nb - 16 * v : 16;
        for (int l = 0; l < lanes;) {
            const size_t t = t0 + 16 * (size_t)v + (size_t)l, n = t / p->tpi, r = t % p->tpi;
            const int ty = (int)(r / (size_t)p->tw), tx0 = (int)(r % (size_t)p->tw);
            const int len = p->tw - tx0 < lanes - l ? p->tw - tx0 : lanes - l;
            mc_cpu_wino_run *R = run + nr++;
            R->n = (int)n;
            R->row = 2 * ty - pad;
            R->col = 2 * tx0 - pad - 2 * l;
            for (int s = 0; s < 4; s++)
                R->k[s] = (unsigned short)(bits16(2 * l - loff[s], 2 * (l + len) - loff[s]) &
                                           bits16(-R->col - coff[s], w - R->col - coff[s]));
            l += len;
        }
    }
    first[nvec] = nr;
    L->nvec = nvec;
    L->nb = nb;
    L->first = first;
    L->run = run;
}
/* whether the plan's transforms are the block ones */
static int block_simd(const wplan *p) { return p->m == 2 && p->simd == MC_F32_AVX512; }

/* a row transform: the tiles [tx0, tx0 + cnt) of tile row ty of one plane into out (ld apart) */
typedef void (*row_fn)(const mc_conv_desc *d, const float *plane, int ty, int tx0, int cnt, float *out, size_t ld,
                       float *tmp);

/* the AVX2 row transforms (cpu/winograd_avx2.c) as row functions: input_rowW and grad_rowW for
 * W = 256 (AVX-512 has the block transforms) */
#define SIMD_ROWS(W)                                                                                          \
    static void input_row##W(const mc_conv_desc *d, const float *xc, int ty, int tx0, int cnt, float *v,      \
                             size_t ldv, float *tmp) {                                                        \
        (void)tmp;                                                                                            \
        mc_cpu_wino_in_row##W(xc, d->h, d->w, d->pw, ty, tx0, cnt, v, ldv);                                   \
    }                                                                                                         \
    static void grad_row##W(const mc_conv_desc *d, const float *gk, int ty, int tx0, int cnt, float *e,       \
                            size_t lde, float *tmp) {                                                         \
        (void)tmp;                                                                                            \
        mc_cpu_wino_grad_row##W(gk, d->oh, d->ow, ty, tx0, cnt, e, lde);                                      \
    }
SIMD_ROWS(256)
#undef SIMD_ROWS

/* the row transform f over the tiles [t0, t0 + nb) of every plane (planes of plane_size floats
 * per image) of src, plane c's into out + c * nt */
static void planes_transform(const mc_conv_desc *d, const wplan *p, const float *src, int planes, size_t plane_size,
                             row_fn f, size_t t0, int nb, float *out, size_t ld, int nt, float *tmp) {
    FOR_SEGMENTS(p, t0, nb, {
        for (int c = 0; c < planes; c++)
            f(d, src + (n * (size_t)planes + (size_t)c) * plane_size, ty, tx0, cnt, out + (size_t)c * nt + j0, ld, tmp);
    })
}

static void input_transform(const mc_conv_desc *d, const wplan *p, const float *x, size_t t0, int nb, float *V,
                            size_t ldv, int nt, float *tmp) {
    if (block_simd(p)) {
        mc_cpu_wino_lanes L;
        block_lanes(p, t0, nb, d->pw, d->w, tmp + row_tmp_floats(p), &L);
        const size_t hw = (size_t)d->h * d->w, img = (size_t)d->c * hw;
        for (int c = 0; c < d->c; c++)
            mc_cpu_wino_in_block512(x + (size_t)c * hw, x, x + img * (size_t)d->n, img, d->h, d->w, &L,
                                    V + (size_t)c * nt, ldv);
        return;
    }
    planes_transform(d, p, x, d->c, (size_t)d->h * d->w, p->m == 4       ? input_row4
                     : p->simd == MC_F32_AVX2   ? input_row256
                                    : input_row,
                     t0, nb, V, ldv, nt, tmp);
}

/* The output rows of channel k that the tiles [tn, tn + nbn) write, fetched into the cache ahead
 * of their writes. The output transform's stores miss: each block writes two (m) rows of ~100
 * floats in each of k planes, too short and too many streams for the hardware prefetcher. Fetched
 * one block ahead (the next block's rows of channel k after this block's channel k): 64 -> 64 at
 * 80^2, forward, 1 thread 24.2-24.5 -> 23.8-23.9 ms, 2 threads 12.7-12.9 -> 12.3-12.4 ms
 * (docs/performance.md). A hint only: the same bits. */
static void prefetch_out_rows(const mc_conv_desc *d, const wplan *p, const float *y, int k, size_t tn, int nbn) {
    const size_t ohw = (size_t)d->oh * d->ow;
    FOR_SEGMENTS(p, tn, nbn, {
        const float *yk = y + (n * (size_t)d->k + (size_t)k) * ohw;
        const int r1 = p->m * (ty + 1) < d->oh ? p->m * (ty + 1) : d->oh;
        const int x1 = p->m * (tx0 + cnt) < d->ow ? p->m * (tx0 + cnt) : d->ow;
        for (int r = p->m * ty; r < r1; r++) {
            const float *q = yk + (size_t)r * d->ow;
            for (int c = p->m * tx0; c < x1; c += 16) __builtin_prefetch(q + c, 1, 3);
            __builtin_prefetch(q + x1 - 1, 1, 3);
        }
        (void)j0;
    })
}

/* y (the tiles [t0, t0 + nb)) from M; the rows of the tiles [tn, tn + nbn) prefetched on the way */
static void output_transform(const mc_conv_desc *d, const wplan *p, const float *M, size_t ldm, int nt, size_t t0,
                             int nb, float beta, float *y, float *tmp, size_t tn, int nbn) {
    const size_t ohw = (size_t)d->oh * d->ow;
    if (block_simd(p)) {
        mc_cpu_wino_lanes L;
        block_lanes(p, t0, nb, 0, d->ow, tmp + row_tmp_floats(p), &L);
        for (int k = 0; k < d->k; k++) {
            if (nbn > 0) prefetch_out_rows(d, p, y, k, tn, nbn);
            mc_cpu_wino_out_block512(M + (size_t)k * nt, ldm, (size_t)d->k * ohw, d->oh, d->ow, &L, beta,
                                     y + (size_t)k * ohw);
        }
        return;
    }
    FOR_SEGMENTS(p, t0, nb, {
        for (int k = 0; k < d->k; k++) {
            if (j0 == 0 && nbn > 0) prefetch_out_rows(d, p, y, k, tn, nbn);
            float *yk = y + (n * (size_t)d->k + (size_t)k) * ohw;
            if (p->m == 4)
                output_row4(d, M + (size_t)k * nt + j0, ldm, ty, tx0, cnt, beta, yk, tmp);
            else if (p->simd == MC_F32_AVX2)
                mc_cpu_wino_out_row256(M + (size_t)k * nt + j0, ldm, d->oh, d->ow, ty, tx0, cnt, beta, yk);
            else
                output_row(d, M + (size_t)k * nt + j0, ldm, ty, tx0, cnt, beta, yk, tmp);
        }
    })
}

static void grad_transform(const mc_conv_desc *d, const wplan *p, const float *dy, size_t t0, int nb, float *E,
                           size_t lde, int nt, float *tmp) {
    if (block_simd(p)) {
        mc_cpu_wino_lanes L;
        block_lanes(p, t0, nb, 0, d->ow, tmp + row_tmp_floats(p), &L);
        const size_t ohw = (size_t)d->oh * d->ow, img = (size_t)d->k * ohw;
        for (int k = 0; k < d->k; k++)
            mc_cpu_wino_grad_block512(dy + (size_t)k * ohw, dy, dy + img * (size_t)d->n, img, d->oh, d->ow, &L,
                                      E + (size_t)k * nt, lde);
        return;
    }
    planes_transform(d, p, dy, d->k, (size_t)d->oh * d->ow, p->m == 4       ? grad_row4
                     : p->simd == MC_F32_AVX2   ? grad_row256
                                    : grad_row,
                     t0, nb, E, lde, nt, tmp);
}

/* ---- forward ---------------------------------------------------------------------------- */
/* one block of the forward: tiles [t0, t0 + nb) in, products, out (the rows of [tn, tn + nbn)
 * prefetched) */
static void forward_block(const mc_cpu *cpu, const mc_conv_desc *d, const wplan *p, const float *x, const float *U,
                          const mc_cpu_f32_pa *pa, const float *UP, float beta, float *y, float *V, float *M,
                          float *tmp, size_t t0, int nb, size_t tn, int nbn) {
    const int C = d->c, K = d->k, nt = p->nt, nn = p->nn;
    const size_t ku = p->ku, ldv = p->ldv, ldm = p->ldm;
    input_transform(d, p, x, t0, nb, V, ldv, nt, tmp);
    for (int xi = 0; xi < nn; xi++)
        if (UP)
            mc_cpu_gemm1_pa(cpu, pa, UP + (size_t)xi * pa->floats, nb, 1.0f, V + (size_t)xi * ldv, nt, 0.0f,
                            M + (size_t)xi * ldm, nt);
        else
            mc_cpu_gemm1(cpu, 0, 0, K, nb, C, 1.0f, U + (size_t)xi * ku, C, V + (size_t)xi * ldv, nt, 0.0f,
                         M + (size_t)xi * ldm, nt);
    output_transform(d, p, M, ldm, nt, t0, nb, beta, y, tmp, tn, nbn);
}

/* y = conv(x, w) + beta y with the filters already transformed (U). The blocks of nt tiles
 * (the last one shorter) are taken with work stealing (mc_cpu_steal): each thread's share is a
 * run of consecutive blocks, the rows they read and write in its own caches. */
static void wino_forward(const mc_cpu *cpu, const mc_conv_desc *d, const wplan *p, int threads, const float *x,
                         const float *U, const mc_cpu_f32_pa *pa, const float *UP, float beta, float *y,
                         float *scratch, size_t per_thread) {
    const size_t nt = (size_t)p->nt, ldv = p->ldv, ldm = p->ldm;
    const int nn = p->nn;
    mc_cpu_steal_slot slots[MC_CPU_STEAL_MAX] __attribute__((aligned(64)));
#pragma omp parallel num_threads(threads)
    {
        const int t = omp_get_thread_num();
        float *V = scratch + per_thread * (size_t)t, *M = V + nn * ldv, *tmp = M + nn * ldm;
        mc_cpu_steal it;
        mc_cpu_steal_begin(&it, slots, (long)p->nblocks);
        for (long b; (b = mc_cpu_steal_next(&it)) >= 0;) {
            const size_t t0 = (size_t)b * nt, tn = t0 + nt;
            const int nb = (int)(p->ntiles - t0 < nt ? p->ntiles - t0 : nt);
            /* the rows of the share's next block prefetched (a block of its own share only) */
            const int next = b >= it.own0 && b + 1 < it.own1;
            const int nbn = next ? (int)(p->ntiles - tn < nt ? p->ntiles - tn : nt) : 0;
            forward_block(cpu, d, p, x, U, pa, UP, beta, y, V, M, tmp, t0, nb, tn, nbn);
        }
    }
}

/* V (nn c nt) + M (nn k nt) + the row transforms' tmp */
static size_t tmp_floats(const wplan *p) { return row_tmp_floats(p) + lanes_floats(p); }
static size_t fwd_per_thread(const wplan *p) { return (size_t)p->nn * (p->ldv + p->ldm) + tmp_floats(p); }
/* U for the plan (K x C filters, F(m x m, 3x3)) */
static void filter_transform_m(const mc_cpu *cpu, const wplan *p, int K, int C, const float *w, float *U) {
    if (p->m == 4)
        filter_transform4(cpu, K, C, w, p->ku, U);
    else
        filter_transform(cpu, K, C, w, p->ku, U);
}

/* The forward products (forward, backward-data) take U packed once for the own GEMM
 * (mc_cpu_f32_pa; not with bf16 or OpenBLAS, whose products pack it themselves): the products no
 * longer repack it for every block of tiles, so the blocks can be small, MC_WINO_FNT tiles, for V
 * and M to stay in the L2 (16 x (64 + 64) x 48 floats, 384 KB, beside U's 256 KB on the
 * 64-channel layers). Twice that where c + k >= 1024 (512 channels: each of U's matrices is 1 MB
 * and read once per block). Measured (1 and 2 threads, docs/performance.md): 4-11 % off the
 * forward and backward-data of every ResNet18 3x3 layer against 2M-float blocks with U repacked;
 * 96 tiles lost 8 % at 64 channels on 2 threads, 48 lost 4 % at 512. The bits do not depend on
 * the blocks (each product sums over the channels only). */
#ifndef MC_WINO_FNT
#define MC_WINO_FNT 48
#endif
static int packed_u(const mc_cpu *cpu) { return cpu->own_gemm && !cpu->bf16; }
static int fwd_nt(const mc_cpu *cpu, const mc_conv_desc *d) {
    return packed_u(cpu) ? MC_WINO_FNT * (d->c + d->k >= 1024 ? 2 : 1) : 0;
}

/* The forward product's scratch after U: U packed (pa, where packed_u), then V, M and tmp per thread */
typedef struct {
    int T, pk;
    mc_cpu_f32_pa pa;
    size_t nu, npa, per, floats; /* U; packed U; per thread; all of them */
} fwd_need;

static void forward_need(const mc_cpu *cpu, const mc_conv_desc *d, const wplan *p, fwd_need *f) {
    memset(f, 0, sizeof *f);
    f->T = threads_for(cpu, p->nblocks);
    f->nu = (size_t)p->nn * p->ku;
    f->per = fwd_per_thread(p);
    f->pk = packed_u(cpu) && mc_cpu_f32_pa_init(&f->pa, cpu->own_gemm, d->k, d->c, p->nt) == MC_OK;
    f->npa = f->pk ? round16((size_t)p->nn * f->pa.floats) : 0;
    f->floats = f->nu + f->npa + f->per * (size_t)f->T;
}

/* y = conv(x, U) + beta y for the plan p of d, U (nn x ku floats, transformed) at U, followed by
 * f->floats - f->nu floats of scratch */
static void forward_from(const mc_cpu *cpu, const mc_conv_desc *d, const wplan *p, const fwd_need *f, float *U,
                         const float *x, float beta, float *y) {
    float *UP = f->pk ? U + f->nu : NULL;
    if (f->pk) {
#pragma omp parallel for schedule(static) num_threads(threads_for(cpu, (size_t)p->nn))
        for (int xi = 0; xi < p->nn; xi++)
            mc_cpu_f32_pa_pack(&f->pa, 0, U + (size_t)xi * p->ku, d->c, UP + (size_t)xi * f->pa.floats);
    }
    wino_forward(cpu, d, p, f->T, x, U, &f->pa, UP, beta, y, U + f->nu + f->npa, f->per);
}

int mc_cpu_wino_fwd(mc_cpu *cpu, const mc_conv_desc *d, const float *x, const float *w, float beta,
                    float *y) {
    wplan p;
    make_plan(cpu, d, cpu->winograd, fwd_nt(cpu, d), &p);
    fwd_need f;
    forward_need(cpu, d, &p, &f);
    MC_TRY(mc_cpu_arena_reserve(cpu, f.floats));
    filter_transform_m(cpu, &p, d->k, d->c, w, cpu->arena.p);
    forward_from(cpu, d, &p, &f, cpu->arena.p, x, beta, y);
    return MC_OK;
}

/* ---- backward-data ---------------------------------------------------------------------- */
int mc_cpu_wino_bwd_data(mc_cpu *cpu, const mc_conv_desc *d, const float *dy, const float *w,
                         float beta, float *dx) {
    /* the convolution from dy (k channels, oh x ow) to dx (c channels, h x w) */
    mc_conv_desc e = *d;
    e.c = d->k;
    e.h = d->oh;
    e.w = d->ow;
    e.k = d->c;
    e.oh = d->h;
    e.ow = d->w;
    e.ph = e.pw = 2 - d->ph;
    wplan p;
    make_plan(cpu, &e, cpu->winograd, fwd_nt(cpu, &e), &p);
    fwd_need f;
    forward_need(cpu, &e, &p, &f);
    const size_t nw = round16((size_t)d->k * d->c * 9);
    mc_cpu_arena *ar = &cpu->arena;
    MC_TRY(mc_cpu_arena_reserve(cpu, nw + f.floats));
    float *wt = ar->p, *U = ar->p + nw;
    const int K = d->k, C = d->c;
    /* wt[c][k][i][j] = w[k][c][2-i][2-j] */
#pragma omp parallel for schedule(static) num_threads(threads_for(cpu, (size_t)C))
    for (int c = 0; c < C; c++)
        for (int k = 0; k < K; k++) {
            const float *s = w + ((size_t)k * C + c) * 9;
            float *t = wt + ((size_t)c * K + k) * 9;
            for (int q = 0; q < 9; q++) t[q] = s[8 - q];
        }
    filter_transform_m(cpu, &p, C, K, wt, U);
    forward_from(cpu, &e, &p, &f, U, dy, beta, dx);
    return MC_OK;
}

/* ---- backward-filter -------------------------------------------------------------------- */
int mc_cpu_wino_bwd_filter(mc_cpu *cpu, const mc_conv_desc *d, const float *x, const float *dy,
                           float beta, float *dw) {
    wplan p;
    make_plan(cpu, d, cpu->winograd, 0, &p);
    const int C = d->c, K = d->k, nt = p.nt, nn = p.nn;
    const size_t kc = (size_t)K * C, ku = p.ku, ndu = nn * ku, ldv = p.ldv, ldm = p.ldm;
    const size_t per = fwd_per_thread(&p); /* V, E and the row transforms' tmp */
    /* the sum over blocks in CH chunks of consecutive blocks, each into its own dU */
    const int CH = mc_cpu_chunks(p.nblocks, nn * kc), T = threads_for(cpu, (size_t)CH);
    mc_cpu_arena *ar = &cpu->arena;
    MC_TRY(mc_cpu_arena_reserve(cpu, per * (size_t)T + ndu * (size_t)CH));
    float *dUs = ar->p + per * (size_t)T;
    /* the chunks with work stealing (mc_cpu_steal: a chunk's dU is the same whoever computes it) */
    mc_cpu_steal_slot slots[MC_CPU_STEAL_MAX] __attribute__((aligned(64)));
#pragma omp parallel num_threads(T)
    {
        const int t = omp_get_thread_num();
        float *V = ar->p + per * (size_t)t, *E = V + nn * ldv, *tmp = E + nn * ldm;
        mc_cpu_steal it;
        mc_cpu_steal_begin(&it, slots, CH);
        for (long ci; (ci = mc_cpu_steal_next(&it)) >= 0;) {
            const int c = (int)ci;
            float *dU = dUs + ndu * (size_t)c;
            size_t b0 = p.nblocks * (size_t)c / (size_t)CH, b1 = p.nblocks * (size_t)(c + 1) / (size_t)CH;
            if (b0 == b1) memset(dU, 0, ndu * sizeof(float));
            for (size_t b = b0; b < b1; b++) {
                size_t t0 = b * (size_t)nt;
                int nb = (int)(p.ntiles - t0 < (size_t)nt ? p.ntiles - t0 : (size_t)nt);
                input_transform(d, &p, x, t0, nb, V, ldv, nt, tmp);
                grad_transform(d, &p, dy, t0, nb, E, ldm, nt, tmp);
                for (int xi = 0; xi < nn; xi++)
                    mc_cpu_gemm1(cpu, 0, 1, K, C, nb, 1.0f, E + (size_t)xi * ldm, nt, V + (size_t)xi * ldv, nt,
                                 b > b0 ? 1.0f : 0.0f, dU + (size_t)xi * ku, C);
            }
        }
    }
    /* dW = G^T (((dU_0 + dU_1) + dU_2) + ...) G, blended with beta */
    mc_cpu_sum_into(cpu, dUs, dUs + ndu, ndu, CH - 1, ndu);
    if (p.m == 4) {
        /* dW = G^T dU G in double, blended with beta */
#pragma omp parallel for schedule(static) num_threads(threads_for(cpu, kc / 256 + 1))
        for (size_t q = 0; q < kc; q++) {
            double r[3][6]; /* G^T dU */
            for (int a = 0; a < 3; a++)
                for (int j = 0; j < 6; j++) {
                    double acc = 0.0;
                    for (int i = 0; i < 6; i++) acc += G4[i][a] * (double)dUs[(size_t)(6 * i + j) * ku + q];
                    r[a][j] = acc;
                }
            float *o = dw + q * 9;
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++) {
                    double acc = 0.0;
                    for (int j = 0; j < 6; j++) acc += r[a][j] * G4[j][b];
                    o[a * 3 + b] = (float)acc + (beta == 0.0f ? 0.0f : beta * o[a * 3 + b]);
                }
        }
        return MC_OK;
    }
#pragma omp parallel for schedule(static) num_threads(threads_for(cpu, kc / 256 + 1))
    for (size_t q = 0; q < kc; q++) {
        float u[16];
        for (int xi = 0; xi < 16; xi++) u[xi] = dUs[(size_t)xi * ku + q];
        /* G^T u: rows u0 + (u1 + u2)/2, (u1 - u2)/2, (u1 + u2)/2 + u3 (per column) */
        float r[3][4];
        for (int j = 0; j < 4; j++) {
            float a0 = u[j], a1 = u[4 + j], a2 = u[8 + j], a3 = u[12 + j];
            r[0][j] = a0 + 0.5f * (a1 + a2);
            r[1][j] = 0.5f * (a1 - a2);
            r[2][j] = 0.5f * (a1 + a2) + a3;
        }
        float *o = dw + q * 9;
        for (int i = 0; i < 3; i++) { /* (G^T u) G */
            float a0 = r[i][0], a1 = r[i][1], a2 = r[i][2], a3 = r[i][3];
            float v[3] = {a0 + 0.5f * (a1 + a2), 0.5f * (a1 - a2), 0.5f * (a1 + a2) + a3};
            for (int j = 0; j < 3; j++) o[i * 3 + j] = v[j] + (beta == 0.0f ? 0.0f : beta * o[i * 3 + j]);
        }
    }
    return MC_OK;
}
