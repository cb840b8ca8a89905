/* export.c — a network's tensors out as safetensors for PyTorch (docs/import.md, "Export"): the
 * reverse of import.c's mapping, so that the file loads with load_state_dict(strict=True).
 *   MC_EXPORT_CANONICAL: the canonical names (color.*, backbone.*, head.*: docs/modules.md,
 *     "Tensor names"), which are the state_dict names of the PyTorch network of the spec (T, E
 *     = torchvision's resnet18/densenet121 with its classifier replaced, C = Linear);
 *   MC_EXPORT_TORCHVISION: a network without a colorization module T (cfg/resnet18.cfg,
 *     cfg/densenet121.cfg) as torchvision's own model with num_classes = the labels: the
 *     "backbone." prefix dropped, head.* named fc.* (ResNet) or classifier.* (DenseNet, whose
 *     tensors start "features."). A network with T (color.* tensors) is refused.
 * Every BatchNorm (a tensor "<p>.running_var") gets "<p>.num_batches_tracked" = 0, the buffer
 * PyTorch's BatchNorm2d has in its state dict (a strict load needs the key; the value only
 * matters for momentum=None). All values float32 ("F32"; num_batches_tracked too: load_state_dict
 * copies it into PyTorch's int64 buffer). The file is written atomically. */
#include <stdlib.h>
#include <string.h>
#include "engine/net.h"
#include "mc_io.h"

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

int mc_net_export(const mc_net *net, const char *path, int names, int *ntensors) {
    int nt = mc_net_num_tensors(net), densenet = 0, rc = MC_OK, count = 0;
    if (names != MC_EXPORT_CANONICAL && names != MC_EXPORT_TORCHVISION)
        return mc_err(MC_EARG, "export to %s: unknown naming %d", path, names);
    for (int i = 0; i < nt; i++) {
        mc_tensor_info ti;
        MC_TRY(mc_net_tensor_info(net, i, &ti));
        if (!strncmp(ti.name, "backbone.features.", 18)) densenet = 1;
        if (names == MC_EXPORT_TORCHVISION && strncmp(ti.name, "backbone.", 9) && strcmp(ti.name, "head.weight") &&
            strcmp(ti.name, "head.bias"))
            return mc_err(MC_EARG,
                          "export to %s: tensor %s is neither the backbone's (backbone.*) nor the head's: torchvision's "
                          "model has no place for it (a colorization module T? export with the medcolor names)",
                          path, ti.name);
    }
    mc_st_writer *w = mc_st_writer_new();
    float *buf = NULL;
    char *name = NULL;
    if (!w) return mc_err_context(MC_ENOMEM, "export to %s", path);
    for (int i = 0; i < nt && rc == MC_OK; i++) {
        mc_tensor_info ti;
        if ((rc = mc_net_tensor_info(net, i, &ti)) < 0) break;
        float *b = mc_realloc(buf, ti.numel * sizeof(float) + sizeof(float), "export");
        size_t len = strlen(ti.name) + 32;
        char *nm = mc_realloc(name, len, "export");
        if (!b || !nm) {
            free(b ? b : buf), free(nm ? nm : name);
            buf = NULL, name = NULL;
            rc = MC_ENOMEM;
            break;
        }
        buf = b, name = nm;
        if ((rc = mc_net_tensor_get(net, i, buf)) < 0) break;
        const char *n = ti.name;
        if (names == MC_EXPORT_TORCHVISION) {
            if (!strncmp(n, "backbone.", 9))
                snprintf(name, len, "%s", n + 9);
            else
                snprintf(name, len, "%s.%s", densenet ? "classifier" : "fc", n + 5); /* head.weight/bias */
        } else {
            snprintf(name, len, "%s", n);
        }
        int64_t shape[4];
        for (int d = 0; d < ti.ndim; d++) shape[d] = ti.dims[d];
        if ((rc = mc_st_writer_add(w, name, ti.ndim, shape, buf)) < 0) break;
        count++;
        if (ends_with(name, ".running_var")) {
            float zero = 0;
            strcpy(name + strlen(name) - strlen("running_var"), "num_batches_tracked");
            if ((rc = mc_st_writer_add(w, name, 0, NULL, &zero)) < 0) break;
            count++;
        }
    }
    if (rc == MC_OK) rc = mc_st_writer_meta(w, "format", "pt");
    if (rc == MC_OK)
        rc = mc_st_writer_meta(w, "medcolor.names", names == MC_EXPORT_TORCHVISION ? "torchvision" : "medcolor");
    if (rc == MC_OK) rc = mc_st_writer_save(w, path);
    if (rc == MC_ENOMEM) rc = mc_err_context(rc, "export to %s", path);
    mc_st_writer_free(w);
    free(buf);
    free(name);
    if (rc == MC_OK && ntensors) *ntensors = count;
    return rc;
}
