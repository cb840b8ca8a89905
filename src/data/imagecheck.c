/* imagecheck.c — every image file of a dataset opened and checked before anything trains on it
 * (`medcolor stats --check-files`): its header read (mc_image_probe), or with decode the whole
 * image decoded (mc_image_load_grey), in parallel, listing every bad file with what is wrong. */
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "mc_data.h"
#include "mc_image.h"

void mc_bad_images_free(mc_bad_image *bad, int n) {
    for (int i = 0; bad && i < n; i++) free(bad[i].why);
    free(bad);
}

int mc_dataset_check_images(const mc_dataset *ds, int decode, mc_bad_image **bad, int *nbad,
                            void (*progress)(long done, long total, void *ctx), void *ctx) {
    *bad = NULL;
    *nbad = 0;
    if (ds->n == 0) return MC_OK;
    char **why = mc_calloc((size_t)ds->n, sizeof *why, "image check");
    if (!why) return MC_ENOMEM;
    int oom = 0;
    /* in chunks, so that progress is reported from this thread between them */
    const int chunk = 256;
    for (int start = 0; start < ds->n && !oom; start += chunk) {
        int end = start + chunk < ds->n ? start + chunk : ds->n;
#pragma omp parallel reduction(| : oom)
        {
            mc_image img = {0};
#pragma omp for schedule(dynamic, 4)
            for (int i = start; i < end; i++) {
                mc_image_info info;
                int rc = decode ? mc_image_load_grey(ds->paths[i], &img) : mc_image_probe(ds->paths[i], &info);
                if (rc < 0 && !(why[i] = mc_strdup(mc_errmsg()))) oom = 1;
            }
            mc_image_free(&img);
        }
        if (progress) progress(end, ds->n, ctx);
    }
    int n = 0;
    for (int i = 0; i < ds->n; i++) n += why[i] != NULL;
    mc_bad_image *list = n && !oom ? mc_calloc((size_t)n, sizeof *list, "bad images") : NULL;
    if (oom || (n && !list)) {
        for (int i = 0; i < ds->n; i++) free(why[i]);
        free(why);
        return mc_err(MC_ENOMEM, "out of memory checking the images of %s", ds->source ? ds->source : "a dataset");
    }
    for (int i = 0, k = 0; i < ds->n; i++)
        if (why[i]) {
            list[k].index = i;
            list[k].path = ds->paths[i];
            list[k++].why = why[i];
        }
    free(why);
    *bad = list;
    *nbad = n;
    return MC_OK;
}
