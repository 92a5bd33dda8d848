#!/usr/bin/env python3
"""PyTorch anchor for the rnnkit benchmarks (optional: bench/run.mjs runs it only when
`python3 -c 'import torch'` works; the project never needs Python).

    python3 bench/torch_bench.py --threads 1 --budget 3 [--configs train-lstm-s,...]
    python3 bench/torch_bench.py --threads 1 --gemm     each training step's matrix products alone

Thread settings (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, OMP_WAIT_POLICY) must be set in the
environment before this starts; --threads is passed to torch.set_num_threads. Prints one JSON
line: {"torch": version, "threads": n, "env": {...}, "results": {config: {...}}}.

Timed units (same as the JS rows):
  train-*        opt.zero_grad(); out, _ = rnn(x); mse_loss(out, y).backward(); opt.step()  (SGD)
  infer-lstm-seq with no_grad: rnn(x) over (T, 1, I)
  infer-lstm-b1  with no_grad: T calls with (h, c) fed forward, per step; the faster of
                 nn.LSTM on a (1, 1, I) input and nn.LSTMCell on (1, I) is reported
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

CONFIGS = {
    "train-lstm-s": ("train", "lstm", 64, 128, 32, 64),
    "train-lstm-m": ("train", "lstm", 256, 256, 32, 64),
    "train-lstm-l": ("train", "lstm", 512, 512, 64, 100),
    "train-gru-m": ("train", "gru", 256, 256, 32, 64),
    "infer-lstm-b1": ("step", "lstm", 512, 512, 1, 512),
    "infer-lstm-seq": ("seq", "lstm", 256, 256, 1, 256),
}


def measure(fn, budget, min_samples=3, max_samples=1000):
    t0 = time.perf_counter()
    fn()  # warm-up
    warm = time.perf_counter() - t0
    n = max(1, min(max_samples, max(min_samples, int(budget / max(warm, 1e-6)))))
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return {"medianMs": statistics.median(samples) * 1e3, "minMs": min(samples) * 1e3, "samples": n, "warmupMs": warm * 1e3}


def train_step(name):
    """The timed training step of a train-* config: (step function, the RNN class)."""
    _, cell, I, H, B, T = CONFIGS[name]
    torch.manual_seed(0)
    Rnn = torch.nn.GRU if cell == "gru" else torch.nn.LSTM
    rnn = Rnn(I, H)
    opt = torch.optim.SGD(rnn.parameters(), lr=0.01)
    x = torch.rand(T, B, I) * 2 - 1
    y = torch.rand(T, B, H) - 0.5

    def step():
        opt.zero_grad()
        out, _ = rnn(x)
        torch.nn.functional.mse_loss(out, y).backward()
        opt.step()

    return step, Rnn


def run_config(name, budget, min_samples):
    kind, cell, I, H, B, T = CONFIGS[name]
    torch.manual_seed(0)
    Rnn = torch.nn.GRU if cell == "gru" else torch.nn.LSTM
    if kind == "train":
        step, Rnn = train_step(name)
        r = measure(step, budget, min_samples)
        r["timed"] = f"opt.zero_grad(); out, _ = nn.{Rnn.__name__}(x (T,B,I)); mse_loss(out, y).backward(); SGD opt.step()"
        return r
    if kind == "seq":
        rnn = Rnn(I, H)
        x = torch.rand(T, B, I) * 2 - 1

        def fwd():
            with torch.no_grad():
                rnn(x)

        r = measure(fwd, budget, min_samples)
        r["timed"] = "with no_grad: nn.LSTM(x (T,1,I)): one call over the whole sequence"
        return r
    # single steps, state fed forward
    xs = [torch.rand(1, 1, I) * 2 - 1 for _ in range(T)]
    lstm = torch.nn.LSTM(I, H)
    cell_ = torch.nn.LSTMCell(I, H)

    def steps_lstm():
        with torch.no_grad():
            h = (torch.zeros(1, 1, H), torch.zeros(1, 1, H))
            for t in range(T):
                _, h = lstm(xs[t], h)

    def steps_cell():
        with torch.no_grad():
            h, c = torch.zeros(1, H), torch.zeros(1, H)
            for t in range(T):
                h, c = cell_(xs[t][0], (h, c))

    a = measure(steps_lstm, budget / 2, min_samples)
    b = measure(steps_cell, budget / 2, min_samples)
    a_us, b_us = a["medianMs"] / T * 1e3, b["medianMs"] / T * 1e3
    best, how = (a, "nn.LSTM on (1,1,I)") if a["medianMs"] <= b["medianMs"] else (b, "nn.LSTMCell on (1,I)")
    for k in ("medianMs", "minMs", "warmupMs"):
        best[k] /= T
    best["timed"] = f"with no_grad: {T} steps with (h, c) fed forward, {how} (the faster of nn.LSTM and nn.LSTMCell: {a_us:.0f} and {b_us:.0f} us per step); time divided by {T}"
    return best


def round_seconds(fn, min_s):
    """Seconds per call of fn over one round of at least min_s (as rnnkit-bench's round())."""
    calls, t0 = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        el = time.perf_counter() - t0
        if el >= min_s:
            return el / calls


def step_products(name):
    """The matrix products of one training step without dL/dx, as rnnkit runs them (the list of
    rnnkit-bench's step_products): (what, m, n, k, count, a, b), C = a @ b."""
    _, cell, I, H, B, T = CONFIGS[name]
    gh = (4 if cell == "lstm" else 3) * H
    r = lambda *shape: torch.rand(*shape) * 2 - 1
    return [
        ("x·W_ihᵀ, all steps", T * B, gh, I, 1, r(T * B, I), r(gh, I).t()),
        ("h·W_hhᵀ, per step", B, gh, H, T, r(B, H), r(gh, H).t()),
        ("dgates·W_hh, per step", B, H, gh, T, r(B, gh), r(gh, H)),
        ("dgatesᵀ·x, all steps", gh, I, T * B, 1, r(T * B, gh).t(), r(T * B, I)),
        ("dgatesᵀ·h_prev, all steps", gh, H, T * B, 1, r(T * B, gh).t(), r(T * B, H)),
    ]


def gemm_ceiling(name):
    """torch.mm (this build's BLAS) on each product of the step and the training step itself,
    taking turns for 3 rounds, each keeping its best round (as rnnkit-bench products): the time of
    the step's products alone, with no pointwise work, copies or sequencing between them."""
    step, _ = train_step(name)
    products = step_products(name)
    outs = [torch.empty(m, n) for _, m, n, _, _, _, _ in products]
    calls = [lambda a=a, b=b, c=c: torch.mm(a, b, out=c) for (_, _, _, _, _, a, b), c in zip(products, outs)]
    step()
    best_step, best = float("inf"), [float("inf")] * len(products)
    for _ in range(3):
        best_step = min(best_step, round_seconds(step, 0.3))
        for q, f in enumerate(calls):
            f()
            best[q] = min(best[q], round_seconds(f, 0.2))
    rows = [{"what": w, "m": m, "n": n, "k": k, "count": count, "us": s * 1e6} for (w, m, n, k, count, _, _), s in zip(products, best)]
    return {"ms": sum(s * r["count"] for s, r in zip(best, rows)) * 1e3, "stepMs": best_step * 1e3, "products": rows}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--budget", type=float, default=3.0, help="seconds of samples per config")
    ap.add_argument("--min-samples", type=int, default=3)
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--gemm", action="store_true", help="time each training config's matrix products alone instead (torch.mm)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    out = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_WAIT_POLICY")},
        "results": {},
    }
    for name in a.configs.split(","):
        try:
            if a.gemm:
                if CONFIGS[name][0] == "train":
                    out["results"][name] = gemm_ceiling(name)
                continue
            out["results"][name] = run_config(name, a.budget, a.min_samples)
        except Exception as e:  # report, keep going
            out["results"][name] = {"error": repr(e)}
    out["cpuS"] = time.process_time()  # this process, all threads
    print(json.dumps(out))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
