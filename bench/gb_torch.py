"""bench/gradbench_compare.py's PyTorch side: the same GradBench programs in
PyTorch (float64, one thread unless told otherwise), speaking GradBench's
protocol on stdin/stdout like wengert-gradbench, so the driver times both
the same way.

Each program is the one wengert runs (gradbench/evals.c), written as a
PyTorch user writes it: the primal with plain tensors (no autograd), the
derivative with autograd (backward / autograd.grad).  det is the same
memoised expansion by minors on scalars, lse uses max/exp/sum/log, not
torch.logsumexp (the eval asks for the primitives).

usage: gb_torch.py [THREADS]
"""
import json
import math
import os
import sys
import time

import torch

F64 = torch.float64
torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
# WENGERT_GB_CLOCK=cpu: the thread's CPU time, as wengert-gradbench then measures
# (one intra-op thread, so PyTorch's work is on this thread).
clock = time.thread_time_ns if os.environ.get("WENGERT_GB_CLOCK") == "cpu" else time.perf_counter_ns


def lse_fn(inp, grad):
    x0 = torch.tensor(inp["x"], dtype=F64)

    def run():
        x = x0.clone().requires_grad_(grad)
        m = x.detach().max()
        y = m + torch.log(torch.exp(x - m).sum())
        if not grad:
            return y.item()
        y.backward()
        return x.grad.tolist

    return run


def llsq_fn(inp, grad):
    x0 = torch.tensor(inp["x"], dtype=F64)
    n, m = inp["n"], x0.shape[0]

    def run():
        t = -1 + torch.arange(n, dtype=F64) * 2 / (n - 1)
        T = t[:, None] ** torch.arange(m, dtype=F64)
        s = torch.sign(t)
        x = x0.clone().requires_grad_(grad)
        r = s - T @ x
        y = 0.5 * (r * r).sum()
        if not grad:
            return y.item()
        y.backward()
        return x.grad.tolist

    return run


def det_fn(inp, grad):
    ell = inp["ell"]
    a0 = torch.tensor(inp["A"], dtype=F64)

    def run():
        A = a0.clone().requires_grad_(grad)
        a = list(A.unbind())
        D = [None] * (1 << ell)
        for mask in range(1, 1 << ell):
            k = bin(mask).count("1")
            row = ell - k
            if k == 1:
                D[mask] = a[row * ell + (mask & -mask).bit_length() - 1]
                continue
            acc, pos, rest = None, 0, mask
            while rest:
                col = (rest & -rest).bit_length() - 1
                term = a[row * ell + col] * D[mask & ~(1 << col)]
                acc = term if acc is None else (acc - term if pos & 1 else acc + term)
                rest &= rest - 1
                pos += 1
            D[mask] = acc
        y = D[(1 << ell) - 1]
        if not grad:
            return y.item()
        y.backward()
        return A.grad.tolist

    return run


def ode_fn(inp, grad):
    x0 = torch.tensor(inp["x"], dtype=F64)
    s, n = inp["s"], x0.shape[0]

    def run():
        x = x0.clone().requires_grad_(grad)
        one = torch.ones(1, dtype=F64)
        h = 2.0 / s

        def f(v):
            return x * torch.cat([one, v[:-1]])

        y = torch.zeros(n, dtype=F64)
        for _ in range(s):
            k1 = f(y)
            k2 = f(y + h / 2 * k1)
            k3 = f(y + h / 2 * k2)
            k4 = f(y + h * k3)
            y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        if not grad:
            return y.tolist
        y[-1].backward()
        return x.grad.tolist

    return run


def gmm_fn(inp, grad):
    d, k, n = inp["d"], inp["k"], inp["n"]
    X = torch.tensor(inp["x"], dtype=F64)
    al0, mu0, q0 = (torch.tensor(inp[f], dtype=F64) for f in ["alpha", "mu", "q"])
    l0 = torch.tensor(inp["l"], dtype=F64) if d > 1 else torch.zeros(k, 0, dtype=F64)
    m, gamma = inp["m"], inp["gamma"]
    # U = Q^T: U[i, j] (j > i) = Q[j, i] = l[off(i) + j - i - 1]: column blocks of l in order
    ri, ci = [], []
    for i in range(d):
        for j in range(i + 1, d):
            ri.append(i)
            ci.append(j)
    ri, ci = torch.tensor(ri, dtype=torch.long), torch.tensor(ci, dtype=torch.long)
    diag = torch.arange(d)
    nw = d + m + 1
    C = nw * d * (math.log(gamma) - 0.5 * math.log(2)) - (0.25 * d * (d - 1) * math.log(math.pi) + sum(
        math.lgamma(0.5 * nw + 0.5 * (1 - j)) for j in range(1, d + 1)))
    const = -n * d * 0.5 * math.log(2 * math.pi) + k * C

    def run():
        alpha, mu, q, l = (v.clone().requires_grad_(grad) for v in (al0, mu0, q0, l0))
        qd = torch.exp(q)
        sum_q = q.sum(1, keepdim=True)
        U = torch.zeros(k, d, d, dtype=F64)
        U[:, diag, diag] = qd
        U[:, ri, ci] = l
        qx = X @ U - mu[:, None, :] @ U  # (x - mu_k) U_k without the [k,n,d] difference, as wengert
        main = alpha[:, None] + sum_q - 0.5 * (qx * qx).sum(2)
        mx = main.detach().max(0, keepdim=True).values
        slse = (torch.log(torch.exp(main - mx).sum(0, keepdim=True)) + mx).sum()
        ma = alpha.detach().max()
        lse_a = torch.log(torch.exp(alpha - ma).sum()) + ma
        frob = (qd * qd).sum() + (l * l).sum()
        err = slse + const - n * lse_a + m * sum_q.sum() - 0.5 * gamma * gamma * frob
        if not grad:
            return err.item()
        err.backward()
        return lambda: {"alpha": alpha.grad.tolist(), "mu": mu.grad.tolist(), "q": q.grad.tolist(),
                        "l": l.grad.tolist()}

    return run


def lstm_fn(inp, grad):
    mp0, ep0, st0, seq = (torch.tensor(inp[f], dtype=F64) for f in ["main_params", "extra_params", "state", "sequence"])
    l, b, c = mp0.shape[0] // 2, ep0.shape[1], seq.shape[0]

    def run():
        mp, ep = mp0.clone().requires_grad_(grad), ep0.clone().requires_grad_(grad)
        h = [st0[2 * i] for i in range(l)]
        cell = [st0[2 * i + 1] for i in range(l)]
        ys = []
        for s in range(c - 1):
            x = seq[s] * ep[0]
            for i in range(l):
                w, bb = mp[2 * i], mp[2 * i + 1]
                z = w * torch.cat([x, h[i], x, h[i]]) + bb
                g = torch.sigmoid(z[:3 * b])
                ch = torch.tanh(z[3 * b:])
                cell[i] = cell[i] * g[:b] + g[b:2 * b] * ch
                h[i] = g[2 * b:] * torch.tanh(cell[i])
                x = h[i]
            ys.append(x * ep[1] + ep[2])
        Y = torch.stack(ys)
        lse = torch.log(torch.exp(Y).sum(1, keepdim=True) + 2)
        loss = -((seq[1:] * (Y - lse)).sum()) / ((c - 1) * b)
        if not grad:
            return loss.item()
        loss.backward()
        return lambda: mp.grad.flatten().tolist() + ep.grad.flatten().tolist()

    return run


def ba_fn(inp, grad):
    n, m, p = inp["n"], inp["m"], inp["p"]
    cam0 = torch.tensor(inp["cam"], dtype=F64).repeat(p, 1)
    X0 = torch.tensor(inp["x"], dtype=F64).repeat(p, 1)
    w0 = torch.full((p, 1), inp["w"], dtype=F64)
    feat = torch.tensor(inp["feat"], dtype=F64).repeat(p, 1)

    def run():
        cam, X, w = (v.clone().requires_grad_(grad) for v in (cam0, X0, w0))
        rot = cam[:, 0:3]
        xo = X - cam[:, 3:6]
        sq = (rot * rot).sum(1, keepdim=True)
        th = torch.sqrt(sq)
        wv = rot / th
        c, s = torch.cos(th), torch.sin(th)
        xcam = xo * c + torch.linalg.cross(wv, xo, dim=1) * s + wv * ((wv * xo).sum(1, keepdim=True) * (1 - c))
        proj = xcam[:, 0:2] / xcam[:, 2:3]
        rsq = (proj * proj).sum(1, keepdim=True)
        L = 1 + cam[:, 9:10] * rsq + cam[:, 10:11] * rsq * rsq
        err = w * (proj * L * cam[:, 6:7] + cam[:, 7:9] - feat)
        werr = 1 - w * w
        if not grad:
            return {"reproj_error": {"elements": err[0].tolist(), "repeated": p},
                    "w_err": {"element": werr[0, 0].item(), "repeated": p}}
        rows = []
        for r in range(2):
            seed = torch.zeros(p, 2, dtype=F64)
            seed[:, r] = 1
            gc, gx, gw = torch.autograd.grad(err, (cam, X, w), seed, retain_graph=True)
            rows.append(torch.cat([gc, gx, gw], 1))
        (gw,) = torch.autograd.grad(werr.sum(), (w,))
        vals = torch.cat(rows, 1)
        return lambda: {"vals": vals[0].tolist() + [gw[-1, 0].item()]}

    return run


def kmeans_fn(inp, grad):
    P = torch.tensor(inp["points"], dtype=F64)
    C0 = torch.tensor(inp["centroids"], dtype=F64)
    pp = (P * P).sum(1, keepdim=True)

    def cost(C):
        D = pp + (C * C).sum(1)[None, :] - 2 * P @ C.T  # [n,k] squared distances
        return D.min(1).values.sum()

    def run():
        if not grad:
            return cost(C0).item()
        # dir = J / diag(H); the Hessian is diagonal, so diag(H) = H 1: the
        # gradient of sum(J), reverse over reverse (create_graph).
        C = C0.clone().requires_grad_(True)
        (J,) = torch.autograd.grad(cost(C), C, create_graph=True)
        (H,) = torch.autograd.grad(J.sum(), C)
        return (J.detach() / H).tolist

    return run


def ht_fn(inp, grad):
    """ht as wengert's gradbench/ht.c computes it: the bones batched, the
    chain of absolutes per bone, each point's vertex (or its triangle's three
    vertices) gathered once, the skinning one GEMM; the jacobian is forward
    mode vectorised over its 26 (28) columns (functorch.vmap of
    functorch.jvp), PyTorch's best for a tall Jacobian."""
    import functorch

    model, data = inp["data"]["model"], inp["data"]
    parents = model["parents"]
    B = len(parents)
    base_rel = torch.tensor(model["base_relatives"], dtype=F64)
    inv_abs = torch.tensor(model["inverse_base_absolutes"], dtype=F64)
    corr = torch.tensor(data["correspondences"])
    points = torch.tensor(data["points"], dtype=F64)
    complicated = len(inp["us"]) > 0
    n = corr.shape[0]
    verts = torch.tensor(model["triangles"])[corr].T.reshape(-1) if complicated else corr  # row k n + i: vertex k of point i
    Wp = torch.tensor(model["weights"], dtype=F64)[verts]
    bp = torch.tensor(model["base_positions"], dtype=F64)[verts]
    # theta -> each bone's Euler angles x, z (index 26: a zero)
    ix, iz = [26] * B, [26] * B
    k, bone = 6, 2
    for _finger in range(5):
        for q in range(3):
            ix[bone] = k
            k += 1
            if q == 0:
                iz[bone] = k
                k += 1
            bone += 1
        bone += 1
    ix, iz = torch.tensor(ix), torch.tensor(iz)
    identity = math.sqrt(sum(v * v for v in inp["theta"][0:3])) < 1e-4
    mirror = torch.tensor([-1.0, 1.0, 1.0], dtype=F64) if model["is_mirrored"] else None
    theta0 = torch.tensor(inp["theta"], dtype=F64)
    us0 = torch.tensor(inp["us"], dtype=F64) if complicated else None

    def f(theta, us):
        ext = torch.cat([theta, theta.new_zeros(1)])
        ax, az = ext[ix], ext[iz]
        cx, sx, cz, sz = torch.cos(ax), torch.sin(ax), torch.cos(az), torch.sin(az)
        z, o = torch.zeros_like(cx), torch.ones_like(cx)
        TR = torch.stack([cz, -sz * cx, sz * sx, z, sz, cz * cx, -cz * sx, z, z, sx, cx, z, z, z, z, o], 1)
        rel = base_rel @ TR.reshape(B, 4, 4)
        absl = []
        for b in range(B):
            absl.append(rel[b] if parents[b] < 0 else absl[parents[b]] @ rel[b])
        T = torch.stack(absl) @ inv_abs
        pos = ((Wp @ T[:, :3, :].reshape(B, 12)).reshape(-1, 3, 4) * bp[:, None, :]).sum(2)
        if mirror is not None:
            pos = pos * mirror
        aa = theta[0:3]
        if identity:
            R = torch.eye(3, dtype=F64)
        else:
            nrm = torch.sqrt((aa * aa).sum())
            u = aa / nrm
            K = torch.stack([torch.stack([z[0], -u[2], u[1]]), torch.stack([u[2], z[0], -u[0]]),
                             torch.stack([-u[1], u[0], z[0]])])
            c = torch.cos(nrm)
            R = c * torch.eye(3, dtype=F64) + (1 - c) * u[:, None] * u[None, :] + torch.sin(nrm) * K
        v = pos @ R.T + theta[3:6]
        if complicated:
            u0, u1 = us[:, 0:1], us[:, 1:2]
            v = u0 * v[0:n] + u1 * v[n:2 * n] + (1 - u0 - u1) * v[2 * n:]
        return (points - v).reshape(-1)

    if complicated:
        tth = torch.cat([torch.zeros(2, 26, dtype=F64), torch.eye(26, dtype=F64)])
        tus = torch.zeros(28, n, 2, dtype=F64)
        tus[0, :, 0] = 1
        tus[1, :, 1] = 1
    else:
        tth = torch.eye(26, dtype=F64)

    def run():
        if not grad:
            return f(theta0, us0).tolist
        if complicated:
            J = functorch.vmap(lambda a, b: functorch.jvp(f, (theta0, us0), (a, b))[1])(tth, tus)
        else:
            J = functorch.vmap(lambda a: functorch.jvp(lambda th: f(th, None), (theta0,), (a,))[1])(tth)
        return J.T.tolist

    return run


FNS = {"lse": lse_fn, "llsq": llsq_fn, "det": det_fn, "ode": ode_fn, "gmm": gmm_fn, "lstm": lstm_fn, "ba": ba_fn,
       "kmeans": kmeans_fn, "ht": ht_fn}
DERIV = {"gradient", "jacobian", "dir"}


def main():
    for line in sys.stdin:
        msg = json.loads(line)
        out = {"id": msg["id"]}
        kind = msg.get("kind")
        if kind == "start":
            out["tool"] = "pytorch-bench"
        elif kind == "define":
            out["success"] = msg["module"] in FNS
        elif kind == "evaluate":
            inp = msg["input"]
            run = FNS[msg["module"]](inp, msg["function"] in DERIV)
            times, total, res = [], 0, None
            while len(times) < inp.get("min_runs", 1) or total < inp.get("min_seconds", 0) * 1e9:
                t0 = clock()
                res = run()
                dt = clock() - t0
                times.append(dt)
                total += dt
            out |= {"success": True, "output": res() if callable(res) else res,
                    "timings": [{"name": "evaluate", "nanoseconds": t} for t in times]}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
