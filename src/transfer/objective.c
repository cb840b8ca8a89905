/* objective.c — the colour transfer's objective (spec §2 steps 3-6; docs/transfer.md): k-means
 * masks propagated to the VGG19 taps, the constants of the target and the reference (content
 * features, masked Gram matrices, swapped feature maps), and f + ∇f at an image: content,
 * colour (masked Gram), Y-luminance, local-feature swap and total variation.
 *
 * The heavy parts run on the network's backend: the Gram matrices and their gradients are GEMMs,
 * the swap's correlation a convolution and its paste the convolution's backward-data (a
 * transposed convolution). The element-wise parts (masks, differences, Y, TV) run on host copies
 * of the tap features: they are O(c·h·w) against the O(c²·h·w) GEMMs and the network.
 * The gradient reaches the image through one backward pass from all the taps at once
 * (mc_net_backward_taps) with every parameter frozen (only dL/d(input) is computed).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "medcolor.h"
#include "mc_imaging.h"
#include "mc_transfer.h"
#include "engine/backend.h"

static const char *const tap_names[MC_NTAPS] = {"features.0", "features.5", "features.10",
                                                "features.19", "features.21", "features.28"};
static const int color_tap[MC_NTAPS] = {1, 1, 1, 1, 0, 1};
static const int swap_tap[MC_NTAPS] = {0, 0, 1, 1, 0, 1};
#define CONTENT_TAP MC_TAP_RELU4_2

static const double tv_mean[3] = {0.485, 0.456, 0.406}, tv_std[3] = {0.229, 0.224, 0.225};
static const double caffe_bgr_mean[3] = {103.939, 116.779, 123.68};

const char *mc_tr_tap_layer(int tap) { return tap >= 0 && tap < MC_NTAPS ? tap_names[tap] : NULL; }

void mc_tr_weights_default(mc_tr_weights *w) {
    w->content = 1;
    w->color = 100;
    w->y = 1e5;
    w->swap = 10;
    w->tv = 1e-3;
    w->alpha_y = 0;
}

struct mc_tr_obj {
    mc_net *net;
    mc_backend *be;
    int n, k, vgg_input;
    int layer[MC_NTAPS], c[MC_NTAPS], h[MC_NTAPS], w[MC_NTAPS];
    uint8_t *labels[2];           /* target, reference: n·n */
    float *mask[2][MC_NTAPS];     /* [k][h][w] */
    double *mmean[2][MC_NTAPS];   /* [k] mean of each mask */
    float *content;               /* F^{4_2}(I') */
    float *gram_r[MC_NTAPS];      /* [k][c][c] the reference's */
    float *sw[MC_NTAPS];          /* swapped maps [c][h][w] */
    int *swap_idx[MC_NTAPS];      /* [h][w] */
    double *iy;                   /* Y of I' [n·n] */
    float *xin;                   /* network input [3][n][n] */
    float *feat[MC_NTAPS], *dfeat[MC_NTAPS];
    float *fm_h, *e_h, *g_h;      /* host: F⊙M [c][hw], E [c][c], G [c][c] */
    float *b_fm, *b_e, *b_g, *b_dfm; /* backend */
};

/* ---- masks ----------------------------------------------------------------------------------
 * After every convolution a 3×3 average (stride 1, zero padding 1, divisor 9; the 9 shifts added
 * row-major), after every max pool every s-th value (s its stride, the top-left of each window).
 * Computed in double; the tap takes the mask after its own convolution. */
static void avg3(const double *m, int h, int w, double *out) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double s = 0;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int yy = y + dy, xx = x + dx;
                    s += yy >= 0 && yy < h && xx >= 0 && xx < w ? m[(size_t)yy * w + xx] : 0.0;
                }
            out[(size_t)y * w + x] = s / 9.0;
        }
}

static int propagate_masks(mc_tr_obj *o, int which) {
    int n = o->n, k = o->k, last = o->layer[MC_NTAPS - 1];
    for (int t = 0; t < MC_NTAPS; t++) {
        o->mask[which][t] = malloc((size_t)k * o->h[t] * o->w[t] * sizeof(float));
        o->mmean[which][t] = malloc((size_t)k * sizeof(double));
        if (!o->mask[which][t] || !o->mmean[which][t]) return mc_err(MC_ENOMEM, "transfer: masks");
    }
    double *a = malloc((size_t)n * n * sizeof(double)), *b = malloc((size_t)n * n * sizeof(double));
    if (!a || !b) {
        free(a);
        free(b);
        return mc_err(MC_ENOMEM, "transfer: masks");
    }
    int rc = MC_OK;
    for (int c = 0; c < k && rc == MC_OK; c++) {
        int h = n, w = n;
        for (size_t i = 0; i < (size_t)n * n; i++) a[i] = o->labels[which][i] == c;
        for (int li = 0; li <= last && rc == MC_OK; li++) {
            const char *type = mc_net_layer_type(o->net, li);
            int oc, oh, ow;
            mc_net_layer_shape(o->net, li, &oc, &oh, &ow);
            if (!strcmp(type, "convolutional")) {
                if (oh != h || ow != w) {
                    rc = mc_err(MC_EUNSUP, "transfer: mask propagation: layer %d (%s) changes the size", li,
                                mc_net_layer_name(o->net, li));
                    break;
                }
                avg3(a, h, w, b);
                double *s = a;
                a = b;
                b = s;
            } else if (!strcmp(type, "maxpool")) {
                int sy = h / oh, sx = w / ow;
                for (int y = 0; y < oh; y++)
                    for (int x = 0; x < ow; x++) b[(size_t)y * ow + x] = a[(size_t)y * sy * w + (size_t)x * sx];
                double *s = a;
                a = b;
                b = s;
                h = oh;
                w = ow;
            } else {
                rc = mc_err(MC_EUNSUP, "transfer: mask propagation through a [%s] layer (layer %d) is not defined",
                            type, li);
                break;
            }
            for (int t = 0; t < MC_NTAPS; t++)
                if (o->layer[t] == li) {
                    double s = 0;
                    float *dst = o->mask[which][t] + (size_t)c * h * w;
                    for (size_t i = 0; i < (size_t)h * w; i++) {
                        dst[i] = (float)a[i];
                        s += a[i];
                    }
                    o->mmean[which][t][c] = s / ((double)h * w);
                }
        }
    }
    free(a);
    free(b);
    return rc;
}

/* ---- the network ------------------------------------------------------------------------- */
static void preprocess(const mc_tr_obj *o, const double *x, float *in) {
    size_t np = (size_t)o->n * o->n;
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < np; i++)
            in[c * np + i] = o->vgg_input == MC_VGG_CAFFE
                                 ? (float)(x[(2 - c) * np + i] - caffe_bgr_mean[c])
                                 : (float)((x[c * np + i] / 255.0 - tv_mean[c]) / tv_std[c]);
}

/* forward to layer `last`, the taps' features into o->feat */
static int run_forward(mc_tr_obj *o, const float *in, int last) {
    MC_TRY(mc_net_set_input(o->net, in));
    MC_TRY(mc_net_forward_to(o->net, last));
    for (int t = 0; t < MC_NTAPS; t++)
        if (o->layer[t] <= last) MC_TRY(mc_net_get_output(o->net, o->layer[t], o->feat[t]));
    return MC_OK;
}

/* G = alpha·(F⊙M)(F⊙M)ᵀ on the backend; fm_h receives F⊙M (host), g_h the Gram matrix */
static int masked_gram(mc_tr_obj *o, int t, const float *f, const float *m, double mmean, float *g) {
    int C = o->c[t];
    size_t hw = (size_t)o->h[t] * o->w[t];
    for (int c = 0; c < C; c++)
        for (size_t i = 0; i < hw; i++) o->fm_h[(size_t)c * hw + i] = f[(size_t)c * hw + i] * m[i];
    double alpha = mmean > 0 ? 1.0 / ((double)C * (double)hw * mmean) : 1.0;
    mc_backend *be = o->be;
    MC_TRY(be->upload(be, o->b_fm, o->fm_h, (size_t)C * hw));
    MC_TRY(be->gemm(be, 0, 1, C, C, (int)hw, (float)alpha, o->b_fm, (int)hw, o->b_fm, (int)hw, 0.0f, o->b_g, C));
    return be->download(be, g, o->b_g, (size_t)C * C);
}

/* ---- the swap (§2 step 6) ------------------------------------------------------------------
 * The reference's features cut into non-overlapping 3×3×C patches (stride 3, row-major, the
 * remainder dropped), each L2-normalised (norm at least 1e-6, TF's l2_normalize epsilon 1e-12 on
 * the square); the target's features correlated with them (a convolution, stride 1, zero
 * padding 1); per position the best patch (the first on ties); the unnormalised patches pasted
 * centred there (the convolution's backward-data with a one-hot map), divided by 9. */
static int make_swap(mc_tr_obj *o, int t, const float *fr, const float *ft) {
    int C = o->c[t], H = o->h[t], W = o->w[t], ph = H / 3, pw = W / 3, P = ph * pw;
    if (P < 1)
        return mc_err(MC_ESHAPE, "transfer: tap %s is %dx%d, too small for one 3x3 patch (use a larger --size)",
                      tap_names[t], H, W);
    size_t hw = (size_t)H * W, psz = (size_t)C * 9;
    mc_backend *be = o->be;
    mc_conv_desc d = {.n = 1, .c = C, .h = H, .w = W, .k = P, .oh = H, .ow = W, .kh = 3, .kw = 3,
                      .sh = 1, .sw = 1, .ph = 1, .pw = 1, .groups = 1};
    float *pat = malloc((size_t)P * psz * sizeof(float)), *pn = malloc((size_t)P * psz * sizeof(float));
    float *corr = malloc((size_t)P * hw * sizeof(float));
    size_t wsn = be->conv_workspace(be, &d);
    float *b_x = be->alloc(be, (size_t)C * hw, "swap features"), *b_w = be->alloc(be, (size_t)P * psz, "swap patches");
    float *b_y = be->alloc(be, (size_t)P * hw, "swap correlation"), *b_ws = be->alloc(be, wsn ? wsn : 1, "swap workspace");
    o->sw[t] = malloc((size_t)C * hw * sizeof(float));
    o->swap_idx[t] = malloc(hw * sizeof(int));
    int rc = MC_OK;
    if (!pat || !pn || !corr || !b_x || !b_w || !b_y || !b_ws || !o->sw[t] || !o->swap_idx[t]) {
        rc = mc_err(MC_ENOMEM, "transfer: swap at %s", tap_names[t]);
        goto done;
    }
    for (int p = 0; p < P; p++) {
        int py = p / pw, px = p % pw;
        double ss = 0;
        float *dst = pat + (size_t)p * psz;
        for (int c = 0; c < C; c++)
            for (int dy = 0; dy < 3; dy++)
                for (int dx = 0; dx < 3; dx++) {
                    float v = fr[(size_t)c * hw + (size_t)(3 * py + dy) * W + 3 * px + dx];
                    dst[c * 9 + dy * 3 + dx] = v;
                    ss += (double)v * (double)v;
                }
        double inv = 1.0 / sqrt(ss > 1e-12 ? ss : 1e-12);
        for (size_t i = 0; i < psz; i++) pn[(size_t)p * psz + i] = (float)((double)dst[i] * inv);
    }
    if ((rc = be->upload(be, b_x, ft, (size_t)C * hw)) < 0 || (rc = be->upload(be, b_w, pn, (size_t)P * psz)) < 0 ||
        (rc = be->conv_fwd(be, &d, b_x, b_w, 0.0f, b_y, b_ws)) < 0 || (rc = be->download(be, corr, b_y, (size_t)P * hw)) < 0)
        goto done;
    for (size_t i = 0; i < hw; i++) {
        int best = 0;
        for (int p = 1; p < P; p++)
            if (corr[(size_t)p * hw + i] > corr[(size_t)best * hw + i]) best = p;
        o->swap_idx[t][i] = best;
    }
    memset(corr, 0, (size_t)P * hw * sizeof(float));
    for (size_t i = 0; i < hw; i++) corr[(size_t)o->swap_idx[t][i] * hw + i] = 1.0f;
    if ((rc = be->upload(be, b_y, corr, (size_t)P * hw)) < 0 || (rc = be->upload(be, b_w, pat, (size_t)P * psz)) < 0 ||
        (rc = be->conv_bwd_data(be, &d, b_y, b_w, 0.0f, b_x, b_ws)) < 0 ||
        (rc = be->download(be, o->sw[t], b_x, (size_t)C * hw)) < 0)
        goto done;
    for (size_t i = 0; i < (size_t)C * hw; i++) o->sw[t][i] /= 9.0f;
done:
    free(pat);
    free(pn);
    free(corr);
    be->free(be, b_x);
    be->free(be, b_w);
    be->free(be, b_y);
    be->free(be, b_ws);
    return rc;
}

/* ---- setup ------------------------------------------------------------------------------- */
void mc_tr_obj_free(mc_tr_obj *o) {
    if (!o) return;
    for (int r = 0; r < 2; r++) {
        free(o->labels[r]);
        for (int t = 0; t < MC_NTAPS; t++) {
            free(o->mask[r][t]);
            free(o->mmean[r][t]);
        }
    }
    for (int t = 0; t < MC_NTAPS; t++) {
        free(o->gram_r[t]);
        free(o->sw[t]);
        free(o->swap_idx[t]);
        free(o->feat[t]);
        free(o->dfeat[t]);
    }
    free(o->content);
    free(o->iy);
    free(o->xin);
    free(o->fm_h);
    free(o->e_h);
    free(o->g_h);
    if (o->be) {
        o->be->free(o->be, o->b_fm);
        o->be->free(o->be, o->b_e);
        o->be->free(o->be, o->b_g);
        o->be->free(o->be, o->b_dfm);
    }
    free(o);
}

static int find_layer(mc_net *net, const char *name) {
    for (int i = 0; i < mc_net_num_layers(net); i++)
        if (!strcmp(mc_net_layer_name(net, i), name)) return i;
    return MC_ENOTFOUND;
}

static int bytes_to_x(const uint8_t *rgb, int n, double *x) {
    size_t np = (size_t)n * n;
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < np; i++) x[c * np + i] = rgb[i * 3 + c];
    return MC_OK;
}

int mc_tr_obj_new(mc_tr_obj **out, mc_net *net, const uint8_t *target, const uint8_t *ref, int n,
                  const mc_tr_setup *setup) {
    *out = NULL;
    mc_tr_setup s = {.kmeans = 4, .vgg_input = MC_VGG_TORCHVISION};
    if (setup) s = *setup;
    if (s.kmeans < 1 || s.kmeans > 255) return mc_err(MC_EARG, "transfer: k-means clusters %d (1..255)", s.kmeans);
    if (s.vgg_input != MC_VGG_TORCHVISION && s.vgg_input != MC_VGG_CAFFE)
        return mc_err(MC_EARG, "transfer: unknown VGG input convention %d", s.vgg_input);
    int ic, ih, iw;
    mc_net_input_shape(net, &ic, &ih, &iw);
    if (ic != 3 || ih != n || iw != n)
        return mc_err(MC_ESHAPE, "transfer: the network takes %dx%dx%d, the images are 3x%dx%d", ic, ih, iw, n, n);
    if (mc_net_batch(net) != 1) return mc_err(MC_ESHAPE, "transfer: the network's batch is %d, not 1", mc_net_batch(net));
    mc_tr_obj *o = calloc(1, sizeof *o);
    if (!o) return mc_err(MC_ENOMEM, "transfer");
    o->net = net;
    o->be = mc_net_backend(net);
    o->n = n;
    o->k = s.kmeans;
    o->vgg_input = s.vgg_input;
    int rc = MC_OK;
    size_t maxchw = 0, maxcc = 0;
    for (int t = 0; t < MC_NTAPS && rc == MC_OK; t++) {
        o->layer[t] = find_layer(net, tap_names[t]);
        if (o->layer[t] < 0) {
            rc = mc_err(MC_ENOTFOUND, "transfer: the network has no layer %s (the VGG19 taps: cfg/vgg19.cfg)", tap_names[t]);
            break;
        }
        if (strcmp(mc_net_layer_type(net, o->layer[t]), "convolutional") != 0) {
            rc = mc_err(MC_EARG, "transfer: layer %s is a [%s], not a [convolutional] with its ReLU", tap_names[t],
                        mc_net_layer_type(net, o->layer[t]));
            break;
        }
        if (t > 0 && o->layer[t] <= o->layer[t - 1]) {
            rc = mc_err(MC_EARG, "transfer: tap %s comes before %s", tap_names[t], tap_names[t - 1]);
            break;
        }
        mc_net_layer_shape(net, o->layer[t], &o->c[t], &o->h[t], &o->w[t]);
        size_t chw = (size_t)o->c[t] * o->h[t] * o->w[t];
        if (chw > maxchw) maxchw = chw;
        if ((size_t)o->c[t] * o->c[t] > maxcc) maxcc = (size_t)o->c[t] * o->c[t];
        o->feat[t] = malloc(chw * sizeof(float));
        o->dfeat[t] = malloc(chw * sizeof(float));
        if (!o->feat[t] || !o->dfeat[t]) rc = mc_err(MC_ENOMEM, "transfer: features");
    }
    size_t np = (size_t)n * n;
    if (rc == MC_OK) {
        o->labels[0] = malloc(np);
        o->labels[1] = malloc(np);
        o->iy = malloc(np * sizeof(double));
        o->xin = malloc(3 * np * sizeof(float));
        o->fm_h = malloc(maxchw * sizeof(float));
        o->e_h = malloc(maxcc * sizeof(float));
        o->g_h = malloc(maxcc * sizeof(float));
        o->b_fm = o->be->alloc(o->be, maxchw, "transfer F*M");
        o->b_dfm = o->be->alloc(o->be, maxchw, "transfer dF*M");
        o->b_e = o->be->alloc(o->be, maxcc, "transfer Gram gradient");
        o->b_g = o->be->alloc(o->be, maxcc, "transfer Gram");
        if (!o->labels[0] || !o->labels[1] || !o->iy || !o->xin || !o->fm_h || !o->e_h || !o->g_h || !o->b_fm ||
            !o->b_dfm || !o->b_e || !o->b_g)
            rc = mc_err(MC_ENOMEM, "transfer: buffers");
    }
    /* segmentation (§2 step 3) and masks */
    uint8_t *grey = rc == MC_OK ? malloc(np) : NULL;
    if (rc == MC_OK && !grey) rc = mc_err(MC_ENOMEM, "transfer");
    for (int r = 0; r < 2 && rc == MC_OK; r++) {
        mc_luma_pil(r ? ref : target, np, grey);
        rc = mc_kmeans_grey(grey, np, o->k, 0, o->labels[r], NULL, NULL);
        if (rc == MC_OK) rc = propagate_masks(o, r);
    }
    free(grey);
    for (size_t i = 0; rc == MC_OK && i < np; i++)
        o->iy[i] = 0.299 * target[i * 3] + 0.587 * target[i * 3 + 1] + 0.114 * target[i * 3 + 2];
    /* the network: fixed, input gradient only */
    if (rc == MC_OK) {
        mc_net_set_train(net, 0);
        rc = mc_net_freeze(net, NULL, 1);
        mc_net_want_input_grad(net, 1);
    }
    /* the constants: the reference's Gram matrices, the content target, the swapped maps */
    double *x = rc == MC_OK ? malloc(3 * np * sizeof(double)) : NULL;
    float *ft[MC_NTAPS] = {0};
    if (rc == MC_OK && !x) rc = mc_err(MC_ENOMEM, "transfer");
    int last = o->layer[MC_NTAPS - 1];
    if (rc == MC_OK) {
        bytes_to_x(ref, n, x);
        preprocess(o, x, o->xin);
        rc = run_forward(o, o->xin, last);
    }
    for (int t = 0; t < MC_NTAPS && rc == MC_OK; t++) {
        size_t cc = (size_t)o->c[t] * o->c[t];
        if (color_tap[t]) {
            o->gram_r[t] = malloc((size_t)o->k * cc * sizeof(float));
            if (!o->gram_r[t]) rc = mc_err(MC_ENOMEM, "transfer");
            size_t hw = (size_t)o->h[t] * o->w[t];
            for (int c = 0; c < o->k && rc == MC_OK; c++)
                rc = masked_gram(o, t, o->feat[t], o->mask[1][t] + (size_t)c * hw, o->mmean[1][t][c], o->gram_r[t] + c * cc);
        }
        if (swap_tap[t] && rc == MC_OK) {
            size_t chw = (size_t)o->c[t] * o->h[t] * o->w[t];
            ft[t] = malloc(chw * sizeof(float)); /* the reference's, until the target's are known */
            if (!ft[t]) rc = mc_err(MC_ENOMEM, "transfer");
            else memcpy(ft[t], o->feat[t], chw * sizeof(float));
        }
    }
    if (rc == MC_OK) {
        bytes_to_x(target, n, x);
        preprocess(o, x, o->xin);
        rc = run_forward(o, o->xin, last);
    }
    if (rc == MC_OK) {
        size_t chw = (size_t)o->c[CONTENT_TAP] * o->h[CONTENT_TAP] * o->w[CONTENT_TAP];
        o->content = malloc(chw * sizeof(float));
        if (!o->content) rc = mc_err(MC_ENOMEM, "transfer");
        else memcpy(o->content, o->feat[CONTENT_TAP], chw * sizeof(float));
    }
    for (int t = 0; t < MC_NTAPS && rc == MC_OK; t++)
        if (swap_tap[t]) rc = make_swap(o, t, ft[t], o->feat[t]);
    for (int t = 0; t < MC_NTAPS; t++) free(ft[t]);
    free(x);
    if (rc < 0) {
        mc_tr_obj_free(o);
        return rc;
    }
    *out = o;
    return MC_OK;
}

/* ---- f and ∇f ------------------------------------------------------------------------------ */
static int check_weights(const mc_tr_weights *w) {
    const double v[6] = {w->content, w->color, w->y, w->swap, w->tv, w->alpha_y};
    const char *names[6] = {"content", "color", "y", "swap", "tv", "alpha_y"};
    for (int i = 0; i < 6; i++)
        if (!isfinite(v[i]) || v[i] < 0) return mc_err(MC_EARG, "transfer: %s weight %g (finite, >= 0)", names[i], v[i]);
    if (w->alpha_y > 1) return mc_err(MC_EARG, "transfer: alpha_y %g (0..1)", w->alpha_y);
    return MC_OK;
}

int mc_tr_obj_eval(mc_tr_obj *o, const mc_tr_weights *w, const double *x, double *f, double *grad,
                   mc_tr_terms *terms) {
    MC_TRY(check_weights(w));
    mc_tr_terms tm = {0};
    int n = o->n;
    size_t np = (size_t)n * n;
    int use[MC_NTAPS] = {0}, last = -1;
    for (int t = 0; t < MC_NTAPS; t++) {
        use[t] = (t == CONTENT_TAP && w->content > 0) || (color_tap[t] && w->color > 0) || (swap_tap[t] && w->swap > 0);
        if (use[t]) last = o->layer[t];
    }
    if (terms) /* every term is reported: the network runs to the last tap */
        for (int t = 0; t < MC_NTAPS; t++) {
            if (!use[t] && (t == CONTENT_TAP || color_tap[t] || swap_tap[t])) use[t] = 2; /* value only */
            if (o->layer[t] > last) last = o->layer[t];
        }
    if (last >= 0) {
        preprocess(o, x, o->xin);
        MC_TRY(run_forward(o, o->xin, last));
    }
    mc_backend *be = o->be;
    for (int t = 0; t < MC_NTAPS; t++) {
        if (!use[t]) continue;
        int C = o->c[t];
        size_t hw = (size_t)o->h[t] * o->w[t], chw = (size_t)C * hw;
        const float *F = o->feat[t];
        float *dF = o->dfeat[t];
        memset(dF, 0, chw * sizeof(float));
        if (t == CONTENT_TAP) { /* ½·mean((F − F_c)²) */
            double s = 0, g = w->content / (double)chw;
            for (size_t i = 0; i < chw; i++) {
                double d = (double)F[i] - (double)o->content[i];
                s += d * d;
                dF[i] += (float)(g * d);
            }
            tm.content = 0.5 * s / (double)chw;
        }
        if (color_tap[t] && (w->color > 0 || terms)) { /* Σ_c ½·mean((G_c(O) − G_c(S'))²)·mean(M_c^I) */
            double lt = 0;
            size_t cc = (size_t)C * C;
            for (int c = 0; c < o->k; c++) {
                const float *m = o->mask[0][t] + (size_t)c * hw;
                double mm = o->mmean[0][t][c];
                MC_TRY(masked_gram(o, t, F, m, mm, o->g_h));
                const float *gr = o->gram_r[t] + c * cc;
                double s = 0;
                for (size_t i = 0; i < cc; i++) {
                    double d = (double)o->g_h[i] - (double)gr[i];
                    s += d * d;
                }
                lt += 0.5 * s / (double)cc * mm;
                if (use[t] != 1 || mm == 0 || w->color == 0) continue;
                /* dL/dG = D·mm/C²; dL/d(F⊙M) = alpha·(dG + dGᵀ)·(F⊙M); dF = that ⊙ M */
                for (int i = 0; i < C; i++)
                    for (int j = 0; j < C; j++)
                        o->e_h[(size_t)i * C + j] = (float)(((double)o->g_h[(size_t)i * C + j] - (double)gr[(size_t)i * C + j]) +
                                                            ((double)o->g_h[(size_t)j * C + i] - (double)gr[(size_t)j * C + i]));
                double alpha = mm > 0 ? 1.0 / ((double)C * (double)hw * mm) : 1.0;
                double scale = w->color * alpha * mm / (double)cc;
                MC_TRY(be->upload(be, o->b_e, o->e_h, cc));
                MC_TRY(be->gemm(be, 0, 0, C, (int)hw, C, (float)scale, o->b_e, C, o->b_fm, (int)hw, 0.0f, o->b_dfm, (int)hw));
                MC_TRY(be->download(be, o->fm_h, o->b_dfm, chw));
                for (int ch = 0; ch < C; ch++)
                    for (size_t i = 0; i < hw; i++) dF[(size_t)ch * hw + i] += o->fm_h[(size_t)ch * hw + i] * m[i];
            }
            tm.color += lt;
        }
        if (swap_tap[t]) { /* mean((F − SW)²) */
            double s = 0, g = 2.0 * w->swap / (double)chw;
            for (size_t i = 0; i < chw; i++) {
                double d = (double)F[i] - (double)o->sw[t][i];
                s += d * d;
                dF[i] += (float)(g * d);
            }
            tm.swap += s / (double)chw;
        }
    }
    if (grad) memset(grad, 0, 3 * np * sizeof(double));
    /* Y (§2 step 6, eq. 7 with its true gradient) and TV, on the image in double */
    {
        double sa = 0, s2 = 0, a = w->alpha_y, inv2d = 1.0 / (2.0 * (double)np);
        for (size_t i = 0; i < np; i++) {
            double oy = 0.299 * x[i] + 0.587 * x[np + i] + 0.114 * x[2 * np + i];
            double d = o->iy[i] - oy;
            sa += fabs(d);
            s2 += d * d;
            if (grad && w->y > 0) {
                double sg = d > 0 ? 1.0 : d < 0 ? -1.0 : 0.0;
                double gy = -w->y * inv2d * (a * sg + (1 - a) * 2 * d);
                grad[i] += 0.299 * gy;
                grad[np + i] += 0.587 * gy;
                grad[2 * np + i] += 0.114 * gy;
            }
        }
        tm.y = (a * sa + (1 - a) * s2) * inv2d;
        double tv = 0;
        for (int c = 0; c < 3; c++) {
            const double *p = x + c * np;
            double *g = grad ? grad + c * np : NULL;
            for (int y = 0; y + 1 < n; y++)
                for (int xx = 0; xx + 1 < n; xx++) {
                    size_t i = (size_t)y * n + xx;
                    double dx = p[i] - p[i + 1], dy = p[i] - p[i + n];
                    tv += dx * dx + dy * dy;
                    if (g && w->tv > 0) {
                        g[i] += w->tv * (dx + dy);
                        g[i + 1] -= w->tv * dx;
                        g[i + n] -= w->tv * dy;
                    }
                }
        }
        tm.tv = 0.5 * tv;
    }
    tm.total = w->content * tm.content + w->color * tm.color + w->y * tm.y + w->swap * tm.swap + w->tv * tm.tv;
    if (grad) {
        int layers[MC_NTAPS], nt = 0;
        const float *dys[MC_NTAPS];
        for (int t = 0; t < MC_NTAPS; t++)
            if (use[t] == 1) {
                layers[nt] = o->layer[t];
                dys[nt++] = o->dfeat[t];
            }
        if (nt) {
            MC_TRY(mc_net_backward_taps(o->net, nt, layers, dys));
            MC_TRY(mc_net_get_input_grad(o->net, o->xin));
            for (int c = 0; c < 3; c++)
                for (size_t i = 0; i < np; i++) {
                    if (o->vgg_input == MC_VGG_CAFFE)
                        grad[(2 - c) * np + i] += (double)o->xin[c * np + i];
                    else
                        grad[c * np + i] += (double)o->xin[c * np + i] / (255.0 * tv_std[c]);
                }
        }
    }
    if (!isfinite(tm.total)) return mc_err(MC_ENUM, "transfer: the objective is not finite");
    *f = tm.total;
    if (terms) *terms = tm;
    return MC_OK;
}

/* ---- inspection -------------------------------------------------------------------------- */
int mc_tr_obj_tap_shape(const mc_tr_obj *o, int t, int *c, int *h, int *w) {
    if (t < 0 || t >= MC_NTAPS) return mc_err(MC_EARG, "transfer: no tap %d", t);
    *c = o->c[t];
    *h = o->h[t];
    *w = o->w[t];
    return MC_OK;
}
const uint8_t *mc_tr_obj_labels(const mc_tr_obj *o, int ref) { return o->labels[ref ? 1 : 0]; }
const float *mc_tr_obj_masks(const mc_tr_obj *o, int ref, int t) {
    return t >= 0 && t < MC_NTAPS ? o->mask[ref ? 1 : 0][t] : NULL;
}
int mc_tr_obj_swap(const mc_tr_obj *o, int t, const float **sw, const int **idx) {
    if (t < 0 || t >= MC_NTAPS || !swap_tap[t]) return mc_err(MC_EARG, "transfer: tap %d has no swap", t);
    *sw = o->sw[t];
    *idx = o->swap_idx[t];
    return MC_OK;
}
