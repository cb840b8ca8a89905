/* stats.c — `medcolor stats <file.data>`: per split, the images, patients, views and, per
 * label, positive / negative counts after the uncertainty policy plus the uncertain, ignored
 * and blank counts: what a researcher checks before training. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "core/core.h"
#include "mc_data.h"

static void print_split(const mc_dataset *ds, const mc_dataset_stats *st) {
    printf("%s  %s\n", ds->split, ds->source);
    printf("  images %d  patients ", st->images);
    if (st->patients >= 0) printf("%d", st->patients);
    else printf("-");
    if (st->frontal || st->lateral) printf("  frontal %d  lateral %d", st->frontal, st->lateral);
    printf("\n");
    if (ds->skipped)
        printf("  skipped %d malformed rows (first: %s)\n", ds->skipped,
               ds->skipped_first ? ds->skipped_first : "?");
    if (ds->left_out)
        printf("  left out %d rows by the format's rules (first: %s)\n", ds->left_out,
               ds->left_out_first ? ds->left_out_first : "?");
    int w = 5;
    for (int j = 0; j < ds->nlabels; j++)
        if ((int)strlen(ds->labels[j]) > w) w = (int)strlen(ds->labels[j]);
    printf("  %-*s  %-6s  %8s  %8s  %9s  %7s  %7s\n", w, "label", "policy", "positive", "negative",
           "uncertain", "ignored", "blank");
    for (int j = 0; j < ds->nlabels; j++) {
        const mc_label_stats *l = &st->label[j];
        printf("  %-*s  %-6s  %8d  %8d  %9d  %7d  %7d\n", w, ds->labels[j],
               mc_policy_name(ds->policy ? ds->policy[j] : 0), l->positive, l->negative, l->uncertain,
               l->ignored, l->blank);
    }
}

int mc_cli_stats(int argc, char **argv) {
    const char *root = NULL, *splits = NULL;
    int skip_bad = 0, check = 0, decode = 0, quiet = 0;
    const mc_opt opts[] = {
        {"--root DIR", 's', &root, "folder holding the datasets",
         "$MEDCOLOR_DATA, else root= in the file, else the current directory"},
        {"--split LIST", 's', &splits, "comma-separated splits to show", "every split the file has"},
        {"--skip-bad", 'f', &skip_bad, "skip malformed rows and count them",
         "a malformed row is an error naming file:line, unless the file says bad_rows = skip"},
        {"--check-files", 'f', &check,
         "also open every image file and read its header (a PNG or JPEG medcolor decodes, of a size it takes), "
         "listing every bad file", "off"},
        {"--decode", 'f', &decode, "with --check-files: decode every image whole (slower; also finds files damaged "
         "after their header)", "headers only"},
        {"--quiet", 'f', &quiet, "no progress on stderr while checking files", NULL},
        MC_CLI_WINDOW_OPT,
        {NULL, 0, NULL, NULL, NULL}};
    const char *syn = "medcolor stats <file.data> [options]";
    const char *about =
        "Per split (train, valid, test): images, distinct patients, frontal/lateral views, and per\n"
        "label the positive and negative targets after the uncertainty policy, the uncertain (-1)\n"
        "values of the source, the ignored targets (U-Ignore) and the blanks (not mentioned,\n"
        "counted as negative). The .data format is described in docs/data.md.";
    const char *pos[1];
    int npos;
    int r = mc_cli_parse("stats", argc, argv, opts, pos, 1, &npos, syn, about);
    if (r) return r == 1 ? 0 : 2;
    if (!npos) {
        fprintf(stderr, "medcolor stats: no .data file given (see --help)\n");
        return 2;
    }
    const char *file = pos[0];
    mc_datafile *df;
    if (mc_datafile_load(&df, file, root) < 0) {
        fprintf(stderr, "medcolor stats: %s\n", mc_errmsg());
        return 1;
    }
    if (skip_bad) df->skip_bad = 1;
    const char *all[3] = {"train", "valid", "test"};
    int want[3] = {0, 0, 0};
    if (splits) {
        char *copy = mc_strdup(splits), *save = NULL;
        if (!copy) {
            fprintf(stderr, "medcolor stats: %s\n", mc_errmsg());
            mc_datafile_free(df);
            return 1;
        }
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            int k = 0;
            while (k < 3 && strcmp(t, all[k]) != 0) k++;
            if (k == 3) {
                fprintf(stderr, "medcolor stats: unknown split '%s' (train, valid, test)\n", t);
                free(copy);
                mc_datafile_free(df);
                return 2;
            }
            want[k] = 1;
        }
        free(copy);
    } else {
        for (int k = 0; k < 3; k++) want[k] = mc_datafile_has_split(df, all[k]);
    }
    printf("dataset  %s (format %s, root %s from %s)\n", df->path, mc_format_name(df->format), df->root,
           df->root_from);
    if (df->subset > 0) printf("subset   train: frac %g, seed %u\n", df->subset, (unsigned)df->subset_seed);
    int status = 0;
    if (decode) check = 1;
    /* every split is shown: one that cannot be read (missing, empty) is reported and the others go on */
    for (int k = 0; k < 3; k++) {
        if (!want[k]) continue;
        mc_dataset *ds;
        mc_dataset_stats st;
        if (mc_dataset_load(&ds, df, all[k]) < 0) {
            fflush(stdout);
            fprintf(stderr, "medcolor stats: %s: %s\n", all[k], mc_errmsg());
            status = 1;
            continue;
        }
        if (mc_dataset_stats_compute(ds, &st) < 0) {
            fflush(stdout);
            fprintf(stderr, "medcolor stats: %s: %s\n", all[k], mc_errmsg());
            mc_dataset_free(ds);
            status = 1;
            continue;
        }
        print_split(ds, &st);
        mc_dataset_stats_free(&st);
        if (check) {
            mc_bad_image *bad;
            int nbad;
            char what[64];
            snprintf(what, sizeof what, "%s images", all[k]);
            mc_cli_pass prog;
            mc_cli_pass_init(&prog, "stats", what, quiet);
            fflush(stdout);
            if (mc_dataset_check_images(ds, decode, &bad, &nbad, mc_cli_pass_progress, &prog) < 0) {
                fprintf(stderr, "medcolor stats: %s\n", mc_errmsg());
                status = 1;
            } else if (nbad == 0) {
                printf("  all %d image files readable (%s)\n", ds->n, decode ? "decoded whole" : "headers checked");
            } else {
                printf("  %d of %d image files are bad (%s):\n", nbad, ds->n,
                       decode ? "decoded whole" : "headers checked; --decode also decodes them");
                for (int i = 0; i < nbad; i++) printf("    %s\n", bad[i].why);
                status = 1;
            }
            mc_bad_images_free(bad, nbad);
        }
        mc_dataset_free(ds);
    }
    mc_datafile_free(df);
    return status;
}
