/* cpu/backend_cpu.c — the CPU backend: OpenBLAS for GEMM, OpenMP loops for the rest.
 *
 * Convolutions are tiled im2col + GEMM or Winograd (cpu/conv.c, cpu/winograd.c). The backend's
 * settings are its own state (mc_cpu, cpu/conv.h), given at creation: its thread count (every
 * parallel region here says num_threads(cpu_nt(be))) and the Winograd switch.
 *
 * Results do not depend on the thread count: every parallel loop gives each output element (or
 * channel, or plane) to one thread, which computes it in a fixed order; the reductions (bias
 * gradient, batch-norm statistics and gradients) are per channel, summed in one thread in a
 * fixed order (in double, which also keeps them within float rounding of PyTorch's); the loss is
 * summed serially; all_finite is a logical and. The convolutions' own reductions are cut by
 * shape (cpu/conv.h).
 */
/* the reductions below accumulate float data in double on purpose */
#pragma GCC diagnostic ignored "-Wdouble-promotion"
/* No floating-point exceptions are ever enabled here, so let the compiler evaluate both sides of
 * `v > 0 ? v : v*s` and vectorise the element-wise loops (leaky ReLU stays scalar under the
 * default -ftrapping-math). Values are unchanged: this permits no reassociation. */
#pragma GCC optimize("no-trapping-math")
#include <cblas.h>
#include <stdlib.h>
#include <math.h>
#include <omp.h>
#include <string.h>
#include <sys/mman.h>
#include "engine/backend.h"
#include "cpu/conv.h"

/* ---- memory ---------------------------------------------------------------------------- */
/* Every buffer has a 64-byte header (so the data stays 64-byte aligned) saying how it was made.
 * Large ones (>= 1 MiB) are anonymous mappings: zero pages that take memory only where they are
 * written, so a buffer that a run never touches (gradients and backward scratch during inference,
 * say) costs no resident memory, and no memset at allocation; they ask for transparent huge pages
 * (mc_cpu_map, cpu/conv.h). */
#define CPU_HDR 64
#define CPU_MMAP_MIN ((size_t)1 << 20)
typedef struct cpu_hdr {
    size_t bytes; /* of the whole block, header included */
    int mapped;
} cpu_hdr;

static float *cpu_alloc(mc_backend *be, size_t n, const char *what) {
    size_t bytes = (n ? n : 1) * sizeof(float) + CPU_HDR;
    char *base;
    int mapped = bytes >= CPU_MMAP_MIN;
    if (mapped) {
        base = mc_cpu_map(bytes, ((const mc_cpu *)be->ctx)->hugepages, what);
        if (!base) return NULL;
    } else {
        base = (char *)mc_alloc_floats(bytes / sizeof(float), what);
        if (!base) return NULL;
        memset(base, 0, bytes);
    }
    cpu_hdr *h = (cpu_hdr *)base;
    h->bytes = bytes;
    h->mapped = mapped;
    return (float *)(base + CPU_HDR);
}

static void cpu_free(mc_backend *be, float *p) {
    if (!p) return;
    char *base = (char *)p - CPU_HDR;
    const cpu_hdr *h = (const cpu_hdr *)base;
    if (h->mapped)
        mc_cpu_unmap(base, h->bytes);
    else
        mc_free_aligned(base);
}
static int cpu_upload(mc_backend *be, float *dst, const float *host, size_t n) {
    if (dst != host) memcpy(dst, host, n * sizeof(float));
    return MC_OK;
}
static int cpu_download(mc_backend *be, float *host, const float *src, size_t n) {
    if (host != src) memcpy(host, src, n * sizeof(float));
    return MC_OK;
}
static int cpu_sync(mc_backend *be) { return MC_OK; }

/* the backend's thread count, for num_threads() */
static inline int cpu_nt(const mc_backend *be) { return ((const mc_cpu *)be->ctx)->threads; }

/* fill and copy2d share long runs among the threads in pieces of at most PIECE floats (the
 * gradients' zeroing; a shortcut's gradient copied whole, one 26 MB row on the 64-channel layers) */
#define PIECE ((size_t)1 << 16)
static int cpu_fill(mc_backend *be, float *p, float v, size_t n) {
    const size_t pieces = (n + PIECE - 1) / PIECE;
#pragma omp parallel for schedule(static) num_threads(cpu_nt(be)) if (pieces > 1)
    for (size_t q = 0; q < pieces; q++) {
        float *a = p + q * PIECE;
        const size_t m = n - q * PIECE < PIECE ? n - q * PIECE : PIECE;
        if (v == 0.0f)
            memset(a, 0, m * sizeof(float));
        else
            for (size_t i = 0; i < m; i++) a[i] = v;
    }
    return MC_OK;
}

/* y = beta*y (beta 0 clears, so that NaN garbage never leaks in) */
static void scale_out(float *y, size_t n, float beta) {
    if (beta == 1.0f) return;
    if (beta == 0.0f) {
        memset(y, 0, n * sizeof(float));
        return;
    }
    for (size_t i = 0; i < n; i++) y[i] *= beta;
}

/* ---- GEMM and convolution (cpu/conv.c) ---------------------------------------------------- */
static mc_cpu *cpu_of(mc_backend *be) { return (mc_cpu *)be->ctx; }

/* a worker thread that found no memory for its GEMM's packing (bf16 or the own float32 GEMM)
 * could not say so (errors are per thread): it set cpu->gemm_fail, reported here, on the caller's
 * thread */
static int gemm_status(mc_cpu *cpu, int r) {
    if (r == MC_OK && __atomic_exchange_n(&cpu->gemm_fail, 0, __ATOMIC_RELAXED))
        return mc_err(MC_ENOMEM, "out of memory for the %s GEMM's packed operands", cpu->bf16 ? "bf16" : "float32");
    return r;
}

static int cpu_gemm(mc_backend *be, int ta, int tb, int m, int n, int k, float alpha, const float *a,
                    int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    mc_cpu_gemm(cpu_of(be), ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return gemm_status(cpu_of(be), MC_OK);
}

/* the scratch is the backend's own (cpu/conv.h): none from the net */
static size_t cpu_conv_workspace(mc_backend *be, const mc_conv_desc *d) { return 0; }

static int cpu_conv_fwd(mc_backend *be, const mc_conv_desc *d, const float *x, const float *w,
                        float beta, float *y, float *ws) {
    return gemm_status(cpu_of(be), mc_cpu_conv_fwd(cpu_of(be), d, x, w, beta, y));
}

static int cpu_conv_bwd_data(mc_backend *be, const mc_conv_desc *d, const float *dy, const float *w,
                             float beta, float *dx, float *ws) {
    return gemm_status(cpu_of(be), mc_cpu_conv_bwd_data(cpu_of(be), d, dy, w, beta, dx));
}

static int cpu_conv_bwd_filter(mc_backend *be, const mc_conv_desc *d, const float *x,
                               const float *dy, float beta, float *dw, float *ws) {
    return gemm_status(cpu_of(be), mc_cpu_conv_bwd_filter(cpu_of(be), d, x, dy, beta, dw));
}

static int cpu_bias_fwd(mc_backend *be, int n, int c, int hw, const float *b, float *y) {
#pragma omp parallel for schedule(static) num_threads(cpu_nt(be))
    for (int nc = 0; nc < n * c; nc++) {
        float v = b[nc % c];
        float *p = y + (size_t)nc * hw;
        for (int i = 0; i < hw; i++) p[i] += v;
    }
    return MC_OK;
}

/* one plane's sum: eight double partial sums (element j into sum j mod 8, added pairwise at the
 * end); cpu/sums_avx512.c does the same additions in AVX-512 */
static double plane_sum8(const float *p, int hw) {
    double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int j = 0;
    for (; j + 8 <= hw; j += 8)
        for (int k = 0; k < 8; k++) a[k] += p[j + k];
    for (int k = 0; j < hw; j++, k++) a[k] += p[j];
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

/* plane_sum8 at the CPU's level (bitwise the same at every level) */
static double (*plane_sum8_fn(const mc_cpu *cpu))(const float *, int) {
    return cpu->simd == MC_F32_AVX512 ? mc_cpu_plane_sum8_512
           : cpu->simd == MC_F32_AVX2 ? mc_cpu_plane_sum8_256
                                      : plane_sum8;
}

static int cpu_bias_bwd(mc_backend *be, int n, int c, int hw, const float *dy, float beta, float *db) {
    double (*const sum8)(const float *, int) = plane_sum8_fn(be->ctx);
#pragma omp parallel for schedule(static) num_threads(cpu_nt(be))
    for (int ch = 0; ch < c; ch++) {
        /* per image eight double partial sums (element j into sum j mod 8, added pairwise at
         * the end), the images in order: one serial chain of double adds per channel was ~2 %
         * of the PixelShuffle step */
        double s = 0;
        for (int i = 0; i < n; i++) {
            const float *p = dy + ((size_t)i * c + ch) * hw;
            s += sum8(p, hw);
        }
        db[ch] = (float)s + (beta == 0.0f ? 0.0f : beta * db[ch]);
    }
    return MC_OK;
}

/* ---- activations (shared by the fused batch norm) ---------------------------------------- */
#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* act(v) and the gradient through act from its output y (backend.h), for a constant type t
 * (the callers dispatch on the type once, so each loop is compiled for one activation) */
ALWAYS_INLINE float act_f(int t, float s, float hi, float v) {
    switch (t) {
    case MC_ACT_RELU: return v > 0.0f ? v : 0.0f;
    case MC_ACT_LEAKY: return v > 0.0f ? v : v * s;
    case MC_ACT_LOGISTIC: return 1.0f / (1.0f + expf(-v));
    case MC_ACT_HARDTANH: return v < s ? s : (v > hi ? hi : v);
    case MC_ACT_TANH: return tanhf(v);
    default: return v;
    }
}
ALWAYS_INLINE float act_d(int t, float s, float hi, float y, float g) {
    switch (t) {
    case MC_ACT_RELU: return y > 0.0f ? g : 0.0f;
    case MC_ACT_LEAKY: return y > 0.0f ? g : g * s;
    case MC_ACT_LOGISTIC: return g * (1.0f - y) * y;
    case MC_ACT_HARDTANH: return ((y > s) & (y < hi)) ? g : 0.0f;
    case MC_ACT_TANH: return g * (1.0f - y * y);
    default: return g;
    }
}
static const mc_act act_linear = {MC_ACT_LINEAR, 0.0f, 0.0f};

/* KERNEL(t) for the activation type of a (a NULL: linear) with t a constant */
#define ACT_DISPATCH(a, KERNEL)                                                                    \
    switch ((a)->type) {                                                                           \
    case MC_ACT_RELU: KERNEL(MC_ACT_RELU); break;                                                  \
    case MC_ACT_LEAKY: KERNEL(MC_ACT_LEAKY); break;                                                \
    case MC_ACT_LOGISTIC: KERNEL(MC_ACT_LOGISTIC); break;                                          \
    case MC_ACT_HARDTANH: KERNEL(MC_ACT_HARDTANH); break;                                          \
    case MC_ACT_TANH: KERNEL(MC_ACT_TANH); break;                                                  \
    default: KERNEL(MC_ACT_LINEAR); break;                                                         \
    }

static int act_known(const mc_act *a) { return a->type >= MC_ACT_LINEAR && a->type <= MC_ACT_TANH; }

/* ---- batch norm ------------------------------------------------------------------------ */
/* Per channel, in one thread each: statistics in one pass (sum and sum of squares in double:
 * var = E[x^2] - mean^2 loses nothing that matters in float data), then y = act(a x + b). */

/* sum and sum of squares of channel ch over the batch (double) */
static void bn_moments(const mc_bn_desc *d, const float *x, int ch, double *sum, double *sumsq) {
    double s = 0, ss = 0;
    for (int i = 0; i < d->n; i++) {
        const float *p = x + ((size_t)i * d->c + ch) * d->hw;
        double si = 0, ssi = 0;
#pragma omp simd reduction(+ : si, ssi)
        for (int j = 0; j < d->hw; j++) {
            double v = p[j];
            si += v;
            ssi += v * v;
        }
        s += si;
        ss += ssi;
    }
    *sum = s;
    *sumsq = ss;
}

ALWAYS_INLINE void affine_act(int t, float s, float hi, const float *p, float *q, int n, float a, float b) {
    for (int j = 0; j < n; j++) q[j] = act_f(t, s, hi, p[j] * a + b);
}

static int cpu_bn_act_fwd_train(mc_backend *be, const mc_bn_desc *d, const mc_act *act, const float *x,
                                const float *gamma, const float *bias, float *rmean, float *rvar,
                                int update, float *save_mean, float *save_invstd, float *y) {
    if (!act) act = &act_linear;
    if (!act_known(act)) return mc_err(MC_EUNSUP, "cpu backend: unknown activation %d", act->type);
    const int n = d->n, c = d->c, hw = d->hw;
    double m = (double)n * hw;
    /* synchronised batch norm: every process's sums (mc_bn_desc.sum) */
    double *tot = NULL;
    if (d->sum) {
        if (!(tot = mc_malloc((2 * (size_t)c + 1) * sizeof *tot, "batch norm sums"))) return MC_ENOMEM;
#pragma omp parallel for schedule(static) num_threads(cpu_nt(be))
        for (int ch = 0; ch < c; ch++) bn_moments(d, x, ch, &tot[2 * ch], &tot[2 * ch + 1]);
        tot[2 * c] = m;
        int rc = d->sum(d->sum_ctx, tot, 2 * (size_t)c + 1);
        if (rc < 0) {
            free(tot);
            return rc;
        }
        m = tot[2 * c];
    }
#pragma omp parallel for schedule(static) num_threads(cpu_nt(be))
    for (int ch = 0; ch < c; ch++) {
        double s, ss;
        if (tot) {
            s = tot[2 * ch];
            ss = tot[2 * ch + 1];
        } else {
            bn_moments(d, x, ch, &s, &ss);
        }
        double mean = s / m, var = ss / m - mean * mean;
        if (var < 0) var = 0;
        double invstd = 1.0 / sqrt(var + d->eps);
        save_mean[ch] = (float)mean;
        save_invstd[ch] = (float)invstd;
        float a = (float)(gamma[ch] * invstd), b = (float)(bias[ch] - mean * gamma[ch] * invstd);
        for (int i = 0; i < n; i++) {
            const float *p = x + ((size_t)i * c + ch) * hw;
            float *q = y + ((size_t)i * c + ch) * hw;
#define K_(T) affine_act(T, act->a, act->b, p, q, hw, a, b)
            ACT_DISPATCH(act, K_)
#undef K_
        }
        if (update) {
            double unbiased = m > 1 ? var * m / (m - 1) : var;
            rmean[ch] = (float)((1.0 - d->momentum) * rmean[ch] + d->momentum * mean);
            rvar[ch] = (float)((1.0 - d->momentum) * rvar[ch] + d->momentum * unbiased);
        }
    }
    free(tot);
    return MC_OK;
}

static int cpu_bn_fwd_train(mc_backend *be, const mc_bn_desc *d, const float *x, const float *gamma,
                            const float *bias, float *rmean, float *rvar, int update,
                            float *save_mean, float *save_invstd, float *y) {
    return cpu_bn_act_fwd_train(be, d, NULL, x, gamma, bias, rmean, rvar, update, save_mean, save_invstd, y);
}

static int cpu_bn_act_fwd_infer(mc_backend *be, const mc_bn_desc *d, const mc_act *act, const float *x,
                                const float *gamma, const float *bias, const float *rmean,
                                const float *rvar, float *y) {
    if (!act) act = &act_linear;
    if (!act_known(act)) return mc_err(MC_EUNSUP, "cpu backend: unknown activation %d", act->type);
    const int n = d->n, c = d->c, hw = d->hw;
#pragma omp parallel for schedule(static) num_threads(cpu_nt(be))
    for (int nc = 0; nc < n * c; nc++) {
        int ch = nc % c;
        double invstd = 1.0 / sqrt((double)rvar[ch] + d->eps);
        float a = (float)(gamma[ch] * invstd), b = (float)(bias[ch] - rmean[ch] * gamma[ch] * invstd);
        const float *p = x + (size_t)nc * hw;
        float *q = y + (size_t)nc * hw;
#define K_(T) affine_act(T, act->a, act->b, p, q, hw, a, b)
        ACT_DISPATCH(act, K_)
#undef K_
    }
    return MC_OK;
}

static int cpu_bn_fwd_infer(mc_backend *be, const mc_bn_desc *d, const float *x, const float *gamma,
                            const float *bias, const float *rmean, const float *rvar, float *y) {
    return cpu_bn_act_fwd_infer(be, d, NULL, x, gamma, bias, rmean, rvar, y);
}

/* sums over the batch of g and g*(x - mean), g = the gradient through act: float partial sums
 * over blocks of BN_BLOCK values (vectorised; 4-8 lanes of at most BN_BLOCK/4 terms each), the
 * blocks added in double */
#define BN_BLOCK 256
ALWAYS_INLINE void bn_grad_sums(int t, float s_, float hi, const mc_bn_desc *d, const float *x, const float *y,
                                const float *dy, int ch, float mean, double *sdy, double *sdyx) {
    double s = 0, sx = 0;
    for (int i = 0; i < d->n; i++) {
        size_t o = ((size_t)i * d->c + ch) * d->hw;
        const float *p = x + o, *g = dy + o, *yy = y ? y + o : NULL;
        for (int j0 = 0; j0 < d->hw; j0 += BN_BLOCK) {
            const int j1 = j0 + BN_BLOCK < d->hw ? j0 + BN_BLOCK : d->hw;
            float bs = 0.0f, bsx = 0.0f;
#pragma omp simd reduction(+ : bs, bsx)
            for (int j = j0; j < j1; j++) {
                float gj = act_d(t, s_, hi, t == MC_ACT_LINEAR ? 0.0f : yy[j], g[j]);
                bs += gj;
                bsx += gj * (p[j] - mean);
            }
            s += bs;
            sx += bsx;
        }
    }
    *sdy = s;
    *sdyx = sx;
}

/* dx = ((g - (x - mean) P) - G) W (+ beta dx), g through act: the differences first, as PyTorch's
 * CPU kernel, so that g - mean(g) cancels exactly where it should (one value per channel gives
 * dx = 0, not the rounding error of W g - W mean(g) with a large W = gamma/sqrt(eps)) */
ALWAYS_INLINE void bn_grad_apply(int t, float s, float hi, const float *p, const float *yy, const float *g,
                                 float *q, int n, float W, float P, float G, float mean, float beta) {
    if (beta == 0.0f)
        for (int j = 0; j < n; j++)
            q[j] = ((act_d(t, s, hi, t == MC_ACT_LINEAR ? 0.0f : yy[j], g[j]) - (p[j] - mean) * P) - G) * W;
    else
        for (int j = 0; j < n; j++)
            q[j] = ((act_d(t, s, hi, t == MC_ACT_LINEAR ? 0.0f : yy[j], g[j]) - (p[j] - mean) * P) - G) * W +
                   beta * q[j];
}

static int cpu_bn_act_bwd_train(mc_backend *be, const mc_bn_desc *d, const mc_act *act, const float *x,
                                const float *y, const float *dy, const float *gamma,
                                const float *smean, const float *sinvstd, float beta_dx, float *dx,
                                float beta_p, float *dgamma, float *dbeta, float *dbias) {
    if (!act) act = &act_linear;
    if (!act_known(act)) return mc_err(MC_EUNSUP, "cpu backend: unknown activation %d", act->type);
    if (act->type != MC_ACT_LINEAR && !y) return mc_err(MC_EARG, "cpu backend: bn_act_bwd_train needs y");
    if (dbias && !dx) return mc_err(MC_EARG, "cpu backend: bn_act_bwd_train's dbias needs dx");
    double (*const sum8)(const float *, int) = plane_sum8_fn(be->ctx);
    const int n = d->n, c = d->c, hw = d->hw;
    double m = (double)n * hw;
    /* synchronised batch norm: this process's sums give dgamma and dbeta, every process's sums
     * (mc_bn_desc.sum) give dx */
    double *tot = NULL;
    if (d->sum) {
        if (!(tot = mc_malloc((2 * (size_t)c + 1) * sizeof *tot, "batch norm sums"))) return MC_ENOMEM;
#pragma omp parallel for schedule(static) num_threads(cpu_nt(be))
        for (int ch = 0; ch < c; ch++) {
            double sdy, sdyx;
#define K_(T) bn_grad_sums(T, act->a, act->b, d, x, y, dy, ch, smean[ch], &sdy, &sdyx)
            ACT_DISPATCH(act, K_)
#undef K_
            tot[2 * ch] = sdy;
            tot[2 * ch + 1] = sdyx;
        }
        tot[2 * c] = m;
        int rc = d->sum(d->sum_ctx, tot, 2 * (size_t)c + 1);
        if (rc < 0) {
            free(tot);
            return rc;
        }
        m = tot[2 * c];
    }
#pragma omp parallel for schedule(static) num_threads(cpu_nt(be))
    for (int ch = 0; ch < c; ch++) {
        const double mean = smean[ch], invstd = sinvstd[ch];
        double sdy, sdyx;
#define K_(T) bn_grad_sums(T, act->a, act->b, d, x, y, dy, ch, smean[ch], &sdy, &sdyx)
        ACT_DISPATCH(act, K_)
#undef K_
        double dg = sdyx * invstd; /* = sum g * xhat */
        if (dgamma) dgamma[ch] = (float)dg + (beta_p == 0.0f ? 0.0f : beta_p * dgamma[ch]);
        if (dbeta) dbeta[ch] = (float)sdy + (beta_p == 0.0f ? 0.0f : beta_p * dbeta[ch]);
        if (tot) {
            sdy = tot[2 * ch];
            dg = tot[2 * ch + 1] * invstd;
        }
        if (dx) {
            /* dx = gamma*invstd * (g - mean(g) - xhat * mean(g*xhat)) */
            const double k = gamma[ch] * invstd, mdy = sdy / m, mdg = dg / m;
            const float A = (float)k, B = (float)(mdg * invstd), C = (float)mdy;
            double sb = 0; /* dbias: cpu_bias_bwd's sum, each plane while it is in the cache */
            for (int i = 0; i < n; i++) {
                size_t o = ((size_t)i * c + ch) * hw;
                const float *yy = y ? y + o : NULL;
#define K_(T) bn_grad_apply(T, act->a, act->b, x + o, yy, dy + o, dx + o, hw, A, B, C, (float)mean, beta_dx)
                ACT_DISPATCH(act, K_)
#undef K_
                if (dbias) sb += sum8(dx + o, hw);
            }
            if (dbias) dbias[ch] = (float)sb + (beta_p == 0.0f ? 0.0f : beta_p * dbias[ch]);
        }
    }
    free(tot);
    return MC_OK;
}

static int cpu_bn_bwd_train(mc_backend *be, const mc_bn_desc *d, const float *x, const float *dy,
                            const float *gamma, const float *smean, const float *sinvstd,
                            float beta_dx, float *dx, float beta_p, float *dgamma, float *dbeta) {
    return cpu_bn_act_bwd_train(be, d, NULL, x, NULL, dy, gamma, smean, sinvstd, beta_dx, dx, beta_p,
                                dgamma, dbeta, NULL);
}

static int cpu_bn_bwd_infer(mc_backend *be, const mc_bn_desc *d, const float *x, const float *dy,
                            const float *gamma, const float *rmean, const float *rvar,
                            float beta_dx, float *dx, float beta_p, float *dgamma, float *dbeta) {
    const int n = d->n, c = d->c, hw = d->hw;
#pragma omp parallel for schedule(static) num_threads(cpu_nt(be))
    for (int ch = 0; ch < c; ch++) {
        const double invstd = 1.0 / sqrt((double)rvar[ch] + d->eps), mean = rmean[ch];
        const float k = (float)(gamma[ch] * invstd);
        double sdy = 0, sdyx = 0;
        for (int i = 0; i < n; i++) {
            const float *p = x + ((size_t)i * c + ch) * hw;
            const float *g = dy + ((size_t)i * c + ch) * hw;
            float *q = dx ? dx + ((size_t)i * c + ch) * hw : NULL;
            for (int j = 0; j < hw; j++) {
                sdy += g[j];
                sdyx += g[j] * (p[j] - mean);
                if (q) q[j] = g[j] * k + (beta_dx == 0.0f ? 0.0f : beta_dx * q[j]);
            }
        }
        if (dgamma) dgamma[ch] = (float)(sdyx * invstd) + (beta_p == 0.0f ? 0.0f : beta_p * dgamma[ch]);
        if (dbeta) dbeta[ch] = (float)sdy + (beta_p == 0.0f ? 0.0f : beta_p * dbeta[ch]);
    }
    return MC_OK;
}

/* ---- pooling --------------------------------------------------------------------------- */
/* valid output columns [lo, hi) of window column j: 0 <= ox*sw - pl + j < w */
static void pool_cols(const mc_pool_desc *d, int j, int *lo, int *hi) {
    int a = d->pl - j, l = a > 0 ? (a + d->sw - 1) / d->sw : 0;
    int b = d->w - 1 + d->pl - j, u = b >= 0 ? b / d->sw + 1 : 0;
    if (u > d->ow) u = d->ow;
    if (l > u) l = u;
    *lo = l;
    *hi = u;
}

/* rows [y0, y1) of the window of output row oy, clipped to the image */
static void pool_rows(const mc_pool_desc *d, int oy, int *y0, int *y1) {
    int a = oy * d->sh - d->pt, b = a + d->kh;
    *y0 = a < 0 ? 0 : a;
    *y1 = b > d->h ? d->h : b;
}

/* Forward, one plane: acc[ox] over the window taps (kernel row iy, column j) in scan order, so
 * max: the largest value, NaN when any is NaN (PyTorch's `v > m || isnan(v)`), -inf for an
 * empty window; avg: the sum in scan order (bit-identical to summing window by window) / kh*kw. */
static void pool_plane_fwd(const mc_cpu *cpu, const mc_pool_desc *d, const float *xp, float *yp) {
    const int w = d->w, ow = d->ow, sw = d->sw, pl = d->pl, mx = d->mode == MC_POOL_MAX;
    const float inv = 1.0f / (float)(d->kh * d->kw);
    for (int oy = 0; oy < d->oh; oy++) {
        int y0, y1;
        pool_rows(d, oy, &y0, &y1);
        float *acc = yp + (size_t)oy * ow;
        for (int ox = 0; ox < ow; ox++) acc[ox] = mx ? -INFINITY : 0.0f;
        for (int iy = y0; iy < y1; iy++)
            for (int j = 0; j < d->kw; j++) {
                int lo, hi;
                pool_cols(d, j, &lo, &hi);
                if (lo >= hi) continue;
                const float *s = xp + (size_t)iy * w + (lo * sw - pl + j);
                float *a = acc + lo;
                const int n = hi - lo;
                if (mx && sw == 1)
                    for (int q = 0; q < n; q++) a[q] = (s[q] > a[q] || isnan(s[q])) ? s[q] : a[q];
                else if (mx && sw == 2 && cpu->simd)
                    (cpu->simd == MC_F32_AVX512 ? mc_cpu_max2_512 : mc_cpu_max2_256)(s, n, a);
                else if (mx)
                    for (int q = 0; q < n; q++) {
                        float v = s[(size_t)q * sw];
                        a[q] = (v > a[q] || isnan(v)) ? v : a[q];
                    }
                else if (sw == 1)
                    for (int q = 0; q < n; q++) a[q] += s[q];
                else
                    for (int q = 0; q < n; q++) a[q] += s[(size_t)q * sw];
            }
        if (!mx)
            for (int ox = 0; ox < ow; ox++) acc[ox] *= inv;
    }
}

static int cpu_pool_fwd(mc_backend *be, const mc_pool_desc *d, const float *x, float *y) {
#pragma omp parallel for schedule(static) num_threads(cpu_nt(be))
    for (int nc = 0; nc < d->n * d->c; nc++)
        pool_plane_fwd(be->ctx, d, x + (size_t)nc * d->h * d->w, y + (size_t)nc * d->oh * d->ow);
    return MC_OK;
}

/* The element of rows [y0, y1) x columns [x0, x1) (clipped to the plane, not empty) that a max
 * window with maximum m sends its gradient to: the first equal to m in scan order, the last NaN
 * when m is NaN, the first element when none is (all -inf) */
static size_t maxpool_best(const float *xp, int w, int y0, int y1, int x0, int x1, float m) {
    size_t best = (size_t)y0 * w + x0;
    if (isnan(m)) {
        for (int iy = y0; iy < y1; iy++)
            for (int ix = x0; ix < x1; ix++)
                if (isnan(xp[(size_t)iy * w + ix])) best = (size_t)iy * w + ix;
        return best;
    }
    for (int iy = y0; iy < y1; iy++)
        for (int ix = x0; ix < x1; ix++)
            if (xp[(size_t)iy * w + ix] == m) return (size_t)iy * w + ix;
    return best;
}

/* Max backward, one plane: the gradient goes to the element PyTorch's CPU kernel records, the
 * first maximum in scan order (the last NaN when the maximum is NaN; the window's first element
 * when all are -inf) — found again from y, the forward output, as the first element equal to
 * it (or the last NaN). */
static void maxpool_plane_bwd(const mc_cpu *cpu, const mc_pool_desc *d, const float *xp, const float *yp,
                              const float *gp, float *dp) {
    const int w = d->w;
    /* 3x3 stride 2: up to 16 windows wholly inside the plane at a time (cpu/strided_avx512.c,
     * cpu/strided_avx2.c: the same elements, added in the same order); the last window inside a
     * row: */
    void (*const v16)(const float *, int, int, const float *, const float *, float *) =
        !(d->kh == 3 && d->kw == 3 && d->sw == 2) ? NULL
        : cpu->simd == MC_F32_AVX512              ? mc_cpu_maxpool3s2_bwd512
        : cpu->simd == MC_F32_AVX2                ? mc_cpu_maxpool3s2_bwd256
                                                  : NULL;
    const int last_in = (w - 3 + d->pl) / 2 < d->ow - 1 ? (w - 3 + d->pl) / 2 : d->ow - 1;
    /* 3x3 windows wholly inside the image (ResNet's and the PixelShuffle module's pooling): the
     * first of the nine equal to the maximum, found without branches (the last match in reverse
     * scan order), the same element as the general search below: half the time */
    const int k3 = d->kh == 3 && d->kw == 3;
    const size_t off3[9] = {0, 1, 2, (size_t)w, (size_t)w + 1, (size_t)w + 2, 2 * (size_t)w, 2 * (size_t)w + 1,
                            2 * (size_t)w + 2};
    for (int oy = 0; oy < d->oh; oy++) {
        int y0, y1;
        pool_rows(d, oy, &y0, &y1);
        for (int ox = 0; ox < d->ow; ox++) {
            int x0 = ox * d->sw - d->pl, x1 = x0 + d->kw;
            if (v16 && y1 - y0 == 3 && x0 >= 0 && ox <= last_in) {
                const int cnt = last_in - ox + 1 < 16 ? last_in - ox + 1 : 16;
                v16(xp + (size_t)y0 * w + x0, w, cnt, yp + (size_t)oy * d->ow + ox, gp + (size_t)oy * d->ow + ox,
                    dp + (size_t)y0 * w + x0);
                ox += cnt - 1;
                continue;
            }
            const float m = yp[(size_t)oy * d->ow + ox];
            if (k3 && y1 - y0 == 3 && x0 >= 0 && x1 <= w && m == m) {
                const float *a = xp + (size_t)y0 * w + x0;
                int k = 0;
                for (int j = 8; j >= 0; j--) k = a[off3[j]] == m ? j : k;
                dp[(size_t)y0 * w + x0 + off3[k]] += gp[(size_t)oy * d->ow + ox];
                continue;
            }
            if (x0 < 0) x0 = 0;
            if (x1 > w) x1 = w;
            if (y0 >= y1 || x0 >= x1) continue;
            dp[maxpool_best(xp, w, y0, y1, x0, x1, m)] += gp[(size_t)oy * d->ow + ox];
        }
    }
}

/* The same for a 3x3 stride-2 pooling with padding 1 (ResNet's and DenseNet's on even sides,
 * h = 2 oh; the PixelShuffle module's on odd ones, h = 2 oh - 1) and beta 0, in SIMD, as a
 * gather: each window row's codes (the element of its window each gradient goes to, 3 r + c),
 * then each input row as the sum of the gradients whose code names its elements, in window order
 * from +0 — the bits of the scatter above (which adds them in window order to a zeroed plane),
 * with no zero fill and no scalar read-modify-writes (tests/test_strided_simd.c compares them).
 * Input row 2a has window row a's row 1; row 2a + 1 window row a's row 2 and then row a + 1's
 * row 0. Windows that reach into the padding (row 0, column 0, and on odd sides the last row and
 * column) take their codes from the general search. k: 2 ow codes (two window rows). AVX-512
 * (16 windows a vector) or AVX2 (8). */
#define MC_POOL_GATHER_OW 1024 /* the widest output row of the gather path (its codes on the stack) */
static int maxpool_gather_fits(const mc_cpu *cpu, const mc_pool_desc *d, float beta) {
    return cpu->simd && beta == 0.0f && d->kh == 3 && d->kw == 3 && d->sh == 2 && d->sw == 2 &&
           d->pt == 1 && d->pl == 1 && (d->h == 2 * d->oh || d->h == 2 * d->oh - 1) &&
           (d->w == 2 * d->ow || d->w == 2 * d->ow - 1) && d->ow <= MC_POOL_GATHER_OW;
}

typedef struct { /* the gather's row functions at the CPU's level (cpu/conv.h) */
    void (*codes)(const float *x00, int w, int cnt, const float *m16, int32_t *k16);
    void (*gather)(const int32_t *ka, const float *ga, int ra, const int32_t *kb, const float *gb, int ow, int w,
                   float *d);
} maxpool_gather_fns;

/* the code of window (oy, ox) by the general search: for the windows that reach into the padding */
static int32_t maxpool_code_at(const mc_pool_desc *d, const float *xp, const float *my, int oy, int ox) {
    const int w = d->w, y0 = 2 * oy - 1, x0 = 2 * ox - 1;
    const size_t best = maxpool_best(xp, w, y0 < 0 ? 0 : y0, y0 + 3 > d->h ? d->h : y0 + 3, x0 < 0 ? 0 : x0,
                                     x0 + 3 > w ? w : x0 + 3, my[ox]);
    return (int32_t)(3 * ((int)(best / (size_t)w) - y0) + ((int)(best % (size_t)w) - x0));
}

static void maxpool_codes_row(const maxpool_gather_fns *f, const mc_pool_desc *d, const float *xp, const float *yp,
                              int oy, int32_t *k) {
    const int w = d->w, ow = d->ow;
    const float *my = yp + (size_t)oy * ow;
    /* windows [1, inner) lie wholly inside the plane (none in the first row, nor in the last on
     * odd sides): 16 at a time; window 0 and those from inner on, the general search */
    const int inner = oy == 0 || 2 * oy + 1 >= d->h ? 1 : w == 2 * ow ? ow : ow - 1;
    for (int ox = 1; ox < inner; ox += 16) {
        const int cnt = inner - ox < 16 ? inner - ox : 16;
        f->codes(xp + (size_t)(2 * oy - 1) * w + (2 * ox - 1), w, cnt, my + ox, k + ox);
    }
    k[0] = maxpool_code_at(d, xp, my, oy, 0);
    for (int ox = inner > 1 ? inner : 1; ox < ow; ox++) k[ox] = maxpool_code_at(d, xp, my, oy, ox);
}

static void maxpool_plane_bwd_gather(const mc_cpu *cpu, const mc_pool_desc *d, const float *xp, const float *yp,
                                     const float *gp, float *dp) {
    const maxpool_gather_fns f = cpu->simd == MC_F32_AVX512
                                     ? (maxpool_gather_fns){mc_cpu_maxpool3s2_codes512, mc_cpu_maxpool3s2_gather512}
                                     : (maxpool_gather_fns){mc_cpu_maxpool3s2_codes256, mc_cpu_maxpool3s2_gather256};
    const int w = d->w, ow = d->ow, oh = d->oh;
    int32_t k[2 * MC_POOL_GATHER_OW];
    for (int a = 0; a < oh; a++) {
        int32_t *kc = k + (a & 1) * ow, *kp = k + ((a + 1) & 1) * ow;
        const float *gc = gp + (size_t)a * ow;
        maxpool_codes_row(&f, d, xp, yp, a, kc);
        if (a > 0) f.gather(kp, gc - ow, 2, kc, gc, ow, w, dp + (size_t)(2 * a - 1) * w);
        f.gather(kc, gc, 1, NULL, NULL, ow, w, dp + (size_t)(2 * a) * w);
    }
    if (2 * oh - 1 < d->h) /* even sides: the last row, under window row oh - 1 alone */
        f.gather(k + ((oh - 1) & 1) * ow, gp + (size_t)(oh - 1) * ow, 2, NULL, NULL, ow, w,
                 dp + (size_t)(2 * oh - 1) * w);
}

/* Average backward, one plane: dx[window] += dy * 1/(kh*kw), tap by tap as the forward. */
static void avgpool_plane_bwd(const mc_pool_desc *d, const float *gp, float *dp) {
    const int w = d->w, ow = d->ow, sw = d->sw, pl = d->pl;
    const float inv = 1.0f / (float)(d->kh * d->kw);
    for (int oy = 0; oy < d->oh; oy++) {
        int y0, y1;
        pool_rows(d, oy, &y0, &y1);
        const float *g = gp + (size_t)oy * ow;
        for (int iy = y0; iy < y1; iy++)
            for (int j = 0; j < d->kw; j++) {
                int lo, hi;
                pool_cols(d, j, &lo, &hi);
                float *t = dp + (size_t)iy * w + (lo * sw - pl + j);
                const int n = hi - lo;
                if (sw == 1)
                    for (int q = 0; q < n; q++) t[q] += g[lo + q] * inv;
                else
                    for (int q = 0; q < n; q++) t[(size_t)q * sw] += g[lo + q] * inv;
            }
    }
}

static int cpu_pool_bwd(mc_backend *be, const mc_pool_desc *d, const float *x, const float *y,
                        const float *dy, float beta, float *dx) {
    const size_t hw = (size_t)d->h * d->w, ohw = (size_t)d->oh * d->ow;
    const int gather = d->mode == MC_POOL_MAX && maxpool_gather_fits(be->ctx, d, beta);
#pragma omp parallel for schedule(static) num_threads(cpu_nt(be))
    for (int nc = 0; nc < d->n * d->c; nc++) {
        float *dp = dx + (size_t)nc * hw;
        if (gather) {
            maxpool_plane_bwd_gather(be->ctx, d, x + (size_t)nc * hw, y + (size_t)nc * ohw, dy + (size_t)nc * ohw, dp);
            continue;
        }
        scale_out(dp, hw, beta);
        if (d->mode == MC_POOL_MAX)
            maxpool_plane_bwd(be->ctx, d, x + (size_t)nc * hw, y + (size_t)nc * ohw, dy + (size_t)nc * ohw, dp);
        else
            avgpool_plane_bwd(d, dy + (size_t)nc * ohw, dp);
    }
    return MC_OK;
}

/* ---- activations ----------------------------------------------------------------------- */
static int cpu_act_fwd(mc_backend *be, const mc_act *a, size_t n, const float *x, float *y) {
    if (!act_known(a)) return mc_err(MC_EUNSUP, "cpu backend: unknown activation %d", a->type);
    if (a->type == MC_ACT_LINEAR) {
        if (x != y) memcpy(y, x, n * sizeof(float));
        return MC_OK;
    }
    const float s = a->a, hi = a->b; /* copies: no aliasing with y */
#define K_(T)                                                                                      \
    _Pragma("omp parallel for schedule(static) num_threads(cpu_nt(be))") for (size_t i = 0; i < n; i++) y[i] = act_f(T, s, hi, x[i])
    ACT_DISPATCH(a, K_)
#undef K_
    return MC_OK;
}

static int cpu_act_bwd(mc_backend *be, const mc_act *a, size_t n, const float *y, const float *dy,
                       float beta, float *dx) {
    if (!act_known(a)) return mc_err(MC_EUNSUP, "cpu backend: unknown activation %d", a->type);
    const float s = a->a, hi = a->b;
    if (beta == 0.0f) {
#define K_(T)                                                                                      \
    _Pragma("omp parallel for schedule(static) num_threads(cpu_nt(be))") for (size_t i = 0; i < n; i++) dx[i] =            \
        act_d(T, s, hi, T == MC_ACT_LINEAR ? 0.0f : y[i], dy[i])
        ACT_DISPATCH(a, K_)
#undef K_
    } else {
#define K_(T)                                                                                      \
    _Pragma("omp parallel for schedule(static) num_threads(cpu_nt(be))") for (size_t i = 0; i < n; i++) dx[i] =            \
        act_d(T, s, hi, T == MC_ACT_LINEAR ? 0.0f : y[i], dy[i]) + beta * dx[i]
        ACT_DISPATCH(a, K_)
#undef K_
    }
    return MC_OK;
}

/* y = act(a + b) */
static int cpu_add_act(mc_backend *be, const mc_act *act, size_t n, const float *a, const float *b,
                       float *y) {
    if (!act) act = &act_linear;
    if (!act_known(act)) return mc_err(MC_EUNSUP, "cpu backend: unknown activation %d", act->type);
    const float s = act->a, hi = act->b;
#define K_(T)                                                                                      \
    _Pragma("omp parallel for schedule(static) num_threads(cpu_nt(be))") for (size_t i = 0; i < n; i++) y[i] =             \
        act_f(T, s, hi, a[i] + b[i])
    ACT_DISPATCH(act, K_)
#undef K_
    return MC_OK;
}

/* ---- element-wise ---------------------------------------------------------------------- */
static int cpu_axpy(mc_backend *be, size_t n, float alpha, const float *x, float *y) {
#pragma omp parallel for schedule(static) num_threads(cpu_nt(be))
    for (size_t i = 0; i < n; i++) y[i] += alpha * x[i];
    return MC_OK;
}

static int cpu_scale(mc_backend *be, size_t n, float alpha, float *x) {
#pragma omp parallel for schedule(static) num_threads(cpu_nt(be))
    for (size_t i = 0; i < n; i++) x[i] *= alpha;
    return MC_OK;
}

/* rows cut into PIECEs (above), so that one long row is shared by the threads too */
static int cpu_copy2d(mc_backend *be, size_t rows, size_t cols, const float *src, size_t sst,
                      float beta, float *dst, size_t dstst) {
    const size_t per_row = cols ? (cols + PIECE - 1) / PIECE : 0;
#pragma omp parallel for schedule(static) num_threads(cpu_nt(be))
    for (size_t q = 0; q < rows * per_row; q++) {
        const size_t r = q / per_row, j0 = q % per_row * PIECE, j1 = cols - j0 < PIECE ? cols : j0 + PIECE;
        const float *s = src + r * sst;
        float *d = dst + r * dstst;
        if (beta == 0.0f)
            memcpy(d + j0, s + j0, (j1 - j0) * sizeof(float));
        else
            for (size_t j = j0; j < j1; j++) d[j] = s[j] + beta * d[j];
    }
    return MC_OK;
}

/* y[n][c][y*r+i][x*r+j] = x[n][c*r*r + i*r + j][y][x] */
static int cpu_shuffle_fwd(mc_backend *be, int n, int c, int h, int w, int r, const float *x,
                           float *y) {
    const int oh = h * r, ow = w * r;
#pragma omp parallel for schedule(static) num_threads(cpu_nt(be))
    for (int nc = 0; nc < n * c; nc++) {
        float *yp = y + (size_t)nc * oh * ow;
        const float *xp = x + (size_t)nc * r * r * h * w;
        for (int oy = 0; oy < oh; oy++) {
            const int iy = oy / r, i = oy % r;
            float *yr = yp + (size_t)oy * ow;
            for (int j = 0; j < r; j++) {
                const float *xr = xp + ((size_t)(i * r + j) * h + iy) * w;
                for (int ix = 0; ix < w; ix++) yr[ix * r + j] = xr[ix];
            }
        }
    }
    return MC_OK;
}

static int cpu_shuffle_bwd(mc_backend *be, int n, int c, int h, int w, int r, const float *dy,
                           float beta, float *dx) {
    const int oh = h * r, ow = w * r;
#pragma omp parallel for schedule(static) num_threads(cpu_nt(be))
    for (int nc = 0; nc < n * c; nc++) {
        const float *gp = dy + (size_t)nc * oh * ow;
        float *dp = dx + (size_t)nc * r * r * h * w;
        for (int oy = 0; oy < oh; oy++) {
            const int iy = oy / r, i = oy % r;
            const float *gr = gp + (size_t)oy * ow;
            for (int j = 0; j < r; j++) {
                float *t = dp + ((size_t)(i * r + j) * h + iy) * w;
                if (beta == 0.0f)
                    for (int ix = 0; ix < w; ix++) t[ix] = gr[ix * r + j];
                else
                    for (int ix = 0; ix < w; ix++) t[ix] = gr[ix * r + j] + beta * t[ix];
            }
        }
    }
    return MC_OK;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* replication pad, row by row: l copies of the first value, the row, r copies of the last */
static int cpu_pad_fwd(mc_backend *be, int n, int c, int h, int w, int l, int r, int t, int b,
                       const float *x, float *y) {
    const int oh = h + t + b, ow = w + l + r;
#pragma omp parallel for schedule(static) num_threads(cpu_nt(be))
    for (int nc = 0; nc < n * c; nc++) {
        const float *xp = x + (size_t)nc * h * w;
        float *yp = y + (size_t)nc * oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            const float *xr = xp + (size_t)clampi(oy - t, 0, h - 1) * w;
            float *yr = yp + (size_t)oy * ow;
            for (int ox = 0; ox < l; ox++) yr[ox] = xr[0];
            memcpy(yr + l, xr, (size_t)w * sizeof(float));
            for (int ox = l + w; ox < ow; ox++) yr[ox] = xr[w - 1];
        }
    }
    return MC_OK;
}

/* the adjoint; per input element the contributions arrive in the order of the output scan */
static int cpu_pad_bwd(mc_backend *be, int n, int c, int h, int w, int l, int r, int t, int b,
                       const float *dy, float beta, float *dx) {
    const int oh = h + t + b, ow = w + l + r;
#pragma omp parallel for schedule(static) num_threads(cpu_nt(be))
    for (int nc = 0; nc < n * c; nc++) {
        const float *gp = dy + (size_t)nc * oh * ow;
        float *dp = dx + (size_t)nc * h * w;
        scale_out(dp, (size_t)h * w, beta);
        for (int oy = 0; oy < oh; oy++) {
            float *dr = dp + (size_t)clampi(oy - t, 0, h - 1) * w;
            const float *gr = gp + (size_t)oy * ow;
            for (int ox = 0; ox < l; ox++) dr[0] += gr[ox];
            for (int ix = 0; ix < w; ix++) dr[ix] += gr[l + ix];
            for (int ox = l + w; ox < ow; ox++) dr[w - 1] += gr[ox];
        }
    }
    return MC_OK;
}

/* ---- loss and optimiser ---------------------------------------------------------------- */
static int cpu_bce_fwd(mc_backend *be, size_t n, const float *z, const float *t, const float *mask,
                       float *prob, double *loss, double *count) {
    double s = 0, cnt = 0;
    for (size_t i = 0; i < n; i++) {
        double zi = z[i], m = mask ? mask[i] : 1.0;
        prob[i] = 1.0f / (1.0f + expf(-z[i]));
        /* max(z,0) - z*t + log(1 + exp(-|z|)): stable for any z */
        double l = (zi > 0 ? zi : 0) - zi * t[i] + log1p(exp(-fabs(zi)));
        s += m * l;
        cnt += m;
    }
    *loss = cnt > 0 ? s / cnt : 0.0;
    *count = cnt;
    return MC_OK;
}

static int cpu_bce_bwd(mc_backend *be, size_t n, const float *prob, const float *t,
                       const float *mask, float scale, float beta, float *dz) {
    for (size_t i = 0; i < n; i++) {
        float m = mask ? mask[i] : 1.0f;
        float v = scale * m * (prob[i] - t[i]);
        dz[i] = beta == 0.0f ? v : v + beta * dz[i];
    }
    return MC_OK;
}

static int cpu_sgd(mc_backend *be, size_t n, float *w, const float *g, float *v, float lr,
                   float momentum, float wd, int decoupled) {
    const float l2 = decoupled ? 0.0f : wd, shrink = decoupled ? 1.0f - lr * wd : 1.0f;
#pragma omp parallel for schedule(static) num_threads(cpu_nt(be))
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + l2 * w[i];
        float vi = momentum * v[i] + gi;
        v[i] = vi;
        w[i] = w[i] * shrink - lr * vi;
    }
    return MC_OK;
}

/* Adam / AdamW (backend.h): one pass, element by element in torch's order of operations */
static int cpu_adam(mc_backend *be, size_t n, float *w, const float *g, float *m, float *v, const mc_adam_coef *c) {
    const mc_adam_coef k = *c;
#pragma omp parallel for schedule(static) num_threads(cpu_nt(be))
    for (size_t i = 0; i < n; i++) {
        const float gi = g[i] + k.l2 * w[i];
        const float wi = w[i] * k.shrink;
        const float mi = m[i] * k.b1 + k.omb1 * gi;
        const float vi = v[i] * k.b2 + k.omb2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] = wi + -k.step_size * (mi / (sqrtf(vi) / k.bc2_sqrt + k.eps));
    }
    return MC_OK;
}

/* RMSprop (backend.h) */
static int cpu_rmsprop(mc_backend *be, size_t n, float *w, const float *g, float *sq, float *ga, float *buf,
                       const mc_rmsprop_coef *c) {
    const mc_rmsprop_coef k = *c;
    if ((k.centered && !ga) || (k.momentum > 0.0f && !buf))
        return mc_err(MC_EARG, "cpu backend: rmsprop without its %s buffer", !buf ? "momentum" : "average");
#pragma omp parallel for schedule(static) num_threads(cpu_nt(be))
    for (size_t i = 0; i < n; i++) {
        const float gi = g[i] + k.l2 * w[i];
        const float wi = w[i] * k.shrink;
        const float si = sq[i] * k.alpha + k.oma * gi * gi;
        sq[i] = si;
        float avg;
        if (k.centered) {
            const float ai = ga[i] * k.alpha + k.oma * gi;
            ga[i] = ai;
            avg = sqrtf(si + -1.0f * ai * ai) + k.eps;
        } else {
            avg = sqrtf(si) + k.eps;
        }
        if (k.momentum > 0.0f) {
            const float bi = buf[i] * k.momentum + gi / avg;
            buf[i] = bi;
            w[i] = wi + -k.lr * bi;
        } else {
            w[i] = wi + -k.lr * (gi / avg);
        }
    }
    return MC_OK;
}

/* ---- dense regression losses ------------------------------------------------------------
 * The sums are cut into chunks of REG_CHUNK entries (fixed by n), each summed in double by one
 * thread, the chunks added in order: the same bits for every thread count. */
#define REG_CHUNK 8192
static int cpu_reg_loss_fwd(mc_backend *be, int type, size_t n, const float *z, const float *t, const float *mask,
                            double *loss, double *count) {
    if (type != MC_LOSS_MSE && type != MC_LOSS_L1) return mc_err(MC_EUNSUP, "cpu backend: unknown loss %d", type);
    const size_t nch = (n + REG_CHUNK - 1) / REG_CHUNK;
    double *part = mc_malloc((nch ? nch : 1) * 2 * sizeof(double), "loss partial sums");
    if (!part) return MC_ENOMEM;
#pragma omp parallel for schedule(static) num_threads(cpu_nt(be))
    for (size_t q = 0; q < nch; q++) {
        const size_t a = q * REG_CHUNK, b = a + REG_CHUNK < n ? a + REG_CHUNK : n;
        double s = 0, cnt = 0;
        for (size_t i = a; i < b; i++) {
            const double m = mask ? (double)mask[i] : 1.0, d = (double)z[i] - (double)t[i];
            s += m * (type == MC_LOSS_MSE ? d * d : fabs(d));
            cnt += m;
        }
        part[2 * q] = s;
        part[2 * q + 1] = cnt;
    }
    double s = 0, cnt = 0;
    for (size_t q = 0; q < nch; q++) {
        s += part[2 * q];
        cnt += part[2 * q + 1];
    }
    free(part);
    *loss = cnt > 0 ? s / cnt : 0.0;
    *count = cnt;
    return MC_OK;
}

static int cpu_reg_loss_bwd(mc_backend *be, int type, size_t n, const float *z, const float *t, const float *mask,
                            float scale, float beta, float *dz) {
    if (type != MC_LOSS_MSE && type != MC_LOSS_L1) return mc_err(MC_EUNSUP, "cpu backend: unknown loss %d", type);
    const float s2 = type == MC_LOSS_MSE ? 2.0f * scale : scale;
#pragma omp parallel for schedule(static) num_threads(cpu_nt(be))
    for (size_t i = 0; i < n; i++) {
        const float d = z[i] - t[i], m = mask ? mask[i] : 1.0f;
        const float sg = d > 0.0f ? 1.0f : (d < 0.0f ? -1.0f : 0.0f);
        const float v = m * ((type == MC_LOSS_MSE ? d : sg) * s2);
        dz[i] = beta == 0.0f ? v : v + beta * dz[i];
    }
    return MC_OK;
}

/* ---- upsampling ---------------------------------------------------------------------------
 * Per axis the bilinear taps of every output position (backend.h: PyTorch's source index in
 * float, align_corners=False); the CUDA backend computes the same per element (cuda_math.h). */
typedef struct up_tap {
    int i0, i1;
    float l0, l1;
} up_tap;

static void up_taps(int in, int f, int out, up_tap *t) {
    const float scale = 1.0f / (float)f;
    for (int o = 0; o < out; o++) {
        float s = scale * ((float)o + 0.5f) - 0.5f;
        if (s < 0.0f) s = 0.0f;
        int i0 = (int)s;
        if (i0 > in - 1) i0 = in - 1;
        float l1 = s - (float)i0;
        l1 = l1 < 0.0f ? 0.0f : (l1 > 1.0f ? 1.0f : l1);
        t[o].i0 = i0;
        t[o].i1 = i0 < in - 1 ? i0 + 1 : i0;
        t[o].l1 = l1;
        t[o].l0 = 1.0f - l1;
    }
}

/* the weight with which output o's taps reach input i (0: none) */
static inline float up_weight(const up_tap *t, int i) {
    return (t->i0 == i ? t->l0 : 0.0f) + (t->i1 == i ? t->l1 : 0.0f);
}

/* the outputs along an axis whose taps can reach input i: [*lo, *hi] */
static inline void up_range(int i, int f, int out, int *lo, int *hi) {
    *lo = f * (i - 1) < 0 ? 0 : f * (i - 1);
    *hi = f * (i + 2) - 1 > out - 1 ? out - 1 : f * (i + 2) - 1;
}

static int cpu_upsample_fwd(mc_backend *be, int mode, int n, int c, int h, int w, int f, const float *x, float *y) {
    if (f < 1) return mc_err(MC_EARG, "cpu backend: upsampling factor %d", f);
    const int oh = h * f, ow = w * f;
    if (mode == MC_UP_NEAREST) {
#pragma omp parallel for schedule(static) num_threads(cpu_nt(be))
        for (int nc = 0; nc < n * c; nc++) {
            const float *xp = x + (size_t)nc * h * w;
            float *yp = y + (size_t)nc * oh * ow;
            for (int iy = 0; iy < h; iy++) {
                const float *xr = xp + (size_t)iy * w;
                float *yr = yp + (size_t)iy * f * ow;
                if (f == 2)
                    for (int ix = 0; ix < w; ix++) yr[2 * ix] = yr[2 * ix + 1] = xr[ix];
                else
                    for (int ix = 0; ix < w; ix++)
                        for (int b = 0; b < f; b++) yr[ix * f + b] = xr[ix];
                for (int a = 1; a < f; a++) memcpy(yr + (size_t)a * ow, yr, (size_t)ow * sizeof(float));
            }
        }
        return MC_OK;
    }
    if (mode != MC_UP_BILINEAR) return mc_err(MC_EUNSUP, "cpu backend: unknown upsampling mode %d", mode);
    up_tap *ty = mc_malloc((size_t)(oh + ow) * sizeof *ty, "upsampling taps");
    if (!ty) return MC_ENOMEM;
    up_tap *tx = ty + oh;
    up_taps(h, f, oh, ty);
    up_taps(w, f, ow, tx);
#pragma omp parallel for schedule(static) num_threads(cpu_nt(be))
    for (int nc = 0; nc < n * c; nc++) {
        const float *xp = x + (size_t)nc * h * w;
        float *yp = y + (size_t)nc * oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            const float *r0 = xp + (size_t)ty[oy].i0 * w, *r1 = xp + (size_t)ty[oy].i1 * w;
            const float h0 = ty[oy].l0, h1 = ty[oy].l1;
            float *yr = yp + (size_t)oy * ow;
            for (int ox = 0; ox < ow; ox++) {
                const up_tap t = tx[ox];
                yr[ox] = (r0[t.i0] * t.l0 + r0[t.i1] * t.l1) * h0 + (r1[t.i0] * t.l0 + r1[t.i1] * t.l1) * h1;
            }
        }
    }
    free(ty);
    return MC_OK;
}

static int cpu_upsample_bwd(mc_backend *be, int mode, int n, int c, int h, int w, int f, const float *dy, float beta,
                            float *dx) {
    if (f < 1) return mc_err(MC_EARG, "cpu backend: upsampling factor %d", f);
    const int oh = h * f, ow = w * f;
    if (mode == MC_UP_NEAREST) {
#pragma omp parallel for schedule(static) num_threads(cpu_nt(be))
        for (int nc = 0; nc < n * c; nc++) {
            const float *gp = dy + (size_t)nc * oh * ow;
            float *dp = dx + (size_t)nc * h * w;
            for (int iy = 0; iy < h; iy++)
                for (int ix = 0; ix < w; ix++) {
                    float v = beta == 0.0f ? 0.0f : beta * dp[(size_t)iy * w + ix];
                    for (int a = 0; a < f; a++) {
                        const float *g = gp + ((size_t)iy * f + a) * ow + (size_t)ix * f;
                        for (int b = 0; b < f; b++) v += g[b];
                    }
                    dp[(size_t)iy * w + ix] = v;
                }
        }
        return MC_OK;
    }
    if (mode != MC_UP_BILINEAR) return mc_err(MC_EUNSUP, "cpu backend: unknown upsampling mode %d", mode);
    up_tap *ty = mc_malloc((size_t)(oh + ow) * sizeof *ty, "upsampling taps");
    float *rows = mc_malloc((size_t)2 * w * (size_t)cpu_nt(be) * sizeof(float), "upsampling rows");
    if (!ty || !rows) {
        free(ty);
        free(rows);
        return MC_ENOMEM;
    }
    up_tap *tx = ty + oh;
    up_taps(h, f, oh, ty);
    up_taps(w, f, ow, tx);
#pragma omp parallel num_threads(cpu_nt(be))
    {
        float *acc = rows + (size_t)2 * w * (size_t)omp_get_thread_num(), *trow = acc + w;
#pragma omp for schedule(static)
        for (int nc = 0; nc < n * c; nc++) {
            const float *gp = dy + (size_t)nc * oh * ow;
            float *dp = dx + (size_t)nc * h * w;
            for (int iy = 0; iy < h; iy++) {
                float *dr = dp + (size_t)iy * w;
                for (int ix = 0; ix < w; ix++) acc[ix] = beta == 0.0f ? 0.0f : beta * dr[ix];
                int y0, y1;
                up_range(iy, f, oh, &y0, &y1);
                for (int oy = y0; oy <= y1; oy++) {
                    const float wy = up_weight(&ty[oy], iy);
                    if (wy == 0.0f) continue;
                    const float *g = gp + (size_t)oy * ow;
                    for (int ix = 0; ix < w; ix++) {
                        int x0, x1;
                        up_range(ix, f, ow, &x0, &x1);
                        float t = 0.0f;
                        for (int ox = x0; ox <= x1; ox++) {
                            const float wx = up_weight(&tx[ox], ix);
                            if (wx != 0.0f) t += wx * g[ox];
                        }
                        trow[ix] = t;
                    }
                    for (int ix = 0; ix < w; ix++) acc[ix] += wy * trow[ix];
                }
                memcpy(dr, acc, (size_t)w * sizeof(float));
            }
        }
    }
    free(ty);
    free(rows);
    return MC_OK;
}

static int cpu_all_finite(mc_backend *be, size_t n, const float *x, int *result) {
    int ok = 1;
#pragma omp parallel for schedule(static) num_threads(cpu_nt(be)) reduction(&& : ok)
    for (size_t i = 0; i < n; i++) ok = ok && isfinite(x[i]);
    *result = ok;
    return MC_OK;
}

static void cpu_destroy(mc_backend *be) {
    mc_cpu *c = be->ctx;
    if (c) mc_cpu_arena_free(&c->arena);
    free(c);
    free(be);
}

int mc_backend_cpu_create(mc_backend **out, const mc_net_opts *opts) {
    const mc_net_opts defaults = {0};
    if (!opts) opts = &defaults;
    if (opts->threads < 0)
        return mc_err(MC_EARG, "threads: %d (0 = all cores, or a count >= 1)", opts->threads);
    if (opts->winograd < MC_WINOGRAD_AUTO || opts->winograd > MC_WINOGRAD_4X4)
        return mc_err(MC_EARG, "winograd: %d is not MC_WINOGRAD_AUTO, _ON, _OFF or _4X4", opts->winograd);
    if (opts->precision != MC_PRECISION_FP32 && opts->precision != MC_PRECISION_BF16)
        return mc_err(MC_EARG, "precision: %d is not MC_PRECISION_FP32 or MC_PRECISION_BF16", opts->precision);
    if (opts->precision == MC_PRECISION_BF16 && !mc_cpu_bf16_available())
        return mc_err(MC_EUNSUP, "--precision bf16 needs a CPU with AVX512-BF16 (this CPU: %s)", mc_cpu_vector_isa());
    mc_backend *be = mc_calloc(1, sizeof *be, "cpu backend");
    if (!be) return MC_ENOMEM;
    mc_cpu *cpu = mc_calloc(1, sizeof *cpu, "cpu backend");
    if (!cpu) {
        free(be);
        return MC_ENOMEM;
    }
    /* 0: OpenMP's default (OMP_NUM_THREADS, else the cores), read, never set */
    cpu->threads = opts->threads > 0 ? opts->threads : omp_get_max_threads();
    if (cpu->threads < 1) cpu->threads = 1;
    if (opts->winograd == MC_WINOGRAD_AUTO) {
        const char *e = getenv("MC_CPU_WINOGRAD"); /* for comparisons: MC_CPU_WINOGRAD=0 */
        cpu->winograd = e && e[0] == '0' ? 0 : e && e[0] == '4' ? 4 : 2;
    } else {
        cpu->winograd = opts->winograd == MC_WINOGRAD_ON ? 2 : opts->winograd == MC_WINOGRAD_4X4 ? 4 : 0;
    }
    cpu->bf16 = opts->precision == MC_PRECISION_BF16;
    {
        /* the own float32 GEMM where the CPU has AVX-512 (cpu/gemm_f32.c); MC_CPU_GEMM=openblas
         * keeps OpenBLAS's, for comparisons */
        const char *why;
        cpu->own_gemm = mc_cpu_own_gemm(&why);
        if (cpu->own_gemm < 0) {
            const char *e = getenv("MC_CPU_GEMM");
            free(cpu);
            free(be);
            return mc_err(MC_EARG, "%s (it is '%s')", why, e ? e : "");
        }
    }
    cpu->simd = mc_cpu_f32_level();
    {
        /* transparent huge pages for the large buffers (mc_cpu_map); MC_CPU_HUGEPAGES=0 asks for
         * none, for comparisons */
        const char *e = getenv("MC_CPU_HUGEPAGES");
        if (e && *e && strcmp(e, "0") && strcmp(e, "1")) {
            free(cpu);
            free(be);
            return mc_err(MC_EARG, "MC_CPU_HUGEPAGES: not '0' or '1' (it is '%s')", e);
        }
        cpu->hugepages = !(e && !strcmp(e, "0"));
    }
    /* The one process-wide setting, and why it cannot be ours alone: OpenBLAS 0.3.21 has only a
     * process-wide thread count (openblas_set_num_threads; no per-call or per-handle count).
     * Every GEMM of this backend runs inside our own OpenMP regions, already split by shape
     * (cpu/conv.h), and must run single-threaded there: OpenBLAS's own pthread pool on the same
     * cores costs more than half of a step (docs/performance.md), and its split of a product would
     * not be ours to fix. So every CPU backend sets it to 1 — the same value each time, so two
     * networks never disagree about it. */
    openblas_set_num_threads(1);
    *be = (mc_backend){
        .name = "cpu",
        .ctx = cpu,
        .is_host = 1,
        .threads = cpu->threads,
        .precision = opts->precision,
        .destroy = cpu_destroy,
        .alloc = cpu_alloc,
        .free = cpu_free,
        .upload = cpu_upload,
        .download = cpu_download,
        .fill = cpu_fill,
        .sync = cpu_sync,
        .conv_workspace = cpu_conv_workspace,
        .conv_fwd = cpu_conv_fwd,
        .conv_bwd_data = cpu_conv_bwd_data,
        .conv_bwd_filter = cpu_conv_bwd_filter,
        .bias_fwd = cpu_bias_fwd,
        .bias_bwd = cpu_bias_bwd,
        .bn_fwd_train = cpu_bn_fwd_train,
        .bn_fwd_infer = cpu_bn_fwd_infer,
        .bn_bwd_train = cpu_bn_bwd_train,
        .bn_bwd_infer = cpu_bn_bwd_infer,
        .pool_fwd = cpu_pool_fwd,
        .pool_bwd = cpu_pool_bwd,
        .act_fwd = cpu_act_fwd,
        .act_bwd = cpu_act_bwd,
        .gemm = cpu_gemm,
        .axpy = cpu_axpy,
        .scale = cpu_scale,
        .copy2d = cpu_copy2d,
        .shuffle_fwd = cpu_shuffle_fwd,
        .shuffle_bwd = cpu_shuffle_bwd,
        .pad_fwd = cpu_pad_fwd,
        .pad_bwd = cpu_pad_bwd,
        .bce_fwd = cpu_bce_fwd,
        .bce_bwd = cpu_bce_bwd,
        .sgd = cpu_sgd,
        .adam = cpu_adam,
        .rmsprop = cpu_rmsprop,
        .reg_loss_fwd = cpu_reg_loss_fwd,
        .reg_loss_bwd = cpu_reg_loss_bwd,
        .upsample_fwd = cpu_upsample_fwd,
        .upsample_bwd = cpu_upsample_bwd,
        .all_finite = cpu_all_finite,
        .bn_act_fwd_train = cpu_bn_act_fwd_train,
        .bn_act_fwd_infer = cpu_bn_act_fwd_infer,
        .bn_act_bwd_train = cpu_bn_act_bwd_train,
        .add_act = cpu_add_act,
    };
    *out = be;
    return MC_OK;
}

/* the registration (engine/backends.c): every fused operation */
const mc_backend_entry mc_backend_cpu_entry = {
    "cpu", MC_BACKEND_CPU, mc_backend_cpu_create,
    MC_FUSED_BN_ACT_FWD_TRAIN | MC_FUSED_BN_ACT_FWD_INFER | MC_FUSED_BN_ACT_BWD_TRAIN | MC_FUSED_ADD_ACT, NULL};
