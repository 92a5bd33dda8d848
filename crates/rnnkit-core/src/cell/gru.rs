//! GRU cell, gate order r, z, n (PyTorch), in both published forms.
//!
//! reset_after = true (PyTorch, cuDNN, Keras 2 default; arXiv:1406.1078 v1):
//!   r = σ(W_ir x + b_ir + W_hr h + b_hr)      z = σ(W_iz x + b_iz + W_hz h + b_hz)
//!   n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
//!   h' = (1 − z) ⊙ n + z ⊙ h
//! reset_after = false (Cho et al. arXiv v3; TF.js, ONNX default linear_before_reset = 0):
//!   n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)        (r, z, h' as above)
//! The two give different numbers for the same weights.
//!
//! Sizes: gates (rows, 3H); h, h_prev, hn_lin (rows, H); w_hh (3H, H); P = H.
//! w_hh arrives prepared for the time loop (`Real::pack_b`, see seq.rs): reset_after multiplies
//! by all of it (`w_hh`, `w_hn` = None); reset_before by the r, z rows (`w_hh`) and the n rows
//! (`w_hn`) separately. Forward multiplies by the transposes, backward by the matrices.
//! The reset-after forward's pointwise part is one kernel row, `kernels::scalar::gru_cell`.

use super::{add_bias_rows, zero};
use crate::copy::copy;
use crate::kernels::PackedB;
use crate::real::Real;

/// h: (rows, H) out. hn_lin: (rows, H) out, W_hn h + b_hn (reset_after only; else empty).
/// gates: (rows, 3H) in: x·W_ihᵀ + b_ih; out: r, z, n after their nonlinearities.
/// hh: (rows, 3H) scratch for the recurrent product. h_prev: (rows, H).
/// w_hh: B = W_hhᵀ (H, 3H), or with reset_before W_hh[r, z]ᵀ (H, 2H) and w_hn = W_hnᵀ (H, H).
#[allow(clippy::too_many_arguments)]
pub fn gru_step_forward<T: Real>(
    h: &mut [T],
    hn_lin: &mut [T],
    gates: &mut [T],
    hh: &mut [T],
    h_prev: &[T],
    w_hh: &PackedB<'_, T>,
    w_hn: Option<&PackedB<'_, T>>,
    b_hh: Option<&[T]>,
    reset_after: bool,
    rows: usize,
    hidden: usize,
) {
    let g3 = 3 * hidden;
    // Batch 1, reset-after: product, bias and cell in one pass where the kernel level has it
    // (same bits).
    if reset_after && rows == 1 && T::gru_row(gates, b_hh, h_prev, hn_lin, h, w_hh, hidden) {
        return;
    }
    zero(&mut hh[..rows * g3]);
    // reset_after: all three blocks; reset_before: r and z first, n needs r ⊙ h before its product.
    T::gemm_packed(hh, g3, h_prev, hidden, rows, w_hh);
    add_bias_rows(hh, b_hh, rows, g3);
    if reset_after {
        return T::gru_cell(gates, hh, h_prev, hn_lin, h, rows, hidden);
    }
    let w_hn = w_hn.expect("gru_step_forward: reset_before needs w_hn");
    for r in 0..rows {
        let gi = r * g3;
        for j in 0..2 * hidden {
            gates[gi + j] += hh[gi + j];
        }
        T::sigmoid_all(&mut gates[gi..gi + 2 * hidden]);
        for j in 0..hidden {
            // h is free until the end of the step: borrow it for r ⊙ h.
            h[r * hidden + j] = gates[gi + j] * h_prev[r * hidden + j];
        }
    }
    // hh's n block already holds b_hn; add W_hn (r ⊙ h).
    T::gemm_packed(&mut hh[2 * hidden..], g3, h, hidden, rows, w_hn);
    for r in 0..rows {
        let gi = r * g3;
        for j in 2 * hidden..g3 {
            gates[gi + j] += hh[gi + j];
        }
        T::tanh_all(&mut gates[gi + 2 * hidden..gi + g3]);
        for j in 0..hidden {
            let k = r * hidden + j;
            let (zg, n) = (gates[gi + hidden + j], gates[gi + 2 * hidden + j]);
            h[k] = (T::ONE - zg) * n + zg * h_prev[k];
        }
    }
}

/// dgates: (rows, 3H) out: dL/d(pre-activation), input side (what W_ih and b_ih see).
/// dgates_hh: (rows, 3H) out: the recurrent side (what W_hh and b_hh see); with reset_after
/// its n block is dan ⊙ r, else it equals dgates.
/// dh_prev: (rows, H) out (=). drh: (rows, H) scratch (reset_after = false only).
/// dh: (rows, H) total dL/dh'. gates, hn_lin, h_prev: as saved by forward.
/// w_hh: B = W_hh (3H, H), or with reset_before W_hh[r, z] (2H, H) and w_hn = W_hn (H, H).
#[allow(clippy::too_many_arguments)]
pub fn gru_step_backward<T: Real>(
    dgates: &mut [T],
    dgates_hh: &mut [T],
    dh_prev: &mut [T],
    drh: &mut [T],
    dh: &[T],
    gates: &[T],
    hn_lin: &[T],
    h_prev: &[T],
    w_hh: &PackedB<'_, T>,
    w_hn: Option<&PackedB<'_, T>>,
    reset_after: bool,
    rows: usize,
    hidden: usize,
) {
    let g3 = 3 * hidden;
    T::gru_cell_backward(dgates, dgates_hh, dh_prev, dh, gates, hn_lin, h_prev, rows, hidden, reset_after);
    if reset_after {
        // dh_prev merges the direct path with the recurrent product: accumulate.
        T::gemm_packed(dh_prev, hidden, dgates_hh, g3, rows, w_hh);
        return;
    }
    let w_hn = w_hn.expect("gru_step_backward: reset_before needs w_hn");
    // reset before: W_hn sees r ⊙ h, so d(r ⊙ h) = dan · W_hn feeds both r and h.
    zero(&mut drh[..rows * hidden]);
    T::gemm_packed(drh, hidden, &dgates[2 * hidden..], g3, rows, w_hn);
    for r in 0..rows {
        for j in 0..hidden {
            let gi = r * g3;
            let k = r * hidden + j;
            let rg = gates[gi + j];
            dgates[gi + j] = drh[k] * h_prev[k] * rg * (T::ONE - rg);
            dh_prev[k] += drh[k] * rg;
        }
    }
    copy(&mut dgates_hh[..rows * g3], &dgates[..rows * g3]);
    // r and z blocks of the recurrent product; again a merge into dh_prev.
    T::gemm_packed(dh_prev, hidden, dgates, g3, rows, w_hh);
}
