/* demo.c — `medcolor demo-data <dir>`: writes the synthetic demo dataset (src/data/demo.c). */
#include <string.h>
#include "cli/cli.h"
#include "medcolor.h"

int mc_cli_demo_data(int argc, char **argv) {
    long ntrain = 1200, nvalid = 300, w = 128, h = 160, seed = 1;
    const mc_opt opts[] = {{"--train", 'i', &ntrain, "training images", "1200", "1..1000000"},
                           {"--valid", 'i', &nvalid, "validation images", "300", "1..1000000"},
                           {"--width", 'i', &w, "image width", "128", "16..4096"},
                           {"--height", 'i', &h, "image height", "160", "16..4096"},
                           {"--seed", 'i', &seed, "seed", "1"},
                           {NULL, 0, NULL, NULL, NULL}};
    const char *pos[1];
    int npos;
    const char *syn = "medcolor demo-data <dir> [options]";
    const char *about =
        "Generates the demo dataset: synthetic chest-X-ray-like JPEGs in CheXpert-v1.0-small's layout\n"
        "(<dir>/CheXpert-v1.0-small/{train,valid}.csv and image folders), with the paper's five labels\n"
        "drawn into the images (Cardiomegaly: a wider heart; Pleural Effusion: fluid at a lung base;\n"
        "Edema: hazy lungs; Atelectasis: a plate-like band; Consolidation: a dense patch). Use it with\n"
        "data/demo.data (root = the folder you give here).";
    int r = mc_cli_parse("demo-data", argc, argv, opts, pos, 1, &npos, syn, about);
    if (r) return r == 1 ? 0 : 2;
    if (npos != 1) return mc_cli_args_error("demo-data", "<dir>", npos);
    if (mc_demo_make(pos[0], (int)ntrain, (int)nvalid, (int)w, (int)h, (uint64_t)seed) < 0) {
        fprintf(stderr, "medcolor demo-data: %s\n", mc_errmsg());
        return 1;
    }
    printf("demo dataset: %ld training + %ld validation images (%ldx%ld) in %s/CheXpert-v1.0-small\n", ntrain, nvalid,
           w, h, pos[0]);
    return 0;
}
