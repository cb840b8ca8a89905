/* import.c — `medcolor import <cfg> <in> -o <out.weights>`: converts weights published for
 * PyTorch (safetensors: torchvision / timm ImageNet state dicts, or the canonical names of
 * docs/modules.md "Tensor names") or a darknet .weights file into medcolor's .weights for the network
 * of <cfg>. Tensors the file does not provide are initialised from --seed (or taken from
 * --base); with --partial that is allowed and they are listed. See docs/import.md. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "medcolor.h"

static void list(const char *what, const mc_import_entry *e, int n, FILE *f) {
    char s[96];
    for (int i = 0; i < n; i++)
        fprintf(f, "  %-9s %s %s\n", what, e[i].name, mc_import_shape_str(e[i].ndim, e[i].shape, s, sizeof s));
}

int mc_cli_import(int argc, char **argv) {
    const char *out = NULL, *base = NULL, *seed_s = NULL;
    int partial = 0;
    uint64_t seed = 0;
    const mc_opt opts[] = {
        {"-o FILE", 's', &out, "output .weights (written atomically) (required)", NULL},
        {"--partial", 'f', &partial, "allow tensors missing from the file (listed; e.g. only E is imported)", NULL},
        {"--seed N", 's', &seed_s, "initialisation seed of the tensors not imported", "0"},
        {"--base FILE", 's', &base, "take the tensors not imported from this .weights instead of --seed", NULL},
        {NULL, 0, NULL, NULL, NULL}};
    const char *syn = "medcolor import <net.cfg> <in.safetensors|in.pth|in.weights> -o <out.weights> [options]";
    const char *about =
        "Loads weights by tensor name into the network of <net.cfg> and writes medcolor's .weights.\n"
        "Safetensors names: color.*, backbone.* (or the backbone's names without 'backbone.', as in a\n"
        "torchvision/timm ImageNet model.safetensors), head.* (or fc.* / classifier.* when the shape\n"
        "fits; ImageNet's 1000-class classifier is skipped). num_batches_tracked is ignored.\n"
        "A PyTorch checkpoint (.pth/.pt as torch.save writes it, zip or legacy format; fastai's\n"
        "{'model': ..., 'opt': ...} too) is read without Python, through an unpickler that accepts only\n"
        "a state dict's objects.\n"
        "A darknet .weights file for the same cfg is read as well.";
    const char *pos[2];
    int npos;
    int r = mc_cli_parse("import", argc, argv, opts, pos, 2, &npos, syn, about);
    if (r) return r == 1 ? 0 : 2;
    if (seed_s) {
        char *end;
        errno = 0;
        unsigned long long s = strtoull(seed_s, &end, 10);
        if (errno || end == seed_s || *end || seed_s[0] == '-') {
            fprintf(stderr, "medcolor import: --seed '%s' is not a non-negative integer\n", seed_s);
            return 2;
        }
        seed = s;
    }
    if (npos < 2) return mc_cli_args_error("import", "<net.cfg> <in.safetensors|in.weights>", npos);
    if (!out) {
        fprintf(stderr, "medcolor import: -o <out.weights> is required\n");
        return 2;
    }
    const char *cfg = pos[0], *in = pos[1];
    mc_net *net;
    mc_net_opts o = {.batch = 1, .seed = seed, .no_init = base != NULL};
    if (mc_net_from_cfg(&net, cfg, &o) < 0) {
        fprintf(stderr, "medcolor import: %s\n", mc_errmsg());
        return 1;
    }
    if (base && mc_net_load_weights(net, base) < 0) {
        fprintf(stderr, "medcolor import: %s\n", mc_errmsg());
        mc_net_free(net);
        return 1;
    }
    mc_import_report rep;
    int rc = mc_net_import(net, in, partial ? MC_IMPORT_PARTIAL : 0, &rep);
    if (rc < 0) {
        fprintf(stderr, "medcolor import: %s\n", mc_errmsg());
        if (rc == MC_ENOTFOUND && rep.nmissing && rep.loaded) { /* the first ones; --partial lists all */
            list("missing", rep.missing, rep.nmissing < 20 ? rep.nmissing : 20, stderr);
            if (rep.nmissing > 20) fprintf(stderr, "  ... and %d more\n", rep.nmissing - 20);
        }
        mc_import_report_free(&rep);
        mc_net_free(net);
        return 1;
    }
    const char *wmsg;
    int nw = mc_net_weight_warnings(net, &wmsg);
    if (nw) fprintf(stderr, "medcolor import: warning: %s (%d tensor%s)\n", wmsg, nw, nw > 1 ? "s in all" : "");
    char b1[32], b2[32], from[64];
    if (base)
        snprintf(from, sizeof from, "kept from %s", base);
    else
        snprintf(from, sizeof from, "initialised from seed %" PRIu64, seed);
    const char *kind = rep.darknet    ? "darknet .weights"
                       : rep.pth == 2 ? "PyTorch checkpoint, legacy format"
                       : rep.pth      ? "PyTorch checkpoint"
                                      : "safetensors";
    printf("%s <- %s (%s)\n", cfg, in, kind);
    printf("  loaded    %d of %d tensors, %s values", rep.loaded, mc_net_num_tensors(net),
           mc_cli_thousands(rep.values, b1, sizeof b1));
    if (rep.nrenamed) printf(" (%d under torchvision/timm names)", rep.nrenamed);
    printf("\n");
    if (rep.nignored) printf("  ignored   %d num_batches_tracked\n", rep.nignored);
    if (rep.nskipped) {
        printf("  skipped   %d classifier tensors that do not fit the head (ImageNet's classes; head %s):\n",
               rep.nskipped, from);
        list("", rep.skipped, rep.nskipped, stdout);
    }
    if (rep.nmissing) {
        size_t v = 0;
        for (int i = 0; i < rep.nmissing; i++) {
            size_t n = 1;
            for (int d = 0; d < rep.missing[i].ndim; d++) n *= (size_t)rep.missing[i].shape[d];
            v += n;
        }
        printf("  missing   %d tensors (%s values) not in the file, %s:\n", rep.nmissing,
               mc_cli_thousands(v, b2, sizeof b2), from);
        list("", rep.missing, rep.nmissing, stdout);
    }
    if (rep.nunused) {
        printf("  unused    %d tensors of the file that match nothing in the network:\n", rep.nunused);
        list("", rep.unused, rep.nunused, stdout);
    }
    mc_import_report_free(&rep);
    if (mc_net_save_weights(net, out) < 0) {
        fprintf(stderr, "medcolor import: %s\n", mc_errmsg());
        mc_net_free(net);
        return 1;
    }
    printf("wrote %s\n", out);
    mc_net_free(net);
    return 0;
}
