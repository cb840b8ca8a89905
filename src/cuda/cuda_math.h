/* cuda_math.h — the per-element math of the CUDA backend, shared by the kernels (nvcc) and the
 * host tests (gcc).
 *
 * Every kernel of src/cuda/kernels.cu is a thin grid-stride loop around one of the
 * `static inline MC_HOST_DEVICE` functions below, which compute ONE output element (or one
 * channel's finishing step) exactly as src/cpu/backend_cpu.c does. tests/test_gpu_host.c runs the
 * same functions on the host over whole tensors and compares them with the CPU backend, so the
 * index math (pixel shuffle, replication padding, pooling windows, im2col / col2im), the
 * activation, optimiser and loss formulas, the GEMM operand mapping and the launch-size helper
 * are tested without a GPU.
 * What only a GPU can test is the launch itself and the block reductions.
 *
 * Layouts are the backend's (src/engine/backend.h): NCHW float32, flat indices are size_t.
 * Compiles as C11 (gcc, the project's warning flags) and as C++17 (nvcc).
 */
#ifndef MC_CUDA_MATH_H
#define MC_CUDA_MATH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#ifdef __cplusplus
extern "C" {
#endif
#include "engine/backend.h"
#ifdef __cplusplus
}
#endif

#ifdef __CUDACC__
#define MC_HOST_DEVICE __host__ __device__
#else
#define MC_HOST_DEVICE
#endif

/* A product that is rounded on its own, never fused with a following add into an FMA (nvcc
 * contracts a*b + c by default; the CPU backend's build has no FMA): the formulas below that use it
 * give the CPU backend's bits on the GPU too. */
#ifdef __CUDA_ARCH__
#define MC_FMUL(a, b) __fmul_rn((a), (b))
#else
#define MC_FMUL(a, b) ((a) * (b))
#endif

/* ---- launch sizes ----------------------------------------------------------------------- */
#define MC_CUDA_THREADS 256u      /* threads per block of every element-wise kernel */
#define MC_CUDA_MAX_BLOCKS 65535u /* grid cap; grid-stride loops cover the rest */
#define MC_CUDA_RED_BLOCKS 256u   /* blocks of the two-stage device reductions (loss) */

/* Blocks for n elements at `threads` per block: ceil(n / threads), at most max_blocks, 0 when
 * n is 0 (the caller then launches nothing: a 0-block launch is a CUDA error). */
static inline MC_HOST_DEVICE unsigned mc_cuda_blocks(size_t n, unsigned threads, unsigned max_blocks) {
    if (n == 0 || threads == 0) return 0;
    size_t b = (n - 1) / threads + 1;
    return b > max_blocks ? max_blocks : (unsigned)b;
}

/* ---- GEMM: row-major through column-major cuBLAS -----------------------------------------
 * Row-major C (m x n) = op(A) op(B) is, read column-major, C^T (n x m) = op(B)^T op(A)^T: the
 * column-major call takes B first, A second, swapped sizes and the same leading dimensions
 * (and strides, for strided-batched calls). The arguments of that call: */
typedef struct mc_gemm_cm {
    int ta, tb;        /* transpose the first / second operand */
    int m, n, k;       /* column-major sizes: C is m x n */
    const float *a, *b;
    int lda, ldb;
    long long sa, sb;  /* batch strides (floats) */
} mc_gemm_cm;

static inline MC_HOST_DEVICE mc_gemm_cm mc_gemm_rm_to_cm(int ta, int tb, int m, int n, int k, const float *a,
                                                         int lda, long long sa, const float *b, int ldb,
                                                         long long sb) {
    mc_gemm_cm g;
    g.ta = tb;
    g.tb = ta;
    g.m = n;
    g.n = m;
    g.k = k;
    g.a = b;
    g.lda = ldb;
    g.sa = sb;
    g.b = a;
    g.ldb = lda;
    g.sb = sa;
    return g;
}

/* ---- pixel shuffle ----------------------------------------------------------------------
 * y (n, c, h*r, w*r) <- x (n, c*r*r, h, w): y[n][ch][oy][ox] = x[n][ch*r*r + (oy%r)*r + ox%r][oy/r][ox/r].
 * Index in x of output element o (a bijection, so backward is the same map in reverse). */
static inline MC_HOST_DEVICE size_t mc_shuffle_src(size_t o, int h, int w, int r) {
    const size_t ow = (size_t)w * r, oh = (size_t)h * r;
    size_t ox = o % ow, t = o / ow;
    size_t oy = t % oh, nc = t / oh; /* nc = n*c + ch */
    size_t i = oy % (size_t)r, j = ox % (size_t)r;
    return ((nc * r * r + i * r + j) * h + oy / r) * w + ox / r;
}

/* ---- replication padding ----------------------------------------------------------------
 * y (n, c, h+t+b, w+l+r): y[..][oy][ox] = x[..][clamp(oy-t, 0, h-1)][clamp(ox-l, 0, w-1)]. */
static inline MC_HOST_DEVICE int mc_clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

static inline MC_HOST_DEVICE size_t mc_pad_src(size_t o, int h, int w, int l, int r, int t, int b) {
    const size_t ow = (size_t)w + l + r, oh = (size_t)h + t + b;
    int ox = (int)(o % ow), oy = (int)((o / ow) % oh);
    size_t nc = o / ow / oh;
    return (nc * h + (size_t)mc_clampi(oy - t, 0, h - 1)) * w + (size_t)mc_clampi(ox - l, 0, w - 1);
}

/* The output positions [*lo, *hi] along one axis that replicate input position i (of n_in,
 * `before` added in front, n_out in all): the edges collect the padding. */
static inline MC_HOST_DEVICE void mc_pad_range(int i, int n_in, int before, int n_out, int *lo, int *hi) {
    *lo = i == 0 ? 0 : i + before;
    *hi = i == n_in - 1 ? n_out - 1 : i + before;
}

/* dx element e (of x's shape) = sum of dy over the outputs that replicate it, + beta*dx,
 * summed in the CPU backend's scan order. */
static inline MC_HOST_DEVICE float mc_pad_bwd_elem(size_t e, int h, int w, int l, int r, int t, int b,
                                                   const float *dy, float beta, const float *dx) {
    const int oh = h + t + b, ow = w + l + r;
    int ix = (int)(e % (size_t)w), iy = (int)((e / (size_t)w) % (size_t)h);
    size_t nc = e / (size_t)w / (size_t)h;
    const float *g = dy + nc * (size_t)oh * ow;
    int y0, y1, x0, x1;
    mc_pad_range(iy, h, t, oh, &y0, &y1);
    mc_pad_range(ix, w, l, ow, &x0, &x1);
    float v = beta == 0.0f ? 0.0f : beta * dx[e];
    for (int oy = y0; oy <= y1; oy++)
        for (int ox = x0; ox <= x1; ox++) v += g[(size_t)oy * ow + ox];
    return v;
}

/* ---- pooling ----------------------------------------------------------------------------
 * Window of output (oy, ox), clipped to the image: rows [*y0, *y1), cols [*x0, *x1). */
static inline MC_HOST_DEVICE void mc_pool_window(const mc_pool_desc *d, int oy, int ox, int *y0, int *y1,
                                                 int *x0, int *x1) {
    int a = oy * d->sh - d->pt, c = ox * d->sw - d->pl;
    *y0 = a < 0 ? 0 : a;
    *y1 = a + d->kh > d->h ? d->h : a + d->kh;
    *x0 = c < 0 ? 0 : c;
    *x1 = c + d->kw > d->w ? d->w : c + d->kw;
}

/* Index (in the plane) that the max of window (oy, ox) takes: PyTorch's CPU rule as in the CPU
 * backend — the first maximum in scan order, a NaN wins (the last NaN), the window's first
 * element when all are -inf; -1 for an empty window. */
static inline MC_HOST_DEVICE long mc_pool_argmax(const mc_pool_desc *d, const float *xp, int oy, int ox) {
    int y0, y1, x0, x1;
    mc_pool_window(d, oy, ox, &y0, &y1, &x0, &x1);
    if (y0 >= y1 || x0 >= x1) return -1;
    float m = -INFINITY;
    long best = (long)y0 * d->w + x0;
    for (int iy = y0; iy < y1; iy++)
        for (int ix = x0; ix < x1; ix++) {
            float v = xp[(size_t)iy * d->w + ix];
            if (v > m || isnan(v)) {
                m = v;
                best = (long)iy * d->w + ix;
            }
        }
    return best;
}

/* y element o of (n, c, oh, ow) */
static inline MC_HOST_DEVICE float mc_pool_fwd_elem(const mc_pool_desc *d, const float *x, size_t o) {
    int ox = (int)(o % (size_t)d->ow), oy = (int)((o / (size_t)d->ow) % (size_t)d->oh);
    size_t nc = o / (size_t)d->ow / (size_t)d->oh;
    const float *xp = x + nc * (size_t)d->h * d->w;
    int y0, y1, x0, x1;
    mc_pool_window(d, oy, ox, &y0, &y1, &x0, &x1);
    if (d->mode == MC_POOL_MAX) {
        float m = -INFINITY;
        for (int iy = y0; iy < y1; iy++)
            for (int ix = x0; ix < x1; ix++) {
                float v = xp[(size_t)iy * d->w + ix];
                if (v > m || isnan(v)) m = v;
            }
        return m;
    }
    float s = 0.0f;
    for (int iy = y0; iy < y1; iy++)
        for (int ix = x0; ix < x1; ix++) s += xp[(size_t)iy * d->w + ix];
    return s * (1.0f / (float)(d->kh * d->kw)); /* count_include_pad: always kh*kw */
}

/* The outputs [*lo, *hi] along one axis whose windows (start o*s - p, size k, n_out outputs)
 * contain input position i; *lo > *hi when none does. */
static inline MC_HOST_DEVICE void mc_pool_out_range(int i, int k, int s, int p, int n_out, int *lo, int *hi) {
    int a = i + p - k + 1; /* o*s >= a */
    *lo = a <= 0 ? 0 : (a + s - 1) / s;
    *hi = (i + p) / s;
    if (*hi > n_out - 1) *hi = n_out - 1;
}

/* dx element e of (n, c, h, w): beta*dx + the gradients of every window that takes it (max)
 * or contains it (avg), windows visited in the CPU backend's order (gather: no atomics), so
 * the sums are bit-identical to it: max scans the windows row by row, left to right; avg goes
 * tap by tap (window column j ascending), which reaches the windows of one row right to left. */
static inline MC_HOST_DEVICE float mc_pool_bwd_elem(const mc_pool_desc *d, const float *x, const float *dy,
                                                    float beta, const float *dx, size_t e) {
    int ix = (int)(e % (size_t)d->w), iy = (int)((e / (size_t)d->w) % (size_t)d->h);
    size_t nc = e / (size_t)d->w / (size_t)d->h;
    const float *xp = x + nc * (size_t)d->h * d->w;
    const float *gp = dy + nc * (size_t)d->oh * d->ow;
    int oy0, oy1, ox0, ox1;
    mc_pool_out_range(iy, d->kh, d->sh, d->pt, d->oh, &oy0, &oy1);
    mc_pool_out_range(ix, d->kw, d->sw, d->pl, d->ow, &ox0, &ox1);
    const long me = (long)iy * d->w + ix;
    const float inv = 1.0f / (float)(d->kh * d->kw);
    float v = beta == 0.0f ? 0.0f : beta * dx[e];
    for (int oy = oy0; oy <= oy1; oy++) {
        const float *g = gp + (size_t)oy * d->ow;
        if (d->mode == MC_POOL_MAX) {
            for (int ox = ox0; ox <= ox1; ox++)
                if (mc_pool_argmax(d, xp, oy, ox) == me) v += g[ox];
        } else {
            for (int ox = ox1; ox >= ox0; ox--) v += g[ox] * inv;
        }
    }
    return v;
}

/* ---- activations (the derivative from y, as the CPU backend) ---------------------------- */
static inline MC_HOST_DEVICE float mc_act_fwd1(int type, float a, float b, float x) {
    switch (type) {
    case MC_ACT_RELU: return x > 0.0f ? x : 0.0f;
    case MC_ACT_LEAKY: return x > 0.0f ? x : x * a;
    case MC_ACT_LOGISTIC: return 1.0f / (1.0f + expf(-x));
    case MC_ACT_HARDTANH: return x < a ? a : (x > b ? b : x);
    case MC_ACT_TANH: return tanhf(x);
    default: return x; /* MC_ACT_LINEAR */
    }
}

static inline MC_HOST_DEVICE float mc_act_bwd1(int type, float a, float b, float y, float dy) {
    switch (type) {
    case MC_ACT_RELU: return y > 0.0f ? dy : 0.0f;
    case MC_ACT_LEAKY: return y > 0.0f ? dy : dy * a;
    case MC_ACT_LOGISTIC: return dy * (1.0f - y) * y;
    case MC_ACT_HARDTANH: return (y > a && y < b) ? dy : 0.0f;
    case MC_ACT_TANH: return dy * (1.0f - y * y);
    default: return dy;
    }
}

static inline MC_HOST_DEVICE int mc_act_known(int type) {
    return type == MC_ACT_LINEAR || type == MC_ACT_RELU || type == MC_ACT_LEAKY ||
           type == MC_ACT_LOGISTIC || type == MC_ACT_HARDTANH || type == MC_ACT_TANH;
}

/* out = v + beta*out, beta 0 overwriting (so NaN garbage never leaks in) */
static inline MC_HOST_DEVICE float mc_blend(float v, float beta, float out) {
    return beta == 0.0f ? v : v + beta * out;
}

/* ---- convolution fallback (no cuDNN): im2col over all groups of one image ----------------
 * col[(ci*kh + i)*kw + j][oy*ow + ox] = x[ci][oy*sh - ph + i][ox*sw - pw + j] (0 outside),
 * ci over all c channels, so group g's block starts at row g*(c/groups)*kh*kw. */
static inline MC_HOST_DEVICE float mc_im2col_elem(const mc_conv_desc *d, const float *x, size_t e) {
    const size_t ohw = (size_t)d->oh * d->ow;
    int ox = (int)(e % ohw % (size_t)d->ow), oy = (int)(e % ohw / (size_t)d->ow);
    size_t row = e / ohw;
    int j = (int)(row % (size_t)d->kw), i = (int)(row / (size_t)d->kw % (size_t)d->kh);
    size_t ci = row / ((size_t)d->kw * d->kh);
    int iy = oy * d->sh - d->ph + i, ix = ox * d->sw - d->pw + j;
    if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w) return 0.0f;
    return x[(ci * d->h + (size_t)iy) * d->w + ix];
}

/* The adjoint: x element e (of one image's (c, h, w)) = beta*x + the sum of the col entries
 * that im2col copied from it, in the CPU backend's (i, j) order. */
static inline MC_HOST_DEVICE float mc_col2im_elem(const mc_conv_desc *d, const float *col, float beta,
                                                  const float *x, size_t e) {
    const size_t ohw = (size_t)d->oh * d->ow;
    int ix = (int)(e % (size_t)d->w), iy = (int)(e / (size_t)d->w % (size_t)d->h);
    size_t ci = e / ((size_t)d->w * d->h);
    float v = beta == 0.0f ? 0.0f : beta * x[e];
    for (int i = 0; i < d->kh; i++) {
        int ty = iy + d->ph - i;
        if (ty < 0 || ty % d->sh) continue;
        int oy = ty / d->sh;
        if (oy >= d->oh) continue;
        for (int j = 0; j < d->kw; j++) {
            int tx = ix + d->pw - j;
            if (tx < 0 || tx % d->sw) continue;
            int ox = tx / d->sw;
            if (ox >= d->ow) continue;
            v += col[((ci * d->kh + (size_t)i) * d->kw + (size_t)j) * ohw + (size_t)oy * d->ow + ox];
        }
    }
    return v;
}

/* 1x1, stride 1, no padding: the input is its own column matrix (no workspace) */
static inline MC_HOST_DEVICE int mc_conv_is_direct(const mc_conv_desc *d) {
    return d->kh == 1 && d->kw == 1 && d->sh == 1 && d->sw == 1 && d->ph == 0 && d->pw == 0;
}

/* floats of fallback workspace: one image's column matrix over all groups */
static inline MC_HOST_DEVICE size_t mc_conv_fallback_ws(const mc_conv_desc *d) {
    if (mc_conv_is_direct(d)) return 0;
    return (size_t)d->c * d->kh * d->kw * d->oh * d->ow;
}

/* ---- batch norm -------------------------------------------------------------------------
 * Element j (0 <= j < n*hw) of channel ch in x (n, c, hw). */
static inline MC_HOST_DEVICE size_t mc_bn_index(size_t j, int ch, int c, int hw) {
    return ((j / (size_t)hw) * c + (size_t)ch) * hw + j % (size_t)hw;
}

/* A channel's finishing step in training: from the sums over its m elements (s = sum x,
 * ss = sum (x - mean)^2 with mean = s/m) the saved mean and 1/sqrt(var + eps) (biased
 * variance) and, when update, the running statistics (unbiased variance, momentum); the
 * unrounded mean and 1/sqrt(var + eps) in *mean_d, *invstd_d for the normalisation. */
static inline MC_HOST_DEVICE void mc_bn_finish(double s, double ss, double m, float eps, float momentum,
                                               int update, float *save_mean, float *save_invstd,
                                               float *rmean, float *rvar, double *mean_d,
                                               double *invstd_d) {
    double mean = s / m, var = ss / m, invstd = 1.0 / sqrt(var + (double)eps);
    *save_mean = (float)mean;
    *save_invstd = (float)invstd;
    *mean_d = mean;
    *invstd_d = invstd;
    if (update) {
        double unbiased = m > 1 ? ss / (m - 1) : var, mo = (double)momentum;
        *rmean = (float)((1.0 - mo) * (double)*rmean + mo * mean);
        *rvar = (float)((1.0 - mo) * (double)*rvar + mo * unbiased);
    }
}

/* y = x*a + b with the channel's a = gamma*invstd, b = bias - mean*gamma*invstd */
static inline MC_HOST_DEVICE void mc_bn_affine(float gamma, float bias, double mean, double invstd, float *a,
                                               float *b) {
    *a = (float)((double)gamma * invstd);
    *b = (float)((double)bias - mean * (double)gamma * invstd);
}

/* inference: from the running statistics */
static inline MC_HOST_DEVICE void mc_bn_infer_affine(float gamma, float bias, float rmean, float rvar,
                                                     float eps, float *a, float *b) {
    mc_bn_affine(gamma, bias, (double)rmean, 1.0 / sqrt((double)rvar + (double)eps), a, b);
}

/* training backward: dx = gamma*invstd * (dy - mean(dy) - xhat * mean(dy*xhat)), with
 * k = gamma*invstd, mdy = sum(dy)/m, mdg = sum(dy*xhat)/m */
static inline MC_HOST_DEVICE float mc_bn_bwd_dx(float x, float dy, double mean, double invstd, double k,
                                                double mdy, double mdg) {
    double xhat = ((double)x - mean) * invstd;
    return (float)(k * ((double)dy - mdy - xhat * mdg));
}

/* ---- loss and optimiser -----------------------------------------------------------------
 * BCE with logits of one entry: max(z,0) - z*t + log(1 + exp(-|z|)) (stable for any z). */
static inline MC_HOST_DEVICE double mc_bce1(float z, float t) {
    double zi = (double)z;
    return (zi > 0 ? zi : 0.0) - zi * (double)t + log1p(exp(-fabs(zi)));
}

static inline MC_HOST_DEVICE float mc_sigmoidf(float z) { return 1.0f / (1.0f + expf(-z)); }

/* dz = beta*dz + scale*mask*(prob - t) */
static inline MC_HOST_DEVICE float mc_bce_grad1(float prob, float t, float m, float scale, float beta, float dz) {
    return mc_blend(scale * m * (prob - t), beta, dz);
}

/* The host side of the loss: from the device's sums (masked loss, mask count) to the
 * backend's *loss and *count (loss 0 when nothing counts). */
static inline MC_HOST_DEVICE void mc_bce_finish(double sum, double cnt, double *loss, double *count) {
    *loss = cnt > 0 ? sum / cnt : 0.0;
    *count = cnt;
}

/* SGD with momentum (PyTorch): g' = g + l2*w; v = mom*v + g'; w = w*shrink - lr*v, with
 * l2 = decoupled ? 0 : wd and shrink = decoupled ? 1 - lr*wd : 1 (mc_sgd_coef). */
static inline MC_HOST_DEVICE void mc_sgd_coef(float lr, float wd, int decoupled, float *l2, float *shrink) {
    *l2 = decoupled ? 0.0f : wd;
    *shrink = decoupled ? 1.0f - lr * wd : 1.0f;
}

static inline MC_HOST_DEVICE void mc_sgd1(float *w, float g, float *v, float lr, float momentum, float l2,
                                          float shrink) {
    float gi = g + l2 * *w;
    float vi = momentum * *v + gi;
    *v = vi;
    *w = *w * shrink - lr * vi;
}

/* ---- upsampling by an integer factor f (backend.h) ---------------------------------------
 * Bilinear taps of output position o along an axis of `in` inputs (align_corners=False, in
 * float as PyTorch): s = (o + 0.5)*(1/f) - 0.5 clamped at 0, i0 = floor(s), i1 = min(i0+1, in-1),
 * l1 = s - i0, l0 = 1 - l1. */
static inline MC_HOST_DEVICE void mc_up_tap(int o, int in, int f, int *i0, int *i1, float *l0, float *l1) {
    const float scale = 1.0f / (float)f;
    float s = MC_FMUL(scale, (float)o + 0.5f) - 0.5f;
    if (s < 0.0f) s = 0.0f;
    int a = (int)s;
    if (a > in - 1) a = in - 1;
    float t = s - (float)a;
    t = t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t);
    *i0 = a;
    *i1 = a < in - 1 ? a + 1 : a;
    *l1 = t;
    *l0 = 1.0f - t;
}

/* the weight with which output o's taps reach input i (0: none) */
static inline MC_HOST_DEVICE float mc_up_weight(int o, int i, int in, int f) {
    int i0, i1;
    float l0, l1;
    mc_up_tap(o, in, f, &i0, &i1, &l0, &l1);
    return (i0 == i ? l0 : 0.0f) + (i1 == i ? l1 : 0.0f);
}

/* the outputs along an axis (out of them) whose taps can reach input i: [*lo, *hi] */
static inline MC_HOST_DEVICE void mc_up_range(int i, int f, int out, int *lo, int *hi) {
    *lo = f * (i - 1) < 0 ? 0 : f * (i - 1);
    *hi = f * (i + 2) - 1 > out - 1 ? out - 1 : f * (i + 2) - 1;
}

/* y element o of (n, c, h*f, w*f) */
static inline MC_HOST_DEVICE float mc_up_fwd_elem(int mode, size_t o, int h, int w, int f, const float *x) {
    const size_t ow = (size_t)w * f, oh = (size_t)h * f;
    const int ox = (int)(o % ow), oy = (int)(o / ow % oh);
    const float *xp = x + o / ow / oh * (size_t)h * w;
    if (mode == MC_UP_NEAREST) return xp[(size_t)(oy / f) * w + ox / f];
    int y0, y1, x0, x1;
    float h0, h1, w0, w1;
    mc_up_tap(oy, h, f, &y0, &y1, &h0, &h1);
    mc_up_tap(ox, w, f, &x0, &x1, &w0, &w1);
    const float *r0 = xp + (size_t)y0 * w, *r1 = xp + (size_t)y1 * w;
    return MC_FMUL(MC_FMUL(r0[x0], w0) + MC_FMUL(r0[x1], w1), h0) + MC_FMUL(MC_FMUL(r1[x0], w0) + MC_FMUL(r1[x1], w1), h1);
}

/* dx element e of (n, c, h, w): beta*dx + the adjoint, in the CPU backend's order (nearest: the
 * f x f block row by row; bilinear: per output row oy ascending, the row's weighted sum over
 * its output columns ascending, times that row's weight) */
static inline MC_HOST_DEVICE float mc_up_bwd_elem(int mode, size_t e, int h, int w, int f, const float *dy, float beta,
                                                  const float *dx) {
    const int ix = (int)(e % (size_t)w), iy = (int)(e / (size_t)w % (size_t)h);
    const size_t ow = (size_t)w * f, oh = (size_t)h * f;
    const float *gp = dy + e / (size_t)w / (size_t)h * oh * ow;
    float v = beta == 0.0f ? 0.0f : MC_FMUL(beta, dx[e]);
    if (mode == MC_UP_NEAREST) {
        for (int a = 0; a < f; a++) {
            const float *g = gp + ((size_t)iy * f + a) * ow + (size_t)ix * f;
            for (int b = 0; b < f; b++) v += g[b];
        }
        return v;
    }
    int y0, y1, x0, x1;
    mc_up_range(iy, f, (int)oh, &y0, &y1);
    mc_up_range(ix, f, (int)ow, &x0, &x1);
    for (int oy = y0; oy <= y1; oy++) {
        const float wy = mc_up_weight(oy, iy, h, f);
        if (wy == 0.0f) continue;
        const float *g = gp + (size_t)oy * ow;
        float t = 0.0f;
        for (int ox = x0; ox <= x1; ox++) {
            const float wx = mc_up_weight(ox, ix, w, f);
            if (wx != 0.0f) t += MC_FMUL(wx, g[ox]);
        }
        v += MC_FMUL(wy, t);
    }
    return v;
}

/* ---- dense regression losses (backend.h) -------------------------------------------------
 * One entry's loss in double: d*d (MSE) or |d| (L1), d = z - t. */
static inline MC_HOST_DEVICE double mc_reg1(int type, float z, float t) {
    double d = (double)z - (double)t;
    return type == MC_LOSS_MSE ? d * d : fabs(d);
}

/* dz = beta*dz + m * (d * s2) (MSE, s2 = 2*scale) or m * (sign(d) * scale) (L1, sign(0) = 0) */
static inline MC_HOST_DEVICE float mc_reg_grad1(int type, float z, float t, float m, float scale, float beta, float dz) {
    const float d = z - t, sg = d > 0.0f ? 1.0f : (d < 0.0f ? -1.0f : 0.0f);
    const float s2 = type == MC_LOSS_MSE ? 2.0f * scale : scale;
    const float v = MC_FMUL(m, MC_FMUL(type == MC_LOSS_MSE ? d : sg, s2));
    return beta == 0.0f ? v : v + MC_FMUL(beta, dz);
}

/* ---- Adam / AdamW, RMSprop (backend.h: torch.optim's order of operations) ---------------- */
static inline MC_HOST_DEVICE void mc_adam1(float *w, float g, float *m, float *v, const mc_adam_coef *c) {
    const float gi = g + MC_FMUL(c->l2, *w);
    const float wi = MC_FMUL(*w, c->shrink);
    const float mi = MC_FMUL(*m, c->b1) + MC_FMUL(c->omb1, gi);
    const float vi = MC_FMUL(*v, c->b2) + MC_FMUL(MC_FMUL(c->omb2, gi), gi);
    *m = mi;
    *v = vi;
    *w = wi + MC_FMUL(-c->step_size, mi / (sqrtf(vi) / c->bc2_sqrt + c->eps));
}

/* ga may be NULL unless centered, buf unless momentum > 0 */
static inline MC_HOST_DEVICE void mc_rmsprop1(float *w, float g, float *sq, float *ga, float *buf,
                                              const mc_rmsprop_coef *c) {
    const float gi = g + MC_FMUL(c->l2, *w);
    const float wi = MC_FMUL(*w, c->shrink);
    const float si = MC_FMUL(*sq, c->alpha) + MC_FMUL(MC_FMUL(c->oma, gi), gi);
    *sq = si;
    float avg;
    if (c->centered) {
        const float ai = MC_FMUL(*ga, c->alpha) + MC_FMUL(c->oma, gi);
        *ga = ai;
        avg = sqrtf(si + MC_FMUL(MC_FMUL(-1.0f, ai), ai)) + c->eps;
    } else {
        avg = sqrtf(si) + c->eps;
    }
    if (c->momentum > 0.0f) {
        const float bi = MC_FMUL(*buf, c->momentum) + gi / avg;
        *buf = bi;
        *w = wi + MC_FMUL(-c->lr, bi);
    } else {
        *w = wi + MC_FMUL(-c->lr, gi / avg);
    }
}

#endif
