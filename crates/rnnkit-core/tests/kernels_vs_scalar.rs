//! Every kernel level this machine runs, against the scalar reference (`kernels::scalar`), on
//! sizes around each vector width and block size, with row strides wider than the matrices.
//! Every level sums in scalar.rs's order and runs its activation algorithm, so GEMMs, packed
//! GEMMs, activations and the fused cell steps must agree bit for bit.
//! Also: the f32 activations against f64, and thread-count determinism.
//! `npm test` also runs this file on the wasm SIMD128 level: scripts/test-wasm-kernels.mjs builds
//! it for wasm32-wasi with +simd128 and runs it under Node's WASI.

mod common;
use common::Rng;
use rnnkit_core::kernels::{self, pool, scalar, Kernels, Level, PackedB, TnOut};
use rnnkit_core::{seq_backward, seq_cache_len, seq_forward, CellKind, RnnConfig, SeqBuffers, SeqGradBuffers};

/// The levels to test: every non-scalar level this build and CPU run.
fn variants() -> Vec<&'static Kernels> {
    let v: Vec<&'static Kernels> = kernels::available().into_iter().filter(|&l| l != Level::Scalar).filter_map(kernels::table).collect();
    eprintln!("kernel levels under test: {:?}", v.iter().map(|k| k.level.name()).collect::<Vec<_>>());
    v
}

/// The aarch64 build runs the NEON level (this file then checks it against scalar).
#[cfg(target_arch = "aarch64")]
#[test]
fn neon_is_the_best_level_on_aarch64() {
    assert_eq!(kernels::available()[0], Level::Neon);
    assert_eq!(kernels::get().level, Level::Neon);
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Shape {
    NT,
    NN,
    TN,
}

/// One product on a level and on scalar: c starts non-zero (the kernels accumulate), strides are
/// padded by `pad`, and the padding must stay untouched. The results must be the same bits.
fn check_gemm(k_tab: &Kernels, shape: Shape, m: usize, n: usize, k: usize, pad: usize, seed: u64) {
    let mut rng = Rng(seed | 1);
    let (ar, ac) = if shape == Shape::TN { (k, m) } else { (m, k) };
    let (br, bc) = if shape == Shape::NT { (n, k) } else { (k, n) };
    let (lda, ldb, ldc) = (ac + pad, bc + pad, n + pad);
    let a = rng.vec(ar * lda);
    let b = rng.vec(br * ldb);
    let c0 = rng.vec(m * ldc);
    let run = |t: &Kernels, c: &mut [f32]| {
        let f = match shape {
            Shape::NT => t.gemm_nt,
            Shape::NN => t.gemm_nn,
            Shape::TN => t.gemm_tn,
        };
        f(c, ldc, &a, lda, &b, ldb, m, n, k);
    };
    let mut want = c0.clone();
    run(&kernels::SCALAR, &mut want);
    let mut got = vec![("gemm", c0.clone())];
    run(k_tab, &mut got[0].1);
    if shape != Shape::TN {
        // The same product with B prepared by the level's pack_b.
        let mut pb = PackedB::plain(&b[..], ldb, shape == Shape::NT, k, n);
        (k_tab.pack_b)(&mut pb);
        let mut c = c0.clone();
        (k_tab.gemm_packed)(&mut c, ldc, &a, lda, m, &pb);
        got.push(("gemm_packed", c));
    }
    for (what, g) in &got {
        for i in 0..m {
            for j in 0..ldc {
                let at = i * ldc + j;
                if j >= n {
                    assert_eq!(g[at].to_bits(), c0[at].to_bits(), "{} {} {:?} m={} n={} k={} pad={}: wrote c[{}][{}] in the stride padding", k_tab.level.name(), what, shape, m, n, k, pad, i, j);
                } else {
                    assert!(
                        same_bits(g[at], want[at]),
                        "{} {} {:?} m={} n={} k={} pad={}: c[{}][{}] = {:e}, scalar gives {:e} (diff {:e})",
                        k_tab.level.name(),
                        what,
                        shape,
                        m,
                        n,
                        k,
                        pad,
                        i,
                        j,
                        g[at],
                        want[at],
                        g[at] - want[at]
                    );
                }
            }
        }
    }
}

/// Sizes straddling 4 and 8 lanes, the 6 × 16, 3 × 12 and 8 × 8 tiles and the small-product cut-off.
const SIZES: [usize; 19] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 16, 17, 24, 25, 31, 33, 67];

#[test]
fn gemm_all_shapes_small_sizes() {
    for t in variants() {
        let mut seed = 1;
        for shape in [Shape::NT, Shape::NN, Shape::TN] {
            for &m in &SIZES {
                for &n in &SIZES {
                    for &k in &[1usize, 3, 7, 8, 9, 16, 17, 33, 67] {
                        seed += 1;
                        check_gemm(t, shape, m, n, k, if seed % 3 == 0 { 0 } else { 5 }, seed);
                    }
                }
            }
        }
    }
}

#[test]
fn gemm_across_cache_blocks() {
    // k > KC (256), m > MC (144 on avx2), n > NC (2048), few rows (≤ 4), and the threaded split;
    // last KC blocks of every length mod 4 (the avx2 tile runs its k loop four steps at a time).
    for t in variants() {
        for shape in [Shape::NT, Shape::NN, Shape::TN] {
            for &(m, n, k) in &[(150, 40, 300), (7, 2100, 20), (64, 96, 513), (3, 70, 600), (1, 300, 700), (4, 43, 513), (2, 2100, 9), (200, 300, 64), (33, 1030, 260), (1, 1030, 513), (2, 65, 300), (3, 64, 257), (4, 80, 600), (1, 49, 1000), (64, 96, 262), (150, 40, 291)] {
                check_gemm(t, shape, m, n, k, 3, (m * 1000 + n * 7 + k) as u64);
            }
        }
    }
}

/// `gemm_tn_shared` (two weight gradients from one dgates): each output the same bits as scalar's
/// `gemm_tn` on its own, whichever path each output takes (loop nest together, few rows, small),
/// with segments that straddle NR panels, NC column blocks and KC blocks; the stride padding
/// untouched. (At the pool's thread count; `thread_count_does_not_change_results` compares
/// thread counts.)
#[test]
fn gemm_tn_shared_matches_gemm_tn_per_output() {
    for t in variants() {
        for &(m, n1, n2, k) in &[(150, 64, 128, 600), (150, 40, 70, 300), (37, 17, 33, 291), (4, 43, 80, 513), (200, 1500, 700, 20), (64, 3, 96, 262), (9, 1, 1, 9), (130, 0, 50, 64)] {
            let mut rng = Rng((m * 31 + n1 * 7 + n2 + k) as u64);
            let pad = 3;
            let lda = m + pad;
            let a = rng.vec(k * lda);
            let (ldb1, ldb2, ldc1, ldc2) = (n1 + pad, n2 + 1, n1 + 2, n2 + pad);
            let (b1, b2) = (rng.vec(k * ldb1), rng.vec(k * ldb2));
            let (c1_0, c2_0) = (rng.vec(m * ldc1), rng.vec(m * ldc2));
            let (mut want1, mut want2) = (c1_0.clone(), c2_0.clone());
            scalar::gemm_tn(&mut want1, ldc1, &a, lda, &b1, ldb1, m, n1, k);
            scalar::gemm_tn(&mut want2, ldc2, &a, lda, &b2, ldb2, m, n2, k);
            let (mut c1, mut c2) = (c1_0.clone(), c2_0.clone());
            let mut outs = [TnOut { c: &mut c1, ldc: ldc1, b: &b1, ldb: ldb1, n: n1 }, TnOut { c: &mut c2, ldc: ldc2, b: &b2, ldb: ldb2, n: n2 }];
            (t.gemm_tn_shared)(&a, lda, m, k, &mut outs);
            for (which, got, want, c0, ldc, n) in [(1, &c1, &want1, &c1_0, ldc1, n1), (2, &c2, &want2, &c2_0, ldc2, n2)] {
                for i in 0..m {
                    for j in 0..ldc {
                        let at = i * ldc + j;
                        let expect = if j < n { want[at] } else { c0[at] };
                        assert!(same_bits(got[at], expect), "{} (m, n1, n2, k) = ({}, {}, {}, {}): output {} c[{}][{}] = {:e}, expected {:e}", t.level.name(), m, n1, n2, k, which, i, j, got[at], expect);
                    }
                }
            }
        }
    }
}

/// A wrong-sized output of `gemm_tn_shared` panics with the operand named, before any work.
/// (Native only: the wasm32-wasi test build aborts on a panic, so nothing can catch it there.)
#[cfg(panic = "unwind")]
#[test]
fn gemm_tn_shared_short_output_panics_with_the_operand_named() {
    for t in variants() {
        let (m, k) = (64, 100);
        let a = vec![0.5f32; k * m];
        let b = vec![0.5f32; k * 32];
        let mut c1 = vec![0.0f32; m * 32];
        let mut c2 = vec![0.0f32; m * 32 - 1];
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut outs = [TnOut { c: &mut c1, ldc: 32, b: &b, ldb: 32, n: 32 }, TnOut { c: &mut c2, ldc: 32, b: &b, ldb: 32, n: 32 }];
            (t.gemm_tn_shared)(&a, m, m, k, &mut outs)
        }));
        let msg = r.expect_err("short c must panic");
        let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains("c has 2047 values"), "{}: {}", t.level.name(), msg);
        assert!(c1.iter().all(|&v| v == 0.0), "{}: the first output was written before the second was checked", t.level.name());
    }
}

/// Values that exercise every branch of exp / σ / tanh, then a sweep.
fn activation_inputs() -> Vec<f32> {
    let mut v = vec![
        0.0,
        -0.0,
        1e-30,
        -1e-30,
        1e-7,
        0.624_999_9,
        0.625,
        -0.625,
        0.625_000_1,
        1.0,
        -1.0,
        9.0,
        -9.0,
        20.0,
        43.9,
        44.1,
        86.9,
        -86.9,
        87.0,
        -87.0,
        88.0,
        -88.0,
        88.5,
        -88.5,
        100.0,
        -100.0,
        1e30,
        -1e30,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        f32::MIN_POSITIVE,
    ];
    let mut x = -30.0f32;
    while x < 30.0 {
        v.push(x);
        x += 0.0137;
    }
    v
}

fn same_bits(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

#[test]
fn activations_bit_identical() {
    let xs = activation_inputs();
    for t in variants() {
        for (name, f, g) in [("sigmoid", t.sigmoid, kernels::SCALAR.sigmoid), ("tanh", t.tanh, kernels::SCALAR.tanh)] {
            // Every length 0..=67 (vector body + tail), then the whole set at once.
            for len in (0..=67).chain(std::iter::once(xs.len())) {
                for start in [0usize, 5, 211] {
                    let src: Vec<f32> = (0..len).map(|i| xs[(start + i) % xs.len()]).collect();
                    let (mut got, mut want) = (src.clone(), src.clone());
                    f(&mut got);
                    g(&mut want);
                    for i in 0..len {
                        assert!(same_bits(got[i], want[i]), "{} {} len={}: f({:e}) = {:e}, scalar gives {:e}", t.level.name(), name, len, src[i], got[i], want[i]);
                    }
                }
            }
        }
    }
}

#[test]
fn f32_activations_are_accurate() {
    let (mut worst_s, mut worst_t) = (0.0f64, 0.0f64);
    for x in activation_inputs() {
        if !x.is_finite() {
            continue;
        }
        let xd = x as f64;
        let s = scalar::sigmoidf(x) as f64;
        let s_ref = rnnkit_core::math::sigmoid(xd);
        let t = scalar::tanhf(x) as f64;
        let t_ref = rnnkit_core::math::tanh(xd);
        // Relative error, with an absolute floor where σ underflows (the input clamp at −87).
        worst_s = worst_s.max((s - s_ref).abs() / s_ref.abs().max(1e-30));
        worst_t = worst_t.max((t - t_ref).abs() / t_ref.abs().max(1e-30));
        assert!(s >= 0.0 && s <= 1.0 && t.abs() <= 1.0, "range at x = {}", x);
    }
    assert!(worst_s < 4e-7, "sigmoidf worst relative error {:e}", worst_s);
    assert!(worst_t < 4e-7, "tanhf worst relative error {:e}", worst_t);
    assert!(scalar::sigmoidf(f32::NAN).is_nan() && scalar::tanhf(f32::NAN).is_nan());
    assert_eq!(scalar::tanhf(f32::INFINITY), 1.0);
    assert_eq!(scalar::tanhf(f32::NEG_INFINITY), -1.0);
    assert_eq!(scalar::sigmoidf(f32::INFINITY), 1.0);
    assert_eq!(scalar::sigmoidf(f32::NEG_INFINITY), scalar::sigmoidf(-88.0)); // e^x clamps at 88
    eprintln!("worst relative error: sigmoidf {:e}, tanhf {:e}", worst_s, worst_t);
}

#[test]
fn fused_cells_bit_identical() {
    let mut rng = Rng(99);
    for t in variants() {
        for rows in 1..=3 {
            // Up to 19: every tail after whole vectors; 40, 56, 71: pairs of vectors (pointwise.rs `Two`)
            // at every width, then a single vector and a tail.
            for hidden in (1..=19).chain([40, 56, 71]) {
                for bias in [false, true] {
                    let scale = |v: Vec<f32>| -> Vec<f32> { v.into_iter().map(|x| x * 6.0).collect() };
                    let gates = scale(rng.vec(rows * 4 * hidden));
                    let b = rng.vec(4 * hidden);
                    let c_prev = rng.vec(rows * hidden);
                    let b_hh = if bias { Some(&b[..]) } else { None };
                    let run = |f: kernels::LstmCellFn| {
                        let mut g = gates.clone();
                        let (mut c, mut tc, mut out) = (vec![0.0; rows * hidden], vec![0.0; rows * hidden], vec![0.0; rows * hidden]);
                        f(&mut g, b_hh, &c_prev, &mut c, &mut tc, &mut out, rows, hidden);
                        [g, c, tc, out]
                    };
                    let (got, want) = (run(t.lstm_cell), run(kernels::SCALAR.lstm_cell));
                    for (q, name) in ["gates", "c", "tanh_c", "h"].iter().enumerate() {
                        for i in 0..want[q].len() {
                            assert!(same_bits(got[q][i], want[q][i]), "{} lstm_cell rows={} hidden={} bias={}: {}[{}] = {:e}, scalar gives {:e}", t.level.name(), rows, hidden, bias, name, i, got[q][i], want[q][i]);
                        }
                    }

                    let gates3 = scale(rng.vec(rows * 3 * hidden));
                    let hh = scale(rng.vec(rows * 3 * hidden));
                    let h_prev = rng.vec(rows * hidden);
                    let run = |f: kernels::GruCellFn| {
                        let mut g = gates3.clone();
                        let (mut hn, mut h) = (vec![0.0; rows * hidden], vec![0.0; rows * hidden]);
                        f(&mut g, &hh, &h_prev, &mut hn, &mut h, rows, hidden);
                        [g, hn, h]
                    };
                    let (got, want) = (run(t.gru_cell), run(kernels::SCALAR.gru_cell));
                    for (q, name) in ["gates", "hn_lin", "h"].iter().enumerate() {
                        for i in 0..want[q].len() {
                            assert!(same_bits(got[q][i], want[q][i]), "{} gru_cell rows={} hidden={}: {}[{}] = {:e}, scalar gives {:e}", t.level.name(), rows, hidden, name, i, got[q][i], want[q][i]);
                        }
                    }
                }
            }
        }
    }
}

/// The fused batch-1 steps (`Kernels::lstm_row`, `Kernels::gru_row`) against the unfused ones
/// run wholly by the scalar level (product, bias, cell): the same bits for the activations, the
/// saved values and h. Sizes: 1, 2, 3, 5 and 17 panels of units (17 × 16 = 272: two KC blocks);
/// LSTM also k below, at and past one KC block (300, 513: two and three blocks); with and without
/// b_hh; 1 and 2 threads (80 units × k = 513 is split). The x86 levels must run them wherever the
/// units fill whole panels; the others decline and leave every buffer as it was.
#[test]
fn fused_batch1_steps_match_the_unfused_ones() {
    let before = pool::threads();
    let mut rng = Rng(31);
    for t in variants() {
        let nr = t.panel_width;
        let fused_level = matches!(t.level, Level::Avx2Fma | Level::Avx512);
        for threads in [1usize, 2] {
            if pool::set_threads(threads).is_err() {
                continue; // wasm32: one thread only
            }
            for hidden in [nr, 2 * nr, 3 * nr, 5 * nr, 17 * nr, nr + 1] {
                for bias in [false, true] {
                    let expect_ran = fused_level && hidden % nr == 0;
                    for k in [7usize, hidden, 300, 513] {
                        let n = 4 * hidden;
                        let w: Vec<f32> = rng.vec(n * k).into_iter().map(|x| x * 0.2).collect();
                        let gates: Vec<f32> = rng.vec(n).into_iter().map(|x| x * 4.0).collect();
                        let (b, c_prev, h_prev) = (rng.vec(n), rng.vec(hidden), rng.vec(k));
                        let b_hh = if bias { Some(&b[..]) } else { None };
                        let mut pb = PackedB::plain(&w, k, true, k, n);
                        (t.pack_b)(&mut pb);
                        let mut got = [gates.clone(), vec![0.5; hidden], vec![0.5; hidden], vec![0.5; hidden]];
                        let [g, c, tc, out] = &mut got;
                        let ran = (t.lstm_row)(g, b_hh, &c_prev, c, tc, out, &h_prev, &pb, hidden);
                        let case = format!("{} lstm threads={} hidden={} k={} bias={}", t.level.name(), threads, hidden, k, bias);
                        assert_eq!(ran, expect_ran, "{}: fused step ran = {}", case, ran);
                        let mut want = [gates.clone(), vec![0.5; hidden], vec![0.5; hidden], vec![0.5; hidden]];
                        if ran {
                            let [g, c, tc, out] = &mut want;
                            (kernels::SCALAR.gemm_packed)(g, n, &h_prev, k, 1, &PackedB::plain(&w, k, true, k, n));
                            (kernels::SCALAR.lstm_cell)(g, b_hh, &c_prev, c, tc, out, 1, hidden);
                        }
                        for (q, name) in ["gates", "c", "tanh_c", "h"].iter().enumerate() {
                            for i in 0..want[q].len() {
                                assert!(same_bits(got[q][i], want[q][i]), "{}: {}[{}] = {:e}, the unfused scalar step gives {:e}", case, name, i, got[q][i], want[q][i]);
                            }
                        }
                    }

                    let n = 3 * hidden;
                    let w: Vec<f32> = rng.vec(n * hidden).into_iter().map(|x| x * 0.2).collect();
                    let gates: Vec<f32> = rng.vec(n).into_iter().map(|x| x * 4.0).collect();
                    let (b, h_prev) = (rng.vec(n), rng.vec(hidden));
                    let b_hh = if bias { Some(&b[..]) } else { None };
                    let mut pb = PackedB::plain(&w, hidden, true, hidden, n);
                    (t.pack_b)(&mut pb);
                    let mut got = [gates.clone(), vec![0.5; hidden], vec![0.5; hidden]];
                    let [g, hn, h] = &mut got;
                    let ran = (t.gru_row)(g, b_hh, &h_prev, hn, h, &pb, hidden);
                    let case = format!("{} gru threads={} hidden={} bias={}", t.level.name(), threads, hidden, bias);
                    assert_eq!(ran, expect_ran, "{}: fused step ran = {}", case, ran);
                    let mut want = [gates.clone(), vec![0.5; hidden], vec![0.5; hidden]];
                    if ran {
                        let [g, hn, h] = &mut want;
                        let mut hh = vec![0.0f32; n];
                        (kernels::SCALAR.gemm_packed)(&mut hh, n, &h_prev, hidden, 1, &PackedB::plain(&w, hidden, true, hidden, n));
                        if let Some(b) = b_hh {
                            hh.iter_mut().zip(b).for_each(|(x, &y)| *x += y);
                        }
                        (kernels::SCALAR.gru_cell)(g, &hh, &h_prev, hn, h, 1, hidden);
                    }
                    for (q, name) in ["gates", "hn_lin", "h"].iter().enumerate() {
                        for i in 0..want[q].len() {
                            assert!(same_bits(got[q][i], want[q][i]), "{}: {}[{}] = {:e}, the unfused scalar step gives {:e}", case, name, i, got[q][i], want[q][i]);
                        }
                    }
                }
            }
        }
    }
    pool::set_threads(before).unwrap();
}

/// A fused batch-1 step given a short buffer panics naming it, before any thread starts.
#[test]
fn fused_batch1_steps_with_a_short_buffer_panic_naming_it() {
    for t in variants().into_iter().filter(|t| matches!(t.level, Level::Avx2Fma | Level::Avx512)) {
        let hidden = t.panel_width;
        let message = |r: std::thread::Result<bool>| {
            let err = r.expect_err("a short buffer must panic");
            err.downcast_ref::<String>().cloned().or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default()
        };
        let w = vec![0.1f32; 4 * hidden * hidden];
        let mut pb = PackedB::plain(&w, hidden, true, hidden, 4 * hidden);
        (t.pack_b)(&mut pb);
        let (mut g, c_prev, h_prev) = (vec![0.0f32; 4 * hidden], vec![0.0f32; hidden], vec![0.0f32; hidden]);
        let (mut c, mut tc, mut out) = (vec![0.0f32; hidden], vec![0.0f32; hidden], vec![0.0f32; hidden - 1]);
        let msg = message(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (t.lstm_row)(&mut g, None, &c_prev, &mut c, &mut tc, &mut out, &h_prev, &pb, hidden))));
        assert!(msg.contains("row step: out holds"), "{}: panic message: {}", t.level.name(), msg);

        let mut pb = PackedB::plain(&w[..3 * hidden * hidden], hidden, true, hidden, 3 * hidden);
        (t.pack_b)(&mut pb);
        let (mut g, mut hn, mut h) = (vec![0.0f32; 3 * hidden], vec![0.0f32; hidden - 1], vec![0.0f32; hidden]);
        let msg = message(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (t.gru_row)(&mut g, None, &h_prev, &mut hn, &mut h, &pb, hidden))));
        assert!(msg.contains("row step: hn_lin holds"), "{}: panic message: {}", t.level.name(), msg);
    }
}

/// Gate activations as forward saves them, (rows, count·hidden): σ values in (0, 1), and in the
/// third block (LSTM g, GRU n) tanh values in (−1, 1).
fn saved_gates(rng: &mut Rng, rows: usize, count: usize, hidden: usize) -> Vec<f32> {
    let mut g: Vec<f32> = rng.vec(rows * count * hidden).into_iter().map(|x| 1.0 / (1.0 + (-3.0 * x).exp())).collect();
    for r in 0..rows {
        for v in &mut g[r * count * hidden + 2 * hidden..r * count * hidden + 3 * hidden] {
            *v = 2.0 * *v - 1.0;
        }
    }
    g
}

/// The pointwise backward kernels on every level give scalar's bits. hidden runs past two vector
/// widths of every level, so both the vector loop and the scalar tail are covered; buffers the
/// kernel must not write start as NaN-free garbage that the comparison would catch.
#[test]
fn fused_cell_backwards_bit_identical() {
    let mut rng = Rng(123);
    for t in variants() {
        for rows in 1..=3 {
            for hidden in 1..=35 {
                let rh = rows * hidden;
                let gates = saved_gates(&mut rng, rows, 4, hidden);
                let (c_prev, tanh_c, dh, dc) = (rng.vec(rh), rng.vec(rh), rng.vec(rh), rng.vec(rh));
                let start = rng.vec(rows * 4 * hidden);
                let run = |f: kernels::LstmCellBackwardFn| {
                    let (mut dg, mut dcp) = (start.clone(), start[..rh].to_vec());
                    f(&mut dg, &mut dcp, &dh, &dc, &gates, &c_prev, &tanh_c, rows, hidden);
                    [dg, dcp]
                };
                let (got, want) = (run(t.lstm_cell_backward), run(kernels::SCALAR.lstm_cell_backward));
                assert!(want[1].iter().zip(start.iter()).any(|(a, b)| a != b), "scalar lstm_cell_backward wrote nothing");
                for (q, name) in ["dgates", "dc_prev"].iter().enumerate() {
                    for i in 0..want[q].len() {
                        assert!(same_bits(got[q][i], want[q][i]), "{} lstm_cell_backward rows={} hidden={}: {}[{}] = {:e}, scalar gives {:e}", t.level.name(), rows, hidden, name, i, got[q][i], want[q][i]);
                    }
                }

                let gates3 = saved_gates(&mut rng, rows, 3, hidden);
                let (hn_lin, h_prev) = (rng.vec(rh), rng.vec(rh));
                let start3 = rng.vec(rows * 3 * hidden);
                for reset_after in [true, false] {
                    let run = |f: kernels::GruCellBackwardFn| {
                        let (mut dg, mut dgh, mut dhp) = (start3.clone(), start3.clone(), start3[..rh].to_vec());
                        let hn: &[f32] = if reset_after { &hn_lin } else { &[] };
                        f(&mut dg, &mut dgh, &mut dhp, &dh, &gates3, hn, &h_prev, rows, hidden, reset_after);
                        [dg, dgh, dhp]
                    };
                    let (got, want) = (run(t.gru_cell_backward), run(kernels::SCALAR.gru_cell_backward));
                    for (q, name) in ["dgates", "dgates_hh", "dh_prev"].iter().enumerate() {
                        for i in 0..want[q].len() {
                            assert!(same_bits(got[q][i], want[q][i]), "{} gru_cell_backward rows={} hidden={} reset_after={}: {}[{}] = {:e}, scalar gives {:e}", t.level.name(), rows, hidden, reset_after, name, i, got[q][i], want[q][i]);
                        }
                    }
                    if !reset_after {
                        // The r block and dgates_hh are the caller's: untouched.
                        assert_eq!(want[1], start3, "gru_cell_backward (reset before) wrote dgates_hh");
                        for r in 0..rows {
                            assert_eq!(want[0][r * 3 * hidden..r * 3 * hidden + hidden], start3[r * 3 * hidden..r * 3 * hidden + hidden], "gru_cell_backward (reset before) wrote the r block");
                        }
                    }
                }
            }
        }
    }
}

/// A forward + backward of batch `b` (24: the products are split among threads; 100: also the
/// cell kernels of the steps where enough sequences are alive, see kernels/rows.rs).
fn train_step(cell: CellKind, b: usize) -> Vec<Vec<f32>> {
    let cfg = RnnConfig { cell, input_size: 48, hidden_size: 64, proj_size: 0, num_layers: 2, bidirectional: true, bias: true, batch_first: false };
    let t = 6usize;
    let mut rng = Rng(7);
    let params: Vec<f32> = rng.vec(cfg.param_count()).into_iter().map(|v| v * 0.2).collect();
    let input = rng.vec(t * b * cfg.input_size);
    let lengths: Vec<i32> = (0..b).map(|i| 1 + (i * 5 % t) as i32).collect();
    let states = cfg.num_layers * cfg.dirs();
    let mut output = vec![0.0; t * b * cfg.dirs() * cfg.h_out()];
    let mut h_n = vec![0.0; states * b * cfg.h_out()];
    let mut c_n = vec![0.0; states * b * cfg.hidden_size];
    let lstm = cell == CellKind::Lstm;
    let mut cache = vec![0.0; seq_cache_len(&cfg, Some(&lengths), t, b).unwrap()];
    seq_forward(
        &cfg,
        t,
        b,
        SeqBuffers { params: &params, input: &input, lengths: Some(&lengths), h0: None, c0: None, output: &mut output, h_n: &mut h_n, c_n: if lstm { Some(&mut c_n) } else { None }, cache: Some(&mut cache) },
    )
    .unwrap();
    let d_out = rng.vec(output.len());
    let mut d_input = vec![0.0; input.len()];
    let mut d_params = vec![0.0; params.len()];
    let mut d_h0 = vec![0.0; h_n.len()];
    seq_backward(
        &cfg,
        t,
        b,
        SeqGradBuffers {
            params: &params,
            lengths: Some(&lengths),
            cache: &cache,
            d_output: Some(&d_out),
            d_h_n: None,
            d_c_n: None,
            d_input: Some(&mut d_input),
            d_h0: Some(&mut d_h0),
            d_c0: None,
            d_params: &mut d_params,
        },
    )
    .unwrap();
    vec![output, h_n, d_input, d_h0, d_params]
}

/// The kernels split each product by output blocks and each step's cell kernel by rows, one
/// thread per element: any thread count gives the same bits (the issue asks for 1e-6 relative;
/// this is stronger). Also each GEMM level.
#[test]
fn thread_count_does_not_change_results() {
    let before = pool::threads();
    let mut runs = Vec::new();
    for threads in [1usize, 2, 3] {
        if pool::set_threads(threads).is_err() {
            continue; // wasm32: one thread only
        }
        let mut r = Vec::new();
        for cell in [CellKind::Lstm, CellKind::GruResetAfter, CellKind::GruResetBefore, CellKind::RnnTanh] {
            for b in [24, 100] {
                r.extend(train_step(cell, b));
            }
        }
        let mut rng = Rng(5);
        let (m, n, k) = (130, 300, 270);
        let a = rng.vec(m * k);
        let b = rng.vec(n * k);
        let at = rng.vec(k * m);
        let bk = rng.vec(k * n);
        for t in kernels::available().into_iter().filter_map(kernels::table) {
            let mut c = vec![0.5; m * n];
            (t.gemm_nt)(&mut c, n, &a, k, &b, k, m, n, k);
            (t.gemm_nn)(&mut c, n, &a, k, &bk, n, m, n, k);
            (t.gemm_tn)(&mut c, n, &at, m, &bk, n, m, n, k);
            (t.gemm_nt)(&mut c[..n], n, &a[..k], k, &b, k, 1, n, k); // the small-m path
            let (n2, mut c2) = (70, vec![0.25; m * 70]);
            let mut outs = [TnOut { c: &mut c, ldc: n, b: &bk, ldb: n, n }, TnOut { c: &mut c2, ldc: n2, b: &bk, ldb: n, n: n2 }];
            (t.gemm_tn_shared)(&at, m, m, k, &mut outs);
            r.push(c);
            r.push(c2);
        }
        runs.push((threads, r));
    }
    pool::set_threads(before).unwrap();
    let (_, first) = &runs[0];
    for (threads, r) in &runs[1..] {
        for (q, (x, y)) in first.iter().zip(r.iter()).enumerate() {
            for i in 0..x.len() {
                assert!(same_bits(x[i], y[i]), "result {} element {}: 1 thread gives {:e}, {} threads give {:e}", q, i, x[i], threads, y[i]);
            }
        }
    }
}

/// A cell call big enough to be split among threads but with a short buffer is not split: the
/// kernel gets it whole and panics with its own message (on the caller's thread).
#[test]
fn split_cell_with_short_buffer_panics_with_the_kernel_message() {
    let before = pool::threads();
    if pool::set_threads(2).is_err() {
        return; // wasm32: one thread, nothing is split
    }
    let (rows, hidden) = (64, 64);
    let mut gates = vec![0.1f32; rows * 4 * hidden];
    let c_prev = vec![0.2f32; rows * hidden];
    let (mut c, mut tanh_c) = (vec![0.0f32; rows * hidden], vec![0.0f32; rows * hidden]);
    let mut out = vec![0.0f32; rows * hidden - 1];
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| kernels::rows::lstm_cell(&mut gates, None, &c_prev, &mut c, &mut tanh_c, &mut out, rows, hidden)));
    pool::set_threads(before).unwrap();
    let err = r.expect_err("a short output buffer must panic");
    let msg = err.downcast_ref::<String>().cloned().or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
    assert!(msg.contains("lstm_cell"), "panic message: {}", msg);
}
