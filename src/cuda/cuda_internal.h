/* cuda_internal.h — what the CUDA backend's translation units share (nvcc only, C++).
 *
 * - mc_cuda_ctx: the backend's private state (be->ctx): device index, stream, cuBLAS and cuDNN
 *   handles, the cache of convolution plans, small device/pinned buffers for reductions and
 *   pinned staging for uploads. There is no global state: two backends on two devices coexist.
 * - CU_CHECK / BLAS_CHECK / DNN_CHECK: every CUDA, cuBLAS and cuDNN call is checked; a failure
 *   sets mc_err("file:line: call: library message") and returns the error code from the
 *   enclosing function (MC_ENOMEM for allocation failures, MC_EBACKEND otherwise).
 * - The kernel launchers of kernels.cu (mc_k_*) and the convolution entry points of
 *   conv_cuda.cu, all returning MC_OK or an error code.
 */
#ifndef MC_CUDA_INTERNAL_H
#define MC_CUDA_INTERNAL_H

#include <cuda_runtime.h>
#include <cublas_v2.h>
#ifdef MC_CUDNN
#include <cudnn.h>
#endif
#include "cuda/cuda_math.h"

/* one convolution's cuDNN descriptors and chosen algorithms, keyed by its mc_conv_desc */
typedef struct mc_conv_plan mc_conv_plan;

typedef struct mc_cuda_ctx {
    int dev;                 /* device index (--gpu N) */
    cudaStream_t stream;     /* every operation runs on this one stream, in order */
    cublasHandle_t blas;
    int tf32;                /* 1: TF32 tensor cores allowed (MEDCOLOR_TF32=1); 0: true FP32 */
    int use_cudnn;           /* 1: cuDNN for convolution and batch norm (0 with MEDCOLOR_CUDNN=0) */
#ifdef MC_CUDNN
    cudnnHandle_t dnn;
    cudnnTensorDescriptor_t bn_x, bn_p; /* reused by every batch-norm call */
    mc_conv_plan *plans;     /* linked list */
    size_t ws_limit;         /* bytes: largest convolution workspace an algorithm may use */
    int find;                /* 1: cudnnFind* (benchmark) instead of the _v7 heuristics */
    int deterministic;       /* 1: only deterministic convolution algorithms */
#endif
    double *dred;            /* device: 2*MC_CUDA_RED_BLOCKS partial sums + 2 totals */
    int *dflag;              /* device: one int (all_finite) */
    double *hred;            /* pinned host: 2 totals */
    int *hflag;              /* pinned host: one int */
    float *stage[2];         /* pinned host staging for uploads (NULL: plain copies) */
    cudaEvent_t stage_ev[2]; /* recorded after the copy out of stage[i] */
    size_t stage_n;          /* floats per staging buffer */
    int stage_next;
} mc_cuda_ctx;

static inline mc_cuda_ctx *mc_cuda_ctx_of(mc_backend *be) { return (mc_cuda_ctx *)be->ctx; }

/* error reporting (error_cuda in backend_cuda.cu) */
int mc_cuda_fail_rt(cudaError_t e, const char *call, const char *file, int line);
int mc_cuda_fail_blas(cublasStatus_t s, const char *call, const char *file, int line);
#ifdef MC_CUDNN
int mc_cuda_fail_dnn(cudnnStatus_t s, const char *call, const char *file, int line);
#endif

#define CU_CHECK(call)                                                                             \
    do {                                                                                           \
        cudaError_t cu_e_ = (call);                                                                \
        if (cu_e_ != cudaSuccess) return mc_cuda_fail_rt(cu_e_, #call, __FILE__, __LINE__);         \
    } while (0)
/* after a kernel launch: launch-configuration errors now, execution errors at the next sync */
#define CU_CHECK_LAUNCH(name)                                                                      \
    do {                                                                                           \
        cudaError_t cu_e_ = cudaGetLastError();                                                    \
        if (cu_e_ != cudaSuccess) return mc_cuda_fail_rt(cu_e_, "launch of " name, __FILE__, __LINE__); \
    } while (0)
#define BLAS_CHECK(call)                                                                           \
    do {                                                                                           \
        cublasStatus_t bl_s_ = (call);                                                             \
        if (bl_s_ != CUBLAS_STATUS_SUCCESS) return mc_cuda_fail_blas(bl_s_, #call, __FILE__, __LINE__); \
    } while (0)
#ifdef MC_CUDNN
#define DNN_CHECK(call)                                                                            \
    do {                                                                                           \
        cudnnStatus_t dn_s_ = (call);                                                              \
        if (dn_s_ != CUDNN_STATUS_SUCCESS) return mc_cuda_fail_dnn(dn_s_, #call, __FILE__, __LINE__); \
    } while (0)
#endif

/* Makes the backend's device current for the calling host thread (first line of every
 * operation, so that nets on different GPUs can be used from one thread). */
#define CU_ENTER(be, cx)                                                                           \
    mc_cuda_ctx *cx = mc_cuda_ctx_of(be);                                                          \
    CU_CHECK(cudaSetDevice(cx->dev))

/* row-major C = alpha op(A) op(B) + beta C over `batch` matrices at the given strides (floats);
 * k <= 0 scales C by beta (0 clears) */
int mc_cuda_gemm_rm(mc_cuda_ctx *cx, int ta, int tb, int m, int n, int k, float alpha, const float *a,
                    int lda, long long sa, const float *b, int ldb, long long sb, float beta, float *c,
                    int ldc, long long sc, int batch);

/* ---- kernel launchers (kernels.cu); s = the backend's stream ---------------------------- */
/* MC_OK when this binary has kernels for the current device (else a message naming ARCH=) */
int mc_k_probe(void);
int mc_k_fill(cudaStream_t s, float *p, float v, size_t n);
int mc_k_scale2d(cudaStream_t s, size_t rows, size_t cols, float beta, float *c, size_t ldc);
int mc_k_copy2d(cudaStream_t s, size_t rows, size_t cols, const float *src, size_t sst, float beta,
                float *dst, size_t dst_stride);
int mc_k_bias_fwd(cudaStream_t s, int n, int c, int hw, const float *b, float *y);
int mc_k_bias_bwd(cudaStream_t s, int n, int c, int hw, const float *dy, float beta, float *db);
int mc_k_act_fwd(cudaStream_t s, const mc_act *a, size_t n, const float *x, float *y);
int mc_k_act_bwd(cudaStream_t s, const mc_act *a, size_t n, const float *y, const float *dy, float beta,
                 float *dx);
int mc_k_shuffle_fwd(cudaStream_t s, int n, int c, int h, int w, int r, const float *x, float *y);
int mc_k_shuffle_bwd(cudaStream_t s, int n, int c, int h, int w, int r, const float *dy, float beta,
                     float *dx);
int mc_k_pad_fwd(cudaStream_t s, int n, int c, int h, int w, int l, int r, int t, int b, const float *x,
                 float *y);
int mc_k_pad_bwd(cudaStream_t s, int n, int c, int h, int w, int l, int r, int t, int b, const float *dy,
                 float beta, float *dx);
int mc_k_pool_fwd(cudaStream_t s, const mc_pool_desc *d, const float *x, float *y);
int mc_k_pool_bwd(cudaStream_t s, const mc_pool_desc *d, const float *x, const float *dy, float beta,
                  float *dx);
int mc_k_im2col(cudaStream_t s, const mc_conv_desc *d, const float *x, float *col);
int mc_k_col2im(cudaStream_t s, const mc_conv_desc *d, const float *col, float beta, float *x);
/* batch norm without cuDNN (one block per channel) */
int mc_k_bn_fwd_train(cudaStream_t s, const mc_bn_desc *d, const float *x, const float *gamma,
                      const float *bias, float *rmean, float *rvar, int update, float *save_mean,
                      float *save_invstd, float *y);
int mc_k_bn_fwd_infer(cudaStream_t s, const mc_bn_desc *d, const float *x, const float *gamma,
                      const float *bias, const float *rmean, const float *rvar, float *y);
int mc_k_bn_bwd(cudaStream_t s, const mc_bn_desc *d, int train, const float *x, const float *dy,
                const float *gamma, const float *mean, const float *var_or_invstd, float beta_dx,
                float *dx, float beta_p, float *dgamma, float *dbeta);
/* loss: prob = sigmoid(z); sums (masked loss, mask count) to dred[2*MC_CUDA_RED_BLOCKS..+1] */
int mc_k_bce_fwd(cudaStream_t s, size_t n, const float *z, const float *t, const float *mask, float *prob,
                 double *dred);
int mc_k_bce_bwd(cudaStream_t s, size_t n, const float *prob, const float *t, const float *mask,
                 float scale, float beta, float *dz);
int mc_k_sgd(cudaStream_t s, size_t n, float *w, const float *g, float *v, float lr, float momentum,
             float wd, int decoupled);
int mc_k_adam(cudaStream_t s, size_t n, float *w, const float *g, float *m, float *v, const mc_adam_coef *c);
int mc_k_rmsprop(cudaStream_t s, size_t n, float *w, const float *g, float *sq, float *ga, float *buf,
                 const mc_rmsprop_coef *c);
/* dense regression losses: sums (masked loss, mask count) to dred[2*MC_CUDA_RED_BLOCKS..+1] */
int mc_k_reg_fwd(cudaStream_t s, int type, size_t n, const float *z, const float *t, const float *mask,
                 double *dred);
int mc_k_reg_bwd(cudaStream_t s, int type, size_t n, const float *z, const float *t, const float *mask,
                 float scale, float beta, float *dz);
int mc_k_up_fwd(cudaStream_t s, int mode, int n, int c, int h, int w, int f, const float *x, float *y);
int mc_k_up_bwd(cudaStream_t s, int mode, int n, int c, int h, int w, int f, const float *dy, float beta,
                float *dx);
/* *dflag = 1, then 0 when any of x is not finite */
int mc_k_all_finite(cudaStream_t s, size_t n, const float *x, int *dflag);

/* ---- convolution (conv_cuda.cu) ---------------------------------------------------------- */
int mc_cuda_conv_init(mc_cuda_ctx *cx);
void mc_cuda_conv_free(mc_cuda_ctx *cx);
size_t mc_cuda_conv_workspace(mc_backend *be, const mc_conv_desc *d);
int mc_cuda_conv_fwd(mc_backend *be, const mc_conv_desc *d, const float *x, const float *w, float beta,
                     float *y, float *ws);
int mc_cuda_conv_bwd_data(mc_backend *be, const mc_conv_desc *d, const float *dy, const float *w,
                          float beta, float *dx, float *ws);
int mc_cuda_conv_bwd_filter(mc_backend *be, const mc_conv_desc *d, const float *x, const float *dy,
                            float beta, float *dw, float *ws);

#endif
