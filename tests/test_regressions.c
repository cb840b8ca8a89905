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
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include "core/core.h"
#include "data/data_internal.h"

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

/* ---- inputs that never end or block: a device, a FIFO, a directory; sizes over the limits ----
 * Each case runs in a child process under alarm(): before the fix, /dev/zero was read until
 * memory ran out and opening a FIFO waited for a writer forever. */
typedef int (*reader_fn)(const char *path);
static int read_cfg(const char *path) {
    mc_net *net = NULL;
    int rc = mc_net_from_cfg(&net, path, NULL);
    if (rc == MC_OK) mc_net_free(net);
    return rc;
}
static int read_datafile(const char *path) {
    mc_datafile *df = NULL;
    int rc = mc_datafile_load(&df, path, NULL);
    mc_datafile_free(df);
    return rc;
}
static int read_exp(const char *path) {
    mc_experiment e;
    mc_experiment_init(&e);
    int rc = mc_experiment_load(&e, path);
    mc_experiment_clear(&e);
    return rc;
}
static int read_safetensors(const char *path) {
    mc_st *st = NULL;
    int rc = mc_st_open(&st, path);
    mc_st_close(st);
    return rc;
}
static int read_image(const char *path) {
    mc_image img = {0};
    int rc = mc_image_load_grey(path, &img);
    mc_image_free(&img);
    return rc;
}
static int read_weights(const char *path) {
    mc_net *net = NULL;
    int rc = mc_net_from_string(&net, "[net]\nwidth=2\nheight=2\nchannels=1\n[convolutional]\nfilters=1\n", "w.cfg",
                                NULL);
    if (rc == MC_OK) rc = mc_net_load_weights(net, path);
    mc_net_free(net);
    return rc;
}
static int read_import(const char *path) {
    mc_net *net = NULL;
    int rc = mc_net_from_string(&net, "[net]\nwidth=2\nheight=2\nchannels=1\n[convolutional]\nfilters=1\n", "w.cfg",
                                NULL);
    if (rc == MC_OK) rc = mc_net_import(net, path, 0, NULL);
    mc_net_free(net);
    return rc;
}
/* a cfg that includes path */
static int read_cfg_include(const char *path) {
    char cfg[700], text[1200];
    snprintf(cfg, sizeof cfg, "%s/includer.cfg", tmp);
    snprintf(text, sizeof text, "[net]\nwidth=2\nheight=2\nchannels=1\n[include]\nfile=%s\n", path);
    write_text(cfg, text);
    return read_cfg(cfg);
}
/* a CSV dataset whose train= is path (csv_rows, below) */
static int csv_rows(const char *path, int *rows);
static int read_csv_dataset(const char *path) {
    int rows;
    return csv_rows(path, &rows);
}

/* Runs fn(path) in a child under a 20 s alarm; 1 when it returned an error holding every one of
 * the expected strings. */
static int child_fails_with(reader_fn fn, const char *path, const char *const *expect) {
    int pfd[2];
    REQUIRE(pipe(pfd) == 0, "pipe");
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork");
    if (pid == 0) {
        close(pfd[0]);
        alarm(20);
        int rc = fn(path);
        char msg[1100];
        int n = snprintf(msg, sizeof msg, "%d %s", rc, rc < 0 ? mc_errmsg() : "");
        if (write(pfd[1], msg, (size_t)(n < (int)sizeof msg ? n : (int)sizeof msg - 1)) < 0) _exit(3);
        _exit(0);
    }
    close(pfd[1]);
    char msg[1100] = {0};
    size_t got = 0;
    ssize_t r;
    while (got < sizeof msg - 1 && (r = read(pfd[0], msg + got, sizeof msg - 1 - got)) > 0) got += (size_t)r;
    close(pfd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "  %s: the reader %s\n", path,
                WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM ? "did not return within 20 s" : "crashed");
        return 0;
    }
    int rc = atoi(msg);
    int ok = rc < 0;
    for (int i = 0; ok && expect[i]; i++) ok = strstr(msg, expect[i]) != NULL;
    if (!ok) {
        fprintf(stderr, "  %s: expected an error with", path);
        for (int i = 0; expect[i]; i++) fprintf(stderr, " '%s'", expect[i]);
        fprintf(stderr, ", got %s\n", msg);
    }
    return ok;
}
#define CHILD_FAILS_WITH(fn, path, ...) child_fails_with((fn), (path), (const char *const[]){__VA_ARGS__, NULL})

static void test_not_regular_files(void) {
    char fifo[600], dir[600];
    snprintf(fifo, sizeof fifo, "%s/fifo", tmp);
    snprintf(dir, sizeof dir, "%s/adir", tmp);
    unlink(fifo);
    REQUIRE(mkfifo(fifo, 0600) == 0, "mkfifo %s: %s", fifo, strerror(errno));
    mkdir(dir, 0777);
    struct { const char *name; reader_fn fn; } readers[] = {
        {"cfg", read_cfg}, {"[include]", read_cfg_include}, {".data", read_datafile}, {".exp", read_exp},
        {"CSV", read_csv_dataset}, {"safetensors", read_safetensors}, {"image", read_image},
        {".weights", read_weights}, {"import", read_import},
    };
    for (size_t i = 0; i < sizeof readers / sizeof readers[0]; i++) {
        CHECK(CHILD_FAILS_WITH(readers[i].fn, "/dev/zero", "/dev/zero: is a character device, not a regular file"),
              "%s from /dev/zero", readers[i].name);
        CHECK(CHILD_FAILS_WITH(readers[i].fn, fifo, fifo, "is a FIFO"), "%s from a FIFO", readers[i].name);
        CHECK(CHILD_FAILS_WITH(readers[i].fn, dir, dir, "is a directory"), "%s from a directory", readers[i].name);
    }
    unlink(fifo);
}

static void test_size_limits(void) {
    /* sparse files one byte over the limits: refused from their size, without reading */
    char big[600];
    snprintf(big, sizeof big, "%s/big.cfg", tmp);
    int fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0 && ftruncate(fd, (off_t)MC_TEXT_MAX + 1) == 0, "sparse file %s", big);
    close(fd);
    CHECK(FAILS_WITH(read_cfg(big), big, "over the 256 MiB limit"), "cfg over the text limit");
    CHECK(FAILS_WITH(read_cfg_include(big), "includer.cfg:5: [include]", big, "over the 256 MiB limit"),
          "included cfg over the text limit");
    CHECK(FAILS_WITH(read_datafile(big), big, "over the 256 MiB limit"), ".data over the text limit");
    char *text = NULL;
    size_t len;
    CHECK(FAILS_WITH(mc_fread_all_max(big, 1000, &text, &len), big, "over the 1000 bytes limit"), "explicit limit");
    free(text);
    snprintf(big, sizeof big, "%s/big.csv", tmp);
    fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0 && ftruncate(fd, (off_t)MC_CSV_MAX + 1) == 0, "sparse file %s", big);
    close(fd);
    CHECK(FAILS_WITH(read_csv_dataset(big), big, "over the 1 GiB limit"), "CSV over its limit");
    unlink(big);
    /* exactly at a limit is fine */
    snprintf(big, sizeof big, "%s/exact.txt", tmp);
    write_text(big, "0123456789");
    CHECK(mc_fread_all_max(big, 10, &text, &len) == MC_OK && len == 10 && strcmp(text, "0123456789") == 0,
          "a file of exactly the limit: %s", mc_errmsg());
    free(text);
    text = NULL;
    CHECK(FAILS_WITH(mc_fread_all_max(big, 9, &text, &len), "exact.txt: 10 bytes, over the 9 bytes limit"),
          "one byte over");
    free(text);
}

/* ---- NUL bytes in text ------------------------------------------------------------------- */
static void test_nul_bytes(void) {
    char p[600];
    snprintf(p, sizeof p, "%s/nul.cfg", tmp);
    static const char cfg[] = "[net]\nwidth=2\nheight=2\nchannels=1\n[convolutional]\nfilters=1\0size=3\n";
    write_bytes(p, cfg, sizeof cfg - 1);
    CHECK(FAILS_WITH(read_cfg(p), "nul.cfg:6: holds a NUL byte"), "NUL in a cfg");
    snprintf(p, sizeof p, "%s/nul.data", tmp);
    static const char data[] = "format = csv\ntrain = a.csv\0\nlabels = A\n";
    write_bytes(p, data, sizeof data - 1);
    CHECK(FAILS_WITH(read_datafile(p), "nul.data:2: holds a NUL byte"), "NUL in a .data");
    /* a NUL inside a CSV path silently shortened it */
    snprintf(p, sizeof p, "%s/nulpath.csv", tmp);
    static const char csv[] = "Path,A\nimg/a.png,1\nimg/b.png\0.txt,0\n";
    write_bytes(p, csv, sizeof csv - 1);
    CHECK(FAILS_WITH(read_csv_dataset(p), "nulpath.csv:3: holds a NUL byte"), "NUL in a CSV path");
    /* and in a buffer handed to the tokenizer directly */
    char *buf = malloc(sizeof csv);
    REQUIRE(buf, "malloc");
    memcpy(buf, csv, sizeof csv);
    mc_csv c;
    mc_csv_init_buffer(&c, "buf.csv", buf, sizeof csv - 1);
    int rc;
    while ((rc = mc_csv_next(&c)) > 0) {}
    CHECK(FAILS_WITH(rc, "buf.csv:3: field 1 holds a NUL byte"), "NUL in a tokenized field");
    mc_csv_close(&c);
}

/* ---- label values: only the documented spellings ------------------------------------------ */
static void test_label_values(void) {
    static const char *const bad[] = {"0x1", "+1", "1e0", " 1", "1 ", "1.00", "-1.", "nan", "inf", "01", "-0", "2",
                                      "yes", "1.0.0", " "};
    char p[600], text[256];
    snprintf(p, sizeof p, "%s/labels.csv", tmp);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "Path,A\nimg/a.png,1.0\nimg/b.png,%s\n", bad[i]);
        write_text(p, text);
        char want[64];
        snprintf(want, sizeof want, "bad value '%s'", bad[i]);
        CHECK(FAILS_WITH(read_csv_dataset(p), "labels.csv:3:", "column 'A'", want), "label value '%s'", bad[i]);
    }
    static const char *const good[] = {"1", "1.0", "0", "0.0", "-1", "-1.0", ""};
    static const float want_y[] = {1, 1, 0, 0, 0, 0, 0}; /* policy zeros: uncertain and blank -> 0 */
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(text, sizeof text, "Path,A\nimg/b.png,%s\n", good[i]);
        write_text(p, text);
        char dtext[700];
        snprintf(dtext, sizeof dtext, "format = csv\ntrain = %s\nlabels = A\n", p);
        mc_datafile *df = NULL;
        mc_dataset *ds = NULL;
        REQUIRE_OK(mc_datafile_parse(&df, dtext, "csv.data", NULL));
        int rc = mc_dataset_load(&ds, df, "train");
        CHECK(rc == MC_OK && ds->n == 1 && ds->y[0] == want_y[i], "label value '%s': %s", good[i],
              rc < 0 ? mc_errmsg() : "wrong value");
        mc_dataset_free(ds);
        mc_datafile_free(df);
    }
}

/* ---- gzip: a stream must end with its CRC/length trailer ---------------------------------- */
/* gzip of text; *flush_at: the compressed size after a full flush in the middle (a point where
 * a truncated file still decodes cleanly up to there). */
static unsigned char *gz(const char *text, size_t *n, size_t *flush_at) {
    z_stream z;
    memset(&z, 0, sizeof z);
    REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK, "deflateInit2");
    size_t len = strlen(text), half = len / 2, cap = len + 1024;
    unsigned char *out = malloc(cap);
    REQUIRE(out, "malloc");
    z.next_in = (unsigned char *)(uintptr_t)text;
    z.avail_in = (uInt)half;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    REQUIRE(deflate(&z, Z_FULL_FLUSH) == Z_OK, "deflate");
    if (flush_at) *flush_at = cap - z.avail_out;
    z.avail_in = (uInt)(len - half);
    REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END, "deflate finish");
    *n = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

static int csv_rows(const char *path, int *rows) {
    char dtext[700];
    snprintf(dtext, sizeof dtext, "format = csv\ntrain = %s\nlabels = A\n", path);
    mc_datafile *df = NULL;
    mc_dataset *ds = NULL;
    int rc = mc_datafile_parse(&df, dtext, "csv.data", NULL);
    if (rc == MC_OK) rc = mc_dataset_load(&ds, df, "train");
    *rows = rc == MC_OK ? ds->n : -1;
    mc_dataset_free(ds);
    mc_datafile_free(df);
    return rc;
}

static void test_gzip(void) {
    char text[4096];
    size_t o = (size_t)snprintf(text, sizeof text, "Path,A\n");
    for (int i = 0; i < 100; i++) o += (size_t)snprintf(text + o, sizeof text - o, "img/%03d.png,%d\n", i, i % 2);
    char p[600];
    snprintf(p, sizeof p, "%s/labels.csv.gz", tmp);
    size_t n, flush_at;
    unsigned char *g = gz(text, &n, &flush_at);
    int rows;
    write_bytes(p, g, n);
    CHECK(csv_rows(p, &rows) == MC_OK && rows == 100, "whole gzip: %d rows (%s)", rows, mc_errmsg());
    /* cut at the flush point: half the rows decode, and the file must still be refused */
    write_bytes(p, g, flush_at);
    CHECK(FAILS_WITH(csv_rows(p, &rows), "labels.csv.gz: truncated gzip file"), "gzip cut at a flush point");
    write_bytes(p, g, n - 4); /* without the length of the trailer */
    CHECK(FAILS_WITH(csv_rows(p, &rows), "labels.csv.gz: truncated gzip file"), "gzip without its trailer");
    write_bytes(p, g, 11);
    CHECK(FAILS_WITH(csv_rows(p, &rows), "labels.csv.gz: truncated gzip file"), "gzip header only");
    /* a wrong CRC and a wrong length */
    unsigned char *bad = malloc(n + 16);
    REQUIRE(bad, "malloc");
    memcpy(bad, g, n);
    bad[n - 8] ^= 1;
    write_bytes(p, bad, n);
    CHECK(FAILS_WITH(csv_rows(p, &rows), "labels.csv.gz: corrupt gzip data", "incorrect data check"), "bad CRC");
    memcpy(bad, g, n);
    bad[n - 4] ^= 1;
    write_bytes(p, bad, n);
    CHECK(FAILS_WITH(csv_rows(p, &rows), "labels.csv.gz: corrupt gzip data", "incorrect length check"), "bad length");
    /* trailing bytes that are not another member */
    memcpy(bad, g, n);
    memcpy(bad + n, "garbage", 7);
    write_bytes(p, bad, n + 7);
    CHECK(FAILS_WITH(csv_rows(p, &rows), "labels.csv.gz: 7 bytes of trailing data after gzip member 1"),
          "trailing garbage");
    write_bytes(p, bad, n + 1); /* one byte of a member that never came */
    CHECK(FAILS_WITH(csv_rows(p, &rows), "labels.csv.gz: 1 bytes of trailing data"), "one trailing byte");
    free(bad);
    /* concatenated members (gzip -c a b > ab) still read as one text */
    size_t half = strlen(text) / 2;
    while (text[half - 1] != '\n') half++;
    char second[4096];
    snprintf(second, sizeof second, "%s", text + half);
    text[half] = 0;
    size_t n1, n2;
    unsigned char *g1 = gz(text, &n1, NULL), *g2 = gz(second, &n2, NULL);
    unsigned char *both = malloc(n1 + n2);
    REQUIRE(both, "malloc");
    memcpy(both, g1, n1);
    memcpy(both + n1, g2, n2);
    write_bytes(p, both, n1 + n2);
    CHECK(csv_rows(p, &rows) == MC_OK && rows == 100, "two gzip members: %d rows (%s)", rows, mc_errmsg());
    write_bytes(p, both, n1 + n2 / 2);
    CHECK(FAILS_WITH(csv_rows(p, &rows), "labels.csv.gz: truncated gzip file", "member 2"), "second member cut");
    free(both);
    free(g1);
    free(g2);
    free(g);
    /* a gzip bomb: over the limit after gunzip (mc_gunzip with a small limit) */
    char *zeros = calloc(1, 100001);
    REQUIRE(zeros, "calloc");
    memset(zeros, 'a', 100000);
    unsigned char *gb = gz(zeros, &n, NULL);
    char *out = NULL;
    size_t outlen;
    CHECK(FAILS_WITH(mc_gunzip("bomb.gz", gb, n, 99999, &out, &outlen), "bomb.gz: decompresses to more than"),
          "gunzip over the limit");
    free(out);
    out = NULL;
    CHECK(mc_gunzip("ok.gz", gb, n, 100000, &out, &outlen) == MC_OK && outlen == 100000, "gunzip at the limit: %s",
          mc_errmsg());
    free(out);
    free(gb);
    free(zeros);
}

/* ---- weights: NaN / Inf refused, absurd magnitudes reported ------------------------------- */
static const char WCFG[] = "[net]\nwidth=2\nheight=2\nchannels=1\n[convolutional]\nname=c\nfilters=2\nsize=1\n";

/* a .weights file for WCFG (header 20 bytes, then 4 floats: bias [2], weight [2,1,1,1]) with
 * float number `at` of the body set to v */
static void write_weights(const char *path, int at, float v) {
    mc_net *net;
    mc_net_opts o = {.seed = 1};
    REQUIRE_OK(mc_net_from_string(&net, WCFG, "w.cfg", &o));
    REQUIRE_OK(mc_net_save_weights(net, path));
    mc_net_free(net);
    FILE *f = fopen(path, "r+b");
    REQUIRE(f && fseek(f, 20 + 4 * at, SEEK_SET) == 0 && fwrite(&v, 4, 1, f) == 1, "patch %s", path);
    fclose(f);
}

static void test_weight_values(void) {
    char p[600];
    snprintf(p, sizeof p, "%s/bad.weights", tmp);
    mc_net *net;
    REQUIRE_OK(mc_net_from_string(&net, WCFG, "w.cfg", NULL));
    const float bad[] = {NAN, INFINITY, -INFINITY};
    const char *what[] = {"NaN", "+Inf", "-Inf"};
    for (int i = 0; i < 3; i++) {
        write_weights(p, 1, bad[i]);
        CHECK(FAILS_WITH(mc_net_load_weights(net, p), "bad.weights: tensor c.", what[i], "at element"),
              ".weights with %s", what[i]);
        CHECK(FAILS_WITH(mc_net_import(net, p, 0, NULL), "bad.weights: tensor c.", what[i]),
              ".weights with %s through import", what[i]);
    }
    write_weights(p, 2, 3e38f);
    const char *first = NULL;
    CHECK(mc_net_load_weights(net, p) == MC_OK, ".weights with 3e38 loads: %s", mc_errmsg());
    int nw = mc_net_weight_warnings(net, &first);
    CHECK(nw == 1 && first && strstr(first, "bad.weights: tensor c.") && strstr(first, "3e+38"),
          ".weights with 3e38: %d warnings, '%s'", nw, first ? first : "(none)");
    write_weights(p, 2, 0.5f);
    CHECK(mc_net_load_weights(net, p) == MC_OK && mc_net_weight_warnings(net, &first) == 0 && !first,
          "a clean load clears the warnings");

    /* safetensors: the same through import */
    mc_tensor_info ti[2];
    REQUIRE(mc_net_num_tensors(net) == 2, "two tensors");
    REQUIRE_OK(mc_net_tensor_info(net, 0, &ti[0]));
    REQUIRE_OK(mc_net_tensor_info(net, 1, &ti[1]));
    snprintf(p, sizeof p, "%s/bad.safetensors", tmp);
    const float vals[] = {3e38f, NAN};
    for (int k = 0; k < 2; k++) {
        mc_st_writer *w = mc_st_writer_new();
        REQUIRE(w, "writer");
        for (int i = 0; i < 2; i++) {
            int64_t shape[4];
            float data[4] = {0.25f, -0.5f, 0.125f, 1.0f};
            for (int d = 0; d < ti[i].ndim; d++) shape[d] = ti[i].dims[d];
            if (i == 1) data[1] = vals[k];
            REQUIRE_OK(mc_st_writer_add(w, ti[i].name, ti[i].ndim, shape, data));
        }
        REQUIRE_OK(mc_st_writer_save(w, p));
        mc_st_writer_free(w);
        int rc = mc_net_import(net, p, 0, NULL);
        if (k == 0) {
            nw = mc_net_weight_warnings(net, &first);
            CHECK(rc == MC_OK && nw == 1 && first && strstr(first, "bad.safetensors: tensor") &&
                      strstr(first, ti[1].name) && strstr(first, "at element 1"),
                  "safetensors with 3e38: rc %d, %d warnings, '%s'", rc, nw, first ? first : "(none)");
        } else {
            CHECK(FAILS_WITH(rc, "bad.safetensors: tensor", ti[1].name, "NaN at element 1"), "safetensors with NaN");
        }
    }

    /* the same file where darknet .weights are expected: its header and JSON were read as floats */
    CHECK(FAILS_WITH(mc_net_load_weights(net, p), "bad.safetensors: a safetensors file, not darknet .weights"),
          "safetensors given to mc_net_load_weights");
    /* a safetensors file whose header length exceeds the file: that, not "not a darknet file" */
    FILE *f = fopen(p, "rb");
    REQUIRE(f, "open %s", p);
    unsigned char head[64];
    size_t got = fread(head, 1, sizeof head, f);
    fclose(f);
    REQUIRE(got == sizeof head, "read %s", p);
    head[0] = 0x10, head[1] = 0x27, memset(head + 2, 0, 6); /* 10000 */
    snprintf(p, sizeof p, "%s/cut.safetensors", tmp);
    write_bytes(p, head, sizeof head);
    CHECK(FAILS_WITH(mc_net_import(net, p, 0, NULL), "cut.safetensors: header length 10000 exceeds the file's 56 bytes"),
          "safetensors header longer than the file");
    mc_net_free(net);
}

/* ---- shapes beyond what the engine supports ---------------------------------------------
 * oh * ow in [convolutional] was computed in int and overflowed once an output passed 2^31
 * values; so did h + 2 * padding, (h - 1) * stride, a route's channel sum and tensor sizes.
 * Each is now computed in 64 bits and refused past MC_MAX_ELEMS (2^31 - 1) values per image or
 * per tensor, before anything is allocated. */
static void shape_error(const char *name, const char *layers, int c, int h, int w, const char *expect) {
    char cfg[1024];
    snprintf(cfg, sizeof cfg, "[net]\nwidth=%d\nheight=%d\nchannels=%d\n%s", w, h, c, layers);
    mc_net *net = NULL;
    mc_net_opts o = {.inference_only = 1, .no_init = 1};
    int rc = mc_net_from_string(&net, cfg, name, &o);
    CHECK(FAILS_WITH(rc, name, expect), "%s", name);
    if (rc == MC_OK) mc_net_free(net);
}

static void test_shape_limits(void) {
    shape_error("net-input.cfg", "[activation]\n", 1, 65536, 65536,
                "net-input.cfg:1: [net] input 1x65536x65536 has more than 2147483647 values per image");
    shape_error("conv-ohow.cfg", "[convolutional]\nfilters=1\nsize=1\npadding=1024\n", 1, 46000, 46000,
                "conv-ohow.cfg:5: [convolutional] output shape 1x48048x48048 (input 1x46000x46000) has more than "
                "2147483647 values per image");
    shape_error("conv-pad.cfg", "[convolutional]\nfilters=1\nsize=1\npadding=1024\n", 1, 1, 2147483647,
                "conv-pad.cfg:5: [convolutional] output shape 1x2049x2147485695");
    shape_error("conv-filters.cfg", "[convolutional]\nfilters=2147483647\nsize=3\n", 1, 4, 4,
                "conv-filters.cfg:5: [convolutional] output shape 2147483647x2x2");
    shape_error("conv-fanin2.cfg", "[convolutional]\nfilters=1\nsize=1024\npadding=512\n", 4096, 512, 1,
                "conv-fanin2.cfg:7: a filter of 4096 x 1024 x 1024 has more than 2147483647 values");
    shape_error("deconv.cfg", "[deconvolutional]\nfilters=1\nsize=1024\nstride=1024\n", 1, 1, 2097152,
                "deconv.cfg:5: [deconvolutional] output shape 1x1024x2147483648");
    shape_error("maxpool.cfg", "[maxpool]\ndarknet=1\nsize=1\nstride=1\npadding=1024\n", 1, 2147483647, 1,
                "maxpool.cfg:5: [maxpool] output shape 1x2147484671x1025");
    shape_error("avgpool.cfg", "[avgpool]\nsize=2048\nstride=1\npadding=1024\n", 1, 2147483647, 1,
                "avgpool.cfg:5: [avgpool] output shape 1x2147483648x2");
    shape_error("pad.cfg", "[pad]\ntop=65536\n", 1, 2147483647, 1, "pad.cfg:5: [pad] output shape 1x2147549183x1");
    shape_error("route.cfg", "[route]\nlayers=input,input,input\n", 1, 1073741824, 1,
                "route.cfg:5: [route] output shape 3x1073741824x1");
    shape_error("connected.cfg", "[connected]\noutput=2147483647\n", 2, 1, 1,
                "connected.cfg:5: tensor weight [2147483647, 2] has more than 2147483647 values");
}

/* ---- what the first report left open (docs/robustness.md) -------------------------------- */
static void test_open_findings(void) {
    /* an experiment value starting with '#' reads back as a comment: the writer refuses it */
    mc_experiment e;
    mc_experiment_init(&e);
    e.net = strdup("n.cfg");
    e.data = strdup("#d.data");
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    REQUIRE(f, "memstream");
    CHECK(FAILS_WITH(mc_experiment_write(f, &e, 0), "data = '#d.data'", "reads back"),
          "an experiment value starting with '#' is refused by the writer");
    fclose(f);
    free(buf);
    free(e.data);
    e.data = strdup("d #x.data");
    f = open_memstream(&buf, &n);
    CHECK(FAILS_WITH(mc_experiment_write(f, &e, 0), "data = 'd #x.data'"), "a value holding ' #' is refused");
    fclose(f);
    free(buf);
    mc_experiment_clear(&e);

    /* a grid whose run name is too long names the grid file and line */
    char p[600], items[700];
    snprintf(p, sizeof p, "%s/long.grid", tmp);
    memset(items, 'x', 600);
    items[600] = 0;
    char text[1200];
    snprintf(text, sizeof text,
             "[grid]\ndata = data/demo.data\nbackbones = resnet18\n\n[chain]\nmodules = %s\nstages = color\n",
             items);
    write_text(p, text);
    mc_grid_run *runs = NULL;
    int nr = 0;
    int rc = mc_grid_expand(p, tmp, &runs, &nr);
    CHECK(rc < 0 && strstr(mc_errmsg(), "long.grid:") && !strstr(mc_errmsg(), "\n"),
          "a grid with an over-long run name: rc %d, '%s'", rc, mc_errmsg());
    mc_grid_runs_free(runs, nr);

    /* a checkpoint holding NaN is refused, naming the tensor */
    mc_net *net;
    mc_net_opts o = {.seed = 1};
    REQUIRE_OK(mc_net_from_string(&net, WCFG, "w.cfg", &o));
    const float v[2] = {0.5f, NAN};
    REQUIRE_OK(mc_net_tensor_set(net, 0, v));
    mc_ckpt_meta m;
    memset(&m, 0, sizeof m);
    m.total_iters = 10;
    m.batch = 1;
    m.max_lr = 1e-3;
    snprintf(p, sizeof p, "%s/nan.ckpt", tmp);
    REQUIRE_OK(mc_checkpoint_save(net, p, &m));
    CHECK(FAILS_WITH(mc_checkpoint_load(net, p, &m), "nan.ckpt: tensor t.c.", "NaN at element 1"),
          "a checkpoint with NaN is refused");
    mc_net_free(net);

    /* a byte-order mark before the first line of a cfg or a .data is skipped (it used to become
     * part of the first section header or key: "malformed section header", "unknown key") */
    mc_net *bnet = NULL;
    CHECK(mc_net_from_string(&bnet, "\xEF\xBB\xBF[net]\nwidth=2\nheight=2\nchannels=1\n[convolutional]\nfilters=1\n",
                             "bom.cfg", NULL) == MC_OK,
          "a cfg starting with a BOM builds: %s", mc_errmsg());
    mc_net_free(bnet);
    mc_datafile *df = NULL;
    CHECK(mc_datafile_parse(&df, "\xEF\xBB\xBF" "format = csv\ntrain = t.csv\nlabels = A\n", "bom.data", NULL) == MC_OK &&
              df && df->nlabels == 1,
          "a .data starting with a BOM parses: %s", mc_errmsg());
    mc_datafile_free(df);
}

int main(void) {
    snprintf(tmp, sizeof tmp, "%s", mc_test_tmp());
    test_err_self_reference();
    test_cost_not_last();
    test_nih_flat_layout();
    test_not_regular_files();
    test_size_limits();
    test_nul_bytes();
    test_label_values();
    test_gzip();
    test_weight_values();
    test_shape_limits();
    test_open_findings();
    return mc_test_done("test_regressions");
}
