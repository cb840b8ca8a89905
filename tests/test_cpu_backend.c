/* test_cpu_backend.c — the CPU backend's fast paths against naive double-precision references,
 * bitwise the same for every thread count, and the table of backends.
 *
 * The convolution engine (cpu/conv.c, cpu/winograd.c) picks a plan by shape: tiles of output
 * rows, batch-folded tiles of whole images, 1x1 convolutions without im2col, backward-data by
 * images or (few images) by channels, backward-filter's sum over tiles in chunks, Winograd
 * blocks. Every plan is exercised here on shapes that select it, each primitive with beta 0
 * (output pre-filled with NaN: it must be overwritten) and beta 0.5, and compared with the
 * convolution written out as its definition (sums in double):
 *   y[n][k][oy][ox] = sum_{c in group, i, j} w[k][c][i][j] x[n][c][oy*s - p + i][ox*s - p + j].
 * The tolerance is relative to the sum of |terms| of each output element (float rounding of a
 * sum of that many products), so it does not depend on the value's own size.
 * Every result — convolutions (transposed ones are backward-data), GEMM, batch norm, pooling,
 * activations, element-wise operations, loss, SGD — must be bitwise identical on backends with
 * 1, 2, 3 and 5 threads (results must not depend on the thread count: cpu/conv.h).
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "engine/backend.h"
#include "cpu/conv.h"
#include "test.h"

/* the backends: [Winograd off/on][thread count]; the machine's core count too when it has more
 * than 5 */
#define MAXTHR 5
static int NTHR = 4;
static int nthreads[MAXTHR] = {1, 2, 3, 5, 0};
static mc_backend *bes[3][MAXTHR]; /* [Winograd off, F(2x2,3x3), F(4x4,3x3)][threads] */
static mc_backend *be; /* bes[1][0] */

static void fill_random(float *p, size_t n, mc_rng *r) {
    for (size_t i = 0; i < n; i++) p[i] = (float)(2.0 * mc_rng_uniform(r) - 1.0);
}

/* bitwise the same as with one thread */
static void same_bits(const char *what, int threads, const float *got, const float *want, size_t n) {
    size_t i = 0, ndiff = 0, first = n;
    for (; i < n; i++)
        if (memcmp(got + i, want + i, sizeof(float)) != 0) {
            if (!ndiff) first = i;
            ndiff++;
        }
    CHECK(ndiff == 0, "%s: threads=%d differs from threads=1 in %zu of %zu values, first at %zu (%.9g vs %.9g)", what,
          threads, ndiff, n, first, first < n ? (double)got[first] : 0.0, first < n ? (double)want[first] : 0.0);
}

static double worst_err[3][3]; /* [Winograd off, F2, F4][op] over the Winograd-sized cases */

typedef struct ref {
    double *v, *a; /* value, sum of |terms| */
} ref;

static int in_range(int v, int n) { return v >= 0 && v < n; }

/* x index for output position (oy, ox) and kernel tap (i, j); -1 outside */
static long xat(const mc_conv_desc *d, int n, int c, int oy, int ox, int i, int j) {
    int iy = oy * d->sh - d->ph + i, ix = ox * d->sw - d->pw + j;
    if (!in_range(iy, d->h) || !in_range(ix, d->w)) return -1;
    return (((long)n * d->c + c) * d->h + iy) * d->w + ix;
}

static void reference(const mc_conv_desc *d, const float *x, const float *w, const float *dy, ref *y,
                      ref *dx, ref *dw) {
    const int cg = d->c / d->groups, kg = d->k / d->groups;
    size_t ny = (size_t)d->n * d->k * d->oh * d->ow, nx = (size_t)d->n * d->c * d->h * d->w;
    size_t nw = (size_t)d->k * cg * d->kh * d->kw;
    memset(y->v, 0, ny * sizeof(double));
    memset(y->a, 0, ny * sizeof(double));
    memset(dx->v, 0, nx * sizeof(double));
    memset(dx->a, 0, nx * sizeof(double));
    memset(dw->v, 0, nw * sizeof(double));
    memset(dw->a, 0, nw * sizeof(double));
    for (int n = 0; n < d->n; n++)
        for (int k = 0; k < d->k; k++)
            for (int oy = 0; oy < d->oh; oy++)
                for (int ox = 0; ox < d->ow; ox++) {
                    size_t yi = (((size_t)n * d->k + k) * d->oh + oy) * d->ow + ox;
                    int g = k / kg;
                    for (int c = 0; c < cg; c++)
                        for (int i = 0; i < d->kh; i++)
                            for (int j = 0; j < d->kw; j++) {
                                long xi = xat(d, n, g * cg + c, oy, ox, i, j);
                                if (xi < 0) continue;
                                size_t wi = (((size_t)k * cg + c) * d->kh + i) * d->kw + j;
                                double t = (double)w[wi] * (double)x[xi];
                                y->v[yi] += t;
                                y->a[yi] += fabs(t);
                                t = (double)w[wi] * (double)dy[yi];
                                dx->v[xi] += t;
                                dx->a[xi] += fabs(t);
                                t = (double)dy[yi] * (double)x[xi];
                                dw->v[wi] += t;
                                dw->a[wi] += fabs(t);
                            }
                }
}

/* got = ref + beta*before, within float rounding of the sum of |terms| */
static double compare(const float *got, const ref *r, const float *before, float beta, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double want = r->v[i] + (beta != 0.0f ? (double)beta * (double)before[i] : 0.0);
        double scale = r->a[i] + (beta != 0.0f ? fabs((double)beta * (double)before[i]) : 0.0) + 1e-30;
        double e = fabs((double)got[i] - want) / scale;
        if (!(e <= worst)) worst = isnan(e) ? HUGE_VAL : e;
    }
    return worst;
}

/* the three primitives on backend b, beta 0 (NaN-filled output) and beta 0.5 (output `init`):
 * out[op][beta] */
static void conv_run(mc_backend *b, const mc_conv_desc *d, const float *x, const float *wt, const float *dy,
                     const float *init, float *out[3][2], const size_t len[3]) {
    for (int bi = 0; bi < 2; bi++) {
        float beta = bi ? 0.5f : 0.0f;
        for (int op = 0; op < 3; op++) {
            float *o = out[op][bi];
            if (beta == 0.0f)
                for (size_t i = 0; i < len[op]; i++) o[i] = NAN;
            else
                memcpy(o, init, len[op] * sizeof(float));
            if (op == 0) REQUIRE_OK(b->conv_fwd(b, d, x, wt, beta, o, NULL));
            if (op == 1) REQUIRE_OK(b->conv_bwd_data(b, d, dy, wt, beta, o, NULL));
            if (op == 2) REQUIRE_OK(b->conv_bwd_filter(b, d, x, dy, beta, o, NULL));
        }
    }
}

/* check_ref: against the definition (else only across thread counts, and Winograd on against off
 * within 1e-5 normwise: for shapes whose reference would take long) */
static void conv_case_x(const char *name, int n, int c, int h, int w, int k, int ksz, int s, int p, int groups,
                        int check_ref) {
    mc_conv_desc d = {.n = n, .c = c, .h = h, .w = w, .k = k, .kh = ksz, .kw = ksz, .sh = s, .sw = s,
                      .ph = p, .pw = p, .groups = groups};
    d.oh = (h + 2 * p - ksz) / s + 1;
    d.ow = (w + 2 * p - ksz) / s + 1;
    size_t nx = (size_t)n * c * h * w, ny = (size_t)n * k * d.oh * d.ow,
           nw = (size_t)k * (c / groups) * ksz * ksz;
    size_t nmax = ny > nx ? (ny > nw ? ny : nw) : (nx > nw ? nx : nw);
    const size_t len[3] = {ny, nx, nw};
    float *x = be->alloc(be, nx, "x"), *wt = be->alloc(be, nw, "w"), *dy = be->alloc(be, ny, "dy");
    float *init = be->alloc(be, nmax, "init");
    float *out[3][MAXTHR][3][2];
    for (int wi = 0; wi < 3; wi++)
        for (int ti = 0; ti < NTHR; ti++)
            for (int op = 0; op < 3; op++)
                for (int bi = 0; bi < 2; bi++) {
                    out[wi][ti][op][bi] = be->alloc(be, len[op], "out");
                    REQUIRE(out[wi][ti][op][bi], "alloc");
                }
    REQUIRE(x && wt && dy && init, "alloc");
    mc_rng r;
    mc_rng_seed(&r, (uint64_t)(n * 1000003 + c * 1009 + h * 101 + k * 7 + ksz * 3 + s + p));
    fill_random(x, nx, &r);
    fill_random(wt, nw, &r);
    fill_random(dy, ny, &r);
    fill_random(init, nmax, &r);
    const int wino_ok = mc_cpu_wino_ok(&d);
    static const char *const opname[3] = {"fwd", "bwd-data", "bwd-filter"};
    for (int wi = 0; wi < 3; wi++)
        for (int ti = 0; ti < NTHR; ti++) {
            conv_run(bes[wi][ti], &d, x, wt, dy, init, out[wi][ti], len);
            if (ti == 0) continue;
            for (int op = 0; op < 3; op++)
                for (int bi = 0; bi < 2; bi++) {
                    char what[160];
                    snprintf(what, sizeof what, "%s %s wino=%d beta=%g", name, opname[op], wi, bi ? 0.5 : 0.0);
                    same_bits(what, nthreads[ti], out[wi][ti][op][bi], out[wi][0][op][bi], len[op]);
                }
        }
    if (check_ref) {
        ref ry = {mc_malloc(ny * 8, "ref"), mc_malloc(ny * 8, "ref")};
        ref rx = {mc_malloc(nx * 8, "ref"), mc_malloc(nx * 8, "ref")};
        ref rw = {mc_malloc(nw * 8, "ref"), mc_malloc(nw * 8, "ref")};
        REQUIRE(ry.v && ry.a && rx.v && rx.a && rw.v && rw.a, "alloc");
        reference(&d, x, wt, dy, &ry, &rx, &rw);
        const ref *rr[3] = {&ry, &rx, &rw};
        /* error / sum of |terms|. im2col + GEMM and F(2x2,3x3): 1e-6 (observed <= 2.8e-7).
         * F(4x4,3x3): 5e-6: its transforms (entries up to 8 in A^T, 5/2 in B^T, 16/15 in G) add
         * rounding, observed up to 2.7e-6 in these cases, ~10x F(2x2,3x3) — still below the
         * worst-case bound of float32's direct sum, k * 2^-24 with k = 9c >= 144 here (>= 8.6e-6).
         * The worst of each is printed at the end. */
        for (int wi = 0; wi < 3; wi++)
            for (int op = 0; op < 3; op++)
                for (int bi = 0; bi < 2; bi++) {
                    const double tol = wi == 2 ? 5e-6 : 1e-6;
                    double e = compare(out[wi][0][op][bi], rr[op], init, bi ? 0.5f : 0.0f, len[op]);
                    if (wino_ok && e > worst_err[wi][op]) worst_err[wi][op] = e;
                    CHECK(e <= tol, "%s %s wino=%d beta=%g: error/|terms| %.2e", name, opname[op], wi, bi ? 0.5 : 0.0,
                          e);
                }
        free(ry.v), free(ry.a), free(rx.v), free(rx.a), free(rw.v), free(rw.a);
    } else {
        CHECK(wino_ok, "%s: a case without the reference must be a Winograd one", name);
        for (int op = 0; op < 3; op++)
            for (int bi = 0; bi < 2; bi++) {
                double num = 0, num4 = 0, den = 1e-30;
                for (size_t i = 0; i < len[op]; i++) {
                    num += fabs((double)out[1][0][op][bi][i] - (double)out[0][0][op][bi][i]);
                    num4 += fabs((double)out[2][0][op][bi][i] - (double)out[0][0][op][bi][i]);
                    den += fabs((double)out[0][0][op][bi][i]);
                }
                CHECK(num / den < 1e-5, "%s %s beta=%g: Winograd vs im2col %.2e normwise", name, opname[op],
                      bi ? 0.5 : 0.0, num / den);
                CHECK(num4 / den < 1e-5, "%s %s beta=%g: Winograd F(4x4,3x3) vs im2col %.2e normwise", name,
                      opname[op], bi ? 0.5 : 0.0, num4 / den);
            }
    }
    printf("  conv %-34s n=%d c=%d %dx%d k=%d %dx%d s%d p%d g%d%s ok\n", name, n, c, h, w, k, ksz, ksz, s, p, groups,
           wino_ok ? " (Winograd)" : "");
    be->free(be, x);
    be->free(be, wt);
    be->free(be, dy);
    be->free(be, init);
    for (int wi = 0; wi < 3; wi++)
        for (int ti = 0; ti < NTHR; ti++)
            for (int op = 0; op < 3; op++)
                for (int bi = 0; bi < 2; bi++) be->free(be, out[wi][ti][op][bi]);
}

static void conv_case(const char *name, int n, int c, int h, int w, int k, int ksz, int s, int p, int groups) {
    conv_case_x(name, n, c, h, w, k, ksz, s, p, groups, 1);
}


/* ---- batch norm + activation --------------------------------------------------------------- */
static double ref_act(const mc_act *a, double v) {
    switch (a->type) {
    case MC_ACT_RELU: return v > 0 ? v : 0;
    case MC_ACT_LEAKY: return v > 0 ? v : v * (double)a->a;
    case MC_ACT_LOGISTIC: return 1.0 / (1.0 + exp(-v));
    case MC_ACT_HARDTANH: return v < (double)a->a ? (double)a->a : (v > (double)a->b ? (double)a->b : v);
    case MC_ACT_TANH: return tanh(v);
    default: return v;
    }
}
/* the derivative at pre-activation v (backend.h takes it from y; equal away from kinks) */
static double ref_dact(const mc_act *a, double v) {
    switch (a->type) {
    case MC_ACT_RELU: return v > 0 ? 1 : 0;
    case MC_ACT_LEAKY: return v > 0 ? 1 : (double)a->a;
    case MC_ACT_LOGISTIC: { double s = 1.0 / (1.0 + exp(-v)); return s * (1 - s); }
    case MC_ACT_HARDTANH: return v > (double)a->a && v < (double)a->b ? 1 : 0;
    case MC_ACT_TANH: return 1 - tanh(v) * tanh(v);
    default: return 1;
    }
}

static double max_rel(const float *got, const double *want, size_t n) {
    double scale = 1e-30, e = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]) / scale;
        if (!(d <= e)) e = isnan(d) ? HUGE_VAL : d;
    }
    return e;
}

/* bias gradient (the sum over images and positions, in eight double partial sums): against the
 * sum in double, with planes of 1, 7, 8, 9 and 6400 values (partial sums' tails), beta 0 and 0.5.
 * Tolerance 1e-6 of the largest |sum|: the partial sums are double, the result one float rounding. */
static void bias_bwd_case(int n, int c, int hw) {
    size_t ny = (size_t)n * c * hw;
    float *g = mc_malloc(ny * 4, "g"), *db = mc_malloc((size_t)c * 4, "db");
    double *want = mc_calloc((size_t)c, 8, "want");
    REQUIRE(g && db && want, "alloc");
    mc_rng r;
    mc_rng_seed(&r, (uint64_t)(n * 131 + c * 7 + hw));
    fill_random(g, ny, &r);
    for (int beta2 = 0; beta2 < 2; beta2++) {
        for (int ch = 0; ch < c; ch++) {
            db[ch] = 0.25f * (float)(ch + 1);
            double s = 0;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < hw; j++) s += (double)g[((size_t)i * c + ch) * hw + j];
            want[ch] = s + (beta2 ? 0.5 * 0.25 * (ch + 1) : 0.0);
        }
        REQUIRE_OK(be->bias_bwd(be, n, c, hw, g, beta2 ? 0.5f : 0.0f, db));
        double e = max_rel(db, want, (size_t)c);
        CHECK(e < 1e-6, "bias_bwd n%d c%d hw%d beta %g: error %.2e", n, c, hw, beta2 ? 0.5 : 0.0, e);
        /* the SIMD sums (cpu/sums_avx512.c, cpu/strided_avx2.c) where the CPU has them, as the
         * backend chose above: bitwise the portable loop's (v 0) and the AVX2 ones' (v 1) */
        mc_cpu *cpu = be->ctx;
        const int own = cpu->simd;
        for (int v = 0; v < 2; v++) {
            if ((v == 0 && !own) || (v == 1 && own != MC_F32_AVX512)) continue; /* that is db itself */
            float *db2 = mc_malloc((size_t)c * 4, "db2");
            REQUIRE(db2, "alloc");
            for (int ch = 0; ch < c; ch++) db2[ch] = 0.25f * (float)(ch + 1);
            cpu->simd = v ? MC_F32_AVX2 : 0;
            REQUIRE_OK(be->bias_bwd(be, n, c, hw, g, beta2 ? 0.5f : 0.0f, db2));
            cpu->simd = own;
            CHECK(!memcmp(db, db2, (size_t)c * 4), "bias_bwd n%d c%d hw%d: the %s sums differ from the %s ones", n, c,
                  hw, own == MC_F32_AVX512 ? "AVX-512" : "AVX2", v ? "AVX2" : "portable");
            free(db2);
        }
    }
    free(g), free(db), free(want);
}

/* train-mode BN + activation, fused and composed, against the definition in double. Channels
 * with a mean far from 0 (offset) check the statistics; y = a x + b in float loses about
 * |mean| * 6e-8 (as PyTorch's), so the offsets stay where that is below the 1e-5 tolerance. */
static void bn_case(const char *name, int n, int c, int hw, double offset, mc_act act) {
    mc_bn_desc d = {.n = n, .c = c, .hw = hw, .eps = 1e-5f, .momentum = 0.1f};
    size_t N = (size_t)n * c * hw;
    float *x = mc_malloc(N * 4, "x"), *dy = mc_malloc(N * 4, "dy"), *y = mc_malloc(N * 4, "y"),
          *dx = mc_malloc(N * 4, "dx"), *dyc = mc_malloc(N * 4, "dy copy");
    float *gm = mc_malloc((size_t)c * 4, "g"), *bt = mc_malloc((size_t)c * 4, "b"), *rm = mc_malloc((size_t)c * 4, "rm"),
          *rv = mc_malloc((size_t)c * 4, "rv"), *sm = mc_malloc((size_t)c * 4, "sm"), *si = mc_malloc((size_t)c * 4, "si"),
          *dg = mc_malloc((size_t)c * 4, "dg"), *db = mc_malloc((size_t)c * 4, "db");
    double *ry = mc_malloc(N * 8, "ref"), *rdx = mc_malloc(N * 8, "ref"), *rdg = mc_malloc((size_t)c * 8, "ref"),
           *rdb = mc_malloc((size_t)c * 8, "ref"), *rrm = mc_malloc((size_t)c * 8, "ref"), *rrv = mc_malloc((size_t)c * 8, "ref");
    REQUIRE(x && dy && y && dx && dyc && gm && bt && rm && rv && sm && si && dg && db && ry && rdx && rdg && rdb && rrm && rrv, "alloc");
    mc_rng r;
    mc_rng_seed(&r, (uint64_t)(n * 31 + c * 7 + hw + act.type));
    for (int ch = 0; ch < c; ch++) {
        double mu = offset * (ch % 3 - 1), sd = 0.5 + ch % 4;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < hw; j++) x[((size_t)i * c + ch) * hw + j] = (float)(mu + sd * mc_rng_normal(&r));
        gm[ch] = (float)(0.5 + mc_rng_uniform(&r));
        bt[ch] = (float)(mc_rng_uniform(&r) - 0.5);
        rm[ch] = (float)mc_rng_uniform(&r);
        rv[ch] = (float)(0.5 + mc_rng_uniform(&r));
    }
    fill_random(dy, N, &r);
    /* reference */
    const double m = (double)n * hw;
    for (int ch = 0; ch < c; ch++) {
        double s = 0, ss = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < hw; j++) s += (double)x[((size_t)i * c + ch) * hw + j];
        double mean = s / m;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < hw; j++) {
                double t = (double)x[((size_t)i * c + ch) * hw + j] - mean;
                ss += t * t;
            }
        double var = ss / m, is = 1.0 / sqrt(var + 1e-5), sg = 0, sgx = 0;
        rrm[ch] = 0.9 * (double)rm[ch] + 0.1 * mean;
        rrv[ch] = 0.9 * (double)rv[ch] + 0.1 * ss / (m - 1);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < hw; j++) {
                size_t k = ((size_t)i * c + ch) * hw + j;
                double xh = ((double)x[k] - mean) * is, z = (double)gm[ch] * xh + (double)bt[ch];
                ry[k] = ref_act(&act, z);
                double g = (double)dy[k] * ref_dact(&act, z);
                sg += g;
                sgx += g * xh;
            }
        rdg[ch] = sgx;
        rdb[ch] = sg;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < hw; j++) {
                size_t k = ((size_t)i * c + ch) * hw + j;
                double xh = ((double)x[k] - mean) * is, z = (double)gm[ch] * xh + (double)bt[ch];
                double g = (double)dy[k] * ref_dact(&act, z);
                rdx[k] = (double)gm[ch] * is * (g - sg / m - xh * sgx / m);
            }
    }
    /* the results with one thread: y, dx, dgamma, dbeta, running mean and var, saved mean, invstd */
    float *first = mc_malloc((2 * N + 6 * (size_t)c) * 4, "first");
    REQUIRE(first, "alloc");
    for (int fused = 0; fused < 2; fused++)
        for (int ti = 0; ti < NTHR; ti++) {
            mc_backend *b = bes[1][ti];
            const int threads = nthreads[ti];
            float rm0[64], rv0[64];
            REQUIRE(c <= 64, "c <= 64");
            memcpy(rm0, rm, (size_t)c * 4);
            memcpy(rv0, rv, (size_t)c * 4);
            for (size_t i = 0; i < N; i++) y[i] = dx[i] = NAN;
            memcpy(dyc, dy, N * 4);
            if (fused) {
                REQUIRE_OK(b->bn_act_fwd_train(b, &d, &act, x, gm, bt, rm0, rv0, 1, sm, si, y));
                /* a bias before the batch norm (dbias): bias_bwd's result on dx, bitwise, with
                 * beta 0 and (a second call) beta 1 */
                float dbias[64], dbias_ref[64];
                REQUIRE_OK(b->bn_act_bwd_train(b, &d, &act, x, y, dyc, gm, sm, si, 0.0f, dx, 0.0f, dg, db, dbias));
                CHECK(memcmp(dyc, dy, N * 4) == 0, "%s: the fused backward changed dy", name);
                REQUIRE_OK(b->bias_bwd(b, n, c, hw, dx, 0.0f, dbias_ref));
                CHECK(!memcmp(dbias, dbias_ref, (size_t)c * 4), "%s threads=%d: dbias differs from bias_bwd(dx)",
                      name, threads);
                REQUIRE_OK(b->bn_act_bwd_train(b, &d, &act, x, y, dyc, gm, sm, si, 0.0f, dx, 1.0f, NULL, NULL, dbias));
                REQUIRE_OK(b->bias_bwd(b, n, c, hw, dx, 1.0f, dbias_ref));
                CHECK(!memcmp(dbias, dbias_ref, (size_t)c * 4),
                      "%s threads=%d: dbias with beta 1 differs from bias_bwd(dx, beta 1)", name, threads);
                CHECK(b->bn_act_bwd_train(b, &d, &act, x, y, dyc, gm, sm, si, 0.0f, NULL, 0.0f, dg, db, dbias) ==
                          MC_EARG,
                      "%s: dbias without dx accepted", name);
            } else {
                REQUIRE_OK(b->bn_fwd_train(b, &d, x, gm, bt, rm0, rv0, 1, sm, si, y));
                REQUIRE_OK(b->act_fwd(b, &act, N, y, y));
                REQUIRE_OK(b->act_bwd(b, &act, N, y, dyc, 0.0f, dyc));
                REQUIRE_OK(b->bn_bwd_train(b, &d, x, dyc, gm, sm, si, 0.0f, dx, 0.0f, dg, db));
            }
            double ey = max_rel(y, ry, N), edx = max_rel(dx, rdx, N), edg = max_rel(dg, rdg, (size_t)c),
                   edb = max_rel(db, rdb, (size_t)c), erm = max_rel(rm0, rrm, (size_t)c), erv = max_rel(rv0, rrv, (size_t)c);
            CHECK(ey < 1e-5 && edx < 1e-5 && edg < 1e-5 && edb < 1e-5 && erm < 1e-6 && erv < 1e-6,
                  "%s %s threads=%d: y %.1e dx %.1e dgamma %.1e dbeta %.1e running mean %.1e var %.1e", name,
                  fused ? "fused" : "composed", threads, ey, edx, edg, edb, erm, erv);
            const float *got[8] = {y, dx, dg, db, rm0, rv0, sm, si};
            const size_t len[8] = {N, N, (size_t)c, (size_t)c, (size_t)c, (size_t)c, (size_t)c, (size_t)c};
            static const char *const what[8] = {"y", "dx", "dgamma", "dbeta", "running mean", "running var",
                                                "saved mean", "saved invstd"};
            size_t off = 0;
            for (int q = 0; q < 8; q++) {
                if (ti == 0) {
                    memcpy(first + off, got[q], len[q] * 4);
                } else {
                    char w[120];
                    snprintf(w, sizeof w, "bn+act %s %s %s", name, fused ? "fused" : "composed", what[q]);
                    same_bits(w, threads, got[q], first + off, len[q]);
                }
                off += len[q];
            }
        }
    free(first);
    /* inference mode, both directions, with beta 0.5 blends */
    float *yi[MAXTHR], *dxi[MAXTHR], *dgi[MAXTHR], *dbi[MAXTHR];
    for (int ti = 0; ti < NTHR; ti++) {
        mc_backend *b = bes[1][ti];
        yi[ti] = mc_malloc(N * 4, "y"), dxi[ti] = mc_malloc(N * 4, "dx");
        dgi[ti] = mc_malloc((size_t)c * 4, "dg"), dbi[ti] = mc_malloc((size_t)c * 4, "db");
        REQUIRE(yi[ti] && dxi[ti] && dgi[ti] && dbi[ti], "alloc");
        memcpy(dxi[ti], x, N * 4);
        for (int ch = 0; ch < c; ch++) dgi[ti][ch] = dbi[ti][ch] = (float)ch;
        REQUIRE_OK(b->bn_act_fwd_infer(b, &d, &act, x, gm, bt, rm, rv, yi[ti]));
        REQUIRE_OK(b->bn_bwd_infer(b, &d, x, dy, gm, rm, rv, 0.5f, dxi[ti], 0.5f, dgi[ti], dbi[ti]));
        if (ti == 0) continue;
        char w[120];
        snprintf(w, sizeof w, "bn %s infer: y, dx, dgamma, dbeta", name);
        same_bits(w, nthreads[ti], yi[ti], yi[0], N);
        same_bits(w, nthreads[ti], dxi[ti], dxi[0], N);
        same_bits(w, nthreads[ti], dgi[ti], dgi[0], (size_t)c);
        same_bits(w, nthreads[ti], dbi[ti], dbi[0], (size_t)c);
    }
    for (int ti = 0; ti < NTHR; ti++) free(yi[ti]), free(dxi[ti]), free(dgi[ti]), free(dbi[ti]);
    printf("  bn+act %-27s ok\n", name);
    free(x), free(dy), free(y), free(dx), free(dyc), free(gm), free(bt), free(rm), free(rv), free(sm), free(si);
    free(dg), free(db), free(ry), free(rdx), free(rdg), free(rdb), free(rrm), free(rrv);
}

/* ---- max pooling: ties, NaN, -inf -------------------------------------------------------- */
static void maxpool_case(const char *name, int h, int w, int k, int s, int p) {
    mc_pool_desc d = {.mode = MC_POOL_MAX, .n = 2, .c = 3, .h = h, .w = w, .kh = k, .kw = k, .sh = s, .sw = s,
                      .pt = p, .pl = p};
    d.oh = (h + 2 * p - k) / s + 1;
    d.ow = (w + 2 * p - k) / s + 1;
    size_t nx = (size_t)6 * h * w, ny = (size_t)6 * d.oh * d.ow;
    float *x = mc_malloc(nx * 4, "x"), *y = mc_malloc(ny * 4, "y"), *dy = mc_malloc(ny * 4, "dy"),
          *dx = mc_malloc(nx * 4, "dx");
    double *rdx = mc_calloc(nx, 8, "ref");
    REQUIRE(x && y && dy && dx && rdx, "alloc");
    mc_rng r;
    mc_rng_seed(&r, (uint64_t)(h * 17 + w + k));
    /* few distinct values (many ties), some NaN, a plane of -inf */
    for (size_t i = 0; i < nx; i++) {
        double u = mc_rng_uniform(&r);
        x[i] = u < 0.03 ? NAN : (float)floor(4 * mc_rng_uniform(&r));
    }
    for (size_t i = 0; i < (size_t)h * w; i++) x[nx - 1 - i] = -INFINITY;
    fill_random(dy, ny, &r);
    int bad = 0;
    REQUIRE_OK(be->pool_fwd(be, &d, x, y));
    for (int nc = 0; nc < 6; nc++)
        for (int oy = 0; oy < d.oh; oy++)
            for (int ox = 0; ox < d.ow; ox++) {
                /* PyTorch's CPU kernel: update on v > m or isnan(v); index of the last update */
                float mv = -INFINITY;
                long best = -1;
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++) {
                        int iy = oy * s - p + i, ix = ox * s - p + j;
                        if (!in_range(iy, h) || !in_range(ix, w)) continue;
                        long idx = ((long)nc * h + iy) * w + ix;
                        if (best < 0) best = idx;
                        if (x[idx] > mv || isnan(x[idx])) {
                            mv = x[idx];
                            best = idx;
                        }
                    }
                size_t yi = ((size_t)nc * d.oh + oy) * d.ow + ox;
                float got = y[yi];
                if (!(got == mv || (isnan(got) && isnan(mv)))) bad++;
                rdx[best] += (double)dy[yi];
            }
    CHECK(bad == 0, "maxpool %s forward: %d wrong maxima", name, bad);
    for (size_t i = 0; i < nx; i++) dx[i] = NAN;
    REQUIRE_OK(be->pool_bwd(be, &d, x, y, dy, 0.0f, dx));
    double e = max_rel(dx, rdx, nx);
    CHECK(e < 1e-6, "maxpool %s backward: error %.2e", name, e);
    printf("  maxpool %-26s ok\n", name);
    free(x), free(y), free(dy), free(dx), free(rdx);
}

/* ---- every other operation: bitwise the same for every thread count -------------------- */
/* outputs recorded per thread count, in the same order for each, compared at the end */
#define MAXREC 160
static struct {
    char name[64];
    size_t n;
    float *v[MAXTHR];
} recs[MAXREC];
static int nrec, rec_i;

/* the next output buffer (n floats) of thread count ti, filled with `fill` floats of init (the
 * rest NaN) */
static float *rec_out(int ti, const char *name, size_t n, const float *init, size_t fill) {
    if (ti == 0) {
        REQUIRE(nrec < MAXREC, "too many records");
        snprintf(recs[nrec].name, sizeof recs[nrec].name, "%s", name);
        recs[nrec].n = n;
        nrec++;
    }
    REQUIRE(rec_i < nrec && recs[rec_i].n == n, "record %s out of order", name);
    float *v = malloc((n ? n : 1) * sizeof(float));
    REQUIRE(v, "alloc");
    for (size_t i = 0; i < n; i++) v[i] = i < fill ? init[i] : NAN;
    recs[rec_i].v[ti] = v;
    rec_i++;
    return v;
}

static void gemm_ref(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                     int ldb, float beta, const float *c0, const float *c, int ldc, const char *what) {
    double worst = 0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0, sa = 0;
            for (int q = 0; q < k; q++) {
                double t = (double)(ta ? a[(size_t)q * lda + i] : a[(size_t)i * lda + q]) *
                           (double)(tb ? b[(size_t)j * ldb + q] : b[(size_t)q * ldb + j]);
                s += t;
                sa += fabs(t);
            }
            double want = (double)alpha * s + (double)beta * (double)c0[(size_t)i * ldc + j];
            double e = fabs((double)c[(size_t)i * ldc + j] - want) /
                       (fabs((double)alpha) * sa + fabs((double)beta * (double)c0[(size_t)i * ldc + j]) + 1e-30);
            if (!(e <= worst)) worst = isnan(e) ? HUGE_VAL : e;
        }
    CHECK(worst < 1e-6, "gemm %s: error/|terms| %.2e", what, worst);
}

static void other_ops(void) {
    const int n = 3, c = 17, h = 33, w = 29, hw = h * w;
    const size_t N = (size_t)n * c * hw;
    mc_rng r;
    mc_rng_seed(&r, 99);
    float *x = malloc(N * 4), *x2 = malloc(N * 4), *g = malloc(N * 4), *init = malloc(N * 4), *t01 = malloc(N * 4),
          *mask = malloc(N * 4), *bias = malloc((size_t)c * 4);
    REQUIRE(x && x2 && g && init && t01 && mask && bias, "alloc");
    fill_random(x, N, &r);
    fill_random(x2, N, &r);
    fill_random(g, N, &r);
    fill_random(init, N, &r);
    fill_random(bias, (size_t)c, &r);
    for (size_t i = 0; i < N; i++) {
        t01[i] = mc_rng_uniform(&r) < 0.3 ? 1.0f : 0.0f;
        mask[i] = mc_rng_uniform(&r) < 0.8 ? 1.0f : 0.0f;
        x[i] *= 4.0f;
    }
    mc_pool_desc pm = {.mode = MC_POOL_MAX, .n = n, .c = c, .h = h, .w = w, .kh = 3, .kw = 3, .sh = 2, .sw = 2,
                       .pt = 1, .pl = 1};
    pm.oh = (h + 2 - 3) / 2 + 1;
    pm.ow = (w + 2 - 3) / 2 + 1;
    mc_pool_desc pa = {.mode = MC_POOL_AVG, .n = n, .c = c, .h = h, .w = w, .kh = 2, .kw = 2, .sh = 2, .sw = 2};
    pa.oh = h / 2;
    pa.ow = w / 2;
    const mc_act acts[6] = {{MC_ACT_LINEAR, 0, 0}, {MC_ACT_RELU, 0, 0}, {MC_ACT_LEAKY, 0.1f, 0},
                            {MC_ACT_LOGISTIC, 0, 0}, {MC_ACT_HARDTANH, -0.5f, 0.7f}, {MC_ACT_TANH, 0, 0}};
    /* GEMMs: small (one piece), split along columns, along rows; every transpose; alpha, beta */
    static const int gshape[][3] = {{16, 5, 512}, {64, 700, 100}, {300, 40, 200}, {16, 1024, 512}};
    const size_t gmax = 1024 * 512;
    float *ga = malloc(gmax * 4), *gb = malloc(gmax * 4), *gc = malloc(gmax * 4);
    REQUIRE(ga && gb && gc, "alloc");
    fill_random(ga, gmax, &r);
    fill_random(gb, gmax, &r);
    fill_random(gc, gmax, &r);
    char nm[64];
    for (int ti = 0; ti < NTHR; ti++) {
        mc_backend *b = bes[1][ti];
        rec_i = 0;
        float *o;
        for (int a = 0; a < 6; a++) {
            snprintf(nm, sizeof nm, "act_fwd %d", a);
            o = rec_out(ti, nm, N, NULL, 0);
            REQUIRE_OK(b->act_fwd(b, &acts[a], N, x, o));
            float *y = o;
            snprintf(nm, sizeof nm, "act_bwd %d beta 0", a);
            o = rec_out(ti, nm, N, NULL, 0);
            REQUIRE_OK(b->act_bwd(b, &acts[a], N, y, g, 0.0f, o));
            snprintf(nm, sizeof nm, "act_bwd %d beta 0.5", a);
            o = rec_out(ti, nm, N, init, N);
            REQUIRE_OK(b->act_bwd(b, &acts[a], N, y, g, 0.5f, o));
            snprintf(nm, sizeof nm, "add_act %d", a);
            o = rec_out(ti, nm, N, NULL, 0);
            REQUIRE_OK(b->add_act(b, &acts[a], N, x, x2, o));
        }
        o = rec_out(ti, "bias_fwd", N, x, N);
        REQUIRE_OK(b->bias_fwd(b, n, c, hw, bias, o));
        o = rec_out(ti, "bias_bwd beta 0", (size_t)c, NULL, 0);
        REQUIRE_OK(b->bias_bwd(b, n, c, hw, g, 0.0f, o));
        o = rec_out(ti, "bias_bwd beta 1", (size_t)c, init, (size_t)c);
        REQUIRE_OK(b->bias_bwd(b, n, c, hw, g, 1.0f, o));
        const mc_pool_desc *pds[2] = {&pm, &pa};
        for (int q = 0; q < 2; q++) {
            const mc_pool_desc *pd = pds[q];
            size_t ny = (size_t)n * c * pd->oh * pd->ow;
            snprintf(nm, sizeof nm, "pool_fwd %s", q ? "avg" : "max");
            float *y = rec_out(ti, nm, ny, NULL, 0);
            REQUIRE_OK(b->pool_fwd(b, pd, x, y));
            snprintf(nm, sizeof nm, "pool_bwd %s beta 0.5", q ? "avg" : "max");
            o = rec_out(ti, nm, N, init, N);
            REQUIRE_OK(b->pool_bwd(b, pd, x, y, g, 0.5f, o));
        }
        o = rec_out(ti, "axpy", N, init, N);
        REQUIRE_OK(b->axpy(b, N, 0.3f, x, o));
        o = rec_out(ti, "scale", N, init, N);
        REQUIRE_OK(b->scale(b, N, 0.7f, o));
        o = rec_out(ti, "copy2d beta 0.5", N, init, N);
        REQUIRE_OK(b->copy2d(b, (size_t)n * c, (size_t)hw - 5, x, (size_t)hw, 0.5f, o, (size_t)hw));
        /* pixel shuffle r = 2 over (n, 4*4, 16, 14) <-> (n, 4, 32, 28); replication pad */
        const size_t ns = (size_t)n * 16 * 16 * 14;
        o = rec_out(ti, "shuffle_fwd", ns, NULL, 0);
        REQUIRE_OK(b->shuffle_fwd(b, n, 4, 16, 14, 2, x, o));
        o = rec_out(ti, "shuffle_bwd beta 0.5", ns, init, ns);
        REQUIRE_OK(b->shuffle_bwd(b, n, 4, 16, 14, 2, g, 0.5f, o));
        const size_t np_ = (size_t)n * 7 * (13 + 5) * (11 + 3);
        o = rec_out(ti, "pad_fwd", np_, NULL, 0);
        REQUIRE_OK(b->pad_fwd(b, n, 7, 13, 11, 2, 1, 3, 2, x, o));
        o = rec_out(ti, "pad_bwd beta 0.5", (size_t)n * 7 * 13 * 11, init, (size_t)n * 7 * 13 * 11);
        REQUIRE_OK(b->pad_bwd(b, n, 7, 13, 11, 2, 1, 3, 2, g, 0.5f, o));
        /* loss: its two doubles kept bit for bit in four floats */
        float *prob = rec_out(ti, "bce_fwd prob", N, NULL, 0);
        double lc[2];
        REQUIRE_OK(b->bce_fwd(b, N, x, t01, mask, prob, &lc[0], &lc[1]));
        o = rec_out(ti, "bce_fwd loss, count", 4, NULL, 0);
        memcpy(o, lc, sizeof lc);
        o = rec_out(ti, "bce_bwd beta 0.5", N, init, N);
        REQUIRE_OK(b->bce_bwd(b, N, prob, t01, mask, 0.25f, 0.5f, o));
        for (int dec = 0; dec < 2; dec++) {
            snprintf(nm, sizeof nm, "sgd decoupled=%d weights", dec);
            float *wv = rec_out(ti, nm, N, x, N);
            snprintf(nm, sizeof nm, "sgd decoupled=%d momentum", dec);
            float *v = rec_out(ti, nm, N, init, N);
            REQUIRE_OK(b->sgd(b, N, wv, g, v, 0.01f, 0.9f, 1e-2f, dec));
        }
        /* the optimisers: two steps each (the second on a non-zero state) */
        mc_adam_coef ac = {.b1 = 0.9f, .omb1 = 0.1f, .b2 = 0.999f, .omb2 = 0.001f, .l2 = 1e-2f, .shrink = 1.0f,
                           .step_size = 0.01f, .bc2_sqrt = 0.0447f, .eps = 1e-8f};
        for (int dec = 0; dec < 2; dec++) {
            if (dec) {
                ac.l2 = 0.0f;
                ac.shrink = 0.9999f;
            }
            snprintf(nm, sizeof nm, "adam decoupled=%d weights", dec);
            float *wv = rec_out(ti, nm, N, x, N);
            snprintf(nm, sizeof nm, "adam decoupled=%d m", dec);
            float *m1 = rec_out(ti, nm, N, init, N);
            snprintf(nm, sizeof nm, "adam decoupled=%d v", dec);
            float *v2 = rec_out(ti, nm, N, NULL, 0);
            for (size_t i = 0; i < N; i++) v2[i] = init[i] * init[i];
            REQUIRE_OK(b->adam(b, N, wv, g, m1, v2, &ac));
            REQUIRE_OK(b->adam(b, N, wv, x2, m1, v2, &ac));
        }
        for (int var = 0; var < 3; var++) {
            mc_rmsprop_coef rc = {.alpha = 0.9f, .oma = 0.1f, .eps = 1e-7f, .lr = 1e-3f, .momentum = var == 2 ? 0.9f : 0.0f,
                                  .l2 = var == 0 ? 1e-2f : 0.0f, .shrink = var == 0 ? 1.0f : 0.999f, .centered = var >= 1};
            snprintf(nm, sizeof nm, "rmsprop %d weights", var);
            float *wv = rec_out(ti, nm, N, x, N);
            snprintf(nm, sizeof nm, "rmsprop %d square_avg", var);
            float *sq = rec_out(ti, nm, N, NULL, 0);
            for (size_t i = 0; i < N; i++) sq[i] = 1.0f + init[i] * init[i];
            snprintf(nm, sizeof nm, "rmsprop %d grad_avg", var);
            float *gav = rec_out(ti, nm, N, init, N);
            snprintf(nm, sizeof nm, "rmsprop %d buffer", var);
            float *bf = rec_out(ti, nm, N, x2, N);
            REQUIRE_OK(b->rmsprop(b, N, wv, g, sq, var ? gav : NULL, var == 2 ? bf : NULL, &rc));
            REQUIRE_OK(b->rmsprop(b, N, wv, x2, sq, var ? gav : NULL, var == 2 ? bf : NULL, &rc));
        }
        /* dense losses (the two doubles bit for bit), with and without mask */
        for (int lt = 0; lt < 2; lt++)
            for (int mk = 0; mk < 2; mk++) {
                double lc2[2];
                REQUIRE_OK(b->reg_loss_fwd(b, lt, N, x, x2, mk ? mask : NULL, &lc2[0], &lc2[1]));
                snprintf(nm, sizeof nm, "reg_loss_fwd %d mask %d", lt, mk);
                o = rec_out(ti, nm, 4, NULL, 0);
                memcpy(o, lc2, sizeof lc2);
                snprintf(nm, sizeof nm, "reg_loss_bwd %d mask %d", lt, mk);
                o = rec_out(ti, nm, N, init, N);
                REQUIRE_OK(b->reg_loss_bwd(b, lt, N, x, x2, mk ? mask : NULL, 0.125f, 0.5f, o));
            }
        /* upsampling: nearest and bilinear, factors 2 and 3, over (n, 5, 13, 11) */
        for (int mode = 0; mode < 2; mode++)
            for (int f = 2; f <= 3; f++) {
                const size_t nx = (size_t)n * 5 * 13 * 11, ny = nx * (size_t)(f * f);
                snprintf(nm, sizeof nm, "upsample_fwd mode %d f %d", mode, f);
                o = rec_out(ti, nm, ny, NULL, 0);
                REQUIRE_OK(b->upsample_fwd(b, mode, n, 5, 13, 11, f, x, o));
                snprintf(nm, sizeof nm, "upsample_bwd mode %d f %d beta 0.5", mode, f);
                o = rec_out(ti, nm, nx, init, nx);
                REQUIRE_OK(b->upsample_bwd(b, mode, n, 5, 13, 11, f, g, 0.5f, o));
            }
        int fin[2];
        REQUIRE_OK(b->all_finite(b, N, x, &fin[0]));
        const float keep = x2[N / 2];
        x2[N / 2] = NAN;
        REQUIRE_OK(b->all_finite(b, N, x2, &fin[1]));
        x2[N / 2] = keep;
        CHECK(fin[0] == 1 && fin[1] == 0, "all_finite threads=%d: %d %d", nthreads[ti], fin[0], fin[1]);
        for (unsigned q = 0; q < sizeof gshape / sizeof gshape[0]; q++)
            for (int ta = 0; ta < 2; ta++)
                for (int tb = 0; tb < 2; tb++) {
                    const int m = gshape[q][0], nn = gshape[q][1], k = gshape[q][2];
                    const int lda = ta ? m : k, ldb = tb ? k : nn, ldc = nn + 3;
                    const float beta = (ta + tb) % 2 ? 1.0f : 0.0f, alpha = tb ? 0.5f : 1.0f;
                    snprintf(nm, sizeof nm, "gemm %dx%dx%d ta=%d tb=%d", m, nn, k, ta, tb);
                    o = rec_out(ti, nm, (size_t)m * ldc, gc, (size_t)m * ldc);
                    REQUIRE_OK(b->gemm(b, ta, tb, m, nn, k, alpha, ga, lda, gb, ldb, beta, o, ldc));
                    if (ti == 0 && q < 3) gemm_ref(ta, tb, m, nn, k, alpha, ga, lda, gb, ldb, beta, gc, o, ldc, nm);
                }
    }
    int bad = 0;
    for (int i = 0; i < nrec; i++) {
        for (int ti = 1; ti < NTHR; ti++) {
            int before = mc_test_failures;
            same_bits(recs[i].name, nthreads[ti], recs[i].v[ti], recs[i].v[0], recs[i].n);
            bad += mc_test_failures > before;
        }
        for (int ti = 0; ti < NTHR; ti++) free(recs[i].v[ti]);
    }
    printf("  %d other operations (GEMM, activations, bias, pooling, element-wise, losses, upsampling, SGD, Adam, "
           "RMSprop) bitwise the same "
           "with 1, 2, 3, 5%s threads%s\n",
           nrec, NTHR > 4 ? " and the machine's" : "", bad ? ": NOT" : "");
    nrec = 0;
    free(x), free(x2), free(g), free(init), free(t01), free(mask), free(bias), free(ga), free(gb), free(gc);
}

/* ---- transparent huge pages for the large buffers (mc_cpu_map) ---------------------------- */
/* THPeligible of the mapping that holds p in /proc/self/smaps: 1 or 0, -1 where not reported */
static int thp_eligible(const void *p) {
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return -1;
    char line[512];
    int inside = 0, r = -1;
    const unsigned long a = (unsigned long)p;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            if (inside) break;
            inside = a >= lo && a < hi;
        } else if (inside && !strncmp(line, "THPeligible:", 12)) {
            r = atoi(line + 12) != 0;
            break;
        }
    }
    fclose(f);
    return r;
}

/* copy2d of rows longer than one piece (a shortcut's gradient: one row of the whole tensor, cut
 * among the threads in pieces of 65536 floats) and fill of more than one piece: against the
 * plain loops, for every thread count (a piece written twice or left out shows) */
static void long_copy_fill(void) {
    const size_t cols = 3 * 65536 + 5, n = 2 * cols + 11;
    float *src = malloc(n * 4), *dst = malloc(n * 4), *init = malloc(n * 4);
    REQUIRE(src && dst && init, "alloc");
    mc_rng r;
    mc_rng_seed(&r, 5);
    fill_random(src, n, &r);
    fill_random(init, n, &r);
    for (int ti = 0; ti < NTHR; ti++) {
        mc_backend *b = bes[1][ti];
        for (int q = 0; q < 2; q++) {
            const float beta = q ? 0.5f : 0.0f;
            memcpy(dst, init, n * 4);
            REQUIRE_OK(b->copy2d(b, 2, cols, src, cols + 11, beta, dst, cols + 3));
            size_t bad = 0;
            for (size_t i = 0; i < n; i++) {
                const size_t row = i / (cols + 3), j = i % (cols + 3);
                const float want = row >= 2 || j >= cols ? init[i]
                                   : q ? src[row * (cols + 11) + j] + 0.5f * init[i]
                                       : src[row * (cols + 11) + j];
                bad += memcmp(&dst[i], &want, 4) != 0;
            }
            CHECK(bad == 0, "copy2d of 2 rows of %zu, beta %g, %d threads: %zu values wrong", cols, (double)beta,
                  nthreads[ti], bad);
        }
        for (int q = 0; q < 2; q++) {
            const float v = q ? 2.5f : 0.0f;
            memcpy(dst, init, n * 4);
            REQUIRE_OK(b->fill(b, dst + 1, v, n - 2));
            size_t bad = 0;
            for (size_t i = 0; i < n; i++) bad += dst[i] != (i == 0 || i == n - 1 ? init[i] : v);
            CHECK(bad == 0, "fill of %zu with %g, %d threads: %zu values wrong", n - 2, (double)v, nthreads[ti], bad);
        }
    }
    free(src);
    free(dst);
    free(init);
}

/* mc_cpu_steal: every piece handed out exactly once, with stealing and without (slots NULL: the
 * static shares), for counts around the thread count; with stealing, a thread that sleeps at its
 * first piece leaves its share's tail to the others */
static void steal_case(void) {
    static const long counts[] = {0, 1, 2, 5, 7, 64, 1000};
    static mc_cpu_steal_slot slots[MC_CPU_STEAL_MAX];
    for (int T = 1; T <= 5; T++)
        for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ci++)
            for (int mode = 0; mode < 3; mode++) {
                const long count = counts[ci];
                int *seen = calloc((size_t)count + 1, sizeof(int)), *by = calloc((size_t)count + 1, sizeof(int));
                REQUIRE(seen && by, "alloc");
#pragma omp parallel num_threads(T)
                {
                    mc_cpu_steal it;
                    mc_cpu_steal_begin(&it, mode ? slots : NULL, count);
                    for (long i; (i = mc_cpu_steal_next(&it)) >= 0;) {
                        if (i < count) {
#pragma omp atomic
                            seen[i]++;
                            by[i] = omp_get_thread_num();
                        }
                        if (mode == 2 && omp_get_thread_num() == 0 && T > 1) usleep(20000);
                    }
                }
                long bad = 0, others = 0;
                for (long i = 0; i < count; i++) {
                    bad += seen[i] != 1;
                    others += by[i] != 0 && i < count / T;
                }
                CHECK(bad == 0, "steal: %d threads, %ld pieces, %s: %ld pieces not handed out exactly once", T, count,
                      mode ? "stealing" : "static", bad);
                if (mode == 2 && T > 1 && count >= 64)
                    CHECK(others > 0, "steal: %d threads, %ld pieces, thread 0 asleep: no piece of its share taken "
                          "by another", T, count);
                free(seen);
                free(by);
            }
}

static void hugepages_case(void) {
    mc_backend *b = NULL;
    setenv("MC_CPU_HUGEPAGES", "yes", 1);
    CHECK(mc_backend_cpu_create(&b, &(mc_net_opts){.threads = 1}) == MC_EARG && !b &&
              strstr(mc_errmsg(), "MC_CPU_HUGEPAGES: not '0' or '1' (it is 'yes')"),
          "MC_CPU_HUGEPAGES=yes: '%s'", mc_errmsg());
    /* the system's setting: huge pages on request ("madvise"), always, or never */
    char mode[128] = "";
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (f) {
        if (!fgets(mode, sizeof mode, f)) mode[0] = 0;
        fclose(f);
    }
    const int on_request = strstr(mode, "[madvise]") != NULL, always = strstr(mode, "[always]") != NULL;
    int got[2] = {-1, -1};
    for (int want = 0; want < 2; want++) {
        setenv("MC_CPU_HUGEPAGES", want ? "1" : "0", 1);
        REQUIRE_OK(mc_backend_cpu_create(&b, &(mc_net_opts){.threads = 1}));
        CHECK(((mc_cpu *)b->ctx)->hugepages == want, "MC_CPU_HUGEPAGES=%d: hugepages %d", want,
              ((mc_cpu *)b->ctx)->hugepages);
        const size_t n = (size_t)4 << 20; /* 16 MB: several 2 MB pages whatever the alignment */
        float *p = b->alloc(b, n, "huge");
        REQUIRE(p, "alloc");
        for (size_t i = 0; i < n; i += 1024) p[i] = (float)i;
        got[want] = thp_eligible(p + n / 2);
        CHECK(p[n / 2] == (float)(n / 2) && p[1024] == 1024.0f, "the mapping holds what was written");
        b->free(b, p);
        b->destroy(b);
    }
    unsetenv("MC_CPU_HUGEPAGES");
    if (got[1] < 0 || (!on_request && !always)) {
        printf("  huge pages: this system reports no THPeligible or has them off (%s): not checked\n",
               mode[0] ? "set" : "no setting");
        return;
    }
    CHECK(got[1] == 1, "MC_CPU_HUGEPAGES=1 (the default): a large buffer is not eligible for huge pages");
    if (on_request)
        CHECK(got[0] == 0, "MC_CPU_HUGEPAGES=0 under the 'madvise' setting: a large buffer is eligible");
    printf("  huge pages (%s): large buffers eligible %d, with MC_CPU_HUGEPAGES=0 %d\n",
           on_request ? "on request" : "always", got[1], got[0]);
}

/* ---- the table of backends, and backends without process-wide side effects --------------- */
static void backends_table(void) {
    int n = mc_backend_count(), cpu_seen = 0;
    CHECK(n >= 2, "at least the cpu and cuda entries: %d", n);
    for (int i = 0; i < n; i++) {
        const mc_backend_entry *e = mc_backend_at(i);
        REQUIRE(e && e->name, "entry %d", i);
        CHECK(mc_backend_find(e->id) == e && mc_backend_find_name(e->name) == e, "%s: found by id and name", e->name);
        mc_backend *b = NULL;
        int rc = mc_backend_create(&b, e->id, NULL);
        if (!e->create) {
            CHECK(rc == MC_EUNSUP && e->missing && strstr(mc_errmsg(), e->missing), "%s: not in this build: %d %s",
                  e->name, rc, mc_errmsg());
            printf("  backend %-6s not in this build: %s\n", e->name, mc_errmsg());
            continue;
        }
        if (rc != MC_OK) { /* e.g. cuda without a GPU */
            printf("  backend %-6s registered, cannot be created here: %s\n",
                   e->name, mc_errmsg());
            continue;
        }
        CHECK(strcmp(b->name, e->name) == 0, "%s: the backend calls itself %s", e->name, b->name);
        CHECK(mc_backend_fused_of(b) == e->fused, "%s: registered fused flags 0x%x, its table fills 0x%x", e->name,
              e->fused, mc_backend_fused_of(b));
        printf("  backend %-6s fused operations 0x%x as registered\n", e->name, e->fused);
        cpu_seen += e->id == MC_BACKEND_CPU;
        b->destroy(b);
    }
    CHECK(cpu_seen == 1, "the cpu backend is registered and created");
    mc_backend *b = NULL;
    CHECK(mc_backend_create(&b, 77, NULL) == MC_EARG && strstr(mc_errmsg(), "cpu"), "unknown id: %s", mc_errmsg());
#ifndef MC_GPU
    mc_net *net = NULL;
    mc_net_opts o = {.backend = MC_BACKEND_CUDA};
    int rc = mc_net_from_string(&net, "[net]\nwidth=4\nheight=4\nchannels=1\n[activation]\n", "t.cfg", &o);
    CHECK(rc == MC_EUNSUP && strstr(mc_errmsg(), "rebuild with make GPU=1 CUDNN=1"), "a CUDA net in a CPU build: %d %s",
          rc, mc_errmsg());
#endif
    /* the CPU backend's settings are its own: threads and Winograd as given, the environment's
     * MC_CPU_WINOGRAD only for MC_WINOGRAD_AUTO, and nothing process-wide changes */
    const int omp_before = omp_get_max_threads();
    mc_backend *b3, *bd, *bon;
    REQUIRE_OK(mc_backend_cpu_create(&b3, &(mc_net_opts){.threads = 3, .winograd = MC_WINOGRAD_OFF}));
    setenv("MC_CPU_WINOGRAD", "0", 1);
    REQUIRE_OK(mc_backend_cpu_create(&bd, NULL));
    REQUIRE_OK(mc_backend_cpu_create(&bon, &(mc_net_opts){.winograd = MC_WINOGRAD_ON}));
    unsetenv("MC_CPU_WINOGRAD");
    const mc_cpu *c3 = b3->ctx, *cd = bd->ctx, *con = bon->ctx;
    CHECK(b3->threads == 3 && c3->threads == 3 && c3->winograd == 0, "threads=3, Winograd off: %d %d", c3->threads,
          c3->winograd);
    CHECK(cd->threads == omp_before && cd->winograd == 0, "defaults: OpenMP's %d threads (%d), MC_CPU_WINOGRAD=0 off (%d)",
          omp_before, cd->threads, cd->winograd);
    CHECK(con->winograd == 2, "MC_WINOGRAD_ON (F(2x2,3x3)) whatever the environment: %d", con->winograd);
    mc_backend *b4, *b4on;
    setenv("MC_CPU_WINOGRAD", "4", 1);
    REQUIRE_OK(mc_backend_cpu_create(&b4, NULL));
    REQUIRE_OK(mc_backend_cpu_create(&b4on, &(mc_net_opts){.winograd = MC_WINOGRAD_ON}));
    unsetenv("MC_CPU_WINOGRAD");
    CHECK(((const mc_cpu *)b4->ctx)->winograd == 4 && ((const mc_cpu *)b4on->ctx)->winograd == 2,
          "MC_CPU_WINOGRAD=4: F(4x4,3x3) for MC_WINOGRAD_AUTO only (%d, %d)", ((const mc_cpu *)b4->ctx)->winograd,
          ((const mc_cpu *)b4on->ctx)->winograd);
    b4->destroy(b4), b4on->destroy(b4on);
    CHECK(omp_get_max_threads() == omp_before, "creating backends leaves OpenMP's thread count alone (%d, was %d)",
          omp_get_max_threads(), omp_before);
    mc_backend *bad = NULL;
    CHECK(mc_backend_cpu_create(&bad, &(mc_net_opts){.threads = -1}) == MC_EARG, "threads -1 refused");
    CHECK(mc_backend_cpu_create(&bad, &(mc_net_opts){.winograd = 7}) == MC_EARG, "winograd 7 refused");
    b3->destroy(b3), bd->destroy(bd), bon->destroy(bon);
}

int main(void) {
    backends_table();
    hugepages_case();
    if (omp_get_num_procs() > 5) nthreads[NTHR++] = omp_get_num_procs();
    printf("  thread counts:");
    for (int ti = 0; ti < NTHR; ti++) printf(" %d", nthreads[ti]);
    printf("\n");
    static const int wmode[3] = {MC_WINOGRAD_OFF, MC_WINOGRAD_ON, MC_WINOGRAD_4X4};
    for (int wi = 0; wi < 3; wi++)
        for (int ti = 0; ti < NTHR; ti++)
            REQUIRE_OK(mc_backend_cpu_create(&bes[wi][ti], &(mc_net_opts){.threads = nthreads[ti], .winograd = wmode[wi]}));
    be = bes[1][0];
    steal_case();
    long_copy_fill();
    /* row tiles of large images (several tiles per image, a partial last tile) */
    conv_case("3x3 row tiles", 3, 5, 37, 29, 6, 3, 1, 1, 1);
    conv_case("7x7 s2 stem-like", 2, 3, 45, 40, 8, 7, 2, 3, 1);
    conv_case("4x4 s2 p1", 4, 4, 34, 34, 5, 4, 2, 1, 1);
    /* 32 tiles: backward-filter in 16 chunks of 2 tiles */
    conv_case("3x3 32 tiles (16 chunks)", 8, 3, 40, 40, 4, 3, 1, 1, 1);
    /* batch-folded tiles of small images (and a batch that does not divide evenly) */
    conv_case("3x3 folded", 7, 6, 9, 8, 5, 3, 1, 1, 1);
    conv_case("3x3 s2 folded", 6, 4, 11, 11, 7, 3, 2, 1, 1);
    conv_case("1x1 folded", 9, 12, 7, 6, 10, 1, 1, 0, 1);
    conv_case("1x1 s2 folded", 5, 8, 10, 10, 6, 1, 2, 0, 1);
    conv_case("3x3 folded, batch 16", 16, 8, 10, 10, 16, 3, 2, 1, 1);
    /* direct 1x1 on large images */
    conv_case("1x1 direct", 3, 9, 30, 25, 4, 1, 1, 0, 1);
    /* fewer images than MC_CPU_WAYS: channel split of backward-data, row tiles for the rest */
    conv_case("3x3 one image", 1, 7, 26, 23, 5, 3, 1, 1, 1);
    conv_case("1x1 one image", 1, 11, 24, 24, 6, 1, 1, 0, 1);
    conv_case("3x3 one small image", 1, 3, 5, 6, 4, 3, 1, 1, 1);
    conv_case("3x3 two images", 2, 5, 19, 17, 6, 3, 1, 1, 1);
    /* transposed convolutions are backward-data: the shapes of the cfgs' deconvolutions (4x4 s2
     * p1, 2x2 s2), one image (by channels) and a batch */
    conv_case("transposed 4x4 s2 p1, 1 image", 1, 8, 20, 22, 12, 4, 2, 1, 1);
    conv_case("transposed 2x2 s2, batch", 5, 6, 16, 16, 8, 2, 2, 0, 1);
    /* groups, depthwise, kernel larger than the padded window in places */
    conv_case("groups 2", 4, 6, 12, 12, 4, 3, 1, 1, 2);
    conv_case("depthwise 8x8 s4 p2", 2, 3, 21, 21, 3, 8, 4, 2, 3);
    conv_case("depthwise folded", 6, 4, 6, 6, 4, 3, 1, 1, 4);
    conv_case("5x5 p0", 3, 2, 8, 9, 3, 5, 1, 0, 1);
    conv_case("3x3 p2 (wide pad)", 2, 3, 4, 4, 2, 3, 1, 2, 1);
    /* Winograd F(2x2,3x3): odd and even output sizes (partial tiles), padding 0..2, blocks that
     * span images, a single image, many channels */
    conv_case("wino 3x3 p1 odd", 3, 16, 13, 11, 20, 3, 1, 1, 1);
    conv_case("wino 3x3 p1 even", 2, 17, 12, 10, 16, 3, 1, 1, 1);
    conv_case("wino 3x3 p0", 3, 16, 9, 12, 16, 3, 1, 0, 1);
    conv_case("wino 3x3 p2", 2, 16, 7, 6, 18, 3, 1, 2, 1);
    conv_case("wino one image", 1, 24, 21, 19, 16, 3, 1, 1, 1);
    conv_case("wino many tiles", 5, 32, 30, 28, 40, 3, 1, 1, 1);
    conv_case("wino small images", 9, 64, 4, 5, 48, 3, 1, 1, 1);
    /* 20 blocks of tiles in 16 chunks (some of two blocks): across thread counts and against
     * im2col only (the double reference would take seconds) */
    conv_case_x("wino 20 blocks (16 chunks)", 9, 16, 128, 128, 16, 3, 1, 1, 1, 0);
    mc_act relu = {MC_ACT_RELU, 0, 0}, leaky = {MC_ACT_LEAKY, 0.01f, 0}, lin = {MC_ACT_LINEAR, 0, 0},
           ht = {MC_ACT_HARDTANH, -0.5f, 0.7f}, lg = {MC_ACT_LOGISTIC, 0, 0};
    bn_case("relu", 3, 5, 70, 0.0, relu);
    bn_case("relu, 40 channels", 4, 40, 150, 0.0, relu);
    bn_case("leaky, offset mean", 4, 6, 33, 50.0, leaky);
    bn_case("linear, offset mean", 2, 4, 100, 100.0, lin);
    bn_case("hardtanh", 3, 3, 41, 0.0, ht);
    bn_case("logistic", 2, 3, 20, 0.0, lg);
    bn_case("tanh", 3, 4, 37, 0.0, (mc_act){MC_ACT_TANH, 0, 0});
    for (int hw = 1; hw <= 9; hw += hw < 7 ? 6 : 1) bias_bwd_case(3, 5, hw);
    {
        /* planes whose sum depends on the grouping (1e20 + 1 - 1e20): the SIMD sums group as the
         * portable loop does, the tail included, so they give the same float */
        mc_cpu *cpu = be->ctx;
        const int own = cpu->simd;
        float g[2][11] = {{1e20f, 1.0f, -1e20f, 0, 0, 0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0, 0, 0, 1e20f, 3.0f, -1e20f}};
        for (int k = 0; k < 2; k++)
            for (int v = 0; v <= own; v++) { /* 0 portable, MC_F32_AVX2, MC_F32_AVX512 */
                float db = -1.0f;
                cpu->simd = v;
                REQUIRE_OK(be->bias_bwd(be, 1, 1, 11, g[k], 0.0f, &db));
                CHECK(db == 0.0f, "bias_bwd, plane %d, %s sums: %g (want 0: (1e20 + x) - 1e20)", k,
                      v == 0 ? "portable" : v == 1 ? "AVX2" : "AVX-512", (double)db);
            }
        cpu->simd = own;
    }
    bias_bwd_case(16, 4, 6400);
    printf("  bias_bwd (planes of 1, 7, 8, 9, 6400)  ok\n");
    maxpool_case("3x3 s2 p1", 17, 14, 3, 2, 1);
    maxpool_case("2x2 s2", 12, 9, 2, 2, 0);
    maxpool_case("3x3 s1 p1", 7, 8, 3, 1, 1);
    other_ops();
    printf("  Winograd cases, worst error/|terms| (fwd, bwd-data, bwd-filter): im2col %.1e %.1e %.1e, F(2x2,3x3) %.1e "
           "%.1e %.1e, F(4x4,3x3) %.1e %.1e %.1e\n",
           worst_err[0][0], worst_err[0][1], worst_err[0][2], worst_err[1][0], worst_err[1][1], worst_err[1][2],
           worst_err[2][0], worst_err[2][1], worst_err[2][2]);
    for (int wi = 0; wi < 3; wi++)
        for (int ti = 0; ti < NTHR; ti++) bes[wi][ti]->destroy(bes[wi][ti]);
    return mc_test_done("test_cpu_backend");
}
