/* test_real_data.c — the published counts of the real label files.
 *
 * Needs the real files, which the project does not ship (CheXpert's is under Stanford's
 * research-use agreement): the folder named by $MEDCOLOR_TEST_DATA holds
 *   chexpert_train.csv.gz             CheXpert-v1.0-small's train.csv (labels only)
 *   nih_data_entry_2017_v2020.csv.gz  ChestX-ray14's Data_Entry_2017_v2020.csv
 * .ci/run sets it to the shared data folder beside the checkout when there is one; this test
 * reads only that variable. Without the variable or a file,
 * the test reports itself skipped (exit 77, "SKIP real_data: <why>"), never passed.
 *
 * References (docs/data.md, the thesis):
 *   - CheXpert: 223,414 rows, 191,027 frontal / 32,387 lateral, the positives of the paper's five
 *     labels under its policies (Table 4.1/4.2's 100% row), U-Ones − U-Zeros = the uncertain
 *     count, and all 18 subsets of Table 4.2 (3 seeds × 6 fractions), to the unit, through the
 *     draw itself and through subset= in a .data file; `medcolor stats` prints the counts;
 *   - ChestX-ray14: 112,120 rows, 30,805 patients, the positives of six findings; every image
 *     missing is reported at once with the count and a hint about the root. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "test.h"
#include "cli/cli.h"
#include "data/data_internal.h"

#define NAME "real_data"
#define CHX_LABELS "labels = Atelectasis:ones, Cardiomegaly:zeros, Consolidation:zeros, Edema:ones, Pleural Effusion:ones\n"

static char chx[1024], nih[1024];

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static mc_dataset *load(const char *text, const char *what) {
    mc_datafile *df;
    REQUIRE_OK(mc_datafile_parse(&df, text, "real.data", "."));
    mc_dataset *ds;
    int rc = mc_dataset_load(&ds, df, "train");
    REQUIRE(rc == 0, "%s: %s", what, mc_errmsg());
    mc_datafile_free(df);
    return ds;
}

static void test_chexpert_counts(void) {
    char d[1400];
    snprintf(d, sizeof d, "format = chexpert\ntrain = %s\n" CHX_LABELS, chx);
    double t0 = now();
    mc_dataset *ds = load(d, chx);
    double dt = now() - t0;
    printf("CheXpert train.csv.gz: %d rows loaded in %.0f ms\n", ds->n, dt * 1e3);
    mc_dataset_stats st;
    REQUIRE_OK(mc_dataset_stats_compute(ds, &st));
    CHECK(st.images == 223414, "CheXpert rows %d", st.images);
    CHECK(st.frontal == 191027 && st.lateral == 32387, "views %d / %d", st.frontal, st.lateral);
    const int pos[5] = {67115, 27000, 14783, 65230, 97815};
    for (int j = 0; j < 5; j++)
        CHECK(st.label[j].positive == pos[j], "%s: %d positives, expected %d", ds->labels[j], st.label[j].positive,
              pos[j]);
    /* U-Ignore: the uncertain values leave the counts; ones - zeros = uncertain = ignored */
    int ones_atel = st.label[0].positive, zeros_card = st.label[1].positive;
    int unc_atel = st.label[0].uncertain, unc_card = st.label[1].uncertain;
    int pol[5] = {MC_POLICY_ZEROS, MC_POLICY_ONES, MC_POLICY_IGNORE, MC_POLICY_IGNORE, MC_POLICY_IGNORE};
    REQUIRE_OK(mc_dataset_apply_policy(ds, pol));
    mc_dataset_stats st2;
    REQUIRE_OK(mc_dataset_stats_compute(ds, &st2));
    CHECK(ones_atel - st2.label[0].positive == unc_atel, "U-Ones - U-Zeros != uncertain (Atelectasis)");
    CHECK(st2.label[1].positive - zeros_card == unc_card, "U-Ones - U-Zeros != uncertain (Cardiomegaly)");
    CHECK(st2.label[2].ignored == st.label[2].uncertain && st2.label[2].positive == pos[2] &&
              st2.label[2].positive + st2.label[2].negative + st2.label[2].ignored == 223414,
          "U-Ignore on Consolidation");
    mc_dataset_stats_free(&st);
    mc_dataset_stats_free(&st2);
    mc_dataset_free(ds);

    char t[1500];
    snprintf(t, sizeof t, "%sview = frontal\n", d);
    ds = load(t, chx);
    CHECK(ds->n == 191027, "view = frontal: %d images", ds->n);
    mc_dataset_free(ds);
    printf("CheXpert: load time %.0f ms for 223,414 rows%s\n", dt * 1e3, dt < 1.0 ? " (under a second)" : "");
}

static int count_pos(const mc_dataset *ds, const int *idx, int k, int j) {
    int c = 0;
    for (int i = 0; i < k; i++) {
        size_t at = (size_t)idx[i] * (size_t)ds->nlabels + (size_t)j;
        c += ds->mask[at] != 0 && ds->y[at] == 1.0f;
    }
    return c;
}

/* Thesis Table 4.2: sizes and positives of the 18 subsets, to the unit. */
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
    char d[1400];
    snprintf(d, sizeof d, "format = chexpert\ntrain = %s\n" CHX_LABELS, chx);
    mc_dataset *ds = load(d, chx);
    REQUIRE(ds->n == 223414, "train.csv has %d rows, expected 223414", ds->n);
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

    /* The same through subset= / subset_seed= in a .data file. */
    char text[1600];
    snprintf(text, sizeof text, "%ssubset = 0.05\nsubset_seed = 8829\n", d);
    ds = load(text, chx);
    CHECK(ds->n == 11171, "subset= gave %d rows", ds->n);
    const int want[5] = {3338, 1400, 727, 3330, 4873};
    mc_dataset_stats st;
    REQUIRE_OK(mc_dataset_stats_compute(ds, &st));
    for (int j = 0; j < 5; j++)
        CHECK(st.label[j].positive == want[j], "subset= 0.05/8829 %s: %d positives, expected %d", ds->labels[j],
              st.label[j].positive, want[j]);
    mc_dataset_stats_free(&st);
    mc_dataset_free(ds);
}

/* `medcolor stats` prints the real counts (stdout captured to a file). */
static void test_stats_cli(void) {
    char data[600], out[600];
    snprintf(data, sizeof data, "%s/real.data", mc_test_tmp());
    snprintf(out, sizeof out, "%s/stats.txt", mc_test_tmp());
    FILE *f = fopen(data, "w");
    REQUIRE(f, "cannot write %s", data);
    fprintf(f, "format = chexpert\ntrain = %s\n" CHX_LABELS, chx);
    fclose(f);
    fflush(stdout);
    int saved = dup(1);
    f = fopen(out, "w");
    REQUIRE(f && saved >= 0, "capture");
    dup2(fileno(f), 1);
    char *argv[] = {"stats", data, "--root", ".", NULL};
    int rc = mc_cli_stats(4, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    fclose(f);
    CHECK(rc == 0, "stats exit %d", rc);
    char *text;
    REQUIRE_OK(mc_text_read(out, &text, NULL));
    CHECK(strstr(text, "images 223414") && strstr(text, "frontal 191027  lateral 32387"), "stats output:\n%s", text);
    CHECK(strstr(text, "Pleural Effusion  ones") && strstr(text, "97815"), "stats output:\n%s", text);
    free(text);
}

static void test_nih_counts(void) {
    char d[2600];
    snprintf(d, sizeof d,
             "format = nih\nentries = %s\nimages = %s.no-images-here\n"
             "labels = Atelectasis, Cardiomegaly, Consolidation, Edema, Effusion, No Finding\n",
             nih, nih);
    double t0 = now();
    mc_dataset *ds = load(d, nih);
    double dt = now() - t0;
    printf("ChestX-ray14 Data_Entry: %d rows loaded in %.0f ms\n", ds->n, dt * 1e3);
    mc_dataset_stats st;
    REQUIRE_OK(mc_dataset_stats_compute(ds, &st));
    CHECK(st.images == 112120 && st.patients == 30805, "NIH %d rows, %d patients", st.images, st.patients);
    const int pos[6] = {11559, 2776, 4667, 2303, 13317, 60361};
    for (int j = 0; j < 6; j++)
        CHECK(st.label[j].positive == pos[j], "NIH %s: %d positives, expected %d", ds->labels[j], st.label[j].positive,
              pos[j]);
    /* all missing: the message names the count and suggests the root */
    int nmiss = 0;
    CHECK(mc_dataset_check_files(ds, 3, &nmiss) == MC_ENOTFOUND && nmiss == 112120 &&
              strstr(mc_errmsg(), "112120 of 112120 image files are missing") && strstr(mc_errmsg(), "root"),
          "all-missing report: %s", mc_errmsg());
    mc_dataset_stats_free(&st);
    mc_dataset_free(ds);
}

int main(void) {
    const char *dir = getenv("MEDCOLOR_TEST_DATA");
    if (!dir || !*dir) {
        mc_test_skip(NAME, "MEDCOLOR_TEST_DATA is not set (the folder holding the real label files "
                           "chexpert_train.csv.gz and nih_data_entry_2017_v2020.csv.gz; .ci/run sets it "
                           "when the shared data folder is beside the checkout)");
        return mc_test_done(NAME);
    }
    snprintf(chx, sizeof chx, "%s/chexpert_train.csv.gz", dir);
    snprintf(nih, sizeof nih, "%s/nih_data_entry_2017_v2020.csv.gz", dir);
    if (access(chx, R_OK) == 0) {
        test_chexpert_counts();
        test_table_4_2();
        test_stats_cli();
    } else {
        mc_test_skip(NAME, "%s is missing (MEDCOLOR_TEST_DATA=%s): CheXpert's counts and Table 4.2 not checked", chx,
                     dir);
    }
    if (access(nih, R_OK) == 0)
        test_nih_counts();
    else
        mc_test_skip(NAME, "%s is missing (MEDCOLOR_TEST_DATA=%s): ChestX-ray14's counts not checked", nih, dir);
    return mc_test_done(NAME);
}
