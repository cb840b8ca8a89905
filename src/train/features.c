/* features.c — the raw outputs of chosen layers for image files (`medcolor features`,
 * docs/features.md; the declarations and the preprocessing in include/mc_train.h).
 *
 * A classifier's images go through mc_predict_inputs (predict's preprocessing). An
 * image-to-image network's (the colorization networks) through the CIELAB lightness at the
 * input size: grey files decode at their full precision (mc_image_load_grey: 16-bit X-rays keep
 * their 65536 levels), colour files as 8-bit RGB / 255 (mc_image_load_rgb8); an 8-bit RGB
 * decode whose three channels agree everywhere is a grey image, and the grey decode is used. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "dist/dist.h"
#include "mc_imaging.h"
#include "mc_train.h"

int mc_features_layer(const mc_net *net, const char *ref, int *layer) {
    const int n = mc_net_num_layers(net);
    if (!ref) {
        const char *t = mc_net_layer_type(net, n - 1);
        *layer = n > 1 && t && !strcmp(t, "cost") ? n - 2 : n - 1;
        return MC_OK;
    }
    for (int i = 0; i < n; i++)
        if (!strcmp(mc_net_layer_name(net, i), ref)) {
            *layer = i;
            return MC_OK;
        }
    char *end;
    long v = strtol(ref, &end, 10);
    if (*ref && !*end) {
        if (v < 0) v += n;
        if (v >= 0 && v < n) {
            *layer = (int)v;
            return MC_OK;
        }
        return mc_err(MC_EARG, "layer %s: the network has layers 0..%d (or -1..-%d from the end)", ref, n - 1, n);
    }
    return mc_err(MC_ENOTFOUND, "no layer is named '%s' (medcolor info lists the names)", ref);
}

int mc_features_is_color(const mc_net *net) {
    int c, h, w, oc, oh, ow;
    mc_net_input_shape(net, &c, &h, &w);
    mc_net_layer_shape(net, mc_net_num_layers(net) - 1, &oc, &oh, &ow);
    return oc == 2 && oh == h && ow == w && h > 1;
}

/* The network's input for image-to-image networks: the lightness L of each image at the input
 * size, through the colorization trainer's own pipeline (mc_lab_load: float RGB decoding, so 16-bit
 * grey keeps its precision, PyTorch's bilinear resize, the spec's Lab), L * scale + shift in every
 * input channel. */
static int color_inputs(mc_net *net, const char *const *paths, int nb, double scale, double shift, float *x) {
    int c, h, w;
    mc_net_input_shape(net, &c, &h, &w);
    const size_t plane = (size_t)h * w;
    for (int k = 0; k < nb; k++) {
        float *dst = x + (size_t)k * c * plane, *lab = NULL;
        int ow, oh;
        MC_TRY(mc_lab_load(paths[k], w, h, &lab, &ow, &oh));
        for (size_t i = 0; i < plane; i++) dst[i] = (float)((double)lab[i] * scale + shift);
        free(lab);
        for (int ch = 1; ch < c; ch++) memcpy(dst + (size_t)ch * plane, dst, plane * sizeof *dst);
    }
    return MC_OK;
}

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* image path's output of a layer named lname as the tensor "<file name>/<lname>" */
static int add_tensor(mc_st_writer *wr, const char *path, const char *lname, const int64_t *shape, const float *v) {
    char tn[1200];
    snprintf(tn, sizeof tn, "%s/%s", base_name(path), lname);
    return mc_st_writer_add(wr, tn, 3, shape, v);
}

int mc_features(mc_net *net, const char *const *paths, int n, const int *layers, int nlayers, const char *out,
                const mc_features_opts *o) {
    if (n < 1) return mc_err(MC_EARG, "no images");
    if (nlayers < 1) return mc_err(MC_EARG, "no layers");
    const int nl = mc_net_num_layers(net);
    int last = 0;
    char (*lname)[64] = calloc((size_t)nlayers, sizeof *lname);
    if (!lname) return mc_err(MC_ENOMEM, "out of memory");
    for (int k = 0; k < nlayers; k++) {
        if (layers[k] < 0 || layers[k] >= nl) {
            free(lname);
            return mc_err(MC_EARG, "layer %d: the network has layers 0..%d", layers[k], nl - 1);
        }
        const char *nm = mc_net_layer_name(net, layers[k]);
        if (nm[0]) snprintf(lname[k], sizeof lname[k], "%s", nm);
        else snprintf(lname[k], sizeof lname[k], "%d", layers[k]);
        for (int j = 0; j < k; j++)
            if (layers[j] == layers[k]) {
                free(lname);
                return mc_err(MC_EARG, "layer %s is asked for twice", lname[k]);
            }
        if (layers[k] > last) last = layers[k];
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(base_name(paths[i]), base_name(paths[j]))) {
                free(lname);
                return mc_err(MC_EARG, "%s and %s have the same file name: their tensors would have the same name",
                              paths[j], paths[i]);
            }
    const int color = mc_features_is_color(net);
    int c, h, w;
    mc_net_input_shape(net, &c, &h, &w);
    double scale = o ? o->l_scale : (double)NAN, shift = o ? o->l_shift : (double)NAN;
    /* the scaling given, else the one the network records ([net] l_scale/l_shift), else the
     * default of its input channels */
    if (color) {
        int rc = mc_color_input_scaling(net, &scale, &shift);
        if (rc < 0) {
            free(lname);
            return rc;
        }
    }
    /* over the ranks of o->dist: this process's contiguous part [i0, i1) of the images, every
     * layer's outputs of all images summed to every rank (zeros but one's own), rank 0 writes */
    mc_dist *dist = o ? o->dist : NULL;
    const int nr = mc_dist_size(dist), rk = mc_dist_rank(dist);
    int i0, i1;
    mc_dist_part(dist, n, &i0, &i1);
    int batch = mc_net_batch(net);
    if (batch > i1 - i0) batch = i1 - i0 > 0 ? i1 - i0 : 1;
    const size_t per = (size_t)c * h * w;
    /* each layer's output shape, size per image and (several ranks) its block [n][size] in all */
    int64_t (*shape)[3] = mc_calloc((size_t)nlayers, sizeof *shape, "layer shapes");
    size_t *size = mc_calloc((size_t)nlayers, sizeof *size, "layer shapes"),
           *off = mc_calloc((size_t)nlayers, sizeof *off, "layer shapes");
    size_t maxout = 0, total = 0;
    for (int k = 0; k < nlayers && shape && size && off; k++) {
        int lc, lh, lw;
        mc_net_layer_shape(net, layers[k], &lc, &lh, &lw);
        shape[k][0] = lc, shape[k][1] = lh, shape[k][2] = lw;
        size[k] = (size_t)lc * lh * lw;
        if (size[k] > maxout) maxout = size[k];
        off[k] = total;
        total += (size_t)n * size[k];
    }
    float *x = mc_alloc_floats((size_t)batch * per, "input batch");
    float *y = mc_alloc_floats((size_t)batch * (maxout ? maxout : 1), "layer outputs");
    float *all = nr > 1 ? mc_calloc(total ? total : 1, sizeof(float), "features of all images") : NULL;
    mc_st_writer *wr = mc_st_writer_new();
    int rc = shape && size && off && x && y && wr && (nr == 1 || all) ? MC_OK : MC_ENOMEM;
    if (rc == MC_OK && batch != mc_net_batch(net)) rc = mc_net_set_batch(net, batch);
    mc_net_set_train(net, 0);
    for (int b0 = i0; b0 < i1 && rc == MC_OK; b0 += batch) {
        int nb = i1 - b0 < batch ? i1 - b0 : batch;
        if (nb != mc_net_batch(net) && (rc = mc_net_set_batch(net, nb)) < 0) break;
        rc = color ? color_inputs(net, paths + b0, nb, scale, shift, x) : mc_predict_inputs(net, paths + b0, nb, x);
        if (rc < 0 || (rc = mc_net_set_input(net, x)) < 0 || (rc = mc_net_forward_to(net, last)) < 0) break;
        for (int k = 0; k < nlayers && rc == MC_OK; k++) {
            if ((rc = mc_net_get_output(net, layers[k], y)) < 0) break;
            if (all) /* gathered below */
                memcpy(all + off[k] + (size_t)b0 * size[k], y, (size_t)nb * size[k] * sizeof(float));
            for (int i = 0; i < nb && rc == MC_OK && !all; i++)
                rc = add_tensor(wr, paths[b0 + i], lname[k], shape[k], y + (size_t)i * size[k]);
        }
        if (rc == MC_OK && o && o->progress) o->progress(b0 + nb - i0, i1 - i0, o->progress_ctx);
    }
    if (all) { /* the others' parts: a collective call, then rank 0 alone writes */
        if (rc == MC_OK) rc = mc_dist_sum_f(dist, all, total);
        for (int k = 0; k < nlayers && rc == MC_OK && rk == 0; k++)
            for (int i = 0; i < n && rc == MC_OK; i++)
                rc = add_tensor(wr, paths[i], lname[k], shape[k], all + off[k] + (size_t)i * size[k]);
        free(all);
    }
    if (rc == MC_OK && rk == 0) {
        size_t len = 0;
        for (int k = 0; k < nlayers; k++) len += strlen(lname[k]) + 1;
        char *list = malloc(len + 1);
        if (!list) {
            rc = mc_err(MC_ENOMEM, "out of memory");
        } else {
            list[0] = 0;
            for (int k = 0; k < nlayers; k++) {
                if (k) strcat(list, ",");
                strcat(list, lname[k]);
            }
            rc = mc_st_writer_meta(wr, "layers", list);
            free(list);
        }
        if (rc == MC_OK) rc = mc_st_writer_meta(wr, "preprocessing", color ? "lab-L" : "grey");
        if (rc == MC_OK && color) {
            char v[64];
            snprintf(v, sizeof v, "%.17g", scale);
            rc = mc_st_writer_meta(wr, "l_scale", v);
            snprintf(v, sizeof v, "%.17g", shift);
            if (rc == MC_OK) rc = mc_st_writer_meta(wr, "l_shift", v);
        }
        if (rc == MC_OK) rc = mc_st_writer_save(wr, out);
    }
    mc_st_writer_free(wr);
    free(shape);
    free(size);
    free(off);
    mc_free_aligned(x);
    mc_free_aligned(y);
    free(lname);
    return rc;
}
