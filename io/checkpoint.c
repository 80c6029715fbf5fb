/* checkpoint.c: safetensors files, written atomically, validated in full
 * before a byte reaches the caller's arrays.
 *
 * The JSON header is parsed and printed by cJSON.  Numbers in it are doubles,
 * so every shape and offset is checked to be an integer in [0, 2^53] before
 * it is used.  Loading works on the whole file in memory: an I/O error or a
 * file truncated under our feet is then found before anything is copied, so
 * "the model is left unchanged" holds for every failure.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "wg_checkpoint.h"

static long utf8_bad(const char *str); /* below, with the header writer */

enum { NAME_MAX_LEN = 255, MSG_LEN = 640 };
#define MAX_HEADER ((uint64_t)100 << 20) /* safetensors' own limit */
#define MAX_EXACT 9007199254740992.0     /* 2^53: larger doubles skip integers */

struct entry {
    char *name;
    wg_dtype dt;
    int ndim;
    int64_t shape[WG_MAX_DIMS];
    size_t bytes;
    void *data;
};

struct kv {
    char *key, *value;
};

struct meta {
    struct kv *kv;
    int n, cap;
};

struct wg_checkpoint {
    struct entry *ent;
    int n, cap;
    struct meta meta;
    int failed;
    char err[MSG_LEN];
};

static _Thread_local char null_err[MSG_LEN];

/* ---- errors -------------------------------------------------------------- */

__attribute__((format(printf, 2, 3))) static int fail(wg_checkpoint *c, const char *fmt, ...)
{
    char *buf = c ? c->err : null_err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, MSG_LEN, fmt, ap);
    va_end(ap);
    if (c)
        c->failed = 1;
    else
        wg_set_last_error("%s", null_err);
    return -1;
}

static int ok(wg_checkpoint *c)
{
    c->failed = 0;
    c->err[0] = 0;
    return 0;
}

const char *wg_checkpoint_error(const wg_checkpoint *c)
{
    if (!c) return null_err[0] ? null_err : NULL;
    return c->failed ? c->err : NULL;
}

static size_t dtype_size(wg_dtype dt) { return dt == WG_F64 ? 8 : 4; }
static const char *dtype_name(wg_dtype dt) { return dt == WG_F64 ? "F64" : "F32"; }

static char *fmt_shape(char *buf, size_t len, int ndim, const int64_t *shape)
{
    size_t k = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < ndim && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, i ? ",%" PRId64 : "%" PRId64, shape[i]);
    if (k < len) snprintf(buf + k, len - k, "]");
    return buf;
}

/* ---- the list ------------------------------------------------------------ */

wg_checkpoint *wg_checkpoint_new(void)
{
    wg_checkpoint *c = calloc(1, sizeof *c);
    if (!c) fail(NULL, "checkpoint_new: out of memory");
    return c;
}

static void meta_clear(struct meta *m)
{
    for (int i = 0; i < m->n; i++) {
        free(m->kv[i].key);
        free(m->kv[i].value);
    }
    free(m->kv);
    memset(m, 0, sizeof *m);
}

void wg_checkpoint_free(wg_checkpoint *c)
{
    if (!c) return;
    for (int i = 0; i < c->n; i++) free(c->ent[i].name);
    free(c->ent);
    meta_clear(&c->meta);
    free(c);
}

static int find_entry(const wg_checkpoint *c, const char *name)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->ent[i].name, name) == 0) return i;
    return -1;
}

int wg_checkpoint_add(wg_checkpoint *c, const char *name, wg_dtype dt, int ndim, const int64_t *shape,
                      void *data)
{
    if (!c) return fail(NULL, "checkpoint_add: invalid handle: the checkpoint is NULL");
    if (!name || !name[0] || strlen(name) > NAME_MAX_LEN)
        return fail(c, "checkpoint_add: the name must be 1..%d bytes, got %s", NAME_MAX_LEN,
                    name ? (name[0] ? "a longer one" : "\"\"") : "NULL");
    if (strcmp(name, "__metadata__") == 0)
        return fail(c, "checkpoint_add: '__metadata__' is reserved for the metadata map");
    long bad = utf8_bad(name);
    if (bad >= 0)
        return fail(c, "checkpoint_add: the name is not valid UTF-8 at byte %ld (byte 0x%02x)", bad,
                    (unsigned char)name[bad]);
    if (dt != WG_F32 && dt != WG_F64) return fail(c, "checkpoint_add: '%s': unknown dtype %d", name, (int)dt);
    if (ndim < 0 || ndim > WG_MAX_DIMS || (ndim > 0 && !shape))
        return fail(c, "checkpoint_add: '%s': ndim must be 0..%d with a shape, got %d", name, WG_MAX_DIMS, ndim);
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (shape[i] > 0 && n > (SIZE_MAX / 8) / (uint64_t)shape[i]))
            return fail(c, "checkpoint_add: '%s': invalid dimension %" PRId64 " at axis %d", name, shape[i], i);
        n *= (size_t)shape[i];
    }
    if (n > 0 && !data) return fail(c, "checkpoint_add: '%s': data is NULL", name);
    if (find_entry(c, name) >= 0) return fail(c, "checkpoint_add: '%s' is already in the checkpoint", name);
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 16;
        struct entry *e = realloc(c->ent, (size_t)cap * sizeof *e);
        if (!e) return fail(c, "checkpoint_add: out of memory");
        c->ent = e;
        c->cap = cap;
    }
    struct entry *e = &c->ent[c->n];
    memset(e, 0, sizeof *e);
    if (!(e->name = strdup(name))) return fail(c, "checkpoint_add: out of memory");
    e->dt = dt;
    e->ndim = ndim;
    for (int i = 0; i < ndim; i++) e->shape[i] = shape[i];
    e->bytes = n * dtype_size(dt);
    e->data = data;
    c->n++;
    return ok(c);
}

int wg_checkpoint_add_param(wg_checkpoint *c, wg_param *p)
{
    if (!c) return fail(NULL, "checkpoint_add_param: invalid handle: the checkpoint is NULL");
    if (!p) return fail(c, "checkpoint_add_param: invalid handle: the parameter is NULL");
    if (!memchr(p->name, 0, sizeof p->name) || !p->name[0])
        return fail(c, "checkpoint_add_param: the parameter has no name (set wg_param.name)");
    return wg_checkpoint_add(c, p->name, p->dtype, p->ndim, p->shape, p->data);
}

int wg_checkpoint_add_params(wg_checkpoint *c, int n, wg_param *const *params)
{
    if (!c) return fail(NULL, "checkpoint_add_params: invalid handle: the checkpoint is NULL");
    if (n < 0 || (n > 0 && !params)) return fail(c, "checkpoint_add_params: bad list: n = %d", n);
    for (int i = 0; i < n; i++)
        if (wg_checkpoint_add_param(c, params[i]) != 0) return -1;
    return ok(c);
}

/* ---- metadata ------------------------------------------------------------ */

static struct kv *meta_find(const struct meta *m, const char *key)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->kv[i].key, key) == 0) return &m->kv[i];
    return NULL;
}

/* 0, or -1 when out of memory (m unchanged then). */
static int meta_put(struct meta *m, const char *key, const char *value)
{
    char *v = strdup(value);
    if (!v) return -1;
    struct kv *kv = meta_find(m, key);
    if (kv) {
        free(kv->value);
        kv->value = v;
        return 0;
    }
    if (m->n == m->cap) {
        int cap = m->cap ? 2 * m->cap : 8;
        struct kv *nk = realloc(m->kv, (size_t)cap * sizeof *nk);
        if (!nk) goto oom;
        m->kv = nk;
        m->cap = cap;
    }
    char *k = strdup(key);
    if (!k) goto oom;
    m->kv[m->n++] = (struct kv){k, v};
    return 0;
oom:
    free(v);
    return -1;
}

int wg_checkpoint_set_meta(wg_checkpoint *c, const char *key, const char *value)
{
    if (!c) return fail(NULL, "checkpoint_set_meta: invalid handle: the checkpoint is NULL");
    if (!key || !key[0] || !value) return fail(c, "checkpoint_set_meta: key and value must be strings, key non-empty");
    if (meta_put(&c->meta, key, value) != 0) return fail(c, "checkpoint_set_meta: out of memory");
    return ok(c);
}

int wg_checkpoint_set_meta_i64(wg_checkpoint *c, const char *key, int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    return wg_checkpoint_set_meta(c, key, buf);
}

int wg_checkpoint_set_meta_f64(wg_checkpoint *c, const char *key, double v)
{
    char buf[40];
    snprintf(buf, sizeof buf, "%.17g", v);
    return wg_checkpoint_set_meta(c, key, buf);
}

const char *wg_checkpoint_meta(const wg_checkpoint *c, const char *key)
{
    if (!c || !key) return NULL;
    const struct kv *kv = meta_find(&c->meta, key);
    return kv ? kv->value : NULL;
}

static const char *meta_number(wg_checkpoint *c, const char *fn, const char *key)
{
    if (!c) {
        fail(NULL, "%s: invalid handle: the checkpoint is NULL", fn);
        return NULL;
    }
    const char *s = wg_checkpoint_meta(c, key);
    if (!s || !s[0]) fail(c, "%s: no metadata '%s'", fn, key ? key : "(null)");
    return s && s[0] ? s : NULL;
}

int wg_checkpoint_meta_i64(wg_checkpoint *c, const char *key, int64_t *out)
{
    const char *s = meta_number(c, "checkpoint_meta_i64", key);
    if (!s) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return fail(c, "checkpoint_meta_i64: metadata '%s' is \"%.80s\", not an integer", key, s);
    if (out) *out = v;
    return ok(c);
}

int wg_checkpoint_meta_f64(wg_checkpoint *c, const char *key, double *out)
{
    const char *s = meta_number(c, "checkpoint_meta_f64", key);
    if (!s) return -1;
    char *end;
    double v = strtod(s, &end);
    if (*end) return fail(c, "checkpoint_meta_f64: metadata '%s' is \"%.80s\", not a number", key, s);
    if (out) *out = v;
    return ok(c);
}

/* ---- byte order ---------------------------------------------------------- */

static int host_is_le(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Copy n elements of `size` bytes, reversing each one's bytes on a
 * big-endian host (the format is little-endian). */
static void copy_le(void *dst, const void *src, size_t bytes, size_t size)
{
    if (host_is_le()) {
        memcpy(dst, src, bytes);
        return;
    }
    unsigned char *d = dst;
    const unsigned char *s = src;
    for (size_t i = 0; i < bytes; i += size)
        for (size_t j = 0; j < size; j++) d[i + j] = s[i + size - 1 - j];
}

/* ---- saving -------------------------------------------------------------- */

/* cJSON reports every failure of a parse as NULL: its allocation hooks
 * count failed allocations per thread, so that out of memory is not called
 * invalid JSON.  Installed once; they call malloc and free as cJSON would. */
static _Thread_local unsigned cjson_oom;
static void *cjson_malloc(size_t n)
{
    void *p = malloc(n);
    if (!p) cjson_oom++;
    return p;
}
static once_flag cjson_once = ONCE_FLAG_INIT;
static void cjson_hooks(void)
{
    cJSON_Hooks h = {cjson_malloc, free};
    cJSON_InitHooks(&h);
}

/* -1 if s is valid UTF-8 (RFC 3629: no overlong form, no surrogate, nothing
 * above U+10FFFF), else the offset of the first bad byte.  The safetensors
 * header is JSON, which must be UTF-8: Python refused a file with a bad
 * name. */
static long utf8_bad(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; s[i];) {
        unsigned u = s[i], min;
        int n;
        if (u < 0x80) {
            i++;
            continue;
        }
        if ((u & 0xE0) == 0xC0) n = 1, min = 0x80, u &= 0x1F;
        else if ((u & 0xF0) == 0xE0) n = 2, min = 0x800, u &= 0x0F;
        else if ((u & 0xF8) == 0xF0) n = 3, min = 0x10000, u &= 0x07;
        else return (long)i;
        for (int k = 1; k <= n; k++) {
            if ((s[i + (size_t)k] & 0xC0) != 0x80) return (long)i; /* a NUL ends the loop here too */
            u = u << 6 | (s[i + (size_t)k] & 0x3F);
        }
        if (u < min || u > 0x10FFFF || (u >= 0xD800 && u <= 0xDFFF)) return (long)i;
        i += (size_t)n + 1;
    }
    return -1;
}

/* 1 if the JSON text [p, p + n) holds the escape \u0000 (a NUL inside a
 * string, which cJSON would cut the string at: "w\u0000junk" read as "w"). */
static int json_has_nul_escape(const char *p, size_t n)
{
    for (size_t i = 0; i + 6 <= n; i++) {
        if (p[i] != '\\') continue;
        if ((p[i + 1] == 'u' || p[i + 1] == 'U') && memcmp(p + i + 2, "0000", 4) == 0) return 1;
        i++; /* the escaped character: "\\u0000" is a backslash, then text */
    }
    return 0;
}

static char *header_json(const wg_checkpoint *c)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    if (c->meta.n) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        for (int i = 0; m && i < c->meta.n; i++)
            if (!cJSON_AddStringToObject(m, c->meta.kv[i].key, c->meta.kv[i].value)) m = NULL;
        if (!m) goto fail;
    }
    uint64_t off = 0;
    for (int i = 0; i < c->n; i++) {
        const struct entry *e = &c->ent[i];
        cJSON *t = cJSON_AddObjectToObject(root, e->name);
        if (!t || !cJSON_AddStringToObject(t, "dtype", dtype_name(e->dt))) goto fail;
        cJSON *shape = cJSON_AddArrayToObject(t, "shape");
        cJSON *offs = cJSON_AddArrayToObject(t, "data_offsets");
        if (!shape || !offs) goto fail;
        for (int d = 0; d < e->ndim; d++) {
            cJSON *v = cJSON_CreateNumber((double)e->shape[d]);
            if (!v || !cJSON_AddItemToArray(shape, v)) {
                cJSON_Delete(v);
                goto fail;
            }
        }
        /* one at a time: both created first leaked the second when the first failed */
        cJSON *b = cJSON_CreateNumber((double)off);
        if (!b || !cJSON_AddItemToArray(offs, b)) {
            cJSON_Delete(b);
            goto fail;
        }
        cJSON *en = cJSON_CreateNumber((double)(off + e->bytes));
        if (!en || !cJSON_AddItemToArray(offs, en)) {
            cJSON_Delete(en);
            goto fail;
        }
        off += e->bytes;
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
fail:
    cJSON_Delete(root);
    return NULL;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len) {
        ssize_t k = write(fd, p, len > (1u << 30) ? (1u << 30) : len);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        len -= (size_t)k;
    }
    return 0;
}

/* Write one array in the file's byte order, through a bounce buffer only on
 * a big-endian host. */
static int write_entry(int fd, const struct entry *e)
{
    if (host_is_le()) return write_all(fd, e->data, e->bytes);
    unsigned char buf[1 << 14];
    for (size_t off = 0; off < e->bytes; off += sizeof buf) {
        size_t n = e->bytes - off < sizeof buf ? e->bytes - off : sizeof buf;
        copy_le(buf, (const unsigned char *)e->data + off, n, dtype_size(e->dt));
        if (write_all(fd, buf, n) != 0) return -1;
    }
    return 0;
}

/* fsync the directory holding `path`, so the rename itself is durable. */
static int sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash) {
        strcpy(dir, ".");
    } else {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        if (n >= sizeof dir) return 0; /* cannot name it; the data is already safe */
        memcpy(dir, path, n);
        dir[n] = 0;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -1;
    int r = fsync(fd);
    if (r != 0 && (errno == EINVAL || errno == EROFS)) r = 0; /* not supported for directories here */
    close(fd);
    return r;
}

/* The file a save writes: path itself, or, when path is a symlink, the file
 * it leads to (so the link stays a link).  NULL with errno on failure. */
static char *save_target(const char *path)
{
    struct stat lst;
    if (lstat(path, &lst) != 0 || !S_ISLNK(lst.st_mode)) return strdup(path);
    return realpath(path, NULL); /* a dangling link: ENOENT */
}

/* A new temporary file beside `target`, created with mode (the kernel then
 * takes the umask off it); its name into *tmp (malloc'd).  The name keeps
 * at most 200 bytes of the target's own name, so a name near the file-name
 * limit still has room for the suffix.  -1 with errno on failure. */
static int create_temp(const char *target, mode_t mode, char **tmp)
{
    const char *slash = strrchr(target, '/');
    size_t dir_len = slash ? (size_t)(slash - target) + 1 : 0, base_len = strlen(target + dir_len);
    if (base_len > 200) base_len = 200;
    *tmp = malloc(dir_len + base_len + 32);
    if (!*tmp) return -1;
    static _Atomic unsigned counter;
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned r = (unsigned)getpid() * 2654435761u ^ (unsigned)time(NULL) ^ (counter++ * 40503u);
        snprintf(*tmp, dir_len + base_len + 32, "%.*s%.*s.tmp.%08x", (int)dir_len, target, (int)base_len,
                 target + dir_len, r);
        int fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    return -1;
}

int wg_checkpoint_save(wg_checkpoint *c, const char *path)
{
    if (!c) return fail(NULL, "checkpoint_save: invalid handle: the checkpoint is NULL");
    if (!path || !path[0]) return fail(c, "checkpoint_save: the path is empty");
    call_once(&cjson_once, cjson_hooks);
    char *json = header_json(c);
    if (!json) return fail(c, "checkpoint %s: out of memory building the header", path);
    /* Pad with spaces to a multiple of 8, so the data section starts aligned. */
    size_t jlen = strlen(json), hlen = (jlen + 7) & ~(size_t)7;
    unsigned char *head = malloc(8 + hlen);
    if (!head) {
        free(json);
        return fail(c, "checkpoint %s: out of memory", path);
    }
    for (int i = 0; i < 8; i++) head[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    memcpy(head + 8, json, jlen);
    memset(head + 8 + jlen, ' ', hlen - jlen);
    free(json);

    /* Through a symlink, the target is replaced; an existing file keeps its
     * mode, a new one gets 0666 less the umask (as open(2) gives). */
    char *target = save_target(path), *tmp = NULL;
    if (!target) {
        int e = errno;
        free(head);
        return e == ENOMEM ? fail(c, "checkpoint %s: out of memory", path)
                           : fail(c, "checkpoint %s: cannot resolve the symlink: %s", path, strerror(e));
    }
    struct stat old;
    const bool replace = stat(target, &old) == 0;
    int fd = create_temp(target, replace ? (old.st_mode & 0777) : 0666, &tmp);
    if (fd < 0) {
        int e = errno;
        free(head);
        free(target);
        if (!tmp) return fail(c, "checkpoint %s: out of memory", path);
        free(tmp);
        return fail(c, "checkpoint %s: cannot create a temporary file beside it: %s", path, strerror(e));
    }
    const char *step = "write";
    int r = 0;
    /* the old file's exact mode (open took the umask off it) */
    if (replace && (step = "fchmod", fchmod(fd, old.st_mode & 07777) != 0)) r = -1;
    if (r == 0 && (step = "write", 1)) r = write_all(fd, head, 8 + hlen);
    for (int i = 0; r == 0 && i < c->n; i++) r = write_entry(fd, &c->ent[i]);
    if (r == 0 && (step = "fsync", fsync(fd) != 0)) r = -1;
    int saved_errno = errno;
    if (close(fd) != 0 && r == 0) {
        r = -1;
        step = "close";
        saved_errno = errno;
    }
    if (r == 0 && (step = "rename", rename(tmp, target) != 0)) {
        r = -1;
        saved_errno = errno;
    }
    free(head);
    if (r != 0) {
        unlink(tmp);
        free(tmp);
        free(target);
        return fail(c, "checkpoint %s: %s failed: %s (the old file, if any, is intact)", path, step,
                    strerror(saved_errno));
    }
    free(tmp);
    r = sync_dir(target);
    int e = errno;
    free(target);
    if (r != 0) return fail(c, "checkpoint %s: saved, but fsync of its directory failed: %s", path, strerror(e));
    return ok(c);
}

/* ---- loading ------------------------------------------------------------- */

struct ftensor { /* one tensor as the file describes it */
    const char *name;
    wg_dtype dt;
    int ndim;
    int64_t shape[WG_MAX_DIMS];
    uint64_t begin, end;
    int used; /* matched by a registered array */
};

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct ftensor *)a)->name, ((const struct ftensor *)b)->name);
}

static int by_offset(const void *a, const void *b)
{
    const struct ftensor *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* A JSON number that is an integer in [0, 2^53]; -1 otherwise. */
static int json_uint(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= MAX_EXACT) || d != floor(d)) return -1;
    *out = (uint64_t)d;
    return 0;
}

static const char *const other_dtypes[] = {"BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16",
                                           "F16", "BF16", "I32", "U32", "I64", "U64", NULL};

/* Parse one tensor's description; data_len bounds its offsets. */
static int parse_tensor(wg_checkpoint *c, const char *file, const cJSON *item, uint64_t data_len,
                        struct ftensor *ft)
{
    const char *nm = item->string;
    long bad = utf8_bad(nm);
    if (bad >= 0) return fail(c, "checkpoint %s: a tensor name is not valid UTF-8 at byte %ld", file, bad);
    if (!cJSON_IsObject(item)) return fail(c, "checkpoint %s: tensor '%s': not a JSON object", file, nm);
    const cJSON *dtype = NULL, *shape = NULL, *offs = NULL;
    for (const cJSON *f = item->child; f; f = f->next) {
        const cJSON **slot = strcmp(f->string, "dtype") == 0          ? &dtype
                             : strcmp(f->string, "shape") == 0        ? &shape
                             : strcmp(f->string, "data_offsets") == 0 ? &offs
                                                                      : NULL;
        if (!slot) return fail(c, "checkpoint %s: tensor '%s': unknown field '%s'", file, nm, f->string);
        if (*slot) return fail(c, "checkpoint %s: tensor '%s': field '%s' appears twice", file, nm, f->string);
        *slot = f;
    }
    if (!dtype || !shape || !offs)
        return fail(c, "checkpoint %s: tensor '%s': missing field '%s'", file, nm,
                    !dtype ? "dtype" : !shape ? "shape" : "data_offsets");
    if (!cJSON_IsString(dtype)) return fail(c, "checkpoint %s: tensor '%s': dtype is not a string", file, nm);
    const char *ds = dtype->valuestring;
    if (strcmp(ds, "F32") == 0) {
        ft->dt = WG_F32;
    } else if (strcmp(ds, "F64") == 0) {
        ft->dt = WG_F64;
    } else {
        for (int i = 0; other_dtypes[i]; i++)
            if (strcmp(ds, other_dtypes[i]) == 0)
                return fail(c, "checkpoint %s: tensor '%s': dtype %s is not supported (F32 and F64 are)", file,
                            nm, ds);
        return fail(c, "checkpoint %s: tensor '%s': unknown dtype \"%.40s\"", file, nm, ds);
    }
    if (!cJSON_IsArray(shape)) return fail(c, "checkpoint %s: tensor '%s': shape is not an array", file, nm);
    int nd = cJSON_GetArraySize(shape);
    if (nd > WG_MAX_DIMS)
        return fail(c, "checkpoint %s: tensor '%s': %d dimensions, at most %d are supported", file, nm, nd,
                    WG_MAX_DIMS);
    ft->ndim = nd;
    uint64_t numel = 1, esize = dtype_size(ft->dt), dims[WG_MAX_DIMS];
    int d = 0, empty = 0;
    for (const cJSON *v = shape->child; v; v = v->next, d++) {
        if (json_uint(v, &dims[d]) != 0)
            return fail(c, "checkpoint %s: tensor '%s': dimension %d is not a non-negative integer", file, nm, d);
        ft->shape[d] = (int64_t)dims[d];
        empty |= dims[d] == 0;
    }
    /* numel * esize <= data_len, checked without overflow. */
    for (d = 0; d < nd && !empty; d++) {
        if (numel > data_len / esize / dims[d])
            return fail(c, "checkpoint %s: tensor '%s': shape too large for the data section (%" PRIu64 " bytes)",
                        file, nm, data_len);
        numel *= dims[d];
    }
    if (empty) numel = 0;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 || json_uint(offs->child, &ft->begin) != 0 ||
        json_uint(offs->child->next, &ft->end) != 0)
        return fail(c, "checkpoint %s: tensor '%s': data_offsets must be two non-negative integers", file, nm);
    if (ft->begin > ft->end || ft->end > data_len)
        return fail(c,
                    "checkpoint %s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                    ") lie outside the data section of %" PRIu64 " bytes",
                    file, nm, ft->begin, ft->end, data_len);
    if (ft->end - ft->begin != numel * esize) {
        char s[96];
        return fail(c,
                    "checkpoint %s: tensor '%s': data_offsets span %" PRIu64 " bytes, but %s %s needs %" PRIu64,
                    file, nm, ft->end - ft->begin, dtype_name(ft->dt), fmt_shape(s, sizeof s, nd, ft->shape),
                    numel * esize);
    }
    ft->name = nm;
    return 0;
}

static int parse_meta(wg_checkpoint *c, const char *file, const cJSON *item, struct meta *m)
{
    if (!cJSON_IsObject(item)) return fail(c, "checkpoint %s: __metadata__ is not a JSON object", file);
    for (const cJSON *f = item->child; f; f = f->next) {
        if (!cJSON_IsString(f))
            return fail(c, "checkpoint %s: __metadata__ '%s' is not a string", file, f->string);
        if (meta_find(m, f->string)) return fail(c, "checkpoint %s: __metadata__ '%s' appears twice", file, f->string);
        if (meta_put(m, f->string, f->valuestring) != 0) return fail(c, "checkpoint %s: out of memory", file);
    }
    return 0;
}

/* Everything after the JSON value must be padding (JSON whitespace). */
static int only_whitespace(const char *p, const char *end)
{
    for (; p < end; p++)
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') return 0;
    return 1;
}

/* Check the file's tensors against each other and against the registered
 * arrays.  ft is sorted by name on return. */
static int check_tensors(wg_checkpoint *c, const char *file, struct ftensor *ft, int nt, uint64_t data_len)
{
    qsort(ft, (size_t)nt, sizeof *ft, by_name);
    for (int i = 1; i < nt; i++)
        if (strcmp(ft[i - 1].name, ft[i].name) == 0)
            return fail(c, "checkpoint %s: tensor '%s' appears twice", file, ft[i].name);
    for (int i = 0; i < c->n; i++) {
        const struct entry *e = &c->ent[i];
        struct ftensor key = {.name = e->name};
        struct ftensor *f = bsearch(&key, ft, (size_t)nt, sizeof *ft, by_name);
        if (!f)
            return fail(c, "checkpoint %s: tensor '%s' is missing (the file has %d tensor%s%s%s)", file, e->name, nt,
                        nt == 1 ? "" : "s", nt ? ", the first named " : "", nt ? ft[0].name : "");
        char s1[96], s2[96];
        if (f->dt != e->dt || f->ndim != e->ndim ||
            memcmp(f->shape, e->shape, (size_t)e->ndim * sizeof e->shape[0]) != 0)
            return fail(c, "checkpoint %s: tensor '%s': the file has %s %s, the model %s %s", file, e->name,
                        dtype_name(f->dt), fmt_shape(s1, sizeof s1, f->ndim, f->shape), dtype_name(e->dt),
                        fmt_shape(s2, sizeof s2, e->ndim, e->shape));
        f->used = 1;
    }
    for (int i = 0; i < nt; i++)
        if (!ft[i].used) return fail(c, "checkpoint %s: tensor '%s' in the file is not in the model", file, ft[i].name);

    /* Offsets: sorted, they must tile [0, data_len) with no gap and no overlap. */
    struct ftensor *byoff = malloc((size_t)(nt ? nt : 1) * sizeof *byoff);
    if (!byoff) return fail(c, "checkpoint %s: out of memory", file);
    memcpy(byoff, ft, (size_t)nt * sizeof *ft);
    qsort(byoff, (size_t)nt, sizeof *byoff, by_offset);
    uint64_t at = 0;
    int r = 0;
    for (int i = 0; i < nt && r == 0; i++) {
        if (byoff[i].begin < at)
            r = fail(c, "checkpoint %s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 ") overlap '%s'", file,
                     byoff[i].name, byoff[i].begin, byoff[i].end, byoff[i - 1].name);
        else if (byoff[i].begin > at)
            r = fail(c, "checkpoint %s: tensor '%s': %" PRIu64 " unused bytes in the data section before it", file,
                     byoff[i].name, byoff[i].begin - at);
        at = byoff[i].end;
    }
    if (r == 0 && at != data_len)
        r = fail(c, "checkpoint %s: the data section has %" PRIu64 " bytes, the tensors cover %" PRIu64, file,
                 data_len, at);
    free(byoff);
    return r;
}

int wg_checkpoint_load_buffer(wg_checkpoint *c, const void *bytes, size_t len, const char *name)
{
    if (!c) return fail(NULL, "checkpoint_load: invalid handle: the checkpoint is NULL");
    const char *file = name ? name : "(buffer)";
    if (!bytes && len) return fail(c, "checkpoint %s: the buffer is NULL", file);
    const unsigned char *b = bytes;
    if (len < 8) return fail(c, "checkpoint %s: %zu bytes, too short for the 8-byte header length", file, len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | b[i];
    if (hlen > len - 8)
        return fail(c, "checkpoint %s: header length %" PRIu64 " (bytes 0-7) runs past the end of the %zu-byte file",
                    file, hlen, len);
    if (hlen > MAX_HEADER)
        return fail(c, "checkpoint %s: header length %" PRIu64 " (bytes 0-7) is over the %" PRIu64 "-byte limit", file,
                    hlen, MAX_HEADER);
    if (hlen < 2 || b[8] != '{')
        return fail(c, "checkpoint %s: byte 8: the header must be a JSON object starting with '{'", file);
    const char *hdr = (const char *)b + 8, *end = NULL;
    if (json_has_nul_escape(hdr, (size_t)hlen))
        return fail(c, "checkpoint %s: the header holds a NUL character (\\u0000): names must not", file);
    call_once(&cjson_once, cjson_hooks);
    const unsigned oom_before = cjson_oom;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, (size_t)hlen, &end, 0);
    if (!root && cjson_oom != oom_before) return fail(c, "checkpoint %s: out of memory parsing the header", file);
    if (!root) {
        size_t at = end && end >= hdr ? (size_t)(end - hdr) : 0;
        return fail(c, "checkpoint %s: byte %zu: invalid JSON in the header", file, 8 + at);
    }
    uint64_t data_len = len - 8 - hlen;
    struct meta m = {0};
    int nt = 0, r = 0;
    struct ftensor *ft = NULL;
    if (!end || !only_whitespace(end, hdr + hlen)) {
        r = fail(c, "checkpoint %s: byte %zu: unexpected bytes after the JSON header", file,
                 8 + (size_t)(end ? end - hdr : 0));
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        r = fail(c, "checkpoint %s: the header is not a JSON object", file);
        goto out;
    }
    int nchild = cJSON_GetArraySize(root);
    ft = calloc((size_t)(nchild ? nchild : 1), sizeof *ft);
    if (!ft) {
        r = fail(c, "checkpoint %s: out of memory", file);
        goto out;
    }
    int seen_meta = 0;
    for (const cJSON *item = root->child; item && r == 0; item = item->next) {
        if (strcmp(item->string, "__metadata__") == 0) {
            r = seen_meta++ ? fail(c, "checkpoint %s: __metadata__ appears twice", file)
                            : parse_meta(c, file, item, &m);
        } else {
            r = parse_tensor(c, file, item, data_len, &ft[nt]);
            nt += r == 0;
        }
    }
    if (r == 0) r = check_tensors(c, file, ft, nt, data_len);
    if (r == 0) {
        /* Valid: now, and only now, fill the arrays and take the metadata. */
        const unsigned char *data = b + 8 + hlen;
        for (int i = 0; i < c->n; i++) {
            struct entry *e = &c->ent[i];
            struct ftensor key = {.name = e->name};
            const struct ftensor *f = bsearch(&key, ft, (size_t)nt, sizeof *ft, by_name);
            if (e->bytes) copy_le(e->data, data + f->begin, e->bytes, dtype_size(e->dt));
        }
        meta_clear(&c->meta);
        c->meta = m;
        m = (struct meta){0};
        r = ok(c);
    }
out:
    meta_clear(&m);
    free(ft);
    cJSON_Delete(root);
    return r;
}

int wg_checkpoint_load(wg_checkpoint *c, const char *path)
{
    if (!c) return fail(NULL, "checkpoint_load: invalid handle: the checkpoint is NULL");
    if (!path || !path[0]) return fail(c, "checkpoint_load: the path is empty");
    /* Non-blocking: opening a FIFO must not wait for a writer.  The type is
     * checked before a byte is read; a regular file ignores the flag. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return fail(c, "checkpoint %s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return fail(c, "checkpoint %s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return fail(c, "checkpoint %s: not a regular file", path);
    }
    size_t len = (size_t)st.st_size;
    unsigned char *buf = malloc(len ? len : 1);
    if (!buf) {
        close(fd);
        return fail(c, "checkpoint %s: out of memory for its %zu bytes", path, len);
    }
    size_t got = 0;
    while (got < len) {
        ssize_t k = read(fd, buf + got, len - got > (1u << 30) ? (1u << 30) : len - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            int e = errno;
            free(buf);
            close(fd);
            return fail(c, "checkpoint %s: read failed at byte %zu: %s", path, got, k < 0 ? strerror(e) : "file shrank");
        }
        got += (size_t)k;
    }
    close(fd);
    int r = wg_checkpoint_load_buffer(c, buf, len, path);
    free(buf);
    return r;
}
