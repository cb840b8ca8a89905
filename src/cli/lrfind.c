/* lrfind.c — `medcolor lrfind`: fastai v1's learning-rate finder (the sweep is the library's,
 * mc_lrfind in src/train/lrfind.c; the weights are restored afterwards, nothing is saved). Here:
 * the options, loading the network and the data, the progress line, the suggestion (steepest
 * descent) and min-loss LR / 10 printed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cli/cli.h"
#include "core/core.h"
#include "medcolor.h"

typedef struct step_ctx {
    int bar;           /* stderr is a terminal: one line rewritten in place */
    double last, every; /* otherwise a line every `every` seconds, and the last step's */
} step_ctx;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void step(int i, int n, double lr, double loss, double smoothed, void *ctx) {
    step_ctx *s = ctx;
    if (s->bar) {
        fprintf(stderr, "\rlrfind %d/%d  lr %.2e  loss %.4f  smoothed %.4f   ", i, n, lr, loss, smoothed);
        return;
    }
    double t = now_s();
    if (t - s->last >= s->every || i == n) {
        fprintf(stderr, "lrfind %d/%d  lr %.2e  loss %.4f  smoothed %.4f\n", i, n, lr, loss, smoothed);
        s->last = t;
    }
}

int mc_cli_lrfind(int argc, char **argv) {
    const char *stage_name = "color", *weights = NULL, *out = "lrfind", *root = NULL;
    double start = 1e-7, end = 10, wd = 1e-2, mom = 0.9;
    long num_it = 100, batch = 0, seed = 0, workers = 1, threads = 0;
    mc_strlist set = {0};
    const mc_opt opts[] = {
        {"--stage", 's', &stage_name, "which groups train (baseline, baseline-all, color, all, last)", "color"},
        {"--weights", 's', &weights, "start from these weights", "fresh initialisation"},
        {"-o", 's', &out, "folder for lrfind.csv and lrfind.png", "lrfind"},
        {"--start", 'd', &start, "first learning rate", "1e-7", ">0"},
        {"--end", 'd', &end, "last learning rate (greater than --start)", "10", ">0"},
        {"--iters", 'i', &num_it, "number of learning rates (steps; the suggestion skips the first 10 and last 5)",
         "100", "16..100000"},
        {"--momentum", 'd', &mom, "SGD momentum during the sweep", "0.9", ">=0,<1"},
        {"--wd", 'd', &wd, "decoupled weight decay", "1e-2", ">=0"},
        {"--batch", 'i', &batch, "batch size", "the cfg's", "1..65536"},
        {"--seed", 'i', &seed, "seed", "0"},
        {"--root", 's', &root, "folder holding the datasets", "$MEDCOLOR_DATA, else root= of the .data"},
        {"--set", 'l', &set, "override a cfg key, layer.key=value", NULL},
        {"--workers", 'i', &workers, "image loading threads", "1", "0..64"},
        {"--threads", 'i', &threads, "compute threads", "all cores", "0..1024"},
        MC_CLI_WINDOW_OPT,
        {NULL, 0, NULL, NULL, NULL}};
    const char *pos[2];
    int npos;
    const char *syn = "medcolor lrfind <net.cfg> <data.data> [options]";
    const char *about = "Sweeps the learning rate exponentially over one short run (fastai v1's lr_find) to pick\n"
                        "max_lr for one-cycle training. The network's weights are not changed on disk.";
    int r = mc_cli_parse("lrfind", argc, argv, opts, pos, 2, &npos, syn, about);
    if (r) return r == 1 ? 0 : 2;
    if (npos != 2) {
        fprintf(stderr, "medcolor lrfind: expected <net.cfg> <data.data>, got %d argument%s (see medcolor lrfind --help)\n",
                npos, npos == 1 ? "" : "s");
        return 2;
    }
    if (!(end > start)) {
        fprintf(stderr, "medcolor lrfind: --end %g: must be greater than --start %g\n", end, start);
        return 2;
    }
    int stage = mc_stage_from_name(stage_name);
    if (stage < 0) {
        fprintf(stderr, "medcolor lrfind: --stage %s: %s\n", stage_name, mc_errmsg());
        return 2;
    }
    mc_datafile *df = NULL;
    mc_dataset *ds = NULL;
    mc_net *net = NULL;
    int missing, rc = mc_datafile_load(&df, pos[1], root);
    if (rc == MC_OK) rc = mc_dataset_load(&ds, df, "train");
    if (rc == MC_OK) rc = mc_dataset_check_files(ds, 5, &missing);
    const char *sets[20];
    int ns = 0;
    for (int i = 0; i < set.n; i++) sets[ns++] = set.v[i];
    sets[ns] = NULL;
    mc_net_opts o = {.batch = (int)batch, .seed = (uint64_t)seed, .set = sets, .threads = (int)threads};
    if (rc == MC_OK) rc = mc_net_for_labels(&net, pos[0], &o, ds->nlabels);
    if (rc == MC_OK && weights) rc = mc_net_load_weights(net, weights);
    mc_lrfind_opts lo;
    mc_lrfind_opts_default(&lo);
    lo.stage = stage;
    lo.start = start;
    lo.end = end;
    lo.iters = (int)num_it;
    lo.momentum = mom;
    lo.weight_decay = wd;
    lo.seed = (uint64_t)seed;
    lo.workers = (int)workers;
    step_ctx sc = {.bar = isatty(2), .last = now_s(), .every = 30};
    const char *every = getenv("MEDCOLOR_PROGRESS_SECONDS");
    if (every && atof(every) >= 0) sc.every = atof(every);
    lo.on_step = step;
    lo.step_ctx = &sc;
    mc_lrfind_result res;
    if (rc == MC_OK) {
        rc = mc_lrfind(net, ds, out, &lo, &res);
        if (sc.bar) fprintf(stderr, "\n");
    }
    if (rc == MC_OK) {
        rc = mc_lrfind_write(out, &res);
        if (rc == MC_OK) {
            printf("suggested max_lr %.2e (steepest descent of the smoothed loss); min-loss LR / 10: %.2e\n",
                   res.suggested, res.minloss_lr);
            printf("wrote %s/lrfind.csv and %s/lrfind.png (%d steps)\n", out, out, res.n);
        }
        mc_lrfind_result_free(&res);
    }
    if (rc < 0) fprintf(stderr, "medcolor lrfind: %s\n", mc_errmsg());
    mc_net_free(net);
    mc_dataset_free(ds);
    mc_datafile_free(df);
    return rc < 0 ? 1 : 0;
}
