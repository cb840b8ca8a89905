/* colorexp.c — colorization experiments: the [colorize] section of an .exp file (the INI syntax
 * of cfgs, src/engine/cfg.c), the defaults of the settings it leaves out, and the file a run
 * writes back (out/experiment.exp). docs/colorize.md lists the keys and which defaults the paper
 * states. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "engine/cfg.h"
#include "medcolor.h"

void mc_colorexp_init(mc_colorexp *e) {
    memset(e, 0, sizeof *e);
    e->per_class = e->val_per_class = -1;
    e->draw_seed = -1;
    e->seed = MC_SEED_UNSET;
    e->optimizer = -1;
    e->lr = -1;
    e->beta1 = e->beta2 = e->eps = e->alpha = e->momentum = e->weight_decay = -1;
    e->centered = e->decoupled = -1;
    e->l_scale = e->l_shift = NAN;
    e->samples = -1;
    e->workers = -1;
    e->threads = -1;
    e->gpu = -1;
}

void mc_colorexp_clear(mc_colorexp *e) {
    free(e->path);
    free(e->net);
    free(e->train);
    free(e->valid);
    free(e->weights);
    free(e->out);
    for (int i = 0; i < e->nset; i++) free(e->set[i]);
    mc_colorexp_init(e);
}

int mc_colorexp_is(const char *path) {
    mc_cfg *cfg;
    if (mc_cfg_parse_file(&cfg, path) < 0) {
        mc_clear_error();
        return 0;
    }
    int is = cfg->n > 0 && !strcmp(cfg->s[0].type, "colorize");
    mc_cfg_free(cfg);
    return is;
}

static int dup_key(mc_cfg_section *s, const char *key, char **dst) {
    const char *v = NULL;
    MC_TRY(mc_cfg_str(s, key, NULL, &v));
    if (!v) return MC_OK;
    free(*dst);
    *dst = mc_strdup(v);
    return *dst ? MC_OK : MC_ENOMEM;
}

/* a number key in [lo, hi] (hi_open: < hi), when given */
static int num_key(mc_cfg_section *s, const char *key, double lo, double hi, int hi_open, const char *range,
                   double *dst) {
    if (!mc_cfg_has(s, key)) return MC_OK;
    double v;
    MC_TRY(mc_cfg_double(s, key, 0, &v));
    if (!(v >= lo && (hi_open ? v < hi : v <= hi)) || !isfinite(v)) {
        const mc_cfg_kv *kv = mc_cfg_find(s, key);
        return mc_err(MC_EPARSE, "%s:%d: [colorize] %s=%s: expected a number %s", kv->file, kv->line, key, kv->val,
                      range);
    }
    *dst = v;
    return MC_OK;
}

static int int_key(mc_cfg_section *s, const char *key, int lo, int hi, int *dst) {
    if (!mc_cfg_has(s, key)) return MC_OK;
    return mc_cfg_int_range(s, key, 0, lo, hi, dst);
}

int mc_colorexp_load(mc_colorexp *e, const char *path) {
    mc_colorexp_init(e);
    mc_cfg *cfg;
    MC_TRY(mc_cfg_parse_file(&cfg, path));
    char where[512];
    int rc = (e->path = mc_strdup(path)) ? MC_OK : MC_ENOMEM;
    if (rc == MC_OK && cfg->n != 1)
        rc = mc_err(MC_EPARSE, "%s: a colorization experiment is one [colorize] section (%d sections found)", path,
                    cfg->n);
    if (rc == MC_OK && strcmp(cfg->s[0].type, "colorize"))
        rc = mc_err(MC_EPARSE, "%s: [%s]: expected [colorize]", mc_cfg_where(&cfg->s[0], NULL, where, sizeof where),
                    cfg->s[0].type);
    mc_cfg_section *s = rc == MC_OK ? &cfg->s[0] : NULL;
    static const char *const skeys[] = {"net", "train", "val", "weights", "output"};
    char **sdst[] = {&e->net, &e->train, &e->valid, &e->weights, &e->out};
    for (int k = 0; rc == MC_OK && k < 5; k++) rc = dup_key(s, skeys[k], sdst[k]);
    int iv;
    if (rc == MC_OK) rc = int_key(s, "per_class", 0, 1 << 30, &e->per_class);
    if (rc == MC_OK) rc = int_key(s, "val_per_class", 0, 1 << 30, &e->val_per_class);
    if (rc == MC_OK && mc_cfg_has(s, "draw_seed") && (rc = mc_cfg_int_range(s, "draw_seed", 0, 0, 2147483647, &iv)) == MC_OK)
        e->draw_seed = iv;
    if (rc == MC_OK && mc_cfg_has(s, "seed") && (rc = mc_cfg_int_range(s, "seed", 0, 0, 2147483647, &iv)) == MC_OK)
        e->seed = (uint64_t)iv;
    if (rc == MC_OK) rc = int_key(s, "batch", 1, 65536, &e->batch);
    if (rc == MC_OK) rc = int_key(s, "epochs", 1, 100000, &e->epochs);
    if (rc == MC_OK && mc_cfg_has(s, "max_iters") && (rc = mc_cfg_int_range(s, "max_iters", 1, 1, 2147483647, &iv)) == MC_OK)
        e->max_iters = iv;
    const char *name = NULL;
    if (rc == MC_OK) rc = mc_cfg_str(s, "optimizer", NULL, &name);
    if (rc == MC_OK && name && (e->optimizer = mc_optimizer_from_name(name)) < 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", mc_errmsg());
        rc = mc_err(MC_EPARSE, "%s: [colorize] optimizer=%s: %s", mc_cfg_where(s, "optimizer", where, sizeof where), name,
                    msg);
    }
    if (rc == MC_OK) rc = num_key(s, "lr", 0, INFINITY, 1, "> 0", &e->lr);
    if (rc == MC_OK && mc_cfg_has(s, "lr") && !(e->lr > 0))
        rc = mc_err(MC_EPARSE, "%s: [colorize] lr must be > 0", mc_cfg_where(s, "lr", where, sizeof where));
    if (rc == MC_OK) rc = num_key(s, "beta1", 0, 1, 1, "in [0, 1)", &e->beta1);
    if (rc == MC_OK) rc = num_key(s, "beta2", 0, 1, 1, "in [0, 1)", &e->beta2);
    if (rc == MC_OK) rc = num_key(s, "eps", 0, INFINITY, 1, ">= 0", &e->eps);
    if (rc == MC_OK) rc = num_key(s, "alpha", 0, 1, 0, "in [0, 1]", &e->alpha);
    if (rc == MC_OK) rc = num_key(s, "momentum", 0, INFINITY, 1, ">= 0", &e->momentum);
    if (rc == MC_OK) rc = num_key(s, "weight_decay", 0, INFINITY, 1, ">= 0", &e->weight_decay);
    if (rc == MC_OK) rc = int_key(s, "centered", 0, 1, &e->centered);
    if (rc == MC_OK) rc = int_key(s, "decoupled_wd", 0, 1, &e->decoupled);
    if (rc == MC_OK) rc = num_key(s, "l_scale", -INFINITY, INFINITY, 1, "(finite)", &e->l_scale);
    if (rc == MC_OK) rc = num_key(s, "l_shift", -INFINITY, INFINITY, 1, "(finite)", &e->l_shift);
    if (rc == MC_OK) rc = int_key(s, "samples", 0, 64, &e->samples);
    if (rc == MC_OK) rc = int_key(s, "workers", 1, 64, &e->workers);
    if (rc == MC_OK) rc = int_key(s, "threads", 0, 1024, &e->threads);
    if (rc == MC_OK) rc = int_key(s, "gpu", 0, 1024, &e->gpu);
    static const char *const prec[] = {"fp32", "bf16", NULL};
    if (rc == MC_OK && mc_cfg_has(s, "precision"))
        rc = mc_cfg_enum(s, "precision", prec, MC_PRECISION_FP32, &e->precision);
    if (rc == MC_OK) rc = mc_cfg_overrides(s, e->set, &e->nset, 16);
    if (rc == MC_OK) rc = mc_cfg_check_unused(s);
    if (rc == MC_OK && (!e->net || !e->train || !e->valid))
        rc = mc_err(MC_EPARSE, "%s: [colorize] needs net=, train= and val=", mc_cfg_where(s, NULL, where, sizeof where));
    mc_cfg_free(cfg);
    if (rc < 0) mc_colorexp_clear(e);
    return rc;
}

int mc_colorexp_resolve(mc_colorexp *e) {
    const char *where = e->path ? e->path : "colorize";
    if (!e->net || !e->train || !e->valid)
        return mc_err(MC_EARG, "%s: a network cfg, a training and a validation folder are needed", where);
    if (e->per_class < 0) e->per_class = 200;
    if (e->val_per_class < 0) e->val_per_class = 50;
    if (e->draw_seed < 0) e->draw_seed = 0;
    if (e->seed == MC_SEED_UNSET) e->seed = 0;
    if (e->epochs <= 0) e->epochs = 10;
    if (e->optimizer < 0) e->optimizer = MC_OPTIM_ADAM;
    const int opt = e->optimizer, adam = opt == MC_OPTIM_ADAM || opt == MC_OPTIM_ADAMW;
    if (e->lr <= 0) e->lr = adam ? 1e-4 : opt == MC_OPTIM_RMSPROP ? 1e-3 : 1e-2;
    const struct {
        const char *key;
        int given, applies;
        const char *to;
    } use[] = {
        {"beta1", e->beta1 >= 0, adam, "adam and adamw"},
        {"beta2", e->beta2 >= 0, adam, "adam and adamw"},
        {"eps", e->eps >= 0, opt != MC_OPTIM_SGD, "adam, adamw and rmsprop"},
        {"alpha", e->alpha >= 0, opt == MC_OPTIM_RMSPROP, "rmsprop"},
        {"centered", e->centered >= 0, opt == MC_OPTIM_RMSPROP, "rmsprop"},
        {"momentum", e->momentum >= 0, opt == MC_OPTIM_RMSPROP || opt == MC_OPTIM_SGD, "rmsprop and sgd"},
    };
    for (size_t i = 0; i < sizeof use / sizeof use[0]; i++)
        if (use[i].given && !use[i].applies)
            return mc_err(MC_EARG, "%s: %s is a setting of %s; the optimizer is %s", where, use[i].key, use[i].to,
                          mc_optimizer_name(opt));
    if (isnan(e->l_scale) != isnan(e->l_shift))
        return mc_err(MC_EARG, "%s: give both l_scale and l_shift, or neither", where);
    if (e->weight_decay < 0) e->weight_decay = 0;
    if (e->decoupled < 0) e->decoupled = 1;
    if (e->samples < 0) e->samples = 8;
    if (e->workers < 0) e->workers = 2;
    if (e->threads < 0) e->threads = 0;
    return MC_OK;
}

void mc_colorexp_opts(const mc_colorexp *e, mc_colortrain_opts *o) {
    mc_colortrain_opts_default(o);
    o->epochs = e->epochs;
    mc_optimizer_defaults(&o->opt, e->optimizer);
    o->opt.lr = e->lr;
    if (e->beta1 >= 0) o->opt.beta1 = e->beta1;
    if (e->beta2 >= 0) o->opt.beta2 = e->beta2;
    if (e->eps >= 0) o->opt.eps = e->eps;
    if (e->alpha >= 0) o->opt.alpha = e->alpha;
    if (e->momentum >= 0) o->opt.momentum = e->momentum;
    if (e->centered >= 0) o->opt.centered = e->centered;
    o->opt.weight_decay = e->weight_decay;
    o->opt.decoupled = e->decoupled;
    o->seed = e->seed;
    o->init = 0; /* the caller builds the network initialised from seed, then imports weights over it */
    o->l_scale = e->l_scale;
    o->l_shift = e->l_shift;
    o->samples = e->samples;
    o->workers = e->workers;
    o->max_iters = e->max_iters;
    o->dir = e->out;
}

int mc_colorexp_write(FILE *f, const mc_colorexp *e) {
    fprintf(f, "# the settings in effect (medcolor colorize-train %s --resume continues the run)\n", "<this file>");
    fprintf(f, "[colorize]\nnet = %s\ntrain = %s\nval = %s\n", e->net, e->train, e->valid);
    if (e->weights) fprintf(f, "weights = %s\n", e->weights);
    if (e->out) fprintf(f, "output = %s\n", e->out);
    fprintf(f, "per_class = %d\nval_per_class = %d\ndraw_seed = %ld\nseed = %llu\n", e->per_class, e->val_per_class,
            e->draw_seed, (unsigned long long)e->seed);
    if (e->batch > 0) fprintf(f, "batch = %d\n", e->batch);
    fprintf(f, "epochs = %d\n", e->epochs);
    if (e->max_iters > 0) fprintf(f, "max_iters = %ld\n", e->max_iters);
    fprintf(f, "optimizer = %s\nlr = %.17g\n", mc_optimizer_name(e->optimizer), e->lr);
    const char *keys[] = {"beta1", "beta2", "eps", "alpha", "momentum"};
    const double vals[] = {e->beta1, e->beta2, e->eps, e->alpha, e->momentum};
    for (int k = 0; k < 5; k++)
        if (vals[k] >= 0) fprintf(f, "%s = %.17g\n", keys[k], vals[k]);
    if (e->centered >= 0) fprintf(f, "centered = %d\n", e->centered);
    fprintf(f, "weight_decay = %.17g\ndecoupled_wd = %d\n", e->weight_decay, e->decoupled);
    if (!isnan(e->l_scale)) fprintf(f, "l_scale = %.17g\nl_shift = %.17g\n", e->l_scale, e->l_shift);
    fprintf(f, "samples = %d\nworkers = %d\n", e->samples, e->workers);
    if (e->threads > 0) fprintf(f, "threads = %d\n", e->threads);
    if (e->gpu >= 0) fprintf(f, "gpu = %d\n", e->gpu);
    if (e->precision == MC_PRECISION_BF16) fprintf(f, "precision = bf16\n");
    if (e->nset) {
        fprintf(f, "set = ");
        for (int i = 0; i < e->nset; i++) fprintf(f, "%s%s", i ? ", " : "", e->set[i]);
        fprintf(f, "\n");
    }
    return ferror(f) ? mc_err(MC_EIO, "write error") : MC_OK;
}
