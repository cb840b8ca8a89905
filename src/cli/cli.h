/* cli.h — the medcolor subcommands. Each one is a function with main()'s signature that
 * returns the process exit status (0 ok, 1 error, 2 usage error); argv[0] is the subcommand
 * name. Each prints its own errors as one line "medcolor <cmd>: <message>" on stderr, and
 * its --help. Only main() (src/main.c) exits. */
#ifndef MC_CLI_H
#define MC_CLI_H

#include <stddef.h>

int mc_cli_subset(int argc, char **argv);
int mc_cli_stats(int argc, char **argv);
int mc_cli_info(int argc, char **argv);

/* helpers shared by the commands */
const char *mc_cli_thousands(size_t v, char *buf, size_t n); /* 11778517 -> "11,778,517" */

#endif
