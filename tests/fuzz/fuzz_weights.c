/* fuzz_weights.c — loading weights into a small network (convolution with BN, deconvolution,
 * standalone BN, connected): x.weights through mc_net_load_weights, then the same bytes through
 * mc_net_import (which detects safetensors / darknet / zip by content), partial and not. */
#include "fuzz.h"

static const char CFG[] = "[net]\nwidth=4\nheight=4\nchannels=1\n"
                          "[convolutional]\nname=conv\nfilters=2\nsize=3\npadding=1\nbatch_normalize=1\nactivation=relu\n"
                          "[deconvolutional]\nname=up\nfilters=1\nsize=2\nstride=2\n"
                          "[batchnorm]\nname=bn\n"
                          "[connected]\nname=head\noutput=2\n";

static int one(const uint8_t *data, size_t size) {
    static mc_net *net;
    if (!net && mc_net_from_string(&net, CFG, "fuzz-weights.cfg", &(mc_net_opts){.batch = 1, .seed = 1}) < 0) {
        fprintf(stderr, "fuzz: the harness's cfg does not build: %s\n", mc_errmsg());
        return 1;
    }
    char path[700];
    mc_fuzz_write(path, sizeof path, "x.weights", data, size);
    int bad = 0, rc = mc_net_load_weights(net, path);
    bad |= mc_fuzz_check_error(rc, MC_FUZZ_NAMES("x.weights"));
    for (int partial = 0; partial < 2 && !bad; partial++) {
        mc_import_report rep;
        rc = mc_net_import(net, path, partial ? MC_IMPORT_PARTIAL : 0, &rep);
        bad |= mc_fuzz_check_error(rc, MC_FUZZ_NAMES("x.weights"));
        if (rc == MC_OK && (rep.loaded < 1 || rep.loaded > mc_net_num_tensors(net))) {
            fprintf(stderr, "fuzz: import reports %d tensors loaded\n", rep.loaded);
            bad = 1;
        }
        mc_import_report_free(&rep);
    }
    const char *w;
    if (mc_net_weight_warnings(net, &w) && (!w || !strstr(w, "x.weights"))) {
        fprintf(stderr, "fuzz: a warning that names no file: %s\n", w ? w : "(null)");
        bad = 1;
    }
    return bad;
}
MC_FUZZ_TARGET(weights)
