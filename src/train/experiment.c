/* experiment.c — a whole training schedule from one description (docs/training.md):
 *
 *     [experiment]
 *     net = cfg/resnet18-pixelshuffle.cfg
 *     data = data/chexpert.data
 *     output = runs/rn18-ps-seed1
 *     seed = 1
 *     [stage]
 *     stage = color          # T and C train, E frozen; T and C fresh
 *     [stage]
 *     stage = all            # everything trains, from the best color weights; C re-initialised
 *     [stage]
 *     stage = last           # transfer T and E to another dataset, train a fresh C
 *     data = data/nih.data
 *     max_lr = 1e-3
 *     epochs = 48
 *
 * Each stage starts from the best (validation mean AUC) weights of the stage before; when a
 * stage's dataset has another number of labels the network is rebuilt with head.output = that
 * number and T and E carried over by name. The user never chains weight files by hand.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "engine/cfg.h"
#include "core/core.h"

void mc_experiment_init(mc_experiment *e) {
    memset(e, 0, sizeof *e);
    e->seed = 0;
    e->workers = 1;
    e->threads = 0;
    e->gpu = -1;
    e->weight_decay = 1e-2;
    e->decoupled = 1;
    e->frozen_bn = MC_FROZEN_BN_BATCH;
}

void mc_experiment_clear(mc_experiment *e) {
    free(e->path);
    free(e->net);
    free(e->data);
    free(e->root);
    free(e->weights);
    free(e->out);
    for (int i = 0; i < e->nset; i++) free(e->set[i]);
    for (int i = 0; i < e->nstages; i++) free(e->st[i].data);
    mc_experiment_init(e);
}

void mc_stage_defaults(int stage, double *max_lr, int *epochs) {
    /* thesis Appendix B (CheXpert): baseline / color 2e-3 for 12 epochs; baseline-all / all
     * 2e-2 for 6; last layer (ChestX-ray14) 1e-3 for 48 */
    switch (stage) {
    case MC_STAGE_BASELINE_ALL:
    case MC_STAGE_ALL:
        *max_lr = 2e-2;
        *epochs = 6;
        break;
    case MC_STAGE_LAST:
        *max_lr = 1e-3;
        *epochs = 48;
        break;
    default:
        *max_lr = 2e-3;
        *epochs = 12;
    }
}

static int dup_str(char **dst, const char *s) {
    free(*dst);
    *dst = s ? mc_strdup(s) : NULL;
    return (!s || *dst) ? MC_OK : MC_ENOMEM;
}

static int get_double(mc_cfg_section *s, const char *key, double *out) {
    float f;
    if (!mc_cfg_has(s, key)) return MC_OK;
    MC_TRY(mc_cfg_float(s, key, 0, &f));
    const char *v;
    mc_cfg_str(s, key, NULL, &v);
    *out = strtod(v, NULL); /* keep the double the user wrote (mc_cfg_float validated it) */
    return MC_OK;
}

int mc_experiment_load(mc_experiment *e, const char *path) {
    mc_experiment_init(e);
    mc_cfg *cfg;
    MC_TRY(mc_cfg_parse_file(&cfg, path));
    int rc = dup_str(&e->path, path);
    char where[512];
    int seen_exp = 0;
    for (int i = 0; i < cfg->n && rc == MC_OK; i++) {
        mc_cfg_section *s = &cfg->s[i];
        if (!strcmp(s->type, "experiment")) {
            if (seen_exp++) {
                rc = mc_err(MC_EPARSE, "%s: [experiment] given twice", mc_cfg_where(s, NULL, where, sizeof where));
                break;
            }
            const char *v;
            static const char *const keys[] = {"net", "data", "root", "weights", "output"};
            char **dst[] = {&e->net, &e->data, &e->root, &e->weights, &e->out};
            for (int k = 0; k < 5 && rc == MC_OK; k++) {
                mc_cfg_str(s, keys[k], NULL, &v);
                rc = dup_str(dst[k], v);
            }
            int iv;
            if (rc == MC_OK && (rc = mc_cfg_int_range(s, "seed", 0, 0, 2147483647, &iv)) == MC_OK) e->seed = (uint64_t)iv;
            if (rc == MC_OK) rc = mc_cfg_int_range(s, "batch", 0, 0, 65536, &e->batch);
            if (rc == MC_OK) rc = mc_cfg_int_range(s, "workers", 1, 0, 64, &e->workers);
            if (rc == MC_OK) rc = mc_cfg_int_range(s, "threads", 0, 0, 1024, &e->threads);
            if (rc == MC_OK) rc = mc_cfg_int_range(s, "gpu", -1, -1, 1024, &e->gpu);
            if (rc == MC_OK) rc = get_double(s, "weight_decay", &e->weight_decay);
            if (rc == MC_OK) rc = mc_cfg_int_range(s, "decoupled_wd", 1, 0, 1, &e->decoupled);
            static const char *const fbn[] = {"batch", "running", NULL};
            if (rc == MC_OK) rc = mc_cfg_enum(s, "frozen_bn", fbn, MC_FROZEN_BN_BATCH, &e->frozen_bn);
            if (rc == MC_OK) rc = get_double(s, "subset", &e->subset);
            if (rc == MC_OK && (rc = mc_cfg_int_range(s, "subset_seed", 0, 0, 2147483647, &iv)) == MC_OK)
                e->subset_seed = (uint32_t)iv;
            char **items;
            int n;
            if (rc == MC_OK && (rc = mc_cfg_list(s, "set", &items, &n)) == MC_OK) {
                for (int k = 0; k < n && rc == MC_OK; k++) {
                    if (e->nset >= 16) {
                        rc = mc_err(MC_EPARSE, "%s: at most 16 set= overrides", mc_cfg_where(s, "set", where, sizeof where));
                        break;
                    }
                    e->set[e->nset] = mc_strdup(items[k]);
                    rc = e->set[e->nset++] ? MC_OK : MC_ENOMEM;
                }
                free(items);
            }
            if (rc == MC_OK) rc = mc_cfg_check_unused(s);
            if (rc == MC_OK && (!e->net || !e->data))
                rc = mc_err(MC_EPARSE, "%s: [experiment] needs net= and data=", mc_cfg_where(s, NULL, where, sizeof where));
        } else if (!strcmp(s->type, "stage")) {
            if (e->nstages >= MC_MAX_STAGES) {
                rc = mc_err(MC_EPARSE, "%s: at most %d stages", mc_cfg_where(s, NULL, where, sizeof where), MC_MAX_STAGES);
                break;
            }
            mc_exp_stage *st = &e->st[e->nstages++];
            const char *name, *data;
            mc_cfg_str(s, "stage", NULL, &name);
            if (!name) {
                rc = mc_err(MC_EPARSE, "%s: [stage] needs stage= (baseline, baseline-all, color, all or last)",
                            mc_cfg_where(s, NULL, where, sizeof where));
                break;
            }
            st->stage = mc_stage_from_name(name);
            if (st->stage < 0) {
                rc = mc_err(MC_EPARSE, "%s: %s", mc_cfg_where(s, "stage", where, sizeof where), mc_errmsg());
                break;
            }
            mc_cfg_str(s, "data", NULL, &data);
            rc = dup_str(&st->data, data);
            int iv;
            if (rc == MC_OK) rc = get_double(s, "max_lr", &st->max_lr);
            if (rc == MC_OK) rc = mc_cfg_int_range(s, "epochs", 0, 0, 100000, &st->epochs);
            if (rc == MC_OK && (rc = mc_cfg_int_range(s, "checkpoint_every", 0, 0, 2147483647, &iv)) == MC_OK)
                st->checkpoint_every = iv;
            if (rc == MC_OK && (rc = mc_cfg_int_range(s, "max_iters", 0, 0, 2147483647, &iv)) == MC_OK)
                st->max_iters = iv;
            if (rc == MC_OK) rc = mc_cfg_check_unused(s);
        } else {
            rc = mc_err(MC_EPARSE, "%s: unknown section [%s] (expected [experiment] and [stage])",
                        mc_cfg_where(s, NULL, where, sizeof where), s->type);
        }
    }
    if (rc == MC_OK && !seen_exp) rc = mc_err(MC_EPARSE, "%s: no [experiment] section", path);
    if (rc == MC_OK && e->nstages == 0) rc = mc_err(MC_EPARSE, "%s: no [stage] section", path);
    mc_cfg_free(cfg);
    if (rc < 0) mc_experiment_clear(e);
    return rc;
}

/* ---- running ----------------------------------------------------------------------------- */
static int load_split(const mc_experiment *e, const char *datapath, const char *split, int apply_subset,
                      mc_dataset **out) {
    mc_datafile *df;
    MC_TRY(mc_datafile_load(&df, datapath, e->root));
    if (apply_subset && e->subset > 0) {
        df->subset = e->subset;
        df->subset_seed = e->subset_seed;
    }
    int rc = mc_dataset_load(out, df, split);
    mc_datafile_free(df);
    if (rc < 0) return rc;
    int missing = 0;
    rc = mc_dataset_check_files(*out, 5, &missing);
    if (rc < 0) {
        mc_dataset_free(*out);
        *out = NULL;
    }
    return rc;
}

/* copies every tensor of src into dst that has the same name and shape; returns the count */
static int copy_by_name(mc_net *dst, const mc_net *src, const char *skip_group, int *copied) {
    *copied = 0;
    for (int i = 0; i < mc_net_num_tensors(dst); i++) {
        mc_tensor_info a, b;
        mc_net_tensor_info(dst, i, &a);
        if (skip_group && !strcmp(mc_net_layer_group(dst, a.layer), skip_group)) continue;
        int j = mc_net_find_tensor(src, a.name);
        if (j < 0) continue;
        mc_net_tensor_info(src, j, &b);
        if (b.numel != a.numel || b.ndim != a.ndim) continue;
        float *buf = mc_malloc(a.numel * sizeof(float), "transfer");
        if (!buf) return MC_ENOMEM;
        int rc = mc_net_tensor_get(src, j, buf);
        if (rc == MC_OK) rc = mc_net_tensor_set(dst, i, buf);
        free(buf);
        MC_TRY(rc);
        (*copied)++;
    }
    mc_clear_error();
    return MC_OK;
}

int mc_net_for_labels(mc_net **out, const char *cfg, const mc_net_opts *opts, int nlabels) {
    const char *set[40];
    int n = 0;
    for (int i = 0; opts->set && opts->set[i] && n < 38; i++) set[n++] = opts->set[i];
    set[n] = NULL;
    mc_net_opts o = *opts;
    o.set = set;
    MC_TRY(mc_net_from_cfg(out, cfg, &o));
    if (nlabels <= 0 || mc_net_num_outputs(*out) == nlabels) return MC_OK;
    mc_net_free(*out);
    *out = NULL;
    char head[64];
    snprintf(head, sizeof head, "head.output=%d", nlabels);
    set[n++] = head;
    set[n] = NULL;
    return mc_net_from_cfg(out, cfg, &o);
}

static int build_net(const mc_experiment *e, int nlabels, mc_net **out) {
    const char *set[20];
    int n = 0;
    for (int i = 0; i < e->nset; i++) set[n++] = e->set[i];
    set[n] = NULL;
    mc_net_opts o = {.batch = e->batch, .seed = e->seed, .set = set,
                     .backend = e->gpu >= 0 ? MC_BACKEND_CUDA : MC_BACKEND_CPU, .gpu = e->gpu > 0 ? e->gpu : 0,
                     .threads = e->threads};
    MC_TRY(mc_net_for_labels(out, e->net, &o, nlabels));
    mc_net_set_frozen_bn(*out, e->frozen_bn);
    return MC_OK;
}

/* the shortest of %.15g / %.17g that reads back as the same double */
static const char *fmt_double(double v, char *buf, size_t n) {
    snprintf(buf, n, "%.15g", v);
    if (strtod(buf, NULL) != v) snprintf(buf, n, "%.17g", v);
    return buf;
}

int mc_experiment_write(FILE *f, const mc_experiment *e, int resolve) {
    char b[40];
    fprintf(f, "[experiment]\nnet = %s\ndata = %s\n", e->net, e->data);
    if (e->root) fprintf(f, "root = %s\n", e->root);
    if (e->weights) fprintf(f, "weights = %s\n", e->weights);
    if (e->out) fprintf(f, "output = %s\n", e->out);
    fprintf(f, "seed = %llu\n", (unsigned long long)e->seed);
    if (e->batch) fprintf(f, "batch = %d\n", e->batch);
    if (e->gpu >= 0) fprintf(f, "gpu = %d\n", e->gpu);
    fprintf(f, "workers = %d\nthreads = %d\nweight_decay = %s\ndecoupled_wd = %d\nfrozen_bn = %s\n", e->workers,
            e->threads, fmt_double(e->weight_decay, b, sizeof b), e->decoupled,
            e->frozen_bn == MC_FROZEN_BN_RUNNING ? "running" : "batch");
    if (e->subset > 0) fprintf(f, "subset = %s\nsubset_seed = %u\n", fmt_double(e->subset, b, sizeof b), e->subset_seed);
    if (e->nset) {
        fprintf(f, "set = ");
        for (int i = 0; i < e->nset; i++) fprintf(f, "%s%s", i ? ", " : "", e->set[i]);
        fprintf(f, "\n");
    }
    for (int k = 0; k < e->nstages; k++) {
        const mc_exp_stage *s = &e->st[k];
        double lr = s->max_lr;
        int ep = s->epochs;
        if (resolve) {
            double dl;
            int de;
            mc_stage_defaults(s->stage, &dl, &de);
            if (lr <= 0) lr = dl;
            if (ep <= 0) ep = de;
        }
        fprintf(f, "\n[stage]\nstage = %s\n", mc_stage_name(s->stage));
        if (s->data) fprintf(f, "data = %s\n", s->data);
        if (lr > 0) fprintf(f, "max_lr = %s\n", fmt_double(lr, b, sizeof b));
        if (ep > 0) fprintf(f, "epochs = %d\n", ep);
        if (s->checkpoint_every) fprintf(f, "checkpoint_every = %ld\n", s->checkpoint_every);
        if (s->max_iters) fprintf(f, "max_iters = %ld\n", s->max_iters);
    }
    return ferror(f) ? mc_err(MC_EIO, "experiment: write error (disk full?)") : MC_OK;
}

static int write_settings(FILE *f, const char *path, void *arg) {
    const mc_experiment *e = (const mc_experiment *)arg;
    fprintf(f, "# the settings this run used (written by medcolor %s; rerun with: medcolor train %s --resume)\n",
            MC_VERSION, path);
    int rc = mc_experiment_write(f, e, 1);
    return rc < 0 ? mc_err(MC_EIO, "%s: write error (disk full?)", path) : rc;
}

typedef struct results_ctx {
    const mc_experiment *e;
    const char **data;     /* per stage */
    mc_train_result *res;  /* per stage */
    char ***labels;        /* per stage */
    int *nlabels;
    int n;                 /* stages finished */
} results_ctx;

static int write_results(FILE *f, const char *path, void *arg) {
    const results_ctx *c = (const results_ctx *)arg;
    fprintf(f, "stage_index,stage,data,label,auc,best_iter,iters,seconds\n");
    for (int k = 0; k < c->n; k++) {
        const mc_train_result *r = &c->res[k];
        for (int j = 0; j < c->nlabels[k]; j++)
            fprintf(f, "%d,%s,%s,\"%s\",%.6f,%ld,%ld,%.1f\n", k + 1, mc_stage_name(c->e->st[k].stage), c->data[k],
                    c->labels[k][j], r->auc[j], r->best_iter, r->iters, r->seconds);
        fprintf(f, "%d,%s,%s,mean,%.6f,%ld,%ld,%.1f\n", k + 1, mc_stage_name(c->e->st[k].stage), c->data[k],
                r->best_auc, r->best_iter, r->iters, r->seconds);
    }
    return ferror(f) ? mc_err(MC_EIO, "%s: write error", path) : MC_OK;
}

/* buf = a + "/" + b; an error when it does not fit */
static int pjoin(char *buf, size_t n, const char *a, const char *b) {
    if ((size_t)snprintf(buf, n, "%s/%s", a, b) >= n) return mc_err(MC_EARG, "path too long: %s/%s", a, b);
    return MC_OK;
}

/* K-STAGE/training.png: the stage's training loss (raw and smoothed) against iteration from
 * log.csv, and K-STAGE/valid.png: validation mean AUC against iteration from valid.csv. For
 * people; a failure to plot is not an error of the run. */
static void plot_stage(const char *logcsv, const char *validcsv, const char *stage, const char *dir) {
    FILE *f = fopen(logcsv, "r");
    if (!f) return;
    size_t cap = 1024, n = 0;
    double *x = malloc(cap * sizeof *x), *y = malloc(cap * sizeof *y), *sm = malloc(cap * sizeof *sm);
    char line[512];
    double avg = 0;
    while (x && y && sm && fgets(line, sizeof line, f)) {
        char st[32];
        int ep;
        long it;
        double loss;
        if (sscanf(line, "%31[^,],%d,%ld,%lf", st, &ep, &it, &loss) != 4 || strcmp(st, stage)) continue;
        if (n == cap) {
            cap *= 2;
            double *a = realloc(x, cap * sizeof *x), *b = realloc(y, cap * sizeof *y), *c = realloc(sm, cap * sizeof *sm);
            if (a) x = a;
            if (b) y = b;
            if (c) sm = c;
            if (!a || !b || !c) break;
        }
        x[n] = (double)it;
        y[n] = loss;
        avg = 0.98 * avg + 0.02 * loss;
        sm[n] = avg / (1 - pow(0.98, (double)(n + 1)));
        n++;
    }
    fclose(f);
    char path[4096];
    if (n > 1) {
        mc_plot *p = mc_plot_new(900, 560, "training loss", "iteration", "loss");
        if (p) {
            mc_plot_series(p, "loss", x, y, (int)n, MC_PLOT_LINE | MC_PLOT_THIN);
            mc_plot_series(p, "smoothed (0.98)", x, sm, (int)n, MC_PLOT_LINE);
            if (pjoin(path, sizeof path, dir, "training.png") == MC_OK) mc_plot_save(p, path);
            mc_plot_free(p);
        }
    }
    n = 0;
    f = fopen(validcsv, "r");
    while (f && fgets(line, sizeof line, f)) {
        char st[32];
        long it;
        if (sscanf(line, "%31[^,],%ld,", st, &it) != 2 || strcmp(st, stage)) continue;
        const char *last = strrchr(line, ',');
        if (!last || n >= cap) continue;
        x[n] = (double)it;
        y[n] = strtod(last + 1, NULL);
        n++;
    }
    if (f) fclose(f);
    if (n > 0) {
        mc_plot *p = mc_plot_new(900, 560, "validation", "iteration", "mean AUC");
        if (p) {
            mc_plot_series(p, "mean AUC", x, y, (int)n, MC_PLOT_LINE | MC_PLOT_MARKERS);
            if (pjoin(path, sizeof path, dir, "valid.png") == MC_OK) mc_plot_save(p, path);
            mc_plot_free(p);
        }
    }
    free(x);
    free(y);
    free(sm);
    mc_clear_error();
}

static FILE *open_log(const char *path, const char *header) {
    int fresh = access(path, F_OK) != 0;
    FILE *f = mc_fopen(path, "a+"); /* appends; readable for the cut on resume (train.c) */
    if (f && fresh) fprintf(f, "%s\n", header);
    return f;
}

int mc_experiment_run(const mc_experiment *e, int resume, int progress, long stop_after,
                      volatile sig_atomic_t *interrupt) {
    if (!e->out) return mc_err(MC_EARG, "%s: no output folder (output= or -o)", e->path ? e->path : "experiment");
    MC_TRY(mc_mkdirs(e->out));
    char path[4096];
    snprintf(path, sizeof path, "%s/experiment.exp", e->out);
    MC_TRY(mc_write_atomic(path, write_settings, (void *)e));
    char lpath[4096];
    snprintf(lpath, sizeof lpath, "%s/log.csv", e->out);
    FILE *log = open_log(lpath, "stage,epoch,iter,loss,lr,momentum,seconds");
    if (!log) return MC_EIO;
    mc_net *net = NULL;
    mc_train_result res[MC_MAX_STAGES];
    const char *datas[MC_MAX_STAGES];
    char **labels[MC_MAX_STAGES];
    int nlab[MC_MAX_STAGES];
    memset(labels, 0, sizeof labels);
    results_ctx rctx = {e, datas, res, labels, nlab, 0};
    int rc = MC_OK;
    for (int k = 0; k < e->nstages && rc == MC_OK; k++) {
        const mc_exp_stage *s = &e->st[k];
        const char *dpath = s->data ? s->data : e->data;
        datas[k] = dpath;
        int main_data = !s->data || !strcmp(s->data, e->data);
        mc_dataset *train = NULL, *valid = NULL;
        if ((rc = load_split(e, dpath, "train", main_data, &train)) < 0) break;
        if ((rc = load_split(e, dpath, "valid", 0, &valid)) < 0) {
            mc_dataset_free(train);
            break;
        }
        nlab[k] = train->nlabels;
        labels[k] = mc_calloc((size_t)train->nlabels, sizeof(char *), "labels");
        for (int j = 0; labels[k] && j < train->nlabels; j++) labels[k][j] = mc_strdup(train->labels[j]);
        /* the starting weights, in the network they were made for (the cfg as it is) */
        if (!net && e->weights) {
            if ((rc = build_net(e, -1, &net)) < 0) goto stage_done;
            if ((rc = mc_net_load_weights(net, e->weights)) < 0) goto stage_done;
        }
        /* the network for this stage's labels, carrying T and E over by name */
        if (!net || mc_net_num_outputs(net) != train->nlabels) {
            mc_net *nn;
            if ((rc = build_net(e, train->nlabels, &nn)) < 0) goto stage_done;
            if (net) {
                int copied;
                rc = copy_by_name(nn, net, "head", &copied);
                mc_net_free(net);
                net = nn;
                if (rc < 0) goto stage_done;
            }
            net = nn;
        }
        char dir[4096], label[64];
        snprintf(dir, sizeof dir, "%s/%d-%s", e->out, k + 1, mc_stage_name(s->stage));
        snprintf(label, sizeof label, "[%s]", mc_stage_name(s->stage));
        if ((rc = mc_mkdirs(dir)) < 0) goto stage_done;
        char done[4096], ck[4096];
        if ((rc = pjoin(done, sizeof done, dir, "DONE")) < 0 || (rc = pjoin(ck, sizeof ck, dir, "checkpoint.safetensors")) < 0 ||
            (rc = pjoin(path, sizeof path, dir, "valid.csv")) < 0)
            goto stage_done;
        {
            char header[4096];
            size_t o = (size_t)snprintf(header, sizeof header, "stage,iter,epoch,loss");
            for (int j = 0; j < valid->nlabels && o < sizeof header; j++)
                o += (size_t)snprintf(header + o, sizeof header - o, ",\"%s\"", valid->labels[j]);
            snprintf(header + o, sizeof header - o, ",mean");
            FILE *vlog = open_log(path, header);
            if (!vlog) {
                rc = MC_EIO;
                goto stage_done;
            }
            mc_train_opts o2;
            mc_train_opts_default(&o2);
            mc_stage_defaults(s->stage, &o2.max_lr, &o2.epochs);
            if (s->max_lr > 0) o2.max_lr = s->max_lr;
            if (s->epochs > 0) o2.epochs = s->epochs;
            o2.stage = s->stage;
            o2.checkpoint_every = s->checkpoint_every;
            o2.max_iters = s->max_iters;
            o2.weight_decay = e->weight_decay;
            o2.decoupled = e->decoupled;
            o2.workers = e->workers;
            o2.seed = e->seed * 1000003u + (uint64_t)k;
            o2.reinit_head = 1;
            o2.reinit_color = s->stage == MC_STAGE_COLOR && k == 0 && !e->keep_color;
            o2.dir = dir;
            o2.resume = resume;
            o2.progress = progress;
            o2.label = label;
            o2.log = log;
            o2.vlog = vlog;
            o2.log_path = lpath;
            o2.vlog_path = path;
            o2.stop_after = stop_after;
            o2.interrupt = interrupt;
            if (resume && access(done, F_OK) == 0) {
                /* finished before: take its result from the checkpoint and its best weights */
                mc_ckpt_meta m = {0};
                if ((rc = mc_checkpoint_load(net, ck, &m)) == MC_OK) {
                    memset(&res[k], 0, sizeof res[k]);
                    res[k].best_auc = m.best_auc;
                    res[k].best_iter = m.best_iter;
                    res[k].iters = m.next_iter;
                    for (int j = 0; j < m.nlabels; j++) res[k].auc[j] = m.best_aucs[j];
                    if (progress != 2)
                        fprintf(stderr, "%s finished before (best mean AUC %.4f): skipped\n", label, m.best_auc);
                }
            } else {
                rc = mc_train(net, train, valid, &o2, &res[k]);
            }
            if (fclose(vlog) != 0 && rc == MC_OK) rc = mc_err(MC_EIO, "%s: write error (%s)", path, strerror(errno));
            if (rc == MC_OK && (fflush(log) != 0 || ferror(log)))
                rc = mc_err(MC_EIO, "%s: write error (%s)", lpath, strerror(errno));
            if (rc == MC_OK) plot_stage(lpath, path, mc_stage_name(s->stage), dir);
            if (rc == MC_OK && res[k].stopped) {
                if (progress != 2 && res[k].interrupted)
                    fprintf(stderr, "%s interrupted at iteration %ld: checkpoint written; continue with --resume\n", label,
                            res[k].iters);
                else if (progress != 2)
                    fprintf(stderr, "%s stopped at iteration %ld as asked; continue with --resume\n", label, res[k].iters);
                mc_dataset_free(train);
                mc_dataset_free(valid);
                break;
            }
            if (rc < 0) goto stage_done; /* a failed stage ends the run (its checkpoint is kept) */
            /* the next stage starts from this stage's best weights */
            if ((rc = pjoin(path, sizeof path, dir, "best.weights")) < 0) goto stage_done;
            if (rc == MC_OK) rc = mc_net_load_weights(net, path);
            if (rc == MC_OK) {
                rctx.n = k + 1;
                snprintf(path, sizeof path, "%s/results.csv", e->out);
                rc = mc_write_atomic(path, write_results, &rctx);
                if (progress != 2) {
                    fprintf(stderr, "%s best at iteration %ld: ", label, res[k].best_iter);
                    for (int j = 0; j < valid->nlabels; j++)
                        fprintf(stderr, "%s%s %.3f", j ? ", " : "", valid->labels[j], res[k].auc[j]);
                    fprintf(stderr, "\n");
                }
                printf("%s mean AUC %.4f  (stage %d/%d, %s, %.0f s, weights %s/best.weights)\n", mc_stage_name(s->stage),
                       res[k].best_auc, k + 1, e->nstages, dpath, res[k].seconds, dir);
                fflush(stdout);
            }
        }
    stage_done:
        mc_dataset_free(train);
        mc_dataset_free(valid);
    }
    for (int k = 0; k < e->nstages; k++) {
        for (int j = 0; labels[k] && j < nlab[k]; j++) free(labels[k][j]);
        free(labels[k]);
    }
    if (fclose(log) != 0 && rc == MC_OK) rc = mc_err(MC_EIO, "%s: write error (%s)", lpath, strerror(errno));
    mc_net_free(net);
    return rc;
}
