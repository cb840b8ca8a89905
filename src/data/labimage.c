/* labimage.c — the colorization data pipeline's decoding (include/mc_image.h): image files as
 * float RGB, resized, as CIELAB (spec §1 "Colour pipeline"), and back to 8-bit RGB. The colour
 * formulas are src/imaging/color.c's; the resize is src/data/transform.c's bilinear. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "mc_image.h"
#include "mc_imaging.h"

int mc_image_load_rgbf(const char *path, float **px, int *w, int *h) {
    *px = NULL;
    *w = *h = 0;
    mc_image_info info;
    MC_TRY(mc_image_probe(path, &info));
    int grey = info.channels <= 2; /* grey or grey+alpha PNG, grey JPEG */
    if (grey) {
        mc_image g = {0};
        int rc = mc_image_load_grey(path, &g);
        if (rc < 0) return rc;
        size_t n = (size_t)g.w * g.h;
        float *o = mc_malloc(3 * n * sizeof(float), path);
        if (!o) {
            mc_image_free(&g);
            return MC_ENOMEM;
        }
        for (size_t i = 0; i < n; i++) o[3 * i] = o[3 * i + 1] = o[3 * i + 2] = g.px[i];
        *px = o;
        *w = g.w;
        *h = g.h;
        mc_image_free(&g);
        return MC_OK;
    }
    mc_image8 c = {0};
    int rc = mc_image_load_rgb8(path, &c);
    if (rc < 0) return rc;
    size_t n = (size_t)c.w * c.h * 3;
    float *o = mc_malloc(n * sizeof(float), path);
    if (!o) {
        mc_image8_free(&c);
        return MC_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) o[i] = (float)c.px[i] / 255.0f;
    *px = o;
    *w = c.w;
    *h = c.h;
    mc_image8_free(&c);
    return MC_OK;
}

int mc_lab_load(const char *path, int w, int h, float **lab, int *ow, int *oh) {
    *lab = NULL;
    float *rgb;
    int sw, sh;
    MC_TRY(mc_image_load_rgbf(path, &rgb, &sw, &sh));
    if (w <= 0 || h <= 0) w = sw, h = sh;
    size_t sn = (size_t)sw * sh, n = (size_t)w * h;
    float *plane = mc_malloc(sn * sizeof(float), path), *res = mc_malloc(3 * n * sizeof(float), path);
    double *px = mc_malloc(3 * n * sizeof(double), path);
    float *out = mc_malloc(3 * n * sizeof(float), path);
    int rc = plane && res && px && out ? MC_OK : MC_ENOMEM;
    for (int c = 0; c < 3 && rc == MC_OK; c++) {
        for (size_t i = 0; i < sn; i++) plane[i] = rgb[3 * i + c];
        rc = mc_resize_bilinear(plane, sw, sh, sw, res + c * n, w, h, NULL);
    }
    if (rc == MC_OK) {
        for (size_t i = 0; i < n; i++)
            for (int c = 0; c < 3; c++) px[3 * i + c] = res[c * n + i];
        mc_srgb_to_lab(px, n, px);
        for (size_t i = 0; i < n; i++)
            for (int c = 0; c < 3; c++) out[c * n + i] = (float)px[3 * i + c];
    }
    free(rgb);
    free(plane);
    free(res);
    free(px);
    if (rc < 0) {
        free(out);
        return rc;
    }
    *lab = out;
    *ow = w;
    *oh = h;
    return MC_OK;
}

void mc_lab_to_rgb8(const float *lab, int w, int h, uint8_t *rgb) {
    size_t n = (size_t)w * h;
    for (size_t i = 0; i < n; i++) {
        double l[3] = {lab[i], lab[n + i], lab[2 * n + i]}, c[3];
        mc_lab_to_srgb(l, 1, c);
        for (int k = 0; k < 3; k++) rgb[3 * i + k] = (uint8_t)floor(c[k] * 255.0 + 0.5);
    }
}
