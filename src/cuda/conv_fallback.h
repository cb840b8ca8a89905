/* conv_fallback.h — convolution without cuDNN: the im2col + GEMM drivers (host code).
 *
 * The drivers only sequence calls — im2col of one image (all groups at once), one
 * strided-batched row-major GEMM over the groups, col2im — through a table of operations.
 * conv_cuda.cu plugs in cuBLAS and the kernels of kernels.cu; tests/test_gpu_host.c plugs in
 * a naive host GEMM and the element functions of cuda_math.h and compares the result with the
 * CPU backend, so the loop structure, offsets, leading dimensions and batch strides below are
 * tested without a GPU.
 *
 * Shapes (mc_conv_desc): x (n, c, h, w), y (n, k, oh, ow), w (k, c/groups, kh, kw). With
 * cg = c/groups, kg = k/groups, kdim = cg*kh*kw and ohw = oh*ow, group g of one image is
 *   y_g (kg x ohw) = w_g (kg x kdim) . col_g (kdim x ohw),
 * col_g at row g*kdim of the image's column matrix (c*kh*kw x ohw, the workspace; a 1x1
 * stride-1 unpadded convolution reads x itself).
 */
#ifndef MC_CONV_FALLBACK_H
#define MC_CONV_FALLBACK_H

#include "cuda/cuda_math.h"

typedef struct mc_conv_fb_ops {
    void *ctx;
    /* row-major C = alpha op(A) op(B) + beta C for `batch` matrices at the given float strides;
     * beta 0 overwrites */
    int (*gemm)(void *ctx, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda, long long sa,
                const float *b, int ldb, long long sb, float beta, float *c, int ldc, long long sc, int batch);
    /* one image: col = im2col(x) (mc_im2col_elem over mc_conv_fallback_ws(d) entries) */
    int (*im2col)(void *ctx, const mc_conv_desc *d, const float *x, float *col);
    /* one image: x = beta*x + col2im(col) (mc_col2im_elem over c*h*w entries) */
    int (*col2im)(void *ctx, const mc_conv_desc *d, const float *col, float beta, float *x);
    /* x[0..n) = beta*x (0 clears) */
    int (*scale)(void *ctx, size_t n, float beta, float *x);
} mc_conv_fb_ops;

/* y = conv(x, w) + beta*y */
static inline int mc_conv_fb_fwd(const mc_conv_fb_ops *o, const mc_conv_desc *d, const float *x, const float *w,
                                 float beta, float *y, float *ws) {
    const int G = d->groups, cg = d->c / G, kg = d->k / G, ohw = d->oh * d->ow;
    const int kdim = cg * d->kh * d->kw;
    const size_t hw = (size_t)d->h * d->w;
    for (int n = 0; n < d->n; n++) {
        const float *xn = x + (size_t)n * d->c * hw;
        const float *col = xn;
        if (!mc_conv_is_direct(d)) {
            MC_TRY(o->im2col(o->ctx, d, xn, ws));
            col = ws;
        }
        MC_TRY(o->gemm(o->ctx, 0, 0, kg, ohw, kdim, 1.0f, w, kdim, (long long)kg * kdim, col, ohw,
                       (long long)kdim * ohw, beta, y + (size_t)n * d->k * ohw, ohw, (long long)kg * ohw, G));
    }
    return MC_OK;
}

/* dx = conv^T(dy, w) + beta*dx */
static inline int mc_conv_fb_bwd_data(const mc_conv_fb_ops *o, const mc_conv_desc *d, const float *dy,
                                      const float *w, float beta, float *dx, float *ws) {
    const int G = d->groups, cg = d->c / G, kg = d->k / G, ohw = d->oh * d->ow;
    const int kdim = cg * d->kh * d->kw;
    const size_t hw = (size_t)d->h * d->w;
    const int direct = mc_conv_is_direct(d);
    for (int n = 0; n < d->n; n++) {
        const float *dyn = dy + (size_t)n * d->k * ohw;
        float *dxn = dx + (size_t)n * d->c * hw;
        /* col_g (kdim x ohw) = w_g^T . dy_g, straight into dx for a direct convolution */
        MC_TRY(o->gemm(o->ctx, 1, 0, kdim, ohw, kg, 1.0f, w, kdim, (long long)kg * kdim, dyn, ohw,
                       (long long)kg * ohw, direct ? beta : 0.0f, direct ? dxn : ws, ohw, (long long)kdim * ohw, G));
        if (!direct) MC_TRY(o->col2im(o->ctx, d, ws, beta, dxn));
    }
    return MC_OK;
}

/* dw = sum over images of dy_g . col_g^T + beta*dw */
static inline int mc_conv_fb_bwd_filter(const mc_conv_fb_ops *o, const mc_conv_desc *d, const float *x,
                                        const float *dy, float beta, float *dw, float *ws) {
    const int G = d->groups, cg = d->c / G, kg = d->k / G, ohw = d->oh * d->ow;
    const int kdim = cg * d->kh * d->kw;
    const size_t hw = (size_t)d->h * d->w;
    if (d->n == 0) return o->scale(o->ctx, (size_t)d->k * kdim, beta, dw);
    for (int n = 0; n < d->n; n++) {
        const float *xn = x + (size_t)n * d->c * hw;
        const float *col = xn;
        if (!mc_conv_is_direct(d)) {
            MC_TRY(o->im2col(o->ctx, d, xn, ws));
            col = ws;
        }
        MC_TRY(o->gemm(o->ctx, 0, 1, kg, kdim, ohw, 1.0f, dy + (size_t)n * d->k * ohw, ohw, (long long)kg * ohw,
                       col, ohw, (long long)kdim * ohw, n == 0 ? beta : 1.0f, dw, kdim, (long long)kg * kdim, G));
    }
    return MC_OK;
}

#endif
