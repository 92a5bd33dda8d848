//! Losses, each returning the loss value (accumulated in f64; MSE in `sum.rs`'s partial sums) and
//! writing dL/dinput in the same pass. Reduction: mean (default, PyTorch's) or sum.
//!
//! - cross-entropy over classes, fused with a numerically stable log-softmax:
//!   loss_n = logsumexp(z_n) − z_n[y_n];  dz = (softmax(z) − onehot(y)) · scale.
//!   Rows whose target equals `ignore_index` count for nothing (mean divides by the others).
//! - binary cross-entropy with logits: loss = max(z, 0) − z·y + log(1 + e^(−|z|)); dz = σ(z) − y.
//! - mean squared error: loss = (p − t)²; dp = 2(p − t).

use crate::error::{Error, Result};
use crate::math;
use crate::real::Real;
use crate::sum::{combine, LANES};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    Mean,
    Sum,
}

impl Reduction {
    pub fn from_code(c: i32) -> Result<Reduction> {
        match c {
            0 => Ok(Reduction::Mean),
            1 => Ok(Reduction::Sum),
            _ => Err(Error::bad_argument(format!("reduction: unknown code {} (0 mean, 1 sum)", c))),
        }
    }
}

fn same_len(what: &str, got: usize, want: usize) -> Result<()> {
    if got != want {
        return Err(Error::shape(what, want, got, "same as the input"));
    }
    Ok(())
}

/// logits (N, C); targets (N) class ids or ignore_index; d_logits (N, C) written if given.
/// If every row is ignored, the mean loss is 0 with zero gradient (PyTorch gives NaN).
pub fn cross_entropy<T: Real>(
    d_logits: Option<&mut [T]>,
    logits: &[T],
    targets: &[i32],
    classes: usize,
    ignore_index: i32,
    reduction: Reduction,
) -> Result<f64> {
    if classes == 0 || logits.len() != targets.len() * classes {
        return Err(Error::shape("logits", targets.len() * classes.max(1), logits.len(), "(number of targets, classes)"));
    }
    let mut counted = 0usize;
    for (n, &y) in targets.iter().enumerate() {
        if y == ignore_index {
            continue;
        }
        if y < 0 || y as usize >= classes {
            return Err(Error::bad_argument(format!("targets[{}]: class {} is outside 0..{} (and not ignore_index {})", n, y, classes, ignore_index)));
        }
        counted += 1;
    }
    let scale = match reduction {
        Reduction::Mean if counted > 0 => 1.0 / counted as f64,
        Reduction::Mean => 0.0,
        Reduction::Sum => 1.0,
    };
    let mut d = d_logits;
    if let Some(d) = d.as_deref() {
        same_len("d_logits", d.len(), logits.len())?;
    }
    let mut total = 0.0f64;
    let mut probs = vec![0.0f64; classes];
    for (n, &y) in targets.iter().enumerate() {
        let row = &logits[n * classes..(n + 1) * classes];
        if y == ignore_index {
            if let Some(d) = d.as_deref_mut() {
                d[n * classes..(n + 1) * classes].iter_mut().for_each(|v| *v = T::ZERO);
            }
            continue;
        }
        let max = row.iter().fold(f64::NEG_INFINITY, |m, v| m.max(v.to_f64()));
        let mut z = 0.0;
        for (p, v) in probs.iter_mut().zip(row) {
            *p = math::exp(v.to_f64() - max);
            z += *p;
        }
        total += z.ln() + max - row[y as usize].to_f64();
        if let Some(d) = d.as_deref_mut() {
            for (c, dv) in d[n * classes..(n + 1) * classes].iter_mut().enumerate() {
                let onehot = if c == y as usize { 1.0 } else { 0.0 };
                *dv = T::from_f64((probs[c] / z - onehot) * scale);
            }
        }
    }
    Ok(total * scale)
}

/// logits (N) any shape; targets same shape in [0, 1]; d_logits written if given.
pub fn bce_with_logits<T: Real>(d_logits: Option<&mut [T]>, logits: &[T], targets: &[T], reduction: Reduction) -> Result<f64> {
    same_len("targets", targets.len(), logits.len())?;
    let scale = match reduction {
        Reduction::Mean => 1.0 / logits.len().max(1) as f64,
        Reduction::Sum => 1.0,
    };
    let mut total = 0.0;
    let mut d = d_logits;
    if let Some(d) = d.as_deref() {
        same_len("d_logits", d.len(), logits.len())?;
    }
    for (i, (&z, &y)) in logits.iter().zip(targets).enumerate() {
        let (z, y) = (z.to_f64(), y.to_f64());
        // log(1 + e^(−|z|)) without overflow; e^(−|z|) ≤ 1.
        total += z.max(0.0) - z * y + (1.0 + math::exp(-z.abs())).ln();
        if let Some(d) = d.as_deref_mut() {
            d[i] = T::from_f64((math::sigmoid(z) - y) * scale);
        }
    }
    Ok(total * scale)
}

/// pred, target same shape; d_pred written if given.
pub fn mse<T: Real>(d_pred: Option<&mut [T]>, pred: &[T], target: &[T], reduction: Reduction) -> Result<f64> {
    same_len("target", target.len(), pred.len())?;
    let scale = match reduction {
        Reduction::Mean => 1.0 / pred.len().max(1) as f64,
        Reduction::Sum => 1.0,
    };
    let d = d_pred;
    if let Some(d) = d.as_deref() {
        same_len("d_pred", d.len(), pred.len())?;
    }
    // Chunks of LANES values, value i into partial sum i mod LANES (see sum.rs).
    let n = pred.len();
    let full = n - n % LANES;
    let mut s = [0.0f64; LANES];
    let err = |p: T, t: T| p.to_f64() - t.to_f64();
    match d {
        Some(d) => {
            let d = &mut d[..n];
            for ((p8, t8), d8) in pred[..full].chunks_exact(LANES).zip(target[..full].chunks_exact(LANES)).zip(d[..full].chunks_exact_mut(LANES)) {
                for j in 0..LANES {
                    let e = err(p8[j], t8[j]);
                    d8[j] = T::from_f64(2.0 * e * scale);
                    s[j] += e * e;
                }
            }
            for i in full..n {
                let e = err(pred[i], target[i]);
                d[i] = T::from_f64(2.0 * e * scale);
                s[i - full] += e * e;
            }
        }
        None => {
            for (p8, t8) in pred[..full].chunks_exact(LANES).zip(target[..full].chunks_exact(LANES)) {
                for j in 0..LANES {
                    let e = err(p8[j], t8[j]);
                    s[j] += e * e;
                }
            }
            for i in full..n {
                let e = err(pred[i], target[i]);
                s[i - full] += e * e;
            }
        }
    }
    Ok(combine(&s) * scale)
}
