/* test_train_step.c — whole training steps against PyTorch: forward, loss, backward and SGD
 * update (momentum, classic L2 or fastai's decoupled weight decay, lr and momentum changing
 * every step as under one-cycle) over a few steps, on a T -> E -> C network in miniature;
 * and the freezing contract: a frozen group's parameters do not move (bit for bit), the
 * gradient still reaches T through the frozen E, and frozen BN keeps batch statistics and
 * updates its running statistics (the authors' semantics) — or, with [net] frozen_bn=running
 * (PyTorch: that BN in eval mode), uses its running statistics and keeps them, bit for bit.
 * Tolerance: 1e-5 of each tensor's scale after the last step (the per-step parity errors,
 * ~1e-7, carried through a handful of updates). */
#include "mc_io.h"
#include "test.h"

static float *get(mc_st *st, const char *name, size_t n) {
    int i = mc_st_find(st, name);
    REQUIRE(i >= 0, "fixture lacks %s", name);
    float *p = malloc(n * sizeof(float));
    REQUIRE(mc_st_read_f32(st, i, p, n) == 0, "%s: %s", name, mc_errmsg());
    return p;
}

static void parse_list(const char *s, float *out, int n) {
    for (int i = 0; i < n; i++) {
        out[i] = strtof(s, (char **)&s);
        if (*s == ',') s++;
    }
}

static void run(const char *dir, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.safetensors", dir, name);
    mc_st *st;
    REQUIRE_OK(mc_st_open(&st, path));
    const char *cfg = mc_st_metadata(st, "cfg"), *frozen = mc_st_metadata(st, "frozen"),
               *fbn = mc_st_metadata(st, "frozen_bn");
    int running = fbn && !strcmp(fbn, "running");
    int steps = atoi(mc_st_metadata(st, "steps")), decoupled = atoi(mc_st_metadata(st, "decoupled"));
    float wd = strtof(mc_st_metadata(st, "wd"), NULL), lr[16], mom[16];
    REQUIRE(steps > 0 && steps <= 16, "steps");
    parse_list(mc_st_metadata(st, "lr"), lr, steps);
    parse_list(mc_st_metadata(st, "momentum"), mom, steps);
    mc_net *net;
    mc_net_opts o = {.no_init = 1, .threads = 2};
    REQUIRE_OK(mc_net_from_string(&net, cfg, name, &o));
    int nt = mc_net_num_tensors(net);
    char tn[256];
    for (int i = 0; i < nt; i++) {
        mc_tensor_info ti;
        mc_net_tensor_info(net, i, &ti);
        snprintf(tn, sizeof tn, "param.%s", ti.name);
        float *p = get(st, tn, ti.numel);
        REQUIRE_OK(mc_net_tensor_set(net, i, p));
        free(p);
    }
    if (frozen[0]) REQUIRE_OK(mc_net_freeze(net, frozen, 1));
    mc_net_set_train(net, 1);
    int B = mc_net_batch(net), nout = mc_net_num_outputs(net);
    double worst_loss = 0;
    for (int s = 0; s < steps; s++) {
        char k[32];
        snprintf(k, sizeof k, "x%d", s);
        float *x = get(st, k, (size_t)B * 64);
        snprintf(k, sizeof k, "t%d", s);
        float *t = get(st, k, (size_t)B * nout);
        snprintf(k, sizeof k, "mask%d", s);
        float *m = get(st, k, (size_t)B * nout);
        snprintf(k, sizeof k, "loss%d", s);
        float *l = get(st, k, 1);
        REQUIRE_OK(mc_net_set_input(net, x));
        REQUIRE_OK(mc_net_set_truth(net, t, m));
        REQUIRE_OK(mc_net_zero_grad(net));
        REQUIRE_OK(mc_net_forward(net));
        double e = fabs((double)mc_net_loss(net) - (double)l[0]) / fabs((double)l[0]);
        if (e > worst_loss) worst_loss = e;
        CHECK(e < 1e-5, "%s step %d: loss %.8g vs torch %.8g", name, s, (double)mc_net_loss(net), (double)l[0]);
        REQUIRE_OK(mc_net_backward(net));
        mc_sgd opt = {.lr = lr[s], .momentum = mom[s], .weight_decay = wd, .decoupled = decoupled};
        REQUIRE_OK(mc_net_sgd_step(net, &opt));
        free(x);
        free(t);
        free(m);
        free(l);
    }
    double worst = 0;
    for (int i = 0; i < nt; i++) {
        mc_tensor_info ti;
        mc_net_tensor_info(net, i, &ti);
        snprintf(tn, sizeof tn, "final.%s", ti.name);
        float *ref = get(st, tn, ti.numel);
        snprintf(tn, sizeof tn, "param.%s", ti.name);
        float *init = get(st, tn, ti.numel);
        float *mine = malloc(ti.numel * sizeof(float));
        REQUIRE_OK(mc_net_tensor_get(net, i, mine));
        double m = 0, sc = 1e-3;
        int moved = 0;
        for (size_t k = 0; k < ti.numel; k++) {
            m = fmax(m, fabs((double)mine[k] - (double)ref[k]));
            sc = fmax(sc, fabs((double)ref[k]));
            moved |= mine[k] != init[k];
        }
        CHECK(m / sc <= 1e-5, "%s: %s after %d steps: error %.3g", name, ti.name, steps, m / sc);
        if (m / sc > worst) worst = m / sc;
        const char *group = mc_net_layer_group(net, ti.layer);
        if (frozen[0] && !strcmp(group, frozen) && (ti.trainable || running))
            CHECK(!moved, "%s: frozen %s moved", name, ti.name);
        else
            CHECK(moved, "%s: %s did not change (trainable %d, group %s)", name, ti.name, ti.trainable, group);
        free(ref);
        free(init);
        free(mine);
    }
    printf("  %-32s %d steps: loss rel err <= %.1e, parameters rel err <= %.1e\n", name, steps, worst_loss, worst);
    mc_net_free(net);
    mc_st_close(st);
}

int main(void) {
    int n = mc_test_each_fixture("sgd_index.txt", run);
    CHECK(n == 4, "%d SGD cases", n);
    return mc_test_done("test_train_step");
}
