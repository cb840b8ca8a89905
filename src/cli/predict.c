/* predict.c — `medcolor predict <cfg> <weights> <image…|list.txt> [-o out.csv]`: the network
 * in eval mode on images, one CSV row of sigmoid probabilities per image.
 *
 * Each image is decoded to grey in [0, 1] (8/16-bit PNG, JPEG; colour -> ITU-R 601 luma), centre
 * square crop, bilinear resize to the network's input size (F.interpolate, align_corners=False;
 * an image already at that size is used as it is), normalised (x - 0.5028) / 0.2902 — the
 * evaluation path of the training loader (mc_preprocess with the centre crop). A network whose
 * input has 3 channels gets the grey channel three times. (For a non-square input, an image of
 * exactly that size is used as it is too, without the square crop.) Images are decoded in parallel,
 * the network runs on batches of --batch (default: the cfg's batch). Every path is checked
 * before anything runs, and the CSV is written only when every image went through (atomically
 * to a file, or to stdout), so an error never leaves a partial CSV behind. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "cli/cli.h"
#include "core/core.h"
#include "mc_image.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: medcolor predict <net.cfg> <weights> <image...|list.txt> [options]\n"
            "\n"
            "Runs the network in eval mode on each image (PNG 8/16-bit or JPEG, read as grey; centre square\n"
            "crop, bilinear resize to the input size, normalised (x - 0.5028) / 0.2902) and writes a CSV:\n"
            "a header 'path,<label>,...', then per image its path and one sigmoid probability per label.\n"
            "<weights>: medcolor .weights, or safetensors with every tensor (see 'medcolor import').\n"
            "An argument ending in .txt is a list of image paths, one per line ('#' lines and blank\n"
            "lines skipped; relative paths are relative to the current directory).\n"
            "\n"
            "  -o FILE        output CSV ('-' or none: stdout)\n"
            "  --labels A,B   column names (default: the cfg's [net] labels=, else out0, out1, ...)\n"
            "  --batch N      images per forward pass (default: the cfg's batch)\n"
            "  --threads N    CPU threads (default 0 = all cores)\n"
            "  --gpu N        run on CUDA device N (builds with GPU=1)\n"
            "  -h, --help     this help\n");
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

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

/* RFC 4180: quoted when it holds a comma, quote, CR or LF */
static int csv_field(FILE *f, const char *s, const char *path) {
    if (!strpbrk(s, ",\"\r\n")) return fputs(s, f) < 0 ? mc_err(MC_EIO, "%s: write failed", path) : MC_OK;
    if (fputc('"', f) == EOF) return mc_err(MC_EIO, "%s: write failed", path);
    for (; *s; s++) {
        if (*s == '"' && fputc('"', f) == EOF) return mc_err(MC_EIO, "%s: write failed", path);
        if (fputc(*s, f) == EOF) return mc_err(MC_EIO, "%s: write failed", path);
    }
    return fputc('"', f) == EOF ? mc_err(MC_EIO, "%s: write failed", path) : MC_OK;
}

typedef struct csv_ctx {
    const strlist *paths, *labels;
    const float *prob; /* [n][nlabels] */
} csv_ctx;

static int write_csv(FILE *f, const char *path, void *arg) {
    const csv_ctx *c = arg;
    MC_TRY(csv_field(f, "path", path));
    for (int j = 0; j < c->labels->n; j++) {
        if (fputc(',', f) == EOF) return mc_err(MC_EIO, "%s: write failed", path);
        MC_TRY(csv_field(f, c->labels->v[j], path));
    }
    if (fputc('\n', f) == EOF) return mc_err(MC_EIO, "%s: write failed", path);
    for (int i = 0; i < c->paths->n; i++) {
        MC_TRY(csv_field(f, c->paths->v[i], path));
        for (int j = 0; j < c->labels->n; j++)
            if (fprintf(f, ",%.7g", (double)c->prob[(size_t)i * c->labels->n + j]) < 0)
                return mc_err(MC_EIO, "%s: write failed", path);
        if (fputc('\n', f) == EOF) return mc_err(MC_EIO, "%s: write failed", path);
    }
    return fflush(f) == 0 ? MC_OK : mc_err(MC_EIO, "%s: write failed: %s", path, strerror(errno));
}

static int parse_int(const char *opt, const char *v, int min, int *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < min || x > 1 << 20) {
        fprintf(stderr, "medcolor predict: %s '%s' must be an integer >= %d\n", opt, v, min);
        return -1;
    }
    *out = (int)x;
    return 0;
}

/* Decodes and preprocesses images paths[0..nb) into x [nb][c][h][w], in parallel. Per-thread
 * scratch: img[t], ws[t] (t < nthr). On error: the first failing image's message. */
static int load_batch(char **paths, int nb, float *x, int c, int h, int w, mc_image *img, mc_xform **ws,
                      int nthr, double *decode_s) {
    int bad = -1;
    char msg[600] = "";
    const mc_norm norm = {MC_NORM_MEAN, MC_NORM_STD};
    size_t plane = (size_t)h * w;
    double t0 = now_s();
#pragma omp parallel for schedule(dynamic) num_threads(nthr)
    for (int k = 0; k < nb; k++) {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        float *dst = x + (size_t)k * c * plane;
        int rc = mc_image_load_grey(paths[k], &img[t]);
        if (rc == MC_OK && img[t].w == w && img[t].h == h) {
            mc_normalise(img[t].px, dst, plane, &norm); /* already the input size: as it is */
        } else if (rc == MC_OK) {
            mc_aug_params p;
            memset(&p, 0, sizeof p);
            mc_crop_centre_square(img[t].w, img[t].h, &p.crop);
            rc = mc_preprocess(ws[t], &img[t], &p, &norm, dst, h, w);
            if (rc < 0) mc_err_context(rc, "%s", paths[k]);
        }
        if (rc < 0) {
#pragma omp critical(mc_predict_err)
            if (bad < 0 || k < bad) {
                bad = k;
                snprintf(msg, sizeof msg, "%s", mc_errmsg());
            }
        } else {
            for (int ch = 1; ch < c; ch++) memcpy(dst + ch * plane, dst, plane * sizeof *dst);
        }
    }
    *decode_s += now_s() - t0;
    if (bad >= 0) return mc_err(MC_EPARSE, "%s", msg);
    return MC_OK;
}

int mc_cli_predict(int argc, char **argv) {
    const char *cfg = NULL, *weights = NULL, *out = NULL, *labels_opt = NULL;
    int batch = 0, threads = 0, gpu = -1, status = 1;
    strlist inputs = {0}, paths = {0}, labels = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            strlist_free(&inputs);
            return 0;
        }
        if (!strcmp(a, "-o") || !strcmp(a, "--labels") || !strcmp(a, "--batch") || !strcmp(a, "--threads") ||
            !strcmp(a, "--gpu")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "medcolor predict: %s needs a value\n", a);
                strlist_free(&inputs);
                return 2;
            }
            const char *v = argv[++i];
            int bad = 0;
            if (!strcmp(a, "-o")) out = v;
            else if (!strcmp(a, "--labels")) labels_opt = v;
            else if (!strcmp(a, "--batch")) bad = parse_int(a, v, 1, &batch);
            else if (!strcmp(a, "--threads")) bad = parse_int(a, v, 0, &threads);
            else bad = parse_int(a, v, 0, &gpu);
            if (bad) {
                strlist_free(&inputs);
                return 2;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "medcolor predict: unknown option '%s'\n", a);
            usage(stderr);
            strlist_free(&inputs);
            return 2;
        } else if (!cfg) {
            cfg = a;
        } else if (!weights) {
            weights = a;
        } else if (push(&inputs, a, strlen(a)) < 0) {
            fprintf(stderr, "medcolor predict: %s\n", mc_errmsg());
            strlist_free(&inputs);
            return 1;
        }
    }
    if (!cfg || !weights || inputs.n == 0) {
        if (cfg && weights) fprintf(stderr, "medcolor predict: no images given\n");
        usage(stderr);
        strlist_free(&inputs);
        return 2;
    }
    mc_net *net = NULL;
    mc_image *img = NULL;
    mc_xform **ws = NULL;
    float *x = NULL, *y = NULL, *prob = NULL;
    int nthr = 1;

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
    mc_net_opts o = {.batch = 1, .no_init = 1, .inference_only = 1, .threads = threads};
    if (gpu >= 0) {
        o.backend = MC_BACKEND_CUDA;
        o.gpu = gpu;
    }
    if (mc_net_from_cfg(&net, cfg, &o) < 0) {
        fprintf(stderr, "medcolor predict: %s\n", mc_errmsg());
        goto done;
    }
    if (!batch) {
        const char *b = mc_net_cfg_value(net, "batch");
        batch = b ? atoi(b) : 1;
        if (batch < 1) batch = 1;
    }
    if (batch > paths.n) batch = paths.n;
    if ((batch != 1 && mc_net_set_batch(net, batch) < 0) || mc_net_import(net, weights, 0, NULL) < 0) {
        fprintf(stderr, "medcolor predict: %s\n", mc_errmsg());
        goto done;
    }
    mc_net_set_train(net, 0);
    int c, h, w, nout = mc_net_num_outputs(net);
    mc_net_input_shape(net, &c, &h, &w);
    if (c != 1 && c != 3) {
        fprintf(stderr, "medcolor predict: %s: the input has %d channels; predict feeds grey images (1 or 3)\n", cfg,
                c);
        goto done;
    }
    const char *cfg_labels = mc_net_cfg_value(net, "labels");
    int lrc = MC_OK;
    if (labels_opt) lrc = split_labels(&labels, labels_opt, 0);
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
                labels_opt ? "--labels" : "the cfg's labels=", nout);
        goto done;
    }
    const char *last = mc_net_layer_type(net, mc_net_num_layers(net) - 1);
    int has_cost = last && strcmp(last, "cost") == 0;

    /* 3. batches: decode in parallel, forward, collect */
#ifdef _OPENMP
    nthr = threads > 0 ? threads : omp_get_max_threads();
#endif
    if (nthr > batch) nthr = batch;
    size_t per = (size_t)c * h * w;
    img = mc_calloc((size_t)nthr, sizeof *img, "images");
    ws = mc_calloc((size_t)nthr, sizeof *ws, "workspaces");
    x = mc_alloc_floats((size_t)batch * per, "input batch");
    y = mc_alloc_floats((size_t)batch * nout, "output batch");
    prob = mc_malloc((size_t)paths.n * nout * sizeof *prob, "probabilities");
    if (!img || !ws || !x || !y || !prob) {
        fprintf(stderr, "medcolor predict: %s\n", mc_errmsg());
        goto done;
    }
    for (int t = 0; t < nthr; t++)
        if (mc_xform_new(&ws[t]) < 0) {
            fprintf(stderr, "medcolor predict: %s\n", mc_errmsg());
            goto done;
        }
    double t_start = now_s(), t_decode = 0, t_net = 0;
    for (int b0 = 0; b0 < paths.n; b0 += batch) {
        int nb = paths.n - b0 < batch ? paths.n - b0 : batch;
        if (nb != mc_net_batch(net) && mc_net_set_batch(net, nb) < 0) {
            fprintf(stderr, "medcolor predict: %s\n", mc_errmsg());
            goto done;
        }
        if (load_batch(paths.v + b0, nb, x, c, h, w, img, ws, nthr, &t_decode) < 0) {
            fprintf(stderr, "medcolor predict: %s\n", mc_errmsg());
            goto done;
        }
        double t0 = now_s();
        if (mc_net_set_input(net, x) < 0 || mc_net_forward(net) < 0 || mc_net_get_output(net, -1, y) < 0) {
            fprintf(stderr, "medcolor predict: %s\n", mc_errmsg());
            goto done;
        }
        t_net += now_s() - t0;
        for (size_t k = 0; k < (size_t)nb * nout; k++) {
            float v = has_cost ? y[k] : 1.0f / (1.0f + expf(-y[k]));
            if (!isfinite(v)) {
                fprintf(stderr, "medcolor predict: %s: the network's output is not finite (%g)\n",
                        paths.v[b0 + (int)(k / (size_t)nout)], (double)v);
                goto done;
            }
            prob[(size_t)b0 * nout + k] = v;
        }
    }
    double total = now_s() - t_start;

    /* 4. the CSV */
    csv_ctx ctx = {&paths, &labels, prob};
    int rc = !out || !strcmp(out, "-") ? write_csv(stdout, "stdout", &ctx) : mc_write_atomic(out, write_csv, &ctx);
    if (rc < 0) {
        fprintf(stderr, "medcolor predict: %s\n", mc_errmsg());
        goto done;
    }
    fprintf(stderr, "medcolor predict: %d images in %.2f s: %.1f ms/image (network %.1f, decoding %.1f)%s%s\n",
            paths.n, total, 1e3 * total / paths.n, 1e3 * t_net / paths.n, 1e3 * t_decode / paths.n,
            out && strcmp(out, "-") ? " -> " : "", out && strcmp(out, "-") ? out : "");
    status = 0;
done:
    if (img)
        for (int t = 0; t < nthr; t++) mc_image_free(&img[t]);
    if (ws)
        for (int t = 0; t < nthr; t++) mc_xform_free(ws[t]);
    free(img);
    free(ws);
    mc_free_aligned(x);
    mc_free_aligned(y);
    free(prob);
    mc_net_free(net);
    strlist_free(&inputs);
    strlist_free(&paths);
    strlist_free(&labels);
    return status;
}
