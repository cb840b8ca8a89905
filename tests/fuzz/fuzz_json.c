/* fuzz_json.c — the strict JSON parser (safetensors headers) on the bytes as they are. */
#include "fuzz.h"

static int walk(const mc_json *v, int depth) {
    if (depth > MC_JSON_MAX_DEPTH + 1) return 1;
    if (v->type == MC_JSON_STRING && (!v->str || v->str[v->len] != 0)) return 1;
    if (v->type == MC_JSON_OBJECT)
        for (size_t i = 0; i < v->n; i++)
            if (!v->keys[i] || mc_json_get(v, v->keys[i]) == NULL) return 1;
    if (v->type == MC_JSON_ARRAY || v->type == MC_JSON_OBJECT)
        for (size_t i = 0; i < v->n; i++)
            if (walk(&v->items[i], depth + 1)) return 1;
    return 0;
}

static int one(const uint8_t *data, size_t size) {
    mc_json *v = NULL;
    int rc = mc_json_parse(&v, (const char *)data, size, "x.json");
    if (rc < 0) return mc_fuzz_check_error(rc, MC_FUZZ_NAMES("x.json"));
    int bad = walk(v, 0);
    if (bad) fprintf(stderr, "fuzz: the parsed JSON is inconsistent\n");
    mc_json_free(v);
    return bad;
}
MC_FUZZ_TARGET(json)
