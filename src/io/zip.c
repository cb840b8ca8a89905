/* zip.c — the entries of a zip archive held in memory, as PyTorch's torch.save writes them
 * (docs/import.md, ".pth"): found through the end-of-central-directory record and the central
 * directory; only stored (uncompressed) entries are read, each checked against its CRC-32. Every
 * offset and size is checked against the buffer; errors name the file and the entry. ZIP64
 * archives (over 4 GiB) and compressed entries are refused with a message saying so. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "core/core.h"
#include "mc_io.h"

static uint16_t le16(const uint8_t *b) { return (uint16_t)(b[0] | (b[1] << 8)); }
static uint32_t le32(const uint8_t *b) {
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}

void mc_zip_free(mc_zip_entry *e, int n) {
    if (!e) return;
    for (int i = 0; i < n; i++) free(e[i].name);
    free(e);
}

int mc_zip_entries(const char *path, const uint8_t *buf, size_t len, mc_zip_entry **out, int *count) {
    *out = NULL;
    *count = 0;
    if (len < 22) return mc_err(MC_EPARSE, "%s: %zu bytes: too short for a zip archive", path, len);
    /* the end-of-central-directory record: the last "PK\5\6" within 22 + 65535 bytes of the end */
    size_t eocd = (size_t)-1, lo = len > 22 + 65535 ? len - 22 - 65535 : 0;
    for (size_t p = len - 22 + 1; p-- > lo;)
        if (buf[p] == 'P' && buf[p + 1] == 'K' && buf[p + 2] == 5 && buf[p + 3] == 6) {
            eocd = p;
            break;
        }
    if (eocd == (size_t)-1)
        return mc_err(MC_EPARSE, "%s: no end-of-central-directory record: a truncated zip archive?", path);
    uint32_t n = le16(buf + eocd + 10), cdsize = le32(buf + eocd + 12), cdoff = le32(buf + eocd + 16);
    if (n == 0xFFFF || cdsize == 0xFFFFFFFFu || cdoff == 0xFFFFFFFFu)
        return mc_err(MC_EUNSUP, "%s: a ZIP64 archive (over 4 GiB or 65535 entries): not supported", path);
    if ((uint64_t)cdoff + cdsize > eocd)
        return mc_err(MC_EPARSE, "%s: central directory [%u, +%u) runs past its end record at %zu (truncated?)", path,
                      cdoff, cdsize, eocd);
    mc_zip_entry *e = mc_calloc(n ? n : 1, sizeof *e, "zip entries");
    if (!e) return MC_ENOMEM;
    size_t p = cdoff, end = (size_t)cdoff + cdsize;
    int rc = MC_OK, k = 0;
    for (; k < (int)n; k++) {
        if (p + 46 > end || le32(buf + p) != 0x02014b50u) {
            rc = mc_err(MC_EPARSE, "%s: central directory entry %d of %u is damaged (at byte %zu)", path, k + 1, n, p);
            break;
        }
        uint16_t method = le16(buf + p + 10), flags = le16(buf + p + 8);
        uint32_t crc = le32(buf + p + 16), csize = le32(buf + p + 20), usize = le32(buf + p + 24);
        uint16_t nlen = le16(buf + p + 28), xlen = le16(buf + p + 30), clen = le16(buf + p + 32);
        uint32_t loff = le32(buf + p + 42);
        if (p + 46 + (size_t)nlen + xlen + clen > end) {
            rc = mc_err(MC_EPARSE, "%s: central directory entry %d of %u runs past the directory", path, k + 1, n);
            break;
        }
        e[k].name = mc_malloc((size_t)nlen + 1, "zip entry name");
        if (!e[k].name) {
            rc = MC_ENOMEM;
            break;
        }
        memcpy(e[k].name, buf + p + 46, nlen);
        e[k].name[nlen] = 0;
        if (memchr(e[k].name, 0, nlen)) {
            rc = mc_err(MC_EPARSE, "%s: entry %d's name holds a NUL byte", path, k + 1);
            k++;
            break;
        }
        p += 46 + (size_t)nlen + xlen + clen;
        if (csize == 0xFFFFFFFFu || usize == 0xFFFFFFFFu || loff == 0xFFFFFFFFu) {
            rc = mc_err(MC_EUNSUP, "%s: entry '%s' has ZIP64 sizes (over 4 GiB): not supported", path, e[k].name);
            k++;
            break;
        }
        if (method != 0 || csize != usize || (flags & 1)) {
            rc = mc_err(MC_EUNSUP, "%s: entry '%s' is %s (method %u): only stored entries are read (as torch.save "
                                   "writes them)", path, e[k].name, flags & 1 ? "encrypted" : "compressed", method);
            k++;
            break;
        }
        if ((uint64_t)loff + 30 > len || le32(buf + loff) != 0x04034b50u) {
            rc = mc_err(MC_EPARSE, "%s: entry '%s': no local header at byte %u", path, e[k].name, loff);
            k++;
            break;
        }
        uint64_t data = (uint64_t)loff + 30 + le16(buf + loff + 26) + le16(buf + loff + 28);
        if (data + usize > cdoff) {
            rc = mc_err(MC_EPARSE, "%s: entry '%s': %u bytes at byte %llu run past the entries (truncated?)", path,
                        e[k].name, usize, (unsigned long long)data);
            k++;
            break;
        }
        e[k].data = buf + data;
        e[k].size = usize;
        uLong c = crc32(0L, Z_NULL, 0);
        for (size_t q = 0; q < usize;) { /* crc32 takes uInt lengths */
            uInt step = usize - q > (1u << 30) ? (1u << 30) : (uInt)(usize - q);
            c = crc32(c, e[k].data + q, step);
            q += step;
        }
        if ((uint32_t)c != crc) {
            rc = mc_err(MC_EPARSE, "%s: entry '%s': CRC-32 %08x, the directory says %08x (damaged)", path, e[k].name,
                        (unsigned)c, (unsigned)crc);
            k++;
            break;
        }
    }
    if (rc < 0) {
        mc_zip_free(e, k);
        return rc;
    }
    *out = e;
    *count = (int)n;
    return MC_OK;
}
