/* test_gpu_host.c — the host-testable part of the CUDA backend, on any machine (no GPU, no
 * CUDA needed: it builds in CPU and GPU builds alike).
 *
 * The CUDA kernels are grid-stride loops around the per-element functions of
 * src/cuda/cuda_math.h, and the no-cuDNN convolution is the driver of src/cuda/conv_fallback.h
 * around a GEMM. Here the same functions run on the host over whole tensors (the kernels'
 * work, element by element) and are compared with the CPU backend (src/cpu/backend_cpu.c), which
 * the parity tests check against PyTorch: pixel shuffle, replication pad, pooling (max with the
 * first-maximum rule, ties, -inf, NaN; avg with count_include_pad), activations, bias, batch
 * norm (training, inference, both backwards, running statistics), the losses (BCE, MSE, L1 with
 * and without mask) and their gradients, SGD, Adam/AdamW, RMSprop (centred, momentum), upsampling
 * (nearest, bilinear, factors 1-4, forward and backward), im2col/col2im convolution through the row-major -> column-major GEMM mapping that
 * cuBLAS receives (checked against a textbook column-major GEMM), and the launch-size helper
 * with grid-stride coverage. A few facts are also checked directly (a pixel shuffle by hand,
 * BCE(0, 1) = log 2, the windows that contain an input position by brute force).
 *
 * What this cannot test — the launches, the block reductions, cuBLAS/cuDNN themselves — is
 * tests/test_gpu.c's (skipped without a GPU).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "engine/backend.h"
#include "cuda/conv_fallback.h"
#include "cuda/cuda_math.h"
#include "test.h"

static mc_backend *cpu;
static mc_rng rng;

static float *rnd(size_t n, float lo, float hi) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    REQUIRE(p, "out of memory");
    for (size_t i = 0; i < n; i++) p[i] = lo + (hi - lo) * (float)mc_rng_uniform(&rng);
    return p;
}

static float *dupf(const float *a, size_t n) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    REQUIRE(p, "out of memory");
    memcpy(p, a, n * sizeof(float));
    return p;
}

/* a and b agree within atol + rtol*|b| everywhere (NaN matches NaN); names the first miss */
static int close_arr(const char *what, const float *a, const float *b, size_t n, double atol, double rtol) {
    for (size_t i = 0; i < n; i++) {
        double x = a[i], y = b[i];
        if (isnan(x) && isnan(y)) continue;
        if (isinf(x) || isinf(y)) {
            if (x == y) continue;
        } else if (fabs(x - y) <= atol + rtol * fabs(y)) {
            continue;
        }
        CHECK(0, "%s: element %zu: got %.9g, the CPU backend gives %.9g", what, i, x, y);
        return 0;
    }
    CHECK(1, "%s", what);
    return 1;
}

/* ---- launch sizes ----------------------------------------------------------------------- */
static void test_launch(void) {
    CHECK(mc_cuda_blocks(0, 256, 65535) == 0, "no elements: no blocks");
    CHECK(mc_cuda_blocks(1, 256, 65535) == 1, "1 element: 1 block");
    CHECK(mc_cuda_blocks(256, 256, 65535) == 1, "256: 1 block");
    CHECK(mc_cuda_blocks(257, 256, 65535) == 2, "257: 2 blocks");
    CHECK(mc_cuda_blocks((size_t)256 * 65535, 256, 65535) == 65535, "exactly the cap");
    CHECK(mc_cuda_blocks((size_t)256 * 65535 + 1, 256, 65535) == 65535, "over the cap: capped");
    CHECK(mc_cuda_blocks((size_t)1 << 40, 256, 65535) == 65535, "2^40 elements: capped");
    CHECK(mc_cuda_blocks(10, 0, 65535) == 0, "0 threads: nothing");
    /* the kernels' grid-stride loop (i = block*T + thread; i += T*blocks) visits every element
     * once, also when the grid is capped (small caps stand in for 65535) */
    const size_t ns[] = {1, 255, 256, 257, 1000, 4097, 70001};
    const unsigned caps[] = {1, 3, 7, MC_CUDA_MAX_BLOCKS};
    for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++)
        for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
            size_t n = ns[a];
            unsigned nb = mc_cuda_blocks(n, MC_CUDA_THREADS, caps[c]);
            unsigned char *seen = calloc(n, 1);
            REQUIRE(seen, "out of memory");
            int ok = nb >= 1 && nb <= caps[c];
            for (unsigned b = 0; b < nb; b++)
                for (unsigned t = 0; t < MC_CUDA_THREADS; t++)
                    for (size_t i = (size_t)b * MC_CUDA_THREADS + t; i < n; i += (size_t)MC_CUDA_THREADS * nb)
                        seen[i]++;
            for (size_t i = 0; i < n; i++) ok = ok && seen[i] == 1;
            CHECK(ok, "grid-stride over %zu elements with at most %u blocks: every element once", n, caps[c]);
            free(seen);
        }
}

/* ---- GEMM mapping ----------------------------------------------------------------------- */
/* BLAS's column-major definition: C[i + j*ldc] = alpha sum_l op(A)(i,l) op(B)(l,j) + beta C */
static void cm_gemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                    int ldb, float beta, float *c, int ldc) {
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double s = 0;
            for (int l = 0; l < k; l++) {
                double av = ta ? a[l + (size_t)i * lda] : a[i + (size_t)l * lda];
                double bv = tb ? b[j + (size_t)l * ldb] : b[l + (size_t)j * ldb];
                s += av * bv;
            }
            float *p = &c[i + (size_t)j * ldc];
            *p = (float)((double)alpha * s) + (beta == 0.0f ? 0.0f : beta * *p);
        }
}

/* the strided-batched row-major GEMM as the CUDA backend issues it, on the host */
static int host_gemm_rm(void *ctx, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                        long long sa, const float *b, int ldb, long long sb, float beta, float *c, int ldc,
                        long long sc, int batch) {
    mc_gemm_cm g = mc_gemm_rm_to_cm(ta, tb, m, n, k, a, lda, sa, b, ldb, sb);
    for (int i = 0; i < batch; i++)
        cm_gemm(g.ta, g.tb, g.m, g.n, g.k, alpha, g.a + i * g.sa, g.lda, g.b + i * g.sb, g.ldb, beta, c + i * sc,
                ldc);
    return MC_OK;
}

static void test_gemm_mapping(void) {
    const int m = 5, n = 7, k = 4, pad = 3, batch = 3;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int bi = 0; bi < 2; bi++) {
                float beta = bi ? 0.5f : 0.0f;
                /* row-major A is m x k (k x m when transposed), B k x n (n x k), with padding */
                int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
                long long sa = (long long)lda * (ta ? k : m), sb = (long long)ldb * (tb ? n : k),
                          sc = (long long)ldc * m;
                float *a = rnd((size_t)sa * batch, -1, 1), *b = rnd((size_t)sb * batch, -1, 1);
                float *c0 = rnd((size_t)sc * batch, -1, 1), *c1 = dupf(c0, (size_t)sc * batch);
                for (int i = 0; i < batch; i++)
                    REQUIRE_OK(cpu->gemm(cpu, ta, tb, m, n, k, 0.75f, a + i * sa, lda, b + i * sb, ldb, beta,
                                         c0 + i * sc, ldc));
                host_gemm_rm(NULL, ta, tb, m, n, k, 0.75f, a, lda, sa, b, ldb, sb, beta, c1, ldc, sc, batch);
                char what[96];
                snprintf(what, sizeof what, "row-major GEMM via column-major, ta=%d tb=%d beta=%g", ta, tb,
                         (double)beta);
                close_arr(what, c1, c0, (size_t)sc * batch, 1e-6, 1e-5);
                free(a);
                free(b);
                free(c0);
                free(c1);
            }
}

/* ---- convolution without cuDNN ---------------------------------------------------------- */
static int host_im2col(void *ctx, const mc_conv_desc *d, const float *x, float *col) {
    size_t n = mc_conv_fallback_ws(d);
    for (size_t e = 0; e < n; e++) col[e] = mc_im2col_elem(d, x, e);
    return MC_OK;
}
static int host_col2im(void *ctx, const mc_conv_desc *d, const float *col, float beta, float *x) {
    size_t n = (size_t)d->c * d->h * d->w;
    for (size_t e = 0; e < n; e++) x[e] = mc_col2im_elem(d, col, beta, x, e);
    return MC_OK;
}
static int host_scale(void *ctx, size_t n, float beta, float *x) {
    for (size_t i = 0; i < n; i++) x[i] = beta == 0.0f ? 0.0f : beta * x[i];
    return MC_OK;
}

static void conv_case(mc_conv_desc d, const char *name) {
    const mc_conv_fb_ops ops = {NULL, host_gemm_rm, host_im2col, host_col2im, host_scale};
    size_t nx = (size_t)d.n * d.c * d.h * d.w, ny = (size_t)d.n * d.k * d.oh * d.ow;
    size_t nw = (size_t)d.k * (d.c / d.groups) * d.kh * d.kw;
    size_t ws = mc_conv_fallback_ws(&d), wsc = cpu->conv_workspace(cpu, &d);
    float *x = rnd(nx, -1, 1), *w = rnd(nw, -1, 1), *dy = rnd(ny, -1, 1);
    float *wsh = rnd(ws, -1, 1), *wscpu = rnd(wsc, -1, 1);
    char what[160];
    for (int acc = 0; acc < 2; acc++) {
        float beta = acc ? 1.0f : 0.0f;
        float *y0 = rnd(ny, -1, 1), *y1 = dupf(y0, ny);
        REQUIRE_OK(cpu->conv_fwd(cpu, &d, x, w, beta, y0, wscpu));
        REQUIRE_OK(mc_conv_fb_fwd(&ops, &d, x, w, beta, y1, wsh));
        snprintf(what, sizeof what, "%s: forward, beta %g", name, (double)beta);
        close_arr(what, y1, y0, ny, 1e-5, 1e-5);
        float *dx0 = rnd(nx, -1, 1), *dx1 = dupf(dx0, nx);
        REQUIRE_OK(cpu->conv_bwd_data(cpu, &d, dy, w, beta, dx0, wscpu));
        REQUIRE_OK(mc_conv_fb_bwd_data(&ops, &d, dy, w, beta, dx1, wsh));
        snprintf(what, sizeof what, "%s: backward-data, beta %g", name, (double)beta);
        close_arr(what, dx1, dx0, nx, 1e-5, 1e-5);
        float *dw0 = rnd(nw, -1, 1), *dw1 = dupf(dw0, nw);
        REQUIRE_OK(cpu->conv_bwd_filter(cpu, &d, x, dy, beta, dw0, wscpu));
        REQUIRE_OK(mc_conv_fb_bwd_filter(&ops, &d, x, dy, beta, dw1, wsh));
        snprintf(what, sizeof what, "%s: backward-filter, beta %g", name, (double)beta);
        close_arr(what, dw1, dw0, nw, 1e-5, 1e-5);
        free(y0), free(y1), free(dx0), free(dx1), free(dw0), free(dw1);
    }
    free(x), free(w), free(dy), free(wsh), free(wscpu);
}

static mc_conv_desc conv(int n, int c, int h, int w, int k, int kh, int kw, int s, int p, int g) {
    mc_conv_desc d = {.n = n, .c = c, .h = h, .w = w, .k = k, .kh = kh, .kw = kw, .sh = s, .sw = s, .ph = p,
                      .pw = p, .groups = g};
    d.oh = (h + 2 * p - kh) / s + 1;
    d.ow = (w + 2 * p - kw) / s + 1;
    return d;
}

static void test_conv(void) {
    conv_case(conv(2, 3, 7, 6, 4, 3, 3, 1, 1, 1), "3x3 stride 1 pad 1");
    conv_case(conv(2, 4, 9, 8, 6, 3, 3, 2, 1, 2), "3x3 stride 2 pad 1, 2 groups");
    conv_case(conv(2, 4, 5, 5, 6, 1, 1, 1, 0, 1), "1x1 direct");
    conv_case(conv(2, 8, 5, 4, 8, 1, 1, 1, 0, 4), "1x1 direct, 4 groups");
    conv_case(conv(1, 6, 6, 7, 6, 3, 3, 1, 1, 6), "depthwise 3x3");
    conv_case(conv(2, 2, 8, 9, 3, 5, 3, 2, 2, 1), "5x3 kernel stride 2 pad 2");
    conv_case(conv(2, 3, 7, 7, 2, 7, 7, 2, 3, 1), "7x7 stride 2 pad 3 (stem)");
    /* a transposed convolution 3 -> 5 channels, 4x4 stride 2 pad 1, output padding 1: the
     * convolution from its (5, 9, 11) output to its (3, 4, 5) input */
    mc_conv_desc t = {.n = 2, .c = 5, .h = 9, .w = 11, .k = 3, .oh = 4, .ow = 5, .kh = 4, .kw = 4, .sh = 2, .sw = 2,
                      .ph = 1, .pw = 1, .groups = 1};
    conv_case(t, "transposed 4x4 stride 2, output padding 1");
    /* no images: the filter gradient is only scaled */
    mc_conv_desc z = conv(0, 2, 4, 4, 2, 3, 3, 1, 1, 1);
    const mc_conv_fb_ops ops = {NULL, host_gemm_rm, host_im2col, host_col2im, host_scale};
    float dw[36], dw2[36];
    for (int i = 0; i < 36; i++) dw[i] = dw2[i] = (float)i;
    REQUIRE_OK(mc_conv_fb_bwd_filter(&ops, &z, NULL, NULL, 0.5f, dw, NULL));
    REQUIRE_OK(cpu->conv_bwd_filter(cpu, &z, NULL, NULL, 0.5f, dw2, NULL));
    close_arr("no images: dw = beta*dw", dw, dw2, 36, 0, 0);
    CHECK(mc_conv_fallback_ws(&t) == (size_t)5 * 16 * 4 * 5, "fallback workspace: c*kh*kw*oh*ow floats");
    mc_conv_desc dd = conv(2, 4, 5, 5, 6, 1, 1, 1, 0, 1);
    CHECK(mc_conv_fallback_ws(&dd) == 0, "a direct convolution needs no workspace");
}

/* ---- pixel shuffle ---------------------------------------------------------------------- */
static void test_shuffle(void) {
    /* by hand, from PyTorch's definition: x (1, 4, 1, 1) = 0,1,2,3 with r = 2 -> y = [[0,1],[2,3]];
     * x (1, 4, 1, 2) -> y (1, 1, 2, 4): y[0] = x0[0] x1[0] x0[1] x1[1], y[1] = x2[0] x3[0] x2[1] x3[1] */
    const size_t want1[4] = {0, 1, 2, 3};
    for (size_t o = 0; o < 4; o++) CHECK(mc_shuffle_src(o, 1, 1, 2) == want1[o], "shuffle 1x1: y[%zu]", o);
    const size_t want2[8] = {0, 2, 1, 3, 4, 6, 5, 7}; /* x index = channel*2 + column */
    for (size_t o = 0; o < 8; o++) CHECK(mc_shuffle_src(o, 1, 2, 2) == want2[o], "shuffle 1x2: y[%zu]", o);
    const int shapes[][5] = {{2, 3, 4, 5, 2}, {1, 2, 3, 3, 3}, {2, 1, 1, 4, 4}};
    for (size_t s = 0; s < 3; s++) {
        int n = shapes[s][0], c = shapes[s][1], h = shapes[s][2], w = shapes[s][3], r = shapes[s][4];
        size_t tot = (size_t)n * c * r * r * h * w;
        float *x = rnd(tot, -1, 1), *y0 = rnd(tot, -1, 1), *y1 = rnd(tot, -1, 1);
        REQUIRE_OK(cpu->shuffle_fwd(cpu, n, c, h, w, r, x, y0));
        for (size_t o = 0; o < tot; o++) y1[o] = x[mc_shuffle_src(o, h, w, r)];
        close_arr("pixel shuffle forward", y1, y0, tot, 0, 0);
        for (int bi = 0; bi < 2; bi++) {
            float beta = bi ? 0.5f : 0.0f;
            float *dx0 = rnd(tot, -1, 1), *dx1 = dupf(dx0, tot);
            REQUIRE_OK(cpu->shuffle_bwd(cpu, n, c, h, w, r, y0, beta, dx0));
            for (size_t o = 0; o < tot; o++) {
                float *t = dx1 + mc_shuffle_src(o, h, w, r);
                *t = mc_blend(y0[o], beta, *t);
            }
            close_arr("pixel shuffle backward", dx1, dx0, tot, 0, 1e-7);
            free(dx0), free(dx1);
        }
        free(x), free(y0), free(y1);
    }
}

/* ---- replication pad -------------------------------------------------------------------- */
static void test_pad(void) {
    /* the outputs that replicate each input, by brute force */
    for (int n_in = 1; n_in <= 4; n_in++)
        for (int before = 0; before <= 3; before++)
            for (int after = 0; after <= 3; after++) {
                int n_out = n_in + before + after, ok = 1;
                for (int i = 0; i < n_in; i++) {
                    int lo, hi;
                    mc_pad_range(i, n_in, before, n_out, &lo, &hi);
                    for (int o = 0; o < n_out; o++) {
                        int src = mc_clampi(o - before, 0, n_in - 1);
                        ok = ok && ((src == i) == (o >= lo && o <= hi));
                    }
                }
                CHECK(ok, "pad range: %d inputs, %d before, %d after", n_in, before, after);
            }
    const int cases[][8] = {{2, 3, 4, 5, 1, 2, 3, 0}, {1, 2, 1, 1, 2, 2, 2, 2}, {2, 1, 3, 1, 0, 3, 1, 1},
                            {1, 1, 4, 4, 0, 0, 0, 0}, {1, 2, 5, 3, 4, 1, 0, 2}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int n = cases[k][0], c = cases[k][1], h = cases[k][2], w = cases[k][3];
        int l = cases[k][4], r = cases[k][5], t = cases[k][6], b = cases[k][7];
        size_t nx = (size_t)n * c * h * w, ny = (size_t)n * c * (h + t + b) * (w + l + r);
        float *x = rnd(nx, -1, 1), *y0 = rnd(ny, -1, 1), *y1 = rnd(ny, -1, 1);
        REQUIRE_OK(cpu->pad_fwd(cpu, n, c, h, w, l, r, t, b, x, y0));
        for (size_t o = 0; o < ny; o++) y1[o] = x[mc_pad_src(o, h, w, l, r, t, b)];
        char what[96];
        snprintf(what, sizeof what, "pad forward %dx%d l%d r%d t%d b%d", h, w, l, r, t, b);
        close_arr(what, y1, y0, ny, 0, 0);
        for (int bi = 0; bi < 2; bi++) {
            float beta = bi ? 0.5f : 0.0f;
            float *dx0 = rnd(nx, -1, 1), *dx1 = dupf(dx0, nx);
            REQUIRE_OK(cpu->pad_bwd(cpu, n, c, h, w, l, r, t, b, y0, beta, dx0));
            for (size_t e = 0; e < nx; e++) dx1[e] = mc_pad_bwd_elem(e, h, w, l, r, t, b, y0, beta, dx1);
            snprintf(what, sizeof what, "pad backward %dx%d l%d r%d t%d b%d beta %g", h, w, l, r, t, b, (double)beta);
            /* bitwise: the gather adds the copies in the CPU backend's order (cuda_math.h) */
            close_arr(what, dx1, dx0, nx, 0, 0);
            free(dx0), free(dx1);
        }
        free(x), free(y0), free(y1);
    }
}

/* ---- pooling ---------------------------------------------------------------------------- */
static void pool_case(mc_pool_desc d, const char *name, int special) {
    size_t nx = (size_t)d.n * d.c * d.h * d.w, ny = (size_t)d.n * d.c * d.oh * d.ow;
    float *x = rnd(nx, -1, 1);
    for (size_t i = 0; i < nx; i++) x[i] = floorf(x[i] * 3.0f) / 3.0f; /* few values: many ties */
    if (special && nx > 8) {
        x[1] = -INFINITY;
        x[2] = -INFINITY;
        x[nx - 3] = NAN;
    }
    float *y0 = rnd(ny, -1, 1), *y1 = rnd(ny, -1, 1), *dy = rnd(ny, -1, 1);
    REQUIRE_OK(cpu->pool_fwd(cpu, &d, x, y0));
    for (size_t o = 0; o < ny; o++) y1[o] = mc_pool_fwd_elem(&d, x, o);
    char what[128];
    snprintf(what, sizeof what, "%s forward", name);
    close_arr(what, y1, y0, ny, 0, d.mode == MC_POOL_MAX ? 0 : 1e-6);
    for (int bi = 0; bi < 2; bi++) {
        float beta = bi ? 0.5f : 0.0f;
        float *dx0 = rnd(nx, -1, 1), *dx1 = dupf(dx0, nx);
        REQUIRE_OK(cpu->pool_bwd(cpu, &d, x, y0, dy, beta, dx0));
        for (size_t e = 0; e < nx; e++) dx1[e] = mc_pool_bwd_elem(&d, x, dy, beta, dx1, e);
        snprintf(what, sizeof what, "%s backward, beta %g", name, (double)beta);
        /* bitwise: the gather visits the windows in the CPU backend's order (cuda_math.h) */
        close_arr(what, dx1, dx0, nx, 0, 0);
        free(dx0), free(dx1);
    }
    free(x), free(y0), free(y1), free(dy);
}

static mc_pool_desc pool(int mode, int n, int c, int h, int w, int k, int s, int p, int oh, int ow) {
    return (mc_pool_desc){.mode = mode, .n = n, .c = c, .h = h, .w = w, .oh = oh, .ow = ow, .kh = k, .kw = k,
                          .sh = s, .sw = s, .pt = p, .pl = p};
}

static void test_pool(void) {
    /* the windows that contain each input position, by brute force */
    for (int k = 1; k <= 4; k++)
        for (int s = 1; s <= 3; s++)
            for (int p = 0; p <= k / 2; p++) {
                int n_in = 7, n_out = (n_in + 2 * p - k) / s + 1, ok = 1;
                for (int i = 0; i < n_in; i++) {
                    int lo, hi;
                    mc_pool_out_range(i, k, s, p, n_out, &lo, &hi);
                    for (int o = 0; o < n_out; o++) {
                        int in = o * s - p <= i && i < o * s - p + k;
                        ok = ok && in == (o >= lo && o <= hi);
                    }
                }
                CHECK(ok, "pool windows containing an input: kernel %d stride %d padding %d", k, s, p);
            }
    for (int mode = 0; mode < 2; mode++) {
        const char *m = mode == MC_POOL_MAX ? "max" : "avg";
        char nm[96];
        snprintf(nm, sizeof nm, "%spool 2x2 stride 2", m);
        pool_case(pool(mode, 2, 3, 8, 6, 2, 2, 0, 4, 3), nm, mode == MC_POOL_MAX);
        snprintf(nm, sizeof nm, "%spool 3x3 stride 2 pad 1", m);
        pool_case(pool(mode, 2, 2, 9, 7, 3, 2, 1, 5, 4), nm, mode == MC_POOL_MAX);
        snprintf(nm, sizeof nm, "%spool 3x3 stride 1 pad 1", m);
        pool_case(pool(mode, 1, 2, 5, 6, 3, 1, 1, 5, 6), nm, 0);
        snprintf(nm, sizeof nm, "%spool 2x2 stride 3 (gaps)", m);
        pool_case(pool(mode, 1, 2, 8, 8, 2, 3, 0, 3, 3), nm, 0);
        snprintf(nm, sizeof nm, "%spool darknet 2x2 stride 1 (window past the edge)", m);
        pool_case(pool(mode, 2, 2, 5, 4, 2, 1, 0, 5, 4), nm, mode == MC_POOL_MAX);
        snprintf(nm, sizeof nm, "%spool global 6x5", m);
        mc_pool_desc g = pool(mode, 2, 3, 6, 5, 6, 6, 0, 1, 1);
        g.kw = 5;
        g.sw = 5;
        pool_case(g, nm, 0);
    }
}

/* ---- activations, bias ------------------------------------------------------------------ */
static void test_act(void) {
    const mc_act acts[] = {{MC_ACT_LINEAR, 0, 0}, {MC_ACT_RELU, 0, 0}, {MC_ACT_LEAKY, 0.1f, 0},
                           {MC_ACT_LOGISTIC, 0, 0}, {MC_ACT_HARDTANH, -0.5f, 0.75f}, {MC_ACT_TANH, 0, 0}};
    const size_t n = 1000;
    float *x = rnd(n, -3, 3);
    x[0] = 0.0f;
    x[1] = -0.5f;
    x[2] = 0.75f;
    for (size_t k = 0; k < sizeof acts / sizeof acts[0]; k++) {
        const mc_act *a = &acts[k];
        CHECK(mc_act_known(a->type), "activation %d known", a->type);
        float *y0 = rnd(n, -1, 1), *y1 = rnd(n, -1, 1), *dy = rnd(n, -1, 1);
        REQUIRE_OK(cpu->act_fwd(cpu, a, n, x, y0));
        for (size_t i = 0; i < n; i++) y1[i] = mc_act_fwd1(a->type, a->a, a->b, x[i]);
        char what[64];
        snprintf(what, sizeof what, "activation %d forward", a->type);
        close_arr(what, y1, y0, n, 0, 2e-7);
        for (int bi = 0; bi < 2; bi++) {
            float beta = bi ? 1.0f : 0.0f;
            float *dx0 = rnd(n, -1, 1), *dx1 = dupf(dx0, n);
            REQUIRE_OK(cpu->act_bwd(cpu, a, n, y0, dy, beta, dx0));
            for (size_t i = 0; i < n; i++) dx1[i] = mc_blend(mc_act_bwd1(a->type, a->a, a->b, y0[i], dy[i]), beta, dx1[i]);
            snprintf(what, sizeof what, "activation %d backward, beta %g", a->type, (double)beta);
            close_arr(what, dx1, dx0, n, 0, 1e-7);
            free(dx0), free(dx1);
        }
        free(y0), free(y1), free(dy);
    }
    CHECK(!mc_act_known(99), "an unknown activation is refused");
    free(x);
}

static void test_bias(void) {
    const int n = 3, c = 4, hw = 5;
    size_t tot = (size_t)n * c * hw;
    float *b = rnd((size_t)c, -1, 1), *y0 = rnd(tot, -1, 1), *y1 = dupf(y0, tot), *dy = rnd(tot, -1, 1);
    REQUIRE_OK(cpu->bias_fwd(cpu, n, c, hw, b, y0));
    for (size_t i = 0; i < tot; i++) y1[i] += b[(i / (size_t)hw) % (size_t)c]; /* k_bias_fwd's index */
    close_arr("bias forward", y1, y0, tot, 0, 0);
    float db0[4] = {1, 2, 3, 4}, db1[4] = {1, 2, 3, 4};
    REQUIRE_OK(cpu->bias_bwd(cpu, n, c, hw, dy, 0.5f, db0));
    for (int ch = 0; ch < c; ch++) {
        double s = 0;
        for (size_t j = 0; j < (size_t)n * hw; j++) s += (double)dy[mc_bn_index(j, ch, c, hw)]; /* k_bias_bwd */
        db1[ch] = mc_blend((float)s, 0.5f, db1[ch]);
    }
    close_arr("bias backward", db1, db0, 4, 0, 1e-7);
    /* mc_bn_index walks exactly the channel's elements of (n, c, hw) */
    int ok = 1;
    for (int ch = 0; ch < c; ch++)
        for (size_t j = 0; j < (size_t)n * hw; j++) {
            size_t e = mc_bn_index(j, ch, c, hw);
            ok = ok && e < tot && (int)((e / (size_t)hw) % (size_t)c) == ch;
        }
    CHECK(ok, "mc_bn_index stays in its channel");
    free(b), free(y0), free(y1), free(dy);
}

/* ---- batch norm (the own kernels' arithmetic, with sequential sums) ---------------------- */
static void test_bn(int n, int c, int hw) {
    mc_bn_desc d = {.n = n, .c = c, .hw = hw, .eps = 1e-5f, .momentum = 0.1f};
    size_t tot = (size_t)n * c * hw, m = (size_t)n * hw;
    float *x = rnd(tot, -2, 3), *dy = rnd(tot, -1, 1), *gamma = rnd((size_t)c, 0.5f, 1.5f),
          *bias = rnd((size_t)c, -1, 1);
    for (int update = 0; update < 2; update++) {
        float *rm0 = rnd((size_t)c, -1, 1), *rv0 = rnd((size_t)c, 0.5f, 2), *rm1 = dupf(rm0, (size_t)c),
              *rv1 = dupf(rv0, (size_t)c);
        float *sm0 = rnd((size_t)c, 0, 1), *si0 = rnd((size_t)c, 0, 1), *sm1 = rnd((size_t)c, 0, 1),
              *si1 = rnd((size_t)c, 0, 1);
        float *y0 = rnd(tot, 0, 1), *y1 = rnd(tot, 0, 1);
        REQUIRE_OK(cpu->bn_fwd_train(cpu, &d, x, gamma, bias, rm0, rv0, update, sm0, si0, y0));
        for (int ch = 0; ch < c; ch++) { /* k_bn_fwd_train */
            double s = 0, ss = 0, md, id;
            for (size_t j = 0; j < m; j++) s += (double)x[mc_bn_index(j, ch, c, hw)];
            for (size_t j = 0; j < m; j++) {
                double t = (double)x[mc_bn_index(j, ch, c, hw)] - s / (double)m;
                ss += t * t;
            }
            mc_bn_finish(s, ss, (double)m, d.eps, d.momentum, update, &sm1[ch], &si1[ch], &rm1[ch], &rv1[ch], &md,
                         &id);
            float a, b;
            mc_bn_affine(gamma[ch], bias[ch], md, id, &a, &b);
            for (size_t j = 0; j < m; j++) {
                size_t e = mc_bn_index(j, ch, c, hw);
                y1[e] = x[e] * a + b;
            }
        }
        char what[96];
        snprintf(what, sizeof what, "bn train n=%d hw=%d update=%d: y", n, hw, update);
        close_arr(what, y1, y0, tot, 1e-6, 1e-6);
        close_arr("bn train: saved mean", sm1, sm0, (size_t)c, 1e-7, 1e-6);
        close_arr("bn train: saved 1/std", si1, si0, (size_t)c, 0, 1e-6);
        close_arr("bn train: running mean", rm1, rm0, (size_t)c, 1e-7, 1e-6);
        close_arr("bn train: running var (unbiased)", rv1, rv0, (size_t)c, 0, 1e-6);
        /* backward from the saved statistics, every output wanted, accumulating */
        float *dx0 = rnd(tot, -1, 1), *dx1 = dupf(dx0, tot), *dg0 = rnd((size_t)c, -1, 1),
              *dg1 = dupf(dg0, (size_t)c), *db0 = rnd((size_t)c, -1, 1), *db1 = dupf(db0, (size_t)c);
        REQUIRE_OK(cpu->bn_bwd_train(cpu, &d, x, dy, gamma, sm0, si0, 0.5f, dx0, 1.0f, dg0, db0));
        for (int ch = 0; ch < c; ch++) { /* k_bn_bwd, train */
            double mean = sm0[ch], invstd = si0[ch], sdy = 0, sdyx = 0;
            for (size_t j = 0; j < m; j++) {
                size_t e = mc_bn_index(j, ch, c, hw);
                sdy += (double)dy[e];
                sdyx += (double)dy[e] * ((double)x[e] - mean);
            }
            double dg = sdyx * invstd, k = (double)gamma[ch] * invstd;
            dg1[ch] = mc_blend((float)dg, 1.0f, dg1[ch]);
            db1[ch] = mc_blend((float)sdy, 1.0f, db1[ch]);
            for (size_t j = 0; j < m; j++) {
                size_t e = mc_bn_index(j, ch, c, hw);
                dx1[e] = mc_blend(mc_bn_bwd_dx(x[e], dy[e], mean, invstd, k, sdy / (double)m, dg / (double)m), 0.5f,
                                  dx1[e]);
            }
        }
        close_arr("bn backward (train): dx", dx1, dx0, tot, 1e-6, 1e-5);
        close_arr("bn backward (train): dgamma", dg1, dg0, (size_t)c, 1e-6, 1e-6);
        close_arr("bn backward (train): dbeta", db1, db0, (size_t)c, 1e-6, 1e-6);
        free(rm0), free(rv0), free(rm1), free(rv1), free(sm0), free(si0), free(sm1), free(si1), free(y0), free(y1);
        free(dx0), free(dx1), free(dg0), free(dg1), free(db0), free(db1);
    }
    /* inference and its backward, from running statistics */
    float *rm = rnd((size_t)c, -1, 1), *rv = rnd((size_t)c, 0.5f, 2);
    float *y0 = rnd(tot, 0, 1), *y1 = rnd(tot, 0, 1);
    REQUIRE_OK(cpu->bn_fwd_infer(cpu, &d, x, gamma, bias, rm, rv, y0));
    for (size_t i = 0; i < tot; i++) { /* k_bn_fwd_infer */
        int ch = (int)((i / (size_t)hw) % (size_t)c);
        float a, b;
        mc_bn_infer_affine(gamma[ch], bias[ch], rm[ch], rv[ch], d.eps, &a, &b);
        y1[i] = x[i] * a + b;
    }
    close_arr("bn inference", y1, y0, tot, 1e-6, 1e-6);
    float *dx0 = rnd(tot, -1, 1), *dx1 = dupf(dx0, tot), *dg0 = rnd((size_t)c, -1, 1), *dg1 = dupf(dg0, (size_t)c),
          *db0 = rnd((size_t)c, -1, 1), *db1 = dupf(db0, (size_t)c);
    REQUIRE_OK(cpu->bn_bwd_infer(cpu, &d, x, dy, gamma, rm, rv, 0.0f, dx0, 0.5f, dg0, db0));
    for (int ch = 0; ch < c; ch++) { /* k_bn_bwd, infer */
        double mean = rm[ch], invstd = 1.0 / sqrt((double)rv[ch] + (double)d.eps), sdy = 0, sdyx = 0;
        float k = (float)((double)gamma[ch] * invstd);
        for (size_t j = 0; j < m; j++) {
            size_t e = mc_bn_index(j, ch, c, hw);
            sdy += (double)dy[e];
            sdyx += (double)dy[e] * ((double)x[e] - mean);
            dx1[e] = mc_blend(dy[e] * k, 0.0f, dx1[e]);
        }
        dg1[ch] = mc_blend((float)(sdyx * invstd), 0.5f, dg1[ch]);
        db1[ch] = mc_blend((float)sdy, 0.5f, db1[ch]);
    }
    close_arr("bn backward (inference): dx", dx1, dx0, tot, 1e-6, 1e-6);
    close_arr("bn backward (inference): dgamma", dg1, dg0, (size_t)c, 1e-6, 1e-6);
    close_arr("bn backward (inference): dbeta", db1, db0, (size_t)c, 1e-6, 1e-6);
    free(rm), free(rv), free(y0), free(y1), free(dx0), free(dx1), free(dg0), free(dg1), free(db0), free(db1);
    free(x), free(dy), free(gamma), free(bias);
}

/* ---- loss, optimiser -------------------------------------------------------------------- */
static void test_loss(void) {
    CHECK(fabs(mc_bce1(0.0f, 1.0f) - log(2.0)) < 1e-15, "BCE(z=0, t=1) = log 2");
    CHECK(fabs(mc_bce1(100.0f, 0.0f) - 100.0) < 1e-12, "BCE(z=100, t=0) = 100 (no overflow)");
    CHECK(fabs(mc_bce1(-100.0f, 1.0f) - 100.0) < 1e-12, "BCE(z=-100, t=1) = 100");
    const size_t n = 517; /* not a multiple of a block */
    float *z = rnd(n, -6, 6), *t = rnd(n, 0, 1), *mask = rnd(n, 0, 1);
    for (size_t i = 0; i < n; i++) {
        t[i] = t[i] < 0.5f ? 0.0f : 1.0f;
        mask[i] = mask[i] < 0.3f ? 0.0f : 1.0f;
    }
    for (int masked = 0; masked < 2; masked++) {
        const float *mk = masked ? mask : NULL;
        float *p0 = rnd(n, 0, 1), *p1 = rnd(n, 0, 1);
        double loss0, cnt0, loss1, cnt1, s = 0, c = 0;
        REQUIRE_OK(cpu->bce_fwd(cpu, n, z, t, mk, p0, &loss0, &cnt0));
        for (size_t i = 0; i < n; i++) { /* k_bce_fwd + k_bce_total, sequential */
            double m = mk ? (double)mk[i] : 1.0;
            p1[i] = mc_sigmoidf(z[i]);
            s += m * mc_bce1(z[i], t[i]);
            c += m;
        }
        mc_bce_finish(s, c, &loss1, &cnt1);
        close_arr("loss: probabilities", p1, p0, n, 0, 0);
        CHECK(fabs(loss1 - loss0) <= 1e-12 * fabs(loss0), "loss (masked=%d): %.15g vs CPU %.15g", masked, loss1, loss0);
        CHECK(cnt1 == cnt0, "loss count (masked=%d): %g vs CPU %g", masked, cnt1, cnt0);
        float *dz0 = rnd(n, -1, 1), *dz1 = dupf(dz0, n);
        float scale = (float)(1.0 / cnt0);
        REQUIRE_OK(cpu->bce_bwd(cpu, n, p0, t, mk, scale, 1.0f, dz0));
        for (size_t i = 0; i < n; i++) dz1[i] = mc_bce_grad1(p0[i], t[i], mk ? mk[i] : 1.0f, scale, 1.0f, dz1[i]);
        close_arr("loss gradient", dz1, dz0, n, 0, 0);
        free(p0), free(p1), free(dz0), free(dz1);
    }
    double loss, cnt;
    mc_bce_finish(0.0, 0.0, &loss, &cnt);
    CHECK(loss == 0.0 && cnt == 0.0, "nothing counts: loss 0, count 0 (as the CPU backend)");
    free(z), free(t), free(mask);
}

static void test_sgd(void) {
    const size_t n = 300;
    for (int dec = 0; dec < 2; dec++) {
        float *w0 = rnd(n, -1, 1), *w1 = dupf(w0, n), *v0 = rnd(n, -0.1f, 0.1f), *v1 = dupf(v0, n);
        for (int step = 0; step < 3; step++) {
            float *g = rnd(n, -1, 1), lr = 0.1f / (float)(step + 1), mom = 0.9f - 0.05f * (float)step, wd = 0.01f;
            REQUIRE_OK(cpu->sgd(cpu, n, w0, g, v0, lr, mom, wd, dec));
            float l2, shrink;
            mc_sgd_coef(lr, wd, dec, &l2, &shrink);
            for (size_t i = 0; i < n; i++) mc_sgd1(&w1[i], g[i], &v1[i], lr, mom, l2, shrink);
            free(g);
        }
        close_arr(dec ? "sgd (decoupled weight decay): weights" : "sgd (L2): weights", w1, w0, n, 0, 0);
        close_arr(dec ? "sgd (decoupled weight decay): momentum" : "sgd (L2): momentum", v1, v0, n, 0, 0);
        free(w0), free(w1), free(v0), free(v1);
    }
    /* an independent fact: one plain step from zero momentum is w - lr*g (no decay) */
    float w = 2.0f, v = 0.0f, l2, shrink;
    mc_sgd_coef(0.5f, 0.0f, 0, &l2, &shrink);
    mc_sgd1(&w, 1.0f, &v, 0.5f, 0.9f, l2, shrink);
    CHECK(w == 1.5f && v == 1.0f, "one SGD step from rest: w = 2 - 0.5*1, v = g");
}

/* upsampling: the kernels' per-element functions over whole tensors against the CPU backend,
 * bit for bit (same formulas, same order; MC_FMUL is a plain product on the host) */
static void up_case(int mode, int n, int c, int h, int w, int f) {
    const size_t nx = (size_t)n * c * h * w, ny = nx * (size_t)f * f;
    float *x = rnd(nx, -1, 1), *y0 = rnd(ny, -1, 1), *y1 = rnd(ny, -1, 1), *dy = rnd(ny, -1, 1);
    char what[96];
    REQUIRE_OK(cpu->upsample_fwd(cpu, mode, n, c, h, w, f, x, y0));
    for (size_t o = 0; o < ny; o++) y1[o] = mc_up_fwd_elem(mode, o, h, w, f, x);
    snprintf(what, sizeof what, "upsample %s x%d (%dx%dx%dx%d) forward", mode ? "bilinear" : "nearest", f, n, c, h, w);
    close_arr(what, y1, y0, ny, 0, 0);
    for (int bi = 0; bi < 2; bi++) {
        const float beta = bi ? 0.5f : 0.0f;
        float *dx0 = rnd(nx, -1, 1), *dx1 = dupf(dx0, nx), *dxin = dupf(dx0, nx);
        REQUIRE_OK(cpu->upsample_bwd(cpu, mode, n, c, h, w, f, dy, beta, dx0));
        for (size_t e = 0; e < nx; e++) dx1[e] = mc_up_bwd_elem(mode, e, h, w, f, dy, beta, dxin);
        snprintf(what, sizeof what, "upsample %s x%d (%dx%dx%dx%d) backward, beta %g", mode ? "bilinear" : "nearest",
                 f, n, c, h, w, (double)beta);
        close_arr(what, dx1, dx0, nx, 0, 0);
        free(dx0), free(dx1), free(dxin);
    }
    free(x), free(y0), free(y1), free(dy);
}

static void test_upsample(void) {
    for (int mode = 0; mode < 2; mode++)
        for (int f = 1; f <= 4; f++) {
            up_case(mode, 2, 3, 5, 7, f);
            up_case(mode, 1, 2, 1, 1, f); /* a single input pixel */
            up_case(mode, 1, 1, 2, 9, f);
        }
    /* facts, independent of the CPU backend: F.interpolate of [0, 1] by 2 gives
     * nearest [0, 0, 1, 1], bilinear (align_corners=False) [0, 0.25, 0.75, 1] */
    const float x[2] = {0.0f, 1.0f}, nearest[4] = {0, 0, 1, 1}, bilin[4] = {0.0f, 0.25f, 0.75f, 1.0f};
    int okn = 1, okb = 1;
    for (size_t o = 0; o < 4; o++) {
        okn = okn && mc_up_fwd_elem(MC_UP_NEAREST, o, 1, 2, 2, x) == nearest[o];
        okb = okb && mc_up_fwd_elem(MC_UP_BILINEAR, o, 1, 2, 2, x) == bilin[o];
    }
    CHECK(okn, "nearest x2 of [0, 1] is [0, 0, 1, 1]");
    CHECK(okb, "bilinear x2 of [0, 1] is [0, 0.25, 0.75, 1]");
    /* the taps' reach: mc_up_range holds every output whose weight on input i is non-zero */
    int okr = 1;
    for (int f = 1; f <= 5; f++)
        for (int in = 1; in <= 6; in++)
            for (int i = 0; i < in; i++) {
                int lo, hi;
                mc_up_range(i, f, in * f, &lo, &hi);
                for (int o = 0; o < in * f; o++)
                    if (mc_up_weight(o, i, in, f) != 0.0f && (o < lo || o > hi)) okr = 0;
            }
    CHECK(okr, "every output that reaches an input lies in its range (brute force, factors 1-5)");
}

/* dense regression losses: sums in double as k_reg_fwd (sequential here), the gradient bitwise */
static void test_reg_loss(void) {
    CHECK(mc_reg1(MC_LOSS_MSE, 3.0f, 1.0f) == 4.0 && mc_reg1(MC_LOSS_L1, 1.0f, 3.5f) == 2.5,
          "MSE(3, 1) = 4, L1(1, 3.5) = 2.5");
    const size_t n = 20011; /* more than one of the CPU backend's chunks, not a multiple of a block */
    float *z = rnd(n, -2, 2), *t = rnd(n, -2, 2), *mask = rnd(n, 0, 1);
    for (size_t i = 0; i < n; i++) mask[i] = mask[i] < 0.3f ? 0.0f : 1.0f;
    t[5] = z[5]; /* d = 0: L1's gradient is 0 there */
    for (int type = 0; type < 2; type++)
        for (int masked = 0; masked < 2; masked++) {
            const float *mk = masked ? mask : NULL;
            double loss0, cnt0, loss1, cnt1, s = 0, c = 0;
            REQUIRE_OK(cpu->reg_loss_fwd(cpu, type, n, z, t, mk, &loss0, &cnt0));
            for (size_t i = 0; i < n; i++) {
                double m = mk ? (double)mk[i] : 1.0;
                s += m * mc_reg1(type, z[i], t[i]);
                c += m;
            }
            mc_bce_finish(s, c, &loss1, &cnt1);
            CHECK(fabs(loss1 - loss0) <= 1e-12 * fabs(loss0), "%s loss (masked=%d): %.15g vs CPU %.15g",
                  type ? "L1" : "MSE", masked, loss1, loss0);
            CHECK(cnt1 == cnt0, "%s count (masked=%d): %g vs CPU %g", type ? "L1" : "MSE", masked, cnt1, cnt0);
            for (int bi = 0; bi < 2; bi++) {
                const float beta = bi ? 1.0f : 0.0f, scale = (float)(1.0 / cnt0);
                float *dz0 = rnd(n, -1, 1), *dz1 = dupf(dz0, n);
                REQUIRE_OK(cpu->reg_loss_bwd(cpu, type, n, z, t, mk, scale, beta, dz0));
                for (size_t i = 0; i < n; i++)
                    dz1[i] = mc_reg_grad1(type, z[i], t[i], mk ? mk[i] : 1.0f, scale, beta, dz1[i]);
                char what[80];
                snprintf(what, sizeof what, "%s gradient (masked=%d, beta %g)", type ? "L1" : "MSE", masked,
                         (double)beta);
                close_arr(what, dz1, dz0, n, 0, 0);
                if (!bi && type == MC_LOSS_L1) CHECK(dz1[5] == 0.0f, "L1's gradient at d = 0 is 0");
                free(dz0), free(dz1);
            }
        }
    free(z), free(t), free(mask);
}

/* Adam / AdamW and RMSprop: the per-element updates against the CPU backend, bit for bit, over
 * several steps with changing coefficients */
static mc_adam_coef adam_coef(int step, int decoupled) {
    const double lr = 1e-3 * (1 + step), b1 = 0.9 - 0.02 * step, b2 = 0.999, wd = 0.01, t = step + 1;
    mc_adam_coef c = {(float)b1, (float)(1 - b1), (float)b2, (float)(1 - b2), decoupled ? 0.0f : (float)wd,
                      decoupled ? (float)(1 - lr * wd) : 1.0f, (float)(lr / (1 - pow(b1, t))),
                      (float)sqrt(1 - pow(b2, t)), 1e-8f};
    return c;
}

static void test_adam_rmsprop(void) {
    const size_t n = 300;
    for (int dec = 0; dec < 2; dec++) {
        float *w0 = rnd(n, -1, 1), *w1 = dupf(w0, n), *m0 = rnd(n, -0.1f, 0.1f), *m1 = dupf(m0, n);
        float *v0 = rnd(n, 0, 0.01f), *v1 = dupf(v0, n);
        for (int step = 0; step < 4; step++) {
            float *g = rnd(n, -1, 1);
            mc_adam_coef c = adam_coef(step, dec);
            REQUIRE_OK(cpu->adam(cpu, n, w0, g, m0, v0, &c));
            for (size_t i = 0; i < n; i++) mc_adam1(&w1[i], g[i], &m1[i], &v1[i], &c);
            free(g);
        }
        close_arr(dec ? "adamw: weights" : "adam (L2): weights", w1, w0, n, 0, 0);
        close_arr(dec ? "adamw: first moment" : "adam (L2): first moment", m1, m0, n, 0, 0);
        close_arr(dec ? "adamw: second moment" : "adam (L2): second moment", v1, v0, n, 0, 0);
        free(w0), free(w1), free(m0), free(m1), free(v0), free(v1);
    }
    { /* a fact: Adam's first step from zero moments moves each weight by about lr against the gradient */
        mc_adam_coef c = {0.9f, 0.1f, 0.999f, 0.001f, 0.0f, 1.0f, (float)(0.01 / 0.1), (float)sqrt(0.001), 1e-8f};
        float w = 1.0f, m = 0.0f, v = 0.0f;
        mc_adam1(&w, -3.0f, &m, &v, &c);
        CHECK(fabsf(w - 1.01f) < 1e-6f, "Adam's first step: w = 1 + lr*sign(-g) (got %.9g)", (double)w);
    }
    for (int centered = 0; centered < 2; centered++)
        for (int mom = 0; mom < 2; mom++)
            for (int dec = 0; dec < 2; dec++) {
                float *w0 = rnd(n, -1, 1), *w1 = dupf(w0, n), *s0 = rnd(n, 0.5f, 1), *s1 = dupf(s0, n);
                float *a0 = rnd(n, -0.1f, 0.1f), *a1 = dupf(a0, n), *b0 = rnd(n, -0.1f, 0.1f), *b1 = dupf(b0, n);
                for (int step = 0; step < 4; step++) {
                    float *g = rnd(n, -1, 1);
                    const float lr = 0.01f / (float)(step + 1), wd = 0.02f;
                    mc_rmsprop_coef c = {0.99f, 1.0f - 0.99f, 1e-8f, lr, mom ? 0.9f : 0.0f, dec ? 0.0f : wd,
                                         dec ? 1.0f - lr * wd : 1.0f, centered};
                    REQUIRE_OK(cpu->rmsprop(cpu, n, w0, g, s0, centered ? a0 : NULL, mom ? b0 : NULL, &c));
                    for (size_t i = 0; i < n; i++)
                        mc_rmsprop1(&w1[i], g[i], &s1[i], centered ? &a1[i] : NULL, mom ? &b1[i] : NULL, &c);
                    free(g);
                }
                char what[96];
                snprintf(what, sizeof what, "rmsprop (centered %d, momentum %d, decoupled %d): ", centered, mom, dec);
                char wb[128];
                snprintf(wb, sizeof wb, "%sweights", what), close_arr(wb, w1, w0, n, 0, 0);
                snprintf(wb, sizeof wb, "%ssquare average", what), close_arr(wb, s1, s0, n, 0, 0);
                snprintf(wb, sizeof wb, "%sgradient average", what), close_arr(wb, a1, a0, n, 0, 0);
                snprintf(wb, sizeof wb, "%smomentum", what), close_arr(wb, b1, b0, n, 0, 0);
                free(w0), free(w1), free(s0), free(s1), free(a0), free(a1), free(b0), free(b1);
            }
}

int main(void) {
    REQUIRE_OK(mc_backend_cpu_create(&cpu, NULL));
    mc_rng_seed(&rng, 7);
    test_launch();
    test_gemm_mapping();
    test_conv();
    test_shuffle();
    test_pad();
    test_pool();
    test_act();
    test_bias();
    test_bn(3, 4, 10);
    test_bn(2, 3, 1); /* small m: the unbiased correction matters */
    test_bn(1, 2, 1); /* m = 1: the running variance takes the biased one */
    test_loss();
    test_sgd();
    test_upsample();
    test_reg_loss();
    test_adam_rmsprop();
    cpu->destroy(cpu);
    return mc_test_done("test_gpu_host");
}
