//! LSTM cell, gate order i, f, g, o (PyTorch), with optional projection (proj_size = P < H).
//!
//!   i = σ(W_ii x + b_ii + W_hi h + b_hi)      f = σ(W_if x + b_if + W_hf h + b_hf)
//!   g = tanh(W_ig x + b_ig + W_hg h + b_hg)   o = σ(W_io x + b_io + W_ho h + b_ho)
//!   c' = f ⊙ c + i ⊙ g
//!   h' = o ⊙ tanh(c')                         then, with a projection: h' = W_hr h'  (no bias)
//!
//! Sizes: gates (rows, 4H); c, tanh_c, h_raw (rows, H); h, h_prev (rows, P); w_hh (4H, P);
//! w_hr (P, H). Without a projection P = H and `h_raw` is unused (empty).
//! The weights arrive prepared for the time loop (`Real::pack_b`, see seq.rs): forward multiplies
//! by w_hhᵀ and w_hrᵀ, backward by w_hh and w_hr.
//! The pointwise parts (forward: bias add, σ/tanh, c', h'; backward: dgates, dc_prev) are kernels,
//! `kernels::scalar::lstm_cell` / `lstm_cell_backward` (the references) and their SIMD versions.

use super::zero;
use crate::kernels::PackedB;
use crate::real::Real;

/// h: (rows, P) out. c, tanh_c: (rows, H) out (saved for backward).
/// h_raw: (rows, H) out, o ⊙ tanh(c'), only with a projection (else empty).
/// gates: (rows, 4H) in: x·W_ihᵀ + b_ih; out: i, f, g, o after their nonlinearities.
/// h_prev: (rows, P). c_prev: (rows, H). w_hh: B = w_hhᵀ (P, 4H). w_hr: B = w_hrᵀ (H, P).
#[allow(clippy::too_many_arguments)]
pub fn lstm_step_forward<T: Real>(
    h: &mut [T],
    c: &mut [T],
    tanh_c: &mut [T],
    h_raw: &mut [T],
    gates: &mut [T],
    h_prev: &[T],
    c_prev: &[T],
    w_hh: &PackedB<'_, T>,
    b_hh: Option<&[T]>,
    w_hr: Option<&PackedB<'_, T>>,
    rows: usize,
    hidden: usize,
    p: usize,
) {
    let g4 = 4 * hidden;
    // Without a projection, o ⊙ tanh(c') is h itself.
    let out: &mut [T] = if w_hr.is_some() { &mut *h_raw } else { &mut *h };
    // Batch 1: the product and the cell in one pass where the kernel level has it (same bits).
    if !(rows == 1 && T::lstm_row(gates, b_hh, c_prev, c, tanh_c, out, h_prev, w_hh, hidden)) {
        T::gemm_packed(gates, g4, h_prev, p, rows, w_hh);
        T::lstm_cell(gates, b_hh, c_prev, c, tanh_c, out, rows, hidden);
    }
    if let Some(w_hr) = w_hr {
        zero(&mut h[..rows * p]);
        T::gemm_packed(h, p, h_raw, hidden, rows, w_hr);
    }
}

/// dgates: (rows, 4H) out: dL/d(pre-activation) of i, f, g, o.
/// dh_prev: (rows, P) out (=). dc_prev: (rows, H) out (=).
/// dh_raw: (rows, H) scratch, used only with a projection.
/// dh: (rows, P) total dL/dh'. dc: (rows, H) dL/dc' arriving from step t+1 (or dc_n).
/// gates, c_prev, tanh_c: as saved by forward. w_hh: B = w_hh (4H, P). w_hr: B = w_hr (P, H).
#[allow(clippy::too_many_arguments)]
pub fn lstm_step_backward<T: Real>(
    dgates: &mut [T],
    dh_prev: &mut [T],
    dc_prev: &mut [T],
    dh_raw: &mut [T],
    dh: &[T],
    dc: &[T],
    gates: &[T],
    c_prev: &[T],
    tanh_c: &[T],
    w_hh: &PackedB<'_, T>,
    w_hr: Option<&PackedB<'_, T>>,
    rows: usize,
    hidden: usize,
    p: usize,
) {
    let g4 = 4 * hidden;
    // With a projection h' = W_hr h_raw, so dh_raw = dh · W_hr.
    let dhr: &[T] = match w_hr {
        Some(w_hr) => {
            zero(&mut dh_raw[..rows * hidden]);
            T::gemm_packed(dh_raw, hidden, dh, p, rows, w_hr);
            &dh_raw[..rows * hidden]
        }
        None => dh,
    };
    T::lstm_cell_backward(dgates, dc_prev, dhr, dc, gates, c_prev, tanh_c, rows, hidden);
    zero(&mut dh_prev[..rows * p]);
    T::gemm_packed(dh_prev, p, dgates, g4, rows, w_hh);
}
