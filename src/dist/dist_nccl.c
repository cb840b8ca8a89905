/* dist_nccl.c — sums of GPU buffers over NCCL (make GPU=1 MPI=1), its communicator bootstrapped
 * through MPI (rank 0's ncclUniqueId broadcast); stubs in the other builds. Each rank drives the
 * GPU of its local rank (the CLI creates the CUDA backend there). */
#include <stdlib.h>
#include <time.h>
#include "dist/dist_internal.h"


#if defined(MC_MPI) && defined(MC_GPU)
#include <cuda_runtime_api.h>
#include <nccl.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#define NCCL_TRY(d, call, what)                                                                    \
    do {                                                                                           \
        ncclResult_t r_ = (call);                                                                  \
        if (r_ != ncclSuccess)                                                                     \
            return mc_err(MC_EIO, "rank %d of %d (host %s): %s failed: %s", mc_dist_rank(d),       \
                          mc_dist_size(d), mc_dist_host(d), what, ncclGetErrorString(r_));         \
    } while (0)

int mc_dist_sum_device(mc_dist *d, float *v, size_t n) {
    if (!d || mc_dist_size(d) == 1) return MC_OK;
    void **slot;
    mc_dist_nccl_slot(d, &slot);
    double t0 = now();
    if (!*slot) {
        ncclUniqueId id;
        if (mc_dist_is_root(d)) NCCL_TRY(d, ncclGetUniqueId(&id), "ncclGetUniqueId");
        MC_TRY(mc_dist_bcast(d, &id, sizeof id, 0));
        ncclComm_t *c = mc_calloc(1, sizeof *c, "NCCL communicator");
        if (!c) return MC_ENOMEM;
        ncclResult_t r = ncclCommInitRank(c, mc_dist_size(d), id, mc_dist_rank(d));
        if (r != ncclSuccess) {
            free(c);
            return mc_err(MC_EIO, "rank %d of %d (host %s): ncclCommInitRank failed: %s", mc_dist_rank(d),
                          mc_dist_size(d), mc_dist_host(d), ncclGetErrorString(r));
        }
        *slot = c;
    }
    ncclComm_t comm = *(ncclComm_t *)*slot;
    /* the backend's work on its own stream is finished (the caller synchronised it); the default
     * stream then orders nothing else */
    NCCL_TRY(d, ncclAllReduce(v, v, n, ncclFloat, ncclSum, comm, 0), "ncclAllReduce");
    cudaError_t e = cudaStreamSynchronize(0);
    if (e != cudaSuccess)
        return mc_err(MC_EIO, "rank %d (host %s): after ncclAllReduce: %s", mc_dist_rank(d), mc_dist_host(d),
                      cudaGetErrorString(e));
    mc_dist_add_comm_time(d, now() - t0);
    return MC_OK;
}

void mc_dist_nccl_free(void *nccl) {
    if (!nccl) return;
    ncclCommDestroy(*(ncclComm_t *)nccl);
    free(nccl);
}
#else
int mc_dist_sum_device(mc_dist *d, float *v, size_t n) {
    (void)v;
    (void)n;
    if (!d || mc_dist_size(d) == 1) return MC_OK;
    return mc_err(MC_EUNSUP, "rank %d (host %s): GPU buffers are summed over NCCL, and this medcolor was built "
                             "without it: build with make GPU=1 MPI=1",
                  mc_dist_rank(d), mc_dist_host(d));
}
void mc_dist_nccl_free(void *nccl) { (void)nccl; }
#endif
