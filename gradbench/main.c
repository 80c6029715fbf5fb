/* wengert-gradbench: wengert as a GradBench tool.
 *
 * GradBench's protocol is JSON lines: the eval writes one message per line
 * on our stdin and reads one response line per message from our stdout.
 *
 *   start     {"id", "kind":"start", "eval", "config"?}  -> {"id", "tool", "config"}
 *   define    {"id", "kind":"define", "module"}          -> {"id", "success", "error"?}
 *   evaluate  {"id", "kind":"evaluate", "module", "function", "input", "description"?}
 *             -> {"id", "success", "output", "timings":[{"name":"evaluate","nanoseconds":N}...]}
 *   analysis  {"id", "kind":"analysis", "of", "valid", "error"?} -> {"id"}
 *
 * The session ends when the eval closes our stdin: we exit 0.  (An "end"
 * message, which older evals sent, also ends it, with no response.)
 *
 * An evaluate runs the function at least input.min_runs times AND for at
 * least input.min_seconds (both default to 1 run / 0 s, as for `hello`,
 * whose inputs have neither), one timing per run.  For a function that takes
 * nanoseconds that is millions of entries, so the response is written by
 * hand into one buffer, not built as a cJSON tree.
 *
 * Bad input never crashes the tool: a message with an id gets an error
 * response (success false where the response type has that field); a line
 * that is not a JSON object with a numeric id cannot be answered, so the tool
 * names the problem on stderr and exits with status 2.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gb.h"

/* ---- output buffer --------------------------------------------------------- */

static void reserve(gb_out *o, size_t extra)
{
    if (o->oom || o->len + extra + 1 <= o->cap) return;
    size_t cap = o->cap ? o->cap : 4096;
    while (cap < o->len + extra + 1) cap *= 2;
    char *b = realloc(o->buf, cap);
    if (!b) {
        o->oom = true;
        return;
    }
    o->buf = b;
    o->cap = cap;
}

void gb_raw(gb_out *o, const char *s, size_t n)
{
    reserve(o, n);
    if (o->oom) return;
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = 0;
}

void gb_str(gb_out *o, const char *s) { gb_raw(o, s, strlen(s)); }

void gb_qstr(gb_out *o, const char *s)
{
    gb_raw(o, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char e[8];
        if (*p == '"' || *p == '\\') {
            e[0] = '\\';
            e[1] = (char)*p;
            gb_raw(o, e, 2);
        } else if (*p == '\n') {
            gb_raw(o, "\\n", 2);
        } else if (*p < 0x20) {
            snprintf(e, sizeof e, "\\u%04x", *p);
            gb_raw(o, e, 6);
        } else {
            gb_raw(o, (const char *)p, 1);
        }
    }
    gb_raw(o, "\"", 1);
}

void gb_num(gb_out *o, double v)
{
    if (!isfinite(v)) {
        gb_raw(o, "null", 4);
        return;
    }
    char b[32];
    int n = snprintf(b, sizeof b, "%.17g", v);
    gb_raw(o, b, (size_t)n);
}

void gb_nums(gb_out *o, const double *v, size_t n)
{
    reserve(o, n * 25 + 2);
    gb_raw(o, "[", 1);
    for (size_t i = 0; i < n; i++) {
        if (i) gb_raw(o, ",", 1);
        gb_num(o, v[i]);
    }
    gb_raw(o, "]", 1);
}

/* Decimal digits of an unsigned integer, written backwards then copied: the
 * timings list is the one place where speed matters. */
static size_t utoa(char *dst, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++) dst[i] = tmp[n - 1 - i];
    return n;
}

void gb_int(gb_out *o, long long v)
{
    char b[32];
    size_t n = 0;
    if (v < 0) {
        b[n++] = '-';
        n += utoa(b + n, (uint64_t)0 - (uint64_t)v);
    } else {
        n = utoa(b, (uint64_t)v);
    }
    gb_raw(o, b, n);
}

static void timings(gb_out *o, const uint64_t *ns, size_t n)
{
    static const char entry[] = "{\"name\":\"evaluate\",\"nanoseconds\":";
    const size_t el = sizeof entry - 1;
    reserve(o, n * (el + 24) + 2);
    if (o->oom) return;
    char *p = o->buf + o->len;
    *p++ = '[';
    for (size_t i = 0; i < n; i++) {
        if (i) *p++ = ',';
        memcpy(p, entry, el);
        p += el;
        p += utoa(p, ns[i]);
        *p++ = '}';
    }
    *p++ = ']';
    o->len = (size_t)(p - o->buf);
    o->buf[o->len] = 0;
}

/* ---- protocol --------------------------------------------------------------- */

/* Wall-clock time, as GradBench means it.  WENGERT_GB_CLOCK=cpu times the
 * thread's CPU time instead: bench/compare --gradbench uses it (and the same
 * clock on the PyTorch and ADOL-C sides) on a shared machine, where the wall
 * clock also measures the neighbours. */
static clockid_t clock_id = CLOCK_MONOTONIC;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(clock_id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void emit(gb_out *o)
{
    if (o->oom) {
        fprintf(stderr, "wengert-gradbench: out of memory writing a response\n");
        exit(1);
    }
    gb_raw(o, "\n", 1);
    if (fwrite(o->buf, 1, o->len, stdout) != o->len || fflush(stdout) != 0) {
        /* The eval is gone: nothing left to answer. */
        exit(0);
    }
    o->len = 0;
}

static void head(gb_out *o, double id)
{
    gb_str(o, "{\"id\":");
    if (id == floor(id) && fabs(id) < 9e15)
        gb_int(o, (long long)id);
    else
        gb_num(o, id);
}

static void fail(gb_out *o, double id, const char *msg)
{
    head(o, id);
    gb_str(o, ",\"success\":false,\"error\":");
    gb_qstr(o, msg);
    gb_str(o, "}");
    emit(o);
}

static const char *str_field(const cJSON *m, const char *name)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(m, name);
    return cJSON_IsString(f) ? f->valuestring : NULL;
}

/* min_runs / min_seconds of an input: absent means 1 run, 0 s. */
static int runs_of(const cJSON *input, long long *min_runs, double *min_seconds, char *err, size_t len)
{
    *min_runs = 1;
    *min_seconds = 0;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(input, "min_runs");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(input, "min_seconds");
    if (r && !cJSON_IsNull(r)) {
        if (!cJSON_IsNumber(r) || r->valuedouble < 0 || r->valuedouble > 1e12 || r->valuedouble != floor(r->valuedouble)) {
            snprintf(err, len, "input.min_runs must be a non-negative integer");
            return -1;
        }
        *min_runs = (long long)r->valuedouble;
    }
    if (s && !cJSON_IsNull(s)) {
        if (!cJSON_IsNumber(s) || !(s->valuedouble >= 0) || s->valuedouble > 1e7) {
            snprintf(err, len, "input.min_seconds must be a number of seconds >= 0");
            return -1;
        }
        *min_seconds = s->valuedouble;
    }
    if (*min_runs < 1) *min_runs = 1; /* the output comes from a run */
    return 0;
}

static void evaluate(gb_out *o, double id, const cJSON *m, wg_tape *t)
{
    const char *module = str_field(m, "module"), *function = str_field(m, "function");
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(m, "input");
    char err[600];
    if (!module || !function) {
        fail(o, id, "evaluate: the message needs string fields \"module\" and \"function\"");
        return;
    }
    if (!input) {
        snprintf(err, sizeof err, "evaluate %s::%s: the message has no \"input\"", module, function);
        fail(o, id, err);
        return;
    }
    long long min_runs = 1;
    double min_seconds = 0;
    if (cJSON_IsObject(input) && runs_of(input, &min_runs, &min_seconds, err, sizeof err) != 0) {
        fail(o, id, err);
        return;
    }
    gb_job job = {0};
    if (gb_prepare(module, function, input, &job) != 0) {
        snprintf(err, sizeof err, "%s::%s: %s", module, function, job.err);
        fail(o, id, err);
        return;
    }
    size_t n = 0, cap = 1024;
    uint64_t *ns = malloc(cap * sizeof *ns);
    uint64_t total = 0, limit = (uint64_t)(min_seconds * 1e9);
    int rc = ns ? 0 : -1;
    if (!ns) snprintf(job.err, sizeof job.err, "out of memory");
    while (rc == 0 && ((long long)n < min_runs || total < limit)) {
        uint64_t t0 = now_ns();
        rc = job.run(&job, t);
        uint64_t dt = now_ns() - t0;
        if (rc != 0) break;
        if (n == cap) {
            uint64_t *g = realloc(ns, 2 * cap * sizeof *ns);
            if (!g) {
                rc = -1;
                snprintf(job.err, sizeof job.err, "out of memory for %zu timings", n);
                break;
            }
            ns = g;
            cap *= 2;
        }
        ns[n++] = dt;
        total += dt;
    }
    if (rc != 0) {
        snprintf(err, sizeof err, "%s::%s: %s", module, function, job.err);
        fail(o, id, err);
    } else {
        head(o, id);
        gb_str(o, ",\"success\":true,\"output\":");
        job.write(&job, o);
        gb_str(o, ",\"timings\":");
        timings(o, ns, n);
        gb_str(o, "}");
        emit(o);
    }
    free(ns);
    if (job.free) job.free(&job);
    wg_tape_reset(t);
}

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: wengert-gradbench\n"
               "Speaks GradBench's JSON-lines protocol on stdin/stdout; modules: %s.\n"
               "Run it with GradBench's runner, e.g.\n"
               "  ./gradbench run --eval 'gmm' --tool '$ /path/to/wengert-gradbench'\n"
               "exp and tanh use glibc's vector math (within 4 ulp); WENGERT_GB_EXACT=1 uses libm's.\n",
               gb_module_list());
        return 0;
    }
    const char *clk = getenv("WENGERT_GB_CLOCK");
    if (clk && strcmp(clk, "cpu") == 0) clock_id = CLOCK_THREAD_CPUTIME_ID;
    /* exp and tanh of tensors through glibc's vector math, within 4 ulp (the
     * other tools' vectorised exp is no closer); WENGERT_GB_EXACT=1 keeps
     * libm's correctly rounded functions. */
    const char *exact = getenv("WENGERT_GB_EXACT");
    wg_set_fast_math(!(exact && strcmp(exact, "1") == 0));
    wg_tape *t = wg_tape_new();
    if (!t) {
        fprintf(stderr, "wengert-gradbench: cannot allocate a tape\n");
        return 1;
    }
    gb_out o = {0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    int status = 0;
    while ((len = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (len == 0) continue; /* a blank line is no message */
        cJSON *m = cJSON_ParseWithLength(line, (size_t)len);
        const cJSON *idf = m ? cJSON_GetObjectItemCaseSensitive(m, "id") : NULL;
        if (!cJSON_IsObject(m) || !cJSON_IsNumber(idf)) {
            const char *where = m ? "" : cJSON_GetErrorPtr();
            fprintf(stderr, "wengert-gradbench: line %ld: %s%s%.40s%s\n", lineno,
                    !m ? "not valid JSON" : !cJSON_IsObject(m) ? "not a JSON object" : "the message has no numeric \"id\"",
                    where && *where ? " near '" : "", where ? where : "", where && *where ? "'" : "");
            cJSON_Delete(m);
            status = 2;
            break;
        }
        double id = idf->valuedouble;
        const char *kind = str_field(m, "kind");
        if (!kind) {
            fail(&o, id, "the message has no string field \"kind\"");
        } else if (strcmp(kind, "start") == 0) {
            head(&o, id);
            gb_str(&o, ",\"tool\":\"wengert\",\"config\":{\"precision\":\"f64\",\"threads\":1,\"modules\":");
            gb_qstr(&o, gb_module_list());
            gb_str(&o, "}}");
            emit(&o);
        } else if (strcmp(kind, "define") == 0) {
            const char *module = str_field(m, "module");
            if (!module) {
                fail(&o, id, "define: the message has no string field \"module\"");
            } else if (!gb_module_known(module)) {
                char err[300];
                snprintf(err, sizeof err, "define: wengert has no module '%.100s' (it has: %s)", module, gb_module_list());
                fail(&o, id, err);
            } else {
                head(&o, id);
                gb_str(&o, ",\"success\":true}");
                emit(&o);
            }
        } else if (strcmp(kind, "evaluate") == 0) {
            evaluate(&o, id, m, t);
        } else if (strcmp(kind, "analysis") == 0) {
            head(&o, id);
            gb_str(&o, "}");
            emit(&o);
        } else if (strcmp(kind, "end") == 0) {
            cJSON_Delete(m);
            break;
        } else {
            char err[200];
            snprintf(err, sizeof err, "unknown message kind '%.60s'", kind);
            fail(&o, id, err);
        }
        cJSON_Delete(m);
    }
    free(line);
    free(o.buf);
    wg_tape_free(t);
    return status;
}
