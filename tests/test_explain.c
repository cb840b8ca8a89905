/* test_explain.c — Grad-CAM (`medcolor explain`, src/train/explain.c) and the engine's gradient
 * at a layer (mc_net_layer_grad) against PyTorch.
 *
 * The fixtures (tests/torch/make_explain_fixtures.py, $MC_FIXTURES/explain): three networks with
 * seeded weights — the small classifier of cli_predict.sh (40x48, 3 labels), resnet18-pixelshuffle
 * and densenet121 at 320x320 — imported into medcolor from their PyTorch state dicts, and
 * PyTorch's hook-based Grad-CAM of them in eval mode on the same preprocessed input (batch 2):
 * per layer (the default one and others: ResNet's layer3 and T's last residual block, whose
 * gradient crosses the whole backbone; DenseNet's denseblock3, crossing concatenations; the
 * small network's first layer) and per label (all 3 / two of 5): the activations A, dy/dA, the
 * map at the layer's resolution and the heatmap at the input's, in float32 and in float64.
 * Checked:
 *   - the default layer (mc_explain_layer) is the one the fixture names;
 *   - at the default layer (the criterion): logits, A, dy/dA (from mc_net_layer_grad
 *     directly) and cam within TOL_REL = 1e-4 of the reference's largest value, the heatmap (in
 *     [0, 1]) within TOL_HEAT = 1e-4 absolute, of float32 PyTorch's and of float64 PyTorch's.
 *     Measured 1.5e-5 at most (resnet18-pixelshuffle's layer4: its activations come through
 *     ~40 float32 layers); float32 PyTorch itself lands 8e-6 from float64 there;
 *   - at the other layers, whose gradient crosses ReLUs and max-pools on its way from the logits:
 *     ||d|| / ||ref|| against float64 PyTorch within max(1e-4, K_COND x the larger of float32
 *     PyTorch's own distance from float64 and our sensitivity: how far our result moves when the
 *     input moves by 1e-6 relative, measured here). A pre-activation within rounding distance of
 *     0 takes the other branch in one float32 implementation or the other and moves the gradient
 *     behind it (tests/test_networks.c says more): at T's last block (the gradient crosses all of
 *     ResNet18) float32 PyTorch is 2e-3 from float64 in dy/dA, and our heatmap moves 4e-2 under
 *     the 1e-6 input perturbation, so no float32 implementation can be held to 1e-4 there. A
 *     wiring error (a missing shortcut gradient, a concatenation's gradient in the wrong order)
 *     moves these by O(1);
 *   - the files mc_explain writes from the image files (preprocessing included; a 90x70 image
 *     centre-cropped and resized to 40x48; one image a pass, not the reference's two): the
 *     heatmaps read back from <stem>.gradcam.safetensors within TOL_HEAT of float32 PyTorch's,
 *     T's output (resnet18-pixelshuffle) within TOL_REL of PyTorch's model.color(x), and the
 *     pictures: size (the colorized view beside the heatmap only with a module), the heatmap half
 *     = 0.5 jet + 0.5 grey (within 1 level), the T half = colorize's view of T's output;
 *   - matplotlib's jet: the table and the colours of 2,663 values, exactly;
 *   - weights that carry their network and label names (as train writes them), through the
 *     command in-process without a cfg: the labels name the files and tensors, the map is
 *     PyTorch's;
 *   - mc_net_layer_grad's contract on the small network: the gradient at a tap is the given one,
 *     parameters' gradients untouched, the same bits at 1 and 2 threads, its errors.
 * Other conventions, computed from the fixture's A and dy/dA at the default layers, move the
 * heatmap far beyond 1e-4: align_corners=True by 0.26-0.54, pytorch-grad-cam's min-max
 * normalisation before the resize by 0.012-0.23, no ReLU on the map by 0.2-1, positive
 * gradients only by 0.58-1; a gradient summed instead of averaged scales cam (checked) though not
 * the normalised heatmap. */
#include <stdint.h>
#include <sys/stat.h>
#include "cli/cli.h"
#include "core/core.h"
#include "mc_image.h"
#include "mc_imaging.h"
#include "mc_io.h"
#include "mc_train.h"
#include "test.h"

#define TOL_REL 1e-4
#define TOL_HEAT 1e-4
#define K_COND 10.0

static float *read_t(mc_st *st, const char *name, size_t *n) {
    int i = mc_st_find(st, name);
    if (i < 0) return NULL;
    mc_st_info info;
    if (mc_st_get_info(st, i, &info) < 0) return NULL;
    float *v = malloc((info.numel ? info.numel : 1) * sizeof *v);
    if (!v || mc_st_read_f32(st, i, v, info.numel) < 0) {
        free(v);
        return NULL;
    }
    *n = info.numel;
    return v;
}

/* max |a - b| / max |b| (rel) or max |a - b| (abs) */
static double maxdiff(const float *a, const float *b, size_t n, int rel) {
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]);
        if (e > d || e != e) d = e;
        if (fabs((double)b[i]) > m) m = fabs((double)b[i]);
    }
    return rel ? d / (m > 0 ? m : 1) : d;
}

/* ||a - b|| / ||b|| */
static double nreldiff(const float *a, const float *b, size_t n) {
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)a[i] - (double)b[i];
        d += e * e, m += (double)b[i] * (double)b[i];
    }
    return sqrt(d) / (m > 0 ? sqrt(m) : 1);
}

static int split(char *s, char **out, int max) {
    int n = 0;
    for (char *p = strtok(s, ","); p && n < max; p = strtok(NULL, ",")) out[n++] = p;
    return n;
}

/* ---- matplotlib's jet ------------------------------------------------------------------------ */
static void test_jet(const char *dir) {
    char path[2048];
    snprintf(path, sizeof path, "%s/jet.safetensors", dir);
    mc_st *st;
    REQUIRE_OK(mc_st_open(&st, path));
    size_t nv, nrgb, nlut;
    float *v = read_t(st, "v", &nv), *rgb = read_t(st, "rgb", &nrgb), *lut = read_t(st, "lut", &nlut);
    REQUIRE(v && rgb && lut && nrgb == 3 * nv && nlut == 768, "jet fixture incomplete");
    uint8_t mine[768];
    mc_colormap_jet_table(mine);
    int bad = 0;
    for (int i = 0; i < 768; i++) bad += mine[i] != (uint8_t)lut[i];
    CHECK(bad == 0, "jet table: %d of 768 entries differ from matplotlib %s's", bad, mc_st_metadata(st, "matplotlib"));
    uint8_t *out = malloc(3 * nv);
    REQUIRE(out, "oom");
    mc_colormap_jet(v, nv, out);
    bad = 0;
    int first = -1;
    for (size_t i = 0; i < 3 * nv; i++)
        if (out[i] != (uint8_t)rgb[i]) {
            if (first < 0) first = (int)i;
            bad++;
        }
    CHECK(bad == 0, "jet colours: %d of %zu differ from cm.jet(v, bytes=True) (first: v = %.9g, %d vs %d)", bad, 3 * nv,
          first >= 0 ? (double)v[first / 3] : 0.0, first >= 0 ? out[first] : 0, first >= 0 ? (int)rgb[first] : 0);
    printf("  jet: table and %zu values as matplotlib %s\n", nv, mc_st_metadata(st, "matplotlib"));
    free(out);
    free(v);
    free(rgb);
    free(lut);
    mc_st_close(st);
}

static mc_net *load_net(const char *dir, const char *name, mc_st *ref, int threads) {
    char cfg[1200], w[1200];
    const char *c = mc_st_metadata(ref, "cfg");
    REQUIRE(c, "%s: no cfg in the fixture", name);
    struct stat sb;
    if (stat(c, &sb) == 0) snprintf(cfg, sizeof cfg, "%s", c);
    else snprintf(cfg, sizeof cfg, "%s/%s", dir, c);
    snprintf(w, sizeof w, "%s/%s.safetensors", dir, name);
    mc_net *net;
    mc_net_opts o = {.batch = 2, .no_init = 1, .threads = threads};
    REQUIRE_OK(mc_net_from_cfg(&net, cfg, &o));
    mc_import_report rep;
    int rc = mc_net_import(net, w, 0, &rep);
    REQUIRE(rc == MC_OK, "%s: import of %s: %s", name, w, mc_errmsg());
    CHECK(rep.nmissing == 0 && rep.nunused == 0, "%s: import: %d missing, %d unused", name, rep.nmissing, rep.nunused);
    mc_import_report_free(&rep);
    return net;
}

/* ---- mc_net_layer_grad's contract (the small network) ----------------------------------------- */
static void test_layer_grad(const char *dir) {
    char path[2048];
    snprintf(path, sizeof path, "%s/tiny.ref.safetensors", dir);
    mc_st *ref;
    REQUIRE_OK(mc_st_open(&ref, path));
    size_t nx;
    float *x = read_t(ref, "x", &nx);
    REQUIRE(x, "tiny: no x");
    mc_net *net = load_net(dir, "tiny", ref, 1);
    int L = mc_explain_logit_layer(net), c2;
    REQUIRE_OK(mc_features_layer(net, "c2", &c2));
    int oc, oh, ow, C, h, w;
    mc_net_layer_shape(net, L, &oc, &oh, &ow);
    mc_net_layer_shape(net, c2, &C, &h, &w);
    const size_t nout = (size_t)oc * oh * ow, na = (size_t)C * h * w;
    float dy[6] = {0.5f, -1.0f, 2.0f, 0.25f, 0.0f, -3.0f}, gl[6], *g1 = malloc(2 * na * sizeof(float)),
          *g2 = malloc(2 * na * sizeof(float));
    REQUIRE(nout == 3 && g1 && g2, "tiny: %zu outputs", nout);
    const float *dyp = dy;
    /* before a forward pass: refused */
    CHECK(mc_net_layer_grad(net, 1, &L, &dyp, c2, g1) == MC_EARG, "layer grad before a forward pass accepted");
    mc_net_set_train(net, 0);
    REQUIRE_OK(mc_net_set_input(net, x));
    REQUIRE_OK(mc_net_forward_to(net, L));
    /* at the tap itself: the given gradient */
    REQUIRE_OK(mc_net_layer_grad(net, 1, &L, &dyp, L, gl));
    CHECK(!memcmp(gl, dy, sizeof dy), "the gradient at the tap is not the one given");
    /* parameters' gradients untouched */
    REQUIRE_OK(mc_net_zero_grad(net));
    REQUIRE_OK(mc_net_layer_grad(net, 1, &L, &dyp, c2, g1));
    int nonzero = 0;
    for (int t = 0; t < mc_net_num_tensors(net); t++) {
        mc_tensor_info ti;
        mc_net_tensor_info(net, t, &ti);
        if (!ti.trainable) continue;
        float *g = malloc(ti.numel * sizeof *g);
        REQUIRE(g, "oom");
        REQUIRE_OK(mc_net_tensor_grad(net, t, g));
        for (size_t i = 0; i < ti.numel; i++) nonzero += g[i] != 0;
        free(g);
    }
    CHECK(nonzero == 0, "mc_net_layer_grad changed %d parameter gradients", nonzero);
    /* a tap below the layer, no output buffer, an inference-only network: errors */
    int c1;
    REQUIRE_OK(mc_features_layer(net, "c1", &c1));
    float *g0 = malloc(2 * 8 * 20 * 24 * sizeof(float));
    REQUIRE(g0, "oom");
    CHECK(mc_net_layer_grad(net, 1, &c1, &dyp, c2, g1) == MC_EARG, "a tap below the layer accepted");
    CHECK(mc_net_layer_grad(net, 1, &L, &dyp, c2, NULL) == MC_EARG, "no output buffer accepted");
    CHECK(mc_gradcam(net, x, L, (const int[]){0}, 1, NULL, g0, g0) == MC_EARG, "Grad-CAM at the logits accepted");
    int pool = c2 + 1;
    CHECK(mc_gradcam(net, x, pool, (const int[]){0}, 1, NULL, g0, g0) == MC_EARG &&
              strstr(mc_errmsg(), "not spatial"),
          "Grad-CAM at the pooled layer: %s", mc_errmsg());
    CHECK(mc_gradcam(net, x, c2, (const int[]){3}, 1, NULL, g0, g0) == MC_EARG, "label 3 of 3 accepted");
    free(g0);
    /* the same bits at 2 threads */
    mc_net *net2 = load_net(dir, "tiny", ref, 2);
    mc_net_set_train(net2, 0);
    REQUIRE_OK(mc_net_set_input(net2, x));
    REQUIRE_OK(mc_net_forward_to(net2, L));
    REQUIRE_OK(mc_net_layer_grad(net2, 1, &L, &dyp, c2, g2));
    CHECK(!memcmp(g1, g2, 2 * na * sizeof(float)), "dy/dA differs between 1 and 2 threads");
    /* an inference-only network runs no backward */
    char cfg[1200];
    snprintf(cfg, sizeof cfg, "%s/tiny.cfg", dir);
    mc_net_opts oi = {.batch = 2, .no_init = 1, .inference_only = 1};
    mc_net *inf;
    REQUIRE_OK(mc_net_from_cfg(&inf, cfg, &oi));
    REQUIRE_OK(mc_net_set_input(inf, x));
    REQUIRE_OK(mc_net_forward_to(inf, L));
    CHECK(mc_net_layer_grad(inf, 1, &L, &dyp, c2, g1) == MC_EARG && strstr(mc_errmsg(), "inference only"),
          "an inference-only network: %s", mc_errmsg());
    mc_net_free(inf);
    mc_net_free(net2);
    mc_net_free(net);
    free(g1);
    free(g2);
    free(x);
    mc_st_close(ref);
}

/* ---- weights that carry their network and label names: `medcolor explain WEIGHTS IMAGE` -------
 * (the command in-process, no cfg): the labels the weights carry name the files and tensors, and
 * the heatmap is PyTorch's */
static void test_meta_weights(const char *dir) {
    char path[2048], w[1300], out[1300], img[2048], f[2600];
    snprintf(path, sizeof path, "%s/tiny.ref.safetensors", dir);
    mc_st *ref;
    REQUIRE_OK(mc_st_open(&ref, path));
    mc_net *net = load_net(dir, "tiny", ref, 0);
    char *labels[3] = {"Lung Opacity", "Edema", "No Finding"};
    mc_netmeta m = {.labels = labels, .nlabels = 3, .cfg_file = "tiny.cfg"};
    REQUIRE_OK(mc_net_set_meta(net, &m));
    snprintf(w, sizeof w, "%s/meta.weights", mc_test_tmp());
    REQUIRE_OK(mc_net_save_weights(net, w));
    mc_net_free(net);
    snprintf(out, sizeof out, "%s/explain-meta", mc_test_tmp());
    snprintf(img, sizeof img, "%s/tiny_img0.png", dir);
    char *argv[] = {"explain", w, img, "-o", out, "--label", "lung opacity", "--quiet", NULL};
    fflush(stdout);
    int rc = mc_cli_explain(8, argv);
    CHECK(rc == 0, "medcolor explain <weights carrying their network> -> %d", rc);
    snprintf(f, sizeof f, "%s/tiny_img0_Lung_Opacity.png", out);
    struct stat sb;
    CHECK(stat(f, &sb) == 0, "%s missing", f);
    snprintf(f, sizeof f, "%s/tiny_img0.gradcam.safetensors", out);
    mc_st *st;
    if (rc == 0 && mc_st_open(&st, f) == MC_OK) {
        size_t n, nr;
        float *hm = read_t(st, "Lung Opacity/heatmap", &n), *r = read_t(ref, "heat.c2.0", &nr);
        REQUIRE(hm && r && n == 40 * 48 && nr == 2 * n, "%s: no 'Lung Opacity/heatmap' [40, 48]", f);
        double e = maxdiff(hm, r, n, 0);
        CHECK(e <= TOL_HEAT, "weights with their network: heatmap %.3g from PyTorch's", e);
        CHECK(mc_st_find(st, "Edema/heatmap") == MC_ENOTFOUND, "a label not asked for was written");
        printf("  weights carrying their network and labels (no cfg): heatmap %.1e from PyTorch's\n", e);
        free(hm);
        free(r);
        mc_st_close(st);
    }
    mc_st_close(ref);
}

/* ---- one network against PyTorch -------------------------------------------------------------- */
static void run_net(const char *dir, const char *name) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s.ref.safetensors", dir, name);
    mc_st *ref;
    REQUIRE_OK(mc_st_open(&ref, path));
    char layers_s[512], labels_s[128];
    snprintf(layers_s, sizeof layers_s, "%s", mc_st_metadata(ref, "layers"));
    snprintf(labels_s, sizeof labels_s, "%s", mc_st_metadata(ref, "labels"));
    char *lay[8], *lab[8];
    int nlay = split(layers_s, lay, 8), nlab = split(labels_s, lab, 8);
    REQUIRE(nlay > 0 && nlab > 0, "%s: no layers / labels in the fixture", name);
    int labels[8];
    for (int j = 0; j < nlab; j++) labels[j] = atoi(lab[j]);
    size_t nx = 0, nlg = 0;
    float *x = read_t(ref, "x", &nx), *lg_ref = read_t(ref, "logits", &nlg);
    REQUIRE(x && lg_ref, "%s: fixture lacks x / logits", name);
    mc_net *net = load_net(dir, name, ref, 0);
    int ic, H, W;
    mc_net_input_shape(net, &ic, &H, &W);
    REQUIRE(nx == (size_t)2 * ic * H * W, "%s: x has %zu values", name, nx);
    const int L = mc_explain_logit_layer(net), nout = mc_net_num_outputs(net);
    REQUIRE(nlg == (size_t)2 * nout, "%s: %zu logits", name, nlg);

    int def;
    REQUIRE_OK(mc_explain_layer(net, NULL, &def));
    CHECK(!strcmp(mc_net_layer_name(net, def), mc_st_metadata(ref, "default_layer")),
          "%s: the default layer is %s, expected %s", name, mc_net_layer_name(net, def),
          mc_st_metadata(ref, "default_layer"));

    float *lg = malloc((size_t)2 * nout * sizeof *lg), *dy = malloc((size_t)2 * nout * sizeof *dy);
    const size_t HW = (size_t)H * W;
    float *heat = malloc((size_t)2 * nlab * HW * sizeof *heat), *heat2 = malloc((size_t)2 * nlab * HW * sizeof *heat2);
    float *x2 = malloc(nx * sizeof *x2);
    REQUIRE(lg && dy && heat && heat2 && x2, "oom");
    /* the input moved by 1e-6 relative (float rounding of the input): the sensitivity of this
     * network and input in float32 */
    mc_rng rng;
    mc_rng_seed(&rng, 16);
    for (size_t i = 0; i < nx; i++) x2[i] = x[i] * (float)(1 + 1e-6 * (2 * mc_rng_uniform(&rng) - 1));
    for (int k = 0; k < nlay; k++) {
        int layer, C, h, w;
        REQUIRE_OK(mc_explain_layer(net, lay[k], &layer));
        mc_net_layer_shape(net, layer, &C, &h, &w);
        const int is_def = layer == def;
        const size_t na = (size_t)C * h * w, hw = (size_t)h * w;
        float *cam = malloc((size_t)2 * nlab * hw * sizeof *cam), *a = malloc(2 * na * sizeof *a),
              *g = malloc(2 * na * nlab * sizeof *g), *g2 = malloc(2 * na * nlab * sizeof *g2);
        REQUIRE(cam && a && g && g2, "oom");
        /* dy/dA straight from the engine, as mc_gradcam seeds it: g[j], and g2[j] at x2 */
        for (int pass = 0; pass < (is_def ? 1 : 2); pass++) {
            REQUIRE_OK(mc_gradcam(net, pass ? x2 : x, layer, labels, nlab, lg, cam, pass ? heat2 : heat));
            for (int j = 0; j < nlab; j++) {
                memset(dy, 0, (size_t)2 * nout * sizeof *dy);
                dy[labels[j]] = dy[nout + labels[j]] = 1.0f;
                const float *dyp = dy;
                REQUIRE_OK(mc_net_layer_grad(net, 1, &L, &dyp, layer, (pass ? g2 : g) + (size_t)j * 2 * na));
            }
        }
        if (!is_def) REQUIRE_OK(mc_gradcam(net, x, layer, labels, nlab, lg, cam, heat)); /* x's state back */
        double e_lg = maxdiff(lg, lg_ref, (size_t)2 * nout, 1);
        CHECK(e_lg <= TOL_REL, "%s: logits %.3g from PyTorch's", name, e_lg);
        char tn[300];
        snprintf(tn, sizeof tn, "act.%s", lay[k]);
        size_t n, n64;
        float *r = read_t(ref, tn, &n), *r64;
        REQUIRE(r && n == 2 * na, "%s: fixture lacks %s [2, %d, %d, %d]", name, tn, C, h, w);
        REQUIRE_OK(mc_net_get_output(net, layer, a));
        double e_a = maxdiff(a, r, 2 * na, 1);
        CHECK(e_a <= TOL_REL, "%s %s: A %.3g from PyTorch's", name, lay[k], e_a);
        free(r);
        /* worst over labels (and images): e vs float32 PyTorch (max), n64 vs float64 (nrel),
         * t32 float32 PyTorch vs float64 (nrel), sens ours at x2 vs ours (nrel) */
        double eg = 0, ng64 = 0, tg = 0, sg = 0, ec = 0, eh = 0, eh64 = 0, nh64 = 0, th = 0, sh = 0;
        for (int j = 0; j < nlab; j++) {
            const float *gj = g + (size_t)j * 2 * na;
            snprintf(tn, sizeof tn, "grad.%s.%d", lay[k], labels[j]);
            r = read_t(ref, tn, &n);
            snprintf(tn, sizeof tn, "grad64.%s.%d", lay[k], labels[j]);
            r64 = read_t(ref, tn, &n64);
            REQUIRE(r && r64 && n == 2 * na && n64 == n, "%s: fixture lacks %s (or grad.)", name, tn);
            double e = maxdiff(gj, r, 2 * na, 1), e64 = nreldiff(gj, r64, 2 * na), t = nreldiff(r, r64, 2 * na);
            double sens = is_def ? 0 : nreldiff(g2 + (size_t)j * 2 * na, gj, 2 * na);
            if (is_def) CHECK(e <= TOL_REL, "%s %s label %d: dy/dA %.3g from PyTorch's", name, lay[k], labels[j], e);
            else
                CHECK(e64 <= fmax(TOL_REL, K_COND * fmax(t, sens)),
                      "%s %s label %d: dy/dA ||d||/||g|| %.3g from float64 PyTorch's (float32 PyTorch's %.3g, the "
                      "sensitivity %.3g)", name, lay[k], labels[j], e64, t, sens);
            eg = fmax(eg, e), ng64 = fmax(ng64, e64), tg = fmax(tg, t), sg = fmax(sg, sens);
            free(r);
            free(r64);
            for (int b = 0; b < 2; b++) {
                snprintf(tn, sizeof tn, "cam.%s.%d", lay[k], labels[j]);
                r = read_t(ref, tn, &n);
                REQUIRE(r && n == 2 * hw, "%s: fixture lacks %s", name, tn);
                e = maxdiff(cam + ((size_t)b * nlab + j) * hw, r + b * hw, hw, 1);
                if (is_def)
                    CHECK(e <= TOL_REL, "%s %s label %d image %d: cam %.3g from PyTorch's", name, lay[k], labels[j], b, e);
                ec = fmax(ec, e);
                free(r);
                snprintf(tn, sizeof tn, "heat.%s.%d", lay[k], labels[j]);
                r = read_t(ref, tn, &n);
                snprintf(tn, sizeof tn, "heat64.%s.%d", lay[k], labels[j]);
                r64 = read_t(ref, tn, &n64);
                REQUIRE(r && r64 && n == 2 * HW && n64 == n, "%s: fixture lacks %s (or heat.)", name, tn);
                const float *mine = heat + ((size_t)b * nlab + j) * HW;
                e = maxdiff(mine, r + b * HW, HW, 0);
                double m64 = maxdiff(mine, r64 + b * HW, HW, 0);
                e64 = nreldiff(mine, r64 + b * HW, HW), t = nreldiff(r + b * HW, r64 + b * HW, HW);
                sens = is_def ? 0 : nreldiff(heat2 + ((size_t)b * nlab + j) * HW, mine, HW);
                if (is_def) {
                    CHECK(e <= TOL_HEAT, "%s %s label %d image %d: heatmap %.3g from PyTorch's", name, lay[k],
                          labels[j], b, e);
                    CHECK(m64 <= TOL_HEAT, "%s %s label %d image %d: heatmap %.3g from float64 PyTorch's", name,
                          lay[k], labels[j], b, m64);
                } else {
                    CHECK(e64 <= fmax(TOL_REL, K_COND * fmax(t, sens)),
                          "%s %s label %d image %d: heatmap ||d||/||h|| %.3g from float64 PyTorch's (float32 "
                          "PyTorch's %.3g, the sensitivity %.3g)", name, lay[k], labels[j], b, e64, t, sens);
                }
                eh = fmax(eh, e), eh64 = fmax(eh64, m64), nh64 = fmax(nh64, e64), th = fmax(th, t), sh = fmax(sh, sens);
                free(r);
                free(r64);
            }
        }
        printf("  %-22s %-36s %4d x %3d x %3d%s\n", name, lay[k], C, h, w, is_def ? " (default)" : "");
        printf("      vs PyTorch float32 (max): A %.1e  dy/dA %.1e  cam %.1e  heatmap %.1e (abs)\n", e_a, eg, ec, eh);
        if (is_def)
            printf("      vs PyTorch float64 (max): heatmap %.1e (abs)\n", eh64);
        else
            printf("      ||d||/||ref|| vs float64: dy/dA %.1e, heatmap %.1e; float32 PyTorch %.1e, %.1e; "
                   "sensitivity %.1e, %.1e\n", ng64, nh64, tg, th, sg, sh);
        free(cam);
        free(a);
        free(g);
        free(g2);
    }
    free(x2);
    free(heat2);
    free(lg);
    free(dy);
    free(heat);
    free(x);
    free(lg_ref);
    mc_net_free(net);
    mc_st_close(ref);
}

/* ---- the files of mc_explain, from the image files --------------------------------------------- */
static void run_files(const char *dir, const char *name) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s.ref.safetensors", dir, name);
    mc_st *ref;
    REQUIRE_OK(mc_st_open(&ref, path));
    char labels_s[128], images_s[512];
    snprintf(labels_s, sizeof labels_s, "%s", mc_st_metadata(ref, "labels"));
    snprintf(images_s, sizeof images_s, "%s", mc_st_metadata(ref, "images"));
    char *lab[8], *img[4];
    int nlab = split(labels_s, lab, 8), nimg = split(images_s, img, 4);
    REQUIRE(nimg == 2, "%s: %d images", name, nimg);
    int labels[8];
    for (int j = 0; j < nlab; j++) labels[j] = atoi(lab[j]);
    mc_net *net = load_net(dir, name, ref, 0);
    const int nout = mc_net_num_outputs(net);
    const char *lnames[8] = {"Atelectasis", "Cardiomegaly", "Pleural Effusion", "Edema", "Consolidation"};
    REQUIRE(nout <= 5, "%s: %d outputs", name, nout);
    char paths[2][2048], stems[2][64], out[1200];
    const char *pp[2] = {paths[0], paths[1]}, *sp[2] = {stems[0], stems[1]};
    for (int i = 0; i < 2; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/%s", dir, img[i]);
        snprintf(stems[i], sizeof stems[i], "im%d", i);
    }
    snprintf(out, sizeof out, "%s/explain-%s", mc_test_tmp(), name);
    REQUIRE_OK(mc_mkdirs(out));
    const char *def = mc_st_metadata(ref, "default_layer");
    mc_explain_opts o = {.labels = labels, .nlabels = nlab, .label_names = lnames, .alpha = 0.5};
    REQUIRE_OK(mc_explain_layer(net, def, &o.layer));
    mc_net_set_batch(net, 1); /* one image a pass: a batch size other than the reference's */
    float prob[16], cmax[16];
    REQUIRE_OK(mc_explain(net, pp, sp, 2, out, &o, prob, cmax));
    int ic, H, W;
    mc_net_input_shape(net, &ic, &H, &W);
    const size_t HW = (size_t)H * W;
    size_t n;
    float *color = read_t(ref, "color", &n), *lg_ref = read_t(ref, "logits", &n);
    REQUIRE(lg_ref, "no logits");
    double worst = 0, worst_t = 0;
    int bad_pix = 0, bad_t = 0;
    mc_image8 png = {0};
    for (int i = 0; i < 2; i++) {
        char f[2600], tn[300];
        snprintf(f, sizeof f, "%s/%s.gradcam.safetensors", out, stems[i]);
        mc_st *st;
        REQUIRE_OK(mc_st_open(&st, f));
        CHECK(mc_st_metadata(st, "layer") && !strcmp(mc_st_metadata(st, "layer"), def), "%s: layer metadata", f);
        size_t ng;
        float *grey = read_t(st, "image", &ng);
        REQUIRE(grey && ng == HW, "%s: no image [%d, %d]", f, H, W);
        float *tout = color ? read_t(st, "color", &n) : NULL;
        CHECK(!color == !tout, "%s: T's output %s", f, color ? "missing" : "written for a network without T");
        uint8_t *trgb = NULL;
        if (tout) {
            double e = maxdiff(tout, color + (size_t)i * 3 * HW, 3 * HW, 1);
            CHECK(e <= TOL_REL, "%s: T's output %.3g from PyTorch's", f, e);
            worst_t = e > worst_t ? e : worst_t;
            trgb = malloc(3 * HW);
            REQUIRE(trgb, "oom");
            mc_colorize_rgb(tout, H, W, trgb);
        }
        for (int j = 0; j < nlab; j++) {
            double p = 1.0 / (1.0 + exp(-(double)lg_ref[i * nout + labels[j]]));
            CHECK(fabs((double)prob[i * nlab + j] - p) <= 1e-4, "%s label %d: probability %g vs PyTorch's %g", f, labels[j],
                  (double)prob[i * nlab + j], p);
            CHECK(cmax[i * nlab + j] > 0, "%s label %d: cam max %g", f, labels[j], (double)cmax[i * nlab + j]);
            snprintf(tn, sizeof tn, "%s/heatmap", lnames[labels[j]]);
            size_t nh;
            float *hm = read_t(st, tn, &nh), *r;
            REQUIRE(hm && nh == HW, "%s: no %s", f, tn);
            snprintf(tn, sizeof tn, "heat.%s.%d", def, labels[j]);
            REQUIRE((r = read_t(ref, tn, &n)) != NULL, "no %s", tn);
            double e = maxdiff(hm, r + (size_t)i * HW, HW, 0);
            CHECK(e <= TOL_HEAT, "%s %s: heatmap from the file %.3g from PyTorch's", f, lnames[labels[j]], e);
            worst = e > worst ? e : worst;
            /* the picture: [heatmap over grey | T's view], 8-bit RGB */
            char part[64];
            snprintf(part, sizeof part, "%s", lnames[labels[j]]);
            for (char *c = part; *c; c++)
                if (*c == ' ') *c = '_';
            snprintf(f, sizeof f, "%s/%s_%s.png", out, stems[i], part);
            REQUIRE_OK(mc_image_load_rgb8(f, &png));
            CHECK(png.w == (tout ? 2 * W : W) && png.h == H, "%s: %d x %d, expected %d x %d", f, png.w, png.h,
                  tout ? 2 * W : W, H);
            uint8_t *jet = malloc(3 * HW);
            REQUIRE(jet, "oom");
            mc_colormap_jet(hm, HW, jet);
            for (int y = 0; y < H && png.w >= W && png.h == H; y++)
                for (int x = 0; x < W; x++) {
                    size_t k = (size_t)y * W + x;
                    for (int ch = 0; ch < 3; ch++) {
                        double v = 0.5 * (double)grey[k] * 255.0 + 0.5 * jet[3 * k + ch];
                        int want = (int)(v + 0.5), got = png.px[((size_t)y * png.w + x) * 3 + ch];
                        bad_pix += abs(got - want) > 1;
                        if (trgb && png.w == 2 * W)
                            bad_t += png.px[((size_t)y * png.w + W + x) * 3 + ch] != trgb[3 * k + ch];
                    }
                }
            free(jet);
            free(hm);
            free(r);
            snprintf(f, sizeof f, "%s/%s.gradcam.safetensors", out, stems[i]);
        }
        free(trgb);
        free(tout);
        free(grey);
        mc_st_close(st);
    }
    CHECK(bad_pix == 0, "%s: %d heatmap picture values differ from 0.5 grey + 0.5 jet(heatmap) by more than 1", name,
          bad_pix);
    CHECK(bad_t == 0, "%s: %d values of the colorized view differ from colorize's view of T's output", name, bad_t);
    printf("  %-22s files from the images: heatmaps %.1e (abs)%s, pictures checked\n", name, worst,
           color ? ", T's output ok" : "");
    (void)worst_t;
    mc_image8_free(&png);
    free(color);
    free(lg_ref);
    mc_net_free(net);
    mc_st_close(ref);
}

static void each(const char *fx, const char *name) {
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/explain", fx);
    run_net(dir, name);
    if (strcmp(name, "densenet121") != 0) run_files(dir, name); /* its files: the same code; parity above */
}

int main(void) {
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/explain", mc_test_fixtures());
    test_jet(dir);
    test_layer_grad(dir);
    test_meta_weights(dir);
    int n = mc_test_each_fixture("explain/index.txt", each);
    CHECK(n == 3, "%d networks in the fixtures, expected 3", n);
    return mc_test_done("test_explain");
}
