/* error.c — thread-local last-error message (see core.h): always one line. */
#include <stdarg.h>
#include <string.h>
#include "core/core.h"

static _Thread_local char errbuf[1024];

const char *mc_errmsg(void) { return errbuf[0] ? errbuf : "no error"; }

void mc_clear_error(void) { errbuf[0] = 0; }

/* Copies src into errbuf as one line: control characters that came in with the input (a tensor
 * name, a CSV field, a JSON key holding a line break) are written as \n, \r, \t or \xNN. */
static void set_line(const char *src) {
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)src; *p && o + 1 < sizeof errbuf; p++) {
        if (*p >= 0x20 && *p != 0x7f) {
            errbuf[o++] = (char)*p;
            continue;
        }
        char esc[5];
        int n = *p == '\n' ? snprintf(esc, sizeof esc, "\\n") : *p == '\r' ? snprintf(esc, sizeof esc, "\\r")
              : *p == '\t' ? snprintf(esc, sizeof esc, "\\t") : snprintf(esc, sizeof esc, "\\x%02x", *p);
        if (o + (size_t)n + 1 > sizeof errbuf) break;
        memcpy(errbuf + o, esc, (size_t)n);
        o += (size_t)n;
    }
    errbuf[o] = 0;
}

/* The format and any argument may point into errbuf itself (e.g. mc_err(c, "%s: %s", where,
 * mc_errmsg()) adds context to the current message): formatting straight into errbuf would read
 * what it is overwriting. Format into a temporary, then copy. */
int mc_err(int code, const char *fmt, ...) {
    char tmp[sizeof errbuf];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    set_line(tmp);
    return code;
}

int mc_err_context(int code, const char *fmt, ...) {
    char prefix[512], old[sizeof errbuf]; /* fmt's arguments may point into errbuf: prefix first */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, errbuf, sizeof old);
    char tmp[sizeof errbuf];
    snprintf(tmp, sizeof tmp, "%.400s: %.600s", prefix, old);
    set_line(tmp);
    return code;
}

const char *mc_strerror(int code) {
    switch (code) {
    case MC_OK: return "ok";
    case MC_ENOMEM: return "out of memory";
    case MC_EIO: return "i/o error";
    case MC_EPARSE: return "parse error";
    case MC_ESHAPE: return "shape error";
    case MC_EARG: return "invalid argument";
    case MC_ENUM: return "numerical error";
    case MC_EBACKEND: return "backend error";
    case MC_EUNSUP: return "not supported";
    case MC_ENOTFOUND: return "not found";
    default: return "unknown error";
    }
}
