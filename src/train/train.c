/* train.c — one training stage: one-cycle SGD over a dataset, validation (per-label AUC, mean
 * AUC) at every checkpoint, the best weights kept, atomic checkpoints and exact resume.
 *
 * A stage writes into its folder:
 *   checkpoint.safetensors   the whole state after the last checkpoint: every tensor, the SGD
 *                            momentum, and in the metadata the next iteration, the best AUC so
 *                            far, `seen` and the settings it was started with. Atomic.
 *   best.weights             the weights with the best validation mean AUC (darknet format)
 *   last.weights             the weights at the end of the stage
 *   DONE                     written last: the stage finished (a resumed run skips it)
 * and appends to the run's log.csv (every iteration) and valid.csv (every validation) through
 * src/train/runfiles.c, which owns their format.
 *
 * Exact resume: the loader's draws depend only on (seed, epoch, position), the schedule only on
 * the iteration, and the checkpoint holds everything else (parameters, BN running statistics,
 * momentum), so continuing from a checkpoint gives the same weights as not stopping.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "core/core.h"
#include "dist/dist.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int mc_mkdirs(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return mc_err(MC_EIO, "%s: cannot create folder (%s)", buf, strerror(errno));
            *p = c;
            if (!c) break;
        }
    }
    return MC_OK;
}

void mc_train_opts_default(mc_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->stage = MC_STAGE_COLOR;
    o->max_lr = 2e-3;
    o->epochs = 1;
    o->weight_decay = 1e-2;
    o->decoupled = 1;
    mc_optimizer_defaults(&o->opt, MC_OPTIM_SGD);
    o->cycle_momentum = 1;
    o->workers = 1;
    o->reinit_head = 1;
    mc_aug_opts_default(&o->aug);
}

/* ---- checkpoints ------------------------------------------------------------------------- */
int mc_checkpoint_save(const mc_net *net, const char *path, const mc_ckpt_meta *m) {
    mc_st_writer *w = mc_st_writer_new();
    if (!w) return MC_ENOMEM;
    int rc = MC_OK;
    int nt = mc_net_num_tensors(net);
    for (int i = 0; i < nt && rc == MC_OK; i++) {
        mc_tensor_info ti;
        mc_net_tensor_info(net, i, &ti);
        float *buf = mc_malloc(ti.numel * sizeof(float), "checkpoint");
        if (!buf) {
            rc = MC_ENOMEM;
            break;
        }
        int64_t shape[4];
        for (int k = 0; k < ti.ndim; k++) shape[k] = ti.dims[k];
        char name[300];
        snprintf(name, sizeof name, "t.%s", ti.name);
        rc = mc_net_tensor_get(net, i, buf);
        if (rc == MC_OK) rc = mc_st_writer_add(w, name, ti.ndim, shape, buf);
        free(buf);
    }
    size_t np = mc_net_num_params(net);
    float *mom = rc == MC_OK ? mc_malloc((np ? np : 1) * sizeof(float), "checkpoint momentum") : NULL;
    if (rc == MC_OK && !mom) rc = MC_ENOMEM;
    if (rc == MC_OK) rc = mc_net_get_momentum(net, mom);
    if (rc == MC_OK) {
        int64_t shape[1] = {(int64_t)np};
        rc = mc_st_writer_add(w, "momentum", 1, shape, mom);
    }
    /* the optimiser's other state tensors (Adam's second moment, RMSprop's buffers) and its
     * type and step count */
    for (int k = 1; k < MC_OPT_MAX_SLOTS && rc == MC_OK; k++) {
        if (!mc_net_opt_has_slot(net, k)) continue;
        char nm[16];
        snprintf(nm, sizeof nm, "opt.%d", k);
        int64_t shape[1] = {(int64_t)np};
        rc = mc_net_get_opt_state(net, k, mom);
        if (rc == MC_OK) rc = mc_st_writer_add(w, nm, 1, shape, mom);
    }
    free(mom);
    char v[64];
#define META(key, fmt, val)                                                                        \
    do {                                                                                           \
        snprintf(v, sizeof v, fmt, val);                                                           \
        if (rc == MC_OK) rc = mc_st_writer_meta(w, key, v);                                        \
    } while (0)
    if (rc == MC_OK) rc = mc_st_writer_meta(w, "format", "medcolor-checkpoint-1");
    META("next_iter", "%ld", m->next_iter);
    META("total_iters", "%ld", m->total_iters);
    META("best_auc", "%.17g", m->best_auc);
    META("best_iter", "%ld", m->best_iter);
    META("seed", "%llu", (unsigned long long)m->seed);
    META("batch", "%d", m->batch);
    META("max_lr", "%.17g", m->max_lr);
    META("stage", "%s", mc_stage_name(m->stage));
    META("seen", "%llu", (unsigned long long)mc_net_seen(net));
    if (mc_net_opt_type(net) >= 0) {
        META("optimizer", "%s", mc_optimizer_name(mc_net_opt_type(net)));
        META("opt_steps", "%lld", mc_net_opt_steps(net));
    }
    /* for the record only: a resume on another backend or thread count is allowed (and on the
     * CPU backend gives the same bytes: results do not depend on the thread count) */
    META("backend", "%s", mc_net_backend_name(net));
    if (mc_net_threads(net) > 0) META("threads", "%d", mc_net_threads(net));
    /* not only for the record: a resume must repeat the run's arithmetic (mc_train_stage) */
    META("precision", "%s", mc_net_precision(net) == MC_PRECISION_BF16 ? "bf16" : "fp32");
#undef META
    if (rc == MC_OK && m->nlabels > 0) {
        char list[MC_MAX_LABELS * 24];
        size_t o = 0;
        for (int j = 0; j < m->nlabels && j < MC_MAX_LABELS; j++)
            o += (size_t)snprintf(list + o, sizeof list - o, "%s%.17g", j ? "," : "", m->best_aucs[j]);
        rc = mc_st_writer_meta(w, "best_aucs", list);
    }
    if (rc == MC_OK) rc = mc_st_writer_save(w, path);
    mc_st_writer_free(w);
    return rc;
}

int mc_checkpoint_check_precision(const char *path, const mc_ckpt_meta *m, const mc_net *net) {
    if (m->precision < 0 || m->precision == mc_net_precision(net)) return MC_OK;
    const char *was = m->precision == MC_PRECISION_BF16 ? "bf16" : "fp32";
    return mc_err(MC_EARG,
                  "%s: the checkpoint was made at --precision %s; now: %s (a resume repeats the run's arithmetic: "
                  "resume with --precision %s, or start afresh without --resume)",
                  path, was, mc_net_precision(net) == MC_PRECISION_BF16 ? "bf16" : "fp32", was);
}

static int meta_num(mc_st *st, const char *key, double *out) {
    const char *s = mc_st_metadata(st, key);
    if (!s) return mc_err(MC_EPARSE, "%s: checkpoint lacks '%s'", mc_st_path(st), key);
    char *end;
    *out = strtod(s, &end);
    if (end == s || *end) return mc_err(MC_EPARSE, "%s: checkpoint '%s'='%s' is not a number", mc_st_path(st), key, s);
    return MC_OK;
}

/* A checkpoint is written by medcolor, but a damaged one must not load NaN silently: every value
 * finite, as mc_net_load_weights requires of weights. */
static int ckpt_finite(const char *path, const char *name, const float *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return mc_err(MC_EPARSE, "%s: tensor %s holds %s at element %zu (a damaged checkpoint)", path, name,
                          isnan(v[i]) ? "NaN" : "an infinity", i);
    return MC_OK;
}

int mc_checkpoint_load(mc_net *net, const char *path, mc_ckpt_meta *m) {
    mc_st *st;
    MC_TRY(mc_st_open(&st, path));
    int rc = MC_OK;
    const char *fmt = mc_st_metadata(st, "format");
    if (!fmt || strcmp(fmt, "medcolor-checkpoint-1"))
        rc = mc_err(MC_EPARSE, "%s: not a medcolor checkpoint", path);
    int nt = mc_net_num_tensors(net);
    for (int i = 0; i < nt && rc == MC_OK; i++) {
        mc_tensor_info ti;
        mc_net_tensor_info(net, i, &ti);
        char name[300];
        snprintf(name, sizeof name, "t.%s", ti.name);
        int64_t shape[4];
        for (int k = 0; k < ti.ndim; k++) shape[k] = ti.dims[k];
        float *buf = mc_malloc(ti.numel * sizeof(float), "checkpoint");
        if (!buf) {
            rc = MC_ENOMEM;
            break;
        }
        rc = mc_st_read_expect(st, name, ti.ndim, shape, buf);
        if (rc == MC_OK) rc = ckpt_finite(path, name, buf, ti.numel);
        if (rc == MC_OK) rc = mc_net_tensor_set(net, i, buf);
        free(buf);
    }
    size_t np = mc_net_num_params(net);
    if (rc == MC_OK) {
        float *mom = mc_malloc((np ? np : 1) * sizeof(float), "checkpoint momentum");
        int64_t shape[1] = {(int64_t)np};
        rc = mom ? mc_st_read_expect(st, "momentum", 1, shape, mom) : MC_ENOMEM;
        if (rc == MC_OK) rc = ckpt_finite(path, "momentum", mom, np);
        if (rc == MC_OK) rc = mc_net_set_momentum(net, mom);
        /* the other state tensors and the step count (absent in checkpoints of SGD runs) */
        for (int k = 1; k < MC_OPT_MAX_SLOTS && rc == MC_OK; k++) {
            char nm[16];
            snprintf(nm, sizeof nm, "opt.%d", k);
            if (mc_st_find(st, nm) < 0) { /* none: a state tensor of an earlier run is cleared */
                if (!mc_net_opt_has_slot(net, k)) continue;
                memset(mom, 0, (np ? np : 1) * sizeof(float));
            } else {
                rc = mc_st_read_expect(st, nm, 1, shape, mom);
            }
            if (rc == MC_OK) rc = mc_net_set_opt_state(net, k, mom);
        }
        const char *on = mc_st_metadata(st, "optimizer"), *os = mc_st_metadata(st, "opt_steps");
        int ot = on ? mc_optimizer_from_name(on) : -1;
        if (rc == MC_OK && on && ot < 0) rc = mc_err(MC_EPARSE, "%s: checkpoint optimizer '%s' unknown", path, on);
        if (rc == MC_OK) rc = mc_net_set_opt_progress(net, ot, os ? strtoll(os, NULL, 10) : 0);
        free(mom);
    }
    double d;
    if (rc == MC_OK && (rc = meta_num(st, "next_iter", &d)) == MC_OK) m->next_iter = (long)d;
    if (rc == MC_OK && (rc = meta_num(st, "total_iters", &d)) == MC_OK) m->total_iters = (long)d;
    if (rc == MC_OK && (rc = meta_num(st, "best_auc", &d)) == MC_OK) m->best_auc = d;
    if (rc == MC_OK && (rc = meta_num(st, "best_iter", &d)) == MC_OK) m->best_iter = (long)d;
    if (rc == MC_OK && (rc = meta_num(st, "batch", &d)) == MC_OK) m->batch = (int)d;
    if (rc == MC_OK && (rc = meta_num(st, "max_lr", &d)) == MC_OK) m->max_lr = d;
    if (rc == MC_OK) {
        const char *s = mc_st_metadata(st, "seed");
        m->seed = s ? strtoull(s, NULL, 10) : 0;
        s = mc_st_metadata(st, "seen");
        mc_net_set_seen(net, s ? strtoull(s, NULL, 10) : 0);
        s = mc_st_metadata(st, "stage");
        m->stage = s ? mc_stage_from_name(s) : -1;
        const char *ps = mc_st_metadata(st, "precision");
        m->precision = !ps ? -1 : !strcmp(ps, "bf16") ? MC_PRECISION_BF16 : !strcmp(ps, "fp32") ? MC_PRECISION_FP32 : -2;
        s = mc_st_metadata(st, "best_aucs");
        m->nlabels = 0;
        while (s && *s && m->nlabels < MC_MAX_LABELS) {
            char *end;
            m->best_aucs[m->nlabels++] = strtod(s, &end);
            s = *end == ',' ? end + 1 : NULL;
        }
        mc_clear_error();
        if (m->precision == -2)
            rc = mc_err(MC_EPARSE, "%s: checkpoint precision '%s' is neither fp32 nor bf16", path, ps);
    }
    mc_st_close(st);
    return rc;
}

/* ---- evaluation -------------------------------------------------------------------------- */
int mc_evaluate(mc_net *net, const mc_dataset *ds, int workers, float *probs, double *loss_out) {
    return mc_evaluate_progress(net, ds, workers, probs, loss_out, NULL, NULL);
}

int mc_evaluate_progress(mc_net *net, const mc_dataset *ds, int workers, float *probs, double *loss_out,
                         mc_pass_progress_fn progress, void *progress_ctx) {
    return mc_evaluate_dist(net, ds, workers, NULL, probs, loss_out, progress, progress_ctx);
}

int mc_evaluate_dist(mc_net *net, const mc_dataset *ds, int workers, mc_dist *dist, float *probs,
                     double *loss_out, mc_pass_progress_fn progress, void *progress_ctx) {
    int B = mc_net_batch(net), L = mc_net_num_outputs(net), c, h, w;
    mc_net_input_shape(net, &c, &h, &w);
    if (L != ds->nlabels)
        return mc_err(MC_ESHAPE, "the network has %d outputs but the dataset has %d labels", L, ds->nlabels);
    if (c != 1) return mc_err(MC_ESHAPE, "the network takes %d channels; medcolor's images are grey (1)", c);
    mc_loader_opts lo;
    mc_loader_opts_default(&lo);
    lo.batch = B * mc_dist_size(dist); /* each rank its part (src/dist/) */
    lo.part = mc_dist_rank(dist);
    lo.parts = mc_dist_size(dist);
    lo.h = h;
    lo.w = w;
    lo.train = 0;
    lo.threads = workers;
    lo.epochs = 1;
    mc_loader *ld;
    MC_TRY(mc_loader_new(&ld, ds, &lo));
    size_t per = (size_t)h * w;
    float *x = mc_calloc((size_t)B * per, sizeof(float), "eval batch");
    float *t = mc_calloc((size_t)B * L, sizeof(float), "eval labels");
    float *m = mc_calloc((size_t)B * L, sizeof(float), "eval mask");
    float *out = mc_calloc((size_t)B * L, sizeof(float), "eval outputs");
    int rc = (x && t && m && out) ? MC_OK : MC_ENOMEM;
    if (mc_dist_size(dist) > 1) memset(probs, 0, (size_t)ds->n * L * sizeof(float)); /* summed below */
    int was_train = mc_net_is_train(net);
    mc_net_set_train(net, 0);
    double lsum = 0, lcnt = 0;
    long done = 0;
    int is_cost = !strcmp(mc_net_layer_type(net, -1), "cost");
    while (rc == MC_OK) {
        mc_batch *b;
        if ((rc = mc_loader_next(ld, &b)) < 0 || !b) break;
        /* a last partial batch is padded with zeros (and mask 0) and the padding ignored */
        memcpy(x, b->images, (size_t)b->n * per * sizeof(float));
        memset(x + (size_t)b->n * per, 0, (size_t)(B - b->n) * per * sizeof(float));
        memcpy(t, b->labels, (size_t)b->n * L * sizeof(float));
        memcpy(m, b->mask, (size_t)b->n * L * sizeof(float));
        memset(t + (size_t)b->n * L, 0, (size_t)(B - b->n) * L * sizeof(float));
        memset(m + (size_t)b->n * L, 0, (size_t)(B - b->n) * L * sizeof(float));
        if ((rc = mc_net_set_input(net, x)) < 0) break;
        if (is_cost && (rc = mc_net_set_truth(net, t, m)) < 0) break;
        if ((rc = mc_net_forward(net)) < 0) break;
        if ((rc = mc_net_get_output(net, -1, out)) < 0) break;
        for (int i = 0; i < b->n; i++)
            for (int j = 0; j < L; j++) {
                float p = out[i * L + j];
                if (!is_cost) p = 1.0f / (1.0f + expf(-p));
                probs[(size_t)b->indices[i] * L + j] = p;
                float mm = m[i * L + j];
                if (mm > 0) {
                    double pc = fmin(fmax((double)p, 1e-12), 1 - 1e-12), y = t[i * L + j];
                    lsum -= y * log(pc) + (1 - y) * log(1 - pc);
                    lcnt += 1;
                }
            }
        done += b->n;
        if (progress) progress(done, ds->n, progress_ctx);
    }
    mc_net_set_train(net, was_train);
    mc_loader_free(ld);
    free(x);
    free(t);
    free(m);
    free(out);
    if (rc == MC_OK) rc = mc_dist_gather_eval(dist, probs, (size_t)ds->n * L, &lsum, &lcnt);
    if (loss_out) *loss_out = lcnt > 0 ? lsum / lcnt : (double)NAN;
    return rc;
}

int mc_mean_auc(const mc_dataset *ds, const float *probs, double *auc, double *mean) {
    double s = 0;
    int k = 0;
    *mean = NAN;
    for (int j = 0; j < ds->nlabels; j++) {
        MC_TRY(mc_auc(probs, ds->y, ds->mask, ds->n, ds->nlabels, j, &auc[j]));
        if (!isnan(auc[j])) {
            s += auc[j];
            k++;
        }
    }
    *mean = k ? s / k : (double)NAN;
    return MC_OK;
}

/* ---- progress: events for the caller (the library prints nothing) ------------------------ */
static void emit(const mc_train_opts *o, mc_train_event *ev) {
    if (!o->on_event) return;
    ev->label = o->label ? o->label : "";
    ev->stage = o->stage;
    o->on_event(ev, o->event_ctx);
}

/* ---- one stage --------------------------------------------------------------------------- */
static int write_done(FILE *f, const char *path, void *arg) {
    const mc_train_result *r = (const mc_train_result *)arg;
    fprintf(f, "best_auc=%.6f best_iter=%ld iters=%ld\n", r->best_auc, r->best_iter, r->iters);
    return ferror(f) ? mc_err(MC_EIO, "%s: write error", path) : MC_OK;
}

/* a log row buffered in f reaches the disk, or the run stops naming the file */
static int log_flush(FILE *f, const char *name) {
    if (!f) return MC_OK;
    if (fflush(f) != 0 || ferror(f))
        return mc_err(MC_EIO, "%s: write error (%s); the last checkpoint is kept, continue with --resume",
                      name ? name : "log", errno ? strerror(errno) : "I/O error");
    return MC_OK;
}

static int validate(mc_net *net, const mc_dataset *valid, const mc_train_opts *o, long it, int epoch, float *probs,
                    double *auc, double *mean, double *vloss) {
    MC_TRY(mc_evaluate_dist(net, valid, o->workers, o->dist, probs, vloss, NULL, NULL));
    MC_TRY(mc_mean_auc(valid, probs, auc, mean));
    if (o->vlog) {
        mc_valid_row row = {.stage = o->stage, .iter = it, .epoch = epoch + 1, .loss = *vloss, .mean = *mean,
                            .nlabels = valid->nlabels < MC_MAX_LABELS ? valid->nlabels : MC_MAX_LABELS};
        memcpy(row.auc, auc, (size_t)row.nlabels * sizeof *auc);
        MC_TRY(mc_valid_append(o->vlog, o->vlog_path, &row));
        MC_TRY(log_flush(o->vlog, o->vlog_path));
    }
    return MC_OK;
}

int mc_train(mc_net *net, const mc_dataset *train, const mc_dataset *valid, const mc_train_opts *o,
             mc_train_result *r) {
    memset(r, 0, sizeof *r);
    r->best_auc = -1;
    r->best_iter = -1;
    /* B: the global batch; each of the N ranks of o->dist computes B/N of it (src/dist/) */
    int B = mc_net_batch(net) * mc_dist_size(o->dist), L = mc_net_num_outputs(net), c, h, w;
    const int root = mc_dist_is_root(o->dist); /* only rank 0 writes files */
    mc_net_input_shape(net, &c, &h, &w);
    if (strcmp(mc_net_layer_type(net, -1), "cost"))
        return mc_err(MC_EARG, "training needs a network that ends in [cost]");
    if (L != train->nlabels)
        return mc_err(MC_ESHAPE, "the network has %d outputs but the training set has %d labels "
                                 "(use --set head.output=%d)", L, train->nlabels, train->nlabels);
    if (valid && valid->nlabels != L)
        return mc_err(MC_ESHAPE, "the validation set has %d labels, the network %d outputs", valid->nlabels, L);
    if (c != 1) return mc_err(MC_ESHAPE, "the network takes %d input channels; images are grey (1)", c);
    MC_TRY(mc_stage_check(net, o->stage));
    if (train->n < B)
        return mc_err(MC_EARG, "the training set has %d images, fewer than one batch (%d)", train->n, B);
    MC_TRY(mc_mkdirs(o->dir));
    char ckpt[4096], best[4096], last[4096], done[4096];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", o->dir);
    snprintf(best, sizeof best, "%s/best.weights", o->dir);
    snprintf(last, sizeof last, "%s/last.weights", o->dir);
    snprintf(done, sizeof done, "%s/DONE", o->dir);

    long bpe = train->n / B; /* drop_last, as fastai's training loader */
    long total = (long)o->epochs * bpe;
    if (o->max_iters > 0 && o->max_iters < total) total = o->max_iters;
    if (total < 1) return mc_err(MC_EARG, "nothing to train: %d epochs of %ld batches", o->epochs, bpe);
    long every = o->checkpoint_every > 0 ? o->checkpoint_every : bpe;
    mc_onecycle sched;
    mc_onecycle_default(&sched, total, o->max_lr);

    MC_TRY(mc_stage_apply(net, o->stage));
    mc_net_set_train(net, 1);
    long start = 0;
    int resumed = 0;
    if (o->resume && access(ckpt, F_OK) == 0) {
        mc_ckpt_meta m = {0};
        int rc = mc_checkpoint_load(net, ckpt, &m);
        if (rc < 0) return mc_err_context(rc, "resume");
        if (m.total_iters != total || m.batch != B || m.seed != o->seed || m.stage != o->stage ||
            fabs(m.max_lr - o->max_lr) > 1e-12 * fabs(o->max_lr))
            return mc_err(MC_EARG,
                          "%s: the checkpoint was made with other settings (stage %s, %ld iterations, batch %d, "
                          "seed %llu, max_lr %g); now: stage %s, %ld, %d, %llu, %g",
                          ckpt, mc_stage_name(m.stage), m.total_iters, m.batch, (unsigned long long)m.seed, m.max_lr,
                          mc_stage_name(o->stage), total, B, (unsigned long long)o->seed, o->max_lr);
        MC_TRY(mc_checkpoint_check_precision(ckpt, &m, net));
        if (mc_net_opt_type(net) >= 0 && mc_net_opt_type(net) != o->opt.type)
            return mc_err(MC_EARG, "%s: the checkpoint was made with optimizer %s; now: %s", ckpt,
                          mc_optimizer_name(mc_net_opt_type(net)), mc_optimizer_name(o->opt.type));
        start = m.next_iter;
        r->best_auc = m.best_auc;
        r->best_iter = m.best_iter;
        for (int j = 0; j < m.nlabels && j < MC_MAX_LABELS; j++) r->auc[j] = m.best_aucs[j];
        resumed = 1;
        MC_TRY(mc_log_cut(o->log, o->log_path, o->stage, start));
        MC_TRY(mc_valid_cut(o->vlog, o->vlog_path, o->stage, start));
        mc_train_event ev = {.type = MC_EV_RESUME, .iter = start, .total = total, .mean_auc = m.best_auc};
        emit(o, &ev);
    } else {
        /* a fresh start of this stage (rows of an attempt that died before its first checkpoint go) */
        if (o->resume) {
            MC_TRY(mc_log_cut(o->log, o->log_path, o->stage, 0));
            MC_TRY(mc_valid_cut(o->vlog, o->vlog_path, o->stage, 0));
        }
        if (o->reinit_head) MC_TRY(mc_net_init_params(net, "head", o->seed * 7919u + 17u + (uint64_t)o->stage));
        if (o->reinit_color && mc_net_group_params(net, "color") > 0)
            MC_TRY(mc_net_init_params(net, "color", o->seed * 104729u + 3u));
        MC_TRY(mc_net_reset_optimizer(net));
    }
    mc_dist_train_opts dto = {.bn_local = o->bn_local};
    MC_TRY(mc_dist_attach(o->dist, net, &dto));

    mc_loader_opts lo;
    mc_loader_opts_default(&lo);
    lo.batch = B;
    lo.part = mc_dist_rank(o->dist);
    lo.parts = mc_dist_size(o->dist);
    lo.h = h;
    lo.w = w;
    lo.train = 1;
    lo.shuffle = 1;
    lo.seed = o->seed * 2654435761u + (uint64_t)o->stage;
    lo.threads = o->workers;
    lo.drop_last = 1;
    lo.epochs = (int)((total + bpe - 1) / bpe);
    lo.start_epoch = (int)(start / bpe);
    lo.start_batch = (int)(start % bpe);
    lo.aug = o->aug;
    mc_loader *ld = NULL;
    float *probs = NULL;
    double *auc = NULL;
    int rc = start < total ? mc_loader_new(&ld, train, &lo) : MC_OK;
    if (valid) {
        probs = mc_calloc((size_t)valid->n * L, sizeof(float), "validation outputs");
        auc = mc_calloc((size_t)L, sizeof(double), "AUC");
        if (!probs || !auc) rc = MC_ENOMEM;
    }
    double t0 = now(), ema = NAN;
    long it = start;
    while (rc == MC_OK && it < total) {
        mc_batch *b;
        if ((rc = mc_loader_next(ld, &b)) < 0) break;
        if (!b) {
            rc = mc_err(MC_EIO, "the loader ended early at iteration %ld", it);
            break;
        }
        double lr, mom;
        mc_onecycle_at(&sched, it, &lr, &mom);
        if ((rc = mc_net_set_input(net, b->images)) < 0 || (rc = mc_net_set_truth(net, b->labels, b->mask)) < 0 ||
            (rc = mc_net_zero_grad(net)) < 0)
            break;
        rc = mc_net_forward(net);
        double loss = mc_net_loss(net);
        if (rc == MC_ENUM || !isfinite(loss)) {
            rc = mc_err(MC_ENUM,
                        "%s iteration %ld: the loss is %g — stopping. The last good checkpoint is kept (%s%s); "
                        "a lower --max-lr (now %g) usually helps",
                        o->label ? o->label : "training", it, loss, access(ckpt, F_OK) == 0 ? ckpt : "none written yet",
                        "", o->max_lr);
            break;
        }
        if (rc < 0 || (rc = mc_net_backward(net)) < 0 || (rc = mc_dist_grads(o->dist, net)) < 0) break;
        /* the step: lr from the schedule; the schedule's momentum is SGD's momentum or Adam's
         * beta1 (fastai's one-cycle) unless cycle_momentum is off. SGD's values are rounded to
         * float first, as mc_sgd holds them (the same bits as before the other optimisers). */
        mc_optimizer st = o->opt;
        st.lr = (double)(float)lr;
        st.weight_decay = (double)(float)o->weight_decay;
        st.decoupled = o->decoupled;
        int is_adam = st.type == MC_OPTIM_ADAM || st.type == MC_OPTIM_ADAMW;
        if (st.type != MC_OPTIM_SGD) {
            st.lr = lr;
            st.weight_decay = o->weight_decay;
        }
        if (o->cycle_momentum && st.type == MC_OPTIM_SGD) st.momentum = (double)(float)mom;
        if (o->cycle_momentum && is_adam) st.beta1 = mom;
        mom = is_adam ? st.beta1 : st.momentum; /* what log.csv's momentum column says */
        if ((rc = mc_net_step(net, &st)) < 0) break;
        it++;
        if ((rc = mc_dist_step_done(o->dist, net, it)) < 0) break;
        ema = isnan(ema) ? loss : 0.98 * ema + 0.02 * loss;
        if (o->log) {
            mc_log_row row = {o->stage, b->epoch + 1, it, loss, lr, mom, now() - t0};
            if ((rc = mc_log_append(o->log, o->log_path, &row)) < 0) break;
        }
        double el = now() - t0, ips = (double)(it - start) * B / (el > 0 ? el : 1);
        mc_train_event ev = {.type = MC_EV_ITER, .epoch = b->epoch + 1, .epochs = lo.epochs, .iter = it,
                             .total = total, .in_epoch = (it - 1) % bpe + 1, .per_epoch = bpe, .loss = ema,
                             .lr = lr, .img_per_s = ips, .eta_s = ips > 0 ? (double)(total - it) * B / ips : -1};
        emit(o, &ev);
        if (it % every == 0 || it == total) {
            int finite = 1;
            if ((rc = mc_net_params_finite(net, &finite)) < 0) break;
            if (!finite) {
                rc = mc_err(MC_ENUM, "%s iteration %ld: the weights are no longer finite — stopping; the last good "
                                     "checkpoint is kept; a lower --max-lr (now %g) usually helps",
                            o->label ? o->label : "training", it, o->max_lr);
                break;
            }
            if ((rc = log_flush(o->log, o->log_path)) < 0) break;
            double mean = NAN, vloss = NAN;
            if (valid) {
                if ((rc = validate(net, valid, o, it, b->epoch, probs, auc, &mean, &vloss)) < 0) break;
                mc_train_event vev = {.type = MC_EV_VALID, .epoch = b->epoch + 1, .epochs = lo.epochs, .iter = it,
                                      .total = total, .loss = vloss, .mean_auc = mean, .nlabels = L,
                                      .labels = (const char *const *)valid->labels, .auc = auc};
                emit(o, &vev);
                if (mean > r->best_auc || r->best_iter < 0) {
                    r->best_auc = mean;
                    r->best_iter = it;
                    memcpy(r->auc, auc, sizeof(double) * (size_t)(L < MC_MAX_LABELS ? L : MC_MAX_LABELS));
                    if (root && (rc = mc_net_save_weights(net, best)) < 0) break;
                }
            } else if (r->best_iter < 0 || it == total) {
                r->best_iter = it;
                if (root && (rc = mc_net_save_weights(net, best)) < 0) break;
            }
            if ((rc = mc_dist_check(o->dist, net, it)) < 0) break;
            mc_ckpt_meta m = {.next_iter = it, .total_iters = total, .best_auc = r->best_auc,
                              .best_iter = r->best_iter, .seed = o->seed, .batch = B, .max_lr = o->max_lr,
                              .stage = o->stage, .nlabels = L < MC_MAX_LABELS ? L : MC_MAX_LABELS};
            memcpy(m.best_aucs, r->auc, sizeof(double) * (size_t)m.nlabels);
            if (root && (rc = mc_checkpoint_save(net, ckpt, &m)) < 0) break;
            if (o->stop_after > 0 && it >= o->stop_after && it < total) {
                r->stopped = 1;
                break;
            }
        }
        int stop = 0; /* every rank stops at the same iteration, whichever got the signal */
        if ((rc = mc_dist_any(o->dist, o->interrupt && *o->interrupt, &stop)) < 0) break;
        if (stop && it < total) {
            /* asked to stop (a signal): save the state as it is now; no validation (a time limit
             * leaves little time), the next checkpoints and the result are those of a run that
             * never stopped */
            if (it % every != 0) {
                if ((rc = log_flush(o->log, o->log_path)) < 0) break;
                mc_ckpt_meta m = {.next_iter = it, .total_iters = total, .best_auc = r->best_auc,
                                  .best_iter = r->best_iter, .seed = o->seed, .batch = B, .max_lr = o->max_lr,
                                  .stage = o->stage, .nlabels = L < MC_MAX_LABELS ? L : MC_MAX_LABELS};
                memcpy(m.best_aucs, r->auc, sizeof(double) * (size_t)m.nlabels);
                if (root && (rc = mc_checkpoint_save(net, ckpt, &m)) < 0) break;
            }
            r->stopped = r->interrupted = 1;
            break;
        }
    }
    mc_loader_free(ld);
    r->iters = it;
    r->seconds = now() - t0;
    r->resumed = resumed;
    if (rc == MC_OK && root && !r->stopped) rc = mc_net_save_weights(net, last);
    if (rc == MC_OK && root && !r->stopped) rc = mc_write_atomic(done, write_done, r);
    if (rc == MC_OK) rc = mc_dist_detach(o->dist, net); /* rank 0's files are written */
    else mc_dist_detach(NULL, net);
    free(probs);
    free(auc);
    return rc;
}
