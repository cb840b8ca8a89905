/* mc_optim.h — numerical optimisation: unconstrained L-BFGS in double precision.
 *
 * Part of the public API (include it after medcolor.h).
 *
 * mc_lbfgs minimises f: Rⁿ → R given by a callback that returns f(x) and ∇f(x). It follows the
 * semantics of L-BFGS-B 3.0 (Byrd, Lu, Nocedal, Zhu; the optimiser behind scipy's
 * fmin_l_bfgs_b) on a problem without bounds, so that a run is comparable with scipy's:
 *   - memory m pairs (s, y) (default 10); the inverse Hessian approximation starts from
 *     H₀ = (sᵀy / yᵀy)·I of the newest pair; directions by the two-loop recursion (the same
 *     matrix as L-BFGS-B's compact form when no bound is active);
 *   - a pair is dropped (the update skipped) when sᵀy ≤ ε_mach·(−g_oldᵀs);
 *   - the first direction is −g with a first trial step 1/‖g‖₂, every later trial starts at 1;
 *   - the Moré–Thuente line search (MINPACK-2 dcsrch/dcstep) for the strong Wolfe conditions
 *         f(x + t·d) ≤ f(x) + ftol·t·gᵀd,   |g(x + t·d)ᵀd| ≤ gtol·|gᵀd|
 *     with ftol 1e-3, gtol 0.9, xtol 0.1, step bounds [0, 1e10]; its warnings (rounding errors,
 *     xtol) accept the step as L-BFGS-B does. A line search that needs more than max_ls
 *     evaluations (default 20) returns to the previous iterate and restarts from −g with an
 *     empty memory; with an empty memory already, the run ends (MC_LBFGS_ABNORMAL). A trial
 *     point equal (bit for bit) to the last evaluated one is not evaluated again (scipy's driver
 *     caches it the same way) but counts as a trial;
 *   - stops (checked in this order after each iteration): iterations ≥ maxiter, evaluations >
 *     maxfun, ‖g‖∞ ≤ pgtol, (f_old − f)/max(|f_old|, |f|, 1) ≤ factr·ε_mach. ‖g‖∞ ≤ pgtol is
 *     also checked at the start point.
 */
#ifndef MC_OPTIM_H
#define MC_OPTIM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* f and its gradient at x (n values). Writes g[n] and *f; returns MC_OK or a negative code
 * (with mc_err's message), which stops the run and is returned by mc_lbfgs as it is. A
 * non-finite f or g stops the run with MC_ENUM. */
typedef int (*mc_lbfgs_fg)(void *ctx, const double *x, double *g, double *f);

/* One finished iteration, handed to the progress callback. Pointers are valid during the call. */
typedef struct mc_lbfgs_iter {
    long iter;          /* iterations done, counting this one (1, 2, …) */
    long nfev;          /* evaluations of fg so far, the start point included */
    int n;
    const double *x;    /* the new iterate */
    const double *g;    /* ∇f at x */
    double f;           /* f(x) */
    double f_old;       /* f at the previous iterate */
    double step;        /* the accepted step t along the direction d (x = x_old + t·d) */
    int ls_evals;       /* evaluations this line search took */
    double gnorm_inf;   /* ‖g‖∞ */
    int restarted;      /* 1: a failed line search emptied the memory before this iteration */
} mc_lbfgs_iter;

/* Return 0 to go on, > 0 to stop (MC_LBFGS_STOPPED), < 0 to stop with that error. */
typedef int (*mc_lbfgs_progress)(const mc_lbfgs_iter *it, void *ctx);

typedef struct mc_lbfgs_opts {
    int m;          /* memory (pairs kept). Default 10 */
    long maxiter;   /* iterations. Default 15000 (scipy's) */
    long maxfun;    /* evaluations: stop after the iteration that passes this many. Default 15000 */
    double factr;   /* relative reduction tolerance in units of ε_mach (2.22e-16). Default 1e7,
                     * i.e. 2.22e-9 (scipy's default) */
    double pgtol;   /* ‖g‖∞ tolerance. Default 1e-5 */
    double ftol;    /* sufficient decrease of the line search. Default 1e-3 */
    double gtol;    /* curvature condition of the line search. Default 0.9 */
    double xtol;    /* relative width of the line search's interval. Default 0.1 */
    int max_ls;     /* evaluations per line search. Default 20 */
    double *best_x; /* NULL, or n doubles: receives the x of the lowest f over ALL evaluations
                     * (line-search trials included), res->best_f its value */
    mc_lbfgs_progress progress; /* NULL, or called after every iteration */
    void *progress_ctx;
} mc_lbfgs_opts;
void mc_lbfgs_opts_default(mc_lbfgs_opts *o);

enum {
    MC_LBFGS_PGTOL = 1,    /* ‖g‖∞ ≤ pgtol */
    MC_LBFGS_FACTR = 2,    /* relative reduction of f ≤ factr·ε */
    MC_LBFGS_MAXITER = 3,  /* iterations reached maxiter */
    MC_LBFGS_MAXFUN = 4,   /* evaluations exceeded maxfun */
    MC_LBFGS_ABNORMAL = 5, /* the line search failed from −g with an empty memory */
    MC_LBFGS_STOPPED = 6,  /* the progress callback asked to stop */
    MC_LBFGS_ERROR = 7     /* fg or the progress callback failed (its code is returned) */
};
/* "norm of gradient <= pgtol", "relative reduction <= factr*eps", … */
const char *mc_lbfgs_reason_name(int reason);

typedef struct mc_lbfgs_result {
    int reason;       /* MC_LBFGS_* */
    long iters;       /* iterations done */
    long nfev;        /* evaluations of fg, the start point included */
    long nskip;       /* updates skipped (sᵀy too small) */
    long nrestart;    /* line-search restarts */
    double f;         /* f at the returned x */
    double gnorm_inf; /* ‖g‖∞ there */
    double best_f;    /* lowest f over all evaluations */
} mc_lbfgs_result;

/* Minimises from x[n] (in: start, out: the last accepted iterate). opts NULL = defaults; res may
 * be NULL. Returns MC_OK when the run ended for any reason but an error (see res->reason), or
 * the negative code of the failing callback (res->reason = MC_LBFGS_ERROR; x is then the last
 * accepted iterate), MC_EARG for bad options, MC_ENOMEM. */
int mc_lbfgs(int n, double *x, mc_lbfgs_fg fg, void *ctx, const mc_lbfgs_opts *opts,
             mc_lbfgs_result *res);

#ifdef __cplusplus
}
#endif
#endif
