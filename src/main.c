/* main.c — the medcolor command line: dispatches to the subcommands in src/cli/. The only
 * place that exits. */
#include <stdio.h>
#include <string.h>
#include "cli/cli.h"
#include "medcolor.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *what;
} commands[] = {
    {"info", mc_cli_info, "layers, parameters per group and per training stage of a network"},
    {"stats", mc_cli_stats, "images, patients and label counts of a dataset (.data) per split"},
    {"subset", mc_cli_subset, "draw a training subset exactly as the thesis did (pandas sample)"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void help(FILE *f) {
    fprintf(f, "medcolor %s — colorization modules for transfer learning on X-rays (Morra et al.)\n\n", MC_VERSION);
    fprintf(f, "usage: medcolor <command> [options]   (medcolor <command> --help for its options)\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++) fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].what);
    fprintf(f, "  %-10s %s\n", "help", "this text");
}

int main(int argc, char **argv) {
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
    fprintf(stderr, "medcolor: unknown command '%s' (see 'medcolor help')\n", argv[1]);
    return 2;
}
