/* eval.c — `medcolor eval`: per-label AUC and mean AUC of trained weights on a split, with ROC
 * curves (CSV + PNG) and a predictions CSV (written by mc_eval_write, src/train/evalfiles.c).
 * The network and the data come from the weights when they carry them (a run folder, or weights
 * written by train/finetune: src/cli/trained.c); a cfg given is checked against them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dist/dist.h"
#include "cli/cli.h"
#include "core/core.h"
#include "medcolor.h"

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

int mc_cli_eval(int argc, char **argv) {
    const char *split = "valid", *out = NULL, *root = NULL;
    long batch = 0, workers = 1, threads = 0;
    int quiet = 0;
    mc_strlist set = {0};
    const mc_opt opts[] = {
        {"--split", 's', &split, "split to evaluate", "valid", "valid|test|train"},
        {"-o", 's', &out, "folder for predictions.csv, auc.csv, roc.csv, roc.png", "no files, print only"},
        {"--root", 's', &root, "folder holding the datasets", "$MEDCOLOR_DATA, else the root the weights were trained with, else root= of the .data"},
        {"--batch", 'i', &batch, "batch size", "the cfg's", "1..65536"},
        {"--set", 'l', &set, "override a cfg key, layer.key=value", NULL},
        {"--workers", 'i', &workers, "image loading threads", "1", "0..64"},
        {"--threads", 'i', &threads, "compute threads", "all cores", "0..1024"},
        {"--quiet", 'f', &quiet, "no progress on stderr", NULL},
        {NULL, 0, NULL, NULL, NULL}};
    const char *pos[3];
    int npos;
    const char *syn = "medcolor eval <run folder | weights> [data.data] [options]\n"
                      "       medcolor eval <net.cfg> <weights> [data.data] [options]";
    const char *about =
        "Evaluates weights on a split (centre crop, no augmentation): the AUC of each label\n"
        "(Mann-Whitney, ties 1/2; ignored labels left out) and their mean. A run folder means the\n"
        "best.weights of its last stage. Weights written by train/finetune carry their network, labels\n"
        "and data: the cfg and the .data may then be left out, and a cfg given must be that network.";
    int r = mc_cli_parse("eval", argc, argv, opts, pos, 3, &npos, syn, about);
    if (r) return r == 1 ? 0 : 2;
    const char *cfg = NULL, *warg = NULL, *data = NULL;
    if (npos == 3) {
        cfg = pos[0];
        warg = pos[1];
        data = pos[2];
    } else if (npos == 2 && mc_cli_is_cfg(pos[0])) {
        cfg = pos[0];
        warg = pos[1];
    } else if (npos == 2) {
        warg = pos[0];
        data = pos[1];
    } else if (npos == 1) {
        warg = pos[0];
    }
    if (!warg) return mc_cli_args_error("eval", "[net.cfg] <run folder | weights> [data.data]", npos);
    if (data && ends_with(data, ".cfg") && npos == 2) {
        fprintf(stderr, "medcolor eval: %s: a cfg goes first (medcolor eval [net.cfg] <run folder | weights> "
                        "[data.data])\n", data);
        return 2;
    }
    mc_cli_net t;
    if (mc_cli_net_resolve("eval", warg, &t)) return 1;
    if (!data && !(t.has_meta && t.meta.data)) {
        fprintf(stderr, "medcolor eval: %s does not say which data it was trained on: give the .data\n", t.weights);
        mc_cli_net_free(&t);
        return 2;
    }
    if (!data) {
        data = t.meta.data;
        if (access(data, R_OK) != 0) {
            fprintf(stderr,
                    "medcolor eval: %s was trained on %s, which is not found from here (a path relative to where "
                    "train ran?): give the .data\n",
                    t.weights, data);
            mc_cli_net_free(&t);
            return 1;
        }
    }
    if (!root && !getenv("MEDCOLOR_DATA") && t.has_meta && t.meta.root && !strcmp(data, t.meta.data ? t.meta.data : ""))
        root = t.meta.root;
    mc_datafile *df = NULL;
    mc_dataset *ds = NULL;
    mc_net *net = NULL;
    float *probs = NULL;
    double auc[MC_MAX_LABELS], loss = 0;
    int rc = mc_datafile_load(&df, data, root);
    int missing = 0;
    if (rc == MC_OK) rc = mc_dataset_load(&ds, df, split);
    if (rc == MC_OK) rc = mc_dataset_check_files(ds, 5, &missing);
    if (rc == MC_OK && ds->nlabels > MC_MAX_LABELS)
        rc = mc_err(MC_EARG, "%s: %d labels (at most %d)", data, ds->nlabels, MC_MAX_LABELS);
    if (rc == MC_OK && t.has_meta)
        rc = mc_netmeta_check_labels(&t.meta, (const char *const *)ds->labels, ds->nlabels, data);
    if (rc < 0) {
        fprintf(stderr, "medcolor eval: %s\n", mc_errmsg());
        mc_dataset_free(ds);
        mc_datafile_free(df);
        mc_cli_net_free(&t);
        return 1;
    }
    const char *sets[20];
    int ns = 0;
    for (int i = 0; i < set.n; i++) sets[ns++] = set.v[i];
    sets[ns] = NULL;
    mc_net_opts o = {.batch = (int)batch, .no_init = 1, .set = sets, .inference_only = 1, .threads = (int)threads};
    /* under mpirun/srun: each process evaluates its part of every batch (of the batch asked for
     * per process), rank 0 prints and writes (docs/distributed.md) */
    mc_dist *world = NULL;
    if (mc_dist_init(&world) < 0 || mc_dist_net_opts(world, &o, o.batch, 1) < 0) {
        fprintf(stderr, "medcolor eval: %s\n", mc_errmsg());
        mc_dist_free(world);
        mc_dataset_free(ds);
        mc_datafile_free(df);
        mc_cli_net_free(&t);
        return 1;
    }
    if (!mc_dist_is_root(world)) quiet = 1;
    if (mc_cli_net_build("eval", cfg, &t, &o, ds->nlabels, 0, &net)) {
        mc_dist_abort(world, 1);
        mc_dist_free(world);
        mc_dataset_free(ds);
        mc_datafile_free(df);
        mc_cli_net_free(&t);
        return 1;
    }
    mc_cli_pass prog;
    mc_cli_pass_init(&prog, "eval", "images", quiet);
    probs = calloc((size_t)ds->n * ds->nlabels, sizeof(float));
    rc = probs ? mc_evaluate_dist(net, ds, (int)workers, world, probs, &loss, mc_cli_pass_progress, &prog) : MC_ENOMEM;
    double mean = NAN;
    if (rc == MC_OK) rc = mc_mean_auc(ds, probs, auc, &mean);
    if (rc == MC_OK && !mc_dist_is_root(world)) {
        /* rank 0 prints and writes */
    } else if (rc == MC_OK) {
        printf("%s on %s (%s, %d images): loss %.4f\n", t.weights, data, split, ds->n, loss);
        for (int j = 0; j < ds->nlabels; j++) printf("  %-22s AUC %.4f\n", ds->labels[j], auc[j]);
        printf("mean AUC %.4f\n", mean);
        if (out && mc_eval_write(out, ds, probs, auc, mean) < 0) {
            fprintf(stderr, "medcolor eval: %s\n", mc_errmsg());
            rc = MC_EIO;
        } else if (out) {
            printf("wrote %s/{predictions.csv,auc.csv,roc.csv,roc.png}\n", out);
        }
    } else {
        if (mc_dist_size(world) > 1) {
            fprintf(stderr, "medcolor eval: rank %d of %d (host %s): %s\n", mc_dist_rank(world), mc_dist_size(world),
                    mc_dist_host(world), mc_errmsg());
            mc_dist_abort(world, 1);
        }
        fprintf(stderr, "medcolor eval: %s\n", mc_errmsg());
    }
    mc_dist_free(world);
    free(probs);
    mc_net_free(net);
    mc_dataset_free(ds);
    mc_datafile_free(df);
    mc_cli_net_free(&t);
    return rc < 0 ? 1 : 0;
}
