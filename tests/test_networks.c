/* test_networks.c — the paper's 8 networks, whole, against PyTorch; and weight import.
 *
 * The fixtures (tests/torch/make_network_fixtures.py, made once per `make test` into
 * $MC_FIXTURES/networks) hold, per network, PyTorch's own build of it (torchvision 0.14's
 * ResNet18 / DenseNet121 as E, the modules T written from docs/modules.md (from the papers), the head C) with
 * random weights and non-trivial BatchNorm running statistics, as safetensors: E as a
 * torchvision/timm ImageNet state dict (no "backbone." prefix, 1000-class fc / classifier,
 * num_batches_tracked; ResNet18's in F16), T and C under the canonical names. medcolor imports
 * them (mc_net_import, E then T+C with partial imports; resnet18-pixelshuffle through
 * `medcolor import --partial` from the ImageNet-style file, densenet121-coloru through
 * `medcolor import` of one complete canonical file), then at 320x320, batch 2:
 *   eval mode: the probabilities against float32 PyTorch within TOL_PROB = 1e-4 absolute (the
 *     issue's criterion; measured ~1e-6), the pooled backbone features within TOL_FEAT of their
 *     scale;
 *   train mode (batch statistics), against PyTorch run in float64 on the same weights (the exact
 *     values): the loss, the probabilities, every BN running statistic after the forward pass,
 *     every parameter's gradient and dL/d(input).
 * Weight import's rules are checked on small synthetic files: shape mismatch, missing tensor
 * without partial (the documented error, network untouched), name conflicts, fc -> head,
 * "module." and legacy DenseNet names, NaN values, darknet input, a .pth zip.
 *
 * Tolerances:
 *   TOL_PROB 1e-4 absolute, TOL_FEAT 1e-4 of the tensor's scale (forward only: every operation
 *     is continuous, and float32 rounding in different summation orders — OpenBLAS vs oneDNN —
 *     stays at ~1e-6 after 140 layers), also for the loss (TOL_LOSS 1e-5 relative, a mean of 10
 *     well-conditioned terms) and the running statistics.
 *   Gradients in train mode cannot be held to that. ReLU and max-pool are not differentiable:
 *     a pre-activation within rounding distance (~1e-6 relative) of 0 takes the other branch in
 *     one framework, which moves that element's whole gradient. At 320x320 there are 10^7 ReLU
 *     inputs, so a few such flips happen in every network — in PyTorch's own float32 run as much
 *     as in ours (both are printed against float64). One flip changes a BN bias gradient of a
 *     10x10 map by ~1/sqrt(200) and spreads, diluted, into every tensor before it in the
 *     backward pass. Measured, for medcolor and for float32 PyTorch alike: max |d| / max |g| up
 *     to ~0.15 in single tensors, ||d|| / ||g|| up to ~0.05, median over a network's tensors
 *     <= 0.013, while the tensors between the loss and the first flip agree to ~1e-6. Criteria:
 *     TOL_NREL 0.15: ||ours - ref|| / ||ref|| per tensor (3x the worst seen);
 *     TOL_NREL_MEDIAN 0.03: the median of that over the network's tensors (2x the worst seen);
 *     TOL_HEAD 1e-4: max |d| / max |g| for the head, which the backward pass reaches before any
 *       ReLU (a flip cannot touch it).
 *     A wiring error (a missing shortcut gradient, a concat in the wrong order, a transposed
 *     weight, a frozen group that still learns) gives O(1) in the tensors it touches.
 *   A conv bias directly followed by train-mode BatchNorm has a zero gradient in exact arithmetic
 *     (BN removes the mean): rounding noise, checked as |ours| <= 1e-4 x max |grad| of that BN's
 *     beta (the same sum without the cancellation).
 * Gradients of tensors over 4096 values are compared through the sketch the fixture stores (it
 * keeps the fixtures at ~95 MB instead of ~400 MB): 4096 random elements (max rel and nrel on
 * them), and over the whole tensor the per-slice sums of |g| (every output channel), ||g||_2
 * and a random-sign projection sum_i s_i g_i (relative to ||g||), all within TOL_NREL.
 * MC_NET_VERBOSE=1 prints every tensor's errors.
 */
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cli/cli.h"
#include "core/core.h"
#include "mc_io.h"
#include "test.h"

#define TOL_PROB 1e-4
#define TOL_FEAT 1e-4
#define TOL_LOSS 1e-5
#define TOL_NREL 0.15
#define TOL_NREL_MEDIAN 0.03
#define TOL_HEAD 1e-4
#define TOL_ZERO 1e-4
#define SALT 0x5851F42D4C957F2DULL

static char dir[1024];     /* the fixtures */
static float *x_eval, *x_train; /* [2][1][320][320] */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double rel_err(const float *a, const float *b, size_t n) {
    double m = 0, s = 1e-6;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) m = d; /* NaN propagates */
        if (fabs((double)b[i]) > s) s = fabs((double)b[i]);
    }
    return m / s;
}

/* tensor `name` of st as float32; *n its number of values; NULL when absent */
static float *read_st(mc_st *st, const char *name, size_t *n) {
    int i = mc_st_find(st, name);
    if (i < 0) return NULL;
    mc_st_info info;
    mc_st_get_info(st, i, &info);
    float *p = malloc((info.numel ? info.numel : 1) * sizeof(float));
    if (!p || mc_st_read_f32(st, i, p, info.numel) < 0) {
        free(p);
        return NULL;
    }
    if (n) *n = info.numel;
    return p;
}

static int file_contains(const char *path, const char *needle) {
    char *text;
    size_t len;
    if (mc_fread_all(path, &text, &len) < 0) return 0;
    int found = strstr(text, needle) != NULL;
    free(text);
    return found;
}

static void print_file(const char *path) {
    char *text;
    size_t len;
    if (mc_fread_all(path, &text, &len) == 0) {
        fprintf(stderr, "---- %s ----\n%s----\n", path, text);
        free(text);
    }
}

/* Runs a CLI command in-process with stdout and stderr going to capture. */
static int run_cli(int (*fn)(int, char **), char **argv, const char *capture) {
    int argc = 0;
    while (argv[argc]) argc++;
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2);
    int fd = open(capture, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(so >= 0 && se >= 0 && fd >= 0, "cannot redirect output to %s", capture);
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
    int rc = fn(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    return rc;
}

static uint64_t splitmix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int layer_by_name(const mc_net *net, const char *name) {
    for (int i = 0; i < mc_net_num_layers(net); i++)
        if (!strcmp(mc_net_layer_name(net, i), name)) return i;
    return -1;
}

/* 1 when tensor ti is "<layer>.bias" of a layer that also owns a BN (running_mean): the bias of a
 * convolution right before BatchNorm. *beta: the index of that BN's bias tensor. */
static int bias_before_bn(const mc_net *net, const mc_tensor_info *ti, int *beta) {
    char want[512];
    snprintf(want, sizeof want, "%s.bias", mc_net_layer_name(net, ti->layer));
    if (strcmp(ti->name, want)) return 0;
    int has_bn = 0;
    *beta = -1;
    for (int k = 0; k < mc_net_num_tensors(net); k++) {
        mc_tensor_info o;
        mc_net_tensor_info(net, k, &o);
        if (o.layer != ti->layer) continue;
        size_t n = strlen(o.name);
        if (n > 13 && !strcmp(o.name + n - 13, ".running_mean")) has_bn = 1;
        if (k != mc_net_find_tensor(net, ti->name) && o.trainable && o.ndim == 1 && n > 5 &&
            !strcmp(o.name + n - 5, ".bias"))
            *beta = k;
    }
    return has_bn && *beta >= 0;
}

/* ---- one network ------------------------------------------------------------------------- */
typedef struct row {
    char name[64];
    double prob, feat;           /* eval: max |dprob|, features (rel. to scale) */
    double loss, stats, head;    /* train: loss (rel.), running stats, head gradients (max rel) */
    double gmax, gnrel, dx, dxn; /* worst gradient: max rel, ||d||/||g||; input gradient both */
    double gmed;                 /* median over the tensors of ||d||/||g|| */
    double t32max, t32nrel, t32loss; /* float32 PyTorch against the float64 reference */
    double t32med;               /* its median over the tensors of ||d||/||g|| */
    double secs;
    int nzero;
    char worst[160]; /* tensor with the largest max rel */
} row;
static row rows[8];
static int nrows;

/* How far a gradient is from the reference: max |d| / max |g| (the table's "max rel") and the
 * norm-relative error ||d|| / ||g|| (the criterion). Full tensors: exact. Sketched ones: both
 * on the 4096 samples, and the norm criterion also covers the whole tensor through the slice
 * sums (each relative to the largest), ||g|| and the random-sign projection (relative to ||g||). */
typedef struct gerr {
    double max, nrel;
} gerr;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static gerr compare(const float *mine, const float *ref, const float *idx, size_t n) {
    double m = 0, s = 1e-30, dd = 0, rr = 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = idx ? (size_t)idx[k] : k;
        double d = fabs((double)mine[i] - (double)ref[k]);
        if (!(d <= m)) m = d; /* NaN propagates */
        if (fabs((double)ref[k]) > s) s = fabs((double)ref[k]);
        dd += d * d;
        rr += (double)ref[k] * (double)ref[k];
    }
    gerr e = {m / s, sqrt(dd) / sqrt(fmax(rr, 1e-60))};
    if (isnan(m)) e.nrel = NAN;
    return e;
}

static gerr grad_error(mc_st *ref, const mc_tensor_info *ti, const float *mine) {
    char tn[600];
    size_t n = 0;
    gerr bad = {1e9, 1e9};
    snprintf(tn, sizeof tn, "grad.%s", ti->name);
    float *full = read_st(ref, tn, &n);
    if (full) {
        CHECK(n == ti->numel, "%s: %zu reference values, %zu in the net", tn, n, ti->numel);
        gerr e = n == ti->numel ? compare(mine, full, NULL, n) : bad;
        free(full);
        return e;
    }
    size_t ni = 0, nv = 0, nr = 0, ns = 0;
    snprintf(tn, sizeof tn, "gidx.%s", ti->name);
    float *idx = read_st(ref, tn, &ni);
    snprintf(tn, sizeof tn, "gval.%s", ti->name);
    float *val = read_st(ref, tn, &nv);
    snprintf(tn, sizeof tn, "grow.%s", ti->name);
    float *rows_ref = read_st(ref, tn, &nr);
    snprintf(tn, sizeof tn, "gstat.%s", ti->name);
    float *stat = read_st(ref, tn, &ns);
    gerr e = bad;
    int ok = idx && val && rows_ref && stat && ni == nv && ns == 3 && nr == (size_t)ti->dims[0];
    for (size_t k = 0; ok && k < ni; k++) ok = (size_t)idx[k] < ti->numel;
    CHECK(ok, "fixture lacks the gradient of %s (or it does not fit)", ti->name);
    if (ok) {
        e = compare(mine, val, idx, ni);
        double l2 = fmax((double)stat[1], 1e-30);
        /* the whole tensor: slice sums, norm, projection */
        size_t per = ti->numel / nr;
        double ss = 0, proj = 0;
        float *myrows = calloc(nr, sizeof(float));
        REQUIRE(myrows, "out of memory");
        for (size_t r = 0; r < nr; r++) {
            double acc = 0;
            for (size_t k = 0; k < per; k++) {
                size_t i = r * per + k;
                double g = mine[i];
                acc += fabs(g);
                ss += g * g;
                proj += (splitmix64((uint64_t)i + SALT) >> 63) ? -g : g;
            }
            myrows[r] = (float)acc;
        }
        double er = compare(myrows, rows_ref, NULL, nr).max, el = fabs(sqrt(ss) - l2) / l2,
               ep = fabs(proj - (double)stat[2]) / l2;
        free(myrows);
        double whole = fmax(er, fmax(el, ep));
        if (!(whole <= e.nrel)) e.nrel = whole;
        if (getenv("MC_NET_VERBOSE"))
            printf("    %-66s samples max %.1e nrel %.1e; slices %.1e norm %.1e projection %.1e\n", ti->name,
                   compare(mine, val, idx, ni).max, compare(mine, val, idx, ni).nrel, er, el, ep);
    }
    free(idx);
    free(val);
    free(rows_ref);
    free(stat);
    return e;
}

/* imports the fixture weights of network `name` into net; how: 0 library (E then T+C), 1 CLI
 * with --partial from the ImageNet-style E file, 2 CLI from one complete canonical file */
static void import_weights(mc_net *net, const char *name, const char *cfg, const char *backbone, int how) {
    char e_path[1200], tc_path[1200], tmp[1200], cap[1200];
    snprintf(e_path, sizeof e_path, "%s/e_%s.safetensors", dir, backbone);
    snprintf(tc_path, sizeof tc_path, "%s/%s.tc.safetensors", dir, name);
    int nt = mc_net_num_tensors(net);
    mc_import_report r1, r2;
    if (how == 0) {
        REQUIRE_OK(mc_net_import(net, e_path, MC_IMPORT_PARTIAL, &r1));
        REQUIRE_OK(mc_net_import(net, tc_path, MC_IMPORT_PARTIAL, &r2));
        /* E file: every backbone tensor under its torchvision name, the 1000-class classifier
         * skipped, num_batches_tracked ignored; T+C file: exactly the rest */
        CHECK(r1.nskipped == 2 && r1.nunused == 0 && r1.nignored > 0 && r1.nrenamed == r1.loaded,
              "%s: E import: skipped %d, unused %d, ignored %d, renamed %d of %d", name, r1.nskipped, r1.nunused,
              r1.nignored, r1.nrenamed, r1.loaded);
        CHECK((size_t)r1.loaded + (size_t)r2.loaded == (size_t)nt && r2.nmissing == r1.loaded && r2.nunused == 0,
              "%s: E loaded %d + T/C loaded %d of %d tensors (T/C missing %d, unused %d)", name, r1.loaded,
              r2.loaded, nt, r2.nmissing, r2.nunused);
        mc_import_report_free(&r1);
        mc_import_report_free(&r2);
        return;
    }
    if (how == 1) {
        /* the ImageNet-style file through the CLI with --partial: the documented notices */
        snprintf(tmp, sizeof tmp, "%s/%s-e.weights", mc_test_tmp(), name);
        snprintf(cap, sizeof cap, "%s/%s-import.txt", mc_test_tmp(), name);
        char *argv[] = {"import", (char *)cfg, e_path, "-o", tmp, "--partial", NULL};
        int rc = run_cli(mc_cli_import, argv, cap);
        CHECK(rc == 0, "%s: medcolor import --partial exited %d", name, rc);
        const char *fc = !strcmp(backbone, "resnet18") ? "fc.weight [1000, 512]" : "classifier.weight [1000, 1024]";
        int ok = file_contains(cap, "skipped   2 classifier tensors") && file_contains(cap, fc) &&
                 file_contains(cap, "ignored   ") && file_contains(cap, "color.stem.conv.weight [64, 1, 7, 7]") &&
                 file_contains(cap, "head.weight [5, ") && file_contains(cap, "initialised from seed 0");
        CHECK(ok, "%s: medcolor import --partial: notices missing from its output", name);
        if (rc || !ok) print_file(cap);
        REQUIRE_OK(mc_net_load_weights(net, tmp));
        /* what the file lacks comes from seed 0: equal to a fresh network's initialisation */
        mc_net *fresh;
        mc_net_opts o = {.batch = 1, .seed = 0, .threads = 2};
        REQUIRE_OK(mc_net_from_cfg(&fresh, cfg, &o));
        const char *names[] = {"color.stem.conv.weight", "color.conv.weight", "head.weight", "head.bias"};
        for (int k = 0; k < 4; k++) {
            int i = mc_net_find_tensor(net, names[k]), j = mc_net_find_tensor(fresh, names[k]);
            REQUIRE(i >= 0 && j >= 0, "%s: no tensor %s", name, names[k]);
            mc_tensor_info ti;
            mc_net_tensor_info(net, i, &ti);
            float *a = malloc(ti.numel * sizeof(float)), *b = malloc(ti.numel * sizeof(float));
            REQUIRE(a && b, "out of memory");
            REQUIRE_OK(mc_net_tensor_get(net, i, a));
            REQUIRE_OK(mc_net_tensor_get(fresh, j, b));
            int nonzero = 0;
            for (size_t q = 0; q < ti.numel; q++) nonzero |= b[q] != 0.0f;
            CHECK(nonzero && !memcmp(a, b, ti.numel * sizeof(float)),
                  "%s: %s is not the seed-0 initialisation after a partial import", name, names[k]);
            free(a);
            free(b);
        }
        mc_net_free(fresh);
        REQUIRE_OK(mc_net_import(net, tc_path, MC_IMPORT_PARTIAL, &r2));
        CHECK(r2.loaded + r2.nmissing == nt, "%s: T/C import: %d + %d of %d", name, r2.loaded, r2.nmissing, nt);
        mc_import_report_free(&r2);
        unlink(tmp);
        return;
    }
    /* how == 2: one complete file under the canonical names, imported without --partial */
    mc_st *e, *tc;
    REQUIRE_OK(mc_st_open(&e, e_path));
    REQUIRE_OK(mc_st_open(&tc, tc_path));
    mc_st_writer *w = mc_st_writer_new();
    REQUIRE(w, "%s", mc_errmsg());
    mc_st *src[2] = {e, tc};
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < mc_st_num_tensors(src[s]); i++) {
            mc_st_info si;
            mc_st_get_info(src[s], i, &si);
            if (strstr(si.name, "num_batches_tracked") || !strncmp(si.name, "classifier.", 11) ||
                !strncmp(si.name, "fc.", 3))
                continue;
            float *v = malloc((si.numel ? si.numel : 1) * sizeof(float));
            REQUIRE(v, "out of memory");
            REQUIRE_OK(mc_st_read_f32(src[s], i, v, si.numel));
            char full[600];
            snprintf(full, sizeof full, "%s%s", s == 0 ? "backbone." : "", si.name);
            REQUIRE_OK(mc_st_writer_add(w, full, si.ndim, si.shape, v));
            free(v);
        }
    snprintf(tmp, sizeof tmp, "%s/%s-full.safetensors", mc_test_tmp(), name);
    REQUIRE_OK(mc_st_writer_save(w, tmp));
    mc_st_writer_free(w);
    mc_st_close(e);
    mc_st_close(tc);
    char out[1200];
    snprintf(out, sizeof out, "%s/%s-full.weights", mc_test_tmp(), name);
    snprintf(cap, sizeof cap, "%s/%s-import.txt", mc_test_tmp(), name);
    char *argv[] = {"import", (char *)cfg, tmp, "-o", out, NULL};
    int rc = run_cli(mc_cli_import, argv, cap);
    char expect[64];
    snprintf(expect, sizeof expect, "loaded    %d of %d tensors", nt, nt);
    CHECK(rc == 0 && file_contains(cap, expect) && !file_contains(cap, "missing") && !file_contains(cap, "unused"),
          "%s: medcolor import of the complete file: rc %d", name, rc);
    if (rc) print_file(cap);
    REQUIRE_OK(mc_net_load_weights(net, out));
    unlink(tmp);
    unlink(out);
}

static void run_network(const char *name, int how) {
    char path[1200];
    double t0 = now_s();
    snprintf(path, sizeof path, "%s/%s.ref.safetensors", dir, name);
    mc_st *ref;
    REQUIRE_OK(mc_st_open(&ref, path));
    const char *cfg = mc_st_metadata(ref, "cfg"), *backbone = mc_st_metadata(ref, "backbone");
    REQUIRE(cfg && backbone, "%s: metadata incomplete", path);
    mc_net *net;
    mc_net_opts o = {.batch = 2, .seed = 0, .threads = 2};
    REQUIRE_OK(mc_net_from_cfg(&net, cfg, &o));
    import_weights(net, name, cfg, backbone, how);
    row *r = &rows[nrows++];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    int nout = mc_net_num_outputs(net), c, h, w;
    mc_net_input_shape(net, &c, &h, &w);
    REQUIRE(c == 1 && h == 320 && w == 320 && nout == 5, "%s: input %dx%dx%d, %d outputs", name, c, h, w, nout);
    size_t nin = (size_t)2 * h * w;

    /* eval mode: probabilities (absolute) and the pooled features */
    size_t n = 0;
    float *prob_eval = read_st(ref, "prob_eval", &n), *feat_eval = read_st(ref, "feat_eval", NULL);
    REQUIRE(prob_eval && feat_eval && n == 10, "%s: fixture lacks prob_eval / feat_eval", name);
    float prob[10];
    mc_net_set_train(net, 0);
    REQUIRE_OK(mc_net_set_input(net, x_eval));
    REQUIRE_OK(mc_net_forward(net));
    REQUIRE_OK(mc_net_get_output(net, -1, prob));
    for (int k = 0; k < 10; k++) r->prob = fmax(r->prob, fabs((double)prob[k] - (double)prob_eval[k]));
    if (isnan(prob[0])) r->prob = NAN;
    CHECK(r->prob <= TOL_PROB, "%s: eval probabilities differ by %.3g > %.0e", name, r->prob, TOL_PROB);
    int head = layer_by_name(net, "head");
    REQUIRE(head > 0, "%s: no layer named head", name);
    int fc, fh, fw;
    mc_net_layer_shape(net, head - 1, &fc, &fh, &fw);
    float *feat = malloc((size_t)2 * fc * fh * fw * sizeof(float));
    REQUIRE(feat, "out of memory");
    REQUIRE_OK(mc_net_get_output(net, head - 1, feat));
    r->feat = rel_err(feat, feat_eval, (size_t)2 * fc);
    CHECK(fh == 1 && fw == 1 && r->feat <= TOL_FEAT, "%s: eval features (%dx%dx%d) error %.3g > %.0e", name, fc, fh,
          fw, r->feat, TOL_FEAT);

    /* train mode: loss, probabilities, gradients, running statistics */
    float *t = read_st(ref, "t", NULL), *mask = read_st(ref, "mask", NULL), *loss = read_st(ref, "loss", NULL),
          *prob_train = read_st(ref, "prob_train", NULL), *dx_ref = read_st(ref, "dx", &n);
    REQUIRE(t && mask && loss && prob_train && dx_ref && n == nin, "%s: fixture lacks the train-mode tensors", name);
    mc_net_set_train(net, 1);
    mc_net_want_input_grad(net, 1);
    REQUIRE_OK(mc_net_set_input(net, x_train));
    REQUIRE_OK(mc_net_set_truth(net, t, mask));
    REQUIRE_OK(mc_net_zero_grad(net));
    REQUIRE_OK(mc_net_forward(net));
    float ours = mc_net_loss(net);
    r->loss = fabs((double)ours - (double)loss[0]) / fabs((double)loss[0]);
    CHECK(r->loss <= TOL_LOSS, "%s: train loss %.9g vs torch %.9g (rel %.3g)", name, (double)ours, (double)loss[0],
          r->loss);
    REQUIRE_OK(mc_net_get_output(net, -1, prob));
    double dp = 0;
    for (int k = 0; k < 10; k++) dp = fmax(dp, fabs((double)prob[k] - (double)prob_train[k]));
    CHECK(dp <= TOL_PROB, "%s: train-mode probabilities differ by %.3g", name, dp);
    REQUIRE_OK(mc_net_backward(net));
    float *dx = malloc(nin * sizeof(float));
    REQUIRE(dx, "out of memory");
    REQUIRE_OK(mc_net_get_input_grad(net, dx));
    gerr edx = compare(dx, dx_ref, NULL, nin);
    r->dx = edx.max;
    r->dxn = edx.nrel;
    CHECK(edx.nrel <= TOL_NREL, "%s: input gradient: ||d|| / ||g|| = %.3g > %.2g", name, edx.nrel, TOL_NREL);
    int nt = mc_net_num_tensors(net), ngrad = 0, nstats = 0, nn = 0;
    double nrels[1024], t32nrels[1024];
    int n32 = 0;
    for (int i = 0; i < nt; i++) {
        mc_tensor_info ti;
        mc_net_tensor_info(net, i, &ti);
        float *mine = malloc(ti.numel * sizeof(float));
        REQUIRE(mine, "out of memory");
        char tn[600];
        if (ti.trainable) {
            REQUIRE_OK(mc_net_tensor_grad(net, i, mine));
            int beta;
            if (bias_before_bn(net, &ti, &beta)) {
                /* zero in exact arithmetic: rounding noise, bounded by the BN beta's scale */
                mc_tensor_info bi;
                mc_net_tensor_info(net, beta, &bi);
                snprintf(tn, sizeof tn, "grad.%s", bi.name);
                float *gb = read_st(ref, tn, NULL);
                CHECK(gb != NULL, "%s: fixture lacks %s", name, tn);
                double sb = 0, so = 0;
                for (size_t k = 0; gb && k < bi.numel; k++) sb = fmax(sb, fabs((double)gb[k]));
                for (size_t k = 0; k < ti.numel; k++) so = fmax(so, fabs((double)mine[k]));
                CHECK(so <= TOL_ZERO * sb, "%s: gradient of %s should be ~0 (BN follows) but is %.3g (beta's %.3g)",
                      name, ti.name, so, sb);
                free(gb);
                r->nzero++;
            } else {
                gerr e = grad_error(ref, &ti, mine);
                CHECK(e.nrel <= TOL_NREL, "%s: gradient of %s: ||d|| / ||g|| = %.3g > %.2g (max rel %.3g)", name,
                      ti.name, e.nrel, TOL_NREL, e.max);
                if (!strncmp(ti.name, "head.", 5)) {
                    CHECK(e.max <= TOL_HEAD, "%s: gradient of %s: max rel %.3g > %.0e", name, ti.name, e.max,
                          TOL_HEAD);
                    r->head = fmax(r->head, e.max);
                }
                if (!(e.max <= r->gmax)) {
                    r->gmax = e.max;
                    snprintf(r->worst, sizeof r->worst, "%s", ti.name);
                }
                if (!(e.nrel <= r->gnrel)) r->gnrel = e.nrel;
                if (nn < (int)(sizeof nrels / sizeof nrels[0])) nrels[nn++] = e.nrel;
                /* PyTorch's own float32 gradient of this tensor, measured the same way */
                snprintf(tn, sizeof tn, "t32err.%s", ti.name);
                size_t n2 = 0;
                float *t32 = read_st(ref, tn, &n2);
                CHECK(t32 && n2 == 2, "%s: fixture lacks %s (regenerate: make fixtures)", name, tn);
                if (t32 && n2 == 2) {
                    r->t32max = fmax(r->t32max, (double)t32[0]);
                    r->t32nrel = fmax(r->t32nrel, (double)t32[1]);
                    if (n32 < (int)(sizeof t32nrels / sizeof t32nrels[0])) t32nrels[n32++] = t32[1];
                }
                free(t32);
                if (getenv("MC_NET_VERBOSE"))
                    printf("    %-70s %9zu values: nrel %.2e max rel %.2e\n", ti.name, ti.numel, e.nrel, e.max);
            }
            ngrad++;
        } else {
            snprintf(tn, sizeof tn, "after.%s", ti.name);
            float *a = read_st(ref, tn, &n);
            CHECK(a && n == ti.numel, "%s: fixture lacks %s", name, tn);
            REQUIRE_OK(mc_net_tensor_get(net, i, mine));
            if (a && n == ti.numel) {
                double e = rel_err(mine, a, n);
                CHECK(e <= TOL_FEAT, "%s: %s after the train forward: error %.3g", name, ti.name, e);
                r->stats = fmax(r->stats, e);
            }
            free(a);
            nstats++;
        }
        free(mine);
    }
    CHECK(ngrad > 0 && nstats > 0 && nn > 0, "%s: %d gradients, %d statistics checked", name, ngrad, nstats);
    qsort(nrels, (size_t)nn, sizeof nrels[0], cmp_double);
    r->gmed = nn ? nrels[nn / 2] : (double)NAN;
    CHECK(r->gmed <= TOL_NREL_MEDIAN, "%s: median over the tensors of ||d|| / ||g|| = %.3g > %.2g", name, r->gmed,
          TOL_NREL_MEDIAN);
    /* PyTorch's own float32 run, measured alike (README's claim is checked in main, over all) */
    qsort(t32nrels, (size_t)n32, sizeof t32nrels[0], cmp_double);
    r->t32med = n32 ? t32nrels[n32 / 2] : (double)NAN;
    CHECK(n32 == nn, "%s: %d of %d tensors have PyTorch float32's error in the fixture", name, n32, nn);
    r->secs = now_s() - t0;
    const char *m1 = mc_st_metadata(ref, "torch32_grad_max"), *m2 = mc_st_metadata(ref, "torch32_grad_nrel"),
               *m3 = mc_st_metadata(ref, "torch32_loss");
    (void)m1; /* the worst max rel and nrel come from the per-tensor t32err above */
    (void)m2;
    r->t32loss = m3 ? atof(m3) : (double)NAN;
    printf("  %-26s eval: prob %.1e feat %.1e | train: loss %.1e, stats %.1e, head %.1e, grads %d (%d ~0): max rel "
           "%.1e (%s), nrel %.1e (median %.1e), dx %.1e/%.1e | %.0f s\n",
           name, r->prob, r->feat, r->loss, r->stats, r->head, ngrad, r->nzero, r->gmax, r->worst, r->gnrel, r->gmed,
           r->dx, r->dxn, r->secs);
    fflush(stdout);
    free(prob_eval);
    free(feat_eval);
    free(feat);
    free(t);
    free(mask);
    free(loss);
    free(prob_train);
    free(dx_ref);
    free(dx);
    mc_net_free(net);
    mc_st_close(ref);
}

/* ---- weight import's rules on small files -------------------------------------------------- */
static const char *SMALL_CFG = "[net]\nbatch=1\nwidth=8\nheight=8\nchannels=3\n"
                               "[convolutional]\nname=backbone.features.denseblock1.denselayer1.conv1\nfilters=4\n"
                               "size=3\npadding=1\nbias=0\nbatch_normalize=1\n"
                               "bn_name=backbone.features.denseblock1.denselayer1.norm2\nactivation=relu\n"
                               "[avgpool]\n[connected]\nname=head\noutput=2\n";

static char small_path[1200];

static void add(mc_st_writer *w, const char *name, int ndim, const int64_t *shape, float v) {
    size_t n = 1;
    for (int d = 0; d < ndim; d++) n *= (size_t)shape[d];
    float *p = malloc(n * sizeof(float));
    REQUIRE(p, "out of memory");
    for (size_t i = 0; i < n; i++) p[i] = v + 0.001f * (float)i;
    REQUIRE_OK(mc_st_writer_add(w, name, ndim, shape, p));
    free(p);
}

/* a file with the small network's tensors; variant changes one thing */
enum { V_CANON, V_LEGACY, V_SHAPE, V_CONFLICT, V_NAN, V_FC_FITS, V_MISSING, V_NONE };
static void small_file(int variant) {
    static const int64_t w4[4] = {4, 3, 3, 3}, w4bad[4] = {4, 3, 5, 5}, v4[1] = {4}, hw[2] = {2, 4}, hb[1] = {2},
                         one[1] = {1};
    mc_st_writer *w = mc_st_writer_new();
    REQUIRE(w, "%s", mc_errmsg());
    const char *L = "features.denseblock1.denselayer1.";
    char n[200];
    if (variant == V_NONE) {
        add(w, "something.else", 1, v4, 1);
    } else {
        snprintf(n, sizeof n, "%s%s", variant == V_CANON ? "backbone." : "module.", L);
        size_t base = strlen(n);
        snprintf(n + base, sizeof n - base, "conv1.weight");
        add(w, n, 4, variant == V_SHAPE ? w4bad : w4, 0.1f);
        if (variant == V_CONFLICT) add(w, "backbone.features.denseblock1.denselayer1.conv1.weight", 4, w4, 0.2f);
        const char *bn[] = {"weight", "bias", "running_mean", "running_var"};
        for (int k = 0; k < 4; k++) {
            if (variant == V_MISSING && k == 3) continue;
            snprintf(n + base, sizeof n - base, "%s.%s", variant == V_LEGACY ? "norm.2" : "norm2", bn[k]);
            add(w, n, 1, v4, k == 3 ? 1.5f : 0.5f);
        }
        snprintf(n + base, sizeof n - base, "norm2.num_batches_tracked");
        add(w, n, 0, one, 3);
        if (variant == V_NAN) {
            float bad[2] = {1, NAN};
            REQUIRE_OK(mc_st_writer_add(w, "head.bias", 1, hb, bad));
        } else {
            add(w, variant == V_FC_FITS ? "classifier.bias" : "head.bias", 1, hb, 0.3f);
        }
        add(w, variant == V_FC_FITS ? "classifier.weight" : "head.weight", 2, hw, -0.2f);
        add(w, "extra.tensor", 1, v4, 0);
    }
    REQUIRE_OK(mc_st_writer_save(w, small_path));
    mc_st_writer_free(w);
}

static void check_import_rules(void) {
    snprintf(small_path, sizeof small_path, "%s/small.safetensors", mc_test_tmp());
    mc_net *net;
    mc_net_opts o = {.batch = 1, .seed = 3, .threads = 2};
    REQUIRE_OK(mc_net_from_string(&net, SMALL_CFG, "small.cfg", &o));
    int nt = mc_net_num_tensors(net);
    CHECK(nt == 7, "small network: %d tensors", nt);
    mc_import_report r;
    float before[108], after[108];
    int wi = mc_net_find_tensor(net, "backbone.features.denseblock1.denselayer1.conv1.weight");
    REQUIRE(wi >= 0, "small network: conv weight not found");
    REQUIRE_OK(mc_net_tensor_get(net, wi, before));

    /* canonical names: all 7 loaded, num_batches_tracked ignored, extra.tensor unused */
    small_file(V_CANON);
    REQUIRE_OK(mc_net_import(net, small_path, 0, &r));
    CHECK(r.loaded == 7 && r.nignored == 1 && r.nunused == 1 && r.nmissing == 0 && r.nskipped == 0 &&
              !strcmp(r.unused[0].name, "extra.tensor"),
          "canonical: loaded %d ignored %d unused %d missing %d", r.loaded, r.nignored, r.nunused, r.nmissing);
    REQUIRE_OK(mc_net_tensor_get(net, wi, after));
    CHECK(fabsf(after[0] - 0.1f) < 1e-7f && fabsf(after[107] - (0.1f + 0.107f)) < 1e-6f, "canonical: values %g %g",
          (double)after[0], (double)after[107]);
    mc_import_report_free(&r);

    /* module. prefix + legacy DenseNet names ("norm.2") + classifier.* fitting the head */
    small_file(V_LEGACY);
    REQUIRE_OK(mc_net_import(net, small_path, 0, &r));
    CHECK(r.loaded == 7 && r.nrenamed == 5, "module./legacy names: loaded %d, renamed %d", r.loaded, r.nrenamed);
    mc_import_report_free(&r);
    small_file(V_FC_FITS);
    REQUIRE_OK(mc_net_import(net, small_path, 0, &r));
    CHECK(r.loaded == 7 && r.nskipped == 0, "classifier.* fitting the head: loaded %d, skipped %d", r.loaded,
          r.nskipped);
    mc_import_report_free(&r);

    /* errors leave the network unchanged */
    REQUIRE_OK(mc_net_tensor_get(net, wi, before));
    small_file(V_SHAPE);
    int rc = mc_net_import(net, small_path, MC_IMPORT_PARTIAL, &r);
    CHECK(rc == MC_ESHAPE && strstr(mc_errmsg(), "denselayer1.conv1.weight") && strstr(mc_errmsg(), "[4, 3, 5, 5]") &&
              strstr(mc_errmsg(), "expects [4, 3, 3, 3]") && strstr(mc_errmsg(), "small.safetensors"),
          "shape mismatch: rc %d: %s", rc, mc_errmsg());
    mc_import_report_free(&r);
    small_file(V_MISSING);
    rc = mc_net_import(net, small_path, 0, &r);
    CHECK(rc == MC_ENOTFOUND && r.nmissing == 1 &&
              strstr(mc_errmsg(), "denselayer1.norm2.running_var [4] is not in the file"),
          "missing tensor: rc %d: %s", rc, mc_errmsg());
    mc_import_report_free(&r);
    small_file(V_CONFLICT);
    rc = mc_net_import(net, small_path, 0, &r);
    CHECK(rc == MC_EPARSE && strstr(mc_errmsg(), "both map to"), "conflict: rc %d: %s", rc, mc_errmsg());
    mc_import_report_free(&r);
    small_file(V_NAN);
    rc = mc_net_import(net, small_path, 0, &r);
    CHECK(rc == MC_ENUM && strstr(mc_errmsg(), "head.bias") && strstr(mc_errmsg(), "NaN"), "NaN: rc %d: %s", rc,
          mc_errmsg());
    mc_import_report_free(&r);
    small_file(V_NONE);
    rc = mc_net_import(net, small_path, MC_IMPORT_PARTIAL, &r);
    CHECK(rc == MC_ENOTFOUND && strstr(mc_errmsg(), "matches"), "nothing matches: rc %d: %s", rc, mc_errmsg());
    mc_import_report_free(&r);
    REQUIRE_OK(mc_net_tensor_get(net, wi, after));
    CHECK(!memcmp(before, after, sizeof before), "a failed import changed the network");

    /* darknet .weights in, and a damaged zip (.pth) refused */
    char dk[1200];
    snprintf(dk, sizeof dk, "%s/small.weights", mc_test_tmp());
    small_file(V_CANON);
    REQUIRE_OK(mc_net_import(net, small_path, 0, NULL));
    REQUIRE_OK(mc_net_save_weights(net, dk));
    mc_net *net2;
    o.seed = 99;
    REQUIRE_OK(mc_net_from_string(&net2, SMALL_CFG, "small.cfg", &o));
    REQUIRE_OK(mc_net_import(net2, dk, 0, &r));
    CHECK(r.darknet == 1 && r.loaded == 7, "darknet input: darknet %d loaded %d", r.darknet, r.loaded);
    mc_import_report_free(&r);
    for (int i = 0; i < nt; i++) {
        float a[108], b[108];
        mc_net_tensor_get(net, i, a);
        mc_net_tensor_get(net2, i, b);
        mc_tensor_info ti;
        mc_net_tensor_info(net, i, &ti);
        CHECK(!memcmp(a, b, ti.numel * sizeof(float)), "darknet input: %s differs", ti.name);
    }
    char zip[1200];
    snprintf(zip, sizeof zip, "%s/model.pth", mc_test_tmp());
    FILE *f = fopen(zip, "wb");
    REQUIRE(f, "cannot write %s", zip);
    fputs("PK\003\004 a pickle archive, cut short before its directory", f);
    fclose(f);
    rc = mc_net_import(net2, zip, 0, NULL);
    /* read as a PyTorch checkpoint now (src/io/pth.c): a damaged archive is named as such */
    CHECK(rc == MC_EPARSE && strstr(mc_errmsg(), "model.pth: no end-of-central-directory record: a truncated zip"),
          ".pth: rc %d: %s", rc, mc_errmsg());
    mc_net_free(net2);
    mc_net_free(net);
    unlink(small_path);
    unlink(dk);
    unlink(zip);
}

/* the ImageNet-style file without --partial: the documented error, network untouched, CLI exit 1 */
static void check_missing_error(void) {
    char e_path[1200], cap[1200], out[1200];
    snprintf(e_path, sizeof e_path, "%s/e_resnet18.safetensors", dir);
    mc_net *net;
    mc_net_opts o = {.batch = 1, .seed = 5, .threads = 2};
    REQUIRE_OK(mc_net_from_cfg(&net, "cfg/resnet18-pixelshuffle.cfg", &o));
    int i = mc_net_find_tensor(net, "backbone.conv1.weight");
    REQUIRE(i >= 0, "no backbone.conv1.weight");
    float a[64 * 3 * 49], b[64 * 3 * 49];
    REQUIRE_OK(mc_net_tensor_get(net, i, a));
    mc_import_report r;
    int rc = mc_net_import(net, e_path, 0, &r);
    CHECK(rc == MC_ENOTFOUND && strstr(mc_errmsg(), "e_resnet18.safetensors: the network's tensor color.") &&
              strstr(mc_errmsg(), "is not in the file (110 of 210 missing"),
          "missing without partial: rc %d: %s", rc, mc_errmsg());
    CHECK(r.nmissing == 110, "missing without partial: %d listed", r.nmissing);
    mc_import_report_free(&r);
    REQUIRE_OK(mc_net_tensor_get(net, i, b));
    CHECK(!memcmp(a, b, sizeof a), "a failed import changed the network");
    mc_net_free(net);
    snprintf(cap, sizeof cap, "%s/missing.txt", mc_test_tmp());
    snprintf(out, sizeof out, "%s/missing.weights", mc_test_tmp());
    char *argv[] = {"import", "cfg/resnet18-pixelshuffle.cfg", e_path, "-o", out, NULL};
    rc = run_cli(mc_cli_import, argv, cap);
    struct stat sb;
    CHECK(rc == 1 && file_contains(cap, "is not in the file") && file_contains(cap, "missing   color.stem.bn.bias [64]") &&
              file_contains(cap, "... and 90 more") &&
              stat(out, &sb) != 0,
          "medcolor import without --partial: exit %d (expected 1, no output file)", rc);
    if (rc != 1) print_file(cap);
}

int main(void) {
    snprintf(dir, sizeof dir, "%s/networks", mc_test_fixtures());
    char path[1200];
    snprintf(path, sizeof path, "%s/index.txt", dir);
    FILE *f = fopen(path, "r");
    REQUIRE(f, "%s missing: run `make fixtures` (needs /usr/bin/python3 with torch and torchvision)", path);
    REQUIRE(access("cfg/resnet18.cfg", R_OK) == 0, "run from the repository root (cfg/ not found)");
    check_import_rules();

    snprintf(path, sizeof path, "%s/inputs.safetensors", dir);
    mc_st *in;
    REQUIRE_OK(mc_st_open(&in, path));
    size_t n1, n2;
    x_eval = read_st(in, "x_eval", &n1);
    x_train = read_st(in, "x_train", &n2);
    REQUIRE(x_eval && x_train && n1 == 2 * 320 * 320 && n2 == n1, "%s: x_eval / x_train missing", path);
    mc_st_close(in);
    check_missing_error();

    char line[64];
    int n = 0;
    while (fgets(line, sizeof line, f) && n < 8) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0]) continue;
        int how = !strcmp(line, "resnet18-pixelshuffle") ? 1 : !strcmp(line, "densenet121-coloru") ? 2 : 0;
        run_network(line, how);
        n++;
    }
    fclose(f);
    CHECK(n == 8, "%d networks in the fixtures, expected 8", n);
    printf("\n  %-26s %11s | %9s %9s %9s %9s | %9s %9s %9s %9s | %7s\n", "", "eval", "train:", "medcolor", "",
           "", "train:", "PyTorch", "float32", "", "");
    printf("  %-26s %11s | %9s %9s %9s %9s | %9s %9s %9s %9s | %7s\n", "network", "max|dprob|", "max rel", "nrel",
           "median", "loss", "max rel", "nrel", "median", "loss", "seconds");
    /* README's claim: the deeper gradients are no further from float64 than PyTorch's own float32
     * run is, over the same 8 networks: every network's worst and median tensor (||d|| / ||g||,
     * measured alike) within the largest PyTorch float32 shows. Not per network: whether a
     * pre-activation within rounding of a kink flips is chance, for each framework in each network
     * (in ResNet18 medcolor meets one at layer4.0's output ReLU — every tensor below it ~5e-3 —
     * while this PyTorch float32 run meets none above the stem, median 3e-6). */
    double t32_worst = 0, t32_med = 0, our_worst = 0, our_med = 0;
    for (int i = 0; i < nrows; i++) {
        printf("  %-26s %11.1e | %9.1e %9.1e %9.1e %9.1e | %9.1e %9.1e %9.1e %9.1e | %7.1f\n", rows[i].name,
               rows[i].prob, rows[i].gmax, rows[i].gnrel, rows[i].gmed, rows[i].loss, rows[i].t32max, rows[i].t32nrel,
               rows[i].t32med, rows[i].t32loss, rows[i].secs);
        t32_worst = fmax(t32_worst, rows[i].t32nrel);
        t32_med = fmax(t32_med, rows[i].t32med);
        our_worst = fmax(our_worst, rows[i].gnrel);
        our_med = fmax(our_med, rows[i].gmed);
    }
    for (int i = 0; i < nrows; i++) {
        CHECK(rows[i].gnrel <= t32_worst, "%s: worst tensor's ||d|| / ||g|| %.3g is beyond PyTorch float32's largest %.3g",
              rows[i].name, rows[i].gnrel, t32_worst);
        CHECK(rows[i].gmed <= t32_med, "%s: median tensor's ||d|| / ||g|| %.3g is beyond PyTorch float32's largest %.3g",
              rows[i].name, rows[i].gmed, t32_med);
    }
    CHECK(nrows == 8 && t32_worst > 0 && t32_med > 0, "PyTorch float32's errors missing from the fixtures");
    printf("  train: gradients against PyTorch float64 (max rel = max|d| / max|g| and nrel = ||d|| / ||g||\n"
           "  of the worst tensor; median = the median tensor's nrel), for medcolor and for PyTorch's own\n"
           "  float32 run, measured alike. Over the 8 networks medcolor's worst tensor %.3f (PyTorch float32's\n"
           "  up to %.3f), median tensor %.4f (PyTorch's up to %.4f): the limits. Other tolerances: prob %.0e\n"
           "  absolute; nrel %.2g per tensor and %.2g for the median tensor; head gradients %.0e max rel;\n"
           "  loss %.0e relative.\n",
           our_worst, t32_worst, our_med, t32_med, TOL_PROB, TOL_NREL, TOL_NREL_MEDIAN, TOL_HEAD, TOL_LOSS);
    free(x_eval);
    free(x_train);
    return mc_test_done("test_networks");
}
