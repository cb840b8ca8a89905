/* csv.c — whole-file text reading (gzip read transparently through zlib: every member must end
 * with its CRC-32 and length trailer, nothing but another member may follow; at most
 * MC_CSV_MAX bytes before and after gunzip; no NUL bytes) and a small strict
 * CSV tokenizer: comma-separated, RFC 4180 quoting ("a,b", "" for a quote, newlines inside
 * quotes), LF or CRLF line ends, a UTF-8 byte-order mark skipped, blank lines skipped.
 * Every error names file:line. The raw byte range of each record is kept so that subsets can
 * be written back byte-identical. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "data/data_internal.h"

int mc_gunzip(const char *path, const unsigned char *in, size_t n, size_t max, char **out, size_t *outlen) {
    *out = NULL;
    *outlen = 0;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 16) != Z_OK) /* 16: gzip wrapper only, its CRC-32 and length checked */
        return mc_err(MC_ENOMEM, "%s: cannot start gunzip (out of memory in zlib)", path);
    size_t cap = n < ((size_t)1 << 30) / 4 ? 4 * n + 4096 : (size_t)1 << 30, used = 0;
    if (cap > max + 1) cap = max + 1;
    char *buf = mc_malloc(cap + 1, path);
    int rc = MC_OK, members = 0;
    if (!buf) rc = MC_ENOMEM;
    size_t pos = 0; /* input consumed */
    while (rc == MC_OK) {
        if (used == cap) {
            if (used > max) {
                char lim[32];
                rc = mc_err(MC_EIO, "%s: decompresses to more than the %s limit for a label CSV (docs/robustness.md)",
                            path, mc_size_str(max, lim, sizeof lim));
                break;
            }
            size_t nc = cap > max / 2 ? max + 1 : cap * 2;
            char *nb = mc_realloc(buf, nc + 1, path);
            if (!nb) { rc = MC_ENOMEM; break; }
            buf = nb;
            cap = nc;
        }
        /* zlib counts in uInt: hand it at most 1 GiB of input and output at a time */
        size_t in_chunk = n - pos < ((size_t)1 << 30) ? n - pos : (size_t)1 << 30;
        size_t out_chunk = cap - used < ((size_t)1 << 30) ? cap - used : (size_t)1 << 30;
        z.next_in = (unsigned char *)(uintptr_t)(in + pos);
        z.avail_in = (uInt)in_chunk;
        z.next_out = (unsigned char *)buf + used;
        z.avail_out = (uInt)out_chunk;
        int zr = inflate(&z, Z_NO_FLUSH);
        pos += in_chunk - z.avail_in;
        used += out_chunk - z.avail_out;
        if (zr == Z_STREAM_END) {
            members++;
            if (pos == n) break;
            /* another member (concatenated gzip files, as gzip -c a b > ab writes): go on */
            if (n - pos >= 2 && in[pos] == 0x1f && in[pos + 1] == 0x8b) {
                if (inflateReset(&z) != Z_OK) rc = mc_err(MC_ENOMEM, "%s: gunzip failed (zlib)", path);
                continue;
            }
            rc = mc_err(MC_EPARSE, "%s: %zu bytes of trailing data after gzip member %d (at byte %zu): not gzip",
                        path, n - pos, members, pos);
        } else if (zr == Z_OK) {
            continue;
        } else if (zr == Z_BUF_ERROR && pos == n) {
            rc = mc_err(MC_EPARSE,
                        "%s: truncated gzip file: it ends at byte %zu inside member %d, before the stream's end "
                        "and its CRC/length trailer (an interrupted download or copy?)",
                        path, n, members + 1);
        } else if (zr == Z_BUF_ERROR && (in_chunk != z.avail_in || out_chunk != z.avail_out)) {
            continue;
        } else if (zr == Z_BUF_ERROR) {
            rc = mc_err(MC_EPARSE, "%s: gunzip made no progress at byte %zu (zlib)", path, pos);
        } else if (zr == Z_MEM_ERROR) {
            rc = mc_err(MC_ENOMEM, "%s: out of memory in zlib", path);
        } else {
            rc = mc_err(MC_EPARSE, "%s: corrupt gzip data in member %d near byte %zu (%s)", path, members + 1, pos,
                        z.msg ? z.msg : "zlib error");
        }
    }
    inflateEnd(&z);
    if (rc == MC_OK && used > max) {
        char lim[32];
        rc = mc_err(MC_EIO, "%s: decompresses to more than the %s limit for a label CSV (docs/robustness.md)", path,
                    mc_size_str(max, lim, sizeof lim));
    }
    if (rc < 0) {
        free(buf);
        return rc;
    }
    buf[used] = 0;
    *out = buf;
    *outlen = used;
    return MC_OK;
}

int mc_text_read(const char *path, char **out, size_t *len) {
    *out = NULL;
    if (len) *len = 0;
    char *raw;
    size_t n;
    MC_TRY(mc_fread_all_max(path, MC_CSV_MAX, &raw, &n));
    char *text = raw;
    size_t tn = n;
    if (n >= 2 && (unsigned char)raw[0] == 0x1f && (unsigned char)raw[1] == 0x8b) { /* gzip, by content */
        int rc = mc_gunzip(path, (const unsigned char *)raw, n, MC_CSV_MAX, &text, &tn);
        free(raw);
        MC_TRY(rc);
    }
    int rc = mc_text_no_nul(path, text, tn);
    if (rc < 0) {
        free(text);
        return rc;
    }
    *out = text;
    if (len) *len = tn;
    return MC_OK;
}

void mc_csv_init_buffer(mc_csv *c, const char *path, char *buf, size_t len) {
    memset(c, 0, sizeof *c);
    c->path = path;
    c->buf = buf;
    c->len = len;
    c->lineno = 1;
    if (len >= 3 && (unsigned char)buf[0] == 0xEF && (unsigned char)buf[1] == 0xBB &&
        (unsigned char)buf[2] == 0xBF)
        c->pos = 3;
    /* The line terminator of the first line, used when records are written back. */
    strcpy(c->eol, "\n");
    const char *nl = memchr(buf, '\n', len);
    if (nl && nl > buf && nl[-1] == '\r') strcpy(c->eol, "\r\n");
}

int mc_csv_open(mc_csv *c, const char *path) {
    char *buf;
    size_t len;
    memset(c, 0, sizeof *c);
    MC_TRY(mc_text_read(path, &buf, &len));
    mc_csv_init_buffer(c, path, buf, len);
    return MC_OK;
}

void mc_csv_close(mc_csv *c) {
    free(c->buf);
    free(c->f);
    free(c->foff);
    free(c->scratch);
    memset(c, 0, sizeof *c);
}

static int grow_scratch(mc_csv *c, size_t need) {
    if (need <= c->scap) return MC_OK;
    size_t cap = c->scap ? c->scap : 256;
    while (cap < need) cap *= 2;
    char *s = mc_realloc(c->scratch, cap, "CSV field buffer");
    if (!s) return MC_ENOMEM;
    c->scratch = s;
    c->scap = cap;
    return MC_OK;
}

/* a NUL byte would cut the field short where it is used as a C string (a path, a label) */
static int nul_in_field(const mc_csv *c) {
    return mc_err(MC_EPARSE, "%s:%d: field %d holds a NUL byte", c->path, c->lineno, c->nf);
}

static int add_field(mc_csv *c, size_t off) {
    if (c->nf >= MC_CSV_MAX_FIELDS)
        return mc_err(MC_EPARSE, "%s:%d: more than %d fields in one record", c->path, c->line, MC_CSV_MAX_FIELDS);
    if (c->nf == c->capf) {
        int cap = c->capf ? c->capf * 2 : 32;
        size_t *fo = mc_realloc(c->foff, (size_t)cap * sizeof *fo, "CSV fields");
        if (!fo) return MC_ENOMEM;
        c->foff = fo;
        char **f = mc_realloc(c->f, (size_t)cap * sizeof *f, "CSV fields");
        if (!f) return MC_ENOMEM;
        c->f = f;
        c->capf = cap;
    }
    c->foff[c->nf++] = off;
    return MC_OK;
}

int mc_csv_next(mc_csv *c) {
    const char *b = c->buf;
    size_t len = c->len, i = c->pos;
    /* Skip blank lines. */
    while (i < len && (b[i] == '\n' || b[i] == '\r')) {
        if (b[i] == '\r' && i + 1 < len && b[i + 1] == '\n') i++;
        i++;
        c->lineno++;
    }
    c->pos = i;
    c->nf = 0;
    if (i >= len) return 0;
    c->line = c->lineno;
    c->rec_start = i;
    size_t sn = 0; /* bytes used in scratch */
    /* Worst case for an unquoted record: its bytes plus a NUL per field; grown below when a
     * quoted field spans more. */
    const char *eol = memchr(b + i, '\n', len - i);
    size_t linelen = (eol ? (size_t)(eol - (b + i)) : len - i);
    MC_TRY(grow_scratch(c, 2 * linelen + 2));
    for (;;) {
        MC_TRY(add_field(c, sn));
        if (i < len && b[i] == '"') {
            int start_line = c->lineno;
            i++;
            for (;;) {
                if (i >= len)
                    return mc_err(MC_EPARSE, "%s:%d: unterminated quoted field", c->path, start_line);
                char ch = b[i];
                if (ch == '"') {
                    if (i + 1 < len && b[i + 1] == '"') {
                        MC_TRY(grow_scratch(c, sn + 2));
                        c->scratch[sn++] = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                if (ch == '\n') c->lineno++;
                if (ch == 0) return nul_in_field(c);
                MC_TRY(grow_scratch(c, sn + 2));
                c->scratch[sn++] = ch;
                i++;
            }
            if (i < len && b[i] != ',' && b[i] != '\n' && b[i] != '\r')
                return mc_err(MC_EPARSE, "%s:%d: field %d: text after the closing quote", c->path,
                              c->lineno, c->nf);
        } else {
            size_t j = i;
            while (j < len && b[j] != ',' && b[j] != '\n' && b[j] != '\r') j++;
            if (memchr(b + i, 0, j - i)) return nul_in_field(c);
            MC_TRY(grow_scratch(c, sn + (j - i) + 2));
            memcpy(c->scratch + sn, b + i, j - i);
            sn += j - i;
            i = j;
        }
        c->scratch[sn++] = 0;
        if (i < len && b[i] == ',') {
            i++;
            continue;
        }
        break;
    }
    c->rec_end = i;
    if (i < len) { /* terminator */
        if (b[i] == '\r' && i + 1 < len && b[i + 1] == '\n') i++;
        i++;
        c->lineno++;
    }
    c->pos = i;
    for (int k = 0; k < c->nf; k++) c->f[k] = c->scratch + c->foff[k];
    return 1;
}

int mc_csv_col(const mc_csv *c, const char *name) {
    for (int k = 0; k < c->nf; k++)
        if (strcmp(c->f[k], name) == 0) return k;
    return -1;
}

/* ---- writing chosen records back -------------------------------------------------------- */

int mc_csv_count_records(const char *src, int has_header, int *n) {
    mc_csv c;
    int rc, count = 0;
    MC_TRY(mc_csv_open(&c, src));
    while ((rc = mc_csv_next(&c)) > 0) count++;
    mc_csv_close(&c);
    if (rc < 0) return rc;
    if (has_header && count > 0) count--;
    *n = count;
    return MC_OK;
}

typedef struct rows_job {
    mc_csv *c;
    int has_header;
    size_t hdr_start, hdr_end; /* header bytes */
    size_t *start, *end;       /* [nrec] data records */
    const int *rows;
    int k;
    int gz;                    /* 1: gzip the output */
} rows_job;

static int put(FILE *f, gzFile g, const char *p, size_t n, const char *path) {
    if (n == 0) return MC_OK;
    if (g) {
        if (gzwrite(g, p, (unsigned)n) != (int)n) {
            int zerr;
            return mc_err(MC_EIO, "%s: write error (%s)", path, gzerror(g, &zerr));
        }
        return MC_OK;
    }
    return mc_fwrite(p, 1, n, f, path);
}

static int is_bom(const char *p, size_t n) {
    return n >= 3 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB && (unsigned char)p[2] == 0xBF;
}

static int write_rows_to(FILE *f, gzFile g, const char *path, rows_job *j) {
    const char *b = j->c->buf, *eol = j->c->eol;
    size_t el = strlen(eol);
    /* the source's byte-order mark is kept; and a first record that itself starts with those
     * bytes gets one in front, or reading the file back would take its first bytes for a BOM */
    size_t s0 = j->has_header ? j->hdr_start : j->k > 0 ? j->start[j->rows[0]] : 0;
    size_t e0 = j->has_header ? j->hdr_end : j->k > 0 ? j->end[j->rows[0]] : 0;
    int bom = is_bom(b, j->c->len) || is_bom(b + s0, e0 - s0);
    /* text is told from gzip by its first two bytes: a plain file must not start with gzip's */
    if (!g && !bom && e0 - s0 >= 2 && (unsigned char)b[s0] == 0x1f && (unsigned char)b[s0 + 1] == 0x8b)
        return mc_err(MC_EPARSE, "%s: the first record starts with the gzip signature (bytes 1f 8b): the file "
                      "would not read back as text (name it .gz)", path);
    if (bom) MC_TRY(put(f, g, "\xEF\xBB\xBF", 3, path));
    if (j->has_header) {
        MC_TRY(put(f, g, b + j->hdr_start, j->hdr_end - j->hdr_start, path));
        MC_TRY(put(f, g, eol, el, path));
    }
    for (int i = 0; i < j->k; i++) {
        int r = j->rows[i];
        MC_TRY(put(f, g, b + j->start[r], j->end[r] - j->start[r], path));
        MC_TRY(put(f, g, eol, el, path));
    }
    return MC_OK;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int rows_writer(FILE *f, const char *path, void *arg) {
    rows_job *j = arg;
    if (!j->gz) return write_rows_to(f, NULL, path, j);
    if (fflush(f) != 0) return mc_err(MC_EIO, "%s: write error (%s)", path, strerror(errno));
    int fd = dup(fileno(f));
    if (fd < 0) return mc_err(MC_EIO, "%s: dup failed (%s)", path, strerror(errno));
    gzFile g = gzdopen(fd, "wb");
    if (!g) {
        close(fd);
        return mc_err(MC_ENOMEM, "%s: cannot start gzip stream", path);
    }
    int rc = write_rows_to(NULL, g, path, j);
    int zrc = gzclose(g);
    if (rc == MC_OK && zrc != Z_OK) rc = mc_err(MC_EIO, "%s: gzip close failed (%d)", path, zrc);
    return rc;
}

int mc_csv_write_rows(const char *src, int has_header, const int *rows, int k, const char *out) {
    mc_csv c;
    rows_job j;
    memset(&j, 0, sizeof j);
    MC_TRY(mc_csv_open(&c, src));
    size_t cap = 1024;
    int nrec = 0, rc, seen_header = 0;
    j.start = mc_malloc(cap * sizeof *j.start, "record offsets");
    j.end = mc_malloc(cap * sizeof *j.end, "record offsets");
    if (!j.start || !j.end) { rc = MC_ENOMEM; goto done; }
    while ((rc = mc_csv_next(&c)) > 0) {
        if (has_header && !seen_header) {
            j.hdr_start = c.rec_start;
            j.hdr_end = c.rec_end;
            seen_header = 1;
            continue;
        }
        if ((size_t)nrec == cap) {
            cap *= 2;
            size_t *s = mc_realloc(j.start, cap * sizeof *s, "record offsets");
            if (!s) { rc = MC_ENOMEM; goto done; }
            j.start = s;
            size_t *e = mc_realloc(j.end, cap * sizeof *e, "record offsets");
            if (!e) { rc = MC_ENOMEM; goto done; }
            j.end = e;
        }
        j.start[nrec] = c.rec_start;
        j.end[nrec] = c.rec_end;
        nrec++;
    }
    if (rc < 0) goto done;
    if (has_header && !seen_header) { rc = mc_err(MC_EPARSE, "%s: empty file (no header)", src); goto done; }
    for (int i = 0; i < k; i++)
        if (rows[i] < 0 || rows[i] >= nrec) {
            rc = mc_err(MC_EARG, "%s: row %d does not exist (%d data rows)", src, rows[i], nrec);
            goto done;
        }
    j.c = &c;
    j.has_header = has_header;
    j.rows = rows;
    j.k = k;
    j.gz = ends_with(out, ".gz");
    if (strcmp(out, "-") == 0) {
        rc = write_rows_to(stdout, NULL, "<stdout>", &j);
        if (rc == MC_OK && fflush(stdout) != 0)
            rc = mc_err(MC_EIO, "<stdout>: write error (%s)", strerror(errno));
    } else {
        rc = mc_write_atomic(out, rows_writer, &j);
    }
done:
    free(j.start);
    free(j.end);
    mc_csv_close(&c);
    return rc;
}
