//! rnnkit-bench (llm.c dev/cpu style): first checks every kernel level against the scalar
//! reference, then times the GEMM shapes of the benchmark configurations per level and thread
//! count, and prints GFLOP/s and the speedup over scalar. Also probes the single-core fp32 FMA
//! peak (independent `vfmadd` chains), the ceiling the GFLOP/s are compared with.
//!
//!   cargo run --release -p rnnkit-bench              everything
//!   cargo run --release -p rnnkit-bench -- peak      only the FMA peak
//!   cargo run --release -p rnnkit-bench -- quick     fewer shapes, shorter timing
//!   cargo run --release -p rnnkit-bench -- case N     only shape N (0-based), best level, 1 thread, 2 s
//!                                                    (for `perf record`)
//!   cargo run --release -p rnnkit-bench -- train      the training configs: seq_forward +
//!                                                    seq_backward (no optimizer), ms and GFLOP/s
//!                                                    (train NAME: one config, best level, 1 thread)
//!   cargo run --release -p rnnkit-bench -- shape nt M N K   one ad-hoc product (nt, nn or tn)
//!   cargo run --release -p rnnkit-bench -- cells [NAME]  the pointwise kernels (σ, tanh, cell steps)
//!                                                    alone, ns per unit, per level
//!   cargo run --release -p rnnkit-bench -- products   each training config's step products alone
//!                                                    and the whole step (with MSE and SGD, as
//!                                                    PyTorch's), 1 thread, JSON (the GEMM ceiling)
//!   cargo run --release -p rnnkit-bench -- seqfloor [THREADS]   infer-lstm-seq's forward, its
//!                                                    two products alone and a plain read of
//!                                                    W_hh's bytes (above 1 thread also one
//!                                                    thread's share of the recurrent product
//!                                                    alone), JSON (the floor section)
//!
//! Env RNNKIT_FUSED=1 turns on the opt-in fused multiply-add products (kernels::set_fused).
//!
//! Timing: each case repeats until 0.2 s (0.05 s quick) and reports the best of 3 such rounds.
//! No `std::hint::black_box` at MSRV 1.63: results are read back with a volatile read.

use rnnkit_core::kernels::{self, pool, Kernels, Level, PackedB};
use rnnkit_core::prepack;
use rnnkit_core::loss::{mse, Reduction};
use rnnkit_core::optim::{sgd_step, Sgd};
use rnnkit_core::{seq_backward, seq_cache_len, seq_forward, seq_forward_packed, CellKind, RnnConfig, SeqBuffers, SeqGradBuffers};
use std::time::Instant;

struct Rng(u64);
impl Rng {
    fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n)
            .map(|_| {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }
}

fn keep(v: &[f32]) -> f32 {
    // SAFETY: reads one element of a live slice.
    unsafe { std::ptr::read_volatile(&v[v.len() / 2]) }
}

/// Best seconds per call of `f` over 3 rounds of at least `min_s` each.
fn time(min_s: f64, mut f: impl FnMut()) -> f64 {
    f();
    (0..3).map(|_| round(min_s, &mut f)).fold(f64::INFINITY, f64::min)
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    NT,
    NN,
    TN,
    /// C += A·Bᵀ with B packed once (the recurrent product per step).
    NTPacked,
    /// C += A·B with B packed once (dh_prev per step).
    NNPacked,
}

struct Case {
    name: &'static str,
    op: Op,
    m: usize,
    n: usize,
    k: usize,
}

const CASES: &[Case] = &[
    Case { name: "lstm-m x·W_ihᵀ (all steps)", op: Op::NT, m: 2048, n: 1024, k: 256 },
    Case { name: "lstm-m h·W_hhᵀ (one step)", op: Op::NTPacked, m: 32, n: 1024, k: 256 },
    Case { name: "lstm-m dgates·W_hh (one step)", op: Op::NNPacked, m: 32, n: 256, k: 1024 },
    Case { name: "lstm-m dX = dgates·W_ih", op: Op::NN, m: 2048, n: 256, k: 1024 },
    Case { name: "lstm-m dW_ih = dgatesᵀ·X", op: Op::TN, m: 1024, n: 256, k: 2048 },
    Case { name: "lstm-s h·W_hhᵀ (one step)", op: Op::NTPacked, m: 32, n: 512, k: 128 },
    Case { name: "lstm-l x·W_ihᵀ (all steps)", op: Op::NT, m: 6400, n: 2048, k: 512 },
    Case { name: "lstm-l h·W_hhᵀ (one step)", op: Op::NTPacked, m: 64, n: 2048, k: 512 },
    Case { name: "b1 h·W_hhᵀ (gemv, unpacked)", op: Op::NT, m: 1, n: 2048, k: 512 },
    Case { name: "b1 h·W_hhᵀ (gemv, packed)", op: Op::NTPacked, m: 1, n: 2048, k: 512 },
    Case { name: "square 512", op: Op::NN, m: 512, n: 512, k: 512 },
];
const QUICK: &[usize] = &[0, 1, 2, 4, 9];

/// Operands of a case: A (m, k) or (k, m) for TN; B (n, k) for NT shapes, else (k, n).
fn operands(c: &Case, rng: &mut Rng) -> (Vec<f32>, Vec<f32>) {
    (rng.vec(c.m * c.k), rng.vec(c.n * c.k))
}

fn run(t: &Kernels, c: &Case, cbuf: &mut [f32], a: &[f32], b: &[f32], pb: Option<&PackedB<'_, f32>>) {
    let (m, n, k) = (c.m, c.n, c.k);
    match c.op {
        Op::NT => (t.gemm_nt)(cbuf, n, a, k, b, k, m, n, k),
        Op::NN => (t.gemm_nn)(cbuf, n, a, k, b, n, m, n, k),
        Op::TN => (t.gemm_tn)(cbuf, n, a, m, b, n, m, n, k),
        Op::NTPacked | Op::NNPacked => (t.gemm_packed)(cbuf, n, a, k, m, pb.expect("packed")),
    }
}

fn packed<'a>(t: &Kernels, c: &Case, b: &'a [f32]) -> Option<PackedB<'a, f32>> {
    let trans = match c.op {
        Op::NTPacked => true,
        Op::NNPacked => false,
        _ => return None,
    };
    let mut pb = PackedB::plain(b, if trans { c.k } else { c.n }, trans, c.k, c.n);
    (t.pack_b)(&mut pb);
    Some(pb)
}

/// Every level against scalar on every case (smaller m and n for the big ones): every level sums
/// in scalar.rs's order, so the results must be the same bits.
fn verify(levels: &[&'static Kernels]) {
    let mut rng = Rng(12345);
    for c in CASES {
        let small = Case { name: c.name, op: c.op, m: c.m.min(67), n: c.n.min(300), k: c.k };
        let (a, b) = operands(&small, &mut rng);
        let mut want = vec![0.0f32; small.m * small.n];
        let pb = packed(&kernels::SCALAR, &small, &b);
        run(&kernels::SCALAR, &small, &mut want, &a, &b, pb.as_ref());
        for t in levels.iter().filter(|t| t.level != Level::Scalar) {
            let pb = packed(t, &small, &b);
            let mut got = vec![0.0f32; small.m * small.n];
            run(t, &small, &mut got, &a, &b, pb.as_ref());
            if let Some(i) = (0..got.len()).find(|&i| got[i].to_bits() != want[i].to_bits()) {
                eprintln!("FAIL {} on {}: c[{}] = {:e}, scalar gives {:e}", t.level.name(), c.name, i, got[i], want[i]);
                std::process::exit(1);
            }
        }
    }
    println!("verified: every level gives scalar's bits on every shape");
}

#[cfg(target_arch = "x86_64")]
mod peak {
    use std::arch::x86_64::*;
    use std::time::Instant;

    /// 12 independent accumulators × 8 lanes: enough chains to cover FMA latency × ports.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn chains(iters: u64) -> f32 {
        let mut acc = [_mm256_set1_ps(0.0); 12];
        let x = _mm256_set1_ps(0.999_999);
        let y = _mm256_set1_ps(1e-7);
        for _ in 0..iters {
            for a in acc.iter_mut() {
                *a = _mm256_fmadd_ps(*a, x, y);
            }
        }
        let mut s = _mm256_setzero_ps();
        for a in acc.iter() {
            s = _mm256_add_ps(s, *a);
        }
        let mut out = [0.0f32; 8];
        _mm256_storeu_ps(out.as_mut_ptr(), s);
        out.iter().sum()
    }

    /// `chains` with 512-bit registers (16 lanes).
    #[cfg(rnnkit_avx512)]
    #[target_feature(enable = "avx512f")]
    unsafe fn chains512(iters: u64) -> f32 {
        let mut acc = [_mm512_set1_ps(0.0); 12];
        let x = _mm512_set1_ps(0.999_999);
        let y = _mm512_set1_ps(1e-7);
        for _ in 0..iters {
            for a in acc.iter_mut() {
                *a = _mm512_fmadd_ps(*a, x, y);
            }
        }
        let mut s = _mm512_setzero_ps();
        for a in acc.iter() {
            s = _mm512_add_ps(s, *a);
        }
        _mm512_reduce_add_ps(s)
    }

    /// Best of 5 timed runs of `run(iters)`, in GFLOP/s for `lanes` lanes × 12 chains.
    fn best_of_5(iters: u64, lanes: f64, run: impl Fn(u64) -> f32) -> f64 {
        let mut best = 0.0f64;
        for _ in 0..5 {
            let t = Instant::now();
            let r = run(iters);
            let s = t.elapsed().as_secs_f64();
            // SAFETY: reads a live local.
            unsafe { std::ptr::read_volatile(&r) };
            best = best.max(iters as f64 * 12.0 * lanes * 2.0 / s / 1e9);
        }
        best
    }

    /// Single-core fp32 AVX-512 FMA throughput in GFLOP/s, if the CPU has AVX-512F.
    #[cfg(rnnkit_avx512)]
    pub fn fma512_gflops() -> Option<f64> {
        if !is_x86_feature_detected!("avx512f") {
            return None;
        }
        // SAFETY: feature checked above.
        Some(best_of_5(20_000_000, 16.0, |n| unsafe { chains512(n) }))
    }

    /// Single-core fp32 FMA throughput in GFLOP/s (2 flops per lane per FMA), best of 5.
    pub fn fma_gflops() -> Option<f64> {
        if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
            return None;
        }
        // SAFETY: features checked above.
        Some(best_of_5(20_000_000, 8.0, |n| unsafe { chains(n) }))
    }
}

/// wasm SIMD128 has no FMA: the engine's peak is multiply + add (run the bench as a wasm32-wasi
/// module under Node's WASI, built with -C target-feature=+simd128, to measure it).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod peak {
    use core::arch::wasm32::*;
    use std::time::Instant;

    /// Six multiply chains and six add chains, independent: the two kinds of pipe at once, 14
    /// live vectors (V8 maps v128 to 16 XMM registers). Not inlined: each call must be a call.
    #[inline(never)]
    fn chains(iters: u64) -> f32 {
        let mut m = [f32x4_splat(1.0); 6];
        let mut a = [f32x4_splat(0.0); 6];
        let x = f32x4_splat(0.999_999);
        let y = f32x4_splat(1e-7);
        for _ in 0..iters {
            for (mv, av) in m.iter_mut().zip(a.iter_mut()) {
                *mv = f32x4_mul(*mv, x);
                *av = f32x4_add(*av, y);
            }
        }
        let mut s = f32x4_splat(0.0);
        for (mv, av) in m.iter().zip(a.iter()) {
            s = f32x4_add(s, f32x4_add(*mv, *av));
        }
        f32x4_extract_lane::<0>(s)
    }

    /// fp32 multiply + add throughput in GFLOP/s (1 flop per lane per instruction), best of 50
    /// short calls: engines compile a hot function with their optimizing tier only for later
    /// calls (wasm has no on-stack replacement), so one long call would time the baseline tier.
    pub fn fma_gflops() -> Option<f64> {
        let iters = 200_000u64;
        let mut best = 0.0f64;
        for _ in 0..50 {
            let t = Instant::now();
            let r = chains(iters);
            let s = t.elapsed().as_secs_f64();
            // SAFETY: reads a live local.
            unsafe { std::ptr::read_volatile(&r) };
            best = best.max(iters as f64 * 12.0 * 4.0 / s / 1e9);
        }
        Some(best)
    }
}

#[cfg(not(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128"))))]
mod peak {
    pub fn fma_gflops() -> Option<f64> {
        None
    }
}

/// The training configurations: (name, cell, I, H, B, T).
const TRAIN: &[(&str, CellKind, usize, usize, usize, usize)] = &[
    ("train-lstm-s", CellKind::Lstm, 64, 128, 32, 64),
    ("train-lstm-m", CellKind::Lstm, 256, 256, 32, 64),
    ("train-lstm-l", CellKind::Lstm, 512, 512, 64, 100),
    ("train-gru-m", CellKind::GruResetAfter, 256, 256, 32, 64),
    ("infer-lstm-seq (fwd)", CellKind::Lstm, 256, 256, 1, 256),
];

/// Forward over the sequence plus full BPTT without dL/dinput (the input is data; the Node bench
/// and PyTorch's step skip it too; the optimizer step is not included), per level and thread
/// count. FLOPs as the issue counts them: 3 × 2·B·T·G·H·(I+H) (forward only: 1 ×), which includes
/// the skipped dL/dinput product.
fn train(levels: &[&'static Kernels], thread_counts: &[usize], min_s: f64, only: Option<&str>) {
    println!("{:<22} {:>9} {:>7} {:>10} {:>10}", "config", "level", "threads", "ms", "GFLOP/s");
    for &(name, cell, i, h, b, t) in TRAIN.iter().filter(|c| only.map_or(true, |o| c.0 == o)) {
        let fwd_only = name.starts_with("infer");
        let cfg = RnnConfig { cell, input_size: i, hidden_size: h, proj_size: 0, num_layers: 1, bidirectional: false, bias: true, batch_first: false };
        let mut rng = Rng(3);
        let params: Vec<f32> = rng.vec(cfg.param_count()).into_iter().map(|v| v * 0.06).collect();
        let input = rng.vec(t * b * i);
        let mut output = vec![0.0; t * b * h];
        let mut h_n = vec![0.0; b * h];
        let mut c_n = vec![0.0; b * h];
        let mut cache = vec![0.0; seq_cache_len(&cfg, None, t, b).unwrap()];
        let d_out = rng.vec(t * b * h);
        let mut d_params = vec![0.0; params.len()];
        let lstm = cell == CellKind::Lstm;
        let flops = (if fwd_only { 1.0 } else { 3.0 }) * 2.0 * (b * t * cfg.gates() * h * (i + h)) as f64;
        for &lvl in levels.iter().rev() {
            kernels::force_level(lvl.level).unwrap();
            for &th in thread_counts {
                if lvl.level == Level::Scalar && (th > 1 || name == "train-lstm-l") {
                    continue;
                }
                pool::set_threads(th).unwrap();
                // Inference as rnnkit's TS layer runs it: weights packed ahead, no cache.
                let mut packed = vec![0.0; prepack::packed_weights_len(&cfg).unwrap()];
                prepack::pack_weights(&cfg, &params, &mut packed).unwrap();
                let s = time(min_s, || {
                    let bufs = SeqBuffers { params: &params, input: &input, lengths: None, h0: None, c0: None, output: &mut output, h_n: &mut h_n, c_n: if lstm { Some(&mut c_n) } else { None }, cache: if fwd_only { None } else { Some(&mut cache) } };
                    if fwd_only {
                        seq_forward_packed(&cfg, None, t, b, bufs, Some(&packed)).unwrap();
                    } else {
                        seq_forward(&cfg, t, b, bufs).unwrap();
                    }
                    if !fwd_only {
                        let g = SeqGradBuffers { params: &params, lengths: None, cache: &cache, d_output: Some(&d_out), d_h_n: None, d_c_n: None, d_input: None, d_h0: None, d_c0: None, d_params: &mut d_params };
                        seq_backward(&cfg, t, b, g).unwrap();
                    }
                });
                keep(&output);
                println!("{:<22} {:>9} {:>7} {:>10.2} {:>10.1}", name, lvl.level.name(), th, s * 1e3, flops / s / 1e9);
            }
        }
    }
    kernels::force_level(levels[0].level).unwrap();
}

/// The matrix products of one training step as rnnkit runs them (seq.rs, no dL/dinput): the
/// input projection of all steps, the recurrent product and the dh product per step (weights
/// packed once), the two weight-gradient products over all steps. (what, op, m, n, k, count).
fn step_products(cell: CellKind, i: usize, h: usize, b: usize, t: usize) -> Vec<(&'static str, Op, usize, usize, usize, usize)> {
    let gh = if cell == CellKind::Lstm { 4 * h } else { 3 * h };
    vec![
        ("x·W_ihᵀ, all steps", Op::NT, t * b, gh, i, 1),
        ("h·W_hhᵀ, per step", Op::NTPacked, b, gh, h, t),
        ("dgates·W_hh, per step", Op::NNPacked, b, h, gh, t),
        ("dgatesᵀ·x, all steps", Op::TN, gh, i, t * b, 1),
        ("dgatesᵀ·h_prev, all steps", Op::TN, gh, h, t * b, 1),
    ]
}

/// Seconds per call of `f` over one round of at least `min_s`.
fn round(min_s: f64, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut calls = 0u32;
    loop {
        f();
        calls += 1;
        let el = start.elapsed().as_secs_f64();
        if el >= min_s {
            return el / calls as f64;
        }
    }
}

/// `products`: for each training configuration, its step's products alone and the whole step
/// (zeroed gradients, seq_forward, MSE, seq_backward without dL/dinput, SGD update: the work of
/// PyTorch's step), best level, 1 thread. The step and each product take turns, round after
/// round, and each keeps its best round: on a machine whose speed drifts (a VM beside other
/// guests) their ratio stays meaningful. One JSON line per configuration (bench/run.mjs puts it
/// beside PyTorch's BLAS).
fn products(only: Option<&str>) {
    let t = kernels::get();
    pool::set_threads(1).unwrap();
    for &(name, cell, i, h, b, steps) in TRAIN.iter().filter(|c| c.0.starts_with("train") && only.map_or(true, |o| c.0 == o)) {
        let cfg = RnnConfig { cell, input_size: i, hidden_size: h, proj_size: 0, num_layers: 1, bidirectional: false, bias: true, batch_first: false };
        let mut rng = Rng(3);
        let mut params: Vec<f32> = rng.vec(cfg.param_count()).into_iter().map(|v| v * 0.06).collect();
        let input = rng.vec(steps * b * i);
        let target = rng.vec(steps * b * h);
        let mut output = vec![0.0; steps * b * h];
        let (mut h_n, mut c_n) = (vec![0.0; b * h], vec![0.0; b * h]);
        let mut cache = vec![0.0; seq_cache_len(&cfg, None, steps, b).unwrap()];
        let mut d_out = vec![0.0; steps * b * h];
        let mut d_params = vec![0.0; params.len()];
        let lstm = cell == CellKind::Lstm;
        let sgd = Sgd { lr: 1e-6, momentum: 0.0, dampening: 0.0, weight_decay: 0.0, nesterov: false };
        // The work of PyTorch's step: zero_grad, forward, MSE loss, backward, SGD update.
        let mut step = || {
            d_params.fill(0.0);
            let bufs = SeqBuffers { params: &params, input: &input, lengths: None, h0: None, c0: None, output: &mut output, h_n: &mut h_n, c_n: if lstm { Some(&mut c_n) } else { None }, cache: Some(&mut cache) };
            seq_forward(&cfg, steps, b, bufs).unwrap();
            mse(Some(&mut d_out), &output, &target, Reduction::Mean).unwrap();
            let g = SeqGradBuffers { params: &params, lengths: None, cache: &cache, d_output: Some(&d_out), d_h_n: None, d_c_n: None, d_input: None, d_h0: None, d_c0: None, d_params: &mut d_params };
            seq_backward(&cfg, steps, b, g).unwrap();
            sgd_step(&mut params, &d_params, None, &sgd, false).unwrap();
        };
        let list = step_products(cell, i, h, b, steps);
        let cases: Vec<Case> = list.iter().map(|&(what, op, m, n, k, _)| Case { name: what, op, m, n, k }).collect();
        let ops: Vec<(Vec<f32>, Vec<f32>)> = cases.iter().map(|c| operands(c, &mut Rng(7))).collect();
        let packs: Vec<Option<PackedB<'_, f32>>> = cases.iter().zip(&ops).map(|(c, o)| packed(t, c, &o.1)).collect();
        let mut outs: Vec<Vec<f32>> = cases.iter().map(|c| vec![0.0f32; c.m * c.n]).collect();
        let mut best_step = f64::INFINITY;
        let mut best = vec![f64::INFINITY; cases.len()];
        step();
        for _ in 0..3 {
            best_step = best_step.min(round(0.3, &mut step));
            products_round(t, &cases, &ops, &packs, &mut outs, &mut best);
        }
        keep(&output);
        let mut rows = Vec::new();
        let mut total = 0.0;
        for (q, &(what, _, m, n, k, count)) in list.iter().enumerate() {
            keep(&outs[q]);
            total += best[q] * count as f64;
            rows.push(format!("{{\"what\":\"{}\",\"m\":{},\"n\":{},\"k\":{},\"count\":{},\"us\":{:.3}}}", what, m, n, k, count, best[q] * 1e6));
        }
        println!("{{\"config\":\"{}\",\"level\":\"{}\",\"ms\":{:.4},\"stepMs\":{:.4},\"products\":[{}]}}", name, t.level.name(), total * 1e3, best_step * 1e3, rows.join(","));
    }
}

/// One round of each product alone (warm operands, at least 0.2 s each): best[q] keeps the
/// fastest seconds per call of product q.
fn products_round(t: &Kernels, cases: &[Case], ops: &[(Vec<f32>, Vec<f32>)], packs: &[Option<PackedB<'_, f32>>], outs: &mut [Vec<f32>], best: &mut [f64]) {
    for q in 0..cases.len() {
        let (c, (a, bm), pb) = (&cases[q], &ops[q], packs[q].as_ref());
        let cbuf = &mut outs[q];
        best[q] = best[q].min(round(0.2, || run(t, c, cbuf, a, bm, pb)));
    }
}

/// `seqfloor [THREADS]`: infer-lstm-seq at THREADS (default 1) against what bounds it. The
/// forward over the sequence (weights packed ahead, no cache, as the TS layer runs it), taking
/// turns in rounds with its two products alone on warm operands (the input projection of all
/// steps; the per-step recurrent product, whose packed weights are read whole every step) and
/// with a plain read of as many bytes as those weights (best of 3 rounds each). With more than one
/// thread also one thread's share of the recurrent product (its columns) on that thread alone: the
/// product split per step without the hand-off. One JSON line.
fn seq_floor(threads: usize) {
    let &(_, _, i, h, _, steps) = TRAIN.iter().find(|c| c.0 == "infer-lstm-seq (fwd)").unwrap();
    let t = kernels::get();
    pool::set_threads(threads).unwrap();
    let cfg = RnnConfig { cell: CellKind::Lstm, input_size: i, hidden_size: h, proj_size: 0, num_layers: 1, bidirectional: false, bias: true, batch_first: false };
    let mut rng = Rng(3);
    let params: Vec<f32> = rng.vec(cfg.param_count()).into_iter().map(|v| v * 0.06).collect();
    let input = rng.vec(steps * i);
    let (mut output, mut h_n, mut c_n) = (vec![0.0; steps * h], vec![0.0; h], vec![0.0; h]);
    let mut prepacked = vec![0.0; prepack::packed_weights_len(&cfg).unwrap()];
    prepack::pack_weights(&cfg, &params, &mut prepacked).unwrap();
    let mut forward = || {
        let bufs = SeqBuffers { params: &params, input: &input, lengths: None, h0: None, c0: None, output: &mut output, h_n: &mut h_n, c_n: Some(&mut c_n), cache: None };
        seq_forward_packed(&cfg, None, steps, 1, bufs, Some(&prepacked)).unwrap();
    };
    let cases = [Case { name: "x·W_ihᵀ, all steps", op: Op::NTPacked, m: steps, n: 4 * h, k: i }, Case { name: "h·W_hhᵀ, per step", op: Op::NTPacked, m: 1, n: 4 * h, k: h }];
    let ops: Vec<(Vec<f32>, Vec<f32>)> = cases.iter().map(|c| operands(c, &mut Rng(7))).collect();
    let packs: Vec<Option<PackedB<'_, f32>>> = cases.iter().zip(&ops).map(|(c, o)| packed(t, c, &o.1)).collect();
    let mut outs: Vec<Vec<f32>> = cases.iter().map(|c| vec![0.0f32; c.m * c.n]).collect();
    let weights = vec![1e-3f32; 4 * h * h];
    let mut reverse = false;
    let mut sink = 0.0f32;
    let mut read = || {
        // Alternate directions, as the recurrent product walks its panels.
        sink += read_all(&weights, reverse);
        reverse = !reverse;
    };
    forward();
    // One thread's share: the first part's columns in split_cols_pinned (whole panels).
    let unit = t.panel_width.max(1);
    let share_n = ((4 * h + unit - 1) / unit / threads).max(1) * unit;
    let share = [Case { name: "h·W_hhᵀ, one thread's share", op: Op::NTPacked, m: 1, n: share_n.min(4 * h), k: h }];
    let share_ops: Vec<(Vec<f32>, Vec<f32>)> = vec![operands(&share[0], &mut Rng(7))];
    let share_packs = vec![packed(t, &share[0], &share_ops[0].1)];
    let mut share_out = vec![vec![0.0f32; share[0].n]];
    let (mut best_fwd, mut best_read) = (f64::INFINITY, f64::INFINITY);
    let mut best = [f64::INFINITY; 2];
    let mut best_share = [f64::INFINITY; 1];
    for _ in 0..3 {
        best_fwd = best_fwd.min(round(0.3, &mut forward));
        products_round(t, &cases, &ops, &packs, &mut outs, &mut best);
        best_read = best_read.min(round(0.2, &mut read));
        if threads > 1 {
            pool::set_threads(1).unwrap();
            products_round(t, &share, &share_ops, &share_packs, &mut share_out, &mut best_share);
            pool::set_threads(threads).unwrap();
        }
    }
    keep(&share_out[0]);
    let share_field = if threads > 1 { format!(",\"shareProductUs\":{:.3}", best_share[0] * 1e6) } else { String::new() };
    keep(&output);
    keep(&outs[0]);
    keep(&outs[1]);
    keep(&[sink]);
    println!(
        "{{\"config\":\"infer-lstm-seq\",\"level\":\"{}\",\"threads\":{},\"inputSize\":{},\"hidden\":{},\"steps\":{},\"forwardMs\":{:.4},\"projectionUs\":{:.3},\"stepProductUs\":{:.3},\"weightBytes\":{},\"readUs\":{:.3}{}}}",
        t.level.name(),
        threads,
        i,
        h,
        steps,
        best_fwd * 1e3,
        best[0] * 1e6,
        best[1] * 1e6,
        weights.len() * 4,
        best_read * 1e6,
        share_field
    );
}

/// The sum of x, read once in 4 KiB blocks (last block first when `reverse`): eight 8-lane
/// partial sums, so the loads, not the adds, set the pace. AVX2 where the CPU has it.
fn read_all(x: &[f32], reverse: bool) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2.
            return unsafe { read_all_avx2(x, reverse) };
        }
    }
    read_all_plain(x, reverse)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn read_all_avx2(x: &[f32], reverse: bool) -> f32 {
    read_all_plain(x, reverse)
}

#[inline(always)]
fn read_all_plain(x: &[f32], reverse: bool) -> f32 {
    const BLOCK: usize = 1024;
    let blocks = x.len() / BLOCK;
    let mut acc = [0.0f32; 64];
    for q in 0..blocks {
        let q = if reverse { blocks - 1 - q } else { q };
        for chunk in x[q * BLOCK..(q + 1) * BLOCK].chunks_exact(64) {
            for (a, v) in acc.iter_mut().zip(chunk) {
                *a += *v;
            }
        }
    }
    acc.iter().sum()
}

/// `cells [NAME]`: the pointwise kernels alone (σ, tanh and the cell steps; NAME: only those
/// whose name starts with it) on a few (rows × hidden) shapes, per level, 1 thread: ns per hidden
/// unit (a unit is all its gates; σ and tanh are timed on 4 values per unit, as in an LSTM).
fn cells(only: Option<&str>) {
    pool::set_threads(1).unwrap();
    let levels: Vec<&'static Kernels> = kernels::available().into_iter().filter_map(kernels::table).collect();
    let want = |name: &str| only.map_or(true, |o| name.starts_with(o));
    let mut rng = Rng(99);
    println!("{:<28} {:>10} {:>10} {:>10}", "kernel rows x hidden", "level", "ns/unit", "vs scalar");
    for &(rows, hidden) in &[(32usize, 128usize), (64, 256), (1, 256)] {
        let rh = rows * hidden;
        let pre4 = rng.vec(4 * rh);
        let pre3 = rng.vec(3 * rh);
        let (c_prev, dh, dc) = (rng.vec(rh), rng.vec(rh), rng.vec(rh));
        let hh = rng.vec(3 * rh);
        let mut scalar_ns = [0.0f64; 6];
        // Scalar (listed last) first: the others are compared with it.
        for t in levels.iter().rev() {
            let (mut g4, mut g3, mut xs) = (pre4.clone(), pre3.clone(), pre4.clone());
            let (mut c, mut tc, mut out, mut hn, mut h) = (vec![0.0; rh], vec![0.0; rh], vec![0.0; rh], vec![0.0; rh], vec![0.0; rh]);
            let (mut d4, mut d3, mut d3hh, mut dprev) = (vec![0.0; 4 * rh], vec![0.0; 3 * rh], vec![0.0; 3 * rh], vec![0.0; rh]);
            // Each call maps the last call's outputs again (no copy back: its cost would count, and
            // the values stay in range; the vector kernels do not branch on them).
            let mut ns = [f64::NAN; 6];
            let names = ["sigmoid", "tanh", "lstm_cell", "lstm_cell_backward", "gru_cell", "gru_cell_backward"];
            let per_unit = |s: f64| s * 1e9 / rh as f64;
            if want(names[0]) {
                ns[0] = per_unit(time(0.2, || (t.sigmoid)(&mut xs)));
            }
            if want(names[1]) {
                ns[1] = per_unit(time(0.2, || (t.tanh)(&mut xs)));
            }
            if want(names[2]) || want(names[3]) {
                ns[2] = per_unit(time(0.2, || (t.lstm_cell)(&mut g4, None, &c_prev, &mut c, &mut tc, &mut out, rows, hidden)));
            }
            if want(names[3]) {
                ns[3] = per_unit(time(0.2, || (t.lstm_cell_backward)(&mut d4, &mut dprev, &dh, &dc, &g4, &c_prev, &tc, rows, hidden)));
            }
            if want(names[4]) || want(names[5]) {
                ns[4] = per_unit(time(0.2, || (t.gru_cell)(&mut g3, &hh, &c_prev, &mut hn, &mut h, rows, hidden)));
            }
            if want(names[5]) {
                ns[5] = per_unit(time(0.2, || (t.gru_cell_backward)(&mut d3, &mut d3hh, &mut dprev, &dh, &g3, &hn, &c_prev, rows, hidden, true)));
            }
            keep(&out);
            keep(&dprev);
            for q in (0..6).filter(|&q| want(names[q])) {
                if t.level == Level::Scalar {
                    scalar_ns[q] = ns[q];
                }
                let vs = if scalar_ns[q] > 0.0 { format!("{:.1}x", scalar_ns[q] / ns[q]) } else { "-".into() };
                println!("{:<28} {:>10} {:>10.2} {:>10}", format!("{} {}x{}", names[q], rows, hidden), t.level.name(), ns[q], vs);
            }
        }
    }
}

fn main() {
    let arg = std::env::args().nth(1).unwrap_or_default();
    // RNNKIT_FUSED=1: the opt-in fused multiply-add products (as rnnkit's init({ fused: true })).
    if std::env::var("RNNKIT_FUSED").map_or(false, |v| v == "1") && !kernels::set_fused(true) {
        eprintln!("RNNKIT_FUSED=1: the {} level has no fused products; running unfused", kernels::get().level.name());
    }
    if arg == "shape" {
        // shape OP M N K [THREADS]: one ad-hoc product (OP = nt | nn | tn, or ntp | nnp with B
        // packed once), best level.
        let a: Vec<String> = std::env::args().skip(2).collect();
        let num = |i: usize| a.get(i).and_then(|v| v.parse().ok()).unwrap_or(256);
        let op = match a.first().map(|s| s.as_str()) {
            Some("nn") => Op::NN,
            Some("tn") => Op::TN,
            Some("ntp") => Op::NTPacked,
            Some("nnp") => Op::NNPacked,
            _ => Op::NT,
        };
        let c = Case { name: "shape", op, m: num(1), n: num(2), k: num(3) };
        let t = kernels::get();
        pool::set_threads(a.get(4).and_then(|v| v.parse().ok()).unwrap_or(1)).unwrap();
        let (a, b) = operands(&c, &mut Rng(1));
        let pb = packed(t, &c, &b);
        let mut cbuf = vec![0.0f32; c.m * c.n];
        let s = time(0.3, || run(t, &c, &mut cbuf, &a, &b, pb.as_ref()));
        keep(&cbuf);
        println!("{}x{}x{} {} {} threads: {:.2} GFLOP/s, {:.2} µs", c.m, c.n, c.k, t.level.name(), pool::threads(), 2.0 * (c.m * c.n * c.k) as f64 / s / 1e9, s * 1e6);
        return;
    }
    if arg == "products" {
        products(std::env::args().nth(2).as_deref());
        return;
    }
    if arg == "seqfloor" {
        seq_floor(std::env::args().nth(2).and_then(|v| v.parse().ok()).unwrap_or(1).max(1));
        return;
    }
    if arg == "pool" {
        // pool: the cost of one pool::run / run_pinned with empty parts (2 threads).
        pool::set_threads(2).unwrap();
        let sink = std::sync::atomic::AtomicUsize::new(0);
        let part = |i: usize| {
            sink.fetch_add(i, std::sync::atomic::Ordering::Relaxed);
        };
        let s = time(0.5, || pool::run(2, &part));
        let sp = time(0.5, || pool::run_pinned(2, &part));
        println!("pool::run(2 parts): {:.2} µs, run_pinned: {:.2} µs", s * 1e6, sp * 1e6);
        return;
    }
    if arg == "cells" {
        cells(std::env::args().nth(2).as_deref());
        return;
    }
    if arg == "case" {
        // case N [CALLS]: with CALLS, a fixed number of calls and the total flops, so that
        // `perf stat -e cycles` gives flops per cycle whatever else the machine runs.
        let idx: usize = std::env::args().nth(2).and_then(|v| v.parse().ok()).unwrap_or(0);
        let calls: Option<u64> = std::env::args().nth(3).and_then(|v| v.parse().ok());
        let c = &CASES[idx.min(CASES.len() - 1)];
        let t = kernels::get();
        pool::set_threads(1).unwrap();
        let (a, b) = operands(c, &mut Rng(1));
        let mut cbuf = vec![0.0f32; c.m * c.n];
        let pb = packed(t, c, &b);
        let flops = 2.0 * (c.m * c.n * c.k) as f64;
        match calls {
            Some(n) => {
                for _ in 0..n {
                    run(t, c, &mut cbuf, &a, &b, pb.as_ref());
                }
                keep(&cbuf);
                println!("{} {}: {} calls, {:.4e} flops", c.name, t.level.name(), n, flops * n as f64);
            }
            None => {
                let s = time(2.0 / 3.0, || run(t, c, &mut cbuf, &a, &b, pb.as_ref()));
                keep(&cbuf);
                println!("{} {}: {:.2} GFLOP/s", c.name, t.level.name(), flops / s / 1e9);
            }
        }
        return;
    }
    let peak = peak::fma_gflops();
    match peak {
        Some(p) if cfg!(target_arch = "wasm32") => println!("single-thread fp32 SIMD128 mul+add peak of this engine (6 mul + 6 add chains x 4 lanes): {:.1} GFLOP/s", p),
        Some(p) => println!("single-core fp32 FMA peak (AVX2, 12 chains x 8 lanes): {:.1} GFLOP/s", p),
        None => println!("single-core fp32 peak: no probe for this CPU"),
    }
    #[cfg(all(target_arch = "x86_64", rnnkit_avx512))]
    if let Some(p) = peak::fma512_gflops() {
        println!("single-core fp32 FMA peak (AVX-512, 12 chains x 16 lanes): {:.1} GFLOP/s", p);
    }
    if arg == "peak" {
        return;
    }
    if arg == "train" {
        let levels: Vec<&'static Kernels> = kernels::available().into_iter().filter_map(kernels::table).collect();
        let all = pool::threads();
        let counts: Vec<usize> = if all > 1 { vec![1, all] } else { vec![1] };
        // train [CONFIG [THREADS [LEVEL]]]: one configuration only, 1 thread and the best level
        // unless given (for `perf record`).
        let only = std::env::args().nth(2);
        if only.is_some() {
            let th = std::env::args().nth(3).and_then(|v| v.parse().ok()).unwrap_or(1);
            let level = match std::env::args().nth(4) {
                Some(name) => match levels.iter().position(|k| k.level.name() == name) {
                    Some(at) => at,
                    None => panic!("train: no kernel level {:?} here (available: {:?})", name, levels.iter().map(|k| k.level.name()).collect::<Vec<_>>()),
                },
                None => 0,
            };
            train(&levels[level..level + 1], &[th], 2.0, only.as_deref());
        } else {
            train(&levels, &counts, 0.5, None);
        }
        pool::set_threads(0).unwrap();
        return;
    }
    let quick = arg == "quick";
    let levels: Vec<&'static Kernels> = kernels::available().into_iter().filter_map(kernels::table).collect();
    verify(&levels);
    let all = pool::threads();
    let mut thread_counts = vec![1];
    if all > 1 {
        thread_counts.push(all);
    }
    println!("threads available: {}\n", all);
    println!("{:<32} {:>18} {:>9} {:>7} {:>10} {:>8} {:>8}", "shape", "m x n x k", "level", "threads", "GFLOP/s", "vs scal", "% peak");
    let mut rng = Rng(777);
    let min_s = if quick { 0.05 } else { 0.2 };
    for (ci, c) in CASES.iter().enumerate() {
        if quick && !QUICK.contains(&ci) {
            continue;
        }
        let (a, b) = operands(c, &mut rng);
        let mut cbuf = vec![0.0f32; c.m * c.n];
        let flops = 2.0 * (c.m * c.n * c.k) as f64;
        let mut scalar_gf = None;
        for t in levels.iter().rev() {
            for &th in &thread_counts {
                if t.level == Level::Scalar && th > 1 {
                    continue; // scalar is never threaded
                }
                pool::set_threads(th).unwrap();
                let pb = packed(t, c, &b);
                let s = time(if t.level == Level::Scalar { min_s / 2.0 } else { min_s }, || run(t, c, &mut cbuf, &a, &b, pb.as_ref()));
                keep(&cbuf);
                let gf = flops / s / 1e9;
                if t.level == Level::Scalar {
                    scalar_gf = Some(gf);
                }
                let vs = scalar_gf.map(|sg| format!("{:.1}x", gf / sg)).unwrap_or_default();
                let pk = peak.map(|p| format!("{:.0}%", 100.0 * gf / (p * th as f64))).unwrap_or_default();
                println!("{:<32} {:>18} {:>9} {:>7} {:>10.2} {:>8} {:>8}", c.name, format!("{}x{}x{}", c.m, c.n, c.k), t.level.name(), th, gf, vs, pk);
            }
        }
    }
    pool::set_threads(0).unwrap();
}
