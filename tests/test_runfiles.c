/* test_runfiles.c — the files a run and a grid write, each through the one module that owns its
 * format (src/train/runfiles.c: log.csv, valid.csv, results.csv; src/study/runindex.c:
 * runs.tsv):
 *   - round trips: written, read back, equal field by field (values chosen to be exact at the
 *     precision each column is written with; labels and paths with commas and quotes);
 *   - the cut on resume: the rows a stage wrote after its checkpoint go, others' stay;
 *   - malformed files: the error names file:line (and the field) for a bad number, a wrong
 *     field count, an unknown stage, a bad header, an unclosed quote, a bad runs.tsv value. */
#include "test.h"
#include <unistd.h>

static char tmp[512];

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    REQUIRE(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* the call fails and its message holds `expect` */
static int fails_with(int rc, const char *expect) {
    int ok = rc < 0 && strstr(mc_errmsg(), expect) != NULL;
    if (!ok) fprintf(stderr, "  expected an error with '%s', got rc %d: %s\n", expect, rc, mc_errmsg());
    return ok;
}

static void test_log(void) {
    char path[700];
    snprintf(path, sizeof path, "%s/log.csv", tmp);
    unlink(path);
    const mc_log_row rows[] = {{MC_STAGE_COLOR, 1, 1, 0.693147, 1.234567e-04, 0.95, 0.125},
                               {MC_STAGE_COLOR, 1, 2, 0.5, 2.5e-03, 0.949, 1.5},
                               {MC_STAGE_COLOR, 2, 3, 0.25, 3.000001e-03, 0.9, 2.75},
                               {MC_STAGE_ALL, 1, 1, 0.125, 1e-02, 0.85, 0.001},
                               {MC_STAGE_ALL, 1, 2, 0.0625, 9.999999e-05, 0.95, 3600.5}};
    int n = (int)(sizeof rows / sizeof rows[0]);
    FILE *f;
    REQUIRE_OK(mc_log_open(&f, path));
    for (int i = 0; i < 3; i++) REQUIRE_OK(mc_log_append(f, path, &rows[i]));
    fclose(f);
    REQUIRE_OK(mc_log_open(&f, path)); /* reopened: appends, no second header */
    for (int i = 3; i < n; i++) REQUIRE_OK(mc_log_append(f, path, &rows[i]));
    fclose(f);
    mc_log_row *back;
    int nb;
    REQUIRE_OK(mc_log_read(path, &back, &nb));
    CHECK(nb == n, "log.csv: %d rows read back, %d written", nb, n);
    for (int i = 0; i < nb && i < n; i++)
        CHECK(back[i].stage == rows[i].stage && back[i].epoch == rows[i].epoch && back[i].iter == rows[i].iter &&
                  back[i].loss == rows[i].loss && back[i].lr == rows[i].lr && back[i].momentum == rows[i].momentum &&
                  back[i].seconds == rows[i].seconds,
              "log.csv row %d: %s %d %ld %.9g %.9g %.9g %.9g", i + 1, mc_stage_name(back[i].stage), back[i].epoch,
              back[i].iter, back[i].loss, back[i].lr, back[i].momentum, back[i].seconds);
    free(back);

    /* the cut on resume of the all stage from its checkpoint at iteration 1: its row 2 goes */
    REQUIRE_OK(mc_log_open(&f, path));
    REQUIRE_OK(mc_log_cut(f, path, MC_STAGE_ALL, 1));
    fclose(f);
    REQUIRE_OK(mc_log_read(path, &back, &nb));
    CHECK(nb == n - 1 && back[nb - 1].stage == MC_STAGE_ALL && back[nb - 1].iter == 1, "cut: %d rows", nb);
    free(back);
    /* a stage that is not at the end of the file is left alone */
    REQUIRE_OK(mc_log_open(&f, path));
    REQUIRE_OK(mc_log_cut(f, path, MC_STAGE_COLOR, 1));
    fclose(f);
    REQUIRE_OK(mc_log_read(path, &back, &nb));
    CHECK(nb == n - 1, "a cut of an earlier stage's rows: %d rows", nb);
    free(back);

    /* malformed */
    const char *H = "stage,epoch,iter,loss,lr,momentum,seconds\n";
    char text[512];
    snprintf(text, sizeof text, "%scolor,1,1,0.5,1e-3,0.9,1.0\ncolor,1,2,0.4,abc,0.9,2.0\n", H);
    write_text(path, text);
    CHECK(fails_with(mc_log_read(path, &back, &nb), "log.csv:3: lr 'abc' is not a number"), "bad number");
    snprintf(text, sizeof text, "%scolor,1,1,0.5,1e-3,0.9\n", H);
    write_text(path, text);
    CHECK(fails_with(mc_log_read(path, &back, &nb), "log.csv:2: 6 fields, the header has 7"), "short row");
    snprintf(text, sizeof text, "%s\ncolor,1,1,0.5,1e-3,0.9,1\nfly,1,2,0.5,1e-3,0.9,1\n", H);
    write_text(path, text);
    CHECK(fails_with(mc_log_read(path, &back, &nb), "log.csv:4: stage 'fly'"), "unknown stage (blank lines counted)");
    snprintf(text, sizeof text, "%scolor,0,1,0.5,1e-3,0.9,1\n", H);
    write_text(path, text);
    CHECK(fails_with(mc_log_read(path, &back, &nb), "log.csv:2: epoch '0'"), "epoch 0");
    write_text(path, "stage,epoch,iter,loss\ncolor,1,1,0.5\n");
    CHECK(fails_with(mc_log_read(path, &back, &nb), "log.csv:1: the header is not"), "header");
    write_text(path, "");
    CHECK(fails_with(mc_log_read(path, &back, &nb), "log.csv: empty"), "empty file");
}

static void test_valid(void) {
    char path[700];
    snprintf(path, sizeof path, "%s/valid.csv", tmp);
    unlink(path);
    const char *labels[] = {"Atelectasis", "Pleural Effusion", "a, \"quoted\" label"};
    mc_valid_row rows[3] = {{MC_STAGE_COLOR, 10, 1, 0.5, 3, {0.75, 0.5, NAN}, 0.625},
                            {MC_STAGE_COLOR, 20, 2, 0.4375, 3, {0.8125, 0.625, 0.5}, 0.645833},
                            {MC_STAGE_COLOR, 30, 3, 0.375, 3, {0.875, 0.6875, 0.25}, 0.604167}};
    FILE *f;
    REQUIRE_OK(mc_valid_open(&f, path, labels, 3));
    for (int i = 0; i < 3; i++) REQUIRE_OK(mc_valid_append(f, path, &rows[i]));
    fclose(f);
    mc_valid_log v;
    REQUIRE_OK(mc_valid_read(path, &v));
    CHECK(v.nlabels == 3 && v.n == 3, "valid.csv: %d labels, %d rows", v.nlabels, v.n);
    for (int j = 0; j < v.nlabels && j < 3; j++)
        CHECK(!strcmp(v.labels[j], labels[j]), "label %d: '%s'", j, v.labels[j]);
    for (int i = 0; i < v.n && i < 3; i++) {
        int same = v.rows[i].stage == rows[i].stage && v.rows[i].iter == rows[i].iter &&
                   v.rows[i].epoch == rows[i].epoch && v.rows[i].loss == rows[i].loss &&
                   v.rows[i].mean == rows[i].mean && v.rows[i].nlabels == 3;
        for (int j = 0; j < 3; j++)
            same &= v.rows[i].auc[j] == rows[i].auc[j] || (isnan(v.rows[i].auc[j]) && isnan(rows[i].auc[j]));
        CHECK(same, "valid.csv row %d differs", i + 1);
    }
    mc_valid_log_free(&v);
    /* the cut on resume from iteration 10 */
    REQUIRE_OK(mc_valid_open(&f, path, labels, 3));
    REQUIRE_OK(mc_valid_cut(f, path, MC_STAGE_COLOR, 10));
    fclose(f);
    REQUIRE_OK(mc_valid_read(path, &v));
    CHECK(v.n == 1 && v.rows[0].iter == 10, "cut: %d rows", v.n);
    mc_valid_log_free(&v);

    write_text(path, "stage,iter,epoch,loss,\"A\",\"B\",mean\ncolor,5,1,0.5,0.5,0.6,0.55\ncolor,10,1,0.5,0.5,0.55\n");
    CHECK(fails_with(mc_valid_read(path, &v), "valid.csv:3: 6 fields, the header has 7"), "short row");
    write_text(path, "stage,iter,epoch,loss,\"A\",\"B\",mean\ncolor,5,1,0.5,0.5,x,0.55\n");
    CHECK(fails_with(mc_valid_read(path, &v), "valid.csv:2: B 'x' is not a number"), "bad AUC");
    write_text(path, "stage,iter,epoch,loss,\"A,mean\ncolor,5,1,0.5,0.5,0.55\n");
    CHECK(fails_with(mc_valid_read(path, &v), "valid.csv:1: a quoted field is not closed"), "unclosed quote");
    write_text(path, "stage,iter,loss,\"A\",mean\n");
    CHECK(fails_with(mc_valid_read(path, &v), "valid.csv:1: the header is not"), "header");
}

static void test_results(void) {
    char dir[700], path[800];
    snprintf(dir, sizeof dir, "%s/run", tmp);
    REQUIRE_OK(mc_mkdirs(dir));
    snprintf(path, sizeof path, "%s/results.csv", dir);
    mc_stage_result r[2];
    memset(r, 0, sizeof r);
    r[0] = (mc_stage_result){.stage_index = 1, .stage = MC_STAGE_COLOR, .data = "data/chexpert.data",
                             .mean_auc = 0.75, .best_iter = 120, .iters = 240, .seconds = 12.5, .nlabels = 3};
    char *l0[] = {"Atelectasis", "mean", "x \"y\", z"}; /* a label called mean stays a label */
    double a0[] = {0.7, 0.8, NAN};
    for (int j = 0; j < 3; j++) {
        r[0].labels[j] = l0[j];
        r[0].auc[j] = a0[j];
    }
    r[1] = (mc_stage_result){.stage_index = 2, .stage = MC_STAGE_LAST, .data = "data/with,comma.data",
                             .mean_auc = 0.812345, .best_iter = 7, .iters = 9, .seconds = 3600.2, .nlabels = 1};
    r[1].labels[0] = "Edema";
    r[1].auc[0] = 0.812345;
    REQUIRE_OK(mc_results_write(dir, r, 2));
    mc_stage_result *b;
    int nb;
    REQUIRE_OK(mc_results_load(dir, &b, &nb));
    CHECK(nb == 2, "results.csv: %d stages", nb);
    for (int k = 0; k < nb && k < 2; k++) {
        int same = b[k].stage_index == r[k].stage_index && b[k].stage == r[k].stage && !strcmp(b[k].data, r[k].data) &&
                   b[k].mean_auc == r[k].mean_auc && b[k].best_iter == r[k].best_iter && b[k].iters == r[k].iters &&
                   b[k].seconds == r[k].seconds && b[k].nlabels == r[k].nlabels;
        for (int j = 0; same && j < r[k].nlabels; j++)
            same = !strcmp(b[k].labels[j], r[k].labels[j]) &&
                   (b[k].auc[j] == r[k].auc[j] || (isnan(b[k].auc[j]) && isnan(r[k].auc[j])));
        CHECK(same, "results.csv stage %d differs after the round trip (data '%s', %d labels)", k + 1, b[k].data,
              b[k].nlabels);
    }
    mc_results_free(b, nb);

    const char *H = "stage_index,stage,data,label,auc,best_iter,iters,seconds\n";
    char text[600];
    snprintf(text, sizeof text, "%s1,color,c.data,\"A\",0.7,10,20,1.0\n1,color,c.data,mean,0.7x,10,20,1.0\n", H);
    write_text(path, text);
    CHECK(fails_with(mc_results_load(dir, &b, &nb), "results.csv:3: auc '0.7x' is not a number"), "bad AUC");
    snprintf(text, sizeof text, "%s1,color,c.data,\"A\",0.7,10,20\n", H);
    write_text(path, text);
    CHECK(fails_with(mc_results_load(dir, &b, &nb), "results.csv:2: 7 fields, the header has 8"), "short row");
    snprintf(text, sizeof text, "%s9,color,c.data,mean,0.7,10,20,1\n", H);
    write_text(path, text);
    CHECK(fails_with(mc_results_load(dir, &b, &nb), "results.csv:2: stage_index '9'"), "stage index");
    snprintf(text, sizeof text, "%s1,color,c.data,mean,0.7,10,20,1\n1,all,c.data,\"A\",0.7,10,20,1\n", H);
    write_text(path, text);
    CHECK(fails_with(mc_results_load(dir, &b, &nb), "results.csv:3: stage 1 is color on c.data in an earlier row"),
          "a stage that changes");
    write_text(path, "stage_index,stage,label,auc\n");
    CHECK(fails_with(mc_results_load(dir, &b, &nb), "results.csv:1: no column 'data'"), "header");
    snprintf(text, sizeof text, "%s1,color,c.data,\"A\",0.7,10,20,1.0\n", H);
    write_text(path, text);
    CHECK(fails_with(mc_results_load(dir, &b, &nb), "stage 1 has no \"mean\" row"), "no mean row");
}

static void test_runs_tsv(void) {
    char dir[700], path[800];
    snprintf(dir, sizeof dir, "%s/grid", tmp);
    REQUIRE_OK(mc_mkdirs(dir));
    snprintf(path, sizeof path, "%s/runs.tsv", dir);
    mc_grid_entry e[3] = {
        {1, "rn18_baseline_seed1", "resnet18", "none", "baseline", 0, 0, 1, "cfg/resnet18.cfg", "data/c.data", NULL},
        {2, "rn18-ps_color+all_f0.01-s8_seed2", "resnet18", "pixelshuffle", "color+all", 0.01, 8, 2,
         "cfg/resnet18-pixelshuffle.cfg", "data/c.data", "w/x y.weights"},
        {3, "rn18-ps_color@nih+last_seed18446744073709551615", "resnet18", "pixelshuffle", "color@nih+last",
         0.001, 4294967295u, 18446744073709551615ull, "cfg/resnet18-pixelshuffle.cfg", "data/c.data", NULL}};
    REQUIRE_OK(mc_grid_index_write(dir, e, 3));
    mc_grid_entry *b;
    int nb;
    REQUIRE_OK(mc_grid_index_load(dir, &b, &nb));
    CHECK(nb == 3, "runs.tsv: %d rows", nb);
#define SAME(x, y) (((x) == NULL && (y) == NULL) || ((x) && (y) && !strcmp((x), (y))))
    for (int i = 0; i < nb && i < 3; i++)
        CHECK(b[i].index == e[i].index && SAME(b[i].name, e[i].name) && SAME(b[i].backbone, e[i].backbone) &&
                  SAME(b[i].module, e[i].module) && SAME(b[i].chain, e[i].chain) && b[i].subset == e[i].subset &&
                  b[i].subset_seed == e[i].subset_seed && b[i].seed == e[i].seed && SAME(b[i].net, e[i].net) &&
                  SAME(b[i].data, e[i].data) && SAME(b[i].weights, e[i].weights),
              "runs.tsv row %d differs after the round trip", i + 1);
#undef SAME
    mc_grid_index_free(b, nb);
    mc_grid_entry t = e[0];
    t.module = "a\tb";
    CHECK(fails_with(mc_grid_index_write(dir, &t, 1), "holds a tab"), "a tab in a field is refused");

    const char *H = "index\tname\tbackbone\tmodule\tstages\tsubset\tsubset_seed\tseed\n";
    char text[600];
    snprintf(text, sizeof text, "%s1\ta\trn\tnone\tbaseline\t0\t0\t1\n2\tb\trn\tnone\tbaseline\t1.5\t0\t1\n", H);
    write_text(path, text);
    CHECK(fails_with(mc_grid_index_load(dir, &b, &nb), "runs.tsv:3: subset '1.5' is not a fraction"), "subset");
    snprintf(text, sizeof text, "%s1\ta\trn\tnone\tbaseline\t0\t-8\t1\n", H);
    write_text(path, text);
    CHECK(fails_with(mc_grid_index_load(dir, &b, &nb), "runs.tsv:2: subset_seed '-8'"), "negative subset seed");
    snprintf(text, sizeof text, "%s1\ta\trn\tnone\tbaseline\t0\t0\n", H);
    write_text(path, text);
    CHECK(fails_with(mc_grid_index_load(dir, &b, &nb), "runs.tsv:2: 7 fields, the header has 8"), "short row");
    snprintf(text, sizeof text, "%s\n0\ta\trn\tnone\tbaseline\t0\t0\t1\n", H);
    write_text(path, text);
    CHECK(fails_with(mc_grid_index_load(dir, &b, &nb), "runs.tsv:3: index '0'"), "index 0");
    snprintf(text, sizeof text, "%s1\t../x\trn\tnone\tbaseline\t0\t0\t1\n", H);
    write_text(path, text);
    CHECK(fails_with(mc_grid_index_load(dir, &b, &nb), "runs.tsv:2: run name '../x' is not a folder name"), "name");
    write_text(path, "index\tname\tmodule\n");
    CHECK(fails_with(mc_grid_index_load(dir, &b, &nb), "runs.tsv:1: no column 'backbone'"), "header");
}

int main(void) {
    REQUIRE(strlen(mc_test_tmp()) < 400, "MC_TMP too long");
    snprintf(tmp, sizeof tmp, "%s", mc_test_tmp());
    test_log();
    test_valid();
    test_results();
    test_runs_tsv();
    return mc_test_done("runfiles");
}
