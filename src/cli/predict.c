/* predict.c — `medcolor predict <cfg> <weights> <image…|list.txt> [-o out.csv]`: the network
 * in eval mode on images, one CSV row of sigmoid probabilities per image. The inference and the
 * CSV are the library's (mc_predict, mc_predict_save_csv: src/train/predict.c, where the
 * preprocessing is described); here: the options, the paths (list files), the label names, and
 * the messages. The network runs on batches of --batch (default: the cfg's batch). Every path is
 * checked before anything runs, and the CSV is written only when every image went through
 * (atomically to a file, or to stdout), so an error never leaves a partial CSV behind.
 * Under mpirun/srun (docs/distributed.md) each process takes a contiguous part of the images
 * (rank r: [r n / N, (r + 1) n / N)), the probabilities are gathered to every rank (summed: each
 * entry is written by one rank, zero elsewhere, so the sum is exact) and rank 0 alone writes the
 * CSV, in the input order: the same file as one process writes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "cli/cli.h"
#include "core/core.h"
#include "dist/dist.h"

typedef struct strlist {
    char **v;
    int n, cap;
} strlist;

static int push(strlist *l, const char *s, size_t len) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        char **p = mc_realloc(l->v, (size_t)cap * sizeof *p, "path list");
        if (!p) return MC_ENOMEM;
        l->v = p;
        l->cap = cap;
    }
    char *c = mc_malloc(len + 1, "path");
    if (!c) return MC_ENOMEM;
    memcpy(c, s, len);
    c[len] = 0;
    l->v[l->n++] = c;
    return MC_OK;
}

static void strlist_free(strlist *l) {
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int is_list_file(const char *p) {
    size_t n = strlen(p);
    return n > 4 && strcasecmp(p + n - 4, ".txt") == 0;
}

/* one path per line; blank lines and lines starting with '#' skipped; \r\n tolerated */
static int read_list(strlist *l, const char *path) {
    char *text;
    size_t len;
    MC_TRY(mc_fread_all(path, &text, &len));
    int rc = MC_OK;
    size_t a = 0;
    while (a < len && rc == MC_OK) {
        size_t b = a;
        while (b < len && text[b] != '\n') b++;
        size_t e = b;
        while (e > a && (text[e - 1] == '\r' || text[e - 1] == ' ' || text[e - 1] == '\t')) e--;
        if (e > a && text[a] != '#') {
            if (memchr(text + a, 0, e - a)) rc = mc_err(MC_EPARSE, "%s: a line holds a NUL byte (not a text list)", path);
            else rc = push(l, text + a, e - a);
        }
        a = b + 1;
    }
    free(text);
    return rc;
}

/* comma-separated names, whitespace trimmed; strip_policy: drop a ":policy" suffix (.data syntax) */
static int split_labels(strlist *l, const char *s, int strip_policy) {
    const char *p = s;
    for (;;) {
        const char *q = strchr(p, ',');
        const char *end = q ? q : p + strlen(p);
        if (strip_policy) {
            const char *colon = memchr(p, ':', (size_t)(end - p));
            if (colon) end = colon;
        }
        while (p < end && (*p == ' ' || *p == '\t')) p++;
        while (end > p && (end[-1] == ' ' || end[-1] == '\t')) end--;
        if (end == p) return mc_err(MC_EARG, "labels '%s': an empty label name", s);
        MC_TRY(push(l, p, (size_t)(end - p)));
        if (!q) break;
        p = q + 1;
    }
    return MC_OK;
}

int mc_cli_predict(int argc, char **argv) {
    const char *cfg = NULL, *weights = NULL, *out = NULL, *labels_opt = NULL, *precision = NULL;
    int batch = 0, threads = 0, gpu = -1, status = 1, quiet = 0;
    long batch_opt = -1, threads_opt = 0, gpu_opt = -1;
    strlist inputs = {0}, paths = {0}, labels = {0};
    mc_strlist set = {0};
    mc_cli_net t = {0};
    const mc_opt opts[] = {
        {"-o FILE", 's', &out, "output CSV ('-' or none: stdout)", NULL},
        {"--labels A,B", 's', &labels_opt, "column names",
         "the label names the weights were trained with, else the cfg's [net] labels=, else out0, out1, ..."},
        {"--batch N", 'i', &batch_opt, "images per forward pass", "the cfg's batch", "1..1048576"},
        {"--set", 'l', &set, "override a cfg key, layer.key=value", NULL},
        {"--threads N", 'i', &threads_opt, "CPU threads", "0 = all cores", "0..1024"},
        {"--gpu N", 'i', &gpu_opt, "run on CUDA device N (builds with GPU=1)", NULL, "0..1024"},
        MC_CLI_PRECISION_OPT(&precision),
        {"--quiet", 'f', &quiet, "no progress on stderr", NULL},
        MC_CLI_WINDOW_OPT,
        {NULL, 0, NULL, NULL, NULL}};
    const char *syn = "medcolor predict <run folder | weights> <image...|list.txt> [options]\n"
                      "       medcolor predict <net.cfg> <weights> <image...|list.txt> [options]";
    const char *about =
        "Runs the network in eval mode on each image (PNG 8/16-bit or JPEG, read as grey; centre square\n"
        "crop, bilinear resize to the input size, normalised (x - 0.5028) / 0.2902) and writes a CSV:\n"
        "a header 'path,<label>,...', then per image its path and one sigmoid probability per label.\n"
        "A run folder means the best.weights of its last stage. Weights written by train/finetune carry\n"
        "their network and label names: no cfg is needed, and a cfg given must be that network.\n"
        "<weights> with a cfg: medcolor .weights, or safetensors with every tensor (see 'medcolor import').\n"
        "An argument ending in .txt is a list of image paths, one per line ('#' lines and blank\n"
        "lines skipped; relative paths are relative to the current directory).\n"
        "Under mpirun/srun each process predicts its part of the images; rank 0 writes the CSV.";
    const char **pos = malloc((size_t)(argc > 0 ? argc : 1) * sizeof *pos); /* every image may be an argument */
    if (!pos) {
        fprintf(stderr, "medcolor predict: out of memory\n");
        return 1;
    }
    int npos;
    int r = mc_cli_parse("predict", argc, argv, opts, pos, argc, &npos, syn, about);
    if (r) {
        free(pos);
        return r == 1 ? 0 : 2;
    }
    batch = batch_opt > 0 ? (int)batch_opt : 0;
    threads = (int)threads_opt;
    gpu = (int)gpu_opt;
    int img0 = 0; /* the first image argument */
    if (npos >= 1 && mc_cli_is_cfg(pos[0])) {
        cfg = pos[0];
        img0 = 1;
    }
    if (npos > img0) weights = pos[img0++];
    for (int i = img0; i < npos; i++)
        if (push(&inputs, pos[i], strlen(pos[i])) < 0) {
            fprintf(stderr, "medcolor predict: %s\n", mc_errmsg());
            strlist_free(&inputs);
            free(pos);
            return 1;
        }
    free(pos);
    if (!weights || inputs.n == 0) {
        strlist_free(&inputs);
        return mc_cli_args_error("predict", "[net.cfg] <run folder | weights> <image...|list.txt>", npos);
    }
    mc_net *net = NULL;
    mc_dist *world = NULL;
    float *prob = NULL;

    /* 1. every path, checked before anything runs */
    for (int i = 0; i < inputs.n; i++) {
        int rc = is_list_file(inputs.v[i]) ? read_list(&paths, inputs.v[i])
                                           : push(&paths, inputs.v[i], strlen(inputs.v[i]));
        if (rc < 0) {
            fprintf(stderr, "medcolor predict: %s\n", mc_errmsg());
            goto done;
        }
    }
    if (paths.n == 0) {
        fprintf(stderr, "medcolor predict: the list%s holds no image paths\n", inputs.n > 1 ? "s" : "");
        goto done;
    }
    {
        int first = -1, nbad = 0, err = 0;
        for (int i = 0; i < paths.n; i++) {
            FILE *f = fopen(paths.v[i], "rb");
            if (f) {
                fclose(f);
                continue;
            }
            if (first < 0) {
                first = i;
                err = errno;
            }
            nbad++;
        }
        if (first >= 0) {
            if (nbad > 1)
                fprintf(stderr, "medcolor predict: %s: %s (and %d more image%s unreadable)\n", paths.v[first],
                        strerror(err), nbad - 1, nbad > 2 ? "s" : "");
            else
                fprintf(stderr, "medcolor predict: %s: %s\n", paths.v[first], strerror(err));
            goto done;
        }
    }

    /* 2. the network */
    /* built at batch 1 (cheap), then sized to min(batch, images): a network allocated for a
     * larger batch than it will run costs seconds of page faults */
    const char *sets[20];
    int ns = 0;
    for (int i = 0; i < set.n; i++) sets[ns++] = set.v[i];
    sets[ns] = NULL;
    mc_net_opts o = {.batch = 1, .no_init = 1, .inference_only = 1, .set = sets, .threads = threads,
                     .precision = mc_cli_precision(precision)};
    if (gpu >= 0) {
        o.backend = MC_BACKEND_CUDA;
        o.gpu = gpu;
    }
    /* under mpirun/srun: this process's part of the images, its GPU (--gpu + local rank) or its
     * share of the host's cores */
    if (mc_dist_init(&world) < 0 || mc_dist_net_opts(world, &o, 1, 1) < 0) {
        fprintf(stderr, "medcolor predict: %s\n", mc_errmsg());
        goto done;
    }
    const int nranks = mc_dist_size(world), rank = mc_dist_rank(world);
    int lo, hi;
    mc_dist_part(world, paths.n, &lo, &hi);
    if (rank > 0) quiet = 1;
    if (mc_cli_net_resolve("predict", weights, &t) || mc_cli_net_build("predict", cfg, &t, &o, 0, 1, &net)) goto done;
    if (!batch) {
        const char *b = mc_net_cfg_value(net, "batch");
        batch = b ? atoi(b) : 1;
        if (batch < 1) batch = 1;
    }
    if (batch > hi - lo) batch = hi - lo > 0 ? hi - lo : 1;
    if (batch != 1 && mc_net_set_batch(net, batch) < 0) {
        fprintf(stderr, "medcolor predict: %s\n", mc_errmsg());
        goto done;
    }
    mc_net_set_train(net, 0);
    int c, h, w, nout = mc_net_num_outputs(net);
    mc_net_input_shape(net, &c, &h, &w);
    if (c != 1 && c != 3) {
        fprintf(stderr, "medcolor predict: %s: the input has %d channels; predict feeds grey images (1 or 3)\n",
                cfg ? cfg : t.weights, c);
        goto done;
    }
    const char *cfg_labels = mc_net_cfg_value(net, "labels");
    int lrc = MC_OK;
    if (labels_opt) lrc = split_labels(&labels, labels_opt, 0);
    else if (t.has_meta && t.meta.nlabels > 0)
        for (int j = 0; j < t.meta.nlabels && lrc == MC_OK; j++)
            lrc = push(&labels, t.meta.labels[j], strlen(t.meta.labels[j]));
    else if (cfg_labels) lrc = split_labels(&labels, cfg_labels, 1);
    else
        for (int j = 0; j < nout && lrc == MC_OK; j++) {
            char name[32];
            snprintf(name, sizeof name, "out%d", j);
            lrc = push(&labels, name, strlen(name));
        }
    if (lrc < 0) {
        fprintf(stderr, "medcolor predict: %s\n", mc_errmsg());
        goto done;
    }
    if (labels.n != nout) {
        fprintf(stderr, "medcolor predict: %d label names (%s) for a network with %d outputs\n", labels.n,
                labels_opt ? "--labels" : t.has_meta && t.meta.nlabels ? "of the weights" : "the cfg's labels=", nout);
        goto done;
    }

    /* 3. the network on the images (src/train/predict.c), then the CSV, only when all went through */
    prob = mc_calloc((size_t)paths.n * nout, sizeof *prob, "probabilities");
    mc_predict_stats ps;
    memset(&ps, 0, sizeof ps);
    mc_cli_pass prog;
    mc_cli_pass_init(&prog, "predict", "images", quiet);
    int rc = prob ? MC_OK : MC_ENOMEM;
    if (rc == MC_OK && hi > lo) /* a rank may have no image (fewer images than processes) */
        rc = mc_predict_progress(net, (const char *const *)paths.v + lo, hi - lo, prob + (size_t)lo * nout, &ps,
                                 mc_cli_pass_progress, &prog);
    if (rc == MC_OK) rc = mc_dist_sum_f(world, prob, (size_t)paths.n * nout);
    if (rc < 0 && nranks > 1) mc_cli_fail("predict", world); /* the others wait for this rank's part */
    if (rc == MC_OK && rank > 0) { /* rank 0 writes */
        status = 0;
        goto done;
    }
    if (rc == MC_OK)
        rc = !out || !strcmp(out, "-")
                 ? mc_predict_write_csv(stdout, "stdout", (const char *const *)paths.v, paths.n,
                                        (const char *const *)labels.v, labels.n, prob)
                 : mc_predict_save_csv(out, (const char *const *)paths.v, paths.n, (const char *const *)labels.v,
                                       labels.n, prob);
    if (rc < 0) {
        fprintf(stderr, "medcolor predict: %s\n", mc_errmsg());
        goto done;
    }
    double total = ps.seconds, t_net = ps.net_seconds, t_decode = ps.decode_seconds;
    int mine = hi - lo > 0 ? hi - lo : 1;
    if (nranks > 1)
        fprintf(stderr,
                "medcolor predict: %d images on %d processes (rank 0: %d in %.2f s: %.1f ms/image, network %.1f, "
                "decoding %.1f)%s%s\n",
                paths.n, nranks, hi - lo, total, 1e3 * total / mine, 1e3 * t_net / mine, 1e3 * t_decode / mine,
                out && strcmp(out, "-") ? " -> " : "", out && strcmp(out, "-") ? out : "");
    else
        fprintf(stderr, "medcolor predict: %d images in %.2f s: %.1f ms/image (network %.1f, decoding %.1f)%s%s\n",
                paths.n, total, 1e3 * total / paths.n, 1e3 * t_net / paths.n, 1e3 * t_decode / paths.n,
                out && strcmp(out, "-") ? " -> " : "", out && strcmp(out, "-") ? out : "");
    status = 0;
done:
    mc_dist_free(world);
    free(prob);
    mc_net_free(net);
    mc_cli_net_free(&t);
    strlist_free(&inputs);
    strlist_free(&paths);
    strlist_free(&labels);
    return status;
}
