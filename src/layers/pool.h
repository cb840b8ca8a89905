/* pool.h — the shared part of the pooling layers (maxpool.c, avgpool.c). */
#ifndef MC_POOL_H
#define MC_POOL_H
#include "engine/net.h"
int mc_pool_setup(mc_layer *l, mc_net *net);
int mc_pool_forward(mc_layer *l, mc_net *net);
int mc_pool_backward(mc_layer *l, mc_net *net);
#endif
