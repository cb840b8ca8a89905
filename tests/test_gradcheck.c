/* test_gradcheck.c — finite-difference check of every layer type and option.
 *
 * For every case of the parity fixtures (same cfgs, same parameters; PyTorch is not involved
 * here), the analytic gradients of medcolor's backward pass are compared with central
 * differences of medcolor's own forward pass, for the input and every trainable tensor:
 *     L = sum_i y_i * dy_i  (accumulated in double)      or the [cost] loss,
 *     fd(h) = (L(v + h) - L(v - h)) / 2h,   h = 1e-3.
 * Entries checked: all of a tensor when it has at most 48, else 48 drawn at random.
 * Kinks (ReLU at 0, a max-pool argmax that changes, hardtanh's corners): where one lies within h
 * of the point, the one-sided differences (L(v+h)-L(v))/h and (L(v)-L(v-h))/h disagree by the
 * size of the jump in slope, and the central estimates with h and h/2 disagree; such points are
 * skipped and counted, and at most a third of the points of a case may be skipped.
 * Tolerance: |analytic - fd| <= 5e-3 + 1e-2 |fd|. The forward pass is float32: L (a sum of a
 * few hundred products of size ~1..10) carries a rounding noise of ~1e-6, which divided by
 * 2h = 2e-3 is ~1e-3 in the estimate (seen: a gradient that is exactly zero, a conv bias before
 * train-mode BN, estimated at 1.4e-3); truncation, O(h^2), is far smaller. A wrong formula is
 * off by O(1) relative; exact agreement with PyTorch is test_parity's job.
 * The gradients are asserted not all zero (input, and each tensor whose finite difference is
 * not zero itself — a conv bias before train-mode BN has zero gradient in exact arithmetic).
 */
#include "mc_io.h"
#include "test.h"

#define H 1e-3f
#define MAX_ENTRIES 48

static float *read_all(mc_st *st, const char *name, size_t *n) {
    int i = mc_st_find(st, name);
    if (i < 0) return NULL;
    mc_st_info info;
    mc_st_get_info(st, i, &info);
    float *p = malloc(info.numel * sizeof(float));
    if (p && mc_st_read_f32(st, i, p, info.numel) < 0) {
        free(p);
        return NULL;
    }
    if (n) *n = info.numel;
    return p;
}

typedef struct ctx {
    mc_net *net;
    int cost;
    float *x, *dy, *ybuf;
    size_t nin, nout;
} ctx;

static double objective(ctx *c) {
    REQUIRE_OK(mc_net_set_input(c->net, c->x));
    REQUIRE_OK(mc_net_forward(c->net));
    if (c->cost) return (double)mc_net_loss(c->net);
    REQUIRE_OK(mc_net_get_output(c->net, -1, c->ybuf));
    double s = 0;
    for (size_t i = 0; i < c->nout; i++) s += (double)c->ybuf[i] * (double)c->dy[i];
    return s;
}

/* value pointer v (host copy of the tensor or the input), apply via set() */
typedef struct target {
    float *vals;
    size_t n;
    int tensor; /* -1: the input */
} target;

static void apply(ctx *c, target *t) {
    if (t->tensor >= 0) REQUIRE_OK(mc_net_tensor_set(c->net, t->tensor, t->vals));
}

static double eval_at(ctx *c, target *t, size_t k, float v) {
    float old = t->vals[k];
    t->vals[k] = v;
    apply(c, t);
    double l = objective(c);
    t->vals[k] = old;
    apply(c, t);
    return l;
}

/* central difference with step h; *kink set when one-sided differences disagree */
static double fd_at(ctx *c, target *t, size_t k, float h, double l0, int *kink) {
    float v = t->vals[k], vp = v + h, vm = v - h;
    double lp = eval_at(c, t, k, vp), lm = eval_at(c, t, k, vm);
    double fwd = (lp - l0) / ((double)vp - (double)v), bwd = (l0 - lm) / ((double)v - (double)vm);
    double cen = (lp - lm) / ((double)vp - (double)vm); /* the step actually taken in float */
    if (fabs(fwd - bwd) > 1e-2 + 2e-2 * fabs(cen)) *kink = 1;
    return cen;
}

static unsigned rng_state = 12345;
static unsigned rnd(void) {
    rng_state = rng_state * 1103515245u + 12345u;
    return rng_state >> 8;
}

/* returns: checked count; adds to *skipped; checks not-all-zero when required */
static int check_target(ctx *c, target *t, const float *analytic, const char *cname, const char *tname,
                        int *skipped, double *worst) {
    size_t idx[MAX_ENTRIES];
    size_t m = t->n <= MAX_ENTRIES ? t->n : MAX_ENTRIES;
    for (size_t i = 0; i < m; i++) idx[i] = t->n <= MAX_ENTRIES ? i : rnd() % t->n;
    int checked = 0, any_fd = 0, any_an = 0;
    for (size_t i = 0; i < m; i++) {
        size_t k = idx[i];
        int kink = 0;
        double l0 = objective(c);
        double f1 = fd_at(c, t, k, H, l0, &kink), f2 = fd_at(c, t, k, H / 2, l0, &kink);
        if (kink || fabs(f1 - f2) > 5e-3 + 1e-2 * fabs(f2)) {
            (*skipped)++;
            continue;
        }
        double a = analytic[k], err = fabs(a - f1);
        double tol = 5e-3 + 1e-2 * fabs(f1);
        CHECK(err <= tol, "%s: d/d %s[%zu]: analytic %.6g, finite difference %.6g", cname, tname, k, a, f1);
        if (err / tol > *worst) *worst = err / tol;
        any_fd |= fabs(f1) > 1e-2;
        any_an |= a != 0.0;
        checked++;
    }
    if (any_fd) CHECK(any_an, "%s: gradient of %s is all zero but the finite differences are not", cname, tname);
    return checked;
}

static void run_case(const char *dir, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.safetensors", dir, name);
    mc_st *st;
    REQUIRE_OK(mc_st_open(&st, path));
    const char *cfg = mc_st_metadata(st, "cfg"), *train = mc_st_metadata(st, "train"),
               *frozen = mc_st_metadata(st, "frozen"), *cost = mc_st_metadata(st, "cost");
    REQUIRE(cfg && train && frozen && cost, "%s: metadata", name);
    ctx c = {0};
    mc_net_opts opts = {.no_init = 1, .threads = 1};
    REQUIRE_OK(mc_net_from_string(&c.net, cfg, name, &opts));
    int nt = mc_net_num_tensors(c.net);
    char tn[256];
    for (int i = 0; i < nt; i++) {
        mc_tensor_info ti;
        mc_net_tensor_info(c.net, i, &ti);
        snprintf(tn, sizeof tn, "param.%s", ti.name);
        float *p = read_all(st, tn, NULL);
        REQUIRE(p, "%s: no %s", name, tn);
        REQUIRE_OK(mc_net_tensor_set(c.net, i, p));
        free(p);
    }
    if (frozen[0]) REQUIRE_OK(mc_net_freeze(c.net, frozen, 1));
    mc_net_set_train(c.net, train[0] == '1');
    mc_net_want_input_grad(c.net, 1);
    c.cost = cost[0] == '1';
    c.x = read_all(st, "x", &c.nin);
    c.dy = read_all(st, "dy", &c.nout);
    REQUIRE(c.x && c.dy, "%s: x/dy", name);
    c.ybuf = malloc(c.nout * sizeof(float));
    if (c.cost) {
        float *t = read_all(st, "t", NULL), *m = read_all(st, "mask", NULL);
        REQUIRE_OK(mc_net_set_truth(c.net, t, m));
        free(t);
        free(m);
    }
    /* analytic */
    REQUIRE_OK(mc_net_set_input(c.net, c.x));
    REQUIRE_OK(mc_net_zero_grad(c.net));
    REQUIRE_OK(mc_net_forward(c.net));
    if (c.cost)
        REQUIRE_OK(mc_net_backward(c.net));
    else
        REQUIRE_OK(mc_net_backward_from(c.net, c.dy));
    float *dx = malloc(c.nin * sizeof(float));
    REQUIRE_OK(mc_net_get_input_grad(c.net, dx));
    int skipped = 0, checked = 0;
    double worst = 0;
    target tin = {c.x, c.nin, -1};
    checked += check_target(&c, &tin, dx, name, "input", &skipped, &worst);
    int nz = 0;
    for (size_t i = 0; i < c.nin; i++) nz |= dx[i] != 0.0f;
    CHECK(nz, "%s: input gradient all zero", name);
    for (int i = 0; i < nt; i++) {
        mc_tensor_info ti;
        mc_net_tensor_info(c.net, i, &ti);
        if (!ti.trainable) continue;
        if (frozen[0] && !strcmp(mc_net_layer_group(c.net, ti.layer), frozen)) continue;
        float *an = malloc(ti.numel * sizeof(float)), *vals = malloc(ti.numel * sizeof(float));
        REQUIRE_OK(mc_net_tensor_grad(c.net, i, an));
        REQUIRE_OK(mc_net_tensor_get(c.net, i, vals));
        target tt = {vals, ti.numel, i};
        checked += check_target(&c, &tt, an, name, ti.name, &skipped, &worst);
        free(an);
        free(vals);
    }
    CHECK(checked > 0 && skipped * 3 <= checked, "%s: %d points checked, %d skipped near kinks", name, checked,
          skipped);
    printf("  %-34s %4d points, %3d skipped at kinks, worst error/tolerance %.3f\n", name, checked, skipped,
           worst);
    free(dx);
    free(c.x);
    free(c.dy);
    free(c.ybuf);
    mc_net_free(c.net);
    mc_st_close(st);
}

int main(void) {
    int n = mc_test_each_fixture("index.txt", run_case);
    CHECK(n >= 40, "only %d cases", n);
    return mc_test_done("test_gradcheck");
}
