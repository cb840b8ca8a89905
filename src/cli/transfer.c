/* transfer.c — `medcolor transfer`: reference-based colour transfer (Zeng et al. 2020;
 * docs/transfer.md). Chooses the reference (D-hash nearest of --refs, or --ref), builds VGG19 at
 * N×N, runs the two L-BFGS passes with progress, writes the result at the target's size and,
 * with --dump, the intermediate images, the masks, the loss log (CSV) and its plot. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "core/core.h"
#include "mc_image.h"
#include "mc_imaging.h"
#include "mc_io.h"
#include "mc_train.h"
#include "mc_transfer.h"

typedef struct logrow {
    int pass;
    long iter, nfev;
    double f, best;
    mc_tr_terms t;
} logrow;

typedef struct cli_ctx {
    long every;
    int quiet;
    logrow *rows;
    size_t n, cap;
    int oom;
} cli_ctx;

static int on_progress(const mc_transfer_progress *p, void *arg) {
    cli_ctx *c = arg;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 256;
        logrow *r = realloc(c->rows, cap * sizeof *r);
        if (!r) {
            c->oom = 1;
            return 1;
        }
        c->rows = r;
        c->cap = cap;
    }
    c->rows[c->n++] = (logrow){p->pass, p->iter, p->nfev, p->f, p->best_f, p->terms};
    if (!c->quiet && c->every > 0 && p->iter % c->every == 0)
        printf("pass %d iter %4ld evals %4ld loss %.6e best %.6e  content %.4e color %.4e y %.4e swap %.4e tv %.4e\n",
               p->pass, p->iter, p->nfev, p->f, p->best_f, p->terms.content, p->terms.color, p->terms.y, p->terms.swap,
               p->terms.tv);
    fflush(stdout);
    return 0;
}

static int log_writer(FILE *f, const char *path, void *arg) {
    const cli_ctx *c = arg;
    fprintf(f, "pass,iter,evals,loss,best,content,color,y,swap,tv\n");
    for (size_t i = 0; i < c->n; i++) {
        const logrow *r = &c->rows[i];
        fprintf(f, "%d,%ld,%ld,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g\n", r->pass, r->iter, r->nfev, r->f, r->best,
                r->t.content, r->t.color, r->t.y, r->t.swap, r->t.tv);
    }
    if (ferror(f)) return mc_err(MC_EIO, "%s: write error", path);
    return MC_OK;
}

static int write_png(const char *dir, const char *name, const uint8_t *px, int w, int h, int c) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return mc_png_write(path, px, w, h, c);
}

/* --dump DIR: images at N×N, masks, log.csv, loss.png */
static int dump(const char *dir, const mc_transfer_result *r, const cli_ctx *c, int k) {
    MC_TRY(mc_mkdirs(dir));
    int n = r->n;
    size_t np = (size_t)n * n;
    MC_TRY(write_png(dir, "target_n.png", r->target_n, n, n, 3));
    MC_TRY(write_png(dir, "ref_n.png", r->ref_n, n, n, 3));
    MC_TRY(write_png(dir, "pass1.png", r->pass1, n, n, 3));
    MC_TRY(write_png(dir, "result_n.png", r->raw, n, n, 3));
    if (r->smoothed) MC_TRY(write_png(dir, "smoothed_n.png", r->smoothed, n, n, 3));
    /* the k-means segmentation of both images: each cluster's mask as a white-on-black PNG */
    uint8_t *grey = malloc(np), *lab = malloc(np), *m = malloc(np * (size_t)k);
    int rc = grey && lab && m ? MC_OK : mc_err(MC_ENOMEM, "dump: masks");
    for (int which = 0; which < 2 && rc == MC_OK; which++) {
        mc_luma_pil(which ? r->ref_n : r->target_n, np, grey);
        if ((rc = mc_kmeans_grey(grey, np, k, 0, lab, NULL, NULL)) < 0) break;
        mc_kmeans_masks(lab, np, k, m);
        for (int ci = 0; ci < k && rc == MC_OK; ci++) {
            for (size_t i = 0; i < np; i++) m[(size_t)ci * np + i] *= 255;
            char name[64];
            snprintf(name, sizeof name, "mask_%s_%d.png", which ? "ref" : "target", ci);
            rc = write_png(dir, name, m + (size_t)ci * np, n, n, 1);
        }
    }
    free(grey);
    free(lab);
    free(m);
    MC_TRY(rc);
    char path[4096];
    snprintf(path, sizeof path, "%s/log.csv", dir);
    MC_TRY(mc_write_atomic(path, log_writer, (void *)c));
    if (c->n == 0) return MC_OK;
    double *x = malloc(c->n * sizeof(double)), *y = malloc(c->n * sizeof(double)), *b = malloc(c->n * sizeof(double));
    if (!x || !y || !b) {
        free(x);
        free(y);
        free(b);
        return mc_err(MC_ENOMEM, "dump: plot");
    }
    mc_plot *p = mc_plot_new(900, 560, "colour transfer: loss per L-BFGS iteration", "evaluations", "loss");
    rc = p ? MC_OK : mc_err(MC_ENOMEM, "dump: plot");
    if (rc == MC_OK) mc_plot_ylog(p, 1);
    long off = 0;
    for (int pass = 1; pass <= 2 && rc == MC_OK; pass++) {
        int m2 = 0;
        long last = 0;
        for (size_t i = 0; i < c->n; i++)
            if (c->rows[i].pass == pass && c->rows[i].f > 0 && c->rows[i].best > 0) {
                x[m2] = (double)(off + c->rows[i].nfev);
                y[m2] = c->rows[i].f;
                b[m2++] = c->rows[i].best;
                last = c->rows[i].nfev;
            }
        char name[48];
        snprintf(name, sizeof name, "pass %d loss", pass);
        if (m2 && (rc = mc_plot_series(p, name, x, y, m2, MC_PLOT_LINE | MC_PLOT_THIN)) >= 0) {
            snprintf(name, sizeof name, "pass %d best", pass);
            rc = mc_plot_series(p, name, x, b, m2, MC_PLOT_LINE | MC_PLOT_DASHED);
        }
        if (rc > 0) rc = MC_OK;
        off += last;
    }
    if (rc == MC_OK) {
        snprintf(path, sizeof path, "%s/loss.png", dir);
        rc = mc_plot_save(p, path);
    }
    mc_plot_free(p);
    free(x);
    free(y);
    free(b);
    return rc;
}

int mc_cli_transfer(int argc, char **argv) {
    const char *refs = NULL, *ref1 = NULL, *out = NULL, *index = NULL, *dumpdir = NULL, *vgg_input = "torchvision";
    const char *space = "ycbcr";
    long size = 224, init_iters = 1000, iters = 1000, kmeans = 4, seed = 0, every = 10, threads = 0, gpu = -1;
    double pgtol = 1e-5, factr = 1e7;
    double alpha_y = 0, wc = 1, wcol = 100, wy = 1e5, wsw = 10, wtv = 1e-3, gain = 1;
    int no_smooth = 0, quiet = 0;
    const mc_opt opts[] = {
        {"--refs DIR", 's', &refs, "reference folder: the reference is the D-hash nearest to TARGET (docs/transfer.md)",
         NULL},
        {"--ref IMAGE", 's', &ref1, "the reference image itself (no retrieval)", NULL},
        {"--index FILE", 's', &index, "with --refs: the cache of the references' hashes (as medcolor dhash --index)",
         "none"},
        {"-o, --output PNG", 's', &out, "the coloured image, at the target's size (required)", NULL},
        {"--size N", 'i', &size, "the images are optimised at NxN (the paper: 224; the authors' code: 112)", "224",
         ">=48,<=1024"},
        {"--init-iters N", 'i', &init_iters, "L-BFGS iterations of pass 1 (content + colour + TV)", "1000", ">=0"},
        {"--iters N", 'i', &iters, "L-BFGS iterations of pass 2 (every term)", "1000", ">=0"},
        {"--pgtol G", 'd', &pgtol,
         "stop a pass when the gradient's largest component is <= G (scipy's default; the gradient's scale depends "
         "on --vgg-input and the weights)", "1e-5", ">=0"},
        {"--factr F", 'd', &factr, "stop a pass when the relative loss reduction is <= F*2.2e-16 (scipy's default)",
         "1e7", ">=0"},
        {"--space S", 's', &space,
         "coordinates L-BFGS moves in: ycbcr (the Y-loss's gradient moves Y only, as the paper's eq. 8 intends) or "
         "rgb (the authors' code); the same objective", "ycbcr", "rgb|ycbcr"},
        {"--content-weight W", 'd', &wc, "alpha: weight of the content loss (relu4_2)", "1", ">=0"},
        {"--color-weight W", 'd', &wcol, "Gamma: weight of the masked-Gram colour loss", "100", ">=0"},
        {"--y-weight W", 'd', &wy, "lambda: weight of the Y-luminance loss (pass 2)", "1e5", ">=0"},
        {"--swap-weight W", 'd', &wsw, "gamma: weight of the local-feature swap loss (pass 2)", "10", ">=0"},
        {"--tv-weight W", 'd', &wtv, "weight of the total variation", "1e-3", ">=0"},
        {"--alpha-y A", 'd', &alpha_y, "Y-loss mix: A*L1 + (1-A)*L2", "0", "0..1"},
        {"--kmeans K", 'i', &kmeans, "clusters of the grey-level segmentation", "4", "1..32"},
        {"--no-smooth", 'f', &no_smooth, "skip the smoothing filter after the optimisation", "smoothing on"},
        {"--chroma-gain G", 'd', &gain, "scale the result's Cb/Cr about 128 before the merge", "1", ">=0,<=16"},
        {"--vgg-input CONV", 's', &vgg_input,
         "input convention of the weights: torchvision (RGB/255, ImageNet mean/std) or caffe (BGR 0-255 minus mean)",
         "torchvision", "torchvision|caffe"},
        {"--seed S", 'i', &seed, "seed of the start image's noise", "0", ">=0"},
        {"--print-every N", 'i', &every, "a progress line every N iterations (0: none)", "10", ">=0"},
        {"--dump DIR", 's', &dumpdir,
         "write the NxN images (target, reference, pass 1, result, smoothed), the k-means masks, log.csv and "
         "loss.png into DIR", "none"},
        {"--threads N", 'i', &threads, "CPU threads", "all cores", ">=0"},
        {"--gpu N", 'i', &gpu, "run VGG19 on CUDA device N (a build with make GPU=1 CUDNN=1)", "the CPU", "0..1024"},
        {"-q, --quiet", 'f', &quiet, "no progress lines", "off"},
        MC_CLI_WINDOW_OPT,
        {NULL, 0, NULL, NULL, NULL}};
    const char *syn = "medcolor transfer VGG_CFG WEIGHTS TARGET (--refs DIR | --ref IMAGE) -o OUT.png [options]";
    const char *about =
        "Colours a grey TARGET after a colour reference (Zeng et al. 2020): the image's pixels are optimised\n"
        "through a frozen VGG19 (VGG_CFG: cfg/vgg19.cfg; WEIGHTS: a .weights file from `medcolor import` or a\n"
        "torchvision vgg19 .safetensors) under content, masked-Gram colour, Y-luminance, local-feature swap and\n"
        "TV losses with L-BFGS in two passes, then smoothed and merged with the target's luminance (YCbCr).\n"
        "Prints the reference, progress lines and the best loss; docs/transfer.md has every definition.";
    const char *pos[8];
    int npos;
    int r = mc_cli_parse("transfer", argc, argv, opts, pos, 8, &npos, syn, about);
    if (r) return r == 1 ? 0 : 2;
    if (npos != 3) return mc_cli_args_error("transfer", "VGG_CFG WEIGHTS TARGET", npos);
    if (!out) {
        fprintf(stderr, "medcolor transfer: -o OUT.png is required\n");
        return 2;
    }
    if (!refs == !ref1) {
        fprintf(stderr, "medcolor transfer: give exactly one of --refs DIR and --ref IMAGE\n");
        return 2;
    }
    if (index && !refs) {
        fprintf(stderr, "medcolor transfer: --index caches a reference folder's hashes: give --refs DIR\n");
        return 2;
    }
    const char *cfg = pos[0], *weights = pos[1], *target_path = pos[2];
    mc_image8 target = {0}, ref = {0};
    mc_net *net = NULL;
    mc_reflib *lib = NULL;
    uint8_t *outpx = NULL;
    mc_transfer_result res = {0};
    cli_ctx ctx = {.every = every, .quiet = quiet};
    int status = 1;
    char refpath[4096];
    if (mc_image_load_rgb8(target_path, &target) < 0) goto fail;
    /* §2 step 1: the reference */
    if (refs) {
        if (mc_reflib_load(&lib, refs, index) < 0) goto fail;
        if (lib->n == 0) {
            fprintf(stderr, "medcolor transfer: %s: no .png/.jpg/.jpeg/.dcm/.dicom file in the reference folder\n", refs);
            goto done;
        }
        uint64_t q;
        mc_dhash(target.px, target.w, target.h, 3, &q);
        int dist = 0, best = mc_reflib_nearest(lib, q, &dist);
        snprintf(refpath, sizeof refpath, "%s", lib->v[best].path);
        printf("reference %s distance %d\n", refpath, dist);
    } else {
        snprintf(refpath, sizeof refpath, "%s", ref1);
        printf("reference %s\n", refpath);
    }
    fflush(stdout);
    if (mc_image_load_rgb8(refpath, &ref) < 0) goto fail;
    /* VGG19 at N×N */
    {
        char sw[32], sh[32];
        snprintf(sw, sizeof sw, "net.width=%ld", size);
        snprintf(sh, sizeof sh, "net.height=%ld", size);
        const char *set[] = {sw, sh, NULL};
        mc_net_opts no = {.batch = 1, .no_init = 1, .threads = (int)threads, .set = set,
                           .backend = gpu >= 0 ? MC_BACKEND_CUDA : MC_BACKEND_CPU, .gpu = gpu > 0 ? (int)gpu : 0};
        if (mc_net_from_cfg(&net, cfg, &no) < 0) goto fail;
        size_t wl = strlen(weights);
        if (wl > 12 && !strcmp(weights + wl - 12, ".safetensors")) {
            mc_import_report rep;
            if (mc_net_import(net, weights, 0, &rep) < 0) {
                mc_import_report_free(&rep);
                goto fail;
            }
            if (rep.nunused)
                fprintf(stderr, "medcolor transfer: %s: %d tensors unused (past the last tap, e.g. %s)\n", weights,
                        rep.nunused, rep.unused[0].name);
            mc_import_report_free(&rep);
        } else if (mc_net_load_weights(net, weights) < 0) {
            goto fail;
        }
    }
    mc_transfer_opts to;
    mc_transfer_opts_default(&to);
    to.size = (int)size;
    to.init_iters = init_iters;
    to.iters = iters;
    to.pgtol = pgtol;
    to.space = !strcmp(space, "ycbcr") ? MC_TR_SPACE_YCBCR : MC_TR_SPACE_RGB;
    to.factr = factr;
    to.w = (mc_tr_weights){.content = wc, .color = wcol, .y = wy, .swap = wsw, .tv = wtv, .alpha_y = alpha_y};
    to.setup.kmeans = (int)kmeans;
    to.setup.vgg_input = !strcmp(vgg_input, "caffe") ? MC_VGG_CAFFE : MC_VGG_TORCHVISION;
    to.smooth = !no_smooth;
    to.chroma_gain = gain;
    to.seed = (uint64_t)seed;
    to.progress = on_progress;
    to.progress_ctx = &ctx;
    outpx = malloc((size_t)target.w * target.h * 3);
    if (!outpx) {
        mc_err(MC_ENOMEM, "transfer: output of %dx%d", target.w, target.h);
        goto fail;
    }
    if (mc_transfer(net, target.px, target.w, target.h, ref.px, ref.w, ref.h, &to, outpx, &res) < 0) goto fail;
    if (ctx.oom) {
        mc_err(MC_ENOMEM, "transfer: the loss log");
        goto fail;
    }
    printf("passes: %ld + %ld evaluations; pass 2 loss %.6e -> best loss %.6e\n", res.nfev1, res.nfev2, res.init_loss,
           res.best_loss);
    printf("best loss %.6e\n", res.best_loss);
    if (mc_png_write(out, outpx, target.w, target.h, 3) < 0) goto fail;
    printf("wrote %s (%dx%d)\n", out, target.w, target.h);
    if (dumpdir) {
        if (dump(dumpdir, &res, &ctx, (int)kmeans) < 0) goto fail;
        printf("dumped into %s\n", dumpdir);
    }
    status = 0;
    goto done;
fail:
    fprintf(stderr, "medcolor transfer: %s\n", mc_errmsg());
done:
    mc_transfer_result_free(&res);
    free(outpx);
    free(ctx.rows);
    if (lib) mc_reflib_free(lib);
    if (net) mc_net_free(net);
    mc_image8_free(&target);
    mc_image8_free(&ref);
    return status;
}
