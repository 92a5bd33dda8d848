//! The opt-in fused multiply-add products (`kernels::set_fused`, avx2-fma level). A file of its
//! own: the switch is process-wide, and the tests in kernels_vs_scalar.rs expect it off.
//! Fused products are checked against the scalar reference with an error bound (they round once
//! per multiply-add, so the bits differ), against themselves across thread counts (bit for bit:
//! the summation order is unchanged), and switching off must give scalar's bits again.

#![cfg(target_arch = "x86_64")]

mod common;
use common::Rng;
use rnnkit_core::kernels::{self, pool, x86_avx2_fma, Kernels, Level, PackedB};

#[derive(Clone, Copy, Debug)]
enum Op {
    NT,
    NN,
    TN,
    Packed,
}

/// c0 + A·B for (m, n, k) with the current kernels; a and b random in [-1, 1).
fn product(op: Op, m: usize, n: usize, k: usize, seed: u64) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut rng = Rng(seed | 1);
    let a = rng.vec(m * k);
    let b = rng.vec(k * n);
    let c0 = rng.vec(m * n);
    let t: &Kernels = kernels::get();
    let mut c = c0.clone();
    match op {
        // a is (m, k) for NT / NN / Packed and (k, m) for TN; b is (n, k) for NT, else (k, n).
        Op::NT => (t.gemm_nt)(&mut c, n, &a, k, &b, k, m, n, k),
        Op::NN => (t.gemm_nn)(&mut c, n, &a, k, &b, n, m, n, k),
        Op::TN => (t.gemm_tn)(&mut c, n, &a, m, &b, n, m, n, k),
        Op::Packed => {
            let mut pb = PackedB::plain(&b[..], n, false, k, n);
            (t.pack_b)(&mut pb);
            (t.gemm_packed)(&mut c, n, &a, k, m, &pb);
        }
    }
    (c, c0, a, b)
}

/// |fused − exact| per element, bounded by k · 2⁻²³ · Σ|a||b| (the classic summation bound).
fn assert_close(op: Op, m: usize, n: usize, k: usize, got: &[f32], c0: &[f32], a: &[f32], b: &[f32]) {
    for i in 0..m {
        for j in 0..n {
            let (mut exact, mut mag) = (c0[i * n + j] as f64, (c0[i * n + j] as f64).abs());
            for p in 0..k {
                let av = match op {
                    Op::TN => a[p * m + i],
                    _ => a[i * k + p],
                } as f64;
                let bv = match op {
                    Op::NT => b[j * k + p],
                    _ => b[p * n + j],
                } as f64;
                exact += av * bv;
                mag += (av * bv).abs();
            }
            let err = (got[i * n + j] as f64 - exact).abs();
            let bound = (k as f64 + 2.0) * f32::EPSILON as f64 * mag;
            assert!(err <= bound, "fused {:?} m={} n={} k={}: c[{}][{}] = {}, exact {}, error {:e} > bound {:e}", op, m, n, k, i, j, got[i * n + j], exact, err, bound);
        }
    }
}

#[test]
fn fused_products_are_accurate_deterministic_and_switch_off() {
    if !x86_avx2_fma::detected() {
        // The level does not exist on this CPU: the switch must say it is not honoured.
        assert!(!kernels::set_fused(true), "set_fused(true) claimed to work without AVX2+FMA");
        kernels::set_fused(false);
        return;
    }
    kernels::force_level(Level::Avx2Fma).unwrap();
    let shapes = [(Op::NT, 37, 53, 300), (Op::NN, 64, 200, 257), (Op::TN, 130, 70, 513), (Op::Packed, 45, 96, 300), (Op::NT, 200, 300, 256)];
    for (q, &(op, m, n, k)) in shapes.iter().enumerate() {
        let seed = 11 + q as u64;
        kernels::set_fused(false);
        let (plain, ..) = product(op, m, n, k, seed);
        assert!(kernels::set_fused(true), "set_fused(true) not honoured on avx2-fma");
        pool::set_threads(1).unwrap();
        let (one, c0, a, b) = product(op, m, n, k, seed);
        pool::set_threads(2).unwrap();
        let (two, ..) = product(op, m, n, k, seed);
        assert_close(op, m, n, k, &one, &c0, &a, &b);
        assert!(one.iter().zip(&two).all(|(x, y)| x.to_bits() == y.to_bits()), "fused {:?} m={} n={} k={}: 1 and 2 threads differ", op, m, n, k);
        let differs = one.iter().zip(&plain).filter(|(x, y)| x.to_bits() != y.to_bits()).count();
        assert!(differs > 0, "fused {:?} m={} n={} k={}: no element differs from the unfused product (was the fused kernel used?)", op, m, n, k);
        // Off again: the scalar reference's bits.
        kernels::set_fused(false);
        let (again, ..) = product(op, m, n, k, seed);
        kernels::force_level(Level::Scalar).unwrap();
        let (scalar, ..) = product(op, m, n, k, seed);
        kernels::force_level(Level::Avx2Fma).unwrap();
        assert!(again.iter().zip(&scalar).all(|(x, y)| x.to_bits() == y.to_bits()), "{:?} m={} n={} k={}: after set_fused(false) the result is not scalar's", op, m, n, k);
    }
    // Other levels ignore the switch.
    kernels::force_level(Level::Scalar).unwrap();
    assert!(!kernels::set_fused(true), "set_fused(true) claimed to work on the scalar level");
    kernels::set_fused(false);
}
