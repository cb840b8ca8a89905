/* mc_study.h — reproducing the paper's study (public API; included by medcolor.h): experiment
 * grids expanded into run folders, the state of a run folder, its results, the statistics of
 * the paper's evaluation (mean ± sample std over seeds, paired t-test, Benjamini–Hochberg) and
 * the report that puts them together.
 * See docs/study.md.
 *
 *     mc_grid_run *runs; int n;
 *     if (mc_grid_expand("experiments/grid-table1.grid", "runs/table1", &runs, &n) < 0) ...
 *     mc_grid_write("experiments/grid-table1.grid", "runs/table1", runs, n);  // folders + runs.tsv
 *     mc_grid_runs_free(runs, n);
 *
 *     mc_ttest t; mc_ttest_paired(auc_a, auc_b, 3, &t);   // t.p: two-sided p-value
 *     mc_bh_adjust(p, m, p_adj);                          // adjusted over the family of m tests
 */
#ifndef MC_STUDY_H
#define MC_STUDY_H
#include "mc_train.h"
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

/* ---- statistics -------------------------------------------------------------------------- */
/* The regularized incomplete beta function I_x(a, b) (a, b > 0, 0 <= x <= 1; NaN otherwise),
 * by its continued fraction (modified Lentz), to about 1e-14 relative. */
double mc_betainc(double a, double b, double x);
/* Two-sided p-value of Student's t distribution with df > 0 degrees of freedom:
 * P(|T| >= |t|) = I_{df/(df+t^2)}(df/2, 1/2). NaN for NaN input; 0 for infinite t. */
double mc_t_pvalue(double t, double df);
/* Mean and sample standard deviation (divisor n-1) of x[n]; *sd is NaN when n < 2,
 * both NaN when n == 0. */
void mc_mean_sd(const double *x, int n, double *mean, double *sd);

typedef struct mc_ttest {
    int n; /* pairs */
    double mean_a, mean_b;
    double mean_diff; /* mean of a[i] - b[i] */
    double sd_diff;   /* sample std of the differences */
    double t;         /* mean_diff / (sd_diff / sqrt(n)) */
    double df;        /* n - 1 */
    double p;         /* two-sided; identical pairs give t = 0, p = 1; constant non-zero
                       * differences give t = ±Inf, p = 0 */
} mc_ttest;
/* Paired two-sided t-test of a[n] against b[n] (n >= 2; MC_EARG otherwise or on NaN values). */
int mc_ttest_paired(const double *a, const double *b, int n, mc_ttest *r);
/* Benjamini–Hochberg adjusted p-values (step-up, FDR): adj[i] = min over p_(j) >= p_i of
 * m p_(j) / j, capped at 1, m = the number of non-NaN p-values; NaN stays NaN. adj may be p. */
int mc_bh_adjust(const double *p, int n, double *adj);

/* ---- the statistics of one label's scores (src/study/rocstats.c, docs/evaluation.md) -------
 * Scores are float (probabilities); labels > 0.5 are positive. Cases need both classes and
 * finite scores (MC_EARG naming the count otherwise). */
/* Two-sided p-value of a standard normal z: erfc(|z| / sqrt 2). */
double mc_norm_pvalue(double z);
/* The standard normal quantile Phi^-1(p) (to about 1e-15; -Inf/Inf at 0/1, NaN outside). */
double mc_norm_quantile(double p);
/* DeLong: the AUC of each of k score sets score[r][n] of the same cases, auc[k], and the k x k
 * covariance matrix of those AUCs, cov[k*k] (NaN with a single positive or negative). Fast
 * DeLong (Sun & Xu 2014), midranks for ties. */
int mc_delong(const float *const *score, int k, const float *y, int n, double *auc, double *cov);

typedef struct mc_delong_cmp {
    int npos, nneg;
    double auc_a, auc_b, var_a, var_b, cov;
    double se_diff; /* sqrt(var_a + var_b - 2 cov) */
    double z;       /* (auc_a - auc_b) / se_diff; 0 when both rank the cases the same */
    double p;       /* two-sided */
} mc_delong_cmp;
/* DeLong's test of two models' scores a[n], b[n] on the same cases. */
int mc_delong_test(const float *a, const float *b, const float *y, int n, mc_delong_cmp *t);
/* The same on column col of n rows of `stride` columns, leaving out mask == 0 entries; without
 * both classes everything is NaN (not an error). */
int mc_delong_test_label(const float *a, const float *b, const float *label, const float *mask, int n, int stride,
                         int col, mc_delong_cmp *t);

typedef struct mc_boot_opts {
    int reps;      /* replicates (0: no bootstrap) */
    uint64_t seed; /* mc_rng (xoshiro256** seeded by splitmix64) */
    int stratified; /* 1: resample positives and negatives separately, keeping their counts */
    double level;   /* e.g. 0.95: percentiles (1-level)/2 and (1+level)/2 */
} mc_boot_opts;
typedef struct mc_boot_ci {
    double lo, hi;    /* percentile interval (linear interpolation, numpy's default) */
    int used;         /* replicates with both classes */
    int skipped;      /* replicates left out for lacking a class (not stratified only) */
} mc_boot_ci;
/* Percentile bootstrap of the AUC. One mc_rng stream seeded with o->seed; each replicate draws
 * its cases in order with index = floor(mc_rng_uniform * count): stratified, m from the
 * positives then n-m from the negatives (each pool in input order); otherwise n from all. */
int mc_auc_bootstrap(const float *score, const float *y, int n, const mc_boot_opts *o, mc_boot_ci *ci);

typedef struct mc_oppoints {
    double ap;                     /* average precision (scikit-learn's definition) */
    double youden_j, youden_threshold, youden_sens, youden_spec; /* max J; highest threshold on ties */
    double spec_target;            /* the specificity asked for */
    double sens_at_spec, spec_at_spec, threshold_at_spec; /* the lowest threshold whose
                                                             specificity >= spec_target */
} mc_oppoints;
/* Average precision and operating points (score >= threshold is positive). */
int mc_operating_points(const float *score, const float *y, int n, double spec_target, mc_oppoints *o);

typedef struct mc_stats_opts {
    double level;       /* confidence level of both intervals, e.g. 0.95 */
    mc_boot_opts boot;  /* its level is taken from `level` */
    double spec_target; /* e.g. 0.9 */
} mc_stats_opts;
typedef struct mc_auc_stats {
    int npos, nneg;
    double auc, se;              /* DeLong's standard error */
    double delong_lo, delong_hi; /* auc -+ z se, clipped to [0, 1] */
    mc_boot_ci boot;             /* NaN when o->boot.reps == 0 */
    double ap;
    mc_oppoints pts;
} mc_auc_stats;
/* All of the above for column col of n rows of `stride` columns, mask == 0 entries left out;
 * without both classes every value is NaN (not an error). */
int mc_auc_stats_label(const float *score, const float *label, const float *mask, int n, int stride, int col,
                       const mc_stats_opts *o, mc_auc_stats *st);

/* Reads the probabilities of a predictions.csv written by `medcolor eval -o` (src/study/
 * predfile.c) for the images of ds into probs[ds->n][ds->nlabels] (row order of ds, matched by
 * path). Every image of ds must be there once with the same truth (blank = ignored); errors name
 * file:line and the value. */
int mc_predictions_read(const char *path, const mc_dataset *ds, float *probs);

/* Writes dir/stats.csv (one row per label: st[] with the options o) and, when cmp is given,
 * dir/compare.csv (DeLong's test of each label against the predictions in file `other`, p_adj
 * the Benjamini-Hochberg adjusted p-values over the labels). docs/evaluation.md. */
int mc_eval_write_stats(const char *dir, const mc_dataset *ds, const mc_auc_stats *st, const mc_stats_opts *o,
                        const mc_delong_cmp *cmp, const double *p_adj, const char *other);

/* ---- grids --------------------------------------------------------------------------------
 * A .grid file ([grid] and [chain] sections, docs/study.md) describes backbones x modules x
 * stage chains x subset fractions x seeds; each combination is one run folder under the grid
 * folder holding its resolved experiment.exp; runs.tsv indexes them (1-based, the SLURM array
 * index). */
typedef struct mc_grid_run {
    int index;      /* 1-based position in runs.tsv */
    char name[256]; /* folder name, e.g. rn18-ps_color+all_f0.01-s8_seed1 */
    char backbone[64];
    char module[64]; /* "none" for the baseline network (cfg/<backbone>.cfg) */
    char chain[256]; /* stages joined by '+', "@data" after a stage on another dataset */
    double subset;   /* fraction of the training split; 0 = all of it */
    uint32_t subset_seed;
    uint64_t seed;
    mc_experiment exp; /* the experiment, output = <grid dir>/<name> */
} mc_grid_run;

/* Reads a .grid file and expands it into runs (*runs[*n], in runs.tsv order) for the grid
 * folder outdir. Errors name file:line. */
int mc_grid_expand(const char *path, const char *outdir, mc_grid_run **runs, int *n);
void mc_grid_runs_free(mc_grid_run *runs, int n);
/* Creates outdir/<name>/experiment.exp for every run (an existing run folder keeps its
 * experiment.exp when identical, and is an error when it differs: a grid folder is never
 * silently re-purposed), outdir/runs.tsv and a copy of the grid file as outdir/grid.grid. */
int mc_grid_write(const char *gridpath, const char *outdir, const mc_grid_run *runs, int n);
/* Writes e as an .exp file (atomically) that mc_experiment_load reads back. */
int mc_grid_write_exp(const mc_experiment *e, const char *path);
/* The run folders in outdir (folders with an experiment.exp) that are not among runs[n], e.g.
 * left by an earlier expansion of a grid that has changed since: *names[*count], in directory
 * order (free with mc_grid_names_free). */
int mc_grid_stale(const char *outdir, const mc_grid_run *runs, int n, char ***names, int *count);
void mc_grid_names_free(char **names, int n);

/* One row of runs.tsv (src/study/runindex.c writes and reads it; docs/study.md). */
typedef struct mc_grid_entry {
    int index;                   /* 1-based: the SLURM array index */
    char *name, *backbone, *module, *chain;
    double subset;               /* 0: the whole training split */
    uint32_t subset_seed;
    uint64_t seed;
    char *net, *data, *weights;  /* NULL when absent ("-" in the file) */
} mc_grid_entry;
/* Writes dir/runs.tsv (atomically). Fields may not hold tabs or line breaks. */
int mc_grid_index_write(const char *dir, const mc_grid_entry *entries, int n);
/* Reads dir/runs.tsv; errors name file:line. */
int mc_grid_index_load(const char *dir, mc_grid_entry **entries, int *n);
void mc_grid_index_free(mc_grid_entry *entries, int n);

/* The state of a run folder (from experiment.exp, K-STAGE/DONE, results.csv, log.csv). */
enum { MC_RUN_NEW = 0, MC_RUN_STARTED = 1, MC_RUN_DONE = 2 };
typedef struct mc_run_state {
    int state;    /* MC_RUN_* */
    int nstages;  /* stages of its experiment.exp */
    int ndone;    /* stages with DONE, counted from the first */
    int nresults; /* stages with a "mean" row in results.csv */
} mc_run_state;
int mc_run_status(const char *rundir, mc_run_state *st);

/* ---- the report (docs/study.md "The report"; src/study/report.c) -----------------------------
 * The results of run folders as the paper reports them: each run's best validation mean AUC per
 * finished stage; mean ± sample std over seeds and subset draws per strategy (MODULE/STAGES, the
 * chain up to a stage) in each context (evaluation dataset, backbone, training-set fraction);
 * paired two-sided t-tests between strategies, Benjamini–Hochberg adjusted; tables shaped like
 * the paper's (text), CSV files and plots of mean AUC against training-set size. Nothing is
 * printed: the text comes back as a string, the files are written into a folder.
 *
 *     mc_report *r;
 *     mc_report_opts o; mc_report_opts_default(&o);
 *     if (mc_report_load(&r, paths, npaths, &o) < 0) ...            // grid folders, run folders
 *     mc_report_compare(r, "pixelshuffle/color+all:none/baseline-all", 0);  // repeatable
 *     char *text; mc_report_text(r, &text);                        // the tables
 *     char **plots; int nplots; mc_report_write(r, "runs/table1/report", &plots, &nplots);
 *     mc_report_list_free(plots, nplots); free(text); mc_report_free(r);
 */
typedef struct mc_report_opts {
    int percent;         /* AUC in percent with one decimal in the text (the paper's style) */
    double alpha;        /* significance level of the adjusted p-values (0.05) */
    const char *diff_to; /* MODULE/STAGES: also plot each strategy's mean AUC minus this one's
                          * (Fig. 6b); NULL: no such plots */
} mc_report_opts;
void mc_report_opts_default(mc_report_opts *o);
/* Checks a strategy "[BACKBONE/]MODULE/STAGES" (with_backbone: the backbone may be given) and a
 * comparison "A:B" of two: MC_EARG with a message saying what is expected. */
int mc_report_check_strategy(const char *spec, int with_backbone);
int mc_report_check_compare(const char *spec);

typedef struct mc_report mc_report;
/* Reads the runs of paths[n] (grid folders with runs.tsv, run folders with experiment.exp,
 * mixed) and groups their finished stages. Errors: a path that is neither (MC_ENOTFOUND); a
 * run's unreadable experiment.exp or results.csv; no run with a finished stage (MC_ENOTFOUND). */
int mc_report_load(mc_report **out, const char *const *paths, int n, const mc_report_opts *o);
void mc_report_free(mc_report *r);
/* Adds the paired t-tests of strategy A against B ("A:B", A and B = [BACKBONE/]MODULE/STAGES) in
 * every context that has both (a backbone named in A or B replaces the context's), matched by
 * seed and subset seed; per_label: also per label (the second family). The Benjamini–Hochberg
 * adjustment is redone over every comparison added so far. MC_EARG: a malformed spec;
 * MC_ENOTFOUND: no context has both (mc_report_strategy_at lists what there is). */
int mc_report_compare(mc_report *r, const char *spec, int per_label);

typedef struct mc_report_counts {
    int runs, results, strategies, comparisons;
    int duplicates; /* results left out: the same strategy and seeds as another run's */
    int grids;      /* grid folders among the paths */
} mc_report_counts;
void mc_report_get_counts(const mc_report *r, mc_report_counts *c);
/* A strategy in its context, in the order of the tables (0 <= i < counts.strategies); the
 * strings belong to r. */
typedef struct mc_report_strategy {
    const char *data, *backbone, *module, *chain;
    double fraction; /* of the training split, 1 = all of it */
    int stage;       /* MC_STAGE_* of the chain's last stage */
    int n;           /* results (runs) */
    double mean, sd; /* of their best validation mean AUC */
} mc_report_strategy;
int mc_report_strategy_at(const mc_report *r, int i, mc_report_strategy *s);
/* The tables (what report.txt holds) as one malloc'd string. */
int mc_report_text(const mc_report *r, char **text);
/* Writes dir (created)/report.txt, runs.csv, summary.csv, compare.csv (with comparisons) and,
 * with several training-set sizes, the plots; *plots[*nplots]: the PNG files written, in order
 * (free with mc_report_list_free; plots may be NULL). */
int mc_report_write(const mc_report *r, const char *dir, char ***plots, int *nplots);
void mc_report_list_free(char **list, int n);

/* A run's results.csv: mc_stage_result, mc_results_load and mc_results_write are in mc_train.h
 * (src/train/runfiles.c, next to the code that writes the run's other files). */

#ifdef __cplusplus
}
#endif
#endif
