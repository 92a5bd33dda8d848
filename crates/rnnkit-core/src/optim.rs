//! Optimizer updates, PyTorch's rules (torch.optim, foreach=False semantics), one call per
//! parameter buffer. State buffers (momentum, moments, ...) live with the parameters and are
//! owned by the caller. Arithmetic per element in f64, stored as f32.

use crate::error::{Error, Result};
use crate::sum::{combine, LANES};

fn check(what: &str, params: &[f32], other: &[f32]) -> Result<()> {
    if other.len() != params.len() {
        return Err(Error::shape(what, params.len(), other.len(), "same as params"));
    }
    Ok(())
}

pub struct Sgd {
    pub lr: f64,
    pub momentum: f64,
    pub dampening: f64,
    pub weight_decay: f64,
    pub nesterov: bool,
}

/// `first`: the first step with this momentum buffer (PyTorch initialises it to the gradient).
pub fn sgd_step(params: &mut [f32], grads: &[f32], momentum_buf: Option<&mut [f32]>, h: &Sgd, first: bool) -> Result<()> {
    check("grads", params, grads)?;
    let mut buf = momentum_buf;
    if h.momentum != 0.0 {
        match buf.as_deref() {
            Some(b) => check("momentum_buffer", params, b)?,
            None => return Err(Error::bad_argument("sgd: momentum > 0 needs a momentum buffer".to_string())),
        }
    }
    for i in 0..params.len() {
        let p = params[i] as f64;
        let mut g = grads[i] as f64 + h.weight_decay * p;
        if h.momentum != 0.0 {
            let b = buf.as_deref_mut().map(|b| &mut b[i]).expect("checked above");
            let nb = if first { g } else { h.momentum * *b as f64 + (1.0 - h.dampening) * g };
            *b = nb as f32;
            g = if h.nesterov { g + h.momentum * nb } else { nb };
        }
        params[i] = (p - h.lr * g) as f32;
    }
    Ok(())
}

pub struct Adam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    /// AdamW: decay the weights directly instead of adding wd·p to the gradient.
    pub decoupled: bool,
    pub amsgrad: bool,
}

/// `step`: 1 for the first update (bias corrections use it). `v_max` needed with amsgrad.
pub fn adam_step(params: &mut [f32], grads: &[f32], m: &mut [f32], v: &mut [f32], v_max: Option<&mut [f32]>, h: &Adam, step: u32) -> Result<()> {
    check("grads", params, grads)?;
    check("exp_avg", params, m)?;
    check("exp_avg_sq", params, v)?;
    if step == 0 {
        return Err(Error::bad_argument("adam: step counts from 1".to_string()));
    }
    let mut vmax = v_max;
    if h.amsgrad {
        match vmax.as_deref() {
            Some(b) => check("max_exp_avg_sq", params, b)?,
            None => return Err(Error::bad_argument("adam: amsgrad needs a max_exp_avg_sq buffer".to_string())),
        }
    }
    let bc1 = 1.0 - h.beta1.powi(step as i32);
    let bc2 = 1.0 - h.beta2.powi(step as i32);
    let step_size = h.lr / bc1;
    for i in 0..params.len() {
        let mut p = params[i] as f64;
        let mut g = grads[i] as f64;
        if h.weight_decay != 0.0 {
            if h.decoupled {
                p *= 1.0 - h.lr * h.weight_decay;
            } else {
                g += h.weight_decay * p;
            }
        }
        let mi = h.beta1 * m[i] as f64 + (1.0 - h.beta1) * g;
        let vi = h.beta2 * v[i] as f64 + (1.0 - h.beta2) * g * g;
        m[i] = mi as f32;
        v[i] = vi as f32;
        let mut second = vi;
        if h.amsgrad {
            let b = vmax.as_deref_mut().map(|b| &mut b[i]).expect("checked above");
            second = second.max(*b as f64);
            *b = second as f32;
        }
        let denom = second.sqrt() / bc2.sqrt() + h.eps;
        params[i] = (p - step_size * mi / denom) as f32;
    }
    Ok(())
}

pub struct RmsProp {
    pub lr: f64,
    pub alpha: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub momentum: f64,
    pub centered: bool,
}

pub fn rmsprop_step(
    params: &mut [f32],
    grads: &[f32],
    square_avg: &mut [f32],
    momentum_buf: Option<&mut [f32]>,
    grad_avg: Option<&mut [f32]>,
    h: &RmsProp,
) -> Result<()> {
    check("grads", params, grads)?;
    check("square_avg", params, square_avg)?;
    let (mut mb, mut ga) = (momentum_buf, grad_avg);
    if h.momentum > 0.0 && mb.is_none() {
        return Err(Error::bad_argument("rmsprop: momentum > 0 needs a momentum buffer".to_string()));
    }
    if h.centered && ga.is_none() {
        return Err(Error::bad_argument("rmsprop: centered needs a grad_avg buffer".to_string()));
    }
    for b in [mb.as_deref(), ga.as_deref()].iter().flatten() {
        check("rmsprop state", params, b)?;
    }
    for i in 0..params.len() {
        let p = params[i] as f64;
        let g = grads[i] as f64 + h.weight_decay * p;
        let sq = h.alpha * square_avg[i] as f64 + (1.0 - h.alpha) * g * g;
        square_avg[i] = sq as f32;
        let avg = if h.centered {
            let a = ga.as_deref_mut().map(|b| &mut b[i]).expect("checked above");
            let na = h.alpha * *a as f64 + (1.0 - h.alpha) * g;
            *a = na as f32;
            (sq - na * na).sqrt() + h.eps
        } else {
            sq.sqrt() + h.eps
        };
        if h.momentum > 0.0 {
            let b = mb.as_deref_mut().map(|b| &mut b[i]).expect("checked above");
            let nb = h.momentum * *b as f64 + g / avg;
            *b = nb as f32;
            params[i] = (p - h.lr * nb) as f32;
        } else {
            params[i] = (p - h.lr * g / avg) as f32;
        }
    }
    Ok(())
}

pub struct Adagrad {
    pub lr: f64,
    pub lr_decay: f64,
    pub weight_decay: f64,
    pub eps: f64,
}

/// `step` counts from 1; `sum` starts at initial_accumulator_value (set by the caller).
pub fn adagrad_step(params: &mut [f32], grads: &[f32], sum: &mut [f32], h: &Adagrad, step: u32) -> Result<()> {
    check("grads", params, grads)?;
    check("sum", params, sum)?;
    if step == 0 {
        return Err(Error::bad_argument("adagrad: step counts from 1".to_string()));
    }
    let clr = h.lr / (1.0 + (step - 1) as f64 * h.lr_decay);
    for i in 0..params.len() {
        let p = params[i] as f64;
        let g = grads[i] as f64 + h.weight_decay * p;
        let s = sum[i] as f64 + g * g;
        sum[i] = s as f32;
        params[i] = (p - clr * g / (s.sqrt() + h.eps)) as f32;
    }
    Ok(())
}

/// Σ x², the number of non-finite values and the index of the first one (−1 if none).
pub fn grad_stats(x: &[f32]) -> (f64, usize, i64) {
    // Non-finite values count 0 in the sum; chunks of LANES into sum.rs's partial sums, the
    // count without a branch (vector code); the first bad index only when there is one.
    let full = x.len() - x.len() % LANES;
    let mut s = [0.0f64; LANES];
    let mut bad = 0usize;
    let square = |v: f32| if v.is_finite() { (v as f64) * (v as f64) } else { 0.0 };
    for x8 in x[..full].chunks_exact(LANES) {
        for j in 0..LANES {
            s[j] += square(x8[j]);
            bad += !x8[j].is_finite() as usize;
        }
    }
    for (j, &v) in x[full..].iter().enumerate() {
        s[j] += square(v);
        bad += !v.is_finite() as usize;
    }
    let first = if bad > 0 { x.iter().position(|v| !v.is_finite()).map_or(-1, |i| i as i64) } else { -1 };
    (combine(&s), bad, first)
}

pub fn scale(x: &mut [f32], factor: f64) {
    for v in x.iter_mut() {
        *v = (*v as f64 * factor) as f32;
    }
}

pub fn clamp(x: &mut [f32], lo: f32, hi: f32) {
    for v in x.iter_mut() {
        *v = v.max(lo).min(hi);
    }
}
