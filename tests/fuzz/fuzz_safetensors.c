/* fuzz_safetensors.c — the safetensors reader (x.safetensors): open, then every tensor's info,
 * lookup by name, raw bytes and conversion to float32, and the metadata. */
#include "fuzz.h"

static int one(const uint8_t *data, size_t size) {
    char path[700];
    mc_fuzz_write(path, sizeof path, "x.safetensors", data, size);
    mc_st *st = NULL;
    int rc = mc_st_open(&st, path);
    if (rc < 0) return mc_fuzz_check_error(rc, MC_FUZZ_NAMES("x.safetensors"));
    int bad = 0, n = mc_st_num_tensors(st);
    for (int i = 0; i < n && !bad; i++) {
        mc_st_info info;
        size_t nbytes = 0;
        if (mc_st_get_info(st, i, &info) < 0 || mc_st_find(st, info.name) != i || !mc_st_raw(st, i, &nbytes) ||
            nbytes != info.nbytes || info.nbytes != info.numel * (size_t)mc_st_dtype_size(info.dtype) ||
            info.offset + info.nbytes > size) {
            fprintf(stderr, "fuzz: tensor %d is inconsistent: %s\n", i, mc_errmsg());
            bad = 1;
            break;
        }
        if (info.numel > ((size_t)1 << 22)) continue;
        float *v = malloc((info.numel ? info.numel : 1) * sizeof *v);
        if (mc_st_read_f32(st, i, v, info.numel) < 0) {
            fprintf(stderr, "fuzz: tensor %s does not read: %s\n", info.name, mc_errmsg());
            bad = 1;
        }
        free(v);
    }
    for (int i = 0; i < mc_st_num_metadata(st) && !bad; i++) {
        const char *k, *v;
        if (mc_st_metadata_at(st, i, &k, &v) < 0 || mc_st_metadata(st, k) != v) {
            fprintf(stderr, "fuzz: metadata %d is inconsistent\n", i);
            bad = 1;
        }
    }
    mc_st_close(st);
    return bad;
}
MC_FUZZ_TARGET(safetensors)
