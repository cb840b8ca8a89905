/* resize.c — Lanczos (a = 3) resizing of 8-bit images, bit-exact with Pillow 9.4's
 * Image.resize(size, Image.LANCZOS) (the algorithm of its libImaging/Resample.c as documented
 * in include/mc_imaging.h: per-axis weights in 22-bit fixed point, horizontal pass first). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "mc_imaging.h"

#define PRECISION_BITS 22

static double sinc(double x) {
    if (x == 0.0) return 1.0;
    x = x * M_PI;
    return sin(x) / x;
}

static double lanczos3(double x) { return (-3.0 <= x && x < 3.0) ? sinc(x) * sinc(x / 3.0) : 0.0; }

/* The taps of every output sample along one axis: first input index bounds[2x], count
 * bounds[2x+1], fixed-point weights kk[x·ksize …]. */
typedef struct axis {
    int ksize;
    int *bounds;
    int32_t *kk;
} axis;

static int axis_coeffs(axis *a, int insize, int outsize) {
    double scale = (double)insize / outsize;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 3.0 * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    a->ksize = ksize;
    a->bounds = mc_malloc((size_t)outsize * 2 * sizeof(int), "Lanczos taps");
    a->kk = mc_malloc((size_t)outsize * ksize * sizeof(int32_t), "Lanczos weights");
    double *w = mc_malloc((size_t)ksize * sizeof(double), "Lanczos weights");
    if (!a->bounds || !a->kk || !w) {
        free(w);
        return MC_ENOMEM;
    }
    double ss = 1.0 / filterscale;
    for (int xx = 0; xx < outsize; xx++) {
        double center = (xx + 0.5) * scale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > insize) xmax = insize;
        xmax -= xmin;
        double ww = 0.0;
        for (int x = 0; x < xmax; x++) {
            w[x] = lanczos3((x + xmin - center + 0.5) * ss);
            ww += w[x];
        }
        int32_t *k = a->kk + (size_t)xx * ksize;
        for (int x = 0; x < ksize; x++) {
            double v = x < xmax && ww != 0.0 ? w[x] / ww : x < xmax ? w[x] : 0.0;
            k[x] = (int32_t)(v < 0 ? -0.5 + v * (1 << PRECISION_BITS) : 0.5 + v * (1 << PRECISION_BITS));
        }
        a->bounds[2 * xx] = xmin;
        a->bounds[2 * xx + 1] = xmax;
    }
    free(w);
    return MC_OK;
}

static void axis_free(axis *a) {
    free(a->bounds);
    free(a->kk);
}

static uint8_t clip8(int32_t v) {
    if (v >= (1 << PRECISION_BITS << 8)) return 255;
    if (v <= 0) return 0;
    return (uint8_t)(v >> PRECISION_BITS);
}

/* rows h, src width sw → dst width dw */
static void pass_horizontal(const uint8_t *src, int sw, int h, int c, uint8_t *dst, int dw, const axis *a) {
    for (int y = 0; y < h; y++) {
        const uint8_t *row = src + (size_t)y * sw * c;
        uint8_t *out = dst + (size_t)y * dw * c;
        for (int xx = 0; xx < dw; xx++) {
            int xmin = a->bounds[2 * xx], xmax = a->bounds[2 * xx + 1];
            const int32_t *k = a->kk + (size_t)xx * a->ksize;
            for (int ch = 0; ch < c; ch++) {
                int32_t ss = 1 << (PRECISION_BITS - 1);
                for (int x = 0; x < xmax; x++) ss += (int32_t)row[(size_t)(x + xmin) * c + ch] * k[x];
                out[(size_t)xx * c + ch] = clip8(ss);
            }
        }
    }
}

/* columns w (·c bytes a row), src height sh → dst height dh */
static void pass_vertical(const uint8_t *src, int w, int c, uint8_t *dst, int dh, const axis *a) {
    size_t stride = (size_t)w * c;
    for (int yy = 0; yy < dh; yy++) {
        int ymin = a->bounds[2 * yy], ymax = a->bounds[2 * yy + 1];
        const int32_t *k = a->kk + (size_t)yy * a->ksize;
        uint8_t *out = dst + (size_t)yy * stride;
        for (size_t i = 0; i < stride; i++) {
            int32_t ss = 1 << (PRECISION_BITS - 1);
            for (int y = 0; y < ymax; y++) ss += (int32_t)src[(size_t)(y + ymin) * stride + i] * k[y];
            out[i] = clip8(ss);
        }
    }
}

int mc_resize_lanczos(const uint8_t *src, int sw, int sh, int channels, uint8_t *dst, int dw, int dh) {
    if (!src || !dst || sw < 1 || sh < 1 || dw < 1 || dh < 1 || (channels != 1 && channels != 3))
        return mc_err(MC_EARG, "mc_resize_lanczos: bad arguments (%dx%d -> %dx%d, %d channels)", sw, sh, dw, dh,
                      channels);
    int need_h = dw != sw, need_v = dh != sh;
    if (!need_h && !need_v) {
        memcpy(dst, src, (size_t)sw * sh * channels);
        return MC_OK;
    }
    axis ah = {0}, av = {0};
    uint8_t *tmp = NULL;
    int rc = MC_OK;
    if (need_h && (rc = axis_coeffs(&ah, sw, dw)) < 0) goto out;
    if (need_v && (rc = axis_coeffs(&av, sh, dh)) < 0) goto out;
    if (need_h && need_v) {
        tmp = mc_malloc((size_t)dw * sh * channels, "Lanczos intermediate image");
        if (!tmp) {
            rc = MC_ENOMEM;
            goto out;
        }
        pass_horizontal(src, sw, sh, channels, tmp, dw, &ah);
        pass_vertical(tmp, dw, channels, dst, dh, &av);
    } else if (need_h) {
        pass_horizontal(src, sw, sh, channels, dst, dw, &ah);
    } else {
        pass_vertical(src, sw, channels, dst, dh, &av);
    }
out:
    free(tmp);
    axis_free(&ah);
    axis_free(&av);
    return rc;
}
