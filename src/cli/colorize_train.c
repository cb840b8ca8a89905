/* colorize_train.c — `medcolor colorize-train` (learned colorization, Saini et al.: an image-to-
 * image experiment: src/train/colortrain.c, colorexp.c) and `medcolor colorize-predict` (RGB PNGs
 * at each input's size). `medcolor train X.exp` hands an .exp whose section is [colorize] to
 * colorize-train (docs/colorize.md). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli/cli.h"
#include "core/core.h"
#include "dist/dist.h"

typedef struct copts {
    const char *out, *weights, *train, *valid, *optimizer, *precision;
    long per_class, val_per_class, draw_seed, seed, batch, epochs, samples, workers, threads, gpu, max_iters,
        stop_after, size;
    double lr, wd, l_scale, l_shift;
    int resume, overwrite, quiet, plain;
    mc_strlist set;
} copts;

static void copts_init(copts *c) {
    memset(c, 0, sizeof *c);
    c->per_class = c->val_per_class = c->draw_seed = c->seed = c->batch = c->epochs = -1;
    c->samples = c->workers = c->threads = c->gpu = c->max_iters = c->stop_after = c->size = -1;
    c->lr = c->wd = -1;
    c->l_scale = c->l_shift = NAN;
}

static int replace_str(char **dst, const char *v) {
    if (!v) return 0;
    free(*dst);
    *dst = strdup(v);
    return *dst ? 0 : 1;
}

static int file_exists(const char *dir, const char *name) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

/* the run folder's files a fresh start replaces */
static void remove_run(const char *dir) {
    static const char *const files[] = {"checkpoint.safetensors", "best.weights", "last.weights", "log.csv",
                                        "loss.png", "DONE", "experiment.exp"};
    char p[4200];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
}

static int write_exp(FILE *f, const char *path, void *arg) {
    (void)path;
    return mc_colorexp_write(f, (const mc_colorexp *)arg);
}

typedef struct printer {
    int quiet;
} printer;

static void on_epoch(const mc_color_event *ev, void *ctx) {
    const printer *p = ctx;
    switch (ev->type) {
    case MC_CEV_BASELINE:
        printf("baseline val_mse %.6f psnr %.2f ssim %.4f (zero chroma)\n", ev->val_mse, ev->val_psnr, ev->val_ssim);
        break;
    case MC_CEV_EPOCH:
        printf("epoch %d/%d train_mse %.6f val_mse %.6f psnr %.2f ssim %.4f %.1fs%s\n", ev->epoch, ev->epochs,
               ev->train_mse, ev->val_mse, ev->val_psnr, ev->val_ssim, ev->seconds, ev->best ? " (best)" : "");
        break;
    case MC_CEV_RESUME:
        if (!p->quiet)
            fprintf(stderr, "[colorize] resuming at iteration %ld of %ld (%d epochs done, best val_mse %.6f)\n",
                    ev->iter, ev->total, ev->epoch, ev->val_mse);
        break;
    case MC_CEV_STOPPED:
        if (!p->quiet)
            fprintf(stderr, "[colorize] %s at iteration %ld: checkpoint written; continue with --resume\n",
                    ev->interrupted ? "interrupted" : "stopped as asked", ev->iter);
        break;
    default:
        break;
    }
    fflush(stdout);
}

static void say_data(const char *what, const char *dir, const mc_dataset *ds) {
    fprintf(stderr, "medcolor colorize-train: %s: %d images from %s (", what, ds->n, dir);
    for (int c = 0; c < ds->nlabels; c++) {
        int k = 0;
        for (int i = 0; i < ds->n; i++) k += mc_imgfolder_class(ds, i) == c;
        fprintf(stderr, "%s%s %d", c ? ", " : "", ds->labels[c], k);
    }
    fprintf(stderr, ")");
    if (ds->skipped) fprintf(stderr, "; %d other entries not read (first: %s)", ds->skipped, ds->skipped_first);
    fprintf(stderr, "\n");
}

/* One process's part of the run: all of it, or (started by mpirun/srun as one of N) its rank's
 * (docs/distributed.md): rank 0 alone prints and writes files; the checks before training are
 * the same on every rank (the same files), so only rank 0 reports their errors. */
static int run_rank(mc_colorexp *e, const copts *c, mc_dist *world) {
    const char *cmd = "colorize-train";
    const int root = mc_dist_is_root(world);
    /* the run folder: a fresh start never mixes with an earlier run's files */
    int started = e->out && (file_exists(e->out, "log.csv") || file_exists(e->out, "checkpoint.safetensors"));
    if (c->resume && !started) {
        if (root) fprintf(stderr, "medcolor %s: --resume: %s holds no run to continue\n", cmd, e->out);
        return 1;
    }
    if (c->resume && file_exists(e->out, "DONE")) {
        if (root) fprintf(stderr, "medcolor %s: %s: the run finished (DONE); nothing to resume\n", cmd, e->out);
        return 0;
    }
    if (!c->resume && started && !c->overwrite) {
        if (root)
            fprintf(stderr, "medcolor %s: %s holds a run: continue it with --resume, or start afresh with --overwrite\n",
                    cmd, e->out);
        return 1;
    }
    if (!c->resume && started && root) remove_run(e->out);
    if (mc_dist_barrier(world) < 0) { /* the others wait until rank 0 has removed it */
        fprintf(stderr, "medcolor %s: %s\n", cmd, mc_errmsg());
        return 1;
    }
    mc_dataset *tr = NULL, *va = NULL;
    if (mc_imgfolder_load(&tr, e->train, e->per_class, (uint32_t)e->draw_seed) < 0 ||
        mc_imgfolder_load(&va, e->valid, e->val_per_class, (uint32_t)e->draw_seed) < 0) {
        if (root) fprintf(stderr, "medcolor %s: %s\n", cmd, mc_errmsg());
        mc_dataset_free(tr);
        return 1;
    }
    if (!c->quiet) {
        say_data("training", e->train, tr);
        say_data("validation", e->valid, va);
    }
    /* the overrides, and an input scaling given here recorded in the network's [net] (l_scale,
     * l_shift) so that its weights carry it to colorize-predict and features */
    const char *set[19];
    char sset[2][64];
    int ns = 0;
    for (int i = 0; i < e->nset; i++) set[ns++] = e->set[i];
    if (!isnan(e->l_scale)) {
        snprintf(sset[0], sizeof sset[0], "net.l_scale=%.17g", e->l_scale);
        snprintf(sset[1], sizeof sset[1], "net.l_shift=%.17g", e->l_shift);
        set[ns++] = sset[0], set[ns++] = sset[1];
    }
    set[ns] = NULL;
    mc_net_opts no = {.batch = e->batch, .seed = e->seed, .set = set, .threads = e->threads, .precision = e->precision,
                      .backend = e->gpu >= 0 ? MC_BACKEND_CUDA : MC_BACKEND_CPU, .gpu = e->gpu > 0 ? e->gpu : 0};
    mc_net *net = NULL;
    int rc = MC_OK;
    rc = mc_dist_net_opts_cfg(world, &no, e->net, set, -1); /* each rank's batch (global / N), GPU, cores */
    if (rc == MC_OK) rc = mc_net_from_cfg(&net, e->net, &no);
    if (rc == MC_OK && e->weights && !c->resume) {
        /* partial: ImageNet weights fill the encoder, the decoder keeps its initialisation */
        mc_import_report rep;
        memset(&rep, 0, sizeof rep);
        rc = mc_net_import(net, e->weights, MC_IMPORT_PARTIAL, &rep);
        if (rc == MC_OK && !c->quiet)
            fprintf(stderr, "medcolor %s: %s: %d tensors imported, %d of the network's keep their initialisation%s%s%s, "
                            "%d of the file's unused\n",
                    cmd, e->weights, rep.loaded, rep.nmissing, rep.nmissing ? " (first: " : "",
                    rep.nmissing ? rep.missing[0].name : "", rep.nmissing ? ")" : "", rep.nunused + rep.nskipped);
        if (rc == MC_OK && rep.loaded == 0)
            rc = mc_err(MC_EARG, "%s: no tensor of the file matches the network %s", e->weights, e->net);
        mc_import_report_free(&rep);
    }
    mc_netmeta nm = {.cfg_file = e->net, .set = (char **)e->set, .nset = e->nset, .data = e->train};
    if (rc == MC_OK) rc = mc_net_set_meta(net, &nm);
    if (rc == MC_OK) rc = mc_mkdirs(e->out);
    char expp[4200];
    snprintf(expp, sizeof expp, "%s/experiment.exp", e->out);
    if (rc == MC_OK && !c->resume && root) rc = mc_write_atomic(expp, write_exp, e);
    if (rc < 0) {
        if (root) fprintf(stderr, "medcolor %s: %s\n", cmd, mc_errmsg());
        mc_net_free(net);
        mc_dataset_free(tr);
        mc_dataset_free(va);
        return 1;
    }
    mc_colortrain_opts o;
    mc_colorexp_opts(e, &o);
    o.resume = c->resume;
    o.stop_after = c->stop_after > 0 ? c->stop_after : 0;
    volatile sig_atomic_t *stop = mc_cli_catch_stop();
    o.interrupt = stop;
    mc_cli_progress prog;
    mc_cli_progress_init(&prog, c->quiet, c->plain);
    printer pr = {c->quiet};
    o.on_event = mc_cli_progress_event;
    o.event_ctx = &prog;
    o.on_epoch = on_epoch;
    o.epoch_ctx = &pr;
    o.dist = world;
    if (!c->quiet)
        fprintf(stderr, "medcolor %s: %s, %s lr %g, %d epochs, batch %d, seed %llu -> %s\n", cmd, e->net,
                mc_optimizer_name(e->optimizer), e->lr, e->epochs, mc_net_batch(net) * mc_dist_size(world),
                (unsigned long long)e->seed, e->out);
    mc_colortrain_result r;
    rc = mc_colortrain(net, tr, va, &o, &r);
    mc_net_free(net);
    mc_dataset_free(tr);
    mc_dataset_free(va);
    if (rc < 0) { /* any rank may fail alone here: it says which */
        mc_cli_fail(cmd, world);
        return 1;
    }
    if (!root) return 0;
    if (*stop) {
        fprintf(stderr, "medcolor %s: stopped by signal %d; the run continues with: medcolor %s %s --resume\n", cmd,
                (int)*stop, cmd, expp);
        return mc_cli_stop_status();
    }
    if (r.stopped) return 0;
    printf("final train_mse %.6f val_mse %.6f (baseline %.6f; best val_mse %.6f at epoch %d: %s/best.weights)\n",
           r.train_mse, r.val_mse, r.base_mse, r.best_val_mse, r.best_epoch, e->out);
    return 0;
}

static int run(mc_colorexp *e, const copts *c) {
    mc_dist *world;
    if (mc_dist_init(&world) < 0) {
        fprintf(stderr, "medcolor colorize-train: %s\n", mc_errmsg());
        return 1;
    }
    const int nranks = mc_dist_size(world);
    copts quiet = *c;
    if (!mc_dist_is_root(world)) quiet.quiet = 1;
    if (!quiet.quiet && nranks > 1)
        fprintf(stderr, "medcolor colorize-train: %d processes (data-parallel), %s on rank 0 (host %s)\n", nranks,
                e->gpu >= 0 ? "one GPU each" : "the CPU cores shared", mc_dist_host(world));
    int rc = run_rank(e, &quiet, world);
    if (rc == 1 && nranks > 1) mc_dist_abort(world, 1); /* one rank's error ends every rank at once */
    mc_dist_free(world);
    return rc;
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

int mc_cli_colorize_train(int argc, char **argv) {
    copts c;
    copts_init(&c);
    const mc_opt opts[] = {
        {"--train DIR", 's', &c.train, "training images: a folder, or one subfolder per class", NULL},
        {"--val DIR", 's', &c.valid, "validation images (the paper: 50+50 drawn from Kaggle's test/)", NULL},
        {"-o", 's', &c.out, "run folder: experiment.exp, log.csv, loss.png, samples/, weights, checkpoint",
         "runs/colorize-<net>-s<seed>"},
        {"--weights", 's', &c.weights, "initial weights imported over the fresh network (e.g. ImageNet ResNet "
                                      "safetensors for the encoder)", "none"},
        {"--per-class", 'i', &c.per_class, "training images drawn per class (0: all)", "200", "0..1073741824"},
        {"--val-per-class", 'i', &c.val_per_class, "validation images drawn per class (0: all)", "50", "0..1073741824"},
        {"--draw-seed", 'i', &c.draw_seed, "seed of the draws (numpy RandomState permutation per class)", "0",
         "0..2147483647"},
        {"--seed", 'i', &c.seed, "seed of initialisation and shuffling", "0", "0..2147483647"},
        {"--size N", 'i', &c.size, "the network's input N x N (the same as --set net.width=N --set net.height=N)",
         "the cfg's (256 in cfg/colorize/)", "8..8192"},
        {"--batch", 'i', &c.batch, "batch size", "the cfg's batch=", "1..65536"},
        {"--epochs", 'i', &c.epochs, "epochs", "10", "1..100000"},
        {"--optimizer NAME", 's', &c.optimizer, "adam, adamw, rmsprop or sgd", "adam", "adam|adamw|rmsprop|sgd"},
        {"--lr", 'd', &c.lr, "learning rate (constant)", "1e-4 (adam), 1e-3 (rmsprop), 1e-2 (sgd)", ">0"},
        {"--wd", 'd', &c.wd, "weight decay (decoupled)", "0", ">=0"},
        {"--l-scale", 'd', &c.l_scale, "network input = L * scale + shift", "1 (1 input channel), 1/50 (3)", NULL},
        {"--l-shift", 'd', &c.l_shift, "see --l-scale", "0 (1 input channel), -1 (3)", NULL},
        {"--samples", 'i', &c.samples, "validation images on each sample sheet (0: none)", "8", "0..64"},
        {"--max-iters", 'i', &c.max_iters, "cut the run to this many iterations (smoke runs)", "no cut",
         "1..2147483647"},
        {"--set", 'l', &c.set, "override a cfg key, layer.key=value (e.g. net.width=64)", NULL},
        {"--workers", 'i', &c.workers, "image decoding threads", "2", "1..64"},
        {"--threads", 'i', &c.threads, "compute threads (OpenMP/OpenBLAS)", "all cores", "0..1024"},
        MC_CLI_PRECISION_OPT(&c.precision),
        {"--gpu", 'i', &c.gpu, "train on CUDA device N (a build with make GPU=1 CUDNN=1)", "the CPU", "0..1024"},
        {"--resume", 'f', &c.resume, "continue a stopped run from its checkpoint", NULL},
        {"--overwrite", 'f', &c.overwrite, "start afresh in a run folder that holds a run", "refused"},
        {"--stop-after", 'i', &c.stop_after, "stop (resumably) at the first epoch end after this iteration", NULL,
         "1..2147483647"},
        {"--plain", 'f', &c.plain, "plain progress lines instead of a progress bar", "bar on a terminal"},
        {"--quiet", 'f', &c.quiet, "no progress output (the result lines only)", NULL},
        MC_CLI_WINDOW_OPT,
        {NULL, 0, NULL, NULL, NULL}};
    const char *pos[2];
    int npos;
    const char *syn = "medcolor colorize-train <experiment.exp> [options]\n"
                      "       medcolor colorize-train <net.cfg> --train DIR --val DIR [options]";
    const char *about =
        "Learned colorization (Saini et al.): trains an image-to-image network that predicts the CIELAB\n"
        "chroma (a, b)/128 of an image from its lightness L, with the network's [cost] (MSE). Prints the\n"
        "zero-chroma baseline, then per epoch the training and validation MSE and the PSNR and SSIM of\n"
        "the colourised validation images; keeps the weights of the lowest validation MSE. Images are\n"
        "resized to the network's input (bilinear) and drawn class-balanced from class subfolders\n"
        "(Kaggle's chest_xray/train/NORMAL, PNEUMONIA). Output: <run>/experiment.exp, log.csv, loss.png,\n"
        "samples/epoch-NNN.png (grey | prediction | target), best.weights, last.weights,\n"
        "checkpoint.safetensors. Ctrl-C / SIGTERM: a checkpoint, then --resume. docs/colorize.md";
    int r = mc_cli_parse("colorize-train", argc, argv, opts, pos, 2, &npos, syn, about);
    if (r) return r == 1 ? 0 : 2;
    if (npos != 1) return mc_cli_args_error("colorize-train", "<experiment.exp> or <net.cfg>", npos);
    if (c.resume && c.overwrite) {
        fprintf(stderr, "medcolor colorize-train: --resume and --overwrite: continue the run, or start it again, not both\n");
        return 2;
    }
    mc_colorexp e;
    mc_colorexp_init(&e);
    if (ends_with(pos[0], ".exp")) {
        if (mc_colorexp_load(&e, pos[0]) < 0) {
            fprintf(stderr, "medcolor colorize-train: %s\n", mc_errmsg());
            return 1;
        }
    } else {
        e.net = strdup(pos[0]);
        e.path = strdup("command line");
        if (!c.train || !c.valid) {
            fprintf(stderr, "medcolor colorize-train: with a cfg, --train DIR and --val DIR are needed (see --help)\n");
            mc_colorexp_clear(&e);
            return 2;
        }
    }
    int bad = replace_str(&e.train, c.train) || replace_str(&e.valid, c.valid) || replace_str(&e.weights, c.weights) ||
              replace_str(&e.out, c.out);
    if (c.per_class >= 0) e.per_class = (int)c.per_class;
    if (c.val_per_class >= 0) e.val_per_class = (int)c.val_per_class;
    if (c.draw_seed >= 0) e.draw_seed = c.draw_seed;
    if (c.seed >= 0) e.seed = (uint64_t)c.seed;
    if (c.batch > 0) e.batch = (int)c.batch;
    if (c.epochs > 0) e.epochs = (int)c.epochs;
    if (c.optimizer) e.optimizer = mc_optimizer_from_name(c.optimizer);
    if (c.lr > 0) e.lr = c.lr;
    if (c.wd >= 0) e.weight_decay = c.wd;
    if (!isnan(c.l_scale)) e.l_scale = c.l_scale;
    if (!isnan(c.l_shift)) e.l_shift = c.l_shift;
    if (c.samples >= 0) e.samples = (int)c.samples;
    if (c.workers >= 0) e.workers = (int)c.workers;
    if (c.threads >= 0) e.threads = (int)c.threads;
    if (c.gpu >= 0) e.gpu = (int)c.gpu;
    if (c.precision) e.precision = mc_cli_precision(c.precision);
    if (c.max_iters > 0) e.max_iters = c.max_iters;
    if (c.size > 0 && !bad) {
        if (e.nset + 2 > 16) {
            fprintf(stderr, "medcolor colorize-train: too many --set\n");
            mc_colorexp_clear(&e);
            return 2;
        }
        char buf[64];
        snprintf(buf, sizeof buf, "net.width=%ld", c.size);
        e.set[e.nset++] = strdup(buf);
        snprintf(buf, sizeof buf, "net.height=%ld", c.size);
        e.set[e.nset++] = strdup(buf);
    }
    for (int i = 0; i < c.set.n && !bad; i++) {
        if (e.nset >= 16) {
            fprintf(stderr, "medcolor colorize-train: too many --set\n");
            mc_colorexp_clear(&e);
            return 2;
        }
        e.set[e.nset++] = strdup(c.set.v[i]);
    }
    if (bad || mc_colorexp_resolve(&e) < 0) {
        fprintf(stderr, "medcolor colorize-train: %s\n", bad ? "out of memory" : mc_errmsg());
        mc_colorexp_clear(&e);
        return 1;
    }
    if (!e.out) {
        char b[256], buf[700];
        const char *s = strrchr(e.net, '/');
        snprintf(b, sizeof b, "%s", s ? s + 1 : e.net);
        char *dot = strrchr(b, '.');
        if (dot && dot != b) *dot = 0;
        snprintf(buf, sizeof buf, "runs/colorize-%s-s%llu", b, (unsigned long long)e.seed);
        e.out = strdup(buf);
    }
    int rc = run(&e, &c);
    mc_colorexp_clear(&e);
    return rc;
}

/* ---- colorize-predict ------------------------------------------------------------------------ */
int mc_cli_colorize_predict(int argc, char **argv) {
    const char *out = NULL;
    double l_scale = NAN, l_shift = NAN;
    long threads = -1;
    int quiet = 0;
    const char *precision = NULL;
    const mc_opt opts[] = {
        {"-o", 's', &out, "output folder: <image name>.png per image (RGB, the image's size)", NULL},
        {"--l-scale", 'd', &l_scale, "network input = L * scale + shift (as trained)", "1 (1 input channel), 1/50 (3)",
         NULL},
        {"--l-shift", 'd', &l_shift, "see --l-scale", "0 (1 input channel), -1 (3)", NULL},
        {"--threads", 'i', &threads, "compute threads", "all cores", "0..1024"},
        MC_CLI_PRECISION_OPT(&precision),
        {"--quiet", 'f', &quiet, "no progress output", NULL},
        MC_CLI_WINDOW_OPT,
        {NULL, 0, NULL, NULL, NULL}};
    const char *pos[4096];
    int npos;
    const char *syn = "medcolor colorize-predict [net.cfg] <weights|run folder> <image…|list.txt> -o DIR [options]";
    const char *about =
        "Colourises images with a network trained by colorize-train: each image's L at its own size is\n"
        "kept, the network's (a, b) (x 128, at the network's size) is resized bilinearly to it, and the\n"
        "result is written as an RGB PNG, DIR/<image name>.png. The cfg may be left out when the weights\n"
        "carry their network (weights written by colorize-train do); a colorize-train run folder stands\n"
        "for its best.weights. docs/colorize.md";
    int r = mc_cli_parse("colorize-predict", argc, argv, opts, pos, 4096, &npos, syn, about);
    if (r) return r == 1 ? 0 : 2;
    int has_cfg = npos >= 1 && mc_cli_is_cfg(pos[0]);
    if (npos < 2 + has_cfg) return mc_cli_args_error("colorize-predict", "[net.cfg] <weights> <image…>", npos);
    if (!out) {
        fprintf(stderr, "medcolor colorize-predict: -o DIR is needed (where the PNGs go)\n");
        return 2;
    }
    if (isnan(l_scale) != isnan(l_shift)) {
        fprintf(stderr, "medcolor colorize-predict: give both --l-scale and --l-shift, or neither\n");
        return 2;
    }
    char **paths;
    int n;
    if (mc_cli_collect_paths(npos - 1 - has_cfg, pos + 1 + has_cfg, &paths, &n) < 0) {
        fprintf(stderr, "medcolor colorize-predict: %s\n", mc_errmsg());
        return 1;
    }
    /* output names: the images' base names without extension, which must differ */
    char **names = calloc((size_t)(n ? n : 1), sizeof *names);
    int rc = names ? 0 : 1;
    for (int i = 0; i < n && !rc; i++) {
        const char *b = strrchr(paths[i], '/');
        b = b ? b + 1 : paths[i];
        size_t len = strlen(b) + 8;
        names[i] = malloc(len);
        if (!names[i]) {
            rc = 1;
            break;
        }
        snprintf(names[i], len, "%s", b);
        char *dot = strrchr(names[i], '.');
        if (dot && dot != names[i]) *dot = 0;
        strcat(names[i], ".png");
        for (int j = 0; j < i; j++)
            if (!strcmp(names[i], names[j])) {
                fprintf(stderr, "medcolor colorize-predict: %s and %s would both be written as %s/%s: give images "
                                "with different names\n", paths[j], paths[i], out, names[i]);
                rc = 2;
                break;
            }
    }
    mc_cli_net t;
    mc_net *net = NULL;
    /* a colorize-train run folder stands for its best.weights */
    const char *warg = pos[has_cfg];
    char wbuf[4200];
    struct stat st;
    if (stat(warg, &st) == 0 && S_ISDIR(st.st_mode) && file_exists(warg, "best.weights")) {
        snprintf(wbuf, sizeof wbuf, "%s/best.weights", warg);
        warg = wbuf;
        if (!quiet) fprintf(stderr, "medcolor colorize-predict: using %s\n", wbuf);
    }
    /* under mpirun/srun (docs/distributed.md): this process's contiguous part of the images (each
     * its own PNG: nothing to gather) and its share of the host's cores; rank 0 prints */
    mc_dist *world = NULL;
    mc_net_opts no = {.batch = 1, .threads = threads > 0 ? (int)threads : 0, .precision = mc_cli_precision(precision)};
    if (!rc && (mc_dist_init(&world) < 0 || mc_dist_net_opts(world, &no, 1, 1) < 0)) {
        fprintf(stderr, "medcolor colorize-predict: %s\n", mc_errmsg());
        rc = 1;
    }
    const int nranks = mc_dist_size(world), rank = mc_dist_rank(world);
    int lo, hi;
    mc_dist_part(world, n, &lo, &hi);
    if (rank > 0) quiet = 1;
    if (!rc) rc = mc_cli_net_resolve("colorize-predict", warg, &t);
    if (!rc) {
        rc = mc_cli_net_build("colorize-predict", has_cfg ? pos[0] : NULL, &t, &no, 0, 1, &net);
        mc_cli_net_free(&t);
    }
    if (!rc && mc_color_input_scaling(net, &l_scale, &l_shift) < 0) {
        fprintf(stderr, "medcolor colorize-predict: %s\n", mc_errmsg());
        rc = 1;
    }
    if (!rc && mc_mkdirs(out) < 0) {
        fprintf(stderr, "medcolor colorize-predict: %s\n", mc_errmsg());
        rc = 1;
    }
    mc_cli_pass pass;
    mc_cli_pass_init(&pass, "colorize-predict", "images", quiet);
    for (int i = lo; i < hi && !rc; i++) {
        char op[4200];
        snprintf(op, sizeof op, "%s/%s", out, names[i]);
        if (mc_colorize_predict_file(net, paths[i], op, l_scale, l_shift) < 0) {
            mc_cli_fail("colorize-predict", world);
            rc = 1;
            break;
        }
        mc_cli_pass_progress(i - lo + 1, hi - lo, &pass);
    }
    if (!rc && mc_dist_barrier(world) < 0) { /* every part written before rank 0 says so */
        fprintf(stderr, "medcolor colorize-predict: %s\n", mc_errmsg());
        rc = 1;
    }
    if (!rc && !quiet)
        fprintf(stderr, "medcolor colorize-predict: %d image%s written to %s/ (%d process%s)\n", n, n == 1 ? "" : "s",
                out, nranks, nranks == 1 ? "" : "es");
    if (rc && nranks > 1) mc_dist_abort(world, rc);
    mc_dist_free(world);
    mc_net_free(net);
    for (int i = 0; i < n; i++) {
        free(paths[i]);
        if (names) free(names[i]);
    }
    free(paths);
    free(names);
    return rc;
}
