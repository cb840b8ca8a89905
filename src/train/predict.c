/* predict.c — the network in eval mode on image files, and the CSV of its probabilities
 * (`medcolor predict`, docs/import.md).
 *
 * Each image is decoded to grey in [0, 1] (8/16-bit PNG, JPEG; colour -> ITU-R 601 luma), centre
 * square crop, bilinear resize to the network's input size (F.interpolate, align_corners=False;
 * an image already at that size is used as it is), normalised (x - 0.5028) / 0.2902 — the
 * evaluation path of the training loader (mc_preprocess with the centre crop). A network whose
 * input has 3 channels gets the grey channel three times. (For a non-square input, an image of
 * exactly that size is used as it is too, without the square crop.) Images are decoded in
 * parallel; the network runs on batches of at most its batch size. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "core/core.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Decodes and preprocesses images paths[0..nb) into x [nb][c][h][w], in parallel. Per-thread
 * scratch: img[t], ws[t] (t < nthr). On error: the first failing image's message. */
static int load_batch(const char *const *paths, int nb, float *x, int c, int h, int w, mc_image *img, mc_xform **ws,
                      int nthr, double *decode_s) {
    int bad = -1;
    char msg[600] = "";
    const mc_norm norm = {MC_NORM_MEAN, MC_NORM_STD};
    size_t plane = (size_t)h * w;
    double t0 = now_s();
#pragma omp parallel for schedule(dynamic) num_threads(nthr)
    for (int k = 0; k < nb; k++) {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        float *dst = x + (size_t)k * c * plane;
        int rc = mc_image_load_grey(paths[k], &img[t]);
        if (rc == MC_OK && img[t].w == w && img[t].h == h) {
            mc_normalise(img[t].px, dst, plane, &norm); /* already the input size: as it is */
        } else if (rc == MC_OK) {
            mc_aug_params p;
            memset(&p, 0, sizeof p);
            mc_crop_centre_square(img[t].w, img[t].h, &p.crop);
            rc = mc_preprocess(ws[t], &img[t], &p, &norm, dst, h, w);
            if (rc < 0) mc_err_context(rc, "%s", paths[k]);
        }
        if (rc < 0) {
#pragma omp critical(mc_predict_err)
            if (bad < 0 || k < bad) {
                bad = k;
                snprintf(msg, sizeof msg, "%s", mc_errmsg());
            }
        } else {
            for (int ch = 1; ch < c; ch++) memcpy(dst + ch * plane, dst, plane * sizeof *dst);
        }
    }
    *decode_s += now_s() - t0;
    if (bad >= 0) return mc_err(MC_EPARSE, "%s", msg);
    return MC_OK;
}

int mc_predict(mc_net *net, const char *const *paths, int n, float *prob, mc_predict_stats *st) {
    return mc_predict_progress(net, paths, n, prob, st, NULL, NULL);
}

int mc_predict_progress(mc_net *net, const char *const *paths, int n, float *prob, mc_predict_stats *st,
                        mc_pass_progress_fn progress, void *progress_ctx) {
    if (st) memset(st, 0, sizeof *st);
    if (n < 1) return mc_err(MC_EARG, "no images to predict");
    int c, h, w, nout = mc_net_num_outputs(net), batch = mc_net_batch(net);
    mc_net_input_shape(net, &c, &h, &w);
    if (c != 1 && c != 3)
        return mc_err(MC_ESHAPE, "the input has %d channels; predict feeds grey images (1 or 3)", c);
    const char *last = mc_net_layer_type(net, mc_net_num_layers(net) - 1);
    int has_cost = last && strcmp(last, "cost") == 0;
    mc_net_set_train(net, 0);
    /* decoding threads: the network's own thread count (a CUDA net reports 0: all cores) */
    int nthr = mc_net_threads(net);
#ifdef _OPENMP
    if (nthr < 1) nthr = omp_get_max_threads();
#endif
    if (nthr < 1) nthr = 1;
    if (nthr > batch) nthr = batch;
    size_t per = (size_t)c * h * w;
    mc_image *img = mc_calloc((size_t)nthr, sizeof *img, "images");
    mc_xform **ws = mc_calloc((size_t)nthr, sizeof *ws, "workspaces");
    float *x = mc_alloc_floats((size_t)batch * per, "input batch");
    float *y = mc_alloc_floats((size_t)batch * nout, "output batch");
    int rc = img && ws && x && y ? MC_OK : MC_ENOMEM;
    for (int t = 0; t < nthr && rc == MC_OK; t++) rc = mc_xform_new(&ws[t]);
    double t_start = now_s(), t_decode = 0, t_net = 0;
    for (int b0 = 0; b0 < n && rc == MC_OK; b0 += batch) {
        int nb = n - b0 < batch ? n - b0 : batch;
        if (nb != mc_net_batch(net) && (rc = mc_net_set_batch(net, nb)) < 0) break;
        if ((rc = load_batch(paths + b0, nb, x, c, h, w, img, ws, nthr, &t_decode)) < 0) break;
        double t0 = now_s();
        if ((rc = mc_net_set_input(net, x)) < 0 || (rc = mc_net_forward(net)) < 0 ||
            (rc = mc_net_get_output(net, -1, y)) < 0)
            break;
        t_net += now_s() - t0;
        for (size_t k = 0; k < (size_t)nb * nout; k++) {
            float v = has_cost ? y[k] : 1.0f / (1.0f + expf(-y[k]));
            if (!isfinite(v)) {
                rc = mc_err(MC_ENUM, "%s: the network's output is not finite (%g)", paths[b0 + (int)(k / (size_t)nout)],
                            (double)v);
                break;
            }
            prob[(size_t)b0 * nout + k] = v;
        }
        if (rc == MC_OK && progress) progress(b0 + nb, n, progress_ctx);
    }
    if (st) {
        st->seconds = now_s() - t_start;
        st->net_seconds = t_net;
        st->decode_seconds = t_decode;
    }
    if (img)
        for (int t = 0; t < nthr; t++) mc_image_free(&img[t]);
    if (ws)
        for (int t = 0; t < nthr; t++) mc_xform_free(ws[t]);
    free(img);
    free(ws);
    mc_free_aligned(x);
    mc_free_aligned(y);
    return rc;
}

/* The network inputs of images as mc_predict preprocesses them (x[n][c][h][w]), decoded in
 * parallel on the network's threads. */
int mc_predict_inputs(mc_net *net, const char *const *paths, int n, float *x) {
    int c, h, w;
    mc_net_input_shape(net, &c, &h, &w);
    if (c != 1 && c != 3)
        return mc_err(MC_ESHAPE, "the input has %d channels; grey images feed 1 or 3", c);
    int nthr = mc_net_threads(net);
#ifdef _OPENMP
    if (nthr < 1) nthr = omp_get_max_threads();
#endif
    if (nthr < 1) nthr = 1;
    if (nthr > n) nthr = n > 0 ? n : 1;
    mc_image *img = mc_calloc((size_t)nthr, sizeof *img, "images");
    mc_xform **ws = mc_calloc((size_t)nthr, sizeof *ws, "workspaces");
    int rc = img && ws ? MC_OK : MC_ENOMEM;
    for (int t = 0; t < nthr && rc == MC_OK; t++) rc = mc_xform_new(&ws[t]);
    double dt = 0;
    if (rc == MC_OK && n > 0) rc = load_batch(paths, n, x, c, h, w, img, ws, nthr, &dt);
    if (img)
        for (int t = 0; t < nthr; t++) mc_image_free(&img[t]);
    if (ws)
        for (int t = 0; t < nthr; t++) mc_xform_free(ws[t]);
    free(img);
    free(ws);
    return rc;
}

/* ---- the CSV ------------------------------------------------------------------------------------- */
/* RFC 4180: quoted when it holds a comma, quote, CR or LF */
static int csv_field(FILE *f, const char *s, const char *path) {
    if (!strpbrk(s, ",\"\r\n")) return fputs(s, f) < 0 ? mc_err(MC_EIO, "%s: write failed", path) : MC_OK;
    if (fputc('"', f) == EOF) return mc_err(MC_EIO, "%s: write failed", path);
    for (; *s; s++) {
        if (*s == '"' && fputc('"', f) == EOF) return mc_err(MC_EIO, "%s: write failed", path);
        if (fputc(*s, f) == EOF) return mc_err(MC_EIO, "%s: write failed", path);
    }
    return fputc('"', f) == EOF ? mc_err(MC_EIO, "%s: write failed", path) : MC_OK;
}

typedef struct csv_job {
    const char *const *paths, *const *labels;
    int n, nlabels;
    const float *prob; /* [n][nlabels] */
} csv_job;

static int write_csv(FILE *f, const char *path, void *arg) {
    const csv_job *c = arg;
    MC_TRY(csv_field(f, "path", path));
    for (int j = 0; j < c->nlabels; j++) {
        if (fputc(',', f) == EOF) return mc_err(MC_EIO, "%s: write failed", path);
        MC_TRY(csv_field(f, c->labels[j], path));
    }
    if (fputc('\n', f) == EOF) return mc_err(MC_EIO, "%s: write failed", path);
    for (int i = 0; i < c->n; i++) {
        MC_TRY(csv_field(f, c->paths[i], path));
        for (int j = 0; j < c->nlabels; j++)
            if (fprintf(f, ",%.7g", (double)c->prob[(size_t)i * c->nlabels + j]) < 0)
                return mc_err(MC_EIO, "%s: write failed", path);
        if (fputc('\n', f) == EOF) return mc_err(MC_EIO, "%s: write failed", path);
    }
    return fflush(f) == 0 ? MC_OK : mc_err(MC_EIO, "%s: write failed: %s", path, strerror(errno));
}

int mc_predict_write_csv(FILE *f, const char *name, const char *const *paths, int n, const char *const *labels,
                         int nlabels, const float *prob) {
    csv_job j = {paths, labels, n, nlabels, prob};
    return write_csv(f, name, &j);
}

int mc_predict_save_csv(const char *path, const char *const *paths, int n, const char *const *labels, int nlabels,
                        const float *prob) {
    csv_job j = {paths, labels, n, nlabels, prob};
    return mc_write_atomic(path, write_csv, &j);
}
