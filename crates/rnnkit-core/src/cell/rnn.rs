//! Vanilla (Elman) RNN cell.
//!
//!   h' = act(W_ih x + b_ih + W_hh h + b_hh),  act = tanh or relu
//!
//! G = 1, P = H. The "gates" buffer holds the pre-activation, then h' itself.
//! w_hh arrives prepared for the time loop (`Real::pack_b`, see seq.rs): forward multiplies by
//! w_hhᵀ, backward by w_hh.

use super::{add_bias_rows, zero};
use crate::copy::copy;
use crate::kernels::PackedB;
use crate::real::Real;

/// gates: (rows, H) in: x·W_ihᵀ + b_ih; out: h'. h: (rows, H) out: h'.
/// h_prev: (rows, H). w_hh: B = w_hhᵀ (H, H). b_hh: (H).
#[allow(clippy::too_many_arguments)]
pub fn rnn_step_forward<T: Real>(
    h: &mut [T],
    gates: &mut [T],
    h_prev: &[T],
    w_hh: &PackedB<'_, T>,
    b_hh: Option<&[T]>,
    relu: bool,
    rows: usize,
    hidden: usize,
) {
    T::gemm_packed(gates, hidden, h_prev, hidden, rows, w_hh);
    add_bias_rows(gates, b_hh, rows, hidden);
    if relu {
        for v in gates[..rows * hidden].iter_mut() {
            *v = if *v > T::ZERO { *v } else { T::ZERO };
        }
    } else {
        T::tanh_all(&mut gates[..rows * hidden]);
    }
    copy(&mut h[..rows * hidden], &gates[..rows * hidden]);
}

/// dgates: (rows, H) out: dL/d(pre-activation). dh_prev: (rows, H) out (=).
/// dh: (rows, H) total dL/dh'. h_new: (rows, H) the saved h'. w_hh: B = w_hh (H, H).
#[allow(clippy::too_many_arguments)]
pub fn rnn_step_backward<T: Real>(
    dgates: &mut [T],
    dh_prev: &mut [T],
    dh: &[T],
    h_new: &[T],
    w_hh: &PackedB<'_, T>,
    relu: bool,
    rows: usize,
    hidden: usize,
) {
    let n = rows * hidden;
    for i in 0..n {
        let y = h_new[i];
        // tanh' = 1 − y²; relu' = [y > 0]
        let d_act = if relu {
            if y > T::ZERO {
                T::ONE
            } else {
                T::ZERO
            }
        } else {
            T::ONE - y * y
        };
        dgates[i] = dh[i] * d_act;
    }
    zero(&mut dh_prev[..n]);
    T::gemm_packed(dh_prev, hidden, dgates, hidden, rows, w_hh);
}
