/* plot.h: what the demos share: pictures through gnuplot, an output folder,
 * a clock, a progress bar and a little argument parsing.
 *
 * Pictures: plot_open starts gnuplot on a pipe with its PNG terminal (cairo)
 * writing to DIR/NAME; the demo then writes ordinary gnuplot commands and
 * inline data blocks to the returned FILE * and calls plot_close.  If
 * gnuplot is missing or fails, the demo still runs and says so once: the
 * pictures are an extra, the words printed on stdout are the result.
 */
#ifndef DEMO_PLOT_H
#define DEMO_PLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* ---- output folder and pictures ---------------------------------------- */

/* Creates `dir` and its parents (like mkdir -p).  0 on success, else -1 and
 * a message on stderr. */
int demo_mkdir(const char *dir);

/* Starts gnuplot writing a width x height PNG to dir/name.  NULL (and one
 * message per process) when gnuplot cannot be started; callers skip the
 * picture then. */
FILE *plot_open(const char *dir, const char *name, int width, int height);
/* Ends gnuplot; 0 if it exited cleanly and the file exists. */
int plot_close(FILE *gp);

/* Inline data: "$name << EOD" ... "EOD".  Rows are written with fprintf. */
void plot_block_begin(FILE *gp, const char *name);
void plot_block_end(FILE *gp);

/* How many pictures plot_close has confirmed written, for the final line. */
int plot_count(void);

/* ---- training ------------------------------------------------------------ */
/* Adam (the lecture's betas and eps) over every parameter of m, at `lr`.
 * NULL (wg_last_error) on failure. */
struct wg_mlp;
struct wg_optim *demo_adam(struct wg_mlp *m, double lr);

/* ---- time -------------------------------------------------------------- */
double demo_now(void); /* seconds, monotonic */

/* ---- progress bar ------------------------------------------------------ */
/* On a terminal: one line redrawn at most 10 times a second,
 *   epoch 3/8 [=========>          ] 23040/60000  loss 0.0712  41k samples/s  0:01 left
 * Off a terminal it prints nothing: the caller prints one line per epoch. */
typedef struct demo_progress {
    bool tty;
    char label[32];
    size_t total, done;
    double t_start, t_drawn;
    double loss_sum;
    size_t loss_n;
} demo_progress;

void progress_start(demo_progress *p, const char *label, size_t total);
/* `n` more samples done, with their mean loss. */
void progress_step(demo_progress *p, size_t n, double loss);
void progress_end(demo_progress *p); /* clears the bar's line */

/* ---- arguments --------------------------------------------------------- */
/* "--name value" or "--name=value": matches argv[*i] against name and moves
 * *i past the value.  Returns the value, or NULL when argv[*i] is another
 * option.  A missing value is an error message and exit(2). */
const char *demo_arg(int argc, char **argv, int *i, const char *name);
/* The same, parsed; a bad number is an error message and exit(2). */
bool demo_arg_int(int argc, char **argv, int *i, const char *name, long *out);
bool demo_arg_double(int argc, char **argv, int *i, const char *name, double *out);
/* The same with a range: a whole number in [lo, hi]; a finite number in
 * (lo, hi] (or [lo, hi] when lo_closed).  NaN, Inf, an overflow or a value out
 * of range is an error message naming the option and the range, and exit(2). */
bool demo_arg_int_in(int argc, char **argv, int *i, const char *name, long lo, long hi, long *out);
bool demo_arg_double_in(int argc, char **argv, int *i, const char *name, double lo, bool lo_closed, double hi,
                        double *out);

/* The options every lecture demo takes:
 *   --quick       a reduced run for the tests (fewer steps, smaller data)
 *   --out DIR     folder for the pictures (default out/<demo>)
 *   --no-plots    draw nothing
 *   --seed N      the random seed (default 1)
 * `about` is printed by --help.  Creates the output folder; an unknown option
 * is an error message and exit(2). */
typedef struct demo_opts {
    bool quick, plots;
    const char *out;
    long seed;
    char out_buf[256];
} demo_opts;
void demo_parse(int argc, char **argv, const char *name, const char *about, demo_opts *o);
/* Prints "pictures: DIR/a.png, DIR/b.png" when plot_close confirmed that
 * many pictures written, else says how many failed. */
void demo_report_pictures(const char *dir, const char *const *names, int n);

#endif
