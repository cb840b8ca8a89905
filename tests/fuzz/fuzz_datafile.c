/* fuzz_datafile.c — the .data parser (x.data; the root is the scratch folder, so that
 * $MEDCOLOR_DATA plays no part). Nothing is loaded: the dataset readers have fuzz_dataset. */
#include "fuzz.h"

static int one(const uint8_t *data, size_t size) {
    char path[700];
    mc_fuzz_write(path, sizeof path, "x.data", data, size);
    mc_datafile *df = NULL;
    int rc = mc_datafile_load(&df, path, mc_fuzz_dir());
    if (rc < 0) return mc_fuzz_check_error(rc, MC_FUZZ_NAMES("x.data"));
    int bad = df->nlabels < 1 || !df->labels || (!df->train && df->format != MC_FORMAT_NIH);
    for (int i = 0; i < df->nlabels && !bad; i++) bad = !df->labels[i] || !df->labels[i][0];
    if (bad) fprintf(stderr, "fuzz: a parsed .data without labels or train=\n");
    mc_datafile_free(df);
    return bad;
}
MC_FUZZ_TARGET(datafile)
