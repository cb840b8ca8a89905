/* explain.c — Grad-CAM read-outs of a classifier (`medcolor explain`, docs/explain.md; the
 * declarations in include/mc_train.h).
 *
 * Grad-CAM (Selvaraju et al., ICCV 2017) of label c at layer A (C channels of h x w): with y_c
 * the label's logit (the output of the layer before a final [cost], before the sigmoid),
 *     alpha_k = (1 / hw) sum_ij dy_c / dA_k(i, j)          (the gradient's spatial mean)
 *     cam(i, j) = ReLU(sum_k alpha_k A_k(i, j))            (h x w)
 *     heatmap = bilinear(cam, H x W) / max(bilinear(cam, H x W))
 * the resize being F.interpolate(mode='bilinear', align_corners=False) to the network's input
 * size, and a heatmap whose maximum is 0 all zeros. That is what the usual PyTorch
 * implementation with a forward hook on A (its output) and a tensor hook on its gradient computes,
 * in eval mode, on the same input. dy_c/dA comes from the engine's backward (mc_net_layer_grad,
 * seeded with 1 at the label's logit of every image), which runs only the layers after A: no
 * layer logic here. The sums are in double precision in a fixed order (the same bits for every
 * thread count); the resize is PyTorch's float32 arithmetic (mc_resize_bilinear). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "mc_image.h"
#include "mc_imaging.h"
#include "mc_io.h"
#include "mc_train.h"

int mc_explain_logit_layer(const mc_net *net) {
    const int n = mc_net_num_layers(net);
    const char *t = mc_net_layer_type(net, n - 1);
    return n > 1 && t && !strcmp(t, "cost") ? n - 2 : n - 1;
}

static const char *layer_label(const mc_net *net, int i, char *buf, size_t n) {
    const char *nm = mc_net_layer_name(net, i);
    if (nm[0]) return nm;
    snprintf(buf, n, "%d", i);
    return buf;
}

static int check_layer(const mc_net *net, int i) {
    const int logits = mc_explain_logit_layer(net);
    char a[32], b[32];
    if (i < 0 || i >= logits)
        return mc_err(MC_EARG, "layer %s: Grad-CAM needs a layer before the logits (layer %s, index %d)",
                      i >= 0 && i < mc_net_num_layers(net) ? layer_label(net, i, a, sizeof a) : "?",
                      layer_label(net, logits, b, sizeof b), logits);
    int c, h, w;
    mc_net_layer_shape(net, i, &c, &h, &w);
    if ((int64_t)h * w < 2)
        return mc_err(MC_EARG,
                      "layer %s [%s]: its output is %d x %d x %d, not spatial (Grad-CAM weighs a layer's channels "
                      "over its h x w positions: pick a convolutional layer)",
                      layer_label(net, i, a, sizeof a), mc_net_layer_type(net, i), c, h, w);
    return MC_OK;
}

int mc_explain_layer(const mc_net *net, const char *ref, int *layer) {
    if (ref) {
        MC_TRY(mc_features_layer(net, ref, layer));
        return check_layer(net, *layer);
    }
    const int logits = mc_explain_logit_layer(net);
    for (int i = logits - 1; i >= 0; i--) {
        int c, h, w;
        mc_net_layer_shape(net, i, &c, &h, &w);
        if ((int64_t)h * w > 1) {
            *layer = i;
            return MC_OK;
        }
    }
    return mc_err(MC_ENOTFOUND, "no layer before the logits (layer %d) has a spatial output: name one with --layer",
                  logits);
}

int mc_gradcam(mc_net *net, const float *x, int layer, const int *labels, int nlabels, float *logits, float *cam,
               float *heat) {
    MC_TRY(check_layer(net, layer));
    const int L = mc_explain_logit_layer(net), B = mc_net_batch(net);
    int ic, H, W, oc, oh, ow, C, h, w;
    mc_net_input_shape(net, &ic, &H, &W);
    mc_net_layer_shape(net, L, &oc, &oh, &ow);
    mc_net_layer_shape(net, layer, &C, &h, &w);
    const int nout = oc * oh * ow;
    if (nlabels < 1) return mc_err(MC_EARG, "Grad-CAM: no labels");
    for (int j = 0; j < nlabels; j++)
        if (labels[j] < 0 || labels[j] >= nout)
            return mc_err(MC_EARG, "Grad-CAM: label %d: the network has %d outputs", labels[j], nout);
    const size_t hw = (size_t)h * w, HW = (size_t)H * W, per = (size_t)C * hw;
    float *A = mc_alloc_floats((size_t)B * per, "Grad-CAM activations");
    float *G = mc_alloc_floats((size_t)B * per, "Grad-CAM gradients");
    float *dy = mc_alloc_floats((size_t)B * nout, "Grad-CAM output gradient");
    float *lg = logits ? logits : mc_alloc_floats((size_t)B * nout, "logits");
    double *s = mc_malloc(hw * sizeof *s, "Grad-CAM sums");
    mc_xform *xf = NULL;
    int rc = A && G && dy && lg && s ? mc_xform_new(&xf) : MC_ENOMEM;
    mc_net_set_train(net, 0);
    if (rc == MC_OK) rc = mc_net_set_input(net, x);
    if (rc == MC_OK) rc = mc_net_forward_to(net, L);
    if (rc == MC_OK) rc = mc_net_get_output(net, L, lg);
    if (rc == MC_OK) rc = mc_net_get_output(net, layer, A);
    for (int j = 0; j < nlabels && rc == MC_OK; j++) {
        memset(dy, 0, (size_t)B * nout * sizeof *dy);
        for (int b = 0; b < B; b++) dy[(size_t)b * nout + labels[j]] = 1.0f;
        const float *dyp = dy;
        if ((rc = mc_net_layer_grad(net, 1, &L, &dyp, layer, G)) < 0) break;
        for (int b = 0; b < B; b++) {
            const float *a = A + (size_t)b * per, *g = G + (size_t)b * per;
            for (size_t p = 0; p < hw; p++) s[p] = 0;
            for (int k = 0; k < C; k++) {
                double alpha = 0;
                for (size_t p = 0; p < hw; p++) alpha += (double)g[k * hw + p];
                alpha /= (double)hw;
                for (size_t p = 0; p < hw; p++) s[p] += alpha * (double)a[k * hw + p];
            }
            float *cm = cam + ((size_t)b * nlabels + j) * hw, *hm = heat + ((size_t)b * nlabels + j) * HW;
            for (size_t p = 0; p < hw; p++) cm[p] = s[p] > 0 ? (float)s[p] : 0.0f;
            if ((rc = mc_resize_bilinear(cm, w, h, w, hm, W, H, xf)) < 0) break;
            float mx = 0;
            for (size_t p = 0; p < HW; p++) mx = hm[p] > mx ? hm[p] : mx;
            for (size_t p = 0; p < HW; p++) hm[p] = mx > 0 ? hm[p] / mx : 0.0f;
        }
    }
    mc_xform_free(xf);
    free(s);
    if (lg != logits) mc_free_aligned(lg);
    mc_free_aligned(A);
    mc_free_aligned(G);
    mc_free_aligned(dy);
    return rc;
}

/* a label as a part of a file name: letters, digits, '.', '-' and '_' kept, the rest '_' */
static void file_part(const char *label, char *out, size_t n) {
    size_t k = 0;
    for (const char *p = label; *p && k + 1 < n; p++) {
        char ch = *p;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                 ch == '-' || ch == '_';
        out[k++] = ok ? ch : '_';
    }
    out[k] = 0;
}

/* T's view: the colorization module's output when the network has one (a group `color` with
 * parameters and a 3-channel output), else -1 */
static int color_layer(const mc_net *net) {
    int t = mc_net_group_last_layer(net, "color");
    if (t < 0 || mc_net_group_params(net, "color") == 0) return -1;
    int c, h, w;
    mc_net_layer_shape(net, t, &c, &h, &w);
    return c == 3 ? t : -1;
}

typedef struct image_out {
    const char *dir, *name;
    int H, W, h, w, th, tw, nout;
    const float *grey;   /* [H][W] in [0, 1] */
    const float *logits; /* [nout] */
    const float *tout;   /* [3][th][tw] or NULL */
    const float *cam, *heat; /* [nlabels][hw], [nlabels][HW] */
    const mc_explain_opts *o;
    const char *layer_name;
    char (*fparts)[128];
} image_out;

/* the files of one image: <name>_<label>.png per label, <name>.gradcam.safetensors */
static int write_image(const image_out *io, uint8_t *pic, uint8_t *jet, uint8_t *trgb) {
    const mc_explain_opts *o = io->o;
    const int H = io->H, W = io->W, pw = io->tout ? 2 * W : W;
    const size_t HW = (size_t)H * W, hw = (size_t)io->h * io->w;
    const double al = o->alpha;
    char path[4200];
    if (io->tout) mc_colorize_rgb(io->tout, io->th, io->tw, trgb);
    for (int j = 0; j < o->nlabels; j++) {
        mc_colormap_jet(io->heat + (size_t)j * HW, HW, jet);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                size_t k = (size_t)y * W + x;
                double g = (double)io->grey[k] * 255.0;
                uint8_t *px = pic + ((size_t)y * pw + x) * 3;
                for (int ch = 0; ch < 3; ch++) {
                    double v = (1 - al) * g + al * jet[3 * k + ch];
                    px[ch] = (uint8_t)(v <= 0 ? 0 : v >= 255 ? 255 : v + 0.5);
                }
                if (io->tout) { /* T's view beside it, resampled (nearest) when its size differs */
                    size_t ty = (size_t)y * io->th / H, tx = (size_t)x * io->tw / W;
                    memcpy(px + 3 * W, trgb + (ty * io->tw + tx) * 3, 3);
                }
            }
        snprintf(path, sizeof path, "%s/%s_%s.png", io->dir, io->name, io->fparts[j]);
        MC_TRY(mc_png_write(path, pic, pw, H, 3));
    }
    mc_st_writer *wr = mc_st_writer_new();
    if (!wr) return mc_err(MC_ENOMEM, "out of memory");
    const int64_t s_img[2] = {H, W}, s_cam[2] = {io->h, io->w}, s_log[1] = {io->nout},
                  s_t[3] = {3, io->th, io->tw};
    int rc = mc_st_writer_add(wr, "image", 2, s_img, io->grey);
    if (rc == MC_OK) rc = mc_st_writer_add(wr, "logits", 1, s_log, io->logits);
    if (rc == MC_OK && io->tout) rc = mc_st_writer_add(wr, "color", 3, s_t, io->tout);
    for (int j = 0; j < o->nlabels && rc == MC_OK; j++) {
        char tn[600];
        const char *lab = o->label_names[o->labels[j]];
        snprintf(tn, sizeof tn, "%s/cam", lab);
        rc = mc_st_writer_add(wr, tn, 2, s_cam, io->cam + (size_t)j * hw);
        snprintf(tn, sizeof tn, "%s/heatmap", lab);
        if (rc == MC_OK) rc = mc_st_writer_add(wr, tn, 2, s_img, io->heat + (size_t)j * HW);
    }
    if (rc == MC_OK) rc = mc_st_writer_meta(wr, "method", MC_GRADCAM_METHOD);
    if (rc == MC_OK) rc = mc_st_writer_meta(wr, "layer", io->layer_name);
    if (rc == MC_OK) {
        size_t len = 1;
        for (int j = 0; j < o->nlabels; j++) len += strlen(o->label_names[o->labels[j]]) + 1;
        char *list = mc_malloc(len, "label list");
        if (!list) rc = MC_ENOMEM;
        else {
            list[0] = 0;
            for (int j = 0; j < o->nlabels; j++) {
                if (j) strcat(list, ",");
                strcat(list, o->label_names[o->labels[j]]);
            }
            rc = mc_st_writer_meta(wr, "labels", list);
            free(list);
        }
    }
    if (rc == MC_OK) {
        snprintf(path, sizeof path, "%s/%s.gradcam.safetensors", io->dir, io->name);
        rc = mc_st_writer_save(wr, path);
    }
    mc_st_writer_free(wr);
    return rc;
}

int mc_explain(mc_net *net, const char *const *paths, const char *const *names, int n, const char *dir,
               const mc_explain_opts *o, float *prob, float *cam_max) {
    if (n < 1) return mc_err(MC_EARG, "no images");
    if (!o || o->nlabels < 1 || !o->labels || !o->label_names) return mc_err(MC_EARG, "explain: no labels");
    if (!(o->alpha >= 0 && o->alpha <= 1)) return mc_err(MC_EARG, "explain: alpha %g is not in [0, 1]", o->alpha);
    if (mc_features_is_color(net))
        return mc_err(MC_EARG, "an image-to-image network (its output is 2 x H x W): Grad-CAM explains a classifier's "
                               "labels");
    MC_TRY(check_layer(net, o->layer));
    const int L = mc_explain_logit_layer(net);
    int ic, H, W, oc, oh, ow, C, h, w;
    mc_net_input_shape(net, &ic, &H, &W);
    mc_net_layer_shape(net, L, &oc, &oh, &ow);
    mc_net_layer_shape(net, o->layer, &C, &h, &w);
    const int nout = oc * oh * ow, nl = o->nlabels;
    char(*fparts)[128] = mc_calloc((size_t)nl, sizeof *fparts, "label names");
    if (!fparts) return MC_ENOMEM;
    int rc = MC_OK;
    for (int j = 0; j < nl && rc == MC_OK; j++) {
        if (o->labels[j] < 0 || o->labels[j] >= nout) {
            rc = mc_err(MC_EARG, "explain: label %d: the network has %d outputs", o->labels[j], nout);
            break;
        }
        file_part(o->label_names[o->labels[j]], fparts[j], sizeof fparts[j]);
        for (int q = 0; q < j && rc == MC_OK; q++)
            if (!strcmp(fparts[q], fparts[j]))
                rc = mc_err(MC_EARG, "labels '%s' and '%s' give the same file name part '%s'",
                            o->label_names[o->labels[q]], o->label_names[o->labels[j]], fparts[j]);
    }
    for (int i = 0; i < n && rc == MC_OK; i++)
        for (int q = 0; q < i && rc == MC_OK; q++)
            if (!strcmp(names[i], names[q]))
                rc = mc_err(MC_EARG, "%s and %s would write the same files (%s_*)", paths[q], paths[i], names[i]);
    if (rc < 0) {
        free(fparts);
        return rc;
    }
    const int tl = color_layer(net);
    int tc = 0, th = 0, tw = 0;
    if (tl >= 0) mc_net_layer_shape(net, tl, &tc, &th, &tw);
    int batch = mc_net_batch(net);
    if (batch > n) batch = n;
    const size_t HW = (size_t)H * W, hw = (size_t)h * w, per = (size_t)ic * HW, tper = (size_t)3 * th * tw;
    float *x = mc_alloc_floats((size_t)batch * per, "input batch");
    float *lg = mc_alloc_floats((size_t)batch * nout, "logits");
    float *cam = mc_alloc_floats((size_t)batch * nl * hw, "Grad-CAM maps");
    float *heat = mc_alloc_floats((size_t)batch * nl * HW, "heatmaps");
    float *grey = mc_alloc_floats(HW, "grey image");
    float *tout = tl >= 0 ? mc_alloc_floats((size_t)batch * tper, "colorization output") : NULL;
    uint8_t *pic = mc_malloc(HW * 3 * (tl >= 0 ? 2 : 1), "picture");
    uint8_t *jet = mc_malloc(HW * 3, "heatmap colours");
    uint8_t *trgb = tl >= 0 ? mc_malloc(tper, "colorized view") : NULL;
    if (!x || !lg || !cam || !heat || !grey || (tl >= 0 && (!tout || !trgb)) || !pic || !jet) rc = MC_ENOMEM;
    if (rc == MC_OK && batch != mc_net_batch(net)) rc = mc_net_set_batch(net, batch);
    char lbuf[32];
    const char *lname = layer_label(net, o->layer, lbuf, sizeof lbuf);
    for (int b0 = 0; b0 < n && rc == MC_OK; b0 += batch) {
        int nb = n - b0 < batch ? n - b0 : batch;
        if (nb != mc_net_batch(net) && (rc = mc_net_set_batch(net, nb)) < 0) break;
        if ((rc = mc_predict_inputs(net, paths + b0, nb, x)) < 0) break;
        if ((rc = mc_gradcam(net, x, o->layer, o->labels, nl, lg, cam, heat)) < 0) break;
        if (tl >= 0 && (rc = mc_net_get_output(net, tl, tout)) < 0) break;
        for (int i = 0; i < nb && rc == MC_OK; i++) {
            const float *xi = x + (size_t)i * per; /* the first input channel, back to [0, 1] */
            for (size_t p = 0; p < HW; p++) {
                float g = xi[p] * MC_NORM_STD + MC_NORM_MEAN;
                grey[p] = g < 0 ? 0.0f : g > 1 ? 1.0f : g;
            }
            const float *ci = cam + (size_t)i * nl * hw;
            for (int j = 0; j < nl; j++) {
                const float *lgi = lg + (size_t)i * nout;
                if (prob) prob[(size_t)(b0 + i) * nl + j] = 1.0f / (1.0f + expf(-lgi[o->labels[j]]));
                if (cam_max) {
                    float m = 0;
                    for (size_t p = 0; p < hw; p++) m = ci[j * hw + p] > m ? ci[j * hw + p] : m;
                    cam_max[(size_t)(b0 + i) * nl + j] = m;
                }
            }
            image_out io = {.dir = dir, .name = names[b0 + i], .H = H, .W = W, .h = h, .w = w, .th = th, .tw = tw,
                            .nout = nout, .grey = grey, .logits = lg + (size_t)i * nout,
                            .tout = tl >= 0 ? tout + (size_t)i * tper : NULL, .cam = ci,
                            .heat = heat + (size_t)i * nl * HW, .o = o, .layer_name = lname, .fparts = fparts};
            rc = write_image(&io, pic, jet, trgb);
            if (rc < 0) mc_err_context(rc, "%s", paths[b0 + i]);
        }
        if (rc == MC_OK && o->progress) o->progress(b0 + nb, n, o->progress_ctx);
    }
    mc_free_aligned(x);
    mc_free_aligned(lg);
    mc_free_aligned(cam);
    mc_free_aligned(heat);
    mc_free_aligned(grey);
    mc_free_aligned(tout);
    free(pic);
    free(jet);
    free(trgb);
    free(fparts);
    return rc;
}
