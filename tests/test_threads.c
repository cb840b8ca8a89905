/* test_threads.c — results do not depend on the number of threads (issue 12) or on the CPU's
 * vector instructions (issue 18): a small network trained through the library's experiment runner
 * (two stages, color then all) on generated data ends with byte-identical weight files
 *   - uninterrupted, with 1 and 3 threads;
 *   - on an AVX-512 CPU, also as on a CPU without it (MC_TEST_NO_AVX512=1: the AVX2 GEMM kernels,
 *     the portable row transforms), uninterrupted and stopped there, resumed with AVX-512;
 *   - stopped resumably (stop_after) and resumed with another thread count: 2 -> 3 -> 1
 *     (stopped twice in the first stage), 1 -> 3 and 3 -> 2 (stopped in the second stage);
 * and the checkpoint records the backend and the thread count it was written with.
 *
 * The network has a layer of every kind the CPU backend plans differently: Winograd (3x3
 * stride 1, >= 16 channels), im2col row tiles (a 32x32 output) and batch-folded tiles (16x16,
 * 8x8), 1x1 convolutions read directly and strided ones, a grouped convolution, a transposed
 * convolution, batch norm with every fused path (train, and eval in validation), a residual sum
 * with activation, max and average pooling, pixel shuffle, replication pad, concatenation, a
 * connected layer and the loss.
 */
#include <omp.h>
#include <stdlib.h>
#include <unistd.h>
#include "cpu/conv.h"
#include "test.h"

static const char *NET =
    "[net]\nbatch=8\nwidth=32\nheight=32\nchannels=1\n"
    /* T (color): 1x32x32 -> 3x32x32 */
    "[convolutional]\nname=t.stem\ngroup=color\nfilters=16\nsize=3\nstride=2\npadding=1\nbias=1\n"
    "batch_normalize=1\nactivation=leaky\nslope=0.01\n"
    "[convolutional]\nname=t.a\ngroup=color\nfilters=16\nsize=3\npadding=1\nbatch_normalize=1\nactivation=leaky\n"
    "slope=0.01\n"
    "[convolutional]\nname=t.b\ngroup=color\nfilters=16\nsize=3\npadding=1\nbatch_normalize=1\nactivation=linear\n"
    "[shortcut]\nname=t.res\ngroup=color\nfrom=t.stem\nactivation=relu\n"
    "[deconvolutional]\nname=t.dc\ngroup=color\nfilters=8\nsize=4\nstride=2\npadding=1\nactivation=leaky\nslope=0.01\n"
    "[convolutional]\nname=t.ps\ngroup=color\ninput=t.res\nfilters=12\nsize=1\nbias=1\nbatch_normalize=1\n"
    "activation=hardtanh\nmin=-10\nmax=10\n"
    "[pixelshuffle]\nname=t.shuffle\ngroup=color\nfactor=2\n"
    "[pad]\nname=t.pad\ngroup=color\nleft=1\ntop=1\n"
    "[avgpool]\nname=t.blur\ngroup=color\nsize=2\nstride=1\n"
    "[route]\nname=t.cat\ngroup=color\nlayers=t.dc,t.blur\n"
    "[convolutional]\nname=t.out\ngroup=color\nfilters=3\nsize=1\n"
    /* E (backbone) */
    "[convolutional]\nname=e1\ngroup=backbone\nfilters=16\nsize=3\npadding=1\nbatch_normalize=1\nactivation=relu\n"
    "[maxpool]\ngroup=backbone\nsize=2\nstride=2\n"
    "[convolutional]\nname=e2\ngroup=backbone\nfilters=32\nsize=3\npadding=1\nbatch_normalize=1\nactivation=relu\n"
    "[convolutional]\nname=e3\ngroup=backbone\nfilters=32\nsize=3\npadding=1\ngroups=4\nbatch_normalize=1\n"
    "activation=relu\n"
    "[convolutional]\nname=e4\ngroup=backbone\nfilters=32\nsize=1\nstride=2\nbatch_normalize=1\nactivation=relu\n"
    "[avgpool]\ngroup=backbone\n"
    /* C (head) */
    "[connected]\nname=head\ngroup=head\noutput=5\n"
    "[cost]\ngroup=head\n";

static char tmp[512], cfg[600], data[600];

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    REQUIRE(f, "write %s", path);
    fputs(text, f);
    fclose(f);
}

static int files_equal(const char *a, const char *b) {
    FILE *x = fopen(a, "rb"), *y = fopen(b, "rb");
    int eq = x && y;
    while (eq) {
        int c = fgetc(x), d = fgetc(y);
        if (c != d) eq = 0;
        if (c == EOF || d == EOF) break;
    }
    if (x) fclose(x);
    if (y) fclose(y);
    return eq;
}

static void experiment(mc_experiment *e, const char *name, int threads) {
    char out[800];
    snprintf(out, sizeof out, "%s/%s", tmp, name);
    mc_experiment_init(e);
    e->net = strdup(cfg);
    e->data = strdup(data);
    e->out = strdup(out);
    e->path = strdup("test_threads");
    e->seed = 11;
    e->threads = threads;
    e->workers = 2;
    e->nstages = 2;
    e->st[0].stage = MC_STAGE_COLOR;
    e->st[0].max_lr = 2e-2;
    e->st[0].epochs = 2;            /* 16 iterations, checkpoints at 5, 10, 15, 16 */
    e->st[0].checkpoint_every = 5;
    e->st[1].stage = MC_STAGE_ALL;
    e->st[1].max_lr = 2e-2;
    e->st[1].epochs = 3;            /* 24 iterations, checkpoints at 5, 10, 15, 20, 24 */
    e->st[1].checkpoint_every = 5;
}

/* one call of the runner: fresh (resume 0) or resumed, stopping at the first checkpoint at or
 * after stop_after (0: to the end) */
static void run(const char *name, int threads, int resume, long stop_after) {
    mc_experiment e;
    experiment(&e, name, threads);
    mc_run_opts ro = {.resume = resume, .stop_after = stop_after};
    REQUIRE_OK(mc_experiment_run(&e, &ro));
    mc_experiment_clear(&e);
}

/* the checkpoint's record of backend and threads */
static void check_meta(const char *name, const char *stage, int threads) {
    char p[900];
    snprintf(p, sizeof p, "%s/%s/%s/checkpoint.safetensors", tmp, name, stage);
    mc_st *st;
    REQUIRE_OK(mc_st_open(&st, p));
    const char *be = mc_st_metadata(st, "backend"), *th = mc_st_metadata(st, "threads");
    CHECK(be && !strcmp(be, "cpu"), "%s: checkpoint backend '%s'", p, be ? be : "(none)");
    CHECK(th && atoi(th) == threads, "%s: checkpoint threads '%s', want %d", p, th ? th : "(none)", threads);
    mc_st_close(st);
}

static int stage_done(const char *name, const char *stage) {
    char p[900];
    snprintf(p, sizeof p, "%s/%s/%s/DONE", tmp, name, stage);
    return access(p, F_OK) == 0;
}

/* every weight file of `name` byte-identical to the reference run's */
static void same_as_reference(const char *name, const char *how) {
    static const char *const files[] = {"1-color/best.weights", "1-color/last.weights", "2-all/best.weights",
                                        "2-all/last.weights"};
    int same = 1;
    for (int i = 0; i < 4; i++) {
        char a[900], b[900];
        snprintf(a, sizeof a, "%s/ref1/%s", tmp, files[i]);
        snprintf(b, sizeof b, "%s/%s/%s", tmp, name, files[i]);
        int eq = files_equal(a, b);
        CHECK(eq, "%s: %s differs from the uninterrupted 1-thread run's", how, files[i]);
        same &= eq;
    }
    printf("  %-58s %s\n", how, same ? "byte-identical" : "DIFFERENT");
}

int main(void) {
    snprintf(tmp, sizeof tmp, "%s", mc_test_tmp());
    snprintf(cfg, sizeof cfg, "%s/threads.cfg", tmp);
    snprintf(data, sizeof data, "%s/demo.data", tmp);
    write_text(cfg, NET);
    char d[2048];
    snprintf(d, sizeof d,
             "format = chexpert\nroot = %s/demo\ntrain = CheXpert-v1.0-small/train.csv\n"
             "valid = CheXpert-v1.0-small/valid.csv\n"
             "labels = Atelectasis:ones, Cardiomegaly:zeros, Consolidation:zeros, Edema:ones, Pleural Effusion:ones\n",
             tmp);
    write_text(data, d);
    snprintf(d, sizeof d, "%s/demo", tmp);
    REQUIRE_OK(mc_demo_make(d, 64, 24, 40, 36, 5));

    /* the layers are built as meant (a misspelt key would fail the build, not the intent) */
    {
        mc_net *net;
        mc_net_opts o = {.seed = 1, .threads = 3};
        REQUIRE_OK(mc_net_from_cfg(&net, cfg, &o));
        CHECK(mc_net_threads(net) == 3 && !strcmp(mc_net_backend_name(net), "cpu"), "net threads %d backend %s",
              mc_net_threads(net), mc_net_backend_name(net));
        int c, h, w;
        REQUIRE_OK(mc_net_layer_shape(net, mc_net_group_last_layer(net, "color"), &c, &h, &w));
        CHECK(c == 3 && h == 32 && w == 32, "T's output %dx%dx%d", c, h, w);
        mc_net_free(net);
    }

    /* uninterrupted, 1 and 3 threads (2 threads: in the resumed runs below) */
    run("ref1", 1, 0, 0);
    CHECK(stage_done("ref1", "2-all"), "the reference run finished");
    run("ref3", 3, 0, 0);
    same_as_reference("ref3", "uninterrupted, 3 threads");
    if (omp_get_num_procs() > 3) { /* a larger machine: all its cores too */
        char how[80];
        run("refall", 0, 0, 0);
        snprintf(how, sizeof how, "uninterrupted, all %d cores", omp_get_num_procs());
        same_as_reference("refall", how);
    }

    /* the vector instructions: the AVX2 kernels give the AVX-512 ones' bits (cpu/gemm_f32.h) */
    if (mc_cpu_f32_level() == MC_F32_AVX512) {
        setenv("MC_TEST_NO_AVX512", "1", 1);
        CHECK(mc_cpu_f32_level() == MC_F32_AVX2, "MC_TEST_NO_AVX512=1: level %d", mc_cpu_f32_level());
        run("avx2", 2, 0, 0);
        same_as_reference("avx2", "uninterrupted, 2 threads, without AVX-512 (AVX2)");
        run("e", 2, 0, 12);
        CHECK(!stage_done("e", "1-color"), "e: stopped in the first stage");
        unsetenv("MC_TEST_NO_AVX512");
        run("e", 1, 1, 0);
        same_as_reference("e", "AVX2, 2 threads, stopped, resumed with AVX-512, 1");
    } else {
        mc_test_skip("test_threads: AVX2 against AVX-512", "this CPU has no AVX-512 to compare with");
    }

    /* 2 -> 3 -> 1 threads, stopped twice in the first stage (at iterations 10 and 15) */
    run("b", 2, 0, 7);
    CHECK(!stage_done("b", "1-color"), "b: stopped in the first stage");
    check_meta("b", "1-color", 2);
    run("b", 3, 1, 12);
    CHECK(!stage_done("b", "1-color"), "b: stopped in the first stage again");
    check_meta("b", "1-color", 3);
    run("b", 1, 1, 0);
    same_as_reference("b", "2 threads, resumed with 3, resumed with 1");

    /* 1 -> 3 and 3 -> 2 threads, stopped in the second stage (at iteration 20) */
    run("c", 1, 0, 20);
    CHECK(stage_done("c", "1-color") && !stage_done("c", "2-all"), "c: stopped in the second stage");
    check_meta("c", "2-all", 1);
    run("c", 3, 1, 0);
    same_as_reference("c", "1 thread, stopped in stage 2, resumed with 3");
    run("d", 3, 0, 20);
    CHECK(stage_done("d", "1-color") && !stage_done("d", "2-all"), "d: stopped in the second stage");
    check_meta("d", "2-all", 3);
    run("d", 2, 1, 0);
    same_as_reference("d", "3 threads, stopped in stage 2, resumed with 2");
    check_meta("d", "2-all", 2);
    return mc_test_done("test_threads");
}
