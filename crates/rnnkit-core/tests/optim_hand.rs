//! Optimizer updates against PyTorch's rules worked out by hand (the numbers in the comments).

use rnnkit_core::optim::*;

fn close(a: f32, b: f64) {
    assert!((a as f64 - b).abs() < 1e-6 * (1.0 + b.abs()), "{} vs {}", a, b);
}

/// p = 1, g = 0.5, lr = 0.1, wd = 0.1: g' = 0.6.
/// step 1 (momentum 0.9): buf = 0.6, p = 1 − 0.06 = 0.94.
/// step 2 with g = 0.5: g' = 0.5 + 0.094 = 0.594; buf = 0.9·0.6 + 0.594 = 1.134; p = 0.94 − 0.1134 = 0.8266.
/// Nesterov step 1: buf = 0.6, g = 0.6 + 0.9·0.6 = 1.14, p = 1 − 0.114 = 0.886.
#[test]
fn sgd_momentum_weight_decay_nesterov() {
    let h = Sgd { lr: 0.1, momentum: 0.9, dampening: 0.0, weight_decay: 0.1, nesterov: false };
    let (mut p, mut buf) = ([1.0f32], [0.0f32]);
    sgd_step(&mut p, &[0.5], Some(&mut buf), &h, true).unwrap();
    close(p[0], 0.94);
    close(buf[0], 0.6);
    sgd_step(&mut p, &[0.5], Some(&mut buf), &h, false).unwrap();
    close(buf[0], 1.134);
    close(p[0], 0.8266);
    let h = Sgd { nesterov: true, ..h };
    let (mut p, mut buf) = ([1.0f32], [0.0f32]);
    sgd_step(&mut p, &[0.5], Some(&mut buf), &h, true).unwrap();
    close(p[0], 0.886);
    let plain = Sgd { lr: 0.1, momentum: 0.0, dampening: 0.0, weight_decay: 0.0, nesterov: false };
    let mut p = [1.0f32];
    sgd_step(&mut p, &[0.5], None, &plain, true).unwrap();
    close(p[0], 0.95);
}

/// Adam, lr 0.1, betas (0.9, 0.999), eps 1e-8, p = 1, g = 0.5, step 1:
/// m = 0.05, v = 0.00025; m̂ = 0.5, v̂ = 0.25 → p = 1 − 0.1·0.5/(0.5 + 1e-8) = 0.9 (+2e-9).
/// Step 2, g = 0.25: m = 0.045 + 0.025 = 0.07, v = 0.00024975 + 0.0000625 = 0.00031225;
/// m̂ = 0.07/0.19 = 0.368421, v̂ = 0.00031225/0.001999 = 0.156203 → p = 0.9 − 0.1·0.368421/0.395225 = 0.806782.
/// AdamW (wd 0.1): first p ← 1·(1 − 0.01) = 0.99, then the Adam step → 0.89.
#[test]
fn adam_and_adamw() {
    let h = Adam { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, decoupled: false, amsgrad: false };
    let (mut p, mut m, mut v) = ([1.0f32], [0.0f32], [0.0f32]);
    adam_step(&mut p, &[0.5], &mut m, &mut v, None, &h, 1).unwrap();
    close(p[0], 0.9);
    adam_step(&mut p, &[0.25], &mut m, &mut v, None, &h, 2).unwrap();
    close(m[0], 0.07);
    close(p[0], 0.9 - 0.1 * (0.07 / 0.19) / ((0.00031225f64 / (1.0 - 0.999f64 * 0.999)).sqrt() + 1e-8));
    close(p[0], 0.806782);
    let w = Adam { weight_decay: 0.1, decoupled: true, ..h };
    let (mut p, mut m, mut v) = ([1.0f32], [0.0f32], [0.0f32]);
    adam_step(&mut p, &[0.5], &mut m, &mut v, None, &w, 1).unwrap();
    close(p[0], 0.89);
    // Coupled weight decay adds wd·p to the gradient: g = 0.6 → m̂ = 0.6, v̂ = 0.36 → p = 0.9.
    let c = Adam { weight_decay: 0.1, ..h };
    let (mut p, mut m, mut v) = ([1.0f32], [0.0f32], [0.0f32]);
    adam_step(&mut p, &[0.5], &mut m, &mut v, None, &c, 1).unwrap();
    close(m[0], 0.06);
    close(p[0], 0.9);
}

/// RMSprop lr 0.01, alpha 0.99, eps 1e-8, g = 0.5: sq = 0.0025, p = 1 − 0.01·0.5/0.05 = 0.9.
/// Centered: avg_g = 0.005, sq − avg² = 0.0025 − 0.000025 = 0.002475 → p = 1 − 0.005/0.0497494 = 0.899496.
/// Adagrad lr 0.1: sum = 0.25, p = 1 − 0.1·0.5/0.5 = 0.9; step 2 (g = 0.5): sum = 0.5, p = 0.9 − 0.05/0.707107 = 0.829289.
#[test]
fn rmsprop_and_adagrad() {
    let h = RmsProp { lr: 0.01, alpha: 0.99, eps: 1e-8, weight_decay: 0.0, momentum: 0.0, centered: false };
    let (mut p, mut sq) = ([1.0f32], [0.0f32]);
    rmsprop_step(&mut p, &[0.5], &mut sq, None, None, &h).unwrap();
    close(p[0], 0.9);
    let c = RmsProp { centered: true, ..h };
    let (mut p, mut sq, mut ga) = ([1.0f32], [0.0f32], [0.0f32]);
    rmsprop_step(&mut p, &[0.5], &mut sq, None, Some(&mut ga), &c).unwrap();
    close(p[0], 1.0 - 0.005 / (0.002475f64.sqrt() + 1e-8));
    let a = Adagrad { lr: 0.1, lr_decay: 0.0, weight_decay: 0.0, eps: 1e-10 };
    let (mut p, mut s) = ([1.0f32], [0.0f32]);
    adagrad_step(&mut p, &[0.5], &mut s, &a, 1).unwrap();
    close(p[0], 0.9);
    adagrad_step(&mut p, &[0.5], &mut s, &a, 2).unwrap();
    close(p[0], 0.829289);
}

#[test]
fn grad_stats_finds_the_first_non_finite() {
    let (ss, bad, first) = grad_stats(&[3.0, 4.0, f32::NAN, 1.0, f32::INFINITY]);
    assert_eq!((ss, bad, first), (26.0, 2, 2));
}
