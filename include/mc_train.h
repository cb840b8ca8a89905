/* mc_train.h — training a stage, evaluation, checkpoints, experiments (public API; included by
 * medcolor.h). See docs/training.md. */
#ifndef MC_TRAIN_H
#define MC_TRAIN_H
#include <signal.h>
#include <stdio.h>
#include "mc_data.h"
#include "mc_image.h"
#ifdef __cplusplus
extern "C" {
#endif

#define MC_MAX_LABELS 64

typedef struct mc_train_opts {
    int stage;              /* MC_STAGE_*: which groups train (mc_stage_apply) */
    double max_lr;          /* one-cycle peak learning rate */
    int epochs;
    long max_iters;         /* >0: stop the schedule after this many iterations (smoke runs) */
    long checkpoint_every;  /* iterations between checkpoints + validation; 0 = once per epoch */
    long stop_after;        /* >0: stop (resumably) at the first checkpoint at or after this
                             * iteration, as if interrupted — for tests of --resume */
    double weight_decay;    /* 1e-2 */
    int decoupled;          /* 1: p -= lr*wd*p (fastai, default); 0: classic L2 */
    int workers;            /* loader threads */
    uint64_t seed;          /* shuffling, augmentation and re-initialisation */
    int reinit_head;        /* 1: C starts fresh (every stage of the paper) */
    int reinit_color;       /* 1: T starts fresh (Color Module from scratch) */
    const char *dir;        /* the stage's folder (created) */
    int resume;             /* continue from dir/checkpoint.safetensors when present */
    int progress;           /* -1 auto (bar on a terminal), 0 plain lines, 1 bar, 2 quiet */
    const char *label;      /* prefix of progress lines, e.g. "[color]" */
    FILE *log;              /* per-iteration CSV rows (stage,epoch,iter,loss,lr,momentum,seconds) */
    FILE *vlog;             /* per-validation CSV rows (stage,iter,epoch,loss,AUC per label,mean) */
    const char *log_path;   /* their file names, for messages (may be NULL); on resume the rows of */
    const char *vlog_path;  /* this stage after the checkpoint are cut from both files */
    mc_aug_opts aug;        /* training augmentation */
    /* non-NULL: checked after every iteration; once it is non-zero (set by the caller's signal
     * handler: Ctrl-C, SLURM's SIGTERM at the time limit) a checkpoint is written at once and
     * the stage stops, resumably, as with stop_after */
    volatile sig_atomic_t *interrupt;
} mc_train_opts;
void mc_train_opts_default(mc_train_opts *o);

typedef struct mc_train_result {
    double best_auc;        /* best validation mean AUC (-1 without validation) */
    long best_iter;
    double auc[MC_MAX_LABELS]; /* per-label AUC at best_iter */
    long iters;             /* iterations done */
    double seconds;
    int resumed;
    int stopped;            /* 1: stopped early by stop_after or *interrupt (resumable) */
    int interrupted;        /* 1: by *interrupt */
} mc_train_result;

/* Trains net (its last layer a [cost]) on train, validating on valid (may be NULL) at every
 * checkpoint. Writes o->dir/{checkpoint.safetensors, best.weights, last.weights, DONE}. */
int mc_train(mc_net *net, const mc_dataset *train, const mc_dataset *valid, const mc_train_opts *o,
             mc_train_result *r);

/* Eval-mode predictions probs[ds->n][nlabels] (sigmoid) and the mean BCE loss over unmasked
 * entries (loss may be NULL). */
int mc_evaluate(mc_net *net, const mc_dataset *ds, int workers, float *probs, double *loss);
/* Per-label AUC (auc[nlabels]) and their mean (*mean; labels whose AUC is NaN — a class absent —
 * left out; NaN when all are). MC_ENOMEM when memory runs out (never reported as a NaN AUC). */
int mc_mean_auc(const mc_dataset *ds, const float *probs, double *auc, double *mean);

typedef struct mc_ckpt_meta {
    long next_iter, total_iters, best_iter;
    double best_auc, max_lr;
    uint64_t seed;
    int batch, stage;
    double best_aucs[MC_MAX_LABELS];
    int nlabels;
} mc_ckpt_meta;
int mc_checkpoint_save(const mc_net *net, const char *path, const mc_ckpt_meta *m);
int mc_checkpoint_load(mc_net *net, const char *path, mc_ckpt_meta *m);

int mc_mkdirs(const char *path);

/* Builds the network of cfg for a dataset with nlabels labels: when the cfg's last layer has
 * another number of outputs, it is rebuilt with head.output = nlabels (nlabels <= 0: as is). */
int mc_net_for_labels(mc_net **out, const char *cfg, const mc_net_opts *opts, int nlabels);

/* The bundled demo dataset: n_train + n_valid synthetic chest-X-ray-like w x h JPEGs in
 * CheXpert-v1.0-small's layout under dir, the 5 paper labels drawn into the images. */
int mc_demo_make(const char *dir, int n_train, int n_valid, int w, int h, uint64_t seed);

/* ---- experiments: a whole schedule (e.g. color -> all -> last on another dataset) --------- */
#define MC_MAX_STAGES 8
/* Settings left unset here are taken from the level below (mc_experiment_resolve; precedence in
 * docs/training.md): command line > [stage] > [experiment] > the cfg's [net] > built-in. */
#define MC_SEED_UNSET UINT64_MAX
#define MC_EVERY_EPOCH (-1L) /* checkpoint_every: once per epoch, explicitly (`checkpoint_every = epoch`) */
typedef struct mc_exp_stage {
    int stage;              /* MC_STAGE_* */
    char *data;             /* .data of this stage (NULL: the experiment's) */
    double max_lr;          /* <= 0: unset (finally the paper's default for the stage) */
    int epochs;             /* <= 0: unset (finally the paper's default) */
    long checkpoint_every;  /* iterations, MC_EVERY_EPOCH, or 0: unset (finally once per epoch) */
    long max_iters;
} mc_exp_stage;

typedef struct mc_experiment {
    char *path;             /* the .exp file (or "command line") */
    char *net;              /* network cfg */
    char *data;             /* .data */
    char *root;             /* dataset root override (NULL: the .data's) */
    char *weights;          /* initial weights (.weights) or NULL */
    char *out;              /* run folder */
    char *set[16];          /* cfg overrides (layer.key=value) */
    int nset;
    uint64_t seed;          /* MC_SEED_UNSET: unset (finally 0) */
    int batch;              /* 0: the cfg's */
    int workers, threads;
    int gpu;                /* -1: CPU; >= 0: the CUDA device (a GPU build) */
    double weight_decay;    /* < 0: unset (finally 1e-2) */
    int decoupled;          /* < 0: unset (finally 1) */
    int frozen_bn;          /* MC_FROZEN_BN_*; < 0: unset (finally batch) */
    double max_lr;          /* every stage's, below [stage]: <= 0 unset */
    int epochs;             /* <= 0: unset */
    long checkpoint_every;  /* 0: unset; else as in a stage */
    int keep_color;         /* 1: a first color stage keeps T from the weights (no fresh T) */
    double subset;          /* > 0: fraction of the training split */
    uint32_t subset_seed;
    int nstages;
    mc_exp_stage st[MC_MAX_STAGES];
} mc_experiment;

void mc_experiment_init(mc_experiment *e);
void mc_experiment_clear(mc_experiment *e);
/* Reads an .exp file ([experiment] and one [stage] per stage; docs/training.md). */
int mc_experiment_load(mc_experiment *e, const char *path);
/* Fills every setting e leaves unset (seed, weight_decay, decoupled, frozen_bn, and each stage's
 * max_lr, epochs, checkpoint_every) from the [experiment] level, then the cfg's [net] (with e's
 * net.* overrides), then the built-in defaults. Idempotent; mc_experiment_run calls it. */
int mc_experiment_resolve(mc_experiment *e);
/* Writes e in .exp syntax ([experiment], [stage]...); resolve = 1 writes the stage defaults
 * (max_lr, epochs) in effect where e leaves them unset. */
int mc_experiment_write(FILE *f, const mc_experiment *e, int resolve);
/* The paper's max_lr / epochs for a stage (thesis Appendix B, CheXpert). */
void mc_stage_defaults(int stage, double *max_lr, int *epochs);
/* Runs every stage in order into e->out (resume: skip finished stages, continue the started
 * one). progress as in mc_train_opts. Writes out/experiment.exp (the settings in effect),
 * out/log.csv, out/valid.csv, out/results.csv. */
/* interrupt: see mc_train_opts.interrupt (NULL: none); an interrupted run returns MC_OK with
 * the stage's checkpoint written, and *interrupt still set for the caller to see. */
int mc_experiment_run(const mc_experiment *e, int resume, int progress, long stop_after,
                      volatile sig_atomic_t *interrupt);

#ifdef __cplusplus
}
#endif
#endif
