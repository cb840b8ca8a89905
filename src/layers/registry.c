/* registry.c — maps cfg section names to layer types. A new layer type is one file in
 * src/layers/ plus one line here (and its tests). */
#include <string.h>
#include "engine/net.h"

extern const mc_layer_ops mc_layer_convolutional, mc_layer_deconvolutional, mc_layer_batchnorm,
    mc_layer_activation, mc_layer_maxpool, mc_layer_avgpool, mc_layer_connected, mc_layer_route,
    mc_layer_shortcut, mc_layer_pixelshuffle, mc_layer_pad, mc_layer_upsample, mc_layer_cost;

static const struct {
    const char *name;
    const mc_layer_ops *ops;
} registry[] = {
    {"convolutional", &mc_layer_convolutional},
    {"conv", &mc_layer_convolutional},
    {"deconvolutional", &mc_layer_deconvolutional},
    {"deconv", &mc_layer_deconvolutional},
    {"batchnorm", &mc_layer_batchnorm},
    {"activation", &mc_layer_activation},
    {"maxpool", &mc_layer_maxpool},
    {"avgpool", &mc_layer_avgpool},
    {"connected", &mc_layer_connected},
    {"route", &mc_layer_route},
    {"shortcut", &mc_layer_shortcut},
    {"pixelshuffle", &mc_layer_pixelshuffle},
    {"pad", &mc_layer_pad},
    {"upsample", &mc_layer_upsample},
    {"cost", &mc_layer_cost},
};

const mc_layer_ops *mc_layer_ops_find(const char *section) {
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
        if (strcmp(registry[i].name, section) == 0) return registry[i].ops;
    return NULL;
}

const char *mc_layer_sections(void) {
    return "convolutional (conv), deconvolutional (deconv), batchnorm, activation, maxpool, avgpool, "
           "connected, route, shortcut, pixelshuffle, pad, upsample, cost";
}
