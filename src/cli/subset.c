/* subset.c — `medcolor subset <file.data | labels.csv> --frac F --seed S -o out.csv`: writes the
 * rows pandas' DataFrame.sample(frac=F, random_state=S) picks (the thesis' CheXpert subsets,
 * Table 4.2), in pandas' order, byte-identical, under the input's own header. For a .data file
 * the rows are those of its train split (after its view / body-part filter and drawn splits)
 * and the output has the format of the train source (NIH: the Data_Entry file). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "core/core.h"
#include "mc_data.h"

static void subset_usage(FILE *f) {
    fprintf(f,
            "usage: medcolor subset <file.data | labels.csv> --frac F --seed S -o OUT [options]\n"
            "\n"
            "Keeps the rows that pandas' DataFrame.sample(frac=F, random_state=S) keeps: the first\n"
            "round(F*n) entries (round half to even) of numpy's RandomState(S).permutation(n), in that\n"
            "order. The output is a CSV in the input's own format: the same header, the chosen rows\n"
            "byte-identical. A .data file contributes the rows of its train split (after its view /\n"
            "body-part filter and drawn valid/test splits) and its train source's format. The\n"
            "thesis' CheXpert subsets: F in 0.1 0.05 0.01 0.005 0.002 0.001, S in 8 8829 2901.\n"
            "\n"
            "options:\n"
            "  --frac F          fraction of the rows to keep, in (0, 1] (default: subset= of the\n"
            "                    .data file; required for a CSV)\n"
            "  --seed S          random_state, 0..4294967295 (default: subset_seed= of the .data\n"
            "                    file; required for a CSV)\n"
            "  -o, --output OUT  the CSV to write, atomically; '-' = standard output; a name ending\n"
            "                    in .gz is gzip-compressed (required)\n"
            "  --root DIR        folder holding the datasets, for a .data file (default:\n"
            "                    $MEDCOLOR_DATA, else root= in the file, else the current directory)\n"
            "  --no-header       the CSV has no header line, e.g. MURA's image_paths.csv (default:\n"
            "                    the first line is a header)\n"
            "  --skip-bad        .data: skip malformed rows (default: a malformed row is an error)\n"
            "  -h, --help        this help\n");
}

static int opt_value(int argc, char **argv, int *i, const char *name, const char **val) {
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0) return 0;
    if (argv[*i][n] == '=') {
        *val = argv[*i] + n + 1;
        return 1;
    }
    if (argv[*i][n]) return 0;
    *val = *i + 1 < argc ? argv[++*i] : NULL;
    return 1;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

int mc_cli_subset(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *root = NULL, *fs = NULL, *ss = NULL, *v;
    int no_header = 0, skip_bad = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            subset_usage(stdout);
            return 0;
        }
        int matched = 1;
        if (opt_value(argc, argv, &i, "--frac", &v)) fs = v;
        else if (opt_value(argc, argv, &i, "--seed", &v)) ss = v;
        else if (opt_value(argc, argv, &i, "--output", &v) || opt_value(argc, argv, &i, "-o", &v)) out = v;
        else if (opt_value(argc, argv, &i, "--root", &v)) root = v;
        else matched = 0;
        if (matched) {
            if (!v) {
                fprintf(stderr, "medcolor subset: %s needs a value\n", argv[i]);
                return 2;
            }
            continue;
        }
        if (strcmp(argv[i], "--no-header") == 0) no_header = 1;
        else if (strcmp(argv[i], "--skip-bad") == 0) skip_bad = 1;
        else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "medcolor subset: unknown option '%s' (see --help)\n", argv[i]);
            return 2;
        } else if (!in) in = argv[i];
        else {
            fprintf(stderr, "medcolor subset: one input expected, got '%s' too\n", argv[i]);
            return 2;
        }
    }
    if (!in) {
        fprintf(stderr, "medcolor subset: no input given (a .data file or a CSV; see --help)\n");
        return 2;
    }
    if (!out) {
        fprintf(stderr, "medcolor subset: no output given (-o OUT; '-' for standard output)\n");
        return 2;
    }
    double frac = 0;
    unsigned long long seed = 0;
    if (fs) {
        char *end;
        errno = 0;
        frac = strtod(fs, &end);
        if (end == fs || *end || errno || !(frac > 0 && frac <= 1)) {
            fprintf(stderr, "medcolor subset: --frac must be a fraction in (0, 1], got '%s'\n", fs);
            return 2;
        }
    }
    if (ss) {
        char *end;
        errno = 0;
        seed = isdigit((unsigned char)ss[0]) ? strtoull(ss, &end, 10) : 0;
        if (!isdigit((unsigned char)ss[0]) || *end || errno || seed > 4294967295ULL) {
            fprintf(stderr, "medcolor subset: --seed must be an integer in 0..4294967295, got '%s'\n", ss);
            return 2;
        }
    }

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
    rows = mc_malloc((size_t)k * sizeof *rows, "row list");
    if (!rows) { rc = MC_ENOMEM; goto fail; }
    for (int i = 0; i < k; i++) rows[i] = ds ? ds->source_row[idx[i]] : idx[i];
    if ((rc = mc_csv_write_rows(src, header, rows, k, out)) < 0) goto fail;
    fprintf(stderr, "medcolor subset: wrote %d of %d rows (frac %g, seed %llu) of %s to %s\n", k, n, frac,
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
