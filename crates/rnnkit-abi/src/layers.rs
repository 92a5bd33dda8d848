//! rk_* exports of the non-recurrent layers and the losses (rnnkit_core::layers, ::loss).
//! Same rules as lib.rs: i32 status, (pointer, length) buffers, null = absent.

use crate::guard::guard;
use crate::mem::{required, Borrows};
use rnnkit_core::layers::{dropout, embedding, linear, pool};
use rnnkit_core::loss::{self, Reduction};
use rnnkit_core::Error;

fn size(name: &str, v: i32) -> Result<usize, Error> {
    if v < 0 {
        return Err(Error::bad_argument(format!("{}: must not be negative, got {}", name, v)));
    }
    Ok(v as usize)
}

fn seed(lo: u32, hi: u32) -> u64 {
    ((hi as u64) << 32) | lo as u64
}

/// out (N, E) written; weight (V, E); ids (N).
///
/// # Safety
/// Each non-null pointer must be valid for its length.
#[no_mangle]
pub unsafe extern "C" fn rk_embedding_forward(
    out: *mut f32,
    out_len: usize,
    weight: *const f32,
    weight_len: usize,
    ids: *const i32,
    ids_len: usize,
    vocab: i32,
    dim: i32,
) -> i32 {
    guard(|| {
        let mut b = Borrows::default();
        let out = required("out", b.output("out", out, out_len)?)?;
        let weight = required("weight", b.input("weight", weight, weight_len)?)?;
        let ids = required("ids", b.input("ids", ids, ids_len)?)?;
        embedding::embedding_forward(out, weight, ids, size("num_embeddings", vocab)?, size("embedding_dim", dim)?)?;
        Ok(0)
    })
}

/// d_weight (V, E) accumulated; d_out (N, E); padding_idx < 0 = none.
///
/// # Safety
/// Each non-null pointer must be valid for its length.
#[no_mangle]
pub unsafe extern "C" fn rk_embedding_backward(
    d_weight: *mut f32,
    d_weight_len: usize,
    d_out: *const f32,
    d_out_len: usize,
    ids: *const i32,
    ids_len: usize,
    vocab: i32,
    dim: i32,
    padding_idx: i32,
) -> i32 {
    guard(|| {
        let mut b = Borrows::default();
        let dw = required("d_weight", b.output("d_weight", d_weight, d_weight_len)?)?;
        let dout = required("d_out", b.input("d_out", d_out, d_out_len)?)?;
        let ids = required("ids", b.input("ids", ids, ids_len)?)?;
        embedding::embedding_backward(dw, dout, ids, size("num_embeddings", vocab)?, size("embedding_dim", dim)?, padding_idx)?;
        Ok(0)
    })
}

/// y (N, O) written; x (N, I); w (O, I); b (O) or null.
///
/// # Safety
/// Each non-null pointer must be valid for its length.
#[no_mangle]
pub unsafe extern "C" fn rk_linear_forward(
    y: *mut f32,
    y_len: usize,
    x: *const f32,
    x_len: usize,
    w: *const f32,
    w_len: usize,
    bias: *const f32,
    bias_len: usize,
    in_features: i32,
    out_features: i32,
) -> i32 {
    guard(|| {
        let mut b = Borrows::default();
        let y = required("y", b.output("y", y, y_len)?)?;
        let x = required("x", b.input("x", x, x_len)?)?;
        let w = required("weight", b.input("weight", w, w_len)?)?;
        let bias = b.input("bias", bias, bias_len)?;
        linear::linear_forward(y, x, w, bias, size("in_features", in_features)?, size("out_features", out_features)?)?;
        Ok(0)
    })
}

/// dx (N, I) written if non-null; dw (O, I), db (O) accumulated; dy (N, O); x; w.
///
/// # Safety
/// Each non-null pointer must be valid for its length.
#[no_mangle]
pub unsafe extern "C" fn rk_linear_backward(
    dx: *mut f32,
    dx_len: usize,
    dw: *mut f32,
    dw_len: usize,
    db: *mut f32,
    db_len: usize,
    dy: *const f32,
    dy_len: usize,
    x: *const f32,
    x_len: usize,
    w: *const f32,
    w_len: usize,
    in_features: i32,
    out_features: i32,
) -> i32 {
    guard(|| {
        let mut b = Borrows::default();
        let dx = b.output("dx", dx, dx_len)?;
        let dw = required("dw", b.output("dw", dw, dw_len)?)?;
        let db = b.output("db", db, db_len)?;
        let dy = required("dy", b.input("dy", dy, dy_len)?)?;
        let x = required("x", b.input("x", x, x_len)?)?;
        let w = required("weight", b.input("weight", w, w_len)?)?;
        linear::linear_backward(dx, dw, db, dy, x, w, size("in_features", in_features)?, size("out_features", out_features)?)?;
        Ok(0)
    })
}

/// out, mask written; x. p in [0, 1).
///
/// # Safety
/// Each non-null pointer must be valid for its length.
#[no_mangle]
pub unsafe extern "C" fn rk_dropout_forward(
    out: *mut f32,
    out_len: usize,
    mask: *mut f32,
    mask_len: usize,
    x: *const f32,
    x_len: usize,
    p: f64,
    seed_lo: u32,
    seed_hi: u32,
) -> i32 {
    guard(|| {
        let mut b = Borrows::default();
        let out = required("out", b.output("out", out, out_len)?)?;
        let mask = required("mask", b.output("mask", mask, mask_len)?)?;
        let x = required("x", b.input("x", x, x_len)?)?;
        dropout::dropout_forward(out, mask, x, p, seed(seed_lo, seed_hi))?;
        Ok(0)
    })
}

/// dx written = dy ⊙ mask.
///
/// # Safety
/// Each non-null pointer must be valid for its length.
#[no_mangle]
pub unsafe extern "C" fn rk_dropout_backward(dx: *mut f32, dx_len: usize, dy: *const f32, dy_len: usize, mask: *const f32, mask_len: usize) -> i32 {
    guard(|| {
        let mut b = Borrows::default();
        let dx = required("dx", b.output("dx", dx, dx_len)?)?;
        let dy = required("dy", b.input("dy", dy, dy_len)?)?;
        let mask = required("mask", b.input("mask", mask, mask_len)?)?;
        dropout::dropout_backward(dx, dy, mask)?;
        Ok(0)
    })
}

unsafe fn pool_shape(seq_len: i32, batch: i32, features: i32, dirs: i32, batch_first: i32) -> Result<pool::PoolShape, Error> {
    Ok(pool::PoolShape {
        seq_len: size("seq_len", seq_len)?,
        batch: size("batch", batch)?,
        features: size("features", features)?,
        dirs: size("dirs", dirs)?,
        batch_first: batch_first != 0,
    })
}

/// out (B, F) written; argmax (B, F) i32 written in max mode; x (T, B, F) or (B, T, F); lengths (B).
/// mode: 0 last, 1 mean, 2 max.
///
/// # Safety
/// Each non-null pointer must be valid for its length.
#[no_mangle]
pub unsafe extern "C" fn rk_pool_forward(
    out: *mut f32,
    out_len: usize,
    argmax: *mut i32,
    argmax_len: usize,
    x: *const f32,
    x_len: usize,
    lengths: *const i32,
    lengths_len: usize,
    seq_len: i32,
    batch: i32,
    features: i32,
    dirs: i32,
    batch_first: i32,
    mode: i32,
) -> i32 {
    guard(|| {
        let mut b = Borrows::default();
        let out = required("out", b.output("out", out, out_len)?)?;
        let argmax = b.output("argmax", argmax, argmax_len)?.unwrap_or(&mut []);
        let x = required("x", b.input("x", x, x_len)?)?;
        let lengths = required("lengths", b.input("lengths", lengths, lengths_len)?)?;
        let s = pool_shape(seq_len, batch, features, dirs, batch_first)?;
        pool::pool_forward(out, argmax, x, lengths, &s, pool::PoolMode::from_code(mode)?)?;
        Ok(0)
    })
}

/// dx (T, B, F) written; dy (B, F); argmax from forward (max mode).
///
/// # Safety
/// Each non-null pointer must be valid for its length.
#[no_mangle]
pub unsafe extern "C" fn rk_pool_backward(
    dx: *mut f32,
    dx_len: usize,
    dy: *const f32,
    dy_len: usize,
    argmax: *const i32,
    argmax_len: usize,
    lengths: *const i32,
    lengths_len: usize,
    seq_len: i32,
    batch: i32,
    features: i32,
    dirs: i32,
    batch_first: i32,
    mode: i32,
) -> i32 {
    guard(|| {
        let mut b = Borrows::default();
        let dx = required("dx", b.output("dx", dx, dx_len)?)?;
        let dy = required("dy", b.input("dy", dy, dy_len)?)?;
        let argmax = b.input("argmax", argmax, argmax_len)?.unwrap_or(&[]);
        let lengths = required("lengths", b.input("lengths", lengths, lengths_len)?)?;
        let s = pool_shape(seq_len, batch, features, dirs, batch_first)?;
        pool::pool_backward(dx, dy, argmax, lengths, &s, pool::PoolMode::from_code(mode)?)?;
        Ok(0)
    })
}

/// loss (1 f64) written; d_logits (N, C) written if non-null; logits (N, C); targets (N).
/// reduction: 0 mean, 1 sum.
///
/// # Safety
/// Each non-null pointer must be valid for its length.
#[no_mangle]
pub unsafe extern "C" fn rk_cross_entropy(
    loss_out: *mut f64,
    loss_len: usize,
    d_logits: *mut f32,
    d_logits_len: usize,
    logits: *const f32,
    logits_len: usize,
    targets: *const i32,
    targets_len: usize,
    classes: i32,
    ignore_index: i32,
    reduction: i32,
) -> i32 {
    guard(|| {
        let mut b = Borrows::default();
        let out = required("loss", b.output("loss", loss_out, loss_len.min(1))?)?;
        let d = b.output("d_logits", d_logits, d_logits_len)?;
        let logits = required("logits", b.input("logits", logits, logits_len)?)?;
        let targets = required("targets", b.input("targets", targets, targets_len)?)?;
        out[0] = loss::cross_entropy(d, logits, targets, size("classes", classes)?, ignore_index, Reduction::from_code(reduction)?)?;
        Ok(0)
    })
}

/// loss (1 f64) written; d_logits written if non-null; logits and targets (same length).
///
/// # Safety
/// Each non-null pointer must be valid for its length.
#[no_mangle]
pub unsafe extern "C" fn rk_bce_with_logits(
    loss_out: *mut f64,
    loss_len: usize,
    d_logits: *mut f32,
    d_logits_len: usize,
    logits: *const f32,
    logits_len: usize,
    targets: *const f32,
    targets_len: usize,
    reduction: i32,
) -> i32 {
    guard(|| {
        let mut b = Borrows::default();
        let out = required("loss", b.output("loss", loss_out, loss_len.min(1))?)?;
        let d = b.output("d_logits", d_logits, d_logits_len)?;
        let logits = required("logits", b.input("logits", logits, logits_len)?)?;
        let targets = required("targets", b.input("targets", targets, targets_len)?)?;
        out[0] = loss::bce_with_logits(d, logits, targets, Reduction::from_code(reduction)?)?;
        Ok(0)
    })
}

/// loss (1 f64) written; d_pred written if non-null; pred and target (same length).
///
/// # Safety
/// Each non-null pointer must be valid for its length.
#[no_mangle]
pub unsafe extern "C" fn rk_mse(
    loss_out: *mut f64,
    loss_len: usize,
    d_pred: *mut f32,
    d_pred_len: usize,
    pred: *const f32,
    pred_len: usize,
    target: *const f32,
    target_len: usize,
    reduction: i32,
) -> i32 {
    guard(|| {
        let mut b = Borrows::default();
        let out = required("loss", b.output("loss", loss_out, loss_len.min(1))?)?;
        let d = b.output("d_pred", d_pred, d_pred_len)?;
        let pred = required("pred", b.input("pred", pred, pred_len)?)?;
        let target = required("target", b.input("target", target, target_len)?)?;
        out[0] = loss::mse(d, pred, target, Reduction::from_code(reduction)?)?;
        Ok(0)
    })
}
