/* import.c — weights from elsewhere into a built network, by tensor name.
 *
 * Reads a safetensors file (what torchvision / timm / the hub publish, and what a PyTorch
 * re-implementation of the paper's networks writes) or a darknet .weights file, and sets the
 * network's tensors from it. A safetensors tensor name N of the file maps to the network's
 * tensor (the canonical names of docs/modules.md, "Tensor names") as follows, first match wins:
 *   1. N ends in "num_batches_tracked": ignored (PyTorch's BN step counter);
 *   2. a leading "module." (torch.nn.DataParallel) is dropped, and torchvision's legacy
 *      DenseNet names "denselayerK.norm.1" / "conv.2" (pre-0.3 checkpoints) become
 *      "denselayerK.norm1" / "conv2";
 *   3. N itself, else "backbone." + N (a plain ImageNet state dict of the backbone E);
 *   4. fc.weight / fc.bias / classifier.weight / classifier.bias (optionally with
 *      "backbone.") -> head.weight / head.bias when the network has them with exactly that
 *      shape; otherwise the tensor is an ImageNet classifier and is skipped (reported);
 *   5. anything else matches nothing (reported as unused).
 * Every match must have exactly the network's shape; two file tensors mapping to one network
 * tensor are an error; network tensors the file lacks are an error unless the import is
 * partial (then reported, and left as they were). Values are converted to float32 from any
 * dtype the reader knows (F16, BF16, ...) and must be finite (a magnitude above
 * MC_WEIGHT_WARN_ABS is a warning: mc_net_weight_warnings). Everything is checked and read
 * into a staging buffer before the first tensor is written, so a failed safetensors import
 * leaves the network unchanged (a darknet file is read by mc_net_load_weights, which does
 * not promise that).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "engine/net.h"
#include "mc_io.h"

void mc_import_report_free(mc_import_report *rep) {
    if (!rep) return;
    mc_import_entry *lists[3] = {rep->missing, rep->unused, rep->skipped};
    int counts[3] = {rep->nmissing, rep->nunused, rep->nskipped};
    for (int l = 0; l < 3; l++) {
        for (int i = 0; i < counts[l]; i++) free(lists[l][i].name);
        free(lists[l]);
    }
    memset(rep, 0, sizeof *rep);
}

/* "[64, 1, 7, 7]" (a scalar: "[]") into buf[n] */
const char *mc_import_shape_str(int ndim, const int64_t *shape, char *buf, size_t n) {
    size_t o = 0;
    int w = snprintf(buf, n, "[");
    o = w > 0 ? (size_t)w : 0;
    for (int d = 0; d < ndim && o < n; d++) {
        w = snprintf(buf + o, n - o, "%s%lld", d ? ", " : "", (long long)shape[d]);
        if (w < 0) break;
        o += (size_t)w;
    }
    if (o < n) snprintf(buf + o, n - o, "]");
    return buf;
}

static int add_entry(mc_import_entry **list, int *count, const char *name, int ndim, const int64_t *shape) {
    mc_import_entry *p = mc_realloc(*list, (size_t)(*count + 1) * sizeof *p, "import report");
    if (!p) return MC_ENOMEM;
    *list = p;
    mc_import_entry *e = &p[*count];
    memset(e, 0, sizeof *e);
    e->name = mc_strdup(name);
    if (!e->name) return MC_ENOMEM;
    e->ndim = ndim < 0 ? 0 : ndim > 8 ? 8 : ndim;
    for (int d = 0; d < e->ndim; d++) e->shape[d] = shape[d];
    (*count)++;
    return MC_OK;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Step 2 of the mapping: drops "module.", rewrites legacy DenseNet names. out has room for
 * strlen(in) + 1 bytes (the result is never longer). */
static void normalise_name(const char *in, char *out) {
    if (strncmp(in, "module.", 7) == 0) in += 7;
    size_t o = 0;
    for (const char *p = in; *p;) {
        /* at "denselayer<digits>." followed by norm.|relu.|conv. and [12]. : drop that dot */
        if (strncmp(p, "denselayer", 10) == 0 && (p == in || p[-1] == '.')) {
            const char *q = p + 10;
            while (*q >= '0' && *q <= '9') q++;
            if (q > p + 10 && *q == '.') {
                const char *kinds[] = {"norm.", "relu.", "conv."};
                for (int k = 0; k < 3; k++)
                    if (strncmp(q + 1, kinds[k], 5) == 0 && (q[6] == '1' || q[6] == '2') && q[7] == '.') {
                        size_t len = (size_t)(q + 1 - p) + 4; /* "denselayerK." + "norm" */
                        memcpy(out + o, p, len);
                        o += len;
                        p = q + 6; /* continue at the digit */
                        goto next;
                    }
            }
        }
        out[o++] = *p++;
    next:;
    }
    out[o] = 0;
}

static int same_shape(const mc_tensor_info *ti, const mc_st_info *si) {
    if (ti->ndim != si->ndim) return 0;
    for (int d = 0; d < ti->ndim; d++)
        if ((int64_t)ti->dims[d] != si->shape[d]) return 0;
    return 1;
}

static void net_shape(const mc_tensor_info *ti, int64_t *shape) {
    for (int d = 0; d < ti->ndim && d < 4; d++) shape[d] = ti->dims[d];
}

/* The format by what is there: safetensors starts with its header's length (8 bytes) and the
 * header's '{' — whether that length fits the file is the reader's check, which names the
 * fault (a darknet .weights file has its revision's low byte there: 0 for medcolor's); a zip
 * archive (PyTorch's .pth) starts with "PK\3\4", torch's legacy format with a pickle (PROTO 2-5),
 * its oldest with a tar header ("ustar" at byte 257); anything else is read as darknet .weights. */
static int sniff(const char *path, int *is_st, int *is_zip, int *is_legacy) {
    FILE *f = mc_fopen_regular(path);
    if (!f) return MC_EIO;
    unsigned char b[262] = {0};
    size_t got = fread(b, 1, sizeof b, f);
    int err = ferror(f);
    fclose(f);
    if (err) return mc_err(MC_EIO, "%s: read error", path);
    *is_st = got >= 9 && b[8] == '{';
    *is_zip = got >= 4 && b[0] == 'P' && b[1] == 'K' && b[2] == 3 && b[3] == 4;
    /* the legacy format starts with a pickle of its magic number (PROTO 2 by default); the tar
     * format is refused by the .pth reader, which says so */
    *is_legacy = !*is_st && ((got >= 2 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5) ||
                             (got == sizeof b && !memcmp(b + 257, "ustar", 5)));
    return MC_OK;
}

static int import_darknet(mc_net *net, const char *path, mc_import_report *rep) {
    MC_TRY(mc_net_load_weights(net, path));
    rep->darknet = 1;
    rep->loaded = mc_net_num_tensors(net);
    for (int i = 0; i < rep->loaded; i++) {
        mc_tensor_info ti;
        MC_TRY(mc_net_tensor_info(net, i, &ti));
        rep->values += ti.numel;
    }
    return MC_OK;
}

/* st: an already opened file (a .pth converted in memory, owned from here), or NULL: open path */
static int import_st(mc_net *net, const char *path, mc_st *st, int flags, mc_import_report *rep) {
    if (!st) MC_TRY(mc_st_open(&st, path));
    int nt = mc_net_num_tensors(net), nf = mc_st_num_tensors(st), rc = MC_OK;
    int *src = mc_malloc((size_t)(nt > 0 ? nt : 1) * sizeof *src, "import map");   /* [nt] file index or -1 */
    int *how = mc_calloc((size_t)(nt > 0 ? nt : 1), sizeof *how, "import map");     /* [nt] 1: renamed */
    char *buf = NULL, *canon = NULL;
    float *vals = NULL;
    if (!src || !how) {
        rc = MC_ENOMEM;
        goto done;
    }
    for (int j = 0; j < nt; j++) src[j] = -1;
    size_t maxname = 0;
    for (int i = 0; i < nf; i++) {
        mc_st_info si;
        if ((rc = mc_st_get_info(st, i, &si)) < 0) goto done;
        if (strlen(si.name) > maxname) maxname = strlen(si.name);
    }
    buf = mc_malloc(maxname + 32, "import name");
    canon = mc_malloc(maxname + 32, "import name");
    if (!buf || !canon) {
        rc = MC_ENOMEM;
        goto done;
    }
    /* map every file tensor (step numbers as in the comment at the top) */
    char s1[96], s2[96];
    int bad_shape = -1, bad_shape_count = 0, bad_net = -1;
    for (int i = 0; i < nf; i++) {
        mc_st_info si;
        mc_st_get_info(st, i, &si);
        if (ends_with(si.name, "num_batches_tracked")) { /* 1 */
            rep->nignored++;
            continue;
        }
        normalise_name(si.name, canon); /* 2 */
        int renamed = strcmp(canon, si.name) != 0;
        int j = mc_net_find_tensor(net, canon); /* 3 */
        if (j < 0 && strncmp(canon, "backbone.", 9) != 0) {
            snprintf(buf, maxname + 32, "backbone.%s", canon);
            j = mc_net_find_tensor(net, buf);
            renamed = 1;
        }
        if (j < 0) { /* 4 */
            const char *base = strncmp(canon, "backbone.", 9) == 0 ? canon + 9 : canon;
            const char *suffix = NULL;
            if (!strcmp(base, "fc.weight") || !strcmp(base, "fc.bias")) suffix = base + 3;
            if (!strcmp(base, "classifier.weight") || !strcmp(base, "classifier.bias")) suffix = base + 11;
            if (suffix) {
                snprintf(buf, maxname + 32, "head.%s", suffix);
                int h = mc_net_find_tensor(net, buf);
                mc_tensor_info ti;
                if (h >= 0 && mc_net_tensor_info(net, h, &ti) == MC_OK && same_shape(&ti, &si)) {
                    j = h;
                    renamed = 1;
                } else {
                    if ((rc = add_entry(&rep->skipped, &rep->nskipped, si.name, si.ndim, si.shape)) < 0) goto done;
                    continue;
                }
            }
        }
        if (j < 0) { /* 5 */
            if ((rc = add_entry(&rep->unused, &rep->nunused, si.name, si.ndim, si.shape)) < 0) goto done;
            continue;
        }
        if (src[j] >= 0) {
            mc_st_info other;
            mc_st_get_info(st, src[j], &other);
            mc_tensor_info ti;
            mc_net_tensor_info(net, j, &ti);
            rc = mc_err(MC_EPARSE, "%s: tensors '%s' and '%s' both map to the network's %s", path, other.name, si.name,
                        ti.name);
            goto done;
        }
        src[j] = i;
        how[j] = renamed;
        mc_tensor_info ti;
        mc_net_tensor_info(net, j, &ti);
        if (!same_shape(&ti, &si)) {
            if (bad_shape < 0) {
                bad_shape = i;
                bad_net = j;
            }
            bad_shape_count++;
        }
    }
    if (bad_shape >= 0) {
        mc_st_info si;
        mc_tensor_info ti;
        int64_t shp[4] = {0};
        mc_st_get_info(st, bad_shape, &si);
        mc_net_tensor_info(net, bad_net, &ti);
        net_shape(&ti, shp);
        char more[64] = "";
        if (bad_shape_count > 1) snprintf(more, sizeof more, " (%d mis-shaped tensors in all)", bad_shape_count);
        if (strcmp(si.name, ti.name))
            rc = mc_err(MC_ESHAPE, "%s: tensor '%s' (-> %s) has shape %s, the network expects %s%s", path, si.name,
                        ti.name, mc_import_shape_str(si.ndim, si.shape, s1, sizeof s1),
                        mc_import_shape_str(ti.ndim, shp, s2, sizeof s2), more);
        else
            rc = mc_err(MC_ESHAPE, "%s: tensor '%s' has shape %s, the network expects %s%s", path, si.name,
                        mc_import_shape_str(si.ndim, si.shape, s1, sizeof s1),
                        mc_import_shape_str(ti.ndim, shp, s2, sizeof s2), more);
        goto done;
    }
    for (int j = 0; j < nt; j++) {
        mc_tensor_info ti;
        mc_net_tensor_info(net, j, &ti);
        if (src[j] < 0) {
            int64_t shp[4] = {0};
            net_shape(&ti, shp);
            if ((rc = add_entry(&rep->missing, &rep->nmissing, ti.name, ti.ndim, shp)) < 0) goto done;
        } else {
            rep->loaded++;
            rep->values += ti.numel;
            rep->nrenamed += how[j];
        }
    }
    if (rep->nmissing && !(flags & MC_IMPORT_PARTIAL)) {
        const mc_import_entry *e = &rep->missing[0];
        rc = mc_err(MC_ENOTFOUND,
                    "%s: the network's tensor %s %s is not in the file (%d of %d missing; a partial import allows that)",
                    path, e->name, mc_import_shape_str(e->ndim, e->shape, s1, sizeof s1), rep->nmissing, nt);
        goto done;
    }
    if (rep->loaded == 0) {
        mc_st_info si;
        rc = mc_err(MC_ENOTFOUND, "%s: none of its %d tensors matches a tensor of the network%s%s%s", path, nf,
                    nf ? " (first: '" : "", nf && mc_st_get_info(st, 0, &si) == MC_OK ? si.name : "", nf ? "')" : "");
        goto done;
    }
    /* all checked: read and convert everything first (staging buffer of rep->values floats),
     * then set, so that a read error or a non-finite value leaves the network untouched */
    vals = mc_malloc((rep->values ? rep->values : 1) * sizeof *vals, "import staging buffer");
    if (!vals) {
        rc = MC_ENOMEM;
        goto done;
    }
    size_t off = 0;
    for (int j = 0; j < nt; j++) {
        if (src[j] < 0) continue;
        mc_tensor_info ti;
        mc_st_info si;
        mc_net_tensor_info(net, j, &ti);
        mc_st_get_info(st, src[j], &si);
        float *v = vals + off;
        if ((rc = mc_st_read_f32(st, src[j], v, ti.numel)) < 0) goto done;
        /* NaN / Inf (also a F64 beyond float32's range): an error; |x| > 1e6: a warning */
        if ((rc = mc_check_loaded(net, path, si.name, v, ti.numel)) < 0) goto done;
        off += ti.numel;
    }
    off = 0;
    for (int j = 0; j < nt; j++) {
        if (src[j] < 0) continue;
        mc_tensor_info ti;
        mc_net_tensor_info(net, j, &ti);
        if ((rc = mc_net_tensor_set(net, j, vals + off)) < 0) goto done;
        off += ti.numel;
    }
    mc_clear_error(); /* lookups of unmatched names left messages behind */
done:
    free(src);
    free(how);
    free(buf);
    free(canon);
    free(vals);
    mc_st_close(st);
    return rc;
}

int mc_net_import(mc_net *net, const char *path, int flags, mc_import_report *rep) {
    mc_import_report local;
    if (!rep) rep = &local;
    memset(rep, 0, sizeof *rep);
    if (!net || !path) return mc_err(MC_EARG, "mc_net_import: net and path are required");
    net->nwarn = 0;
    net->warn[0] = 0;
    int is_st = 0, is_zip = 0, is_legacy = 0, rc;
    MC_TRY(sniff(path, &is_st, &is_zip, &is_legacy));
    if (is_zip || is_legacy) { /* a PyTorch checkpoint: converted in memory by the restricted unpickler */
        uint8_t *img;
        size_t len;
        mc_st *st = NULL;
        rc = mc_pth_to_safetensors(path, &img, &len);
        if (rc == MC_OK) rc = mc_st_open_memory(&st, path, img, len);
        if (rc == MC_OK) rc = import_st(net, path, st, flags, rep);
        if (rc == MC_OK) rep->pth = is_zip ? 1 : 2;
    } else if (is_st)
        rc = import_st(net, path, NULL, flags, rep);
    else
        rc = import_darknet(net, path, rep);
    if (rep == &local) mc_import_report_free(&local);
    return rc;
}
