/* lrfind.c — fastai v1's learning-rate finder (docs/training.md): one SGD step
 * per learning rate lr_i = start (end/start)^(i/iters), the loss smoothed with beta 0.98 and bias
 * correction, stopping when the smoothed loss exceeds 4x its best or is NaN; the weights (and
 * the optimiser state) are restored afterwards, through a checkpoint in the output folder, so
 * nothing changes on disk. The curve is written as lrfind.csv and lrfind.png. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"

void mc_lrfind_opts_default(mc_lrfind_opts *o) {
    memset(o, 0, sizeof *o);
    o->stage = MC_STAGE_COLOR;
    o->start = 1e-7;
    o->end = 10;
    o->iters = 100;
    o->momentum = 0.9;
    o->weight_decay = 1e-2;
    o->workers = 1;
}

void mc_lrfind_result_free(mc_lrfind_result *r) {
    free(r->lr);
    free(r->loss);
    free(r->smoothed);
    memset(r, 0, sizeof *r);
}

int mc_lrfind(mc_net *net, const mc_dataset *ds, const char *dir, const mc_lrfind_opts *o, mc_lrfind_result *r) {
    memset(r, 0, sizeof *r);
    /* the suggestion skips the first 10 and the last 5 points: fewer than 16 leave none */
    if (o->iters < 16 || !(o->start > 0) || !(o->end > o->start))
        return mc_err(MC_EARG, "lrfind: %d learning rates from %g to %g (at least 16, 0 < start < end)", o->iters,
                      o->start, o->end);
    MC_TRY(mc_stage_check(net, o->stage));
    MC_TRY(mc_stage_apply(net, o->stage));
    int c, h, w;
    mc_net_input_shape(net, &c, &h, &w);
    mc_loader_opts lo;
    mc_loader_opts_default(&lo);
    lo.batch = mc_net_batch(net);
    lo.h = h;
    lo.w = w;
    lo.train = 1;
    lo.shuffle = 1;
    lo.seed = o->seed;
    lo.threads = o->workers;
    lo.drop_last = 1;
    mc_loader *ld = NULL;
    MC_TRY(mc_loader_new(&ld, ds, &lo));
    r->lr = mc_calloc((size_t)o->iters, sizeof(double), "lrfind");
    r->loss = mc_calloc((size_t)o->iters, sizeof(double), "lrfind");
    r->smoothed = mc_calloc((size_t)o->iters, sizeof(double), "lrfind");
    int rc = r->lr && r->loss && r->smoothed ? MC_OK : MC_ENOMEM;
    /* the starting weights (and optimiser state), restored afterwards */
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s/.lrfind-start.safetensors", dir) >= sizeof tmp)
        rc = mc_err(MC_EARG, "path too long: %s", dir);
    mc_ckpt_meta meta = {0};
    if (rc == MC_OK) rc = mc_mkdirs(dir);
    if (rc == MC_OK) rc = mc_checkpoint_save(net, tmp, &meta);
    int saved = rc == MC_OK;
    double avg = 0, best = INFINITY, beta = 0.98;
    mc_net_set_train(net, 1);
    for (int i = 0; rc == MC_OK && i < o->iters; i++) {
        mc_batch *b;
        if ((rc = mc_loader_next(ld, &b)) < 0 || !b) break;
        double lr = mc_lrfind_lr(i, o->iters, o->start, o->end);
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
        mc_sgd sgd = {.lr = (float)lr, .momentum = (float)o->momentum, .weight_decay = (float)o->weight_decay,
                      .decoupled = 1};
        if ((rc = mc_net_sgd_step(net, &sgd)) < 0) break;
        avg = beta * avg + (1 - beta) * loss;
        double sm = avg / (1 - pow(beta, i + 1));
        r->lr[r->n] = lr;
        r->loss[r->n] = loss;
        r->smoothed[r->n] = sm;
        r->n++;
        if (o->on_step) o->on_step(i + 1, o->iters, lr, loss, sm, o->step_ctx);
        if (sm < best) best = sm;
        if (sm > 4 * best || isnan(sm)) break;
    }
    mc_loader_free(ld);
    if (rc == MC_OK) rc = mc_checkpoint_load(net, tmp, &meta); /* the weights as they were */
    if (saved) remove(tmp);
    if (rc == MC_OK && r->n < 16)
        rc = mc_err(MC_ENUM, "the sweep diverged after %d steps: lower --start", r->n);
    if (rc == MC_OK) r->index = mc_lrfind_suggest(r->lr, r->smoothed, r->n, 10, 5, &r->suggested, &r->minloss_lr);
    if (rc < 0) mc_lrfind_result_free(r);
    return rc;
}

int mc_lrfind_write(const char *dir, const mc_lrfind_result *r) {
    char path[4096];
    MC_TRY(mc_mkdirs(dir));
    snprintf(path, sizeof path, "%s/lrfind.csv", dir);
    FILE *f = mc_fopen(path, "w");
    if (!f) return MC_EIO;
    fprintf(f, "iter,lr,loss,smoothed_loss\n");
    for (int i = 0; i < r->n; i++) fprintf(f, "%d,%.6e,%.6f,%.6f\n", i, r->lr[i], r->loss[i], r->smoothed[i]);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return mc_err(MC_EIO, "%s: write error", path);
    mc_plot *p = mc_plot_new(900, 600, "LR finder", "learning rate", "loss (smoothed)");
    if (!p) return MC_ENOMEM;
    mc_plot_xlog(p, 1);
    mc_plot_series(p, "smoothed loss", r->lr, r->smoothed, r->n, MC_PLOT_LINE);
    char lab[64];
    snprintf(lab, sizeof lab, "suggested %.1e", r->suggested);
    if (r->index >= 0) mc_plot_vline(p, r->suggested, lab);
    snprintf(path, sizeof path, "%s/lrfind.png", dir);
    int rc = mc_plot_save(p, path);
    mc_plot_free(p);
    return rc;
}
