/* test_parity.c — every layer type and option against PyTorch.
 *
 * The fixtures (tests/torch/make_layer_fixtures.py, run by `make test`) hold, per case, a cfg,
 * random parameters and input, an output gradient, and what PyTorch computed: output, input
 * gradient, parameter gradients, BN running statistics after the forward pass. Here medcolor
 * builds the cfg, loads the same parameters and must reproduce all of it.
 *
 * Error measure: max |ours - torch| / max(max |torch|, 1e-3), i.e. relative to the scale of the
 * tensor (an element-wise relative error is meaningless where values cross zero; the 1e-3
 * floor keeps gradients that are mathematically zero, e.g. a conv bias before train-mode BN,
 * from dividing by rounding noise).
 *
 * A gradient that is zero in exact arithmetic (a conv bias followed by train-mode BatchNorm,
 * which removes the mean) is rounding noise on both sides, of the order of the summands' scale
 * times n*eps; it is checked in absolute terms instead: max |ours| <= 1e-5 x G, G the largest
 * reference gradient of the case, whenever max |torch| is itself below that.
 *
 * Tolerances (fp32): outputs 1e-5 — both sides round each product-sum of at most a few hundred
 * terms in float32 (unit roundoff 6e-8) and sum in different orders (OpenBLAS vs oneDNN), which
 * stays well below 1e-5 of the tensor's scale; gradients 2e-5 — they pass through one more
 * reduction (over batch and space: BN statistics, weight gradients), whose summation order
 * differs between the libraries.
 */
#include "mc_io.h"
#include "test.h"

#define TOL_OUT 1e-5
#define TOL_GRAD 2e-5

static double rel_err(const float *a, const float *b, size_t n) {
    double m = 0, s = 1e-3;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) m = d; /* NaN propagates */
        if (fabs((double)b[i]) > s) s = fabs((double)b[i]);
    }
    return m / s;
}

static float *read_tensor(mc_st *st, const char *name, size_t expect) {
    int i = mc_st_find(st, name);
    if (i < 0) return NULL;
    mc_st_info info;
    if (mc_st_get_info(st, i, &info) < 0 || info.numel != expect) {
        fprintf(stderr, "fixture tensor %s: %zu values, expected %zu\n", name, (size_t)info.numel, expect);
        return NULL;
    }
    float *p = malloc(expect * sizeof(float));
    if (p && mc_st_read_f32(st, i, p, expect) < 0) {
        free(p);
        return NULL;
    }
    return p;
}

/* worst error per layer type, for the summary table */
typedef struct { char type[24]; double out, grad; int cases; } type_row;
static type_row rows[32];
static int nrows;

static void note(const char *type, double out, double grad) {
    int i;
    for (i = 0; i < nrows; i++)
        if (!strcmp(rows[i].type, type)) break;
    if (i == nrows) {
        snprintf(rows[nrows].type, sizeof rows[0].type, "%s", type);
        nrows++;
    }
    if (out > rows[i].out) rows[i].out = out;
    if (grad > rows[i].grad) rows[i].grad = grad;
    rows[i].cases++;
}

static void run_case(const char *dir, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.safetensors", dir, name);
    mc_st *st;
    int rc = mc_st_open(&st, path);
    CHECK(rc == 0, "%s: %s", name, mc_errmsg());
    if (rc < 0) return;
    const char *cfg = mc_st_metadata(st, "cfg"), *train = mc_st_metadata(st, "train"),
               *frozen = mc_st_metadata(st, "frozen"), *cost = mc_st_metadata(st, "cost");
    REQUIRE(cfg && train && frozen && cost, "%s: fixture metadata incomplete", name);
    mc_net *net;
    mc_net_opts opts = {.no_init = 1, .threads = 2};
    rc = mc_net_from_string(&net, cfg, name, &opts);
    CHECK(rc == 0, "%s: %s", name, mc_errmsg());
    if (rc < 0) {
        mc_st_close(st);
        return;
    }
    int B = mc_net_batch(net), c, h, w;
    mc_net_input_shape(net, &c, &h, &w);
    size_t nin = (size_t)B * c * h * w, nout = (size_t)B * mc_net_num_outputs(net);
    int nt = mc_net_num_tensors(net);
    char tn[256];
    int missing = 0;
    for (int i = 0; i < nt; i++) {
        mc_tensor_info ti;
        mc_net_tensor_info(net, i, &ti);
        snprintf(tn, sizeof tn, "param.%s", ti.name);
        float *p = read_tensor(st, tn, ti.numel);
        CHECK(p != NULL, "%s: fixture has no %s (the PyTorch case must map every tensor)", name, tn);
        if (!p) {
            missing++;
            continue;
        }
        REQUIRE_OK(mc_net_tensor_set(net, i, p));
        free(p);
    }
    if (frozen[0]) REQUIRE_OK(mc_net_freeze(net, frozen, 1));
    mc_net_set_train(net, train[0] == '1');
    mc_net_want_input_grad(net, 1);
    float *x = read_tensor(st, "x", nin), *y = read_tensor(st, "y", nout), *dy = read_tensor(st, "dy", nout),
          *dx = read_tensor(st, "dx", nin);
    REQUIRE(x && y && dy && dx && !missing, "%s: fixture tensors missing", name);
    float *buf = malloc((nin > nout ? nin : nout) * sizeof(float));
    REQUIRE_OK(mc_net_set_input(net, x));
    if (cost[0] == '1') {
        float *t = read_tensor(st, "t", nout), *m = read_tensor(st, "mask", nout), *loss = read_tensor(st, "loss", 1);
        REQUIRE(t && m && loss, "%s: cost tensors missing", name);
        REQUIRE_OK(mc_net_set_truth(net, t, m));
        REQUIRE_OK(mc_net_zero_grad(net));
        REQUIRE_OK(mc_net_forward(net));
        float ours = mc_net_loss(net);
        double e = fabs((double)ours - (double)loss[0]) / fabs((double)loss[0]);
        CHECK(e <= TOL_OUT, "%s: loss %.9g vs torch %.9g (rel %.3g)", name, (double)ours, (double)loss[0], e);
        REQUIRE_OK(mc_net_backward(net));
        free(t);
        free(m);
        free(loss);
    } else {
        REQUIRE_OK(mc_net_zero_grad(net));
        REQUIRE_OK(mc_net_forward(net));
        REQUIRE_OK(mc_net_backward_from(net, dy));
    }
    /* forward output (the backward pass must not have changed it) */
    REQUIRE_OK(mc_net_get_output(net, -1, buf));
    double eo = rel_err(buf, y, nout), eg = 0;
    CHECK(eo <= TOL_OUT, "%s: output error %.3g > %.0e", name, eo, TOL_OUT);
    REQUIRE_OK(mc_net_get_input_grad(net, buf));
    double ed = rel_err(buf, dx, nin);
    CHECK(ed <= TOL_GRAD, "%s: input gradient error %.3g > %.0e", name, ed, TOL_GRAD);
    if (ed > eg) eg = ed;
    int nonzero_dx = 0;
    for (size_t i = 0; i < nin; i++) nonzero_dx |= buf[i] != 0.0f;
    CHECK(nonzero_dx, "%s: input gradient is all zero", name);
    double G = 0; /* largest reference gradient of the case */
    for (size_t i = 0; i < nin; i++) G = fmax(G, fabs((double)dx[i]));
    for (int i = 0; i < nt; i++) {
        mc_tensor_info ti;
        mc_net_tensor_info(net, i, &ti);
        snprintf(tn, sizeof tn, "grad.%s", ti.name);
        float *ref = ti.trainable ? read_tensor(st, tn, ti.numel) : NULL;
        for (size_t k = 0; ref && k < ti.numel; k++) G = fmax(G, fabs((double)ref[k]));
        free(ref);
    }
    for (int i = 0; i < nt; i++) {
        mc_tensor_info ti;
        mc_net_tensor_info(net, i, &ti);
        float *mine = malloc(ti.numel * sizeof(float));
        if (ti.trainable) {
            snprintf(tn, sizeof tn, "grad.%s", ti.name);
            float *ref = read_tensor(st, tn, ti.numel);
            REQUIRE_OK(mc_net_tensor_grad(net, i, mine));
            double rmax = 0, omax = 0;
            for (size_t k = 0; ref && k < ti.numel; k++) {
                rmax = fmax(rmax, fabs((double)ref[k]));
                omax = fmax(omax, fabs((double)mine[k]));
            }
            if (ref && rmax <= 1e-5 * G) {
                CHECK(omax <= 1e-5 * G, "%s: gradient of %s should be ~0 (torch %.2g) but is %.3g (G %.3g)",
                      name, ti.name, rmax, omax, G);
                printf("  %-34s (%s: zero in exact arithmetic; |torch| %.1e, |ours| %.1e, G %.1e)\n", name,
                       ti.name, rmax, omax, G);
            } else if (ref) {
                double e = rel_err(mine, ref, ti.numel);
                CHECK(e <= TOL_GRAD, "%s: gradient of %s error %.3g > %.0e", name, ti.name, e, TOL_GRAD);
                if (e > eg) eg = e;
            } else {
                /* frozen in PyTorch (requires_grad off): ours must not have computed one */
                int zero = 1;
                for (size_t k = 0; k < ti.numel; k++) zero &= mine[k] == 0.0f;
                CHECK(zero, "%s: frozen tensor %s got a gradient", name, ti.name);
            }
            free(ref);
        } else {
            snprintf(tn, sizeof tn, "after.%s", ti.name);
            float *ref = read_tensor(st, tn, ti.numel);
            CHECK(ref != NULL, "%s: fixture lacks %s", name, tn);
            REQUIRE_OK(mc_net_tensor_get(net, i, mine));
            if (ref) {
                double e = rel_err(mine, ref, ti.numel);
                CHECK(e <= TOL_OUT, "%s: %s after forward, error %.3g > %.0e", name, ti.name, e, TOL_OUT);
                if (e > eo) eo = e;
            }
            free(ref);
        }
        free(mine);
    }
    printf("  %-34s out %.2e  grad %.2e\n", name, eo, eg);
    /* summary per layer type: the type of the first layer unless a later one is the subject */
    const char *type = mc_net_layer_type(net, 0);
    if (!strncmp(name, "route", 5)) type = "route";
    if (!strncmp(name, "shortcut", 8) || !strncmp(name, "downsample", 10)) type = "shortcut";
    if (!strncmp(name, "cost", 4)) type = "cost";
    if (!strncmp(name, "frozen", 6)) type = "(frozen group)";
    note(type, eo, eg);
    free(x);
    free(y);
    free(dy);
    free(dx);
    free(buf);
    mc_net_free(net);
    mc_st_close(st);
}

int main(void) {
    int n = mc_test_each_fixture("index.txt", run_case);
    CHECK(n >= 40, "only %d fixture cases", n);
    printf("\n  %-16s %6s %12s %12s\n", "layer type", "cases", "max out err", "max grad err");
    for (int i = 0; i < nrows; i++)
        printf("  %-16s %6d %12.2e %12.2e\n", rows[i].type, rows[i].cases, rows[i].out, rows[i].grad);
    return mc_test_done("test_parity");
}
