/* demo.c — `medcolor demo-data <dir>`: writes the synthetic demo dataset (src/data/demo.c). */
#include <string.h>
#include "cli/cli.h"
#include "medcolor.h"

int mc_cli_demo_data(int argc, char **argv) {
    long ntrain = -1, nvalid = -1, w = -1, h = -1, seed = 1;
    int colorize = 0;
    const mc_opt opts[] = {{"--train", 'i', &ntrain, "training images", "1200 (--colorize: 480)", "2..1000000"},
                           {"--valid", 'i', &nvalid, "validation images", "300 (--colorize: 120)", "2..1000000"},
                           {"--width", 'i', &w, "image width (--colorize: the side of the square images)",
                            "128 (--colorize: 64)", "16..4096"},
                           {"--height", 'i', &h, "image height", "160", "16..4096"},
                           {"--colorize", 'f', &colorize, "the colorization sets instead: <dir>/color/ (colour shapes "
                            "whose hue follows grey level and shape) and <dir>/xray/ (grey demo X-rays), "
                            "{train,val}/<class>/*.png (docs/colorize.md)", NULL},
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
    if (colorize) {
        if (h > 0) {
            fprintf(stderr, "medcolor demo-data: --colorize makes square images: give their side with --width\n");
            return 2;
        }
        ntrain = ntrain > 0 ? ntrain : 480;
        nvalid = nvalid > 0 ? nvalid : 120;
        w = w > 0 ? w : 64;
        if (mc_demo_colorize_make(pos[0], (int)ntrain, (int)nvalid, (int)w, (uint64_t)seed) < 0) {
            fprintf(stderr, "medcolor demo-data: %s\n", mc_errmsg());
            return 1;
        }
        printf("colorization demo: %ld training + %ld validation images (%ldx%ld) in %s/color and %s/xray\n", ntrain,
               nvalid, w, w, pos[0], pos[0]);
        return 0;
    }
    ntrain = ntrain > 0 ? ntrain : 1200;
    nvalid = nvalid > 0 ? nvalid : 300;
    w = w > 0 ? w : 128;
    h = h > 0 ? h : 160;
    if (mc_demo_make(pos[0], (int)ntrain, (int)nvalid, (int)w, (int)h, (uint64_t)seed) < 0) {
        fprintf(stderr, "medcolor demo-data: %s\n", mc_errmsg());
        return 1;
    }
    printf("demo dataset: %ld training + %ld validation images (%ldx%ld) in %s/CheXpert-v1.0-small\n", ntrain, nvalid,
           w, h, pos[0]);
    return 0;
}
