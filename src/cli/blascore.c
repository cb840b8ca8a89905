/* blascore.c — the command-line tool (and bench_step) restart once with OPENBLAS_CORETYPE set
 * when OpenBLAS chose kernels below the CPU's (src/cpu/cpuinfo.c, docs/performance.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"
#include "medcolor.h"

/* OpenBLAS chose kernels below what this CPU can run (mc_blas_core_check): restart once with
 * OPENBLAS_CORETYPE set, unless the environment already sets it (a choice, e.g. a cluster's pin)
 * or MEDCOLOR_BLAS_CORE=keep, or OpenBLAS runs no GEMM here (the own GEMM does them:
 * mc_cpu_gemm_own). `medcolor info` says what was chosen and why. */
void mc_cli_blas_core(char **argv) {
    const char *keep = getenv("MEDCOLOR_BLAS_CORE");
    if (getenv("OPENBLAS_CORETYPE") || (keep && !strcmp(keep, "keep"))) return;
    if (mc_cpu_gemm_own() != 0) return;
    const char *chosen, *better;
    if (!mc_blas_core_check(&chosen, &better)) return;
    char was[64];
    snprintf(was, sizeof was, "%s", chosen);
    if (setenv("OPENBLAS_CORETYPE", better, 1) || setenv("MEDCOLOR_BLAS_CORE_WAS", was, 1)) return;
    execv("/proc/self/exe", argv); /* returns only on failure: go on with OpenBLAS's choice */
    unsetenv("OPENBLAS_CORETYPE");
}
