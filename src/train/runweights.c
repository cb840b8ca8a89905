/* runweights.c — the weights a run folder stands for when a command is given the folder instead
 * of a weights file (`medcolor eval RUN`, `predict RUN IMG...`, `colorize RUN IMG...`): the
 * best.weights of its last stage that has one. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/core.h"

/* "K-STAGE" with K >= 1 and STAGE a stage name: K, else 0 */
static int stage_folder(const char *name) {
    if (!isdigit((unsigned char)name[0])) return 0;
    char *end;
    long k = strtol(name, &end, 10);
    if (*end != '-' || k < 1 || k > 1000) return 0;
    return mc_stage_from_name(end + 1) >= 0 ? (int)k : 0;
}

int mc_run_best_weights(const char *run, mc_run_weights *w) {
    memset(w, 0, sizeof *w);
    struct stat st;
    if (stat(run, &st) != 0) return mc_err(MC_EIO, "%s: %s", run, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return mc_err(MC_EARG, "%s is not a folder", run);
    DIR *d = opendir(run);
    if (!d) return mc_err(MC_EIO, "%s: cannot list the folder (%s)", run, strerror(errno));
    struct dirent *e;
    int best = 0, last = 0;
    char bestname[256] = "", path[4096];
    while ((e = readdir(d))) {
        int k = stage_folder(e->d_name);
        if (!k) continue;
        if (k > last) last = k;
        if ((size_t)snprintf(path, sizeof path, "%s/%s/best.weights", run, e->d_name) >= sizeof path) continue;
        if (k > best && access(path, R_OK) == 0) {
            best = k;
            snprintf(bestname, sizeof bestname, "%s", e->d_name);
        }
    }
    closedir(d);
    if (!best) {
        mc_clear_error();
        if (last)
            return mc_err(MC_ENOTFOUND, "%s: no stage of this run has a best.weights yet (one is written at its first "
                                        "validation)",
                          run);
        return mc_err(MC_ENOTFOUND, "%s is a folder but not a run folder (no K-STAGE/best.weights in it): give a "
                                    "weights file or the folder `medcolor train` wrote",
                      run);
    }
    if ((size_t)snprintf(w->path, sizeof w->path, "%s/%s/best.weights", run, bestname) >= sizeof w->path)
        return mc_err(MC_EARG, "%s: path too long", run);
    w->stage_index = best;
    w->stage = mc_stage_from_name(strchr(bestname, '-') + 1);
    snprintf(path, sizeof path, "%s/%s/DONE", run, bestname);
    w->finished = access(path, F_OK) == 0;
    w->later = last > best;
    mc_clear_error();
    return MC_OK;
}
