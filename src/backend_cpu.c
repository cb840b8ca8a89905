/* backend_cpu.c — the CPU backend: OpenBLAS for GEMM, OpenMP loops for the rest.
 *
 * Convolutions are im2col + GEMM per image and group (a 1x1 stride-1 unpadded convolution uses
 * the input directly as the column matrix). Reductions (bias gradient, batch-norm statistics,
 * the loss) accumulate in double so that the result does not depend on the thread count and
 * stays within float rounding of PyTorch's.
 */
/* the reductions below accumulate float data in double on purpose */
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#include <cblas.h>
#include <stdlib.h>
#include <math.h>
#include <omp.h>
#include <string.h>
#include "backend.h"

/* ---- memory ---------------------------------------------------------------------------- */
static float *cpu_alloc(mc_backend *be, size_t n, const char *what) {
    float *p = mc_alloc_floats(n, what);
    if (p) memset(p, 0, (n ? n : 1) * sizeof(float));
    return p;
}
static void cpu_free(mc_backend *be, float *p) { mc_free_aligned(p); }
static int cpu_upload(mc_backend *be, float *dst, const float *host, size_t n) {
    if (dst != host) memcpy(dst, host, n * sizeof(float));
    return MC_OK;
}
static int cpu_download(mc_backend *be, float *host, const float *src, size_t n) {
    if (host != src) memcpy(host, src, n * sizeof(float));
    return MC_OK;
}
static int cpu_fill(mc_backend *be, float *p, float v, size_t n) {
    if (v == 0.0f) {
        memset(p, 0, n * sizeof(float));
        return MC_OK;
    }
    for (size_t i = 0; i < n; i++) p[i] = v;
    return MC_OK;
}
static int cpu_sync(mc_backend *be) { return MC_OK; }

/* y = beta*y (beta 0 clears, so that NaN garbage never leaks in) */
static void scale_out(float *y, size_t n, float beta) {
    if (beta == 1.0f) return;
    if (beta == 0.0f) {
        memset(y, 0, n * sizeof(float));
        return;
    }
    for (size_t i = 0; i < n; i++) y[i] *= beta;
}

/* ---- GEMM ------------------------------------------------------------------------------ */
static int cpu_gemm(mc_backend *be, int ta, int tb, int m, int n, int k, float alpha, const float *a,
                    int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    if (m <= 0 || n <= 0) return MC_OK;
    if (k <= 0) {
        for (int i = 0; i < m; i++) scale_out(c + (size_t)i * ldc, (size_t)n, beta);
        return MC_OK;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
                k, alpha, a, lda, b, ldb, beta, c, ldc);
    return MC_OK;
}

/* ---- convolution ----------------------------------------------------------------------- */
static int conv_is_direct(const mc_conv_desc *d) {
    return d->kh == 1 && d->kw == 1 && d->sh == 1 && d->sw == 1 && d->ph == 0 && d->pw == 0;
}

static size_t cpu_conv_workspace(mc_backend *be, const mc_conv_desc *d) {
    if (conv_is_direct(d)) return 0;
    return (size_t)(d->c / d->groups) * d->kh * d->kw * d->oh * d->ow;
}

/* col[(ci*kh + i)*kw + j][oy*ow + ox] = x[ci][oy*sh - ph + i][ox*sw - pw + j] (0 outside) */
static void im2col(const mc_conv_desc *d, int cg, const float *x, float *col) {
    const int h = d->h, w = d->w, oh = d->oh, ow = d->ow;
    const int rows = cg * d->kh * d->kw;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        int j = r % d->kw, i = (r / d->kw) % d->kh, ci = r / (d->kw * d->kh);
        const float *xc = x + (size_t)ci * h * w;
        float *dst = col + (size_t)r * oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            int iy = oy * d->sh - d->ph + i;
            float *drow = dst + (size_t)oy * ow;
            if (iy < 0 || iy >= h) {
                memset(drow, 0, (size_t)ow * sizeof(float));
                continue;
            }
            const float *xrow = xc + (size_t)iy * w;
            if (d->sw == 1) {
                int x0 = j - d->pw;
                for (int ox = 0; ox < ow; ox++) {
                    int ix = x0 + ox;
                    drow[ox] = (ix >= 0 && ix < w) ? xrow[ix] : 0.0f;
                }
            } else {
                for (int ox = 0; ox < ow; ox++) {
                    int ix = ox * d->sw - d->pw + j;
                    drow[ox] = (ix >= 0 && ix < w) ? xrow[ix] : 0.0f;
                }
            }
        }
    }
}

/* x[ci][iy][ix] += col[...] — the adjoint of im2col; parallel over input channels so that no
 * two threads write the same element. */
static void col2im_add(const mc_conv_desc *d, int cg, const float *col, float *x) {
    const int h = d->h, w = d->w, oh = d->oh, ow = d->ow, kk = d->kh * d->kw;
#pragma omp parallel for schedule(static)
    for (int ci = 0; ci < cg; ci++) {
        float *xc = x + (size_t)ci * h * w;
        for (int ij = 0; ij < kk; ij++) {
            int i = ij / d->kw, j = ij % d->kw;
            const float *src = col + ((size_t)ci * kk + ij) * oh * ow;
            for (int oy = 0; oy < oh; oy++) {
                int iy = oy * d->sh - d->ph + i;
                if (iy < 0 || iy >= h) continue;
                float *xrow = xc + (size_t)iy * w;
                const float *srow = src + (size_t)oy * ow;
                for (int ox = 0; ox < ow; ox++) {
                    int ix = ox * d->sw - d->pw + j;
                    if (ix >= 0 && ix < w) xrow[ix] += srow[ox];
                }
            }
        }
    }
}

static int cpu_conv_fwd(mc_backend *be, const mc_conv_desc *d, const float *x, const float *w,
                        float beta, float *y, float *ws) {
    const int G = d->groups, cg = d->c / G, kg = d->k / G;
    const size_t hw = (size_t)d->h * d->w, ohw = (size_t)d->oh * d->ow;
    const int kdim = cg * d->kh * d->kw;
    for (int n = 0; n < d->n; n++) {
        for (int g = 0; g < G; g++) {
            const float *xg = x + ((size_t)n * d->c + (size_t)g * cg) * hw;
            const float *wg = w + (size_t)g * kg * kdim;
            float *yg = y + ((size_t)n * d->k + (size_t)g * kg) * ohw;
            const float *col = xg;
            if (!conv_is_direct(d)) {
                im2col(d, cg, xg, ws);
                col = ws;
            }
            cpu_gemm(be, 0, 0, kg, (int)ohw, kdim, 1.0f, wg, kdim, col, (int)ohw, beta, yg, (int)ohw);
        }
    }
    return MC_OK;
}

static int cpu_conv_bwd_data(mc_backend *be, const mc_conv_desc *d, const float *dy, const float *w,
                             float beta, float *dx, float *ws) {
    const int G = d->groups, cg = d->c / G, kg = d->k / G;
    const size_t hw = (size_t)d->h * d->w, ohw = (size_t)d->oh * d->ow;
    const int kdim = cg * d->kh * d->kw;
    for (int n = 0; n < d->n; n++) {
        for (int g = 0; g < G; g++) {
            const float *dyg = dy + ((size_t)n * d->k + (size_t)g * kg) * ohw;
            const float *wg = w + (size_t)g * kg * kdim;
            float *dxg = dx + ((size_t)n * d->c + (size_t)g * cg) * hw;
            if (conv_is_direct(d)) {
                cpu_gemm(be, 1, 0, kdim, (int)ohw, kg, 1.0f, wg, kdim, dyg, (int)ohw, beta, dxg,
                         (int)ohw);
            } else {
                cpu_gemm(be, 1, 0, kdim, (int)ohw, kg, 1.0f, wg, kdim, dyg, (int)ohw, 0.0f, ws,
                         (int)ohw);
                scale_out(dxg, (size_t)cg * hw, beta);
                col2im_add(d, cg, ws, dxg);
            }
        }
    }
    return MC_OK;
}

static int cpu_conv_bwd_filter(mc_backend *be, const mc_conv_desc *d, const float *x,
                               const float *dy, float beta, float *dw, float *ws) {
    const int G = d->groups, cg = d->c / G, kg = d->k / G;
    const size_t hw = (size_t)d->h * d->w, ohw = (size_t)d->oh * d->ow;
    const int kdim = cg * d->kh * d->kw;
    for (int n = 0; n < d->n; n++) {
        for (int g = 0; g < G; g++) {
            const float *xg = x + ((size_t)n * d->c + (size_t)g * cg) * hw;
            const float *dyg = dy + ((size_t)n * d->k + (size_t)g * kg) * ohw;
            float *dwg = dw + (size_t)g * kg * kdim;
            const float *col = xg;
            if (!conv_is_direct(d)) {
                im2col(d, cg, xg, ws);
                col = ws;
            }
            cpu_gemm(be, 0, 1, kg, kdim, (int)ohw, 1.0f, dyg, (int)ohw, col, (int)ohw,
                     n == 0 ? beta : 1.0f, dwg, kdim);
        }
    }
    if (d->n == 0) scale_out(dw, (size_t)d->k * kdim, beta);
    return MC_OK;
}

static int cpu_bias_fwd(mc_backend *be, int n, int c, int hw, const float *b, float *y) {
#pragma omp parallel for schedule(static)
    for (int nc = 0; nc < n * c; nc++) {
        float v = b[nc % c];
        float *p = y + (size_t)nc * hw;
        for (int i = 0; i < hw; i++) p[i] += v;
    }
    return MC_OK;
}

static int cpu_bias_bwd(mc_backend *be, int n, int c, int hw, const float *dy, float beta, float *db) {
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < c; ch++) {
        double s = 0;
        for (int i = 0; i < n; i++) {
            const float *p = dy + ((size_t)i * c + ch) * hw;
            for (int j = 0; j < hw; j++) s += p[j];
        }
        db[ch] = (float)s + (beta == 0.0f ? 0.0f : beta * db[ch]);
    }
    return MC_OK;
}

/* ---- batch norm ------------------------------------------------------------------------ */
static int cpu_bn_fwd_train(mc_backend *be, const mc_bn_desc *d, const float *x, const float *gamma,
                            const float *bias, float *rmean, float *rvar, int update,
                            float *save_mean, float *save_invstd, float *y) {
    const int n = d->n, c = d->c, hw = d->hw;
    const double m = (double)n * hw;
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < c; ch++) {
        double s = 0;
        for (int i = 0; i < n; i++) {
            const float *p = x + ((size_t)i * c + ch) * hw;
            for (int j = 0; j < hw; j++) s += p[j];
        }
        double mean = s / m, ss = 0;
        for (int i = 0; i < n; i++) {
            const float *p = x + ((size_t)i * c + ch) * hw;
            for (int j = 0; j < hw; j++) {
                double t = p[j] - mean;
                ss += t * t;
            }
        }
        double var = ss / m, invstd = 1.0 / sqrt(var + d->eps);
        save_mean[ch] = (float)mean;
        save_invstd[ch] = (float)invstd;
        float a = (float)(gamma[ch] * invstd), b = (float)(bias[ch] - mean * gamma[ch] * invstd);
        for (int i = 0; i < n; i++) {
            const float *p = x + ((size_t)i * c + ch) * hw;
            float *q = y + ((size_t)i * c + ch) * hw;
            for (int j = 0; j < hw; j++) q[j] = p[j] * a + b;
        }
        if (update) {
            double unbiased = m > 1 ? ss / (m - 1) : var;
            rmean[ch] = (float)((1.0 - d->momentum) * rmean[ch] + d->momentum * mean);
            rvar[ch] = (float)((1.0 - d->momentum) * rvar[ch] + d->momentum * unbiased);
        }
    }
    return MC_OK;
}

static int cpu_bn_fwd_infer(mc_backend *be, const mc_bn_desc *d, const float *x, const float *gamma,
                            const float *bias, const float *rmean, const float *rvar, float *y) {
    const int n = d->n, c = d->c, hw = d->hw;
#pragma omp parallel for schedule(static)
    for (int nc = 0; nc < n * c; nc++) {
        int ch = nc % c;
        double invstd = 1.0 / sqrt((double)rvar[ch] + d->eps);
        float a = (float)(gamma[ch] * invstd), b = (float)(bias[ch] - rmean[ch] * gamma[ch] * invstd);
        const float *p = x + (size_t)nc * hw;
        float *q = y + (size_t)nc * hw;
        for (int j = 0; j < hw; j++) q[j] = p[j] * a + b;
    }
    return MC_OK;
}

static int cpu_bn_bwd_train(mc_backend *be, const mc_bn_desc *d, const float *x, const float *dy,
                            const float *gamma, const float *smean, const float *sinvstd,
                            float beta_dx, float *dx, float beta_p, float *dgamma, float *dbeta) {
    const int n = d->n, c = d->c, hw = d->hw;
    const double m = (double)n * hw;
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < c; ch++) {
        const double mean = smean[ch], invstd = sinvstd[ch];
        double sdy = 0, sdyx = 0;
        for (int i = 0; i < n; i++) {
            const float *p = x + ((size_t)i * c + ch) * hw;
            const float *g = dy + ((size_t)i * c + ch) * hw;
            for (int j = 0; j < hw; j++) {
                sdy += g[j];
                sdyx += g[j] * (p[j] - mean);
            }
        }
        double dg = sdyx * invstd; /* = sum dy * xhat */
        if (dgamma) dgamma[ch] = (float)dg + (beta_p == 0.0f ? 0.0f : beta_p * dgamma[ch]);
        if (dbeta) dbeta[ch] = (float)sdy + (beta_p == 0.0f ? 0.0f : beta_p * dbeta[ch]);
        if (dx) {
            /* dx = gamma*invstd * (dy - mean(dy) - xhat * mean(dy*xhat)) */
            const double k = gamma[ch] * invstd, mdy = sdy / m, mdg = dg / m;
            for (int i = 0; i < n; i++) {
                const float *p = x + ((size_t)i * c + ch) * hw;
                const float *g = dy + ((size_t)i * c + ch) * hw;
                float *q = dx + ((size_t)i * c + ch) * hw;
                for (int j = 0; j < hw; j++) {
                    double xhat = (p[j] - mean) * invstd;
                    float v = (float)(k * (g[j] - mdy - xhat * mdg));
                    q[j] = v + (beta_dx == 0.0f ? 0.0f : beta_dx * q[j]);
                }
            }
        }
    }
    return MC_OK;
}

static int cpu_bn_bwd_infer(mc_backend *be, const mc_bn_desc *d, const float *x, const float *dy,
                            const float *gamma, const float *rmean, const float *rvar,
                            float beta_dx, float *dx, float beta_p, float *dgamma, float *dbeta) {
    const int n = d->n, c = d->c, hw = d->hw;
#pragma omp parallel for schedule(static)
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
static int cpu_pool_fwd(mc_backend *be, const mc_pool_desc *d, const float *x, float *y) {
    const int h = d->h, w = d->w, oh = d->oh, ow = d->ow;
    const float inv = 1.0f / (float)(d->kh * d->kw);
#pragma omp parallel for schedule(static)
    for (int nc = 0; nc < d->n * d->c; nc++) {
        const float *xp = x + (size_t)nc * h * w;
        float *yp = y + (size_t)nc * oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            int y0 = oy * d->sh - d->pt, y1 = y0 + d->kh;
            if (y0 < 0) y0 = 0;
            if (y1 > h) y1 = h;
            for (int ox = 0; ox < ow; ox++) {
                int x0 = ox * d->sw - d->pl, x1 = x0 + d->kw;
                if (x0 < 0) x0 = 0;
                if (x1 > w) x1 = w;
                if (d->mode == MC_POOL_MAX) {
                    float m = -INFINITY;
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++) {
                            float v = xp[(size_t)iy * w + ix];
                            if (v > m || isnan(v)) m = v;
                        }
                    yp[(size_t)oy * ow + ox] = m;
                } else {
                    float s = 0.0f;
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++) s += xp[(size_t)iy * w + ix];
                    yp[(size_t)oy * ow + ox] = s * inv;
                }
            }
        }
    }
    return MC_OK;
}

static int cpu_pool_bwd(mc_backend *be, const mc_pool_desc *d, const float *x, const float *y,
                        const float *dy, float beta, float *dx) {
    const int h = d->h, w = d->w, oh = d->oh, ow = d->ow;
    const float inv = 1.0f / (float)(d->kh * d->kw);
#pragma omp parallel for schedule(static)
    for (int nc = 0; nc < d->n * d->c; nc++) {
        const float *xp = x + (size_t)nc * h * w;
        const float *gp = dy + (size_t)nc * oh * ow;
        float *dp = dx + (size_t)nc * h * w;
        scale_out(dp, (size_t)h * w, beta);
        for (int oy = 0; oy < oh; oy++) {
            int y0 = oy * d->sh - d->pt, y1 = y0 + d->kh;
            if (y0 < 0) y0 = 0;
            if (y1 > h) y1 = h;
            for (int ox = 0; ox < ow; ox++) {
                int x0 = ox * d->sw - d->pl, x1 = x0 + d->kw;
                if (x0 < 0) x0 = 0;
                if (x1 > w) x1 = w;
                float g = gp[(size_t)oy * ow + ox];
                if (d->mode == MC_POOL_MAX) {
                    /* the index PyTorch's CPU kernel records: the first maximum in scan order
                     * (a NaN wins), the window's first element when all are -inf */
                    float m = -INFINITY;
                    long best = (long)y0 * w + x0;
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++) {
                            float v = xp[(size_t)iy * w + ix];
                            if (v > m || isnan(v)) {
                                m = v;
                                best = (long)iy * w + ix;
                            }
                        }
                    if (y0 < y1 && x0 < x1) dp[best] += g;
                } else {
                    float gi = g * inv;
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++) dp[(size_t)iy * w + ix] += gi;
                }
            }
        }
    }
    return MC_OK;
}

/* ---- activations ----------------------------------------------------------------------- */
static int cpu_act_fwd(mc_backend *be, const mc_act *a, size_t n, const float *x, float *y) {
    const float s = a->a, lo = a->a, hi = a->b;
    switch (a->type) {
    case MC_ACT_LINEAR:
        if (x != y) memcpy(y, x, n * sizeof(float));
        break;
    case MC_ACT_RELU:
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case MC_ACT_LEAKY:
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : x[i] * s;
        break;
    case MC_ACT_LOGISTIC:
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
        break;
    case MC_ACT_HARDTANH:
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) y[i] = x[i] < lo ? lo : (x[i] > hi ? hi : x[i]);
        break;
    default: return mc_err(MC_EUNSUP, "cpu backend: unknown activation %d", a->type);
    }
    return MC_OK;
}

static int cpu_act_bwd(mc_backend *be, const mc_act *a, size_t n, const float *y, const float *dy,
                       float beta, float *dx) {
    const float s = a->a, lo = a->a, hi = a->b;
    const int acc = beta != 0.0f;
#define ACT_LOOP(expr)                                                                             \
    _Pragma("omp parallel for schedule(static)") for (size_t i = 0; i < n; i++) {                 \
        float v = (expr);                                                                          \
        dx[i] = acc ? v + beta * dx[i] : v;                                                        \
    }
    switch (a->type) {
    case MC_ACT_LINEAR: ACT_LOOP(dy[i]); break;
    case MC_ACT_RELU: ACT_LOOP(y[i] > 0.0f ? dy[i] : 0.0f); break;
    case MC_ACT_LEAKY: ACT_LOOP(y[i] > 0.0f ? dy[i] : dy[i] * s); break;
    case MC_ACT_LOGISTIC: ACT_LOOP(dy[i] * (1.0f - y[i]) * y[i]); break;
    case MC_ACT_HARDTANH: ACT_LOOP((y[i] > lo && y[i] < hi) ? dy[i] : 0.0f); break;
    default: return mc_err(MC_EUNSUP, "cpu backend: unknown activation %d", a->type);
    }
#undef ACT_LOOP
    return MC_OK;
}

/* ---- element-wise ---------------------------------------------------------------------- */
static int cpu_axpy(mc_backend *be, size_t n, float alpha, const float *x, float *y) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) y[i] += alpha * x[i];
    return MC_OK;
}

static int cpu_scale(mc_backend *be, size_t n, float alpha, float *x) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) x[i] *= alpha;
    return MC_OK;
}

static int cpu_copy2d(mc_backend *be, size_t rows, size_t cols, const float *src, size_t sst,
                      float beta, float *dst, size_t dstst) {
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < rows; r++) {
        const float *s = src + r * sst;
        float *d = dst + r * dstst;
        if (beta == 0.0f)
            memcpy(d, s, cols * sizeof(float));
        else
            for (size_t j = 0; j < cols; j++) d[j] = s[j] + beta * d[j];
    }
    return MC_OK;
}

/* y[n][c][y*r+i][x*r+j] = x[n][c*r*r + i*r + j][y][x] */
static int cpu_shuffle_fwd(mc_backend *be, int n, int c, int h, int w, int r, const float *x,
                           float *y) {
    const int oh = h * r, ow = w * r;
#pragma omp parallel for schedule(static)
    for (int nc = 0; nc < n * c; nc++) {
        float *yp = y + (size_t)nc * oh * ow;
        const float *xp = x + (size_t)nc * r * r * h * w;
        for (int oy = 0; oy < oh; oy++) {
            int iy = oy / r, i = oy % r;
            for (int ox = 0; ox < ow; ox++) {
                int ix = ox / r, j = ox % r;
                yp[(size_t)oy * ow + ox] = xp[((size_t)(i * r + j) * h + iy) * w + ix];
            }
        }
    }
    return MC_OK;
}

static int cpu_shuffle_bwd(mc_backend *be, int n, int c, int h, int w, int r, const float *dy,
                           float beta, float *dx) {
    const int oh = h * r, ow = w * r;
#pragma omp parallel for schedule(static)
    for (int nc = 0; nc < n * c; nc++) {
        const float *gp = dy + (size_t)nc * oh * ow;
        float *dp = dx + (size_t)nc * r * r * h * w;
        for (int oy = 0; oy < oh; oy++) {
            int iy = oy / r, i = oy % r;
            for (int ox = 0; ox < ow; ox++) {
                int ix = ox / r, j = ox % r;
                float *t = dp + ((size_t)(i * r + j) * h + iy) * w + ix;
                float v = gp[(size_t)oy * ow + ox];
                *t = beta == 0.0f ? v : v + beta * *t;
            }
        }
    }
    return MC_OK;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

static int cpu_pad_fwd(mc_backend *be, int n, int c, int h, int w, int l, int r, int t, int b,
                       const float *x, float *y) {
    const int oh = h + t + b, ow = w + l + r;
#pragma omp parallel for schedule(static)
    for (int nc = 0; nc < n * c; nc++) {
        const float *xp = x + (size_t)nc * h * w;
        float *yp = y + (size_t)nc * oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            int iy = clampi(oy - t, 0, h - 1);
            for (int ox = 0; ox < ow; ox++)
                yp[(size_t)oy * ow + ox] = xp[(size_t)iy * w + clampi(ox - l, 0, w - 1)];
        }
    }
    return MC_OK;
}

static int cpu_pad_bwd(mc_backend *be, int n, int c, int h, int w, int l, int r, int t, int b,
                       const float *dy, float beta, float *dx) {
    const int oh = h + t + b, ow = w + l + r;
#pragma omp parallel for schedule(static)
    for (int nc = 0; nc < n * c; nc++) {
        const float *gp = dy + (size_t)nc * oh * ow;
        float *dp = dx + (size_t)nc * h * w;
        scale_out(dp, (size_t)h * w, beta);
        for (int oy = 0; oy < oh; oy++) {
            int iy = clampi(oy - t, 0, h - 1);
            for (int ox = 0; ox < ow; ox++)
                dp[(size_t)iy * w + clampi(ox - l, 0, w - 1)] += gp[(size_t)oy * ow + ox];
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
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + l2 * w[i];
        float vi = momentum * v[i] + gi;
        v[i] = vi;
        w[i] = w[i] * shrink - lr * vi;
    }
    return MC_OK;
}

static int cpu_all_finite(mc_backend *be, size_t n, const float *x, int *result) {
    int ok = 1;
#pragma omp parallel for schedule(static) reduction(&& : ok)
    for (size_t i = 0; i < n; i++) ok = ok && isfinite(x[i]);
    *result = ok;
    return MC_OK;
}

static void cpu_destroy(mc_backend *be) { free(be); }

int mc_backend_cpu_create(mc_backend **out) {
    mc_backend *be = mc_calloc(1, sizeof *be, "cpu backend");
    if (!be) return MC_ENOMEM;
    *be = (mc_backend){
        .name = "cpu",
        .is_host = 1,
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
        .all_finite = cpu_all_finite,
    };
    *out = be;
    return MC_OK;
}

void mc_set_threads(int n) {
    if (n <= 0) n = omp_get_num_procs();
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}
