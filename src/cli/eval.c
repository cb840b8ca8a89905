/* eval.c — `medcolor eval`: per-label AUC and mean AUC of trained weights on a split, with ROC
 * curves (CSV + PNG) and a predictions CSV (written by mc_eval_write, src/train/evalfiles.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "core/core.h"
#include "medcolor.h"

int mc_cli_eval(int argc, char **argv) {
    const char *split = "valid", *out = NULL, *root = NULL;
    long batch = 0, workers = 1, threads = 0;
    mc_strlist set = {0};
    const mc_opt opts[] = {
        {"--split", 's', &split, "split to evaluate: valid or test", "valid"},
        {"-o", 's', &out, "folder for predictions.csv, auc.csv, roc.csv, roc.png", "no files, print only"},
        {"--root", 's', &root, "folder holding the datasets", "$MEDCOLOR_DATA, else root= of the .data"},
        {"--batch", 'i', &batch, "batch size", "the cfg's"},
        {"--set", 'l', &set, "override a cfg key, layer.key=value", NULL},
        {"--workers", 'i', &workers, "image loading threads", "1"},
        {"--threads", 'i', &threads, "compute threads", "all cores"},
        {NULL, 0, NULL, NULL, NULL}};
    const char *pos[3];
    int npos;
    const char *syn = "medcolor eval <net.cfg> <weights> <data.data> [options]";
    const char *about = "Evaluates weights on a split (centre crop, no augmentation): the AUC of each label\n"
                        "(Mann-Whitney, ties 1/2; ignored labels left out) and their mean.";
    int r = mc_cli_parse("eval", argc, argv, opts, pos, 3, &npos, syn, about);
    if (r) return r == 1 ? 0 : 2;
    if (npos != 3) {
        mc_cli_usage(stderr, syn, about, opts);
        return 2;
    }
    mc_set_threads((int)threads);
    mc_datafile *df = NULL;
    mc_dataset *ds = NULL;
    mc_net *net = NULL;
    float *probs = NULL;
    double auc[MC_MAX_LABELS], loss = 0;
    int rc = mc_datafile_load(&df, pos[2], root);
    int missing = 0;
    if (rc == MC_OK) rc = mc_dataset_load(&ds, df, split);
    if (rc == MC_OK) rc = mc_dataset_check_files(ds, 5, &missing);
    if (rc == MC_OK && ds->nlabels > MC_MAX_LABELS) rc = -1;
    const char *sets[20];
    int ns = 0;
    for (int i = 0; i < set.n; i++) sets[ns++] = set.v[i];
    sets[ns] = NULL;
    mc_net_opts o = {.batch = (int)batch, .no_init = 1, .set = sets, .inference_only = 1};
    if (rc == MC_OK) rc = mc_net_for_labels(&net, pos[0], &o, ds->nlabels);
    if (rc == MC_OK) rc = mc_net_load_weights(net, pos[1]);
    const char *wmsg;
    int nw = rc == MC_OK ? mc_net_weight_warnings(net, &wmsg) : 0;
    if (nw) fprintf(stderr, "medcolor eval: warning: %s (%d tensor%s)\n", wmsg, nw, nw > 1 ? "s in all" : "");
    if (rc == MC_OK) {
        probs = calloc((size_t)ds->n * ds->nlabels, sizeof(float));
        rc = probs ? mc_evaluate(net, ds, (int)workers, probs, &loss) : MC_ENOMEM;
    }
    if (rc == MC_OK) {
        double mean = mc_mean_auc(ds, probs, auc);
        printf("%s on %s (%s, %d images): loss %.4f\n", pos[1], pos[2], split, ds->n, loss);
        for (int j = 0; j < ds->nlabels; j++) printf("  %-22s AUC %.4f\n", ds->labels[j], auc[j]);
        printf("mean AUC %.4f\n", mean);
        if (out && mc_eval_write(out, ds, probs, auc, mean) < 0) {
            fprintf(stderr, "medcolor eval: %s\n", mc_errmsg());
            rc = MC_EIO;
        } else if (out) {
            printf("wrote %s/{predictions.csv,auc.csv,roc.csv,roc.png}\n", out);
        }
    } else {
        fprintf(stderr, "medcolor eval: %s\n", mc_errmsg());
    }
    free(probs);
    mc_net_free(net);
    mc_dataset_free(ds);
    mc_datafile_free(df);
    return rc < 0 ? 1 : 0;
}
