"""bench/compare's driver: wengert and PyTorch side by side, in one run.

It writes the shared initial weights and data once (numpy, seeded), starts one
wengert worker (bench/wg_bench) and one PyTorch worker per configuration and
thread count (bench/torch_bench.py), and then, for every workload, alternates
the sides: a warm-up run of each, then `reps` rounds in which every worker
runs the same workload once, in turn.  Each value is the median over rounds.

PyTorch is reported as a user gets it ("default": the environment as it is,
torch.set_num_threads(N)) and at its best: the fastest over the configurations
below and over thread counts up to N.  The targets are checked against its best.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
UNITS = {"scalar_chain": "ns/op", "scalar_chain_floor": "ns/op", "scalar_chain_cpp": "ns/op", "seed_expression": "ns/eval",
         "mlp_a_b128": "ms/step", "mlp_a_b32": "ms/step", "mlp_a_b1": "ms/step", "mlp_b_b128": "ms/step",
         "mnist_epoch": "s/epoch", "mnist_demo_epoch": "s/epoch", "grad_mlp": "ms/eval", "hvp_mlp": "ms/eval", "hvp_mlp_fwd": "ms/eval",
         "hessian_seed": "us/eval"}
PAUSE = 0.2  # seconds between two workers
MLP = ["mlp_a_b128", "mlp_a_b32", "mlp_a_b1", "mlp_b_b128"]
INBW = ["mlp_a_b1", "mnist_demo_epoch"]  # also timed with wg_optim_backward_begin/end (wengert only)


# The scalar chain by size (f64): wengert and ADOL-C record and differentiate
# it (and replay it at new inputs) at every size, PyTorch up to 1e5 ops (7-8
# us per op: a 1e7-op chain would take over a minute a run).
CHAIN_SIZES = ["1e3", "1e5", "1e6", "1e7"]
TORCH_CHAIN_MAX = 1e5


def chain_iters(size):
    """Iterations per run of a chain workload: about 2e6 ops a run, at least one."""
    return max(1, int(2e6 / float(size)))


class Worker:
    def __init__(self, name, argv, env, cwd=ROOT):
        self.name = name
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=cwd,
                                  text=True, bufsize=1)

    def ask(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        reply = self.p.stdout.readline()
        if not reply:
            raise RuntimeError(f"{self.name}: worker died on '{line}'")
        out = json.loads(reply)
        if "error" in out:
            raise RuntimeError(f"{self.name}: {line}: {out['error']}")
        return out

    def close(self):
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.flush()
        except BrokenPipeError:
            pass
        self.p.wait(timeout=30)


def write_data(d):
    """The initial weights (PyTorch's default init range, U(-1/sqrt(in), 1/sqrt(in)), stored
    [out, in] row-major, the layout of both wg_dense and nn.Linear) and one batch of 128
    inputs in [0, 1) with labels."""
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(20261122)
    for tag, sizes in (("a", [784, 128, 10]), ("b", [784, 512, 512, 10])):
        for i in range(len(sizes) - 1):
            bound = 1.0 / np.sqrt(sizes[i])
            rng.uniform(-bound, bound, (sizes[i + 1], sizes[i])).astype(np.float32).tofile(
                os.path.join(d, f"mlp_{tag}_w{i + 1}.f32"))
            rng.uniform(-bound, bound, sizes[i + 1]).astype(np.float32).tofile(os.path.join(d, f"mlp_{tag}_b{i + 1}.f32"))
    rng.uniform(0, 1, (128, 784)).astype(np.float32).tofile(os.path.join(d, "x.f32"))
    rng.integers(0, 10, 128).astype(np.uint8).tofile(os.path.join(d, "y.u8"))
    # The MNIST demo's 784-512-256-10 (mnist_demo_epoch), from a generator of its own so
    # that the other workloads' weights and batch stay as they were.
    rng = np.random.default_rng(20261202)
    sizes = [784, 512, 256, 10]
    for i in range(len(sizes) - 1):
        bound = 1.0 / np.sqrt(sizes[i])
        rng.uniform(-bound, bound, (sizes[i + 1], sizes[i])).astype(np.float32).tofile(
            os.path.join(d, f"mlp_d_w{i + 1}.f32"))
        rng.uniform(-bound, bound, sizes[i + 1]).astype(np.float32).tofile(os.path.join(d, f"mlp_d_b{i + 1}.f32"))


def torch_configs(threads, blis_arch, openblas_dir, jemalloc, quick, every):
    """(name, environment changes, variables to remove) for a PyTorch worker at `threads`."""
    n = str(threads)
    # glibc's dynamic mmap threshold makes PyTorch's large temporaries come and go
    # with mmap/munmap (page faults each step, a bimodal step time): pin it.
    tuned_malloc = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 30),
                    "MALLOC_TOP_PAD_": str(64 << 20)}
    blis = {"BLIS_ARCH_TYPE": str(blis_arch), "BLIS_NUM_THREADS": n, "OMP_NUM_THREADS": n}
    cfgs = [("default", {}, [])]
    if not quick:
        cfgs.append(("blis-tuned", dict(blis, **tuned_malloc), []))
    if openblas_dir:
        obl = {"LD_LIBRARY_PATH": openblas_dir, "OPENBLAS_NUM_THREADS": n, "OMP_NUM_THREADS": n}
        if every:
            cfgs.append(("openblas", dict(obl, **tuned_malloc), ["OPENBLAS_CORETYPE"]))
        if jemalloc:
            cfgs.append(("openblas-jemalloc", dict(obl, LD_PRELOAD=jemalloc), ["OPENBLAS_CORETYPE"]))
    elif jemalloc:
        cfgs.append(("blis-jemalloc", dict(blis, LD_PRELOAD=jemalloc), []))
    return cfgs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and configurations (< 2 minutes)")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--only", default="", help="comma-separated workloads (default: all)")
    ap.add_argument("--every-config", action="store_true",
                    help="also OpenBLAS with glibc malloc settings (jemalloc was faster in every run so far)")
    ap.add_argument("--wg-bench", default=os.path.join(ROOT, "build-bench", "bench", "wg_bench"))
    ap.add_argument("--adolc-bench", default="", help="the ADOL-C worker (bench/adolc_bench); empty: none")
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    a = ap.parse_args()
    threads = [int(x) for x in a.threads.split(",")]
    q = a.quick
    reps = 3 if q else 5
    # workload: (wengert iterations per run, PyTorch iterations per run)
    iters = {"scalar_chain": (5 if q else 20, 1), "scalar_chain_floor": (50 if q else 200, 0),
             "seed_expression": (100000 if q else 1000000, 2000 if q else 10000),
             "mlp_a_b128": (20 if q else 50, 20 if q else 50), "mlp_a_b32": (40 if q else 100, 40 if q else 100),
             "mlp_a_b1": (100 if q else 500, 100 if q else 500), "mlp_b_b128": (10 if q else 20, 10 if q else 20),
             "mnist_epoch": (1, 1), "mnist_demo_epoch": (1, 1), "grad_mlp": (10 if q else 50, 10 if q else 50),
             "hvp_mlp": (5 if q else 20, 5 if q else 20), "hvp_mlp_fwd": (5 if q else 20, 0),
             "hessian_seed": (200 if q else 2000, 5 if q else 20)}
    for size in CHAIN_SIZES:
        UNITS["chain_record_" + size] = "ns/op"
        iters["chain_record_" + size] = (chain_iters(size), 1 if float(size) <= TORCH_CHAIN_MAX else 0)
    names = [w for w in iters if not a.only or w in a.only.split(",") or
             (w == "scalar_chain_floor" and "scalar_chain" in a.only.split(",")) or
             (w.startswith("chain_record_") and "chain" in a.only.split(","))]
    have_mnist = os.path.exists(os.path.join(ROOT, "data", "mnist", "train-images-idx3-ubyte"))
    for wl in ("mnist_epoch", "mnist_demo_epoch"):
        if wl in names and not have_mnist:
            print(f"{wl}: skipped, data/mnist/ is missing (scripts/fetch-mnist puts it there)")
            names.remove(wl)
    # An epoch is 469 steps, its own warm-up: --quick runs it once, unwarmed.
    reps_of = {"mnist_epoch": 1, "mnist_demo_epoch": 1} if q else {}
    warm_of = {"mnist_epoch": 0, "mnist_demo_epoch": 0} if q else {}

    data = os.path.join(a.out, "data")
    write_data(data)
    openblas_dir = os.environ.get("WG_BENCH_OPENBLAS_DIR", "")
    jemalloc = os.environ.get("WG_BENCH_JEMALLOC", "")

    wg = Worker("wengert", [a.wg_bench], dict(os.environ))
    wg.ask("load " + data)
    wg_info = wg.ask("info")
    adolc, adolc_info = None, None
    if a.adolc_bench and any(w.startswith("chain_") or w == "seed_expression" for w in names):
        wd = os.path.join(a.out, "adolc")  # its tapes are in memory; any file it writes lands here
        os.makedirs(wd, exist_ok=True)
        adolc = Worker("adolc", [os.path.abspath(a.adolc_bench)], dict(os.environ), cwd=wd)
        adolc_info = adolc.ask("info")
    torch_workers = {}  # (threads, config) -> Worker
    env_notes = {}
    for n in threads:
        for cname, add, drop in torch_configs(n, wg_info["blis_arch_id"], openblas_dir, jemalloc, q, a.every_config):
            env = {k: v for k, v in os.environ.items() if k not in drop}
            env.update(add)
            env_notes[cname] = {"set": {k: v for k, v in add.items() if k not in ("BLIS_NUM_THREADS",
                                "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}, "unset": drop}
            torch_workers[(n, cname)] = Worker(f"pytorch[{cname},{n}]",
                                               [sys.executable, os.path.join(HERE, "torch_bench.py")], env)
    for (n, cname), w in torch_workers.items():
        w.ask("load " + data)
        w.ask(f"threads {n}")
    t_info = torch_workers[(threads[0], "default")].ask("info")

    # Same weights and data on both sides: the first loss and the loss after one SGD step agree.
    checks = {}
    for wl in [w for w in MLP if w in names]:
        cw = wg.ask("check " + wl)
        ct = torch_workers[(threads[0], "default")].ask("check " + wl)
        checks[wl] = {"wengert": cw, "pytorch": ct}
        if abs(cw["loss"] - ct["loss"]) > 1e-4 * max(1, abs(ct["loss"])) or \
                abs(cw["loss_after_step"] - ct["loss_after_step"]) > 1e-3 * max(1, abs(ct["loss_after_step"])):
            print(f"WARNING {wl}: the two sides disagree: wengert {cw}, pytorch {ct}")

    meas = {}  # (workload, threads) -> {"wengert": [...], "floor": [...], config: [...]}
    extras = {}  # (workload, side) -> the last reply (bytes per op, checksum)
    t_start = time.time()
    load_before = os.getloadavg()
    for n in threads:
        wg.ask(f"threads {n}")
        cfgs = [c for (tn, c) in torch_workers if tn == n]
        for wl in names:
            wi, ti = iters[wl]
            sides = [("wengert", wg, f"run {wl} {wi}")]
            if wl in MLP or wl == "mnist_demo_epoch":
                sides.append(("floor", wg, f"floor {wl} {wi}"))
            if wl == "scalar_chain" and wg_info.get("cpp"):  # the same chain through wengert.hpp
                sides.append(("cpp", wg, f"run scalar_chain_cpp {wi}"))
            if wl.startswith("chain_record_"):  # the chain recorded once, replayed at new inputs (wg_tape_replay)
                sides.append(("replay", wg, f"run {wl.replace('record', 'replay')} {wi}"))
            if adolc and (wl.startswith("chain_record_") or wl == "seed_expression"):
                sides.append(("adolc", adolc, f"run {wl} {wi}"))
                if wl.startswith("chain_record_"):  # gradient(tag, ...) of the taped chain at new inputs
                    sides.append(("adolc_replay", adolc, f"run {wl.replace('record', 'replay')} {wi}"))
            if wl in INBW:  # the same training with the optimiser stepping in backward
                sides.append(("inbw", wg, f"run {wl}_inbw {wi}"))
            if ti:
                sides += [(c, torch_workers[(n, c)], f"run {wl} {ti}") for c in cfgs]
            m = {s: [] for s, _, _ in sides}
            warm = warm_of.get(wl, 1)
            for r in range(reps_of.get(wl, reps) + warm):  # the first `warm` rounds warm up
                for s, w, cmd in sides:
                    reply = w.ask(cmd)
                    v = reply["value"]
                    extras[(wl, s)] = reply
                    if r >= warm:
                        m[s].append(v)
                    # Let the threads of the side that ran go idle before the next
                    # one runs: OpenBLAS's spin for up to 2^28 cycles (its default
                    # THREAD_TIMEOUT, about 80 ms here), libgomp's for well under
                    # a millisecond.  With 20 ms the spinning threads of the side
                    # before shared the two cores with the side measured: a
                    # 2-thread step that forks and joins often (784-128-10 at
                    # batch 32) read 2.9 ms instead of 0.17, the BLIS floor 4.3
                    # instead of 0.39.
                    time.sleep(PAUSE)
            meas[(wl, n)] = {s: statistics.median(v) for s, v in m.items()}
            meas[(wl, n)]["_all"] = m
            print(f"  measured {wl} at {n} thread(s) ({time.time() - t_start:.0f} s)", file=sys.stderr)

    # Memory: fresh processes, 200 steps of mlp_b_b128 (the largest), one thread.
    mem = {}
    if "mlp_b_b128" in names:
        steps = "50" if q else "200"
        wgm = json.loads(subprocess.run([a.wg_bench, "--mem", "mlp_b_b128", steps, data], cwd=ROOT,
                                        capture_output=True, text=True, check=True).stdout)
        tm = json.loads(subprocess.run([sys.executable, os.path.join(HERE, "torch_bench.py"), "--mem", "mlp_b_b128",
                                        steps, data], cwd=ROOT, capture_output=True, text=True, check=True).stdout)
        mem = {"wengert": wgm, "pytorch": tm, "steps": int(steps)}

    wg.close()
    if adolc:
        adolc.close()
    for w in torch_workers.values():
        w.close()

    results, rows = [], []
    for (wl, n), m in meas.items():
        if wl == "scalar_chain_floor":
            continue
        x = m["wengert"]
        unit = UNITS[wl]
        if wl == "scalar_chain" and ("scalar_chain_floor", n) in meas:
            f = meas[("scalar_chain_floor", n)]["wengert"]
            results.append({"workload": wl, "threads": n, "wengert": x, "floor": f, "unit": unit, "of_floor": x / f})
        if wl.startswith("chain_record_") or (wl == "seed_expression" and "adolc" in m):
            r = {"workload": wl, "threads": n, "wengert": x, "unit": unit,
                 "wengert_bytes_per_op": extras[(wl, "wengert")].get("bytes_per_op")}
            if "adolc" in m:
                r.update(adolc=m["adolc"], adolc_speedup=m["adolc"] / x,
                         adolc_bytes_per_op=extras[(wl, "adolc")].get("bytes_per_op"),
                         adolc_in_memory=extras[(wl, "adolc")].get("in_memory"))
            if "replay" in m:
                r.update(wengert_replay=m["replay"], replay_of_record=m["replay"] / x)
            if "adolc_replay" in m:
                r.update(adolc_replay=m["adolc_replay"], adolc_replay_vs_wengert=m["adolc_replay"] / x)
                if "replay" in m:
                    r["adolc_replay_vs_wengert_replay"] = m["adolc_replay"] / m["replay"]
            if wl == "seed_expression":
                r["workload"] = "seed_expression_adolc"  # bytes: the whole tape, per evaluation
            results.append(r)
            if wl.startswith("chain_record_") and "default" not in m:
                continue
        if "floor" in m:
            results.append({"workload": wl, "threads": n, "wengert": x, "floor": m["floor"], "unit": unit,
                            "of_floor": x / m["floor"]})
        if "inbw" in m:  # per-round ratios, as for cpp
            rr = [o / i for o, i in zip(m["_all"]["wengert"], m["_all"]["inbw"])]
            results.append({"workload": wl + "_inbw", "threads": n, "wengert": m["inbw"], "ordinary": x, "unit": unit,
                            "speedup_vs_ordinary": statistics.median(rr), "rounds": rr})
        if "cpp" in m:  # per-round ratios: the two ran back to back in each round
            rr = [c / v for c, v in zip(m["_all"]["cpp"], m["_all"]["wengert"])]
            results.append({"workload": "scalar_chain_cpp", "threads": n, "wengert": m["cpp"], "c": x, "unit": unit,
                            "of_c": statistics.median(rr), "of_c_rounds": rr})
        cands = {(c, tn): meas[(wl, tn)][c] for (tn, c) in torch_workers if tn <= n and c in meas[(wl, tn)]}
        if not cands:  # a wengert-only workload (hvp_mlp_fwd): its time alone
            results.append({"workload": wl, "threads": n, "wengert": x, "unit": unit})
            continue
        (bc, bn), best = min(cands.items(), key=lambda kv: kv[1])
        dflt = m["default"]
        results.append({"workload": wl, "threads": n, "wengert": x, "pytorch": best, "unit": unit,
                        "speedup": best / x, "pytorch_default": dflt, "speedup_default": dflt / x,
                        "pytorch_best_config": f"{bc}, {bn} thread(s)",
                        "pytorch_configs": {c: meas[(wl, n)][c] for (tn, c) in torch_workers if tn == n}})
        rows.append((wl, n, unit, x, m.get("floor"), dflt, best, f"{bc}/{bn}t"))
    if mem:
        wp, tp = mem["wengert"]["peak_mib"], mem["pytorch"]["peak_mib"]
        results.append({"workload": "peak_memory_mlp_b_b128", "threads": 1, "wengert": wp, "pytorch": tp,
                        "unit": "MiB", "speedup": tp / wp})
        wd = mem["wengert"]["peak_mib"] - mem["wengert"]["base_mib"]
        td = mem["pytorch"]["peak_mib"] - mem["pytorch"]["base_mib"]
        results.append({"workload": "step_memory_mlp_b_b128", "threads": 1, "wengert": wd, "pytorch": td,
                        "unit": "MiB", "speedup": td / wd if wd > 0 else None})

    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    environment = {
        "date": time.strftime("%Y-%m-%d %H:%M"), "mode": "quick" if q else "full", "reps": reps,
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "kernel": platform.release()},
        "wengert": wg_info, "pytorch": {k: t_info[k] for k in ("torch", "numpy", "config", "parallel")},
        "adolc": adolc_info,
        "pytorch_configs": env_notes, "pytorch_blas_note": blas_note(openblas_dir, jemalloc),
        "iterations": iters, "checks": checks, "memory": mem,
        "load_average": {"before": load_before, "after": os.getloadavg()}, "seconds": time.time() - t_start,
        "samples": {f"{wl}@{n}": m["_all"] for (wl, n), m in meas.items()},
    }
    with open(os.path.join(a.out, "environment.json"), "w") as f:
        json.dump(environment, f, indent=1)
    print_table(rows, results, mem, wg_info, t_info, q)
    la, lb = environment["load_average"]["before"], environment["load_average"]["after"]
    print(f"machine load average (1, 5, 15 min) before {la[0]:.1f} {la[1]:.1f} {la[2]:.1f}, after {lb[0]:.1f} {lb[1]:.1f} "
          f"{lb[2]:.1f} on {os.cpu_count()} cores; measuring took {environment['seconds']:.0f} s")
    for wl, c in checks.items():
        print(f"same start, {wl}: first loss wengert {c['wengert']['loss']:.7g}, pytorch {c['pytorch']['loss']:.7g}; "
              f"after one SGD step {c['wengert']['loss_after_step']:.7g}, {c['pytorch']['loss_after_step']:.7g}")


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def blas_note(openblas_dir, jemalloc):
    return ("default: Debian's libblas.so.3 alternative (BLIS, which picks its 'generic' kernels on this CPU); "
            "blis-tuned: the same library with BLIS_ARCH_TYPE set to wengert's choice and BLIS_NUM_THREADS; "
            "openblas: Debian's libopenblas0-pthread through LD_LIBRARY_PATH, OPENBLAS_CORETYPE unset"
            + (", jemalloc: Debian's libjemalloc2 through LD_PRELOAD" if jemalloc else "")
            + ("" if openblas_dir else " (OpenBLAS not available in this run)"))


def fmt(v):
    if v is None:
        return "-"
    return f"{v:.4g}"


def print_table(rows, results, mem, wg_info, t_info, quick):
    print(f"wengert: {wg_info['blas']}")
    print(f"pytorch: {t_info['torch']}")
    print()
    hdr = ("workload", "thr", "unit", "wengert", "floor", "x floor", "torch dflt", "torch best", "best config",
           "speedup", "vs dflt")
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))
    for wl, n, unit, x, fl, d, b, bc in rows:
        print(f"| {wl} | {n} | {unit} | {fmt(x)} | {fmt(fl)} | {fmt(x / fl) if fl else '-'} | {fmt(d)} | {fmt(b)} | {bc} "
              f"| {b / x:.3g}x | {d / x:.3g}x |")
    for r in results:
        if r["workload"] == "scalar_chain_cpp":
            print(f"scalar_chain through wengert.hpp (C++), {r['threads']} thread(s): {fmt(r['wengert'])} ns/op, "
                  f"{r['of_c']:.3g}x the C calls (median of the rounds' ratios)")
        if r["workload"].endswith("_inbw"):
            print(f"{r['workload'][:-5]} with the optimiser stepping in backward, {r['threads']} thread(s): "
                  f"{fmt(r['wengert'])} {r['unit']}, {r['speedup_vs_ordinary']:.3g}x faster than the ordinary step "
                  f"(median of the rounds' ratios)")
        if r["workload"] == "scalar_chain" and "floor" in r:
            print(f"scalar_chain floor (hand-written C derivative), {r['threads']} thread(s): {fmt(r['floor'])} ns/op, "
                  f"wengert at {r['of_floor']:.3g}x of it")
    if mem:
        w, t = mem["wengert"], mem["pytorch"]
        print(f"memory, mlp_b_b128, {mem['steps']} steps in a fresh process: peak RSS wengert {w['peak_mib']:.1f} MiB, "
              f"pytorch {t['peak_mib']:.1f} MiB; above the state before the first step: wengert "
              f"{w['peak_mib'] - w['base_mib']:.1f} MiB, pytorch {t['peak_mib'] - t['base_mib']:.1f} MiB; "
              f"RSS growth from step 1 to {mem['steps']}: wengert {w['after_last_mib'] - w['after_first_mib']:+.2f} MiB "
              f"(tape {w['tape_first_bytes']} -> {w['tape_last_bytes']} bytes), pytorch "
              f"{t['after_last_mib'] - t['after_first_mib']:+.2f} MiB")
    chain_table(results)
    print()
    targets(results, mem)


def chain_table(results):
    """The f64 scalar chain by size: ns per op (record + gradient; replay at new inputs) and tape bytes per op."""
    rows = [r for r in results if r["workload"].startswith("chain_record_") and "wengert_bytes_per_op" in r]
    if not rows:
        return
    torch = {(r["workload"], r["threads"]): r["pytorch"] for r in results
             if r["workload"].startswith("chain_record_") and "pytorch" in r}
    print()
    print("scalar chain by size (f64, y*a and y+b alternating; ns/op, record+gradient and replay+gradient at new inputs; "
          "bytes/op = tape bytes / ops):")
    hdr = ("ops", "thr", "wengert", "B/op", "ADOL-C", "B/op", "ADOL-C/wengert", "wengert replay", "replay/record",
           "ADOL-C replay", "ADOL-C replay/wengert replay", "torch best", "torch/wengert")
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))
    for r in rows:
        t = torch.get((r["workload"], r["threads"]))
        print(f"| {r['workload'][len('chain_record_'):]} | {r['threads']} | {fmt(r['wengert'])} | "
              f"{fmt(r['wengert_bytes_per_op'])} | {fmt(r.get('adolc'))} | {fmt(r.get('adolc_bytes_per_op'))} | "
              f"{fmt(r.get('adolc_speedup'))} | {fmt(r.get('wengert_replay'))} | {fmt(r.get('replay_of_record'))} | "
              f"{fmt(r.get('adolc_replay'))} | {fmt(r.get('adolc_replay_vs_wengert_replay'))} | "
              f"{fmt(t)} | {fmt(t / r['wengert']) if t else '-'} |")
    for r in results:
        if r["workload"] == "seed_expression_adolc" and "adolc" in r:
            print(f"seed_expression, {r['threads']} thread(s): wengert {fmt(r['wengert'])} ns/eval "
                  f"({fmt(r['wengert_bytes_per_op'])} tape bytes), ADOL-C {fmt(r['adolc'])} ns/eval "
                  f"({fmt(r['adolc_bytes_per_op'])} tape bytes), ADOL-C/wengert {r['adolc_speedup']:.3g}x")


def targets(results, mem):
    def get(wl, n, key="speedup"):
        for r in results:
            if r["workload"] == wl and r["threads"] == n and key in r:
                return r
        return None

    nmax = max(r["threads"] for r in results) if results else 1
    out = []
    r = get("scalar_chain", nmax)
    if r:
        out.append((f"scalar_chain <= 10 ns/op", r["wengert"] <= 10, f"{r['wengert']:.3g} ns/op"))
        out.append((f"scalar_chain >= 500x PyTorch", r["speedup"] >= 500, f"{r['speedup']:.3g}x"))
    chain = {r["workload"][len("chain_record_"):]: r for r in results
             if r["workload"].startswith("chain_record_") and r["threads"] == nmax and "wengert_bytes_per_op" in r}
    if "1e5" in chain:
        out.append(("chain_record_1e5 (f64) <= 5 ns/op", chain["1e5"]["wengert"] <= 5, f"{chain['1e5']['wengert']:.3g} ns/op"))
    if "1e7" in chain:
        out.append(("chain_record_1e7 (f64) <= 6 ns/op", chain["1e7"]["wengert"] <= 6, f"{chain['1e7']['wengert']:.3g} ns/op"))
    if len(chain) > 1:
        v = [r["wengert"] for r in chain.values()]
        out.append(("chain_record flat within 1.25x over its sizes", max(v) <= 1.25 * min(v), f"{max(v) / min(v):.3g}x"))
        b = max(r["wengert_bytes_per_op"] for r in chain.values())
        out.append(("chain_record <= 32 tape bytes per op", b <= 32, f"{b:.4g} B/op"))
    for size, r in chain.items():
        if "replay_of_record" in r:
            out.append((f"chain_replay_{size}: replay+gradient <= half of recording again", r["replay_of_record"] <= 0.5,
                        f"{r['replay_of_record']:.3g}x"))
        if "adolc_replay_vs_wengert_replay" in r:
            out.append((f"chain_replay_{size}: faster than ADOL-C's replay", r["adolc_replay_vs_wengert_replay"] > 1,
                        f"{r['adolc_replay_vs_wengert_replay']:.3g}x"))
        if "adolc" in r:
            out.append((f"chain_record_{size}: faster than ADOL-C record+gradient", r["adolc_speedup"] > 1,
                        f"{r['adolc_speedup']:.3g}x"))
    r = get("scalar_chain_cpp", nmax, "of_c")
    if r:
        out.append(("scalar_chain through wengert.hpp within 5% of C", r["of_c"] <= 1.05, f"{r['of_c']:.3g}x"))
    r = get("seed_expression", nmax)
    if r:
        out.append(("seed_expression >= 300x PyTorch", r["speedup"] >= 300, f"{r['speedup']:.3g}x"))
    for wl, lim in (("mlp_a_b128", 1.2), ("mlp_b_b128", 1.25)):
        r = get(wl, 2)
        if r:
            out.append((f"{wl} at 2 threads >= 1.25x PyTorch's best", r["speedup"] >= 1.25, f"{r['speedup']:.3g}x"))
        f = get(wl, 2, "of_floor")
        if f:
            out.append((f"{wl} at 2 threads within {lim}x of the GEMM floor", f["of_floor"] <= lim,
                        f"{f['of_floor']:.3g}x"))
    for n in sorted({r["threads"] for r in results}):
        r, f = get("mnist_demo_epoch", n), get("mnist_demo_epoch", n, "of_floor")
        if f:
            out.append((f"mnist_demo_epoch at {n} thread(s) within 1.3x of the GEMM floor", f["of_floor"] <= 1.3,
                        f"{f['of_floor']:.3g}x"))
        if r:
            out.append((f"mnist_demo_epoch at {n} thread(s) >= 1.5x PyTorch's best", r["speedup"] >= 1.5,
                        f"{r['speedup']:.3g}x"))
    r = get("mlp_a_b1", nmax)
    if r:
        out.append(("mlp_a_b1 >= 10x PyTorch", r["speedup"] >= 10, f"{r['speedup']:.3g}x"))
    for n in sorted({r["threads"] for r in results}):
        g, h = get("grad_mlp", n, "wengert"), get("hvp_mlp", n)
        if g and h:
            out.append((f"hvp_mlp at {n} thread(s) <= 3x one gradient", h["wengert"] <= 3 * g["wengert"],
                        f"{h['wengert'] / g['wengert']:.3g}x ({h['wengert']:.3g} vs {g['wengert']:.3g} ms)"))
            out.append((f"hvp_mlp at {n} thread(s) faster than torch.autograd.functional.hvp", h["speedup"] > 1,
                        f"{h['speedup']:.3g}x"))
        f = get("hvp_mlp_fwd", n, "wengert")
        if g and f:
            out.append((f"hvp_mlp_fwd (forward-over-reverse) at {n} thread(s), for comparison", True,
                        f"{f['wengert'] / g['wengert']:.3g}x one gradient"))
    r = get("hessian_seed", nmax)
    if r:
        out.append(("hessian_seed faster than torch.autograd.functional.hessian", r["speedup"] > 1,
                    f"{r['speedup']:.3g}x"))
    if mem:
        w, t = mem["wengert"], mem["pytorch"]
        out.append(("no memory growth across steps (tape capacity constant)",
                    w["tape_first_bytes"] == w["tape_last_bytes"] and w["after_last_mib"] - w["after_first_mib"] < 1,
                    f"tape {w['tape_first_bytes']} -> {w['tape_last_bytes']} B"))
        out.append(("peak memory below PyTorch's", w["peak_mib"] < t["peak_mib"],
                    f"{w['peak_mib']:.1f} vs {t['peak_mib']:.1f} MiB"))
    print("targets:")
    for name, ok, val in out:
        print(f"  {'MET ' if ok else 'MISS'}  {name}: {val}")


if __name__ == "__main__":
    main()
