/* plot.c: gnuplot through a pipe, the output folder, the progress bar. */
#include "plot.h"

#include "wengert.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int demo_mkdir(const char *dir)
{
    char path[1024];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
        fprintf(stderr, "output folder name too long: %s\n", dir);
        return -1;
    }
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "cannot create %s: %s\n", path, strerror(errno));
            return -1;
        }
        *p = c;
        if (!c) break;
    }
    return 0;
}

static char plot_path[1100];
static int plots_written;
static bool gnuplot_missing;

FILE *plot_open(const char *dir, const char *name, int width, int height)
{
    if (gnuplot_missing) return NULL;
    snprintf(plot_path, sizeof plot_path, "%s/%s", dir, name);
    remove(plot_path); /* so plot_close sees a fresh file or none */
    /* gnuplot's own messages (a typo in a command) go to our stderr */
    FILE *gp = popen("gnuplot", "w");
    if (!gp) {
        fprintf(stderr, "cannot run gnuplot (%s): pictures skipped; scripts/deps installs it\n", strerror(errno));
        gnuplot_missing = true;
        return NULL;
    }
    fprintf(gp, "set terminal pngcairo size %d,%d font 'sans,10' noenhanced\n", width, height);
    fprintf(gp, "set output '%s'\n", plot_path);
    return gp;
}

int plot_close(FILE *gp)
{
    if (!gp) return -1;
    fprintf(gp, "unset output\n");
    int st = pclose(gp);
    if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 127) {
        fprintf(stderr, "gnuplot is not installed: pictures skipped; scripts/deps installs it\n");
        gnuplot_missing = true;
        return -1;
    }
    struct stat sb;
    if (st != 0 || stat(plot_path, &sb) != 0 || sb.st_size == 0) {
        fprintf(stderr, "gnuplot failed to write %s\n", plot_path);
        return -1;
    }
    plots_written++;
    return 0;
}

void plot_block_begin(FILE *gp, const char *name)
{
    if (gp) fprintf(gp, "$%s << EOD\n", name);
}

void plot_block_end(FILE *gp)
{
    if (gp) fprintf(gp, "EOD\n");
}

int plot_count(void) { return plots_written; }

wg_optim *demo_adam(wg_mlp *m, double lr)
{
    size_t np;
    wg_param *const *ps = wg_mlp_params(m, &np);
    wg_optim_config cfg = wg_optim_defaults(WG_OPT_ADAM);
    cfg.lr = lr;
    return wg_optim_new(&cfg, np, ps);
}

double demo_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- progress bar ------------------------------------------------------ */

static void draw(demo_progress *p, double now)
{
    enum { WIDTH = 24 };
    double frac = p->total ? (double)p->done / (double)p->total : 1.0;
    int filled = (int)(frac * WIDTH);
    char bar[WIDTH + 1];
    for (int i = 0; i < WIDTH; i++) bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
    bar[WIDTH] = '\0';
    double el = now - p->t_start;
    double rate = el > 0 ? (double)p->done / el : 0;
    double left = rate > 0 ? (double)(p->total - p->done) / rate : 0;
    int lm = (int)(left / 60), ls = (int)left % 60;
    printf("\r%s [%s] %zu/%zu  loss %.4f  %.1fk samples/s  %d:%02d left\033[K", p->label, bar, p->done,
           p->total, p->loss_n ? p->loss_sum / (double)p->loss_n : 0.0, rate / 1000, lm, ls);
    fflush(stdout);
    p->t_drawn = now;
}

void progress_start(demo_progress *p, const char *label, size_t total)
{
    memset(p, 0, sizeof *p);
    p->tty = isatty(STDOUT_FILENO) && getenv("TERM") && strcmp(getenv("TERM"), "dumb") != 0;
    snprintf(p->label, sizeof p->label, "%s", label);
    p->total = total;
    p->t_start = demo_now();
    if (p->tty) draw(p, p->t_start);
}

void progress_step(demo_progress *p, size_t n, double loss)
{
    p->done += n;
    p->loss_sum += loss * (double)n;
    p->loss_n += n;
    if (!p->tty) return;
    double now = demo_now();
    if (now - p->t_drawn >= 0.1 || p->done >= p->total) draw(p, now);
}

void progress_end(demo_progress *p)
{
    if (p->tty) {
        printf("\r\033[K");
        fflush(stdout);
    }
}

/* ---- arguments --------------------------------------------------------- */

const char *demo_arg(int argc, char **argv, int *i, const char *name)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) return NULL;
    if (a[n] == '=') return a + n + 1;
    if (a[n] != '\0') return NULL;
    if (*i + 1 >= argc) {
        fprintf(stderr, "%s needs a value\n", name);
        exit(2);
    }
    return argv[++*i];
}

bool demo_arg_int(int argc, char **argv, int *i, const char *name, long *out)
{
    const char *v = demo_arg(argc, argv, i, name);
    if (!v) return false;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end) {
        fprintf(stderr, "%s: '%s' is not a whole number\n", name, v);
        exit(2);
    }
    *out = x;
    return true;
}

bool demo_arg_double(int argc, char **argv, int *i, const char *name, double *out)
{
    const char *v = demo_arg(argc, argv, i, name);
    if (!v) return false;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end) {
        fprintf(stderr, "%s: '%s' is not a number\n", name, v);
        exit(2);
    }
    *out = x;
    return true;
}

bool demo_arg_int_in(int argc, char **argv, int *i, const char *name, long lo, long hi, long *out)
{
    if (!demo_arg_int(argc, argv, i, name, out)) return false;
    if (*out < lo || *out > hi) {
        fprintf(stderr, "%s: %ld is out of range: want %ld to %ld\n", name, *out, lo, hi);
        exit(2);
    }
    return true;
}

bool demo_arg_double_in(int argc, char **argv, int *i, const char *name, double lo, bool lo_closed, double hi,
                        double *out)
{
    if (!demo_arg_double(argc, argv, i, name, out)) return false;
    const double x = *out;
    if (!isfinite(x) || x > hi || (lo_closed ? x < lo : x <= lo)) {
        fprintf(stderr, "%s: %g is out of range: want a number in %c%g, %g]\n", name, x, lo_closed ? '[' : '(', lo,
                hi);
        exit(2);
    }
    return true;
}

void demo_parse(int argc, char **argv, const char *name, const char *about, demo_opts *o)
{
    *o = (demo_opts){.plots = true, .seed = 1};
    snprintf(o->out_buf, sizeof o->out_buf, "out/%s", name);
    o->out = o->out_buf;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if ((v = demo_arg(argc, argv, &i, "--out"))) {
            o->out = v;
        } else if (demo_arg_int(argc, argv, &i, "--seed", &o->seed)) {
        } else if (strcmp(argv[i], "--quick") == 0) {
            o->quick = true;
        } else if (strcmp(argv[i], "--no-plots") == 0) {
            o->plots = false;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("%s\n\nusage: %s [--quick] [--out DIR] [--no-plots] [--seed N]\n"
                   "pictures go to DIR (default out/%s)\n", about, name, name);
            exit(0);
        } else {
            fprintf(stderr, "%s: unknown option '%s' (try --help)\n", name, argv[i]);
            exit(2);
        }
    }
    if (o->plots && demo_mkdir(o->out) != 0) o->plots = false;
    setvbuf(stdout, NULL, _IOLBF, 0);
}

void demo_report_pictures(const char *dir, const char *const *names, int n)
{
    if (plot_count() < n) {
        printf("pictures: %d of %d could not be drawn (see the messages above)\n", n - plot_count(), n);
        return;
    }
    printf("pictures:");
    for (int i = 0; i < n; i++) printf("%s %s/%s", i ? "," : "", dir, names[i]);
    printf("\n");
}
