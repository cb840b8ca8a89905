/* cli.h — the medcolor subcommands. Each one is a function with main()'s signature that
 * returns the process exit status (0 ok, 1 error, 2 usage error); argv[0] is the subcommand
 * name. Each prints its own errors as one line "medcolor <cmd>: <message>" on stderr, and
 * its --help. Only main() (src/cli/main.c) exits. */
#ifndef MC_CLI_H
#define MC_CLI_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include "medcolor.h"

int mc_cli_subset(int argc, char **argv);
int mc_cli_stats(int argc, char **argv);
int mc_cli_info(int argc, char **argv);
int mc_cli_import(int argc, char **argv);
int mc_cli_predict(int argc, char **argv);
int mc_cli_features(int argc, char **argv);
int mc_cli_explain(int argc, char **argv);  /* src/cli/explain.c */

int mc_cli_train(int argc, char **argv);
int mc_cli_finetune(int argc, char **argv);
int mc_cli_eval(int argc, char **argv);
int mc_cli_lrfind(int argc, char **argv);
int mc_cli_colorize(int argc, char **argv);
int mc_cli_demo_data(int argc, char **argv);
int mc_cli_grid(int argc, char **argv);     /* src/cli/grid.c */
int mc_cli_run_grid(int argc, char **argv);
int mc_cli_report(int argc, char **argv);   /* src/cli/report.c */
int mc_cli_export(int argc, char **argv);   /* src/cli/export.c */
int mc_cli_dhash(int argc, char **argv);    /* src/cli/dhash.c */
int mc_cli_quality(int argc, char **argv);  /* src/cli/quality.c */
int mc_cli_transfer(int argc, char **argv); /* src/cli/transfer.c */
int mc_cli_colorize_train(int argc, char **argv);   /* src/cli/colorize_train.c */
int mc_cli_colorize_predict(int argc, char **argv);

/* helpers shared by the commands */
/* --precision: the option's row (dst: const char *), and its value as MC_PRECISION_* (NULL: fp32;
 * the parser has already checked the choice) */
#define MC_CLI_PRECISION_OPT(dst)                                                                     \
    {"--precision", 's', (dst),                                                                       \
     "GEMMs of convolutions and connected layers in fp32, or bf16 (bf16 operands, float32 sums and "  \
     "weights, as PyTorch's CPU autocast; a CPU with AVX512-BF16; docs/performance.md)",               \
     "fp32", "fp32|bf16"}
int mc_cli_precision(const char *v);
/* The image paths of the arguments: a .txt argument is a list file (one path a line). */
int mc_cli_collect_paths(int npos, const char **pos, char ***out, int *n);
/* An option: name ("--max-lr"; aliases separated by ", " as in "-o, --output"; the name of its
 * value after a space, as in "--frac F", else N / X / VALUE from the kind), kind ('s' string ->
 * const char*, 'i' -> long, 'd' -> double, 'f' flag -> int set to 1, 'l' repeatable ->
 * mc_strlist), destination, help, default text, and the values allowed (NULL: any the kind
 * reads), which the parser checks and --help shows: for numbers "A..B" or comparisons ">=A",
 * ">A", "<=B", "<B" joined by ',' (">0,<=1"); for strings the choices joined by '|'
 * ("valid|test"). A value outside is a usage error naming the option: "--iters 0: must be >= 16". */
/* Kind 'w': a grey window "CENTER,WIDTH" (width >= 1), set at once as the process's decoding
 * window (mc_image_set_window; dst, an mc_image_window, may be NULL); a command whose table has one
 * starts with none. Every command that reads images has it: MC_CLI_WINDOW_OPT. */
#define MC_CLI_WINDOW_OPT                                                                              \
    {"--window C,W", 'w', NULL,                                                                        \
     "grey window for decoding images: centre,width in the file's units (DICOM: after rescale, "       \
     "replacing its own VOI; PNG/JPEG: sample values), PS3.3 LINEAR, docs/dicom.md",                  \
     "DICOM: the file's VOI LUT or window; else the full range"}
typedef struct mc_opt {
    const char *name;
    char kind;
    void *dst;
    const char *help;
    const char *def;
    const char *range;
} mc_opt;
typedef struct mc_strlist {
    const char *v[16];
    int n;
} mc_strlist;
/* Parses argv[1..]: options from the NULL-terminated table, positionals into pos (at most
 * maxpos). Returns 0, 1 (--help printed: exit 0) or 2 (usage error printed: exit 2). */
int mc_cli_parse(const char *cmd, int argc, char **argv, const mc_opt *opts, const char **pos, int maxpos,
                 int *npos, const char *synopsis, const char *about);
void mc_cli_usage(FILE *f, const char *synopsis, const char *about, const mc_opt *opts);
/* The one-line error of a command given the wrong arguments: "medcolor CMD: expected WHAT, got N
 * arguments (see medcolor CMD --help)"; returns 2 (the exit status of a usage error). */
int mc_cli_args_error(const char *cmd, const char *what, int npos);
const char *mc_cli_thousands(size_t v, char *buf, size_t n); /* 11778517 -> "11,778,517" */
/* Catches SIGINT and SIGTERM (Ctrl-C; SLURM at a job's time limit or pre-emption) for the
 * training commands: the first one sets the returned flag (training writes a checkpoint after
 * the current iteration and stops, resumably) and says so on stderr; a second one kills at
 * once. The flag holds the signal number. */
volatile sig_atomic_t *mc_cli_catch_stop(void);
/* The exit status for a run stopped by that signal: 128 + its number (130 Ctrl-C, 143 TERM). */
int mc_cli_stop_status(void);

/* Training's progress on the terminal (src/cli/progress.c): mc_cli_progress_event is the
 * mc_train_event_fn of the training commands, with a mc_cli_progress as its context. Modes: a
 * bar rewritten in place (stderr is a terminal), plain lines every 30 s and at epoch ends
 * (--plain, or not a terminal), quiet (--quiet: only each stage's result line on stdout). */
struct mc_train_event;
enum { MC_CLI_LINES = 0, MC_CLI_BAR = 1, MC_CLI_QUIET = 2 };
typedef struct mc_cli_progress {
    int mode;          /* MC_CLI_* */
    double last_print; /* plain lines: when the last one was printed */
    int stage;         /* and the stage and iteration of the last event (a new stage is shown) */
    long iter;
} mc_cli_progress;
void mc_cli_progress_init(mc_cli_progress *p, int quiet, int plain);
void mc_cli_progress_event(const struct mc_train_event *ev, void *ctx);

/* Progress of a pass over images (eval, predict; src/cli/progress.c), an mc_pass_progress_fn with
 * a mc_cli_pass as its context: a line rewritten in place on a terminal, else a plain line every
 * 30 s (MEDCOLOR_PROGRESS_SECONDS sets another interval) and one at the end when any was shown. */
typedef struct mc_cli_pass {
    const char *cmd, *what; /* "eval", "images" */
    int bar, quiet, shown;
    double t0, last;
} mc_cli_pass;
void mc_cli_pass_init(mc_cli_pass *p, const char *cmd, const char *what, int quiet);
void mc_cli_pass_progress(long done, long total, void *ctx);

/* The network of eval, predict and colorize (src/cli/trained.c). */
struct mc_net_opts;
typedef struct mc_cli_net {
    char weights[4096]; /* the weights file (a run folder resolved to its last stage's best.weights) */
    mc_netmeta meta;    /* what the weights carry (has_meta 0: a plain darknet file: no network) */
    int has_meta;
} mc_cli_net;
/* 1 when a command's first argument is a cfg (ends in .cfg, or a text file), not weights or a run */
int mc_cli_is_cfg(const char *path);
/* The arguments of `CMD [net.cfg] <weights | run folder> <image...|list.txt> [options]` (explain,
 * features): parsed with opts into pos (allocated: free it), the cfg (NULL: none), the weights
 * argument and the index of the first image in pos. Returns -1 to go on, else the exit status
 * (0 after --help, 2 on a usage error, 1 out of memory), pos then freed. */
typedef struct mc_cli_net_args {
    const char **pos;
    int npos, img0;
    const char *cfg, *weights;
} mc_cli_net_args;
int mc_cli_parse_net_images(const char *cmd, int argc, char **argv, const mc_opt *opts, const char *syn,
                            const char *about, mc_cli_net_args *a);
/* Prints the error that ends command cmd (mc_errmsg()): "medcolor CMD: MESSAGE"; as one of several
 * processes of world, "medcolor CMD: rank R of N (host H): MESSAGE", and then every process of the
 * job ends at once (mc_dist_abort: it does not return). */
struct mc_dist;
void mc_cli_fail(const char *cmd, struct mc_dist *world);
/* arg: a weights file or a run folder (saying on stderr which weights it means); reads what the
 * weights carry. Prints its errors; 0 ok, 1 error. */
int mc_cli_net_resolve(const char *cmd, const char *arg, mc_cli_net *t);
/* The network: from cfg (NULL: the one the weights carry) with o (nlabels > 0: the head rebuilt
 * for that many labels), checked against what the weights carry, then the weights loaded
 * (import: through mc_net_import, so safetensors too). Prints its errors; 0 ok, 1 error. */
int mc_cli_net_build(const char *cmd, const char *cfg, mc_cli_net *t, const struct mc_net_opts *o, int nlabels,
                     int import, mc_net **net);
void mc_cli_net_free(mc_cli_net *t);
/* The names of the network's outputs (mc_net_num_outputs of them): those the weights carry (t may
 * be NULL), else the cfg's [net] labels= (":policy" suffixes dropped), else out0, out1, ...
 * *names: free with mc_cli_free_names(names, outputs). Prints its errors; 0 ok, 1 error. */
int mc_cli_label_names(const char *cmd, const mc_net *net, const mc_cli_net *t, char ***names);
void mc_cli_free_names(char **names, int n);
/* Output file stems of images (colorize, explain): mc_cli_out_parts(paths, n) is 1, or 3 when two
 * of the file names (without extension) are alike; mc_cli_out_name(path, parts, ...) the file
 * name without extension, or its last `parts` path components joined with '_'
 * (patient00001_study1_view1_frontal). */
int mc_cli_out_parts(char *const *paths, int n);
const char *mc_cli_out_name(const char *p, int parts, char *buf, size_t n);

/* Restarts the process once with OPENBLAS_CORETYPE set when OpenBLAS chose kernels below the
 * CPU's (mc_blas_core_check) and neither OPENBLAS_CORETYPE nor MEDCOLOR_BLAS_CORE=keep is set;
 * returns when nothing is to be done or the restart failed. Call first thing in main. */
void mc_cli_blas_core(char **argv);

#endif
