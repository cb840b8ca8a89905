/* info.c — `medcolor info <cfg>`: the layer table (output shape and parameters per layer), the
 * parameters of each group, and the trainable parameter count of each stage. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dist/dist.h"
#include "cli/cli.h"
#include "medcolor.h"

/* 11778517 -> "11,778,517" */
const char *mc_cli_thousands(size_t v, char *buf, size_t n) {
    char tmp[32];
    int len = snprintf(tmp, sizeof tmp, "%zu", v), o = 0;
    for (int i = 0; i < len && (size_t)o + 2 < n; i++) {
        if (i && (len - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = 0;
    return buf;
}

int mc_cli_info(int argc, char **argv) {
    int brief = 0, sys = 0;
    const mc_opt opts[] = {{"--brief", 'f', &brief, "only the group and stage summaries", NULL},
                           {"--system", 'f', &sys, "this machine instead: CPU vector instructions, OpenBLAS's kernels, threads", NULL},
                           {NULL, 0, NULL, NULL, NULL}};
    const char *syn = "medcolor info <net.cfg> [--brief] | medcolor info --system";
    const char *about = "Prints the network's layers (type, name, group, output shape, parameters), the\n"
                        "parameters of each group, and the trainable parameters of each training stage\n"
                        "(baseline: C; baseline-all: E+C; color: T+C; all: T+E+C; last: C) of a classifier\n"
                        "(an image-to-image network, whose output is wider than 1x1, has no stages).";
    const char *pos[1];
    int npos;
    int r = mc_cli_parse("info", argc, argv, opts, pos, 1, &npos, syn, about);
    if (r) return r == 1 ? 0 : 2;
    if (sys) {
        if (npos) return mc_cli_args_error("info --system", "no cfg", npos);
        const char *chosen, *better, *was = getenv("MEDCOLOR_BLAS_CORE_WAS"), *pin = getenv("OPENBLAS_CORETYPE");
        int weak = mc_blas_core_check(&chosen, &better);
        printf("medcolor %s\n", MC_VERSION);
        printf("CPU vector instructions: %s\n", mc_cpu_vector_isa());
        printf("bf16 mode (--precision bf16): %s\n",
               mc_cpu_has_bf16() ? "available (AVX512-BF16)" : "not available (this CPU lacks AVX512-BF16)");
        const char *gemm = mc_cpu_gemm_name();
        const int own = mc_cpu_gemm_own() > 0;
        printf("float32 GEMM (every convolution): %s%s\n", gemm,
               own ? " (MC_CPU_GEMM=openblas for OpenBLAS's)" : "");
        if (own)
            printf("OpenBLAS kernels: %s (not used for GEMMs here)\n", chosen);
        else if (was)
            printf("OpenBLAS kernels: %s (medcolor set OPENBLAS_CORETYPE=%s: OpenBLAS chose %s, below this CPU)\n",
                   chosen, pin ? pin : "?", was);
        else if (pin)
            printf("OpenBLAS kernels: %s (OPENBLAS_CORETYPE=%s from the environment)%s%s%s\n", chosen, pin,
                   weak ? "; this CPU can run " : "", weak ? better : "", weak ? "'s: unset it for speed" : "");
        else
            printf("OpenBLAS kernels: %s (OpenBLAS's choice%s)\n", chosen, weak ? "; MEDCOLOR_BLAS_CORE=keep kept it" : "");
        printf("threads: %d (OpenMP's default; --threads or OMP_NUM_THREADS)\n", omp_get_max_threads());
        {
            /* the CPU backend asks for transparent huge pages for its large buffers (cpu/conv.h
             * mc_cpu_map) unless MC_CPU_HUGEPAGES=0; whether it gets them is the system's setting */
            const char *hp = getenv("MC_CPU_HUGEPAGES");
            char mode[128] = "";
            FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
            if (f) {
                if (!fgets(mode, sizeof mode, f)) mode[0] = 0;
                fclose(f);
            }
            const char *sysmode = strstr(mode, "[always]")    ? "always"
                                  : strstr(mode, "[madvise]") ? "madvise"
                                  : strstr(mode, "[never]")   ? "never"
                                                              : NULL;
            if (hp && *hp && strcmp(hp, "0") && strcmp(hp, "1"))
                printf("large buffers: MC_CPU_HUGEPAGES=%s is not '0' or '1': networks refuse to be built with it\n", hp);
            else if (hp && !strcmp(hp, "0"))
                printf("large buffers: 4 KB pages (MC_CPU_HUGEPAGES=0)\n");
            else if (!sysmode)
                printf("large buffers: transparent huge pages asked for; this system does not say whether it has them\n");
            else
                printf("large buffers: transparent huge pages %s (the system's setting: %s; MC_CPU_HUGEPAGES=0 for none)\n",
                       strcmp(sysmode, "never") ? "asked for and given" : "asked for, but off", sysmode);
        }
        static const char *const dist[] = {"no (make MPI=1 with OpenMPI installed)", "MPI (CPU ranks)",
                                           "MPI, NCCL for GPU ranks"};
        printf("data-parallel training: %s\n", dist[mc_dist_compiled()]);
        return 0;
    }
    if (!npos) return mc_cli_args_error("info", "<net.cfg>", npos);
    const char *cfg = pos[0];
    mc_net *net;
    mc_net_opts o = {.batch = 1, .no_init = 1};
    if (mc_net_from_cfg(&net, cfg, &o) < 0) {
        fprintf(stderr, "medcolor info: %s\n", mc_errmsg());
        return 1;
    }
    char b1[32];
    int c, h, w, n = mc_net_num_layers(net);
    mc_net_input_shape(net, &c, &h, &w);
    printf("%s: input %dx%dx%d, %d layers, %d outputs\n", cfg, c, h, w, n, mc_net_num_outputs(net));
    if (!brief) {
        /* parameters per layer: sum of its trainable tensors */
        size_t *per = calloc((size_t)n, sizeof *per);
        if (!per) {
            fprintf(stderr, "medcolor info: out of memory\n");
            mc_net_free(net);
            return 1;
        }
        for (int i = 0; i < mc_net_num_tensors(net); i++) {
            mc_tensor_info ti;
            mc_net_tensor_info(net, i, &ti);
            if (ti.trainable) per[ti.layer] += ti.numel;
        }
        printf("\n%5s  %-15s %-44s %-9s %-14s %12s\n", "layer", "type", "name", "group", "output", "parameters");
        for (int i = 0; i < n; i++) {
            char shape[48];
            mc_net_layer_shape(net, i, &c, &h, &w);
            snprintf(shape, sizeof shape, "%dx%dx%d", c, h, w);
            const char *name = mc_net_layer_name(net, i);
            printf("%5d  %-15s %-44s %-9s %-14s %12s\n", i, mc_net_layer_type(net, i), name[0] ? name : "-",
                   mc_net_layer_group(net, i), shape, per[i] ? mc_cli_thousands(per[i], b1, sizeof b1) : "");
        }
        free(per);
    }
    printf("\nparameters per group:\n");
    for (int g = 0; g < mc_net_num_groups(net); g++)
        printf("  %-12s %12s\n", mc_net_group_name(net, g),
               mc_cli_thousands(mc_net_group_params(net, mc_net_group_name(net, g)), b1, sizeof b1));
    printf("  %-12s %12s\n", "total", mc_cli_thousands(mc_net_num_params(net), b1, sizeof b1));
    /* the stages are the classification trainer's; an image-to-image network (an output wider
     * than 1x1, e.g. cfg/colorize/) trains without them */
    mc_net_layer_shape(net, n - 1, &c, &h, &w);
    if (h > 1 || w > 1) {
        mc_net_free(net);
        return 0;
    }
    printf("\ntrainable parameters per stage:\n");
    static const char *const what[] = {"C (E frozen)", "E + C", "T + C (E frozen)", "T + E + C",
                                       "C (T, E frozen)"};
    for (int s = 0; s < MC_NUM_STAGES; s++) {
        mc_stage_apply(net, s);
        printf("  %-13s %12s   %s\n", mc_stage_name(s), mc_cli_thousands(mc_net_num_trainable(net), b1, sizeof b1),
               what[s]);
    }
    mc_net_free(net);
    return 0;
}
