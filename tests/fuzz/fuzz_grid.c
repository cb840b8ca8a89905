/* fuzz_grid.c — grid files (x.grid) expanded into runs for the folder out/ (nothing written). */
#include "fuzz.h"

static int one(const uint8_t *data, size_t size) {
    char path[700], out[700];
    mc_fuzz_write(path, sizeof path, "x.grid", data, size);
    mc_fuzz_path(out, sizeof out, "out");
    mc_grid_run *runs = NULL;
    int n = 0, bad = 0, rc = mc_grid_expand(path, out, &runs, &n);
    if (rc < 0) {
        bad = mc_fuzz_check_error(rc, MC_FUZZ_NAMES("x.grid"));
    } else {
        for (int i = 0; i < n && !bad; i++)
            if (runs[i].index != i + 1 || !runs[i].name[0] || runs[i].exp.nstages < 1) {
                fprintf(stderr, "fuzz: run %d: index %d, name '%s', %d stages\n", i, runs[i].index, runs[i].name,
                        runs[i].exp.nstages);
                bad = 1;
            }
    }
    mc_grid_runs_free(runs, n);
    return bad;
}
MC_FUZZ_TARGET(grid)
