/* fuzz_cfg.c — the cfg language and the network build: main.cfg and up to three files it may
 * include (inc1.cfg .. inc3.cfg), the parts of the input between "\n@@@@\n" lines. The network
 * is built for inference without initialisation (batch 1), so shapes, tensors and memory plans
 * are all exercised without training. A built network must have sane shapes. */
#include "fuzz.h"

static int one(const uint8_t *data, size_t size) {
    mc_fuzz_part part[4];
    mc_fuzz_split(data, size, part, 4);
    char path[700], p[700];
    static const char *const names[] = {"main.cfg", "inc1.cfg", "inc2.cfg", "inc3.cfg"};
    for (int i = 3; i >= 0; i--) mc_fuzz_write(i ? p : path, sizeof path, names[i], part[i].p, part[i].n);
    mc_net *net = NULL;
    mc_net_opts o = {.batch = 1, .inference_only = 1, .no_init = 1};
    int rc = mc_net_from_cfg(&net, path, &o);
    if (rc < 0) return mc_fuzz_check_error(rc, names);
    int bad = 0, n = mc_net_num_layers(net);
    for (int i = 0; i < n && !bad; i++) {
        int c, h, w;
        if (mc_net_layer_shape(net, i, &c, &h, &w) < 0 || c < 1 || h < 1 || w < 1 ||
            (int64_t)c * h > INT32_MAX / w) {
            fprintf(stderr, "fuzz: layer %d has shape %dx%dx%d\n", i, c, h, w);
            bad = 1;
        }
    }
    if (!bad && mc_net_num_outputs(net) < 1) bad = 1;
    mc_net_free(net);
    return bad;
}
MC_FUZZ_TARGET(cfg)
