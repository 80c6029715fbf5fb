/* idx.c: the IDX reader and the MNIST loader.
 *
 * A file is read whole into memory and then parsed from the buffer, so the
 * parser is the only code that interprets bytes and it knows at every step
 * how many it has.  The header's sizes are checked against the file's length
 * before any allocation they imply: a header claiming terabytes of data fails
 * as "truncated", it does not ask malloc for terabytes.
 */
#include "wg_idx.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define IDX_UBYTE 0x08

static wg_status fail(char *err, size_t err_len, wg_status st, const char *fmt, ...)
{
    if (err && err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return st;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static const char *type_name(uint8_t type)
{
    switch (type) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "16-bit integer";
    case 0x0C: return "32-bit integer";
    case 0x0D: return "float";
    case 0x0E: return "double";
    default: return "unknown";
    }
}

/* "60000 x 28 x 28" */
static const char *shape_str(const int64_t *shape, int ndim, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < ndim && used < len; i++) {
        int k = snprintf(buf + used, len - used, i ? " x %lld" : "%lld", (long long)shape[i]);
        if (k < 0) break;
        used += (size_t)k;
    }
    return buf;
}

wg_status wg_idx_parse(const void *buf, size_t len, const char *name, wg_idx *out, char *err,
                       size_t err_len)
{
    if (!out) return fail(err, err_len, WG_ERR_ARG, "idx: %s: no output given", name ? name : "?");
    memset(out, 0, sizeof *out);
    if (!name) name = "(memory)";
    if (!buf && len) return fail(err, err_len, WG_ERR_ARG, "idx: %s: no buffer given", name);
    const uint8_t *b = buf;
    if (len < 4)
        return fail(err, err_len, WG_ERR_ARG,
                    "idx: %s: truncated header: the file has %zu bytes, the magic number needs 4", name, len);
    if (b[0] != 0 || b[1] != 0)
        return fail(err, err_len, WG_ERR_ARG,
                    "idx: %s: bad magic number 0x%08x at byte 0: an IDX file starts with two zero bytes",
                    name, (unsigned)be32(b));
    if (b[2] != IDX_UBYTE)
        return fail(err, err_len, WG_ERR_ARG,
                    "idx: %s: element type 0x%02x (%s) at byte 2 is not supported: only 0x08 (unsigned byte)",
                    name, (unsigned)b[2], type_name(b[2]));
    int ndim = b[3];
    if (ndim < 1 || ndim > WG_MAX_DIMS)
        return fail(err, err_len, WG_ERR_ARG, "idx: %s: %d dimensions at byte 3: want 1 to %d", name, ndim,
                    WG_MAX_DIMS);
    size_t header = 4 + 4 * (size_t)ndim;
    if (len < header)
        return fail(err, err_len, WG_ERR_ARG,
                    "idx: %s: truncated header: %d dimensions need %zu header bytes, the file has %zu", name,
                    ndim, header, len);
    int64_t shape[WG_MAX_DIMS];
    size_t numel = 1;
    int overflow = 0;
    for (int i = 0; i < ndim; i++) {
        uint32_t d = be32(b + 4 + 4 * i);
        shape[i] = d;
        if (d && numel > SIZE_MAX / d) overflow = 1;
        else numel *= d;
    }
    char sbuf[96];
    if (overflow || numel > SIZE_MAX - header)
        return fail(err, err_len, WG_ERR_ARG, "idx: %s: the sizes %s in bytes 4-%zu overflow", name,
                    shape_str(shape, ndim, sbuf, sizeof sbuf), header - 1);
    size_t want = header + numel;
    if (len < want)
        return fail(err, err_len, WG_ERR_ARG,
                    "idx: %s: truncated data: the header says %s = %zu bytes from byte %zu, the file ends at byte %zu",
                    name, shape_str(shape, ndim, sbuf, sizeof sbuf), numel, header, len);
    if (len > want)
        return fail(err, err_len, WG_ERR_ARG,
                    "idx: %s: %zu unexpected bytes from byte %zu: the header says %s = %zu bytes of data", name,
                    len - want, want, shape_str(shape, ndim, sbuf, sizeof sbuf), numel);
    uint8_t *data = malloc(numel ? numel : 1);
    if (!data)
        return fail(err, err_len, WG_ERR_NOMEM, "idx: %s: out of memory for %zu bytes", name, numel);
    if (numel) memcpy(data, b + header, numel);
    out->ndim = ndim;
    memcpy(out->shape, shape, sizeof shape);
    out->numel = numel;
    out->data = data;
    return WG_OK;
}

/* The whole file into a malloc'd buffer. */
static wg_status read_file(const char *path, uint8_t **buf, size_t *len, char *err, size_t err_len)
{
    *buf = NULL;
    *len = 0;
    /* Non-blocking, and only a regular file: a FIFO would block the open
     * (and a device could stream forever) before any check. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return fail(err, err_len, WG_ERR_ARG, "idx: %s: cannot open: %s", path, strerror(errno));
    struct stat st;
    const int stat_ok = fstat(fd, &st) == 0;
    if (!stat_ok || !S_ISREG(st.st_mode) || st.st_size < 0) {
        const int dir = stat_ok && S_ISDIR(st.st_mode);
        close(fd);
        return fail(err, err_len, WG_ERR_ARG, "idx: %s: %s", path,
                    dir ? "is a folder, not a file" : "not a regular file");
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int e = errno;
        close(fd);
        return fail(err, err_len, e == ENOMEM ? WG_ERR_NOMEM : WG_ERR_ARG, "idx: %s: cannot open: %s", path,
                    strerror(e));
    }
    size_t cap = (size_t)st.st_size + 1; /* +1 so one read reaches end of file */
    uint8_t *p = malloc(cap);
    size_t n = 0;
    while (p) {
        n += fread(p + n, 1, cap - n, f);
        if (n < cap) break;
        uint8_t *q = cap <= SIZE_MAX / 2 ? realloc(p, cap * 2) : NULL;
        if (!q) {
            free(p);
            p = NULL;
            break;
        }
        p = q;
        cap *= 2;
    }
    int bad = ferror(f);
    int saved = errno;
    fclose(f);
    if (!p) return fail(err, err_len, WG_ERR_NOMEM, "idx: %s: out of memory reading the file", path);
    if (bad) {
        free(p);
        return fail(err, err_len, WG_ERR_ARG, "idx: %s: read error after byte %zu: %s", path, n, strerror(saved));
    }
    *buf = p;
    *len = n;
    return WG_OK;
}

wg_status wg_idx_load(const char *path, wg_idx *out, char *err, size_t err_len)
{
    if (out) memset(out, 0, sizeof *out);
    if (!path) return fail(err, err_len, WG_ERR_ARG, "idx: no file name given");
    if (!out) return fail(err, err_len, WG_ERR_ARG, "idx: %s: no output given", path);
    uint8_t *buf;
    size_t len;
    wg_status st = read_file(path, &buf, &len, err, err_len);
    if (st != WG_OK) return st;
    st = wg_idx_parse(buf, len, path, out, err, err_len);
    free(buf);
    return st;
}

void wg_idx_free(wg_idx *x)
{
    if (!x) return;
    free(x->data);
    memset(x, 0, sizeof *x);
}

void wg_mnist_free(wg_mnist *m)
{
    if (!m) return;
    free(m->images);
    free(m->labels);
    memset(m, 0, sizeof *m);
}

wg_status wg_mnist_load(const char *images_path, const char *labels_path, wg_mnist *out, char *err,
                        size_t err_len)
{
    if (out) memset(out, 0, sizeof *out);
    if (!out || !images_path || !labels_path)
        return fail(err, err_len, WG_ERR_ARG, "mnist: missing argument (images, labels or output)");
    wg_idx im, lb;
    wg_status st = wg_idx_load(images_path, &im, err, err_len);
    if (st != WG_OK) return st;
    st = wg_idx_load(labels_path, &lb, err, err_len);
    if (st != WG_OK) {
        wg_idx_free(&im);
        return st;
    }
    char sbuf[96];
    if (im.ndim != 3 || im.shape[1] == 0 || im.shape[2] == 0)
        st = fail(err, err_len, WG_ERR_ARG,
                  "mnist: %s: not an image file: its sizes are %s, want images x rows x columns", images_path,
                  shape_str(im.shape, im.ndim, sbuf, sizeof sbuf));
    else if (lb.ndim != 1)
        st = fail(err, err_len, WG_ERR_ARG, "mnist: %s: not a label file: its sizes are %s, want one size",
                  labels_path, shape_str(lb.shape, lb.ndim, sbuf, sizeof sbuf));
    else if (im.shape[0] != lb.shape[0])
        st = fail(err, err_len, WG_ERR_ARG, "mnist: %s has %lld images but %s has %lld labels", images_path,
                  (long long)im.shape[0], labels_path, (long long)lb.shape[0]);
    for (size_t i = 0; st == WG_OK && i < lb.numel; i++)
        if (lb.data[i] > 9)
            st = fail(err, err_len, WG_ERR_ARG, "mnist: %s: label %u at byte %zu is not a digit 0-9",
                      labels_path, (unsigned)lb.data[i], 8 + i);
    if (st != WG_OK) {
        wg_idx_free(&im);
        wg_idx_free(&lb);
        return st;
    }
    out->n = (size_t)lb.numel;
    out->rows = (int)im.shape[1];
    out->cols = (int)im.shape[2];
    out->images = im.data;
    out->labels = lb.data;
    return WG_OK;
}

wg_status wg_mnist_load_dir(const char *dir, const char *split, wg_mnist *out, char *err, size_t err_len)
{
    if (out) memset(out, 0, sizeof *out);
    if (!dir || !split || !out) return fail(err, err_len, WG_ERR_ARG, "mnist: missing argument (folder, split or output)");
    size_t n = strlen(dir) + strlen(split) + 32;
    char *ip = malloc(n), *lp = malloc(n);
    wg_status st;
    if (!ip || !lp) {
        st = fail(err, err_len, WG_ERR_NOMEM, "mnist: out of memory");
    } else {
        snprintf(ip, n, "%s/%s-images-idx3-ubyte", dir, split);
        snprintf(lp, n, "%s/%s-labels-idx1-ubyte", dir, split);
        st = wg_mnist_load(ip, lp, out, err, err_len);
    }
    free(ip);
    free(lp);
    return st;
}

size_t wg_mnist_pixels_f32(const wg_mnist *m, size_t first, size_t count, float *out)
{
    if (!m || !out || first >= m->n) return 0;
    if (count > m->n - first) count = m->n - first;
    size_t px = (size_t)m->rows * (size_t)m->cols;
    const uint8_t *src = m->images + first * px;
    for (size_t i = 0; i < count * px; i++) out[i] = src[i] * (1.0f / 255.0f);
    return count;
}
