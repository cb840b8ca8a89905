/* backends.c — the table of backends (see engine/backend.h): the network builder creates its
 * backend from here, by id, instead of knowing which backends a build has.
 *
 * Each backend defines its own entry beside its implementation (mc_backend_cpu_entry in
 * src/cpu/backend_cpu.c, mc_backend_cuda_entry in src/cuda/backend_cuda.cu); a build without a
 * backend lists it with create == NULL and the message that says how to get it. */
#include <string.h>
#include "engine/backend.h"

#ifndef MC_GPU
static const mc_backend_entry cuda_missing = {
    "cuda", MC_BACKEND_CUDA, NULL, 0,
    "this medcolor was built without GPU support (rebuild with make GPU=1 CUDNN=1)"};
#endif

static const mc_backend_entry *const table[] = {
    &mc_backend_cpu_entry,
#ifdef MC_GPU
    &mc_backend_cuda_entry,
#else
    &cuda_missing,
#endif
};
#define NTABLE ((int)(sizeof table / sizeof table[0]))

int mc_backend_count(void) { return NTABLE; }

const mc_backend_entry *mc_backend_at(int i) { return i >= 0 && i < NTABLE ? table[i] : NULL; }

const mc_backend_entry *mc_backend_find(int id) {
    for (int i = 0; i < NTABLE; i++)
        if (table[i]->id == id) return table[i];
    return NULL;
}

const mc_backend_entry *mc_backend_find_name(const char *name) {
    for (int i = 0; i < NTABLE && name; i++)
        if (strcmp(table[i]->name, name) == 0) return table[i];
    return NULL;
}

int mc_backend_create(mc_backend **out, int id, const mc_net_opts *opts) {
    const mc_net_opts defaults = {0};
    const mc_backend_entry *e = mc_backend_find(id);
    *out = NULL;
    if (!e) {
        char known[128] = "";
        for (int i = 0; i < NTABLE; i++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%d (%s)", i ? ", " : "",
                     table[i]->id, table[i]->name);
        return mc_err(MC_EARG, "unknown backend %d (known: %s)", id, known);
    }
    if (!e->create) return mc_err(MC_EUNSUP, "%s", e->missing ? e->missing : "backend not in this build");
    /* bf16 mode (mc_net_opts.precision) is the CPU backend's only */
    if (opts && opts->precision == MC_PRECISION_BF16 && id != MC_BACKEND_CPU)
        return mc_err(MC_EUNSUP, "--precision bf16 is implemented on the CPU backend only, not on %s", e->name);
    return e->create(out, opts ? opts : &defaults);
}

unsigned mc_backend_fused_of(const mc_backend *be) {
    unsigned f = 0;
    if (be->bn_act_fwd_train) f |= MC_FUSED_BN_ACT_FWD_TRAIN;
    if (be->bn_act_fwd_infer) f |= MC_FUSED_BN_ACT_FWD_INFER;
    if (be->bn_act_bwd_train) f |= MC_FUSED_BN_ACT_BWD_TRAIN;
    if (be->add_act) f |= MC_FUSED_ADD_ACT;
    return f;
}
