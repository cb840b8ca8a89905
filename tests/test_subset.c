/* test_subset.c — the thesis' subsets (subset= / subset_seed=, `medcolor subset`), exactly.
 *
 * References, all independent of the code under test:
 *   - MT19937's published outputs (seed 5489: first 3499211612, 10000th 4123659995, the value
 *     the C++ standard requires of std::mt19937);
 *   - numpy itself: tests/data/np_permutation.py prints RandomState(seed).permutation(n), the
 *     seeded key and raw outputs, run here with /usr/bin/python3;
 *   - tests/data/subset_ref.py: a generated label file in CheXpert's layout with the real
 *     train.csv's 223,414 rows (the draw depends only on the row count and the seed) and what the
 *     thesis' seeds (8, 8829, 2901) with Table 4.2's fractions must select from it — rows in
 *     order, targets, masks, positives, the subset command's CSV — computed with numpy from
 *     docs/data.md's description of the draw; also U-Ignore, and a view filter before the draw.
 * Table 4.2 itself (the counts of the real CheXpert file) is tests/test_real_data.c's: it needs
 * the real label files ($MEDCOLOR_TEST_DATA). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "test.h"
#include "cli/cli.h"
#include "data/data_internal.h"

#define NROWS 223414
static const char *labels_of[5] = {"Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion"};
static char ref[512];  /* the reference's folder (in $MC_TMP) */
static char chx[700];  /* its generated train.csv */

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

/* One case of the reference's cases.txt. */
typedef struct ref_case {
    char name[64], view[16], policies[64];
    double frac;
    unsigned seed;
    int size, pos[5];
} ref_case;

static int read_cases(ref_case *c, int cap) {
    char p[700];
    snprintf(p, sizeof p, "%s/cases.txt", ref);
    FILE *f = fopen(p, "r");
    REQUIRE(f, "cannot read %s", p);
    int n = 0;
    while (n < cap && fscanf(f, "%63s %lf %u %15s %63s %d %d %d %d %d %d", c[n].name, &c[n].frac, &c[n].seed, c[n].view,
                             c[n].policies, &c[n].size, &c[n].pos[0], &c[n].pos[1], &c[n].pos[2], &c[n].pos[3],
                             &c[n].pos[4]) == 11)
        n++;
    fclose(f);
    return n;
}

/* A .data text for the generated file: the case's view, policies and subset (none when c is
 * NULL: the whole file with the paper's policies). */
static void case_data(const ref_case *c, char *out, size_t cap) {
    char pol[5][16] = {"ones", "zeros", "zeros", "ones", "ones"};
    if (c) {
        int np = sscanf(c->policies, "%15[^,],%15[^,],%15[^,],%15[^,],%15s", pol[0], pol[1], pol[2], pol[3], pol[4]);
        REQUIRE(np == 5, "bad policies %s", c->policies);
    }
    int u = snprintf(out, cap, "format = chexpert\ntrain = %s\nlabels = %s:%s, %s:%s, %s:%s, %s:%s, %s:%s\n", chx,
                     labels_of[0], pol[0], labels_of[1], pol[1], labels_of[2], pol[2], labels_of[3], pol[3],
                     labels_of[4], pol[4]);
    if (c)
        snprintf(out + u, cap - (size_t)u, "view = %s\nsubset = %.17g\nsubset_seed = %u\n", c->view, c->frac, c->seed);
}

static mc_dataset *load_case(const ref_case *c) {
    char text[1400];
    case_data(c, text, sizeof text);
    mc_datafile *df;
    REQUIRE_OK(mc_datafile_parse(&df, text, "generated.data", "."));
    mc_dataset *ds;
    int rc = mc_dataset_load(&ds, df, "train");
    REQUIRE(rc == 0, "%s: %s", c ? c->name : "the whole file", mc_errmsg());
    mc_datafile_free(df);
    return ds;
}

/* The loaded selection against expected/NAME.txt: every row, in order (path, targets, mask). */
static int compare_selection(const mc_dataset *ds, const ref_case *c) {
    char p[1024], line[1024];
    snprintf(p, sizeof p, "%s/expected/%.63s.txt", ref, c->name);
    FILE *f = fopen(p, "r");
    REQUIRE(f, "cannot read %s", p);
    int i = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *tab1 = strchr(line, '\t'), *tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
        if (!tab1 || !tab2) REQUIRE(0, "%s:%d: bad line", p, i + 1); /* a malformed reference stops the test */
        *tab1 = *tab2 = 0;
        if (i < ds->n) {
            char want[1600], y[32], m[32];
            snprintf(want, sizeof want, "%s/%s", ref, line);
            size_t u = 0, v = 0;
            for (int j = 0; j < 5; j++) {
                size_t at = (size_t)i * 5 + (size_t)j;
                u += (size_t)snprintf(y + u, sizeof y - u, "%s%d", j ? "," : "", (int)ds->y[at]);
                v += (size_t)snprintf(m + v, sizeof m - v, "%s%d", j ? "," : "", (int)ds->mask[at]);
            }
            int ok = strcmp(ds->paths[i], want) == 0 && strcmp(y, tab1 + 1) == 0 && strcmp(m, tab2 + 1) == 0;
            if (!ok && bad++ < 3)
                fprintf(stderr, "  %s row %d: got %s [%s] [%s]\n  expected %s [%s] [%s]\n", c->name, i, ds->paths[i], y,
                        m, want, tab1 + 1, tab2 + 1);
        }
        i++;
    }
    fclose(f);
    CHECK(i == c->size, "%s: the reference lists %d rows, its cases.txt says %d", c->name, i, c->size);
    CHECK(ds->n == i, "%s: %d rows selected, the reference selects %d", c->name, ds->n, i);
    CHECK(bad == 0, "%s: %d of %d rows differ from the reference (order, path, targets or mask)", c->name, bad, i);
    return bad == 0 && ds->n == i;
}

/* The generated 223,414-row file: every case through subset= / subset_seed= (row by row, in
 * order, and the positive counts), and the draw itself (mc_pandas_sample) picking the same rows
 * of the whole file. */
static void test_generated(void) {
    ref_case c[32];
    int nc = read_cases(c, 32);
    REQUIRE(nc == 22, "the reference's cases.txt has %d cases, expected 22", nc);

    char p[700];
    snprintf(p, sizeof p, "%s/full.txt", ref);
    FILE *f = fopen(p, "r");
    REQUIRE(f, "cannot read %s", p);
    int n = 0, full[5];
    int got = fscanf(f, "%d %d %d %d %d %d", &n, &full[0], &full[1], &full[2], &full[3], &full[4]);
    fclose(f);
    REQUIRE(got == 6 && n == NROWS, "bad %s", p);
    mc_dataset *all = load_case(NULL);
    REQUIRE(all->n == NROWS, "the generated file loads as %d rows, expected %d", all->n, NROWS);
    mc_dataset_stats st;
    REQUIRE_OK(mc_dataset_stats_compute(all, &st));
    for (int j = 0; j < 5; j++)
        CHECK(st.label[j].positive == full[j], "whole file %s: %d positives, the reference %d", labels_of[j],
              st.label[j].positive, full[j]);
    mc_dataset_stats_free(&st);

    int exact = 0;
    for (int k = 0; k < nc; k++) {
        mc_dataset *ds = load_case(&c[k]);
        int ok = compare_selection(ds, &c[k]);
        REQUIRE_OK(mc_dataset_stats_compute(ds, &st));
        for (int j = 0; j < 5; j++) {
            CHECK(st.label[j].positive == c[k].pos[j], "%s %s: %d positives, the reference %d", c[k].name,
                  labels_of[j], st.label[j].positive, c[k].pos[j]);
            ok &= st.label[j].positive == c[k].pos[j];
        }
        mc_dataset_stats_free(&st);
        if (strcmp(c[k].view, "all") == 0) {
            int *idx, kk, same = 0;
            REQUIRE_OK(mc_pandas_sample(all->n, c[k].frac, c[k].seed, &idx, &kk));
            for (int i = 0; i < kk && i < ds->n; i++) same += strcmp(all->paths[idx[i]], ds->paths[i]) == 0;
            CHECK(kk == c[k].size && same == kk, "%s: mc_pandas_sample drew %d rows (%d the reference's), expected %d",
                  c[k].name, kk, same, c[k].size);
            ok &= kk == c[k].size && same == kk;
            free(idx);
        }
        exact += ok;
        mc_dataset_free(ds);
    }
    mc_dataset_free(all);
    CHECK(exact == nc, "%d of %d subsets of the generated file exact", exact, nc);
    printf("generated %d-row CheXpert file: %d of %d subsets exact (seeds 8, 8829, 2901 x Table 4.2's fractions, "
           "U-Ignore, frontal only)\n",
           NROWS, exact, nc);
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

static char *read_bytes(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    REQUIRE(f, "cannot read %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)(n > 0 ? n : 1));
    size_t rd = b ? fread(b, 1, (size_t)n, f) : 0;
    fclose(f);
    REQUIRE(b && rd == (size_t)n, "read %s", path);
    *len = (size_t)n;
    return b;
}

/* got (a file, decompressed when .gz) holds exactly the bytes of the reference's CSV. */
static int same_as_expected(const char *got, const char *name) {
    char want[700];
    snprintf(want, sizeof want, "%s/expected/%s.csv", ref, name);
    size_t wl, gl;
    char *w = read_bytes(want, &wl), *g;
    REQUIRE_OK(mc_text_read(got, &g, &gl));
    int same = wl == gl && memcmp(w, g, wl) == 0;
    if (!same) {
        size_t i = 0;
        while (i < wl && i < gl && w[i] == g[i]) i++;
        fprintf(stderr, "  %s: %zu bytes, the reference %zu; first difference at byte %zu\n", got, gl, wl, i);
    }
    free(w);
    free(g);
    return same;
}

/* `medcolor subset` on the generated file: the CSV it writes is the reference's byte for byte
 * (the header, then the chosen input lines in numpy's order), from a plain or gzip input, through
 * --frac/--seed or a .data's subset=, to a plain or .gz output. */
static void test_subset_cli(void) {
    char out_csv[600], out_data[600], out_gz[600], out_fromgz[600], dataf[600], gz[720];
    const char *tmp = mc_test_tmp();
    snprintf(out_csv, sizeof out_csv, "%s/sub_csv.csv", tmp);
    snprintf(out_data, sizeof out_data, "%s/sub_data.csv", tmp);
    snprintf(out_gz, sizeof out_gz, "%s/sub_gz.csv.gz", tmp);
    snprintf(out_fromgz, sizeof out_fromgz, "%s/sub_fromgz.csv", tmp);
    snprintf(dataf, sizeof dataf, "%s/sub.data", tmp);
    snprintf(gz, sizeof gz, "%s.gz", chx);

    const char *a1[] = {"subset", chx, "--frac", "0.002", "--seed", "2901", "-o", out_csv, NULL};
    CHECK(run_cli(mc_cli_subset, a1) == 0, "subset on the CSV failed");
    CHECK(same_as_expected(out_csv, "cli_f0.002_s2901"), "subset --frac 0.002 --seed 2901: not the reference's CSV");

    const char *a4[] = {"subset", gz, "--frac", "0.01", "--seed", "8829", "-o", out_fromgz, NULL};
    CHECK(run_cli(mc_cli_subset, a4) == 0, "subset on the .csv.gz failed");
    CHECK(same_as_expected(out_fromgz, "cli_f0.01_s8829"), "subset of the .gz input: not the reference's CSV");

    /* the .data route (subset= / subset_seed= as defaults) and gzip output: the same bytes */
    FILE *f = fopen(dataf, "w");
    REQUIRE(f, "cannot write %s", dataf);
    fprintf(f, "format = chexpert\ntrain = %s\nlabels = Atelectasis:ones, Edema:ones\nsubset = 0.002\nsubset_seed = 2901\n",
            chx);
    fclose(f);
    const char *a2[] = {"subset", dataf, "--root", ".", "-o", out_data, NULL};
    CHECK(run_cli(mc_cli_subset, a2) == 0, "subset on the .data failed");
    CHECK(same_as_expected(out_data, "cli_f0.002_s2901"), "the .data route wrote other bytes");
    const char *a3[] = {"subset", chx, "--frac=0.002", "--seed=2901", "--output", out_gz, NULL};
    CHECK(run_cli(mc_cli_subset, a3) == 0, "subset to .gz failed");
    CHECK(same_as_expected(out_gz, "cli_f0.002_s2901"), "the .gz output decompresses to other bytes");
    FILE *gzf = fopen(out_gz, "rb");
    REQUIRE(gzf, "cannot read %s", out_gz);
    int b0 = fgetc(gzf), b1 = fgetc(gzf);
    fclose(gzf);
    CHECK(b0 == 0x1f && b1 == 0x8b, "the .gz output is not gzip");

    /* Usage errors. */
    const char *e1[] = {"subset", chx, "--frac", "1.5", "--seed", "1", "-o", out_csv, NULL};
    CHECK(run_cli(mc_cli_subset, e1) == 2, "--frac 1.5 must be a usage error");
    const char *e2[] = {"subset", chx, "--frac", "0.1", "--seed", "1", NULL};
    CHECK(run_cli(mc_cli_subset, e2) == 2, "a missing -o must be a usage error");
    const char *e3[] = {"subset", chx, "--frac", "0.1", "--seed", "-3", "-o", out_csv, NULL};
    CHECK(run_cli(mc_cli_subset, e3) == 2, "a negative seed must be a usage error");
    const char *e4[] = {"subset", "no-such.csv", "--frac", "0.1", "--seed", "1", "-o", out_csv, NULL};
    CHECK(run_cli(mc_cli_subset, e4) == 1, "a missing input must be an error");
    const char *h[] = {"subset", "--help", NULL};
    CHECK(run_cli(mc_cli_subset, h) == 0, "--help");
}

int main(void) {
    test_mt19937();
    test_sample_size();
    test_vs_numpy();
    snprintf(ref, sizeof ref, "%s/generated", mc_test_tmp());
    snprintf(chx, sizeof chx, "%s/CheXpert-v1.0-small/train.csv", ref);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && /usr/bin/python3 tests/data/subset_ref.py '%s'", ref, ref);
    int rc = system(cmd);
    REQUIRE(rc == 0, "the reference failed: %s", cmd);
    test_generated();
    test_subset_cli();
    return mc_test_done("subset");
}
