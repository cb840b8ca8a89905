/* schedule.c — the one-cycle schedule and the LR finder's learning rates (docs/training.md).
 *
 * One-cycle, as PyTorch's OneCycleLR (anneal_strategy='cos', three_phase=False) and fastai v1's
 * fit_one_cycle compute it: T total steps, e1 = pct*T - 1;
 *   phase 1 (s <= e1): p = s/e1, lr = cos(initial -> max_lr), momentum = cos(0.95 -> 0.85)
 *   phase 2:           p = (s-e1)/(T-1-e1), lr = cos(max_lr -> min), momentum = cos(0.85 -> 0.95)
 *   initial = max_lr/div, min = initial/final_div, cos(a -> b, p) = b + (a-b)/2 (1 + cos(pi p)).
 * Computed in double, as Python does. */
#include <math.h>
#include "medcolor.h"

void mc_onecycle_default(mc_onecycle *s, long total, double max_lr) {
    s->total = total;
    s->max_lr = max_lr;
    s->pct = 0.3;
    s->div = 25.0;
    s->final_div = 1e4;
    s->mom_max = 0.95;
    s->mom_min = 0.85;
}

static double cos_anneal(double a, double b, double p) { return b + (a - b) / 2.0 * (1.0 + cos(M_PI * p)); }

void mc_onecycle_at(const mc_onecycle *s, long step, double *lr, double *mom) {
    double initial = s->max_lr / s->div, min_lr = initial / s->final_div;
    double e1 = s->pct * (double)s->total - 1.0, e2 = (double)s->total - 1.0;
    double st = (double)step;
    if (st <= e1) {
        double p = e1 > 0 ? st / e1 : 1.0;
        *lr = cos_anneal(initial, s->max_lr, p);
        *mom = cos_anneal(s->mom_max, s->mom_min, p);
    } else {
        double p = e2 > e1 ? (st - e1) / (e2 - e1) : 1.0;
        *lr = cos_anneal(s->max_lr, min_lr, p);
        *mom = cos_anneal(s->mom_min, s->mom_max, p);
    }
}

double mc_lrfind_lr(int i, int num_it, double start, double end) {
    /* fastai v1 lr_find: start * (end/start)^(i/num_it) */
    return start * pow(end / start, (double)i / (double)num_it);
}

/* fastai v1's suggestion (Recorder.plot(suggestion=True)): drop the first skip_start and the
 * last skip_end points, then the index of the minimum of numpy.gradient of the smoothed losses
 * (central differences inside, one-sided at the two ends of the trimmed list). Also the LR of
 * the minimum smoothed loss divided by 10. Returns the index in the full list, or -1. */
int mc_lrfind_suggest(const double *lrs, const double *smooth, int n, int skip_start, int skip_end,
                      double *steepest_lr, double *minloss_lr) {
    int m = n - skip_start - skip_end, best = -1;
    const double *x = smooth + skip_start;
    double best_g = INFINITY;
    for (int j = 0; m >= 2 && j < m; j++) {
        double g = j == 0 ? x[1] - x[0] : j == m - 1 ? x[m - 1] - x[m - 2] : (x[j + 1] - x[j - 1]) / 2.0;
        if (g < best_g) {
            best_g = g;
            best = j + skip_start;
        }
    }
    int imin = 0;
    for (int i = 1; i < n; i++)
        if (smooth[i] < smooth[imin]) imin = i;
    *steepest_lr = best >= 0 ? lrs[best] : (double)NAN;
    *minloss_lr = n > 0 ? lrs[imin] / 10.0 : (double)NAN;
    return best;
}
