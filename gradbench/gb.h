/* gb.h: the pieces of wengert-gradbench shared by the protocol loop (main.c)
 * and the evals (evals.c).  Public wengert headers only. */
#ifndef GB_H
#define GB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <wengert.h>

/* A growing output buffer for one JSON response line. */
typedef struct {
    char *buf;
    size_t len, cap;
    bool oom;
} gb_out;

void gb_raw(gb_out *o, const char *s, size_t n);
void gb_str(gb_out *o, const char *s);     /* raw text, NUL-terminated */
void gb_qstr(gb_out *o, const char *s);    /* a quoted, escaped JSON string */
void gb_num(gb_out *o, double v);          /* shortest round-trip form; null if not finite */
void gb_int(gb_out *o, long long v);
void gb_nums(gb_out *o, const double *v, size_t n); /* [v0,v1,...] */

/* One evaluate request, prepared: `run` is timed (it records on `t`, which it
 * resets first, and leaves the result in the job's state); `write` prints the
 * output value of the last run.  `run` returns 0, or -1 with the error in err. */
typedef struct gb_job {
    void *st;
    int (*run)(struct gb_job *j, wg_tape *t);
    void (*write)(struct gb_job *j, gb_out *o);
    void (*free)(struct gb_job *j);
    char err[512];
} gb_job;

/* The modules this tool implements, and whether one of them has `function`. */
bool gb_module_known(const char *module);
/* Parses `input` for module/function into job; 0, or -1 with job->err set. */
int gb_prepare(const char *module, const char *function, const cJSON *input, gb_job *job);
/* particle and saddle (nested.c), for evals.c's module table */
int gb_particle_prepare(const char *fn, const cJSON *in, gb_job *j);
int gb_saddle_prepare(const char *fn, const cJSON *in, gb_job *j);
/* ht (ht.c) */
int gb_ht_prepare(const char *fn, const cJSON *in, gb_job *j);
/* "hello lse ..." */
const char *gb_module_list(void);

#endif
