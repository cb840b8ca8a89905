/* test_colortrain.c — the image-to-image trainer (src/train/colortrain.c) on a tiny U-Net
 * (tests/data/tiny_unet.cfg, 16x16) and the generated colour set (mc_demo_colorize_make):
 *   - it learns: the mean loss of the last 5 iterations is below that of the first 5, and the
 *     files of a run are there (log.csv with the baseline row and one row per epoch, loss.png,
 *     a sample sheet per epoch of 3 x 16 + 4 by 8 x 16 + 14 pixels, best/last weights, DONE);
 *   - exact resume: a run stopped at an epoch end (stop_after) and resumed, and a run interrupted
 *     in the middle of an epoch (the signal flag) and resumed, end with last.weights and
 *     best.weights byte-identical to the uninterrupted run's, and the same MSE / PSNR / SSIM
 *     columns in log.csv;
 *   - the thread count changes nothing (1 and 2 compute threads, 1 and 3 decoding workers: the
 *     same bytes);
 *   - errors: an output that is not 2 x H x W, a training set smaller than a batch, a resume with
 *     another learning rate, a network without [cost]. */
#include <unistd.h>
#include "core/core.h"
#include "test.h"

static char data[600], tmp[512];

static mc_dataset *tr, *va;

typedef struct rec {
    double loss[256];
    int n;
    long interrupt_at;
    volatile sig_atomic_t flag;
} rec;

static void on_iter(const mc_train_event *ev, void *ctx) {
    rec *r = ctx;
    if (ev->type != MC_EV_ITER) return;
    if (r->n < 256) r->loss[r->n++] = ev->loss;
    if (r->interrupt_at > 0 && ev->iter == r->interrupt_at) r->flag = 1;
}

static mc_net *build(int threads, const char *set) {
    const char *sets[2] = {set, NULL};
    mc_net_opts o = {.seed = 5, .threads = threads, .set = set ? sets : NULL};
    mc_net *net;
    REQUIRE_OK(mc_net_from_cfg(&net, "tests/data/tiny_unet.cfg", &o));
    return net;
}

static int run(const char *name, int threads, int workers, long stop_after, long interrupt_at, int resume, rec *r,
               mc_colortrain_result *res) {
    char dir[700];
    snprintf(dir, sizeof dir, "%s/%s", tmp, name);
    mc_net *net = build(threads, NULL);
    mc_colortrain_opts o;
    mc_colortrain_opts_default(&o);
    o.epochs = 4;
    o.opt.lr = 1e-2;
    o.seed = 3;
    o.workers = workers;
    o.samples = 8;
    o.dir = dir;
    o.stop_after = stop_after;
    o.resume = resume;
    memset(r, 0, sizeof *r);
    r->interrupt_at = interrupt_at;
    o.interrupt = &r->flag;
    o.on_event = on_iter;
    o.event_ctx = r;
    int rc = mc_colortrain(net, tr, va, &o, res);
    mc_net_free(net);
    return rc;
}

static char *slurp(const char *dir, const char *file, size_t *len) {
    char p[800];
    snprintf(p, sizeof p, "%s/%s/%s", tmp, dir, file);
    char *t = NULL;
    *len = 0;
    if (mc_fread_all(p, &t, len) < 0) return NULL;
    return t;
}

static int same_file(const char *a, const char *b, const char *file) {
    size_t la, lb;
    char *x = slurp(a, file, &la), *y = slurp(b, file, &lb);
    int same = x && y && la == lb && !memcmp(x, y, la);
    free(x);
    free(y);
    return same;
}

/* log.csv without the seconds column (the last) */
static int same_log(const char *a, const char *b) {
    size_t la, lb;
    char *x = slurp(a, "log.csv", &la), *y = slurp(b, "log.csv", &lb);
    int same = x && y;
    char *sa = NULL, *sb = NULL;
    for (char *p = x ? strtok_r(x, "\n", &sa) : NULL, *q = y ? strtok_r(y, "\n", &sb) : NULL; same && (p || q);
         p = strtok_r(NULL, "\n", &sa), q = strtok_r(NULL, "\n", &sb)) {
        if (!p || !q) {
            same = 0;
            break;
        }
        char *cp = strrchr(p, ','), *cq = strrchr(q, ',');
        if (cp) *cp = 0;
        if (cq) *cq = 0;
        same = !strcmp(p, q);
    }
    free(x);
    free(y);
    return same;
}

int main(void) {
    snprintf(tmp, sizeof tmp, "%s", mc_test_tmp());
    snprintf(data, sizeof data, "%s/data", tmp);
    REQUIRE_OK(mc_demo_colorize_make(data, 24, 8, 16, 11));
    char p[800];
    snprintf(p, sizeof p, "%s/color/train", data);
    REQUIRE_OK(mc_imgfolder_load(&tr, p, 0, 0));
    snprintf(p, sizeof p, "%s/color/val", data);
    REQUIRE_OK(mc_imgfolder_load(&va, p, 0, 0));
    CHECK(tr->n == 24 && va->n == 8, "generated %d + %d images", tr->n, va->n);

    rec ra, rb, rc2;
    mc_colortrain_result A, B, C;
    REQUIRE_OK(run("a", 1, 1, 0, 0, 0, &ra, &A));
    CHECK(ra.n == 24 && A.iters == 24 && A.epochs_done == 4 && !A.stopped, "run a: %d iterations, %d epochs", ra.n,
          A.epochs_done);
    double first = 0, last = 0;
    for (int i = 0; i < 5; i++) first += ra.loss[i] / 5, last += ra.loss[ra.n - 1 - i] / 5;
    printf("  loss: first 5 iterations %.5f, last 5 %.5f; baseline val_mse %.5f, val_mse %.5f (best %.5f, epoch %d)\n",
           first, last, A.base_mse, A.val_mse, A.best_val_mse, A.best_epoch);
    CHECK(last < 0.5 * first, "the loss does not fall: %.5f -> %.5f", first, last);
    CHECK(A.base_mse > 0 && A.best_epoch >= 1 && A.best_val_mse <= A.val_mse, "result: baseline %g, best %g at %d",
          A.base_mse, A.best_val_mse, A.best_epoch);
    static const char *const files[] = {"log.csv", "loss.png", "best.weights", "last.weights", "DONE",
                                        "checkpoint.safetensors", "samples/epoch-001.png", "samples/epoch-004.png"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/a/%s", tmp, files[i]);
        CHECK(access(p, F_OK) == 0, "run a wrote no %s", files[i]);
    }
    size_t len;
    char *log = slurp("a", "log.csv", &len);
    int lines = 0;
    for (size_t i = 0; log && i < len; i++) lines += log[i] == '\n';
    CHECK(log && !strncmp(log, "epoch,iter,train_mse,val_mse,val_psnr,val_ssim,lr,seconds\n0,0,nan,", 65) && lines == 6,
          "log.csv: %d lines: %.80s", lines, log ? log : "-");
    free(log);
    mc_image8 sheet = {0};
    snprintf(p, sizeof p, "%s/a/samples/epoch-004.png", tmp);
    REQUIRE_OK(mc_image_load_rgb8(p, &sheet));
    CHECK(sheet.w == 3 * 16 + 4 && sheet.h == 8 * 16 + 14, "sample sheet %dx%d", sheet.w, sheet.h);
    mc_image8_free(&sheet);

    /* stopped at the end of epoch 1 (6 iterations), then resumed */
    REQUIRE_OK(run("b", 1, 1, 6, 0, 0, &rb, &B));
    CHECK(B.stopped && !B.interrupted && B.iters == 6, "run b: stopped %d at %ld", B.stopped, B.iters);
    snprintf(p, sizeof p, "%s/b/DONE", tmp);
    CHECK(access(p, F_OK) != 0, "a stopped run wrote DONE");
    REQUIRE_OK(run("b", 1, 1, 0, 0, 1, &rb, &B));
    CHECK(B.resumed && B.iters == 24 && rb.n == 18, "run b resumed: %ld iterations, %d after resuming", B.iters, rb.n);
    CHECK(same_file("a", "b", "last.weights") && same_file("a", "b", "best.weights"),
          "stopped at an epoch end and resumed: weights differ from the uninterrupted run");
    CHECK(same_log("a", "b"), "stopped and resumed: log.csv differs");
    CHECK(B.best_epoch == A.best_epoch && B.best_val_mse == A.best_val_mse, "best %d %g vs %d %g", B.best_epoch,
          B.best_val_mse, A.best_epoch, A.best_val_mse);
    /* interrupted in the middle of epoch 2 (iteration 9), then resumed */
    REQUIRE_OK(run("c", 1, 1, 0, 9, 0, &rc2, &C));
    CHECK(C.stopped && C.interrupted && C.iters == 9, "run c: interrupted %d at %ld", C.interrupted, C.iters);
    REQUIRE_OK(run("c", 1, 1, 0, 0, 1, &rc2, &C));
    CHECK(C.iters == 24 && rc2.n == 15, "run c resumed: %ld, %d after", C.iters, rc2.n);
    CHECK(same_file("a", "c", "last.weights") && same_file("a", "c", "best.weights"),
          "interrupted mid-epoch and resumed: weights differ from the uninterrupted run");
    CHECK(same_log("a", "c"), "interrupted and resumed: log.csv differs");
    printf("  resumed after an epoch end and after a mid-epoch interrupt: weights and log.csv identical\n");
    /* other thread counts */
    REQUIRE_OK(run("d", 2, 3, 0, 0, 0, &rb, &B));
    CHECK(same_file("a", "d", "last.weights") && same_log("a", "d"), "2 threads, 3 workers: not the same run");
    printf("  2 compute threads and 3 decoding workers: identical to 1 and 1\n");

    /* errors */
    char dir[700];
    snprintf(dir, sizeof dir, "%s/e", tmp);
    mc_colortrain_opts o;
    mc_colortrain_opts_default(&o);
    o.dir = dir;
    mc_colortrain_result r;
    mc_net *net = build(1, "head.filters=3");
    int rc = mc_colortrain(net, tr, va, &o, &r);
    CHECK(rc == MC_ESHAPE && strstr(mc_errmsg(), "output is 3x16x16; colorization needs 2x16x16"), "3 outputs: %s",
          mc_errmsg());
    mc_net_free(net);
    net = build(1, "net.batch=25");
    rc = mc_colortrain(net, tr, va, &o, &r);
    CHECK(rc == MC_EARG && strstr(mc_errmsg(), "24 images, fewer than one batch (25)"), "small set: %s", mc_errmsg());
    mc_net_free(net);
    net = build(1, NULL);
    snprintf(dir, sizeof dir, "%s/a", tmp);
    o.epochs = 4;
    o.seed = 3;
    o.opt.lr = 2e-2;
    o.resume = 1;
    rc = mc_colortrain(net, tr, va, &o, &r);
    CHECK(rc == MC_EARG && strstr(mc_errmsg(), "other settings"), "resume with another lr: %s", mc_errmsg());
    mc_net_free(net);
    mc_net *plain;
    REQUIRE_OK(mc_net_from_string(&plain, "[net]\nbatch=2\nwidth=8\nheight=8\nchannels=1\n[convolutional]\nfilters=2\n",
                                  "plain", NULL));
    rc = mc_colortrain(plain, tr, va, &o, &r);
    CHECK(rc == MC_EARG && strstr(mc_errmsg(), "[cost]"), "no cost layer: %s", mc_errmsg());
    mc_net_free(plain);
    mc_dataset_free(tr);
    mc_dataset_free(va);
    return mc_test_done("test_colortrain");
}
