/* netmeta.h — the metadata trailer of a .weights file (internal; the public side is in
 * medcolor.h, "what trained weights carry"; the format is in docs/weights.md). */
#ifndef MC_NETMETA_H
#define MC_NETMETA_H

#include <stdio.h>
#include "engine/net.h"

/* Appends the trailer of net->meta (nothing when the net has none) to f, after the last layer. */
int mc_netmeta_write_trailer(const mc_net *net, FILE *f, const char *path);
/* 1 when the bytes [from, end) of f are exactly one well-formed trailer, else 0 (f's position
 * is left anywhere). */
int mc_netmeta_is_trailer(FILE *f, const char *path, long from, long end);
/* Frees what net->meta holds and net->meta itself. */
void mc_netmeta_drop(mc_net *net);

#endif
