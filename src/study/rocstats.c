/* rocstats.c — the statistics of one label's scores against its truth (docs/evaluation.md):
 *
 *  - DeLong's variance and covariance of the AUC of k sets of scores of the same cases
 *    (DeLong, DeLong & Clarke-Pearson 1988), computed with midranks as in Sun & Xu 2014 ("Fast
 *    implementation of DeLong's algorithm", IEEE Signal Processing Letters 21(11)):
 *      V10[i] = (Tz[i] - Tx[i]) / n            for the m positives (Tx: midrank among positives)
 *      V01[j] = 1 - (Tz[j] - Ty[j]) / m        for the n negatives (Ty: midrank among negatives)
 *      AUC = mean(V10),  S10, S01 = sample covariance matrices (divisor m-1, n-1) over models,
 *      S = S10 / m + S01 / n.  (Tz: midrank among all m+n scores.)
 *    The confidence interval is AUC ± z_{(1+level)/2} sqrt(S), clipped to [0, 1]; the test of two
 *    models is z = (A1 - A2) / sqrt(S11 + S22 - 2 S12), two-sided p = erfc(|z| / sqrt 2).
 *  - A seeded percentile bootstrap of the AUC (documented resampling, reproducible in numpy:
 *    tests/torch/rocstats_ref.py).
 *  - Average precision as scikit-learn defines it: sum over distinct thresholds, from the highest
 *    down, of (R_k - R_{k-1}) P_k, no interpolation.
 *  - Operating points: the threshold at the maximum of Youden's J = sensitivity + specificity - 1
 *    and the sensitivity at a chosen specificity.
 * A threshold t classifies score >= t as positive. Everything here is sequential (one label at a
 * time, in a fixed order), so results do not depend on the thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "mc_study.h"

/* ---- the normal distribution --------------------------------------------------------------- */
double mc_norm_pvalue(double z) {
    if (isnan(z)) return NAN;
    return erfc(fabs(z) / sqrt(2.0));
}

/* Acklam's rational approximation of the inverse normal CDF (relative error 1.15e-9), then one
 * Halley step on Phi(x) - p computed with erfc: about 1e-15. */
double mc_norm_quantile(double p) {
    if (!(p > 0 && p < 1)) return p == 0 ? -INFINITY : p == 1 ? INFINITY : NAN;
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                               1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                               6.680131188771972e+01,  -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                               -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    double x, q, r;
    if (p < 0.02425) {
        q = sqrt(-2 * log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else if (p > 1 - 0.02425) {
        q = sqrt(-2 * log(1 - p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else {
        q = p - 0.5;
        r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }
    double e = 0.5 * erfc(-x / sqrt(2.0)) - p;
    double u = e * sqrt(2 * M_PI) * exp(x * x / 2);
    return x - u / (1 + x * u / 2);
}

/* ---- midranks ------------------------------------------------------------------------------ */
typedef struct sv {
    double v;
    int i;
} sv;

static int cmp_sv(const void *a, const void *b) {
    double x = ((const sv *)a)->v, y = ((const sv *)b)->v;
    if (x != y) return (x > y) - (x < y);
    return ((const sv *)a)->i - ((const sv *)b)->i;
}

/* rank[i] = the midrank (1-based, ties averaged) of v[i] among v[0..n-1]; tmp holds n items */
static void midranks(const double *v, int n, double *rank, sv *tmp) {
    for (int i = 0; i < n; i++) tmp[i] = (sv){v[i], i};
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_sv);
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && tmp[j].v == tmp[i].v) j++;
        double r = (i + 1 + j) / 2.0;
        for (int k = i; k < j; k++) rank[tmp[k].i] = r;
        i = j;
    }
}

static int check_cases(const float *y, int n, const char *what, int *npos) {
    int p = 0;
    for (int i = 0; i < n; i++) p += y[i] > 0.5f;
    *npos = p;
    if (p == 0 || p == n) return mc_err(MC_EARG, "%s: %d cases, %s", what, n, p ? "all positive" : "none positive");
    return MC_OK;
}

static int check_scores(const float *s, int n, const char *what) {
    for (int i = 0; i < n; i++)
        if (!isfinite(s[i])) return mc_err(MC_EARG, "%s: score %d of %d is %g", what, i + 1, n, (double)s[i]);
    return MC_OK;
}

int mc_delong(const float *const *score, int k, const float *y, int n, double *auc, double *cov) {
    int m;
    if (k < 1 || n < 2) return mc_err(MC_EARG, "DeLong: %d score sets of %d cases", k, n);
    MC_TRY(check_cases(y, n, "DeLong", &m));
    for (int r = 0; r < k; r++) MC_TRY(check_scores(score[r], n, "DeLong"));
    int nn = n - m;
    double *x = mc_malloc(sizeof(double) * (size_t)n * 4, "DeLong");
    double *v10 = mc_malloc(sizeof(double) * (size_t)m * k, "DeLong");
    double *v01 = mc_malloc(sizeof(double) * (size_t)nn * k, "DeLong");
    sv *tmp = mc_malloc(sizeof(sv) * (size_t)n, "DeLong");
    if (!x || !v10 || !v01 || !tmp) {
        free(x), free(v10), free(v01), free(tmp);
        return mc_err_context(MC_ENOMEM, "DeLong over %d cases", n);
    }
    double *xp = x + n, *tz = x + 2 * (size_t)n, *tpn = x + 3 * (size_t)n;
    for (int r = 0; r < k; r++) {
        /* positives first, then negatives, in input order */
        int a = 0, b = m;
        for (int i = 0; i < n; i++) {
            if (y[i] > 0.5f)
                xp[a++] = score[r][i];
            else
                xp[b++] = score[r][i];
        }
        midranks(xp, n, tz, tmp);
        midranks(xp, m, tpn, tmp);            /* Tx */
        midranks(xp + m, nn, tpn + m, tmp);   /* Ty */
        double s = 0;
        for (int i = 0; i < m; i++) {
            v10[(size_t)r * m + i] = (tz[i] - tpn[i]) / nn;
            s += v10[(size_t)r * m + i];
        }
        for (int j = 0; j < nn; j++) v01[(size_t)r * nn + j] = 1.0 - (tz[m + j] - tpn[m + j]) / m;
        auc[r] = s / m;
    }
    for (int r = 0; r < k; r++)
        for (int q = r; q < k; q++) {
            double s10 = 0, s01 = 0;
            for (int i = 0; i < m; i++) s10 += (v10[(size_t)r * m + i] - auc[r]) * (v10[(size_t)q * m + i] - auc[q]);
            for (int j = 0; j < nn; j++)
                s01 += (v01[(size_t)r * nn + j] - auc[r]) * (v01[(size_t)q * nn + j] - auc[q]);
            /* one positive (or negative) leaves its sample covariance undefined */
            double c = (m > 1 ? s10 / (m - 1) / m : (double)NAN) + (nn > 1 ? s01 / (nn - 1) / nn : (double)NAN);
            cov[r * k + q] = cov[q * k + r] = c;
        }
    free(x), free(v10), free(v01), free(tmp);
    return MC_OK;
}

int mc_delong_test(const float *a, const float *b, const float *y, int n, mc_delong_cmp *t) {
    const float *s[2] = {a, b};
    double auc[2], cov[4];
    MC_TRY(mc_delong(s, 2, y, n, auc, cov));
    t->npos = 0;
    for (int i = 0; i < n; i++) t->npos += y[i] > 0.5f;
    t->nneg = n - t->npos;
    t->auc_a = auc[0];
    t->auc_b = auc[1];
    t->var_a = cov[0];
    t->var_b = cov[3];
    t->cov = cov[1];
    double v = cov[0] + cov[3] - 2 * cov[1], d = auc[0] - auc[1];
    t->se_diff = v > 0 ? sqrt(v) : 0;
    if (isnan(v))
        t->z = NAN;
    else if (!(v > 0)) /* identical rankings: no variance of the difference */
        t->z = d == 0 ? 0 : d > 0 ? INFINITY : -INFINITY;
    else
        t->z = d / sqrt(v);
    t->p = mc_norm_pvalue(t->z);
    return MC_OK;
}

/* ---- bootstrap ----------------------------------------------------------------------------- */
typedef struct it {
    float s;
    int pos; /* 1 positive */
    int i;   /* input position */
} it;

static int cmp_it(const void *a, const void *b) {
    float x = ((const it *)a)->s, y = ((const it *)b)->s;
    if (x != y) return (x > y) - (x < y);
    return ((const it *)a)->i - ((const it *)b)->i;
}

/* R/numpy's default ("type 7") percentile of sorted x[n] at q in [0, 1] */
static double percentile(const double *x, int n, double q) {
    double h = (n - 1) * q;
    int lo = (int)floor(h);
    if (lo >= n - 1) return x[n - 1];
    return x[lo] + (h - lo) * (x[lo + 1] - x[lo]);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int mc_auc_bootstrap(const float *score, const float *y, int n, const mc_boot_opts *o, mc_boot_ci *ci) {
    int m;
    ci->lo = ci->hi = NAN;
    ci->used = ci->skipped = 0;
    if (o->reps < 1 || !(o->level > 0 && o->level < 1))
        return mc_err(MC_EARG, "bootstrap: %d replicates at level %g", o->reps, o->level);
    MC_TRY(check_cases(y, n, "bootstrap", &m));
    MC_TRY(check_scores(score, n, "bootstrap"));
    int nn = n - m;
    it *srt = mc_malloc(sizeof(it) * (size_t)n, "bootstrap");
    int *grp = mc_malloc(sizeof(int) * (size_t)n * 3, "bootstrap"); /* group of input i; pools */
    double *w = mc_malloc(sizeof(double) * (size_t)n * 2, "bootstrap");
    double *aucs = mc_malloc(sizeof(double) * (size_t)o->reps, "bootstrap");
    if (!srt || !grp || !w || !aucs) {
        free(srt), free(grp), free(w), free(aucs);
        return mc_err_context(MC_ENOMEM, "bootstrap of %d cases", n);
    }
    int *posl = grp + n, *negl = grp + n + m; /* positives' and negatives' input positions */
    int a = 0, b = 0;
    for (int i = 0; i < n; i++) {
        srt[i] = (it){score[i], y[i] > 0.5f, i};
        if (y[i] > 0.5f)
            posl[a++] = i;
        else
            negl[b++] = i;
    }
    qsort(srt, (size_t)n, sizeof *srt, cmp_it);
    int ng = 0;
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && srt[j].s == srt[i].s) grp[srt[j++].i] = ng;
        ng++;
        i = j;
    }
    double *pw = w, *nw = w + n; /* per tie group: positive and negative weight */
    mc_rng rng;
    mc_rng_seed(&rng, o->seed);
    int used = 0;
    for (int r = 0; r < o->reps; r++) {
        memset(w, 0, sizeof(double) * (size_t)n * 2);
        double P = 0, N = 0;
        if (o->stratified) {
            for (int t = 0; t < m; t++) pw[grp[posl[(int)(mc_rng_uniform(&rng) * m)]]] += 1;
            for (int t = 0; t < nn; t++) nw[grp[negl[(int)(mc_rng_uniform(&rng) * nn)]]] += 1;
            P = m;
            N = nn;
        } else {
            for (int t = 0; t < n; t++) {
                int i = (int)(mc_rng_uniform(&rng) * n);
                if (y[i] > 0.5f) {
                    pw[grp[i]] += 1;
                    P += 1;
                } else {
                    nw[grp[i]] += 1;
                    N += 1;
                }
            }
            if (P == 0 || N == 0) {
                ci->skipped++;
                continue;
            }
        }
        double below = 0, s = 0;
        for (int g = 0; g < ng; g++) {
            s += pw[g] * (below + 0.5 * nw[g]);
            below += nw[g];
        }
        aucs[used++] = s / (P * N);
    }
    if (used > 0) {
        qsort(aucs, (size_t)used, sizeof *aucs, cmp_d);
        ci->lo = percentile(aucs, used, (1 - o->level) / 2);
        ci->hi = percentile(aucs, used, (1 + o->level) / 2);
    }
    ci->used = used;
    free(srt), free(grp), free(w), free(aucs);
    return MC_OK;
}

/* ---- average precision and operating points ------------------------------------------------- */
int mc_operating_points(const float *score, const float *y, int n, double spec_target, mc_oppoints *o) {
    int m;
    MC_TRY(check_cases(y, n, "operating points", &m));
    MC_TRY(check_scores(score, n, "operating points"));
    if (!(spec_target >= 0 && spec_target <= 1))
        return mc_err(MC_EARG, "operating points: specificity %g is not in [0, 1]", spec_target);
    int nn = n - m;
    it *srt = mc_malloc(sizeof(it) * (size_t)n, "operating points");
    if (!srt) return mc_err_context(MC_ENOMEM, "operating points of %d cases", n);
    for (int i = 0; i < n; i++) srt[i] = (it){score[i], y[i] > 0.5f, i};
    qsort(srt, (size_t)n, sizeof *srt, cmp_it);
    double tp = 0, fp = 0, ap = 0, prev_rec = 0;
    /* threshold +inf: nothing positive, J = 0 */
    o->youden_j = 0;
    o->youden_threshold = INFINITY;
    o->youden_sens = 0;
    o->youden_spec = 1;
    o->spec_target = spec_target;
    o->sens_at_spec = 0;
    o->spec_at_spec = 1;
    o->threshold_at_spec = INFINITY;
    for (int i = n - 1; i >= 0;) {
        int j = i;
        while (j >= 0 && srt[j].s == srt[i].s) {
            if (srt[j].pos)
                tp++;
            else
                fp++;
            j--;
        }
        double sens = tp / m, spec = 1 - fp / nn, rec = sens;
        ap += (rec - prev_rec) * (tp / (tp + fp));
        prev_rec = rec;
        double J = tp / m - fp / nn;
        if (J > o->youden_j) { /* strictly greater: the highest threshold among equal maxima */
            o->youden_j = J;
            o->youden_threshold = srt[i].s;
            o->youden_sens = sens;
            o->youden_spec = spec;
        }
        /* (nn - fp) >= target nn, with 1e-12 of slack so that 0.9 of 10 negatives admits 9 */
        if ((nn - fp) >= spec_target * nn - 1e-12 * nn) {
            o->sens_at_spec = sens;
            o->spec_at_spec = spec;
            o->threshold_at_spec = srt[i].s;
        }
        i = j;
    }
    o->ap = ap;
    free(srt);
    return MC_OK;
}

/* ---- one label of a split ------------------------------------------------------------------ */
int mc_auc_stats_label(const float *score, const float *label, const float *mask, int n, int stride, int col,
                   const mc_stats_opts *o, mc_auc_stats *st) {
    memset(st, 0, sizeof *st);
    st->auc = st->se = st->delong_lo = st->delong_hi = st->ap = NAN;
    st->boot.lo = st->boot.hi = NAN;
    st->pts.youden_threshold = st->pts.threshold_at_spec = NAN;
    st->pts.youden_sens = st->pts.youden_spec = st->pts.sens_at_spec = st->pts.spec_at_spec = NAN;
    st->pts.youden_j = NAN;
    st->pts.spec_target = o->spec_target;
    float *s = mc_malloc(sizeof(float) * (size_t)(n ? n : 1) * 2, "AUC statistics");
    if (!s) return mc_err_context(MC_ENOMEM, "AUC statistics of column %d over %d rows", col, n);
    float *yy = s + n;
    int k = 0, p = 0;
    for (int i = 0; i < n; i++) {
        size_t off = (size_t)i * stride + col;
        if (mask && mask[off] == 0.0f) continue;
        s[k] = score[off];
        yy[k] = label[off];
        p += yy[k] > 0.5f;
        k++;
    }
    st->npos = p;
    st->nneg = k - p;
    int rc = MC_OK;
    if (p > 0 && p < k) { /* both classes; otherwise everything stays NaN */
        const float *sp = s;
        double cov;
        rc = mc_delong(&sp, 1, yy, k, &st->auc, &cov);
        if (rc == MC_OK) {
            st->se = sqrt(cov);
            double z = mc_norm_quantile((1 + o->level) / 2);
            st->delong_lo = fmax(0, st->auc - z * st->se);
            st->delong_hi = fmin(1, st->auc + z * st->se);
        }
        if (rc == MC_OK && o->boot.reps > 0) {
            mc_boot_opts b = o->boot;
            b.level = o->level;
            rc = mc_auc_bootstrap(s, yy, k, &b, &st->boot);
        }
        if (rc == MC_OK) rc = mc_operating_points(s, yy, k, o->spec_target, &st->pts);
        if (rc == MC_OK) st->ap = st->pts.ap;
    }
    free(s);
    return rc;
}

int mc_delong_test_label(const float *a, const float *b, const float *label, const float *mask, int n, int stride,
                         int col, mc_delong_cmp *t) {
    t->auc_a = t->auc_b = t->var_a = t->var_b = t->cov = t->se_diff = t->z = t->p = NAN;
    t->npos = t->nneg = 0;
    float *s = mc_malloc(sizeof(float) * (size_t)(n ? n : 1) * 3, "DeLong test");
    if (!s) return mc_err_context(MC_ENOMEM, "DeLong test of column %d over %d rows", col, n);
    float *s2 = s + n, *yy = s + 2 * (size_t)n;
    int k = 0, p = 0;
    for (int i = 0; i < n; i++) {
        size_t off = (size_t)i * stride + col;
        if (mask && mask[off] == 0.0f) continue;
        s[k] = a[off];
        s2[k] = b[off];
        yy[k] = label[off];
        p += yy[k] > 0.5f;
        k++;
    }
    int rc = MC_OK;
    if (p > 0 && p < k) rc = mc_delong_test(s, s2, yy, k, t);
    t->npos = p;
    t->nneg = k - p;
    free(s);
    return rc;
}
