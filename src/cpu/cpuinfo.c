/* cpuinfo.c — which vector instructions the CPU has, and whether OpenBLAS's GEMM kernels use them.
 *
 * OpenBLAS (Debian's is built DYNAMIC_ARCH) picks its kernels from the CPU's family and model
 * numbers, not from its feature flags. A virtual machine that masks the model (lscpu: "Intel(R)
 * Xeon(R) Processor") or a CPU newer than the OpenBLAS release (AMD Zen 4 with 0.3.21) gets an
 * older core's kernels: on an H200 node's 16-core Xeon VM, OpenBLAS 0.3.21 chose "Prescott"
 * (SSE3) on a CPU with AVX-512, and a ResNet18 training step took 6.2 s instead of 2.4 s with
 * OPENBLAS_CORETYPE=SkylakeX (docs/performance.md). OpenBLAS reads OPENBLAS_CORETYPE once, when
 * it is loaded, so only a new process can change the choice: the library says what it found
 * (mc_blas_core_check), the command-line tool restarts itself with the variable set
 * (src/cli/main.c). Nothing here has a side effect. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "core/core.h"
#include "cpu/conv.h"
#include "medcolor.h"

char *openblas_get_corename(void); /* OpenBLAS's own, declared in its cblas.h */

/* vector level: 3 AVX-512 (F, BW, DQ, VL: what OpenBLAS's SkylakeX kernels need), 2 AVX2 + FMA,
 * 1 less */
static int cpu_level(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return 3;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 2;
#endif
    return 1;
}

/* the vector level of an OpenBLAS core's kernels (x86 names of OpenBLAS 0.3.x) */
static int core_level(const char *core) {
    static const char *const l3[] = {"skylakex", "cooperlake", "sapphirerapids"};
    static const char *const l2[] = {"haswell", "zen", "excavator"};
    for (size_t i = 0; i < sizeof l3 / sizeof l3[0]; i++)
        if (!strcasecmp(core, l3[i])) return 3;
    for (size_t i = 0; i < sizeof l2 / sizeof l2[0]; i++)
        if (!strcasecmp(core, l2[i])) return 2;
    return 1;
}

const char *mc_cpu_vector_isa(void) {
    static const char *const name[] = {"", "SSE/AVX (no AVX2+FMA)", "AVX2+FMA", "AVX-512 (F, BW, DQ, VL)"};
    return name[cpu_level()];
}

int mc_cpu_gemm_own(void) {
    const char *why;
    return mc_cpu_own_gemm(&why);
}

const char *mc_cpu_gemm_name(void) {
    const char *why;
    int own = mc_cpu_own_gemm(&why);
    return own == MC_F32_AVX512 ? "medcolor's own AVX-512 kernels"
           : own == MC_F32_AVX2 ? "medcolor's own AVX2 kernels"
           : own == 0           ? "OpenBLAS"
                                : why;
}

int mc_blas_core_check(const char **chosen, const char **better) {
    const char *c = openblas_get_corename();
    /* tests/cli_info.sh: pretends OpenBLAS chose this core, while OPENBLAS_CORETYPE is unset */
    const char *t = getenv("MC_TEST_BLAS_CORE");
    if (t && *t && !getenv("OPENBLAS_CORETYPE")) c = t;
    *chosen = c ? c : "unknown";
    *better = NULL;
    int have = cpu_level(), used = c ? core_level(c) : 1;
    if (used >= have) return 0;
    *better = have == 3 ? "SkylakeX" : "Haswell";
    return 1;
}
