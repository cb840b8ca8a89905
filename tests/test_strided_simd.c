/* test_strided_simd.c — the stride-2 rows in AVX-512 (cpu/strided_avx512.c) and AVX2
 * (cpu/strided_avx2.c) against the portable loops of cpu/conv.c (im2col, col2im) and
 * cpu/backend_cpu.c (max pooling).
 *
 * The SIMD rows promise the portable loops' bits (a copy; each element's add once, in the
 * same order; the same comparisons), so the three im2col convolution primitives — forward
 * (im2col), backward-data (col2im) and backward-filter (im2col) — and max pooling's forward and
 * backward must give bitwise the same result with cpu->simd at MC_F32_AVX512 and at 0
 * (portable), and at MC_F32_AVX2 and at 0.
 * Convolutions: stride 2 with kernels 1, 3, 4, 7 and paddings 0..3; row lengths below, at and
 * across 8 and 16 (the vectors) and odd ones (the masked tails: a last column right at the end of the
 * row, the plane and the buffer); batch-folded tiles of small images, row tiles of large ones,
 * fewer images than the plans' pieces (backward-data split by channels: neighbouring threads'
 * columns interleave with the even ones written), groups.
 * Pooling: 3x3 stride 2 with padding 0 and 1 (the vectorised backward), 2x2 and 3x3 stride 1
 * (forward only, or neither), planes narrower than a vector and as wide as the stems' 159 and
 * 160; values from a few integers (many ties: the first maximum must win), some NaN and -inf
 * (the last NaN wins; an all -inf window's first element).
 * Both: beta 0 (the output full of NaN: never read) and beta != 0; zeros of both signs.
 * Tolerance: none (memcmp). That the operations are right is test_cpu_backend's (against their
 * definitions, whatever this CPU selects). Where the CPU lacks AVX-512 (or AVX2) that part
 * cannot run: skipped.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cpu/conv.h"
#include "engine/backend.h"
#include "test.h"
#include "simd_case.h"

static int nsame[3], ncases[3]; /* [1] AVX2, [2] AVX-512 */
static int isa;                 /* the rows under test: MC_F32_AVX512 or MC_F32_AVX2 */

/* one primitive (0 fwd, 1 bwd-data, 2 bwd-filter) with the SIMD rows and without */
static void one(mc_cpu *cpu, const mc_conv_desc *d, int prim, float beta, mc_rng *r) {
    static const simd_prim_fn f[3] = {mc_cpu_conv_fwd, mc_cpu_conv_bwd_data, mc_cpu_conv_bwd_filter};
    size_t first;
    float v0, v1;
    const size_t bad = simd_conv_pair(cpu, isa, f, d, prim, beta, r, &first, &v0, &v1);
    CHECK(bad == 0,
          "%s: %s n%d c%d %dx%d k%d %dx%d s2 pad %d groups %d beta %g: %zu values differ from the portable path "
          "(first %zu: %.9g vs %.9g)",
          isa == 2 ? "AVX-512" : "AVX2", prim == 0 ? "forward" : prim == 1 ? "backward-data" : "backward-filter", d->n,
          d->c, d->h, d->w, d->k, d->kh, d->kw, d->ph, d->groups, (double)beta, bad, first, (double)v0, (double)v1);
    nsame[isa] += bad == 0;
    ncases[isa]++;
}

/* max pooling, forward and backward, with the SIMD rows and without */
static void pool_one(mc_backend *be, int n, int c, int h, int w, int k, int st, int pad, float beta, mc_rng *r) {
    mc_cpu *cpu = be->ctx;
    mc_pool_desc d = {.mode = MC_POOL_MAX, .n = n, .c = c, .h = h, .w = w, .kh = k, .kw = k, .sh = st, .sw = st,
                      .pt = pad, .pl = pad};
    d.oh = (h + 2 * pad - k) / st + 1, d.ow = (w + 2 * pad - k) / st + 1;
    const size_t nx = (size_t)n * c * h * w, ny = (size_t)n * c * d.oh * d.ow;
    float *x = simd_alloc(nx), *dy = simd_alloc(ny), *y[2] = {simd_alloc(ny), simd_alloc(ny)}, *dx[2] = {simd_alloc(nx), simd_alloc(nx)};
    for (size_t i = 0; i < nx; i++) {
        double u = mc_rng_uniform(r);
        x[i] = u < 0.01 ? NAN : u < 0.03 ? -INFINITY : u < 0.05 ? -0.0f : (float)(int)(4 * mc_rng_uniform(r));
    }
    simd_fill(dy, ny, r);
    simd_fill(dx[0], nx, r);
    if (beta == 0.0f)
        for (size_t i = 0; i < nx; i += 3) dx[0][i] = NAN;
    memcpy(dx[1], dx[0], nx * sizeof(float));
    for (int simd = 0; simd < 2; simd++) {
        cpu->simd = simd ? isa : 0;
        REQUIRE_OK(be->pool_fwd(be, &d, x, y[simd]));
        REQUIRE_OK(be->pool_bwd(be, &d, x, y[0], dy, beta, dx[simd])); /* the same y for both */
    }
    CHECK(!memcmp(y[0], y[1], ny * sizeof(float)), "%s: max pooling %dx%d k%d s%d p%d: forward differs",
          isa == 2 ? "AVX-512" : "AVX2", h, w, k, st, pad);
    size_t bad = 0;
    for (size_t i = 0; i < nx; i++) bad += memcmp(&dx[0][i], &dx[1][i], sizeof(float)) != 0;
    CHECK(bad == 0, "%s: max pooling %dx%d k%d s%d p%d beta %g: backward differs in %zu of %zu values",
          isa == 2 ? "AVX-512" : "AVX2", h, w, k, st, pad, (double)beta, bad, nx);
    nsame[isa] += bad == 0 && !memcmp(y[0], y[1], ny * sizeof(float));
    ncases[isa]++;
    free(x), free(dy), free(y[0]), free(y[1]), free(dx[0]), free(dx[1]);
}

int main(void) {
    mc_backend *be = NULL;
    const int level = simd_case_backend("test_strided_simd", "stride-2 rows", (mc_net_opts){.threads = 2}, &be);
    if (!level) return mc_test_done("test_strided_simd");
    mc_cpu *cpu = be->ctx;
    mc_rng r;
    mc_rng_seed(&r, 2027);
    /* n, c, h, w, k, kernel, pad, groups */
    static const int shapes[][8] = {
        {2, 3, 45, 40, 8, 7, 3, 1},   /* the 7x7 stems, row tiles */
        {1, 1, 70, 67, 6, 7, 2, 1},   /* one image: backward-data by channels */
        {3, 2, 33, 33, 5, 3, 1, 1},   /* rows of 17 outputs: one whole vector and a tail of 1 */
        {6, 4, 11, 11, 7, 3, 1, 1},   /* batch-folded small images */
        {5, 8, 10, 10, 6, 1, 0, 1},   /* 1x1 s2 downsampling */
        {2, 4, 34, 34, 5, 4, 1, 1},   /* 4x4 s2 p1 */
        {1, 6, 9, 64, 4, 3, 0, 2},    /* groups; rows of 31 */
        {2, 3, 8, 5, 4, 3, 1, 1},     /* rows shorter than a vector */
        {1, 2, 5, 130, 3, 7, 3, 1},   /* long rows: several vectors and a tail */
        {4, 5, 17, 32, 16, 3, 1, 1},  /* rows of 16 outputs: a vector exactly */
        {2, 3, 17, 17, 4, 3, 1, 1},   /* rows of 9 outputs: an AVX2 vector and a tail of 1 */
        {1, 2, 16, 15, 3, 3, 1, 1},   /* rows of 8 outputs: an AVX2 vector exactly */
    };
    /* n, c, h, w, kernel, stride, pad */
    static const int pools[][7] = {{2, 3, 159, 159, 3, 2, 1}, {1, 2, 160, 160, 3, 2, 1}, {3, 2, 9, 7, 3, 2, 1},
                                   {2, 2, 33, 33, 3, 2, 0},   {2, 3, 34, 35, 3, 2, 1},   {1, 4, 20, 70, 2, 2, 0},
                                   {2, 2, 12, 12, 3, 1, 1},   {1, 1, 3, 3, 3, 2, 1},     {2, 2, 19, 19, 3, 2, 1},
                                   {1, 3, 15, 17, 3, 2, 1},
                                   /* even sides, padding 1: the AVX-512 gather (beta 0); rows of 18,
                                    * 33 and 16 windows, and a single window */
                                   {2, 3, 34, 36, 3, 2, 1},   {2, 2, 4, 66, 3, 2, 1},    {1, 3, 32, 32, 3, 2, 1},
                                   {1, 2, 2, 2, 3, 2, 1}};
    for (isa = level; isa >= MC_F32_AVX2; isa--) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            const int *a = shapes[s];
            mc_conv_desc d = {.n = a[0], .c = a[1], .h = a[2], .w = a[3], .k = a[4], .kh = a[5], .kw = a[5],
                              .sh = 2, .sw = 2, .ph = a[6], .pw = a[6], .groups = a[7]};
            d.oh = (d.h + 2 * d.ph - d.kh) / 2 + 1, d.ow = (d.w + 2 * d.pw - d.kw) / 2 + 1;
            for (int prim = 0; prim < 3; prim++) {
                one(cpu, &d, prim, 0.0f, &r);
                one(cpu, &d, prim, 0.75f, &r);
            }
        }
        for (size_t s = 0; s < sizeof pools / sizeof pools[0]; s++) {
            const int *a = pools[s];
            pool_one(be, a[0], a[1], a[2], a[3], a[4], a[5], a[6], 0.0f, &r);
            pool_one(be, a[0], a[1], a[2], a[3], a[4], a[5], a[6], 0.75f, &r);
        }
    }
    be->destroy(be);
    for (isa = level; isa >= MC_F32_AVX2; isa--) {
        printf("stride 2 (im2col, col2im, max pooling): %s rows bitwise the portable ones in %d of %d cases\n",
               isa == 2 ? "AVX-512" : "AVX2", nsame[isa], ncases[isa]);
        CHECK(ncases[isa] == 100, "%d cases ran, not 100", ncases[isa]);
    }
    return mc_test_done("test_strided_simd");
}
