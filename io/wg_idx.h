/* wg_idx.h: the IDX file format and the MNIST data set.
 *
 * An IDX file (LeCun's format for MNIST) is a 4-byte magic number, 0x00 0x00,
 * an element type (0x08 = unsigned byte) and the number of dimensions, then
 * one big-endian 32-bit size per dimension, then the elements in row-major
 * order.  The reader checks all of it: the magic number, the type, the number
 * of dimensions, that the sizes do not overflow, and that the file holds
 * exactly the bytes the header promises: no fewer, no more.  A bad file is
 * rejected with a message naming the file, the problem and the byte where it
 * lies; the reader never reads past the end of what it was given.
 *
 * Errors: every function returns WG_OK or an error code (WG_ERR_ARG for a bad
 * or unreadable file, WG_ERR_NOMEM when memory runs out) and, if err is not
 * NULL, writes one line into err: "idx: FILE: problem" or "mnist: ...".
 * On error the output is left empty (zeroed); there is nothing to free.
 */
#ifndef WG_IDX_H
#define WG_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "wg_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One IDX array of unsigned bytes.  Owns `data` (malloc'd); free it with
 * wg_idx_free. */
typedef struct wg_idx {
    int ndim;                      /* 1 to WG_MAX_DIMS */
    int64_t shape[WG_MAX_DIMS];
    size_t numel;                  /* product of the shape; may be 0 */
    uint8_t *data;                 /* numel bytes, row-major */
} wg_idx;

/* Reads an IDX file of unsigned bytes. */
wg_status wg_idx_load(const char *path, wg_idx *out, char *err, size_t err_len);
/* The same from memory: buf holds len bytes; `name` is used in messages.
 * Copies the elements; buf is not kept. */
wg_status wg_idx_parse(const void *buf, size_t len, const char *name, wg_idx *out,
                       char *err, size_t err_len);
/* Frees x's data and zeroes it.  NULL and an empty x are no-ops. */
void wg_idx_free(wg_idx *x);

/* A set of labelled digit images: MNIST's training or test half. */
typedef struct wg_mnist {
    size_t n;         /* number of images (and labels) */
    int rows, cols;   /* 28 x 28 for MNIST */
    uint8_t *images;  /* n * rows * cols pixels, 0 (white) to 255 (black), row-major */
    uint8_t *labels;  /* n digits, each 0 to 9 */
} wg_mnist;

/* Loads an image file (3 dimensions: n, rows, cols) and its label file
 * (1 dimension: n).  Checks that both counts agree and every label is 0-9. */
wg_status wg_mnist_load(const char *images_path, const char *labels_path, wg_mnist *out,
                        char *err, size_t err_len);
/* Loads DIR/<split>-images-idx3-ubyte and DIR/<split>-labels-idx1-ubyte,
 * where split is "train" (60,000 images) or "t10k" (the 10,000 test images). */
wg_status wg_mnist_load_dir(const char *dir, const char *split, wg_mnist *out,
                            char *err, size_t err_len);
void wg_mnist_free(wg_mnist *m);

/* Images first .. first+count-1 as floats pixel/255 in [0, 1], one row of
 * rows*cols values per image, into out.  Returns the number of images copied
 * (fewer than count at the end of the set). */
size_t wg_mnist_pixels_f32(const wg_mnist *m, size_t first, size_t count, float *out);

#ifdef __cplusplus
}
#endif
#endif
