/* test_inputs: smaller holes of issue 13 (item 8).
 *  - wg_tensor_view refuses data off its element boundary (the kernels'
 *    vector loads are undefined behaviour there);
 *  - checkpoint names must be valid UTF-8 (the header is JSON: Python could
 *    not read a file with a bad name), and a file whose header holds a NUL
 *    in a string ("w\u0000junk", which cJSON cut to "w") is refused. */
#include <stdint.h>

#include "rel_util.h"
#include "wengert.h"
#include "wg_test.h"

int main(void)
{
    /* alignment */
    _Alignas(16) unsigned char raw[64] = {0};
    wg_tape *t = wg_tape_new();
    const int64_t s4[1] = {4};
    CHECK(wg_tensor_view(t, WG_F32, 1, s4, raw + 4) != NULL, "an aligned f32 view: %s", wg_tape_error(t));
    CHECK(wg_tensor_view(t, WG_F32, 1, s4, raw + 1) == NULL, "a float * at an odd address was accepted");
    CHECK(wg_tape_error(t) && strstr(wg_tape_error(t), "tensor_view: data") &&
              strstr(wg_tape_error(t), "is not aligned to its 4-byte elements (f32)"),
          "message: %s", wg_tape_error(t) ? wg_tape_error(t) : "(none)");
    wg_tape_reset(t);
    CHECK(wg_tensor_view(t, WG_F64, 1, s4, raw + 4) == NULL, "a double * on a 4-byte boundary was accepted");
    wg_tape_free(t);

    /* names */
    float w[1] = {1};
    const int64_t s1[1] = {1};
    wg_checkpoint *c = wg_checkpoint_new();
    CHECK(wg_checkpoint_add(c, "w\xff", WG_F32, 1, s1, w) == -1, "an invalid UTF-8 name was accepted");
    CHECK(strstr(wg_checkpoint_error(c), "not valid UTF-8 at byte 1"), "message: %s", wg_checkpoint_error(c));
    CHECK(wg_checkpoint_add(c, "\xed\xa0\x80", WG_F32, 1, s1, w) == -1, "a UTF-8 surrogate was accepted");
    CHECK(wg_checkpoint_add(c, "\xc0\xaf", WG_F32, 1, s1, w) == -1, "an overlong form was accepted");
    CHECK(wg_checkpoint_add(c, "caf\xc3\xa9/\xf0\x9f\x98\x80", WG_F32, 1, s1, w) == 0, "valid UTF-8: %s",
          wg_checkpoint_error(c));
    wg_checkpoint_free(c);

    char *dir = rel_tmpdir("wg-inputs");
    char p[4096];
    rel_path(p, sizeof p, dir, "nul.safetensors");
    CHECK(rel_write_safetensors(p, "{\"w\\u0000junk\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4) == 0,
          "write");
    c = wg_checkpoint_new();
    wg_checkpoint_add(c, "w", WG_F32, 1, s1, w);
    CHECK(wg_checkpoint_load(c, p) == -1, "a name with a NUL loaded as 'w'");
    CHECK(strstr(wg_checkpoint_error(c), "NUL"), "message: %s", wg_checkpoint_error(c));
    CHECK(w[0] == 1, "the model is unchanged");
    /* an escaped backslash before u0000 is text, not a NUL */
    rel_path(p, sizeof p, dir, "text.safetensors");
    CHECK(rel_write_safetensors(p, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                                   "\"__metadata__\":{\"note\":\"a\\\\u0000b\"}}", 4) == 0, "write");
    CHECK(wg_checkpoint_load(c, p) == 0, "a backslash then u0000 as text: %s", wg_checkpoint_error(c));
    wg_checkpoint_free(c);
    rel_rmdir(dir);
    free(dir);
    return wg_test_done("test_inputs");
}
