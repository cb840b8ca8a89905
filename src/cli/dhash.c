/* dhash.c — `medcolor dhash`: the D-hash of images (imagehash.dhash's definition) and the
 * retrieval of the nearest reference (§2 step 1 of the colour transfer, docs/transfer.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "core/core.h"
#include "mc_image.h"
#include "mc_imaging.h"

int mc_cli_dhash(int argc, char **argv) {
    const char *query = NULL, *refs = NULL, *index = NULL;
    int quiet = 0;
    const mc_opt opts[] = {
        {"--query IMG", 's', &query, "the target: print its distance to every reference and the nearest one (needs --refs)",
         NULL},
        {"--refs DIR", 's', &refs,
         "the reference folder (its .png/.jpg/.jpeg/.dcm/.dicom files, not recursive, sorted by name); without --query its "
         "hashes are printed", NULL},
        {"--index FILE", 's', &index,
         "cache of the references' hashes (text: hash, size, mtime, name): reused for unchanged files, rewritten when "
         "the folder changed", "none: every reference is hashed"},
        {"-q, --quiet", 'f', &quiet, "with --query: print only the chosen reference's line", "off"},
        MC_CLI_WINDOW_OPT,
        {NULL, 0, NULL, NULL, NULL}};
    const char *syn = "medcolor dhash IMAGE...  |  medcolor dhash --query IMG --refs DIR [--index FILE]";
    const char *about =
        "The difference hash of imagehash.dhash (hash size 8): PIL grey (L = (19595R + 38470G + 7471B + 0x8000)\n"
        ">> 16), Pillow-exact Lanczos to 9x8, bit = right > left, row-major, first bit most significant. Prints\n"
        "'<16 hex digits> <path>' for every IMAGE (a .txt argument is a list of paths). With --query and\n"
        "--refs, prints '<distance> <hash> <path>' for every reference and then 'reference <path> distance <d>':\n"
        "the minimum Hamming distance wins, ties go to the first reference by name (docs/transfer.md).";
    const char *pos[4096];
    int npos;
    int r = mc_cli_parse("dhash", argc, argv, opts, pos, 4096, &npos, syn, about);
    if (r) return r == 1 ? 0 : 2;
    if (query && !refs) {
        fprintf(stderr, "medcolor dhash: --query needs --refs DIR (the references to search)\n");
        return 2;
    }
    if (index && !refs) {
        fprintf(stderr, "medcolor dhash: --index caches a reference folder's hashes: give --refs DIR\n");
        return 2;
    }
    if (!npos && !refs) {
        fprintf(stderr, "medcolor dhash: no image given (see --help)\n");
        return 2;
    }
    if (npos && query) {
        fprintf(stderr, "medcolor dhash: give either IMAGE... or --query IMG, not both\n");
        return 2;
    }
    int status = 0;
    char hex[17];
    if (npos) {
        char **paths = NULL;
        int n = 0;
        if (mc_cli_collect_paths(npos, pos, &paths, &n) < 0) {
            fprintf(stderr, "medcolor dhash: %s\n", mc_errmsg());
            return 1;
        }
        for (int i = 0; i < n; i++) {
            uint64_t h;
            if (mc_dhash_file(paths[i], &h) < 0) {
                fprintf(stderr, "medcolor dhash: %s\n", mc_errmsg());
                status = 1;
                continue;
            }
            mc_dhash_hex(h, hex);
            printf("%s %s\n", hex, paths[i]);
        }
        for (int i = 0; i < n; i++) free(paths[i]);
        free(paths);
    }
    if (!refs) return status;
    mc_reflib *lib;
    if (mc_reflib_load(&lib, refs, index) < 0) {
        fprintf(stderr, "medcolor dhash: %s\n", mc_errmsg());
        return 1;
    }
    if (index)
        fprintf(stderr, "medcolor dhash: %s: %d references, %d hashes reused, %d computed%s\n", index, lib->n,
                lib->reused, lib->hashed, lib->index_written ? ", index written" : ", index unchanged");
    if (!query) {
        for (int i = 0; i < lib->n; i++) {
            mc_dhash_hex(lib->v[i].hash, hex);
            printf("%s %s\n", hex, lib->v[i].path);
        }
        mc_reflib_free(lib);
        return status;
    }
    if (lib->n == 0) {
        fprintf(stderr, "medcolor dhash: %s: no .png/.jpg/.jpeg/.dcm/.dicom file in the reference folder\n", refs);
        mc_reflib_free(lib);
        return 1;
    }
    uint64_t q;
    if (mc_dhash_file(query, &q) < 0) {
        fprintf(stderr, "medcolor dhash: %s\n", mc_errmsg());
        mc_reflib_free(lib);
        return 1;
    }
    int dist = 0, best = mc_reflib_nearest(lib, q, &dist);
    if (!quiet) {
        mc_dhash_hex(q, hex);
        printf("query %s %s\n", hex, query);
        for (int i = 0; i < lib->n; i++) {
            mc_dhash_hex(lib->v[i].hash, hex);
            printf("%2d %s %s\n", mc_hamming64(q, lib->v[i].hash), hex, lib->v[i].path);
        }
    }
    printf("reference %s distance %d\n", lib->v[best].path, dist);
    mc_reflib_free(lib);
    return status;
}
