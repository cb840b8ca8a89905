/* colorize.c — `medcolor colorize`: the colorization module's output as pictures (the paper's
 * Fig. 4): for each image, T's 3-channel output with each channel min-max scaled to 0..255
 * (<name>_color.png), and that colour image laid over the grey input for reading
 * (<name>_overlay.png: 50 % grey, 50 % colour; the thesis' Fig. 6.2). The pictures are the
 * library's (mc_colorize_file, src/train/colorize.c); here: options, paths, output names. */
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "core/core.h"
#include "dist/dist.h"
#include "medcolor.h"

/* the output name of an image: its file name without extension, or — when several inputs
 * share that name, as CheXpert's view1_frontal.jpg do — its last `parts` path components
 * joined with '_' (patient00001_study1_view1_frontal) */
const char *mc_cli_out_name(const char *p, int parts, char *buf, size_t n) {
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

int mc_cli_out_parts(char *const *paths, int n) {
    char a[512], b[512];
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (!strcmp(mc_cli_out_name(paths[i], 1, a, sizeof a), mc_cli_out_name(paths[j], 1, b, sizeof b)))
                return 3;
    return 1;
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
                           {"--threads", 'i', &threads, "compute threads", "all cores", "0..1024"},
                           MC_CLI_WINDOW_OPT,
                           {NULL, 0, NULL, NULL, NULL}};
    const char *pos[64];
    int npos;
    const char *syn = "medcolor colorize <run folder | weights> <image... | list.txt> [-o DIR]\n"
                      "       medcolor colorize <net.cfg> <weights> <image... | list.txt> [-o DIR]";
    const char *about =
        "Runs the colorization module T (the layers of group `color`) on grey images (PNG 8/16-bit or\n"
        "JPEG; centre square crop, resized to the network's input, normalised) and writes, per image,\n"
        "<name>_color.png (T's three channels, each min-max scaled, as the paper's Fig. 4) and\n"
        "<name>_overlay.png (the colour image over the grey one, half and half). A run folder means the\n"
        "best.weights of its last stage; weights written by train/finetune carry their network (no cfg\n"
        "needed; a cfg given must be that network).";
    int r = mc_cli_parse("colorize", argc, argv, opts, pos, 64, &npos, syn, about);
    if (r) return r == 1 ? 0 : 2;
    int img0 = npos >= 1 && mc_cli_is_cfg(pos[0]) ? 1 : 0; /* the weights' argument */
    if (npos < img0 + 2)
        return mc_cli_args_error("colorize", "[net.cfg] <run folder | weights> <image...|list.txt>", npos);
    const char *cfg = img0 ? pos[0] : NULL;
    char **paths = NULL;
    int n = 0;
    const char *sets[20];
    int ns = 0;
    for (int i = 0; i < set.n; i++) sets[ns++] = set.v[i];
    sets[ns] = NULL;
    mc_net *net = NULL;
    mc_net_opts o = {.batch = 1, .no_init = 1, .set = sets, .inference_only = 1, .threads = (int)threads};
    mc_cli_net t;
    if (mc_cli_net_resolve("colorize", pos[img0], &t)) return 1;
    /* under mpirun/srun (docs/distributed.md): this process's contiguous part of the images (its
     * own PNGs) and its share of the cores; rank 0 prints every image's line, in order, at the end */
    mc_dist *world = NULL;
    if (mc_dist_init(&world) < 0 || mc_dist_net_opts(world, &o, 1, 1) < 0) {
        fprintf(stderr, "medcolor colorize: %s\n", mc_errmsg());
        mc_dist_free(world);
        mc_cli_net_free(&t);
        return 1;
    }
    const int nranks = mc_dist_size(world), rank = mc_dist_rank(world);
    int rc = mc_cli_collect_paths(npos - img0 - 1, pos + img0 + 1, &paths, &n);
    if (rc < 0) fprintf(stderr, "medcolor colorize: %s\n", mc_errmsg());
    if (rc == MC_OK && mc_cli_net_build("colorize", cfg, &t, &o, 0, 0, &net)) rc = MC_EARG;
    mc_colorizer *cz = NULL;
    if (rc == MC_OK && (rc = mc_colorizer_new(&cz, net)) < 0) {
        mc_err_context(rc, "%s", cfg ? cfg : t.weights);
        fprintf(stderr, "medcolor colorize: %s\n", mc_errmsg());
    }
    if (rc == MC_OK && (rc = mc_mkdirs(out)) < 0) fprintf(stderr, "medcolor colorize: %s\n", mc_errmsg());
    int parts = mc_cli_out_parts(paths, n);
    int lo, hi;
    mc_dist_part(world, n, &lo, &hi);
    for (int i = lo; rc == MC_OK && i < hi; i++) {
        char name[512], cpath[4096], opath[4096];
        mc_cli_out_name(paths[i], parts, name, sizeof name);
        snprintf(cpath, sizeof cpath, "%s/%s_color.png", out, name);
        snprintf(opath, sizeof opath, "%s/%s_overlay.png", out, name);
        if ((rc = mc_colorize_file(cz, paths[i], cpath, opath)) < 0) {
            mc_cli_fail("colorize", world);
            break;
        }
        if (nranks == 1) printf("%s -> %s/%s_{color,overlay}.png\n", paths[i], out, name);
    }
    if (rc == MC_OK && nranks > 1 && (rc = mc_dist_barrier(world)) < 0) fprintf(stderr, "medcolor colorize: %s\n", mc_errmsg());
    for (int i = 0; rc == MC_OK && nranks > 1 && rank == 0 && i < n; i++) { /* every part is written */
        char name[512];
        mc_cli_out_name(paths[i], parts, name, sizeof name);
        printf("%s -> %s/%s_{color,overlay}.png\n", paths[i], out, name);
    }
    if (rc < 0 && nranks > 1) mc_dist_abort(world, 1);
    mc_dist_free(world);
    mc_colorizer_free(cz);
    for (int i = 0; i < n; i++) free(paths[i]);
    free(paths);
    mc_net_free(net);
    mc_cli_net_free(&t);
    return rc < 0 ? 1 : 0;
}
