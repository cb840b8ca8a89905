/* bench_step.c — medcolor's side of `make bench`: the time of a training step (forward +
 * backward + SGD update) or of an inference forward pass, through the public API only.
 *
 * Not a test (named bench_*, not test_*). Built by `make bench` (see scripts/bench.sh):
 *   bench_step CFG [--stage S] [--steps N] [--warmup W] [--threads T] [--infer] [--batch B]
 *              [--layers | --layers-each]
 *   CFG      a network cfg (e.g. cfg/resnet18.cfg)
 *   --stage  baseline | baseline-all | color | all | last (mc_stage_apply; default all)
 *   --steps  timed steps (default 3), --warmup untimed steps before (default 1)
 *   --threads the CPU backend's threads (default 2)
 *   --infer  eval mode, forward only: prints images/s instead of s/step
 *   --layers also print the forward and backward time per layer type (one more pass, layer by layer);
 *            --layers-each also every layer's, in table order
 *   --gpu N  the CUDA backend on device N (a GPU build); each timed step ends with a device sync
 *   --adam   Adam (lr 1e-4, betas 0.9/0.999, eps 1e-8: the colorization networks' defaults)
 *            instead of SGD
 *   --sgemm-peak  no network: the machine's float32 GEMM peak through OpenBLAS, square 2048 (and
 *            1 thread at 1024), median of 5 calls after one warm-up; prints `sgemm threads=T
 *            gflops=X gflops_1thread=Y`; then the same for the CPU backend's float32 GEMM, what
 *            every convolution here ends in (the own GEMM's AVX-512 or AVX2 kernels, or OpenBLAS
 *            where the CPU has neither: cpu/gemm_f32.c), as `gemm threads=T gflops=X
 *            gflops_1thread=Y kind=K` (K: own-avx512, own-avx2 or openblas)
 *   --bf16   the bf16 mode (mc_net_opts.precision = MC_PRECISION_BF16: bf16 GEMM operands, float32
 *            sums; CPUs with AVX512-BF16, else the refusal and exit status 3); with --sgemm-peak
 *            also the bf16 GEMM's peak (the CPU backend's gemm in bf16 mode, same sizes), printed
 *            as `bf16gemm threads=T gflops=X gflops_1thread=Y`
 *   --dist   data-parallel (src/dist/): under mpirun -np N, each rank takes batch/N of the global
 *            batch, with synchronised batch norm and the gradients summed after backward; rank 0
 *            prints the line, with comm_median= the seconds per step spent communicating (the
 *            scaling row of `make bench`: 2 ranks x 1 thread against 1 rank x 2 threads)
 * Input: random normal images (the cfg's channels: 1 through T or the grey copy; 3 for the
 * colorization U-Nets), random 0/1 labels (a dense [cost] type=mse takes them as its target of
 * the output's shape); SGD lr 0.01, momentum 0.9, weight decay 1e-4 as the PyTorch script.
 * Output: one line `medcolor cfg=... stage=... mode=train step_median=1.234 step_min=1.200
 * cpu_median=2.3 maxrss_mb=812.3` (mode=infer: img_per_s=...): wall-clock seconds, the process's
 * CPU seconds per step (all threads: the work, less sensitive to a busy machine than the wall
 * clock) and ru_maxrss of this process (the peak RSS).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include "core/core.h"
#include "engine/net.h"
#include "cli/cli.h"
#include "dist/dist.h"
#include "bench.h"
#include <cblas.h>

static int die(const char *what) {
    fprintf(stderr, "bench_step: %s: %s\n", what, mc_errmsg());
    return 1;
}

/* GFLOP/s of cblas_sgemm, n x n x n, on `threads` OpenBLAS threads: the median of 5 calls */
static double sgemm_gflops(int n, int threads) {
    float *a = malloc((size_t)n * n * sizeof(float)), *b = malloc((size_t)n * n * sizeof(float)),
          *c = malloc((size_t)n * n * sizeof(float));
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return 0;
    }
    for (size_t i = 0; i < (size_t)n * n; i++) a[i] = (float)(i % 7) * 0.1f, b[i] = (float)(i % 5) * 0.2f, c[i] = 0;
    openblas_set_num_threads(threads);
    double t[6];
    for (int r = 0; r < 6; r++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        t[r] = now() - t0;
    }
    qsort(t + 1, 5, sizeof *t, cmp_double);
    free(a), free(b), free(c);
    return 2.0 * n * n * (double)n / t[3] * 1e-9;
}

/* GFLOP/s of the CPU backend's gemm (cut among `threads` threads as every GEMM of the backend) in
 * `precision`: float32 (the own GEMM or OpenBLAS: mc_cpu_gemm_name) or bf16
 * (cpu/gemm_bf16.c), n x n x n, median of 5 calls; 0 when it cannot run */
static double backend_gflops(int n, int threads, int precision) {
    mc_backend *be = NULL;
    if (mc_backend_cpu_create(&be, &(mc_net_opts){.threads = threads, .precision = precision}) < 0) return 0;
    float *a = malloc((size_t)n * n * sizeof(float)), *b = malloc((size_t)n * n * sizeof(float)),
          *c = malloc((size_t)n * n * sizeof(float));
    double t[6], g = 0;
    if (a && b && c) {
        for (size_t i = 0; i < (size_t)n * n; i++) a[i] = (float)(i % 7) * 0.1f, b[i] = (float)(i % 5) * 0.2f;
        for (int r = 0; r < 6; r++) {
            double t0 = now();
            if (be->gemm(be, 0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n) < 0) break;
            t[r] = now() - t0;
            if (r == 5) {
                qsort(t + 1, 5, sizeof *t, cmp_double);
                g = 2.0 * n * n * (double)n / t[3] * 1e-9;
            }
        }
    }
    free(a), free(b), free(c);
    be->destroy(be);
    return g;
}

/* multiply-adds of layer l's forward per image (convolutions and connected layers; 0 else) */
static double layer_macs(const mc_layer *l) {
    const char *t = l->ops->section;
    for (int k = 0; k < l->nt; k++)
        if (!strcmp(l->t[k].name, "weight") && l->t[k].ndim >= 2) {
            if (!strcmp(t, "convolutional")) return (double)l->out_h * l->out_w * (double)l->t[k].numel;
            if (!strcmp(t, "deconvolutional")) return (double)l->h * l->w * (double)l->t[k].numel;
            if (!strcmp(t, "connected")) return (double)l->t[k].numel;
        }
    return 0;
}

/* GFLOP of one step: forward of every layer, backward-data where the input needs a gradient,
 * backward-filter where the weights are trained (after a backward: active / want_wgrad set) */
static double step_gflop(mc_net *net, int infer) {
    double f = 0;
    for (int i = 0; i < net->n; i++) {
        const mc_layer *l = &net->layers[i];
        double m = layer_macs(l);
        f += m;
        if (infer || !l->active) continue;
        if (l->want_wgrad) f += m;
        if (mc_in_delta(net, l, 0)) f += m;
    }
    return 2.0 * f * net->batch / 1e9;
}

/* forward (and, training, backward) time of every layer, one pass layer by layer through the
 * layer table (after a full step, so that the backward flags and gradient memory are set; the
 * values computed are then meaningless, only the times count), and the totals per layer type */
static int layer_profile(mc_net *net, int infer, int each) {
    double tf[32] = {0}, tb[32] = {0}, *fb = mc_calloc(2 * (size_t)net->n, sizeof(double), "times"), *ff = fb + net->n;
    const char *types[32];
    int nt = 0;
    double total_f = 0, total_b = 0;
    if (!fb) return die("alloc");
    for (int pass = 0; pass < (infer ? 1 : 2); pass++)
        for (int k = 0; k < net->n; k++) {
            int i = pass ? net->n - 1 - k : k;
            mc_layer *l = &net->layers[i];
            if (pass && !l->active) continue;
            double t0 = now();
            if ((pass ? l->ops->backward(l, net) : l->ops->forward(l, net)) < 0) return die("layer");
            double dt = now() - t0;
            int j = 0;
            while (j < nt && strcmp(types[j], l->ops->section) != 0) j++;
            if (j == nt && nt < 32) types[nt++] = l->ops->section;
            if (j < 32) (pass ? tb : tf)[j] += dt;
            if (pass) {
                total_b += dt;
                fb[i] = dt;
            } else {
                total_f += dt;
                ff[i] = dt;
            }
        }
    if (each) { /* --layers-each: every layer, in table order */
        printf("  %-28s %-16s %16s %10s %10s\n", "layer", "type", "output", "fwd ms", "bwd ms");
        for (int i = 0; i < net->n; i++) {
            const mc_layer *l = &net->layers[i];
            char shape[48];
            snprintf(shape, sizeof shape, "%dx%dx%d", l->out_c, l->out_h, l->out_w);
            printf("  %-28.28s %-16s %16s %10.2f %10.2f\n", l->label, l->ops->section, shape, 1e3 * ff[i], 1e3 * fb[i]);
        }
    }
    printf("  %-16s %10s %10s\n", "layer type", "fwd ms", "bwd ms");
    for (int j = 0; j < nt; j++) printf("  %-16s %10.1f %10.1f\n", types[j], 1e3 * tf[j], 1e3 * tb[j]);
    printf("  %-16s %10.1f %10.1f\n", "total", 1e3 * total_f, 1e3 * total_b);
    free(fb);
    return 0;
}

int main(int argc, char **argv) {
    mc_cli_blas_core(argv); /* the OpenBLAS kernels medcolor itself would use (src/cli/blascore.c) */
    const char *cfg = NULL, *stage = "all";
    int steps = 3, warmup = 1, threads = 2, infer = 0, batch = 16, layers = 0, gpu = -1, adam = 0, dist = 0, peak = 0, bf16 = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--stage") && i + 1 < argc) stage = argv[++i];
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warmup = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--gpu") && i + 1 < argc) gpu = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--infer")) infer = 1;
        else if (!strcmp(argv[i], "--dist")) dist = 1;
        else if (!strcmp(argv[i], "--layers")) layers = 1;
        else if (!strcmp(argv[i], "--layers-each")) layers = 2;
        else if (!strcmp(argv[i], "--adam")) adam = 1;
        else if (!strcmp(argv[i], "--sgemm-peak")) peak = 1;
        else if (!strcmp(argv[i], "--bf16")) bf16 = 1;
        else if (argv[i][0] != '-' && !cfg) cfg = argv[i];
        else {
            fprintf(stderr, "usage: bench_step CFG [--stage S] [--steps N] [--warmup W] [--threads T] "
                            "[--batch B] [--infer] [--layers | --layers-each] [--gpu N] [--adam] [--bf16]  |  bench_step --sgemm-peak [--threads T] [--bf16]\n");
            return 2;
        }
    }
    if (peak) {
        if (threads < 1) threads = 1;
        double g1 = sgemm_gflops(1024, 1), gt = sgemm_gflops(2048, threads);
        printf("sgemm threads=%d gflops=%.1f gflops_1thread=%.1f\n", threads, gt, g1);
        /* the backend's float32 GEMM, what the convolutions run (the own one on AVX-512 CPUs) */
        double f1 = backend_gflops(1024, 1, MC_PRECISION_FP32), ft = backend_gflops(2048, threads, MC_PRECISION_FP32);
        printf("gemm threads=%d gflops=%.1f gflops_1thread=%.1f kind=%s\n", threads, ft, f1,
               mc_cpu_gemm_own() == 2 ? "own-avx512" : mc_cpu_gemm_own() == 1 ? "own-avx2" : "openblas");
        if (bf16) {
            if (!mc_cpu_has_bf16()) {
                fprintf(stderr, "bench_step: --precision bf16 needs a CPU with AVX512-BF16 (this CPU: %s)\n",
                        mc_cpu_vector_isa());
                return 3;
            }
            double b1 = backend_gflops(1024, 1, MC_PRECISION_BF16), bt = backend_gflops(2048, threads, MC_PRECISION_BF16);
            printf("bf16gemm threads=%d gflops=%.1f gflops_1thread=%.1f\n", threads, bt, b1);
        }
        return gt > 0 ? 0 : 1;
    }
    if (!cfg || steps < 1 || warmup < 0 || batch < 1) {
        fprintf(stderr, "bench_step: give a cfg, --steps >= 1, --warmup >= 0, --batch >= 1\n");
        return 2;
    }
    mc_dist *world = NULL;
    if (dist) {
        if (mc_dist_init(&world) < 0) return die("MPI");
        if (batch % mc_dist_size(world)) {
            fprintf(stderr, "bench_step: batch %d does not divide among %d ranks\n", batch, mc_dist_size(world));
            return 2;
        }
    }
    const int global_batch = batch;
    batch /= mc_dist_size(world);
    mc_net *net;
    mc_net_opts opts = {.batch = batch, .seed = 1, .inference_only = infer, .threads = threads,
                        .precision = bf16 ? MC_PRECISION_BF16 : MC_PRECISION_FP32};
    if (gpu >= 0) {
        opts.backend = MC_BACKEND_CUDA;
        opts.gpu = gpu;
    }
    if (mc_net_from_cfg(&net, cfg, &opts) < 0) {
        int unsup = bf16 && !mc_cpu_has_bf16();
        die(cfg);
        return unsup ? 3 : 1; /* 3: this CPU cannot run bf16 (bench.sh leaves the row out) */
    }
    int st = mc_stage_from_name(stage);
    if (st < 0 || mc_stage_apply(net, st) < 0) return die("stage");
    mc_net_set_train(net, !infer);

    int c, h, w;
    mc_net_input_shape(net, &c, &h, &w);
    size_t nin = (size_t)batch * c * h * w, nout = (size_t)batch * mc_net_num_outputs(net);
    float *x = mc_malloc(nin * sizeof(float), "input"), *y = mc_malloc(nout * sizeof(float), "labels");
    if (!x || !y) return die("alloc");
    mc_rng r;
    mc_rng_seed(&r, 7);
    for (size_t i = 0; i < nin; i++) x[i] = (float)mc_rng_normal(&r);
    for (size_t i = 0; i < nout; i++) y[i] = mc_rng_uniform(&r) < 0.5 ? 1.0f : 0.0f;
    if (mc_net_set_input(net, x) < 0 || mc_net_set_truth(net, y, NULL) < 0) return die("input");
    mc_optimizer opt;
    mc_optimizer_defaults(&opt, adam ? MC_OPTIM_ADAM : MC_OPTIM_SGD);
    if (adam) {
        opt.lr = 1e-4;
    } else {
        opt.lr = 0.01, opt.momentum = 0.9, opt.weight_decay = 1e-4;
    }
    mc_dist_train_opts dto = {0};
    if (world && mc_dist_attach(world, net, &dto) < 0) return die("dist");
    double *comm = mc_calloc((size_t)steps, sizeof(double), "times");
    if (!comm) return die("alloc");

    double *ts = mc_malloc((size_t)steps * sizeof(double), "times"),
           *cs = mc_malloc((size_t)steps * sizeof(double), "times");
    if (!ts || !cs) return die("alloc");
    for (int i = 0; i < warmup + steps; i++) {
        double t0 = now(), c0 = cpu_now(), m0 = mc_dist_comm_seconds(world);
        if (infer) {
            if (mc_net_forward(net) < 0) return die("forward");
        } else {
            if (mc_net_zero_grad(net) < 0 || mc_net_forward(net) < 0 || mc_net_backward(net) < 0 ||
                mc_dist_grads(world, net) < 0 || mc_net_step(net, &opt) < 0)
                return die("step");
        }
        if (net->be->sync && net->be->sync(net->be) < 0) return die("sync");
        double dt = now() - t0, dc = cpu_now() - c0;
        if (i >= warmup) {
            ts[i - warmup] = dt;
            cs[i - warmup] = dc;
            comm[i - warmup] = mc_dist_comm_seconds(world) - m0;
        }
    }
    qsort(ts, (size_t)steps, sizeof(double), cmp_double);
    qsort(cs, (size_t)steps, sizeof(double), cmp_double);
    double med = steps % 2 ? ts[steps / 2] : 0.5 * (ts[steps / 2 - 1] + ts[steps / 2]);
    double cmed = steps % 2 ? cs[steps / 2] : 0.5 * (cs[steps / 2 - 1] + cs[steps / 2]);
    qsort(comm, (size_t)steps, sizeof(double), cmp_double);
    double mmed = steps % 2 ? comm[steps / 2] : 0.5 * (comm[steps / 2 - 1] + comm[steps / 2]);
    if (world) {
        /* the slowest rank's step is the step */
        double v[2] = {med, mmed};
        int n = mc_dist_size(world);
        double *all = mc_calloc(2 * (size_t)n, sizeof(double), "times");
        if (!all || mc_dist_gather(world, v, sizeof v, all, 0) < 0) return die("gather");
        for (int k = 0; k < n; k++) {
            med = med > all[2 * k] ? med : all[2 * k];
            mmed = mmed > all[2 * k + 1] ? mmed : all[2 * k + 1];
        }
        free(all);
        if (!mc_dist_is_root(world)) {
            mc_dist_free(world);
            return 0;
        }
    }
    if (infer)
        printf("medcolor cfg=%s stage=%s mode=infer precision=%s batch=%d threads=%d gpu=%d img_per_s=%.2f pass_median=%.3f "
               "cpu_median=%.3f maxrss_mb=%.1f loss=%.4f\n",
               cfg, stage, bf16 ? "bf16" : "fp32", batch, threads, gpu, batch / med, med, cmed, maxrss_mb(), (double)mc_net_loss(net));
    else
        printf("medcolor cfg=%s stage=%s mode=train precision=%s batch=%d threads=%d gpu=%d ranks=%d step_median=%.3f "
               "step_min=%.3f cpu_median=%.3f comm_median=%.3f maxrss_mb=%.1f loss=%.4f\n",
               cfg, stage, bf16 ? "bf16" : "fp32", global_batch, threads, gpu, mc_dist_size(world), med, ts[0], cmed, mmed, maxrss_mb(),
               (double)mc_net_loss(net));
    double gf = step_gflop(net, infer);
    printf("  %.1f GFLOP per %s%s (convolutions and connected layers) = %.1f GFLOP/s at the median\n", gf,
           infer ? "pass" : "step", world ? " of rank 0" : "", gf / med);
    if (layers && layer_profile(net, infer, layers == 2)) return 1;
    fflush(stdout);
    free(ts);
    free(cs);
    free(x);
    free(y);
    free(comm);
    mc_net_free(net);
    mc_dist_free(world);
    return 0;
}
