/* main.c — the medcolor command line: dispatches to the subcommands in src/cli/. The only
 * place that exits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"
#include "core/core.h"
#include "medcolor.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *what;
} commands[] = {
    {"train", mc_cli_train, "train through the paper's stages (an .exp schedule, or a cfg and a .data)"},
    {"finetune", mc_cli_finetune, "start from trained weights: one stage (last layer transfer by default)"},
    {"eval", mc_cli_eval, "per-label and mean AUC of weights on a split, ROC curves, predictions"},
    {"lrfind", mc_cli_lrfind, "learning-rate finder (fastai v1): curve as CSV and PNG, suggested max LR"},
    {"colorize", mc_cli_colorize, "the colorization module's output as images (and over the grey input)"},
    {"colorize-train", mc_cli_colorize_train, "learned colorization (Saini et al.): train L -> ab on image folders"},
    {"colorize-predict", mc_cli_colorize_predict, "colourise images with a colorize-train network (RGB PNGs)"},
    {"info", mc_cli_info, "layers, parameters per group and per training stage of a network"},
    {"demo-data", mc_cli_demo_data, "generate the synthetic demo dataset (CheXpert layout)"},
    {"stats", mc_cli_stats, "images, patients and label counts of a dataset (.data) per split"},
    {"subset", mc_cli_subset, "draw a training subset exactly as the thesis did (pandas sample)"},
    {"import", mc_cli_import, "weights from safetensors (torchvision/timm ImageNet, PyTorch) or darknet"},
    {"export", mc_cli_export, "weights as safetensors for PyTorch (load_state_dict, strict): medcolor or torchvision names"},
    {"predict", mc_cli_predict, "sigmoid probabilities per image and label as CSV (eval mode)"},
    {"features", mc_cli_features, "raw outputs of chosen layers per image as safetensors (embeddings, comparisons)"},
    {"explain", mc_cli_explain, "Grad-CAM heatmaps per image and label over the X-ray, beside T's colorized view"},
    {"grid", mc_cli_grid, "expand an experiment grid (.grid) into run folders and runs.tsv"},
    {"run-grid", mc_cli_run_grid, "run a grid's runs one after another (skips finished, resumes started)"},
    {"report", mc_cli_report, "mean AUC ± std over seeds, paired t-tests (BH), CSV and plots of runs"},
    {"dhash", mc_cli_dhash, "D-hash of images (imagehash's), nearest reference of a folder (colour transfer)"},
    {"quality", mc_cli_quality, "PSNR, SSIM, FSIM(c), entropy of image pairs (colour transfer evaluation)"},
    {"transfer", mc_cli_transfer, "colour a grey image after a colour reference through VGG19 (Zeng et al.)"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void help(FILE *f) {
    fprintf(f, "medcolor %s — colorization modules for transfer learning on X-rays (Morra et al.)\n\n", MC_VERSION);
    fprintf(f, "usage: medcolor <command> [options]   (medcolor <command> --help for its options)\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++) fprintf(f, "  %-16s %s\n", commands[i].name, commands[i].what);
    fprintf(f, "  %-16s %s\n", "help", "this text");
}

int main(int argc, char **argv) {
    mc_cli_blas_core(argv);
    if (argc < 2) {
        help(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        if (argc > 2)
            for (size_t i = 0; i < NCOMMANDS; i++)
                if (!strcmp(argv[2], commands[i].name)) {
                    char *args[] = {argv[2], "--help", NULL};
                    return commands[i].fn(2, args);
                }
        help(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("medcolor %s\n", MC_VERSION);
        return 0;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    const char *near = NULL;
    int best = strlen(argv[1]) >= 6 ? 3 : 2; /* at most 2 edits away (1 for short names) */
    for (size_t i = 0; i < NCOMMANDS; i++) {
        int d = mc_edit_distance(argv[1], commands[i].name, 0);
        if (d < best) {
            best = d;
            near = commands[i].name;
        }
    }
    if (near)
        fprintf(stderr, "medcolor: unknown command '%s' (did you mean '%s'? see 'medcolor help')\n", argv[1], near);
    else
        fprintf(stderr, "medcolor: unknown command '%s' (see 'medcolor help')\n", argv[1]);
    return 2;
}
