/* conv_cuda.cu — convolution forward / backward-data / backward-filter on the GPU.
 *
 * With cuDNN (make CUDNN=1, and MEDCOLOR_CUDNN not set to 0): one "plan" per distinct
 * mc_conv_desc — the tensor, filter and convolution descriptors (grouped, cross-correlation,
 * FP32; TF32 only with MEDCOLOR_TF32=1) and an algorithm for each of the three directions —
 * made on first use (normally from conv_workspace, when a layer is set up) and kept in the
 * backend's list. Algorithms come from cudnnGet*Algorithm_v7 (cuDNN's heuristics, in their
 * order) or, with MEDCOLOR_CUDNN_FIND=1, from cudnnFind*Algorithm (measured); the first one
 * that succeeds, fits the workspace limit (MEDCOLOR_CUDNN_WORKSPACE_MB, default 1024), runs in
 * FP32 (unless TF32 is allowed) and, with MEDCOLOR_DETERMINISTIC=1, is deterministic, is taken.
 * conv_workspace reports the largest of the three workspaces in floats, so the net's shared
 * workspace fits every call. An inconsistent description (output size) is MC_ESHAPE.
 *
 * Without cuDNN (CUDNN=0, or MEDCOLOR_CUDNN=0): the im2col + GEMM drivers of conv_fallback.h
 * on cuBLAS (strided-batched over the groups) and the im2col / col2im kernels; workspace: one
 * image's column matrix, c*kh*kw*oh*ow floats. The same arithmetic as the CPU backend.
 *
 * A zero batch (n = 0) does nothing (backward-filter scales dw by beta), as the CPU backend.
 */
#include <stdlib.h>
#include <string.h>
#include "cuda/cuda_internal.h"
#include "cuda/conv_fallback.h"

/* ---- im2col + GEMM (conv_fallback.h) on cuBLAS and the kernels -------------------------- */
static int op_gemm(void *ctx, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                   long long sa, const float *b, int ldb, long long sb, float beta, float *c, int ldc, long long sc,
                   int batch) {
    return mc_cuda_gemm_rm((mc_cuda_ctx *)ctx, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc,
                           batch);
}
static int op_im2col(void *ctx, const mc_conv_desc *d, const float *x, float *col) {
    return mc_k_im2col(((mc_cuda_ctx *)ctx)->stream, d, x, col);
}
static int op_col2im(void *ctx, const mc_conv_desc *d, const float *col, float beta, float *x) {
    return mc_k_col2im(((mc_cuda_ctx *)ctx)->stream, d, col, beta, x);
}
static int op_scale(void *ctx, size_t n, float beta, float *x) {
    return mc_k_scale2d(((mc_cuda_ctx *)ctx)->stream, 1, n, beta, x, n);
}
static mc_conv_fb_ops fb_ops(mc_cuda_ctx *cx) {
    mc_conv_fb_ops o;
    o.ctx = cx;
    o.gemm = op_gemm;
    o.im2col = op_im2col;
    o.col2im = op_col2im;
    o.scale = op_scale;
    return o;
}

/* ---- cuDNN plans ------------------------------------------------------------------------ */
#ifdef MC_CUDNN
struct mc_conv_plan {
    mc_conv_desc d;
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    cudnnConvolutionFwdAlgo_t fwd;
    cudnnConvolutionBwdDataAlgo_t bwd_data;
    cudnnConvolutionBwdFilterAlgo_t bwd_filter;
    size_t ws_fwd, ws_data, ws_filter; /* bytes */
    /* the math type each chosen algorithm was picked with (TF32 only; FP32 stays CUDNN_FMA_MATH):
     * cuDNN runs an algorithm with the descriptor's math type, so it is set before each call */
    cudnnMathType_t math_fwd, math_data, math_filter;
    int reported;                      /* its workspace went out through conv_workspace */
    mc_conv_plan *next;
};

static int same_desc(const mc_conv_desc *a, const mc_conv_desc *b) {
    return a->n == b->n && a->c == b->c && a->h == b->h && a->w == b->w && a->k == b->k && a->oh == b->oh &&
           a->ow == b->ow && a->kh == b->kh && a->kw == b->kw && a->sh == b->sh && a->sw == b->sw &&
           a->ph == b->ph && a->pw == b->pw && a->groups == b->groups;
}

static void plan_free(mc_conv_plan *p) {
    if (!p) return;
    if (p->x) cudnnDestroyTensorDescriptor(p->x);
    if (p->y) cudnnDestroyTensorDescriptor(p->y);
    if (p->w) cudnnDestroyFilterDescriptor(p->w);
    if (p->conv) cudnnDestroyConvolutionDescriptor(p->conv);
    free(p);
}

#define MAX_ALGOS 32

/* The first acceptable algorithm of perf[0..n) (heuristic or measured order): it succeeded, its
 * workspace query succeeds and fits the limit, it computes in FP32 unless TF32 is allowed (never
 * with a conversion to FP16), and it is deterministic when MEDCOLOR_DETERMINISTIC=1.
 * ws_query(algo, &bytes) is the direction's cudnnGet*WorkspaceSize. With TF32 allowed, cuDNN
 * returns (algorithm, math type) pairs and the descriptor must carry the pair's math type when
 * the workspace is asked for and when the algorithm runs (else cuDNN may run another kernel for
 * it): it is set on conv for the query and returned in *math. Without TF32 the descriptor stays
 * CUDNN_FMA_MATH. */
template <typename Perf, typename Algo, typename Query>
static int pick_algo(mc_cuda_ctx *cx, cudnnConvolutionDescriptor_t conv, const Perf *perf, int n, Query ws_query,
                     const char *what, const mc_conv_desc *d, Algo *algo, size_t *ws, cudnnMathType_t *math) {
    for (int i = 0; i < n; i++) {
        if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > cx->ws_limit) continue;
        if (perf[i].mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) continue;
        if (!cx->tf32 && perf[i].mathType == CUDNN_TENSOR_OP_MATH) continue;
        if (cx->deterministic && perf[i].determinism != CUDNN_DETERMINISTIC) continue;
        if (cx->tf32) DNN_CHECK(cudnnSetConvolutionMathType(conv, perf[i].mathType));
        size_t bytes = 0;
        if (ws_query(perf[i].algo, &bytes) != CUDNN_STATUS_SUCCESS || bytes > cx->ws_limit) continue;
        *algo = perf[i].algo;
        *ws = bytes > perf[i].memory ? bytes : perf[i].memory;
        *math = cx->tf32 ? perf[i].mathType : CUDNN_FMA_MATH;
        return MC_OK;
    }
    return mc_err(MC_EBACKEND,
                  "cuDNN: no %s%s algorithm among %d for the convolution n=%d c=%d %dx%d -> k=%d %dx%d "
                  "(kernel %dx%d, stride %d,%d, padding %d,%d, groups %d) within the %zu MiB workspace limit "
                  "(MEDCOLOR_CUDNN_WORKSPACE_MB)",
                  cx->deterministic ? "deterministic " : "", what, n, d->n, d->c, d->h, d->w, d->k, d->oh, d->ow,
                  d->kh, d->kw, d->sh, d->sw, d->ph, d->pw, d->groups, cx->ws_limit >> 20);
}

/* The descriptor's math type for one direction (pick_algo's choice), or CUDNN_DEFAULT_MATH before
 * a search, so that cuDNN considers the TF32 and the FP32 kernels; FP32 keeps CUDNN_FMA_MATH. */
static int plan_math(mc_cuda_ctx *cx, mc_conv_plan *p, cudnnMathType_t math) {
    if (cx->tf32) DNN_CHECK(cudnnSetConvolutionMathType(p->conv, math));
    return MC_OK;
}

static int plan_algos(mc_cuda_ctx *cx, mc_conv_plan *p) {
    cudnnHandle_t h = cx->dnn;
    int n = 0, max = 0;
    {
        cudnnConvolutionFwdAlgoPerf_t perf[MAX_ALGOS];
        DNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(h, &max));
        MC_TRY(plan_math(cx, p, CUDNN_DEFAULT_MATH));
        if (max > MAX_ALGOS) max = MAX_ALGOS;
        if (cx->find)
            DNN_CHECK(cudnnFindConvolutionForwardAlgorithm(h, p->x, p->w, p->conv, p->y, max, &n, perf));
        else
            DNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, p->x, p->w, p->conv, p->y, max, &n, perf));
        auto q = [&](cudnnConvolutionFwdAlgo_t a, size_t *b) {
            return cudnnGetConvolutionForwardWorkspaceSize(h, p->x, p->w, p->conv, p->y, a, b);
        };
        MC_TRY(pick_algo(cx, p->conv, perf, n, q, "forward", &p->d, &p->fwd, &p->ws_fwd, &p->math_fwd));
    }
    {
        cudnnConvolutionBwdDataAlgoPerf_t perf[MAX_ALGOS];
        DNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, &max));
        MC_TRY(plan_math(cx, p, CUDNN_DEFAULT_MATH));
        if (max > MAX_ALGOS) max = MAX_ALGOS;
        if (cx->find)
            DNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithm(h, p->w, p->y, p->conv, p->x, max, &n, perf));
        else
            DNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p->w, p->y, p->conv, p->x, max, &n, perf));
        auto q = [&](cudnnConvolutionBwdDataAlgo_t a, size_t *b) {
            return cudnnGetConvolutionBackwardDataWorkspaceSize(h, p->w, p->y, p->conv, p->x, a, b);
        };
        MC_TRY(pick_algo(cx, p->conv, perf, n, q, "backward-data", &p->d, &p->bwd_data, &p->ws_data, &p->math_data));
    }
    {
        cudnnConvolutionBwdFilterAlgoPerf_t perf[MAX_ALGOS];
        DNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, &max));
        MC_TRY(plan_math(cx, p, CUDNN_DEFAULT_MATH));
        if (max > MAX_ALGOS) max = MAX_ALGOS;
        if (cx->find)
            DNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithm(h, p->x, p->y, p->conv, p->w, max, &n, perf));
        else
            DNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p->x, p->y, p->conv, p->w, max, &n, perf));
        auto q = [&](cudnnConvolutionBwdFilterAlgo_t a, size_t *b) {
            return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p->x, p->y, p->conv, p->w, a, b);
        };
        MC_TRY(pick_algo(cx, p->conv, perf, n, q, "backward-filter", &p->d, &p->bwd_filter, &p->ws_filter,
                          &p->math_filter));
    }
    return MC_OK;
}

static int plan_describe(mc_cuda_ctx *cx, mc_conv_plan *p) {
    const mc_conv_desc *d = &p->d;
    DNN_CHECK(cudnnCreateTensorDescriptor(&p->x));
    DNN_CHECK(cudnnCreateTensorDescriptor(&p->y));
    DNN_CHECK(cudnnCreateFilterDescriptor(&p->w));
    DNN_CHECK(cudnnCreateConvolutionDescriptor(&p->conv));
    DNN_CHECK(cudnnSetTensor4dDescriptor(p->x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, d->n, d->c, d->h, d->w));
    DNN_CHECK(cudnnSetTensor4dDescriptor(p->y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, d->n, d->k, d->oh, d->ow));
    DNN_CHECK(cudnnSetFilter4dDescriptor(p->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, d->k, d->c / d->groups,
                                         d->kh, d->kw));
    DNN_CHECK(cudnnSetConvolution2dDescriptor(p->conv, d->ph, d->pw, d->sh, d->sw, 1, 1, CUDNN_CROSS_CORRELATION,
                                              CUDNN_DATA_FLOAT));
    DNN_CHECK(cudnnSetConvolutionGroupCount(p->conv, d->groups));
    DNN_CHECK(cudnnSetConvolutionMathType(p->conv, cx->tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
    int on, ok, ooh, oow;
    DNN_CHECK(cudnnGetConvolution2dForwardOutputDim(p->conv, p->x, p->w, &on, &ok, &ooh, &oow));
    if (on != d->n || ok != d->k || ooh != d->oh || oow != d->ow)
        return mc_err(MC_ESHAPE,
                      "cuda backend: inconsistent convolution description: %dx%dx%dx%d with kernel %dx%d, "
                      "stride %d,%d, padding %d,%d gives %dx%dx%dx%d, not %dx%dx%dx%d",
                      d->n, d->c, d->h, d->w, d->kh, d->kw, d->sh, d->sw, d->ph, d->pw, on, ok, ooh, oow, d->n,
                      d->k, d->oh, d->ow);
    return MC_OK;
}

/* The plan for a convolution call: its workspace must have been asked for (the caller sized
 * `ws` from conv_workspace), else an algorithm needing more than the caller has could run. */
static int use_plan(mc_cuda_ctx *cx, const mc_conv_desc *d, mc_conv_plan **out);


/* *out = the plan of d: cached, or made now (descriptors + algorithms) */
static int get_plan(mc_cuda_ctx *cx, const mc_conv_desc *d, mc_conv_plan **out) {
    for (mc_conv_plan *p = cx->plans; p; p = p->next)
        if (same_desc(&p->d, d)) {
            *out = p;
            return MC_OK;
        }
    mc_conv_plan *p = (mc_conv_plan *)mc_calloc(1, sizeof *p, "cuDNN convolution plan");
    if (!p) return MC_ENOMEM;
    p->d = *d;
    int rc = plan_describe(cx, p);
    if (rc == MC_OK) rc = plan_algos(cx, p);
    if (rc < 0) {
        plan_free(p);
        return rc;
    }
    p->next = cx->plans;
    cx->plans = p;
    *out = p;
    return MC_OK;
}
static int use_plan(mc_cuda_ctx *cx, const mc_conv_desc *d, mc_conv_plan **out) {
    MC_TRY(get_plan(cx, d, out));
    if (!(*out)->reported && ((*out)->ws_fwd || (*out)->ws_data || (*out)->ws_filter))
        return mc_err(MC_EARG,
                      "cuda backend: convolution n=%d c=%d %dx%d -> k=%d %dx%d called without conv_workspace "
                      "for it (its workspace size is unknown to the caller)",
                      d->n, d->c, d->h, d->w, d->k, d->oh, d->ow);
    return MC_OK;
}
#endif /* MC_CUDNN */

int mc_cuda_conv_init(mc_cuda_ctx *cx) {
#ifdef MC_CUDNN
    cx->plans = NULL;
#endif
    return MC_OK;
}

void mc_cuda_conv_free(mc_cuda_ctx *cx) {
#ifdef MC_CUDNN
    while (cx->plans) {
        mc_conv_plan *n = cx->plans->next;
        plan_free(cx->plans);
        cx->plans = n;
    }
#endif
}

static int check_desc(const mc_conv_desc *d) {
    if (d->groups < 1 || d->c % d->groups || d->k % d->groups || d->n < 0 || d->kh < 1 || d->kw < 1 ||
        d->sh < 1 || d->sw < 1)
        return mc_err(MC_ESHAPE, "cuda backend: invalid convolution description (c=%d k=%d groups=%d)", d->c, d->k,
                      d->groups);
    return MC_OK;
}

/* Errors cannot be returned from here: on failure 0 is returned, mc_err is set, and the
 * convolution call that follows makes the plan again and returns the error. */
size_t mc_cuda_conv_workspace(mc_backend *be, const mc_conv_desc *d) {
    mc_cuda_ctx *cx = mc_cuda_ctx_of(be);
    cudaError_t e = cudaSetDevice(cx->dev);
    if (e != cudaSuccess) {
        mc_cuda_fail_rt(e, "cudaSetDevice", __FILE__, __LINE__);
        return 0;
    }
    if (check_desc(d) < 0 || d->n == 0) return 0;
#ifdef MC_CUDNN
    if (cx->use_cudnn) {
        mc_conv_plan *p;
        if (get_plan(cx, d, &p) < 0) return 0;
        p->reported = 1;
        size_t b = p->ws_fwd;
        if (p->ws_data > b) b = p->ws_data;
        if (p->ws_filter > b) b = p->ws_filter;
        return (b + sizeof(float) - 1) / sizeof(float);
    }
#endif
    return mc_conv_fallback_ws(d);
}

int mc_cuda_conv_fwd(mc_backend *be, const mc_conv_desc *d, const float *x, const float *w, float beta, float *y,
                     float *ws) {
    CU_ENTER(be, cx);
    MC_TRY(check_desc(d));
    if (d->n == 0) return MC_OK;
#ifdef MC_CUDNN
    if (cx->use_cudnn) {
        mc_conv_plan *p;
        MC_TRY(use_plan(cx, d, &p));
        MC_TRY(plan_math(cx, p, p->math_fwd));
        const float one = 1.0f;
        DNN_CHECK(cudnnConvolutionForward(cx->dnn, &one, p->x, x, p->w, w, p->conv, p->fwd, ws, p->ws_fwd, &beta,
                                          p->y, y));
        return MC_OK;
    }
#endif
    mc_conv_fb_ops o = fb_ops(cx);
    return mc_conv_fb_fwd(&o, d, x, w, beta, y, ws);
}

int mc_cuda_conv_bwd_data(mc_backend *be, const mc_conv_desc *d, const float *dy, const float *w, float beta,
                          float *dx, float *ws) {
    CU_ENTER(be, cx);
    MC_TRY(check_desc(d));
    if (d->n == 0) return MC_OK;
#ifdef MC_CUDNN
    if (cx->use_cudnn) {
        mc_conv_plan *p;
        MC_TRY(use_plan(cx, d, &p));
        MC_TRY(plan_math(cx, p, p->math_data));
        const float one = 1.0f;
        DNN_CHECK(cudnnConvolutionBackwardData(cx->dnn, &one, p->w, w, p->y, dy, p->conv, p->bwd_data, ws,
                                               p->ws_data, &beta, p->x, dx));
        return MC_OK;
    }
#endif
    mc_conv_fb_ops o = fb_ops(cx);
    return mc_conv_fb_bwd_data(&o, d, dy, w, beta, dx, ws);
}

int mc_cuda_conv_bwd_filter(mc_backend *be, const mc_conv_desc *d, const float *x, const float *dy, float beta,
                            float *dw, float *ws) {
    CU_ENTER(be, cx);
    MC_TRY(check_desc(d));
    if (d->n == 0) /* no images: dw = beta*dw, as the CPU backend */
        return mc_k_scale2d(cx->stream, 1, (size_t)d->k * (d->c / d->groups) * d->kh * d->kw, beta, dw, 0);
#ifdef MC_CUDNN
    if (cx->use_cudnn) {
        mc_conv_plan *p;
        MC_TRY(use_plan(cx, d, &p));
        MC_TRY(plan_math(cx, p, p->math_filter));
        const float one = 1.0f;
        DNN_CHECK(cudnnConvolutionBackwardFilter(cx->dnn, &one, p->x, x, p->y, dy, p->conv, p->bwd_filter, ws,
                                                 p->ws_filter, &beta, p->w, dw));
        return MC_OK;
    }
#endif
    mc_conv_fb_ops o = fb_ops(cx);
    return mc_conv_fb_bwd_filter(&o, d, x, dy, beta, dw, ws);
}
