/* test_subset.c — the thesis' CheXpert subsets, reproduced exactly.
 *
 * References, all independent of the code under test:
 *   - MT19937's published outputs (seed 5489: first 3499211612, 10000th 4123659995, the value
 *     the C++ standard requires of std::mt19937);
 *   - numpy itself: tests/data/np_permutation.py prints RandomState(seed).permutation(n), the
 *     seeded key and raw outputs, run here with /usr/bin/python3;
 *   - thesis Table 4.2 (spec datasets.md): sizes and positive counts of all 18 subsets of the
 *     real CheXpert train.csv (../shared/data/chexpert_train.csv.gz) under the paper's policies;
 *   - the subset command's output rows compared byte for byte with the input's lines at numpy's
 *     indices. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "test.h"
#include "cli/cli.h"
#include "data/data_internal.h"

#define CHX "../shared/data/chexpert_train.csv.gz"

static const char *paper_data =
    "format = chexpert\n"
    "train = " CHX "\n"
    "labels = Atelectasis:ones, Cardiomegaly:zeros, Consolidation:zeros, Edema:ones, Pleural Effusion:ones\n";

static void test_mt19937(void) {
    mc_mt19937 s;
    mc_mt19937_seed(&s, 5489);
    uint32_t first = mc_mt19937_next(&s), v = first;
    for (int i = 1; i < 10000; i++) v = mc_mt19937_next(&s);
    CHECK(first == 3499211612u, "MT19937(5489) first output %u, expected 3499211612", first);
    CHECK(v == 4123659995u, "MT19937(5489) 10000th output %u, expected 4123659995", v);
}

/* Runs the numpy reference and checks the permutations, the seeded state and raw outputs. */
static void test_vs_numpy(void) {
    char out[512], cmd[2048];
    snprintf(out, sizeof out, "%s/np_perm.txt", mc_test_tmp());
    /* n = 1, 2 and powers of two around the mask boundary, the real size, large seeds. */
    const char *specs = "0:1 0:2 0:10 8:1000 8829:5 2901:65536 2901:65537 12345:70000 "
                        "4294967295:1000 1:223414 8:223414 8829:223414";
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/data/np_permutation.py %s %s", out, specs);
    int rc = system(cmd);
    REQUIRE(rc == 0, "numpy reference failed: %s", cmd);
    FILE *f = fopen(out, "r");
    REQUIRE(f, "cannot read %s", out);
    char tag[16];
    int lines = 0, perms = 0;
    while (fscanf(f, "%15s", tag) == 1) {
        lines++;
        if (strcmp(tag, "STATE") == 0) {
            unsigned long seed;
            int got1 = fscanf(f, "%lu", &seed);
            REQUIRE(got1 == 1, "bad STATE line");
            mc_mt19937 s;
            mc_mt19937_seed(&s, (uint32_t)seed);
            int bad = 0, unread = 0;
            for (int i = 0; i < 624; i++) {
                unsigned long k;
                if (fscanf(f, "%lu", &k) != 1) unread++;
                else bad += s.mt[i] != (uint32_t)k;
            }
            REQUIRE(unread == 0, "bad STATE line");
            CHECK(bad == 0, "seed %lu: %d of 624 state words differ from numpy's", seed, bad);
        } else if (strcmp(tag, "RAW") == 0) {
            unsigned long seed;
            int got1 = fscanf(f, "%lu", &seed);
            REQUIRE(got1 == 1, "bad RAW line");
            mc_mt19937 s;
            mc_mt19937_seed(&s, (uint32_t)seed);
            for (int i = 0; i < 10; i++) {
                unsigned long v;
                int got2 = fscanf(f, "%lu", &v);
                REQUIRE(got2 == 1, "bad RAW line");
                uint32_t got = mc_mt19937_next(&s);
                CHECK(got == (uint32_t)v, "seed %lu output %d: %u, numpy %lu", seed, i, got, v);
            }
        } else {
            unsigned long seed = strtoul(tag, NULL, 10);
            int n, k;
            int got1 = fscanf(f, "%d %d", &n, &k);
            REQUIRE(got1 == 2, "bad permutation line");
            int *perm = malloc((size_t)n * sizeof *perm);
            REQUIRE(perm, "oom");
            REQUIRE_OK(mc_np_permutation((uint32_t)seed, n, perm));
            int first_bad = -1, unread = 0;
            for (int i = 0; i < k; i++) {
                int v;
                if (fscanf(f, "%d", &v) != 1) unread++;
                else if (perm[i] != v && first_bad < 0) first_bad = i;
            }
            REQUIRE(unread == 0, "bad permutation line");
            CHECK(first_bad < 0, "permutation(seed %lu, n %d) differs from numpy at %d", seed, n, first_bad);
            free(perm);
            perms++;
        }
    }
    fclose(f);
    CHECK(perms == 12 && lines > 12, "read %d permutations from the numpy reference", perms);
}

static void test_sample_size(void) {
    /* Table 4.2's sizes of 223414 rows, and Python's round() ties to even. */
    const double fr[] = {1, 0.1, 0.05, 0.01, 0.005, 0.002, 0.001};
    const int sz[] = {223414, 22341, 11171, 2234, 1117, 447, 223};
    for (int i = 0; i < 7; i++)
        CHECK(mc_sample_size(fr[i], 223414) == sz[i], "size(%g) = %d, Table 4.2 says %d", fr[i],
              mc_sample_size(fr[i], 223414), sz[i]);
    CHECK(mc_sample_size(0.5, 5) == 2, "round(2.5) must be 2 (half to even)");
    CHECK(mc_sample_size(0.5, 7) == 4, "round(3.5) must be 4");
    CHECK(mc_sample_size(0.5, 9) == 4, "round(4.5) must be 4");
    CHECK(mc_sample_size(1.5, 10) < 0, "a fraction above 1 is refused");
}

static int count_pos(const mc_dataset *ds, const int *idx, int k, int j) {
    int c = 0;
    for (int i = 0; i < k; i++) {
        size_t at = (size_t)idx[i] * (size_t)ds->nlabels + (size_t)j;
        c += ds->mask[at] != 0 && ds->y[at] == 1.0f;
    }
    return c;
}

static void test_table_4_2(void) {
    static const struct { double frac; int size; unsigned seed; int pos[5]; } t[] = {
        {0.1, 22341, 8, {6647, 2770, 1509, 6519, 9796}},    {0.1, 22341, 8829, {6665, 2691, 1437, 6624, 9684}},
        {0.1, 22341, 2901, {6698, 2641, 1535, 6520, 9682}}, {0.05, 11171, 8, {3296, 1415, 788, 3281, 4874}},
        {0.05, 11171, 8829, {3338, 1400, 727, 3330, 4873}}, {0.05, 11171, 2901, {3346, 1346, 793, 3273, 4925}},
        {0.01, 2234, 8, {664, 289, 154, 654, 986}},         {0.01, 2234, 8829, {680, 286, 143, 641, 1004}},
        {0.01, 2234, 2901, {675, 289, 179, 655, 999}},      {0.005, 1117, 8, {335, 146, 67, 337, 498}},
        {0.005, 1117, 8829, {348, 144, 79, 324, 501}},      {0.005, 1117, 2901, {326, 144, 95, 315, 502}},
        {0.002, 447, 8, {131, 57, 30, 118, 202}},           {0.002, 447, 8829, {134, 53, 28, 148, 193}},
        {0.002, 447, 2901, {144, 58, 41, 124, 213}},        {0.001, 223, 8, {65, 31, 12, 62, 105}},
        {0.001, 223, 8829, {63, 25, 15, 72, 95}},           {0.001, 223, 2901, {76, 32, 14, 68, 105}},
    };
    mc_datafile *df;
    REQUIRE_OK(mc_datafile_parse(&df, paper_data, "table42.data", "."));
    mc_dataset *ds;
    int rc = mc_dataset_load(&ds, df, "train");
    REQUIRE(rc == 0, "the real CheXpert train.csv is needed (%s): %s", CHX, mc_errmsg());
    REQUIRE(ds->n == 223414, "train.csv has %d rows, expected 223414", ds->n);
    /* The 100% row. */
    int *all = malloc((size_t)ds->n * sizeof *all);
    REQUIRE(all, "oom");
    for (int i = 0; i < ds->n; i++) all[i] = i;
    const int full[5] = {67115, 27000, 14783, 65230, 97815};
    for (int j = 0; j < 5; j++)
        CHECK(count_pos(ds, all, ds->n, j) == full[j], "100%%: label %d has %d positives, expected %d", j,
              count_pos(ds, all, ds->n, j), full[j]);
    free(all);
    int rows_ok = 0;
    for (size_t r = 0; r < sizeof t / sizeof t[0]; r++) {
        int *idx, k;
        REQUIRE_OK(mc_pandas_sample(ds->n, t[r].frac, t[r].seed, &idx, &k));
        int ok = k == t[r].size;
        CHECK(k == t[r].size, "frac %g seed %u: %d rows, expected %d", t[r].frac, t[r].seed, k, t[r].size);
        for (int j = 0; j < 5; j++) {
            int c = count_pos(ds, idx, k, j);
            ok &= c == t[r].pos[j];
            CHECK(c == t[r].pos[j], "frac %g seed %u label %s: %d positives, Table 4.2 says %d", t[r].frac,
                  t[r].seed, ds->labels[j], c, t[r].pos[j]);
        }
        rows_ok += ok;
        free(idx);
    }
    CHECK(rows_ok == 18, "%d of 18 Table 4.2 rows reproduced", rows_ok);
    printf("Table 4.2: %d of 18 rows reproduced to the unit\n", rows_ok);
    mc_dataset_free(ds);
    mc_datafile_free(df);

    /* The same through subset= / subset_seed= in a .data file. */
    char text[1024];
    snprintf(text, sizeof text, "%ssubset = 0.05\nsubset_seed = 8829\n", paper_data);
    REQUIRE_OK(mc_datafile_parse(&df, text, "sub.data", "."));
    REQUIRE_OK(mc_dataset_load(&ds, df, "train"));
    CHECK(ds->n == 11171, "subset= gave %d rows", ds->n);
    const int want[5] = {3338, 1400, 727, 3330, 4873};
    mc_dataset_stats st;
    REQUIRE_OK(mc_dataset_stats_compute(ds, &st));
    for (int j = 0; j < 5; j++)
        CHECK(st.label[j].positive == want[j], "subset= 0.05/8829 %s: %d positives, expected %d",
              ds->labels[j], st.label[j].positive, want[j]);
    mc_dataset_stats_free(&st);
    mc_dataset_free(ds);
    mc_datafile_free(df);
}

/* Splits text into lines (in place); returns the count. */
static int split_lines(char *text, char ***out) {
    int cap = 1024, n = 0;
    char **v = malloc((size_t)cap * sizeof *v);
    REQUIRE(v, "oom");
    for (char *s = text; s && *s;) {
        char *nl = strchr(s, '\n');
        if (nl) *nl = 0;
        if (n == cap) {
            cap *= 2;
            v = realloc(v, (size_t)cap * sizeof *v);
            REQUIRE(v, "oom");
        }
        v[n++] = s;
        s = nl ? nl + 1 : NULL;
    }
    *out = v;
    return n;
}

static int run_cli(int (*fn)(int, char **), const char *const *args) {
    char *argv[32];
    int argc = 0;
    while (args[argc]) {
        argv[argc] = (char *)args[argc];
        argc++;
    }
    argv[argc] = NULL;
    return fn(argc, argv);
}

static void test_subset_cli(void) {
    char out_csv[512], out_data[512], out_gz[512], dataf[512], npout[512], cmd[1024];
    const char *tmp = mc_test_tmp();
    snprintf(out_csv, sizeof out_csv, "%s/sub_csv.csv", tmp);
    snprintf(out_data, sizeof out_data, "%s/sub_data.csv", tmp);
    snprintf(out_gz, sizeof out_gz, "%s/sub_gz.csv.gz", tmp);
    snprintf(dataf, sizeof dataf, "%s/sub.data", tmp);
    snprintf(npout, sizeof npout, "%s/np_sub.txt", tmp);

    const char *a1[] = {"subset", CHX, "--frac", "0.002", "--seed", "2901", "-o", out_csv, NULL};
    CHECK(run_cli(mc_cli_subset, a1) == 0, "subset on the CSV failed");
    /* numpy's indices for the same draw */
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/data/np_permutation.py %s 2901:223414:447", npout);
    int src = system(cmd);
    REQUIRE(src == 0, "numpy reference failed");
    FILE *f = fopen(npout, "r");
    REQUIRE(f, "cannot read %s", npout);
    int seed, n, k;
    int got3 = fscanf(f, "%d %d %d", &seed, &n, &k);
    REQUIRE(got3 == 3 && k == 447, "bad numpy output");
    int *np = malloc((size_t)k * sizeof *np);
    REQUIRE(np, "oom");
    int unread = 0;
    for (int i = 0; i < k; i++) unread += fscanf(f, "%d", &np[i]) != 1;
    REQUIRE(unread == 0, "bad numpy output");
    fclose(f);

    char *orig, *got;
    size_t olen, glen;
    REQUIRE_OK(mc_text_read(CHX, &orig, &olen));
    REQUIRE_OK(mc_text_read(out_csv, &got, &glen));
    char **ol, **gl;
    int no = split_lines(orig, &ol), ng = split_lines(got, &gl);
    CHECK(no == 223415, "the original has %d lines", no);
    CHECK(ng == 448, "the subset has %d lines, expected the header + 447", ng);
    CHECK(ng > 0 && strcmp(gl[0], ol[0]) == 0, "the header is not the input's");
    int same = 0;
    for (int i = 0; i + 1 < ng && i < k; i++) same += strcmp(gl[i + 1], ol[1 + np[i]]) == 0;
    CHECK(same == 447, "%d of 447 rows are byte-identical to the input's rows at numpy's indices", same);

    /* The .data route: subset= / subset_seed= as defaults, same bytes; and gzip output. */
    f = fopen(dataf, "w");
    REQUIRE(f, "cannot write %s", dataf);
    fprintf(f, "%ssubset = 0.002\nsubset_seed = 2901\n", paper_data);
    fclose(f);
    const char *a2[] = {"subset", dataf, "--root", ".", "-o", out_data, NULL};
    CHECK(run_cli(mc_cli_subset, a2) == 0, "subset on the .data failed");
    const char *a3[] = {"subset", CHX, "--frac=0.002", "--seed=2901", "--output", out_gz, NULL};
    CHECK(run_cli(mc_cli_subset, a3) == 0, "subset to .gz failed");
    char *d, *z;
    size_t dlen, zlen;
    REQUIRE_OK(mc_text_read(out_data, &d, &dlen));
    REQUIRE_OK(mc_text_read(out_gz, &z, &zlen));
    f = fopen(out_csv, "rb");
    REQUIRE(f, "cannot read %s", out_csv);
    char *raw = malloc(glen + 1);
    size_t rd = raw ? fread(raw, 1, glen, f) : 0;
    REQUIRE(raw && rd == glen, "read failed");
    fclose(f);
    CHECK(dlen == glen && memcmp(d, raw, glen) == 0, "the .data route wrote other bytes");
    CHECK(zlen == glen && memcmp(z, raw, glen) == 0, "the .gz output decompresses to other bytes");
    FILE *gzf = fopen(out_gz, "rb");
    REQUIRE(gzf, "cannot read %s", out_gz);
    int b0 = fgetc(gzf), b1 = fgetc(gzf);
    fclose(gzf);
    CHECK(b0 == 0x1f && b1 == 0x8b, "the .gz output is not gzip");

    /* Usage errors. */
    const char *e1[] = {"subset", CHX, "--frac", "1.5", "--seed", "1", "-o", out_csv, NULL};
    CHECK(run_cli(mc_cli_subset, e1) == 2, "--frac 1.5 must be a usage error");
    const char *e2[] = {"subset", CHX, "--frac", "0.1", "--seed", "1", NULL};
    CHECK(run_cli(mc_cli_subset, e2) == 2, "a missing -o must be a usage error");
    const char *e3[] = {"subset", CHX, "--frac", "0.1", "--seed", "-3", "-o", out_csv, NULL};
    CHECK(run_cli(mc_cli_subset, e3) == 2, "a negative seed must be a usage error");
    const char *e4[] = {"subset", "no-such.csv", "--frac", "0.1", "--seed", "1", "-o", out_csv, NULL};
    CHECK(run_cli(mc_cli_subset, e4) == 1, "a missing input must be an error");
    const char *h[] = {"subset", "--help", NULL};
    CHECK(run_cli(mc_cli_subset, h) == 0, "--help");

    free(np);
    free(orig);
    free(got);
    free(ol);
    free(gl);
    free(d);
    free(z);
    free(raw);
}

int main(void) {
    test_mt19937();
    test_sample_size();
    test_vs_numpy();
    test_table_4_2();
    test_subset_cli();
    return mc_test_done("subset");
}
