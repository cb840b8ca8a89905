/* colorize.c — the colorization module's output as pictures (the paper's Fig. 4; `medcolor
 * colorize`): for an image, T's 3-channel output with each channel min-max scaled to 0..255, and
 * that colour image laid over the grey input for reading (50 % grey, 50 % colour; the thesis'
 * Fig. 6.2). The image goes through the evaluation path (grey, centre square crop, resize to the
 * input, normalised); the network runs up to T's last layer only. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"

struct mc_colorizer {
    mc_net *net;
    int last;                 /* T's last layer */
    int h, w, oh, ow;         /* the input, T's output */
    mc_image img;
    mc_xform *xf;
    float *x, *grey, *y;
    uint8_t *rgb, *ov;
};

void mc_colorizer_free(mc_colorizer *cz) {
    if (!cz) return;
    mc_image_free(&cz->img);
    mc_xform_free(cz->xf);
    free(cz->x);
    free(cz->grey);
    free(cz->y);
    free(cz->rgb);
    free(cz->ov);
    free(cz);
}

int mc_colorizer_new(mc_colorizer **out, mc_net *net) {
    *out = NULL;
    int last = mc_net_group_last_layer(net, "color");
    if (last < 0) return mc_err(MC_EARG, "no layers in group `color` (no colorization module)");
    int c, oc;
    mc_colorizer *cz = mc_calloc(1, sizeof *cz, "colorizer");
    if (!cz) return MC_ENOMEM;
    cz->net = net;
    cz->last = last;
    mc_net_input_shape(net, &c, &cz->h, &cz->w);
    mc_net_layer_shape(net, last, &oc, &cz->oh, &cz->ow);
    int rc = oc == 3 ? MC_OK : mc_err(MC_ESHAPE, "T's output has %d channels, not 3", oc);
    if (rc == MC_OK) rc = mc_xform_new(&cz->xf);
    if (rc == MC_OK) {
        size_t in = (size_t)cz->h * cz->w, o3 = (size_t)3 * cz->oh * cz->ow;
        cz->x = mc_malloc(in * sizeof(float), "input");
        cz->grey = mc_malloc(in * sizeof(float), "input");
        cz->y = mc_malloc(o3 * sizeof(float), "output");
        cz->rgb = mc_malloc(o3, "png");
        cz->ov = mc_malloc(o3, "png");
        if (!cz->x || !cz->grey || !cz->y || !cz->rgb || !cz->ov) rc = MC_ENOMEM;
    }
    if (rc < 0) {
        mc_colorizer_free(cz);
        return rc;
    }
    *out = cz;
    return MC_OK;
}

void mc_colorize_rgb(const float *y, int oh, int ow, uint8_t *rgb) {
    size_t hw = (size_t)oh * ow;
    for (int ch = 0; ch < 3; ch++) {
        float lo = INFINITY, hi = -INFINITY;
        for (size_t k = 0; k < hw; k++) {
            lo = fminf(lo, y[ch * hw + k]);
            hi = fmaxf(hi, y[ch * hw + k]);
        }
        float sc = hi > lo ? 255.0f / (hi - lo) : 0.0f;
        for (size_t k = 0; k < hw; k++) {
            float v = (y[ch * hw + k] - lo) * sc;
            rgb[k * 3 + ch] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5f);
        }
    }
}

int mc_colorize_file(mc_colorizer *cz, const char *image, const char *color_png, const char *overlay_png) {
    int h = cz->h, w = cz->w, oh = cz->oh, ow = cz->ow;
    mc_net_set_train(cz->net, 0);
    mc_norm norm = {MC_NORM_MEAN, MC_NORM_STD};
    mc_aug_opts aug;
    mc_aug_opts_default(&aug);
    mc_aug_params ap;
    MC_TRY(mc_image_load_grey(image, &cz->img));
    mc_aug_draw(&aug, 0, cz->img.w, cz->img.h, 0, &ap);
    MC_TRY(mc_preprocess(cz->xf, &cz->img, &ap, NULL, cz->grey, h, w));
    mc_normalise(cz->grey, cz->x, (size_t)h * w, &norm);
    MC_TRY(mc_net_set_input(cz->net, cz->x));
    MC_TRY(mc_net_forward_to(cz->net, cz->last));
    MC_TRY(mc_net_get_output(cz->net, cz->last, cz->y));
    const float *grey = cz->grey;
    size_t hw = (size_t)oh * ow;
    mc_colorize_rgb(cz->y, oh, ow, cz->rgb);
    for (size_t k = 0; k < hw; k++) {
        /* the grey input resampled to T's output size when they differ */
        size_t gy = (k / ow) * h / oh, gx = (k % ow) * w / ow;
        float g = grey[gy * w + gx] * 255.0f;
        for (int ch = 0; ch < 3; ch++) {
            float m = 0.5f * g + 0.5f * (float)cz->rgb[k * 3 + ch];
            cz->ov[k * 3 + ch] = (uint8_t)(m < 0 ? 0 : m > 255 ? 255 : m + 0.5f);
        }
    }
    if (color_png) MC_TRY(mc_png_write(color_png, cz->rgb, ow, oh, 3));
    if (overlay_png) MC_TRY(mc_png_write(overlay_png, cz->ov, ow, oh, 3));
    return MC_OK;
}
