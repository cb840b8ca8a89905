/* test_schedule.c — the one-cycle schedule against PyTorch's OneCycleLR (every step of four
 * schedules, lr and momentum), the LR finder's learning rates and suggestion against fastai's
 * formula / numpy.gradient (tests/torch/schedule_ref.py), and AUC against an independent O(n^2)
 * pair count with ties, hand-checked values and the ROC curve's end points; running out of
 * memory in an AUC is an error, not the NaN of "a class is absent".
 * Tolerances: schedules 1e-12 relative (both sides compute in double), AUC 1e-12. */
#include <sys/mman.h>
#include <sys/resource.h>
#include "test.h"

static unsigned seed_ = 1;

/* mc_auc's value; the call itself must succeed */
static double auc_of(const float *s, const float *y, const float *m, int n, int stride, int col) {
    double a;
    REQUIRE_OK(mc_auc(s, y, m, n, stride, col, &a));
    return a;
}
static double urand(void) {
    seed_ = seed_ * 1103515245u + 12345u;
    return (double)((seed_ >> 8) & 0xffffff) / 16777216.0;
}

/* independent AUC: fraction of (positive, negative) pairs ordered right, ties 1/2 */
static double auc_pairs(const float *s, const float *y, const float *m, int n) {
    double good = 0, pairs = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            if ((m && (!m[i] || !m[j])) || !(y[i] > 0.5f) || (y[j] > 0.5f)) continue;
            pairs++;
            good += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
        }
    return pairs ? good / pairs : (double)NAN;
}

/* Out of memory in an AUC: the address space is capped (RLIMIT_AS) just above what the process
 * uses, then AUCs over 16M rows (their sort buffer needs 128 MB) are asked for. The scores and
 * labels are untouched zero pages (reserved before the cap): every label 0, so an AUC that did
 * get its memory would be the NaN of a missing class — exactly what must not be returned. */
static void auc_out_of_memory(void) {
#if defined(__SANITIZE_ADDRESS__)
    printf("  AUC out of memory: skipped under AddressSanitizer (its allocator aborts instead of returning NULL)\n");
    return;
#endif
    const int n = 1 << 24;
    size_t bytes = (size_t)n * sizeof(float);
    float *s = mmap(NULL, bytes, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    float *y = mmap(NULL, bytes, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    REQUIRE(s != MAP_FAILED && y != MAP_FAILED, "mmap");
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    REQUIRE(f && fscanf(f, "%ld", &pages) == 1, "/proc/self/statm");
    fclose(f);
    struct rlimit old, lim;
    REQUIRE(getrlimit(RLIMIT_AS, &old) == 0, "getrlimit");
    lim.rlim_cur = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (32u << 20); /* 32 MB to spare */
    lim.rlim_max = old.rlim_max;
    if (old.rlim_cur != RLIM_INFINITY && old.rlim_cur < lim.rlim_cur) lim.rlim_cur = old.rlim_cur;
    REQUIRE(setrlimit(RLIMIT_AS, &lim) == 0, "setrlimit");
    double a = 0.5, auc[1] = {0.5}, mean = 0.5, *fpr, *tpr, *thr;
    int rc1 = mc_auc(s, y, NULL, n, 1, 0, &a);
    char msg1[256];
    snprintf(msg1, sizeof msg1, "%s", mc_errmsg());
    mc_dataset ds = {.n = n, .nlabels = 1, .y = y};
    int rc2 = mc_mean_auc(&ds, s, auc, &mean);
    int rc3 = mc_roc(s, y, NULL, n, 1, 0, &fpr, &tpr, &thr);
    REQUIRE(setrlimit(RLIMIT_AS, &old) == 0, "setrlimit back");
    CHECK(rc1 == MC_ENOMEM && strstr(msg1, "out of memory") && strstr(msg1, "AUC"),
          "mc_auc out of memory: rc %d (expected MC_ENOMEM), value %g, message '%s'", rc1, a, msg1);
    CHECK(rc2 == MC_ENOMEM, "mc_mean_auc out of memory: rc %d (expected MC_ENOMEM), AUC %g, mean %g", rc2, auc[0],
          mean);
    CHECK(rc3 == MC_ENOMEM, "mc_roc out of memory: rc %d (expected MC_ENOMEM)", rc3);
    if (rc3 >= 0) {
        free(fpr);
        free(tpr);
        free(thr);
    }
    /* the same call with its memory: all labels 0, a class is absent -> MC_OK and NaN */
    int rc4 = mc_auc(s, y, NULL, 1000, 1, 0, &a);
    CHECK(rc4 == MC_OK && isnan(a), "one class only, enough memory: rc %d, AUC %g", rc4, a);
    printf("  AUC out of memory -> %s (rc %d); a missing class -> NaN with rc 0\n", msg1, rc1);
    munmap(s, bytes);
    munmap(y, bytes);
}

int main(void) {
    auc_out_of_memory();
    FILE *p = popen("/usr/bin/python3 tests/torch/schedule_ref.py", "r");
    REQUIRE(p, "cannot run tests/torch/schedule_ref.py");
    char line[512];
    int n_oc = 0, n_lr = 0, n_curve = 0, suggest = -1;
    double worst = 0, lrs[100], smooth[100];
    while (fgets(line, sizeof line, p)) {
        long total, step;
        double max_lr, lr, mom;
        int N, i, s0, s1, idx;
        double a, b, c;
        if (sscanf(line, "onecycle %ld %lf %ld %lf %lf", &total, &max_lr, &step, &lr, &mom) == 5) {
            mc_onecycle s;
            mc_onecycle_default(&s, total, max_lr);
            double ml, mm;
            mc_onecycle_at(&s, step, &ml, &mm);
            double e = fmax(fabs(ml - lr) / lr, fabs(mm - mom) / mom);
            if (e > worst) worst = e;
            CHECK(e <= 1e-12, "onecycle T=%ld step %ld: lr %.17g vs %.17g, momentum %.17g vs %.17g", total, step, ml,
                  lr, mm, mom);
            n_oc++;
        } else if (sscanf(line, "lrfind %d %d %lf", &N, &i, &lr) == 3) {
            double mine = mc_lrfind_lr(i, N, 1e-7, 10);
            CHECK(fabs(mine - lr) <= 1e-12 * lr, "lrfind %d: %.17g vs %.17g", i, mine, lr);
            n_lr++;
        } else if (sscanf(line, "curve %d %lf %lf %lf", &i, &a, &b, &c) == 4 && i < 100) {
            lrs[i] = a;
            smooth[i] = c;
            n_curve++;
        } else if (sscanf(line, "suggest %d %d %d %d", &N, &s0, &s1, &idx) == 4) {
            suggest = idx;
        }
    }
    REQUIRE(pclose(p) == 0, "schedule_ref.py failed");
    CHECK(n_oc == 100 + 37 + 1000 + 10, "%d one-cycle references", n_oc);
    CHECK(n_lr == 100 && n_curve == 100 && suggest >= 0, "lrfind references: %d %d %d", n_lr, n_curve, suggest);
    double steep, minlr;
    int k = mc_lrfind_suggest(lrs, smooth, 100, 10, 5, &steep, &minlr);
    CHECK(k == suggest, "LR finder suggestion index %d, numpy.gradient says %d", k, suggest);
    CHECK(k >= 0 && steep == lrs[k], "suggested lr");
    int imin = 0;
    for (int i = 1; i < 100; i++)
        if (smooth[i] < smooth[imin]) imin = i;
    CHECK(minlr == lrs[imin] / 10, "min-loss lr / 10");
    printf("  one-cycle: %d steps of 4 schedules match PyTorch OneCycleLR (worst rel %.1e); LR finder ok (suggestion %d)\n",
           n_oc, worst, k);

    /* AUC: hand-checked values */
    {
        float s[] = {0.1f, 0.4f, 0.35f, 0.8f}, y[] = {0, 0, 1, 1};
        CHECK(fabs(auc_of(s, y, NULL, 4, 1, 0) - 0.75) < 1e-12, "sklearn's classic example: 0.75");
        float t[] = {0.5f, 0.5f, 0.5f, 0.5f};
        CHECK(fabs(auc_of(t, y, NULL, 4, 1, 0) - 0.5) < 1e-12, "all tied: 0.5");
        float perfect[] = {0.1f, 0.2f, 0.9f, 0.8f};
        CHECK(auc_of(perfect, y, NULL, 4, 1, 0) == 1.0, "perfect: 1");
        float ones[] = {1, 1, 1, 1};
        CHECK(isnan(auc_of(s, ones, NULL, 4, 1, 0)), "one class only: NaN");
        float m[] = {1, 0, 1, 1}; /* drop the negative scoring 0.4: pairs (0.35>0.1) (0.8>0.1) -> 1.0 */
        CHECK(auc_of(s, y, m, 4, 1, 0) == 1.0, "mask leaves entries out");
    }
    /* AUC: random data with many ties, several columns, against the pair count */
    for (int trial = 0; trial < 20; trial++) {
        int n = 50 + trial * 13, L = 3;
        float *s = malloc(sizeof(float) * n * L), *y = malloc(sizeof(float) * n * L), *m = malloc(sizeof(float) * n * L);
        float *cs = malloc(sizeof(float) * n), *cy = malloc(sizeof(float) * n), *cm = malloc(sizeof(float) * n);
        for (int i = 0; i < n * L; i++) {
            y[i] = urand() < 0.3 ? 1.0f : 0.0f;
            s[i] = (float)((int)(urand() * 10) / 10.0 + 0.3 * (double)y[i]); /* coarse: many ties */
            m[i] = urand() < 0.9 ? 1.0f : 0.0f;
        }
        for (int j = 0; j < L; j++) {
            for (int i = 0; i < n; i++) {
                cs[i] = s[i * L + j];
                cy[i] = y[i * L + j];
                cm[i] = m[i * L + j];
            }
            double a = auc_of(s, y, m, n, L, j), b = auc_pairs(cs, cy, cm, n);
            CHECK(fabs(a - b) < 1e-12, "AUC trial %d column %d: %.15f vs pairs %.15f", trial, j, a, b);
            /* the ROC curve runs from (0,0) to (1,1), monotone, and its area is the AUC */
            double *fpr, *tpr, *thr;
            int k2 = mc_roc(s, y, m, n, L, j, &fpr, &tpr, &thr);
            REQUIRE(k2 >= 2, "roc points");
            CHECK(fpr[0] == 0 && tpr[0] == 0 && fpr[k2 - 1] == 1 && tpr[k2 - 1] == 1, "ROC end points");
            double area = 0;
            for (int q = 1; q < k2; q++) {
                CHECK(fpr[q] >= fpr[q - 1] && tpr[q] >= tpr[q - 1], "ROC monotone");
                area += (fpr[q] - fpr[q - 1]) * (tpr[q] + tpr[q - 1]) / 2;
            }
            CHECK(fabs(area - a) < 1e-12, "trapezoid area %.15f vs AUC %.15f", area, a);
            free(fpr);
            free(tpr);
            free(thr);
        }
        free(s);
        free(y);
        free(m);
        free(cs);
        free(cy);
        free(cm);
    }
    return mc_test_done("test_schedule");
}
