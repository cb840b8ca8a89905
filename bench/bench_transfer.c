/* bench_transfer.c — one evaluation of the colour transfer's objective (f and ∇f with respect to
 * the image, every term at the paper's weights) at N×N through VGG19 (cfg/vgg19.cfg, seeded
 * random weights: the time does not depend on their values), as `make bench` compares it with
 * the same computation in PyTorch (scripts/bench_transfer_torch.py). Prints one line:
 *   medcolor bench=transfer size=N threads=T step_median=S step_min=S cpu_median=S maxrss_mb=M
 * Usage: bench_transfer [--size N] [--steps N] [--warmup W] [--threads T] [--winograd on|off] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include "cli/cli.h"
#include "medcolor.h"
#include "mc_transfer.h"
#include "bench.h"

static int die(const char *what) {
    fprintf(stderr, "bench_transfer: %s: %s\n", what, mc_errmsg());
    return 1;
}

int main(int argc, char **argv) {
    mc_cli_blas_core(argv); /* the OpenBLAS kernels medcolor itself would use (src/cli/blascore.c) */
    int size = 224, steps = 3, warm = 1, threads = 2, wino = MC_WINOGRAD_AUTO;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && !strcmp(argv[i], "--size")) size = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--steps")) steps = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--warmup")) warm = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--threads")) threads = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--winograd")) wino = !strcmp(argv[++i], "on") ? MC_WINOGRAD_ON : MC_WINOGRAD_OFF;
        else {
            fprintf(stderr, "usage: bench_transfer [--size N] [--steps N] [--warmup W] [--threads T] [--winograd on|off]\n");
            return 2;
        }
    }
    if (size < 48 || steps < 1 || warm < 0) {
        fprintf(stderr, "bench_transfer: --size >= 48, --steps >= 1, --warmup >= 0\n");
        return 2;
    }
    char sw[32], sh[32];
    snprintf(sw, sizeof sw, "net.width=%d", size);
    snprintf(sh, sizeof sh, "net.height=%d", size);
    const char *set[] = {sw, sh, NULL};
    mc_net_opts o = {.batch = 1, .seed = 1, .threads = threads, .set = set, .winograd = wino};
    mc_net *net;
    if (mc_net_from_cfg(&net, "cfg/vgg19.cfg", &o) < 0) return die("cfg/vgg19.cfg");
    size_t np = (size_t)size * size;
    uint8_t *t = malloc(np * 3), *r = malloc(np * 3);
    double *x = malloc(3 * np * sizeof(double)), *g = malloc(3 * np * sizeof(double));
    uint64_t s = 12345;
    for (size_t i = 0; i < np; i++) { /* a grey target and a colour reference with some structure */
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        uint8_t v = (uint8_t)((i % size) * 255 / size / 2 + (s >> 60) * 8);
        t[i * 3] = t[i * 3 + 1] = t[i * 3 + 2] = v;
        for (int c = 0; c < 3; c++) r[i * 3 + c] = (uint8_t)(v + (s >> (20 + 8 * c)) % 64);
    }
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < np; i++) x[c * np + i] = t[i * 3 + c] + (double)((i * 7 + (size_t)c * 13) % 11) - 5;
    mc_tr_obj *obj;
    if (mc_tr_obj_new(&obj, net, t, r, size, NULL) < 0) return die("objective");
    mc_tr_weights w;
    mc_tr_weights_default(&w);
    double *tw = malloc((size_t)steps * sizeof(double)), *tc = malloc((size_t)steps * sizeof(double)), f = 0;
    for (int k = 0; k < warm + steps; k++) {
        double t0 = now(), c0 = cpu_now();
        if (mc_tr_obj_eval(obj, &w, x, &f, g, NULL) < 0) return die("evaluation");
        if (k >= warm) {
            tw[k - warm] = now() - t0;
            tc[k - warm] = cpu_now() - c0;
        }
    }
    qsort(tw, (size_t)steps, sizeof(double), cmp_double);
    qsort(tc, (size_t)steps, sizeof(double), cmp_double);
    printf("medcolor bench=transfer size=%d threads=%d step_median=%.3f step_min=%.3f cpu_median=%.3f maxrss_mb=%.0f "
           "f=%.6e\n", size, threads, tw[steps / 2], tw[0], tc[steps / 2], maxrss_mb(), f);
    mc_tr_obj_free(obj);
    mc_net_free(net);
    free(t);
    free(r);
    free(x);
    free(g);
    free(tw);
    free(tc);
    return 0;
}
