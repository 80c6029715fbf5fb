/* test_checkpoint: safetensors round trips, the file layout, atomic saves and
 * every validation rule of the loader, each with its message and with the
 * model left unchanged. */
#include <inttypes.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "rel_util.h"
#include "wengert.h"
#include "wg_test.h"

static char *dir;

/* ---- round trip ---------------------------------------------------------- */

static wg_param *param(const char *name, wg_dtype dt, int ndim, const int64_t *shape, double seed)
{
    wg_param *p = wg_param_new(dt, ndim, shape);
    if (!p) return NULL;
    snprintf(p->name, sizeof p->name, "%s", name);
    for (size_t i = 0; i < p->numel; i++) {
        double v = sin(seed + 0.7 * (double)i) * 1e3 / (1.0 + (double)i); /* full-precision values */
        if (dt == WG_F32)
            ((float *)p->data)[i] = (float)v;
        else
            ((double *)p->data)[i] = v;
    }
    return p;
}

static size_t param_bytes(const wg_param *p) { return p->numel * (p->dtype == WG_F32 ? 4 : 8); }

static void round_trip(void)
{
    int64_t s_w[2] = {3, 4}, s_b[1] = {5}, s_e[2] = {0, 3};
    wg_param *src[4] = {param("layer1.w", WG_F32, 2, s_w, 1), param("layer1.b", WG_F64, 1, s_b, 2),
                        param("scale", WG_F32, 0, NULL, 3), param("empty", WG_F64, 2, s_e, 4)};
    wg_param *dst[4] = {param("layer1.w", WG_F32, 2, s_w, 9), param("layer1.b", WG_F64, 1, s_b, 9),
                        param("scale", WG_F32, 0, NULL, 9), param("empty", WG_F64, 2, s_e, 9)};
    char path[4096];
    rel_path(path, sizeof path, dir, "rt.safetensors");
    const double lr = 0.1 + 0.2; /* not a short decimal */

    wg_checkpoint *c = wg_checkpoint_new();
    CHECK(wg_checkpoint_add_params(c, 4, src) == 0, "%s", wg_checkpoint_error(c));
    CHECK(wg_checkpoint_set_meta_i64(c, "step", 42) == 0, "%s", wg_checkpoint_error(c));
    CHECK(wg_checkpoint_set_meta(c, "optimizer", "adam") == 0, "%s", wg_checkpoint_error(c));
    CHECK(wg_checkpoint_set_meta_f64(c, "lr", lr) == 0, "%s", wg_checkpoint_error(c));
    CHECK(wg_checkpoint_save(c, path) == 0, "%s", wg_checkpoint_error(c));
    CHECK(wg_checkpoint_error(c) == NULL, "no error after a good save");
    wg_checkpoint_free(c);
    CHECK(rel_count_files(dir, ".tmp.") == 0, "no temporary file is left after a save");

    /* Layout: 8-byte LE length, '{', header padded to 8, data exactly after. */
    size_t len = 0;
    unsigned char *f = rel_read_file(path, &len);
    CHECK(f && len > 9, "read the file back");
    if (f && len > 9) {
        uint64_t h = 0;
        for (int i = 7; i >= 0; i--) h = h << 8 | f[i];
        size_t data = 0;
        for (int i = 0; i < 4; i++) data += param_bytes(src[i]);
        CHECK(f[8] == '{', "header starts with '{', got 0x%02x", f[8]);
        CHECK(h % 8 == 0, "header length %" PRIu64 " is a multiple of 8", h);
        CHECK(8 + h + data == len, "8 + %" PRIu64 " + %zu == file size %zu", h, data, len);
        CHECK(memcmp(f + 8 + h, src[0]->data, param_bytes(src[0])) == 0, "first tensor's bytes follow the header");
    }
    free(f);

    c = wg_checkpoint_new();
    CHECK(wg_checkpoint_add_params(c, 4, dst) == 0, "%s", wg_checkpoint_error(c));
    CHECK(wg_checkpoint_load(c, path) == 0, "%s", wg_checkpoint_error(c));
    for (int i = 0; i < 4; i++)
        CHECK(memcmp(src[i]->data, dst[i]->data, param_bytes(src[i])) == 0, "%s is bit-identical", src[i]->name);
    int64_t step = 0;
    double lr2 = 0;
    CHECK(wg_checkpoint_meta_i64(c, "step", &step) == 0 && step == 42, "step = %" PRId64, step);
    CHECK_STR(wg_checkpoint_meta(c, "optimizer"), "adam");
    CHECK(wg_checkpoint_meta_f64(c, "lr", &lr2) == 0 && memcmp(&lr, &lr2, sizeof lr) == 0, "lr = %.17g", lr2);
    CHECK(wg_checkpoint_meta(c, "absent") == NULL, "a missing key is NULL");
    CHECK(wg_checkpoint_meta_i64(c, "optimizer", &step) == -1, "'adam' is not an integer");
    CHECK(strstr(wg_checkpoint_error(c), "'optimizer'") != NULL, "%s", wg_checkpoint_error(c));
    CHECK(wg_checkpoint_meta_i64(c, "absent", &step) == -1, "a missing key fails");
    CHECK(strstr(wg_checkpoint_error(c), "no metadata 'absent'") != NULL, "%s", wg_checkpoint_error(c));
    wg_checkpoint_free(c);
    for (int i = 0; i < 4; i++) {
        wg_param_free(src[i]);
        wg_param_free(dst[i]);
    }
}

/* Saving over a file replaces it whole; a failed save leaves it alone. */
static void overwrite_and_failed_save(void)
{
    int64_t s[1] = {6};
    wg_param *p = param("w", WG_F32, 1, s, 1), *q = param("w", WG_F32, 1, s, 2);
    float v1[6], v2[6];
    memcpy(v1, p->data, sizeof v1);
    memcpy(v2, q->data, sizeof v2);
    char path[4096], bad[4096];
    rel_path(path, sizeof path, dir, "ow.safetensors");
    rel_path(bad, sizeof bad, dir, "no-such-dir/x.safetensors");

    wg_checkpoint *c = wg_checkpoint_new();
    wg_checkpoint_add_param(c, p);
    CHECK(wg_checkpoint_save(c, path) == 0, "%s", wg_checkpoint_error(c));
    memcpy(p->data, v2, sizeof v2);
    CHECK(wg_checkpoint_save(c, path) == 0, "%s", wg_checkpoint_error(c));
    CHECK(wg_checkpoint_save(c, bad) == -1, "saving into a missing directory fails");
    const char *e = wg_checkpoint_error(c);
    CHECK(e && strstr(e, bad) && strstr(e, "cannot create a temporary file"), "%s", e ? e : "(null)");
    memcpy(p->data, v1, sizeof v1);
    CHECK(wg_checkpoint_load(c, path) == 0, "%s", wg_checkpoint_error(c));
    CHECK(memcmp(p->data, v2, sizeof v2) == 0, "the second save replaced the first");
    wg_checkpoint_free(c);
    CHECK(rel_count_files(dir, ".tmp.") == 0, "no temporary file is left");
    wg_param_free(p);
    wg_param_free(q);
}

/* A write that fails half-way (the file-size limit stands in for a full
 * disk): a clear error, the old file intact, no temporary file left. */
static void failed_write(void)
{
    int64_t s[1] = {4096};
    wg_param *p = param("big", WG_F32, 1, s, 1);
    char path[4096];
    rel_path(path, sizeof path, dir, "full.safetensors");
    wg_checkpoint *c = wg_checkpoint_new();
    wg_checkpoint_add_param(c, p);
    CHECK(wg_checkpoint_save(c, path) == 0, "%s", wg_checkpoint_error(c));
    float *old = malloc(param_bytes(p));
    memcpy(old, p->data, param_bytes(p));
    for (size_t i = 0; i < p->numel; i++) ((float *)p->data)[i] = -1;

    struct rlimit lim, small;
    getrlimit(RLIMIT_FSIZE, &lim);
    small = lim;
    small.rlim_cur = 4096;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    int r = setrlimit(RLIMIT_FSIZE, &small) == 0 ? wg_checkpoint_save(c, path) : 0;
    setrlimit(RLIMIT_FSIZE, &lim);
    signal(SIGXFSZ, prev);
    const char *e = wg_checkpoint_error(c);
    CHECK(r == -1, "a save that cannot write fails");
    CHECK(e && strstr(e, path) && strstr(e, "write failed: File too large") && strstr(e, "old file"), "%s",
          e ? e : "(null)");
    CHECK(rel_count_files(dir, ".tmp.") == 0, "the temporary file is removed");
    CHECK(wg_checkpoint_load(c, path) == 0, "the old file still loads: %s", wg_checkpoint_error(c));
    CHECK(memcmp(p->data, old, param_bytes(p)) == 0, "and holds the old values");
    free(old);
    wg_checkpoint_free(c);
    wg_param_free(p);
}

/* ---- the loader's validation -------------------------------------------- */

/* The model for the bad files: a is F32 [2,2] (16 bytes), b is F64 [3]. */
static float a_val[4];
static double b_val[3];

static wg_checkpoint *small_model(void)
{
    wg_checkpoint *c = wg_checkpoint_new();
    int64_t sa[2] = {2, 2}, sb[1] = {3};
    wg_checkpoint_add(c, "a", WG_F32, 2, sa, a_val);
    wg_checkpoint_add(c, "b", WG_F64, 1, sb, b_val);
    wg_checkpoint_set_meta(c, "keep", "me");
    return c;
}

static void sentinel(void)
{
    for (int i = 0; i < 4; i++) a_val[i] = -1.5f - (float)i;
    for (int i = 0; i < 3; i++) b_val[i] = -7.25 - i;
}

static int untouched(void)
{
    for (int i = 0; i < 4; i++)
        if (a_val[i] != -1.5f - (float)i) return 0;
    for (int i = 0; i < 3; i++)
        if (b_val[i] != -7.25 - i) return 0;
    return 1;
}

#define A32 "\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}"
#define B64 "\"b\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[16,40]}"

static const struct bad_file {
    const char *what, *header;
    size_t data_len;
    const char *want1, *want2; /* substrings the message must hold */
} bad_files[] = {
    {"wrong shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}," B64 "}", 40,
     "tensor 'a': the file has F32 [4], the model F32 [2,2]", NULL},
    {"wrong dtype", "{\"a\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[0,32]},"
                    "\"b\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[32,56]}}",
     56, "tensor 'a': the file has F64 [2,2], the model F32 [2,2]", NULL},
    {"half precision", "{\"a\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,16]}," B64 "}", 40,
     "tensor 'a': dtype F16 is not supported", NULL},
    {"unknown dtype", "{\"a\":{\"dtype\":\"Q7\",\"shape\":[2,2],\"data_offsets\":[0,16]}," B64 "}", 40,
     "tensor 'a': unknown dtype \"Q7\"", NULL},
    {"dtype not a string", "{\"a\":{\"dtype\":32,\"shape\":[2,2],\"data_offsets\":[0,16]}," B64 "}", 40,
     "tensor 'a': dtype is not a string", NULL},
    {"missing tensor", "{" A32 "}", 16, "tensor 'b' is missing", "the file has 1 tensor"},
    {"extra tensor",
     "{" A32 "," B64 ",\"c\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[40,44]}}", 44,
     "tensor 'c' in the file is not in the model", NULL},
    {"offsets past the data", "{" A32 ",\"b\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[16,40]}}", 32,
     "tensor 'b': data_offsets [16, 40) lie outside the data section of 32 bytes", NULL},
    {"begin after end", "{" A32 ",\"b\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[40,16]}}", 40,
     "tensor 'b': data_offsets [40, 16) lie outside", NULL},
    {"overlap", "{" A32 ",\"b\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[8,32]}}", 40,
     "tensor 'b': data_offsets [8, 32) overlap 'a'", NULL},
    {"gap", "{" A32 ",\"b\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[24,48]}}", 48,
     "tensor 'b': 8 unused bytes in the data section before it", NULL},
    {"gap at the start", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[4,20]},"
                         "\"b\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[20,44]}}",
     44, "tensor 'a': 4 unused bytes", NULL},
    {"trailing data", "{" A32 "," B64 "}", 48, "the data section has 48 bytes, the tensors cover 40", NULL},
    {"span does not fit the shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}," B64 "}",
     40, "tensor 'a': data_offsets span 12 bytes, but F32 [2,2] needs 16", NULL},
    {"negative dimension", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2,2],\"data_offsets\":[0,16]}," B64 "}", 40,
     "tensor 'a': dimension 0 is not a non-negative integer", NULL},
    {"fractional offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16.5]}," B64 "}", 40,
     "tensor 'a': data_offsets must be two non-negative integers", NULL},
    {"three offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,8,16]}," B64 "}", 40,
     "tensor 'a': data_offsets must be two", NULL},
    {"huge shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,16]}," B64 "}",
     40, "tensor 'a': shape too large for the data section (40 bytes)", NULL},
    {"five dimensions", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,2,2,1],\"data_offsets\":[0,16]}," B64 "}", 40,
     "tensor 'a': 5 dimensions, at most 4", NULL},
    {"duplicate tensor", "{" A32 "," A32 "," B64 "}", 40, "tensor 'a' appears twice", NULL},
    {"unknown field", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16],\"foo\":1}," B64 "}", 40,
     "tensor 'a': unknown field 'foo'", NULL},
    {"missing field", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2]}," B64 "}", 40,
     "tensor 'a': missing field 'data_offsets'", NULL},
    {"tensor not an object", "{\"a\":5," B64 "}", 40, "tensor 'a': not a JSON object", NULL},
    {"metadata not strings", "{\"__metadata__\":{\"step\":3}," A32 "," B64 "}", 40,
     "__metadata__ 'step' is not a string", NULL},
    {"metadata not an object", "{\"__metadata__\":[]," A32 "," B64 "}", 40, "__metadata__ is not a JSON object",
     NULL},
    {"metadata twice", "{\"__metadata__\":{},\"__metadata__\":{}," A32 "," B64 "}", 40,
     "__metadata__ appears twice", NULL},
    {"header is an array", "[1,2]", 0, "byte 8: the header must be a JSON object", NULL},
    {"invalid JSON", "{\"a\":{\"dtype\":\"F32\",,}}", 0, "invalid JSON in the header", "byte "},
    {"bytes after the JSON", "{" A32 "," B64 "}xyz", 40, "unexpected bytes after the JSON header", NULL},
};

static void expect_load_error(const char *path, const char *what, const char *want1, const char *want2)
{
    sentinel();
    wg_checkpoint *c = small_model();
    CHECK(wg_checkpoint_load(c, path) == -1, "%s: the load fails", what);
    const char *e = wg_checkpoint_error(c);
    CHECK(e && strstr(e, path), "%s: the message names the file: %s", what, e ? e : "(null)");
    CHECK(e && strstr(e, want1), "%s: message \"%s\" lacks \"%s\"", what, e ? e : "(null)", want1);
    if (want2) CHECK(e && strstr(e, want2), "%s: message \"%s\" lacks \"%s\"", what, e ? e : "(null)", want2);
    CHECK(untouched(), "%s: the model is unchanged", what);
    CHECK_STR(wg_checkpoint_meta(c, "keep"), "me");
    wg_checkpoint_free(c);
}

static void bad_headers(void)
{
    char path[4096];
    rel_path(path, sizeof path, dir, "bad.safetensors");
    /* The same model accepts the good file, in either key order. */
    const char *good[2] = {"{" A32 "," B64 "}  ",
                           "{\"__metadata__\":{\"step\":\"3\"},"
                           "\"b\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[0,24]},"
                           "\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[24,40]}}"};
    for (int k = 0; k < 2; k++) {
        sentinel();
        rel_write_safetensors(path, good[k], 40);
        wg_checkpoint *c = small_model();
        CHECK(wg_checkpoint_load(c, path) == 0, "good file %d: %s", k, wg_checkpoint_error(c));
        unsigned char want[40];
        for (int i = 0; i < 40; i++) want[i] = (unsigned char)i;
        CHECK(memcmp(a_val, want + (k ? 24 : 0), 16) == 0, "good file %d: a has its bytes", k);
        CHECK(memcmp(b_val, want + (k ? 0 : 16), 24) == 0, "good file %d: b has its bytes", k);
        CHECK(wg_checkpoint_meta(c, "keep") == NULL, "good file %d: the metadata is the file's", k);
        if (k) CHECK_STR(wg_checkpoint_meta(c, "step"), "3");
        wg_checkpoint_free(c);
    }
    for (size_t i = 0; i < sizeof bad_files / sizeof bad_files[0]; i++) {
        const struct bad_file *b = &bad_files[i];
        rel_write_safetensors(path, b->header, b->data_len);
        expect_load_error(path, b->what, b->want1, b->want2);
    }
}

/* Damage below the JSON: the length prefix and the file itself. */
static void bad_files_raw(void)
{
    char path[4096];
    rel_path(path, sizeof path, dir, "raw.safetensors");
    rel_write_file(path, "", 0);
    expect_load_error(path, "empty file", "0 bytes, too short for the 8-byte header length", NULL);
    rel_write_file(path, "\x10\0\0", 3);
    expect_load_error(path, "3 bytes", "3 bytes, too short", NULL);
    rel_write_safetensors(path, "{" A32 "," B64 "}", 40);
    size_t len = 0;
    unsigned char *f = rel_read_file(path, &len);
    if (!f) {
        CHECK(0, "read %s", path);
        return;
    }
    unsigned char *g = malloc(len);
    memcpy(g, f, len);
    g[5] = 1; /* a length of 2^40 + ... */
    rel_write_file(path, g, len);
    expect_load_error(path, "length past the end", "(bytes 0-7) runs past the end", NULL);
    for (size_t cut = len - 1; cut > 8; cut -= 7) { /* every truncation is refused */
        rel_write_file(path, f, cut);
        char what[64];
        snprintf(what, sizeof what, "truncated to %zu bytes", cut);
        sentinel();
        wg_checkpoint *c = small_model();
        CHECK(wg_checkpoint_load(c, path) == -1 && untouched(), "%s: refused, model unchanged", what);
        wg_checkpoint_free(c);
    }
    rel_path(path, sizeof path, dir, "missing.safetensors");
    expect_load_error(path, "missing file", "cannot open: No such file", NULL);
    expect_load_error(dir, "a directory", "not a regular file", NULL);
    free(f);
    free(g);
}

/* ---- misuse of the API --------------------------------------------------- */

static void misuse(void)
{
    CHECK(wg_checkpoint_add(NULL, "x", WG_F32, 0, NULL, a_val) == -1, "NULL checkpoint");
    CHECK(wg_checkpoint_error(NULL) && strstr(wg_checkpoint_error(NULL), "checkpoint_add: invalid handle"),
          "%s", wg_checkpoint_error(NULL));
    CHECK(wg_last_error() && strstr(wg_last_error(), "checkpoint_add: invalid handle"), "wg_last_error too");
    CHECK(wg_checkpoint_save(NULL, "x") == -1 && wg_checkpoint_load(NULL, "x") == -1, "NULL save/load");
    wg_checkpoint_free(NULL);

    wg_checkpoint *c = small_model();
    int64_t s[2] = {2, 2}, neg[1] = {-1};
#define EXPECT_FAIL(call, want)                                                                \
    do {                                                                                       \
        CHECK((call) == -1, "%s fails", #call);                                                \
        const char *e_ = wg_checkpoint_error(c);                                               \
        CHECK(e_ && strstr(e_, want), "%s: message \"%s\" lacks \"%s\"", #call, e_ ? e_ : "(null)", want); \
    } while (0)
    EXPECT_FAIL(wg_checkpoint_add(c, "a", WG_F32, 2, s, a_val), "'a' is already in the checkpoint");
    EXPECT_FAIL(wg_checkpoint_add(c, "", WG_F32, 2, s, a_val), "the name must be 1..255 bytes");
    EXPECT_FAIL(wg_checkpoint_add(c, NULL, WG_F32, 2, s, a_val), "the name must be 1..255 bytes, got NULL");
    EXPECT_FAIL(wg_checkpoint_add(c, "__metadata__", WG_F32, 2, s, a_val), "'__metadata__' is reserved");
    EXPECT_FAIL(wg_checkpoint_add(c, "z", (wg_dtype)7, 2, s, a_val), "'z': unknown dtype 7");
    EXPECT_FAIL(wg_checkpoint_add(c, "z", WG_F32, 5, s, a_val), "'z': ndim must be 0..4");
    EXPECT_FAIL(wg_checkpoint_add(c, "z", WG_F32, 1, neg, a_val), "'z': invalid dimension -1 at axis 0");
    EXPECT_FAIL(wg_checkpoint_add(c, "z", WG_F32, 2, s, NULL), "'z': data is NULL");
    EXPECT_FAIL(wg_checkpoint_add_param(c, NULL), "the parameter is NULL");
    EXPECT_FAIL(wg_checkpoint_set_meta(c, NULL, "v"), "key and value must be strings");
    EXPECT_FAIL(wg_checkpoint_save(c, ""), "the path is empty");
    EXPECT_FAIL(wg_checkpoint_load(c, NULL), "the path is empty");
    EXPECT_FAIL(wg_checkpoint_load_buffer(c, NULL, 5, "mem"), "checkpoint mem: the buffer is NULL");
    EXPECT_FAIL(wg_checkpoint_add_params(c, -1, NULL), "bad list: n = -1");

    wg_param *p = wg_param_new(WG_F32, 2, s);
    EXPECT_FAIL(wg_checkpoint_add_param(c, p), "the parameter has no name");
#undef EXPECT_FAIL
    wg_param_free(p);
    wg_checkpoint_free(c);
}

int main(void)
{
    dir = rel_tmpdir("wg-ckpt");
    CHECK(dir != NULL, "made a scratch directory");
    if (!dir) return wg_test_done("test_checkpoint");
    round_trip();
    overwrite_and_failed_save();
    failed_write();
    bad_headers();
    bad_files_raw();
    misuse();
    rel_rmdir(dir);
    free(dir);
    return wg_test_done("test_checkpoint");
}
