/* test_study.c — the study tools (src/study/stats_tests.c, src/study/grid.c):
 *   - the regularized incomplete beta function against closed forms (I_x(a,1) = x^a,
 *     I_x(1,b) = 1-(1-x)^b, I_1/2(a,a) = 1/2);
 *   - Student t two-sided p-values against the closed forms for 1 and 2 degrees of freedom
 *     (Cauchy: 1 - 2 atan|t| / pi; df 2: 1 - |t| / sqrt(t^2 + 2)) and textbook critical values;
 *   - paired t-tests and Benjamini–Hochberg against an independent Python reference
 *     (tests/data/stats_ref.py: numerical integration of the t density, BH from its definition)
 *     and against Benjamini & Hochberg's own example (1995, 15 p-values: 4 rejected at q = 0.05);
 *   - grid expansion: the combinations, names, experiments, zip/cross replicates, STAGE@DATA,
 *     per-stage settings, errors naming file:line; runs.tsv and experiment.exp written and read
 *     back; a started run refuses changed settings; results.csv reading; run states;
 *   - the report (mc_report_*) on run folders made by hand: counts, a strategy's mean and sample
 *     std, comparisons (per label too; unknown and malformed ones refused), the text, the files
 *     and plots written. */
#include "test.h"
#include <sys/stat.h>
#include <unistd.h>

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    REQUIRE(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static int close_rel(double a, double b, double rel, double abs_tol) {
    return fabs(a - b) <= abs_tol + rel * fabs(b);
}

static void test_beta_t(void) {
    double xs[] = {0.01, 0.2, 0.5, 0.77, 0.999};
    double as[] = {0.5, 1.0, 2.5, 7.0, 30.0};
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) {
            double x = xs[i], a = as[j];
            CHECK(close_rel(mc_betainc(a, 1, x), pow(x, a), 1e-12, 1e-15), "I_%g(%g,1) = %.15g, x^a = %.15g", x, a,
                  mc_betainc(a, 1, x), pow(x, a));
            CHECK(close_rel(mc_betainc(1, a, x), 1 - pow(1 - x, a), 1e-12, 1e-15), "I_%g(1,%g)", x, a);
            CHECK(close_rel(mc_betainc(a, a, 0.5), 0.5, 1e-12, 0), "I_1/2(%g,%g) = %.15g", a, a, mc_betainc(a, a, 0.5));
        }
    CHECK(mc_betainc(2, 3, 0) == 0 && mc_betainc(2, 3, 1) == 1, "I at the ends");
    CHECK(isnan(mc_betainc(-1, 3, 0.5)) && isnan(mc_betainc(2, 3, 1.5)), "invalid arguments give NaN");

    double ts[] = {0, 0.1, 0.7, 1, 2.5, 6.3, 12.7, 40, 1e3};
    for (int i = 0; i < 9; i++) {
        double t = ts[i];
        double p1 = 1 - 2 * atan(t) / M_PI, p2 = 1 - t / sqrt(t * t + 2);
        CHECK(close_rel(mc_t_pvalue(t, 1), p1, 1e-10, 1e-15), "df 1, t %g: %.15g vs %.15g", t, mc_t_pvalue(t, 1), p1);
        CHECK(close_rel(mc_t_pvalue(-t, 2), p2, 1e-10, 1e-15), "df 2, t %g: %.15g vs %.15g", -t, mc_t_pvalue(-t, 2),
              p2);
    }
    /* textbook two-sided critical values (3 decimals, so p agrees to ~1e-4) */
    struct {
        double t, df, p;
    } tab[] = {{12.706, 1, 0.05}, {4.303, 2, 0.05},  {3.182, 3, 0.05},  {2.776, 4, 0.05},
               {2.571, 5, 0.05},  {2.228, 10, 0.05}, {2.042, 30, 0.05}, {9.925, 2, 0.01},
               {4.032, 5, 0.01},  {3.169, 10, 0.01}, {1.812, 10, 0.10}};
    for (int i = 0; i < (int)(sizeof tab / sizeof tab[0]); i++) {
        double p = mc_t_pvalue(tab[i].t, tab[i].df);
        CHECK(fabs(p - tab[i].p) < 2e-4 * (tab[i].p / 0.05 + 1), "t %g df %g: p %.6f, the table says %g", tab[i].t,
              tab[i].df, p, tab[i].p);
    }
    /* large df tends to the normal: P(|Z| > 1.959964) = 0.05 */
    CHECK(fabs(mc_t_pvalue(1.959963985, 1e7) - 0.05) < 1e-6, "df 1e7: %.8f", mc_t_pvalue(1.959963985, 1e7));
    CHECK(mc_t_pvalue(INFINITY, 3) == 0 && isnan(mc_t_pvalue(NAN, 3)) && isnan(mc_t_pvalue(1, 0)), "edge cases");
    CHECK(mc_t_pvalue(1e200, 2) == 0 || mc_t_pvalue(1e200, 2) < 1e-300, "huge t");
}

static void test_mean_sd_ttest(void) {
    double x[] = {2, 4, 4, 4, 5, 5, 7, 9}, m, sd;
    mc_mean_sd(x, 8, &m, &sd);
    CHECK(m == 5 && fabs(sd - sqrt(32.0 / 7.0)) < 1e-14, "mean %g sd %g (sample: sqrt(32/7))", m, sd);
    mc_mean_sd(x, 1, &m, &sd);
    CHECK(m == 2 && isnan(sd), "one value: sd NaN");
    mc_ttest r;
    CHECK(mc_ttest_paired(x, x, 1, &r) == MC_EARG, "one pair refused");
    double a[] = {0.8, 0.81, 0.82}, b[] = {0.7, 0.71, 0.72};
    REQUIRE_OK(mc_ttest_paired(a, a, 3, &r));
    CHECK(r.t == 0 && r.p == 1, "identical: t %g p %g", r.t, r.p);
    REQUIRE_OK(mc_ttest_paired(a, b, 3, &r));
    CHECK(r.p < 1e-10 && r.t > 1e6 && fabs(r.mean_diff - 0.1) < 1e-12, "constant difference: t %g p %g", r.t, r.p);
    double c[] = {0.8, NAN, 0.82};
    CHECK(mc_ttest_paired(a, c, 3, &r) == MC_EARG, "NaN refused");
    /* a hand computation: d = (1, 2, 3, 6): mean 3, sd sqrt(14/3), t = 3 / (sd / 2) */
    double u[] = {2, 4, 6, 10}, v[] = {1, 2, 3, 4};
    REQUIRE_OK(mc_ttest_paired(u, v, 4, &r));
    double t = 3 / (sqrt(14.0 / 3.0) / 2);
    CHECK(fabs(r.t - t) < 1e-12 && r.df == 3 && r.n == 4, "t %g, expected %g", r.t, t);
    CHECK(fabs(r.mean_a - 5.5) < 1e-12 && fabs(r.mean_b - 2.5) < 1e-12, "means");
}

static void test_bh_example(void) {
    /* Benjamini & Hochberg (1995), section 4.1: 15 p-values; at q = 0.05 the first 4 are rejected */
    double p[15] = {0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344,
                    0.0459, 0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.0000};
    double adj[15];
    REQUIRE_OK(mc_bh_adjust(p, 15, adj));
    int rejected = 0;
    for (int i = 0; i < 15; i++)
        rejected += adj[i] < 0.05;
    CHECK(rejected == 4, "BH 1995 example: %d rejected, the paper rejects 4", rejected);
    CHECK(adj[3] < 0.05 && adj[4] >= 0.05, "the 4th rejected, the 5th not: %g %g", adj[3], adj[4]);
    /* monotone in p, >= p, <= 1, and m p_(m) / m = p_(m) for the largest */
    for (int i = 0; i < 15; i++)
        CHECK(adj[i] >= p[i] && adj[i] <= 1 && (i == 0 || adj[i] >= adj[i - 1]), "adj[%d]", i);
    CHECK(adj[14] == 1, "largest: %g", adj[14]);
    /* in place, unsorted order, NaN left out of the family */
    double q[4] = {0.04, NAN, 0.01, 0.03};
    REQUIRE_OK(mc_bh_adjust(q, 4, q));
    CHECK(fabs(q[0] - 0.04) < 1e-15 && isnan(q[1]) && fabs(q[2] - 0.03) < 1e-15 && fabs(q[3] - 0.04) < 1e-15,
          "m = 3: %g %g %g %g (expected 0.04 NaN 0.03 0.04)", q[0], q[1], q[2], q[3]);
    double bad[2] = {0.5, 1.5};
    CHECK(mc_bh_adjust(bad, 2, adj) == MC_EARG, "p > 1 refused");
}

/* tests/data/stats_ref.py */
static void test_python_reference(void) {
    FILE *f = popen("/usr/bin/python3 tests/data/stats_ref.py", "r");
    REQUIRE(f, "cannot run tests/data/stats_ref.py");
    char line[65536];
    int nt = 0, nb = 0;
    while (fgets(line, sizeof line, f)) {
        char *s = line, *end;
        char kind = *s++;
        int n = (int)strtol(s, &end, 10);
        s = end;
        REQUIRE(n > 0 && n <= 64, "bad line from stats_ref.py: %.60s", line);
        double v[200];
        int m = kind == 'T' ? 2 * n + 2 : 2 * n;
        for (int i = 0; i < m; i++) {
            v[i] = strtod(s, &end);
            REQUIRE(end != s, "short line from stats_ref.py: %.60s", line);
            s = end;
        }
        if (kind == 'T') {
            mc_ttest r;
            REQUIRE_OK(mc_ttest_paired(v, v + n, n, &r));
            double t = v[2 * n], p = v[2 * n + 1];
            CHECK(close_rel(r.t, t, 1e-10, 1e-12), "n %d: t %.15g, reference %.15g", n, r.t, t);
            CHECK(close_rel(r.p, p, 1e-8, 1e-13), "n %d t %.6g: p %.15g, reference %.15g", n, t, r.p, p);
            nt++;
        } else {
            double adj[64];
            REQUIRE_OK(mc_bh_adjust(v, n, adj));
            for (int i = 0; i < n; i++)
                CHECK(close_rel(adj[i], v[n + i], 1e-12, 1e-15), "BH m %d [%d]: %.15g, reference %.15g", n, i, adj[i],
                      v[n + i]);
            nb++;
        }
    }
    REQUIRE(pclose(f) == 0, "stats_ref.py failed");
    CHECK(nt == 30 && nb == 15, "reference cases: %d t-tests, %d BH families", nt, nb);
}

/* ---- grids ---------------------------------------------------------------------------------- */
static char tmp[200];

static int find_run(mc_grid_run *r, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(r[i].name, name)) return i;
    return -1;
}

static int expand_error(const char *text, const char *expect) {
    char path[700];
    snprintf(path, sizeof path, "%s/bad.grid", tmp);
    write_text(path, text);
    mc_grid_run *r;
    int n;
    int rc = mc_grid_expand(path, "out", &r, &n);
    int ok = rc < 0 && strstr(mc_errmsg(), expect) != NULL;
    if (!ok) fprintf(stderr, "  expected an error with '%s', got rc %d: %s\n", expect, rc, mc_errmsg());
    if (rc == 0) mc_grid_runs_free(r, n);
    return ok;
}

static void test_grid(void) {
    char path[2048], text[4096], dir[1024];
    /* a cfg folder with the networks the grid names, and two .data files */
    snprintf(dir, sizeof dir, "%s/cfgs", tmp);
    mkdir(dir, 0755);
    const char *nets[] = {"rn", "rn-ps", "rn-cu", "dn", "dn-ps", "dn-cu"};
    for (int i = 0; i < 6; i++) {
        snprintf(path, sizeof path, "%s/%s.cfg", dir, nets[i]);
        write_text(path, "[net]\n");
    }
    snprintf(path, sizeof path, "%s/chexpert.data", tmp);
    write_text(path, "format = chexpert\n");
    snprintf(path, sizeof path, "%s/nih.data", tmp);
    write_text(path, "format = nih\n");
    snprintf(text, sizeof text,
             "# a test grid\n[grid]\ndata = %s/chexpert.data\ncfg_dir = %s\nbackbones = rn, dn\nseeds = 1, 2, 3\n"
             "datasets = nih:%s/nih.data\nweights = w/{net}.weights\nbatch = 16\nset = net.width=64, net.height=64\n"
             "all.max_lr = 0.02\nepochs = 3\n"
             "[chain]\nmodules = none\nstages = baseline\n"
             "[chain]\nmodules = ps, cu\nstages = color, all, last@nih\nlast.epochs = 48\n"
             "[chain]\nbackbones = rn\nmodules = ps\nstages = color, all\nfractions = 1, 0.1, 0.001\n"
             "subset_seeds = 8, 8829, 2901\nreplicates = zip\nmax_iters = 100\n",
             tmp, dir, tmp);
    char gpath[400];
    snprintf(gpath, sizeof gpath, "%s/t.grid", tmp);
    write_text(gpath, text);
    char out[400];
    snprintf(out, sizeof out, "%s/g", tmp);
    snprintf(path, sizeof path, "rm -rf '%s'", out); /* a fresh grid folder when run again */
    REQUIRE(system(path) == 0, "%s", path);
    mc_grid_run *r;
    int n;
    REQUIRE_OK(mc_grid_expand(gpath, out, &r, &n));
    /* 2 backbones x 1 x 3 seeds + 2 x 2 modules x 3 seeds + 1 x 1 x 3 fractions x 3 zipped */
    CHECK(n == 6 + 12 + 9, "%d runs, expected 27", n);
    for (int i = 0; i < n; i++)
        CHECK(r[i].index == i + 1, "index %d of run %d", r[i].index, i);
    int k = find_run(r, n, "dn_baseline_seed2");
    REQUIRE(k >= 0, "no run dn_baseline_seed2 (first: %s)", r[0].name);
    mc_experiment *e = &r[k].exp;
    snprintf(path, sizeof path, "%s/dn.cfg", dir);
    CHECK(!strcmp(e->net, path), "net %s", e->net);
    CHECK(e->seed == 2 && e->nstages == 1 && e->st[0].stage == MC_STAGE_BASELINE && e->st[0].epochs == 3 &&
              e->subset == 0 && e->batch == 16 && e->nset == 2 && !strcmp(e->set[1], "net.height=64"),
          "baseline run settings");
    CHECK(!strcmp(e->weights, "w/dn.weights") && !strcmp(r[k].module, "none") && !strcmp(r[k].chain, "baseline"),
          "weights %s, module %s, chain %s", e->weights, r[k].module, r[k].chain);
    snprintf(path, sizeof path, "%s/dn_baseline_seed2", out);
    CHECK(!strcmp(e->out, path), "output %s", e->out);
    k = find_run(r, n, "rn-cu_color+all+last@nih_seed3");
    REQUIRE(k >= 0, "no run rn-cu_color+all+last@nih_seed3");
    e = &r[k].exp;
    snprintf(path, sizeof path, "%s/nih.data", tmp);
    CHECK(e->nstages == 3 && e->st[2].stage == MC_STAGE_LAST && e->st[2].data && !strcmp(e->st[2].data, path) &&
              !e->st[0].data && e->st[2].epochs == 48 && e->st[0].epochs == 3 && e->st[1].max_lr == 0.02 &&
              e->st[0].max_lr == 0,
          "chain with last@nih: stage settings");
    CHECK(!strcmp(r[k].chain, "color+all+last@nih") && !strcmp(r[k].backbone, "rn"), "chain %s", r[k].chain);
    /* zip: seed i with subset seed i; the whole training split has no subset */
    k = find_run(r, n, "rn-ps_color+all_f0.001-s8829_seed2");
    REQUIRE(k >= 0, "no run rn-ps_color+all_f0.001-s8829_seed2");
    CHECK(r[k].exp.subset == 0.001 && r[k].exp.subset_seed == 8829 && r[k].exp.seed == 2 &&
              r[k].exp.st[0].max_iters == 100,
          "subset run settings");
    CHECK(find_run(r, n, "rn-ps_color+all_seed3") >= 0 && find_run(r, n, "rn-ps_color+all_f0.1-s8_seed2") < 0,
          "zip pairs, fraction 1 without subset seed");
    /* write, read back */
    REQUIRE_OK(mc_grid_write(gpath, out, r, n));
    mc_grid_entry *ge;
    int ng;
    REQUIRE_OK(mc_grid_index_load(out, &ge, &ng));
    CHECK(ng == n, "runs.tsv: %d rows", ng);
    for (int i = 0; i < ng && i < n; i++)
        CHECK(ge[i].index == r[i].index && !strcmp(ge[i].name, r[i].name) && !strcmp(ge[i].chain, r[i].chain) &&
                  !strcmp(ge[i].module, r[i].module) && ge[i].subset == r[i].subset &&
                  ge[i].subset_seed == r[i].subset_seed && ge[i].seed == r[i].seed && ge[i].net &&
                  !strcmp(ge[i].net, r[i].exp.net) && ge[i].data && !strcmp(ge[i].data, r[i].exp.data) &&
                  ge[i].weights && !strcmp(ge[i].weights, r[i].exp.weights),
              "runs.tsv row %d", i + 1);
    mc_grid_index_free(ge, ng);
    /* a run folder of an earlier expansion is found; the grid's own are not */
    char **stale;
    int nstale;
    REQUIRE_OK(mc_grid_stale(out, r, n, &stale, &nstale));
    CHECK(nstale == 0, "%d stale run folders in a fresh grid folder", nstale);
    mc_grid_names_free(stale, nstale);
    snprintf(path, sizeof path, "%s/old_run", out);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/old_run/experiment.exp", out);
    write_text(path, "[experiment]\n");
    snprintf(path, sizeof path, "%s/not_a_run", out);
    mkdir(path, 0755);
    REQUIRE_OK(mc_grid_stale(out, r, n, &stale, &nstale));
    CHECK(nstale == 1 && !strcmp(stale[0], "old_run"), "stale run folders: %d", nstale);
    mc_grid_names_free(stale, nstale);
    snprintf(path, sizeof path, "%s/grid.grid", out);
    char copy[4096];
    FILE *cf = fopen(path, "rb");
    REQUIRE(cf, "no %s", path);
    size_t len = fread(copy, 1, sizeof copy, cf);
    fclose(cf);
    CHECK(len == strlen(text) && !memcmp(copy, text, len), "grid.grid is a copy of the grid");
    k = find_run(r, n, "rn-ps_color+all+last@nih_seed1");
    snprintf(path, sizeof path, "%s/%s/experiment.exp", out, r[k].name);
    mc_experiment back;
    REQUIRE_OK(mc_experiment_load(&back, path));
    e = &r[k].exp;
    CHECK(!strcmp(back.net, e->net) && !strcmp(back.data, e->data) && !strcmp(back.weights, e->weights) &&
              back.seed == e->seed && back.batch == 16 && back.nstages == 3 && back.st[2].stage == MC_STAGE_LAST &&
              !strcmp(back.st[2].data, e->st[2].data) && back.st[1].max_lr == 0.02 && back.st[2].epochs == 48 &&
              back.nset == 2 && !strcmp(back.out, e->out),
          "experiment.exp read back");
    mc_experiment_clear(&back);
    /* run state: new; started (log.csv); done (DONE + results) */
    snprintf(dir, sizeof dir, "%s/%s", out, r[k].name);
    mc_run_state st;
    REQUIRE_OK(mc_run_status(dir, &st));
    CHECK(st.state == MC_RUN_NEW && st.nstages == 3 && st.ndone == 0, "new run: state %d", st.state);
    snprintf(path, sizeof path, "%s/log.csv", dir);
    write_text(path, "stage,epoch,iter,loss,lr,momentum,seconds\n");
    REQUIRE_OK(mc_run_status(dir, &st));
    CHECK(st.state == MC_RUN_STARTED, "started run: state %d", st.state);
    /* a started run keeps its settings; expanding a changed grid over it is refused */
    REQUIRE_OK(mc_grid_write(gpath, out, r, n));
    free(r[k].exp.weights);
    r[k].exp.weights = strdup("other.weights");
    CHECK(mc_grid_write(gpath, out, r, n) < 0 && strstr(mc_errmsg(), "another weights"), "changed settings: %s",
          mc_errmsg());
    const char *stages[] = {"1-color", "2-all", "3-last"};
    for (int s = 0; s < 3; s++) {
        snprintf(path, sizeof path, "%s/%s", dir, stages[s]);
        mkdir(path, 0755);
        snprintf(path, sizeof path, "%s/%s/DONE", dir, stages[s]);
        write_text(path, "");
    }
    REQUIRE_OK(mc_run_status(dir, &st));
    CHECK(st.state == MC_RUN_STARTED && st.ndone == 3 && st.nresults == 0, "DONE without results: started");
    snprintf(path, sizeof path, "%s/results.csv", dir);
    write_text(
        path,
        "stage_index,stage,data,label,auc,best_iter,iters,seconds\n"
        "1,color,c.data,\"Atelectasis\",0.700000,10,20,1.0\n1,color,c.data,\"Pleural Effusion\",0.800000,10,20,1.0\n"
        "1,color,c.data,mean,0.750000,10,20,1.0\n"
        "2,all,c.data,\"mean\",0.600000,30,40,2.0\n2,all,c.data,\"x \"\"y\"\"\",nan,30,40,2.0\n"
        "2,all,c.data,mean,0.810000,30,40,2.0\n");
    REQUIRE_OK(mc_run_status(dir, &st));
    CHECK(st.state == MC_RUN_STARTED && st.nresults == 2, "results of 2 of 3 stages: started (%d)", st.nresults);
    mc_stage_result *res;
    int nres;
    REQUIRE_OK(mc_results_load(dir, &res, &nres));
    CHECK(nres == 2 && res[0].stage == MC_STAGE_COLOR && res[0].nlabels == 2 && res[0].mean_auc == 0.75 &&
              !strcmp(res[0].labels[1], "Pleural Effusion") && res[0].auc[1] == 0.8 && res[0].best_iter == 10,
          "results.csv stage 1");
    CHECK(res[1].stage == MC_STAGE_ALL && res[1].nlabels == 2 && !strcmp(res[1].labels[0], "mean") &&
              res[1].auc[0] == 0.6 && !strcmp(res[1].labels[1], "x \"y\"") && isnan(res[1].auc[1]) &&
              res[1].mean_auc == 0.81 && res[1].iters == 40,
          "results.csv stage 2: a quoted label named mean is a label");
    mc_results_free(res, nres);
    FILE *f = fopen(path, "a");
    fputs("3,last,n.data,mean,0.700000,5,6,1.0\n", f);
    fclose(f);
    REQUIRE_OK(mc_run_status(dir, &st));
    CHECK(st.state == MC_RUN_DONE, "all stages DONE with results: done (%d)", st.state);
    write_text(path, "stage_index,stage,data,label,auc,best_iter,iters,seconds\n2,all,c.data,mean,0.8,1,1,1\n");
    CHECK(mc_results_load(dir, &res, &nres) < 0 && strstr(mc_errmsg(), "stage 1 has none"), "a gap: %s", mc_errmsg());
    mc_grid_runs_free(r, n);

    /* errors name the place */
    char hdr[1200];
    snprintf(hdr, sizeof hdr, "[grid]\ndata = %s/chexpert.data\ncfg_dir = %s/cfgs\nbackbones = rn\n", tmp, tmp);
    snprintf(text, sizeof text, "%smodules = none\nstages = baseline\nseeds = 1\nseedz = 2\n", hdr);
    CHECK(expand_error(text, "bad.grid:8: unknown key 'seedz'"), "unknown key");
    snprintf(text, sizeof text, "%smodules = nope\nstages = baseline\n", hdr);
    CHECK(expand_error(text, "rn-nope.cfg: no such network cfg"), "missing cfg");
    snprintf(text, sizeof text, "%smodules = none\nstages = color, fly\n", hdr);
    CHECK(expand_error(text, "bad.grid:6: stages = fly"), "unknown stage");
    snprintf(text, sizeof text, "%smodules = none\nstages = baseline@mura\n", hdr);
    CHECK(expand_error(text, "STAGE@NAME"), "unknown dataset name");
    snprintf(text, sizeof text,
             "%smodules = none\nstages = baseline\nseeds = 1, 2\nsubset_seeds = 8\nfractions = 0.5\nreplicates = zip\n",
             hdr);
    CHECK(expand_error(text, "replicates = zip needs as many seeds (2) as subset_seeds (1)"), "zip lengths");
    snprintf(text, sizeof text, "%smodules = none, none\nstages = baseline\n", hdr);
    CHECK(expand_error(text, "is in the grid twice"), "duplicate runs");
    snprintf(text, sizeof text, "%smodules = none\nstages = baseline\nfractions = 0\n", hdr);
    CHECK(expand_error(text, "fractions = 0: expected fractions in (0, 1]"), "fraction 0");
    snprintf(text, sizeof text, "%smodules = none\n[chain]\nstages = baseline\ndatasets = a:b.data\n", hdr);
    CHECK(expand_error(text, "bad.grid:8: unknown key 'datasets' in [chain]"), "datasets only in [grid]");
    snprintf(text, sizeof text, "%smodules = none\nstages = baseline\ncolor.epochs = 2\nfoo.epochs = 2\n", hdr);
    CHECK(expand_error(text, "bad.grid:8: unknown key 'foo.epochs'"), "per-stage keys are checked");
    snprintf(text, sizeof text, "%smodules = none\n", hdr);
    CHECK(expand_error(text, "needs stages ="), "no stages");
}

/* ---- the report (src/study/report.c) on run folders made by hand: 2 strategies x 2 training-set
 * sizes x 3 seeds, results.csv written through mc_results_write ---------------------------------- */
static void make_run(const char *dir, const char *net, int two_stages, double frac, int seed, const double *auc) {
    char path[1200];
    REQUIRE_OK(mc_mkdirs(dir));
    snprintf(path, sizeof path, "%s/experiment.exp", dir);
    char text[1024];
    int o = snprintf(text, sizeof text, "[experiment]\nnet = %s\ndata = data/chx.data\nseed = %d\n", net, seed);
    if (frac < 1) o += snprintf(text + o, sizeof text - o, "subset = %g\nsubset_seed = %d\n", frac, 8);
    o += snprintf(text + o, sizeof text - o, "[stage]\nstage = %s\n", two_stages ? "color" : "baseline");
    if (two_stages) snprintf(text + o, sizeof text - o, "[stage]\nstage = all\n");
    write_text(path, text);
    mc_stage_result res[2];
    memset(res, 0, sizeof res);
    for (int k = 0; k < 1 + two_stages; k++) {
        res[k].stage_index = k + 1;
        res[k].stage = two_stages ? (k ? MC_STAGE_ALL : MC_STAGE_COLOR) : MC_STAGE_BASELINE;
        snprintf(res[k].data, sizeof res[k].data, "data/chx.data");
        res[k].nlabels = 2;
        res[k].labels[0] = "Edema";
        res[k].labels[1] = "Effusion";
        res[k].auc[0] = auc[2 * k];
        res[k].auc[1] = auc[2 * k + 1];
        res[k].mean_auc = (auc[2 * k] + auc[2 * k + 1]) / 2;
        res[k].best_iter = 10;
        res[k].iters = 20;
    }
    REQUIRE_OK(mc_results_write(dir, res, 1 + two_stages));
}

static void test_report(void) {
    char base[700], dir[900], paths[12][900];
    snprintf(base, sizeof base, "%s/report-runs", tmp);
    const char *pp[12];
    int np = 0;
    double fr[2] = {1, 0.1};
    for (int f = 0; f < 2; f++)
        for (int seed = 1; seed <= 3; seed++) {
            double b[2] = {0.70 + 0.01 * seed - 0.05 * f, 0.72 + 0.02 * seed - 0.05 * f};
            double c[4] = {b[0] + 0.02, b[1] + 0.01, b[0] + 0.03 + 0.001 * seed, b[1] + 0.05};
            snprintf(paths[np], sizeof paths[np], "%s/rn_baseline_f%g_seed%d", base, fr[f], seed);
            make_run(paths[np], "cfg/rn.cfg", 0, fr[f], seed, b);
            pp[np] = paths[np];
            np++;
            snprintf(paths[np], sizeof paths[np], "%s/rn-ps_color+all_f%g_seed%d", base, fr[f], seed);
            make_run(paths[np], "cfg/rn-ps.cfg", 1, fr[f], seed, c);
            pp[np] = paths[np];
            np++;
        }
    mc_report_opts o;
    mc_report_opts_default(&o);
    o.diff_to = "none/baseline";
    mc_report *r;
    REQUIRE_OK(mc_report_load(&r, pp, np, &o));
    mc_report_counts n;
    mc_report_get_counts(r, &n);
    CHECK(n.runs == 12 && n.results == 18 && n.strategies == 6 && n.comparisons == 0 && n.grids == 0,
          "counts: %d runs, %d results, %d strategies", n.runs, n.results, n.strategies);
    /* the first strategy: the baseline on the whole training split (larger sizes first, frozen E first) */
    mc_report_strategy st;
    REQUIRE_OK(mc_report_strategy_at(r, 0, &st));
    double v[3];
    for (int seed = 1; seed <= 3; seed++) v[seed - 1] = (0.70 + 0.01 * seed + 0.72 + 0.02 * seed) / 2;
    double m, sd;
    mc_mean_sd(v, 3, &m, &sd);
    CHECK(!strcmp(st.module, "none") && !strcmp(st.chain, "baseline") && st.fraction == 1 && st.n == 3 &&
              fabs(st.mean - m) < 1e-12 && fabs(st.sd - sd) < 1e-12 && !strcmp(st.data, "chx") && !strcmp(st.backbone, "rn"),
          "strategy 0: %s/%s/%s %g n %d mean %g sd %g", st.backbone, st.module, st.chain, st.fraction, st.n, st.mean, st.sd);
    CHECK(mc_report_compare(r, "ps/color+all:none/baseline", 1) == MC_OK, "compare: %s", mc_errmsg());
    CHECK(mc_report_compare(r, "ps/color:nope/baseline", 0) == MC_ENOTFOUND, "unknown strategy: %s", mc_errmsg());
    CHECK(mc_report_compare(r, "nonsense", 0) == MC_EARG, "malformed comparison");
    CHECK(mc_report_check_compare("a/b:c/d") == 0 && mc_report_check_compare("a/b") == MC_EARG &&
              mc_report_check_strategy("none/baseline", 0) == 0 && mc_report_check_strategy("rn/none/baseline", 0) < 0,
          "spec checks");
    mc_report_get_counts(r, &n);
    CHECK(n.comparisons == 2 * 3, "comparisons: %d (2 sizes x (mean + 2 labels))", n.comparisons);
    char *text;
    REQUIRE_OK(mc_report_text(r, &text));
    CHECK(strstr(text, "Runs (12)") && strstr(text, "[the thesis's Table 5.6]") && strstr(text, "[the paper's Table II]") &&
              strstr(text, "Paired t-tests") && strstr(text, "per label"),
          "report text:\n%s", text);
    snprintf(dir, sizeof dir, "%s/out", base);
    char **plots;
    int nplots;
    REQUIRE_OK(mc_report_write(r, dir, &plots, &nplots));
    CHECK(nplots == 2 && strstr(plots[0], "auc_vs_size_chx_rn.png") && strstr(plots[1], "auc_diff_vs_size_chx_rn.png"),
          "plots: %d", nplots);
    const char *files[] = {"report.txt", "runs.csv", "summary.csv", "compare.csv", "auc_vs_size_chx_rn.png"};
    for (int i = 0; i < 5; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        CHECK(access(path, F_OK) == 0, "report: no %s", files[i]);
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/report.txt", dir);
    FILE *f = fopen(path, "rb");
    char buf[65536];
    size_t len = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    CHECK(len == strlen(text) && !memcmp(buf, text, len), "report.txt is the text");
    free(text);
    mc_report_list_free(plots, nplots);
    mc_report_free(r);
    const char *bad[] = {base};
    CHECK(mc_report_load(&r, bad, 1, &o) == MC_ENOTFOUND && strstr(mc_errmsg(), "neither a grid folder"), "%s",
          mc_errmsg());
    o.diff_to = "x";
    CHECK(mc_report_load(&r, pp, np, &o) == MC_EARG, "a malformed diff_to");
}

int main(void) {
    REQUIRE(strlen(mc_test_tmp()) < sizeof tmp, "MC_TMP too long");
    snprintf(tmp, sizeof tmp, "%s", mc_test_tmp());
    test_beta_t();
    test_mean_sd_ttest();
    test_bh_example();
    test_python_reference();
    test_grid();
    test_report();
    return mc_test_done("study");
}
