/* test_calc: demos/grad end to end.  argv[1] is the grad binary.
 *
 * Runs it as a child process and checks its stdout (JSON read with cJSON,
 * which has no NaN or Infinity: those are checked in the text), its stderr
 * and its exit status: the lecture's example, precedence and associativity
 * against values worked out by hand below, rebinding, the kink rules, every
 * error class with its message, and hostile programs (60,000 deep, 20,000
 * terms, huge numbers and names, NUL bytes, garbage) that must be evaluated
 * or rejected, never crash.
 */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdbool.h>
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wg_test.h"

static const char *grad_bin;
static char tmpdir[] = "/tmp/test_calc_XXXXXX";

typedef struct {
    int status; /* exit status, or 128 + signal */
    char *out, *err;
} result;

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return strdup("");
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t k;
    while (buf && (k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) buf = realloc(buf, (cap *= 2) + 1);
    }
    fclose(f);
    if (buf) buf[n] = 0;
    return buf;
}

static void result_free(result *r)
{
    free(r->out);
    free(r->err);
}

/* Runs grad with args (NULL-terminated), stdin from `in` (NULL: /dev/null). */
static result run_v(const char *in, const char *const *args)
{
    char out_path[64], err_path[64];
    snprintf(out_path, sizeof out_path, "%s/out", tmpdir);
    snprintf(err_path, sizeof err_path, "%s/err", tmpdir);
    result r = {-1, NULL, NULL};
    pid_t pid = fork();
    if (pid == 0) {
        int fi = open(in ? in : "/dev/null", O_RDONLY);
        int fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fi < 0 || fo < 0 || fe < 0) _exit(126);
        dup2(fi, 0);
        dup2(fo, 1);
        dup2(fe, 2);
        const char *argv[64] = {grad_bin};
        int n = 1;
        while (args[n - 1] && n < 63) argv[n] = args[n - 1], n++;
        argv[n] = NULL;
        execv(grad_bin, (char *const *)argv);
        _exit(127);
    }
    int ws = 0;
    if (pid > 0 && waitpid(pid, &ws, 0) == pid)
        r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    r.out = slurp(out_path);
    r.err = slurp(err_path);
    return r;
}

#define RUN(...) run_v(NULL, (const char *const[]){__VA_ARGS__, NULL})

/* Writes text (len bytes) to a file in tmpdir; returns its path (static). */
static const char *file_with(const char *text, size_t len)
{
    static char path[64];
    snprintf(path, sizeof path, "%s/prog", tmpdir);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(text, 1, len, f);
        fclose(f);
    }
    return path;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* ---- JSON ---------------------------------------------------------------- */

/* Parses r's stdout: exactly one object with "value" and "grad" (and
 * want_check more members: "check", "hessian"), grad's keys in the order
 * given (NULL-terminated). */
static cJSON *parse_result(const result *r, const char *const *keys, int want_check)
{
    CHECK(r->status == 0, "exit %d, stderr: %s", r->status, r->err);
    CHECK(count_lines(r->out) == 1, "stdout is not one line: %s", r->out);
    cJSON *j = cJSON_Parse(r->out);
    CHECK(j != NULL, "not JSON: %s", r->out);
    if (!j) return NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "value");
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(j, "grad");
    CHECK(cJSON_IsNumber(v) && cJSON_IsObject(g), "no value or grad in %s", r->out);
    CHECK(cJSON_GetArraySize(j) == 2 + want_check, "unexpected members in %s", r->out);
    CHECK(j->child && strcmp(j->child->string, "value") == 0, "value is not first: %s", r->out);
    const cJSON *k = g ? g->child : NULL;
    for (int i = 0; keys[i]; i++, k = k ? k->next : NULL)
        CHECK(k && strcmp(k->string, keys[i]) == 0, "grad key %d is not %s: %s", i, keys[i], r->out);
    CHECK(k == NULL, "extra grad keys in %s", r->out);
    return j;
}

static double jnum(const cJSON *j, const char *obj, const char *key)
{
    const cJSON *o = obj ? cJSON_GetObjectItemCaseSensitive(j, obj) : j;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* grad --json PROGRAM args... must give value and, for each input in order,
 * its derivative, each within tol (relative to max(1, |want|)). */
/* The input names of "x1=1 x2=3" (at most 8), NULL-terminated in keys. */
typedef struct {
    char buf[8][32];
    const char *keys[9];
    int n;
} input_names;

/* Runs grad with the options opts[0..n_opts), then -- PROGRAM and the inputs
 * ("x1=1 x2=3"), and names the inputs in *in. */
static result run_inputs(const char *const *opts, int n_opts, const char *program, const char *inputs,
                         input_names *in)
{
    char buf[512], *args[20];
    int n_args = 0;
    for (int i = 0; i < n_opts; i++) args[n_args++] = (char *)opts[i];
    args[n_args++] = "--";
    args[n_args++] = (char *)program;
    snprintf(buf, sizeof buf, "%s", inputs);
    in->n = 0;
    for (char *tok = strtok(buf, " "); tok && in->n < 8; tok = strtok(NULL, " ")) {
        args[n_args++] = tok;
        snprintf(in->buf[in->n], sizeof in->buf[in->n], "%.*s", (int)strcspn(tok, "="), tok);
        in->keys[in->n] = in->buf[in->n];
        in->n++;
    }
    args[n_args] = NULL;
    in->keys[in->n] = NULL;
    return run_v(NULL, (const char *const *)args);
}

static void expect(const char *program, const char *inputs, double value, const double *grads, double tol)
{
    input_names in;
    result r = run_inputs((const char *[]){"--json"}, 1, program, inputs, &in);
    const char *const *keys = in.keys;
    const int n = in.n;
    cJSON *j = parse_result(&r, keys, 0);
    if (j) {
        double got = jnum(j, NULL, "value");
        CHECK(fabs(got - value) <= tol * fmax(1, fabs(value)), "%s: value %.17g, want %.17g", program, got, value);
        for (int i = 0; i < n; i++) {
            double g = jnum(j, "grad", keys[i]);
            CHECK(fabs(g - grads[i]) <= tol * fmax(1, fabs(grads[i])), "%s: d/d%s = %.17g, want %.17g", program,
                  keys[i], g, grads[i]);
        }
    }
    cJSON_Delete(j);
    result_free(&r);
}

#define G(...) ((const double[]){__VA_ARGS__})

/* grad --json --hessian PROGRAM inputs: "hessian" must be an object of the
 * inputs in order, each an object of the inputs in order, and entry (i, j)
 * within tol of H[i*n + j] (relative to max(1e-300, |want|): tol 0 is exact). */
static void expect_hessian(const char *program, const char *inputs, const double *H, double tol)
{
    input_names in;
    result r = run_inputs((const char *[]){"--json", "--hessian"}, 2, program, inputs, &in);
    const char *const *keys = in.keys;
    const int n = in.n;
    cJSON *j = parse_result(&r, keys, 1);
    const cJSON *h = j ? cJSON_GetObjectItemCaseSensitive(j, "hessian") : NULL;
    CHECK(cJSON_IsObject(h) && j->child->next->next == h, "no \"hessian\" after \"grad\" in %s", r.out);
    const cJSON *row = h ? h->child : NULL;
    for (int a = 0; a < n; a++, row = row ? row->next : NULL) {
        CHECK(row && strcmp(row->string, keys[a]) == 0 && cJSON_IsObject(row), "%s: hessian row %d is not %s: %s",
              program, a, keys[a], r.out);
        const cJSON *e = row ? row->child : NULL;
        for (int b = 0; b < n; b++, e = e ? e->next : NULL) {
            CHECK(e && strcmp(e->string, keys[b]) == 0 && cJSON_IsNumber(e), "%s: hessian[%s] column %d is not %s",
                  program, keys[a], b, keys[b]);
            double got = e ? e->valuedouble : NAN, want = H[a * n + b];
            CHECK(fabs(got - want) <= tol * fmax(1e-300, fabs(want)), "%s: d2/d%s d%s = %.17g, want %.17g", program,
                  keys[a], keys[b], got, want);
        }
        CHECK(e == NULL, "%s: extra columns in hessian row %s", program, keys[a]);
    }
    CHECK(row == NULL, "%s: extra hessian rows in %s", program, r.out);
    cJSON_Delete(j);
    result_free(&r);
}

/* ---- errors -------------------------------------------------------------- */

/* Exit status 2, nothing on stdout, exactly `want` plus a newline on stderr. */
static void expect_error_r(result r, const char *want)
{
    char line[2048];
    snprintf(line, sizeof line, "%s\n", want);
    CHECK(r.status == 2, "exit %d for \"%s\"", r.status, want);
    CHECK_STR(r.err, line);
    CHECK(r.out[0] == 0, "stdout not empty: %s", r.out);
    result_free(&r);
}

#define EXPECT_ERROR(want, ...) expect_error_r(RUN(__VA_ARGS__), want)

/* Exit status 2 with one line on stderr starting with `prefix`. */
static void expect_error_prefix(result r, const char *prefix)
{
    CHECK(r.status == 2, "exit %d, want 2 (%s)", r.status, prefix);
    CHECK(strncmp(r.err, prefix, strlen(prefix)) == 0, "stderr \"%.200s\" does not start with \"%s\"", r.err, prefix);
    CHECK(count_lines(r.err) == 1, "stderr is not one line: %.300s", r.err);
    result_free(&r);
}

/* ---- the tests ----------------------------------------------------------- */

static void test_lecture_example(void)
{
    result r = RUN("--json", "(2*x1+3*x2)^2+3", "x1=1", "x2=3");
    cJSON *j = parse_result(&r, (const char *[]){"x1", "x2", NULL}, 0);
    CHECK(jnum(j, NULL, "value") == 124, "value %g", jnum(j, NULL, "value"));
    CHECK(jnum(j, "grad", "x1") == 44, "d/dx1 %g", jnum(j, "grad", "x1"));
    CHECK(jnum(j, "grad", "x2") == 66, "d/dx2 %g", jnum(j, "grad", "x2"));
    cJSON_Delete(j);
    result_free(&r);

    /* grad keys follow the command line, not the program */
    result r2 = RUN("--json", "(2*x1+3*x2)^2+3", "x2=3", "x1=1");
    j = parse_result(&r2, (const char *[]){"x2", "x1", NULL}, 0);
    cJSON_Delete(j);
    result_free(&r2);

    /* text output */
    result r3 = RUN("(2*x1+3*x2)^2+3", "x1=1", "x2=3");
    CHECK_STR(r3.out, "value = 124\nd/dx1 = 44\nd/dx2 = 66\n");
    CHECK(r3.status == 0 && r3.err[0] == 0, "exit %d, stderr %s", r3.status, r3.err);
    result_free(&r3);

    /* --check: the central differences sit next to the exact 44 and 66, in an
     * extra "check" object; value and grad are unchanged */
    result r4 = RUN("--json", "--check", "(2*x1+3*x2)^2+3", "x1=1", "x2=3");
    j = parse_result(&r4, (const char *[]){"x1", "x2", NULL}, 1);
    CHECK(jnum(j, NULL, "value") == 124 && jnum(j, "grad", "x1") == 44, "%s", r4.out);
    CHECK_NEAR(jnum(cJSON_GetObjectItemCaseSensitive(j, "check"), "fd", "x1"), 44, 1e-6);
    CHECK_NEAR(jnum(cJSON_GetObjectItemCaseSensitive(j, "check"), "fd", "x2"), 66, 1e-6);
    CHECK_NEAR(jnum(cJSON_GetObjectItemCaseSensitive(j, "check"), "h", "x2"), cbrt(DBL_EPSILON) * 3, 1e-20);
    CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "check"), "method")),
          "no method in %s", r4.out);
    cJSON_Delete(j);
    result_free(&r4);

    /* the same program from a file and from stdin, over two lines */
    const char *text = "a = 2*x1 + 3*x2;  # the inner sum\n(a)^2 + 3\n";
    const char *path = file_with(text, strlen(text));
    result r5 = RUN("--json", "-f", path, "x1=1", "x2=3");
    j = parse_result(&r5, (const char *[]){"x1", "x2", NULL}, 0);
    CHECK(jnum(j, "grad", "x2") == 66, "%s", r5.out);
    cJSON_Delete(j);
    result_free(&r5);
    result r6 = run_v(path, (const char *const[]){"--json", "-f", "-", "x1=1", "x2=3", NULL});
    j = parse_result(&r6, (const char *[]){"x1", "x2", NULL}, 0);
    CHECK(jnum(j, "grad", "x1") == 44, "%s", r6.out);
    cJSON_Delete(j);
    result_free(&r6);
}

static void test_precedence(void)
{
    const double l2 = log(2.0);
    /* -x^2 is -(x^2): -9 and -6 at 3 ((-x)^2 would be +9) */
    expect("-x^2", "x=3", -9, G(-6), 0);
    /* ^ is right-associative: 2^3^2 = 2^9 = 512, not 8^2 = 64 */
    expect("2^3^2", "x=0", 512, G(0), 0);
    /* a^b^c at (2, 1, 3) = 2^(1^3) = 2; (a^b)^c would be 8.
     * d/da = b^c a^(b^c - 1) = 1, d/db = a^(b^c) ln a c b^(c-1) = 6 ln 2,
     * d/dc = a^(b^c) ln a b^c ln b = 0 */
    expect("a^b^c", "a=2 b=1 c=3", 2, G(1, 6 * l2, 0), 1e-15);
    /* the exponent may carry a unary minus: 2^-1 = 0.5; 2^-x^2 = 2^(-(x^2))
     * = 1/2 at x = 1, derivative -2x ln 2 / 2 = -ln 2 */
    expect("2^-1", "x=0", 0.5, G(0), 0);
    expect("2^-x^2", "x=1", 0.5, G(-l2), 1e-15);
    /* left-associative - and /: (1-2)-3 = -4, (8/2)/2 = 2 */
    expect("1-2-3", "x=0", -4, G(0), 0);
    expect("8/2/2", "x=0", 2, G(0), 0);
    /* * before +, parentheses first: 2*3+4*5 = 26, (2+3)*4 = 20, 2+3*4^2 = 50 */
    expect("2*3+4*5", "x=0", 26, G(0), 0);
    expect("(2+3)*4", "x=0", 20, G(0), 0);
    expect("2+3*4^2", "x=0", 50, G(0), 0);
    expect("-2^2", "x=0", -4, G(0), 0);
    expect("(-2)^2", "x=0", 4, G(0), 0);
    /* unary minus after an operator, twice, and unary plus */
    expect("x*-y", "x=2 y=3", -6, G(-3, -2), 0);
    expect("x - -y", "x=2 y=3", 5, G(1, 1), 0);
    expect("--x + +x", "x=2", 4, G(2), 0);
    /* (x/y)/z: 1/(y z), -x/(y^2 z), -x/(y z^2) at (12, 2, 3) */
    expect("x/y/z", "x=12 y=2 z=3", 2, G(1.0 / 6, -1, -2.0 / 3), 1e-15);
    /* numbers in every spelling: 0.5 + 1e-3 + .25 + 3. + 2E2 */
    expect("0.5 + 1e-3 + .25 + 3. + 2E2 + x", "x=0", 203.751, G(1), 1e-15);
    /* calls: exp(log(x)) = x, sqrt(x)' = 1/(2 sqrt x), pow(x, y) */
    expect("exp(log(x))", "x=2.5", 2.5, G(1), 1e-15);
    expect("sqrt(x)", "x=4", 2, G(0.25), 0);
    expect("pow(x, y)", "x=2 y=3", 8, G(12, 8 * l2), 1e-15);
    expect("max(x, y) + min(x, y)", "x=2 y=3", 5, G(1, 1), 0);
    /* an input not used by the program has derivative 0 */
    expect("x*x", "x=3 unused=1", 9, G(6, 0), 0);
    /* whitespace and comments anywhere */
    expect(" x\t*\n2 # times two", "x=3", 6, G(2), 0);
}

static void test_rebinding(void)
{
    /* c = x; c = c + 1 uses the old c; c*c = (x+1)^2: 9 and 6 at 2 */
    expect("c = x; c = c + 1; c*c", "x=2", 9, G(6), 0);
    /* rebinding an input: y was recorded with the old x; the new x is 3, a
     * constant, so d/dx = 2x = 4 from y alone; value 4 + 3 */
    expect("y = x*x; x = 3; y + x", "x=2", 7, G(4), 0);
    /* a name bound to numbers only is a constant exponent */
    expect("k = 2; x^k", "x=3", 9, G(6), 0);
    /* empty statements and a trailing ; are skipped */
    expect(";; a = x ;; a + 1 ;", "x=1", 2, G(1), 0);
}

static void test_kinks(void)
{
    /* the library's tie rule: the gradient goes to the second argument */
    expect("max(x, 0)", "x=0", 0, G(0), 0);
    expect("max(0, x)", "x=0", 0, G(1), 0);
    expect("min(x, 0)", "x=0", 0, G(0), 0);
    expect("min(x, y)", "x=1 y=1", 1, G(0, 1), 0);
    /* abs'(0) = 0; 0^2 with a literal exponent has derivative 0; pow(x, y) at
     * x = 0, y = 2: d/dx = 0 and d/dy = 0 (PyTorch's zero rule) */
    expect("abs(x)", "x=0", 0, G(0), 0);
    expect("x^2", "x=0", 0, G(0), 0);
    expect("pow(x, y)", "x=0 y=2", 0, G(0, 0), 0);
    expect("x^0", "x=5", 1, G(0), 0);
    /* non-finite results print as JavaScript does */
    result r = RUN("--json", "sqrt(x)", "x=0");
    CHECK_STR(r.out, "{\"value\": 0, \"grad\": {\"x\": Infinity}}\n");
    result_free(&r);
    r = RUN("--json", "log(x)*y", "x=-1", "y=2");
    CHECK_STR(r.out, "{\"value\": NaN, \"grad\": {\"x\": -2, \"y\": NaN}}\n");
    result_free(&r);
    r = RUN("--json", "-exp(x)", "x=1000");
    CHECK_STR(r.out, "{\"value\": -Infinity, \"grad\": {\"x\": -Infinity}}\n");
    result_free(&r);
    /* a NaN argument of max: NaN, and both arguments get the gradient (torch) */
    r = RUN("--json", "max(log(x), y)", "x=-1", "y=1");
    CHECK_STR(r.out, "{\"value\": NaN, \"grad\": {\"x\": -1, \"y\": 1}}\n");
    result_free(&r);
    r = RUN("sqrt(x)", "x=0");
    CHECK_STR(r.out, "value = 0\nd/dx = Infinity\n");
    result_free(&r);
}

/* sigmoid, its first and second derivatives at x from e = e^-|x| (exact in
 * both tails): s = 1/(1+e) for x >= 0; s' = e/(1+e)^2; s'' = s'(1 - 2s). */
static void sigmoid3(double x, double *s, double *d1, double *d2)
{
    double e = exp(-fabs(x)), q = 1 + e;
    *s = x >= 0 ? 1 / q : e / q;
    *d1 = e / (q * q);
    *d2 = *d1 * (x >= 0 ? (e - 1) / q : (1 - e) / q); /* 1 - 2s without cancellation */
}

static void test_hessian(void)
{
    /* the lecture's example: exactly 8, 12, 12, 18, printed as the issue asks */
    result r = RUN("--json", "--hessian", "(2*x1+3*x2)^2+3", "x1=1", "x2=3");
    CHECK_STR(r.out, "{\"value\": 124, \"grad\": {\"x1\": 44, \"x2\": 66}, \"hessian\": {\"x1\": {\"x1\": 8, \"x2\": 12}, "
                     "\"x2\": {\"x1\": 12, \"x2\": 18}}}\n");
    CHECK(r.status == 0 && r.err[0] == 0, "exit %d, stderr %s", r.status, r.err);
    result_free(&r);
    expect_hessian("(2*x1+3*x2)^2+3", "x2=3 x1=1", G(18, 12, 12, 8), 0); /* rows follow the command line */
    /* text: a matrix under the gradient */
    r = RUN("--hessian", "(2*x1+3*x2)^2+3", "x1=1", "x2=3");
    CHECK_STR(r.out, "value = 124\nd/dx1 = 44\nd/dx2 = 66\nhessian (row a, column b: d2/da db):\n"
                     "      x1  x2\n  x1   8  12\n  x2  12  18\n");
    result_free(&r);
    /* --check: central differences of the gradient next to it, in "check" */
    r = RUN("--json", "--hessian", "--check", "(2*x1+3*x2)^2+3", "x1=1", "x2=3");
    cJSON *j = parse_result(&r, (const char *[]){"x1", "x2", NULL}, 2);
    const cJSON *fd = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "check"), "hessian_fd");
    CHECK(cJSON_IsObject(fd), "no check.hessian_fd in %s", r.out);
    const double want[2][2] = {{8, 12}, {12, 18}};
    const char *nm[2] = {"x1", "x2"};
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++) CHECK_NEAR(jnum(cJSON_GetObjectItemCaseSensitive(fd, nm[a]), NULL, nm[b]), want[a][b], 1e-6);
    CHECK(jnum(cJSON_GetObjectItemCaseSensitive(j, "hessian"), NULL, "x1") != jnum(j, NULL, "x1"), "%s", r.out); /* parsed */
    cJSON_Delete(j);
    result_free(&r);
    r = RUN("--hessian", "--check", "x^3", "x=2");
    CHECK(strstr(r.out, "central differences of the gradient") && strstr(r.out, "  x  12\n"), "%s", r.out);
    result_free(&r);

    /* Rosenbrock (1-x)^2 + 100 (y-x^2)^2: H = [2 - 400 (y - x^2) + 800 x^2, -400 x; -400 x, 200];
     * at its minimum (1, 1) and at the classic start (-1.2, 1) */
    const char *rosen = "(1-x)^2 + 100*(y-x^2)^2";
    expect_hessian(rosen, "x=1 y=1", G(802, -400, -400, 200), 0);
    expect_hessian(rosen, "x=-1.2 y=1", G(2 - 400 * (1 - 1.44) + 800 * 1.44, 480, 480, 200), 1e-13);
    /* a product, a quotient, exp and log: the textbook second partials */
    expect_hessian("x*y*y", "x=2 y=3", G(0, 6, 6, 4), 0);
    expect_hessian("x/y", "x=2 y=4", G(0, -1.0 / 16, -1.0 / 16, 2 * 2.0 / 64), 1e-15);
    expect_hessian("exp(x*y)", "x=0.5 y=2", G(4 * exp(1.0), 2 * exp(1.0), 2 * exp(1.0), 0.25 * exp(1.0)), 1e-15);
    expect_hessian("log(x) + sqrt(y)", "x=2 y=4", G(-0.25, 0, 0, -0.25 / 8), 1e-15);
    /* a^b with b varying: d2/da db = a^(b-1) (1 + b ln a), also at b = 0,
     * where it is 1/a (PyTorch's pow gives 0 there: its zero rule for
     * d/da at b = 0 is differentiated too) */
    const double l2 = log(2.0);
    expect_hessian("pow(a, b)", "a=2 b=3", G(6 * 2, 4 * (1 + 3 * l2), 4 * (1 + 3 * l2), 8 * l2 * l2), 1e-14);
    expect_hessian("pow(a, b)", "a=2 b=0", G(0, 0.5, 0.5, l2 * l2), 1e-15);
    /* no inputs: an empty object, and a word in the text */
    r = RUN("--json", "--hessian", "2*3");
    CHECK_STR(r.out, "{\"value\": 6, \"grad\": {}, \"hessian\": {}}\n");
    result_free(&r);
    r = RUN("--hessian", "2*3");
    CHECK_STR(r.out, "value = 6\nhessian (row a, column b: d2/da db): none (no inputs)\n");
    result_free(&r);
    /* an input the program does not use: its row and column are 0 */
    expect_hessian("x*x", "x=3 unused=1", G(2, 0, 0, 0), 0);

    /* every activation at once: a sum of one activation per input has a
     * diagonal Hessian, each entry the closed form */
    double s, d1, d2, sig[5][3];
    const double at[5] = {0.5, -2, 30, -30, 17};
    for (int k = 0; k < 5; k++) sigmoid3(at[k], &sig[k][0], &sig[k][1], &sig[k][2]);
    const double th = tanh(0.7), e1 = exp(-1.5);
    const double tanh2 = -2 * th * (1 - th * th);
    /* silu'' = s'(2 + x (1 - 2s)) = 2 s' + x s'' */
    const double silu2 = 2 * sig[1][1] + -2 * sig[1][2];
    const double softsign2 = -2.0 / (1.25 * 1.25 * 1.25); /* at 0.25: -2 sign(x)/(1+|x|)^3 */
    double Hd[8][8] = {{0}};
    sigmoid3(-0.8, &s, &d1, &d2); /* softplus''(-0.8) = sigmoid'(-0.8) = d1 */
    const double diag[8] = {sig[0][2], tanh2, 0, 0, 2 * e1, silu2, d1, softsign2};
    for (int k = 0; k < 8; k++) Hd[k][k] = diag[k];
    expect_hessian("sigmoid(a) + tanh(b) + relu(c) + leaky_relu(d, 0.2) + elu(e, 2) + silu(f) + softplus(g) + "
                   "softsign(h)",
                   "a=0.5 b=0.7 c=1.5 d=-1.5 e=-1.5 f=-2 g=-0.8 h=0.25", &Hd[0][0], 1e-13);
    /* extreme arguments, where the tails must keep their relative precision:
     * sigmoid'' at +-30 (PyTorch's own sigmoid backward is 1e-3 off at 30),
     * silu'' at 17 and 30, and 1000 where everything is 0 or 1 */
    expect_hessian("sigmoid(x) + softplus(y)", "x=30 y=-30", G(sig[2][2], 0, 0, sig[3][1]), 1e-13);
    expect_hessian("silu(x)", "x=17", G(2 * sig[4][1] + 17 * sig[4][2]), 1e-12);
    sigmoid3(30, &s, &d1, &d2);
    expect_hessian("silu(x)", "x=30", G(2 * d1 + 30 * d2), 1e-12);
    expect_hessian("sigmoid(x) + softplus(x) + silu(x) + tanh(x) + elu(x) + relu(x) + softsign(x)", "x=1000",
                   G(-2.0 / (1001.0 * 1001 * 1001)), 1e-13);
    expect_hessian("sigmoid(x) + softplus(x) + silu(x) + tanh(x) + elu(x) + relu(x) + leaky_relu(x)", "x=-1000",
                   G(0), 0);
    expect_hessian("elu(x)", "x=-40", G(exp(-40.0)), 1e-15);
    /* kinks: relu, abs, leaky_relu, max and min are piecewise linear, so 0 at
     * second order everywhere, ties included (as in PyTorch) */
    expect_hessian("relu(x) + abs(y) + leaky_relu(z) + max(x, y) + min(y, z)", "x=0 y=0 z=0", G(0, 0, 0, 0, 0, 0, 0, 0, 0), 0);
    expect_hessian("relu(x*y)", "x=2 y=3", G(0, 1, 1, 0), 0); /* d/dx (y [xy > 0]) = 0, d/dy = 1 */
    /* elu at 0 takes the left piece at both orders: elu'(0) = alpha and
     * elu''(0) = alpha (PyTorch: alpha, then 0: its double backward tests
     * x < 0 where its backward tests x <= 0) */
    expect_hessian("elu(x, 2)", "x=0", G(2), 0);
    /* softsign''(0) = 0 with abs'(0) = 0 (the jump from 2 to -2; PyTorch the same) */
    expect_hessian("softsign(x)", "x=0", G(0), 0);

    /* 60,000 unary minus signs: a recorded backward that deep, and H = 0 */
    size_t n = 60000;
    char *deep = malloc(n + 4);
    memset(deep, '-', n);
    memcpy(deep + n, "x*x", 4);
    expect_hessian(deep, "x=1.5", G(2), 0);
    free(deep);
    /* --f32: evaluated in single precision, exact here */
    r = RUN("--json", "--f32", "--hessian", "x*x*y", "x=3", "y=0.5");
    CHECK(strstr(r.out, "\"hessian\": {\"x\": {\"x\": 1, \"y\": 6}, \"y\": {\"x\": 6, \"y\": 0}}"), "%s", r.out);
    result_free(&r);
    /* non-finite entries print as in the gradient */
    r = RUN("--json", "--hessian", "sqrt(x)", "x=0");
    CHECK_STR(r.out, "{\"value\": 0, \"grad\": {\"x\": Infinity}, \"hessian\": {\"x\": {\"x\": -Infinity}}}\n");
    result_free(&r);
}

static void test_f32(void)
{
    /* x * 0.1 at x = 1 is the float nearest 0.1 in single precision */
    expect("x*0.1", "x=1", 0.1, G(0.1), 0);
    result r = RUN("--json", "--f32", "x*0.1", "x=1");
    cJSON *j = parse_result(&r, (const char *[]){"x", NULL}, 0);
    CHECK(jnum(j, NULL, "value") == (double)0.1f, "f32 value %.17g", jnum(j, NULL, "value"));
    CHECK(jnum(j, "grad", "x") == (double)0.1f, "f32 grad %.17g", jnum(j, "grad", "x"));
    cJSON_Delete(j);
    result_free(&r);
}

static void test_activations(void)
{
    const double s1 = 1 / (1 + exp(-1.0)); /* sigmoid(1) */
    expect("sigmoid(x)", "x=1", s1, G(s1 * (1 - s1)), 1e-15);
    expect("sigmoid(x)", "x=0", 0.5, G(0.25), 0);
    expect("tanh(x)", "x=0.5", tanh(0.5), G(1 - tanh(0.5) * tanh(0.5)), 1e-15);
    expect("relu(x)", "x=0", 0, G(0), 0);
    expect("relu(x)", "x=2", 2, G(1), 0);
    expect("leaky_relu(x)", "x=-2", -0.02, G(0.01), 1e-15);
    expect("leaky_relu(x, 0.2)", "x=0", 0, G(0.2), 1e-15);
    expect("elu(x)", "x=-1", exp(-1.0) - 1, G(exp(-1.0)), 1e-15);
    expect("elu(x, 2)", "x=0", 0, G(2), 1e-15);
    expect("silu(x)", "x=1", s1, G(s1 + s1 * (1 - s1)), 1e-15);
    expect("softplus(x)", "x=0", log(2.0), G(0.5), 1e-15);
    expect("softsign(x)", "x=1", 0.5, G(0.25), 1e-15);
    /* extreme arguments: finite values and gradients */
    expect("sigmoid(x) + softplus(-x) + silu(-x) + tanh(x) + elu(-x) + softsign(x)", "x=1000",
           1 + 0 + 0 + 1 - 1 + 1000.0 / 1001, G(0 + 0 + 0 + 0 + 0 + 1.0 / (1001.0 * 1001)), 1e-15);
    expect("softplus(x) + sigmoid(-x) + silu(x)", "x=1000", 1000 + 0 + 1000, G(1 + 0 + 1), 1e-15);
    /* alpha must be a number */
    EXPECT_ERROR("grad: elu at column 1: alpha must be a number, not depend on an input", "elu(x, x)", "x=1");
}

static void test_errors(void)
{
    EXPECT_ERROR("grad: syntax error at column 3: expected a number, a name or '(', got the end of the program", "x+",
                 "x=1");
    EXPECT_ERROR("grad: syntax error at column 3: expected an operator, ',', ')' or ';', got '3'", "2 3");
    EXPECT_ERROR("grad: syntax error at column 7: '(' at column 5 is never closed", "x + (y", "x=1", "y=2");
    EXPECT_ERROR("grad: syntax error at column 2: unmatched ')'", "x)", "x=1");
    EXPECT_ERROR("grad: syntax error at column 3: unexpected character '$'", "x $ 2", "x=1");
    EXPECT_ERROR("grad: syntax error at column 1: malformed number '1e+': no digits after the exponent's 'e'", "1e+");
    EXPECT_ERROR("grad: syntax error at column 2: ',' outside a function call", "a,b", "a=1", "b=1");
    EXPECT_ERROR("grad: syntax error at column 5: expected a number, a name or '(', got '='", "x = = 2; x");
    EXPECT_ERROR("grad: syntax error at line 2, column 3: expected a number, a name or '(', got ')'", "x *\n( )",
                 "x=1");
    EXPECT_ERROR("grad: unknown function 'foo' at column 3 (known: exp log sqrt abs max min pow sigmoid tanh relu "
                 "leaky_relu elu silu softplus softsign)",
                 "1+foo(x)", "x=1");
    EXPECT_ERROR("grad: wrong number of arguments: max at column 1 takes 2, got 1", "max(x)", "x=1");
    EXPECT_ERROR("grad: wrong number of arguments: pow at column 1 takes 2, got 3", "pow(x, 1, 2)", "x=1");
    EXPECT_ERROR("grad: wrong number of arguments: exp at column 1 takes 1, got 0", "exp()", "x=1");
    EXPECT_ERROR("grad: wrong number of arguments: elu at column 1 takes 1 or 2, got 3", "elu(x, 1, 2)", "x=1");
    EXPECT_ERROR("grad: missing input y (used at column 3): give it as y=VALUE", "x+y", "x=1");
    EXPECT_ERROR("grad: unknown name z at column 3: it is used before the statement at column 8 binds it",
                 "y=z+1; z=2; y");
    EXPECT_ERROR("grad: empty program: nothing to differentiate", "");
    EXPECT_ERROR("grad: empty program: nothing to differentiate", " ; # only a comment");
    EXPECT_ERROR("grad: the last statement must be an expression to differentiate, but 'c = ...' at column 8 binds a "
                 "name",
                 "c = x; c = c + 1", "x=1");
    EXPECT_ERROR("grad: input x given twice (arguments 1 and 2)", "x", "x=1", "x=2");
    EXPECT_ERROR("grad: malformed input 'x1' (argument 1): expected name=value", "x1", "x1");
    EXPECT_ERROR("grad: malformed input '1x=2' (argument 1): '1x' is not a name (letters, digits and _, not a digit "
                 "first)",
                 "x", "1x=2");
    EXPECT_ERROR("grad: malformed input 'x=abc' (argument 1): 'abc' is not a number", "x", "x=abc");
    EXPECT_ERROR("grad: malformed input 'x=' (argument 1): '' is not a number", "x", "x=");
    EXPECT_ERROR("grad: wrong number of arguments: no PROGRAM given (grad [--json] [--f32] [--check] [--hessian] "
                 "PROGRAM name=value ..., or -f FILE; grad --help tells more)",
                 "--json");
    EXPECT_ERROR("grad: unknown option '--jsn' (a PROGRAM starting with -- goes after a lone --)", "--jsn", "x",
                 "x=1");
    EXPECT_ERROR("grad: -f needs a FILE (- for stdin)", "-f");
    expect_error_prefix(RUN("-f", "/nonexistent/calc/program"), "grad: cannot read /nonexistent/calc/program: ");
    /* a program starting with -- goes after a lone -- (expect() puts one) */
    expect("--x", "x=2", 2, G(1), 0);
    /* --help documents the tie rule and exits 0 */
    result r = RUN("--help");
    CHECK(r.status == 0 && strstr(r.out, "on a tie the whole gradient goes to b"), "--help: %d %.200s", r.status,
          r.out);
    CHECK(strstr(r.out, "--hessian") && strstr(r.out, "elu''(0) = alpha"), "--help does not document --hessian");
    result_free(&r);
}

/* A file of `n` repetitions of `unit` between `pre` and `post`. */
static const char *repeated(const char *pre, const char *unit, size_t n, const char *mid, const char *post)
{
    size_t lu = strlen(unit), lp = strlen(pre), lm = strlen(mid), lq = strlen(post);
    size_t len = lp + n * lu + lm + n * lq;
    char *s = malloc(len + 1), *q = s;
    if (!s) return NULL;
    memcpy(q, pre, lp), q += lp;
    for (size_t i = 0; i < n; i++) memcpy(q, unit, lu), q += lu;
    memcpy(q, mid, lm), q += lm;
    for (size_t i = 0; i < n; i++) memcpy(q, post, lq), q += lq;
    const char *path = file_with(s, len);
    free(s);
    return path;
}

static void test_hostile(void)
{
    /* 60,000 nested parentheses on the command line (120,001 bytes) */
    size_t n = 60000;
    char *deep = malloc(2 * n + 2);
    memset(deep, '(', n);
    deep[n] = 'x';
    memset(deep + n + 1, ')', n);
    deep[2 * n + 1] = 0;
    expect(deep, "x=1.5", 1.5, G(1), 0);
    deep[2 * n] = 0; /* one ')' short */
    expect_error_prefix(RUN(deep, "x=1"), "grad: syntax error at column 120001: '(' at column 1 is never closed");
    free(deep);

    const char *const json_x[] = {"--json", "-f", NULL, "x=1.0001", NULL};
    const char *args[5];
    memcpy(args, json_x, sizeof args);
    /* 60,000 nested calls, 60,000 unary minus signs, a 60,000-long tower of ^ */
    args[2] = repeated("", "sqrt(", n, "x", ")");
    result r = run_v(NULL, args);
    CHECK(r.status == 0 && strstr(r.out, "\"value\": 1,"), "sqrt tower: %d %.200s %.200s", r.status, r.out, r.err);
    result_free(&r);
    args[2] = repeated("", "-", n, "x", "");
    r = run_v(NULL, args);
    CHECK(r.status == 0 && strstr(r.out, "{\"value\": 1.0001, \"grad\": {\"x\": 1}}"), "minus tower: %.200s %.200s",
          r.out, r.err);
    result_free(&r);
    args[2] = repeated("", "x^", n, "x", "");
    r = run_v(NULL, args);
    CHECK(r.status == 0 && count_lines(r.out) == 1, "^ tower: %d %.200s", r.status, r.err);
    result_free(&r);

    /* 20,000 terms: x+x+...+x = 20000 x */
    args[2] = repeated("x", "+x", 19999, "", "");
    r = run_v(NULL, args);
    cJSON *j = parse_result(&r, (const char *[]){"x", NULL}, 0);
    CHECK_NEAR(jnum(j, NULL, "value"), 20000 * 1.0001, 1e-9);
    CHECK(jnum(j, "grad", "x") == 20000, "d/dx = %.17g", jnum(j, "grad", "x"));
    cJSON_Delete(j);
    result_free(&r);
    /* 20,000 statements each binding a new name, then their sum */
    {
        size_t cap = 20000 * 40, len = 0;
        char *s = malloc(cap);
        for (int i = 0; i < 20000; i++) len += (size_t)snprintf(s + len, cap - len, "v%d = x*%d;", i, i % 7);
        for (int i = 0; i < 20000; i++) len += (size_t)snprintf(s + len, cap - len, "%sv%d", i ? "+" : "", i);
        args[2] = file_with(s, len);
        free(s);
        r = run_v(NULL, args);
        j = parse_result(&r, (const char *[]){"x", NULL}, 0);
        double k = 0;
        for (int i = 0; i < 20000; i++) k += i % 7;
        CHECK(jnum(j, "grad", "x") == k, "d/dx = %.17g, want %.17g", jnum(j, "grad", "x"), k);
        cJSON_Delete(j);
        result_free(&r);
    }

    /* a name of a million letters, bound and used */
    {
        size_t len = 1000000;
        char *s = malloc(2 * len + 16), *q = s;
        memset(q, 'a', len), q += len;
        memcpy(q, "=x; ", 4), q += 4;
        memset(q, 'a', len), q += len;
        memcpy(q, "*2", 2), q += 2;
        args[2] = file_with(s, (size_t)(q - s));
        r = run_v(NULL, args);
        CHECK(r.status == 0 && strstr(r.out, "\"grad\": {\"x\": 2}"), "long name: %.200s %.200s", r.out, r.err);
        result_free(&r);
        /* used without a binding: the message shows 32 bytes of it */
        args[2] = file_with(s, len);
        expect_error_prefix(run_v(NULL, args),
                            "grad: missing input aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa... (1000000 bytes) (used at column 1)");
        free(s);
    }

    /* huge numbers: an exponent past double's range is Infinity, as
     * Python's float(); a million digits; an input of 1e999 */
    r = RUN("--json", "1e999999*x", "x=1");
    CHECK_STR(r.out, "{\"value\": Infinity, \"grad\": {\"x\": Infinity}}\n");
    result_free(&r);
    args[2] = repeated("", "9", 1000000, "*x", "");
    r = run_v(NULL, args);
    CHECK(r.status == 0 && strstr(r.out, "Infinity"), "a million 9s: %d %.200s", r.status, r.err);
    result_free(&r);
    r = RUN("--json", "x*0", "x=1e999");
    CHECK_STR(r.out, "{\"value\": NaN, \"grad\": {\"x\": 0}}\n");
    result_free(&r);

    /* NUL bytes and bytes outside ASCII */
    args[2] = file_with("x\0+1", 4);
    expect_error_r(run_v(NULL, args), "grad: syntax error at column 2: unexpected byte 0x00");
    args[2] = file_with("x + \xc3\xa9", 6);
    expect_error_r(run_v(NULL, args), "grad: syntax error at column 5: unexpected byte 0xc3");

    /* garbage: seeded random programs over the language's own alphabet and
     * over all bytes.  Each is evaluated (0, one JSON line) or rejected (2,
     * one line on stderr); nothing else. */
    const char alphabet[] = "x y ( ) , ; = + - * / ^ 1 2.5 1e3 exp( max( pow( sigmoid( # \n";
    const char *words[32];
    int n_words = 0;
    static char alpha_copy[sizeof alphabet];
    memcpy(alpha_copy, alphabet, sizeof alphabet);
    for (char *tok = strtok(alpha_copy, " "); tok && n_words < 32; tok = strtok(NULL, " ")) words[n_words++] = tok;
    words[n_words++] = " ";
    uint64_t seed = 0x9e3779b97f4a7c15u;
    int ok = 0, rejected = 0;
    for (int k = 0; k < 120; k++) {
        char prog[512];
        size_t len = 0;
        int n_tok = 1 + (int)((seed >> 33) % 40);
        for (int i = 0; i < n_tok; i++) {
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            uint64_t pick = seed >> 33;
            if (k >= 90) { /* raw bytes, NUL included */
                prog[len++] = (char)(pick & 0xff);
            } else {
                const char *w = words[pick % (uint64_t)n_words];
                size_t lw = strlen(w);
                memcpy(prog + len, w, lw);
                len += lw;
            }
        }
        args[2] = file_with(prog, len);
        const char *targs[] = {"--json", "-f", args[2], "x=0.5", "y=-2", NULL};
        r = run_v(NULL, targs);
        CHECK((r.status == 0 && count_lines(r.out) == 1 && r.err[0] == 0) ||
                  (r.status == 2 && r.out[0] == 0 && count_lines(r.err) == 1),
              "garbage program %d: exit %d, stdout %.100s, stderr %.200s", k, r.status, r.out, r.err);
        ok += r.status == 0;
        rejected += r.status == 2;
        result_free(&r);
    }
    CHECK(ok > 0 && rejected > 60, "garbage: %d evaluated, %d rejected", ok, rejected);
    printf("garbage: %d evaluated, %d rejected\n", ok, rejected);
}

/* ---- --at: one recording replayed at many rows ---------------------------- */

/* grad --json [--f32] --at ROWS PROGRAM inputs: one line per row, each equal
 * (exactly: the same kernels on the same numbers) to grad run at that point
 * alone, which records the program there.  rows: n_rows points of n_in values. */
static void expect_at(const char *program, const char *inputs, bool f32, int n_rows, int n_in, const double *rows)
{
    char text[2048];
    size_t k = 0;
    for (int r = 0; r < n_rows; r++) {
        for (int i = 0; i < n_in; i++)
            k += (size_t)snprintf(text + k, sizeof text - k, "%s%.17g", i ? (r & 1 ? ", " : " ") : "", rows[r * n_in + i]);
        k += (size_t)snprintf(text + k, sizeof text - k, r == 1 ? "  # a comment\n\n" : "\n");
    }
    char rows_path[64];
    snprintf(rows_path, sizeof rows_path, "%s/rows", tmpdir);
    FILE *f = fopen(rows_path, "w");
    if (f) fwrite(text, 1, k, f), fclose(f);
    input_names in;
    const char *opts[4] = {"--json", "--at", rows_path, "--f32"};
    result ra = run_inputs(opts, f32 ? 4 : 3, program, inputs, &in);
    CHECK(ra.status == 0 && count_lines(ra.out) == n_rows, "--at %s: exit %d, %d lines for %d rows: %s %s", program,
          ra.status, count_lines(ra.out), n_rows, ra.out, ra.err);
    char *line = ra.out;
    for (int r = 0; r < n_rows && line && *line; r++) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        /* the same point alone: name=value for each input */
        char point[256];
        size_t pk = 0;
        for (int i = 0; i < n_in; i++)
            pk += (size_t)snprintf(point + pk, sizeof point - pk, "%s%s=%.17g", i ? " " : "", in.keys[i],
                                   rows[r * n_in + i]);
        input_names in2;
        result rb = run_inputs((const char *[]){"--json", "--f32"}, f32 ? 2 : 1, program, point, &in2);
        char *want = rb.out;
        if (count_lines(want) == 1) want[strlen(want) - 1] = 0;
        CHECK(rb.status == 0 && strcmp(line, want) == 0, "--at %s, row %d (%s): replayed %s, recorded %s", program, r,
              point, line, want);
        result_free(&rb);
        line = nl ? nl + 1 : NULL;
    }
    result_free(&ra);
}

static void test_at(void)
{
    /* max, abs, relu and min decide again at each row; the second program
     * has a NaN row (recorded afresh) and a row where the recording's max
     * branch flips; the third is the lecture's example */
    const char *prog = "m = max(x, y) * x + abs(y)^3 + relu(x - y); m - min(x * y, 2) / (1 + exp(-y))";
    const double rows[] = {1, 2, 0.5, -3, -1, 4, 2, 2, 3, -0.25, -2, -2};
    expect_at(prog, "x=1 y=1", false, 6, 2, rows);
    expect_at(prog, "x=0.3 y=-0.7", true, 6, 2, rows);
    const double rows2[] = {4, 0.25, -1, 3, 0, 0, 2, 5};
    expect_at("sqrt(x) * max(log(y), 0) + y", "x=2 y=3", false, 4, 2, rows2);
    const double rows3[] = {1, 3, -2, 0.5, 1e3, -1e3};
    expect_at("(2*x1 + 3*x2)^2 + 3", "x1=1 x2=3", false, 3, 2, rows3);
    /* errors: a row of the wrong length or with a word, --at with --check */
    const char *bad = file_with("1 2\n3\n", 6);
    EXPECT_ERROR("grad: --at cannot be combined with --check", "--at", bad, "--check", "x*y", "x=1", "y=2");
    result r = RUN("--json", "--at", bad, "x*y", "x=1", "y=2");
    CHECK(r.status == 2 && strstr(r.err, "/prog:2: expected 2 numbers (the values of x y), got 1\n") &&
              count_lines(r.err) == 1 && count_lines(r.out) == 1,
          "--at with a short row: exit %d, stdout %s, stderr %s", r.status, r.out, r.err);
    result_free(&r);
    bad = file_with("1 two\n", 6);
    r = RUN("--at", bad, "x*y", "x=1", "y=2");
    CHECK(r.status == 2 && strstr(r.err, "/prog:1: expected 2 numbers (the values of x y), not 'two'\n") && !r.out[0],
          "--at with a word: exit %d, stdout %s, stderr %s", r.status, r.out, r.err);
    result_free(&r);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_calc GRAD\n");
        return 1;
    }
    grad_bin = argv[1];
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_lecture_example();
    test_precedence();
    test_rebinding();
    test_kinks();
    test_f32();
    test_hessian();
    test_activations();
    test_errors();
    test_hostile();
    test_at();
    char path[64];
    const char *names[] = {"out", "err", "prog", "rows"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, names[i]);
        unlink(path);
    }
    rmdir(tmpdir);
    return wg_test_done("test_calc");
}
