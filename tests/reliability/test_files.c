/* test_files: how checkpoints and IDX files meet the file system (issue 13,
 * items 4, 5 and 8).
 *  - a FIFO given as a checkpoint or an IDX file is refused at once ("not a
 *    regular file"), never opened blocking (an alarm ends a hang);
 *  - a new checkpoint gets 0666 less the umask; a replaced one keeps the old
 *    file's mode (0600 stays 0600);
 *  - saving through a symlink writes the file it points to, and the link
 *    stays a link;
 *  - a file name of 250 bytes (the limit is 255) saves: the temporary name
 *    beside it fits.
 */
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "rel_util.h"
#include "wengert.h"
#include "wg_test.h"

static float vals[6] = {1, 2, 3, 4, 5, 6};

static wg_checkpoint *ckpt(float *data)
{
    wg_checkpoint *c = wg_checkpoint_new();
    const int64_t shape[2] = {2, 3};
    wg_checkpoint_add(c, "w", WG_F32, 2, shape, data);
    return c;
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_mode & 07777 : (mode_t)-1;
}

int main(void)
{
    alarm(60); /* a blocking open would hang: SIGALRM fails the test instead */
    char *dir = rel_tmpdir("wg-files");
    CHECK(dir != NULL, "mkdtemp");
    if (!dir) return 1;
    char p[4096], q[4096];

    /* FIFOs */
    rel_path(p, sizeof p, dir, "fifo");
    CHECK(mkfifo(p, 0600) == 0, "mkfifo");
    wg_checkpoint *c = ckpt(vals);
    CHECK(wg_checkpoint_load(c, p) == -1 && strstr(wg_checkpoint_error(c), "not a regular file"),
          "a FIFO as a checkpoint: %s", wg_checkpoint_error(c));
    char err[256] = "";
    wg_idx idx;
    CHECK(wg_idx_load(p, &idx, err, sizeof err) != WG_OK && strstr(err, "not a regular file"), "a FIFO as IDX: %s",
          err);
    unlink(p);

    /* modes: new files take the umask, replaced files keep their mode */
    mode_t old_mask = umask(027);
    rel_path(p, sizeof p, dir, "new.safetensors");
    CHECK(wg_checkpoint_save(c, p) == 0, "save: %s", wg_checkpoint_error(c));
    CHECK(mode_of(p) == 0640, "a new checkpoint under umask 027: mode %o, want 640", (unsigned)mode_of(p));
    umask(0);
    CHECK(chmod(p, 0600) == 0, "chmod");
    CHECK(wg_checkpoint_save(c, p) == 0, "save again: %s", wg_checkpoint_error(c));
    CHECK(mode_of(p) == 0600, "a replaced 0600 checkpoint (umask 0): mode %o, want 600", (unsigned)mode_of(p));
    umask(old_mask);

    /* symlinks: the target is written, the link stays */
    rel_path(q, sizeof q, dir, "link.safetensors");
    CHECK(symlink("new.safetensors", q) == 0, "symlink");
    float other[6] = {9, 8, 7, 6, 5, 4}, back[6] = {0};
    wg_checkpoint *c2 = ckpt(other);
    CHECK(wg_checkpoint_save(c2, q) == 0, "save through a link: %s", wg_checkpoint_error(c2));
    struct stat lst;
    CHECK(lstat(q, &lst) == 0 && S_ISLNK(lst.st_mode), "the link is still a symlink");
    CHECK(mode_of(p) == 0600, "the target kept its mode: %o", (unsigned)mode_of(p));
    wg_checkpoint *c3 = ckpt(back);
    CHECK(wg_checkpoint_load(c3, p) == 0 && memcmp(back, other, sizeof back) == 0,
          "the target holds the new data: %s", wg_checkpoint_error(c3));

    /* a name of 250 bytes */
    char name[251];
    memset(name, 'n', 250);
    name[250] = 0;
    rel_path(p, sizeof p, dir, name);
    CHECK(wg_checkpoint_save(c, p) == 0, "a 250-byte file name: %s", wg_checkpoint_error(c));
    CHECK(wg_checkpoint_load(c3, p) == 0 && memcmp(back, vals, sizeof back) == 0, "it loads back: %s",
          wg_checkpoint_error(c3));
    CHECK(rel_count_files(dir, ".tmp.") == 0, "no temporary file is left");

    wg_checkpoint_free(c);
    wg_checkpoint_free(c2);
    wg_checkpoint_free(c3);
    rel_rmdir(dir);
    free(dir);
    return wg_test_done("test_files");
}
