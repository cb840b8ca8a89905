/* refimages.c — image files for the colour-transfer tools: the D-hash of a file, reference
 * libraries (a folder's images with their hashes, cached in an index file), the quality metrics
 * of two files, and lists of pairs. The index format is documented in docs/transfer.md:
 *
 *     # medcolor dhash index 1
 *     <16 hex digits>\t<size in bytes>\t<mtime in ns>\t<file name>
 *
 * one line per file of the folder, sorted by name. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "core/core.h"
#include "mc_image.h"
#include "mc_imaging.h"

#define INDEX_HEADER "# medcolor dhash index 1"

int mc_dhash_file(const char *path, uint64_t *hash) {
    mc_image8 img = {0};
    int rc = mc_image_load_rgb8(path, &img);
    if (rc == 0) {
        rc = mc_dhash(img.px, img.w, img.h, 3, hash);
        if (rc < 0) mc_err_context(rc, "%s", path);
    }
    mc_image8_free(&img);
    return rc;
}

static int is_image_name(const char *name) {
    if (name[0] == '.') return 0;
    return mc_image_name_ok(name);
}

static int cmp_ref(const void *a, const void *b) {
    return strcmp(((const mc_refimage *)a)->name, ((const mc_refimage *)b)->name);
}

void mc_reflib_free(mc_reflib *r) {
    if (!r) return;
    for (int i = 0; i < r->n; i++) {
        free(r->v[i].name);
        free(r->v[i].path);
    }
    free(r->v);
    free(r);
}

/* the index as read: entries sorted by name */
typedef struct index_entry {
    char *name;
    uint64_t hash;
    int64_t size, mtime_ns;
} index_entry;

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const index_entry *)a)->name, ((const index_entry *)b)->name);
}

static void entries_free(index_entry *e, int n) {
    for (int i = 0; i < n; i++) free(e[i].name);
    free(e);
}

static int parse_int64(const char *s, int64_t *v) {
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end || x < 0) return -1;
    *v = x;
    return 0;
}

/* Reads the index at path (a missing file gives no entries: *exists = 0). */
static int index_read(const char *path, index_entry **out, int *n, int *exists) {
    *out = NULL;
    *n = 0;
    *exists = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return MC_OK;
        return mc_err(MC_EIO, "%s: cannot open (%s)", path, strerror(errno));
    }
    *exists = 1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, rc = MC_OK, cap_e = 0;
    index_entry *e = NULL;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (lineno == 1) {
            if (strcmp(line, INDEX_HEADER) != 0) {
                rc = mc_err(MC_EPARSE, "%s:1: not a medcolor dhash index (first line '%.60s', expected '%s')", path,
                            line, INDEX_HEADER);
                break;
            }
            continue;
        }
        if (!line[0]) continue;
        char *f1 = line, *f2 = strchr(f1, '\t'), *f3 = f2 ? strchr(f2 + 1, '\t') : NULL,
             *f4 = f3 ? strchr(f3 + 1, '\t') : NULL;
        if (!f4) {
            rc = mc_err(MC_EPARSE, "%s:%d: expected 4 tab-separated fields (hash, size, mtime_ns, name)", path, lineno);
            break;
        }
        *f2++ = 0;
        *f3++ = 0;
        *f4++ = 0;
        index_entry x = {0};
        if (mc_dhash_parse(f1, &x.hash) < 0) {
            rc = mc_err(MC_EPARSE, "%s:%d: bad hash '%.40s' (16 hex digits)", path, lineno, f1);
            break;
        }
        if (parse_int64(f2, &x.size) < 0) {
            rc = mc_err(MC_EPARSE, "%s:%d: bad size '%.40s'", path, lineno, f2);
            break;
        }
        if (parse_int64(f3, &x.mtime_ns) < 0) {
            rc = mc_err(MC_EPARSE, "%s:%d: bad mtime_ns '%.40s'", path, lineno, f3);
            break;
        }
        if (!f4[0] || strchr(f4, '/') || strchr(f4, '\t')) {
            rc = mc_err(MC_EPARSE, "%s:%d: bad file name '%.80s'", path, lineno, f4);
            break;
        }
        if (*n == cap_e) {
            cap_e = cap_e ? 2 * cap_e : 64;
            index_entry *ne = mc_realloc(e, (size_t)cap_e * sizeof *e, "dhash index");
            if (!ne) {
                rc = MC_ENOMEM;
                break;
            }
            e = ne;
        }
        x.name = mc_strdup(f4);
        if (!x.name) {
            rc = MC_ENOMEM;
            break;
        }
        e[(*n)++] = x;
    }
    if (rc == 0 && ferror(f)) rc = mc_err(MC_EIO, "%s: read error", path);
    if (rc == 0 && lineno == 0) rc = mc_err(MC_EPARSE, "%s: empty file, not a medcolor dhash index", path);
    free(line);
    fclose(f);
    if (rc < 0) {
        entries_free(e, *n);
        *n = 0;
        return rc;
    }
    if (*n > 1) qsort(e, (size_t)*n, sizeof *e, cmp_entry);
    *out = e;
    return MC_OK;
}

static int index_writer(FILE *f, const char *path, void *arg) {
    const mc_reflib *r = arg;
    if (fprintf(f, "%s\n", INDEX_HEADER) < 0) return mc_err(MC_EIO, "%s: write error", path);
    for (int i = 0; i < r->n; i++) {
        char hex[17];
        mc_dhash_hex(r->v[i].hash, hex);
        if (fprintf(f, "%s\t%" PRId64 "\t%" PRId64 "\t%s\n", hex, r->v[i].size, r->v[i].mtime_ns, r->v[i].name) < 0)
            return mc_err(MC_EIO, "%s: write error", path);
    }
    return MC_OK;
}

int mc_reflib_load(mc_reflib **out, const char *dir, const char *index_path) {
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d) return mc_err(MC_EIO, "%s: cannot open the reference folder (%s)", dir, strerror(errno));
    mc_reflib *r = mc_calloc(1, sizeof *r, "reference library");
    index_entry *idx = NULL;
    int nidx = 0, exists = 0, cap = 0, rc = r ? MC_OK : MC_ENOMEM;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (!is_image_name(de->d_name)) continue;
        if (strchr(de->d_name, '\t') || strchr(de->d_name, '\n')) {
            rc = mc_err(MC_EUNSUP, "%s/%s: a tab or newline in a file name is not supported", dir, de->d_name);
            break;
        }
        size_t plen = strlen(dir) + strlen(de->d_name) + 2;
        char *path = mc_malloc(plen, "reference path");
        if (!path) {
            rc = MC_ENOMEM;
            break;
        }
        snprintf(path, plen, "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(path, &st) != 0) {
            rc = mc_err(MC_EIO, "%s: cannot stat (%s)", path, strerror(errno));
            free(path);
            break;
        }
        if (!S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }
        if (r->n == cap) {
            cap = cap ? 2 * cap : 64;
            mc_refimage *nv = mc_realloc(r->v, (size_t)cap * sizeof *nv, "reference library");
            if (!nv) {
                free(path);
                rc = MC_ENOMEM;
                break;
            }
            r->v = nv;
        }
        mc_refimage *x = &r->v[r->n];
        memset(x, 0, sizeof *x);
        x->path = path;
        x->name = mc_strdup(de->d_name);
        x->size = (int64_t)st.st_size;
        x->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        r->n++;
        if (!x->name) rc = MC_ENOMEM;
    }
    closedir(d);
    if (rc == 0 && r->n > 1) qsort(r->v, (size_t)r->n, sizeof *r->v, cmp_ref);
    if (rc == 0 && index_path) rc = index_read(index_path, &idx, &nidx, &exists);
    int matched = 0;
    for (int i = 0; rc == 0 && i < r->n; i++) {
        mc_refimage *x = &r->v[i];
        index_entry key = {.name = x->name}, *hit = NULL;
        if (nidx) hit = bsearch(&key, idx, (size_t)nidx, sizeof *idx, cmp_entry);
        if (hit && hit->size == x->size && hit->mtime_ns == x->mtime_ns) {
            x->hash = hit->hash;
            r->reused++;
            matched++;
        } else {
            rc = mc_dhash_file(x->path, &x->hash);
            if (rc < 0) mc_err_context(rc, "reference library %s", dir);
            r->hashed++;
        }
    }
    if (rc == 0) r->dropped = nidx - matched;
    if (rc == 0 && index_path && (!exists || r->hashed || r->dropped)) {
        rc = mc_write_atomic(index_path, index_writer, r);
        r->index_written = rc == 0;
    }
    entries_free(idx, nidx);
    if (rc < 0) {
        mc_reflib_free(r);
        return rc;
    }
    *out = r;
    return MC_OK;
}

int mc_reflib_nearest(const mc_reflib *r, uint64_t q, int *dist) {
    if (!r || r->n == 0) {
        if (dist) *dist = -1;
        return -1;
    }
    uint64_t *h = mc_malloc((size_t)r->n * sizeof *h, "hashes");
    if (!h) { /* fall back to a direct scan */
        int best = 0, bd = 65;
        for (int i = 0; i < r->n; i++) {
            int dd = mc_hamming64(q, r->v[i].hash);
            if (dd < bd) bd = dd, best = i;
        }
        if (dist) *dist = bd;
        return best;
    }
    for (int i = 0; i < r->n; i++) h[i] = r->v[i].hash;
    int best = (int)mc_dhash_nearest(q, h, (size_t)r->n, dist);
    free(h);
    return best;
}

/* ---- quality of files ------------------------------------------------------------------------ */

int mc_quality_files(const char *ref, const char *img, int color, struct mc_quality *q) {
    mc_image8 a = {0}, b = {0};
    int rc = mc_image_load_rgb8(ref, &a);
    if (rc == 0) rc = mc_image_load_rgb8(img, &b);
    if (rc == 0 && (a.w != b.w || a.h != b.h))
        rc = mc_err(MC_ESHAPE, "%s is %dx%d but %s is %dx%d: the metrics compare images of one size", ref, a.w, a.h,
                    img, b.w, b.h);
    if (rc == 0) {
        rc = mc_quality_pair(a.px, 3, b.px, 3, a.w, a.h, color, q);
        if (rc < 0) mc_err_context(rc, "%s vs %s", ref, img);
    }
    mc_image8_free(&a);
    mc_image8_free(&b);
    return rc;
}

/* ---- lists of pairs -------------------------------------------------------------------------- */

void mc_pairlist_free(mc_pairlist *l) {
    if (!l) return;
    for (int i = 0; i < l->n; i++) {
        free(l->ref[i]);
        free(l->img[i]);
    }
    free(l->ref);
    free(l->img);
    free(l);
}

/* base's folder joined with p, unless p is absolute */
static char *relative_to(const char *base, const char *p) {
    const char *slash = strrchr(base, '/');
    if (p[0] == '/' || !slash) return mc_strdup(p);
    size_t dl = (size_t)(slash - base), n = dl + strlen(p) + 2;
    char *s = mc_malloc(n, "path");
    if (s) snprintf(s, n, "%.*s/%s", (int)dl, base, p);
    return s;
}

int mc_pairlist_load(mc_pairlist **out, const char *path) {
    *out = NULL;
    FILE *f = mc_fopen(path, "r");
    if (!f) return MC_EIO;
    mc_pairlist *l = mc_calloc(1, sizeof *l, "pair list");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, cap_n = 0, rc = l ? MC_OK : MC_ENOMEM;
    while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (!line[0] || line[0] == '#') continue;
        if (l->n == 0 && !strcmp(line, "ref\timg")) continue;
        char *tab = strchr(line, '\t');
        if (!tab || strchr(tab + 1, '\t') || tab == line || !tab[1]) {
            rc = mc_err(MC_EPARSE, "%s:%d: expected two tab-separated paths REF<TAB>IMG, got '%.80s'", path, lineno,
                        line);
            break;
        }
        *tab = 0;
        if (l->n == cap_n) {
            cap_n = cap_n ? 2 * cap_n : 32;
            char **nr = mc_realloc(l->ref, (size_t)cap_n * sizeof(char *), "pair list");
            if (nr) l->ref = nr;
            char **ni = nr ? mc_realloc(l->img, (size_t)cap_n * sizeof(char *), "pair list") : NULL;
            if (ni) l->img = ni;
            if (!nr || !ni) {
                rc = MC_ENOMEM;
                break;
            }
        }
        l->ref[l->n] = relative_to(path, line);
        l->img[l->n] = relative_to(path, tab + 1);
        l->n++;
        if (!l->ref[l->n - 1] || !l->img[l->n - 1]) rc = MC_ENOMEM;
    }
    if (rc == 0 && ferror(f)) rc = mc_err(MC_EIO, "%s: read error", path);
    if (rc == 0 && l->n == 0) rc = mc_err(MC_EPARSE, "%s: no pairs (one 'REF<TAB>IMG' a line)", path);
    free(line);
    fclose(f);
    if (rc < 0) {
        mc_pairlist_free(l);
        return rc;
    }
    *out = l;
    return MC_OK;
}
