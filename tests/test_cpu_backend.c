/* test_cpu_backend.c — the CPU backend's fast paths against naive double-precision references.
 *
 * The convolution engine (cpu/conv.c) picks a different plan by shape and thread count: tiles
 * of output rows, batch-folded tiles of whole images, 1x1 convolutions without im2col,
 * backward-data split by images or (fewer images than threads) by channels, per-thread weight
 * gradients. Every plan is exercised here with 1, 2 and 3 threads on shapes that select it,
 * each primitive with beta 0 (output pre-filled with NaN: it must be overwritten) and beta 0.5,
 * and compared with the convolution written out as its definition (sums in double):
 *   y[n][k][oy][ox] = sum_{c in group, i, j} w[k][c][i][j] x[n][c][oy*s - p + i][ox*s - p + j].
 * The tolerance is relative to the sum of |terms| of each output element (float rounding of a
 * sum of that many products), so it does not depend on the value's own size.
 */
#include <math.h>
#include "engine/backend.h"
#include "cpu/conv.h"
#include "test.h"

static mc_backend *be;

static void fill_random(float *p, size_t n, mc_rng *r) {
    for (size_t i = 0; i < n; i++) p[i] = (float)(2.0 * mc_rng_uniform(r) - 1.0);
}

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

static void conv_case(const char *name, int n, int c, int h, int w, int k, int ksz, int s, int p, int groups) {
    mc_conv_desc d = {.n = n, .c = c, .h = h, .w = w, .k = k, .kh = ksz, .kw = ksz, .sh = s, .sw = s,
                      .ph = p, .pw = p, .groups = groups};
    d.oh = (h + 2 * p - ksz) / s + 1;
    d.ow = (w + 2 * p - ksz) / s + 1;
    size_t nx = (size_t)n * c * h * w, ny = (size_t)n * k * d.oh * d.ow,
           nw = (size_t)k * (c / groups) * ksz * ksz;
    float *x = be->alloc(be, nx, "x"), *wt = be->alloc(be, nw, "w"), *dy = be->alloc(be, ny, "dy");
    float *out = be->alloc(be, ny > nx ? (ny > nw ? ny : nw) : (nx > nw ? nx : nw), "out");
    float *before = be->alloc(be, ny > nx ? (ny > nw ? ny : nw) : (nx > nw ? nx : nw), "before");
    ref ry = {mc_malloc(ny * 8, "ref"), mc_malloc(ny * 8, "ref")};
    ref rx = {mc_malloc(nx * 8, "ref"), mc_malloc(nx * 8, "ref")};
    ref rw = {mc_malloc(nw * 8, "ref"), mc_malloc(nw * 8, "ref")};
    REQUIRE(x && wt && dy && out && before && ry.v && ry.a && rx.v && rx.a && rw.v && rw.a, "alloc");
    mc_rng r;
    mc_rng_seed(&r, (uint64_t)(n * 1000003 + c * 1009 + h * 101 + k * 7 + ksz * 3 + s + p));
    fill_random(x, nx, &r);
    fill_random(wt, nw, &r);
    fill_random(dy, ny, &r);
    reference(&d, x, wt, dy, &ry, &rx, &rw);
    const double tol = 1e-6;
    for (int run = 0; run < 6; run++) {
        /* threads 1..3, each with Winograd on (3x3 stride 1, >= 16 channels) and off */
        const int threads = 1 + run / 2, wino = run % 2 == 0;
        mc_set_threads(threads);
        mc_cpu_conv_set_winograd(wino);
        for (int bi = 0; bi < 2; bi++) {
            float beta = bi ? 0.5f : 0.0f;
            /* forward */
            if (beta == 0.0f) for (size_t i = 0; i < ny; i++) out[i] = NAN;
            else fill_random(out, ny, &r);
            memcpy(before, out, ny * sizeof(float));
            REQUIRE_OK(be->conv_fwd(be, &d, x, wt, beta, out, NULL));
            double e = compare(out, &ry, before, beta, ny);
            CHECK(e <= tol, "%s fwd threads=%d wino=%d beta=%g: error/|terms| %.2e", name, threads, wino, (double)beta, e);
            /* backward-data */
            if (beta == 0.0f) for (size_t i = 0; i < nx; i++) out[i] = NAN;
            else fill_random(out, nx, &r);
            memcpy(before, out, nx * sizeof(float));
            REQUIRE_OK(be->conv_bwd_data(be, &d, dy, wt, beta, out, NULL));
            e = compare(out, &rx, before, beta, nx);
            CHECK(e <= tol, "%s bwd-data threads=%d wino=%d beta=%g: error/|terms| %.2e", name, threads, wino, (double)beta, e);
            /* backward-filter */
            if (beta == 0.0f) for (size_t i = 0; i < nw; i++) out[i] = NAN;
            else fill_random(out, nw, &r);
            memcpy(before, out, nw * sizeof(float));
            REQUIRE_OK(be->conv_bwd_filter(be, &d, x, dy, beta, out, NULL));
            e = compare(out, &rw, before, beta, nw);
            CHECK(e <= tol, "%s bwd-filter threads=%d wino=%d beta=%g: error/|terms| %.2e", name, threads, wino, (double)beta, e);
        }
    }
    printf("  conv %-28s n=%d c=%d %dx%d k=%d %dx%d s%d p%d g%d ok\n", name, n, c, h, w, k, ksz, ksz, s, p, groups);
    be->free(be, x);
    be->free(be, wt);
    be->free(be, dy);
    be->free(be, out);
    be->free(be, before);
    free(ry.v), free(ry.a), free(rx.v), free(rx.a), free(rw.v), free(rw.a);
}


/* ---- batch norm + activation --------------------------------------------------------------- */
static double ref_act(const mc_act *a, double v) {
    switch (a->type) {
    case MC_ACT_RELU: return v > 0 ? v : 0;
    case MC_ACT_LEAKY: return v > 0 ? v : v * (double)a->a;
    case MC_ACT_LOGISTIC: return 1.0 / (1.0 + exp(-v));
    case MC_ACT_HARDTANH: return v < (double)a->a ? (double)a->a : (v > (double)a->b ? (double)a->b : v);
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
    for (int fused = 0; fused < 2; fused++)
        for (int threads = 1; threads <= 2; threads++) {
            mc_set_threads(threads);
            float rm0[64], rv0[64];
            REQUIRE(c <= 64, "c <= 64");
            memcpy(rm0, rm, (size_t)c * 4);
            memcpy(rv0, rv, (size_t)c * 4);
            for (size_t i = 0; i < N; i++) y[i] = dx[i] = NAN;
            memcpy(dyc, dy, N * 4);
            if (fused) {
                REQUIRE_OK(be->bn_act_fwd_train(be, &d, &act, x, gm, bt, rm0, rv0, 1, sm, si, y));
                REQUIRE_OK(be->bn_act_bwd_train(be, &d, &act, x, y, dyc, gm, sm, si, 0.0f, dx, 0.0f, dg, db));
                CHECK(memcmp(dyc, dy, N * 4) == 0, "%s: the fused backward changed dy", name);
            } else {
                REQUIRE_OK(be->bn_fwd_train(be, &d, x, gm, bt, rm0, rv0, 1, sm, si, y));
                REQUIRE_OK(be->act_fwd(be, &act, N, y, y));
                REQUIRE_OK(be->act_bwd(be, &act, N, y, dyc, 0.0f, dyc));
                REQUIRE_OK(be->bn_bwd_train(be, &d, x, dyc, gm, sm, si, 0.0f, dx, 0.0f, dg, db));
            }
            double ey = max_rel(y, ry, N), edx = max_rel(dx, rdx, N), edg = max_rel(dg, rdg, (size_t)c),
                   edb = max_rel(db, rdb, (size_t)c), erm = max_rel(rm0, rrm, (size_t)c), erv = max_rel(rv0, rrv, (size_t)c);
            CHECK(ey < 1e-5 && edx < 1e-5 && edg < 1e-5 && edb < 1e-5 && erm < 1e-6 && erv < 1e-6,
                  "%s %s threads=%d: y %.1e dx %.1e dgamma %.1e dbeta %.1e running mean %.1e var %.1e", name,
                  fused ? "fused" : "composed", threads, ey, edx, edg, edb, erm, erv);
        }
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

int main(void) {
    REQUIRE_OK(mc_backend_cpu_create(&be));
    /* row tiles of large images (several tiles per image, a partial last tile) */
    conv_case("3x3 row tiles", 3, 5, 37, 29, 6, 3, 1, 1, 1);
    conv_case("7x7 s2 stem-like", 2, 3, 45, 40, 8, 7, 2, 3, 1);
    conv_case("4x4 s2 p1", 4, 4, 34, 34, 5, 4, 2, 1, 1);
    /* batch-folded tiles of small images (and a batch that does not divide evenly) */
    conv_case("3x3 folded", 7, 6, 9, 8, 5, 3, 1, 1, 1);
    conv_case("3x3 s2 folded", 6, 4, 11, 11, 7, 3, 2, 1, 1);
    conv_case("1x1 folded", 9, 12, 7, 6, 10, 1, 1, 0, 1);
    conv_case("1x1 s2 folded", 5, 8, 10, 10, 6, 1, 2, 0, 1);
    /* direct 1x1 on large images */
    conv_case("1x1 direct", 3, 9, 30, 25, 4, 1, 1, 0, 1);
    /* fewer images than threads: channel split of backward-data, row tiles for the rest */
    conv_case("3x3 one image", 1, 7, 26, 23, 5, 3, 1, 1, 1);
    conv_case("1x1 one image", 1, 11, 24, 24, 6, 1, 1, 0, 1);
    conv_case("3x3 one small image", 1, 3, 5, 6, 4, 3, 1, 1, 1);
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
    mc_act relu = {MC_ACT_RELU, 0, 0}, leaky = {MC_ACT_LEAKY, 0.01f, 0}, lin = {MC_ACT_LINEAR, 0, 0},
           ht = {MC_ACT_HARDTANH, -0.5f, 0.7f}, lg = {MC_ACT_LOGISTIC, 0, 0};
    bn_case("relu", 3, 5, 70, 0.0, relu);
    bn_case("leaky, offset mean", 4, 6, 33, 50.0, leaky);
    bn_case("linear, offset mean", 2, 4, 100, 100.0, lin);
    bn_case("hardtanh", 3, 3, 41, 0.0, ht);
    bn_case("logistic", 2, 3, 20, 0.0, lg);
    maxpool_case("3x3 s2 p1", 17, 14, 3, 2, 1);
    maxpool_case("2x2 s2", 12, 9, 2, 2, 0);
    maxpool_case("3x3 s1 p1", 7, 8, 3, 1, 1);
    be->destroy(be);
    return mc_test_done("test_cpu_backend");
}
