/* explain.c — `medcolor explain [net.cfg] <weights> <image...|list.txt> -o DIR [--label NAME]...
 * [--layer NAME]`: Grad-CAM heatmaps per image and label over the grey X-ray, beside the
 * colorization module's output, and the raw maps as safetensors. The computation and the files are
 * the library's (mc_explain, src/train/explain.c; docs/explain.md); here: the options, the paths,
 * the labels and layer by name, and the messages. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "cli/cli.h"
#include "core/core.h"

/* the output index of a label given by name: exact, else the one name equal ignoring case */
static int find_label(char **names, int n, const char *want) {
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], want)) return i;
    int hit = -1;
    for (int i = 0; i < n; i++)
        if (!strcasecmp(names[i], want)) {
            if (hit >= 0) return -1;
            hit = i;
        }
    return hit;
}

int mc_cli_explain(int argc, char **argv) {
    const char *out = NULL, *layer_ref = NULL;
    long batch_opt = 0, threads_opt = 0, gpu_opt = -1;
    double alpha = 0.5;
    int quiet = 0, status = 1;
    mc_strlist label = {0}, set = {0};
    const mc_opt opts[] = {
        {"-o DIR", 's', &out, "output folder (required; created)", NULL},
        {"--label NAME", 'l', &label, "a label to explain (its name; repeatable)", "every output of the network"},
        {"--layer NAME", 's', &layer_ref, "the layer whose activations and gradients are used (a name, or an index; "
                                          "negative: from the end)",
         "the last layer before the logits with a spatial output (ResNet: layer4, DenseNet121: features.norm5)"},
        {"--alpha X", 'd', &alpha, "the heatmap's weight over the grey image in the pictures", "0.5", "0..1"},
        {"--batch N", 'i', &batch_opt, "images per pass", "the cfg's batch, at most 4", "0..1048576"},
        {"--set", 'l', &set, "override a cfg key, layer.key=value", NULL},
        {"--threads N", 'i', &threads_opt, "CPU threads", "0 = all cores", "0..1024"},
        {"--gpu N", 'i', &gpu_opt, "run on CUDA device N (builds with GPU=1)", NULL, "0..1024"},
        {"--quiet", 'f', &quiet, "no progress on stderr", NULL},
        {NULL, 0, NULL, NULL, NULL}};
    const char *syn = "medcolor explain <run folder | weights> <image...|list.txt> -o DIR [--label NAME]... [--layer NAME]\n"
                      "       medcolor explain <net.cfg> <weights> <image...|list.txt> -o DIR [options]";
    const char *about =
        "Grad-CAM (Selvaraju et al.) of a classifier, per image and label: the label's logit y (before the\n"
        "sigmoid) is back-propagated to the layer A (eval mode); alpha_k = the mean of dy/dA_k over A's\n"
        "positions, cam = ReLU(sum_k alpha_k A_k), resized bilinearly to the network's input (align_corners=\n"
        "False) and divided by its maximum. Images are preprocessed as predict's (grey, centre square crop,\n"
        "resize, normalised). Writes per image and label DIR/<image>_<label>.png: the heatmap in matplotlib's\n"
        "jet over the grey image the network saw, beside the colorization module T's output as colorize\n"
        "shows it (networks with a module); and per image DIR/<image>.gradcam.safetensors: the raw maps\n"
        "(<label>/cam at the layer's size, <label>/heatmap at the input's), the logits, the grey input and\n"
        "T's output. Labels are the names the weights carry, else the cfg's labels=, else out0, out1, ...\n"
        "See docs/explain.md.";
    mc_cli_net_args na;
    int r = mc_cli_parse_net_images("explain", argc, argv, opts, syn, about, &na);
    if (r >= 0) return r;
    const char **pos = na.pos, *cfg = na.cfg, *weights = na.weights;
    int npos = na.npos, img0 = na.img0;
    if (!out) {
        free(pos);
        fprintf(stderr, "medcolor explain: -o DIR is required (see medcolor explain --help)\n");
        return 2;
    }
    char **paths = NULL, **names = NULL, **stems = NULL;
    int n = 0, nout = 0, layer = -1;
    int *labels = NULL;
    float *prob = NULL, *cmax = NULL;
    mc_net *net = NULL;
    mc_cli_net t = {0};
    if (mc_cli_collect_paths(npos - img0, pos + img0, &paths, &n) < 0) {
        fprintf(stderr, "medcolor explain: %s\n", mc_errmsg());
        goto done;
    }
    if (n == 0) {
        fprintf(stderr, "medcolor explain: no image paths\n");
        goto done;
    }
    for (int i = 0; i < n; i++) { /* every image readable before anything runs */
        FILE *f = mc_fopen(paths[i], "rb");
        if (!f) {
            fprintf(stderr, "medcolor explain: %s\n", mc_errmsg());
            goto done;
        }
        fclose(f);
    }
    const char *sets[20];
    int ns = 0;
    for (int i = 0; i < set.n; i++) sets[ns++] = set.v[i];
    sets[ns] = NULL;
    /* backward runs: not an inference-only network */
    mc_net_opts o = {.batch = 1, .no_init = 1, .set = sets, .threads = (int)threads_opt};
    if (gpu_opt >= 0) {
        o.backend = MC_BACKEND_CUDA;
        o.gpu = (int)gpu_opt;
    }
    if (mc_cli_net_resolve("explain", weights, &t) || mc_cli_net_build("explain", cfg, &t, &o, 0, 1, &net)) goto done;
    const char *netname = cfg ? cfg : t.weights;
    if (mc_features_is_color(net)) {
        fprintf(stderr, "medcolor explain: %s: an image-to-image network (its output is 2 x H x W): Grad-CAM explains "
                        "a classifier's labels\n", netname);
        goto done;
    }
    if (mc_explain_layer(net, layer_ref, &layer) < 0) {
        fprintf(stderr, "medcolor explain: %s: %s\n", netname, mc_errmsg());
        goto done;
    }
    nout = mc_net_num_outputs(net);
    if (mc_cli_label_names("explain", net, &t, &names)) goto done;
    int nl = label.n ? label.n : nout;
    labels = mc_malloc((size_t)nl * sizeof *labels, "labels");
    if (!labels) {
        fprintf(stderr, "medcolor explain: %s\n", mc_errmsg());
        goto done;
    }
    for (int j = 0; j < nl; j++) {
        if (!label.n) {
            labels[j] = j;
            continue;
        }
        labels[j] = find_label(names, nout, label.v[j]);
        if (labels[j] < 0) {
            fprintf(stderr, "medcolor explain: --label %s: not a label of %s (its labels:", label.v[j], netname);
            for (int i = 0; i < nout; i++) fprintf(stderr, "%s %s", i ? "," : "", names[i]);
            fprintf(stderr, ")\n");
            goto done;
        }
        for (int q = 0; q < j; q++)
            if (labels[q] == labels[j]) {
                fprintf(stderr, "medcolor explain: --label %s is given twice\n", names[labels[j]]);
                goto done;
            }
    }
    int batch = (int)batch_opt;
    if (!batch) {
        const char *b = mc_net_cfg_value(net, "batch");
        batch = b ? atoi(b) : 1;
        if (batch > 4) batch = 4; /* every layer's output is kept for the backward pass */
        if (batch < 1) batch = 1;
    }
    if (batch > n) batch = n;
    if (batch != 1 && mc_net_set_batch(net, batch) < 0) {
        fprintf(stderr, "medcolor explain: %s\n", mc_errmsg());
        goto done;
    }
    stems = mc_calloc((size_t)n, sizeof *stems, "file names");
    prob = mc_malloc((size_t)n * nl * sizeof *prob, "probabilities");
    cmax = mc_malloc((size_t)n * nl * sizeof *cmax, "maxima");
    if (!stems || !prob || !cmax) {
        fprintf(stderr, "medcolor explain: %s\n", mc_errmsg());
        goto done;
    }
    const int parts = mc_cli_out_parts(paths, n);
    for (int i = 0; i < n; i++) {
        char buf[512];
        if (!(stems[i] = mc_strdup(mc_cli_out_name(paths[i], parts, buf, sizeof buf)))) {
            fprintf(stderr, "medcolor explain: %s\n", mc_errmsg());
            goto done;
        }
    }
    if (mc_mkdirs(out) < 0) {
        fprintf(stderr, "medcolor explain: %s\n", mc_errmsg());
        goto done;
    }
    mc_cli_pass prog;
    mc_cli_pass_init(&prog, "explain", "images", quiet);
    mc_explain_opts eo = {.layer = layer, .labels = labels, .nlabels = nl, .label_names = (const char *const *)names,
                          .alpha = alpha, .progress = mc_cli_pass_progress, .progress_ctx = &prog};
    if (mc_explain(net, (const char *const *)paths, (const char *const *)stems, n, out, &eo, prob, cmax) < 0) {
        fprintf(stderr, "medcolor explain: %s\n", mc_errmsg());
        goto done;
    }
    char lbuf[32];
    const char *lname = mc_net_layer_name(net, layer);
    if (!lname[0]) {
        snprintf(lbuf, sizeof lbuf, "%d", layer);
        lname = lbuf;
    }
    for (int i = 0; i < n; i++) {
        printf("%s -> %s/%s_*.png, %s.gradcam.safetensors (p:", paths[i], out, stems[i], stems[i]);
        for (int j = 0; j < nl; j++) printf("%s %s %.4f", j ? "," : "", names[labels[j]], (double)prob[(size_t)i * nl + j]);
        printf(")\n");
        for (int j = 0; j < nl; j++)
            if (!(cmax[(size_t)i * nl + j] > 0))
                fprintf(stderr,
                        "medcolor explain: warning: %s, %s: the Grad-CAM is zero everywhere (no position of layer %s "
                        "weighs for the label): its heatmap is all zeros\n",
                        paths[i], names[labels[j]], lname);
    }
    if (!quiet) {
        int c, h, w;
        mc_net_layer_shape(net, layer, &c, &h, &w);
        fprintf(stderr, "medcolor explain: %d image%s x %d label%s, Grad-CAM at layer %s (%d x %d x %d) -> %s\n", n,
                n > 1 ? "s" : "", nl, nl > 1 ? "s" : "", lname, c, h, w, out);
    }
    status = 0;
done:
    free(labels);
    free(prob);
    free(cmax);
    if (stems)
        for (int i = 0; i < n; i++) free(stems[i]);
    free(stems);
    mc_cli_free_names(names, nout);
    mc_net_free(net);
    mc_cli_net_free(&t);
    for (int i = 0; i < n; i++) free(paths[i]);
    free(paths);
    free(pos);
    return status;
}
