/* test_regressions.c — issue 13 ("Trust under bad input"): each finding of the adversarial
 * trial and each input a fuzzer (tests/fuzz/) crashed on, as a check that fails when the bug
 * comes back. Inputs are inline byte strings, files written here, or the files in
 * tests/regress/ (the fuzzers' crash inputs, replayed through the same entry points as the
 * harnesses; docs/robustness.md). Every bad input must give an error whose message names the
 * file and the offending value, and nothing may crash (make asan runs this too). */
#include "test.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/core.h"

static char tmp[512];

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    REQUIRE(f, "cannot write %s", path);
    REQUIRE(fwrite(data, 1, n, f) == n, "short write to %s", path);
    fclose(f);
}
static void write_text(const char *path, const char *text) { write_bytes(path, text, strlen(text)); }

/* the call failed and its message holds every one of the NULL-terminated strings */
static int fails_with_all(int rc, const char *const *expect) {
    int ok = rc < 0;
    for (int i = 0; ok && expect[i]; i++) ok = strstr(mc_errmsg(), expect[i]) != NULL;
    if (!ok) {
        fprintf(stderr, "  expected an error with");
        for (int i = 0; expect[i]; i++) fprintf(stderr, " '%s'", expect[i]);
        fprintf(stderr, ", got rc %d: %s\n", rc, mc_errmsg());
    }
    return ok;
}
#define FAILS_WITH(rc, ...) fails_with_all((rc), (const char *const[]){__VA_ARGS__, NULL})

/* ---- mc_err with an argument that points into the message buffer ------------------------ */
static void test_err_self_reference(void) {
    mc_err(MC_EPARSE, "unknown stage 'colour'");
    mc_err(MC_EPARSE, "%s: %s", "x.exp:7", mc_errmsg());
    CHECK(strcmp(mc_errmsg(), "x.exp:7: unknown stage 'colour'") == 0, "context prepended via mc_err: '%s'",
          mc_errmsg());
    /* the message as the only argument, and a message near the buffer's size */
    char long_msg[1100];
    memset(long_msg, 'a', sizeof long_msg - 1);
    long_msg[sizeof long_msg - 1] = 0;
    mc_err(MC_EIO, "%s", long_msg);
    mc_err(MC_EIO, "%s", mc_errmsg());
    CHECK(strlen(mc_errmsg()) == 1023 && mc_errmsg()[0] == 'a' && mc_errmsg()[1022] == 'a',
          "a 1023-byte message copied onto itself: %zu bytes", strlen(mc_errmsg()));
    mc_err(MC_EIO, "one");
    mc_err(MC_EIO, "%s %s %s", mc_errmsg(), mc_errmsg(), mc_errmsg());
    CHECK(strcmp(mc_errmsg(), "one one one") == 0, "three copies of the message: '%s'", mc_errmsg());
    mc_err(MC_EIO, "two");
    mc_err_context(MC_EIO, "%s", mc_errmsg());
    CHECK(strcmp(mc_errmsg(), "two: two") == 0, "mc_err_context with the message as prefix: '%s'", mc_errmsg());

    /* where the trial saw it: an unknown stage in an .exp file */
    char exp[600];
    snprintf(exp, sizeof exp, "%s/bad-stage.exp", tmp);
    write_text(exp, "[experiment]\nnet = x.cfg\ndata = x.data\noutput = out\n\n[stage]\nstage = colour\n"
                    "max_lr = 1e-2\nepochs = 1\n");
    for (int run = 0; run < 3; run++) {
        mc_experiment e;
        mc_experiment_init(&e);
        int rc = mc_experiment_load(&e, exp);
        char want[700];
        snprintf(want, sizeof want, "%s:7: unknown stage 'colour' (expected baseline", exp);
        CHECK(rc < 0 && strncmp(mc_errmsg(), want, strlen(want)) == 0, "unknown stage in an .exp: rc %d, '%s'", rc,
              mc_errmsg());
        mc_experiment_clear(&e);
    }
    /* and a bad stage in a results.csv */
    char dir[600], res[700];
    snprintf(dir, sizeof dir, "%s/run-bad-stage", tmp);
    mkdir(dir, 0777);
    snprintf(res, sizeof res, "%s/results.csv", dir);
    write_text(res, "stage_index,stage,data,label,auc,best_iter,iters,seconds\n1,colour,x.data,mean,0.5,1,1,1\n");
    mc_stage_result *r = NULL;
    int nr = 0;
    CHECK(FAILS_WITH(mc_results_load(dir, &r, &nr), "results.csv:2", "'colour'"), "bad stage in results.csv");
    mc_results_free(r, nr);
}

/* ---- [cost] that is not the last layer ----------------------------------------------------- */
static void test_cost_not_last(void) {
    static const char cfg[] = "[net]\nbatch=2\nwidth=4\nheight=4\nchannels=1\n"
                              "[convolutional]\nfilters=2\nsize=1\n"
                              "[cost]\ntype=bce\n"               /* line 9: before the last layer */
                              "[convolutional]\nfilters=8\nsize=1\n";
    mc_net *net = NULL;
    int rc = mc_net_from_string(&net, cfg, "midcost.cfg", NULL);
    CHECK(FAILS_WITH(rc, "midcost.cfg:9:", "[cost]", "last layer"), "[cost] before the last layer is refused");
    mc_net_free(rc < 0 ? NULL : net);
    /* still fine where it belongs */
    static const char ok[] = "[net]\nbatch=2\nwidth=4\nheight=4\nchannels=1\n"
                             "[convolutional]\nfilters=2\nsize=1\n[cost]\ntype=bce\n";
    rc = mc_net_from_string(&net, ok, "lastcost.cfg", NULL);
    CHECK(rc == MC_OK, "[cost] as the last layer: %s", mc_errmsg());
    if (rc == MC_OK) mc_net_free(net);
}

/* ---- ChestX-ray14 with the flat images/ layout (no images_NNN folders) --------------------
 * qsort(NULL, 0, ...) was called on the empty list of images_NNN folders: undefined behaviour
 * that make asan (UBSan, nonnull-attribute) stops at; here also: the paths are right. */
static void test_nih_flat_layout(void) {
    char dir[600], p[800];
    snprintf(dir, sizeof dir, "%s/nihflat", tmp);
    mkdir(dir, 0777);
    snprintf(p, sizeof p, "%s/images", dir);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/images/00000001_000.png", dir);
    write_text(p, "");
    snprintf(p, sizeof p, "%s/Data_Entry_2017.csv", dir);
    write_text(p, "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
                  "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y]\n"
                  "00000001_000.png,Cardiomegaly,0,1,58,M,PA,2682,2749,0.143,0.143\n");
    char data[1200];
    snprintf(data, sizeof data, "format = nih\nroot = %s\nentries = Data_Entry_2017.csv\nlabels = Cardiomegaly\n", dir);
    snprintf(p, sizeof p, "%s/nih.data", dir);
    mc_datafile *df = NULL;
    mc_dataset *ds = NULL;
    REQUIRE_OK(mc_datafile_parse(&df, data, p, NULL));
    int rc = mc_dataset_load(&ds, df, "train");
    CHECK(rc == MC_OK, "flat images/ layout: %s", mc_errmsg());
    char want[800];
    snprintf(want, sizeof want, "%s/images/00000001_000.png", dir);
    if (rc == MC_OK)
        CHECK(ds->n == 1 && strcmp(ds->paths[0], want) == 0 && ds->y[0] == 1.0f, "flat layout: %d rows, path %s",
              ds->n, ds->n ? ds->paths[0] : "-");
    mc_dataset_free(ds);
    mc_datafile_free(df);
}

int main(void) {
    snprintf(tmp, sizeof tmp, "%s", mc_test_tmp());
    test_err_self_reference();
    test_cost_not_last();
    test_nih_flat_layout();
    return mc_test_done("test_regressions");
}
