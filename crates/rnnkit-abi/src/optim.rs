//! rk_* exports of the optimizers, gradient utilities and initialisers (rnnkit_core::optim,
//! ::init). One call updates one parameter buffer; state buffers belong to the caller.

use crate::guard::guard;
use crate::mem::{required, Borrows};
use rnnkit_core::init::{init_fill, Init};
use rnnkit_core::optim;
use rnnkit_core::Error;

fn step_count(step: i32) -> Result<u32, Error> {
    if step < 1 {
        return Err(Error::bad_argument(format!("step: counts from 1, got {}", step)));
    }
    Ok(step as u32)
}

/// params updated; grads read; momentum_buf updated (null when momentum = 0).
///
/// # Safety
/// Each non-null pointer must be valid for its length.
#[no_mangle]
pub unsafe extern "C" fn rk_sgd_step(
    params: *mut f32,
    params_len: usize,
    grads: *const f32,
    grads_len: usize,
    momentum_buf: *mut f32,
    momentum_len: usize,
    lr: f64,
    momentum: f64,
    dampening: f64,
    weight_decay: f64,
    nesterov: i32,
    first: i32,
) -> i32 {
    guard(|| {
        let mut b = Borrows::default();
        let p = required("params", b.output("params", params, params_len)?)?;
        let g = required("grads", b.input("grads", grads, grads_len)?)?;
        let m = b.output("momentum_buffer", momentum_buf, momentum_len)?;
        let h = optim::Sgd { lr, momentum, dampening, weight_decay, nesterov: nesterov != 0 };
        optim::sgd_step(p, g, m, &h, first != 0)?;
        Ok(0)
    })
}

/// Adam / AdamW (decoupled = 1) / AMSGrad (amsgrad = 1, v_max non-null). step counts from 1.
///
/// # Safety
/// Each non-null pointer must be valid for its length.
#[no_mangle]
pub unsafe extern "C" fn rk_adam_step(
    params: *mut f32,
    params_len: usize,
    grads: *const f32,
    grads_len: usize,
    m: *mut f32,
    m_len: usize,
    v: *mut f32,
    v_len: usize,
    v_max: *mut f32,
    v_max_len: usize,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    decoupled: i32,
    amsgrad: i32,
    step: i32,
) -> i32 {
    guard(|| {
        let mut b = Borrows::default();
        let p = required("params", b.output("params", params, params_len)?)?;
        let g = required("grads", b.input("grads", grads, grads_len)?)?;
        let m = required("exp_avg", b.output("exp_avg", m, m_len)?)?;
        let v = required("exp_avg_sq", b.output("exp_avg_sq", v, v_len)?)?;
        let vmax = b.output("max_exp_avg_sq", v_max, v_max_len)?;
        let h = optim::Adam { lr, beta1, beta2, eps, weight_decay, decoupled: decoupled != 0, amsgrad: amsgrad != 0 };
        optim::adam_step(p, g, m, v, vmax, &h, step_count(step)?)?;
        Ok(0)
    })
}

/// RMSprop; momentum_buf needed when momentum > 0, grad_avg when centered.
///
/// # Safety
/// Each non-null pointer must be valid for its length.
#[no_mangle]
pub unsafe extern "C" fn rk_rmsprop_step(
    params: *mut f32,
    params_len: usize,
    grads: *const f32,
    grads_len: usize,
    square_avg: *mut f32,
    square_avg_len: usize,
    momentum_buf: *mut f32,
    momentum_len: usize,
    grad_avg: *mut f32,
    grad_avg_len: usize,
    lr: f64,
    alpha: f64,
    eps: f64,
    weight_decay: f64,
    momentum: f64,
    centered: i32,
) -> i32 {
    guard(|| {
        let mut b = Borrows::default();
        let p = required("params", b.output("params", params, params_len)?)?;
        let g = required("grads", b.input("grads", grads, grads_len)?)?;
        let sq = required("square_avg", b.output("square_avg", square_avg, square_avg_len)?)?;
        let mb = b.output("momentum_buffer", momentum_buf, momentum_len)?;
        let ga = b.output("grad_avg", grad_avg, grad_avg_len)?;
        let h = optim::RmsProp { lr, alpha, eps, weight_decay, momentum, centered: centered != 0 };
        optim::rmsprop_step(p, g, sq, mb, ga, &h)?;
        Ok(0)
    })
}

/// Adagrad; `sum` starts at initial_accumulator_value; step counts from 1.
///
/// # Safety
/// Each non-null pointer must be valid for its length.
#[no_mangle]
pub unsafe extern "C" fn rk_adagrad_step(
    params: *mut f32,
    params_len: usize,
    grads: *const f32,
    grads_len: usize,
    sum: *mut f32,
    sum_len: usize,
    lr: f64,
    lr_decay: f64,
    weight_decay: f64,
    eps: f64,
    step: i32,
) -> i32 {
    guard(|| {
        let mut b = Borrows::default();
        let p = required("params", b.output("params", params, params_len)?)?;
        let g = required("grads", b.input("grads", grads, grads_len)?)?;
        let s = required("sum", b.output("sum", sum, sum_len)?)?;
        let h = optim::Adagrad { lr, lr_decay, weight_decay, eps };
        optim::adagrad_step(p, g, s, &h, step_count(step)?)?;
        Ok(0)
    })
}

/// out (3 f64) written: [Σ x², number of non-finite values, index of the first one or −1].
///
/// # Safety
/// Each non-null pointer must be valid for its length.
#[no_mangle]
pub unsafe extern "C" fn rk_grad_stats(x: *const f32, x_len: usize, out: *mut f64, out_len: usize) -> i32 {
    guard(|| {
        let mut b = Borrows::default();
        let x = required("x", b.input("x", x, x_len)?)?;
        let out = required("out", b.output("out", out, out_len)?)?;
        if out.len() != 3 {
            return Err(Error::shape("out", 3, out.len(), "[sum of squares, non-finite count, first non-finite index]"));
        }
        let (ss, bad, first) = optim::grad_stats(x);
        out[0] = ss;
        out[1] = bad as f64;
        out[2] = first as f64;
        Ok(0)
    })
}

/// x *= factor (gradient clipping by norm).
///
/// # Safety
/// Each non-null pointer must be valid for its length.
#[no_mangle]
pub unsafe extern "C" fn rk_scale(x: *mut f32, x_len: usize, factor: f64) -> i32 {
    guard(|| {
        let mut b = Borrows::default();
        optim::scale(required("x", b.output("x", x, x_len)?)?, factor);
        Ok(0)
    })
}

/// x = clamp(x, lo, hi) (gradient clipping by value).
///
/// # Safety
/// Each non-null pointer must be valid for its length.
#[no_mangle]
pub unsafe extern "C" fn rk_clamp(x: *mut f32, x_len: usize, lo: f64, hi: f64) -> i32 {
    guard(|| {
        let mut b = Borrows::default();
        if !(lo <= hi) {
            return Err(Error::bad_argument(format!("clamp: need lo <= hi, got {} and {}", lo, hi)));
        }
        optim::clamp(required("x", b.output("x", x, x_len)?)?, lo as f32, hi as f32);
        Ok(0)
    })
}

/// Fills out (rows, cols) with an initialiser (codes in rnnkit_core::init::Init::from_code).
///
/// # Safety
/// Each non-null pointer must be valid for its length.
#[no_mangle]
pub unsafe extern "C" fn rk_init(out: *mut f32, out_len: usize, kind: i32, a: f64, b_: f64, rows: i32, cols: i32, seed_lo: u32, seed_hi: u32) -> i32 {
    guard(|| {
        let mut b = Borrows::default();
        let out = required("out", b.output("out", out, out_len)?)?;
        if rows < 1 || cols < 1 {
            return Err(Error::bad_argument(format!("init: rows and cols must be at least 1, got {} and {}", rows, cols)));
        }
        init_fill(out, Init::from_code(kind, a, b_)?, rows as usize, cols as usize, ((seed_hi as u64) << 32) | seed_lo as u64)?;
        Ok(0)
    })
}

/// out (n) i32 written: a seeded random permutation of 0..n (shuffling).
///
/// # Safety
/// Each non-null pointer must be valid for its length.
#[no_mangle]
pub unsafe extern "C" fn rk_permutation(out: *mut i32, out_len: usize, seed_lo: u32, seed_hi: u32) -> i32 {
    guard(|| {
        let mut b = Borrows::default();
        rnnkit_core::sample::permutation(required("out", b.output("out", out, out_len)?)?, ((seed_hi as u64) << 32) | seed_lo as u64)?;
        Ok(0)
    })
}

/// out (B) i32 written: one token per row of logits (B, V), sampled at `temperature` from the
/// `top_k` most likely (0 = all); temperature 0 = argmax.
///
/// # Safety
/// Each non-null pointer must be valid for its length.
#[no_mangle]
pub unsafe extern "C" fn rk_sample_logits(
    out: *mut i32,
    out_len: usize,
    logits: *const f32,
    logits_len: usize,
    vocab: i32,
    temperature: f64,
    top_k: i32,
    seed_lo: u32,
    seed_hi: u32,
) -> i32 {
    guard(|| {
        let mut b = Borrows::default();
        let out = required("out", b.output("out", out, out_len)?)?;
        let logits = required("logits", b.input("logits", logits, logits_len)?)?;
        if vocab < 1 || top_k < 0 {
            return Err(Error::bad_argument(format!("sample: need vocab >= 1 and top_k >= 0, got {} and {}", vocab, top_k)));
        }
        rnnkit_core::sample::sample_logits(out, logits, vocab as usize, temperature, top_k as usize, ((seed_hi as u64) << 32) | seed_lo as u64)?;
        Ok(0)
    })
}
