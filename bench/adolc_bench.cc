// adolc_bench: bench/compare's ADOL-C worker (Debian's libadolc-dev, its
// adouble tape), for the scalar workloads.  The same protocol as wg_bench.c:
// one command a line on stdin, one JSON line on stdout.
//
//   run NAME N   N iterations of a workload -> {"value": ns per op (or per
//                evaluation), "bytes_per_op": tape bytes / ops (seed_expression:
//                the tape's bytes), "extra": checksum}
//   info | quit
//
// Workloads, the same programs as wg_bench.c's, in double:
//   chain_record_<ops>   y = x, then <ops> ops alternating y*a and y+b (ops is
//                        1e3, 1e5, 1e6 or 1e7), taped (trace_on with keep = 1,
//                        so the values a reverse sweep needs are kept) and
//                        differentiated with one reverse sweep (fos_reverse):
//                        ADOL-C's fastest record-then-gradient
//   chain_replay_<ops>   the tape of chain_record_<ops> taped once, then
//                        gradient(tag, ...) at new x, a, b each iteration (a
//                        forward sweep over the tape, then the reverse sweep)
//   seed_expression      (2 x1 + 3 x2)^2 + 3 taped, evaluated and differentiated
//
// Bytes per op: what the tape holds for a chain, from tapestats: one byte per
// operation code, a locint per location, a double per value and per entry of
// the value (Taylor) stack the reverse sweep reads, and a double per live
// location for the adjoints during the sweep; divided by the chain's ops.
// The chain's buffers are sized to its tape (trace_on's buffer arguments),
// so that even a 1e7-op tape stays in memory and "op file access" is 0
// (reported as "in_memory").
#include <adolc/adolc.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

static double now()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

static volatile double sink;
static const short TAG_CHAIN = 1, TAG_SEED = 2, TAG_REPLAY = 3;

// Tapes y = x; ops ops of y*a, y+b alternating; output y.  Returns y.
static double tape_chain(short tag, long ops, double xv, double av, double bv)
{
    // Buffers sized to the tape, so that it stays in memory (no tape files)
    // and a small tape does not pay for large buffers.
    unsigned o = unsigned(ops) + 1024;
    trace_on(tag, 1, o, 4 * o, o, 2 * o);
    adouble x, a, b;
    x <<= xv;
    a <<= av;
    b <<= bv;
    adouble y = x;
    for (long i = 0; i < ops; i += 2) {
        y = y * a;
        y = y + b;
    }
    double yv;
    y >>= yv;
    trace_off();
    return yv;
}

static double chain_record(long ops)
{
    tape_chain(TAG_CHAIN, ops, 0.5, 0.9999, 0.0001);
    double u[1] = {1.0}, g[3];
    fos_reverse(TAG_CHAIN, 1, 3, u, g);
    return g[0] + g[1] + g[2];
}

static double chain_replay(long ops, long i)
{
    double x[3] = {0.5 + 1e-3 * double(i & 7), 0.9999, 0.0001}, g[3];
    gradient(TAG_REPLAY, 3, x, g);
    (void)ops;
    return g[0] + g[1] + g[2];
}

static double seed_expression(double x1v, double x2v)
{
    trace_on(TAG_SEED, 1);
    adouble x1, x2;
    x1 <<= x1v;
    x2 <<= x2v;
    adouble s = 2 * x1 + 3 * x2;
    adouble f = pow(s, 2) + 3;
    double fv;
    f >>= fv;
    trace_off();
    double u[1] = {1.0}, g[2];
    fos_reverse(TAG_SEED, 1, 2, u, g);
    return fv + g[0] + g[1];
}

static bool in_memory = true;

static double tape_bytes(short tag)
{
    size_t st[STAT_SIZE];
    tapestats(tag, st);
    in_memory = in_memory && !st[OP_FILE_ACCESS];
    return double(st[NUM_OPERATIONS]) * 1 + double(st[NUM_LOCATIONS]) * sizeof(locint) +
           double(st[NUM_VALUES]) * sizeof(double) + double(st[TAY_STACK_SIZE]) * sizeof(double) +
           double(st[NUM_MAX_LIVES]) * sizeof(double);
}

// "chain_record_1e5" -> 100000; 0 if not a chain of that kind.
static long chain_ops(const char *name, const char *prefix)
{
    size_t k = strlen(prefix);
    if (strncmp(name, prefix, k) != 0) return 0;
    char *end;
    double v = strtod(name + k, &end);
    return *end || v < 2 || v > 1e9 ? 0 : long(v);
}

// The time of n iterations in its unit, and the tape's bytes per op; NAN if unknown.
static double run(const char *name, long n, double *bpo, double *extra)
{
    *bpo = *extra = -1;
    long ops;
    double t0;
    if ((ops = chain_ops(name, "chain_record_"))) {
        sink = chain_record(ops); // untimed, as on every side
        t0 = now();
        for (long i = 0; i < n; i++) *extra = chain_record(ops);
        double dt = now() - t0;
        *bpo = tape_bytes(TAG_CHAIN) / double(ops);
        return dt / (double(n) * double(ops)) * 1e9;
    }
    if ((ops = chain_ops(name, "chain_replay_"))) {
        static long taped = 0;
        if (taped != ops) {
            tape_chain(TAG_REPLAY, ops, 0.5, 0.9999, 0.0001);
            taped = ops;
        }
        sink = chain_replay(ops, 0);
        t0 = now();
        for (long i = 0; i < n; i++) *extra = chain_replay(ops, i);
        double dt = now() - t0;
        *bpo = tape_bytes(TAG_REPLAY) / double(ops);
        return dt / (double(n) * double(ops)) * 1e9;
    }
    if (strcmp(name, "seed_expression") == 0) {
        sink = seed_expression(1.0, 3.0);
        t0 = now();
        for (long i = 0; i < n; i++) *extra = seed_expression(1.0 + double(i & 7), 3.0);
        double dt = now() - t0;
        *bpo = tape_bytes(TAG_SEED); // the whole tape: bytes per evaluation
        return dt / double(n) * 1e9;
    }
    return NAN;
}

int main()
{
    setvbuf(stdout, nullptr, _IOLBF, 0);
    char line[1200], cmd[32], arg[1024];
    while (fgets(line, sizeof line, stdin)) {
        long n = 0;
        arg[0] = 0;
        int k = sscanf(line, "%31s %1023s %ld", cmd, arg, &n);
        if (k < 1) continue;
        if (strcmp(cmd, "info") == 0) {
            printf("{\"adolc\": \"libadolc (its headers carry no version)\"}\n");
        } else if (strcmp(cmd, "run") == 0) {
            double bpo, extra, v = run(arg, n > 0 ? n : 1, &bpo, &extra);
            if (std::isnan(v))
                printf("{\"error\": \"unknown workload %s\"}\n", arg);
            else
                printf("{\"value\": %.6g, \"bytes_per_op\": %.4g, \"extra\": %.10g, \"in_memory\": %s}\n", v,
                       bpo, extra, in_memory ? "true" : "false");
        } else if (strcmp(cmd, "quit") == 0) {
            break;
        } else {
            printf("{\"error\": \"unknown command %s\"}\n", cmd);
        }
    }
    return 0;
}
