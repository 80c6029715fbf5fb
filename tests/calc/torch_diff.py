"""Differential test: demos/grad against PyTorch float64 autograd.

usage: torch_diff.py GRAD core|act [N_PROGRAMS] [SEED] [--hessian]

A seeded generator writes random programs as a syntax tree: "core" uses every
operator and function of the core language (rebinding, nesting, unary minus
in every position, numbers in every spelling; NaN and infinities are
frequent), "act" the activations inside arithmetic that stays finite, with
inputs of +-1000 among the others.  The tree is rendered to text with only the parentheses the
grammar needs (plus some redundant ones), run through `grad --json`, and
evaluated independently from the tree with torch in float64; value and every
gradient must agree to 1e-10 relative.  Non-finite numbers must match exactly
(both NaN, or the same infinity).

The reference follows PyTorch except for one documented rule of wengert: on a
tie, max/min send the whole gradient to the second argument (PyTorch splits
it).  Random inputs make ties rare; the reference expresses that rule with
torch.where so that a tie, when it happens, is compared too.

With --hessian, `grad --json --hessian` is run and its "hessian" is compared
too, with torch.autograd.functional.hessian on the same tree, to 1e-8
relative (plus 1e-13 times the size of a second derivative at that point,
the largest of max |H|, |f| / x^2 and |g| / x with x the largest input (at
least 1), for entries that are rounding noise around 0 in both).  Second derivatives are compared for the
programs whose value and gradient are finite: where a NaN or an infinity
flows through the backward pass, PyTorch's conventions (NaN from the branch a
torch.where discards) and wengert's (NaN from a 0/1 mask times an infinite
cotangent) differ at second order, and the calculator's tests in
test_calc.c pin down the cases that matter.  The reference differentiates
general a^b through its textbook partials (PowSecondOrder says why PyTorch's
own pow double backward is wrong at b = 0), and a constant exponent as
PyTorch's pow(Tensor, Scalar), as the calculator records it.

Exits 77 (meson's "skipped") when torch is not installed:
scripts/deps --with-torch installs it.
"""
import json
import math
import random
import subprocess
import os
import sys

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("torch_diff: SKIP: python3 has no torch (scripts/deps --with-torch installs python3-torch)")
    sys.exit(77)

RTOL = 1e-10
RTOL_H = 1e-8  # second derivatives (--hessian)
ATOL_H = 1e-13  # ... plus this times the largest entry of the Hessian
F64 = torch.float64

# ---- the syntax tree ------------------------------------------------------
# ("num", value, text) ("var", name) ("neg", e) ("bin", op, a, b) ("call", fn, [args])

UNARY_FNS = ["exp", "log", "sqrt", "abs"]
BINARY_FNS = ["max", "min", "pow"]


# The activations, with PyTorch's own functions as the reference, except two
# whose kernels are approximations: torch.sigmoid's gradient is (1 - y) y
# with y rounded first, off by more than 1e-10 relative for x > 15 (3.6e-8 at
# x = 20, all of it at x = 40), and F.softplus returns x above its threshold
# 20 (gradient 1, not 1 - 7.6e-10 at x = 21).  For those the reference is
# torch's autograd through the exact formula max(x, 0) + log1p(e^-|x|)
# (torch.logaddexp is no help: it computes log(1 + e^-|d|), 0 for d < -37).
def softplus_ref(x):
    m = torch.where(x > 0, x, torch.zeros_like(x))
    return m + torch.log1p(torch.exp(x - 2 * m))


def sigmoid_ref(x):
    return torch.exp(-softplus_ref(-x))


def elu_ref(x, a=1.0):
    """ELU with the exact value a*expm1(x) and the exact derivative a*e^x for
    x <= 0.  F.elu computes exp(x) - 1, which loses relative precision for
    tiny negative x, and torch.expm1's derivative (result + 1) underflows to
    0 in the left tail; the detached correction keeps both exact.  The left
    piece sees x clamped to <= 0 so that torch.where's unused branch cannot
    turn 0 * exp(1000) into a NaN gradient."""
    xn = x.clamp(max=0.0)
    plain = a * (torch.exp(xn) - 1)
    neg = plain + (a * torch.expm1(xn) - plain).detach()
    return torch.where(x > 0, x, neg)


def silu_ref(x):
    """F.silu; for second derivatives x sigmoid(x) with the exact sigmoid:
    F.silu's double backward, s (1 - s) (2 + x (1 - 2 s)), loses 1 - s to
    rounding for large x (silu''(30) is -2.62013e-12; it says -2.61746e-12,
    1e-3 off, and 3e-9 off at x = 17)."""
    return x * sigmoid_ref(x) if SECOND_ORDER else F.silu(x)


NOT_RANDOM = set()

ACTIVATIONS = {
    "sigmoid": sigmoid_ref, "tanh": lambda x: tanh_ref(x), "relu": torch.relu, "silu": silu_ref,
    "softplus": softplus_ref, "softsign": F.softsign,
    "leaky_relu": lambda x, a=0.01: F.leaky_relu(x, a), "elu": elu_ref,
}


def number(rng):
    """A non-negative literal and its exact value (the text is what float() reads)."""
    v = rng.choice([rng.uniform(0, 3), rng.randint(0, 4), rng.choice([0.5, 0.25, 2.0, 1e-3, 1e2])])
    style = rng.randrange(6)
    if style == 0:
        text = repr(float(v))
    elif style == 1:
        text = "%.6g" % v
    elif style == 2:
        text = "%.3e" % v
    elif style == 3:
        text = "%.4E" % v
    elif style == 4 and v == int(v):
        text = "%d" % v
    elif style == 5 and 0 < v < 1:
        text = ("%.5f" % v)[1:]  # ".12345"
    else:
        text = "%.17g" % v
    if "e" not in text.lower() and "." not in text and rng.random() < 0.2:
        text += "."  # "3." reads as 3
    return ("num", float(text), text)


def expr(rng, names, depth):
    """Any expression of the core language: NaN and infinities come up often."""
    if depth <= 0 or rng.random() < 0.25:
        if names and rng.random() < 0.7:
            return ("var", rng.choice(names))
        return number(rng)
    r = rng.random()
    if r < 0.12:
        return ("neg", expr(rng, names, depth - 1))
    if r < 0.55:
        op = rng.choice("+-*/^")
        a = expr(rng, names, depth - 1)
        if op == "^" and rng.random() < 0.5:
            b = number(rng) if rng.random() < 0.7 else ("neg", number(rng))  # x^2, x^-0.5
        else:
            b = expr(rng, names, depth - 1)
        return ("bin", op, a, b)
    if r < 0.8:
        return ("call", rng.choice(UNARY_FNS), [expr(rng, names, depth - 1)])
    fn = rng.choice(BINARY_FNS)
    return ("call", fn, [expr(rng, names, depth - 1), expr(rng, names, depth - 1)])


def expr_act(rng, names, depth):
    """Activations inside + - * and tanh/abs/max/min: finite everywhere (no
    log, sqrt, / or ^, whose NaN and infinities are expr's business), with
    inputs up to +-1000 for the extreme arguments."""
    if depth <= 0 or rng.random() < 0.2:
        if names and rng.random() < 0.75:
            return ("var", rng.choice(names))
        return number(rng)
    r = rng.random()
    if r < 0.1:
        return ("neg", expr_act(rng, names, depth - 1))
    if r < 0.35:
        return ("bin", rng.choice("+-*"), expr_act(rng, names, depth - 1), expr_act(rng, names, depth - 1))
    if r < 0.45:
        fn = rng.choice(["abs", "max", "min"])
        return ("call", fn, [expr_act(rng, names, depth - 1) for _ in range(1 if fn == "abs" else 2)])
    fn = rng.choice(sorted(set(ACTIVATIONS) - NOT_RANDOM))
    args = [expr_act(rng, names, depth - 1)]
    if fn in ("leaky_relu", "elu") and rng.random() < 0.5:
        args.append(number(rng))  # alpha, a number
    return ("call", fn, args)


# ---- rendering with the grammar's precedence ------------------------------
# levels: 1 + -, 2 * /, 3 unary minus, 4 ^, 5 atoms and calls

def render(rng, e):
    """(text, level) of e; parentheses only where the grammar needs them, plus a few."""
    kind = e[0]
    if kind == "num":
        text, level = e[2], 5
    elif kind == "var":
        text, level = e[1], 5
    elif kind == "call":
        text = e[1] + "(" + ", ".join(render(rng, a)[0] for a in e[2]) + ")"
        level = 5
    elif kind == "neg":
        text, level = "-" + wrap(rng, e[1], 3), 3
    else:
        op, a, b = e[1], e[2], e[3]
        if op in "+-":
            level, la, lb = 1, 1, 2
        elif op in "*/":
            level, la, lb = 2, 2, 3
        else:
            level, la, lb = 4, 5, 3  # base is an atom; the exponent a factor (right-assoc)
        space = " " if rng.random() < 0.5 else ""
        text = wrap(rng, a, la) + space + op + space + wrap(rng, b, lb)
    if rng.random() < 0.05:
        text, level = "(" + text + ")", 5
    return text, level


def wrap(rng, e, need):
    text, level = render(rng, e)
    return text if level >= need else "(" + text + ")"


# ---- the torch reference --------------------------------------------------

def tmax(a, b):
    return torch.where(a == b, b, torch.maximum(a, b))


def tmin(a, b):
    return torch.where(a == b, b, torch.minimum(a, b))


def const(v):
    return torch.tensor(v, dtype=F64)


# Conditioning.  PyTorch's exp, log and tanh differ from glibc's (which
# wengert uses) by one ulp for a few percent of arguments, and some programs
# amplify that far beyond 1e-10: tanh'(x) = 1 - tanh(x)^2 at x = 10 turns one
# ulp of tanh into 1e-8 relative.  So the reference runs a second and third
# time with every libm result moved by one ulp (a random sign, seeded); a
# number whose reference moves by d this way is compared with a tolerance of
# 1e-10 relative plus 4 d.  Well-conditioned numbers (d = 0, or tiny) keep
# the plain 1e-10; the summary line says how many needed the extra.
JITTER = None  # a random.Random while a jittered reference runs


def libm(r):
    if JITTER is None:
        return r
    return r * (1 + JITTER.choice((-1, 1)) * 2.0 ** -52)


class JitteredTanh(torch.autograd.Function):
    """tanh moved by one ulp, with PyTorch's backward g (1 - y^2) on the moved
    y: that product, not the forward value, is where one ulp grows."""

    @staticmethod
    def forward(ctx, x):
        y = libm(torch.tanh(x))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (1 - y * y)


def tanh_ref(x):
    return torch.tanh(x) if JITTER is None else JitteredTanh.apply(x)


def evaluate(e, env):
    kind = e[0]
    if kind == "num":
        return const(e[1])
    if kind == "var":
        return env[e[1]]
    if kind == "neg":
        return -evaluate(e[1], env)
    if kind == "bin":
        op = e[1]
        a = evaluate(e[2], env)
        if op == "^":
            return power(a, e[3], env)
        b = evaluate(e[3], env)
        return {"+": torch.add, "-": torch.sub, "*": torch.mul, "/": torch.div}[op](a, b)
    fn, args = e[1], e[2]
    if fn == "pow":
        return power(evaluate(args[0], env), args[1], env)
    if fn in ACTIVATIONS:
        y = ACTIVATIONS[fn](evaluate(args[0], env), *[a[1] for a in args[1:]])
        return y if fn == "tanh" else libm(y)
    xs = [evaluate(a, env) for a in args]
    if fn == "max":
        return tmax(*xs)
    if fn == "min":
        return tmin(*xs)
    return libm(getattr(torch, fn)(xs[0])) if fn in ("exp", "log") else getattr(torch, fn)(xs[0])


SECOND_ORDER = False  # True while the Hessian reference runs
ZERO_TO_ZERO = False  # set when it met a^b at a = b = 0, both depending on inputs


class PowSecondOrder(torch.autograd.Function):
    """a^b for the Hessian reference: PyTorch's value, with its first
    derivatives written as the textbook partials b a^(b-1) and a^b log a,
    which torch then differentiates again.  PyTorch's own pow double backward
    differentiates its zero rules, torch.where(b == 0, 0, ...) and
    torch.where((a == 0) & (b >= 0), 0, ...), and so gets
      - the mixed partial d2/da db = a^(b-1) (1 + b log a) wrong at b = 0:
        0 instead of 1/a (e^(zy) at y = 0 has d2/dz dy = 1, torch says 0);
      - NaN where the branch it discards is infinite (0^y for y > 0 is 0,
        its second derivative in y is 0, torch says NaN: the where's zero
        gradient times log(0)).
    At a = 0 and b >= 0 the partial in b keeps PyTorch's (and wengert's)
    zero: log(a + [a == 0 and b >= 0]) is log(1) = 0 there.  0^0 with both
    a and b depending on inputs (x^x at 0) has no derivative at all: such
    programs are not compared at second order (ZERO_TO_ZERO)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return torch.pow(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        zero = ((a == 0) & (b >= 0)).to(a.dtype)
        ga = g * (b * PowSecondOrder.apply(a, b - 1))
        gb = g * (PowSecondOrder.apply(a, b) * torch.log(a + zero))
        return ga, gb


def power(a, b_tree, env):
    if b_tree[0] == "num":
        return libm(torch.pow(a, b_tree[1]))  # a Python float: PyTorch's pow(Tensor, Scalar)
    b = evaluate(b_tree, env)
    if SECOND_ORDER and b.requires_grad:
        global ZERO_TO_ZERO
        ZERO_TO_ZERO |= bool(((a == 0) & (b == 0)).any())
        return libm(PowSecondOrder.apply(a, b))
    if SECOND_ORDER:
        # an exponent that depends on no input is the constant-exponent op in
        # the calculator: pow(Tensor, Scalar), whose zero rule at b = 0 has no
        # discarded branch to turn into NaN at second order (pow(Tensor,
        # Tensor)'s torch.where does: x^-0.0 at x = 0 would get NaN, not 0)
        return libm(torch.pow(a, b.item()))
    return libm(torch.pow(a, b))


# ---- programs --------------------------------------------------------------

INPUT_NAMES = ["x", "y", "z", "w", "x1", "x2", "alpha_2", "_t"]


def input_value(rng):
    r = rng.random()
    if r < 0.08:
        return 0.0
    if r < 0.16:
        return float(rng.choice([1, -1, 2, 0.5]))
    if r < 0.2:
        return float(rng.choice([1000, -1000]))  # extreme arguments
    if r < 0.3:
        return rng.uniform(-30, 30)
    return rng.uniform(-3, 3)


def program(rng, gen):
    inputs = rng.sample(INPUT_NAMES, rng.randint(1, 4))
    values = {n: input_value(rng) for n in inputs}
    names = list(inputs)
    stmts = []
    for _ in range(rng.choice([0, 0, 1, 2, 3, 4])):
        r = rng.random()
        if r < 0.4 and len(stmts):
            target = rng.choice([s[0] for s in stmts])  # rebinding, may read itself
        elif r < 0.55:
            target = rng.choice(inputs)  # rebinding an input
        else:
            target = "t%d" % len(stmts)
        stmts.append((target, gen(rng, names, rng.randint(1, 4))))
        if target not in names:
            names.append(target)
    final = gen(rng, names, rng.randint(1, 6 if gen is expr else 4))
    seps = [";", "; ", " ;\n"]
    text = "".join(t + " = " + render(rng, e)[0] + rng.choice(seps) for t, e in stmts) + render(rng, final)[0]
    return inputs, values, stmts, final, text


def reference(inputs, values, stmts, final):
    leaves = {n: torch.tensor(values[n], dtype=F64, requires_grad=True) for n in inputs}
    env = dict(leaves)
    for target, e in stmts:
        env[target] = evaluate(e, env)
    out = evaluate(final, env)
    grads = {n: 0.0 for n in inputs}
    if out.requires_grad:
        gs = torch.autograd.grad(out, [leaves[n] for n in inputs], allow_unused=True)
        grads = {n: (0.0 if g is None else g.item()) for n, g in zip(inputs, gs)}
    return out.item(), grads


def reference_hessian(inputs, values, stmts, final):
    """The Hessian {a: {b: d2/da db}} by torch.autograd.functional.hessian."""
    def f(*xs):
        env = dict(zip(inputs, xs))
        for target, e in stmts:
            env[target] = evaluate(e, env)
        out = evaluate(final, env)
        # a program that depends on no input is a constant; hessian() wants
        # an output connected to its inputs (its Hessian is 0 either way)
        return out if out.requires_grad else out + 0 * xs[0]
    global SECOND_ORDER, ZERO_TO_ZERO
    xs = tuple(torch.tensor(values[n], dtype=F64) for n in inputs)
    SECOND_ORDER, ZERO_TO_ZERO = True, False
    try:
        h = torch.autograd.functional.hessian(f, xs)
    finally:
        SECOND_ORDER = False
    if ZERO_TO_ZERO:
        return None
    return {a: {b: h[i][j].item() for j, b in enumerate(inputs)} for i, a in enumerate(inputs)}


def jittered(inputs, values, stmts, final, seed, fn=reference):
    global JITTER
    JITTER = random.Random(seed)
    try:
        return fn(inputs, values, stmts, final)
    finally:
        JITTER = None


def agree(got, want, spread, rtol=RTOL):
    """0 no, 1 yes within rtol relative, 2 yes only with the conditioning term."""
    if math.isnan(want) or math.isnan(got):
        return int(math.isnan(want) and math.isnan(got))
    if math.isinf(want) or math.isinf(got):
        return int(got == want)
    err, scale = abs(got - want), max(abs(got), abs(want))
    if err <= rtol * scale:
        return 1
    return 2 if err <= rtol * scale + 4 * spread else 0


def main():
    args = [a for a in sys.argv[1:] if a != "--hessian"]
    hessian = len(args) < len(sys.argv) - 1
    grad, which = args[0], args[1]
    gen = {"core": expr, "act": expr_act}[which]
    n_programs = int(args[2]) if len(args) > 2 else 400
    if os.environ.get("WG_TEST_SMALL", "0") not in ("", "0"):
        n_programs = max(1, n_programs // 5)  # the ThreadSanitizer pass: each run of grad is slow there
    seed = int(args[3]) if len(args) > 3 else 20261122
    rng = random.Random(seed)
    failures = 0
    counts = {"nonfinite": 0, "numbers": 0, "conditioned": 0, "second": 0, "skipped": 0, "0^0": 0}
    opts = ["--json", "--hessian"] if hessian else ["--json"]
    for k in range(n_programs):
        inputs, values, stmts, final, text = program(rng, gen)
        argv = [grad] + opts + ["--", text] + ["%s=%r" % (n, values[n]) for n in inputs]
        run = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        where = "program %d: grad %s %r %s" % (k, " ".join(opts), text, " ".join(argv[len(opts) + 3:]))
        if run.returncode != 0:
            print("FAIL %s: exit %d: %s" % (where, run.returncode, run.stderr.strip()))
            failures += 1
            continue
        got = json.loads(run.stdout)
        keys = ["value", "grad", "hessian"] if hessian else ["value", "grad"]
        if list(got) != keys or list(got["grad"]) != inputs or (
                hessian and (list(got["hessian"]) != inputs or any(list(r) != inputs for r in got["hessian"].values()))):
            print("FAIL %s: wrong keys in %s" % (where, run.stdout.strip()))
            failures += 1
            continue
        want = reference(inputs, values, stmts, final)
        moved = [jittered(inputs, values, stmts, final, seed * 1000 + k * 2 + j) for j in range(2)]

        def numbers(value, grads):
            return [value] + [grads[n] for n in inputs]

        names = ["value"] + ["d/d" + n for n in inputs]
        ours, theirs = numbers(got["value"], got["grad"]), numbers(*want)
        others = [numbers(*m) for m in moved]
        tols = [RTOL] * len(names)
        h_ref = reference_hessian(inputs, values, stmts, final) if hessian else None
        compare = h_ref is not None and all(math.isfinite(w) for w in theirs)
        counts["skipped"] += hessian and not compare
        counts["0^0"] += hessian and h_ref is None
        if compare:
            def entries(h):
                return [h[a][b] for a in inputs for b in inputs]
            names += ["d2/d%s d%s" % (a, b) for a in inputs for b in inputs]
            ours += entries(got["hessian"])
            theirs += entries(h_ref)
            for j, o in enumerate(others):
                o += entries(jittered(inputs, values, stmts, final, seed * 1000 + k * 2 + j, reference_hessian) or h_ref)
            tols += [RTOL_H] * (len(inputs) ** 2)
            # an entry that is a sum of terms cancelling to (nearly) 0 is
            # rounding noise in both: judged against the size of a second
            # derivative here, the Hessian's largest entry or f / x^2, g / x
            xmax = max([1.0] + [abs(values[n]) for n in inputs])
            floor = ATOL_H * max([abs(w) for w in theirs[len(inputs) + 1:]] + [abs(theirs[0]) / xmax ** 2] +
                                 [abs(w) / xmax for w in theirs[1:len(inputs) + 1]])
        for i, (what, g, w) in enumerate(zip(names, ours, theirs)):
            spread = max(abs(o[i] - w) if math.isfinite(o[i] - w) else 0 for o in others)
            if tols[i] == RTOL_H:
                spread += floor / 4
            counts["numbers"] += 1
            counts["second"] += tols[i] == RTOL_H
            counts["nonfinite"] += not math.isfinite(w)
            verdict = agree(g, w, spread, tols[i])
            counts["conditioned"] += verdict == 2
            if not verdict:
                print("FAIL %s: %s = %r, torch says %r (one-ulp spread %g)" % (where, what, g, w, spread))
                failures += 1
    second = ""
    if hessian:
        second = ("%d of them second derivatives, to %g relative + %g x max(|H|, |f|/x^2, |g|/x), of the %d programs "
                  "whose value and gradient are finite and meet no 0^0 (%d met one); "
                  % (counts["second"], RTOL_H, ATOL_H, n_programs - counts["skipped"], counts["0^0"]))
    print("torch_diff %s%s: %d programs (seed %d), %d numbers compared (%s%d non-finite, "
          "%d ill-conditioned within the tolerance + 4 x their one-ulp spread), %d failed"
          % (which, " --hessian" if hessian else "", n_programs, seed, counts["numbers"], second,
             counts["nonfinite"], counts["conditioned"], failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
