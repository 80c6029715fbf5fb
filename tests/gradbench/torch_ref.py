"""wengert-gradbench against an independent PyTorch float64 reference.

usage: torch_ref.py TOOL [SEED]

Drives the tool through GradBench's protocol (JSON lines on its stdin and
stdout, as GradBench's evals do) on small seeded inputs of every eval it
implements, and compares each output with a reference written here from the
mathematics, in torch float64 with torch's autograd:

  hello  x^2 and 2x
  lse    torch.logsumexp
  llsq   the sum written out
  det    torch.linalg.det (LU), not expansion by minors
  ode    RK4 written out with the per-component right-hand side
  gmm    torch.distributions: MultivariateNormal with precision Q^T Q and a
         Wishart prior with scale I/gamma^2 (the log-posterior's definition,
         as GradBench's naive gmm validator has it), not ADBench's formula
  lstm   the ADBench model written with torch.sigmoid / torch.tanh
  ba     Rodrigues' rotation with torch.sin / torch.cos, the 2x15 Jacobian
         of one observation by torch.autograd.functional.jacobian
  kmeans distances as differences (not wengert's |p|^2+|c|^2-2pc), the
         Hessian in full by torch.autograd.functional.hessian, its diagonal
  ht     a synthetic hand model (ht_model.py: ADBench's model files are not
         here); every rotation as I + sin K + (1 - cos) K^2 of a unit skew
         matrix K (the bones' as Rz Ry Rx of axis rotations), the jacobian by
         torch.autograd.functional.jacobian (us columns compressed as the
         eval's tools write them), and also against central differences of
         the tool's own objective in random directions
  particle, saddle  GradBench's descent; the inner derivatives from calculus,
         the outer one (through the whole trajectory / inner descent) by
         torch.autograd; every variant (rr rf fr ff) against the one answer,
         and the answers GradBench's evals hard-code for their inputs

Every number must agree to 1e-8 relative (elementwise, |a - b| <=
1e-8 (|b| + 1e-6 max|b|): an element that is zero up to the rounding of a
sum of larger terms is compared at that scale).  Structure (keys, lengths,
integers) must match exactly.  Then the protocol cases: malformed JSON,
unknown kind, unknown module or function, missing or mistyped fields,
min_runs/min_seconds, closed stdin, the "end" message.

Exits 77 (meson's "skipped") when torch is not installed.
"""
import json
import math
import os
import random
import subprocess
import sys
import time

try:
    import torch
except ImportError:
    print("torch_ref: SKIP: python3 has no torch (scripts/deps --with-torch installs python3-torch)")
    sys.exit(77)

F64 = torch.float64
RTOL = 1e-8
failures = []
checks = 0


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


def close(name, got, want):
    """Compare nested lists/dicts of numbers; returns nothing, records failures."""
    global checks
    flat_w = []

    def collect(w):
        if isinstance(w, dict):
            for v in w.values():
                collect(v)
        elif isinstance(w, list):
            for v in w:
                collect(v)
        elif isinstance(w, float):
            flat_w.append(abs(w))

    collect(want)
    scale = max(flat_w) if flat_w else 0.0

    def cmp(path, g, w):
        global checks
        if isinstance(w, dict):
            if not isinstance(g, dict) or set(g) != set(w):
                fail(f"{name}{path}: keys {sorted(g) if isinstance(g, dict) else type(g)} != {sorted(w)}")
                return
            for k in w:
                cmp(f"{path}.{k}", g[k], w[k])
        elif isinstance(w, list):
            if not isinstance(g, list) or len(g) != len(w):
                fail(f"{name}{path}: length {len(g) if isinstance(g, list) else type(g)} != {len(w)}")
                return
            for i, (a, b) in enumerate(zip(g, w)):
                cmp(f"{path}[{i}]", a, b)
        elif isinstance(w, int) and not isinstance(w, bool):
            checks += 1
            if g != w or isinstance(g, float) and g != float(w):
                fail(f"{name}{path}: {g} != {w} (an exact integer)")
        else:
            checks += 1
            if not isinstance(g, (int, float)) or isinstance(g, bool):
                fail(f"{name}{path}: {g!r} is not a number (want {w})")
            elif not abs(g - w) <= RTOL * (abs(w) + 1e-6 * scale):
                fail(f"{name}{path}: {g!r} != {w!r} (rel {abs(g - w) / max(abs(w), 1e-300):.2e})")

    cmp("", got, want)


class Tool:
    def __init__(self, exe):
        self.p = subprocess.Popen([exe], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, bufsize=1)
        self.id = 0

    def send(self, msg):
        msg = {"id": self.id} | msg
        self.p.stdin.write(json.dumps(msg) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError(f"tool died on {str(msg)[:200]}: {self.p.stderr.read()[:2000]}")
        r = json.loads(line)
        if r.get("id") != self.id:
            fail(f"response id {r.get('id')} != {self.id}")
        self.id += 1
        return r

    def evaluate(self, module, function, inp):
        return self.send({"kind": "evaluate", "module": module, "function": function, "input": inp})

    def close(self):
        self.p.stdin.close()
        try:
            rc = self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            fail("the tool did not exit within 10 s of its stdin closing")
            return
        if rc != 0:
            fail(f"the tool exited with status {rc} when its stdin closed")


def t(v):
    return torch.tensor(v, dtype=F64)


def grad_of(f, *xs):
    xs = [x.clone().requires_grad_(True) for x in xs]
    y = f(*xs)
    gs = torch.autograd.grad(y, xs, allow_unused=True)
    return y.item(), [g if g is not None else torch.zeros_like(x) for g, x in zip(gs, xs)]


# ---- references -------------------------------------------------------------------


def ref_lse(x):
    return torch.logsumexp(x, 0)


def llsq_f(n):
    ts = [-1 + i * 2 / (n - 1) for i in range(n)]

    def f(x):
        total = torch.zeros((), dtype=F64)
        for ti in ts:
            si = 1.0 if ti > 0 else -1.0 if ti < 0 else 0.0
            pred = sum(x[j] * ti ** j for j in range(len(x)))
            total = total + (si - pred) ** 2
        return total / 2

    return f


def ode_f(s):
    def f(x):
        n = x.shape[0]
        h = 2.0 / s

        def rhs(y):
            return torch.stack([x[0]] + [x[i] * y[i - 1] for i in range(1, n)])

        y = torch.zeros(n, dtype=F64)
        for _ in range(s):
            k1 = rhs(y)
            k2 = rhs(y + h / 2 * k1)
            k3 = rhs(y + h / 2 * k2)
            k4 = rhs(y + h * k3)
            y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        return y

    return f


def gmm_f(inp):
    D, K = inp["d"], inp["k"]
    X = t(inp["x"])
    m, gamma = inp["m"], inp["gamma"]
    from torch.distributions import MultivariateNormal, Wishart

    def f(alpha, mu, q, l):
        logphi = alpha - torch.logsumexp(alpha, 0)
        comps, prior = [], torch.zeros((), dtype=F64)
        for k in range(K):
            rows = []
            idx = {}
            c = 0
            for j in range(D):  # column j of Q below the diagonal: l_k[c], l_k[c+1], ...
                for i in range(j + 1, D):
                    idx[(i, j)] = c
                    c += 1
            for i in range(D):
                rows.append(torch.stack([torch.exp(q[k, i]) if i == j else l[k, idx[(i, j)]] if i > j
                                         else torch.zeros((), dtype=F64) for j in range(D)]))
            Q = torch.stack(rows)
            P = Q.T @ Q
            comps.append(logphi[k] + MultivariateNormal(mu[k], precision_matrix=P).log_prob(X))
            V = torch.eye(D, dtype=F64) / (gamma * gamma)
            prior = prior + Wishart(df=torch.tensor(float(D + m + 1), dtype=F64), covariance_matrix=V).log_prob(P)
        return torch.logsumexp(torch.stack(comps), 0).sum() + prior

    return f


def lstm_f(inp, b, l):
    seq = t(inp["sequence"])
    state0 = t(inp["state"])

    def f(main, extra):
        hidden = [state0[2 * i] for i in range(l)]
        cell = [state0[2 * i + 1] for i in range(l)]
        total = torch.zeros((), dtype=F64)
        for s in range(seq.shape[0] - 1):
            x = seq[s] * extra[0]
            for i in range(l):
                w, bb = main[2 * i], main[2 * i + 1]
                forget = torch.sigmoid(x * w[:b] + bb[:b])
                ingate = torch.sigmoid(hidden[i] * w[b:2 * b] + bb[b:2 * b])
                outgate = torch.sigmoid(x * w[2 * b:3 * b] + bb[2 * b:3 * b])
                change = torch.tanh(hidden[i] * w[3 * b:] + bb[3 * b:])
                cell[i] = cell[i] * forget + ingate * change
                hidden[i] = outgate * torch.tanh(cell[i])
                x = hidden[i]
            ypred = x * extra[1] + extra[2]
            lse = torch.log(torch.exp(ypred).sum() + 2)
            total = total + (seq[s + 1] * (ypred - lse)).sum()
        return -total / ((seq.shape[0] - 1) * b)

    return f


def ba_err(cam, X, w, feat):
    rot, C = cam[0:3], cam[3:6]
    Xo = X - C
    sq = (rot * rot).sum()
    if sq.item() != 0:
        th = torch.sqrt(sq)
        wv = rot / th
        c, s = torch.cos(th), torch.sin(th)
        Xcam = Xo * c + torch.linalg.cross(wv, Xo) * s + wv * ((wv * Xo).sum() * (1 - c))
    else:
        Xcam = Xo + torch.linalg.cross(rot, Xo)
    proj = Xcam[0:2] / Xcam[2]
    rsq = (proj * proj).sum()
    L = 1 + cam[9] * rsq + cam[10] * rsq * rsq
    proj = proj * L * cam[6] + cam[7:9]
    return w * (proj - feat)


def ba_expected(inp, function):
    cam, X, w, feat = t(inp["cam"]), t(inp["x"]), t(inp["w"]), t(inp["feat"])
    n, m, p = inp["n"], inp["m"], inp["p"]
    if function == "objective":
        e = ba_err(cam, X, w, feat)
        return {"reproj_error": {"elements": e.tolist(), "repeated": p},
                "w_err": {"element": float(1 - w * w), "repeated": p}}
    J = torch.autograd.functional.jacobian(lambda c, x, ww: ba_err(c, x, ww, feat), (cam, X, w))
    Jc, Jx, Jw = J  # [2,11], [2,3], [2]
    vals, cols = [], []
    for r in range(2):
        vals += Jc[r].tolist() + Jx[r].tolist() + [float(Jw[r])]
        cols += list(range(11)) + [11 * n + i for i in range(3)] + [11 * n + 3 * m]
    vals.append(float(-2 * w))
    cols.append(11 * n + 3 * m + p - 1)
    rows = [15 * i if i <= 2 * p else 30 * p + (i - 2 * p) for i in range(30)] + [31 * p]
    return {"rows": rows, "cols": cols, "vals": vals}


def _skew(v):
    z = torch.zeros((), dtype=F64)
    return torch.stack([torch.stack([z, -v[2], v[1]]), torch.stack([v[2], z, -v[0]]),
                        torch.stack([-v[1], v[0], z])])


def _axis_rot(angle, axis):
    """Rotation by `angle` about coordinate axis 0/1/2: I + sin(a) K + (1 - cos(a)) K^2
    with K the axis's skew matrix.  (torch.linalg.matrix_exp of a K was
    measured 3e-10 off here: not accurate enough for a 1e-8 reference.)"""
    e = torch.zeros(3, dtype=F64)
    e[axis] = 1.0
    K = _skew(e)
    return torch.eye(3, dtype=F64) + torch.sin(angle) * K + (1 - torch.cos(angle)) * (K @ K)


def _rodrigues(aa):
    """exp([aa]x): the same form about the unit axis aa/|aa|."""
    th = torch.linalg.norm(aa)
    K = _skew(aa / th)
    return torch.eye(3, dtype=F64) + torch.sin(th) * K + (1 - torch.cos(th)) * (K @ K)


def ht_err(inp, theta, us):
    """ADBench's hand objective: err [3 npts] (the mathematics of GradBench's ht)."""
    model, data = inp["data"]["model"], inp["data"]
    B = len(model["parents"])
    zero = torch.zeros((), dtype=F64)
    # pose parameters: 3 rows x (B + 3) columns; column b + 3 holds bone b's
    # Euler angles (x, z, y); per finger, its first bone gets theta's x and z,
    # the next two x, and the fourth nothing
    pose = [[zero] * (B + 3) for _ in range(3)]
    k, col = 6, 5
    for _finger in range(5):
        for i in range(3):
            pose[0][col] = theta[k]
            k += 1
            if i == 0:
                pose[1][col] = theta[k]
                k += 1
            col += 1
        col += 1
    absolutes, positions = [], 0
    base = t(model["base_positions"])  # [V, 4]
    W = t(model["weights"])  # [V, B]
    for b in range(B):
        ax, az, ay = pose[0][b + 3], pose[1][b + 3], pose[2][b + 3]
        R = _axis_rot(az, 2) @ _axis_rot(ay, 1) @ _axis_rot(ax, 0)
        TR = torch.cat([torch.cat([R, torch.zeros(3, 1, dtype=F64)], 1), t([[0.0, 0.0, 0.0, 1.0]])], 0)
        rel = t(model["base_relatives"][b]) @ TR
        p = model["parents"][b]
        absolutes.append(rel if p < 0 else absolutes[p] @ rel)
        T = absolutes[b] @ t(model["inverse_base_absolutes"][b])
        positions = positions + (base @ T.T)[:, :3] * W[:, b:b + 1]
    if model["is_mirrored"]:
        positions = positions * t([-1.0, 1.0, 1.0])
    aa = theta[0:3]
    Rg = torch.eye(3, dtype=F64) if torch.linalg.norm(aa).item() < 1e-4 else _rodrigues(aa)
    positions = positions @ Rg.T + theta[3:6]
    corr = torch.tensor(data["correspondences"])
    if us is None:
        hand = positions[corr]
    else:
        tri = positions[torch.tensor(model["triangles"])[corr]]  # [n, 3 vertices, 3]
        u0, u1 = us[:, 0:1], us[:, 1:2]
        hand = u0 * tri[:, 0] + u1 * tri[:, 1] + (1 - u0 - u1) * tri[:, 2]
    return (t(data["points"]) - hand).flatten()


def ht_expected(inp, function):
    complicated = len(inp["us"]) > 0
    theta = t(inp["theta"])
    us = t(inp["us"]) if complicated else None
    if function == "objective":
        return ht_err(inp, theta, us).tolist()
    if not complicated:
        return torch.autograd.functional.jacobian(lambda th: ht_err(inp, th, None), theta).tolist()
    Jt, Ju = torch.autograd.functional.jacobian(lambda th, u: ht_err(inp, th, u), (theta, us))
    # a row depends on its own point's (u0, u1) only: the npts x 2 columns compress to 2
    return torch.cat([Ju.sum(1), Jt], 1).tolist()


def ht_fd_check(tool, name, inp, J, rng, n_dirs=2, h=1e-6):
    """J (the tool's jacobian) times random directions against central
    differences of the tool's own objective."""
    global checks
    complicated = len(inp["us"]) > 0
    J = t(J)
    for _ in range(n_dirs):
        d_th = torch.randn(26, dtype=F64, generator=rng)
        d_us = torch.randn(len(inp["us"]), 2, dtype=F64, generator=rng) if complicated else None
        jd = J[:, -26:] @ d_th
        if complicated:
            jd = jd + (J[:, 0:2] * d_us.repeat_interleave(3, 0)).sum(1)
        outs = []
        for sgn in (1, -1):
            q = json.loads(json.dumps(inp))
            q["theta"] = (t(inp["theta"]) + sgn * h * d_th).tolist()
            if complicated:
                q["us"] = (t(inp["us"]) + sgn * h * d_us).tolist()
            r = tool.evaluate("ht", "objective", q)
            if not r.get("success"):
                fail(f"{name} fd: {r.get('error')}")
                return
            outs.append(t(r["output"]))
        fd = (outs[0] - outs[1]) / (2 * h)
        checks += 1
        err = (fd - jd).abs().max().item()
        if not err <= 1e-6 * (1 + jd.abs().max().item()):
            fail(f"{name}: jacobian . d vs central differences of the objective: max error {err:.3e}")


def run_ht(tool, rng):
    from ht_model import hand_input
    cases = [
        ("simple", hand_input(1)),
        ("simple mirrored, global rotation 0 (identity branch)", hand_input(2, mirrored=True)),
        ("complicated", hand_input(3, complicated=True)),
        ("complicated mirrored, large angles", hand_input(4, complicated=True, mirrored=True, global_rot=2.0,
                                                         n_verts=60, n_pts=40)),
    ]
    cases[1][1]["theta"][0:3] = [0.0, 0.0, 0.0]
    for label, inp in cases:
        name = f"ht ({label})"
        for fn in ["objective", "jacobian"]:
            want = ht_expected(inp, fn)
            r = tool.evaluate("ht", fn, inp | {"min_runs": 2, "min_seconds": 0})
            if not r.get("success"):
                fail(f"{name}::{fn}: {r.get('error')}")
                continue
            close(f"{name}::{fn}", r["output"], want)
            if fn == "jacobian":
                ht_fd_check(tool, name, inp, r["output"], rng)
    # bad input: an error naming the field, and the tool goes on
    base = hand_input(5, complicated=True, n_pts=6)

    def mutated(path, value):
        q = json.loads(json.dumps(base))
        o = q
        for key in path[:-1]:
            o = o[key]
        if value is KeyError:
            del o[path[-1]]
        else:
            o[path[-1]] = value
        return q

    M = ["data", "model"]
    bad = [
        (["theta"], [0.0] * 25, "theta"),
        (["theta", 4], "x", "theta[4]"),
        (M + ["parents", 5], 7, "parents[5]"),
        (M + ["parents", 3], 99, "parents[3]"),
        (M + ["parents", 0], 0.5, "parents[0]"),
        (M + ["parents"], [-1, 0, 1, 2, 3], "parents"),
        (M + ["bone_count"], 21, "bone_count"),
        (M + ["bone_names", 1], 3, "bone_names[1]"),
        (M + ["weights", 2, 1], "a", "weights[2][1]"),
        (M + ["weights", 2], [0.5] * 21, "weights[2]"),
        (M + ["base_relatives", 0], [[1.0] * 4] * 3, "base_relatives[0]"),
        (M + ["inverse_base_absolutes", 3, 2], [1.0, 2.0], "inverse_base_absolutes[3][2]"),
        (M + ["base_positions", 0], [1.0, 2.0, 3.0], "base_positions[0]"),
        (M + ["triangles", 0], [0, 1, 999], "triangles[0]"),
        (M + ["is_mirrored"], 0, "is_mirrored"),
        (M, KeyError, "model"),
        (["data", "correspondences", 0], 1000, "correspondences[0]"),
        (["data", "points", 1], [1.0, 2.0], "points[1]"),
        (["data", "points"], [[0.0, 0.0, 0.0]], "points"),
        (["us"], [[0.1]] * 6, "us[0]"),
        (["us"], [[0.1, 0.2]] * 5, "us"),
        (["us"], 3, "us"),
        (["us"], KeyError, "us"),
    ]
    for path, value, words in bad:
        for fn in ["objective", "jacobian"]:
            r = tool.evaluate("ht", fn, mutated(path, value))
            expect_error(r, f"ht::{fn} with bad {path}", [words])
    r = tool.evaluate("ht", "objective", base)
    if not r.get("success"):
        fail(f"ht: the tool did not recover after bad inputs: {r.get('error')}")
    # the us as the README types them, flat: the same answer as pairs
    flat = json.loads(json.dumps(base))
    flat["us"] = [v for pair in base["us"] for v in pair]
    r2 = tool.evaluate("ht", "jacobian", flat)
    if not r2.get("success"):
        fail(f"ht with flat us: {r2.get('error')}")
    else:
        close("ht with flat us", r2["output"], ht_expected(base, "jacobian"))


# ---- the eval cases ------------------------------------------------------------------


def check_eval(tool, module, function, inp, want, runs=2):
    r = tool.evaluate(module, function, inp | {"min_runs": runs, "min_seconds": 0})
    name = f"{module}::{function}"
    if not r.get("success"):
        fail(f"{name}: {r.get('error')}")
        return
    tm = r.get("timings")
    if not isinstance(tm, list) or len(tm) < runs or any(
            set(e) != {"name", "nanoseconds"} or e["name"] != "evaluate" or not isinstance(e["nanoseconds"], int)
            or e["nanoseconds"] < 0 for e in tm):
        fail(f"{name}: timings {str(tm)[:200]} is not >= {runs} evaluate entries")
    close(name, r["output"], want)


def run_evals(tool, rng):
    tool.send({"kind": "start", "eval": "all"})
    for mod in ["hello", "lse", "llsq", "det", "ode", "gmm", "lstm", "ba", "kmeans", "particle", "saddle", "ht"]:
        r = tool.send({"kind": "define", "module": mod})
        if r.get("success") is not True:
            fail(f"define {mod}: {r}")

    def rnd(*shape, lo=-1.0, hi=1.0):
        return (torch.rand(*shape, dtype=F64, generator=rng) * (hi - lo) + lo)

    # hello: input is a bare number
    for x in [1.0, -2.5, 3.0]:
        for fn, want in [("square", x * x), ("double", 2 * x)]:
            r = tool.evaluate("hello", fn, x)
            if not r.get("success"):
                fail(f"hello::{fn}: {r}")
            else:
                close(f"hello::{fn}", r["output"], want)

    for n in [1, 5, 200]:
        x = rnd(n, lo=-100, hi=100)
        y, (g,) = grad_of(ref_lse, x)
        check_eval(tool, "lse", "primal", {"x": x.tolist()}, y)
        check_eval(tool, "lse", "gradient", {"x": x.tolist()}, g.tolist())

    for n, m in [(16, 3), (32, 8), (9, 5)]:
        x = rnd(m, lo=0, hi=1)
        y, (g,) = grad_of(llsq_f(n), x)
        check_eval(tool, "llsq", "primal", {"x": x.tolist(), "n": n}, y)
        check_eval(tool, "llsq", "gradient", {"x": x.tolist(), "n": n}, g.tolist())

    for ell in [1, 2, 3, 5, 7]:
        A = rnd(ell, ell, lo=0, hi=1)
        y, (g,) = grad_of(torch.linalg.det, A)
        check_eval(tool, "det", "primal", {"A": A.flatten().tolist(), "ell": ell}, y)
        check_eval(tool, "det", "gradient", {"A": A.flatten().tolist(), "ell": ell}, g.flatten().tolist())

    for n, s in [(1, 3), (4, 1), (10, 10), (30, 7)]:
        x = rnd(n, lo=0, hi=1)
        f = ode_f(s)
        check_eval(tool, "ode", "primal", {"x": x.tolist(), "s": s}, f(x).tolist())
        _, (g,) = grad_of(lambda v: f(v)[-1], x)
        check_eval(tool, "ode", "gradient", {"x": x.tolist(), "s": s}, g.tolist())

    for d, k, n, m, gamma in [(2, 3, 10, 0, 1.0), (4, 5, 20, 2, 1.5), (1, 2, 6, 1, 0.8), (7, 3, 12, 0, 1.0)]:
        inp = {"d": d, "k": k, "n": n, "m": m, "gamma": gamma,
               "x": torch.randn(n, d, dtype=F64, generator=rng).tolist(),
               "mu": rnd(k, d, lo=0, hi=1).tolist(),
               "q": (torch.randn(k, d, dtype=F64, generator=rng) * 0.5).tolist(),
               "l": torch.randn(k, d * (d - 1) // 2, dtype=F64, generator=rng).tolist(),
               "alpha": torch.randn(k, dtype=F64, generator=rng).tolist()}
        y, gs = grad_of(gmm_f(inp), t(inp["alpha"]), t(inp["mu"]), t(inp["q"]),
                        t(inp["l"]) if d > 1 else torch.zeros(k, 0, dtype=F64))
        check_eval(tool, "gmm", "objective", inp, y)
        check_eval(tool, "gmm", "jacobian", inp, {"alpha": gs[0].tolist(), "mu": gs[1].tolist(),
                                                  "q": gs[2].tolist(), "l": gs[3].tolist()})

    for l, b, c in [(1, 3, 4), (2, 5, 6), (3, 2, 2)]:
        inp = {"main_params": rnd(2 * l, 4 * b).tolist(), "extra_params": rnd(3, b).tolist(),
               "state": rnd(2 * l, b).tolist(), "sequence": rnd(c, b).tolist()}
        y, (gm, ge) = grad_of(lstm_f(inp, b, l), t(inp["main_params"]), t(inp["extra_params"]))
        check_eval(tool, "lstm", "objective", inp, y)
        check_eval(tool, "lstm", "jacobian", inp, gm.flatten().tolist() + ge.flatten().tolist())

    ba_cases = [
        (3, 5, 12, rnd(11, lo=-0.5, hi=0.5)),
        (2, 7, 40, rnd(11, lo=-0.5, hi=0.5)),
    ]
    big = rnd(11, lo=-0.5, hi=0.5)
    big[0:3] = t([4.0, -5.0, 6.5])  # theta > 2 pi
    ba_cases.append((4, 4, 16, big))
    zero = rnd(11, lo=-0.5, hi=0.5)
    zero[0:3] = 0  # theta = 0: the first-order branch
    ba_cases.append((1, 3, 10, zero))
    for n, m, p, cam in ba_cases:
        cam[6] = 1.0 + abs(cam[6].item())  # focal length
        inp = {"n": n, "m": m, "p": p, "cam": cam.tolist(), "x": (rnd(3) + t([0, 0, 4])).tolist(),
               "w": 0.5 + rnd(1, lo=0, hi=1).item(), "feat": rnd(2).tolist()}
        for fn in ["objective", "jacobian"]:
            check_eval(tool, "ba", fn, inp, ba_expected(inp, fn))

    for n, k, d in [(5, 2, 2), (30, 4, 3), (60, 6, 8)]:
        P = torch.rand(n, d, dtype=F64, generator=rng)
        C = P[-k:].clone()  # as GradBench's eval: every cluster is nonempty
        inp = {"points": P.tolist(), "centroids": C.tolist()}

        def cost(c):
            return ((P[:, None, :] - c[None, :, :]) ** 2).sum(2).min(1).values.sum()

        y, (J,) = grad_of(cost, C)
        H = torch.autograd.functional.hessian(cost, C).reshape(k * d, k * d).diagonal().reshape(k, d)
        check_eval(tool, "kmeans", "cost", inp, y)
        check_eval(tool, "kmeans", "dir", inp, (J / H).tolist())


# ---- particle and saddle: nested derivatives -------------------------------------------
# One reference answer per input, which all four variants (rr rf fr ff) must
# give.  The descent is GradBench's tools' schedule (descend).  The inner
# derivatives are written from the mathematics -- particle's force
# -grad_x p = sum_c (x - c)/|x - c|^3, saddle's inner gradient of -f, 2 p2 --
# and the outer derivative, through the whole Euler trajectory or inner
# descent, is torch.autograd's.  So the tool's nested AD is checked against
# first-order AD plus calculus (and a nested torch.autograd reference took
# ~40 s for one particle input here).  GradBench's own evals hard-code the
# answers for w = 0 and start = [1, 1] (evals particle/saddle run.py); those
# are checked too.

GRADBENCH_PARTICLE_W0 = 0.2071918746486116
GRADBENCH_SADDLE_11 = 8.246324826140356e-06


def descend(f, g, x):
    """argmin of f from x (a list of floats), g its gradient: eta starts at
    1e-5; stop when |g| <= 1e-5 or the step is <= 1e-5; a step that lowers f
    is taken, 10 taken in a row double eta (an iteration of its own), one that
    does not lower f halves eta."""
    fx, gx, eta, i = f(x), g(x), 1e-5, 0
    while True:
        if math.sqrt(sum(v * v for v in gx)) <= 1e-5:
            return x
        if i == 10:
            eta, i = eta * 2, 0
            continue
        xp = [a - eta * b for a, b in zip(x, gx)]
        if math.sqrt(sum((a - b) ** 2 for a, b in zip(x, xp))) <= 1e-5:
            return x
        fxp = f(xp)
        if fxp < fx:
            x, fx, gx, i = xp, fxp, g(xp), i + 1
        else:
            eta, i = eta / 2, 0


def grad_at(f, v):
    x = t(v).requires_grad_(True)
    y = f(x)
    (d,) = torch.autograd.grad(y, x)
    return d.tolist()


def particle_x0_squared(w):
    """Euler from (0, 8) at (0.75, 0), dt 0.1, charges (10, 10 - w) and (10, 0),
    until the new y <= 0; x of the linear crossing, squared.  w: shape [1]."""
    charges = [torch.cat([t([10.0]), 10.0 - w]), t([10.0, 0.0])]
    x, xd = t([0.0, 8.0]), t([0.75, 0.0])
    for _ in range(100000):
        force = sum((x - c) / ((x - c) ** 2).sum() ** 1.5 for c in charges)
        xn = x + 0.1 * xd
        if xn[1].item() > 0:
            x, xd = xn, xd + 0.1 * force
            continue
        dtf = -x[1] / xd[1]
        return (x[0] + dtf * xd[0]) ** 2
    raise RuntimeError("particle reference: no crossing")


def particle_ref(w0):
    import torch.autograd.forward_ad as fwAD

    def f(v):
        with torch.no_grad():
            return particle_x0_squared(t(v)).item()

    def g(v):  # one variable: torch's forward mode (2x faster here than its reverse)
        with torch.no_grad(), fwAD.dual_level():
            return [fwAD.unpack_dual(particle_x0_squared(fwAD.make_dual(t(v), t([1.0])))).tangent.item()]

    return descend(f, g, [w0])[0]


def saddle_f(p1, p2):
    return (p1 ** 2).sum() - (p2 ** 2).sum()


def saddle_ref(start):
    def r1_cost(p1):
        # the inner argmax over p2 (the descent on -f, gradient 2 p2) as torch
        # ops, so the outer derivative goes through it
        h = lambda p2: (-saddle_f(p1, p2)).item()
        x = t(start)
        fx, gx, eta, i = h(x), 2 * x, 1e-5, 0
        while True:
            if math.sqrt((gx ** 2).sum().item()) <= 1e-5:
                break
            if i == 10:
                eta, i = eta * 2, 0
                continue
            xp = x - eta * gx
            if math.sqrt(((x - xp) ** 2).sum().item()) <= 1e-5:
                break
            fxp = h(xp)
            if fxp < fx:
                x, fx, gx, i = xp, fxp, 2 * xp, i + 1
            else:
                eta, i = eta / 2, 0
        return saddle_f(p1, x)

    r1 = descend(lambda v: r1_cost(t(v)).item(), lambda v: grad_at(r1_cost, v), list(start))
    p1 = t(r1)
    neg_f2 = lambda p2: -saddle_f(p1, p2)
    r2 = descend(lambda v: neg_f2(t(v)).item(), lambda v: grad_at(neg_f2, v), list(start))
    return r1 + r2


def run_nested(tool):
    variants = ["rr", "rf", "fr", "ff"]
    small = bool(os.environ.get("WG_TEST_SMALL"))  # scripts/test's ThreadSanitizer pass: one input each
    for w0 in [0.0] if small else [0.0, 1.0]:
        want = particle_ref(w0)
        if w0 == 0.0:
            close("particle reference vs GradBench's w=0 answer", want, GRADBENCH_PARTICLE_W0)
        for fn in variants:
            check_eval(tool, "particle", fn, {"w": w0}, want, runs=1)
    for start in [[1.0, 1.0]] if small else [[1.0, 1.0], [-0.75, 2.5]]:
        want = saddle_ref(start)
        if start == [1.0, 1.0]:
            close("saddle reference vs GradBench's [1,1] answer", want, [GRADBENCH_SADDLE_11] * 4)
        for fn in variants:
            check_eval(tool, "saddle", fn, {"start": start}, want, runs=1)


# ---- protocol robustness ----------------------------------------------------------------


def raw_session(exe, lines, timeout=20):
    """Feed lines, close stdin, return (status, stdout lines, stderr, seconds)."""
    t0 = time.time()
    p = subprocess.run([exe], input="".join(l + "\n" for l in lines), capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, [l for l in p.stdout.splitlines() if l], p.stderr, time.time() - t0


def expect_error(r, name, words):
    global checks
    checks += 1
    if r.get("success") is not False or not isinstance(r.get("error"), str):
        fail(f"{name}: expected success false with an error, got {str(r)[:300]}")
        return
    for w in words:
        if w not in r["error"]:
            fail(f"{name}: error {r['error']!r} does not mention {w!r}")


def protocol_cases(exe):
    global checks
    # closed stdin at once: exit 0, promptly, nothing written
    rc, out, err, dt = raw_session(exe, [])
    checks += 1
    if rc != 0 or out or dt > 5:
        fail(f"empty session: status {rc}, output {out}, {dt:.1f} s")

    # the "end" message older evals send: exit 0 with no response
    rc, out, err, _ = raw_session(exe, ['{"id":0,"kind":"end"}', '{"id":1,"kind":"start"}'])
    checks += 1
    if rc != 0 or out:
        fail(f"end message: status {rc}, output {out}")

    # answerable errors: one response each, in order, and the tool goes on
    msgs = [
        ('{"id":0,"kind":"start","eval":"x"}', None),
        ('{"id":1,"kind":"bogus"}', ["bogus"]),
        ('{"id":2}', ["kind"]),
        ('{"id":3,"kind":"define","module":"nosuch"}', ["nosuch"]),
        ('{"id":4,"kind":"define"}', ["module"]),
        ('{"id":5,"kind":"evaluate","module":"nope","function":"f","input":{}}', ["nope"]),
        ('{"id":6,"kind":"evaluate","module":"lse","function":"hessian","input":{"x":[1]}}', ["hessian"]),
        ('{"id":7,"kind":"evaluate","module":"lse","function":"primal"}', ["input"]),
        ('{"id":8,"kind":"evaluate","module":"lse","function":"primal","input":{}}', ["x"]),
        ('{"id":9,"kind":"evaluate","module":"lse","function":"primal","input":{"x":[1,"a"]}}', ["x[1]"]),
        ('{"id":10,"kind":"evaluate","module":"det","function":"primal","input":{"A":[1,2,3],"ell":2}}', ["A"]),
        ('{"id":11,"kind":"evaluate","module":"det","function":"primal","input":{"A":[1],"ell":1.5}}', ["ell"]),
        ('{"id":12,"kind":"evaluate","module":"gmm","function":"objective","input":{"d":2,"k":1,"n":1,"m":0,'
         '"gamma":1,"alpha":[0],"mu":[[0,0]],"q":[[0,0]],"l":[[0]],"x":[[1,2,3]]}}', ["x"]),
        ('{"id":13,"kind":"evaluate","module":"lstm","function":"objective","input":{"main_params":[[1,2,3]],'
         '"extra_params":[],"state":[],"sequence":[]}}', ["main_params"]),
        ('{"id":14,"kind":"evaluate","module":"ba","function":"jacobian","input":{"n":1,"m":1,"p":10,'
         '"cam":[1,2],"x":[1,2,3],"w":1,"feat":[1,2]}}', ["cam"]),
        ('{"id":15,"kind":"evaluate","module":"llsq","function":"primal","input":{"x":[1],"n":5,"min_runs":-1}}',
         ["min_runs"]),
        ('{"id":16,"kind":"evaluate","module":"ode","function":"primal","input":{"x":[1],"s":"10"}}', ["s"]),
        ('{"id":17,"kind":"evaluate","module":"hello","function":"square","input":"3"}', ["number"]),
        ('{"id":18,"kind":"analysis","of":3,"valid":false,"error":"x"}', None),
        ('{"id":19,"kind":"evaluate","module":"hello","function":"square","input":2}', None),
    ]
    rc, out, err, _ = raw_session(exe, [m for m, _ in msgs])
    checks += 1
    if rc != 0 or len(out) != len(msgs):
        fail(f"error session: status {rc}, {len(out)} responses for {len(msgs)} messages; stderr {err[:300]}")
    else:
        for i, ((m, words), line) in enumerate(zip(msgs, out)):
            r = json.loads(line)
            if r.get("id") != i:
                fail(f"response {i} has id {r.get('id')}")
            if words is not None:
                expect_error(r, m[:60], words)
        if json.loads(out[19]).get("output") != 4:
            fail(f"the tool did not recover after the errors: {out[19]}")
        if json.loads(out[18]) != {"id": 18}:
            fail(f"analysis response {out[18]} is not just the id")

    # unanswerable lines: a message on stderr, status 2, no crash, earlier answers kept
    for bad in ['{"id":0,"kind":"start"', 'not json', '[1,2]', '{"kind":"start"}', '{"id":"0","kind":"start"}']:
        rc, out, err, _ = raw_session(exe, ['{"id":0,"kind":"define","module":"lse"}', bad])
        checks += 1
        if rc != 2 or len(out) != 1 or "line 2" not in err:
            fail(f"bad line {bad!r}: status {rc} (want 2), output {out}, stderr {err!r}")

    # min_runs and min_seconds together
    rc, out, err, dt = raw_session(exe, [
        '{"id":0,"kind":"evaluate","module":"hello","function":"square","input":3}',
        '{"id":1,"kind":"evaluate","module":"lse","function":"primal","input":{"x":[1,2],"min_runs":7,"min_seconds":0}}',
        '{"id":2,"kind":"evaluate","module":"lse","function":"gradient","input":{"x":[1,2],"min_runs":1,"min_seconds":0.3}}',
    ])
    checks += 1
    if rc != 0 or len(out) != 3:
        fail(f"runs session: status {rc}, {len(out)} responses")
    else:
        r0, r1, r2 = (json.loads(x) for x in out)
        if len(r0["timings"]) != 1:
            fail(f"hello without runs fields ran {len(r0['timings'])} times, want 1")
        if len(r1["timings"]) != 7:
            fail(f"min_runs 7 gave {len(r1['timings'])} timings")
        total = sum(e["nanoseconds"] for e in r2["timings"])
        if total < 0.3e9 or len(r2["timings"]) < 2:
            fail(f"min_seconds 0.3 gave {len(r2['timings'])} runs over {total / 1e9:.3f} s")


def main():
    exe = sys.argv[1]
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 11
    rng = torch.Generator().manual_seed(seed)
    random.seed(seed)
    tool = Tool(exe)
    try:
        run_evals(tool, rng)
        run_ht(tool, rng)
        run_nested(tool)
    finally:
        tool.close()
    protocol_cases(exe)
    print(f"{checks} checks, {len(failures)} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
