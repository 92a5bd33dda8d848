//! Finite-difference checks (f64) of the non-recurrent layers and the losses.

use rnnkit_core::layers::embedding::{embedding_backward, embedding_forward};
use rnnkit_core::layers::linear::{linear_backward, linear_forward};
use rnnkit_core::layers::pool::{pool_backward, pool_forward, PoolMode, PoolShape};
use rnnkit_core::loss::{bce_with_logits, cross_entropy, mse, Reduction};
use rnnkit_core::rng::SplitMix64;

fn randv(rng: &mut SplitMix64, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.next_f64() * 2.0 - 1.0).collect()
}

/// Central differences of `loss` w.r.t. every element of `x`, compared with `analytic`.
fn fd_check(name: &str, x: &mut Vec<f64>, analytic: &[f64], loss: &dyn Fn(&[f64]) -> f64) {
    let eps = 1e-6;
    for i in 0..x.len() {
        let orig = x[i];
        x[i] = orig + eps;
        let plus = loss(x);
        x[i] = orig - eps;
        let minus = loss(x);
        x[i] = orig;
        let numeric = (plus - minus) / (2.0 * eps);
        let err = (analytic[i] - numeric).abs() / (1e-7 + 1e-5 * analytic[i].abs().max(numeric.abs()));
        assert!(err < 1.0, "{}[{}]: analytic {} numeric {}", name, i, analytic[i], numeric);
    }
}

#[test]
fn linear_gradients() {
    let mut rng = SplitMix64::new(1);
    let (n, inp, out) = (4, 3, 5);
    let mut x = randv(&mut rng, n * inp);
    let mut w = randv(&mut rng, out * inp);
    let mut b = randv(&mut rng, out);
    let r = randv(&mut rng, n * out);
    let loss = |x: &[f64], w: &[f64], b: &[f64]| {
        let mut y = vec![0.0; n * out];
        linear_forward(&mut y, x, w, Some(b), inp, out).unwrap();
        y.iter().zip(&r).map(|(a, b)| a * b).sum::<f64>()
    };
    let (mut dx, mut dw, mut db) = (vec![0.0; n * inp], vec![0.0; out * inp], vec![0.0; out]);
    linear_backward(Some(&mut dx), &mut dw, Some(&mut db), &r, &x, &w, inp, out).unwrap();
    let (w0, b0, x0) = (w.clone(), b.clone(), x.clone());
    fd_check("dx", &mut x, &dx, &|x| loss(x, &w0, &b0));
    fd_check("dw", &mut w, &dw, &|w| loss(&x0, w, &b0));
    fd_check("db", &mut b, &db, &|b| loss(&x0, &w0, b));
}

#[test]
fn embedding_gradient_scatters_and_skips_padding() {
    let mut rng = SplitMix64::new(2);
    let (v, e) = (5, 3);
    let ids = [1, 3, 1, 0, 4];
    let mut w = randv(&mut rng, v * e);
    let r = randv(&mut rng, ids.len() * e);
    let loss = |w: &[f64]| {
        let mut out = vec![0.0; ids.len() * e];
        embedding_forward(&mut out, w, &ids, v, e).unwrap();
        out.iter().zip(&r).map(|(a, b)| a * b).sum::<f64>()
    };
    let mut dw = vec![0.0; v * e];
    embedding_backward(&mut dw, &r, &ids, v, e, -1).unwrap();
    fd_check("d_weight", &mut w, &dw, &loss);
    let mut dw_pad = vec![0.0; v * e];
    embedding_backward(&mut dw_pad, &r, &ids, v, e, 1).unwrap();
    assert!(dw_pad[e..2 * e].iter().all(|&g| g == 0.0));
    assert_eq!(dw_pad[3 * e..4 * e], dw[3 * e..4 * e]);
    let mut out = vec![0.0; 3];
    assert!(embedding_forward(&mut out, &w, &[5], v, e).unwrap_err().message.contains("ids[0]"));
}

#[test]
fn pooling_gradients_every_mode() {
    let mut rng = SplitMix64::new(3);
    for &batch_first in &[false, true] {
        for &(mode, dirs) in &[(PoolMode::Last, 1), (PoolMode::Last, 2), (PoolMode::Mean, 1), (PoolMode::Max, 2)] {
            let s = PoolShape { seq_len: 4, batch: 3, features: 4, dirs, batch_first };
            let lengths = [2, 4, 1];
            let mut x = randv(&mut rng, 4 * 3 * 4);
            let r = randv(&mut rng, 3 * 4);
            let loss = |x: &[f64]| {
                let mut out = vec![0.0; 12];
                let mut arg = vec![0; 12];
                pool_forward(&mut out, &mut arg, x, &lengths, &s, mode).unwrap();
                out.iter().zip(&r).map(|(a, b)| a * b).sum::<f64>()
            };
            let mut out = vec![0.0; 12];
            let mut arg = vec![0; 12];
            pool_forward(&mut out, &mut arg, &x, &lengths, &s, mode).unwrap();
            let mut dx = vec![0.0; x.len()];
            pool_backward(&mut dx, &r, &arg, &lengths, &s, mode).unwrap();
            fd_check(&format!("{:?} dirs={} bf={}", mode, dirs, batch_first), &mut x, &dx, &loss);
        }
    }
}

#[test]
fn loss_gradients() {
    let mut rng = SplitMix64::new(4);
    let (n, c) = (5, 4);
    let targets = [2, -100, 0, 3, 1];
    let mut z = randv(&mut rng, n * c);
    for &red in &[Reduction::Mean, Reduction::Sum] {
        let mut d = vec![0.0; n * c];
        let l = cross_entropy(Some(&mut d), &z, &targets, c, -100, red).unwrap();
        assert!(l > 0.0);
        fd_check("cross_entropy", &mut z, &d, &|z| cross_entropy::<f64>(None, z, &targets, c, -100, red).unwrap());
        assert!(d[4..8].iter().all(|&g| g == 0.0), "ignored row has zero gradient");
    }
    let y: Vec<f64> = (0..n * c).map(|i| (i % 3) as f64 / 2.0).collect();
    let mut d = vec![0.0; n * c];
    bce_with_logits(Some(&mut d), &z, &y, Reduction::Mean).unwrap();
    fd_check("bce", &mut z, &d, &|z| bce_with_logits::<f64>(None, z, &y, Reduction::Mean).unwrap());
    mse(Some(&mut d), &z, &y, Reduction::Mean).unwrap();
    fd_check("mse", &mut z, &d, &|z| mse::<f64>(None, z, &y, Reduction::Mean).unwrap());
}

/// Hand-worked: logits [0, ln 3] with target 1 → p = [1/4, 3/4], loss = −ln(3/4).
#[test]
fn cross_entropy_by_hand() {
    let mut d = [0.0f64; 2];
    let l = cross_entropy(Some(&mut d), &[0.0, 3f64.ln()], &[1], 2, -100, Reduction::Mean).unwrap();
    assert!((l - (4.0f64 / 3.0).ln()).abs() < 1e-14);
    assert!((d[0] - 0.25).abs() < 1e-14 && (d[1] + 0.25).abs() < 1e-14);
    // Large logits do not overflow.
    let l = cross_entropy::<f64>(None, &[1000.0, 0.0], &[0], 2, -100, Reduction::Mean).unwrap();
    assert!(l.abs() < 1e-12);
}
