/* medcolor.h — the public API of libmedcolor.
 *
 * A short tutorial
 * ----------------
 *     mc_net *net;
 *     if (mc_net_from_cfg(&net, "cfg/resnet18-pixelshuffle.cfg", NULL) < 0) {
 *         fprintf(stderr, "%s\n", mc_errmsg());      // e.g. "x.cfg:12: unknown key 'fliters' ..."
 *         return 1;
 *     }
 *     mc_net_load_weights(net, "model.weights");
 *     mc_net_set_train(net, 1);
 *     mc_net_freeze(net, "backbone", 1);             // Color Module stage: E frozen
 *     for (...) {
 *         mc_net_set_input(net, images);              // (batch, c, h, w) floats, host memory
 *         mc_net_set_truth(net, labels, mask);        // (batch, outputs); mask 0 = ignore
 *         mc_net_zero_grad(net);
 *         mc_net_forward(net);
 *         mc_net_backward(net);                       // gradients accumulate (+=)
 *         mc_net_sgd_step(net, &(mc_sgd){.lr = 1e-3f, .momentum = 0.9f, .weight_decay = 1e-2f,
 *                                        .decoupled = 1});
 *     }
 *     mc_net_save_weights(net, "out.weights");       // written atomically
 *     mc_net_free(net);
 *
 * Conventions
 * - Every function returns MC_OK (0) or a negative MC_E* code, or NULL on failure; the message
 *   of the calling thread's last error is mc_errmsg(). The library never exits.
 * - Tensors are float32, NCHW, PyTorch layouts (conv weight [out][in/groups][kh][kw];
 *   transposed-conv weight [in][out/groups][kh][kw]; linear weight [out][in]).
 * - Gradients are true gradients dL/dx (not darknet's negative "delta") and accumulate.
 * - Pointers documented as "host" are ordinary memory; the network's own buffers may live on
 *   a device, so copy in and out with the functions below.
 */
#ifndef MEDCOLOR_H
#define MEDCOLOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MC_VERSION "0.1.0"

/* ---- errors ------------------------------------------------------------------------------ */
enum {
    MC_OK = 0,
    MC_ENOMEM = -1,    /* allocation failed */
    MC_EIO = -2,       /* file missing, unreadable, truncated, disk full */
    MC_EPARSE = -3,    /* malformed cfg / data / csv / weights */
    MC_ESHAPE = -4,    /* impossible or mismatched shape */
    MC_EARG = -5,      /* bad argument to an API call */
    MC_ENUM = -6,      /* NaN / Inf */
    MC_EBACKEND = -7,  /* BLAS / CUDA / cuDNN failure */
    MC_EUNSUP = -8,    /* not supported by this build or backend */
    MC_ENOTFOUND = -9  /* a named thing does not exist */
};
const char *mc_errmsg(void);       /* last error message of this thread */
const char *mc_strerror(int code); /* generic text of a code */
void mc_clear_error(void);

/* ---- networks ---------------------------------------------------------------------------- */
typedef struct mc_net mc_net;

enum { MC_BACKEND_CPU = 0, MC_BACKEND_CUDA = 1 };

typedef struct mc_net_opts {
    int batch;      /* 0: take [net] batch= from the cfg */
    int backend;    /* MC_BACKEND_CPU (default) or MC_BACKEND_CUDA */
    int gpu;        /* device index for MC_BACKEND_CUDA */
    uint64_t seed;  /* initialisation seed (0 is a valid seed) */
    int no_init;    /* 1: leave parameters at zero (they will be loaded) */
    /* Overrides of cfg keys, "layer.key=value" (layer = a layer's full name=, e.g.
     * "head.output=1"), NULL-terminated; NULL = none. */
    const char *const *set;
    /* 1: the network only runs forward passes in eval mode (predict, eval, colorize). Layer
     * outputs then share one block of memory by lifetime (an output lives from its layer's
     * forward to its last reader's), as PyTorch under no_grad frees them: DenseNet121 at batch
     * 16 needs a few hundred MB instead of ~4.6 GB. Only the output of the layer the last
     * forward pass ended at can be read; train mode and backward are refused. */
    int inference_only;
    /* CPU backend: the threads its operations run on; 0 = OpenMP's default (OMP_NUM_THREADS,
     * else all cores). A setting of this network only: nothing process-wide changes. Results
     * are bitwise the same for every thread count (docs/performance.md). */
    int threads;
    /* CPU backend: Winograd F(2x2, 3x3) for the 3x3 stride-1 convolutions that qualify.
     * MC_WINOGRAD_AUTO (0): on, unless the environment variable MC_CPU_WINOGRAD (read when the
     * network is built) says 0 (off) or 4 (F(4x4, 3x3)); MC_WINOGRAD_ON / MC_WINOGRAD_OFF /
     * MC_WINOGRAD_4X4 whatever the environment. They differ in float rounding: F(4x4, 3x3) has
     * fewer multiplications and ~5x F(2x2, 3x3)'s rounding error (docs/performance.md). */
    int winograd;
    /* The arithmetic of the convolution and connected-layer GEMMs (forward, backward-data,
     * backward-filter). MC_PRECISION_FP32 (0, default): float32. MC_PRECISION_BF16: the CPU
     * backend rounds both operands to bfloat16 and sums in float32, as PyTorch's CPU autocast
     * does (own kernels on AVX512-BF16; Winograd is bypassed); everything else (batch norm,
     * activations, losses, the optimiser, the weights themselves) stays float32. Refused
     * (MC_EUNSUP) on a CPU without AVX512-BF16 and by the CUDA backend. docs/performance.md. */
    int precision;
} mc_net_opts;
enum { MC_WINOGRAD_AUTO = 0, MC_WINOGRAD_ON = 1, MC_WINOGRAD_OFF = 2, MC_WINOGRAD_4X4 = 3 };
enum { MC_PRECISION_FP32 = 0, MC_PRECISION_BF16 = 1 };

/* Builds a network from a darknet-style cfg file (or text). opts may be NULL. */
int mc_net_from_cfg(mc_net **out, const char *path, const mc_net_opts *opts);
int mc_net_from_string(mc_net **out, const char *text, const char *name, const mc_net_opts *opts);
void mc_net_free(mc_net *net);
/* Re-allocates activations for another batch size (parameters are kept). */
int mc_net_set_batch(mc_net *net, int batch);
int mc_net_batch(const mc_net *net);
/* Re-initialises every parameter of the given group (NULL = all) from seed. */
int mc_net_init_params(mc_net *net, const char *group, uint64_t seed);

/* Shapes. Per-sample shape (c, h, w) of the input and of layer i's output (i = -1: last). */
void mc_net_input_shape(const mc_net *net, int *c, int *h, int *w);
int mc_net_num_layers(const mc_net *net);
int mc_net_layer_shape(const mc_net *net, int i, int *c, int *h, int *w);
const char *mc_net_layer_type(const mc_net *net, int i);
const char *mc_net_layer_group(const mc_net *net, int i);
const char *mc_net_layer_name(const mc_net *net, int i); /* "" when unnamed */
int mc_net_num_outputs(const mc_net *net);                 /* per-sample outputs of the last layer */
/* The backend the network runs on ("cpu", "cuda") and its thread count (CPU; 0 otherwise). */
const char *mc_net_backend_name(const mc_net *net);
int mc_net_threads(const mc_net *net);
/* The arithmetic of its GEMMs: MC_PRECISION_FP32 or MC_PRECISION_BF16 (mc_net_opts.precision). */
int mc_net_precision(const mc_net *net);
/* OpenBLAS picks its GEMM kernels from the CPU's model number; a VM that masks it, or a CPU newer
 * than the OpenBLAS release, gets an older core's kernels (2.6x slower seen: docs/performance.md).
 * *chosen = OpenBLAS's core (openblas_get_corename); returns 1 and sets *better to the
 * OPENBLAS_CORETYPE whose kernels use the CPU's AVX-512 or AVX2 when the chosen core's do not,
 * else 0 (*better = NULL). OpenBLAS reads the variable once at load: it takes a new process. */
int mc_blas_core_check(const char **chosen, const char **better);
/* Who runs the CPU backend's float32 GEMMs (every convolution ends in one): medcolor's own
 * kernels, 2 the AVX-512 ones, 1 the AVX2 ones (the same bits; whatever OpenBLAS chose:
 * docs/performance.md); 0 OpenBLAS, on CPUs without AVX2 and FMA; the environment variable
 * MC_CPU_GEMM=openblas|own chooses; -1 for any other value, or `own` on a CPU without AVX2 and
 * FMA (the CPU backend will refuse it). mc_cpu_gemm_name says the same as text: "medcolor's own
 * AVX-512 kernels", "medcolor's own AVX2 kernels", "OpenBLAS", or the reason for the refusal. */
int mc_cpu_gemm_own(void);
const char *mc_cpu_gemm_name(void);
/* The widest x86 vector instructions this CPU has that matter for GEMM, as text. */
const char *mc_cpu_vector_isa(void);
/* 1 when this CPU can run the bf16 mode (AVX512-F and AVX512-BF16; mc_net_opts.precision). */
int mc_cpu_has_bf16(void);

/* The value of a [net] key as written in the cfg (training settings such as max_lr), or NULL. */
const char *mc_net_cfg_value(const mc_net *net, const char *key);

/* ---- groups, freezing, modes -------------------------------------------------------------- */
int mc_net_num_groups(const mc_net *net);
const char *mc_net_group_name(const mc_net *net, int g);
/* Frozen: no update and no weight gradient, but the gradient still flows to the input.
 * group NULL: every group (a fixed feature extractor, e.g. the colour transfer's VGG19). */
int mc_net_freeze(mc_net *net, const char *group, int frozen);
int mc_net_group_frozen(const mc_net *net, const char *group);
void mc_net_set_train(mc_net *net, int train); /* 1 train (batch statistics), 0 eval */
int mc_net_is_train(const mc_net *net);
/* How a BatchNorm inside a frozen group behaves in train mode:
 * MC_FROZEN_BN_BATCH (default; the paper's code): batch statistics, running stats updated;
 * MC_FROZEN_BN_RUNNING: running statistics, not updated. */
enum { MC_FROZEN_BN_BATCH = 0, MC_FROZEN_BN_RUNNING = 1 };
void mc_net_set_frozen_bn(mc_net *net, int mode);
/* Also compute dL/d(network input) in backward (off by default: it costs a convolution). */
void mc_net_want_input_grad(mc_net *net, int want);

/* ---- parameters ----------------------------------------------------------------------------
 * Every layer owns named tensors. The full name is "<layer>.<tensor>" where <layer> is the
 * layer's name= or its index; tensor names follow PyTorch ("weight", "bias", "bn.weight",
 * "bn.bias", "bn.running_mean", "bn.running_var"). Trainable tensors have gradients. */
typedef struct mc_tensor_info {
    const char *name;  /* full name, owned by the net */
    int layer;         /* layer index */
    int ndim;
    int dims[4];
    size_t numel;
    int trainable;     /* 0: buffer (BN running statistics) */
} mc_tensor_info;
int mc_net_num_tensors(const mc_net *net);
int mc_net_tensor_info(const mc_net *net, int i, mc_tensor_info *info);
int mc_net_find_tensor(const mc_net *net, const char *name); /* index or MC_ENOTFOUND */
int mc_net_tensor_get(const mc_net *net, int i, float *host);
int mc_net_tensor_set(mc_net *net, int i, const float *host);
int mc_net_tensor_grad(const mc_net *net, int i, float *host); /* trainable tensors only */
/* Trainable parameter counts: all of them, and those not in frozen groups. */
size_t mc_net_num_params(const mc_net *net);
size_t mc_net_num_trainable(const mc_net *net);
size_t mc_net_group_params(const mc_net *net, const char *group);

/* ---- compute ------------------------------------------------------------------------------ */
int mc_net_set_input(mc_net *net, const float *host);  /* (batch, c, h, w) */
/* Labels for the cost layer: (batch, outputs) in {0,1} (any real in [0,1] is accepted);
 * mask (batch, outputs): 1 = counts, 0 = ignored; NULL = all count. */
int mc_net_set_truth(mc_net *net, const float *labels, const float *mask);
int mc_net_forward(mc_net *net);
/* Forward through layers 0..last only (e.g. the colorization module alone). */
int mc_net_forward_to(mc_net *net, int last);
/* Index of the last layer of a group (-1 when absent): e.g. T's output is the last "color" layer. */
int mc_net_group_last_layer(const mc_net *net, const char *group);
/* Backward from the cost layer (the last layer must be [cost]). */
int mc_net_backward(mc_net *net);
/* Backward from a given gradient dL/d(output of the last layer), host (batch, outputs):
 * for networks without a cost layer, or to back-propagate an outside loss. */
int mc_net_backward_from(mc_net *net, const float *dy_host);
/* Backward from gradients given at the outputs of several layers at once (losses on several
 * "taps": the gradient of their sum). dy_host[k], host (batch, outputs of layer layers[k]), is
 * dL/d(output of layers[k]) from the outside loss; the layers are distinct, any order. The pass
 * runs from the highest of them down (layers past it do no work), so a forward pass to that
 * layer (mc_net_forward_to) is enough. Weight gradients accumulate as in mc_net_backward (none
 * for frozen groups); with mc_net_want_input_grad(net, 1) and every group frozen it computes
 * only dL/d(input). */
int mc_net_backward_taps(mc_net *net, int ntaps, const int *layers, const float *const *dy_host);
/* The gradient of an outside loss at the output of layer `at` (Grad-CAM's dy_c/dA): the taps as
 * in mc_net_backward_taps (none below `at`; a tap may be `at` itself), but only the layers after
 * `at` that read its output, directly or not, run backward, none at or below it, and no weight
 * gradient is computed (the parameters' gradients are left as they were); then dL/d(output of
 * at), host (batch, outputs of at), is copied to grad_host. Eval or train mode as the net is. */
int mc_net_layer_grad(mc_net *net, int ntaps, const int *layers, const float *const *dy_host, int at,
                      float *grad_host);
int mc_net_zero_grad(mc_net *net);
/* *ok = 1 when every parameter and buffer is finite. */
int mc_net_params_finite(const mc_net *net, int *ok);
float mc_net_loss(const mc_net *net); /* of the last forward, NaN when there is no cost layer */
/* Copies layer i's output (i = -1: last layer; for [cost] the sigmoid probabilities). */
int mc_net_get_output(const mc_net *net, int i, float *host);
/* dL/d(input), after backward with mc_net_want_input_grad(net, 1). */
int mc_net_get_input_grad(const mc_net *net, float *host);

/* ---- optimisers (docs/training.md) ----------------------------------------------------------
 * Each is torch.optim's update, element by element in its order of operations, on every
 * trainable tensor outside frozen groups (the backend's sgd / adam / rmsprop operations). */
enum { MC_OPTIM_SGD = 0, MC_OPTIM_ADAM, MC_OPTIM_ADAMW, MC_OPTIM_RMSPROP, MC_NUM_OPTIMS };
typedef struct mc_optimizer {
    int type;            /* MC_OPTIM_* */
    double lr;
    double momentum;     /* SGD: v = momentum*v + g, p -= lr*v; RMSprop: buf = momentum*buf + g/avg,
                          * p -= lr*buf (0: no buffer, p -= lr*g/avg) */
    double beta1, beta2; /* Adam/AdamW: m = b1*m + (1-b1)g, v = b2*v + (1-b2)g^2, bias-corrected */
    double alpha;        /* RMSprop: square_avg = alpha*square_avg + (1-alpha)g^2 (Keras' rho) */
    double eps;          /* Adam/AdamW/RMSprop: added to the square root (outside it) */
    double weight_decay;
    /* 1: decoupled, p *= 1 - lr*wd before the update (AdamW's; fastai's true_wd for SGD, Adam and
     * RMSprop; AdamW is always decoupled); 0: wd*p added to the gradient (torch's weight_decay=) */
    int decoupled;
    int centered;        /* RMSprop: divide by the centred second moment */
} mc_optimizer;
/* torch.optim's defaults for the type: lr 1e-3 (SGD 1e-2); SGD momentum 0; Adam(W) betas (0.9,
 * 0.999), eps 1e-8; RMSprop alpha 0.99, eps 1e-8, momentum 0, not centred; weight decay 0
 * (AdamW 1e-2, decoupled). */
void mc_optimizer_defaults(mc_optimizer *o, int type);
const char *mc_optimizer_name(int type);   /* "sgd", "adam", "adamw", "rmsprop" */
int mc_optimizer_from_name(const char *name); /* MC_OPTIM_*, or MC_EARG naming the choices */
/* One step. The state (moments, step count) lives in the net; it belongs to one optimiser type:
 * a step of another type after steps of the first is MC_EARG until mc_net_reset_optimizer. */
int mc_net_step(mc_net *net, const mc_optimizer *opt);
/* Zeroes the optimiser state and its step count (a fresh optimiser). */
int mc_net_reset_optimizer(mc_net *net);

/* SGD with momentum, the classic interface (= mc_net_step with MC_OPTIM_SGD). */
typedef struct mc_sgd {
    float lr;
    float momentum;      /* PyTorch SGD: v = momentum*v + g; p -= lr*v */
    float weight_decay;
    int decoupled;       /* 1: p -= lr*wd*p (fastai/AdamW style); 0: g += wd*p (classic L2) */
} mc_sgd;
int mc_net_sgd_step(mc_net *net, const mc_sgd *opt);

/* The optimiser state, for checkpoints: its type (-1: none yet), the steps taken, and its
 * tensors ("slots", each mc_net_num_params() floats in tensor order): SGD 0 momentum; Adam/AdamW
 * 0 exp_avg, 1 exp_avg_sq; RMSprop 0 square_avg, 1 grad_avg (centered), 2 momentum buffer. A slot
 * is allocated when first used (or set). */
int mc_net_opt_type(const mc_net *net);
long long mc_net_opt_steps(const mc_net *net);
/* Sets type and step count (a restored state); type -1 clears both. */
int mc_net_set_opt_progress(mc_net *net, int type, long long steps);
#define MC_OPT_MAX_SLOTS 3
int mc_net_opt_has_slot(const mc_net *net, int slot); /* 1 when slot holds state */
int mc_net_get_opt_state(const mc_net *net, int slot, float *host); /* zeros when absent */
int mc_net_set_opt_state(mc_net *net, int slot, const float *host);
/* SGD's momentum buffer = slot 0 (the state of every optimiser's first moment). */
int mc_net_get_momentum(const mc_net *net, float *host);
int mc_net_set_momentum(mc_net *net, const float *host);

/* ---- weights -------------------------------------------------------------------------------
 * darknet's .weights format: int32 major, minor, revision; uint64 seen; then per layer in
 * order its tensors in darknet order (see docs/weights.md). Saving is atomic.
 * Loaded values are checked (here and in mc_net_import): a NaN or an infinity is an error
 * naming the file, the tensor and the element; a magnitude above MC_WEIGHT_WARN_ABS is loaded
 * but reported: mc_net_weight_warnings returns how many tensors held such values in the last
 * load or import into net (0: none) and sets *first (may be NULL) to a one-line message about
 * the first of them, valid until the next load or import. The library prints nothing: a
 * program shows it (the CLI prints "warning: ..."). */
#define MC_WEIGHT_WARN_ABS 1e6
int mc_net_save_weights(const mc_net *net, const char *path);
int mc_net_load_weights(mc_net *net, const char *path);
int mc_net_weight_warnings(const mc_net *net, const char **first);
uint64_t mc_net_seen(const mc_net *net);
void mc_net_set_seen(mc_net *net, uint64_t seen);

/* ---- what trained weights carry (docs/weights.md "The metadata trailer") -------------------
 * A .weights file written by `medcolor train` / `finetune` ends, after the last layer's floats
 * (where darknet stops reading), in a trailer holding the network as trained and how to use it,
 * so that eval, predict and colorize rebuild that network without its cfg or --set. */
typedef struct mc_netmeta {
    char *cfg;          /* the network as trained: its cfg with includes expanded and overrides
                         * applied (parses with mc_net_from_string) */
    char *cfg_file;     /* the cfg file it was built from, as given (for people) */
    char **set;         /* the overrides as given, "layer.key=value" [nset] */
    int nset;
    int c, h, w;        /* the input shape */
    char **labels;      /* the name of each output [nlabels] (0: none recorded) */
    int nlabels;
    char *stage;        /* the training stage that wrote it ("color", ...), NULL: none */
    int stage_index;    /* 1-based within its run; 0: none */
    char *data;         /* the .data it was trained (and validated) on, NULL: none */
    char *root;         /* the dataset root given with it (--root), NULL: the .data's own */
    char *version;      /* the medcolor that wrote it (filled when read) */
} mc_netmeta;
/* Attaches metadata to net (copied; NULL detaches): every later mc_net_save_weights appends it,
 * with the net's own cfg text and input shape (m's cfg, c, h, w and version are not used). */
int mc_net_set_meta(mc_net *net, const mc_netmeta *m);
const mc_netmeta *mc_net_meta(const mc_net *net); /* NULL when none */
/* Reads the trailer of a .weights file into *m (free with mc_netmeta_free). MC_ENOTFOUND when
 * the file has none (a plain darknet .weights), MC_EPARSE when it is malformed. */
int mc_weights_meta(const char *path, mc_netmeta *m);
void mc_netmeta_free(mc_netmeta *m);
/* Builds the network the weights carry (opts as for mc_net_from_cfg: batch, backend, set, ...;
 * no_init is implied), loads the weights, and returns the metadata in *m (may be NULL). A plain
 * darknet file is MC_ENOTFOUND: it needs its cfg. */
int mc_net_from_weights(mc_net **out, const char *path, const mc_net_opts *opts, mc_netmeta *m);
/* MC_OK when net (built from a cfg) is the network m was trained as, else MC_EARG naming the
 * first difference, e.g. "net.width: the weights were trained at 64, the cfg says 320 (2
 * differences in all)". Settings that do not change what the network computes ([net] batch,
 * the trainer's keys, freeze, labels; init) are not compared. */
int mc_net_check_meta(const mc_net *net, const mc_netmeta *m);
/* MC_OK when labels[n] are the labels m was trained for (or m records none), else MC_EARG
 * naming both lists; what names the labels' source in the message (e.g. the .data). */
int mc_netmeta_check_labels(const mc_netmeta *m, const char *const *labels, int n, const char *what);

/* ---- the paper's stages ---------------------------------------------------------------------
 * Freezing of the groups color (T), backbone (E), head (C) per stage (docs/training.md). */
enum { MC_STAGE_BASELINE = 0, MC_STAGE_BASELINE_ALL, MC_STAGE_COLOR, MC_STAGE_ALL, MC_STAGE_LAST,
       MC_NUM_STAGES };
int mc_stage_from_name(const char *name); /* stage or MC_EARG */
const char *mc_stage_name(int stage);
int mc_stage_apply(mc_net *net, int stage);
/* MC_EARG when the stage cannot train this network as it says (color without a group color). */
int mc_stage_check(const mc_net *net, int stage);

/* ---- schedules and metrics ------------------------------------------------------------------ */
typedef struct mc_onecycle {
    long total;                 /* iterations */
    double max_lr, pct, div, final_div, mom_max, mom_min;
} mc_onecycle;
/* pct 0.3, div 25, final_div 1e4, momentum 0.95 -> 0.85 -> 0.95 (PyTorch OneCycleLR / fastai v1) */
void mc_onecycle_default(mc_onecycle *s, long total, double max_lr);
void mc_onecycle_at(const mc_onecycle *s, long step, double *lr, double *mom);
/* LR finder: lr_i = start (end/start)^(i/num_it); the suggestion (steepest descent of the
 * smoothed loss after skipping skip_start / skip_end points) and min-loss LR / 10. */
double mc_lrfind_lr(int i, int num_it, double start, double end);
int mc_lrfind_suggest(const double *lrs, const double *smooth, int n, int skip_start, int skip_end,
                      double *steepest_lr, double *minloss_lr);
/* AUC (Mann–Whitney, ties 1/2) of column col of (n x stride) scores/labels into *auc; entries
 * with mask 0 are left out (mask may be NULL). *auc is NaN when a class is absent; out of memory
 * returns MC_ENOMEM (*auc NaN too, but the status says why). */
int mc_auc(const float *score, const float *label, const float *mask, int n, int stride, int col, double *auc);
/* ROC points (fpr, tpr, threshold), one per distinct score, from (0,0); returns the count, or
 * MC_ENOMEM. */
int mc_roc(const float *score, const float *label, const float *mask, int n, int stride, int col,
           double **fpr, double **tpr, double **thr);

/* ---- weight import (docs/import.md) --------------------------------------------------------
 * Sets a built network's tensors from a safetensors file by name, or from a darknet .weights
 * file (format detected from the content). Safetensors names: the canonical names
 * (docs/modules.md and docs/import.md: color.*, backbone.*, head.*); backbone names may lack "backbone."
 * (a torchvision/timm ImageNet state dict loads as E); fc.* / classifier.* load as head.*
 * when the shape fits and are skipped otherwise (ImageNet's 1000 classes); num_batches_tracked
 * is ignored; "module." prefixes and legacy DenseNet names ("norm.1") are understood. Any
 * dtype the reader converts. Shapes must match exactly (MC_ESHAPE naming the tensor, expected
 * and found shape); a network tensor the file lacks is MC_ENOTFOUND unless MC_IMPORT_PARTIAL
 * (then it keeps its value). A failed safetensors import leaves the net unchanged. */
enum { MC_IMPORT_PARTIAL = 1 };
typedef struct mc_import_entry {
    char *name;        /* tensor name: the network's (missing) or the file's (unused, skipped) */
    int ndim;
    int64_t shape[8];
} mc_import_entry;
typedef struct mc_import_report {
    int darknet;               /* 1: the input was a darknet .weights file (every tensor loaded) */
    int pth;                   /* a PyTorch checkpoint (.pth/.pt) read without Python: 1 zip format, 2 legacy */
    int loaded;                /* network tensors set from the file */
    size_t values;             /* their number of values */
    int nrenamed;              /* of those, found under another name (no "backbone.", fc -> head, ...) */
    int nignored;              /* num_batches_tracked tensors ignored */
    int nmissing;              /* network tensors not in the file (filled also when that fails) */
    mc_import_entry *missing;
    int nskipped;              /* fc.* / classifier.* not fitting the head (ImageNet classifier) */
    mc_import_entry *skipped;
    int nunused;               /* file tensors that match nothing */
    mc_import_entry *unused;
} mc_import_report;
/* rep may be NULL; otherwise free it with mc_import_report_free (also after an error). */
int mc_net_import(mc_net *net, const char *path, int flags, mc_import_report *rep);
void mc_import_report_free(mc_import_report *rep);
/* Writes the network's tensors to a safetensors file for PyTorch (src/engine/export.c,
 * docs/import.md "Export"): MC_EXPORT_CANONICAL names (color.*, backbone.*, head.*) or, for a
 * network without a colorization module, MC_EXPORT_TORCHVISION (torchvision's resnet18 /
 * densenet121 names, head as fc.* / classifier.*); a num_batches_tracked = 0 per BatchNorm, so
 * that load_state_dict(strict=True) takes it. *ntensors (may be NULL): tensors written. */
enum { MC_EXPORT_CANONICAL = 0, MC_EXPORT_TORCHVISION = 1 };
int mc_net_export(const mc_net *net, const char *path, int names, int *ntensors);
/* "[64, 1, 7, 7]" into buf[n]; returns buf. */
const char *mc_import_shape_str(int ndim, const int64_t *shape, char *buf, size_t n);

#ifdef __cplusplus
}
#endif

/* the rest of the public API */
#include "mc_data.h"  /* datasets (.data files, CheXpert / NIH / MURA / CSV readers, subsets) */
#include "mc_image.h" /* image decoding, the paper's augmentation, the batch loader */
#include "mc_io.h"    /* safetensors, PNG output, plots */
#include "mc_train.h" /* training stages, evaluation, checkpoints */
#include "mc_study.h" /* experiment grids, run folders, the study's statistics */
#endif
