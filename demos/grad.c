/* grad: the expression calculator, a small language on top of the tape.
 *
 *   grad [--json] [--f32] [--check] [--hessian] PROGRAM name=value ...
 *   grad [options] -f FILE name=value ...          (FILE "-" is stdin)
 *   grad [--json] [--f32] --at ROWS PROGRAM name=value ...
 *
 * Records the program on a wengert tape with the named inputs as leaves, runs
 * backward once and prints the value and each input's partial derivative;
 * with --hessian also the matrix of second derivatives (wg_hessian_of on the
 * recorded program: a recorded backward, then one backward through it per
 * input).  Every number comes from the library: no derivative is written
 * here.  The language itself (grammar, rules at kinks) is in grad_lang.c.
 * With --at, the program is recorded once and evaluated at every row of
 * ROWS through wg_tape_replay (value and gradient per row, one line each).
 *
 * Exit status: 0 done, 2 a user error (one line on stderr), 1 out of memory.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grad_lang.h"
#include "wengert.h"

static const char usage[] = "usage: grad [--json] [--f32] [--check] [--hessian] PROGRAM name=value ...\n"
                            "       grad [--json] [--f32] [--check] [--hessian] -f FILE name=value ...   (FILE - is stdin)\n"
                            "       grad [--json] [--f32] --at ROWS PROGRAM name=value ...   (many points, one recording)\n";

static void help(void)
{
    printf("%s\n", usage);
    printf("PROGRAM is statements separated by ';'.  'name = expr' binds a name (rebinding is\n"
           "allowed: 'c = c + 1' reads the old c); the last statement is an expression, the\n"
           "function to differentiate with respect to the inputs given as name=value.\n"
           "'#' starts a comment to the end of the line.\n\n"
           "expr: numbers (3, 0.5, 1e-3), names, + - * /, ^ (power, right-associative and\n"
           "binding tighter than unary minus: -x^2 is -(x^2), 2^-1 is 0.5, as Python's **),\n"
           "parentheses, and these functions:\n%s\n",
           gl_function_help());
    printf("Rules at kinks and edges (those of PyTorch's autograd, except where noted):\n"
           "  max(a, b) and min(a, b): on a tie the whole gradient goes to b (wengert's rule;\n"
           "    PyTorch splits it in half), so max(x, 0) has derivative 0 at x = 0.  When a or\n"
           "    b is NaN the result is NaN and both get the gradient, as in PyTorch.\n"
           "  x^c with c a number (or anything that depends on no input) is the constant-\n"
           "    exponent op: 0^2 has derivative 0.  a^b otherwise: d/db is 0 where a = 0 and\n"
           "    b >= 0.\n"
           "  abs'(0) = 0; sqrt'(0) = Infinity; log of a negative number is NaN.\n"
           "Second derivatives (--hessian) differentiate those rules again:\n"
           "  relu, abs, leaky_relu, max and min are 0 at second order everywhere, kinks\n"
           "    included (as PyTorch); softsign''(0) = 0 (abs'(0) = 0).\n"
           "  elu''(0) = alpha: the left piece at both orders, as elu'(0) = alpha (PyTorch\n"
           "    gives 0: its double backward tests x < 0 where its backward tests x <= 0).\n"
           "  a^b: d2/da db = a^(b-1) (1 + b ln a) also at b = 0 (PyTorch gives 0 there,\n"
           "    differentiating its zero rule).  sigmoid, softplus and silu keep their\n"
           "    relative precision in the tails (PyTorch's sigmoid'' and silu'' are 1e-3 off\n"
           "    at x = 30, its softplus'' is 0 above x = 20).\n"
           "  Where a NaN or an infinity flows through the backward pass, entries that\n"
           "    PyTorch gives as 0 can be NaN here, and the other way round.\n\n"
           "Options:\n"
           "  --json   one JSON object: {\"value\": v, \"grad\": {\"x1\": g1, ...}}, numbers with 17\n"
           "           significant digits, Infinity, -Infinity and NaN as such, inputs in order\n"
           "  --check  also the central finite difference (f(x+h) - f(x-h)) / 2h per input,\n"
           "           in f64 with h = cbrt(2^-52) * max(|x|, 1); with --json as an extra\n"
           "           \"check\" object {\"method\": ..., \"h\": {...}, \"fd\": {...}}\n"
           "  --hessian  also the Hessian, every input's second partials: with --json a\n"
           "           \"hessian\" object {\"x1\": {\"x1\": h11, \"x2\": h12}, ...}, rows and columns\n"
           "           in input order; else a matrix.  With --check also its central\n"
           "           differences, column b from the gradient at x +- h along b (\"hessian_fd\")\n"
           "  --f32    evaluate in single precision\n"
           "  -f FILE  read PROGRAM from FILE (- for stdin)\n"
           "  --at ROWS  evaluate at many points: ROWS (a file, - for stdin) holds one point a\n"
           "           line, the inputs' values in the order the name=value inputs were given,\n"
           "           separated by spaces or commas ('#' starts a comment).  The program is\n"
           "           recorded once, at the name=value point, and replayed at each row\n"
           "           (wg_tape_replay): one line of output per row, with --json one object\n"
           "           per line.  max, min, abs and relu decide again at each row; a row whose\n"
           "           value or gradient is NaN is recorded afresh (a NaN in max or min takes\n"
           "           the language's other rule).  Not with --check or --hessian\n"
           "  --       what follows is PROGRAM and inputs, even if it starts with '-'\n\n"
           "Exit status: 0 done; 2 a user error (syntax, with the column; unknown function;\n"
           "wrong number of arguments; missing input; a name used before the statement that\n"
           "binds it; an input given twice or not name=value; no or empty program), with one\n"
           "line on stderr; 1 out of memory.\n");
}

/* A JSON number: %.17g, or Infinity, -Infinity, NaN. */
static void put_json(double v)
{
    if (isnan(v))
        fputs("NaN", stdout);
    else if (isinf(v))
        fputs(v > 0 ? "Infinity" : "-Infinity", stdout);
    else
        printf("%.17g", v);
}

/* The shortest %g (15 to 17 digits) that reads back as v, for the text
 * output, in buf (40 bytes); Infinity, -Infinity, NaN as in JSON. */
static const char *text_of(double v, char *buf, size_t len)
{
    if (isnan(v)) return "NaN";
    if (isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, len, "%.*g", digits, v);
        if (strtod(buf, NULL) == v) break;
    }
    return buf;
}

static void put_text(double v)
{
    char buf[40];
    fputs(text_of(v, buf, sizeof buf), stdout);
}

/* The longest program read with -f: 64 MiB (the lecture's programs are a
 * few hundred bytes; the 20,000-statement test program is 400 KB). */
enum { GRAD_MAX_INPUT = 64 << 20 };

/* Reads all of FILE ("-" = stdin) into a buffer, at most GRAD_MAX_INPUT
 * bytes; NULL with errno on failure (EFBIG: longer). */
static char *read_all(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    int e = buf ? 0 : ENOMEM;
    while (!e) {
        n += fread(buf + n, 1, cap - n, f);
        if (ferror(f)) {
            e = errno ? errno : EIO;
        } else if (n == cap && cap >= GRAD_MAX_INPUT) {
            e = EFBIG; /* /dev/zero or a runaway pipe: stop, do not grow until realloc fails */
        } else if (n == cap) {
            char *q = cap < SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
            if (q) {
                buf = q;
                cap *= 2;
            } else {
                e = ENOMEM;
            }
        } else {
            break; /* end of file */
        }
    }
    if (f != stdin) fclose(f);
    if (e) {
        free(buf);
        errno = e;
        return NULL;
    }
    *len = n;
    return buf;
}

/* f(values) in f64 on a reset tape; NaN if it fails (it did not the first time). */
static double value_at(const gl_program *p, wg_tape *t, const double *values, wg_tensor **leaves)
{
    char err[64];
    wg_tensor *out = NULL;
    wg_tape_reset(t);
    return gl_eval(p, t, WG_F64, values, &out, leaves, err, sizeof err) ? NAN : wg_item(out);
}

/* The gradient at values, in f64 on a reset tape, into g[0..n); NaNs if it
 * fails (it did not the first time). */
static void grad_at(const gl_program *p, wg_tape *t, const double *values, wg_tensor **leaves, size_t n, double *g)
{
    char err[64];
    wg_tensor *out = NULL;
    wg_tape_reset(t);
    bool ok = gl_eval(p, t, WG_F64, values, &out, leaves, err, sizeof err) == 0 && wg_backward(t, out) == 0;
    for (size_t i = 0; i < n; i++) g[i] = ok ? wg_grad_item(leaves[i]) : NAN;
}

/* An n x n matrix m (row-major) as JSON: {"a": {"a": m00, "b": m01}, ...}. */
/* {"x1": v[0], "x2": v[1], ...}: one value per input, by name. */
static void put_json_by_input(const gl_program *p, size_t n, const double *v)
{
    fputc('{', stdout);
    for (size_t i = 0; i < n; i++) {
        printf("%s\"%s\": ", i ? ", " : "", gl_input_name(p, i));
        put_json(v[i]);
    }
    fputc('}', stdout);
}

static void put_json_matrix(const gl_program *p, size_t n, const double *m)
{
    fputc('{', stdout);
    for (size_t i = 0; i < n; i++) {
        printf("%s\"%s\": ", i ? ", " : "", gl_input_name(p, i));
        put_json_by_input(p, n, m + i * n);
    }
    fputc('}', stdout);
}

/* An n x n matrix m as text under a title: a header row of input names,
 * then one row per input, columns right-aligned to their widest entry
 * (wcol: room for n widths). */
static void put_text_matrix(const gl_program *p, const char *title, size_t n, const double *m, int *wcol)
{
    char buf[40];
    int wrow = 0;
    printf("%s%s\n", title, n ? "" : " none (no inputs)");
    if (!n) return;
    for (size_t i = 0; i < n; i++) {
        int w = (int)strlen(gl_input_name(p, i));
        if (w > wrow) wrow = w;
    }
    for (size_t j = 0; j < n; j++) {
        wcol[j] = (int)strlen(gl_input_name(p, j));
        for (size_t i = 0; i < n; i++) {
            int w = (int)strlen(text_of(m[i * n + j], buf, sizeof buf));
            if (w > wcol[j]) wcol[j] = w;
        }
    }
    printf("  %*s", wrow, "");
    for (size_t j = 0; j < n; j++) printf("  %*s", wcol[j], gl_input_name(p, j));
    fputc('\n', stdout);
    for (size_t i = 0; i < n; i++) {
        printf("  %*s", wrow, gl_input_name(p, i));
        for (size_t j = 0; j < n; j++) printf("  %*s", wcol[j], text_of(m[i * n + j], buf, sizeof buf));
        fputc('\n', stdout);
    }
}

/* One result line of --at: {"value": v, "grad": {...}} with --json, else
 * "value = v  d/dx = g ...". */
static void put_row(const gl_program *p, size_t n, double v, const double *g, bool json)
{
    if (json) {
        fputs("{\"value\": ", stdout);
        put_json(v);
        fputs(", \"grad\": ", stdout);
        put_json_by_input(p, n, g);
        fputs("}\n", stdout);
        return;
    }
    fputs("value = ", stdout);
    put_text(v);
    for (size_t i = 0; i < n; i++) {
        printf("  d/d%s = ", gl_input_name(p, i));
        put_text(g[i]);
    }
    fputc('\n', stdout);
}

/* --at: the program recorded on t (output out, the inputs' leaves) is
 * replayed at each row of the file `path`.  The language decides from values
 * in one place only: max and min of a NaN take the add rule (see the top of
 * grad_lang.c), and a NaN there makes the value NaN; so a row whose value or
 * gradient comes out NaN, or every row when the recording itself took that
 * rule (base_nan), is recorded afresh instead.  Returns the exit status. */
static int at_rows(const gl_program *p, wg_tape *t, wg_tensor *out, wg_tensor **leaves, size_t n, const char *path,
                   bool json, wg_dtype dt, bool base_nan)
{
    const char *name = strcmp(path, "-") ? path : "stdin";
    size_t len = 0;
    char *buf = read_all(path, &len), err[1024];
    if (!buf) {
        fprintf(stderr, "grad: cannot read %s: %s\n", name, strerror(errno));
        return errno == ENOMEM ? 1 : 2;
    }
    buf[len] = 0; /* read_all's buffer always has room after the data */
    double *row = calloc(n + 1, sizeof *row), *g = calloc(n + 1, sizeof *g);
    wg_tensor **lv = calloc(n + 1, sizeof *lv);
    wg_tape *fresh = wg_tape_new();
    int status = 0;
    if (!row || !g || !lv || !fresh) {
        fprintf(stderr, "grad: out of memory\n");
        status = 1;
    }
    size_t lineno = 0;
    for (char *line = buf; !status && line < buf + len; lineno++) {
        char *end = memchr(line, '\n', (size_t)(buf + len - line));
        if (!end) end = buf + len;
        char *hash = memchr(line, '#', (size_t)(end - line));
        char *stop = hash ? hash : end, *q = line;
        size_t k = 0;
        bool bad = false;
        for (;;) {
            while (q < stop && (*q == ' ' || *q == '\t' || *q == ',' || *q == '\r')) q++;
            if (q >= stop) break;
            char *e;
            double v = strtod(q, &e);
            if (e == q || e > stop || (e < stop && !strchr(" \t,\r", *e))) {
                bad = true;
                break;
            }
            if (k < n) row[k] = v;
            k++;
            q = e;
        }
        line = end + 1;
        if (!bad && k == 0) continue; /* a blank or comment line */
        if (bad || k != n) {
            fprintf(stderr, "grad: %s:%zu: expected %zu number%s (the values of", name, lineno + 1, n, n == 1 ? "" : "s");
            for (size_t i = 0; i < n; i++) fprintf(stderr, " %s", gl_input_name(p, i));
            if (bad)
                fprintf(stderr, "), not '%.*s'\n", (int)(stop - q < 20 ? stop - q : 20), q);
            else
                fprintf(stderr, "), got %zu\n", k);
            status = 2;
            break;
        }
        for (size_t i = 0; i < n; i++) wg_leaf_set(leaves[i], 0, row[i]);
        if (wg_tape_replay(t) != 0 || wg_backward(t, out) != 0) {
            fprintf(stderr, "grad: replay failed at %s:%zu: %s\n", name, lineno + 1, wg_tape_error(t));
            status = wg_tape_status(t) == WG_ERR_NOMEM ? 1 : 2;
            break;
        }
        double v = wg_item(out);
        bool nan = base_nan || isnan(v);
        for (size_t i = 0; i < n; i++) nan |= isnan(g[i] = wg_grad_item(leaves[i]));
        if (nan) {
            wg_tensor *o = NULL;
            wg_tape_reset(fresh);
            int rc = gl_eval(p, fresh, dt, row, &o, lv, err, sizeof err);
            if (rc || wg_backward(fresh, o) != 0) {
                fprintf(stderr, "grad: %s:%zu: %s\n", name, lineno + 1, rc ? err : wg_tape_error(fresh));
                status = rc ? rc : 2;
                break;
            }
            v = wg_item(o);
            for (size_t i = 0; i < n; i++) g[i] = wg_grad_item(lv[i]);
        }
        put_row(p, n, v, g, json);
    }
    wg_tape_free(fresh);
    free(lv);
    free(row);
    free(g);
    free(buf);
    if (!status && fflush(stdout) != 0) status = 1;
    return status;
}

int main(int argc, char **argv)
{
    bool json = false, f32 = false, check = false, hessian = false, opts_done = false;
    const char *file = NULL, *program = NULL, *at = NULL;
    char err[1024];
    int status = 2;
    gl_program *p = gl_new();
    char *src = NULL;
    size_t src_len = 0;
    wg_tape *t = NULL;
    wg_tensor **leaves = NULL;
    double *values = NULL, *grads = NULL, *fd = NULL, *hs = NULL, *H = NULL, *Hfd = NULL, *gp = NULL, *gm = NULL;
    int *wcol = NULL;
    wg_tensor *out = NULL;
    int rc = GL_OK, n_pos = 0, first_input;
    size_t n = 0;
    double value;
    if (!p) goto nomem;

    /* Options anywhere before "--"; the first other argument is PROGRAM
     * (unless -f gave it), the rest are inputs. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!opts_done && strcmp(a, "--") == 0) {
            opts_done = true;
        } else if (!opts_done && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            help();
            gl_free(p);
            return 0;
        } else if (!opts_done && strcmp(a, "--json") == 0) {
            json = true;
        } else if (!opts_done && strcmp(a, "--f32") == 0) {
            f32 = true;
        } else if (!opts_done && strcmp(a, "--check") == 0) {
            check = true;
        } else if (!opts_done && strcmp(a, "--hessian") == 0) {
            hessian = true;
        } else if (!opts_done && strcmp(a, "-f") == 0) {
            if (file) {
                fprintf(stderr, "grad: -f given twice\n");
                goto out;
            }
            if (i + 1 >= argc) {
                fprintf(stderr, "grad: -f needs a FILE (- for stdin)\n");
                goto out;
            }
            file = argv[++i];
        } else if (!opts_done && strcmp(a, "--at") == 0) {
            if (at || i + 1 >= argc) {
                fprintf(stderr, at ? "grad: --at given twice\n" : "grad: --at needs a file of ROWS (- for stdin)\n");
                goto out;
            }
            at = argv[++i];
        } else if (!opts_done && a[0] == '-' && a[1] == '-' && a[2]) {
            fprintf(stderr, "grad: unknown option '%.40s' (a PROGRAM starting with -- goes after a lone --)\n", a);
            goto out;
        } else if (!program && !file && n_pos == 0) {
            program = a;
            n_pos++;
        } else {
            argv[n_pos++] = (char *)a; /* inputs, compacted in place */
        }
    }
    if (!program && !file) {
        fprintf(stderr, "grad: wrong number of arguments: no PROGRAM given (grad [--json] [--f32] [--check] "
                        "[--hessian] PROGRAM name=value ..., or -f FILE; grad --help tells more)\n");
        goto out;
    }
    if (at && (check || hessian)) {
        fprintf(stderr, "grad: --at cannot be combined with --%s\n", check ? "check" : "hessian");
        goto out;
    }
    if (at && file && strcmp(at, "-") == 0 && strcmp(file, "-") == 0) {
        fprintf(stderr, "grad: -f - and --at - cannot both read stdin\n");
        goto out;
    }
    first_input = program ? 1 : 0;
    if (program) {
        src = NULL;
        src_len = strlen(program);
    } else {
        src = read_all(file, &src_len);
        if (!src) {
            fprintf(stderr, "grad: cannot read %s: %s\n", strcmp(file, "-") ? file : "stdin", strerror(errno));
            goto out;
        }
    }
    for (int i = first_input; i < n_pos && !rc; i++) rc = gl_add_input(p, argv[i], i - first_input + 1, err, sizeof err);
    if (!rc) rc = gl_parse(p, program ? program : src, src_len, err, sizeof err);
    n = gl_n_inputs(p);
    if (!rc) {
        t = wg_tape_new();
        leaves = calloc(n + 1, sizeof *leaves);
        grads = calloc(n + 1, sizeof *grads);
        if (!t || !leaves || !grads) goto nomem;
    }
    if (!rc) rc = gl_eval(p, t, f32 ? WG_F32 : WG_F64, NULL, &out, leaves, err, sizeof err);
    if (rc) {
        fprintf(stderr, "grad: %s\n", err);
        status = rc;
        goto out;
    }
    if (wg_backward(t, out) != 0) {
        fprintf(stderr, "grad: backward failed: %s\n", wg_tape_error(t));
        status = 1;
        goto out;
    }
    value = wg_item(out);
    for (size_t i = 0; i < n; i++) grads[i] = wg_grad_item(leaves[i]);
    if (at) {
        bool base_nan = isnan(value);
        for (size_t i = 0; i < n; i++) base_nan |= isnan(grads[i]);
        status = at_rows(p, t, out, leaves, n, at, json, f32 ? WG_F32 : WG_F64, base_nan);
        goto out;
    }
    if (hessian) {
        /* n x n doubles (here and for --check's hessian_fd): n * n + 1 must
         * not wrap before calloc sees it */
        if (n && n > (SIZE_MAX / sizeof *H - 1) / n) goto nomem;
        H = calloc(n * n + 1, sizeof *H);
        wcol = calloc(n + 1, sizeof *wcol);
        if (!H || !wcol) goto nomem;
        if (n && wg_hessian_of(t, out, (int)n, leaves, H) != 0) {
            fprintf(stderr, "grad: hessian failed: %s\n", wg_tape_error(t));
            status = wg_tape_status(t) == WG_ERR_NOMEM ? 1 : 2;
            goto out;
        }
    }

    if (check) {
        values = calloc(n + 1, sizeof *values);
        fd = calloc(n + 1, sizeof *fd);
        hs = calloc(n + 1, sizeof *hs);
        if (!values || !fd || !hs) goto nomem;
        for (size_t i = 0; i < n; i++) values[i] = gl_input_value(p, i);
        for (size_t i = 0; i < n; i++) {
            double x = values[i], h = cbrt(DBL_EPSILON) * fmax(fabs(x), 1);
            double xp = x + h, xm = x - h;
            values[i] = xp;
            double fp = value_at(p, t, values, leaves);
            values[i] = xm;
            double fm = value_at(p, t, values, leaves);
            values[i] = x;
            hs[i] = h;
            fd[i] = (fp - fm) / (xp - xm);
        }
        if (hessian) {
            /* column j of the Hessian: the central difference of the
             * gradient along input j, with the same h as above */
            Hfd = calloc(n * n + 1, sizeof *Hfd);
            gp = calloc(n + 1, sizeof *gp);
            gm = calloc(n + 1, sizeof *gm);
            if (!Hfd || !gp || !gm) goto nomem;
            for (size_t j = 0; j < n; j++) {
                double x = values[j], xp = x + hs[j], xm = x - hs[j];
                values[j] = xp;
                grad_at(p, t, values, leaves, n, gp);
                values[j] = xm;
                grad_at(p, t, values, leaves, n, gm);
                values[j] = x;
                for (size_t i = 0; i < n; i++) Hfd[i * n + j] = (gp[i] - gm[i]) / (xp - xm);
            }
        }
    }

    if (json) {
        fputs("{\"value\": ", stdout);
        put_json(value);
        fputs(", \"grad\": ", stdout);
        put_json_by_input(p, n, grads);
        if (hessian) {
            fputs(", \"hessian\": ", stdout);
            put_json_matrix(p, n, H);
        }
        if (check) {
            fputs(", \"check\": {\"method\": \"central difference (f(x+h) - f(x-h)) / 2h in f64, "
                  "h = cbrt(2^-52) * max(|x|, 1)",
                  stdout);
            if (hessian) fputs("; hessian_fd[a][b]: the same of d/da along b", stdout);
            fputs("\", \"h\": ", stdout);
            put_json_by_input(p, n, hs);
            fputs(", \"fd\": ", stdout);
            put_json_by_input(p, n, fd);
            if (hessian) {
                fputs(", \"hessian_fd\": ", stdout);
                put_json_matrix(p, n, Hfd);
            }
            fputs("}", stdout);
        }
        fputs("}\n", stdout);
    } else {
        fputs("value = ", stdout);
        put_text(value);
        fputc('\n', stdout);
        for (size_t i = 0; i < n; i++) {
            printf("d/d%s = ", gl_input_name(p, i));
            put_text(grads[i]);
            if (check) {
                fputs("    central difference: ", stdout);
                put_text(fd[i]);
            }
            fputc('\n', stdout);
        }
        if (hessian) {
            put_text_matrix(p, "hessian (row a, column b: d2/da db):", n, H, wcol);
            if (check) put_text_matrix(p, "central differences of the gradient (row a, column b: of d/da along b):", n, Hfd, wcol);
        }
    }
    status = fflush(stdout) == 0 ? 0 : 1;
    goto out;
nomem:
    fprintf(stderr, "grad: out of memory\n");
    status = 1;
out:
    wg_tape_free(t);
    gl_free(p);
    free(src);
    free(leaves);
    free(grads);
    free(values);
    free(fd);
    free(hs);
    free(H);
    free(Hfd);
    free(gp);
    free(gm);
    free(wcol);
    return status;
}
