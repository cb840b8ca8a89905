/* colorize.c — `medcolor colorize`: the colorization module's output as pictures (the paper's
 * Fig. 4): for each image, T's 3-channel output with each channel min-max scaled to 0..255
 * (<name>_color.png), and that colour image laid over the grey input for reading
 * (<name>_overlay.png: 50 % grey, 50 % colour; the thesis' Fig. 6.2). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "core/core.h"
#include "medcolor.h"

/* the output name of an image: its file name without extension, or — when several inputs
 * share that name, as CheXpert's view1_frontal.jpg do — its last `parts` path components
 * joined with '_' (patient00001_study1_view1_frontal) */
static const char *out_name(const char *p, int parts, char *buf, size_t n) {
    const char *b = p + strlen(p);
    for (int k = 0; k < parts && b > p; k++) {
        b--;
        while (b > p && b[-1] != '/') b--;
        if (k + 1 < parts && b > p) b--;
    }
    if (*b == '/') b++;
    snprintf(buf, n, "%s", b);
    char *dot = strrchr(buf, '.');
    if (dot && dot != buf && !strchr(dot, '/')) *dot = 0;
    for (char *c = buf; *c; c++)
        if (*c == '/') *c = '_';
    return buf;
}

static int names_collide(char **paths, int n) {
    char a[512], b[512];
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (!strcmp(out_name(paths[i], 1, a, sizeof a), out_name(paths[j], 1, b, sizeof b))) return 1;
    return 0;
}

/* reads a list file (one path per line) or takes the arguments as paths */
int mc_cli_collect_paths(int npos, const char **pos, char ***out, int *n) {
    int cap = 16, k = 0;
    char **v = mc_malloc((size_t)cap * sizeof *v, "paths");
    if (!v) return MC_ENOMEM;
    for (int i = 0; i < npos; i++) {
        size_t len = strlen(pos[i]);
        if (len > 4 && !strcmp(pos[i] + len - 4, ".txt")) {
            FILE *f = mc_fopen(pos[i], "r");
            if (!f) goto fail;
            char line[4096];
            while (fgets(line, sizeof line, f)) {
                line[strcspn(line, "\r\n")] = 0;
                if (!line[0] || line[0] == '#') continue;
                if (k == cap) {
                    char **nv = mc_realloc(v, (size_t)(cap *= 2) * sizeof *v, "paths");
                    if (!nv) {
                        fclose(f);
                        goto fail;
                    }
                    v = nv;
                }
                if (!(v[k++] = mc_strdup(line))) {
                    fclose(f);
                    goto fail;
                }
            }
            fclose(f);
        } else {
            if (k == cap) {
                char **nv = mc_realloc(v, (size_t)(cap *= 2) * sizeof *v, "paths");
                if (!nv) goto fail;
                v = nv;
            }
            if (!(v[k++] = mc_strdup(pos[i]))) goto fail;
        }
    }
    *out = v;
    *n = k;
    return MC_OK;
fail:
    for (int i = 0; i < k; i++) free(v[i]);
    free(v);
    return MC_EIO;
}

int mc_cli_colorize(int argc, char **argv) {
    const char *out = "colorized";
    long threads = 0;
    mc_strlist set = {0};
    const mc_opt opts[] = {{"-o", 's', &out, "output folder", "colorized"},
                           {"--set", 'l', &set, "override a cfg key, layer.key=value", NULL},
                           {"--threads", 'i', &threads, "compute threads", "all cores"},
                           {NULL, 0, NULL, NULL, NULL}};
    const char *pos[64];
    int npos;
    const char *syn = "medcolor colorize <net.cfg> <weights> <image... | list.txt> [-o DIR]";
    const char *about =
        "Runs the colorization module T (the layers of group `color`) on grey images (PNG 8/16-bit or\n"
        "JPEG; centre square crop, resized to the network's input, normalised) and writes, per image,\n"
        "<name>_color.png (T's three channels, each min-max scaled, as the paper's Fig. 4) and\n"
        "<name>_overlay.png (the colour image over the grey one, half and half).";
    int r = mc_cli_parse("colorize", argc, argv, opts, pos, 64, &npos, syn, about);
    if (r) return r == 1 ? 0 : 2;
    if (npos < 3) {
        mc_cli_usage(stderr, syn, about, opts);
        return 2;
    }
    char **paths = NULL;
    int n = 0;
    const char *sets[20];
    int ns = 0;
    for (int i = 0; i < set.n; i++) sets[ns++] = set.v[i];
    sets[ns] = NULL;
    mc_net *net = NULL;
    mc_net_opts o = {.batch = 1, .no_init = 1, .set = sets, .inference_only = 1, .threads = (int)threads};
    int rc = mc_cli_collect_paths(npos - 2, pos + 2, &paths, &n);
    if (rc == MC_OK) rc = mc_net_from_cfg(&net, pos[0], &o);
    if (rc == MC_OK) rc = mc_net_load_weights(net, pos[1]);
    int last = rc == MC_OK ? mc_net_group_last_layer(net, "color") : -1;
    if (rc == MC_OK && last < 0) rc = mc_err(MC_EARG, "%s has no layers in group `color` (no colorization module)", pos[0]);
    int c, h, w, oc, oh, ow;
    if (rc == MC_OK) {
        mc_net_input_shape(net, &c, &h, &w);
        mc_net_layer_shape(net, last, &oc, &oh, &ow);
        if (oc != 3) rc = mc_err(MC_ESHAPE, "T's output has %d channels, not 3", oc);
    }
    if (rc == MC_OK) rc = mc_mkdirs(out);
    mc_image img = {0};
    mc_xform *xf = NULL;
    if (rc == MC_OK) rc = mc_xform_new(&xf);
    float *x = rc == MC_OK ? mc_malloc((size_t)h * w * sizeof(float), "input") : NULL;
    float *grey = rc == MC_OK ? mc_malloc((size_t)h * w * sizeof(float), "input") : NULL;
    float *y = rc == MC_OK ? mc_malloc((size_t)3 * oh * ow * sizeof(float), "output") : NULL;
    uint8_t *rgb = rc == MC_OK ? mc_malloc((size_t)3 * oh * ow, "png") : NULL;
    uint8_t *ov = rc == MC_OK ? mc_malloc((size_t)3 * oh * ow, "png") : NULL;
    if (rc == MC_OK && (!x || !grey || !y || !rgb || !ov)) rc = MC_ENOMEM;
    mc_net_set_train(net, 0);
    mc_norm norm = {MC_NORM_MEAN, MC_NORM_STD};
    mc_aug_opts aug;
    mc_aug_opts_default(&aug);
    int parts = n > 1 && names_collide(paths, n) ? 3 : 1;
    for (int i = 0; rc == MC_OK && i < n; i++) {
        mc_aug_params ap;
        if ((rc = mc_image_load_grey(paths[i], &img)) < 0) break;
        mc_aug_draw(&aug, 0, img.w, img.h, 0, &ap);
        if ((rc = mc_preprocess(xf, &img, &ap, NULL, grey, h, w)) < 0) break;
        mc_normalise(grey, x, (size_t)h * w, &norm);
        if ((rc = mc_net_set_input(net, x)) < 0 || (rc = mc_net_forward_to(net, last)) < 0 ||
            (rc = mc_net_get_output(net, last, y)) < 0)
            break;
        size_t hw = (size_t)oh * ow;
        for (int ch = 0; ch < 3; ch++) {
            float lo = INFINITY, hi = -INFINITY;
            for (size_t k = 0; k < hw; k++) {
                lo = fminf(lo, y[ch * hw + k]);
                hi = fmaxf(hi, y[ch * hw + k]);
            }
            float sc = hi > lo ? 255.0f / (hi - lo) : 0.0f;
            for (size_t k = 0; k < hw; k++) {
                float v = (y[ch * hw + k] - lo) * sc;
                rgb[k * 3 + ch] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5f);
                /* the grey input resampled to T's output size when they differ */
                size_t gy = (k / ow) * h / oh, gx = (k % ow) * w / ow;
                float g = grey[gy * w + gx] * 255.0f;
                float m = 0.5f * g + 0.5f * (float)rgb[k * 3 + ch];
                ov[k * 3 + ch] = (uint8_t)(m < 0 ? 0 : m > 255 ? 255 : m + 0.5f);
            }
        }
        char name[512], path[4096];
        out_name(paths[i], parts, name, sizeof name);
        snprintf(path, sizeof path, "%s/%s_color.png", out, name);
        if ((rc = mc_png_write(path, rgb, ow, oh, 3)) < 0) break;
        snprintf(path, sizeof path, "%s/%s_overlay.png", out, name);
        if ((rc = mc_png_write(path, ov, ow, oh, 3)) < 0) break;
        printf("%s -> %s/%s_{color,overlay}.png\n", paths[i], out, name);
    }
    if (rc < 0) fprintf(stderr, "medcolor colorize: %s\n", mc_errmsg());
    mc_image_free(&img);
    mc_xform_free(xf);
    free(x);
    free(grey);
    free(y);
    free(rgb);
    free(ov);
    for (int i = 0; i < n; i++) free(paths[i]);
    free(paths);
    mc_net_free(net);
    return rc < 0 ? 1 : 0;
}
