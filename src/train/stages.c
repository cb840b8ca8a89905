/* stages.c — the paper's training stages as freezing rules on the groups color (T),
 * backbone (E) and head (C) (docs/training.md, "The stages"):
 *
 *   stage          trains    frozen        C at start
 *   baseline       C         E (and T)     fresh
 *   baseline-all   E, C      —             fresh
 *   color          T, C      E             fresh
 *   all            T, E, C   —             re-initialised ("cleaned")
 *   last           C         T, E          fresh
 *
 * A group the network does not have is ignored (the baseline has no T parameters). */
#include <string.h>
#include "engine/net.h"

static const char *const names[] = {"baseline", "baseline-all", "color", "all", "last", NULL};

int mc_stage_from_name(const char *name) {
    for (int i = 0; names[i]; i++)
        if (!strcmp(name, names[i])) return i;
    return mc_err(MC_EARG, "unknown stage '%s' (expected baseline, baseline-all, color, all or last)", name);
}

const char *mc_stage_name(int stage) { return stage >= 0 && stage < MC_NUM_STAGES ? names[stage] : "?"; }

static void set(mc_net *net, const char *group, int frozen) {
    if (mc_net_group_frozen(net, group) >= 0) mc_net_freeze(net, group, frozen);
}

int mc_stage_apply(mc_net *net, int stage) {
    if (stage < 0 || stage >= MC_NUM_STAGES) return mc_err(MC_EARG, "unknown stage %d", stage);
    int t_frozen = stage == MC_STAGE_BASELINE || stage == MC_STAGE_LAST;
    int e_frozen = stage == MC_STAGE_BASELINE || stage == MC_STAGE_COLOR || stage == MC_STAGE_LAST;
    set(net, "color", t_frozen);
    set(net, "backbone", e_frozen);
    set(net, "head", 0);
    mc_clear_error();
    return MC_OK;
}

int mc_stage_check(const mc_net *net, int stage) {
    if (stage < 0 || stage >= MC_NUM_STAGES) return mc_err(MC_EARG, "unknown stage %d", stage);
    if (stage == MC_STAGE_COLOR && mc_net_group_params(net, "color") == 0)
        return mc_err(MC_EARG, "stage color trains the colorization module T (group color), but the network has no "
                               "trainable layer in group color: a backbone alone trains with baseline (C) or "
                               "baseline-all (E and C)");
    return MC_OK;
}
