/* test_inference.c — inference-only networks (mc_net_opts.inference_only): layer outputs share
 * memory by lifetime (plan_outputs in src/engine/memory.c), as predict, eval and colorize build them.
 *
 * For each of the paper's 8 networks (cfg/, at 64x64 so that the test is quick; DenseNet's
 * deepest map is then 2x2) and batch sizes 2 and 3 (the plan is made again on a batch change):
 *   - a normal network and an inference-only one get the same parameters and non-trivial BN
 *     running statistics (one train-mode forward pass of the normal one); in eval mode the
 *     probabilities are bitwise identical (the same operations on the same values: any
 *     difference means two live outputs shared memory). The shared block is filled with NaN
 *     first (MC_POISON_OUTPUTS=1), so a layer that relied on zeroed output memory fails too;
 *   - forward_to the colour module's last layer (what colorize reads): bitwise identical;
 *   - the refusals: an intermediate output that was not the end of the last pass, train mode,
 *     backward — each an error, not garbage.
 * The memory it saves is measured by `make bench` (DenseNet121+PixelShuffle inference, batch 16:
 * peak RSS 4885 -> 310 MB).
 */
#include <unistd.h>
#include "test.h"

static const char *nets[] = {"resnet18", "resnet18-deconv", "resnet18-pixelshuffle", "resnet18-coloru",
                             "densenet121", "densenet121-deconv", "densenet121-pixelshuffle", "densenet121-coloru"};

static void fill_input(float *x, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)((seed >> 8) & 0xFFFF) / 32768.0f - 1.0f;
    }
}

static void one(const char *name) {
    char cfg[256];
    snprintf(cfg, sizeof cfg, "cfg/%s.cfg", name);
    const char *set[] = {"net.width=64", "net.height=64", NULL};
    mc_net_opts oa = {.batch = 2, .seed = 11, .set = set, .threads = 2};
    mc_net_opts ob = oa;
    ob.inference_only = 1;
    ob.no_init = 1;
    mc_net *a, *b;
    REQUIRE_OK(mc_net_from_cfg(&a, cfg, &oa));
    REQUIRE_OK(mc_net_from_cfg(&b, cfg, &ob));
    int c, h, w, L = mc_net_num_outputs(a);
    mc_net_input_shape(a, &c, &h, &w);
    size_t per = (size_t)c * h * w;
    float *x = malloc(3 * per * sizeof(float)), *ya = malloc(3 * 64 * 64 * 3 * sizeof(float)),
          *yb = malloc(3 * 64 * 64 * 3 * sizeof(float));
    REQUIRE(x && ya && yb, "memory");
    /* BN running statistics away from (0, 1): one train-mode pass of the normal network */
    fill_input(x, 2 * per, 5);
    REQUIRE_OK(mc_net_set_input(a, x));
    REQUIRE_OK(mc_net_forward(a));
    mc_net_set_train(a, 0);
    for (int t = 0; t < mc_net_num_tensors(a); t++) {
        mc_tensor_info ti;
        REQUIRE_OK(mc_net_tensor_info(a, t, &ti));
        float *v = malloc(ti.numel * sizeof(float));
        REQUIRE(v, "memory");
        REQUIRE_OK(mc_net_tensor_get(a, t, v));
        REQUIRE_OK(mc_net_tensor_set(b, t, v));
        free(v);
    }
    int color = mc_net_group_last_layer(a, "color");
    for (int batch = 2; batch <= 3; batch++) {
        if (batch == 3) {
            REQUIRE_OK(mc_net_set_batch(a, 3));
            REQUIRE_OK(mc_net_set_batch(b, 3));
        }
        fill_input(x, (size_t)batch * per, 100u + (unsigned)batch);
        REQUIRE_OK(mc_net_set_input(a, x));
        REQUIRE_OK(mc_net_set_input(b, x));
        REQUIRE_OK(mc_net_forward(a));
        REQUIRE_OK(mc_net_forward(b));
        REQUIRE_OK(mc_net_get_output(a, -1, ya));
        REQUIRE_OK(mc_net_get_output(b, -1, yb));
        int same = memcmp(ya, yb, (size_t)batch * L * sizeof(float)) == 0, finite = 1;
        for (int i = 0; i < batch * L; i++) finite &= isfinite(yb[i]) != 0;
        CHECK(same && finite, "%s batch %d: inference-only probabilities differ (%g vs %g)", name, batch,
              (double)ya[0], (double)yb[0]);
        if (color >= 0) {
            int oc, oh, ow;
            REQUIRE_OK(mc_net_layer_shape(a, color, &oc, &oh, &ow));
            size_t n = (size_t)batch * oc * oh * ow;
            REQUIRE_OK(mc_net_forward_to(a, color));
            REQUIRE_OK(mc_net_forward_to(b, color));
            REQUIRE_OK(mc_net_get_output(a, color, ya));
            REQUIRE_OK(mc_net_get_output(b, color, yb));
            CHECK(memcmp(ya, yb, n * sizeof(float)) == 0, "%s batch %d: colour module output differs", name, batch);
        }
    }
    /* refusals */
    REQUIRE_OK(mc_net_forward(b));
    CHECK(mc_net_get_output(b, 1, yb) < 0 && strstr(mc_errmsg(), "inference-only"),
          "%s: an overwritten intermediate output was readable: %s", name, mc_errmsg());
    mc_net_set_train(b, 1);
    CHECK(mc_net_forward(b) < 0 && strstr(mc_errmsg(), "inference only"), "%s: train mode accepted", name);
    mc_net_set_train(b, 0);
    CHECK(mc_net_backward(b) < 0 && strstr(mc_errmsg(), "inference only"), "%s: backward accepted", name);
    free(x);
    free(ya);
    free(yb);
    mc_net_free(a);
    mc_net_free(b);
    printf("  %-26s eval and colour-module outputs bitwise identical (batch 2, 3)\n", name);
}

int main(void) {
    REQUIRE(access("cfg/resnet18.cfg", R_OK) == 0, "run from the repository root (cfg/ not found)");
    setenv("MC_POISON_OUTPUTS", "1", 1);
    for (size_t k = 0; k < sizeof nets / sizeof *nets; k++) one(nets[k]);
    return mc_test_done("test_inference");
}
