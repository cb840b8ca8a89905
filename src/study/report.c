/* report.c — the report (mc_study.h; `medcolor report` prints it): the results of run folders
 * (or of a whole grid folder) as the paper reports them (docs/study.md):
 *   - each run's best validation mean AUC per finished stage (and per label, in runs.csv);
 *   - mean ± sample std over seeds / subset draws per strategy, in tables shaped like the paper's
 *     Tables I and III (sections per dataset, backbone and training-set size), the thesis's
 *     Table 5.6 (by training-set size) and Table II (per label);
 *   - paired two-sided t-tests between strategies named with --compare A:B (pairs matched by seed
 *     and subset seed), p-values adjusted with Benjamini–Hochberg over the family of comparisons;
 *   - CSV files and PNG plots of mean AUC against training-set size with error bars (Fig. 6).
 *
 * A strategy is a run's stage chain up to a stage: every finished stage of a run is a result
 * (a color -> all run gives "Color Module" and "All"). Its evaluation dataset is the data of that
 * stage; stages of the chain on another dataset are written STAGE@DATA (color@chexpert+last). */
#include "core/core.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* one finished stage of one run */
typedef struct entry {
    int run; /* index into the runs */
    char backbone[64], module[64];
    char chain[512]; /* the stages up to this one, relative to its dataset */
    char data[128];  /* evaluation dataset (the stage's .data, shown without .data) */
    int stage;       /* MC_STAGE_* of this stage */
    int stage_index; /* 1-based */
    double frac;     /* training-set fraction, 1 = all */
    uint32_t sseed;
    uint64_t seed;
    double mean; /* best validation mean AUC */
    long best_iter;
    const mc_stage_result *res; /* labels and per-label AUCs */
} entry;

typedef struct run_info {
    char dir[4096];
    char name[256];
    int nstages, ndone; /* from experiment.exp / results.csv */
    mc_stage_result *res;
    int nres;
} run_info;

/* a strategy in a context: the runs' results (mean over seeds) */
typedef struct group {
    char data[128], backbone[64], module[64], chain[512];
    double frac;
    int stage;   /* the last stage */
    int nstages; /* chain length */
    int order;   /* first appearance of the module (for sorting) */
    int *e;      /* entries */
    int n;
    double mean, sd;
} group;

/* a strategy as named in a comparison: [BACKBONE/]MODULE/STAGES */
typedef struct spec {
    char backbone[64], module[64], chain[512];
} spec;

/* one paired t-test */
typedef struct cmp_row {
    int ga, gb; /* groups */
    int label;  /* -1: mean AUC; else label index of ga's first entry */
    char spec_a[600], spec_b[600];
    mc_ttest t;
    int ok; /* the test could be made (n >= 2) */
    double padj;
} cmp_row;

struct mc_report {
    run_info *runs;
    int nruns;
    entry *ent;
    int nent, capent;
    group *grp;
    int ngrp, capgrp;
    char modules[64][64]; /* modules in order of first appearance */
    int nmodules;
    int percent;
    double alpha;
    int has_ref; /* diff_to given: ref */
    spec ref;
    int ndup;    /* results left out: the same strategy and seeds as another run's */
    int ngrids;
    cmp_row *rows; /* the comparisons */
    int nrows, caprows;
    int per_label; /* some comparison was made per label */
};
typedef struct mc_report report;

/* ---- small helpers ------------------------------------------------------------------------ */
static int is_file(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static void data_display(const char *path, char *buf, size_t n) {
    const char *b = strrchr(path, '/');
    snprintf(buf, n, "%s", b ? b + 1 : path);
    size_t l = strlen(buf);
    if (l > 5 && !strcmp(buf + l - 5, ".data")) buf[l - 5] = 0;
}

static const char *strategy_name(int stage) {
    static const char *const names[] = {"Baseline", "Baseline All", "Color Module", "All", "Last Layer"};
    return stage >= 0 && stage < MC_NUM_STAGES ? names[stage] : "?";
}

static int stage_rank(int stage) {
    /* the paper's order: frozen E first (Baseline, Color Module), then fine-tuned, then transfer */
    switch (stage) {
    case MC_STAGE_BASELINE: return 0;
    case MC_STAGE_COLOR: return 1;
    case MC_STAGE_BASELINE_ALL: return 2;
    case MC_STAGE_ALL: return 3;
    default: return 4;
    }
}

static const char *module_display(const char *m) {
    static const char *const tab[][2] = {
        {"none", "-"}, {"deconv", "DECONV"}, {"pixelshuffle", "PixelShuffle"}, {"coloru", "ColorU"}, {NULL, NULL}};
    for (int i = 0; tab[i][0]; i++)
        if (!strcmp(m, tab[i][0])) return tab[i][1];
    return m;
}

static void fmt_frac(double f, char *buf, size_t n) {
    if (f >= 1)
        snprintf(buf, n, "100%%");
    else
        snprintf(buf, n, "%g%%", f * 100);
}

/* text in a column of w characters (UTF-8 aware: ± is one character) */
static void cell(FILE *f, const char *s, int w) {
    int chars = 0;
    for (const char *p = s; *p; p++)
        chars += ((unsigned char)*p & 0xC0) != 0x80;
    fputs(s, f);
    for (int i = chars; i < w; i++)
        fputc(' ', f);
}

static void fmt_ms(const report *r, double mean, double sd, char *buf, size_t n) {
    double k = r->percent ? 100 : 1;
    int dec = r->percent ? 1 : 3;
    if (isnan(mean))
        snprintf(buf, n, "n/a");
    else if (isnan(sd))
        snprintf(buf, n, "%.*f ± n/a", dec, mean * k);
    else
        snprintf(buf, n, "%.*f ± %.*f", dec, mean * k, dec, sd * k);
}

static void strategy_label(const group *g, char *buf, size_t n) {
    if (strcmp(g->module, "none"))
        snprintf(buf, n, "%s %s (%s)", module_display(g->module), strategy_name(g->stage), g->chain);
    else
        snprintf(buf, n, "%s (%s)", strategy_name(g->stage), g->chain);
}

/* ---- reading the runs ---------------------------------------------------------------------- */
static int add_run(report *r, const char *dir, const char *backbone, const char *module) {
    run_info *nr = mc_realloc(r->runs, (size_t)(r->nruns + 1) * sizeof *nr, "report runs");
    if (!nr) return MC_ENOMEM;
    r->runs = nr;
    run_info *ri = &r->runs[r->nruns];
    memset(ri, 0, sizeof *ri);
    snprintf(ri->dir, sizeof ri->dir, "%s", dir);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", dir);
    size_t l = strlen(tmp);
    while (l > 1 && tmp[l - 1] == '/')
        tmp[--l] = 0;
    const char *b = strrchr(tmp, '/');
    snprintf(ri->name, sizeof ri->name, "%.255s", b ? b + 1 : tmp);
    int idx = r->nruns++;

    char path[4200];
    snprintf(path, sizeof path, "%s/experiment.exp", dir);
    mc_experiment e;
    MC_TRY(mc_experiment_load(&e, path));
    ri->nstages = e.nstages;
    snprintf(path, sizeof path, "%s/results.csv", dir);
    int rc = is_file(path) ? mc_results_load(dir, &ri->res, &ri->nres) : MC_OK;
    if (rc < 0) {
        mc_experiment_clear(&e);
        return rc;
    }
    ri->ndone = ri->nres;
    /* backbone / module: the grid's, else from the cfg name (backbone-module.cfg) */
    char bb[64], mod[64];
    if (backbone) {
        snprintf(bb, sizeof bb, "%s", backbone);
        snprintf(mod, sizeof mod, "%s", module);
    } else {
        const char *nb = strrchr(e.net, '/');
        snprintf(bb, sizeof bb, "%s", nb ? nb + 1 : e.net);
        char *dot = strrchr(bb, '.');
        if (dot && !strcmp(dot, ".cfg")) *dot = 0;
        char *dash = strchr(bb, '-');
        snprintf(mod, sizeof mod, "%s", dash ? dash + 1 : "none");
        if (dash) *dash = 0;
    }
    int known = 0;
    for (int i = 0; i < r->nmodules; i++)
        known |= !strcmp(r->modules[i], mod);
    if (!known && r->nmodules < 64) snprintf(r->modules[r->nmodules++], 64, "%s", mod);
    for (int k = 0; k < ri->nres && k < e.nstages; k++) {
        if (r->nent == r->capent) {
            int cap = r->capent ? 2 * r->capent : 64;
            entry *ne = mc_realloc(r->ent, (size_t)cap * sizeof *ne, "report results");
            if (!ne) {
                mc_experiment_clear(&e);
                return MC_ENOMEM;
            }
            r->ent = ne;
            r->capent = cap;
        }
        entry *en = &r->ent[r->nent++];
        memset(en, 0, sizeof *en);
        en->run = idx;
        snprintf(en->backbone, sizeof en->backbone, "%s", bb);
        snprintf(en->module, sizeof en->module, "%s", mod);
        const char *dk = e.st[k].data ? e.st[k].data : e.data;
        data_display(dk, en->data, sizeof en->data);
        size_t o = 0;
        for (int j = 0; j <= k && o < sizeof en->chain; j++) {
            const char *dj = e.st[j].data ? e.st[j].data : e.data;
            char shown[128] = "";
            if (strcmp(dj, dk)) data_display(dj, shown, sizeof shown);
            o += (size_t)snprintf(en->chain + o, sizeof en->chain - o, "%s%s%s%s", j ? "+" : "",
                                  mc_stage_name(e.st[j].stage), shown[0] ? "@" : "", shown);
        }
        en->stage = e.st[k].stage;
        en->stage_index = k + 1;
        en->frac = e.subset > 0 ? e.subset : 1;
        en->sseed = e.subset > 0 ? e.subset_seed : 0;
        en->seed = e.seed;
        en->mean = ri->res[k].mean_auc;
        en->best_iter = ri->res[k].best_iter;
        en->res = &ri->res[k];
    }
    mc_experiment_clear(&e);
    return MC_OK;
}

static int module_order(const report *r, const char *m) {
    if (!strcmp(m, "none")) return -1;
    for (int i = 0; i < r->nmodules; i++)
        if (!strcmp(r->modules[i], m)) return i;
    return r->nmodules;
}

static int group_of(report *r, const entry *en) {
    for (int i = 0; i < r->ngrp; i++) {
        group *g = &r->grp[i];
        if (!strcmp(g->data, en->data) && !strcmp(g->backbone, en->backbone) && g->frac == en->frac &&
            !strcmp(g->module, en->module) && !strcmp(g->chain, en->chain))
            return i;
    }
    if (r->ngrp == r->capgrp) {
        int cap = r->capgrp ? 2 * r->capgrp : 32;
        group *ng = mc_realloc(r->grp, (size_t)cap * sizeof *ng, "report strategies");
        if (!ng) return MC_ENOMEM;
        r->grp = ng;
        r->capgrp = cap;
    }
    group *g = &r->grp[r->ngrp];
    memset(g, 0, sizeof *g);
    snprintf(g->data, sizeof g->data, "%s", en->data);
    snprintf(g->backbone, sizeof g->backbone, "%s", en->backbone);
    snprintf(g->module, sizeof g->module, "%s", en->module);
    snprintf(g->chain, sizeof g->chain, "%s", en->chain);
    g->frac = en->frac;
    g->stage = en->stage;
    g->nstages = en->stage_index;
    g->order = module_order(r, en->module);
    return r->ngrp++;
}

/* sections in order of first appearance of data, then backbone; larger training sets first */
static int first_data(const report *r, const char *d) {
    for (int i = 0; i < r->nent; i++)
        if (!strcmp(r->ent[i].data, d)) return i;
    return 0;
}
static int first_backbone(const report *r, const char *b) {
    for (int i = 0; i < r->nent; i++)
        if (!strcmp(r->ent[i].backbone, b)) return i;
    return 0;
}
static int cmp_group(const void *x, const void *y, void *ctx) {
    const report *r = (const report *)ctx;
    const group *a = (const group *)x, *b = (const group *)y;
    int c = first_data(r, a->data) - first_data(r, b->data);
    if (c) return c;
    if ((c = first_backbone(r, a->backbone) - first_backbone(r, b->backbone))) return c;
    if (a->frac != b->frac) return a->frac > b->frac ? -1 : 1;
    if ((c = stage_rank(a->stage) - stage_rank(b->stage))) return c;
    if ((c = a->order - b->order)) return c;
    if ((c = a->nstages - b->nstages)) return c;
    return strcmp(a->chain, b->chain);
}

static int build_groups(report *r) {
    for (int i = 0; i < r->nent; i++) {
        int g = group_of(r, &r->ent[i]);
        if (g < 0) return g;
        group *gp = &r->grp[g];
        /* the same strategy with the same seeds in another run (e.g. the color stage of a color
         * -> all and of a color -> last run) is the same computation: counted once */
        int dup = 0;
        for (int j = 0; j < gp->n; j++) {
            const entry *o = &r->ent[gp->e[j]];
            dup |= o->seed == r->ent[i].seed && o->sseed == r->ent[i].sseed;
        }
        if (dup) {
            r->ndup++;
            continue;
        }
        int *ne = mc_realloc(gp->e, (size_t)(gp->n + 1) * sizeof(int), "report strategies");
        if (!ne) return MC_ENOMEM;
        gp->e = ne;
        gp->e[gp->n++] = i;
    }
    qsort_r(r->grp, (size_t)r->ngrp, sizeof(group), cmp_group, r);
    for (int i = 0; i < r->ngrp; i++) {
        group *g = &r->grp[i];
        double *v = mc_malloc((size_t)(g->n ? g->n : 1) * sizeof(double), "report");
        if (!v) return MC_ENOMEM;
        for (int j = 0; j < g->n; j++)
            v[j] = r->ent[g->e[j]].mean;
        mc_mean_sd(v, g->n, &g->mean, &g->sd);
        free(v);
    }
    return MC_OK;
}

/* per-label mean ± sd of a group (labels of its first entry; matched by name in the others) */
static void label_stats(const report *r, const group *g, int j, double *mean, double *sd, int *n) {
    const char *lab = r->ent[g->e[0]].res->labels[j];
    double v[1024];
    int m = 0;
    for (int i = 0; i < g->n && m < 1024; i++) {
        const mc_stage_result *s = r->ent[g->e[i]].res;
        for (int k = 0; k < s->nlabels; k++)
            if (!strcmp(s->labels[k], lab)) v[m++] = s->auc[k];
    }
    mc_mean_sd(v, m, mean, sd);
    *n = m;
}

static int same_ctx(const group *a, const group *b) {
    return !strcmp(a->data, b->data) && !strcmp(a->backbone, b->backbone) && a->frac == b->frac;
}

/* ---- tables -------------------------------------------------------------------------------- */
/* the width of a column: the longest text + 2, at least min */
static int chain_width(const report *r, int min) {
    int w = min;
    for (int i = 0; i < r->ngrp; i++)
        if ((int)strlen(r->grp[i].chain) + 2 > w) w = (int)strlen(r->grp[i].chain) + 2;
    return w;
}

static int label_width(const report *r, int min) {
    int w = min;
    for (int i = 0; i < r->ngrp; i++) {
        char lab[700];
        strategy_label(&r->grp[i], lab, sizeof lab);
        if ((int)strlen(lab) + 2 > w) w = (int)strlen(lab) + 2;
    }
    return w;
}

static void print_runs(FILE *f, const report *r) {
    fprintf(f, "Runs (%d): best validation mean AUC per finished stage\n", r->nruns);
    int w = 20;
    for (int i = 0; i < r->nruns; i++)
        if ((int)strlen(r->runs[i].name) + 2 > w) w = (int)strlen(r->runs[i].name) + 2;
    fprintf(f, "  ");
    cell(f, "run", w);
    fprintf(f, "stages  mean AUC (best iteration)\n");
    for (int i = 0; i < r->nruns; i++) {
        const run_info *ri = &r->runs[i];
        char st[32];
        snprintf(st, sizeof st, "%d/%d", ri->ndone, ri->nstages);
        fprintf(f, "  ");
        cell(f, ri->name, w);
        cell(f, st, 8);
        if (!ri->nres) fprintf(f, "no results yet");
        for (int k = 0; k < ri->nres; k++) {
            double m = ri->res[k].mean_auc * (r->percent ? 100 : 1);
            fprintf(f, "%s%s %.*f (%ld)", k ? ", " : "", mc_stage_name(ri->res[k].stage), r->percent ? 1 : 4, m,
                    ri->res[k].best_iter);
        }
        fprintf(f, "\n");
    }
}

static int nfractions(const report *r) {
    double seen[256];
    int n = 0;
    for (int i = 0; i < r->ngrp; i++) {
        int k = 0;
        while (k < n && seen[k] != r->grp[i].frac)
            k++;
        if (k == n && n < 256) seen[n++] = r->grp[i].frac;
    }
    return n;
}

/* Tables I and III: sections per dataset, backbone and training-set size */
static void print_summary(FILE *f, const report *r) {
    fprintf(f, "\nMean AUC over seeds (mean ± sample std; n = runs)   [the paper's Tables I and III]\n");
    int wc = chain_width(r, 14);
    for (int i = 0; i < r->ngrp; i++) {
        const group *g = &r->grp[i];
        if (i == 0 || !same_ctx(g, &r->grp[i - 1])) {
            char fr[32];
            fmt_frac(g->frac, fr, sizeof fr);
            fprintf(f, "\n  Data: %s — Backbone: %s — training set: %s\n  ", g->data, g->backbone, fr);
            cell(f, "Colorization Module", 21);
            cell(f, "Learning Strategy", 19);
            cell(f, "Stages", wc);
            cell(f, "Mean AUC", 18);
            fprintf(f, "n\n");
        }
        char ms[64];
        fmt_ms(r, g->mean, g->sd, ms, sizeof ms);
        fprintf(f, "  ");
        cell(f, module_display(g->module), 21);
        cell(f, strategy_name(g->stage), 19);
        cell(f, g->chain, wc);
        cell(f, ms, 18);
        fprintf(f, "%d\n", g->n);
    }
}

/* the thesis's Table 5.6: by training-set size */
static void print_by_size(FILE *f, const report *r) {
    fprintf(f, "\nMean AUC by training-set size (mean ± sample std over subset draws)   [the thesis's Table 5.6]\n");
    int wc = chain_width(r, 14);
    for (int i = 0; i < r->ngrp; i++) {
        const group *g = &r->grp[i];
        if (i == 0 || strcmp(g->data, r->grp[i - 1].data)) {
            fprintf(f, "\n  Data: %s\n  ", g->data);
            cell(f, "Size", 8);
            cell(f, "Model", 14);
            cell(f, "Colorization Module", 21);
            cell(f, "Transfer strategy", 19);
            cell(f, "Stages", wc);
            cell(f, "AUC", 18);
            fprintf(f, "n\n");
        }
        char ms[64], fr[32];
        fmt_ms(r, g->mean, g->sd, ms, sizeof ms);
        fmt_frac(g->frac, fr, sizeof fr);
        fprintf(f, "  ");
        cell(f, fr, 8);
        cell(f, g->backbone, 14);
        cell(f, strcmp(g->module, "none") ? module_display(g->module) : "No", 21);
        cell(f, strategy_name(g->stage), 19);
        cell(f, g->chain, wc);
        cell(f, ms, 18);
        fprintf(f, "%d\n", g->n);
    }
}

/* Table II: per label */
static void print_labels(FILE *f, const report *r) {
    fprintf(f, "\nAUC per label (mean ± sample std)   [the paper's Table II]\n");
    int wl = label_width(r, 24);
    for (int i = 0; i < r->ngrp; i++) {
        const group *g = &r->grp[i];
        const mc_stage_result *s0 = r->ent[g->e[0]].res;
        if (i == 0 || !same_ctx(g, &r->grp[i - 1])) {
            char fr[32];
            fmt_frac(g->frac, fr, sizeof fr);
            fprintf(f, "\n  Data: %s — Backbone: %s — training set: %s\n  ", g->data, g->backbone, fr);
            cell(f, "Strategy", wl);
            for (int j = 0; j < s0->nlabels; j++) {
                char h[20];
                snprintf(h, sizeof h, "%.16s", s0->labels[j]);
                cell(f, h, 18);
            }
            fprintf(f, "\n");
        }
        char lab[600];
        strategy_label(g, lab, sizeof lab);
        fprintf(f, "  ");
        cell(f, lab, wl);
        for (int j = 0; j < s0->nlabels; j++) {
            double m, sd;
            int n;
            label_stats(r, g, j, &m, &sd, &n);
            char ms[64];
            fmt_ms(r, m, sd, ms, sizeof ms);
            cell(f, ms, 18);
        }
        fprintf(f, "\n");
    }
}

/* ---- comparisons ----------------------------------------------------------------------------- */
static int parse_spec(const char *s, spec *sp) {
    memset(sp, 0, sizeof *sp);
    char buf[700];
    snprintf(buf, sizeof buf, "%s", s);
    char *a = strchr(buf, '/');
    if (!a) return -1;
    char *b = strchr(a + 1, '/');
    *a = 0;
    if (b) {
        *b = 0;
        snprintf(sp->backbone, sizeof sp->backbone, "%.63s", buf);
        snprintf(sp->module, sizeof sp->module, "%.63s", a + 1);
        snprintf(sp->chain, sizeof sp->chain, "%.511s", b + 1);
    } else {
        snprintf(sp->module, sizeof sp->module, "%.63s", buf);
        snprintf(sp->chain, sizeof sp->chain, "%.511s", a + 1);
    }
    return sp->module[0] && sp->chain[0] ? 0 : -1;
}

static int find_group(const report *r, const char *data, const char *backbone, double frac, const spec *sp) {
    for (int i = 0; i < r->ngrp; i++) {
        const group *g = &r->grp[i];
        if (!strcmp(g->data, data) && !strcmp(g->backbone, backbone) && g->frac == frac &&
            !strcmp(g->module, sp->module) && !strcmp(g->chain, sp->chain))
            return i;
    }
    return -1;
}

/* pairs of a label (or the mean) of groups a and b, matched by (seed, subset seed) */
static int pairs(const report *r, const group *a, const group *b, int label, double *x, double *y, int max) {
    int n = 0;
    const char *lab = label >= 0 ? r->ent[a->e[0]].res->labels[label] : NULL;
    for (int i = 0; i < a->n && n < max; i++) {
        const entry *ea = &r->ent[a->e[i]];
        for (int j = 0; j < b->n; j++) {
            const entry *eb = &r->ent[b->e[j]];
            if (ea->seed != eb->seed || ea->sseed != eb->sseed) continue;
            if (!lab) {
                x[n] = ea->mean;
                y[n] = eb->mean;
                n++;
            } else {
                int ka = -1, kb = -1;
                for (int k = 0; k < ea->res->nlabels; k++)
                    if (!strcmp(ea->res->labels[k], lab)) ka = k;
                for (int k = 0; k < eb->res->nlabels; k++)
                    if (!strcmp(eb->res->labels[k], lab)) kb = k;
                if (ka >= 0 && kb >= 0) {
                    x[n] = ea->res->auc[ka];
                    y[n] = eb->res->auc[kb];
                    n++;
                }
            }
            break;
        }
    }
    return n;
}

static const char SPEC_EXPECTED[] = "expected MODULE/STAGES, e.g. none/baseline-all";
static const char CMP_EXPECTED[] =
    "expected A:B with A, B = [BACKBONE/]MODULE/STAGES, e.g. pixelshuffle/color:none/baseline";

int mc_report_check_strategy(const char *s, int with_backbone) {
    spec sp;
    if (!s || parse_spec(s, &sp) < 0 || (!with_backbone && sp.backbone[0]))
        return mc_err(MC_EARG, "%s", with_backbone ? "expected [BACKBONE/]MODULE/STAGES, e.g. pixelshuffle/color+all"
                                                   : SPEC_EXPECTED);
    return MC_OK;
}

/* "A:B" into a and b */
static int parse_compare(const char *s, spec *a, spec *b) {
    char buf[700];
    if (!s || strlen(s) >= sizeof buf) return mc_err(MC_EARG, "%s", CMP_EXPECTED);
    snprintf(buf, sizeof buf, "%s", s);
    char *colon = strchr(buf, ':');
    if (!colon) return mc_err(MC_EARG, "%s", CMP_EXPECTED);
    *colon = 0;
    if (parse_spec(buf, a) < 0 || parse_spec(colon + 1, b) < 0) return mc_err(MC_EARG, "%s", CMP_EXPECTED);
    return MC_OK;
}

int mc_report_check_compare(const char *s) {
    spec a, b;
    return parse_compare(s, &a, &b);
}

/* Benjamini–Hochberg over every comparison so far: the mean-AUC comparisons form one family,
 * the per-label ones another */
static int adjust(report *r) {
    double *p = mc_malloc((size_t)(r->nrows + 1) * sizeof(double), "p-values");
    int *idx = mc_malloc((size_t)(r->nrows + 1) * sizeof(int), "p-values");
    if (!p || !idx) {
        free(p);
        free(idx);
        return MC_ENOMEM;
    }
    for (int fam = 0; fam < 2; fam++) {
        int m = 0;
        for (int k = 0; k < r->nrows; k++)
            if ((r->rows[k].label >= 0) == fam && r->rows[k].ok) {
                p[m] = r->rows[k].t.p;
                idx[m++] = k;
            }
        if (m && mc_bh_adjust(p, m, p) == 0)
            for (int k = 0; k < m; k++) r->rows[idx[k]].padj = p[k];
    }
    free(p);
    free(idx);
    return MC_OK;
}

int mc_report_compare(report *r, const char *s, int per_label) {
    spec A, B;
    MC_TRY(parse_compare(s, &A, &B));
    int found = 0;
    /* contexts: every (data, fraction, backbone) of the groups; a backbone named in A or B
     * replaces the context's */
    for (int i = 0; i < r->ngrp; i++) {
        const group *g = &r->grp[i];
        const char *ba = A.backbone[0] ? A.backbone : B.backbone[0] ? B.backbone : g->backbone;
        const char *bb = B.backbone[0] ? B.backbone : A.backbone[0] ? A.backbone : g->backbone;
        int ga = find_group(r, g->data, ba, g->frac, &A), gb = find_group(r, g->data, bb, g->frac, &B);
        if (ga < 0 || gb < 0 || ga == gb) continue;
        int dup = 0;
        for (int k = 0; k < r->nrows; k++)
            dup |= r->rows[k].ga == ga && r->rows[k].gb == gb && r->rows[k].label == -1;
        if (dup) continue;
        found = 1;
        int nl = per_label ? r->ent[r->grp[ga].e[0]].res->nlabels : 0;
        for (int l = -1; l < nl; l++) {
            if (r->nrows == r->caprows) {
                int cap = r->caprows ? 2 * r->caprows : 16;
                cmp_row *nr = mc_realloc(r->rows, (size_t)cap * sizeof *nr, "comparisons");
                if (!nr) return MC_ENOMEM;
                r->rows = nr;
                r->caprows = cap;
            }
            cmp_row *row = &r->rows[r->nrows++];
            memset(row, 0, sizeof *row);
            row->ga = ga;
            row->gb = gb;
            row->label = l;
            snprintf(row->spec_a, sizeof row->spec_a, "%s/%s", A.module, A.chain);
            snprintf(row->spec_b, sizeof row->spec_b, "%s/%s", B.module, B.chain);
            double x[1024], y[1024];
            int n = pairs(r, &r->grp[ga], &r->grp[gb], l, x, y, 1024);
            row->ok = n >= 2 && mc_ttest_paired(x, y, n, &row->t) == 0;
            if (!row->ok) {
                row->t.n = n;
                row->t.p = NAN;
            }
            row->padj = NAN;
        }
    }
    if (!found) return mc_err(MC_ENOTFOUND, "no context has both strategies");
    if (per_label) r->per_label = 1;
    return adjust(r);
}

/* the context and the two strategies of a comparison as printed */
static void row_strings(const report *r, const cmp_row *w, char *ctx, size_t nc, char *sa, size_t na, char *sb,
                        size_t nb) {
    const group *a = &r->grp[w->ga], *b = &r->grp[w->gb];
    char fr[32];
    fmt_frac(a->frac, fr, sizeof fr);
    if (strcmp(a->backbone, b->backbone)) {
        snprintf(ctx, nc, "%s %s", a->data, fr);
        snprintf(sa, na, "%s/%s", a->backbone, w->spec_a);
        snprintf(sb, nb, "%s/%s", b->backbone, w->spec_b);
    } else {
        snprintf(ctx, nc, "%s %s %s", a->data, a->backbone, fr);
        snprintf(sa, na, "%s", w->spec_a);
        snprintf(sb, nb, "%s", w->spec_b);
    }
}

static void print_compares(FILE *f, const report *r) {
    const cmp_row *rows = r->rows;
    int n = r->nrows, per_label = r->per_label;
    double alpha = r->alpha;
    int wc = 9, wa = 4, wb = 4;
    for (int k = 0; k < n; k++) {
        char ctx[300], sa[700], sb[700];
        row_strings(r, &rows[k], ctx, sizeof ctx, sa, sizeof sa, sb, sizeof sb);
        if ((int)strlen(ctx) + 2 > wc) wc = (int)strlen(ctx) + 2;
        if ((int)strlen(sa) + 2 > wa) wa = (int)strlen(sa) + 2;
        if ((int)strlen(sb) + 2 > wb) wb = (int)strlen(sb) + 2;
    }
    for (int fam = 0; fam < 1 + per_label; fam++) {
        int m = 0;
        for (int k = 0; k < n; k++)
            m += (rows[k].label >= 0) == fam && rows[k].ok;
        fprintf(f,
                "\nPaired t-tests (two-sided; pairs matched by seed and subset seed)%s; p(BH): Benjamini–Hochberg over "
                "the %d %s; * adjusted p < %g\n  ",
                fam ? " per label" : " of the mean AUC", m, fam ? "label comparisons" : "comparisons", alpha);
        cell(f, "Context", wc);
        if (fam) cell(f, "Label", 18);
        cell(f, "A", wa);
        cell(f, "B", wb);
        fprintf(f, "%3s  %8s %8s %8s %8s %8s %8s\n", "n", "mean A", "mean B", "A - B", "t", "p", "p(BH)");
        for (int k = 0; k < n; k++) {
            const cmp_row *w = &rows[k];
            if ((w->label >= 0) != fam) continue;
            const group *a = &r->grp[w->ga];
            char ctx[300], sa[700], sb[700];
            row_strings(r, w, ctx, sizeof ctx, sa, sizeof sa, sb, sizeof sb);
            fprintf(f, "  ");
            cell(f, ctx, wc);
            if (fam) {
                char h[20];
                snprintf(h, sizeof h, "%.16s", r->ent[a->e[0]].res->labels[w->label]);
                cell(f, h, 18);
            }
            cell(f, sa, wa);
            cell(f, sb, wb);
            double k100 = r->percent ? 100 : 1;
            if (!w->ok) {
                fprintf(f, "%3d  (needs at least 2 pairs with the same seed and subset seed)\n", w->t.n);
                continue;
            }
            fprintf(f, "%3d  %8.4f %8.4f %+8.4f %8.3f %8.4f %8.4f%s\n", w->t.n, w->t.mean_a * k100, w->t.mean_b * k100,
                    w->t.mean_diff * k100, w->t.t, w->t.p, w->padj, w->padj < alpha ? " *" : "");
        }
    }
}

/* ---- CSV ------------------------------------------------------------------------------------- */
static void csv_str(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (const char *p = s; *p; p++) {
        if (*p == '"') fputc('"', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

static int write_csvs(const char *out, const report *r) {
    const cmp_row *rows = r->rows;
    int nrows = r->nrows;
    double alpha = r->alpha;
    char path[4200];
    snprintf(path, sizeof path, "%s/runs.csv", out);
    errno = 0;
    FILE *f = fopen(path, "w");
    if (!f) goto fail;
    fprintf(f, "run,backbone,module,stages,strategy,data,fraction,subset_seed,seed,stage_index,best_iter,label,auc\n");
    for (int i = 0; i < r->nent; i++) {
        const entry *e = &r->ent[i];
        for (int j = -1; j < e->res->nlabels; j++) {
            csv_str(f, r->runs[e->run].name);
            fprintf(f, ",%s,%s,%s,%s,%s,%.17g,%u,%llu,%d,%ld,", e->backbone, e->module, e->chain,
                    strategy_name(e->stage), e->data, e->frac, e->sseed, (unsigned long long)e->seed, e->stage_index,
                    e->best_iter);
            csv_str(f, j < 0 ? "mean" : e->res->labels[j]);
            fprintf(f, ",%.6f\n", j < 0 ? e->mean : e->res->auc[j]);
        }
    }
    if (fclose(f)) goto fail;
    snprintf(path, sizeof path, "%s/summary.csv", out);
    if (!(f = fopen(path, "w"))) goto fail;
    fprintf(f, "data,backbone,fraction,module,stages,strategy,label,n,mean,std\n");
    for (int i = 0; i < r->ngrp; i++) {
        const group *g = &r->grp[i];
        const mc_stage_result *s0 = r->ent[g->e[0]].res;
        for (int j = -1; j < s0->nlabels; j++) {
            double m = g->mean, sd = g->sd;
            int n = g->n;
            if (j >= 0) label_stats(r, g, j, &m, &sd, &n);
            fprintf(f, "%s,%s,%.17g,%s,%s,%s,", g->data, g->backbone, g->frac, g->module, g->chain,
                    strategy_name(g->stage));
            csv_str(f, j < 0 ? "mean" : s0->labels[j]);
            fprintf(f, ",%d,%.17g,%.17g\n", n, m, sd);
        }
    }
    if (fclose(f)) goto fail;
    if (nrows) {
        snprintf(path, sizeof path, "%s/compare.csv", out);
        if (!(f = fopen(path, "w"))) goto fail;
        fprintf(f, "family,label,data,fraction,backbone_a,a,backbone_b,b,n,mean_a,mean_b,mean_diff,sd_diff,t,df,p,p_bh,"
                   "significant\n");
        for (int k = 0; k < nrows; k++) {
            const cmp_row *w = &rows[k];
            const group *a = &r->grp[w->ga], *b = &r->grp[w->gb];
            fprintf(f, "%s,", w->label >= 0 ? "label" : "mean");
            csv_str(f, w->label >= 0 ? r->ent[a->e[0]].res->labels[w->label] : "mean");
            fprintf(f, ",%s,%.17g,%s,%s,%s,%s,%d,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%d\n", a->data,
                    a->frac, a->backbone, w->spec_a, b->backbone, w->spec_b, w->t.n, w->t.mean_a, w->t.mean_b,
                    w->t.mean_diff, w->t.sd_diff, w->t.t, w->t.df, w->t.p, w->padj, w->ok && w->padj < alpha);
        }
        if (fclose(f)) goto fail;
    }
    return MC_OK;
fail:
    return mc_err(MC_EIO, "%s: cannot write (%s)", path, errno ? strerror(errno) : "I/O error");
}

/* ---- plots (Fig. 6) -------------------------------------------------------------------------- */
/* a string list that grows */
static int list_add(char ***list, int *n, const char *s) {
    char **nl = mc_realloc(*list, (size_t)(*n + 1) * sizeof *nl, "plot list");
    if (!nl) return MC_ENOMEM;
    *list = nl;
    if (!(nl[*n] = mc_strdup(s))) return MC_ENOMEM;
    (*n)++;
    return MC_OK;
}

void mc_report_list_free(char **list, int n) {
    for (int i = 0; list && i < n; i++) free(list[i]);
    free(list);
}

static int plot_sizes(const char *out, const report *r, char ***plots, int *nplots) {
    const spec *ref = r->has_ref ? &r->ref : NULL;
    for (int i = 0; i < r->ngrp; i++) {
        const group *g0 = &r->grp[i];
        int first = 1; /* a section (data, backbone) is plotted at its first group */
        for (int k = 0; k < i; k++)
            if (!strcmp(r->grp[k].data, g0->data) && !strcmp(r->grp[k].backbone, g0->backbone)) first = 0;
        if (!first) continue;
        int nf = 0;
        double fr[256];
        for (int k = 0; k < r->ngrp; k++) {
            const group *g = &r->grp[k];
            if (strcmp(g->data, g0->data) || strcmp(g->backbone, g0->backbone)) continue;
            int s = 0;
            while (s < nf && fr[s] != g->frac)
                s++;
            if (s == nf && nf < 256) fr[nf++] = g->frac;
        }
        if (nf < 2) continue;
        uint32_t colors[256]; /* the strategies keep their colours in the difference plot */
        for (int diff = 0; diff < 1 + (ref != NULL); diff++) {
            int si = 0;
            char title[300], path[4400];
            snprintf(title, sizeof title, "%s on %s: %s against training-set size", g0->backbone, g0->data,
                     diff ? "mean AUC difference" : "mean AUC (± std)");
            mc_plot *p = mc_plot_new(900, 600, title, "training set (% of the training split)",
                                     diff ? "mean AUC - reference" : "mean AUC");
            if (!p) return MC_ENOMEM;
            mc_plot_xlog(p, 1);
            mc_plot_legend(p, MC_LEGEND_AUTO);
            /* one series per strategy, points in increasing size */
            double lo = 1e9, hi = 0;
            for (int k = 0; k < r->ngrp; k++) {
                const group *g = &r->grp[k];
                if (strcmp(g->data, g0->data) || strcmp(g->backbone, g0->backbone)) continue;
                int seen = 0;
                for (int q = 0; q < k; q++) {
                    const group *h = &r->grp[q];
                    seen |= !strcmp(h->data, g->data) && !strcmp(h->backbone, g->backbone) &&
                            !strcmp(h->module, g->module) && !strcmp(h->chain, g->chain);
                }
                if (seen) continue;
                int me = si++;
                if (diff && !strcmp(g->module, ref->module) && !strcmp(g->chain, ref->chain)) continue;
                double x[256], y[256], e[256];
                int n = 0;
                for (int q = 0; q < r->ngrp; q++) {
                    const group *h = &r->grp[q];
                    if (strcmp(h->data, g->data) || strcmp(h->backbone, g->backbone) || strcmp(h->module, g->module) ||
                        strcmp(h->chain, g->chain) || n >= 256)
                        continue;
                    double yv = h->mean;
                    if (diff) {
                        int rg = find_group(r, h->data, h->backbone, h->frac, ref);
                        if (rg < 0) continue;
                        yv -= r->grp[rg].mean;
                    }
                    x[n] = h->frac * 100;
                    y[n] = yv;
                    e[n] = diff ? (double)NAN : h->sd;
                    n++;
                }
                /* sort by x */
                for (int a = 1; a < n; a++)
                    for (int b = a; b > 0 && x[b] < x[b - 1]; b--) {
                        double t = x[b];
                        x[b] = x[b - 1];
                        x[b - 1] = t;
                        t = y[b];
                        y[b] = y[b - 1];
                        y[b - 1] = t;
                        t = e[b];
                        e[b] = e[b - 1];
                        e[b - 1] = t;
                    }
                for (int a = 0; a < n; a++) {
                    if (x[a] < lo) lo = x[a];
                    if (x[a] > hi) hi = x[a];
                }
                char name[600];
                strategy_label(g, name, sizeof name);
                int sidx = n ? mc_plot_errorbars(p, name, x, y, e, n, MC_PLOT_LINE | MC_PLOT_MARKERS) : 0;
                if (sidx < 0) {
                    mc_plot_free(p);
                    return sidx;
                }
                if (n && me < 256) {
                    if (!diff)
                        colors[me] = mc_plot_color(p, sidx);
                    else
                        mc_plot_set_color(p, sidx, colors[me]);
                }
            }
            if (diff && hi > 0) {
                double zx[2] = {lo, hi}, zy[2] = {0, 0};
                char name[700];
                snprintf(name, sizeof name, "reference: %s/%s", ref->module, ref->chain);
                int z = mc_plot_series(p, name, zx, zy, 2, MC_PLOT_LINE | MC_PLOT_DASHED | MC_PLOT_THIN);
                if (z >= 0) mc_plot_set_color(p, z, 0x707070);
            }
            snprintf(path, sizeof path, "%s/auc%s_vs_size_%s_%s.png", out, diff ? "_diff" : "", g0->data, g0->backbone);
            int rc = mc_plot_save(p, path);
            mc_plot_free(p);
            MC_TRY(rc);
            MC_TRY(list_add(plots, nplots, path));
        }
    }
    return 0;
}

/* ---- the API ------------------------------------------------------------------------------------ */
void mc_report_opts_default(mc_report_opts *o) {
    memset(o, 0, sizeof *o);
    o->alpha = 0.05;
}

void mc_report_free(report *r) {
    if (!r) return;
    for (int i = 0; i < r->nruns; i++)
        mc_results_free(r->runs[i].res, r->runs[i].nres);
    for (int i = 0; i < r->ngrp; i++)
        free(r->grp[i].e);
    free(r->runs);
    free(r->ent);
    free(r->grp);
    free(r->rows);
    free(r);
}

static int load_path(report *r, const char *p) {
    char tsv[4200], exp[4200];
    snprintf(tsv, sizeof tsv, "%s/runs.tsv", p);
    snprintf(exp, sizeof exp, "%s/experiment.exp", p);
    if (is_file(tsv)) {
        mc_grid_entry *ge;
        int n, rc = MC_OK;
        MC_TRY(mc_grid_index_load(p, &ge, &n));
        r->ngrids++;
        for (int k = 0; k < n && rc == MC_OK; k++) {
            char dir[4200];
            snprintf(dir, sizeof dir, "%s/%s", p, ge[k].name);
            rc = add_run(r, dir, ge[k].backbone, ge[k].module);
        }
        mc_grid_index_free(ge, n);
        return rc;
    }
    if (is_file(exp)) return add_run(r, p, NULL, NULL);
    return mc_err(MC_ENOTFOUND, "%s: neither a grid folder (runs.tsv) nor a run folder (experiment.exp)", p);
}

int mc_report_load(report **out, const char *const *paths, int n, const mc_report_opts *o) {
    *out = NULL;
    mc_report_opts def;
    if (!o) {
        mc_report_opts_default(&def);
        o = &def;
    }
    if (!(o->alpha > 0 && o->alpha < 1)) return mc_err(MC_EARG, "alpha %g: expected a level in (0, 1)", o->alpha);
    if (n < 1) return mc_err(MC_EARG, "no grid or run folder given");
    report *r = mc_calloc(1, sizeof *r, "report");
    if (!r) return MC_ENOMEM;
    r->percent = o->percent;
    r->alpha = o->alpha;
    int rc = MC_OK;
    if (o->diff_to) {
        if (parse_spec(o->diff_to, &r->ref) < 0 || r->ref.backbone[0])
            rc = mc_err(MC_EARG, "diff_to %s: %s", o->diff_to, SPEC_EXPECTED);
        r->has_ref = 1;
    }
    for (int i = 0; i < n && rc == MC_OK; i++) rc = load_path(r, paths[i]);
    if (rc == MC_OK && r->nent == 0)
        rc = mc_err(MC_ENOTFOUND, "none of the %d runs has finished a stage yet (no results.csv)", r->nruns);
    if (rc == MC_OK) rc = build_groups(r);
    if (rc < 0) {
        mc_report_free(r);
        return rc;
    }
    *out = r;
    return MC_OK;
}

void mc_report_get_counts(const report *r, mc_report_counts *c) {
    memset(c, 0, sizeof *c);
    c->runs = r->nruns;
    c->results = r->nent;
    c->strategies = r->ngrp;
    c->comparisons = r->nrows;
    c->duplicates = r->ndup;
    c->grids = r->ngrids;
}

int mc_report_strategy_at(const report *r, int i, mc_report_strategy *s) {
    if (i < 0 || i >= r->ngrp) return mc_err(MC_EARG, "strategy %d of %d", i, r->ngrp);
    const group *g = &r->grp[i];
    s->data = g->data;
    s->backbone = g->backbone;
    s->module = g->module;
    s->chain = g->chain;
    s->fraction = g->frac;
    s->stage = g->stage;
    s->n = g->n;
    s->mean = g->mean;
    s->sd = g->sd;
    return MC_OK;
}

int mc_report_text(const report *r, char **text) {
    *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(text, &len);
    if (!m) return mc_err(MC_ENOMEM, "out of memory (report text)");
    print_runs(m, r);
    if (r->ndup)
        fprintf(m,
                "\n(%d results repeat a strategy with the seeds of another run's, e.g. the shared first stage of\n"
                " two chains: each counted once)\n",
                r->ndup);
    if (nfractions(r) > 1)
        print_by_size(m, r);
    else
        print_summary(m, r);
    print_labels(m, r);
    if (r->nrows) print_compares(m, r);
    if (fclose(m) != 0 || !*text) {
        free(*text);
        *text = NULL;
        return mc_err(MC_ENOMEM, "out of memory (report text)");
    }
    return MC_OK;
}

typedef struct text_job {
    const char *text;
} text_job;

static int write_text(FILE *f, const char *path, void *arg) {
    const text_job *j = (const text_job *)arg;
    return mc_fwrite(j->text, 1, strlen(j->text), f, path);
}

int mc_report_write(const report *r, const char *dir, char ***plots, int *nplots) {
    char **list = NULL;
    int nlist = 0;
    if (plots) *plots = NULL;
    if (nplots) *nplots = 0;
    MC_TRY(mc_mkdirs(dir));
    char *text, path[4200];
    MC_TRY(mc_report_text(r, &text));
    snprintf(path, sizeof path, "%s/report.txt", dir);
    text_job j = {text};
    int rc = mc_write_atomic(path, write_text, &j);
    free(text);
    if (rc == MC_OK) rc = write_csvs(dir, r);
    if (rc == MC_OK) rc = plot_sizes(dir, r, &list, &nlist);
    if (rc < 0 || !plots) {
        mc_report_list_free(list, nlist);
        return rc;
    }
    *plots = list;
    if (nplots) *nplots = nlist;
    return MC_OK;
}
