//! The MSE loss and the gradient statistics sum in eight partial sums over chunks of eight
//! (sum.rs). Against a plain left-to-right f64 sum, over lengths around the chunk width: the
//! loss within f64 rounding, the gradient bit for bit, the non-finite count and first index
//! exact wherever the bad values sit (chunk bodies, the remainder).

mod common;
use common::Rng;
use rnnkit_core::loss::{mse, Reduction};
use rnnkit_core::optim::grad_stats;

fn lengths() -> Vec<usize> {
    (0..27).chain([1000, 4099]).collect()
}

#[test]
fn mse_matches_a_plain_sum_and_writes_every_gradient() {
    let mut rng = Rng(0x5e);
    for n in lengths() {
        let pred = rng.vec(n);
        let target = rng.vec(n);
        for red in [Reduction::Mean, Reduction::Sum] {
            let scale = if red == Reduction::Mean { 1.0 / n.max(1) as f64 } else { 1.0 };
            let plain: f64 = pred.iter().zip(&target).map(|(&p, &t)| (p as f64 - t as f64) * (p as f64 - t as f64)).sum::<f64>() * scale;
            let mut d = vec![f32::NAN; n];
            let got = mse(Some(&mut d), &pred, &target, red).unwrap();
            assert!((got - plain).abs() <= 1e-12 * plain.abs(), "n={} {:?}: {} vs {}", n, red, got, plain);
            for i in 0..n {
                let want = (2.0 * (pred[i] as f64 - target[i] as f64) * scale) as f32;
                assert_eq!(d[i].to_bits(), want.to_bits(), "n={} {:?}: d[{}]", n, red, i);
            }
            // Without a gradient: the same loss bits.
            assert_eq!(mse::<f32>(None, &pred, &target, red).unwrap().to_bits(), got.to_bits(), "n={}", n);
            // f64 values through the same code.
            let (p64, t64): (Vec<f64>, Vec<f64>) = (pred.iter().map(|&v| v as f64).collect(), target.iter().map(|&v| v as f64).collect());
            let got64 = mse::<f64>(None, &p64, &t64, red).unwrap();
            assert!((got64 - plain).abs() <= 1e-12 * plain.abs(), "n={} f64: {} vs {}", n, got64, plain);
        }
    }
}

#[test]
fn grad_stats_sums_the_finite_squares_and_finds_the_first_bad_value() {
    let mut rng = Rng(0x6a);
    for n in lengths() {
        let clean = rng.vec(n);
        let plain = |x: &[f32]| x.iter().filter(|v| v.is_finite()).map(|&v| v as f64 * v as f64).sum::<f64>();
        let (ss, bad, first) = grad_stats(&clean);
        assert!((ss - plain(&clean)).abs() <= 1e-12 * plain(&clean), "n={}", n);
        assert_eq!((bad, first), (0, -1), "n={}", n);
        // One or two bad values at every position pair class: start, chunk middle, last
        // full chunk, remainder.
        let spots: Vec<usize> = [0, 3, 7, 8, n / 2, n.saturating_sub(9), n.saturating_sub(1)].iter().copied().filter(|&i| i < n).collect();
        for &a in &spots {
            for &b in &spots {
                let mut x = clean.clone();
                x[a] = f32::NAN;
                x[b] = f32::NEG_INFINITY;
                let (ss, bad, first) = grad_stats(&x);
                let want_bad = if a == b { 1 } else { 2 };
                assert_eq!((bad, first), (want_bad, a.min(b) as i64), "n={} bad at {} and {}", n, a, b);
                assert!((ss - plain(&x)).abs() <= 1e-12 * plain(&x), "n={} bad at {} and {}: {} vs {}", n, a, b, ss, plain(&x));
            }
        }
    }
}
