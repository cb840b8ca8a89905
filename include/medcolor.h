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
} mc_net_opts;

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

/* The value of a [net] key as written in the cfg (training settings such as max_lr), or NULL. */
const char *mc_net_cfg_value(const mc_net *net, const char *key);

/* ---- groups, freezing, modes -------------------------------------------------------------- */
int mc_net_num_groups(const mc_net *net);
const char *mc_net_group_name(const mc_net *net, int g);
/* Frozen: no update and no weight gradient, but the gradient still flows to the input. */
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
/* Backward from the cost layer (the last layer must be [cost]). */
int mc_net_backward(mc_net *net);
/* Backward from a given gradient dL/d(output of the last layer), host (batch, outputs):
 * for networks without a cost layer, or to back-propagate an outside loss. */
int mc_net_backward_from(mc_net *net, const float *dy_host);
int mc_net_zero_grad(mc_net *net);
float mc_net_loss(const mc_net *net); /* of the last forward, NaN when there is no cost layer */
/* Copies layer i's output (i = -1: last layer; for [cost] the sigmoid probabilities). */
int mc_net_get_output(const mc_net *net, int i, float *host);
/* dL/d(input), after backward with mc_net_want_input_grad(net, 1). */
int mc_net_get_input_grad(const mc_net *net, float *host);

/* ---- optimiser ----------------------------------------------------------------------------- */
typedef struct mc_sgd {
    float lr;
    float momentum;      /* PyTorch SGD: v = momentum*v + g; p -= lr*v */
    float weight_decay;
    int decoupled;       /* 1: p -= lr*wd*p (fastai/AdamW style); 0: g += wd*p (classic L2) */
} mc_sgd;
/* Updates every trainable tensor outside frozen groups; clears momentum with mc_net_reset_optimizer. */
int mc_net_sgd_step(mc_net *net, const mc_sgd *opt);
int mc_net_reset_optimizer(mc_net *net);

/* ---- weights -------------------------------------------------------------------------------
 * darknet's .weights format: int32 major, minor, revision; uint64 seen; then per layer in
 * order its tensors in darknet order (see docs/weights.md). Saving is atomic. */
int mc_net_save_weights(const mc_net *net, const char *path);
int mc_net_load_weights(mc_net *net, const char *path);
uint64_t mc_net_seen(const mc_net *net);
void mc_net_set_seen(mc_net *net, uint64_t seen);

/* ---- the paper's stages ---------------------------------------------------------------------
 * Freezing of the groups color (T), backbone (E), head (C) per stage (docs/training.md). */
enum { MC_STAGE_BASELINE = 0, MC_STAGE_BASELINE_ALL, MC_STAGE_COLOR, MC_STAGE_ALL, MC_STAGE_LAST,
       MC_NUM_STAGES };
int mc_stage_from_name(const char *name); /* stage or MC_EARG */
const char *mc_stage_name(int stage);
int mc_stage_apply(mc_net *net, int stage);

/* ---- runtime -------------------------------------------------------------------------------- */
void mc_set_threads(int n); /* OpenMP + OpenBLAS threads; 0 = all cores */

#ifdef __cplusplus
}
#endif

/* the rest of the public API */
#include "mc_data.h"  /* datasets (.data files, CheXpert / NIH / MURA / CSV readers, subsets) */
#include "mc_image.h" /* image decoding, the paper's augmentation, the batch loader */
#include "mc_io.h"    /* safetensors, PNG output, plots */
#endif
