/* net.h — the network and layer structures shared by the engine (src/engine/) and the layers
 * (src/layers/) (internal).
 *
 * A network is a list of layers in execution order. Each layer reads the outputs of earlier
 * layers (by default the previous one; index -1 is the network input) and owns its output
 * (batch, out_c, out_h, out_w) and the gradient of the loss with respect to that output
 * ("delta", the true gradient dL/dy, accumulated by every consumer with beta = 1).
 *
 * Parameters live in one allocation (llm.c style): all trainable tensors of all layers in
 * layer order in net->params, their gradients at the same offsets in net->grads and the
 * optimiser's state (SGD momentum, Adam's moments, ...) in net->opt_state[]. Non-trainable tensors (BatchNorm running statistics) live in
 * net->buffers. A layer's trainable tensors are contiguous, so the optimiser skips a frozen
 * layer as one range.
 *
 * A layer type is a table of functions (mc_layer_ops) registered by section name in
 * layers/registry.c; each lives in one file under src/layers/.
 */
#ifndef MC_NET_H
#define MC_NET_H

#include <limits.h>
#include "engine/backend.h"
#include "engine/cfg.h"

#define MC_MAX_TENSORS 8
#define MC_OPT_SLOTS MC_OPT_MAX_SLOTS /* optimiser state tensors at most (RMSprop centered with momentum) */
#define MC_INPUT (-1) /* layer index of the network input */

typedef struct mc_net mc_net;
typedef struct mc_layer mc_layer;

typedef struct mc_tensor {
    char name[32];      /* local name: "weight", "bias", "bn.weight", "bn.running_mean", ... */
    char *full;         /* "<owner>.<name>", owned */
    char owner[112];    /* "" = the layer's label; else another module name (bn_name=) */
    int ndim, dims[4];
    size_t numel;
    int trainable;
    size_t offset;      /* into net->params (trainable) or net->buffers */
    float *data;        /* backend memory */
    float *grad;        /* backend memory, trainable only */
    int init;           /* MC_INIT_* for mc_net_init_params */
    float init_arg;     /* bound / value / fan for the init rule */
} mc_tensor;

/* initialisation rules (PyTorch semantics; fan_in from dims[1..]) */
enum {
    MC_INIT_ZERO = 0,
    MC_INIT_ONE,
    MC_INIT_KAIMING_UNIFORM, /* kaiming_uniform(a=sqrt 5) = U(+-1/sqrt(fan_in)), PyTorch default */
    MC_INIT_BIAS_UNIFORM,    /* U(+-1/sqrt(init_arg)) with init_arg = fan_in of the weight */
    MC_INIT_XAVIER_UNIFORM,  /* U(+-sqrt(6/(fan_in+fan_out))) */
    MC_INIT_ICNR,            /* kaiming-normal of (out/r^2, in, kh, kw), repeated r^2 times; init_arg = r */
    MC_INIT_KAIMING_NORMAL   /* N(0, 2/fan_in) */
};

typedef struct mc_layer_ops {
    const char *section; /* cfg section name, e.g. "convolutional" */
    /* Reads the section's keys, sets inputs (default: previous layer, already set by the
     * net), output shape and tensors (mc_layer_tensor). Input shapes are known. */
    int (*parse)(mc_layer *l, mc_net *net, mc_cfg_section *s);
    /* Called after allocation and whenever the batch size changes: descriptors, own buffers,
     * workspace / scratch needs (l->ws_need, l->scratch_need in floats). May be NULL. */
    int (*setup)(mc_layer *l, mc_net *net);
    int (*forward)(mc_layer *l, mc_net *net);
    /* Accumulates into the deltas of its inputs that need one (mc_in_delta != NULL) and,
     * when l->want_wgrad, into its tensors' gradients. */
    int (*backward)(mc_layer *l, mc_net *net);
    void (*destroy)(mc_layer *l, mc_net *net); /* frees l->priv contents; may be NULL */
    /* 1: backward writes every input delta it is handed (mc_in_delta != NULL) exactly once, with
     * mc_in_delta_beta(l, k) as that write's beta. The net then hands a layer that is the first
     * writer of a delta (the last reader in the forward order) that delta unzeroed, to be
     * overwritten (beta 0), instead of zeroing it first (run.c). 0: every delta it writes into
     * is zeroed first and it accumulates (beta 1). */
    int overwrites_deltas;
} mc_layer_ops;

struct mc_layer {
    const mc_layer_ops *ops;
    int index;
    char name[96];        /* user name= (with include prefix), or "" */
    char label[112];      /* name if set, else the index: prefix of tensor names */
    int group;            /* index into net->groups */
    const char *file;     /* where it is defined (owned by net->cfg strings) */
    int line;
    int n_in;
    int *in;              /* [n_in] input layer indices, MC_INPUT for the network input */
    int c, h, w;          /* shape of the first input */
    int out_c, out_h, out_w;
    size_t out_n;         /* out_c * out_h * out_w */
    float *output;        /* (batch, out_c, out_h, out_w) */
    float *delta;         /* (batch, out_c, out_h, out_w) dL/d output */
    mc_tensor t[MC_MAX_TENSORS];
    int nt;
    size_t nparams;       /* trainable floats, contiguous at net->params + param_offset */
    size_t param_offset;
    size_t ws_need;       /* floats of backend workspace (shared by all layers) */
    size_t scratch_need;  /* floats of scratch per net (shared by all layers) */
    int want_wgrad;       /* set by the net before backward: compute weight gradients */
    unsigned fresh;       /* set by the net around backward: bit k, input k's delta holds nothing
                             yet (not zeroed): mc_in_delta_beta(l, k) is 0 (ops->overwrites_deltas) */
    int active;           /* set by the net: this layer runs backward */
    void *priv;           /* type-specific state */
};

struct mc_net {
    mc_backend *be;
    mc_cfg *cfg;          /* kept for file names and [net] settings */
    int batch;
    int in_c, in_h, in_w;
    int n;
    mc_layer *layers;
    char **groups;
    int ngroups;
    int *group_frozen;    /* [ngroups] */
    int train;
    int frozen_bn_mode;
    int want_input_grad;
    float *input;         /* (batch, in_c, in_h, in_w) backend memory */
    float *input_delta;   /* same, allocated when wanted */
    float *truth, *mask;  /* (batch, outputs) for the cost layer */
    int has_mask;
    float *params, *grads; /* trainable blob (backend memory) */
    /* the optimiser's state (optim.c), each nparams floats at the parameters' offsets, allocated
     * when first needed: SGD [0] momentum; Adam/AdamW [0] exp_avg, [1] exp_avg_sq; RMSprop
     * [0] square_avg, [1] grad_avg (centered), [2] momentum buffer */
    float *opt_state[MC_OPT_SLOTS];
    int opt_type;         /* MC_OPTIM_* the state belongs to; -1: none yet */
    long long opt_steps;  /* steps taken (Adam's bias correction) */
    int *pinned;          /* [n] or NULL: outputs kept by an inference-only network (mc_net_keep_output) */
    size_t nparams;
    float *buffers;       /* non-trainable blob */
    size_t nbuffers;
    float *ws;            /* workspace, ws_size floats */
    size_t ws_size;
    float *scratch;       /* scratch, scratch_size floats */
    size_t scratch_size;
    int deltas_ready;     /* deltas allocated for the current batch */
    int infer_only;       /* mc_net_opts.inference_only: outputs planned by lifetime */
    float *out_arena;     /* then: the block all outputs live in */
    int fwd_last;         /* the layer the last forward pass ended at (-1: none since allocation) */
    double loss;
    uint64_t seen;
    int nwarn;            /* tensors with |value| > MC_WEIGHT_WARN_ABS in the last load/import */
    char warn[512];       /* the message about the first of them */
    uint64_t seed;
    mc_cfg_section *netsec; /* the [net] section */
    char **tensor_names;  /* flat index -> (layer, tensor) */
    int ntensors;
    int *tensor_layer, *tensor_slot;
    mc_netmeta *meta;     /* what its .weights carry (netmeta.c), NULL: none */
    /* data-parallel training (src/dist/, set by mc_dist_attach): non-NULL, the training loss is
     * normalised over every process's batch (cost.c), and with sum_bn batch norm takes the
     * statistics of every process's batch (mc_bn_desc.sum) */
    mc_sum_fn sum;
    void *sum_ctx;
    int sum_bn;
    /* data-parallel (src/dist/dist_train.c): called by a whole backward pass after each layer j,
     * from the last down (whether or not it ran), once its weight gradient is final: the
     * gradient buckets whose layers are all done start their sums there, overlapped with the
     * rest of the pass. NULL: none. */
    int (*grad_ready)(void *ctx, mc_net *net, int j);
    void *grad_ready_ctx;
};

/* for layer implementations ----------------------------------------------------------------- */
/* The largest tensor the engine supports, in values: a layer's output for one image (c*h*w),
 * the network's input image, and each parameter tensor (the backends index inside an image and
 * a tensor with int). Layers compute shapes in 64 bits and set them with mc_layer_out. */
#define MC_MAX_ELEMS ((int64_t)INT_MAX)
/* Sets l->out_c, out_h, out_w; an error naming the section (s) when one is below 1 or the
 * output has more than MC_MAX_ELEMS values per image. */
int mc_layer_out(mc_layer *l, const mc_cfg_section *s, int64_t c, int64_t h, int64_t w);
/* Declares a tensor; returns its slot index or a negative error. dims: ndim values. */
int mc_layer_tensor(mc_layer *l, const char *name, int trainable, int init, float init_arg, int ndim,
                    const int *dims);
/* Output / delta of the k-th input of l (the network input for MC_INPUT). delta is NULL when
 * nothing upstream needs the gradient. */
float *mc_in_output(mc_net *net, const mc_layer *l, int k);
float *mc_in_delta(mc_net *net, const mc_layer *l, int k);
/* The beta of a backward's write into input k's delta: 0 where this layer is its first writer
 * (l->fresh; the delta holds garbage, to be overwritten), else 1 (accumulate). */
float mc_in_delta_beta(const mc_layer *l, int k);
const mc_layer *mc_in_layer(const mc_net *net, const mc_layer *l, int k); /* NULL for MC_INPUT */
void mc_in_shape(const mc_net *net, const mc_layer *l, int k, int *c, int *h, int *w);
/* Resolves a layer reference ("-2", "5", a name, or "input") relative to layer l. */
int mc_resolve_layer(mc_net *net, const mc_layer *l, const char *ref, const mc_cfg_section *s,
                     const char *key, int *out);
/* Parses activation= (and slope=, min=, max=) of a section. */
int mc_parse_activation(mc_cfg_section *s, const char *def, mc_act *act);
const char *mc_act_name(int type);
/* Does this BatchNorm (in layer l) use batch statistics now? (train mode, and not frozen with
 * MC_FROZEN_BN_RUNNING) */
int mc_bn_use_batch(const mc_net *net, const mc_layer *l);
int mc_layer_frozen(const mc_net *net, const mc_layer *l);
/* File:line of a layer for messages. */
const char *mc_layer_where(const mc_layer *l, char *buf, size_t n);
/* Checks loaded values v[n] of tensor name from file path (weights.c): a NaN or infinity is an
 * error (MC_ENUM) naming both and the element; a magnitude above MC_WEIGHT_WARN_ABS counts
 * the tensor in net->nwarn (the first one's message in net->warn). */
int mc_check_loaded(mc_net *net, const char *path, const char *name, const float *v, size_t n);
/* Allocate / free backend memory owned by a layer (re-allocates when n changes). */
int mc_layer_buf(mc_net *net, float **p, size_t n, const char *what);

const mc_layer_ops *mc_layer_ops_find(const char *section);

/* for the engine's own files (src/engine/) ----------------------------------------------------
 * net.c builds, memory.c plans memory, params.c holds parameters, run.c runs passes. */
int mc_net_find_group(mc_net *net, const char *name, int create); /* index, or MC_ENOTFOUND */
const mc_layer *mc_net_layer_at(const mc_net *net, int i);         /* -1: the last; NULL past the end */
mc_tensor *mc_net_tensor_at(const mc_net *net, int i);             /* flat tensor index */
int mc_net_alloc_params(mc_net *net);        /* the parameter blob and the tensor index */
int mc_net_alloc_activations(mc_net *net);   /* outputs, layer setup, workspace (again on a batch change) */
void mc_net_free_activations(mc_net *net);
/* places the deltas of the active layers; last[i] = the backward step where layer i's delta
 * becomes live */
int mc_net_plan_deltas(mc_net *net, int *last);
const char *mc_layer_sections(void); /* comma-separated list, for messages */


/* ---- [net] keys of medcolor's trainer (docs/cfg.md, docs/training.md) ----------------------
 * The network's defaults for `medcolor train` / `finetune`, below the experiment file and the
 * command line. Validated whenever a cfg is read; "not given" as noted. */
typedef struct mc_net_train_keys {
    double max_lr;          /* one-cycle peak; 0: not given */
    int epochs;             /* 0: not given */
    long checkpoint_every;  /* iterations, or MC_EVERY_EPOCH; 0: not given */
    double weight_decay;    /* < 0: not given */
    int decoupled;          /* decoupled_wd 0/1; < 0: not given */
    long long seed;         /* < 0: not given */
    int frozen_bn;          /* MC_FROZEN_BN_*; < 0: not given */
    int batch;              /* the network's batch= (mc_net_cfg_train_keys only; 1 when not given) */
} mc_net_train_keys;
/* checkpoint_every = N (iterations) or epoch (MC_EVERY_EPOCH); absent: *out unchanged */
int mc_cfg_checkpoint_every(mc_cfg_section *s, long *out);
/* Reads (and validates) them from a [net] section; refuses darknet's training keys. */
int mc_net_section_train_keys(mc_cfg_section *s, mc_net_train_keys *k);
/* The same from a cfg file with its layer.key=value overrides (only net.* ones matter),
 * without building the network. */
int mc_net_cfg_train_keys(const char *path, const char *const *set, mc_net_train_keys *k);

#endif
