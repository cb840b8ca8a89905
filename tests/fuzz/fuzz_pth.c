/* fuzz_pth.c — PyTorch checkpoints (src/io/zip.c, src/io/pth.c): the bytes as x.pth through
 * mc_pth_to_safetensors (the zip format: directory, CRCs; the legacy format: its five pickles,
 * storage list and raw storages; both: the restricted unpickler, tensor extents), then
 * the safetensors image it makes through mc_st_open_memory and every tensor read as float32.
 * Checked on success: the image is a valid safetensors file (it opens) and every tensor reads. */
#include "fuzz.h"

static int one(const uint8_t *data, size_t size) {
    char path[700];
    mc_fuzz_write(path, sizeof path, "x.pth", data, size);
    uint8_t *img = NULL;
    size_t len = 0;
    int rc = mc_pth_to_safetensors(path, &img, &len);
    if (rc != MC_OK) return mc_fuzz_check_error(rc, MC_FUZZ_NAMES("x.pth"));
    mc_st *st = NULL;
    rc = mc_st_open_memory(&st, path, img, len);
    if (rc != MC_OK) {
        /* a name given twice in the state dict is the one thing the image may refuse */
        if (strstr(mc_errmsg(), "appears twice")) return mc_fuzz_check_error(rc, MC_FUZZ_NAMES("x.pth"));
        fprintf(stderr, "the converted image does not open: %s\n", mc_errmsg());
        return 1;
    }
    for (int i = 0; i < mc_st_num_tensors(st); i++) {
        mc_st_info si;
        mc_st_get_info(st, i, &si);
        size_t n = 1;
        for (int d = 0; d < si.ndim; d++) n *= (size_t)si.shape[d];
        float *f = malloc(n * sizeof(float) + 4);
        rc = f ? mc_st_read_f32(st, i, f, n) : MC_OK;
        free(f);
        if (rc != MC_OK && !strstr(mc_errmsg(), "NaN") && !strstr(mc_errmsg(), "nf")) {
            fprintf(stderr, "tensor %s does not read: %s\n", si.name, mc_errmsg());
            mc_st_close(st);
            return 1;
        }
    }
    mc_st_close(st);
    return 0;
}
MC_FUZZ_TARGET(pth)
