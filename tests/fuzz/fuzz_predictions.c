/* fuzz_predictions.c — eval --compare's reader of a predictions.csv (mc_predictions_read,
 * src/study/predfile.c) for a fixed split of 4 images and 2 labels (one ignored entry), then the
 * statistics of what it read (mc_auc_stats_label, mc_delong_test_label against the split's own
 * truth as scores). Checked on success: every probability in [0, 1], AUCs and intervals in [0, 1]
 * or NaN, p-values in [0, 1]. */
#include <math.h>
#include "fuzz.h"

static int one(const uint8_t *data, size_t size) {
    char path[700];
    mc_fuzz_write(path, sizeof path, "predictions.csv", data, size);
    char *labels[] = {"A", "B, x"};
    char *paths[] = {"a.png", "b.png", "/d/c.png", "d\"q.png"};
    float y[8] = {1, 1, 0, 1, 0, 0, 1, 0}, mask[8] = {1, 1, 1, 1, 1, 1, 0, 1};
    mc_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.n = 4;
    ds.nlabels = 2;
    ds.labels = labels;
    ds.paths = paths;
    ds.y = y;
    ds.mask = mask;
    ds.split = "valid";
    float p[8];
    int rc = mc_predictions_read(path, &ds, p);
    if (rc != MC_OK) return mc_fuzz_check_error(rc, MC_FUZZ_NAMES("predictions.csv"));
    mc_stats_opts o = {.level = 0.95, .boot = {.reps = 20, .seed = 1, .stratified = 0}, .spec_target = 0.9};
    for (int j = 0; j < 2; j++) {
        for (int i = 0; i < 4; i++)
            if (!(p[i * 2 + j] >= 0 && p[i * 2 + j] <= 1)) {
                fprintf(stderr, "probability %d,%d = %g accepted\n", i, j, (double)p[i * 2 + j]);
                return 1;
            }
        mc_auc_stats st;
        mc_delong_cmp t;
        if (mc_auc_stats_label(p, y, mask, 4, 2, j, &o, &st) != MC_OK ||
            mc_delong_test_label(p, y, y, mask, 4, 2, j, &t) != MC_OK) {
            fprintf(stderr, "statistics failed: %s\n", mc_errmsg());
            return 1;
        }
        double v[] = {st.auc, st.delong_lo, st.delong_hi, st.boot.lo, st.boot.hi, st.ap, t.p};
        for (int k = 0; k < 7; k++)
            if (!isnan(v[k]) && !(v[k] >= 0 && v[k] <= 1)) {
                fprintf(stderr, "label %d: statistic %d = %g outside [0, 1]\n", j, k, v[k]);
                return 1;
            }
    }
    return 0;
}
MC_FUZZ_TARGET(predictions)
