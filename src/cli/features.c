/* features.c — `medcolor features [net.cfg] <weights> <image...|list.txt> [--layer NAME]... -o
 * OUT.safetensors`: the raw float32 outputs of layers for each image, after the network's own
 * preprocessing (the library's mc_features, src/train/features.c); here: the options, the paths,
 * the network and the messages. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "core/core.h"
#include "dist/dist.h"

int mc_cli_features(int argc, char **argv) {
    const char *out = NULL;
    long batch_opt = 0, threads_opt = 0, gpu_opt = -1;
    double l_scale = NAN, l_shift = NAN;
    int quiet = 0, status = 1;
    mc_strlist layer = {0}, set = {0};
    const mc_opt opts[] = {
        {"-o FILE", 's', &out, "output safetensors file (required)", NULL},
        {"--layer NAME", 'l', &layer, "a layer whose output to write (a name, or an index; negative: from the end); repeatable",
         "the last layer (the one before a final [cost])"},
        {"--batch N", 'i', &batch_opt, "images per forward pass", "the cfg's batch", "0..1048576"},
        {"--l-scale X", 'd', &l_scale, "image-to-image networks: the input is L*X + Y",
         "1/50 for 3 input channels, 1 for 1"},
        {"--l-shift Y", 'd', &l_shift, "see --l-scale", "-1 for 3 input channels, 0 for 1"},
        {"--set", 'l', &set, "override a cfg key, layer.key=value", NULL},
        {"--threads N", 'i', &threads_opt, "CPU threads", "0 = all cores", "0..1024"},
        {"--gpu N", 'i', &gpu_opt, "run on CUDA device N (builds with GPU=1)", NULL, "0..1024"},
        {"--quiet", 'f', &quiet, "no progress on stderr", NULL},
        MC_CLI_WINDOW_OPT,
        {NULL, 0, NULL, NULL, NULL}};
    const char *syn = "medcolor features [net.cfg] <weights | run folder> <image...|list.txt> [--layer NAME]... -o OUT.safetensors";
    const char *about =
        "Runs the network in eval mode on each image and writes the raw float32 outputs of the chosen\n"
        "layers to a safetensors file, one tensor [c, h, w] per image and layer named\n"
        "'<image file name>/<layer name>' (an unnamed layer: its index). Preprocessing is the network's\n"
        "own: a classifier's as predict's (grey, centre square crop, bilinear resize, normalised); an\n"
        "image-to-image network's (output 2 x H x W at the input's size, cfg/colorize/) the CIELAB\n"
        "lightness L at the input size, as L/50 - 1 in 3 input channels or L in 1 (--l-scale, --l-shift).\n"
        "For embeddings, and to compare a network with another implementation (docs/features.md).";
    mc_cli_net_args na;
    int r = mc_cli_parse_net_images("features", argc, argv, opts, syn, about, &na);
    if (r >= 0) return r;
    const char **pos = na.pos, *cfg = na.cfg, *weights = na.weights;
    int npos = na.npos, img0 = na.img0;
    if (!out) {
        free(pos);
        fprintf(stderr, "medcolor features: -o OUT.safetensors is required (see medcolor features --help)\n");
        return 2;
    }
    if (isnan(l_scale) != isnan(l_shift)) {
        free(pos);
        fprintf(stderr, "medcolor features: give --l-scale and --l-shift together\n");
        return 2;
    }
    char **paths = NULL;
    int n = 0;
    mc_net *net = NULL;
    mc_cli_net t = {0};
    int *layers = NULL;
    mc_dist *world = NULL;
    if (mc_cli_collect_paths(npos - img0, pos + img0, &paths, &n) < 0) {
        fprintf(stderr, "medcolor features: %s\n", mc_errmsg());
        goto done;
    }
    if (n == 0) {
        fprintf(stderr, "medcolor features: no image paths\n");
        goto done;
    }
    const char *sets[20];
    int ns = 0;
    for (int i = 0; i < set.n; i++) sets[ns++] = set.v[i];
    sets[ns] = NULL;
    /* one layer: an inference-only network (the forward pass ends at that layer and keeps only
     * its output); several: every layer's output is kept */
    mc_net_opts o = {.batch = 1, .no_init = 1, .inference_only = layer.n <= 1, .set = sets, .threads = (int)threads_opt};
    if (gpu_opt >= 0) {
        o.backend = MC_BACKEND_CUDA;
        o.gpu = (int)gpu_opt;
    }
    /* under mpirun/srun (docs/distributed.md): this process's part of the images, its GPU (--gpu +
     * local rank) or its share of the host's cores; rank 0 prints and writes -o */
    if (mc_dist_init(&world) < 0 || mc_dist_net_opts(world, &o, 1, 1) < 0) {
        fprintf(stderr, "medcolor features: %s\n", mc_errmsg());
        goto done;
    }
    if (!mc_dist_is_root(world)) quiet = 1;
    if (mc_cli_net_resolve("features", weights, &t) || mc_cli_net_build("features", cfg, &t, &o, 0, 1, &net)) goto done;
    int batch = (int)batch_opt;
    if (!batch) {
        const char *b = mc_net_cfg_value(net, "batch");
        batch = b ? atoi(b) : 1;
        if (batch < 1) batch = 1;
    }
    if (batch > n) batch = n;
    if (batch != 1 && mc_net_set_batch(net, batch) < 0) {
        fprintf(stderr, "medcolor features: %s\n", mc_errmsg());
        goto done;
    }
    int nl = layer.n ? layer.n : 1;
    layers = malloc((size_t)nl * sizeof *layers);
    if (!layers) {
        fprintf(stderr, "medcolor features: out of memory\n");
        goto done;
    }
    for (int k = 0; k < nl; k++)
        if (mc_features_layer(net, layer.n ? layer.v[k] : NULL, &layers[k]) < 0) {
            fprintf(stderr, "medcolor features: %s: %s\n", cfg ? cfg : t.weights, mc_errmsg());
            goto done;
        }
    mc_cli_pass prog;
    mc_cli_pass_init(&prog, "features", "images", quiet);
    mc_features_opts fo = {.l_scale = l_scale, .l_shift = l_shift, .progress = mc_cli_pass_progress,
                           .progress_ctx = &prog, .dist = world};
    if (mc_features(net, (const char *const *)paths, n, layers, nl, out, &fo) < 0) {
        mc_cli_fail("features", world);
        goto done;
    }
    if (!quiet) {
        fprintf(stderr, "medcolor features: %d image%s x %d layer%s (", n, n > 1 ? "s" : "", nl, nl > 1 ? "s" : "");
        for (int k = 0; k < nl; k++) {
            const char *nm = mc_net_layer_name(net, layers[k]);
            if (nm[0]) fprintf(stderr, "%s%s", k ? ", " : "", nm);
            else fprintf(stderr, "%s%d", k ? ", " : "", layers[k]);
        }
        fprintf(stderr, "), %s preprocessing -> %s\n", mc_features_is_color(net) ? "lightness (Lab)" : "grey", out);
    }
    status = 0;
done:
    if (status && mc_dist_size(world) > 1) mc_dist_abort(world, status);
    mc_dist_free(world);
    free(layers);
    mc_net_free(net);
    mc_cli_net_free(&t);
    for (int i = 0; i < n; i++) free(paths[i]);
    free(paths);
    free(pos);
    return status;
}
