/* test_lbfgs.c — L-BFGS (src/optim/lbfgs.c) on Rosenbrock (n = 2 and 100) and an SPD quadratic
 * (n = 50), against scipy's L-BFGS-B where python3-scipy is installed (tests/ref/lbfgs_ref.py).
 *
 * Always checked, without scipy:
 *   - every accepted step meets the strong Wolfe conditions with the run's ftol/gtol, recomputed
 *     here from the iterates the progress callback shows (s = x_k − x_{k−1}, not the optimiser's
 *     own numbers): f_k ≤ f_{k−1} + ftol·g_{k−1}ᵀs and |g_kᵀs| ≤ gtol·|g_{k−1}ᵀs|; the
 *     sufficient decrease gets a rounding allowance of 4ε·|f_{k−1}| (s is recomputed from x, which
 *     differs from t·d by rounding);
 *   - Rosenbrock n=2 from (−1.2, 1) reaches f < 1e-12 within 100 iterations (factr 10,
 *     pgtol 1e-10: the default stop, relative reduction 2.2e-9, ends at f ≈ 3e-12, as scipy does);
 *   - the quadratic's minimum is known exactly (Cholesky solve here): f − f* ≤ 1e-10 with tight
 *     tolerances, and the first step is 1/‖g₀‖₂ along −g₀;
 *   - a failing callback stops the run with its own code and message, x = the last accepted
 *     iterate; the progress callback stops (> 0) or fails (< 0) the run; non-finite f → MC_ENUM;
 *     maxiter and maxfun stop where they should; bad options → MC_EARG;
 *   - a line search out of evaluations restarts from −g with an empty memory (max_ls 2), and
 *     with an empty memory already ends the run (a gradient of the wrong sign: abnormal);
 *   - the lowest f over all evaluations and its x are the ones seen by the callback.
 * Against scipy (same options): iterations within 10 % and final f within 1e-10 (absolute: the
 * two implementations differ only by rounding — two-loop recursion here, compact form there —
 * so their paths drift apart slowly; 10 % and 1e-10 are the acceptance check of the spec). */
#include <float.h>
#include "core/core.h"
#include "mc_optim.h"
#include "test.h"

/* ---- problems ---------------------------------------------------------------------------- */
typedef struct problem {
    int n;
    int kind; /* 0 Rosenbrock, 1 quadratic */
    long calls;
    /* failure injection and the record of evaluations */
    long fail_at;       /* the call that fails (1-based), 0 = never */
    long nan_at;        /* the call that returns NaN, 0 = never */
    double min_f;       /* lowest f seen */
    double *min_x;      /* its x */
} problem;

/* A = tridiag(−1, 2.05, −1), b_i = cos(i) (tests/ref/lbfgs_ref.py) */
static void quad_grad(int n, const double *x, double *g, double *f) {
    double fx = 0.0;
    for (int i = 0; i < n; i++) {
        double ax = 2.05 * x[i] - (i > 0 ? x[i - 1] : 0.0) - (i + 1 < n ? x[i + 1] : 0.0);
        double b = cos((double)i);
        g[i] = ax - b;
        fx += 0.5 * x[i] * ax - b * x[i];
    }
    *f = fx;
}

static void rosen_grad(int n, const double *x, double *g, double *f) {
    double fx = 0.0;
    for (int i = 0; i < n; i++) g[i] = 0.0;
    for (int i = 0; i + 1 < n; i++) {
        double t = x[i + 1] - x[i] * x[i], u = 1.0 - x[i];
        fx += 100.0 * t * t + u * u;
        g[i] += -400.0 * x[i] * t - 2.0 * u;
        g[i + 1] += 200.0 * t;
    }
    *f = fx;
}

static int fg(void *ctx, const double *x, double *g, double *f) {
    problem *p = ctx;
    p->calls++;
    if (p->fail_at && p->calls == p->fail_at)
        return mc_err(MC_EIO, "test callback: deliberate failure at call %ld", p->calls);
    if (p->kind == 0)
        rosen_grad(p->n, x, g, f);
    else
        quad_grad(p->n, x, g, f);
    if (p->nan_at && p->calls == p->nan_at) *f = NAN;
    if (*f < p->min_f) {
        p->min_f = *f;
        if (p->min_x) memcpy(p->min_x, x, (size_t)p->n * sizeof(double));
    }
    return MC_OK;
}

/* f = x², but the gradient returned with the wrong sign */
static int wrong_gradient(void *ctx, const double *x, double *g, double *f) {
    (void)ctx;
    *f = x[0] * x[0];
    g[0] = -2.0 * x[0];
    return MC_OK;
}

/* ---- the progress callback: strong Wolfe from the iterates ---------------------------------- */
typedef struct watch {
    int n;
    double ftol, gtol;
    double *xp, *gp, fp; /* the previous iterate */
    long iters, wolfe_bad, armijo_bad;
    double worst_curv; /* max |g_kᵀs| / |g_{k−1}ᵀs| */
    double first_step_err;
    double *last_x;
    long stop_at; /* > 0: return 1 at this iteration; < 0: return MC_EPARSE at −stop_at */
} watch;

static int progress(const mc_lbfgs_iter *it, void *ctx) {
    watch *w = ctx;
    double gps = 0.0, gs = 0.0;
    for (int i = 0; i < w->n; i++) {
        double s = it->x[i] - w->xp[i];
        gps += w->gp[i] * s;
        gs += it->g[i] * s;
    }
    if (!(it->f <= w->fp + w->ftol * gps + 4 * DBL_EPSILON * fabs(w->fp))) {
        w->armijo_bad++;
        if (w->armijo_bad == 1)
            fprintf(stderr, "  iteration %ld: f %.17g > %.17g + ftol*%.3g\n", it->iter, it->f, w->fp, gps);
    }
    double ratio = fabs(gs) / fabs(gps);
    if (ratio > w->worst_curv) w->worst_curv = ratio;
    if (!(ratio <= w->gtol)) {
        w->wolfe_bad++;
        if (w->wolfe_bad == 1)
            fprintf(stderr, "  iteration %ld: |g'(s)| / |g0'(s)| = %.6g > gtol\n", it->iter, ratio);
    }
    if (it->iter == 1) { /* the first step goes along −g₀ */
        double gg = 0.0;
        for (int i = 0; i < w->n; i++) gg += w->gp[i] * w->gp[i];
        double sx = 0.0, sg = 0.0;
        for (int i = 0; i < w->n; i++) {
            double s = it->x[i] - w->xp[i];
            sx += s * s;
            sg += s * w->gp[i];
        }
        w->first_step_err = fabs(sg / (sqrt(sx) * sqrt(gg)) + 1.0); /* 1 − cos(angle(s, −g₀)) */
    }
    memcpy(w->xp, it->x, (size_t)w->n * sizeof(double));
    memcpy(w->gp, it->g, (size_t)w->n * sizeof(double));
    w->fp = it->f;
    w->iters = it->iter;
    if (w->last_x) memcpy(w->last_x, it->x, (size_t)w->n * sizeof(double));
    if (w->stop_at > 0 && it->iter == w->stop_at) return 1;
    if (w->stop_at < 0 && it->iter == -w->stop_at) return mc_err(MC_EPARSE, "progress: deliberate stop");
    return 0;
}

static void start_point(int kind, int n, double *x) {
    for (int i = 0; i < n; i++) x[i] = kind == 1 ? 0.0 : (i % 2 == 0 ? -1.2 : 1.0);
}

/* Runs one problem with the Wolfe watch; returns the result and x. */
static int solve(int kind, int n, mc_lbfgs_opts *o, double *x, mc_lbfgs_result *res, watch *w,
                 problem *p) {
    start_point(kind, n, x);
    p->n = n;
    p->kind = kind;
    p->calls = 0;
    p->min_f = INFINITY;
    w->n = n;
    w->ftol = o->ftol;
    w->gtol = o->gtol;
    w->iters = w->wolfe_bad = w->armijo_bad = 0;
    w->worst_curv = 0.0;
    w->xp = malloc((size_t)n * sizeof(double));
    w->gp = malloc((size_t)n * sizeof(double));
    memcpy(w->xp, x, (size_t)n * sizeof(double));
    if (kind == 0)
        rosen_grad(n, x, w->gp, &w->fp);
    else
        quad_grad(n, x, w->gp, &w->fp);
    o->progress = progress;
    o->progress_ctx = w;
    int rc = mc_lbfgs(n, x, fg, p, o, res);
    free(w->xp);
    free(w->gp);
    w->xp = w->gp = NULL;
    return rc;
}

/* the exact minimum of the quadratic: Cholesky of the tridiagonal A (Thomas algorithm) */
static double quad_min(int n) {
    double *c = malloc((size_t)n * sizeof(double)), *dd = malloc((size_t)n * sizeof(double)),
           *x = malloc((size_t)n * sizeof(double));
    for (int i = 0; i < n; i++) {
        double a = i > 0 ? -1.0 : 0.0, diag = 2.05, up = -1.0, b = cos((double)i);
        double m = diag - (i > 0 ? a * c[i - 1] : 0.0);
        c[i] = up / m;
        dd[i] = (b - (i > 0 ? a * dd[i - 1] : 0.0)) / m;
    }
    for (int i = n - 1; i >= 0; i--) x[i] = dd[i] - (i + 1 < n ? c[i] * x[i + 1] : 0.0);
    double g[64], f;
    quad_grad(n, x, g, &f);
    free(c);
    free(dd);
    free(x);
    return f;
}

typedef struct refcase {
    char name[32];
    long nit, nfev;
    double f;
} refcase;

int main(void) {
    mc_lbfgs_opts o;
    mc_lbfgs_result res;
    watch w = {0};
    problem p = {0};
    double x[100];

    /* Rosenbrock 2, tight: the acceptance check */
    mc_lbfgs_opts_default(&o);
    o.factr = 10.0;
    o.pgtol = 1e-10;
    int rc = solve(0, 2, &o, x, &res, &w, &p);
    REQUIRE_OK(rc);
    printf("rosen2 (factr 10, pgtol 1e-10): %ld iterations, %ld evaluations, f %.3g, x (%.12f, %.12f), %s\n",
           res.iters, res.nfev, res.f, x[0], x[1], mc_lbfgs_reason_name(res.reason));
    CHECK(res.f < 1e-12, "rosen2: f = %.3g, want < 1e-12", res.f);
    CHECK(res.iters <= 100, "rosen2: %ld iterations, want <= 100", res.iters);
    CHECK(w.wolfe_bad == 0 && w.armijo_bad == 0, "rosen2: %ld steps break curvature, %ld sufficient decrease",
          w.wolfe_bad, w.armijo_bad);
    CHECK(w.iters == res.iters, "rosen2: progress saw %ld iterations, result says %ld", w.iters, res.iters);
    CHECK(w.first_step_err < 1e-12, "rosen2: first step not along -g0 (1 - cos = %.3g)", w.first_step_err);
    CHECK(p.calls == res.nfev, "rosen2: fg called %ld times, result says %ld", p.calls, res.nfev);

    struct { const char *name; int kind, n; double factr, pgtol; mc_lbfgs_result r; double f; long wb; double curv; } runs[] = {
        {"rosen2", 0, 2, 1e7, 1e-5, {0}, 0, 0, 0},
        {"rosen2tight", 0, 2, 10.0, 1e-10, {0}, 0, 0, 0},
        {"rosen100", 0, 100, 1e7, 1e-5, {0}, 0, 0, 0},
        {"quad50", 1, 50, 1e7, 1e-5, {0}, 0, 0, 0},
        {"quad50tight", 1, 50, 10.0, 1e-10, {0}, 0, 0, 0},
    };
    const int nruns = (int)(sizeof runs / sizeof runs[0]);
    for (int k = 0; k < nruns; k++) {
        mc_lbfgs_opts_default(&o);
        o.factr = runs[k].factr;
        o.pgtol = runs[k].pgtol;
        REQUIRE_OK(solve(runs[k].kind, runs[k].n, &o, x, &runs[k].r, &w, &p));
        runs[k].wb = w.wolfe_bad + w.armijo_bad;
        runs[k].curv = w.worst_curv;
        printf("%-12s n=%3d: %4ld iterations, %4ld evaluations, %ld skipped, %ld restarts, f %.17g (%s); "
               "max |g'(s)|/|g0'(s)| %.3f\n",
               runs[k].name, runs[k].n, runs[k].r.iters, runs[k].r.nfev, runs[k].r.nskip, runs[k].r.nrestart,
               runs[k].r.f, mc_lbfgs_reason_name(runs[k].r.reason), runs[k].curv);
        CHECK(runs[k].wb == 0, "%s: %ld accepted steps break the strong Wolfe conditions", runs[k].name, runs[k].wb);
        CHECK(runs[k].r.reason == MC_LBFGS_FACTR || runs[k].r.reason == MC_LBFGS_PGTOL,
              "%s: stopped by '%s'", runs[k].name, mc_lbfgs_reason_name(runs[k].r.reason));
    }
    double fstar = quad_min(50);
    double gap = runs[4].r.f - fstar;
    printf("quad50: exact minimum %.17g (Thomas solve), tight run %.17g, gap %.3g\n", fstar, runs[4].r.f, gap);
    CHECK(fabs(gap) <= 1e-10, "quad50tight: f - f* = %.3g, want <= 1e-10", gap);
    CHECK(runs[2].r.f < 1e-8, "rosen100: f = %.3g, want < 1e-8", runs[2].r.f);

    /* against scipy */
    FILE *pf = popen("/usr/bin/python3 tests/ref/lbfgs_ref.py", "r");
    REQUIRE(pf != NULL, "cannot run tests/ref/lbfgs_ref.py");
    char line[512];
    refcase ref[8];
    int nref = 0, noscipy = 0;
    double refmin = NAN;
    while (fgets(line, sizeof line, pf)) {
        if (!strncmp(line, "NOSCIPY", 7)) {
            line[strcspn(line, "\n")] = 0;
            mc_test_skip("test_lbfgs", "comparison with scipy: %s", line + 8);
            noscipy = 1;
            continue;
        }
        if (!strncmp(line, "quad50min ", 10)) {
            refmin = strtod(line + 10, NULL);
            continue;
        }
        if (nref < 8 && sscanf(line, "%31s %ld %ld %lf", ref[nref].name, &ref[nref].nit, &ref[nref].nfev,
                               &ref[nref].f) == 4)
            nref++;
    }
    int prc = pclose(pf);
    CHECK(prc == 0, "tests/ref/lbfgs_ref.py exited with %d", prc);
    if (!noscipy) {
        CHECK(nref == nruns, "scipy reference gave %d cases, want %d", nref, nruns);
        CHECK(fabs(refmin - fstar) < 1e-12, "numpy's quad50 minimum %.17g vs ours %.17g", refmin, fstar);
        for (int k = 0; k < nref; k++) {
            int j = 0;
            while (j < nruns && strcmp(runs[j].name, ref[k].name)) j++;
            if (j == nruns) {
                CHECK(0, "scipy case %s unknown", ref[k].name);
                continue;
            }
            double rel = fabs((double)(runs[j].r.iters - ref[k].nit)) / (double)ref[k].nit;
            printf("  vs scipy %-12s iterations %4ld vs %4ld (%.1f %%), evaluations %4ld vs %4ld, |f - f_scipy| %.3g\n",
                   ref[k].name, runs[j].r.iters, ref[k].nit, 100 * rel, runs[j].r.nfev, ref[k].nfev,
                   fabs(runs[j].r.f - ref[k].f));
            CHECK(rel <= 0.10, "%s: %ld iterations vs scipy's %ld (more than 10 %% apart)", ref[k].name,
                  runs[j].r.iters, ref[k].nit);
            CHECK(fabs(runs[j].r.f - ref[k].f) <= 1e-10, "%s: f %.17g vs scipy's %.17g", ref[k].name, runs[j].r.f,
                  ref[k].f);
        }
    }

    /* a failing fg: its code and message come back; x is the last accepted iterate */
    double last[2], best[2];
    mc_lbfgs_opts_default(&o);
    w.last_x = last;
    p.fail_at = 12;
    rc = solve(0, 2, &o, x, &res, &w, &p);
    CHECK(rc == MC_EIO, "failing callback: rc %d, want MC_EIO", rc);
    CHECK(strstr(mc_errmsg(), "deliberate failure at call 12") != NULL, "message lost: %s", mc_errmsg());
    CHECK(res.reason == MC_LBFGS_ERROR && res.nfev == 12, "failing callback: reason %d, nfev %ld", res.reason,
          res.nfev);
    CHECK(w.iters > 0 && x[0] == last[0] && x[1] == last[1],
          "failing callback: x (%g, %g) is not the last accepted iterate (%g, %g)", x[0], x[1], last[0], last[1]);
    p.fail_at = 1; /* at the start point */
    rc = solve(0, 2, &o, x, &res, &w, &p);
    CHECK(rc == MC_EIO && res.iters == 0 && x[0] == -1.2 && x[1] == 1.0, "failing first call: rc %d, iters %ld", rc,
          res.iters);
    p.fail_at = 0;
    w.last_x = NULL;

    /* NaN f → MC_ENUM */
    p.nan_at = 5;
    rc = solve(0, 2, &o, x, &res, &w, &p);
    CHECK(rc == MC_ENUM && strstr(mc_errmsg(), "not finite"), "NaN f: rc %d (%s)", rc, mc_errmsg());
    p.nan_at = 0;

    /* the progress callback stops (> 0) or fails (< 0) */
    w.stop_at = 3;
    rc = solve(0, 2, &o, x, &res, &w, &p);
    CHECK(rc == MC_OK && res.reason == MC_LBFGS_STOPPED && res.iters == 3, "progress stop: rc %d reason %d iters %ld",
          rc, res.reason, res.iters);
    w.stop_at = -4;
    rc = solve(0, 2, &o, x, &res, &w, &p);
    CHECK(rc == MC_EPARSE && res.reason == MC_LBFGS_ERROR && res.iters == 4, "progress error: rc %d reason %d",
          rc, res.reason);
    w.stop_at = 0;

    /* maxiter, maxfun */
    o.maxiter = 7;
    rc = solve(0, 100, &o, x, &res, &w, &p);
    CHECK(rc == 0 && res.reason == MC_LBFGS_MAXITER && res.iters == 7, "maxiter 7: reason %d, %ld iterations",
          res.reason, res.iters);
    mc_lbfgs_opts_default(&o);
    o.maxfun = 30;
    rc = solve(0, 100, &o, x, &res, &w, &p);
    CHECK(rc == 0 && res.reason == MC_LBFGS_MAXFUN && res.nfev > 30 && res.nfev <= 30 + 20,
          "maxfun 30: reason %d, %ld evaluations", res.reason, res.nfev);

    /* the lowest f over all evaluations (line-search trials included) */
    mc_lbfgs_opts_default(&o);
    o.maxiter = 15;
    o.best_x = best;
    double minx[2];
    p.min_x = minx;
    rc = solve(0, 2, &o, x, &res, &w, &p);
    CHECK(rc == 0 && res.best_f == p.min_f && best[0] == minx[0] && best[1] == minx[1],
          "best: %.17g at (%g, %g), the callback saw %.17g at (%g, %g)", res.best_f, best[0], best[1], p.min_f,
          minx[0], minx[1]);
    CHECK(res.best_f <= res.f, "best f %.17g above the final %.17g", res.best_f, res.f);
    p.min_x = NULL;

    /* a line search that runs out of evaluations: back to the last iterate, memory emptied,
     * restart from −g (max_ls 1 on Rosenbrock-100 makes it happen) */
    mc_lbfgs_opts_default(&o);
    o.max_ls = 1;
    rc = solve(0, 100, &o, x, &res, &w, &p);
    printf("rosen100 with max_ls 1: %ld iterations, %ld restarts, f %.3g (%s)\n", res.iters, res.nrestart, res.f,
           mc_lbfgs_reason_name(res.reason));
    CHECK(rc == 0 && res.nrestart > 0, "max_ls 1: rc %d, %ld restarts (expected some)", rc, res.nrestart);
    CHECK(w.wolfe_bad == 0 && w.armijo_bad == 0, "max_ls 1: an accepted step breaks the strong Wolfe conditions");
    /* here the restart's first trial (step 1 along −g) fails again, now with an empty memory:
     * the run ends abnormally at the last accepted iterate, whose f is reported */
    double fchk, gchk[100];
    rosen_grad(100, x, gchk, &fchk);
    CHECK(res.reason == MC_LBFGS_ABNORMAL && fchk == res.f && res.iters == w.iters,
          "max_ls 1: reason %s, f(x) %.17g vs reported %.17g", mc_lbfgs_reason_name(res.reason), fchk, res.f);
    /* a gradient of the wrong sign: −g is a descent direction by its own account but f grows
     * along it, so the first line search fails with an empty memory: abnormal, x unchanged */
    double xw = 1.0;
    mc_lbfgs_opts_default(&o);
    rc = mc_lbfgs(1, &xw, wrong_gradient, NULL, &o, &res);
    /* the trials shrink to x = 1 + 2t with t → 0: the 17th rounds to x = 1 and the last three
     * repeat it, which are not evaluated again: 1 + 17 evaluations, as scipy (18 funcalls) */
    CHECK(rc == 0 && res.reason == MC_LBFGS_ABNORMAL && xw == 1.0 && res.iters == 0 && res.nfev == 18,
          "wrong gradient: rc %d, reason %s, x %g, %ld iterations, %ld evaluations (want abnormal, 1, 0, 18)", rc,
          mc_lbfgs_reason_name(res.reason), xw, res.iters, res.nfev);

    /* bad options */
    mc_lbfgs_opts_default(&o);
    o.m = 0;
    CHECK(mc_lbfgs(2, x, fg, &p, &o, NULL) == MC_EARG, "m = 0 accepted");
    mc_lbfgs_opts_default(&o);
    o.gtol = 1.5;
    CHECK(mc_lbfgs(2, x, fg, &p, &o, NULL) == MC_EARG, "gtol = 1.5 accepted");
    CHECK(mc_lbfgs(0, x, fg, &p, NULL, NULL) == MC_EARG, "n = 0 accepted");
    return mc_test_done("test_lbfgs");
}
