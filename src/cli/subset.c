/* subset.c — `medcolor subset <file.data | labels.csv> --frac F --seed S -o out.csv`: writes the
 * rows pandas' DataFrame.sample(frac=F, random_state=S) picks (the thesis' CheXpert subsets,
 * Table 4.2), in pandas' order, byte-identical, under the input's own header. For a .data file
 * the rows are those of its train split (after its view / body-part filter and drawn splits)
 * and the output has the format of the train source (NIH: the Data_Entry file). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "core/core.h"
#include "mc_data.h"

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

int mc_cli_subset(int argc, char **argv) {
    const char *out = NULL, *root = NULL;
    double frac = NAN; /* NAN: not given */
    long seed_opt = -1;
    int no_header = 0, skip_bad = 0;
    const mc_opt opts[] = {
        {"--frac F", 'd', &frac, "fraction of the rows to keep, in (0, 1]",
         "subset= of the .data file; required for a CSV"},
        {"--seed S", 'i', &seed_opt, "random_state, 0..4294967295", "subset_seed= of the .data file; required for a CSV"},
        {"-o, --output OUT", 's', &out,
         "the CSV to write, atomically; '-' = standard output; a name ending in .gz is gzip-compressed (required)",
         NULL},
        {"--root DIR", 's', &root, "folder holding the datasets, for a .data file",
         "$MEDCOLOR_DATA, else root= in the file, else the current directory"},
        {"--no-header", 'f', &no_header, "the CSV has no header line, e.g. MURA's image_paths.csv",
         "the first line is a header"},
        {"--skip-bad", 'f', &skip_bad, ".data: skip malformed rows", "a malformed row is an error"},
        {NULL, 0, NULL, NULL, NULL}};
    const char *syn = "medcolor subset <file.data | labels.csv> --frac F --seed S -o OUT [options]";
    const char *about =
        "Keeps the rows that pandas' DataFrame.sample(frac=F, random_state=S) keeps: the first\n"
        "round(F*n) entries (round half to even) of numpy's RandomState(S).permutation(n), in that\n"
        "order. The output is a CSV in the input's own format: the same header, the chosen rows\n"
        "byte-identical. A .data file contributes the rows of its train split (after its view /\n"
        "body-part filter and drawn valid/test splits) and its train source's format (VinDr-CXR:\n"
        "every radiologist's record of each chosen image). The\n"
        "thesis' CheXpert subsets: F in 0.1 0.05 0.01 0.005 0.002 0.001, S in 8 8829 2901.";
    const char *pos[1];
    int npos;
    int r = mc_cli_parse("subset", argc, argv, opts, pos, 1, &npos, syn, about);
    if (r) return r == 1 ? 0 : 2;
    const char *in = npos ? pos[0] : NULL;
    if (!in) {
        fprintf(stderr, "medcolor subset: no input given (a .data file or a CSV; see --help)\n");
        return 2;
    }
    if (!out) {
        fprintf(stderr, "medcolor subset: no output given (-o OUT; '-' for standard output)\n");
        return 2;
    }
    int fs = !isnan(frac), ss = seed_opt >= 0;
    if (fs && !(frac > 0 && frac <= 1)) {
        fprintf(stderr, "medcolor subset: --frac must be a fraction in (0, 1], got %g\n", frac);
        return 2;
    }
    if (ss && seed_opt > 4294967295L) {
        fprintf(stderr, "medcolor subset: --seed must be an integer in 0..4294967295, got %ld\n", seed_opt);
        return 2;
    }
    unsigned long long seed = ss ? (unsigned long long)seed_opt : 0;
    if (!fs) frac = 0;

    int rc = MC_OK, n = 0, k = 0, *idx = NULL, *rows = NULL;
    mc_datafile *df = NULL;
    mc_dataset *ds = NULL;
    const char *src = in;
    int header = !no_header;
    if (ends_with(in, ".data")) {
        if ((rc = mc_datafile_load(&df, in, root)) < 0) goto fail;
        if (skip_bad) df->skip_bad = 1;
        if (!fs && df->subset > 0) frac = df->subset;
        if (!ss && df->subset > 0) seed = df->subset_seed;
        if (!(frac > 0) || (!ss && !(df->subset > 0))) {
            fprintf(stderr, "medcolor subset: give --frac and --seed (%s has no subset=)\n", in);
            mc_datafile_free(df);
            return 2;
        }
        df->subset = 0; /* the whole train split; the draw is made here */
        if ((rc = mc_dataset_load(&ds, df, "train")) < 0) goto fail;
        src = ds->source;
        header = ds->source_header;
        n = ds->n;
    } else {
        if (!fs || !ss) {
            fprintf(stderr, "medcolor subset: give --frac and --seed\n");
            return 2;
        }
        if ((rc = mc_csv_count_records(in, header, &n)) < 0) goto fail;
    }
    if ((rc = mc_pandas_sample(n, frac, (uint32_t)seed, &idx, &k)) < 0) goto fail;
    if (k == 0) {
        rc = mc_err(MC_EARG, "round(%g * %d) = 0 rows: nothing to write", frac, n);
        goto fail;
    }
    int nrows = k;
    if (ds) {
        if ((rc = mc_dataset_source_records(df, ds, idx, k, &rows, &nrows)) < 0) goto fail;
    } else {
        rows = mc_malloc((size_t)k * sizeof *rows, "row list");
        if (!rows) { rc = MC_ENOMEM; goto fail; }
        for (int i = 0; i < k; i++) rows[i] = idx[i];
    }
    if ((rc = mc_csv_write_rows(src, header, rows, nrows, out)) < 0) goto fail;
    char recs[48] = "";
    if (nrows != k) snprintf(recs, sizeof recs, " (%d records)", nrows);
    fprintf(stderr, "medcolor subset: wrote %d of %d rows%s (frac %g, seed %llu) of %s to %s\n", k, n, recs, frac,
            seed, src, strcmp(out, "-") == 0 ? "standard output" : out);
    free(idx);
    free(rows);
    mc_dataset_free(ds);
    mc_datafile_free(df);
    return 0;
fail:
    fprintf(stderr, "medcolor subset: %s\n", mc_errmsg());
    free(idx);
    free(rows);
    mc_dataset_free(ds);
    mc_datafile_free(df);
    return rc == MC_EARG ? 2 : 1;
}
