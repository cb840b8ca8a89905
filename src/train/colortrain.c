/* colortrain.c — image-to-image training for learned colorization (Saini et al.; spec §1, §4;
 * docs/colorize.md): input L, target ab/128, the [cost] layer's MSE; per epoch the training and
 * validation MSE and the PSNR / SSIM of the colourised validation images; the best weights by
 * the lowest validation loss; atomic checkpoints with exact resume; sample sheets and curves.
 *
 * Determinism: epoch e visits the training images in a permutation drawn from
 * mc_sample_key(seed, e, ·) alone, each image's input and target are a pure function of its file,
 * and every sum here runs in a fixed order in double, so a run gives the same bytes whatever the
 * thread count, and a run resumed from a checkpoint the same as one never stopped (the checkpoint
 * holds the parameters, BN statistics, optimiser state and the epoch's loss sum so far).
 *
 * The checkpoint is train.c's (mc_checkpoint_save) with stage "all"; its best_auc holds the best
 * validation MSE, and best_aucs[] = {best validation MSE, the current epoch's training-loss sum,
 * the best epoch}. */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "core/core.h"
#include "dist/dist.h"
#include "medcolor.h"
#include "mc_imaging.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void mc_colortrain_opts_default(mc_colortrain_opts *o) {
    memset(o, 0, sizeof *o);
    o->epochs = 10;
    mc_optimizer_defaults(&o->opt, MC_OPTIM_ADAM);
    o->opt.lr = 1e-4;
    o->opt.weight_decay = 0;
    o->l_scale = NAN;
    o->l_shift = NAN;
    o->samples = 8;
    o->workers = 2;
}

int mc_color_input_scaling(const mc_net *net, double *l_scale, double *l_shift) {
    int c, h, w, oc, oh, ow;
    mc_net_input_shape(net, &c, &h, &w);
    MC_TRY(mc_net_layer_shape(net, -1, &oc, &oh, &ow));
    if (oc != 2 || oh != h || ow != w)
        return mc_err(MC_ESHAPE,
                      "the network's output is %dx%dx%d; colorization needs 2x%dx%d (a and b at the input's size)",
                      oc, oh, ow, h, w);
    if (isnan(*l_scale) != isnan(*l_shift))
        return mc_err(MC_EARG, "give both the L scale and the L shift, or neither");
    if (!isnan(*l_scale)) return MC_OK;
    const char *vs = mc_net_cfg_value(net, "l_scale"), *vh = mc_net_cfg_value(net, "l_shift");
    if (vs && vh) { /* the network says (validated when it was built; colorize-train records it) */
        *l_scale = strtod(vs, NULL);
        *l_shift = strtod(vh, NULL);
        return MC_OK;
    }
    if (c == 1) {
        *l_scale = 1.0;
        *l_shift = 0.0;
    } else if (c == 3) {
        *l_scale = 1.0 / 50.0;
        *l_shift = -1.0;
    } else {
        return mc_err(MC_EARG,
                      "the network takes %d input channels: no default input scaling (1 channel: L, 3: L/50-1); "
                      "give --l-scale and --l-shift", c);
    }
    return MC_OK;
}

/* ---- samples ------------------------------------------------------------------------------- */
typedef struct batchbuf {
    int B, C, h, w;
    size_t hw;
    float *x;     /* [B][C][h][w] the network's input */
    float *t;     /* [B][2][h][w] target ab/128 */
    float *m;     /* [B][2][h][w] mask */
    float *lab;   /* [B][3][h][w] the images' Lab (for metrics and sheets) */
    float *out;   /* [B][2][h][w] the network's output */
    char (*msg)[512];
    int *rc;
} batchbuf;

static void batch_free(batchbuf *b) {
    free(b->x);
    free(b->t);
    free(b->m);
    free(b->lab);
    free(b->out);
    free(b->msg);
    free(b->rc);
    memset(b, 0, sizeof *b);
}

static int batch_alloc(batchbuf *b, const mc_net *net) {
    memset(b, 0, sizeof *b);
    b->B = mc_net_batch(net);
    mc_net_input_shape(net, &b->C, &b->h, &b->w);
    b->hw = (size_t)b->h * b->w;
    size_t B = (size_t)b->B;
    b->x = mc_malloc(B * b->C * b->hw * sizeof(float), "colorize batch");
    b->t = mc_malloc(B * 2 * b->hw * sizeof(float), "colorize batch");
    b->m = mc_malloc(B * 2 * b->hw * sizeof(float), "colorize batch");
    b->lab = mc_malloc(B * 3 * b->hw * sizeof(float), "colorize batch");
    b->out = mc_malloc(B * 2 * b->hw * sizeof(float), "colorize batch");
    b->msg = mc_calloc(B, sizeof *b->msg, "colorize batch");
    b->rc = mc_calloc(B, sizeof *b->rc, "colorize batch");
    if (!b->x || !b->t || !b->m || !b->lab || !b->out || !b->msg || !b->rc) {
        batch_free(b);
        return MC_ENOMEM;
    }
    return MC_OK;
}

/* fills sample slot i of b from the image at path */
static int fill_sample(batchbuf *b, int i, const char *path, double ls, double lsh) {
    float *lab;
    int w, h;
    MC_TRY(mc_lab_load(path, b->w, b->h, &lab, &w, &h));
    size_t hw = b->hw;
    memcpy(b->lab + (size_t)i * 3 * hw, lab, 3 * hw * sizeof(float));
    float *x = b->x + (size_t)i * b->C * hw, *t = b->t + (size_t)i * 2 * hw, *m = b->m + (size_t)i * 2 * hw;
    for (size_t k = 0; k < hw; k++) x[k] = (float)((double)lab[k] * ls + lsh);
    for (int c = 1; c < b->C; c++) memcpy(x + c * hw, x, hw * sizeof(float));
    for (size_t k = 0; k < 2 * hw; k++) {
        t[k] = lab[hw + k] / 128.0f;
        m[k] = 1.0f;
    }
    free(lab);
    return MC_OK;
}

/* loads samples idx[0..n) of ds into b (n <= B; the rest is padding: zeros, mask 0), decoding on
 * `workers` threads; the first failure (in sample order) is the error */
static int load_batch(batchbuf *b, const mc_dataset *ds, const int *idx, int n, int workers, double ls, double lsh) {
    int nt = workers > 0 ? workers : 1;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int i = 0; i < n; i++) {
        b->rc[i] = fill_sample(b, i, ds->paths[idx[i]], ls, lsh);
        if (b->rc[i] < 0) snprintf(b->msg[i], sizeof b->msg[i], "%s", mc_errmsg());
    }
    for (int i = 0; i < n; i++)
        if (b->rc[i] < 0) return mc_err(b->rc[i], "%s", b->msg[i]);
    size_t hw = b->hw;
    for (int i = n; i < b->B; i++) {
        memset(b->x + (size_t)i * b->C * hw, 0, (size_t)b->C * hw * sizeof(float));
        memset(b->t + (size_t)i * 2 * hw, 0, 2 * hw * sizeof(float));
        memset(b->m + (size_t)i * 2 * hw, 0, 2 * hw * sizeof(float));
    }
    return MC_OK;
}

/* ---- validation ------------------------------------------------------------------------------ */
/* PSNR (RGB bytes together) and SSIM (mean over the channels) of two w x h RGB images */
static int rgb_metrics(const uint8_t *a, const uint8_t *b, int w, int h, uint8_t *pa, uint8_t *pb, double *psnr,
                       double *ssim) {
    size_t n = (size_t)w * h;
    *psnr = mc_psnr(a, b, 3 * n);
    if (w < 11 || h < 11) { /* smaller than SSIM's window: no SSIM */
        *ssim = NAN;
        return MC_OK;
    }
    double s = 0;
    for (int c = 0; c < 3; c++) {
        for (size_t i = 0; i < n; i++) {
            pa[i] = a[3 * i + c];
            pb[i] = b[3 * i + c];
        }
        double v;
        MC_TRY(mc_ssim(pa, pb, w, h, &v));
        s += v;
    }
    *ssim = s / 3;
    return MC_OK;
}

typedef struct sheet {
    int k;          /* images on the sheet */
    int *which;     /* [k] validation rows */
    uint8_t *px;    /* [k*(h+gap)-gap][3*(w+gap)-gap][3] */
    int W, H;
} sheet;
#define GAP 2

/* one pass over valid: MSE (zero chroma when baseline), mean PSNR and SSIM; the sheet's cells.
 * Over the ranks of dist each validates its contiguous part of the images; the per-image values
 * (and the sheet's cells) are summed to every rank with zeros elsewhere, so each slot holds one
 * rank's value exactly, and the means are summed in image order: what one process computes
 * (up to the network's own rounding, if a batch cut otherwise cuts its GEMMs otherwise). */
static int validate(mc_net *net, const mc_dataset *valid, batchbuf *b, int workers, double ls, double lsh,
                    int baseline, sheet *sh, mc_dist *dist, double *mse, double *psnr, double *ssim) {
    int B = b->B, w = b->w, h = b->h;
    size_t hw = b->hw;
    const int nr = mc_dist_size(dist);
    int i0, i1;
    mc_dist_part(dist, valid->n, &i0, &i1);
    const size_t cell = (size_t)3 * hw * 3; /* a sheet row: grey | prediction | target, RGB */
    double *per = mc_calloc((size_t)valid->n * 3, sizeof(double), "validation");
    float *cells = nr > 1 && sh ? mc_calloc((size_t)sh->k * cell, sizeof(float), "validation") : NULL;
    int was = mc_net_is_train(net);
    mc_net_set_train(net, 0);
    int *idx = mc_malloc((size_t)B * sizeof(int), "validation");
    uint8_t *pred = mc_malloc(3 * hw, "validation"), *targ = mc_malloc(3 * hw, "validation");
    uint8_t *pa = mc_malloc(hw, "validation"), *pb = mc_malloc(hw, "validation");
    float *lab = mc_malloc(3 * hw * sizeof(float), "validation");
    uint8_t *grey = mc_malloc(3 * hw, "validation");
    int rc = idx && pred && targ && pa && pb && lab && grey && per && (cells || nr == 1 || !sh) ? MC_OK : MC_ENOMEM;
    for (int s0 = i0; s0 < i1 && rc == MC_OK; s0 += B) {
        int n = i1 - s0 < B ? i1 - s0 : B;
        for (int i = 0; i < n; i++) idx[i] = s0 + i;
        if ((rc = load_batch(b, valid, idx, n, workers, ls, lsh)) < 0) break;
        if (baseline) {
            memset(b->out, 0, (size_t)B * 2 * hw * sizeof(float));
        } else {
            if ((rc = mc_net_set_input(net, b->x)) < 0 || (rc = mc_net_set_truth(net, b->t, b->m)) < 0 ||
                (rc = mc_net_forward(net)) < 0 || (rc = mc_net_get_output(net, -1, b->out)) < 0)
                break;
        }
        for (int i = 0; i < n && rc == MC_OK; i++) {
            const float *o = b->out + (size_t)i * 2 * hw, *t = b->t + (size_t)i * 2 * hw;
            double e = 0;
            for (size_t k = 0; k < 2 * hw; k++) {
                double d = (double)o[k] - (double)t[k];
                e += d * d;
            }
            per[3 * (size_t)(s0 + i)] = e;
            const float *L = b->lab + (size_t)i * 3 * hw;
            mc_lab_to_rgb8(L, w, h, targ);
            memcpy(lab, L, hw * sizeof(float));
            for (size_t k = 0; k < 2 * hw; k++) lab[hw + k] = o[k] * 128.0f;
            mc_lab_to_rgb8(lab, w, h, pred);
            double p, s;
            if ((rc = rgb_metrics(pred, targ, w, h, pa, pb, &p, &s)) < 0) break;
            per[3 * (size_t)(s0 + i) + 1] = p;
            per[3 * (size_t)(s0 + i) + 2] = s;
            for (int j = 0; sh && j < sh->k; j++) {
                if (sh->which[j] != s0 + i) continue;
                /* grey input (L, a = b = 0) | prediction | target */
                memset(lab + hw, 0, 2 * hw * sizeof(float));
                mc_lab_to_rgb8(lab, w, h, grey);
                const uint8_t *src[3] = {grey, pred, targ};
                for (int col = 0; col < 3; col++)
                    if (cells) /* gathered below (exact: bytes in float) */
                        for (size_t q = 0; q < 3 * hw; q++) cells[(size_t)j * cell + (size_t)col * 3 * hw + q] = src[col][q];
                    else
                        for (int y = 0; y < h; y++)
                            memcpy(sh->px + (((size_t)j * (h + GAP) + y) * sh->W + (size_t)col * (w + GAP)) * 3,
                                   src[col] + (size_t)y * w * 3, (size_t)w * 3);
            }
        }
    }
    /* every rank's part (a collective call: every rank reaches it, also after an error of its own,
     * which the trainer then reports; the others' sums are then of no use) */
    if (nr > 1 && per) {
        int r2 = mc_dist_sum_d(dist, per, (size_t)valid->n * 3);
        if (rc == MC_OK) rc = r2;
    }
    if (cells) {
        int r2 = mc_dist_sum_f(dist, cells, (size_t)sh->k * cell);
        if (rc == MC_OK) rc = r2;
        for (int j = 0; rc == MC_OK && j < sh->k; j++)
            for (int col = 0; col < 3; col++)
                for (int y = 0; y < h; y++)
                    for (size_t q = 0; q < (size_t)w * 3; q++)
                        sh->px[(((size_t)j * (h + GAP) + y) * sh->W + (size_t)col * (w + GAP)) * 3 + q] =
                            (uint8_t)cells[(size_t)j * cell + (size_t)col * 3 * hw + (size_t)y * w * 3 + q];
        free(cells);
    }
    double sse = 0, ps = 0, ss = 0;
    for (int i = 0; rc == MC_OK && i < valid->n; i++) {
        sse += per[3 * (size_t)i];
        ps += per[3 * (size_t)i + 1];
        ss += per[3 * (size_t)i + 2];
    }
    free(per);
    mc_net_set_train(net, was);
    free(idx);
    free(pred);
    free(targ);
    free(pa);
    free(pb);
    free(lab);
    free(grey);
    if (rc < 0) return rc;
    *mse = sse / ((double)valid->n * 2.0 * (double)hw);
    *psnr = ps / valid->n;
    *ssim = ss / valid->n;
    return MC_OK;
}

/* ---- log.csv --------------------------------------------------------------------------------- */
typedef mc_colorlog_row logrow;

static const char *LOG_HEADER = "epoch,iter,train_mse,val_mse,val_psnr,val_ssim,lr,seconds";

typedef struct logjob {
    const logrow *rows;
    int n;
} logjob;

static int write_log(FILE *f, const char *path, void *arg) {
    const logjob *j = arg;
    fprintf(f, "%s\n", LOG_HEADER);
    for (int i = 0; i < j->n; i++) {
        const logrow *r = &j->rows[i];
        fprintf(f, "%d,%ld,%.9g,%.9g,%.6f,%.6f,%.9g,%.3f\n", r->epoch, r->iter, r->train, r->val, r->psnr, r->ssim,
                r->lr, r->seconds);
    }
    return ferror(f) ? mc_err(MC_EIO, "%s: write error", path) : MC_OK;
}

/* one number of a row: the whole field, a finite value (train_mse may be nan in the baseline row) */
static int field(const char *path, int ln, const char *name, char **p, int last, int nan_ok, double *v) {
    char *end;
    errno = 0;
    *v = strtod(*p, &end);
    if (end == *p || (last ? *end != 0 : *end != ',') || (!isfinite(*v) && !(nan_ok && isnan(*v))))
        return mc_err(MC_EPARSE, "%s:%d: %s: expected a number (the header: %s)", path, ln, name, LOG_HEADER);
    *p = last ? end : end + 1;
    return MC_OK;
}

int mc_colorlog_read(const char *path, mc_colorlog_row **rows, int *n) {
    *rows = NULL;
    *n = 0;
    int cap = 0;
    char *text;
    size_t len;
    MC_TRY(mc_fread_all(path, &text, &len));
    int rc = mc_text_no_nul(path, text, len);
    int ln = 0;
    char *save = NULL;
    for (char *line = rc == MC_OK ? strtok_r(text, "\n", &save) : NULL; line && rc == MC_OK;
         line = strtok_r(NULL, "\n", &save)) {
        ln++;
        size_t ll = strlen(line);
        if (ll && line[ll - 1] == '\r') line[--ll] = 0;
        if (ln == 1) {
            if (strcmp(line, LOG_HEADER))
                rc = mc_err(MC_EPARSE, "%s:1: not a colorize log (expected the header %s)", path, LOG_HEADER);
            continue;
        }
        logrow r;
        double d[8];
        static const char *const names[8] = {"epoch", "iter", "train_mse", "val_mse", "val_psnr", "val_ssim", "lr", "seconds"};
        char *p = line;
        /* nan allowed: train_mse (the baseline row), val_ssim (images under 11 x 11) */
        for (int k = 0; k < 8 && rc == MC_OK; k++) rc = field(path, ln, names[k], &p, k == 7, k == 2 || k == 5, &d[k]);
        if (rc < 0) break;
        if (d[0] != floor(d[0]) || d[0] < 0 || d[0] > 1e6 || d[1] != floor(d[1]) || d[1] < 0 || d[1] > 1e15 ||
            d[0] != (double)*n || (*n > 0 && d[1] <= (double)(*rows)[*n - 1].iter) || (*n == 0 && d[1] != 0)) {
            rc = mc_err(MC_EPARSE, "%s:%d: epoch %g, iteration %g: expected epoch %d after iteration %ld", path, ln, d[0],
                        d[1], *n, *n ? (*rows)[*n - 1].iter : 0L);
            break;
        }
        r = (logrow){(int)d[0], (long)d[1], d[2], d[3], d[4], d[5], d[6], d[7]};
        if (*n == cap) {
            int nc = cap ? 2 * cap : 32;
            logrow *nr = mc_realloc(*rows, (size_t)nc * sizeof *nr, "log");
            if (!nr) {
                rc = MC_ENOMEM;
                break;
            }
            *rows = nr;
            cap = nc;
        }
        (*rows)[(*n)++] = r;
    }
    free(text);
    if (rc == MC_OK && *n == 0) rc = mc_err(MC_EPARSE, "%s: no rows (not even the baseline's)", path);
    if (rc < 0) {
        free(*rows);
        *rows = NULL;
        *n = 0;
    }
    return rc;
}

static int write_curves(const char *dir, const logrow *rows, int n) {
    if (n < 2) return MC_OK;
    double *x = mc_malloc((size_t)n * 4 * sizeof(double), "curves");
    if (!x) return MC_ENOMEM;
    double *tr = x + n, *va = x + 2 * n, *bl = x + 3 * n;
    int k = 0;
    for (int i = 1; i < n; i++, k++) {
        x[k] = rows[i].epoch;
        tr[k] = rows[i].train;
        va[k] = rows[i].val;
        bl[k] = rows[0].val;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/loss.png", dir);
    mc_plot *p = mc_plot_new(800, 560, "colorization: MSE of (a, b)/128", "epoch", "MSE");
    int rc = p ? MC_OK : MC_ENOMEM;
    /* (the mc_plot setters return their previous setting or an index: only < 0 is an error) */
    if (rc == MC_OK && mc_plot_ylog(p, 1) < 0) rc = MC_EARG;
    if (rc == MC_OK && mc_plot_series(p, "training", x, tr, k, MC_PLOT_LINE) < 0) rc = MC_EARG;
    if (rc == MC_OK && mc_plot_series(p, "validation", x, va, k, MC_PLOT_LINE) < 0) rc = MC_EARG;
    if (rc == MC_OK && mc_plot_series(p, "zero-chroma baseline (validation)", x, bl, k, MC_PLOT_LINE) < 0)
        rc = MC_EARG;
    if (rc == MC_OK) rc = mc_plot_save(p, path);
    mc_plot_free(p);
    free(x);
    return rc;
}

static int write_done(FILE *f, const char *path, void *arg) {
    const mc_colortrain_result *r = arg;
    fprintf(f, "best_val_mse=%.9g best_epoch=%d iters=%ld\n", r->best_val_mse, r->best_epoch, r->iters);
    return ferror(f) ? mc_err(MC_EIO, "%s: write error", path) : MC_OK;
}

static void emit_iter(const mc_colortrain_opts *o, mc_train_event *ev) {
    if (!mc_dist_is_root(o->dist)) return;
    if (!o->on_event) return;
    ev->label = "[colorize]";
    ev->stage = MC_STAGE_ALL;
    o->on_event(ev, o->event_ctx);
}

static void emit(const mc_colortrain_opts *o, const mc_color_event *ev) {
    if (!mc_dist_is_root(o->dist)) return;
    if (o->on_epoch) o->on_epoch(ev, o->epoch_ctx);
}

/* ---- the run ------------------------------------------------------------------------------- */
int mc_colortrain(mc_net *net, const mc_dataset *train, const mc_dataset *valid, const mc_colortrain_opts *o,
                  mc_colortrain_result *r) {
    memset(r, 0, sizeof *r);
    r->best_epoch = -1;
    r->best_val_mse = INFINITY;
    if (!train || !valid) return mc_err(MC_EARG, "colorization training needs a training and a validation set");
    if (strcmp(mc_net_layer_type(net, -1), "cost"))
        return mc_err(MC_EARG, "training needs a network that ends in [cost] (type=mse for colorization)");
    double ls = o->l_scale, lsh = o->l_shift;
    MC_TRY(mc_color_input_scaling(net, &ls, &lsh));
    /* B: the global batch; rank r computes its part [r Bl, (r + 1) Bl) of each (src/dist/) */
    const int Bl = mc_net_batch(net), B = Bl * mc_dist_size(o->dist), rank = mc_dist_rank(o->dist);
    const int root = mc_dist_is_root(o->dist); /* only rank 0 writes files */
    if (train->n < B)
        return mc_err(MC_EARG, "the training set has %d images, fewer than one batch (%d)", train->n, B);
    if (valid->n < 1) return mc_err(MC_EARG, "the validation set is empty");
    if (o->epochs < 1) return mc_err(MC_EARG, "epochs %d: must be >= 1", o->epochs);
    MC_TRY(mc_mkdirs(o->dir));
    char ckpt[4096], best[4096], last[4096], done[4096], logp[4096], sdir[4096];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", o->dir);
    snprintf(best, sizeof best, "%s/best.weights", o->dir);
    snprintf(last, sizeof last, "%s/last.weights", o->dir);
    snprintf(done, sizeof done, "%s/DONE", o->dir);
    snprintf(logp, sizeof logp, "%s/log.csv", o->dir);
    snprintf(sdir, sizeof sdir, "%s/samples", o->dir);
    long bpe = train->n / B; /* drop_last */
    long total = (long)o->epochs * bpe;
    if (o->max_iters > 0 && o->max_iters < total) total = o->max_iters;
    int epochs = (int)((total + bpe - 1) / bpe);

    mc_net_set_train(net, 1);
    long start = 0;
    double esum = 0; /* the current epoch's loss sum */
    logrow *rows = NULL;
    int nrows = 0, caprows = 0;
    if (o->resume && access(ckpt, F_OK) == 0) {
        mc_ckpt_meta m = {0};
        int rc = mc_checkpoint_load(net, ckpt, &m);
        if (rc < 0) return mc_err_context(rc, "resume");
        if (m.total_iters != total || m.batch != B || m.seed != o->seed || m.stage != MC_STAGE_ALL ||
            fabs(m.max_lr - o->opt.lr) > 1e-12 * fabs(o->opt.lr) || m.nlabels != 3)
            return mc_err(MC_EARG,
                          "%s: the checkpoint was made with other settings (%ld iterations, batch %d, seed %llu, "
                          "lr %g); now: %ld, %d, %llu, %g",
                          ckpt, m.total_iters, m.batch, (unsigned long long)m.seed, m.max_lr, total, B,
                          (unsigned long long)o->seed, o->opt.lr);
        MC_TRY(mc_checkpoint_check_precision(ckpt, &m, net));
        if (mc_net_opt_type(net) >= 0 && mc_net_opt_type(net) != o->opt.type)
            return mc_err(MC_EARG, "%s: the checkpoint was made with optimizer %s; now: %s", ckpt,
                          mc_optimizer_name(mc_net_opt_type(net)), mc_optimizer_name(o->opt.type));
        start = m.next_iter;
        r->best_val_mse = m.best_aucs[0];
        esum = m.best_aucs[1];
        r->best_epoch = (int)m.best_aucs[2];
        r->resumed = 1;
        MC_TRY(mc_colorlog_read(logp, &rows, &nrows));
        caprows = nrows;
        int keep = 0; /* the baseline row and the epochs the checkpoint has seen */
        while (keep < nrows && rows[keep].iter <= start) keep++;
        nrows = keep;
        if (nrows < 1) {
            free(rows);
            return mc_err(MC_EPARSE, "%s: lacks the rows up to the checkpoint's iteration %ld", logp, start);
        }
        r->base_mse = rows[0].val;
        r->base_psnr = rows[0].psnr;
        r->base_ssim = rows[0].ssim;
        mc_color_event ev = {.type = MC_CEV_RESUME, .epoch = (int)(start / bpe), .epochs = epochs, .iter = start,
                             .total = total, .val_mse = r->best_val_mse};
        emit(o, &ev);
    } else {
        if (o->init) MC_TRY(mc_net_init_params(net, NULL, o->seed));
        MC_TRY(mc_net_reset_optimizer(net));
    }
    {
        int rc0 = mc_dist_attach(o->dist, net, NULL); /* every rank starts from rank 0's state */
        if (rc0 < 0) {
            free(rows);
            return rc0;
        }
    }

    batchbuf b;
    MC_TRY(batch_alloc(&b, net));
    int rc = MC_OK;
    sheet sh = {0};
    if (o->samples > 0) {
        sh.k = o->samples < valid->n ? o->samples : valid->n;
        sh.W = 3 * (b.w + GAP) - GAP;
        sh.H = sh.k * (b.h + GAP) - GAP;
        sh.which = mc_malloc((size_t)sh.k * sizeof(int), "sample sheet");
        sh.px = mc_malloc((size_t)sh.W * sh.H * 3, "sample sheet");
        if (!sh.which || !sh.px) rc = MC_ENOMEM;
        for (int j = 0; rc == MC_OK && j < sh.k; j++) sh.which[j] = (int)((long)j * valid->n / sh.k);
        if (rc == MC_OK) memset(sh.px, 255, (size_t)sh.W * sh.H * 3);
        if (rc == MC_OK && root) rc = mc_mkdirs(sdir);
    }
    if (rc == MC_OK && !r->resumed) {
        /* the zero-chroma baseline; log.csv starts afresh with it */
        rc = validate(net, valid, &b, o->workers, ls, lsh, 1, NULL, o->dist, &r->base_mse, &r->base_psnr, &r->base_ssim);
        if (rc == MC_OK) {
            rows = mc_malloc(32 * sizeof *rows, "log");
            caprows = 32;
            if (!rows) rc = MC_ENOMEM;
        }
        if (rc == MC_OK) {
            rows[0] = (logrow){0, 0, NAN, r->base_mse, r->base_psnr, r->base_ssim, 0, 0};
            nrows = 1;
            logjob j = {rows, nrows};
            if (root) rc = mc_write_atomic(logp, write_log, &j);
            if (root) unlink(done);
        }
        mc_color_event ev = {.type = MC_CEV_BASELINE, .epochs = epochs, .total = total, .val_mse = r->base_mse,
                             .val_psnr = r->base_psnr, .val_ssim = r->base_ssim};
        if (rc == MC_OK) emit(o, &ev);
    }
    int *perm = mc_malloc((size_t)train->n * sizeof(int), "shuffle");
    if (!perm && rc == MC_OK) rc = MC_ENOMEM;
    double t0 = now(), te = t0;
    long it = start;
    int cur_epoch = -1;
    while (rc == MC_OK && it < total) {
        int e = (int)(it / bpe);
        long pos = it % bpe;
        if (e != cur_epoch) { /* epoch e's order: Fisher-Yates from (seed, e) alone */
            mc_rng rg;
            mc_rng_seed(&rg, mc_sample_key(o->seed, (uint64_t)e, UINT64_MAX));
            for (int i = 0; i < train->n; i++) perm[i] = i;
            for (int i = train->n - 1; i > 0; i--) {
                int j = (int)(mc_rng_u64(&rg) % (uint64_t)(i + 1));
                int t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
            }
            cur_epoch = e;
        }
        if ((rc = load_batch(&b, train, perm + pos * B + (long)rank * Bl, Bl, o->workers, ls, lsh)) < 0) break;
        if ((rc = mc_net_set_input(net, b.x)) < 0 || (rc = mc_net_set_truth(net, b.t, NULL)) < 0 ||
            (rc = mc_net_zero_grad(net)) < 0)
            break;
        rc = mc_net_forward(net);
        double loss = mc_net_loss(net);
        if (rc == MC_ENUM || !isfinite(loss)) {
            rc = mc_err(MC_ENUM, "[colorize] iteration %ld: the loss is %g — stopping; the last checkpoint is kept; "
                                 "a lower --lr (now %g) usually helps", it, loss, o->opt.lr);
            break;
        }
        if (rc < 0 || (rc = mc_net_backward(net)) < 0 || (rc = mc_dist_grads(o->dist, net)) < 0) break;
        if ((rc = mc_net_step(net, &o->opt)) < 0) break;
        it++;
        if ((rc = mc_dist_step_done(o->dist, net, it)) < 0) break;
        esum += loss;
        long in_epoch = it - (long)e * bpe;
        double el = now() - t0, ips = (double)(it - start) * B / (el > 0 ? el : 1);
        mc_train_event ev = {.type = MC_EV_ITER, .epoch = e + 1, .epochs = epochs, .iter = it, .total = total,
                             .in_epoch = in_epoch, .per_epoch = bpe, .loss = loss, .lr = o->opt.lr,
                             .img_per_s = ips, .eta_s = ips > 0 ? (double)(total - it) * B / ips : -1};
        emit_iter(o, &ev);
        int epoch_end = in_epoch == bpe || it == total;
        if (epoch_end) {
            mc_color_event cev = {.type = MC_CEV_EPOCH, .epoch = e + 1, .epochs = epochs, .iter = it, .total = total,
                                  .train_mse = esum / (double)in_epoch};
            if ((rc = validate(net, valid, &b, o->workers, ls, lsh, 0, sh.k ? &sh : NULL, o->dist, &cev.val_mse, &cev.val_psnr,
                               &cev.val_ssim)) < 0)
                break;
            cev.seconds = now() - te;
            te = now();
            char spath[4200];
            if (sh.k) {
                snprintf(spath, sizeof spath, "%s/epoch-%03d.png", sdir, e + 1);
                if (root && (rc = mc_png_write(spath, sh.px, sh.W, sh.H, 3)) < 0) break;
                cev.sheet = spath;
            }
            if (cev.val_mse < r->best_val_mse) {
                r->best_val_mse = cev.val_mse;
                r->best_epoch = e + 1;
                cev.best = 1;
                if (root && (rc = mc_net_save_weights(net, best)) < 0) break;
            }
            r->train_mse = cev.train_mse;
            r->val_mse = cev.val_mse;
            r->val_psnr = cev.val_psnr;
            r->val_ssim = cev.val_ssim;
            if (nrows == caprows) {
                logrow *nr = mc_realloc(rows, (size_t)(2 * caprows) * sizeof *nr, "log");
                if (!nr) {
                    rc = MC_ENOMEM;
                    break;
                }
                rows = nr;
                caprows *= 2;
            }
            rows[nrows++] = (logrow){e + 1, it, cev.train_mse, cev.val_mse, cev.val_psnr, cev.val_ssim, o->opt.lr,
                                     cev.seconds};
            logjob j = {rows, nrows};
            if (root && (rc = mc_write_atomic(logp, write_log, &j)) < 0) break;
            if (root && (rc = write_curves(o->dir, rows, nrows)) < 0) break;
            esum = 0;
            emit(o, &cev);
        }
        int signalled;
        if ((rc = mc_dist_any(o->dist, o->interrupt && *o->interrupt, &signalled)) < 0) break; /* all stop */
        int stop_now = (o->stop_after > 0 && epoch_end && it >= o->stop_after && it < total) || (signalled && it < total);
        if (epoch_end || stop_now) {
            if ((rc = mc_dist_check(o->dist, net, it)) < 0) break;
            mc_ckpt_meta m = {.next_iter = it, .total_iters = total, .best_auc = r->best_val_mse,
                              .best_iter = (long)r->best_epoch * bpe, .seed = o->seed, .batch = B,
                              .max_lr = o->opt.lr, .stage = MC_STAGE_ALL, .nlabels = 3};
            m.best_aucs[0] = r->best_val_mse;
            m.best_aucs[1] = esum;
            m.best_aucs[2] = r->best_epoch;
            if (root && (rc = mc_checkpoint_save(net, ckpt, &m)) < 0) break;
        }
        if (stop_now) {
            r->stopped = 1;
            r->interrupted = signalled;
            mc_color_event sev = {.type = MC_CEV_STOPPED, .epoch = e + 1, .epochs = epochs, .iter = it,
                                  .total = total, .interrupted = r->interrupted};
            emit(o, &sev);
            break;
        }
    }
    r->iters = it;
    r->epochs_done = (int)(it / bpe);
    if (rc == MC_OK && !r->stopped && root) rc = mc_net_save_weights(net, last);
    if (rc == MC_OK && !r->stopped && root) rc = mc_write_atomic(done, write_done, r);
    if (rc == MC_OK) rc = mc_dist_detach(o->dist, net); /* rank 0's files are written */
    else mc_dist_detach(NULL, net);
    free(perm);
    free(rows);
    free(sh.which);
    free(sh.px);
    batch_free(&b);
    return rc;
}

/* ---- colorize-predict ------------------------------------------------------------------------ */
int mc_colorize_predict_file(mc_net *net, const char *path, const char *out_png, double l_scale, double l_shift) {
    MC_TRY(mc_color_input_scaling(net, &l_scale, &l_shift));
    int C, h, w, B = mc_net_batch(net);
    mc_net_input_shape(net, &C, &h, &w);
    float *full, *small;
    int fw, fh, sw, sh;
    MC_TRY(mc_lab_load(path, 0, 0, &full, &fw, &fh));
    int rc = mc_lab_load(path, w, h, &small, &sw, &sh);
    if (rc < 0) {
        free(full);
        return rc;
    }
    size_t hw = (size_t)w * h, fn = (size_t)fw * fh;
    float *x = mc_calloc((size_t)B * C * hw, sizeof(float), "colorize input");
    float *out = mc_calloc((size_t)B * 2 * hw, sizeof(float), "colorize output");
    uint8_t *rgb = mc_malloc(3 * fn, "colorize output");
    rc = x && out && rgb ? MC_OK : MC_ENOMEM;
    if (rc == MC_OK) {
        for (size_t k = 0; k < hw; k++) x[k] = (float)((double)small[k] * l_scale + l_shift);
        for (int c = 1; c < C; c++) memcpy(x + c * hw, x, hw * sizeof(float));
        int was = mc_net_is_train(net);
        mc_net_set_train(net, 0);
        rc = mc_net_set_input(net, x);
        if (rc == MC_OK && !strcmp(mc_net_layer_type(net, -1), "cost"))
            rc = mc_net_set_truth(net, out, NULL); /* zeros: the loss is not used */
        if (rc == MC_OK) rc = mc_net_forward(net);
        if (rc == MC_OK) rc = mc_net_get_output(net, -1, out);
        mc_net_set_train(net, was);
    }
    for (int c = 0; c < 2 && rc == MC_OK; c++) {
        for (size_t k = 0; k < hw; k++) out[c * hw + k] *= 128.0f;
        rc = mc_resize_bilinear(out + c * hw, w, h, w, full + (size_t)(c + 1) * fn, fw, fh, NULL);
    }
    if (rc == MC_OK) {
        mc_lab_to_rgb8(full, fw, fh, rgb);
        rc = mc_png_write(out_png, rgb, fw, fh, 3);
    }
    free(full);
    free(small);
    free(x);
    free(out);
    free(rgb);
    return rc;
}
