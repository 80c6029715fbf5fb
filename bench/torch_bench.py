"""The PyTorch side of bench/compare: the same protocol as wg_bench.c.

One command a line on stdin, one JSON line on stdout:
  load DIR | threads N | run NAME N | check NAME | info | quit
  torch_bench.py --mem NAME STEPS DIR   memory of a fresh process

Each workload is written the way a PyTorch user writes it: nn.Linear layers
(weights loaded from the shared files, [out, in] as on both sides), F.cross_entropy, torch.optim.SGD, zero_grad(set_to_none=True).
"""
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

CHAIN_OPS = 100000
IN, CLASSES, BATCH = 784, 10, 128
LR = 0.05
MLPS = {"mlp_a_b128": ("a", 128), "mlp_a_b32": ("a", 32), "mlp_a_b1": ("a", 1), "mlp_b_b128": ("b", 128)}
SIZES = {"a": [IN, 128, CLASSES], "b": [IN, 512, 512, CLASSES], "d": [IN, 512, 256, CLASSES]}
DEMO_EPOCHS = 8  # the MNIST demo's default: its cosine schedule spans 8 epochs

state = {}


def make_net(tag, d):
    sizes = SIZES[tag]
    layers = []
    for i in range(len(sizes) - 1):
        lin = torch.nn.Linear(sizes[i], sizes[i + 1])
        w = np.fromfile(os.path.join(d, f"mlp_{tag}_w{i + 1}.f32"), dtype=np.float32).reshape(sizes[i + 1], sizes[i])
        b = np.fromfile(os.path.join(d, f"mlp_{tag}_b{i + 1}.f32"), dtype=np.float32)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if i + 2 < len(sizes):
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers)
    return net, torch.optim.SGD(net.parameters(), lr=LR)


def load(d):
    state["dir"] = d
    state["x"] = torch.from_numpy(np.fromfile(os.path.join(d, "x.f32"), dtype=np.float32).reshape(BATCH, IN))
    state["y"] = torch.from_numpy(np.fromfile(os.path.join(d, "y.u8"), dtype=np.uint8).astype(np.int64) % CLASSES)
    for tag in SIZES:
        state["net_" + tag] = make_net(tag, d)


def step(net, opt, x, y):
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(net(x), y)
    loss.backward()
    opt.step()
    return loss


def chain(ops, dtype):
    """y = y * a + b, ops ops from x = 0.5 (as wg_bench.c's chain); the sum of the leaves' gradients."""
    x = torch.tensor(0.5, dtype=dtype, requires_grad=True)
    a = torch.tensor(0.9999, dtype=dtype, requires_grad=True)
    b = torch.tensor(0.0001, dtype=dtype, requires_grad=True)
    y = x
    for _ in range(ops // 2):
        y = y * a
        y = y + b
    y.backward()
    return float(x.grad + a.grad + b.grad)


def scalar_chain():
    return chain(CHAIN_OPS, torch.float32)


def chain64(ops):
    """bench/compare's size table: the chain in float64."""
    return chain(ops, torch.float64)


def seed_expression(x1v, x2v):
    x1 = torch.tensor(x1v, requires_grad=True)
    x2 = torch.tensor(x2v, requires_grad=True)
    f = (2 * x1 + 3 * x2) ** 2 + 3
    f.backward()
    return float(f) + float(x1.grad) + float(x2.grad)


def mlp_a_loss(w1, b1, w2, b2):
    """The 784-128-10 loss at batch 128 as a function of its weights (as wg_bench.c's mlp_a_loss)."""
    h = F.relu(F.linear(state["x"], w1, b1))
    return F.cross_entropy(F.linear(h, w2, b2), state["y"])


def mlp_a_weights():
    net, _ = state["net_a"]
    return tuple(p.detach() for p in (net[0].weight, net[0].bias, net[2].weight, net[2].bias))


def grad_mlp():
    w = tuple(p.clone().requires_grad_(True) for p in mlp_a_weights())
    loss = mlp_a_loss(*w)
    loss.backward()
    return float(loss)


def hvp_mlp():
    """torch.autograd.functional.hvp: H v of the loss w.r.t. the weights, v_k = sin(k + 1) over the
    weights flattened in order (as wg_bench.c's)."""
    w = mlp_a_weights()
    if "hvp_v" not in state:
        flat = torch.sin(torch.arange(1, sum(p.numel() for p in w) + 1, dtype=torch.float64)).to(w[0].dtype)
        state["hvp_v"] = tuple(c.reshape(p.shape) for c, p in zip(torch.split(flat, [p.numel() for p in w]), w))
    _, hv = torch.autograd.functional.hvp(mlp_a_loss, w, state["hvp_v"])
    return float(sum(h.sum() for h in hv))


def hessian_seed():
    """The full Hessian of wg_bench.c's 10-variable expression, float64."""
    x = torch.tensor([0.1 * (i + 1) - 0.4 for i in range(10)], dtype=torch.float64)

    def f(x):
        a = (2 * x + 3 * torch.roll(x, -1)) ** 2
        b = torch.exp(0.1 * x) * torch.roll(x, -2)
        c = torch.tanh(x) * torch.roll(x, -5)
        return (a + b + c).sum()

    return float(torch.autograd.functional.hessian(f, x).sum())


HIGHER = {"grad_mlp": (grad_mlp, 1e3), "hvp_mlp": (hvp_mlp, 1e3), "hvp_mlp_fwd": (hvp_mlp, 1e3),
          "hessian_seed": (hessian_seed, 1e6)}


def mnist():
    if "mnist" not in state:
        d = "data/mnist"
        img = np.fromfile(os.path.join(d, "train-images-idx3-ubyte"), dtype=np.uint8)[16:]
        lab = np.fromfile(os.path.join(d, "train-labels-idx1-ubyte"), dtype=np.uint8)[8:]
        n = lab.shape[0]
        state["mnist"] = (torch.from_numpy(img.reshape(n, IN).astype(np.float32) / 255.0),
                          torch.from_numpy(lab.astype(np.int64)))
    return state["mnist"]


def demo_epoch():
    """One epoch of the README's MNIST demo, as wg_bench.c's demo_epoch: 784-512-256-10 ReLU,
    Adam (lr 1e-3; foreach, the faster of its two implementations here) on the demo's cosine
    schedule over 8 epochs, a fresh shuffle into batches of 128 gathered with index_select,
    F.cross_entropy, zero_grad(set_to_none=True), and the epoch's loss and accuracy summed on
    tensors (read once at the end, no synchronisation per step).  Starts from the shared
    weights and a fresh optimiser every run; returns (seconds, training accuracy)."""
    x, y = mnist()
    net, _ = make_net("d", state["dir"])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, foreach=True)
    n = x.shape[0]
    per_epoch = (n + BATCH - 1) // BATCH
    t_max = per_epoch * DEMO_EPOCHS
    g = torch.Generator().manual_seed(1)
    t0 = time.perf_counter()
    perm = torch.randperm(n, generator=g)
    correct = torch.zeros((), dtype=torch.int64)
    loss_sum = torch.zeros(())
    for s, i in enumerate(range(0, n, BATCH)):
        idx = perm[i:i + BATCH]
        xb, yb = x.index_select(0, idx), y.index_select(0, idx)
        opt.param_groups[0]["lr"] = 1e-3 * (1 + math.cos(math.pi * min(s, t_max) / t_max)) / 2
        opt.zero_grad(set_to_none=True)
        z = net(xb)
        loss = F.cross_entropy(z, yb)
        loss.backward()
        opt.step()
        with torch.no_grad():
            correct += (z.argmax(1) == yb).sum()
            loss_sum += loss * yb.shape[0]
    acc = float(correct) / n
    return time.perf_counter() - t0, acc


def run(name, n):
    extra = -1.0
    # Each timed run starts with one untimed iteration, as in wg_bench.c.
    if name == "scalar_chain":
        scalar_chain()
        t0 = time.perf_counter()
        for _ in range(n):
            extra = scalar_chain()
        return (time.perf_counter() - t0) / (n * CHAIN_OPS) * 1e9, extra
    if name.startswith("chain_record_"):
        ops = int(float(name[len("chain_record_"):]))
        chain64(ops)
        t0 = time.perf_counter()
        for _ in range(n):
            extra = chain64(ops)
        return (time.perf_counter() - t0) / (n * ops) * 1e9, extra
    if name == "seed_expression":
        seed_expression(1.0, 3.0)
        t0 = time.perf_counter()
        for i in range(n):
            extra = seed_expression(1.0 + (i & 7), 3.0)
        return (time.perf_counter() - t0) / n * 1e9, extra
    if name in HIGHER:  # hvp_mlp_fwd: PyTorch has one hvp, timed for both rows
        fn, unit = HIGHER[name]
        fn()
        t0 = time.perf_counter()
        for _ in range(n):
            extra = fn()
        return (time.perf_counter() - t0) / n * unit, extra
    if name in MLPS:
        tag, b = MLPS[name]
        net, opt = state["net_" + tag]
        x, y = state["x"][:b], state["y"][:b]
        step(net, opt, x, y)
        t0 = time.perf_counter()
        for _ in range(n):
            loss = step(net, opt, x, y)
        dt = time.perf_counter() - t0
        return dt / n * 1e3, float(loss)
    if name == "mnist_epoch":
        x, y = mnist()
        net, opt = state["net_a"]
        t0 = time.perf_counter()
        for _ in range(n):
            for i in range(0, x.shape[0], BATCH):
                loss = step(net, opt, x[i:i + BATCH], y[i:i + BATCH])
        return (time.perf_counter() - t0) / n, float(loss)
    if name == "mnist_demo_epoch":
        t, extra = 0.0, -1.0
        for _ in range(n):
            dt, extra = demo_epoch()
            t += dt
        return t / n, extra
    raise ValueError("unknown workload " + name)


def status_mib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def mem_main(name, steps, d):
    load(d)
    tag, b = MLPS[name]
    net, opt = state["net_" + tag]
    x, y = state["x"][:b], state["y"][:b]
    base = status_mib("VmRSS")
    step(net, opt, x, y)
    first = status_mib("VmRSS")
    for _ in range(steps - 1):
        loss = step(net, opt, x, y)
    print(json.dumps({"base_mib": base, "after_first_mib": first, "after_last_mib": status_mib("VmRSS"),
                      "peak_mib": status_mib("VmHWM"), "loss": float(loss)}))


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--mem":
        mem_main(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        cmd, args = parts[0], parts[1:]
        try:
            if cmd == "info":
                out = {"torch": torch.__version__, "numpy": np.__version__, "threads": torch.get_num_threads(),
                       "config": torch.__config__.show(), "parallel": torch.__config__.parallel_info()}
            elif cmd == "load":
                load(args[0])
                out = {"ok": True}
            elif cmd == "threads":
                torch.set_num_threads(int(args[0]))
                out = {"ok": True}
            elif cmd == "run":
                v, extra = run(args[0], int(args[1]) if len(args) > 1 else 1)
                out = {"value": v, "extra": extra}
            elif cmd == "check":
                tag, b = MLPS[args[0]]
                net, opt = make_net(tag, state["dir"])
                l1 = float(step(net, opt, state["x"][:b], state["y"][:b]))
                l2 = float(step(net, opt, state["x"][:b], state["y"][:b]))
                out = {"loss": l1, "loss_after_step": l2}
            elif cmd == "quit":
                break
            else:
                out = {"error": "unknown command " + cmd}
        except Exception as e:  # report, keep serving
            out = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
