/* lbfgs.c — unconstrained L-BFGS with the semantics of L-BFGS-B 3.0 (include/mc_optim.h).
 *
 * The line search is Moré & Thuente's (ACM TOMS 20(3), 1994) as in MINPACK-2's dcsrch/dcstep,
 * which L-BFGS-B calls with stpmin 0 and stpmax 1e10 on a problem without bounds: a safeguarded
 * cubic/quadratic interpolation that first looks for a step where the "auxiliary function"
 * ψ(t) = f(t) − f(0) − ftol·t·f'(0) has a non-positive value and a non-negative slope (stage 1),
 * then works on f itself (stage 2), until the strong Wolfe conditions hold. Written here from
 * the paper's algorithm and the MINPACK-2 documentation of its steps.
 *
 * The main loop mirrors L-BFGS-B's mainlb for a problem with no bounds: the first direction is
 * −g (the generalised Cauchy point with θ = 1), later ones the quasi-Newton step −H·g of the
 * m newest pairs (two-loop recursion, H₀ = 1/θ·I with θ = yᵀy/sᵀy of the newest accepted pair).
 * The pair is s = t·d and y = g_new − g_old, its curvature sᵀy computed as t·(g_newᵀd − g_oldᵀd)
 * as L-BFGS-B does.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "mc_optim.h"

void mc_lbfgs_opts_default(mc_lbfgs_opts *o) {
    memset(o, 0, sizeof *o);
    o->m = 10;
    o->maxiter = 15000;
    o->maxfun = 15000;
    o->factr = 1e7;
    o->pgtol = 1e-5;
    o->ftol = 1e-3;
    o->gtol = 0.9;
    o->xtol = 0.1;
    o->max_ls = 20;
}

const char *mc_lbfgs_reason_name(int reason) {
    switch (reason) {
    case MC_LBFGS_PGTOL: return "norm of gradient <= pgtol";
    case MC_LBFGS_FACTR: return "relative reduction of f <= factr*eps";
    case MC_LBFGS_MAXITER: return "iterations reached maxiter";
    case MC_LBFGS_MAXFUN: return "evaluations exceeded maxfun";
    case MC_LBFGS_ABNORMAL: return "abnormal termination in line search";
    case MC_LBFGS_STOPPED: return "stopped by the progress callback";
    case MC_LBFGS_ERROR: return "error in a callback";
    default: return "unknown";
    }
}

/* ---- Moré–Thuente line search ------------------------------------------------------------ */

enum { LS_FG = 0, LS_CONV = 1, LS_WARN = 2, LS_ERROR = 3 };

typedef struct ls_state {
    int brackt, stage;
    double ftol, gtol, xtol, stpmin, stpmax;
    double finit, ginit, gtest, width, width1;
    double stx, fx, gx, sty, fy, gy, stmin, stmax;
} ls_state;

/* One safeguarded step (dcstep): updates the interval [stx, sty] that contains a step
 * satisfying the conditions, and proposes the next trial step *stp. (stx, fx, dx) is the best
 * step so far, (sty, fy, dy) the other end, (stp, fp, dp) the current trial. */
static void ls_step(double *stx, double *fx, double *dx, double *sty, double *fy, double *dy,
                    double *stp, double fp, double dp, int *brackt, double stpmin, double stpmax) {
    const double p66 = 0.66;
    double sgnd = dp * (*dx / fabs(*dx));
    double stpf, stpc, stpq, theta, s, gamma, p, q, r;
    if (fp > *fx) {
        /* 1: higher function value: the minimum is bracketed. Cubic or mid-way to quadratic. */
        theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        s = fmax(fabs(theta), fmax(fabs(*dx), fabs(dp)));
        gamma = s * sqrt((theta / s) * (theta / s) - (*dx / s) * (dp / s));
        if (*stp < *stx) gamma = -gamma;
        p = (gamma - *dx) + theta;
        q = ((gamma - *dx) + gamma) + dp;
        r = p / q;
        stpc = *stx + r * (*stp - *stx);
        stpq = *stx + ((*dx / ((*fx - fp) / (*stp - *stx) + *dx)) / 2.0) * (*stp - *stx);
        if (fabs(stpc - *stx) < fabs(stpq - *stx))
            stpf = stpc;
        else
            stpf = stpc + (stpq - stpc) / 2.0;
        *brackt = 1;
    } else if (sgnd < 0.0) {
        /* 2: lower value, derivatives of opposite sign: bracketed. Cubic or secant step. */
        theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        s = fmax(fabs(theta), fmax(fabs(*dx), fabs(dp)));
        gamma = s * sqrt((theta / s) * (theta / s) - (*dx / s) * (dp / s));
        if (*stp > *stx) gamma = -gamma;
        p = (gamma - dp) + theta;
        q = ((gamma - dp) + gamma) + *dx;
        r = p / q;
        stpc = *stp + r * (*stx - *stp);
        stpq = *stp + (dp / (dp - *dx)) * (*stx - *stp);
        stpf = fabs(stpc - *stp) > fabs(stpq - *stp) ? stpc : stpq;
        *brackt = 1;
    } else if (fabs(dp) < fabs(*dx)) {
        /* 3: lower value, same sign, derivative decreases in magnitude. The cubic is used only
         * when it tends to infinity in the step's direction or its minimum lies beyond stp. */
        theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        s = fmax(fabs(theta), fmax(fabs(*dx), fabs(dp)));
        gamma = s * sqrt(fmax(0.0, (theta / s) * (theta / s) - (*dx / s) * (dp / s)));
        if (*stp > *stx) gamma = -gamma;
        p = (gamma - dp) + theta;
        q = (gamma + (*dx - dp)) + gamma;
        r = p / q;
        if (r < 0.0 && gamma != 0.0)
            stpc = *stp + r * (*stx - *stp);
        else if (*stp > *stx)
            stpc = stpmax;
        else
            stpc = stpmin;
        stpq = *stp + (dp / (dp - *dx)) * (*stx - *stp);
        if (*brackt) {
            stpf = fabs(stpc - *stp) < fabs(stpq - *stp) ? stpc : stpq;
            if (*stp > *stx)
                stpf = fmin(*stp + p66 * (*sty - *stp), stpf);
            else
                stpf = fmax(*stp + p66 * (*sty - *stp), stpf);
        } else {
            stpf = fabs(stpc - *stp) > fabs(stpq - *stp) ? stpc : stpq;
            stpf = fmin(stpmax, stpf);
            stpf = fmax(stpmin, stpf);
        }
    } else {
        /* 4: lower value, same sign, derivative does not decrease: cubic with the other end,
         * or the bound of the step. */
        if (*brackt) {
            theta = 3.0 * (fp - *fy) / (*sty - *stp) + *dy + dp;
            s = fmax(fabs(theta), fmax(fabs(*dy), fabs(dp)));
            gamma = s * sqrt((theta / s) * (theta / s) - (*dy / s) * (dp / s));
            if (*stp > *sty) gamma = -gamma;
            p = (gamma - dp) + theta;
            q = ((gamma - dp) + gamma) + *dy;
            r = p / q;
            stpc = *stp + r * (*sty - *stp);
            stpf = stpc;
        } else if (*stp > *stx) {
            stpf = stpmax;
        } else {
            stpf = stpmin;
        }
    }
    /* the new interval */
    if (fp > *fx) {
        *sty = *stp;
        *fy = fp;
        *dy = dp;
    } else {
        if (sgnd < 0.0) {
            *sty = *stx;
            *fy = *fx;
            *dy = *dx;
        }
        *stx = *stp;
        *fx = fp;
        *dx = dp;
    }
    *stp = stpf;
}

/* Starts a search at step *stp with f(0) = f and f'(0) = g (< 0). */
static int ls_start(ls_state *s, double f, double g, double stp) {
    if (stp < s->stpmin || stp > s->stpmax || g >= 0.0 || s->ftol < 0.0 || s->gtol < 0.0 ||
        s->xtol < 0.0 || s->stpmin < 0.0 || s->stpmax < s->stpmin)
        return LS_ERROR;
    s->brackt = 0;
    s->stage = 1;
    s->finit = f;
    s->ginit = g;
    s->gtest = s->ftol * g;
    s->width = s->stpmax - s->stpmin;
    s->width1 = s->width / 0.5;
    s->stx = 0.0;
    s->fx = f;
    s->gx = g;
    s->sty = 0.0;
    s->fy = f;
    s->gy = g;
    s->stmin = 0.0;
    s->stmax = stp + 4.0 * stp;
    return LS_FG;
}

/* f, g: the value and slope at the trial *stp. Returns LS_CONV / LS_WARN (accept *stp) or
 * LS_FG with the next trial in *stp. */
static int ls_next(ls_state *s, double f, double g, double *stp) {
    const double xtrapl = 1.1, xtrapu = 4.0;
    double ftest = s->finit + *stp * s->gtest;
    if (s->stage == 1 && f <= ftest && g >= 0.0) s->stage = 2;
    int task = LS_FG;
    if (s->brackt && (*stp <= s->stmin || *stp >= s->stmax)) task = LS_WARN; /* rounding errors */
    if (s->brackt && s->stmax - s->stmin <= s->xtol * s->stmax) task = LS_WARN; /* xtol */
    if (*stp == s->stpmax && f <= ftest && g <= s->gtest) task = LS_WARN;
    if (*stp == s->stpmin && (f > ftest || g >= s->gtest)) task = LS_WARN;
    if (f <= ftest && fabs(g) <= s->gtol * (-s->ginit)) task = LS_CONV;
    if (task != LS_FG) return task;

    if (s->stage == 1 && f <= s->fx && f > ftest) {
        /* the modified function ψ while the sufficient decrease has not been met */
        double fm = f - *stp * s->gtest, fxm = s->fx - s->stx * s->gtest,
               fym = s->fy - s->sty * s->gtest, gm = g - s->gtest, gxm = s->gx - s->gtest,
               gym = s->gy - s->gtest;
        ls_step(&s->stx, &fxm, &gxm, &s->sty, &fym, &gym, stp, fm, gm, &s->brackt, s->stmin,
                s->stmax);
        s->fx = fxm + s->stx * s->gtest;
        s->fy = fym + s->sty * s->gtest;
        s->gx = gxm + s->gtest;
        s->gy = gym + s->gtest;
    } else {
        ls_step(&s->stx, &s->fx, &s->gx, &s->sty, &s->fy, &s->gy, stp, f, g, &s->brackt, s->stmin,
                s->stmax);
    }
    if (s->brackt) {
        /* bisect when the interval did not shrink enough in two steps */
        if (fabs(s->sty - s->stx) >= 0.66 * s->width1) *stp = s->stx + 0.5 * (s->sty - s->stx);
        s->width1 = s->width;
        s->width = fabs(s->sty - s->stx);
        s->stmin = fmin(s->stx, s->sty);
        s->stmax = fmax(s->stx, s->sty);
    } else {
        s->stmin = *stp + xtrapl * (*stp - s->stx);
        s->stmax = *stp + xtrapu * (*stp - s->stx);
    }
    *stp = fmax(*stp, s->stpmin);
    *stp = fmin(*stp, s->stpmax);
    if ((s->brackt && (*stp <= s->stmin || *stp >= s->stmax)) ||
        (s->brackt && s->stmax - s->stmin <= s->xtol * s->stmax))
        *stp = s->stx;
    return LS_FG;
}

/* ---- the driver ---------------------------------------------------------------------------- */

static double dot(int n, const double *a, const double *b) {
    double s = 0.0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static double norm_inf(int n, const double *a) {
    double m = 0.0;
    for (int i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

typedef struct run {
    int n;
    mc_lbfgs_fg fg;
    void *ctx;
    long nfev;
    double *best_x;
    double best_f;
} run;

static int evaluate(run *r, const double *x, double *g, double *f) {
    *f = NAN;
    int rc = r->fg(r->ctx, x, g, f);
    r->nfev++;
    if (rc < 0) return rc;
    if (!isfinite(*f))
        return mc_err(MC_ENUM, "L-BFGS: f is not finite (%g) at evaluation %ld", *f, r->nfev);
    for (int i = 0; i < r->n; i++)
        if (!isfinite(g[i]))
            return mc_err(MC_ENUM, "L-BFGS: gradient component %d is not finite (%g) at evaluation %ld",
                          i, g[i], r->nfev);
    if (*f < r->best_f) {
        r->best_f = *f;
        if (r->best_x) memcpy(r->best_x, x, (size_t)r->n * sizeof(double));
    }
    return MC_OK;
}

int mc_lbfgs(int n, double *x, mc_lbfgs_fg fg, void *ctx, const mc_lbfgs_opts *opts,
             mc_lbfgs_result *res) {
    mc_lbfgs_opts o;
    if (opts)
        o = *opts;
    else
        mc_lbfgs_opts_default(&o);
    mc_lbfgs_result rdummy;
    if (!res) res = &rdummy;
    memset(res, 0, sizeof *res);
    res->best_f = INFINITY;
    if (n < 1 || !x || !fg) return mc_err(MC_EARG, "mc_lbfgs: n = %d, x or fg missing", n);
    if (o.m < 1 || o.maxiter < 0 || o.maxfun < 0 || !(o.factr >= 0) || !(o.pgtol >= 0) ||
        !(o.ftol > 0 && o.ftol < 1) || !(o.gtol > 0 && o.gtol < 1) || !(o.xtol >= 0) ||
        o.max_ls < 1)
        return mc_err(MC_EARG,
                      "mc_lbfgs: bad options (m %d, maxiter %ld, maxfun %ld, factr %g, pgtol %g, "
                      "ftol %g, gtol %g, xtol %g, max_ls %d)",
                      o.m, o.maxiter, o.maxfun, o.factr, o.pgtol, o.ftol, o.gtol, o.xtol, o.max_ls);
    const size_t nn = (size_t)n, m = (size_t)o.m;
    /* s[m][n], y[m][n], then g, d, x_old, g_old; rho[m], alpha[m] */
    double *mem = mc_malloc((2 * m * nn + 4 * nn + 2 * m) * sizeof(double), "L-BFGS memory");
    if (!mem) return MC_ENOMEM;
    double *S = mem, *Y = S + m * nn, *g = Y + m * nn, *d = g + nn, *xo = d + nn, *go = xo + nn,
           *rho = go + nn, *alpha = rho + m;
    run r = {.n = n, .fg = fg, .ctx = ctx, .best_x = o.best_x, .best_f = INFINITY};
    const double eps = DBL_EPSILON;
    double f = 0.0;
    int status = MC_OK, reason = 0;
    long iter = 0, nskip = 0, nrestart = 0;
    int col = 0, head = 0; /* pairs stored; index of the oldest */
    double gamma = 1.0;    /* H₀ = gamma·I = (sᵀy/yᵀy)·I */
    int restarted = 0;

    status = evaluate(&r, x, g, &f);
    if (status < 0) goto done;
    if (norm_inf(n, g) <= o.pgtol) {
        reason = MC_LBFGS_PGTOL;
        goto done;
    }
    for (;;) {
        /* the direction d = −H·g */
        if (col == 0) {
            for (int i = 0; i < n; i++) d[i] = -g[i];
        } else {
            memcpy(d, g, nn * sizeof(double));
            for (int k = col - 1; k >= 0; k--) {
                size_t j = (size_t)((head + k) % o.m);
                alpha[j] = rho[j] * dot(n, S + j * nn, d);
                const double *yj = Y + j * nn;
                for (int i = 0; i < n; i++) d[i] -= alpha[j] * yj[i];
            }
            for (int i = 0; i < n; i++) d[i] *= gamma;
            for (int k = 0; k < col; k++) {
                size_t j = (size_t)((head + k) % o.m);
                double beta = rho[j] * dot(n, Y + j * nn, d);
                const double *sj = S + j * nn;
                for (int i = 0; i < n; i++) d[i] += sj[i] * (alpha[j] - beta);
            }
            for (int i = 0; i < n; i++) d[i] = -d[i];
        }
        /* the line search along d from x */
        memcpy(xo, x, nn * sizeof(double));
        memcpy(go, g, nn * sizeof(double));
        const double fold = f, gdold = dot(n, g, d);
        double stp = iter == 0 ? fmin(1.0 / sqrt(dot(n, d, d)), 1e10) : 1.0;
        ls_state ls = {.ftol = o.ftol, .gtol = o.gtol, .xtol = o.xtol, .stpmin = 0.0, .stpmax = 1e10};
        int task = gdold < 0.0 ? ls_start(&ls, f, gdold, stp) : LS_ERROR;
        int ifun = 0;
        double gd = gdold;
        while (task == LS_FG && ifun < o.max_ls) {
            /* x, g, f hold the last evaluated point (the iterate itself before the first trial):
             * a trial that rounds to the same x is not evaluated again (as scipy's driver caches
             * it) but counts as a trial */
            int same = 1;
            for (int i = 0; i < n; i++) {
                double xi = xo[i] + stp * d[i];
                same &= xi == x[i];
                x[i] = xi;
            }
            ifun++;
            if (!same) status = evaluate(&r, x, g, &f);
            if (status < 0) {
                memcpy(x, xo, nn * sizeof(double));
                f = fold;
                memcpy(g, go, nn * sizeof(double));
                goto done;
            }
            gd = dot(n, g, d);
            task = ls_next(&ls, f, gd, &stp);
        }
        if (task == LS_FG || task == LS_ERROR) {
            /* failed: back to the previous iterate; restart from −g, or give up */
            memcpy(x, xo, nn * sizeof(double));
            memcpy(g, go, nn * sizeof(double));
            f = fold;
            if (col == 0) {
                reason = MC_LBFGS_ABNORMAL;
                goto done;
            }
            col = 0;
            head = 0;
            gamma = 1.0;
            nrestart++;
            restarted = 1;
            continue;
        }
        /* accepted (x, f, g are the last trial's) */
        iter++;
        double gn = norm_inf(n, g);
        if (o.progress) {
            mc_lbfgs_iter it = {.iter = iter, .nfev = r.nfev, .n = n, .x = x, .g = g, .f = f,
                                .f_old = fold, .step = stp, .ls_evals = ifun, .gnorm_inf = gn,
                                .restarted = restarted};
            int pr = o.progress(&it, o.progress_ctx);
            if (pr < 0) {
                status = pr;
                goto done;
            }
            if (pr > 0) {
                reason = MC_LBFGS_STOPPED;
                goto done;
            }
        }
        restarted = 0;
        if (iter >= o.maxiter) {
            reason = MC_LBFGS_MAXITER;
            goto done;
        }
        if (r.nfev > o.maxfun) {
            reason = MC_LBFGS_MAXFUN;
            goto done;
        }
        if (gn <= o.pgtol) {
            reason = MC_LBFGS_PGTOL;
            goto done;
        }
        if (fold - f <= o.factr * eps * fmax(fmax(fabs(fold), fabs(f)), 1.0)) {
            reason = MC_LBFGS_FACTR;
            goto done;
        }
        /* the pair (s, y) = (t·d, g − g_old), kept when its curvature is large enough */
        double dr = (gd - gdold) * stp, ddum = -gdold * stp;
        if (dr <= eps * ddum) {
            nskip++;
            continue;
        }
        size_t j;
        if (col < o.m) {
            j = (size_t)((head + col) % o.m);
            col++;
        } else {
            j = (size_t)head;
            head = (head + 1) % o.m;
        }
        double *sj = S + j * nn, *yj = Y + j * nn, rr = 0.0;
        for (int i = 0; i < n; i++) {
            sj[i] = stp * d[i];
            yj[i] = g[i] - go[i];
            rr += yj[i] * yj[i];
        }
        rho[j] = 1.0 / dr;
        gamma = dr / rr;
    }
done:
    res->reason = status < 0 ? MC_LBFGS_ERROR : reason;
    res->iters = iter;
    res->nfev = r.nfev;
    res->nskip = nskip;
    res->nrestart = nrestart;
    res->f = f;
    res->gnorm_inf = norm_inf(n, g);
    res->best_f = r.best_f;
    free(mem);
    return status;
}
