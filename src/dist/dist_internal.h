/* dist_internal.h — between dist.c and dist_nccl.c only. */
#ifndef MC_DIST_INTERNAL_H
#define MC_DIST_INTERNAL_H
#include "dist/dist.h"
/* where the group's NCCL communicator is kept (NULL until dist_nccl.c makes it) */
int mc_dist_nccl_slot(mc_dist *d, void ***slot);
void mc_dist_add_comm_time(mc_dist *d, double s);
void mc_dist_nccl_free(void *nccl);
#endif
