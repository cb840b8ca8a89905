/* stats_tests.c — the statistics of the paper's evaluation (docs/study.md):
 * mean ± sample standard deviation over seeds, the paired two-sided t-test (Student's t
 * distribution through the regularized incomplete beta function, computed here by its
 * continued fraction), and the Benjamini–Hochberg adjustment of a family of p-values. */
#include "core/core.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The continued fraction of I_x(a, b) (converges fast for x < (a + 1) / (a + b + 2)),
 * evaluated with the modified Lentz method:
 *   I_x(a,b) = x^a y^b / (a B(a,b)) * 1 / (1 + d1 / (1 + d2 / (1 + ...)))
 *   d_{2m+1} = -(a+m)(a+b+m) x / ((a+2m)(a+2m+1)),  d_{2m} = m(b-m) x / ((a+2m-1)(a+2m)).
 * y = 1 - x is passed separately so that it keeps its precision when x is near 1. */
static double beta_cf(double a, double b, double x, double y) {
    const double tiny = 1e-300, eps = 1e-15;
    double lfront = a * log(x) + b * log(y) - (lgamma(a) + lgamma(b) - lgamma(a + b));
    double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
    if (fabs(d) < tiny) d = tiny;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m <= 10000; m++) {
        double m2 = 2.0 * m;
        double num = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2)); /* even step */
        d = 1.0 + num * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1.0 + num / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1.0 / d;
        h *= d * c;
        num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0)); /* odd step */
        d = 1.0 + num * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1.0 + num / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1.0 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < eps) break;
    }
    return exp(lfront) * h / a;
}

/* I_x(a, b) with y = 1 - x given separately */
static double betainc2(double a, double b, double x, double y) {
    if (!(a > 0) || !(b > 0) || !(x >= 0) || !(x <= 1) || isinf(a) || isinf(b)) return (double)NAN;
    if (x == 0) return 0;
    if (y == 0) return 1;
    if (x < (a + 1.0) / (a + b + 2.0)) return beta_cf(a, b, x, y);
    return 1.0 - beta_cf(b, a, y, x); /* symmetry: I_x(a,b) = 1 - I_{1-x}(b,a) */
}

double mc_betainc(double a, double b, double x) {
    return betainc2(a, b, x, 1.0 - x);
}

double mc_t_pvalue(double t, double df) {
    if (isnan(t) || !(df > 0)) return (double)NAN;
    if (isinf(t)) return 0;
    /* P(|T| >= |t|) = I_x(df/2, 1/2), x = df / (df + t^2); with r = t / sqrt(df):
     * x = 1 / (1 + r^2), 1 - x = r^2 / (1 + r^2), written so that neither overflows */
    double r = fabs(t) / sqrt(df);
    double x, y;
    if (r > 1) {
        double ir2 = 1.0 / (r * r); /* underflows to 0 for huge r: x = 0, p = 0 */
        x = ir2 / (1.0 + ir2);
        y = 1.0 / (1.0 + ir2);
    } else {
        x = 1.0 / (1.0 + r * r);
        y = r * r / (1.0 + r * r);
    }
    double p = betainc2(df / 2.0, 0.5, x, y);
    return p > 1 ? 1 : p;
}

void mc_mean_sd(const double *x, int n, double *mean, double *sd) {
    if (n <= 0) {
        *mean = (double)NAN;
        *sd = (double)NAN;
        return;
    }
    double s = 0;
    for (int i = 0; i < n; i++)
        s += x[i];
    double m = s / n;
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += (x[i] - m) * (x[i] - m);
    *mean = m;
    *sd = n > 1 ? sqrt(ss / (n - 1)) : (double)NAN;
}

int mc_ttest_paired(const double *a, const double *b, int n, mc_ttest *r) {
    memset(r, 0, sizeof *r);
    if (n < 2) return mc_err(MC_EARG, "paired t-test: %d pair%s (at least 2 are needed)", n, n == 1 ? "" : "s");
    double *d = mc_malloc((size_t)n * sizeof(double), "t-test differences");
    if (!d) return MC_ENOMEM;
    for (int i = 0; i < n; i++) {
        if (!isfinite(a[i]) || !isfinite(b[i])) {
            free(d);
            return mc_err(MC_EARG, "paired t-test: pair %d is not finite (%g, %g)", i + 1, a[i], b[i]);
        }
        d[i] = a[i] - b[i];
    }
    double sa, sb;
    mc_mean_sd(a, n, &r->mean_a, &sa);
    mc_mean_sd(b, n, &r->mean_b, &sb);
    mc_mean_sd(d, n, &r->mean_diff, &r->sd_diff);
    free(d);
    r->n = n;
    r->df = n - 1;
    if (r->sd_diff == 0) {
        /* every difference the same: no spread to test against */
        r->t = r->mean_diff == 0 ? 0 : r->mean_diff > 0 ? (double)INFINITY : -(double)INFINITY;
        r->p = r->mean_diff == 0 ? 1 : 0;
        return MC_OK;
    }
    r->t = r->mean_diff / (r->sd_diff / sqrt((double)n));
    r->p = mc_t_pvalue(r->t, r->df);
    return MC_OK;
}

typedef struct pidx {
    double p;
    int i;
} pidx;

static int cmp_pidx(const void *x, const void *y) {
    const pidx *a = (const pidx *)x, *b = (const pidx *)y;
    if (a->p < b->p) return -1;
    if (a->p > b->p) return 1;
    return a->i - b->i;
}

int mc_bh_adjust(const double *p, int n, double *adj) {
    if (n < 0) return mc_err(MC_EARG, "Benjamini-Hochberg: %d p-values", n);
    if (n == 0) return MC_OK;
    pidx *v = mc_malloc((size_t)n * sizeof(pidx), "Benjamini-Hochberg");
    if (!v) return MC_ENOMEM;
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (isnan(p[i])) continue;
        if (p[i] < 0 || p[i] > 1) {
            free(v);
            return mc_err(MC_EARG, "Benjamini-Hochberg: p-value %d is %g, outside [0, 1]", i + 1, p[i]);
        }
        v[m].p = p[i];
        v[m].i = i;
        m++;
    }
    qsort(v, (size_t)m, sizeof(pidx), cmp_pidx);
    for (int i = 0; i < n; i++)
        if (isnan(p[i])) adj[i] = (double)NAN; /* adj may alias p: the others are written below */
    /* step-up: from the largest p down, the running minimum of m p_(k) / k */
    double run = 1.0;
    for (int k = m; k >= 1; k--) {
        double q = v[k - 1].p * m / k;
        if (q < run) run = q;
        adj[v[k - 1].i] = run;
    }
    free(v);
    return MC_OK;
}
