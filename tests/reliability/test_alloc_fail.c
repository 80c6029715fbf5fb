/* test_alloc_fail: allocation failure at every allocation of a small
 * training-plus-checkpoint program (issue 13).  The program makes two
 * parameters, an Adam optimiser and a tape, trains three steps, saves a
 * checkpoint and loads it back.  For N = 1, 2, ... a child process runs it
 * with the N-th allocation failing, until a run completes with none failed;
 * each run must end with either success or an error message from the call
 * that failed: never a crash, never an empty message, and (in the ASan
 * build, where LeakSanitizer checks each child at exit) never a leak.
 *
 * The allocations are counted by link-time wrappers (meson links this test
 * with -Wl,--wrap for malloc, calloc, realloc, aligned_alloc and
 * posix_memalign), so every allocation the library makes is counted, cJSON's
 * too (the checkpoint code gives cJSON hooks that call malloc); shared
 * libraries (BLIS, cJSON's own code paths without hooks, libc) are not. */
#include <stdint.h>
#include <sys/wait.h>

#include "rel_util.h"
#include "wengert.h"
#include "wrap_alloc.h"
#include "wg_test.h"

static long n_calls, fail_at;
static int failed_one;

static int inject(void)
{
    if (++n_calls == fail_at) {
        failed_one = 1;
        return 1;
    }
    return 0;
}

void *__wrap_malloc(size_t n) { return inject() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t k, size_t n) { return inject() ? NULL : __real_calloc(k, n); }
void *__wrap_realloc(void *p, size_t n) { return inject() ? NULL : __real_realloc(p, n); }
void *__wrap_aligned_alloc(size_t a, size_t n) { return inject() ? NULL : __real_aligned_alloc(a, n); }
int __wrap_posix_memalign(void **out, size_t a, size_t n) { return inject() ? 12 : __real_posix_memalign(out, a, n); }

/* exit status of a child: 0 done, 1 failed with a message, 3 failed with none */
static int report(const char *what, const char *msg)
{
    if (!msg || !msg[0]) {
        fprintf(stderr, "%s failed with no message\n", what);
        return 3;
    }
    fprintf(stderr, "%s: %s\n", what, msg);
    return 1;
}

static int program(const char *path)
{
    int rc = 0;
    wg_param *w = NULL, *b = NULL;
    wg_optim *o = NULL;
    wg_tape *t = NULL;
    wg_checkpoint *c = NULL;
    const int64_t sw[2] = {4, 8}, sb[1] = {4}, sx[2] = {16, 8}, sy[2] = {16, 4};
    float x[16 * 8], y[16 * 4];
    for (int i = 0; i < 16 * 8; i++) x[i] = (float)((i * 37) % 11) / 11.0f - 0.5f;
    for (int i = 0; i < 16 * 4; i++) y[i] = (float)((i * 13) % 7) / 7.0f;
    if (!(w = wg_param_new(WG_F32, 2, sw))) { rc = report("param_new", wg_last_error()); goto out; }
    if (!(b = wg_param_new(WG_F32, 1, sb))) { rc = report("param_new", wg_last_error()); goto out; }
    strcpy(w->name, "w");
    strcpy(b->name, "b");
    for (size_t i = 0; i < w->numel; i++) ((float *)w->data)[i] = 0.1f * (float)(i % 5);
    wg_param *ps[2] = {w, b};
    wg_optim_config oc = wg_optim_defaults(WG_OPT_ADAM);
    if (!(o = wg_optim_new(&oc, 2, ps))) { rc = report("optim_new", wg_last_error()); goto out; }
    if (!(t = wg_tape_new())) { rc = report("tape_new", wg_last_error()); goto out; }
    for (int step = 0; step < 3; step++) {
        wg_tape_reset(t);
        wg_tensor *xt = wg_tensor_new(t, WG_F32, 2, sx, x, false), *yt = wg_tensor_view(t, WG_F32, 2, sy, y);
        wg_tensor *z = wg_add(t, wg_matmul_ex(t, xt, wg_use(t, w), false, true), wg_use(t, b));
        wg_tensor *d = wg_sub(t, wg_nn_sigmoid(t, z), yt);
        wg_tensor *loss = wg_mean(t, wg_mul(t, d, d));
        if (!loss || wg_backward(t, loss) != 0) { rc = report("training", wg_tape_error(t)); goto out; }
        if (wg_optim_step(o) != 0) { rc = report("optim_step", wg_last_error()); goto out; }
        wg_optim_zero_grad(o);
    }
    if (!(c = wg_checkpoint_new())) { rc = report("checkpoint_new", wg_checkpoint_error(NULL)); goto out; }
    if (wg_checkpoint_add_params(c, 2, ps) != 0 || wg_checkpoint_set_meta_i64(c, "step", 3) != 0 ||
        wg_checkpoint_save(c, path) != 0 || wg_checkpoint_load(c, path) != 0) {
        rc = report("checkpoint", wg_checkpoint_error(c));
        goto out;
    }
out:
    wg_checkpoint_free(c);
    wg_tape_free(t);
    wg_optim_free(o);
    wg_param_free(w);
    wg_param_free(b);
    return rc;
}

int main(void)
{
    char *dir = rel_tmpdir("wg-allocfail");
    CHECK(dir != NULL, "mkdtemp");
    if (!dir) return 1;
    char path[4096];
    rel_path(path, sizeof path, dir, "m.safetensors");
    long n, n_failed = 0, n_ok_after = 0;
    for (n = 1; n < 100000; n++) {
        fflush(NULL);
        int pipefd[2];
        CHECK(pipe(pipefd) == 0, "pipe");
        pid_t pid = fork();
        if (pid == 0) {
            close(pipefd[0]);
            n_calls = 0;
            fail_at = n;
            int rc = program(path);
            /* tell the parent whether an allocation was failed at all */
            char f = failed_one ? 'F' : 'N';
            if (write(pipefd[1], &f, 1) != 1) rc = 4;
            close(pipefd[1]);
            exit(rc);
        }
        close(pipefd[1]);
        char f = '?';
        if (read(pipefd[0], &f, 1) != 1) f = '?';
        close(pipefd[0]);
        int st = 0;
        waitpid(pid, &st, 0);
        int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        CHECK(WIFEXITED(st), "allocation %ld failed: the program died of signal %d", n,
              WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        CHECK(code == 0 || code == 1, "allocation %ld failed: exit status %d (3: no message; 23: a leak)", n, code);
        if (f == 'N' && code == 0) break; /* nothing left to fail */
        CHECK(f == 'F', "allocation %ld: the child did not report", n);
        n_failed += code == 1;
        n_ok_after += code == 0; /* failures the program recovered from (a fallback) */
        unlink(path);
    }
    printf("%ld allocations failed one at a time: %ld runs ended with a message, %ld recovered and finished\n",
           n - 1, n_failed, n_ok_after);
    CHECK(n > 20 && n < 100000, "the program made %ld allocations", n - 1);
    rel_rmdir(dir);
    free(dir);
    return wg_test_done("test_alloc_fail");
}
