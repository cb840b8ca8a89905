/* kernels.cu — the CUDA backend's own kernels and their launchers (mc_k_*).
 *
 * Element-wise kernels are grid-stride loops (MC_CUDA_THREADS per block, at most
 * MC_CUDA_MAX_BLOCKS blocks) around the per-element functions of cuda_math.h, which are the
 * CPU backend's formulas and index maps; the host tests run those same functions. Backward
 * passes that sum several contributions into one element (replication pad, pooling, col2im)
 * are written as gathers — each thread owns one output element and adds its contributions in
 * the CPU backend's order — so nothing needs atomics and results are deterministic.
 *
 * Reductions (bias gradient, batch norm, the loss) accumulate in double like the CPU backend:
 * per-channel ones use one block per channel; the loss uses a two-stage reduction with a
 * fixed number of blocks (deterministic). Each launcher checks the launch (cudaGetLastError);
 * errors of the kernel's execution surface at the next synchronising call.
 */
#include "cuda/cuda_internal.h"

#define T MC_CUDA_THREADS
#define GRID_LOOP(i, n)                                                                            \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                         \
         i += (size_t)blockDim.x * gridDim.x)

static unsigned blocks_for(size_t n) { return mc_cuda_blocks(n, T, MC_CUDA_MAX_BLOCKS); }

/* sum of v over the block (blockDim.x == T, a power of two); every thread gets the total */
static __device__ double block_sum(double v, double *sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (unsigned s = T / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    double r = sh[0];
    __syncthreads();
    return r;
}

/* ---- memory-like ------------------------------------------------------------------------ */
static __global__ void k_fill(float *p, float v, size_t n) {
    GRID_LOOP(i, n) p[i] = v;
}

int mc_k_fill(cudaStream_t s, float *p, float v, size_t n) {
    if (!n) return MC_OK;
    k_fill<<<blocks_for(n), T, 0, s>>>(p, v, n);
    CU_CHECK_LAUNCH("k_fill");
    return MC_OK;
}

static __global__ void k_scale2d(size_t rows, size_t cols, float beta, float *c, size_t ldc) {
    GRID_LOOP(i, rows * cols) {
        float *p = c + (i / cols) * ldc + i % cols;
        *p = beta == 0.0f ? 0.0f : beta * *p;
    }
}

int mc_k_scale2d(cudaStream_t s, size_t rows, size_t cols, float beta, float *c, size_t ldc) {
    if (!rows || !cols || beta == 1.0f) return MC_OK;
    k_scale2d<<<blocks_for(rows * cols), T, 0, s>>>(rows, cols, beta, c, ldc);
    CU_CHECK_LAUNCH("k_scale2d");
    return MC_OK;
}

static __global__ void k_copy2d(size_t rows, size_t cols, const float *src, size_t sst, float beta,
                                float *dst, size_t dstst) {
    GRID_LOOP(i, rows * cols) {
        size_t r = i / cols, j = i % cols;
        float *d = dst + r * dstst + j;
        *d = mc_blend(src[r * sst + j], beta, *d);
    }
}

int mc_k_copy2d(cudaStream_t s, size_t rows, size_t cols, const float *src, size_t sst, float beta,
                float *dst, size_t dstst) {
    if (!rows || !cols) return MC_OK;
    k_copy2d<<<blocks_for(rows * cols), T, 0, s>>>(rows, cols, src, sst, beta, dst, dstst);
    CU_CHECK_LAUNCH("k_copy2d");
    return MC_OK;
}

/* ---- bias ------------------------------------------------------------------------------- */
static __global__ void k_bias_fwd(size_t total, int c, int hw, const float *b, float *y) {
    GRID_LOOP(i, total) y[i] += b[(i / (size_t)hw) % (size_t)c];
}

int mc_k_bias_fwd(cudaStream_t s, int n, int c, int hw, const float *b, float *y) {
    size_t total = (size_t)n * c * hw;
    if (!total) return MC_OK;
    k_bias_fwd<<<blocks_for(total), T, 0, s>>>(total, c, hw, b, y);
    CU_CHECK_LAUNCH("k_bias_fwd");
    return MC_OK;
}

/* one block per channel */
static __global__ void k_bias_bwd(int n, int c, int hw, const float *dy, float beta, float *db) {
    __shared__ double sh[T];
    const int ch = blockIdx.x;
    const size_t m = (size_t)n * hw;
    double acc = 0;
    for (size_t j = threadIdx.x; j < m; j += T) acc += (double)dy[mc_bn_index(j, ch, c, hw)];
    acc = block_sum(acc, sh);
    if (threadIdx.x == 0) db[ch] = mc_blend((float)acc, beta, db[ch]);
}

int mc_k_bias_bwd(cudaStream_t s, int n, int c, int hw, const float *dy, float beta, float *db) {
    if (c <= 0) return MC_OK;
    k_bias_bwd<<<(unsigned)c, T, 0, s>>>(n, c, hw, dy, beta, db);
    CU_CHECK_LAUNCH("k_bias_bwd");
    return MC_OK;
}

/* ---- activations ------------------------------------------------------------------------ */
static __global__ void k_act_fwd(int type, float a, float b, size_t n, const float *x, float *y) {
    GRID_LOOP(i, n) y[i] = mc_act_fwd1(type, a, b, x[i]);
}

int mc_k_act_fwd(cudaStream_t s, const mc_act *a, size_t n, const float *x, float *y) {
    if (!n) return MC_OK;
    k_act_fwd<<<blocks_for(n), T, 0, s>>>(a->type, a->a, a->b, n, x, y);
    CU_CHECK_LAUNCH("k_act_fwd");
    return MC_OK;
}

static __global__ void k_act_bwd(int type, float a, float b, size_t n, const float *y, const float *dy,
                                 float beta, float *dx) {
    GRID_LOOP(i, n) dx[i] = mc_blend(mc_act_bwd1(type, a, b, y[i], dy[i]), beta, dx[i]);
}

int mc_k_act_bwd(cudaStream_t s, const mc_act *a, size_t n, const float *y, const float *dy, float beta,
                 float *dx) {
    if (!n) return MC_OK;
    k_act_bwd<<<blocks_for(n), T, 0, s>>>(a->type, a->a, a->b, n, y, dy, beta, dx);
    CU_CHECK_LAUNCH("k_act_bwd");
    return MC_OK;
}

/* ---- pixel shuffle, replication pad ----------------------------------------------------- */
static __global__ void k_shuffle_fwd(size_t total, int h, int w, int r, const float *x, float *y) {
    GRID_LOOP(o, total) y[o] = x[mc_shuffle_src(o, h, w, r)];
}

int mc_k_shuffle_fwd(cudaStream_t s, int n, int c, int h, int w, int r, const float *x, float *y) {
    size_t total = (size_t)n * c * h * r * w * r;
    if (!total) return MC_OK;
    k_shuffle_fwd<<<blocks_for(total), T, 0, s>>>(total, h, w, r, x, y);
    CU_CHECK_LAUNCH("k_shuffle_fwd");
    return MC_OK;
}

static __global__ void k_shuffle_bwd(size_t total, int h, int w, int r, const float *dy, float beta,
                                     float *dx) {
    GRID_LOOP(o, total) {
        float *t = dx + mc_shuffle_src(o, h, w, r);
        *t = mc_blend(dy[o], beta, *t);
    }
}

int mc_k_shuffle_bwd(cudaStream_t s, int n, int c, int h, int w, int r, const float *dy, float beta,
                     float *dx) {
    size_t total = (size_t)n * c * h * r * w * r;
    if (!total) return MC_OK;
    k_shuffle_bwd<<<blocks_for(total), T, 0, s>>>(total, h, w, r, dy, beta, dx);
    CU_CHECK_LAUNCH("k_shuffle_bwd");
    return MC_OK;
}

static __global__ void k_pad_fwd(size_t total, int h, int w, int l, int r, int t, int b, const float *x,
                                 float *y) {
    GRID_LOOP(o, total) y[o] = x[mc_pad_src(o, h, w, l, r, t, b)];
}

int mc_k_pad_fwd(cudaStream_t s, int n, int c, int h, int w, int l, int r, int t, int b, const float *x,
                 float *y) {
    size_t total = (size_t)n * c * (h + t + b) * (w + l + r);
    if (!total) return MC_OK;
    k_pad_fwd<<<blocks_for(total), T, 0, s>>>(total, h, w, l, r, t, b, x, y);
    CU_CHECK_LAUNCH("k_pad_fwd");
    return MC_OK;
}

static __global__ void k_pad_bwd(size_t total, int h, int w, int l, int r, int t, int b, const float *dy,
                                 float beta, float *dx) {
    GRID_LOOP(e, total) dx[e] = mc_pad_bwd_elem(e, h, w, l, r, t, b, dy, beta, dx);
}

int mc_k_pad_bwd(cudaStream_t s, int n, int c, int h, int w, int l, int r, int t, int b, const float *dy,
                 float beta, float *dx) {
    size_t total = (size_t)n * c * h * w;
    if (!total) return MC_OK;
    k_pad_bwd<<<blocks_for(total), T, 0, s>>>(total, h, w, l, r, t, b, dy, beta, dx);
    CU_CHECK_LAUNCH("k_pad_bwd");
    return MC_OK;
}

/* ---- pooling ---------------------------------------------------------------------------- */
static __global__ void k_pool_fwd(mc_pool_desc d, size_t total, const float *x, float *y) {
    GRID_LOOP(o, total) y[o] = mc_pool_fwd_elem(&d, x, o);
}

int mc_k_pool_fwd(cudaStream_t s, const mc_pool_desc *d, const float *x, float *y) {
    size_t total = (size_t)d->n * d->c * d->oh * d->ow;
    if (!total) return MC_OK;
    k_pool_fwd<<<blocks_for(total), T, 0, s>>>(*d, total, x, y);
    CU_CHECK_LAUNCH("k_pool_fwd");
    return MC_OK;
}

static __global__ void k_pool_bwd(mc_pool_desc d, size_t total, const float *x, const float *dy, float beta,
                                  float *dx) {
    GRID_LOOP(e, total) dx[e] = mc_pool_bwd_elem(&d, x, dy, beta, dx, e);
}

int mc_k_pool_bwd(cudaStream_t s, const mc_pool_desc *d, const float *x, const float *dy, float beta,
                  float *dx) {
    size_t total = (size_t)d->n * d->c * d->h * d->w;
    if (!total) return MC_OK;
    k_pool_bwd<<<blocks_for(total), T, 0, s>>>(*d, total, x, dy, beta, dx);
    CU_CHECK_LAUNCH("k_pool_bwd");
    return MC_OK;
}

/* ---- im2col / col2im (convolution without cuDNN), one image ----------------------------- */
static __global__ void k_im2col(mc_conv_desc d, size_t total, const float *x, float *col) {
    GRID_LOOP(e, total) col[e] = mc_im2col_elem(&d, x, e);
}

int mc_k_im2col(cudaStream_t s, const mc_conv_desc *d, const float *x, float *col) {
    size_t total = mc_conv_fallback_ws(d);
    if (!total) return MC_OK;
    k_im2col<<<blocks_for(total), T, 0, s>>>(*d, total, x, col);
    CU_CHECK_LAUNCH("k_im2col");
    return MC_OK;
}

static __global__ void k_col2im(mc_conv_desc d, size_t total, const float *col, float beta, float *x) {
    GRID_LOOP(e, total) x[e] = mc_col2im_elem(&d, col, beta, x, e);
}

int mc_k_col2im(cudaStream_t s, const mc_conv_desc *d, const float *col, float beta, float *x) {
    size_t total = (size_t)d->c * d->h * d->w;
    if (!total) return MC_OK;
    k_col2im<<<blocks_for(total), T, 0, s>>>(*d, total, col, beta, x);
    CU_CHECK_LAUNCH("k_col2im");
    return MC_OK;
}

/* ---- batch norm (own kernels: no cuDNN, or cases cuDNN does not cover) ------------------- */
/* one block per channel: statistics (two passes, double), running update, normalisation */
static __global__ void k_bn_fwd_train(mc_bn_desc d, const float *x, const float *gamma, const float *bias,
                                      float *rmean, float *rvar, int update, float *save_mean,
                                      float *save_invstd, float *y) {
    __shared__ double sh[T];
    __shared__ float coef[2];
    const int ch = blockIdx.x;
    const size_t m = (size_t)d.n * d.hw;
    double s = 0;
    for (size_t j = threadIdx.x; j < m; j += T) s += (double)x[mc_bn_index(j, ch, d.c, d.hw)];
    s = block_sum(s, sh);
    const double mean = s / (double)m;
    double ss = 0;
    for (size_t j = threadIdx.x; j < m; j += T) {
        double t = (double)x[mc_bn_index(j, ch, d.c, d.hw)] - mean;
        ss += t * t;
    }
    ss = block_sum(ss, sh);
    if (threadIdx.x == 0) {
        float rm = 0.0f, rv = 0.0f, a, b;
        double md, id;
        if (update) {
            rm = rmean[ch];
            rv = rvar[ch];
        }
        mc_bn_finish(s, ss, (double)m, d.eps, d.momentum, update, &save_mean[ch], &save_invstd[ch], &rm, &rv,
                     &md, &id);
        if (update) {
            rmean[ch] = rm;
            rvar[ch] = rv;
        }
        mc_bn_affine(gamma[ch], bias[ch], md, id, &a, &b);
        coef[0] = a;
        coef[1] = b;
    }
    __syncthreads();
    const float a = coef[0], b = coef[1];
    for (size_t j = threadIdx.x; j < m; j += T) {
        size_t k = mc_bn_index(j, ch, d.c, d.hw);
        y[k] = x[k] * a + b;
    }
}

int mc_k_bn_fwd_train(cudaStream_t s, const mc_bn_desc *d, const float *x, const float *gamma,
                      const float *bias, float *rmean, float *rvar, int update, float *save_mean,
                      float *save_invstd, float *y) {
    if (d->c <= 0) return MC_OK;
    k_bn_fwd_train<<<(unsigned)d->c, T, 0, s>>>(*d, x, gamma, bias, rmean, rvar, update, save_mean,
                                                  save_invstd, y);
    CU_CHECK_LAUNCH("k_bn_fwd_train");
    return MC_OK;
}

static __global__ void k_bn_fwd_infer(mc_bn_desc d, size_t total, const float *x, const float *gamma,
                                      const float *bias, const float *rmean, const float *rvar, float *y) {
    GRID_LOOP(i, total) {
        int ch = (int)((i / (size_t)d.hw) % (size_t)d.c);
        float a, b;
        mc_bn_infer_affine(gamma[ch], bias[ch], rmean[ch], rvar[ch], d.eps, &a, &b);
        y[i] = x[i] * a + b;
    }
}

int mc_k_bn_fwd_infer(cudaStream_t s, const mc_bn_desc *d, const float *x, const float *gamma,
                      const float *bias, const float *rmean, const float *rvar, float *y) {
    size_t total = (size_t)d->n * d->c * d->hw;
    if (!total) return MC_OK;
    k_bn_fwd_infer<<<blocks_for(total), T, 0, s>>>(*d, total, x, gamma, bias, rmean, rvar, y);
    CU_CHECK_LAUNCH("k_bn_fwd_infer");
    return MC_OK;
}

/* one block per channel. train: mean/invstd are the saved batch statistics; infer: `mean` is
 * the running mean and `vi` the running variance. */
static __global__ void k_bn_bwd(mc_bn_desc d, int train, const float *x, const float *dy, const float *gamma,
                                const float *mean_p, const float *vi, float beta_dx, float *dx, float beta_p,
                                float *dgamma, float *dbeta) {
    __shared__ double sh[T];
    const int ch = blockIdx.x;
    const size_t m = (size_t)d.n * d.hw;
    const double mean = (double)mean_p[ch];
    const double invstd = train ? (double)vi[ch] : 1.0 / sqrt((double)vi[ch] + (double)d.eps);
    double sdy = 0, sdyx = 0;
    for (size_t j = threadIdx.x; j < m; j += T) {
        size_t k = mc_bn_index(j, ch, d.c, d.hw);
        double g = (double)dy[k];
        sdy += g;
        sdyx += g * ((double)x[k] - mean);
    }
    sdy = block_sum(sdy, sh);
    sdyx = block_sum(sdyx, sh);
    const double dg = sdyx * invstd; /* = sum dy * xhat */
    if (threadIdx.x == 0) {
        if (dgamma) dgamma[ch] = mc_blend((float)dg, beta_p, dgamma[ch]);
        if (dbeta) dbeta[ch] = mc_blend((float)sdy, beta_p, dbeta[ch]);
    }
    if (!dx) return;
    if (train) {
        const double k = (double)gamma[ch] * invstd, mdy = sdy / (double)m, mdg = dg / (double)m;
        for (size_t j = threadIdx.x; j < m; j += T) {
            size_t e = mc_bn_index(j, ch, d.c, d.hw);
            dx[e] = mc_blend(mc_bn_bwd_dx(x[e], dy[e], mean, invstd, k, mdy, mdg), beta_dx, dx[e]);
        }
    } else {
        const float k = (float)((double)gamma[ch] * invstd);
        for (size_t j = threadIdx.x; j < m; j += T) {
            size_t e = mc_bn_index(j, ch, d.c, d.hw);
            dx[e] = mc_blend(dy[e] * k, beta_dx, dx[e]);
        }
    }
}

int mc_k_bn_bwd(cudaStream_t s, const mc_bn_desc *d, int train, const float *x, const float *dy,
                const float *gamma, const float *mean, const float *var_or_invstd, float beta_dx, float *dx,
                float beta_p, float *dgamma, float *dbeta) {
    if (d->c <= 0) return MC_OK;
    k_bn_bwd<<<(unsigned)d->c, T, 0, s>>>(*d, train, x, dy, gamma, mean, var_or_invstd, beta_dx, dx, beta_p,
                                           dgamma, dbeta);
    CU_CHECK_LAUNCH("k_bn_bwd");
    return MC_OK;
}

/* ---- loss ------------------------------------------------------------------------------- */
/* stage 1: prob, and per-block sums of mask*bce and mask into part[2*block], part[2*block+1] */
static __global__ void k_bce_fwd(size_t n, const float *z, const float *t, const float *mask, float *prob,
                                 double *part) {
    __shared__ double sh[T];
    double s = 0, c = 0;
    GRID_LOOP(i, n) {
        double m = mask ? (double)mask[i] : 1.0;
        prob[i] = mc_sigmoidf(z[i]);
        s += m * mc_bce1(z[i], t[i]);
        c += m;
    }
    s = block_sum(s, sh);
    c = block_sum(c, sh);
    if (threadIdx.x == 0) {
        part[2 * blockIdx.x] = s;
        part[2 * blockIdx.x + 1] = c;
    }
}

/* stage 2 (one block of MC_CUDA_RED_BLOCKS threads): the totals into part[2*MC_CUDA_RED_BLOCKS..+1] */
static __global__ void k_bce_total(unsigned nparts, double *part) {
    __shared__ double sh[T];
    double s = threadIdx.x < nparts ? part[2 * threadIdx.x] : 0.0;
    double c = threadIdx.x < nparts ? part[2 * threadIdx.x + 1] : 0.0;
    s = block_sum(s, sh);
    c = block_sum(c, sh);
    if (threadIdx.x == 0) {
        part[2 * MC_CUDA_RED_BLOCKS] = s;
        part[2 * MC_CUDA_RED_BLOCKS + 1] = c;
    }
}

int mc_k_bce_fwd(cudaStream_t s, size_t n, const float *z, const float *t, const float *mask, float *prob,
                 double *dred) {
    static_assert(MC_CUDA_RED_BLOCKS == T, "the loss's second stage reduces one partial per thread");
    unsigned nb = mc_cuda_blocks(n, T, MC_CUDA_RED_BLOCKS);
    if (nb) {
        k_bce_fwd<<<nb, T, 0, s>>>(n, z, t, mask, prob, dred);
        CU_CHECK_LAUNCH("k_bce_fwd");
    }
    k_bce_total<<<1, T, 0, s>>>(nb, dred);
    CU_CHECK_LAUNCH("k_bce_total");
    return MC_OK;
}

static __global__ void k_bce_bwd(size_t n, const float *prob, const float *t, const float *mask, float scale,
                                 float beta, float *dz) {
    GRID_LOOP(i, n) dz[i] = mc_bce_grad1(prob[i], t[i], mask ? mask[i] : 1.0f, scale, beta, dz[i]);
}

int mc_k_bce_bwd(cudaStream_t s, size_t n, const float *prob, const float *t, const float *mask, float scale,
                 float beta, float *dz) {
    if (!n) return MC_OK;
    k_bce_bwd<<<blocks_for(n), T, 0, s>>>(n, prob, t, mask, scale, beta, dz);
    CU_CHECK_LAUNCH("k_bce_bwd");
    return MC_OK;
}

/* dense regression losses: stage 1 as k_bce_fwd (per-block sums of mask*loss and mask), stage 2
 * k_bce_total */
static __global__ void k_reg_fwd(int type, size_t n, const float *z, const float *t, const float *mask,
                                 double *part) {
    __shared__ double sh[T];
    double s = 0, c = 0;
    GRID_LOOP(i, n) {
        double m = mask ? (double)mask[i] : 1.0;
        s += m * mc_reg1(type, z[i], t[i]);
        c += m;
    }
    s = block_sum(s, sh);
    c = block_sum(c, sh);
    if (threadIdx.x == 0) {
        part[2 * blockIdx.x] = s;
        part[2 * blockIdx.x + 1] = c;
    }
}

int mc_k_reg_fwd(cudaStream_t s, int type, size_t n, const float *z, const float *t, const float *mask,
                 double *dred) {
    unsigned nb = mc_cuda_blocks(n, T, MC_CUDA_RED_BLOCKS);
    if (nb) {
        k_reg_fwd<<<nb, T, 0, s>>>(type, n, z, t, mask, dred);
        CU_CHECK_LAUNCH("k_reg_fwd");
    }
    k_bce_total<<<1, T, 0, s>>>(nb, dred);
    CU_CHECK_LAUNCH("k_bce_total");
    return MC_OK;
}

static __global__ void k_reg_bwd(int type, size_t n, const float *z, const float *t, const float *mask,
                                 float scale, float beta, float *dz) {
    GRID_LOOP(i, n) dz[i] = mc_reg_grad1(type, z[i], t[i], mask ? mask[i] : 1.0f, scale, beta, dz[i]);
}

int mc_k_reg_bwd(cudaStream_t s, int type, size_t n, const float *z, const float *t, const float *mask,
                 float scale, float beta, float *dz) {
    if (!n) return MC_OK;
    k_reg_bwd<<<blocks_for(n), T, 0, s>>>(type, n, z, t, mask, scale, beta, dz);
    CU_CHECK_LAUNCH("k_reg_bwd");
    return MC_OK;
}

/* ---- upsampling ------------------------------------------------------------------------- */
static __global__ void k_up_fwd(int mode, size_t total, int h, int w, int f, const float *x, float *y) {
    GRID_LOOP(o, total) y[o] = mc_up_fwd_elem(mode, o, h, w, f, x);
}

int mc_k_up_fwd(cudaStream_t s, int mode, int n, int c, int h, int w, int f, const float *x, float *y) {
    size_t total = (size_t)n * c * h * f * w * f;
    if (!total) return MC_OK;
    k_up_fwd<<<blocks_for(total), T, 0, s>>>(mode, total, h, w, f, x, y);
    CU_CHECK_LAUNCH("k_up_fwd");
    return MC_OK;
}

static __global__ void k_up_bwd(int mode, size_t total, int h, int w, int f, const float *dy, float beta,
                                float *dx) {
    GRID_LOOP(e, total) dx[e] = mc_up_bwd_elem(mode, e, h, w, f, dy, beta, dx);
}

int mc_k_up_bwd(cudaStream_t s, int mode, int n, int c, int h, int w, int f, const float *dy, float beta,
                float *dx) {
    size_t total = (size_t)n * c * h * w;
    if (!total) return MC_OK;
    k_up_bwd<<<blocks_for(total), T, 0, s>>>(mode, total, h, w, f, dy, beta, dx);
    CU_CHECK_LAUNCH("k_up_bwd");
    return MC_OK;
}

/* ---- optimiser, checks ------------------------------------------------------------------ */
static __global__ void k_sgd(size_t n, float *w, const float *g, float *v, float lr, float momentum, float l2,
                             float shrink) {
    GRID_LOOP(i, n) mc_sgd1(&w[i], g[i], &v[i], lr, momentum, l2, shrink);
}

int mc_k_sgd(cudaStream_t s, size_t n, float *w, const float *g, float *v, float lr, float momentum, float wd,
             int decoupled) {
    if (!n) return MC_OK;
    float l2, shrink;
    mc_sgd_coef(lr, wd, decoupled, &l2, &shrink);
    k_sgd<<<blocks_for(n), T, 0, s>>>(n, w, g, v, lr, momentum, l2, shrink);
    CU_CHECK_LAUNCH("k_sgd");
    return MC_OK;
}

static __global__ void k_adam(size_t n, float *w, const float *g, float *m, float *v, mc_adam_coef c) {
    GRID_LOOP(i, n) mc_adam1(&w[i], g[i], &m[i], &v[i], &c);
}

int mc_k_adam(cudaStream_t s, size_t n, float *w, const float *g, float *m, float *v, const mc_adam_coef *c) {
    if (!n) return MC_OK;
    k_adam<<<blocks_for(n), T, 0, s>>>(n, w, g, m, v, *c);
    CU_CHECK_LAUNCH("k_adam");
    return MC_OK;
}

static __global__ void k_rmsprop(size_t n, float *w, const float *g, float *sq, float *ga, float *buf,
                                 mc_rmsprop_coef c) {
    GRID_LOOP(i, n) mc_rmsprop1(&w[i], g[i], &sq[i], ga ? &ga[i] : NULL, buf ? &buf[i] : NULL, &c);
}

int mc_k_rmsprop(cudaStream_t s, size_t n, float *w, const float *g, float *sq, float *ga, float *buf,
                 const mc_rmsprop_coef *c) {
    if (!n) return MC_OK;
    k_rmsprop<<<blocks_for(n), T, 0, s>>>(n, w, g, sq, ga, buf, *c);
    CU_CHECK_LAUNCH("k_rmsprop");
    return MC_OK;
}

static __global__ void k_set_int(int *p, int v) { *p = v; }

static __global__ void k_all_finite(size_t n, const float *x, int *flag) {
    GRID_LOOP(i, n) if (!isfinite(x[i])) *flag = 0; /* every writer writes 0: no race on the value */
}

int mc_k_all_finite(cudaStream_t s, size_t n, const float *x, int *dflag) {
    k_set_int<<<1, 1, 0, s>>>(dflag, 1);
    CU_CHECK_LAUNCH("k_set_int");
    if (!n) return MC_OK;
    k_all_finite<<<blocks_for(n), T, 0, s>>>(n, x, dflag);
    CU_CHECK_LAUNCH("k_all_finite");
    return MC_OK;
}

/* ---- creation-time check ---------------------------------------------------------------- */
int mc_k_probe(void) {
    cudaFuncAttributes attr;
    cudaError_t e = cudaFuncGetAttributes(&attr, k_fill);
    if (e == cudaSuccess) return MC_OK;
    (void)cudaGetLastError();
    int dev = 0, major = 0, minor = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) != cudaSuccess)
        (void)cudaGetLastError();
    return mc_err(MC_EBACKEND,
                  "%s:%d: this medcolor has no kernels for GPU %d (compute capability %d.%d): %s; rebuild "
                  "with make GPU=1 CUDNN=1 ARCH='-gencode arch=compute_%d%d,code=sm_%d%d'",
                  __FILE__, __LINE__, dev, major, minor, cudaGetErrorString(e), major, minor, major, minor);
}
