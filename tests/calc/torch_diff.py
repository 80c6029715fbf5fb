"""Differential test: demos/grad against PyTorch float64 autograd.

usage: torch_diff.py GRAD core|act [N_PROGRAMS] [SEED]

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


NOT_RANDOM = set()

ACTIVATIONS = {
    "sigmoid": sigmoid_ref, "tanh": lambda x: tanh_ref(x), "relu": torch.relu, "silu": F.silu,
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


def power(a, b_tree, env):
    if b_tree[0] == "num":
        return libm(torch.pow(a, b_tree[1]))  # a Python float: PyTorch's pow(Tensor, Scalar)
    return libm(torch.pow(a, evaluate(b_tree, env)))


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


def jittered(inputs, values, stmts, final, seed):
    global JITTER
    JITTER = random.Random(seed)
    try:
        return reference(inputs, values, stmts, final)
    finally:
        JITTER = None


def agree(got, want, spread):
    """0 no, 1 yes within 1e-10 relative, 2 yes only with the conditioning term."""
    if math.isnan(want) or math.isnan(got):
        return int(math.isnan(want) and math.isnan(got))
    if math.isinf(want) or math.isinf(got):
        return int(got == want)
    err, scale = abs(got - want), max(abs(got), abs(want))
    if err <= RTOL * scale:
        return 1
    return 2 if err <= RTOL * scale + 4 * spread else 0


def main():
    grad, which = sys.argv[1], sys.argv[2]
    gen = {"core": expr, "act": expr_act}[which]
    n_programs = int(sys.argv[3]) if len(sys.argv) > 3 else 400
    if os.environ.get("WG_TEST_SMALL", "0") not in ("", "0"):
        n_programs = max(1, n_programs // 5)  # the ThreadSanitizer pass: each run of grad is slow there
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 20261122
    rng = random.Random(seed)
    failures = 0
    counts = {"nonfinite": 0, "numbers": 0, "conditioned": 0}
    for k in range(n_programs):
        inputs, values, stmts, final, text = program(rng, gen)
        argv = [grad, "--json", "--", text] + ["%s=%r" % (n, values[n]) for n in inputs]
        run = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        where = "program %d: grad --json %r %s" % (k, text, " ".join(argv[4:]))
        if run.returncode != 0:
            print("FAIL %s: exit %d: %s" % (where, run.returncode, run.stderr.strip()))
            failures += 1
            continue
        got = json.loads(run.stdout)
        if list(got) != ["value", "grad"] or list(got["grad"]) != inputs:
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
        for i, (what, g, w) in enumerate(zip(names, ours, theirs)):
            spread = max(abs(o[i] - w) if math.isfinite(o[i] - w) else 0 for o in others)
            counts["numbers"] += 1
            counts["nonfinite"] += not math.isfinite(w)
            verdict = agree(g, w, spread)
            counts["conditioned"] += verdict == 2
            if not verdict:
                print("FAIL %s: %s = %r, torch says %r (one-ulp spread %g)" % (where, what, g, w, spread))
                failures += 1
    print("torch_diff %s: %d programs (seed %d), %d numbers compared (%d non-finite, %d ill-conditioned "
          "within 1e-10 + 4 x their one-ulp spread), %d failed"
          % (which, n_programs, seed, counts["numbers"], counts["nonfinite"], counts["conditioned"], failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
