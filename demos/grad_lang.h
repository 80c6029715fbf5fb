/* grad_lang.h: the expression language of demos/grad, on top of the tape.
 *
 * A program is statements separated by ';'.  `name = expr` binds a name
 * (rebinding is allowed and `c = c + 1` reads the old c); the last statement
 * is an expression, the function to differentiate.  Inputs are names given
 * from outside (name=value); they become scalar leaves that need a gradient.
 *
 * Parsing never recurses: the parser is an operator-precedence (shunting
 * yard) loop with an explicit stack that turns each statement into postfix
 * code, and the evaluator runs that code with a value stack.  So a program
 * nested 60,000 deep or 20,000 terms long costs memory, not C stack.
 *
 * Every function returns a status: 0 ok, 2 a user error (the message, one
 * line without the "grad: " prefix, is in err), 1 out of memory.
 */
#ifndef GRAD_LANG_H
#define GRAD_LANG_H

#include <stddef.h>

#include "wengert.h"

enum { GL_OK = 0, GL_NOMEM = 1, GL_USER = 2 };

typedef struct gl_program gl_program;

/* NULL only if malloc fails. */
gl_program *gl_new(void);
void gl_free(gl_program *p);

/* Adds the input "name=value" (argument number argi, for messages).  Errors:
 * a malformed argument, a bad number, a name given twice. */
int gl_add_input(gl_program *p, const char *arg, int argi, char *err, size_t errlen);
size_t gl_n_inputs(const gl_program *p);
const char *gl_input_name(const gl_program *p, size_t i);
double gl_input_value(const gl_program *p, size_t i);

/* Parses the program src[0..len) (it may hold NUL bytes; they are errors).
 * src must stay alive until gl_free.  Errors: syntax (with the column),
 * unknown function, wrong number of arguments, empty program. */
int gl_parse(gl_program *p, const char *src, size_t len, char *err, size_t errlen);

/* Records the program on t in dtype dt.  values[i] is input i's value (NULL:
 * the values given to gl_add_input).  On success *out is the result and
 * leaves[i] (room for gl_n_inputs) input i's leaf.  Errors: missing input,
 * a name used before the statement that binds it, a tape error. */
int gl_eval(const gl_program *p, wg_tape *t, wg_dtype dt, const double *values, wg_tensor **out,
            wg_tensor **leaves, char *err, size_t errlen);

/* The functions the language knows, one per line, for --help. */
const char *gl_function_help(void);

#endif
