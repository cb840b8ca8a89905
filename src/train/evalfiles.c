/* evalfiles.c — the files of an evaluation (`medcolor eval -o DIR`, docs/training.md):
 *   predictions.csv  path, the probability of each label (%.9g: exact), the truth of each label (blank when
 *                    the label is ignored for that image)
 *   auc.csv          label,auc per label, then mean
 *   roc.csv          label,threshold,fpr,tpr: every ROC point of every label
 *   roc.png          the ROC curves, one per label, with the chance diagonal */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"

static int closed(FILE *f, const char *path) {
    errno = 0;
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return mc_err(MC_EIO, "%s: write error (%s)", path, errno ? strerror(errno) : "disk full?");
    return MC_OK;
}

int mc_eval_write(const char *dir, const mc_dataset *ds, const float *probs, const double *auc, double mean) {
    char path[4096];
    MC_TRY(mc_mkdirs(dir));
    int L = ds->nlabels;
    /* predictions.csv */
    snprintf(path, sizeof path, "%s/predictions.csv", dir);
    FILE *f = mc_fopen(path, "w");
    if (!f) return MC_EIO;
    fprintf(f, "path");
    for (int j = 0; j < L; j++) fprintf(f, ",\"%s\"", ds->labels[j]);
    for (int j = 0; j < L; j++) fprintf(f, ",\"truth:%s\"", ds->labels[j]);
    fprintf(f, "\n");
    for (int i = 0; i < ds->n; i++) {
        fprintf(f, "\"%s\"", ds->paths[i]);
        /* %.9g: a float read back exactly (eval --compare ranks these; rounding would add ties) */
        for (int j = 0; j < L; j++) fprintf(f, ",%.9g", (double)probs[(size_t)i * L + j]);
        for (int j = 0; j < L; j++) {
            if (ds->mask && ds->mask[(size_t)i * L + j] == 0.0f)
                fprintf(f, ",");
            else
                fprintf(f, ",%g", (double)ds->y[(size_t)i * L + j]);
        }
        fprintf(f, "\n");
    }
    MC_TRY(closed(f, path));
    /* auc.csv */
    snprintf(path, sizeof path, "%s/auc.csv", dir);
    f = mc_fopen(path, "w");
    if (!f) return MC_EIO;
    fprintf(f, "label,auc\n");
    for (int j = 0; j < L; j++) fprintf(f, "\"%s\",%.6f\n", ds->labels[j], auc[j]);
    fprintf(f, "mean,%.6f\n", mean);
    MC_TRY(closed(f, path));
    /* roc.csv and roc.png: one colour per label from the plot's palette */
    snprintf(path, sizeof path, "%s/roc.csv", dir);
    f = mc_fopen(path, "w");
    if (!f) return MC_EIO;
    fprintf(f, "label,threshold,fpr,tpr\n");
    mc_plot *p = mc_plot_new(900, 800, "ROC curves", "false positive rate", "true positive rate");
    if (p) {
        mc_plot_xrange(p, 0, 1);
        mc_plot_yrange(p, 0, 1);
        mc_plot_diagonal(p, "chance");
    }
    for (int j = 0; j < L; j++) {
        double *fpr, *tpr, *thr;
        int n = mc_roc(probs, ds->y, ds->mask, ds->n, L, j, &fpr, &tpr, &thr);
        if (n < 0) { /* out of memory: an error, never a curve left out without a word */
            fclose(f);
            mc_plot_free(p);
            return n;
        }
        for (int k = 0; k < n; k++) fprintf(f, "\"%s\",%.6g,%.6f,%.6f\n", ds->labels[j], thr[k], fpr[k], tpr[k]);
        char name[160];
        snprintf(name, sizeof name, "%s (AUC %.3f)", ds->labels[j], auc[j]);
        if (p) mc_plot_series(p, name, fpr, tpr, n, MC_PLOT_LINE);
        free(fpr);
        free(tpr);
        free(thr);
    }
    int rc = closed(f, path);
    if (rc < 0) {
        mc_plot_free(p);
        return rc;
    }
    snprintf(path, sizeof path, "%s/roc.png", dir);
    rc = p ? mc_plot_save(p, path) : MC_ENOMEM;
    mc_plot_free(p);
    return rc;
}
