#!/usr/bin/env python3
"""dist_model.py: data-parallel scaling of the bench MLPs on N machines, from
the compute time measured here and an alpha-beta model of the allreduce.

    bench/dist_model.py --compute-a MS@B,MS@B --compute-b MS@B,MS@B

--compute-x: one process, one thread, step times (forward + backward + SGD)
of MLP a (784-128-10) and MLP b (784-512-512-10) at two batch sizes, as
build/bench/dist_bench prints them (e.g. 0.61@32,3.9@256).  A straight line
through the two gives c0 + c1 * b for a local batch of b samples.

The allreduce of M bytes over N machines (ring, or dist/'s reduce-scatter +
all-gather, which sends the same bytes in the same number of rounds):
    T_ar = 2 (N-1) alpha + 2 (N-1)/N * M / beta
with beta = 10 or 100 Gb/s and alpha = 10 us (TCP over 10 GbE) or 2 us
(RDMA-class 100 Gb/s).

Overlap: a bucket's reduction can run while backward computes the layers
below it; the last bucket holds the first layer's weights (W1, the largest:
99% of MLP a, 60% of MLP b), whose gradient is the last one backward makes,
so its reduction is never hidden.  dist/'s 1 MiB buckets give MLP b two
buckets: {W3, b3, W2, b2} (1.07 MB) and {W1, b1} (1.61 MB); MLP a one.  The
time left after bucket 0 is ready is the dW1 product, a share of the step's
multiply-adds of  (784 h1) / (3 * all weights)  (forward, dX and dW each
cost one product per layer; layer 1 has no dX).  So per step
    exposed = T_ar(last bucket) + max(0, T_ar(other buckets) - T_dW1)
and efficiency = T_c / (T_c + exposed).  Weak scaling: each machine keeps a
local batch b (global N b).  "Hidden" below is the local batch from which
bucket 0's reduction fits inside T_dW1 (communication of everything but W1
hidden); the whole reduction is never hidden for these MLPs.
"""
import argparse

MLPS = {
    "a": [784, 128, 10],
    "b": [784, 512, 512, 10],
}
BUCKET = 1 << 20


def layers(sizes):
    return [(sizes[i + 1], sizes[i]) for i in range(len(sizes) - 1)]


def buckets(sizes):
    """dist/'s buckets, from the last parameter to the first, in bytes."""
    params = []
    for o, i in layers(sizes):
        params += [o * i * 4, o * 4]
    out, cur = [], 0
    for p in reversed(params):
        cur += p
        if cur >= BUCKET:
            out.append(cur)
            cur = 0
    if cur:
        out.append(cur)
    return out  # out[-1] holds W1


def t_ar(m, n, alpha, beta):
    return 0.0 if n == 1 else 2 * (n - 1) * alpha + 2 * (n - 1) / n * m / beta


def parse(s):
    pts = [tuple(float(x) for x in p.split("@")) for p in s.split(",")]
    (t1, b1), (t2, b2) = pts
    c1 = (t2 - t1) / (b2 - b1)
    return (t1 - c1 * b1) * 1e-3, c1 * 1e-3  # seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--compute-a", required=True)
    ap.add_argument("--compute-b", required=True)
    ap.add_argument("--batch", type=int, default=256, help="local batch (weak) and global batch (strong)")
    a = ap.parse_args()
    comp = {"a": parse(a.compute_a), "b": parse(a.compute_b)}
    nets = [(10e9 / 8, 10e-6, "10 Gb/s"), (100e9 / 8, 2e-6, "100 Gb/s")]
    for weak in (True, False):
        table(a.batch, weak, comp, nets)


def table(batch, weak, comp, nets):
    if weak:
        print(f"weak scaling: local batch {batch} on every machine (global {batch} N); efficiency = compute / step")
    else:
        print(f"strong scaling: global batch {batch} split over the N machines; efficiency = compute / step")
    print("mlp  net       N  local  T_c ms  T_ar ms  eff(no overlap)  exposed(overlap)  eff(overlap)  hidden from local b >=")
    for name, sizes in MLPS.items():
        c0, c1 = comp[name]
        bks = buckets(sizes)
        lay = layers(sizes)
        w_all = sum(o * i for o, i in lay)
        dw1_share = lay[0][0] * lay[0][1] / (3 * w_all - lay[0][0] * lay[0][1])  # layer 1: no dX
        for beta, alpha, label in nets:
            for n in (2, 8, 32):
                b = batch if weak else batch / n
                tc = c0 + c1 * b
                full = t_ar(sum(bks), n, alpha, beta)
                last = t_ar(bks[-1], n, alpha, beta)
                rest = sum(t_ar(m, n, alpha, beta) for m in bks[:-1])
                t_dw1 = dw1_share * tc
                exposed = last + max(0.0, rest - t_dw1)
                # local batch from which `rest` fits inside the dW1 product
                if rest == 0:
                    hid = "nothing to hide"
                else:
                    bstar = (rest / dw1_share - c0) / c1
                    hid = f"{max(1, bstar):8.0f}"
                print(f"{name:4} {label:9} {n:3} {b:6.0f} {tc*1e3:7.2f} {full*1e3:8.3f}     {tc/(tc+full):6.1%}"
                      f"        {exposed*1e3:8.3f} ms      {tc/(tc+exposed):6.1%}      {hid}")
    print()


if __name__ == "__main__":
    main()
