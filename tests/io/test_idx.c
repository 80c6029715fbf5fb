/* test_idx: the IDX reader and the MNIST loader on files this test writes:
 * good ones, and truncated, wrong-magic, wrong-type, wrong-count,
 * oversized-header and trailing-byte ones, each rejected with its exact
 * message.  Runs in a fresh folder under the current directory. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wengert.h"
#include "wg_test.h"

static char dir[64];
static char path_buf[4][256];

/* dir/name, in one of four rotating buffers. */
static const char *in_dir(const char *name)
{
    static int k;
    char *p = path_buf[k++ % 4];
    snprintf(p, 256, "%s/%s", dir, name);
    return p;
}

static void write_bytes(const char *path, const uint8_t *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "cannot write %s", path);
    if (!f) return;
    CHECK(fwrite(b, 1, n, f) == n, "short write to %s", path);
    fclose(f);
}

/* An IDX header: magic 0 0 type ndim, then big-endian sizes.  Returns its length. */
static size_t header(uint8_t *b, uint8_t type, int ndim, const uint32_t *dims)
{
    b[0] = 0, b[1] = 0, b[2] = type, b[3] = (uint8_t)ndim;
    for (int i = 0; i < ndim; i++) {
        b[4 + 4 * i] = (uint8_t)(dims[i] >> 24);
        b[5 + 4 * i] = (uint8_t)(dims[i] >> 16);
        b[6 + 4 * i] = (uint8_t)(dims[i] >> 8);
        b[7 + 4 * i] = (uint8_t)dims[i];
    }
    return 4 + 4 * (size_t)ndim;
}

/* Writes n images of r x c pixels (pixel j of image i = (7i + j) mod 256) and
 * their labels (i mod 10), as a real MNIST pair would be. */
static void write_set(const char *images, const char *labels, uint32_t n, uint32_t r, uint32_t c)
{
    size_t px = (size_t)n * r * c;
    uint8_t *b = malloc(16 + px + 8 + n);
    size_t h = header(b, 0x08, 3, (uint32_t[]){n, r, c});
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < (size_t)r * c; j++) b[h + i * r * c + j] = (uint8_t)((7 * i + j) % 256);
    write_bytes(images, b, h + px);
    h = header(b, 0x08, 1, (uint32_t[]){n});
    for (size_t i = 0; i < n; i++) b[h + i] = (uint8_t)(i % 10);
    write_bytes(labels, b, h + n);
    free(b);
}

/* Loading `path` fails with exactly `want` (with %s for the path) and leaves
 * the output zeroed. */
static void expect_idx_error(const char *path, const char *want_fmt)
{
    char want[512], err[512] = "";
    snprintf(want, sizeof want, want_fmt, path);
    wg_idx x;
    memset(&x, 0xAB, sizeof x);
    wg_status st = wg_idx_load(path, &x, err, sizeof err);
    CHECK(st == WG_ERR_ARG, "status %d for %s", (int)st, path);
    CHECK_STR(err, want);
    CHECK(x.data == NULL && x.ndim == 0 && x.numel == 0, "output not zeroed on error");
}

static void test_good_files(void)
{
    const char *im = in_dir("good-images"), *lb = in_dir("good-labels");
    write_set(im, lb, 5, 3, 4);

    char err[512] = "";
    wg_idx x;
    CHECK(wg_idx_load(im, &x, err, sizeof err) == WG_OK, "%s", err);
    CHECK(x.ndim == 3, "ndim %d", x.ndim);
    CHECK(x.shape[0] == 5 && x.shape[1] == 3 && x.shape[2] == 4, "shape %lld %lld %lld", (long long)x.shape[0],
          (long long)x.shape[1], (long long)x.shape[2]);
    CHECK(x.numel == 60, "numel %zu", x.numel);
    int same = 1;
    for (size_t i = 0; i < 5; i++)
        for (size_t j = 0; j < 12; j++) same &= x.data[i * 12 + j] == (uint8_t)((7 * i + j) % 256);
    CHECK(same, "pixels differ from what was written");
    wg_idx_free(&x);
    CHECK(x.data == NULL && x.numel == 0, "wg_idx_free zeroes");
    wg_idx_free(&x); /* twice is harmless */
    wg_idx_free(NULL);

    wg_mnist m;
    CHECK(wg_mnist_load(im, lb, &m, err, sizeof err) == WG_OK, "%s", err);
    CHECK(m.n == 5 && m.rows == 3 && m.cols == 4, "mnist %zu x %d x %d", m.n, m.rows, m.cols);
    int labels_ok = 1;
    for (size_t i = 0; i < m.n; i++) labels_ok &= m.labels[i] == i % 10;
    CHECK(labels_ok, "labels differ from what was written");

    /* pixels as floats: image 2 pixel 5 is (14 + 5) / 255; a range past the end is cut */
    float f[3 * 12];
    CHECK(wg_mnist_pixels_f32(&m, 2, 10, f) == 3, "copies the 3 images left");
    CHECK_NEAR(f[5], 19.0 / 255.0, 1e-7);
    CHECK_NEAR(f[2 * 12 + 11], ((7 * 4 + 11) % 256) / 255.0, 1e-7);
    CHECK(wg_mnist_pixels_f32(&m, 5, 1, f) == 0, "nothing past the end");
    wg_mnist_free(&m);
    CHECK(m.images == NULL && m.labels == NULL && m.n == 0, "wg_mnist_free zeroes");

    /* an empty set (0 images) is valid */
    write_set(in_dir("empty-images"), in_dir("empty-labels"), 0, 28, 28);
    CHECK(wg_mnist_load(in_dir("empty-images"), in_dir("empty-labels"), &m, err, sizeof err) == WG_OK, "%s", err);
    CHECK(m.n == 0 && m.rows == 28, "empty set %zu x %d", m.n, m.rows);
    wg_mnist_free(&m);

    /* a folder with MNIST's names */
    write_set(in_dir("t10k-images-idx3-ubyte"), in_dir("t10k-labels-idx1-ubyte"), 7, 28, 28);
    CHECK(wg_mnist_load_dir(dir, "t10k", &m, err, sizeof err) == WG_OK, "%s", err);
    CHECK(m.n == 7 && m.rows == 28 && m.cols == 28 && m.labels[6] == 6, "load_dir %zu", m.n);
    wg_mnist_free(&m);

    /* parsing from memory gives the same as the file */
    uint8_t b[4 + 4 + 3];
    size_t h = header(b, 0x08, 1, (uint32_t[]){3});
    b[h] = 9, b[h + 1] = 0, b[h + 2] = 255;
    CHECK(wg_idx_parse(b, sizeof b, "buf", &x, err, sizeof err) == WG_OK, "%s", err);
    CHECK(x.ndim == 1 && x.numel == 3 && x.data[0] == 9 && x.data[2] == 255, "parsed from memory");
    wg_idx_free(&x);
}

static void test_bad_files(void)
{
    uint8_t b[256] = {0}; /* room for the longest file written below */
    const char *p = in_dir("bad");

    write_bytes(p, b, 0);
    expect_idx_error(p, "idx: %s: truncated header: the file has 0 bytes, the magic number needs 4");

    header(b, 0x08, 1, (uint32_t[]){3});
    write_bytes(p, b, 3);
    expect_idx_error(p, "idx: %s: truncated header: the file has 3 bytes, the magic number needs 4");

    /* wrong magic: a gzip'd file (1f 8b 08 08) and a little-endian-written one */
    memcpy(b, "\x1f\x8b\x08\x08", 4);
    write_bytes(p, b, 20);
    expect_idx_error(p, "idx: %s: bad magic number 0x1f8b0808 at byte 0: an IDX file starts with two zero bytes");
    memcpy(b, "\x03\x08\x00\x00", 4);
    write_bytes(p, b, 20);
    expect_idx_error(p, "idx: %s: bad magic number 0x03080000 at byte 0: an IDX file starts with two zero bytes");

    size_t h = header(b, 0x0D, 1, (uint32_t[]){2});
    write_bytes(p, b, h + 8);
    expect_idx_error(p, "idx: %s: element type 0x0d (float) at byte 2 is not supported: only 0x08 (unsigned byte)");

    header(b, 0x08, 0, NULL);
    write_bytes(p, b, 4);
    expect_idx_error(p, "idx: %s: 0 dimensions at byte 3: want 1 to 4");
    b[3] = 200;
    write_bytes(p, b, 64);
    expect_idx_error(p, "idx: %s: 200 dimensions at byte 3: want 1 to 4");

    /* the header itself cut short: 3 sizes promised, 1.5 given */
    h = header(b, 0x08, 3, (uint32_t[]){10, 28, 28});
    write_bytes(p, b, 10);
    expect_idx_error(p, "idx: %s: truncated header: 3 dimensions need 16 header bytes, the file has 10");

    /* truncated data: 10 images of 28 x 28 promised, 100 bytes given */
    write_bytes(p, b, h + 100);
    expect_idx_error(p, "idx: %s: truncated data: the header says 10 x 28 x 28 = 7840 bytes from byte 16, "
                        "the file ends at byte 116");

    /* oversized header: sizes whose product does not fit in memory at all,
     * and sizes that fit but are far beyond the file */
    h = header(b, 0x08, 4, (uint32_t[]){0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 2});
    write_bytes(p, b, h + 4);
    expect_idx_error(p, "idx: %s: the sizes 4294967295 x 4294967295 x 4294967295 x 2 in bytes 4-19 overflow");
    h = header(b, 0x08, 3, (uint32_t[]){4000000000u, 28, 28});
    write_bytes(p, b, h + 4);
    expect_idx_error(p, "idx: %s: truncated data: the header says 4000000000 x 28 x 28 = 3136000000000 bytes "
                        "from byte 16, the file ends at byte 20");

    /* trailing bytes: the file is longer than the header says */
    h = header(b, 0x08, 1, (uint32_t[]){5});
    memset(b + h, 1, 9);
    write_bytes(p, b, h + 9);
    expect_idx_error(p, "idx: %s: 4 unexpected bytes from byte 13: the header says 5 = 5 bytes of data");

    /* no such file, a folder */
    char want[512], err[512] = "";
    wg_idx x;
    const char *missing = in_dir("does-not-exist");
    CHECK(wg_idx_load(missing, &x, err, sizeof err) == WG_ERR_ARG, "missing file");
    snprintf(want, sizeof want, "idx: %s: cannot open: No such file or directory", missing);
    CHECK_STR(err, want);
    CHECK(wg_idx_load(dir, &x, err, sizeof err) == WG_ERR_ARG, "a folder");
    snprintf(want, sizeof want, "idx: %s: is a folder, not a file", dir);
    CHECK_STR(err, want);

    /* bad arguments: messages, no crash; a NULL err buffer is allowed */
    CHECK(wg_idx_load(NULL, &x, err, sizeof err) == WG_ERR_ARG, "NULL path");
    CHECK_STR(err, "idx: no file name given");
    CHECK(wg_idx_parse(NULL, 5, "buf", &x, err, sizeof err) == WG_ERR_ARG, "NULL buffer");
    CHECK_STR(err, "idx: buf: no buffer given");
    CHECK(wg_idx_parse(b, 2, "buf", &x, NULL, 0) == WG_ERR_ARG, "NULL err buffer");
    /* a short err buffer gets a cut, terminated message */
    char small[12];
    CHECK(wg_idx_parse(b, 2, "buf", &x, small, sizeof small) == WG_ERR_ARG, "short err buffer");
    CHECK_STR(small, "idx: buf: t");
}

/* MNIST-level checks: both files are valid IDX but do not make a data set. */
static void test_bad_sets(void)
{
    const char *im = in_dir("set-images"), *lb = in_dir("set-labels");
    char want[512], err[512] = "";
    wg_mnist m;

    /* wrong count: 6 images, 5 labels */
    write_set(im, lb, 6, 2, 2);
    write_set(in_dir("tmp-images"), lb, 5, 2, 2);
    CHECK(wg_mnist_load(im, lb, &m, err, sizeof err) == WG_ERR_ARG, "counts differ");
    snprintf(want, sizeof want, "mnist: %s has 6 images but %s has 5 labels", im, lb);
    CHECK_STR(err, want);
    CHECK(m.images == NULL && m.labels == NULL && m.n == 0, "output zeroed on error");

    /* a label that is not a digit, at a known byte */
    write_set(im, lb, 6, 2, 2);
    uint8_t b[16];
    size_t h = header(b, 0x08, 1, (uint32_t[]){6});
    for (int i = 0; i < 6; i++) b[h + i] = (uint8_t)i;
    b[h + 4] = 12;
    write_bytes(lb, b, h + 6);
    CHECK(wg_mnist_load(im, lb, &m, err, sizeof err) == WG_ERR_ARG, "label 12");
    snprintf(want, sizeof want, "mnist: %s: label 12 at byte 12 is not a digit 0-9", lb);
    CHECK_STR(err, want);

    /* files swapped */
    write_set(im, lb, 6, 2, 2);
    CHECK(wg_mnist_load(lb, im, &m, err, sizeof err) == WG_ERR_ARG, "swapped");
    snprintf(want, sizeof want, "mnist: %s: not an image file: its sizes are 6, want images x rows x columns", lb);
    CHECK_STR(err, want);

    /* a bad IDX file's own message comes through */
    write_bytes(lb, (const uint8_t *)"\x00\x00\x08\x01\x00\x00", 6);
    CHECK(wg_mnist_load(im, lb, &m, err, sizeof err) == WG_ERR_ARG, "truncated labels");
    snprintf(want, sizeof want, "idx: %s: truncated header: 1 dimensions need 8 header bytes, the file has 6", lb);
    CHECK_STR(err, want);

    /* a missing folder names the file it looked for */
    CHECK(wg_mnist_load_dir("no-such-folder", "train", &m, err, sizeof err) == WG_ERR_ARG, "no folder");
    CHECK_STR(err, "idx: no-such-folder/train-images-idx3-ubyte: cannot open: No such file or directory");
}

static void cleanup(void)
{
    const char *names[] = {"good-images", "good-labels", "empty-images", "empty-labels", "t10k-images-idx3-ubyte",
                           "t10k-labels-idx1-ubyte", "bad", "set-images", "set-labels", "tmp-images"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) remove(in_dir(names[i]));
    CHECK(rmdir(dir) == 0, "folder %s left with files in it", dir);
}

int main(void)
{
    strcpy(dir, "wg-test-idx-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_good_files();
    test_bad_files();
    test_bad_sets();
    cleanup();
    return wg_test_done("test_idx");
}
