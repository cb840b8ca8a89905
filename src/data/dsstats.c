/* dsstats.c — what a researcher checks before training: images, distinct patients, views,
 * and per label the positive / negative counts after the policy, the uncertain values of the
 * source, the ignored targets and the blanks (not mentioned, counted as negative). */
#include <stdlib.h>
#include <string.h>
#include "data/data_internal.h"

void mc_dataset_stats_free(mc_dataset_stats *st) {
    if (!st) return;
    free(st->label);
    memset(st, 0, sizeof *st);
}

int mc_dataset_stats_compute(const mc_dataset *ds, mc_dataset_stats *st) {
    memset(st, 0, sizeof *st);
    size_t L = (size_t)ds->nlabels;
    st->images = ds->n;
    st->nlabels = ds->nlabels;
    st->label = mc_calloc(L ? L : 1, sizeof *st->label, "label statistics");
    if (!st->label) return MC_ENOMEM;
    st->patients = -1;
    if (ds->patients) {
        mc_strmap m;
        if (mc_strmap_init(&m, (size_t)ds->n / 2 + 16) < 0) {
            mc_dataset_stats_free(st);
            return MC_ENOMEM;
        }
        for (int i = 0; i < ds->n; i++) {
            if (!ds->patients[i]) continue;
            if (mc_strmap_put(&m, ds->patients[i], 0, NULL) < 0) {
                mc_strmap_free(&m);
                mc_dataset_stats_free(st);
                return MC_ENOMEM;
            }
        }
        st->patients = (int)m.n;
        mc_strmap_free(&m);
    }
    for (int i = 0; i < ds->n; i++) {
        if (ds->view) {
            st->frontal += ds->view[i] == MC_VIEW_FRONTAL;
            st->lateral += ds->view[i] == MC_VIEW_LATERAL;
        }
        for (size_t j = 0; j < L; j++) {
            size_t at = (size_t)i * L + j;
            mc_label_stats *ls = &st->label[j];
            int counted = ds->mask ? ds->mask[at] != 0 : 1;
            if (!counted) ls->ignored++;
            else if (ds->y && ds->y[at] >= 0.5f) ls->positive++;
            else if (ds->y) ls->negative++;
            if (ds->raw) {
                ls->uncertain += ds->raw[at] == MC_RAW_UNCERTAIN;
                ls->blank += ds->raw[at] == MC_RAW_BLANK;
            }
        }
    }
    return MC_OK;
}
