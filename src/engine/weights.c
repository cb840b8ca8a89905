/* weights.c — darknet's .weights format.
 *
 * Header: int32 major, minor, revision; then `seen` (images trained on) as uint64 when
 * major*10 + minor >= 2, else as int32 (darknet's rule). medcolor writes 0.2.0 + uint64.
 * Body: for each layer in order, its tensors in the layer's declaration order, as raw
 * little-endian float32 — for darknet's own layer types the order darknet uses
 * (convolutional / deconvolutional: biases, [BN scales, rolling mean, rolling variance], weights;
 * connected: biases, weights; batchnorm: scales, rolling mean, rolling variance). medcolor's
 * additions are documented in docs/weights.md. Loading is strict: a short file names the
 * layer and tensor that are short; bytes left over are an error (weights of another cfg), except
 * one metadata trailer (src/engine/netmeta.c) that train and finetune append; a NaN or infinity
 * is an error naming the tensor, a magnitude above MC_WEIGHT_WARN_ABS a warning
 * (mc_net_weight_warnings). The file must be a regular file (not /dev/zero, not a FIFO). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "engine/net.h"
#include "engine/netmeta.h"

typedef struct save_ctx { const mc_net *net; } save_ctx;

static int write_body(FILE *f, const char *path, void *arg) {
    const mc_net *net = ((save_ctx *)arg)->net;
    int32_t hdr[3] = {0, 2, 0};
    uint64_t seen = net->seen;
    MC_TRY(mc_fwrite(hdr, sizeof hdr[0], 3, f, path));
    MC_TRY(mc_fwrite(&seen, sizeof seen, 1, f, path));
    size_t maxn = 0;
    for (int i = 0; i < net->n; i++)
        for (int k = 0; k < net->layers[i].nt; k++)
            if (net->layers[i].t[k].numel > maxn) maxn = net->layers[i].t[k].numel;
    float *buf = mc_malloc(maxn * sizeof(float), "weights buffer");
    if (!buf) return MC_ENOMEM;
    int rc = MC_OK;
    for (int i = 0; i < net->n && rc == MC_OK; i++) {
        const mc_layer *l = &net->layers[i];
        for (int k = 0; k < l->nt && rc == MC_OK; k++) {
            rc = net->be->download(net->be, buf, l->t[k].data, l->t[k].numel);
            if (rc == MC_OK) rc = mc_fwrite(buf, sizeof(float), l->t[k].numel, f, path);
        }
    }
    free(buf);
    if (rc == MC_OK) rc = mc_netmeta_write_trailer(net, f, path); /* netmeta.c; none without metadata */
    return rc;
}

int mc_net_save_weights(const mc_net *net, const char *path) {
    save_ctx c = {net};
    return mc_write_atomic(path, write_body, &c);
}

int mc_check_loaded(mc_net *net, const char *path, const char *name, const float *v, size_t n) {
    size_t big = n;
    for (size_t k = 0; k < n; k++) {
        if (!isfinite(v[k]))
            return mc_err(MC_ENUM, "%s: tensor %s holds %s at element %zu", path, name,
                          isnan(v[k]) ? "NaN" : v[k] > 0 ? "+Inf" : "-Inf", k);
        if (big == n && fabsf(v[k]) > (float)MC_WEIGHT_WARN_ABS) big = k;
    }
    if (big < n && net->nwarn++ == 0)
        snprintf(net->warn, sizeof net->warn, "%s: tensor %s holds %g at element %zu (|value| > %g: weights of a "
                 "diverged training, or not weights?)", path, name, (double)v[big], big, MC_WEIGHT_WARN_ABS);
    return MC_OK;
}

int mc_net_weight_warnings(const mc_net *net, const char **first) {
    if (first) *first = net->nwarn ? net->warn : NULL;
    return net->nwarn;
}

int mc_net_load_weights(mc_net *net, const char *path) {
    net->nwarn = 0;
    net->warn[0] = 0;
    FILE *f = mc_fopen_regular(path);
    if (!f) return MC_EIO;
    int rc = MC_OK;
    float *buf = NULL;
    int32_t hdr[3];
    if (fread(hdr, sizeof hdr[0], 3, f) != 3) {
        rc = mc_err(MC_EPARSE, "%s: too short for a .weights header (12 bytes)", path);
        goto done;
    }
    /* a safetensors file (8-byte header length, then '{') would otherwise be read as floats */
    unsigned char *hb = (unsigned char *)hdr;
    if (hb[8] == '{' && hdr[1] == 0 && hdr[0] >= 2) {
        rc = mc_err(MC_EPARSE, "%s: a safetensors file, not darknet .weights (medcolor import converts it; predict "
                    "reads it as it is)", path);
        goto done;
    }
    if (hdr[0] < 0 || hdr[1] < 0 || hdr[0] >= 1000 || hdr[1] >= 1000) {
        rc = mc_err(MC_EPARSE, "%s: header version %d.%d.%d is not a darknet .weights file medcolor reads",
                    path, hdr[0], hdr[1], hdr[2]);
        goto done;
    }
    if (hdr[0] * 10 + hdr[1] >= 2) {
        uint64_t seen;
        if (fread(&seen, sizeof seen, 1, f) != 1) {
            rc = mc_err(MC_EPARSE, "%s: truncated in the header", path);
            goto done;
        }
        net->seen = seen;
    } else {
        int32_t seen;
        if (fread(&seen, sizeof seen, 1, f) != 1) {
            rc = mc_err(MC_EPARSE, "%s: truncated in the header", path);
            goto done;
        }
        net->seen = (uint64_t)(uint32_t)seen;
    }
    size_t maxn = 0;
    for (int i = 0; i < net->n; i++)
        for (int k = 0; k < net->layers[i].nt; k++)
            if (net->layers[i].t[k].numel > maxn) maxn = net->layers[i].t[k].numel;
    buf = mc_malloc(maxn * sizeof(float), "weights buffer");
    if (!buf) {
        rc = MC_ENOMEM;
        goto done;
    }
    for (int i = 0; i < net->n && rc == MC_OK; i++) {
        mc_layer *l = &net->layers[i];
        for (int k = 0; k < l->nt && rc == MC_OK; k++) {
            mc_tensor *t = &l->t[k];
            size_t got = fread(buf, sizeof(float), t->numel, f);
            if (got != t->numel) {
                if (ferror(f))
                    rc = mc_err(MC_EIO, "%s: read error (%s)", path, strerror(errno));
                else
                    rc = mc_err(MC_EPARSE,
                                "%s: file ends inside layer %d [%s] (%s:%d), tensor %s: needs %zu floats, "
                                "%zu left — weights of a different cfg?",
                                path, i, l->ops->section, l->file, l->line, t->name, t->numel, got);
                break;
            }
            if ((rc = mc_check_loaded(net, path, t->full ? t->full : t->name, buf, t->numel)) < 0) break;
            rc = net->be->upload(net->be, t->data, buf, t->numel);
        }
    }
    if (rc == MC_OK) {
        long here = ftell(f);
        if (fseek(f, 0, SEEK_END) == 0) {
            long end = ftell(f);
            if (end > here && !mc_netmeta_is_trailer(f, path, here, end)) /* the metadata trailer: netmeta.c */
                rc = mc_err(MC_EPARSE, "%s: %ld bytes left over after the last layer — weights of a different cfg?",
                            path, end - here);
        }
    }
done:
    free(buf);
    fclose(f);
    return rc;
}
