/* metrics.c — AUC and ROC curves, exactly.
 *
 * AUC = the Mann–Whitney statistic: the probability that a random positive scores above a random
 * negative, ties counting 1/2. Computed from average ranks over all scores (O(n log n)):
 *   AUC = (R_pos - n_pos (n_pos + 1)/2) / (n_pos n_neg),  R_pos = sum of the positives' ranks.
 * Entries with mask 0 (U-Ignore) are left out. Undefined (NaN) without both classes; running out
 * of memory is an error (MC_ENOMEM), never that NaN. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"

typedef struct item {
    float s;
    float y;
} item;

static int cmp_item(const void *a, const void *b) {
    float x = ((const item *)a)->s, y = ((const item *)b)->s;
    return (x > y) - (x < y);
}

/* gathers the unmasked (score, label) pairs of column `col` of n rows with `stride` columns */
static item *gather(const float *score, const float *label, const float *mask, int n, int stride, int col,
                    int *m) {
    item *it = mc_malloc((size_t)(n ? n : 1) * sizeof *it, "AUC");
    if (!it) return NULL;
    int k = 0;
    for (int i = 0; i < n; i++) {
        size_t o = (size_t)i * stride + col;
        if (mask && mask[o] == 0.0f) continue;
        it[k].s = score[o];
        it[k].y = label[o];
        k++;
    }
    *m = k;
    return it;
}

int mc_auc(const float *score, const float *label, const float *mask, int n, int stride, int col, double *auc) {
    int m;
    *auc = NAN;
    item *it = gather(score, label, mask, n, stride, col, &m);
    if (!it) return mc_err_context(MC_ENOMEM, "AUC of column %d over %d rows", col, n);
    qsort(it, (size_t)m, sizeof *it, cmp_item);
    double npos = 0, rpos = 0;
    for (int i = 0; i < m;) {
        int j = i;
        while (j < m && it[j].s == it[i].s) j++;
        double rank = (i + 1 + j) / 2.0; /* average of ranks i+1 .. j */
        for (int k = i; k < j; k++)
            if (it[k].y > 0.5f) {
                npos += 1;
                rpos += rank;
            }
        i = j;
    }
    double nneg = m - npos;
    free(it);
    *auc = npos == 0 || nneg == 0 ? (double)NAN : (rpos - npos * (npos + 1) / 2.0) / (npos * nneg);
    return MC_OK;
}

/* ROC curve: one point per distinct threshold, from (0,0) to (1,1); fpr/tpr get at most m+1
 * points (allocated by the callee, free() them). Returns the count or a negative error. */
int mc_roc(const float *score, const float *label, const float *mask, int n, int stride, int col, double **fpr,
           double **tpr, double **thr) {
    int m;
    *fpr = *tpr = *thr = NULL;
    item *it = gather(score, label, mask, n, stride, col, &m);
    if (!it) return mc_err_context(MC_ENOMEM, "ROC curve of column %d over %d rows", col, n);
    qsort(it, (size_t)m, sizeof *it, cmp_item);
    double npos = 0;
    for (int i = 0; i < m; i++) npos += it[i].y > 0.5f;
    double nneg = m - npos;
    *fpr = mc_malloc((size_t)(m + 1) * sizeof(double), "ROC");
    *tpr = mc_malloc((size_t)(m + 1) * sizeof(double), "ROC");
    *thr = mc_malloc((size_t)(m + 1) * sizeof(double), "ROC");
    if (!*fpr || !*tpr || !*thr) {
        free(it);
        free(*fpr);
        free(*tpr);
        free(*thr);
        *fpr = *tpr = *thr = NULL;
        return mc_err_context(MC_ENOMEM, "ROC curve of column %d over %d rows", col, n);
    }
    int k = 0;
    double tp = 0, fp = 0;
    (*fpr)[k] = 0;
    (*tpr)[k] = 0;
    (*thr)[k] = INFINITY;
    k++;
    /* walk from the highest score down; a threshold t classifies score >= t as positive */
    for (int i = m - 1; i >= 0;) {
        int j = i;
        while (j >= 0 && it[j].s == it[i].s) {
            if (it[j].y > 0.5f)
                tp++;
            else
                fp++;
            j--;
        }
        (*fpr)[k] = nneg > 0 ? fp / nneg : 0;
        (*tpr)[k] = npos > 0 ? tp / npos : 0;
        (*thr)[k] = it[i].s;
        k++;
        i = j;
    }
    free(it);
    return k;
}
