/* fuzz_csv.c — text reading and the CSV tokenizer: x.csv (gzip or not, by content) is read
 * record by record; when that succeeds, its records are written back by mc_csv_write_rows (as
 * subsets are written; y.csv, or y.csv.gz when the first input byte is odd) and read again: the
 * fields must be the same, record by record (or the writer refuses, with a message). */
#include "fuzz.h"
#include "data/data_internal.h"

/* every record's fields, '\x1f' between fields and '\x1e' after each record */
static int tokenize(const char *path, char **out, size_t *len, int *nrec) {
    mc_csv c;
    int rc = mc_csv_open(&c, path);
    if (rc < 0) return rc;
    size_t cap = 256, n = 0;
    char *s = malloc(cap);
    *nrec = 0;
    while ((rc = mc_csv_next(&c)) > 0) {
        for (int k = 0; k < c.nf; k++) {
            size_t fl = strlen(c.f[k]);
            while (n + fl + 2 > cap) s = realloc(s, cap *= 2);
            memcpy(s + n, c.f[k], fl);
            n += fl;
            s[n++] = k + 1 < c.nf ? '\x1f' : '\x1e';
        }
        ++*nrec;
    }
    mc_csv_close(&c);
    if (rc < 0) {
        free(s);
        return rc;
    }
    *out = s;
    *len = n;
    return MC_OK;
}

static int one(const uint8_t *data, size_t size) {
    char src[700], dst[700];
    mc_fuzz_write(src, sizeof src, "x.csv", data, size);
    char *a = NULL, *b = NULL;
    size_t na, nb;
    int ra, rb;
    int rc = tokenize(src, &a, &na, &ra);
    if (rc < 0) return mc_fuzz_check_error(rc, MC_FUZZ_NAMES("x.csv"));
    int bad = 0;
    if (ra > 0) {
        int *rows = malloc((size_t)ra * sizeof *rows);
        for (int i = 0; i < ra; i++) rows[i] = i;
        mc_fuzz_path(dst, sizeof dst, size && (data[0] & 1) ? "y.csv.gz" : "y.csv");
        rc = mc_csv_write_rows(src, 0, rows, ra, dst);
        free(rows);
        if (rc < 0) {
            bad = mc_fuzz_check_error(rc, MC_FUZZ_NAMES("y.csv")); /* refusing is fine, with a message */
        } else if ((rc = tokenize(dst, &b, &nb, &rb)) < 0) {
            fprintf(stderr, "fuzz: the records written back do not read: %s\n", mc_errmsg());
            bad = 1;
        } else if (rb != ra || nb != na || memcmp(a, b, na) != 0) {
            fprintf(stderr, "fuzz: %d records read, %d after writing them back (or other fields)\n", ra, rb);
            bad = 1;
        }
    }
    free(a);
    free(b);
    return bad;
}
MC_FUZZ_TARGET(csv)
