/* test_gpu.c — the CUDA backend against the CPU backend: every backend operation on random data
 * (convolutions plain, strided, grouped, 1x1 and transposed, accumulating or not; bias; batch
 * norm training / inference / both backwards with the running statistics; pooling with ties;
 * every activation, in place too; GEMM in all four transpose combinations; vector ops, copy2d,
 * pixel shuffle, replication pad, the BCE loss with and without mask, SGD, all_finite; upsampling
 * nearest and bilinear by 1, 2, 3, forward and backward; MSE and L1 with and without mask; Adam /
 * AdamW; RMSprop plain, centred, with momentum; memory: zero-filled alloc, uploads larger than
 * the pinned staging, fill), then whole training steps of two networks that use every layer type
 * (forward, loss, backward, update; a frozen group with running-statistics BN and the input
 * gradient): a classifier with BCE stepped by SGD, and a U-Net-like image-to-image net (skips
 * through [route], [upsample], tanh, MSE) stepped by Adam and by RMSprop; GPU against CPU,
 * outputs of every layer, every tensor and gradient compared.
 *
 * In a cuDNN build everything runs twice: with cuDNN, and with MEDCOLOR_CUDNN=0 (the own
 * kernels and the im2col + cuBLAS convolution). TF32 is off (MEDCOLOR_TF32 unset).
 * Tolerance: |gpu - cpu| <= tol * max|cpu| over the tensor (plus a tiny absolute term); tol is
 * 1e-6 for element-wise operations, 1e-4 for reductions and convolutions (other summation
 * orders, cuDNN's algorithms) and 1e-3 after three training steps.
 *
 * Without a GPU — built without GPU=1, or no device/driver on this machine — the device part
 * is skipped (exit 77, "SKIP test_gpu: <why>"; exit 1 if a check that ran failed), and what
 * can be checked is: a CPU build refuses the CUDA backend with MC_EUNSUP, and a GPU build without
 * a usable GPU reports MC_EUNSUP with file:line and the CUDA runtime's message (that is the skip
 * condition).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "engine/backend.h"
#include "mc_train.h"
#include "mc_transfer.h"
#include "test.h"

/* The network of the whole-step comparison. A standalone [batchnorm] must not follow a
 * batch-normalised layer directly: the output is then nearly invariant to the first one's gamma,
 * whose gradient becomes a sum that cancels to ~1e-4 of its terms, and the GPU-CPU difference
 * (float rounding of the terms, amplified ~5000x) was 0.3-2% of it on the first GPU run
 * (H200, 2026-12-04; docs/gpu.md). conditioning() below keeps the net well-conditioned. */
static const char *net_cfg =
    "[net]\nbatch=4\nwidth=12\nheight=12\nchannels=2\n"
    "[convolutional]\nname=c0\ngroup=backbone\nfilters=8\nsize=3\npadding=1\nbatch_normalize=1\n"
    "activation=leaky\nslope=0.1\n"
    "[maxpool]\ngroup=backbone\nsize=2\nstride=2\n"
    "[convolutional]\ngroup=backbone\nfilters=8\nsize=3\npadding=1\ngroups=2\nactivation=relu\n"
    "[shortcut]\ngroup=backbone\nfrom=-2\nactivation=linear\n"
    "[convolutional]\nfilters=16\nsize=1\nbatch_normalize=1\nactivation=hardtanh\n"
    "[pixelshuffle]\nfactor=2\n"
    "[pad]\nleft=2\nright=0\ntop=1\nbottom=1\n"
    "[convolutional]\nfilters=4\nsize=3\nstride=1\nactivation=logistic\n"
    "[route]\nlayers=-1,c0\n"
    "[avgpool]\nsize=2\nstride=2\n"
    "[batchnorm]\n"
    "[deconvolutional]\nfilters=6\nsize=4\nstride=2\npadding=1\nbatch_normalize=1\nactivation=leaky\n"
    "[activation]\nactivation=relu\n"
    "[maxpool]\nsize=3\nstride=2\npadding=1\n"
    "[avgpool]\n"
    "[connected]\noutput=5\nactivation=linear\n"
    "[cost]\ntype=bce\n";

/* The image-to-image network of the second whole-step comparison: U-Net-style skips through
 * [route], bilinear and nearest [upsample] (factors 2 and 3), tanh, a dense masked MSE target;
 * stepped by Adam (L2) and by RMSprop (centred, momentum, decoupled decay). */
static const char *dense_cfg =
    "[net]\nbatch=3\nwidth=12\nheight=12\nchannels=1\n"
    "[convolutional]\nname=e0\ngroup=backbone\nfilters=6\nsize=3\npadding=1\nbatch_normalize=1\nactivation=relu\n"
    "[maxpool]\ngroup=backbone\nsize=2\nstride=2\n"
    "[convolutional]\ngroup=backbone\nfilters=8\nsize=3\npadding=1\nbatch_normalize=1\nactivation=leaky\n"
    "slope=0.1\n"
    "[upsample]\nfactor=2\nmode=bilinear\n"
    "[route]\nlayers=-1,e0\n"
    "[convolutional]\nfilters=6\nsize=3\npadding=1\nbatch_normalize=1\nactivation=relu\n"
    "[maxpool]\nsize=3\nstride=3\n"
    "[upsample]\nstride=3\n"
    "[convolutional]\nfilters=2\nsize=1\nactivation=tanh\n"
    "[cost]\ntype=mse\n";

/* targets of a net: {0,1} labels for BCE (dense = 0), values in [-0.9, 0.9] for MSE (dense = 1) */
static void targets(mc_rng *r, int dense, size_t n, float *t) {
    for (size_t i = 0; i < n; i++)
        t[i] = dense ? (float)(1.8 * mc_rng_uniform(r) - 0.9) : (mc_rng_uniform(r) < 0.5 ? 0.0f : 1.0f);
}

/* Every trainable gradient of a compared net after one step must move by less than 1e-4 of its
 * scale when the input moves by 1e-6 (relative, random): then the 1e-3 tolerance of the GPU-CPU
 * step comparison tests the backends and not the conditioning of the net. CPU only: runs in
 * every build, with or without a GPU. */
static void conditioning_of(const char *cfg, int dense) {
    for (int frozen = 0; frozen < 2; frozen++) {
        mc_net *a, *b;
        mc_net_opts o = {.seed = 11};
        REQUIRE_OK(mc_net_from_string(&a, cfg, "gpu.cfg", &o));
        REQUIRE_OK(mc_net_from_string(&b, cfg, "gpu.cfg", &o));
        if (frozen) {
            REQUIRE_OK(mc_net_freeze(a, "backbone", 1));
            REQUIRE_OK(mc_net_freeze(b, "backbone", 1));
            mc_net_set_frozen_bn(a, MC_FROZEN_BN_RUNNING);
            mc_net_set_frozen_bn(b, MC_FROZEN_BN_RUNNING);
        }
        int B = mc_net_batch(a), ic, ih, iw, nout = mc_net_num_outputs(a);
        mc_net_input_shape(a, &ic, &ih, &iw);
        size_t nin = (size_t)B * ic * ih * iw;
        mc_rng r;
        mc_rng_seed(&r, 5);
        float *x = malloc(nin * sizeof(float)), *x2 = malloc(nin * sizeof(float)),
              *t = malloc((size_t)B * nout * sizeof(float));
        REQUIRE(x && x2 && t, "out of memory");
        for (size_t i = 0; i < nin; i++) {
            x[i] = (float)(2 * mc_rng_uniform(&r) - 1);
            x2[i] = x[i] * (float)(1 + 1e-6 * (2 * mc_rng_uniform(&r) - 1));
        }
        targets(&r, dense, (size_t)B * nout, t);
        mc_net *ns[2] = {a, b};
        for (int k = 0; k < 2; k++) {
            REQUIRE_OK(mc_net_set_input(ns[k], k ? x2 : x));
            REQUIRE_OK(mc_net_set_truth(ns[k], t, NULL));
            REQUIRE_OK(mc_net_zero_grad(ns[k]));
            REQUIRE_OK(mc_net_forward(ns[k]));
            REQUIRE_OK(mc_net_backward(ns[k]));
        }
        for (int i = 0; i < mc_net_num_tensors(a); i++) {
            mc_tensor_info ti;
            REQUIRE_OK(mc_net_tensor_info(a, i, &ti));
            if (!ti.trainable || (frozen && !strcmp(mc_net_layer_group(a, ti.layer), "backbone"))) continue;
            float *ga = malloc(ti.numel * sizeof(float)), *gb = malloc(ti.numel * sizeof(float));
            REQUIRE(ga && gb, "out of memory");
            REQUIRE_OK(mc_net_tensor_grad(a, i, ga));
            REQUIRE_OK(mc_net_tensor_grad(b, i, gb));
            double sc = 0, d = 0;
            for (size_t j = 0; j < ti.numel; j++) {
                sc = fmax(sc, fabs(ga[j]));
                d = fmax(d, fabs((double)ga[j] - (double)gb[j]));
            }
            CHECK(sc > 0 && d <= 1e-4 * sc,
                  "%s is well-conditioned (frozen %d): the gradient of %s moves by %.2g of its scale %.3g "
                  "under a 1e-6 input perturbation (at most 1e-4)",
                  dense ? "dense_cfg" : "net_cfg", frozen, ti.name, sc > 0 ? d / sc : 0.0, sc);
            free(ga), free(gb);
        }
        free(x), free(x2), free(t);
        mc_net_free(a), mc_net_free(b);
    }
}

static void conditioning(void) {
    conditioning_of(net_cfg, 0);
    conditioning_of(dense_cfg, 1);
}

#ifndef MC_GPU
int main(void) {
    conditioning();
    mc_net *net = NULL;
    mc_net_opts o = {.backend = MC_BACKEND_CUDA};
    int rc = mc_net_from_string(&net, net_cfg, "gpu.cfg", &o);
    CHECK(rc == MC_EUNSUP, "a CPU build refuses the CUDA backend with MC_EUNSUP (got %d: %s)", rc, mc_errmsg());
    CHECK(strstr(mc_errmsg(), "GPU=1") != NULL, "and says how to get one: %s", mc_errmsg());
    mc_net_free(rc == MC_OK ? net : NULL);
    mc_test_skip("test_gpu", "built without GPU support (make GPU=1 CUDNN=1 builds and runs the GPU comparison)");
    return mc_test_done("test_gpu");
}
#else

static mc_backend *cpu, *gpu;
static mc_rng rng;

/* ---- helpers ---------------------------------------------------------------------------- */
static float *rnd(size_t n, float lo, float hi) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    REQUIRE(p, "out of memory");
    for (size_t i = 0; i < n; i++) p[i] = lo + (hi - lo) * (float)mc_rng_uniform(&rng);
    return p;
}

/* device copy of host data */
static float *dev(const float *h, size_t n) {
    float *d = gpu->alloc(gpu, n, "test buffer");
    REQUIRE(d, "gpu alloc: %s", mc_errmsg());
    if (n) REQUIRE_OK(gpu->upload(gpu, d, h, n));
    return d;
}

/* host copy of device data (frees the device buffer when `release`) */
static float *host(float *d, size_t n, int release) {
    float *h = malloc((n ? n : 1) * sizeof(float));
    REQUIRE(h, "out of memory");
    if (n) REQUIRE_OK(gpu->download(gpu, h, d, n));
    if (release) gpu->free(gpu, d);
    return h;
}

/* |g - c| <= tol * max|c| + 1e-6*tol everywhere (NaN matches NaN, inf matches itself) */
static int same(const char *what, const float *g, const float *c, size_t n, double tol) {
    double scale = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(c[i]) && fabs(c[i]) > scale) scale = fabs(c[i]);
    for (size_t i = 0; i < n; i++) {
        double x = g[i], y = c[i];
        if ((isnan(x) && isnan(y)) || (isinf(y) && x == y)) continue;
        if (!(fabs(x - y) <= tol * scale + 1e-6 * tol)) {
            CHECK(0, "%s: element %zu of %zu: GPU %.9g, CPU %.9g (scale %.3g, tol %g)", what, i, n, x, y, scale, tol);
            return 0;
        }
    }
    CHECK(1, "%s", what);
    return 1;
}

#define ELEM 1e-6
#define RED 1e-4

/* ---- memory ----------------------------------------------------------------------------- */
static void test_memory(void) {
    size_t n = 1000003;
    float *d = gpu->alloc(gpu, n, "zeros");
    REQUIRE(d, "alloc: %s", mc_errmsg());
    float *h = host(d, n, 0), zero = 0.0f;
    int ok = 1;
    for (size_t i = 0; i < n; i++) ok = ok && memcmp(&h[i], &zero, sizeof zero) == 0;
    CHECK(ok, "alloc is zero-filled");
    REQUIRE_OK(gpu->fill(gpu, d, 1.5f, n));
    free(h);
    h = host(d, n, 0);
    ok = 1;
    for (size_t i = 0; i < n; i++) ok = ok && h[i] == 1.5f;
    CHECK(ok, "fill 1.5");
    free(h);
    gpu->free(gpu, d);
    /* 5M floats: more than both pinned staging buffers (2 x 2M floats), then an odd tail */
    size_t big = 5000011;
    float *src = rnd(big, -1, 1);
    d = dev(src, big);
    h = host(d, big, 1);
    CHECK(memcmp(h, src, big * sizeof(float)) == 0, "upload + download of %zu floats round-trips", big);
    free(h);
    /* two uploads queued back to back into different buffers, then both read back */
    float *s2 = rnd(big, -1, 1);
    float *d1 = gpu->alloc(gpu, big, "a"), *d2 = gpu->alloc(gpu, big, "b");
    REQUIRE(d1 && d2, "alloc: %s", mc_errmsg());
    REQUIRE_OK(gpu->upload(gpu, d1, src, big));
    REQUIRE_OK(gpu->upload(gpu, d2, s2, big));
    REQUIRE_OK(gpu->sync(gpu));
    float *h1 = host(d1, big, 1), *h2 = host(d2, big, 1);
    CHECK(memcmp(h1, src, big * sizeof(float)) == 0 && memcmp(h2, s2, big * sizeof(float)) == 0,
          "back-to-back uploads through the staging buffers");
    free(h1), free(h2), free(src), free(s2);
    /* an impossible allocation: NULL with MC_ENOMEM-style message naming the call and file:line */
    mc_clear_error();
    float *huge = gpu->alloc(gpu, (size_t)1 << 50, "an impossible buffer");
    CHECK(huge == NULL, "a 4 PiB allocation fails");
    CHECK(strstr(mc_errmsg(), "cudaMalloc") && strstr(mc_errmsg(), "backend_cuda.cu:") &&
              strstr(mc_errmsg(), "an impossible buffer"),
          "its message names the call, file:line and the buffer: %s", mc_errmsg());
    if (huge) gpu->free(gpu, huge);
    /* the backend still works after that error */
    float one = 1.0f, back = 0.0f, *d3 = dev(&one, 1);
    REQUIRE_OK(gpu->download(gpu, &back, d3, 1));
    CHECK(back == 1.0f, "the backend works after a failed allocation");
    gpu->free(gpu, d3);
}

/* ---- convolution ------------------------------------------------------------------------ */
static void conv_case(mc_conv_desc d, const char *name) {
    size_t nx = (size_t)d.n * d.c * d.h * d.w, ny = (size_t)d.n * d.k * d.oh * d.ow;
    size_t nw = (size_t)d.k * (d.c / d.groups) * d.kh * d.kw;
    size_t wsc = cpu->conv_workspace(cpu, &d);
    mc_clear_error();
    char before[256];
    snprintf(before, sizeof before, "%s", mc_errmsg());
    size_t wsg = gpu->conv_workspace(gpu, &d); /* it has no error return: it must leave none */
    CHECK(strcmp(mc_errmsg(), before) == 0, "%s: conv_workspace without error (%s)", name, mc_errmsg());
    float *x = rnd(nx, -1, 1), *w = rnd(nw, -1, 1), *dy = rnd(ny, -1, 1), *wsh = rnd(wsc, 0, 1);
    float *gx = dev(x, nx), *gw = dev(w, nw), *gdy = dev(dy, ny), *gws = gpu->alloc(gpu, wsg, "workspace");
    REQUIRE(gws, "%s", mc_errmsg());
    char what[160];
    for (int acc = 0; acc < 2; acc++) {
        float beta = acc ? 1.0f : 0.0f;
        float *y = rnd(ny, -1, 1), *gy = dev(y, ny);
        REQUIRE_OK(cpu->conv_fwd(cpu, &d, x, w, beta, y, wsh));
        REQUIRE_OK(gpu->conv_fwd(gpu, &d, gx, gw, beta, gy, gws));
        float *r = host(gy, ny, 1);
        snprintf(what, sizeof what, "conv %s: forward, beta %g", name, (double)beta);
        same(what, r, y, ny, RED);
        free(r), free(y);
        float *dx = rnd(nx, -1, 1), *gdx = dev(dx, nx);
        REQUIRE_OK(cpu->conv_bwd_data(cpu, &d, dy, w, beta, dx, wsh));
        REQUIRE_OK(gpu->conv_bwd_data(gpu, &d, gdy, gw, beta, gdx, gws));
        r = host(gdx, nx, 1);
        snprintf(what, sizeof what, "conv %s: backward-data, beta %g", name, (double)beta);
        same(what, r, dx, nx, RED);
        free(r), free(dx);
        float *dw = rnd(nw, -1, 1), *gdw = dev(dw, nw);
        REQUIRE_OK(cpu->conv_bwd_filter(cpu, &d, x, dy, beta, dw, wsh));
        REQUIRE_OK(gpu->conv_bwd_filter(gpu, &d, gx, gdy, beta, gdw, gws));
        r = host(gdw, nw, 1);
        snprintf(what, sizeof what, "conv %s: backward-filter, beta %g", name, (double)beta);
        same(what, r, dw, nw, RED);
        free(r), free(dw);
    }
    gpu->free(gpu, gx), gpu->free(gpu, gw), gpu->free(gpu, gdy), gpu->free(gpu, gws);
    free(x), free(w), free(dy), free(wsh);
}

static mc_conv_desc conv(int n, int c, int h, int w, int k, int kh, int s, int p, int g) {
    mc_conv_desc d = {.n = n, .c = c, .h = h, .w = w, .k = k, .kh = kh, .kw = kh, .sh = s, .sw = s, .ph = p,
                      .pw = p, .groups = g};
    d.oh = (h + 2 * p - kh) / s + 1;
    d.ow = (w + 2 * p - kh) / s + 1;
    return d;
}

static void test_conv(void) {
    conv_case(conv(2, 3, 17, 15, 8, 3, 1, 1, 1), "3x3");
    conv_case(conv(3, 8, 16, 16, 12, 3, 2, 1, 4), "3x3 stride 2, 4 groups");
    conv_case(conv(2, 16, 9, 9, 8, 1, 1, 0, 1), "1x1");
    conv_case(conv(2, 8, 10, 10, 8, 3, 1, 1, 8), "depthwise 3x3");
    conv_case(conv(2, 1, 33, 31, 16, 7, 2, 2, 1), "7x7 stride 2 pad 2");
    mc_conv_desc t = {.n = 2, .c = 6, .h = 13, .w = 11, .k = 5, .oh = 6, .ow = 5, .kh = 4, .kw = 4, .sh = 2, .sw = 2,
                      .ph = 1, .pw = 1, .groups = 1};
    conv_case(t, "transposed 4x4 stride 2 (output padding 1)");
}

/* ---- element-wise families -------------------------------------------------------------- */
static void test_bias(void) {
    const int n = 3, c = 5, hw = 37;
    size_t tot = (size_t)n * c * hw;
    float *b = rnd((size_t)c, -1, 1), *y = rnd(tot, -1, 1), *gb = dev(b, (size_t)c), *gy = dev(y, tot);
    REQUIRE_OK(cpu->bias_fwd(cpu, n, c, hw, b, y));
    REQUIRE_OK(gpu->bias_fwd(gpu, n, c, hw, gb, gy));
    float *r = host(gy, tot, 0);
    same("bias forward", r, y, tot, ELEM);
    free(r);
    float *db = rnd((size_t)c, -1, 1), *gdb = dev(db, (size_t)c);
    REQUIRE_OK(cpu->bias_bwd(cpu, n, c, hw, y, 0.5f, db));
    REQUIRE_OK(gpu->bias_bwd(gpu, n, c, hw, gy, 0.5f, gdb));
    r = host(gdb, (size_t)c, 1);
    same("bias backward", r, db, (size_t)c, RED);
    free(r), free(db), free(b), free(y);
    gpu->free(gpu, gb), gpu->free(gpu, gy);
}

/* mc_bn_desc.sum of two processes holding the same batch: every sum doubles */
static int sum_twice(void *ctx, double *v, size_t n) {
    for (size_t i = 0; i < n; i++) v[i] *= 2.0;
    ++*(int *)ctx;
    return MC_OK;
}

/* batch norm synchronised across processes (src/dist/): the CUDA backend's own kernels with the
 * sums through the host against the CPU backend's, with the same hook */
static void bn_sync_case(int n, int c, int hw) {
    int calls_c = 0, calls_g = 0;
    mc_bn_desc dc = {.n = n, .c = c, .hw = hw, .eps = 1e-5f, .momentum = 0.1f, .sum = sum_twice, .sum_ctx = &calls_c};
    mc_bn_desc dg_ = dc;
    dg_.sum_ctx = &calls_g;
    size_t tot = (size_t)n * c * hw, C = (size_t)c;
    float *x = rnd(tot, -2, 3), *dy = rnd(tot, -1, 1), *g = rnd(C, 0.5f, 1.5f), *b = rnd(C, -1, 1);
    float *rm = rnd(C, -1, 1), *rv = rnd(C, 0.5f, 2), *sm = rnd(C, 0, 1), *si = rnd(C, 0, 1), *y = rnd(tot, 0, 1);
    float *gx = dev(x, tot), *gdy = dev(dy, tot), *gg = dev(g, C), *gbb = dev(b, C);
    float *grm = dev(rm, C), *grv = dev(rv, C), *gsm = dev(sm, C), *gsi = dev(si, C), *gy = dev(y, tot);
    REQUIRE_OK(cpu->bn_fwd_train(cpu, &dc, x, g, b, rm, rv, 1, sm, si, y));
    REQUIRE_OK(gpu->bn_fwd_train(gpu, &dg_, gx, gg, gbb, grm, grv, 1, gsm, gsi, gy));
    char what[160];
    snprintf(what, sizeof what, "synchronised bn n=%d c=%d hw=%d", n, c, hw);
    float *r;
    r = host(gy, tot, 0), same(what, r, y, tot, RED), free(r);
    r = host(gsm, C, 0), same(what, r, sm, C, RED), free(r);
    r = host(gsi, C, 0), same(what, r, si, C, RED), free(r);
    r = host(grm, C, 0), same(what, r, rm, C, RED), free(r);
    r = host(grv, C, 0), same(what, r, rv, C, RED), free(r);
    float *dx = rnd(tot, -1, 1), *dgm = rnd(C, -1, 1), *db = rnd(C, -1, 1);
    float *gdx = dev(dx, tot), *gdg = dev(dgm, C), *gdb = dev(db, C);
    REQUIRE_OK(cpu->bn_bwd_train(cpu, &dc, x, dy, g, sm, si, 0.5f, dx, 1.0f, dgm, db));
    REQUIRE_OK(gpu->bn_bwd_train(gpu, &dg_, gx, gdy, gg, gsm, gsi, 0.5f, gdx, 1.0f, gdg, gdb));
    snprintf(what, sizeof what, "synchronised bn backward n=%d c=%d hw=%d", n, c, hw);
    r = host(gdx, tot, 0), same(what, r, dx, tot, RED), free(r);
    r = host(gdg, C, 0), same(what, r, dgm, C, RED), free(r);
    r = host(gdb, C, 0), same(what, r, db, C, RED), free(r);
    CHECK(calls_c == 2 && calls_g == 2, "%s: the sum hook was called %d (CPU) and %d (GPU) times, not 2", what, calls_c,
          calls_g);
    gpu->free(gpu, gx), gpu->free(gpu, gdy), gpu->free(gpu, gg), gpu->free(gpu, gbb), gpu->free(gpu, grm);
    gpu->free(gpu, grv), gpu->free(gpu, gsm), gpu->free(gpu, gsi), gpu->free(gpu, gy), gpu->free(gpu, gdx);
    gpu->free(gpu, gdg), gpu->free(gpu, gdb);
    free(x), free(dy), free(g), free(b), free(rm), free(rv), free(sm), free(si), free(y), free(dx), free(dgm), free(db);
}

static void bn_case(int n, int c, int hw) {
    mc_bn_desc d = {.n = n, .c = c, .hw = hw, .eps = 1e-5f, .momentum = 0.1f};
    size_t tot = (size_t)n * c * hw, C = (size_t)c;
    char what[160];
    float *x = rnd(tot, -2, 3), *dy = rnd(tot, -1, 1), *g = rnd(C, 0.5f, 1.5f), *b = rnd(C, -1, 1);
    float *gx = dev(x, tot), *gdy = dev(dy, tot), *gg = dev(g, C), *gbb = dev(b, C);
    for (int update = 0; update < 2; update++) {
        float *rm = rnd(C, -1, 1), *rv = rnd(C, 0.5f, 2), *sm = rnd(C, 0, 1), *si = rnd(C, 0, 1), *y = rnd(tot, 0, 1);
        float *grm = dev(rm, C), *grv = dev(rv, C), *gsm = dev(sm, C), *gsi = dev(si, C), *gy = dev(y, tot);
        REQUIRE_OK(cpu->bn_fwd_train(cpu, &d, x, g, b, rm, rv, update, sm, si, y));
        REQUIRE_OK(gpu->bn_fwd_train(gpu, &d, gx, gg, gbb, grm, grv, update, gsm, gsi, gy));
        float *r;
        snprintf(what, sizeof what, "bn train n=%d c=%d hw=%d update=%d: ", n, c, hw, update);
        char w2[320];
        r = host(gy, tot, 1), snprintf(w2, sizeof w2, "%sy", what), same(w2, r, y, tot, RED), free(r);
        r = host(gsm, C, 0), snprintf(w2, sizeof w2, "%ssaved mean", what), same(w2, r, sm, C, RED), free(r);
        r = host(gsi, C, 0), snprintf(w2, sizeof w2, "%ssaved 1/std", what), same(w2, r, si, C, RED), free(r);
        r = host(grm, C, 1), snprintf(w2, sizeof w2, "%srunning mean", what), same(w2, r, rm, C, RED), free(r);
        r = host(grv, C, 1), snprintf(w2, sizeof w2, "%srunning var (unbiased)", what), same(w2, r, rv, C, RED),
        free(r);
        /* backward from each backend's own saved statistics: all outputs; dx only; params only */
        for (int want = 0; want < 3; want++) {
            int wdx = want != 2, wp = want != 1;
            float *dx = rnd(tot, -1, 1), *dg = rnd(C, -1, 1), *db = rnd(C, -1, 1);
            float *gdx = dev(dx, tot), *gdg = dev(dg, C), *gdb = dev(db, C);
            REQUIRE_OK(cpu->bn_bwd_train(cpu, &d, x, dy, g, sm, si, 0.5f, wdx ? dx : NULL, 1.0f, wp ? dg : NULL,
                                         wp ? db : NULL));
            REQUIRE_OK(gpu->bn_bwd_train(gpu, &d, gx, gdy, gg, gsm, gsi, 0.5f, wdx ? gdx : NULL, 1.0f,
                                         wp ? gdg : NULL, wp ? gdb : NULL));
            snprintf(w2, sizeof w2, "%sbackward (dx %d, params %d): dx", what, wdx, wp);
            r = host(gdx, tot, 1), same(w2, r, dx, tot, RED), free(r);
            snprintf(w2, sizeof w2, "%sbackward (dx %d, params %d): dgamma", what, wdx, wp);
            r = host(gdg, C, 1), same(w2, r, dg, C, RED), free(r);
            snprintf(w2, sizeof w2, "%sbackward (dx %d, params %d): dbeta", what, wdx, wp);
            r = host(gdb, C, 1), same(w2, r, db, C, RED), free(r);
            free(dx), free(dg), free(db);
        }
        gpu->free(gpu, gsm), gpu->free(gpu, gsi);
        free(rm), free(rv), free(sm), free(si), free(y);
    }
    float *rm = rnd(C, -1, 1), *rv = rnd(C, 0.5f, 2), *y = rnd(tot, 0, 1);
    float *grm = dev(rm, C), *grv = dev(rv, C), *gy = dev(y, tot);
    REQUIRE_OK(cpu->bn_fwd_infer(cpu, &d, x, g, b, rm, rv, y));
    REQUIRE_OK(gpu->bn_fwd_infer(gpu, &d, gx, gg, gbb, grm, grv, gy));
    float *r = host(gy, tot, 1);
    snprintf(what, sizeof what, "bn inference n=%d c=%d hw=%d", n, c, hw);
    same(what, r, y, tot, RED);
    free(r);
    float *dx = rnd(tot, -1, 1), *dg = rnd(C, -1, 1), *db = rnd(C, -1, 1);
    float *gdx = dev(dx, tot), *gdg = dev(dg, C), *gdb = dev(db, C);
    REQUIRE_OK(cpu->bn_bwd_infer(cpu, &d, x, dy, g, rm, rv, 1.0f, dx, 0.0f, dg, db));
    REQUIRE_OK(gpu->bn_bwd_infer(gpu, &d, gx, gdy, gg, grm, grv, 1.0f, gdx, 0.0f, gdg, gdb));
    snprintf(what, sizeof what, "bn backward through running statistics n=%d c=%d hw=%d", n, c, hw);
    r = host(gdx, tot, 1), same(what, r, dx, tot, RED), free(r);
    r = host(gdg, C, 1), same(what, r, dg, C, RED), free(r);
    r = host(gdb, C, 1), same(what, r, db, C, RED), free(r);
    gpu->free(gpu, grm), gpu->free(gpu, grv), gpu->free(gpu, gx), gpu->free(gpu, gdy), gpu->free(gpu, gg),
        gpu->free(gpu, gbb);
    free(rm), free(rv), free(y), free(dx), free(dg), free(db), free(x), free(dy), free(g), free(b);
}

static void pool_case(mc_pool_desc d, const char *name) {
    size_t nx = (size_t)d.n * d.c * d.h * d.w, ny = (size_t)d.n * d.c * d.oh * d.ow;
    float *x = rnd(nx, -1, 1);
    for (size_t i = 0; i < nx; i++) x[i] = floorf(x[i] * 3.0f) / 3.0f; /* ties */
    float *y = rnd(ny, 0, 1), *dy = rnd(ny, -1, 1), *dx = rnd(nx, -1, 1);
    float *gx = dev(x, nx), *gy = dev(y, ny), *gdy = dev(dy, ny), *gdx = dev(dx, nx);
    REQUIRE_OK(cpu->pool_fwd(cpu, &d, x, y));
    REQUIRE_OK(gpu->pool_fwd(gpu, &d, gx, gy));
    REQUIRE_OK(cpu->pool_bwd(cpu, &d, x, y, dy, 1.0f, dx));
    REQUIRE_OK(gpu->pool_bwd(gpu, &d, gx, gy, gdy, 1.0f, gdx));
    char what[128];
    float *r = host(gy, ny, 1);
    snprintf(what, sizeof what, "%s forward", name);
    same(what, r, y, ny, ELEM);
    free(r);
    r = host(gdx, nx, 1);
    snprintf(what, sizeof what, "%s backward (first maximum takes the gradient)", name);
    same(what, r, dx, nx, ELEM);
    free(r), free(x), free(y), free(dy), free(dx);
    gpu->free(gpu, gx), gpu->free(gpu, gdy);
}

static void test_pool(void) {
    for (int mode = 0; mode < 2; mode++) {
        const char *m = mode ? "avgpool" : "maxpool";
        char nm[96];
        snprintf(nm, sizeof nm, "%s 3x3 stride 2 pad 1", m);
        pool_case((mc_pool_desc){mode, 2, 3, 17, 15, 9, 8, 3, 3, 2, 2, 1, 1}, nm);
        snprintf(nm, sizeof nm, "%s 2x2 stride 1 past the edge (darknet)", m);
        pool_case((mc_pool_desc){mode, 2, 3, 9, 8, 9, 8, 2, 2, 1, 1, 0, 0}, nm);
        snprintf(nm, sizeof nm, "%s global 7x7", m);
        pool_case((mc_pool_desc){mode, 2, 4, 7, 7, 1, 1, 7, 7, 7, 7, 0, 0}, nm);
    }
}

static void test_act(void) {
    const mc_act acts[] = {{MC_ACT_LINEAR, 0, 0}, {MC_ACT_RELU, 0, 0}, {MC_ACT_LEAKY, 0.1f, 0},
                           {MC_ACT_LOGISTIC, 0, 0}, {MC_ACT_HARDTANH, -1, 1}, {MC_ACT_TANH, 0, 0}};
    const size_t n = 100003;
    for (size_t k = 0; k < sizeof acts / sizeof acts[0]; k++) {
        const mc_act *a = &acts[k];
        char what[96];
        float *x = rnd(n, -3, 3), *y = rnd(n, 0, 1), *dy = rnd(n, -1, 1), *dx = rnd(n, -1, 1);
        float *gx = dev(x, n), *gy = dev(y, n), *gdy = dev(dy, n), *gdx = dev(dx, n);
        REQUIRE_OK(cpu->act_fwd(cpu, a, n, x, y));
        REQUIRE_OK(gpu->act_fwd(gpu, a, n, gx, gy));
        REQUIRE_OK(cpu->act_bwd(cpu, a, n, y, dy, 1.0f, dx));
        REQUIRE_OK(gpu->act_bwd(gpu, a, n, gy, gdy, 1.0f, gdx));
        /* in place, as the layers call them: y = act(y), dy = act'(y) dy */
        REQUIRE_OK(cpu->act_fwd(cpu, a, n, x, x));
        REQUIRE_OK(gpu->act_fwd(gpu, a, n, gx, gx));
        REQUIRE_OK(cpu->act_bwd(cpu, a, n, y, dy, 0.0f, dy));
        REQUIRE_OK(gpu->act_bwd(gpu, a, n, gy, gdy, 0.0f, gdy));
        float *r;
        snprintf(what, sizeof what, "activation %d forward", a->type);
        r = host(gy, n, 1), same(what, r, y, n, ELEM), free(r);
        snprintf(what, sizeof what, "activation %d backward (accumulating)", a->type);
        r = host(gdx, n, 1), same(what, r, dx, n, ELEM), free(r);
        snprintf(what, sizeof what, "activation %d forward in place", a->type);
        r = host(gx, n, 1), same(what, r, x, n, ELEM), free(r);
        snprintf(what, sizeof what, "activation %d backward in place", a->type);
        r = host(gdy, n, 1), same(what, r, dy, n, ELEM), free(r);
        free(x), free(y), free(dy), free(dx);
    }
    mc_act bad = {42, 0, 0};
    float *d = gpu->alloc(gpu, 4, "x");
    CHECK(gpu->act_fwd(gpu, &bad, 4, d, d) == MC_EUNSUP, "an unknown activation is refused");
    gpu->free(gpu, d);
}

static void test_blas(void) {
    const int m = 37, n = 29, k = 41, pad = 3;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
            size_t na = (size_t)lda * (ta ? k : m), nb = (size_t)ldb * (tb ? n : k), nc = (size_t)ldc * m;
            float *a = rnd(na, -1, 1), *b = rnd(nb, -1, 1), *c = rnd(nc, -1, 1);
            float *ga = dev(a, na), *gb = dev(b, nb), *gc = dev(c, nc);
            REQUIRE_OK(cpu->gemm(cpu, ta, tb, m, n, k, 0.75f, a, lda, b, ldb, 0.5f, c, ldc));
            REQUIRE_OK(gpu->gemm(gpu, ta, tb, m, n, k, 0.75f, ga, lda, gb, ldb, 0.5f, gc, ldc));
            char what[64];
            snprintf(what, sizeof what, "gemm ta=%d tb=%d (padded leading dimensions)", ta, tb);
            float *r = host(gc, nc, 1);
            same(what, r, c, nc, RED);
            free(r), free(a), free(b), free(c);
            gpu->free(gpu, ga), gpu->free(gpu, gb);
        }
    /* k = 0: C = beta*C */
    float c0[6] = {1, 2, 3, 4, 5, 6}, c1[6] = {1, 2, 3, 4, 5, 6};
    float *gc = dev(c1, 6);
    REQUIRE_OK(cpu->gemm(cpu, 0, 0, 2, 3, 0, 1.0f, c0, 1, c0, 3, 0.5f, c0, 3));
    REQUIRE_OK(gpu->gemm(gpu, 0, 0, 2, 3, 0, 1.0f, gc, 1, gc, 3, 0.5f, gc, 3));
    float *r = host(gc, 6, 1);
    same("gemm with k = 0 scales C", r, c0, 6, 0);
    free(r);
    size_t nv = 300007;
    float *x = rnd(nv, -1, 1), *y = rnd(nv, -1, 1), *gx = dev(x, nv), *gy = dev(y, nv);
    REQUIRE_OK(cpu->axpy(cpu, nv, -0.3f, x, y));
    REQUIRE_OK(gpu->axpy(gpu, nv, -0.3f, gx, gy));
    REQUIRE_OK(cpu->scale(cpu, nv, 1.7f, y));
    REQUIRE_OK(gpu->scale(gpu, nv, 1.7f, gy));
    r = host(gy, nv, 1);
    same("axpy then scale", r, y, nv, ELEM);
    free(r), free(x), free(y);
    gpu->free(gpu, gx);
}

static void test_copy_shuffle_pad(void) {
    /* copy2d: 3 rows of 50 from stride 70 into stride 90, overwrite and accumulate */
    for (int acc = 0; acc < 2; acc++) {
        float *s = rnd(3 * 70, -1, 1), *d = rnd(3 * 90, -1, 1), *gs = dev(s, 210), *gd = dev(d, 270);
        REQUIRE_OK(cpu->copy2d(cpu, 3, 50, s, 70, acc ? 1.0f : 0.0f, d, 90));
        REQUIRE_OK(gpu->copy2d(gpu, 3, 50, gs, 70, acc ? 1.0f : 0.0f, gd, 90));
        float *r = host(gd, 270, 1);
        same(acc ? "copy2d accumulating" : "copy2d", r, d, 270, ELEM);
        free(r), free(s), free(d);
        gpu->free(gpu, gs);
    }
    const int n = 2, c = 3, h = 5, w = 7, r2 = 3;
    size_t tot = (size_t)n * c * r2 * r2 * h * w;
    float *x = rnd(tot, -1, 1), *y = rnd(tot, 0, 1), *dx = rnd(tot, -1, 1);
    float *gx = dev(x, tot), *gy = dev(y, tot), *gdx = dev(dx, tot);
    REQUIRE_OK(cpu->shuffle_fwd(cpu, n, c, h, w, r2, x, y));
    REQUIRE_OK(gpu->shuffle_fwd(gpu, n, c, h, w, r2, gx, gy));
    REQUIRE_OK(cpu->shuffle_bwd(cpu, n, c, h, w, r2, y, 0.5f, dx));
    REQUIRE_OK(gpu->shuffle_bwd(gpu, n, c, h, w, r2, gy, 0.5f, gdx));
    float *r = host(gy, tot, 1);
    same("pixel shuffle forward", r, y, tot, 0);
    free(r);
    r = host(gdx, tot, 1);
    same("pixel shuffle backward", r, dx, tot, ELEM);
    free(r), free(x), free(y), free(dx);
    gpu->free(gpu, gx);
    const int l = 2, rr = 1, t = 0, b = 3;
    size_t nx = (size_t)n * c * h * w, ny = (size_t)n * c * (h + t + b) * (w + l + rr);
    x = rnd(nx, -1, 1), y = rnd(ny, 0, 1), dx = rnd(nx, -1, 1);
    gx = dev(x, nx), gy = dev(y, ny), gdx = dev(dx, nx);
    REQUIRE_OK(cpu->pad_fwd(cpu, n, c, h, w, l, rr, t, b, x, y));
    REQUIRE_OK(gpu->pad_fwd(gpu, n, c, h, w, l, rr, t, b, gx, gy));
    REQUIRE_OK(cpu->pad_bwd(cpu, n, c, h, w, l, rr, t, b, y, 1.0f, dx));
    REQUIRE_OK(gpu->pad_bwd(gpu, n, c, h, w, l, rr, t, b, gy, 1.0f, gdx));
    r = host(gy, ny, 1);
    same("replication pad forward", r, y, ny, 0);
    free(r);
    r = host(gdx, nx, 1);
    same("replication pad backward", r, dx, nx, ELEM);
    free(r), free(x), free(y), free(dx);
    gpu->free(gpu, gx);
}

static void test_loss_sgd_finite(void) {
    const size_t n = 70001;
    float *z = rnd(n, -8, 8), *t = rnd(n, 0, 1), *mask = rnd(n, 0, 1);
    for (size_t i = 0; i < n; i++) {
        t[i] = t[i] < 0.5f ? 0.0f : 1.0f;
        mask[i] = mask[i] < 0.25f ? 0.0f : 1.0f;
    }
    float *gz = dev(z, n), *gt = dev(t, n), *gm = dev(mask, n);
    for (int masked = 0; masked < 2; masked++) {
        float *p = rnd(n, 0, 1), *gp = dev(p, n);
        double l0, c0, l1, c1;
        REQUIRE_OK(cpu->bce_fwd(cpu, n, z, t, masked ? mask : NULL, p, &l0, &c0));
        REQUIRE_OK(gpu->bce_fwd(gpu, n, gz, gt, masked ? gm : NULL, gp, &l1, &c1));
        CHECK(fabs(l1 - l0) <= 1e-9 * fabs(l0), "loss (masked %d): GPU %.12g, CPU %.12g", masked, l1, l0);
        CHECK(c1 == c0, "loss count (masked %d): GPU %g, CPU %g", masked, c1, c0);
        float *dz = rnd(n, -1, 1), *gdz = dev(dz, n);
        REQUIRE_OK(cpu->bce_bwd(cpu, n, p, t, masked ? mask : NULL, (float)(1.0 / c0), 1.0f, dz));
        REQUIRE_OK(gpu->bce_bwd(gpu, n, gp, gt, masked ? gm : NULL, (float)(1.0 / c0), 1.0f, gdz));
        float *r = host(gp, n, 1);
        same("loss: probabilities", r, p, n, ELEM);
        free(r);
        r = host(gdz, n, 1);
        same("loss gradient", r, dz, n, ELEM);
        free(r), free(p), free(dz);
    }
    double l, c;
    float *gp = gpu->alloc(gpu, 1, "p");
    REQUIRE_OK(gpu->bce_fwd(gpu, 0, gz, gt, NULL, gp, &l, &c));
    CHECK(l == 0.0 && c == 0.0, "loss over nothing: 0 with count 0 (%g, %g)", l, c);
    gpu->free(gpu, gp), gpu->free(gpu, gz), gpu->free(gpu, gt), gpu->free(gpu, gm);
    free(z), free(t), free(mask);
    for (int dec = 0; dec < 2; dec++) {
        size_t np = 100000;
        float *w = rnd(np, -1, 1), *v = rnd(np, -0.1f, 0.1f), *g = rnd(np, -1, 1);
        float *gw = dev(w, np), *gv = dev(v, np), *gg = dev(g, np);
        for (int s = 0; s < 3; s++) {
            REQUIRE_OK(cpu->sgd(cpu, np, w, g, v, 0.05f, 0.9f, 0.01f, dec));
            REQUIRE_OK(gpu->sgd(gpu, np, gw, gg, gv, 0.05f, 0.9f, 0.01f, dec));
        }
        float *r = host(gw, np, 1);
        same(dec ? "sgd decoupled: weights" : "sgd L2: weights", r, w, np, ELEM);
        free(r);
        r = host(gv, np, 1);
        same(dec ? "sgd decoupled: momentum" : "sgd L2: momentum", r, v, np, ELEM);
        free(r), free(w), free(v), free(g);
        gpu->free(gpu, gg);
    }
    size_t nf = 123457;
    float *f = rnd(nf, -1, 1), *gf = dev(f, nf);
    int ok = -1;
    REQUIRE_OK(gpu->all_finite(gpu, nf, gf, &ok));
    CHECK(ok == 1, "all_finite: finite data");
    float bad[2] = {INFINITY, NAN};
    for (int i = 0; i < 2; i++) {
        REQUIRE_OK(gpu->upload(gpu, gf + nf - 1 - (size_t)i * 777, &bad[i], 1));
        REQUIRE_OK(gpu->all_finite(gpu, nf, gf, &ok));
        CHECK(ok == 0, "all_finite: %s found", i ? "NaN" : "inf");
    }
    REQUIRE_OK(gpu->all_finite(gpu, 0, gf, &ok));
    CHECK(ok == 1, "all_finite of nothing");
    gpu->free(gpu, gf), free(f);
}

/* ---- upsampling, dense losses, Adam and RMSprop ---------------------------------------- */
static void up_case(int mode, int n, int c, int h, int w, int f) {
    const size_t nx = (size_t)n * c * h * w, ny = nx * (size_t)f * f;
    float *x = rnd(nx, -1, 1), *y = rnd(ny, -1, 1), *dy = rnd(ny, -1, 1);
    float *gx = dev(x, nx), *gy = dev(y, ny), *gdy = dev(dy, ny);
    char what[128];
    REQUIRE_OK(cpu->upsample_fwd(cpu, mode, n, c, h, w, f, x, y));
    REQUIRE_OK(gpu->upsample_fwd(gpu, mode, n, c, h, w, f, gx, gy));
    float *r = host(gy, ny, 1);
    snprintf(what, sizeof what, "upsample %s x%d (%dx%dx%dx%d) forward", mode ? "bilinear" : "nearest", f, n, c, h, w);
    same(what, r, y, ny, ELEM);
    free(r);
    for (int bi = 0; bi < 2; bi++) {
        const float beta = bi ? 0.5f : 0.0f;
        float *dx = rnd(nx, -1, 1), *gdx = dev(dx, nx);
        REQUIRE_OK(cpu->upsample_bwd(cpu, mode, n, c, h, w, f, dy, beta, dx));
        REQUIRE_OK(gpu->upsample_bwd(gpu, mode, n, c, h, w, f, gdy, beta, gdx));
        r = host(gdx, nx, 1);
        snprintf(what, sizeof what, "upsample %s x%d (%dx%dx%dx%d) backward, beta %g", mode ? "bilinear" : "nearest",
                 f, n, c, h, w, (double)beta);
        same(what, r, dx, nx, ELEM);
        free(r), free(dx);
    }
    free(x), free(y), free(dy);
    gpu->free(gpu, gx), gpu->free(gpu, gdy);
}

static void test_upsample(void) {
    for (int mode = 0; mode < 2; mode++)
        for (int f = 1; f <= 3; f++) {
            up_case(mode, 2, 3, 17, 23, f);
            up_case(mode, 1, 2, 1, 1, f);
        }
    up_case(MC_UP_BILINEAR, 4, 16, 64, 64, 2); /* more elements than one grid of blocks covers at once */
    float *d = gpu->alloc(gpu, 16, "x");
    CHECK(gpu->upsample_fwd(gpu, 7, 1, 1, 2, 2, 2, d, d) == MC_EUNSUP, "an unknown upsampling mode is refused");
    CHECK(gpu->upsample_bwd(gpu, MC_UP_NEAREST, 1, 1, 2, 2, 0, d, 0.0f, d) == MC_EARG, "upsampling factor 0 is refused");
    gpu->free(gpu, d);
}

static void test_reg_loss(void) {
    const size_t n = 70001;
    float *z = rnd(n, -2, 2), *t = rnd(n, -2, 2), *mask = rnd(n, 0, 1);
    for (size_t i = 0; i < n; i++) mask[i] = mask[i] < 0.25f ? 0.0f : 1.0f;
    t[7] = z[7]; /* d = 0 */
    float *gz = dev(z, n), *gt = dev(t, n), *gm = dev(mask, n);
    for (int type = 0; type < 2; type++)
        for (int masked = 0; masked < 2; masked++) {
            const char *nm = type ? "L1" : "MSE";
            double l0, c0, l1, c1;
            REQUIRE_OK(cpu->reg_loss_fwd(cpu, type, n, z, t, masked ? mask : NULL, &l0, &c0));
            REQUIRE_OK(gpu->reg_loss_fwd(gpu, type, n, gz, gt, masked ? gm : NULL, &l1, &c1));
            /* sums in double in another order: far below float resolution */
            CHECK(fabs(l1 - l0) <= 1e-9 * fabs(l0), "%s loss (masked %d): GPU %.12g, CPU %.12g", nm, masked, l1, l0);
            CHECK(c1 == c0, "%s count (masked %d): GPU %g, CPU %g", nm, masked, c1, c0);
            for (int bi = 0; bi < 2; bi++) {
                const float beta = bi ? 1.0f : 0.0f;
                float *dz = rnd(n, -1, 1), *gdz = dev(dz, n);
                REQUIRE_OK(cpu->reg_loss_bwd(cpu, type, n, z, t, masked ? mask : NULL, (float)(1.0 / c0), beta, dz));
                REQUIRE_OK(gpu->reg_loss_bwd(gpu, type, n, gz, gt, masked ? gm : NULL, (float)(1.0 / c0), beta, gdz));
                float *r = host(gdz, n, 1);
                char what[96];
                snprintf(what, sizeof what, "%s gradient (masked %d, beta %g)", nm, masked, (double)beta);
                same(what, r, dz, n, ELEM);
                free(r), free(dz);
            }
        }
    double l, c;
    REQUIRE_OK(gpu->reg_loss_fwd(gpu, MC_LOSS_MSE, 0, gz, gt, NULL, &l, &c));
    CHECK(l == 0.0 && c == 0.0, "MSE over nothing: 0 with count 0 (%g, %g)", l, c);
    CHECK(gpu->reg_loss_fwd(gpu, 9, n, gz, gt, NULL, &l, &c) == MC_EUNSUP, "an unknown loss is refused");
    gpu->free(gpu, gz), gpu->free(gpu, gt), gpu->free(gpu, gm);
    free(z), free(t), free(mask);
}

static void test_adam_rmsprop(void) {
    const size_t np = 100000;
    for (int dec = 0; dec < 2; dec++) {
        float *w = rnd(np, -1, 1), *m = rnd(np, -0.1f, 0.1f), *v = rnd(np, 0, 0.01f);
        float *gw = dev(w, np), *gm = dev(m, np), *gv = dev(v, np);
        for (int s = 0; s < 3; s++) {
            float *g = rnd(np, -1, 1), *gg = dev(g, np);
            const double lr = 1e-3, b1 = 0.9, b2 = 0.999, wd = 0.01, t = s + 1;
            const mc_adam_coef c = {(float)b1, (float)(1 - b1), (float)b2, (float)(1 - b2),
                                    dec ? 0.0f : (float)wd, dec ? (float)(1 - lr * wd) : 1.0f,
                                    (float)(lr / (1 - pow(b1, t))), (float)sqrt(1 - pow(b2, t)), 1e-8f};
            REQUIRE_OK(cpu->adam(cpu, np, w, g, m, v, &c));
            REQUIRE_OK(gpu->adam(gpu, np, gw, gg, gm, gv, &c));
            free(g), gpu->free(gpu, gg);
        }
        float *r = host(gw, np, 1);
        same(dec ? "adamw: weights" : "adam (L2): weights", r, w, np, ELEM);
        free(r);
        r = host(gm, np, 1);
        same(dec ? "adamw: first moment" : "adam (L2): first moment", r, m, np, ELEM);
        free(r);
        r = host(gv, np, 1);
        same(dec ? "adamw: second moment" : "adam (L2): second moment", r, v, np, ELEM);
        free(r), free(w), free(m), free(v);
    }
    for (int centered = 0; centered < 2; centered++)
        for (int mom = 0; mom < 2; mom++) {
            const int dec = centered; /* both decay forms, once each */
            float *w = rnd(np, -1, 1), *sq = rnd(np, 0.5f, 1), *ga = rnd(np, -0.1f, 0.1f), *bf = rnd(np, -0.1f, 0.1f);
            float *gw = dev(w, np), *gsq = dev(sq, np), *gga = dev(ga, np), *gbf = dev(bf, np);
            for (int s = 0; s < 3; s++) {
                float *g = rnd(np, -1, 1), *gg = dev(g, np);
                const float lr = 0.01f, wd = 0.02f;
                const mc_rmsprop_coef c = {0.99f, 1.0f - 0.99f, 1e-8f, lr, mom ? 0.9f : 0.0f, dec ? 0.0f : wd,
                                           dec ? 1.0f - lr * wd : 1.0f, centered};
                REQUIRE_OK(cpu->rmsprop(cpu, np, w, g, sq, centered ? ga : NULL, mom ? bf : NULL, &c));
                REQUIRE_OK(gpu->rmsprop(gpu, np, gw, gg, gsq, centered ? gga : NULL, mom ? gbf : NULL, &c));
                free(g), gpu->free(gpu, gg);
            }
            char what[128];
            float *r;
            snprintf(what, sizeof what, "rmsprop (centered %d, momentum %d): weights", centered, mom);
            r = host(gw, np, 1), same(what, r, w, np, ELEM), free(r);
            snprintf(what, sizeof what, "rmsprop (centered %d, momentum %d): square average", centered, mom);
            r = host(gsq, np, 1), same(what, r, sq, np, ELEM), free(r);
            snprintf(what, sizeof what, "rmsprop (centered %d, momentum %d): gradient average", centered, mom);
            r = host(gga, np, 1), same(what, r, ga, np, ELEM), free(r);
            snprintf(what, sizeof what, "rmsprop (centered %d, momentum %d): momentum buffer", centered, mom);
            r = host(gbf, np, 1), same(what, r, bf, np, ELEM), free(r);
            free(w), free(sq), free(ga), free(bf);
        }
    float *d = gpu->alloc(gpu, 4, "x");
    const mc_rmsprop_coef c = {0.99f, 0.01f, 1e-8f, 0.01f, 0.9f, 0.0f, 1.0f, 0};
    CHECK(gpu->rmsprop(gpu, 4, d, d, d, NULL, NULL, &c) == MC_EARG, "rmsprop with momentum but no buffer is refused");
    gpu->free(gpu, d);
}

/* ---- whole training steps --------------------------------------------------------------- */
/* three training steps of cfg (dense: an MSE net with real-valued targets) with optimiser opt, GPU
 * against CPU; label names the case in the messages */
/* The parameters and statistics of src given to the nets dst[0..ndst) (whatever their own
 * initialisation did). perturb_bn: the running means and variances first redrawn (mean in
 * [-0.1, 0.1), variance in [0.5, 1.5), from the test's stream) and set in src too, so that eval
 * mode uses statistics that are not the identity. */
static void share_params(mc_net *src, mc_net *const *dst, int ndst, int perturb_bn) {
    for (int i = 0; i < mc_net_num_tensors(src); i++) {
        mc_tensor_info ti;
        REQUIRE_OK(mc_net_tensor_info(src, i, &ti));
        float *p = malloc(ti.numel * sizeof(float));
        REQUIRE(p, "out of memory");
        REQUIRE_OK(mc_net_tensor_get(src, i, p));
        if (perturb_bn && strstr(ti.name, "running_mean"))
            for (size_t j = 0; j < ti.numel; j++) p[j] = 0.2f * (float)(mc_rng_uniform(&rng) - 0.5);
        if (perturb_bn && strstr(ti.name, "running_var"))
            for (size_t j = 0; j < ti.numel; j++) p[j] = 0.5f + (float)mc_rng_uniform(&rng);
        if (perturb_bn) REQUIRE_OK(mc_net_tensor_set(src, i, p));
        for (int k = 0; k < ndst; k++) REQUIRE_OK(mc_net_tensor_set(dst[k], i, p));
        free(p);
    }
}

static void net_case(const char *cfg, int dense, int frozen, const mc_optimizer *opt, const char *label) {
    mc_net *nc, *ng;
    mc_net_opts oc = {.seed = 11}, og = {.seed = 11, .backend = MC_BACKEND_CUDA, .gpu = 0};
    REQUIRE_OK(mc_net_from_string(&nc, cfg, "gpu.cfg", &oc));
    REQUIRE_OK(mc_net_from_string(&ng, cfg, "gpu.cfg", &og));
    int nt = mc_net_num_tensors(nc), nl = mc_net_num_layers(nc), B = mc_net_batch(nc);
    REQUIRE(nt == mc_net_num_tensors(ng), "same tensors");
    share_params(nc, &ng, 1, 0);
    if (frozen) {
        REQUIRE_OK(mc_net_freeze(nc, "backbone", 1));
        REQUIRE_OK(mc_net_freeze(ng, "backbone", 1));
        mc_net_set_frozen_bn(nc, MC_FROZEN_BN_RUNNING);
        mc_net_set_frozen_bn(ng, MC_FROZEN_BN_RUNNING);
        mc_net_want_input_grad(nc, 1);
        mc_net_want_input_grad(ng, 1);
    }
    int ic, ih, iw, nout = mc_net_num_outputs(nc);
    mc_net_input_shape(nc, &ic, &ih, &iw);
    size_t nin = (size_t)B * ic * ih * iw;
    char what[200];
    for (int step = 0; step < 3; step++) {
        float *x = rnd(nin, -1, 1), *t = rnd((size_t)B * nout, 0, 1), *m = rnd((size_t)B * nout, 0, 1);
        targets(&rng, dense, (size_t)B * nout, t);
        for (int i = 0; i < B * nout; i++) m[i] = m[i] < 0.2f ? 0.0f : 1.0f;
        mc_net *nets[2] = {nc, ng};
        for (int k = 0; k < 2; k++) {
            REQUIRE_OK(mc_net_set_input(nets[k], x));
            REQUIRE_OK(mc_net_set_truth(nets[k], t, m));
            REQUIRE_OK(mc_net_zero_grad(nets[k]));
            REQUIRE_OK(mc_net_forward(nets[k]));
            REQUIRE_OK(mc_net_backward(nets[k]));
        }
        double lc = mc_net_loss(nc), lg = mc_net_loss(ng);
        CHECK(fabs(lg - lc) <= 1e-4 * fabs(lc), "%s (frozen %d) step %d: loss GPU %.8g, CPU %.8g", label, frozen, step,
              lg, lc);
        for (int i = 0; i < nl; i++) {
            int c, h, w;
            REQUIRE_OK(mc_net_layer_shape(nc, i, &c, &h, &w));
            size_t no = (size_t)B * c * h * w;
            float *a = malloc(no * sizeof(float)), *b = malloc(no * sizeof(float));
            REQUIRE_OK(mc_net_get_output(nc, i, a));
            REQUIRE_OK(mc_net_get_output(ng, i, b));
            snprintf(what, sizeof what, "%s (frozen %d) step %d: output of layer %d [%s]", label, frozen, step, i,
                     mc_net_layer_type(nc, i));
            same(what, b, a, no, 1e-3);
            free(a), free(b);
        }
        if (frozen) {
            float *a = malloc(nin * sizeof(float)), *b = malloc(nin * sizeof(float));
            REQUIRE_OK(mc_net_get_input_grad(nc, a));
            REQUIRE_OK(mc_net_get_input_grad(ng, b));
            snprintf(what, sizeof what, "%s (frozen) step %d: input gradient", label, step);
            same(what, b, a, nin, 1e-3);
            free(a), free(b);
        }
        for (int i = 0; i < nt; i++) {
            mc_tensor_info ti;
            REQUIRE_OK(mc_net_tensor_info(nc, i, &ti));
            if (!ti.trainable) continue;
            float *a = malloc(ti.numel * sizeof(float)), *b = malloc(ti.numel * sizeof(float));
            REQUIRE_OK(mc_net_tensor_grad(nc, i, a));
            REQUIRE_OK(mc_net_tensor_grad(ng, i, b));
            snprintf(what, sizeof what, "%s (frozen %d) step %d: gradient of %s", label, frozen, step, ti.name);
            same(what, b, a, ti.numel, 1e-3);
            free(a), free(b);
        }
        REQUIRE_OK(mc_net_step(nc, opt));
        REQUIRE_OK(mc_net_step(ng, opt));
        free(x), free(t), free(m);
    }
    for (int i = 0; i < nt; i++) { /* parameters and running statistics after three updates */
        mc_tensor_info ti;
        REQUIRE_OK(mc_net_tensor_info(nc, i, &ti));
        float *a = malloc(ti.numel * sizeof(float)), *b = malloc(ti.numel * sizeof(float));
        REQUIRE_OK(mc_net_tensor_get(nc, i, a));
        REQUIRE_OK(mc_net_tensor_get(ng, i, b));
        snprintf(what, sizeof what, "%s (frozen %d) after 3 steps: %s", label, frozen, ti.name);
        same(what, b, a, ti.numel, 1e-3);
        free(a), free(b);
    }
    /* evaluation mode: running statistics */
    mc_net_set_train(nc, 0);
    mc_net_set_train(ng, 0);
    REQUIRE_OK(mc_net_forward(nc));
    REQUIRE_OK(mc_net_forward(ng));
    size_t no = (size_t)B * nout;
    float *a = malloc(no * sizeof(float)), *b = malloc(no * sizeof(float));
    REQUIRE_OK(mc_net_get_output(nc, -1, a));
    REQUIRE_OK(mc_net_get_output(ng, -1, b));
    snprintf(what, sizeof what, "%s (frozen %d): evaluation-mode output", label, frozen);
    same(what, b, a, no, 1e-3);
    free(a), free(b);
    mc_net_free(nc);
    mc_net_free(ng);
}

/* ---- the colour transfer's objective (issue 15): VGG19 at 64x64 with the same seeded weights on
 * both backends, f and the image gradient with every term (masked Grams as GEMMs, the swap's
 * correlation and paste as convolutions, backward from six taps) within 1e-4; the swap indices
 * identical (float32 correlations on both sides: a near-tie would show here as a difference) */
static void transfer_case(void) {
    const char *set[] = {"net.width=64", "net.height=64", NULL};
    mc_net_opts oc = {.batch = 1, .seed = 5, .set = set}, og = oc;
    og.backend = MC_BACKEND_CUDA;
    mc_net *nc, *ng;
    REQUIRE_OK(mc_net_from_cfg(&nc, "cfg/vgg19.cfg", &oc));
    REQUIRE_OK(mc_net_from_cfg(&ng, "cfg/vgg19.cfg", &og));
    share_params(nc, &ng, 1, 0);
    enum { N = 64, NP = N * N };
    static uint8_t t[NP * 3], r[NP * 3];
    static double x[3 * NP], gc[3 * NP], gg[3 * NP];
    for (int i = 0; i < NP; i++) {
        int y = i / N, xx = i % N;
        uint8_t v = (uint8_t)(40 + 150 * (((y - 32) * (y - 32) + (xx - 28) * (xx - 28)) < 400) + (i * 37 % 17));
        t[i * 3] = t[i * 3 + 1] = t[i * 3 + 2] = v;
        r[i * 3] = (uint8_t)(v / 2 + 100);
        r[i * 3 + 1] = (uint8_t)(v * 3 / 4);
        r[i * 3 + 2] = (uint8_t)(255 - v);
    }
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < NP; i++) x[c * NP + i] = t[i * 3 + c] + (i * 13 + c * 7) % 21 - 10;
    mc_tr_obj *oc_, *og_;
    mc_tr_setup st = {.kmeans = 4, .vgg_input = MC_VGG_CAFFE};
    REQUIRE_OK(mc_tr_obj_new(&oc_, nc, t, r, N, &st));
    REQUIRE_OK(mc_tr_obj_new(&og_, ng, t, r, N, &st));
    mc_tr_weights w;
    mc_tr_weights_default(&w);
    double fc, fg;
    mc_tr_terms tc, tg;
    REQUIRE_OK(mc_tr_obj_eval(oc_, &w, x, &fc, gc, &tc));
    REQUIRE_OK(mc_tr_obj_eval(og_, &w, x, &fg, gg, &tg));
    CHECK(fabs(fg - fc) <= 1e-4 * fabs(fc), "transfer objective: GPU %.9g, CPU %.9g", fg, fc);
    CHECK(fabs(tg.color - tc.color) <= 1e-4 * fabs(tc.color) && fabs(tg.swap - tc.swap) <= 1e-4 * fabs(tc.swap) &&
              fabs(tg.content - tc.content) <= 1e-4 * fabs(tc.content),
          "transfer terms: GPU content %g color %g swap %g, CPU %g %g %g", tg.content, tg.color, tg.swap, tc.content,
          tc.color, tc.swap);
    double gm = 0, ge = 0;
    for (int i = 0; i < 3 * NP; i++) {
        if (fabs(gc[i]) > gm) gm = fabs(gc[i]);
        if (fabs(gg[i] - gc[i]) > ge) ge = fabs(gg[i] - gc[i]);
    }
    CHECK(gm > 0 && ge <= 1e-4 * gm, "transfer gradient: max error %.3g of %.3g", ge, gm);
    for (int tp = MC_TAP_RELU3_1; tp < MC_NTAPS; tp++) {
        if (tp == MC_TAP_RELU4_2) continue;
        const float *s1, *s2;
        const int *i1, *i2;
        int c, h, ww;
        REQUIRE_OK(mc_tr_obj_swap(oc_, tp, &s1, &i1));
        REQUIRE_OK(mc_tr_obj_swap(og_, tp, &s2, &i2));
        mc_tr_obj_tap_shape(oc_, tp, &c, &h, &ww);
        int diff = 0;
        for (int i = 0; i < h * ww; i++) diff += i1[i] != i2[i];
        CHECK(diff == 0, "transfer swap indices at %s: %d of %d differ", mc_tr_tap_layer(tp), diff, h * ww);
    }
    printf("  transfer objective 64x64: f rel %.2e, gradient %.2e of max\n", fabs(fg - fc) / fabs(fc), ge / gm);
    mc_tr_obj_free(oc_);
    mc_tr_obj_free(og_);
    mc_net_free(nc);
    mc_net_free(ng);
}

/* ---- issue 14's networks (cfg/colorize/, spec check 14 with check 3): the autoencoder and the
 * two ResNet U-Nets at 64x64, batch 2, the same seeded weights and perturbed running statistics
 * on both backends. Eval-mode output and train-mode masked-MSE loss and output within 1e-4 of
 * scale. dL/dx and the gradients (||d|| / ||g|| per tensor, the median and the worst tensor)
 * within max(1e-4, 10 x the CPU's own sensitivity): how far the CPU's result moves when the
 * input moves by 1e-6 relative (float rounding of the input, ~8 ulp), measured here. The first
 * GPU run of this case (H200, 2026-12-04) showed why a fixed 1e-4 cannot hold on the U-Nets:
 * train-mode BatchNorm at batch 2 down to 2x2 pixels (8 values a channel) amplifies any
 * rounding difference, GPU-CPU medians 2e-3 (ResNet-18) and 1e-2 (ResNet-34) while the eval
 * output and the loss agreed to 3e-7 and 8e-8; the CPU float32 run itself lands up to 1.6e-2
 * from PyTorch float64 there (tests/test_networks.c). The sensitivity makes the limit follow
 * the conditioning of the very network and input compared, printed beside each result. */
static double nrel_of(const float *g, const float *c, size_t n, double *maxrel) {
    double d2 = 0, c2 = 0, dm = 0, cm = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)g[i] - (double)c[i];
        d2 += d * d, c2 += (double)c[i] * (double)c[i];
        dm = fmax(dm, fabs(d)), cm = fmax(cm, fabs((double)c[i]));
    }
    if (maxrel) *maxrel = cm > 0 ? dm / cm : dm;
    return c2 > 0 ? sqrt(d2 / c2) : sqrt(d2);
}

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* the trainable gradients of a net, concatenated; the tensor count in *ng, sizes in sz */
static float **grads_of(mc_net *n, int *ng, size_t **sz, const char ***names) {
    int nt = mc_net_num_tensors(n), k = 0;
    float **g = calloc(nt, sizeof *g);
    *sz = calloc(nt, sizeof **sz);
    *names = calloc(nt, sizeof **names);
    for (int i = 0; i < nt; i++) {
        mc_tensor_info ti;
        REQUIRE_OK(mc_net_tensor_info(n, i, &ti));
        if (!ti.trainable) continue;
        g[k] = malloc(ti.numel * sizeof(float));
        REQUIRE_OK(mc_net_tensor_grad(n, i, g[k]));
        (*sz)[k] = ti.numel, (*names)[k] = ti.name;
        k++;
    }
    *ng = k;
    return g;
}

/* median and worst of the per-tensor ||d|| / ||g|| between gradient sets a (tested) and c */
static void grad_spread(float **a, float **c, const size_t *sz, int n, const char **names, double *med,
                        double *worst, const char **worst_name) {
    double *nr = malloc((n ? n : 1) * sizeof(double));
    *worst = 0, *worst_name = "";
    for (int i = 0; i < n; i++) {
        nr[i] = nrel_of(a[i], c[i], sz[i], NULL);
        if (nr[i] > *worst) *worst = nr[i], *worst_name = names[i];
    }
    qsort(nr, n, sizeof *nr, cmp_dbl);
    *med = n ? nr[n / 2] : 0;
    free(nr);
}

static void colorize_case(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "cfg/colorize/%s.cfg", name);
    const char *set[] = {"net.width=64", "net.height=64", NULL};
    mc_net_opts oc = {.batch = 2, .seed = 21, .set = set}, og = oc;
    og.backend = MC_BACKEND_CUDA;
    mc_net *nc, *ng, *np; /* CPU, GPU, CPU on the perturbed input */
    REQUIRE_OK(mc_net_from_cfg(&nc, path, &oc));
    REQUIRE_OK(mc_net_from_cfg(&ng, path, &og));
    REQUIRE_OK(mc_net_from_cfg(&np, path, &oc));
    mc_net *const copies[2] = {ng, np}; /* same weights; running statistics perturbed (eval mode uses them) */
    share_params(nc, copies, 2, 1);
    int ic, ih, iw, nout = mc_net_num_outputs(nc), B = mc_net_batch(nc);
    mc_net_input_shape(nc, &ic, &ih, &iw);
    size_t nin = (size_t)B * ic * ih * iw, no = (size_t)B * nout;
    float *x = rnd(nin, -1, 1), *t = rnd(no, -0.5f, 0.5f), *m = rnd(no, 0, 1), *x2 = malloc(nin * sizeof(float));
    for (size_t i = 0; i < no; i++) m[i] = m[i] < 0.2f ? 0.0f : 1.0f;
    for (size_t i = 0; i < nin; i++) x2[i] = x[i] * (float)(1 + 1e-6 * (2 * mc_rng_uniform(&rng) - 1));
    float *a = malloc(no * sizeof(float)), *b = malloc(no * sizeof(float));
    mc_net *nets[3] = {nc, ng, np};
    for (int k = 0; k < 2; k++) { /* eval mode */
        mc_net_set_train(nets[k], 0);
        REQUIRE_OK(mc_net_set_input(nets[k], x));
        REQUIRE_OK(mc_net_forward(nets[k]));
    }
    REQUIRE_OK(mc_net_get_output(nc, -1, a));
    REQUIRE_OK(mc_net_get_output(ng, -1, b));
    double e_eval;
    nrel_of(b, a, no, &e_eval);
    CHECK(e_eval <= 1e-4, "%s: eval output: GPU-CPU %.3g of scale > 1e-4", name, e_eval);
    for (int k = 0; k < 3; k++) { /* train mode: batch statistics, loss, gradients */
        mc_net_set_train(nets[k], 1);
        mc_net_want_input_grad(nets[k], 1);
        REQUIRE_OK(mc_net_set_input(nets[k], k == 2 ? x2 : x));
        REQUIRE_OK(mc_net_set_truth(nets[k], t, m));
        REQUIRE_OK(mc_net_zero_grad(nets[k]));
        REQUIRE_OK(mc_net_forward(nets[k]));
        REQUIRE_OK(mc_net_backward(nets[k]));
    }
    double lc = mc_net_loss(nc), lg = mc_net_loss(ng);
    CHECK(fabs(lg - lc) <= 1e-4 * fabs(lc), "%s: train loss GPU %.9g, CPU %.9g", name, lg, lc);
    REQUIRE_OK(mc_net_get_output(nc, -1, a));
    REQUIRE_OK(mc_net_get_output(ng, -1, b));
    double e_out;
    nrel_of(b, a, no, &e_out);
    CHECK(e_out <= 1e-4, "%s: train-mode output: GPU-CPU %.3g of scale > 1e-4", name, e_out);
    float *dxc = malloc(nin * sizeof(float)), *dxg = malloc(nin * sizeof(float)), *dxp = malloc(nin * sizeof(float));
    REQUIRE_OK(mc_net_get_input_grad(nc, dxc));
    REQUIRE_OK(mc_net_get_input_grad(ng, dxg));
    REQUIRE_OK(mc_net_get_input_grad(np, dxp));
    double dx_nrel = nrel_of(dxg, dxc, nin, NULL), dx_sens = nrel_of(dxp, dxc, nin, NULL);
    int n1, n2, n3;
    size_t *sz1, *sz2, *sz3;
    const char **nm1, **nm2, **nm3, *worst_name, *sworst_name;
    float **gc = grads_of(nc, &n1, &sz1, &nm1), **gg = grads_of(ng, &n2, &sz2, &nm2), **gp = grads_of(np, &n3, &sz3, &nm3);
    REQUIRE(n1 == n2 && n1 == n3, "same trainable tensors");
    double med, worst, smed, sworst;
    grad_spread(gg, gc, sz1, n1, nm1, &med, &worst, &worst_name);
    grad_spread(gp, gc, sz1, n1, nm1, &smed, &sworst, &sworst_name);
    const double K = 10, tdx = fmax(1e-4, K * dx_sens), tmed = fmax(1e-4, K * smed), tworst = fmax(1e-4, K * sworst);
    CHECK(dx_nrel <= tdx, "%s: dL/dx GPU-CPU ||d||/||g|| %.3g > %.3g (10 x the CPU's sensitivity %.3g)", name, dx_nrel,
          tdx, dx_sens);
    CHECK(med <= tmed, "%s: median gradient GPU-CPU ||d||/||g|| %.3g > %.3g (10 x the CPU's sensitivity %.3g)", name,
          med, tmed, smed);
    CHECK(worst <= tworst, "%s: worst gradient (%s) GPU-CPU ||d||/||g|| %.3g > %.3g (10 x the worst sensitivity %.3g, %s)",
          name, worst_name, worst, tworst, sworst, sworst_name);
    printf("  %-15s eval out %.2e, train out %.2e, loss rel %.2e; GPU-CPU (CPU sensitivity to a 1e-6 input change): "
           "dL/dx %.2e (%.2e), %d gradients median %.2e (%.2e), worst %.2e %s (%.2e %s)\n",
           name, e_eval, e_out, fabs(lg - lc) / fabs(lc), dx_nrel, dx_sens, n1, med, smed, worst, worst_name, sworst,
           sworst_name);
    for (int i = 0; i < n1; i++) free(gc[i]), free(gg[i]), free(gp[i]);
    free(gc), free(gg), free(gp), free(sz1), free(sz2), free(sz3), free(nm1), free(nm2), free(nm3);
    free(dxc), free(dxg), free(dxp), free(a), free(b), free(x), free(x2), free(t), free(m);
    mc_net_free(nc);
    mc_net_free(ng);
    mc_net_free(np);
}

/* ---- Grad-CAM (issue 16, `medcolor explain`): resnet18-pixelshuffle at 64x64, batch 2, the same
 * seeded weights and perturbed running statistics on both backends, eval mode, two labels.
 * At the default layer (layer4: the gradient from the logits crosses only the pooling and the
 * head) mc_gradcam's cam within 1e-4 of its scale and the heatmap within 1e-4 absolute (the
 * CPU's criterion against PyTorch, tests/test_explain.c). At T's last residual block the
 * gradient crosses all of ResNet18's ReLUs and max-pools, where float32 results are
 * ill-conditioned (tests/test_explain.c measured PyTorch's own float32 2e-3 from float64):
 * mc_net_layer_grad's dy/dA and the heatmap as ||d|| / ||cpu|| within max(1e-4, 10 x the CPU's
 * own sensitivity), how far the CPU's result moves when the input moves by 1e-6 relative. */
static double gc_nrel(const float *a, const float *b, size_t n) {
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)a[i] - (double)b[i];
        d += e * e, m += (double)b[i] * (double)b[i];
    }
    return sqrt(d) / (m > 0 ? sqrt(m) : 1);
}

static void gradcam_case(void) {
    const char *set[] = {"net.width=64", "net.height=64", NULL};
    mc_net_opts oc = {.batch = 2, .seed = 16, .set = set}, og = oc;
    og.backend = MC_BACKEND_CUDA;
    mc_net *nc, *ng;
    REQUIRE_OK(mc_net_from_cfg(&nc, "cfg/resnet18-pixelshuffle.cfg", &oc));
    REQUIRE_OK(mc_net_from_cfg(&ng, "cfg/resnet18-pixelshuffle.cfg", &og));
    share_params(nc, &ng, 1, 1);
    int ic, H, W;
    mc_net_input_shape(nc, &ic, &H, &W);
    const int nout = mc_net_num_outputs(nc), L = mc_explain_logit_layer(nc), labels[2] = {1, 3};
    const size_t nin = (size_t)2 * ic * H * W;
    float *x = rnd(nin, -1.5f, 1.5f), *x2 = malloc(nin * sizeof(float));
    for (size_t i = 0; i < nin; i++) x2[i] = x[i] * (float)(1 + 1e-6 * (2 * mc_rng_uniform(&rng) - 1));
    const char *layers[2] = {NULL, "color.res.7"};
    for (int k = 0; k < 2; k++) {
        int layer, C, h, w;
        REQUIRE_OK(mc_explain_layer(nc, layers[k], &layer));
        mc_net_layer_shape(nc, layer, &C, &h, &w);
        const size_t na = (size_t)2 * C * h * w, ncm = (size_t)2 * 2 * h * w, nh = (size_t)2 * 2 * H * W;
        float *cc = malloc(ncm * sizeof(float)), *cg = malloc(ncm * sizeof(float)), *hc = malloc(nh * sizeof(float)),
              *hg = malloc(nh * sizeof(float)), *hp = malloc(nh * sizeof(float)), *gc = malloc(na * sizeof(float)),
              *gg = malloc(na * sizeof(float)), *gp = malloc(na * sizeof(float)),
              *dy = calloc((size_t)2 * nout, sizeof(float));
        REQUIRE(cc && cg && hc && hg && hp && gc && gg && gp && dy, "oom");
        dy[labels[1]] = dy[nout + labels[1]] = 1.0f;
        const float *dyp = dy;
        REQUIRE_OK(mc_gradcam(nc, x2, layer, labels, 2, NULL, cc, hp)); /* the CPU at the moved input */
        REQUIRE_OK(mc_net_layer_grad(nc, 1, &L, &dyp, layer, gp));
        REQUIRE_OK(mc_gradcam(nc, x, layer, labels, 2, NULL, cc, hc));
        REQUIRE_OK(mc_net_layer_grad(nc, 1, &L, &dyp, layer, gc));
        REQUIRE_OK(mc_gradcam(ng, x, layer, labels, 2, NULL, cg, hg));
        REQUIRE_OK(mc_net_layer_grad(ng, 1, &L, &dyp, layer, gg));
        double eh = 0;
        for (size_t i = 0; i < nh; i++) eh = fmax(eh, fabs((double)hg[i] - (double)hc[i]));
        double ng_ = gc_nrel(gg, gc, na), nh_ = gc_nrel(hg, hc, nh), sg = gc_nrel(gp, gc, na), sh = gc_nrel(hp, hc, nh);
        if (k == 0) {
            same("Grad-CAM cam at the default layer", cg, cc, ncm, 1e-4);
            CHECK(eh <= 1e-4, "Grad-CAM heatmap at %s: GPU-CPU %.3g", mc_net_layer_name(nc, layer), eh);
        } else {
            CHECK(ng_ <= fmax(1e-4, 10 * sg), "Grad-CAM dy/dA at %s: GPU-CPU ||d||/||g|| %.3g, the CPU's sensitivity %.3g",
                  mc_net_layer_name(nc, layer), ng_, sg);
            CHECK(nh_ <= fmax(1e-4, 10 * sh), "Grad-CAM heatmap at %s: GPU-CPU ||d||/||h|| %.3g, the CPU's sensitivity %.3g",
                  mc_net_layer_name(nc, layer), nh_, sh);
        }
        printf("  Grad-CAM at %s (%d x %d x %d): heatmap GPU-CPU max %.2e, ||d||/||h|| %.2e (sensitivity %.2e); "
               "dy/dA %.2e (sensitivity %.2e)\n", mc_net_layer_name(nc, layer), C, h, w, eh, nh_, sh, ng_, sg);
        free(cc), free(cg), free(hc), free(hg), free(hp), free(gc), free(gg), free(gp), free(dy);
    }
    free(x);
    free(x2);
    mc_net_free(nc);
    mc_net_free(ng);
}

static void run_all(const char *label) {
    printf("test_gpu: %s\n", label);
    /* MC_GPU_CASE=gradcam: that case alone (a short device check of one feature) */
    const char *only = getenv("MC_GPU_CASE");
    if (only && !strcmp(only, "gradcam")) {
        gradcam_case();
        return;
    }
    test_memory();
    test_conv();
    test_bias();
    bn_case(4, 6, 50);
    bn_case(2, 3, 3);  /* m = 6: the unbiased running variance differs visibly from the biased */
    bn_case(7, 5, 1);  /* after a connected layer */
    bn_case(1, 2, 1);  /* m = 1 */
    bn_sync_case(4, 6, 50);
    bn_sync_case(2, 3, 3);
    test_pool();
    test_act();
    test_blas();
    test_copy_shuffle_pad();
    test_loss_sgd_finite();
    test_upsample();
    test_reg_loss();
    test_adam_rmsprop();
    mc_optimizer sgd, adam, rms;
    mc_optimizer_defaults(&sgd, MC_OPTIM_SGD);
    sgd.lr = 0.05, sgd.momentum = 0.9, sgd.weight_decay = 0.01, sgd.decoupled = 1;
    net_case(net_cfg, 0, 0, &sgd, "net (SGD)");
    net_case(net_cfg, 0, 1, &sgd, "net (SGD)");
    /* Adam and RMSprop divide by the gradient's running magnitude, so an element whose gradient is
     * float noise would move by a whole lr in a random direction: eps = 1e-3 keeps the update of
     * such elements at ~lr*|g|/eps, and lr stays small beside the weights' scale */
    mc_optimizer_defaults(&adam, MC_OPTIM_ADAM);
    adam.lr = 1e-3, adam.eps = 1e-3, adam.weight_decay = 0.01;
    mc_optimizer_defaults(&rms, MC_OPTIM_RMSPROP);
    rms.lr = 1e-3, rms.eps = 1e-3, rms.momentum = 0.9, rms.centered = 1, rms.weight_decay = 0.01, rms.decoupled = 1;
    net_case(dense_cfg, 1, 0, &adam, "dense net (Adam)");
    net_case(dense_cfg, 1, 1, &rms, "dense net (RMSprop centred, momentum)");
    transfer_case();
    gradcam_case();
    colorize_case("autoencoder");
    colorize_case("unet-resnet18");
    colorize_case("unet-resnet34");
}

int main(void) {
    conditioning();
    unsetenv("MEDCOLOR_TF32"); /* FP32 everywhere: the tolerances assume it */
    unsetenv("MEDCOLOR_CUDNN");
    mc_rng_seed(&rng, 3);
    REQUIRE_OK(mc_backend_cpu_create(&cpu, NULL));
    int rc = mc_backend_cuda_create(&gpu, 0);
    if (rc == MC_EUNSUP) {
        /* what can be checked without a GPU: the refusal is clear and the nets refuse too */
        CHECK(strstr(mc_errmsg(), "no usable CUDA GPU") && strstr(mc_errmsg(), "backend_cuda.cu:"),
              "no GPU: MC_EUNSUP with file:line and the runtime's message (%s)", mc_errmsg());
        mc_test_skip("test_gpu", "%s", mc_errmsg());
        mc_net *net = NULL;
        mc_net_opts o = {.backend = MC_BACKEND_CUDA};
        int r2 = mc_net_from_string(&net, net_cfg, "gpu.cfg", &o);
        CHECK(r2 == MC_EUNSUP, "a net on the CUDA backend without a GPU: MC_EUNSUP (got %d: %s)", r2, mc_errmsg());
        mc_net_free(r2 == MC_OK ? net : NULL);
        cpu->destroy(cpu);
        return mc_test_done("test_gpu");
    }
    REQUIRE(rc == MC_OK, "mc_backend_cuda_create: %d: %s", rc, mc_errmsg());
    mc_backend *bad = NULL;
    CHECK(mc_backend_cuda_create(&bad, 4096) == MC_EARG, "--gpu 4096 is refused: %s", mc_errmsg());
    CHECK(mc_backend_cuda_create(&bad, -1) == MC_EARG, "--gpu -1 is refused: %s", mc_errmsg());
#ifdef MC_CUDNN
    run_all("cuDNN");
    gpu->destroy(gpu);
    setenv("MEDCOLOR_CUDNN", "0", 1); /* the same with the own kernels */
    REQUIRE_OK(mc_backend_cuda_create(&gpu, 0));
    run_all("own kernels, im2col + cuBLAS convolution (MEDCOLOR_CUDNN=0)");
    unsetenv("MEDCOLOR_CUDNN");
#else
    run_all("own kernels, im2col + cuBLAS convolution (built without cuDNN)");
#endif
    gpu->destroy(gpu);
    cpu->destroy(cpu);
    return mc_test_done("test_gpu");
}
#endif
