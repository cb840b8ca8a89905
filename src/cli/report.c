/* report.c — `medcolor report`: the options, then the report of src/study/report.c (mc_study.h)
 * printed and written into a folder (docs/study.md). */
#include "cli/cli.h"
#include "medcolor.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mc_cli_report(int argc, char **argv) {
    const char *out = NULL, *diff_to = NULL;
    mc_strlist cmps = {.n = 0};
    int percent = 0, per_label = 0;
    double alpha = 0.05;
    const mc_opt opts[] = {
        {"-o", 's', &out, "folder for report.txt, runs.csv, summary.csv, compare.csv and the plots",
         "<grid dir>/report, else report"},
        {"--compare", 'l', &cmps,
         "paired t-test of strategy A against B, A:B with A, B = [BACKBONE/]MODULE/STAGES (e.g. "
         "pixelshuffle/color+all:none/baseline-all); repeatable",
         NULL},
        {"--per-label", 'f', &per_label, "also compare each label (its own Benjamini-Hochberg family)", NULL},
        {"--alpha", 'd', &alpha, "significance level of the adjusted p-values", "0.05", ">0,<1"},
        {"--diff-to", 's', &diff_to, "also plot each strategy's mean AUC minus this one's (MODULE/STAGES; Fig. 6b)",
         NULL},
        {"--percent", 'f', &percent, "AUC in percent with one decimal (the paper's style)", "0.xxx (the thesis's)"},
        {NULL, 0, NULL, NULL, NULL}};
    const char *pos[256];
    int npos;
    const char *syn = "medcolor report <grid dir | run folder>... [-o DIR] [--compare A:B]... [options]";
    const char *about =
        "Summarises finished runs as the paper does: each run's best validation mean AUC per stage;\n"
        "mean ± sample std over seeds (and subset draws) per strategy in tables shaped like the paper's\n"
        "Tables I-III and the thesis's Table 5.6; paired two-sided t-tests between the strategies named\n"
        "with --compare (pairs matched by seed and subset seed; within each dataset, training-set size\n"
        "and backbone unless A or B names one), Benjamini-Hochberg adjusted over the comparisons; CSV\n"
        "files and, with several training-set sizes, PNG plots of mean AUC against size (Fig. 6).\n"
        "A strategy is MODULE/STAGES: none/baseline, pixelshuffle/color, pixelshuffle/color+all, with\n"
        "STAGE@DATA for stages on another dataset than the evaluated one (pixelshuffle/color@chexpert+last).";
    int rc = mc_cli_parse("report", argc, argv, opts, pos, 256, &npos, syn, about);
    if (rc) return rc == 1 ? 0 : 2;
    if (npos < 1) return mc_cli_args_error("report", "<grid dir | run folder>...", npos);
    if (diff_to && mc_report_check_strategy(diff_to, 0) < 0) {
        fprintf(stderr, "medcolor report: --diff-to %s: %s\n", diff_to, mc_errmsg());
        return 2;
    }
    for (int c = 0; c < cmps.n; c++)
        if (mc_report_check_compare(cmps.v[c]) < 0) {
            fprintf(stderr, "medcolor report: --compare %s: %s\n", cmps.v[c], mc_errmsg());
            return 2;
        }
    mc_report_opts ro;
    mc_report_opts_default(&ro);
    ro.percent = percent;
    ro.alpha = alpha;
    ro.diff_to = diff_to;
    mc_report *r;
    if (mc_report_load(&r, pos, npos, &ro) < 0) {
        fprintf(stderr, "medcolor report: %s\n", mc_errmsg());
        return 1;
    }
    for (int c = 0; c < cmps.n; c++) {
        int crc = mc_report_compare(r, cmps.v[c], per_label);
        if (crc == MC_ENOTFOUND) {
            fprintf(stderr, "medcolor report: --compare %s: %s; the strategies are:\n", cmps.v[c], mc_errmsg());
            mc_report_counts n;
            mc_report_get_counts(r, &n);
            for (int i = 0; i < n.strategies; i++) {
                mc_report_strategy s;
                mc_report_strategy_at(r, i, &s);
                char fr[32];
                if (s.fraction >= 1)
                    snprintf(fr, sizeof fr, "100%%");
                else
                    snprintf(fr, sizeof fr, "%g%%", s.fraction * 100);
                fprintf(stderr, "  %s/%s/%s   (data %s, %s)\n", s.backbone, s.module, s.chain, s.data, fr);
            }
        } else if (crc < 0) {
            fprintf(stderr, "medcolor report: --compare %s: %s\n", cmps.v[c], mc_errmsg());
        }
        if (crc < 0) {
            mc_report_free(r);
            return crc == MC_EARG ? 2 : 1;
        }
    }
    mc_report_counts n;
    mc_report_get_counts(r, &n);
    char def[4200];
    if (!out) {
        if (n.grids == 1 && npos == 1)
            snprintf(def, sizeof def, "%s/report", pos[0]);
        else
            snprintf(def, sizeof def, "report");
        out = def;
    }
    char *text = NULL, **plots = NULL;
    int nplots = 0;
    rc = mc_report_text(r, &text);
    if (rc == MC_OK) {
        fputs(text, stdout);
        fflush(stdout);
        rc = mc_report_write(r, out, &plots, &nplots);
    }
    if (rc < 0) {
        fprintf(stderr, "medcolor report: %s\n", mc_errmsg());
    } else {
        for (int i = 0; i < nplots; i++) printf("plot: %s\n", plots[i]);
        printf("\nreport: %d runs, %d results, %d strategies -> %s/report.txt, runs.csv, summary.csv%s%s\n", n.runs,
               n.results, n.strategies, out, n.comparisons ? ", compare.csv" : "", nplots ? ", plots" : "");
    }
    free(text);
    mc_report_list_free(plots, nplots);
    mc_report_free(r);
    return rc < 0 ? 1 : 0;
}
