/* imagefolder.c — a folder of images, optionally one subfolder per class, and the seeded,
 * class-balanced draw of Saini et al. (200 + 200 training, 50 + 50 test images from Kaggle's
 * "Chest X-Ray Images (Pneumonia)"): include/mc_data.h, docs/colorize.md. A folder listing, not a
 * file format: nothing here parses file contents. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "core/core.h"
#include "data/data_internal.h"
#include "mc_data.h"
#include "mc_image.h"

static int is_image_name(const char *name) { return mc_image_name_ok(name); }

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef struct listing {
    char **files, **dirs, **other; /* names (not paths), sorted */
    int nf, nd, no;
} listing;

static void listing_free(listing *l) {
    for (int i = 0; i < l->nf; i++) free(l->files[i]);
    for (int i = 0; i < l->nd; i++) free(l->dirs[i]);
    for (int i = 0; i < l->no; i++) free(l->other[i]);
    free(l->files);
    free(l->dirs);
    free(l->other);
    memset(l, 0, sizeof *l);
}

static int push(char ***v, int *n, const char *s) {
    char **nv = mc_realloc(*v, (size_t)(*n + 1) * sizeof *nv, "folder listing");
    if (!nv) return MC_ENOMEM;
    *v = nv;
    if (!(nv[*n] = mc_strdup(s))) return MC_ENOMEM;
    (*n)++;
    return MC_OK;
}

static int list_dir(const char *dir, listing *l) {
    memset(l, 0, sizeof *l);
    DIR *d = opendir(dir);
    if (!d) return mc_err(errno == ENOENT ? MC_ENOTFOUND : MC_EIO, "%s: cannot open folder (%s)", dir, strerror(errno));
    int rc = MC_OK;
    struct dirent *e;
    while (rc == MC_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *p = mc_path_join(dir, e->d_name);
        if (!p) {
            rc = MC_ENOMEM;
            break;
        }
        struct stat st;
        if (stat(p, &st) != 0)
            rc = push(&l->other, &l->no, e->d_name); /* a dangling link: not an image we can read */
        else if (S_ISDIR(st.st_mode))
            rc = push(&l->dirs, &l->nd, e->d_name);
        else if (S_ISREG(st.st_mode) && is_image_name(e->d_name))
            rc = push(&l->files, &l->nf, e->d_name);
        else
            rc = push(&l->other, &l->no, e->d_name);
        free(p);
    }
    closedir(d);
    if (rc < 0) {
        listing_free(l);
        return rc;
    }
    if (l->nf) qsort(l->files, (size_t)l->nf, sizeof *l->files, cmp_str);
    if (l->nd) qsort(l->dirs, (size_t)l->nd, sizeof *l->dirs, cmp_str);
    if (l->no) qsort(l->other, (size_t)l->no, sizeof *l->other, cmp_str);
    return MC_OK;
}

/* the rows of one class: files[] of folder cdir, drawn */
static int add_class(mc_dataset *ds, const char *cdir, char **files, int nf, int per_class, uint32_t seed,
                     int *cap) {
    int k = per_class > 0 ? per_class : nf;
    if (per_class > 0 && nf < per_class)
        return mc_err(MC_EARG, "%s: %d images, fewer than the %d per class to draw", cdir, nf, per_class);
    int *perm = mc_malloc((size_t)(nf ? nf : 1) * sizeof(int), "draw");
    if (!perm) return MC_ENOMEM;
    int rc = MC_OK;
    if (per_class > 0)
        rc = mc_np_permutation(seed, nf, perm);
    else
        for (int i = 0; i < nf; i++) perm[i] = i;
    for (int j = 0; j < k && rc == MC_OK; j++) {
        if (ds->n == *cap) {
            int nc = *cap ? 2 * *cap : 256;
            char **np = mc_realloc(ds->paths, (size_t)nc * sizeof *np, "dataset");
            if (!np) {
                rc = MC_ENOMEM;
                break;
            }
            ds->paths = np;
            *cap = nc;
        }
        char *p = mc_path_join(cdir, files[perm[j]]);
        if (!p) {
            rc = MC_ENOMEM;
            break;
        }
        ds->paths[ds->n++] = p; /* the class goes into y when every class is listed */
    }
    free(perm);
    return rc;
}

static int note_skipped(mc_dataset *ds, const char *dir, char **names, int n, const char *what) {
    if (n <= 0) return MC_OK;
    if (!ds->skipped_first) {
        char *p = mc_path_join(dir, names[0]);
        if (!p) return MC_ENOMEM;
        size_t len = strlen(p) + 64;
        ds->skipped_first = mc_malloc(len, "dataset");
        if (!ds->skipped_first) {
            free(p);
            return MC_ENOMEM;
        }
        snprintf(ds->skipped_first, len, "%s: %s", p, what);
        free(p);
    }
    ds->skipped += n;
    return MC_OK;
}

int mc_imgfolder_load(mc_dataset **out, const char *dir, int per_class, uint32_t seed) {
    *out = NULL;
    if (!dir || !*dir) return mc_err(MC_EARG, "image folder: no folder given");
    if (per_class < 0) return mc_err(MC_EARG, "%s: images per class %d: must be >= 0", dir, per_class);
    struct stat st;
    if (stat(dir, &st) != 0) return mc_err(MC_ENOTFOUND, "%s: no such folder", dir);
    if (!S_ISDIR(st.st_mode)) return mc_err(MC_EARG, "%s: not a folder", dir);
    listing top;
    MC_TRY(list_dir(dir, &top));
    mc_dataset *ds = mc_calloc(1, sizeof *ds, "dataset");
    if (!ds) {
        listing_free(&top);
        return MC_ENOMEM;
    }
    int rc = MC_OK, cap = 0;
    int *first = NULL; /* first row of each class */
    ds->source = mc_strdup(dir);
    if (!ds->source) rc = MC_ENOMEM;
    if (rc == MC_OK && top.nd > 0 && top.nf > 0) {
        char *p = mc_path_join(dir, top.files[0]);
        rc = mc_err(MC_EARG, "%s: an image next to class folders (%s, ...): put every image in a class folder, "
                             "or give the class folder itself", p ? p : dir, top.dirs[0]);
        free(p);
    }
    if (rc == MC_OK && top.nd == 0 && top.nf == 0)
        rc = mc_err(MC_EARG, "%s: no images (.png, .jpg, .jpeg, .dcm, .dicom) and no class folders", dir);
    int ncls = top.nd > 0 ? top.nd : 1;
    if (rc == MC_OK) {
        ds->labels = mc_calloc((size_t)ncls, sizeof *ds->labels, "dataset");
        first = mc_calloc((size_t)ncls + 1, sizeof *first, "dataset");
        if (!ds->labels || !first) rc = MC_ENOMEM;
    }
    if (rc == MC_OK) rc = note_skipped(ds, dir, top.other, top.no, "not a .png/.jpg/.jpeg/.dcm/.dicom file");
    for (int c = 0; c < ncls && rc == MC_OK; c++) {
        first[c] = ds->n;
        if (top.nd == 0) {
            if (!(ds->labels[0] = mc_strdup("all"))) rc = MC_ENOMEM;
            ds->nlabels = 1;
            if (rc == MC_OK) rc = add_class(ds, dir, top.files, top.nf, per_class, seed, &cap);
            continue;
        }
        if (!(ds->labels[c] = mc_strdup(top.dirs[c]))) {
            rc = MC_ENOMEM;
            break;
        }
        ds->nlabels = c + 1;
        char *cdir = mc_path_join(dir, top.dirs[c]);
        if (!cdir) {
            rc = MC_ENOMEM;
            break;
        }
        listing sub;
        rc = list_dir(cdir, &sub);
        if (rc == MC_OK && sub.nf == 0)
            rc = mc_err(MC_EARG, "%s: a class folder without images (.png, .jpg, .jpeg, .dcm, .dicom)", cdir);
        if (rc == MC_OK) rc = note_skipped(ds, cdir, sub.other, sub.no, "not a .png/.jpg/.jpeg/.dcm/.dicom file");
        if (rc == MC_OK) rc = note_skipped(ds, cdir, sub.dirs, sub.nd, "a folder inside a class folder");
        if (rc == MC_OK) rc = add_class(ds, cdir, sub.files, sub.nf, per_class, seed, &cap);
        listing_free(&sub);
        free(cdir);
    }
    if (rc == MC_OK) {
        first[ncls] = ds->n;
        ds->y = mc_calloc((size_t)ds->n * ncls, sizeof(float), "dataset");
        ds->mask = mc_malloc((size_t)ds->n * ncls * sizeof(float), "dataset");
        if (!ds->y || !ds->mask) rc = MC_ENOMEM;
        for (int c = 0; c < ncls && rc == MC_OK; c++)
            for (int i = first[c]; i < first[c + 1]; i++) ds->y[(size_t)i * ncls + c] = 1;
        for (size_t i = 0; rc == MC_OK && i < (size_t)ds->n * ncls; i++) ds->mask[i] = 1;
    }
    free(first);
    listing_free(&top);
    if (rc < 0) {
        mc_dataset_free(ds);
        return rc;
    }
    *out = ds;
    return MC_OK;
}

int mc_imgfolder_class(const mc_dataset *ds, int i) {
    for (int c = 0; c < ds->nlabels; c++)
        if (ds->y[(size_t)i * ds->nlabels + c] > 0) return c;
    return -1;
}
