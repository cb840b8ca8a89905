/* main.c — the medcolor command line: dispatches to the subcommands in src/cli/. The only
 * place that exits. */
#include <stdio.h>
#include <string.h>
#include "cli/cli.h"
#include "medcolor.h"

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        printf("medcolor %s — colorization training toolkit for X-ray classification\n", MC_VERSION);
        return argc < 2 ? 2 : 0;
    }
    fprintf(stderr, "medcolor: unknown command '%s' (see 'medcolor help')\n", argv[1]);
    return 2;
}
