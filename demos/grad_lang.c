/* grad_lang.c: lexer, parser and evaluator of demos/grad's language.
 *
 * Grammar, loosest binding first (the same shape as Python's, with ^ for **):
 *
 *   program   := statement (';' statement)*        empty statements are skipped
 *   statement := name '=' expr | expr               the last one must be an expr
 *   expr      := term (('+' | '-') term)*          left-associative
 *   term      := factor (('*' | '/') factor)*      left-associative
 *   factor    := ('-' | '+') factor | power        so -x^2 is -(x^2)
 *   power     := primary ('^' factor)?             right-associative; 2^-1 is 2^(-1)
 *   primary   := number | name | name '(' args ')' | '(' expr ')'
 *
 * '#' starts a comment that runs to the end of the line.
 *
 * The parser is a loop over tokens with an explicit operator stack (shunting
 * yard); it writes postfix code per statement.  Nothing here recurses.
 *
 * Semantics, chosen to agree with PyTorch's float64 autograd:
 *   - a^b with an exponent that depends on no input (a literal such as 2 or
 *     -0.5, or a name bound to numbers only) records wg_pow_c, the
 *     constant-exponent op; otherwise the general wg_pow with PyTorch's zero
 *     rules.  (The two give the same derivative in a; only pow_c is what the
 *     library offers for x^2.)  A literal exponent 0.5 records sqrt, as
 *     PyTorch does for x ** 0.5 (they differ at -0 and -inf).
 *   - max/min: the library's rule, ties go to the second argument (so
 *     max(x, 0) has derivative 0 at 0).  When an argument is NaN, the result
 *     is recorded as a + b: NaN, with the gradient passed to both arguments,
 *     which is what torch.maximum and torch.minimum do there.
 */
#include "grad_lang.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the function table ------------------------------------------------- */

typedef enum {
    F_EXP, F_LOG, F_SQRT, F_ABS, F_MAX, F_MIN, F_POW,
    /* the scalar activations, each the nn/ composite */
    F_SIGMOID, F_TANH, F_RELU, F_LEAKY_RELU, F_ELU, F_SILU, F_SOFTPLUS, F_SOFTSIGN,
    F_COUNT
} gl_fn;

static const struct {
    const char *name;
    int min_args, max_args;
    const char *help;
} fns[F_COUNT] = {
    [F_EXP] = {"exp", 1, 1, "exp(x)"},
    [F_LOG] = {"log", 1, 1, "log(x)       natural log; NaN below 0, -Infinity at 0"},
    [F_SQRT] = {"sqrt", 1, 1, "sqrt(x)      derivative Infinity at 0"},
    [F_ABS] = {"abs", 1, 1, "abs(x)       derivative sign(x), 0 at 0"},
    [F_MAX] = {"max", 2, 2, "max(a, b)    ties send the gradient to b, so max(x, 0)' = 0 at 0"},
    [F_MIN] = {"min", 2, 2, "min(a, b)    ties send the gradient to b"},
    [F_POW] = {"pow", 2, 2, "pow(a, b)    the same as a^b"},
    [F_SIGMOID] = {"sigmoid", 1, 1, "sigmoid(x)   1/(1+e^-x)"},
    [F_TANH] = {"tanh", 1, 1, "tanh(x)"},
    [F_RELU] = {"relu", 1, 1, "relu(x)      max(x, 0); derivative 0 at 0"},
    [F_LEAKY_RELU] = {"leaky_relu", 1, 2, "leaky_relu(x[, alpha])  x if x > 0 else alpha x; alpha 0.01 unless given"},
    [F_ELU] = {"elu", 1, 2, "elu(x[, alpha])  x if x > 0 else alpha (e^x - 1); alpha 1 unless given"},
    [F_SILU] = {"silu", 1, 1, "silu(x)      x sigmoid(x)"},
    [F_SOFTPLUS] = {"softplus", 1, 1, "softplus(x)  log(1 + e^x)"},
    [F_SOFTSIGN] = {"softsign", 1, 1, "softsign(x)  x/(1 + |x|)"},
};

const char *gl_function_help(void)
{
    static char buf[2048];
    if (!buf[0]) {
        size_t n = 0;
        for (int i = 0; i < F_COUNT && n < sizeof buf; i++)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "  %s\n", fns[i].help);
    }
    return buf;
}

/* "exp log ... softsign", for messages. */
static const char *fn_names(void)
{
    static char buf[256];
    if (!buf[0]) {
        size_t n = 0;
        for (int i = 0; i < F_COUNT && n < sizeof buf; i++)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", i ? " " : "", fns[i].name);
    }
    return buf;
}

static int find_fn(const char *s, size_t len)
{
    for (int i = 0; i < F_COUNT; i++)
        if (strlen(fns[i].name) == len && memcmp(fns[i].name, s, len) == 0) return i;
    return -1;
}

/* ---- program representation -------------------------------------------- */

typedef enum { I_NUM, I_VAR, I_NEG, I_ADD, I_SUB, I_MUL, I_DIV, I_POW, I_CALL } ins_kind;

typedef struct {
    uint8_t kind, fn;
    bool literal; /* I_POW, I_CALL: the last operand is a number as written */
    size_t argc;
    size_t pos; /* byte offset in the source, for messages */
    double num; /* I_NUM */
    size_t sym; /* I_VAR */
} ins;

#define NO_SYM SIZE_MAX

typedef struct {
    size_t target, target_pos; /* NO_SYM for the expression statement */
    size_t first, end;         /* its code: p->code[first..end) */
} stmt;

typedef struct {
    const char *name;
    size_t len;
    size_t input;      /* input index, or NO_SYM */
    size_t assign_pos; /* where a statement first binds it, or NO_SYM */
} sym;

typedef struct {
    size_t sym;
    double value;
    char *name; /* NUL-terminated copy */
    int argi;   /* its position on the command line, for messages */
} input;

struct gl_program {
    const char *src;
    size_t len;
    sym *syms;
    size_t n_syms, cap_syms;
    size_t *hash; /* open addressing: symbol index + 1, 0 = empty */
    size_t hash_cap;
    input *inputs;
    size_t n_inputs, cap_inputs;
    ins *code;
    size_t n_code, cap_code;
    stmt *stmts;
    size_t n_stmts, cap_stmts;
    size_t max_depth; /* deepest value stack any statement needs */
};

/* Makes room for `need` elements of `size` bytes in *buf; 0 on success. */
static int grow(void *buf, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 16;
    while (c < need) {
        if (c > SIZE_MAX / 2 / size) return -1;
        c *= 2;
    }
    void *q = realloc(*(void **)buf, c * size);
    if (!q) return -1;
    *(void **)buf = q;
    *cap = c;
    return 0;
}

gl_program *gl_new(void) { return calloc(1, sizeof(gl_program)); }

void gl_free(gl_program *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n_inputs; i++) free(p->inputs[i].name);
    free(p->inputs);
    free(p->syms);
    free(p->hash);
    free(p->code);
    free(p->stmts);
    free(p);
}

size_t gl_n_inputs(const gl_program *p) { return p->n_inputs; }
const char *gl_input_name(const gl_program *p, size_t i) { return p->inputs[i].name; }
double gl_input_value(const gl_program *p, size_t i) { return p->inputs[i].value; }

/* ---- symbols ------------------------------------------------------------ */

static size_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211u;
    return (size_t)h;
}

static int rehash(gl_program *p, size_t cap)
{
    size_t *h = calloc(cap, sizeof *h);
    if (!h) return -1;
    for (size_t i = 0; i < p->n_syms; i++) {
        size_t j = hash_bytes(p->syms[i].name, p->syms[i].len) & (cap - 1);
        while (h[j]) j = (j + 1) & (cap - 1);
        h[j] = i + 1;
    }
    free(p->hash);
    p->hash = h;
    p->hash_cap = cap;
    return 0;
}

/* The index of the symbol spelled s[0..len), made if new; NO_SYM if out of memory. */
static size_t intern(gl_program *p, const char *s, size_t len)
{
    if (p->hash_cap) {
        size_t j = hash_bytes(s, len) & (p->hash_cap - 1);
        for (; p->hash[j]; j = (j + 1) & (p->hash_cap - 1)) {
            const sym *y = &p->syms[p->hash[j] - 1];
            if (y->len == len && memcmp(y->name, s, len) == 0) return p->hash[j] - 1;
        }
    }
    if ((p->n_syms + 1) * 2 > p->hash_cap && rehash(p, p->hash_cap ? p->hash_cap * 2 : 64)) return NO_SYM;
    if (grow(&p->syms, &p->cap_syms, p->n_syms + 1, sizeof *p->syms)) return NO_SYM;
    p->syms[p->n_syms] = (sym){s, len, NO_SYM, NO_SYM};
    size_t j = hash_bytes(s, len) & (p->hash_cap - 1);
    while (p->hash[j]) j = (j + 1) & (p->hash_cap - 1);
    p->hash[j] = p->n_syms + 1;
    return p->n_syms++;
}

/* ---- messages ----------------------------------------------------------- */

static int fail(char *err, size_t errlen, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return status;
}

/* s[0..len) printable on one line: at most 32 bytes, others as \xNN. */
static const char *show(const char *s, size_t len, char *buf, size_t n)
{
    size_t k = 0, i = 0;
    for (; i < len && i < 32 && k + 5 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            buf[k++] = (char)c;
        else
            k += (size_t)snprintf(buf + k, n - k, "\\x%02x", c);
    }
    if (i < len && k + 32 < n) k += (size_t)snprintf(buf + k, n - k, "... (%zu bytes)", len);
    buf[k < n ? k : n - 1] = 0;
    return buf;
}

static bool is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static bool is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* "column 7", or "line 2, column 7" in a program of several lines. */
static const char *where(const gl_program *p, size_t pos, char *buf, size_t n)
{
    size_t line = 1, col_start = 0;
    bool multi = memchr(p->src, '\n', p->len) != NULL;
    for (size_t i = 0; i < pos && i < p->len; i++)
        if (p->src[i] == '\n') line++, col_start = i + 1;
    if (multi)
        snprintf(buf, n, "line %zu, column %zu", line, pos - col_start + 1);
    else
        snprintf(buf, n, "column %zu", pos + 1);
    return buf;
}

/* ---- inputs ------------------------------------------------------------- */

static bool is_name(const char *s, size_t len)
{
    if (len == 0 || !is_alpha((unsigned char)s[0])) return false;
    for (size_t i = 1; i < len; i++)
        if (!is_alpha((unsigned char)s[i]) && !is_digit((unsigned char)s[i])) return false;
    return true;
}

int gl_add_input(gl_program *p, const char *arg, int argi, char *err, size_t errlen)
{
    char b1[160], b2[160];
    const char *eq = strchr(arg, '=');
    if (!eq)
        return fail(err, errlen, GL_USER, "malformed input '%s' (argument %d): expected name=value",
                    show(arg, strlen(arg), b1, sizeof b1), argi);
    size_t nlen = (size_t)(eq - arg);
    if (!is_name(arg, nlen))
        return fail(err, errlen, GL_USER,
                    "malformed input '%s' (argument %d): '%s' is not a name (letters, digits and _, not a digit first)",
                    show(arg, strlen(arg), b1, sizeof b1), argi, show(arg, nlen, b2, sizeof b2));
    const char *num = eq + 1;
    char *end = NULL;
    double v = strtod(num, &end);
    if (end == num || *end != 0 || is_space((unsigned char)num[0]))
        return fail(err, errlen, GL_USER, "malformed input '%s' (argument %d): '%s' is not a number",
                    show(arg, strlen(arg), b1, sizeof b1), argi, show(num, strlen(num), b2, sizeof b2));
    if (grow(&p->inputs, &p->cap_inputs, p->n_inputs + 1, sizeof *p->inputs))
        return fail(err, errlen, GL_NOMEM, "out of memory");
    char *name = malloc(nlen + 1);
    if (!name) return fail(err, errlen, GL_NOMEM, "out of memory");
    memcpy(name, arg, nlen);
    name[nlen] = 0;
    size_t s = intern(p, name, nlen);
    if (s == NO_SYM) {
        free(name);
        return fail(err, errlen, GL_NOMEM, "out of memory");
    }
    if (p->syms[s].input != NO_SYM) {
        /* The symbol still spells the first copy; this one is not needed. */
        free(name);
        return fail(err, errlen, GL_USER, "input %s given twice (arguments %d and %d)",
                    show(arg, nlen, b1, sizeof b1), p->inputs[p->syms[s].input].argi, argi);
    }
    p->syms[s].input = p->n_inputs;
    p->inputs[p->n_inputs++] = (input){s, v, name, argi};
    return GL_OK;
}

/* ---- lexer -------------------------------------------------------------- */

typedef enum { T_NUM, T_NAME, T_OP, T_LPAREN, T_RPAREN, T_COMMA, T_SEMI, T_ASSIGN, T_END } tok_kind;

typedef struct {
    tok_kind kind;
    size_t pos, len;
    double num; /* T_NUM */
} token;

/* The token at *pos (after blanks and comments); moves *pos past it. */
static int lex(const gl_program *p, size_t *pos, token *tk, char *err, size_t errlen)
{
    const char *s = p->src;
    size_t i = *pos, n = p->len;
    char w[64], b[160];
    for (;;) {
        while (i < n && is_space((unsigned char)s[i])) i++;
        if (i < n && s[i] == '#') {
            while (i < n && s[i] != '\n') i++;
            continue;
        }
        break;
    }
    *tk = (token){T_END, i, 0, 0};
    if (i == n) {
        *pos = i;
        return GL_OK;
    }
    unsigned char c = (unsigned char)s[i];
    size_t j = i;
    if (is_alpha(c)) {
        while (j < n && (is_alpha((unsigned char)s[j]) || is_digit((unsigned char)s[j]))) j++;
        tk->kind = T_NAME;
    } else if (is_digit(c) || (c == '.' && i + 1 < n && is_digit((unsigned char)s[i + 1]))) {
        while (j < n && is_digit((unsigned char)s[j])) j++;
        if (j < n && s[j] == '.') {
            j++;
            while (j < n && is_digit((unsigned char)s[j])) j++;
        }
        if (j < n && (s[j] == 'e' || s[j] == 'E')) {
            size_t k = j + 1;
            if (k < n && (s[k] == '+' || s[k] == '-')) k++;
            if (k >= n || !is_digit((unsigned char)s[k]))
                return fail(err, errlen, GL_USER, "syntax error at %s: malformed number '%s': no digits after the exponent's 'e'",
                            where(p, i, w, sizeof w), show(s + i, k - i, b, sizeof b));
            j = k;
            while (j < n && is_digit((unsigned char)s[j])) j++;
        }
        /* strtod on a copy: on the source it could read on (0x1 is hex to it). */
        char small[64], *copy = j - i < sizeof small ? small : malloc(j - i + 1);
        if (!copy) return fail(err, errlen, GL_NOMEM, "out of memory");
        memcpy(copy, s + i, j - i);
        copy[j - i] = 0;
        tk->num = strtod(copy, NULL); /* overflow gives Infinity, as Python's float() */
        if (copy != small) free(copy);
        tk->kind = T_NUM;
    } else {
        j = i + 1;
        switch (c) {
        case '+': case '-': case '*': case '/': case '^': tk->kind = T_OP; break;
        case '(': tk->kind = T_LPAREN; break;
        case ')': tk->kind = T_RPAREN; break;
        case ',': tk->kind = T_COMMA; break;
        case ';': tk->kind = T_SEMI; break;
        case '=': tk->kind = T_ASSIGN; break;
        default:
            if (c >= 0x20 && c < 0x7f)
                return fail(err, errlen, GL_USER, "syntax error at %s: unexpected character '%c'", where(p, i, w, sizeof w), c);
            return fail(err, errlen, GL_USER, "syntax error at %s: unexpected byte 0x%02x", where(p, i, w, sizeof w), c);
        }
    }
    tk->len = j - i;
    *pos = j;
    return GL_OK;
}

/* "'foo'", "';'" or "the end of the program", for messages. */
static const char *describe(const gl_program *p, const token *tk, char *buf, size_t n)
{
    if (tk->kind == T_END) return "the end of the program";
    char b[160];
    snprintf(buf, n, "'%s'", show(p->src + tk->pos, tk->len, b, sizeof b));
    return buf;
}

/* ---- parser ------------------------------------------------------------- */

typedef enum { S_BIN, S_NEG, S_LPAREN, S_CALL } sop_kind;

typedef struct {
    uint8_t kind, fn;
    char op;     /* S_BIN: + - * / ^ */
    size_t argc; /* S_CALL: arguments seen so far */
    size_t pos;
} sop;

static int prec(const sop *o)
{
    if (o->kind == S_NEG) return 3;
    switch (o->op) {
    case '+': case '-': return 1;
    case '*': case '/': return 2;
    default: return 4; /* ^ */
    }
}

typedef struct {
    gl_program *p;
    sop *ops;
    size_t n_ops, cap_ops;
    size_t depth; /* values the current statement's code leaves on the stack */
    char *err;
    size_t errlen;
} parser;

static int emit(parser *ps, ins in)
{
    gl_program *p = ps->p;
    in.literal = p->n_code > 0 && p->code[p->n_code - 1].kind == I_NUM;
    if (grow(&p->code, &p->cap_code, p->n_code + 1, sizeof *p->code)) return fail(ps->err, ps->errlen, GL_NOMEM, "out of memory");
    p->code[p->n_code++] = in;
    if (in.kind == I_NUM || in.kind == I_VAR)
        ps->depth++;
    else if (in.kind == I_CALL)
        ps->depth -= in.argc - 1;
    else if (in.kind != I_NEG)
        ps->depth--;
    if (ps->depth > p->max_depth) p->max_depth = ps->depth;
    return GL_OK;
}

/* Pops the operator on top of the stack into the code. */
static int emit_top(parser *ps)
{
    sop o = ps->ops[--ps->n_ops];
    static const char bins[] = "+-*/^";
    static const uint8_t kinds[] = {I_ADD, I_SUB, I_MUL, I_DIV, I_POW};
    ins in = {.pos = o.pos};
    in.kind = o.kind == S_NEG ? I_NEG : kinds[strchr(bins, o.op) - bins];
    return emit(ps, in);
}

static int push(parser *ps, sop o)
{
    if (grow(&ps->ops, &ps->cap_ops, ps->n_ops + 1, sizeof *ps->ops)) return fail(ps->err, ps->errlen, GL_NOMEM, "out of memory");
    ps->ops[ps->n_ops++] = o;
    return GL_OK;
}

/* Pops operators down to the innermost '(' or call; 0 if there is none. */
static int pop_to_group(parser *ps, int *rc)
{
    while (ps->n_ops && ps->ops[ps->n_ops - 1].kind != S_LPAREN && ps->ops[ps->n_ops - 1].kind != S_CALL)
        if ((*rc = emit_top(ps))) return 0;
    *rc = GL_OK;
    return ps->n_ops > 0;
}

/* One expression from *pos up to its ';' or the end; *stop is that token. */
static int parse_expr(parser *ps, size_t *pos, token *stop)
{
    gl_program *p = ps->p;
    char w[64], d[192];
    int rc;
    bool want_operand = true;
    ps->n_ops = 0;
    ps->depth = 0;
    for (;;) {
        token tk;
        if ((rc = lex(p, pos, &tk, ps->err, ps->errlen))) return rc;
        if (want_operand) {
            if (tk.kind == T_NUM) {
                if ((rc = emit(ps, (ins){.kind = I_NUM, .pos = tk.pos, .num = tk.num}))) return rc;
                want_operand = false;
            } else if (tk.kind == T_NAME) {
                size_t after = *pos;
                token next;
                if ((rc = lex(p, &after, &next, ps->err, ps->errlen))) return rc;
                if (next.kind == T_LPAREN) { /* a call */
                    int fn = find_fn(p->src + tk.pos, tk.len);
                    if (fn < 0)
                        return fail(ps->err, ps->errlen, GL_USER, "unknown function %s at %s (known: %s)",
                                    describe(p, &tk, d, sizeof d), where(p, tk.pos, w, sizeof w), fn_names());
                    *pos = after;
                    size_t after2 = after;
                    if ((rc = lex(p, &after2, &next, ps->err, ps->errlen))) return rc;
                    if (next.kind == T_RPAREN)
                        return fail(ps->err, ps->errlen, GL_USER, "wrong number of arguments: %s at %s takes %d, got 0",
                                    fns[fn].name, where(p, tk.pos, w, sizeof w), fns[fn].min_args);
                    if ((rc = push(ps, (sop){.kind = S_CALL, .fn = (uint8_t)fn, .argc = 1, .pos = tk.pos}))) return rc;
                } else {
                    size_t s = intern(p, p->src + tk.pos, tk.len);
                    if (s == NO_SYM) return fail(ps->err, ps->errlen, GL_NOMEM, "out of memory");
                    if ((rc = emit(ps, (ins){.kind = I_VAR, .pos = tk.pos, .sym = s}))) return rc;
                    want_operand = false;
                }
            } else if (tk.kind == T_LPAREN) {
                if ((rc = push(ps, (sop){.kind = S_LPAREN, .pos = tk.pos}))) return rc;
            } else if (tk.kind == T_OP && p->src[tk.pos] == '-') {
                if ((rc = push(ps, (sop){.kind = S_NEG, .pos = tk.pos}))) return rc;
            } else if (tk.kind == T_OP && p->src[tk.pos] == '+') {
                /* unary plus: nothing to do */
            } else {
                return fail(ps->err, ps->errlen, GL_USER, "syntax error at %s: expected a number, a name or '(', got %s",
                            where(p, tk.pos, w, sizeof w), describe(p, &tk, d, sizeof d));
            }
            continue;
        }
        switch (tk.kind) {
        case T_OP: {
            sop o = {.kind = S_BIN, .op = p->src[tk.pos], .pos = tk.pos};
            int pr = prec(&o);
            bool right = o.op == '^';
            while (ps->n_ops) {
                const sop *top = &ps->ops[ps->n_ops - 1];
                if (top->kind == S_LPAREN || top->kind == S_CALL) break;
                int pt = prec(top);
                if (pt > pr || (pt == pr && !right)) {
                    if ((rc = emit_top(ps))) return rc;
                } else {
                    break;
                }
            }
            if ((rc = push(ps, o))) return rc;
            want_operand = true;
            break;
        }
        case T_RPAREN: {
            if (!pop_to_group(ps, &rc)) {
                if (rc) return rc;
                return fail(ps->err, ps->errlen, GL_USER, "syntax error at %s: unmatched ')'", where(p, tk.pos, w, sizeof w));
            }
            sop o = ps->ops[--ps->n_ops];
            if (o.kind == S_CALL) {
                int lo = fns[o.fn].min_args, hi = fns[o.fn].max_args;
                if (o.argc < (size_t)lo || o.argc > (size_t)hi) {
                    char want[32];
                    if (lo == hi)
                        snprintf(want, sizeof want, "%d", lo);
                    else
                        snprintf(want, sizeof want, "%d or %d", lo, hi);
                    return fail(ps->err, ps->errlen, GL_USER, "wrong number of arguments: %s at %s takes %s, got %zu",
                                fns[o.fn].name, where(p, o.pos, w, sizeof w), want, o.argc);
                }
                if ((rc = emit(ps, (ins){.kind = I_CALL, .fn = o.fn, .argc = o.argc, .pos = o.pos}))) return rc;
            }
            break;
        }
        case T_COMMA:
            if (!pop_to_group(ps, &rc) || ps->ops[ps->n_ops - 1].kind != S_CALL) {
                if (rc) return rc;
                return fail(ps->err, ps->errlen, GL_USER, "syntax error at %s: ',' outside a function call",
                            where(p, tk.pos, w, sizeof w));
            }
            ps->ops[ps->n_ops - 1].argc++;
            want_operand = true;
            break;
        case T_SEMI:
        case T_END:
            if (pop_to_group(ps, &rc)) {
                const sop *o = &ps->ops[ps->n_ops - 1];
                return fail(ps->err, ps->errlen, GL_USER, "syntax error at %s: '(' at %s is never closed",
                            where(p, tk.pos, d, sizeof d), where(p, o->kind == S_CALL ? o->pos + strlen(fns[o->fn].name) : o->pos, w, sizeof w));
            }
            if (rc) return rc;
            *stop = tk;
            return GL_OK;
        case T_ASSIGN:
            return fail(ps->err, ps->errlen, GL_USER,
                        "syntax error at %s: unexpected '=' (a statement binds with name = expr, at its start)",
                        where(p, tk.pos, w, sizeof w));
        default:
            return fail(ps->err, ps->errlen, GL_USER, "syntax error at %s: expected an operator, ',', ')' or ';', got %s",
                        where(p, tk.pos, w, sizeof w), describe(p, &tk, d, sizeof d));
        }
    }
}

int gl_parse(gl_program *p, const char *src, size_t len, char *err, size_t errlen)
{
    p->src = src;
    p->len = len;
    parser ps = {.p = p, .err = err, .errlen = errlen};
    size_t pos = 0;
    int rc = GL_OK;
    char w[64], b[160];
    for (;;) {
        token first, second;
        size_t at = pos;
        if ((rc = lex(p, &at, &first, err, errlen))) break;
        if (first.kind == T_END) break;
        if (first.kind == T_SEMI) { /* an empty statement */
            pos = at;
            continue;
        }
        stmt st = {.target = NO_SYM, .target_pos = first.pos, .first = p->n_code};
        if (first.kind == T_NAME) {
            size_t at2 = at;
            if ((rc = lex(p, &at2, &second, err, errlen))) break;
            if (second.kind == T_ASSIGN) {
                st.target = intern(p, p->src + first.pos, first.len);
                if (st.target == NO_SYM) {
                    rc = fail(err, errlen, GL_NOMEM, "out of memory");
                    break;
                }
                if (p->syms[st.target].assign_pos == NO_SYM) p->syms[st.target].assign_pos = first.pos;
                pos = at2;
            }
        }
        token stop = {T_END, 0, 0, 0};
        if ((rc = parse_expr(&ps, &pos, &stop))) break;
        st.end = p->n_code;
        if (grow(&p->stmts, &p->cap_stmts, p->n_stmts + 1, sizeof *p->stmts)) {
            rc = fail(err, errlen, GL_NOMEM, "out of memory");
            break;
        }
        p->stmts[p->n_stmts++] = st;
        if (stop.kind == T_END) break;
    }
    free(ps.ops);
    if (rc) return rc;
    if (p->n_stmts == 0) return fail(err, errlen, GL_USER, "empty program: nothing to differentiate");
    const stmt *last = &p->stmts[p->n_stmts - 1];
    if (last->target != NO_SYM) {
        const sym *y = &p->syms[last->target];
        return fail(err, errlen, GL_USER,
                    "the last statement must be an expression to differentiate, but '%s = ...' at %s binds a name",
                    show(y->name, y->len, b, sizeof b), where(p, last->target_pos, w, sizeof w));
    }
    return GL_OK;
}

/* ---- evaluator ---------------------------------------------------------- */

static wg_tensor *call(wg_tape *t, int fn, wg_tensor **a, size_t argc, bool literal)
{
    switch (fn) {
    case F_SIGMOID: return wg_nn_sigmoid(t, a[0]);
    case F_TANH: return wg_nn_tanh(t, a[0]);
    case F_RELU: return wg_nn_relu(t, a[0]);
    case F_LEAKY_RELU: return wg_nn_leaky_relu(t, a[0], argc > 1 ? wg_item(a[1]) : WG_NN_LEAKY_ALPHA);
    case F_ELU: return wg_nn_elu(t, a[0], argc > 1 ? wg_item(a[1]) : 1.0);
    case F_SILU: return wg_nn_silu(t, a[0]);
    case F_SOFTPLUS: return wg_nn_softplus(t, a[0]);
    case F_SOFTSIGN: return wg_nn_softsign(t, a[0]);
    case F_EXP: return wg_exp(t, a[0]);
    case F_LOG: return wg_log(t, a[0]);
    case F_SQRT: return wg_sqrt(t, a[0]);
    case F_ABS: return wg_abs(t, a[0]);
    case F_MAX:
    case F_MIN:
        if (isnan(wg_item(a[0])) || isnan(wg_item(a[1]))) return wg__add(t, a[0], a[1]); /* see the top */
        return fn == F_MAX ? wg__max(t, a[0], a[1]) : wg__min(t, a[0], a[1]);
    case F_POW: break;
    }
    /* a^b: the constant-exponent op when b depends on no input */
    if (wg_requires_grad(a[1])) return wg__pow(t, a[0], a[1]);
    double c = wg_item(a[1]);
    /* PyTorch computes x ** 0.5 as sqrt(x), which differs from pow at -0 and
     * -inf; sqrt's derivative 1/(2 y) equals its 0.5 * rsqrt(x) exactly. */
    if (literal && c == 0.5) return wg_sqrt(t, a[0]);
    return wg__pow_c(t, a[0], c);
}

int gl_eval(const gl_program *p, wg_tape *t, wg_dtype dt, const double *values, wg_tensor **out,
            wg_tensor **leaves, char *err, size_t errlen)
{
    char w[64], w2[64], b[160];
    int rc = GL_OK;
    wg_tensor **bind = calloc(p->n_syms ? p->n_syms : 1, sizeof *bind);
    wg_tensor **stack = malloc((p->max_depth ? p->max_depth : 1) * sizeof *stack);
    if (!bind || !stack) {
        rc = fail(err, errlen, GL_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < p->n_inputs; i++) {
        leaves[i] = wg_scalar(t, dt, values ? values[i] : p->inputs[i].value, true);
        if (!leaves[i]) {
            rc = fail(err, errlen, GL_NOMEM, "evaluation failed: %s", wg_tape_error(t) ? wg_tape_error(t) : "no leaf");
            goto done;
        }
        bind[p->inputs[i].sym] = leaves[i];
    }
    wg_tensor *v = NULL;
    for (size_t s = 0; s < p->n_stmts; s++) {
        const stmt *st = &p->stmts[s];
        size_t sp = 0;
        for (size_t k = st->first; k < st->end; k++) {
            const ins *in = &p->code[k];
            switch (in->kind) {
            case I_NUM: stack[sp++] = wg_scalar(t, dt, in->num, false); break;
            case I_VAR:
                if (!bind[in->sym]) {
                    const sym *y = &p->syms[in->sym];
                    if (y->assign_pos != NO_SYM && y->assign_pos > in->pos)
                        rc = fail(err, errlen, GL_USER, "unknown name %s at %s: it is used before the statement at %s binds it",
                                  show(y->name, y->len, b, sizeof b), where(p, in->pos, w, sizeof w),
                                  where(p, y->assign_pos, w2, sizeof w2));
                    else
                        rc = fail(err, errlen, GL_USER, "missing input %s (used at %s): give it as %s=VALUE",
                                  show(y->name, y->len, b, sizeof b), where(p, in->pos, w, sizeof w),
                                  show(y->name, y->len, b, sizeof b));
                    goto done;
                }
                stack[sp++] = bind[in->sym];
                break;
            case I_NEG: stack[sp - 1] = wg_neg(t, stack[sp - 1]); break;
            case I_CALL:
                sp -= in->argc;
                if (in->argc > 1 && (in->fn == F_LEAKY_RELU || in->fn == F_ELU) && wg_requires_grad(stack[sp + 1])) {
                    rc = fail(err, errlen, GL_USER, "%s at %s: alpha must be a number, not depend on an input",
                              fns[in->fn].name, where(p, in->pos, w, sizeof w));
                    goto done;
                }
                stack[sp] = call(t, in->fn, stack + sp, in->argc, in->literal);
                sp++;
                break;
            default: {
                wg_tensor *x = stack[sp - 2], *y = stack[sp - 1];
                wg_tensor *r = NULL;
                switch (in->kind) {
                case I_ADD: r = wg__add(t, x, y); break;
                case I_SUB: r = wg__sub(t, x, y); break;
                case I_MUL: r = wg__mul(t, x, y); break;
                case I_DIV: r = wg__div(t, x, y); break;
                default: r = call(t, F_POW, stack + sp - 2, 2, in->literal); break;
                }
                stack[sp - 2] = r;
                sp--;
            }
            }
            if (!stack[sp - 1]) {
                rc = fail(err, errlen, wg_tape_status(t) == WG_ERR_NOMEM ? GL_NOMEM : GL_USER,
                          "evaluation failed at %s: %s", where(p, in->pos, w, sizeof w),
                          wg_tape_error(t) ? wg_tape_error(t) : "no result");
                goto done;
            }
        }
        v = stack[0];
        if (st->target != NO_SYM) bind[st->target] = v;
    }
    *out = v;
done:
    free(bind);
    free(stack);
    return rc;
}
