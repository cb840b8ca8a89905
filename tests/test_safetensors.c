/* test_safetensors.c — the JSON parser and the safetensors reader/writer against an
 * independent Python implementation of the format (tests/torch/safetensors_ref.py):
 *  - files written by Python from PyTorch tensors (F32, F16, BF16, F64, I64, I32, I16, I8, U8,
 *    BOOL; special values; misaligned data; a scalar; an empty tensor; odd names) read back
 *    and compared bit for bit with torch's own float32 conversion;
 *  - a torchvision resnet18 state_dict (with I64 num_batches_tracked) and a 110 MB file;
 *  - a file written by the C writer, verified by Python (byte-identical to the reference
 *    encoding) and read back by Python;
 *  - corrupt files (truncated, bad JSON, offsets outside, wrong sizes, overlaps, ...), each
 *    with the right error code and a message naming the file and the tensor.
 */
#include <stdint.h>
#include <string.h>
#include <time.h>
#include "core/core.h"
#include "mc_io.h"
#include "test.h"

static char dir[1024];

static const char *python(void) {
    const char *p = getenv("PYTHON");
    return p && *p ? p : "/usr/bin/python3";
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int same_float(float a, float b) {
    if (isnan(a) && isnan(b)) return 1;
    return memcmp(&a, &b, sizeof a) == 0;
}

/* ---- JSON --------------------------------------------------------------------------------- */

static int json_rc(const char *text) {
    mc_json *v = NULL;
    int rc = mc_json_parse(&v, text, strlen(text), "t.json");
    mc_json_free(v);
    return rc;
}

static void test_json(void) {
    mc_json *v;
    const char *t = " {\"a\": [1, -2, 3.5e2, true, false, null, \"x\\\"y\\\\z\\/\\b\\f\\n\\r\\t\"],"
                    " \"u\": \"\\u00e9\\u20AC\\ud83d\\ude00\", \"big\": 12345678901234567890,"
                    " \"neg0\": -0, \"e\": {}, \"ea\": []} \n";
    REQUIRE_OK(mc_json_parse(&v, t, strlen(t), "t.json"));
    CHECK(v->type == MC_JSON_OBJECT && v->n == 6, "root object with 6 members");
    const mc_json *a = mc_json_get(v, "a");
    REQUIRE(a && a->type == MC_JSON_ARRAY && a->n == 7, "array a");
    CHECK(a->items[0].is_int && a->items[0].i == 1, "1");
    CHECK(a->items[1].is_int && a->items[1].i == -2, "-2");
    CHECK(!a->items[2].is_int && a->items[2].num == 350.0, "3.5e2");
    CHECK(a->items[3].type == MC_JSON_BOOL && a->items[3].boolean == 1, "true");
    CHECK(a->items[4].type == MC_JSON_BOOL && a->items[4].boolean == 0, "false");
    CHECK(a->items[5].type == MC_JSON_NULL, "null");
    CHECK(a->items[6].len == 11 && memcmp(a->items[6].str, "x\"y\\z/\b\f\n\r\t", 11) == 0, "escapes");
    const mc_json *u = mc_json_get(v, "u");
    /* é = C3 A9, € = E2 82 AC, 😀 (U+1F600) = F0 9F 98 80 */
    const char want[] = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    CHECK(u && u->len == 9 && memcmp(u->str, want, 9) == 0, "\\u escapes and surrogate pair to UTF-8");
    const mc_json *big = mc_json_get(v, "big");
    CHECK(big && !big->is_int && fabs(big->num - 1.2345678901234567e19) < 1e4, "integer beyond int64 as double");
    CHECK(mc_json_get(v, "e")->n == 0 && mc_json_get(v, "ea")->n == 0, "empty containers");
    CHECK(mc_json_get(v, "missing") == NULL, "missing key");
    mc_json_free(v);

    /* Not NUL-terminated: the length is respected. */
    const char trunc[] = "[1,2]xxx";
    REQUIRE_OK(mc_json_parse(&v, trunc, 5, "t.json"));
    CHECK(v->n == 2, "length respected");
    mc_json_free(v);

    const char *bad[] = {
        "", "   ", "{", "[1,2,]", "{\"a\":1,}", "{a:1}", "[01]", "[1.]", "[.5]", "[1e]", "[-]",
        "[+1]", "[NaN]", "[Infinity]", "[1e999]", "\"\\x\"", "\"\\u12G4\"", "\"\\ud800\"",
        "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"tab\there\"", "\"\xff\"", "\"\xc0\xaf\"",
        "\"\xed\xa0\x80\"", "[1] [2]", "[1,2", "{\"a\" 1}", "tru", "nul", "/*c*/1", "{\"a\\u0000\":1}",
        "\"unterminated",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = json_rc(bad[i]);
        CHECK(rc == MC_EPARSE, "bad JSON #%zu <%s> -> %d", i, bad[i], rc);
        if (rc == MC_EPARSE) CHECK(strstr(mc_errmsg(), "t.json") != NULL, "message names the source: %s", mc_errmsg());
    }
    /* Position in the message: line 3, column 5. */
    CHECK(json_rc("{\n \"a\": 1,\n    ]") == MC_EPARSE && strstr(mc_errmsg(), "line 3, column 5"),
          "line/column: %s", mc_errmsg());

    /* Nesting limit: 64 levels parse, 65 do not. */
    char deep[200];
    for (int d = 64; d <= 65; d++) {
        int k = 0;
        for (int i = 0; i < d; i++) deep[k++] = '[';
        for (int i = 0; i < d; i++) deep[k++] = ']';
        deep[k] = 0;
        int rc = json_rc(deep);
        CHECK(d == 64 ? rc == MC_OK : rc == MC_EPARSE, "depth %d -> %d (%s)", d, rc, mc_errmsg());
    }
    CHECK(mc_utf8_valid("a\xc3\xa9", 3) && !mc_utf8_valid("\xe2\x82", 2) && !mc_utf8_valid("\xf4\x90\x80\x80", 4),
          "utf8 validation");
}

/* ---- files written by Python -------------------------------------------------------------- */

/* Reads a manifest (lines T/M, tab-separated) and checks the file against it and its .f32. */
static void check_against_manifest(const char *stpath, const char *manifest) {
    mc_st *st;
    REQUIRE_OK(mc_st_open(&st, stpath));
    char f32path[1300];
    snprintf(f32path, sizeof f32path, "%s.f32", manifest);
    char *text, *vals;
    size_t tlen, vlen;
    REQUIRE_OK(mc_fread_all(manifest, &text, &tlen));
    REQUIRE_OK(mc_fread_all(f32path, &vals, &vlen));
    size_t voff = 0;
    int ntensors = 0, nmeta = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *f[4] = {0};
        int nf = 0;
        for (char *p = line; nf < 4;) {
            f[nf++] = p;
            char *tab = strchr(p, '\t');
            if (!tab) break;
            *tab = 0;
            p = tab + 1;
        }
        if (line[0] == 'M') {
            REQUIRE(nf == 3, "manifest metadata line");
            const char *v = mc_st_metadata(st, f[1]);
            CHECK(v && strcmp(v, f[2]) == 0, "%s: metadata %s = '%s', expected '%s'", stpath, f[1], v ? v : "(none)", f[2]);
            nmeta++;
            continue;
        }
        REQUIRE(nf == 4 && line[0] == 'T', "manifest tensor line");
        ntensors++;
        int i = mc_st_find(st, f[1]);
        CHECK(i >= 0, "%s: tensor '%s' found (%s)", stpath, f[1], mc_errmsg());
        if (i < 0) continue;
        mc_st_info info;
        REQUIRE_OK(mc_st_get_info(st, i, &info));
        CHECK(strcmp(info.name, f[1]) == 0, "name");
        CHECK(strcmp(mc_st_dtype_name(info.dtype), f[2]) == 0, "%s: dtype %s, expected %s", f[1],
              mc_st_dtype_name(info.dtype), f[2]);
        int64_t shape[MC_ST_MAX_DIMS];
        int nd = 0;
        size_t numel = 1;
        for (char *p = f[3]; *p;) {
            shape[nd] = strtoll(p, &p, 10);
            numel *= (size_t)shape[nd++];
            if (*p == ',') p++;
        }
        CHECK(info.ndim == nd, "%s: ndim %d, expected %d", f[1], info.ndim, nd);
        for (int d = 0; d < nd && d < info.ndim; d++) CHECK(info.shape[d] == shape[d], "%s: dim %d", f[1], d);
        CHECK(info.numel == numel, "%s: numel %zu, expected %zu", f[1], info.numel, numel);
        CHECK(info.nbytes == numel * (size_t)mc_st_dtype_size(info.dtype), "%s: nbytes", f[1]);
        REQUIRE(voff + numel * 4 <= vlen, "expected values present");
        float *got = mc_alloc_floats(numel, "test");
        REQUIRE(got, "alloc");
        REQUIRE_OK(mc_st_read_expect(st, f[1], nd, shape, got));
        int bad = 0;
        for (size_t k = 0; k < numel; k++) {
            float want;
            memcpy(&want, vals + voff + 4 * k, 4);
            if (!same_float(got[k], want)) {
                if (bad++ < 5) CHECK(0, "%s: %s[%zu] = %.9g, torch says %.9g", stpath, f[1], k, (double)got[k], (double)want);
            }
        }
        CHECK(bad == 0, "%s: %s: %d of %zu values differ", stpath, f[1], bad, numel);
        voff += numel * 4;
        mc_free_aligned(got);
    }
    CHECK(voff == vlen, "all expected values consumed");
    CHECK(mc_st_num_tensors(st) == ntensors, "%s: %d tensors, manifest has %d", stpath, mc_st_num_tensors(st), ntensors);
    CHECK(mc_st_num_metadata(st) == nmeta, "%s: %d metadata, manifest has %d", stpath, mc_st_num_metadata(st), nmeta);
    /* Listing is in name order. */
    for (int i = 1; i < mc_st_num_tensors(st); i++) {
        mc_st_info a, b;
        mc_st_get_info(st, i - 1, &a);
        mc_st_get_info(st, i, &b);
        CHECK(strcmp(a.name, b.name) < 0, "listing sorted: '%s' before '%s'", a.name, b.name);
    }
    free(text);
    free(vals);
    mc_st_close(st);
}

static void test_mixed(void) {
    char path[1200], man[1200];
    snprintf(path, sizeof path, "%s/mixed.safetensors", dir);
    snprintf(man, sizeof man, "%s/mixed.expect", dir);
    check_against_manifest(path, man);

    mc_st *st;
    REQUIRE_OK(mc_st_open(&st, path));
    /* Independently known facts about a few values (not only torch's word). */
    float v[6];
    REQUIRE_OK(mc_st_read_f32(st, mc_st_find(st, "d.f64"), v, 6));
    CHECK(isinf(v[0]) && v[1] == 0.0f && v[2] == 0.1f && v[3] == -2.5f && v[4] == 16777216.0f &&
          v[5] == 0.0f && signbit(v[5]), "F64 -> F32 rounding");
    float e;
    REQUIRE_OK(mc_st_read_f32(st, mc_st_find(st, "e.num_batches_tracked"), &e, 1));
    CHECK(e == 12345.0f, "I64 scalar num_batches_tracked = %g", (double)e);
    mc_st_info info;
    REQUIRE_OK(mc_st_get_info(st, mc_st_find(st, "e.num_batches_tracked"), &info));
    CHECK(info.ndim == 0 && info.numel == 1 && info.dtype == MC_ST_I64, "scalar info");
    REQUIRE_OK(mc_st_get_info(st, mc_st_find(st, "k.empty"), &info));
    CHECK(info.numel == 0 && info.nbytes == 0, "empty tensor");
    REQUIRE_OK(mc_st_read_f32(st, mc_st_find(st, "k.empty"), NULL, 0));
    float b[35];
    REQUIRE_OK(mc_st_read_f32(st, mc_st_find(st, "b.f16"), b, 35));
    CHECK(b[0] == 65504.0f && b[1] == -65504.0f && b[2] == 0x1p-24f && b[3] == 3 * 0x1p-20f && isinf(b[4]) && isnan(b[5]),
          "F16 specials");
    /* Misaligned data: the header length is 8k+3. */
    REQUIRE_OK(mc_st_get_info(st, mc_st_find(st, "a.f32"), &info));
    CHECK(info.offset % 4 != 0, "the test file really has misaligned F32 data (offset %llu)",
          (unsigned long long)info.offset);
    size_t nb;
    const void *raw = mc_st_raw(st, mc_st_find(st, "zeta.last"), &nb);
    float z0;
    CHECK(raw && nb == 24, "raw bytes");
    if (raw) { memcpy(&z0, raw, 4); CHECK(z0 == -2.5f, "raw F32 data"); }

    /* Errors: unknown name, wrong count, wrong shape. */
    CHECK(mc_st_find(st, "nope.weight") == MC_ENOTFOUND && strstr(mc_errmsg(), "nope.weight") &&
          strstr(mc_errmsg(), "mixed.safetensors"), "not found: %s", mc_errmsg());
    CHECK(mc_st_read_f32(st, mc_st_find(st, "a.f32"), v, 6) == MC_ESHAPE && strstr(mc_errmsg(), "a.f32"),
          "wrong count: %s", mc_errmsg());
    int64_t wrong[2] = {4, 3};
    float buf[12];
    CHECK(mc_st_read_expect(st, "a.f32", 2, wrong, buf) == MC_ESHAPE && strstr(mc_errmsg(), "[3, 4]") &&
          strstr(mc_errmsg(), "[4, 3]"), "wrong shape: %s", mc_errmsg());
    CHECK(mc_st_get_info(st, 99, &info) == MC_EARG, "bad index");
    mc_st_close(st);
}

static void test_resnet18(void) {
    char path[1200], man[1200];
    snprintf(path, sizeof path, "%s/resnet18.safetensors", dir);
    snprintf(man, sizeof man, "%s/resnet18.expect", dir);
    double t0 = now_s();
    mc_st *st;
    REQUIRE_OK(mc_st_open(&st, path));
    double t1 = now_s();
    char *text;
    size_t tlen;
    REQUIRE_OK(mc_fread_all(man, &text, &tlen));
    int n = 0, nbt = 0;
    size_t total = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char name[256], dtype[16], dims[128];
        double sum, sumsq;
        /* dims may be empty (scalar): parse by tabs. */
        char *f[6];
        int nf = 0;
        for (char *p = line; nf < 6;) {
            f[nf++] = p;
            char *tab = strchr(p, '\t');
            if (!tab) break;
            *tab = 0;
            p = tab + 1;
        }
        REQUIRE(nf == 6, "resnet manifest line");
        snprintf(name, sizeof name, "%s", f[1]);
        snprintf(dtype, sizeof dtype, "%s", f[2]);
        snprintf(dims, sizeof dims, "%s", f[3]);
        sum = strtod(f[4], NULL);
        sumsq = strtod(f[5], NULL);
        n++;
        int i = mc_st_find(st, name);
        CHECK(i >= 0, "resnet18: %s", mc_errmsg());
        if (i < 0) continue;
        mc_st_info info;
        mc_st_get_info(st, i, &info);
        CHECK(strcmp(mc_st_dtype_name(info.dtype), dtype) == 0, "%s dtype", name);
        if (info.dtype == MC_ST_I64) nbt++;
        float *x = mc_alloc_floats(info.numel, "test");
        REQUIRE(x, "alloc");
        REQUIRE_OK(mc_st_read_f32(st, i, x, info.numel));
        double s = 0, s2 = 0;
        for (size_t k = 0; k < info.numel; k++) {
            s += (double)x[k];
            s2 += (double)x[k] * (double)x[k];
        }
        total += info.numel;
        /* float64 sums in another order: agree to ~1e-12 relative of the sum of |terms|. */
        CHECK(fabs(s - sum) <= 1e-9 * (1 + sqrt(s2) * sqrt((double)info.numel)), "%s: sum %.12g vs torch %.12g", name, s, sum);
        CHECK(fabs(s2 - sumsq) <= 1e-9 * (1 + s2), "%s: sumsq %.12g vs torch %.12g", name, s2, sumsq);
        mc_free_aligned(x);
    }
    double t2 = now_s();
    CHECK(n == mc_st_num_tensors(st) && n == 122, "resnet18 state_dict: %d tensors (file %d, torchvision 122)", n,
          mc_st_num_tensors(st));
    CHECK(nbt == 20, "20 I64 num_batches_tracked tensors, got %d", nbt);
    /* 11,689,512 parameters; BN running mean + var over 4,800 channels; 20 counters */
    CHECK(total == 11689512 + 2 * 4800 + 20, "parameter + buffer count %zu", total);
    CHECK(mc_st_metadata(st, "format") && strcmp(mc_st_metadata(st, "format"), "pt") == 0, "format=pt");
    printf("  resnet18.safetensors (45 MB): open %.1f ms, read all %.1f ms\n", 1e3 * (t1 - t0), 1e3 * (t2 - t1));
    free(text);
    mc_st_close(st);
}

static void test_big(void) {
    char path[1200];
    snprintf(path, sizeof path, "%s/big.safetensors", dir);
    double t0 = now_s();
    mc_st *st;
    REQUIRE_OK(mc_st_open(&st, path));
    mc_st_info info;
    int i = mc_st_find(st, "big");
    REQUIRE(i >= 0, "big: %s", mc_errmsg());
    REQUIRE_OK(mc_st_get_info(st, i, &info));
    const size_t n = 420u * 65521u;
    CHECK(info.numel == n && info.nbytes == 4 * n, "big numel %zu", info.numel);
    float *x = mc_alloc_floats(n, "big");
    REQUIRE(x, "alloc");
    REQUIRE_OK(mc_st_read_f32(st, i, x, n));
    double t1 = now_s();
    size_t bad = 0;
    for (size_t k = 0; k < n; k++)
        if (x[k] != (float)(k % 65521) / 8.0f) bad++;
    CHECK(bad == 0, "big: %zu wrong values", bad);
    float tail[3];
    REQUIRE_OK(mc_st_read_f32(st, mc_st_find(st, "tail"), tail, 3));
    CHECK(tail[0] == 1.5f && tail[1] == -2.25f && tail[2] == 65504.0f, "tail after 110 MB");
    REQUIRE_OK(mc_st_get_info(st, mc_st_find(st, "tail"), &info));
    CHECK(info.offset > 110000000u, "tail offset %llu", (unsigned long long)info.offset);
    printf("  big.safetensors (110 MB): open + convert %.1f ms\n", 1e3 * (t1 - t0));
    mc_free_aligned(x);
    mc_st_close(st);
}

/* ---- corrupt files and hand-made ones ----------------------------------------------------- */

/* Writes uint64 len(header) + header + data[ndata]. */
static void write_raw(const char *path, const char *header, const void *data, size_t ndata) {
    FILE *f = fopen(path, "wb");
    REQUIRE(f, "cannot create %s", path);
    uint64_t n = strlen(header);
    uint8_t len8[8];
    for (int k = 0; k < 8; k++) len8[k] = (uint8_t)(n >> (8 * k));
    fwrite(len8, 1, 8, f);
    fwrite(header, 1, n, f);
    if (ndata) fwrite(data, 1, ndata, f);
    fclose(f);
}

static void expect_open_error(const char *tag, const char *header, const void *data, size_t ndata, int code,
                              const char *must1, const char *must2) {
    char path[1200];
    snprintf(path, sizeof path, "%s/bad_%s.safetensors", dir, tag);
    write_raw(path, header, data, ndata);
    mc_st *st = NULL;
    int rc = mc_st_open(&st, path);
    CHECK(rc == code && st == NULL, "%s: rc %d, expected %d (%s)", tag, rc, code, mc_errmsg());
    CHECK(strstr(mc_errmsg(), path) != NULL, "%s: message names the file: %s", tag, mc_errmsg());
    if (must1) CHECK(strstr(mc_errmsg(), must1) != NULL, "%s: message mentions '%s': %s", tag, must1, mc_errmsg());
    if (must2) CHECK(strstr(mc_errmsg(), must2) != NULL, "%s: message mentions '%s': %s", tag, must2, mc_errmsg());
    mc_st_close(st);
}

static void test_corrupt(void) {
    uint8_t data[64] = {0};
    const char *ok = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";
    char path[1200];
    snprintf(path, sizeof path, "%s/good.safetensors", dir);
    write_raw(path, ok, data, 16);
    mc_st *st;
    REQUIRE_OK(mc_st_open(&st, path));
    mc_st_close(st);

    expect_open_error("json", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},}", data, 16,
                      MC_EPARSE, "JSON", "trailing comma");
    expect_open_error("notobj", "[1,2]", data, 0, MC_EPARSE, "header", NULL);
    expect_open_error("outside", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", data, 12,
                      MC_EPARSE, "'w'", "outside");
    expect_open_error("size", "{\"layer.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", data,
                      12, MC_EPARSE, "'layer.weight'", "needs 16");
    expect_open_error("size16", "{\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,12]}}", data, 12,
                      MC_EPARSE, "'h'", "F16");
    expect_open_error("overlap",
                      "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                      data, 12, MC_EPARSE, "'a'", "overlap");
    expect_open_error("reversed", "{\"r\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", data, 8,
                      MC_EPARSE, "'r'", NULL);
    expect_open_error("dtype", "{\"c\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[0,8]}}", data, 8,
                      MC_EUNSUP, "'c'", "C64");
    expect_open_error("shape", "{\"s\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", data, 8,
                      MC_EPARSE, "'s'", "shape");
    expect_open_error("negoff", "{\"n\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", data, 8,
                      MC_EPARSE, "'n'", "data_offsets");
    expect_open_error("missing", "{\"m\":{\"dtype\":\"F32\",\"shape\":[1]}}", data, 8, MC_EPARSE, "'m'",
                      "data_offsets");
    expect_open_error("dup",
                      "{\"d\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                      "\"d\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                      data, 8, MC_EPARSE, "'d'", "twice");
    expect_open_error("meta", "{\"__metadata__\":{\"k\":1}}", data, 0, MC_EPARSE, "\"k\"", "metadata");
    expect_open_error("metadup", "{\"__metadata__\":{\"k\":\"a\",\"j\":\"c\",\"k\":\"b\"}}", data, 0, MC_EPARSE,
                      "\"k\"", "twice");
    expect_open_error("huge", "{\"h\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,8],\"data_offsets\":[0,8]}}",
                      data, 8, MC_EPARSE, "'h'", NULL);
    expect_open_error("start", " {}", data, 0, MC_EPARSE, "'{'", NULL);

    /* Header length fields that lie. */
    FILE *f;
    snprintf(path, sizeof path, "%s/bad_len.safetensors", dir);
    uint8_t raw[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}'};
    f = fopen(path, "wb");
    fwrite(raw, 1, 10, f);
    fclose(f);
    CHECK(mc_st_open(&st, path) == MC_EPARSE && strstr(mc_errmsg(), path) && strstr(mc_errmsg(), "limit"),
          "absurd header length: %s", mc_errmsg());
    raw[0] = 100, raw[1] = raw[2] = raw[3] = raw[4] = raw[5] = raw[6] = raw[7] = 0;
    f = fopen(path, "wb");
    fwrite(raw, 1, 10, f);
    fclose(f);
    CHECK(mc_st_open(&st, path) == MC_EPARSE && strstr(mc_errmsg(), "header length 100 exceeds the file's 2 bytes"),
          "header past end: %s",
          mc_errmsg());
    f = fopen(path, "wb");
    fwrite(raw, 1, 5, f);
    fclose(f);
    CHECK(mc_st_open(&st, path) == MC_EPARSE && strstr(mc_errmsg(), "shorter than"), "5-byte file: %s", mc_errmsg());
    f = fopen(path, "wb");
    fclose(f);
    CHECK(mc_st_open(&st, path) == MC_EPARSE && strstr(mc_errmsg(), path), "empty file: %s", mc_errmsg());
    snprintf(path, sizeof path, "%s/does_not_exist.safetensors", dir);
    CHECK(mc_st_open(&st, path) == MC_EIO && strstr(mc_errmsg(), path), "missing file: %s", mc_errmsg());
    CHECK(mc_st_open(&st, dir) == MC_EIO && strstr(mc_errmsg(), "directory"), "directory: %s", mc_errmsg());

    /* Truncations of a real file: every prefix shorter than the whole is rejected, never read
     * out of bounds (the sanitizer build checks the latter). */
    char mixed[1200];
    snprintf(mixed, sizeof mixed, "%s/mixed.safetensors", dir);
    char *whole;
    size_t wlen;
    REQUIRE_OK(mc_fread_all(mixed, &whole, &wlen));
    snprintf(path, sizeof path, "%s/trunc.safetensors", dir);
    int rejected = 0, tried = 0;
    for (size_t cut = 0; cut < wlen; cut += (cut < 64 ? 1 : 37)) {
        f = fopen(path, "wb");
        fwrite(whole, 1, cut, f);
        fclose(f);
        tried++;
        int rc = mc_st_open(&st, path);
        if (rc == MC_EPARSE && strstr(mc_errmsg(), path)) rejected++;
        else {
            CHECK(0, "truncated to %zu bytes: rc %d (%s)", cut, rc, mc_errmsg());
            mc_st_close(rc == MC_OK ? st : NULL);
        }
    }
    CHECK(rejected == tried, "all %d truncations rejected", tried);
    /* Cut inside the data: the message names the tensor whose bytes are missing. */
    f = fopen(path, "wb");
    fwrite(whole, 1, wlen - 10, f);
    fclose(f);
    CHECK(mc_st_open(&st, path) == MC_EPARSE && strstr(mc_errmsg(), "outside") && strstr(mc_errmsg(), "name \"quoted\""),
          "truncated data names the last tensor: %s", mc_errmsg());
    free(whole);

    /* Hand-made F8 values (torch 1.13 has no float8): E4M3FN 0x38 = 1, 0x7e = 448, 0x01 = 2^-9,
     * 0x7f = NaN, 0xb8 = -1; E5M2 0x3c = 1, 0x7c = inf, 0x01 = 2^-16, 0xc0 = -2. */
    uint8_t f8[10] = {0x38, 0x7e, 0x01, 0x7f, 0xb8, 0x3c, 0x7c, 0x01, 0xc0, 0};
    snprintf(path, sizeof path, "%s/f8.safetensors", dir);
    write_raw(path,
              "{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[5],\"data_offsets\":[0,5]},"
              "\"b\":{\"dtype\":\"F8_E5M2\",\"shape\":[4],\"data_offsets\":[5,9]}}",
              f8, 9);
    REQUIRE_OK(mc_st_open(&st, path));
    float a[5], b[4];
    REQUIRE_OK(mc_st_read_f32(st, 0, a, 5));
    REQUIRE_OK(mc_st_read_f32(st, 1, b, 4));
    CHECK(a[0] == 1.0f && a[1] == 448.0f && a[2] == 0x1p-9f && isnan(a[3]) && a[4] == -1.0f, "F8_E4M3");
    CHECK(b[0] == 1.0f && isinf(b[1]) && b[2] == 0x1p-16f && b[3] == -2.0f, "F8_E5M2");
    mc_st_close(st);

    /* Gaps between tensors and trailing bytes are tolerated; a header with no tensors is fine. */
    write_raw(path, "{\"g\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[4,6]}}", data, 10);
    REQUIRE_OK(mc_st_open(&st, path));
    mc_st_close(st);
    write_raw(path, "{}", data, 0);
    REQUIRE_OK(mc_st_open(&st, path));
    CHECK(mc_st_num_tensors(st) == 0 && mc_st_num_metadata(st) == 0, "empty file");
    mc_st_close(st);
}

/* ---- the writer, verified by Python ------------------------------------------------------ */

static void test_writer(void) {
    enum { NT = 7 };
    const char *names[NT] = {"fc.weight", "conv1.weight", "bn1.running_var", "scalar", "empty",
                             "weird \"name\" \\ \xc3\xa9 \x01\x1f\x7f", "zz.last"};
    int ndims[NT] = {2, 4, 1, 0, 2, 2, 1};
    int64_t shapes[NT][4] = {{3, 5}, {4, 3, 3, 3}, {4}, {0}, {0, 5}, {2, 2}, {1000}};
    float *vals[NT];
    size_t counts[NT];
    mc_st_writer *w = mc_st_writer_new();
    REQUIRE(w, "writer");
    mc_rng rng;
    mc_rng_seed(&rng, 7);
    for (int t = 0; t < NT; t++) {
        size_t n = 1;
        for (int d = 0; d < ndims[t]; d++) n *= (size_t)shapes[t][d];
        counts[t] = n;
        vals[t] = mc_alloc_floats(n, "test");
        REQUIRE(vals[t], "alloc");
        for (size_t k = 0; k < n; k++) vals[t][k] = (float)mc_rng_normal(&rng);
        if (t == 0) vals[t][1] = NAN, vals[t][2] = -INFINITY, vals[t][3] = -0.0f;
        REQUIRE_OK(mc_st_writer_add(w, names[t], ndims[t], shapes[t], vals[t]));
    }
    REQUIRE_OK(mc_st_writer_meta(w, "format", "pt"));
    REQUIRE_OK(mc_st_writer_meta(w, "arch", "resnet18 \xe2\x9c\x93 \"q\"\nline2"));
    REQUIRE_OK(mc_st_writer_meta(w, "arch", "resnet18 \xe2\x9c\x93 \"q\" / v2")); /* replaces */
    REQUIRE_OK(mc_st_writer_meta(w, "Zfirst", "sorted before lower case..."));
    /* Argument errors. */
    CHECK(mc_st_writer_add(w, "conv1.weight", ndims[1], shapes[1], vals[1]) == MC_EARG &&
          strstr(mc_errmsg(), "conv1.weight"), "duplicate name: %s", mc_errmsg());
    CHECK(mc_st_writer_add(w, "__metadata__", 1, shapes[2], vals[2]) == MC_EARG, "reserved name");
    CHECK(mc_st_writer_add(w, "", 1, shapes[2], vals[2]) == MC_EARG, "empty name");
    CHECK(mc_st_writer_add(w, "bad\xff", 1, shapes[2], vals[2]) == MC_EARG, "invalid UTF-8 name");
    int64_t neg[1] = {-1};
    CHECK(mc_st_writer_add(w, "neg", 1, neg, vals[2]) == MC_EARG, "negative dim");

    char path[1200], out[1200], cmd[4096];
    snprintf(path, sizeof path, "%s/c_written.safetensors", dir);
    snprintf(out, sizeof out, "%s/c_written.readback", dir);
    REQUIRE_OK(mc_st_writer_save(w, path));
    {
        /* Precondition of this test: the JSON needs padding (so the padding rule is checked). */
        char *bytes;
        size_t nbytes;
        REQUIRE_OK(mc_fread_all(path, &bytes, &nbytes));
        uint64_t hl = 0;
        for (int k = 7; k >= 0; k--) hl = (hl << 8) | (uint8_t)bytes[k];
        size_t end = 8 + hl;
        while (end > 8 && bytes[end - 1] == ' ') end--;
        CHECK(nbytes > 8 + hl && hl % 8 == 0 && end < 8 + hl && bytes[end - 1] == '}',
              "header of %llu bytes ends in padding", (unsigned long long)hl);
        free(bytes);
    }
    snprintf(cmd, sizeof cmd, "%s tests/torch/safetensors_ref.py check '%s' '%s'", python(), path, out);
    int rc = system(cmd);
    CHECK(rc == 0, "Python reference check of the C-written file failed (%s)", cmd);

    if (rc == 0) {
        /* What Python read must be what was written: compare its manifest and values. */
        char *text, *pv;
        size_t tlen, plen;
        char f32[1300];
        snprintf(f32, sizeof f32, "%s.f32", out);
        REQUIRE_OK(mc_fread_all(out, &text, &tlen));
        REQUIRE_OK(mc_fread_all(f32, &pv, &plen));
        /* Python lists tensors in file (= sorted) order; map each line back to our tensor. */
        size_t off = 0;
        int seen = 0, metas = 0;
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            if (line[0] == 'M') { metas++; continue; }
            seen++;
            char *name = line + 2, *tab = strchr(name, '\t');
            REQUIRE(tab, "readback manifest line");
            *tab = 0;
            int t = -1;
            for (int k = 0; k < NT; k++)
                if (strcmp(names[k], name) == 0) t = k;
            CHECK(t >= 0, "Python read back a tensor named '%s'", name);
            if (t < 0) continue;
            REQUIRE(off + 4 * counts[t] <= plen, "readback values present");
            CHECK(memcmp(pv + off, vals[t], 4 * counts[t]) == 0, "Python read the values of '%s' bit for bit", name);
            off += 4 * counts[t];
        }
        CHECK(seen == NT && off == plen, "Python saw %d tensors", seen);
        free(text);
        free(pv);
    }

    /* And the C reader reads it back, metadata included. */
    mc_st *st;
    REQUIRE_OK(mc_st_open(&st, path));
    CHECK(mc_st_num_tensors(st) == NT, "%d tensors", mc_st_num_tensors(st));
    for (int t = 0; t < NT; t++) {
        int i = mc_st_find(st, names[t]);
        CHECK(i >= 0, "find %s", names[t]);
        if (i < 0) continue;
        float *x = mc_alloc_floats(counts[t], "test");
        REQUIRE_OK(mc_st_read_expect(st, names[t], ndims[t], shapes[t], x));
        CHECK(memcmp(x, vals[t], 4 * counts[t]) == 0, "C read back %s", names[t]);
        mc_free_aligned(x);
    }
    const char *k0, *v0;
    CHECK(mc_st_num_metadata(st) == 3, "3 metadata");
    CHECK(mc_st_metadata_at(st, 0, &k0, &v0) == MC_OK && strcmp(k0, "Zfirst") == 0, "metadata in key order");
    CHECK(strcmp(mc_st_metadata(st, "arch"), "resnet18 \xe2\x9c\x93 \"q\" / v2") == 0, "replaced metadata value");
    mc_st_close(st);

    /* Atomic save into a missing directory fails, naming the file. */
    snprintf(path, sizeof path, "%s/no/such/dir/x.safetensors", dir);
    CHECK(mc_st_writer_save(w, path) == MC_EIO && strstr(mc_errmsg(), "x.safetensors"), "unwritable: %s",
          mc_errmsg());
    mc_st_writer_free(w);
    for (int t = 0; t < NT; t++) mc_free_aligned(vals[t]);
}

int main(void) {
    snprintf(dir, sizeof dir, "%s/safetensors", mc_test_tmp());
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && %s tests/torch/safetensors_ref.py gen '%s'", dir, python(), dir);
    test_json();
    int rc = system(cmd);
    REQUIRE(rc == 0, "could not generate the reference files with PyTorch (%s); run from the repository root "
                     "with /usr/bin/python3 and python3-torch installed", cmd);
    test_mixed();
    test_resnet18();
    test_big();
    test_corrupt();
    test_writer();
    /* The big files are removed here: they are 150 MB. */
    snprintf(cmd, sizeof cmd, "rm -f '%s/big.safetensors' '%s/resnet18.safetensors'", dir, dir);
    if (system(cmd) != 0) fprintf(stderr, "note: could not remove the large test files in %s\n", dir);
    return mc_test_done("test_safetensors");
}
