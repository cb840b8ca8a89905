/* quality.c — `medcolor quality`: PSNR, SSIM, FSIM (FSIMc with --color) and the entropy of both
 * images of a pair, or of every pair of a list with the mean and standard deviation (§2 step 10
 * of the colour transfer's evaluation, docs/transfer.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "core/core.h"
#include "mc_image.h"
#include "mc_imaging.h"

enum { NMET = 6 };
static const char *const METRIC[NMET] = {"psnr", "ssim", "fsim", "fsimc", "entropy_ref", "entropy_img"};

static void values(const mc_quality *q, double v[NMET]) {
    v[0] = q->psnr;
    v[1] = q->ssim;
    v[2] = q->fsim;
    v[3] = q->fsimc;
    v[4] = q->entropy_ref;
    v[5] = q->entropy_img;
}

typedef struct csv_out {
    const mc_pairlist *l;
    const double *v; /* [n][NMET] */
    const double *mean, *std;
    int color;
} csv_out;

static int csv_writer(FILE *f, const char *path, void *arg) {
    const csv_out *c = arg;
    fprintf(f, "ref,img");
    for (int k = 0; k < NMET; k++)
        if (k != 3 || c->color) fprintf(f, ",%s", METRIC[k]);
    fprintf(f, "\n");
    for (int i = 0; i < c->l->n + 2; i++) {
        const double *row = i < c->l->n ? c->v + (size_t)i * NMET : i == c->l->n ? c->mean : c->std;
        if (i < c->l->n)
            fprintf(f, "%s,%s", c->l->ref[i], c->l->img[i]);
        else
            fprintf(f, "%s,", i == c->l->n ? "mean" : "std");
        for (int k = 0; k < NMET; k++)
            if (k != 3 || c->color) fprintf(f, ",%.10f", row[k]);
        fprintf(f, "\n");
    }
    if (ferror(f)) return mc_err(MC_EIO, "%s: write error", path);
    return MC_OK;
}

int mc_cli_quality(int argc, char **argv) {
    const char *pairs = NULL, *out = NULL;
    int color = 0;
    const mc_opt opts[] = {
        {"--pairs LIST", 's', &pairs,
         "a list of pairs, 'REF<TAB>IMG' a line (relative paths from the list's folder, # comments): every pair's "
         "metrics, then their mean and std (ddof 0)", NULL},
        {"--color", 'f', &color, "also FSIMc (FSIM with the I/Q chroma term) on the RGB images", "off: grey only"},
        {"-o, --output CSV", 's', &out, "also write the metrics as CSV (one row per pair, then 'mean' and 'std' rows)",
         "none"},
        MC_CLI_WINDOW_OPT,
        {NULL, 0, NULL, NULL, NULL}};
    const char *syn = "medcolor quality REF IMAGE [--color] [-o CSV]  |  medcolor quality --pairs LIST.tsv [...]";
    const char *about =
        "The metrics of the colour transfer's evaluation (Zeng et al.; the authors' code), on PIL grey (L) of\n"
        "both images, which must have one size: PSNR (100 for identical images), SSIM (11x11 Gaussian window,\n"
        "sigma 1.5, K1 0.01, K2 0.03, L 255, valid filtering), FSIM (Zhang et al. 2011 as FeatureSIM.m:\n"
        "phase congruency, 4 scales x 4 orientations, Scharr gradients, F x F downsampling for images over\n"
        "384 pixels), with --color FSIMc (on RGB: Y, I, Q), and the Shannon entropy (bits, 256-bin histogram)\n"
        "of each image. Definitions and sources: docs/transfer.md.";
    const char *pos[3];
    int npos;
    int r = mc_cli_parse("quality", argc, argv, opts, pos, 3, &npos, syn, about);
    if (r) return r == 1 ? 0 : 2;
    if (pairs && npos) {
        fprintf(stderr, "medcolor quality: give either REF IMAGE or --pairs LIST, not both\n");
        return 2;
    }
    if (!pairs && npos != 2) {
        fprintf(stderr, "medcolor quality: expected REF IMAGE (two images) or --pairs LIST (see --help)\n");
        return 2;
    }
    mc_pairlist *l = NULL;
    if (pairs) {
        if (mc_pairlist_load(&l, pairs) < 0) {
            fprintf(stderr, "medcolor quality: %s\n", mc_errmsg());
            return 1;
        }
    } else {
        l = calloc(1, sizeof *l);
        char **refs = calloc(1, sizeof(char *)), **imgs = calloc(1, sizeof(char *));
        if (!l || !refs || !imgs) {
            fprintf(stderr, "medcolor quality: out of memory\n");
            free(l);
            free(refs);
            free(imgs);
            return 1;
        }
        l->ref = refs;
        l->img = imgs;
        l->ref[0] = mc_strdup(pos[0]);
        l->img[0] = mc_strdup(pos[1]);
        l->n = 1;
    }
    double *v = mc_malloc((size_t)l->n * NMET * sizeof(double), "metrics");
    if (!v) {
        fprintf(stderr, "medcolor quality: %s\n", mc_errmsg());
        mc_pairlist_free(l);
        return 1;
    }
    int status = 0;
    if (pairs) {
        printf("%-6s %-10s %-10s %-10s", "pair", "psnr", "ssim", "fsim");
        if (color) printf(" %-10s", "fsimc");
        printf(" %-11s %-11s %s\n", "entropy_ref", "entropy_img", "ref / img");
    }
    for (int i = 0; i < l->n; i++) {
        mc_quality q;
        if (mc_quality_files(l->ref[i], l->img[i], color, &q) < 0) {
            fprintf(stderr, "medcolor quality: %s\n", mc_errmsg());
            status = 1;
            break;
        }
        double *row = v + (size_t)i * NMET;
        values(&q, row);
        if (!pairs) {
            for (int k = 0; k < NMET; k++)
                if (k != 3 || color) printf("%-12s %.6f\n", METRIC[k], row[k]);
        } else {
            printf("%-6d %-10.6f %-10.6f %-10.6f", i + 1, row[0], row[1], row[2]);
            if (color) printf(" %-10.6f", row[3]);
            printf(" %-11.6f %-11.6f %s %s\n", row[4], row[5], l->ref[i], l->img[i]);
        }
    }
    double mean[NMET], sd[NMET];
    if (status == 0) {
        double *col = mc_malloc((size_t)l->n * sizeof(double), "metrics");
        for (int k = 0; col && k < NMET; k++) {
            for (int i = 0; i < l->n; i++) col[i] = v[(size_t)i * NMET + k];
            mc_mean_std(col, (size_t)l->n, &mean[k], &sd[k]);
        }
        free(col);
        if (pairs) {
            const char *lab[2] = {"mean", "std"};
            for (int s = 0; s < 2; s++) {
                const double *m = s ? sd : mean;
                printf("%-6s %-10.6f %-10.6f %-10.6f", lab[s], m[0], m[1], m[2]);
                if (color) printf(" %-10.6f", m[3]);
                printf(" %-11.6f %-11.6f (%d pairs)\n", m[4], m[5], l->n);
            }
        }
        if (out) {
            csv_out c = {.l = l, .v = v, .mean = mean, .std = sd, .color = color};
            if (mc_write_atomic(out, csv_writer, &c) < 0) {
                fprintf(stderr, "medcolor quality: %s\n", mc_errmsg());
                status = 1;
            }
        }
    }
    free(v);
    mc_pairlist_free(l);
    return status;
}
