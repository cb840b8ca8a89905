/* test_cfg.c — the cfg language: every error case gives a one-line message naming file:line
 * and what was expected; includes, groups, names and references work. */
#include <stdarg.h>
#include <unistd.h>
#include "test.h"
#include "engine/net.h" /* net->cfg, mc_cfg_write */

static char dir[512];

static void write_file(const char *name, const char *text) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    REQUIRE(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* builds dir/name from text; expects failure with code and a message containing each of the
 * NULL-terminated substrings (the first is usually "name:line") */
static void expect_error(const char *name, const char *text, int code, ...) {
    write_file(name, text);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    mc_net *net = NULL;
    int rc = mc_net_from_cfg(&net, path, NULL);
    CHECK(rc == code, "%s: expected error %d, got %d (%s)", name, code, rc, rc ? mc_errmsg() : "ok");
    if (rc == 0) {
        mc_net_free(net);
        return;
    }
    const char *msg = mc_errmsg();
    CHECK(strchr(msg, '\n') == NULL, "%s: message is not one line: %s", name, msg);
    va_list ap;
    va_start(ap, code);
    const char *want;
    while ((want = va_arg(ap, const char *)) != NULL) {
        char full[1200];
        /* "@" stands for the file's path */
        if (want[0] == '@')
            snprintf(full, sizeof full, "%s/%s%s", dir, name, want + 1);
        else
            snprintf(full, sizeof full, "%s", want);
        CHECK(strstr(msg, full) != NULL, "%s: message lacks '%s': %s", name, full, msg);
    }
    va_end(ap);
    printf("  %-22s -> %s\n", name, msg + (strncmp(msg, dir, strlen(dir)) ? 0 : strlen(dir) + 1));
}

#define NET "[net]\nbatch=2\nwidth=8\nheight=8\nchannels=3\n"

/* The cfg of net written out (mc_cfg_write) builds the same network: layers (type, name, group,
 * shape), tensors (name, shape), and writing it again gives the same text. */
static void check_flat(const char *what, const char *path, const char *const *set) {
    mc_net *a, *b;
    mc_net_opts o = {.batch = 1, .no_init = 1, .set = set};
    REQUIRE_OK(mc_net_from_cfg(&a, path, &o));
    char *text, *again;
    size_t len;
    REQUIRE_OK(mc_cfg_write(a->cfg, &text, &len));
    CHECK(strlen(text) == len, "%s: length %zu vs %zu", what, strlen(text), len);
    CHECK(!strstr(text, "[include]"), "%s: the includes are expanded", what);
    mc_net_opts o2 = {.batch = 1, .no_init = 1};
    int rc = mc_net_from_string(&b, text, "flat", &o2);
    CHECK(rc == MC_OK, "%s: the written cfg does not build: %s", what, mc_errmsg());
    if (rc != MC_OK) {
        free(text);
        mc_net_free(a);
        return;
    }
    int same = mc_net_num_layers(a) == mc_net_num_layers(b) && mc_net_num_tensors(a) == mc_net_num_tensors(b);
    CHECK(same, "%s: %d/%d layers, %d/%d tensors", what, mc_net_num_layers(a), mc_net_num_layers(b),
          mc_net_num_tensors(a), mc_net_num_tensors(b));
    for (int i = 0; same && i < mc_net_num_layers(a); i++) {
        int c1, h1, w1, c2, h2, w2;
        mc_net_layer_shape(a, i, &c1, &h1, &w1);
        mc_net_layer_shape(b, i, &c2, &h2, &w2);
        int ok = !strcmp(mc_net_layer_type(a, i), mc_net_layer_type(b, i)) &&
                 !strcmp(mc_net_layer_name(a, i), mc_net_layer_name(b, i)) &&
                 !strcmp(mc_net_layer_group(a, i), mc_net_layer_group(b, i)) && c1 == c2 && h1 == h2 && w1 == w2;
        CHECK(ok, "%s: layer %d: %s %s %s %dx%dx%d vs %s %s %s %dx%dx%d", what, i, mc_net_layer_type(a, i),
              mc_net_layer_name(a, i), mc_net_layer_group(a, i), c1, h1, w1, mc_net_layer_type(b, i),
              mc_net_layer_name(b, i), mc_net_layer_group(b, i), c2, h2, w2);
        if (!ok) same = 0;
    }
    for (int i = 0; same && i < mc_net_num_tensors(a); i++) {
        mc_tensor_info x, y;
        mc_net_tensor_info(a, i, &x);
        mc_net_tensor_info(b, i, &y);
        int ok = !strcmp(x.name, y.name) && x.numel == y.numel && x.ndim == y.ndim;
        CHECK(ok, "%s: tensor %d: %s vs %s", what, i, x.name, y.name);
        if (!ok) same = 0;
    }
    REQUIRE_OK(mc_cfg_write(b->cfg, &again, NULL));
    CHECK(!strcmp(text, again), "%s: written twice, the texts differ", what);
    printf("  %-34s %d layers, %d tensors, %zu bytes of cfg\n", what, mc_net_num_layers(b), mc_net_num_tensors(b), len);
    free(text);
    free(again);
    mc_net_free(a);
    mc_net_free(b);
}

int main(void) {
    snprintf(dir, sizeof dir, "%s", mc_test_tmp());
    expect_error("typo_required.cfg", NET "[convolutional]\nfliters=4\nsize=3\n", MC_EPARSE, "@:6:",
                 "needs filters=", "line 7 has unknown key 'fliters'", NULL);
    expect_error("unknown_key.cfg", NET "[convolutional]\nfilters=4\nsize=3\nstrde=2\n", MC_EPARSE, "@:9:",
                 "unknown key 'strde' in [convolutional]", "stride", NULL);
    expect_error("unknown_section.cfg", NET "[convolution]\nfilters=4\n", MC_EPARSE, "@:6:",
                 "unknown section [convolution]", "convolutional", NULL);
    expect_error("bad_int.cfg", NET "[convolutional]\nfilters=4x\n", MC_EPARSE, "@:7:", "expected an integer", NULL);
    expect_error("bad_float.cfg", NET "[activation]\nactivation=leaky\nslope=abc\n", MC_EPARSE, "@:8:",
                 "expected a finite number", NULL);
    expect_error("bad_enum.cfg", NET "[activation]\nactivation=swish\n", MC_EPARSE, "@:7:", "one of",
                 "leaky", NULL);
    expect_error("outside.cfg", "batch=2\n" NET, MC_EPARSE, "@:1:", "outside any [section]", NULL);
    expect_error("no_equals.cfg", NET "[maxpool]\nsize 2\n", MC_EPARSE, "@:7:", "expected key=value", NULL);
    expect_error("duplicate.cfg", NET "[maxpool]\nsize=2\nsize=3\n", MC_EPARSE, "@:8:", "given twice",
                 "line 7", NULL);
    expect_error("empty_value.cfg", NET "[maxpool]\nsize=\n", MC_EPARSE, "@:7:", "has no value", NULL);
    expect_error("bad_header.cfg", NET "[maxpool\nsize=2\n", MC_EPARSE, "@:6:", "malformed section header", NULL);
    expect_error("missing_req.cfg", NET "[convolutional]\nsize=3\n", MC_EPARSE, "@:6:", "needs filters=", NULL);
    expect_error("no_net.cfg", "[convolutional]\nfilters=2\n", MC_EPARSE, "@:1:", "first section must be [net]", NULL);
    expect_error("net_twice.cfg", NET NET "[maxpool]\n", MC_EPARSE, "@:6:", "[net] given again", NULL);
    expect_error("net_missing.cfg", "[net]\nbatch=2\nwidth=8\n[maxpool]\n", MC_EPARSE, "@:1:", "needs height=", NULL);
    expect_error("no_layers.cfg", NET, MC_EPARSE, "no layers", NULL);
    expect_error("kernel_too_big.cfg", NET "[convolutional]\nfilters=2\nsize=11\n", MC_ESHAPE, "@:8:",
                 "larger than the padded input", NULL);
    expect_error("groups.cfg", NET "[convolutional]\nfilters=4\ngroups=2\n", MC_ESHAPE, "@:8:",
                 "must divide the input channels (3)", NULL);
    expect_error("route_forward.cfg", NET "[route]\nlayers=1\n[maxpool]\n", MC_EPARSE, "@:7:",
                 "refers to layer 1", NULL);
    expect_error("route_name.cfg", NET "[route]\nlayers=nosuch\n", MC_EPARSE, "@:7:", "no earlier layer", NULL);
    expect_error("route_shape.cfg", NET "[maxpool]\nsize=2\n[route]\nlayers=-1,input\n", MC_ESHAPE, "@:9:",
                 "heights and widths must match", NULL);
    expect_error("shortcut_shape.cfg", NET "[convolutional]\nfilters=4\n[shortcut]\nfrom=input\n", MC_ESHAPE,
                 "@:9:", "has shape 3x8x8", "4x8x8", NULL);
    expect_error("shuffle.cfg", NET "[pixelshuffle]\nfactor=2\n", MC_ESHAPE, "@:7:", "divisible by factor^2", NULL);
    expect_error("slope_relu.cfg", NET "[activation]\nactivation=relu\nslope=0.01\n", MC_EPARSE, "@:8:",
                 "slope= only applies", NULL);
    expect_error("range.cfg", NET "[maxpool]\nsize=0\n", MC_EPARSE, "@:7:", "in [1, 1024]", NULL);
    expect_error("pool_pad.cfg", NET "[maxpool]\nsize=2\npadding=2\n", MC_EPARSE, "@:8:", "at most half", NULL);
    expect_error("deconv_opad.cfg", NET "[deconvolutional]\nfilters=2\nsize=3\nstride=2\noutput_padding=2\n",
                 MC_ESHAPE, "@:10:", "smaller than stride", NULL);
    expect_error("freeze.cfg", "[net]\nbatch=1\nwidth=8\nheight=8\nchannels=3\nfreeze=backbone\n[maxpool]\n",
                 MC_EPARSE, "@:6:", "no layer is in group 'backbone'", NULL);
    expect_error("name_dup.cfg", NET "[maxpool]\nname=a\n[maxpool]\nname=a\nsize=1\n", MC_EPARSE, "@:9:",
                 "already used by layer 0", NULL);
    expect_error("name_number.cfg", NET "[maxpool]\nname=12\n", MC_EPARSE, "@:7:", "must not be a number", NULL);
    /* errors inside an included file name that file and line */
    write_file("part_bad.cfg", "# a module\n[convolutional]\nfilters=4\nsize=3\npading=1\n");
    expect_error("include_bad.cfg", NET "[include]\nfile=part_bad.cfg\n", MC_EPARSE, "part_bad.cfg:5:",
                 "unknown key 'pading'", NULL);
    expect_error("include_missing.cfg", NET "[include]\nfile=nosuch.cfg\n", MC_EIO, "@:6:", "nosuch.cfg", NULL);
    write_file("cycle_a.cfg", "[include]\nfile=cycle_b.cfg\n");
    write_file("cycle_b.cfg", "[include]\nfile=cycle_a.cfg\n");
    expect_error("include_cycle.cfg", NET "[include]\nfile=cycle_a.cfg\n", MC_EPARSE, "nested deeper", NULL);
    expect_error("include_key.cfg", NET "[include]\nfile=x.cfg\nlayers=2\n", MC_EPARSE, "@:8:", "unknown key 'layers'",
                 NULL);

    /* a valid composed network: include with group and prefix, names, comments, references */
    write_file("module.cfg",
               "[net]   # ignored when included\nbatch=1\nwidth=1\nheight=1\nchannels=1\n"
               "[convolutional]\nname=stem\nfilters=4\nsize=3\npadding=1   # per side\n"
               "[convolutional]\nname=body\nfilters=4\nsize=3\npadding=1\n"
               "[route]\nlayers=stem,body\n");
    write_file("composed.cfg", "; darknet comment style\n" NET
               "[include]\nfile=module.cfg\ngroup=color\nprefix=color.\n"
               "[route]\nlayers=color.stem,-1\n"
               "[avgpool]\ngroup=backbone\n"
               "[connected]\ngroup=head\noutput=5\n");
    char path[1024];
    snprintf(path, sizeof path, "%s/composed.cfg", dir);
    mc_net *net;
    REQUIRE_OK(mc_net_from_cfg(&net, path, NULL));
    CHECK(mc_net_num_layers(net) == 6, "layers: %d", mc_net_num_layers(net));
    CHECK(!strcmp(mc_net_layer_name(net, 0), "color.stem"), "name %s", mc_net_layer_name(net, 0));
    CHECK(!strcmp(mc_net_layer_group(net, 1), "color"), "group %s", mc_net_layer_group(net, 1));
    CHECK(!strcmp(mc_net_layer_group(net, 3), "main"), "group %s", mc_net_layer_group(net, 3));
    CHECK(!strcmp(mc_net_layer_group(net, 5), "head"), "group %s", mc_net_layer_group(net, 5));
    int c, h, w;
    mc_net_layer_shape(net, 2, &c, &h, &w);
    CHECK(c == 8 && h == 8 && w == 8, "route in module: %dx%dx%d", c, h, w);
    mc_net_layer_shape(net, 3, &c, &h, &w);
    CHECK(c == 12, "outer route: %d channels", c);
    CHECK(mc_net_find_tensor(net, "color.stem.weight") >= 0, "tensor name with prefix");
    CHECK(mc_net_find_tensor(net, "5.weight") >= 0, "tensor name by index");
    CHECK(mc_net_group_params(net, "color") == (size_t)(4 * 3 * 9 + 4 + 4 * 4 * 9 + 4), "color params %zu",
          mc_net_group_params(net, "color"));
    CHECK(mc_net_group_params(net, "head") == (size_t)(12 * 5 + 5), "head params");
    REQUIRE_OK(mc_net_freeze(net, "color", 1));
    CHECK(mc_net_num_trainable(net) == 65, "trainable with color frozen: %zu", mc_net_num_trainable(net));
    CHECK(mc_net_freeze(net, "nosuch", 1) == MC_ENOTFOUND, "freezing an unknown group");
    mc_net_free(net);

    /* the cfg written out with its includes expanded ([scope] for their group and prefix) and
     * the overrides applied builds the same network */
    const char *set1[] = {"color.body.filters=6", "net.width=10", NULL};
    check_flat("composed.cfg + overrides", path, set1);
    const char *set2[] = {"net.width=64", "net.height=64", "head.output=1", NULL};
    check_flat("resnet18-pixelshuffle + overrides", "cfg/resnet18-pixelshuffle.cfg", set2);
    check_flat("densenet121-coloru", "cfg/densenet121-coloru.cfg", NULL);
    check_flat("resnet18-deconv", "cfg/resnet18-deconv.cfg", NULL);
    check_flat("colorize/unet-resnet34 (include until=)", "cfg/colorize/unet-resnet34.cfg", NULL);

    /* [include] until=NAME keeps the included layers up to NAME (names as the included file
     * writes them, through its own includes) and drops the rest */
    write_file("outer_part.cfg", "[include]\nfile=module.cfg\nprefix=m.\n[avgpool]\nname=gap\n");
    write_file("until.cfg", NET "[include]\nfile=outer_part.cfg\nprefix=p.\nuntil=m.body\n[maxpool]\nsize=2\n");
    snprintf(path, sizeof path, "%s/until.cfg", dir);
    REQUIRE_OK(mc_net_from_cfg(&net, path, NULL));
    CHECK(mc_net_num_layers(net) == 3, "until=m.body: stem, body, then the outer maxpool (%d layers)",
          mc_net_num_layers(net));
    CHECK(!strcmp(mc_net_layer_name(net, 1), "p.m.body") && !strcmp(mc_net_layer_type(net, 2), "maxpool"),
          "until=: layer 1 %s, layer 2 %s", mc_net_layer_name(net, 1), mc_net_layer_type(net, 2));
    mc_net_free(net);
    check_flat("include until=", path, NULL);
    expect_error("until_missing.cfg", NET "[include]\nfile=module.cfg\nuntil=nosuch\n", MC_EPARSE, "@:6:",
                 "until=nosuch", "module.cfg has no layer named 'nosuch'", NULL);
    /* the prefix of the including file is not part of the name until= looks for */
    expect_error("until_prefixed.cfg", NET "[include]\nfile=module.cfg\nprefix=color.\nuntil=color.stem\n",
                 MC_EPARSE, "@:6:", "no layer named 'color.stem'", NULL);
    {
        /* an override's value holding a newline cannot be written (it would read back as two lines) */
        const char *bad[] = {"head.group=he\n[maxpool]", NULL};
        mc_net_opts o = {.batch = 1, .no_init = 1, .set = bad};
        write_file("named_head.cfg", NET "[connected]\nname=head\noutput=2\n");
        char p2[1024];
        snprintf(p2, sizeof p2, "%s/named_head.cfg", dir);
        REQUIRE_OK(mc_net_from_cfg(&net, p2, &o));
        char *text = NULL;
        int rc = mc_cfg_write(net->cfg, &text, NULL);
        CHECK(rc == MC_EARG && strstr(mc_errmsg(), "cannot be written"), "a newline in a value: %d %s", rc,
              rc ? mc_errmsg() : text);
        free(text);
        mc_net_free(net);
        /* a [scope] with an unknown key is an error naming file:line, like any section */
        expect_error("scope_key.cfg", NET "[scope]\ngroup=g\nfile=x\n[connected]\noutput=2\n", MC_EPARSE, "@:8:",
                     "unknown key 'file' in [scope]", NULL);
    }
    return mc_test_done("test_cfg");
}
