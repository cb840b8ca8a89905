/* trained.c — how eval, predict and colorize get their network: from a run folder (its last
 * stage's best.weights, said on stderr), or a weights file that carries its network (built from
 * that, no cfg needed), or a cfg and weights (the cfg checked against what the weights carry:
 * a difference is an error naming it). Plain darknet .weights need their cfg, as always. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "cli/cli.h"
#include "core/core.h"
#include "medcolor.h"

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcasecmp(s + a - b, suf);
}

int mc_cli_parse_net_images(const char *cmd, int argc, char **argv, const mc_opt *opts, const char *syn,
                            const char *about, mc_cli_net_args *a) {
    memset(a, 0, sizeof *a);
    a->pos = malloc((size_t)(argc > 0 ? argc : 1) * sizeof *a->pos);
    if (!a->pos) {
        fprintf(stderr, "medcolor %s: out of memory\n", cmd);
        return 1;
    }
    int r = mc_cli_parse(cmd, argc, argv, opts, a->pos, argc, &a->npos, syn, about);
    if (r) {
        free(a->pos);
        a->pos = NULL;
        return r == 1 ? 0 : 2;
    }
    if (a->npos >= 1 && mc_cli_is_cfg(a->pos[0])) {
        a->cfg = a->pos[0];
        a->img0 = 1;
    }
    a->weights = a->npos > a->img0 ? a->pos[a->img0++] : NULL;
    if (!a->weights || a->npos <= a->img0) {
        free(a->pos);
        a->pos = NULL;
        return mc_cli_args_error(cmd, "[net.cfg] <weights | run folder> <image...|list.txt>", a->npos);
    }
    return -1;
}

int mc_cli_is_cfg(const char *path) {
    if (ends_with(path, ".cfg")) return 1;
    if (ends_with(path, ".weights") || ends_with(path, ".safetensors")) return 0;
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    /* a cfg is text; a .weights file starts with int32 0 (major), a safetensors file with a
     * uint64 header length: both hold NUL bytes in their first 8 */
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    unsigned char b[8];
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    return n > 0 && !memchr(b, 0, n);
}

int mc_cli_net_resolve(const char *cmd, const char *arg, mc_cli_net *t) {
    memset(t, 0, sizeof *t);
    struct stat st;
    if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode)) {
        mc_run_weights rw;
        if (mc_run_best_weights(arg, &rw) < 0) {
            fprintf(stderr, "medcolor %s: %s\n", cmd, mc_errmsg());
            return 1;
        }
        snprintf(t->weights, sizeof t->weights, "%s", rw.path);
        fprintf(stderr, "medcolor %s: %s: using %s (the best of stage %d, %s%s)%s\n", cmd, arg, rw.path,
                rw.stage_index, mc_stage_name(rw.stage), rw.finished ? "" : ", not finished",
                rw.later ? "; a later stage has no best.weights yet" : "");
    } else {
        snprintf(t->weights, sizeof t->weights, "%s", arg);
    }
    int rc = mc_weights_meta(t->weights, &t->meta);
    if (rc == MC_OK) {
        t->has_meta = 1;
    } else if (rc != MC_ENOTFOUND) {
        fprintf(stderr, "medcolor %s: %s\n", cmd, mc_errmsg());
        return 1;
    }
    mc_clear_error();
    return 0;
}

/* Values the loader accepted but found suspicious (|w| > 1e6) are said on stderr, once. */
static void mc_cli_weight_warnings(const char *cmd, const mc_net *net) {
    const char *wmsg;
    int nw = mc_net_weight_warnings(net, &wmsg);
    if (nw) fprintf(stderr, "medcolor %s: warning: %s (%d tensor%s)\n", cmd, wmsg, nw, nw > 1 ? "s in all" : "");
}

int mc_cli_net_build(const char *cmd, const char *cfg, mc_cli_net *t, const mc_net_opts *o, int nlabels, int import,
                     mc_net **net) {
    *net = NULL;
    int rc;
    if (!cfg) {
        if (!t->has_meta) {
            fprintf(stderr,
                    "medcolor %s: %s carries no network (a plain darknet .weights file, or not written by medcolor "
                    "train): give the cfg it was trained with, medcolor %s <net.cfg> %s ...\n",
                    cmd, t->weights, cmd, t->weights);
            return 1;
        }
        rc = mc_net_from_weights(net, t->weights, o, NULL);
        if (rc < 0) {
            fprintf(stderr, "medcolor %s: %s\n", cmd, mc_errmsg());
            return 1;
        }
        mc_cli_weight_warnings(cmd, *net);
        return 0;
    }
    mc_net_opts o2 = *o;
    o2.no_init = 1;
    rc = nlabels > 0 ? mc_net_for_labels(net, cfg, &o2, nlabels) : mc_net_from_cfg(net, cfg, &o2);
    if (rc == MC_OK && t->has_meta && (rc = mc_net_check_meta(*net, &t->meta)) < 0) {
        fprintf(stderr,
                "medcolor %s: %s is not the network %s was trained as: %s (leave the cfg out to use the network the "
                "weights carry)\n",
                cmd, cfg, t->weights, mc_errmsg());
        mc_net_free(*net);
        *net = NULL;
        return 1;
    }
    if (rc == MC_OK) rc = import ? mc_net_import(*net, t->weights, 0, NULL) : mc_net_load_weights(*net, t->weights);
    if (rc < 0) {
        fprintf(stderr, "medcolor %s: %s\n", cmd, mc_errmsg());
        mc_net_free(*net);
        *net = NULL;
        return 1;
    }
    mc_cli_weight_warnings(cmd, *net);
    return 0;
}

void mc_cli_net_free(mc_cli_net *t) { mc_netmeta_free(&t->meta); }

void mc_cli_free_names(char **names, int n) {
    for (int i = 0; names && i < n; i++) free(names[i]);
    free(names);
}

int mc_cli_label_names(const char *cmd, const mc_net *net, const mc_cli_net *t, char ***out) {
    *out = NULL;
    const int nout = mc_net_num_outputs(net);
    char **v = mc_calloc((size_t)(nout > 0 ? nout : 1), sizeof *v, "label names");
    int k = 0, rc = v ? MC_OK : MC_ENOMEM;
    const char *what = NULL;
    const char *cfg_labels = mc_net_cfg_value(net, "labels");
    if (rc == MC_OK && t && t->has_meta && t->meta.nlabels > 0) {
        what = "the weights carry";
        for (; k < t->meta.nlabels && k < nout && rc == MC_OK; k++)
            if (!(v[k] = mc_strdup(t->meta.labels[k]))) rc = MC_ENOMEM;
        if (rc == MC_OK && t->meta.nlabels != nout) k = t->meta.nlabels;
    } else if (rc == MC_OK && cfg_labels) {
        what = "the cfg's labels=";
        /* comma-separated, whitespace trimmed, a ":policy" suffix (.data syntax) dropped */
        for (const char *p = cfg_labels; rc == MC_OK;) {
            const char *q = strchr(p, ','), *end = q ? q : p + strlen(p);
            const char *colon = memchr(p, ':', (size_t)(end - p));
            const char *e = colon ? colon : end;
            while (p < e && (*p == ' ' || *p == '\t')) p++;
            while (e > p && (e[-1] == ' ' || e[-1] == '\t')) e--;
            if (k < nout) {
                if (!(v[k] = mc_malloc((size_t)(e - p) + 1, "label name"))) rc = MC_ENOMEM;
                else {
                    memcpy(v[k], p, (size_t)(e - p));
                    v[k][e - p] = 0;
                }
            }
            k++;
            if (!q) break;
            p = q + 1;
        }
    } else {
        for (; k < nout && rc == MC_OK; k++) {
            char name[32];
            snprintf(name, sizeof name, "out%d", k);
            if (!(v[k] = mc_strdup(name))) rc = MC_ENOMEM;
        }
    }
    if (rc == MC_OK && k != nout) {
        fprintf(stderr, "medcolor %s: %d label names (%s) for a network with %d outputs\n", cmd, k, what, nout);
        mc_cli_free_names(v, nout);
        return 1;
    }
    if (rc < 0) {
        fprintf(stderr, "medcolor %s: %s\n", cmd, mc_errmsg());
        mc_cli_free_names(v, nout);
        return 1;
    }
    *out = v;
    return 0;
}
