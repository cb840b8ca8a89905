/* grid.c — experiment grids (docs/study.md): a .grid file
 *
 *     [grid]
 *     data = data/chexpert.data
 *     backbones = resnet18, densenet121
 *     seeds = 1, 2, 3
 *     [chain]
 *     modules = none
 *     stages = baseline
 *     [chain]
 *     modules = deconv, pixelshuffle, coloru
 *     stages = color, all
 *
 * expands into one run folder per backbone x module x chain x subset fraction x replicate,
 * each holding its resolved experiment.exp (the input of mc_experiment_run), indexed by
 * runs.tsv (src/study/runindex.c) so that any result can be traced to the settings that produced
 * it. Also here: the state of a run folder (new, started, done). */
#include "engine/cfg.h"
#include "core/core.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- small helpers ------------------------------------------------------------------------ */
static const char *const KEYS[] = {"data",   "root",    "weights",   "cfg_dir",          "backbones",    "modules",
                                   "stages", "seeds",   "fractions", "subset_seeds",     "replicates",   "datasets",
                                   "batch",  "workers", "threads",   "weight_decay",     "decoupled_wd", "frozen_bn",
                                   "set",    "max_lr",  "epochs",    "checkpoint_every", "max_iters",    NULL};
/* settings that may also be given per stage name, as <stage>.<key> (e.g. all.max_lr) */
static const char *const STAGE_KEYS[] = {"max_lr", "epochs", "checkpoint_every", "max_iters", NULL};

static int in_list(const char *const *list, const char *s) {
    for (int i = 0; list[i]; i++)
        if (!strcmp(list[i], s)) return 1;
    return 0;
}

static const mc_cfg_kv *kv_of(const mc_cfg_section *s, const char *key) {
    if (!s) return NULL;
    for (int i = 0; i < s->nkv; i++)
        if (!strcmp(s->kv[i].key, key)) return &s->kv[i];
    return NULL;
}

/* the chain's value of key, else the grid's */
static const mc_cfg_kv *setting(const mc_cfg_section *chain, const mc_cfg_section *grid, const char *key) {
    const mc_cfg_kv *kv = kv_of(chain, key);
    return kv ? kv : kv_of(grid, key);
}

static int bad(const mc_cfg_kv *kv, const char *item, const char *expected) {
    return mc_err(MC_EPARSE, "%s:%d: %s = %s: expected %s", kv->file, kv->line, kv->key, item ? item : kv->val,
                  expected);
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    return s;
}

/* comma-separated items of kv: *items is one allocation (pointers then strings); free() it */
static int split_list(const mc_cfg_kv *kv, char ***items, int *n) {
    *items = NULL;
    *n = 0;
    if (!kv) return MC_OK;
    int count = 1;
    for (const char *p = kv->val; *p; p++)
        count += *p == ',';
    size_t len = strlen(kv->val) + 1;
    char **arr = mc_malloc((size_t)count * sizeof(char *) + len, "grid list");
    if (!arr) return MC_ENOMEM;
    char *buf = (char *)(arr + count);
    memcpy(buf, kv->val, len);
    char *tok = buf;
    for (int k = 0; k < count; k++) {
        char *comma = strchr(tok, ',');
        if (comma) *comma = 0;
        arr[k] = trim(tok);
        if (!arr[k][0]) {
            free(arr);
            return bad(kv, NULL, "a comma-separated list without empty items");
        }
        tok = comma ? comma + 1 : tok;
    }
    *items = arr;
    *n = count;
    return MC_OK;
}

static int parse_double(const mc_cfg_kv *kv, const char *s, double lo, double hi, const char *what, double *out) {
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(x) || x < lo || x > hi) return bad(kv, s, what);
    *out = x;
    return MC_OK;
}

static int parse_int(const mc_cfg_kv *kv, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno || end == s || *end || x < lo || x > hi) {
        char what[96];
        snprintf(what, sizeof what, "an integer in [%ld, %ld]", lo, hi);
        return bad(kv, s, what);
    }
    *out = x;
    return MC_OK;
}

static int copy_str(char **dst, const char *s) {
    free(*dst);
    *dst = s ? mc_strdup(s) : NULL;
    return !s || *dst ? MC_OK : MC_ENOMEM;
}

/* "data/nih.data" -> "nih" */
static void data_display(const char *path, char *buf, size_t n) {
    const char *b = strrchr(path, '/');
    snprintf(buf, n, "%s", b ? b + 1 : path);
    size_t l = strlen(buf);
    if (l > 5 && !strcmp(buf + l - 5, ".data")) buf[l - 5] = 0;
}

/* short names for run folders; anything else is used as it is */
static const char *abbrev(const char *s) {
    static const char *const tab[][2] = {{"resnet18", "rn18"}, {"densenet121", "dn121"}, {"pixelshuffle", "ps"},
                                         {"deconv", "dc"},     {"coloru", "cu"},         {NULL, NULL}};
    for (int i = 0; tab[i][0]; i++)
        if (!strcmp(s, tab[i][0])) return tab[i][1];
    return s;
}

/* ---- expansion ----------------------------------------------------------------------------- */
typedef struct alias {
    char *name, *path;
} alias;

/* checks the keys of a section: the known ones and <stage>.<setting> */
static int check_keys(const mc_cfg_section *s, int is_grid) {
    for (int i = 0; i < s->nkv; i++) {
        const char *k = s->kv[i].key;
        if (in_list(KEYS, k) && (is_grid || strcmp(k, "datasets"))) continue;
        const char *dot = strchr(k, '.');
        if (dot) {
            char st[32];
            size_t l = (size_t)(dot - k);
            if (l < sizeof st) {
                memcpy(st, k, l);
                st[l] = 0;
                if (mc_stage_from_name(st) >= 0 && in_list(STAGE_KEYS, dot + 1)) continue;
            }
            mc_clear_error();
        }
        return mc_err(MC_EPARSE,
                      "%s:%d: unknown key '%s' in [%s] (known: data, root, weights, cfg_dir, backbones, modules, "
                      "stages, seeds, fractions, subset_seeds, replicates,%s batch, workers, threads, weight_decay, "
                      "decoupled_wd, frozen_bn, set, max_lr, epochs, checkpoint_every, max_iters, and "
                      "<stage>.max_lr/epochs/checkpoint_every/max_iters)",
                      s->kv[i].file, s->kv[i].line, k, s->type, is_grid ? " datasets," : "");
    }
    return MC_OK;
}

/* a stage setting: <stage>.<key> of the chain, <key> of the chain, then the same in [grid] */
static const mc_cfg_kv *stage_setting(const mc_cfg_section *chain, const mc_cfg_section *grid, int stage,
                                      const char *key) {
    char k[64];
    snprintf(k, sizeof k, "%s.%s", mc_stage_name(stage), key);
    const mc_cfg_kv *kv = kv_of(chain, k);
    if (!kv) kv = kv_of(chain, key);
    if (!kv) kv = kv_of(grid, k);
    if (!kv) kv = kv_of(grid, key);
    return kv;
}

typedef struct chain_spec {
    int nst;
    mc_exp_stage st[MC_MAX_STAGES];
    char text[256]; /* "color+all+last@nih" */
} chain_spec;

static int parse_chain(const mc_cfg_section *chain, const mc_cfg_section *grid, const alias *al, int nal,
                       chain_spec *c) {
    memset(c, 0, sizeof *c);
    const mc_cfg_kv *kv = setting(chain, grid, "stages");
    const mc_cfg_section *where = chain ? chain : grid;
    if (!kv)
        return mc_err(MC_EPARSE, "%s:%d: [%s] needs stages = (e.g. color, all)", where->file, where->line, where->type);
    char **items;
    int n;
    MC_TRY(split_list(kv, &items, &n));
    int rc = MC_OK;
    if (n > MC_MAX_STAGES) rc = bad(kv, NULL, "at most 8 stages");
    size_t o = 0;
    for (int i = 0; i < n && rc == MC_OK; i++) {
        char tok[256];
        snprintf(tok, sizeof tok, "%s", items[i]);
        char *at = strchr(tok, '@');
        if (at) *at++ = 0;
        int s = mc_stage_from_name(trim(tok));
        if (s < 0) {
            rc = bad(kv, items[i],
                     "stages among baseline, baseline-all, color, all, last (STAGE@DATA for another dataset)");
            break;
        }
        mc_exp_stage *st = &c->st[c->nst++];
        st->stage = s;
        char shown[128] = "";
        if (at) {
            at = trim(at);
            const char *path = NULL;
            for (int a = 0; a < nal && !path; a++)
                if (!strcmp(al[a].name, at)) path = al[a].path;
            if (path) {
                snprintf(shown, sizeof shown, "%s", at);
            } else if (strchr(at, '/') || strstr(at, ".data")) {
                path = at;
                data_display(at, shown, sizeof shown);
            } else {
                rc = bad(kv, items[i], "STAGE@NAME with NAME from datasets = NAME:PATH in [grid], or STAGE@PATH.data");
                break;
            }
            if ((rc = copy_str(&st->data, path)) < 0) break;
        }
        /* the stage's settings */
        const mc_cfg_kv *v;
        long iv;
        if (rc == MC_OK && (v = stage_setting(chain, grid, s, "max_lr")))
            rc = parse_double(v, v->val, 1e-12, 1e6, "a learning rate > 0", &st->max_lr);
        if (rc == MC_OK && (v = stage_setting(chain, grid, s, "epochs")) &&
            (rc = parse_int(v, v->val, 1, 100000, &iv)) == MC_OK)
            st->epochs = (int)iv;
        if (rc == MC_OK && (v = stage_setting(chain, grid, s, "checkpoint_every")) &&
            (rc = parse_int(v, v->val, 0, 2147483647, &iv)) == MC_OK)
            st->checkpoint_every = iv ? iv : MC_EVERY_EPOCH; /* 0: once per epoch, over the cfg's [net] */
        if (rc == MC_OK && (v = stage_setting(chain, grid, s, "max_iters")) &&
            (rc = parse_int(v, v->val, 0, 2147483647, &iv)) == MC_OK)
            st->max_iters = iv;
        if (rc == MC_OK && o < sizeof c->text)
            o += (size_t)snprintf(c->text + o, sizeof c->text - o, "%s%s%s%s", i ? "+" : "", mc_stage_name(s),
                                  shown[0] ? "@" : "", shown);
    }
    free(items);
    if (rc < 0)
        for (int i = 0; i < c->nst; i++)
            free(c->st[i].data);
    return rc;
}

static void free_chain(chain_spec *c) {
    for (int i = 0; i < c->nst; i++)
        free(c->st[i].data);
    c->nst = 0;
}

/* the settings of one [chain] (with the [grid] defaults) */
typedef struct chain_set {
    char **backbones, **modules, **seeds, **fractions, **sseeds, **sets;
    int nb, nm, nseed, nfrac, nss, nsets;
    const mc_cfg_kv *kb, *km, *kseed, *kfrac, *kss;
} chain_set;

static void free_set(chain_set *c) {
    free(c->backbones);
    free(c->modules);
    free(c->seeds);
    free(c->fractions);
    free(c->sseeds);
    free(c->sets);
    memset(c, 0, sizeof *c);
}

static int file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* {net}, {backbone}, {module} in a weights template */
static int substitute(const char *tmpl, const char *net, const char *backbone, const char *module, char *out,
                      size_t n) {
    size_t o = 0;
    for (const char *p = tmpl; *p;) {
        const char *rep = NULL;
        size_t skip = 0;
        if (!strncmp(p, "{net}", 5))
            rep = net, skip = 5;
        else if (!strncmp(p, "{backbone}", 10))
            rep = backbone, skip = 10;
        else if (!strncmp(p, "{module}", 8))
            rep = module, skip = 8;
        if (rep) {
            size_t l = strlen(rep);
            if (o + l >= n) return MC_EARG;
            memcpy(out + o, rep, l);
            o += l;
            p += skip;
        } else {
            if (o + 1 >= n) return MC_EARG;
            out[o++] = *p++;
        }
    }
    out[o] = 0;
    return MC_OK;
}

typedef struct expand_ctx {
    const mc_cfg_section *grid, *chain;
    const chain_spec *cs;
    const chain_set *set;
    const char *outdir;
    mc_grid_run *runs;
    int n, cap;
} expand_ctx;

static int add_run(expand_ctx *x, const char *backbone, const char *module, double frac, uint64_t seed,
                   uint32_t sseed) {
    const mc_cfg_section *g = x->grid, *ch = x->chain;
    if (x->n == x->cap) {
        int cap = x->cap ? 2 * x->cap : 64;
        mc_grid_run *r = mc_realloc(x->runs, (size_t)cap * sizeof *r, "grid runs");
        if (!r) return MC_ENOMEM;
        x->runs = r;
        x->cap = cap;
    }
    mc_grid_run *r = &x->runs[x->n];
    memset(r, 0, sizeof *r);
    mc_experiment_init(&r->exp);
    x->n++; /* counted at once so that an error frees it */
    r->index = x->n;
    snprintf(r->backbone, sizeof r->backbone, "%s", backbone);
    snprintf(r->module, sizeof r->module, "%s", module);
    snprintf(r->chain, sizeof r->chain, "%s", x->cs->text);
    r->subset = frac < 1 ? frac : 0;
    r->subset_seed = frac < 1 ? sseed : 0;
    r->seed = seed;
    /* the folder name */
    char name[512];
    size_t o = (size_t)snprintf(name, sizeof name, "%s", abbrev(backbone));
    if (strcmp(module, "none")) o += (size_t)snprintf(name + o, sizeof name - o, "-%s", abbrev(module));
    if (o < sizeof name) o += (size_t)snprintf(name + o, sizeof name - o, "_%s", x->cs->text);
    if (r->subset > 0 && o < sizeof name)
        o += (size_t)snprintf(name + o, sizeof name - o, "_f%g-s%u", r->subset, r->subset_seed);
    if (o < sizeof name) o += (size_t)snprintf(name + o, sizeof name - o, "_seed%llu", (unsigned long long)seed);
    if (o >= sizeof r->name)
        return mc_err(MC_EARG, "%s:%d: the run name %.60s... is longer than %zu bytes (shorten the chain or list items)",
                      (ch ? ch : g)->file, (ch ? ch : g)->line, name, sizeof r->name - 1);
    for (char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("._+@-", *p)) *p = '_';
    memcpy(r->name, name, o + 1);
    for (int i = 0; i + 1 < x->n; i++)
        if (!strcmp(x->runs[i].name, r->name))
            return mc_err(MC_EPARSE, "%s:%d: run %s is in the grid twice (a chain or a list item repeated?)",
                          (ch ? ch : g)->file, (ch ? ch : g)->line, r->name);
    /* the experiment */
    mc_experiment *e = &r->exp;
    const mc_cfg_kv *kv;
    char buf[4096], netname[256];
    const char *cfg_dir = (kv = setting(ch, g, "cfg_dir")) ? kv->val : "cfg";
    snprintf(netname, sizeof netname, "%s%s%s", backbone, strcmp(module, "none") ? "-" : "",
             strcmp(module, "none") ? module : "");
    snprintf(buf, sizeof buf, "%s/%s.cfg", cfg_dir, netname);
    if (!file_exists(buf))
        return mc_err(MC_ENOTFOUND, "%s:%d: %s: no such network cfg (backbone %s, module %s; cfg_dir = %s)",
                      x->set->km->file, x->set->km->line, buf, backbone, module, cfg_dir);
    MC_TRY(copy_str(&e->net, buf));
    kv = setting(ch, g, "data");
    if (!kv) return mc_err(MC_EPARSE, "%s:%d: [grid] needs data = (the .data of the experiments)", g->file, g->line);
    if (!file_exists(kv->val))
        return mc_err(MC_ENOTFOUND, "%s:%d: data = %s: no such file", kv->file, kv->line, kv->val);
    MC_TRY(copy_str(&e->data, kv->val));
    if ((kv = setting(ch, g, "root"))) MC_TRY(copy_str(&e->root, kv->val));
    if ((kv = setting(ch, g, "weights"))) {
        if (substitute(kv->val, netname, backbone, module, buf, sizeof buf) < 0) return bad(kv, NULL, "a shorter path");
        MC_TRY(copy_str(&e->weights, buf));
    }
    snprintf(buf, sizeof buf, "%s/%s", x->outdir, r->name);
    MC_TRY(copy_str(&e->out, buf));
    snprintf(buf, sizeof buf, "%s/%s/experiment.exp", x->outdir, r->name);
    MC_TRY(copy_str(&e->path, buf));
    e->seed = seed;
    e->subset = r->subset;
    e->subset_seed = r->subset_seed;
    long iv = 0;
    double dv = 0;
    if ((kv = setting(ch, g, "batch"))) {
        MC_TRY(parse_int(kv, kv->val, 1, 65536, &iv));
        e->batch = (int)iv;
    }
    if ((kv = setting(ch, g, "workers"))) {
        MC_TRY(parse_int(kv, kv->val, 0, 64, &iv));
        e->workers = (int)iv;
    }
    if ((kv = setting(ch, g, "threads"))) {
        MC_TRY(parse_int(kv, kv->val, 0, 1024, &iv));
        e->threads = (int)iv;
    }
    if ((kv = setting(ch, g, "weight_decay"))) {
        MC_TRY(parse_double(kv, kv->val, 0, 10, "a weight decay >= 0", &dv));
        e->weight_decay = dv;
    }
    if ((kv = setting(ch, g, "decoupled_wd"))) {
        MC_TRY(parse_int(kv, kv->val, 0, 1, &iv));
        e->decoupled = (int)iv;
    }
    if ((kv = setting(ch, g, "frozen_bn"))) {
        if (!strcmp(kv->val, "batch"))
            e->frozen_bn = MC_FROZEN_BN_BATCH;
        else if (!strcmp(kv->val, "running"))
            e->frozen_bn = MC_FROZEN_BN_RUNNING;
        else
            return bad(kv, NULL, "batch or running");
    }
    for (int i = 0; i < x->set->nsets; i++) {
        if (e->nset >= 16) return bad(setting(ch, g, "set"), NULL, "at most 16 overrides");
        MC_TRY(copy_str(&e->set[e->nset++], x->set->sets[i]));
    }
    e->nstages = x->cs->nst;
    for (int k = 0; k < e->nstages; k++) {
        e->st[k] = x->cs->st[k];
        e->st[k].data = NULL;
        MC_TRY(copy_str(&e->st[k].data, x->cs->st[k].data));
        if (e->st[k].data && !file_exists(e->st[k].data))
            return mc_err(MC_ENOTFOUND, "%s:%d: stage %s: %s: no such file", (ch ? ch : g)->file, (ch ? ch : g)->line,
                          mc_stage_name(e->st[k].stage), e->st[k].data);
    }
    return MC_OK;
}

static int expand_chain(expand_ctx *x) {
    const mc_cfg_section *g = x->grid, *ch = x->chain;
    const chain_set *c = x->set;
    /* numbers */
    double frac[64];
    uint64_t seeds[256];
    uint32_t sseeds[256];
    if (c->nfrac > 64 || c->nseed > 256 || c->nss > 256)
        return mc_err(MC_EPARSE, "%s:%d: list too long", g->file, g->line);
    for (int i = 0; i < c->nfrac; i++)
        MC_TRY(parse_double(c->kfrac, c->fractions[i], 1e-9, 1, "fractions in (0, 1]", &frac[i]));
    long iv;
    for (int i = 0; i < c->nseed; i++) {
        MC_TRY(parse_int(c->kseed, c->seeds[i], 0, 2147483647, &iv));
        seeds[i] = (uint64_t)iv;
    }
    for (int i = 0; i < c->nss; i++) {
        MC_TRY(parse_int(c->kss, c->sseeds[i], 0, 2147483647, &iv));
        sseeds[i] = (uint32_t)iv;
    }
    int nfrac = c->nfrac ? c->nfrac : 1, nseed = c->nseed ? c->nseed : 1, nss = c->nss ? c->nss : 1;
    if (!c->nfrac) frac[0] = 1;
    if (!c->nseed) seeds[0] = 0;
    if (!c->nss) sseeds[0] = 0;
    const mc_cfg_kv *rk = setting(ch, g, "replicates");
    int zip = 0;
    if (rk) {
        if (!strcmp(rk->val, "zip"))
            zip = 1;
        else if (strcmp(rk->val, "cross"))
            return bad(rk, NULL, "cross (every seed with every subset seed) or zip (pairwise)");
    }
    if (zip && c->nss && c->nseed && c->nss != c->nseed)
        return mc_err(MC_EPARSE, "%s:%d: replicates = zip needs as many seeds (%d) as subset_seeds (%d)", rk->file,
                      rk->line, c->nseed, c->nss);
    int nrep = zip ? (nseed > nss ? nseed : nss) : nseed * nss;
    for (int b = 0; b < c->nb; b++)
        for (int m = 0; m < c->nm; m++)
            for (int f = 0; f < nfrac; f++)
                for (int r = 0; r < nrep; r++) {
                    uint64_t seed;
                    uint32_t ss;
                    if (zip) {
                        seed = seeds[c->nseed ? r : 0];
                        ss = sseeds[c->nss ? r : 0];
                    } else {
                        seed = seeds[r / nss];
                        ss = sseeds[r % nss];
                        /* the whole training split: one run per seed, subset seeds do not apply */
                        if (frac[f] >= 1 && r % nss) continue;
                    }
                    MC_TRY(add_run(x, c->backbones[b], c->modules[m], frac[f], seed, ss));
                }
    return MC_OK;
}

static int read_set(const mc_cfg_section *ch, const mc_cfg_section *g, chain_set *c) {
    memset(c, 0, sizeof *c);
    c->kb = setting(ch, g, "backbones");
    c->km = setting(ch, g, "modules");
    c->kseed = setting(ch, g, "seeds");
    c->kfrac = setting(ch, g, "fractions");
    c->kss = setting(ch, g, "subset_seeds");
    const mc_cfg_section *w = ch ? ch : g;
    if (!c->kb) return mc_err(MC_EPARSE, "%s:%d: [%s] needs backbones = (e.g. resnet18)", w->file, w->line, w->type);
    if (!c->km)
        return mc_err(MC_EPARSE, "%s:%d: [%s] needs modules = (none for the baseline network, e.g. none, pixelshuffle)",
                      w->file, w->line, w->type);
    MC_TRY(split_list(c->kb, &c->backbones, &c->nb));
    MC_TRY(split_list(c->km, &c->modules, &c->nm));
    MC_TRY(split_list(c->kseed, &c->seeds, &c->nseed));
    MC_TRY(split_list(c->kfrac, &c->fractions, &c->nfrac));
    MC_TRY(split_list(c->kss, &c->sseeds, &c->nss));
    MC_TRY(split_list(setting(ch, g, "set"), &c->sets, &c->nsets));
    return MC_OK;
}

int mc_grid_expand(const char *path, const char *outdir, mc_grid_run **runs, int *n) {
    *runs = NULL;
    *n = 0;
    mc_cfg *cfg;
    MC_TRY(mc_cfg_parse_file(&cfg, path));
    const mc_cfg_section *grid = NULL;
    int rc = MC_OK, nchains = 0;
    for (int i = 0; i < cfg->n && rc == MC_OK; i++) {
        const mc_cfg_section *s = &cfg->s[i];
        if (!strcmp(s->type, "grid")) {
            if (grid)
                rc = mc_err(MC_EPARSE, "%s:%d: [grid] given twice", s->file, s->line);
            else if (i != 0)
                rc = mc_err(MC_EPARSE, "%s:%d: [grid] must come first", s->file, s->line);
            grid = s;
            if (rc == MC_OK) rc = check_keys(s, 1);
        } else if (!strcmp(s->type, "chain")) {
            nchains++;
            rc = check_keys(s, 0);
        } else {
            rc = mc_err(MC_EPARSE, "%s:%d: unknown section [%s] (expected [grid], then [chain] sections)", s->file,
                        s->line, s->type);
        }
    }
    if (rc == MC_OK && !grid) rc = mc_err(MC_EPARSE, "%s: no [grid] section", path);
    /* dataset names for STAGE@NAME */
    alias al[32];
    int nal = 0;
    char **items = NULL;
    int nitems = 0;
    const mc_cfg_kv *dk = grid ? kv_of(grid, "datasets") : NULL;
    if (rc == MC_OK) rc = split_list(dk, &items, &nitems);
    for (int i = 0; i < nitems && rc == MC_OK; i++) {
        char *colon = strchr(items[i], ':');
        if (!colon || colon == items[i] || !colon[1] || nal >= 32) {
            rc = bad(dk, items[i], "NAME:PATH items (at most 32), e.g. nih:data/nih.data");
            break;
        }
        *colon = 0;
        al[nal].name = trim(items[i]);
        al[nal].path = trim(colon + 1);
        nal++;
    }
    expand_ctx x = {.grid = grid, .outdir = outdir};
    for (int i = 0; i < cfg->n && rc == MC_OK; i++) {
        const mc_cfg_section *ch = &cfg->s[i];
        if (nchains ? strcmp(ch->type, "chain") != 0 : ch != grid) continue;
        if (ch == grid) ch = NULL; /* no [chain]: the [grid] is the only chain */
        chain_spec cs;
        chain_set set;
        if ((rc = parse_chain(ch, grid, al, nal, &cs)) < 0) break;
        rc = read_set(ch, grid, &set);
        x.chain = ch;
        x.cs = &cs;
        x.set = &set;
        if (rc == MC_OK) rc = expand_chain(&x);
        free_set(&set);
        free_chain(&cs);
    }
    free(items);
    mc_cfg_free(cfg);
    if (rc == MC_OK && x.n == 0) rc = mc_err(MC_EPARSE, "%s: the grid has no runs", path);
    if (rc < 0) {
        mc_grid_runs_free(x.runs, x.n);
        return rc;
    }
    *runs = x.runs;
    *n = x.n;
    return MC_OK;
}

void mc_grid_runs_free(mc_grid_run *runs, int n) {
    for (int i = 0; runs && i < n; i++)
        mc_experiment_clear(&runs[i].exp);
    free(runs);
}

/* ---- writing -------------------------------------------------------------------------------- */
typedef struct exp_ctx {
    const mc_experiment *e;
    const mc_grid_run *run; /* for the comment at the top (may be NULL) */
    const char *grid, *outdir;
} exp_ctx;

static int write_exp(FILE *f, const char *path, void *arg) {
    const exp_ctx *c = (const exp_ctx *)arg;
    const mc_experiment *e = c->e;
    const mc_grid_run *r = c->run;
    if (r) {
        fprintf(f, "# run %d of %s/runs.tsv, expanded by medcolor grid from %s:\n# backbone %s, module %s, stages %s, ",
                r->index, c->outdir, c->grid, r->backbone, r->module, r->chain);
        if (r->subset > 0)
            fprintf(f, "subset %g (subset seed %u), ", r->subset, r->subset_seed);
        else
            fprintf(f, "the whole training split, ");
        fprintf(f,
                "seed %llu\n# run it: medcolor run-grid %s --index %d\n#     or: medcolor train %s/%s/experiment.exp "
                "-o %s/%s --resume\n",
                (unsigned long long)r->seed, c->outdir, r->index, c->outdir, r->name, c->outdir, r->name);
    }
    int rc = mc_experiment_write(f, e, 0);
    if (rc < 0) return mc_err(MC_EIO, "%s: write error", path);
    return ferror(f) ? mc_err(MC_EIO, "%s: write error", path) : MC_OK;
}

int mc_grid_write_exp(const mc_experiment *e, const char *path) {
    exp_ctx c = {e, NULL, NULL, NULL};
    return mc_write_atomic(path, write_exp, &c);
}

static int same_str(const char *a, const char *b) {
    return (!a && !b) || (a && b && !strcmp(a, b));
}

/* NULL when a and b train the same thing, else the name of the first setting that differs
 * (run-time settings such as workers, threads, gpu and the output folder do not count) */
static const char *differs(const mc_experiment *a, const mc_experiment *b) {
    if (!same_str(a->net, b->net)) return "net";
    if (!same_str(a->data, b->data)) return "data";
    if (!same_str(a->root, b->root)) return "root";
    if (!same_str(a->weights, b->weights)) return "weights";
    if (a->seed != b->seed) return "seed";
    if (a->batch != b->batch) return "batch";
    if (fabs(a->weight_decay - b->weight_decay) > 1e-12 * fabs(a->weight_decay)) return "weight_decay";
    if (a->decoupled != b->decoupled) return "decoupled_wd";
    if (a->frozen_bn != b->frozen_bn) return "frozen_bn";
    if (fabs(a->subset - b->subset) > 1e-12 || (a->subset > 0 && a->subset_seed != b->subset_seed)) return "subset";
    if (a->nset != b->nset) return "set";
    for (int i = 0; i < a->nset; i++)
        if (strcmp(a->set[i], b->set[i])) return "set";
    if (a->nstages != b->nstages) return "stages";
    for (int k = 0; k < a->nstages; k++) {
        const mc_exp_stage *x = &a->st[k], *y = &b->st[k];
        double lx, ly;
        int ex, ey;
        mc_stage_defaults(x->stage, &lx, &ex);
        mc_stage_defaults(y->stage, &ly, &ey);
        if (x->stage != y->stage) return "stages";
        if (!same_str(x->data, y->data) &&
            !((!x->data || !y->data) && same_str(x->data ? x->data : a->data, y->data ? y->data : b->data)))
            return "stage data";
        if (fabs((x->max_lr > 0 ? x->max_lr : lx) - (y->max_lr > 0 ? y->max_lr : ly)) > 1e-12 * lx) return "max_lr";
        if ((x->epochs > 0 ? x->epochs : ex) != (y->epochs > 0 ? y->epochs : ey)) return "epochs";
        if (x->checkpoint_every != y->checkpoint_every) return "checkpoint_every";
        if (x->max_iters != y->max_iters) return "max_iters";
    }
    return NULL;
}

static int pjoin(char *buf, size_t n, const char *a, const char *b) {
    if ((size_t)snprintf(buf, n, "%s/%s", a, b) >= n) return mc_err(MC_EARG, "path too long: %s/%s", a, b);
    return MC_OK;
}

typedef struct blob {
    const char *p;
    size_t n;
} blob;

static int write_blob(FILE *f, const char *path, void *arg) {
    const blob *b = (const blob *)arg;
    return mc_fwrite(b->p, 1, b->n, f, path);
}

int mc_grid_write(const char *gridpath, const char *outdir, const mc_grid_run *runs, int n) {
    MC_TRY(mc_mkdirs(outdir));
    char dir[4096], path[4096];
    for (int i = 0; i < n; i++) {
        const mc_grid_run *r = &runs[i];
        MC_TRY(pjoin(dir, sizeof dir, outdir, r->name));
        MC_TRY(mc_mkdirs(dir));
        MC_TRY(pjoin(path, sizeof path, dir, "experiment.exp"));
        if (file_exists(path)) {
            char logp[4096];
            MC_TRY(pjoin(logp, sizeof logp, dir, "log.csv"));
            if (file_exists(logp)) {
                /* started before: keep its settings in effect, but only when they are the grid's */
                mc_experiment old;
                int rc = mc_experiment_load(&old, path);
                if (rc < 0) return mc_err_context(rc, "run %s was started before", r->name);
                /* compared as run: the started run's file holds the settings in effect, the
                 * grid's leaves to the cfg's [net] and the built-in defaults what it does not set
                 * (a shallow copy: resolving changes numbers only) */
                mc_experiment now = r->exp;
                if ((rc = mc_experiment_resolve(&old)) < 0 || (rc = mc_experiment_resolve(&now)) < 0) {
                    mc_experiment_clear(&old);
                    return mc_err_context(rc, "run %s", r->name);
                }
                const char *what = differs(&old, &now);
                mc_experiment_clear(&old);
                if (what)
                    return mc_err(MC_EARG,
                                  "%s: this run was started with another %s than the grid gives now; remove the "
                                  "folder or expand the grid into another folder",
                                  path, what);
                continue;
            }
        }
        exp_ctx c = {&r->exp, r, gridpath, outdir};
        MC_TRY(mc_write_atomic(path, write_exp, &c));
    }
    /* the index (src/study/runindex.c) */
    mc_grid_entry *ent = mc_calloc((size_t)(n ? n : 1), sizeof *ent, "runs.tsv");
    if (!ent) return MC_ENOMEM;
    int rc = MC_OK;
    for (int i = 0; i < n && rc == MC_OK; i++) {
        const mc_grid_run *r = &runs[i];
        mc_grid_entry *e = &ent[i];
        e->index = r->index;
        e->subset = r->subset;
        e->subset_seed = r->subset_seed;
        e->seed = r->seed;
        if (!(e->name = mc_strdup(r->name)) || !(e->backbone = mc_strdup(r->backbone)) ||
            !(e->module = mc_strdup(r->module)) || !(e->chain = mc_strdup(r->chain)) ||
            !(e->net = mc_strdup(r->exp.net)) || !(e->data = mc_strdup(r->exp.data)) ||
            (r->exp.weights && !(e->weights = mc_strdup(r->exp.weights))))
            rc = MC_ENOMEM;
    }
    if (rc == MC_OK) rc = mc_grid_index_write(outdir, ent, n);
    mc_grid_index_free(ent, n);
    MC_TRY(rc);
    /* a copy of the grid file, unless it is that copy */
    MC_TRY(pjoin(path, sizeof path, outdir, "grid.grid"));
    char *a = realpath(gridpath, NULL), *b = realpath(path, NULL);
    int same = a && b && !strcmp(a, b);
    free(a);
    free(b);
    if (!same) {
        char *text;
        size_t len;
        MC_TRY(mc_fread_all(gridpath, &text, &len));
        blob bl = {text, len};
        rc = mc_write_atomic(path, write_blob, &bl);
        free(text);
        MC_TRY(rc);
    }
    return MC_OK;
}

/* ---- run folders the grid no longer has ------------------------------------------------------ */
void mc_grid_names_free(char **names, int n) {
    for (int i = 0; names && i < n; i++) free(names[i]);
    free(names);
}

int mc_grid_stale(const char *outdir, const mc_grid_run *runs, int n, char ***names, int *count) {
    *names = NULL;
    *count = 0;
    DIR *d = opendir(outdir);
    if (!d) return MC_OK; /* no folder: nothing left over */
    int rc = MC_OK;
    for (struct dirent *de; rc == MC_OK && (de = readdir(d));) {
        if (de->d_name[0] == '.') continue;
        char exp[4400];
        snprintf(exp, sizeof exp, "%s/%s/experiment.exp", outdir, de->d_name);
        if (!file_exists(exp)) continue;
        int known = 0;
        for (int i = 0; i < n && !known; i++) known = !strcmp(runs[i].name, de->d_name);
        if (known) continue;
        char **nv = mc_realloc(*names, (size_t)(*count + 1) * sizeof *nv, "run names");
        if (!nv) {
            rc = MC_ENOMEM;
            break;
        }
        *names = nv;
        if (!(nv[*count] = mc_strdup(de->d_name))) rc = MC_ENOMEM;
        else (*count)++;
    }
    closedir(d);
    if (rc < 0) {
        mc_grid_names_free(*names, *count);
        *names = NULL;
        *count = 0;
    }
    return rc;
}

/* ---- run state -------------------------------------------------------------------------------- */
int mc_run_status(const char *rundir, mc_run_state *st) {
    memset(st, 0, sizeof *st);
    char path[4096];
    MC_TRY(pjoin(path, sizeof path, rundir, "experiment.exp"));
    mc_experiment e;
    MC_TRY(mc_experiment_load(&e, path));
    st->nstages = e.nstages;
    int started = 0, counting = 1;
    for (int k = 0; k < e.nstages; k++) {
        char sub[64];
        snprintf(sub, sizeof sub, "%d-%s", k + 1, mc_stage_name(e.st[k].stage));
        int rc = pjoin(path, sizeof path, rundir, sub);
        if (rc < 0) {
            mc_experiment_clear(&e);
            return rc;
        }
        struct stat sb;
        if (stat(path, &sb) == 0) started = 1;
        size_t l = strlen(path);
        snprintf(path + l, sizeof path - l, "/DONE");
        if (counting && file_exists(path))
            st->ndone++;
        else
            counting = 0;
    }
    mc_experiment_clear(&e);
    MC_TRY(pjoin(path, sizeof path, rundir, "log.csv"));
    if (file_exists(path)) started = 1;
    MC_TRY(pjoin(path, sizeof path, rundir, "results.csv"));
    if (file_exists(path)) {
        mc_stage_result *r;
        int n;
        MC_TRY(mc_results_load(rundir, &r, &n));
        mc_results_free(r, MC_MAX_STAGES);
        st->nresults = n;
        started = 1;
    }
    st->state = st->ndone == st->nstages && st->nresults >= st->nstages ? MC_RUN_DONE
                : started                                               ? MC_RUN_STARTED
                                                                        : MC_RUN_NEW;
    return MC_OK;
}
