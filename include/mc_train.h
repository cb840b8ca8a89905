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

/* ---- progress: the library prints nothing ----------------------------------------------------
 * Training reports what it does through a callback of the caller's (mc_train_opts.on_event,
 * mc_run_opts.on_event): one call per event, with its values as numbers. The command line turns
 * them into a progress bar on a terminal or plain lines otherwise (src/cli/progress.c); a
 * program embedding the library may log them, show them, or pass NULL (silent). The callback
 * runs on the training thread between iterations: it should return quickly. The pointers in an
 * event are valid during the call only. */
enum {
    MC_EV_ITER,       /* an iteration done: epoch/epochs, iter/total, in_epoch/per_epoch, loss (the
                       * training loss smoothed, 0.98), lr, img_per_s, eta_s */
    MC_EV_VALID,      /* a validation at a checkpoint: iter, epoch, loss (validation loss),
                       * mean_auc, auc[nlabels] of labels[nlabels] */
    MC_EV_RESUME,     /* a stage continues from its checkpoint: iter (done), total, mean_auc (the
                       * best so far) */
    MC_EV_SKIPPED,    /* experiment, resume: a stage finished before: mean_auc (its best) */
    MC_EV_STOPPED,    /* experiment: a stage stopped early, resumably, after iter iterations:
                       * interrupted = 1 by the interrupt flag (a signal), 0 by stop_after */
    MC_EV_STAGE_DONE  /* experiment: a stage finished and results.csv has it: mean_auc (the best),
                       * best_iter, auc[nlabels] of labels[nlabels] at best_iter, seconds, data
                       * (the stage's .data), dir (the stage's folder) */
};
typedef struct mc_train_event {
    int type;                  /* MC_EV_* */
    const char *label;         /* the stage as progress lines start, e.g. "[color]" ("" if none) */
    int stage;                 /* MC_STAGE_* */
    int stage_index, nstages;  /* in an experiment: stage stage_index (1-based) of nstages; else 0 */
    int epoch, epochs;         /* 1-based epoch of the iteration; epochs of the schedule */
    long iter, total;          /* iterations done; iterations of the stage */
    long in_epoch, per_epoch;  /* the iteration's position in its epoch, 1..per_epoch */
    double loss;               /* ITER: smoothed training loss; VALID: validation loss */
    double lr;                 /* ITER: the learning rate of the iteration */
    double img_per_s, eta_s;   /* ITER: throughput since the start, time left (< 0: unknown) */
    double mean_auc;
    long best_iter;
    int nlabels;
    const char *const *labels;
    const double *auc;
    int interrupted;
    double seconds;
    const char *data, *dir;
} mc_train_event;
typedef void (*mc_train_event_fn)(const mc_train_event *ev, void *ctx);

struct mc_dist; /* src/dist/dist.h */
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
    /* the optimiser (default SGD): its type and settings; lr comes from the one-cycle schedule,
     * weight decay from the two fields above (AdamW is decoupled whatever decoupled says) */
    mc_optimizer opt;
    /* 1 (default): the schedule's momentum 0.95 -> 0.85 -> 0.95 is SGD's momentum and Adam's /
     * AdamW's beta1 (fastai's one-cycle); 0: opt.momentum / opt.beta1 as given. RMSprop's
     * settings are never cycled. */
    int cycle_momentum;
    int workers;            /* loader threads */
    uint64_t seed;          /* shuffling, augmentation and re-initialisation */
    int reinit_head;        /* 1: C starts fresh (every stage of the paper) */
    int reinit_color;       /* 1: T starts fresh (Color Module from scratch) */
    const char *dir;        /* the stage's folder (created) */
    int resume;             /* continue from dir/checkpoint.safetensors when present */
    mc_train_event_fn on_event; /* progress events (NULL: none); see MC_EV_* above */
    void *event_ctx;        /* passed to on_event */
    const char *label;      /* the stage's name in events and messages, e.g. "[color]" */
    FILE *log;              /* per-iteration CSV rows (stage,epoch,iter,loss,lr,momentum,seconds) */
    FILE *vlog;             /* per-validation CSV rows (stage,iter,epoch,loss,AUC per label,mean) */
    const char *log_path;   /* their file names, for messages (may be NULL); on resume the rows of */
    const char *vlog_path;  /* this stage after the checkpoint are cut from both files */
    mc_aug_opts aug;        /* training augmentation */
    /* non-NULL: checked after every iteration; once it is non-zero (set by the caller's signal
     * handler: Ctrl-C, SLURM's SIGTERM at the time limit) a checkpoint is written at once and
     * the stage stops, resumably, as with stop_after */
    volatile sig_atomic_t *interrupt;
    /* data-parallel training (src/dist/dist.h, docs/distributed.md): NULL or one process: as
     * always. N processes: the network's batch is each rank's part and the global batch (the
     * checkpoint's, the schedule's) is N times it; only rank 0 writes files */
    struct mc_dist *dist;
    int bn_local;           /* with dist: 1 = each rank's own batch-norm statistics (default 0: synchronised) */
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
/* Progress of a pass over images (evaluation, predict): called after every batch with the images
 * done so far and the total, on the calling thread. */
typedef void (*mc_pass_progress_fn)(long done, long total, void *ctx);
/* mc_evaluate, reporting its progress to fn (may be NULL). */
int mc_evaluate_progress(mc_net *net, const mc_dataset *ds, int workers, float *probs, double *loss,
                         mc_pass_progress_fn fn, void *ctx);
/* mc_evaluate_progress over the processes of dist (NULL: this one): each rank evaluates its part
 * of every batch (the network's batch per rank) and every rank ends with all of probs and the
 * loss (src/dist/). A collective call. */
int mc_evaluate_dist(mc_net *net, const mc_dataset *ds, int workers, struct mc_dist *dist, float *probs,
                     double *loss, mc_pass_progress_fn fn, void *ctx);
/* Per-label AUC (auc[nlabels]) and their mean (*mean; labels whose AUC is NaN — a class absent —
 * left out; NaN when all are). MC_ENOMEM when memory runs out (never reported as a NaN AUC). */
int mc_mean_auc(const mc_dataset *ds, const float *probs, double *auc, double *mean);
/* The files of an evaluation in dir (created): predictions.csv (probabilities and truth per image),
 * auc.csv (per label and the mean), roc.csv (every ROC point) and roc.png (the curves). */
int mc_eval_write(const char *dir, const mc_dataset *ds, const float *probs, const double *auc, double mean);

/* Inference on image files (`medcolor predict`; src/train/predict.c): each image decoded to grey,
 * centre square crop, bilinear resize to the input, normalised as the training loader's
 * evaluation path (a 3-channel input gets the grey channel three times); decoded in parallel,
 * run in batches of at most the net's batch (the batch is changed for the last one), eval
 * mode. prob[n][outputs]: the sigmoid of the outputs (the outputs as they are when the network
 * ends in [cost]). Errors name the image. stats may be NULL. */
typedef struct mc_predict_stats {
    double seconds, net_seconds, decode_seconds;
} mc_predict_stats;
int mc_predict(mc_net *net, const char *const *paths, int n, float *prob, mc_predict_stats *stats);
/* mc_predict, reporting its progress to fn (may be NULL). */
int mc_predict_progress(mc_net *net, const char *const *paths, int n, float *prob, mc_predict_stats *stats,
                        mc_pass_progress_fn fn, void *ctx);
/* The predictions as CSV: a header "path,<label>...", then per image its path and one probability
 * per label (%.7g; RFC 4180 quoting). To an open stream (name for messages), or to a file
 * (atomically). */
int mc_predict_write_csv(FILE *f, const char *name, const char *const *paths, int n, const char *const *labels,
                         int nlabels, const float *prob);
int mc_predict_save_csv(const char *path, const char *const *paths, int n, const char *const *labels, int nlabels,
                        const float *prob);
/* The network inputs of n images exactly as mc_predict makes them: x[n][c][h][w]. */
int mc_predict_inputs(mc_net *net, const char *const *paths, int n, float *x);

/* ---- features (`medcolor features`; src/train/features.c, docs/features.md) --------------------
 * The raw float32 outputs of chosen layers for image files, after the network's own
 * preprocessing, in eval mode: a classifier's is mc_predict's (grey, centre square crop,
 * bilinear resize, normalised); an image-to-image network's (its output 2 x H x W at the input's
 * H x W: the colorization networks) is the CIELAB lightness at the input size — the image as RGB
 * (grey files at their full precision), each channel resized bilinearly (align_corners=False),
 * L of the spec's sRGB -> Lab — times l_scale plus l_shift in every input channel (l_scale NaN:
 * by the channels, 1 -> L as it is, 3 -> L/50 - 1). mc_features_layer resolves a layer reference
 * (a name, or an index; negative: from the end) to its index; the default layer (ref NULL) is
 * the last one, or the one before a final [cost] (the raw output, not the cost's). */
int mc_features_layer(const mc_net *net, const char *ref, int *layer);
/* 1 when the net's preprocessing is the colorization one (its output 2 x H x W at the input's
 * H x W), 0 otherwise. */
int mc_features_is_color(const mc_net *net);
typedef struct mc_features_opts {
    double l_scale, l_shift; /* image-to-image networks (NaN: by the input's channels) */
    mc_pass_progress_fn progress; /* after each batch (may be NULL) */
    void *progress_ctx;
    /* the processes of an mpirun/srun job (src/dist/dist.h; NULL: this one): each computes its
     * contiguous part of the images, the outputs are summed to all, rank 0 alone writes out.
     * A collective call. */
    struct mc_dist *dist;
} mc_features_opts;
/* Writes out (safetensors, atomically): per image i and layer k the tensor
 * "<file name of paths[i]>/<name of layer k>" (the layer's name=, else its index) of the
 * layer's output shape [c, h, w], float32; metadata "preprocessing" (grey | lab-L), "layers".
 * Two images with the same file name, or the same layer twice, are an error naming them.
 * Runs in batches of at most the net's batch (changing it for the last). o may be NULL. */
int mc_features(mc_net *net, const char *const *paths, int n, const int *layers, int nlayers, const char *out,
                const mc_features_opts *o);

/* ---- Grad-CAM (`medcolor explain`; src/train/explain.c, docs/explain.md) -----------------------
 * Selvaraju et al.'s Grad-CAM of a classifier's label c at layer A (C channels of h x w), as the
 * usual PyTorch implementation with hooks computes it in eval mode: y_c the label's logit (before
 * the sigmoid), alpha_k = the mean over the h*w positions of dy_c/dA_k, cam = ReLU(sum_k alpha_k
 * A_k) [h][w], heatmap = cam resized bilinearly to the input's H x W (F.interpolate,
 * align_corners=False) divided by its maximum (all zeros when that is 0). dy_c/dA from
 * mc_net_layer_grad. */
#define MC_GRADCAM_METHOD                                                                          \
    "Grad-CAM: alpha_k = mean_ij dy_c/dA_k(i,j), y_c the logit; cam = relu(sum_k alpha_k A_k); "  \
    "heatmap = bilinear(cam, input size, align_corners=False) / its max"
/* The layer of the logits: the one before a final [cost], else the last. */
int mc_explain_logit_layer(const mc_net *net);
/* The layer Grad-CAM looks at: ref as mc_features_layer resolves it (a name or an index), checked
 * (before the logits, an output of more than one spatial position: MC_EARG naming it otherwise);
 * ref NULL: the default, the last layer before the logits whose output has h x w > 1 (ResNet:
 * the last block of layer4; DenseNet121: features.norm5, with DenseNet's final ReLU). */
int mc_explain_layer(const mc_net *net, const char *ref, int *layer);
/* Grad-CAM of a batch: x [B][c][H][W] the network's input (B its batch), labels[nlabels] output
 * indices, layer as mc_explain_layer gives it. Out: logits [B][outputs] (may be NULL),
 * cam [B][nlabels][h*w] and heat [B][nlabels][H*W]. Sets eval mode; the network must not be
 * inference-only (it runs backward). Afterwards every layer up to the logits holds its output. */
int mc_gradcam(mc_net *net, const float *x, int layer, const int *labels, int nlabels, float *logits, float *cam,
               float *heat);
typedef struct mc_explain_opts {
    int layer;                     /* from mc_explain_layer */
    const int *labels;             /* [nlabels] output indices */
    int nlabels;
    const char *const *label_names; /* the name of every output of the network */
    double alpha;                  /* the heatmap's weight over the grey image, 0..1 (0.5) */
    mc_pass_progress_fn progress;  /* after each batch (may be NULL) */
    void *progress_ctx;
} mc_explain_opts;
/* Grad-CAM of n images (mc_predict's preprocessing) in batches of at most the net's batch
 * (changed for the last one), written to dir (existing) for image i under the stem names[i]:
 *   <stem>_<label>.png  per label: the heatmap in matplotlib's jet over the grey image the network
 *                       saw (alpha x jet + (1 - alpha) x grey), H x W, and beside it, when the
 *                       network has a colorization module (a group `color` with parameters and a
 *                       3-channel output), T's output as `medcolor colorize` shows it
 *                       (mc_colorize_rgb); <label> with characters other than letters, digits,
 *                       '.', '-', '_' replaced by '_'
 *   <stem>.gradcam.safetensors  float32: image [H, W] (the grey input in [0, 1]), logits
 *                       [outputs], color [3, h, w] (T's raw output, when there is one), and per
 *                       label "<label>/cam" [h, w], "<label>/heatmap" [H, W]; metadata method,
 *                       layer, labels.
 * prob [n][nlabels] (sigmoid of the logits) and cam_max [n][nlabels] (the maximum of cam: 0 when
 * the heatmap is all zeros) may be NULL. Two stems or two labels' file parts alike: MC_EARG. */
int mc_explain(mc_net *net, const char *const *paths, const char *const *names, int n, const char *dir,
               const mc_explain_opts *o, float *prob, float *cam_max);

/* fastai v1's learning-rate finder (`medcolor lrfind`; src/train/lrfind.c): one SGD step per
 * learning rate start (end/start)^(i/iters) on shuffled training batches, the loss smoothed
 * (beta 0.98, bias-corrected), stopping when it exceeds 4x its best or is NaN. The network's
 * weights and optimiser state are restored afterwards (through a temporary checkpoint in dir). */
typedef struct mc_lrfind_opts {
    int stage;              /* MC_STAGE_*: which groups train (color) */
    double start, end;      /* 1e-7, 10 */
    int iters;              /* learning rates (100; at least 16: the suggestion skips 10 + 5) */
    double momentum, weight_decay; /* 0.9, 1e-2 (decoupled) */
    uint64_t seed;          /* shuffling and augmentation */
    int workers;            /* loader threads (1) */
    /* called after every step (NULL: none): step i of n, its learning rate, loss, smoothed loss */
    void (*on_step)(int i, int n, double lr, double loss, double smoothed, void *ctx);
    void *step_ctx;
} mc_lrfind_opts;
void mc_lrfind_opts_default(mc_lrfind_opts *o);
typedef struct mc_lrfind_result {
    int n;                  /* steps made */
    double *lr, *loss, *smoothed; /* [n] */
    int index;              /* of the suggestion (steepest descent), -1: none */
    double suggested;       /* max_lr suggested (steepest descent of the smoothed loss) */
    double minloss_lr;      /* the LR of the minimum smoothed loss / 10 */
} mc_lrfind_result;
/* MC_ENUM when the sweep diverged before 16 steps. Free r with mc_lrfind_result_free. */
int mc_lrfind(mc_net *net, const mc_dataset *train, const char *dir, const mc_lrfind_opts *o, mc_lrfind_result *r);
/* dir/lrfind.csv (iter,lr,loss,smoothed_loss) and dir/lrfind.png (the curve, the suggestion). */
int mc_lrfind_write(const char *dir, const mc_lrfind_result *r);
void mc_lrfind_result_free(mc_lrfind_result *r);

/* The colorization module's output as pictures (`medcolor colorize`; src/train/colorize.c): the
 * image through the evaluation path, the network up to T's last layer (group `color`), T's three
 * channels each min-max scaled to 0..255 (color_png: the paper's Fig. 4) and that laid half and
 * half over the grey input (overlay_png); either path may be NULL. A colorizer holds the buffers
 * for one network; MC_EARG when it has no group `color`, MC_ESHAPE when T's output is not 3
 * channels. */
typedef struct mc_colorizer mc_colorizer;
int mc_colorizer_new(mc_colorizer **out, mc_net *net);
int mc_colorize_file(mc_colorizer *cz, const char *image, const char *color_png, const char *overlay_png);
void mc_colorizer_free(mc_colorizer *cz);
/* T's output y [3][oh][ow] as colorize shows it: rgb [oh][ow][3], each channel min-max scaled to
 * 0..255 (rounded; a constant channel is 0). */
void mc_colorize_rgb(const float *y, int oh, int ow, uint8_t *rgb);

/* ---- image-to-image training: learned colorization (Saini et al.; src/train/colortrain.c,
 * docs/colorize.md) ------------------------------------------------------------------------------
 * Each image is decoded to CIELAB at the network's input size (mc_lab_load: RGB, bilinear resize,
 * the spec's Lab); the network's input is L·l_scale + l_shift in each of its input channels, its
 * target (a, b)/128 (two channels at the input's size), its loss the [cost] layer's (mse: mean over
 * batch·2·H·W). Nothing is augmented. Per epoch: the training MSE (mean of the iterations'
 * losses), then the validation MSE, and the PSNR and SSIM of the colourised validation images
 * (the original L with the predicted ab, to 8-bit RGB, against the target's 8-bit RGB; PSNR over
 * the three channels together, SSIM the mean of the three channels' mc_ssim, NaN for images under
 * 11 x 11, SSIM's window); best.weights keeps
 * the epoch of the lowest validation loss. First the zero-chroma baseline (a = b = 0) of the
 * validation set, on the same metrics. */
enum {
    MC_CEV_BASELINE, /* the zero-chroma baseline: val_mse, val_psnr, val_ssim */
    MC_CEV_EPOCH,    /* an epoch done: epoch, iter, train_mse, val_*, seconds, best (1: new best) */
    MC_CEV_RESUME,   /* continuing from the checkpoint at iter (epoch = epochs done) */
    MC_CEV_STOPPED   /* stopped resumably at iter: interrupted 1 by the signal flag, 0 by stop_after */
};
typedef struct mc_color_event {
    int type;                 /* MC_CEV_* */
    int epoch, epochs;
    long iter, total;
    double train_mse, val_mse, val_psnr, val_ssim;
    double seconds;           /* the epoch's */
    int best, interrupted;
    const char *sheet;        /* EPOCH: the sample sheet written (NULL: none) */
} mc_color_event;
typedef struct mc_colortrain_opts {
    int epochs;               /* 10 */
    mc_optimizer opt;         /* Adam, lr 1e-4, betas (0.9, 0.999), eps 1e-8, no weight decay:
                               * the lr is constant (no schedule) */
    uint64_t seed;            /* shuffling (and the initialisation when init is 1) */
    int init;                 /* 1: the parameters start from mc_net_init_params(seed) */
    double l_scale, l_shift;  /* NaN: by the input's channels: 1 -> L as it is (0..100; the
                               * autoencoder), 3 -> L/50 - 1 (the ResNet U-Nets) */
    int samples;              /* validation images on each sample sheet (8; 0: no sheets) */
    int workers;              /* decoding threads (2) */
    long max_iters;           /* > 0: cut the run to this many iterations */
    long stop_after;          /* > 0: stop resumably at the first epoch end at or after it */
    int resume;               /* continue from dir/checkpoint.safetensors when present */
    const char *dir;          /* the run folder (created) */
    volatile sig_atomic_t *interrupt; /* as mc_train_opts.interrupt */
    mc_train_event_fn on_event; /* MC_EV_ITER events (a progress bar), label "[colorize]" */
    void *event_ctx;
    void (*on_epoch)(const mc_color_event *ev, void *ctx); /* MC_CEV_* events */
    void *epoch_ctx;
    /* data-parallel (src/dist/dist.h, docs/distributed.md): NULL or one process: as before. With
     * N ranks each computes its part (the net's batch) of every global batch (N x the net's
     * batch) of the one seeded order; gradients summed, batch norm synchronised, validation
     * sharded (each rank its part of the images, the per-image values and the sample sheet's
     * cells gathered), rank 0 alone writes files and emits events. A collective call. */
    struct mc_dist *dist;
} mc_colortrain_opts;
void mc_colortrain_opts_default(mc_colortrain_opts *o);
typedef struct mc_colortrain_result {
    double base_mse, base_psnr, base_ssim; /* the zero-chroma baseline on the validation set */
    double best_val_mse;      /* lowest validation MSE, at best_epoch */
    int best_epoch;
    double train_mse, val_mse, val_psnr, val_ssim; /* the last epoch's */
    int epochs_done;
    long iters;
    int resumed, stopped, interrupted;
} mc_colortrain_result;
/* Trains net (ending in [cost] type=mse or l1, output 2 x H x W at the input's H x W) on the
 * image datasets train and valid (mc_imgfolder_load). Writes into o->dir: checkpoint.safetensors
 * (every epoch end and on interrupt: atomic; the run resumes bit for bit), best.weights,
 * last.weights, log.csv (a row per epoch: "epoch,iter,train_mse,val_mse,val_psnr,val_ssim,lr,
 * seconds", the first row, epoch 0, the baseline), loss.png (the curves), samples/epoch-NNN.png
 * (grey input | prediction | target for `samples` fixed validation images) and DONE. */
int mc_colortrain(mc_net *net, const mc_dataset *train, const mc_dataset *valid, const mc_colortrain_opts *o,
                  mc_colortrain_result *r);
/* A colorization run's log.csv, read back (a resumed run keeps its rows up to the checkpoint):
 * strict, errors name file:line (rows numbered from epoch 0, iterations increasing). */
typedef struct mc_colorlog_row {
    int epoch;
    long iter;
    double train, val, psnr, ssim, lr, seconds;
} mc_colorlog_row;
int mc_colorlog_read(const char *path, mc_colorlog_row **rows, int *n);
/* The input scaling in effect for net: l_scale, l_shift as given; NaN: the network's [net]
 * l_scale/l_shift (colorize-train records a scaling given to it there), else the defaults above; MC_EARG when
 * the input has neither 1 nor 3 channels and no scaling is given, MC_ESHAPE when the output is not
 * 2 x H x W at the input's size. */
int mc_color_input_scaling(const mc_net *net, double *l_scale, double *l_shift);
/* `colorize-predict`: the image at path through net (eval mode), written to out_png as RGB at the
 * image's own size: its own L (full resolution), the predicted ab (x 128) resized bilinearly from
 * the network's size. */
int mc_colorize_predict_file(mc_net *net, const char *path, const char *out_png, double l_scale, double l_shift);

/* A colorization experiment (src/train/colorexp.c; docs/colorize.md): an .exp file whose one
 * section is [colorize] (`medcolor colorize-train X.exp`, and `medcolor train X.exp` hands such a
 * file over), or the same settings from the command line. Unset values (< 0, NULL or NaN) take
 * the defaults in mc_colorexp_resolve. */
typedef struct mc_colorexp {
    char *path;             /* the .exp file, or "command line" */
    char *net;              /* the network cfg */
    char *train, *valid;    /* image folders (mc_imgfolder_load) */
    char *weights;          /* initial weights, through mc_net_import (safetensors or .weights) */
    char *out;              /* the run folder */
    char *set[16];          /* cfg overrides (layer.key=value) */
    int nset;
    int per_class;          /* training images drawn per class: < 0 unset (200), 0 all */
    int val_per_class;      /* validation images per class: < 0 unset (50), 0 all */
    long draw_seed;         /* the draws' seed: < 0 unset (0) */
    uint64_t seed;          /* MC_SEED_UNSET: 0 */
    int batch;              /* 0: the cfg's */
    int epochs;             /* <= 0: 10 */
    int optimizer;          /* MC_OPTIM_*, < 0: adam */
    double lr;              /* <= 0: 1e-4 (adam, adamw), 1e-3 (rmsprop: Keras), 1e-2 (sgd) */
    double beta1, beta2, eps, alpha, momentum, weight_decay; /* < 0: the optimiser's defaults; wd 0 */
    int centered, decoupled; /* < 0: 0, and 1 (weight decay decoupled) */
    double l_scale, l_shift; /* NaN: by the input's channels (mc_color_input_scaling) */
    int samples;            /* < 0: 8 */
    int workers, threads;   /* < 0: 2; 0: all cores */
    int precision;          /* MC_PRECISION_FP32 (default) or _BF16 (mc_net_opts.precision) */
    int gpu;                /* -1: the CPU */
    long max_iters;         /* <= 0: none */
} mc_colorexp;
void mc_colorexp_init(mc_colorexp *e);
void mc_colorexp_clear(mc_colorexp *e);
/* 1 when the .exp file at path is a colorization experiment (its first section is [colorize]),
 * 0 when not (or it cannot be read: the classifier's loader then says why). */
int mc_colorexp_is(const char *path);
int mc_colorexp_load(mc_colorexp *e, const char *path);
/* Fills every unset value; checks that each optimiser setting given applies to the optimiser
 * (as mc_experiment_resolve). */
int mc_colorexp_resolve(mc_colorexp *e);
/* e (resolved) in .exp syntax: out/experiment.exp of a run. */
int mc_colorexp_write(FILE *f, const mc_colorexp *e);
/* The training options of e (resolved); dir = e->out. */
void mc_colorexp_opts(const mc_colorexp *e, mc_colortrain_opts *o);

typedef struct mc_ckpt_meta {
    long next_iter, total_iters, best_iter;
    double best_auc, max_lr;
    uint64_t seed;
    int batch, stage;
    double best_aucs[MC_MAX_LABELS];
    int nlabels;
    int precision; /* load: the MC_PRECISION_* of the run that wrote it, -1 when the checkpoint
                      predates the record (save: the network's, whatever this says) */
} mc_ckpt_meta;
int mc_checkpoint_save(const mc_net *net, const char *path, const mc_ckpt_meta *m);
int mc_checkpoint_load(mc_net *net, const char *path, mc_ckpt_meta *m);
/* For a resume: MC_EARG, naming path and both, when the checkpoint m (loaded from path) was
 * written at another precision than net computes in (mc_net_precision); MC_OK when the same or
 * unrecorded. */
int mc_checkpoint_check_precision(const char *path, const mc_ckpt_meta *m, const mc_net *net);

int mc_mkdirs(const char *path);

/* The weights a run folder stands for (`medcolor eval RUN`, predict, colorize;
 * src/train/runweights.c): the best.weights of the highest-numbered K-STAGE folder that has one.
 * MC_ENOTFOUND when none has (or the folder is not a run folder), naming the folder. */
typedef struct mc_run_weights {
    char path[4096];  /* RUN/K-STAGE/best.weights */
    int stage_index;  /* K */
    int stage;        /* MC_STAGE_* */
    int finished;     /* 1: the stage's DONE exists */
    int later;        /* 1: a later stage folder exists but has no best.weights yet */
} mc_run_weights;
int mc_run_best_weights(const char *run, mc_run_weights *w);

/* Builds the network of cfg for a dataset with nlabels labels: when the cfg's last layer has
 * another number of outputs, it is rebuilt with head.output = nlabels (nlabels <= 0: as is). */
int mc_net_for_labels(mc_net **out, const char *cfg, const mc_net_opts *opts, int nlabels);

/* The bundled demo dataset: n_train + n_valid synthetic chest-X-ray-like w x h JPEGs in
 * CheXpert-v1.0-small's layout under dir, the 5 paper labels drawn into the images. */
int mc_demo_make(const char *dir, int n_train, int n_valid, int w, int h, uint64_t seed);

/* The colorization demo sets (`medcolor demo-data --colorize`; docs/colorize.md): under dir,
 * color/{train,val}/{discs,squares}/NNNNN.png (colour shapes whose hue is a function of their
 * lightness band and of their shape) and xray/{train,val}/{NORMAL,PNEUMONIA}/NNNNN.png (grey demo
 * X-rays), n_train + n_valid images of size x size each, half per class. */
int mc_demo_colorize_make(const char *dir, int n_train, int n_valid, int size, uint64_t seed);

/* ---- the files a run writes (src/train/runfiles.c: each written and read back by the same code;
 * readers are strict and name file:line in their errors) -------------------------------------- */
/* <run>/log.csv: one row per iteration, "stage,epoch,iter,loss,lr,momentum,seconds". */
typedef struct mc_log_row {
    int stage;              /* MC_STAGE_* */
    int epoch;              /* 1-based */
    long iter;              /* 1-based: the iterations done */
    double loss, lr, momentum;
    double seconds;         /* since the stage started (or was resumed) */
} mc_log_row;
/* Opens path for appending rows (and reading: the cut on resume), writing the header when the
 * file is new. */
int mc_log_open(FILE **f, const char *path);
int mc_log_append(FILE *f, const char *path, const mc_log_row *r);
/* Reads every row of a log.csv into *rows[*n] (free() it). */
int mc_log_read(const char *path, mc_log_row **rows, int *n);

/* <run>/K-STAGE/valid.csv: one row per validation, "stage,iter,epoch,loss,"<label>"...,mean"
 * (an AUC is nan for a label without both classes). */
typedef struct mc_valid_row {
    int stage;              /* MC_STAGE_* */
    long iter;
    int epoch;              /* 1-based */
    double loss;            /* validation loss */
    int nlabels;
    double auc[MC_MAX_LABELS];
    double mean;            /* mean AUC */
} mc_valid_row;
typedef struct mc_valid_log {
    int nlabels;
    char *labels[MC_MAX_LABELS];
    mc_valid_row *rows;
    int n;
} mc_valid_log;
int mc_valid_open(FILE **f, const char *path, const char *const *labels, int nlabels);
int mc_valid_append(FILE *f, const char *path, const mc_valid_row *r);
int mc_valid_read(const char *path, mc_valid_log *v);
void mc_valid_log_free(mc_valid_log *v);

/* On resume of stage `stage` from its checkpoint at iteration `it`: the rows that stage wrote
 * after it (an interrupted run goes on writing between checkpoints) are cut from the end of the
 * open file, so that every iteration is logged once. f may be NULL (nothing to do). */
int mc_log_cut(FILE *f, const char *path, int stage, long it);
int mc_valid_cut(FILE *f, const char *path, int stage, long it);

/* <run>/results.csv: per finished stage one row per label and a "mean" row,
 * "stage_index,stage,data,label,auc,best_iter,iters,seconds" (labels quoted; the mean row is the
 * one whose label is the unquoted word mean). */
typedef struct mc_stage_result {
    int stage_index; /* 1-based */
    int stage;       /* MC_STAGE_* */
    char data[512];  /* the stage's .data */
    double mean_auc; /* the "mean" row (best validation mean AUC) */
    long best_iter, iters;
    double seconds;
    int nlabels;
    char *labels[MC_MAX_LABELS];
    double auc[MC_MAX_LABELS];
} mc_stage_result;
/* Writes rundir/results.csv (atomically) with the results of stages res[0..n) (stage_index k+1). */
int mc_results_write(const char *rundir, const mc_stage_result *res, int n);
/* Reads rundir/results.csv into *res[*n] (one per finished stage, in stage order). */
int mc_results_load(const char *rundir, mc_stage_result **res, int *n);
void mc_results_free(mc_stage_result *res, int n);

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
    int precision;          /* MC_PRECISION_FP32 (default) or _BF16 (mc_net_opts.precision) */
    int gpu;                /* -1: CPU; >= 0: the CUDA device (a GPU build) */
    double weight_decay;    /* < 0: unset (finally 1e-2) */
    int decoupled;          /* < 0: unset (finally 1) */
    /* the optimiser (docs/training.md): MC_OPTIM_*, < 0 unset (finally sgd); its settings, < 0
     * unset (finally torch.optim's defaults); each applies to some optimisers only */
    int optimizer;
    double beta1, beta2, eps, alpha, momentum;
    int centered, cycle_momentum; /* < 0: unset (finally 0 and 1) */
    int frozen_bn;          /* MC_FROZEN_BN_*; < 0: unset (finally batch) */
    double max_lr;          /* every stage's, below [stage]: <= 0 unset */
    int epochs;             /* <= 0: unset */
    long checkpoint_every;  /* 0: unset; else as in a stage */
    int keep_color;         /* 1: a first color stage keeps T from the weights (no fresh T) */
    /* data-parallel runs (mc_run_opts.dist, docs/distributed.md) */
    int bn_sync;            /* 1 (default): batch norm over the global batch; 0: each rank's own */
    int batch_per_rank;     /* 0 (default): batch is the global batch, cut into N parts; 1: each rank's */
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
/* How mc_experiment_run runs (zero = a fresh run, silent, to the end). */
typedef struct mc_run_opts {
    int resume;             /* skip finished stages, continue the started one from its checkpoint
                             * (MC_ENOTFOUND when the folder holds no run) */
    int overwrite;          /* a fresh start (resume 0) into a folder that holds a run replaces its
                             * files; without it that is refused (MC_EARG) */
    long stop_after;        /* > 0: see mc_train_opts.stop_after */
    /* non-NULL: see mc_train_opts.interrupt; an interrupted run returns MC_OK with the stage's
     * checkpoint written, and *interrupt still set for the caller to see */
    volatile sig_atomic_t *interrupt;
    mc_train_event_fn on_event; /* progress events of every stage (NULL: none) */
    void *event_ctx;
    /* the processes of a data-parallel run (src/dist/dist.h; NULL: this one): every rank calls
     * mc_experiment_run, rank 0 alone writes the run's files */
    struct mc_dist *dist;
} mc_run_opts;
/* Runs every stage in order into e->out. Writes out/experiment.exp (the settings in effect),
 * out/log.csv, out/K-STAGE/valid.csv, out/results.csv (after every stage). o may be NULL. A
 * fresh start that fails before any checkpoint removes what it wrote (and the folder if it made
 * it), so that it can simply be started again. */
int mc_experiment_run(const mc_experiment *e, const mc_run_opts *o);
/* Whether e->out holds a run (log.csv, results.csv or a K-STAGE folder: *started) and whether
 * every stage of e is DONE there (*finished). */
int mc_run_folder_state(const mc_experiment *e, int *started, int *finished);

#ifdef __cplusplus
}
#endif
#endif
