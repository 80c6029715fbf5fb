/* test_kill_save: a writer killed at random moments never leaves a torn
 * checkpoint.
 *
 * A child process saves a 4 MiB checkpoint over and over, version after
 * version (every element of version k equals k, and its metadata says
 * step = k).  The parent SIGKILLs it after a random delay, then loads the
 * file: it must load, be one complete version (all elements equal to its
 * step), and be the version seen before or a newer one.  Versions of round r
 * are r*10000 + 1, 2, ..., so the parent knows which writer made a file. */
#include <inttypes.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "rel_util.h"
#include "wengert.h"
#include "wg_test.h"

enum { N_TENSORS = 4, N_ELEMS = 1 << 18, ROUNDS = 40, PER_ROUND = 10000 };

static float *bufs[N_TENSORS];

static wg_checkpoint *model(void)
{
    wg_checkpoint *c = wg_checkpoint_new();
    int64_t shape[2] = {512, N_ELEMS / 512};
    for (int i = 0; i < N_TENSORS; i++) {
        char name[16];
        snprintf(name, sizeof name, "t%d", i);
        wg_checkpoint_add(c, name, WG_F32, 2, shape, bufs[i]);
    }
    return c;
}

static void fill(float v)
{
    for (int i = 0; i < N_TENSORS; i++)
        for (size_t j = 0; j < N_ELEMS; j++) bufs[i][j] = v;
}

static int save_version(wg_checkpoint *c, const char *path, int64_t k)
{
    fill((float)k);
    return wg_checkpoint_set_meta_i64(c, "step", k) || wg_checkpoint_save(c, path);
}

/* The child: save versions base+1, base+2, ... until killed, writing one
 * byte to `done` after each save. */
static void writer(const char *path, int64_t base, int done)
{
    wg_checkpoint *c = model();
    for (int64_t k = base + 1;; k++) {
        if (save_version(c, path, k) != 0) {
            fprintf(stderr, "writer: %s\n", wg_checkpoint_error(c));
            _exit(3);
        }
        if (write(done, "s", 1) != 1) _exit(4);
    }
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* 1 if every element of every tensor equals v. */
static int all_equal(float v)
{
    for (int i = 0; i < N_TENSORS; i++)
        for (size_t j = 0; j < N_ELEMS; j++)
            if (bufs[i][j] != v) return 0;
    return 1;
}

int main(void)
{
    for (int i = 0; i < N_TENSORS; i++) bufs[i] = malloc(N_ELEMS * sizeof(float));
    char *dir = rel_tmpdir("wg-kill");
    CHECK(dir != NULL, "scratch directory");
    if (!dir) return wg_test_done("test_kill_save");
    char path[4096];
    rel_path(path, sizeof path, dir, "run.safetensors");

    wg_checkpoint *c = model();
    uint64_t t0 = now_ns();
    CHECK(save_version(c, path, 0) == 0, "initial save: %s", wg_checkpoint_error(c));
    uint64_t save_ns = now_ns() - t0; /* then the last save the writer reported */
    wg_rng rng;
    uint64_t seed = (uint64_t)time(NULL);
    wg_rng_seed(&rng, seed);
    printf("one save takes %.1f ms here; kill moments from seed %" PRIu64 "\n", (double)save_ns / 1e6, seed);
    int64_t seen = 0;
    int n_new = 0, n_old = 0, n_bad = 0;
    /* WG_TEST_SMALL (the ThreadSanitizer pass): half the rounds */
    const char *small = getenv("WG_TEST_SMALL");
    const int rounds = small && small[0] && strcmp(small, "0") != 0 ? ROUNDS / 2 : ROUNDS;
    for (int r = 1; r <= rounds; r++) {
        int done[2];
        CHECK(pipe(done) == 0, "pipe");
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            close(done[0]);
            writer(path, (int64_t)r * PER_ROUND, done[1]);
        }
        close(done[1]);
        CHECK(pid > 0, "fork");
        if (pid < 0) break;
        /* Let the writer finish 0, 1 or 2 saves (however slow the machine),
         * then kill it at a random moment within about one more save. */
        int saves = (int)wg_rng_below(&rng, 3);
        char b;
        uint64_t last = now_ns();
        for (int k = 0; k < saves && read(done[0], &b, 1) == 1; k++) {
            uint64_t t = now_ns();
            if (k) save_ns = t - last;
            last = t;
        }
        uint64_t ns = wg_rng_below(&rng, save_ns + 1);
        struct timespec d = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
        nanosleep(&d, NULL);
        kill(pid, SIGKILL);
        close(done[0]);
        int st = 0;
        waitpid(pid, &st, 0);
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "round %d: the writer died of SIGKILL (status %d)", r, st);

        fill(-1);
        int64_t step = -1;
        int loaded = wg_checkpoint_load(c, path) == 0 && wg_checkpoint_meta_i64(c, "step", &step) == 0;
        CHECK(loaded, "round %d: the file on disk loads: %s", r, wg_checkpoint_error(c));
        int whole = loaded && all_equal((float)step);
        CHECK(whole, "round %d: every element equals the step %" PRId64, r, step);
        int newer = step > (int64_t)r * PER_ROUND && step < (int64_t)(r + 1) * PER_ROUND;
        CHECK(step == seen || newer, "round %d: step %" PRId64 " is the old %" PRId64 " or one of this round's",
              r, step, seen);
        n_bad += !(loaded && whole);
        if (newer) {
            n_new++;
            seen = step;
        } else {
            n_old++;
        }
    }
    int leftovers = rel_count_files(dir, ".tmp.");
    printf("%d kills: %d left the previous checkpoint, %d a newer one, %d a bad file; "
           "%d temporary files left by killed writers\n",
           rounds, n_old, n_new, n_bad, leftovers);
    CHECK(n_new > 0, "some writer finished a save before it was killed");
    CHECK(leftovers > 0, "some kill landed mid-save (no temporary file was left)");
    wg_checkpoint_free(c);
    rel_rmdir(dir);
    free(dir);
    for (int i = 0; i < N_TENSORS; i++) free(bufs[i]);
    return wg_test_done("test_kill_save");
}
