/* test_darknet_compat.c — medcolor and darknet read the same cfg and the same .weights.
 *
 * Debian's darknet (libdarknet.so, package `darknet`, installed by .ci/run) is loaded at run
 * time with dlopen. One cfg that both understand (conv + BN + leaky 0.1, maxpool, 1x1 conv,
 * shortcut, route, global avgpool, connected); medcolor writes random weights with non-trivial
 * BN statistics; darknet loads them and predicts; medcolor predicts the same input in eval mode.
 * Then darknet saves the weights it loaded and the file must be byte-identical to medcolor's.
 * Tolerance 1e-4 relative to the output scale: darknet normalises by sqrt(var) + 1e-6 where
 * PyTorch (and medcolor) use sqrt(var + 1e-5); with running variances in [0.5, 2] that is a
 * relative difference below 1e-5 per BN layer, plus float summation order.
 * Skips (exit 77, "SKIP test_darknet_compat: <why>") only when libdarknet.so is absent.
 */
#include <dlfcn.h>
#include "test.h"

typedef void *(*parse_fn)(char *);
typedef void (*weights_fn)(void *, char *);
typedef float *(*predict_fn)(void *, float *);
typedef void (*free_fn)(void *);

static const char *CFG =
    "[net]\nbatch=1\nwidth=16\nheight=16\nchannels=3\n"
    "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[convolutional]\nfilters=8\nsize=1\nstride=1\npad=1\nactivation=linear\n"
    "[shortcut]\nfrom=-2\nactivation=linear\n"
    "[route]\nlayers=-1,-3\n"
    "[convolutional]\nbatch_normalize=1\nfilters=6\nsize=3\nstride=2\npad=1\nactivation=leaky\n"
    "[avgpool]\n"
    "[connected]\noutput=5\nactivation=linear\n";

static int mc_fread_all_test(const char *path, char **out, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    *out = malloc(*n ? *n : 1);
    size_t got = fread(*out, 1, *n, f);
    fclose(f);
    return got == *n ? 0 : -1;
}

int main(void) {
    const char *lib = "/usr/lib/darknet/libdarknet.so";
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        mc_test_skip("test_darknet_compat", "%s not found (apt-get install darknet; scripts/install-deps.sh does)", lib);
        return mc_test_done("test_darknet_compat");
    }
    parse_fn parse = (parse_fn)dlsym(h, "parse_network_cfg");
    weights_fn load = (weights_fn)dlsym(h, "load_weights"), save = (weights_fn)dlsym(h, "save_weights");
    predict_fn predict = (predict_fn)dlsym(h, "network_predict");
    free_fn freenet = (free_fn)dlsym(h, "free_network");
    REQUIRE(parse && load && save && predict && freenet, "libdarknet symbols missing");

    char cfgpath[600], w1[600], w2[600];
    snprintf(cfgpath, sizeof cfgpath, "%s/compat.cfg", mc_test_tmp());
    snprintf(w1, sizeof w1, "%s/medcolor.weights", mc_test_tmp());
    snprintf(w2, sizeof w2, "%s/darknet.weights", mc_test_tmp());
    FILE *f = fopen(cfgpath, "w");
    fputs(CFG, f);
    fclose(f);

    mc_net *net;
    mc_net_opts o = {.seed = 3};
    REQUIRE_OK(mc_net_from_cfg(&net, cfgpath, &o));
    /* BN running statistics away from 0/1, biases non-zero */
    unsigned s = 7;
    for (int i = 0; i < mc_net_num_tensors(net); i++) {
        mc_tensor_info ti;
        mc_net_tensor_info(net, i, &ti);
        float *v = malloc(ti.numel * sizeof(float));
        REQUIRE_OK(mc_net_tensor_get(net, i, v));
        for (size_t k = 0; k < ti.numel; k++) {
            s = s * 1103515245u + 12345u;
            float u = (float)((s >> 8) & 0xffff) / 65536.0f;
            if (strstr(ti.name, "running_var")) v[k] = 0.5f + 1.5f * u;
            else if (strstr(ti.name, "running_mean") || strstr(ti.name, "bias")) v[k] = u - 0.5f;
            else if (strstr(ti.name, "bn.weight")) v[k] = 0.5f + u;
        }
        REQUIRE_OK(mc_net_tensor_set(net, i, v));
        free(v);
    }
    mc_net_set_seen(net, 4242);
    REQUIRE_OK(mc_net_save_weights(net, w1));

    float x[3 * 16 * 16];
    for (int i = 0; i < 3 * 256; i++) x[i] = (float)((i * 7919 % 1000) / 500.0 - 1.0);
    mc_net_set_train(net, 0);
    REQUIRE_OK(mc_net_set_input(net, x));
    REQUIRE_OK(mc_net_forward(net));
    float ours[5];
    REQUIRE_OK(mc_net_get_output(net, -1, ours));

    void *dn = parse(cfgpath);
    REQUIRE(dn, "darknet could not parse the cfg");
    load(dn, w1);
    float xin[3 * 16 * 16];
    memcpy(xin, x, sizeof x);
    float *theirs = predict(dn, xin);
    double scale = 1e-3, err = 0;
    for (int i = 0; i < 5; i++) {
        scale = fmax(scale, fabs((double)theirs[i]));
        err = fmax(err, fabs((double)theirs[i] - (double)ours[i]));
    }
    printf("  outputs medcolor vs darknet: max rel error %.2e\n", err / scale);
    for (int i = 0; i < 5; i++) printf("    %10.6f %10.6f\n", (double)ours[i], (double)theirs[i]);
    CHECK(err / scale <= 1e-4, "darknet and medcolor disagree: rel %.3g", err / scale);
    save(dn, w2);
    freenet(dn);

    char *a, *b;
    size_t na, nb;
    REQUIRE(mc_fread_all_test(w1, &a, &na) == 0 && mc_fread_all_test(w2, &b, &nb) == 0, "read back");
    CHECK(na == nb, "darknet wrote %zu bytes, medcolor %zu", nb, na);
    CHECK(na == nb && memcmp(a, b, na) == 0, "darknet's re-saved file differs from medcolor's");
    free(a);
    free(b);
    /* weights with medcolor's metadata trailer after the last layer (docs/weights.md): darknet
     * reads the layers, ignores the trailer, predicts the same, and saves the plain file */
    char w3[600], w4[600];
    snprintf(w3, sizeof w3, "%s/with-metadata.weights", mc_test_tmp());
    snprintf(w4, sizeof w4, "%s/darknet-from-metadata.weights", mc_test_tmp());
    char *lab[] = {"a", "b", "c", "d", "e"};
    mc_netmeta meta = {.labels = lab, .nlabels = 5, .stage = "all", .stage_index = 2, .data = "x.data"};
    REQUIRE_OK(mc_net_set_meta(net, &meta));
    REQUIRE_OK(mc_net_save_weights(net, w3));
    mc_netmeta back;
    REQUIRE_OK(mc_weights_meta(w3, &back));
    CHECK(back.nlabels == 5 && back.w == 16, "the trailer is there");
    mc_netmeta_free(&back);
    dn = parse(cfgpath);
    REQUIRE(dn, "darknet could not parse the cfg");
    load(dn, w3);
    memcpy(xin, x, sizeof x);
    theirs = predict(dn, xin);
    err = 0;
    for (int i = 0; i < 5; i++) err = fmax(err, fabs((double)theirs[i] - (double)ours[i]));
    CHECK(err / scale <= 1e-4, "darknet with the trailer disagrees: rel %.3g", err / scale);
    save(dn, w4);
    freenet(dn);
    REQUIRE(mc_fread_all_test(w1, &a, &na) == 0 && mc_fread_all_test(w4, &b, &nb) == 0, "read back");
    CHECK(na == nb && memcmp(a, b, na) == 0, "darknet's re-save of the file with a trailer is not the plain file");
    free(a);
    free(b);
    mc_net *again;
    mc_net_opts o2 = {.seed = 9};
    REQUIRE_OK(mc_net_from_cfg(&again, cfgpath, &o2));
    REQUIRE_OK(mc_net_load_weights(again, w2));
    CHECK(mc_net_seen(again) == 4242, "seen through darknet: %llu", (unsigned long long)mc_net_seen(again));
    mc_net_free(again);
    mc_net_free(net);
    /* no dlclose: darknet's own allocations (it leaks some) stay attributable to libdarknet.so,
     * which tests/lsan.supp exempts under `make asan` */
    return mc_test_done("test_darknet_compat");
}
