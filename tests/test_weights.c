/* test_weights.c — .weights round trip (every tensor of every layer type), strict loading
 * (short file names the layer and tensor; left-over bytes; bad header; missing file), the old
 * int32 `seen` header, and atomic saving. */
#include <unistd.h>
#include "test.h"

static const char *CFG =
    "[net]\nbatch=2\nwidth=12\nheight=12\nchannels=1\n"
    "[convolutional]\nfilters=4\nsize=3\npadding=1\nbias=1\nbatch_normalize=1\nactivation=leaky\nslope=0.01\n"
    "[convolutional]\nfilters=4\nsize=3\npadding=1\nactivation=relu\n"
    "[batchnorm]\n"
    "[deconvolutional]\nfilters=3\nsize=4\nstride=2\npadding=1\n"
    "[deconvolutional]\nfilters=3\nsize=2\nstride=2\nbatch_normalize=1\nbias=0\n"
    "[maxpool]\nsize=2\n"
    "[avgpool]\n"
    "[connected]\noutput=5\n"
    "[cost]\n";

static void all_tensors(mc_net *net, float **out, size_t *n) {
    size_t total = 0;
    for (int i = 0; i < mc_net_num_tensors(net); i++) {
        mc_tensor_info ti;
        mc_net_tensor_info(net, i, &ti);
        total += ti.numel;
    }
    float *buf = malloc(total * sizeof(float)), *p = buf;
    for (int i = 0; i < mc_net_num_tensors(net); i++) {
        mc_tensor_info ti;
        mc_net_tensor_info(net, i, &ti);
        REQUIRE_OK(mc_net_tensor_get(net, i, p));
        p += ti.numel;
    }
    *out = buf;
    *n = total;
}

static long file_size(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

static void copy_prefix(const char *from, const char *to, long n, const char *extra, size_t extra_n) {
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    REQUIRE(a && b, "copy");
    for (long i = 0; i < n; i++) fputc(fgetc(a), b);
    if (extra) fwrite(extra, 1, extra_n, b);
    fclose(a);
    fclose(b);
}

int main(void) {
    char w1[600], w2[600], bad[600];
    snprintf(w1, sizeof w1, "%s/a.weights", mc_test_tmp());
    snprintf(w2, sizeof w2, "%s/short.weights", mc_test_tmp());
    snprintf(bad, sizeof bad, "%s/bad.weights", mc_test_tmp());
    mc_net *a, *b;
    mc_net_opts oa = {.seed = 1}, ob = {.seed = 2};
    REQUIRE_OK(mc_net_from_string(&a, CFG, "w.cfg", &oa));
    REQUIRE_OK(mc_net_from_string(&b, CFG, "w.cfg", &ob));
    /* make the BN running statistics non-trivial by training-mode forward passes */
    int B = 2;
    float x[2 * 144], lab[2 * 5];
    for (int i = 0; i < B * 144; i++) x[i] = (float)((i * 37 % 101) / 50.0 - 1.0);
    for (int i = 0; i < B * 5; i++) lab[i] = (float)(i % 2);
    REQUIRE_OK(mc_net_set_input(a, x));
    REQUIRE_OK(mc_net_set_truth(a, lab, NULL));
    REQUIRE_OK(mc_net_forward(a));
    REQUIRE_OK(mc_net_forward(a));
    mc_net_set_seen(a, 123456789012ULL);
    REQUIRE_OK(mc_net_save_weights(a, w1));
    float *pa, *pb;
    size_t na, nb;
    all_tensors(a, &pa, &na);
    all_tensors(b, &pb, &nb);
    REQUIRE(na == nb, "same cfg, same tensor count");
    int differ = memcmp(pa, pb, na * sizeof(float)) != 0;
    CHECK(differ, "two seeds gave identical parameters");
    /* file size: header (12 + 8) + all tensors */
    CHECK(file_size(w1) == (long)(20 + na * sizeof(float)), "file size %ld, expected %zu", file_size(w1),
          20 + na * sizeof(float));
    REQUIRE_OK(mc_net_load_weights(b, w1));
    free(pb);
    all_tensors(b, &pb, &nb);
    CHECK(memcmp(pa, pb, na * sizeof(float)) == 0, "round trip changed the parameters");
    CHECK(mc_net_seen(b) == 123456789012ULL, "seen %llu", (unsigned long long)mc_net_seen(b));
    /* same outputs in eval mode */
    mc_net_set_train(a, 0);
    mc_net_set_train(b, 0);
    REQUIRE_OK(mc_net_set_input(b, x));
    REQUIRE_OK(mc_net_set_truth(b, lab, NULL));
    REQUIRE_OK(mc_net_forward(a));
    REQUIRE_OK(mc_net_forward(b));
    float ya[10], yb[10];
    REQUIRE_OK(mc_net_get_output(a, -1, ya));
    REQUIRE_OK(mc_net_get_output(b, -1, yb));
    CHECK(memcmp(ya, yb, sizeof ya) == 0, "outputs differ after loading");

    /* a short file: the message names the layer, its cfg line and the tensor */
    long full = file_size(w1);
    copy_prefix(w1, w2, full - 10 * 4, NULL, 0);
    int rc = mc_net_load_weights(b, w2);
    CHECK(rc == MC_EPARSE, "short file rc %d", rc);
    CHECK(strstr(mc_errmsg(), "short.weights: file ends inside layer 7 [connected] (w.cfg:") &&
              strstr(mc_errmsg(), "tensor weight: needs 15 floats, 5 left"),
          "short-file message: %s", mc_errmsg());
    printf("  short file      -> %s\n", mc_errmsg());
    copy_prefix(w1, w2, full, "abcdefgh", 8);
    rc = mc_net_load_weights(b, w2);
    CHECK(rc == MC_EPARSE && strstr(mc_errmsg(), "8 bytes left over"), "left-over: %d %s", rc, mc_errmsg());
    printf("  left-over bytes -> %s\n", mc_errmsg());
    copy_prefix(w1, w2, 7, NULL, 0);
    rc = mc_net_load_weights(b, w2);
    CHECK(rc == MC_EPARSE && strstr(mc_errmsg(), "header"), "tiny file: %s", mc_errmsg());
    rc = mc_net_load_weights(b, "/nonexistent/x.weights");
    CHECK(rc == MC_EIO && strstr(mc_errmsg(), "/nonexistent/x.weights: cannot open"), "missing: %s", mc_errmsg());
    /* old header: major 0, minor 1 -> seen is int32 */
    {
        FILE *f = fopen(bad, "wb");
        int32_t hdr[4] = {0, 1, 0, 77};
        fwrite(hdr, 4, 4, f);
        fwrite(pa, sizeof(float), na, f);
        fclose(f);
        REQUIRE_OK(mc_net_load_weights(b, bad));
        CHECK(mc_net_seen(b) == 77, "int32 seen %llu", (unsigned long long)mc_net_seen(b));
        free(pb);
        all_tensors(b, &pb, &nb);
        CHECK(memcmp(pa, pb, na * sizeof(float)) == 0, "old-header body");
    }
    /* atomic save: a failed save (directory missing) reports the path and leaves no file */
    rc = mc_net_save_weights(a, "/nonexistent-dir/x.weights");
    CHECK(rc == MC_EIO && strstr(mc_errmsg(), "/nonexistent-dir/x.weights"), "save error: %s", mc_errmsg());
    /* saving over an existing file replaces it whole (written to a temporary, then renamed) */
    REQUIRE_OK(mc_net_save_weights(b, w1));
    CHECK(file_size(w1) == full, "rewritten size");
    char tmpname[700];
    snprintf(tmpname, sizeof tmpname, "%s.tmp.%ld", w1, (long)getpid());
    CHECK(access(tmpname, F_OK) != 0, "temporary file left behind");
    free(pa);
    free(pb);
    mc_net_free(a);
    mc_net_free(b);
    return mc_test_done("test_weights");
}
