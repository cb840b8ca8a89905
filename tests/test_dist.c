/* test_dist.c — data-parallel training over MPI on the CPU (src/dist/, docs/distributed.md).
 *
 * Run directly (make test), it starts itself under `mpirun --allow-run-as-root --oversubscribe`
 * and reads the children's verdicts:
 *   -np 2 and -np 3, "train": a stage of training (Color Module then All, with synchronised batch
 *     norm, validation sharded and gathered) on N ranks with the global batch 6 ends with the
 *     weights of the single-process run with batch 6 to float rounding (tolerance below); every
 *     rank holds the same weights bit for bit (and the periodic checksum catches one ulp of
 *     difference, naming the rank); per-rank BN statistics (bn_local) differ from it
 *     (the synchronised case is not passing by accident); sharded evaluation gives the
 *     single-process probabilities;
 *   -np 3, also: a run of 2 ranks stopped at a checkpoint and resumed on 1 and on 3 ranks ends
 *     where the uninterrupted single-process run ends;
 *   -np 2, "kill": rank 1 is killed (SIGKILL) in the middle of training: mpirun ends the whole
 *     job within seconds, non-zero, naming rank 1, and the last checkpoint still loads.
 * Without MPI too: the CPU backend's synchronised batch norm (mc_bn_desc.sum) given the sums of
 * two processes holding the same batch computes the one-process result, bit for bit.
 * Skips (77) when built without MPI or when mpirun is missing.
 */
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "dist/dist.h"
#include "engine/backend.h"
#include "test.h"

static const char *NET =
    "[net]\nbatch=6\nwidth=32\nheight=32\nchannels=1\n"
    "[convolutional]\nname=t1\ngroup=color\nfilters=6\nsize=3\npadding=1\nbatch_normalize=1\nbias=1\nactivation=leaky\nslope=0.01\n"
    "[convolutional]\nname=t2\ngroup=color\nfilters=3\nsize=1\n"
    "[convolutional]\nname=e1\ngroup=backbone\nfilters=8\nsize=3\nstride=2\npadding=1\nbatch_normalize=1\nactivation=relu\n"
    "[batchnorm]\nname=e2\ngroup=backbone\nactivation=relu\n"
    "[convolutional]\nname=e3\ngroup=backbone\nfilters=16\nsize=3\nstride=2\npadding=1\nbatch_normalize=1\nactivation=relu\n"
    "[avgpool]\ngroup=backbone\n"
    "[connected]\nname=head\ngroup=head\noutput=5\n"
    "[cost]\ngroup=head\n";

#define GLOBAL_BATCH 6
#define ITERS 12
/* The tolerance of "equals the single-process run": the ranks add the gradients of their parts
 * of the batch (3+3 or 2+2+2 images) where one process adds all 6 in its own order, and the
 * batch-norm sums likewise, so each step can differ by float32 rounding (an ulp, ~6e-8 of the
 * weights here); 24 steps of SGD with momentum through batch norm can amplify it. Measured
 * here: at most 6e-8 (printed). 1e-6 of the largest weight leaves a margin of about 15x and is
 * far below what a wrong semantics gives (per-rank BN statistics: ~1e-2, checked below; a lost
 * gradient part or a per-rank loss normalisation: larger). */
#define TOL 1e-6

static char tmp[512], cfg[700], data[700];
static mc_dist *world;

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    REQUIRE(f, "write %s", path);
    fputs(text, f);
    fclose(f);
}

/* every tensor of the network (parameters and BN statistics), in order */
static float *all_tensors(mc_net *net, size_t *n) {
    size_t tot = 0;
    int nt = mc_net_num_tensors(net);
    for (int i = 0; i < nt; i++) {
        mc_tensor_info ti;
        mc_net_tensor_info(net, i, &ti);
        tot += ti.numel;
    }
    float *v = malloc(tot * sizeof(float)), *p = v;
    for (int i = 0; i < nt; i++) {
        mc_tensor_info ti;
        mc_net_tensor_info(net, i, &ti);
        REQUIRE_OK(mc_net_tensor_get(net, i, p));
        p += ti.numel;
    }
    *n = tot;
    return v;
}

static double max_abs(const float *v, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(v[i]));
    return m;
}

static double max_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - (double)b[i]));
    return m;
}

static mc_net *make_net(int batch) {
    mc_net *net;
    mc_net_opts o = {.seed = 3, .threads = 1, .batch = batch};
    REQUIRE_OK(mc_net_from_cfg(&net, cfg, &o));
    return net;
}

/* Color Module (max_iters ITERS) then All, as the trainer runs them; returns the weights */
static float *train_two(mc_dist *d, int bn_local, const char *dir, const mc_dataset *tr, const mc_dataset *va,
                        long stop_after, int resume, size_t *n, double *auc) {
    int N = mc_dist_size(d);
    mc_net *net = make_net(GLOBAL_BATCH / N);
    const int stages[2] = {MC_STAGE_COLOR, MC_STAGE_ALL};
    for (int k = 0; k < 2; k++) {
        mc_train_opts to;
        mc_train_opts_default(&to);
        char sub[800];
        snprintf(sub, sizeof sub, "%s/%d", dir, k);
        to.stage = stages[k];
        to.max_lr = 2e-2;
        to.max_iters = ITERS;
        to.checkpoint_every = 4;
        to.seed = 11 + (uint64_t)k;
        to.workers = 1;
        to.dir = sub;
        to.dist = d;
        to.bn_local = bn_local;
        to.resume = resume;
        to.stop_after = k == 1 ? stop_after : 0;
        mc_train_result r;
        int rc = mc_train(net, tr, va, &to, &r);
        REQUIRE(rc == MC_OK, "rank %d of %d, stage %d: %s", mc_dist_rank(d), N, k, mc_errmsg());
        if (auc) *auc = r.best_auc;
        if (r.stopped) break;
    }
    float *w = all_tensors(net, n);
    mc_net_free(net);
    return w;
}

/* the weights of every rank of d are those of rank 0, bit for bit */
static void check_identical(mc_dist *d, const float *w, size_t n, const char *what) {
    int N = mc_dist_size(d);
    float *all = mc_dist_is_root(d) ? malloc((size_t)N * n * sizeof(float)) : NULL;
    REQUIRE_OK(mc_dist_gather(d, w, n * sizeof(float), all, 0));
    if (mc_dist_is_root(d)) {
        int same = 1;
        for (int r = 1; r < N; r++) same &= !memcmp(all, all + (size_t)r * n, n * sizeof(float));
        CHECK(same, "%s: the ranks' weights differ", what);
        free(all);
    }
}

static void copy_tree(const char *from, const char *to) {
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", to, from, to);
    REQUIRE(system(cmd) == 0, "%s", cmd);
}

static int child_train(void) {
    int N = mc_dist_size(world), rank = mc_dist_rank(world);
    mc_datafile *df;
    mc_dataset *train, *valid;
    REQUIRE_OK(mc_datafile_load(&df, data, NULL));
    REQUIRE_OK(mc_dataset_load(&train, df, "train"));
    REQUIRE_OK(mc_dataset_load(&valid, df, "valid"));
    char dir[800];
    size_t n;
    /* the single-process reference (rank 0, dist NULL), given to every rank */
    double auc1 = 0, aucN = 0;
    snprintf(dir, sizeof dir, "%s/np%d-single", tmp, N);
    float *ref = NULL;
    if (rank == 0) ref = train_two(NULL, 0, dir, train, valid, 0, 0, &n, &auc1);
    REQUIRE_OK(mc_dist_bcast(world, &n, sizeof n, 0));
    if (rank) ref = malloc(n * sizeof(float));
    REQUIRE_OK(mc_dist_bcast(world, ref, n * sizeof(float), 0));
    REQUIRE_OK(mc_dist_bcast(world, &auc1, sizeof auc1, 0));
    double scale = max_abs(ref, n);

    snprintf(dir, sizeof dir, "%s/np%d-sync", tmp, N);
    size_t n2;
    float *w = train_two(world, 0, dir, train, valid, 0, 0, &n2, &aucN);
    REQUIRE(n2 == n, "tensor sizes");
    double dmax = max_diff(w, ref, n);
    CHECK(dmax <= TOL * scale, "%d ranks vs one process: max |dw| %.3g > %.3g", N, dmax, TOL * scale);
    CHECK(fabs(aucN - auc1) < 1e-6, "%d ranks: best validation AUC %.9f, one process %.9f", N, aucN, auc1);
    check_identical(world, w, n, "synchronised BN");
    if (rank == 0)
        printf("  %d ranks x batch %d = one process x batch %d: max |dw| %.3g (largest weight %.3g, tolerance %.3g); "
               "best AUC %.6f vs %.6f; ranks bit-identical; communication %.3f s\n",
               N, GLOBAL_BATCH / N, GLOBAL_BATCH, dmax, scale, TOL * scale, aucN, auc1, mc_dist_comm_seconds(world));

    /* the gradient in buckets of ~40 floats (MC_DIST_BUCKET_FLOATS; the default 4 MB is one bucket
     * for this net): every bucket's sum starts inside the backward pass, and the weights are those
     * of one sum after the pass (MC_DIST_BUCKET_FLOATS=-1): bit for bit on 2 ranks (a sum of two
     * is the same in any order), to the tolerance above on 3 (MPI's non-blocking reduce may add
     * in another order); ranks bit-identical */
    {
        long early, total;
        setenv("MC_DIST_BUCKET_FLOATS", "-1", 1);
        snprintf(dir, sizeof dir, "%s/np%d-onesum", tmp, N);
        float *w1 = train_two(world, 0, dir, train, valid, 0, 0, &n2, NULL);
        mc_dist_overlap(&early, &total);
        CHECK(total == 0, "MC_DIST_BUCKET_FLOATS=-1: %ld buckets", total);
        setenv("MC_DIST_BUCKET_FLOATS", "40", 1);
        snprintf(dir, sizeof dir, "%s/np%d-buckets", tmp, N);
        float *wb = train_two(world, 0, dir, train, valid, 0, 0, &n2, NULL);
        unsetenv("MC_DIST_BUCKET_FLOATS");
        mc_dist_overlap(&early, &total);
        const long per_pass = total / ITERS; /* the All stage's passes (the attachment's) */
        CHECK(per_pass >= 4 && early == total, "buckets of 40 floats: %ld per pass, %ld of %ld started inside the pass",
              per_pass, early, total);
        double db = max_diff(wb, w1, n);
        if (N == 2)
            CHECK(db == 0.0, "2 ranks: bucketed sums differ from one sum after the pass: max |dw| %.3g", db);
        else
            CHECK(db <= TOL * scale, "%d ranks: bucketed sums vs one sum: max |dw| %.3g > %.3g", N, db, TOL * scale);
        check_identical(world, wb, n, "bucketed gradient sums");
        if (rank == 0)
            printf("  gradient buckets of 40 floats: %ld per pass, all started inside the backward pass; weights vs one "
                   "sum after the pass: max |dw| %.3g\n", per_pass, db);
        free(w1);
        free(wb);
    }

    /* per-rank statistics: a different network (so the check above can fail) */
    snprintf(dir, sizeof dir, "%s/np%d-local", tmp, N);
    float *wl = train_two(world, 1, dir, train, valid, 0, 0, &n2, NULL);
    double dl = max_diff(wl, ref, n);
    CHECK(dl > 50 * TOL * scale, "per-rank BN statistics should differ from the global ones: max |dw| %.3g", dl);
    check_identical(world, wl, n, "per-rank BN");
    if (rank == 0) printf("  per-rank BN statistics (bn_local): max |dw| %.3g from the one-process run\n", dl);
    free(wl);

    /* sharded evaluation = one process's */
    {
        mc_net *one = make_net(GLOBAL_BATCH), *part = make_net(GLOBAL_BATCH / N);
        float *p1 = malloc((size_t)valid->n * 5 * sizeof(float)), *pN = malloc((size_t)valid->n * 5 * sizeof(float));
        double l1, lN;
        REQUIRE_OK(mc_evaluate(one, valid, 1, p1, &l1));
        REQUIRE_OK(mc_evaluate_dist(part, valid, 1, world, pN, &lN, NULL, NULL));
        double dp = max_diff(p1, pN, (size_t)valid->n * 5);
        /* eval mode: each image's output does not depend on its batch but for float rounding */
        CHECK(dp < 1e-6 && fabs(l1 - lN) < 1e-6, "sharded evaluation: max |dp| %.3g, loss %.9f vs %.9f", dp, lN, l1);
        check_identical(world, pN, (size_t)valid->n * 5, "gathered predictions");
        free(p1);
        free(pN);
        mc_net_free(one);
        mc_net_free(part);
    }

    /* the weights' checksum: equal nets pass, one changed value on the last rank is an error
     * naming that rank (on every rank) */
    {
        mc_net *net = make_net(GLOBAL_BATCH / N);
        mc_dist_train_opts dto = {0};
        REQUIRE_OK(mc_dist_attach(world, net, &dto)); /* everyone takes rank 0's weights */
        CHECK(mc_dist_check(world, net, 1) == MC_OK, "checksum: identical weights reported different: %s", mc_errmsg());
        if (rank == N - 1) {
            int i = mc_net_find_tensor(net, "head.bias");
            float b[5];
            REQUIRE_OK(mc_net_tensor_get(net, i, b));
            b[2] = nextafterf(b[2], 1.0f);
            REQUIRE_OK(mc_net_tensor_set(net, i, b));
        }
        int rc = mc_dist_check(world, net, 7);
        char want[64];
        snprintf(want, sizeof want, "iteration 7: the weights of rank %d differ", N - 1);
        CHECK(rc == MC_ENUM && strstr(mc_errmsg(), want), "checksum: one ulp on rank %d: rc %d, '%s'", N - 1, rc,
              mc_errmsg());
        mc_clear_error();
        REQUIRE_OK(mc_dist_detach(world, net));
        mc_net_free(net);
    }

    /* resume with another number of ranks (inside -np 3: 2 ranks stop, 1 and 3 resume) */
    if (N == 3) {
        char stopped[800], r1[800], r3[800];
        snprintf(stopped, sizeof stopped, "%s/np3-stopped", tmp);
        snprintf(r1, sizeof r1, "%s/np3-resume1", tmp);
        snprintf(r3, sizeof r3, "%s/np3-resume3", tmp);
        mc_dist *two, *one;
        REQUIRE_OK(mc_dist_split(world, rank < 2 ? 0 : -1, &two));
        if (two) {
            size_t ns;
            free(train_two(two, 0, stopped, train, valid, 6, 0, &ns, NULL));
            mc_dist_free(two);
        }
        REQUIRE_OK(mc_dist_barrier(world));
        if (rank == 0) {
            struct stat st;
            char ck[900];
            snprintf(ck, sizeof ck, "%s/1/checkpoint.safetensors", stopped);
            CHECK(stat(ck, &st) == 0, "the 2-rank run left no checkpoint at %s", ck);
            copy_tree(stopped, r1);
            copy_tree(stopped, r3);
        }
        REQUIRE_OK(mc_dist_barrier(world));
        REQUIRE_OK(mc_dist_split(world, rank == 0 ? 0 : -1, &one));
        if (one) {
            size_t ns;
            float *w1 = train_two(one, 0, r1, train, valid, 0, 1, &ns, NULL);
            double d1 = max_diff(w1, ref, n);
            CHECK(d1 <= TOL * scale, "2 ranks stopped, resumed on 1: max |dw| %.3g from the uninterrupted run", d1);
            printf("  stopped on 2 ranks at iteration 6 of All, resumed on 1: max |dw| %.3g\n", d1);
            free(w1);
            mc_dist_free(one);
        }
        REQUIRE_OK(mc_dist_barrier(world));
        size_t ns;
        float *w3 = train_two(world, 0, r3, train, valid, 0, 1, &ns, NULL);
        double d3 = max_diff(w3, ref, n);
        CHECK(d3 <= TOL * scale, "2 ranks stopped, resumed on 3: max |dw| %.3g from the uninterrupted run", d3);
        check_identical(world, w3, n, "resumed on 3");
        if (rank == 0) printf("  stopped on 2 ranks, resumed on 3: max |dw| %.3g\n", d3);
        free(w3);
    }
    free(w);
    free(ref);
    mc_dataset_free(train);
    mc_dataset_free(valid);
    mc_datafile_free(df);
    return MC_OK;
}

/* rank 1 dies at iteration 6 (after the checkpoint at 4) */
static void killer(const mc_train_event *e, void *ctx) {
    if (e->type == MC_EV_ITER && e->iter == 6 && mc_dist_rank(world) == 1) raise(SIGKILL);
}

static int child_kill(void) {
    mc_datafile *df;
    mc_dataset *train;
    REQUIRE_OK(mc_datafile_load(&df, data, NULL));
    REQUIRE_OK(mc_dataset_load(&train, df, "train"));
    mc_net *net = make_net(GLOBAL_BATCH / mc_dist_size(world));
    mc_train_opts to;
    mc_train_opts_default(&to);
    char dir[800];
    snprintf(dir, sizeof dir, "%s/killed", tmp);
    to.max_lr = 1e-2;
    to.max_iters = 1000000;
    to.epochs = 1000;
    to.checkpoint_every = 4;
    to.dir = dir;
    to.dist = world;
    to.on_event = killer;
    mc_train_result r;
    int rc = mc_train(net, train, NULL, &to, &r);
    /* rank 0 never gets here: mpirun ends it when rank 1 dies */
    fprintf(stderr, "rank %d: training returned %d (%s)\n", mc_dist_rank(world), rc, rc ? mc_errmsg() : "");
    mc_dist_abort(world, 3);
    return 3;
}

/* ---- the synchronised batch norm hook, in one process (runs without MPI too) ----------------- */
typedef struct twice_ctx {
    int calls;
    size_t n;
    double count;
} twice_ctx;

/* two processes holding the same batch: every sum doubles */
static int sum_twice(void *ctx, double *v, size_t n) {
    twice_ctx *t = ctx;
    t->calls++;
    t->n = n;
    t->count = v[n - 1];
    for (size_t i = 0; i < n; i++) v[i] *= 2.0;
    return MC_OK;
}

/* The CPU backend's batch norm with mc_bn_desc.sum: given the sums of two processes holding the
 * same batch, it computes what it computes without the hook, bit for bit (doubling is exact:
 * 2s/2m = s/m), for the fused activation too; dgamma/dbeta stay this process's own sums. The
 * hook gets 2c+1 values, the count n*hw last. */
static void bn_hook_cpu(void) {
    mc_backend *be;
    REQUIRE_OK(mc_backend_cpu_create(&be, NULL));
    const int n = 3, c = 4, hw = 29;
    size_t tot = (size_t)n * c * hw;
    mc_rng r;
    mc_rng_seed(&r, 5);
    float *x = malloc(tot * sizeof(float)), *dy = malloc(tot * sizeof(float));
    for (size_t i = 0; i < tot; i++) x[i] = (float)mc_rng_normal(&r) * 2.0f + 1.0f, dy[i] = (float)mc_rng_normal(&r);
    float g[4] = {0.5f, 1.0f, 1.5f, -0.7f}, b[4] = {0.1f, -0.2f, 0.3f, 0.0f};
    mc_act leaky = {.type = MC_ACT_LEAKY, .a = 0.01f};
    for (int fused = 0; fused < 2; fused++) {
        float *y[2], *dx[2], rm[2][4], rv[2][4], sm[2][4], si[2][4], dg[2][4], db[2][4];
        twice_ctx t = {0};
        for (int k = 0; k < 2; k++) {
            mc_bn_desc d = {.n = n, .c = c, .hw = hw, .eps = 1e-5f, .momentum = 0.1f};
            if (k) {
                d.sum = sum_twice;
                d.sum_ctx = &t;
            }
            y[k] = malloc(tot * sizeof(float));
            dx[k] = calloc(tot, sizeof(float));
            for (int j = 0; j < c; j++) rm[k][j] = 0.1f * (float)j, rv[k][j] = 1.0f + 0.1f * (float)j;
            memset(dg[k], 0, sizeof dg[k]);
            memset(db[k], 0, sizeof db[k]);
            if (fused) {
                REQUIRE_OK(be->bn_act_fwd_train(be, &d, &leaky, x, g, b, rm[k], rv[k], 1, sm[k], si[k], y[k]));
                REQUIRE_OK(be->bn_act_bwd_train(be, &d, &leaky, x, y[k], dy, g, sm[k], si[k], 0.0f, dx[k], 1.0f,
                                                dg[k], db[k], NULL));
            } else {
                REQUIRE_OK(be->bn_fwd_train(be, &d, x, g, b, rm[k], rv[k], 1, sm[k], si[k], y[k]));
                REQUIRE_OK(be->bn_bwd_train(be, &d, x, dy, g, sm[k], si[k], 0.0f, dx[k], 1.0f, dg[k], db[k]));
            }
        }
        CHECK(t.calls == 2 && t.n == 2 * (size_t)c + 1 && t.count == (double)n * hw,
              "bn hook (fused %d): %d calls, %zu values, count %g (want 2, %d, %d)", fused, t.calls, t.n, t.count,
              2 * c + 1, n * hw);
        CHECK(!memcmp(y[0], y[1], tot * sizeof(float)) && !memcmp(sm[0], sm[1], sizeof sm[0]) &&
                  !memcmp(si[0], si[1], sizeof si[0]) && !memcmp(rm[0], rm[1], sizeof rm[0]),
              "bn hook (fused %d): forward: two identical processes' statistics do not give the one-process result",
              fused);
        CHECK(!memcmp(dx[0], dx[1], tot * sizeof(float)) && !memcmp(dg[0], dg[1], sizeof dg[0]) &&
                  !memcmp(db[0], db[1], sizeof db[0]),
              "bn hook (fused %d): backward: two identical processes' sums do not give the one-process result", fused);
        /* the running variance's unbiased correction counts both processes' values: m/(m-1) with
         * m = 2*n*hw (float rounding of the update) */
        for (int j = 0; j < c; j++) {
            double m1 = (double)n * hw, m2 = 2 * m1, v0 = 1.0 + 0.1 * j;
            double var1 = ((double)rv[0][j] - 0.9 * v0) / 0.1 * (m1 - 1) / m1; /* the biased variance */
            double want = 0.9 * v0 + 0.1 * var1 * m2 / (m2 - 1);
            CHECK(fabs((double)rv[1][j] - want) < 1e-5 * want, "bn hook (fused %d): running var %d: %.7g, want %.7g", fused, j,
                  (double)rv[1][j], want);
        }
        free(y[0]), free(y[1]), free(dx[0]), free(dx[1]);
    }
    free(x);
    free(dy);
    be->destroy(be);
}

/* ---- the parent: starts the ranks -------------------------------------------------------- */
static const char *mpirun(void) {
    const char *m = getenv("MPIRUN");
    if (m && *m) return m;
    return system("command -v mpirun >/dev/null 2>&1") == 0 ? "mpirun" : NULL;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* runs `mpirun -np N self mode`, its output into log; returns the exit status, *secs the time */
static int launch(const char *self, int np, const char *mode, const char *log, double *secs) {
    char cmd[3000];
    snprintf(cmd, sizeof cmd, "%s --allow-run-as-root --oversubscribe -np %d '%s' %s > '%s' 2>&1", mpirun(), np, self,
             mode, log);
    double t0 = now();
    int st = system(cmd);
    *secs = now() - t0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static void show(const char *log) {
    FILE *f = fopen(log, "r");
    char line[1024];
    while (f && fgets(line, sizeof line, f)) printf("  | %s", line);
    if (f) fclose(f);
}

static int file_has(const char *path, const char *s) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[2048];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) found = strstr(line, s) != NULL;
    fclose(f);
    return found;
}

int main(int argc, char **argv) {
    snprintf(tmp, sizeof tmp, "%s", mc_test_tmp());
    snprintf(cfg, sizeof cfg, "%s/dist.cfg", tmp);
    snprintf(data, sizeof data, "%s/dist.data", tmp);
    int size;
    if (argc > 1 && mc_dist_launched(&size)) { /* a rank */
        int rc = mc_dist_init(&world);
        REQUIRE(rc == MC_OK, "%s", mc_errmsg());
        if (!strcmp(argv[1], "kill")) return child_kill();
        child_train();
        int ret = mc_test_done(mc_dist_rank(world) ? "test_dist (rank)" : "test_dist (rank 0)");
        mc_dist_free(world);
        return ret;
    }
    bn_hook_cpu();
    if (!mc_dist_compiled()) {
        mc_test_skip("test_dist", "built without MPI (make MPI=1; OpenMPI: apt-get install openmpi-bin libopenmpi-dev)");
        return mc_test_done("test_dist");
    }
    if (!mpirun()) {
        mc_test_skip("test_dist", "mpirun not found (apt-get install openmpi-bin)");
        return mc_test_done("test_dist");
    }
    write_text(cfg, NET);
    char d[2048];
    snprintf(d, sizeof d,
             "format = chexpert\nroot = %s/demo\ntrain = CheXpert-v1.0-small/train.csv\n"
             "valid = CheXpert-v1.0-small/valid.csv\n"
             "labels = Atelectasis:ones, Cardiomegaly:zeros, Consolidation:zeros, Edema:ones, Pleural Effusion:ones\n",
             tmp);
    write_text(data, d);
    snprintf(d, sizeof d, "%s/demo", tmp);
    /* 31 validation images: the last batch of 6 has 1, so some ranks' parts are empty */
    REQUIRE_OK(mc_demo_make(d, 96, 31, 32, 40, 7));

    char self[1024], log[800];
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    REQUIRE(k > 0, "readlink /proc/self/exe");
    self[k] = 0;
    setenv("MC_TMP", tmp, 1);
    setenv("OMP_NUM_THREADS", "1", 1);
    for (int np = 2; np <= 3; np++) {
        double secs;
        snprintf(log, sizeof log, "%s/train-np%d.log", tmp, np);
        int rc = launch(self, np, "train", log, &secs);
        show(log);
        CHECK(rc == 0, "mpirun -np %d (train): exit %d (log above)", np, rc);
        printf("  mpirun -np %d: %.1f s\n", np, secs);
    }
    {
        double secs;
        snprintf(log, sizeof log, "%s/kill.log", tmp);
        int rc = launch(self, 2, "kill", log, &secs);
        show(log);
        CHECK(rc != 0, "a killed rank: mpirun exited 0");
        CHECK(secs < 30, "a killed rank: the job took %.1f s to end", secs);
        CHECK(file_has(log, "rank 1"), "a killed rank: the message does not name rank 1 (log above)");
        char ck[900];
        snprintf(ck, sizeof ck, "%s/killed/checkpoint.safetensors", tmp);
        mc_net *net = make_net(GLOBAL_BATCH);
        mc_ckpt_meta m = {0};
        int lrc = mc_checkpoint_load(net, ck, &m);
        CHECK(lrc == MC_OK && m.next_iter == 4, "after the kill, the checkpoint (iteration 4) loads: %s, iteration %ld",
              lrc ? mc_errmsg() : "ok", m.next_iter);
        mc_net_free(net);
        printf("  rank 1 killed at iteration 6: the job ended in %.1f s, exit %d\n", secs, rc);
    }
    return mc_test_done("test_dist");
}
