/* test_transfer.c — the colour transfer's network and objective against PyTorch, and the
 * engine's backward from several taps.
 *
 * Fixtures: tests/torch/make_transfer_fixtures.py (made by `make test` into
 * $MC_FIXTURES/transfer): torchvision's vgg19 (seeded, F16-exact weights), its six taps at 64²
 * and 224² computed in float64, and the objective of the spec (§2 steps 3-6) written in
 * numpy/PyTorch: k-means labels, masks at every tap, swap indices and maps, every loss term and
 * its gradient with respect to the image by autograd in float64.
 *
 * 1. cfg/vgg19.cfg imports the torchvision file (features.30-34 reported unused) and has
 *    12,944,960 parameters; the six taps at 64² and 224² within 1e-5 of the largest value of
 *    the tap (float32 against float64: convolutions of up to 4608 products each, 13 deep).
 * 2. Engine: mc_net_backward_taps on a small network against central differences of the sum of
 *    the tap losses (double accumulation, float32 network: |a − fd| ≤ 2e-3 + 1e-2|fd|, the
 *    tolerance of test_gradcheck for the same reason), with every group frozen (no weight
 *    gradient is computed: the gradients stay zero) and a tap past which layers do nothing.
 * 3. Objective at 64²: the same f and gradient bit for bit with 1, 2 and 3 threads; labels
 *    identical, masks within 1e-6 (double both sides, stored F32), swap indices identical
 *    wherever the best correlation beats the second by more than 1e-5 (absolute; float32
 *    correlations; the fixture stores the gap, here ≥ 5.6e-4), swap maps ≤ 1e-5 of
 *    their largest value; each term ≤ 1e-5 relative and its gradient ≤ 1e-4 of the gradient's
 *    largest value, for content, colour, Y with α_Y ∈ {0, ½, 1}, swap, TV, both passes' totals
 *    and the caffe convention.
 */
#include "mc_io.h"
#include "mc_transfer.h"
#include "test.h"

static char dir[1024];

static float *read_t(mc_st *st, const char *name, size_t *n) {
    int i = mc_st_find(st, name);
    REQUIRE(i >= 0, "fixture lacks %s (regenerate: make fixtures)", name);
    mc_st_info info;
    mc_st_get_info(st, i, &info);
    float *p = malloc(info.numel * sizeof(float));
    REQUIRE(p, "out of memory");
    REQUIRE_OK(mc_st_read_f32(st, i, p, info.numel));
    if (n) *n = info.numel;
    return p;
}

static double max_abs(const float *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(a[i]) > m) m = fabs(a[i]);
    return m;
}

static mc_net *vgg_threads(int size, int threads);
static mc_net *vgg_at(int size) { return vgg_threads(size, 2); }
static mc_net *vgg_threads(int size, int threads) {
    char w[32], h[32];
    snprintf(w, sizeof w, "net.width=%d", size);
    snprintf(h, sizeof h, "net.height=%d", size);
    const char *set[] = {w, h, NULL};
    mc_net_opts o = {.batch = 1, .no_init = 1, .threads = threads, .set = set};
    mc_net *net;
    REQUIRE_OK(mc_net_from_cfg(&net, "cfg/vgg19.cfg", &o));
    char path[1200];
    snprintf(path, sizeof path, "%s/vgg19.safetensors", dir);
    mc_import_report r;
    REQUIRE_OK(mc_net_import(net, path, 0, &r));
    /* features.30/32/34 weight and bias: past the last tap */
    CHECK(r.nunused == 6 && r.nmissing == 0 && r.loaded == 26, "import: %d loaded, %d unused, %d missing", r.loaded,
          r.nunused, r.nmissing);
    for (int i = 0; i < r.nunused; i++)
        CHECK(!strncmp(r.unused[i].name, "features.3", 10), "unexpected unused tensor %s", r.unused[i].name);
    mc_import_report_free(&r);
    return net;
}

/* 1 --------------------------------------------------------------------------------------- */
static void test_taps(void) {
    char path[1200];
    snprintf(path, sizeof path, "%s/taps.safetensors", dir);
    mc_st *st;
    REQUIRE_OK(mc_st_open(&st, path));
    for (int size = 64; size <= 224; size += 160) {
        mc_net *net = vgg_at(size);
        CHECK(mc_net_num_params(net) == 12944960, "vgg19 to features.28: %zu parameters", mc_net_num_params(net));
        char name[64];
        snprintf(name, sizeof name, "x%d", size);
        float *x = read_t(st, name, NULL);
        REQUIRE_OK(mc_net_set_input(net, x));
        REQUIRE_OK(mc_net_forward(net));
        for (int t = 0; t < MC_NTAPS; t++) {
            snprintf(name, sizeof name, "tap%d.%s", size, mc_tr_tap_layer(t));
            size_t n;
            float *ref = read_t(st, name, &n);
            int li = -1;
            for (int i = 0; i < mc_net_num_layers(net); i++)
                if (!strcmp(mc_net_layer_name(net, i), mc_tr_tap_layer(t))) li = i;
            REQUIRE(li >= 0, "no layer %s", mc_tr_tap_layer(t));
            int c, h, w;
            mc_net_layer_shape(net, li, &c, &h, &w);
            REQUIRE((size_t)c * h * w == n, "%s: %zu values, fixture %zu", name, (size_t)c * h * w, n);
            float *y = malloc(n * sizeof(float));
            REQUIRE_OK(mc_net_get_output(net, li, y));
            double err = 0, scale = max_abs(ref, n);
            for (size_t i = 0; i < n; i++)
                if (fabs((double)y[i] - (double)ref[i]) > err) err = fabs((double)y[i] - (double)ref[i]);
            CHECK(scale > 0 && err <= 1e-5 * scale, "%s: max error %.3g of max %.3g", name, err, scale);
            printf("  %-22s %dx%dx%d  max|err|/max %.2e\n", name, c, h, w, err / scale);
            free(y);
            free(ref);
        }
        free(x);
        mc_net_free(net);
    }
    mc_st_close(st);
}

/* 2 --------------------------------------------------------------------------------------- */
static const char *small_cfg = "[net]\nwidth=8\nheight=8\nchannels=2\n"
                               "[convolutional]\nname=a\nfilters=3\nsize=3\npadding=1\nactivation=relu\n"
                               "[maxpool]\nname=p\nsize=2\n"
                               "[convolutional]\nname=b\nfilters=4\nsize=3\npadding=1\nactivation=relu\n"
                               "[convolutional]\nname=c\nfilters=2\nsize=1\nactivation=linear\n"
                               "[convolutional]\nname=d\nfilters=2\nsize=3\npadding=1\nactivation=linear\n";

/* L = Σ_k Σ_i dy_k[i]·y_k[i] over taps a (layer 0), b (2), c (3); layer 4 is past them */
static double taps_loss(mc_net *net, const float *x, float *const *dy, const int *layers, const size_t *sz) {
    REQUIRE_OK(mc_net_set_input(net, x));
    REQUIRE_OK(mc_net_forward(net));
    double s = 0;
    float buf[256];
    for (int k = 0; k < 3; k++) {
        REQUIRE_OK(mc_net_get_output(net, layers[k], buf));
        for (size_t i = 0; i < sz[k]; i++) s += (double)buf[i] * (double)dy[k][i];
    }
    return s;
}

static uint64_t rng_state = 11;
static float urand(void) { /* splitmix64 → [-1, 1) */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (float)((double)(z >> 11) / 9007199254740992.0 * 2 - 1);
}

static void test_backward_taps(void) {
    mc_net *net;
    mc_net_opts o = {.batch = 1, .seed = 3, .threads = 2};
    REQUIRE_OK(mc_net_from_string(&net, small_cfg, "small.cfg", &o));
    float x[128];
    for (int i = 0; i < 128; i++) x[i] = urand();
    int layers[3] = {2, 0, 3}; /* any order */
    size_t sz[3] = {4 * 16, 3 * 64, 2 * 16};
    float *dy[3];
    for (int k = 0; k < 3; k++) {
        dy[k] = malloc(sz[k] * sizeof(float));
        for (size_t i = 0; i < sz[k]; i++) dy[k][i] = urand();
    }
    REQUIRE_OK(mc_net_freeze(net, NULL, 1));
    mc_net_want_input_grad(net, 1);
    REQUIRE_OK(mc_net_zero_grad(net));
    /* forward to the highest tap is enough */
    REQUIRE_OK(mc_net_set_input(net, x));
    REQUIRE_OK(mc_net_forward_to(net, 3));
    REQUIRE_OK(mc_net_backward_taps(net, 3, layers, (const float *const *)dy));
    float g[128];
    REQUIRE_OK(mc_net_get_input_grad(net, g));
    int bad = 0, skipped = 0, checked = 0;
    double gmax = 0;
    for (int i = 0; i < 128; i++) {
        const float h = 1e-3f;
        float v = x[i];
        x[i] = v + h;
        double lp = taps_loss(net, x, dy, layers, sz);
        x[i] = v - h;
        double lm = taps_loss(net, x, dy, layers, sz);
        x[i] = v;
        double l0 = taps_loss(net, x, dy, layers, sz);
        double fd = (lp - lm) / (2.0 * (double)h), f1 = (lp - l0) / (double)h, f2 = (l0 - lm) / (double)h;
        if (fabs(f1 - f2) > 2e-2 + 2e-2 * fabs(fd)) { /* a ReLU or max-pool kink within h */
            skipped++;
            continue;
        }
        checked++;
        if (fabs(g[i]) > gmax) gmax = fabs(g[i]);
        if (fabs((double)g[i] - fd) > 2e-3 + 1e-2 * fabs(fd)) {
            if (bad++ < 5) fprintf(stderr, "  input %d: analytic %.6g fd %.6g\n", i, (double)g[i], fd);
        }
    }
    CHECK(bad == 0 && checked >= 85 && gmax > 0.1, "backward_taps vs finite differences: %d bad of %d (%d kinks)", bad,
          checked, skipped);
    printf("  backward from 3 taps: %d inputs against finite differences, %d at kinks skipped\n", checked, skipped);
    /* frozen: no weight gradient computed */
    size_t np = mc_net_num_params(net);
    float *wg = malloc(np * sizeof(float));
    int nz = 0;
    for (int t = 0, off = 0; t < mc_net_num_tensors(net); t++) {
        mc_tensor_info ti;
        mc_net_tensor_info(net, t, &ti);
        if (!ti.trainable) continue;
        REQUIRE_OK(mc_net_tensor_grad(net, t, wg + off));
        for (size_t i = 0; i < ti.numel; i++) nz += wg[off + i] != 0;
        off += (int)ti.numel;
    }
    CHECK(nz == 0, "every group frozen, yet %d weight-gradient values are not zero", nz);
    free(wg);
    /* a single tap at the last layer equals mc_net_backward_from */
    float dl[32], g1[128], g2[128];
    for (int i = 0; i < 32; i++) dl[i] = urand();
    const float *dlp = dl;
    int lastl = 4;
    REQUIRE_OK(mc_net_forward(net));
    REQUIRE_OK(mc_net_backward_taps(net, 1, &lastl, &dlp));
    REQUIRE_OK(mc_net_get_input_grad(net, g1));
    REQUIRE_OK(mc_net_backward_from(net, dl));
    REQUIRE_OK(mc_net_get_input_grad(net, g2));
    CHECK(!memcmp(g1, g2, sizeof g1), "one tap at the last layer differs from mc_net_backward_from");
    /* errors */
    int dup[2] = {0, 0};
    const float *dd[2] = {dy[1], dy[1]};
    CHECK(mc_net_backward_taps(net, 2, dup, dd) == MC_EARG, "a layer given twice is accepted");
    int far = 9;
    CHECK(mc_net_backward_taps(net, 1, &far, dd) == MC_EARG, "layer 9 of 5 accepted");
    REQUIRE_OK(mc_net_forward_to(net, 1));
    CHECK(mc_net_backward_taps(net, 3, layers, (const float *const *)dy) == MC_EARG,
          "a tap past the last forward pass accepted");
    for (int k = 0; k < 3; k++) free(dy[k]);
    mc_net_free(net);
}

/* 3 --------------------------------------------------------------------------------------- */
static void to_bytes(const float *f, size_t n, uint8_t *b) {
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)f[i];
}

static void check_term(mc_tr_obj *obj, mc_st *st, const char *name, const char *refname, mc_tr_weights w,
                       const double *x, int pick) {
    size_t n3 = 3 * 64 * 64;
    double f, *g = malloc(n3 * sizeof(double));
    mc_tr_terms tm;
    REQUIRE_OK(mc_tr_obj_eval(obj, &w, x, &f, g, &tm));
    double v = pick == 0 ? tm.content : pick == 1 ? tm.color : pick == 2 ? tm.y : pick == 3 ? tm.swap : pick == 4 ? tm.tv : f;
    char gname[64];
    snprintf(gname, sizeof gname, "grad.%s", refname);
    if (!strncmp(refname, "caffe.", 6)) snprintf(gname, sizeof gname, "caffe.grad.%s", refname + 6);
    float *rv = read_t(st, refname, NULL), *rg = read_t(st, gname, NULL);
    double rel = fabs(v - (double)rv[0]) / fabs((double)rv[0]);
    /* the total's own terms: the reported values agree with the returned f */
    CHECK(pick != 5 || fabs(tm.total - f) <= 1e-12 * fabs(f), "%s: terms.total %.17g != f %.17g", name, tm.total, f);
    double gm = max_abs(rg, n3), ge = 0;
    for (size_t i = 0; i < n3; i++)
        if (fabs(g[i] - (double)rg[i]) > ge) ge = fabs(g[i] - (double)rg[i]);
    CHECK(rel <= 1e-5, "%s: %.9g vs PyTorch %.9g (rel %.2e)", name, v, (double)rv[0], rel);
    CHECK(gm > 0 && ge <= 1e-4 * gm, "%s: gradient max error %.3g of max %.3g", name, ge, gm);
    printf("  %-14s %14.8g  rel %.2e   gradient max|err|/max %.2e\n", name, v, rel, ge / gm);
    free(rv);
    free(rg);
    free(g);
}

static void test_objective(void) {
    char path[1200];
    snprintf(path, sizeof path, "%s/losses.safetensors", dir);
    mc_st *st;
    REQUIRE_OK(mc_st_open(&st, path));
    const int n = 64;
    size_t np = (size_t)n * n;
    float *tf = read_t(st, "target", NULL), *rf = read_t(st, "ref", NULL), *of = read_t(st, "o", NULL);
    uint8_t *target = malloc(np * 3), *ref = malloc(np * 3);
    to_bytes(tf, np * 3, target);
    to_bytes(rf, np * 3, ref);
    double *x = malloc(3 * np * sizeof(double));
    for (size_t i = 0; i < 3 * np; i++) x[i] = of[i];
    for (int conv = 0; conv < 2; conv++) {
        mc_net *net = vgg_at(n);
        mc_tr_obj *obj;
        mc_tr_setup s = {.kmeans = 4, .vgg_input = conv ? MC_VGG_CAFFE : MC_VGG_TORCHVISION};
        REQUIRE_OK(mc_tr_obj_new(&obj, net, target, ref, n, &s));
        mc_tr_weights w0 = {0}, wd;
        mc_tr_weights_default(&wd);
        if (conv) {
            check_term(obj, st, "caffe total2", "caffe.total2", wd, x, 5);
            mc_tr_obj_free(obj);
            mc_net_free(net);
            continue;
        }
        /* discrete outputs and masks */
        for (int r = 0; r < 2; r++) {
            float *lab = read_t(st, r ? "labels_r" : "labels_t", NULL);
            const uint8_t *ml = mc_tr_obj_labels(obj, r);
            int diff = 0;
            for (size_t i = 0; i < np; i++) diff += ml[i] != (int)lab[i];
            CHECK(diff == 0, "k-means labels of the %s: %d of %zu differ", r ? "reference" : "target", diff, np);
            free(lab);
            for (int t = 0; t < MC_NTAPS; t++) {
                char name[64];
                snprintf(name, sizeof name, "mask_%c.%s", r ? 'r' : 't', mc_tr_tap_layer(t) + 9);
                size_t nm;
                float *m = read_t(st, name, &nm);
                int c, h, w;
                mc_tr_obj_tap_shape(obj, t, &c, &h, &w);
                REQUIRE(nm == (size_t)4 * h * w, "%s: %zu values", name, nm);
                const float *mm = mc_tr_obj_masks(obj, r, t);
                double e = 0;
                for (size_t i = 0; i < nm; i++)
                    if (fabs((double)mm[i] - (double)m[i]) > e) e = fabs((double)mm[i] - (double)m[i]);
                CHECK(e <= 1e-6, "%s: max error %.3g", name, e);
                free(m);
            }
        }
        for (int t = MC_TAP_RELU3_1; t < MC_NTAPS; t++) {
            if (t == MC_TAP_RELU4_2) continue;
            const float *sw;
            const int *idx;
            REQUIRE_OK(mc_tr_obj_swap(obj, t, &sw, &idx));
            int c, h, w;
            mc_tr_obj_tap_shape(obj, t, &c, &h, &w);
            char name[64];
            const char *num = mc_tr_tap_layer(t) + 9;
            snprintf(name, sizeof name, "swap_idx.%s", num);
            float *ri = read_t(st, name, NULL);
            snprintf(name, sizeof name, "swap_gap.%s", num);
            float *gap = read_t(st, name, NULL);
            snprintf(name, sizeof name, "swap.%s", num);
            float *rsw = read_t(st, name, NULL);
            int diff = 0, close = 0;
            double mingap = 1e30;
            for (int i = 0; i < h * w; i++) {
                if ((double)gap[i] < mingap) mingap = (double)gap[i];
                if (idx[i] != (int)ri[i]) {
                    if ((double)gap[i] > 1e-5) diff++;
                    else close++;
                }
            }
            double sm = max_abs(rsw, (size_t)c * h * w), se = 0;
            if (close == 0)
                for (size_t i = 0; i < (size_t)c * h * w; i++)
                    if (fabs((double)sw[i] - (double)rsw[i]) > se) se = fabs((double)sw[i] - (double)rsw[i]);
            CHECK(diff == 0, "swap indices at %s: %d of %d differ", mc_tr_tap_layer(t), diff, h * w);
            CHECK(se <= 1e-5 * sm, "swap map at %s: max error %.3g of %.3g", mc_tr_tap_layer(t), se, sm);
            printf("  swap %-12s %dx%d positions, indices identical (%d near-ties differ), smallest gap %.2e\n",
                   mc_tr_tap_layer(t), h, w, close, mingap);
            free(ri);
            free(gap);
            free(rsw);
        }
        /* each term alone, then the two passes' totals */
        mc_tr_weights w = w0;
        w.content = 1;
        check_term(obj, st, "content", "content", w, x, 0);
        w = w0;
        w.color = 1;
        check_term(obj, st, "color", "color", w, x, 1);
        const char *yn[3] = {"y0", "y05", "y1"};
        for (int k = 0; k < 3; k++) {
            w = w0;
            w.y = 1;
            w.alpha_y = k * 0.5;
            check_term(obj, st, yn[k], yn[k], w, x, 2);
        }
        w = w0;
        w.swap = 1;
        check_term(obj, st, "swap", "swap", w, x, 3);
        w = w0;
        w.tv = 1;
        check_term(obj, st, "tv", "tv", w, x, 4);
        w = w0;
        w.content = 1;
        w.color = 100;
        w.tv = 1e-3;
        check_term(obj, st, "total1", "total1", w, x, 5);
        check_term(obj, st, "total2", "total2", wd, x, 5);
        /* the thread count changes nothing: 1 and 3 threads against 2, bit for bit */
        {
            double f2, *g2 = malloc(3 * np * sizeof(double)), *g1 = malloc(3 * np * sizeof(double));
            REQUIRE_OK(mc_tr_obj_eval(obj, &wd, x, &f2, g2, NULL));
            for (int th = 1; th <= 3; th += 2) {
                mc_net *n1 = vgg_threads(n, th);
                mc_tr_obj *o1;
                double f1;
                REQUIRE_OK(mc_tr_obj_new(&o1, n1, target, ref, n, &s));
                REQUIRE_OK(mc_tr_obj_eval(o1, &wd, x, &f1, g1, NULL));
                CHECK(f1 == f2 && !memcmp(g1, g2, 3 * np * sizeof(double)),
                      "%d threads: f %.17g vs %.17g with 2, gradients %s", th, f1, f2,
                      memcmp(g1, g2, 3 * np * sizeof(double)) ? "differ" : "equal");
                mc_tr_obj_free(o1);
                mc_net_free(n1);
            }
            printf("  1, 2 and 3 threads: the same f and gradient, bit for bit\n");
            free(g1);
            free(g2);
        }
        mc_tr_obj_free(obj);
        mc_net_free(net);
    }
    free(tf);
    free(rf);
    free(of);
    free(target);
    free(ref);
    free(x);
    mc_st_close(st);
}

/* 4. smoothing against numpy: bytes identical except where numpy's value (x255) lies within
 * 1e-6 of an integer (truncation can go either way on rounding); for a grey guide (the
 * transfer's case) and a colour one. */
static void test_smooth(void) {
    char path[1200];
    snprintf(path, sizeof path, "%s/smooth.safetensors", dir);
    mc_st *st;
    REQUIRE_OK(mc_st_open(&st, path));
    const char *names[2] = {"grey", "colour"};
    for (int k = 0; k < 2; k++) {
        char nm[64];
        size_t n;
        snprintf(nm, sizeof nm, "guide.%s", names[k]);
        float *gf = read_t(st, nm, &n);
        snprintf(nm, sizeof nm, "img.%s", names[k]);
        float *imf = read_t(st, nm, NULL);
        snprintf(nm, sizeof nm, "out.%s", names[k]);
        float *of = read_t(st, nm, NULL);
        snprintf(nm, sizeof nm, "val.%s", names[k]);
        float *vf = read_t(st, nm, NULL);
        REQUIRE(n == 40 * 36 * 3, "smooth fixture: %zu values", n);
        uint8_t g[40 * 36 * 3], im[40 * 36 * 3], out[40 * 36 * 3];
        to_bytes(gf, n, g);
        to_bytes(imf, n, im);
        REQUIRE_OK(mc_tr_smooth(g, im, 40, 36, out));
        int diff = 0, edge = 0, changed = 0;
        for (size_t i = 0; i < n; i++) {
            changed += out[i] != im[i];
            if (out[i] == (uint8_t)of[i]) continue;
            double v = vf[i];
            if (fabs(v - floor(v + 0.5)) < 1e-6 && abs((int)out[i] - (int)of[i]) == 1) edge++;
            else diff++;
        }
        CHECK(diff == 0, "smooth (%s guide): %d of %zu bytes differ from numpy", names[k], diff, n);
        CHECK(changed > (int)n / 4, "smooth (%s guide): only %d of %zu bytes changed", names[k], changed, n);
        printf("  smooth, %-6s guide: 40x36, identical to numpy (%d values on a truncation edge)\n", names[k], edge);
        free(gf);
        free(imf);
        free(of);
        free(vf);
    }
    mc_st_close(st);
}

/* 5. bad networks and sizes: a clear error, no crash */
static void test_errors(void) {
    static uint8_t img[64 * 64 * 3];
    for (int i = 0; i < 64 * 64 * 3; i++) img[i] = (uint8_t)(i * 7);
    mc_tr_obj *o = NULL;
    mc_net *net = vgg_at(64);
    CHECK(mc_tr_obj_new(&o, net, img, img, 48, NULL) == MC_ESHAPE && strstr(mc_errmsg(), "3x48x48"),
          "images of another size than the network: %s", mc_errmsg());
    mc_tr_setup bad = {.kmeans = 0};
    CHECK(mc_tr_obj_new(&o, net, img, img, 64, &bad) == MC_EARG, "0 clusters accepted");
    mc_net_free(net);
    mc_net *small;
    mc_net_opts op = {.batch = 1, .seed = 1, .threads = 2};
    REQUIRE_OK(mc_net_from_string(&small, "[net]\nwidth=64\nheight=64\nchannels=3\n[convolutional]\nname=features.0\n"
                                          "filters=4\nsize=3\npadding=1\nactivation=relu\n", "nontaps.cfg", &op));
    CHECK(mc_tr_obj_new(&o, small, img, img, 64, NULL) == MC_ENOTFOUND && strstr(mc_errmsg(), "features.5"),
          "a network without the taps: %s", mc_errmsg());
    mc_net_free(small);
    /* 46x46: relu5_1 is 2x2, no 3x3 patch */
    const char *set[] = {"net.width=46", "net.height=46", NULL};
    mc_net_opts o46 = {.batch = 1, .seed = 1, .threads = 2, .set = set};
    REQUIRE_OK(mc_net_from_cfg(&small, "cfg/vgg19.cfg", &o46));
    CHECK(mc_tr_obj_new(&o, small, img, img, 46, NULL) == MC_ESHAPE && strstr(mc_errmsg(), "features.28"),
          "46x46: %s", mc_errmsg());
    mc_net_free(small);
    CHECK(o == NULL, "a failed mc_tr_obj_new left an object");
}

int main(void) {
    test_backward_taps();
    snprintf(dir, sizeof dir, "%s/transfer", mc_test_fixtures());
    char path[1200];
    snprintf(path, sizeof path, "%s/losses.safetensors", dir);
    FILE *f = fopen(path, "rb");
    REQUIRE(f, "%s missing: run `make fixtures` (needs /usr/bin/python3 with torch and torchvision)", path);
    fclose(f);
    test_smooth();
    test_errors();
    test_taps();
    test_objective();
    return mc_test_done("test_transfer");
}
