/* fail.c — how a command reports the error that ends it, one process or one of an mpirun/srun
 * job's (docs/distributed.md). */
#include <stdio.h>
#include "cli/cli.h"
#include "core/core.h"
#include "dist/dist.h"

void mc_cli_fail(const char *cmd, mc_dist *world) {
    if (mc_dist_size(world) > 1) {
        /* the other ranks may wait in a collective for this one: it says which it is, and the
         * whole job ends at once */
        fprintf(stderr, "medcolor %s: rank %d of %d (host %s): %s\n", cmd, mc_dist_rank(world), mc_dist_size(world),
                mc_dist_host(world), mc_errmsg());
        mc_dist_abort(world, 1);
    }
    fprintf(stderr, "medcolor %s: %s\n", cmd, mc_errmsg());
}
