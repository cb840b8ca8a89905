/* export.c — `medcolor export [net.cfg] <run folder | weights> -o model.safetensors`: a trained
 * network as safetensors for PyTorch (mc_net_export, src/engine/export.c), under medcolor's
 * canonical names (the PyTorch network of docs/modules.md) or torchvision's. docs/import.md. */
#include <string.h>
#include "cli/cli.h"
#include "medcolor.h"

int mc_cli_export(int argc, char **argv) {
    const char *out = NULL, *names = "medcolor";
    mc_strlist set = {0};
    const mc_opt opts[] = {
        {"-o FILE", 's', &out, "output .safetensors (written atomically) (required)", NULL},
        {"--names", 's', &names, "tensor names: medcolor's (color.*, backbone.*, head.*) or torchvision's (a network "
                                 "without colorization module: resnet18/densenet121 with num_classes = the labels)",
         "medcolor", "medcolor|torchvision"},
        {"--set", 'l', &set, "override a cfg key, layer.key=value", NULL},
        {NULL, 0, NULL, NULL, NULL}};
    const char *syn = "medcolor export [net.cfg] <run folder | weights> -o <model.safetensors> [options]";
    const char *about =
        "Writes a network's weights as safetensors that PyTorch loads with load_state_dict(strict=True):\n"
        "medcolor's names are the state dict of the spec's PyTorch network (color = T, backbone = the\n"
        "torchvision model without its classifier, head = Linear); --names torchvision writes a network\n"
        "without T as torchvision.models.resnet18/densenet121(num_classes=labels). Every BatchNorm gets a\n"
        "num_batches_tracked of 0. Weights written by train carry their network: the cfg may be left out.";
    const char *pos[2];
    int npos;
    int r = mc_cli_parse("export", argc, argv, opts, pos, 2, &npos, syn, about);
    if (r) return r == 1 ? 0 : 2;
    const char *cfg = NULL, *warg = NULL;
    if (npos == 2) {
        cfg = pos[0];
        warg = pos[1];
    } else if (npos == 1) {
        warg = pos[0];
    }
    if (!warg) return mc_cli_args_error("export", "[net.cfg] <run folder | weights>", npos);
    if (!out) {
        fprintf(stderr, "medcolor export: -o <model.safetensors> is required\n");
        return 2;
    }
    mc_cli_net t;
    if (mc_cli_net_resolve("export", warg, &t)) return 1;
    if (!cfg && !t.has_meta) {
        fprintf(stderr, "medcolor export: %s does not carry its network: give the cfg first\n", t.weights);
        mc_cli_net_free(&t);
        return 2;
    }
    const char *sets[20];
    int ns = 0;
    for (int i = 0; i < set.n; i++) sets[ns++] = set.v[i];
    sets[ns] = NULL;
    mc_net_opts o = {.batch = 1, .no_init = 1, .set = sets, .inference_only = 1};
    mc_net *net = NULL;
    if (mc_cli_net_build("export", cfg, &t, &o, 0, 0, &net)) {
        mc_cli_net_free(&t);
        return 1;
    }
    int n = 0;
    int rc = mc_net_export(net, out, strcmp(names, "torchvision") ? MC_EXPORT_CANONICAL : MC_EXPORT_TORCHVISION, &n);
    if (rc < 0)
        fprintf(stderr, "medcolor export: %s\n", mc_errmsg());
    else
        printf("wrote %s: %d tensors, %s names (%zu parameters)\n", out, n, names, mc_net_num_params(net));
    mc_net_free(net);
    mc_cli_net_free(&t);
    return rc < 0 ? 1 : 0;
}
