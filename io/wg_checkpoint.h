/* wg_checkpoint.h: checkpoints in the safetensors format.
 *
 * A file is an 8-byte little-endian header length N, N bytes of JSON, then
 * the raw little-endian data.  The JSON maps each tensor's name to its
 * "dtype" ("F32" or "F64"), "shape" and "data_offsets" [begin, end) within
 * the data section, plus an optional "__metadata__" map of strings to
 * strings (step count, optimiser name, hyper-parameters).  numpy alone can
 * read such a file, and safetensors' own readers can too.
 *
 * A wg_checkpoint is a list of named arrays the caller owns (parameters, an
 * optimiser's moment buffers) plus metadata.  The same list serves to save
 * and to load:
 *
 *     wg_checkpoint *c = wg_checkpoint_new();
 *     for (int i = 0; i < n; i++) wg_checkpoint_add_param(c, params[i]);
 *     wg_checkpoint_add(c, "adam.m.w1", WG_F32, 2, shape, m1);
 *     wg_checkpoint_set_meta_i64(c, "step", step);
 *     if (wg_checkpoint_save(c, "run.safetensors") != 0)
 *         fprintf(stderr, "%s\n", wg_checkpoint_error(c));
 *     wg_checkpoint_free(c);
 *
 * Saving is atomic: the file is written to a temporary file in the same
 * directory, flushed with fsync, renamed over the target and the directory
 * is fsync'ed.  A crash at any moment leaves the old file or the new one.
 * (A writer killed mid-save can leave its "<file>.tmp.XXXXXX" behind.)
 *
 * Loading reads and validates the whole file before it writes one byte into
 * the caller's arrays: header length within the file, valid JSON, known
 * dtypes, every registered array present with its dtype and shape, no tensor
 * the list does not have, data offsets in order, non-overlapping and
 * covering the data section exactly.  Any violation is an error naming the
 * file, the tensor (or the byte) and the problem, and the arrays are left as
 * they were.
 *
 * Functions that can fail return 0 on success and -1 on error; the message
 * is then wg_checkpoint_error(c).  No function aborts on bad input.
 */
#ifndef WG_CHECKPOINT_H
#define WG_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "wg_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wg_checkpoint wg_checkpoint;

/* An empty list; NULL only if malloc fails (message in
 * wg_checkpoint_error(NULL)). */
wg_checkpoint *wg_checkpoint_new(void);
/* Frees the list and its metadata, never the arrays.  NULL is a no-op. */
void wg_checkpoint_free(wg_checkpoint *c);

/* Register an array under `name` (copied; 1..255 bytes, unique, not
 * "__metadata__").  `data` holds numel(shape) elements of `dt`, owned by the
 * caller, and must stay valid while the checkpoint is used.  ndim 0..4. */
int wg_checkpoint_add(wg_checkpoint *c, const char *name, wg_dtype dt, int ndim, const int64_t *shape,
                      void *data);
/* Register p->data under p->name (which must not be empty). */
int wg_checkpoint_add_param(wg_checkpoint *c, wg_param *p);
/* The same for n parameters; stops at the first error. */
int wg_checkpoint_add_params(wg_checkpoint *c, int n, wg_param *const *params);

/* Metadata: strings, as the format wants.  Setting a key again replaces it.
 * After a successful load the metadata is the file's. */
int wg_checkpoint_set_meta(wg_checkpoint *c, const char *key, const char *value);
int wg_checkpoint_set_meta_i64(wg_checkpoint *c, const char *key, int64_t v);
/* Written with 17 significant digits, so a double reads back bit-exact. */
int wg_checkpoint_set_meta_f64(wg_checkpoint *c, const char *key, double v);
/* The value of `key`, or NULL if there is none. */
const char *wg_checkpoint_meta(const wg_checkpoint *c, const char *key);
/* Parse a value: -1 (with a message) if the key is missing or not a number. */
int wg_checkpoint_meta_i64(wg_checkpoint *c, const char *key, int64_t *out);
int wg_checkpoint_meta_f64(wg_checkpoint *c, const char *key, double *out);

/* Write every registered array and the metadata to `path`, atomically. */
int wg_checkpoint_save(wg_checkpoint *c, const char *path);
/* Validate `path` against the registered arrays, then fill them. */
int wg_checkpoint_load(wg_checkpoint *c, const char *path);
/* The same from a file's bytes already in memory; `name` is used in messages. */
int wg_checkpoint_load_buffer(wg_checkpoint *c, const void *bytes, size_t len, const char *name);

/* The last error on c ("checkpoint <file>: tensor 'w1': ..."), or NULL if its
 * last call succeeded.  wg_checkpoint_error(NULL) is the last error of a call
 * made with no checkpoint (a NULL handle, wg_checkpoint_new failing). */
const char *wg_checkpoint_error(const wg_checkpoint *c);

#ifdef __cplusplus
}
#endif
#endif
