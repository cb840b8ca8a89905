/* train.c — `medcolor train` and `medcolor finetune`: run an experiment (.exp) or a schedule
 * given on the command line. */
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "dist/dist.h"
#include "medcolor.h"

typedef struct common {
    const char *out, *weights, *root, *stages, *stage, *optimizer, *precision;
    double max_lr, subset, wd;
    long epochs, batch, seed, ckpt, max_iters, workers, threads, subset_seed, stop_after, gpu;
    int resume, overwrite, quiet, plain, l2, frozen_running;
    mc_strlist set;
} common;

static void init_common(common *c) {
    memset(c, 0, sizeof *c);
    c->max_lr = -1;
    c->epochs = -1;
    c->batch = -1;
    c->seed = -1;
    c->ckpt = -1;
    c->max_iters = -1;
    c->workers = -1;
    c->threads = -1;
    c->subset = -1;
    c->subset_seed = -1;
    c->wd = -1;
    c->gpu = -1;
}

#define COMMON_OPTS(c)                                                                             \
    {"-o", 's', &(c).out, "run folder: settings, logs, checkpoints, weights, results", "runs/<net>-<data>-s<seed>"}, \
    {"--resume", 'f', &(c).resume, "continue a stopped run from its checkpoints (finished stages are skipped)", NULL}, \
    {"--overwrite", 'f', &(c).overwrite, "start afresh in a run folder that holds a run, replacing its files", "refused"}, \
    {"--seed", 'i', &(c).seed, "seed of initialisation, shuffling and augmentation", "0", "0..2147483647"},       \
    {"--batch", 'i', &(c).batch, "batch size", "the cfg's batch= (16 in cfg/)", "1..65536"},                     \
    {"--max-lr", 'd', &(c).max_lr, "one-cycle peak learning rate, every stage", "color/baseline 2e-3, all 2e-2, last 1e-3", ">0"}, \
    {"--epochs", 'i', &(c).epochs, "epochs, every stage", "color/baseline 12, all 6, last 48", "1..100000"},     \
    {"--checkpoint-every", 'i', &(c).ckpt, "iterations between checkpoints and validations", "once per epoch", "1..2147483647"}, \
    {"--max-iters", 'i', &(c).max_iters, "cut each stage's schedule to this many iterations (smoke runs)", "no cut", "1..2147483647"}, \
    {"--optimizer NAME", 's', &(c).optimizer, "sgd, adam, adamw or rmsprop (settings in an .exp: docs/training.md)", "sgd"}, \
    {"--wd", 'd', &(c).wd, "weight decay", "1e-2", ">=0"},                                                     \
    {"--l2", 'f', &(c).l2, "classic L2 weight decay (added to the gradient) instead of decoupled", NULL},        \
    {"--frozen-bn-running", 'f', &(c).frozen_running, "BatchNorm in frozen groups uses running statistics", "batch statistics, as the paper"}, \
    {"--subset", 'd', &(c).subset, "train on this fraction of the training split (the thesis' subsets)", "all", ">0,<=1"}, \
    {"--subset-seed", 'i', &(c).subset_seed, "random_state of the subset (8, 8829, 2901 in the thesis)", "0", "0..2147483647"}, \
    {"--root", 's', &(c).root, "folder holding the datasets", "$MEDCOLOR_DATA, else root= of the .data"},       \
    {"--set", 'l', &(c).set, "override a cfg key, layer.key=value (e.g. net.width=128, head.output=1)", NULL},   \
    {"--workers", 'i', &(c).workers, "image loading threads", "1", "0..64"},                                    \
    {"--threads", 'i', &(c).threads, "compute threads (OpenMP/OpenBLAS)", "all cores", "0..1024"},              \
    MC_CLI_PRECISION_OPT(&(c).precision),                                                          \
    {"--gpu", 'i', &(c).gpu, "train on CUDA device N (a build with make GPU=1 CUDNN=1)", "the CPU", "0..1024"},   \
    {"--stop-after", 'i', &(c).stop_after, "stop (resumably) at the first checkpoint after this iteration", NULL, "1..2147483647"}, \
    {"--plain", 'f', &(c).plain, "plain progress lines instead of a progress bar", "bar on a terminal"},         \
    {"--quiet", 'f', &(c).quiet, "no progress output", NULL}

static const char *base_noext(const char *path, char *buf, size_t n) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(buf, n, "%s", b);
    char *dot = strrchr(buf, '.');
    if (dot && dot != buf) *dot = 0;
    return buf;
}

/* applies the command-line settings over e (which may come from an .exp file) */
static int apply_common(const char *cmd, const common *c, mc_experiment *e) {
    if (c->resume && c->overwrite) {
        fprintf(stderr, "medcolor %s: --resume and --overwrite: continue the run, or start it again, not both\n", cmd);
        return 2;
    }
    if (c->seed >= 0) e->seed = (uint64_t)c->seed;
    if (c->batch > 0) e->batch = (int)c->batch;
    if (c->workers >= 0) e->workers = (int)c->workers;
    if (c->threads >= 0) e->threads = (int)c->threads;
    if (c->gpu >= 0) e->gpu = (int)c->gpu;
    if (c->precision) e->precision = mc_cli_precision(c->precision);
    if (c->optimizer && (e->optimizer = mc_optimizer_from_name(c->optimizer)) < 0) {
        fprintf(stderr, "medcolor %s: --optimizer: %s\n", cmd, mc_errmsg());
        return 2;
    }
    if (c->wd >= 0) e->weight_decay = c->wd;
    if (c->l2) e->decoupled = 0;
    if (c->frozen_running) e->frozen_bn = MC_FROZEN_BN_RUNNING;
    if (c->subset > 0) e->subset = c->subset;
    if (c->subset_seed >= 0 && !(e->subset > 0)) {
        fprintf(stderr, "medcolor %s: --subset-seed %ld: there is no --subset (or subset=) to draw\n", cmd, c->subset_seed);
        return 2;
    }
    if (c->subset_seed >= 0) e->subset_seed = (uint32_t)c->subset_seed;
    if (c->root) {
        free(e->root);
        e->root = strdup(c->root);
    }
    if (c->weights) {
        free(e->weights);
        e->weights = strdup(c->weights);
    }
    for (int i = 0; i < c->set.n; i++) {
        if (e->nset >= 16) {
            fprintf(stderr, "medcolor %s: too many --set\n", cmd);
            return 2;
        }
        e->set[e->nset++] = strdup(c->set.v[i]);
    }
    for (int k = 0; k < e->nstages; k++) {
        if (c->max_lr > 0) e->st[k].max_lr = c->max_lr;
        if (c->epochs > 0) e->st[k].epochs = (int)c->epochs;
        if (c->ckpt > 0) e->st[k].checkpoint_every = c->ckpt;
        if (c->max_iters > 0) e->st[k].max_iters = c->max_iters;
    }
    /* what the command line and the experiment leave unset: from the cfg's [net], else built-in */
    if (mc_experiment_resolve(e) < 0) {
        fprintf(stderr, "medcolor %s: %s\n", cmd, mc_errmsg());
        return 1;
    }
    if (c->out) {
        free(e->out);
        e->out = strdup(c->out);
    } else if (!e->out) {
        char a[256], b[256], buf[700];
        snprintf(buf, sizeof buf, "runs/%s-%s-s%llu", base_noext(e->net, a, sizeof a), base_noext(e->data, b, sizeof b),
                 (unsigned long long)e->seed);
        e->out = strdup(buf);
    }
    return 0;
}

static int run(const char *cmd, mc_experiment *e, const common *c) {
    /* started by mpirun/srun as one of N processes: data-parallel training (docs/distributed.md);
     * rank 0 alone prints progress and writes the run's files */
    mc_dist *world;
    if (mc_dist_init(&world) < 0) {
        fprintf(stderr, "medcolor %s: %s\n", cmd, mc_errmsg());
        return 1;
    }
    const int nranks = mc_dist_size(world), is_root = mc_dist_is_root(world);
    common quiet = *c;
    if (!mc_dist_is_root(world)) quiet.quiet = 1;
    c = &quiet;
    if (!c->quiet && nranks > 1)
        fprintf(stderr, "medcolor %s: %d processes (data-parallel), %s on rank 0 (host %s)\n", cmd, nranks,
                e->gpu >= 0 ? "one GPU each" : "the CPU cores shared", mc_dist_host(world));
    if (!c->quiet) {
        fprintf(stderr, "medcolor %s: %s on %s, stages", cmd, e->net, e->data);
        for (int k = 0; k < e->nstages; k++) fprintf(stderr, " %s", mc_stage_name(e->st[k].stage));
        fprintf(stderr, ", seed %llu -> %s\n", (unsigned long long)e->seed, e->out);
    }
    volatile sig_atomic_t *stop = mc_cli_catch_stop();
    mc_cli_progress prog;
    mc_cli_progress_init(&prog, c->quiet, c->plain);
    mc_run_opts ro = {.resume = c->resume, .overwrite = c->overwrite, .stop_after = c->stop_after > 0 ? c->stop_after : 0, .interrupt = stop,
                      .on_event = is_root ? mc_cli_progress_event : NULL, .event_ctx = &prog, .dist = world};
    int rc = mc_experiment_run(e, &ro);
    if (rc < 0) {
        mc_cli_fail(cmd, world); /* one rank's error ends every rank at once */
        mc_dist_free(world);
        return 1;
    }
    mc_dist_free(world);
    if (*stop) {
        if (is_root)
            fprintf(stderr, "medcolor %s: stopped by signal %d; the run continues with: medcolor %s %s/experiment.exp --resume\n",
                    cmd, (int)*stop, "train", e->out);
        return mc_cli_stop_status();
    }
    return 0;
}

/* option: "--stages" or "--stage", for messages */
static int parse_stages(const char *cmd, const char *option, const char *list, mc_experiment *e) {
    char buf[256];
    if (snprintf(buf, sizeof buf, "%s", list) >= (int)sizeof buf) {
        fprintf(stderr, "medcolor %s: %s: too long a list\n", cmd, option);
        return 2;
    }
    for (char *tok = buf, *comma;; tok = comma + 1) {
        comma = strchr(tok, ',');
        if (comma) *comma = 0;
        if (!*tok) {
            fprintf(stderr, "medcolor %s: %s '%s': %s (the stages: baseline, baseline-all, color, all, last)\n", cmd,
                    option, list, list[0] ? "an empty stage name in the list" : "no stage given");
            return 2;
        }
        int s = mc_stage_from_name(tok);
        if (s < 0) {
            fprintf(stderr, "medcolor %s: %s '%s': %s\n", cmd, option, list, mc_errmsg());
            return 2;
        }
        if (e->nstages >= MC_MAX_STAGES) {
            fprintf(stderr, "medcolor %s: at most %d stages\n", cmd, MC_MAX_STAGES);
            return 2;
        }
        e->st[e->nstages++].stage = s;
        if (!comma) break;
    }
    return 0;
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

int mc_cli_train(int argc, char **argv) {
    common c;
    init_common(&c);
    const mc_opt opts[] = {
        {"--stages", 's', &c.stages, "comma-separated stages to run in order (with a cfg and .data)", "color,all"},
        {"--weights", 's', &c.weights, "initial weights of the whole network (e.g. from medcolor import)",
         "fresh initialisation"},
        COMMON_OPTS(c),
        MC_CLI_WINDOW_OPT,
        {NULL, 0, NULL, NULL, NULL}};
    const char *pos[2];
    int npos;
    const char *syn = "medcolor train <experiment.exp> [options]\n"
                      "       medcolor train <net.cfg> <data.data> [--stages color,all] [options]";
    const char *about =
        "Trains the network through the paper's stages (baseline, baseline-all, color, all, last) with\n"
        "one-cycle SGD (or --optimizer), validating at every checkpoint (per-label and mean AUC) and\n"
        "keeping the best weights. Each stage starts from the best weights of the stage before; T and C\n"
        "start fresh at a first color stage, C is re-initialised at every stage. An .exp file describes\n"
        "a whole schedule, e.g. color -> all -> last on another dataset (docs/training.md).\n"
        "Output: <run>/experiment.exp, log.csv, results.csv, <k>-<stage>/{best,last}.weights, valid.csv,\n"
        "checkpoint.safetensors. Ctrl-C or a crash loses at most one checkpoint interval: --resume.";
    /* an .exp whose section is [colorize] is a colorization experiment: colorize-train runs it
     * (with the same options; docs/colorize.md) */
    for (int i = 1; i < argc; i++)
        if (argv[i][0] != '-' && ends_with(argv[i], ".exp") && mc_colorexp_is(argv[i])) {
            argv[0] = (char *)"colorize-train";
            return mc_cli_colorize_train(argc, argv);
        }
    int r = mc_cli_parse("train", argc, argv, opts, pos, 2, &npos, syn, about);
    if (r) return r == 1 ? 0 : 2;
    mc_experiment e;
    mc_experiment_init(&e);
    if (npos == 1 && ends_with(pos[0], ".exp")) {
        if (c.stages) {
            fprintf(stderr, "medcolor train: --stages goes with a cfg and a .data; the .exp lists its stages\n");
            return 2;
        }
        if (mc_experiment_load(&e, pos[0]) < 0) {
            fprintf(stderr, "medcolor train: %s\n", mc_errmsg());
            return 1;
        }
    } else if (npos == 2) {
        e.net = strdup(pos[0]);
        e.data = strdup(pos[1]);
        e.path = strdup("command line");
        if (parse_stages("train", "--stages", c.stages ? c.stages : "color,all", &e)) {
            mc_experiment_clear(&e);
            return 2;
        }
    } else {
        return mc_cli_args_error("train", "<experiment.exp>, or <net.cfg> <data.data>", npos);
    }
    int rc = apply_common("train", &c, &e);
    if (!rc) rc = run("train", &e, &c);
    mc_experiment_clear(&e);
    return rc;
}

int mc_cli_finetune(int argc, char **argv) {
    common c;
    init_common(&c);
    const mc_opt opts[] = {
        {"--stage", 's', &c.stage, "stage: last (train C only), all, or color (T and C; T is kept, not fresh)", "last"},
        COMMON_OPTS(c),
        MC_CLI_WINDOW_OPT,
        {NULL, 0, NULL, NULL, NULL}};
    const char *pos[3];
    int npos;
    const char *syn = "medcolor finetune <net.cfg> <weights> <data.data> [--stage last|all|color] [options]";
    const char *about =
        "Starts from trained weights (e.g. the best.weights of a CheXpert run) and trains one stage on a\n"
        "dataset: `last` transfers T and E and trains a fresh classifier C (the paper's Last Layer); when\n"
        "the dataset has another number of labels the head is rebuilt for it.";
    int r = mc_cli_parse("finetune", argc, argv, opts, pos, 3, &npos, syn, about);
    if (r) return r == 1 ? 0 : 2;
    if (npos != 3) return mc_cli_args_error("finetune", "<net.cfg> <weights> <data.data>", npos);
    mc_experiment e;
    mc_experiment_init(&e);
    e.net = strdup(pos[0]);
    e.weights = strdup(pos[1]);
    e.data = strdup(pos[2]);
    e.path = strdup("command line");
    e.keep_color = 1;
    int rc = parse_stages("finetune", "--stage", c.stage ? c.stage : "last", &e);
    if (!rc && e.nstages != 1) {
        fprintf(stderr, "medcolor finetune: one stage (use train with an .exp for a schedule)\n");
        rc = 2;
    }
    if (!rc) rc = apply_common("finetune", &c, &e);
    if (!rc) rc = run("finetune", &e, &c);
    mc_experiment_clear(&e);
    return rc;
}
