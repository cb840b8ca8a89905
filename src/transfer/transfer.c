/* transfer.c — the whole colour transfer (spec §2 steps 2, 7, 8, 9; docs/transfer.md): resize the
 * target and the reference to N×N, optimise the pixels in two L-BFGS passes (pass 1: content,
 * colour and TV from a flat mean-colour start; pass 2: every term from pass 1's quantised best
 * image), keep the lowest-loss image of each pass, smooth it, resize it to the target's size and
 * keep the target's luminance (YCbCr merge). The reference is chosen by the caller (D-hash
 * retrieval is mc_reflib_nearest). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "medcolor.h"
#include "mc_imaging.h"
#include "mc_optim.h"
#include "mc_transfer.h"

void mc_transfer_opts_default(mc_transfer_opts *o) {
    memset(o, 0, sizeof *o);
    o->size = 224;
    o->init_iters = 1000;
    o->iters = 1000;
    o->pgtol = 1e-5;
    o->factr = 1e7;
    o->space = MC_TR_SPACE_YCBCR;
    mc_tr_weights_default(&o->w);
    o->setup.kmeans = 4;
    o->setup.vgg_input = MC_VGG_TORCHVISION;
    o->smooth = 1;
    o->chroma_gain = 1;
    o->seed = 0;
}

void mc_transfer_result_free(mc_transfer_result *r) {
    if (!r) return;
    free(r->target_n);
    free(r->ref_n);
    free(r->pass1);
    free(r->raw);
    free(r->smoothed);
    memset(r, 0, sizeof *r);
}

typedef struct pass_ctx {
    mc_tr_obj *obj;
    int n, space;
    double *o, *go; /* the image and its gradient when L-BFGS moves in other coordinates */
    mc_tr_weights w;
    const mc_transfer_opts *opts;
    int pass;
    mc_tr_terms last; /* of the latest evaluation */
    double best_f, first_f;
    long nfev;
} pass_ctx;

/* the JFIF inverse T: RGB = T·(Y, Cb', Cr') per pixel, and T⁻¹ */
static const double T[3][3] = {{1, 0, 1.402}, {1, -0.344136, -0.714136}, {1, 1.772, 0}};

static void to_rgb(const double *z, size_t np, double *o) {
    for (size_t i = 0; i < np; i++)
        for (int r = 0; r < 3; r++) o[r * np + i] = T[r][0] * z[i] + T[r][1] * z[np + i] + T[r][2] * z[2 * np + i];
}

static void from_rgb(const double *o, size_t np, double *z) {
    double inv[3][3]; /* T⁻¹ by cofactors */
    double det = T[0][0] * (T[1][1] * T[2][2] - T[1][2] * T[2][1]) - T[0][1] * (T[1][0] * T[2][2] - T[1][2] * T[2][0]) +
                 T[0][2] * (T[1][0] * T[2][1] - T[1][1] * T[2][0]);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            int a = (j + 1) % 3, b = (j + 2) % 3, c = (i + 1) % 3, d = (i + 2) % 3;
            inv[i][j] = (T[a][c] * T[b][d] - T[a][d] * T[b][c]) / det;
        }
    for (size_t i = 0; i < np; i++)
        for (int r = 0; r < 3; r++)
            z[r * np + i] = inv[r][0] * o[i] + inv[r][1] * o[np + i] + inv[r][2] * o[2 * np + i];
}

static int fg(void *ctx, const double *x, double *g, double *f) {
    pass_ctx *p = ctx;
    if (p->space == MC_TR_SPACE_YCBCR) {
        size_t np = (size_t)p->n * p->n;
        to_rgb(x, np, p->o);
        MC_TRY(mc_tr_obj_eval(p->obj, &p->w, p->o, f, g ? p->go : NULL, &p->last));
        if (g) /* Tᵀ·∇_RGB */
            for (size_t i = 0; i < np; i++)
                for (int c = 0; c < 3; c++)
                    g[c * np + i] = T[0][c] * p->go[i] + T[1][c] * p->go[np + i] + T[2][c] * p->go[2 * np + i];
    } else {
        MC_TRY(mc_tr_obj_eval(p->obj, &p->w, x, f, g, &p->last));
    }
    if (p->nfev == 0) p->first_f = *f;
    if (p->nfev == 0 || *f < p->best_f) p->best_f = *f;
    p->nfev++;
    if (p->nfev == 1 && p->opts->progress) { /* the start, as iteration 0 */
        mc_transfer_progress pr = {.pass = p->pass, .iter = 0, .nfev = 1, .f = *f, .best_f = *f, .terms = p->last};
        if (p->opts->progress(&pr, p->opts->progress_ctx)) return mc_err(MC_EARG, "transfer: stopped by the caller");
    }
    return MC_OK;
}

static int progress(const mc_lbfgs_iter *it, void *ctx) {
    pass_ctx *p = ctx;
    if (!p->opts->progress) return 0;
    mc_transfer_progress pr = {.pass = p->pass, .iter = it->iter, .nfev = it->nfev, .f = it->f, .best_f = p->best_f,
                               .terms = p->last};
    return p->opts->progress(&pr, p->opts->progress_ctx) ? 1 : 0;
}

/* uint8(clip(x, 0, 255)), truncating (the authors' quantisation), [3][n][n] → [n][n][3] */
static void quantise(const double *x, int n, uint8_t *rgb) {
    size_t np = (size_t)n * n;
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < np; i++) {
            double v = x[c * np + i];
            rgb[i * 3 + c] = v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)v;
        }
}

static void to_planes(const uint8_t *rgb, int n, double *x) {
    size_t np = (size_t)n * n;
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < np; i++) x[c * np + i] = rgb[i * 3 + c];
}

/* x: the image (RGB planes) in and, in best, the lowest-loss image out */
static int run_pass(pass_ctx *p, double *x, long iters, double *best, int n) {
    size_t nx = 3 * (size_t)n * n, np = (size_t)n * n;
    p->n = n;
    p->space = p->opts->space;
    if (iters <= 0) { /* no optimisation: the start is the result */
        double f;
        p->space = MC_TR_SPACE_RGB;
        MC_TRY(mc_tr_obj_eval(p->obj, &p->w, x, &f, NULL, &p->last));
        p->first_f = p->best_f = f;
        p->nfev = 1;
        if (p->opts->progress) {
            mc_transfer_progress pr = {.pass = p->pass, .iter = 0, .nfev = 1, .f = f, .best_f = f, .terms = p->last};
            p->opts->progress(&pr, p->opts->progress_ctx);
        }
        memcpy(best, x, nx * sizeof(double));
        return MC_OK;
    }
    if (p->space == MC_TR_SPACE_YCBCR) {
        p->o = malloc(nx * sizeof(double));
        p->go = malloc(nx * sizeof(double));
        if (!p->o || !p->go) {
            free(p->o);
            free(p->go);
            return mc_err(MC_ENOMEM, "transfer: pass %d", p->pass);
        }
        memcpy(p->o, x, nx * sizeof(double));
        from_rgb(p->o, np, x);
    }
    mc_lbfgs_opts lo;
    mc_lbfgs_opts_default(&lo);
    lo.maxiter = iters;
    lo.pgtol = p->opts->pgtol;
    lo.factr = p->opts->factr;
    lo.best_x = best;
    lo.progress = progress;
    lo.progress_ctx = p;
    mc_lbfgs_result res;
    int rc = mc_lbfgs((int)nx, x, fg, p, &lo, &res);
    if (p->space == MC_TR_SPACE_YCBCR) {
        memcpy(p->o, best, nx * sizeof(double));
        to_rgb(p->o, np, best);
        free(p->o);
        free(p->go);
        p->o = p->go = NULL;
    }
    if (rc < 0) return mc_err_context(rc, "transfer, pass %d", p->pass);
    return MC_OK;
}

int mc_transfer(mc_net *net, const uint8_t *target, int w, int h, const uint8_t *ref, int rw, int rh,
                const mc_transfer_opts *opts, uint8_t *out, mc_transfer_result *res) {
    mc_transfer_opts def;
    if (!opts) {
        mc_transfer_opts_default(&def);
        opts = &def;
    }
    if (res) memset(res, 0, sizeof *res);
    int n = opts->size;
    if (n < 1 || w < 1 || h < 1 || rw < 1 || rh < 1)
        return mc_err(MC_EARG, "transfer: sizes %d (N), %dx%d (target), %dx%d (reference)", n, w, h, rw, rh);
    if (opts->init_iters < 0 || opts->iters < 0)
        return mc_err(MC_EARG, "transfer: iterations %ld, %ld (>= 0)", opts->init_iters, opts->iters);
    if (!(opts->chroma_gain >= 0) || !isfinite(opts->chroma_gain))
        return mc_err(MC_EARG, "transfer: chroma gain %g", opts->chroma_gain);
    size_t np = (size_t)n * n, nx = 3 * np;
    uint8_t *tn = malloc(np * 3), *sn = malloc(np * 3), *p1 = malloc(np * 3), *raw = malloc(np * 3);
    uint8_t *sm = opts->smooth ? malloc(np * 3) : NULL;
    double *x = malloc(nx * sizeof(double)), *best = malloc(nx * sizeof(double));
    uint8_t *big = malloc((size_t)w * h * 3);
    mc_tr_obj *obj = NULL;
    int rc = MC_OK;
    if (!tn || !sn || !p1 || !raw || (opts->smooth && !sm) || !x || !best || !big) {
        rc = mc_err(MC_ENOMEM, "transfer: images of %dx%d", n, n);
        goto done;
    }
    /* §2 step 2: both images to N×N with Pillow's Lanczos, on 8-bit RGB */
    if ((rc = mc_resize_lanczos(target, w, h, 3, tn, n, n)) < 0 || (rc = mc_resize_lanczos(ref, rw, rh, 3, sn, n, n)) < 0)
        goto done;
    if ((rc = mc_tr_obj_new(&obj, net, tn, sn, n, &opts->setup)) < 0) goto done;
    /* pass 1 from O₀ = (123.68, 116.779, 103.939) + 1e-4·N(0, 1) */
    {
        static const double mean_rgb[3] = {123.68, 116.779, 103.939};
        mc_rng rng;
        mc_rng_seed(&rng, opts->seed);
        for (int c = 0; c < 3; c++)
            for (size_t i = 0; i < np; i++) x[c * np + i] = mean_rgb[c] + 1e-4 * mc_rng_normal(&rng);
    }
    pass_ctx p = {.obj = obj, .opts = opts, .pass = 1};
    p.w = opts->w;
    p.w.y = 0;
    p.w.swap = 0;
    if ((rc = run_pass(&p, x, opts->init_iters, best, n)) < 0) goto done;
    quantise(best, n, p1);
    long nfev1 = p.nfev;
    /* pass 2: every term, from pass 1's quantised best image */
    to_planes(p1, n, x);
    pass_ctx p2 = {.obj = obj, .opts = opts, .pass = 2, .w = opts->w};
    if ((rc = run_pass(&p2, x, opts->iters, best, n)) < 0) goto done;
    quantise(best, n, raw);
    const uint8_t *fin = raw;
    if (opts->smooth) {
        if ((rc = mc_tr_smooth(tn, raw, n, n, sm)) < 0) goto done;
        fin = sm;
    }
    /* §2 step 9: back to the target's size, its Y with the result's Cb/Cr */
    if ((rc = mc_resize_lanczos(fin, n, n, 3, big, w, h)) < 0) goto done;
    mc_ycbcr_merge(target, big, (size_t)w * h, opts->chroma_gain, out);
    if (res) {
        res->n = n;
        res->target_n = tn;
        res->ref_n = sn;
        res->pass1 = p1;
        res->raw = raw;
        res->smoothed = sm;
        res->init_loss = p2.first_f;
        res->best_loss = p2.best_f;
        res->nfev1 = nfev1;
        res->nfev2 = p2.nfev;
        tn = sn = p1 = raw = sm = NULL;
    }
done:
    mc_tr_obj_free(obj);
    free(tn);
    free(sn);
    free(p1);
    free(raw);
    free(sm);
    free(x);
    free(best);
    free(big);
    return rc;
}
