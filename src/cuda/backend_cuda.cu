/* backend_cuda.cu — the CUDA backend table (mc_backend_cuda_create): memory, transfers, cuBLAS
 * GEMM and vector ops, batch norm (cuDNN where it fits), and the dispatch to the kernels of
 * kernels.cu and the convolutions of conv_cuda.cu. Every operation computes what the CPU
 * backend (src/cpu/backend_cpu.c) computes; see src/engine/backend.h for the conventions and
 * docs/gpu.md for what runs where.
 *
 * State: everything lives in the backend's mc_cuda_ctx — device index, one non-blocking
 * stream on which every operation is queued in order, the cuBLAS/cuDNN handles bound to it,
 * the convolution plans, pinned buffers. Every operation first makes the backend's device
 * current (cudaSetDevice) for the calling thread. A backend is used by one host thread at a
 * time (as a net is).
 *
 * Synchronisation: operations are asynchronous; download, the losses (bce_fwd, reg_loss_fwd), all_finite and
 * sync wait for the stream. Uploads go through two pinned staging buffers, so an upload returns
 * as soon as its data is copied to pinned memory and the transfer is queued behind the work
 * already on the stream (the host can prepare the next batch meanwhile).
 *
 * Settings read once when the backend is created (environment; no global state):
 *   MEDCOLOR_TF32=1                 allow TF32 tensor cores in cuBLAS/cuDNN (default: FP32)
 *   MEDCOLOR_CUDNN=0                 do not use cuDNN (own kernels; cuDNN builds only)
 *   MEDCOLOR_CUDNN_FIND=1            pick convolution algorithms by measuring (cudnnFind*)
 *   MEDCOLOR_CUDNN_WORKSPACE_MB=N    largest workspace of a convolution algorithm (1024)
 *   MEDCOLOR_DETERMINISTIC=1         deterministic convolution algorithms only
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "cuda/cuda_internal.h"

#define STAGE_FLOATS ((size_t)2 << 20) /* 8 MiB per pinned staging buffer */

/* ---- errors ----------------------------------------------------------------------------- */
/* "cudaMalloc(&p, n)" -> "cudaMalloc" */
static const char *call_name(const char *call, char *buf, size_t len) {
    size_t i = 0;
    while (call[i] && call[i] != '(' && i + 1 < len) {
        buf[i] = call[i];
        i++;
    }
    buf[i] = 0;
    return buf;
}

int mc_cuda_fail_rt(cudaError_t e, const char *call, const char *file, int line) {
    (void)cudaGetLastError(); /* clear a non-sticky error so that later launch checks do not repeat it */
    char nm[128];
    return mc_err(e == cudaErrorMemoryAllocation ? MC_ENOMEM : MC_EBACKEND, "%s:%d: %s: %s (%s)", file, line,
                  call_name(call, nm, sizeof nm), cudaGetErrorString(e), cudaGetErrorName(e));
}

static const char *blas_status_name(cublasStatus_t s) {
#if defined(CUBLAS_VER_MAJOR) && CUBLAS_VER_MAJOR >= 12
    return cublasGetStatusName(s);
#else
    switch (s) {
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "CUBLAS_STATUS_(unknown)";
    }
#endif
}

int mc_cuda_fail_blas(cublasStatus_t s, const char *call, const char *file, int line) {
    char nm[128];
    return mc_err(s == CUBLAS_STATUS_ALLOC_FAILED ? MC_ENOMEM : MC_EBACKEND, "%s:%d: %s: %s", file, line,
                  call_name(call, nm, sizeof nm), blas_status_name(s));
}

#ifdef MC_CUDNN
int mc_cuda_fail_dnn(cudnnStatus_t s, const char *call, const char *file, int line) {
    char nm[128], detail[256] = "";
#if CUDNN_MAJOR >= 9
    cudnnGetLastErrorString(detail, sizeof detail);
#endif
    return mc_err(s == CUDNN_STATUS_ALLOC_FAILED ? MC_ENOMEM : MC_EBACKEND, "%s:%d: %s: %s%s%s", file, line,
                  call_name(call, nm, sizeof nm), cudnnGetErrorString(s), detail[0] ? ": " : "", detail);
}
#endif

/* ---- memory ----------------------------------------------------------------------------- */
static float *cu_alloc(mc_backend *be, size_t n, const char *what) {
    mc_cuda_ctx *cx = mc_cuda_ctx_of(be);
    if (n > SIZE_MAX / sizeof(float) - 1) {
        mc_err(MC_ENOMEM, "cuda: %zu floats for %s: too large", n, what);
        return NULL;
    }
    size_t bytes = (n ? n : 1) * sizeof(float);
    void *p = NULL;
    cudaError_t e = cudaSetDevice(cx->dev);
    if (e == cudaSuccess) e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        size_t fr = 0, tot = 0;
        if (cudaMemGetInfo(&fr, &tot) != cudaSuccess) (void)cudaGetLastError();
        mc_err(e == cudaErrorMemoryAllocation ? MC_ENOMEM : MC_EBACKEND,
               "%s:%d: cudaMalloc: %zu bytes for %s on GPU %d: %s (%zu of %zu MiB free)", __FILE__, __LINE__, bytes,
               what, cx->dev, cudaGetErrorString(e), fr >> 20, tot >> 20);
        return NULL;
    }
    e = cudaMemsetAsync(p, 0, bytes, cx->stream);
    if (e != cudaSuccess) {
        mc_cuda_fail_rt(e, "cudaMemsetAsync", __FILE__, __LINE__);
        cudaFree(p);
        return NULL;
    }
    return (float *)p;
}

static void cu_free(mc_backend *be, float *p) {
    if (!p) return;
    mc_cuda_ctx *cx = mc_cuda_ctx_of(be);
    /* nothing to report from a void function: a failure here is sticky and the next checked
     * call reports it */
    if (cudaSetDevice(cx->dev) == cudaSuccess) cudaFree(p);
}

static int cu_upload(mc_backend *be, float *dst, const float *host, size_t n) {
    CU_ENTER(be, cx);
    if (!n) return MC_OK;
    if (!cx->stage[0]) { /* no pinned memory: a plain (staged by the driver) copy */
        CU_CHECK(cudaMemcpyAsync(dst, host, n * sizeof(float), cudaMemcpyHostToDevice, cx->stream));
        return MC_OK;
    }
    for (size_t off = 0; off < n;) {
        size_t k = n - off < cx->stage_n ? n - off : cx->stage_n;
        int s = cx->stage_next;
        cx->stage_next ^= 1;
        CU_CHECK(cudaEventSynchronize(cx->stage_ev[s])); /* the previous copy out of stage[s] is done */
        memcpy(cx->stage[s], host + off, k * sizeof(float));
        CU_CHECK(cudaMemcpyAsync(dst + off, cx->stage[s], k * sizeof(float), cudaMemcpyHostToDevice, cx->stream));
        CU_CHECK(cudaEventRecord(cx->stage_ev[s], cx->stream));
        off += k;
    }
    return MC_OK;
}

static int cu_download(mc_backend *be, float *host, const float *src, size_t n) {
    CU_ENTER(be, cx);
    if (!n) return MC_OK;
    CU_CHECK(cudaMemcpyAsync(host, src, n * sizeof(float), cudaMemcpyDeviceToHost, cx->stream));
    CU_CHECK(cudaStreamSynchronize(cx->stream));
    return MC_OK;
}

static int cu_fill(mc_backend *be, float *p, float v, size_t n) {
    CU_ENTER(be, cx);
    if (!n) return MC_OK;
    if (v == 0.0f) {
        CU_CHECK(cudaMemsetAsync(p, 0, n * sizeof(float), cx->stream));
        return MC_OK;
    }
    return mc_k_fill(cx->stream, p, v, n);
}

static int cu_sync(mc_backend *be) {
    CU_ENTER(be, cx);
    CU_CHECK(cudaStreamSynchronize(cx->stream));
    return MC_OK;
}

/* ---- GEMM and vector ops (cuBLAS) -------------------------------------------------------- */
/* Row-major GEMM on column-major cuBLAS: the operands swapped (mc_gemm_rm_to_cm, tested on the
 * host). */
int mc_cuda_gemm_rm(mc_cuda_ctx *cx, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                    long long sa, const float *b, int ldb, long long sb, float beta, float *c, int ldc,
                    long long sc, int batch) {
    if (m <= 0 || n <= 0 || batch <= 0) return MC_OK;
    if (k <= 0) {
        for (int i = 0; i < batch; i++)
            MC_TRY(mc_k_scale2d(cx->stream, (size_t)m, (size_t)n, beta, c + (size_t)i * sc, (size_t)ldc));
        return MC_OK;
    }
    const mc_gemm_cm g = mc_gemm_rm_to_cm(ta, tb, m, n, k, a, lda, sa, b, ldb, sb);
    const cublasOperation_t o1 = g.ta ? CUBLAS_OP_T : CUBLAS_OP_N, o2 = g.tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    if (batch == 1)
        BLAS_CHECK(cublasSgemm(cx->blas, o1, o2, g.m, g.n, g.k, &alpha, g.a, g.lda, g.b, g.ldb, &beta, c, ldc));
    else
        BLAS_CHECK(cublasSgemmStridedBatched(cx->blas, o1, o2, g.m, g.n, g.k, &alpha, g.a, g.lda, g.sa, g.b, g.ldb,
                                             g.sb, &beta, c, ldc, sc, batch));
    return MC_OK;
}

static int cu_gemm(mc_backend *be, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                   const float *b, int ldb, float beta, float *c, int ldc) {
    CU_ENTER(be, cx);
    return mc_cuda_gemm_rm(cx, ta, tb, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1);
}

static int cu_axpy(mc_backend *be, size_t n, float alpha, const float *x, float *y) {
    CU_ENTER(be, cx);
    for (size_t off = 0; off < n; off += INT_MAX) {
        int k = n - off < (size_t)INT_MAX ? (int)(n - off) : INT_MAX;
        BLAS_CHECK(cublasSaxpy(cx->blas, k, &alpha, x + off, 1, y + off, 1));
    }
    return MC_OK;
}

static int cu_scale(mc_backend *be, size_t n, float alpha, float *x) {
    CU_ENTER(be, cx);
    for (size_t off = 0; off < n; off += INT_MAX) {
        int k = n - off < (size_t)INT_MAX ? (int)(n - off) : INT_MAX;
        BLAS_CHECK(cublasSscal(cx->blas, k, &alpha, x + off, 1));
    }
    return MC_OK;
}

static int cu_copy2d(mc_backend *be, size_t rows, size_t cols, const float *src, size_t sst, float beta,
                     float *dst, size_t dstst) {
    CU_ENTER(be, cx);
    return mc_k_copy2d(cx->stream, rows, cols, src, sst, beta, dst, dstst);
}

/* ---- convolution helpers ---------------------------------------------------------------- */
static size_t cu_conv_workspace(mc_backend *be, const mc_conv_desc *d) { return mc_cuda_conv_workspace(be, d); }

static int cu_bias_fwd(mc_backend *be, int n, int c, int hw, const float *b, float *y) {
    CU_ENTER(be, cx);
    return mc_k_bias_fwd(cx->stream, n, c, hw, b, y);
}

static int cu_bias_bwd(mc_backend *be, int n, int c, int hw, const float *dy, float beta, float *db) {
    CU_ENTER(be, cx);
    return mc_k_bias_bwd(cx->stream, n, c, hw, dy, beta, db);
}

/* ---- batch norm ------------------------------------------------------------------------- */
#ifdef MC_CUDNN
/* cuDNN's spatial batch norm covers the case when there are at least 2 values per channel (the
 * unbiased variance of the running estimate needs m > 1) and eps is within its limit. x is
 * described as (n, c, 1, hw); the parameter tensors as cuDNN derives them, (1, c, 1, 1). */
/* the epsilon handed to cuDNN: eps itself, or cuDNN's minimum when eps (a float 1e-5 is
 * 0.99999997e-5) is below it by float rounding only (cuDNN before 8 requires >= 1e-5) */
static double bn_eps(const mc_bn_desc *d) {
    double e = (double)d->eps;
    return e < CUDNN_BN_MIN_EPSILON && e >= CUDNN_BN_MIN_EPSILON * (1.0 - 1e-6) ? CUDNN_BN_MIN_EPSILON : e;
}

static int bn_cudnn_ok(mc_cuda_ctx *cx, const mc_bn_desc *d) {
    return cx->use_cudnn && d->n >= 1 && (long long)d->n * d->hw >= 2 && bn_eps(d) >= CUDNN_BN_MIN_EPSILON;
}

static int bn_describe(mc_cuda_ctx *cx, const mc_bn_desc *d) {
    DNN_CHECK(cudnnSetTensor4dDescriptor(cx->bn_x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, d->n, d->c, 1, d->hw));
    DNN_CHECK(cudnnDeriveBNTensorDescriptor(cx->bn_p, cx->bn_x, CUDNN_BATCHNORM_SPATIAL));
    return MC_OK;
}
#endif

static int cu_bn_fwd_train(mc_backend *be, const mc_bn_desc *d, const float *x, const float *gamma,
                           const float *bias, float *rmean, float *rvar, int update, float *save_mean,
                           float *save_invstd, float *y) {
    CU_ENTER(be, cx);
#ifdef MC_CUDNN
    if (bn_cudnn_ok(cx, d)) {
        MC_TRY(bn_describe(cx, d));
        const float one = 1.0f, zero = 0.0f;
        /* running = (1 - factor)*running + factor*batch, the variance unbiased: PyTorch's
         * momentum is cuDNN's exponentialAverageFactor */
        DNN_CHECK(cudnnBatchNormalizationForwardTraining(
            cx->dnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, cx->bn_x, x, cx->bn_x, y, cx->bn_p, gamma, bias,
            (double)d->momentum, update ? rmean : NULL, update ? rvar : NULL, bn_eps(d), save_mean,
            save_invstd));
        return MC_OK;
    }
#endif
    return mc_k_bn_fwd_train(cx->stream, d, x, gamma, bias, rmean, rvar, update, save_mean, save_invstd, y);
}

static int cu_bn_fwd_infer(mc_backend *be, const mc_bn_desc *d, const float *x, const float *gamma,
                           const float *bias, const float *rmean, const float *rvar, float *y) {
    CU_ENTER(be, cx);
#ifdef MC_CUDNN
    if (bn_cudnn_ok(cx, d)) {
        MC_TRY(bn_describe(cx, d));
        const float one = 1.0f, zero = 0.0f;
        DNN_CHECK(cudnnBatchNormalizationForwardInference(cx->dnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, cx->bn_x,
                                                          x, cx->bn_x, y, cx->bn_p, gamma, bias, rmean, rvar,
                                                          bn_eps(d)));
        return MC_OK;
    }
#endif
    return mc_k_bn_fwd_infer(cx->stream, d, x, gamma, bias, rmean, rvar, y);
}

static int cu_bn_bwd_train(mc_backend *be, const mc_bn_desc *d, const float *x, const float *dy,
                           const float *gamma, const float *save_mean, const float *save_invstd, float beta_dx,
                           float *dx, float beta_p, float *dgamma, float *dbeta) {
    CU_ENTER(be, cx);
#ifdef MC_CUDNN
    /* cuDNN computes all three gradients; when one is not wanted, the own kernel runs */
    if (bn_cudnn_ok(cx, d) && dx && dgamma && dbeta) {
        MC_TRY(bn_describe(cx, d));
        const float one = 1.0f;
        DNN_CHECK(cudnnBatchNormalizationBackward(cx->dnn, CUDNN_BATCHNORM_SPATIAL, &one, &beta_dx, &one, &beta_p,
                                                  cx->bn_x, x, cx->bn_x, dy, cx->bn_x, dx, cx->bn_p, gamma, dgamma,
                                                  dbeta, bn_eps(d), save_mean, save_invstd));
        return MC_OK;
    }
#endif
    if (!dx && !dgamma && !dbeta) return MC_OK;
    return mc_k_bn_bwd(cx->stream, d, 1, x, dy, gamma, save_mean, save_invstd, beta_dx, dx, beta_p, dgamma, dbeta);
}

/* backward through the running statistics (frozen BN): cuDNN has no such primitive */
static int cu_bn_bwd_infer(mc_backend *be, const mc_bn_desc *d, const float *x, const float *dy,
                           const float *gamma, const float *rmean, const float *rvar, float beta_dx, float *dx,
                           float beta_p, float *dgamma, float *dbeta) {
    CU_ENTER(be, cx);
    if (!dx && !dgamma && !dbeta) return MC_OK;
    return mc_k_bn_bwd(cx->stream, d, 0, x, dy, gamma, rmean, rvar, beta_dx, dx, beta_p, dgamma, dbeta);
}

/* ---- pooling, activations, shuffle, pad (own kernels: see docs/gpu.md) ------------------- */
static int cu_pool_fwd(mc_backend *be, const mc_pool_desc *d, const float *x, float *y) {
    CU_ENTER(be, cx);
    if (d->mode != MC_POOL_MAX && d->mode != MC_POOL_AVG)
        return mc_err(MC_EUNSUP, "cuda backend: unknown pooling mode %d", d->mode);
    return mc_k_pool_fwd(cx->stream, d, x, y);
}

static int cu_pool_bwd(mc_backend *be, const mc_pool_desc *d, const float *x, const float *y, const float *dy,
                       float beta, float *dx) {
    CU_ENTER(be, cx);
    if (d->mode != MC_POOL_MAX && d->mode != MC_POOL_AVG)
        return mc_err(MC_EUNSUP, "cuda backend: unknown pooling mode %d", d->mode);
    return mc_k_pool_bwd(cx->stream, d, x, dy, beta, dx);
}

static int cu_act_fwd(mc_backend *be, const mc_act *a, size_t n, const float *x, float *y) {
    CU_ENTER(be, cx);
    if (!mc_act_known(a->type)) return mc_err(MC_EUNSUP, "cuda backend: unknown activation %d", a->type);
    if (a->type == MC_ACT_LINEAR) {
        if (x != y && n) CU_CHECK(cudaMemcpyAsync(y, x, n * sizeof(float), cudaMemcpyDeviceToDevice, cx->stream));
        return MC_OK;
    }
    return mc_k_act_fwd(cx->stream, a, n, x, y);
}

static int cu_act_bwd(mc_backend *be, const mc_act *a, size_t n, const float *y, const float *dy, float beta,
                      float *dx) {
    CU_ENTER(be, cx);
    if (!mc_act_known(a->type)) return mc_err(MC_EUNSUP, "cuda backend: unknown activation %d", a->type);
    return mc_k_act_bwd(cx->stream, a, n, y, dy, beta, dx);
}

static int cu_shuffle_fwd(mc_backend *be, int n, int c, int h, int w, int r, const float *x, float *y) {
    CU_ENTER(be, cx);
    return mc_k_shuffle_fwd(cx->stream, n, c, h, w, r, x, y);
}

static int cu_shuffle_bwd(mc_backend *be, int n, int c, int h, int w, int r, const float *dy, float beta,
                          float *dx) {
    CU_ENTER(be, cx);
    return mc_k_shuffle_bwd(cx->stream, n, c, h, w, r, dy, beta, dx);
}

static int cu_pad_fwd(mc_backend *be, int n, int c, int h, int w, int l, int r, int t, int b, const float *x,
                      float *y) {
    CU_ENTER(be, cx);
    return mc_k_pad_fwd(cx->stream, n, c, h, w, l, r, t, b, x, y);
}

static int cu_pad_bwd(mc_backend *be, int n, int c, int h, int w, int l, int r, int t, int b, const float *dy,
                      float beta, float *dx) {
    CU_ENTER(be, cx);
    return mc_k_pad_bwd(cx->stream, n, c, h, w, l, r, t, b, dy, beta, dx);
}

/* ---- loss, optimiser, checks ------------------------------------------------------------ */
static int cu_bce_fwd(mc_backend *be, size_t n, const float *z, const float *t, const float *mask, float *prob,
                      double *loss, double *count) {
    CU_ENTER(be, cx);
    MC_TRY(mc_k_bce_fwd(cx->stream, n, z, t, mask, prob, cx->dred));
    CU_CHECK(cudaMemcpyAsync(cx->hred, cx->dred + 2 * MC_CUDA_RED_BLOCKS, 2 * sizeof(double),
                             cudaMemcpyDeviceToHost, cx->stream));
    CU_CHECK(cudaStreamSynchronize(cx->stream));
    mc_bce_finish(cx->hred[0], cx->hred[1], loss, count);
    return MC_OK;
}

static int cu_bce_bwd(mc_backend *be, size_t n, const float *prob, const float *t, const float *mask,
                      float scale, float beta, float *dz) {
    CU_ENTER(be, cx);
    return mc_k_bce_bwd(cx->stream, n, prob, t, mask, scale, beta, dz);
}

static int cu_sgd(mc_backend *be, size_t n, float *w, const float *g, float *v, float lr, float momentum, float wd,
                  int decoupled) {
    CU_ENTER(be, cx);
    return mc_k_sgd(cx->stream, n, w, g, v, lr, momentum, wd, decoupled);
}

static int cu_adam(mc_backend *be, size_t n, float *w, const float *g, float *m, float *v, const mc_adam_coef *c) {
    CU_ENTER(be, cx);
    return mc_k_adam(cx->stream, n, w, g, m, v, c);
}

static int cu_rmsprop(mc_backend *be, size_t n, float *w, const float *g, float *sq, float *ga, float *buf,
                      const mc_rmsprop_coef *c) {
    CU_ENTER(be, cx);
    if ((c->centered && !ga) || (c->momentum > 0.0f && !buf))
        return mc_err(MC_EARG, "cuda backend: rmsprop without its %s buffer", !buf ? "momentum" : "average");
    return mc_k_rmsprop(cx->stream, n, w, g, sq, c->centered ? ga : NULL, c->momentum > 0.0f ? buf : NULL, c);
}

static int cu_reg_loss_fwd(mc_backend *be, int type, size_t n, const float *z, const float *t, const float *mask,
                           double *loss, double *count) {
    CU_ENTER(be, cx);
    if (type != MC_LOSS_MSE && type != MC_LOSS_L1) return mc_err(MC_EUNSUP, "cuda backend: unknown loss %d", type);
    MC_TRY(mc_k_reg_fwd(cx->stream, type, n, z, t, mask, cx->dred));
    CU_CHECK(cudaMemcpyAsync(cx->hred, cx->dred + 2 * MC_CUDA_RED_BLOCKS, 2 * sizeof(double),
                             cudaMemcpyDeviceToHost, cx->stream));
    CU_CHECK(cudaStreamSynchronize(cx->stream));
    mc_bce_finish(cx->hred[0], cx->hred[1], loss, count);
    return MC_OK;
}

static int cu_reg_loss_bwd(mc_backend *be, int type, size_t n, const float *z, const float *t, const float *mask,
                           float scale, float beta, float *dz) {
    CU_ENTER(be, cx);
    if (type != MC_LOSS_MSE && type != MC_LOSS_L1) return mc_err(MC_EUNSUP, "cuda backend: unknown loss %d", type);
    return mc_k_reg_bwd(cx->stream, type, n, z, t, mask, scale, beta, dz);
}

static int cu_upsample_fwd(mc_backend *be, int mode, int n, int c, int h, int w, int f, const float *x, float *y) {
    CU_ENTER(be, cx);
    if (mode != MC_UP_NEAREST && mode != MC_UP_BILINEAR)
        return mc_err(MC_EUNSUP, "cuda backend: unknown upsampling mode %d", mode);
    if (f < 1) return mc_err(MC_EARG, "cuda backend: upsampling factor %d", f);
    return mc_k_up_fwd(cx->stream, mode, n, c, h, w, f, x, y);
}

static int cu_upsample_bwd(mc_backend *be, int mode, int n, int c, int h, int w, int f, const float *dy, float beta,
                           float *dx) {
    CU_ENTER(be, cx);
    if (mode != MC_UP_NEAREST && mode != MC_UP_BILINEAR)
        return mc_err(MC_EUNSUP, "cuda backend: unknown upsampling mode %d", mode);
    if (f < 1) return mc_err(MC_EARG, "cuda backend: upsampling factor %d", f);
    return mc_k_up_bwd(cx->stream, mode, n, c, h, w, f, dy, beta, dx);
}

static int cu_all_finite(mc_backend *be, size_t n, const float *x, int *result) {
    CU_ENTER(be, cx);
    MC_TRY(mc_k_all_finite(cx->stream, n, x, cx->dflag));
    CU_CHECK(cudaMemcpyAsync(cx->hflag, cx->dflag, sizeof(int), cudaMemcpyDeviceToHost, cx->stream));
    CU_CHECK(cudaStreamSynchronize(cx->stream));
    *result = *cx->hflag ? 1 : 0;
    return MC_OK;
}

/* ---- creation --------------------------------------------------------------------------- */
static int env_flag(const char *name, int def) {
    const char *v = getenv(name);
    if (!v || !*v) return def;
    return strcmp(v, "0") != 0;
}

/* Frees whatever of the context exists (also of a half-made one). */
static void ctx_free(mc_cuda_ctx *cx) {
    if (!cx) return;
    if (cudaSetDevice(cx->dev) != cudaSuccess) (void)cudaGetLastError();
    if (cx->stream && cudaStreamSynchronize(cx->stream) != cudaSuccess) (void)cudaGetLastError();
    mc_cuda_conv_free(cx);
#ifdef MC_CUDNN
    if (cx->bn_x) cudnnDestroyTensorDescriptor(cx->bn_x);
    if (cx->bn_p) cudnnDestroyTensorDescriptor(cx->bn_p);
    if (cx->dnn) cudnnDestroy(cx->dnn);
#endif
    if (cx->blas) cublasDestroy(cx->blas);
    for (int i = 0; i < 2; i++) {
        if (cx->stage[i]) cudaFreeHost(cx->stage[i]);
        if (cx->stage_ev[i]) cudaEventDestroy(cx->stage_ev[i]);
    }
    if (cx->hred) cudaFreeHost(cx->hred);
    if (cx->hflag) cudaFreeHost(cx->hflag);
    if (cx->dred) cudaFree(cx->dred);
    if (cx->dflag) cudaFree(cx->dflag);
    if (cx->stream) cudaStreamDestroy(cx->stream);
    (void)cudaGetLastError();
    free(cx);
}

static void cu_destroy(mc_backend *be) {
    if (!be) return;
    ctx_free(mc_cuda_ctx_of(be));
    free(be);
}

static int ctx_init(mc_cuda_ctx *cx) {
    CU_CHECK(cudaSetDevice(cx->dev));
    MC_TRY(mc_k_probe());
    CU_CHECK(cudaStreamCreateWithFlags(&cx->stream, cudaStreamNonBlocking));
    BLAS_CHECK(cublasCreate(&cx->blas));
    BLAS_CHECK(cublasSetStream(cx->blas, cx->stream));
    BLAS_CHECK(cublasSetPointerMode(cx->blas, CUBLAS_POINTER_MODE_HOST));
#if CUDART_VERSION >= 11000
    BLAS_CHECK(cublasSetMathMode(cx->blas, cx->tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
#endif
#ifdef MC_CUDNN
    if (cx->use_cudnn) {
        DNN_CHECK(cudnnCreate(&cx->dnn));
        DNN_CHECK(cudnnSetStream(cx->dnn, cx->stream));
        DNN_CHECK(cudnnCreateTensorDescriptor(&cx->bn_x));
        DNN_CHECK(cudnnCreateTensorDescriptor(&cx->bn_p));
    }
#endif
    MC_TRY(mc_cuda_conv_init(cx));
    CU_CHECK(cudaMalloc((void **)&cx->dred, (2 * MC_CUDA_RED_BLOCKS + 2) * sizeof(double)));
    CU_CHECK(cudaMalloc((void **)&cx->dflag, sizeof(int)));
    CU_CHECK(cudaMallocHost((void **)&cx->hred, 2 * sizeof(double)));
    CU_CHECK(cudaMallocHost((void **)&cx->hflag, sizeof(int)));
    /* pinned staging is an optimisation: without it uploads are plain copies */
    cx->stage_n = STAGE_FLOATS;
    for (int i = 0; i < 2; i++) {
        if (cudaMallocHost((void **)&cx->stage[i], cx->stage_n * sizeof(float)) != cudaSuccess ||
            cudaEventCreateWithFlags(&cx->stage_ev[i], cudaEventDisableTiming) != cudaSuccess) {
            (void)cudaGetLastError();
            for (int j = 0; j <= i; j++) {
                if (cx->stage[j]) cudaFreeHost(cx->stage[j]);
                if (cx->stage_ev[j]) cudaEventDestroy(cx->stage_ev[j]);
                cx->stage[j] = NULL;
                cx->stage_ev[j] = NULL;
            }
            break;
        }
    }
    return MC_OK;
}

extern "C" int mc_backend_cuda_create(mc_backend **out, int gpu) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
        (void)cudaGetLastError();
        return mc_err(MC_EUNSUP, "%s:%d: no usable CUDA GPU on this machine (cudaGetDeviceCount: %s)", __FILE__,
                      __LINE__, e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    }
    if (gpu < 0 || gpu >= count)
        return mc_err(MC_EARG, "--gpu %d: this machine has %d CUDA device%s (0..%d)", gpu, count,
                      count == 1 ? "" : "s", count - 1);
    mc_cuda_ctx *cx = (mc_cuda_ctx *)mc_calloc(1, sizeof *cx, "cuda backend");
    if (!cx) return MC_ENOMEM;
    cx->dev = gpu;
    cx->tf32 = env_flag("MEDCOLOR_TF32", 0);
#ifdef MC_CUDNN
    cx->use_cudnn = env_flag("MEDCOLOR_CUDNN", 1);
    cx->find = env_flag("MEDCOLOR_CUDNN_FIND", 0);
    cx->deterministic = env_flag("MEDCOLOR_DETERMINISTIC", 0);
    const char *mb = getenv("MEDCOLOR_CUDNN_WORKSPACE_MB");
    long long lim = mb && *mb ? atoll(mb) : 1024;
    cx->ws_limit = (size_t)(lim > 0 ? lim : 0) << 20;
#else
    cx->use_cudnn = 0;
#endif
    int rc = ctx_init(cx);
    if (rc < 0) {
        ctx_free(cx);
        return mc_err_context(rc, "cuda backend on GPU %d", gpu);
    }
    mc_backend *be = (mc_backend *)mc_calloc(1, sizeof *be, "cuda backend");
    if (!be) {
        ctx_free(cx);
        return MC_ENOMEM;
    }
    be->name = "cuda";
    be->ctx = cx;
    be->is_host = 0;
    be->destroy = cu_destroy;
    be->alloc = cu_alloc;
    be->free = cu_free;
    be->upload = cu_upload;
    be->download = cu_download;
    be->fill = cu_fill;
    be->sync = cu_sync;
    be->conv_workspace = cu_conv_workspace;
    be->conv_fwd = mc_cuda_conv_fwd;
    be->conv_bwd_data = mc_cuda_conv_bwd_data;
    be->conv_bwd_filter = mc_cuda_conv_bwd_filter;
    be->bias_fwd = cu_bias_fwd;
    be->bias_bwd = cu_bias_bwd;
    be->bn_fwd_train = cu_bn_fwd_train;
    be->bn_fwd_infer = cu_bn_fwd_infer;
    be->bn_bwd_train = cu_bn_bwd_train;
    be->bn_bwd_infer = cu_bn_bwd_infer;
    be->pool_fwd = cu_pool_fwd;
    be->pool_bwd = cu_pool_bwd;
    be->act_fwd = cu_act_fwd;
    be->act_bwd = cu_act_bwd;
    be->gemm = cu_gemm;
    be->axpy = cu_axpy;
    be->scale = cu_scale;
    be->copy2d = cu_copy2d;
    be->shuffle_fwd = cu_shuffle_fwd;
    be->shuffle_bwd = cu_shuffle_bwd;
    be->pad_fwd = cu_pad_fwd;
    be->pad_bwd = cu_pad_bwd;
    be->bce_fwd = cu_bce_fwd;
    be->bce_bwd = cu_bce_bwd;
    be->sgd = cu_sgd;
    be->adam = cu_adam;
    be->rmsprop = cu_rmsprop;
    be->reg_loss_fwd = cu_reg_loss_fwd;
    be->reg_loss_bwd = cu_reg_loss_bwd;
    be->upsample_fwd = cu_upsample_fwd;
    be->upsample_bwd = cu_upsample_bwd;
    be->all_finite = cu_all_finite;
    *out = be;
    return MC_OK;
}

/* the registration (engine/backends.c): no fused operations (the layers compose primitives) */
static int cuda_create(mc_backend **out, const mc_net_opts *opts) { return mc_backend_cuda_create(out, opts->gpu); }
extern "C" const mc_backend_entry mc_backend_cuda_entry = {"cuda", MC_BACKEND_CUDA, cuda_create, 0, NULL};
