/* progress.c — the terminal side of training's progress events (mc_train_event, mc_train.h):
 * on a terminal a bar per epoch, rewritten in place; otherwise plain lines, every 30 s and at
 * the end of each epoch; validations, resumes, skipped and stopped stages on stderr as lines;
 * each finished stage's mean AUC on stdout (also with --quiet). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "cli/cli.h"
#include "medcolor.h"

void mc_cli_progress_init(mc_cli_progress *p, int quiet, int plain) {
    p->mode = quiet ? MC_CLI_QUIET : plain ? MC_CLI_LINES : isatty(2) ? MC_CLI_BAR : MC_CLI_LINES;
    p->last_print = 0;
    p->stage = -1;
    p->iter = -1;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void fmt_time(double s, char *buf, size_t n) {
    if (!(s >= 0) || s > 1e7) {
        snprintf(buf, n, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, n, "%02ld:%02ld", t / 60, t % 60);
}

static void label_aucs(FILE *f, const mc_train_event *ev) {
    for (int j = 0; j < ev->nlabels; j++) fprintf(f, "%s%s %.3f", j ? ", " : "", ev->labels[j], ev->auc[j]);
}

void mc_cli_progress_event(const mc_train_event *ev, void *ctx) {
    mc_cli_progress *p = ctx;
    if (ev->type == MC_EV_STAGE_DONE) { /* the result: stdout, also when quiet */
        if (p->mode != MC_CLI_QUIET) {
            fprintf(stderr, "%s best at iteration %ld: ", ev->label, ev->best_iter);
            label_aucs(stderr, ev);
            fprintf(stderr, "\n");
        }
        printf("%s mean AUC %.4f  (stage %d/%d, %s, %.0f s, weights %s/best.weights)\n", mc_stage_name(ev->stage),
               ev->mean_auc, ev->stage_index, ev->nstages, ev->data, ev->seconds, ev->dir);
        fflush(stdout);
        return;
    }
    if (p->mode == MC_CLI_QUIET) return;
    char eta[32];
    switch (ev->type) {
    case MC_EV_ITER:
        fmt_time(ev->eta_s, eta, sizeof eta);
        if (p->mode == MC_CLI_BAR) {
            int width = 24, fill = ev->per_epoch ? (int)(width * ev->in_epoch / ev->per_epoch) : width;
            char bar[32];
            for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
            bar[width] = 0;
            fprintf(stderr, "\r%s epoch %d/%d [%s] %ld/%ld  loss %.4f  lr %.2e  %.1f img/s  ETA %s   ", ev->label,
                    ev->epoch, ev->epochs, bar, ev->in_epoch, ev->per_epoch, ev->loss, ev->lr, ev->img_per_s, eta);
            if (ev->in_epoch == ev->per_epoch || ev->iter == ev->total) fputc('\n', stderr);
            fflush(stderr);
        } else {
            double t = now();
            /* the first iteration of a stage (or of its resumption) is shown too */
            int first = ev->stage != p->stage || ev->iter != p->iter + 1;
            p->stage = ev->stage;
            p->iter = ev->iter;
            if (first || ev->iter == ev->total || ev->in_epoch == ev->per_epoch || t - p->last_print >= 30.0) {
                fprintf(stderr, "%s epoch %d/%d  iter %ld/%ld  loss %.4f  lr %.2e  %.1f img/s  ETA %s\n", ev->label,
                        ev->epoch, ev->epochs, ev->iter, ev->total, ev->loss, ev->lr, ev->img_per_s, eta);
                p->last_print = t;
            }
        }
        break;
    case MC_EV_VALID:
        fprintf(stderr, "%s iteration %ld: validation loss %.4f, mean AUC %.4f (", ev->label, ev->iter, ev->loss,
                ev->mean_auc);
        label_aucs(stderr, ev);
        fprintf(stderr, ")\n");
        break;
    case MC_EV_RESUME:
        fprintf(stderr, "%s resuming at iteration %ld of %ld (best mean AUC so far %.4f)\n", ev->label, ev->iter,
                ev->total, ev->mean_auc);
        break;
    case MC_EV_SKIPPED:
        fprintf(stderr, "%s finished before (best mean AUC %.4f): skipped\n", ev->label, ev->mean_auc);
        break;
    case MC_EV_STOPPED:
        if (ev->interrupted)
            fprintf(stderr, "%s interrupted at iteration %ld: checkpoint written; continue with --resume\n", ev->label,
                    ev->iter);
        else
            fprintf(stderr, "%s stopped at iteration %ld as asked; continue with --resume\n", ev->label, ev->iter);
        break;
    default:
        break;
    }
}

/* ---- a pass over images (eval, predict) ---------------------------------------------------- */
void mc_cli_pass_init(mc_cli_pass *p, const char *cmd, const char *what, int quiet) {
    p->cmd = cmd;
    p->what = what;
    p->quiet = quiet;
    p->bar = isatty(2);
    p->shown = 0;
    p->t0 = p->last = now();
}

void mc_cli_pass_progress(long done, long total, void *ctx) {
    mc_cli_pass *p = ctx;
    if (p->quiet) return;
    double t = now(), el = t - p->t0, rate = el > 0 ? (double)done / el : 0;
    char eta[32];
    fmt_time(rate > 0 ? (double)(total - done) / rate : -1, eta, sizeof eta);
    if (p->bar) {
        fprintf(stderr, "\rmedcolor %s: %ld/%ld %s (%.0f%%)  %.1f/s  ETA %s   ", p->cmd, done, total, p->what,
                total ? 100.0 * (double)done / (double)total : 100.0, rate, eta);
        if (done >= total) fputc('\n', stderr);
        fflush(stderr);
        return;
    }
    static double every = -1;
    if (every < 0) {
        const char *e = getenv("MEDCOLOR_PROGRESS_SECONDS");
        every = e && atof(e) >= 0 ? atof(e) : 30.0;
    }
    if (t - p->last >= every || (done >= total && p->shown)) {
        fprintf(stderr, "medcolor %s: %ld/%ld %s (%.0f%%), %.1f/s, ETA %s\n", p->cmd, done, total, p->what,
                total ? 100.0 * (double)done / (double)total : 100.0, rate, eta);
        p->last = t;
        p->shown = 1;
    }
}
