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
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include "engine/cfg.h"
#include "engine/net.h"
#include "core/core.h"
#include "dist/dist.h"

#define MAX_SET 16 /* mc_experiment.set */

void mc_experiment_init(mc_experiment *e) {
    memset(e, 0, sizeof *e);
    e->workers = 1;
    e->threads = 0;
    e->bn_sync = 1;
    e->gpu = -1;
    /* unset: mc_experiment_resolve takes them from the cfg's [net] or the built-in defaults */
    e->seed = MC_SEED_UNSET;
    e->weight_decay = -1;
    e->decoupled = -1;
    e->frozen_bn = -1;
    e->optimizer = -1;
    e->beta1 = e->beta2 = e->eps = e->alpha = e->momentum = -1;
    e->centered = e->cycle_momentum = -1;
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
    return mc_cfg_double(s, key, *out, out);
}

/* keys that, when given, set a value (absent: *out unchanged, i.e. unset) */
static int opt_int(mc_cfg_section *s, const char *key, int lo, int hi, int *out) {
    if (!mc_cfg_has(s, key)) return MC_OK;
    return mc_cfg_int_range(s, key, lo, lo, hi, out);
}
/* max_lr > 0, epochs >= 1, checkpoint_every >= 1 or epoch ([experiment] and [stage] alike) */
static int stage_keys(mc_cfg_section *s, double *max_lr, int *epochs, long *every) {
    MC_TRY(mc_cfg_double_min(s, "max_lr", *max_lr, 0, 1, max_lr));
    MC_TRY(opt_int(s, "epochs", 1, 100000, epochs));
    return mc_cfg_checkpoint_every(s, every);
}

/* optimizer = sgd|adam|adamw|rmsprop and its settings (unset when absent; which optimiser each
 * applies to is checked by mc_experiment_resolve, where the command line has had its say) */
static int optimizer_keys(mc_cfg_section *s, mc_experiment *e) {
    const char *name = NULL;
    char where[512];
    MC_TRY(mc_cfg_str(s, "optimizer", NULL, &name));
    if (name && (e->optimizer = mc_optimizer_from_name(name)) < 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", mc_errmsg());
        return mc_err(MC_EPARSE, "%s: [%s] optimizer=%s: %s", mc_cfg_where(s, "optimizer", where, sizeof where), s->type,
                      name, msg);
    }
    /* ranges: betas in [0, 1), alpha in [0, 1], eps and momentum >= 0 */
    static const struct {
        const char *key;
        double hi;
        int hi_open;
        const char *range;
    } keys[] = {{"beta1", 1, 1, "in [0, 1)"}, {"beta2", 1, 1, "in [0, 1)"}, {"eps", INFINITY, 0, ">= 0"},
                {"alpha", 1, 0, "in [0, 1]"}, {"momentum", INFINITY, 0, ">= 0"}};
    double *dst[] = {&e->beta1, &e->beta2, &e->eps, &e->alpha, &e->momentum};
    for (int k = 0; k < 5; k++) {
        if (!mc_cfg_has(s, keys[k].key)) continue;
        double v;
        MC_TRY(mc_cfg_double(s, keys[k].key, 0, &v));
        if (!(v >= 0 && (keys[k].hi_open ? v < keys[k].hi : v <= keys[k].hi)) || !isfinite(v)) {
            const mc_cfg_kv *kv = mc_cfg_find(s, keys[k].key);
            return mc_err(MC_EPARSE, "%s:%d: [%s] %s=%s: expected a number %s", kv->file, kv->line, s->type, kv->key,
                          kv->val, keys[k].range);
        }
        *dst[k] = v;
    }
    if (mc_cfg_has(s, "centered")) MC_TRY(mc_cfg_int_range(s, "centered", 0, 0, 1, &e->centered));
    if (mc_cfg_has(s, "cycle_momentum")) MC_TRY(mc_cfg_int_range(s, "cycle_momentum", 1, 0, 1, &e->cycle_momentum));
    return MC_OK;
}

/* The optimiser of the experiment's stages (e resolved). */
static void experiment_optimizer(const mc_experiment *e, mc_optimizer *o) {
    mc_optimizer_defaults(o, e->optimizer >= 0 ? e->optimizer : MC_OPTIM_SGD);
    if (e->beta1 >= 0) o->beta1 = e->beta1;
    if (e->beta2 >= 0) o->beta2 = e->beta2;
    if (e->eps >= 0) o->eps = e->eps;
    if (e->alpha >= 0) o->alpha = e->alpha;
    if (e->momentum >= 0) o->momentum = e->momentum;
    if (e->centered >= 0) o->centered = e->centered;
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
            int iv = -1;
            if (rc == MC_OK && (rc = opt_int(s, "seed", 0, 2147483647, &iv)) == MC_OK && iv >= 0) e->seed = (uint64_t)iv;
            if (rc == MC_OK) rc = mc_cfg_int_range(s, "batch", 0, 0, 65536, &e->batch);
            if (rc == MC_OK) rc = mc_cfg_int_range(s, "workers", 1, 0, 64, &e->workers);
            if (rc == MC_OK) rc = mc_cfg_int_range(s, "threads", 0, 0, 1024, &e->threads);
            if (rc == MC_OK) rc = mc_cfg_int_range(s, "gpu", -1, -1, 1024, &e->gpu);
            static const char *const prec[] = {"fp32", "bf16", NULL};
            if (rc == MC_OK && mc_cfg_has(s, "precision"))
                rc = mc_cfg_enum(s, "precision", prec, MC_PRECISION_FP32, &e->precision);
            if (rc == MC_OK) rc = mc_cfg_int_range(s, "bn_sync", 1, 0, 1, &e->bn_sync);
            if (rc == MC_OK) rc = mc_cfg_int_range(s, "batch_per_rank", 0, 0, 1, &e->batch_per_rank);
            if (rc == MC_OK) rc = mc_cfg_double_min(s, "weight_decay", e->weight_decay, 0, 0, &e->weight_decay);
            if (rc == MC_OK) rc = opt_int(s, "decoupled_wd", 0, 1, &e->decoupled);
            static const char *const fbn[] = {"batch", "running", NULL};
            if (rc == MC_OK && mc_cfg_has(s, "frozen_bn"))
                rc = mc_cfg_enum(s, "frozen_bn", fbn, MC_FROZEN_BN_BATCH, &e->frozen_bn);
            if (rc == MC_OK) rc = optimizer_keys(s, e);
            if (rc == MC_OK) rc = stage_keys(s, &e->max_lr, &e->epochs, &e->checkpoint_every);
            if (rc == MC_OK) rc = get_double(s, "subset", &e->subset);
            if (rc == MC_OK && mc_cfg_has(s, "subset") && !(e->subset > 0 && e->subset <= 1)) {
                mc_cfg_kv *kv = mc_cfg_find(s, "subset");
                rc = mc_err(MC_EPARSE, "%s:%d: [experiment] subset=%s: expected a fraction of the training split in (0, 1]",
                            kv->file, kv->line, kv->val);
            }
            if (rc == MC_OK && (rc = mc_cfg_int_range(s, "subset_seed", 0, 0, 2147483647, &iv)) == MC_OK)
                e->subset_seed = (uint32_t)iv;
            if (rc == MC_OK) rc = mc_cfg_overrides(s, e->set, &e->nset, 16);
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
            if (rc == MC_OK) rc = stage_keys(s, &st->max_lr, &st->epochs, &st->checkpoint_every);
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

/* ---- the settings in effect ------------------------------------------------------------------
 * Precedence (docs/training.md): command line (applied to e by the CLI) > [stage] > [experiment]
 * > the cfg's [net] (with its net.* overrides) > built-in (the paper's stage defaults, weight
 * decay 1e-2 decoupled, seed 0, batch statistics in frozen BN, a checkpoint per epoch). */
int mc_experiment_resolve(mc_experiment *e) {
    if (!e->net) return mc_err(MC_EARG, "%s: no network cfg (net=)", e->path ? e->path : "experiment");
    const char *set[MAX_SET + 1];
    int n = 0;
    for (int i = 0; i < e->nset && n < MAX_SET; i++) set[n++] = e->set[i];
    set[n] = NULL;
    mc_net_train_keys k;
    MC_TRY(mc_net_cfg_train_keys(e->net, set, &k));
    if (e->seed == MC_SEED_UNSET) e->seed = k.seed >= 0 ? (uint64_t)k.seed : 0;
    if (e->weight_decay < 0) e->weight_decay = k.weight_decay >= 0 ? k.weight_decay : 1e-2;
    if (e->decoupled < 0) e->decoupled = k.decoupled >= 0 ? k.decoupled : 1;
    if (e->frozen_bn < 0) e->frozen_bn = k.frozen_bn >= 0 ? k.frozen_bn : MC_FROZEN_BN_BATCH;
    /* the optimiser: sgd unless said; a setting the chosen optimiser would not use is an error */
    if (e->optimizer < 0) e->optimizer = MC_OPTIM_SGD;
    if (e->cycle_momentum < 0) e->cycle_momentum = 1;
    const int opt = e->optimizer, adam = opt == MC_OPTIM_ADAM || opt == MC_OPTIM_ADAMW;
    const char *where = e->path ? e->path : "experiment";
    const struct {
        const char *key;
        int given, applies;
        const char *to;
    } use[] = {
        {"beta1", e->beta1 >= 0, adam && !e->cycle_momentum, "adam and adamw with cycle_momentum = 0 (one-cycle sets it)"},
        {"beta2", e->beta2 >= 0, adam, "adam and adamw"},
        {"eps", e->eps >= 0, opt != MC_OPTIM_SGD, "adam, adamw and rmsprop"},
        {"alpha", e->alpha >= 0, opt == MC_OPTIM_RMSPROP, "rmsprop"},
        {"centered", e->centered >= 0, opt == MC_OPTIM_RMSPROP, "rmsprop"},
        {"momentum", e->momentum >= 0, opt == MC_OPTIM_RMSPROP || (opt == MC_OPTIM_SGD && !e->cycle_momentum),
         "rmsprop, and sgd with cycle_momentum = 0 (one-cycle sets it)"},
    };
    for (size_t i = 0; i < sizeof use / sizeof use[0]; i++)
        if (use[i].given && !use[i].applies)
            return mc_err(MC_EARG, "%s: %s is a setting of %s; the optimizer is %s%s", where, use[i].key, use[i].to,
                          mc_optimizer_name(opt), e->cycle_momentum && opt != MC_OPTIM_RMSPROP ? " with cycle_momentum = 1" : "");
    for (int i = 0; i < e->nstages; i++) {
        mc_exp_stage *st = &e->st[i];
        double lr;
        int ep;
        mc_stage_defaults(st->stage, &lr, &ep);
        if (st->max_lr <= 0) st->max_lr = e->max_lr > 0 ? e->max_lr : k.max_lr > 0 ? k.max_lr : lr;
        if (st->epochs <= 0) st->epochs = e->epochs > 0 ? e->epochs : k.epochs > 0 ? k.epochs : ep;
        if (st->checkpoint_every == 0)
            st->checkpoint_every = e->checkpoint_every ? e->checkpoint_every
                                   : k.checkpoint_every ? k.checkpoint_every
                                                        : MC_EVERY_EPOCH;
    }
    return MC_OK;
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

static const char *dims_str(const mc_tensor_info *t, char *buf, size_t n) {
    size_t o = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < t->ndim && o < n; d++) o += (size_t)snprintf(buf + o, n - o, "%s%d", d ? ", " : "", t->dims[d]);
    if (o < n) snprintf(buf + o, n - o, "]");
    return buf;
}

static int same_shape(const mc_tensor_info *a, const mc_tensor_info *b) {
    if (a->ndim != b->ndim || a->numel != b->numel) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->dims[d] != b->dims[d]) return 0;
    return 1;
}

/* Carries the weights from src into dst, the same cfg rebuilt for another number of labels:
 * every tensor outside group `head` (T, E and any other group; C starts fresh anyway) must be
 * in both networks, by name, with the same shape, and is copied; otherwise nothing is carried
 * and the error names the first tensor that cannot be, and how many cannot. */
static int carry_weights(mc_net *dst, const mc_net *src, const char *head, const char *what) {
    char first[600] = "", sa[64], sb[64];
    int bad = 0;
    for (int i = 0; i < mc_net_num_tensors(dst); i++) {
        mc_tensor_info a, b;
        mc_net_tensor_info(dst, i, &a);
        if (!strcmp(mc_net_layer_group(dst, a.layer), head)) continue;
        int j = mc_net_find_tensor(src, a.name);
        if (j >= 0) mc_net_tensor_info(src, j, &b);
        if (j >= 0 && same_shape(&a, &b)) continue;
        if (bad++) continue;
        if (j < 0)
            snprintf(first, sizeof first, "%s %s (group %s) is not in the network before", a.name,
                     dims_str(&a, sa, sizeof sa), mc_net_layer_group(dst, a.layer));
        else
            snprintf(first, sizeof first, "%s (group %s) is %s now but %s in the network before", a.name,
                     mc_net_layer_group(dst, a.layer), dims_str(&a, sa, sizeof sa), dims_str(&b, sb, sizeof sb));
    }
    /* and nothing outside the head is left behind */
    for (int j = 0; j < mc_net_num_tensors(src); j++) {
        mc_tensor_info b;
        mc_net_tensor_info(src, j, &b);
        if (!strcmp(mc_net_layer_group(src, b.layer), head) || mc_net_find_tensor(dst, b.name) >= 0) continue;
        if (!bad++)
            snprintf(first, sizeof first, "%s %s (group %s) of the network before has no place in the new one", b.name,
                     dims_str(&b, sb, sizeof sb), mc_net_layer_group(src, b.layer));
    }
    mc_clear_error();
    if (bad)
        return mc_err(MC_ESHAPE,
                      "%s: the weights outside group %s cannot be carried over: %s (%d tensor%s in all; a layer "
                      "whose shape depends on the number of labels belongs in group=%s)",
                      what, head, first, bad, bad == 1 ? "" : "s", head);
    for (int i = 0; i < mc_net_num_tensors(dst); i++) {
        mc_tensor_info a;
        mc_net_tensor_info(dst, i, &a);
        if (!strcmp(mc_net_layer_group(dst, a.layer), head)) continue;
        int j = mc_net_find_tensor(src, a.name);
        float *buf = mc_malloc(a.numel * sizeof(float), "carried weights");
        if (!buf) return MC_ENOMEM;
        int rc = j >= 0 ? mc_net_tensor_get(src, j, buf) : j;
        if (rc == MC_OK) rc = mc_net_tensor_set(dst, i, buf);
        free(buf);
        MC_TRY(rc);
    }
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

static int build_net(const mc_experiment *e, int nlabels, mc_dist *dist, mc_net **out) {
    const char *set[MAX_SET + 1];
    int n = 0;
    for (int i = 0; i < e->nset && n < MAX_SET; i++) set[n++] = e->set[i];
    set[n] = NULL;
    mc_net_opts o = {.batch = e->batch, .seed = e->seed, .set = set,
                     .backend = e->gpu >= 0 ? MC_BACKEND_CUDA : MC_BACKEND_CPU, .gpu = e->gpu > 0 ? e->gpu : 0,
                     .threads = e->threads, .precision = e->precision};
    MC_TRY(mc_dist_net_opts_cfg(dist, &o, e->net, set, e->batch_per_rank)); /* each rank's batch, GPU, cores */
    MC_TRY(mc_net_for_labels(out, e->net, &o, nlabels));
    if (e->frozen_bn >= 0) mc_net_set_frozen_bn(*out, e->frozen_bn); /* else the cfg's */
    return MC_OK;
}

/* the shortest of %.15g / %.17g that reads back as the same double */
static const char *fmt_double(double v, char *buf, size_t n) {
    snprintf(buf, n, "%.15g", v);
    if (strtod(buf, NULL) != v) snprintf(buf, n, "%.17g", v);
    return buf;
}

/* A value written as "key = value" reads back as itself: what mc_cfg_value_writable says, and not
 * starting with '#' (after "= " that is a comment). */
static int check_value(const char *key, const char *v, int stage) {
    if (!v || mc_cfg_value_writable(v)) return MC_OK;
    return mc_err(MC_EARG,
                  "experiment: %s%s = '%s' cannot be written so that it reads back (a value may not start with '#', "
                  "hold ' #', control characters, or begin or end with a blank)",
                  stage ? "[stage] " : "", key, v);
}

int mc_experiment_write(FILE *f, const mc_experiment *e, int resolve) {
    char b[40];
    MC_TRY(check_value("net", e->net, 0));
    MC_TRY(check_value("data", e->data, 0));
    MC_TRY(check_value("root", e->root, 0));
    MC_TRY(check_value("weights", e->weights, 0));
    MC_TRY(check_value("output", e->out, 0));
    for (int i = 0; i < e->nset; i++) MC_TRY(check_value("set", e->set[i], 0));
    for (int k = 0; k < e->nstages; k++) MC_TRY(check_value("data", e->st[k].data, 1));
    fprintf(f, "[experiment]\nnet = %s\ndata = %s\n", e->net, e->data);
    if (e->root) fprintf(f, "root = %s\n", e->root);
    if (e->weights) fprintf(f, "weights = %s\n", e->weights);
    if (e->out) fprintf(f, "output = %s\n", e->out);
    if (e->seed != MC_SEED_UNSET) fprintf(f, "seed = %llu\n", (unsigned long long)e->seed);
    if (e->batch) fprintf(f, "batch = %d\n", e->batch);
    if (e->gpu >= 0) fprintf(f, "gpu = %d\n", e->gpu);
    if (e->precision == MC_PRECISION_BF16) fprintf(f, "precision = bf16\n");
    fprintf(f, "workers = %d\nthreads = %d\n", e->workers, e->threads);
    if (!e->bn_sync) fprintf(f, "bn_sync = 0\n");
    if (e->batch_per_rank) fprintf(f, "batch_per_rank = 1\n");
    /* unset ones are left out: they come from the cfg's [net] or the built-in defaults */
    if (e->weight_decay >= 0) fprintf(f, "weight_decay = %s\n", fmt_double(e->weight_decay, b, sizeof b));
    if (e->decoupled >= 0) fprintf(f, "decoupled_wd = %d\n", e->decoupled);
    if (e->frozen_bn >= 0) fprintf(f, "frozen_bn = %s\n", e->frozen_bn == MC_FROZEN_BN_RUNNING ? "running" : "batch");
    if (e->optimizer >= 0) fprintf(f, "optimizer = %s\n", mc_optimizer_name(e->optimizer));
    const char *okeys[] = {"beta1", "beta2", "eps", "alpha", "momentum"};
    const double ovals[] = {e->beta1, e->beta2, e->eps, e->alpha, e->momentum};
    for (int k = 0; k < 5; k++)
        if (ovals[k] >= 0) fprintf(f, "%s = %s\n", okeys[k], fmt_double(ovals[k], b, sizeof b));
    if (e->centered >= 0) fprintf(f, "centered = %d\n", e->centered);
    if (e->cycle_momentum >= 0) fprintf(f, "cycle_momentum = %d\n", e->cycle_momentum);
    if (!resolve && e->max_lr > 0) fprintf(f, "max_lr = %s\n", fmt_double(e->max_lr, b, sizeof b));
    if (!resolve && e->epochs > 0) fprintf(f, "epochs = %d\n", e->epochs);
    if (!resolve && e->checkpoint_every > 0) fprintf(f, "checkpoint_every = %ld\n", e->checkpoint_every);
    if (!resolve && e->checkpoint_every == MC_EVERY_EPOCH) fprintf(f, "checkpoint_every = epoch\n");
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
        if (s->checkpoint_every > 0) fprintf(f, "checkpoint_every = %ld\n", s->checkpoint_every);
        if (s->checkpoint_every == MC_EVERY_EPOCH) fprintf(f, "checkpoint_every = epoch\n");
        if (s->max_iters) fprintf(f, "max_iters = %ld\n", s->max_iters);
    }
    return ferror(f) ? mc_err(MC_EIO, "experiment: write error (disk full?)") : MC_OK;
}

static int write_settings(FILE *f, const char *path, void *arg) {
    const mc_experiment *e = (const mc_experiment *)arg;
    fprintf(f, "# the settings this run used (written by medcolor %s; rerun with: medcolor train %s --resume)\n",
            MC_VERSION, path);
    int rc = mc_experiment_write(f, e, 1);
    return rc == MC_EIO ? mc_err(MC_EIO, "%s: write error (disk full?)", path) : rc;
}

/* buf = a + "/" + b; an error when it does not fit */
static int pjoin(char *buf, size_t n, const char *a, const char *b) {
    if ((size_t)snprintf(buf, n, "%s/%s", a, b) >= n) return mc_err(MC_EARG, "path too long: %s/%s", a, b);
    return MC_OK;
}

/* K-STAGE/training.png: the stage's training loss (raw and smoothed) against iteration from
 * log.csv, and K-STAGE/valid.png: validation mean AUC against iteration from valid.csv. For
 * people; a failure to plot is not an error of the run. */
static void plot_stage(const char *logcsv, const char *validcsv, int stage, const char *dir) {
    mc_log_row *rows = NULL;
    mc_valid_log vl;
    int nrows = 0;
    char path[4096];
    if (mc_log_read(logcsv, &rows, &nrows) == MC_OK) {
        double *x = malloc((size_t)(nrows + 1) * sizeof *x), *y = malloc((size_t)(nrows + 1) * sizeof *y),
               *sm = malloc((size_t)(nrows + 1) * sizeof *sm);
        int n = 0;
        double avg = 0;
        for (int i = 0; x && y && sm && i < nrows; i++) {
            if (rows[i].stage != stage) continue;
            x[n] = (double)rows[i].iter;
            y[n] = rows[i].loss;
            avg = 0.98 * avg + 0.02 * rows[i].loss;
            sm[n] = avg / (1 - pow(0.98, (double)(n + 1)));
            n++;
        }
        if (n > 1) {
            mc_plot *p = mc_plot_new(900, 560, "training loss", "iteration", "loss");
            if (p) {
                mc_plot_series(p, "loss", x, y, n, MC_PLOT_LINE | MC_PLOT_THIN);
                mc_plot_series(p, "smoothed (0.98)", x, sm, n, MC_PLOT_LINE);
                if (pjoin(path, sizeof path, dir, "training.png") == MC_OK) mc_plot_save(p, path);
                mc_plot_free(p);
            }
        }
        free(x);
        free(y);
        free(sm);
        free(rows);
    }
    if (mc_valid_read(validcsv, &vl) == MC_OK) {
        double *x = malloc((size_t)(vl.n + 1) * sizeof *x), *y = malloc((size_t)(vl.n + 1) * sizeof *y);
        int n = 0;
        for (int i = 0; x && y && i < vl.n; i++) {
            if (vl.rows[i].stage != stage) continue;
            x[n] = (double)vl.rows[i].iter;
            y[n] = vl.rows[i].mean;
            n++;
        }
        if (n > 0) {
            mc_plot *p = mc_plot_new(900, 560, "validation", "iteration", "mean AUC");
            if (p) {
                mc_plot_series(p, "mean AUC", x, y, n, MC_PLOT_LINE | MC_PLOT_MARKERS);
                if (pjoin(path, sizeof path, dir, "valid.png") == MC_OK) mc_plot_save(p, path);
                mc_plot_free(p);
            }
        }
        free(x);
        free(y);
        mc_valid_log_free(&vl);
    }
    mc_clear_error();
}

/* ---- the run folder: started, finished, started again ---------------------------------------- */
/* "K-STAGE" with K >= 1 and a stage name */
static int is_stage_folder(const char *name) {
    if (!isdigit((unsigned char)name[0])) return 0;
    char *end;
    long k = strtol(name, &end, 10);
    return *end == '-' && k >= 1 && mc_stage_from_name(end + 1) >= 0;
}

static int exists(const char *dir, const char *name) {
    char p[4096];
    if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, name) >= sizeof p) return 0;
    return access(p, F_OK) == 0;
}

int mc_run_folder_state(const mc_experiment *e, int *started, int *finished) {
    *started = *finished = 0;
    if (!e->out) return MC_OK;
    DIR *d = opendir(e->out);
    if (!d) return errno == ENOENT ? MC_OK : mc_err(MC_EIO, "%s: cannot list the folder (%s)", e->out, strerror(errno));
    for (struct dirent *de; (de = readdir(d));)
        if (is_stage_folder(de->d_name)) *started = 1;
    closedir(d);
    if (exists(e->out, "log.csv") || exists(e->out, "results.csv")) *started = 1;
    int done = e->nstages > 0;
    for (int k = 0; k < e->nstages && done; k++) {
        char sub[64];
        snprintf(sub, sizeof sub, "%d-%s/DONE", k + 1, mc_stage_name(e->st[k].stage));
        done = exists(e->out, sub);
    }
    *finished = *started && done;
    return MC_OK;
}

/* the files a stage writes (and the temporary files of its atomic writes) */
static int run_file(const char *name) {
    static const char *const known[] = {"checkpoint.safetensors", "best.weights", "last.weights", "DONE",
                                        "valid.csv", "training.png", "valid.png", "results.csv",
                                        "experiment.exp", NULL};
    for (int i = 0; known[i]; i++)
        if (!strcmp(name, known[i]) || (!strncmp(name, known[i], strlen(known[i])) && strstr(name, ".tmp.")))
            return 1;
    return 0;
}

/* The temporary files of atomic writes (NAME.tmp.PID) that a killed process left in dir, when
 * that process is gone: removed (a resume's housekeeping; the files they were for are intact). */
static void remove_stale_tmp(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    char p[4400];
    for (struct dirent *de; (de = readdir(d));) {
        const char *t = strstr(de->d_name, ".tmp.");
        if (!t || !run_file(de->d_name) || !isdigit((unsigned char)t[5])) continue;
        char *end;
        long pid = strtol(t + 5, &end, 10);
        if (*end || pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* its writer lives */
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        unlink(p);
    }
    closedir(d);
}

/* Removes a run's files from dir: its stage folders (only the files a stage writes: another file
 * stops it, named), log.csv, results.csv, experiment.exp; dir itself when remove_dir and empty. */
static int remove_run(const char *dir, int remove_dir) {
    int rc = MC_OK;
    remove_stale_tmp(dir);
    char p[4096], q[4400];
    /* first every stage folder checked (a file that is not the run's stops it all), then removed */
    for (int pass = 0; pass < 2 && rc == MC_OK; pass++) {
        DIR *d = opendir(dir);
        if (!d) return errno == ENOENT ? MC_OK : mc_err(MC_EIO, "%s: cannot list the folder (%s)", dir, strerror(errno));
        for (struct dirent *de; rc == MC_OK && (de = readdir(d));) {
            if (!is_stage_folder(de->d_name)) continue;
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            DIR *s = opendir(p);
            if (!s) continue;
            for (struct dirent *f; rc == MC_OK && (f = readdir(s));) {
                if (!strcmp(f->d_name, ".") || !strcmp(f->d_name, "..")) continue;
                snprintf(q, sizeof q, "%s/%s", p, f->d_name);
                if (!run_file(f->d_name))
                    rc = mc_err(MC_EARG, "%s is not a file of a run: move it away first (nothing was removed)", q);
                else if (pass == 1 && unlink(q) != 0)
                    rc = mc_err(MC_EIO, "%s: cannot remove (%s)", q, strerror(errno));
            }
            closedir(s);
            if (rc == MC_OK && pass == 1 && rmdir(p) != 0)
                rc = mc_err(MC_EIO, "%s: cannot remove the folder (%s)", p, strerror(errno));
        }
        closedir(d);
    }
    static const char *const top[] = {"log.csv", "results.csv", "experiment.exp", NULL};
    for (int i = 0; rc == MC_OK && top[i]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, top[i]);
        if (unlink(p) != 0 && errno != ENOENT) rc = mc_err(MC_EIO, "%s: cannot remove (%s)", p, strerror(errno));
    }
    if (rc == MC_OK && remove_dir) rmdir(dir); /* only when empty */
    return rc;
}

/* a stage of e has a checkpoint in the run folder: something to resume */
static int any_checkpoint(const mc_experiment *e) {
    for (int k = 0; k < e->nstages; k++) {
        char sub[64];
        snprintf(sub, sizeof sub, "%d-%s/checkpoint.safetensors", k + 1, mc_stage_name(e->st[k].stage));
        if (exists(e->out, sub)) return 1;
    }
    return 0;
}

static int run_stages(const mc_experiment *e, const mc_run_opts *ro);

int mc_experiment_run(const mc_experiment *given, const mc_run_opts *ro) {
    const mc_run_opts none = {0};
    if (!ro) ro = &none;
    mc_experiment resolved = *given; /* shallow: resolving changes numbers only, never the strings */
    MC_TRY(mc_experiment_resolve(&resolved));
    const mc_experiment *e = &resolved;
    if (!e->out) return mc_err(MC_EARG, "%s: no output folder (output= or -o)", e->path ? e->path : "experiment");
    int started, finished;
    MC_TRY(mc_run_folder_state(e, &started, &finished));
    if (ro->resume && !started)
        return mc_err(MC_ENOTFOUND, "%s: no run to resume there (no log.csv, results.csv or stage folder): start it "
                                    "without --resume",
                      e->out);
    if (!ro->resume && started && !ro->overwrite && finished)
        return mc_err(MC_EARG, "%s holds a finished run: --overwrite trains it again from scratch (its files are "
                               "replaced), or choose another output folder",
                      e->out);
    if (!ro->resume && started && !ro->overwrite)
        return mc_err(MC_EARG, "%s holds a started run: --resume continues it, --overwrite starts it again from "
                               "scratch (its files are replaced)",
                      e->out);
    struct stat st;
    int existed = stat(e->out, &st) == 0;
    const int root = mc_dist_is_root(ro->dist); /* only rank 0 writes (src/dist/) */
    MC_TRY(mc_dist_barrier(ro->dist));           /* every rank has seen the folder as it was */
    if (root && !ro->resume && started) MC_TRY(remove_run(e->out, 0)); /* --overwrite */
    if (root && ro->resume) {
        remove_stale_tmp(e->out);
        for (int k = 0; k < e->nstages; k++) {
            char dir[4096];
            snprintf(dir, sizeof dir, "%s/%d-%s", e->out, k + 1, mc_stage_name(e->st[k].stage));
            remove_stale_tmp(dir);
        }
    }
    int rc = run_stages(e, ro);
    if (rc < 0 && root && !ro->resume && !any_checkpoint(e)) {
        /* a start that fails leaves nothing behind: nothing was trained that a resume could use */
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", mc_errmsg());
        remove_run(e->out, !existed);
        mc_err(rc, "%s", msg);
    }
    return rc;
}

static int run_stages(const mc_experiment *e, const mc_run_opts *ro) {
    int resume = ro->resume;
    const int root = mc_dist_is_root(ro->dist); /* only rank 0 writes (src/dist/) */
    char path[4096];
    snprintf(path, sizeof path, "%s/experiment.exp", e->out);
    if (root) MC_TRY(mc_mkdirs(e->out));
    if (root) MC_TRY(mc_write_atomic(path, write_settings, (void *)e));
    char lpath[4096];
    snprintf(lpath, sizeof lpath, "%s/log.csv", e->out);
    FILE *log = NULL;
    if (root) MC_TRY(mc_log_open(&log, lpath));
    mc_net *net = NULL;
    mc_train_result res[MC_MAX_STAGES];
    mc_stage_result sres[MC_MAX_STAGES]; /* results.csv */
    memset(sres, 0, sizeof sres);
    int rc = MC_OK;
    for (int k = 0; k < e->nstages && rc == MC_OK; k++) {
        const mc_exp_stage *s = &e->st[k];
        const char *dpath = s->data ? s->data : e->data;
        int main_data = !s->data || !strcmp(s->data, e->data);
        mc_dataset *train = NULL, *valid = NULL;
        if ((rc = load_split(e, dpath, "train", main_data, &train)) < 0) break;
        if ((rc = load_split(e, dpath, "valid", 0, &valid)) < 0) {
            mc_dataset_free(train);
            break;
        }
        /* the starting weights, in the network they were made for (the cfg as it is) */
        if (!net && e->weights) {
            if ((rc = build_net(e, -1, ro->dist, &net)) < 0) goto stage_done;
            if ((rc = mc_net_load_weights(net, e->weights)) < 0) goto stage_done;
        }
        /* the network for this stage's labels, carrying T and E over by name */
        if (!net || mc_net_num_outputs(net) != train->nlabels) {
            mc_net *nn;
            if ((rc = build_net(e, train->nlabels, ro->dist, &nn)) < 0) goto stage_done;
            if (net) {
                char what[256];
                snprintf(what, sizeof what, "stage %d (%s): the network rebuilt for %d label%s", k + 1,
                         mc_stage_name(s->stage), train->nlabels, train->nlabels == 1 ? "" : "s");
                rc = carry_weights(nn, net, "head", what);
                mc_net_free(net);
                net = nn;
                if (rc < 0) goto stage_done;
            }
            net = nn;
        }
        {
            /* what the stage's .weights carry: how to use them without the cfg (docs/weights.md) */
            mc_netmeta nm = {.cfg_file = e->net, .set = (char **)e->set, .nset = e->nset, .labels = train->labels,
                             .nlabels = train->nlabels, .stage = (char *)mc_stage_name(s->stage),
                             .stage_index = k + 1, .data = (char *)dpath, .root = e->root};
            if ((rc = mc_net_set_meta(net, &nm)) < 0) goto stage_done;
        }
        char dir[4096], label[64];
        snprintf(dir, sizeof dir, "%s/%d-%s", e->out, k + 1, mc_stage_name(s->stage));
        snprintf(label, sizeof label, "[%s]", mc_stage_name(s->stage));
        if (root && (rc = mc_mkdirs(dir)) < 0) goto stage_done;
        char done[4096], ck[4096];
        if ((rc = pjoin(done, sizeof done, dir, "DONE")) < 0 || (rc = pjoin(ck, sizeof ck, dir, "checkpoint.safetensors")) < 0 ||
            (rc = pjoin(path, sizeof path, dir, "valid.csv")) < 0)
            goto stage_done;
        {
            FILE *vlog = NULL;
            if (root && (rc = mc_valid_open(&vlog, path, (const char *const *)valid->labels, valid->nlabels)) < 0)
                goto stage_done;
            mc_train_opts o2;
            mc_train_opts_default(&o2);
            o2.max_lr = s->max_lr; /* resolved above */
            o2.epochs = s->epochs;
            o2.stage = s->stage;
            o2.checkpoint_every = s->checkpoint_every > 0 ? s->checkpoint_every : 0; /* 0: once per epoch */
            o2.max_iters = s->max_iters;
            o2.weight_decay = e->weight_decay;
            o2.decoupled = e->decoupled;
            experiment_optimizer(e, &o2.opt);
            o2.cycle_momentum = e->cycle_momentum;
            o2.workers = e->workers;
            o2.seed = e->seed * 1000003u + (uint64_t)k;
            o2.reinit_head = 1;
            o2.reinit_color = s->stage == MC_STAGE_COLOR && k == 0 && !e->keep_color;
            o2.dir = dir;
            o2.resume = resume;
            o2.on_event = ro->on_event;
            o2.event_ctx = ro->event_ctx;
            o2.label = label;
            o2.log = log;
            o2.vlog = vlog;
            o2.log_path = lpath;
            o2.vlog_path = path;
            o2.stop_after = ro->stop_after;
            o2.interrupt = ro->interrupt;
            o2.dist = ro->dist;
            o2.bn_local = !e->bn_sync;
            if (resume && access(done, F_OK) == 0) {
                /* finished before: take its result from the checkpoint and its best weights */
                mc_ckpt_meta m = {0};
                if ((rc = mc_checkpoint_load(net, ck, &m)) == MC_OK) {
                    memset(&res[k], 0, sizeof res[k]);
                    res[k].best_auc = m.best_auc;
                    res[k].best_iter = m.best_iter;
                    res[k].iters = m.next_iter;
                    for (int j = 0; j < m.nlabels; j++) res[k].auc[j] = m.best_aucs[j];
                    /* its training time as results.csv has it (the checkpoint does not keep it) */
                    mc_stage_result *prev = NULL;
                    int nprev = 0;
                    if (mc_results_load(e->out, &prev, &nprev) == MC_OK)
                        for (int i = 0; i < nprev; i++)
                            if (prev[i].stage_index == k + 1 && prev[i].stage == s->stage) res[k].seconds = prev[i].seconds;
                    mc_results_free(prev, nprev);
                    mc_clear_error();
                    mc_train_event ev = {.type = MC_EV_SKIPPED, .label = label, .stage = s->stage,
                                         .stage_index = k + 1, .nstages = e->nstages, .mean_auc = m.best_auc};
                    if (ro->on_event) ro->on_event(&ev, ro->event_ctx);
                }
            } else {
                rc = mc_train(net, train, valid, &o2, &res[k]);
            }
            if (vlog && fclose(vlog) != 0 && rc == MC_OK)
                rc = mc_err(MC_EIO, "%s: write error (%s)", path, strerror(errno));
            if (rc == MC_OK && log && (fflush(log) != 0 || ferror(log)))
                rc = mc_err(MC_EIO, "%s: write error (%s)", lpath, strerror(errno));
            if (rc == MC_OK && root) plot_stage(lpath, path, s->stage, dir);
            if (rc == MC_OK && res[k].stopped) {
                mc_train_event ev = {.type = MC_EV_STOPPED, .label = label, .stage = s->stage, .stage_index = k + 1,
                                     .nstages = e->nstages, .iter = res[k].iters, .interrupted = res[k].interrupted};
                if (ro->on_event) ro->on_event(&ev, ro->event_ctx);
                mc_dataset_free(train);
                mc_dataset_free(valid);
                break;
            }
            if (rc < 0) goto stage_done; /* a failed stage ends the run (its checkpoint is kept) */
            /* the next stage starts from this stage's best weights */
            if ((rc = pjoin(path, sizeof path, dir, "best.weights")) < 0) goto stage_done;
            if (rc == MC_OK) rc = mc_net_load_weights(net, path);
            if (rc == MC_OK) {
                mc_stage_result *sr = &sres[k];
                sr->stage_index = k + 1;
                sr->stage = s->stage;
                snprintf(sr->data, sizeof sr->data, "%s", dpath);
                sr->mean_auc = res[k].best_auc;
                sr->best_iter = res[k].best_iter;
                sr->iters = res[k].iters;
                sr->seconds = res[k].seconds;
                for (int j = 0; j < train->nlabels && j < MC_MAX_LABELS && rc == MC_OK; j++) {
                    sr->labels[j] = mc_strdup(train->labels[j]);
                    sr->auc[j] = res[k].auc[j];
                    sr->nlabels = j + 1;
                    if (!sr->labels[j]) rc = MC_ENOMEM;
                }
                if (rc == MC_OK && root) rc = mc_results_write(e->out, sres, k + 1);
                mc_train_event ev = {.type = MC_EV_STAGE_DONE, .label = label, .stage = s->stage, .stage_index = k + 1,
                                     .nstages = e->nstages, .iter = res[k].iters, .total = res[k].iters,
                                     .mean_auc = res[k].best_auc, .best_iter = res[k].best_iter,
                                     .nlabels = valid->nlabels, .labels = (const char *const *)valid->labels,
                                     .auc = res[k].auc, .seconds = res[k].seconds, .data = dpath, .dir = dir};
                if (rc == MC_OK && ro->on_event) ro->on_event(&ev, ro->event_ctx);
            }
        }
    stage_done:
        mc_dataset_free(train);
        mc_dataset_free(valid);
    }
    for (int k = 0; k < e->nstages; k++)
        for (int j = 0; j < sres[k].nlabels; j++) free(sres[k].labels[j]);
    if (log && fclose(log) != 0 && rc == MC_OK) rc = mc_err(MC_EIO, "%s: write error (%s)", lpath, strerror(errno));
    mc_net_free(net);
    return rc;
}
