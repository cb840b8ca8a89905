/* test_rocstats.c — the statistics of eval (src/study/rocstats.c, docs/evaluation.md) against
 * tests/torch/rocstats_ref.py, a numpy reference written from the formulas: DeLong's AUC and
 * covariance from the O(mn) pair kernel (not midranks), the z-test and its p-value, average
 * precision (sklearn's definition), Youden's threshold, the sensitivity at a specificity, the
 * normal quantile (scipy), and the percentile bootstrap with medcolor's documented resampling
 * re-implemented in Python (same RNG, same draws). Scores have ties (rounded to 0-3 decimals).
 * Tolerance 1e-9 absolute everywhere (both sides compute in double from the same float32
 * scores; the differences are summation order, ~1e-15). Then properties the reference cannot
 * show: the coverage of both 95% intervals on simulated binormal data of known AUC, the
 * bootstrap's determinism per seed and its dependence on the seed, and the masked wrapper. */
#include "test.h"

static int close_(double a, double b, double tol) {
    if (isinf(a) || isinf(b)) return a == b;
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return fabs(a - b) <= tol;
}

#define MAXN 512
#define MAXK 3

static void reference(void) {
    FILE *p = popen("/usr/bin/python3 tests/torch/rocstats_ref.py", "r");
    REQUIRE(p, "cannot run tests/torch/rocstats_ref.py");
    static char line[1 << 16];
    static float s[MAXK][MAXN], y[MAXN];
    const float *sp[MAXK] = {s[0], s[1], s[2]};
    double auc[MAXK], cov[MAXK * MAXK];
    mc_delong_cmp t;
    mc_oppoints pts;
    int k = 0, n = 0, cid = 0, checks = 0;
    const double tol = 1e-9;
    while (fgets(line, sizeof line, p)) {
        char *e;
        if (!strncmp(line, "case ", 5)) {
            REQUIRE(sscanf(line + 5, "%d %d %d", &cid, &k, &n) == 3 && k <= MAXK && n <= MAXN, "bad line %s", line);
        } else if (!strncmp(line, "y ", 2)) {
            e = line + 2;
            for (int i = 0; i < n; i++) y[i] = (float)strtod(e, &e);
        } else if (!strncmp(line, "s ", 2)) {
            int r = (int)strtol(line + 2, &e, 10);
            for (int i = 0; i < n; i++) s[r][i] = (float)strtod(e, &e);
            if (r == k - 1) {
                REQUIRE_OK(mc_delong(sp, k, y, n, auc, cov));
                if (k >= 2) REQUIRE_OK(mc_delong_test(s[0], s[1], y, n, &t));
                REQUIRE_OK(mc_operating_points(s[0], y, n, 0.9, &pts));
            }
        } else if (!strncmp(line, "auc ", 4)) {
            int r;
            double v;
            sscanf(line + 4, "%d %lf", &r, &v);
            CHECK(close_(auc[r], v, tol), "case %d: AUC %d %.17g, numpy %.17g", cid, r, auc[r], v);
            checks++;
        } else if (!strncmp(line, "cov ", 4)) {
            int r, q;
            double v;
            sscanf(line + 4, "%d %d %lf", &r, &q, &v);
            CHECK(close_(cov[r * k + q], v, tol), "case %d: cov %d %d %.17g, numpy %.17g", cid, r, q, cov[r * k + q], v);
            checks++;
        } else if (!strncmp(line, "z ", 2)) {
            double v = strtod(line + 2, NULL);
            CHECK(close_(t.z, v, tol), "case %d: z %.17g, numpy %.17g", cid, t.z, v);
            checks++;
        } else if (!strncmp(line, "p ", 2)) {
            double v = strtod(line + 2, NULL);
            CHECK(close_(t.p, v, tol), "case %d: p %.17g, numpy %.17g", cid, t.p, v);
            checks++;
        } else if (!strncmp(line, "ap ", 3)) {
            double v = strtod(line + 3, NULL);
            CHECK(close_(pts.ap, v, tol), "case %d: AP %.17g, numpy %.17g", cid, pts.ap, v);
            checks++;
        } else if (!strncmp(line, "youden ", 7)) {
            double th, se, sp2;
            sscanf(line + 7, "%lf %lf %lf", &th, &se, &sp2);
            CHECK(close_(pts.youden_threshold, th, 0) && close_(pts.youden_sens, se, tol) &&
                      close_(pts.youden_spec, sp2, tol),
                  "case %d: Youden thr %.9g sens %.9g spec %.9g, numpy %.9g %.9g %.9g", cid, pts.youden_threshold,
                  pts.youden_sens, pts.youden_spec, th, se, sp2);
            checks++;
        } else if (!strncmp(line, "sas ", 4)) {
            double tg, th, se, sp2;
            mc_oppoints q;
            sscanf(line + 4, "%lf %lf %lf %lf", &tg, &th, &se, &sp2);
            REQUIRE_OK(mc_operating_points(s[0], y, n, tg, &q));
            CHECK(close_(q.threshold_at_spec, th, 0) && close_(q.sens_at_spec, se, tol) &&
                      close_(q.spec_at_spec, sp2, tol),
                  "case %d: at spec %g: thr %.9g sens %.9g spec %.9g, numpy %.9g %.9g %.9g", cid, tg,
                  q.threshold_at_spec, q.sens_at_spec, q.spec_at_spec, th, se, sp2);
            checks++;
        } else if (!strncmp(line, "boot ", 5)) {
            int reps, strat, used;
            unsigned long long seed;
            double level, lo, hi;
            sscanf(line + 5, "%d %llu %d %lf %lf %lf %d", &reps, &seed, &strat, &level, &lo, &hi, &used);
            mc_boot_opts o = {.reps = reps, .seed = seed, .stratified = strat, .level = level};
            mc_boot_ci ci;
            REQUIRE_OK(mc_auc_bootstrap(s[0], y, n, &o, &ci));
            CHECK(close_(ci.lo, lo, tol) && close_(ci.hi, hi, tol) && ci.used == used,
                  "case %d: bootstrap %d seed %llu strat %d: [%.17g, %.17g] %d used, numpy [%.17g, %.17g] %d", cid,
                  reps, seed, strat, ci.lo, ci.hi, ci.used, lo, hi, used);
            checks++;
        } else if (!strncmp(line, "q ", 2)) {
            double pr, v;
            sscanf(line + 2, "%lf %lf", &pr, &v);
            CHECK(close_(mc_norm_quantile(pr), v, 1e-12 * fmax(1, fabs(v))), "quantile %g: %.17g, scipy %.17g", pr,
                  mc_norm_quantile(pr), v);
            checks++;
        }
    }
    REQUIRE(pclose(p) == 0, "rocstats_ref.py failed");
    CHECK(checks >= 90, "only %d reference values", checks);
    printf("  %d reference values (6 cases) agree within %g\n", checks, tol);
}

static unsigned long long lcg_ = 99;
static double unif(void) {
    lcg_ = lcg_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(lcg_ >> 11) * 0x1.0p-53;
}
static double gauss(void) {
    double u = unif(), v = unif();
    return sqrt(-2 * log(u > 1e-300 ? u : 1e-300)) * cos(2 * M_PI * v);
}

/* binormal data: negatives N(0,1), positives N(d,1): AUC = Phi(d / sqrt 2). 300 data sets of
 * 60 positives and 90 negatives: a 95% interval's coverage has a binomial sd of 1.3%; the bounds
 * [0.90, 0.99] are 4 sd below and 3 above (a wrong variance, e.g. halved or doubled, gives ~83% or
 * ~99.5%). */
static void coverage(void) {
    enum { SETS = 300, NP = 60, NN = 90 };
    double d = 1.0, truth = 0.5 * erfc(-d / 2.0); /* Phi(d / sqrt2) */
    float s[NP + NN], y[NP + NN];
    int cov_dl = 0, cov_bs = 0, cov_bs_ns = 0;
    mc_stats_opts o = {.level = 0.95, .boot = {.reps = 300, .seed = 1, .stratified = 1}, .spec_target = 0.9};
    for (int r = 0; r < SETS; r++) {
        for (int i = 0; i < NP + NN; i++) {
            y[i] = i < NP;
            s[i] = (float)(gauss() + (i < NP ? d : 0));
        }
        mc_auc_stats st;
        o.boot.seed = (uint64_t)r + 1;
        o.boot.stratified = 1;
        REQUIRE_OK(mc_auc_stats_label(s, y, NULL, NP + NN, 1, 0, &o, &st));
        cov_dl += st.delong_lo <= truth && truth <= st.delong_hi;
        cov_bs += st.boot.lo <= truth && truth <= st.boot.hi;
        mc_boot_opts b = {.reps = 300, .seed = (uint64_t)r + 1000, .stratified = 0, .level = 0.95};
        mc_boot_ci ci;
        REQUIRE_OK(mc_auc_bootstrap(s, y, NP + NN, &b, &ci));
        cov_bs_ns += ci.lo <= truth && truth <= ci.hi;
    }
    double c1 = (double)cov_dl / SETS, c2 = (double)cov_bs / SETS, c3 = (double)cov_bs_ns / SETS;
    printf("  coverage of 95%% intervals over %d binormal sets (AUC %.4f): DeLong %.3f, bootstrap stratified %.3f, "
           "not stratified %.3f\n", SETS, truth, c1, c2, c3);
    CHECK(c1 >= 0.90 && c1 <= 0.99, "DeLong coverage %.3f", c1);
    CHECK(c2 >= 0.90 && c2 <= 0.99, "stratified bootstrap coverage %.3f", c2);
    CHECK(c3 >= 0.90 && c3 <= 0.99, "bootstrap coverage %.3f", c3);
}

static void determinism(void) {
    enum { N = 80 };
    float s[N], y[N];
    for (int i = 0; i < N; i++) {
        y[i] = i % 3 == 0;
        s[i] = (float)(round((gauss() + (double)y[i]) * 4) / 4); /* ties */
    }
    mc_boot_opts o = {.reps = 500, .seed = 42, .stratified = 1, .level = 0.95};
    mc_boot_ci a, b, c;
    REQUIRE_OK(mc_auc_bootstrap(s, y, N, &o, &a));
    REQUIRE_OK(mc_auc_bootstrap(s, y, N, &o, &b));
    CHECK(a.lo == b.lo && a.hi == b.hi, "the same seed gives [%.17g, %.17g] then [%.17g, %.17g]", a.lo, a.hi, b.lo,
          b.hi);
    o.seed = 43;
    REQUIRE_OK(mc_auc_bootstrap(s, y, N, &o, &c));
    CHECK(c.lo != a.lo || c.hi != a.hi, "seeds 42 and 43 give the same interval [%.17g, %.17g]", a.lo, a.hi);
    /* bad options and inputs are errors naming the value */
    o.reps = 0;
    CHECK(mc_auc_bootstrap(s, y, N, &o, &c) == MC_EARG, "0 replicates accepted");
    o.reps = 10;
    o.level = 1;
    CHECK(mc_auc_bootstrap(s, y, N, &o, &c) == MC_EARG, "level 1 accepted");
    float y0[N] = {0};
    double auc, cv;
    const float *sp = s;
    CHECK(mc_delong(&sp, 1, y0, N, &auc, &cv) == MC_EARG && strstr(mc_errmsg(), "none positive"),
          "no positive: %s", mc_errmsg());
    s[5] = NAN;
    CHECK(mc_delong(&sp, 1, y, N, &auc, &cv) == MC_EARG && strstr(mc_errmsg(), "score 6 of 80 is nan"),
          "NaN score: %s", mc_errmsg());
}

/* the masked, strided wrapper equals the statistics of the gathered column; a column without
 * both classes gives NaN, not an error */
static void masked(void) {
    enum { N = 40, L = 2 };
    float s[N * L], y[N * L], m[N * L], gs[N], gy[N];
    int k = 0;
    for (int i = 0; i < N; i++) {
        s[i * L] = (float)(round(gauss() * 3) / 3);
        y[i * L] = (i * 7) % 5 < 2;
        m[i * L] = i % 4 != 1;
        s[i * L + 1] = 0.5f;
        y[i * L + 1] = 1;
        m[i * L + 1] = 1;
        if (m[i * L]) {
            gs[k] = s[i * L];
            gy[k++] = y[i * L];
        }
    }
    mc_stats_opts o = {.level = 0.9, .boot = {.reps = 100, .seed = 3, .stratified = 0}, .spec_target = 0.8};
    mc_auc_stats st, st1;
    REQUIRE_OK(mc_auc_stats_label(s, y, m, N, L, 0, &o, &st));
    double auc, cv;
    const float *gp = gs;
    REQUIRE_OK(mc_delong(&gp, 1, gy, k, &auc, &cv));
    mc_boot_opts b = o.boot;
    b.level = 0.9;
    mc_boot_ci ci;
    REQUIRE_OK(mc_auc_bootstrap(gs, gy, k, &b, &ci));
    double z = mc_norm_quantile(0.95);
    CHECK(st.auc == auc && st.se == sqrt(cv) && st.delong_lo == fmax(0, auc - z * sqrt(cv)) && st.boot.lo == ci.lo &&
              st.boot.hi == ci.hi && st.npos + st.nneg == k,
          "masked column: AUC %.17g vs %.17g", st.auc, auc);
    double a2;
    REQUIRE_OK(mc_auc(s, y, m, N, L, 0, &a2));
    CHECK(fabs(a2 - st.auc) < 1e-12, "DeLong's AUC %.17g, mc_auc %.17g", st.auc, a2);
    REQUIRE_OK(mc_auc_stats_label(s, y, m, N, L, 1, &o, &st1));
    CHECK(isnan(st1.auc) && isnan(st1.delong_lo) && isnan(st1.boot.lo) && isnan(st1.ap) && st1.nneg == 0,
          "a column of positives only: AUC %g", st1.auc);
    mc_delong_cmp t;
    REQUIRE_OK(mc_delong_test_label(s, s, y, m, N, L, 0, &t));
    CHECK(t.z == 0 && t.p == 1, "a model against itself: z %g p %g", t.z, t.p);
}

int main(void) {
    reference();
    coverage();
    determinism();
    masked();
    return mc_test_done("test_rocstats");
}
