/* test_netmeta.c — what trained weights carry (docs/weights.md, "The metadata trailer"): a net
 * with metadata saves it after the last layer; the file loads into the cfg's network as before
 * (the strict loader accepts exactly that trailer and still refuses any other byte); the
 * metadata reads back; the network it carries is rebuilt from the file alone with the same
 * tensors; a cfg that is not that network is refused naming the first difference; label lists
 * are compared. */
#include <unistd.h>
#include "test.h"

static const char *CFG =
    "[net]\nbatch=2\nwidth=12\nheight=10\nchannels=1\n"
    "[convolutional]\nname=t\ngroup=color\nfilters=3\nsize=3\npadding=1\n"
    "[convolutional]\nname=e\ngroup=backbone\nfilters=4\nsize=3\nstride=2\npadding=1\nbatch_normalize=1\nactivation=relu\n"
    "[avgpool]\ngroup=backbone\n"
    "[connected]\nname=head\ngroup=head\noutput=3\n"
    "[cost]\ngroup=head\n";

static char tmp[512];

static void path_of(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", tmp, name); }

static void write_text(const char *name, const char *text) {
    char p[1024];
    path_of(p, sizeof p, name);
    FILE *f = fopen(p, "w");
    REQUIRE(f, "cannot write %s", p);
    fputs(text, f);
    fclose(f);
}

static long file_size(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

/* dst = the first n bytes of src, then extra[extra_n] */
static void copy_bytes(const char *src, const char *dst, long n, const void *extra, size_t extra_n) {
    FILE *a = fopen(src, "rb"), *b = fopen(dst, "wb");
    REQUIRE(a && b, "copy %s", src);
    long i = 0;
    for (int c; i < n && (c = fgetc(a)) != EOF; i++) fputc(c, b);
    REQUIRE(i == n, "copy: %s is shorter than %ld", src, n);
    if (extra_n) fwrite(extra, 1, extra_n, b);
    fclose(a);
    fclose(b);
}

static int same_tensors(mc_net *a, mc_net *b) {
    if (mc_net_num_tensors(a) != mc_net_num_tensors(b)) return 0;
    for (int i = 0; i < mc_net_num_tensors(a); i++) {
        mc_tensor_info x, y;
        mc_net_tensor_info(a, i, &x);
        mc_net_tensor_info(b, i, &y);
        if (strcmp(x.name, y.name) || x.numel != y.numel) return 0;
        float *u = malloc(x.numel * sizeof(float)), *v = malloc(y.numel * sizeof(float));
        REQUIRE_OK(mc_net_tensor_get(a, i, u));
        REQUIRE_OK(mc_net_tensor_get(b, i, v));
        int same = !memcmp(u, v, x.numel * sizeof(float));
        free(u);
        free(v);
        if (!same) return 0;
    }
    return 1;
}

/* loading path into a fresh net of cfg fails with a message containing want */
static void refused(const char *cfg, const char *path, const char *want, const char *what) {
    mc_net *n;
    REQUIRE_OK(mc_net_from_cfg(&n, cfg, NULL));
    int rc = mc_net_load_weights(n, path);
    CHECK(rc == MC_EPARSE && strstr(mc_errmsg(), want), "%s: rc %d: %s", what, rc, rc ? mc_errmsg() : "loaded");
    if (rc) printf("  %-36s -> %s\n", what, mc_errmsg() + strlen(tmp) + 1);
    mc_net_free(n);
}

int main(void) {
    snprintf(tmp, sizeof tmp, "%s", mc_test_tmp());
    char cfg[1024], plain[1024], withmeta[1024], bad[1024];
    write_text("net.cfg", CFG);
    path_of(cfg, sizeof cfg, "net.cfg");
    path_of(plain, sizeof plain, "plain.weights");
    path_of(withmeta, sizeof withmeta, "meta.weights");
    path_of(bad, sizeof bad, "bad.weights");

    mc_net *net;
    const char *set[] = {"net.width=16", NULL};
    mc_net_opts o = {.seed = 5, .set = set};
    REQUIRE_OK(mc_net_from_cfg(&net, cfg, &o));
    REQUIRE_OK(mc_net_save_weights(net, plain));
    char *labels[] = {"Edema", "Pleural Effusion", "Cardiomégalie"};
    char *sets[] = {"net.width=16"};
    mc_netmeta m = {.cfg_file = cfg, .set = sets, .nset = 1, .labels = labels, .nlabels = 3, .stage = "color",
                    .stage_index = 1, .data = "data/x.data"};
    REQUIRE_OK(mc_net_set_meta(net, &m));
    CHECK(mc_net_meta(net) && mc_net_meta(net)->nlabels == 3, "the metadata is attached");
    REQUIRE_OK(mc_net_save_weights(net, withmeta));
    long np = file_size(plain), nm = file_size(withmeta);
    CHECK(np == 20 + 4 * (long)(27 + 3 + 108 + 16 + 12 + 3), "plain size %ld", np);
    CHECK(nm > np + 32, "the trailer follows the floats: %ld vs %ld bytes", nm, np);

    /* a plain file has no metadata; the floats of both files are the same bytes */
    mc_netmeta r;
    int rc = mc_weights_meta(plain, &r);
    CHECK(rc == MC_ENOTFOUND && strstr(mc_errmsg(), "no medcolor metadata"), "plain: %d %s", rc, mc_errmsg());
    {
        FILE *a = fopen(plain, "rb"), *b = fopen(withmeta, "rb");
        int same = 1;
        for (long i = 0; i < np && same; i++) same = fgetc(a) == fgetc(b);
        fclose(a);
        fclose(b);
        CHECK(same, "the file with metadata starts with the plain file's bytes");
    }

    /* the metadata reads back */
    REQUIRE_OK(mc_weights_meta(withmeta, &r));
    CHECK(r.c == 1 && r.h == 10 && r.w == 16, "input %dx%dx%d", r.c, r.h, r.w);
    CHECK(r.nlabels == 3 && !strcmp(r.labels[1], "Pleural Effusion") && !strcmp(r.labels[2], "Cardiomégalie"),
          "labels");
    CHECK(r.stage && !strcmp(r.stage, "color") && r.stage_index == 1, "stage");
    CHECK(r.data && !strcmp(r.data, "data/x.data") && !r.root, "data");
    CHECK(r.nset == 1 && !strcmp(r.set[0], "net.width=16"), "set");
    CHECK(r.version && !strcmp(r.version, MC_VERSION), "version");
    CHECK(r.cfg && strstr(r.cfg, "width=16\n") && strstr(r.cfg, "name=head\n"), "cfg text: %s", r.cfg ? r.cfg : "");
    mc_netmeta_free(&r);

    /* loads into the cfg's network like the plain file (the trailer accepted) */
    mc_net *back;
    REQUIRE_OK(mc_net_from_cfg(&back, cfg, &o));
    REQUIRE_OK(mc_net_load_weights(back, withmeta));
    CHECK(same_tensors(net, back), "loaded through the cfg: the same tensors");
    CHECK(mc_net_meta(back) == NULL, "loading weights attaches nothing");
    mc_net_free(back);

    /* the network rebuilt from the file alone */
    mc_netmeta got;
    mc_net_opts oi = {.batch = 1, .inference_only = 1};
    REQUIRE_OK(mc_net_from_weights(&back, withmeta, &oi, &got));
    int c, h, w;
    mc_net_input_shape(back, &c, &h, &w);
    CHECK(c == 1 && h == 10 && w == 16, "rebuilt input %dx%dx%d", c, h, w);
    CHECK(mc_net_num_outputs(back) == 3 && mc_net_batch(back) == 1, "rebuilt outputs %d", mc_net_num_outputs(back));
    CHECK(same_tensors(net, back), "rebuilt from the weights: the same tensors");
    CHECK(!strcmp(mc_net_layer_group(back, 0), "color") && !strcmp(mc_net_layer_name(back, 3), "head"), "groups, names");
    CHECK(got.nlabels == 3, "metadata returned");
    /* saved again, it keeps its metadata */
    char again[1024];
    path_of(again, sizeof again, "again.weights");
    REQUIRE_OK(mc_net_save_weights(back, again));
    mc_netmeta r2;
    REQUIRE_OK(mc_weights_meta(again, &r2));
    CHECK(r2.nlabels == 3 && !strcmp(r2.cfg, got.cfg), "re-saved: the same metadata");
    mc_netmeta_free(&r2);
    mc_net_free(back);
    rc = mc_net_from_weights(&back, plain, NULL, NULL);
    CHECK(rc == MC_ENOTFOUND && strstr(mc_errmsg(), "give the cfg"), "a plain file carries no network: %s", mc_errmsg());

    /* the cfg checked against the network as trained */
    mc_net *other;
    REQUIRE_OK(mc_net_from_cfg(&other, cfg, &o));
    CHECK(mc_net_check_meta(other, &got) == MC_OK, "the same cfg and overrides match: %s", mc_errmsg());
    mc_net_free(other);
    const char *batch8[] = {"net.width=16", "net.batch=8", "head.init=xavier_uniform", NULL};
    mc_net_opts ob = {.set = batch8};
    REQUIRE_OK(mc_net_from_cfg(&other, cfg, &ob));
    CHECK(mc_net_check_meta(other, &got) == MC_OK, "batch and init do not count: %s", mc_errmsg());
    mc_net_free(other);
    REQUIRE_OK(mc_net_from_cfg(&other, cfg, NULL));
    rc = mc_net_check_meta(other, &got);
    CHECK(rc == MC_EARG && !strcmp(mc_errmsg(), "net.width: the weights were trained at 16, the cfg says 12"),
          "without the override: %s", mc_errmsg());
    mc_net_free(other);
    const char *two[] = {"head.output=2", "e.stride=1", NULL};
    mc_net_opts o2 = {.set = two};
    REQUIRE_OK(mc_net_from_cfg(&other, cfg, &o2));
    rc = mc_net_check_meta(other, &got);
    CHECK(rc == MC_EARG && strstr(mc_errmsg(), "net.width: the weights were trained at 16, the cfg says 12 (3 differences in all)"),
          "three differences: %s", mc_errmsg());
    mc_net_free(other);
    const char *one[] = {"net.width=16", "e.stride=1", NULL};
    mc_net_opts o3 = {.set = one};
    REQUIRE_OK(mc_net_from_cfg(&other, cfg, &o3));
    rc = mc_net_check_meta(other, &got);
    CHECK(rc == MC_EARG && !strcmp(mc_errmsg(), "e.stride: the weights were trained with 2, the cfg says 1"),
          "a layer's key: %s", mc_errmsg());
    mc_net_free(other);
    write_text("extra.cfg", "[net]\nbatch=2\nwidth=16\nheight=10\nchannels=1\n"
                            "[convolutional]\nname=t\ngroup=color\nfilters=3\nsize=3\npadding=1\n"
                            "[maxpool]\nsize=1\n"
                            "[convolutional]\nname=e\ngroup=backbone\nfilters=4\nsize=3\nstride=2\npadding=1\n"
                            "batch_normalize=1\nactivation=relu\n"
                            "[avgpool]\ngroup=backbone\n[connected]\nname=head\ngroup=head\noutput=3\n[cost]\ngroup=head\n");
    char extra[1024];
    path_of(extra, sizeof extra, "extra.cfg");
    REQUIRE_OK(mc_net_from_cfg(&other, extra, NULL));
    rc = mc_net_check_meta(other, &got);
    CHECK(rc == MC_EARG && strstr(mc_errmsg(), "layer 1: the weights were trained with e [convolutional] there, the cfg has an unnamed [maxpool] (5 differences in all)"),
          "a layer more: %s", mc_errmsg());
    printf("  a layer more -> %s\n", mc_errmsg());
    mc_net_free(other);

    /* labels */
    const char *same3[] = {"Edema", "Pleural Effusion", "Cardiomégalie"}, *swapped[] = {"Pleural Effusion", "Edema", "Cardiomégalie"};
    CHECK(mc_netmeta_check_labels(&got, same3, 3, "x.data") == MC_OK, "the same labels");
    rc = mc_netmeta_check_labels(&got, swapped, 3, "y.data");
    CHECK(rc == MC_EARG && strstr(mc_errmsg(), "trained for the labels Edema, Pleural Effusion, Cardiomégalie; y.data has Pleural Effusion, Edema"),
          "labels in another order: %s", mc_errmsg());
    rc = mc_netmeta_check_labels(&got, same3, 2, "z.data");
    CHECK(rc == MC_EARG, "fewer labels");
    mc_netmeta_free(&got);

    /* the strict loader: the trailer and nothing else after the last layer */
    copy_bytes(withmeta, bad, nm, "x", 1);
    refused(cfg, bad, "bytes left over after the last layer", "a byte after the trailer");
    copy_bytes(plain, bad, np, "0123456789abcdef0123456789abcdefMCMETEND", 40);
    refused(cfg, bad, "bytes left over after the last layer", "garbage ending in the closing tag");
    copy_bytes(withmeta, bad, nm - 1, NULL, 0);
    refused(cfg, bad, "bytes left over after the last layer", "a trailer cut short");
    {
        /* the JSON damaged, lengths intact */
        copy_bytes(withmeta, bad, nm, NULL, 0);
        FILE *f = fopen(bad, "r+b");
        fseek(f, np + 16, SEEK_SET);
        fputc('[', f);
        fclose(f);
        refused(cfg, bad, "bytes left over after the last layer", "the trailer's JSON damaged");
        rc = mc_weights_meta(bad, &r);
        CHECK(rc == MC_EPARSE, "mc_weights_meta of a damaged trailer: %d %s", rc, mc_errmsg());
        /* one float less: the trailer does not start right after the layers */
        char short_[1024];
        path_of(short_, sizeof short_, "short.weights");
        FILE *a = fopen(withmeta, "rb"), *b = fopen(short_, "wb");
        for (long i = 0; i < nm; i++) {
            int ch = fgetc(a);
            if (i < np - 4 || i >= np) fputc(ch, b);
        }
        fclose(a);
        fclose(b);
        mc_net *n2;
        REQUIRE_OK(mc_net_from_cfg(&n2, cfg, &o));
        rc = mc_net_load_weights(n2, short_);
        CHECK(rc == MC_EPARSE, "a float missing before the trailer is refused: %d %s", rc, rc ? mc_errmsg() : "loaded");
        mc_net_free(n2);
    }
    mc_net_free(net);
    return mc_test_done("test_netmeta");
}
