/* transform.c — the paper's per-image preprocessing: square crop, bilinear resize, one affine
 * warp (fastai v1 rotate + zoom, reflection padding), normalisation; and the per-sample random
 * draws (counter-based, so the same (seed, epoch, position) always gives the same sample).
 *
 * Exactness (what the tests check against PyTorch 1.13):
 * - resize = F.interpolate(x, (dh, dw), mode='bilinear', align_corners=False) without antialias,
 *   with PyTorch's formulas and precisions: scale = (float)in / out; src = scale·(i + 0.5) − 0.5
 *   in double, clamped at 0; i0 = (int)src; i1 = i0 + (i0 < in − 1); λ1 = (float)(src − i0);
 *   value = row0·λ0 + row1·λ1 with rowk = v[ik][j0]·μ0 + v[ik][j1]·μ1 in float32. Results agree
 *   with PyTorch's to 1–2 float32 ulps (its kernel's own operation order / FMA).
 * - warp = F.grid_sample(x, F.affine_grid(theta, align_corners=True), 'bilinear', 'reflection',
 *   align_corners=True). Sampling positions are linear in (row, col), so they are computed in
 *   double from three precomputed coefficients per axis (no per-pixel trig or division);
 *   reflection (only evaluated for out-of-range positions) mirrors about the centres of the
 *   first and last pixels, as PyTorch does with align_corners=True.
 *
 * Buffers: every image is row-major [h][w] float32. mc_xform holds grow-only scratch (resize
 * tables, the intermediate resized image), so a worker allocates nothing in steady state.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "mc_image.h"

struct mc_xform {
    int *itab;      /* resize tables: [2·(dw + dh)] indices (i0, i1 per output row/column) */
    float *ftab;    /* [2·(dw + dh)] weights (λ0, λ1) */
    size_t tab_cap; /* entries allocated in itab and ftab */
    float *tmp;     /* [oh][ow] resized image before the warp */
    size_t tmp_cap;
};

int mc_xform_new(mc_xform **out) {
    if (!out) return mc_err(MC_EARG, "mc_xform_new: NULL argument");
    *out = mc_calloc(1, sizeof(mc_xform), "transform workspace");
    return *out ? MC_OK : MC_ENOMEM;
}

void mc_xform_free(mc_xform *ws) {
    if (!ws) return;
    free(ws->itab);
    free(ws->ftab);
    free(ws->tmp);
    free(ws);
}

static int ws_tables(mc_xform *ws, size_t n) {
    if (n <= ws->tab_cap) return MC_OK;
    free(ws->itab);
    free(ws->ftab);
    ws->tab_cap = 0;
    ws->itab = mc_malloc(n * sizeof(int), "resize index table");
    ws->ftab = mc_malloc(n * sizeof(float), "resize weight table");
    if (!ws->itab || !ws->ftab) {
        free(ws->itab);
        free(ws->ftab);
        ws->itab = NULL;
        ws->ftab = NULL;
        return MC_ENOMEM;
    }
    ws->tab_cap = n;
    return MC_OK;
}

static int ws_tmp(mc_xform *ws, size_t n) {
    if (n <= ws->tmp_cap) return MC_OK;
    free(ws->tmp);
    ws->tmp_cap = 0;
    ws->tmp = mc_malloc(n * sizeof(float), "resized image");
    if (!ws->tmp) return MC_ENOMEM;
    ws->tmp_cap = n;
    return MC_OK;
}

/* ---- normalisation ----------------------------------------------------------------------- */

void mc_normalise(const float *in, float *out, size_t n, const mc_norm *norm) {
    const float m = norm->mean, s = norm->std;
    for (size_t i = 0; i < n; i++) out[i] = (in[i] - m) / s;
}

/* ---- crops ------------------------------------------------------------------------------- */

/* round(d / 2) with Python's round-half-to-even, for d ≥ 0. */
static int half_round_even(int d) {
    int k = d / 2;
    if (d % 2 == 0) return k;
    return (k % 2 == 0) ? k : k + 1; /* k + 0.5 → the even neighbour */
}

void mc_crop_centre_square(int w, int h, mc_crop *c) {
    int s = w < h ? w : h;
    c->side = s;
    c->x0 = half_round_even(w - s);
    c->y0 = half_round_even(h - s);
}

void mc_crop_random_square(int w, int h, double u, mc_crop *c) {
    int s = w < h ? w : h;
    if (!(u >= 0.0)) u = 0.0;
    if (u >= 1.0) u = 0x1.fffffffffffffp-1;
    c->side = s;
    c->x0 = (int)floor((double)(w - s + 1) * u);
    c->y0 = (int)floor((double)(h - s + 1) * u);
    if (c->x0 > w - s) c->x0 = w - s;
    if (c->y0 > h - s) c->y0 = h - s;
}

/* ---- bilinear resize --------------------------------------------------------------------- */

/* PyTorch's linear source index / weights for one axis: the scale in float32, the source
 * index in double (CPU accumulate type), the weights rounded to float32. */
static void linear_table(int in, int out, int *idx, float *lam) {
    const float scale = (float)in / (float)out;
    for (int o = 0; o < out; o++) {
        double src = (double)scale * ((double)o + 0.5) - 0.5;
        if (src < 0.0) src = 0.0;
        int i0 = (int)src;
        int i1 = i0 + (i0 < in - 1 ? 1 : 0);
        double d = src - (double)i0;
        float l1 = (float)(d < 0.0 ? 0.0 : d > 1.0 ? 1.0 : d);
        idx[2 * o] = i0;
        idx[2 * o + 1] = i1;
        lam[2 * o] = 1.0f - l1;
        lam[2 * o + 1] = l1;
    }
}

int mc_resize_bilinear(const float *src, int sw, int sh, int sstride, float *dst, int dw, int dh,
                       mc_xform *ws) {
    if (!src || !dst || sw < 1 || sh < 1 || dw < 1 || dh < 1 || sstride < sw)
        return mc_err(MC_EARG, "mc_resize_bilinear: bad arguments (%dx%d stride %d -> %dx%d)", sw,
                      sh, sstride, dw, dh);
    if (sw == dw && sh == dh) {
        for (int y = 0; y < dh; y++)
            memcpy(dst + (size_t)y * dw, src + (size_t)y * sstride, (size_t)dw * sizeof(float));
        return MC_OK;
    }
    mc_xform local = {0};
    mc_xform *w = ws ? ws : &local;
    int rc = ws_tables(w, 2 * ((size_t)dw + (size_t)dh));
    if (rc < 0) return rc;
    int *xi = w->itab, *yi = w->itab + 2 * (size_t)dw;
    float *xl = w->ftab, *yl = w->ftab + 2 * (size_t)dw;
    linear_table(sw, dw, xi, xl);
    linear_table(sh, dh, yi, yl);
    for (int y = 0; y < dh; y++) {
        const float *r0 = src + (size_t)yi[2 * y] * sstride;
        const float *r1 = src + (size_t)yi[2 * y + 1] * sstride;
        const float a0 = yl[2 * y], a1 = yl[2 * y + 1];
        float *o = dst + (size_t)y * dw;
        for (int x = 0; x < dw; x++) {
            const int j0 = xi[2 * x], j1 = xi[2 * x + 1];
            const float b0 = xl[2 * x], b1 = xl[2 * x + 1];
            float t0 = r0[j0] * b0 + r0[j1] * b1;
            float t1 = r1[j0] * b0 + r1[j1] * b1;
            o[x] = t0 * a0 + t1 * a1;
        }
    }
    if (!ws) {
        free(local.itab);
        free(local.ftab);
    }
    return MC_OK;
}

/* ---- affine warp ------------------------------------------------------------------------- */

/* Reflects a pixel coordinate into [0, size − 1] about the first and last pixel centres
 * (grid_sample, padding_mode='reflection', align_corners=True), then clips. */
static double reflect_coord(double x, int size) {
    double span = (double)(size - 1);
    if (span <= 0.0) return 0.0;
    x = fabs(x);
    if (x > span) {
        x = fmod(x, 2.0 * span);
        if (x > span) x = 2.0 * span - x;
    }
    if (x < 0.0) x = 0.0;
    if (x > span) x = span;
    return x;
}

/* One bilinear sample at source pixel position (fx, fy), any position (reflected if outside). */
static float sample_reflect(const float *src, int h, int w, double fx, double fy) {
    if (fx < 0.0 || fx > (double)(w - 1)) fx = reflect_coord(fx, w);
    if (fy < 0.0 || fy > (double)(h - 1)) fy = reflect_coord(fy, h);
    int x0 = (int)fx, y0 = (int)fy; /* fx, fy ≥ 0: truncation = floor */
    float wx = (float)(fx - (double)x0), wy = (float)(fy - (double)y0);
    int x1 = x0 + 1 < w ? x0 + 1 : x0;
    int y1 = y0 + 1 < h ? y0 + 1 : y0;
    const float *r0 = src + (size_t)y0 * w, *r1 = src + (size_t)y1 * w;
    return (1.0f - wy) * ((1.0f - wx) * r0[x0] + wx * r0[x1]) +
           wy * ((1.0f - wx) * r1[x0] + wx * r1[x1]);
}

/* Columns j of one output row whose position a + b·j lies in [0, size − 1): both neighbours
 * exist and no reflection is needed. Narrows [*lo, *hi]. a + b·j is monotonic in j, so the
 * exact endpoints are found by testing with the same expression the loop uses. */
static void interior(double a, double b, int size, int *lo, int *hi) {
    const double top = (double)(size - 1);
    double jl, jh;
    if (b == 0.0) {
        if (!(a >= 0.0 && a < top)) *hi = *lo - 1;
        return;
    }
    if (b > 0.0) {
        jl = ceil(-a / b);
        jh = floor((top - a) / b);
    } else {
        jl = ceil((top - a) / b);
        jh = floor(-a / b);
    }
    if (jl > (double)*lo) *lo = jl > (double)*hi + 1.0 ? *hi + 1 : (int)jl;
    if (jh < (double)*hi) *hi = jh < (double)*lo - 1.0 ? *lo - 1 : (int)jh;
    while (*lo <= *hi && !(a + b * (double)*lo >= 0.0 && a + b * (double)*lo < top)) (*lo)++;
    while (*hi >= *lo && !(a + b * (double)*hi >= 0.0 && a + b * (double)*hi < top)) (*hi)--;
}

int mc_warp_affine(const float *src, float *dst, int h, int w, const float theta[6],
                   const mc_norm *norm) {
    if (!src || !dst || !theta || h < 1 || w < 1 || src == dst)
        return mc_err(MC_EARG, "mc_warp_affine: bad arguments (%dx%d)", w, h);
    for (int k = 0; k < 6; k++)
        if (!isfinite(theta[k]))
            return mc_err(MC_ENUM, "mc_warp_affine: theta[%d] is not finite", k);
    /* Output column j has x = −1 + j·dx (dx = 2/(w−1); linspace(−1, 1, 1) = [−1]); the source
     * pixel coordinate is (xs + 1)·(w − 1)/2. Both steps are linear, so
     *     ix = cx + ax·j + bx·i,   iy = cy + ay·j + by·i. */
    const double t0 = theta[0], t1 = theta[1], t2 = theta[2];
    const double t3 = theta[3], t4 = theta[4], t5 = theta[5];
    const double dx = w > 1 ? 2.0 / (double)(w - 1) : 0.0;
    const double dy = h > 1 ? 2.0 / (double)(h - 1) : 0.0;
    const double sx = 0.5 * (double)(w - 1), sy = 0.5 * (double)(h - 1);
    const double ax = t0 * dx * sx, bx = t1 * dy * sx, cx = (t2 - t0 - t1 + 1.0) * sx;
    const double ay = t3 * dx * sy, by = t4 * dy * sy, cy = (t5 - t3 - t4 + 1.0) * sy;
    const int do_norm = norm != NULL;
    const float mean = do_norm ? norm->mean : 0.0f, sd = do_norm ? norm->std : 1.0f;
    for (int i = 0; i < h; i++) {
        const double rx = cx + bx * (double)i, ry = cy + by * (double)i;
        float *o = dst + (size_t)i * w;
        int lo = 0, hi = w - 1;
        interior(rx, ax, w, &lo, &hi);
        interior(ry, ay, h, &lo, &hi);
        if (lo > hi) { /* no interior: the whole row on the general path */
            lo = w;
            hi = w - 1;
        }
        for (int j = 0; j < lo; j++)
            o[j] = sample_reflect(src, h, w, rx + ax * (double)j, ry + ay * (double)j);
        for (int j = lo; j <= hi; j++) { /* interior: no reflection, no clamping */
            double fx = rx + ax * (double)j, fy = ry + ay * (double)j;
            int x0 = (int)fx, y0 = (int)fy;
            float wx = (float)(fx - (double)x0), wy = (float)(fy - (double)y0);
            const float *r0 = src + (size_t)y0 * w + x0, *r1 = r0 + w;
            o[j] = (1.0f - wy) * ((1.0f - wx) * r0[0] + wx * r0[1]) +
                   wy * ((1.0f - wx) * r1[0] + wx * r1[1]);
        }
        for (int j = hi + 1; j < w; j++)
            o[j] = sample_reflect(src, h, w, rx + ax * (double)j, ry + ay * (double)j);
        if (do_norm)
            for (int j = 0; j < w; j++) o[j] = (o[j] - mean) / sd;
    }
    return MC_OK;
}

void mc_affine_fastai(float theta[6], double angle_deg, double scale, double row_pct,
                      double col_pct, int h, int w) {
    const double a = angle_deg * M_PI / 180.0;
    const double c = cos(a), s = sin(a);
    const double is = 1.0 / scale, k = 1.0 - 1.0 / scale;
    const double cc = k * (2.0 * col_pct - 1.0), rc = k * (2.0 * row_pct - 1.0);
    /* M = R · Z with R = [[c, −s, 0], [s, c, 0], [0, 0, 1]],
     *               Z = [[is, 0, cc], [0, is, rc], [0, 0, 1]]. */
    double m00 = c * is, m01 = -s * is, m02 = c * cc - s * rc;
    double m10 = s * is, m11 = c * is, m12 = s * cc + c * rc;
    m01 *= (double)h / (double)w; /* fastai's _affine_mult aspect correction */
    m10 *= (double)w / (double)h;
    theta[0] = (float)m00;
    theta[1] = (float)m01;
    theta[2] = (float)m02;
    theta[3] = (float)m10;
    theta[4] = (float)m11;
    theta[5] = (float)m12;
}

/* ---- random draws ------------------------------------------------------------------------ */

void mc_aug_opts_default(mc_aug_opts *o) {
    o->max_rotate = 10.0;
    o->p_rotate = 0.75;
    o->max_zoom = 1.1;
    o->p_zoom = 0.75;
    o->random_zoom_centre = 1;
}

static uint64_t mix64(uint64_t z) {
    z ^= z >> 30;
    z *= 0xbf58476d1ce4e5b9ULL;
    z ^= z >> 27;
    z *= 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return z;
}

uint64_t mc_sample_key(uint64_t seed, uint64_t epoch, uint64_t pos) {
    const uint64_t g = 0x9e3779b97f4a7c15ULL;
    uint64_t k = mix64(seed + g);
    k = mix64(k ^ (epoch * 0xd1b54a32d192ed03ULL + g));
    k = mix64(k ^ (pos * 0xaef17502108ef2d9ULL + g));
    return k;
}

void mc_aug_draw(const mc_aug_opts *o, uint64_t key, int w, int h, int train, mc_aug_params *p) {
    memset(p, 0, sizeof *p);
    p->scale = 1.0;
    p->row_pct = p->col_pct = 0.5;
    if (!train) {
        mc_crop_centre_square(w, h, &p->crop);
        return;
    }
    mc_aug_opts def;
    if (!o) {
        mc_aug_opts_default(&def);
        o = &def;
    }
    /* Seven uniforms, always drawn in this order whatever is enabled. */
    mc_rng r;
    mc_rng_seed(&r, key);
    double u_crop = mc_rng_uniform(&r);
    double u_rot = mc_rng_uniform(&r), u_angle = mc_rng_uniform(&r);
    double u_zoom = mc_rng_uniform(&r), u_scale = mc_rng_uniform(&r);
    double u_row = mc_rng_uniform(&r), u_col = mc_rng_uniform(&r);
    mc_crop_random_square(w, h, u_crop, &p->crop);
    if (o->max_rotate > 0.0 && u_rot < o->p_rotate) {
        p->rotate = 1;
        p->angle_deg = -o->max_rotate + 2.0 * o->max_rotate * u_angle;
    }
    if (o->max_zoom > 1.0 && u_zoom < o->p_zoom) {
        p->zoom = 1;
        p->scale = 1.0 + (o->max_zoom - 1.0) * u_scale;
        if (o->random_zoom_centre) { /* fastai v1 rand_zoom: row_pct, col_pct ~ U(0, 1) */
            p->row_pct = u_row;
            p->col_pct = u_col;
        }
    }
}

/* ---- the whole per-sample pipeline ------------------------------------------------------- */

int mc_preprocess(mc_xform *ws, const mc_image *img, const mc_aug_params *p, const mc_norm *norm,
                  float *out, int oh, int ow) {
    if (!img || !img->px || !p || !out || oh < 1 || ow < 1)
        return mc_err(MC_EARG, "mc_preprocess: bad arguments");
    const mc_crop *c = &p->crop;
    if (c->side < 1 || c->x0 < 0 || c->y0 < 0 || c->x0 + c->side > img->w ||
        c->y0 + c->side > img->h)
        return mc_err(MC_EARG, "mc_preprocess: crop %d,%d side %d outside a %dx%d image", c->x0,
                      c->y0, c->side, img->w, img->h);
    const float *src = img->px + (size_t)c->y0 * img->w + c->x0;
    const size_t n = (size_t)oh * ow;
    if (!p->rotate && !p->zoom) {
        MC_TRY(mc_resize_bilinear(src, c->side, c->side, img->w, out, ow, oh, ws));
        if (norm) mc_normalise(out, out, n, norm);
        return MC_OK;
    }
    mc_xform *local = NULL;
    if (!ws) {
        MC_TRY(mc_xform_new(&local));
        ws = local;
    }
    int rc = ws_tmp(ws, n);
    if (rc == MC_OK) rc = mc_resize_bilinear(src, c->side, c->side, img->w, ws->tmp, ow, oh, ws);
    if (rc == MC_OK) {
        float theta[6];
        mc_affine_fastai(theta, p->rotate ? p->angle_deg : 0.0, p->zoom ? p->scale : 1.0,
                         p->row_pct, p->col_pct, oh, ow);
        rc = mc_warp_affine(ws->tmp, out, oh, ow, theta, norm);
    }
    mc_xform_free(local);
    return rc;
}
