/* fuzz_runfiles.c — the files of a run and a grid folder, as the report and resume read them.
 * The first input byte picks the reader: 0 log.csv (mc_log_read), 1 valid.csv (mc_valid_read),
 * 2 results.csv (mc_results_load), 3 runs.tsv (mc_grid_index_load); the rest is the file. */
#include "fuzz.h"

static int one(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    static const char *const files[] = {"log.csv", "valid.csv", "results.csv", "runs.tsv"};
    int which = data[0] & 3, rc;
    char path[700];
    mc_fuzz_write(path, sizeof path, files[which], data + 1, size - 1);
    switch (which) {
    case 0: {
        mc_log_row *rows = NULL;
        int n = 0;
        rc = mc_log_read(path, &rows, &n);
        free(rows);
        break;
    }
    case 1: {
        mc_valid_log v;
        memset(&v, 0, sizeof v);
        rc = mc_valid_read(path, &v);
        if (rc == MC_OK) mc_valid_log_free(&v);
        break;
    }
    case 2: {
        mc_stage_result *r = NULL;
        int n = 0;
        rc = mc_results_load(mc_fuzz_dir(), &r, &n);
        mc_results_free(r, n);
        break;
    }
    default: {
        mc_grid_entry *e = NULL;
        int n = 0;
        rc = mc_grid_index_load(mc_fuzz_dir(), &e, &n);
        mc_grid_index_free(e, n);
        break;
    }
    }
    return mc_fuzz_check_error(rc, files);
}
MC_FUZZ_TARGET(runfiles)
