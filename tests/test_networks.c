/* test_networks.c — the paper's 8 networks and the ResNet34 baseline, whole, against PyTorch;
 * the three colorization networks of cfg/colorize/ (see run_colorize); `medcolor features`; and
 * weight import.
 *
 * The fixtures (tests/torch/make_network_fixtures.py, made once per `make test` into
 * $MC_FIXTURES/networks) hold, per network, PyTorch's own build of it (torchvision 0.14's
 * ResNet18 / DenseNet121 / ResNet34 as E, the modules T written from docs/modules.md (from the papers), the head C) with
 * random weights and non-trivial BatchNorm running statistics, as safetensors: E as a
 * torchvision/timm ImageNet state dict (no "backbone." prefix, 1000-class fc / classifier,
 * num_batches_tracked; ResNet18's in F16), T and C under the canonical names. medcolor imports
 * them (mc_net_import, E then T+C with partial imports; the parameter count must be PyTorch's
 * model's; resnet18-pixelshuffle through
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
static row rows[16];
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
    const char *np = mc_st_metadata(ref, "params");
    CHECK(np && mc_net_num_params(net) == (size_t)strtoull(np, NULL, 10),
          "%s: %zu parameters, PyTorch's model has %s", name, mc_net_num_params(net), np ? np : "(not in the fixture)");
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

/* ---- the colorization networks (cfg/colorize/) -------------------------------------------
 * Built at the fixture's size (net.width/height overridden: the cfgs say 256, the networks are
 * fully convolutional), batch 2; weights: the autoencoder from one canonical file, the U-Nets'
 * encoders first from the ImageNet-style e_resnetN file (the torchvision names, its fc skipped:
 * how ImageNet weights reach the encoder), then everything from the canonical file. Compared with
 * PyTorch in float64 (the exact values): eval output and `features` (relative to the tensor's
 * scale), and in train mode the masked MSE loss, the output, every running statistic, dL/dx and
 * every gradient (max |d| / max |g| and ||d|| / ||g|| per tensor).
 *
 * Tolerances. The issue asks 1e-5 for the outputs and 1e-4 for the gradients; the autoencoder
 * meets both with room (~4e-6 and ~4e-7, as PyTorch's own float32 run: ~3e-6). The ResNet U-Nets
 * cannot, in any float32 implementation: PyTorch's own float32 run of the same fixture lands
 * 1.5e-5 / 2.4e-5 (eval output) and 7e-3 (worst gradient) from the float64 values. Random weights
 * through 25-40 train-mode BatchNorms at 4x4..128x128 with batch 2 turn float32 rounding into
 * relative errors that grow layer by layer towards the input, and a pre-activation within
 * rounding of a ReLU's kink flips now and then (see the classifiers above). So each criterion is
 * max(the issue's, K x what PyTorch float32 shows on that network, from the fixture's metadata):
 * K = 2 for the outputs, K = 3 for dL/dx and the worst and median tensors' ||d|| / ||g|| (the
 * classifiers' "3x the worst seen"); the head's gradients, which the backward pass reaches
 * before any ReLU or BatchNorm, 1e-4 max rel everywhere. The table prints both sides. */
#define TOL_COUT 1e-5
#define TOL_CGRAD 1e-4

/* max(floor, k x the metadata value key of ref); floor when absent */
static double tol_vs_torch(mc_st *ref, const char *key, double floor_, double k) {
    const char *v = mc_st_metadata(ref, key);
    double t = v ? atof(v) : 0;
    return fmax(floor_, k * t);
}


/* `medcolor features` of the colorization network on the fixture's two image files (a 16-bit
 * grey PNG and an 8-bit RGB PNG, both resized: the lightness pipeline) against PyTorch on the
 * same preprocessing: the default layer (the head, before [cost]) and, for the U-Nets, the
 * encoder's last block by name. Returns the largest error relative to each tensor's scale. */
static double features_cli(const char *name, const char *cfg, const char *weights, const char *size,
                           mc_st *ref) {
    const double tol = tol_vs_torch(ref, "torch32_eval", TOL_COUT, 2);
    char img[2][1200], out[1200], cap[1200], sw[64], sh[64];
    snprintf(img[0], sizeof img[0], "%s/col_grey16.png", dir);
    snprintf(img[1], sizeof img[1], "%s/col_rgb.png", dir);
    snprintf(out, sizeof out, "%s/%s-features.safetensors", mc_test_tmp(), name);
    snprintf(cap, sizeof cap, "%s/%s-features.txt", mc_test_tmp(), name);
    snprintf(sw, sizeof sw, "net.width=%s", size);
    snprintf(sh, sizeof sh, "net.height=%s", size);
    const int unet = !strncmp(name, "unet-", 5);
    const char *bottom = !strcmp(name, "unet-resnet34") ? "backbone.layer4.2" : "backbone.layer4.1";
    char *argv[20] = {"features", (char *)cfg, (char *)weights, img[0], img[1], "--set", sw, "--set", sh,
                      "-o", out, "--threads", "2"};
    int argc = 13;
    if (unet) {
        argv[argc++] = "--layer";
        argv[argc++] = "-2"; /* the head, by index from the end (the last layer is [cost]) */
        argv[argc++] = "--layer";
        argv[argc++] = (char *)bottom;
    }
    argv[argc] = NULL;
    int rc = run_cli(mc_cli_features, argv, cap);
    CHECK(rc == 0, "%s: medcolor features exited %d", name, rc);
    if (rc) {
        print_file(cap);
        return 1e9;
    }
    mc_st *st;
    REQUIRE_OK(mc_st_open(&st, out));
    const char *pre = mc_st_metadata(st, "preprocessing");
    CHECK(pre && !strcmp(pre, "lab-L"), "%s: features' preprocessing %s", name, pre ? pre : "(none)");
    CHECK(mc_st_num_tensors(st) == (unet ? 4 : 2), "%s: features wrote %d tensors", name, mc_st_num_tensors(st));
    double worst = 0;
    const char *base[2] = {"col_grey16.png", "col_rgb.png"};
    for (int which = 0; which < (unet ? 2 : 1); which++) {
        size_t nr = 0;
        float *r = read_st(ref, which ? "feat_bottom" : "feat_img", &nr);
        REQUIRE(r && nr % 2 == 0, "%s: fixture lacks %s", name, which ? "feat_bottom" : "feat_img");
        for (int i = 0; i < 2; i++) {
            char tn[300];
            snprintf(tn, sizeof tn, "%s/%s", base[i], which ? bottom : "head.0");
            if (!unet && !which) snprintf(tn, sizeof tn, "%s/decoder.8", base[i]);
            size_t n = 0;
            float *mine = read_st(st, tn, &n);
            CHECK(mine && n == nr / 2, "%s: features lacks %s (or its size %zu is not %zu)", name, tn, n, nr / 2);
            if (mine && n == nr / 2) {
                double e = rel_err(mine, r + (size_t)i * n, n);
                CHECK(e <= tol, "%s: features %s: error %.3g of its scale > %.3g", name, tn, e, tol);
                worst = fmax(worst, e);
            }
            free(mine);
        }
        free(r);
    }
    mc_st_close(st);
    unlink(out);
    return worst;
}

static void run_colorize(const char *name) {
    char path[1200], full[1200], sz[2][32];
    double t0 = now_s();
    snprintf(path, sizeof path, "%s/%s.ref.safetensors", dir, name);
    snprintf(full, sizeof full, "%s/%s.full.safetensors", dir, name);
    mc_st *ref;
    REQUIRE_OK(mc_st_open(&ref, path));
    const char *cfg = mc_st_metadata(ref, "cfg"), *size = mc_st_metadata(ref, "size"),
               *np = mc_st_metadata(ref, "params");
    REQUIRE(cfg && size && np, "%s: metadata incomplete", path);
    snprintf(sz[0], sizeof sz[0], "net.width=%s", size);
    snprintf(sz[1], sizeof sz[1], "net.height=%s", size);
    const char *set[] = {sz[0], sz[1], NULL};
    mc_net *net;
    mc_net_opts o = {.batch = 2, .seed = 0, .threads = 2, .set = set};
    REQUIRE_OK(mc_net_from_cfg(&net, cfg, &o));
    int nt = mc_net_num_tensors(net);
    CHECK(mc_net_num_params(net) == (size_t)strtoull(np, NULL, 10), "%s: %zu parameters, PyTorch's model has %s",
          name, mc_net_num_params(net), np);
    mc_import_report r1, r2;
    if (strncmp(name, "unet-", 5) == 0) {
        char e_path[1200];
        snprintf(e_path, sizeof e_path, "%s/e_%s.safetensors", dir, name + 5);
        REQUIRE_OK(mc_net_import(net, e_path, MC_IMPORT_PARTIAL, &r1));
        int nbb = 0;
        for (int i = 0; i < nt; i++) {
            mc_tensor_info ti;
            mc_net_tensor_info(net, i, &ti);
            nbb += !strncmp(ti.name, "backbone.", 9);
        }
        CHECK(r1.loaded == nbb && r1.nskipped == 2 && r1.nunused == 0 && r1.nmissing == nt - nbb,
              "%s: the ImageNet-style encoder file: loaded %d of the %d encoder tensors, skipped %d (fc), unused %d",
              name, r1.loaded, nbb, r1.nskipped, r1.nunused);
        mc_import_report_free(&r1);
    }
    REQUIRE_OK(mc_net_import(net, full, 0, &r2));
    CHECK(r2.loaded == nt && r2.nunused == 0 && r2.nmissing == 0, "%s: canonical file: loaded %d of %d, unused %d",
          name, r2.loaded, nt, r2.nunused);
    mc_import_report_free(&r2);
    int c, h, w;
    mc_net_input_shape(net, &c, &h, &w);
    const int nout = mc_net_num_outputs(net);
    size_t nin = (size_t)2 * c * h * w, no = (size_t)2 * nout, n = 0;
    float *x_ev = read_st(ref, "x_eval", &n), *x_tr = read_st(ref, "x_train", NULL);
    REQUIRE(x_ev && x_tr && n == nin && nout == 2 * h * w, "%s: input %dx%dx%d vs the fixture's %zu values", name, c,
            h, w, n);
    float *out_eval = read_st(ref, "out_eval", &n), *out = malloc(no * sizeof(float));
    REQUIRE(out_eval && n == no && out, "%s: fixture lacks out_eval", name);

    /* eval mode */
    mc_net_set_train(net, 0);
    REQUIRE_OK(mc_net_set_input(net, x_ev));
    REQUIRE_OK(mc_net_forward(net));
    REQUIRE_OK(mc_net_get_output(net, -1, out));
    double e_eval = rel_err(out, out_eval, no), tol_eval = tol_vs_torch(ref, "torch32_eval", TOL_COUT, 2);
    CHECK(e_eval <= tol_eval, "%s: eval output: error %.3g of its scale > %.3g", name, e_eval, tol_eval);
    double e_feat = features_cli(name, cfg, full, size, ref);

    /* train mode */
    float *t = read_st(ref, "t", NULL), *mask = read_st(ref, "mask", NULL), *loss = read_st(ref, "loss", NULL),
          *out_train = read_st(ref, "out_train", NULL), *dx_ref = read_st(ref, "dx", &n);
    REQUIRE(t && mask && loss && out_train && dx_ref && n == nin, "%s: fixture lacks the train-mode tensors", name);
    mc_net_set_train(net, 1);
    mc_net_want_input_grad(net, 1);
    REQUIRE_OK(mc_net_set_input(net, x_tr));
    REQUIRE_OK(mc_net_set_truth(net, t, mask));
    REQUIRE_OK(mc_net_zero_grad(net));
    REQUIRE_OK(mc_net_forward(net));
    double ours = mc_net_loss(net), e_loss = fabs(ours - (double)loss[0]) / fabs((double)loss[0]);
    CHECK(e_loss <= TOL_LOSS, "%s: train loss %.9g vs torch %.9g (rel %.3g)", name, ours, (double)loss[0], e_loss);
    REQUIRE_OK(mc_net_get_output(net, -1, out));
    double e_out = rel_err(out, out_train, no), tol_out = tol_vs_torch(ref, "torch32_out", TOL_COUT, 2);
    CHECK(e_out <= tol_out, "%s: train-mode output: error %.3g of its scale > %.3g", name, e_out, tol_out);
    REQUIRE_OK(mc_net_backward(net));
    float *dx = malloc(nin * sizeof(float));
    REQUIRE(dx, "out of memory");
    REQUIRE_OK(mc_net_get_input_grad(net, dx));
    gerr edx = compare(dx, dx_ref, NULL, nin);
    const double tol_dx = tol_vs_torch(ref, "torch32_dx", TOL_CGRAD, 3),
                 tol_worst = tol_vs_torch(ref, "torch32_grad_nrel", TOL_CGRAD, 3),
                 tol_med = tol_vs_torch(ref, "torch32_grad_nrel_median", TOL_CGRAD, 3);
    CHECK(edx.max <= tol_dx, "%s: input gradient: max rel %.3g > %.3g", name, edx.max, tol_dx);
    double gmax = 0, gnrel = 0, stats = 0, t32max = 0, nrels[1024];
    int nn = 0;
    char worst[200] = "-";
    int ngrad = 0, nstats = 0;
    for (int i = 0; i < nt; i++) {
        mc_tensor_info ti;
        mc_net_tensor_info(net, i, &ti);
        float *mine = malloc(ti.numel * sizeof(float));
        REQUIRE(mine, "out of memory");
        char tn[600];
        if (ti.trainable) {
            REQUIRE_OK(mc_net_tensor_grad(net, i, mine));
            gerr e = grad_error(ref, &ti, mine);
            CHECK(e.nrel <= tol_worst, "%s: gradient of %s: ||d|| / ||g|| %.3g > %.3g (max rel %.3g)", name, ti.name,
                  e.nrel, tol_worst, e.max);
            if (!strncmp(ti.name, "head.", 5))
                CHECK(e.max <= TOL_CGRAD, "%s: gradient of %s: max rel %.3g > %.0e", name, ti.name, e.max, TOL_CGRAD);
            if (nn < (int)(sizeof nrels / sizeof nrels[0])) nrels[nn++] = e.nrel;
            if (!(e.max <= gmax)) {
                gmax = e.max;
                snprintf(worst, sizeof worst, "%s", ti.name);
            }
            gnrel = fmax(gnrel, e.nrel);
            snprintf(tn, sizeof tn, "t32err.%s", ti.name);
            float *t32 = read_st(ref, tn, NULL);
            if (t32) t32max = fmax(t32max, (double)t32[0]);
            free(t32);
            if (getenv("MC_NET_VERBOSE"))
                printf("    %-70s %9zu values: nrel %.2e max rel %.2e\n", ti.name, ti.numel, e.nrel, e.max);
            ngrad++;
        } else {
            snprintf(tn, sizeof tn, "after.%s", ti.name);
            float *a = read_st(ref, tn, &n);
            CHECK(a && n == ti.numel, "%s: fixture lacks %s", name, tn);
            REQUIRE_OK(mc_net_tensor_get(net, i, mine));
            if (a && n == ti.numel) {
                double e = rel_err(mine, a, n);
                CHECK(e <= TOL_FEAT, "%s: %s after the train forward: error %.3g", name, ti.name, e);
                stats = fmax(stats, e);
            }
            free(a);
            nstats++;
        }
        free(mine);
    }
    CHECK(ngrad > 0 && nn == ngrad, "%s: %d gradients checked", name, ngrad);
    qsort(nrels, (size_t)nn, sizeof nrels[0], cmp_double);
    double gmed = nn ? nrels[nn / 2] : (double)NAN;
    CHECK(gmed <= tol_med, "%s: the median tensor's ||d|| / ||g|| %.3g > %.3g", name, gmed, tol_med);
    const char *m_eval = mc_st_metadata(ref, "torch32_eval"), *m_nrel = mc_st_metadata(ref, "torch32_grad_nrel"),
               *m_med = mc_st_metadata(ref, "torch32_grad_nrel_median"), *m_dx = mc_st_metadata(ref, "torch32_dx");
    printf("  %-26s %s params | eval: out %.1e, features %.1e (PyTorch float32 %s) | train: loss %.1e, out %.1e, "
           "stats %.1e, %d gradients: worst max rel %.1e (%s), worst nrel %.1e (PyTorch float32 %s), median %.1e "
           "(%s), dx %.1e (%s) | %.0f s\n",
           name, np, e_eval, e_feat, m_eval ? m_eval : "-", e_loss, e_out, stats, ngrad, gmax, worst, gnrel,
           m_nrel ? m_nrel : "-", gmed, m_med ? m_med : "-", edx.max, m_dx ? m_dx : "-", now_s() - t0);
    (void)t32max;
    fflush(stdout);
    free(x_ev), free(x_tr), free(out_eval), free(out), free(t), free(mask), free(loss), free(out_train);
    free(dx_ref), free(dx);
    mc_net_free(net);
    mc_st_close(ref);
}

/* `medcolor features` of a classifier (the predict fixture's small network, its five images of
 * every kind predict reads): the default layer is the head (the raw logits before [cost]), whose
 * sigmoid must be PyTorch's probabilities (expected.txt, %.9g) within 1e-6; --layer by name
 * gives that layer's [c, h, w]; the errors are one line naming the culprit. */
static void check_features_classifier(void) {
    char pd[1100], cfg[1200], wts[1200], out[1200], cap[1200], exp_path[1200];
    snprintf(pd, sizeof pd, "%s/predict", dir);
    snprintf(cfg, sizeof cfg, "%s/tiny.cfg", pd);
    snprintf(wts, sizeof wts, "%s/tiny.safetensors", pd);
    snprintf(exp_path, sizeof exp_path, "%s/expected.txt", pd);
    snprintf(out, sizeof out, "%s/tiny-features.safetensors", mc_test_tmp());
    snprintf(cap, sizeof cap, "%s/tiny-features.txt", mc_test_tmp());
    const char *names[5] = {"a_exact.png", "b_16bit.png", "c_rgb.png", "d_grey.jpg", "e_colour.jpg"};
    char img[5][1200];
    for (int i = 0; i < 5; i++) snprintf(img[i], sizeof img[i], "%s/%s", pd, names[i]);
    char *argv[] = {"features", cfg, wts, img[0], img[1], img[2], img[3], img[4], "--layer", "head", "--layer", "c1",
                    "--batch", "2", "-o", out, NULL};
    int rc = run_cli(mc_cli_features, argv, cap);
    CHECK(rc == 0 && file_contains(cap, "5 images x 2 layers (head, c1), grey preprocessing"),
          "features of the small classifier: exit %d", rc);
    if (rc) print_file(cap);
    mc_st *st;
    REQUIRE_OK(mc_st_open(&st, out));
    const char *pre = mc_st_metadata(st, "preprocessing"), *lay = mc_st_metadata(st, "layers");
    CHECK(pre && !strcmp(pre, "grey") && lay && !strcmp(lay, "head,c1") && mc_st_num_tensors(st) == 10,
          "features metadata: preprocessing %s, layers %s, %d tensors", pre ? pre : "-", lay ? lay : "-",
          mc_st_num_tensors(st));
    FILE *f = fopen(exp_path, "r");
    REQUIRE(f, "%s missing", exp_path);
    char line[512];
    double worst = 0;
    int rows_seen = 0;
    while (fgets(line, sizeof line, f)) {
        char fn[256];
        double p[3];
        if (sscanf(line, "%255s %lf %lf %lf", fn, &p[0], &p[1], &p[2]) != 4) continue;
        char tn[300];
        snprintf(tn, sizeof tn, "%s/head", fn);
        size_t n = 0;
        float *z = read_st(st, tn, &n);
        CHECK(z && n == 3, "features lacks %s", tn);
        for (size_t k = 0; z && k < 3; k++) worst = fmax(worst, fabs(1.0 / (1.0 + exp(-(double)z[k])) - p[k]));
        free(z);
        int idx = mc_st_find(st, (snprintf(tn, sizeof tn, "%s/c1", fn), tn));
        mc_st_info si;
        if (idx >= 0) mc_st_get_info(st, idx, &si);
        CHECK(idx >= 0 && si.ndim == 3 && si.shape[0] == 8 && si.shape[1] == 20 && si.shape[2] == 24,
              "features %s: [8, 20, 24] expected", tn);
        rows_seen++;
    }
    fclose(f);
    mc_st_close(st);
    CHECK(rows_seen == 5 && worst <= 1e-6, "features of the classifier: sigmoid(head) vs PyTorch: %.3g (5 images)",
          worst);
    printf("  features (small classifier, 5 images of every kind): sigmoid(head) vs PyTorch %.1e\n", worst);
    /* errors */
    char *dup[] = {"features", cfg, wts, img[0], img[0], "-o", out, NULL};
    rc = run_cli(mc_cli_features, dup, cap);
    CHECK(rc == 1 && file_contains(cap, "a_exact.png have the same file name"), "features of one file twice: exit %d",
          rc);
    char *bad[] = {"features", cfg, wts, img[0], "--layer", "nosuch", "-o", out, NULL};
    rc = run_cli(mc_cli_features, bad, cap);
    CHECK(rc == 1 && file_contains(cap, "no layer is named 'nosuch'"), "features of an unknown layer: exit %d", rc);
    char *range[] = {"features", cfg, wts, img[0], "--layer", "9", "-o", out, NULL};
    rc = run_cli(mc_cli_features, range, cap);
    CHECK(rc == 1 && file_contains(cap, "layer 9: the network has layers 0..4"), "features of layer 9: exit %d", rc);
    char *noout[] = {"features", cfg, wts, img[0], NULL};
    rc = run_cli(mc_cli_features, noout, cap);
    CHECK(rc == 2 && file_contains(cap, "-o OUT.safetensors is required"), "features without -o: exit %d", rc);
    unlink(out);
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
    /* the deltas a layer's backward is the first to write (run.c: overwritten, not zeroed) hold
     * NaN until then: a layer that accumulates into one instead would turn every gradient below
     * it into NaN here, in all 9 networks' layer types */
    setenv("MC_POISON_DELTAS", "1", 1);
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
    check_features_classifier();

    char line[64];
    int n = 0;
    while (fgets(line, sizeof line, f) && n < 9) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0]) continue;
        int how = !strcmp(line, "resnet18-pixelshuffle") ? 1 : !strcmp(line, "densenet121-coloru") ? 2 : 0;
        run_network(line, how);
        n++;
    }
    fclose(f);
    CHECK(n == 9, "%d networks in the fixtures, expected 9 (the paper's 8 and the ResNet34 baseline)", n);
    printf("\n  %-26s %11s | %9s %9s %9s %9s | %9s %9s %9s %9s | %7s\n", "", "eval", "train:", "medcolor", "",
           "", "train:", "PyTorch", "float32", "", "");
    printf("  %-26s %11s | %9s %9s %9s %9s | %9s %9s %9s %9s | %7s\n", "network", "max|dprob|", "max rel", "nrel",
           "median", "loss", "max rel", "nrel", "median", "loss", "seconds");
    /* README's claim: the deeper gradients are no further from float64 than PyTorch's own float32
     * run is, over the same 9 networks: every network's worst and median tensor (||d|| / ||g||,
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
    CHECK(nrows == 9 && t32_worst > 0 && t32_med > 0, "PyTorch float32's errors missing from the fixtures");
    printf("  train: gradients against PyTorch float64 (max rel = max|d| / max|g| and nrel = ||d|| / ||g||\n"
           "  of the worst tensor; median = the median tensor's nrel), for medcolor and for PyTorch's own\n"
           "  float32 run, measured alike. Over the 9 networks medcolor's worst tensor %.3f (PyTorch float32's\n"
           "  up to %.3f), median tensor %.4f (PyTorch's up to %.4f): the limits. Other tolerances: prob %.0e\n"
           "  absolute; nrel %.2g per tensor and %.2g for the median tensor; head gradients %.0e max rel;\n"
           "  loss %.0e relative.\n",
           our_worst, t32_worst, our_med, t32_med, TOL_PROB, TOL_NREL, TOL_NREL_MEDIAN, TOL_HEAD, TOL_LOSS);
    free(x_eval);
    free(x_train);

    /* the colorization networks */
    snprintf(path, sizeof path, "%s/colorize.txt", dir);
    f = fopen(path, "r");
    REQUIRE(f, "%s missing: run `make fixtures` again (the fixtures predate the colorization networks)", path);
    printf("\n");
    n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0]) continue;
        run_colorize(line);
        n++;
    }
    fclose(f);
    CHECK(n == 3, "%d colorization networks in the fixtures, expected 3", n);
    return mc_test_done("test_networks");
}
