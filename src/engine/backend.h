/* backend.h — the one seam between layer logic and math.
 *
 * Layers never touch numbers directly: they call the operations of a backend table, at the
 * granularity of cuDNN/oneDNN primitives (convolution forward / backward-data /
 * backward-filter, batch norm, pooling, activation, GEMM, element-wise ops). The CPU backend
 * (cpu/backend_cpu.c) implements them with OpenBLAS and OpenMP loops; the CUDA backend
 * (src/cuda/) with cuDNN/cuBLAS and small kernels. Every pointer handed to an operation is
 * memory of that backend (device memory for CUDA), allocated with be->alloc.
 *
 * Conventions, identical for every backend:
 * - NCHW float32; conv weight [K][C/groups][kh][kw].
 * - `beta` in an operation's signature: out = result + beta * out (beta 0 overwrites, 1
 *   accumulates), as in cuDNN. Gradient outputs are accumulated by layers with beta = 1.
 * - Transposed convolution is not a separate primitive: a transposed convolution forward is the
 *   backward-data of the convolution that maps its output shape to its input shape, exactly as
 *   cuDNN expresses it (see layers/deconv.c).
 * - Every operation returns MC_OK or a negative code with mc_err() set.
 */
#ifndef MC_BACKEND_H
#define MC_BACKEND_H

#include <stddef.h>
#include "core/core.h"

typedef struct mc_conv_desc {
    int n;                       /* batch */
    int c, h, w;                 /* input channels and size */
    int k, oh, ow;               /* output channels and size */
    int kh, kw, sh, sw, ph, pw;  /* kernel, stride, padding (symmetric) */
    int groups;                  /* c and k divisible by groups */
} mc_conv_desc;

/* Sums v[0..n) in place over the processes of a data-parallel run (src/dist/), with the same
 * result on each; returns MC_OK or an error. */
typedef int (*mc_sum_fn)(void *ctx, double *v, size_t n);

typedef struct mc_bn_desc {
    int n, c, hw;     /* x is (n, c, hw) */
    float eps;        /* 1e-5 */
    float momentum;   /* running = (1-momentum)*running + momentum*batch; 0.1 */
    /* NULL: the statistics are this batch's. Set (synchronised batch norm): bn_*_fwd_train hand
     * their per-channel sums [sum x, sum x^2] x c followed by the count n*hw (2c+1 doubles, host)
     * to sum(), and normalise with the totals; bn_*_bwd_train likewise sum [sum g, sum g*xhat] x c
     * and the count for dx, while dgamma/dbeta stay this process's own sums (the trainer sums the
     * gradients afterwards). A backend without it returns MC_EUNSUP. */
    mc_sum_fn sum;
    void *sum_ctx;
} mc_bn_desc;

enum { MC_POOL_MAX = 0, MC_POOL_AVG = 1 /* count_include_pad, as PyTorch's default */ };
typedef struct mc_pool_desc {
    int mode;
    int n, c, h, w, oh, ow;
    int kh, kw, sh, sw;
    int pt, pl;   /* padding top and left (rows/cols before the image; -inf for max, 0 for avg) */
} mc_pool_desc;

enum { MC_ACT_LINEAR = 0, MC_ACT_RELU, MC_ACT_LEAKY, MC_ACT_LOGISTIC, MC_ACT_HARDTANH, MC_ACT_TANH };
typedef struct mc_act {
    int type;
    float a, b;   /* leaky: a = negative slope; hardtanh: a = min, b = max */
} mc_act;

/* upsampling modes (upsample_fwd / upsample_bwd) */
enum { MC_UP_NEAREST = 0, MC_UP_BILINEAR = 1 };
/* dense regression losses (reg_loss_fwd / reg_loss_bwd) */
enum { MC_LOSS_MSE = 0, MC_LOSS_L1 = 1 };

/* One Adam / AdamW step's coefficients, computed on the host in double from the optimiser's
 * settings and the step count t (torch.optim.Adam / AdamW, amsgrad off) and rounded to float
 * as PyTorch's scalar arguments are: b1, b2; omb1 = 1-b1, omb2 = 1-b2; l2 = wd for Adam's L2
 * (else 0); shrink = 1 - lr*wd for decoupled decay (AdamW; else 1); step_size = lr/(1-b1^t);
 * bc2_sqrt = sqrt(1-b2^t); eps. */
typedef struct mc_adam_coef {
    float b1, omb1, b2, omb2, l2, shrink, step_size, bc2_sqrt, eps;
} mc_adam_coef;
/* One RMSprop step's coefficients (torch.optim.RMSprop): alpha, oma = 1-alpha, eps, lr,
 * momentum (0: no buffer), centered, l2 / shrink as for Adam. */
typedef struct mc_rmsprop_coef {
    float alpha, oma, eps, lr, momentum, l2, shrink;
    int centered;
} mc_rmsprop_coef;

typedef struct mc_backend mc_backend;
struct mc_backend {
    const char *name;
    void *ctx;    /* backend-private state (handles, streams; the CPU backend's threads) */
    int is_host;  /* 1: buffers are host memory (CPU backend) */
    int threads;  /* host threads its operations run on (CPU backend); 0: not applicable */
    int precision; /* MC_PRECISION_* of its GEMMs (medcolor.h, mc_net_opts.precision) */
    void (*destroy)(mc_backend *be);

    /* memory (counts are floats) */
    float *(*alloc)(mc_backend *be, size_t n, const char *what); /* zero-filled */
    void (*free)(mc_backend *be, float *p);
    int (*upload)(mc_backend *be, float *dst, const float *host, size_t n);
    int (*download)(mc_backend *be, float *host, const float *src, size_t n);
    int (*fill)(mc_backend *be, float *p, float value, size_t n);
    int (*sync)(mc_backend *be);

    /* convolution; workspace in floats */
    size_t (*conv_workspace)(mc_backend *be, const mc_conv_desc *d);
    int (*conv_fwd)(mc_backend *be, const mc_conv_desc *d, const float *x, const float *w,
                    float beta, float *y, float *ws);
    int (*conv_bwd_data)(mc_backend *be, const mc_conv_desc *d, const float *dy, const float *w,
                         float beta, float *dx, float *ws);
    int (*conv_bwd_filter)(mc_backend *be, const mc_conv_desc *d, const float *x, const float *dy,
                           float beta, float *dw, float *ws);
    /* y[n][c][:] += b[c];  db[c] = beta*db[c] + sum_{n,i} dy[n][c][i] */
    int (*bias_fwd)(mc_backend *be, int n, int c, int hw, const float *b, float *y);
    int (*bias_bwd)(mc_backend *be, int n, int c, int hw, const float *dy, float beta, float *db);

    /* batch norm. train: batch statistics (biased variance normalises; the unbiased one goes
     * into the running estimate when update_running); saves mean and 1/sqrt(var+eps) per channel.
     * backward: dx, dgamma, dbeta each optional (NULL = not wanted); dx is written with beta_dx,
     * dgamma and dbeta with beta_param (as cuDNN's separate data/param blending factors). */
    int (*bn_fwd_train)(mc_backend *be, const mc_bn_desc *d, const float *x, const float *gamma,
                        const float *bias, float *running_mean, float *running_var, int update_running,
                        float *save_mean, float *save_invstd, float *y);
    int (*bn_fwd_infer)(mc_backend *be, const mc_bn_desc *d, const float *x, const float *gamma,
                        const float *bias, const float *running_mean, const float *running_var,
                        float *y);
    int (*bn_bwd_train)(mc_backend *be, const mc_bn_desc *d, const float *x, const float *dy,
                        const float *gamma, const float *save_mean, const float *save_invstd,
                        float beta_dx, float *dx, float beta_param, float *dgamma, float *dbeta);
    int (*bn_bwd_infer)(mc_backend *be, const mc_bn_desc *d, const float *x, const float *dy,
                        const float *gamma, const float *running_mean, const float *running_var,
                        float beta_dx, float *dx, float beta_param, float *dgamma, float *dbeta);

    /* pooling: max takes the gradient to the first maximum of the window (PyTorch's choice) */
    int (*pool_fwd)(mc_backend *be, const mc_pool_desc *d, const float *x, float *y);
    int (*pool_bwd)(mc_backend *be, const mc_pool_desc *d, const float *x, const float *y,
                    const float *dy, float beta, float *dx);

    /* activations; y may alias x; the derivative is taken from y (valid for every type here:
     * logistic y(1-y), tanh 1-y*y as PyTorch's tanh_backward) */
    int (*act_fwd)(mc_backend *be, const mc_act *a, size_t n, const float *x, float *y);
    int (*act_bwd)(mc_backend *be, const mc_act *a, size_t n, const float *y, const float *dy,
                   float beta, float *dx);

    /* row-major C = alpha * op(A) op(B) + beta * C, op = transpose when ta/tb */
    int (*gemm)(mc_backend *be, int ta, int tb, int m, int n, int k, float alpha, const float *a,
                int lda, const float *b, int ldb, float beta, float *c, int ldc);

    /* element-wise */
    int (*axpy)(mc_backend *be, size_t n, float alpha, const float *x, float *y); /* y += a x */
    int (*scale)(mc_backend *be, size_t n, float alpha, float *x);
    /* rows blocks: dst[r*dst_stride + j] = src[r*src_stride + j] + beta*dst[...], j < cols */
    int (*copy2d)(mc_backend *be, size_t rows, size_t cols, const float *src, size_t src_stride,
                  float beta, float *dst, size_t dst_stride);
    /* pixel shuffle by r: x (n, c*r*r, h, w) <-> y (n, c, h*r, w*r), PyTorch channel order.
     * backward maps dy to dx with beta. */
    int (*shuffle_fwd)(mc_backend *be, int n, int c, int h, int w, int r, const float *x, float *y);
    int (*shuffle_bwd)(mc_backend *be, int n, int c, int h, int w, int r, const float *dy,
                       float beta, float *dx);
    /* replication pad: x (n, c, h, w) -> y (n, c, h+t+b, w+l+r) */
    int (*pad_fwd)(mc_backend *be, int n, int c, int h, int w, int l, int r, int t, int b,
                   const float *x, float *y);
    int (*pad_bwd)(mc_backend *be, int n, int c, int h, int w, int l, int r, int t, int b,
                   const float *dy, float beta, float *dx);
    /* sigmoid + binary cross-entropy with logits over n entries with mask (NULL = all 1):
     * prob = sigmoid(z); *loss (host) = sum(mask*bce)/sum(mask); *count (host) = sum(mask).
     * bwd: dz = beta*dz + scale*mask*(prob - t). */
    int (*bce_fwd)(mc_backend *be, size_t n, const float *z, const float *t, const float *mask,
                   float *prob, double *loss, double *count);
    int (*bce_bwd)(mc_backend *be, size_t n, const float *prob, const float *t, const float *mask,
                   float scale, float beta, float *dz);
    /* SGD with momentum (PyTorch semantics): g' = g + (decoupled ? 0 : wd*w); v = mom*v + g';
     * w = w*(1 - (decoupled ? lr*wd : 0)) - lr*v */
    int (*sgd)(mc_backend *be, size_t n, float *w, const float *g, float *v, float lr,
               float momentum, float wd, int decoupled);
    /* Adam / AdamW, per element (c: mc_adam_coef; torch's order of operations):
     *   g' = g + l2*w;  w = w*shrink;  m = b1*m + omb1*g';  v = b2*v + omb2*g'*g';
     *   w = w - step_size * (m / (sqrt(v)/bc2_sqrt + eps)) */
    int (*adam)(mc_backend *be, size_t n, float *w, const float *g, float *m, float *v, const mc_adam_coef *c);
    /* RMSprop, per element (c: mc_rmsprop_coef):
     *   g' = g + l2*w;  w = w*shrink;  sq = alpha*sq + oma*g'*g';
     *   centered: ga = alpha*ga + oma*g';  avg = sqrt(sq - ga*ga) + eps;  else avg = sqrt(sq) + eps;
     *   momentum > 0: buf = momentum*buf + g'/avg;  w = w - lr*buf;   else w = w - lr*(g'/avg).
     * ga may be NULL unless centered, buf unless momentum > 0. */
    int (*rmsprop)(mc_backend *be, size_t n, float *w, const float *g, float *sq, float *ga, float *buf,
                   const mc_rmsprop_coef *c);
    /* Dense regression losses over n entries with mask (NULL = all 1), d = z - t:
     * fwd: *loss (host) = sum(mask * l(d)) / sum(mask) (0 when nothing counts), *count (host) =
     *   sum(mask), l(d) = d*d (MC_LOSS_MSE) or |d| (MC_LOSS_L1); the sums in double, reduced in an
     *   order fixed by n (not by threads or blocks).
     * bwd: dz = beta*dz + mask * (d * 2*scale) (MSE) or mask * (sign(d) * scale) (L1, sign(0) = 0:
     *   PyTorch's MSELoss / L1Loss gradients with scale = 1/count). */
    int (*reg_loss_fwd)(mc_backend *be, int type, size_t n, const float *z, const float *t, const float *mask,
                        double *loss, double *count);
    int (*reg_loss_bwd)(mc_backend *be, int type, size_t n, const float *z, const float *t, const float *mask,
                        float scale, float beta, float *dz);
    /* Upsampling by an integer factor f >= 1, x (n, c, h, w) -> y (n, c, h*f, w*f), as PyTorch's
     * F.interpolate(scale_factor=f):
     *   MC_UP_NEAREST  y[oy][ox] = x[oy/f][ox/f];
     *   MC_UP_BILINEAR (align_corners=False) along each axis, in float: s = (o + 0.5)*(1/f) - 0.5,
     *     clamped at 0; i0 = floor(s), i1 = min(i0 + 1, in - 1), l1 = s - i0, l0 = 1 - l1;
     *     y = (x[i0][j0]*w0 + x[i0][j1]*w1)*h0 + (x[i1][j0]*w0 + x[i1][j1]*w1)*h1.
     * bwd: dx = beta*dx + the adjoint, gathered per dx element in a fixed order (nearest: the
     * f x f block row by row; bilinear: over the output rows oy that reach it, ascending, the
     * row's weighted sum over the output columns that reach it, ascending). */
    int (*upsample_fwd)(mc_backend *be, int mode, int n, int c, int h, int w, int f, const float *x, float *y);
    int (*upsample_bwd)(mc_backend *be, int mode, int n, int c, int h, int w, int f, const float *dy, float beta,
                        float *dx);
    /* 1 when all n values are finite, 0 otherwise (result on host) */
    int (*all_finite)(mc_backend *be, size_t n, const float *x, int *result);

    /* ---- optional fused operations (performance) -------------------------------------------
     * A backend may leave any of these NULL: the layers then compose the primitives above, with
     * the same result up to float rounding. act NULL means linear.
     * bn_act_fwd_train / bn_act_fwd_infer: y = act(bn(x)), i.e. bn_fwd_train / bn_fwd_infer
     *   followed by act_fwd on y, in one pass over the data; for bn_act_fwd_infer y may alias x
     *   (inference in place: a convolution with BN then keeps no pre-BN copy).
     * bn_act_bwd_train: with y = act(bn(x)) from the last forward, the gradient through act
     *   (its derivative taken from y, as act_bwd) and then through bn (as bn_bwd_train); dy is
     *   only read (the composed version overwrites it with the gradient before act). dbias (may
     *   be NULL; then dx is not): the gradient of a bias added before the batch norm (a
     *   convolution's), as bias_bwd(dx, beta_param) would give it after this call — bitwise
     *   (summed plane by plane as each is written, not in a second pass over dx).
     * add_act: y = act(a + b) (a residual sum; y may alias a or b). */
    int (*bn_act_fwd_train)(mc_backend *be, const mc_bn_desc *d, const mc_act *act, const float *x,
                            const float *gamma, const float *bias, float *running_mean,
                            float *running_var, int update_running, float *save_mean,
                            float *save_invstd, float *y);
    int (*bn_act_fwd_infer)(mc_backend *be, const mc_bn_desc *d, const mc_act *act, const float *x,
                            const float *gamma, const float *bias, const float *running_mean,
                            const float *running_var, float *y);
    int (*bn_act_bwd_train)(mc_backend *be, const mc_bn_desc *d, const mc_act *act, const float *x,
                            const float *y, const float *dy, const float *gamma,
                            const float *save_mean, const float *save_invstd, float beta_dx,
                            float *dx, float beta_param, float *dgamma, float *dbeta, float *dbias);
    int (*add_act)(mc_backend *be, const mc_act *act, size_t n, const float *a, const float *b,
                   float *y);
};

/* The backend a network computes on, for subsystems that compute beside a network on its
 * memory (src/transfer: Gram matrices and correlations of its feature maps). */
struct mc_net;
mc_backend *mc_net_backend(struct mc_net *net);

/* ---- the backends ----------------------------------------------------------------------
 * Every backend registers itself in one table (src/engine/backends.c): its entry says its name,
 * its MC_BACKEND_* id, how to create it (NULL when this build lacks it: `missing` says why and
 * how to get it) and which optional fused operations its table fills (tests/test_cpu_backend.c
 * checks the flags against the pointers). The network builder looks backends up there.
 * A backend keeps all its settings (threads, algorithm switches) in its own state, given at
 * creation from mc_net_opts: creating one changes nothing else in the process (the CPU backend's
 * one exception, OpenBLAS's thread count, is explained in src/cpu/backend_cpu.c). */
enum {
    MC_FUSED_BN_ACT_FWD_TRAIN = 1 << 0,
    MC_FUSED_BN_ACT_FWD_INFER = 1 << 1,
    MC_FUSED_BN_ACT_BWD_TRAIN = 1 << 2,
    MC_FUSED_ADD_ACT = 1 << 3
};
typedef struct mc_backend_entry {
    const char *name;     /* also the created backend's be->name */
    int id;               /* MC_BACKEND_* */
    /* opts: the network's options (threads, winograd, gpu); never NULL here */
    int (*create)(mc_backend **out, const mc_net_opts *opts);
    unsigned fused;       /* MC_FUSED_*: the optional operations the backend implements */
    const char *missing;  /* create == NULL: the message (why, and how to get it) */
} mc_backend_entry;

int mc_backend_count(void);
const mc_backend_entry *mc_backend_at(int i);          /* i < mc_backend_count() */
const mc_backend_entry *mc_backend_find(int id);       /* NULL: no such id */
const mc_backend_entry *mc_backend_find_name(const char *name);
/* Creates backend `id` (opts NULL: defaults): MC_EARG for an unknown id, MC_EUNSUP with the
 * entry's message for one this build lacks. */
int mc_backend_create(mc_backend **out, int id, const mc_net_opts *opts);
/* The MC_FUSED_* flags of the fused operations a created backend's table fills. */
unsigned mc_backend_fused_of(const mc_backend *be);

/* The CPU backend (OpenBLAS + OpenMP, src/cpu/): threads and winograd from opts (NULL: all
 * cores, Winograd as MC_WINOGRAD_AUTO). */
int mc_backend_cpu_create(mc_backend **out, const mc_net_opts *opts);
extern const mc_backend_entry mc_backend_cpu_entry;
#ifdef MC_GPU
/* The CUDA backend on device `gpu` (src/cuda/). */
int mc_backend_cuda_create(mc_backend **out, int gpu);
extern const mc_backend_entry mc_backend_cuda_entry;
#endif

#endif
