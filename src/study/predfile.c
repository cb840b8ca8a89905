/* predfile.c — reads back a predictions.csv that `medcolor eval -o` wrote (src/train/evalfiles.c:
 * path, one probability column per label, one "truth:LABEL" column per label, blank when the
 * label is ignored) for the images of a split, so that two models' predictions on the same
 * images can be compared (eval --compare, docs/evaluation.md). Every image of the split must be
 * there once, with the same truth; columns are found by name (others are ignored); a row of an
 * image not in the split is an error. Errors name file:line and the value. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "data/data_internal.h"
#include "mc_study.h"

static int cmp_idx(const void *a, const void *b, void *paths) {
    char *const *p = paths;
    return strcmp(p[*(const int *)a], p[*(const int *)b]);
}

/* the split's row holding path p, or -1 (idx: rows sorted by path) */
static int find(const mc_dataset *ds, const int *idx, const char *p) {
    int lo = 0, hi = ds->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(p, ds->paths[idx[mid]]);
        if (!c) return idx[mid];
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return -1;
}

int mc_predictions_read(const char *path, const mc_dataset *ds, float *probs) {
    int L = ds->nlabels, rc;
    mc_csv c;
    MC_TRY(mc_csv_open(&c, path));
    int *idx = mc_malloc(sizeof(int) * (size_t)(ds->n + 1), "predictions");
    int *col = mc_malloc(sizeof(int) * (size_t)(2 * L + 1), "predictions");
    unsigned char *seen = calloc((size_t)ds->n + 1, 1);
    if (!idx || !col || !seen) {
        rc = mc_err_context(MC_ENOMEM, "%s", path);
        goto done;
    }
    for (int i = 0; i < ds->n; i++) idx[i] = i;
    qsort_r(idx, (size_t)ds->n, sizeof *idx, cmp_idx, ds->paths);
    rc = mc_csv_next(&c);
    if (rc <= 0) {
        if (rc == 0) rc = mc_err(MC_EPARSE, "%s: empty file (expected eval's predictions.csv)", path);
        goto done;
    }
    int pc = mc_csv_col(&c, "path"), nf = c.nf;
    if (pc < 0) {
        rc = mc_err(MC_EPARSE, "%s:%d: no column 'path' (eval's predictions.csv has path, the labels, truth:LABEL)",
                    path, c.line);
        goto done;
    }
    for (int j = 0; j < L; j++) {
        char name[600];
        snprintf(name, sizeof name, "truth:%s", ds->labels[j]);
        col[j] = mc_csv_col(&c, ds->labels[j]);
        col[L + j] = mc_csv_col(&c, name);
        if (col[j] < 0 || col[L + j] < 0) {
            rc = mc_err(MC_EPARSE, "%s:%d: no column '%s' (the split's label %d)", path, c.line,
                        col[j] < 0 ? ds->labels[j] : name, j + 1);
            goto done;
        }
    }
    int rows = 0;
    while ((rc = mc_csv_next(&c)) > 0) {
        if (c.nf == 1 && !c.f[0][0]) continue; /* an empty line */
        if (c.nf != nf) {
            rc = mc_err(MC_EPARSE, "%s:%d: %d fields, the header has %d", path, c.line, c.nf, nf);
            goto done;
        }
        int i = find(ds, idx, c.f[pc]);
        if (i < 0) {
            rc = mc_err(MC_EPARSE, "%s:%d: image '%s' is not in the split (%s): predictions of another split or "
                                   "data set?", path, c.line, c.f[pc], ds->split ? ds->split : "the one evaluated");
            goto done;
        }
        if (seen[i]) {
            rc = mc_err(MC_EPARSE, "%s:%d: image '%s' appears a second time", path, c.line, c.f[pc]);
            goto done;
        }
        seen[i] = 1;
        rows++;
        for (int j = 0; j < L; j++) {
            const char *f = c.f[col[j]], *t = c.f[col[L + j]];
            char *e;
            double v = strtod(f, &e);
            if (!*f || *e || !(v >= 0 && v <= 1)) {
                rc = mc_err(MC_EPARSE, "%s:%d: column '%s': '%s' is not a probability in [0, 1]", path, c.line,
                            ds->labels[j], f);
                goto done;
            }
            probs[(size_t)i * L + j] = (float)v;
            size_t o = (size_t)i * L + j;
            int masked = ds->mask && ds->mask[o] == 0.0f;
            double tv = strtod(t, &e);
            int ok = masked ? !*t : (*t && !*e && tv == (double)ds->y[o]);
            if (!ok) {
                char want[32];
                if (masked)
                    snprintf(want, sizeof want, "blank (ignored)");
                else
                    snprintf(want, sizeof want, "%g", (double)ds->y[o]);
                rc = mc_err(MC_EPARSE, "%s:%d: column 'truth:%s' is '%s' but the split says %s (another label policy "
                                       "or data set?)", path, c.line, ds->labels[j], t, want);
                goto done;
            }
        }
    }
    if (rc < 0) goto done;
    if (rows < ds->n) {
        int i = 0;
        while (seen[i]) i++;
        rc = mc_err(MC_EPARSE, "%s: %d of the split's %d images are missing, the first '%s'", path, ds->n - rows,
                    ds->n, ds->paths[i]);
        goto done;
    }
    rc = MC_OK;
done:
    free(idx);
    free(col);
    free(seen);
    mc_csv_close(&c);
    return rc;
}

/* ---- eval's statistics files ------------------------------------------------------------- */
static int closed(FILE *f, const char *path) {
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return mc_err(MC_EIO, "%s: write error (disk full?)", path);
    return MC_OK;
}

int mc_eval_write_stats(const char *dir, const mc_dataset *ds, const mc_auc_stats *st, const mc_stats_opts *o,
                        const mc_delong_cmp *cmp, const double *p_adj, const char *other) {
    char path[4096];
    MC_TRY(mc_mkdirs(dir));
    snprintf(path, sizeof path, "%s/stats.csv", dir);
    FILE *f = mc_fopen(path, "w");
    if (!f) return MC_EIO;
    fprintf(f, "label,positives,negatives,auc,se,delong_lo,delong_hi,boot_lo,boot_hi,ap,youden_threshold,youden_sens,"
               "youden_spec,spec_target,threshold_at_spec,sens_at_spec,spec_at_spec,level,boot_reps,boot_seed,"
               "boot_stratified\n");
    for (int j = 0; j < ds->nlabels; j++) {
        const mc_auc_stats *s = &st[j];
        fprintf(f, "\"%s\",%d,%d,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6g,%.6f,%.6f,%g,%.6g,%.6f,%.6f,%g,%d,%llu,%d\n",
                ds->labels[j], s->npos, s->nneg, s->auc, s->se, s->delong_lo, s->delong_hi, s->boot.lo, s->boot.hi,
                s->ap, s->pts.youden_threshold, s->pts.youden_sens, s->pts.youden_spec, o->spec_target,
                s->pts.threshold_at_spec, s->pts.sens_at_spec, s->pts.spec_at_spec, o->level, o->boot.reps,
                (unsigned long long)o->boot.seed, o->boot.stratified);
    }
    MC_TRY(closed(f, path));
    if (!cmp) return MC_OK;
    snprintf(path, sizeof path, "%s/compare.csv", dir);
    f = mc_fopen(path, "w");
    if (!f) return MC_EIO;
    fprintf(f, "label,positives,negatives,auc,auc_other,difference,se_difference,z,p,p_bh,other\n");
    for (int j = 0; j < ds->nlabels; j++) {
        const mc_delong_cmp *c = &cmp[j];
        fprintf(f, "\"%s\",%d,%d,%.6f,%.6f,%.6f,%.6f,%.4f,%.6g,%.6g,\"%s\"\n", ds->labels[j], c->npos, c->nneg, c->auc_a,
                c->auc_b, c->auc_a - c->auc_b, c->se_diff, c->z, c->p, p_adj[j], other);
    }
    return closed(f, path);
}
