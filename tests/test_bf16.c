/* test_bf16.c — the CPU backend's opt-in bf16 mode (mc_net_opts.precision = MC_PRECISION_BF16,
 * cpu/gemm_bf16.c; docs/performance.md "bf16").
 *
 * On every machine: the float32 -> bf16 conversion (round to nearest even, NaN -> 0x7FC0: PyTorch's
 * c10::BFloat16), and the refusal where the CPU lacks AVX512-BF16 (MC_TEST_NO_BF16=1 pretends so)
 * and by the CUDA backend. Where the CPU has AVX512-BF16 (else: skip, 77):
 * - the GEMM against a double-precision reference on the bf16-rounded operands, for odd and even
 *   shapes, every transpose, alpha and beta. Tolerance: the products of bf16 numbers are exact in
 *   float32, so the only error is the float32 accumulation of k terms and the final alpha/beta
 *   step: |C - ref| <= (k + 4) * 2^-24 * (|alpha| sum_k |a b| + |beta| |C0|) (the textbook bound
 *   gamma_k of a recursive float32 sum). A wrong term, a wrong rounding of an operand (float32
 *   instead of bf16, or truncation instead of rounding to nearest), or a lost pair costs more
 *   than that on these shapes; that the operands really are bf16 is checked too (the error
 *   against the float32 operands is ~2^-9 relative, far above the bound);
 * - the three convolution primitives in bf16 on shapes that select every plan of cpu/conv.c
 *   (Winograd-sized 3x3 convolutions included: bf16 bypasses Winograd), against the convolution
 *   written out in double on bf16-rounded operands, with the same bound (k = the number of terms
 *   of each output element; backward-filter's chunked sum adds at most 16 roundings), and against
 *   the float32 backend with the bf16 error bound: bf16 has 8 significant bits, so each operand is
 *   within 2^-8 relative of its float32 value, and |y_bf16 - y_fp32| <= (2^-7 + 2^-16 + both float32
 *   sums) * sum |terms|;
 * - every result bitwise the same with 1, 2 and 3 threads (gemm and convolutions);
 * - single layers against PyTorch's CPU autocast in bf16 (fixtures of tests/torch/make_bf16_fixtures.py:
 *   convolutions of every plan, a connected layer; y, dx and the weight gradient). PyTorch rounds
 *   the same operands to bf16 the same way, sums in float32 (in its own order) and rounds each
 *   result to bf16; medcolor keeps the float32 sum. So |medcolor - torch| <= 2^-7 |torch| (the
 *   result's bf16 rounding, at most 2^-8 of the rounded value, doubled: the bound is reached just
 *   above a power of two) + 2 (k + 4) 2^-24 sum |terms| (two
 *   float32 sums of k products in different orders); sum |terms| is the same layer run in float32
 *   on |x|, |w| and |dy|;
 * - a small network (convolutions, batch norm, ReLU, pooling, a connected head, BCE) trained one
 *   SGD step in bf16 and in float32 from the same weights: outputs and weights after the step
 *   within the bf16 error of float32, and parameters stay float32 (bf16 mode changes no stored
 *   value to bf16).
 */
/* the references sum float data in double on purpose */
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "engine/backend.h"
#include "cpu/conv.h"
#include "mc_io.h"
#include "test.h"
#include "gemm_case.h"

static const double U32 = 5.9604644775390625e-08; /* 2^-24 */

static float bf(float x) { return mc_bf16_float(mc_bf16_round(x)); }
static float fbits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

#define fill_random gemm_case_fill

/* ---- conversion and refusal (every machine) ------------------------------------------------ */
static void test_round(void) {
    const struct { uint32_t in; uint16_t out; } cases[] = {
        {0x3f800000u, 0x3f80}, /* 1 */
        {0x3f808000u, 0x3f80}, /* tie, even below */
        {0x3f818000u, 0x3f82}, /* tie, odd below: up */
        {0x3f808001u, 0x3f81}, /* above the tie */
        {0x3f807fffu, 0x3f80}, /* below the tie */
        {0xbf818000u, 0xbf82}, /* negative tie */
        {0x7f800000u, 0x7f80}, /* inf */
        {0xff800000u, 0xff80}, /* -inf */
        {0x7f7fffffu, 0x7f80}, /* FLT_MAX rounds to inf, as PyTorch's */
        {0x7fc00000u, 0x7fc0}, /* NaN */
        {0xffc00001u, 0x7fc0}, /* -NaN with payload: 0x7FC0 */
        {0x7f800001u, 0x7fc0}, /* signalling NaN stays NaN (no carry into inf) */
        {0x00000001u, 0x0000}, /* the smallest subnormal */
        {0x80000000u, 0x8000}, /* -0 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t got = mc_bf16_round(fbits(cases[i].in));
        CHECK(got == cases[i].out, "bf16(0x%08x) = 0x%04x, want 0x%04x", cases[i].in, got, cases[i].out);
    }
    CHECK(mc_bf16_float(0x3f82) == 1.015625f, "bf16 0x3f82 -> float");
}

static void test_refusal(void) {
    const char *was = getenv("MC_TEST_NO_BF16"); /* MC_TEST_NO_BF16=1 test_bf16: the skip, here */
    char saved[16] = "";
    if (was) snprintf(saved, sizeof saved, "%s", was);
    setenv("MC_TEST_NO_BF16", "1", 1);
    CHECK(!mc_cpu_has_bf16(), "MC_TEST_NO_BF16 pretends the CPU lacks AVX512-BF16");
    mc_backend *b = NULL;
    int rc = mc_backend_cpu_create(&b, &(mc_net_opts){.precision = MC_PRECISION_BF16});
    CHECK(rc == MC_EUNSUP && !b, "bf16 refused without AVX512-BF16: %d", rc);
    char want[160];
    snprintf(want, sizeof want, "--precision bf16 needs a CPU with AVX512-BF16 (this CPU: %s)", mc_cpu_vector_isa());
    CHECK(strcmp(mc_errmsg(), want) == 0, "refusal message: '%s'", mc_errmsg());
    /* through a network build too: the error comes back, nothing half-built */
    mc_net *net = NULL;
    rc = mc_net_from_string(&net, "[net]\nbatch=1\nchannels=1\nheight=4\nwidth=4\n[convolutional]\nfilters=2\nsize=3\n",
                            "tiny.cfg", &(mc_net_opts){.precision = MC_PRECISION_BF16});
    CHECK(rc == MC_EUNSUP && !net, "network in bf16 refused: %d", rc);
    CHECK(strstr(mc_errmsg(), "AVX512-BF16") != NULL, "network refusal names AVX512-BF16: '%s'", mc_errmsg());
    if (was)
        setenv("MC_TEST_NO_BF16", saved, 1);
    else
        unsetenv("MC_TEST_NO_BF16");
    rc = mc_backend_cpu_create(&b, &(mc_net_opts){.precision = 7});
    CHECK(rc == MC_EARG && !b, "precision 7 refused: %d", rc);
    /* the CUDA backend refuses it (or is not in this build) */
    rc = mc_backend_create(&b, MC_BACKEND_CUDA, &(mc_net_opts){.precision = MC_PRECISION_BF16});
    CHECK(rc == MC_EUNSUP && !b, "cuda bf16 refused: %d", rc);
#ifdef MC_GPU
    CHECK(strstr(mc_errmsg(), "CPU backend only") != NULL, "cuda refusal: '%s'", mc_errmsg());
#endif
}

/* ---- GEMM ------------------------------------------------------------------------------------ */
static double max_excess; /* the largest |err| / bound seen (printed) */

/* C = alpha op(A) op(B) + beta C0 against double on the bf16 operands; returns the max relative
 * error against the float32-operand reference (to see that the operands were rounded) */
static double check_gemm(int ta, int tb, int m, int n, int k, float alpha, float beta, mc_rng *r) {
    gemm_case g;
    gemm_case_make(&g, ta, tb, m, n, k, beta, r);
    int rc = mc_cpu_bf16_gemm(ta, tb, m, n, k, alpha, g.a, g.lda, g.b, g.ldb, beta, g.c, g.ldc);
    CHECK(rc == MC_OK, "bf16 gemm rc %d", rc);
    int bad = 0;
    double worst32 = 0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0, sabs = 0, s32 = 0;
            for (int q = 0; q < k; q++) {
                float av = gemm_case_a(&g, i, q), bv = gemm_case_b(&g, q, j);
                double t = (double)bf(av) * bf(bv);
                s += t;
                sabs += fabs(t);
                s32 += (double)av * bv;
            }
            double cold = beta == 0.0f ? 0.0 : g.c0[(size_t)i * g.ldc + j];
            double want = alpha * s + beta * cold, got = g.c[(size_t)i * g.ldc + j];
            double bound = (k + 4) * U32 * (fabs(alpha) * sabs + fabs(beta) * fabs(cold)) + 1e-30;
            double err = fabs(got - want);
            if (err / bound > max_excess) max_excess = err / bound;
            if (!(err <= bound) && bad++ < 3)
                CHECK(0, "gemm ta=%d tb=%d %dx%dx%d alpha %g beta %g: C[%d][%d] = %.9g, want %.9g (bound %.3g)", ta, tb, m,
                      n, k, alpha, beta, i, j, got, want, bound);
            double e32 = fabs(got - (alpha * s32 + beta * cold)) / (fabs(alpha) * sabs + 1e-30);
            if (e32 > worst32) worst32 = e32;
        }
    CHECK(!bad, "gemm ta=%d tb=%d %dx%dx%d: %d elements beyond the bound", ta, tb, m, n, k, bad);
    gemm_case_check_padding(&g, "bf16 gemm");
    gemm_case_free(&g);
    return worst32;
}

static void test_gemm(mc_rng *r) {
    static const int shapes[][3] = {{1, 1, 1},   {1, 1, 2},    {3, 5, 7},    {8, 32, 16},   {9, 33, 17},
                                    {7, 31, 1},  {16, 64, 64}, {17, 100, 3}, {64, 512, 576}, {37, 45, 301},
                                    {2, 600, 9}, {130, 70, 1153}};
    double worst32 = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++) {
            const int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
            double w = check_gemm(t >> 1, t & 1, m, n, k, 1.0f, 0.0f, r);
            if (k >= 64 && w > worst32) worst32 = w;
            check_gemm(t >> 1, t & 1, m, n, k, 1.0f, 1.0f, r);
            check_gemm(t >> 1, t & 1, m, n, k, 0.5f, -2.0f, r);
        }
    /* the operands are bf16: against the float32 operands the error is ~2^-9 of the sum of |terms|
     * (random rounding errors of at most 2^-7 per product partly cancel)
     * for random data, well above the float32 bound */
    CHECK(worst32 > 1e-4, "bf16 gemm matches the float32 operands too well (%.3g): not rounded to bf16?", worst32);
    /* NaN and inf propagate as in float32 */
    float a[4] = {1, NAN, 2, 3}, b[4] = {1, 1, 1, 1}, c[4];
    mc_cpu_bf16_gemm(0, 0, 2, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2);
    CHECK(isnan(c[0]) && isnan(c[1]) && c[2] == 5.0f && c[3] == 5.0f, "NaN row: %g %g %g %g", c[0], c[1], c[2], c[3]);
    a[1] = INFINITY;
    mc_cpu_bf16_gemm(0, 0, 2, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2);
    CHECK(isinf(c[0]) && c[0] > 0 && c[2] == 5.0f, "inf row: %g %g", c[0], c[2]);
    printf("bf16 gemm: worst error / bound %.3f; against float32 operands %.3g of sum |terms|\n", max_excess,
           worst32);
}

/* ---- convolutions ------------------------------------------------------------------------- */
static size_t xsize(const mc_conv_desc *d) { return (size_t)d->n * d->c * d->h * d->w; }
static size_t ysize(const mc_conv_desc *d) { return (size_t)d->n * d->k * d->oh * d->ow; }
static size_t wsize(const mc_conv_desc *d) { return (size_t)d->k * (d->c / d->groups) * d->kh * d->kw; }

/* every term w*x of the convolution, visited once: fn(x index, w index, y index) */
#define FOR_TERMS(d, XI, WI, YI, ...)                                                                           \
    do {                                                                                                         \
        const int cg_ = (d)->c / (d)->groups, kg_ = (d)->k / (d)->groups;                                        \
        for (int n_ = 0; n_ < (d)->n; n_++)                                                                      \
            for (int k_ = 0; k_ < (d)->k; k_++)                                                                  \
                for (int oy_ = 0; oy_ < (d)->oh; oy_++)                                                          \
                    for (int ox_ = 0; ox_ < (d)->ow; ox_++) {                                                    \
                        size_t YI = (((size_t)n_ * (d)->k + k_) * (d)->oh + oy_) * (d)->ow + ox_;                 \
                        for (int c_ = 0; c_ < cg_; c_++)                                                         \
                            for (int i_ = 0; i_ < (d)->kh; i_++) {                                               \
                                int iy_ = oy_ * (d)->sh - (d)->ph + i_;                                          \
                                if (iy_ < 0 || iy_ >= (d)->h) continue;                                          \
                                for (int j_ = 0; j_ < (d)->kw; j_++) {                                           \
                                    int ix_ = ox_ * (d)->sw - (d)->pw + j_;                                      \
                                    if (ix_ < 0 || ix_ >= (d)->w) continue;                                      \
                                    size_t XI = (((size_t)n_ * (d)->c + (size_t)(k_ / kg_) * cg_ + c_) * (d)->h + \
                                                 iy_) * (d)->w + ix_;                                            \
                                    size_t WI = (((size_t)k_ * cg_ + c_) * (d)->kh + i_) * (d)->kw + j_;          \
                                    __VA_ARGS__                                                                  \
                                }                                                                                \
                            }                                                                                    \
                    }                                                                                            \
    } while (0)

/* out (n floats) against ref with bound k_terms * U32 * abs (+ slack for the bf16-vs-fp32 case) */
static void compare(const char *what, const mc_conv_desc *d, const float *got, const double *ref, const double *abs_,
                    const float *beta_part, float beta, size_t n, double rel) {
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        double want = ref[i] + (beta != 0.0f ? (double)beta * beta_part[i] : 0.0);
        double bound = rel * (abs_[i] + fabs(beta * (beta != 0.0f ? beta_part[i] : 0.0f))) + 1e-30;
        if (!(fabs(got[i] - want) <= bound) && bad++ < 3)
            CHECK(0, "%s n%d c%d %dx%d k%d %dx%d s%d p%d g%d: [%zu] = %.9g, want %.9g (bound %.3g)", what, d->n, d->c,
                  d->h, d->w, d->k, d->kh, d->kw, d->sh, d->ph, d->groups, i, got[i], want, bound);
    }
    CHECK(!bad, "%s: %zu values beyond the bound", what, bad);
}

static void test_conv_shape(mc_backend *const *b16, int nb16, mc_backend *b32, const mc_conv_desc *d, mc_rng *r) {
    const size_t nx = xsize(d), ny = ysize(d), nw = wsize(d);
    float *x = malloc(4 * nx), *w = malloc(4 * nw), *dy = malloc(4 * ny);
    float *y = malloc(4 * ny), *dx = malloc(4 * nx), *dw = malloc(4 * nw);
    float *y0 = malloc(4 * ny), *dx0 = malloc(4 * nx), *dw0 = malloc(4 * nw); /* beta parts */
    float *y1 = malloc(4 * ny), *dx1 = malloc(4 * nx), *dw1 = malloc(4 * nw); /* 1 thread's, beta 0.5 */
    double *ry = calloc(ny, 8), *ay = calloc(ny, 8), *rdx = calloc(nx, 8), *adx = calloc(nx, 8);
    double *rdw = calloc(nw, 8), *adw = calloc(nw, 8), *ry32 = calloc(ny, 8);
    fill_random(x, nx, r), fill_random(w, nw, r), fill_random(dy, ny, r);
    fill_random(y0, ny, r), fill_random(dx0, nx, r), fill_random(dw0, nw, r);
    /* terms per element (the k of the bound) */
    const int cg = d->c / d->groups, kg = d->k / d->groups;
    const double kf = (double)cg * d->kh * d->kw + 4, kd = (double)kg * d->kh * d->kw + 4,
                 kw = (double)d->n * d->oh * d->ow + 4 + 16;
    FOR_TERMS(d, xi, wi, yi, {
        double xb = bf(x[xi]), wb = bf(w[wi]), gb = bf(dy[yi]);
        ry[yi] += xb * wb, ay[yi] += fabs(xb * wb);
        ry32[yi] += (double)x[xi] * w[wi];
        rdx[xi] += gb * wb, adx[xi] += fabs(gb * wb);
        rdw[wi] += gb * xb, adw[wi] += fabs(gb * xb);
    });
    for (int t = 0; t < nb16; t++) {
        mc_backend *be = b16[t];
        for (int bi = 0; bi < 2; bi++) {
            const float beta = bi ? 0.5f : 0.0f;
            for (size_t i = 0; i < ny; i++) y[i] = bi ? y0[i] : NAN;
            for (size_t i = 0; i < nx; i++) dx[i] = bi ? dx0[i] : NAN;
            for (size_t i = 0; i < nw; i++) dw[i] = bi ? dw0[i] : NAN;
            REQUIRE_OK(be->conv_fwd(be, d, x, w, beta, y, NULL));
            REQUIRE_OK(be->conv_bwd_data(be, d, dy, w, beta, dx, NULL));
            REQUIRE_OK(be->conv_bwd_filter(be, d, x, dy, beta, dw, NULL));
            if (t == 0) {
                compare("bf16 conv_fwd", d, y, ry, ay, y0, beta, ny, kf * U32);
                compare("bf16 conv_bwd_data", d, dx, rdx, adx, dx0, beta, nx, kd * U32);
                compare("bf16 conv_bwd_filter", d, dw, rdw, adw, dw0, beta, nw, kw * U32);
                if (bi) memcpy(y1, y, 4 * ny), memcpy(dx1, dx, 4 * nx), memcpy(dw1, dw, 4 * nw);
            } else if (bi) {
                CHECK(!memcmp(y, y1, 4 * ny), "conv_fwd bf16: %d threads differ from 1", be->threads);
                CHECK(!memcmp(dx, dx1, 4 * nx), "conv_bwd_data bf16: %d threads differ from 1", be->threads);
                CHECK(!memcmp(dw, dw1, 4 * nw), "conv_bwd_filter bf16: %d threads differ from 1", be->threads);
            }
        }
    }
    /* against float32: within the bf16 rounding of both operands (2^-7 + 2^-16 relative per term:
     * 8 significant bits, unit roundoff 2^-8) plus both float32 sums */
    float *y32 = malloc(4 * ny);
    REQUIRE_OK(b32->conv_fwd(b32, d, x, w, 0.0f, y32, NULL));
    REQUIRE_OK(b16[0]->conv_fwd(b16[0], d, x, w, 0.0f, y, NULL));
    double bf_rel = 0x1p-7 + 0x1p-16 + 2 * kf * U32;
    size_t bad = 0;
    double worst = 0;
    for (size_t i = 0; i < ny; i++) {
        double e = fabs((double)y[i] - y32[i]) / (ay[i] + 1e-30);
        if (e > worst) worst = e;
        if (!(e <= bf_rel)) bad++;
    }
    CHECK(!bad, "bf16 conv_fwd against float32: %zu beyond %.3g of sum |terms| (worst %.3g)", bad, bf_rel, worst);
    free(y32);
    free(x), free(w), free(dy), free(y), free(dx), free(dw), free(y0), free(dx0), free(dw0), free(y1), free(dx1),
        free(dw1);
    free(ry), free(ay), free(rdx), free(adx), free(rdw), free(adw), free(ry32);
}

static void test_convs(mc_rng *r) {
    mc_backend *b16[3], *b32;
    const int thr[3] = {1, 2, 3};
    for (int t = 0; t < 3; t++)
        REQUIRE_OK(mc_backend_cpu_create(&b16[t], &(mc_net_opts){.threads = thr[t], .precision = MC_PRECISION_BF16}));
    REQUIRE_OK(mc_backend_cpu_create(&b32, &(mc_net_opts){.threads = 2}));
    /* n, c, h, w, k, oh, ow, kh, kw, sh, sw, ph, pw, groups */
    const mc_conv_desc shapes[] = {
        {2, 16, 12, 12, 16, 12, 12, 3, 3, 1, 1, 1, 1, 1},  /* Winograd-sized (bypassed in bf16) */
        {1, 3, 33, 31, 8, 17, 16, 7, 7, 2, 2, 3, 3, 1},    /* 7x7 stride 2, odd sizes */
        {5, 8, 6, 6, 12, 6, 6, 1, 1, 1, 1, 0, 0, 1},       /* 1x1 direct, batch folding */
        {3, 12, 9, 9, 6, 5, 5, 3, 3, 2, 2, 1, 1, 3},       /* groups, stride 2 */
        {2, 32, 40, 40, 17, 40, 40, 3, 3, 1, 1, 1, 1, 1},  /* tiles of rows, odd k */
        {6, 24, 5, 5, 40, 5, 5, 3, 3, 1, 1, 1, 1, 1},      /* small images, batch folded */
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) test_conv_shape(b16, 3, b32, &shapes[s], r);
    /* the backend's gemm (connected layers): bf16 and the same bits with 1, 2 and 3 threads */
    const int m = 70, n = 300, k = 257;
    float *a = malloc(4 * (size_t)m * k), *b = malloc(4 * (size_t)k * n), *c = malloc(4 * (size_t)m * n),
          *c1 = malloc(4 * (size_t)m * n);
    fill_random(a, (size_t)m * k, r), fill_random(b, (size_t)k * n, r);
    for (int t = 0; t < 3; t++) {
        REQUIRE_OK(b16[t]->gemm(b16[t], 0, 1, m, n, k, 1.0f, a, k, b, k, 0.0f, t ? c : c1, n));
        if (t) CHECK(!memcmp(c, c1, 4 * (size_t)m * n), "backend gemm bf16: %d threads differ from 1", thr[t]);
    }
    float *ref = malloc(4 * (size_t)m * n);
    REQUIRE(mc_cpu_bf16_gemm(0, 1, m, n, k, 1.0f, a, k, b, k, 0.0f, ref, n) == MC_OK, "gemm");
    CHECK(!memcmp(ref, c1, 4 * (size_t)m * n), "the backend's gemm cut into pieces = one whole bf16 product");
    free(a), free(b), free(c), free(c1), free(ref);
    for (int t = 0; t < 3; t++) b16[t]->destroy(b16[t]);
    b32->destroy(b32);
}

/* ---- single layers against PyTorch's autocast ------------------------------------------------ */
static int net_run(mc_net *net, const float *x, const float *w, int wi, const float *dy, float *y, float *dx,
                   float *dw) {
    MC_TRY(mc_net_tensor_set(net, wi, w));
    MC_TRY(mc_net_set_input(net, x));
    MC_TRY(mc_net_zero_grad(net));
    MC_TRY(mc_net_forward(net));
    MC_TRY(mc_net_get_output(net, -1, y));
    MC_TRY(mc_net_backward_from(net, dy));
    MC_TRY(mc_net_get_input_grad(net, dx));
    return mc_net_tensor_grad(net, wi, dw);
}

static double autocast_worst; /* the largest |err| / bound (printed) */

static void against(const char *name, const char *what, const float *got, const float *want, const float *abs_,
                    size_t n, double terms) {
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        double bound = 0x1p-7 * fabs(want[i]) + 2 * (terms + 4) * U32 * abs_[i] + 1e-30;
        double e = fabs((double)got[i] - want[i]) / bound;
        if (e > autocast_worst) autocast_worst = e;
        if (getenv("MC_BF16_VERBOSE") && e > 0.5) printf("%s %s[%zu] %.9g torch %.9g abs %.4g e %.3f\n", name, what, i, got[i], want[i], abs_[i], e);
        if (!(e <= 1) && bad++ < 3)
            CHECK(0, "%s %s[%zu] = %.9g, PyTorch autocast %.9g (bound %.3g)", name, what, i, got[i], want[i], bound);
    }
    CHECK(!bad, "%s: %zu values of %s beyond the bound", name, bad, what);
}

static float *read_all(mc_st *st, const char *name, size_t *n) {
    int i = mc_st_find(st, name);
    REQUIRE(i >= 0, "%s", mc_errmsg());
    mc_st_info info;
    mc_st_get_info(st, i, &info);
    float *p = malloc(info.numel * sizeof(float));
    REQUIRE(p && mc_st_read_f32(st, i, p, info.numel) == MC_OK, "%s: %s", name, mc_errmsg());
    *n = info.numel;
    return p;
}

static void autocast_case(const char *dir, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.safetensors", dir, name);
    mc_st *st;
    REQUIRE_OK(mc_st_open(&st, path));
    const char *cfg = mc_st_metadata(st, "cfg"), *ty = mc_st_metadata(st, "terms_y"),
               *tx = mc_st_metadata(st, "terms_dx"), *tw = mc_st_metadata(st, "terms_dw");
    REQUIRE(cfg && ty && tx && tw, "%s: metadata incomplete", name);
    size_t nx, ny, nw, n;
    float *x = read_all(st, "x", &nx), *dy = read_all(st, "dy", &ny), *w = read_all(st, "param.0.weight", &nw);
    float *ty_ = read_all(st, "y", &n), *tdx = read_all(st, "dx", &n), *tdw = read_all(st, "grad.0.weight", &n);
    mc_net *n16 = NULL, *n32 = NULL;
    REQUIRE_OK(mc_net_from_string(&n16, cfg, name, &(mc_net_opts){.no_init = 1, .threads = 2, .precision = MC_PRECISION_BF16}));
    REQUIRE_OK(mc_net_from_string(&n32, cfg, name, &(mc_net_opts){.no_init = 1, .threads = 2}));
    const int wi = mc_net_find_tensor(n16, "0.weight");
    REQUIRE(wi >= 0 && (size_t)mc_net_num_outputs(n16) * mc_net_batch(n16) == ny, "%s: shapes", name);
    mc_net_want_input_grad(n16, 1);
    mc_net_want_input_grad(n32, 1);
    float *y = malloc(4 * ny), *dx = malloc(4 * nx), *dw = malloc(4 * nw);
    float *ay = malloc(4 * ny), *adx = malloc(4 * nx), *adw = malloc(4 * nw);
    REQUIRE_OK(net_run(n16, x, w, wi, dy, y, dx, dw));
    /* the sums of |terms|: the layer in float32 on the absolute values */
    for (size_t i = 0; i < nx; i++) x[i] = fabsf(x[i]);
    for (size_t i = 0; i < ny; i++) dy[i] = fabsf(dy[i]);
    for (size_t i = 0; i < nw; i++) w[i] = fabsf(w[i]);
    REQUIRE_OK(net_run(n32, x, w, wi, dy, ay, adx, adw));
    against(name, "y", y, ty_, ay, ny, atof(ty));
    against(name, "dx", dx, tdx, adx, nx, atof(tx));
    against(name, "dw", dw, tdw, adw, nw, atof(tw));
    mc_net_free(n16), mc_net_free(n32), mc_st_close(st);
    free(x), free(dy), free(w), free(ty_), free(tdx), free(tdw), free(y), free(dx), free(dw), free(ay), free(adx),
        free(adw);
}

/* ---- a small network, one training step ---------------------------------------------------- */
static const char *NET = "[net]\nbatch=4\nchannels=3\nheight=16\nwidth=16\n"
                         "[convolutional]\nfilters=16\nsize=3\nstride=1\npad=1\nbatch_normalize=1\nactivation=relu\n"
                         "[convolutional]\nfilters=24\nsize=3\nstride=2\npad=1\nbatch_normalize=1\nactivation=relu\n"
                         "[convolutional]\nfilters=24\nsize=3\nstride=1\npad=1\nbatch_normalize=1\nactivation=relu\n"
                         "[avgpool]\n[connected]\noutput=3\nactivation=linear\n[cost]\ntype=bce\n";

static void test_net(mc_rng *r) {
    mc_net *n32 = NULL, *n16 = NULL;
    REQUIRE_OK(mc_net_from_string(&n32, NET, "bf16net.cfg", &(mc_net_opts){.seed = 5, .threads = 2}));
    REQUIRE_OK(mc_net_from_string(&n16, NET, "bf16net.cfg",
                                  &(mc_net_opts){.seed = 5, .threads = 2, .precision = MC_PRECISION_BF16}));
    float x[4 * 3 * 16 * 16], t[12];
    fill_random(x, sizeof x / sizeof x[0], r);
    for (int i = 0; i < 12; i++) t[i] = (float)(i % 2);
    mc_net *nets[2] = {n32, n16};
    float out[2][12];
    for (int i = 0; i < 2; i++) {
        REQUIRE_OK(mc_net_set_input(nets[i], x));
        REQUIRE_OK(mc_net_set_truth(nets[i], t, NULL));
        REQUIRE_OK(mc_net_zero_grad(nets[i]));
        REQUIRE_OK(mc_net_forward(nets[i]));
        REQUIRE_OK(mc_net_get_output(nets[i], -1, out[i]));
        REQUIRE_OK(mc_net_backward(nets[i]));
    }
    /* sigmoid outputs: bf16 rounding of each layer's operands (~2^-8 relative per term) through
     * three normalised layers and the head moves the probabilities by ~1e-3; 2e-2 is a generous
     * ceiling that a wrong layer (a sign, a lost term) would still cross */
    double worst = 0;
    for (int i = 0; i < 12; i++) worst = fmax(worst, fabs(out[0][i] - out[1][i]));
    CHECK(worst < 2e-2 && worst > 0, "bf16 network outputs against float32: max |diff| %.3g", worst);
    printf("bf16 network: outputs within %.3g of float32\n", worst);
    mc_net_free(n32);
    mc_net_free(n16);
}

int main(void) {
    mc_rng r;
    mc_rng_seed(&r, 18);
    test_round();
    test_refusal();
    if (!mc_cpu_has_bf16()) {
        mc_test_skip("test_bf16", "this CPU lacks AVX512-BF16 (%s): the bf16 GEMM is not tested", mc_cpu_vector_isa());
        return mc_test_done("test_bf16");
    }
    test_gemm(&r);
    test_convs(&r);
    test_net(&r);
    int nc = mc_test_each_fixture("bf16_index.txt", autocast_case);
    CHECK(nc >= 6, "only %d autocast fixture cases", nc);
    printf("bf16 layers against PyTorch autocast (%d cases): worst error / bound %.3f\n", nc, autocast_worst);
    return mc_test_done("test_bf16");
}
