/* lrfind.c — `medcolor lrfind`: fastai v1's learning-rate finder (spec/training.md): one SGD
 * step per learning rate lr_i = start (end/start)^(i/num_it), the loss smoothed with beta 0.98
 * and bias correction, stopping when the smoothed loss exceeds 4x its best or is NaN; the
 * weights are restored afterwards (nothing is saved). Writes the curve as CSV and PNG and
 * prints the suggestion (steepest descent) and min-loss LR / 10. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "core/core.h"
#include "medcolor.h"

int mc_cli_lrfind(int argc, char **argv) {
    const char *stage_name = "color", *weights = NULL, *out = "lrfind", *root = NULL;
    double start = 1e-7, end = 10, wd = 1e-2, mom = 0.9;
    long num_it = 100, batch = 0, seed = 0, workers = 1, threads = 0;
    mc_strlist set = {0};
    const mc_opt opts[] = {
        {"--stage", 's', &stage_name, "which groups train (baseline, baseline-all, color, all, last)", "color"},
        {"--weights", 's', &weights, "start from these weights", "fresh initialisation"},
        {"-o", 's', &out, "folder for lrfind.csv and lrfind.png", "lrfind"},
        {"--start", 'd', &start, "first learning rate", "1e-7"},
        {"--end", 'd', &end, "last learning rate", "10"},
        {"--iters", 'i', &num_it, "number of learning rates (steps)", "100"},
        {"--momentum", 'd', &mom, "SGD momentum during the sweep", "0.9"},
        {"--wd", 'd', &wd, "decoupled weight decay", "1e-2"},
        {"--batch", 'i', &batch, "batch size", "the cfg's"},
        {"--seed", 'i', &seed, "seed", "0"},
        {"--root", 's', &root, "folder holding the datasets", "$MEDCOLOR_DATA, else root= of the .data"},
        {"--set", 'l', &set, "override a cfg key, layer.key=value", NULL},
        {"--workers", 'i', &workers, "image loading threads", "1"},
        {"--threads", 'i', &threads, "compute threads", "all cores"},
        {NULL, 0, NULL, NULL, NULL}};
    const char *pos[2];
    int npos;
    const char *syn = "medcolor lrfind <net.cfg> <data.data> [options]";
    const char *about = "Sweeps the learning rate exponentially over one short run (fastai v1's lr_find) to pick\n"
                        "max_lr for one-cycle training. The network's weights are not changed on disk.";
    int r = mc_cli_parse("lrfind", argc, argv, opts, pos, 2, &npos, syn, about);
    if (r) return r == 1 ? 0 : 2;
    if (npos != 2 || num_it < 2 || !(start > 0) || !(end > start)) {
        mc_cli_usage(stderr, syn, about, opts);
        return 2;
    }
    int stage = mc_stage_from_name(stage_name);
    if (stage < 0) {
        fprintf(stderr, "medcolor lrfind: %s\n", mc_errmsg());
        return 2;
    }
    mc_datafile *df = NULL;
    mc_dataset *ds = NULL;
    mc_net *net = NULL;
    mc_loader *ld = NULL;
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
    if (rc == MC_OK) rc = mc_stage_apply(net, stage);
    int c, h, w;
    if (rc == MC_OK) {
        mc_net_input_shape(net, &c, &h, &w);
        mc_loader_opts lo;
        mc_loader_opts_default(&lo);
        lo.batch = mc_net_batch(net);
        lo.h = h;
        lo.w = w;
        lo.train = 1;
        lo.shuffle = 1;
        lo.seed = (uint64_t)seed;
        lo.threads = (int)workers;
        lo.drop_last = 1;
        rc = mc_loader_new(&ld, ds, &lo);
    }
    double *lrs = calloc((size_t)num_it, sizeof(double)), *raw = calloc((size_t)num_it, sizeof(double)),
           *smooth = calloc((size_t)num_it, sizeof(double));
    if (rc == MC_OK && (!lrs || !raw || !smooth)) rc = mc_err(MC_ENOMEM, "out of memory");
    /* keep the starting weights (and optimiser state) to restore afterwards */
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/.lrfind-start.safetensors", out);
    mc_ckpt_meta meta = {0};
    if (rc == MC_OK) rc = mc_mkdirs(out);
    if (rc == MC_OK) rc = mc_checkpoint_save(net, tmp, &meta);
    int n = 0;
    double avg = 0, best = INFINITY, beta = 0.98;
    mc_net_set_train(net, 1);
    for (int i = 0; rc == MC_OK && i < num_it; i++) {
        mc_batch *b;
        if ((rc = mc_loader_next(ld, &b)) < 0 || !b) break;
        double lr = mc_lrfind_lr(i, (int)num_it, start, end);
        if ((rc = mc_net_set_input(net, b->images)) < 0 || (rc = mc_net_set_truth(net, b->labels, b->mask)) < 0 ||
            (rc = mc_net_zero_grad(net)) < 0)
            break;
        int frc = mc_net_forward(net);
        double loss = mc_net_loss(net);
        if (frc == MC_ENUM || !isfinite(loss)) {
            rc = MC_OK;
            mc_clear_error();
            break; /* diverged: the sweep ends here, as fastai's does */
        }
        if ((rc = frc) < 0 || (rc = mc_net_backward(net)) < 0) break;
        mc_sgd sgd = {.lr = (float)lr, .momentum = (float)mom, .weight_decay = (float)wd, .decoupled = 1};
        if ((rc = mc_net_sgd_step(net, &sgd)) < 0) break;
        avg = beta * avg + (1 - beta) * loss;
        double sm = avg / (1 - pow(beta, i + 1));
        lrs[n] = lr;
        raw[n] = loss;
        smooth[n] = sm;
        n++;
        fprintf(stderr, "\rlrfind %d/%ld  lr %.2e  loss %.4f  smoothed %.4f   ", i + 1, num_it, lr, loss, sm);
        if (sm < best) best = sm;
        if (sm > 4 * best || isnan(sm)) break;
    }
    fprintf(stderr, "\n");
    mc_loader_free(ld);
    if (rc == MC_OK) rc = mc_checkpoint_load(net, tmp, &meta); /* restore the weights */
    remove(tmp);
    if (rc == MC_OK && n < 16) rc = mc_err(MC_ENUM, "the sweep diverged after %d steps: lower --start", n);
    if (rc == MC_OK) {
        double steep, minlr;
        int k = mc_lrfind_suggest(lrs, smooth, n, 10, 5, &steep, &minlr);
        char path[4096];
        snprintf(path, sizeof path, "%s/lrfind.csv", out);
        FILE *f = fopen(path, "w");
        if (!f) {
            rc = mc_err(MC_EIO, "%s: cannot write", path);
        } else {
            fprintf(f, "iter,lr,loss,smoothed_loss\n");
            for (int i = 0; i < n; i++) fprintf(f, "%d,%.6e,%.6f,%.6f\n", i, lrs[i], raw[i], smooth[i]);
            fclose(f);
        }
        mc_plot *p = mc_plot_new(900, 600, "LR finder", "learning rate", "loss (smoothed)");
        if (p) {
            mc_plot_xlog(p, 1);
            mc_plot_series(p, "smoothed loss", lrs, smooth, n, MC_PLOT_LINE);
            char lab[64];
            snprintf(lab, sizeof lab, "suggested %.1e", steep);
            if (k >= 0) mc_plot_vline(p, steep, lab);
            snprintf(path, sizeof path, "%s/lrfind.png", out);
            if (rc == MC_OK) rc = mc_plot_save(p, path);
            mc_plot_free(p);
        }
        if (rc == MC_OK) {
            printf("suggested max_lr %.2e (steepest descent of the smoothed loss); min-loss LR / 10: %.2e\n", steep, minlr);
            printf("wrote %s/lrfind.csv and %s/lrfind.png (%d steps)\n", out, out, n);
        }
    }
    if (rc < 0) fprintf(stderr, "medcolor lrfind: %s\n", mc_errmsg());
    free(lrs);
    free(raw);
    free(smooth);
    mc_net_free(net);
    mc_dataset_free(ds);
    mc_datafile_free(df);
    return rc < 0 ? 1 : 0;
}
