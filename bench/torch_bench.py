#!/usr/bin/env python3
"""PyTorch anchor for the rnnkit benchmarks (optional: bench/run.mjs runs it only when
`python3 -c 'import torch'` works; the project never needs Python).

    python3 bench/torch_bench.py --threads 1 --budget 3 [--configs train-lstm-s,...]

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


def run_config(name, budget, min_samples):
    kind, cell, I, H, B, T = CONFIGS[name]
    torch.manual_seed(0)
    Rnn = torch.nn.GRU if cell == "gru" else torch.nn.LSTM
    if kind == "train":
        rnn = Rnn(I, H)
        opt = torch.optim.SGD(rnn.parameters(), lr=0.01)
        x = torch.rand(T, B, I) * 2 - 1
        y = torch.rand(T, B, H) - 0.5

        def step():
            opt.zero_grad()
            out, _ = rnn(x)
            torch.nn.functional.mse_loss(out, y).backward()
            opt.step()

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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--budget", type=float, default=3.0, help="seconds of samples per config")
    ap.add_argument("--min-samples", type=int, default=3)
    ap.add_argument("--configs", default=",".join(CONFIGS))
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
            out["results"][name] = run_config(name, a.budget, a.min_samples)
        except Exception as e:  # report, keep going
            out["results"][name] = {"error": repr(e)}
    out["cpuS"] = time.process_time()  # this process, all threads
    print(json.dumps(out))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
