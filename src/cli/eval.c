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
    long boot_reps = 2000, seed = 1, stratified = 1;
    double level = 0.95, spec = 0.9;
    const char *compare = NULL, *precision = NULL;
    mc_strlist set = {0};
    const mc_opt opts[] = {
        {"--split", 's', &split, "split to evaluate", "valid", "valid|test|train"},
        {"-o", 's', &out, "folder for predictions.csv, auc.csv, roc.csv, roc.png", "no files, print only"},
        {"--root", 's', &root, "folder holding the datasets", "$MEDCOLOR_DATA, else the root the weights were trained with, else root= of the .data"},
        {"--batch", 'i', &batch, "batch size", "the cfg's", "1..65536"},
        {"--set", 'l', &set, "override a cfg key, layer.key=value", NULL},
        {"--workers", 'i', &workers, "image loading threads", "1", "0..64"},
        {"--threads", 'i', &threads, "compute threads", "all cores", "0..1024"},
        MC_CLI_PRECISION_OPT(&precision),
        {"--quiet", 'f', &quiet, "no progress on stderr", NULL},
        {"--level", 'd', &level, "confidence level of the AUC intervals (DeLong and bootstrap)", "0.95", ">=0.5,<1"},
        {"--bootstrap", 'i', &boot_reps, "bootstrap replicates of each label's AUC (0: no bootstrap interval)", "2000",
         "0..1000000"},
        {"--bootstrap-seed", 'i', &seed, "seed of the bootstrap's draws", "1", ">=0"},
        {"--stratified", 'i', &stratified, "1: resample positives and negatives separately (their counts kept); 0: "
                                           "resample all images", "1", "0..1"},
        {"--spec", 'd', &spec, "specificity at which the sensitivity is reported", "0.9", "0..1"},
        {"--compare", 's', &compare, "another model's predictions.csv on the same split: DeLong's test per label",
         NULL},
        MC_CLI_WINDOW_OPT,
        {NULL, 0, NULL, NULL, NULL}};
    const char *pos[3];
    int npos;
    const char *syn = "medcolor eval <run folder | weights> [data.data] [options]\n"
                      "       medcolor eval <net.cfg> <weights> [data.data] [options]";
    const char *about =
        "Evaluates weights on a split (centre crop, no augmentation): the AUC of each label\n"
        "(Mann-Whitney, ties 1/2; ignored labels left out) and their mean. A run folder means the\n"
        "best.weights of its last stage. Weights written by train/finetune carry their network, labels\n"
        "and data: the cfg and the .data may then be left out, and a cfg given must be that network.\n"
        "Per label: DeLong's and a percentile bootstrap's confidence interval of the AUC, average\n"
        "precision, the threshold at Youden's J and the sensitivity at --spec (stats.csv); with\n"
        "--compare, DeLong's test against another model's predictions (compare.csv). docs/evaluation.md";
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
    mc_net_opts o = {.batch = (int)batch, .no_init = 1, .set = sets, .inference_only = 1, .threads = (int)threads,
                     .precision = mc_cli_precision(precision)};
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
    mc_stats_opts so = {.level = level,
                        .boot = {.reps = (int)boot_reps, .seed = (uint64_t)seed, .stratified = (int)stratified},
                        .spec_target = spec};
    mc_auc_stats st[MC_MAX_LABELS];
    mc_delong_cmp cmp[MC_MAX_LABELS];
    double p[MC_MAX_LABELS], padj[MC_MAX_LABELS];
    float *other = NULL;
    if (rc == MC_OK) rc = mc_mean_auc(ds, probs, auc, &mean);
    const int is_root = mc_dist_is_root(world); /* the statistics only where they are printed */
    for (int j = 0; rc == MC_OK && is_root && j < ds->nlabels; j++)
        rc = mc_auc_stats_label(probs, ds->y, ds->mask, ds->n, ds->nlabels, j, &so, &st[j]);
    if (rc == MC_OK && is_root && compare) {
        other = malloc(sizeof(float) * (size_t)ds->n * ds->nlabels + 1);
        rc = other ? mc_predictions_read(compare, ds, other) : MC_ENOMEM;
        for (int j = 0; rc == MC_OK && j < ds->nlabels; j++) {
            rc = mc_delong_test_label(probs, other, ds->y, ds->mask, ds->n, ds->nlabels, j, &cmp[j]);
            p[j] = cmp[j].p;
        }
        if (rc == MC_OK) rc = mc_bh_adjust(p, ds->nlabels, padj);
    }
    if (rc == MC_OK && !mc_dist_is_root(world)) {
        /* rank 0 prints and writes */
    } else if (rc == MC_OK) {
        int pct = (int)lround(level * 100);
        printf("%s on %s (%s, %d images): loss %.4f\n", t.weights, data, split, ds->n, loss);
        printf("  %-22s %-6s  %-13s %-13s %-6s  %-28s %s\n", "label", "AUC", "DeLong CI", "bootstrap CI", "AP",
               "Youden: threshold sens spec", "sens at spec (threshold)");
        for (int j = 0; j < ds->nlabels; j++) {
            const mc_auc_stats *a = &st[j];
            printf("  %-22s AUC %.4f  %.3f-%.3f   %.3f-%.3f   AP %.3f  %.4g %.3f %.3f  %.3f at %.3f (%.4g)\n",
                   ds->labels[j], auc[j], a->delong_lo, a->delong_hi, a->boot.lo, a->boot.hi, a->ap,
                   a->pts.youden_threshold, a->pts.youden_sens, a->pts.youden_spec, a->pts.sens_at_spec,
                   a->pts.spec_at_spec, a->pts.threshold_at_spec);
        }
        printf("mean AUC %.4f\n", mean);
        printf("%d%% intervals: DeLong (normal, clipped to [0,1]); bootstrap: %ld %s replicates, seed %ld, percentile\n",
               pct, boot_reps, stratified ? "stratified" : "unstratified", seed);
        if (compare) {
            printf("DeLong's test against %s (two-sided; p BH: Benjamini-Hochberg over the %d labels):\n", compare,
                   ds->nlabels);
            for (int j = 0; j < ds->nlabels; j++)
                printf("  %-22s AUC %.4f vs %.4f  diff %+.4f  z %+.3f  p %.4g  p BH %.4g\n", ds->labels[j], cmp[j].auc_a,
                       cmp[j].auc_b, cmp[j].auc_a - cmp[j].auc_b, cmp[j].z, cmp[j].p, padj[j]);
        }
        if (out && (mc_eval_write(out, ds, probs, auc, mean) < 0 ||
                    mc_eval_write_stats(out, ds, st, &so, compare ? cmp : NULL, padj, compare) < 0)) {
            fprintf(stderr, "medcolor eval: %s\n", mc_errmsg());
            rc = MC_EIO;
        } else if (out) {
            printf("wrote %s/{predictions.csv,auc.csv,stats.csv,%sroc.csv,roc.png}\n", out,
                   compare ? "compare.csv," : "");
        }
    } else {
        mc_cli_fail("eval", world);
    }
    mc_dist_free(world);
    free(other);
    free(probs);
    mc_net_free(net);
    mc_dataset_free(ds);
    mc_datafile_free(df);
    mc_cli_net_free(&t);
    return rc < 0 ? 1 : 0;
}
